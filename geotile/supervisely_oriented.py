"""Supervisely's ``oriented_bbox`` objects (supervisely/geometry/oriented_bbox.py):
``"points": [[left, top], [right, bottom]]`` (whole pixel indices, floored as its
PointLocation floors them; sorted) and ``"angle"`` in radians, clockwise on the image (its
y axis down). Supervisely draws one as cv2.fillPoly of its corners (top-left, top-right,
bottom-right, bottom-left) turned about its centre ``((left + right) // 2, (top + bottom) //
2)``, each turned corner floored; these corners are returned here, in that arithmetic, and
drawn as a polygon is (:mod:`geotile.drawn_pixels`).
"""

from __future__ import annotations

import math

import numpy as np

from geotile.errors import InputError
from geotile.short_repr import short_repr


def oriented_corners(where: str, title: str, item: dict) -> list[list[int]]:
    """The four turned corners ([x, y] whole pixels) Supervisely fills of an oriented box;
    InputError in one line for one without 2 points or a finite angle."""
    from geotile.label_points import float_xy, xy_pairs
    from geotile.labelme_labels import MOST_RADIUS

    points = item.get("points")
    if isinstance(points, dict):  # as a rectangle's: {"exterior": [...], "interior": []}
        points = points.get("exterior")
    if not xy_pairs(points) or len(points) != 2:
        count = f"{len(points)} point(s)" if isinstance(points, list) else repr(points)[:40]
        raise InputError(f"{where} ({title!r}) is an oriented_bbox of {count}; give its 2 "
                         "corners, \"points\": [[left, top], [right, bottom]]. Fix or remove "
                         "it.")
    xy = np.floor(float_xy(points))
    if not (np.abs(xy) <= MOST_RADIUS).all():  # NaN and infinity too
        raise InputError(f"{where} ({title!r}) is an oriented_bbox with a point that is not a "
                         f"finite number within {MOST_RADIUS} px of its image. Fix or remove "
                         "it.")
    if "angle" not in item:
        raise InputError(f"{where} ({title!r}) is an oriented_bbox without 'angle' (its turn "
                         "in radians, clockwise), which Supervisely requires. Fix or remove "
                         "it.")
    angle = item["angle"]
    if angle is None:
        angle = 0.0  # as OrientedBBox takes it
    try:
        finite = (isinstance(angle, int | float) and not isinstance(angle, bool)
                  and math.isfinite(float(angle)))
    except OverflowError:
        finite = False
    if not finite:
        shown = short_repr(angle)
        raise InputError(f"{where} ({title!r}) is an oriented_bbox of angle {shown}; give a "
                         "finite number of radians. Fix or remove it.")
    (left, right), (top, bottom) = (sorted(int(v) for v in xy[:, k]) for k in (0, 1))
    cx, cy = (left + right) // 2, (top + bottom) // 2
    cos, sin = np.cos(np.float64(angle)), np.sin(np.float64(angle))
    corners = []
    for x, y in ((left, top), (right, top), (right, bottom), (left, bottom)):
        tx, ty = x - cx, y - cy
        corners.append([math.floor(tx * cos - ty * sin + cx),
                        math.floor(tx * sin + ty * cos + cy)])
    return corners
