"""Converted and quantised models (int8 QDQ/QOperator, uint8 outputs, float16, ONNX
Runtime's saved optimisations) through predict: ONNX Runtime's values, or one line."""

from __future__ import annotations

import numpy as np
from onnx import helper

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
