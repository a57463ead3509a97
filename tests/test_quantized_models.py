"""Converted and quantised models (int8 QDQ/QOperator, uint8 outputs, float16, ONNX
Runtime's saved optimisations) through predict: ONNX Runtime's values, or one line."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .conftest import assert_one_line_error
from .onnx_models import FLOAT, UINT8, conv1x1, save_graph


def test_a_uint8_output_of_a_final_quantize_linear_is_refused_naming_its_dequantization(
        tmp_path, make_raster, run_cli):
    """An int8 model whose output is its QuantizeLinear's uint8 codes (the DequantizeLinear
    after it dropped, or a full-integer TFLite model converted): the refusal said 'Export the
    model's float scores (without the final Cast to uint8)', a Cast it has not. It names the
    QuantizeLinear, its scale and zero point, and the DequantizeLinear that gives scores."""
    conv, weights = conv1x1("input", "logits", 3, 2, seed=4)
    nodes = [conv, helper.make_node("QuantizeLinear", ["logits", "y_scale", "y_zero"],
                                    ["codes"], name="output_quantize"),
             helper.make_node("Identity", ["codes"], ["output"])]
    model = save_graph(tmp_path / "int8.onnx", nodes, [("input", FLOAT, ["N", 3, "H", "W"])],
                       [("output", UINT8, ["N", 2, "H", "W"])],
                       {**weights, "y_scale": np.array(0.05, np.float32),
                        "y_zero": np.array(128, np.uint8)}, ir_version=10)
    image = make_raster("image.tif", np.random.default_rng(0).integers(
        0, 256, (3, 32, 32), dtype=np.uint8))
    out = tmp_path / "out.tif"
    result = run_cli("predict", str(model), str(image), "-o", str(out), "--tile-size", "32",
                     "--overlap", "0")
    assert_one_line_error(result, str(model), "uint8", "QuantizeLinear 'output_quantize'",
                          "scale 0.05, zero point 128", "DequantizeLinear")
    assert "Cast" not in result.stderr and not out.exists()


def test_fp16_on_a_model_saved_with_ort_cpu_layout_ops_runs_it_as_it_is(tmp_path, monkeypatch,
                                                                      caplog):
    """A model ONNX Runtime saved optimised at ORT_ENABLE_ALL (optimized_model_filepath)
    holds its CPU's blocked-layout ops (com.microsoft.nchwc ReorderInput, Conv...): --fp16
    on a GPU provider was 'ONNX Runtime cannot load the model (... Type 'tensor(float16)' of
    input parameter ...)', the float16 copy invalid. It now runs as it is, with a warning
    naming the ops and the fix."""
    import onnxruntime as ort
    import pytest
    from onnx import helper

    import geotile.model as model_module
    from geotile.model import OnnxModel

    from .onnx_models import ort_run

    monkeypatch.setenv("GEOTILE_CACHE", str(tmp_path / "cache"))
    widen, first = conv1x1("input", "wide", 3, 16, seed=5, prefix="a")
    last, second = conv1x1("back", "output", 16, 2, seed=6, prefix="b")
    nodes = [widen, helper.make_node("ReorderInput", ["wide"], ["blocked"],
                                     domain="com.microsoft.nchwc"),
             helper.make_node("ReorderOutput", ["blocked"], ["back"], channels=16,
                              domain="com.microsoft.nchwc"), last]
    graph = helper.make_graph(nodes, "optimised", [
        helper.make_tensor_value_info("input", FLOAT, ["N", 3, "H", "W"])], [
        helper.make_tensor_value_info("output", FLOAT, ["N", 2, "H", "W"])], [
        numpy_helper.from_array(np.asarray(v), k) for k, v in {**first, **second}.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft.nchwc",
                                                                        1)])
    model.ir_version = 10
    path = tmp_path / "optimised.onnx"
    onnx.save(model, str(path))
    try:
        ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception:  # a CPU without NCHWc kernels (ARM): ONNX Runtime never saves these
        pytest.skip("this CPU's ONNX Runtime has no com.microsoft.nchwc kernels")
    monkeypatch.setattr(model_module, "choose_providers",
                        lambda requested: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    batch = np.random.default_rng(1).random((2, 3, 8, 8), dtype=np.float32)
    with caplog.at_level("WARNING", logger="geotile"):
        loaded = OnnxModel.from_path(path, fp16=True, activation="none")
    assert "--fp16 ignored" in caplog.text and "com.microsoft.nchwc" in caplog.text
    assert "optimised.onnx" in caplog.text and "ORT_ENABLE_EXTENDED" in caplog.text
    np.testing.assert_allclose(loaded.run(batch), ort_run(path, batch)[0], atol=1e-5)
