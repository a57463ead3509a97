"""Datumaro JSON (the datumaro library's native format: CVAT's "Datumaro 1.0" export, Intel
Geti's and ``datum export -f datumaro``) as make-masks labels.

One file per subset, ``annotations/<subset>.json``: ``{"dm_format_version"?, "infos" |
"info", "categories": {"label": {"labels": [{"name", "parent"}, ...]}, "mask"?,
"points"?}, "items": [{"id", "image": {"path"?, "size": [h, w]?} | "media": {"path"},
"annotations": [{"type", "label_id", "points" | "bbox" | "rle", "attributes", "group",
"z_order"}]}]}``. LABELS may be one such file, its ``annotations`` folder or the export's
root (every subset's file read together). Each IMAGE takes the item whose image path's file
name is its own, else the one whose id's last part is its stem (of several in different
subsets, the one of the subset that names a folder of its path), of the item's size;
annotations are in the image's pixel coordinates (x right, y down from the top-left
corner), placed through the image's geotransform and burnt as Labelme shapes are
(:mod:`geotile.labelme_labels`: pixel centre inside; --all-touched), by ``z_order`` and
then in the file's order, later on top (datumaro's z_order sort); annotations of one
``group`` and label are one instance. An annotation whose ``is_crowd`` attribute is true
(COCO's ``iscrowd``, as datumaro's COCO import keeps it and its COCO export writes it back)
is burnt as ignore (255), as :mod:`geotile.coco_labels` burns COCO's crowd regions.

Burnt: ``polygon`` (flat ``[x1, y1, ...]``), ``bbox`` (``[x, y, w, h]``; CVAT's
``rotation`` attribute in degrees about its centre, as CVAT turns it), ``ellipse`` (its
box ``[x1, y1, x2, y2]``; exactly the pixels whose centre lies inside or on it) and
``mask`` (COCO RLE over the whole image: exactly its pixels), as COCO's are
(:mod:`geotile.coco_labels`). datumaro itself draws polygons, boxes and ellipses (a
720-point polygon) with pycocotools' frPyObjects (PolygonsToMasks, BoxesToMasks): on 800
random objects of datumaro 1.13's own export, 200 of 200 masks, 198 of 200 boxes (4 of
22,681 px apart), 161 of 200 ellipses (47 of 19,359 px) and 23 of 200 polygons (643 of
14,892 px: frPyObjects snaps vertices to a fifth of a pixel) gave the same pixels, every
other one at pixel centres within half a pixel of its outline. ``label``, ``points``,
``polyline``, ``caption``, cuboids, skeletons and other types without an area are left
out, with one warning counting them. Classes are the label names: the labels the
export's categories declare (those used only by area-less annotations, and skeleton
points, apart), over every file of LABELS, so that any subset of its images numbers them
alike (ids 1..N by sorted name; ``__ignore__`` 255; --class-map maps the names).
"""

from __future__ import annotations

import functools
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import shapely

from geotile.errors import InputError
from geotile.label_documents import is_datumaro
from geotile.short_repr import short_repr

#: annotation types with an area (burnt)
AREA = ("polygon", "bbox", "ellipse", "mask")
#: types without one (left out), as datumaro names them (CVAT's fork adds skeleton)
NO_AREA = ("label", "points", "polyline", "caption", "cuboid_3d", "cuboid_2d", "skeleton",
           "hash_key", "depth_annotation", "super_resolution_annotation", "tabular")
#: Datumaro's keys near a file's start: worth parsing it to see
_SNIFF = re.compile(rb'"dm_format_version"\s*:|"categories"\s*:\s*\{')
SNIFF_BYTES = 1 << 16
ANNOTATIONS_DIR = "annotations"
#: .json files of a folder looked at to tell it Datumaro's
_LOOKED_AT = 8


@dataclass
class _Item:
    """One item of a Datumaro file, unchecked."""

    path: Path
    #: its place in the file's items
    index: int
    item: dict
    #: the file's label names, by label_id
    labels: list


def is_datumaro_file(path) -> bool:
    """Whether ``path`` is a local .json file holding a Datumaro document (its start names a
    Datumaro key: then it is parsed, once per version of the file)."""
    from geotile.json_text import sniffed

    if not sniffed(path, _SNIFF, SNIFF_BYTES, ".json"):
        return False
    path = Path(os.fspath(path))
    info = path.stat()
    return _holds(str(path.resolve()), (info.st_ino, info.st_size, info.st_mtime_ns))


@functools.lru_cache(maxsize=8)
def _holds(path: str, version: tuple) -> bool:
    """Whether the file is Datumaro's, or one whose start reads as one but that is no JSON
    (cut short: read_datumaro says so, rather than leave a subset out)."""
    from geotile.json_text import read_json

    try:
        return is_datumaro(read_json(Path(path), ""))
    except InputError:
        return True


def datumaro_files(labels, looked_at: int | None = None) -> list[Path]:
    """The Datumaro files of LABELS: the file, or the .json files of a folder (or of its
    ``annotations`` folder: an export's root) that are Datumaro's (among its first
    ``looked_at`` when given); [] for none."""
    if not isinstance(labels, str | os.PathLike):
        return []
    path = Path(os.fspath(labels))
    if path.is_file():
        return [path] if is_datumaro_file(path) else []
    if not path.is_dir():
        return []
    folder = path / ANNOTATIONS_DIR if (path / ANNOTATIONS_DIR).is_dir() else path
    files = sorted(f for f in folder.glob("*.json") if f.is_file())
    return [f for f in files[:looked_at] if is_datumaro_file(f)]


def is_datumaro_labels(labels) -> bool:
    """Whether LABELS is a Datumaro file, its annotations folder or an export's root (one
    of its first .json files Datumaro's: an export holds one a subset, and a folder of
    thousands of other labels is not read through for it)."""
    return bool(datumaro_files(labels, _LOOKED_AT))


def _parse(path: Path):
    from geotile.json_text import read_json

    document = read_json(path, "Give Datumaro's annotations/<subset>.json.")
    if not is_datumaro(document):
        raise InputError(f"{path}: not Datumaro JSON (no 'categories' object beside an "
                         "'items' list). Give Datumaro's annotations/<subset>.json.")
    return document


def _label_names(path: Path, document: dict) -> tuple[list, list]:
    """(each label_id's name, each one's parent) of a file's label categories."""
    found = document["categories"].get("label")
    if found is None:  # a dataset of no labels: datumaro writes "categories": {}
        return [], []
    labels = found.get("labels") if isinstance(found, dict) else None
    if not isinstance(labels, list) or not all(
            isinstance(lab, dict) and isinstance(lab.get("name"), str) and lab["name"].strip()
            for lab in labels):
        raise InputError(f"{path}: categories.label.labels is {short_repr(labels)}; give a "
                         "list of labels {\"name\": ...}. Export it from Datumaro again.")
    return [lab["name"].strip() for lab in labels], [lab.get("parent") or "" for lab in labels]


def _items(files: list[Path]) -> tuple[list[_Item], list[str]]:
    """Every item of ``files``, and the export's class names (see the module's doc)."""
    items, declared, parents = [], {}, {}
    area, other = set(), set()
    for path in files:
        document = _parse(path)
        names, up = _label_names(path, document)
        for name, parent in zip(names, up, strict=True):
            declared.setdefault(name, None)
            parents[name] = parents.get(name) or parent
        for index, item in enumerate(document["items"]):
            if not isinstance(item, dict):
                raise InputError(f"{path}: items[{index}] is not an object. Fix or remove it.")
            items.append(_Item(path, index, item, names))
            listed = item.get("annotations")
            for annotation in listed if isinstance(listed, list) else []:  # else refused
                if isinstance(annotation, dict) and _number(annotation.get("label_id")) \
                        and 0 <= annotation["label_id"] < len(names):
                    used = area if annotation.get("type") in AREA else other
                    used.add(names[int(annotation["label_id"])])
    classes = [n for n in declared if n in area or (n not in other and not parents[n])]
    return items, classes


def _item_names(found: _Item) -> tuple[str | None, str | None]:
    """(the file name of an item's image path, the last part of its id)."""
    item = found.item
    media = item.get("image") if isinstance(item.get("image"), dict) else item.get("media")
    path = media.get("path") if isinstance(media, dict) else None
    name = PurePosixPath(path.replace("\\", "/")).name if isinstance(path, str) and \
        path.strip() else None
    ident = item.get("id")
    ident = str(ident).replace("\\", "/").rsplit("/", 1)[-1] if ident is not None else None
    return name, ident


def names(labels) -> tuple[list[str], set[str]]:
    """(each item's image name, as listed; the names a prediction may be named after: image
    paths' file names, else ids' last parts) of Datumaro LABELS."""
    items, _ = _items(datumaro_files(labels))
    found = [n or i for n, i in (_item_names(it) for it in items) if n or i]
    return found, set(found)


def read_datumaro(labels, images):
    """The annotations of ``images`` in Datumaro LABELS, as
    :class:`geotile.labelme_labels.Labelme` (``files[i]``: image i's subset file): every
    image paired with its item, of its size, every annotation read before anything is
    written; InputError in one line naming the file (and the annotation) otherwise."""
    from geotile.labelme_labels import Labelme, run_names, say_left_out

    files = datumaro_files(labels)
    if not files:
        raise InputError(f"{labels}: no Datumaro JSON (annotations/<subset>.json) there. Give "
                         "Datumaro's export or its annotations file.")
    items, classes = _items(files)
    index = _Index(items)
    read: dict[tuple, object] = {}
    chosen = []
    for image in images:
        found = _pair(labels, index, image)
        key = (found.path, found.index)
        if key not in read:
            read[key] = _read_item(found, image)
        else:
            _check(found, read[key].size, image, bool(read[key].instances))
        chosen.append(read[key])
    say_left_out(labels, read.values(), "no_area", "label, points, polyline, caption, "
                 "cuboid, skeleton or other annotation", "they have no area to burn",
                 _place)
    say_left_out(labels, read.values(), "slivers", "annotation", "they burn no pixel of "
                 "the image (no area, or outside it)", _place)
    return Labelme(os.fspath(labels), [f.path for f in chosen], chosen,
                   run_names(read.values(), classes))


def _place(found, position: int) -> str:
    return f"{found.path.name} {found.image_path} annotations[{position}]"


class _Index:
    """The items of LABELS by their image path's file name and by their stems (the id's last
    part, the file name's stem), each in the files' order: read once for all the images;
    names in Unicode NFC (:func:`geotile.dataset_names.name_key`)."""

    def __init__(self, items: list[_Item]):
        from geotile.name_keys import name_key

        self.by_name: dict[str, list[_Item]] = {}
        self.by_stem: dict[str, list[_Item]] = {}
        self.names: dict[int, tuple] = {}  # id(item) -> its (name, ident), as spelled
        listed = []
        for it in items:
            name, ident = self.names[id(it)] = _item_names(it)
            if name:
                self.by_name.setdefault(name_key(name), []).append(it)
            stems = (ident, PurePosixPath(name).stem if name else None)
            for stem in dict.fromkeys(name_key(s) for s in stems if s is not None):
                self.by_stem.setdefault(stem, []).append(it)
            if name or ident:
                listed.append(name or ident)
        self.example = ", ".join(dict.fromkeys(listed)) or "none"


def _pair(labels, index: _Index, image) -> _Item:
    """``image``'s item: the one whose image path names it, else the one whose id is its
    stem (of several, the one of the subset a folder of the image's path names: datumaro's
    images/<subset>/); InputError naming the image for none or several."""
    from geotile.input_paths import input_path
    from geotile.name_keys import name_key, refuse_other_spelling, same_spelling

    source = Path(os.fspath(input_path(image)))
    found = (index.by_name.get(name_key(source.name))
             or index.by_stem.get(name_key(source.stem)) or [])
    if len(found) > 1:  # TILE_1.tif and tile_1.tif: the item spelling the image's name
        found = same_spelling(image, found, lambda it: index.names[id(it)][0]
                              or f"{index.names[id(it)][1]}{source.suffix}")
    if len(found) > 1:  # datumaro saves a subset's images in images/<subset>/
        folders = Path(os.path.abspath(source)).parent.parts
        ours = [it for it in found if it.path.stem in folders]
        found = ours if len(ours) == 1 else found
    if len(found) != 1:
        if found:
            shown = ", ".join(f"{f.path.name} items[{f.index}]" for f in found[:3])
            files = sorted({f.path.name for f in found})
            fix = (f"give its subset's file ({', '.join(files[:3])}) as LABELS, or keep its "
                   "images in images/<subset>/" if len(files) > 1 else "keep one per image")
            raise InputError(f"{image}: {labels} has {len(found)} items of it ({shown}); "
                             f"{fix}.")
        raise InputError(f"{image}: no item of {labels} names it or its stem (it lists e.g. "
                         f"{short_repr(index.example)}). Give the images the export names.")
    name, ident = index.names[id(found[0])]
    listed = (name if name and name_key(name) == name_key(source.name)
              else f"{ident or PurePosixPath(name).stem}{source.suffix}")
    if listed.replace("\\", "/").rsplit("/", 1)[-1] != source.name:  # NFD, another case
        refuse_other_spelling(image, listed, labels)
    return found[0]


def _size(found: _Item) -> tuple[int, int] | None:
    """(width, height) of an item's image ([h, w] in the file); None where it gives none."""
    from geotile.labelme_labels import MOST_RADIUS

    image = found.item.get("image")
    size = image.get("size") if isinstance(image, dict) else None
    if size is None:
        return None
    if not (isinstance(size, list) and len(size) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MOST_RADIUS
            for v in size)):
        raise InputError(f"{found.path}: items[{found.index}] has image size "
                         f"{short_repr(size)}; give [height, width] in pixels, each at most "
                         f"{MOST_RADIUS} (Datumaro writes it so).")
    return size[1], size[0]


def _check(found: _Item, size, image, annotated: bool) -> None:
    """Refuse an image of another size than its item's, or one turned by its EXIF
    orientation (the annotation tools show it, and draw on it, turned)."""
    from geotile.turned_images import check_image, image_view, refuse_turned

    drawn = f"{found.path.name} items[{found.index}] is drawn on it as turned"
    if size is not None:
        check_image(found.path, size, image, annotated, drawn)
    elif annotated:  # an item of no size: its image's view
        refuse_turned(image, image_view(image)[0], drawn)


def _read_item(found: _Item, image):
    """One item's annotations as a LabelmeFile, checked against ``image``."""
    from geotile.labelme_labels import LabelmeFile, group_instances
    from geotile.turned_images import image_view

    name, ident = _item_names(found)
    other = next((k for k in ("point_cloud", "video") if found.item.get(k)), None)
    if other is not None:
        raise InputError(f"{found.path}: items[{found.index}] ({name or ident}) is a "
                         f"{other.replace('_', ' ')}, not an image; make-masks burns labels "
                         "in images. Give image items (a 2D export).")
    size = _size(found)
    _check(found, size, image, False)  # before its masks are decoded at the item's size
    view = size if size is not None else image_view(image)[3]
    shown = f"items[{found.index}] ({name or ident})"
    annotations = found.item.get("annotations")
    if annotations is None:
        annotations = []
    if not isinstance(annotations, list):
        raise InputError(f"{found.path}: {shown} has annotations {short_repr(annotations)};"
                         " give a list. Export it from Datumaro again.")
    result = LabelmeFile(found.path, size, name or ident)
    order = sorted(range(len(annotations)),
                   key=lambda i: _z_order(f"{found.path}: {shown} annotations[{i}]",
                                          annotations[i]))
    parts = []
    for position in order:
        item = _annotation(found, shown, position, annotations[position], view, result)
        if item is not None:
            parts.append(item)
    result.instances = group_instances(parts)
    _check(found, size, image, bool(result.instances))
    return result


def _z_order(where: str, annotation) -> float:
    """An annotation's z_order (none: 0); InputError for one that is no finite number."""
    value = annotation.get("z_order") if isinstance(annotation, dict) else None
    if value is None:
        return 0
    if not _finite(value):
        raise InputError(f"{where} has z_order {short_repr(value)}; give a number (datumaro "
                         "writes whole numbers, later on top). Fix or remove it.")
    return value


def _annotation(found: _Item, shown: str, position: int, annotation, view, result):
    """(position, label, group key, geometry) of one annotation; None for one left out."""
    from geotile.coco_labels import is_crowd
    from geotile.labelme_labels import IGNORE_LABEL

    where = f"{found.path}: {shown} annotations[{position}]"
    if not isinstance(annotation, dict):
        raise InputError(f"{where} is not an object. Fix or remove it.")
    kind = annotation.get("type")
    if kind in NO_AREA:
        result.no_area.append(position)
        return None
    if kind not in AREA:
        raise InputError(f"{where} has type {short_repr(kind)}; make-masks burns "
                         f"{', '.join(AREA)} and leaves out {', '.join(NO_AREA[:5])}... "
                         "Convert it or remove it.")
    label_id = annotation.get("label_id")
    if not (_number(label_id) and 0 <= label_id < len(found.labels)
            and float(label_id).is_integer()):
        raise InputError(f"{where} ({kind}) has label_id {short_repr(label_id)}, but the "
                         f"file's categories list {len(found.labels)} labels; give each "
                         "annotation one of them. Fix or remove it.")
    label = found.labels[int(label_id)]
    attributes = annotation.get("attributes") if isinstance(
        annotation.get("attributes"), dict) else {}
    what = f"{where} ({kind} {label!r})"
    if is_crowd(attributes.get("is_crowd")):  # COCO's iscrowd, as datumaro keeps it
        label = IGNORE_LABEL
    if kind == "mask":
        geometry = _mask(what, annotation.get("rle"), view)
        if geometry is None:
            return None
    elif kind == "polygon":
        from geotile.coco_labels import polygonal

        xy = _xy(what, annotation.get("points"), 3, None)
        geometry = polygonal(shapely.make_valid(shapely.Polygon(xy)))
    else:
        geometry = _boxed(what, kind, annotation, attributes, view)
    width, height = view
    geometry = shapely.intersection(geometry, shapely.box(-1, -1, width + 1, height + 1))
    if geometry.is_empty or geometry.area <= 0:
        result.slivers.append(position)
        return None
    group = annotation.get("group")
    key = (label, repr(group)) if group not in (None, 0) else ("", position)
    return position, label, key, geometry


def _boxed(what: str, kind: str, annotation: dict, attributes: dict, view):
    """A bbox ([x, y, w, h]) or an ellipse (its box [x1, y1, x2, y2]), turned by CVAT's
    ``rotation`` attribute (degrees, clockwise on screen) where it has one."""
    from geotile.cvat_labels import box_corners
    from geotile.labelme_labels import MOST_RADIUS, ellipse

    values = annotation.get("bbox") if kind == "bbox" else annotation.get("points")
    x, y, a, b = _xy(what, values, 2, 2).ravel()
    x0, y0, x1, y1 = (x, y, x + a, y + b) if kind == "bbox" else (x, y, a, b)
    x0, x1, y0, y1 = min(x0, x1), max(x0, x1), min(y0, y1), max(y0, y1)
    if not max(x1 - x0, y1 - y0) <= 2 * MOST_RADIUS:
        raise InputError(f"{what} is {x1 - x0:.4g} x {y1 - y0:.4g} px, larger than any image "
                         f"(at most {2 * MOST_RADIUS} px). Fix or remove it.")
    rotation = attributes.get("rotation", 0)
    if not _finite(rotation):
        raise InputError(f"{what} has rotation {short_repr(rotation)}; give degrees. Fix "
                         "or remove it.")
    if kind == "ellipse":
        return ellipse((x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2,
                       math.radians(rotation), (-2, view[1] + 2))
    return shapely.Polygon(box_corners(x0, y0, x1, y1, rotation))


def _xy(what: str, values, least: int, exactly: int | None) -> np.ndarray:
    """Flat ``[x1, y1, ...]`` as an (n, 2) array of finite numbers."""
    from geotile.coco_labels import MAX_POINTS
    from geotile.labelme_labels import MOST_RADIUS

    if isinstance(values, list) and len(values) > 2 * MAX_POINTS:
        raise InputError(f"{what} has {len(values) // 2:,} points; a shape holds at most "
                         f"{MAX_POINTS:,} (a broken export?). Simplify it or remove it.")
    if not (isinstance(values, list) and len(values) % 2 == 0 and len(values) >= 2 * least
            and (exactly is None or len(values) == 2 * exactly)
            and all(_number(v) for v in values)):
        need = f"{exactly}" if exactly else f"at least {least}"
        raise InputError(f"{what} has {short_repr(values)}; give a flat list of {need} "
                         "points [x1, y1, x2, y2, ...] in pixels. Fix or remove it.")
    try:
        xy = np.asarray(values, dtype=np.float64).reshape(-1, 2)
    except OverflowError:  # an integer past any float
        xy = np.full((1, 2), np.inf)
    if not np.isfinite(xy).all():
        raise InputError(f"{what} has a coordinate that is not a finite number. Fix or "
                         "remove it.")
    if np.abs(xy).max() > MOST_RADIUS:  # clipped to the image, or burnt, wrong past it
        raise InputError(f"{what} has a point {np.abs(xy).max():.4g} px out, past "
                         f"{MOST_RADIUS} px of any image (a broken file?). Fix or remove it.")
    return xy


def _mask(what: str, rle, view):
    """A mask's pixels (COCO RLE of the whole image) as polygons, None for none."""
    from geotile.coco_labels import rle_outlines, rle_pieces, rle_runs

    if not isinstance(rle, dict):
        raise InputError(f"{what} has rle {short_repr(rle)}; give {{counts, size}} (COCO's "
                         "RLE). Export it from Datumaro again.")
    width, height = view
    entry = {"height": height, "width": width, "file_name": "its image"}
    runs = rle_runs(Path(what.split(": ", 1)[0]), what.split(": ", 1)[1], rle, entry)
    return rle_outlines([rle_pieces(runs, height)])[0]


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _finite(value) -> bool:
    """Whether ``value`` is a number a float holds, finite (no integer past any float)."""
    if not _number(value):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False
