"""DOTA's labelTxt (``labelTxt/P0001.txt`` beside ``images/P0001.png``: DOTA v1.0/1.5/2.0,
and the "DOTA format" of FAIR1M converters, mmrotate, Roboflow and CVAT exports) as
make-masks labels.

A file holds optional header lines (``imagesource:GoogleEarth``, ``gsd:0.146`` or
``gsd:null``, any ``key:value`` before the first object), then one object per line: ``x1 y1
x2 y2 x3 y3 x4 y4 category difficult`` (``difficult`` 0/1 may be left out: 0). LABELS may be
a DOTA root (a folder holding labelTxt/), the labelTxt folder, a pattern of its .txt files or
one file (of one IMAGE); each IMAGE takes the .txt of its stem, paired as YOLO's are
(:func:`geotile.yolo_labels.pair`, with images/ as labelTxt/); an IMAGE without one is
refused (DOTA gives every image its file; an empty one, or headers only, is a negative
image, all background). Told from YOLO's .txt by the first line of the first file that
holds one: a header, or 8 numbers then a name (YOLO's start with a class index and hold
fractions).

Points are pixel coordinates of pixel centres, as DOTA_devkit takes them (DOTA.py draws
them on matplotlib's imshow, whose pixel (i, j) is centred on (i, j); ImgSplit.py clips
objects to the patch's ``[left, left + size - 1]``, its first and last pixel's centres):
each quadrilateral is burnt by its image's geotransform as the pixels whose centre lies
inside or on it (its points moved by half a pixel onto the image's grid, grown ``GROW`` px
so that centres on its edges are inside), later objects on top; --all-touched, ids and
__ignore__ as Labelme's shapes (:mod:`geotile.labelme_labels`). A quadrilateral that
crosses itself (corners out of order, a "bow-tie") is burnt as the convex hull of its
corners (the box they outline), with one warning counting them; one of no area (corners on
one line) is left out, with one warning counting them. make-masks burns ``difficult``
objects as their class, as DOTA_devkit's ImgSplit and mmrotate's training keep them;
evaluate's truth takes them as regions to ignore (255), as DOTA's evaluation ignores them
(COCO's crowd regions alike). ``gsd`` is not read: images place the objects (their
geotransform; their pixels where they have none). Classes are the category names of every
file of LABELS (ids 1..N by sorted name, the same in every mask of the folder; --class-map
maps them).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely

from geotile.dota_files import HEADER, LABEL_FOLDER, SUFFIX, is_object, label_files, numbers
from geotile.errors import GeotileWarning, InputError
from geotile.user_warnings import warn

#: px: each quadrilateral is grown so much, so that pixel centres on its edges are inside
GROW = 1e-6
#: a line's fields: 8 coordinates, the category, difficult
FIELDS = 10


@dataclass
class DotaObject:
    """One object of a label file: its corners (pixel centres, (4, 2)), category, whether
    it is difficult, and its line number."""

    points: np.ndarray
    name: str
    difficult: bool
    line: int


def read_dota(labels, images, ignore_difficult: bool = False):
    """The objects of ``images`` in DOTA's LABELS, as :class:`geotile.labelme_labels.Labelme`
    (``files[i]``: image i's .txt): every image paired and its file read and checked before
    anything is written; InputError in one line naming the file (and line) otherwise.
    ``ignore_difficult``: difficult objects are ``__ignore__`` regions (evaluate's truth)."""
    from geotile.input_paths import input_path
    from geotile.labelme_labels import IGNORE_LABEL, Labelme, LabelmeFile
    from geotile.yolo_labels import pair

    path = Path(os.fspath(labels))
    files = label_files(labels) or []
    if path.is_file():
        if len(images) != 1:
            raise InputError(f"{path}: DOTA's labels of one image, but {len(images)} IMAGEs "
                             "are given. Give its one image, or the labelTxt folder (or the "
                             "DOTA root holding it) for several.")
        paired: list[Path | None] = [path]
    else:
        paired = pair(labels, files, images, LABEL_FOLDER)
    missing = [image for image, found in zip(images, paired, strict=True) if found is None]
    if missing:
        image = input_path(missing[0])
        more = f" (and {len(missing) - 1} more IMAGEs)" if len(missing) > 1 else ""
        raise InputError(f"{image}: no {image.stem}{SUFFIX} in {labels}{more}. DOTA gives "
                         "every image its label file (an empty one for an image without "
                         "objects): give the labels of these images, or only the images "
                         "they label.")
    read = {f: read_file(f) for f in dict.fromkeys(paired)}
    names = sorted({o.name for found in read.values() for o in found}
                   | {name for f in files if f not in read for name in _names(f)})
    shapes, crossed, slivers = {}, [], []
    for f, found in read.items():
        one = LabelmeFile(f, None, str(f))
        for item in found:
            geometry, hull = quadrilateral(item.points)
            if geometry is None:
                slivers.append((f, item.line))
                continue
            if hull:
                crossed.append((f, item.line))
            label = IGNORE_LABEL if ignore_difficult and item.difficult else item.name
            one.instances.append((label, geometry))
        shapes[f] = one
    _say(labels, crossed, ("quadrilateral crosses itself", "quadrilaterals cross themselves"),
         "(corners out of order) and {} burnt as the convex hull of {} corners")
    _say(labels, slivers, ("object has", "objects have"),
         "no area (corners on one line) and {} left out")
    return Labelme(os.fspath(labels), list(paired), [shapes[f] for f in paired],
                   [n for n in names if n != IGNORE_LABEL])


def _say(labels, found: list[tuple[Path, int]], what: tuple[str, str], happened: str) -> None:
    """One warning counting the objects of ``found`` (file, line), naming the first."""
    if found:
        count = len(found)
        first, line = found[0]
        several = count > 1
        warn(f"{labels}: {count} {what[several]} "
             f"{happened.format(*(('were', 'their') if several else ('was', 'its')))} "
             f"({first.name} line {line}{' first' if several else ''}).",
             GeotileWarning)


def quadrilateral(points: np.ndarray):
    """(the polygon burnt for DOTA corners ``points`` (pixel centres), in the image's pixel
    coordinates: moved half a pixel, grown ``GROW``; whether it is their convex hull, as they
    cross themselves); (None, False) for corners of no area."""
    xy = points + 0.5
    polygon = shapely.Polygon(xy)
    hull = not polygon.is_valid
    if hull:
        polygon = shapely.MultiPoint(xy).convex_hull
    if polygon.geom_type != "Polygon" or not polygon.area > 0:
        return None, False
    return shapely.buffer(polygon, GROW, join_style="mitre"), hull


def read_file(path: Path) -> list[DotaObject]:
    """The objects of one DOTA label file, in line order; InputError naming the file and
    line of the first broken line."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read as text ({exc}). Give DOTA label files "
                         "(x1 y1 ... x4 y4 category difficult).") from exc
    objects: list[DotaObject] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        tokens = raw.split(maxsplit=FIELDS)
        if not tokens:
            continue
        if not objects and HEADER.match(raw.strip()):
            continue  # imagesource:, gsd:
        objects.append(_parse(path, number, tokens))
    return objects


def _parse(path: Path, number: int, tokens: list[str]) -> DotaObject:
    from geotile.labelme_labels import MOST_RADIUS

    where = f"{path} line {number}"
    form = "a DOTA line is 'x1 y1 x2 y2 x3 y3 x4 y4 category difficult' (pixels)"
    if len(tokens) > FIELDS:
        raise InputError(f"{where}: more than {FIELDS} fields; {form}. Fix or remove the "
                         "line.")
    if len(tokens) < 9 or numbers(tokens[8:9]):
        count = next((i for i, t in enumerate(tokens) if not numbers([t])), len(tokens))
        found = (f"{count} numbers and no category" if count == len(tokens) else
                 f"{count} numbers before the category {tokens[count]!r}")
        raise InputError(f"{where}: {found}; {form}{_yolo_hint(tokens)}. Fix or remove the "
                         "line.")
    values = []
    for token in tokens[:8]:
        try:
            value = float(token)
        except ValueError:
            raise InputError(f"{where}: {token!r} is not a number; {form}. Fix or remove the "
                             "line.") from None
        if not math.isfinite(value):
            raise InputError(f"{where}: a coordinate is {token!r}, not a finite number. Fix "
                             "or remove the line.")
        if abs(value) > MOST_RADIUS:  # GDAL burns a polygon reaching 2**31 px wrong
            raise InputError(f"{where}: a coordinate of {value:.4g} px, past {MOST_RADIUS} px "
                             "of any image (a broken file?). Fix or remove the line.")
        values.append(value)
    difficult = False
    if len(tokens) == FIELDS:
        flag = _whole(tokens[9])
        if flag is None or flag < 0:
            raise InputError(f"{where}: difficult is {tokens[9]!r}; it is 0 or 1. Fix or "
                             "remove the line.")
        difficult = flag > 0
    return DotaObject(np.asarray(values, dtype=np.float64).reshape(4, 2), tokens[8],
                      difficult, number)


def _yolo_hint(tokens: list[str]) -> str:
    if numbers(tokens) and _whole(tokens[0]) is not None and all(
            0 <= float(t) <= 1 for t in tokens[1:]):
        return ("; this looks like a YOLO line (class x1 y1 ..., fractions of the image), "
                "but the first file of these labels is DOTA's: give one format's files")
    return ""


def _whole(token: str) -> int | None:
    try:
        value = float(token)
    except ValueError:
        return None
    return int(value) if math.isfinite(value) and value.is_integer() else None


def _names(path: Path) -> list[str]:
    """The category names of a file no IMAGE takes (its lines not checked: it is left alone)."""
    try:
        text = path.read_bytes().decode("utf-8-sig", errors="replace")
    except OSError:
        return []
    return [tokens[8] for tokens in (line.split() for line in text.splitlines())
            if len(tokens) in (9, 10) and is_object(tokens)]
