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
