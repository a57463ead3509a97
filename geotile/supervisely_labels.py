"""Supervisely's annotation format (its projects' export, DatasetNinja's downloads: iSAID,
LoveDA, Inria, WHU...) as make-masks labels.

A project folder holds ``meta.json`` (``classes``: ``{"title", "shape", "color"}``) and
dataset folders, each with ``img/`` (the images) and ``ann/`` (``<image file name>.json``
per image: ``{"size": {"height", "width"}, "objects": [...]}``; nested datasets under
``datasets/``). LABELS may be the project, a dataset, an ``ann/`` folder or one ann file;
each IMAGE takes ``ann/<its file name>.json`` (of its own dataset where it lies in one,
else the one of its name, else of its stem), of its size. ``meta.json`` (the project's,
found above an ann folder) gives the classes: every class of an area shape (polygon,
rectangle, bitmap, multipolygon, oriented_bbox, alpha_mask, any_shape) is one, used or
not (ids 1..N by sorted title over the project; ``__ignore__`` 255, --class-map maps the
titles), and its shape is its objects' (any_shape: each object's ``geometryType``);
without one, each object's ``geometryType`` and the titles of the files read (as Labelme's
names).

Supervisely's points are ``[x, y]`` whole pixel indices (column, row; floored as its
PointLocation floors them), and it draws with OpenCV: ``rectangle`` ``[[left, top], [right,
bottom]]`` covers those pixels, right and bottom included; ``polygon`` (exterior, interior
holes) is cv2.fillPoly: the pixels whose centre lies inside it (even-odd), its vertices at
pixel centres, and the pixels of its edges as cv2's 8-connected lines step through them
(ties on the side of the edge's left end), holes cleared with their outlines; a
``multipolygon``'s ``parts`` are such polygons, drawn one over the other. Those pixels are
found in integer arithmetic, all of a file's polygons at once (:mod:`geotile.drawn_pixels`),
and each object is burnt as them: boxes along its rows drawn just inside their pixels'
edges, as a bitmap's, so --all-touched burns exactly the drawn pixels too, no neighbour
added on any side (on any grid: the mask is on the image's). They are the same pixels as
Supervisely's draw (OpenCV 4.14) on 2,439 random polygons within their image and 500
rectangles; where an edge leaves the image OpenCV clips it before stepping, and 56 of 61
polygons crossing its edge differ (409 of 29,434 px, 404 on an edge's line): here each
edge is stepped whole, and its pixels in the image and the ring of pixels round it burnt.
Coordinates past 2**24 px are refused. ``bitmap``: exactly its pixels
(:mod:`geotile.supervisely_bitmaps`); ``alpha_mask`` (a bitmap's ``bitmap``, its grey PNG
an opacity 0..255): its pixels of opacity > 0, as its get_mask draws it;
``oriented_bbox`` (``points`` [[left, top], [right, bottom]], ``angle`` radians clockwise):
cv2.fillPoly of its turned, floored corners (:mod:`geotile.supervisely_oriented`).
``line``, ``point``, ``graph`` and ``cuboid_2d`` have no area: left out, with one warning
counting them; so is an object of no pixel there. Later objects on top.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely

from geotile.errors import InputError
from geotile.labelme_labels import LabelmeFile
from geotile.name_keys import name_key
from geotile.short_repr import short_repr

#: shapes burnt, and those without an area (left out)
AREA = ("polygon", "rectangle", "bitmap", "multipolygon", "oriented_bbox", "alpha_mask")
NO_AREA = ("line", "point", "graph", "cuboid_2d")
#: a class shape whose objects each say their own
ANY = "any_shape"
ANN = "ann"
META = "meta.json"
SNIFF_BYTES = 1 << 16
_SNIFF = re.compile(rb'"objects"\s*:')
#: folders above an ann folder searched for the project's meta.json (nested datasets)
_META_DEPTH = 6


def is_ann(document) -> bool:
    """Whether a parsed JSON document is a Supervisely image annotation."""
    return (isinstance(document, dict) and isinstance(document.get("objects"), list)
            and isinstance(document.get("size"), dict))


def is_ann_file(path) -> bool:
    """Whether ``path`` is a local .json file holding a Supervisely image annotation."""
    from geotile.json_text import holds, sniffed

    return sniffed(path, _SNIFF, SNIFF_BYTES, ".json") and holds(Path(os.fspath(path)),
                                                                  is_ann)


def is_supervisely_labels(labels) -> bool:
    """Whether LABELS is a Supervisely project (meta.json beside dataset folders), a dataset
    (an ann/ folder), an ann/ folder (its first .json an annotation) or one ann file."""
    if not isinstance(labels, str | os.PathLike):
        return False
    path = Path(os.fspath(labels))
    if path.is_file():
        return is_ann_file(path)
    if not path.is_dir():
        return False
    if (path / META).is_file() and _datasets(path):
        return True
    folder = path / ANN if (path / ANN).is_dir() else path
    first = next((f for f in sorted(folder.glob("*.json"))), None)
    return first is not None and is_ann_file(first)


def _datasets(project: Path) -> list[Path]:
    """The ann folders of a project's datasets, nested ones (``datasets/``) included."""
    found, todo = [], [project]
    while todo:
        folder = todo.pop()
        for child in sorted(p for p in folder.iterdir() if p.is_dir()):
            if (child / ANN).is_dir():
                found.append(child / ANN)
            if (child / "datasets").is_dir():  # a parent of no images may have no ann/
                todo.append(child / "datasets")
    return sorted(found)


def supervisely_layout(path: Path) -> tuple[list[Path], Path | None]:
    """(the ann files of LABELS, the project's meta.json or None)."""
    if path.is_file():
        return [path], _meta_above(path.parent)
    if (path / META).is_file() and _datasets(path):
        folders = _datasets(path)
    elif (path / ANN).is_dir():
        folders = [path / ANN] + (_datasets(path / "datasets")
                                  if (path / "datasets").is_dir() else [])
    else:
        folders = [path]
    files = [f for folder in folders for f in sorted(folder.glob("*.json")) if f.is_file()]
    return files, _meta_above(folders[0])


def _meta_above(folder: Path) -> Path | None:
    for parent in [folder, *folder.parents][:_META_DEPTH]:
        if (parent / META).is_file():
            return parent / META
    return None


def _classes(meta: Path | None) -> dict[str, str] | None:
    """Each class title of meta.json -> its shape; None without meta.json."""
    from geotile.json_text import read_json

    if meta is None:
        return None
    document = read_json(meta, "Give the project's meta.json as Supervisely exports it.")
    classes = document.get("classes") if isinstance(document, dict) else None
    if not isinstance(classes, list) or not all(
            isinstance(c, dict) and isinstance(c.get("title"), str) and c["title"].strip()
            and isinstance(c.get("shape"), str) for c in classes):
        raise InputError(f"{meta}: not Supervisely's project meta (a 'classes' list of "
                         "objects with title and shape). Fix it.")
    return {c["title"]: c["shape"] for c in classes}


def read_supervisely(labels, images):
    """The objects of ``images`` in Supervisely's LABELS, as
    :class:`geotile.labelme_labels.Labelme` (``files[i]``: image i's ann file): every image
    paired, of its size, and every object read before anything is written; InputError in
    one line naming the file (and the object) otherwise."""
    from geotile.labelme_labels import Labelme, is_ignore, run_names, say_left_out

    path = Path(os.fspath(labels))
    files, meta = supervisely_layout(path)
    classes = _classes(meta)
    if path.is_file() and len(images) != 1:
        raise InputError(f"{path}: Supervisely's annotation of one image, but {len(images)} "
                         "IMAGEs are given. Give its one image, or the dataset's ann/ folder "
                         "for several.")
    chosen = [files[0]] if path.is_file() else _pair(path, files, images)
    read = {}
    for ann, image in zip(chosen, images, strict=True):
        if ann not in read:
            read[ann] = _read(ann, image, classes)
        else:
            _check_image(ann, read[ann].size, image, bool(read[ann].instances))
    say_left_out(labels, read.values(), "no_area", "line, point, graph or cuboid_2d object",
                 "they have no area to burn", _place)
    say_left_out(labels, read.values(), "slivers", "object", "they lie outside the image",
                 _place)
    if classes is None:
        names = run_names(read.values())
    else:
        names = [t for t, shape in classes.items() if shape in (*AREA, ANY)
                 and not is_ignore(t)]
    return Labelme(os.fspath(labels), chosen, [read[f] for f in chosen], names)


def _place(found, position: int) -> str:
    return f"{found.path.name} objects[{position}]"


def image_name(ann: Path, spelled: bool = False) -> str:
    """The file name of the image an ann file annotates (``x.png.json``: ``x.png``), in NFC
    unless ``spelled``."""
    from geotile.name_keys import nfc

    name = ann.name[:-5] if ann.name.lower().endswith(".json") else ann.name
    return name if spelled else nfc(name)


def _spelled(ann: Path, source: Path) -> str:
    """The image file name ``ann`` spells for ``source``: its own, or its stem with the
    image's extension where it pairs by stem."""
    listed = image_name(ann, spelled=True)
    return listed if name_key(listed) == name_key(source.name) \
        else Path(listed).stem + source.suffix


def _pair(labels: Path, files: list[Path], images) -> list[Path]:
    """Each image's ann file: its own dataset's, else the one of its file name, else of its
    stem; InputError naming the image for none or several."""
    from geotile.input_paths import input_path
    from geotile.name_keys import refuse_other_spelling, same_spelling

    known = set(files)
    by_name: dict[str, list[Path]] = {}
    by_stem: dict[str, list[Path]] = {}
    for f in files:
        by_name.setdefault(name_key(image_name(f)), []).append(f)
        by_stem.setdefault(name_key(Path(image_name(f)).stem), []).append(f)
    chosen = []
    for image in images:
        source = Path(os.fspath(input_path(image)))
        own = source.parent.parent / ANN / f"{source.name}.json"
        found = [own] if own in known else same_spelling(
            image, by_name.get(name_key(source.name)) or by_stem.get(name_key(source.stem), []),
            lambda f, s=source: _spelled(f, s))
        if len(found) != 1:
            listed = ", ".join(str(f.relative_to(labels)) if f.is_relative_to(labels)
                               else str(f) for f in found[:3])
            example = ", ".join(f.name for f in files[:3]) or "none"
            raise InputError(
                f"{image}: {labels} has {len(found)} annotations of it ({listed}); give "
                "the image inside its dataset (img/ beside ann/) or images of distinct names."
                if found else
                f"{image}: no {ANN}/{source.name}.json in {labels} (it holds e.g. "
                f"{example}). Give the images of these annotations.")
        refuse_other_spelling(image, _spelled(found[0], source), found[0])
        chosen.append(found[0])
    return chosen


@dataclass
class DrawnFile(LabelmeFile):
    """A Supervisely ann file, read and checked, that keeps its polygons' drawn pixels as
    row runs (a few int16 or int32 arrays) until its image's mask is made: their staircase
    polygons (~150 points an object) are made by :meth:`geometries`, one file at a time."""

    #: (object, row, first, stop) of the runs of the file's polygon objects (``_drawn``)
    runs: tuple = ()
    #: how many polygon objects the runs are of
    drawn: int = 0
    #: each instance's polygon object, -1 for one whose geometry ``instances`` holds
    drawn_as: list[int] = field(default_factory=list)

    def geometries(self) -> list:
        from geotile.drawn_pixels import run_shapes

        shapes = run_shapes(*(a.astype(np.int64) for a in self.runs), self.drawn)
        return [shapes[k] if k >= 0 else geometry
                for (_, geometry), k in zip(self.instances, self.drawn_as, strict=True)]


def _read(ann: Path, image, classes: dict[str, str] | None):
    """One ann file, checked against its image, its objects made instances."""
    from geotile.json_text import read_json

    document = read_json(ann, "Give Supervisely's annotation of the image (size, objects).")
    if isinstance(document, dict) and isinstance(document.get("objects"), list) \
            and "size" not in document:
        raise InputError(f"{ann}: no 'size' (the image's height and width in pixels), which "
                         "Supervisely writes in every annotation. Add it: \"size\": "
                         "{\"height\": H, \"width\": W}.")
    if not is_ann(document):
        raise InputError(f"{ann}: not Supervisely's image annotation (no 'size' and "
                         "'objects'), but the other labels of this run are. Give each image "
                         "its ann/<image name>.json.")
    size = _size(ann, document["size"])
    _check_image(ann, size, image, bool(document["objects"]))
    found = DrawnFile(ann, size, image_name(ann))
    objects = []  # (position, title, geometry or [(exterior, [interior...])...])
    for position, item in enumerate(document["objects"]):
        geometry = _object(ann, position, item, classes, found)
        if geometry is not None:
            objects.append((position, *geometry))
    polygons = [shape for _, _, shape in objects if isinstance(shape, list)]
    found.runs = _drawn(polygons, size)
    found.drawn = len(polygons)
    drawn = np.zeros(len(polygons), bool)
    drawn[found.runs[0]] = True
    number = 0
    for position, title, shape in objects:  # each object its own instance, later on top
        if isinstance(shape, list):
            number += 1
            if drawn[number - 1]:
                found.instances.append((title, None))
                found.drawn_as.append(number - 1)
                continue
            shape = None
        if shape is None:
            found.slivers.append(position)
        elif not shape.is_empty:
            found.instances.append((title, shape))
            found.drawn_as.append(-1)
    return found


def _drawn(polygons: list, size: tuple[int, int]) -> tuple:
    """(object, row, first, stop) of the runs of pixels Supervisely draws of each object's
    polygons ([(where, title, exterior, [interior...])...], rings of [x, y] lists) within
    the image and a pixel round it (:func:`geotile.drawn_pixels.drawn_runs`), as small an
    integer type as holds them; one numpy pass over the file."""
    from geotile.drawn_pixels import drawn_runs

    rings = [(number, unit, hole, (where, title), ring)
             for number, parts in enumerate(polygons)
             for unit, (where, title, exterior, interior) in enumerate(parts)
             for hole, ring in ((False, exterior), *((True, h) for h in interior))]
    if not rings:
        return tuple(np.zeros(0, np.int16) for _ in range(4))
    objects, units, holes, named, lists = zip(*rings, strict=True)
    objects, units = np.asarray(objects), np.asarray(units)
    first_ring = np.ones(len(rings), bool)
    first_ring[1:] = (objects[1:] != objects[:-1]) | (units[1:] != units[:-1])
    ring_unit = np.cumsum(first_ring) - 1
    starts = np.zeros(len(rings) + 1, np.int64)
    starts[1:] = np.cumsum([len(ring) for ring in lists])
    runs = drawn_runs(_whole_pixels(named, lists), starts, ring_unit, np.asarray(holes),
                      objects[first_ring], *size)
    most = max(len(polygons), size[0] + 1, size[1] + 1)
    kind = np.int16 if most < 1 << 15 else np.int32
    return tuple(a.astype(kind) for a in runs)


def _size(ann: Path, size: dict) -> tuple[int, int]:
    values = size.get("width"), size.get("height")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values):
        shown = short_repr(size)
        raise InputError(f"{ann}: size is {shown}; it is the image's height and width in "
                         "pixels. Fix it (Supervisely writes both).")
    return values[0], values[1]


def _check_image(ann: Path, size: tuple[int, int], image, objects: bool) -> None:
    """Refuse an image of another size than its annotation, or turned by its EXIF
    orientation (Supervisely shows it, and its objects are drawn on it, turned)."""
    from geotile.turned_images import check_image

    check_image(ann, size, image, objects, f"Supervisely draws {ann.name}'s objects on it turned")


def _object(ann: Path, position: int, item, classes, found):
    """(class title, shape) of one object: a geometry (None: no pixel in the image), or
    for a polygon or multipolygon its polygons, [(where, title, exterior, [interior...])
    ...] (rings of [x, y] lists, drawn by :func:`_drawn`); None for one left out."""
    from geotile.drawn_pixels import INSET
    from geotile.supervisely_bitmaps import alpha_mask_shape, bitmap_shape
    from geotile.supervisely_oriented import oriented_corners

    where = f"{ann}: objects[{position}]"
    if not isinstance(item, dict):
        raise InputError(f"{where} is not an object. Fix or remove it.")
    title = item.get("classTitle")
    if not isinstance(title, str) or not title.strip():
        raise InputError(f"{where} has classTitle {short_repr(title)}; give each object its "
                         "class title. Fix or remove it.")
    shape = classes.get(title) if classes is not None else ANY
    if shape is None:
        listed = ", ".join(map(repr, list(classes)[:5])) or "none"
        raise InputError(f"{where} is of class {title!r}, which meta.json does not declare "
                         f"(it declares {listed}). Add the class, or fix the object.")
    kind = item.get("geometryType", item.get("shape")) if shape == ANY else shape
    if kind in NO_AREA:
        found.no_area.append(position)
        return None
    if kind not in AREA:
        raise InputError(f"{where} ({title!r}) is a {short_repr(kind)} object; make-masks burns "
                         f"{', '.join(AREA)} and leaves out {', '.join(NO_AREA)}. Convert it "
                         "or remove it.")
    if kind in ("bitmap", "alpha_mask"):
        geometry = (bitmap_shape if kind == "bitmap" else alpha_mask_shape)(
            where, title, item.get("bitmap"), found.size)
        return None if geometry is None else (title, geometry)
    if kind == "oriented_bbox":  # its turned corners, filled as a polygon's
        return title, [(where, title, oriented_corners(where, title, item), [])]
    if kind == "multipolygon":  # each part drawn as a polygon, one over the other
        parts = item.get("parts")
        if not isinstance(parts, list) or not parts:
            raise InputError(f"{where} ({title!r}) is a multipolygon without 'parts' (a list "
                             "of {'exterior', 'interior'}). Fix or remove it.")
        return title, [(where, title, *_points(where, title, "polygon", part, False))
                       for part in parts]
    if kind == "polygon":
        return title, [(where, title, *_points(where, title, kind, item.get("points"),
                                               False))]
    exterior, _ = _points(where, title, kind, item.get("points"))
    # clipped to the image and a pixel round it, as OpenCV clips, drawn inside its pixels
    width, height = found.size
    left, top = np.maximum(exterior.min(axis=0), -1)
    right, bottom = np.minimum(exterior.max(axis=0) + 1, (width + 1, height + 1))
    if left >= right or top >= bottom:
        return title, None
    return title, shapely.box(left + INSET, top + INSET, right - INSET, bottom - INSET)


def _points(where: str, title: str, kind: str, points, numbers: bool = True):
    """(exterior, [interior...]) as arrays of whole pixels, floored; with ``numbers`` false
    the rings' lists, checked but for their numbers (:func:`_whole_pixels` reads them)."""
    from geotile.coco_labels import MAX_POINTS
    from geotile.label_points import xy_pairs

    if not isinstance(points, dict):
        raise InputError(f"{where} ({title!r}) is a {kind} without 'points': {{'exterior', "
                         "'interior'}. Fix or remove it.")
    exterior, interior = points.get("exterior"), points.get("interior") or []
    rings = [exterior, *interior] if isinstance(interior, list) else [exterior, interior]
    if sum(len(r) for r in rings if isinstance(r, list)) > MAX_POINTS:
        raise InputError(f"{where} ({title!r}) has over {MAX_POINTS:,} points (a broken "
                         "export?). Simplify it or remove it.")
    for ring in rings:
        if not xy_pairs(ring):
            raise InputError(f"{where} ({title!r}) has points {short_repr(ring)}; give lists of "
                             "[x, y] pixels. Fix or remove it.")
    if kind == "rectangle" and len(rings[0]) != 2:
        raise InputError(f"{where} ({title!r}) is a rectangle of {len(rings[0])} point(s); "
                         "give its 2 corners, [[left, top], [right, bottom]]. Fix or remove "
                         "it.")
    if kind == "polygon" and min(len(r) for r in rings) < 3:
        raise InputError(f"{where} ({title!r}) is a polygon with a ring of "
                         f"{min(len(r) for r in rings)} point(s); each ring needs at least 3. "
                         "Fix or remove it.")
    if numbers:
        rings = [_numbers(where, title, ring) for ring in rings]
    return rings[0], rings[1:]


def _numbers(where: str, title: str, ring: list) -> np.ndarray:
    """A ring's [x, y] pairs as whole pixels (floored); InputError for a point not finite or
    past any image."""
    from geotile.label_points import float_xy
    from geotile.labelme_labels import MOST_RADIUS

    array = np.floor(float_xy(ring))
    if not np.isfinite(array).all():
        raise InputError(f"{where} ({title!r}) has a point that is not a finite number. "
                         "Fix or remove it.")
    if len(array) and np.abs(array).max() > MOST_RADIUS:
        raise InputError(f"{where} ({title!r}) has a point {np.abs(array).max():.4g} px "
                         f"out, past any image (at most {MOST_RADIUS} px). Fix or remove "
                         "it.")
    return array


def _whole_pixels(named: list, rings: list) -> np.ndarray:
    """The points of ``rings`` ([x, y] lists, checked but for their numbers) as one (n, 2)
    int64 array of whole pixels, read at once; InputError (:func:`_numbers`) naming the
    first ring's object, ``named[i]`` (where, title), where one is not finite or too far."""
    from geotile.labelme_labels import MOST_RADIUS

    try:
        xy = np.floor(np.asarray([p for ring in rings for p in ring], np.float64))
    except OverflowError:  # an integer past any float: found ring by ring
        xy = np.full((1, 2), np.inf)
    xy = xy.reshape(-1, 2)
    if not (np.abs(xy) <= MOST_RADIUS).all():  # NaN too
        for (where, title), ring in zip(named, rings, strict=True):
            _numbers(where, title, ring)
    return xy.astype(np.int64)
