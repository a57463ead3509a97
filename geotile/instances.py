"""Touching buildings as separate polygons: marker-based watershed on footprint / boundary /
contact probabilities (the SpaceNet winners' post-processing).

- building mask: footprint >= ``threshold`` (the plain vectorizer's rule);
- markers: footprint > ``marker_threshold`` and boundary < ``boundary_threshold`` and
  contact < ``contact_threshold``, eroded by ``erosion`` px (breaks thin bridges between
  neighbours), 4-connected, those under ``min_marker`` px dropped;
- seeded watershed over -footprint + boundary + contact inside the mask: every mask pixel
  joins the marker it is reached from first, so a row of touching houses is cut along the
  walls the model sees (noise in a footprint flat across a party wall does not move them).
  Mask regions holding no marker (buildings thinner than the boundary band) stay one
  instance each.

Band roles come from the raster's band descriptions (``footprint``, ``boundary``,
``contact``, as written by make-masks and by predict for such a model), else bands 1-3.

Rasters are split by row bands with rows of context above and below; a building crossing
a band seam is joined by pairing the labels the two bands give the rows they share, so a
wall on the seam still separates two houses. Adjacent rasters on one pixel grid are split
as one raster: blocks at a raster's edge read the neighbours' pixels as context, and the
labels both rasters give the pixels along their edge are paired as at a band seam (so a
house cut 1-2 px from its party wall keeps its sliver, and the wall its house). Rasters on
other grids (another pixel size, origins a fraction of a pixel apart, turned): each reads
its neighbours' pixels past its edges by nearest pixel as context, and instances sharing
an edge segment are joined (as the plain vectorizer joins regions), unless the pixels along
it are mostly boundary or contact: a party wall; an instance whose marker lies past the
edge (or without one) joins the instance(s) across it whatever its wall pixels.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geotile.affine_math import apply
from geotile.crs_identity import one_crs
from geotile.errors import InputError, check_range, check_whole
from geotile.raster_kinds import ROLES, band_roles
from geotile.streaming import DEFAULT_BAND_ROWS, DEFAULT_BLOCK_SIZE, RowBlock, row_blocks

log = logging.getLogger("geotile")

#: the classes of instances by id: building (1), whatever the bands are named
INSTANCE_CLASSES = ["background", "building"]
#: rows of context above and below a band (a building taller than the context may be split
#: differently on the two sides of a seam)
HALO = 256
FOUR_CONNECTED = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], bool)


@dataclass(frozen=True)
class InstanceOptions:
    """Marker rules of the watershed (probabilities in 0..1, sizes in pixels)."""

    marker_threshold: float = 0.5
    boundary_threshold: float = 0.5
    contact_threshold: float = 0.5
    erosion: int = 1
    min_marker: int = 4
    #: rows and columns per block, and px of context around it (memory: one block)
    band_rows: int = DEFAULT_BAND_ROWS
    block_cols: int = DEFAULT_BLOCK_SIZE
    halo: int = HALO

    def __post_init__(self) -> None:
        for name in ("marker_threshold", "boundary_threshold", "contact_threshold"):
            check_range("--" + name.replace("_", "-"), getattr(self, name), 0, 1)
        check_whole(self, "erosion", "--marker-erosion", 0)
        check_whole(self, "min_marker", "--min-marker", 1)
        for name, low in (("band_rows", 1), ("block_cols", 1), ("halo", 0)):
            check_whole(self, name, name, low)


def markers(footprint: np.ndarray, boundary: np.ndarray | None = None,
            contact: np.ndarray | None = None, mask: np.ndarray | None = None,
            options: InstanceOptions = InstanceOptions()) -> np.ndarray:
    """Labelled seeds (int32, 0 = none): building interiors away from outlines and contacts."""
    from scipy import ndimage

    seeds = footprint > options.marker_threshold
    if boundary is not None:
        seeds &= boundary < options.boundary_threshold
    if contact is not None:
        seeds &= contact < options.contact_threshold
    if mask is not None:
        seeds &= mask
    if options.erosion > 0 and seeds.any():
        seeds = ndimage.binary_erosion(seeds, FOUR_CONNECTED, iterations=options.erosion,
                                       border_value=1)
    labels, count = ndimage.label(seeds, structure=FOUR_CONNECTED)
    if count and options.min_marker > 1:
        sizes = np.bincount(labels.ravel(), minlength=count + 1)
        keep = sizes >= options.min_marker
        keep[0] = False
        if not keep[1:].all():  # renumber the kept markers 1..K through a lookup table
            labels = (np.cumsum(keep) * keep).astype(np.int32)[labels]
    return labels.astype(np.int32, copy=False)


def split_instances(footprint: np.ndarray, boundary: np.ndarray | None = None,
                    contact: np.ndarray | None = None, *, threshold: float = 0.5,
                    valid: np.ndarray | None = None,
                    options: InstanceOptions = InstanceOptions()) -> np.ndarray:
    """Instance labels (int32, 0 background, 1..N one per building) from probabilities in 0..1.

    ``valid`` (bool) leaves nodata pixels out of every building.
    """
    return _flooded(*_flood_inputs(footprint, boundary, contact, threshold, valid, options))


def _flood_inputs(footprint, boundary, contact, threshold: float, valid, options):
    """(mask, seeds, relief) of :func:`split_instances`; None for seeds and relief where
    no pixel is a building. The bands are not needed after this (a caller may drop them
    before the watershed: a block's three float32 bands are 140 MB)."""
    footprint = _finite(np.asarray(footprint, np.float32))
    mask = footprint >= threshold
    if valid is not None:
        mask &= valid
    if not mask.any():
        return mask, None, None
    return (mask, markers(footprint, boundary, contact, mask, options),
            _relief(footprint, boundary, contact))


def _flooded(mask: np.ndarray, seeds: np.ndarray | None, relief: np.ndarray | None):
    """:func:`split_instances` from its :func:`_flood_inputs`."""
    from scipy import ndimage
    from skimage.segmentation import watershed

    if seeds is None:
        return np.zeros(mask.shape, np.int32)
    labels = watershed(relief, seeds, mask=mask, connectivity=1).astype(np.int32, copy=False)
    del relief
    orphans, count = ndimage.label(mask & (labels == 0), structure=FOUR_CONNECTED)
    if count:
        start = int(labels.max())
        labels[orphans > 0] = orphans[orphans > 0] + start
    return _corners_to_majority(labels, seeds > 0)


def _corners_to_majority(labels: np.ndarray, kept: np.ndarray | None = None,
                         passes: int = 4) -> np.ndarray:
    """Labels with each building pixel that has at most one 4-neighbour of its own building
    and two of one other given to that other: the watershed floods the convex corner pixel
    of a shallower house (a T-junction of party walls) from the deeper neighbour's wall,
    which notched the one and gave the other a spur (gaps once squared by --regularize).
    Such a pixel is a leaf of its building; no two 4-neighbours move in one pass (each
    could leave the pixel the other joins), so no building is cut in two, and ``kept``
    pixels (the markers) never move, so none is emptied; buildings that touch no other
    keep every pixel. Only pixels on a wall between two buildings are looked at (a whole
    band's neighbourhoods took half as much memory again as the run)."""
    height, width = labels.shape
    steps = ((-1, 0), (1, 0), (0, -1), (0, 1))  # up, down, left, right
    for _ in range(passes):
        rows, cols = np.nonzero(_on_a_party_wall(labels))
        if not len(rows):
            break
        own_label = labels[rows, cols]
        around = np.zeros((len(rows), 4), labels.dtype)
        for k, (dr, dc) in enumerate(steps):
            r, c = rows + dr, cols + dc
            inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
            around[inside, k] = labels[r[inside], c[inside]]
        own = (around == own_label[:, None]).sum(axis=1)
        best = np.zeros(len(rows), labels.dtype)
        votes = np.zeros(len(rows), np.int64)
        for k in range(4):
            side = around[:, k]
            count = (around == side[:, None]).sum(axis=1)
            better = (side > 0) & (side != own_label) & (count > votes)
            best[better], votes[better] = side[better], count[better]
        moved = (own <= 1) & (votes >= 2) & (votes > own)
        if kept is not None:
            moved &= ~kept[rows, cols]
        if not moved.any():
            break
        labels = labels.copy()
        labels[rows[moved], cols[moved]] = -1  # of two 4-neighbours, the odd one waits
        odd = moved & ((rows + cols) % 2 == 1)
        for dr, dc in steps:
            r, c = rows + dr, cols + dc
            inside = odd & (r >= 0) & (r < height) & (c >= 0) & (c < width)
            beside = np.zeros_like(moved)
            beside[inside] = labels[r[inside], c[inside]] == -1
            moved &= ~beside
        labels[rows, cols] = np.where(moved, best, own_label)
    return labels


def _on_a_party_wall(labels: np.ndarray) -> np.ndarray:
    """Building pixels with a 4-neighbour in another building."""
    wall = np.zeros(labels.shape, bool)
    for a, b, first, second in (
            (labels[:-1], labels[1:], np.s_[:-1], np.s_[1:]),
            (labels[:, :-1], labels[:, 1:], np.s_[:, :-1], np.s_[:, 1:])):
        meet = (a != b) & (a > 0) & (b > 0)
        wall[first] |= meet
        wall[second] |= meet
    return wall


def _relief(footprint: np.ndarray, boundary: np.ndarray | None,
            contact: np.ndarray | None) -> np.ndarray:
    """The surface flooded from the markers: -footprint, raised by the boundary and contact
    probabilities, so that a party wall (footprint ~1 on both sides) is cut on the model's
    wall, not wherever noise in a flat footprint lets one side flood first."""
    relief = -footprint
    for walls in (boundary, contact):
        if walls is not None:
            relief = relief + _finite(np.asarray(walls, np.float32))
    return relief


def _scaled(values: np.ndarray, scale: np.float32) -> np.ndarray:
    """Raster values as float32 probabilities (one pass for integer rasters)."""
    if values.dtype == np.uint8 and scale == 255:
        return (np.arange(256, dtype=np.float32) / scale)[values]
    probabilities = values.astype(np.float32)
    if scale != 1:
        probabilities /= scale
    return probabilities


def _finite(values: np.ndarray) -> np.ndarray:
    """NaN (and infinities) as 0, without a copy when there are none."""
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    return values


def instance_polygons(labels: np.ndarray, footprint: np.ndarray, transform, *,
                      with_labels: bool = False):
    """One polygon per instance: list of ``(polygon, score_sum, pixel_count)`` in map units
    (``(label, polygon, score_sum, pixel_count)`` with ``with_labels``)."""
    from geotile.quiet_warnings import shapes
    from geotile.vectorize import polygons_from_geojson

    count = int(labels.max(initial=0))
    if count == 0:
        return []
    sums = np.bincount(labels.ravel(), weights=footprint.ravel().astype(np.float64),
                       minlength=count + 1)
    pixels = np.bincount(labels.ravel(), minlength=count + 1)
    found = list(shapes(labels, mask=labels > 0, connectivity=4, transform=transform))
    polygons = polygons_from_geojson([geometry for geometry, _ in found])
    result = [(int(value), polygon, float(sums[int(value)]), int(pixels[int(value)]))
              for polygon, (_, value) in zip(polygons, found, strict=True)]
    return result if with_labels else [r[1:] for r in result]


def declared_thresholds(path: str | os.PathLike) -> dict[str, float]:
    """The marker thresholds a raster declares (predict writes the model's
    ``<role>_thresh`` metadata as GEOTILE_<ROLE>_THRESHOLD tags), as InstanceOptions
    fields: {"boundary_threshold": 0.1, ...}; InputError for a tag that is not 0-1."""
    from geotile.raster import open_raster

    with open_raster(path) as src:
        tags = src.tags()
    declared = {}
    for role in ("marker", "boundary", "contact"):
        text = tags.get(f"GEOTILE_{role.upper()}_THRESHOLD")
        if text is None:
            continue
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not 0 <= value <= 1:
            raise InputError(f"{path}: tag GEOTILE_{role.upper()}_THRESHOLD={text!r} is not a "
                             f"probability (0-1). Give --{role}-threshold or fix the tag.")
        declared[f"{role}_threshold"] = value
    return declared


def common_thresholds(paths: Sequence[str | os.PathLike],
                      given: Sequence[str] = ()) -> dict[str, float]:
    """The marker thresholds the rasters declare (:func:`declared_thresholds`), one value per
    option for all of them, but for the options ``given`` (InstanceOptions fields): an
    InputError where two rasters declare different values (two models' outputs), which no
    order they are given in may settle."""
    found: dict[str, tuple[float, str | os.PathLike]] = {}
    for path in sorted(paths, key=str):
        for key, value in declared_thresholds(path).items():
            if key in given:
                continue
            first, where = found.setdefault(key, (value, path))
            if value != first:
                role = key.removesuffix("_threshold")
                raise InputError(
                    f"{where} and {path}: their tags GEOTILE_{role.upper()}_THRESHOLD differ "
                    f"({first:g} and {value:g}: outputs of two models?), and one threshold "
                    f"splits them all. Give --{role}-threshold, or vectorize them apart.")
    return {key: value for key, (value, _) in found.items()}


def is_instance_raster(path: str | os.PathLike) -> bool:
    """Whether the raster's bands are described as footprint + boundary and/or contact."""
    from geotile.raster import open_raster

    with open_raster(path) as src:
        return band_roles(src) is not None


def instance_scale(src, kind) -> float:
    """The divisor that makes ``src``'s values probabilities (:func:`zero_one_kind`: 1 for
    make-masks' 0/1 channels whose tags a copy lost)."""
    from geotile.raster_kinds import zero_one_kind

    return zero_one_kind(src, kind).scale


def check_instance_raster(src) -> None:
    """InputError for a class raster of several classes (by its names, else ids above 1 in
    a sample) without footprint/boundary/contact bands: the watershed would take every
    class for buildings (garage, house and road as one "building" class)."""
    from geotile.raster import sample_pixels
    from geotile.raster_kinds import binary_mask_kind, looks_like_colour_labels, raster_kind

    if band_roles(src) is not None:
        return
    if src.count <= len(ROLES) and looks_like_colour_labels(src, pure=True):
        # unnamed 0/255 bands (solaris'): no colour-coded labels for a user who said
        # --instances, and no --palette to give
        from geotile.raster_kinds import roles_tag_advice

        roles = ROLES[:src.count]
        raise InputError(f"{src.name}: --instances reads bands named {', '.join(roles[:-1])} "
                         f"and {roles[-1]}, and these {src.count} unnamed bands of 0 and 255 "
                         "look like colour-coded labels. If they are "
                         f"{', '.join(roles[:-1])} and {roles[-1]} in that order, name them: "
                         f"{roles_tag_advice(src)}")
    kind = binary_mask_kind(src, raster_kind(src))
    if kind.kind != "class":
        return
    if kind.names:
        several = len(kind.names) > 2
    else:  # ids above 1, but neither nodata nor the ignore value 255
        ids = sample_pixels(src, [1]).ravel() / kind.scale
        ignored = [v for v in (src.nodata, 255 / kind.scale) if v is not None]
        several = bool((ids[~np.isin(ids, ignored)] > 1).any())
    if several:
        named = f" ({', '.join(map(str, kind.names))})" if kind.names else ""
        raise InputError(f"{src.name}: --instances splits footprint/boundary/contact "
                         f"probabilities into buildings, not a class raster of several "
                         f"classes{named}. Leave out --instances (or give --no-instances) for "
                         "polygons by class, or vectorize a footprint/boundary/contact "
                         "raster.")


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, item: int) -> int:
        parent = self.parent.setdefault(item, item)
        if parent != item:
            parent = self.parent[item] = self.find(parent)
        return parent

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _mutual_best_pairs(a: np.ndarray, b: np.ndarray) -> list[tuple[int, int]]:
    """Label pairs (a, b) over the same pixels where each is the other's most frequent
    partner: the same building seen from two overlapping bands."""
    both = (a > 0) & (b > 0)
    if not both.any():
        return []
    pairs, counts = np.unique(np.stack([a[both], b[both]]), axis=1, return_counts=True)
    best_a: dict[int, tuple[int, int]] = {}
    best_b: dict[int, tuple[int, int]] = {}
    for (x, y), n in zip(pairs.T.tolist(), counts.tolist(), strict=True):
        if n > best_a.get(x, (0, 0))[1]:
            best_a[x] = (y, n)
        if n > best_b.get(y, (0, 0))[1]:
            best_b[y] = (x, n)
    return [(x, y) for x, (y, _) in best_a.items() if best_b[y][0] == x]


def raster_instance_regions(src, *, threshold: float | None = None,
                            options: InstanceOptions = InstanceOptions(), roles=None,
                            progress: bool = False) -> list[tuple]:
    """Instances of an open raster, split into blocks of ``options.band_rows`` rows by
    ``options.block_cols`` columns, each read with ``options.halo`` px of context on every
    side (memory bounded by the block, whatever the raster's size).

    A building crossing a block edge is one instance: the labels of two neighbouring blocks
    over the pixels both read are paired (mutual best overlap) and the paired parts united.
    Returns ``(polygon, score_sum, pixel_count, on_border)`` per instance, ``on_border``
    meaning it touches the raster's outer edge.
    """
    pieces, *_ = _raster_pieces(src, threshold=threshold, options=options, roles=roles,
                                  progress=progress)
    return [region[:4] for region in _unite(pieces, _UnionFind())]


@dataclass(frozen=True)
class _Neighbour:
    """A raster on the same pixel grid, its origin at (``col``, ``row``) px of another's;
    or, with its ``transform``, on another grid, within the box of (``col``, ``row``,
    ``width``, ``height``) px of the other's (its pixels are read there by nearest)."""

    path: Path
    col: int
    row: int
    width: int
    height: int
    transform: object = None


#: px on each side of the edge between adjacent rasters over which their labels are paired
SEAM_PX = 4


def _context_blocks(size: int, step: int, halo: int, before: int, after: int) -> list:
    """:func:`row_blocks` of ``size`` px, with up to ``halo`` px of context reaching
    ``before`` px before the raster and ``after`` px past it (adjacent rasters)."""
    return [RowBlock(b.top, b.rows, min(halo, b.top + before),
                     min(halo, size + after - b.top - b.rows)) for b in row_blocks(size, step)]


def _group_reader(src, present: list[str], neighbours: Sequence[_Neighbour], stack):
    """``read(left, top, width, height) -> (probabilities (roles, h, w), valid)`` in
    ``src``'s pixels, past its edges from the ``neighbours`` (elsewhere: invalid)."""
    from geotile.raster import open_raster
    from geotile.raster_kinds import (
        binary_mask_kind,
        check_probabilities,
        raster_kind,
        reads_nodata,
    )

    readers, others = [], []  # on the grid of src, on others
    for dataset, n in [(src, None)] + [
            (stack.enter_context(open_raster(n.path)), n) for n in neighbours]:
        roles = band_roles(dataset, required=True)
        kind = binary_mask_kind(dataset, raster_kind(dataset))
        scale = instance_scale(dataset, kind)
        (others if n is not None and n.transform is not None else readers).append(
            (dataset, n.col if n else 0, n.row if n else 0, [roles.get(r) for r in present],
             np.float32(scale), reads_nodata(dataset, kind), kind))

    def read(left: int, top: int, width: int, height: int):
        if not readers[1:] and not (others and _beyond(src, left, top, width, height)):
            dataset, _, _, order, scale, check, kind = readers[0]
            values, valid = _read_roles(dataset, left, top, width, height, order, check)
            check_probabilities(values, valid, kind, dataset.name)  # float 0..255 scores
            return _finite(_scaled(values, scale)), valid
        values = np.zeros((len(present), height, width), np.float32)
        valid = np.zeros((height, width), bool)
        for dataset, col, row, order, scale, check, kind in readers:
            x0, x1 = max(left, col), min(left + width, col + dataset.width)
            y0, y1 = max(top, row), min(top + height, row + dataset.height)
            if x0 >= x1 or y0 >= y1:
                continue
            have = [i for i, band in enumerate(order) if band is not None]
            part, ok = _read_roles(dataset, x0 - col, y0 - row, x1 - x0, y1 - y0,
                                   [order[i] for i in have], check)
            check_probabilities(part, ok, kind, dataset.name)
            place = np.s_[y0 - top:y1 - top, x0 - left:x1 - left]
            values[(have, *place)] = _finite(_scaled(part, scale))
            valid[place] = ok
        if others and _beyond(src, left, top, width, height):
            _read_off_grid(src, others, left, top, values, valid)
        return values, valid

    return read


def _beyond(src, left: int, top: int, width: int, height: int) -> bool:
    """Whether the window reaches past ``src``'s edges."""
    return left < 0 or top < 0 or left + width > src.width or top + height > src.height


def _read_off_grid(src, others: list, left: int, top: int, values, valid) -> None:
    """Fill the pixels of the window at (``left``, ``top``) of ``src`` that lie past its
    edges from the adjacent rasters on other grids (``others``: readers), nearest pixel:
    the context a raster's watershed sees there, as if the rasters were one."""
    from geotile.raster_kinds import check_probabilities

    height, width = valid.shape
    rows, cols = np.arange(top, top + height), np.arange(left, left + width)
    # past the edges and not read yet (from a neighbour on the grid): the window's frame
    outside = ((rows < 0) | (rows >= src.height))[:, None] | \
        ((cols < 0) | (cols >= src.width))[None, :]
    outside &= ~valid
    at_row, at_col = np.nonzero(outside)
    x, y = apply(src.transform, cols[at_col] + 0.5, rows[at_row] + 0.5)
    del at_row, at_col
    for dataset, _, _, order, scale, check, kind in others:
        col, row = apply(~dataset.transform, x, y)
        col, row = np.floor(col).astype(np.int64), np.floor(row).astype(np.int64)
        inside = (col >= 0) & (row >= 0) & (col < dataset.width) & (row < dataset.height)
        if not inside.any():
            continue
        c0, r0 = col[inside].min(), row[inside].min()
        have = [i for i, band in enumerate(order) if band is not None]
        part, ok = _read_roles(dataset, int(c0), int(r0), int(col[inside].max() - c0 + 1),
                               int(row[inside].max() - r0 + 1), [order[i] for i in have],
                               check)
        check_probabilities(part, ok, kind, dataset.name)
        at = np.flatnonzero(outside.ravel())[inside]  # the window's pixels it gives
        r, c = row[inside] - r0, col[inside] - c0
        flat = values.reshape(len(values), -1)  # views of the window's arrays
        for k, band in enumerate(have):
            flat[band, at] = _finite(_scaled(part[k, r, c], scale))
        valid.reshape(-1)[at] = ok[r, c]


def _read_roles(dataset, left: int, top: int, width: int, height: int, bands: list[int],
                check: bool):
    """:func:`~geotile.raster.read_block` of the role ``bands`` (footprint first): a pixel
    is nodata where GDAL's mask says so (every band nodata) or where a float footprint holds
    its nodata value; a float boundary or contact band holding its nodata value is no wall
    there (0), not a nodata pixel: probabilities written with an image profile's nodata 0
    lost every house's inside, where those bands are 0."""
    from geotile.raster import read_block

    values, valid = read_block(dataset, left, top, width, height, bands, check,
                               band_nodata_values=False)
    if check and values.dtype.kind == "f":
        for index, band in enumerate(bands):
            nodata = dataset.nodatavals[band - 1]
            if nodata is None or np.isnan(nodata):
                continue
            here = values[index] == nodata
            if not here.any():
                continue
            if index == 0:
                valid &= ~here
            else:
                values[index][here] = 0
    return values, valid


def _raster_pieces(src, *, threshold: float | None = None,
                   options: InstanceOptions = InstanceOptions(), roles=None,
                   progress: bool = False, neighbours: Sequence[_Neighbour] = (),
                   place: tuple | None = None, collar: bool = False):
    """The instance pieces of an open raster by blocks (:func:`raster_instance_regions`),
    read past its edges from adjacent ``neighbours`` as from one raster: ``({label:
    [polygons, score sum, pixel count, on border, marked]}, strips, labels used)``
    (``marked``: grown from a marker inside the raster, not from one in the context past
    its edges nor a region of the mask without one), ``strips``:
    ``(side, line, row, col, labels)``, the labels over the ``SEAM_PX`` px on each side of
    the edge at row or column ``line`` where a neighbour lies beyond it, placed at (``row``,
    ``col``) px of the raster. ``place``: (transform, col, row) of the pixel grid the raster
    lies on and its origin there (:func:`geotile.grid.grid_places`; None: its own).
    ``collar``: its nodata pixels are wanted too (a polygon placed on the grid, the tuple's
    fourth item; None without any or without ``collar``)."""
    from contextlib import ExitStack

    import shapely
    from affine import Affine

    from geotile.progress import progress_bar
    from geotile.vectorize import nodata_polygons

    grid, col0, row0 = place or (src.transform, 0, 0)

    def on_grid(polygons) -> np.ndarray:  # the grid's pixels -> its coordinates
        return shapely.transform(np.array(polygons, dtype=object),
                                 lambda xy: np.column_stack(apply(grid, *xy.T)))

    roles = roles or band_roles(src, required=True)
    present = [r for r in ROLES if r in roles]
    if threshold is None:
        from geotile.raster_kinds import threshold_tag

        threshold = next(t for t in (threshold_tag(src), 0.5) if t is not None)
    links = _UnionFind()
    pieces: dict[int, list] = {}  # global id -> [polygons, score sum, pixel count, on border]
    above = None  # (global labels of the previous band's last rows, core columns; first row)
    next_id = 0
    nodata = []  # the polygons of its nodata pixels, placed
    extent = [0, 0, src.height, src.width]  # top, left, bottom, right: the group around
    for n in neighbours:
        extent = [min(extent[0], n.row), min(extent[1], n.col),
                  max(extent[2], n.row + n.height), max(extent[3], n.col + n.width)]
    bands = _context_blocks(src.height, options.band_rows, options.halo, -extent[0],
                            extent[2] - src.height)
    columns = _context_blocks(src.width, options.block_cols, options.halo, -extent[1],
                              extent[3] - src.width)  # the same, across
    seam = min(SEAM_PX, options.halo)
    # px outside and inside each edge that strips cover (outside 0: no neighbour beyond)
    sides = {"top": (min(seam, bands[0].above), min(seam, bands[0].rows + bands[0].below)),
             "bottom": (min(seam, bands[-1].below), min(seam, bands[-1].rows + bands[-1].above)),
             "left": (min(seam, columns[0].above),
                      min(seam, columns[0].rows + columns[0].below)),
             "right": (min(seam, columns[-1].below),
                       min(seam, columns[-1].rows + columns[-1].above))}
    across = {"top": src.width, "bottom": src.width, "left": src.height, "right": src.height}
    strips = {side: np.zeros((sum(sides[side]), across[side]), np.int64)
              for side in sides if sides[side][0]}
    bar = progress_bar(enabled=progress and len(bands) * len(columns) > 1,
                       total=len(bands) * len(columns), desc=Path(src.name).name, unit="block")
    with ExitStack() as stack:
        read = _group_reader(src, present, neighbours, stack)
        for index, band in enumerate(bands):
            # the rows the next band reads again: kept (core columns) to pair its labels with
            end = band.read_top + band.read_rows
            shared = end if index + 1 == len(bands) else bands[index + 1].read_top
            # int32 while any label the band can make fits (a full-width array: half the memory)
            wide = next_id + band.read_rows * (extent[3] - extent[1]) >= np.iinfo(np.int32).max
            below = np.zeros((end - shared, src.width), np.int64 if wide else np.int32)
            left = None  # (global labels of the block to the left, its first column)
            for number, column in enumerate(columns):
                core_cols = slice(column.above, column.above + column.rows)
                # in the grid's pixels (whole numbers), placed by the grid's transform:
                # vertices where blocks or adjacent rasters meet are the same coordinates
                pixels = Affine.translation(col0 + column.top, row0 + band.top)
                values, valid = read(column.read_top, band.read_top, column.read_rows,
                                     band.read_rows)
                channels = dict(zip(present, values, strict=True))
                inputs = _flood_inputs(channels["footprint"], channels.get("boundary"),
                                       channels.get("contact"), threshold, valid, options)
                # the markers inside the raster (not in the context read past its edges
                # from the neighbours, nor a region of the mask without one: an orphan)
                marked = _markers_inside(inputs[1], src, band, column)
                # only the core's footprint is kept (scores): the bands go before the flood
                footprint = channels["footprint"][band.core, core_cols].copy()
                if collar and not valid[band.core, core_cols].all():  # --regularize's ends
                    nodata.extend(on_grid(nodata_polygons(valid[band.core, core_cols], pixels)))
                del values, valid, channels
                local = _flooded(*inputs)
                del inputs
                labels = np.where(local > 0, local + next_id, 0)
                # labels are paired where both blocks see the building with context on every
                # side: the middle half of what both read, around the seam (a block's label in
                # its outer halo may run into a neighbour it cannot see the marker of)
                if left is not None:  # the columns both blocks read; the seam at column.top
                    previous, first = left
                    near = _around_seam(column.above)
                    both = previous[:, column.read_top - first :][:, near]
                    _link(links, both, labels[:, near])
                if above is not None:  # the rows both bands read, over this block's columns
                    previous, first = above
                    near = _around_seam(band.above)
                    both = previous[band.read_top - first :][near, column.top : column.top +
                                                             column.rows]
                    _link(links, both, labels[near, core_cols])
                below[:, column.top : column.top + column.rows] = \
                    labels[shared - band.read_top :, core_cols]
                _keep_strips(strips, sides, labels, band, column, index == 0,
                             index + 1 == len(bands), number == 0, number + 1 == len(columns))
                core = np.ascontiguousarray(local[band.core, core_cols])
                border = np.zeros(int(local.max(initial=0)) + 1, bool)
                edges = [core[0]] if band.top == 0 else []
                if band.top + band.rows == src.height:
                    edges.append(core[-1])
                if column.top == 0:
                    edges.append(core[:, 0])
                if column.top + column.rows == src.width:
                    edges.append(core[:, -1])
                for line in edges:
                    border[line] = True
                found = instance_polygons(core, footprint, pixels, with_labels=True)
                placed = on_grid([f[1] for f in found])
                for (label, _, total, count), polygon in zip(found, placed, strict=True):
                    piece = pieces.get(label + next_id)
                    if piece is None:  # the sums are per label: count them once per block
                        pieces[label + next_id] = [[polygon], total, count, bool(border[label]),
                                                   label in marked]
                    else:
                        piece[0].append(polygon)
                next_id += int(local.max(initial=0))
                if number + 1 < len(columns):  # the columns the next block reads again
                    again = columns[number + 1].read_top
                    left = (labels[:, again - column.read_top :].copy(), again)
                bar.update()
            above = (below, shared)
    bar.close()
    placed = []
    for side, labels in strips.items():  # as the raster's own groups of labels
        unique, inverse = np.unique(labels, return_inverse=True)
        roots = np.array([links.find(int(u)) if u else 0 for u in unique.tolist()], np.int64)
        outside = sides[side][0]
        row, col = {"top": (-outside, 0), "bottom": (src.height - sides[side][1], 0),
                    "left": (0, -outside), "right": (0, src.width - sides[side][1])}[side]
        labels = roots[inverse.reshape(labels.shape)]
        line = {"top": 0, "bottom": src.height, "left": 0, "right": src.width}[side]
        placed.append((side, line, row, col,
                       labels if side in ("top", "bottom") else labels.T))
    grouped: dict[int, list] = {}
    for gid, piece in pieces.items():
        group = grouped.setdefault(links.find(gid), [[], 0.0, 0, False, False])
        group[0] += piece[0]
        group[1] += piece[1]
        group[2] += piece[2]
        group[3] |= piece[3]
        group[4] |= piece[4]
    return grouped, placed, next_id, shapely.union_all(nodata) if nodata else None


def _markers_inside(seeds, src, band, column) -> set:
    """The labels of a block's ``seeds`` (None: none) with a pixel inside ``src``."""
    if seeds is None:
        return set()
    rows = slice(max(0, -band.read_top), max(0, src.height - band.read_top))
    cols = slice(max(0, -column.read_top), max(0, src.width - column.read_top))
    return set(np.unique(seeds[rows, cols]).tolist()) - {0}


def _keep_strips(strips: dict, sides: dict, labels: np.ndarray, band, column, first_band: bool,
                 last_band: bool, first_column: bool, last_column: bool) -> None:
    """Copy a block's labels along the raster's edges (``sides``: px outside and inside
    each) into ``strips`` (rows along the edge, top/bottom; columns, left/right)."""
    cols = slice(column.top, column.top + column.rows)
    core_cols = slice(column.above, column.above + column.rows)
    if first_band and "top" in strips:
        outside, inside = sides["top"]
        strips["top"][:, cols] = labels[band.above - outside : band.above + inside, core_cols]
    if last_band and "bottom" in strips:
        outside, inside = sides["bottom"]
        edge = band.above + band.rows
        strips["bottom"][:, cols] = labels[edge - inside : edge + outside, core_cols]
    rows = slice(band.top, band.top + band.rows)
    if first_column and "left" in strips:
        outside, inside = sides["left"]
        strips["left"][:, rows] = labels[band.core, column.above - outside :
                                         column.above + inside].T
    if last_column and "right" in strips:
        outside, inside = sides["right"]
        edge = column.above + column.rows
        strips["right"][:, rows] = labels[band.core, edge - inside : edge + outside].T


def _around_seam(context: int) -> slice:
    """Within what two blocks both read (``context`` px on each side of their seam), the
    middle half around the seam."""
    half = (context + 1) // 2
    return slice(context - half, context + half)


def _link(links: _UnionFind, a: np.ndarray, b: np.ndarray) -> None:
    """Unite the labels of two blocks that are the same building over the pixels both read."""
    for x, y in _mutual_best_pairs(a, b):
        links.union(x, y)


def _unite(pieces: dict[int, list], links: _UnionFind) -> list[tuple]:
    """One polygon per linked group of pieces; parts that do not touch stay apart, sharing
    the group's score and its pixels by area. The fifth field (marked) is whether any piece
    is; those after it (the source) are the first piece's."""
    import shapely

    groups: dict[int, list] = {}
    for gid, piece in pieces.items():
        groups.setdefault(links.find(gid), []).append(piece)
    regions = []
    for members in groups.values():
        polygons = [p for m in members for p in m[0]]
        total = sum(m[1] for m in members)
        count = sum(m[2] for m in members)
        border = any(m[3] for m in members)
        extra = (any(m[4] for m in members), *members[0][5:])
        if len(polygons) == 1:
            regions.append((polygons[0], total, count, border, *extra))
            continue
        # simplify(0) drops the collinear vertices left where the seams were
        parts = list(shapely.get_parts(shapely.simplify(shapely.union_all(polygons), 0)))
        area = sum(p.area for p in parts) or 1.0
        for part in parts:
            share = part.area / area
            regions.append((part, total * share, max(1, round(count * share)), border, *extra))
    return regions


def merge_across_rasters(regions: list[tuple], paths: dict | None = None,
                         options: InstanceOptions = InstanceOptions(),
                         surfaces: dict | None = None, tolerance: float = 0.0) -> list[tuple]:
    """Unite instances of different rasters that share an edge of positive length (a building
    cut by the edge between adjacent rasters), unless that edge is a wall: most of the
    pixels along it, on either side, are boundary or contact (two houses whose party wall is
    the rasters' edge, which the watershed would have cut in one raster). ``regions``:
    (polygon, sum, count, on_border, marked, source); ``paths``: source -> raster path (without, no
    wall is looked for); instances of one raster (or one ``surfaces``: source -> adjacent
    rasters of one grid, split as one) are never joined. ``tolerance`` > 0 (rotated grids,
    :func:`~geotile.vectorize.places_edges_exactly` false): the instances are
    :func:`~geotile.coverage.edge_matched` first, as the pixel corners of one lie a
    round-off off the other's edge, which they then neither touch nor share. An instance
    not ``marked`` (a sliver the edge cut off a building, its marker past the edge or
    none: its pixels may all be wall) is what the watershed of one raster floods from the
    buildings it touches: it joins those across the edge whatever the wall test says,
    split between them where it touches several (:func:`_split_sliver`)."""
    import shapely

    from geotile.coverage import edge_matched

    surfaces = surfaces or {}
    edge = [i for i, r in enumerate(regions) if r[3]]
    if len(edge) < 2:
        return regions
    polygons = np.array([regions[i][0] for i in edge], dtype=object)
    if tolerance > 0:
        polygons = edge_matched(polygons, tolerance)
    regions = list(regions)
    matched = dict(zip(edge, polygons, strict=True))
    left, right = shapely.STRtree(polygons).query(polygons, predicate="touches")
    codes: dict = {}  # each surface (else raster) as a number
    surface = np.array([codes.setdefault(surfaces.get(regions[e][5], regions[e][5]),
                                         len(codes)) for e in edge])
    apart = (left != right) & (surface[left] != surface[right])
    left, right = left[apart], right[apart]
    shared = shapely.intersection(polygons[left], polygons[right])
    along = shapely.length(shared) > 0
    left, right, shared = left[along], right[along], shared[along]
    thin = np.array([not regions[e][4] for e in edge], bool)  # slivers: no marker
    links = _UnionFind()
    dropped, scales = set(), {}
    for i in np.unique(left[thin[left]]).tolist():
        beside = [(edge[j], line) for j, line in
                  zip(right[left == i].tolist(), shared[left == i], strict=True)]
        if len(beside) == 1:
            links.union(edge[i], beside[0][0])
            continue
        _, total, count, _, _, source = regions[edge[i]][:6]
        for part, b in _split_sliver(polygons[i], beside):
            share = part.area / polygons[i].area
            matched[len(regions)] = part
            links.union(len(regions), b)
            regions.append((part, total * share, max(1, round(count * share)), True, False,
                            source))
        dropped.add(edge[i])
    for i, j, line in zip(left.tolist(), right.tolist(), shared, strict=True):
        a, b = edge[i], edge[j]
        if a < b and not thin[i] and not thin[j] and not (paths and _is_wall(
                line, ((polygons[i], paths.get(regions[a][5])),
                       (polygons[j], paths.get(regions[b][5]))), options, scales)):
            links.union(a, b)
    groups: dict[int, list[int]] = {}
    for index in range(len(regions)):
        if index not in dropped:
            groups.setdefault(links.find(index), []).append(index)
    merged = []
    for members in groups.values():
        if len(members) == 1:
            merged.append(regions[members[0]])
            continue
        # the collinear vertices left where the seams were (a round-off off on rotated
        # grids): Douglas-Peucker within the round-off, which never cuts a corner
        union = shapely.simplify(shapely.union_all([matched[m] for m in members]), tolerance)
        merged.append((union, sum(regions[m][1] for m in members),
                       sum(regions[m][2] for m in members), True,
                       any(regions[m][4] for m in members), regions[members[0]][5]))
    return merged


def _split_sliver(sliver, beside: list[tuple]) -> list[tuple]:
    """``(part, neighbour)`` of a sliver that touches several instances across the edge
    (``beside``: (neighbour, the line they share)): cut across the edge where each shared
    line ends (a wall between two of them), each piece given to the neighbour it shares
    most of the edge with (else the nearest)."""
    import shapely
    from shapely.ops import split

    x0, y0, x1, y1 = sliver.bounds
    reach = np.hypot(x1 - x0, y1 - y0)  # the cuts cross the sliver
    cuts = []
    for _, line in beside:
        for piece in shapely.get_parts(shapely.line_merge(line)):
            xy = shapely.get_coordinates(piece)
            for end, inner in ((xy[0], xy[1]), (xy[-1], xy[-2])):
                step = end - inner
                normal = np.array([-step[1], step[0]]) / np.hypot(*step) * reach
                cuts.append(shapely.LineString([end - normal, end + normal]))
    pieces = [p for p in shapely.get_parts(split(sliver, shapely.MultiLineString(cuts)))
              if p.area > 0]
    parts: dict[int, list] = {}
    for piece in pieces:
        _, _, neighbour = max((shapely.length(shapely.intersection(piece, line)),
                               -shapely.distance(piece, line), b) for b, line in beside)
        parts.setdefault(neighbour, []).append(piece)
    return [(shapely.union_all(p), b) for b, p in parts.items()]


def _is_wall(shared, sides, options: InstanceOptions, scales: dict | None = None) -> bool:
    """Whether the pixels along ``shared`` (the edge two instances share), inside either
    instance (``sides``: (polygon, raster path)), are mostly boundary or contact.
    ``scales``: raster path -> its :func:`instance_scale`, filled as they are found (each
    is a scan of the raster: 26 ms for a 1000 px tile, once per edge before)."""

    from geotile.crs_names import pixel_sides
    from geotile.raster import open_raster
    from geotile.raster_kinds import binary_mask_kind, raster_kind

    for polygon, path in sides:
        if path is None:
            return False
        with open_raster(path) as src:
            roles = band_roles(src, required=True)
            walls = [roles[r] for r in ("boundary", "contact") if r in roles]
            if not walls:
                return False
            points = _pixels_along(shared, polygon, min(pixel_sides(src.transform)))
            if not len(points):
                continue
            values = np.array(list(src.sample(points, indexes=walls)), np.float32)
            scales = {} if scales is None else scales
            if path not in scales:
                scales[path] = instance_scale(src, binary_mask_kind(src, raster_kind(src)))
            values /= np.float32(scales[path])
            limits = np.array([options.boundary_threshold if roles.get("boundary") == band
                               else options.contact_threshold for band in walls], np.float32)
            if np.mean((values >= limits).any(axis=1)) >= 0.5:
                return True
    return False


def _pixels_along(shared, polygon, cell: float) -> list[tuple[float, float]]:
    """Centres of the pixels of ``polygon`` that touch the line(s) ``shared``: the middle of
    each pixel-long piece, moved half a pixel into the polygon."""
    import shapely

    pieces = shapely.get_parts(shapely.line_merge(shapely.segmentize(shared, cell)))
    points = []
    for piece in pieces:
        xy = shapely.get_coordinates(piece)
        if len(xy) < 2:
            continue
        middle = (xy[1:] + xy[:-1]) / 2
        step = xy[1:] - xy[:-1]
        length = np.hypot(step[:, 0], step[:, 1])
        keep = length > 0
        normal = np.column_stack([-step[keep, 1], step[keep, 0]]) / length[keep, None]
        for sign in (1, -1):
            moved = middle[keep] + sign * normal * cell / 2
            inside = shapely.contains_xy(polygon, moved[:, 0], moved[:, 1])
            points += [tuple(p) for p in moved[inside]]
    return points


def _raster_regions(job: tuple):
    """:func:`_raster_pieces` of one raster, read with its neighbours."""
    from geotile.raster import open_raster

    path, threshold, options, neighbours, place, collar = job
    with open_raster(path) as src:
        return _raster_pieces(src, threshold=threshold, options=options, neighbours=neighbours,
                              place=place, collar=collar)


def _surfaces(paths: list[Path], halo: int) -> tuple[list[int], list[tuple], list[list],
                                                   list]:
    """Rasters on one pixel grid (:func:`geotile.grid.grid_places`) form a surface:
    ``(surface of each raster, (col, row) of each on its surface's grid, neighbours of
    each: the rasters within ``halo`` px, as :class:`_Neighbour` (those of other surfaces
    with their transforms), the transform of each one's surface)``."""
    from geotile.grid import grid_places
    from geotile.raster import open_raster

    transforms, sizes = [], []
    for path in paths:
        with open_raster(path) as src:
            transforms.append(src.transform)
            sizes.append((src.width, src.height))
    found = grid_places(transforms)
    surface = [grid for grid, _, _ in found]
    places = [(col, row) for _, col, row in found]
    c, r = np.array(places, np.int64).reshape(-1, 2).T
    w, h = np.array(sizes, np.int64).reshape(-1, 2).T
    group = np.array(surface)
    neighbours = []
    for i in range(len(paths)):
        near = ((group == group[i]) & (c < c[i] + w[i] + halo) & (c + w > c[i] - halo)
                & (r < r[i] + h[i] + halo) & (r + h > r[i] - halo))
        near[i] = False
        neighbours.append([_Neighbour(paths[j], int(c[j] - c[i]), int(r[j] - r[i]), int(w[j]),
                                      int(h[j])) for j in np.flatnonzero(near).tolist()])
    if len(set(surface)) > 1:
        _add_off_grid(neighbours, surface, transforms, sizes, paths, halo)
    return surface, places, neighbours, [transforms[g] for g in surface]


def _add_off_grid(neighbours: list[list], surface: list[int], transforms: list, sizes: list,
                  paths: list, halo: int) -> None:
    """Add to each raster's ``neighbours`` the rasters of other surfaces within ``halo`` px
    of it, each as the box of its corners in the raster's pixels (and its transform); a
    warning for two less than a pixel apart (not touching: no building is joined across)."""
    import shapely

    from geotile.user_warnings import warn

    corners = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float64)
    boxes = []
    for t, (w, h) in zip(transforms, sizes, strict=True):
        x, y = apply(t, corners[:, 0] * w, corners[:, 1] * h)
        boxes.append(shapely.Polygon(np.column_stack([x, y])))
    tree = shapely.STRtree(boxes)
    for i, (t, (w, h)) in enumerate(zip(transforms, sizes, strict=True)):
        back = ~t
        pixel = abs(t.a * t.e - t.b * t.d) ** 0.5
        for j in tree.query(boxes[i], predicate="dwithin", distance=pixel).tolist():
            gap = shapely.distance(boxes[i], boxes[j]) / pixel
            facing = shapely.length(shapely.intersection(
                boxes[i].boundary, shapely.buffer(boxes[j], pixel))) / pixel
            if i < j and gap > 1e-3 and facing > 4:  # a round-off apart, or corners: none
                warn(f"{paths[i]} and {paths[j]} lie {gap:.2g} px apart: a building across "
                     "the gap comes as two polygons (their origins are not on one pixel "
                     "grid: rounded georeferencing?). Mosaic them first (gdalbuildvrt "
                     "mosaic.vrt FILES) and vectorize the VRT, or give tiles georeferenced "
                     "exactly.")
        reach = shapely.Polygon(np.column_stack(apply(
            t, corners[:, 0] * (w + 2 * halo) - halo, corners[:, 1] * (h + 2 * halo) - halo)))
        for j in tree.query(reach, predicate="intersects").tolist():
            if surface[j] == surface[i]:
                continue
            col, row = apply(back, *shapely.get_coordinates(boxes[j]).T)
            c0, r0 = int(np.floor(col.min())), int(np.floor(row.min()))
            neighbours[i].append(_Neighbour(paths[j], c0, r0, int(np.ceil(col.max())) - c0,
                                            int(np.ceil(row.max())) - r0, transforms[j]))


def _link_strips(links: _UnionFind, strips: list[tuple]) -> None:
    """Unite the labels two adjacent rasters give the pixels along their shared edge:
    ``strips`` of (side, line, row, col, labels) on one grid, labels numbered apart."""
    ends = {}
    for side, line, row, col, labels in strips:
        if side in ("bottom", "right"):
            ends.setdefault((side, line), []).append((row, col, labels))
    for side, line, row, col, labels in strips:
        if side not in ("top", "left"):
            continue
        for other_row, other_col, other in ends.get(
                ("bottom" if side == "top" else "right", line), []):
            r0, c0 = max(row, other_row), max(col, other_col)
            r1 = min(row + labels.shape[0], other_row + other.shape[0])
            c1 = min(col + labels.shape[1], other_col + other.shape[1])
            if r0 < r1 and c0 < c1:
                _link(links, labels[r0 - row:r1 - row, c0 - col:c1 - col],
                      other[r0 - other_row:r1 - other_row, c0 - other_col:c1 - other_col])


def instance_frame(paths: Sequence[str | os.PathLike], *, threshold: float | None = None,
                   options: InstanceOptions = InstanceOptions(), progress: bool = False,
                   workers: int | None = None, collar: bool = False):
    """A GeoDataFrame (raster CRS) of the building instances of the rasters (by blocks):
    class_id, class, score, source; one row per building. Adjacent rasters on one pixel grid
    are split as one raster (each read with its neighbours' pixels as context, labels
    paired along their edges); rasters on other grids read their neighbours' pixels as
    context too (nearest), and buildings crossing their edges are united where they share
    an edge (:func:`merge_across_rasters`). Several rasters are split in worker processes where
    there are several CPUs (:mod:`geotile.band_workers`; ``workers`` caps them, 1: none).
    ``attrs``: cell, exact, centre, and the rasters' surface (``extent``) and valid surface
    (``valid``: less their nodata pixels, read only with ``collar``; a nodata 0 that is a
    mask's background is none), where
    :func:`finish_frame` ends squared buildings."""
    from geotile.band_workers import run_jobs
    from geotile.crs_names import crs_labels, pixel_size
    from geotile.input_paths import in_name_order, input_path
    from geotile.no_georef import map_crs
    from geotile.output_crs import raster_centre
    from geotile.progress import progress_bar
    from geotile.raster import open_raster
    from geotile.raster_kinds import zero_nodata
    from geotile.vector_output import text_columns
    from geotile.vectorize import places_edges_exactly, raster_footprints, raster_transforms

    # in name order: the rows and their sources do not depend on the order given; GDAL
    # virtual and remote paths as given (a Path collapses /vsizip//tmp and https://)
    paths = in_name_order([p if isinstance(p, str) else Path(p) for p in paths])
    crs, cell, exact, shapes, collars = None, 1.0, True, [], []
    for number, path in enumerate(paths):
        with open_raster(path) as src:
            check_instance_raster(src)
            shapes.append(src.shape)
            # a nodata 0 that is a mask's background (-a_nodata 0) is no collar to end at
            collars.append(collar and not ((zero := zero_nodata(src)) and zero.background))
            exact &= places_edges_exactly(src.transform)
            if number == 0:
                crs, cell = map_crs(src), pixel_size(src.transform)
            elif not one_crs(map_crs(src), crs):  # heights aside, spelled either way
                mine, first = crs_labels(map_crs(src), crs)
                raise InputError(f"{path}: CRS {mine} differs from the first raster's "
                                 f"({first}). Reproject it with gdalwarp first.")
    surface, places, neighbours, grids = _surfaces(paths, options.halo)
    pieces: dict[int, list] = {}
    strips: dict[int, list] = {}
    nodata = [None] * len(paths)  # each raster's nodata pixels (a polygon; None: none)
    base = 0
    with run_jobs(_raster_regions, [(p, threshold, options, tuple(n), (g, *at), c)
                                    for p, n, g, at, c in zip(paths, neighbours, grids, places,
                                                              collars, strict=True)],
                  workers) as results:
        from geotile.output_folder import signals_deferred

        with signals_deferred():  # imported while the workers split, signals held (a Cython
            import geopandas as gpd  # module's set-up swallows a Ctrl-C raised in it)

        for number, (found, edges, used, nodata[number]) in enumerate(
                progress_bar(results, progress, total=len(paths), unit="raster")):
            for label, piece in found.items():  # keyed by the raster's index, not its name
                pieces[base + label] = [*piece, number]
            col, row = places[number]
            strips.setdefault(surface[number], []).extend(
                (side, line + (row if side in ("top", "bottom") else col), r + row, c + col,
                 np.where(labels > 0, labels + base, 0))
                for side, line, r, c, labels in edges)
            base += used
    links = _UnionFind()
    for found in strips.values():
        _link_strips(links, found)
    regions = _unite(pieces, links)
    if len(set(surface)) > 1:
        regions = merge_across_rasters(regions, dict(enumerate(paths)), options,
                                       dict(enumerate(surface)), 0 if exact else cell * 1e-3)
    frame = gpd.GeoDataFrame(
        {"class_id": np.ones(len(regions), np.int64), "class": ["building"] * len(regions),
         "score": [round(r[1] / r[2], 4) if r[2] else None for r in regions],
         "source": [input_path(paths[r[5]]).name for r in regions]},
        geometry=[r[0] for r in regions], crs=crs)
    frame = text_columns(frame)
    frame.attrs["cell"] = cell
    frame.attrs["exact"] = exact  # T-junction vertices exactly on the edges (not rotated)
    frame.attrs["centre"] = raster_centre(paths[0]) if paths else None
    # the rasters' surface and, less their nodata, their valid one: --regularize's squared
    # houses end there (88-105 px2 past the edge, 113-155 past a collar, before)
    import shapely

    surfaces = raster_footprints([(g, col, row) for g, (col, row) in zip(grids, places,
                                                                        strict=True)], shapes)
    frame.attrs["extent"] = shapely.union_all(surfaces)
    frame.attrs["valid"] = shapely.union_all(
        [s if n is None else s.difference(n) for s, n in zip(surfaces, nodata, strict=True)])
    frame.attrs["transforms"] = raster_transforms(paths)
    return frame


def vectorize_instances(
    paths: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    *,
    options=None,
    instance_options: InstanceOptions = InstanceOptions(),
    overwrite: bool = False,
    progress: bool = False,
) -> dict:
    """``vectorize_polygons`` with one polygon per building instance (marker watershed).

    ``options`` is a :class:`geotile.vectorize.VectorizeOptions` (threshold, cleaning, CRS).
    Rasters are processed by row bands (seams joined); polygons keep score (mean footprint
    probability) and area_m2. Returns a summary (output, features, per-class counts).
    """
    from geotile.output_crs import (
        check_missing_crs,
        check_output_crs,
        output_crs,
        parse_crs,
        warn_inexact_datum,
    )
    from geotile.vector_output import check_not_an_input, check_vector_output, write_vector
    from geotile.vectorize import VectorizeOptions, kept_class_ids, summary
    from geotile.vectorize_inputs import check_inputs

    options = options or VectorizeOptions()
    output = Path(output)
    writer = check_vector_output(output, overwrite)  # a Shapefile's parts, any case
    parse_crs(options.crs)
    paths, crs = check_inputs(paths)  # one CRS, no raster twice, none overlapping
    check_not_an_input(output, writer, paths)
    check_missing_crs(paths, crs, options.crs, writer)
    check_output_crs(output, writer, options.crs, crs)
    keep = kept_class_ids(options, INSTANCE_CLASSES, paths[0])  # its one class: building
    frame = instance_frame(paths, threshold=options.threshold, options=instance_options,
                           progress=progress, workers=options.workers,
                           collar=options.regularize)
    if keep is not None and 1 not in keep:
        frame = frame.iloc[:0]
    if len(frame):
        warn_inexact_datum(paths[0], crs, output_crs(options.crs, writer, crs))
    frame = finish_frame(frame, options, frame.attrs.get("cell", 1.0), writer)
    write_vector(frame, output, writer, overwrite, rasters=paths, geometry_type="Polygon")
    log.info("%s: %d building instances from %s", output, len(frame),
             ", ".join(Path(p).name for p in paths))
    return summary(output, frame, {"building": len(frame)} if len(frame) else {}, paths)


def finish_frame(frame, options, cell: float = 1.0, writer: str | None = None):
    """Clean (in metres: holes, min area, simplify, regularise, area_m2) and reproject as
    the plain vectorizer does (:func:`~geotile.output_crs.output_crs`: ``options.crs``, else
    EPSG:4326 for a GeoJSON ``writer``, else the raster's CRS). ``cell`` is the pixel size
    in the frame's CRS units (the regularisation grid)."""
    from rasterio.crs import CRS

    from geotile.ground_scale import cell_in_metres, metric_crs
    from geotile.output_crs import (
        densified_to_crs,
        moved_rows,
        on_pixel_corners,
        output_crs,
        to_output_crs,
    )
    from geotile.vectorize import clean, orient_rings, valid_in

    crs = CRS.from_user_input(frame.crs) if frame.crs is not None else None
    centre = frame.attrs.get("centre")
    transforms = frame.attrs.get("transforms", [])
    # the rasters' surface and valid surface (instance_frame's): squared houses end there
    exact, extent, valid = (frame.attrs.get(k, d) for k, d in
                            (("exact", True), ("extent", None), ("valid", None)))
    if len(frame) and crs is None:  # the raster's own units (rotated too: not exact)
        frame = clean(frame, options, cell, exact=exact, extent=extent, valid=valid,
                      rotated=not exact)
    elif len(frame):
        metric = metric_crs(crs, frame)
        here = metric == crs and exact
        frame = clean(densified_to_crs(frame, metric), options,
                      cell_in_metres(metric, crs, cell, frame), exact=here,
                      extent=extent if here else None,
                      valid=valid if here or valid is None else valid_in(valid, crs, metric,
                                                                          cell),
                      rotated=not exact)
    else:
        frame["area_m2"] = np.array([], np.float64)
    target = output_crs(options.crs, writer, crs)
    cleaned = np.array(frame.geometry.values, dtype=object)  # a copy: the objects it held
    frame = to_output_crs(frame, target, centre)
    moved = moved_rows(cleaned, frame)  # none of a UTM raster's: cleaned in its CRS
    if moved.any() and one_crs(frame.crs, crs, ellipsoid_only=True):  # from the metric CRS:
        frame = on_pixel_corners(frame, transforms, moved)  # pixel corners
    frame = frame.set_geometry(orient_rings(frame.geometry.values), crs=frame.crs)
    frame.attrs = {}  # ours (cell, exact, centre, transforms): GeoParquet writes attrs as JSON
    return frame.reset_index(drop=True)
