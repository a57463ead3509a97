"""Rasterize vector labels into masks on exactly the grid of an image.

Channels (one uint8 band each):

- ``footprint``: 0 background, 1..N class ids (binary: 1). A pixel is burnt
  when its centre lies inside a polygon, or, with ``all_touched``, when the
  polygon touches it (GDAL's rasterize semantics). Where polygons overlap the
  later row of the labels file wins.
- ``boundary``: 1 on a band of ``2 * r`` px centred on every outline, with
  ``r = max(1, boundary_width // 2)``: a pixel is boundary when its
  (2r+1) x (2r+1) neighbourhood holds two different buildings, or a building
  and background. Outlines between touching buildings are included.
- ``contact``: 1 on background pixels that have two different buildings
  within ``contact_spacing / 2`` px (a disc): the middle of every gap
  narrower than ``contact_spacing`` between two buildings, as the intersection
  of footprints buffered by half the spacing (the contact channel of the
  SpaceNet winners and solaris, used to separate touching buildings).

Rasters are processed in row bands with a halo wide enough for the
neighbourhood operations, so band seams are exact and memory stays bounded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, partial
from itertools import pairwise
from pathlib import Path

import numpy as np

from geotile.affine_math import apply, chain, window_transform
from geotile.crs_identity import one_crs
from geotile.errors import GeotileWarning, InputError, check_range, check_whole
from geotile.gc_pause import gc_paused
from geotile.gdal_settings import with_read_settings
from geotile.no_georef import copy_georeferencing
from geotile.plurals import counted
from geotile.quiet_warnings import hidden, is_valid, quietly
from geotile.resume import REPLACE, SKIP, completed_as
from geotile.resume import TAG as COMPLETE_TAG
from geotile.resume import digest as resume_digest
from geotile.resume import plan as resume_plan
from geotile.streaming import BackgroundWriter, row_blocks
from geotile.user_warnings import warn

log = logging.getLogger("geotile")

CHANNELS = ("footprint", "boundary", "contact")
#: rows per band: two rows of the masks' 512 px blocks, so that each band is compressed (in
#: the writer thread) while the next one is burnt and little is left to compress at the end
MASK_BAND_ROWS = 1024
#: ends of burnt lines (--line-cap)
LINE_CAPS = ("round", "flat")
#: mask value (declared as nodata) where the image is nodata: training losses ignore it
IGNORE = 255
#: pixels past the window being burnt that a geometry may reach before it is cut there
#: (:func:`clip_far`): GDAL's burn overflows past 2**31 px (a polygon reaching 1e12 px burnt
#: 18 of its 162 pixels, exit 0) and, all touched, walks a far edge pixel by pixel (1e8 px:
#: 5 s; 2**18 px: 13 ms). Far past any band of a real image: those are burnt as they were
CLIP_MARGIN = 2**18


@dataclass(frozen=True)
class MaskOptions:
    """How labels become mask bands."""

    channels: tuple[str, ...] = ("footprint",)
    all_touched: bool = False
    boundary_width: int = 3
    contact_spacing: int = 10
    #: metres: LineString labels (roads) are buffered by half of it (:func:`buffer_lines`)
    line_width: float | None = None
    line_cap: str = "round"
    #: rows per band (memory: a band of the image's width, with the halo)
    band_rows: int = MASK_BAND_ROWS

    def __post_init__(self) -> None:
        if isinstance(self.channels, str):  # one channel, not its letters
            object.__setattr__(self, "channels", (self.channels,))
        object.__setattr__(self, "channels", tuple(self.channels))
        unknown = [c for c in self.channels if c not in CHANNELS]
        if unknown or not self.channels:
            raise InputError(
                f"unknown channel {unknown[0] if unknown else ''!r}: "
                f"choose from {', '.join(CHANNELS)}"
            )
        twice = next((c for c in self.channels if self.channels.count(c) > 1), None)
        if twice is not None:
            raise InputError(f"--channels names {twice} twice; name each band once "
                             "(footprint[,boundary[,contact]]).")
        check_whole(self, "boundary_width", "--boundary-width", 1)
        check_whole(self, "contact_spacing", "--contact-spacing", 1)
        check_range("--line-width", self.line_width, 0, low_open=True)
        check_whole(self, "band_rows", "band_rows", 1)
        if self.line_cap not in LINE_CAPS:
            raise InputError(f"--line-cap {self.line_cap!r}: choose {' or '.join(LINE_CAPS)}.")

    @property
    def counted(self) -> int:
        """The band whose positive pixels a summary counts: the footprint, else the first."""
        return self.channels.index("footprint") if "footprint" in self.channels else 0

    @property
    def halo(self) -> int:
        """Rows of context a band needs above and below for exact neighbourhoods."""
        halo = 0
        if "boundary" in self.channels:
            halo = max(halo, self.boundary_width // 2 + 1)
        if "contact" in self.channels:
            halo = max(halo, math.ceil(self.contact_spacing / 2) + 1)
        return halo


def rasterize_labels(
    geometries: Sequence,
    classes: Sequence[int],
    shape: tuple[int, int],
    transform,
    options: MaskOptions = MaskOptions(),
    halo_transform=None,
    crs=None,
    *,
    grid_transform=None,
    ignore_ok: bool = False,
) -> np.ndarray:
    """Burn polygons (already in the raster's CRS) into ``(len(channels), rows, cols)`` uint8.

    ``classes``: one id 0..254 per geometry (0 clears what lies under it; 255 is the masks'
    ignore value); missing (None) geometries are skipped. ``halo_transform``: the grid
    grown by ``options.halo`` px each side, on which boundary and contact see the labels
    beyond the grid's edges. ``grid_transform``: the whole raster's transform when
    ``transform`` (and ``halo_transform``) are windows of it: the coordinates go to its pixels
    as GDAL takes them and each window is burnt by whole pixels from there, as GDAL burns a
    raster in chunks of rows, so that a band burns exactly what the whole raster burns, ties
    on pixel centres included (north-up and south-up grids). Lines are buffered
    ``options.line_width`` wide (:func:`buffer_lines`): in metres with ``crs`` (the
    raster's), else in the transform's units. ``ignore_ok``: a class id may be ``IGNORE``
    (255: a region to ignore, COCO's crowd), burnt as such in every band where it lies on
    top (features of it are background to boundary and contact).
    """
    from geotile.quiet_warnings import rasterize

    crs = getattr(geometries, "crs", None) if crs is None else crs  # a GeoDataFrame's
    geometries, classes = _present(geometries, classes, ignore_ok)
    if options.line_width is not None:
        geometries = _buffered_lines(geometries, transform, options, crs)
    height, width = _grid_shape(shape)
    bands = np.zeros((len(options.channels), height, width), np.uint8)
    if len(geometries) == 0 or height == 0 or width == 0:
        return bands
    from affine import Affine

    halo = 0 if halo_transform is None else options.halo
    halo_transform = halo_transform or chain(transform, Affine.translation(-halo, -halo))
    # the footprint's window lies inside the halo's
    geometries, classes = clip_far(geometries, classes, halo_transform,
                                   height + 2 * halo, width + 2 * halo, CLIP_MARGIN)
    if len(geometries) == 0:
        return bands
    to_pixels, (transform, halo_transform) = pixel_windows(
        grid_transform or transform, transform, halo_transform)
    with gc_paused():
        geometries = geojson_dicts(geometries, parts := [], to_pixels)
    ignored = IGNORE in classes
    if "footprint" in options.channels or ignored:
        footprint = (bands[options.channels.index("footprint")]
                     if "footprint" in options.channels else np.zeros_like(bands[0]))
        with gc_paused():  # rasterio's dicts of each polygon too, none in a cycle
            shapes = burn_shapes(geometries, classes, parts)
            rasterize(shapes, out=footprint, transform=transform,
                      all_touched=options.all_touched)
    if "boundary" in options.channels or "contact" in options.channels:
        # a feature of class 0 (its value names background) clears what lies under it, as
        # one to ignore does
        numbers = [i if c and c != IGNORE else 0 for i, c in enumerate(classes, start=1)]
        with gc_paused():
            shapes = burn_shapes(geometries, numbers, parts)
            instances = rasterize(
                shapes,
                out_shape=(height + 2 * halo, width + 2 * halo),
                transform=halo_transform,
                all_touched=options.all_touched,
                fill=0,
                dtype="int32",
            )
        inner = (slice(halo, halo + height), slice(halo, halo + width))
        if "boundary" in options.channels:
            bands[options.channels.index("boundary")] = boundary_band(
                instances, options.boundary_width
            )[inner]
        if "contact" in options.channels:
            bands[options.channels.index("contact")] = contact_band(
                instances, options.contact_spacing
            )[inner]
    if ignored:  # where a region to ignore lies on top, every band ignores it
        bands[:, footprint == IGNORE] = IGNORE
    return bands


def _buffered_lines(geometries: np.ndarray, transform, options: MaskOptions, crs) -> np.ndarray:
    """:func:`rasterize_labels`' geometries with their lines buffered (:func:`buffer_lines`);
    without ``crs``, pixels too small for metres (degrees) are an InputError."""
    from geotile.label_set import Labels, parse_crs

    if not line_parts(geometries)[2].any():
        return geometries
    if crs is None and abs(transform[0]) < 1e-3:
        raise InputError(f"rasterize_labels: pixels {abs(transform[0]):g} wide look like degrees; "
                         "pass crs= (the raster's CRS) to buffer lines line_width metres wide.")
    labels = Labels(geometries, crs=None if crs is None else parse_crs(crs, "crs"))
    return buffer_lines(labels, crs, "rasterize_labels", options.line_width,
                        options.line_cap).geometries


def _grid_shape(shape) -> tuple[int, int]:
    """``shape`` as (rows, cols) ints (200.0 is 200); InputError in one line otherwise."""
    import numbers

    if not (np.ndim(shape) == 1 and len(shape) == 2 and all(
            isinstance(n, numbers.Real) and not isinstance(n, bool) and float(n).is_integer()
            and n >= 0 for n in shape)):
        raise InputError(f"rasterize_labels: shape {shape!r}: give (rows, cols) of the grid, "
                         "whole numbers >= 0.")
    return int(shape[0]), int(shape[1])


def _present(geometries, classes, ignore_ok: bool = False) -> tuple[np.ndarray, list[int]]:
    """The geometries that are not missing (None) and their class ids, checked: one per
    geometry, whole numbers 0..254 (and ``IGNORE`` with ``ignore_ok``; InputError
    otherwise)."""
    import shapely

    from geotile.label_set import geometry_array
    from geotile.labels import MAX_CLASS_ID

    array = geometry_array(geometries, "rasterize_labels: the geometries")
    ids = np.asarray(list(classes))
    if ids.shape != array.shape:
        raise InputError(f"rasterize_labels: {ids.size} class ids for {array.size} geometries; "
                         "give one class id per geometry.")
    if ids.dtype.kind == "b":
        ids = ids.astype(np.uint8)
    wrong = (~np.isfinite(ids) | (ids != np.round(ids)) | (ids < 0) | (ids > MAX_CLASS_ID)
             if ids.dtype.kind in "iuf" else np.ones(ids.shape, bool))
    if ignore_ok and ids.dtype.kind in "iuf":
        wrong &= ids != IGNORE
    if wrong.any():
        raise InputError(
            f"rasterize_labels: class id {ids[wrong][0]!s} is outside 0..{MAX_CLASS_ID} (whole "
            "numbers; 0 is background, 255 the ignore value that training and evaluate skip). "
            "Map the classes to ids 1..254 first."
        )
    present = ~shapely.is_missing(array)
    return array[present], ids[present].astype(np.int64).tolist()


def clip_far(geometries: np.ndarray, classes: list[int], transform, height: int, width: int,
             margin: int) -> tuple[np.ndarray, list[int]]:
    """``geometries`` (and their ``classes``) with those reaching more than ``margin`` px past
    the window of ``height`` x ``width`` px at ``transform`` cut to it grown by ``margin`` px
    (:func:`shapely.clip_by_rect`; those it leaves empty left out; self-crossing polygons
    repaired first): GDAL burns the same pixels of the window, by pixel centre and all
    touched, without overflowing past 2**31 px (a pixel centre exactly on a cut edge aside:
    the cut end is rounded). The others are untouched, found by their bounds all at once."""
    import shapely

    xs, ys = apply(transform, np.array([-margin, width + margin] * 2, float),
                   np.array([-margin] * 2 + [height + margin] * 2, float))
    box = (min(xs), min(ys), max(xs), max(ys))
    bounds = shapely.bounds(geometries)  # NaN for empty ones: never far
    far = np.flatnonzero((bounds[:, 0] < box[0]) | (bounds[:, 1] < box[1])
                         | (bounds[:, 2] > box[2]) | (bounds[:, 3] > box[3]))
    if not len(far):
        return geometries, classes
    from geotile.polygon_repair import repair_polygons

    cut = geometries[far]
    # GEOS cuts a self-crossing ring as no fill rule: repaired first, as GDAL burns it
    broken = np.isin(shapely.get_type_id(cut), [3, 6]) & ~is_valid(cut)
    if broken.any():
        cut[broken] = repair_polygons(cut[broken], np.zeros(int(broken.sum()), bool))
    geometries = geometries.copy()
    geometries[far] = shapely.clip_by_rect(cut, *box)
    kept = ~shapely.is_empty(geometries)
    if kept.all():
        return geometries, classes
    return geometries[kept], np.asarray(classes)[kept].tolist()


def pixel_windows(grid, *windows) -> tuple:
    """(GDAL's inverse of ``grid``, each window transform of it as a whole-pixel translation)
    for a north-up or south-up ``grid``: coordinates taken to the grid's pixels by that
    inverse, in GDAL's own arithmetic, then burnt with those translations give what GDAL
    gives for the whole grid, window by window; (None, ``windows``) for a rotated grid.

    GDAL turns each ring clockwise in the coordinates it is given and breaks ties on pixel
    centres by that direction: on a grid whose rows run against its y axis (north-up) the
    pixel rows are given negated (exactly), so the rings turn as they do in map coordinates.
    """
    from affine import Affine

    a, b, c, d, e, f = grid[:6]
    if b or d or not a or not e:
        return None, windows
    flip = -1.0 if a * e < 0 else 1.0
    inverse = Affine(1.0 / a, 0.0, -c / a, 0.0, flip * (1.0 / e), flip * (-f / e))
    return inverse, tuple(Affine(1.0, 0.0, round((w.c - c) / a), 0.0, flip,
                                 flip * round((w.f - f) / e)) for w in windows)


def geojson_dicts(geometries: Sequence, parts: list | None = None, to_pixels=None
                  ) -> list[dict]:
    """Shapely geometries as GeoJSON-like dicts, with exactly their coordinates (taken
    through ``to_pixels``, an inverse from :func:`pixel_windows`, when given).

    rasterio's rasterize takes dicts 3x faster than shapely objects (whose
    ``__geo_interface__`` builds them in Python). Polygons and MultiPolygons are cut from
    one coordinate array; other geometries (and any with z) go through GEOS's GeoJSON writer.
    ``parts``: a list that receives, for Polygons and MultiPolygons, the list of all their
    polygons' coordinates, where each geometry's polygons start in it (then the end) and
    which geometries are MultiPolygons, for :func:`burn_shapes`.
    """
    import shapely

    array = np.empty(len(geometries), dtype=object)
    array[:] = list(geometries)
    kinds = shapely.get_type_id(array)
    if len(array) and np.isin(kinds, [3, 6]).all() and not shapely.has_z(array).any():
        return _polygon_dicts(array, kinds == 6, parts, to_pixels)
    if to_pixels is not None:
        array = shapely.transform(array, lambda xy: _apply(to_pixels, xy))
    return json.loads("[" + ",".join(shapely.to_geojson(array)) + "]")


def _apply(inverse, xy: np.ndarray) -> np.ndarray:
    """``xy`` through ``inverse`` as GDAL applies a geotransform (GDALApplyGeoTransform's
    order of operations, so the same doubles)."""
    x, y = xy[:, 0], xy[:, 1]
    return np.column_stack((inverse.c + x * inverse.a + y * inverse.b,
                            inverse.f + x * inverse.d + y * inverse.e))


def burn_shapes(dicts: list[dict], values: Sequence[int], parts: list) -> list[tuple]:
    """(shape, value) pairs for rasterio's rasterize, burning exactly what ``zip(dicts,
    values)`` burns: each run of consecutive non-empty Polygons of one value is passed as one
    MultiPolygon, which rasterize splits back into those polygons, in order, each burnt on
    its own (rasterio#1253), after checking the shape once instead of each polygon (10k
    footprints of one class: 1 shape, ~15 % of the burn's time less). ``parts``: what
    :func:`geojson_dicts` gave (empty when it did not cut the dicts from one array: then the
    pairs are ``zip(dicts, values)``)."""
    if not parts or len(dicts) < 2:
        return list(zip(dicts, values, strict=True))
    polygons, starts, multi = parts
    ids = np.asarray(values)
    # a Polygon with an exterior ring: rasterize's check of a Polygon (>= 4 points, each
    # x, y; GEOS's non-empty rings have them) holds for it
    single = ~multi
    single[single] = np.fromiter((len(polygons[i]) > 0 for i in starts[:-1][single].tolist()),
                                 dtype=bool, count=int(np.count_nonzero(single)))
    joins = single[1:] & single[:-1] & (ids[1:] == ids[:-1])  # i + 1 continues i's run
    if not joins.any():
        return list(zip(dicts, values, strict=True))
    firsts = np.flatnonzero(np.concatenate(([True], ~joins))).tolist()
    values = ids.tolist()
    shapes = []
    for first, end in zip(firsts, [*firsts[1:], len(dicts)], strict=True):
        if end - first == 1:
            shapes.append((dicts[first], values[first]))
        else:
            shapes.append(({"type": "MultiPolygon",
                            "coordinates": polygons[starts[first]:starts[end]]},
                           values[first]))
    return shapes


def _polygon_dicts(array: np.ndarray, multi: np.ndarray, parts: list | None = None,
                   to_pixels=None) -> list[dict]:
    """GeoJSON-like dicts of Polygons and MultiPolygons (``multi``), points as (x, y)
    tuples: rings are slices of one point list, polygons slices of one ring list
    (``parts``, ``to_pixels``: see :func:`geojson_dicts`)."""
    import shapely

    polygons, owners = (shapely.get_parts(array, return_index=True) if multi.any()
                        else (array, np.arange(len(array))))
    rings, ring_owners = shapely.get_rings(polygons, return_index=True)
    xy = shapely.get_coordinates(rings)
    if to_pixels is not None:
        xy = _apply(to_pixels, xy)
    points = list(zip(xy[:, 0].tolist(), xy[:, 1].tolist(), strict=True))
    ring_ends = np.cumsum(shapely.get_num_coordinates(rings)).tolist()
    ring_list = [points[start:end] for start, end in pairwise([0, *ring_ends])]
    polygon_list = [ring_list[first:last]
                    for first, last in pairwise(_group_starts(ring_owners, len(polygons)))]
    starts = _group_starts(owners, len(array))
    if parts is not None:
        parts[:] = [polygon_list, np.asarray(starts), multi]
    return [{"type": "MultiPolygon", "coordinates": polygon_list[first:last]} if many
            else {"type": "Polygon", "coordinates": polygon_list[first]}
            for many, (first, last) in zip(multi.tolist(), pairwise(starts), strict=True)]


def _group_starts(owners: np.ndarray, count: int) -> list[int]:
    """Where each of ``count`` owners' items starts in ``owners`` (sorted), then the end."""
    return np.searchsorted(owners, np.arange(count + 1)).tolist()


def boundary_band(instances: np.ndarray, width: int) -> np.ndarray:
    """1 where a (2r+1)-square neighbourhood holds two different instance ids (0 included)."""
    from scipy import ndimage

    size = 2 * max(1, width // 2) + 1
    high = ndimage.maximum_filter(instances, size=size, mode="nearest")
    low = ndimage.minimum_filter(instances, size=size, mode="nearest")
    return (high != low).astype(np.uint8)


def contact_band(instances: np.ndarray, spacing: int) -> np.ndarray:
    """1 on background pixels with two different buildings within ``spacing / 2`` px."""
    top = disc_maximum(instances, spacing / 2, 0)
    # smallest positive id in reach: negate so that 0 (background) never wins the max
    none = np.iinfo(np.int32).min
    lowest = -disc_maximum(np.where(instances > 0, -instances, none), spacing / 2, none)
    touching = (top > 0) & (lowest > 0) & (top != lowest)
    return (touching & (instances == 0)).astype(np.uint8)


def disc_maximum(values: np.ndarray, radius: float, outside) -> np.ndarray:
    """The maximum of ``values`` over a disc of ``radius`` px round each pixel (offsets
    dx*dx + dy*dy <= radius*radius; ``outside`` beyond the array), as scipy's
    maximum_filter with that disc as footprint, 4x faster at radius 5: the disc is rows of
    offsets, each row a 1-D maximum (O(1) per pixel whatever its length) shifted by its dy."""
    from scipy import ndimage

    reach = max(1, math.ceil(radius))
    height, width = values.shape
    padded = np.pad(values, reach, mode="constant", constant_values=outside)
    rows_of: dict[int, list[int]] = {}  # half-length of a row of the disc -> its dys
    for dy in range(-reach, reach + 1):
        if (room := radius * radius + 1e-9 - dy * dy) >= 0:
            rows_of.setdefault(math.isqrt(math.floor(room)), []).append(dy)
    out = None
    for half, dys in rows_of.items():  # one row maximum in memory at a time
        along = ndimage.maximum_filter1d(padded, 2 * half + 1, axis=1, mode="constant",
                                         cval=outside)
        for dy in dys:
            rows = along[reach + dy:reach + dy + height, reach:reach + width]
            out = rows.copy() if out is None else np.maximum(out, rows, out=out)
        del along
    return out


def prepare_labels(
    labels,
    crs,
    source: str | os.PathLike,
    class_field: str | None = None,
    class_map: dict[str, int] | None = None,
    line_width: float | None = None,
    line_cap: str = "round",
    lines_fix: str | None = None,
    lonlat_hint=None,
):
    """Repair, class and reproject labels once; returns (Labels with a ``class_id`` field,
    class names). Lines become polygons ``line_width`` metres wide (:func:`buffer_lines`;
    ``lines_fix``: what a command without --line-width tells users to do with lines;
    ``lonlat_hint``: as :func:`~geotile.labels.check_geographic_coordinates`' hint)."""
    import shapely

    from geotile.label_set import to_crs, warn_inexact, whole_across_180
    from geotile.labels import (
        check_geographic_coordinates,
        class_ids,
        point_features,
    )
    from geotile.polygon_repair import repair_polygons

    read_some = len(labels) > 0
    labels = _drop_non_finite(labels, source)
    # a road file of null or empty lines only (SpaceNet's LINESTRING EMPTY): no roads
    no_roads = line_width is not None and bool(np.isin(
        shapely.get_type_id(labels.geometries), [-1, 1, 2, 5]).all())
    labels = _drop_shapeless(labels, class_field)
    points = point_features(labels.geometries)
    shaped = len(labels) > 0
    # lines only; or none at all with --line-width (a tile without roads): a road mask
    roads = (line_parts(labels.geometries)[3].all() if len(labels)
             else line_width is not None)
    labels = buffer_lines(labels, crs, source, line_width, line_cap, lines_fix)
    ids, names = class_ids(labels, class_field, class_map, source)
    if roads and class_field is None:
        names = {1: "road"}
    if labels.crs is not None and labels.crs.is_geographic:  # repaired on the ground,
        # not as a ring round the world
        labels = labels.replace(geometries=whole_across_180(labels.geometries))
    valid = is_valid(labels.geometries)
    invalid = int(len(valid) - np.count_nonzero(valid))
    original = labels.geometries
    labels = labels.replace(geometries=repair_polygons(original, valid),
                            class_id=np.asarray(ids, dtype=np.int64))
    if invalid:
        log.info("%s: repaired %d invalid geometries", source, invalid)
        _say_no_area(original, labels.geometries, source,
                     labels.crs is not None and labels.crs.is_geographic)
    labels = labels.take(~shapely.is_empty(labels.geometries))
    # a SpaceNet CSV whose images hold no building (POLYGON EMPTY rows; roads: LINESTRING
    # EMPTY) makes empty masks
    # (nor one read only near the images that found nothing there: make_masks warns)
    # (nor an empty file, as SpaceNet's for a tile without buildings: make_masks warns)
    # (nor a road file whose features have no geometry, as SpaceNet's LINESTRING EMPTY)
    spacenet = {"ImageId", "BuildingId"} <= set(labels.fields) or \
        {"ImageId", "RoadId"} <= set(labels.fields)
    if len(labels) == 0 and not spacenet and read_some and not no_roads:
        if line_width is not None:
            raise InputError(f"{source}: no feature is a line or a polygon. Give road lines.")
        if not shaped:
            raise InputError(f"{source}: no feature has a geometry. Give a file of polygons.")
        raise InputError(f"{source}: no feature is a polygon. Give building footprints.")
    if points:
        warn(GeotileWarning(
            f"{source}: {counted(points, 'point feature')} {'was' if points == 1 else 'were'} "
            "left out: points have no area to burn.", about=os.fspath(source),
            advice=f"{source}: point features near them were left out: points have no area "
            "to burn."))
    check_geographic_coordinates(labels, source, hint=lonlat_hint)
    if crs is not None:
        if labels.crs is not None and len(labels):
            warn_inexact(labels.crs, crs, labels.total_bounds, source)
        before = labels.crs
        labels = to_crs(labels, crs, source)
        # reprojected: repaired ones may cross themselves again by a nanometre (a ring run
        # back along its own edge), which GEOS refuses to clip to a tile's patches
        if not one_crs(labels.crs, before, ellipsoid_only=True) and len(labels):
            moved = labels.geometries
            broken = np.flatnonzero(~is_valid(moved) & ~shapely.is_missing(moved))
            # (not those off the CRS's map, inf: said where they are later)
            broken = [i for i in broken
                      if np.isfinite(shapely.get_coordinates(moved[i])).all()]
            if len(broken):
                moved = moved.copy()
                moved[broken] = repair_polygons(moved[broken], np.zeros(len(broken), bool))
                labels = labels.replace(geometries=moved)
    return labels, names


LINEAR = ("LineString", "MultiLineString", "LinearRing")


def _drop_non_finite(labels, source, chunk: int = 100_000):
    """``labels`` with the geometries that have an infinite or NaN x or y made None (GEOS
    cannot repair or burn them), in one warning naming ``source`` and where they are."""
    import shapely

    bad = np.zeros(len(labels), dtype=bool)
    places: list[str] = []
    for start in range(0, len(labels), chunk):  # bounded memory for city-sized files
        coords, owner = shapely.get_coordinates(labels.geometries[start:start + chunk],
                                                return_index=True)
        finite = np.isfinite(coords).all(axis=1)
        if finite.all():
            continue
        ids = np.unique(owner[~finite])
        bad[start + ids] = True
        for i in ids[:5 - len(places)].tolist():
            here = coords[(owner == i) & finite]
            places.append(f"({here[0, 0]:.0f}, {here[0, 1]:.0f})" if len(here) else
                          "nowhere finite")
    if not bad.any():
        return labels
    count = int(bad.sum())
    more = f" and {count - len(places)} more" if count > len(places) else ""
    warn(GeotileWarning(
        f"{source}: {count} feature{'s' if count > 1 else ''} with infinite or NaN "
        f"coordinates (reprojected outside a CRS's area?) {'were' if count > 1 else 'was'} "
        f"skipped: at {', '.join(places)}{more} (first finite vertex). Fix or remove them.",
        about=os.fspath(source), advice=f"{source}: features near them with infinite or NaN "
        "coordinates (reprojected outside a CRS's area?) were skipped. Fix or remove them."))
    geometries = labels.geometries.copy()
    geometries[bad] = None
    return labels.replace(geometries=geometries)


def _say_no_area(original, repaired, source, degrees: bool = False) -> None:
    """Warn of the polygons of ``original`` that repair left empty (``repaired``): rings
    that fold back on themselves or lie on one line have no area to burn. ``degrees``: their
    coordinates are lon/lat, placed to 5 decimals (a metre), not to the whole unit."""
    import shapely

    polygons = np.isin(shapely.get_type_id(original), [3, 6])
    gone = np.flatnonzero(polygons & shapely.is_empty(repaired))
    if not len(gone):
        return
    count = len(gone)
    digits = 5 if degrees else 0
    places = ", ".join(f"({x:.{digits}f}, {y:.{digits}f})" for x, y in
                       (shapely.get_coordinates(original[i])[0] for i in gone[:5]))
    more = f" and {count - 5} more" if count > 5 else ""
    warn(GeotileWarning(
        f"{source}: {count} polygon{'s have' if count > 1 else ' has'} no area (rings folded "
        f"back on themselves or on one line) and {'were' if count > 1 else 'was'} left out: "
        f"at {places}{more} (first vertex). Fix or remove them.", about=os.fspath(source),
        advice=f"{source}: polygons near them with no area (rings folded back on themselves "
        "or on one line) were left out. Fix or remove them."))


def _drop_shapeless(labels, class_field: str | None):
    """``labels`` without null or empty geometries (nothing to burn, so no class value is
    needed), whose ``class_field`` values still name classes, as in a read of some regions."""
    import shapely

    from geotile.label_set import Labels

    gone = shapely.is_missing(labels.geometries) | shapely.is_empty(labels.geometries)
    if not gone.any():
        return labels
    if class_field in labels.fields:
        kept = [v for v in labels.fields[class_field][gone].tolist()
                if v is not None and v == v]  # not NaN
        values = {**labels.values, class_field: [*labels.values.get(class_field, []), *kept]}
        labels = Labels(labels.geometries, labels.fields, labels.crs, labels.extent, values)
    return labels.take(~gone)


def buffer_lines(labels, crs, source, width: float | None, cap: str = "round",
                 lines_fix: str | None = None):
    """Labels whose LineStrings are replaced by polygons ``width`` metres wide (buffered by
    ``width / 2`` with ``cap`` "round" or "flat" ends, round joins, as solaris and the
    SpaceNet road masks do), in the labels' CRS.

    The buffer is drawn in metres: the raster's CRS (``crs``) or the labels' when projected
    in metres, else the local UTM zone; with no CRS at all, in the labels' own units.
    Without ``width`` lines cannot be burnt: an InputError when every feature is a line,
    else one warning that they are left out; both name ``lines_fix`` (a command without
    --line-width: tile) or else --line-width.
    """
    import shapely

    from geotile.label_set import to_crs

    linear, polygonal, lines, only = line_parts(labels.geometries)
    if not lines.any():
        return labels
    if width is None:
        closed = closed_lines_message(linear[lines], source)
        if lines_fix is not None:
            if only.all():
                raise InputError(f"{source}: the features are lines (roads?), which have no "
                                 f"area; {lines_fix}{closed}")
            n = int(lines.sum())
            warn(GeotileWarning(
                f"{source}: {counted(n, 'line feature')} {'was' if n == 1 else 'were'} left out "
                f"of the annotations; {lines_fix}{closed}", about=os.fspath(source),
                advice=f"{source}: line features near them were left out of the annotations; "
                f"{lines_fix}{_closed_advice(closed, source)}"))
            return labels
        if only.all():
            raise InputError(f"{source}: the features are lines (roads?), which have no area "
                             f"to burn. Give --line-width M to burn them M metres wide.{closed}")
        n = int(lines.sum())
        warn(GeotileWarning(
            f"{source}: {counted(n, 'line feature')} {'was' if n == 1 else 'were'} left out "
            f"(no --line-width); give --line-width M to burn them M metres wide.{closed}",
            about=os.fspath(source), advice=f"{source}: line features near them were left out "
            "(no --line-width); give --line-width M to burn them M metres wide."
            f"{_closed_advice(closed, source)}"))
        return labels
    if not width > 0 or cap not in LINE_CAPS:
        raise InputError(f"--line-width {width} --line-cap {cap}: give a width > 0 metres and "
                         "a cap of round or flat.")
    part = labels.take(lines).replace(geometries=linear[lines])
    metric = _metric_crs_for(part, crs)
    if metric is not None and part.crs is not None:
        part = to_crs(part, metric, source)
    # round caps and joins of 16 segments a quarter circle, as geopandas (solaris) draws them
    buffered = shapely.buffer(part.geometries, width / 2, quad_segs=16, cap_style=cap,
                              join_style="round")
    part = part.replace(geometries=buffered)
    if metric is not None and labels.crs is not None:
        part = to_crs(part, labels.crs, source)
    geometries = labels.geometries.copy()
    geometries[lines] = part.geometries
    for i in np.flatnonzero(lines & ~only).tolist():  # a collection's polygons kept beside
        geometries[i] = shapely.GeometryCollection([geometries[i], *polygonal[i]])
    return labels.replace(geometries=geometries)


def closed_lines_message(lines, source) -> str:
    """What to say of the closed ``lines`` (outlines, as CAD's closed polylines read): the
    conversion that makes them polygons; '' unless most lines are closed (a road network's
    roundabouts are not outlines, and the conversion would make every road a polygon; a CAD
    plan's outlines beside a fence are)."""
    import shapely

    parts, owner = shapely.get_parts(lines, return_index=True)
    closed = np.ones(len(lines), dtype=bool)
    np.logical_and.at(closed, owner, shapely.is_closed(parts) & (shapely.get_num_points(parts) > 3))
    count = int(closed[np.unique(owner)].sum()) if len(parts) else 0
    if not count or 2 * count <= len(np.unique(owner)):
        return ""
    return (f" {count} of them {'is' if count == 1 else 'are'} closed (outlines, as CAD "
            f"polylines are read): to read them as polygons, convert them: ogr2ogr -nlt "
            f"POLYGON labels.gpkg {source}")


def _closed_advice(closed: str, source) -> str:
    """:func:`closed_lines_message`' text without its count, for the advice of many images."""
    if not closed:
        return ""
    return (" Most are closed (outlines, as CAD polylines are read): to read them as "
            f"polygons, convert them: ogr2ogr -nlt POLYGON labels.gpkg {source}")


def line_parts(geometries):
    """(linear part, polygonal parts, has lines, has lines and no polygon) of each feature:
    lines and polygons inside GeometryCollections (ogr2ogr/QGIS "collect") count too."""
    import shapely

    from geotile.polygon_repair import collection_parts

    kinds = shapely.get_type_id(geometries)
    lines = np.isin(kinds, [1, 2, 5])  # LineString, LinearRing, MultiLineString
    linear = np.where(lines, geometries, None)
    polygonal = np.empty(len(geometries), dtype=object)
    for i in np.flatnonzero(kinds == 7).tolist():
        found = collection_parts(geometries[i])
        polygonal[i] = found[1]
        if found[0]:
            linear[i], lines[i] = shapely.GeometryCollection(found[0]), True
    only = lines & np.array([not p for p in polygonal], dtype=bool)
    return linear, polygonal, lines, only


def _metric_crs_for(labels, crs):
    """A CRS whose unit is a ground metre to buffer ``labels`` in: ``crs`` (the raster's) or
    the labels' own where one of their units is a ground metre over the labels
    (:mod:`geotile.ground_scale`: not Web Mercator), else their UTM zone; None when the
    labels have no CRS."""
    from pyproj import Transformer

    from geotile.ground_scale import in_ground_metres, metric_crs
    from geotile.label_set import parse_crs

    if labels.crs is None:
        return None
    frame = labels.to_frame()
    bounds = frame.total_bounds
    for candidate in (crs, labels.crs):
        if candidate is not None:
            candidate = parse_crs(candidate, "the CRS")
            there = bounds if candidate == labels.crs else Transformer.from_crs(
                labels.crs.to_wkt(), candidate.to_wkt(), always_xy=True).transform_bounds(
                *bounds)
            if in_ground_metres(candidate, there):
                return candidate
    return parse_crs(metric_crs(labels.crs, frame).to_wkt(), "the UTM zone")


@with_read_settings
def make_masks(
    labels_path: str | os.PathLike,
    image_paths: Sequence[str | os.PathLike],
    output_paths: Sequence[str | os.PathLike],
    *,
    options: MaskOptions = MaskOptions(),
    class_field: str | None = None,
    class_map: dict[str, int] | None = None,
    labels_crs: str | None = None,
    layer: str | None = None,
    creation_options: dict | Sequence[str] | None = None,
    overwrite: bool = False,
    progress: bool = False,
    palette: str | os.PathLike | dict | None = None,
    resume: bool = False,
    settings: dict | None = None,
    class_values: Sequence | None = None,
    whole_values: Sequence | None = None,
    where: str | None = None,
    ignore: Sequence[str | os.PathLike] | None = None,
    guess_checked: bool = False,
) -> list[dict]:
    """Write one mask per image on the image's exact grid; labels are read once.

    ``labels_path`` may also be a label raster (class indices, or RGB colours with
    ``palette``: a JSON file, a dict or ``"potsdam"``): see geotile.label_rasters.

    ``layer`` names the layer of a multi-layer labels file (GeoPackage...);
    ``creation_options`` are GeoTIFF creation options ({"compress": "zstd"} or
    ["COMPRESS=ZSTD"]), checked before any work. Where the image is nodata the
    mask is ``IGNORE`` (255), declared as the mask's nodata value.

    ``image_paths`` / ``output_paths`` are lists of paths, or one path each.
    Returns one summary dict per image (output, features burnt, positive pixels).

    ``resume``: masks already complete for the same settings are skipped (summary key
    ``skipped``), see geotile.resume; ``settings`` (the CLI's options) replace the
    arguments in their completion digest.

    ``labels_path`` may be a folder (or a glob pattern) of vector label files, one per image,
    or a folder of label rasters holding one named after each image: see
    :mod:`geotile.label_folders`; each summary then names its ``labels``.
    ``class_values``: the class values of a whole run (a label folder's), so that names get
    the same ids in every mask. ``whole_values``: those of ``class_field`` over the whole
    labels file, read once for tasks of one image each
    (:func:`geotile.labels.whole_class_values`; not used with ``where``), not again here.

    ``where``: an OGR SQL WHERE expression over the vector labels' fields
    (:mod:`geotile.label_filter`): only the features it selects are burnt, and names get
    their ids from those (``class_values`` then: the selected features' of the run).

    ``ignore``: regions burnt ``IGNORE`` over every band after the labels (vector files or
    rasters, a folder or pattern of one per image: :mod:`geotile.ignore_regions`), each
    file checked before any mask is written and part of the completion digest.

    Labels whose CRS is assumed, not declared (a CSV, a Parquet file without 'geo'
    metadata), none of whose features lies on any image, are refused before any mask
    (:func:`refuse_guessed_crs`); ``guess_checked``: the caller did so for the whole run
    (:func:`check_guessed_crs`; a dask task masks one image of it).
    """
    from geotile import pixel_label_formats as formats
    from geotile.input_files import check_pairs, path_list
    from geotile.input_paths import identity, input_path
    from geotile.input_sources import refuse_overwriting_inputs
    from geotile.label_folders import is_label_folder, pairs_label_rasters
    from geotile.labels import read_labels
    from geotile.output_files import check_geotiff_name, check_output, check_sidecar_room
    from geotile.pixel_labels import is_pixels, one_image, placed_on
    from geotile.stac_labels import item_labels, label_item

    image_paths, output_paths = path_list(image_paths), path_list(output_paths)
    from geotile.ignore_regions import pair_regions
    from geotile.stac_catalogs import is_catalog

    ignore = pair_regions(ignore, image_paths)  # each image's, checked before any mask

    if is_catalog(labels_path):  # each image's label item, class values of the whole run
        return _by_label_file(
            labels_path, image_paths, output_paths, options=options, class_field=class_field,
            class_map=class_map, labels_crs=labels_crs, layer=layer,
            creation_options=creation_options, overwrite=overwrite, progress=progress,
            palette=palette, resume=resume, settings=settings, where=where, ignore=ignore,
            guess_checked=guess_checked)
    item = label_item(labels_path)  # a STAC label item: its labels asset, as it classes it
    if item is not None:
        labels_path, class_field, class_map, class_values = item_labels(
            item, class_field, class_map, class_values)
    yolo = labelme = None
    kind = formats.pixel_label_format(labels_path, layer, image_paths)
    if kind is not None:
        check_pairs(image_paths, output_paths)
        read = _pixel_labels(kind, labels_path, image_paths, options, class_field, palette,
                             labels_crs, layer, where)
        yolo, labelme = (read, None) if kind == formats.YOLO else (None, read)
    elif is_label_folder(labels_path, layer) or pairs_label_rasters(labels_path, image_paths):
        return _by_label_file(
            labels_path, image_paths, output_paths, options=options, class_field=class_field,
            class_map=class_map, labels_crs=labels_crs, layer=layer,
            creation_options=creation_options, overwrite=overwrite, progress=progress,
            palette=palette, resume=resume, settings=settings, where=where, ignore=ignore,
            guess_checked=guess_checked)
    check_pairs(image_paths, output_paths)
    pixels = is_pixels(labels_crs)
    if pixels:  # one image's pixel coordinates
        one_image(labels_path, image_paths)
    extra = [palette] if isinstance(palette, str | os.PathLike) and palette != "potsdam" else []
    own = yolo or labelme  # each image's own label file
    extra = [*extra, *([item.item] if item else [])]  # the item joins the digest
    regions = [f for own_regions in ignore.files for f in own_regions] if ignore else []
    refuse_overwriting_inputs(output_paths, [labels_path, *extra, *image_paths, *(
        [f for f in own.files if f] if own else []), *dict.fromkeys(regions)])
    for output in output_paths:
        check_geotiff_name(output)
        check_sidecar_room(output)  # its class names
    co = mask_creation_options(creation_options, len(options.channels))
    if settings is None:  # a palette file as its input identity names it (absolute: a
        # dask worker is given it so), whatever folder the run starts from
        named = identity(palette)[0] if isinstance(palette, str | os.PathLike) and \
            palette != "potsdam" else palette
        settings = {"options": dataclasses.asdict(options), "class_field": class_field,
                    "class_map": class_map, "labels_crs": labels_crs, "layer": layer,
                    "creation_options": co, "palette": named,
                    **({"where": where} if where is not None else {})}
    if class_values is not None:  # other names in the run would change the ids
        settings = {**settings, "class_values": sorted(map(str, class_values))}
    if yolo is not None:  # names by index without data.yaml: those of the whole run
        settings = {**settings, "yolo_names": yolo.names}
    if labelme is not None:  # ids by name: other names in the run would change them
        settings = {**settings, "labelme_names": sorted(labelme.names)}
    complete = [resume_digest("make-masks", settings, [
        *(own.sources(i) if own else [labels_path]), *extra,
        *(ignore.of(i) if ignore else ()), image])
        for i, image in enumerate(image_paths)]
    overwrites = [overwrite] * len(output_paths)
    skipped: dict[int, dict] = {}
    if resume:
        plans = [resume_plan(out, tag, "make-masks", sidecar=True)  # with its category names
                 for out, tag in zip(output_paths, complete, strict=True)]
        skipped = {i: _skipped(image_paths[i], output_paths[i])
                   for i, action in enumerate(plans) if action == SKIP}
        todo = [i for i in range(len(plans)) if i not in skipped]
        overwrites = [overwrite or plans[i] == REPLACE for i in todo]
        image_paths, output_paths, complete = ([seq[i] for i in todo]
                                               for seq in (image_paths, output_paths, complete))
        if yolo is not None:
            yolo = yolo.take(todo)
        if labelme is not None:
            labelme = labelme.take(todo)
        if ignore is not None:
            ignore = ignore.take(todo)
        if not todo:
            return list(skipped.values())
    for output, replace in zip(output_paths, overwrites, strict=True):
        check_output(output, replace)
    if yolo is not None:
        return _in_order(skipped, _yolo_masks(yolo, image_paths, output_paths, overwrites,
                                              complete, options, class_map, progress, co,
                                              ignore))
    if labelme is not None:
        return _in_order(skipped, _labelme_masks(labelme, image_paths, output_paths,
                                                 overwrites, complete, options, class_map,
                                                 progress, co, ignore))
    coco = _coco(labels_path, options, class_field, palette, labels_crs, layer, where)
    if coco is not None:
        return _in_order(skipped, _coco_masks(coco, image_paths, output_paths, overwrites,
                                              complete, options, class_map, progress, co,
                                              ignore))
    if _label_raster(labels_path, options, class_field, palette, labels_crs, layer, where):
        from geotile.label_rasters import make_masks_from_raster, same_class_lists

        summaries = make_masks_from_raster(labels_path, image_paths, output_paths,
                                           palette=palette, class_map=class_map,
                                           creation_options=co, overwrite=any(overwrites),
                                           progress=progress, complete=complete,
                                           band_rows=options.band_rows, ignore=ignore,
                                           region_mask=RegionMask)
        summaries = _in_order(skipped, summaries)
        same_class_lists(summaries)  # with those skipped
        return summaries
    # only the features near the images are read (grouped boxes pushed down to the index)
    labels = read_labels(labels_path, labels_crs, layer=layer, images=image_paths,
                         regions=None if pixels else _regions(
                             image_paths, options.halo, (options.line_width or 0.0) / 2),
                         class_field=class_field, empty_ok=True, crs_option=None,
                         whole_values=whole_values, where=where)
    if class_values is not None:
        from geotile.label_folders import with_run_values

        if item is not None:  # its declared names only: no id shifted by another
            from geotile.stac_labels import check_declared

            check_declared(labels, class_field, class_values, labels_path)
        labels = with_run_values(labels, class_field, class_values)
    if pixels:  # placed through the image's own geotransform, in its CRS
        from geotile.raster import open_raster

        with open_raster(input_path(image_paths[0]), grid=True) as src:
            labels = placed_on(labels, src, input_path(image_paths[0]), labels_path)
    _check_placeable(image_paths, labels_path, labels.crs, layer)
    if labels_crs is None:  # lon/lat by default, but each image's pixel coordinates
        refuse_pixel_coordinates(labels, labels_path, image_paths)
    by_crs: dict = {}
    summaries = []
    spacenet_rows = False  # a SpaceNet CSV: each image burns its own ImageId's rows
    if Path(labels_path).suffix.lower() == ".csv":  # is_spacenet_csv's own first test
        from geotile.spacenet import is_spacenet_csv

        spacenet_rows = is_spacenet_csv(labels_path)
    from geotile.label_order import space_sorted, warn_order_lost

    overlaps: list | None = [] if space_sorted(labels_path, layer) else None
    # asked once, where labels that miss an image fit its pixels
    run_matched = cache(partial(_any_image_matched, labels, by_crs, labels_path, image_paths,
                                options, class_field, class_map, spacenet_rows))
    if labels_crs is None and not spacenet_rows and not guess_checked:  # nothing written yet
        refuse_guessed_crs(labels, labels_path, image_paths, run_matched)
    for index, (image_path, output_path, replace, tag) in enumerate(zip(
            image_paths, output_paths, overwrites, complete, strict=True)):
        summaries.append(
            mask_one_image(
                labels, by_crs, labels_path, input_path(image_path), Path(output_path),
                options, class_field, class_map, replace, progress, co, tag, spacenet_rows,
                layer, overlaps=overlaps, regions=ignore.of(index) if ignore else (),
                run_matched=run_matched,
            )
        )
    if overlaps:
        warn_order_lost(labels_path, overlaps)
    return _in_order(skipped, summaries)


def _refuse_other_options(labels_path, what: str, classed: str, mapped: str,
                          options: MaskOptions, class_field, palette, labels_crs, layer,
                          where=None) -> None:
    """InputError for the options of other labels given with labels in each image's pixels
    (COCO, YOLO, Labelme): ``what`` they are, ``classed`` how, what --class-map maps."""
    other = [name for name, given in (
        ("--class-field", class_field is not None), ("--palette", palette is not None),
        ("--labels-crs", labels_crs is not None), ("--layer", layer is not None),
        ("--line-width", options.line_width is not None)) if given]
    if where is not None:  # it filters the features of vector files by their fields
        other.append("--where (it selects vector files' features by their fields)")
    if other:
        raise InputError(f"{labels_path}: {what} in each image's pixels, classed {classed}: "
                         f"{', '.join(other)} {'applies' if len(other) == 1 else 'apply'} to "
                         f"other labels; leave {'it' if len(other) == 1 else 'them'} out "
                         f"(--class-map maps {mapped}).")


def _pixel_labels(kind: str, labels_path, image_paths, options: MaskOptions, class_field,
                  palette, labels_crs, layer, where=None):
    """The labels of the images in LABELS of format ``kind``
    (:mod:`geotile.pixel_label_formats`: YOLO's, or shapes burnt as Labelme's), read and
    checked once; InputError for options of other labels (VIA's --class-field names its
    attribute)."""
    from geotile import pixel_label_formats as formats

    what, classed, mapped = formats.WORDING[kind]
    refused_field = None if kind == formats.VIA else class_field
    _refuse_other_options(labels_path, what, classed, mapped, options, refused_field, palette,
                          labels_crs, layer, where)
    return formats.read_pixel_labels(kind, labels_path, image_paths, class_field)


def _coco(labels_path, options: MaskOptions, class_field, palette, labels_crs, layer,
          where=None):
    """The COCO file ``labels_path`` (:mod:`geotile.coco_labels`), read once; None when it is
    other labels. InputError for options of other labels."""
    from geotile.coco_labels import read_coco

    coco = read_coco(labels_path)
    if coco is None:
        return None
    _refuse_other_options(labels_path, "COCO annotations are", "by their categories",
                          "category names", options, class_field, palette, labels_crs, layer,
                          where)
    return coco


def _coco_masks(coco, image_paths, output_paths, overwrites, complete, options, class_map,
                progress, creation_options, ignore=None) -> list[dict]:
    """make_masks of a COCO file: every image's entry found (and of its size) before any
    mask is written, then each mask from the image's own annotations, in its pixels; crowd
    regions are ``IGNORE``."""
    from geotile.coco_labels import CATEGORY

    mapping = class_map or coco.class_map
    several = len(set(mapping.values())) > 1
    summaries = []
    for index, ((image, labels, crs, frame, names), output, replace, tag) in enumerate(zip(
            coco_frames(coco, image_paths, mapping), output_paths, overwrites, complete,
            strict=True)):
        summaries.append(mask_one_image(
            labels, {crs.to_wkt() if crs else None: (frame, names)}, coco.path, image,
            Path(output), options, CATEGORY, mapping, replace, progress, creation_options,
            tag, multi=several, listed=True, regions=ignore.of(index) if ignore else ()))
    return summaries


def coco_frames(coco, image_paths, mapping, entries=None) -> list[tuple]:
    """(image, labels, crs, frame, names) of every image of a COCO run, its annotations
    placed and classed (crowd regions ``IGNORE``): any broken annotation or class the
    mapping lacks, in any image, refused before a mask is written. ``entries``: the images'
    entries when already found (evaluate's, by a prediction's name)."""
    from geotile.coco_labels import CATEGORY, CROWD, check_images, image_labels
    from geotile.input_paths import input_path
    from geotile.no_georef import map_crs
    from geotile.raster import open_raster

    prepared = []
    entries = check_images(coco, image_paths) if entries is None else entries
    for image, entry in zip(image_paths, entries, strict=True):
        image = input_path(image)
        with open_raster(image, grid=True) as src:
            crs = map_crs(src)
            labels = image_labels(coco, entry, src.transform, crs)
        frame, names = prepare_labels(labels, crs, coco.path, CATEGORY, mapping)
        frame = frame.replace(class_id=np.where(frame.fields[CROWD], IGNORE,
                                                frame.fields["class_id"]))
        prepared.append((image, labels, crs, frame, names))
    return prepared


def _yolo_masks(yolo, image_paths, output_paths, overwrites, complete, options, class_map,
                progress, creation_options, ignore=None) -> list[dict]:
    """make_masks of YOLO labels: each mask from its image's own .txt (none: all
    background), its fractions of the image's size in its pixels; summaries name the .txt
    (``labels``; None for a negative image)."""
    from geotile.yolo_labels import CATEGORY, check_images

    check_images(yolo, image_paths)
    if class_map is None:  # ids are index + 1, given by name: one name, one index
        refuse_shared_names(yolo)
    mapping = class_map or yolo.class_map
    several = len(set(mapping.values())) > 1
    summaries = []
    for position, ((image, source, crs, labels, (frame, names)), output, replace, tag) in \
            enumerate(zip(yolo_frames(yolo, image_paths, mapping), output_paths, overwrites,
                          complete, strict=True)):
        summary = mask_one_image(
            labels, {crs.to_wkt() if crs else None: (frame, names)}, source, image,
            Path(output), options, CATEGORY, mapping, replace, progress, creation_options,
            tag, multi=several, listed=True, regions=ignore.of(position) if ignore else ())
        own = yolo.files[position]
        summaries.append({**named_labels(summary, own), "labels": str(own) if own else None})
    return summaries


def yolo_frames(yolo, image_paths, mapping) -> list[tuple]:
    """(image, label file, crs, labels, (frame, names)) of every image of a YOLO run, its
    objects placed and classed, before any mask is written."""
    from geotile.input_paths import input_path
    from geotile.no_georef import map_crs
    from geotile.raster import open_raster
    from geotile.yolo_labels import CATEGORY, image_labels

    prepared = []
    for position, image in enumerate(image_paths):
        image = input_path(image)
        source = yolo.files[position] or Path(yolo.labels)
        with open_raster(image, grid=True) as src:
            crs = map_crs(src)
            labels = image_labels(yolo, position, src.width, src.height, src.transform, crs)
        prepared.append((image, source, crs, labels,
                         prepare_labels(labels, crs, source, CATEGORY, mapping)))
    return prepared


def _labelme_masks(labelme, image_paths, output_paths, overwrites, complete, options,
                   class_map, progress, creation_options, ignore=None) -> list[dict]:
    """make_masks of Labelme files: every image checked (its size, its EXIF orientation)
    and its shapes placed and classed before any mask is written, then each mask from its
    own file, in its pixels; summaries name the file (``labels``)."""
    from geotile.labelme_labels import CATEGORY, check_images

    check_images(labelme, image_paths)
    summaries = []
    for index, ((image, source, crs, labels, (frame, names)), output, replace, tag) in \
            enumerate(zip(labelme_frames(labelme, image_paths, class_map), output_paths,
                          overwrites, complete, strict=True)):
        several = len([i for i in names if i]) > 1
        summary = mask_one_image(
            labels, {crs.to_wkt() if crs else None: (frame, names)}, source, image,
            Path(output), options, CATEGORY, class_map, replace, progress, creation_options,
            tag, multi=several, listed=True, regions=ignore.of(index) if ignore else ())
        summaries.append(named_labels(summary, source))
    return summaries


def labelme_frames(labelme, image_paths, class_map):
    """(image, label file, crs, labels, (frame, names)) of every image of a Labelme run, its
    shapes classed (``__ignore__``'s ``IGNORE``; a class the map lacks, in any image, refused
    before any mask is written), then placed one image at a time as the iterator is walked:
    all images' shapes at once would hold every object twice (pixels, map)."""
    from geotile.input_paths import input_path
    from geotile.label_set import Labels
    from geotile.labelme_labels import CATEGORY, image_classes
    from geotile.labels import class_ids
    from geotile.no_georef import map_crs
    from geotile.raster import open_raster

    opened = []
    for position, image in enumerate(image_paths):
        image = input_path(image)
        with open_raster(image, grid=True) as src:
            opened.append((image, map_crs(src), src.transform))
        fields = image_classes(labelme, position, class_map)
        with hidden(GeotileWarning):  # geotile's own, said again as each image is placed
            class_ids(Labels(np.empty(len(fields[CATEGORY]), dtype=object), fields, None,
                             None, {CATEGORY: list(labelme.names)}), CATEGORY, class_map,
                      labelme.files[position])
            if opened[-1][1] is not None and opened[-1][1].is_geographic:
                # shapes placed past degrees are refused by prepare_labels: here, first
                next(_placed_labelme(labelme, opened[-1:], class_map, position))
    return _placed_labelme(labelme, opened, class_map)


def _placed_labelme(labelme, opened: list, class_map, first: int = 0):
    """(image, label file, crs, labels, (frame, names)) of each image of ``opened`` ((image,
    crs, transform) of each; the first image ``first``'s), its shapes placed and classed
    when it is reached."""
    from geotile.labelme_labels import CATEGORY, IGNORED, image_labels

    for position, (image, crs, transform) in enumerate(opened, first):
        source = labelme.files[position]
        labels = image_labels(labelme, position, transform, crs, class_map)
        # __ignore__ shapes only: burnt IGNORE, not background
        with hidden(GeotileWarning, message=r".*names background \('__ignore") \
                if not labelme.names else contextlib.nullcontext():
            frame, names = prepare_labels(labels, crs, source, CATEGORY, class_map)
        frame = frame.replace(class_id=np.where(frame.fields[IGNORED], IGNORE,
                                                frame.fields["class_id"]))
        yield image, source, crs, labels, (frame, names)


def refuse_shared_names(yolo) -> None:
    """InputError when data.yaml names two class indices alike (as class names compare),
    which index + 1 ids cannot tell apart."""
    from geotile.class_keys import class_key

    seen: dict[str, int] = {}
    for index, name in enumerate(yolo.names):
        first = seen.setdefault(class_key(name), index)
        if first != index:
            raise InputError(
                f"{yolo.data_yaml or yolo.labels}: names calls class indices {first} and "
                f"{index} alike ({yolo.names[first]!r}, {name!r}), so they cannot be ids "
                f"{first + 1} and {index + 1}. Give each class its own name, or merge them "
                f"with a --class-map ({{\"{yolo.names[first]}\": {first + 1}, ...}}).")


def _by_label_file(labels_path, image_paths, output_paths, **kwargs) -> list[dict]:
    """make_masks of a label folder (or of a STAC catalog's label items): each image's
    mask from its own label file (those pairing with several images read once), class
    values run-wide; summaries in the order of the images, each naming its ``labels``."""
    from geotile.label_folders import plan
    from geotile.stac_catalogs import is_catalog
    from geotile.stac_catalogs import plan as plan_catalog

    if is_catalog(labels_path):  # each image's label item
        plan = plan_catalog
    files, values = plan(labels_path, image_paths, output_paths, **{
        k: kwargs.get(k) for k in ("class_field", "class_map", "labels_crs", "layer",
                                   "overwrite", "resume", "where")})
    groups: dict = {}
    for index, path in enumerate(files):
        groups.setdefault(path, []).append(index)
    summaries: list = [None] * len(files)
    ignore = kwargs.pop("ignore", None)  # each image's, paired once for the run
    if kwargs.get("labels_crs") is None and not kwargs.get("guess_checked"):
        for path, indices in groups.items():  # a file's guess refused before any mask
            check_guessed_crs(path, [image_paths[i] for i in indices], kwargs)
    for path, indices in groups.items():
        done = make_masks(path, [image_paths[i] for i in indices],
                          [output_paths[i] for i in indices], class_values=values,
                          ignore=ignore.take(indices) if ignore else None,
                          **{**kwargs, "guess_checked": True})
        for i, summary in zip(indices, done, strict=True):
            summaries[i] = named_labels(summary, path)
    return summaries


def check_guessed_crs(path, image_paths, kwargs) -> None:
    """:func:`refuse_guessed_crs` of labels file ``path`` (a Parquet or CSV file, whose CRS
    may be assumed; others pass) for ``image_paths``, read as make_masks reads it
    (``kwargs``: its options), its lon/lat note left to make_masks."""
    from geotile import pixel_label_formats as formats
    from geotile.labels import read_labels
    from geotile.parquet_datasets import PARQUET_SUFFIXES, dataset_files
    from geotile.quiet_warnings import hidden
    from geotile.spacenet import is_spacenet_csv

    name, layer = os.fspath(path).lower(), kwargs.get("layer")
    csv = name.endswith((".csv", ".csv.gz"))
    if not (name.endswith(PARQUET_SUFFIXES) or csv or dataset_files(Path(path))) or \
            (csv and (formats.pixel_label_format(path, layer, image_paths) is not None
                      or is_spacenet_csv(path))):
        return
    options = kwargs.get("options") or MaskOptions()
    with hidden(GeotileWarning, message=r".*: no GeoParquet metadata"):
        labels = read_labels(path, None, layer=layer, images=image_paths,
                             regions=_regions(image_paths, options.halo,
                                              (options.line_width or 0.0) / 2),
                             class_field=kwargs.get("class_field"), empty_ok=True,
                             crs_option=None, where=kwargs.get("where"))
    refuse_guessed_crs(labels, path, image_paths, partial(
        _any_image_matched, labels, {}, path, image_paths, options, kwargs.get("class_field"),
        kwargs.get("class_map"), False))


def named_labels(summary: dict, labels_path) -> dict:
    """``summary`` with the label file it was made from, after its image and output."""
    return {"image": summary["image"], "output": summary["output"],
            "labels": str(labels_path), **summary}


def refuse_pixel_coordinates(labels, labels_path, image_paths) -> None:
    """InputError where lon/lat ``labels`` (their CRS read from the file, not given) are the
    pixel coordinates of an image (:func:`geotile.pixel_labels.pixel_refusal`), before any
    mask is written; a warning where they may be (:func:`geotile.pixel_labels.warn_if_pixels`)."""
    from geotile.input_paths import input_path
    from geotile.pixel_labels import pixel_refusal, warn_if_pixels
    from geotile.raster import open_raster

    if labels.crs is None or not labels.crs.is_geographic:
        return
    for image_path in image_paths:
        with open_raster(input_path(image_path), grid=True) as src:
            refusal = pixel_refusal(labels, src, input_path(image_path), labels_path)
            if refusal:
                raise InputError(refusal)
    for image_path in image_paths:  # warned of once none is refused
        with open_raster(input_path(image_path), grid=True) as src:
            warn_if_pixels(labels, src, input_path(image_path), labels_path)


def refuse_guessed_crs(labels, labels_path, image_paths, matched) -> None:
    """InputError where ``labels`` whose CRS was assumed, not declared (a CSV, a Parquet
    file without 'geo' metadata: :attr:`~geotile.label_set.Labels.assumed`), put no feature
    on any of ``image_paths`` (``matched()``: whether one does): the guess, not the labels,
    is wrong as far as geotile can tell (UTM metres over 1e5 pass for degrees), and their
    masks would be all zeros. Labels of a declared CRS lie elsewhere: warned of per image."""
    import shapely

    from geotile.input_paths import input_path
    from geotile.raster import open_raster

    shaped = ~(shapely.is_missing(labels.geometries) | shapely.is_empty(labels.geometries))
    if labels.assumed is None or (labels.where is not None and not len(labels)) or \
            not (shaped.any() or labels.extent is not None) or matched():
        return
    crss = []
    for image_path in image_paths:
        with open_raster(input_path(image_path), grid=True) as src:
            if src.crs and (name := src.crs.to_string()) not in crss:
                crss.append(name)
    images = "the image" if len(image_paths) == 1 else f"any of the {len(image_paths)} images"
    likely = f" (--labels-crs {crss[0]}, the image's CRS, if they are in it)" \
        if len(crss) == 1 else ""
    raise InputError(
        f"{labels_path}: no feature overlaps {images} (labels span {_labels_span(labels)}), "
        f"and that CRS is a guess: {labels.assumed}. Pass --labels-crs with the CRS their "
        f"coordinates are in{likely}, or give the labels of these images.")


def _check_placeable(image_paths, labels_path, labels_crs, layer=None) -> None:
    """Every image's refusal of labels it cannot place (:func:`labels_refusal`, its
    header only), and of a damaged or truncated image, before any mask is written."""
    from geotile.input_paths import input_path
    from geotile.no_georef import labels_refusal
    from geotile.raster import check_pixels_readable, open_raster

    for image_path in image_paths:
        with open_raster(input_path(image_path), grid=True) as src:
            if len(image_paths) > 1:  # one image: checked as its mask is made
                check_pixels_readable(src)
            refusal = labels_refusal(src, image_path, labels_path, labels_crs, layer)
        if refusal:
            raise InputError(refusal)


def check_placeable(labels_path, image_paths, *, labels_crs=None, layer=None,
                    class_field=None, class_map=None) -> None:
    """make_masks' refusal of an image its vector labels cannot be placed on, for runs that
    mask each image apart (dask), before any mask is written; the labels are read only when
    an image has no map CRS."""
    from geotile.coco_labels import read_coco
    from geotile.input_paths import input_path
    from geotile.no_georef import map_crs
    from geotile.raster import open_raster

    coco = read_coco(labels_path)
    if coco is not None:  # each image in its own pixels: listed, of its size, its
        coco_frames(coco, image_paths, class_map or coco.class_map)  # annotations sound
        return
    unplaced = []
    for image_path in image_paths:
        with open_raster(input_path(image_path), grid=True) as src:
            if map_crs(src) is None:
                unplaced.append(image_path)
    if unplaced:
        from geotile.labels import read_labels

        labels = read_labels(labels_path, labels_crs, layer=layer, images=unplaced,
                             regions=_regions(unplaced), class_field=class_field,
                             empty_ok=True, crs_option=None)
        _check_placeable(unplaced, labels_path, labels.crs, layer)


def _skipped(image, output) -> dict:
    """The summary of a mask complete from an earlier run (--resume)."""
    from geotile.resume import read_tags

    tags = read_tags(output) or {}
    return {"image": str(image), "output": str(output), "skipped": True,
            "classes": json.loads(tags.get("GEOTILE_CLASS_NAMES", "null"))}


def _in_order(skipped: dict[int, dict], summaries: list[dict]) -> list[dict]:
    """Summaries of skipped and written masks, in the order of the images."""
    done = iter(summaries)
    return [skipped[i] if i in skipped else next(done)
            for i in range(len(skipped) + len(summaries))]


def _label_raster(labels_path, options: MaskOptions, class_field, palette, labels_crs=None,
                  layer=None, where=None) -> bool:
    """True when LABELS is a label raster (geotile.label_rasters); InputError when the
    options given are for the other kind of labels."""
    from geotile.label_rasters import is_label_raster, refuse_raster_folder

    refuse_raster_folder(labels_path)
    if not is_label_raster(labels_path):
        if palette is not None:
            raise InputError(f"{labels_path}: --palette maps the colours of a label raster; "
                             "these are vector labels. Leave out --palette.")
        return False
    if options.channels != ("footprint",) or class_field is not None:
        raise InputError(f"{labels_path}: a label raster gives class ids only; leave out "
                         "--channels boundary/contact and --class-field (vector labels).")
    vector_only = [name for name, given in (
        ("--labels-crs", labels_crs is not None), ("--layer", layer is not None),
        ("--all-touched", options.all_touched), ("--line-width", options.line_width is not None),
        ("--where", where is not None)) if given]
    if vector_only:
        fix = " (a raster's CRS is its own: assign one with gdal_edit.py -a_srs EPSG:xxxx)" \
            if "--labels-crs" in vector_only else ""
        raise InputError(f"{labels_path}: a label raster's pixels are copied as they are: "
                         f"{', '.join(vector_only)} apply to vector labels only; leave "
                         f"{'it' if len(vector_only) == 1 else 'them'} out{fix}.")
    return True


def _regions(image_paths, margin: int = 0, reach: float = 0.0) -> list | None:
    """The images' extents (grown by ``margin`` px, the halo, and ``reach`` metres, half the
    lines' width) for read_labels; None (read all) when one cannot be opened: the per-image
    loop then names the problem."""
    from geotile.labels import image_regions

    try:
        return image_regions(image_paths, margin, reach)
    except InputError:
        return None


def mask_creation_options(creation_options, count: int) -> dict:
    """GeoTIFF creation options for masks (a dict or ["KEY=VALUE", ...]), checked: lossy
    codecs would change class ids; InputError in one line naming the option."""
    from geotile.creation_options import parse_creation_options

    if not creation_options:
        return {}
    if isinstance(creation_options, dict):
        options = {str(k).lower(): str(v) for k, v in creation_options.items()}
    else:
        options = parse_creation_options(list(creation_options))
    from geotile.creation_options import check_creation_options, gdal_yes

    codec = options.get("compress", "").lower()
    if codec == "jpeg" or (codec == "webp" and not gdal_yes(options.get("webp_lossless", ""))):
        raise InputError(f"--co COMPRESS={options['compress']}: lossy compression changes class "
                         "ids in masks. Use COMPRESS=DEFLATE, ZSTD, LZW or PACKBITS.")
    check_creation_options(options, dtype="uint8", count=count)
    return options


def mask_one_image(
    labels, by_crs, labels_path, image_path, output_path, options, class_field, class_map,
    overwrite, progress, creation_options, complete=None, spacenet_rows=False, layer=None,
    *, multi: bool | None = None, listed: bool = False, overlaps: list | None = None,
    regions: Sequence = (), run_matched=None,
) -> dict:
    """The mask of one image (``multi``: its one band holds class ids, "class", by default
    with ``class_field``; ``listed``: the labels are the image's own, none is a negative
    image, not labels that miss it; ``overlaps``: the image is added to it where features
    of different classes overlap on it, :mod:`geotile.label_order`; ``regions``: its
    --ignore files, :mod:`geotile.ignore_regions`; ``run_matched``: whether a feature lies
    on any image of the run, asked before naming --labels-crs pixels for labels that miss
    this one)."""
    import rasterio

    from geotile.categories import class_colours, write_categories
    from geotile.label_set import grid_envelope, select_bounds
    from geotile.output_files import atomic_output
    from geotile.raster import check_pixels_readable, may_hold_nodata, open_raster

    with open_raster(image_path, grid=True) as src:
        check_pixels_readable(src)
        from geotile.no_georef import labels_refusal
        from geotile.pixel_labels import fits_pixels

        refusal = labels_refusal(src, image_path, labels_path, labels.crs)
        if refusal:
            raise InputError(refusal)
        from geotile.nitf_files import warn_nitf

        warn_nitf(src, Path(str(image_path)).name, "the mask")
        crs, frame, names = _image_frame(labels, by_crs, src, labels_path, image_path,
                                         options, class_field, class_map, spacenet_rows)
        # a float image's NaN pixels are nodata too, declared or not (as tile and predict)
        ignore = may_hold_nodata(src)
        extent = grid_envelope(src.transform, src.width, src.height)
        halo = options.halo  # features this close to the image shape its boundary/contact
        near = select_bounds(frame, grid_envelope(src.transform, src.width + 2 * halo,
                                                  src.height + 2 * halo, -halo, -halo))
        on_image = select_bounds(near, extent) if halo else near
        if overlaps is not None:
            from geotile.label_order import classes_overlap

            if classes_overlap(on_image, extent):
                overlaps.append(image_path)
        if len(on_image) == 0 and not (listed and len(labels) == 0):
            size: tuple[int, int] | None = (src.width, src.height)
            if run_matched is not None and fits_pixels(labels, *size, image_path) \
                    and run_matched():  # lon/lat they are: no pixel coordinates to name
                size = None
            say_no_labels_on(labels, frame, labels_path, image_path, extent, crs, layer=layer,
                             size=size, **(NODATA_OUTCOMES if ignore else {}))
        left_out = RegionMask(regions, src, options.all_touched)  # --ignore
        regions = bool(np.any(near.fields["class_id"] == IGNORE)) or bool(regions)  # crowd
        profile = mask_profile(src, len(options.channels), ignore or regions, creation_options)
        done = completed_as(complete) if complete else None  # by another run meanwhile
        with atomic_output(output_path, overwrite, written_meanwhile=done) as tmp:
            # no georeferencing: placed in pixels only when the labels have no CRS
            with quietly(rasterio.open, tmp, "w", **profile) as dst:
                copy_georeferencing(src, dst)
                dst.update_tags(
                    GEOTILE_OUTPUT="mask",
                    GEOTILE_CLASS_NAMES=_class_names_json(names),
                    GEOTILE_LABELS=Path(labels_path).name,
                    **({COMPLETE_TAG: complete} if complete else {}),
                )
                # one band of class ids (--class-field): "class", as predict's
                multi = (class_field is not None if multi is None else multi) and tuple(
                    options.channels) == ("footprint",)
                for index, channel in enumerate(options.channels, start=1):
                    dst.set_band_description(index, "class" if multi else channel)
                with left_out:
                    positives, ignored = _burn_bands(src, dst, near, options, progress,
                                                     ignore, regions, left_out)
            if options.channels[0] == "footprint":  # its class ids named for GIS clients
                classes = json.loads(_class_names_json(names))  # (gdalinfo, QGIS)
                write_categories(tmp, classes, class_colours(len(classes), classes))
    log.info("%s: %d features, %d positive pixels, %d ignored -> %s", image_path.name,
             len(on_image), positives, ignored, output_path)
    return {"image": str(image_path), "output": str(output_path), "features": len(on_image),
            "positive_pixels": positives, "ignored_pixels": ignored,
            "classes": json.loads(_class_names_json(names))}


def _image_frame(labels, by_crs, src, labels_path, image_path, options, class_field,
                 class_map, spacenet_rows) -> tuple:
    """(crs, frame, names): ``labels`` prepared in the CRS of the open image ``src`` (none
    where nothing places it: pixel coordinates), once per CRS in ``by_crs``; a SpaceNet
    CSV's rows of this image only."""
    from geotile.no_georef import map_crs

    crs = map_crs(src)
    key = crs.to_wkt() if crs else None
    if key not in by_crs:  # reproject once per distinct CRS, not per image
        by_crs[key] = prepare_labels(
            labels, crs, labels_path, class_field, class_map, options.line_width,
            options.line_cap, lonlat_hint=lambda: _in_image_crs(labels, src, image_path))
    frame, names = by_crs[key]
    if spacenet_rows:
        frame = own_rows(frame, labels, image_path)
    return crs, frame, names


def _in_image_crs(labels, src, image_path) -> str:
    """Where lon/lat ``labels`` whose coordinates are no degrees lie on the open image ``src``
    read in its projected CRS (a file written without its CRS, as SpaceNet's custom Albers
    labels): that they do, and how to say it, by its code, else by its WKT in a file
    (--labels-crs reads one); '' where they do not."""
    import shlex

    import shapely

    from geotile.crs_names import exact_code
    from geotile.label_set import grid_envelope
    from geotile.no_georef import map_crs
    from geotile.proj_grids import crs_name

    crs = map_crs(src)
    if crs is None or crs.is_geographic or labels.crs is None or not labels.crs.is_geographic:
        return ""
    extent = labels.extent if labels.extent is not None else labels.total_bounds
    if not shapely.box(*extent).intersects(
            shapely.box(*grid_envelope(src.transform, src.width, src.height))):
        return ""
    name = Path(str(image_path)).name
    code = exact_code(crs)
    wkt = f"{Path(name).stem}.wkt"
    if code:
        return (f" They lie on {name} in its CRS ({crs_name(crs)}): if that is theirs, "
                f"--labels-crs {code}.")
    return (f" They lie on {name} in its CRS ({crs_name(crs)}), which has no EPSG code: if "
            f"that is theirs, `gdalsrsinfo -o wkt {shlex.quote(name)} > {shlex.quote(wkt)}`, "
            f"then --labels-crs {shlex.quote(wkt)}.")


def _any_image_matched(labels, by_crs, labels_path, image_paths, options, class_field,
                       class_map, spacenet_rows) -> bool:
    """Whether a feature of ``labels`` lies on any of ``image_paths``: then they are in the
    CRS they declare, whatever pixels their coordinates fit."""
    from geotile.input_paths import input_path
    from geotile.label_set import grid_envelope, select_bounds
    from geotile.raster import open_raster

    for image_path in image_paths:
        image_path = input_path(image_path)
        with open_raster(image_path, grid=True) as src:
            _, frame, _ = _image_frame(labels, by_crs, src, labels_path, image_path, options,
                                       class_field, class_map, spacenet_rows)
            if len(select_bounds(frame, grid_envelope(src.transform, src.width, src.height))):
                return True
    return False


def own_rows(frame, labels, image_path):
    """The rows of a SpaceNet CSV whose ImageId is ``image_path``'s: its truth is per image,
    so where tiles overlap a mask holds its own buildings only, whatever other images are in
    the run (none for an image the CSV does not list)."""
    from geotile.spacenet import match_image

    listed = labels.values.get("ImageId", labels.fields["ImageId"].tolist())
    return frame.take(frame.fields["ImageId"] == match_image(image_path, set(listed)))


#: what an image's mask holds without a feature on it, where the image may hold nodata
#: (a drone ortho's tile outside the flight: all 255), as say_no_labels_on's outcomes
NODATA_OUTCOMES = {
    "outcome": "the mask is 0 where the image holds data, 255 (ignore) where it is nodata",
    "outcomes": "their masks are 0 where the images hold data, 255 (ignore) where they are "
                "nodata"}


def say_no_labels_on(labels, frame, labels_path, image_path, extent, crs,
                     outcome: str | None = None,
                     outcomes: str = "their masks are all zeros",
                     layer: str | None = None, size: tuple[int, int] | None = None) -> None:
    """Why ``image_path``'s mask is all zeros: a SpaceNet CSV that lists no building on it
    (its "no building" row) says so in the log; one without a row for it, or vector labels
    that lie elsewhere (a wrong CRS, another image's file), in a warning. ``outcome``: what
    that leaves of the image in place of its all-zero mask (tile: its annotations);
    ``outcomes``: the same said of many images at once; ``layer``: the one read (--layer),
    named where it is empty (the file's other layers may hold features); ``size``: the
    image's (width, height) in pixels, to name --labels-crs pixels for lon/lat labels within
    them (None where another image of the run has a feature: lon/lat they are)."""
    from geotile.input_paths import input_path
    from geotile.pixel_labels import fits_pixels, no_overlap

    image = input_path(image_path).name  # a URL's ?query (a signature) is no part of it
    import shapely

    if labels.where is not None and len(labels) == 0 and labels.where[1]:  # not a CRS's
        # fault, nor an empty file's (geotile's GeoJSON reader gives no extent)
        expression, count = labels.where
        near = " near the image" if labels.extent is not None else ""
        warn(GeotileWarning(
            f"{labels_path}: --where {expression!r} selects none of its {count} "
            f"features{near}; {outcome or f'the mask of {image} is all zeros'}.", about=image,
            advice=f"--where {expression!r} selects none of their labels' features; "
            f"{outcomes}."))
        return
    shapeless = shapely.is_missing(labels.geometries) | shapely.is_empty(labels.geometries)
    if shapeless.all() and labels.extent is None and "ImageId" not in labels.fields:
        # an empty file (SpaceNet's GeoJSON of a tile without buildings, or LINESTRING
        # EMPTY roads, say)
        features = "features with a geometry" if len(labels) else "features"
        where = f"layer {layer!r} of {labels_path}" if layer else labels_path
        warn(GeotileWarning(
            f"{where} holds no {features}; "
            f"{outcome or f'the mask of {image} is all zeros'}.", about=image,
            advice=f"the labels given for them hold no {features}; {outcomes}."))
        return
    if "ImageId" in labels.fields and {"BuildingId", "RoadId"} & set(labels.fields):
        from geotile.spacenet import match_image

        listed = labels.values.get("ImageId", labels.fields["ImageId"].tolist())
        if match_image(image_path, set(listed)) is not None:
            log.info("%s lists no %s on %s: %s", labels_path,
                     "building" if "BuildingId" in labels.fields else "road", image,
                     outcome or "its mask is all zeros")
            return
        message = (f"{labels_path} has no row for {image}; {outcome or 'its mask is all zeros'}"
                   ". SpaceNet matches ImageId to the image name without its product prefix.")
        advice = (f"{labels_path} has no row for them; {outcomes}. SpaceNet matches ImageId to "
                  "the image name without its product prefix.")
    elif (pixels := no_overlap(labels, image, outcome or "the mask is all zeros",
                               outcomes)) is not None:  # --labels-crs pixels: said in pixels
        message, advice = f"{labels_path}: {pixels[0]}", pixels[1]
    else:
        why = ("The labels' CRS may be wrong or missing (pass --labels-crs with the CRS their "
               "coordinates are in, or write them in the image's CRS) or the file may belong "
               "to another image.")
        if _swapped_axes(extent, crs, labels):
            why = ("Their coordinates are latitude, longitude (as some tools write EPSG:4326): "
                   "swapped, they cover the image. Write them longitude first (ogr2ogr -t_srs "
                   f"EPSG:4326 -ct '+proj=axisswap +order=2,1' fixed.gpkg {labels_path}).")
        message = (f"{labels_path}: no feature overlaps {image} (labels span "
                   f"{_labels_span(labels)}, the image {_fmt_bounds(extent)} in "
                   f"{crs.to_string() if crs else 'no CRS'}{_in_labels_crs(extent, crs, labels)}"
                   f"); {outcome or 'the mask is all zeros'}. {why}")
        advice = (f"no feature of their labels overlaps them; {outcomes}. The labels' CRS may "
                  "be wrong or missing (pass --labels-crs with the CRS their coordinates are in, "
                  "or write them in the images' CRS) or they may belong to other images.")
        if size is not None and "swapped" not in why \
                and (pixels := fits_pixels(labels, *size, image)):
            message += pixels
            advice += (" They lie within the images' pixels, as pixel coordinates would: pass "
                       "--labels-crs pixels if they are.")
    warn(GeotileWarning(message, about=image, advice=advice))


def mask_profile(src, count: int, ignore: bool, creation_options: dict) -> dict:
    """The GeoTIFF profile of a mask on ``src``'s grid: DEFLATE without a predictor unless
    asked (horizontal differencing makes class ids larger and slower to compress)."""
    from geotile.raster import output_profile

    profile = output_profile(src, count=count, dtype="uint8", nodata=IGNORE if ignore else None,
                             creation_options=creation_options)
    if "predictor" in profile and "predictor" not in (creation_options or {}):
        profile["predictor"] = 1
    return profile


def _burn_bands(src, dst, labels, options: MaskOptions, progress: bool,
                ignore: bool = False, regions: bool = False,
                left_out=None) -> tuple[int, int]:
    """Burn ``labels`` into ``dst`` (on ``src``'s grid) by row bands with a halo, ``IGNORE``
    where ``src`` is nodata when ``ignore`` (``regions``: some labels are of class
    ``IGNORE``, or ``left_out``, a :class:`geotile.ignore_regions.RegionMask`, marks
    pixels: burnt after the labels); returns (positive footprint pixels, ignored pixels)."""
    from rasterio.windows import Window

    from geotile.label_set import grid_envelope, select_bounds
    from geotile.progress import progress_bar
    from geotile.raster import alpha_holds_values

    positives, ignored, halo = 0, 0, options.halo
    data_alpha = ignore and alpha_holds_values(src)  # RGB+NIR: NIR 0 is a value
    parts = row_blocks(src.height, options.band_rows, 0, src.width)
    # GDAL compresses and writes a band (without the GIL) while the next is burnt
    with BackgroundWriter() as writer:
        for part in progress_bar(parts, progress, desc=Path(src.name).name, unit="band"):
            # the halo reaches past the raster's edges too: the labels go on beyond them, so
            # a tile's boundary and contact pixels are those of the scene it was cut from
            window = Window(-halo, part.top - halo, src.width + 2 * halo, part.rows + 2 * halo)
            core = Window(0, part.top, src.width, part.rows)
            band_labels = select_bounds(labels, grid_envelope(
                src.transform, window.width, window.height, window.col_off, window.row_off))
            bands = rasterize_labels(
                band_labels.geometries,
                band_labels.fields["class_id"].tolist(),
                (part.rows, src.width),
                window_transform(core, src.transform),
                options,
                halo_transform=window_transform(window, src.transform),
                grid_transform=src.transform,
                ignore_ok=True,
            )
            if ignore:
                _ignore_nodata(src, core, bands, data_alpha)
            hit = left_out(core) if left_out is not None else None
            if hit is not None:  # a second pass, as gdal_rasterize's: over every class
                bands[:, hit] = IGNORE
            writer.submit(dst.write, bands, window=core)
            # class ids stop at 254: IGNORE pixels are the image's nodata and the regions to
            # ignore (COCO's crowd), in every band
            hidden = (int(np.count_nonzero(bands[options.counted] == IGNORE))
                      if ignore or regions else 0)
            positives += int(np.count_nonzero(bands[options.counted])) - hidden
            ignored += hidden
    return positives, ignored


def _ignore_nodata(src, window, bands: np.ndarray, alpha_as_data: bool = False) -> int:
    """Set ``bands`` to ``IGNORE`` where ``src`` is nodata in ``window`` (for a float image
    also where a band is NaN or its own nodata; ``alpha_as_data``: an alpha band holding
    values is no mask: :func:`geotile.raster.read_block`); returns how many pixels (of one
    band) that is."""
    from geotile.raster import valid_pixels

    valid = valid_pixels(src, window, None, alpha_as_data)
    bands[:, ~valid] = IGNORE
    return int(valid.size - np.count_nonzero(valid))


def _class_names_json(names: dict[int, str]) -> str:
    top = max(names, default=0)
    return json.dumps(["background"] + [names.get(i, str(i)) for i in range(1, top + 1)])


def _labels_span(labels) -> str:
    """The labels' bounds for a message, in their own coordinates (a wrong CRS projects them
    to inf or far off): the whole file's where known (not those read near the run's other
    images), else those read."""
    bounds = labels.extent
    if bounds is None or not np.isfinite(bounds).all():
        bounds = labels.total_bounds
    crs = labels.crs.to_string() if labels.crs is not None else "no CRS"
    return f"{_fmt_bounds(bounds)} in {crs}"


def _in_labels_crs(extent, crs, labels) -> str:
    """", (bounds) in the labels' CRS" of the image's ``extent`` in ``crs``, to set beside the
    labels' own; "" where the CRSs agree or the image cannot be placed in theirs."""
    from rasterio.warp import transform_bounds

    if crs is None or labels.crs is None or one_crs(crs, labels.crs, ellipsoid_only=True):
        return ""
    try:
        bounds = transform_bounds(crs, labels.crs, *extent)
    except Exception:  # no place in their CRS: nothing to add
        return ""
    if not np.isfinite(bounds).all():
        return ""
    return f", {_fmt_bounds(bounds)} in the labels' {labels.crs.to_string()}"


def _swapped_axes(extent, crs, labels) -> bool:
    """Whether lon/lat labels given as (latitude, longitude) would cover the image's
    ``extent`` (in ``crs``) with their x and y swapped: a feature does (not merely their
    box, which labels round a lon/lat image near lon = lat cover either way round)."""
    import shapely
    from rasterio.warp import transform_bounds

    if crs is None or labels.crs is None or not labels.crs.is_geographic:
        return False

    try:
        image = extent if one_crs(crs, labels.crs, ellipsoid_only=True) else \
            transform_bounds(crs, labels.crs, *extent)
    except Exception:  # no place in their CRS
        return False
    if labels.extent is None:  # all read: a swapped feature lies on the image
        swapped = shapely.transform(labels.geometries, lambda xy: xy[:, ::-1])
        return bool(shapely.intersects(swapped, shapely.box(*image)).any())

    def covers(minx, miny, maxx, maxy) -> bool:
        return minx <= image[2] and image[0] <= maxx and miny <= image[3] and image[1] <= maxy

    # only some read: the file's box covers the image swapped, and not as it is
    y0, x0, y1, x1 = labels.extent
    return bool(covers(x0, y0, x1, y1) and not covers(*labels.extent))


def _fmt_bounds(bounds) -> str:
    return "({:.6g}, {:.6g}, {:.6g}, {:.6g})".format(*bounds)


class RegionMask:
    """The pixels of one image that its --ignore regions cover, by window of its grid (a
    context manager: region rasters stay open, warped onto the image's grid, until it ends;
    the files are paired and checked by :mod:`geotile.ignore_regions`)."""

    def __init__(self, files, src, all_touched: bool = False):
        self.files, self.src, self.all_touched = tuple(files), src, all_touched
        self.shapes: list = []
        self.warped: list = []
        self._stack = None

    def __enter__(self) -> RegionMask:
        from contextlib import ExitStack

        from rasterio.enums import Resampling
        from rasterio.vrt import WarpedVRT

        from geotile.ignore_regions import areas, is_region_raster, read_ignore_regions
        from geotile.input_paths import input_path
        from geotile.label_set import grid_envelope
        from geotile.raster import open_raster

        self._stack = ExitStack()
        image = self.src
        for f in self.files:
            if is_region_raster(f):
                region = self._stack.enter_context(open_raster(input_path(f)))
                self.warped.append(self._stack.enter_context(WarpedVRT(
                    region, crs=image.crs, transform=image.transform, width=image.width,
                    height=image.height, resampling=Resampling.nearest)))
                continue
            labels, _ = areas(read_ignore_regions(f, [(image.crs, grid_envelope(
                image.transform, image.width, image.height))]))  # lines: said in the check
            if len(labels):
                frame, _ = prepare_labels(labels, image.crs, f)
                self.shapes.append(frame)
        return self

    def __exit__(self, *exc) -> None:
        if self._stack is not None:
            self._stack.close()

    def __call__(self, window) -> np.ndarray | None:
        """Where ``window`` (of the image) is ignored, a boolean array; None: nowhere."""
        if not self.shapes and not self.warped:
            return None
        from rasterio.features import geometry_mask

        from geotile.label_set import grid_envelope, select_bounds

        shape = (int(window.height), int(window.width))
        transform = window_transform(window, self.src.transform)
        hit = np.zeros(shape, bool)
        for frame in self.shapes:
            near = select_bounds(frame, grid_envelope(transform, shape[1], shape[0]))
            geometries = [g for g in near.geometries if g is not None and not g.is_empty]
            if geometries:
                hit |= geometry_mask(geometries, shape, transform, invert=True,
                                     all_touched=self.all_touched)
        for vrt in self.warped:  # nonzero pixels, not the region raster's nodata
            values = np.ma.masked_invalid(vrt.read(1, window=window, masked=True))
            hit |= np.asarray(values.filled(0) != 0)
        return hit if hit.any() else None
