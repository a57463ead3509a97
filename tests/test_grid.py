"""grid.py: counts, coverage and containment over a product of sizes, overlaps and edges."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geotile.errors import GeotileError
from geotile.grid import Grid, axis_offsets


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # a loaded machine
@given(
    length=st.integers(1, 700),
    size=st.integers(1, 300),
    overlap_fraction=st.floats(0, 0.9),
    edge=st.sampled_from(["shift", "pad", "drop"]),
)
def test_axis_offsets_properties(length, size, overlap_fraction, edge):
    overlap = min(size - 1, int(size * overlap_fraction))
    stride = size - overlap
    offsets = axis_offsets(length, size, stride, edge)
    if edge == "drop":
        expected = 0 if length < size else (length - size) // stride + 1
    else:
        expected = 1 if length <= size else math.ceil((length - size) / stride) + 1
    assert len(offsets) == expected
    assert offsets == sorted(set(offsets))
    if not offsets:
        return
    assert offsets[0] == 0
    if edge in ("shift", "drop") and length >= size:
        assert offsets[-1] + size <= length  # inside the raster
    if edge in ("shift", "pad"):
        covered = np.zeros(length, bool)
        for off in offsets:
            covered[off : off + size] = True
        assert covered.all()  # every pixel covered
    steps = np.diff(offsets)
    assert (steps <= stride).all()
    if edge != "shift":
        assert (steps == stride).all()


@pytest.mark.parametrize(("edge", "shape"), [("drop", (4, 4)), ("shift", (5, 5)), ("pad", (5, 5))])
def test_spacenet_tile_counts(edge, shape):
    grid = Grid(900, 900, 224, 0, edge)
    assert grid.shape == shape and len(grid) == shape[0] * shape[1] == len(list(grid))


def test_patches_are_row_major_with_valid_sizes():
    grid = Grid(500, 300, 256, 128, "pad")
    patches = list(grid)
    assert [(p.row, p.col) for p in patches] == [(r, c) for r in range(2) for c in range(3)]
    last = patches[-1]
    assert (last.x_off, last.y_off) == (256, 128)
    assert (last.valid_width, last.valid_height) == (244, 172) and last.is_padded
    assert not Grid(500, 300, 256, 128, "shift").patch(1, 2).is_padded


def test_bad_parameters():
    with pytest.raises(GeotileError, match="overlap"):
        Grid(100, 100, 32, 32)
    with pytest.raises(GeotileError, match="edge"):
        Grid(100, 100, 32, 0, "wrap")
    with pytest.raises(GeotileError, match="positive"):
        Grid(100, 100, 0)


def test_patch_bounds_are_the_envelope_of_four_corners():
    from affine import Affine

    patch = Grid(100, 100, 10).patch(1, 2)
    assert patch.bounds(Affine(2, 0, 100, 0, -2, 50)) == (140, 10, 160, 30)
    assert patch.bounds(Affine(2, 0, 100, 0, 2, 50)) == (140, 70, 160, 90)  # south-up
    assert patch.bounds(Affine.identity()) == (20, 10, 30, 20)  # pixel coordinates
    minx, miny, maxx, maxy = patch.bounds(Affine.rotation(90))
    assert (minx, miny, maxx, maxy) == pytest.approx((-20, 20, -10, 30))


@given(
    length=st.integers(1, 400),
    size=st.integers(4, 80),
    overlap_fraction=st.floats(0, 0.9),
    edge=st.sampled_from(["shift", "pad", "drop"]),
    per_block=st.integers(1, 5),
)
def test_blocks_touched_cover_the_patch_and_nothing_else(length, size, overlap_fraction, edge,
                                                         per_block):
    overlap = min(size - 1, int(size * overlap_fraction))
    grid = Grid(length, size, size, overlap, edge)
    starts = grid.col_offsets[::per_block]
    if not starts:
        return
    for patch in grid.row(0):
        _, cols = grid.blocks_touched(patch, per_block)
        assert cols[0] == patch.col // per_block
        for block in range(len(starts)):
            lo = starts[block]
            hi = starts[block + 1] if block + 1 < len(starts) else math.inf
            touches = lo < patch.x_off + size and patch.x_off < hi
            assert touches == (block in cols)
    assert grid.block_shape(per_block)[1] == len(starts)


def test_grid_places_tries_only_grids_of_about_the_same_pixel_size(monkeypatch):
    """Chips each of its own pixel size (xBD, scenes of several collects) are each their own
    grid, found without trying every grid so far (n^2/2 grid_offset calls: 49 s for 8,000);
    tiles of one grid, and pixel sizes within grid_offset's 1e-9, still share theirs."""
    from affine import Affine

    import geotile.grid as grid_module

    chips = [Affine(0.5 * (1 + i * 1e-6), 0, 500000 + 8 * i, 0, -0.5 * (1 + i * 1e-6), 4e6)
             for i in range(300)]
    tiles = [Affine(0.3, 0, 600000 + 0.3 * 512 * (i % 20), 0, -0.3, 4e6 - 0.3 * 512 * (i // 20))
             for i in range(200)]
    close = [Affine(2.0, 0, 10.0, 0, -2.0, 20.0),  # 0.9e-9 apart, 5 pixels east: one grid
             Affine(2.0 * (1 + 0.9e-9), 0, 20.0, 0, -2.0 * (1 + 0.9e-9), 20.0),
             Affine(0, 2.0, 10.0, 2.0, 0, 20.0),  # turned 90 degrees: another grid
             Affine(0, 2.0, 14.0, 2.0, 0, 26.0)]  # ... whose origin is 3 x 2 pixels away
    calls = []
    offset = grid_module.grid_offset
    monkeypatch.setattr(grid_module, "grid_offset", lambda *a: calls.append(a) or offset(*a))
    places = grid_module.grid_places(chips + tiles + close)
    assert places[:300] == [(i, 0, 0) for i in range(300)]
    assert places[300:500] == [(300, 512 * (i % 20), 512 * (i // 20)) for i in range(200)]
    assert places[500:] == [(500, 0, 0), (500, 5, 0), (502, 0, 0), (502, 3, 2)]
    assert len(calls) < 210  # a tile tries its grid's first tile; a chip no grid


def _first_grid(transforms):
    """grid_places by its definition: each transform tried against every grid so far."""
    from geotile.grid import grid_offset

    grids, places = [], []
    for index, t in enumerate(transforms):
        offsets = ((grid, grid_offset(transforms[grid], t)) for grid in grids)
        found = next(((grid, *offset) for grid, offset in offsets if offset is not None), None)
        if found is None:
            grids.append(index)
        places.append(found or (index, 0, 0))
    return places


def test_grid_places_tries_only_grids_of_about_the_same_phase(monkeypatch):
    """Rasters of one pixel size, each on its own grid (orthomosaics of one GSD flown apart,
    tiles reprojected on their own) are found without trying every grid of that size
    (n^2/2 grid_offset calls: 45 s for 4,000); tiles of one of them still join it."""
    from affine import Affine

    import geotile.grid as grid_module

    flown = [Affine(0.3, 0, 500000 + 0.3 * (600 * i + (i % 45) / 45), 0, -0.3,
                    4e6 - 0.3 * (600 * i + (i // 45) / 45)) for i in range(2025)]
    ref = flown[7]
    tiles = [Affine(0.3, 0, ref.c + 0.3 * (512 * k + 0.004), 0, -0.3,
                    ref.f - 0.3 * (512 * k - 0.004)) for k in range(1, 101)]
    calls = []
    offset = grid_module.grid_offset
    monkeypatch.setattr(grid_module, "grid_offset", lambda *a: calls.append(a) or offset(*a))
    places = grid_module.grid_places(flown + tiles)
    assert places[:2025] == [(i, 0, 0) for i in range(2025)]
    assert places[2025:] == [(7, 512 * k, 512 * k) for k in range(1, 101)]
    assert len(calls) < 4 * len(places)  # trying all: 2M


@pytest.mark.parametrize("far", [(500000.0, 4e6), (-179.99, 89.99), (0.0, 0.0)])
@pytest.mark.parametrize("size", [0.05, 0.3, 8.983e-6])
def test_grid_places_is_the_first_grid_that_takes_a_raster(far, size):
    """The first grid so far that grid_offset takes each raster for, as trying them all:
    origins a tolerance off the pixel and just beyond, across 0/1, south-up, turned 90
    degrees, sheared, sizes 0.9e-9 apart far from the first raster (where that shifts the
    origin by more than the tolerance), NaN terms."""
    from affine import Affine

    from geotile.grid import TILE_TOLERANCE_PX as tol
    from geotile.grid import grid_places

    transforms = [Affine(size, 0, 0.0, 0, -size, 0.0)]
    x, y = round(far[0] / size), round(far[1] / size)
    for k, fx in enumerate([0, tol, -tol, tol * 1.0001, -tol * 1.0001, 0.995, 0.003, 0.5]):
        for d, s in enumerate([1, 1 + 0.9e-9, 1 - 0.9e-9, 1 + 1.1e-9]):
            for fy in (0, tol, 0.4):
                col, row = x + 700 * k + d, y + 300 * d + k
                transforms += [
                    Affine(size * s, 0, size * (col + fx), 0, -size * s, -size * (row + fy)),
                    Affine(size * s, 0, size * (col + fx), 0, size * s, size * (row + fy)),
                    Affine(0, size * s, size * (col + fx), size * s, 0, size * (row + fy)),
                    Affine(size, size * 0.01, size * (col + fx), 0, -size, -size * row)]
    transforms.append(Affine(math.nan, 0, 0, 0, 1, 0))
    expected = _first_grid(transforms)
    assert grid_places(transforms) == expected
    assert len({grid for grid, _, _ in expected}) < len(transforms) / 2  # many join a grid
