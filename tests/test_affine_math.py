"""geotile.affine_math: affine's operators without the operator affine 3 deprecates."""

from __future__ import annotations

import warnings

import numpy as np
from affine import Affine

from geotile.affine_math import apply, chain, window_transform

ROTATED = Affine(0.3, 0.1, 500_000.25, -0.05, -0.3, 4_100_000.75)


def _by_operator(left, right):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # affine 3's notice
        return left * right


def test_apply_gives_affines_own_numbers_bit_for_bit():
    cols = np.array([0.0, 0.5, 17.25, 1e6])
    rows = np.array([3.0, 0.5, 900.0, -2.5])
    got = apply(ROTATED, cols, rows)
    want = _by_operator(ROTATED, (cols, rows))
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    assert apply(~ROTATED, 500_001.0, 4_099_999.0) == _by_operator(~ROTATED,
                                                                   (500_001.0, 4_099_999.0))


def test_chain_applies_inner_first():
    inner = Affine.translation(-3, 7) @ Affine.scale(0.5, 2)
    assert chain(ROTATED, inner) == _by_operator(ROTATED, inner)
    point = (11.0, -4.0)
    assert np.allclose(apply(chain(ROTATED, inner), *point), apply(ROTATED, *apply(inner, *point)))



def test_window_transform_gives_rasterios_numbers_bit_for_bit():
    from rasterio.windows import Window
    from rasterio.windows import transform as rasterio_window_transform

    for window in (Window(0, 0, 5, 5), Window(-3, 17.5, 8, 9), Window(1e5 + 0.25, -2, 1, 1)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PendingDeprecationWarning)  # affine 3's notice
            want = rasterio_window_transform(window, ROTATED)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert window_transform(window, ROTATED) == want
