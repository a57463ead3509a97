"""Windows of consecutive rows gathered into full batches of one shape.

A row of windows seldom divides into whole batches (47 windows of a 6000 px orthotile in
batches of 16); cutting batches at row ends gives short batches, and on a GPU each new
batch shape makes ONNX Runtime's CUDA provider search cuDNN's algorithms again (0.3-0.5 s
each). So a batch takes the windows that follow, row after row: only a strip's last
batch is short (padded to the one shape on GPU providers). A row is complete, and may be
finished, once the batch holding its last window has gone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Segment:
    """The windows of one row in a batch: ``patches`` at ``[start, stop)`` of the batch;
    ``valid`` the row's band mask (rows, cols) read from the strip's left column."""

    row: int
    valid: np.ndarray
    patches: list = field(default_factory=list)
    start: int = 0
    stop: int = 0


@dataclass
class RowEnd:
    """Row ``row`` has no window left to run; ``valid`` its band mask."""

    row: int
    valid: np.ndarray


@dataclass
class Batch:
    """Stacked windows (N, C, s, s) (padding past the last segment; None: no window) and
    what follows their run, in order: the segments to blend and the rows to finish (each
    after all its segments, before the next row's)."""

    array: np.ndarray | None
    actions: list[Segment | RowEnd]


class WindowBatcher:
    """Stack the windows of a strip's rows into batches of ``batch_size``; ``steady``: the
    last batch padded to that size too. ``buffers`` yields reusable arrays
    (:class:`geotile.predict.BatchBuffer`): a buffer is written only while its batch is
    being filled."""

    def __init__(self, batch_size: int, steady: bool, buffers: Iterator,
                 copy: Callable[[list], None] | None = None) -> None:
        self.batch_size, self.steady, self._buffers = batch_size, steady, buffers
        self._copy = copy or copy_windows
        self._array: np.ndarray | None = None
        self._actions: list[Segment | RowEnd] = []
        self._count = 0
        self._copies: list = []  # (batch array, slot, window view) not yet copied

    def add(self, row: int, pixels: np.ndarray, valid: np.ndarray, left: int, size: int,
            patches: list) -> Iterator[Batch]:
        """Add a row's windows (``patches``, read from ``pixels`` whose first column is
        ``left``; ``valid`` the row's mask, kept by reference); yields the batches they
        fill, and the batch so far (short, or padded when steady) at the end of a row
        without windows."""
        for patch in patches:
            if self._array is None:
                self._array = next(self._buffers).take(
                    (self.batch_size, pixels.shape[0], size, size), pixels.dtype)
            last = self._actions[-1] if self._actions else None
            if not isinstance(last, Segment) or last.row != row:
                last = Segment(row, valid, start=self._count, stop=self._count)
                self._actions.append(last)
            x = patch.x_off - left
            self._copies.append((self._array, self._count, pixels[:, :, x : x + size]))
            last.patches.append(patch)
            self._count += 1
            last.stop = self._count
            if self._count == self.batch_size:
                yield self._emit()
        self._flush()  # before the row's pixels are replaced by the next row's
        self._actions.append(RowEnd(row, valid))
        if not patches:  # a row of nodata alone: the rows waiting for a batch to fill
            yield self._emit()  # would hold their masks, however many (the raster's height)

    def finish(self) -> Iterator[Batch]:
        """The last, partial batch (padded when steady) with the rows still to finish."""
        if self._count or self._actions:
            yield self._emit()

    def _flush(self) -> None:
        if self._copies:
            self._copy(self._copies)
            self._copies = []

    def _emit(self) -> Batch:
        self._flush()
        array = None
        if self._count:
            array = self._array[: self.batch_size if self.steady else self._count]
            array[self._count :] = 0  # no stale window in the padding
        batch = Batch(array, self._actions)
        self._array, self._actions, self._count = None, [], 0
        return batch


def copy_windows(copies: list) -> None:
    """Copy each ``(array, slot, window)``: ``array[slot] = window``."""
    for array, slot, window in copies:
        array[slot] = window


def parallel_copy(pool: Executor, parts: int) -> Callable[[list], None]:
    """:func:`copy_windows` split over ``parts`` threads of ``pool`` (NumPy copies release
    the GIL): stacking a batch's float32 windows is most of the reader thread's time."""
    def copy(copies: list) -> None:
        if len(copies) < 2 * parts:
            copy_windows(copies)
            return
        for done in [pool.submit(copy_windows, copies[i::parts]) for i in range(parts)]:
            done.result()
    return copy
