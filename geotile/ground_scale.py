"""Ground metres per CRS unit at a place, and a CRS to measure ground metres in.

A projected CRS whose unit is the metre measures ground metres only where its
scale factor is 1: within about 1e-3 in a UTM zone (or a national grid), but
Web Mercator (EPSG:3857, the CRS of XYZ/web tiles) stretches everything by
1/cos(latitude): at 60 deg N a 3857 "metre" is 0.5 ground metres. A degree is
about 111 km north-south and 111 km x cos(latitude) east-west.

:func:`ground_scales` measures it for any CRS (projected in any unit,
geographic): the geodesic (on the CRS's ellipsoid, :class:`pyproj.Geod`)
length of a step of a few metres east and north of the place, divided by the
step in CRS units. :func:`metric_crs` keeps a CRS to measure in where one of
its units is a ground metre, to ``TOLERANCE``, at the centre and the corners of
the data (cheap, so a UTM CRS used far outside its zone is caught too), else
gives the data's UTM zone, in which planar lengths are ground metres; data wider
than a zone (or past 180 deg) get an azimuthal equal-area projection at their
centre: areas exact, lengths within 1 - cos(d/2) at d degrees from it (0.5 % at
12 deg, where the centre's UTM zone is 3.5 % off). Callers that
need one scale for a whole raster or file take it at its centre
(:func:`centre_scales`): over 10 km at 60 deg N, Mercator's scale changes by
about 0.3 %.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

#: a CRS unit is taken as a ground metre when within this fraction of one along both axes
#: (a UTM zone's scale factor is 0.9996 on its meridian, about 1.001 at its edges)
TOLERANCE = 2e-3


def _pyproj_crs(crs):
    from pyproj import CRS

    return crs if isinstance(crs, CRS) else CRS.from_user_input(crs)


@lru_cache(maxsize=64)
def _measure(wkt: str):
    """(transformer to the CRS's lon/lat, geod, step in CRS units) of a CRS, or None
    when it has no geodetic CRS to measure on."""
    from pyproj import CRS, Geod, Transformer

    crs = CRS.from_wkt(wkt)
    geodetic = crs.geodetic_crs
    if geodetic is None:
        return None
    geod = crs.get_geod() or Geod(ellps="WGS84")
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    # a step of 1e-6 rad (about 6 m) in degrees, of 5 m in a projected CRS's unit
    step = (1e-6 if crs.is_geographic else 5.0) / factor
    transformer = Transformer.from_crs(crs, geodetic, always_xy=True)
    return transformer, geod, step


def ground_scales(crs, x: float, y: float) -> tuple[float, float]:
    """Ground metres per CRS unit at (x, y) (the CRS's coordinates, easting or longitude
    first): (along x, along y). NaN where the CRS cannot be measured there (outside its
    projection's domain); a CRS without a geodetic datum (engineering, local) gives its
    unit in metres."""
    crs = _pyproj_crs(crs)
    measure = _measure(crs.to_wkt())
    if measure is None:
        factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
        return float(factor), float(factor)
    transformer, geod, step = measure
    half = step / 2
    if crs.is_geographic:  # keep the step off the poles
        limit = (math.pi / 2) / crs.axis_info[1].unit_conversion_factor
        y = min(max(y, -limit + step), limit - step)
    lons, lats = transformer.transform([x - half, x + half, x, x],
                                       [y, y, y - half, y + half], errcheck=False)
    if not all(math.isfinite(v) for v in (*lons, *lats)):
        return math.nan, math.nan
    _, _, lengths = geod.inv(lons[0::2], lats[0::2], lons[1::2], lats[1::2])
    return float(lengths[0] / step), float(lengths[1] / step)


def centre_scales(crs, bounds) -> tuple[float, float]:
    """:func:`ground_scales` at the centre of ``bounds`` (minx, miny, maxx, maxy)."""
    return ground_scales(crs, (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2)


def cell_in_metres(metric, crs, cell, frame) -> float:
    """The ``cell`` (a pixel's side in ``crs`` units) in ground metres at ``frame``'s centre
    (degrees, US feet, Web Mercator's units)."""
    if metric == crs or not len(frame):
        return cell
    scales = centre_scales(crs, frame.total_bounds)
    return cell * float(np.sqrt(scales[0] * scales[1])) if all(np.isfinite(scales)) else cell


def local_unit(crs) -> float | None:
    """Metres per unit of a CRS tied to no place on the earth (an engineering CRS: a
    LOCAL_CS site grid of drone photogrammetry or a survey), None for other CRSs."""
    if getattr(crs, "is_projected", False) or getattr(crs, "is_geographic", False):
        return None  # on the earth, told without importing pyproj (0.05 s of a start)
    crs = _pyproj_crs(crs)
    if crs.geodetic_crs is not None:
        return None
    return float(crs.axis_info[0].unit_conversion_factor) if crs.axis_info else 1.0


def in_metres(crs):
    """The local (engineering) ``crs`` with its axes in metres: the CRS :func:`to_crs`
    scales a feet site grid into to measure it."""
    from pyproj import CRS

    crs = _pyproj_crs(crs)
    spec = crs.to_json_dict()
    for axis in spec.get("coordinate_system", {}).get("axis", []):
        axis["unit"] = "metre"
    spec["name"] = f"{crs.name} (metres)" if local_unit(crs) != 1 else crs.name
    return CRS.from_json_dict(spec)


def local_scale(source, target) -> float | None:
    """Units of ``target`` per unit of ``source`` where both are one local site grid in
    different units (:func:`in_metres`), else None (PROJ's business)."""
    source, target = _pyproj_crs(source), _pyproj_crs(target)
    units = local_unit(source), local_unit(target)
    if None in units or in_metres(source) != in_metres(target):
        return None
    return units[0] / units[1]


def transformable(source, target) -> bool:
    """Whether :func:`to_crs` can move coordinates from ``source`` to ``target``: the same
    CRS, one site grid in two units, or two CRSs on the earth (PROJ's business)."""
    source, target = _pyproj_crs(source), _pyproj_crs(target)
    if source == target or local_scale(source, target) is not None:
        return True
    return local_unit(source) is None and local_unit(target) is None and \
        on_earth(source) == on_earth(target)


def to_crs(frame, crs):
    """``frame`` (a GeoDataFrame or GeoSeries) in ``crs``: ``frame.to_crs``, and between a
    local CRS and :func:`in_metres` of it (which PROJ cannot transform) a scaling about
    the grid's origin. Other pairs with a local CRS raise pyproj's error, as to_crs does."""
    import geopandas as gpd
    import shapely

    if frame.crs is None or crs is None or (scale := local_scale(frame.crs, crs)) is None:
        moved = frame.to_crs(crs)
        if frame.crs is not None and crs is not None and len(frame):
            from geotile.proj_grids import check_grid_download

            check_grid_download(frame.geometry.values, moved.geometry.values, frame.crs,
                                moved.crs)
        return moved
    target = _pyproj_crs(crs)
    shapes = shapely.transform(np.asarray(frame.geometry.values), lambda xy: xy * scale)
    geometry = gpd.GeoSeries(shapes, index=frame.index, crs=target)
    if isinstance(frame, gpd.GeoSeries):
        return geometry
    out = frame.copy()
    out[frame.geometry.name] = geometry
    return out.set_crs(target, allow_override=True)


def in_ground_metres(crs, bounds, tolerance: float = TOLERANCE) -> bool:
    """Whether one unit of ``crs`` is a ground metre, along both axes and to
    ``tolerance``, at the centre and the corners of ``bounds`` (in ``crs``)."""
    if crs is None:
        return False
    crs = _pyproj_crs(crs)
    if (unit := local_unit(crs)) is not None:
        return abs(unit - 1) <= tolerance
    if not crs.is_projected:
        return False
    x0, y0, x1, y1 = (float(v) for v in bounds)
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        return False
    places = [((x0 + x1) / 2, (y0 + y1) / 2), (x0, y0), (x0, y1), (x1, y0), (x1, y1)]
    for x, y in places:
        scales = ground_scales(crs, x, y)
        if not all(abs(s - 1) <= tolerance for s in scales):  # NaN fails too
            return False
    return True


def metric_crs(crs, geometries):
    """A CRS to measure ``geometries`` (a GeoSeries or GeoDataFrame in ``crs``) in ground
    metres with planar lengths: ``crs`` itself when its unit is a ground metre there
    (:func:`in_ground_metres`), else their UTM zone where they lie within it (to
    ``TOLERANCE``), else an azimuthal equal-area projection at their centre (wider data,
    longitudes past 180), a cylindrical one for lon/lat data wider than a hemisphere.
    Empty and missing geometries are left out: with nothing to measure, ``crs``."""
    from pyproj import CRS, Transformer

    if (unit := local_unit(crs)) is not None:  # a site grid: its own unit, in metres
        return crs if abs(unit - 1) <= TOLERANCE else in_metres(crs)
    shapes = geometries.geometry if hasattr(geometries, "geometry") else geometries
    geometries = geometries[~(shapes.isna() | shapes.is_empty).to_numpy()]
    if not len(geometries) or in_ground_metres(crs, geometries.total_bounds):
        return crs  # nothing to measure, or measured in crs
    try:
        utm = _utm_zone(geometries)
        there = Transformer.from_crs(_pyproj_crs(crs), utm, always_xy=True).transform_bounds(
            *geometries.total_bounds, densify_pts=21)
        if in_ground_metres(utm, there):
            return utm
    except RuntimeError:
        pass
    if not on_earth(crs):  # the Moon's, Mars': measured on their own body
        return _laea_on_own_body(crs, geometries)
    if _pyproj_crs(crs).is_geographic:
        west, south, east, north = geometries.total_bounds  # as the raster has them
        if east - west > 180:  # past a hemisphere, which an azimuthal projection cannot
            # hold: a cylindrical equal-area one keeps a lon/lat grid's edges straight and
            # its areas exact ("over": a grid past 180 is not wrapped onto itself)
            return CRS.from_dict({"proj": "cea", "lat_ts": (south + north) / 2, "over": True,
                                  "lon_0": (west + east) / 2, "datum": "WGS84", "units": "m"})
    west, south, east, north = geometries.to_crs(4326).total_bounds  # no union: cheap
    if max(north, -south) >= POLAR_LATITUDE:
        polar = _polar_stereographic(crs, geometries, 90.0 if north >= -south else -90.0,
                                     (west + east) / 2)
        if polar is not None:
            return polar
    return CRS.from_dict({"proj": "laea", "lat_0": (south + north) / 2,
                          "lon_0": (west + east) / 2, "datum": "WGS84", "units": "m"})


def _utm_zone(geometries):
    """geopandas' estimate_utm_crs of ``geometries``; lon/lat ones centred past 180 (a
    raster across the antimeridian, centred at 180.00004), for which PROJ finds no zone,
    at their centre wrapped into [-180, 180]: they were measured in an azimuthal equal-area
    projection PROJ inverts only to 1.5 mm at 16.5 S (0.015 px off the pixels' corners at
    5 cm). RuntimeError where no zone fits."""
    from pyproj import CRS
    from pyproj.aoi import AreaOfInterest
    from pyproj.database import query_utm_crs_info

    try:
        return geometries.estimate_utm_crs()
    except RuntimeError:
        if not geometries.crs.is_geographic:
            raise
    west, south, east, north = geometries.total_bounds
    lon, lat = ((west + east) / 2 + 180) % 360 - 180, (south + north) / 2
    found = query_utm_crs_info(datum_name="WGS 84",
                               area_of_interest=AreaOfInterest(lon, lat, lon, lat))
    if not found:
        raise RuntimeError("Unable to determine UTM CRS")
    return CRS.from_epsg(found[0].code)


#: data reaching this latitude (about 1 km from a pole) are measured in a polar
#: stereographic projection (:func:`_polar_stereographic`)
POLAR_LATITUDE = 89.99


def _polar_stereographic(crs, geometries, pole: float, lon_0: float):
    """A polar stereographic projection at ``pole`` with scale 1 there, where it holds
    ``geometries`` (in ``crs``) in ground metres (to ``TOLERANCE``: within about 500 km of
    the pole), else None. Near a pole PROJ inverts the azimuthal equal-area projection only
    to about 1 cm within 1 m of it (8 cm at 10 cm): corners of a 0.3 m grid on the pole
    came back off its pixels' and neighbouring regions overlapped. ``lon_0`` (the data's
    central longitude) is the one the pole comes back at: a lon/lat edge along the pole,
    one point here, stays within the data's longitudes."""
    from pyproj import CRS, Transformer

    polar = CRS.from_dict({"proj": "stere", "lat_0": pole, "lat_ts": pole, "lon_0": lon_0,
                           "datum": "WGS84", "units": "m"})
    there = Transformer.from_crs(_pyproj_crs(crs), polar, always_xy=True).transform_bounds(
        *geometries.total_bounds, densify_pts=21)
    return polar if in_ground_metres(polar, there) else None


def on_earth(crs) -> bool:
    """Whether ``crs`` places coordinates on the earth (not the Moon's or Mars' IAU CRSs,
    which PROJ refuses to transform to any of the earth's)."""
    ellipsoid = _pyproj_crs(crs).ellipsoid
    return ellipsoid is None or 6.3e6 < ellipsoid.semi_major_metre < 6.4e6


def _laea_on_own_body(crs, geometries):
    """An azimuthal equal-area projection at the centre of ``geometries`` on ``crs``' own
    geodetic CRS (a body other than the earth)."""
    from pyproj import Transformer
    from pyproj.crs import ProjectedCRS
    from pyproj.crs.coordinate_operation import LambertAzimuthalEqualAreaConversion

    geodetic = _pyproj_crs(crs).geodetic_crs
    west, south, east, north = Transformer.from_crs(
        _pyproj_crs(crs), geodetic, always_xy=True).transform_bounds(
        *geometries.total_bounds, densify_pts=21)
    centre = LambertAzimuthalEqualAreaConversion((south + north) / 2, (west + east) / 2)
    return ProjectedCRS(centre, geodetic_crs=geodetic)
