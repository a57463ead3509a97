"""The one streaming layer: blocks of a raster, and a bounded reader/writer pipeline.

Every command walks a raster by blocks so that memory depends on the block, never on the
raster's size:

- :func:`row_blocks` cuts a height into bands of rows with halo rows of context (masks,
  vectorize, evaluate, instances, lines), :func:`blocks` a raster into 2-D windows;
- :func:`column_strips` splits a window grid into vertical strips (predict): windows are
  blended strip by strip, and the sums a strip's windows leave past its right edge are
  carried into the next strip (:class:`StripCarry`), so no window runs twice;
- :func:`background` runs a producer (reads, decoding) one or two items ahead in a thread,
  :class:`BackgroundWriter` runs writes (GDAL compresses without the GIL) behind the main
  thread. Both hold a bounded number of items and hand errors back to the caller.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

#: rows per band for the row-band commands (make-masks, vectorize: instances, lines), at most
DEFAULT_BAND_ROWS = 2048
#: pixels per band at most: a wide raster gets fewer rows (never fewer than MIN_BAND_ROWS)
BAND_PIXELS = 2048 * 8192
MIN_BAND_ROWS = 64
#: strip width of predict, px: bounds predict's memory whatever the raster's width
DEFAULT_BLOCK_SIZE = 4096
#: the narrowest strip predict takes (--block-size), and the smallest model window
MIN_BLOCK_SIZE, MIN_TILE_SIZE = 64, 8


@dataclass(frozen=True)
class RowBlock:
    """Rows ``[top, top + rows)`` to produce, read with ``above``/``below`` halo rows."""

    top: int
    rows: int
    above: int
    below: int

    @property
    def read_top(self) -> int:
        return self.top - self.above

    @property
    def read_rows(self) -> int:
        return self.above + self.rows + self.below

    @property
    def core(self) -> slice:
        """The produced rows within the rows read."""
        return slice(self.above, self.above + self.rows)


def band_rows(width: int, rows: int) -> int:
    """Rows per band for a raster ``width`` px wide: ``rows`` at most, fewer where a band
    would hold more than BAND_PIXELS (so memory does not grow with the width), never fewer
    than MIN_BAND_ROWS."""
    return max(1, min(rows, max(MIN_BAND_ROWS, BAND_PIXELS // max(width, 1))))


def row_blocks(height: int, rows: int, halo: int = 0, width: int = 0) -> list[RowBlock]:
    """Bands of ``rows`` rows covering ``height`` (fewer on a raster ``width`` px wide, see
    :func:`band_rows`), each with up to ``halo`` rows of context above and below (clipped
    to the raster)."""
    if rows < 1:
        raise ValueError(f"band rows must be at least 1, not {rows}")
    rows = band_rows(width, rows) if width else rows
    return [RowBlock(top, min(rows, height - top), min(halo, top),
                     min(halo, max(0, height - top - rows)))
            for top in range(0, height, rows)]


def even_band_rows(height: int, rows: int, workers: int) -> int:
    """Rows per band, at most ``rows`` (and at least MIN_BAND_ROWS where ``rows`` allows),
    such that the bands of ``height`` are near-equal and a multiple of ``workers`` in
    number: workers that share the bands finish together, none left working alone at the
    end (6000 rows, 2048 at most, 2 workers: 4 bands of 1500, not 2048 + 2048 + 1904).
    ``workers`` below 2: ``rows``."""
    if workers < 2 or height <= rows // workers:
        return rows
    bands = -(-height // rows)
    bands = -(-bands // workers) * workers
    return min(rows, max(-(-height // bands), MIN_BAND_ROWS))


def blocks(width: int, height: int, size: int, full_rows: bool = False
           ) -> Iterator[tuple[int, int, int, int]]:
    """``(col_off, row_off, cols, rows)`` of ``size`` px blocks covering the raster, row
    by row. ``full_rows`` (a striped source, whose strips a narrower block would decode
    again for each block): bands of whole rows holding about ``size`` x ``size`` pixels."""
    if full_rows:
        rows = max(1, size * size // max(width, 1))
        for top in range(0, height, rows):
            yield 0, top, width, min(rows, height - top)
        return
    for top in range(0, height, size):
        for left in range(0, width, size):
            yield left, top, min(size, width - left), min(size, height - top)


def is_striped(*sources) -> bool:
    """True when a source's blocks are whole rows (a striped GeoTIFF, a JPEG...)."""
    return any(src.block_shapes[0][1] >= src.width for src in sources)


@dataclass(frozen=True)
class Strip:
    """Output columns ``[left, right)`` and the window columns (grid indexes) blended in
    them; windows start (their output's first column) inside ``[left, right)``."""

    index: int
    left: int
    right: int
    cols: range


def column_strips(starts: list[int], width: int, block: int, align: int = 1) -> list[Strip]:
    """Strips of about ``block`` px (a multiple of ``align``, the output's block width, so
    each output block is written once) over windows whose outputs start at ``starts``.

    ``block`` must be at least a window's output and more than the stride, so every strip
    holds windows and a strip's windows only reach into the next strip."""
    block = max(align, -(-block // align) * align)
    bounds = [0]
    for edge in range(block, width, block):
        if starts[-1] >= edge:  # a strip without windows of its own joins the one before
            bounds.append(edge)
    bounds.append(width)
    strips, first = [], 0
    for index, (left, right) in enumerate(itertools.pairwise(bounds)):
        last = right == width
        end = len(starts) if last else next(i for i, s in enumerate(starts) if s >= right)
        strips.append(Strip(index, left, right, range(first, end)))
        first = end
    return strips


class StripCarry:
    """Weighted sums that a strip's windows leave right of its edge, for the next strip:
    (classes, height, width) sums, ``width`` at most one window's output. Rows are handed
    over in order, so one buffer serves every strip boundary."""

    def __init__(self, classes: int, height: int, width: int) -> None:
        import numpy as np

        self.sums = np.zeros((classes, height, width), np.float32)

    def take(self, sums, top: int) -> None:
        """Add the carried sums of rows ``[top, top + n)`` to a strip's first columns."""
        n, cols = sums.shape[1], min(sums.shape[2], self.sums.shape[2])
        sums[:, :, :cols] += self.sums[:, top : top + n, :cols]

    def give(self, sums, top: int) -> None:
        """Keep a strip's sums past its core (the columns given) for the next strip."""
        n, cols = sums.shape[1], min(sums.shape[2], self.sums.shape[2])
        self.sums[:, top : top + n] = 0
        self.sums[:, top : top + n, :cols] = sums[:, :, :cols]


class BandRows:
    """The band of ``rows`` rows that a row of windows reads, kept in one buffer per strip.

    Rows shared with the previous band stay where they are (moved up only when the buffer,
    ``1 + spare`` bands high, is full) and only the new rows are read:
    ``fill(left, top, cols, count, out)`` returns ``(pixels (C, count, cols), valid
    (count, cols))`` of rows ``[top, top + count)``, and may write the pixels straight
    into ``out`` (their place in the buffer; None on the first read, which sizes it).
    Each band is a view, valid until the next call.
    """

    def __init__(self, fill: Callable, rows: int, spare: int = 1) -> None:
        self._fill, self._rows, self._capacity = fill, rows, rows * (1 + spare)
        self._pixels = self._valid = None
        self._key: tuple[int, int] | None = None  # (left, cols) of the buffered columns
        self._top = self._held = 0  # the raster row of buffer row 0; rows held from it

    def band(self, left: int, top: int, cols: int):
        """``(pixels (C, rows, cols), valid (rows, cols))`` of the rows from ``top``."""
        import numpy as np

        rows = self._rows
        if self._pixels is None or self._key != (left, cols):
            pixels, valid = self._fill(left, top, cols, rows, None)
            self._pixels = np.empty((pixels.shape[0], self._capacity, cols), pixels.dtype)
            self._valid = np.empty((self._capacity, cols), bool)
            self._pixels[:, :rows], self._valid[:rows] = pixels, valid
            self._key, self._top, self._held = (left, cols), top, rows
            return self._pixels[:, :rows], self._valid[:rows]
        start = top - self._top
        if not 0 <= start < self._held:  # nothing shared: start the buffer afresh
            self._top, self._held, start = top, 0, 0
        kept = min(self._held - start, rows)
        if start + rows > self._capacity:  # full: the shared rows move to the top
            for channel in self._pixels:  # apart (start >= rows): no temporary copy
                channel[:kept] = channel[start : start + kept]
            self._valid[:kept] = self._valid[start : start + kept]
            self._top, self._held, start = top, kept, 0
        if kept < rows:
            place = self._pixels[:, start + kept : start + rows]
            pixels, valid = self._fill(left, top + kept, cols, rows - kept, place)
            if not np.may_share_memory(pixels, place):  # not normalised into place
                place[...] = pixels
            self._valid[start + kept : start + rows] = valid
        self._held = max(self._held, start + rows)
        return self._pixels[:, start : start + rows], self._valid[start : start + rows]


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_DONE = object()


def background(items: Iterable[T], depth: int = 2, name: str = "geotile-reader"
               ) -> Iterator[T]:
    """Iterate ``items`` in a thread, at most ``depth`` items ahead; an exception raised
    there is raised here. Closing the iterator early stops the thread."""
    pending: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def run() -> None:
        try:
            iterator = iter(items)
            while not stop.is_set():  # checked before each item is read, not only after
                item = next(iterator, _DONE)
                if stop.is_set():
                    return
                pending.put(item)
                if item is _DONE:
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            pending.put(_Failure(exc))

    thread = threading.Thread(target=run, daemon=True, name=name)
    try:
        # inside the try: an interrupt landing while the thread starts still stops it (a
        # thread not yet running finds ``stop`` set and reads nothing)
        thread.start()
        while (item := pending.get()) is not _DONE:
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stop.set()
        # a thread inside a read is alive (started before its first stop check): wait for it
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                pending.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)


class BackgroundWriter:
    """Run calls in order in one thread, at most ``depth`` waiting; the first error is
    raised by :meth:`submit` or on leaving the ``with`` block (later calls are dropped).
    Leaving always waits for the running call: no write outlives its dataset."""

    def __init__(self, depth: int = 2, name: str = "geotile-writer") -> None:
        self.depth = depth
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._pending: list[Future] = []

    def submit(self, fn: Callable, *args, **kwargs) -> None:
        while len(self._pending) >= self.depth:
            self._pending.pop(0).result()
        self._pending.append(self._pool.submit(fn, *args, **kwargs))

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                for future in self._pending:
                    future.result()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pending.clear()
