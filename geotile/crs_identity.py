"""Whether two CRSs place x, y alike: one CRS spelled two ways (WKT 1 or 2, a PROJ string,
an ESRI .prj, PROJJSON read back from GeoParquet, an EPSG code or its WKT without
authority, a compound CRS's horizontal part), whose reprojection into each other moves
points by round-off alone (1000150 m came back as 1000149.9999999995)."""

from __future__ import annotations

import math

#: how PROJ names the datum of a CRS that gives an ellipsoid alone (+ellps=GRS80)
UNKNOWN_DATUM = "Unknown based on "


def one_crs(a, b, ellipsoid_only: bool = False) -> bool:
    """Whether ``a`` and ``b`` (rasterio or pyproj CRSs, or None: no CRS) are one CRS for
    x, y: equal (rasterio's, pyproj's), heights apart (a compound CRS's horizontal part),
    axis order apart. Another datum, projection parameter, ellipsoid or unit is another
    CRS. ``ellipsoid_only`` (for vector files): a CRS that names no datum, only an
    ellipsoid (a PROJ string's +ellps), is one with the same CRS on a datum of that
    ellipsoid, between which PROJ moves nothing: GDAL writes it to GeoPackage, Shapefile
    and FlatGeobuf as such a CRS (Albers on GRS80 as EPSG:5070, NAD83). Rasters stay apart
    (GDAL warps one onto the other: a mosaic's VRT)."""
    if a is None or b is None:
        return a is None and b is None
    if a == b:
        return True
    from pyproj import CRS
    from rasterio.crs import CRS as GdalCRS

    a, b = (_east_first(_horizontal(CRS.from_wkt(c.to_wkt()))) for c in (a, b))
    # GDAL's equality too: a .prj's ESRI datum names ("D_Unknown_based_on_GRS_1980...")
    if a.equals(b, ignore_axis_order=True) or GdalCRS.from_wkt(a.to_wkt()) == \
            GdalCRS.from_wkt(b.to_wkt()):
        return True
    return ellipsoid_only and (_with_datum_of(a, b).equals(b, ignore_axis_order=True)
                               or _with_datum_of(b, a).equals(a, ignore_axis_order=True))


def _horizontal(crs):
    """A compound CRS's horizontal part (the pyproj CRS ``crs`` else)."""
    return crs.sub_crs_list[0] if crs.is_compound else crs


def _east_first(crs):
    """``crs`` with a projected CRS's axes easting first (EPSG:3035, 2193: northing first):
    GDAL and geopandas read x, y in that order whatever the CRS says, which pyproj's
    ``ignore_axis_order`` overlooks for geographic CRSs only. Their directions stay."""
    from pyproj import CRS

    if not crs.is_projected or crs.is_bound or len(crs.axis_info) != 2 or \
            crs.axis_info[0].direction not in ("north", "south") or \
            crs.axis_info[1].direction not in ("east", "west"):  # a polar CRS's two norths
        return crs
    spec = crs.to_json_dict()
    spec["coordinate_system"]["axis"].reverse()
    return CRS.from_json_dict(spec)


def _with_datum_of(crs, other):
    """``crs`` with the datum of ``other`` where ``crs`` names none (an ellipsoid alone,
    :data:`UNKNOWN_DATUM`) and both have one ellipsoid and prime meridian; ``crs`` else."""
    from pyproj import CRS

    datum = crs.datum  # the ESRI spelling too: D_Unknown_based_on_GRS_1980_ellipsoid
    name = "" if datum is None else datum.name.removeprefix("D_").replace("_", " ")
    if not name.startswith(UNKNOWN_DATUM) or other.datum is None:
        return crs
    ellipsoids = (crs.ellipsoid, other.ellipsoid)
    meridians = (crs.prime_meridian, other.prime_meridian)
    # a GeoTIFF's GRS 1980 reads back with 1/f 298.257222101004 for 298.257222101
    if None in ellipsoids or None in meridians or not all(
            math.isclose(*(getattr(e, key) for e in ellipsoids), rel_tol=1e-12)
            for key in ("semi_major_metre", "inverse_flattening")) or \
            meridians[0].longitude != meridians[1].longitude:
        return crs
    spec, theirs = crs.to_json_dict(), other.to_json_dict()
    mine = spec.get("base_crs", spec)
    theirs = theirs.get("base_crs", theirs)
    for key in ("datum", "datum_ensemble"):
        mine.pop(key, None)
        if key in theirs:
            mine[key] = theirs[key]
    try:
        return CRS.from_json_dict(spec)
    except Exception:  # PROJ refuses the mix: not one CRS
        return crs
