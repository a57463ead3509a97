"""Weight windows and the row-band accumulator that blends overlapping patch outputs.

Each patch output ``p`` is multiplied by a weight window ``w`` and added to a
running sum; the weights are summed too (or, over a regular grid, computed from
its rows and columns: :func:`axis_weight_sums`), and the blended result is divided
once:

    P(x) = sum_i w_i(x) p_i(x) / sum_i w_i(x)

Windows are products of 1-D profiles (``w(y, x) = w_y(y) * w_x(x)``), strictly
positive so every covered pixel has weight. A side of a patch that lies on the
raster border has no neighbour to blend with, so its profile stays at full
weight from the centre to that border: raster edges are neither darkened nor
down-weighted. A pointwise model therefore reproduces whole-image inference (the
weighted mean of equal values) up to float32 rounding, whatever the window: a few
1e-7 where the weight sums of a row band come from its rows and columns while the
weighted outputs are accumulated window by window (hann: a constant 0.5 may blend
to 0.49999997, just under a threshold of 0.5; the float32 probabilities and the
class output made from them agree, being the same values).
"""

from __future__ import annotations

import numpy as np

_FLOOR = 1e-3  # keeps every weight positive, so a pixel covered by a patch is never 0/0


def _tent(size: int) -> np.ndarray:
    centre = np.arange(size) + 0.5
    return np.minimum(centre, size - centre) / (size / 2)


def _hann(size: int) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(2 * np.pi * (np.arange(size) + 0.5) / size)


def _uniform(size: int) -> np.ndarray:
    return np.ones(size)


#: blend name -> 1-D profile with its peak (1) at the centre
PROFILES = {"bilinear": _tent, "hann": _hann, "uniform": _uniform}


def profile_1d(name: str, size: int, at_start: bool = False, at_end: bool = False) -> np.ndarray:
    """The 1-D weights of a patch side; ``at_start``/``at_end``: that side is a raster border."""
    weights = np.maximum(PROFILES[name](size), _FLOOR)
    half = size // 2
    if at_start:
        weights[:half] = 1.0
    if at_end:
        weights[size - half :] = 1.0
    return weights.astype(np.float32)


class WeightWindows:
    """2-D weight windows for one output size, cached per combination of border sides.

    ``margin`` px along each side get no weight (an upsampled output's outer half-cell),
    except on a side that lies on the raster border, where nothing else covers them.
    """

    def __init__(self, name: str, size: int, margin: int = 0) -> None:
        if name not in PROFILES:
            raise ValueError(f"unknown blend {name!r}: choose {', '.join(PROFILES)}")
        if not 0 <= 2 * margin < size:
            raise ValueError(f"margin {margin} leaves nothing of a {size} px window")
        self.name, self.size, self.margin = name, size, margin
        self._cache: dict[tuple[bool, bool, bool, bool], np.ndarray] = {}

    def profile(self, at_start: bool, at_end: bool) -> np.ndarray:
        """The 1-D weights of one side's axis (``at_start``/``at_end``: raster borders)."""
        m = self.margin
        if not m:
            return profile_1d(self.name, self.size, at_start, at_end)
        weights = np.zeros(self.size, np.float32)
        weights[m : self.size - m] = profile_1d(self.name, self.size - 2 * m, at_start, at_end)
        if at_start:
            weights[:m] = 1.0
        if at_end:
            weights[self.size - m :] = 1.0
        return weights

    def get(self, top: bool, bottom: bool, left: bool, right: bool) -> np.ndarray:
        key = (top, bottom, left, right)
        if key not in self._cache:
            self._cache[key] = np.outer(self.profile(top, bottom), self.profile(left, right))
        return self._cache[key]


def axis_weight_sums(windows: WeightWindows, starts: list[int], length: int) -> np.ndarray:
    """The summed weights along one axis of a grid of windows starting at ``starts`` (the
    first and last on the raster's borders), over ``length`` px.

    Every weight window is the outer product of its row and column profiles, so over a
    whole grid the summed weight at (y, x) is ``rows(y) * cols(x)``: the weights need no
    adding window by window (a window skipped for holding only nodata covers no pixel
    that is written)."""
    sums = np.zeros(length, np.float32)
    for i, start in enumerate(starts):
        profile = windows.profile(i == 0, i == len(starts) - 1)[: max(0, length - start)]
        sums[start : start + len(profile)] += profile
    return sums


class RowBandAccumulator:
    """Weighted sums for a band of ``height`` rows of a ``width``-wide raster.

    Patches are added at raster coordinates; :meth:`pop` divides and hands back
    the rows above a given row (finished: no later patch reaches them) and
    slides the band down, so memory stays at one band whatever the raster size.
    ``weighted=False``: the weights are not summed (the caller knows them, see
    :func:`axis_weight_sums`) and :meth:`pop_sums` hands back the sums alone.
    """

    def __init__(self, classes: int, height: int, width: int, weighted: bool = True) -> None:
        self.sums = np.zeros((classes, height, width), np.float32)
        self.weights = np.zeros((height, width), np.float32) if weighted else None
        self.top = 0
        self._product: np.ndarray | None = None  # output x weights, reused patch to patch

    def add(self, output: np.ndarray, weights: np.ndarray, x: int, y: int) -> None:
        """Add one patch output (K, s, s) weighted by (s, s) at raster offset (x, y)."""
        size_y, size_x = weights.shape
        r = y - self.top
        region = self.sums[:, r : r + size_y, x : x + size_x]
        if self._product is None or self._product.shape != output.shape:
            self._product = np.empty(output.shape, np.float32)
        region += np.multiply(output, weights, out=self._product)
        if self.weights is not None:
            self.weights[r : r + size_y, x : x + size_x] += weights

    def pop(self, end: int) -> np.ndarray:
        """Blended rows ``[top, end)`` as (K, rows, width) float32; NaN where nothing was added."""
        return divide(*self.pop_sums(end))

    def pop_sums(self, end: int) -> tuple[np.ndarray, np.ndarray | None]:
        """The weighted sums (K, rows, width) and weights (rows, width; None when not
        ``weighted``) of rows ``[top, end)``, not yet divided (a strip adds the sums carried
        from its neighbour first)."""
        sums, weights = self.head(end)
        sums, weights = sums.copy(), None if weights is None else weights.copy()
        self.drop(end)
        return sums, weights

    def head(self, end: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Like :meth:`pop_sums`, as views of the band, valid until :meth:`drop` (no copy
        of K bands of rows: the rows may be changed, they are dropped next)."""
        n = end - self.top
        return self.sums[:, :n], None if self.weights is None else self.weights[:n]

    def drop(self, end: int) -> None:
        """Slide the band past rows ``[top, end)``: rows below ``end`` move up, the freed
        rows start empty."""
        n = end - self.top
        self.sums[:, :-n] = self.sums[:, n:]  # numpy copies overlapping ranges safely
        self.sums[:, -n:] = 0
        if self.weights is not None:
            self.weights[:-n] = self.weights[n:]
            self.weights[-n:] = 0
        self.top = end


def divide(sums: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Blended values: ``sums / weights``, NaN where nothing was added."""
    with np.errstate(invalid="ignore", divide="ignore"):
        blended = sums / weights
    blended[:, weights == 0] = np.nan
    return blended
