"""Models exported by others, in the shapes they come in: each must run exactly (compared
with ONNX Runtime run directly) or be refused in one line."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from onnx import helper

from geotile.model import OnnxModel
from geotile.predict import PredictOptions, predict_array, predict_raster

from .onnx_models import FLOAT, conv1x1, ort_run, save_graph


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(3).integers(0, 256, (3, 150, 130), dtype=np.uint8)


def whole(path, image, scale=1 / 255):
    """ONNX Runtime on the whole image at once (NCHW float32 input)."""
    return ort_run(path, (image[np.newaxis].astype(np.float32) * np.float32(scale)))


def nchw_in(name="input", channels=3):
    return [(name, FLOAT, ["N", channels, "H", "W"])]


# --- 1. activation ---------------------------------------------------------------------------
def sigmoid_gather(path, **kw):
    """torch.sigmoid(x)[:, 0]: a final Sigmoid hidden behind a Gather, rank-3 output."""
    conv, weights = conv1x1("input", "logits", 3, 2, seed=1)
    nodes = [conv, helper.make_node("Sigmoid", ["logits"], ["prob"]),
             helper.make_node("Gather", ["prob", "index"], ["output"], axis=1)]
    return save_graph(path, nodes, nchw_in(), [("output", FLOAT, ["N", "H", "W"])],
                      {**weights, "index": np.array(0, np.int64)}, **kw)


def test_sigmoid_behind_gather_is_not_applied_twice(tmp_path, image):
    path = sigmoid_gather(tmp_path / "m.onnx")
    out = predict_array(OnnxModel.from_path(path), image, options=PredictOptions(tile_size=64))
    np.testing.assert_allclose(out, whole(path, image)[0], atol=1e-5)


def test_softmax_behind_slices_and_concat_is_final(tmp_path, image):
    conv, weights = conv1x1("input", "logits", 3, 3, seed=2)
    nodes = [conv, helper.make_node("Softmax", ["logits"], ["prob"], axis=1),
             helper.make_node("Slice", ["prob", "s0", "e0", "ax"], ["a"]),
             helper.make_node("Slice", ["prob", "s1", "e1", "ax"], ["b"]),
             helper.make_node("Concat", ["b", "a"], ["cat"], axis=1),
             helper.make_node("Transpose", ["cat"], ["output"], perm=[0, 2, 3, 1])]
    consts = {"s0": np.array([0]), "e0": np.array([1]), "s1": np.array([1]),
              "e1": np.array([3]), "ax": np.array([1])}
    path = save_graph(tmp_path / "m.onnx", nodes, nchw_in(),
                      [("output", FLOAT, ["N", "H", "W", 3])], {**weights, **consts})
    out = predict_array(OnnxModel.from_path(path), image, options=PredictOptions(tile_size=64))
    np.testing.assert_allclose(out, whole(path, image)[0].transpose(0, 3, 1, 2)[0], atol=1e-5)


def logits_model(path, classes=1, **kw):
    conv, weights = conv1x1("input", "output", 3, classes, seed=4)
    return save_graph(path, [conv], nchw_in(), [("output", FLOAT, ["N", classes, "H", "W"])],
                      weights, **kw)


def test_activation_none_writes_raw_values_unclipped(tmp_path, run_cli, make_raster, image):
    path = logits_model(tmp_path / "m.onnx")
    tif = make_raster("img.tif", image)
    result = run_cli("predict", path, tif, "-o", tmp_path / "raw.tif", "--activation", "none",
                     "--tile-size", "64")
    assert result.exit_code == 0, result.output
    expected = whole(path, image)[0][0]
    assert expected.min() < 0 and expected.max() > 1  # logits, not probabilities
    with rasterio.open(tmp_path / "raw.tif") as raw:
        assert raw.dtypes == ("float32",)
        np.testing.assert_allclose(raw.read(), expected, atol=1e-4)


def test_deepness_model_type_means_final_values(tmp_path, make_raster, image):
    segmentor = logits_model(tmp_path / "s.onnx", classes=2,
                             metadata={"model_type": "Segmentor"})
    out = predict_array(OnnxModel.from_path(segmentor), image,
                        options=PredictOptions(tile_size=64))
    np.testing.assert_allclose(out, whole(segmentor, image)[0][0], atol=1e-4)
    regressor = logits_model(tmp_path / "r.onnx",
                             metadata={"model_type": "Regressor", "reg_output_scaling": 10})
    tif = make_raster("img.tif", image)
    predict_raster(str(regressor), tif, tmp_path / "r.tif",
                   options=PredictOptions(tile_size=64))
    with rasterio.open(tmp_path / "r.tif") as out:
        assert out.dtypes == ("float32",)  # raw values x reg_output_scaling, never clipped
        np.testing.assert_allclose(out.read(), whole(regressor, image)[0][0] * 10, atol=1e-3)
