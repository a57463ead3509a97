"""VGG Image Annotator (VIA, ox-vgg/via) JSON as make-masks labels.

VIA 2.x's "Export annotations (as json)" (Matterport Mask R-CNN's via_region_data.json)
is an object of image entries ``{"<filename><size>": {"filename", "size" (the file's bytes),
"regions": [{"shape_attributes": {"name": ...}, "region_attributes": {...}}],
"file_attributes"}}``; a VIA 2.x project file holds the same under ``_via_img_metadata``;
VIA 1.x's ``regions`` is an object ``{"0": region, ...}``. Regions are in the pixel
coordinates of their image (VIA draws the image on its canvas from (0, 0), the top-left
corner of the top-left pixel, x right, y down): an IMAGE takes the entry whose filename's
base name (folders and URLs apart) is its file name, placed through its geotransform and
burnt as Labelme shapes are (:mod:`geotile.labelme_labels`: pixel centre inside,
--all-touched), later regions on top. Matterport's balloon.py loads them with
skimage.draw.polygon, which takes a vertex as a pixel's centre: its masks lie half a pixel
up and left of these (2,677 of 49,000 pixels differ on 40 polygons of whole-pixel vertices).

Shapes burnt: ``rect`` (x, y, width, height), ``circle`` (cx, cy, r), ``ellipse`` (cx, cy,
rx, ry, theta: radians, x towards y; none in VIA before 2.0.8) and ``polygon``
(all_points_x, all_points_y), circles and ellipses exactly (the pixels whose centre lies
inside or on them). ``polyline`` and ``point`` have no area: left out, with one warning
counting them. The class is a region attribute: the only one the file's regions use, else
the one --class-field names (a checkbox's one true option); regions without it, or files
whose regions have no attributes (the balloon dataset), are class ``object`` (said once;
--class-map maps it). Ids by name over every region of the file (1..N sorted), so that
masks of some of its images share them. VIA keeps no image size in pixels: an image whose
bytes differ from the file annotated is warned about, one with a region wholly outside it
refused. VIA's CSV export (:mod:`geotile.via_csv`) and VIA 3 projects
(:mod:`geotile.via3_project`) are made the same entries first, then read as these; their
regions are named by CSV row and metadata id in messages.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

import numpy as np
import shapely

from geotile.errors import GeotileWarning, InputError
from geotile.label_documents import is_via, is_via3, via_entries
from geotile.short_repr import short_repr
from geotile.user_warnings import warn

#: the class of regions without one (no region attribute, or none of --class-field)
UNNAMED = "object"
#: shapes with an area, and the fields each needs
AREA = {"rect": ("x", "y", "width", "height"), "circle": ("cx", "cy", "r"),
        "ellipse": ("cx", "cy", "rx", "ry"), "polygon": ("all_points_x", "all_points_y")}
#: shapes without one: left out
NO_AREA = ("polyline", "point")
#: a VIA key near the start of a file: worth parsing it to see
_SNIFF = re.compile(rb'"(?:_via_img_metadata|_via_settings|shape_attributes|region_attributes'
                    rb'|regions|vid_list|fid_list)"\s*:|"data_format_version"\s*:\s*"3')
SNIFF_BYTES = 1 << 16
#: keys only VIA's files hold: a file starting with one that nests too deep to read is
#: refused as VIA's, not read as vector data
_OWN_SNIFF = re.compile(rb'"(?:_via_img_metadata|_via_settings|shape_attributes|file_attributes'
                        rb'|region_attributes)"\s*:|"data_format_version"\s*:\s*"3')


def is_via_file(path) -> bool:
    """Whether ``path`` is a local .json file holding a VIA document (its start names a VIA
    key: then it is parsed), or VIA's CSV export (told by its header)."""
    from geotile.json_text import sniffed
    from geotile.via_csv import is_via_csv

    if is_via_csv(path):
        return True
    if not sniffed(path, _SNIFF, SNIFF_BYTES, ".json"):
        return False
    path = Path(os.fspath(path))
    info = path.stat()
    return _is_via_version(str(path.resolve()), (info.st_ino, info.st_size, info.st_mtime_ns,
                                                 info.st_ctime_ns))


@functools.lru_cache(maxsize=4)
def _is_via_version(path: str, version: tuple) -> bool:
    """Whether the file at ``path`` is VIA's, parsed once per ``version`` of it (inode, size,
    mtime, ctime): make-masks and its CLI ask several times of one file of many images."""
    from geotile.json_text import decoded, loads, sniffed

    try:
        document = loads(decoded(Path(path).read_bytes()))
    except RecursionError:  # VIA's by the keys it starts with: its reader says it nests so
        return sniffed(path, _OWN_SNIFF, SNIFF_BYTES)
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return is_via(document)


def _parse(path: Path):
    from geotile.json_text import read_json

    return read_json(path, "Give VIA's exported JSON (Annotation > Export annotations (as "
                     "json)) or a VIA 3 project.")


def entries_of(path: Path) -> dict:
    """The image entries of the VIA file at ``path`` (a VIA 1.x/2.x JSON, VIA's CSV export or
    a VIA 3 project), as VIA 2's JSON holds them; InputError in one line otherwise."""
    from geotile.via3_project import via3_entries
    from geotile.via_csv import csv_entries, is_via_csv

    if is_via_csv(path):
        return csv_entries(path)
    document = _parse(path)
    if is_via3(document):
        return via3_entries(path, document)
    entries = via_entries(document)
    if entries is None:
        raise InputError(f"{path}: not VIA JSON (image entries of filename, size and "
                         "regions). Give VIA's exported JSON.")
    return entries


def read_via(labels, images, class_field: str | None = None):
    """The regions of ``images`` in the VIA file ``labels``, as
    :class:`geotile.labelme_labels.Labelme`: every image's entry found (by file name) and
    checked against the image, every region of theirs read, before anything is written;
    InputError in one line naming the file (and the region) otherwise."""
    from geotile.labelme_labels import Labelme, LabelmeFile

    path = Path(os.fspath(labels))
    by_name = entries_by_name(path, entries_of(path))
    field = _class_field(path, by_name, class_field)
    names, unnamed = _names(path, by_name, field)
    read: dict[tuple, LabelmeFile] = {}
    files, shapes = [], []
    differ = []  # (image, its bytes, VIA's size)
    for image in images:
        key, entry, view, size = _entry(path, by_name, image)
        if (key, view[1]) not in read:  # ellipses walk the image's rows only
            found = LabelmeFile(path, None, entry["filename"], places=entry.get("_places"))
            found.instances = _instances(path, entry, field, found, view[1])
            read[key, view[1]] = found
        found = read[key, view[1]]
        _check_image(path, image, entry, found, *view)
        if _number(entry.get("size")) and entry["size"] >= 0 and size is not None \
                and size != entry["size"]:
            differ.append((image, size, entry["size"]))
        files.append(path)
        shapes.append(found)
    _say(path, read.values(), unnamed, field, differ)
    return Labelme(os.fspath(labels), files, shapes, names)


def entries_by_name(path: Path, entries: dict) -> dict[str, list[tuple[str, dict]]]:
    """Base name of each entry's filename -> its (key, entry)s, each checked in structure."""
    by_name: dict[str, list[tuple[str, dict]]] = {}
    for key, entry in entries.items():
        if not isinstance(entry, dict):
            raise InputError(f"{path}: entry {short_repr(key)} is not an object. Fix or remove it.")
        name = entry.get("filename")
        if not isinstance(name, str) or not name.strip():
            raise InputError(f"{path}: entry {short_repr(key)} has filename "
                             f"{short_repr(name)}; give each image entry its file name.")
        regions = entry.get("regions")
        if isinstance(regions, dict):  # VIA 1.x: {"0": region, ...}
            regions = list(regions.values())
        if regions is None:
            regions = []
        if not isinstance(regions, list):
            raise InputError(f"{path}: {name} has regions {short_repr(regions)}; give a list of "
                             "regions (shape_attributes, region_attributes).")
        for index, region in enumerate(regions):
            if not isinstance(region, dict) or not isinstance(
                    region.get("shape_attributes", {}), dict) or not isinstance(
                    region.get("region_attributes", {}), dict):
                raise InputError(f"{path}: {name} regions[{index}] is not an object of "
                                 "shape_attributes and region_attributes. Fix or remove it.")
        by_name.setdefault(base_name(name), []).append((key, {**entry, "regions": regions}))
    return by_name


def base_name(filename: str) -> str:
    """The file name of a VIA filename (a path with / or \\, or a URL: its path's last part,
    percent-escapes decoded, as VIA writes a remote image's, "http://host/img%20one.jpg")."""
    from geotile.coco_labels import base_name as coco_base_name
    from geotile.dataset_names import url_name

    if "://" in filename:
        return url_name(filename)
    return coco_base_name(filename)


def _all_regions(by_name: dict):
    for found in by_name.values():
        for _, entry in found:
            for index, region in enumerate(entry["regions"]):
                yield entry, index, region


def _class_field(path: Path, by_name: dict, class_field: str | None) -> str | None:
    """The region attribute naming the class: ``class_field``, else the only one the
    regions use; None when they use none."""
    used: dict[str, None] = {}
    for _, _, region in _all_regions(by_name):
        for name in region.get("region_attributes") or {}:
            if name != "":  # VIA skips an attribute of no name
                used.setdefault(name, None)
    listed = ", ".join(map(repr, used)) or "none"
    if class_field is not None:
        if class_field not in used:
            raise InputError(f"{path}: no region has attribute {class_field!r} (--class-field);"
                             f" its regions have {listed}. Give one of them.")
        return class_field
    if len(used) > 1:
        raise InputError(f"{path}: its regions have several attributes ({listed}); say which "
                         "names the class with --class-field NAME.")
    return next(iter(used), None)


def _value(path: Path, entry: dict, index: int, region: dict,
           field: str | None) -> str | None:
    """The class of a region (None: it has none); InputError for a value that names none
    or several."""
    value = (region.get("region_attributes") or {}).get(field) if field else None
    if isinstance(value, dict):  # a checkbox: {"option": true, ...}
        chosen = [k for k, v in value.items() if v is True]
        if len(chosen) > 1:
            raise InputError(f"{path}: {place(entry, index)} has {field!r} "
                             f"checked as {', '.join(map(repr, chosen[:4]))}: one region is "
                             "one class. Leave one checked, or split the region.")
        value = chosen[0] if len(chosen) == 1 else None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise InputError(f"{path}: {place(entry, index)} has {field!r} "
                         f"{short_repr(value)}; give a class name (text, or one checked option). "
                         "Fix or remove it.")
    return value.strip()


def _names(path: Path, by_name: dict, field: str | None) -> tuple[list[str], int]:
    """The class names of every region with an area in the file, first seen first (ids by
    name then hold for any of its images), and the count of those without one."""
    from geotile.labelme_labels import is_ignore

    names: dict[str, None] = {}
    unnamed = 0
    for entry, index, region in _all_regions(by_name):
        shape = region.get("shape_attributes") or {}
        if not isinstance(shape.get("name"), str) or shape["name"] not in AREA:
            continue
        try:
            name = _value(path, entry, index, region, field)
        except InputError:  # refused where its image is masked
            continue
        if name is None:
            unnamed += 1
            name = UNNAMED
        if not is_ignore(name):
            names.setdefault(name, None)
    return list(names), unnamed


def _entry(path: Path, by_name: dict, image):
    """(key, entry, (width, height, EXIF orientation), bytes) of ``image``: its entry by
    file name (of its bytes among entries of one name); InputError naming both files otherwise."""
    from geotile.dataset_names import url_file_name
    from geotile.input_paths import input_path
    from geotile.name_keys import name_key, refuse_other_spelling, same_spelling
    from geotile.turned_images import image_view

    source = input_path(image)
    orientation, width, height, _ = image_view(image)
    size = os.path.getsize(source) if isinstance(source, Path) else None
    found = by_name.get(name_key(source.name), [])
    if len(found) > 1:  # TILE_1.tif and tile_1.tif: the entry spelled as the image is
        found = same_spelling(image, found,
                              lambda key_entry: url_file_name(str(key_entry[1]["filename"])))
    if not found:
        example = ", ".join(sorted(str(e["filename"]) for entries in by_name.values()
                                   for _, e in entries)[:3]) or "none"
        raise InputError(f"{image}: not in {path} (no entry has filename {source.name!r}; it "
                         f"lists e.g. {example}). Give images the file names it lists.")
    if len(found) > 1:
        same = [(k, e) for k, e in found if size is not None and e.get("size") == size]
        if len(same) != 1:
            listed = ", ".join(f"{e['filename']} ({short_repr(e.get('size'))} bytes)"
                               for _, e in found[:3])
            raise InputError(f"{image}: {path} has {len(found)} entries named "
                             f"{source.name!r} ({listed}), and its size does not tell which "
                             "is it. Give each image one entry, or images of distinct names.")
        found = same
    key, entry = found[0]
    refuse_other_spelling(image, url_file_name(str(entry["filename"])), path)
    return key, entry, (width, height, orientation), size


def _instances(path: Path, entry: dict, field: str | None, found,
               height: int) -> list[tuple[str, object]]:
    """(class, geometry) of the entry's regions with an area, in burn order; regions
    without area noted in ``found`` (``no_area``, ``slivers``)."""
    instances = []
    for index, region in enumerate(entry["regions"]):
        shape = region.get("shape_attributes") or {}
        where = f"{path}: {place(entry, index)}"
        kind = shape.get("name") if isinstance(shape.get("name"), str) else repr(
            shape.get("name"))
        if not shape and not region.get("region_attributes"):
            continue  # an empty region, as VIA drops on import
        if kind in NO_AREA:
            found.no_area.append(index)
            continue
        if kind not in AREA:
            raise InputError(f"{where} has shape {kind if kind.startswith('[') else repr(kind)}"
                             f"{'' if len(kind) < 40 else '...'}; make-masks burns "
                             f"{', '.join(AREA)} and leaves out {', '.join(NO_AREA)}. Convert "
                             "it or remove it.")
        geometry = _geometry(where, kind, shape, height)
        if geometry.is_empty or geometry.area <= 0:
            found.slivers.append(index)
            continue
        name = _value(path, entry, index, region, field)
        instances.append((UNNAMED if name is None else name, geometry))
    return instances


def _geometry(where: str, kind: str, shape: dict, height: int):
    """The region's shape in its image's pixel coordinates."""
    from geotile.coco_labels import MAX_POINTS, polygonal
    from geotile.labelme_labels import MOST_RADIUS, circle, ellipse

    if kind == "polygon":
        xs, ys = shape.get("all_points_x"), shape.get("all_points_y")
        for values in (xs, ys):
            if isinstance(values, list) and len(values) > MAX_POINTS:
                raise InputError(f"{where} has {len(values):,} points; a polygon holds at "
                                 f"most {MAX_POINTS:,} (a broken export?). Simplify it or "
                                 "remove it.")
        if (not isinstance(xs, list) or not isinstance(ys, list) or len(xs) != len(ys)
                or not all(map(_number, xs + ys))):
            raise InputError(f"{where} is a polygon of all_points_x {short_repr(xs)} and "
                             f"all_points_y {short_repr(ys)}; give two lists of as many pixel "
                             "coordinates. Fix or remove it.")
        if len(xs) < 3:
            raise InputError(f"{where} is a polygon of {len(xs)} point(s); it needs at least "
                             "3 points. Fix or remove it.")
        xy = _within(where, _finite(where, xs + ys)).reshape(2, -1).T
        return polygonal(shapely.make_valid(shapely.Polygon(xy)))
    keys = AREA[kind] + (("theta",) if kind == "ellipse" and "theta" in shape else ())
    values = [shape.get(k) for k in keys]
    if not all(map(_number, values)):
        given = ", ".join(f"{k} {short_repr(v)}" for k, v in zip(keys, values, strict=True))
        raise InputError(f"{where} is a {kind} of {given}; give numbers (pixels). Fix or "
                         "remove it.")
    values = list(_finite(where, values))
    _within(where, values[:4] if kind == "rect" else values[:2])
    if kind == "rect":
        x, y, w, h = values
        return shapely.box(min(x, x + w), min(y, y + h), max(x, x + w), max(y, y + h))
    radii = [abs(v) for v in values[2:4]]
    if not max(radii) <= MOST_RADIUS:
        raise InputError(f"{where} is a {kind} of radius {max(radii):.4g} px, larger than any "
                         f"image (at most {MOST_RADIUS} px). Fix or remove it.")
    if kind == "circle":
        return circle(values[0], values[1], values[0] + radii[0], values[1], (-2, height + 2))
    theta = values[4] if len(values) > 4 else 0.0
    return ellipse(values[0], values[1], radii[0], radii[1], theta, (-2, height + 2))


def _check_image(path: Path, image, entry: dict, found, width: int, height: int,
                 orientation: str) -> None:
    """Refuse an image turned by its EXIF orientation (browsers show it, and VIA labels it,
    turned), and one a region lies wholly outside of (not the image annotated: resized?)."""
    from geotile.turned_images import refuse_turned

    if not found.instances:
        return
    refuse_turned(image, orientation,
                  f"{path.name} is drawn on it as turned (browsers show it so to VIA)")
    frame = shapely.box(0, 0, width, height)
    for number, (_, geometry) in enumerate(found.instances):
        if not geometry.intersects(frame) or geometry.intersection(frame).area <= 0:
            index = _region_index(entry, found, number)
            x0, y0, x1, y1 = geometry.bounds
            raise InputError(f"{image}: {path} {place(entry, index)} lies "
                             f"wholly outside its {width}x{height} px (x {x0:.0f}..{x1:.0f},"
                             f" y {y0:.0f}..{y1:.0f}): not the image annotated (resized?). "
                             "Give the image the regions were drawn on.")


def _region_index(entry: dict, found, number: int) -> int:
    """The regions[] position of instance ``number`` of an entry."""
    skipped = set(found.no_area) | set(found.slivers)
    burnt = [i for i, region in enumerate(entry["regions"]) if i not in skipped
             and (region.get("shape_attributes") or region.get("region_attributes"))]
    return burnt[number]


def _say(path: Path, read, unnamed: int, field: str | None, differ: list) -> None:
    """One warning each: regions left out (no area), regions of no class, images whose
    bytes differ from the files annotated."""
    from geotile.labelme_labels import say_left_out

    for attribute, what, why in (
            ("no_area", "polyline or point region", "they have no area to burn"),
            ("slivers", "region", "they have no area (points on one line, a radius of 0)")):
        say_left_out(path, read, attribute, what, why, _region_place)
    if unnamed:
        why = (f"no {field!r} value" if field else "no region attribute")
        warn(f"{path}: {unnamed} region{'s' if unnamed > 1 else ''} with {why}: "
             f"class {UNNAMED!r} (--class-map maps it).", GeotileWarning)
    if differ:
        image, size, declared = differ[0]
        more = f" and {len(differ) - 1} more" if len(differ) > 1 else ""
        warn(f"{image}{more}: {size} bytes, but {path} annotated a file of "
             f"{declared} bytes: another copy of the image. A re-encoded one of the "
             "same pixels is fine; a resized one is not.", GeotileWarning)


def place(entry: dict, index: int) -> str:
    """Where an entry's region ``index`` is, in messages: ``<filename> regions[i]`` (a CSV's
    row, a VIA 3 project's metadata id, where it came from one)."""
    places = entry.get("_places")
    return places[index] if places else f"{entry['filename']} regions[{index}]"


def _region_place(found, index: int) -> str:
    return found.places[index] if found.places else f"{found.image_path} regions[{index}]"


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _within(where: str, values) -> np.ndarray:
    """``values`` (pixels), refused past ``MOST_RADIUS`` (GDAL burns a polygon reaching
    2**31 px wrong; one reaching 1e300 px does not even clip)."""
    from geotile.labelme_labels import MOST_RADIUS

    array = np.asarray(values, dtype=np.float64)
    if len(array) and np.abs(array).max() > MOST_RADIUS:
        raise InputError(f"{where} has a coordinate of {np.abs(array).max():.4g} px, past "
                         f"{MOST_RADIUS} px of any image (a broken export?). Fix or remove "
                         "it.")
    return array


def _finite(where: str, values) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except OverflowError:  # an integer past any float (10**400)
        array = np.full(1, np.inf)
    if not np.isfinite(array).all():
        raise InputError(f"{where} has a coordinate that is not a finite number. Fix or "
                         "remove it.")
    return array
