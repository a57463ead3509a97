"""Whether a labels file still holds its features in the order they were written, which
decides the class on top where features overlap ("later features on top").

A FlatGeobuf written with its spatial index (GDAL's default, pyogrio's and geopandas' too)
stores its features sorted by place (a packed Hilbert R-tree), so the order written is lost:
where features of different classes overlap, the one on top follows that sort.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from geotile.errors import GeotileWarning
from geotile.user_warnings import warn


class OrderLostWarning(GeotileWarning):
    """:func:`warn_order_lost`'s: the tasks of a cluster run, one image each, raise it per
    image; the run gathers theirs into one (geotile.distributed), as one process says it."""


def space_sorted(labels_path, layer: str | None = None) -> bool:
    """Whether ``labels_path`` is a FlatGeobuf with a spatial index (features re-sorted)."""
    if not os.fspath(labels_path).lower().endswith(".fgb"):
        return False
    import pyogrio

    from geotile.input_paths import ogr_path

    try:
        info = pyogrio.read_info(ogr_path(labels_path), layer=layer)
    except Exception:  # read_labels says what is wrong with the file
        return False
    return info.get("driver") == "FlatGeobuf" and bool(
        info.get("capabilities", {}).get("fast_spatial_filter"))


def classes_overlap(frame, extent) -> bool:
    """Whether two features of ``frame`` (burnt geometries, ``class_id`` field) of
    different classes overlap by some area within ``extent``: where the order of the
    features decides pixels."""
    import shapely

    ids = np.asarray(frame.fields["class_id"])
    if len(frame) < 2 or len(np.unique(ids)) < 2:
        return False
    geometries = np.asarray(frame.geometries, dtype=object)
    left, right = shapely.STRtree(geometries).query(geometries, predicate="intersects")
    keep = (left < right) & (ids[left] != ids[right])
    left, right = left[keep], right[keep]
    for start in range(0, len(left), 256):  # the first overlap found is enough
        shared = shapely.intersection(geometries[left[start:start + 256]],
                                      geometries[right[start:start + 256]])
        if (shapely.area(shapely.clip_by_rect(shared, *extent)) > 0).any():
            return True
    return False


def warn_order_lost(labels_path, images: list) -> None:
    """One warning naming ``labels_path``, the images whose pixels its sort decided, and
    the fix."""
    names = [Path(os.fspath(i)).name for i in images]
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    warn(
        f"{labels_path}: a FlatGeobuf with a spatial index stores its features sorted by "
        "place, not in the order they were written, so where features of different classes "
        f"overlap (on {shown}) the class on top follows that sort. For later features on "
        "top, write it without the index (ogr2ogr -lco SPATIAL_INDEX=NO; geopandas "
        "to_file(..., SPATIAL_INDEX='NO')) or as a GeoPackage.", OrderLostWarning)
