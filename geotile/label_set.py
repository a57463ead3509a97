"""The labels table: :class:`Labels` (shapely geometries, field arrays, a CRS) and what is
done to one whatever file it came from: reproject, select by bounds. The readers
(:mod:`geotile.labels`, :mod:`geotile.spacenet`) build it; nothing here reads a file.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from geotile.affine_math import apply
from geotile.errors import InputError
from geotile.proj_grids import check_grid_download, crs_name
from geotile.user_warnings import warn


def geometry_array(geometries, name: str = "the geometries") -> np.ndarray:
    """Any sequence of shapely geometries (list, GeoSeries, GeometryArray, a GeoDataFrame's
    geometry) as an object array, None replaced by an empty polygon; anything else in it an
    InputError naming ``name``."""
    if hasattr(geometries, "columns") and hasattr(geometries, "geometry"):  # a GeoDataFrame
        geometries = geometries.geometry
    array = np.empty(len(geometries), dtype=object)
    array[:] = list(geometries)
    missing = shapely.is_missing(array)  # None (checked for all at once: no Python loop)
    other = array[~(missing | shapely.is_geometry(array))]
    if len(other):
        raise InputError(f"{name} hold a {type(other[0]).__name__} ({str(other[0])[:30]!r}); "
                         "give shapely geometries (shapely.from_wkt for WKT text).")
    if missing.any():
        array[missing] = shapely.Polygon()
    return array


@dataclass
class Labels:
    """Features of a vector file: ``geometries`` (object array of shapely geometries, None
    where a feature has none), ``fields`` (name -> array, one value per feature), ``crs``
    (rasterio CRS or None)."""

    geometries: np.ndarray
    fields: dict[str, np.ndarray] = field(default_factory=dict)
    crs: Any = None
    #: set when only the features near some regions were read (:func:`read_labels`
    #: ``regions``): (minx, miny, maxx, maxy) of the whole file, and the distinct values of
    #: the requested fields over the whole file (so class names get the same ids)
    extent: tuple | None = None
    values: dict[str, list] = field(default_factory=dict)
    #: read with --labels-crs pixels (:mod:`geotile.pixel_labels`): the CRS the file declares
    #: (None: none, or GeoJSON's implicit lon/lat), which the option overrides
    declared: Any = None
    #: placed from an image's pixels (:func:`geotile.pixel_labels.placed_on`): their bounds
    #: in its pixels, its width and height, for messages
    in_pixels: tuple | None = None
    #: selected by --where (:func:`geotile.label_filter.filter_labels`): (the expression,
    #: the features it selected from), for messages
    where: tuple | None = None
    #: the CRS was assumed, not declared (a CSV, a Parquet file without 'geo' metadata):
    #: why, for messages (:func:`geotile.masks.refuse_guessed_crs`)
    assumed: str | None = None

    def __len__(self) -> int:
        return len(self.geometries)

    @property
    def total_bounds(self) -> np.ndarray:
        """(minx, miny, maxx, maxy) of all geometries (NaN when there are none)."""
        if len(self.geometries) == 0:
            return np.full(4, np.nan)
        return shapely.total_bounds(self.geometries)

    @functools.cached_property
    def tree(self) -> shapely.STRtree:
        return shapely.STRtree(self.geometries)

    def take(self, index) -> Labels:
        """The features at ``index`` (positions or a boolean mask), in that order."""
        return Labels(self.geometries[index], {k: v[index] for k, v in self.fields.items()},
                      self.crs, self.extent, self.values, assumed=self.assumed)

    def replace(self, geometries=None, crs=None, **fields) -> Labels:
        """A copy with other geometries (same length), CRS or extra fields."""
        return Labels(self.geometries if geometries is None else geometries,
                      {**self.fields, **{k: np.asarray(v) for k, v in fields.items()}},
                      self.crs if crs is None else crs, self.extent, self.values,
                      assumed=self.assumed if crs is None else None)

    def to_frame(self):
        """A GeoDataFrame of the same features."""
        import geopandas as gpd

        return gpd.GeoDataFrame(dict(self.fields), geometry=list(self.geometries), crs=self.crs)


def parse_crs(value, option: str):
    """A CRS (rasterio's: GDAL's OSR, already loaded for the rasters, so pyproj is imported
    only to reproject) from EPSG:xxxx, WKT, PROJ text, a URN or a CRS object; InputError
    naming ``option`` when it is not a CRS."""
    from rasterio.crs import CRS

    if isinstance(value, str) and value.strip().isdigit():  # 32616: the EPSG code, as
        value = f"EPSG:{value.strip()}"  # vectorize --crs (pyproj) takes it
    try:
        crs = CRS.from_user_input(value)
    except Exception as exc:
        raise InputError(f"{option} {value!r} is not a CRS GDAL knows ({exc}). Give e.g. "
                         "EPSG:32633, or WKT.") from exc
    if (kind := no_map_position(crs.to_wkt())) is None:
        return crs
    if option.startswith("--"):
        raise InputError(f"{option} {value}: {kind}, which places nothing on a map. Give the "
                         "CRS of the coordinates, e.g. EPSG:32633 (a drone ortho's 'UTM + "
                         "height' CRS without its height).")
    raise InputError(f"{option}: its CRS ({crs_name(crs)}) is {kind}, which places nothing "
                     "on a map. Pass the CRS its coordinates are in with --labels-crs "
                     "(--prediction-crs for evaluate's predictions).")


#: the GeoPackage standard's placeholders for "no CRS" as GDAL reads them: srs_id 0 (which
#: GDAL before 3.9 wrote for every layer without a CRS) and srs_id -1
_NO_CRS = re.compile(r'\s*[A-Z_]+\["Undefined (geographic|Cartesian) SRS"', re.IGNORECASE)


def header_crs(text: str | None, path):
    """The CRS a vector file's header declares (WKT or EPSG text from pyogrio), None where it
    declares none: also a GeoPackage's srs_id 0 ("Undefined geographic SRS") and -1
    ("Undefined Cartesian SRS"), whatever the coordinates (pixels included), and GDAL's
    LOCAL_CS["unnamed"] of unit "unknown" (:data:`~geotile.no_georef.NO_CRS_READ_AS`: what
    gdal_polygonize.py gives the polygons of a PixelIsPoint raster without CRS)."""
    from geotile.no_georef import NO_CRS_READ_AS

    if not text or _NO_CRS.match(text) or text.startswith(NO_CRS_READ_AS):
        return None
    return parse_crs(text, str(path))


def no_map_position(wkt1: str) -> str | None:
    """What a CRS (its WKT 1) is when its x, y are no place on a map: a vertical CRS (heights,
    as EPSG:5773) or a geocentric one (EPSG:4978); None for the others."""
    if wkt1.startswith("VERT_CS"):
        return "a vertical CRS (heights)"
    if wkt1.startswith("GEOCCS"):
        return "a geocentric CRS (X, Y, Z from the earth's centre)"
    return None


def to_crs(labels: Labels, crs, source: str | os.PathLike) -> Labels:
    """Reproject ``labels`` to ``crs``; labels without CRS are an error naming ``source``."""
    if labels.crs is None:
        raise InputError(
            f"{source}: the labels declare no CRS. Pass --labels-crs EPSG:xxxx to say what "
            "their coordinates are in."
        )
    if crs is None:
        return labels
    target = parse_crs(crs, "the raster's CRS")
    from geotile.crs_identity import one_crs

    # one CRS spelled otherwise (GDAL's EPSG:5070 for the image's +ellps=GRS80 Albers): the
    # labels as they are, not densified and moved by round-off
    if one_crs(labels.crs, target, ellipsoid_only=True):
        return labels.replace(crs=target)
    from pyproj import Transformer
    from pyproj.exceptions import ProjError

    from geotile.ground_scale import local_scale

    if (scale := local_scale(labels.crs, target)) is not None:  # a site grid in its metres
        return labels.replace(geometries=shapely.transform(labels.geometries,
                                                           lambda xy: xy * scale), crs=target)
    try:
        transformer = Transformer.from_crs(labels.crs.to_wkt(), target.to_wkt(),
                                           always_xy=True)
    except ProjError as exc:  # e.g. a map CRS and a local (engineering) one
        raise InputError(
            f"{source}: its CRS ({crs_name(labels.crs)}) cannot be transformed to the "
            f"raster's ({crs_name(target)}): they share no datum. Give labels in the "
            "raster's coordinates (--labels-crs with its CRS when the file declares another), "
            "or a raster in a map CRS.") from exc
    moved = shapely.transform(densified(labels.geometries, labels.crs),
                              lambda xy: np.column_stack(transformer.transform(xy[:, 0],
                                                                               xy[:, 1])))
    check_grid_download(labels.geometries, moved, labels.crs, target, str(source))
    if target.is_geographic:
        moved, polar = closed_round_poles(moved)  # from a polar CRS: caps, not zigzags
        unwrapped = rejoined_at_antimeridian(moved[~polar],
                                             (labels.geometries[~polar], transformer))
        moved[~polar] = unwrapped
    return labels.replace(geometries=moved, crs=target)


def closed_round_poles(geometries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat ``geometries`` (moved from a polar CRS) with their rings round a pole made
    caps (:func:`_pole_cap`), and which those are."""
    polar = _round_a_pole(geometries)
    if polar.any():
        geometries = geometries.copy()
        geometries[polar] = [_pole_cap(g) for g in geometries[polar]]
    return geometries, polar


def _winds(ring) -> bool:
    """Whether a lon/lat ring goes round a pole, or half round it: its longitudes, followed
    without jumps of more than 180 degrees, end 360 degrees from where they began, or span
    more than 180 degrees (the 360 degree window round the rasters' centre may cut it)."""
    import shapely

    lon = np.unwrap(shapely.get_coordinates(ring)[:, 0], period=360)
    return abs(lon[-1] - lon[0]) > 180 or lon.max() - lon.min() > 180


def _round_a_pole(geometries: np.ndarray) -> np.ndarray:
    """Which lon/lat (multi)polygons, reprojected from a polar CRS, have a ring round a
    pole (PROJ gives it as a zigzag of longitudes, not a polygon) or more than half round
    it (unwrapped, it was cut by the window's edge into a self-intersecting ring)."""
    import shapely

    out = np.zeros(len(geometries), dtype=bool)
    bounds = shapely.bounds(geometries)
    # a ring round a pole spans every longitude: only those wider than 180 degrees can
    for i in np.flatnonzero(bounds[:, 2] - bounds[:, 0] > 180):
        geometry = geometries[i]
        if shapely.get_type_id(geometry) in (3, 6):
            out[i] = any(_winds(ring) for ring in shapely.get_rings(shapely.get_parts(geometry)))
    return out


def _pole_cap(geometry):
    """A lon/lat (multi)polygon with rings round a pole as RFC 7946 has it: a ring round
    the pole closed along it (to latitude 90), a ring elsewhere as it is, each cut at 180
    into [-180, 180]; holes taken out."""
    import shapely
    import shapely.affinity

    def area(ring):
        xy = shapely.get_coordinates(ring)
        xy[:, 0] = np.unwrap(xy[:, 0], period=360)
        if abs(xy[-1, 0] - xy[0, 0]) > 180:
            pole = 90.0 if xy[:, 1].mean() > 0 else -90.0
            xy = np.vstack([xy, [(xy[-1, 0], pole), (xy[0, 0], pole)]])
        shape = shapely.make_valid(shapely.Polygon(xy))
        pieces = [shapely.affinity.translate(shapely.clip_by_rect(shape, k - 180, -90, k + 180, 90),
                                             -k) for k in (-360, 0, 360)]
        return shapely.union_all(pieces)

    parts = [shapely.difference(area(p.exterior), shapely.union_all([area(h) for h in p.interiors]))
             for p in shapely.get_parts(geometry)]
    return shapely.union_all(parts)


def _jumps_180(geometry) -> bool:
    """Whether a lon/lat geometry has an edge between longitudes more than 180 degrees
    apart (one written across 180: 179.9 .. -179.9)."""
    parts = shapely.get_parts(geometry)
    lines = [r for p in parts for r in (shapely.get_rings(p) if shapely.get_type_id(p) == 3
                                        else [p])]
    return any((np.abs(np.diff(shapely.get_coordinates(line)[:, 0])) > 180).any()
               for line in lines)


def written_across_180(geometries: np.ndarray) -> np.ndarray:
    """Which lon/lat geometries are written across 180: an edge from 179.9 to -179.9 (not a
    cap round a pole, reaching latitude 90 and all of -180 .. 180, whose edges along the
    parallel and the pole do go round it; nor a line or ring that gets round by steps under
    180 degrees, along 80 N from -180 to 180)."""
    bounds = shapely.bounds(geometries)
    width = bounds[:, 2] - bounds[:, 0]
    polar = ((bounds[:, 1] <= -90) | (bounds[:, 3] >= 90)) & (width >= 359.99)
    across = (width > 180) & ~polar
    across[across] = [_jumps_180(g) for g in geometries[across]]
    return across


def whole_across_180(geometries: np.ndarray) -> np.ndarray:
    """Lon/lat ``geometries`` with those written across 180 (:func:`written_across_180`)
    made whole, their western longitudes past 180 (179.9 .. 180.1): as written, a building
    there is a ring round the world, which crosses itself where the building is concave (and
    is repaired, or burnt, round the world). ``geometries`` itself when none is."""
    across = np.flatnonzero(written_across_180(geometries))
    return _made_whole(geometries, across) if len(across) else geometries


def _made_whole(geometries: np.ndarray, where: np.ndarray) -> np.ndarray:
    """``geometries`` with those at ``where`` whose western longitudes, moved past 180,
    make them span 180 degrees or less, so moved (the others as they are)."""
    whole = shapely.transform(geometries[where], lambda xy: np.column_stack(
        (np.where(xy[:, 0] < 0, xy[:, 0] + 360.0, xy[:, 0]), xy[:, 1])))
    keep = _spans(whole) <= 180
    if not keep.any():
        return geometries
    out = geometries.copy()
    out[where[keep]] = whole[keep]
    return out


def densified(geometries: np.ndarray, crs) -> np.ndarray:
    """``geometries`` (in ``crs``) with edges longer than 1 km (0.01 degree) split, so that,
    reprojected, a straight edge follows the curve it becomes in the other CRS (1 cm off at
    most, where a 20 km edge from Web Mercator to UTM misses it by 3 m)."""
    if crs is None:
        return geometries
    if crs.is_geographic:  # one written across 180 (179.9 .. -179.9) stays: split, its
        # edges would go round the world
        across = written_across_180(geometries)
        if across.any():
            out = _segmentized(geometries, 0.01)
            out[across] = geometries[across]
            return out
        step = 0.01
    else:
        try:
            factor = crs.linear_units_factor[1]  # rasterio's CRS: (name, metres)
        except AttributeError:  # pyproj's
            factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
        except Exception:  # GDAL knows no linear unit (a compound CRS): take metres
            factor = 1.0
        step = 1000.0 / factor
    return _segmentized(geometries, step)


def _segmentized(geometries: np.ndarray, step: float) -> np.ndarray:
    """shapely.segmentize, leaving as they are the geometries GEOS refuses: those with a
    part of one repeated point (an OpenStreetMap way of one node: no edge to split)."""
    try:
        return shapely.segmentize(geometries, step)
    except shapely.errors.GEOSException:
        out = np.asarray(geometries, dtype=object).copy()
        for i, geometry in enumerate(out):
            with contextlib.suppress(shapely.errors.GEOSException):
                out[i] = shapely.segmentize(geometry, step)
        return out


def inexact_transformation(source_crs, target_crs, bounds, source) -> str | None:
    """One line where PROJ moves coordinates near ``bounds`` (in ``source_crs``) to
    ``target_crs`` with a less accurate transformation than the best one, whose grid is
    missing here (NAD27, OSGB36 without PROJ's grids: metres off without a word); None when
    the best one is used (or the CRSs cannot be compared)."""
    from geotile.quiet_warnings import hidden

    if source_crs == target_crs:  # pyproj stays unimported (start-up counts)
        return None
    from geotile.crs_identity import one_crs

    if one_crs(source_crs, target_crs, ellipsoid_only=True):  # not moved at all
        return None
    from pyproj import CRS, Transformer
    from pyproj.transformer import AreaOfInterest, TransformerGroup

    try:
        src, dst = (c if isinstance(c, CRS) else CRS.from_wkt(c.to_wkt())
                    for c in (source_crs, target_crs))
        if src == dst or not np.isfinite(bounds).all() or src.geodetic_crs is None:
            return None
        lonlat = bounds if src.is_geographic else Transformer.from_crs(
            src, src.geodetic_crs, always_xy=True).transform_bounds(*bounds)
        with hidden(UserWarning, message="Best transformation is not available"):  # pyproj's
            group = TransformerGroup(src, dst, always_xy=True,
                                     area_of_interest=AreaOfInterest(*lonlat))
        if group.best_available or not group.unavailable_operations:
            return None
        best = group.unavailable_operations[0]
        used = Transformer.from_crs(src, dst, always_xy=True)
        used.transform((bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2)
        used = used.get_last_used_operation()
    except Exception:  # a check only: the reprojection itself says what is wrong
        return None
    if 0 <= used.accuracy <= best.accuracy:
        return None
    grids = [g.short_name for g in best.grids if not g.available]
    if not grids:
        return None
    off = (f"is accurate to {used.accuracy:g} m only" if used.accuracy >= 0
           else "is a ballpark shift of unknown accuracy (tens of metres or more)")
    return (f"{source}: moving {crs_name(src)} to {crs_name(dst)} {off} ({used.description}): "
            f"the {best.accuracy:g} m transformation needs the PROJ grid {grids[0]}, missing "
            f"here. Get it with `projsync --file {grids[0]}` (or set PROJ_NETWORK=ON) and "
            "rerun.")


def warn_inexact(source_crs, target_crs, bounds, source) -> None:
    """A GeotileWarning with :func:`inexact_transformation`'s line, if any."""

    from geotile.errors import GeotileWarning

    if (line := inexact_transformation(source_crs, target_crs, bounds, source)) is not None:
        warn(line, GeotileWarning)


def _spans(geometries: np.ndarray) -> np.ndarray:
    bounds = shapely.bounds(geometries)
    return bounds[:, 2] - bounds[:, 0]


def rejoined_at_antimeridian(moved: np.ndarray, source=None) -> np.ndarray:
    """``moved`` (lon/lat) with the geometries cut at the antimeridian made whole: its
    corners east of 180 come back near -180, a ring round the rest of the world, burnt
    inverted; their western longitudes go past 180 instead. ``source``: (geometries,
    transformer) they were reprojected from; then only those PROJ cut are (a polygon
    genuinely wider than 180 degrees stays), else any wider than 180 degrees."""
    cut = _spans(moved) > 180
    if not cut.any():
        return moved
    where = np.flatnonzero(cut)
    if source is not None:
        where = where[_cut_by_proj(source[0][where], source[1])]
    return _made_whole(moved, where)


def _cut_by_proj(geometries: np.ndarray, transformer) -> np.ndarray:
    """Whether each geometry has a segment PROJ cut at lon 180: its ends more than 180
    degrees of longitude apart, its middle not between them (it crosses 180, not 0)."""
    parts, owner = shapely.get_parts(geometries, return_index=True)
    kind = shapely.get_type_id(parts)
    rings, ring_owner = shapely.get_rings(parts[kind == 3], return_index=True)
    lines = np.concatenate([parts[(kind == 1) | (kind == 2)], rings])
    line_owner = np.concatenate([owner[(kind == 1) | (kind == 2)],
                                 owner[kind == 3][ring_owner]])
    xy, index = shapely.get_coordinates(lines, return_index=True)
    cut = np.zeros(len(geometries), dtype=bool)
    same = index[:-1] == index[1:]
    if not same.any():
        return cut
    start, end = xy[:-1][same], xy[1:][same]
    ends = [transformer.transform(p[:, 0], p[:, 1])[0] for p in (start, end, (start + end) / 2)]
    a, b, middle = (np.asarray(lon, dtype=np.float64) for lon in ends)
    across = (np.abs(a - b) > 180) & ((middle < np.minimum(a, b)) | (middle > np.maximum(a, b)))
    cut[line_owner[index[:-1][same][across]]] = True
    return cut


def grid_envelope(transform, width: float, height: float, col_off: float = 0,
                  row_off: float = 0) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) of all four corners of a pixel window: right for rotated,
    sheared and south-up rasters, where two corners are not the extent."""
    cols = np.array([col_off, col_off + width, col_off, col_off + width], dtype=np.float64)
    rows = np.array([row_off, row_off, row_off + height, row_off + height], dtype=np.float64)
    xs, ys = apply(transform, cols, rows)
    return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())


def select_bounds(labels: Labels, bounds: tuple[float, float, float, float]) -> Labels:
    """Features whose geometry intersects ``bounds`` (minx, miny, maxx, maxy), in file order,
    via the spatial index; ``labels`` itself (and its index) when that is all of them.
    Lon/lat features 360 degrees off (a tile past 180 or before -180, files that write
    longitudes either way, parts split at 180) are moved into ``bounds``' longitudes."""
    index = labels.tree.query(shapely.box(*bounds), predicate="intersects")
    wrapped = _wrapped(labels, bounds) if labels.crs is not None and \
        labels.crs.is_geographic else []
    if not wrapped:
        if len(index) == len(labels):
            return labels
        return labels.take(np.sort(index))
    positions = np.concatenate([index, *(near for near, _ in wrapped)])
    geometries = labels.geometries[positions]
    start = len(index)
    for near, shift in wrapped:
        geometries[start:start + len(near)] = shapely.transform(
            geometries[start:start + len(near)], lambda xy, s=shift: xy + np.array([s, 0.0]))
        start += len(near)
    unique, first, counts = np.unique(positions, return_index=True, return_counts=True)
    merged = geometries[first]  # file order, one row a feature: its parts both sides of 180
    for k in np.flatnonzero(counts > 1):
        merged[k] = shapely.union_all(geometries[positions == unique[k]])
    return labels.take(unique).replace(geometries=merged)


def _wrapped(labels: Labels, bounds) -> list[tuple[np.ndarray, float]]:
    """(positions, shift) of the features that overlap ``bounds`` once moved by ``shift``
    degrees of longitude (-360 or 360; touching its edge is not enough)."""
    minx, miny, maxx, maxy = bounds
    found = []
    for shift in (-360.0, 360.0):
        near = labels.tree.query(shapely.box(minx - shift, miny, maxx - shift, maxy),
                                 predicate="intersects")
        if len(near):
            edges = shapely.bounds(labels.geometries[near])
            near = near[(edges[:, 0] + shift < maxx) & (edges[:, 2] + shift > minx)]
        if len(near):
            found.append((near, shift))
    return found


def class_map_names(mapping: dict[str, int]) -> dict[int, str]:
    """The name of each id of a class map; an id that merges classes is named after all of
    them ("roof+tree"), in the map's order."""
    names: dict[int, str] = {}
    for name, i in mapping.items():
        names[i] = f"{names[i]}+{name}" if i in names else str(name)
    return names


def field_column(values: list) -> np.ndarray:
    """Typed like GDAL's fields: integers -> int64 (float64 with NaN when some are missing),
    numbers -> float64, anything else -> object (integers past int64's range too: ids of 20
    digits kept exact)."""
    present = [v for v in values if v is not None]
    numbers = bool(present) and not any(isinstance(v, bool) for v in present)
    if numbers and all(isinstance(v, int) for v in present):
        if not -2**63 <= min(present) <= max(present) < 2**63:
            numbers = False  # an object column, below
        elif len(present) == len(values):
            return np.array(values, dtype=np.int64)
    if numbers and all(isinstance(v, (int, float)) for v in present):
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    column = np.empty(len(values), dtype=object)
    column[:] = values
    return column


def property_fields(properties: list[dict]) -> dict[str, np.ndarray]:
    """Features' properties (one dict each) as field columns (:func:`field_column`), the
    fields in the order they first appear."""
    names = list(dict.fromkeys(k for p in properties for k in p))
    return {name: field_column([p.get(name) for p in properties]) for name in names}


def cut_name_hint(name: str, fields, option: str) -> str:
    """Where ``fields`` (a Shapefile's, whose DBF keeps 10 characters of a field name, or
    those of a file made from one) hold ``name`` cut so, a sentence saying which to give
    ``option``; else ''. GDAL names a second name cut alike after its first 8 characters,
    numbered ('building_1'): which one is ``name`` the file no longer says."""
    if len(name) <= 10:
        return ""
    cuts = {name[:10], name.encode()[:10].decode(errors="ignore")}
    if not cuts & set(fields):
        return ""
    found = [f for f in fields if f in cuts or re.fullmatch(re.escape(name[:8]) + r"_\d+", f)]
    # said of the names, not the file: a GeoPackage made from a Shapefile keeps them cut
    if len(found) == 1:
        return (f" Cut to 10 characters, as a Shapefile keeps field names, it is "
                f"{found[0]!r}: give {option} {found[0]}.")
    return (f" Cut to 10 characters, as a Shapefile keeps field names, it is "
            f"{', '.join(repr(f) for f in found[:-1])} or {found[-1]!r} (GDAL numbers a "
            f"second name cut alike); give {option} the one holding it.")
