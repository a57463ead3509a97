"""window_batches.py: windows of consecutive rows in full batches, rows finished in order."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import numpy as np
import pytest

from geotile.predict import BatchBuffer
from geotile.window_batches import RowEnd, Segment, WindowBatcher, parallel_copy


def run_rows(batcher, rows, per_row, size=4):
    """Feed ``rows`` rows of ``per_row`` windows (window k of row r holds r * 100 + k);
    returns the emitted batches."""
    out = []
    for row in range(rows):
        pixels = np.zeros((2, size, per_row * size), np.float32)
        for k in range(per_row):
            pixels[:, :, k * size : (k + 1) * size] = row * 100 + k
        patches = [SimpleNamespace(x_off=k * size, row=row, col=k) for k in range(per_row)]
        valid = np.ones((size, per_row * size), bool)
        for batch in batcher.add(row, pixels, valid, 0, size, patches):
            out.append(SimpleNamespace(array=None if batch.array is None else batch.array.copy(),
                                       actions=batch.actions))
        pixels[:] = -1  # the band's buffer is reused for the next row
    out.extend(SimpleNamespace(array=None if b.array is None else b.array.copy(),
                               actions=b.actions) for b in batcher.finish())
    return out


@pytest.mark.parametrize("steady", [False, True])
@pytest.mark.parametrize("parallel", [False, True])
def test_batches_span_rows_and_each_row_ends_after_its_windows(steady, parallel):
    buffers = itertools.cycle([BatchBuffer() for _ in range(8)])
    with ThreadPoolExecutor(3) as pool:
        copy = parallel_copy(pool, 3) if parallel else None
        batches = run_rows(WindowBatcher(16, steady, buffers, copy), rows=4, per_row=7)
    # 28 windows: 16 + 12 (padded to 16 when steady); no short batch at each row end
    assert [len(b.array) for b in batches] == [16, 16 if steady else 12]
    seen, ended = [], []
    for batch in batches:
        for action in batch.actions:
            if isinstance(action, RowEnd):
                assert all(r <= action.row for r, _ in seen)  # its windows all came before
                ended.append(action.row)
                continue
            assert isinstance(action, Segment) and action.row not in ended
            for slot, patch in zip(range(action.start, action.stop), action.patches,
                                   strict=True):
                assert (batch.array[slot] == action.row * 100 + patch.col).all()
                seen.append((action.row, patch.col))
    assert ended == [0, 1, 2, 3]
    assert seen == [(r, k) for r in range(4) for k in range(7)]
    if steady:
        assert (batches[-1].array[12:] == 0).all()  # padding, not a stale window


def test_a_row_without_windows_still_ends_in_order():
    buffers = itertools.cycle([BatchBuffer() for _ in range(4)])
    batcher = WindowBatcher(3, False, buffers)
    pixels, valid = np.ones((1, 2, 4), np.float32), np.ones((2, 4), bool)
    patch = SimpleNamespace(x_off=0, row=0, col=0)
    items = [*batcher.add(0, pixels, valid, 0, 2, [patch, patch]),
             *batcher.add(1, pixels, valid, 0, 2, []), *batcher.finish()]
    assert len(items) == 1 and len(items[0].array) == 2
    assert [type(a).__name__ for a in items[0].actions] == ["Segment", "RowEnd", "RowEnd"]
    assert [a.row for a in items[0].actions[1:]] == [0, 1]


@pytest.mark.parametrize("steady", [False, True])
def test_rows_of_nodata_alone_are_handed_on_as_they_end(steady):
    # a city mosaic's nodata collar: thousands of rows without a window; waiting for the
    # batch to fill held every one of their masks (the raster's height) in the reader
    buffers = itertools.cycle([BatchBuffer() for _ in range(4)])
    batcher = WindowBatcher(16, steady, buffers)
    pixels, valid = np.ones((1, 2, 4), np.float32), np.ones((2, 4), bool)
    patch = SimpleNamespace(x_off=0, row=0, col=0)
    assert list(batcher.add(0, pixels, valid, 0, 2, [patch, patch])) == []
    first = list(batcher.add(1, pixels, valid, 0, 2, []))
    assert len(first) == 1  # the batch so far, short (padded when steady), at once
    assert len(first[0].array) == (16 if steady else 2)
    assert [type(a).__name__ for a in first[0].actions] == ["Segment", "RowEnd", "RowEnd"]
    for row in range(2, 200):
        items = list(batcher.add(row, pixels, valid, 0, 2, []))
        assert [(b.array, [a.row for a in b.actions]) for b in items] == [(None, [row])]
    assert list(batcher.finish()) == []
