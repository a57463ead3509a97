"""make-masks --where: keep the vector labels' features an OGR SQL WHERE expression selects.

Whichever reader read them (GeoJSON, GeoPackage, GeoParquet, CSV...), the features are
selected by GDAL's own OGR SQL engine, alike: their fields and geometries are written to an
in-memory FlatGeobuf layer, in their order, and ``SELECT ... WHERE <expression>`` picks
them there. The expression so means what ``gdal_rasterize -where`` gives it on a GeoJSON,
FlatGeobuf, Shapefile or CSV (= and IN ignore case, LIKE does not; OGR_GEOM_AREA in the
file's units), a GeoPackage's too, which GDAL hands to SQLite (where LIKE ignores case and
= does not). FID is the feature's place among those read, not the file's.
"""

from __future__ import annotations

import json
import re
import uuid

import numpy as np
import shapely

from geotile.errors import InputError
from geotile.quiet_warnings import NO_CRS, hidden

#: the in-memory layer's name, as the expression's SELECT names it
_LAYER = "labels"


def filter_labels(labels, where: str | None, source, geojson: bool = False):
    """``labels`` (:class:`~geotile.label_set.Labels`) keeping the features ``where`` selects
    (all when it is None); InputError naming ``source``, the expression and GDAL's complaint
    when it is not one GDAL can apply to their fields. ``geojson``: the fields are a GeoJSON's
    properties as geotile's reader reads them, typed as GDAL's GeoJSON driver types them
    (dates, nested objects: :func:`_ogr_column`). A file of no features (SpaceNet's for a
    tile without buildings) has no fields to check: nothing is selected from it."""
    if where is None:
        return labels
    if len(labels) == 0:
        labels.where = (where, 0)
        return labels
    kept = labels.take(selected(labels.fields, labels.geometries, where, source, geojson))
    kept.where = (where, len(labels))
    return kept


def selected(fields: dict, geometries, where: str, source, geojson: bool = False
             ) -> np.ndarray:
    """The boolean index of the features (``fields``: name -> column; ``geometries``:
    shapely geometries or None) that ``where`` selects (``geojson``: :func:`filter_labels`)."""
    count = len(geometries) if geometries is not None else \
        len(next(iter(fields.values()), []))
    names = list(fields)
    data = [_ogr_column(fields[name], geojson) for name in names]
    wkb = None
    if geometries is not None:
        wkb = np.empty(count, dtype=object)
        wkb[:] = list(shapely.to_wkb(np.asarray(geometries, dtype=object)))
    path = f"/vsimem/geotile_where_{uuid.uuid4().hex}.fgb"
    from pyogrio import vsi_unlink
    from pyogrio.raw import read, write

    try:
        with hidden(UserWarning, message=NO_CRS):  # none is needed to select
            write(path, wkb, data, names, driver="FlatGeobuf", layer=_LAYER,
                  geometry_type="Unknown" if wkb is not None else None, crs=None,
                  SPATIAL_INDEX="NO")  # no index: the features keep their order (FIDs)
        try:
            _, fids, _, _ = read(path, sql=f"SELECT * FROM {_LAYER} WHERE {where}",
                                 sql_dialect="OGRSQL", return_fids=True,
                                 read_geometry=False, columns=[])
        except Exception as exc:  # pyogrio's DataLayerError... with GDAL's message
            raise InputError(where_refusal(source, where, exc, names)) from None
    finally:
        vsi_unlink(path)
    keep = np.zeros(count, dtype=bool)
    keep[np.asarray(fids, dtype=np.int64)] = True
    return keep


def where_refusal(source, where: str, exc: Exception, names) -> str:
    """One line: ``source``, the expression and GDAL's complaint (``exc``), the fields when
    it names one the file lacks."""
    complaint = " ".join(str(exc).split()) or type(exc).__name__
    complaint = complaint.split(" Occurred around")[0]  # the SELECT we wrapped it in
    fields = ""
    if "not recognised as an available field" in complaint:
        fields = f" Fields: {', '.join(names) or 'none'}" + (
            " (quote names with spaces or capitals: \"Building Type\")." if names else ".")
    return f"{source}: --where {where!r}: {complaint.rstrip('.')}.{fields}"


def _ogr_column(column, geojson: bool = False) -> np.ndarray:
    """A field column as pyogrio writes it, typed as GDAL reads such values: numbers
    (bools as 0/1) stay numbers, text text; a column of mixed values is text (as GDAL types
    a GeoJSON property of numbers and text), nested values are their JSON. ``geojson``: as
    GDAL's GeoJSON driver types a property: text that is all dates (2024-01-05, 2024/01/05)
    a Date, all dates and date-times a DateTime (its offset dropped, as GDAL's read gives
    it); a nested object its JSON as GDAL writes it ('{ "a": 1 }')."""
    column = np.asarray(column)
    if column.dtype != object:
        return column
    present = [v for v in column if v is not None and not _nan(v)]
    if geojson and present and all(isinstance(v, str) for v in present):
        dated = _dates(column, present)
        if dated is not None:
            return dated
    if present and all(isinstance(v, (bool, np.bool_)) for v in present):
        return np.array([np.nan if v is None or _nan(v) else float(v) for v in column])
    if present and all(isinstance(v, (int, float, np.integer, np.floating))
                       and not isinstance(v, (bool, np.bool_)) for v in present):
        if all(isinstance(v, (int, np.integer)) for v in present) and len(present) == len(column):
            return np.array(column.tolist(), dtype=np.int64)
        return np.array([np.nan if v is None or _nan(v) else float(v) for v in column])
    out = np.empty(len(column), dtype=object)
    text = _gdal_json if geojson else _text
    out[:] = [None if v is None or _nan(v) else text(v) for v in column]
    return out


_DATE = re.compile(r"(\d{4})[-/](\d\d)[-/](\d\d)")
_DATE_TIME = re.compile(r"(\d{4})[-/](\d\d)[-/](\d\d)[T ](\d\d):(\d\d)(?::(\d\d(?:\.\d+)?))?"
                        r"(?:Z|[+-]\d\d(?::?\d\d)?)?")


def _dates(column, present) -> np.ndarray | None:
    """``column`` (text, ``present`` its values) as GDAL's GeoJSON driver reads a property of
    dates (datetime64[D]) or of dates and date-times (datetime64[ms]); None otherwise."""
    if all(_DATE.fullmatch(v) for v in present):
        unit, parts = "D", [None if v is None or _nan(v) else _DATE.fullmatch(v).groups()
                            for v in column]
    elif all(_DATE.fullmatch(v) or _DATE_TIME.fullmatch(v) for v in present):
        unit = "ms"
        parts = [None if v is None or _nan(v) else
                 (_DATE_TIME.fullmatch(v) or _DATE.fullmatch(v)).groups() for v in column]
    else:
        return None
    try:
        return np.array([np.datetime64("NaT") if p is None else np.datetime64(
            f"{p[0]}-{p[1]}-{p[2]}" + (f"T{p[3]}:{p[4]}:{p[5] or '00'}" if len(p) > 3 else ""),
            unit) for p in parts], dtype=f"datetime64[{unit}]")
    except ValueError:  # 2024-13-45: not a date, text as GDAL keeps it
        return None


def _gdal_json(value) -> str:
    """A GeoJSON property's value as text, as GDAL's GeoJSON driver gives it: a nested
    object (or a list holding one, or of mixed kinds) as json-c writes it, a list of
    numbers or of text as :func:`_text`."""
    if isinstance(value, list) and (all(isinstance(v, str) for v in value) or all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        if any(isinstance(v, float) for v in value):
            value = [float(v) for v in value]  # a RealList
        return _text(value)
    if isinstance(value, (dict, list)):
        return _json_c(value)
    return _text(value)


def _json_c(value) -> str:
    """``value`` as json-c's spaced text (GDAL's JSON of a nested property)."""
    if isinstance(value, dict):
        inner = ", ".join(f"{json.dumps(str(k), ensure_ascii=False)}: {_json_c(v)}"
                          for k, v in value.items())
        return f"{{ {inner} }}" if inner else "{ }"
    if isinstance(value, list):
        inner = ", ".join(_json_c(v) for v in value)
        return f"[ {inner} ]" if inner else "[ ]"
    return json.dumps(value, ensure_ascii=False)


def _nan(value) -> bool:
    return isinstance(value, (float, np.floating)) and np.isnan(value)


def _text(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str, ensure_ascii=False)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def check_where(path, where: str | None, schema: dict | None) -> None:
    """InputError (as :func:`selected`'s) when ``where`` does not apply to the fields of
    the vector file ``path``, checked on its ``schema`` alone (name -> NumPy dtype:
    :func:`geotile.labels.field_schema`; no feature read), so that a run is refused before
    any mask is written; files whose schema GDAL does not read, or that hold no features
    (``schema`` None: xBD's, SpaceNet's CSV) are checked as they are read."""
    if where is None or schema is None:
        return
    fields = {name: np.empty(0, dtype=dtype) for name, dtype in schema.items()}
    selected(fields, np.empty(0, dtype=object), where, path)
