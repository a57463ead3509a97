"""A VGG Image Annotator 3 project (VIA 3's "Save project" JSON: ``project``, ``config``,
``attribute``, ``file``, ``view``, ``metadata``) as the image entries VIA 2's JSON holds.

Followed from ox-vgg/via (via-3.x.y/src/js: _via_metadata.js, _via_file.js,
_via_attribute.js, _via_data.js, _via_file_annotator.js): a ``file`` is ``{fid, fname,
type (IMAGE 2, VIDEO 4, AUDIO 8), loc, src}``; regions are ``metadata`` ``{vid, flg, z, xy,
av}`` drawn on a view of one file (VIA's file annotator works on single-file views only;
a view of several files carries group attributes, no regions); ``xy`` is ``[shape,
coordinates...]`` in the file's pixels (canvas points times the canvas scale, origin at the
image's top-left corner, as VIA 2's), shape by ``_VIA_RSHAPE``: POINT 1 [x, y], RECTANGLE 2
[x, y, w, h], CIRCLE 3 [cx, cy, r], ELLIPSE 4 [cx, cy, rx, ry] (no rotation in VIA 3), LINE 5
[x1, y1, x2, y2], POLYLINE 6 and POLYGON 7 [x1, y1, ...], EXTREME_RECTANGLE 8 (four clicked
boundary points: their bounding box, as ``_extreme_to_rshape``), EXTREME_CIRCLE 9 (three
points on the circle: the circle through them, as ``_extreme_to_rshape`` solves it). ``xy``
empty is a file's attributes (no region); ``z`` non-empty is a video frame's time or a
temporal segment: refused, as video and audio files are. ``av`` maps attribute ids to
values: an option id for radio, select and image attributes (the class is the option's
label, or its id where the label is empty, as VIA 3 imports VIA 2's options), ids joined
by commas for a checkbox, the text itself for text; attributes are named by ``aname``,
those anchored to files (FILE1_Z0_XY0: captions) not region attributes.
"""

from __future__ import annotations

import math
from pathlib import Path

from geotile.errors import InputError
from geotile.short_repr import short_repr

#: VIA 3's _VIA_FILE_TYPE of images, and of what make-masks cannot read
IMAGE, OTHER_TYPES = 2, {4: "a video", 8: "an audio file"}
#: anchors of region attributes (an image's, a video frame's), as VIA 3's region editor
REGION_ANCHORS = ("FILE1_Z0_XY1", "FILE1_Z1_XY1")
#: VIA 3's attribute types whose value is an option id (radio, select, image), checkbox
_OPTION_TYPES, _CHECKBOX = (3, 4, 5), 2
#: _VIA_RSHAPE ids -> (name, how many numbers follow: exact, or a least even count)
SHAPES = {1: ("POINT", 2), 2: ("RECTANGLE", 4), 3: ("CIRCLE", 3), 4: ("ELLIPSE", 4),
          5: ("LINE", 4), 6: ("POLYLINE", -4), 7: ("POLYGON", -6),
          8: ("EXTREME_RECTANGLE", 8), 9: ("EXTREME_CIRCLE", 6)}


def via3_entries(path: Path, document: dict) -> dict:
    """The image entries (``filename``, ``regions``, ``file_attributes``; each region's place,
    ``metadata ID``, in ``_places``) of a VIA 3 project, keyed by file id; InputError in one
    line naming the file and the metadata for what it cannot read."""
    files, views, metadata = (_object(path, document, k) for k in ("file", "view", "metadata"))
    attributes = document.get("attribute") or {}
    if not isinstance(attributes, dict):
        raise InputError(f"{path}: its attribute is {short_repr(attributes)}, not an object of "
                         "attribute definitions. Fix it.")
    entries = {}
    for fid, found in files.items():
        if not isinstance(found, dict) or not isinstance(found.get("fname"), str) \
                or not found["fname"].strip():
            raise InputError(f"{path}: file {fid!r} is {short_repr(found)}; VIA 3 writes {{fid, "
                             "fname, type, loc, src}}. Fix or remove it.")
        kind = found.get("type", IMAGE)
        if _number(kind) and kind in OTHER_TYPES:
            raise InputError(f"{path}: file {found['fname']!r} is {OTHER_TYPES[kind]} (VIA 3 "
                             f"file type {kind}); make-masks reads regions of images only. "
                             "Save the image annotations as a project of their own.")
        if kind != IMAGE:
            raise InputError(f"{path}: file {found['fname']!r} has type {short_repr(kind)}; VIA 3 "
                             "writes 2 for an image. Fix or remove it.")
        entries[str(fid)] = {"filename": found["fname"], "regions": [], "file_attributes": {},
                             "_places": []}
    for mid, one in metadata.items():
        _add(path, str(mid), one, views, entries, attributes)
    return entries


def _object(path: Path, document: dict, key: str) -> dict:
    value = document.get(key, {})
    if not isinstance(value, dict):
        raise InputError(f"{path}: its {key} is {short_repr(value)}, not an object of ids as VIA 3 "
                         "saves. Fix it.")
    return value


def _add(path: Path, mid: str, one, views: dict, entries: dict, attributes: dict) -> None:
    """Metadata ``mid``: a region added to its file's entry (a file's attributes: none)."""
    where = f"{path}: metadata {mid!r}"
    if not isinstance(one, dict):
        raise InputError(f"{where} is {short_repr(one)}, not {{vid, flg, z, xy, av}}. Fix or "
                         "remove it.")
    view = views.get(str(one.get("vid")))
    fids = view.get("fid_list") if isinstance(view, dict) else None
    if not isinstance(fids, list):
        raise InputError(f"{where} names view {short_repr(one.get('vid'))}, which the project's "
                         "view does not list (with its fid_list). Fix or remove it.")
    z, xy = one.get("z") or [], one.get("xy") or []
    if z:
        raise InputError(f"{where} has temporal coordinates z {short_repr(z)} (a video frame or "
                         "a temporal segment); make-masks reads image regions (z []) only.")
    if not isinstance(xy, list):
        raise InputError(f"{where} has xy {short_repr(xy)}; VIA 3 writes [shape id, "
                         "coordinates...]. Fix or remove it.")
    if not xy:
        return  # a file's (or a group's) attributes: no region
    if len(fids) != 1:
        raise InputError(f"{where} is a region on view {one.get('vid')!r} of {len(fids)} "
                         "files; VIA 3 draws regions on one file's view, so which file it "
                         "lies on is unknown. Fix or remove it.")
    entry = entries.get(str(fids[0]))
    if entry is None:
        raise InputError(f"{where} lies on file {fids[0]!r}, which the project's file does "
                         "not list. Fix or remove it.")
    region = {"shape_attributes": shape_attributes(where, xy),
              "region_attributes": _attributes(where, one.get("av") or {}, attributes)}
    entry["regions"].append(region)
    entry["_places"].append(f"{entry['filename']} metadata {mid}")


def shape_attributes(where: str, xy: list) -> dict:
    """VIA 2's shape_attributes of a VIA 3 ``xy``."""
    shape, values = xy[0], xy[1:]
    if not _number(shape) or shape not in SHAPES:  # 2.0 is 2; NaN, inf none
        return {"name": f"VIA 3 shape {short_repr(shape)}"}  # refused as a shape not burnt
    name, count = SHAPES[int(shape)]
    if not all(map(_number, values)) or (len(values) != count if count > 0 else (
            len(values) < -count or len(values) % 2)):
        many = f"{count}" if count > 0 else f"an even number, at least {-count}, of"
        raise InputError(f"{where} is a {name} of xy {short_repr(xy)}; VIA 3 writes [{shape}, "
                         f"then {many} pixel coordinates]. Fix or remove it.")
    xs, ys = values[0::2], values[1::2]
    if name == "POINT":
        return {"name": "point", "cx": xs[0], "cy": ys[0]}
    if name in ("LINE", "POLYLINE"):
        return {"name": "polyline", "all_points_x": xs, "all_points_y": ys}
    if name == "POLYGON":
        return {"name": "polygon", "all_points_x": xs, "all_points_y": ys}
    if name == "RECTANGLE":
        return dict(zip(("name", "x", "y", "width", "height"), ["rect", *values], strict=True))
    if name == "CIRCLE":
        return dict(zip(("name", "cx", "cy", "r"), ["circle", *values], strict=True))
    if name == "ELLIPSE":
        return dict(zip(("name", "cx", "cy", "rx", "ry"), ["ellipse", *values], strict=True))
    if name == "EXTREME_RECTANGLE":
        return {"name": "rect", "x": min(xs), "y": min(ys), "width": max(xs) - min(xs),
                "height": max(ys) - min(ys)}
    return _circle_through(where, xs, ys)


def _circle_through(where: str, xs: list, ys: list) -> dict:
    from geotile.labelme_labels import MOST_RADIUS

    """The circle through three points (VIA 3's EXTREME_CIRCLE)."""
    try:
        points = [float(v) for v in (*xs, *ys)]
    except OverflowError:  # an integer past any float
        points = [math.inf]
    if not all(abs(v) <= MOST_RADIUS for v in points):  # NaN too
        raise InputError(f"{where} is an EXTREME_CIRCLE with a point that is not a finite "
                         f"number within {MOST_RADIUS} px. Fix or remove it.")
    (ax, bx, cx), (ay, by, cy) = points[:3], points[3:]
    d = 2 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by))
    if d == 0:
        raise InputError(f"{where} is an EXTREME_CIRCLE through points on one line: no "
                         "circle passes through them. Fix or remove it.")
    a2, b2, c2 = ax * ax + ay * ay, bx * bx + by * by, cx * cx + cy * cy
    ux = (a2 * (by - cy) + b2 * (cy - ay) + c2 * (ay - by)) / d
    uy = (a2 * (cx - bx) + b2 * (ax - cx) + c2 * (bx - ax)) / d
    return {"name": "circle", "cx": ux, "cy": uy, "r": math.hypot(ax - ux, ay - uy)}


def _attributes(where: str, av, attributes: dict) -> dict:
    """VIA 2's region_attributes (attribute name -> class name, or a checkbox's {label:
    true}) of a VIA 3 ``av``."""
    if not isinstance(av, dict):
        raise InputError(f"{where} has av {short_repr(av)}; VIA 3 writes {{attribute id: "
                         "value}}. Fix or remove it.")
    found = {}
    for aid, value in av.items():
        attribute = attributes.get(str(aid))
        if not isinstance(attribute, dict) or not isinstance(attribute.get("aname"), str):
            raise InputError(f"{where} has a value of attribute {aid!r}, which the project's "
                             "attribute does not define (with its aname). Fix or remove it.")
        if attribute.get("anchor_id", REGION_ANCHORS[0]) not in REGION_ANCHORS:
            continue  # a file's attribute (VIA's demo sets a caption on regions too)
        options = attribute.get("options") if isinstance(attribute.get("options"),
                                                         dict) else {}
        if attribute.get("type") == _CHECKBOX and isinstance(value, str):
            value = {_label(where, attribute, options, o): True
                     for o in value.split(",") if o != ""}
        elif attribute.get("type") in _OPTION_TYPES and isinstance(value, str | int) \
                and not isinstance(value, bool) and value != "":
            value = _label(where, attribute, options, str(value))  # 1 indexes as "1" in JS
        found[attribute["aname"]] = value
    return found


def _label(where: str, attribute: dict, options: dict, option: str) -> str:
    """The name of an option id: its label, or the id where the label is empty."""
    if option not in options:
        listed = ", ".join(map(repr, list(options)[:6])) or "none"
        raise InputError(f"{where} has {attribute['aname']!r} {option!r}, not one of its "
                         f"option ids ({listed}). Fix or remove it.")
    label = options[option]
    if isinstance(label, int) and not isinstance(label, bool):
        label = str(label)  # shown as its digits
    return label.strip() if isinstance(label, str) and label.strip() else option


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
