"""V7's Darwin JSON (one file per image, 2.0 and the older 1.0) as make-masks labels.

2.0: ``{"version": "2.0", "item": {"name", "path", "slots": [{"type": "image", "width",
"height", "source_files": [{"file_name"}]}]}, "annotations": [...]}``; 1.0: ``{"image":
{"width", "height", "filename", "original_filename"}, "annotations": [...]}``. LABELS may be
one file, a folder of them (its subfolders too: a release "with folders") or a pattern; each
IMAGE takes the file naming it (2.0: ``item.name`` or a source file's ``file_name``; 1.0:
``filename`` or ``original_filename``), else the one whose names' stem or own stem is its
stem, of its slot's size. An item of several slots, or of a slot that is no image (video,
DICOM...), is refused; an annotation whose ``slot_names`` names another slot too. Each
annotation's ``name`` is its class (ids 1..N by sorted name over the annotations with an
area of every file of LABELS, which pairing parses anyway: whichever of its images are
masked; ``__ignore__`` 255; --class-map maps the names); later annotations on top.

Polygons are drawn as darwin-py's mask exporters draw them (darwin/exporter/formats/mask.py,
``convert_polygons_to_sequences`` then upolygon's ``draw_polygon``): every vertex clipped
to the image (to the box of all polygons' bounding boxes where one reaches past it), then
rounded half to even to a whole pixel, taken as that pixel's centre; all paths of one
polygon (2.0's ``paths``, 1.0's ``path`` and ``additional_paths``, 1.0's
``complex_polygon``) filled together by the even-odd rule (a path inside another is a hole,
apart ones are parts), and every path's edges drawn too as upolygon's 8-connected lines:
from the left end, one pixel per step of the longer axis, ties towards that end, the right
end left to the next edge (an edge along an axis has both), and a vertex at the bottom
right of both its edges left out unless inside other paths. Burnt here as such polygons by
the pixel-centre rule: the same pixels as upolygon 0.2.3 on 12,000 random polygons of 1-3
paths (crossing themselves too), and as darwin-py's own ``mask`` export on the 138 image
files of its tests (83 of polygons, 56 raster layers; 521,983 px).

``bounding_box`` ``{x, y, w, h}`` and ``ellipse`` ``{center, radius, angle}`` (which
darwin-py's mask export leaves out) are burnt as V7 draws them, in its coordinates (from
the image's top-left corner, as darwin-py's COCO export passes them on): the box's pixels
whose centre lies inside, the ellipse's whose centre lies inside or on it, turned ``angle``
radians from x towards y (clockwise on screen). Raster masks: the ``__raster_layer__``'s
``dense_rle`` (``[value, count, ...]``, rows top to bottom, exactly width x height pixels)
read as darwin-py's ``render_raster`` reads it, each value > 0 the ``mask`` annotation its
``mask_annotation_ids_mapping`` gives it, of that annotation's class: exactly its pixels.
``line``, ``keypoint``, ``tag``, ``skeleton``, ``cuboid``, ``directional_vector`` and
other annotations without an area are left out, with one warning counting them.
"""

from __future__ import annotations

import glob
import math
import os
import re
from pathlib import Path

import numpy as np
import shapely

from geotile.errors import InputError
from geotile.label_documents import is_darwin
from geotile.name_keys import name_key
from geotile.short_repr import short_repr

#: annotation kinds without an area (left out), in darwin-py's order of main types; a
#: direction vector is a sub-annotation of a box or polygon (darwin-py's), a kind alone
NO_AREA = ("tag", "line", "keypoint", "cuboid", "skeleton", "table", "simple_table",
           "string", "graph", "directional_vector")
RASTER_LAYER = "raster_layer"
SNIFF_BYTES = 1 << 12
_SNIFF = re.compile(rb'"(?:item|image)"\s*:\s*\{')
#: .json files of a folder or pattern looked at to tell it Darwin's
_LOOKED_AT = 8
#: px: a corner of a vertex's pixel square left out of the fill (upolygon leaves it out)
_VERTEX = 0.01


def is_darwin_file(path) -> bool:
    """Whether ``path`` is a local .json file holding a Darwin JSON document, or one whose
    start reads as one but that is no JSON (cut short: read_darwin says so)."""
    from geotile.json_text import sniffed

    if not sniffed(path, _SNIFF, SNIFF_BYTES, ".json"):
        return False
    try:
        return is_darwin(_parse(Path(os.fspath(path))))
    except InputError:
        return True


def is_darwin_labels(labels) -> bool:
    """Whether LABELS is a Darwin JSON file, or a folder or pattern of them (one of its
    first .json files Darwin's)."""
    if not isinstance(labels, str | os.PathLike):
        return False
    path = Path(os.fspath(labels))
    if path.is_file():
        return is_darwin_file(path)
    if not path.is_dir() and not glob.has_magic(os.fspath(labels)):
        return False
    return any(is_darwin_file(f) for f in _json_files(labels)[:_LOOKED_AT])


def _json_files(labels) -> list[Path]:
    """The .json files of a folder (its subfolders too, hidden ones apart) or a pattern."""
    path = Path(os.fspath(labels))
    if path.is_dir():
        found = (f for f in path.rglob("*") if f.suffix.lower() == ".json"
                 and not any(part.startswith(".") for part in f.relative_to(path).parts))
    else:
        found = (Path(f) for f in glob.glob(os.fspath(labels), recursive=True)
                 if f.lower().endswith(".json"))
    return sorted(f for f in found if f.is_file())


def _parse(path: Path):
    from geotile.json_text import read_json

    return read_json(path, "Give V7's Darwin JSON export of the image (item or image, "
                     "annotations).")


def names(document, spelled: bool = False) -> list[str]:
    """The file names of the image a Darwin document annotates (its item's name and source
    files; 1.0's filename and original_filename), base names, first the item's; in NFC
    unless ``spelled``."""
    found = []
    item, image = document.get("item"), document.get("image")
    if isinstance(item, dict):
        found.append(item.get("name"))
        slots = item.get("slots")
        for slot in slots if isinstance(slots, list) else []:
            sources = slot.get("source_files") if isinstance(slot, dict) else None
            found += [s.get("file_name") for s in sources if isinstance(s, dict)] \
                if isinstance(sources, list) else []
    elif isinstance(image, dict):
        found += [image.get("filename"), image.get("original_filename")]
    key = (lambda n: n) if spelled else name_key
    return list(dict.fromkeys(key(n.replace("\\", "/").rsplit("/", 1)[-1]) for n in found
                              if isinstance(n, str) and n.strip()))


def listed(labels) -> list[tuple[Path, list[str]]]:
    """(file, the names of its image) of every Darwin file of LABELS; files that are not
    JSON kept with no names (their error is told when an image would take them)."""
    return [(f, found) for f, found, _ in _listed(labels)]


def _listed(labels) -> list[tuple[Path, list[str], list[str]]]:
    """:func:`listed`, and the class names of each file's annotations with an area."""
    path = Path(os.fspath(labels))
    files = [path] if path.is_file() else _json_files(labels)
    found = []
    for f in files:
        try:
            document = _parse(f)
        except InputError:
            found.append((f, [], []))
            continue
        if is_darwin(document):
            found.append((f, names(document), class_names(document)))
    return found


def class_names(document: dict) -> list[str]:
    """The names of a Darwin document's annotations with an area, unchecked (what would be
    refused is said where its image is masked)."""
    return [a["name"].strip() for a in document["annotations"] if isinstance(a, dict)
            and isinstance(a.get("name"), str) and a["name"].strip()
            and _kind(a) not in (None, RASTER_LAYER, *NO_AREA)]


def read_darwin(labels, images):
    """The annotations of ``images`` in Darwin LABELS, as
    :class:`geotile.labelme_labels.Labelme` (``files[i]``: image i's file): every image
    paired, of its size, and every annotation read before anything is written; InputError
    in one line naming the file (and the annotation) otherwise."""
    from geotile.labelme_labels import Labelme, run_names, say_left_out

    path = Path(os.fspath(labels))
    if path.is_file():
        if len(images) != 1:
            raise InputError(f"{path}: V7's Darwin JSON of one image, but {len(images)} "
                             "IMAGEs are given. Give its one image, or a folder of Darwin "
                             "files for several.")
        chosen, classes = [path], []
    else:
        files = _listed(labels)
        chosen = _pair(labels, [(f, found) for f, found, _ in files], images)
        classes = [name for _, _, found in files for name in found]
    read = {}
    for f, image in zip(chosen, images, strict=True):
        if f not in read:
            read[f] = _read(f, image)
        else:
            _check_image(f, read[f].size, image, bool(read[f].instances))
    say_left_out(labels, read.values(), "no_area", "line, keypoint, tag, skeleton, cuboid "
                 "or other annotation", "they have no area to burn", _place)
    say_left_out(labels, read.values(), "slivers", "annotation", "they burn no pixel of "
                 "the image (no area, or outside it)", _place)
    return Labelme(os.fspath(labels), chosen, [read[f] for f in chosen],
                   run_names(read.values(), classes))


def _place(found, position: int) -> str:
    return f"{found.path.name} annotations[{position}]"


def _pair(labels, files: list[tuple[Path, list[str]]], images) -> list[Path]:
    """Each image's Darwin file: the one naming it, else the one of its stem (its names'
    or its own); InputError naming the image for none or several."""
    from geotile.input_paths import input_path
    from geotile.name_keys import refuse_other_spelling

    by_name: dict[str, list[Path]] = {}
    by_stem: dict[str, list[Path]] = {}
    broken = {f.stem: f for f, found in files if not found and not _named(f)}
    for f, found in files:
        for name in found:
            by_name.setdefault(name, []).append(f)
        for stem in dict.fromkeys([*(Path(n).stem for n in found), name_key(f.stem)]
                                  if found else []):
            by_stem.setdefault(stem, []).append(f)
    chosen = []
    for image in images:
        source = Path(os.fspath(input_path(image)))
        found = by_name.get(name_key(source.name)) or by_stem.get(name_key(source.stem), [])
        if len(found) > 1:  # TILE_1.tif and tile_1.tif: the file naming it as it is spelled
            own = [f for f in found if source.name in names(_parse(f), spelled=True)]
            found = own if len(own) == 1 else found
        if not found and source.stem in broken:
            _parse(broken[source.stem])  # its own error
        if len(found) != 1:
            shown = ", ".join(str(f) for f in found[:3])
            example = ", ".join(f.name for f, n in files[:3] if n) or "none"
            raise InputError(
                f"{image}: {labels} has {len(found)} Darwin files of it ({shown}); keep one "
                "per image." if found else
                f"{image}: no Darwin JSON in {labels} names it or its stem (it holds e.g. "
                f"{example}). Give the images of these annotations.")
        spelled = [n for n in names(_parse(found[0]), spelled=True)
                   if name_key(n) == name_key(source.name)]
        if spelled and source.name not in spelled:
            refuse_other_spelling(image, spelled[0], labels)
        chosen.append(found[0])
    return chosen


def _named(path: Path) -> bool:
    """Whether a file that gave no names parses (as JSON that is not Darwin's)."""
    try:
        _parse(path)
    except InputError:
        return False
    return True


def _read(path: Path, image):
    """One Darwin file, checked against its image, its annotations made instances."""
    from geotile.labelme_labels import LabelmeFile, group_instances

    document = _parse(path)
    if not is_darwin(document):
        raise InputError(f"{path}: not V7's Darwin JSON (no 'item' or 'image' beside an "
                         "'annotations' list), but the other labels of this run are. Give "
                         "each image its Darwin JSON file.")
    size, slot = _slot(path, document)
    annotations = document["annotations"]
    _check_image(path, size, image, bool(annotations))
    found = LabelmeFile(path, size, (names(document) or [None])[0])
    canvas = _canvas(path, annotations, size)
    masks = _raster(path, annotations, size)
    items = []
    for position, annotation in enumerate(annotations):
        geometry = _annotation(path, position, annotation, slot, size, canvas, masks, found)
        if geometry is not None:
            items.append((position, geometry[0], position, geometry[1]))
    found.instances = group_instances(items)
    return found


def _slot(path: Path, document: dict) -> tuple[tuple[int, int], str | None]:
    """((width, height), the slot's name) of a document's one image; InputError for an item
    of several slots or of a slot that is no image."""
    item = document.get("item")
    if isinstance(item, dict):
        slots = item.get("slots")
        if not isinstance(slots, list) or not slots:
            raise InputError(f"{path}: its item has no slots (its image's width and height). "
                             "Export it from V7 again (Darwin JSON 2.0 lists each slot).")
        if len(slots) > 1:
            raise InputError(f"{path}: an item of {len(slots)} slots; make-masks takes items "
                             "of one image. Export each image as an item of its own.")
        slot = slots[0]
        if not isinstance(slot, dict) or slot.get("type") != "image":
            kind = slot.get("type") if isinstance(slot, dict) else slot
            raise InputError(f"{path}: its slot is of type {short_repr(kind)}, not an image "
                             "(video, DICOM and PDF items have no mask here). Give image "
                             "items.")
        name = slot.get("slot_name")
        return _size(path, slot, "its slot"), name if isinstance(name, str) else None
    image = document["image"]
    if image.get("frame_urls") or image.get("frame_count"):
        raise InputError(f"{path}: a video, not an image; make-masks takes images. Give "
                         "image items.")
    return _size(path, image, "its image"), None


def _size(path: Path, holder: dict, what: str) -> tuple[int, int]:
    values = holder.get("width"), holder.get("height")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values):
        raise InputError(f"{path}: {what} has width {short_repr(values[0])} and height "
                         f"{short_repr(values[1])}; give the image's size in pixels (V7 exports "
                         "both).")
    return values[0], values[1]


def _check_image(path: Path, size: tuple[int, int], image, annotated: bool) -> None:
    """Refuse an image of another size than its Darwin file's, or turned by its EXIF
    orientation (V7 shows it, and draws on it, turned)."""
    from geotile.turned_images import check_image

    check_image(path, size, image, annotated, f"V7 draws {path.name}'s annotations on it turned")


def _kind(annotation: dict) -> str | None:
    """An annotation's main type, told by its keys as darwin-py tells them (a polygon's
    bounding_box is its own; an ellipse or a line's, theirs)."""
    polygon = annotation.get("polygon")
    if isinstance(polygon, dict) and ("paths" in polygon or "path" in polygon):
        return "polygon"
    for kind in ("complex_polygon", "ellipse", "mask", RASTER_LAYER, *NO_AREA[:-1],
                 "bounding_box", NO_AREA[-1]):
        if kind in annotation:
            return kind
    return None


def _annotation(path: Path, position: int, annotation, slot, size, canvas, masks, found):
    """(class name, geometry) of one annotation; None for one left out."""
    where = f"{path}: annotations[{position}]"
    if not isinstance(annotation, dict):
        raise InputError(f"{where} is not an object. Fix or remove it.")
    name = annotation.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"{where} has name {short_repr(name)}; give each annotation its class "
                         "name. Fix or remove it.")
    slots = annotation.get("slot_names")
    if slots and slot is not None and (not isinstance(slots, list) or slots[0] != slot):
        raise InputError(f"{where} ({name!r}) is on slot {short_repr(slots)}, but the item's one "
                         f"slot is {slot!r}. Fix its slot_names.")
    kind = _kind(annotation)
    if kind is None:
        keys = ", ".join(sorted(map(str, annotation))[:6])
        raise InputError(f"{where} ({name!r}) has no shape make-masks knows (keys: {keys}); "
                         "it burns polygons, bounding boxes, ellipses and raster masks. "
                         "Convert it or remove it.")
    if kind in NO_AREA:
        found.no_area.append(position)
        return None
    if kind == RASTER_LAYER:
        return None
    if kind == "mask":
        geometry = masks.get(annotation.get("id"))
        if geometry is None:  # no pixel of it in the raster layer
            found.slivers.append(position)
            return None
        return name.strip(), geometry
    if kind == "bounding_box":
        x, y, w, h = _numbers(where, name, kind, annotation[kind], ("x", "y", "w", "h"))
        geometry = shapely.box(min(x, x + w), min(y, y + h), max(x, x + w), max(y, y + h))
    elif kind == "ellipse":
        geometry = _ellipse(where, name, annotation[kind], size)
    else:
        geometry = painted([_pixels(where, name, ring, canvas)
                            for ring in _paths(where, name, kind, annotation[kind])])
    width, height = size
    geometry = shapely.intersection(geometry, shapely.box(-1, -1, width + 1, height + 1))
    if geometry.is_empty or geometry.area <= 0:
        found.slivers.append(position)
        return None
    return name.strip(), geometry


def _numbers(where: str, name: str, kind: str, data, keys) -> list[float]:
    from geotile.labelme_labels import MOST_RADIUS

    values = [data.get(k) for k in keys] if isinstance(data, dict) else [None]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        raise InputError(f"{where} ({name!r}) is a {kind} of {short_repr(data)}; give "
                         f"{', '.join(keys)} in pixels. Fix or remove it.")
    if not all(abs(v) <= MOST_RADIUS for v in values):  # NaN, infinity and 10**400 too
        raise InputError(f"{where} ({name!r}) is a {kind} with a value that is not a finite "
                         f"number of pixels within {MOST_RADIUS} px. Fix or remove it.")
    return [float(v) for v in values]


def _ellipse(where: str, name: str, data, size):
    from geotile.labelme_labels import ellipse

    if not isinstance(data, dict):
        raise InputError(f"{where} ({name!r}) is an ellipse of {short_repr(data)}; give center, "
                         "radius and angle. Fix or remove it.")
    cx, cy = _numbers(where, name, "ellipse center", data.get("center"), ("x", "y"))
    rx, ry = _numbers(where, name, "ellipse radius", data.get("radius"), ("x", "y"))
    (angle,) = _numbers(where, name, "ellipse", {"angle": data.get("angle", 0)}, ("angle",))
    return ellipse(cx, cy, abs(rx), abs(ry), angle, (-2, size[1] + 2))


def _paths(where: str, name: str, kind: str, data) -> list:
    """The paths of a polygon: 2.0's ``paths``; 1.0's ``path`` (one, or a complex polygon's
    list of them) and ``additional_paths``."""
    from geotile.coco_labels import MAX_POINTS

    if not isinstance(data, dict):
        raise InputError(f"{where} ({name!r}) is a {kind} of {short_repr(data)}; give its paths. "
                         "Fix or remove it.")
    if "paths" in data:
        paths = data["paths"]
    else:
        path = data.get("path")
        paths = path if isinstance(path, list) and path and isinstance(path[0], list) \
            else [path]
        extra = data.get("additional_paths") or []
        paths = [*paths, *(extra if isinstance(extra, list) else [extra])]
    if not isinstance(paths, list) or not paths:
        raise InputError(f"{where} ({name!r}) is a {kind} without paths. Fix or remove it.")
    if sum(len(p) for p in paths if isinstance(p, list)) > MAX_POINTS:
        raise InputError(f"{where} ({name!r}) has over {MAX_POINTS:,} points (a broken "
                         "export?). Simplify it or remove it.")
    return paths


def _pixels(where: str, name: str, path, canvas) -> np.ndarray:
    """A path's vertices as the whole pixels darwin-py draws them at: clipped to the canvas
    (x0, y0, x1, y1), rounded half to even from its corner."""
    if not isinstance(path, list) or not path or not all(
            isinstance(p, dict) and all(isinstance(p.get(k), int | float)
                                        and not isinstance(p.get(k), bool) for k in "xy")
            for p in path):
        raise InputError(f"{where} ({name!r}) has a path {short_repr(path)}; give lists of "
                         "{\"x\", \"y\"} points. Fix or remove it.")
    try:
        xy = np.array([[p["x"], p["y"]] for p in path], dtype=np.float64)
    except OverflowError:  # an integer past any float
        xy = np.full(1, np.inf)
    if not np.isfinite(xy).all():
        raise InputError(f"{where} ({name!r}) has a point that is not a finite number. Fix "
                         "or remove it.")
    x0, y0, x1, y1 = canvas
    corner = np.array([x0, y0], dtype=np.float64)
    shifted = np.clip(xy - corner, 0, np.array([x1 - x0 - 1, y1 - y0 - 1]))
    return np.round(shifted) + corner


def _canvas(path: Path, annotations: list, size) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the image, or (as darwin-py's mask export) the box of it and of
    every polygon's bounding box where one reaches past it."""
    from geotile.labelme_labels import MOST_RADIUS

    width, height = size
    boxes = []
    for position, annotation in enumerate(annotations):
        if isinstance(annotation, dict) and _kind(annotation) in ("polygon",
                                                                  "complex_polygon"):
            box = annotation.get("bounding_box")
            values = [box.get(k) for k in "xywh"] if isinstance(box, dict) else []
            if len(values) == 4 and all(isinstance(v, int | float) and not isinstance(v, bool)
                                        and (isinstance(v, int) or math.isfinite(v))
                                        for v in values):
                if not all(abs(v) <= MOST_RADIUS for v in values):
                    raise InputError(f"{path}: annotations[{position}] "
                                     f"({annotation.get('name')!r}) has a "
                                     f"bounding_box past {MOST_RADIUS} px (a broken export?)."
                                     " Fix or remove it.")
                boxes.append(values)
    beyond = [b for b in boxes if b[0] < 0 or b[1] < 0 or b[0] + b[2] > width
              or b[1] + b[3] > height]
    if not beyond:
        return 0, 0, width, height
    return (math.floor(min(0, *(b[0] for b in boxes))),
            math.floor(min(0, *(b[1] for b in boxes))),
            math.ceil(max(width, *(b[0] + b[2] for b in boxes))),
            math.ceil(max(height, *(b[1] + b[3] for b in boxes))))


def painted(rings: list[np.ndarray]):
    """What upolygon's draw_polygon paints of the paths ``rings`` (whole pixels, (n, 2)),
    as a polygon the pixel-centre rule burns alike: the even-odd fill of all of them, every
    edge's 8-connected line, and its vertices as its scanlines take them (see
    :func:`_vertices`)."""
    from geotile.drawn_pixels import line_bands

    fill = _even_odd([ring + 0.5 for ring in rings if len(ring) >= 3])
    taken, left = _vertices(rings, fill)
    if left:
        fill = shapely.difference(fill, shapely.union_all(left))
    lines = [line for ring in rings for line in line_bands(ring + 0.5, open_end=True)]
    return shapely.union_all([fill, *taken, *lines])


def _even_odd(rings: list[np.ndarray]):
    """The even-odd fill of ``rings`` ((n, 2) each): the symmetric difference of simple
    ones; otherwise the faces of their noded edges that a ray from inside crosses an odd
    number of times (a ring crossing or running along itself)."""
    polygons = [shapely.Polygon(ring) for ring in rings]
    if all(p.is_valid for p in polygons):
        fill = shapely.Polygon()
        for polygon in polygons:
            fill = shapely.symmetric_difference(fill, polygon)
        return fill
    edges = np.concatenate([np.stack([ring, np.roll(ring, -1, axis=0)], axis=1)
                            for ring in rings])
    edges = edges[edges[:, 0, 1] != edges[:, 1, 1]]  # along x: crossed by no ray
    (x1, y1), (x2, y2) = edges[:, 0].T, edges[:, 1].T
    low, high = np.minimum(y1, y2), np.maximum(y1, y2)
    linework = shapely.union_all([shapely.LineString(np.vstack([r, r[:1]])) for r in rings])
    odd = []
    for face in shapely.get_parts(shapely.polygonize(shapely.get_parts(linework))):
        x, y = shapely.get_coordinates(shapely.point_on_surface(face))[0]
        spans = (low <= y) & (y < high)
        crossed = x1[spans] + (y - y1[spans]) * (x2[spans] - x1[spans]) / (
            y2[spans] - y1[spans])
        if np.count_nonzero(crossed < x) % 2:
            odd.append(face)
    return shapely.union_all(odd) if odd else shapely.Polygon()


def _vertices(rings: list[np.ndarray], fill) -> tuple[list, list]:
    """(small squares of the vertices upolygon paints, of those it leaves out) among the
    vertices no line of theirs paints (the right end of both their slanted edges): its
    closed scanline spans take one where an edge starts downwards from it; one where both
    end (a bottom-right tip) only inside the fill of the other edges, which there is that of
    the point just below it."""
    taken, left = [], []
    for ring in rings:
        if len(ring) < 3:
            continue
        before, after = np.roll(ring, 1, axis=0), np.roll(ring, -1, axis=0)
        unlined = ((ring[:, 0] > before[:, 0]) & (ring[:, 0] > after[:, 0])
                   & (ring[:, 1] != before[:, 1]) & (ring[:, 1] != after[:, 1]))
        bottom = (ring[:, 1] > before[:, 1]) & (ring[:, 1] > after[:, 1])
        for (x, y), tip in zip(ring[unlined] + 0.5, bottom[unlined], strict=True):
            square = shapely.box(x - _VERTEX, y - _VERTEX, x + _VERTEX, y + _VERTEX)
            inside = not tip or fill.contains(shapely.Point(x + 1e-9, y + 1e-9))
            (taken if inside else left).append(square)
    return taken, left


def _raster(path: Path, annotations: list, size) -> dict:
    """Each mask annotation's pixels in the file's raster layer (its id -> polygons, their
    edges ``MASK_INSET`` inside); {} without one."""
    from affine import Affine
    from rasterio.features import shapes

    from geotile.labelme_labels import MASK_INSET

    layers = [(i, a) for i, a in enumerate(annotations)
              if isinstance(a, dict) and _kind(a) == RASTER_LAYER]
    masks = {}
    for position, a in enumerate(annotations):
        if isinstance(a, dict) and _kind(a) == "mask":
            where = f"{path}: annotations[{position}] ({a.get('name')!r}) is a mask"
            ident = a.get("id")
            if not isinstance(ident, str | int) or isinstance(ident, bool):
                raise InputError(f"{where} of id {short_repr(ident)}; its id names it in the "
                                 "raster layer's mask_annotation_ids_mapping. Export it from "
                                 "V7 again.")
            if not layers:
                raise InputError(f"{where}, but the file has no __raster_layer__ annotation "
                                 "(the pixels of its masks). Export it from V7 again.")
            masks[ident] = a
    if not layers:
        return {}
    if len(layers) > 1:
        raise InputError(f"{path}: {len(layers)} raster layers; V7 gives an image one "
                         f"(annotations[{layers[0][0]}], annotations[{layers[1][0]}]). Keep "
                         "one.")
    position, layer = layers[0]
    where = f"{path}: annotations[{position}] (the raster layer)"
    data = layer[RASTER_LAYER]
    rle = data.get("dense_rle") if isinstance(data, dict) else None
    mapping = data.get("mask_annotation_ids_mapping") if isinstance(data, dict) else None
    if not isinstance(rle, list) or len(rle) % 2 or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in rle):
        raise InputError(f"{where} has a dense_rle that is not pairs of whole numbers "
                         "[value, count, ...]. Export it from V7 again.")
    if not isinstance(mapping, dict) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in mapping.values()):
        raise InputError(f"{where} has mask_annotation_ids_mapping {short_repr(mapping)}; give "
                         "each mask annotation's id its value (> 0). Export it from V7 again.")
    width, height = size
    pairs = np.array(rle, dtype=object).reshape(-1, 2)
    total = sum(pairs[:, 1]) if len(pairs) else 0
    if total != width * height:
        raise InputError(f"{where} has a dense_rle of {total:,} pixels, but its image has "
                         f"{width}x{height} = {width * height:,}. Export it from V7 again.")
    unknown = [k for k in mapping if k not in masks]
    if unknown:
        raise InputError(f"{where} maps id {unknown[0]!r} to a value, but no mask annotation "
                         "has that id. Export it from V7 again.")
    if pairs[:, 0].max(initial=0) > np.iinfo(np.int32).max:
        raise InputError(f"{where} has a value past 2**31. Export it from V7 again.")
    values = np.repeat(pairs[:, 0].astype(np.int32), pairs[:, 1].astype(np.int64))
    values = values.reshape(height, width)
    used = set(np.unique(values).tolist()) - {0}
    stray = sorted(used - set(mapping.values()))
    if stray:
        raise InputError(f"{where} has pixels of value {stray[0]}, which its "
                         "mask_annotation_ids_mapping gives no mask annotation. Export it from "
                         "V7 again.")
    by_value: dict[int, list] = {}
    for geometry, value in shapes(values, mask=values != 0, transform=Affine.identity()):
        by_value.setdefault(int(value), []).append(shapely.geometry.shape(geometry))
    return {ident: shapely.buffer(shapely.union_all(by_value[value]), -MASK_INSET,
                                  join_style="mitre")
            for ident, value in mapping.items() if value in by_value}
