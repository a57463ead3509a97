"""Parquet files of WKB geometries without GeoParquet's 'geo' metadata.

DuckDB's ``COPY (SELECT * FROM read_parquet('s3://overturemaps-...')) TO 'x.parquet'``
without its spatial extension loaded writes Overture's geometry column as a plain BLOB and
drops the 'geo' key; so do pyarrow scripts that copy a table. Such a file is read as GDAL's
Parquet driver reads it: the binary column named as GDAL looks for one (GEOM_POSSIBLE_NAMES,
and DuckDB's ``geom``) is WKB, in the CRS its Parquet GEOMETRY type (DuckDB 1.4, GDAL 3.12)
or its GeoArrow field metadata declares, else the SRID inside its values (EWKB, PostGIS's and
DuckDB's ST_AsEWKB); with none, taken as lon/lat (OGC:CRS84, what
Overture documents and GeoParquet assumes where no CRS is given) unless --labels-crs says.
"""

from __future__ import annotations

#: the names of a WKB column taken for the geometry, first found first
GEOMETRY_NAMES = ("geometry", "geom", "wkb_geometry")


def geometry_column(schema, parquet_schema=None) -> str | None:
    """The name of the binary column of pyarrow ``schema`` that holds its geometries as WKB:
    the first of Parquet's GEOMETRY/GEOGRAPHY type (``parquet_schema``, the file's
    ParquetSchema), else the first by the names above; None without one."""
    import pyarrow as pa

    def binary(name: str) -> bool:
        kind = schema.field(name).type
        return pa.types.is_binary(kind) or pa.types.is_large_binary(kind)

    if parquet_schema is not None:
        for i in range(len(parquet_schema)):
            column = parquet_schema.column(i)
            if str(column.logical_type.type) in ("GEOMETRY", "GEOGRAPHY") and \
                    column.path in schema.names and binary(column.path):
                return column.path
    return next((n for n in GEOMETRY_NAMES if n in schema.names and binary(n)), None)


def assumed_geo(schema, name: str, parquet_schema=None, srid: int | None = None) -> dict:
    """'geo' metadata for a file of pyarrow ``schema`` whose WKB column ``name`` is not in
    GeoParquet's 'geo' key ('plain' marks it). Its CRS: the one its Parquet GEOMETRY or
    GEOGRAPHY logical type names (``parquet_schema``, the file's ParquetSchema; that type
    without one: OGC:CRS84, the Parquet format's default), else the one its GeoArrow
    extension metadata names ({"crs": ...} on a geoarrow.wkb field), else EPSG's ``srid``
    (its first value's EWKB SRID, :func:`first_srid`), else no 'crs' member, which readers
    take as OGC:CRS84 (GeoParquet 1.1)."""
    column: dict = {"encoding": "WKB", "geometry_types": []}
    crs = (_logical_type_crs(parquet_schema, name, schema.metadata)
           or _extension_crs(schema.field(name)))
    geo = {"version": "1.1.0", "primary_column": name, "plain": True,
           "columns": {name: column}}
    if crs is None and srid:
        crs, geo["srid"] = f"EPSG:{srid}", srid  # 'srid': said where it is refused
    if crs:
        column["crs"] = crs
    return geo


def first_srid(path, name: str) -> int | None:
    """The SRID of the first value of Parquet file ``path``'s column ``name`` that is EWKB
    carrying one (PostGIS's and DuckDB's ST_AsEWKB); None where it is plain WKB, no WKB or
    all null."""
    import pyarrow.parquet as pq
    import shapely

    # streamed: the first pages only, not the row group's whole column (246 MB: 0.1 s)
    for batch in pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 16).iter_batches(
            batch_size=256, columns=[name]):
        value = next((v for v in batch.column(0).to_pylist() if v is not None), None)
        if value is not None:
            try:
                return int(shapely.get_srid(shapely.from_wkb(value))) or None
            except shapely.errors.GEOSException:  # no WKB: refused when read
                return None
    return None


def mixed_srids(shapes) -> tuple[int, int] | None:
    """Two SRIDs that EWKB ``shapes`` (read from one column) carry apart; None for one."""
    import numpy as np
    import shapely

    found = np.unique(shapely.get_srid(shapes[~shapely.is_missing(shapes)]))
    found = found[found != 0]
    return (int(found[0]), int(found[1])) if len(found) > 1 else None


def _logical_type_crs(parquet_schema, name: str, metadata=None) -> str | dict | None:
    """The CRS of column ``name``'s Parquet GEOMETRY/GEOGRAPHY logical type (its 'crs', else
    OGC:CRS84; 'projjson:<key>': the PROJJSON under that key of the file's ``metadata``);
    None for a column of another type or no ``parquet_schema``."""
    import json

    if parquet_schema is None:
        return None
    for i in range(len(parquet_schema)):
        column = parquet_schema.column(i)
        if column.path == name and str(column.logical_type.type) in ("GEOMETRY",
                                                                     "GEOGRAPHY"):
            try:
                declared = json.loads(column.logical_type.to_json())
            except ValueError:
                declared = {}
            crs = declared.get("crs") if isinstance(declared, dict) else None
            if isinstance(crs, str) and crs.lower().startswith("srid:"):
                crs = f"EPSG:{crs[5:]}"  # an engine's id, EPSG's in practice
            elif isinstance(crs, str) and crs.startswith("projjson:") and \
                    (text := (metadata or {}).get(crs[9:].encode())) is not None:
                crs = text.decode()  # the format's reference to a key of the file's
            return crs or "OGC:CRS84"
    return None


def _extension_crs(field) -> str | dict | None:
    """The CRS a geoarrow.wkb ``field``'s extension metadata names; None without one."""
    import json

    meta = field.metadata or {}
    if meta.get(b"ARROW:extension:name") != b"geoarrow.wkb":
        return None
    try:
        declared = json.loads(meta.get(b"ARROW:extension:metadata") or b"{}")
    except ValueError:
        return None
    return (declared.get("crs") or None) if isinstance(declared, dict) else None


def lonlat_assumed(geo: dict) -> bool:
    """Whether ``geo`` (:func:`assumed_geo`'s) names no CRS: its WKB read as lon/lat."""
    return bool(geo.get("plain")) and "crs" not in geo["columns"][geo["primary_column"]]
