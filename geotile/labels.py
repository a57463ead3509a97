"""Vector labels: read, repair, reproject and select footprints.

Labels are read into :class:`Labels`, a small columnar table (shapely
geometries, field arrays, a CRS) that needs neither pandas nor
geopandas: GeoJSON, the usual label format, is parsed by ``json`` and GEOS;
other formats (GeoPackage, Shapefile, FlatGeobuf...) by pyogrio's raw reader,
GeoParquet by geopandas. ``Labels.to_frame()`` gives a GeoDataFrame to callers
that want one. Every function raises :class:`InputError` with the file name
for problems a user can fix.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from geotile.errors import InputError

POLYGONAL = ("Polygon", "MultiPolygon")
GEOJSON_SUFFIXES = (".geojson", ".json")
#: the CRS of GeoJSON without a ``crs`` member (RFC 7946), as GDAL reads it
GEOJSON_DEFAULT_CRS = "EPSG:4326"


@dataclass
class Labels:
    """Features of a vector file: ``geometries`` (object array of shapely geometries, None
    where a feature has none), ``fields`` (name -> array, one value per feature), ``crs``
    (rasterio CRS or None)."""

    geometries: np.ndarray
    fields: dict[str, np.ndarray] = field(default_factory=dict)
    crs: Any = None

    def __len__(self) -> int:
        return len(self.geometries)

    @property
    def total_bounds(self) -> np.ndarray:
        """(minx, miny, maxx, maxy) of all geometries."""
        return shapely.total_bounds(self.geometries)

    @functools.cached_property
    def tree(self) -> shapely.STRtree:
        return shapely.STRtree(self.geometries)

    def take(self, index) -> Labels:
        """The features at ``index`` (positions or a boolean mask), in that order."""
        return Labels(self.geometries[index], {k: v[index] for k, v in self.fields.items()},
                      self.crs)

    def replace(self, geometries=None, crs=None, **fields) -> Labels:
        """A copy with other geometries (same length), CRS or extra fields."""
        return Labels(self.geometries if geometries is None else geometries,
                      {**self.fields, **{k: np.asarray(v) for k, v in fields.items()}},
                      self.crs if crs is None else crs)

    def to_frame(self):
        """A GeoDataFrame of the same features."""
        import geopandas as gpd

        return gpd.GeoDataFrame(dict(self.fields), geometry=list(self.geometries), crs=self.crs)


def read_labels(path: str | os.PathLike, labels_crs: str | None = None,
                images=None) -> Labels:
    """Read a vector file (GeoJSON, GeoPackage, Shapefile, GeoParquet...).

    ``labels_crs`` overrides a missing or wrong CRS declared by the file (the
    coordinates are reinterpreted, not transformed). Raises InputError when
    the file is missing, not vector data, has no geometry column or no
    features. A SpaceNet CSV is read by :func:`geotile.spacenet.read_labels` (``images``:
    the images its ImageIds name, to place pixel coordinates).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file. Check the path.")
    if path.suffix.lower() == ".csv":
        from geotile import spacenet

        if spacenet.is_spacenet_csv(path):
            return spacenet.read_labels(path, labels_crs, images)
    try:
        suffix = path.suffix.lower()
        if suffix in GEOJSON_SUFFIXES:
            labels = _read_geojson(path)
        elif suffix == ".parquet":
            labels = _read_parquet(path)
        else:
            labels = _read_ogr(path)
    except InputError:
        raise
    except Exception as exc:  # json, GEOS, pyogrio and GDAL raise many types
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(
            f"{path}: not vector data GDAL can read ({reason}). "
            "Give GeoJSON, GeoPackage, Shapefile or GeoParquet."
        ) from exc
    if labels is None:
        raise InputError(f"{path}: the file has no geometries. Give a file of polygons.")
    if len(labels) == 0:
        raise InputError(f"{path}: the file holds no features. Check that it is the right file.")
    if shapely.is_missing(labels.geometries).all():
        raise InputError(f"{path}: no feature has a geometry. Give a file of polygons.")
    if labels_crs is not None:
        labels.crs = parse_crs(labels_crs, "--labels-crs")
    return labels


def parse_crs(value, option: str):
    """A CRS (rasterio's: GDAL's OSR, already loaded for the rasters, so pyproj is imported
    only to reproject) from EPSG:xxxx, WKT, PROJ text, a URN or a CRS object; InputError
    naming ``option`` when it is not a CRS."""
    from rasterio.crs import CRS

    try:
        return CRS.from_user_input(value)
    except Exception as exc:
        raise InputError(f"{option} {value!r} is not a CRS GDAL knows: {exc}") from exc


def _read_geojson(path: Path) -> Labels | None:
    text = path.read_bytes()
    document = json.loads(text)
    kind = document.get("type") if isinstance(document, dict) else None
    if kind == "FeatureCollection":
        features = document.get("features") or []
    elif kind == "Feature":
        features = [document]
    elif kind in ("Polygon", "MultiPolygon", "GeometryCollection", "Point", "LineString",
                  "MultiPoint", "MultiLineString"):
        features = [{"type": "Feature", "properties": {}, "geometry": document}]
    else:
        raise ValueError(f"a GeoJSON object of type {kind!r} holds no features")
    shapes = [f.get("geometry") for f in features]
    geometries = np.empty(len(features), dtype=object)
    if kind == "FeatureCollection" and all(s is not None for s in shapes):
        parts = shapely.get_parts(shapely.from_geojson(text)) if features else []
        if len(parts) == len(features):  # GEOS read the whole collection in one pass
            geometries[:] = list(parts)
            shapes = None
    if shapes is not None:
        present = [i for i, s in enumerate(shapes) if s is not None]
        if present:
            geometries[present] = shapely.from_geojson([json.dumps(shapes[i]) for i in present])
    properties = [f.get("properties") or {} for f in features]
    names = list(dict.fromkeys(k for p in properties for k in p))
    fields = {name: _column([p.get(name) for p in properties]) for name in names}
    return Labels(geometries, fields, _geojson_crs(document.get("crs")))


def _geojson_crs(member):
    """The CRS named by a (pre-RFC 7946) ``crs`` member; EPSG:4326 without one."""
    if not member:
        return parse_crs(GEOJSON_DEFAULT_CRS, "GeoJSON")
    properties = member.get("properties") or {}
    if member.get("type") == "EPSG" and "code" in properties:
        return parse_crs(f"EPSG:{int(properties['code'])}", "the GeoJSON crs member")
    name = properties.get("name")
    if not name:
        raise ValueError(f"the GeoJSON crs member {member} names no CRS")
    return parse_crs(name, "the GeoJSON crs member")


def _column(values: list) -> np.ndarray:
    """Typed like GDAL's fields: integers -> int64 (float64 with NaN when some are missing),
    numbers -> float64, anything else -> object."""
    present = [v for v in values if v is not None]
    if present and not any(isinstance(v, bool) for v in present):
        if all(isinstance(v, int) for v in present):
            if len(present) == len(values):
                return np.array(values, dtype=np.int64)
            return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        if all(isinstance(v, (int, float)) for v in present):
            return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    column = np.empty(len(values), dtype=object)
    column[:] = values
    return column


def _read_ogr(path: Path) -> Labels | None:
    from pyogrio.raw import read

    meta, _, wkb, field_data = read(path)
    if wkb is None or meta.get("geometry_type") is None:
        return None
    crs = parse_crs(meta["crs"], str(path)) if meta.get("crs") else None
    return Labels(shapely.from_wkb(wkb),
                  {name: np.asarray(data) for name, data in zip(meta["fields"], field_data,
                                                                 strict=True)}, crs)


def _read_parquet(path: Path) -> Labels | None:
    import geopandas as gpd

    frame = gpd.read_parquet(path)
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame.columns:
        return None
    geometries = np.empty(len(frame), dtype=object)
    geometries[:] = list(frame.geometry.values)
    fields = {str(name): frame[name].to_numpy() for name in frame.columns
              if name != frame.geometry.name}
    return Labels(geometries, fields, parse_crs(frame.crs, str(path)) if frame.crs else None)


def repair_polygons(geometries: np.ndarray) -> np.ndarray:
    """Make geometries valid and keep their polygonal part.

    Self-intersecting rings (bow-ties) become MultiPolygons, as ``make_valid``
    does; line or point remnants of collapsed rings are dropped; features with
    no polygonal area become empty geometries (so positions are kept).
    """
    fixed = shapely.make_valid(np.asarray(geometries, dtype=object))
    parts = np.empty(len(fixed), dtype=object)
    for index, geom in enumerate(fixed):
        if geom is None or geom.is_empty:
            parts[index] = shapely.Polygon()
        elif geom.geom_type in POLYGONAL:
            parts[index] = geom
        else:
            polys = [g for g in shapely.get_parts(geom) if g.geom_type in POLYGONAL]
            parts[index] = shapely.union_all(polys) if polys else shapely.Polygon()
    return parts


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
    if labels.crs == target:
        return labels
    from pyproj import Transformer

    transformer = Transformer.from_crs(labels.crs.to_wkt(), target.to_wkt(), always_xy=True)
    moved = shapely.transform(labels.geometries, lambda xy: np.column_stack(
        transformer.transform(xy[:, 0], xy[:, 1])))
    return labels.replace(geometries=moved, crs=target)


def select_bounds(labels: Labels, bounds: tuple[float, float, float, float]) -> Labels:
    """Features whose geometry intersects ``bounds`` (minx, miny, maxx, maxy), in file order,
    via the spatial index."""
    index = labels.tree.query(shapely.box(*bounds), predicate="intersects")
    return labels.take(np.sort(index))


def check_geographic_coordinates(labels, source: str | os.PathLike) -> None:
    """Refuse lon/lat labels whose coordinates cannot be degrees.

    GeoJSON without a ``crs`` member is read as EPSG:4326, so projected
    coordinates written without a CRS arrive here claiming to be degrees.
    ``labels`` is a Labels or a GeoDataFrame.
    """
    if labels.crs is None or not labels.crs.is_geographic:
        return
    minx, miny, maxx, maxy = labels.total_bounds
    if min(minx, miny) < -180.5 or maxx > 360.5 or maxy > 90.5:
        raise InputError(
            f"{source}: coordinates like ({minx:.0f}, {miny:.0f}) are not longitude/latitude, "
            f"although the file declares {labels.crs.to_string()} (GeoJSON's default). "
            "Pass --labels-crs with the CRS they are really in (the image's: EPSG:xxxx or WKT)."
        )


def class_ids(
    labels: Labels,
    class_field: str | None,
    class_map: dict[str, int] | None,
    source: str | os.PathLike,
) -> tuple[list[int], dict[int, str]]:
    """The class id (1..255) of every feature, and the names of the ids.

    Without ``class_field`` every feature is class 1 ("building"). A field of
    integers is used as ids; a field of names is mapped by ``class_map``, or,
    without a map, names get ids 1..N in sorted order.
    """
    if class_field is None:
        return [1] * len(labels), {1: "building"}
    if class_field not in labels.fields:
        raise InputError(f"{source}: no field {class_field!r}. "
                         f"Fields: {', '.join(labels.fields) or 'none'}.")
    values = list(labels.fields[class_field])
    missing_values = sum(v is None or (isinstance(v, float) and np.isnan(v)) for v in values)
    if missing_values:
        raise InputError(
            f"{source}: {missing_values} features have no {class_field!r} value. "
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
