"""Label Studio's JSON exports (HumanSignal/label-studio: ``JSON`` and ``JSON_MIN``) as
make-masks labels.

``JSON`` is a list of tasks ``{"id", "data": {"image": url}, "annotations": [{"id",
"was_cancelled", "ground_truth", "result": [...]}], "predictions": [...]}``; ``JSON_MIN``
one record per annotation ``{"id", "image", "<from_name>": [value, ...], "annotation_id",
...}``. An IMAGE takes the task whose image (its ``image`` field, or its one field naming a
file) has its file name: the URL's base name (``/data/local-files/?d=a/img.png``, s3:// and
http URLs too), else that name less the 8-hex-digit prefix Label Studio gives uploads
(``8a9b7c1d-img.png``). Regions are in percent of ``original_width`` x ``original_height``
(the image's size: checked; none given, the image's), placed in the image's pixels (origin
at the top-left corner of its top-left pixel) through its geotransform and burnt as vector
labels are (pixel centre inside; --all-touched), later regions on top. Polygons; rectangles
(``x``, ``y`` their top-left corner, turned ``rotation`` degrees clockwise about it);
ellipses (``x``, ``y`` their centre, ``radiusX``, ``radiusY``, turned about it): exactly
the pixels whose centre is inside or on them; brush masks (Label Studio's RLE of the
image's RGBA pixels, :func:`decode_rle`) and BitMask masks (``bitmasklabels``,
``bitmask``: BitmaskRegion's ``imageDataURL``, a base64 PNG data URL of the image's size,
its header checked before decoding): exactly the pixels of alpha > 0. Keypoints,
polylines, unclosed polygons and per-image results (choices, text...) have no area: left
out with one warning counting them.

Annotation of a task: the one marked ground truth, else its one annotation not cancelled
(was_cancelled); several and none (or several) ground truth: refused, naming them (mark
one ground truth in Label Studio). Predictions are a model's, never labels: a task with no
annotation (predictions only) is refused; an annotation with no region is a negative
image, all background. A region names one label (Label Studio's COCO export keeps only
the first of several: refused here); a plain polygon, rectangle or ellipse takes the
``labels`` result of its id. Class names are the labels; ids by name as Labelme's
(:mod:`geotile.labelme_labels`: 1..N sorted, ``__ignore__`` 255, --class-map), over the
labels of every task of the export (whichever of its images are masked: JSON exports no
label config to declare them).
A task drawn on a turned view (``image_rotation``) is refused.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path, PurePosixPath

import numpy as np
import shapely

from geotile.dataset_names import url_name
from geotile.errors import InputError
from geotile.label_documents import is_labelstudio
from geotile.labelme_labels import MASK_INSET, Labelme, LabelmeFile, ellipse, run_names
from geotile.name_keys import name_key

#: keys a Label Studio export names near its start (JSON_MIN names its annotation's after
#: the regions, a brush's RLE maybe 64 KiB long, after its format): worth parsing it to see
_SNIFF = re.compile(rb'"(?:annotations|predictions|completions|annotation_id|annotator'
                    rb'|original_width|(?:polygon|rectangle|ellipse|brush|bitmask)labels)"\s*:'
                    rb'|"format"\s*:\s*"rle"|"imageDataURL"\s*:')
SNIFF_BYTES = 1 << 16
#: region types with an area (plain ones take the label of a ``labels`` result of their id)
AREA = {"polygonlabels": "polygon", "polygon": "polygon", "rectanglelabels": "rectangle",
        "rectangle": "rectangle", "ellipselabels": "ellipse", "ellipse": "ellipse",
        "brushlabels": "brush", "brush": "brush", "bitmasklabels": "bitmask",
        "bitmask": "bitmask"}
#: result types without one: left out
NO_AREA = ("keypointlabels", "keypoint", "polylinelabels", "polyline", "choices", "textarea",
           "rating", "taxonomy", "number", "datetime", "relation", "pairwise", "ranker")
#: the label lists of a value, as JSON_MIN keeps them (the result's type dropped)
LABEL_KEYS = ("polygonlabels", "rectanglelabels", "ellipselabels", "brushlabels",
              "bitmasklabels", "keypointlabels", "polylinelabels", "labels")
#: JSON_MIN's keys of the annotation, beside the task's data and the regions
MIN_KEYS = ("id", "annotator", "annotation_id", "created_at", "updated_at", "lead_time",
            "agreement")
#: %: the farthest a coordinate may lie from its image (10 times its size): past it a file
#: is broken (and an ellipse's rows, walked one by one, would take terabytes)
MOST_PERCENT = 1000.0
#: Label Studio's upload prefix (uuid4's first 8 hex digits and a dash)
_UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-", re.IGNORECASE)


def without_upload_prefix(name: str) -> str:
    """``name`` less Label Studio's upload prefix (8a9b7c1d-img.png: img.png), if it has one."""
    return _UPLOAD_PREFIX.sub("", name, count=1)


def is_labelstudio_file(path) -> bool:
    """Whether ``path`` is a local .json file holding a Label Studio export (its start names
    an export's key: then it is parsed)."""
    from geotile.json_text import holds, sniffed

    return sniffed(path, _SNIFF, SNIFF_BYTES, ".json") and holds(Path(path), is_labelstudio)


def read_labelstudio_json(path: Path):
    from geotile.json_text import read_json

    return read_json(path, "Give Label Studio's JSON export.")


def read_labelstudio(labels, images) -> Labelme:
    """The regions of ``images`` in the export ``labels``: each image's task found, its
    annotation chosen, its size checked and its regions placed, before anything is written;
    InputError in one line otherwise."""
    from geotile.labelme_labels import say_left_out
    from geotile.turned_images import image_view

    path = Path(os.fspath(labels))
    document = read_labelstudio_json(path)
    tasks = labelstudio_tasks(path, document if isinstance(document, list) else [document])
    by_name: dict[str, list[dict]] = {}
    for task in tasks:
        by_name.setdefault(task["name"], []).append(task)
    found = []
    for image in images:
        task = _task_of(path, image, by_name)
        orientation, _, _, view = image_view(image)
        found.append(_image_shapes(path, image, task, orientation, view))
    say_left_out(path, found, "no_area", "result", "keypoints, polylines, unclosed polygons "
                 "and choices or text have no area to burn", _region_place)
    say_left_out(path, found, "slivers", "region", "they have no area (points on one line, "
                 "a radius of 0)", _region_place)
    return Labelme(os.fspath(labels), [path] * len(found), found,
                   run_names(found, export_names(path, tasks)))


def export_names(path: Path, tasks: list[dict]) -> list[str]:
    """The labels of the regions with an area of every task's annotation (its ground
    truth, else those not cancelled), first seen first: the class names of the whole
    export, whichever of its images are masked. Tasks and regions that would be refused
    are left to their image's run."""
    names = []
    for task in tasks:
        live = [a for a in task["annotations"] if isinstance(a, dict)
                and not a.get("was_cancelled") and not a.get("skipped")]
        where = f"{path}: task {task['id']} ({task['name']})"
        for annotation in [a for a in live if a.get("ground_truth") is True] or live:
            try:
                regions = _regions(where, annotation, task["min"])
            except InputError:
                continue
            for place, kind, labels, _, _ in regions:
                if kind is not None:
                    try:
                        names.append(_one_label(where, place, labels))
                    except InputError:
                        continue
    return names


def labelstudio_tasks(path: Path, items: list) -> list[dict]:
    """Each task's ``{"id", "name", "image", "annotations", "predictions", "min"}``
    (JSON_MIN's records of one id gathered as its annotations)."""
    tasks: dict = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise InputError(f"{path}: item [{index}] is not an object; Label Studio's export "
                             "is a list of tasks. Fix or remove it.")
        minimal = "data" not in item and "annotation_id" in item
        data = item if minimal else item.get("data")
        key = _short(item.get("id", f"[{index}]"))
        image = _image_ref(path, key, data if isinstance(data, dict) else {}, minimal)
        task = tasks.setdefault((key, image), {
            "id": key, "image": image, "name": url_name(image), "annotations": [],
            "predictions": 0, "min": minimal})
        if minimal:
            if item.get("annotation_id") is not None:
                task["annotations"].append(item)
            continue
        annotations = item.get("annotations", item.get("completions")) or []
        if not isinstance(annotations, list):
            raise InputError(f"{path}: task {key} has annotations {_short(annotations)}; "
                             "give a list. Fix or export it again.")
        task["annotations"].extend(annotations)
        predictions = item.get("predictions")
        task["predictions"] += len(predictions) if isinstance(predictions, list) else 0
    return list(tasks.values())


def _image_ref(path: Path, key: str, data: dict, minimal: bool) -> str:
    """The task's image: its ``image`` field, else its one field naming a file."""
    skip = MIN_KEYS if minimal else ()
    value = data.get("image")
    if not isinstance(value, str):
        named = [v for k, v in data.items() if k not in skip and isinstance(v, str)
                 and PurePosixPath(url_name(v)).suffix]
        if len(named) != 1:
            raise InputError(f"{path}: task {key} names {'no' if not named else 'several'} "
                             "image file (no 'image' field in its data); give each task its "
                             "image's URL in data.image.")
        value = named[0]
    return value


def _task_of(path: Path, image, by_name: dict) -> dict:
    from geotile.dataset_names import url_file_name
    from geotile.input_paths import input_path
    from geotile.name_keys import refuse_other_spelling, same_spelling

    name = name_key(input_path(image).name)
    tasks = by_name.get(name, [])
    if not tasks:  # an upload's name: 8a9b7c1d-img.png for img.png
        tasks = [t for key, found in by_name.items() for t in found
                 if without_upload_prefix(key) == name and key != name]
    if len(tasks) > 1:  # TILE_1.tif and tile_1.tif: the task spelling the image's name
        tasks = same_spelling(image, tasks, lambda t: url_file_name(t["image"]))
    if not tasks:
        listed = ", ".join(sorted(url_file_name(t["image"]) for found in by_name.values()
                                  for t in found)[:3]) or "none"
        raise InputError(f"{image}: not in {path} (no task's image is named "
                         f"{input_path(image).name!r}; its "
                         f"tasks name e.g. {listed}). Give the images its tasks name.")
    if len(tasks) > 1:
        ids = ", ".join(str(t["id"]) for t in tasks[:4])
        raise InputError(f"{image}: {path} holds {len(tasks)} tasks of "
                         f"{input_path(image).name!r} (ids {ids}). "
                         "Delete the duplicate tasks in Label Studio and export again.")
    refuse_other_spelling(image, url_file_name(tasks[0]["image"]), path)
    return tasks[0]


def _annotation(path: Path, task: dict) -> dict:
    """The task's annotation: its ground truth, else its one not cancelled."""
    where = f"{path}: task {task['id']} ({task['name']})"
    live = [a for a in task["annotations"] if isinstance(a, dict)
            and not a.get("was_cancelled") and not a.get("skipped")]
    truth = [a for a in live if a.get("ground_truth") is True]
    chosen = truth if truth else live
    if len(chosen) == 1:
        return chosen[0]
    if not chosen:
        cancelled = len(task["annotations"])
        had = (f"its {cancelled} annotation{'s were' if cancelled > 1 else ' was'} cancelled"
               if cancelled else "no annotation")
        if task["predictions"]:
            had += f" and {task['predictions']} prediction(s), a model's, not labels"
        raise InputError(f"{where} has {had}: nobody labelled it. Label (or accept its "
                         "prediction) in Label Studio and export again, or leave the image "
                         "out.")
    key = "annotation_id" if task["min"] else "id"  # JSON_MIN's id is its task's
    ids = ", ".join(_short(a.get(key)) for a in chosen[:4])
    if task["min"]:
        raise InputError(f"{where} has {len(chosen)} annotations (ids {ids}) and JSON_MIN "
                         "does not say which is ground truth: export JSON with one marked "
                         "ground truth.")
    raise InputError(f"{where} has {len(chosen)} annotations (ids {ids}), "
                     f"{'several' if truth else 'none'} marked ground truth: make-masks takes "
                     "the ground-truth one. Mark one (and only one) ground truth in Label "
                     "Studio and export again.")


def _image_shapes(path: Path, image, task: dict, orientation: str,
                  view: tuple[int, int]) -> LabelmeFile:
    """The regions of the task's annotation, in the image's pixels (its ``view``: as its EXIF
    ``orientation`` turns it), as a LabelmeFile."""
    from geotile.turned_images import check_view

    annotation = _annotation(path, task)
    where = f"{path}: task {task['id']} ({task['name']})"
    regions = _regions(where, annotation, task["min"])
    sizes = {r[3] for r in regions if r[3] is not None}
    if len(sizes) > 1:
        raise InputError(f"{where}: its regions give several image sizes "
                         f"({', '.join(f'{w}x{h}' for w, h in sorted(sizes))}); export it "
                         "again.")
    size = sizes.pop() if sizes else None
    check_view(image, orientation, view, where, "browsers show",
               any(r[1] is not None for r in regions), size, "original_width x original_height")
    found = LabelmeFile(path, size or view, task["image"])
    for place, kind, names, _, value in regions:
        if kind is None:
            found.no_area.append(place)
            continue
        label = _one_label(where, place, names)
        geometry = _geometry(f"{where} {place} ({label!r})", kind, value, *view)
        if geometry is None or geometry.is_empty or geometry.area <= 0:
            if kind not in ("brush", "bitmask"):  # a mask of no pixel: nothing to burn
                found.slivers.append(place)
            continue
        found.instances.append((label, geometry))
    return found


def _regions(where: str, annotation: dict, minimal: bool) -> list[tuple]:
    """(place, kind or None without area, label names, (width, height) or None, value) of
    each result of the annotation (JSON) or each region of the record (JSON_MIN)."""
    if minimal:
        return _min_regions(where, annotation)
    results = annotation.get("result") or []
    if not isinstance(results, list):
        raise InputError(f"{where}: its annotation's result is {_short(results)}; give a "
                         "list. Export it again.")
    named = {_id(r): r for r in results if isinstance(r, dict) and r.get("type") == "labels"
             and _id(r) is not None}
    used = set()
    regions = []
    for index, result in enumerate(results):
        place = f"result[{index}]"
        if not isinstance(result, dict):
            raise InputError(f"{where} {place} is not an object. Fix or remove it.")
        kind = result.get("type")
        value = result.get("value")
        if kind == "labels":
            continue  # a plain region's label (or a label of nothing: counted below)
        if kind in NO_AREA or (kind in ("polygonlabels", "polygon") and isinstance(value, dict)
                               and value.get("closed") is False):
            regions.append((place, None, None, None, None))
            continue
        if not isinstance(kind, str) or kind not in AREA:
            raise InputError(f"{where} {place} has type {_short(repr(kind))}; make-masks burns "
                             f"{', '.join(AREA)} and leaves out {', '.join(NO_AREA[:4])}, ... "
                             "Convert it or remove it.")
        if not isinstance(value, dict):
            raise InputError(f"{where} {place} has no value object. Fix or remove it.")
        rotation = result.get("image_rotation")
        if rotation not in (None, 0):
            raise InputError(f"{where} {place} is drawn on the image turned {_short(rotation)}"
                             " degrees (image_rotation): make-masks takes regions drawn on the "
                             "unturned image. Redraw it with the image unturned.")
        names = value.get(kind)
        if not kind.endswith("labels"):
            partner = named.get(_id(result))
            partner_value = partner.get("value") if partner else None
            names = partner_value.get("labels") if isinstance(partner_value, dict) else None
            used.add(_id(result))
        regions.append((place, AREA[kind], names, _size(where, place, result), value))
    regions += [(f"result[{i}]", None, None, None, None) for i, r in enumerate(results)
                if isinstance(r, dict) and r.get("type") == "labels" and _id(r) not in used]
    return regions


def _id(result: dict):
    """A result's id, None for one that is no string or number (an object, a list)."""
    found = result.get("id")
    return found if isinstance(found, str | int) else None


def _min_regions(where: str, record: dict) -> list[tuple]:
    """JSON_MIN's regions: each from_name's values, their kind told by their keys."""
    regions = []
    for key, values in record.items():
        if key in MIN_KEYS or not isinstance(values, list) or not all(
                isinstance(v, dict) for v in values):
            continue  # the task's data, the annotation's fields, a choice or a text
        for index, value in enumerate(values):
            place = f"{key}[{index}]"
            names = next((value[k] for k in LABEL_KEYS if k in value), None)
            if "keypointlabels" in value or "polylinelabels" in value:
                kind = None  # a keypoint's width is its size on screen
            elif "rle" in value:
                kind = "brush"
            elif "imageDataURL" in value:
                kind = "bitmask"
            elif "radiusX" in value:
                kind = "ellipse"
            elif "points" in value:
                kind = None if value.get("closed") is False else "polygon"
            elif "width" in value and "height" in value:
                kind = "rectangle"
            else:
                kind = None  # keypoints, choices, text
            if kind is not None and names is None:
                raise InputError(f"{where} {place} has no label: JSON_MIN loses the label of "
                                 "a region labelled by a separate Labels tag. Export JSON "
                                 "instead.")
            regions.append((place, kind, names, _size(where, place, value) if kind else None,
                            value))
    return regions


def _size(where: str, place: str, holder: dict) -> tuple[int, int] | None:
    width, height = holder.get("original_width"), holder.get("original_height")
    if width is None and height is None:
        return None  # old exports: the image's size
    for key, value in (("original_width", width), ("original_height", height)):
        if not (isinstance(value, int | float) and not isinstance(value, bool)
                and _whole(value) and value > 0):
            raise InputError(f"{where} {place} has {key} {_short(value)}; it is the size of "
                             "the image in pixels. Export it again.")
    return int(width), int(height)


def _whole(value) -> bool:
    try:
        return float(value).is_integer()
    except OverflowError:
        return False


def _one_label(where: str, place: str, names) -> str:
    if (not isinstance(names, list) or not names
            or not all(isinstance(n, str) and n.strip() for n in names)):
        raise InputError(f"{where} {place} has label(s) {_short(names)}; give each region "
                         "one label (its class name). Fix or remove it.")
    if len(set(names)) > 1:
        raise InputError(f"{where} {place} names {len(names)} labels ({', '.join(names[:4])})"
                         "; a mask pixel has one class (Label Studio's COCO export keeps only "
                         "the first). Keep one label per region.")
    return names[0]


def _numbers(where: str, value: dict, keys: tuple) -> list[float]:
    out = []
    for key in keys:
        number = value.get(key, 0.0 if key == "rotation" else None)
        try:
            ok = (isinstance(number, int | float) and not isinstance(number, bool)
                  and math.isfinite(float(number)))
        except OverflowError:
            ok = False
        limit = 360.0 * 1000 if key == "rotation" else MOST_PERCENT
        if not ok or abs(float(number)) > limit:
            unit = " of degrees" if key == "rotation" else ", a percent of the image (0-100)"
            raise InputError(f"{where} has {key} {_short(number)}; give a finite number{unit}."
                             " Fix or remove it.")
        out.append(float(number))
    return out


def _geometry(where: str, kind: str, value: dict, width: int, height: int):
    """The region in the image's pixels (``width`` x ``height``: what percents are of)."""
    if kind == "brush":
        return brush_shape(where, value, width, height)
    if kind == "bitmask":
        return bitmask_shape(where, value, width, height)
    if kind == "polygon":
        return _polygon(where, value.get("points"), width, height)
    if kind == "rectangle":
        x, y, w, h, turn = _numbers(where, value, ("x", "y", "width", "height", "rotation"))
        x, y, w, h = x * width / 100, y * height / 100, w * width / 100, h * height / 100
        if turn % 360 == 0:
            return shapely.box(x, y, x + w, y + h)
        cos, sin = math.cos(math.radians(turn)), math.sin(math.radians(turn))
        return shapely.Polygon([(x, y), (x + w * cos, y + w * sin),
                                (x + w * cos - h * sin, y + w * sin + h * cos),
                                (x - h * sin, y + h * cos)])
    x, y, rx, ry, turn = _numbers(where, value, ("x", "y", "radiusX", "radiusY", "rotation"))
    return ellipse(x * width / 100, y * height / 100, abs(rx) * width / 100,
                   abs(ry) * height / 100, math.radians(turn))


def _polygon(where: str, points, width: int, height: int):
    from geotile.coco_labels import MAX_POINTS, polygonal
    from geotile.label_points import float_xy, xy_pairs

    if isinstance(points, list) and len(points) > MAX_POINTS:
        raise InputError(f"{where} has {len(points):,} points; a polygon holds at most "
                         f"{MAX_POINTS:,} (a broken export?). Simplify it or remove it.")
    if not xy_pairs(points) or len(points) < 3:
        raise InputError(f"{where} has points {_short(points)}; a polygon is a list of at "
                         "least 3 [x, y] points in percent of the image. Fix or remove it.")
    xy = float_xy(points)
    if not np.isfinite(xy).all() or np.abs(xy).max() > MOST_PERCENT:
        raise InputError(f"{where} has a point that is no percent of the image (not finite, "
                         f"or past {MOST_PERCENT:g}). Fix or remove it.")
    xy = xy * np.array([width, height]) / 100
    return polygonal(shapely.make_valid(shapely.Polygon(xy)))


def decode_rle(data, count: int) -> np.ndarray | None:
    """The ``count`` values of Label Studio's brush RLE (thi.ng's rle-pack, as
    label_studio_sdk's converter.brush.decode_rle reads it: a 32-bit count, a 5-bit word
    size - 1, four 4-bit run-length sizes - 1; then chunks of a repeat bit, a 2-bit size
    index and a run length - 1, then one word repeated or that many words), uint8; None
    when ``data`` (bytes) is no such encoding of ``count`` values of at most 8 bits."""
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
    padded = bytes(data) + bytes(8)
    total = len(bits)

    def read(position: int, size: int) -> int:
        start = position >> 3
        word = int.from_bytes(padded[start:start + 5], "big")
        return (word >> (40 - (position & 7) - size)) & ((1 << size) - 1)

    if total < 53 or read(0, 32) != count:
        return None
    word = read(32, 5) + 1
    sizes = [read(37 + 4 * k, 4) + 1 for k in range(4)]
    if word > 8:
        return None
    weights = (1 << np.arange(word - 1, -1, -1)).astype(np.uint16)
    out = np.zeros(count, dtype=np.uint8)
    position, i = 53, 0
    while i < count:
        if position + 3 > total:
            return None
        repeat = bits[position]
        size = sizes[read(position + 1, 2)]
        position += 3
        if position + size > total:
            return None
        j = i + 1 + read(position, size)
        position += size
        if j > count:
            return None
        n = 1 if repeat else j - i
        if position + n * word > total:
            return None
        if repeat:
            out[i:j] = read(position, word)
        else:
            out[i:j] = bits[position:position + n * word].reshape(n, word) @ weights
        position += n * word
        i = j
    return out


def brush_shape(where: str, value: dict, width: int, height: int):
    """The pixels of a brush region (its RLE of the image's RGBA pixels: alpha > 0) as
    polygons (their edges drawn ``MASK_INSET`` inside); None when it has none."""
    rle = value.get("rle")
    if value.get("format", "rle") != "rle" or not isinstance(rle, list) or not rle:
        raise InputError(f"{where} is a brush region without an RLE (format 'rle', rle [...])."
                         " Fix or remove it.")
    try:
        array = np.asarray(rle)
    except (ValueError, OverflowError):
        array = np.zeros(0, dtype=object)
    if (array.ndim != 1 or array.dtype.kind not in "iu" or array.min() < 0
            or array.max() > 255):
        raise InputError(f"{where} has an RLE that is not a list of bytes (0-255). Fix or "
                         "remove it.")
    count = width * height * 4
    values = decode_rle(array.astype(np.uint8).tobytes(), count)
    if values is None:
        raise InputError(f"{where} has a broken RLE (not Label Studio's encoding of "
                         f"{width}x{height} RGBA pixels: cut short, or of another size). "
                         "Fix or remove it.")
    return _mask_shape(values[3::4].reshape(height, width) > 0)


def _mask_shape(mask: np.ndarray):
    """The pixels of a mask of the image as polygons (their edges drawn ``MASK_INSET``
    inside); None when it has none."""
    from affine import Affine
    from rasterio.features import shapes

    columns = np.flatnonzero(mask.any(axis=0))
    if not len(columns):
        return None
    first, last = int(columns[0]), int(columns[-1]) + 1
    part = np.ascontiguousarray(mask[:, first:last]).astype(np.uint8)
    polygons = [shapely.geometry.shape(g) for g, _ in shapes(
        part, mask=part.astype(bool), transform=Affine.translation(first, 0))]
    return shapely.buffer(shapely.union_all(polygons), -MASK_INSET, join_style="mitre")


def bitmask_shape(where: str, value: dict, width: int, height: int):
    """The pixels of a BitMask region (BitmaskRegion's ``imageDataURL``: a base64 PNG data
    URL of the image's size, its canvas, black where painted) of alpha > 0, as Label Studio
    tells them (its hover and bounds), as polygons; None when it has none. The PNG's header
    is checked against the image before its pixels are decoded."""
    import base64
    import binascii
    import struct

    url = value.get("imageDataURL")
    prefix = "data:image/png;base64,"
    if not isinstance(url, str) or not url.startswith(prefix):
        raise InputError(f"{where} is a bitmask region whose imageDataURL is "
                         f"{_short(repr(url))}, not a PNG data URL ({prefix}...). Fix or "
                         "remove it.")
    try:
        png = base64.b64decode(url[len(prefix):], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InputError(f"{where} is a bitmask region whose imageDataURL is not base64 "
                         f"({exc}). Fix or remove it.") from None
    if len(png) < 33 or not png.startswith(b"\x89PNG\r\n\x1a\n") or png[12:16] != b"IHDR":
        raise InputError(f"{where} is a bitmask region whose imageDataURL holds no PNG. Fix "
                         "or remove it.")
    size = struct.unpack(">II", png[16:24])
    if size != (width, height):
        raise InputError(f"{where} is a bitmask of {size[0]}x{size[1]} px, but its image is "
                         f"{width}x{height} px (Label Studio's bitmask is of the image's "
                         "size). Fix or remove it.")
    return _mask_shape(_png_alpha(where, png))


def _png_alpha(where: str, png: bytes) -> np.ndarray:
    """Where the PNG's alpha is > 0, as a browser decodes it: the alpha band (RGBA, grey
    and alpha), a palette's tRNS, the colour tRNS marks transparent; one of no alpha (every
    pixel opaque: the whole image) or of 16 bits is refused."""
    import struct

    from rasterio.errors import RasterioIOError
    from rasterio.io import MemoryFile

    from geotile.no_georef import quiet_rasterio
    from geotile.supervisely_bitmaps import png_chunks

    if not _whole_png(png):  # libpng reads a cut one, its missing rows left 0
        raise InputError(f"{where} is a bitmask whose PNG is cut short or broken (a chunk's "
                         "length or CRC is wrong, or no IEND). Fix or remove it.")
    chunks = png_chunks(png)
    depth, colour = chunks[b"IHDR"][8], chunks[b"IHDR"][9]
    transparency = chunks.get(b"tRNS")
    if colour not in (4, 6) and transparency is None:
        raise InputError(f"{where} is a bitmask PNG with no alpha (Label Studio's region is "
                         "its pixels of alpha > 0: here the whole image). Give it an alpha "
                         "band (RGBA), or fix or remove it.")
    if depth == 16:
        raise InputError(f"{where} is a bitmask PNG of 16 bits; Label Studio writes 8-bit "
                         "RGBA. Fix or remove it.")
    try:
        with quiet_rasterio(), MemoryFile(png) as memory, memory.open() as src:
            bands = src.read()
    except (RasterioIOError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{where} is a bitmask whose PNG does not read ({first}). Fix or "
                         "remove it.") from None
    if colour in (4, 6):
        return bands[-1] != 0
    if colour == 3:  # each palette entry's alpha (entries past tRNS opaque)
        alpha = np.full(256, 255, np.uint8)
        alpha[:len(transparency)] = np.frombuffer(transparency[:256], np.uint8)
        return alpha[bands[0]] != 0
    samples = 3 if colour == 2 else 1
    if len(transparency) < 2 * samples:
        raise InputError(f"{where} is a bitmask PNG whose tRNS chunk is broken. Fix or "
                         "remove it.")
    key = np.array(struct.unpack(f">{samples}H", transparency[:2 * samples]))[:, None, None]
    return ~(bands[:samples] == key).all(axis=0)


def _whole_png(png: bytes) -> bool:
    """Whether the PNG's chunks are whole (lengths and CRCs right) up to its IEND."""
    import struct
    import zlib

    at = 8
    while at + 12 <= len(png):
        length, kind = struct.unpack(">I4s", png[at:at + 8])
        end = at + 12 + length
        if end > len(png) or zlib.crc32(png[at + 4:end - 4]) != struct.unpack(
                ">I", png[end - 4:end])[0]:
            return False
        if kind == b"IEND":
            return True
        at = end
    return False


def _region_place(found: LabelmeFile, place: str) -> str:
    return f"{url_name(found.image_path)} {place}"


def _short(value) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."
