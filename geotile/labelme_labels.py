"""Labelme JSON label files (wkentaro/labelme: one ``<stem>.json`` per image, beside it or in
a folder of their own) as make-masks labels.

A file is Labelme's by its keys: a ``shapes`` list, with ``imageHeight``/``imageWidth`` or
``imagePath``. Each shape is ``{"label", "points": [[x, y], ...], "shape_type", "group_id",
"mask"}`` in the pixel coordinates of its image (origin at the top-left corner of the
top-left pixel, x right, y down), placed through the image's geotransform (its pixels where
it has none) and burnt as vector labels are (pixel centre inside; --all-touched). Labelme's
own export (``labelme.utils.shape_to_mask``) draws them with PIL instead, which takes a
vertex as a pixel's centre and fills the outline too: its masks may hold one more pixel
along the shapes' right and bottom edges.

Shapes burnt: ``polygon`` (no ``shape_type``: a polygon, as Labelme reads it),
``rectangle`` (2 corners, in any order), ``oriented_rectangle`` (4 corners), ``circle``
(centre and a point on it: exactly the pixels whose centre lies inside or on the circle)
and ``mask`` (a base64 PNG of its box, placed with its top-left pixel at the shape's first
point: exactly its pixels). ``line``, ``linestrip``, ``point`` and ``points`` have no area:
left out, with one warning counting them. Shapes of one ``group_id`` and label are one
instance (Labelme's shapes_to_label), for make-masks' boundary and contact bands; later
shapes win where they overlap. Class names are the labels; ids are given by name over the
whole run (:func:`geotile.labels.class_ids`: 1..N by sorted name, ``_background_`` and
other names of background 0, ``__ignore__`` ``IGNORE`` (255, as Labelme's labelme2voc
saves its -1), --class-map maps them): over the files of the images given, not every
file of the folder (:func:`folder_names`, which evaluate takes to score by id).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely

from geotile.errors import GeotileWarning, InputError
from geotile.label_documents import is_labelme
from geotile.short_repr import short_repr
from geotile.user_warnings import warn

#: the field of the Labels holding each shape's label (its class name)
CATEGORY = "label"
#: Labelme's label of pixels to leave out (-1 in its labelme2voc, saved 255): ``IGNORED``
IGNORE_LABEL = "__ignore__"
#: the field of the Labels saying which instances are ``IGNORE_LABEL``'s (burnt 255)
IGNORED = "ignored"
#: shape types with an area, and the number of points each needs (None: at least 3)
AREA = {"polygon": None, "rectangle": 2, "oriented_rectangle": 4, "circle": 2, "mask": None}
#: shape types without one: left out
NO_AREA = ("line", "linestrip", "point", "points")
#: Labelme's keys: a file's start naming one of them is worth parsing to see
_SNIFF = re.compile(rb'"(?:shapes|imagePath|imageData|imageHeight|imageWidth)"\s*:')
SNIFF_BYTES = 1 << 12
#: px: the outlines of a mask's pixels are drawn this far inside their edges (as COCO's RLE)
MASK_INSET = 1e-6
#: px: the largest radius of a circle (its rows are walked one by one: one of 1e12 px is
#: no image's, and would take terabytes)
MOST_RADIUS = 1 << 24
#: px: the most a circle's (an ellipse's) inscribed polygon lies inside it
CIRCLE_SAGITTA = 0.01
#: the most sides of a large circle's (ellipse's) inscribed polygon
MOST_SIDES = 4096


@dataclass
class LabelmeFile:
    """One Labelme file, read and checked: its shapes as instances in burn order."""

    path: Path
    #: (imageWidth, imageHeight), None where the file gives none
    size: tuple[int, int] | None
    image_path: str | None
    #: whether ``size`` is imageWidth x imageHeight (else the embedded image's, imageData)
    declared: bool = True
    #: (label, geometry in the image's pixel coordinates), later on top
    instances: list[tuple[str, object]] = field(default_factory=list)
    #: shapes[] positions of the shapes without area (lines, points) and of zero area
    no_area: list[int] = field(default_factory=list)
    slivers: list[int] = field(default_factory=list)
    #: each shape's place in messages where not ``shapes[i]`` (VIA's CSV rows, VIA 3 ids)
    places: list[str] | None = None

    def geometries(self) -> list:
        """Each instance's geometry, in burn order (made now by a reader that keeps its
        shapes compact until its image's mask is made)."""
        return [geometry for _, geometry in self.instances]


@dataclass
class Labelme:
    """A run's Labelme files, read and checked once; also the shapes of other annotation
    files holding labels in each image's pixels (one file for many images: ``files`` names
    it for each, ``shapes`` holds each image's own)."""

    labels: str
    #: each image's file, in the order of the images
    files: list[Path]
    #: each image's shapes, in the order of the images (one object for images sharing a file)
    shapes: list[LabelmeFile]
    #: the class names of the whole run, first seen first (of the whole export for a file or
    #: folder of many images: ids by name are then those of any subset of its images)
    names: list[str]

    def take(self, positions: list[int]) -> Labelme:
        """The labels of the images at ``positions`` (those --resume does not skip)."""
        return Labelme(self.labels, [self.files[i] for i in positions],
                       [self.shapes[i] for i in positions], self.names)

    def sources(self, position: int) -> list[Path]:
        """The files image ``position``'s mask is made from (for --resume's digest)."""
        return [self.files[position]]


def is_labelme_file(path) -> bool:
    """Whether ``path`` is a local file holding a Labelme document (its start names a
    Labelme key: then it is parsed)."""
    from geotile.json_text import holds, sniffed

    path = Path(os.fspath(path))
    return sniffed(path, _SNIFF, SNIFF_BYTES) and holds(path, is_labelme)


def is_labelme_labels(labels, layer: str | None = None, images=None) -> bool:
    """Whether LABELS is a Labelme file, or a folder (or a pattern) of label files holding
    Labelme's: among those paired with ``images`` when given (a stray Labelme file beside
    xBD's makes no Labelme run), else among them all."""
    from geotile.label_folders import is_label_folder, label_files, pair_labels

    path = Path(os.fspath(labels))
    if path.is_file():
        return is_labelme_file(path)
    if not is_label_folder(labels, layer):
        return False
    files = label_files(labels)
    if images:
        with contextlib.suppress(InputError):  # said by the run of whichever labels they are
            files = pair_labels(labels, images)
    return any(is_labelme_file(f) for f in dict.fromkeys(files)
               if f.suffix.lower() == ".json")


def _parse(path: Path):
    from geotile.json_text import read_json

    return read_json(path, "Give Labelme's JSON file of the image (shapes, imageHeight, "
                     "imageWidth).")


def read_labelme(labels, images) -> Labelme:
    """The Labelme files of ``images``: LABELS one file (of one image), or each image's file
    of the folder (paired by name: :func:`geotile.label_folders.pair_labels`), every file
    read and checked; InputError in one line before anything is written."""
    from geotile.label_folders import pair_labels

    path = Path(os.fspath(labels))
    if path.is_file():
        if len(images) != 1:
            raise InputError(f"{path}: Labelme's labels of one image "
                             f"({_image_name(path)}), but {len(images)} IMAGEs are given. "
                             "Give its one image, or a folder of Labelme files for several.")
        files = [path]
    else:
        files = pair_labels(labels, images)
    read = {f: read_file(f) for f in dict.fromkeys(files)}
    say_left_out(labels, read.values(), "no_area", "line, linestrip, point or points shape",
                 "they have no area to burn", _shape_place)
    say_left_out(labels, read.values(), "slivers", "shape", "they have no area (points on "
                 "one line, a circle of radius 0)", _shape_place)
    return Labelme(os.fspath(labels), files, [read[f] for f in files],
                   run_names(read.values()))


def run_names(found, export=()) -> list[str]:
    """The class names of ``export`` (those of every image of a one-file export, so that ids
    by name hold for any of its images) and of the shapes of ``found`` (LabelmeFiles), first
    seen first, but ``__ignore__``."""
    names = dict.fromkeys(export)
    names.update(dict.fromkeys(label for one in found for label, _ in one.instances))
    return [name for name in names if not is_ignore(name)]


def folder_names(labelme: Labelme) -> list[str]:
    """The class names of every Labelme file of ``labelme``'s folder or pattern, those not
    read for its images read now (files that are no Labelme's, or that would be refused,
    left out): the names make-masks numbers over the whole folder. Its run numbers those
    of the files it reads only: parsing every file of a folder for one image would read
    the images most Labelme files embed (imageData)."""
    from geotile.label_folders import label_files

    if Path(labelme.labels).is_file():
        return labelme.names
    read = set(labelme.files)
    others = []
    for f in label_files(labelme.labels):
        if f.suffix.lower() == ".json" and f not in read:
            with contextlib.suppress(InputError):
                others.append(read_file(f))
    return run_names([*labelme.shapes, *others])


def _image_name(path: Path) -> str:
    try:
        document = _parse(path)
    except InputError:
        return "?"
    name = document.get("imagePath") if isinstance(document, dict) else None
    return str(name) if name else path.stem


def say_left_out(labels, read, attribute: str, what: str, why: str, place) -> None:
    """One warning counting the shapes of ``read`` (LabelmeFiles) left out as ``attribute``
    (``no_area``, ``slivers``), naming the first (``place(file, position)``)."""
    found = [(f, getattr(f, attribute)) for f in read if getattr(f, attribute)]
    if not found:
        return
    count = sum(len(positions) for _, positions in found)
    first, positions = found[0]
    warn(f"{labels}: {count} {what}{'s' if count > 1 else ''} "
         f"{'were' if count > 1 else 'was'} left out ({place(first, positions[0])}"
         f"{' first' if count > 1 else ''}): {why}.", GeotileWarning)


def _shape_place(found: LabelmeFile, position: int) -> str:
    return f"{found.path.name} shapes[{position}]"


def read_file(path: Path) -> LabelmeFile:
    """One Labelme file, its shapes checked and made instances; InputError naming the file
    (and the shape) otherwise."""
    document = _parse(path)
    if not is_labelme(document):
        raise InputError(f"{path}: not a Labelme label file (no 'shapes' list beside "
                         "imageHeight, imageWidth or imagePath), but the other labels of "
                         "this run are. Give each image its Labelme JSON file.")
    size = _size(path, document)
    image_path = document.get("imagePath")
    found = LabelmeFile(path, size, image_path if isinstance(image_path, str) else None,
                        document.get("imageWidth") is not None
                        or document.get("imageHeight") is not None)
    items = []  # (position, label, group, geometry)
    for position, shape in enumerate(document["shapes"]):
        item = _shape(path, position, shape, found)
        if item is not None:
            items.append(item)
    found.instances = group_instances(items)
    return found


def _size(path: Path, document: dict) -> tuple[int, int] | None:
    """(imageWidth, imageHeight); without them (older Labelme files) the size of the image
    the file embeds (imageData); None where it gives neither."""
    width, height = document.get("imageWidth"), document.get("imageHeight")
    if width is None and height is None:
        return _embedded_size(document.get("imageData"))
    for key, value in (("imageWidth", width), ("imageHeight", height)):
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or not _whole(value) or value <= 0):
            shown = str(value) if len(str(value)) <= 40 else str(value)[:37] + "..."
            raise InputError(f"{path}: {key} is {shown}; it is the size of the image in "
                             "pixels. Fix it (Labelme writes both).")
    return int(width), int(height)


def _embedded_size(text) -> tuple[int, int] | None:
    """(width, height) of a base64 image (imageData, as Labelme embeds it: its view, turned
    by its EXIF orientation); None where there is none that reads."""
    import base64
    import binascii

    from rasterio.errors import RasterioIOError
    from rasterio.io import MemoryFile

    from geotile.no_georef import quiet_rasterio

    if not isinstance(text, str) or not text.strip():
        return None
    try:
        with quiet_rasterio(), MemoryFile(base64.b64decode(text)) as memory, \
                memory.open() as src:
            return src.width, src.height
    except (binascii.Error, RasterioIOError, ValueError):
        return None


def _shape(path: Path, position: int, shape, found: LabelmeFile):
    """(position, label, group key, geometry) of one shape; None for one left out."""
    where = f"{path}: shapes[{position}]"
    if not isinstance(shape, dict):
        raise InputError(f"{where} is not an object. Fix or remove it.")
    label = shape.get("label")
    if not isinstance(label, str) or not label.strip():
        raise InputError(f"{where} has label {label!r}; give each shape a label (its class "
                         "name). Fix or remove it.")
    kind = shape.get("shape_type")
    kind = "polygon" if kind is None else kind  # as Labelme's shape_to_mask reads it
    if not isinstance(kind, str):
        raise InputError(f"{where} ({label!r}) has shape_type {short_repr(kind)}; give one of "
                         f"{', '.join(AREA)}. Fix or remove it.")
    if kind in NO_AREA:
        found.no_area.append(position)
        return None
    if kind not in AREA:
        raise InputError(f"{where} ({label!r}) has shape_type {kind!r}; make-masks burns "
                         f"{', '.join(AREA)} and leaves out {', '.join(NO_AREA)}. Convert it "
                         "or remove it.")
    xy = _points(where, label, kind, shape.get("points"))
    if kind == "mask":
        geometry = _mask_shape(where, label, shape.get("mask"), xy[0], found.size)
    elif kind == "circle":
        radius = math.hypot(*(xy[1] - xy[0]))
        if not radius <= MOST_RADIUS:
            raise InputError(f"{where} ({label!r}) is a circle of radius {radius:.4g} px, "
                             f"larger than any image (at most {MOST_RADIUS} px). Fix or "
                             "remove it.")
        if np.abs(xy[0]).max() > MOST_RADIUS:
            raise InputError(f"{where} ({label!r}) is a circle centred {np.abs(xy[0]).max():.4g}"
                             f" px out, past {MOST_RADIUS} px of any image (a broken file?). "
                             "Fix or remove it.")
        rows = None if found.size is None else (-2, found.size[1] + 2)  # the image's
        geometry = circle(*xy[0], *xy[1], rows)
    elif kind == "rectangle":
        geometry = shapely.box(*xy.min(axis=0), *xy.max(axis=0))
    else:
        from geotile.coco_labels import polygonal

        geometry = polygonal(shapely.make_valid(shapely.Polygon(xy)))
    if geometry is None or geometry.is_empty or geometry.area <= 0:
        if kind != "mask":  # a mask of no pixel is nothing to burn, and no mistake
            found.slivers.append(position)
        return None
    group = shape.get("group_id")
    key = (label, repr(group)) if group is not None else position
    return position, label, key, geometry


def _points(where: str, label: str, kind: str, points) -> np.ndarray:
    """The shape's points as an (n, 2) array, checked for its kind."""
    from geotile.coco_labels import MAX_POINTS
    from geotile.label_points import float_xy, xy_pairs

    if isinstance(points, list) and len(points) > MAX_POINTS:
        raise InputError(f"{where} ({label!r}) has {len(points):,} points; a shape holds at "
                         f"most {MAX_POINTS:,} (a broken export?). Simplify it or remove it.")
    if not xy_pairs(points) or not points:
        shown = str(points) if len(str(points)) <= 40 else str(points)[:37] + "..."
        raise InputError(f"{where} ({label!r}) has points {shown}; give a list of [x, y] "
                         "pixel coordinates. Fix or remove it.")
    xy = float_xy(points)
    if not np.isfinite(xy).all():
        raise InputError(f"{where} ({label!r}) has a point that is not a finite number. Fix "
                         "or remove it.")
    if kind != "circle" and np.abs(xy).max() > MOST_RADIUS:  # GDAL burns them wrong past 2**31
        raise InputError(f"{where} ({label!r}) has a point {np.abs(xy).max():.4g} px out, past "
                         f"{MOST_RADIUS} px of any image (a broken file?). Fix or remove it.")
    need = AREA[kind]
    if kind == "polygon" and len(xy) < 3:
        raise InputError(f"{where} ({label!r}) is a polygon of {len(xy)} point(s); it needs "
                         "at least 3 points. Fix or remove it.")
    if need is not None and len(xy) != need:
        raise InputError(f"{where} ({label!r}) is a {kind} of {len(xy)} point(s); a {kind} "
                         f"has {need} points"
                         + (" (two opposite corners)" if kind == "rectangle" else
                            " (its centre and a point on it)" if kind == "circle" else "")
                         + ". Fix or remove it.")
    return xy


def _whole(value) -> bool:
    try:
        return float(value).is_integer()
    except OverflowError:  # an integer past any float (10**400): no size
        return False


def group_instances(items: list) -> list[tuple[str, object]]:
    """(label, geometry) of each instance, in burn order: the shapes of one group (one
    ``group_id`` and label) as one geometry, burnt where its last shape stands; each earlier
    part less the other shapes between it and that one, so that every pixel keeps the shape
    Labelme paints last there."""
    last = {key: number for number, (_, _, key, _) in enumerate(items)}
    parts: dict = {}
    for number, (_, label, key, geometry) in enumerate(items):
        end = last[key]
        if number < end:
            between = [g for _, _, k, g in items[number + 1:end] if k != key]
            if between:
                geometry = shapely.difference(geometry, shapely.union_all(between))
        parts.setdefault(key, (label, []))[1].append(geometry)
    order = sorted(parts, key=lambda key: last[key])
    instances = []
    for key in order:
        label, pieces = parts[key]
        geometry = pieces[0] if len(pieces) == 1 else shapely.union_all(pieces)
        if not geometry.is_empty:
            instances.append((label, geometry))
    return instances


def circle(cx: float, cy: float, px: float, py: float, rows: tuple[int, int] | None = None):
    """The circle of centre (cx, cy) through (px, py), in pixel coordinates, as a polygon
    that the pixel-centre rule burns exactly as the circle: the pixels whose centre lies
    inside or on it (:func:`_centre_polygon`); only rows ``rows`` (first, stop) are walked
    when given, as :func:`ellipse`'s. Not :func:`ellipse` of equal radii: its squared
    radius is summed here, not the square of a square root."""
    r2 = (px - cx) ** 2 + (py - cy) ** 2
    if not r2 > 0:
        return shapely.Polygon()
    radius = math.sqrt(r2)
    low, high = math.floor(cy - radius - 0.5) - 1, math.ceil(cy + radius - 0.5) + 2
    if rows is not None:
        low, high = max(low, rows[0]), min(high, rows[1])
    rows = np.arange(low, max(low, high))
    dy2 = (rows + 0.5 - cy) ** 2
    half = np.sqrt(np.maximum(r2 - dy2, 0.0))

    def inside(columns):
        return (columns + 0.5 - cx) ** 2 + dy2 <= r2

    return _centre_polygon(rows, np.ceil(cx - half - 0.5), np.floor(cx + half - 0.5), inside,
                           _inscribed(cx, cy, radius, radius, 1.0, 0.0))


def ellipse(cx: float, cy: float, rx: float, ry: float, theta: float = 0.0,
            rows: tuple[int, int] | None = None):
    """The ellipse of centre (cx, cy), half-axes ``rx``, ``ry`` turned ``theta`` radians
    from x towards y (clockwise on screen: x right, y down), in pixel coordinates, as a
    polygon that the pixel-centre rule burns exactly as the ellipse: the pixels whose centre
    lies inside or on it (:func:`_centre_polygon`); only rows ``rows`` (first, stop) are
    walked when given (an image's, and a margin)."""
    if not (rx > 0 and ry > 0):
        return shapely.Polygon()
    c, s = math.cos(theta), math.sin(theta)
    rx2, ry2 = rx * rx, ry * ry
    reach = math.sqrt(rx2 * s * s + ry2 * c * c)  # half its height
    low, high = math.floor(cy - reach - 0.5) - 1, math.ceil(cy + reach - 0.5) + 2
    if rows is not None:
        low, high = max(low, rows[0]), min(high, rows[1])
    walked = np.arange(low, max(low, high))
    dy = walked + 0.5 - cy
    a = c * c / rx2 + s * s / ry2
    b = 2 * c * s * (1 / rx2 - 1 / ry2) * dy
    root = np.sqrt(np.maximum(b * b - 4 * a * ((s * s / rx2 + c * c / ry2) * dy * dy - 1), 0))

    def inside(columns):
        dx = columns + 0.5 - cx
        return (c * dx + s * dy) ** 2 / rx2 + (c * dy - s * dx) ** 2 / ry2 <= 1

    return _centre_polygon(walked, np.ceil(cx + (-b - root) / (2 * a) - 0.5),
                           np.floor(cx + (-b + root) / (2 * a) - 0.5), inside,
                           _inscribed(cx, cy, rx, ry, c, s))


def _inscribed(cx: float, cy: float, rx: float, ry: float, c: float, s: float):
    """The polygon inscribed in the ellipse of centre (cx, cy), half-axes rx, ry turned by
    the angle of cosine ``c`` and sine ``s``: within ``CIRCLE_SAGITTA`` px of it, its
    vertices just inside (off the pixel centres on the outline)."""
    sides = max(8, min(MOST_SIDES, math.ceil(math.pi / math.acos(
        max(-1.0, 1 - CIRCLE_SAGITTA / max(rx, ry))))))
    t = np.linspace(0, 2 * np.pi, sides, endpoint=False)
    u, v = rx * (1 - 1e-9) * np.cos(t), ry * (1 - 1e-9) * np.sin(t)
    return shapely.Polygon(np.column_stack((cx + c * u - s * v, cy + s * u + c * v)))


def _centre_polygon(rows: np.ndarray, first: np.ndarray, last: np.ndarray, inside,
                    inscribed):
    """A convex shape's polygon that the pixel-centre rule burns exactly as the shape: the
    union of ``inscribed`` (for --all-touched) and the convex hull of the pixel centres
    inside it, grown by less than the distance from it of any other pixel centre or of any
    pixel square it does not meet, so --all-touched burns no pixel the shape misses (a
    quarter of 1 / its longest edge: a lattice point off a lattice segment's line lies at
    least 1 / its length from it, a pixel corner at least half that, a pixel's edge beyond
    the segment's ends half a pixel; half of 1 / its length reached the corner, and a lone
    centre's or unit segment's half pixel the next pixel's edge, which --all-touched burned).
    ``first``, ``last``: each of ``rows``' first and last column inside,
    estimated to a pixel; ``inside(columns)`` (of each row) decides."""
    for _ in range(2):  # the rounding of the estimates: the exact test decides
        first = np.where(inside(first - 1), first - 1, np.where(inside(first), first,
                                                                first + 1))
        last = np.where(inside(last + 1), last + 1, np.where(inside(last), last, last - 1))
    keep = inside(first) & inside(last) & (first <= last)
    if not keep.any():
        return inscribed
    centres = np.concatenate([np.column_stack((first[keep] + 0.5, rows[keep] + 0.5)),
                              np.column_stack((last[keep] + 0.5, rows[keep] + 0.5))])
    hull = shapely.MultiPoint(centres).convex_hull
    ring = shapely.get_coordinates(hull)
    edges = np.hypot(*np.diff(ring, axis=0).T) if len(ring) > 1 else np.zeros(1)
    grown = hull.buffer(0.25 / max(1.0, float(edges.max())), quad_segs=4)
    return shapely.union(inscribed, grown)


def _mask_shape(where: str, label: str, text, origin: np.ndarray, size=None):
    """The pixels of a mask shape's PNG as polygons (their edges drawn ``MASK_INSET``
    inside), its top-left pixel at ``origin`` (the shape's first point, whole pixels as
    Labelme takes them); None when it has no pixel. InputError, before the PNG is
    decoded, for one whose box reaches more than a pixel past the image's ``size`` (width,
    height): Labelme's lie within it (5.4-5.5's with one zero row and column more)."""
    import base64
    import binascii

    from affine import Affine
    from rasterio.errors import RasterioIOError
    from rasterio.features import shapes
    from rasterio.io import MemoryFile

    from geotile.no_georef import quiet_rasterio

    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{where} ({label!r}) is a mask shape with no PNG in 'mask'. Fix "
                         "or remove it.")
    try:
        raw = base64.b64decode(text, validate=False)
        x0, y0 = (math.floor(v) for v in origin)
        with quiet_rasterio(), MemoryFile(raw) as memory, memory.open() as src:
            if size is not None and (min(x0, y0) < -1 or x0 + src.width > size[0] + 1
                                     or y0 + src.height > size[1] + 1):
                raise InputError(f"{where} ({label!r}) has a mask of {src.width}x"
                                 f"{src.height} px at ({x0}, {y0}), reaching past its image "
                                 f"of {size[0]}x{size[1]} px; Labelme's masks lie within "
                                 "their image. Fix or remove it.")
            if src.count != 1:
                raise InputError(f"{where} ({label!r}) has a mask of {src.count} bands; "
                                 "Labelme's is a one-band PNG (0 outside, 1 inside). Fix or "
                                 "remove it.")
            mask = src.read(1) != 0
    except (binascii.Error, RasterioIOError, ValueError) as exc:
        raise InputError(f"{where} ({label!r}) has a mask that is not a base64 PNG "
                         f"({str(exc).splitlines()[0] if str(exc) else exc!r}). Fix or "
                         "remove it.") from exc
    if not mask.any():
        return None
    polygons = [shapely.geometry.shape(g) for g, _ in shapes(
        mask.astype(np.uint8), mask=mask, transform=Affine.translation(x0, y0))]
    return shapely.buffer(shapely.union_all(polygons), -MASK_INSET, join_style="mitre")


def check_images(labelme: Labelme, images, shows: str = "Labelme shows") -> None:
    """Refuse, before any mask is written, an image whose Labelme file was drawn on another
    size (imageWidth x imageHeight), or turned by its EXIF orientation: Labelme shows (and
    labels) such a JPEG turned, not the stored pixels GDAL reads (``shows``: who shows it
    so, for the shapes of another format read as Labelme's, "CVAT shows")."""
    from geotile.turned_images import image_view, refuse_turned

    for position, image in enumerate(images):
        found = labelme.shapes[position]
        orientation, width, height, view = image_view(image)
        if found.instances:
            refuse_turned(image, orientation,
                          f"{found.path.name} is drawn on it as turned ({shows} it so)")
        if found.size is not None and found.size != view:
            drawn = ("imageWidth x imageHeight" if found.declared else "its imageData")
            drawn += f", imagePath {found.image_path}" if found.image_path else ""
            raise InputError(f"{image}: {width}x{height} px, but {found.path} was drawn on an "
                             f"image of {found.size[0]}x{found.size[1]} px ({drawn}). Give the "
                             "image the labels were made on.")


def is_ignore(label: str) -> bool:
    from geotile.class_keys import class_key

    return class_key(label) == IGNORE_LABEL


def image_labels(labelme: Labelme, position: int, transform, crs, class_map=None):
    """:class:`geotile.label_set.Labels` of image ``position``'s instances in the
    coordinates of the image (``transform``, ``crs``): field ``label`` (the class name),
    the run's names beside it (so that every mask gives a name one id); field ``ignored``
    true for ``__ignore__``'s, their label a name of the run (to be burnt ``IGNORE``),
    unless ``class_map`` names it."""
    from geotile.label_set import Labels
    from geotile.spacenet import pixel_to_map

    found = labelme.shapes[position]
    array = np.empty(len(found.instances), dtype=object)
    array[:] = found.geometries()
    if len(array):
        array = pixel_to_map(array, transform)
    return Labels(array, image_classes(labelme, position, class_map), crs, None,
                  {CATEGORY: list(labelme.names)})


def image_classes(labelme: Labelme, position: int, class_map=None) -> dict:
    """The fields of image ``position``'s instances (:func:`image_labels`): ``label`` and
    ``ignored``, one value an instance."""
    found = labelme.shapes[position]
    mapped = class_map is not None and any(is_ignore(k) for k in class_map)
    ignored = np.array([not mapped and is_ignore(label) for label, _ in found.instances],
                       dtype=bool)
    stand_in = labelme.names[0] if labelme.names else IGNORE_LABEL
    names = np.empty(len(found.instances), dtype=object)
    names[:] = [stand_in if ignore else label
                for (label, _), ignore in zip(found.instances, ignored, strict=True)]
    return {CATEGORY: names, IGNORED: ignored}
