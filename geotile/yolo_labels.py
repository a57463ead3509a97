"""Ultralytics YOLO segmentation labels (``labels/<split>/<stem>.txt`` beside
``images/<split>/<stem>.jpg``, classes named in the dataset's ``data.yaml``) as make-masks
labels.

Each line is one object: ``class x1 y1 x2 y2 ...``, a polygon whose coordinates are fractions
of the image's width and height (origin at its top-left corner, x right, y down), ``class``
a 0-based index into data.yaml's ``names`` (a list, or a dict {0: name}). A line of exactly
4 coordinates is a detection box, ``class cx cy w h`` (Roboflow mixes them into segmentation
exports): its rectangle is burnt. Lines are checked as Ultralytics checks them
(``verify_image_label``): the line's box (centre and size) must lie within 0..1; vertices a
little outside are clipped to the image, as Ultralytics clips them for training. An image is
paired with the .txt of its stem (Ultralytics' img2label_paths); an image without one, or
with an empty one, is a negative image (all background), as in Ultralytics. Class ids are
index + 1 (0 stays background), named by data.yaml, found in the labels' folder or up to 3
folders above it; without one, by Ultralytics' default names class_0, class_1, ...
"""

from __future__ import annotations

import glob
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely

from geotile.coco_labels import MAX_POINTS
from geotile.errors import GeotileWarning, InputError
from geotile.user_warnings import warn

log = logging.getLogger("geotile")

SUFFIX = ".txt"
#: text files beside YOLO labels that are not labels (labelImg's, tile's class list)
NOT_LABELS = ("classes.txt",)
#: the dataset file naming the classes, looked for in the labels' folder and above it
DATA_YAML = ("data.yaml", "data.yml")
#: folders above the labels' folder looked in for data.yaml (labels/train -> the root)
UP = 3
#: the field of the Labels holding each object's class name
CATEGORY = "category"
#: the largest class index a mask can hold (ids are index + 1, at most 254)
MAX_INDEX = 253


@dataclass
class YoloObject:
    """One line of a label file: its class index, its vertices (fractions of the image's
    size, clipped to 0..1, (n, 2)), whether it is a box, and its line number."""

    index: int
    points: np.ndarray
    box: bool
    line: int


@dataclass
class Yolo:
    """A run's YOLO labels, read and checked once."""

    labels: str
    #: each image's label file (None: a negative image), in the order of the images
    files: list[Path | None]
    #: each image's objects
    objects: list[list[YoloObject]]
    names: list[str]
    data_yaml: Path | None
    class_map: dict[str, int] = field(default_factory=dict)

    def take(self, positions: list[int]) -> Yolo:
        """The labels of the images at ``positions`` (those --resume does not skip)."""
        return Yolo(self.labels, [self.files[i] for i in positions],
                    [self.objects[i] for i in positions], self.names, self.data_yaml,
                    self.class_map)

    def sources(self, position: int) -> list[Path]:
        """The files image ``position``'s mask is made from (for --resume's digest)."""
        own = self.files[position]
        return [*([own] if own else []), *([self.data_yaml] if self.data_yaml else [])]


def label_files(labels) -> list[Path] | None:
    """The .txt label files of LABELS when it is YOLO labels: a folder holding .txt files
    and no vector label files (those are vector label files), or a pattern whose files are .txt;
    None otherwise. Hidden files and classes.txt are no labels."""
    from geotile.input_files import is_label_file

    text = os.fspath(labels)
    path = Path(text)
    if path.is_dir():
        entries = list(path.iterdir())
        if any(map(is_label_file, entries)):  # x.kmz, x.gdb beside a README.txt too
            return None
        files = [p for p in entries if p.is_file() and not p.name.startswith(".")]
    elif not path.exists() and glob.has_magic(text):
        files = [Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file()]
        if not files or any(p.suffix.lower() != SUFFIX for p in files):
            return None
    else:
        return None
    found = sorted(p for p in files if p.suffix.lower() == SUFFIX
                   and p.name.lower() not in NOT_LABELS and not p.name.startswith("."))
    return found or None


def is_yolo_labels(labels) -> bool:
    """Whether LABELS is a folder (or a pattern) of YOLO .txt label files."""
    return label_files(labels) is not None


def read_yolo(labels, images) -> Yolo:
    """The YOLO labels of ``images``: each paired with its .txt, every file read and
    checked, class names from data.yaml; InputError in one line (naming the file and line)
    before anything is written."""
    from geotile.input_paths import input_path

    files = label_files(labels) or []
    paired = pair(labels, files, images)
    if images and not any(paired):
        image = input_path(images[0])
        raise InputError(f"{image.name}: no .txt in {labels} is named after any IMAGE given "
                         f"(expected {image.stem}.txt; it holds e.g. "
                         f"{', '.join(f.name for f in files[:3])}). An image without its .txt "
                         "is background, but none has one: give the labels of these images.")
    objects = {f: read_file(f) for f in dict.fromkeys(f for f in paired if f)}
    data_yaml = find_data_yaml(_folder(labels, files))
    top = max((o.index for found in objects.values() for o in found), default=-1)
    if data_yaml is not None:
        names = read_names(data_yaml)
        log.info("%s: class names from %s", labels, data_yaml)
        for path, found in objects.items():
            over = next((o for o in found if o.index >= len(names)), None)
            if over is not None:
                raise InputError(f"{path} line {over.line}: class {over.index}, but "
                                 f"{data_yaml} names {len(names)} classes (indices 0.."
                                 f"{len(names) - 1}). Fix the line or add the class to names.")
    else:
        names = [f"class_{i}" for i in range(max(top, 0) + 1)]
        warn(f"{labels}: no data.yaml in its folder or the {UP} above it: classes "
             f"are named by index, class_0..class_{max(top, 0)} (Ultralytics' "
             "default names); put the dataset's data.yaml (names) beside labels/ "
             "to name them.", GeotileWarning)
    if len(names) > MAX_INDEX + 1:
        where = data_yaml or labels
        raise InputError(f"{where}: {len(names)} classes; a mask holds class ids 1..254 "
                         f"(indices 0..{MAX_INDEX}). Merge them with a --class-map.")
    boxes = [(path, o.line) for path, found in objects.items() for o in found if o.box]
    if boxes:
        path, line = boxes[0]
        warn(f"{labels}: {len(boxes)} line{'s are' if len(boxes) > 1 else ' is a'} "
             f"detection box{'es' if len(boxes) > 1 else ''} (class cx cy w h, "
             f"first {path.name} line {line}), burnt as rectangles.",
             GeotileWarning)
    class_map = {name: i + 1 for i, name in reversed(list(enumerate(names)))}
    return Yolo(os.fspath(labels), paired, [objects[f] if f else [] for f in paired], names,
                data_yaml, dict(sorted(class_map.items(), key=lambda item: item[1])))


def pair(labels, files: list[Path], images, folder: str = "labels") -> list[Path | None]:
    """Each image's .txt among ``files`` (None: none), by stem as Ultralytics pairs them;
    of several of one stem (a recursive pattern), the one at the image's path with
    images/ as ``folder``/ (labels/; DOTA's labelTxt/); InputError when that does not
    choose."""
    from geotile.input_paths import input_path
    from geotile.name_keys import (
        name_key,
        other_spelling_beside,
        refuse_other_spelling,
        same_spelling,
    )

    by_stem: dict[str, list[Path]] = {}
    for f in files:
        by_stem.setdefault(name_key(f.stem), []).append(f)
    given = {p.resolve() for p in map(input_path, images) if isinstance(p, Path)}
    paired = []
    for image in images:
        path = input_path(image)
        found = by_stem.get(name_key(path.stem), [])
        if len(found) > 1:  # TILE_1.txt beside tile_1.txt: the one spelled as the image
            found = same_spelling(image, found, lambda f, s=path.suffix: f.stem + s)
        if len(found) > 1:
            own = _label_path(path, folder)
            found = [f for f in found if f.resolve() == own] or found
        if len(found) > 1:
            raise InputError(f"{path.name}: {' and '.join(str(f) for f in found[:3])} in "
                             f"{labels} all pair with it. Give the labels of one split "
                             "(labels/train) or keep one .txt per image name.")
        beside = other_spelling_beside(image, found[0].stem + path.suffix) if found else None
        if beside is not None and beside.resolve() in given:
            found = []  # TILE_1.txt is TILE_1.tif's, also given: tile_1.tif has none
        if found:
            refuse_other_spelling(image, found[0].stem + path.suffix, found[0])
        paired.append(found[0] if found else None)
    return paired


def _label_path(image: Path, folder: str = "labels") -> Path:
    """Ultralytics' label path of an image: its last images/ folder as ``folder``/, .txt."""
    parts = list(image.resolve().parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = folder
            break
    return Path(*parts).with_suffix(SUFFIX)


def _folder(labels, files: list[Path]) -> Path:
    """The folder of the labels: LABELS itself, or the one holding a pattern's files."""
    path = Path(os.fspath(labels))
    if path.is_dir():
        return path
    return Path(os.path.commonpath([str(f.parent.resolve()) for f in files]))


def find_data_yaml(folder: Path) -> Path | None:
    """data.yaml in ``folder`` or the ``UP`` folders above it (nearest first)."""
    here = folder.resolve()
    for place in [here, *here.parents][:UP + 1]:
        for name in DATA_YAML:
            if (place / name).is_file():
                return place / name
    return None


def read_names(path: Path) -> list[str]:
    """The class names of an Ultralytics data.yaml (``names``: a list, or a dict of indices
    0..n-1; ``nc`` alone: class_0..), checked as Ultralytics checks them."""
    import yaml

    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"{path}: not valid YAML ({getattr(exc, 'problem', None) or exc}"
                         f"{where}). Fix it: Ultralytics reads it too.") from exc
    except UnicodeDecodeError as exc:  # typed in Notepad on Windows
        from geotile.json_text import not_utf8

        raise not_utf8(path, exc.object[exc.start], exc.start) from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc}).") from exc
    except RecursionError:
        raise InputError(f"{path}: nested too deep to read (a broken or hostile file). Fix "
                         "it: Ultralytics reads it too.") from None
    document = document if isinstance(document, dict) else {}
    names, count = document.get("names"), document.get("nc")
    if count is not None and not isinstance(count, int | bool):  # '10' or 10.0, as Ultralytics
        count = _whole(count) if isinstance(count, str | float) else None
        if count is None:
            given = document["nc"]
            shown = repr(given) if isinstance(given, str | float) else f"a {type(given).__name__}"
            raise InputError(f"{path}: nc is {_short(shown)}; it is the number of classes, "
                             "an integer (nc: 2). Fix it.")
    if isinstance(count, int) and not isinstance(count, bool) and count > MAX_INDEX + 1:
        raise InputError(f"{path}: nc is {_short(count)} classes; a mask holds class ids "
                         f"1..254 (indices 0..{MAX_INDEX}). Fix nc, or merge the classes with "
                         "a --class-map.")
    if names is None and isinstance(count, int) and not isinstance(count, bool) and count > 0:
        return [f"class_{i}" for i in range(count)]
    values = names.values() if isinstance(names, dict) else names if isinstance(names, list) \
        else ()
    odd = next((n for n in values if isinstance(n, list | dict)), None)
    if odd is not None:
        raise InputError(f"{path}: names holds a {type(odd).__name__}, not a class name; give "
                         "names: [building, road] or names: {0: building}.")
    if isinstance(names, list) and names:
        names = [str(n) for n in names]
    elif isinstance(names, dict) and names:
        indices = {}
        for key, name in names.items():
            index = _whole(key)
            if index is None:
                raise InputError(f"{path}: names has key {key!r}; its keys are class indices "
                                 "0, 1, ... (names: {0: building, 1: road}).")
            indices[index] = str(name)
        if sorted(indices) != list(range(len(indices))):
            raise InputError(f"{path}: names has {len(indices)} classes, so class indices "
                             f"0..{len(indices) - 1}, but it gives {sorted(indices)[-1]}. "
                             "Number the classes from 0 without gaps.")
        names = [indices[i] for i in range(len(indices))]
    else:
        raise InputError(f"{path}: no class names (Ultralytics' names: [building, road] or "
                         "names: {0: building}). Add them.")
    if isinstance(count, int) and not isinstance(count, bool) and count != len(names):
        raise InputError(f"{path}: nc is {count} but names has {len(names)} classes. Make "
                         "them agree.")
    return names


def read_file(path: Path) -> list[YoloObject]:
    """The objects of one label file, in line order; InputError naming the file and line
    of the first broken line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read as text ({exc}). Give YOLO label files "
                         "(class x1 y1 x2 y2 ...).") from exc
    objects = []
    for number, raw in enumerate(text.splitlines(), start=1):
        # split no further than one token past the limit: a huge line costs no huge list
        tokens = raw.split(maxsplit=1 + 2 * MAX_POINTS)
        if len(tokens) > 1 + 2 * MAX_POINTS:
            raise InputError(f"{path} line {number}: a polygon of more than {MAX_POINTS:,} "
                             f"points; a line holds at most {MAX_POINTS:,} (a broken export?). "
                             "Simplify the polygon or remove the line.")
        if tokens:
            objects.append(_parse(path, number, tokens))
    return objects


def _parse(path: Path, number: int, tokens: list[str]) -> YoloObject:
    where = f"{path} line {number}"
    values = []
    for token in tokens:
        try:
            values.append(float(token))
        except ValueError:
            raise InputError(f"{where}: {token!r} is not a number; a YOLO line is 'class x1 y1 "
                             f"x2 y2 ...' (coordinates 0..1){_other_format(tokens)}.") from None
    index = _whole(tokens[0])
    if index is None or index < 0:
        raise InputError(f"{where}: class {tokens[0]!r} is not a class index (0, 1, ...: "
                         "data.yaml's names).")
    if index > MAX_INDEX:
        raise InputError(f"{where}: class {index}; a mask holds class ids 1..254 (indices "
                         f"0..{MAX_INDEX}).")
    coords = np.asarray(values[1:], dtype=np.float64)
    if not len(coords):
        raise InputError(f"{where}: class {index} with no coordinates. Give 'class x1 y1 x2 "
                         "y2 ...' or remove the line.")
    if not np.isfinite(coords).all():
        raise InputError(f"{where}: a coordinate is not a finite number (NaN or inf). Fix or "
                         "remove the line.")
    box = len(coords) == 4
    if not box and len(coords) % 2:
        raise InputError(f"{where}: an odd number of coordinates ({len(coords)}); a polygon "
                         "is x y pairs. Fix or remove the line.")
    if not box and len(coords) < 6:
        raise InputError(f"{where}: a polygon of {len(coords) // 2} point(s); it needs at "
                         "least 3 points (x1 y1 x2 y2 x3 y3). Fix or remove the line.")
    if box:
        centre, size = coords[:2], coords[2:]
    else:
        xy = coords.reshape(-1, 2)
        low, high = xy.min(axis=0), xy.max(axis=0)
        centre, size = (low + high) / 2, high - low
    # Ultralytics' check of a line: its box (centre, size) within 0..1, give or take 0.01
    xywh = np.concatenate([centre, size])
    if xywh.max() > 1.01 or xywh.min() < -0.01 or (xywh.min() < 0 and (size < 0).any()):
        raise InputError(f"{where}: coordinates outside 0..1 ({_span(coords, box)}); YOLO "
                         "gives them as fractions of the image's width and height. Are they "
                         "pixels? Divide x by the width and y by the height.")
    if box:
        (cx, cy), (w, h) = centre, size
        xy = np.array([[cx - w / 2, cy - h / 2], [cx + w / 2, cy - h / 2],
                       [cx + w / 2, cy + h / 2], [cx - w / 2, cy + h / 2]])
    return YoloObject(index, np.clip(xy, 0.0, 1.0), box, number)


def _span(coords: np.ndarray, box: bool) -> str:
    if box:
        return "cx {:g}, cy {:g}, w {:g}, h {:g}".format(*coords)
    xy = coords.reshape(-1, 2)
    return (f"x {xy[:, 0].min():g}..{xy[:, 0].max():g}, "
            f"y {xy[:, 1].min():g}..{xy[:, 1].max():g}")


def _other_format(tokens: list[str]) -> str:
    """What a line that is no YOLO line looks like, where it is a known format."""
    head = tokens[0].lower()
    if head.startswith(("imagesource:", "gsd:")) or (
            len(tokens) in (9, 10) and _numbers(tokens[:8]) and not _numbers(tokens[8:9])):
        return ("; this looks like DOTA's labelTxt (x1 y1 ... x4 y4 category difficult, in "
                "pixels), but the first label file of these labels is YOLO's: give one "
                "format's files (DOTA's folder is read as DOTA's)")
    return ""


def _numbers(tokens: list[str]) -> bool:
    try:
        [float(t) for t in tokens]
    except ValueError:
        return False
    return True


def _short(value) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _whole(value) -> int | None:
    """``value`` (text or a number) as a whole number, None when it is none."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if math.isfinite(number) and number.is_integer() else None


def check_images(yolo: Yolo, images) -> None:
    """Refuse, before any mask is written, an image with labels whose EXIF orientation
    turns or flips it: Ultralytics (OpenCV) reads it turned, as viewers show it, so its
    fractions are of that view, not of the stored pixels GDAL reads."""
    from geotile.turned_images import image_view, refuse_turned

    for position, image in enumerate(images):
        if yolo.objects[position]:
            refuse_turned(image, image_view(image)[0], f"{yolo.files[position].name} is drawn "
                          "on it as turned (Ultralytics reads it so)")


def image_labels(yolo: Yolo, position: int, width: int, height: int, transform, crs):
    """:class:`geotile.label_set.Labels` of image ``position``'s objects in the coordinates
    of the image (``width`` x ``height`` px, ``transform``, ``crs``): field ``category`` (the
    class name); objects in line order (the later wins where they overlap)."""
    from geotile.coco_labels import polygonal
    from geotile.label_set import Labels
    from geotile.spacenet import pixel_to_map

    geometries, names, slivers = [], [], []
    for item in yolo.objects[position]:
        xy = item.points * (width, height)
        polygon = (shapely.box(*xy.min(axis=0), *xy.max(axis=0)) if item.box
                   else polygonal(shapely.make_valid(shapely.Polygon(xy))))
        if polygon.is_empty or polygon.area <= 0:
            slivers.append(item.line)
            continue
        geometries.append(polygon)
        names.append(yolo.names[item.index])
    if slivers:
        warn(f"{yolo.files[position]}: {len(slivers)} object(s) have no area (points "
             f"on one line, or outside the image) and were left out (line "
             f"{slivers[0]} first).", GeotileWarning)
    array = np.empty(len(geometries), dtype=object)
    array[:] = geometries
    if len(array):
        array = pixel_to_map(array, transform)
    categories = np.empty(len(names), dtype=object)
    categories[:] = names
    return Labels(array, {CATEGORY: categories}, crs)
