"""The points of a shape as label files give them in an image's pixels (Labelme's, Label
Studio's, Supervisely's as [x, y] pairs of numbers, checked so; COCO's flat): read as
floats."""

from __future__ import annotations

import numpy as np


def xy_pairs(points) -> bool:
    """Whether ``points`` is a list of [x, y] lists of numbers (booleans are none)."""
    if type(points) is list and all(  # as JSON gives them: 25 times faster
            type(p) is list and len(p) == 2 and type(p[0]) in _NUMBERS
            and type(p[1]) in _NUMBERS for p in points):
        return True
    return isinstance(points, list) and all(
        isinstance(p, list) and len(p) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in p)
        for p in points)


#: the types of JSON's numbers
_NUMBERS = (int, float)


def float_xy(points) -> np.ndarray:
    """``points`` (numbers, x then y) as an (n, 2) array of floats; one infinite point for an
    integer past any float (10**400)."""
    try:
        return np.asarray(points, dtype=np.float64).reshape(-1, 2)
    except OverflowError:
        return np.full((1, 2), np.inf)
