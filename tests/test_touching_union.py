"""geotile.touching_union: the union of touching groups is the union of all."""

from __future__ import annotations

import numpy as np
import shapely

from geotile.touching_union import groups, touching_unions


def test_groups_join_chains_in_any_order():
    rng = np.random.default_rng(0)
    order = rng.permutation(50)  # one chain through 50 nodes, numbered at random
    label = groups(order[:-1], order[1:], 60)
    assert (label[:50] == 0).all()  # one group, named after its least node
    assert list(label[50:]) == list(range(50, 60))  # nodes without an edge stay alone


def test_touching_unions_are_the_parts_of_the_union():
    rng = np.random.default_rng(1)
    for _ in range(20):
        cells = rng.integers(0, 12, (40, 2))  # unit squares, some sharing edges or corners
        polygons = shapely.box(cells[:, 0], cells[:, 1], cells[:, 0] + 1, cells[:, 1] + 1)
        ours = shapely.normalize(touching_unions(polygons))
        theirs = shapely.normalize(shapely.get_parts(shapely.union_all(polygons)))
        assert sorted(shapely.to_wkb(ours)) == sorted(shapely.to_wkb(theirs))
    assert len(touching_unions([])) == 0
