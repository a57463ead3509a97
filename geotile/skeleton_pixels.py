"""What vectorize --lines knows of each skeleton pixel of a class, found by its centre.

Centrelines are traced from skeleton pixel centres, so every vertex of a line (before
simplification) is one of them, in the very coordinates computed for it: a table keyed by
exact (x, y) finds the pixel's score, its raster and its distance to the road's edge. Held
as arrays and one hash index (tens of bytes a pixel, where a Python dict took hundreds).
"""

from __future__ import annotations

import numpy as np


class SkeletonPixels:
    """Score, raster index and distance to the road's edge of skeleton pixel centres, given
    band by band; where a centre comes again (a band's halo), the later value holds, as a
    dict's update would."""

    def __init__(self) -> None:
        self._parts: list[tuple[np.ndarray, ...]] = []
        self._index = None
        self.extra_edges: dict[tuple[float, float], float] = {}

    def add(self, xy: np.ndarray, score, owner, edge) -> None:
        """Pixel centres ``xy`` (..., 2) with their score, raster index and edge distance
        (each of ``xy``'s leading shape)."""
        self._parts.append((np.asarray(xy, np.float64).reshape(-1, 2),
                            np.asarray(score, np.float64).ravel(),
                            np.asarray(owner, np.int64).ravel(),
                            np.asarray(edge, np.float64).ravel()))
        self._index = None

    def _built(self):
        import pandas as pd

        if self._index is None:
            xy, score, owner, edge = (np.concatenate(a) for a in zip(*self._parts, strict=True)) \
                if self._parts else (np.empty((0, 2)), np.empty(0), np.empty(0, np.int64),
                                     np.empty(0))
            keys = pd.Index(_keys(xy))
            last = ~keys.duplicated(keep="last")
            self._index = keys[last]
            self.score, self.owner, self.edge = score[last], owner[last], edge[last]
            self._parts = [(xy[last], self.score, self.owner, self.edge)]
        return self._index

    def find(self, points: np.ndarray) -> np.ndarray:
        """Each point's row in the table, -1 where it is no pixel centre."""
        points = np.asarray(points, np.float64).reshape(-1, 2)
        return self._built().get_indexer(_keys(points))

    def edges(self, points: np.ndarray) -> np.ndarray:
        """The distance to the road's edge at each point (``extra_edges`` first; 0.0 where
        the point is no pixel centre)."""
        points = np.asarray(points, np.float64).reshape(-1, 2)
        rows = self.find(points)
        found = np.where(rows >= 0, self.edge[np.maximum(rows, 0)] if len(self.edge) else 0.0,
                         0.0)
        if self.extra_edges:
            for i, (x, y) in enumerate(points.tolist()):
                if (x, y) in self.extra_edges:
                    found[i] = self.extra_edges[(x, y)]
        return found


def _keys(xy: np.ndarray) -> np.ndarray:
    """One hashable number per point, equal exactly when both coordinates are."""
    keys = np.empty(len(xy), np.complex128)
    keys.real, keys.imag = xy[:, 0], xy[:, 1]
    return keys
