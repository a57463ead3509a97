"""xView's one GeoJSON of every image's objects (``xView_train.geojson``) as make-masks labels.

Each feature names its image by ``image_id`` (the file name, ``2355.tif``), its class by
``type_id`` (xView's ids, 11..94) and its box by ``bounds_imcoords`` (``"x1,y1,x2,y2"``: the
box's edges in the image's pixels, origin at its top-left corner). The features' lon/lat
geometries are known to be off by some pixels: the boxes are what xView's own tools read,
so each IMAGE takes the boxes of the features of its file name or stem (``2355.tif`` and
``2355``; else of the one name of its stem: a ``2355.png`` made from it), burnt by its
geotransform as the pixels whose centre lies inside, later on top. Class ids are the
type_ids (numbers as names, as Labelme's labels that read as numbers; --class-map maps
them). Boxes of type_id 75 and 82, classes xView's
own label list (xview_class_labels.txt: 60 classes) lacks and its converters drop, are
left out with one warning counting them. An IMAGE no feature names is refused; a box of
no area is left out with one warning counting them. A feature keeps those three
properties alone as the file is parsed (its geometry dropped): the whole file as Python
objects would take some 10 GB.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import shapely

from geotile.errors import GeotileWarning, InputError
from geotile.user_warnings import warn

#: bytes of a file's start searched for xView's keys
SNIFF_BYTES = 1 << 16
_KEYS = re.compile(rb'"bounds_imcoords"\s*:')
#: what to give instead, in refusals
_GIVE = "Give xView's xView_train.geojson (features with image_id, type_id, bounds_imcoords)."
#: type_ids of boxes in xView_train.geojson of no class in xView's xview_class_labels.txt
UNLABELLED_TYPES = ("75", "82")


def is_xview_file(labels) -> bool:
    """Whether LABELS is a GeoJSON file whose features carry xView's ``bounds_imcoords``."""
    from geotile.json_text import sniffed

    return any(sniffed(labels, _KEYS, SNIFF_BYTES, suffix)
               for suffix in (".geojson", ".json"))


def read_xview(labels, images):
    """The boxes of ``images`` in xView's LABELS, as :class:`geotile.labelme_labels.Labelme`
    (one file for every image, each image's own boxes), every image found and every box
    read before anything is written; InputError in one line otherwise."""
    from geotile.input_paths import input_path
    from geotile.json_text import read_json
    from geotile.labelme_labels import Labelme, LabelmeFile

    path = Path(os.fspath(labels))
    document = read_json(path, _GIVE, _parse)
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list):
        raise InputError(f"{path}: no GeoJSON features. {_GIVE}")
    by_name: dict[str, list] = {}
    for position, feature in enumerate(features):
        properties = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(properties, dict) or "image_id" not in properties:
            raise InputError(f"{path}: feature {position} has no image_id. {_GIVE}")
        by_name.setdefault(str(properties["image_id"]), []).append((position, properties))
    stems = {}
    for name in by_name:
        stems.setdefault(Path(name).stem, []).append(name)
    shapes, names, slivers, unlabelled = [], set(), [], 0
    for image in images:
        image = input_path(image)
        own = _own_features(by_name, stems, image)
        if not own:
            raise InputError(f"{image}: no feature of {path.name} has image_id {image.name}. "
                             "Give the images it labels.")
        found = LabelmeFile(path, None, image.name)
        for position, properties in own:
            label, box = _box(path, position, properties)
            if box is None:
                slivers.append(position)
                continue
            if label in UNLABELLED_TYPES:
                unlabelled += 1
                continue
            found.instances.append((label, box))
            names.add(label)
        shapes.append(found)
    if slivers:
        count = len(slivers)
        warn(f"{path}: {count} box{'es' if count > 1 else ''} of no area left out "
             f"(feature {slivers[0]}{' first' if count > 1 else ''}).",
             GeotileWarning)
    if unlabelled:
        warn(f"{path}: {unlabelled} box{'es' if unlabelled > 1 else ''} of type_id 75 "
             "or 82 left out: xView's class list (xview_class_labels.txt) has no such "
             "class, and its tools drop them.", GeotileWarning)
    return Labelme(os.fspath(labels), [path] * len(shapes), shapes,
                   sorted(names, key=lambda n: (len(n), n)))


def _own_features(by_name: dict, stems: dict, image) -> list:
    """The (position, properties) of ``image``'s features, in the file's order: those of
    image_id its name or stem (2355.tif and 2355 name one image), else of the one name of
    its stem (2355.tif for a 2355.png made from it)."""
    names = [name for name in dict.fromkeys((image.name, image.stem)) if name in by_name]
    if image.name not in by_name:
        others = [name for name in stems.get(image.stem, ()) if name not in names]
        names += others if len(others) == 1 else []
    return sorted(feature for name in names for feature in by_name[name])


#: the properties a feature keeps (xView_train.geojson: 600k features, 800 MB)
_KEPT = ("image_id", "type_id", "bounds_imcoords")


def _parse(text: str):
    """The document with each feature's properties alone, those of :data:`_KEPT`: a whole
    xView_train.geojson would take some 10 GB as Python objects, its geometries most."""
    import json

    def kept(obj: dict):
        if "image_id" in obj or "bounds_imcoords" in obj:
            return {key: obj[key] for key in _KEPT if key in obj}
        if obj.get("type") == "Feature":
            return {"properties": obj.get("properties")}
        return obj

    return json.loads(text, object_hook=kept)


def _box(path: Path, position: int, properties: dict):
    """(class name, box polygon in pixel coordinates or None for no area) of a feature."""
    type_id, bounds = properties.get("type_id"), properties.get("bounds_imcoords")
    try:
        x1, y1, x2, y2 = (float(v) for v in str(bounds).split(","))
        label = str(int(type_id))
    except (TypeError, ValueError):
        raise InputError(f"{path}: feature {position} ({properties.get('image_id')}) has "
                         f"bounds_imcoords {bounds!r}, type_id {type_id!r}; xView's are "
                         f"'x1,y1,x2,y2' pixels and a whole number. {_GIVE}") from None
    left, right, top, bottom = min(x1, x2), max(x1, x2), min(y1, y2), max(y1, y2)
    if not (right > left and bottom > top):
        return label, None
    return label, shapely.box(left, top, right, bottom)
