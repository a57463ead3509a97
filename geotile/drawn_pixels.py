"""The pixels OpenCV's cv2.fillPoly draws of polygons of whole pixels (Supervisely's), found
for many polygons at once in integer numpy arithmetic and given as runs along rows.

A ring of pixel indices (its vertices at their centres) draws the pixels whose centre lies
inside it (even-odd along each row, as cv2 fills a ring crossing itself) and the pixels of
its edges' 8-connected lines: each walked from its left end, one pixel per step of its
longer axis (x on a diagonal), the other axis rounded half towards that end (offsets
[-0.5, 0.5) of the line in the direction it goes; a zero-length edge its one pixel). A
polygon (a unit) is its exterior's pixels less its holes' (their outlines too); an object
its units' pixels together (a multipolygon's parts drawn one over the other). Only the
pixels of a window (columns ``-1..width``, rows ``-1..height``: the image and the ring of
pixels round it) are walked, so a far vertex costs no more than a near one.
"""

from __future__ import annotations

import numpy as np
import shapely

#: px: a run's box is drawn this far inside its pixels' edges (as a bitmap's)
INSET = 1e-6


def drawn_runs(xy: np.ndarray, ring_starts: np.ndarray, ring_unit: np.ndarray,
               ring_hole: np.ndarray, unit_object: np.ndarray, width: int, height: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(object, row, first, stop) of each run of drawn pixels ``[first, stop)`` along a row,
    sorted, within the window. ``xy``: (n, 2) int64, the rings' vertices one ring after the
    other (ring i from ``ring_starts[i]`` to ``ring_starts[i + 1]``, at least 1 vertex);
    ``ring_unit``: the polygon of each ring; ``ring_hole``: whether it is a hole;
    ``unit_object``: the object of each polygon."""
    window = (-1, width, -1, height)  # first and last column, first and last row, included
    rings = len(ring_starts) - 1
    lengths = np.diff(ring_starts)
    edge_ring = np.repeat(np.arange(rings), lengths)
    following = np.arange(1, len(xy) + 1)
    following[ring_starts[1:] - 1] = ring_starts[:-1]
    start, end = xy, xy[following]
    rows_per = height + 2
    keys, columns, weights = [], [], []
    for ring_of, row, first, stop in (_fill(start, end, edge_ring, window),
                                      _lines(start, end, edge_ring, window)):
        unit = ring_unit[ring_of]
        key = unit * rows_per + (row + 1)
        hole = ring_hole[ring_of]
        keys += [key, key]
        columns += [first, stop]
        weights += [np.where(hole, 1 << 32, 1), np.where(hole, -(1 << 32), -1)]
    key, column, weight = (np.concatenate(a) for a in (keys, columns, weights))
    key, first, stop = _sweep(key, column, weight, rows_per)
    if len(unit_object) and (np.diff(unit_object) != 0).sum() + 1 < len(unit_object):
        key = unit_object[key // rows_per] * rows_per + key % rows_per
        ones = np.ones(len(key), np.int64)
        key, first, stop = _sweep(np.concatenate([key, key]), np.concatenate([first, stop]),
                                  np.concatenate([ones, -ones]), rows_per)
        objects = key // rows_per
    else:
        objects = unit_object[key // rows_per]
    return objects, key % rows_per - 1, first, stop


def _order(major: np.ndarray, minor: np.ndarray, size: int, stable: bool = False):
    """The order sorting by ``major``, then ``minor`` (both >= 0, ``minor`` < ``size``):
    one argsort of both in one int64 where they fit (lexsort took 50 times longer)."""
    if not len(major) or int(major.max()) < (1 << 62) // max(size, 1):
        return np.argsort(major * size + minor, kind="stable" if stable else None)
    order = np.argsort(minor, kind="stable")
    return order[np.argsort(major[order], kind="stable")]


def _span(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(which range, value) of every whole number of the ranges ``[low, high)``."""
    counts = np.maximum(high - low, 0)
    which = np.repeat(np.arange(len(low)), counts)
    offset = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return which, low[which] + offset


def _fill(start, end, edge_ring, window):
    """(ring, row, first, stop) of the runs of pixel centres strictly inside each ring
    (even-odd; a centre on a ring lies on one of its lines)."""
    left, right, top, bottom = window
    y0, y1 = start[:, 1], end[:, 1]
    low, high = np.maximum(np.minimum(y0, y1), top), np.minimum(np.maximum(y0, y1),
                                                                  bottom + 1)
    edge, row = _span(low, high)  # the rows each edge crosses, half-open: a vertex once
    x0, y0, x1, y1 = start[edge, 0], y0[edge], end[edge, 0], y1[edge]
    den = y1 - y0
    num = x0 * den + (row - y0) * (x1 - x0)
    num, den = np.where(den < 0, -num, num), np.abs(den)
    ring = edge_ring[edge]
    order = np.argsort(num / den, kind="stable")  # every row of a ring crossed even times
    order = order[_order(ring[order], row[order] - top, bottom + 2 - top, stable=True)]
    num, den, ring, row = num[order], den[order], ring[order], row[order]
    first = num[0::2] // den[0::2] + 1  # the centres right of the one crossing
    stop = -(-num[1::2] // den[1::2])  # and left of the next
    first, stop = np.maximum(first, left), np.minimum(stop, right + 1)
    keep = first < stop
    return ring[0::2][keep], row[0::2][keep], first[keep], stop[keep]


def _lines(start, end, edge_ring, window):
    """(ring, row, first, stop) of the pixels of the rings' edges' 8-connected lines: each
    edge's along a row as one run (x clipped to the window beforehand)."""
    left, right, top, bottom = window
    swap = end[:, 0] < start[:, 0]
    start, end = np.where(swap[:, None], end, start), np.where(swap[:, None], start, end)
    sx, sy, ex, ey = start[:, 0], start[:, 1], end[:, 0], end[:, 1]
    dx, dy = ex - sx, ey - sy
    near = ((np.maximum(sy, ey) >= top) & (np.minimum(sy, ey) <= bottom)
            & (ex >= left) & (sx <= right))
    along = near & (dx >= np.abs(dy))  # steps along x, the row rounded
    edge, x = _span(np.where(along, np.maximum(sx, left), 0),
                    np.where(along, np.minimum(ex, right) + 1, 0))
    run = np.maximum(dx[edge], 1)
    twice = 2 * (sy[edge] * run + (x - sx[edge]) * dy[edge])  # 2 * run * the line's row
    y = np.where(dy[edge] >= 0, -((run - twice) // (2 * run)),  # ceil(y - 1/2) going down
                 (twice + run) // (2 * run))  # floor(y + 1/2) going up
    across = near & ~along  # steps along y, the column rounded: ceil(x - 1/2)
    rise = np.abs(dy)
    edge2, y2 = _span(np.where(across, np.maximum(np.minimum(sy, ey), top), 0),
                      np.where(across, np.minimum(np.maximum(sy, ey), bottom) + 1, 0))
    step = (y2 - sy[edge2]) * np.sign(dy[edge2])
    twice = 2 * (sx[edge2] * rise[edge2] + step * dx[edge2])
    x2 = -((rise[edge2] - twice) // (2 * rise[edge2]))
    begins = np.ones(len(x), bool)  # an edge's pixels along a row: one run
    begins[1:] = (edge[1:] != edge[:-1]) | (y[1:] != y[:-1])
    ends = np.append(np.nonzero(begins)[0][1:], len(x))[:np.count_nonzero(begins)] - 1
    edge, y, first, stop = (np.concatenate(a) for a in (
        (edge[begins], edge2), (y[begins], y2), (x[begins], x2), (x[ends] + 1, x2 + 1)))
    keep = (y >= top) & (y <= bottom) & (first >= left) & (first <= right)
    return edge_ring[edge[keep]], y[keep], first[keep], stop[keep]


def _sweep(key, column, weight, rows_per):
    """(key, first, stop) of the runs where the summed weights of the events (``key``: a
    group and row; ``column``; ``weight``, of which each key's sum to 0) are positive and
    below 2**32 (some exterior, no hole), sorted by key and column."""
    order = _order(key, column + 1, column.max(initial=0) + 2)
    key, column = key[order], column[order]
    total = np.cumsum(weight[order])
    last = np.ones(len(key), bool)  # the state after the last event at a column holds
    last[:-1] = (key[1:] != key[:-1]) | (column[1:] != column[:-1])
    key, column, total = key[last], column[last], total[last]
    on = (total > 0) & (total < 1 << 32)
    same = np.zeros(len(key), bool)
    same[1:] = key[1:] == key[:-1]
    on_before = np.zeros(len(key), bool)
    on_before[1:] = on[:-1]
    begins = on & ~(on_before & same)
    on_after = np.zeros(len(key), bool)
    on_after[:-1] = on[1:] & same[1:]
    ends = np.nonzero(on & ~on_after)[0]
    return key[begins], column[begins], column[ends + 1]


def run_shapes(objects: np.ndarray, rows: np.ndarray, first: np.ndarray,
               stop: np.ndarray, count: int) -> np.ndarray:
    """Each of ``count`` objects' runs of pixels (sorted by object, row, column) as one
    MultiPolygon drawn ``INSET`` inside its pixels' edges; None for an object of none. Runs
    in consecutive rows that overlap make one staircase polygon (a chain: the k-th run of a
    row after the k-th of the row above, where both rows hold as many); the chains are
    disjoint. The pixel-centre rule burns exactly those pixels, and so does --all-touched."""
    out = np.full(count, None, dtype=object)
    if not len(rows):
        return out
    group = np.ones(len(rows), bool)  # the runs of one object and row
    group[1:] = (objects[1:] != objects[:-1]) | (rows[1:] != rows[:-1])
    starts = np.nonzero(group)[0]
    sizes = np.diff(np.append(starts, len(rows)))
    size = np.repeat(sizes, sizes)
    above = np.arange(len(rows)) - size  # the run of the same rank in the row above
    valid = above >= 0
    above = np.where(valid, above, 0)
    joined = (valid & (objects[above] == objects) & (rows[above] == rows - 1)
              & (size[above] == size) & (first < stop[above]) & (first[above] < stop))
    head = np.where(joined, above, np.arange(len(rows)))
    while True:  # each run to the first of its chain
        further = head[head]
        if (further == head).all():
            break
        head = further
    order = _order(head, rows - rows.min(), int(rows.max() - rows.min()) + 1)
    chain, objects, rows, first, stop = (a[order] for a in (head, objects, rows, first,
                                                              stop))
    top = np.ones(len(rows), bool)
    top[1:] = chain[1:] != chain[:-1]
    bottom = np.append(top[1:], True)
    before, after = np.maximum(np.arange(len(rows)) - 1, 0), np.minimum(
        np.arange(1, len(rows) + 1), len(rows) - 1)
    # each run's right edge down, then left edge up; a corner where the edges meet the row
    # above or below is inset up or down as the pixels beside it lie (inside: below it)
    right_top = np.where(top | (stop > stop[before]), rows + INSET, rows - INSET)
    right_bottom = np.where(~bottom & (stop[after] > stop), rows + 1 + INSET,
                            rows + 1 - INSET)
    left_top = np.where(top | (first < first[before]), rows + INSET, rows - INSET)
    left_bottom = np.where(~bottom & (first[after] < first), rows + 1 + INSET,
                           rows + 1 - INSET)
    chains = np.nonzero(top)[0]
    length = np.diff(np.append(chains, len(rows)))
    begin = np.repeat(chains, length)  # the first run of each run's chain, and its place
    place = np.arange(len(rows)) - begin
    right = 4 * begin + 2 * place
    left = 4 * begin + 2 * np.repeat(length, length) + 2 * (np.repeat(length, length) - 1
                                                              - place)
    xy = np.empty((4 * len(rows), 2))
    xy[right, 0] = xy[right + 1, 0] = stop - INSET
    xy[right, 1], xy[right + 1, 1] = right_top, right_bottom
    xy[left, 0] = xy[left + 1, 0] = first + INSET
    xy[left, 1], xy[left + 1, 1] = left_bottom, left_top
    keep = np.ones(len(xy), bool)  # a side going on straight down a row: no corner
    keep[right] = top | (stop != stop[before])
    keep[right + 1] = bottom | (stop[after] != stop)
    keep[left] = bottom | (first[after] != first)
    keep[left + 1] = top | (first != first[before])
    rings = shapely.linearrings(xy[keep], indices=np.repeat(np.arange(len(chains)),
                                                            4 * length)[keep])
    shapely.multipolygons(shapely.polygons(rings), indices=objects[chains], out=out)
    return out


def line_bands(ring: np.ndarray, open_end: bool = False):
    """The pixels of cv2's 8-connected lines along a ring's edges, each as a band whose
    pixel centres are exactly those its Bresenham steps take: walked from the left end,
    one pixel per step of the longer axis, the other axis rounded half towards that end
    (offsets [-0.5, 0.5) of the line, in the direction it goes); drawn 1/4 of a step
    inside those bounds, which no pixel centre lies on. ``open_end``: an edge along
    neither axis stops a step before its right end (as upolygon's lines do)."""
    start, end = ring, np.roll(ring, -1, axis=0)
    swap = end[:, 0] < start[:, 0]
    start, end = np.where(swap[:, None], end, start), np.where(swap[:, None], start, end)
    d = end - start
    across = d[:, 0] < np.abs(d[:, 1])  # steps along y, the x rounded
    major = np.where(across, np.abs(d[:, 1]), d[:, 0])
    steps = np.maximum(major, 1.0)
    step = np.where((major == 0)[:, None], [1.0, 0.0], d / steps[:, None])
    sign = np.where(across | (d[:, 1] >= 0), 1.0, -1.0)
    low, high = sign * (-0.5 - 0.25 / steps), sign * (0.5 - 0.25 / steps)
    normal = np.where(across[:, None], [1.0, 0.0], [0.0, 1.0])
    first, last = start - 0.25 * step, end + 0.25 * step
    if open_end:
        slanted = (d != 0).all(axis=1)
        last = np.where(slanted[:, None], end - 0.75 * step, last)
    corners = np.stack([first + low[:, None] * normal, last + low[:, None] * normal,
                        last + high[:, None] * normal, first + high[:, None] * normal], axis=1)
    return list(shapely.polygons(corners))
