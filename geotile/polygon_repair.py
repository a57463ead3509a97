"""Polygons made valid: bow-ties, collapsed rings and GeometryCollections to their polygonal
part, as gdal_rasterize burns them and QGIS draws them."""

from __future__ import annotations

import itertools

import numpy as np
import shapely

from geotile.quiet_warnings import is_valid


def repair_polygons(geometries: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Make geometries valid and keep their polygonal part.

    Self-intersecting rings (bow-ties) become MultiPolygons, as ``make_valid``
    does; line or point remnants of collapsed rings are dropped; features with
    no polygonal area become empty geometries (so positions are kept).
    A MultiPolygon is the union of its parts, each repaired so: parts that overlap
    (footprints merged per building without a union) keep their overlap, which
    ``make_valid`` alone makes a hole. Both as gdal_rasterize burns them (each part
    filled even-odd, the parts' union) and QGIS draws them.
    ``valid``: ``shapely.is_valid(geometries)`` when the caller has it already.
    """
    parts = np.empty(len(geometries), dtype=object)
    parts[:] = list(geometries)
    if valid is None:
        valid = is_valid(parts)
    broken = ~valid  # valid ones are kept as they are (make_valid copies)
    multi = broken & (shapely.get_type_id(parts) == 6)
    broken &= ~multi
    parts[broken] = shapely.make_valid(parts[broken])
    if multi.any():
        pieces, owner = shapely.get_parts(parts[multi], return_index=True)
        pieces = shapely.make_valid(pieces)
        starts = np.searchsorted(owner, np.arange(np.count_nonzero(multi) + 1))
        parts[multi] = [shapely.union_all(pieces[a:b])
                        for a, b in itertools.pairwise(starts)]
    polygonal = np.isin(shapely.get_type_id(parts), [3, 6]) & ~shapely.is_empty(parts)
    for index in np.flatnonzero(~polygonal).tolist():
        polys = collection_parts(parts[index])[1]
        parts[index] = shapely.union_all(polys) if polys else shapely.Polygon()
    return parts


def collection_parts(geometry) -> tuple[list, list]:
    """(lines, polygons): the non-empty LineStrings/MultiLineStrings and Polygons/
    MultiPolygons of ``geometry``, in nested GeometryCollections too (points left out)."""
    todo, found = [geometry], ([], [])
    while todo:
        part = todo.pop()
        if part is None or part.is_empty:
            continue
        kind = shapely.get_type_id(part)
        if kind == 7:  # GeometryCollection
            todo.extend(shapely.get_parts(part).tolist())
        elif kind in (1, 2, 5, 3, 6):
            found[kind in (3, 6)].append(part)
    return found
