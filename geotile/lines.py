"""Road centrelines from probability (or class) rasters: threshold -> skeleton -> lines.

Strategy, per raster, by row bands with a halo (bounded memory): read a band
with ``halo`` pixels of context on every side -> class ids (threshold or
argmax, :func:`geotile.raster_kinds.class_ids`) -> holes up to ``FILL_HOLES_M2``
filled -> skeleton of each class
(:func:`road_skeleton`: Guo and Hall's thinning) -> one segment between the centres of
every two 8-adjacent skeleton pixels (a diagonal only where no orthogonal
path joins them, so staircases do not form triangles). Rasters given together
on one pixel grid (a mosaic of adjacent tiles) lend each other their pixels
as context, and past the mosaic's edges its pixels are mirrored, so skeletons
run across tile edges and up to the outer edge instead of stopping half a road
width short (a road along the outer edge keeps its line on the edge pixels).
No data (nodata, NaN) is background; a line that ends within half the road's width
of it is drawn on straight through the road up to the last valid pixel, so a road
running into no data reaches it and one along it keeps its centreline.
Each band emits the segments that start in its own pixels, with pixel centres
computed from the grid's indices, so the segments of all bands and tiles fit
exactly; they are merged into paths between
junctions and free ends (GEOS's line merger). Rasters on different grids are
skeletonized apart, each with the others' pixels (the one under each pixel
centre) as context where its own grid has none, so that roads crossing their
edges run straight on, and their free ends on the edges, at most
``JOIN_PIXELS`` apart, are joined. Cycles of paths between junctions shorter than the road is
wide (the 2x2 pixel block of a diagonal crossing) become one junction, and so, after
pruning, does a lone path between two junctions shorter than the road is wide (an X
crossing that thinning split in two).

Then, in metres: spurs (paths from a junction to a free end), isolated
paths and small loops shorter than ``min_length`` are pruned, repeatedly,
and lines are simplified (at least one pixel, to remove pixel staircases).
Each line carries ``length_m`` (after simplification) and ``score`` (mean
probability of its skeleton pixels).

Limits: a band's skeleton equals the whole mosaic's only where roads are
narrower than about the halo (``halo`` px, default 256); segments and their
pixels' scores are held in memory (proportional to road length, not to the
rasters' area); each band finds the rasters near it in an STRtree of their
footprints.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geotile.affine_math import apply, chain
from geotile.errors import GeotileWarning, InputError, interrupted_as
from geotile.gdal_settings import with_read_settings
from geotile.grid import grid_places
from geotile.raster_kinds import (
    binary_mask_kind,
    check_probabilities,
    class_ids,
    plain_bands,
    raster_kind,
    reads_nodata,
    warn_if_scaled_class_raster,
)
from geotile.skeleton_pixels import SkeletonPixels
from geotile.streaming import DEFAULT_BAND_ROWS, row_blocks
from geotile.user_warnings import warn

log = logging.getLogger("geotile")

#: free ends on the edges of adjacent rasters at most this many pixels apart are joined
JOIN_PIXELS = 4
#: cycles of paths between junctions at most 4 times this many pixels long (and not longer
#: than the road is wide) are one junction (:func:`collapse_junction_cycles`)
CYCLE_PIXELS = 3
#: a line whose last this many pixels run along the mosaic's outer edge ends in thinning's
#: hook, straightened (:func:`_straighten_at_outer_edge`)
EDGE_HOOK_PIXELS = 3
#: holes in a road's mask up to this many square metres (pinholes of a model's noise, a car
#: on the road) are filled before thinning, which would draw a ring round each; a
#: roundabout's island is larger
FILL_HOLES_M2 = 10.0


@dataclass(frozen=True)
class LineOptions:
    """How road rasters become centrelines; lengths in metres."""

    threshold: float | None = None
    min_length: float = 3.0
    #: metres, at least one pixel (0: one pixel); per class: {class name or id: metres,
    #: "*": default} (parse_per_class)
    simplify: float | dict = 0.0
    crs: str | None = None  # as VectorizeOptions.crs
    classes: tuple[str, ...] | None = None  # keep only these (names or ids); None: all
    halo: int = 256
    #: rows per band (memory: a band of the raster's width, with the halo)
    band_rows: int = DEFAULT_BAND_ROWS

    def __post_init__(self) -> None:
        from geotile.vectorize import check_options

        check_options(self, min_length=0.0, halo=1)


@dataclass
class _Source:
    """A raster's reading rules and its place (pixel offset) on its group's grid."""

    path: Path
    index: int
    kind: object
    threshold: float
    check_nodata: bool
    width: int
    height: int
    transform: object
    keep: np.ndarray | None = None  # --classes: the class ids kept (None: all)
    bands: list[int] | None = None  # the bands read (plain_bands; None: all)
    col: int = 0
    row: int = 0


def pixel_segments(skeleton: np.ndarray, core: slice, cols: slice | None = None,
                   known: np.ndarray | None = None) -> np.ndarray:
    """``(n, 2, 2)`` (row, col) pairs of 8-adjacent True pixels whose first pixel lies in
    rows ``core`` (and columns ``cols``), both pixels ``known`` (default: all);
    a diagonal pair only when neither orthogonal pixel between them is set."""
    s = np.pad(skeleton, 1)  # a frame of False: neighbours past the edge are background
    rows = np.arange(s.shape[0])[:, None]
    first = s & (rows >= core.start + 1) & (rows < core.stop + 1)
    if known is not None:
        s_known = np.pad(known, 1)
        first &= s_known
    if cols is not None:
        columns = np.arange(s.shape[1])[None, :]
        first &= (columns >= cols.start + 1) & (columns < cols.stop + 1)
    found = []
    centre = np.s_[1:-1, 1:-1]

    def pairs(keep: np.ndarray, dr: int, dc: int) -> None:
        if known is not None:
            keep = keep & s_known[1 + dr:s.shape[0] - 1 + dr, 1 + dc:s.shape[1] - 1 + dc]
        r, c = np.nonzero(keep)
        found.append(np.stack([np.column_stack([r, c]), np.column_stack([r + dr, c + dc])],
                              axis=1))

    right = s[1:-1, 2:]
    down = s[2:, 1:-1]
    left = s[1:-1, :-2]
    core_centre = first[centre]
    pairs(core_centre & right, 0, 1)
    pairs(core_centre & down, 1, 0)
    pairs(core_centre & s[2:, 2:] & ~right & ~down, 1, 1)
    pairs(core_centre & s[2:, :-2] & ~left & ~down, 1, -1)
    return np.concatenate(found) if found else np.empty((0, 2, 2), np.int64)


def _groups(sources: list[_Source]) -> list[list[_Source]]:
    """Rasters on one pixel grid (same pixel size and orientation, whole-pixel offsets)
    form one group, read with each other's pixels as context, each at its offset from the
    group's first raster; rasters on other grids form groups of their own (in order)
    (:func:`geotile.grid.grid_places`)."""
    groups: dict[int, list[_Source]] = {}
    places = grid_places([s.transform for s in sources])
    for source, (grid, col, row) in zip(sources, places, strict=True):
        source.col, source.row = col, row
        groups.setdefault(grid, []).append(source)
    return list(groups.values())


def _read_ids(source: _Source, window):
    """Class ids, scores and valid pixels (not nodata, nor NaN) of ``window`` of ``source``."""
    from geotile.raster import dataset_valid, open_raster, read_window

    with open_raster(source.path) as src:
        values = read_window(src, window, source.bands)
        valid = (dataset_valid(src, window) if source.check_nodata
                 else np.ones(values.shape[-2:], bool))
    if values.dtype.kind == "f":
        valid &= ~np.isnan(values).any(axis=0)
    check_probabilities(values, valid, source.kind, source.path)
    return (*class_ids(values, valid, source.kind, source.threshold, source.path), valid)


class _Nearby:
    """The rasters given, by their footprints in an STRtree: each band tried every raster
    of its grid and of the others, n^2 for n rasters (1,024 rasters each of its own grid:
    28 s, of which 1M rasters tried)."""

    def __init__(self, groups: list[list[_Source]]) -> None:
        import shapely

        self.sources = [s for g in groups for s in g]  # group by group: the order read
        self.group = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
        self.index = {id(g[0]): k for k, g in enumerate(groups)}
        self.tree = shapely.STRtree([shapely.Polygon(
            [apply(s.transform, *xy) for xy in ((0, 0), (s.width, 0), (s.width, s.height),
                                                (0, s.height))]) for s in self.sources])

    def near(self, group: list[_Source], r0: int, r1: int, c0: int, c1: int):
        """(the rasters of ``group``, those of the other grids) whose footprints' envelopes
        come within a pixel of ``group``'s grid rows [r0, r1) and columns [c0, c1), in the
        order given: those a band of these rows and columns can read."""
        import shapely

        corners = np.array([apply(group[0].transform, c, r) for c in (c0 - 1, c1 + 1)
                            for r in (r0 - 1, r1 + 1)])
        found = np.sort(self.tree.query(shapely.box(*corners.min(axis=0),
                                                    *corners.max(axis=0))))
        mine = self.group[found] == self.index[id(group[0])]
        return ([self.sources[i] for i in found[mine].tolist()],
                [self.sources[i] for i in found[~mine].tolist()])


def _context(group: list[_Source], r0: int, r1: int, c0: int, c1: int,
             nearby: _Nearby | None = None):
    """Class ids, scores and the owning raster (-1: no raster) of grid rows [r0, r1) and
    columns [c0, c1), read from every raster of ``group`` that covers part of them; and
    where none does, the class ids of the rasters on other grids (``nearby``'s), nearest
    pixel, with a mask of those pixels: context only, owned by no raster of the group; and
    a mask of the pixels that are no data in the group's rasters and have no context (ids
    0)."""
    from rasterio.windows import Window

    grid = chain(group[0].transform, group[0].transform.translation(c0, r0))
    group, others = nearby.near(group, r0, r1, c0, c1) if nearby is not None else (group, ())
    shape = (r1 - r0, c1 - c0)
    ids = np.zeros(shape, np.int32)
    score = np.zeros(shape, np.float32)
    owner = np.full(shape, -1, np.int32)
    footprint = np.zeros(shape, bool)
    for source in group:
        top, bottom = max(r0, source.row), min(r1, source.row + source.height)
        left, right = max(c0, source.col), min(c1, source.col + source.width)
        if top >= bottom or left >= right:
            continue
        window = Window(left - source.col, top - source.row, right - left, bottom - top)
        part_ids, part_score, valid = _read_ids(source, window)
        place = np.s_[top - r0:bottom - r0, left - c0:right - c0]
        footprint[place] = True
        ids[place][valid], score[place][valid] = part_ids[valid], part_score[valid]
        owner[place][valid] = source.index
    context = np.zeros(shape, bool)
    if (owner < 0).any():
        for other in others:
            _resample_other(other, grid, ids, owner, context)
    return ids, score, owner, context, footprint & (owner < 0) & ~context


def _resample_other(other: _Source, grid, ids: np.ndarray, owner: np.ndarray,
                    context: np.ndarray) -> None:
    """Fill the pixels of ``ids`` (on the grid ``grid``) that no raster of their group owns
    and ``other`` covers with its class ids (the pixel under each centre), in place; mark
    them in ``context``."""
    from rasterio.windows import Window

    to_grid = chain(~grid, other.transform)
    corners = np.array([apply(to_grid, *xy) for xy in ((0, 0), (other.width, 0), (0, other.height),
                                                 (other.width, other.height))])
    c_lo, r_lo = np.maximum(np.floor(corners.min(axis=0)).astype(int), 0)
    c_hi, r_hi = np.minimum(np.ceil(corners.max(axis=0)).astype(int),
                            (ids.shape[1], ids.shape[0]))
    if c_lo >= c_hi or r_lo >= r_hi or (owner[r_lo:r_hi, c_lo:c_hi] >= 0).all():
        return
    rows, cols = np.mgrid[r_lo:r_hi, c_lo:c_hi]
    to_other = chain(~other.transform, grid)
    x, y = apply(to_other, cols + 0.5, rows + 0.5)
    oc, orow = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    inside = ((oc >= 0) & (oc < other.width) & (orow >= 0) & (orow < other.height)
              & (owner[r_lo:r_hi, c_lo:c_hi] < 0))
    if not inside.any():
        return
    left, top = int(oc[inside].min()), int(orow[inside].min())
    window = Window(left, top, int(oc[inside].max()) - left + 1,
                    int(orow[inside].max()) - top + 1)
    part_ids, _, valid = _read_ids(other, window)
    pick = orow[inside] - top, oc[inside] - left
    rr, cc = rows[inside][valid[pick]], cols[inside][valid[pick]]
    ids[rr, cc] = part_ids[pick][valid[pick]]
    context[rr, cc] = True


def _band_segments(group, source, top: int, rows: int, halo: int,
                   nearby: _Nearby | None = None, sides: tuple[float, float] = (1.0, 1.0),
                   split: tuple[int, int] = (1, 1)):
    """``[(class_id, segments (n, 2, 2) grid (row, col), scores (n, 2), owners (n, 2),
    edges (n, 2))]`` of the skeleton segments starting in rows [top, top + rows) of
    ``source``; ``nearby``: the rasters given, those on other grids lending their pixels as
    context where the group has none; ``sides``: a pixel's (height, width) on the ground,
    the units of ``edges``, each pixel's distance to the road's edge. Each pixel is cut
    into ``split`` (rows, columns) before thinning, so that thinning sees about square
    ground pixels (it works in pixels: on pixels twice as long as wide a side road looked as wide as
    the main road, its junction moved off the main road and its spur was short); the
    segments are on the grid of the cut pixels, with ``halo`` of them around."""
    (ky, kx), sides = split, (sides[0] / split[0], sides[1] / split[1])
    hy, hx = -(-halo // ky), -(-halo // kx)  # ``halo`` cut pixels of context
    r0, c0 = source.row + top - hy, source.col - hx
    ids, score, owner, context, no_data = _context(
        group, r0, source.row + top + rows + hy, c0, source.col + source.width + hx, nearby)
    known = owner >= 0
    covered = known | context | no_data  # no data: background
    classes = np.unique(ids[hy:hy + rows, hx:hx + source.width])
    filled = ids if covered.all() else _fill_unknown(ids, covered)
    outside = ~covered  # past the mosaic's outer edge: mirrored
    del ids, context, covered  # a band's worth each: only ``filled`` is read on

    def cut(a: np.ndarray) -> np.ndarray:
        return a if split == (1, 1) else np.repeat(np.repeat(a, ky, axis=0), kx, axis=1)

    # bool: scores and owners are read uncut
    known, no_data, outside = cut(known), cut(no_data), cut(outside)
    core = slice(hy * ky, (hy + rows) * ky)
    cols = slice(hx * kx, (hx + source.width) * kx)
    found = []
    for class_id in classes:
        if class_id == 0 or (source.keep is not None and class_id not in source.keep):
            continue
        inside = _fill_small_holes(cut(filled == class_id), no_data,
                                   FILL_HOLES_M2 / (sides[0] * sides[1]))
        skeleton = road_skeleton(inside)
        if no_data.any():
            _extend_to_no_data(skeleton, inside, no_data, np.divide(sides, min(sides)))
        if outside.any():
            _straighten_at_outer_edge(skeleton, inside, outside, np.divide(sides, min(sides)),
                                      max(hy * ky, hx * kx))
        segments = pixel_segments(skeleton, core, cols, known)
        if len(segments):
            r, c = segments[..., 0], segments[..., 1]
            # to the road's edge: a spur within it runs into a bump of the edge
            edge = edge_distances(inside, sides, r, c)
            found.append((int(class_id), segments + np.array([r0 * ky, c0 * kx]),
                          score[r // ky, c // kx], owner[r // ky, c // kx], edge))
    return found


def edge_distances(inside: np.ndarray, sampling, r: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``distance_transform_edt(inside, sampling)[r, c]``, the same values, from the feature
    transform alone: the band's whole raster of distances took five times its memory."""
    from scipy import ndimage

    near = ndimage.distance_transform_edt(inside, sampling=sampling, return_distances=False,
                                          return_indices=True)
    dr = (near[0][r, c] - r).astype(np.float64) * sampling[0]
    dc = (near[1][r, c] - c).astype(np.float64) * sampling[1]
    return np.sqrt(dr * dr + dc * dc)


def _fill_small_holes(inside: np.ndarray, no_data: np.ndarray, most: float) -> np.ndarray:
    """``inside`` with its holes of at most ``most`` pixels (no data aside) filled: the
    4-connected pieces of background that do not reach the band's edge, as
    ``binary_fill_holes`` finds them (one labelling: half its memory)."""
    from scipy import ndimage

    background, count = ndimage.label(~inside)
    edge = np.concatenate([background[0], background[-1], background[:, 0], background[:, -1]])
    hole = np.ones(count + 1, bool)
    hole[np.unique(edge)] = False
    hole[0] = False
    if not hole.any():
        return inside
    if no_data.any():  # the holes less their no data, counted piece by piece
        holes = hole[background] & ~no_data
        del background
        background, count = ndimage.label(holes)
        hole = np.ones(count + 1, bool)
        hole[0] = False
    sizes = np.bincount(background.ravel(), minlength=count + 1)
    return inside | (hole & (sizes <= most))[background]


#: the 8 neighbours of a pixel, (row, col) steps: east, then counter-clockwise
_NEIGHBOURS = ((0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1), (1, 0), (1, 1))


def _thinning_tables() -> tuple[np.ndarray, np.ndarray]:
    """Which pixels Guo and Hall's thinning (Comm. ACM 32(3), 1989: algorithm A1) deletes in
    its first and second subiteration, by neighbourhood code (bit k: neighbour k of
    ``_NEIGHBOURS`` is set)."""
    x = ((np.arange(256)[:, None] >> np.arange(8)) & 1).astype(bool).T  # x[k]: neighbour k
    # C(p) = 1: one 8-connected run of neighbours (deleting p keeps the topology)
    runs = sum(~x[k] & (x[k + 1] | x[(k + 2) % 8]) for k in (0, 2, 4, 6))
    n1 = sum(x[k] | x[k + 1] for k in (0, 2, 4, 6))
    n2 = sum(x[k + 1] | x[(k + 2) % 8] for k in (0, 2, 4, 6))
    deletable = (runs == 1) & np.isin(np.minimum(n1, n2), (2, 3))  # not an end, not inside
    first = deletable & ~((x[1] | x[2] | ~x[7]) & x[0])  # not on the south-east's far side
    second = deletable & ~((x[5] | x[6] | ~x[3]) & x[4])
    return first, second


_THINNING = _thinning_tables()


def road_skeleton(inside: np.ndarray) -> np.ndarray:
    """The one-pixel, 8-connected skeleton of a road mask: Guo and Hall's parallel thinning,
    as :func:`skimage.morphology.thin` (the same pixels), on the border pixels only, so each
    pass costs the roads' outline, not the band's area. Zhang and Suen's thinning
    (``skeletonize``'s default) deletes a two-pixel-thick diagonal staircase whole: at some
    sub-pixel positions a 45 degree road lost half its length, or all of it."""
    image = np.pad(inside.astype(np.uint8), 1)  # a frame of background: no index leaves it
    flat = image.reshape(-1)
    steps = np.array([dr * image.shape[1] + dc for dr, dc in _NEIGHBOURS])
    steps = steps.astype(np.int32 if flat.size < 2**31 else np.int64)

    def codes(pixels: np.ndarray) -> np.ndarray:  # bit k: neighbour k is set
        return np.packbits(flat[pixels[:, None] + steps], axis=1, bitorder="little")[:, 0]

    pixels = np.flatnonzero(flat).astype(steps.dtype)
    candidates = pixels[codes(pixels) != 255]  # only border pixels can go
    listed = np.zeros(flat.shape, bool)
    listed[candidates] = True
    changed = True
    while changed:
        changed = False
        for table in _THINNING:
            gone = table[codes(candidates)]
            if not gone.any():
                continue
            deleted = candidates[gone]
            flat[deleted] = 0
            around = (deleted[:, None] + steps).ravel()
            new = np.unique(around[(flat[around] == 1) & ~listed[around]])  # border now
            listed[new] = True
            candidates = np.concatenate([candidates[~gone], new])
            changed = True
    return image[1:-1, 1:-1].astype(bool)


def _extend_to_no_data(skeleton: np.ndarray, inside: np.ndarray, no_data: np.ndarray,
                       sampling=(1.0, 1.0), only: np.ndarray | None = None) -> None:
    """Draw on, in place, each end of ``skeleton`` that stops within half the road's width
    of ``no_data``, straight through ``inside`` up to the last pixel before no data (a road
    running into it), as it runs across the raster's outer edge: the end's branch about as
    near no data as the road's sides (thinning's hook into an oblique cut's acute corner,
    which runs between a side and no data) is drawn again from where the road's centreline
    leaves off. An end whose road stops in valid background first stays.
    ``sampling``: a pixel's (height, width) in units of its smaller side; ``only``: the
    ends to draw on (default: all)."""
    from scipy import ndimage

    to_no_data = ndimage.distance_transform_edt(~no_data, sampling=sampling)
    half = ndimage.distance_transform_edt(inside | no_data, sampling=sampling)
    height, width = skeleton.shape
    # thinning measures in 8-adjacent steps: its hook runs up to sqrt(2) times as far
    # from no data as from the road's side
    near = to_no_data <= np.sqrt(2) * half + 1.5
    candidates = skeleton & (to_no_data <= half + 1.5)
    for r, c in np.argwhere(candidates if only is None else candidates & only).tolist():
        hook = _hook(skeleton, r, c, near, half)
        if hook is None:  # not an end
            continue
        r, c = hook.pop()  # where the centreline leaves off
        back = _trace_back(skeleton, r, c, max(6, int(3 * half[r, c])), {*hook, (r, c)})
        step = np.array([r - back[0], c - back[1]], float)
        if not step.any():
            continue
        step /= np.abs(step).max()  # one pixel a step: 8-adjacent pixels
        path = []
        for k in range(1, height + width):
            pr, pc = np.floor(np.array([r, c]) + k * step + 0.5).astype(int).tolist()
            if not (0 <= pr < height and 0 <= pc < width) or not inside[pr, pc]:
                if 0 <= pr < height and 0 <= pc < width and no_data[pr, pc]:
                    for qr, qc in hook:
                        skeleton[qr, qc] = False
                    for qr, qc in path:
                        skeleton[qr, qc] = True
                break
            path.append((pr, pc))


def _straighten_at_outer_edge(skeleton: np.ndarray, inside: np.ndarray, outside: np.ndarray,
                              sampling, reach: int) -> None:
    """Cut ``skeleton`` at the mosaic's outer edge (``outside``: its mirrored pixels) and
    draw each line that crosses it on straight from where the road's centreline leaves off,
    as :func:`_extend_to_no_data` draws a road into no data: a road crossing the edge
    obliquely and its mirror image make a V whose skeleton runs along the edge from where
    the centrelines meet to the V's outer corner (a road 10 m wide at 30 degrees to the
    edge ended in a hook 8.7 m along it). Only ends whose last ``EDGE_HOOK_PIXELS`` pixels
    run along the edge are redrawn (a road leaving the edge at once, crossing it steeply,
    keeps the mirrored skeleton's end). Each end is straightened in a window around it
    of four times the road's cut along the edge (at least its width), at most ``reach``
    pixels: distances near the end only."""
    skeleton[outside] = False
    rows, cols = np.nonzero(skeleton)
    height, width = skeleton.shape
    touching = np.zeros(len(rows), bool)
    for dr, dc in _NEIGHBOURS:
        touching |= outside[np.clip(rows + dr, 0, height - 1), np.clip(cols + dc, 0, width - 1)]
    if not touching.any():
        return
    inside = inside & ~outside
    for r, c in zip(rows[touching].tolist(), cols[touching].tolist(), strict=True):
        if len(_next_pixels(skeleton, r, c, {(r, c)})) != 1 or \
                not _along(skeleton, outside, r, c, EDGE_HOOK_PIXELS):
            continue  # not an end, or one that leaves the edge at once (no hook)
        side = outside[r, max(c - 1, 0):c + 2].any(), outside[max(r - 1, 0):r + 2, c].any()
        across = max(_run(inside[:, c], r) if side[0] or not side[1] else 0,
                     _run(inside[r, :], c) if side[1] or not side[0] else 0)
        size = min(4 * across + 16, reach)
        window = np.s_[max(r - size, 0):r + size + 1, max(c - size, 0):c + size + 1]
        only = np.zeros(skeleton[window].shape, bool)
        only[r - window[0].start, c - window[1].start] = True
        _extend_to_no_data(skeleton[window], inside[window], outside[window], sampling, only)


def _along(skeleton: np.ndarray, outside: np.ndarray, r: int, c: int, count: int) -> bool:
    """Whether the ``count`` pixels of ``skeleton`` from its end (r, c) all touch
    ``outside``: the line runs along the edge."""
    seen = {(r, c)}
    for _ in range(count - 1):
        around = _next_pixels(skeleton, r, c, seen)
        if len(around) != 1:
            return False
        r, c = around[0]
        seen.add((r, c))
        if not outside[max(r - 1, 0):r + 2, max(c - 1, 0):c + 2].any():
            return False
    return True


def _run(line: np.ndarray, k: int) -> int:
    """The length of the run of True in ``line`` through index ``k``."""
    lo = np.flatnonzero(~line[:k])
    hi = np.flatnonzero(~line[k:])
    return (k + (hi[0] if len(hi) else len(line) - k)) - (lo[-1] + 1 if len(lo) else 0)


def _hook(skeleton: np.ndarray, r: int, c: int, near: np.ndarray, half: np.ndarray):
    """None where (r, c) is not an end of ``skeleton``; else the pixels from it back along
    the skeleton while ``near`` (no data about as near as the road's sides), up to a
    junction and at most three of the road's half widths (``half``: each pixel's distance
    to the road's side), then the first pixel beyond (the list's last)."""
    seen = [(r, c)]
    if len(_next_pixels(skeleton, r, c, set(seen))) != 1:
        return None
    widest = 2.0
    while near[r, c] and len(seen) <= 3 * (widest := max(widest, half[r, c])) + 3:
        around = _next_pixels(skeleton, r, c, set(seen))
        if len(around) != 1:
            break
        r, c = around[0]
        seen.append((r, c))
    return seen


def _next_pixels(skeleton: np.ndarray, r: int, c: int, seen: set) -> list[tuple[int, int]]:
    """The pixels of ``skeleton`` next to (r, c) and not ``seen``; of two that touch (a
    staircase's corner), the orthogonal one."""
    found = [(r + dr, c + dc) for dr, dc in _NEIGHBOURS
             if 0 <= r + dr < skeleton.shape[0] and 0 <= c + dc < skeleton.shape[1]
             and skeleton[r + dr, c + dc] and (r + dr, c + dc) not in seen]
    if len(found) == 2 and max(abs(found[0][0] - found[1][0]),
                               abs(found[0][1] - found[1][1])) == 1:
        found = [p for p in found if p[0] == r or p[1] == c][:1]
    return found


def _trace_back(skeleton: np.ndarray, r: int, c: int, steps: int,
                seen: set | None = None) -> tuple[int, int]:
    """The pixel ``steps`` pixels back along ``skeleton`` from its end (r, c) (the pixels
    ``seen`` behind it), or the last one before a junction."""
    seen = set(seen or ()) | {(r, c)}
    for _ in range(steps):
        around = _next_pixels(skeleton, r, c, seen)
        if len(around) != 1:
            break
        seen.update(around)
        r, c = around[0]
    return r, c


def _fill_unknown(ids: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``ids`` where no raster covers the pixel filled from the covered ones, so that roads
    run on past the mosaic's edges: mirrored about the nearest
    covered pixel (a road crossing the edge goes on straight; one along the edge keeps its
    centreline on the edge pixels, inside, where repeating the edge pixel would widen it
    outwards and move its centreline out of the data); where the mirror image is not
    covered, the nearest covered pixel's."""
    rows, cols = np.flatnonzero(known.any(axis=1)), np.flatnonzero(known.any(axis=0))
    if not len(rows):
        return ids
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    if known[r0:r1, c0:c1].all():  # a rectangle: padded (reflect needs two pixels)
        return np.pad(ids[r0:r1, c0:c1], ((r0, ids.shape[0] - r1), (c0, ids.shape[1] - c1)),
                      mode="reflect" if min(r1 - r0, c1 - c0) > 1 else "edge")
    from scipy import ndimage

    near_r, near_c = ndimage.distance_transform_edt(~known, return_distances=False,
                                                    return_indices=True)
    mirror_r, mirror_c = 2 * near_r - np.arange(ids.shape[0])[:, None], \
        2 * near_c - np.arange(ids.shape[1])[None, :]
    inside = ((mirror_r >= 0) & (mirror_r < ids.shape[0]) & (mirror_c >= 0)
              & (mirror_c < ids.shape[1]))
    use = np.zeros(ids.shape, bool)
    use[inside] = known[mirror_r[inside], mirror_c[inside]]
    return ids[np.where(use, mirror_r, near_r), np.where(use, mirror_c, near_c)]


def centrelines(paths: list[Path], options: LineOptions, progress: bool = False):
    """Pruned centrelines of checked rasters (:func:`geotile.vectorize_inputs.check_inputs`):
    ``(GeoDataFrame in the rasters' CRS with class_id, class, length_m, score, source;
    crs)``; lengths in metres (the rasters' units when they have no CRS)."""
    import geopandas as gpd
    import shapely
    from affine import Affine

    from geotile.crs_names import pixel_sides
    from geotile.no_georef import map_crs
    from geotile.progress import progress_bar
    from geotile.raster import open_raster
    from geotile.vector_output import text_columns
    from geotile.vectorize_inputs import same_class_names

    sources: list[_Source] = []
    names, named, kinds, cell, outlines, crs = None, None, [], 0.0, [], None
    for index, path in enumerate(paths):
        with open_raster(path) as src:
            crs, t = map_crs(src), src.transform
            cell = max(*pixel_sides(t), cell)
            bands, kind = plain_bands(src, binary_mask_kind(src, raster_kind(src)))
            warn_if_scaled_class_raster(src, kind, path)
            kinds.append(kind.kind)
            named = same_class_names(named, path, kind.names)
            names = named[1] if named else None
            keep = _check_road_classes(options, kind.names, path)
            threshold = next(x for x in (options.threshold, kind.threshold, 0.5)
                             if x is not None)
            sources.append(_Source(path, index, kind, threshold, reads_nodata(src, kind), src.width,
                                   src.height, t, keep, bands))
            outlines.append(shapely.Polygon([apply(t, *xy) for xy in ((0, 0), (src.width, 0), (
                src.width, src.height), (0, src.height))]).exterior)
    groups = _groups(sources)
    nearby = _Nearby(groups)
    transforms = [source.transform for source in sources]
    scales = _ground_scales(crs, shapely.MultiLineString(outlines).bounds)
    ground_cell = max(max(np.divide(_ground_sides(g[0].transform, scales),
                                    _square_split(_ground_sides(g[0].transform, scales))))
                      for g in groups)  # a (cut) pixel's larger ground side
    by_class: dict[int, list[np.ndarray]] = {}
    pixels: dict[int, SkeletonPixels] = {}  # per class: score, raster, edge distance (m)
    for group in groups:
        sides = _ground_sides(group[0].transform, scales)
        split = _square_split(sides)
        # the group's grid (of cut pixels): every pixel centre computed alike
        t = chain(group[0].transform, Affine.scale(1 / split[1], 1 / split[0]))
        # bands of as many cut pixels as square-pixel ones: memory bounded alike
        k = split[0] * split[1]
        for source in group:
            for part in progress_bar(row_blocks(source.height, max(1, options.band_rows // k),
                                                0, source.width * k), progress,
                                     desc=source.path.name, unit="band"):
                top, rows = part.top, part.rows
                for class_id, segments, values, owners, edge in _band_segments(
                        group, source, top, rows, options.halo, nearby, sides, split):
                    r, c = segments[..., 0] + 0.5, segments[..., 1] + 0.5
                    xy = np.stack([t.a * c + t.b * r + t.c, t.d * c + t.e * r + t.f], axis=-1)
                    by_class.setdefault(class_id, []).append(xy)
                    pixels.setdefault(class_id, SkeletonPixels()).add(xy, values, owners, edge)
    frames = []
    for class_id, parts in sorted(by_class.items()):
        lines = _merge_segments(np.concatenate(parts))
        del parts
        table = pixels.pop(class_id)
        if len(groups) > 1:
            lines = _join_raster_edges(lines, table, outlines, cell)
        lines, centres = collapse_junction_cycles(lines, ground_cell, table.edges, scales)
        table.extra_edges.update(centres)
        length = _length_function(crs, lines, cell, _class_simplify(options, names, class_id),
                                  transforms)
        lines = prune(lines, options.min_length, length, table.edges)
        lines = merge_close_junctions(lines, ground_cell, table.edges, scales)[0]
        if not len(lines):
            continue
        frames.append(_line_frame(lines, class_id, table, paths))
    columns = {"class_id": np.empty(0, np.int64), "score": [], "source": []}
    frame = (gpd.pd.concat(frames, ignore_index=True) if frames
             else gpd.GeoDataFrame(columns, geometry=[], crs=None))
    frame = frame.set_crs(crs, allow_override=True) if crs is not None else frame
    if all(k == "class" for k in kinds):
        frame = frame.drop(columns="score")
    frame.insert(1, "class", [_road_class_name(names, c) for c in frame["class_id"]])
    frame = _simplify_by_class(text_columns(frame), crs, cell, options, names, transforms)
    _say_missing_classes(options, frame, sources, paths)
    return frame.reset_index(drop=True), crs


def _say_missing_classes(options: LineOptions, frame, sources: list[_Source], paths) -> None:
    """A warning for each class of --classes that no raster has a line of."""
    found = set(frame["class_id"].tolist())
    for name in options.classes or ():
        if all(_road_class_id(name, s.kind.names) not in found for s in sources):
            where = paths[0].name if len(paths) == 1 else f"{len(paths)} rasters"
            warn(f"--classes {name}: no line of that class in {where}; the output "
                 "holds none.", GeotileWarning)


def _road_class_id(name, names) -> int:
    from geotile.class_keys import class_key

    known = _known_road_classes(names)
    key = class_key(name)
    return known[key] if key in known else int(name)


def _known_road_classes(names) -> dict[str, int]:
    """Class key -> id of a raster's class names (None: unnamed, its class 1 is "road")."""
    from geotile.class_keys import class_key

    return {class_key(n): i for i, n in enumerate(names or [])} or {"road": 1}


def _check_road_classes(options: LineOptions, names, path) -> np.ndarray | None:
    """The class ids --classes keeps in a raster with ``names`` (None: every class); a
    one-line error for a class of --classes or per-class --simplify it does not have."""
    from geotile.class_keys import class_key

    known = _known_road_classes(names)
    given = [("--simplify", [k for k in options.simplify if k != "*"])
             if isinstance(options.simplify, dict) else ("--simplify", []),
             ("--classes", list(options.classes or ()))]
    for option, keys in given:
        bad = [k for k in keys if class_key(k) not in known and not str(k).isdigit()]
        if bad:
            named = ", ".join(n for n, i in known.items() if i)
            classes = f"its classes: {named}" if names else \
                "it names no classes: give class ids, or road for class 1"
            raise InputError(f"{option}: no class {bad[0]!r} in {Path(str(path)).name} "
                             f"({classes}). Use these names or class ids.")
    if not options.classes:
        return None
    return np.array(sorted({_road_class_id(c, names) for c in options.classes}))


def _class_simplify(options: LineOptions, names, class_id: int) -> float:
    """The --simplify tolerance (metres) of the lines of ``class_id``."""
    import pandas as pd

    from geotile.class_values import per_class_values

    if not isinstance(options.simplify, dict):
        return float(options.simplify)
    row = pd.DataFrame({"class": [_road_class_name(names, class_id)], "class_id": [class_id]})
    return float(per_class_values(options.simplify, row, names)[0])


def _simplify_by_class(frame, crs, cell: float, options: LineOptions, names=None,
                       transforms=()):
    """:func:`_simplify_and_measure` with each class's --simplify tolerance (one number for
    all: as it is)."""
    from dataclasses import replace

    from geotile.class_values import per_class_values

    if not isinstance(options.simplify, dict) or not len(frame):
        simplify = options.simplify if not isinstance(options.simplify, dict) else 0.0
        return _simplify_and_measure(frame, crs, cell, replace(options, simplify=simplify),
                                     transforms)
    import pandas as pd

    tolerances = per_class_values(options.simplify, frame, names)
    parts = [_simplify_and_measure(frame[tolerances == value].copy(), crs, cell,
                                   replace(options, simplify=float(value)), transforms)
             for value in np.unique(tolerances)]
    return pd.concat(parts).sort_index()


def _road_class_name(names, class_id: int) -> str:
    from geotile.class_values import class_name_of

    if not names and class_id == 1:
        return "road"
    return class_name_of(names, class_id)


def _merge(lines) -> np.ndarray:
    """Paths between junctions and free ends (closed lines for loops)."""
    import shapely

    if len(lines) == 0:
        return np.empty(0, dtype=object)
    merged = shapely.line_merge(shapely.multilinestrings(lines))
    return np.asarray(shapely.get_parts(merged), dtype=object)


def _merge_segments(segments: np.ndarray) -> np.ndarray:
    """:func:`_merge` of the segments ``(n, 2, 2)`` (x, y), built as one MultiLineString
    straight from their coordinates (no geometry object per segment)."""
    import shapely

    if not len(segments):
        return np.empty(0, dtype=object)
    count = len(segments)
    multi = shapely.from_ragged_array(
        shapely.GeometryType.MULTILINESTRING, segments.reshape(-1, 2),
        (np.arange(0, 2 * count + 1, 2), np.array([0, count])))
    return np.asarray(shapely.get_parts(shapely.line_merge(multi[0])), dtype=object)


def _end_degrees(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    """(start points, end points, {point: number of line ends there})."""
    import shapely

    starts = shapely.get_coordinates(shapely.get_point(lines, 0))
    ends = shapely.get_coordinates(shapely.get_point(lines, -1))
    degree: dict = {}
    for point in map(tuple, np.concatenate([starts, ends]).tolist()):
        degree[point] = degree.get(point, 0) + 1
    return starts, ends, degree


def _ground_scales(crs, bounds) -> tuple[float, float]:
    """Ground metres per CRS unit along x and y at the centre of ``bounds``: (1, 1) where
    a unit is a ground metre (or without a CRS: its own units), as lengths are measured."""
    from geotile.ground_scale import centre_scales, in_ground_metres

    if crs is None or in_ground_metres(crs, bounds):
        return 1.0, 1.0
    scales = centre_scales(crs, bounds)
    return scales if all(np.isfinite(scales)) else (1.0, 1.0)


def _ground_sides(t, scales) -> tuple[float, float]:
    """A pixel's (height, width) on the ground, of the transform ``t``."""
    return float(np.hypot(t.b * scales[0], t.e * scales[1])), \
        float(np.hypot(t.a * scales[0], t.d * scales[1]))


def _square_split(sides) -> tuple[int, int]:
    """Into how many (rows, columns) to cut a pixel of ground ``sides`` (height, width)
    so that the pieces are about square: (1, 1) for pixels within 1.5:1."""
    ratio = max(sides) / min(sides)
    if ratio < 1.5:
        return 1, 1
    return (round(ratio), 1) if sides[0] > sides[1] else (1, round(ratio))


def _scaled_lengths(lines: np.ndarray, scales) -> np.ndarray:
    """Planar lengths of ``lines`` with x and y times ``scales``."""
    import shapely

    if tuple(scales) == (1.0, 1.0):
        return shapely.length(lines)
    return shapely.length(shapely.transform(lines, lambda xy: xy * np.asarray(scales)))


def prune(lines: np.ndarray, min_length: float, length=None, edge=None) -> np.ndarray:
    """Remove, until none is left, paths shorter than ``min_length`` that are spurs (one
    free end), isolated (two free ends) or loops; paths between junctions stay.
    ``length`` measures an array of lines (default: planar length). ``edge(points)``: the
    distance from each (x, y) to the road's edge (``length``'s units): a spur no longer
    than twice that at its junction runs into a bump of the road's edge, not down a side
    road, and goes too, whatever ``min_length``."""
    import shapely

    length = length or shapely.length
    lines = _merge(lines)
    for _ in range(100):
        if not len(lines) or (min_length <= 0 and edge is None):
            return lines
        starts, ends, degree = _end_degrees(lines)
        short = length(lines) < min_length
        free_start = np.array([degree[tuple(p)] == 1 for p in starts.tolist()])
        free_end = np.array([degree[tuple(p)] == 1 for p in ends.tolist()])
        closed = (starts == ends).all(axis=1)
        spur = free_start != free_end
        if edge is not None and spur.any():
            junction = np.where(free_start[:, np.newaxis], ends, starts)[spur]
            short[spur] |= length(lines[spur]) <= 2 * edge(junction)
        drop = short & (free_start | free_end | closed)
        if not drop.any():
            return lines
        lines = _merge(lines[~drop])
    return lines


def collapse_junction_cycles(lines: np.ndarray, cell: float, edge=None, scales=(1.0, 1.0)):
    """Contract each small cycle of paths between junctions into one node: the skeleton of
    a diagonal crossing holds a 2x2 pixel block, four one-pixel paths in a square with four
    junctions of degree 3, where an axis-aligned crossing has one junction of degree 4.
    Small: the cycle's paths (and short paths between its junctions) together no longer
    than the road's width at them (``2 * edge(points)``, the distance to the road's edge,
    planar units) and than ``4 * CYCLE_PIXELS`` pixels; a roundabout's ring, around an
    island, is longer than pi times the road's width and stays. Lengths, ``cell`` (a pixel's
    larger side) and ``edge`` are in planar units times ``scales`` (along x, y: metres per
    unit). Returns (lines, {centre (x, y): its distance to the road's edge}); the paths that
    met the cycle end at its centre (the mean of its junctions)."""

    if not len(lines):
        return lines, {}
    starts, ends, degree = _end_degrees(lines)
    start_keys, end_keys = list(map(tuple, starts.tolist())), list(map(tuple, ends.tolist()))
    lengths = _scaled_lengths(lines, scales)
    limit = CYCLE_PIXELS * 4 * cell * 1.0001
    short = [i for i in range(len(lines)) if lengths[i] <= limit
             and degree[start_keys[i]] >= 3 and degree[end_keys[i]] >= 3]
    if not short:
        return lines, {}
    parent = {}

    def root(node):
        while parent.setdefault(node, node) != node:
            node = parent[node]
        return node

    for i in short:
        parent[root(start_keys[i])] = root(end_keys[i])
    members: dict = {}
    for i in short:
        members.setdefault(root(start_keys[i]), []).append(i)
    moved, drop, centres = {}, set(), {}
    for paths in members.values():
        nodes = sorted({start_keys[i] for i in paths} | {end_keys[i] for i in paths})
        total = float(lengths[paths].sum())
        if len(paths) < len(nodes) or total > limit:
            continue  # no cycle, or too long
        width = 2 * float(np.max(edge(np.array(nodes)))) if edge is not None else 0.0
        if total > max(width, 4 * cell * 1.0001):  # a 2x2 block (4 px) encloses no pixel
            continue
        centre = tuple(np.mean(np.array(nodes), axis=0).tolist())
        centres[centre] = width / 2
        drop.update(paths)
        moved.update(dict.fromkeys(nodes, centre))
    if not drop:
        return lines, {}
    return _contract(lines, drop, moved, start_keys, end_keys, scales=scales), centres


def _contract(lines: np.ndarray, drop: set, moved: dict, start_keys: list,
              end_keys: list, reach: dict | None = None, scales=(1.0, 1.0)) -> np.ndarray:
    """``lines`` without those in ``drop``, the others' ends at a node in ``moved`` (old
    node -> new node) run straight on to the new node from their last vertex farther from
    it than the old node and than ``reach`` (old node -> distance, planar units times
    ``scales``) (not through the old node: two lines ending there would share the segment
    to the new node), merged again."""
    import shapely

    reach = reach or {}
    scales = np.asarray(scales, float)
    kept = []
    for i, line in enumerate(lines):
        if i in drop:
            continue
        coords = shapely.get_coordinates(line)
        for key, flip in ((end_keys[i], False), (start_keys[i], True)):
            if key in moved:
                new = np.array(moved[key])
                far = max(np.hypot(*(np.subtract(key, new) * scales)), reach.get(key, 0.0))
                coords = coords[::-1] if flip else coords
                near = np.hypot(*((coords - new) * scales).T) <= far * (1 + 1e-9)
                last = len(coords) - 1  # the first vertex stays
                while last > 0 and near[last]:
                    last -= 1
                coords = np.concatenate([coords[:last + 1], [new]])
                coords = coords[::-1] if flip else coords
        if len(coords) > 2 or (coords[0] != coords[-1]).any():
            kept.append(shapely.LineString(coords))
    return _merge(np.asarray(kept, dtype=object))


def merge_close_junctions(lines: np.ndarray, cell: float, edge, scales=(1.0, 1.0)):
    """Contract each path between two junctions shorter than the road is wide there
    (twice the smaller distance to the road's edge at its two junctions, ``edge(points)``
    in planar units, less the half pixel by which the distance to the nearest background
    pixel's centre overshoots the edge) into one node at its midpoint: thinning splits an
    X crossing turned off the pixel grid into two junctions of degree 3 joined by a piece
    shorter than the road's width, where the crossing is one junction of degree 4. A link
    between two junctions farther apart than the road is wide (staggered side roads)
    stays. Units as :func:`collapse_junction_cycles`'s. Returns (lines, {node (x, y): its
    distance to the road's edge}); the paths that met a contracted piece end at its node."""

    if not len(lines):
        return lines, {}
    starts, ends, degree = _end_degrees(lines)
    start_keys, end_keys = list(map(tuple, starts.tolist())), list(map(tuple, ends.tolist()))
    between = [i for i in range(len(lines)) if start_keys[i] != end_keys[i]
               and degree[start_keys[i]] >= 3 and degree[end_keys[i]] >= 3]
    if not between:
        return lines, {}
    lengths = _scaled_lengths(lines, scales)
    reach = edge(np.concatenate([starts[between], ends[between]]))
    reach = np.minimum(reach[:len(between)], reach[len(between):]) - cell / 2
    short = [i for i, r in zip(between, reach.tolist(), strict=True) if lengths[i] < 2 * r]
    if not short:
        return lines, {}
    pieces: dict = {}
    for i in short:
        for node in (start_keys[i], end_keys[i]):
            pieces[node] = pieces.get(node, 0) + 1
    # a piece alone at both its junctions (a chain of close junctions is a road whose
    # bumps' spurs were not pruned, or something else than a crossing: it stays)
    used = {i for i in short if pieces[start_keys[i]] == pieces[end_keys[i]] == 1}
    moved, centres, reach = {}, {}, {}
    for i in used:
        nodes = np.array([start_keys[i], end_keys[i]])
        centre = tuple(nodes.mean(axis=0).tolist())
        centres[centre] = float(np.max(edge(nodes)))
        moved.update(dict.fromkeys((start_keys[i], end_keys[i]), centre))
        reach.update(zip((start_keys[i], end_keys[i]), 2 * edge(nodes), strict=True))
    return _contract(lines, used, moved, start_keys, end_keys, reach, scales), centres


def _join_raster_edges(lines: np.ndarray, pixels: SkeletonPixels, outlines: list,
                       cell: float):
    """Join free ends of lines from different rasters, each within a pixel of its raster's
    outline and at most ``JOIN_PIXELS`` pixels apart (roads crossing the edge between
    adjacent rasters, whose skeletons bend a little near the cut), nearest pairs first;
    then merge again."""
    import shapely

    if len(outlines) < 2 or not len(lines):
        return lines
    degree = _end_degrees(lines)[2]
    free = [p for p, d in degree.items() if d == 1]
    rows = pixels.find(np.array(free, np.float64))
    raster = np.where(rows >= 0, pixels.owner[np.maximum(rows, 0)], -1)
    points = shapely.points(np.array(free).reshape(-1, 2))
    near = np.array([r >= 0 and shapely.distance(point, outlines[r]) <= cell * 1.0001
                     for point, r in zip(points, raster, strict=True)], dtype=bool)
    index = np.flatnonzero(near)
    if len(index) < 2:
        return lines
    tree = shapely.STRtree(points[index])
    left, right = tree.query(points[index], predicate="dwithin",
                             distance=JOIN_PIXELS * cell * 1.0001)
    left, right = index[left], index[right]
    order = np.argsort(shapely.distance(points[left], points[right]), kind="stable")
    used, joins = set(), []
    for i, j in zip(left[order], right[order], strict=True):
        if i >= j or i in used or j in used or raster[i] == raster[j]:
            continue
        used.update((i, j))
        joins.append(shapely.LineString([free[i], free[j]]))
    if not joins:
        return lines
    return _merge(np.concatenate([lines, np.asarray(joins, dtype=object)]))


def _length_function(crs, lines, cell: float = 0.0, simplify: float = 0.0, transforms=()):
    """Lengths in ground metres as ``length_m`` measures them, of the lines simplified as
    :func:`_simplify_and_measure` simplifies them (``simplify`` metres, at least a ``cell``
    pixel, CRS units; on the ground: a pixel of the rasters' ``transforms``): planar in a
    CRS whose unit is a ground metre there (or without a CRS), else in the UTM zone
    (:mod:`geotile.ground_scale`: not Web Mercator). The pixel
    staircase is up to 8 % longer than the line that comes out: a spur pruned by its
    staircase came out shorter than --min-length."""
    import shapely

    metric = crs if crs is None else _metric(crs, lines)
    if metric == crs:
        tolerance = max(simplify, cell)
        return lambda geometries: shapely.length(shapely.simplify(geometries, tolerance))
    import geopandas as gpd

    tolerance = max(simplify, _pixel_in_metres(crs, cell, gpd.GeoSeries(lines, crs=crs),
                                               transforms))

    def length(geometries):
        from geotile.ground_scale import to_crs

        ground = to_crs(gpd.GeoSeries(geometries, crs=crs), metric).geometry.values
        return shapely.length(shapely.simplify(ground, tolerance))

    return length


def _metric(crs, lines):
    import geopandas as gpd

    from geotile.ground_scale import metric_crs

    return metric_crs(crs, gpd.GeoSeries(lines, crs=crs))


def _line_frame(lines: np.ndarray, class_id: int, pixels: SkeletonPixels,
                paths: list[Path]):
    """A frame of ``lines`` with class_id, score (mean over skeleton pixels) and source
    (the raster of the first pixel)."""
    import geopandas as gpd
    import shapely

    coords, line_of = shapely.get_coordinates(lines, return_index=True)
    rows = pixels.find(coords)
    starts = np.searchsorted(line_of, np.arange(len(lines) + 1))
    scores, sources = [], []
    for start, stop in itertools.pairwise(starts):
        if stop - start > 2 and (coords[start] == coords[stop - 1]).all():
            stop -= 1  # a ring's closing vertex
        found = rows[start:stop][rows[start:stop] >= 0]
        scores.append(round(float(np.mean(pixels.score[found])), 4) if len(found) else None)
        sources.append(paths[pixels.owner[found[0]]].name if len(found) else "")
    return gpd.GeoDataFrame({"class_id": np.full(len(lines), class_id, np.int64),
                             "score": scores, "source": sources}, geometry=list(lines))


def _simplify_and_measure(frame, crs, cell: float, options: LineOptions, transforms=()):
    """Simplify (at least one pixel: ``cell`` in CRS units, a pixel of ``transforms`` on
    the ground) and measure length_m in ground metres."""
    import shapely

    from geotile.ground_scale import to_crs

    if not len(frame):
        frame.insert(2, "length_m", np.empty(0))
        return frame
    metric = crs if crs is None else _metric(crs, frame.geometry.values)
    work = frame if crs is None or metric == crs else to_crs(frame, metric)
    pixel = cell if crs is None or metric == crs else \
        _pixel_in_metres(crs, cell, frame, transforms)
    tolerance = max(options.simplify, pixel)  # less keeps the pixel staircase
    simplified = shapely.simplify(work.geometry.values, tolerance)
    work = work.set_geometry(list(simplified), crs=work.crs)
    frame = work if crs is None or metric == crs else to_crs(work, crs)
    frame.insert(2, "length_m", np.round(shapely.length(simplified), 2))
    return frame


def _pixel_in_metres(crs, cell: float, frame, transforms=()) -> float:
    """The larger ground side, in metres, of a pixel of ``transforms`` (the rasters' grids)
    at the lines' centre, each side at its own axis' scale (degrees: x times cos(latitude),
    so 1.46e-5 x 5e-6 deg pixels at 70 deg N are 0.56 m square; Web Mercator: cos(latitude)
    both ways); without ``transforms`` a square ``cell`` (CRS units)."""
    from affine import Affine

    from geotile.ground_scale import centre_scales

    scales = centre_scales(crs, frame.total_bounds)
    if not all(np.isfinite(scales)):
        return cell
    grids = transforms or [Affine.scale(cell)]
    return max(max(_ground_sides(t, scales)) for t in grids)


@with_read_settings
def vectorize_lines(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    output: str | os.PathLike,
    *,
    options: LineOptions = LineOptions(),
    overwrite: bool = False,
    progress: bool = False,
) -> dict:
    """Road centrelines of rasters (one path or several adjacent ones) into one vector file,
    written as :func:`geotile.vectorize.vectorize_polygons` writes polygons (same formats and
    CRS defaults). Returns a summary (output, features, length_m, per-class counts, crs)."""
    from geotile.output_crs import (
        check_output_crs,
        no_crs,
        output_crs,
        parse_crs,
        raster_centre,
        to_output_crs,
        warn_inexact_datum,
    )
    from geotile.vector_output import check_not_an_input, check_vector_output, write_vector
    from geotile.vectorize_inputs import check_inputs

    with interrupted_as(output):
        simplify = options.simplify.values() if isinstance(options.simplify, dict) \
            else [options.simplify]
        if options.min_length < 0 or min(simplify) < 0 or options.halo < 1:
            raise InputError("--min-length and --simplify must be >= 0 metres and the halo at "
                             "least 1 px.")
        output = Path(output)
        writer = check_vector_output(output, overwrite)
        target = parse_crs(options.crs)
        paths, crs = check_inputs(paths)
        check_not_an_input(output, writer, paths)
        if crs is None and not (target is None or isinstance(target, str)):
            from geotile.no_georef import unmapped_reason
            from geotile.raster import open_raster

            with open_raster(paths[0]) as src:
                why, fix = unmapped_reason(src)
            raise InputError(f"{paths[0]}: {why}, so its lines cannot be reprojected to "
                             f"--crs {options.crs}. {fix}, or leave out --crs.")
        if crs is None:  # GeoJSON's coordinates are lon/lat to readers other than geotile's
            caveat = (" (it says \"crs\": null, which geotile evaluate reads as no CRS, but "
                      "other GeoJSON readers will take them for longitude/latitude: prefer "
                      ".gpkg)" if writer == "GeoJSON" else "")
            warn(f"{paths[0]}: {no_crs(paths[0])}; lines are in its own "
                 "coordinates (pixels when it has no geotransform), lengths in those "
                 f"units, and the output carries no CRS{caveat}.", GeotileWarning)
        check_output_crs(output, writer, options.crs, crs)
        frame, crs = centrelines(paths, options, progress)
        target = output_crs(options.crs, writer, crs)
        if len(frame):
            warn_inexact_datum(paths[0], crs, target)
        frame = to_output_crs(frame, target, raster_centre(paths[0]))
        write_vector(frame, output, writer, overwrite, rasters=paths,
                     geometry_type="LineString")
        log.info("%s: %d lines from %s", output, len(frame), ", ".join(p.name for p in paths))
        return {"output": str(output), "features": len(frame),
                "length_m": round(float(frame["length_m"].sum()), 2) if len(frame) else 0.0,
                "units": "m" if crs is not None else "coordinates",
                "per_class": frame["class"].value_counts().to_dict() if len(frame) else {},
                "crs": frame.crs.to_string() if frame.crs is not None else None,
                "sources": [p.name for p in paths]}
