"""Parquet files of WKB geometries without GeoParquet's 'geo' metadata.

DuckDB's ``COPY (SELECT * FROM read_parquet('s3://overturemaps-...')) TO 'x.parquet'``
without its spatial extension loaded writes Overture's geometry column as a plain BLOB and
drops the 'geo' key; so do pyarrow scripts that copy a table. Such a file is read as GDAL's
Parquet driver reads it: the binary column named as GDAL looks for one (GEOM_POSSIBLE_NAMES,
and DuckDB's ``geom``) is WKB, in no declared CRS, taken here as lon/lat (OGC:CRS84, what
Overture documents and GeoParquet assumes where no CRS is given) unless --labels-crs says.
"""

from __future__ import annotations

#: the names of a WKB column taken for the geometry, first found first
GEOMETRY_NAMES = ("geometry", "geom", "wkb_geometry")


def geometry_column(schema) -> str | None:
    """The name of the binary column of pyarrow ``schema`` that holds its geometries as WKB
    by the names above; None without one."""
    import pyarrow as pa

    for name in GEOMETRY_NAMES:
        if name in schema.names:
            kind = schema.field(name).type
            if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
                return name
    return None


def assumed_geo(schema, name: str) -> dict:
    """'geo' metadata for a file of pyarrow ``schema`` whose WKB column ``name`` is not in
    GeoParquet's 'geo' key ('plain' marks it): the CRS its GeoArrow extension metadata names
    ({"crs": ...} on a geoarrow.wkb field), else no 'crs' member, which readers take as
    OGC:CRS84 (GeoParquet 1.1)."""
    import json

    column: dict = {"encoding": "WKB", "geometry_types": []}
    meta = schema.field(name).metadata or {}
    if meta.get(b"ARROW:extension:name") == b"geoarrow.wkb":
        try:
            declared = json.loads(meta.get(b"ARROW:extension:metadata") or b"{}")
        except ValueError:
            declared = {}
        if isinstance(declared, dict) and declared.get("crs"):
            column["crs"] = declared["crs"]
    return {"version": "1.1.0", "primary_column": name, "plain": True,
            "columns": {name: column}}


def lonlat_assumed(geo: dict) -> bool:
    """Whether ``geo`` (:func:`assumed_geo`'s) names no CRS: its WKB read as lon/lat."""
    return bool(geo.get("plain")) and "crs" not in geo["columns"][geo["primary_column"]]
