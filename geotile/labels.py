"""Vector labels: read, repair, reproject and select footprints.

Reading goes through geopandas with the pyogrio engine. Every function raises
:class:`InputError` with the file name for problems a user can fix.
"""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import shapely

from geotile.errors import InputError

POLYGONAL = ("Polygon", "MultiPolygon")


def read_labels(path: str | os.PathLike, labels_crs: str | None = None) -> gpd.GeoDataFrame:
    """Read a vector file (GeoJSON, GeoPackage, Shapefile, GeoParquet...).

    ``labels_crs`` overrides a missing or wrong CRS declared by the file (the
    coordinates are reinterpreted, not transformed). Raises InputError when
    the file is missing, not vector data, has no geometry column or no
    features.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file. Check the path.")
    try:
        if path.suffix.lower() == ".parquet":
            frame = gpd.read_parquet(path)
        else:
            frame = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # pyogrio/GDAL raise many types for unreadable input
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(
            f"{path}: not vector data GDAL can read ({reason}). "
            "Give GeoJSON, GeoPackage, Shapefile or GeoParquet."
        ) from exc
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame.columns:
        raise InputError(f"{path}: the file has no geometries. Give a file of polygons.")
    if len(frame) == 0:
        raise InputError(f"{path}: the file holds no features. Check that it is the right file.")
    if frame.geometry.isna().all():
        raise InputError(f"{path}: no feature has a geometry. Give a file of polygons.")
    if labels_crs is not None:
        try:
            frame = frame.set_crs(labels_crs, allow_override=True)
        except Exception as exc:
            raise InputError(
                f"--labels-crs {labels_crs!r} is not a CRS pyproj knows: {exc}"
            ) from exc
    return frame


def repair_polygons(geometries: gpd.GeoSeries) -> gpd.GeoSeries:
    """Make geometries valid and keep their polygonal part.

    Self-intersecting rings (bow-ties) become MultiPolygons, as ``make_valid``
    does; line or point remnants of collapsed rings are dropped; features with
    no polygonal area become empty geometries (so row positions are kept).
    """
    values = geometries.values
    fixed = shapely.make_valid(values._data if hasattr(values, "_data") else values)
    parts = []
    for geom in fixed:
        if geom is None or geom.is_empty:
            parts.append(shapely.Polygon())
        elif geom.geom_type in POLYGONAL:
            parts.append(geom)
        else:
            polys = [g for g in shapely.get_parts(geom) if g.geom_type in POLYGONAL]
            parts.append(shapely.union_all(polys) if polys else shapely.Polygon())
    return gpd.GeoSeries(parts, index=geometries.index, crs=geometries.crs)


def to_crs(frame: gpd.GeoDataFrame, crs, source: str | os.PathLike) -> gpd.GeoDataFrame:
    """Reproject ``frame`` to ``crs``; a frame without CRS is an error naming ``source``."""
    if frame.crs is None:
        raise InputError(
            f"{source}: the labels declare no CRS. Pass --labels-crs EPSG:xxxx to say what "
            "their coordinates are in."
        )
    if crs is None or frame.crs == crs:
        return frame
    return frame.to_crs(crs)


def select_bounds(frame: gpd.GeoDataFrame, bounds: tuple[float, float, float, float]):
    """Rows whose geometry intersects ``bounds`` (minx, miny, maxx, maxy), via the spatial index."""
    box = shapely.box(*bounds)
    index = frame.sindex.query(box, predicate="intersects")
    return frame.iloc[sorted(index)]
