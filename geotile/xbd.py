"""xView2 / xBD building labels: one JSON file per image, not GeoJSON.

Each file holds its buildings twice, as WKT: ``features.xy`` in the image's pixel
coordinates (x right, y down; the PNGs carry no georeferencing) and ``features.lng_lat``
in longitude/latitude, with the same ``properties`` (``feature_type``, ``uid`` and, after the
disaster, ``subtype``: no-damage, minor-damage, major-damage, destroyed, un-classified).
They are read as two layers: ``xy`` (the default: labels with no CRS, placed on the
image's pixels) and ``lng_lat`` (EPSG:4326, for imagery georeferenced since).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import shapely

from geotile.errors import GeotileWarning, InputError
from geotile.user_warnings import warn

LAYERS = ("xy", "lng_lat")
#: ``subtype`` ids: the xView2 challenge's damage scale, least to most (1-4), and 5 for the
#: buildings its annotators could not assess (map it with --class-map as training needs)
DAMAGE_IDS = {"no-damage": 1, "minor-damage": 2, "major-damage": 3, "destroyed": 4,
              "un-classified": 5}


def damage_map(values) -> dict[str, int] | None:
    """:data:`DAMAGE_IDS` when every value names an xBD damage class, so that each file's
    masks get the challenge's ids whichever classes it holds; None otherwise."""
    values = list(values)
    if values and all(isinstance(v, str) and v.strip().lower() in DAMAGE_IDS for v in values):
        return dict(DAMAGE_IDS)
    return None



def pre_disaster_hint(source, class_field: str) -> str:
    """The fix to add when --class-field subtype meets an xBD pre-disaster file (its
    buildings before the event carry no damage): "" for other files and fields."""
    name = Path(str(source)).name
    if class_field != "subtype" or not name.lower().endswith("_pre_disaster.json"):
        return ""
    return (" xBD's pre-disaster files hold no damage subtype: give the post-disaster ones "
            "for damage ids ('labels/*_post_disaster.json' with the matching images), or "
            "leave out --class-field for building footprints.")

def is_xbd(document) -> bool:
    """Whether a parsed JSON document is an xBD label file (``features`` an object holding
    ``xy`` or ``lng_lat`` lists)."""
    features = document.get("features") if isinstance(document, dict) else None
    return isinstance(features, dict) and any(isinstance(features.get(k), list)
                                              for k in LAYERS)


def read_xbd(document: dict, path: Path, layer: str | None, override=None):
    """:class:`geotile.label_set.Labels` of the ``layer`` (default ``xy``) of an xBD file:
    pixel coordinates with no CRS, or lon/lat (EPSG:4326); ``override`` replaces the CRS."""
    from geotile.label_set import Labels, parse_crs, property_fields

    layer = "xy" if layer is None else layer
    if layer not in LAYERS:
        raise InputError(f"{path}: no layer {layer!r}; an xBD label file holds 'xy' (pixel "
                         "coordinates, the default) and 'lng_lat' (longitude/latitude). "
                         "Give --layer xy or --layer lng_lat.")
    items = document["features"].get(layer)
    if not isinstance(items, list):
        raise InputError(f"{path}: this xBD label file has no {layer!r} features; give "
                         f"--layer {'lng_lat' if layer == 'xy' else 'xy'}.")
    items = [item if isinstance(item, dict) else {} for item in items]
    texts = [item.get("wkt") if isinstance(item.get("wkt"), str) else None for item in items]
    geometries = np.empty(len(items), dtype=object)
    geometries[:] = list(shapely.from_wkt(texts, on_invalid="ignore")) if items else []
    unread = [i for i, (text, geometry) in enumerate(zip(texts, geometries, strict=True))
              if text is not None and geometry is None]
    if unread:
        warn(f"{path}: {len(unread)} {layer} feature(s) with WKT that cannot be read "
             f"were skipped (feature {unread[0]}, numbered from 0).", GeotileWarning)
    properties = [item.get("properties") if isinstance(item.get("properties"), dict) else {}
                  for item in items]
    crs = override or (parse_crs("EPSG:4326", "xBD") if layer == "lng_lat" else None)
    return Labels(geometries, property_fields(properties), crs)
