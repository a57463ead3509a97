"""Lines whose vertices within a tolerance of each other are made one (line scores measure
copies of a stretch once; APLS joins a network's ends a hair apart)."""

from __future__ import annotations

import numpy as np


def snapped_lines(lines: np.ndarray, tolerance: float) -> np.ndarray:
    """``lines`` (2D) with vertices within ``tolerance`` of each other merged (into the
    first), then each line given the vertices of others within ``tolerance`` of it: two
    copies of a stretch that far apart get the same vertices, so the same segments."""
    import shapely
    from scipy.spatial import cKDTree

    xy, part = shapely.get_coordinates(lines, return_index=True)
    points, key = np.unique(np.ascontiguousarray(xy).view(np.complex128).ravel(),
                            return_inverse=True)  # (x, y) as one number: faster
    points = np.column_stack([points.real, points.imag])
    pairs = cKDTree(points).query_pairs(tolerance, output_type="ndarray")
    if len(pairs):
        key = _leaders(pairs, len(points))[key]
    part, key = _distinct_vertices(part, key)
    if not len(part):  # every line of zero length (or shorter than tolerance): none
        return lines[:0]
    snapped = shapely.linestrings(points[key], indices=_dense(part))
    # the vertices of other lines within tolerance, where they project along each line
    used = np.unique(key)
    hits = shapely.STRtree(shapely.points(points[used])).query(
        snapped, "dwithin", distance=tolerance)
    owners = np.unique(part)
    own = np.isin(owners[hits[0]] * len(points) + used[hits[1]], part * len(points) + key)
    line, vertex = hits[0][~own], used[hits[1][~own]]
    steps = np.hypot(*np.diff(points[key], axis=0, prepend=points[key][:1]).T)
    first = np.r_[True, part[1:] != part[:-1]]
    steps[first] = 0.0
    along = np.cumsum(steps)
    along -= along[first][np.searchsorted(owners, part)]
    inserted = shapely.line_locate_point(snapped[line], shapely.points(points[vertex]))
    # a line's own vertex near another of its stretches (a road ending by itself) is given
    # to that stretch too, as a copy of the stretch drawn by another line gets it
    own_line, own_vertex, own_along = _own_vertices_near(points, part, key, along, tolerance)
    line = np.r_[line, np.searchsorted(owners, own_line)].astype(np.intp)
    vertex, inserted = np.r_[vertex, own_vertex].astype(key.dtype), np.r_[inserted, own_along]
    if not len(line):
        return snapped
    order = np.lexsort((np.r_[along, inserted], np.r_[part, owners[line]]))
    part, key = _distinct_vertices(np.r_[part, owners[line]][order], np.r_[key, vertex][order])
    return shapely.linestrings(points[key], indices=_dense(part))


def _own_vertices_near(points: np.ndarray, part: np.ndarray, key: np.ndarray,
                       along: np.ndarray, tolerance: float):
    """(part, vertex key, distance along the part) of each vertex within ``tolerance`` of a
    segment of its own line other than the ones it ends, at its projection on the nearest
    such segment."""
    import shapely

    starts = np.flatnonzero(part[1:] == part[:-1])  # segment s: vertices s..s + 1
    segments = shapely.linestrings(
        np.stack([points[key[starts]], points[key[starts + 1]]], axis=1))
    near, seg = shapely.STRtree(segments).query(shapely.points(points[key]), "dwithin",
                                                distance=tolerance)
    begin = starts[seg]
    keep = (part[near] == part[begin]) & (key[near] != key[begin]) & (key[near] != key[begin + 1])
    near, seg, begin = near[keep], seg[keep], begin[keep]
    if not len(near):
        return part[:0], key[:0], along[:0]
    vertices = shapely.points(points[key[near]])
    distance = shapely.distance(segments[seg], vertices)
    order = np.lexsort((distance, key[near], part[near]))  # the nearest segment of each
    first = np.r_[True, (np.diff(part[near][order]) != 0) | (np.diff(key[near][order]) != 0)]
    pick = order[first]
    near, seg, begin = near[pick], seg[pick], begin[pick]
    offset = shapely.line_locate_point(segments[seg], vertices[pick])
    return part[near], key[near], along[begin] + offset


def _leaders(pairs: np.ndarray, n: int) -> np.ndarray:
    """Greedy clusters of ``n`` points given the ``pairs`` within reach: in index order,
    each point not yet taken takes its neighbours not yet taken; the taker of each point.
    Points without pairs stay out of the loop, which runs on Python lists (not numpy
    scalars: 1.3 cm spacing)."""
    ids, inverse = np.unique(pairs, return_inverse=True)  # the points having neighbours
    pairs = inverse.reshape(pairs.shape)
    pairs = np.vstack([pairs, pairs[:, ::-1]])
    pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
    starts = np.searchsorted(pairs[:, 0], np.arange(len(ids) + 1)).tolist()
    near, leader = pairs[:, 1].tolist(), list(range(len(ids)))
    for i in range(len(ids)):
        if leader[i] == i:
            for j in near[starts[i]:starts[i + 1]]:
                if j > i and leader[j] == j:
                    leader[j] = i
    result = np.arange(n)
    result[ids] = ids[leader]
    return result


def _distinct_vertices(part: np.ndarray, key: np.ndarray):
    """(part, key) without a vertex repeating the one before it, nor parts left with fewer
    than two vertices."""
    keep = np.r_[True, (part[1:] != part[:-1]) | (key[1:] != key[:-1])]
    part, key = part[keep], key[keep]
    parts, counts = np.unique(part, return_counts=True)
    keep = np.isin(part, parts[counts > 1])
    return part[keep], key[keep]


def _dense(part: np.ndarray) -> np.ndarray:
    """Sorted part ids renumbered 0, 1, 2..."""
    return np.r_[0, np.cumsum(part[1:] != part[:-1])] if len(part) else part
