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
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from geotile.errors import GeotileWarning, InputError

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
                layer: str | None = None, images=None) -> Labels:
    """Read a vector file (GeoJSON, GeoPackage, Shapefile, GeoParquet...).

    ``labels_crs`` overrides a missing or wrong CRS declared by the file (the
    coordinates are reinterpreted, not transformed). ``layer`` names the layer
    of a multi-layer file; without it the file's one polygon/line layer is read.
    Raises InputError when the file is missing, not vector data, has no
    geometry column or no features, or when the layer is unknown or ambiguous.
    A SpaceNet CSV is read by :func:`geotile.spacenet.read_labels` (``images``:
    the images its ImageIds name, to place pixel coordinates).
    """
    from geotile.raster import input_exists, input_path

    path = input_path(path)
    if not input_exists(path):
        raise InputError(f"{path}: no such file. Check the path.")
    if path.suffix.lower() == ".csv":
        from geotile import spacenet

        if spacenet.is_spacenet_csv(path):
            return spacenet.read_labels(path, labels_crs, images)
    try:
        suffix = Path(path).suffix.lower()
        if isinstance(path, Path) and (suffix in GEOJSON_SUFFIXES or suffix == ".parquet"):
            if layer is not None and layer != path.stem:
                raise InputError(f"{path}: no layer {layer!r}; the file holds one layer, "
                                 f"{path.stem!r}. Leave out --layer.")
            labels = _read_geojson(path) if suffix in GEOJSON_SUFFIXES else _read_parquet(path)
        else:
            labels = _read_ogr(path, layer)
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
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:  # GDAL reads such files too; names may show odd letters
        text = raw.decode("latin-1")
        _warn(f"{path}: not UTF-8, as GeoJSON must be (RFC 7946); read it as Latin-1. "
              "Check text fields with accents.")
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
    features = [f if isinstance(f, dict) else {} for f in features]
    shapes = [f.get("geometry") for f in features]
    geometries = np.empty(len(features), dtype=object)
    if kind == "FeatureCollection" and all(s is not None for s in shapes):
        try:
            parts = shapely.get_parts(shapely.from_geojson(text)) if features else []
        except shapely.errors.GEOSException:  # a broken feature: read them one by one
            parts = []
        if len(parts) == len(features):  # GEOS read the whole collection in one pass
            geometries[:] = list(parts)
            shapes = None
    if shapes is not None:
        _geojson_geometries(shapes, features, geometries, path)
    properties = [f.get("properties") if isinstance(f.get("properties"), dict) else {}
                  for f in features]
    names = list(dict.fromkeys(k for p in properties for k in p))
    fields = {name: _column([p.get(name) for p in properties]) for name in names}
    return Labels(geometries, fields, _geojson_crs(document.get("crs")))


def _geojson_geometries(shapes: list, features: list, out: np.ndarray, path: Path) -> None:
    """Parse each feature's geometry into ``out``: unclosed rings are closed, geometries
    GEOS cannot read are left None; one warning names the features of each kind."""
    present = [i for i, s in enumerate(shapes) if s is not None]
    if not present:
        return
    out[present] = shapely.from_geojson([json.dumps(shapes[i]) for i in present],
                                        on_invalid="ignore")
    closed, skipped, reason = [], [], ""
    for i in present:
        if out[i] is not None:
            continue
        fixed = _close_rings(shapes[i])
        geom = None if fixed is None else shapely.from_geojson(json.dumps(fixed),
                                                               on_invalid="ignore")
        if geom is not None:
            out[i] = geom
            closed.append(i)
            continue
        skipped.append(i)
        if not reason:
            try:
                shapely.from_geojson(json.dumps(fixed if fixed is not None else shapes[i]))
                reason = "not a geometry"
            except Exception as exc:  # GEOS's parse or ring errors
                reason = str(exc).splitlines()[0]

    def label(i: int) -> str:
        fid = features[i].get("id")
        return f"feature {i}" + (f" (id {fid!r})" if fid is not None else "")

    if closed:
        _warn(f"{path}: {_count(closed)} had rings that were not closed and were closed: "
              f"{_names(closed, label)} (numbered from 0, as ogrinfo does).", depth=1)
    if skipped:
        _warn(f"{path}: {_count(skipped)} with a geometry that cannot be read were skipped: "
              f"{_names(skipped, label)} (numbered from 0, as ogrinfo does; {reason}).",
              depth=1)


def _close_rings(shape):
    """A Polygon/MultiPolygon GeoJSON geometry with each ring closed, or None when it is
    not one or nothing was open."""
    def close(ring):
        if not isinstance(ring, list) or len(ring) < 3 or ring[0] == ring[-1]:
            return ring, False
        return [*ring, ring[0]], True

    try:
        kind, coords = shape.get("type"), shape.get("coordinates")
        polygons = [coords] if kind == "Polygon" else coords if kind == "MultiPolygon" else None
        if not isinstance(polygons, list) or not all(isinstance(p, list) for p in polygons):
            return None
        rings = [[close(r) for r in polygon] for polygon in polygons]
    except (AttributeError, TypeError):
        return None
    if not any(changed for polygon in rings for _, changed in polygon):
        return None
    fixed = [[r for r, _ in polygon] for polygon in rings]
    return {"type": kind, "coordinates": fixed[0] if kind == "Polygon" else fixed}


def _count(indices: list) -> str:
    return f"{len(indices)} feature{'s' if len(indices) != 1 else ''}"


def _names(indices: list, label, limit: int = 5) -> str:
    shown = ", ".join(label(i) for i in indices[:limit])
    return shown + (f" and {len(indices) - limit} more" if len(indices) > limit else "")


def _warn(message: str, depth: int = 0) -> None:
    """A GeotileWarning attributed to read_labels' caller (``depth``: extra frames)."""
    warnings.warn(message, GeotileWarning, stacklevel=4 + depth)


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


def _choose_layer(path: Path, layer: str | None) -> str | None:
    """The layer to read: ``layer`` when the file has it, else the file's only layer of
    polygons or lines (None: GDAL's first layer); InputError listing the layers otherwise."""
    from pyogrio import list_layers

    layers = [(str(name), str(kind)) for name, kind in list_layers(path)]
    names = ", ".join(name for name, _ in layers)
    if layer is not None:
        if layer not in {name for name, _ in layers}:
            raise InputError(f"{path}: no layer {layer!r}. Layers: {names}.")
        return layer
    if len(layers) < 2:
        return None
    shaped = [name for name, kind in layers
              if any(word in kind for word in ("Polygon", "LineString", "Surface", "Curve",
                                                 "Unknown", "Geometry"))]
    if len(shaped) > 1:
        raise InputError(
            f"{path}: the file holds {len(shaped)} layers of polygons or lines "
            f"({', '.join(shaped)}). Choose one with --layer NAME."
        )
    return shaped[0] if shaped else None


def _read_ogr(path: Path, layer: str | None = None) -> Labels | None:
    from pyogrio.raw import read

    chosen = _choose_layer(path, layer)
    try:
        meta, fids, wkb, field_data = read(path, layer=chosen, return_fids=True)
    except UnicodeDecodeError:  # text fields in another encoding, as GDAL would show them
        meta, fids, wkb, field_data = read(path, layer=chosen, return_fids=True,
                                           encoding="latin-1")
        _warn(f"{path}: text fields are not UTF-8; read them as Latin-1. Check text fields "
              "with accents.")
    fields = {name: np.asarray(data)
              for name, data in zip(meta["fields"], field_data, strict=True)}
    if wkb is None or meta.get("geometry_type") is None:
        _csv_hint(path, fields)
        return None
    crs = parse_crs(meta["crs"], str(path)) if meta.get("crs") else None
    geometries = shapely.from_wkb(wkb, on_invalid="ignore")
    broken = np.array([i for i, (g, w) in enumerate(zip(geometries, wkb, strict=True))
                       if g is None and w is not None], dtype=np.int64)
    if len(broken):
        fixed = shapely.from_wkb(wkb[broken], on_invalid="fix")
        geometries[broken] = fixed
        repaired = [int(i) for i, g in zip(broken, fixed, strict=True) if g is not None]
        skipped = [int(i) for i, g in zip(broken, fixed, strict=True) if g is None]

        def label(i: int) -> str:
            return f"FID {fids[i]}" if fids is not None else f"feature {i}"

        if repaired:
            _warn(f"{path}: {_count(repaired)} with geometry GEOS cannot read as it is "
                  f"(e.g. unclosed rings) were repaired: {_names(repaired, label)}.")
        if skipped:
            _warn(f"{path}: {_count(skipped)} with a geometry that cannot be read were "
                  f"skipped: {_names(skipped, label)}.")
    return Labels(geometries, fields, crs)


def _csv_hint(path: Path, fields: dict) -> None:
    """A CSV whose geometry is WKT text (SpaceNet's PolygonWKT_Geo / PolygonWKT_Pix): say
    which GDAL open option reads it."""
    def looks_wkt(name, values) -> bool:
        first = next((v for v in values if isinstance(v, str) and v.strip()), "")
        return "wkt" in name.lower() or first.lstrip().upper().startswith(
            ("POLYGON", "MULTIPOLYGON"))

    columns = [name for name, values in fields.items() if looks_wkt(name, values)]
    if not columns:
        return
    column = next((c for c in columns if "geo" in c.lower()), columns[0])
    crs = " -a_srs EPSG:4326" if column == "PolygonWKT_Geo" else " -a_srs EPSG:xxxx"
    raise InputError(
        f"{path}: the polygons are WKT text in column{'s' if len(columns) > 1 else ''} "
        f"{', '.join(columns)}, which GDAL reads only when told which one (open option "
        f"GEOM_POSSIBLE_NAMES={column}). Convert it: ogr2ogr -oo GEOM_POSSIBLE_NAMES={column} "
        f"-oo KEEP_GEOM_COLUMNS=NO{crs} labels.gpkg {path}"
        + (" (PolygonWKT_Pix is in pixels, PolygonWKT_Geo in lon/lat)." if column ==
           "PolygonWKT_Geo" else ".")
    )


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


def grid_envelope(transform, width: float, height: float, col_off: float = 0,
                  row_off: float = 0) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) of all four corners of a pixel window: right for rotated,
    sheared and south-up rasters, where two corners are not the extent."""
    cols = np.array([col_off, col_off + width, col_off, col_off + width], dtype=np.float64)
    rows = np.array([row_off, row_off, row_off + height, row_off + height], dtype=np.float64)
    xs, ys = transform * (cols, rows)
    return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())


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
    numbers, or of text that reads as numbers ("1", "10", "2.0"), is used as
    ids; a field of names is mapped by ``class_map``, or, without a map, names
    get ids 1..N in sorted order.
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
    if class_map is not None:
        class_map = check_class_map(class_map, "--class-map")
    numbers = [_number(v) for v in values]
    if class_map is None and all(n is not None for n in numbers):
        fractional = next((v for v, n in zip(values, numbers, strict=True)
                           if not float(n).is_integer()), None)
        if fractional is not None:
            raise InputError(
                f"{source}: class value {fractional!r} of field {class_field!r} is not a whole "
                "class id 1..255. Map the classes with --class-map."
            )
        ids = [int(n) for n in numbers]
        names = {i: str(i) for i in sorted(set(ids))}
    else:
        keys = [_class_key(v) for v in values]
        mapping = class_map or {name: i + 1 for i, name in enumerate(sorted(set(keys)))}
        missing = sorted(set(keys) - set(mapping))
        if missing:
            raise InputError(
                f"{source}: class {missing[0]!r} of field {class_field!r} is not in the class map. "
                "Add it to the --class-map file."
            )
        ids = [mapping[k] for k in keys]
        names = {i: name for name, i in mapping.items()}
    bad = sorted({i for i in ids if not 1 <= i <= 255})
    if bad:
        raise InputError(
            f"{source}: class id {bad[0]} is outside 1..255 (0 is background). "
            "Map the classes with --class-map."
        )
    return ids, names


def read_class_map(path: str | os.PathLike) -> dict[str, int]:
    """A JSON class map {"building": 1, ...} from ``path``, checked (see check_class_map)."""
    path = Path(path)
    try:
        mapping = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(
            f'{path}: not a JSON object of class names to ids, like {{"building": 1}}.'
        ) from exc
    return check_class_map(mapping, path)


def check_class_map(mapping, source: str | os.PathLike) -> dict[str, int]:
    """``mapping`` (name -> id) with integer ids 1..255; keys that read as numbers ("01",
    2.0) become their canonical text ("1", "2"). InputError naming ``source`` otherwise."""
    if not isinstance(mapping, dict) or not mapping:
        raise InputError(
            f'{source}: not a JSON object of class names to ids, like {{"building": 1}}.'
        )
    checked = {}
    for name, value in mapping.items():
        number = None if isinstance(value, str) else _number(value)
        if number is None or not float(number).is_integer() or not 1 <= number <= 255:
            raise InputError(
                f"{source}: class {str(name)!r} has id {json.dumps(value, default=str)}; "
                "ids are integers 1..255 (0 is background)."
            )
        checked[_class_key(name)] = int(number)
    return checked


def _number(value) -> float | int | None:
    """``value`` as a finite number when it is one or is text that reads as one; else None."""
    if isinstance(value, (bool, np.bool_)) or value is None:
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if np.isfinite(number) else None
    return None


def _class_key(value) -> str:
    """The text a class value is looked up by: whole numbers as "1" (also 1.0 and "01")."""
    number = _number(value)
    if number is not None and float(number).is_integer():
        return str(int(number))
    return str(value)
