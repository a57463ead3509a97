"""Arcs (CircularString, CompoundCurve, CurvePolygon, MultiCurve, MultiSurface) made the
straight-edged geometries GEOS works with, as GDAL linearises them."""

from __future__ import annotations

import uuid
import warnings

import numpy as np
import shapely

#: GEOS type ids from CircularString (8) up: curves GEOS reads but cannot operate on
FIRST_CURVE = 8


def linearise(geometries: np.ndarray) -> None:
    """Replace, in place, the geometries of ``geometries`` holding arcs, in a
    GeometryCollection too (GDAL's readers linearise a curve, never a collection's
    members), by GDAL's own linear approximation of each arc."""
    kinds = shapely.get_type_id(geometries)
    todo = [i for i in np.flatnonzero((kinds == 7) | (kinds >= FIRST_CURVE)).tolist()
            if _curved(geometries[i])]
    if todo:
        geometries[todo] = _gdal_linear(geometries[todo])


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
    wkb = np.array(shapely.to_wkb(curved, output_dimension=3), dtype=object)
    try:
        with warnings.catch_warnings():  # "'crs' was not provided": none is needed
            warnings.simplefilter("ignore", UserWarning)
            pyogrio.raw.write(path, geometry=wkb, field_data=[], fields=[], crs=None,
                              geometry_type="Unknown", driver="GeoJSON",
                              layer_options={"COORDINATE_PRECISION": 17})
        read = pyogrio.raw.read(path)[2]
    finally:
        vsi_unlink(path)
    return shapely.from_wkb(read)
