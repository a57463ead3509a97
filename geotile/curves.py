"""Arcs (CircularString, CompoundCurve, CurvePolygon, MultiCurve, MultiSurface) made the
straight-edged geometries GEOS works with, as GDAL linearises them."""

from __future__ import annotations

import re
import uuid

import numpy as np
import shapely

from geotile.quiet_warnings import NO_CRS, hidden

#: GEOS type ids from CircularString (8) up: curves GEOS reads but cannot operate on
FIRST_CURVE = 8

#: an empty arc in WKT (GDAL hands a collection whose only arcs are empty back as it is)
_EMPTY_ARC = re.compile(r"\b(CIRCULARSTRING|COMPOUNDCURVE|CURVEPOLYGON|MULTICURVE|MULTISURFACE)"
                        r"(?= (?:Z |M |ZM )?EMPTY)")
_LINEAR = {"CIRCULARSTRING": "LINESTRING", "COMPOUNDCURVE": "LINESTRING",
           "CURVEPOLYGON": "POLYGON", "MULTICURVE": "MULTILINESTRING",
           "MULTISURFACE": "MULTIPOLYGON"}


def linearise(geometries: np.ndarray) -> None:
    """Replace, in place, the geometries of ``geometries`` holding arcs, in a
    GeometryCollection too (GDAL's readers linearise a curve, never a collection's
    members), by GDAL's own linear approximation of each arc."""
    kinds = shapely.get_type_id(geometries)
    todo = np.flatnonzero(kinds >= FIRST_CURVE).tolist() + _holding_arcs(
        geometries, np.flatnonzero(kinds == 7))
    if todo:
        geometries[todo] = _gdal_linear(geometries[todo])
        left = [i for i in todo if _curved(geometries[i])]
        if left:
            geometries[left] = _empty_arcs_linear(geometries[left])


def _holding_arcs(geometries: np.ndarray, indices: np.ndarray) -> list[int]:
    """Those of ``indices`` (GeometryCollections of ``geometries``) holding an arc, at any
    depth: their parts listed all at once, halves listed apart where shapely refuses one
    (an arc), so that only the arcs' collections are looked at alone."""
    if not len(indices):
        return []
    try:
        parts, owners = shapely.get_parts(geometries[indices], return_index=True)
    except NotImplementedError:  # "Nonlinear geometry types are not currently supported"
        if len(indices) == 1:
            return indices.tolist()
        half = len(indices) // 2
        return _holding_arcs(geometries, indices[:half]) + \
            _holding_arcs(geometries, indices[half:])
    kinds = shapely.get_type_id(parts)
    inner = np.flatnonzero(kinds == 7)
    held = np.union1d(owners[kinds >= FIRST_CURVE], owners[_holding_arcs(parts, inner)])
    return indices[held.astype(int)].tolist()


def _curved(geometry) -> bool:
    """Whether ``geometry`` is or holds an arc (shapely refuses to hand one out)."""
    if shapely.get_type_id(geometry) != 7:
        return shapely.get_type_id(geometry) >= FIRST_CURVE
    try:
        return any(_curved(part) for part in shapely.get_parts(geometry).tolist())
    except NotImplementedError:  # "Nonlinear geometry types are not currently supported"
        return True


def _gdal_linear(curved: np.ndarray) -> np.ndarray:
    """``curved`` written by GDAL to a layer of no arcs (GeoJSON, in memory), which
    linearises them wherever they are, and read back."""
    import pyogrio.raw
    from pyogrio import vsi_unlink

    path = f"/vsimem/geotile_arcs_{uuid.uuid4().hex}.geojson"
    # ISO WKB: GDAL refuses shapely's default (extended) WKB of XYM
    wkb = np.array(shapely.to_wkb(curved, output_dimension=3, flavor="iso"), dtype=object)
    try:
        with hidden(UserWarning, message=NO_CRS):  # none is needed
            pyogrio.raw.write(path, geometry=wkb, field_data=[], fields=[], crs=None,
                              geometry_type="Unknown", driver="GeoJSON",
                              layer_options={"COORDINATE_PRECISION": 17})
        read = pyogrio.raw.read(path)[2]
    finally:
        vsi_unlink(path)
    return shapely.from_wkb(read)


def _empty_arcs_linear(geometries: np.ndarray) -> np.ndarray:
    """``geometries`` with their empty arcs (CURVEPOLYGON EMPTY...) made the linear empties
    of the same kind: GDAL linearises only a geometry with an arc that has points."""
    wkt = shapely.to_wkt(geometries, rounding_precision=-1, output_dimension=3)
    return shapely.from_wkt([_EMPTY_ARC.sub(lambda found: _LINEAR[found[1]], text)
                             for text in wkt.tolist()])
