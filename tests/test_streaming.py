"""The streaming layer: blocks, strips with carried sums, the reader/writer pipeline, and
predict's results independent of the block size."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import rasterio
from onnx import helper

from geotile.grid import Grid
from geotile.model import OnnxModel
from geotile.predict import PredictOptions, predict_array, predict_blocks, predict_raster
from geotile.streaming import (
    BackgroundWriter,
    background,
    blocks,
    column_strips,
    row_blocks,
)

from .onnx_models import FLOAT, conv1x1, conv3x3_model, save_graph


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(3).integers(0, 256, (3, 211, 397), dtype=np.uint8)


@pytest.mark.parametrize(("width", "size", "overlap", "block", "align"),
                         [(397, 64, 32, 100, 1), (397, 48, 12, 96, 32), (1000, 100, 30, 128, 64),
                          (130, 64, 32, 128, 1), (5000, 512, 256, 1024, 512)])
def test_column_strips_partition_windows_and_columns(width, size, overlap, block, align):
    grid = Grid(width, 50, size, overlap, "pad")
    starts = grid.col_offsets
    strips = column_strips(starts, width, block, align)
    assert strips[0].left == 0 and strips[-1].right == width
    assert [s.right for s in strips[:-1]] == [s.left for s in strips[1:]]
    assert all(s.left % align == 0 for s in strips)
    windows = [c for s in strips for c in s.cols]
    assert windows == list(range(len(starts)))  # every window in exactly one strip, in order
    for strip in strips:
        assert len(strip.cols) > 0
        assert all(strip.left <= starts[c] < strip.right or strip.right == width
                   for c in strip.cols)


def test_row_blocks_cover_rows_with_clipped_halos():
    parts = row_blocks(100, 30, halo=7)
    assert [(b.top, b.rows) for b in parts] == [(0, 30), (30, 30), (60, 30), (90, 10)]
    assert (parts[0].above, parts[0].below, parts[-1].above, parts[-1].below) == (0, 7, 7, 0)
    assert parts[1].read_top == 23 and parts[1].read_rows == 44 and parts[1].core == slice(7, 37)
    covered = np.zeros((9, 7), int)
    for left, top, cols, rows in blocks(7, 9, 4):
        covered[top : top + rows, left : left + cols] += 1
    assert (covered == 1).all()
    # a wide raster: fewer rows per band, so a band's pixels stay bounded
    assert [b.rows for b in row_blocks(500, 2048, width=100_000)][:2] == [167, 167]
    assert row_blocks(500, 2048, width=6000)[0].rows == 500
    assert row_blocks(500, 16, width=100_000)[0].rows == 16  # a smaller choice stands
    assert row_blocks(500, 2048, width=10**7)[0].rows == 64
    bands = list(blocks(50, 9, 10, full_rows=True))  # a striped source: whole rows, ~100 px
    assert bands == [(0, 0, 50, 2), (0, 2, 50, 2), (0, 4, 50, 2), (0, 6, 50, 2), (0, 8, 50, 1)]


@pytest.mark.parametrize(("tile", "overlap", "block"),
                         [(64, 32, 64), (48, 12, 100), (64, 0.75, 130), (100, 30, 128)])
def test_strips_give_the_whole_width_result(tmp_path, image, tile, overlap, block):
    model = OnnxModel.from_path(conv3x3_model(tmp_path / "m.onnx", classes=2))
    whole = predict_array(model, image, options=PredictOptions(tile_size=tile, overlap=overlap,
                                                               block_size=10**6))
    strips = predict_array(model, image, options=PredictOptions(tile_size=tile, overlap=overlap,
                                                                block_size=block))
    assert np.isfinite(whole).all()
    np.testing.assert_allclose(strips, whole, atol=2e-6)


def test_strips_keep_a_valid_convolution_models_centre(tmp_path, image):
    conv, weights = conv1x1("input", "logits", 3, 1, seed=10)
    nodes = [conv, helper.make_node("Slice", ["logits", "starts", "ends", "axes"], ["output"])]
    consts = {"starts": np.array([6, 6]), "ends": np.array([-6, -6]), "axes": np.array([2, 3])}
    path = save_graph(tmp_path / "v.onnx", nodes, [("input", FLOAT, ["N", 3, "H", "W"])],
                      [("output", FLOAT, ["N", 1, "h", "w"])], {**weights, **consts})
    model = OnnxModel.from_path(path)
    options = {"tile_size": 64, "overlap": 20}
    whole = predict_array(model, image, options=PredictOptions(**options, block_size=10**6))
    strips = predict_array(model, image, options=PredictOptions(**options, block_size=64))
    np.testing.assert_array_equal(np.isnan(strips), np.isnan(whole))
    assert np.isnan(whole[:, :6]).all() and np.isfinite(whole[:, 6:-6, 6:-6]).all()
    np.testing.assert_allclose(strips, whole, atol=2e-6)


@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_strip_output_equals_the_whole_width_output(tmp_path, make_raster, image, dtype):
    model = conv3x3_model(tmp_path / "m.onnx")
    src = make_raster("scene.tif", image)
    paths = {}
    for block in (10**6, 64):
        paths[block] = tmp_path / f"out{block}.tif"
        predict_raster(model, src, paths[block], options=PredictOptions(
            tile_size=64, block_size=block, dtype=dtype,
            creation_options={"blockxsize": 32, "blockysize": 32}))
    with rasterio.open(paths[64]) as strips, rasterio.open(paths[10**6]) as whole:
        assert strips.transform == whole.transform and strips.crs == whole.crs
        np.testing.assert_allclose(strips.read(), whole.read(), atol=1 if dtype == "uint8"
                                   else 2e-6)
        np.testing.assert_array_equal(strips.dataset_mask(), whole.dataset_mask())
    # a rewritten compressed block is appended to the file: sizes would differ
    assert paths[64].stat().st_size <= paths[10**6].stat().st_size * 1.02


def test_strips_are_aligned_to_the_output_blocks(tmp_path, image):
    model = OnnxModel.from_path(conv3x3_model(tmp_path / "m.onnx"))

    def read(left, top, cols, rows):
        part = image[:, top : top + rows, left : left + cols]
        pad = ((0, 0), (0, rows - part.shape[1]), (0, cols - part.shape[2]))
        return np.pad(part, pad), np.pad(np.ones(part.shape[1:], bool), pad[1:])

    found = [w for w, _, _ in predict_blocks(model, read, 397, 211, PredictOptions(
        tile_size=48, overlap=12, block_size=70), align=32)]
    lefts = sorted({w.col_off for w in found})
    assert len(lefts) > 3 and all(left % 32 == 0 for left in lefts)
    covered = np.zeros((211, 397), int)
    for w in found:
        covered[w.row_off : w.row_off + w.height, w.col_off : w.col_off + w.width] += 1
    assert (covered == 1).all()


def test_background_hands_errors_back_and_stops_early():
    def failing():
        yield 1
        raise ValueError("broken read")

    with pytest.raises(ValueError, match="broken read"):
        list(background(failing()))
    produced = []

    def endless():
        for i in range(10**6):
            produced.append(i)
            yield i

    reader = background(endless(), depth=2)
    assert next(reader) == 0
    reader.close()
    count = len(produced)
    assert count <= 5 and not any(t.name == "geotile-reader" and t.is_alive()
                                  for t in threading.enumerate())


def test_an_interrupt_while_the_reader_starts_leaves_it_reading_nothing(monkeypatch):
    """Ctrl-C or SIGTERM landing while the reader thread starts: the consumer's exception
    goes up, and the thread (started or about to start) never reads: the datasets it would
    read are closed as the exception unwinds (a read then crashed the process)."""
    import geotile.streaming as streaming

    produced = []

    def items():
        for i in range(100):
            produced.append(i)
            time.sleep(0.01)
            yield i

    class InterruptedThread(threading.Thread):
        def start(self):  # the thread starts, then the signal's exception lands here
            super().start()
            raise KeyboardInterrupt

    monkeypatch.setattr(streaming.threading, "Thread", InterruptedThread)
    with pytest.raises(KeyboardInterrupt):
        next(background(items(), depth=2))
    seen = len(produced)
    time.sleep(0.1)
    assert len(produced) == seen <= 1  # at most the read it was in: none after
    assert not any(t.name == "geotile-reader" and t.is_alive() for t in threading.enumerate())


def _interrupting_progress(monkeypatch, after: int):
    """progress_bar whose bar raises KeyboardInterrupt at item ``after`` (or update):
    a wrapper that holds the items it was given, as a progress callback may."""
    import geotile.progress

    class Bar:
        def __init__(self, items=None, enabled=False, **options):
            self.items, self.seen = items, 0

        def __iter__(self):
            for item in self.items:
                self.update(1)
                yield item

        def update(self, n=1):
            self.seen += 1
            if self.seen == after:
                raise KeyboardInterrupt

        def close(self):
            pass

    monkeypatch.setattr(geotile.progress, "progress_bar", Bar)


def _readers() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "geotile-reader" and t.is_alive()}


@pytest.mark.parametrize("command", ["tile", "predict", "evaluate"])
def test_an_interrupt_stops_the_reader_before_its_datasets_close(monkeypatch, tmp_path,
                                                                  make_raster, command):
    """Ctrl-C during tile, predict or evaluate, with the patches held by a progress callback
    (or a traceback): the reader thread went on reading the closed dataset (a segfault)
    until garbage collection; it is stopped before the datasets close."""
    from geotile.errors import Interrupted
    from geotile.evaluate import evaluate_rasters
    from geotile.tiling import TileOptions, tile_rasters

    pixels = np.random.default_rng(0).integers(0, 256, (3, 1024, 128), dtype=np.uint8)
    path = make_raster("img.tif", pixels, blockxsize=128, blockysize=16, tiled=True)
    _interrupting_progress(monkeypatch, after=3)
    before = _readers()
    with pytest.raises((KeyboardInterrupt, Interrupted)) as caught:
        if command == "tile":
            tile_rasters([path], None, tmp_path / "out", options=TileOptions(size=32))
        elif command == "predict":
            model = OnnxModel.from_path(conv3x3_model(tmp_path / "m.onnx"))
            predict_raster(model, path, tmp_path / "p.tif", progress=True,
                           options=PredictOptions(tile_size=32, overlap=0, block_size=64))
        else:
            classes = (pixels[0] > 127).astype(np.uint8)
            evaluate_rasters(make_raster("p.tif", classes), make_raster("t.tif", classes),
                             block_size=32)
    assert caught.value is not None  # the traceback, and the frames it holds, still alive
    assert _readers() - before == set()


def test_background_writer_raises_the_first_error_and_waits():
    done = []

    def write(i):
        if i == 1:
            raise OSError("disk full")
        done.append(i)

    with pytest.raises(OSError, match="disk full"), BackgroundWriter(depth=1) as writer:
        for i in range(5):
            writer.submit(write, i)
    assert done == [0]


def test_rows_of_nodata_alone_are_read_no_further_ahead_than_they_are_finished(
        tmp_path, monkeypatch):
    # a mosaic's nodata collar runs no window: its rows were read (masks kept, blocks
    # blended) as fast as the disk gave them, however slowly they were finished and written
    import geotile.blending
    from geotile.predict import ROWS_BEHIND

    model = OnnxModel.from_path(conv3x3_model(tmp_path / "m.onnx"))
    divide = geotile.blending.divide
    monkeypatch.setattr(geotile.blending, "divide",
                        lambda *a: time.sleep(0.001) or divide(*a))  # a slow blender
    read_to = [0]

    def read(left, top, cols, rows):
        read_to[0] = max(read_to[0], top + rows)
        return np.zeros((3, rows, cols), np.uint8), np.zeros((rows, cols), bool)

    ahead, done = [], 0
    for window, _, valid in predict_blocks(model, read, 16, 8 * 300, PredictOptions(
            tile_size=8, overlap=0, block_size=64)):
        assert not valid.any()
        done += window.height
        ahead.append(read_to[0] - done)
    assert done == 8 * 300
    assert max(ahead) <= 8 * (ROWS_BEHIND + 8)  # not the raster's height (2400 rows)


@pytest.mark.parametrize(("tile", "batch", "expected"),
                         [(256, None, 8), (512, None, 2), (1024, None, 1), (1024, 5, 5)])
def test_batches_hold_a_bounded_number_of_pixels(tmp_path, tile, batch, expected):
    model = OnnxModel.from_path(conv3x3_model(tmp_path / "m.onnx"))
    sizes = []
    run = model.run
    model.run = lambda windows: sizes.append(len(windows)) or run(windows)
    pixels = np.zeros((3, 1, 10 * tile), np.uint8)
    predict_array(model, pixels, options=PredictOptions(tile_size=tile, overlap=0,
                                                        batch_size=batch, block_size=10**6))
    assert max(sizes) == expected and sum(sizes) == 10


@pytest.mark.parametrize("height,size,overlap", [(300, 64, 16), (300, 64, 32), (100, 64, 48),
                                                 (64, 64, 0), (50, 64, 16), (500, 64, 0),
                                                 (900, 64, 63)])
def test_window_rows_are_read_once_and_equal_direct_reads(height, size, overlap):
    from geotile.streaming import BandRows

    pixels = np.random.default_rng(3).random((2, height + size, 7)).astype(np.float32)
    valid = pixels[0] > 0.2
    requested = []

    def fill(left, top, cols, rows, out):
        requested.append((top, rows))
        if out is None:
            return pixels[:, top : top + rows].copy(), valid[top : top + rows].copy()
        out[...] = pixels[:, top : top + rows]
        return out, valid[top : top + rows].copy()

    band_rows = BandRows(fill, size)
    grid = Grid(height, height, size, overlap, "shift")
    for top in grid.row_offsets:
        band, band_valid = band_rows.band(0, top, 7)
        np.testing.assert_array_equal(band, pixels[:, top : top + size])
        np.testing.assert_array_equal(band_valid, valid[top : top + size])
    read_rows = [r for top, rows in requested for r in range(top, top + rows)]
    assert sorted(read_rows) == sorted(set(read_rows))  # no row twice
    assert len(read_rows) == grid.row_offsets[-1] + size


def test_band_rows_start_afresh_for_other_columns_or_rows_not_shared():
    from geotile.streaming import BandRows

    pixels = np.arange(2 * 400 * 30, dtype=np.float32).reshape(2, 400, 30)

    def fill(left, top, cols, rows, out):  # returns new arrays: BandRows puts them in place
        part = pixels[:, top : top + rows, left : left + cols]
        return part.copy(), np.ones(part.shape[1:], bool)

    band_rows = BandRows(fill, 32)
    for left, top, cols in [(0, 0, 10), (0, 16, 10), (10, 0, 20), (10, 300, 20), (10, 310, 20),
                            (0, 100, 10)]:
        band, _ = band_rows.band(left, top, cols)
        np.testing.assert_array_equal(band, pixels[:, top : top + 32, left : left + cols])


def test_float32_probabilities_are_zstd_with_the_float_predictor(tmp_path, make_raster, image,
                                                                 monkeypatch):
    from geotile import creation_options

    model = conv3x3_model(tmp_path / "m.onnx")
    src = make_raster("scene.tif", image)
    predict_raster(model, src, tmp_path / "z.tif", options=PredictOptions(tile_size=64))
    monkeypatch.setattr(creation_options, "gtiff_has_zstd", lambda: False)  # a GDAL without it
    predict_raster(model, src, tmp_path / "d.tif", options=PredictOptions(tile_size=64))
    with rasterio.open(tmp_path / "z.tif") as z, rasterio.open(tmp_path / "d.tif") as d:
        assert z.compression.name == "zstd" and d.compression.name == "deflate"
        assert z.tags(ns="IMAGE_STRUCTURE")["PREDICTOR"] == "3"
        np.testing.assert_array_equal(z.read(), d.read())


@pytest.mark.parametrize("height,rows,workers,expected", [
    (6000, 2048, 2, 1500),  # 4 bands, not 2048 + 2048 + 1904 (the last one alone)
    (6000, 2048, 3, 2000),
    (2000, 2048, 2, 1000),  # one tile: both workers share it
    (6000, 2048, 1, 2048),  # no workers: bands as large as allowed
    (300, 2048, 2, 2048),   # small: one band
    (100_000, 2048, 2, 2000),
    (5000, 100, 8, 90),     # 56 bands of 90 (the last 50)
])
def test_even_band_rows_give_each_worker_an_equal_share(height, rows, workers, expected):
    from geotile.streaming import even_band_rows, row_blocks

    assert even_band_rows(height, rows, workers) == expected
    bands = row_blocks(height, expected)
    assert sum(b.rows for b in bands) == height and max(b.rows for b in bands) <= rows
    if workers > 1 and height > rows // workers:
        assert len(bands) % workers == 0
