"""GPU paths (CUDA provider, IO binding, fp16): skipped where no CUDA provider is usable.

Each test runs the same work on the CPU provider and compares: the GPU path must give
the CPU's numbers (fp32 to float rounding, fp16 to its ~1e-3 precision).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import rasterio

from geotile.model import OnnxModel
from geotile.model_file import float16_copy
from geotile.predict import PredictOptions, predict_array, predict_raster
from geotile.providers import usable_providers

from .onnx_models import conv3x3_model, conv3x3_reference, pointwise_model

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif("cuda" not in usable_providers(),
                                 reason="no usable CUDA provider")]


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(5).integers(0, 256, (3, 333, 290), dtype=np.uint8)


def test_auto_picks_cuda_quietly(tmp_path):
    path = pointwise_model(tmp_path / "m.onnx")
    code = ("from geotile.model import OnnxModel;"
            f"print(OnnxModel.from_path({str(path)!r}).provider)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "CUDAExecutionProvider"
    assert out.stderr == ""


@pytest.mark.parametrize("variant", [{}, {"layout": "NHWC"}, {"size": 64, "batch": 3},
                                     {"classes": 4, "activation": "softmax"}])
def test_cuda_predictions_equal_cpu(tmp_path, image, variant):
    path = conv3x3_model(tmp_path / "m.onnx", **variant)
    options = PredictOptions(tile_size=64, batch_size=5)
    cpu = predict_array(OnnxModel.from_path(path, providers="cpu"), image, options=options)
    gpu_model = OnnxModel.from_path(path, providers="cuda")
    assert gpu_model.provider == "CUDAExecutionProvider"
    gpu = predict_array(gpu_model, image, options=options)
    np.testing.assert_allclose(gpu, cpu, atol=1e-4)


def test_fp16_is_close_to_fp32(tmp_path, image):
    path = conv3x3_model(tmp_path / "m.onnx")
    copy = float16_copy(path)
    assert copy != path and copy.exists()
    assert float16_copy(path) == copy  # cached by content
    fp32 = predict_array(OnnxModel.from_path(path, providers="cuda"), image)
    fp16 = predict_array(OnnxModel.from_path(path, providers="cuda", fp16=True), image)
    assert np.abs(fp16 - fp32).max() < 5e-3
    expected = conv3x3_reference(image[np.newaxis].astype(np.float32) / 255)[0]
    assert np.abs(fp16 - expected).max() < 0.02  # tiled fp16 still matches the whole image


def test_cli_cuda_fp16_raster_equals_cpu(tmp_path, make_raster, image, run_cli):
    tif = make_raster("img.tif", image)
    model = pointwise_model(tmp_path / "m.onnx")
    for name, extra in (("cpu.tif", ["--providers", "cpu"]),
                        ("gpu.tif", ["--providers", "cuda", "--fp16"])):
        result = run_cli("predict", model, tif, "-o", tmp_path / name, "--tile-size", "128",
                         *extra)
        assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "cpu.tif") as cpu, rasterio.open(tmp_path / "gpu.tif") as gpu:
        assert (gpu.transform, gpu.crs, gpu.shape) == (cpu.transform, cpu.crs, cpu.shape)
        difference = np.abs(gpu.read(1).astype(int) - cpu.read(1).astype(int))
    assert difference.max() <= 1  # uint8 probabilities: one level at most


def test_predict_raster_on_cuda_reports_the_provider(tmp_path, make_raster, image):
    tif = make_raster("img.tif", image)
    model = OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx"), providers="cuda")
    summary = predict_raster(model, tif, tmp_path / "p.tif")
    assert summary["provider"] == "CUDAExecutionProvider"


@pytest.mark.skipif("tensorrt" not in usable_providers(), reason="no usable TensorRT provider")
def test_tensorrt_equals_cpu_and_caches_its_engine(tmp_path, image, monkeypatch):
    monkeypatch.setenv("GEOTILE_TENSORRT_CACHE", str(tmp_path / "engines"))
    path = conv3x3_model(tmp_path / "m.onnx")
    options = PredictOptions(tile_size=64, batch_size=4)
    cpu = predict_array(OnnxModel.from_path(path, providers="cpu"), image, options=options)
    trt = OnnxModel.from_path(path, providers="tensorrt", tile_size=64, batch_size=4)
    assert trt.provider == "TensorrtExecutionProvider"
    np.testing.assert_allclose(predict_array(trt, image, options=options), cpu, atol=1e-3)
    assert any((tmp_path / "engines").iterdir())  # the next run loads the engine
