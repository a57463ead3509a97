"""blending.py: weight profiles and the row-band accumulator."""

from __future__ import annotations

import numpy as np
import pytest

from geotile.blending import PROFILES, RowBandAccumulator, WeightWindows, profile_1d


@pytest.mark.parametrize("name", list(PROFILES))
def test_profiles_are_positive_and_symmetric(name):
    weights = profile_1d(name, 64)
    assert (weights > 0).all()
    np.testing.assert_allclose(weights, weights[::-1])
    assert weights.max() == pytest.approx(1.0, abs=0.05)


def test_border_sides_keep_full_weight():
    inner = profile_1d("bilinear", 10)
    start = profile_1d("bilinear", 10, at_start=True)
    both = profile_1d("bilinear", 10, at_start=True, at_end=True)
    assert inner[0] == pytest.approx(0.1) and inner[4] == pytest.approx(0.9)
    np.testing.assert_allclose(start[:5], 1.0)
    np.testing.assert_allclose(start[5:], inner[5:])
    np.testing.assert_allclose(both, 1.0)
    window = WeightWindows("hann", 10).get(True, False, False, False)
    np.testing.assert_allclose(window[0], profile_1d("hann", 10))  # top row: full row profile


def test_accumulator_blends_and_pops_finished_rows():
    acc = RowBandAccumulator(classes=2, height=4, width=6)
    ones = np.ones((4, 4), np.float32)
    acc.add(np.full((2, 4, 4), 1.0, np.float32), ones, x=0, y=0)
    acc.add(np.full((2, 4, 4), 3.0, np.float32), ones * 3, x=2, y=0)
    rows = acc.pop(2)
    assert rows.shape == (2, 2, 6)
    np.testing.assert_allclose(rows[0, 0], [1, 1, 2.5, 2.5, 3, 3])  # (1*1 + 3*3) / 4
    assert acc.top == 2
    acc.add(np.full((2, 4, 4), 5.0, np.float32), ones, x=0, y=2)
    rows = acc.pop(6)
    # raster row 2 held (1 | 10/4 | 9/3) with weights (1 | 4 | 3); adding 5 with weight 1
    np.testing.assert_allclose(rows[0, 0], [3, 3, 3, 3, 3, 3])
    np.testing.assert_allclose(rows[0, 2, :4], 5)
    assert np.isnan(rows[0, 2, 4:]).all()  # never covered -> NaN, not 0


@pytest.mark.parametrize("blend,size,margin,length,stride",
                         [("hann", 16, 0, 50, 8), ("bilinear", 16, 2, 41, 12),
                          ("uniform", 8, 0, 8, 8), ("hann", 16, 3, 30, 5)])
def test_axis_weight_sums_equal_the_windows_summed_one_by_one(blend, size, margin, length, stride):
    from geotile.blending import axis_weight_sums

    windows = WeightWindows(blend, size, margin)
    starts = [*range(0, length - size, stride), length - size]
    summed = np.zeros((length, length), np.float32)
    last = len(starts) - 1
    for i, y in enumerate(starts):
        for j, x in enumerate(starts):
            summed[y : y + size, x : x + size] += windows.get(i == 0, i == last, j == 0, j == last)
    rows = axis_weight_sums(windows, starts, length)
    np.testing.assert_allclose(np.multiply.outer(rows, rows), summed, rtol=1e-6)
    assert (rows > 0).all()  # every pixel covered: none left NaN
    # a window reaching past the raster is cut at its edge
    second = length - size + 4
    expected = np.zeros(length, np.float32)
    expected[:size] += windows.profile(True, False)
    expected[second:] += windows.profile(False, True)[: length - second]
    np.testing.assert_allclose(axis_weight_sums(windows, [0, second], length), expected)
