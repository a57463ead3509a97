"""CVAT's "CVAT for images 1.1" XML export (annotations.xml) as make-masks labels.

A file is CVAT's by its root, ``<annotations>`` (``<version>``, ``<meta>`` with its task's,
job's or project's ``<labels>``, then one ``<image id name width height>`` per frame holding
its shapes in the image's pixel coordinates: origin at the top-left corner of the top-left
pixel, x right, y down). Each IMAGE takes the ``<image>`` whose ``name`` it ends with
(folders apart where only one has its base name), of its size, placed through its
geotransform (its pixels where it has none) and burnt as vector labels are (pixel centre
inside; --all-touched), as :mod:`geotile.labelme_labels` burns Labelme's shapes.

Shapes burnt: ``polygon``, ``box`` (``rotation`` in degrees about its centre, its corners
turned as CVAT's RotatedBoxesToPolygons turns them), ``ellipse`` (exactly the pixels whose
centre lies inside or on it; CVAT's own mask export draws it with OpenCV at whole-pixel
centre and axes instead) and ``mask`` (run lengths over its ``left top width height`` box,
row by row from a run of 0s: exactly its pixels). ``polyline``, ``points``, ``skeleton``,
``cuboid`` and ``tag`` have no area: left out, with one warning counting them. Shapes are
drawn by ``z_order``, then in the file's order, later on top (CVAT's mask export); shapes of
one ``group_id`` and label are one instance. The classes are the labels ``<meta>`` declares
(those of area-less types and skeleton points apart), whichever an image uses: ids 1..N by
sorted name over the run (--class-map maps the names; attributes are not classes),
``__ignore__`` 255 as Labelme's. "CVAT for video 1.1" files (``<track>``) are refused.

The file is streamed with expat (no tree is built); only the shapes of ``<image>`` entries
named as an IMAGE are kept. A document type declaring entities (an entity-expansion bomb,
an external entity) is refused before any is expanded.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import shapely

from geotile.errors import GeotileWarning, InputError
from geotile.user_warnings import warn

#: shape elements with an area (burnt) and without one (left out)
AREA = ("polygon", "box", "ellipse", "mask")
NO_AREA = ("polyline", "points", "skeleton", "cuboid", "tag")
#: label types of no area: such labels are no classes
NO_AREA_TYPES = ("polyline", "points", "skeleton", "cuboid", "tag")
#: bytes fed to expat at a time
CHUNK = 1 << 20
#: the deepest nesting read (CVAT's files nest about 10 deep)
MOST_DEPTH = 64


@dataclass
class _Entry:
    """One ``<image>``: its attributes, and its shapes when kept."""

    number: int
    attrs: dict
    #: (element, attributes, position) of its shapes; None when not kept
    shapes: list | None = field(default=None)

    @property
    def name(self) -> str:
        return self.attrs.get("name") or f"frame_{self.attrs.get('id', self.number)}"

    def what(self) -> str:
        task = self.attrs.get("task_id")
        return f"{self.name} (image id {self.attrs.get('id', '?')}" + (
            f", task {task})" if task else ")")


def read_cvat(labels, images):
    """The shapes of ``images`` in the CVAT file ``labels``, as
    :class:`geotile.labelme_labels.Labelme` (one ``LabelmeFile`` per image, its ``path``
    the XML): every image's entry found (by name) and of the image's size before any shape
    is made; InputError in one line otherwise."""
    from geotile.input_paths import input_path
    from geotile.labelme_labels import Labelme, LabelmeFile, is_ignore
    from geotile.name_keys import name_key

    path = Path(os.fspath(labels))
    wanted = {name_key(input_path(image).name) for image in images}
    declared, entries = parse_cvat(path, wanted)
    chosen = [_entry(path, entries, image) for image in images]
    _check_sizes(path, chosen, images)
    built: dict[int, LabelmeFile] = {}
    no_area: list = []
    slivers: list = []
    for entry in chosen:
        if entry.number not in built:
            width, height = _size(path, entry)
            found = LabelmeFile(path, (width, height), entry.name)
            found.instances = _instances(path, entry, (width, height), no_area, slivers)
            built[entry.number] = found
    _say_left_out(path, no_area, f"{', '.join(NO_AREA[:-1])} or tag annotation",
                  "they have no area to burn")
    _say_left_out(path, slivers, "shape", "they have no area (points on one line, an "
                  "ellipse of radius 0)")
    names = dict.fromkeys(declared)
    for found in built.values():
        for label, _ in found.instances:
            names.setdefault(label, None)
    return Labelme(os.fspath(labels), [path] * len(images),
                   [built[e.number] for e in chosen],
                   [n for n in names if not is_ignore(n)])


def parse_cvat(path: Path, wanted: set[str]) -> tuple[list[str], list[_Entry]]:
    """(the class names ``<meta>`` declares, every ``<image>``), the shapes kept of those
    whose base name is in ``wanted``; the file streamed through expat."""
    from xml.parsers import expat

    parser = expat.ParserCreate()
    stack: list[str] = []
    declared: list[str] = []
    entries: list[_Entry] = []
    label: dict = {}
    text: list[str] = []
    counts = {"position": 0}

    def refuse_entities(*_):
        raise InputError(f"{path}: declares XML entities (a document type CVAT never writes; "
                         "an entity bomb or an external file?). Give CVAT's own "
                         "annotations.xml export.")

    def start(tag, attrs):
        depth = len(stack)
        parent = stack[-1] if stack else None
        if depth == 0 and tag != "annotations":
            raise InputError(f"{path}: an XML file whose root is <{tag}>, not CVAT's "
                             "<annotations>. Give CVAT's annotations.xml (export \"CVAT for "
                             "images 1.1\").")
        if depth >= MOST_DEPTH:
            raise InputError(f"{path}: XML nested over {MOST_DEPTH} deep (a broken or hostile "
                             "file). Give CVAT's annotations.xml export.")
        if parent == "annotations":
            if tag == "track":
                raise InputError(f"{path}: a \"CVAT for video 1.1\" file (<track> elements); "
                                 "make-masks reads images' shapes: export the task as \"CVAT "
                                 "for images 1.1\" and give that annotations.xml.")
            if tag == "image":
                keep = base_name(attrs.get("name", "")) in wanted
                entries.append(_Entry(len(entries), attrs, [] if keep else None))
                counts["position"] = 0
        elif parent == "image" and depth == 2:
            entry = entries[-1]
            if tag not in AREA and tag not in NO_AREA:
                raise InputError(f"{path}: image {entry.what()} holds a <{tag}> element; "
                                 f"CVAT's shapes are {', '.join(AREA + NO_AREA)}. Remove it "
                                 "or export again from CVAT.")
            if entry.shapes is not None:
                entry.shapes.append((tag, attrs, counts["position"]))
            counts["position"] += 1
        elif tag == "label" and parent == "labels" and "meta" in stack:
            label.clear()
            label["in"] = True
        elif parent == "label" and label.get("in") and tag in ("name", "type", "parent"):
            text.clear()
        stack.append(tag)

    def end(tag):
        stack.pop()
        parent = stack[-1] if stack else None
        if parent == "label" and label.get("in") and tag in ("name", "type", "parent"):
            label[tag] = "".join(text).strip()
        elif tag == "label" and parent == "labels" and label.get("in"):
            label["in"] = False
            name = label.get("name")
            if name and not label.get("parent") and label.get("type") not in NO_AREA_TYPES:
                declared.append(name)

    def characters(data):
        if stack and stack[-1] in ("name", "type", "parent"):
            text.append(data)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    parser.EntityDeclHandler = refuse_entities
    parser.UnparsedEntityDeclHandler = refuse_entities
    parser.ExternalEntityRefHandler = refuse_entities
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except expat.ExpatError as exc:
        byte = _byte_at(path, parser.ErrorByteIndex)
        if byte is not None:  # re-saved by a Windows editor in cp1252
            from geotile.json_text import not_utf8

            raise not_utf8(path, byte, parser.ErrorByteIndex) from None
        raise InputError(f"{path}: not well-formed XML ({exc}). Give CVAT's annotations.xml "
                         "export, whole.") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    return list(dict.fromkeys(declared)), entries


def _byte_at(path: Path, index: int) -> int | None:
    """The byte at ``index`` of the file (where expat stopped) when no UTF-8 character
    starts there, else None."""
    try:
        with path.open("rb") as handle:
            handle.seek(max(index, 0))
            found = handle.read(4)
    except OSError:
        return None
    if index < 0 or not found or found[0] < 0x80:
        return None
    for end in range(2, len(found) + 1):
        try:
            found[:end].decode("utf-8")
            return None
        except UnicodeDecodeError:
            continue
    return found[0]


def base_name(name: str) -> str:
    """The file name of an <image>'s name (a path with / or \\), in NFC."""
    from geotile.name_keys import name_key

    return name_key(PurePosixPath(name.replace("\\", "/")).name)


def _entry(path: Path, entries: list[_Entry], image) -> _Entry:
    """``image``'s entry: the one of its base name, or among several the one its path ends
    with; InputError naming them otherwise."""
    from geotile.coco_labels import path_ends
    from geotile.input_paths import input_path
    from geotile.name_keys import name_key, refuse_other_spelling

    name = name_key(input_path(image).name)
    found = [e for e in entries if e.shapes is not None and base_name(e.name) == name]
    if len(found) > 1:
        found = path_ends(image, found, lambda e: e.name)
    if not found:
        listed = ", ".join(e.name for e in entries[:3]) or "none"
        raise InputError(f"{image}: not in {path} (no <image> named "
                         f"{input_path(image).name!r}; it lists e.g. {listed}). Give the images "
                         "it names.")
    if len(found) > 1:
        raise InputError(f"{image}: {path} lists {len(found)} images it may be: "
                         f"{found[0].what()} and {found[1].what()}. Give each image one "
                         "entry, or the image by a path that ends with its name there.")
    refuse_other_spelling(image, found[0].name, path)
    return found[0]


def _size(path: Path, entry: _Entry) -> tuple[int, int]:
    values = []
    for key in ("width", "height"):
        value = entry.attrs.get(key, "")
        try:
            number = int(value)
        except ValueError:
            number = 0
        if number <= 0:
            raise InputError(f"{path}: image {entry.what()} has {key} {value[:40]!r}; it is "
                             "the size of the image in pixels. Fix it (CVAT writes both).")
        values.append(number)
    return values[0], values[1]


def _check_sizes(path: Path, chosen: list[_Entry], images) -> None:
    """Refuse an image of another size than its entry, or turned by its EXIF orientation
    (CVAT shows it, and its shapes are drawn on it, turned)."""
    from geotile.turned_images import image_view, refuse_turned

    for entry, image in zip(chosen, images, strict=True):
        size = _size(path, entry)
        orientation, width, height, view = image_view(image)
        if entry.shapes:
            refuse_turned(image, orientation, "CVAT draws its shapes on it turned")
        if size != view:
            raise InputError(f"{image}: {width}x{height} px, but {path} gives "
                             f"{entry.what()} {size[0]}x{size[1]} px. Give the image the "
                             "annotations were made on.")


def _instances(path: Path, entry: _Entry, size, no_area: list, slivers: list) -> list:
    """(label, geometry) of the entry's instances, by z_order then in the file's order."""
    from geotile.labelme_labels import group_instances

    items = []
    for tag, attrs, position in entry.shapes:
        if tag in NO_AREA:
            no_area.append((entry, tag, position))
            continue
        where = f"{path}: image {entry.what()} <{tag}> #{position}"
        label = attrs.get("label", "")
        if not label.strip():
            raise InputError(f"{where} has no label; give each shape its label. Fix or remove "
                             "it.")
        z_order = _number(where, label, attrs, "z_order", "0", whole=True)
        geometry = _geometry(where, label, tag, attrs, size)
        if geometry is None:
            continue  # a mask of no pixel: nothing to burn, and no mistake
        if geometry.is_empty or geometry.area <= 0:
            slivers.append((entry, tag, position))
            continue
        group = attrs.get("group_id", "0").strip()
        key = (label, group) if group not in ("", "0") else position
        items.append((z_order, position, label, key, geometry))
    items.sort(key=lambda item: item[:2])
    return group_instances([item[1:] for item in items])


def _number(where: str, label: str, attrs: dict, key: str, default=None, whole=False):
    value = attrs.get(key, default)
    try:
        number = int(value) if whole else float(value)
    except (TypeError, ValueError):
        number = None
    if number is None or not math.isfinite(number):
        shown = value if value is None or len(value) <= 40 else value[:37] + "..."
        raise InputError(f"{where} ({label!r}) has {key} {shown!r}; give "
                         f"{'a whole number' if whole else 'a finite number'}. Fix or remove "
                         "it.")
    return number


def _geometry(where: str, label: str, tag: str, attrs: dict, size):
    """The shape in the image's pixel coordinates (None: a mask of no pixel)."""
    from geotile.coco_labels import polygonal

    if tag == "mask":
        return _mask(where, label, attrs, size)
    if tag == "ellipse":
        cx, cy, rx, ry = (_number(where, label, attrs, k) for k in ("cx", "cy", "rx", "ry"))
        rotation = _number(where, label, attrs, "rotation", "0")
        from geotile.labelme_labels import MOST_RADIUS, ellipse

        if not max(abs(rx), abs(ry)) <= MOST_RADIUS:
            raise InputError(f"{where} ({label!r}) is an ellipse of radius "
                             f"{max(abs(rx), abs(ry)):.4g} px, larger than any image (at most "
                             f"{MOST_RADIUS} px). Fix or remove it.")
        return ellipse(cx, cy, rx, ry, math.radians(rotation), (-1, size[1] + 1))
    if tag == "box":
        x0, y0, x1, y1 = (_number(where, label, attrs, k) for k in ("xtl", "ytl", "xbr", "ybr"))
        xy = box_corners(x0, y0, x1, y1, _number(where, label, attrs, "rotation", "0"))
    else:
        xy = _points(where, label, attrs.get("points", ""))
    shape = shapely.Polygon(xy)
    return shape if shape.is_valid else polygonal(shapely.make_valid(shape))


def box_corners(x0, y0, x1, y1, degrees) -> np.ndarray:
    """The corners of a CVAT box turned ``degrees`` about its centre (x right, y down:
    clockwise on screen), as CVAT's RotatedBoxesToPolygons turns them."""
    cx, cy = x0 + (x1 - x0) / 2, y0 + (y1 - y0) / 2
    angle = math.radians(degrees)
    c, s = math.cos(angle), math.sin(angle)
    xy = np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], dtype=np.float64)
    dx, dy = xy[:, 0] - cx, xy[:, 1] - cy
    return np.column_stack((cx + c * dx - s * dy, cy + s * dx + c * dy))


def _points(where: str, label: str, text: str) -> np.ndarray:
    from geotile.coco_labels import MAX_POINTS

    count = text.count(";") + 1
    if count > MAX_POINTS:
        raise InputError(f"{where} ({label!r}) has {count:,} points; a shape holds at most "
                         f"{MAX_POINTS:,} (a broken export?). Simplify it or remove it.")
    try:
        values = np.array(text.replace(";", ",").split(","), dtype=np.float64)
    except ValueError:
        values = np.zeros(1)
    if len(values) % 2 or not np.isfinite(values).all():
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise InputError(f"{where} ({label!r}) has points {shown!r}; give 'x,y;x,y;...' in "
                         "finite pixel coordinates. Fix or remove it.")
    xy = values.reshape(-1, 2)
    if len(xy) < 3:
        raise InputError(f"{where} ({label!r}) is a polygon of {len(xy)} point(s); it needs "
                         "at least 3 points. Fix or remove it.")
    return xy


def _mask(where: str, label: str, attrs: dict, size):
    """A mask's pixels as polygons (their edges ``MASK_INSET`` inside); None when it has
    none. Its box lies within the image (as CVAT's do), checked before it is decoded."""
    from affine import Affine
    from rasterio.features import shapes

    from geotile.coco_labels import rle_mask
    from geotile.labelme_labels import MASK_INSET

    left, top, width, height = (_number(where, label, attrs, k, whole=True)
                                for k in ("left", "top", "width", "height"))
    if min(left, top) < 0 or min(width, height) <= 0 or left + width > size[0] \
            or top + height > size[1]:
        raise InputError(f"{where} ({label!r}) is a mask of {width}x{height} px at ({left}, "
                         f"{top}), not within its image of {size[0]}x{size[1]} px. Fix or "
                         "remove it.")
    text = attrs.get("rle", "")
    try:
        runs = np.array(text.split(","), dtype=np.int64) if text.strip() else None
    except (ValueError, OverflowError):
        runs = None
    if runs is None or (runs < 0).any() or int(runs.sum()) != width * height:
        covered = "?" if runs is None else int(runs.sum())
        raise InputError(f"{where} ({label!r}) has an rle covering {covered} pixels, not its "
                         f"box's {width * height} ({width}x{height}); it is broken. Fix or "
                         "remove it.")
    mask = rle_mask(runs, width, height).T  # row by row: COCO's column order of (w, h)
    if not mask.any():
        return None
    part = np.ascontiguousarray(mask).astype(np.uint8)
    polygons = [shapely.geometry.shape(g) for g, _ in shapes(
        part, mask=part.astype(bool), transform=Affine.translation(left, top))]
    return shapely.buffer(shapely.union_all(polygons), -MASK_INSET, join_style="mitre")


def _say_left_out(path: Path, found: list, what: str, why: str) -> None:
    if not found:
        return
    count = len(found)
    entry, tag, position = found[0]
    warn(f"{path}: {count} {what}{'s' if count > 1 else ''} "
         f"{'were' if count > 1 else 'was'} left out (image {entry.name} <{tag}> "
         f"#{position}{' first' if count > 1 else ''}): {why}.",
         GeotileWarning)
