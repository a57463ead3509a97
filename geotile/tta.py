"""Test-time augmentation: the (forward, inverse) transforms of each ``--tta`` choice."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


# --- test-time augmentation: (forward, inverse) on the last two axes --------------------
def _identity(a):
    return a


def _rot(k):
    return (lambda a: np.rot90(a, k, axes=(-2, -1)), lambda a: np.rot90(a, -k, axes=(-2, -1)))


def _flip(axis):
    return (lambda a: np.flip(a, axis), lambda a: np.flip(a, axis))


def _rot_flip(k):
    return (lambda a: np.flip(np.rot90(a, k, axes=(-2, -1)), -1),
            lambda a: np.rot90(np.flip(a, -1), -k, axes=(-2, -1)))


TTA_TRANSFORMS: dict[str, list[tuple[Callable, Callable]]] = {
    "none": [(_identity, _identity)],
    "flip": [(_identity, _identity), _flip(-1), _flip(-2)],
    "d4": [(_identity, _identity), _rot(1), _rot(2), _rot(3),
           _rot_flip(0), _rot_flip(1), _rot_flip(2), _rot_flip(3)],
}
