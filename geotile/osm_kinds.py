"""The kinds of feature read from a layer of an OpenStreetMap extract (GDAL's OSM driver)
or from Overture's transportation segments (built from OSM).

An extract's ``multipolygons`` layer holds buildings beside landuse, parks and
administrative boundaries (one covers a whole town), its ``lines`` layer roads beside
streams, railways and power lines; Overture's segments are roads, railways and waterways
(``subtype``). Read without --where they are all burnt as one class: a warning names the
kinds read, and the expression that keeps the buildings (roads) only.
"""

from __future__ import annotations

import numpy as np

from geotile.errors import GeotileWarning

#: per layer: the key of the features most runs want, and the words for them
KEYS = {"multipolygons": ("building", "buildings"), "lines": ("highway", "roads")}
#: fields of GDAL's osmconf.ini that name no kind of feature
NO_KIND = {"osm_id", "osm_way_id", "name", "type", "other_tags", "admin_level", "ref",
           "z_order", "all_tags"}


def kinds(fields: dict, key: str, count: int) -> dict[str, int]:
    """How many of ``count`` features are of each kind: the first of ``key`` and the other
    attribute fields (osmconf.ini's order) that has a value, else 'other'; ``key``=no
    (building=no) a kind of its own."""
    names = [key] + [n for n in fields if n != key and n not in NO_KIND]
    kind = np.full(count, "other", dtype=object)
    for name in reversed(names):
        if name in fields:
            column = np.asarray(fields[name], dtype=object)
            kind[np.array([v is not None and v != "" for v in column], dtype=bool)] = name
    if key in fields:  # building=no: OSM's 'not a building' (a carport roof, a ruin)
        kind[np.array([v == "no" for v in np.asarray(fields[key], dtype=object)],
                      dtype=bool)] = f"{key}=no"
    found, counts = np.unique(kind.astype(str), return_counts=True)
    order = sorted(zip(found.tolist(), counts.tolist(), strict=True),
                   key=lambda item: (item[0] != key, -item[1], item[0]))
    return dict(order)


def several_kinds(labels, path, layer: str | None) -> GeotileWarning | None:
    """The warning for ``labels`` read from ``layer`` of the OSM extract ``path`` when they
    are of several kinds; None otherwise."""
    if layer not in KEYS or not len(labels):
        return None
    key, words = KEYS[layer]
    found = kinds(labels.fields, key, len(labels))
    if len(found) < 2:
        return None
    listed = ", ".join(f"{name} {number}" for name, number in found.items())
    no = f" AND {key} <> 'no'" if f"{key}=no" in found else ""
    where = f'For {words} only give --where "{key} IS NOT NULL{no}".'
    return GeotileWarning(
        f"{path}: --layer {layer} holds features of several kinds ({listed}), all read as "
        f"one class. {where}", about=str(path),
        advice=f"their --layer {layer} holds features of several kinds, all read as one "
        f"class. {where}")


#: the subtypes of Overture's transportation segments
SEGMENT_SUBTYPES = ("road", "rail", "water")


def several_subtypes(labels, path) -> GeotileWarning | None:
    """The warning for ``labels`` (from ``path``) that are Overture segments of several
    subtypes; None otherwise."""
    column = labels.fields.get("subtype")
    if column is None or not len(labels):
        return None
    values, counts = np.unique([str(v) for v in column if v is not None],
                               return_counts=True)
    if len(values) < 2 or not set(values.tolist()) <= set(SEGMENT_SUBTYPES):
        return None
    listed = ", ".join(f"{v} {n}" for v, n in sorted(
        zip(values.tolist(), counts.tolist(), strict=True),
        key=lambda item: (item[0] != "road", -item[1], item[0])))
    where = "For roads only give --where \"subtype = 'road'\"."
    return GeotileWarning(
        f"{path}: its features are of several subtypes ({listed}), all read as one class. "
        f"{where}", about=str(path),
        advice=f"their features are of several subtypes, all read as one class. {where}")
