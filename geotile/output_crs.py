"""The CRS vectorize's outputs are written in: ``--crs`` parsed and checked before any
work, the format's default (EPSG:4326 for GeoJSON), rasters without a CRS, and polygons
or lines reprojected to it (edges densified, longitudes kept whole at the antimeridian)."""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path

import numpy as np

from geotile.affine_math import apply
from geotile.errors import GeotileWarning, InputError
from geotile.user_warnings import warn

#: True where the caller has said already that the rasters have no CRS (SpaceNet CSVs):
#: :func:`check_missing_crs` does not say it again (in this thread and context only)
NO_CRS_SAID: ContextVar[bool] = ContextVar("geotile_no_crs_said", default=False)


def warn_inexact_datum(path, crs, target) -> None:
    """make-masks' warning (:func:`geotile.label_set.warn_inexact`) where PROJ moves the
    polygons of raster ``path`` (in ``crs``) to ``target`` less accurately than it could
    (NAD27 to WGS 84 without the NADCON grid: 14 m)."""
    from pyproj import CRS

    from geotile.label_set import grid_envelope, warn_inexact
    from geotile.raster import open_raster

    if crs is None or target is None:
        return
    with open_raster(path) as src:
        bounds = grid_envelope(src.transform, src.width, src.height)
    warn_inexact(CRS.from_wkt(crs.to_wkt()), CRS.from_user_input(target), bounds, path)


def raster_centre(path) -> tuple | None:
    """``(crs, x, y, wide)``: the centre of a raster in its CRS (None without one), and
    whether it spans more than 180 degrees of longitude round or near a pole (a lon/lat
    raster, a global mosaic, never: its longitudes run on, uncut)."""
    from rasterio.warp import transform_bounds

    from geotile.label_set import grid_envelope
    from geotile.no_georef import map_crs
    from geotile.raster import open_raster

    with open_raster(path) as src:
        if (crs := map_crs(src)) is None:
            return None
        x, y = apply(src.transform, src.width / 2, src.height / 2)
        if crs.is_geographic:
            return crs, x, y, False
        try:
            west, _, east, _ = transform_bounds(
                crs, "EPSG:4326", *grid_envelope(src.transform, src.width, src.height),
                densify_pts=21)
        except Exception:  # no lon/lat box: taken as narrow
            west = east = 0.0
        return crs, x, y, (east - west) % 360 > 180 or east - west == 360


def to_output_crs(frame, target, centre: tuple | None):
    """``frame`` in ``target`` (:func:`_reprojected`), its polygons valid there
    (:func:`_valid_polygons`)."""
    out = _reprojected(frame, target, centre)
    if out is frame or not len(out):
        return out
    return _valid_polygons(out, moved_rows(np.asarray(frame.geometry.values, dtype=object),
                                           out))


def moved_rows(before: np.ndarray, frame) -> np.ndarray:
    """Which rows of ``frame`` hold other geometries than ``before`` (its geometries before
    :func:`to_output_crs`): those reprojection moved (all where the count differs). The
    others are the same objects: in the rasters' own CRS (a UTM raster's), all."""
    after = np.asarray(frame.geometry.values, dtype=object)
    if len(before) != len(after):
        return np.ones(len(after), bool)
    return np.fromiter((a is not b for a, b in zip(after, before, strict=True)), bool,
                       len(after))


def on_pixel_corners(frame, transforms, rows: np.ndarray | None = None,
                     tolerance: float = 1e-6):
    """``frame``, back in its rasters' CRS from the metric one it was cleaned in, each x (y)
    within ``tolerance`` pixels of a pixel corner's on a north-up grid of ``transforms``
    put on it exactly (``transform * (col, row)``): UTM and back left an Albers raster's
    edge at 1000089.9999999993 for 1000090. Others (simplified corners, rotated grids), and
    the rows not in ``rows`` (:func:`moved_rows`: never out of the rasters' CRS), as they
    are."""
    import shapely

    grids: dict = {}  # one per grid: a city's tiles share one (origins whole pixels apart)
    for t in transforms:
        if t.b == 0 and t.d == 0:
            grids.setdefault((t.a, t.e, round(t.c / t.a % 1, 6) % 1, round(t.f / t.e % 1, 6) % 1),
                             (t.a, t.c, t.e, t.f))
    grids = list(grids.values())
    rows = np.ones(len(frame), bool) if rows is None else np.asarray(rows, bool)
    if not rows.any() or frame.crs is None or not grids:
        return frame

    def snap(xy: np.ndarray) -> np.ndarray:
        for a, c, e, f in grids:
            for axis, scale, origin in ((0, a, c), (1, e, f)):
                corner = np.round((xy[:, axis] - origin) / scale) * scale + origin
                near = np.abs(xy[:, axis] - corner) <= tolerance * abs(scale)
                xy[near, axis] = corner[near]
        return xy

    values = np.array(frame.geometry.values, dtype=object)  # a copy: frame stays as it is
    values[rows] = shapely.transform(values[rows], snap)
    return frame.set_geometry(list(values), crs=frame.crs)


def _valid_polygons(frame, moved: np.ndarray):
    """``frame`` with the polygons that reprojection made invalid (of those ``moved``) made
    valid: a needle a few cm wide on a squared outline, valid in metres, has its two edges
    bowed across each other in lon/lat (make_valid gives the polygon and the needle's line:
    the line goes)."""
    import shapely

    from geotile.polygon_repair import repair_polygons
    from geotile.quiet_warnings import is_valid

    values = np.asarray(frame.geometry.values, dtype=object)
    candidates = np.flatnonzero(moved & np.isin(shapely.get_type_id(values), (3, 6)))
    broken = candidates[~is_valid(values[candidates])]
    if not len(broken):
        return frame
    values[broken] = repair_polygons(values[broken], np.zeros(len(broken), bool))
    return frame.set_geometry(list(values), crs=frame.crs)


def _reprojected(frame, target, centre: tuple | None):
    """``frame`` in ``target`` (None: as it is). A geographic ``target`` keeps longitudes
    within 180 degrees of the rasters' ``centre`` (:func:`raster_centre`): PROJ wraps them to
    [-180, 180], which made a building across the antimeridian a sliver around the globe.
    Back in the rasters' own CRS, edges join their corners straight in it, as the pixels'
    edges do (not split and bowed as straight metric edges: a --simplify diagonal)."""
    if frame.crs is None or target is None:
        return frame
    if centre is not None and frame.crs != target and centre[0] == target:
        from geotile.ground_scale import to_crs

        frame = to_crs(frame, target)
        if len(frame):
            frame = _without_split_points(frame)
    else:
        frame = densified_to_crs(frame, target)
    if centre is None or not frame.crs.is_geographic or not len(frame):
        return frame
    import shapely
    from pyproj import Transformer

    crs, x, y, wide = centre
    west = Transformer.from_crs(crs, frame.crs, always_xy=True).transform(x, y)[0] - 180
    # past the window's edges by more than rounding (a global mosaic's -180.0000000000003)
    west, east = west - 1e-9, west + 360 + 1e-9

    def unwrap(xy: np.ndarray) -> np.ndarray:
        lon = xy[:, 0]
        xy[:, 0] = np.where(lon < west, lon + 360, np.where(lon > east, lon - 360, lon))
        return xy

    from geotile.label_set import closed_round_poles

    geometries, polar = closed_round_poles(np.asarray(frame.geometry.values, dtype=object))
    if polar.any():  # caps: closed along the pole, within [-180, 180], not unwrapped
        frame = frame.set_geometry(list(geometries), crs=frame.crs)
    if wide:  # round a pole every longitude is the raster's: only those PROJ cut at 180
        bounds = shapely.bounds(geometries)  # are made whole (past 180), the rest stay
        cut = ~polar & (bounds[:, 2] - bounds[:, 0] > 180)
        if cut.any():
            geometries[cut] = shapely.transform(geometries[cut], lambda xy: np.column_stack(
                (np.where(xy[:, 0] < 0, xy[:, 0] + 360, xy[:, 0]), xy[:, 1])))
            frame = frame.set_geometry(list(geometries), crs=frame.crs)
        return frame
    lon = shapely.get_coordinates(geometries[~polar])[:, 0]
    if lon.size and (lon.min() < west or lon.max() > east):
        before = geometries.copy()
        geometries[~polar] = shapely.transform(geometries[~polar], unwrap)
        # wrapped by PROJ, a building across 180 is whole again, narrow; one past the
        # window's edges still wider than a hemisphere once moved lay across them (a global
        # grid's half cell past 180) and is cut there instead
        edges = shapely.bounds(before)
        after = shapely.bounds(geometries)
        across = ~polar & ((edges[:, 0] < west) | (edges[:, 2] > east)) & (
            after[:, 2] - after[:, 0] >= 180)
        geometries[across] = [_wrapped(g, west, east) for g in before[across]]
        frame = frame.set_geometry(list(geometries), crs=frame.crs)
    return frame


def _wrapped(geometry, west: float, east: float):
    """``geometry``, across the edge of the longitudes ``west``..``east`` (a global grid's
    half cell past 180), cut there and its parts past the edge moved by 360 degrees:
    moved vertex by vertex, a band round the earth from -181 to 181 became one from 179
    back to -179."""
    import shapely

    parts = [shapely.affinity.translate(shapely.clip_by_rect(geometry, west + turn, -1e9,
                                                             east + turn, 1e9), -turn)
             for turn in (-360, 0, 360)]
    whole = shapely.union_all([part for part in parts if not part.is_empty])
    if shapely.get_type_id(geometry) in (3, 6):  # polygons stay polygons
        whole = shapely.union_all([part for part in shapely.get_parts(whole)
                                   if shapely.get_type_id(part) == 3])
    return whole


def _without_split_points(frame):
    """``frame`` back in its rasters' CRS without the points that split long edges on the way
    to the metric CRS and back (:func:`densified_to_crs`), where a 0.8 degree square kept 483
    vertices for 5: a point goes where it lies on the straight line of its neighbours (to a
    millimetre: a km of straight metric edge bows 0.5 mm in lon/lat) in every ring that has
    it, so polygons sharing an edge keep sharing it (a coverage stays one)."""
    import shapely

    tolerance = 1e-8 if frame.crs.is_geographic else 1e-3  # degrees; metres or feet
    geometries = np.asarray(frame.geometry.values, dtype=object)
    kinds = shapely.get_type_id(geometries)
    if np.isin(kinds, (1, 5)).all():  # lines: no neighbour shares their points
        return frame.set_geometry(shapely.simplify(geometries, tolerance), crs=frame.crs)
    if not np.isin(kinds, (3, 6)).all() or shapely.is_empty(geometries).any():
        return frame
    polygons, owner = shapely.get_parts(geometries, return_index=True)
    rings, polygon = shapely.get_rings(polygons, return_index=True)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    last = np.r_[ring[1:] != ring[:-1], True]  # each ring's closing point
    xy, ring = xy[~last], ring[~last]
    first = np.searchsorted(ring, ring)
    after = np.searchsorted(ring, ring, side="right")
    index = np.arange(len(ring))
    before = np.where(index == first, after - 1, index - 1)
    behind = np.where(index + 1 == after, first, index + 1)
    chord = xy[behind] - xy[before]
    length = np.hypot(chord[:, 0], chord[:, 1])
    away = xy - xy[before]
    off = np.abs(chord[:, 0] * away[:, 1] - chord[:, 1] * away[:, 0]) / np.maximum(length, 1e-300)
    bent = (off >= tolerance) | (length == 0)
    _, point = np.unique(xy, axis=0, return_inverse=True)
    keep = np.bincount(point.ravel(), weights=bent)[point.ravel()] > 0
    kept = np.bincount(ring[keep], minlength=len(rings))
    keep |= kept[ring] < 3  # a ring left without 3 points stays as it was
    if keep.all():
        return frame
    rings = shapely.linearrings(xy[keep], indices=ring[keep])
    polygons = shapely.polygons(rings, indices=polygon)
    parts = np.bincount(owner, minlength=len(geometries))
    out = shapely.multipolygons(polygons, indices=owner)
    single = (parts == 1) & (kinds == 3)
    out[single] = shapely.get_geometry(out[single], 0)
    return frame.set_geometry(out, crs=frame.crs)


def densified_to_crs(frame, crs):
    """``frame`` in ``crs`` (:func:`geotile.ground_scale.to_crs`), its edges longer than 1 km
    split first (:func:`geotile.label_set.densified`): a 16 km field edge from a 100 m UTM
    raster, only its ends moved, bowed 3.4 m off the pixels' edge in lon/lat."""
    from geotile.ground_scale import to_crs
    from geotile.label_set import densified

    if frame.crs is None or crs is None or frame.crs == crs or not len(frame):
        return to_crs(frame, crs)
    dense = densified(np.asarray(frame.geometry.values, dtype=object), frame.crs)
    return to_crs(frame.set_geometry(list(dense), crs=frame.crs), crs)


def check_missing_crs(paths, crs, option, writer: str) -> None:
    """Rasters without a CRS (``crs`` None): an InputError with ``--crs`` (``option``) to
    reproject to, else a warning that polygons are in the raster's own units."""
    if crs is not None:
        return
    if not (option is None or str(option).lower() == "source"):
        from geotile.no_georef import unmapped_reason
        from geotile.raster import open_raster

        with open_raster(paths[0]) as src:
            why, fix = unmapped_reason(src)
        raise InputError(f"{paths[0]}: {why}, so its polygons cannot be reprojected to --crs "
                         f"{option}. {fix}, or leave out --crs.")
    if NO_CRS_SAID.get():
        return
    caveat = (" (it says \"crs\": null, which geotile evaluate reads as no CRS, but other "
              "GeoJSON readers will take them for longitude/latitude: prefer .gpkg)"
              if writer == "GeoJSON" else "")
    from geotile.no_georef import orthorectify, sensor_georeferencing
    from geotile.raster import open_raster

    with open_raster(paths[0]) as first:
        sensor = sensor_georeferencing(first)
    if sensor is not None:
        caveat += (f". It is placed by {sensor} alone (not orthorectified): "
                   f"orthorectify it ({orthorectify(sensor)}) for map coordinates")
    warn(f"{paths[0]}: {no_crs(paths[0])}; polygons are in its own "
         "coordinates (pixels when it has no geotransform), areas and "
         f"lengths in those units, and the output carries no CRS{caveat}.",
         GeotileWarning)


def no_crs(path) -> str:
    """Why the raster at ``path`` (of no map CRS) gives outputs without a CRS."""
    from geotile.no_georef import placed_nowhere
    from geotile.raster import open_raster

    with open_raster(path) as src:
        if placed_nowhere(src):
            return ("the raster names a CRS but has no geotransform, so nothing places it "
                    "on the map (gdal_translate -a_ullr or -a_gt georeferences it)")
    return "the raster has no CRS"


def output_crs(option, writer: str | None, source):
    """The CRS an output is written in: ``option`` (--crs: a CRS, or "source"), else
    EPSG:4326 for GeoJSON (RFC 7946) and the rasters' CRS (``source``) for other formats;
    GeoJSON's lon/lat WGS 84 in any spelling (OGC:CRS84) is EPSG:4326."""
    target = parse_crs(option)
    if target is None:
        return "EPSG:4326" if writer == "GeoJSON" and source is not None else source
    target = source if isinstance(target, str) else target  # "source"
    if writer == "GeoJSON" and target is not None:
        from pyproj import CRS

        crs = CRS.from_user_input(target)
        if crs.equals("EPSG:4326", ignore_axis_order=True):
            return "EPSG:4326"
        if crs.is_compound and crs.to_epsg(min_confidence=100) is None:  # UTM + heights:
            # GeoJSON names the horizontal part, which holds the same x, y
            code = _epsg_code(crs.sub_crs_list[0])
            if code is not None:
                return f"EPSG:{code}"
    return target


def _epsg_code(crs) -> int | None:
    """The EPSG code of pyproj ``crs``, also where only its name differs from the code's: a
    GeoTIFF in EPSG:7415 (RD New + NAP height) reads back with its horizontal part named
    'Amersfoort / RD New + NAP height', EPSG:28992 in all but name; None when none is."""
    from pyproj import CRS

    code = crs.to_epsg(min_confidence=100)
    if code is None and (code := crs.to_epsg(min_confidence=70)) is not None \
            and not CRS.from_epsg(code).equals(crs, ignore_axis_order=True):
        return None
    return code


def check_output_crs(output: Path, writer: str, option, source) -> None:
    """Before any work: an InputError naming ``output`` when GeoJSON would be written in a
    CRS it cannot name (:func:`output_crs` of ``option`` and the rasters' ``source``):
    GeoJSON names a CRS by EPSG code only, other coordinates read as lon/lat. Rasters in a
    local CRS (a site grid: :func:`~geotile.ground_scale.local_unit`) or on another body
    than the earth (the Moon, Mars) are written in it, in formats that store it as WKT;
    PROJ converts it to no CRS of the earth."""
    from geotile.ground_scale import local_unit

    target = output_crs(option, writer, source)
    local = source is not None and local_unit(source) is not None
    elsewhere = False
    if source is not None and not local and target is not source:  # pyproj imported only
        # where needed: 0.05 s before the workers start
        from geotile.ground_scale import on_earth, transformable

        elsewhere = not on_earth(source)  # the Moon's, Mars'
    if local or elsewhere:
        from pyproj import CRS

        name = CRS.from_user_input(source).name
        other = (CRS.from_user_input(target) != CRS.from_user_input(source) if local
                 else not transformable(source, target))
        if writer == "GeoJSON" or other:
            if local:
                where = f"the rasters are in a local CRS ({name}), tied to no place on the earth"
                lonlat, kept = "longitude/latitude", "local"
                geojson_fix = " with --crs source, or georeference the raster"
                crs_fix = "or georeference the raster"
            else:
                where = f"the rasters are in a CRS of another body than the earth ({name})"
                lonlat, kept = "the earth's longitude/latitude", "rasters'"
                geojson_fix = ", which keeps the rasters' CRS"
                crs_fix = "or give a CRS of the same body"
            if writer == "GeoJSON":
                raise InputError(f"{output}: {where}, and GeoJSON holds {lonlat} only: write a "
                                 f".gpkg (or .fgb, .parquet, .shp){geojson_fix}.")
            raise InputError(f"{output}: {where}, which PROJ cannot convert to --crs {option}: "
                             "leave out --crs (GPKG, FlatGeobuf, Parquet and Shapefile keep the "
                             f"{kept} CRS), {crs_fix}.")
    check_transformable(source, target, option)
    if writer != "GeoJSON" or target is None or target == "EPSG:4326":
        return
    from pyproj import CRS

    crs = CRS.from_user_input(target)
    if crs.to_epsg(min_confidence=100) is not None:
        return
    where = (f"--crs {option}" if parse_crs(option) not in (None, "source")
             else "the rasters' CRS")
    raise InputError(f"{output}: GeoJSON names a CRS only by its EPSG code, and {where} has "
                     f"none ({crs.name}): readers would take the coordinates for "
                     "longitude/latitude. Write .gpkg or .fgb, or leave out --crs (GeoJSON in "
                     "EPSG:4326).")


def check_transformable(source, target, option) -> None:
    """Before any work: an InputError where PROJ has no way from the rasters' CRS
    (``source``) to the ``--crs`` given (``option``, ``target``): IAU_2015:30100, the
    Moon's, for rasters on the earth."""
    if source is None or target is None or option is None or parse_crs(option) == "source":
        return
    from pyproj import CRS, Transformer
    from pyproj.exceptions import ProjError

    try:
        Transformer.from_crs(CRS.from_user_input(source), CRS.from_user_input(target),
                             always_xy=True)
    except ProjError as exc:
        reason = str(exc).split("proj_create_operations: ")[-1].split(". You may")[0]
        raise InputError(f"--crs {option}: PROJ cannot transform the rasters' CRS "
                         f"({CRS.from_user_input(source).name}) to it: {reason}. Give a CRS "
                         "of the rasters' body (e.g. EPSG:4326 on the earth), or 'source'."
                         ) from exc


def parse_crs(value: str | None):
    """The ``--crs`` value checked before any work: ``None`` (the format's default),
    ``"source"`` (the rasters' CRS) or a pyproj CRS; anything else is an InputError."""
    if value is None or str(value).lower() == "source":
        return "source" if value is not None else None
    from pyproj import CRS  # only here: importing pyproj takes ~0.07 s
    from pyproj.exceptions import CRSError

    from geotile.label_set import no_map_position

    try:
        crs = CRS.from_user_input(value)
    except CRSError as exc:
        crs = _crs_file(value)
        if crs is None:
            raise InputError(f"--crs {value}: not a CRS PROJ knows. Give e.g. EPSG:32633, "
                             "a .prj file, or 'source' for the rasters' CRS.") from exc
    vertical_or_xyz = crs.is_geocentric or crs.type_name == "Vertical CRS"
    if vertical_or_xyz and (kind := no_map_position(crs.to_wkt("WKT1_GDAL"))) is not None:
        raise InputError(f"--crs {value}: {kind}, which places no polygon on a map. Give "
                         "e.g. EPSG:32633, or 'source' for the rasters' CRS.")
    return crs


def _crs_file(value):
    """The CRS of a file (a .prj, WKT in any dialect) GDAL reads, as make-masks
    --labels-crs takes one, as a pyproj CRS; None when ``value`` is no such file."""
    if not os.path.isfile(str(value)):
        return None
    from pyproj import CRS
    from rasterio.crs import CRS as GdalCRS

    try:
        return CRS.from_wkt(GdalCRS.from_user_input(str(value)).to_wkt())
    except Exception:  # rasterio's CRSError, pyproj's: not a CRS
        return None
