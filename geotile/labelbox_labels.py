"""Labelbox exports (export v2 NDJSON, the legacy JSON export v1) as make-masks labels.

Export v2 (``export-result.ndjson``) is one JSON data row per line: ``{"data_row":
{"id", "external_id", "global_key", "row_data"}, "media_attributes": {"width", "height",
"exif_rotation"}, "projects": {"<id>": {"labels": [{"id", "label_details", "annotations":
{"objects": [...], "classifications": [...]}}]}}}``; it is read line by line, never whole
(only the rows of the IMAGEs given are kept, as shapes). Export v1 is a JSON list of labels
``{"ID", "DataRow ID", "External ID", "Labeled Data", "Label": {"objects": [...],
"classifications": [...]}, "Skipped"}`` (one row per label; a file of one row, too).

An IMAGE takes the data row whose ``external_id`` or ``global_key`` (v1 ``External ID``,
``Global Key``; their base names) or whose ``row_data`` URL's file name (v1 ``Labeled
Data``; query string left out) is its file name. Coordinates are Labelbox's pixel
coordinates of the image: x right, y down, origin at the image's top-left corner (the corner
of its top-left pixel: Labelbox's editor draws the image from (0, 0) and keeps fractions of
a pixel), placed through the image's geotransform and burnt as Labelme's shapes
(:mod:`geotile.labelme_labels`: pixel centre inside; --all-touched), later objects on top.
``media_attributes`` width x height, when given, is checked against the image.

Objects burnt: ``ImagePolygon`` (``polygon``: [{x, y}, ...]; v1 ``polygon``) and
``ImageBoundingBox`` (``bounding_box``: {top, left, height, width}, top and left its
top-left corner; v1 ``bbox``). ``ImagePolyline`` (``line``) and ``ImagePoint`` (``point``)
have no area: left out with one warning counting them. ``ImageSegmentationMask`` (``mask``:
{url}; v1 an object of ``instanceURI`` alone) is a remote PNG: refused, never fetched
(export polygons, or download the masks and give them as a label raster). Classifications,
top-level or nested in an object, are no classes and change none. The class of an object is
its ``name`` (v1 ``title``: the tool's name in the ontology, as Labelbox shows it), not its
``value`` (a slug of it); ids by name as Labelme's (1..N sorted, ``__ignore__`` 255,
--class-map maps the names), over the names of the objects with an area of every row's
label (its benchmark, else those not skipped) in the export, whichever of its images are
masked (exports carry no ontology to declare them).

Label of a data row: its one label; among several (annotators, projects), the one marked
benchmark reference (``is_benchmark_reference``), else refused naming them (keep one label
per data row in the export, or mark one benchmark); a label skipped (v2's
``performance_details`` ``skipped``, v1's ``Skipped``) is none. A row skipped or never
labelled is refused (nobody labelled it: label it or leave the image out), as Label
Studio's task without annotation; a label with no object is a negative image, all background.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import shapely

from geotile.errors import InputError
from geotile.label_documents import ndjson_row
from geotile.labelme_labels import MOST_RADIUS, Labelme, LabelmeFile, run_names
from geotile.name_keys import name_key

#: object kinds with an area, without one, and given by URL
AREA = ("ImagePolygon", "ImageBoundingBox")
NO_AREA = ("ImagePolyline", "ImagePoint")
MASK = "ImageSegmentationMask"
GIVE = "Give Labelbox's export (export v2 NDJSON, or the legacy JSON export v1)."


@dataclass
class _Label:
    """One label of a data row, its objects read."""

    id: str
    benchmark: bool
    skipped: bool
    #: (place, kind: "area", "no_area" or "mask", class name, geometry or the mask's URL)
    objects: list = field(default_factory=list)


@dataclass
class _Row:
    """A data row of an IMAGE's name, its labels read."""

    where: str
    id: str
    shown: str
    size: tuple[int, int] | None
    rotation: str | None
    labels: list[_Label] = field(default_factory=list)


def read_labelbox(labels, images) -> Labelme:
    """The objects of ``images`` in the export ``labels``: each image's data row found (by
    file name), its label chosen, its size checked and its objects placed, before anything
    is written; InputError in one line naming the file (and line or row) otherwise."""
    from geotile.input_paths import input_path
    from geotile.labelme_labels import say_left_out
    from geotile.turned_images import image_view

    path = Path(os.fspath(labels))
    wanted = {name_key(input_path(image).name) for image in images}
    by_name: dict[str, list[_Row]] = {}
    examples: list[str] = []  # the first names of its rows, for an image none names
    classes: list[str] = []  # the class names of every row
    for names, row in _rows(path, wanted, examples, classes):
        for name in names:
            by_name.setdefault(name, []).append(row)
    found = []
    for image in images:
        row = _row_of(path, image, by_name, examples)
        orientation, _, _, view = image_view(image)
        found.append(_image_shapes(path, image, row, orientation, view))
    say_left_out(path, found, "no_area", "ImagePolyline or ImagePoint object",
                 "lines and points have no area to burn", _place)
    say_left_out(path, found, "slivers", "object", "they have no area (points on one line, "
                 "a box of no width or height)", _place)
    return Labelme(os.fspath(labels), [path] * len(found), found, run_names(found, classes))


def row_names(path) -> tuple[list[str], set[str]]:
    """(each row's image as it names it; the file names an image may take) of the export."""
    listed, names = [], set()
    for found, row in _rows(Path(os.fspath(path)), None):
        listed.append(row.shown)
        names |= set(found)
    return listed, names


def _rows(path: Path, wanted: set[str] | None, examples: list | None = None,
          classes: list | None = None):
    """(file names, row) of each row of the export whose file names meet ``wanted`` (all
    when None; the first names of them all kept in ``examples``, the class names of every
    row's label in ``classes``): NDJSON streamed line by line, JSON read whole."""
    examples = [] if examples is None else examples
    classes = [] if classes is None else classes
    if ndjson_row(path) is not None:  # a v2 row: NDJSON (a v1 file may be one line of JSON)
        yield from _ndjson_rows(path, wanted, examples, classes)
        return
    from geotile.json_text import read_json

    document = read_json(path, GIVE)
    items = document if isinstance(document, list) else [document]
    for index, item in enumerate(items):
        where = f"{path} [{index}]"
        if not isinstance(item, dict):
            raise InputError(f"{where} is not an object; Labelbox's export is a list of rows. "
                             "Fix or remove it.")
        yield from _row(where, item, wanted, examples, classes)


def _ndjson_rows(path: Path, wanted: set[str] | None, examples: list, classes: list):
    from geotile.json_text import loads

    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    with handle:
        for number, line in enumerate(handle, 1):
            if number == 1:
                line = line.removeprefix(b"\xef\xbb\xbf")
            if not line.strip():
                continue
            where = f"{path} line {number}"
            try:
                item = loads(line)
            except (ValueError, RecursionError) as exc:
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise InputError(f"{where}: not a JSON object ({first}): a line cut short or "
                                 "broken. Export it again from Labelbox.") from None
            if not isinstance(item, dict) or not isinstance(item.get("data_row"), dict):
                raise InputError(f"{where}: not a Labelbox data row (an object with data_row);"
                                 " each line of export v2 is one. Fix or remove it.")
            yield from _row(where, item, wanted, examples, classes)


def _row(where: str, item: dict, wanted: set[str] | None, examples: list, classes: list):
    """(file names, _Row) of a v1 or v2 row, when its names meet ``wanted``; the class
    names of its label added to ``classes`` in any case."""
    v2 = isinstance(item.get("data_row"), dict)
    data = item["data_row"] if v2 else item
    external = data.get("external_id" if v2 else "External ID")
    url = data.get("row_data" if v2 else "Labeled Data")
    if isinstance(url, str) and url.lstrip().startswith("{") and "tileLayerUrl" in url:
        raise InputError(f"{where}: a tiled-imagery (geospatial) data row: its labels are in "
                         "map coordinates, not an image's pixels. Export them as GeoJSON and "
                         "give them as vector labels.")
    key = data.get("global_key" if v2 else "Global Key")
    names = [n for n in (_base(external), _base(key), _url_name(url)) if n]
    if not names:
        raise InputError(f"{where}: a data row with neither external_id, global_key nor "
                         "row_data naming its image. Export it again with data row details.")
    if len(examples) < 3:
        examples.append(names[0])
    classes += _row_classes(item, v2)
    if wanted is not None and not wanted.intersection(names):
        return
    key = _short(data.get("id" if v2 else "DataRow ID") or names[0])
    shown = external if isinstance(external, str) and external else url
    if v2:
        media = item.get("media_attributes") or {}
        row = _Row(f"{where} (data row {key})", key, str(shown),
                   _size(where, media, "width", "height"),
                   str(media.get("exif_rotation")) if isinstance(media, dict)
                   and media.get("exif_rotation") is not None else None)
        projects = item.get("projects") or {}
        if not isinstance(projects, dict):
            raise InputError(f"{where}: projects is {_short(projects)}; give an object of "
                             "projects. Export it again.")
        for project in projects.values():
            found = project.get("labels") if isinstance(project, dict) else None
            if not isinstance(found, list):
                continue
            for index, label in enumerate(found):
                row.labels.append(_v2_label(row.where, index, label))
    else:
        media = item.get("Media Attributes") or {}
        row = _Row(f"{where} (data row {key})", key, str(shown),
                   _size(where, media, "width", "height") if isinstance(media, dict) else None,
                   None)
        row.labels.append(_v1_label(row.where, item))
    yield list(dict.fromkeys(names)), row


def _row_classes(item: dict, v2: bool) -> list[str]:
    """The names of the objects with an area of a row's label (its benchmark, else those
    not skipped), unchecked: what would be refused is said where its image is masked."""
    if v2:
        projects = item.get("projects")
        live, benchmarks = [], []
        for project in projects.values() if isinstance(projects, dict) else ():
            found = project.get("labels") if isinstance(project, dict) else None
            for label in found if isinstance(found, list) else ():
                if not isinstance(label, dict):
                    continue
                details = label.get("label_details")
                details = details if isinstance(details, dict) else {}
                performance = label.get("performance_details")
                if label.get("skipped") is True or details.get("skipped") is True or (
                        isinstance(performance, dict) and performance.get("skipped") is True):
                    continue
                live.append(label)
                if label.get("is_benchmark_reference",
                             details.get("is_benchmark_reference")) is True:
                    benchmarks.append(label)
        objects = []
        for label in benchmarks or live:
            annotations = label.get("annotations")
            found = annotations.get("objects") if isinstance(annotations, dict) else None
            objects += found if isinstance(found, list) else []
    else:
        label = item.get("Label")
        if item.get("Skipped") is True or not isinstance(label, dict):
            return []
        objects = label.get("objects") if isinstance(label.get("objects"), list) else []
        objects = objects + [  # the oldest exports: {"<title>": [{"geometry"}]}
            {"title": title, "polygon": []} for title, shapes in label.items()
            if title not in ("objects", "classifications") and isinstance(shapes, list)
            and shapes and all(isinstance(s, dict) and "geometry" in s for s in shapes)]
    names = []
    for obj in objects:
        if isinstance(obj, dict) and (obj.get("annotation_kind") in AREA
                                      or _kind(obj, v2) == "area"):
            name = _name(obj, v2)
            if name is not None:
                names.append(name)
    return names


def _base(name) -> str | None:
    if not isinstance(name, str):
        return None
    return name_key(PurePosixPath(name.replace("\\", "/")).name) or None


def _url_name(url) -> str | None:
    from geotile.dataset_names import url_name

    return (url_name(url) or None) if isinstance(url, str) and url.strip() else None


def _size(where: str, media, wkey: str, hkey: str) -> tuple[int, int] | None:
    if not isinstance(media, dict) or (media.get(wkey) is None and media.get(hkey) is None):
        return None
    values = []
    for key in (wkey, hkey):
        value = media.get(key)
        if not (isinstance(value, int | float) and not isinstance(value, bool)
                and 0 < value <= MOST_RADIUS and float(value).is_integer()):  # NaN too
            raise InputError(f"{where}: media_attributes {key} is {_short(value)}; it is the "
                             "size of the image in pixels. Export it again.")
        values.append(int(value))
    return values[0], values[1]


def _v2_label(where: str, index: int, label) -> _Label:
    if not isinstance(label, dict):
        raise InputError(f"{where} labels[{index}] is not an object. Export it again.")
    details, performance = (label.get(key) if isinstance(label.get(key), dict) else {}
                            for key in ("label_details", "performance_details"))
    found = _Label(_short(label.get("id", f"labels[{index}]")),
                   label.get("is_benchmark_reference", details.get("is_benchmark_reference"))
                   is True, any(d.get("skipped") is True for d in (label, details, performance)))
    annotations = label.get("annotations") or {}
    objects = annotations.get("objects") if isinstance(annotations, dict) else None
    if objects is not None and not isinstance(objects, list):
        raise InputError(f"{where} label {found.id} has objects {_short(objects)}; give a list."
                         " Export it again.")
    for number, obj in enumerate(objects or []):
        found.objects.append(_object(f"{where} label {found.id} objects[{number}]", obj, True))
    return found


def _v1_label(where: str, item: dict) -> _Label:
    label = item.get("Label")
    skipped = item.get("Skipped") is True or label == "Skip"
    found = _Label(_short(item.get("ID", "?")), False, skipped)
    if skipped or label in (None, ""):
        found.skipped = True
        return found
    if not isinstance(label, dict):
        raise InputError(f"{where}: Label is {_short(label)}; give an object of objects and "
                         "classifications. Export it again.")
    objects = label.get("objects", [])
    if not isinstance(objects, list):
        raise InputError(f"{where}: Label objects is {_short(objects)}; give a list. Export it "
                         "again.")
    for number, obj in enumerate(objects):
        found.objects.append(_object(f"{where} objects[{number}]", obj, False))
    for title, shapes in label.items():  # the oldest exports: {"<title>": [{"geometry"}]}
        if isinstance(shapes, str) and shapes.lstrip().upper().startswith(
                ("POLYGON", "MULTIPOLYGON")):
            raise InputError(f"{where}: Label {title!r} is WKT (the 2018 export's WKT "
                             "option); make-masks reads its XY option. Export again as XY, "
                             "or as Labelbox's JSON export.")
        if title in ("objects", "classifications") or not isinstance(shapes, list) \
                or not all(isinstance(s, dict) and "geometry" in s for s in shapes):
            continue
        for number, shape in enumerate(shapes):
            place = f"{where} {title}[{number}] ({title!r})"
            found.objects.append((place, "area", title, _polygon(place, shape["geometry"])))
    return found


def _object(where: str, obj, v2: bool) -> tuple:
    """(place, kind, class name, geometry or mask URL) of an object."""
    if not isinstance(obj, dict):
        raise InputError(f"{where} is not an object. Fix or remove it.")
    name = _name(obj, v2)
    if name is None:
        raise InputError(f"{where} has no name (its class); give each object the name of its "
                         "tool. Fix or remove it.")
    where = f"{where} ({name!r})"
    kind = obj.get("annotation_kind")
    found = _kind(obj, v2)
    if found == "area" and (kind == "ImagePolygon" or (kind is None and "polygon" in obj)):
        return where, "area", name, _polygon(where, obj.get("polygon"))
    if found == "area":
        return where, "area", name, _box(where, _box_of(obj, v2))
    if found == "no_area":
        return where, "no_area", name, None
    if found == "mask":
        url = _url(obj)
        return where, "mask", name, url if isinstance(url, str) else "no URL"
    raise InputError(f"{where} is {_short(kind) if kind else 'no shape make-masks knows'}; "
                     f"make-masks burns {' and '.join(AREA)} and leaves out "
                     f"{' and '.join(NO_AREA)}. Convert it or remove it.")


def _name(obj: dict, v2: bool) -> str | None:
    """An object's class: its ``name`` (v1 ``title``), else its ``value``."""
    name = obj.get("name" if v2 else "title")
    if not isinstance(name, str) or not name.strip():
        name = obj.get("value")
    return name if isinstance(name, str) and name.strip() else None


def _box_of(obj: dict, v2: bool):
    return obj.get("bounding_box" if v2 else "bbox", obj.get("bbox"))


def _url(obj: dict):
    mask = obj.get("mask")
    return mask.get("url") if isinstance(mask, dict) else obj.get("instanceURI")


def _kind(obj: dict, v2: bool) -> str | None:
    """"area", "no_area" or "mask" (an object of a URL) of an object; None for a kind
    make-masks does not know."""
    kind = obj.get("annotation_kind")
    if kind in AREA[:1] or (kind is None and "polygon" in obj):
        return "area"
    if kind in AREA[1:] or (kind is None and _box_of(obj, v2) is not None):
        return "area"
    if kind in NO_AREA or (kind is None and ("line" in obj or "point" in obj)):
        return "no_area"
    if kind == MASK or (kind is None and isinstance(_url(obj), str)):
        return "mask"
    return None


def _numbers(where: str, values: list, what: str) -> list[float]:
    out = []
    for value in values:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        try:
            ok = ok and math.isfinite(float(value)) and abs(float(value)) <= MOST_RADIUS
        except OverflowError:
            ok = False
        if not ok:
            raise InputError(f"{where} has {what} {_short(value)}; give finite pixel "
                             f"coordinates (within {MOST_RADIUS} px of the image). Fix or "
                             "remove it.")
        out.append(float(value))
    return out


def _polygon(where: str, points):
    from geotile.coco_labels import MAX_POINTS, polygonal

    if isinstance(points, list) and len(points) > MAX_POINTS:
        raise InputError(f"{where} has {len(points):,} points; a polygon holds at most "
                         f"{MAX_POINTS:,} (a broken export?). Simplify it or remove it.")
    if not isinstance(points, list) or len(points) < 3 or not all(
            isinstance(p, dict) and "x" in p and "y" in p for p in points):
        raise InputError(f"{where} has polygon {_short(points)}; a polygon is a list of at "
                         "least 3 {x, y} points in the image's pixels. Fix or remove it.")
    values = [v for p in points for v in (p["x"], p["y"])]
    xy = None
    if all(type(v) in (int, float) for v in values):  # a number's, read at once
        try:
            xy = np.asarray(values, dtype=np.float64).reshape(-1, 2)
        except OverflowError:  # an integer past any float
            xy = None
    if xy is None or not (np.isfinite(xy).all() and np.abs(xy).max() <= MOST_RADIUS):
        _numbers(where, values, "a point of")  # says which
    shape = shapely.polygons(xy)
    return shape if shape.is_valid else polygonal(shapely.make_valid(shape))


def _box(where: str, box):
    keys = ("top", "left", "height", "width")
    if not isinstance(box, dict) or not all(k in box for k in keys):
        raise InputError(f"{where} has bounding box {_short(box)}; give top, left, height and "
                         "width in the image's pixels. Fix or remove it.")
    top, left, height, width = _numbers(where, [box[k] for k in keys], "a bounding box of")
    if height < 0 or width < 0:
        raise InputError(f"{where} has a bounding box {width:g} px wide, {height:g} px high; "
                         "give its width and height (not negative). Fix or remove it.")
    return shapely.box(left, top, left + width, top + height)


def _row_of(path: Path, image, by_name: dict, examples: list) -> _Row:
    from geotile.dataset_names import url_file_name
    from geotile.input_paths import input_path
    from geotile.name_keys import refuse_other_spelling, same_spelling

    name = name_key(input_path(image).name)
    rows = list({id(r): r for r in by_name.get(name, [])}.values())
    if len(rows) > 1:  # TILE_1.tif and tile_1.tif: the row spelling it (of v1's rows: all)
        rows = same_spelling(image, rows, lambda r: url_file_name(r.shown))
    if not rows:
        listed = ", ".join(examples) or "none"
        raise InputError(f"{image}: not in {path} (no data row's external_id, global_key or "
                         f"row_data is named {input_path(image).name!r}; its rows name e.g. "
                         f"{listed}). Give the images its rows name.")
    ids = list(dict.fromkeys(r.id for r in rows))
    if len(ids) > 1:
        raise InputError(f"{image}: {path} holds {len(ids)} data rows named "
                         f"{input_path(image).name!r} "
                         f"({', '.join(ids[:4])}). Export one data row per image (or give each "
                         "its own external_id).")
    refuse_other_spelling(image, url_file_name(rows[0].shown), path)
    if len(rows) == 1:
        return rows[0]
    first = rows[0]  # v1: one row per label of the data row
    return _Row(first.where, first.id, first.shown, first.size, first.rotation,
                [label for r in rows for label in r.labels])


def _label(row: _Row) -> _Label:
    """The row's label: its one not skipped, else its benchmark reference."""
    live = [label for label in row.labels if not label.skipped]
    benchmark = [label for label in live if label.benchmark]
    chosen = benchmark or live
    if len(chosen) == 1:
        return chosen[0]
    if not chosen:
        had = (f"its {len(row.labels)} label{'s were' if len(row.labels) > 1 else ' was'} "
               "skipped" if row.labels else "no label")
        raise InputError(f"{row.where} has {had}: nobody labelled it. Label it in Labelbox "
                         "and export again, or leave the image out.")
    ids = ", ".join(label.id for label in chosen[:4])
    raise InputError(f"{row.where} has {len(chosen)} labels (ids {ids}), "
                     f"{'several' if benchmark else 'none'} marked benchmark reference: "
                     "make-masks takes one label per image. Export one label per data row, or "
                     "mark one (and only one) benchmark in Labelbox and export again.")


def _image_shapes(path: Path, image, row: _Row, orientation: str,
                  view: tuple[int, int]) -> LabelmeFile:
    """The objects of the row's label, in the image's pixels (its ``view``), as a
    LabelmeFile."""
    from geotile.turned_images import check_view

    label = _label(row)
    masks = [(place, url) for place, kind, _, url in label.objects if kind == "mask"]
    if masks:
        place, url = masks[0]
        raise InputError(f"{place} is a segmentation mask given by URL ({_short(url)}) "
                         f"{'and ' + str(len(masks) - 1) + ' more ' if len(masks) > 1 else ''}"
                         "that make-masks does not fetch: draw it with the polygon tool (or "
                         "convert it) and export again, or download the masks and give them "
                         "as a label raster.")
    check_view(image, orientation, view, row.where, "Labelbox shows",
               any(kind == "area" for _, kind, _, _ in label.objects), row.size,
               "media_attributes")
    found = LabelmeFile(path, row.size or view, row.shown)
    for place, kind, name, geometry in label.objects:
        if kind == "no_area":
            found.no_area.append(place)
        elif geometry is None or geometry.is_empty or geometry.area <= 0:
            found.slivers.append(place)
        else:
            found.instances.append((name, geometry))
    return found


def _place(found: LabelmeFile, place: str) -> str:
    return place.removeprefix(f"{found.path} ")


def _short(value) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."
