"""Turn class or probability rasters into clean building polygons.

Strategy, per raster, by row bands (bounded memory): read a band -> class ids
(threshold or argmax, :func:`class_ids`) -> connected regions per class
(4-connectivity: diagonal neighbours are separate buildings) -> polygons with
holes, each with the sum and count of its probabilities. Regions touching a
band's first or last row or the raster's side columns may continue in the next
band or in an adjacent raster: they are merged by a union per class at the end
(pixel edges coincide exactly, so touching parts fuse and nothing else does),
which also joins buildings across the edges of a mosaic of orthotiles.

Cleaning works in metres (the raster's CRS when it is projected in metres,
else a local UTM zone; rasters without a CRS in their own units): fill small
holes, drop small polygons, simplify (all classes together, edges they share kept shared:
:mod:`geotile.coverage`), and optionally
regularise outlines to the building's dominant direction (right angles,
straight walls).

Inputs are checked first (:func:`~geotile.vectorize_inputs.check_inputs`): one CRS, no
raster twice, no two rasters overlapping. Class ids stay exact whatever the raster's
integer type. The output (:data:`~geotile.vector_output.WRITERS`) is in EPSG:4326 for
GeoJSON (RFC 7946) and in the rasters' CRS for other formats unless ``crs`` says otherwise;
it is written in a temporary folder, its features counted back, then moved into place
without replacing anything that appeared meanwhile
(:func:`~geotile.vector_output.write_vector`).
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geotile.affine_math import apply
from geotile.class_values import (
    check_class_names,
    check_each_class_once,
    class_id_of,
    class_name_of,
    known_classes,
    parse_per_class,
    per_class_values,
)
from geotile.coverage import edge_matched, simplify_coverage
from geotile.crs_identity import one_crs
from geotile.errors import GeotileWarning, InputError, UsageError, check_range, check_whole
from geotile.gc_pause import gc_paused
from geotile.nodata_classes import refuse_nodata_class
from geotile.output_crs import (
    check_missing_crs,
    check_output_crs,
    densified_to_crs,
    moved_rows,
    on_pixel_corners,
    output_crs,
    parse_crs,
    raster_centre,
    to_output_crs,
    warn_inexact_datum,
)
from geotile.raster_kinds import (
    binary_mask_kind,
    check_probabilities,
    class_ids,
    ignores_255,
    may_ignore_255,
    plain_bands,
    raster_kind,
    reads_nodata,
    warn_if_other_class_bands,
    warn_if_scaled_class_raster,
    zero_nodata,
)
from geotile.regularize import (
    building_rows,
    clipped,
    close_class_walls,
    largest_polygon,
    regularize_coverage,
)
from geotile.streaming import DEFAULT_BAND_ROWS, row_blocks
from geotile.touching_union import touching_unions
from geotile.user_warnings import warn
from geotile.vector_output import (
    check_not_an_input,
    check_vector_output,
    text_columns,
    write_vector,
)
from geotile.vectorize_inputs import check_inputs, raster_file_name, same_class_names

log = logging.getLogger("geotile")

#: above this many classes in a band, one labelling pass (scikit-image) beats one per class
FEW_CLASSES = 8
FOUR_CONNECTED = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]])
@dataclass(frozen=True)
class VectorizeOptions:
    """Cleaning options; areas in m2 and lengths in metres. ``min_area`` and ``simplify``
    may be per class ({class name or id: value, "*": default}, :func:`parse_per_class`);
    ``classes`` (names or ids) keeps only those classes."""

    threshold: float | None = None
    min_area: float | dict[str, float] = 0.0
    simplify: float | dict[str, float] = 0.0
    fill_holes: float = 0.0
    regularize: bool = False
    crs: str | None = None  # None: EPSG:4326 for GeoJSON, else the source CRS; "source"; a CRS
    classes: tuple[str, ...] | None = None
    #: rows per band (memory: a band of the raster's width); regions are joined at seams
    band_rows: int = DEFAULT_BAND_ROWS
    #: processes polygonizing bands (None: one per CPU, up to 8; 1: this process only)
    workers: int | None = None

    def __post_init__(self) -> None:
        check_options(self, fill_holes=0.0)
        check_whole(self, "workers", "--workers", 1)


def check_options(options, **floors) -> None:
    """What VectorizeOptions and LineOptions share, checked as the command checks its
    options (InputError in one line): --threshold in 0..1, --min-area and --simplify >= 0
    (numbers, per-class dicts or their text), one class name given as a str is that class,
    and ``floors``: {field: least value}."""
    check_range("--threshold", options.threshold, 0, 1)
    for name in ("min_area", "simplify"):
        value = getattr(options, name, None)
        if isinstance(value, str):  # "car=2,building=10"
            value = parse_per_class(value, _flag(name))
            object.__setattr__(options, name, value)
        for number in value.values() if isinstance(value, dict) else [value]:
            check_range(_flag(name), number, 0)
    if isinstance(options.classes, str):
        object.__setattr__(options, "classes", (options.classes,))
    for name, low in {"band_rows": 1, **floors}.items():
        if isinstance(low, int):  # a whole number
            check_whole(options, name, _flag(name), low)
        else:
            check_range(_flag(name), getattr(options, name), low)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")



def polygonize_array(ids: np.ndarray, score: np.ndarray | None, transform,
                     foreground: np.ndarray | None = None):
    """Connected regions of each class as polygons.

    Returns a list of ``(polygon, class_id, score_sum, pixel_count, on_edge)``,
    ``on_edge`` meaning the region touches the array's border rows or columns.
    ``score`` None (a class raster): every pixel scores 1, and GDAL's polygonizer
    finds the regions of each class by itself, in one pass. ``foreground``: the pixels
    to polygonize (None: ids other than 0, background); where id 0 is a class, its
    pixels there are polygonized too. Arrays are (H, W), or one band (1, H, W); the masked
    pixels of masked arrays (``src.read(masked=True)``) are left out.
    """
    masked = [np.ma.getmaskarray(a) for a in (ids, score) if np.ma.isMaskedArray(a)]
    ids = _one_band(ids, "ids")
    score, foreground = (None if a is None else _one_band(a, name, ids.shape)
                         for a, name in ((score, "score"), (foreground, "foreground")))
    if any(mask.any() for mask in masked):
        keep = ~np.logical_or.reduce([_one_band(mask, "mask", ids.shape) for mask in masked])
        foreground = keep & (ids != 0 if foreground is None else foreground)
    ids = _whole_class_ids(ids, foreground)
    if score is None:
        return _class_regions(ids, transform, foreground)
    if foreground is None:
        foreground = ids != 0
    classes = _classes(ids[foreground])
    if len(classes) > FEW_CLASSES and _has_skimage():  # one labelling pass for all classes
        from skimage.measure import label as label_regions

        coded = np.where(foreground, ids.astype(np.int64) + 1, 0)  # 0: no region
        labels = label_regions(coded, background=0, connectivity=1).astype(np.int32,
                                                                            copy=False)
        class_of = np.zeros(int(labels.max()) + 1, np.int64)
        class_of[labels.ravel()] = coded.ravel() - 1
        return _regions(labels, class_of, score, transform)
    from scipy import ndimage

    regions = []
    for class_id in classes:
        labels, count = ndimage.label((ids == class_id) & foreground, structure=FOUR_CONNECTED)
        class_of = np.full(count + 1, int(class_id), np.int64)
        regions += _regions(labels.astype(np.int32, copy=False), class_of, score, transform)
    return regions


def _one_band(array, name: str, shape: tuple[int, int] | None = None) -> np.ndarray:
    """``array`` as (H, W): a (1, H, W) read squeezed; InputError for other shapes, or
    (``shape``) for one unlike the ids'."""
    array = np.ma.getdata(array)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise InputError(f"polygonize_array: {name} has shape {array.shape}; give one band "
                         "(H, W), e.g. src.read(1).")
    if shape is not None and array.shape != shape:
        raise InputError(f"polygonize_array: {name} has shape {array.shape}; give the ids' "
                         f"{shape}.")
    return array


def _whole_class_ids(ids: np.ndarray, foreground: np.ndarray | None) -> np.ndarray:
    """``ids`` as integers that fit int32: float ids of whole numbers cast, InputError for
    fractions, negative ids or ids above MAX_CLASS_ID among the pixels polygonized
    (``foreground``, None: all)."""
    from geotile.raster_kinds import MAX_CLASS_ID

    if ids.dtype == bool:  # a mask (src.read(1) > 0): class 1, as GDAL takes uint8
        return ids.view(np.uint8)
    considered = ids if foreground is None else ids[foreground]
    if np.issubdtype(ids.dtype, np.floating):
        broken = considered[~np.isfinite(considered) | (considered != np.floor(considered))]
        if broken.size:
            raise InputError(f"polygonize_array: the ids hold fractions ({broken.flat[0]:g}); "
                             "give class ids, e.g. (probability >= 0.5).astype('uint8').")
    if considered.size and considered.min() < 0:
        raise InputError(f"polygonize_array: the ids hold negative values "
                         f"({considered.min():g}); give class ids >= 0 (mask nodata with "
                         "src.read(1, masked=True)).")
    if considered.size and considered.max() > MAX_CLASS_ID:
        raise InputError(f"polygonize_array: the ids reach {considered.max():.0f}; give "
                         "class ids below 2**31.")
    if ids.dtype not in (np.uint8, np.uint16, np.int16, np.int32):
        if foreground is not None:  # the pixels left out may hold anything: 0
            ids = np.where(foreground, ids, 0)
        ids = ids.astype(np.int32)
    return ids


def _classes(ids: np.ndarray) -> np.ndarray:
    """The class ids present (whole numbers >= 0), ascending; counted by id where that
    takes no more memory than the ids themselves."""
    if not ids.size:
        return np.zeros(0, np.int64)
    if ids.max() < max(ids.size, 1 << 16):
        return np.flatnonzero(np.bincount(ids.ravel()))
    return np.unique(ids)


def _class_regions(ids: np.ndarray, transform, foreground: np.ndarray | None = None):
    """:func:`polygonize_array` of a class raster: regions straight from GDAL (4-connected,
    one value each), pixel counts from their areas, edge flags from their pixel bounds."""
    import shapely

    from geotile.quiet_warnings import shapes

    found = list(shapes(ids, mask=ids > 0 if foreground is None else foreground,
                        connectivity=4, transform=transform))
    polygons = polygons_from_geojson([geometry for geometry, _ in found])
    counts = np.rint(shapely.area(polygons) / abs(transform.determinant)).astype(np.int64)
    edge = _touches_border(polygons, ids.shape, transform)
    return [(polygon, int(value), float(count), int(count), bool(on_edge))
            for polygon, (_, value), count, on_edge in zip(polygons, found, counts, edge,
                                                             strict=True)]


def _touches_border(polygons: np.ndarray, shape: tuple[int, int], transform) -> np.ndarray:
    """Whether each pixel-edged polygon reaches the first or last row or column of an
    array of ``shape`` georeferenced by ``transform``."""
    import shapely

    if not len(polygons):
        return np.zeros(0, bool)
    coords, index = shapely.get_coordinates(shapely.get_exterior_ring(polygons),
                                            return_index=True)
    cols, rows = apply(~transform, coords[:, 0], coords[:, 1])
    near = ((rows < 0.5) | (rows > shape[0] - 0.5) | (cols < 0.5) | (cols > shape[1] - 0.5))
    return np.bincount(index, weights=near, minlength=len(polygons)) > 0


def _has_skimage() -> bool:
    try:
        import skimage.measure  # noqa: F401
    except ImportError:  # pragma: no cover - a dependency since the instances work
        return False
    return True


def _regions(labels: np.ndarray, class_of: np.ndarray, score: np.ndarray, transform):
    """Polygons, classes, score sums, pixel counts and edge flags of labelled regions."""
    from geotile.quiet_warnings import shapes

    count = len(class_of) - 1
    sums = np.bincount(labels.ravel(), weights=score.ravel(), minlength=count + 1)
    counts = np.bincount(labels.ravel(), minlength=count + 1)
    edge = np.zeros(count + 1, bool)
    for line in (labels[0], labels[-1], labels[:, 0], labels[:, -1]):
        edge[line] = True
    found = list(shapes(labels, mask=labels > 0, connectivity=4, transform=transform))
    polygons = polygons_from_geojson([geometry for geometry, _ in found])
    regions = []
    for polygon, (_, label) in zip(polygons, found, strict=True):
        label = int(label)
        regions.append((polygon, int(class_of[label]), float(sums[label]), int(counts[label]),
                        bool(edge[label])))
    return regions


def polygons_from_geojson(geometries: list[dict]) -> np.ndarray:
    """GeoJSON Polygon dicts (as rasterio's ``shapes`` yields them) as shapely polygons,
    built in one pass from flat coordinate arrays (shapely's ``shape`` is 5x slower)."""
    import shapely

    if not geometries:
        return np.empty(0, dtype=object)
    rings = [ring for geometry in geometries for ring in geometry["coordinates"]]
    ring_offsets = np.concatenate([[0], np.cumsum(np.fromiter(map(len, rings), np.int64,
                                                             len(rings)))])
    chain = itertools.chain.from_iterable
    coords = np.fromiter(chain(chain(rings)), np.float64, 2 * int(ring_offsets[-1]))
    coords = coords.reshape(-1, 2)
    polygon_offsets = np.concatenate(
        [[0], np.cumsum([len(geometry["coordinates"]) for geometry in geometries])])
    return shapely.from_ragged_array(shapely.GeometryType.POLYGON, coords,
                                     (ring_offsets, polygon_offsets))


def canonical_order(rows: list) -> list:
    """Region rows (geometry, class id, ...) with each geometry in GEOS's normal form (rings
    from a fixed vertex, fixed winding) and in one order (class, then top to bottom, left
    to right), whichever band or worker made them: cleaning works on the whole coverage in
    feature order from each ring's first vertex, so otherwise the band seams (which follow
    the worker count) changed simplified and squared polygons."""
    import shapely

    if not rows:
        return rows
    geometries = shapely.normalize(np.array([r[0] for r in rows], dtype=object))
    bounds = shapely.bounds(geometries)
    classes = np.array([r[1] for r in rows])
    order = np.lexsort((bounds[:, 2], bounds[:, 1], bounds[:, 0], -bounds[:, 3], classes))
    return [(geometries[i], *rows[i][1:]) for i in order]


def merge_edge_regions(regions, tolerance: float = 0.0):
    """Union the edge-touching regions of each class; returns merged region tuples.
    ``tolerance`` > 0 (a rotated grid, :func:`places_edges_exactly`): the regions are
    :func:`~geotile.coverage.edge_matched` first, as a pixel corner on a neighbour's wall
    lies a round-off off it and the union would keep the two apart."""
    import shapely

    by_class: dict[int, list] = {}
    for region in regions:
        by_class.setdefault(region[1], []).append(region)
    merged = []
    for class_id, members in sorted(by_class.items()):
        polygons = [r[0] for r in members]
        if tolerance > 0:
            polygons = edge_matched(polygons, tolerance)
        # without the seams' collinear vertices: the same outline, vertex for vertex,
        # whichever rows the bands were cut at
        parts = list(without_straight_vertices(touching_unions(polygons), tolerance))
        tree = shapely.STRtree(parts)
        sums = np.zeros(len(parts))
        counts = np.zeros(len(parts), int)
        for polygon, _, total, count, _ in members:
            hit = tree.query(polygon.representative_point(), predicate="intersects")
            if hit.size:
                sums[hit[0]] += total
                counts[hit[0]] += count
        merged += [(part, class_id, sums[i], counts[i], False) for i, part in enumerate(parts)]
    return merged


def without_straight_vertices(polygons, tolerance: float = 0.0) -> np.ndarray:
    """``polygons`` without the vertices that lie on the straight line between their two
    neighbours (within ``tolerance``; 0: exactly, as on a north-up grid), where a seam cut
    an edge. Douglas-Peucker (``shapely.simplify(p, 0)``) is no way to drop them: it keeps
    every vertex it once split a ring at, collinear or not, so 3 of 100 land-cover rasters
    kept a seam's vertex that the whole raster's polygon lacks."""
    import shapely

    polygons = np.asarray(polygons, dtype=object)
    if not len(polygons):
        return polygons
    empty = shapely.is_missing(polygons) | shapely.is_empty(polygons)
    if empty.any():  # no ring of theirs: the others' rings keep their polygons' places
        out = polygons.copy()
        out[~empty] = without_straight_vertices(polygons[~empty], tolerance)
        return out
    rings, ring_of = shapely.get_rings(polygons, return_index=True)
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    closing = np.r_[ring[1:] != ring[:-1], True]  # each ring's last point repeats its first
    coords, ring = coords[~closing], ring[~closing]
    first = np.r_[True, ring[1:] != ring[:-1]]
    last = np.r_[ring[1:] != ring[:-1], True]
    at = np.arange(len(coords))
    start = np.maximum.accumulate(np.where(first, at, 0))
    end = np.repeat(at[last], np.bincount(ring))
    before = coords[np.where(first, end, at - 1)]
    after = coords[np.where(last, start, at + 1)]
    chord = after - before
    cross = (coords - before)[:, 0] * chord[:, 1] - (coords - before)[:, 1] * chord[:, 0]
    ahead = ((coords - before) * chord).sum(axis=1)
    straight = ((np.abs(cross) <= tolerance * np.hypot(*chord.T)) & (ahead > 0)
                & (ahead < (chord**2).sum(axis=1)))
    # a ring thinner than the tolerance keeps its vertices: three at least make a ring
    straight &= (np.bincount(ring[~straight], minlength=len(rings)) >= 3)[ring]
    if not straight.any():
        return polygons
    rings = shapely.linearrings(coords[~straight], indices=ring[~straight])
    return shapely.polygons(rings, indices=ring_of)


def _metric_crs(crs, frame):
    """The raster's CRS where its unit is a ground metre (UTM, national grids), else the
    local UTM zone (a Lambert azimuthal equal-area projection at the data's centre where
    no zone fits): Web Mercator's "metres" are 1/cos(latitude) ground metres, so areas,
    --min-area and --simplify are measured on the ground (geotile.ground_scale)."""
    from geotile.ground_scale import metric_crs

    return metric_crs(crs, frame)


def clean(frame, options: VectorizeOptions, cell: float, exact: bool = True,
          names: list[str] | None = None, matched: bool = False, extent=None,
          valid=None, rotated: bool = False):
    """Edge-match (:func:`~geotile.coverage.edge_matched`; ``exact``: the polygons are in
    the raster's own CRS, not reprojected; ``matched``: they are already), fill holes,
    simplify, regularise and drop small polygons (and those simplified into nothing), in a
    metric CRS. The polygons of a raster tile its surface: cleaning never makes two of them
    overlap, and on a north-up grid in its own CRS (``exact``) the strips squared buildings
    give up along another class go to that class
    (:func:`~geotile.regularize.close_class_walls`). ``names``: the rasters' class names by
    id (per-class keys naming a class are that class: :func:`per_class_values`); ``extent``:
    the rasters' surface (exact grids): squared polygons end at its edge, which closes the
    strips along it; ``valid``: that surface less its nodata pixels (in the polygons' CRS),
    None without any: squared polygons are clipped to it; ``rotated``: the rasters' grid is
    rotated (:func:`places_edges_exactly` false): clipped polygons are not matched again."""

    # a coverage: where regions meet on another's straight edge, that edge gets the vertex too
    geometries = frame.geometry.values if matched else edge_matched(
        frame.geometry.values, cell * 1e-3, exact)
    if options.fill_holes > 0:
        geometries = fill_small_holes(geometries, options.fill_holes)
    tolerance = per_class_values(options.simplify, frame, names)
    if np.any(tolerance > 0):  # all classes at once: the edges they share stay shared
        geometries = np.asarray(simplify_coverage(geometries, tolerance, cell, noded=True),
                                dtype=object)
    # after simplifying: squared buildings leave the coverage's edges unshared, and the
    # polygons would then be simplified one by one, into each other
    if options.regularize:  # squared walls end on neighbours' edges: matched again
        rows = building_rows(frame)
        squared = edge_matched(regularize_coverage(geometries, rows, cell), cell * 1e-3)
        # only on a north-up grid in its own CRS: elsewhere vertices a round-off apart,
        # matched twice, left outlines GEOS could no longer overlay (rotated by 17 degrees)
        closed = close_class_walls(squared, geometries, rows, cell, extent) if exact \
            else squared
        if valid is not None:  # squared walls past a nodata collar: cut there
            closed = closed.copy()
            closed[rows] = _within(closed[rows], valid, cell)
        # clipped: matched again, except on a rotated grid, where that made 43 of 478
        # outlines cross themselves (vertices a round-off apart, matched a third time)
        geometries = closed if closed is squared or rotated else \
            edge_matched(closed, cell * 1e-3)
    frame = frame.set_geometry(list(geometries), crs=frame.crs)
    area = frame.geometry.area.to_numpy()
    frame["area_m2"] = area.round(2)
    # polygons simplified flat (collinear vertices left: a self-intersecting ring once
    # reprojected) are left out
    keep = area > COLLAPSED * cell**2
    smallest = per_class_values(options.min_area, frame, names)
    if np.any(smallest > 0):
        keep &= frame["area_m2"].to_numpy() >= smallest
    return frame if keep.all() else frame[keep]


def _within(polygons: np.ndarray, valid, cell: float) -> np.ndarray:
    """``polygons`` clipped to ``valid`` (:func:`~geotile.regularize.clipped`); a clipped
    one whose edge passed a pixel corner of its staircase (a wall on a diagonal) pinched
    there a round-off apart: it is snapped onto a 1e-6 pixel grid, the pinch parted, and
    keeps its largest part."""
    import shapely

    out = clipped(polygons, valid)
    changed = np.flatnonzero([a is not b for a, b in zip(out, polygons, strict=True)])
    for i in changed:
        if out[i] is not None:
            out[i] = largest_polygon(shapely.set_precision(out[i], cell * 1e-6)) or out[i]
    return out


#: a cleaned polygon of less than this fraction of a pixel's area has collapsed (left out)
COLLAPSED = 1e-6


def fill_small_holes(geometries: np.ndarray, max_area: float) -> np.ndarray:
    """Holes smaller than ``max_area`` filled, except those holding another polygon
    (another class, an island, a building split off): filling would cover it twice."""
    import shapely

    tree = shapely.STRtree(geometries)
    out = geometries.copy()
    for i, polygon in enumerate(geometries):
        if polygon is None or polygon.geom_type != "Polygon" or not polygon.interiors:
            continue
        holes = [ring for ring in polygon.interiors if shapely.Polygon(ring).area >= max_area
                 or len(tree.query(shapely.Polygon(ring), predicate="contains"))]
        if len(holes) < len(polygon.interiors):
            out[i] = shapely.Polygon(polygon.exterior, holes)
    return out


def _say_nothing_squared(options: VectorizeOptions, frame, paths) -> None:
    """A warning when --regularize squares no polygon: no class is named as buildings."""
    if not options.regularize or not len(frame) or building_rows(frame).any():
        return
    classes = ", ".join(dict.fromkeys(frame["class"].astype(str)))
    warn(f"{raster_file_name(paths[0])}: --regularize squares classes named as buildings "
         "(building, house, roof, garage, ...), none of " + classes + ": their "
         "outlines are left as polygonized. Name the classes (tag "
         "GEOTILE_CLASS_NAMES, gdal_edit.py -mo), or leave out --regularize.",
         GeotileWarning)


def vectorize_polygons(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    output: str | os.PathLike,
    *,
    options: VectorizeOptions = VectorizeOptions(),
    overwrite: bool = False,
    progress: bool = False,
) -> dict:
    """Polygonize rasters (one path or a sequence of paths) into one vector file (GeoJSON,
    GeoPackage, GeoParquet, Shapefile or FlatGeobuf; see :data:`~geotile.vector_output.WRITERS`).

    Buildings crossing band seams or the edges of adjacent rasters are merged. The output
    is in ``options.crs``: by default EPSG:4326 for GeoJSON (RFC 7946) and the rasters' CRS
    for every other format. Returns a summary (output, features, per-class counts).
    """
    output = Path(output)
    writer = check_vector_output(output, overwrite)
    target = parse_crs(options.crs)
    paths, crs = check_inputs(paths)
    check_not_an_input(output, writer, paths)
    check_missing_crs(paths, crs, options.crs, writer)
    check_output_crs(output, writer, options.crs, crs)
    frame, crs = polygonize_rasters(paths, options, progress)
    target = output_crs(options.crs, writer, crs)
    if len(frame):
        warn_inexact_datum(paths[0], crs, target)
    cleaned = np.array(frame.geometry.values, dtype=object)  # a copy: the objects it held
    frame = to_output_crs(frame, target, raster_centre(paths[0]))
    moved = moved_rows(cleaned, frame)  # none of a UTM raster's: cleaned in its CRS
    if moved.any() and one_crs(frame.crs, crs, ellipsoid_only=True):  # measured in another
        # CRS and back: pixel corners again
        frame = on_pixel_corners(frame, raster_transforms(paths), moved)
    frame = frame.set_geometry(orient_rings(frame.geometry.values), crs=frame.crs)
    frame = frame.reset_index(drop=True)
    write_vector(frame, output, writer, overwrite, rasters=paths, geometry_type="Polygon")
    counts = frame["class"].value_counts().to_dict() if len(frame) else {}
    log.info("%s: %d polygons from %s", output, len(frame), ", ".join(map(raster_file_name, paths)))
    return summary(output, frame, counts, paths)


def raster_transforms(paths) -> list:
    """Each raster's geotransform."""
    from geotile.raster import open_raster

    transforms = []
    for path in paths:
        with open_raster(path) as src:
            transforms.append(src.transform)
    return transforms


def summary(output, frame, counts: dict, paths) -> dict:
    """What vectorize reports (--json): output, features, per_class, crs, sources."""
    return {"output": str(output), "features": len(frame), "per_class": counts,
            "crs": frame.crs.to_string() if frame.crs is not None else None,
            "sources": [raster_file_name(p) for p in paths]}


@dataclass(frozen=True)
class BandJob:
    """One row band of one raster to polygonize (see :func:`band_regions`)."""

    path: Path | str
    name: str
    indexes: list[int] | None
    kind: object  # geotile.raster_kinds.RasterKind
    keep: np.ndarray | None
    threshold: float
    check_nodata: bool
    top: int
    rows: int
    #: the transform of the pixel grid the raster lies on and its origin's (col, row) there
    #: (:func:`geotile.grid.grid_places`; None: its own)
    grid: object = None
    col: int = 0
    row: int = 0
    #: whether its nodata pixels are wanted (--regularize keeps squared polygons out of them)
    nodata: bool = False


@gc_paused()  # thousands of GeoJSON dicts and lists, none in a cycle
def band_regions(job: BandJob) -> list[tuple]:
    """The regions (:func:`polygonize_array`) of one band, each with its raster's name."""
    import shapely
    from affine import Affine

    from geotile.raster import open_raster, read_band

    with open_raster(job.path) as src:
        # a probability of 0 is a value: a softmax written with an image profile's nodata 0
        # holds one in some band of every pixel (GDAL's mask: nodata where every band is)
        values, valid = read_band(src, job.top, job.rows, src.width, indexes=job.indexes,
                                  check_nodata=job.check_nodata,
                                  band_nodata_values=job.kind.kind != "probability")
        raster_transform = job.grid or src.transform
    check_probabilities(values, valid, job.kind, job.path)  # in each band, as it is read
    ids, score = class_ids(values, valid, job.kind, job.threshold, job.path)
    if job.kind.kind == "class":  # score 1 everywhere: no per-region sums needed
        score = None
    foreground = None  # ids other than 0
    if job.kind.zero_class:  # id 0 is a class: the valid pixels
        foreground = valid if job.keep is None else valid & np.isin(ids, job.keep)
    elif job.keep is not None:  # --classes: the others are background
        ids = np.where(np.isin(ids, job.keep), ids, 0).astype(ids.dtype)
    # polygonized in the pixel coordinates of the raster's grid (whole numbers, exact), then
    # placed with the grid's transform: a vertex lands on the same coordinates whichever band
    # or adjacent raster found it, so outputs do not depend on how the raster was cut
    regions = polygonize_array(ids, score, Affine.translation(job.col, job.row + job.top),
                               foreground)
    def place(polygons):
        return shapely.transform(np.array(polygons, dtype=object),
                                 lambda xy: np.column_stack(apply(raster_transform, *xy.T)))

    placed = place([r[0] for r in regions])
    shipped = ShippedRegions((polygon, *region[1:], job.name)
                             for polygon, region in zip(placed, regions, strict=True))
    if job.nodata and not valid.all():  # a collar: squared polygons stay out (clean's valid)
        shipped.nodata = shapely.union_all(place(nodata_polygons(
            valid, Affine.translation(job.col, job.row + job.top))))
    return shipped


def nodata_polygons(valid: np.ndarray, transform) -> list:
    """The polygons of the pixels not ``valid`` (rasterio.features.shapes), in
    ``transform``'s coordinates."""
    import shapely
    from rasterio.features import shapes

    return [shapely.geometry.shape(shape) for shape, _ in
            shapes(np.zeros(valid.shape, np.uint8), mask=~valid, transform=transform)]


class ShippedRegions(list):
    """Region tuples (polygon first) whose polygons travel from a worker process as flat
    coordinate arrays: shapely pickles each polygon on its own (WKB), 0.09 s to send and
    0.05 s to receive the 7,610 buildings of a 6000 px mask, against 0.03 and 0.01.
    ``nodata``: the band's nodata pixels (a polygon; None without any)."""

    nodata = None

    def __reduce__(self):
        import shapely

        state = {"nodata": self.nodata} if self.nodata is not None else None
        polygons = np.array([region[0] for region in self], dtype=object)
        if not len(self) or not (shapely.get_type_id(polygons) == shapely.GeometryType.POLYGON
                                 ).all() or shapely.has_z(polygons).any():
            return ShippedRegions, (list(self),), state
        _, coords, offsets = shapely.to_ragged_array(polygons)
        return _regions_from_arrays, (coords, offsets, [region[1:] for region in self]), state


def _regions_from_arrays(coords, offsets, rest) -> ShippedRegions:
    """:class:`ShippedRegions` back from their polygons' coordinate arrays."""
    import shapely

    polygons = shapely.from_ragged_array(shapely.GeometryType.POLYGON, coords, offsets)
    return ShippedRegions((polygon, *others)
                          for polygon, others in zip(polygons, rest, strict=True))


def polygonize_rasters(paths: list[Path], options: VectorizeOptions, progress: bool = False):
    """Cleaned polygons of checked rasters (:func:`~geotile.vectorize_inputs.check_inputs`)
    in a metric CRS, and the rasters' CRS: ``(GeoDataFrame, crs)``. Bands are polygonized
    in worker processes where there are several CPUs (:mod:`geotile.band_workers`), in
    order either way."""
    import shapely

    from geotile.band_workers import run_jobs, worker_count
    from geotile.crs_names import pixel_size
    from geotile.grid import grid_places
    from geotile.ground_scale import cell_in_metres
    from geotile.no_georef import map_crs
    from geotile.output_folder import signals_deferred
    from geotile.progress import progress_bar
    from geotile.raster import open_raster
    from geotile.streaming import band_rows, even_band_rows

    forks = worker_count(1 << 30, options.workers)  # 0: the bands run here
    jobs, kinds = [], []
    names, named = None, None
    ignoring = {}  # the sources whose 255 may be the ignore value: whether named
    with open_raster(paths[0]) as first:
        crs, cell = map_crs(first), pixel_size(first.transform)
    transforms, shapes = [], []
    for path in paths:
        with open_raster(path) as src:
            transforms.append(src.transform)
            shapes.append(src.shape)
    places = grid_places(transforms)
    for path, (grid, col, row) in zip(paths, places, strict=True):
        with open_raster(path) as src:
            kind = raster_kind(src, threshold_given=options.threshold is not None)
            indexes, kind = plain_bands(src, binary_mask_kind(src, kind))
            if kind.kind == "class" and indexes is None and src.count > 1:
                warn_if_other_class_bands(src, path, side="vectorize")
            keep = kept_class_ids(options, kind.names, path)
            if kind.kind == "class" and keep is not None:  # --classes naming its nodata
                refuse_nodata_class(src, path, kind.names, "--classes", {int(k) for k in keep})
            ignore = may_ignore_255(src, kind) and (keep is None or 255 not in keep)
            if ignore:
                ignoring[raster_file_name(path)] = bool(kind.names)
            # once, not in each band's worker
            warn_if_scaled_class_raster(src, kind, path, ignore=255 if ignore else None)
            kinds.append(kind.kind)
            named = same_class_names(named, path, kind.names)
            names = named[1] if named else None
            threshold = next(t for t in (options.threshold, kind.threshold, 0.5)
                             if t is not None)
            check = reads_nodata(src, kind)
            # a nodata 0 that is the mask's background (-a_nodata 0) is no collar to end at
            collar = options.regularize and not (
                kind.kind == "class" and (zero := zero_nodata(src)) and zero.background)
            jobs += [BandJob(path, raster_file_name(path), indexes, kind, keep, threshold, check,
                             part.top, part.rows, transforms[grid], col, row, collar)
                     for part in row_blocks(src.height, even_band_rows(
                         src.height, band_rows(src.width, options.band_rows), forks))]
    finished, edge_regions = [], []
    nodata = {}  # each raster's nodata pixels (a polygon per band holding any)
    with gc_paused(), run_jobs(band_regions, jobs, options.workers) as results:
        # imported while the workers polygonize, signals held: Cython modules of theirs
        # swallow a Ctrl-C or SIGTERM raised in their set-up (the run went on, exit 0)
        with signals_deferred():
            import geopandas as gpd
            import pyogrio  # noqa: F401  (the writer's, 0.02 s: here off the critical path)

        for job, regions in zip(jobs, progress_bar(
                results, progress, total=len(jobs), unit="band",
                desc=raster_file_name(paths[0]) if len(paths) == 1 else "rasters"), strict=True):
            if regions.nodata is not None:
                nodata.setdefault(job.path, []).append(regions.nodata)
            for region in regions:
                (edge_regions if region[4] else finished).append(region)
    exact = all(map(places_edges_exactly, transforms))
    rotated = not exact
    merged = merge_edge_regions([r[:5] for r in edge_regions], 0 if exact else cell * 1e-3)
    source_of = _sources_for(merged, edge_regions)
    rows = canonical_order(finished + [(*m, source_of[i]) for i, m in enumerate(merged)])
    frame = gpd.GeoDataFrame(
        {
            "class_id": np.array([r[1] for r in rows], dtype=np.int64),
            "score": [round(r[2] / r[3], 4) if r[3] else None for r in rows],
            "source": [r[5] for r in rows],
        },
        geometry=[r[0] for r in rows],
        crs=crs,
    )
    frame = _without_ignored_255(frame, ignoring)
    if all(k == "class" for k in kinds):
        frame = frame.drop(columns="score")
    frame.insert(1, "class", [class_name_of(names, c) for c in frame["class_id"]])
    _say_missing_classes(options, frame, jobs, paths)
    _say_nothing_squared(options, frame, paths)
    # the rasters' surface: squared buildings end at its edge and at their nodata collars
    # (``valid``; the surface itself without nodata: a building cut by the edge, squared,
    # reached past it beside no other class)
    surfaces = raster_footprints([(transforms[grid], col, row) for grid, col, row in places],
                                 shapes)
    extent = shapely.union_all(surfaces)
    valid = extent if options.regularize else None
    if nodata:
        valid = shapely.union_all([surface.difference(shapely.union_all(nodata[path]))
                                   if path in nodata else surface
                                   for surface, path in zip(surfaces, paths, strict=True)])
    if len(frame) and crs is None:  # the raster's own units (rotated too: not exact)
        frame = clean(frame, options, cell, exact=exact, names=names, extent=extent,
                      valid=valid, rotated=rotated)
    elif len(frame):
        metric = _metric_crs(crs, frame)
        exact = metric == crs and exact
        frame = clean(densified_to_crs(frame, metric), options,
                      cell_in_metres(metric, crs, cell, frame), exact=exact, names=names,
                      matched=exact and len(paths) == 1 and _one_class(frame),
                      extent=extent if exact else None,
                      valid=valid if exact or valid is None else valid_in(valid, crs, metric,
                                                                           cell),
                      rotated=rotated)
    else:  # the columns and types of any other output: tables of many tiles concatenate
        frame.insert(len(frame.columns) - 1, "area_m2", np.zeros(0))
        frame = text_columns(frame)
    return frame, crs


def raster_footprints(placed, shapes) -> np.ndarray:
    """Each raster's surface: its four corners through its geotransform, counter-clockwise
    (``placed``: each raster's grid transform and its (col, row) offset there,
    :func:`~geotile.grid.grid_places`; ``shapes``: (rows, cols)). A rotated grid's is the
    turned rectangle, not its bounding box (an aerial frame turned 20 degrees: squared
    buildings reached 88-105 px past its edge, in the box's corners); a north-up one's is
    ``shapely.box`` of its bounds, vertex for vertex. Adjacent rasters share their corners
    bit for bit (each from its own transform, rotated tiles met a round-off apart, and
    their union split buildings across the seam)."""
    import shapely

    rings = [np.column_stack(apply(t, col + np.array([cols, cols, 0, 0]),
                                   row + np.array([rows, 0, 0, rows])))
             for (t, col, row), (rows, cols) in zip(placed, shapes, strict=True)]
    return shapely.orient_polygons(shapely.polygons(rings))


def valid_in(valid, crs, metric, cell: float):
    """The rasters' valid surface ``valid`` (in ``crs``) in the ``metric`` CRS the polygons
    are cleaned in (feet, Web Mercator: the UTM zone), so that squared buildings stay out of
    a drone ortho's nodata collar there too. Its edges are split every 10 pixels (``cell``,
    in ``crs``) first: the straight edge of a 3000 px Web Mercator raster, its ends alone
    reprojected, bowed off the raster's edge (turned 25 degrees: 0.09 m2 of 10 buildings
    past it; north-up: up to 0.025 px2 per building)."""
    import geopandas as gpd
    import shapely

    dense = valid if crs == metric else shapely.segmentize(valid, 10 * cell)
    return densified_to_crs(gpd.GeoDataFrame(geometry=[dense], crs=crs), metric).geometry.iloc[0]


def _one_class(frame) -> bool:
    """Whether ``frame``'s regions are all of one class: 4-connected regions of one class
    of one raster meet only at corners, each a vertex of both (a pixel of each, diagonal),
    so that none lacks a vertex of another (:func:`~geotile.coverage.edge_matched` finds
    none; 0.05 s for a 6000 px building mask)."""
    ids = frame["class_id"].to_numpy()
    return bool((ids == ids[0]).all())


def places_edges_exactly(transform) -> bool:
    """Whether ``transform`` keeps the pixel corners on a straight edge exactly on it (x from
    the column or the row alone, and y too: north-up, or turned by right angles). On a
    rotated grid (17 degrees) a corner lies a round-off off its neighbour's edge:
    :func:`~geotile.coverage.edge_matched` must then match by distance."""
    return (transform.a == 0 or transform.b == 0) and (transform.d == 0 or transform.e == 0)


def _without_ignored_255(frame, sources: dict):
    """``frame`` without the regions of id 255 of ``sources`` (:func:`may_ignore_255`: name
    -> whether it names its classes) that is their ignore value (:func:`ignores_255`)."""
    if not sources or not len(frame):
        return frame
    drop = np.zeros(len(frame), bool)
    for source, named in sources.items():
        rows = (frame["source"] == source).to_numpy()
        ids = frame["class_id"].to_numpy()[rows]
        if ignores_255(ids, named):
            drop[rows] = ids == 255
    return frame[~drop].reset_index(drop=True) if drop.any() else frame


def _say_missing_classes(options: VectorizeOptions, frame, jobs, paths) -> None:
    """A warning for each class of --classes that no raster has a region of."""
    if not options.classes:
        return
    found = set(frame["class_id"].tolist())
    for name in options.classes:
        if all(class_id_of(name, job.kind.names) not in found for job in jobs):
            where = Path(str(paths[0])).name if len(paths) == 1 else f"{len(paths)} rasters"
            if all(class_id_of(name, job.kind.names) == 0 and not job.kind.zero_class
                   for job in jobs):  # background, never a region
                text = (f"--classes {name}: id 0 is background in {where}, which vectorize "
                        "never polygonizes (only a raster naming id 0 a class has regions "
                        "of it); the output holds none.")
            else:
                text = (f"--classes {name}: no region of that class in {where}; the output "
                        "holds none.")
            warn(text, GeotileWarning)


def _sources_for(merged, edge_regions) -> list[str]:
    """Source file name of each merged region (the first raster it came from)."""
    import shapely

    if not merged:
        return []
    tree = shapely.STRtree([m[0] for m in merged])
    sources = [""] * len(merged)
    for region in edge_regions:
        hit = tree.query(region[0].representative_point(), predicate="intersects")
        if hit.size and not sources[hit[0]]:
            sources[hit[0]] = region[5]
    return sources


def orient_rings(geometries):
    """Counter-clockwise exteriors, clockwise holes (RFC 7946's right-hand rule)."""
    import shapely

    return shapely.orient_polygons(np.asarray(geometries, dtype=object), exterior_cw=False)


# ----------------------------------------------------------------------------- per class


def kept_class_ids(options: VectorizeOptions, names: list[str] | None, path) -> np.ndarray | None:
    """Class ids to keep for ``options.classes`` (names or ids) in a raster with ``names``
    (None: every class); also checks that per-class keys name known classes."""
    known = known_classes(names)
    for option, value in (("--min-area", options.min_area), ("--simplify", options.simplify)):
        if isinstance(value, dict):
            check_class_names([k for k in value if k != "*"], known, option, path)
            check_each_class_once([k for k in value if k != "*"], names, option, path)
    if not options.classes:
        return None
    check_class_names(options.classes, known, "--classes", path)
    kept = {class_id_of(c, names) for c in options.classes}
    for option, value in (("--min-area", options.min_area), ("--simplify", options.simplify)):
        left_out = [k for k in value if k != "*" and class_id_of(k, names) not in kept] \
            if isinstance(value, dict) else []
        if left_out:  # a value that does nothing
            raise UsageError(f"{option} {left_out[0]}={value[left_out[0]]:g}: "
                             f"{left_out[0]!r} is not among --classes "
                             f"{','.join(map(str, options.classes))}, so it would do nothing. "
                             "Leave it out, or add the class to --classes.")
    return np.array(sorted(kept))


