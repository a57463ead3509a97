"""The union of polygons, taken group by group of those that touch.

``shapely.union_all`` of the regions along a raster's band seams also overlays neighbours
that do not touch (GEOS pairs them by their boxes): 40 ms for the 201 seam regions of a
6000 px building mask, 6 ms group by group. The parts are the same: groups that do not
touch never change one another.
"""

from __future__ import annotations

import numpy as np


def touching_unions(polygons) -> np.ndarray:
    """The parts (Polygons) of the union of ``polygons``: the union of each group that
    touches (intersects), one group after another, in the order of their first polygons."""
    import shapely

    polygons = np.asarray(polygons, dtype=object)
    if not len(polygons):
        return np.empty(0, dtype=object)
    one, other = shapely.STRtree(polygons).query(polygons, predicate="intersects")
    _, group = np.unique(groups(one, other, len(polygons)), return_inverse=True)
    sizes = np.bincount(group)
    order = np.argsort(group, kind="stable")  # members of a group together, in their order
    unions = np.empty(len(sizes), dtype=object)
    for size in np.unique(sizes):  # groups of one size make a table: one call each
        some = np.flatnonzero(sizes == size)
        members = order[np.isin(group[order], some)].reshape(len(some), size)
        unions[some] = shapely.union_all(polygons[members], axis=1)
    return shapely.get_parts(unions)


def groups(one: np.ndarray, other: np.ndarray, count: int) -> np.ndarray:
    """The group (its least node) of each of ``count`` nodes joined by the edges ``one[k]``
    - ``other[k]``: each group's roots hooked under the least root they meet, then every
    node pointed at its root, until no edge joins two groups (no scipy: its import takes
    longer than the seams of a raster)."""
    label = np.arange(count)
    while True:
        least = np.minimum(label[one], label[other])
        np.minimum.at(label, label[one], least)
        np.minimum.at(label, label[other], least)
        while (label[label] != label).any():
            label = label[label]
        if (label[one] == label[other]).all():
            return label
