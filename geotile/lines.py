"""Road centrelines from probability (or class) rasters: threshold -> skeleton -> lines.

Strategy, per raster, by row bands with a halo (bounded memory): read a band
with ``halo`` rows of context above and below -> class ids (threshold or
argmax, :func:`geotile.raster_kinds.class_ids`) -> skeleton of each class
(:func:`skimage.morphology.skeletonize`; past the raster's edges the mask is
mirrored, so skeletons run to the edge instead of stopping half a road width
short) -> one segment between the centres of
every two 8-adjacent skeleton pixels (a diagonal only where no orthogonal
path joins them, so staircases do not form triangles). Each band emits the
segments that start in its own rows, and pixel centres are computed from
global indices, so the segments of all bands fit exactly and are merged into
paths between junctions and free ends (GEOS's line merger). Free ends on the
edges of adjacent rasters given together, at most ``JOIN_PIXELS`` apart, are
joined.

Then, in metres: spurs (paths from a junction to a free end), isolated
paths and small loops shorter than ``min_length`` are pruned, repeatedly,
and lines are simplified (at least one pixel, to remove pixel staircases).
Each line carries ``length_m`` (after simplification) and ``score`` (mean
probability of its skeleton pixels).

Limits: adjacent rasters are skeletonized apart (each mirrored past its
edges), so a centreline may bend by a pixel or two where it crosses from one
raster to the next; a band's skeleton equals the whole raster's only where
roads are narrower than about the halo (``halo`` px, default 256); segments
are held in memory (proportional to road length, not to the raster's area).
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geotile.errors import GeotileWarning, InputError
from geotile.raster_kinds import class_ids, raster_kind

log = logging.getLogger("geotile")

BAND_ROWS = 2048
#: free ends on the edges of adjacent rasters at most this many pixels apart are joined
JOIN_PIXELS = 4


@dataclass(frozen=True)
class LineOptions:
    """How road rasters become centrelines; lengths in metres."""

    threshold: float | None = None
    min_length: float = 3.0
    simplify: float = 0.0  # 0: one pixel
    crs: str | None = None  # as VectorizeOptions.crs
    halo: int = 256


def skeleton_segments(mask: np.ndarray, core: slice, pad_top: bool, pad_bottom: bool,
                      halo: int) -> np.ndarray:
    """Segments between 8-adjacent skeleton pixels of ``mask`` (rows, cols) bool, as
    ``(n, 2, 2)`` (row, col) pixel indices, for the segments starting in rows ``core``.

    The mask is mirrored by ``halo`` px at its sides (and at its top /
    bottom when ``pad_top`` / ``pad_bottom``: the raster's own edges) before skeletonizing.
    """
    from skimage.morphology import skeletonize

    top, bottom = (halo if pad_top else 0), (halo if pad_bottom else 0)
    padded = np.pad(mask, ((top, bottom), (halo, halo)), mode="symmetric")
    skeleton = skeletonize(padded)[top:top + mask.shape[0], halo:halo + mask.shape[1]]
    return pixel_segments(skeleton, core)


def pixel_segments(skeleton: np.ndarray, core: slice) -> np.ndarray:
    """``(n, 2, 2)`` (row, col) pairs of 8-adjacent True pixels whose first pixel lies in
    rows ``core``; a diagonal pair only when neither orthogonal pixel between them is set."""
    s = np.pad(skeleton, 1)  # a frame of False: neighbours past the edge are background
    rows = np.arange(s.shape[0])[:, None]
    in_core = (rows >= core.start + 1) & (rows < core.stop + 1)
    here = s & in_core
    found = []
    centre = np.s_[1:-1, 1:-1]

    def pairs(keep: np.ndarray, dr: int, dc: int) -> None:
        r, c = np.nonzero(keep)
        found.append(np.stack([np.column_stack([r, c]), np.column_stack([r + dr, c + dc])],
                              axis=1))

    right = s[1:-1, 2:]
    down = s[2:, 1:-1]
    left = s[1:-1, :-2]
    core_centre = here[centre]
    pairs(core_centre & right, 0, 1)
    pairs(core_centre & down, 1, 0)
    pairs(core_centre & s[2:, 2:] & ~right & ~down, 1, 1)
    pairs(core_centre & s[2:, :-2] & ~left & ~down, 1, -1)
    segments = np.concatenate(found) if found else np.empty((0, 2, 2), np.int64)
    return segments


def centrelines(paths: list[Path], options: LineOptions, progress: bool = False):
    """Pruned centrelines of checked rasters (:func:`geotile.vectorize.check_inputs`):
    ``(GeoDataFrame in the rasters' CRS with class_id, class, length_m, score, source;
    crs)``; lengths in metres (the rasters' units when they have no CRS)."""
    import geopandas as gpd
    import shapely
    from tqdm import tqdm

    from geotile.raster import has_nodata, open_raster, read_band

    by_class: dict[int, list[np.ndarray]] = {}
    pixels: dict[tuple, tuple[float, int]] = {}  # (class, x, y) -> (score, raster index)
    names, kinds, cell, outlines = None, [], 1.0, []
    crs = None
    for index, path in enumerate(paths):
        with open_raster(path) as src:
            crs, t = src.crs, src.transform
            cell = max(abs(t.a), abs(t.e), cell if index else 0.0)
            kind = raster_kind(src)
            kinds.append(kind.kind)
            names = names or kind.names
            threshold = next(x for x in (options.threshold, kind.threshold, 0.5)
                             if x is not None)
            check = has_nodata(src)
            outlines.append(shapely.Polygon([t * xy for xy in ((0, 0), (src.width, 0), (
                src.width, src.height), (0, src.height))]).exterior)
            for top in tqdm(range(0, src.height, BAND_ROWS), disable=not progress,
                            desc=path.name, unit="band"):
                rows = min(BAND_ROWS, src.height - top)
                above = min(options.halo, top)
                below = min(options.halo, src.height - top - rows)
                height = above + rows + below
                values, valid = read_band(src, top - above, height, src.width,
                                          check_nodata=check)
                ids, score = class_ids(values, valid, kind, threshold, path)
                for class_id in np.unique(ids[above:above + rows]):
                    if class_id == 0:
                        continue
                    segments = skeleton_segments(ids == class_id, slice(above, above + rows),
                                                 top == 0, top + rows == src.height,
                                                 options.halo)
                    if not len(segments):
                        continue
                    r, c = segments[..., 0], segments[..., 1]
                    values_at = score[r, c]
                    r = r + (top - above)
                    x = t.a * (c + 0.5) + t.b * (r + 0.5) + t.c
                    y = t.d * (c + 0.5) + t.e * (r + 0.5) + t.f
                    xy = np.stack([x, y], axis=-1)
                    by_class.setdefault(int(class_id), []).append(xy)
                    for (px, py), p in zip(xy.reshape(-1, 2).tolist(),
                                           values_at.ravel().tolist(), strict=True):
                        pixels[(int(class_id), px, py)] = (p, index)
    frames = []
    for class_id, parts in sorted(by_class.items()):
        lines = _merge(shapely.linestrings(np.concatenate(parts)))
        lines = _join_raster_edges(lines, class_id, pixels, outlines, cell)
        lines = prune(lines, options.min_length, _length_function(crs, lines))
        if not len(lines):
            continue
        frames.append(_line_frame(lines, class_id, pixels, paths))
    columns = {"class_id": np.empty(0, np.int64), "score": [], "source": []}
    frame = (gpd.pd.concat(frames, ignore_index=True) if frames
             else gpd.GeoDataFrame(columns, geometry=[], crs=None))
    frame = frame.set_crs(crs, allow_override=True) if crs is not None else frame
    if all(k == "class" for k in kinds):
        frame = frame.drop(columns="score")
    frame.insert(1, "class", [_road_class_name(names, c) for c in frame["class_id"]])
    frame = _simplify_and_measure(frame, crs, cell, options)
    return frame.reset_index(drop=True), crs


def _road_class_name(names, class_id: int) -> str:
    from geotile.vectorize import _class_name

    if not names and class_id == 1:
        return "road"
    return _class_name(names, class_id)


def _merge(lines) -> np.ndarray:
    """Paths between junctions and free ends (closed lines for loops)."""
    import shapely

    if len(lines) == 0:
        return np.empty(0, dtype=object)
    merged = shapely.line_merge(shapely.multilinestrings(lines))
    return np.asarray(shapely.get_parts(merged), dtype=object)


def _end_degrees(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    """(start points, end points, {point: number of line ends there})."""
    import shapely

    starts = shapely.get_coordinates(shapely.get_point(lines, 0))
    ends = shapely.get_coordinates(shapely.get_point(lines, -1))
    degree: dict = {}
    for point in map(tuple, np.concatenate([starts, ends]).tolist()):
        degree[point] = degree.get(point, 0) + 1
    return starts, ends, degree


def prune(lines: np.ndarray, min_length: float, length=None) -> np.ndarray:
    """Remove, until none is left, paths shorter than ``min_length`` that are spurs (one
    free end), isolated (two free ends) or loops; paths between junctions stay.
    ``length`` measures an array of lines (default: planar length)."""
    import shapely

    length = length or shapely.length
    lines = _merge(lines)
    for _ in range(100):
        if not len(lines) or min_length <= 0:
            return lines
        starts, ends, degree = _end_degrees(lines)
        short = length(lines) < min_length
        free_start = np.array([degree[tuple(p)] == 1 for p in starts.tolist()])
        free_end = np.array([degree[tuple(p)] == 1 for p in ends.tolist()])
        closed = (starts == ends).all(axis=1)
        drop = short & (free_start | free_end | closed)
        if not drop.any():
            return lines
        lines = _merge(lines[~drop])
    return lines


def _join_raster_edges(lines: np.ndarray, class_id: int, pixels: dict, outlines: list,
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
    raster = np.array([pixels[(class_id, *p)][1] if (class_id, *p) in pixels else -1
                       for p in free], dtype=np.int64)
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


def _length_function(crs, lines):
    """Lengths in metres: planar in a metric CRS (or without a CRS), else in the UTM zone."""
    import shapely

    if crs is None or (crs.is_projected and crs.linear_units_factor[1] == 1.0):
        return shapely.length
    metric = _metric(crs, lines)

    def length(geometries):
        import geopandas as gpd

        return gpd.GeoSeries(geometries, crs=crs).to_crs(metric).length.to_numpy()

    return length


def _metric(crs, lines):
    import geopandas as gpd

    if crs.is_projected and crs.linear_units_factor[1] == 1.0:
        return crs
    return gpd.GeoSeries(lines, crs=crs).estimate_utm_crs()


def _line_frame(lines: np.ndarray, class_id: int, pixels: dict, paths: list[Path]):
    """A frame of ``lines`` with class_id, score (mean over skeleton pixels) and source
    (the raster of the first pixel)."""
    import geopandas as gpd
    import shapely

    scores, sources = [], []
    for line in lines:
        coords = shapely.get_coordinates(line).tolist()
        if len(coords) > 2 and coords[0] == coords[-1]:
            coords = coords[:-1]
        found = [pixels.get((class_id, x, y)) for x, y in coords]
        found = [f for f in found if f is not None]
        scores.append(round(float(np.mean([f[0] for f in found])), 4) if found else None)
        sources.append(paths[found[0][1]].name if found else "")
    return gpd.GeoDataFrame({"class_id": np.full(len(lines), class_id, np.int64),
                             "score": scores, "source": sources}, geometry=list(lines))


def _simplify_and_measure(frame, crs, cell: float, options: LineOptions):
    """Simplify (at least one pixel) and measure length_m in metres."""
    import shapely

    if not len(frame):
        frame.insert(2, "length_m", np.empty(0))
        return frame
    metric = crs if crs is None else _metric(crs, frame.geometry.values)
    work = frame if crs is None or metric == crs else frame.to_crs(metric)
    pixel = cell if crs is None or metric == crs else _pixel_in_metres(crs, cell, frame)
    tolerance = options.simplify if options.simplify > 0 else pixel
    simplified = shapely.simplify(work.geometry.values, tolerance)
    work = work.set_geometry(list(simplified), crs=work.crs)
    frame = work if crs is None or metric == crs else work.to_crs(crs)
    frame.insert(2, "length_m", np.round(shapely.length(simplified), 2))
    return frame


def _pixel_in_metres(crs, cell: float, frame) -> float:
    if crs.is_projected:
        return cell * crs.linear_units_factor[1]
    lat = float(frame.to_crs(4326).geometry.union_all().centroid.y)
    return cell * 111_320 * max(np.cos(np.radians(lat)), 0.1)


def vectorize_lines(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    output: str | os.PathLike,
    *,
    options: LineOptions = LineOptions(),
    overwrite: bool = False,
    progress: bool = False,
) -> dict:
    """Road centrelines of rasters (one path or several adjacent ones) into one vector file,
    written as :func:`geotile.vectorize.vectorize_rasters` writes polygons (same formats and
    CRS defaults). Returns a summary (output, features, length_m, per-class counts, crs)."""
    from rasterio.errors import NotGeoreferencedWarning

    from geotile.vectorize import (
        _check_not_an_input,
        check_inputs,
        check_vector_output,
        parse_crs,
        write_vector,
    )

    if options.min_length < 0 or options.simplify < 0 or options.halo < 1:
        raise InputError("--min-length and --simplify must be >= 0 metres.")
    output = Path(output)
    writer = check_vector_output(output, overwrite)
    target = parse_crs(options.crs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        paths, crs = check_inputs(paths)
        _check_not_an_input(output, writer, paths)
        if crs is None and not (target is None or isinstance(target, str)):
            raise InputError(f"{paths[0]}: the raster has no CRS, so its lines cannot be "
                             f"reprojected to --crs {options.crs}. Assign one with "
                             "`gdal_edit.py -a_srs EPSG:xxxx`, or leave out --crs.")
        if crs is None:
            warnings.warn(f"{paths[0]}: the raster has no CRS; lines are in its own "
                          "coordinates (pixels when it has no geotransform), lengths in those "
                          "units, and the output carries no CRS.", GeotileWarning,
                          stacklevel=2)
        frame, crs = centrelines(paths, options, progress)
    if target is None:
        target = "EPSG:4326" if writer == "GeoJSON" else crs
    elif isinstance(target, str):  # "source"
        target = crs
    frame = frame.to_crs(target) if frame.crs is not None and target is not None else frame
    write_vector(frame, output, writer, overwrite)
    log.info("%s: %d lines from %s", output, len(frame), ", ".join(p.name for p in paths))
    return {"output": str(output), "features": len(frame),
            "length_m": round(float(frame["length_m"].sum()), 2) if len(frame) else 0.0,
            "per_class": frame["class"].value_counts().to_dict() if len(frame) else {},
            "crs": frame.crs.to_string() if frame.crs is not None else None,
            "sources": [p.name for p in paths]}
