"""Busy time per stage (geotile.stage_clock) and what predict reports with it; the
collector pause of geotile.gc_pause."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from geotile.model import OnnxModel
from geotile.predict import PredictOptions, predict_raster
from geotile.stage_clock import PREDICT_STAGES, StageClock

from .onnx_models import pointwise_model


class _ThreadClocks:
    """A perf_counter of its own per thread, moved on only by :meth:`sleep` (and 1 µs each
    read): stage seconds known exactly, whatever the machine's load."""

    def __init__(self):
        self._local = threading.local()

    def _now(self) -> float:
        return getattr(self._local, "now", 0.0)

    def perf_counter(self) -> float:
        self._local.now = self._now() + 1e-6
        return self._local.now

    def sleep(self, seconds: float) -> None:
        self._local.now = self._now() + seconds


@pytest.fixture
def clocks(monkeypatch):
    from geotile import stage_clock

    clocks = _ThreadClocks()
    monkeypatch.setattr(stage_clock, "time", clocks)
    return clocks


def test_clock_sums_time_per_stage_across_threads_and_errors(clocks):
    clock = StageClock()
    together = threading.Barrier(3)

    def nap():
        with clock.timing("model"):
            together.wait()  # all three inside at once
            clocks.sleep(0.05)

    threads = [threading.Thread(target=nap) for _ in range(3)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    failing = clock.timed("blend", lambda: (clocks.sleep(0.02), 1 / 0))
    with pytest.raises(ZeroDivisionError):
        failing()
    seconds = clock.seconds()
    assert list(seconds) == list(PREDICT_STAGES)
    assert seconds["model"] == pytest.approx(0.15, abs=1e-5)  # three overlapping naps, summed
    assert seconds["blend"] == pytest.approx(0.02, abs=1e-5)  # timed although it raised
    assert seconds["decode"] == 0.0
    assert clock.describe().startswith("decode 0.0 s, normalise 0.0 s, model 0.2 s, blend 0.0")


def _image(tmp_path, size=300):
    pixels = np.random.default_rng(1).integers(0, 256, (3, size, size), np.uint8)
    path = tmp_path / "image.tif"
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=3,
                       dtype="uint8", crs="EPSG:32633",
                       transform=from_origin(500000, 5800000, 0.5, 0.5)) as dst:
        dst.write(pixels)
    return path


@pytest.mark.parametrize("path", ["plain", "mosaic", "resampled"])
def test_predict_reports_the_model_time_it_spent(tmp_path, monkeypatch, path, clocks):
    """A model made 30 ms slower a batch shows it in ``model``, and in no other stage (the
    stages' clocks moved only by that sleep: no stage's real time compared)."""
    image = _image(tmp_path)
    model = OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx"), providers="cpu",
                                tile_size=64)
    calls, run = [], model.run

    def slow_run(batch):
        calls.append(len(batch))
        time.sleep(0.03)  # the run's wall time, summary["seconds"], holds it
        clocks.sleep(0.03)
        return run(batch)

    monkeypatch.setattr(model, "run", slow_run)
    # resampled: the model runs on 0.25 m pixels, twice as many windows a side
    options = PredictOptions(tile_size=64, overlap=16, batch_size=4,
                             model_resolution=0.25 if path == "resampled" else None)
    if path == "mosaic":
        from geotile.mosaic import open_mosaic

        summary = predict_raster(model, image, tmp_path / "p.tif", options=options,
                                 mosaic=open_mosaic([image]))
    else:
        summary = predict_raster(model, image, tmp_path / "p.tif", options=options)
    stages = summary["stage_seconds"]
    assert list(stages) == list(PREDICT_STAGES)
    slept = 0.03 * len(calls)
    # 6 x 6 windows of 64 px, stride 48, on 300 px; 13 x 13 on 600 px
    assert len(calls) >= 9 and sum(calls) == (169 if path == "resampled" else 36)
    assert slept <= stages["model"] <= summary["seconds"]
    for stage in ("decode", "normalise", "blend", "encode"):
        assert 0 < stages[stage] < slept, stage


def test_cli_json_and_verbose_log_carry_the_stages(tmp_path, run_cli):
    image = _image(tmp_path, 128)
    model = pointwise_model(tmp_path / "m.onnx")
    result = run_cli("-v", "predict", model, image, "-o", tmp_path / "p.tif", "--providers",
                     "cpu", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout[result.stdout.index("["):])[0]
    assert set(summary["stage_seconds"]) == set(PREDICT_STAGES)
    assert summary["stage_seconds"]["model"] > 0
    assert "image.tif: busy time per stage (threads overlap): decode " in result.stderr


def test_gc_paused_restores_the_collector_as_it_was():
    import gc

    from geotile.gc_pause import gc_paused

    assert gc.isenabled()
    with pytest.raises(KeyError), gc_paused():
        assert not gc.isenabled()
        raise KeyError
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # a caller that turned it off keeps it off
    finally:
        gc.enable()


def test_a_skipped_image_reports_the_same_keys_with_no_time(tmp_path):
    image = _image(tmp_path, 128)
    model = OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx"), providers="cpu")
    first = predict_raster(model, image, tmp_path / "p.tif", resume=True)
    again = predict_raster(model, image, tmp_path / "p.tif", resume=True)
    assert again["skipped"] and set(again) - {"skipped"} == set(first)
    assert again["stage_seconds"] == dict.fromkeys(PREDICT_STAGES, 0.0)
    assert first["stage_seconds"]["model"] > 0
