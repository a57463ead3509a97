"""COCO instance annotations (``annotation.json``: ``images``, ``annotations``,
``categories``) as make-masks labels.

COCO holds each image's objects in that image's pixel coordinates (origin at the top-left
corner of the top-left pixel, x right, y down): an image takes the ``images`` entry whose
``file_name``'s base name is its file name (folders in ``file_name`` do not count), of the
same width and height, and that entry's annotations, placed through the image's own
transform (its pixels where it has no georeferencing), so that they are burnt as vector
labels are (pixel centre inside; --all-touched). A ``segmentation`` is polygons (flat
``[x1, y1, x2, y2, ...]`` lists, the parts of one object; COCO polygons have no holes) or a
run-length encoding (``{"counts": [...] | "...", "size": [h, w]}``, column-major, from a
background run; a string is COCO's compressed encoding, as pycocotools' mask.encode writes
it), burnt as exactly its pixels. ``iscrowd`` 1 marks a region COCO ignores: it is burnt as
the masks' ignore value (255). Class ids: one category, 1; several, 1..N by ascending
category id, named by the categories (a category named background is 0); an unused
category that another names as its supercategory (Roboflow's category 0, the dataset) is none.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import shapely

from geotile.errors import GeotileWarning, InputError
from geotile.label_documents import is_coco
from geotile.user_warnings import warn

KEYS = ("images", "annotations", "categories")
#: a COCO key opening a list near the start of a file: worth parsing it to see
_SNIFF = re.compile(rb'"(?:images|annotations|categories)"\s*:\s*\[')
SNIFF_BYTES = 1 << 16
#: the most points of one polygon (COCO's, Labelme's, a YOLO line's): far past any
#: annotation tool's; one beyond it is a broken export (10 million points took 13 GB, then
#: GEOS failed with bad_alloc)
MAX_POINTS = 1_000_000
#: px: RLE outlines are drawn this far inside their pixels' edges, so that --all-touched,
#: like the pixel-centre rule, burns exactly the decoded pixels whatever the rounding of the
#: image's transform
RLE_INSET = 1e-6
#: bits of one number of a compressed RLE string (pycocotools' are 64-bit)
RLE_BITS = 64
#: the field of the Labels that says a feature is a crowd region (burnt as ignore)
CROWD = "iscrowd"
#: the field holding each feature's category name (its class)
CATEGORY = "category"


@dataclass
class Coco:
    """A COCO instances file, read and checked once."""

    path: Path
    #: base name of ``file_name`` -> image entries of that name
    by_name: dict[str, list[dict]]
    #: image id -> its annotations, in file order
    by_image: dict[object, list[dict]]
    #: category id -> name, ascending ids
    categories: dict[object, str]
    class_map: dict[str, int] = field(default_factory=dict)

    @property
    def several(self) -> bool:
        """Whether the masks hold several classes (band "class", not "footprint")."""
        return len(set(self.class_map.values())) > 1


def is_coco_file(path) -> bool:
    """Whether ``path`` is a local .json file whose start names a COCO list (images,
    annotations or categories): cheap, from its first 64 KiB."""
    path = Path(os.fspath(path)) if isinstance(path, str | os.PathLike) else None
    if path is None or path.suffix.lower() != ".json" or not path.is_file():
        return False
    try:
        with path.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError:
        return False
    from geotile.json_text import sniffable

    return _SNIFF.search(sniffable(head)) is not None


def read_coco(path, document=None) -> Coco | None:
    """The COCO file at ``path`` (``document``: already parsed), checked in structure;
    None when it is no COCO file (then it is other labels). InputError in one line naming
    the file (and the entry) when it is broken."""
    path = Path(os.fspath(path))
    if document is None:
        if not is_coco_file(path):
            return None
        from geotile.json_text import read_json

        document = read_json(path, "Give a COCO annotation file (images, annotations, "
                             "categories).", json.loads)
    if not is_coco(document):
        return None
    missing = [k for k in KEYS if not isinstance(document.get(k), list)]
    if missing:
        raise InputError(f"{path}: not a COCO annotation file: no {' or '.join(map(repr, missing))}"
                         f" list (a COCO instances file holds {', '.join(KEYS)}).")
    by_id: dict = {}
    by_name: dict[str, list[dict]] = {}
    for index, entry in enumerate(document["images"]):
        what = f"images[{index}]"
        if not isinstance(entry, dict) or _id(entry.get("id")) is None:
            raise InputError(f"{path}: {what} has no id. Give each image an id, file_name, "
                             "width and height.")
        name = entry.get("file_name")
        if not isinstance(name, str) or not name.strip():
            raise InputError(f"{path}: image id {entry['id']} has no file_name.")
        for key in ("width", "height"):
            if not _whole(entry.get(key)):
                raise InputError(f"{path}: image id {entry['id']} ({name}) has {key} "
                                 f"{short_json(entry.get(key))}; give its size in pixels.")
        if entry["id"] in by_id:
            raise InputError(f"{path}: image id {entry['id']} is given twice "
                             f"({by_id[entry['id']]['file_name']} and {name}). Give each "
                             "image its own id.")
        by_id[entry["id"]] = entry
        by_name.setdefault(base_name(name), []).append(entry)
    categories: dict = {}
    for index, entry in enumerate(document["categories"]):
        if not isinstance(entry, dict) or _id(entry.get("id")) is None:
            raise InputError(f"{path}: categories[{index}] has no id. Give each category an "
                             "id and a name.")
        name = entry.get("name")
        name = str(name if name is not None else entry["id"])
        if entry["id"] in categories:
            raise InputError(f"{path}: category id {entry['id']} is given twice "
                             f"({categories[entry['id']]} and {name}). Give each category "
                             "its own id.")
        categories[entry["id"]] = name
    categories = dict(sorted(categories.items(), key=lambda item: _id(item[0])))
    by_image: dict = {}
    for index, annotation in enumerate(document["annotations"]):
        if not isinstance(annotation, dict):
            raise InputError(f"{path}: annotations[{index}] is not an object.")
        what = _what(annotation, index)
        if not is_listed(annotation.get("image_id"), by_id):
            raise InputError(f"{path}: {what} names image_id {annotation.get('image_id')!r}, "
                             "which no image has. Fix or remove it.")
        if not is_listed(annotation.get("category_id"), categories):
            raise InputError(f"{path}: {what} names category_id "
                             f"{annotation.get('category_id')!r}, which no category has. "
                             "Add the category or fix the annotation.")
        by_image.setdefault(annotation["image_id"], []).append(annotation)
    classes = _without_placeholders(categories, document)
    return Coco(path, by_name, by_image, categories, _class_map(classes))


def _without_placeholders(categories: dict, document: dict) -> dict:
    """``categories`` less those that only group others: no annotation uses them and
    another category names them as its supercategory (Roboflow lists the dataset so, as
    category 0 above its classes)."""
    used = {annotation.get("category_id") for annotation in document["annotations"]}
    parents = {str(entry.get("supercategory")) for entry in document["categories"]
               if isinstance(entry, dict) and entry.get("supercategory") is not None}
    return {key: name for key, name in categories.items()
            if key in used or name not in parents}


def _class_map(categories: dict) -> dict[str, int]:
    """Class ids of the category names: 1..N by ascending category id (a name of background
    is none: its objects clear what lies under them, as such names do in vector labels)."""
    from geotile.class_keys import class_key, names_background

    mapping: dict[str, int] = {}
    seen: set = set()
    for name in categories.values():
        if class_key(name) in seen or names_background(name):
            continue
        seen.add(class_key(name))
        mapping[name] = len(mapping) + 1
    return mapping


def base_name(file_name: str) -> str:
    """The base name of a COCO ``file_name`` (which may hold folders, / or \\), in NFC
    (:func:`geotile.dataset_names.name_key`: macOS names files decomposed)."""
    from geotile.name_keys import name_key

    return name_key(PurePosixPath(file_name.replace("\\", "/")).name)


def base_path(file_name: str) -> str:
    """A COCO ``file_name`` with / for \\ and without leading ./ and ../"""
    return re.sub(r"^(?:\.{0,2}/)+", "", file_name.replace("\\", "/"))


def path_ends(image, entries: list, file_name) -> list:
    """Those of ``entries`` (one name in several folders) whose ``file_name(entry)`` the
    absolute path of ``image`` (img.png given inside a/ too) ends with (a/img.png); where
    none is (a path of another machine: C:\\data\\a\\img.png, /Users/ana/a/img.png), the
    one that shares the most folders with its end (a/img.png); all of them where none or
    several do."""
    from geotile.name_keys import name_key, same_spelling

    entries = same_spelling(image, entries, lambda e: base_path(file_name(e)))
    if len(entries) == 1:
        return entries
    given = "/" + name_key(os.path.abspath(str(image)).replace("\\", "/"))
    listed = [name_key(base_path(file_name(e))) for e in entries]
    found = [e for e, name in zip(entries, listed, strict=True)
             if given.endswith("/" + name)]
    if found:
        return found
    shared = [_shared_end(given.split("/"), name.split("/")) for name in listed]
    best = [e for e, n in zip(entries, shared, strict=True) if n == max(shared)]
    return best if max(shared) > 1 and len(best) == 1 else entries


def _shared_end(a: list[str], b: list[str]) -> int:
    """How many last parts of paths ``a`` and ``b`` (their parts) are the same."""
    count = 0
    for x, y in zip(reversed(a), reversed(b), strict=False):
        if x != y:
            break
        count += 1
    return count


def image_entry(coco: Coco, image, name: str | None = None) -> dict:
    """``image``'s entry in ``coco`` (its file name; :func:`checked_entry` checks its size);
    InputError in one line naming both files otherwise. ``name``: the file name to look for
    when ``image`` is another raster of the image's pixels (evaluate's prediction)."""
    from geotile.input_paths import input_path
    from geotile.name_keys import name_key, nfc, raw_name
    from geotile.prediction_names import spelled_names

    shown = nfc(name or input_path(image).name)
    found = coco.by_name.get(name_key(shown), [])
    if len(found) > 1 and name is not None:  # TILE_1.png and tile_1.png: TILE_1.tif's
        spelled = spelled_names(input_path(image).stem,
                                [raw_name(e["file_name"]) for e in found])
        found = [e for e in found if raw_name(e["file_name"]) in spelled]
        shown = nfc(raw_name(found[0]["file_name"])) if len(found) == 1 else shown
    if len(found) > 1:  # the same name in several folders: the one the path ends with
        found = path_ends(image, found, lambda e: e["file_name"])
    if not found:
        listed = sorted(raw_name(e["file_name"]) for v in coco.by_name.values() for e in v)
        example = ", ".join(listed[:3]) or "none"
        raise InputError(f"{image}: not in {coco.path} (no image has file_name {shown!r}; it "
                         f"lists e.g. {example}). Give images the file names it lists.")
    if len(found) > 1 and len({base_path(e["file_name"]) for e in found}) == 1:
        ids = [str(e["id"]) for e in found]
        times = "twice" if len(ids) == 2 else f"{len(ids)} times"
        raise InputError(f"{image}: {coco.path} lists {found[0]['file_name']} {times} (image "
                         f"ids {', '.join(ids[:-1])} and {ids[-1]}). Give each image one entry.")
    if len(found) > 1:
        raise InputError(f"{image}: {coco.path} lists {len(found)} images named {shown!r} "
                         f"({', '.join(e['file_name'] for e in found[:3])}); give the image "
                         "by a path that ends with one of them.")
    from geotile.name_keys import refuse_other_spelling

    refuse_other_spelling(image, found[0]["file_name"], coco.path)
    return found[0]



def check_images(coco: Coco, images) -> list[dict]:
    """Every image's entry (:func:`checked_entry`), before any mask is written."""
    return [checked_entry(coco, image) for image in images]


def checked_entry(coco: Coco, image, name: str | None = None) -> dict:
    """``image``'s entry (:func:`image_entry`; ``name``: as there) of the size the image is
    viewed at, refused where the image has annotations and its EXIF orientation turns or
    flips it (CVAT and labelme2coco draw on it turned; a prediction: on the photo's)."""
    from geotile.turned_images import image_view, refuse_turned

    orientation, width, height, view = image_view(image)
    entry = image_entry(coco, image, name=name)
    if any(a.get("segmentation") for a in coco.by_image.get(entry["id"], [])):
        refuse_turned(image, orientation, f"{coco.path.name} is drawn on it as turned "
                      "(CVAT and labelme2coco show it so)")
    size = int(entry["width"]), int(entry["height"])
    if size != view:
        turned = (f" ({view[0]}x{view[1]} as its EXIF orientation ({orientation}) turns "
                  "it)" if view != (width, height) else "")
        fix = ("That is its size turned a quarter, as labelling tools list a photo its EXIF "
               "orientation turns: rotate the photo's pixels first (`exiftran -ai`) and give "
               "it (or predict it) again." if size == (view[1], view[0])
               else "Give the image the annotations were made on.")
        raise InputError(f"{image}: {width}x{height} px{turned}, but {coco.path} gives "
                         f"{entry['file_name']} (image id {entry['id']}) {size[0]}x{size[1]} "
                         f"px. {fix}")
    return entry


def image_labels(coco: Coco, entry: dict, transform, crs):
    """:class:`geotile.label_set.Labels` of ``entry``'s annotations in the coordinates of
    its image (``transform``, ``crs``): fields ``category`` (the class name), ``iscrowd``
    (bool) and ``id``; objects in file order (the later wins where they overlap)."""
    from geotile.label_set import Labels
    from geotile.spacenet import pixel_to_map

    geometries, names, crowd, ids, slivers, boxes = [], [], [], [], [], []
    for index, annotation in enumerate(coco.by_image.get(entry["id"], [])):
        if annotation.get("segmentation") == []:  # a box only (CVAT, Roboflow): no shape
            boxes.append(annotation.get("id", index))
            continue
        geometry = coco_geometry(coco.path, annotation, entry, index, slivers)
        if geometry is None:
            continue
        geometries.append(geometry)
        names.append(coco.categories[annotation["category_id"]])
        crowd.append(is_crowd(annotation.get("iscrowd")))
        ids.append(annotation.get("id"))
    if slivers:
        warn(f"{coco.path}: {len(slivers)} polygon(s) of {entry['file_name']} have no "
             f"area and were left out (annotation {slivers[0]} first).",
             GeotileWarning)
    if boxes:
        warn(f"{coco.path}: {len(boxes)} annotation(s) of {entry['file_name']} have no "
             "segmentation (segmentation [], a bbox only) and were left out "
             f"(annotation {boxes[0]} first).", GeotileWarning)
    array = np.empty(len(geometries), dtype=object)
    array[:] = geometries
    if len(array):
        array = pixel_to_map(array, transform)
    fields = {CATEGORY: _objects(names), CROWD: np.asarray(crowd, dtype=bool),
              "id": _objects(ids)}
    return Labels(array, fields, crs)


def is_crowd(value) -> bool:
    """Whether an ``iscrowd`` value marks a region to ignore: 1 or true, also as text ("1",
    as exporters that write "0" for objects write it); "0", 0, none: an object."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true")
    return value in (1, True)


def _objects(values: list) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def coco_geometry(path: Path, annotation: dict, entry: dict, index: int, slivers: list,
              what: str | None = None):
    """The annotation's shape in its image's pixel coordinates (None: nothing to burn);
    InputError naming the file and the annotation (``what``: how to name it) when its
    segmentation is broken."""
    from geotile.label_points import float_xy

    what = what or _what(annotation, index)
    segmentation = annotation.get("segmentation")
    if isinstance(segmentation, dict):
        return _rle_shape(path, what, segmentation, entry)
    if not isinstance(segmentation, list):
        raise InputError(f"{path}: {what} has segmentation {short_json(segmentation)}; give "
                         "polygons ([[x1, y1, x2, y2, ...], ...]) or an RLE ({counts, size}).")
    parts = []
    for ring in segmentation:
        if isinstance(ring, list) and len(ring) > 2 * MAX_POINTS:
            raise InputError(f"{path}: {what} has a polygon of {len(ring) // 2:,} points; a "
                             f"polygon holds at most {MAX_POINTS:,} (a broken export?). "
                             "Simplify it or remove it.")
        if (not isinstance(ring, list) or len(ring) < 6 or len(ring) % 2
                or not all(_number(v) for v in ring)):
            raise InputError(f"{path}: {what} has a polygon {short_json(ring)}: a polygon is a "
                             "flat list of at least 3 points [x1, y1, x2, y2, x3, y3, ...]. "
                             "Fix or remove it.")
        xy = float_xy(ring)
        if not np.isfinite(xy).all():
            raise InputError(f"{path}: {what} has a polygon with a coordinate that is not a "
                             "finite number. Fix or remove it.")
        polygon = polygonal(shapely.make_valid(shapely.Polygon(xy)))
        if polygon.area <= 0:  # a sliver (points on one line), as exporters write some
            slivers.append(annotation.get("id", index))
            continue
        parts.append(polygon)
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else shapely.union_all(parts)


def polygonal(geometry):
    """The polygons of a repaired ring (make_valid keeps a spike as a line beside them)."""
    parts = [p for p in shapely.get_parts(geometry) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _rle_shape(path: Path, what: str, rle: dict, entry: dict):
    """The pixels of an RLE segmentation as polygons (pixel edges drawn ``RLE_INSET``
    inside), None when it has none."""
    return rle_outlines([rle_pieces(rle_runs(path, what, rle, entry),
                                    int(entry["height"]))])[0]


def rle_runs(path: Path, what: str, rle: dict, entry: dict) -> list[int]:
    """The run lengths of an RLE segmentation of ``entry``'s image; InputError naming the
    file and ``what`` when its size is not the image's or its counts are broken."""
    size, counts = rle.get("size"), rle.get("counts")
    height, width = int(entry["height"]), int(entry["width"])
    if (not isinstance(size, list) or len(size) != 2 or not all(map(_whole, size))
            or tuple(size) != (height, width)):
        raise InputError(f"{path}: {what} has an RLE of size {short_json(size)}, but its image "
                         f"{entry['file_name']} is [{height}, {width}] ([height, width]). "
                         "Fix or remove it.")
    if isinstance(counts, str):
        runs = decode_counts(counts)
        if runs is None:
            raise InputError(f"{path}: {what} has an RLE whose counts string is not COCO's "
                             "compressed encoding. Fix or remove it.")
    elif isinstance(counts, list) and all(_whole(c) for c in counts):
        runs = [int(c) for c in counts]
    else:
        raise InputError(f"{path}: {what} has RLE counts {short_json(counts)}; give whole numbers "
                         "or COCO's compressed string.")
    if any(r < 0 for r in runs) or sum(runs) != height * width:
        raise InputError(f"{path}: {what} has an RLE whose counts cover {sum(runs)} pixels, "
                         f"not {height * width} ({height}x{width}); it is broken. Fix or "
                         "remove it.")
    return runs


def rle_pieces(runs, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(column, first row, row past the last) of each column's part of each foreground run
    of COCO run lengths (column-major, from a background run) of an image ``height`` high:
    the mask as vertical strips of pixels, without its (height, width) array."""
    runs = np.asarray(runs, dtype=np.int64)
    ends = np.cumsum(runs)
    first, last = (ends - runs)[1::2], ends[1::2]
    held = last > first
    first, last = first[held], last[held]
    left, right = first // height, (last - 1) // height
    spans = right - left + 1
    run = np.repeat(np.arange(len(first)), spans)
    column = left[run] + np.arange(len(run)) - np.repeat(np.cumsum(spans) - spans, spans)
    return (column, np.maximum(first[run] - column * height, 0),
            np.minimum(last[run] - column * height, height))


#: pixels of the label canvas that :func:`rle_outlines` outlines at once (int32: 16 MB)
OUTLINE_PIXELS = 1 << 22


def rle_outlines(masks: list) -> list:
    """Each mask's (:func:`rle_pieces`) pixels as polygons, their edges ``RLE_INSET``
    inside (None: no pixels): the masks' crops side by side on one canvas of labels,
    outlined (4-connected) by one rasterio ``shapes`` call per canvas, not one a mask (the
    same polygons, a tenth of the time)."""
    import rasterio

    boxes = np.zeros((len(masks), 4), dtype=np.int64)  # left, top, width, height
    for i, (column, top, bottom) in enumerate(masks):
        if len(column):
            boxes[i] = (column.min(), top.min(), column.max() + 1 - column.min(),
                        bottom.max() - top.min())
    present = np.flatnonzero(boxes[:, 2] > 0)
    outlines = [None] * len(masks)
    start = 0
    with rasterio.Env():  # once: not per canvas (a GDAL env a call is a third of the time)
        while start < len(present):
            stop, high, wide = start, 0, 0
            while stop < len(present) and (stop == start or max(
                    high, boxes[present[stop], 3]) * (wide + boxes[present[stop], 2] + 1)
                    <= OUTLINE_PIXELS):
                high = max(high, int(boxes[present[stop], 3]))
                wide += int(boxes[present[stop], 2]) + 1
                stop += 1
            batch = present[start:stop]
            for i, shape in zip(batch, _outlined([masks[i] for i in batch], boxes[batch],
                                                 high, wide), strict=True):
                outlines[i] = shape
            start = stop
    return outlines


def _outlined(masks: list, boxes: np.ndarray, high: int, wide: int) -> list:
    from rasterio.features import shapes

    offsets = np.concatenate(([0], np.cumsum(boxes[:, 2] + 1)[:-1]))
    canvas = np.zeros((high, wide), dtype=np.int32)
    for label, ((column, top, bottom), (left, up, _, _), offset) in enumerate(
            zip(masks, boxes, offsets, strict=True), start=1):
        lengths = bottom - top
        strip = np.repeat(np.arange(len(column)), lengths)
        rows = top[strip] - up + np.arange(len(strip)) - np.repeat(np.cumsum(lengths) -
                                                                   lengths, lengths)
        canvas[rows, column[strip] - left + offset] = label
    parts: list[list] = [[] for _ in masks]
    for geometry, value in shapes(canvas, mask=canvas > 0, connectivity=4):
        i = int(value) - 1
        shift = (boxes[i, 0] - offsets[i], boxes[i, 1])  # whole numbers: exact coordinates
        rings = [np.asarray(ring, dtype=np.float64) + shift
                 for ring in geometry["coordinates"]]
        parts[i].append(shapely.polygons(rings[0], holes=[shapely.linearrings(r) for r in
                                                         rings[1:]] or None))
    outlines = np.empty(len(masks), dtype=object)
    outlines[:] = [found[0] if len(found) == 1 else shapely.union_all(found)
                   for found in parts]
    return list(shapely.buffer(outlines, -RLE_INSET, join_style="mitre"))


def rle_mask(runs, height: int, width: int) -> np.ndarray:
    """(height, width) bool of COCO run lengths (alternating, from a background run,
    column-major)."""
    values = np.zeros(len(runs), dtype=bool)
    values[1::2] = True
    flat = np.repeat(values, np.asarray(runs, dtype=np.int64))
    return flat.reshape((height, width), order="F")


def decode_counts(text: str) -> list[int] | None:
    """The run lengths of COCO's compressed RLE string (pycocotools' rleFrString: 5 bits
    a character from 48, a continuation bit, sign-extended; runs past the second are stored
    as the difference from the run two before); None when it is not such a string."""
    counts: list[int] = []
    position, length = 0, len(text)
    while position < length:
        value, shift, more = 0, 0, True
        while more:
            if position >= length:
                return None  # cut short inside a number
            char = ord(text[position]) - 48
            if not 0 <= char < 64 or shift > RLE_BITS:
                return None  # no character, or a number past pycocotools' 64 bits
            value |= (char & 0x1F) << shift
            more = bool(char & 0x20)
            position += 1
            shift += 5
            if not more and char & 0x10:
                value |= -1 << shift
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
    return counts


def _what(annotation: dict, index: int) -> str:
    identity = annotation.get("id")
    return f"annotation id {identity}" if identity is not None else f"annotations[{index}]"


def _id(value):
    """An image or category id (an integer, or text), None when there is none."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | str):
        return (0, value, "") if isinstance(value, int) else (1, 0, value)
    return None


def _whole(value) -> bool:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return float(value).is_integer() and value >= 0
    except OverflowError:  # an integer past any float (10**400): no size or count
        return False


def is_listed(value, table: dict) -> bool:
    """Whether ``value`` is a key of ``table`` (a list or an object is none)."""
    try:
        return value in table
    except TypeError:
        return False


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def short_json(value) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."
