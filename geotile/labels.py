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


def check_geographic_coordinates(frame: gpd.GeoDataFrame, source: str | os.PathLike) -> None:
    """Refuse lon/lat labels whose coordinates cannot be degrees.

    GeoJSON without a ``crs`` member is read as EPSG:4326, so projected
    coordinates written without a CRS arrive here claiming to be degrees.
    """
    if frame.crs is None or not frame.crs.is_geographic:
        return
    minx, miny, maxx, maxy = frame.total_bounds
    if min(minx, miny) < -180.5 or maxx > 360.5 or maxy > 90.5:
        raise InputError(
            f"{source}: coordinates like ({minx:.0f}, {miny:.0f}) are not longitude/latitude, "
            f"although the file declares {frame.crs.to_string()} (GeoJSON's default). "
            "Pass --labels-crs with the CRS they are really in (the image's: EPSG:xxxx or WKT)."
        )


def class_ids(
    frame: gpd.GeoDataFrame,
    class_field: str | None,
    class_map: dict[str, int] | None,
    source: str | os.PathLike,
) -> tuple[list[int], dict[int, str]]:
    """The class id (1..255) of every row, and the names of the ids.

    Without ``class_field`` every feature is class 1 ("building"). A field of
    integers is used as ids; a field of names is mapped by ``class_map``, or,
    without a map, names get ids 1..N in sorted order.
    """
    if class_field is None:
        return [1] * len(frame), {1: "building"}
    if class_field not in frame.columns:
        fields = ", ".join(c for c in frame.columns if c != frame.geometry.name)
        raise InputError(f"{source}: no field {class_field!r}. Fields: {fields}.")
    values = frame[class_field]
    if values.isna().any():
        raise InputError(
            f"{source}: {int(values.isna().sum())} features have no {class_field!r} value. "
            "Fill them or remove those features."
        )
    if class_map is None and all(_is_integer(v) for v in values):
        ids = [int(v) for v in values]
        names = {i: str(i) for i in sorted(set(ids))}
    else:
        mapping = class_map or {name: i + 1 for i, name in enumerate(sorted(map(str, set(values))))}
        missing = sorted({str(v) for v in values} - set(mapping))
        if missing:
            raise InputError(
                f"{source}: class {missing[0]!r} of field {class_field!r} is not in the class map. "
                "Add it to the --class-map file."
            )
        ids = [int(mapping[str(v)]) for v in values]
        names = {int(i): name for name, i in mapping.items()}
    bad = sorted({i for i in ids if not 1 <= i <= 255})
    if bad:
        raise InputError(
            f"{source}: class id {bad[0]} is outside 1..255 (0 is background). "
            "Map the classes with --class-map."
        )
    return ids, names


def _is_integer(value) -> bool:
    try:
        return float(value) == int(float(value)) and not isinstance(value, str)
    except (TypeError, ValueError):
        return False
