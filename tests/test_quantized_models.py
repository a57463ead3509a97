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


def test_probabilities_cut_by_the_final_quantization_are_warned_of(tmp_path, make_raster,
                                                                   run_cli):
    """quantize_static calibrated on windows without the class: the QuantizeLinear after the
    final Sigmoid spans 0..0.6 (scale 0.6 / 255), every probability above 0.6 came out 0.6,
    and --output-type class never reached 0.5's class where it should, without a word. The
    values are still ONNX Runtime's, and a warning names the ceiling and the fix."""
    import rasterio

    from .onnx_models import ort_run

    conv, weights = conv1x1("input", "logits", 3, 1, seed=7)
    weights["c_W"] = np.full((1, 3, 1, 1), 4.0, np.float32)
    weights["c_B"] = np.array([-6.0], np.float32)
    nodes = [conv, helper.make_node("Sigmoid", ["logits"], ["p"]),
             helper.make_node("QuantizeLinear", ["p", "s", "z"], ["q"], name="p_quantize"),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["output"])]
    model = save_graph(tmp_path / "int8.onnx", nodes, [("input", FLOAT, ["N", 3, "H", "W"])],
                       [("output", FLOAT, ["N", 1, "H", "W"])],
                       {**weights, "s": np.array(0.6 / 255, np.float32),
                        "z": np.array(0, np.uint8)}, ir_version=10)
    pixels = np.random.default_rng(2).integers(0, 256, (3, 32, 32), dtype=np.uint8)
    image = make_raster("image.tif", pixels)
    out = tmp_path / "out.tif"
    result = run_cli("predict", str(model), str(image), "-o", str(out), "--tile-size", "32",
                     "--overlap", "0")
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if "0.6" in line]
    assert len(warned) == 1 and "int8.onnx" in warned[0], result.stderr
    assert "QuantizeLinear 'p_quantize'" in warned[0] and "calibrat" in warned[0]
    with rasterio.open(out) as written:
        got = written.read(1)
    expected = ort_run(model, pixels[None].astype(np.float32) / 255)[0][0, 0]
    assert abs(expected.max() - 0.6) < 1e-6 and (expected == expected.max()).mean() > 0.2
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_resize_scales_through_a_dequantize_linear_are_refused(tmp_path, make_raster, run_cli):
    """quantize_static of an opset 9/10 export (Upsample, made Resize-10) quantises the
    scales the export computes with a Concat: they come through QuantizeLinear and
    DequantizeLinear as 1.0039, not 1, and ONNX Runtime failed on a channel count ('Input
    channels C is not equal to kernel channels * group. C: 191 kernel channels: 192'),
    told as 'Try another --tile-size'. It is refused before it runs, naming the fix."""
    conv, weights = conv1x1("input", "features", 3, 2, seed=9)
    nodes = [conv, helper.make_node("Concat", ["one", "two"], ["scales"], axis=0),
             helper.make_node("QuantizeLinear", ["scales", "s", "z"], ["q"]),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["dq"]),
             helper.make_node("Resize", ["features", "dq"], ["output"], mode="nearest",
                              name="upsample")]
    model = save_graph(tmp_path / "int8.onnx", nodes, [("input", FLOAT, ["N", 3, "H", "W"])],
                       [("output", FLOAT, ["N", 2, "H2", "W2"])],
                       {**weights, "one": np.array([1, 1], np.float32),
                        "two": np.array([2, 2], np.float32),
                        "s": np.array(2 / 255, np.float32), "z": np.array(0, np.uint8)},
                       opset=10, ir_version=10)
    image = make_raster("image.tif", np.random.default_rng(0).integers(
        0, 256, (3, 32, 32), dtype=np.uint8))
    out = tmp_path / "out.tif"
    result = run_cli("predict", str(model), str(image), "-o", str(out), "--tile-size", "32",
                     "--overlap", "0")
    assert_one_line_error(result, str(model), "Resize 'upsample'", "scales",
                          "DequantizeLinear", "opset 13")
    assert "--tile-size" not in result.stderr and not out.exists()


def test_a_float16_conversion_onnx_runtime_cannot_load_names_the_fix(tmp_path, make_raster,
                                                                     run_cli):
    """onnxconverter_common's convert_float_to_float16 of an opset 9/10 export (Upsample)
    declares a Cast's float output float16 (value_info): the refusal was 'ONNX Runtime cannot
    load the model (... Type Error: Type (tensor(float16)) of output arg ...)', no fix. It
    names the float32 model with --fp16 (geotile's own copy loads) and an opset 11 export."""
    from .onnx_models import FLOAT16

    conv, weights = conv1x1("input", "features", 3, 2, seed=10)
    weights = {k: v.astype(np.float16) for k, v in weights.items()}
    nodes = [conv, helper.make_node("Cast", ["features"], ["wide"], to=FLOAT, name="cast"),
             helper.make_node("Cast", ["wide"], ["output"], to=FLOAT16)]
    path = save_graph(tmp_path / "fp16.onnx", nodes, [("input", FLOAT16, ["N", 3, "H", "W"])],
                      [("output", FLOAT16, ["N", 2, "H", "W"])], weights, ir_version=10)
    model = onnx.load(str(path))  # as the converter writes it
    model.graph.value_info.append(helper.make_tensor_value_info("wide", FLOAT16,
                                                                ["N", 2, "H", "W"]))
    onnx.save(model, str(path))
    image = make_raster("image.tif", np.random.default_rng(0).integers(
        0, 256, (3, 32, 32), dtype=np.uint8))
    result = run_cli("predict", str(path), str(image), "-o", str(tmp_path / "out.tif"))
    assert_one_line_error(result, str(path), "float16", "Type Error", "float32 model",
                          "--fp16", "opset 11")


def test_fp16_on_a_mixed_precision_model_keeps_its_float32_ops(tmp_path, monkeypatch, caplog):
    """auto_mixed_precision keeps in float32 the ops whose values float16 cannot hold: --fp16
    on a GPU provider converted them too (a Conv reaching 225000 and a Div by 1e5, past
    float16's 65504: 2.26 came out 3.45). A model already holding float16 now runs as it
    is, with a warning."""
    from onnx import TensorProto

    import geotile.model as model_module
    from geotile.model import OnnxModel

    from .onnx_models import ort_run

    monkeypatch.setenv("GEOTILE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(model_module, "choose_providers",
                        lambda requested: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    half, first = conv1x1("half_in", "half_out", 3, 2, seed=11, prefix="a")
    first = {k: v.astype(np.float16) for k, v in first.items()}
    wide = {"b_W": np.full((1, 2, 1, 1), 30000.0, np.float32), "b_B": np.zeros(1, np.float32),
            "d": np.array(1e5, np.float32)}
    nodes = [helper.make_node("Cast", ["input"], ["half_in"], to=TensorProto.FLOAT16), half,
             helper.make_node("Cast", ["half_out"], ["back"], to=FLOAT),
             helper.make_node("Relu", ["back"], ["r"]),
             helper.make_node("Conv", ["r", "b_W", "b_B"], ["big"], kernel_shape=[1, 1]),
             helper.make_node("Div", ["big", "d"], ["output"])]
    path = save_graph(tmp_path / "mixed.onnx", nodes, [("input", FLOAT, ["N", 3, "H", "W"])],
                      [("output", FLOAT, ["N", 1, "H", "W"])], {**first, **wide},
                      ir_version=10)
    batch = np.random.default_rng(3).random((1, 3, 8, 8), dtype=np.float32) + 2
    expected = ort_run(path, batch)[0]
    assert np.isfinite(expected).all() and expected.max() > 65504 / 1e5
    with caplog.at_level("WARNING", logger="geotile"):
        loaded = OnnxModel.from_path(path, fp16=True, activation="none")
    assert "--fp16 ignored" in caplog.text and "mixed.onnx" in caplog.text
    np.testing.assert_allclose(loaded.run(batch), expected, rtol=1e-6)


def _final_quantization_model(path, nodes, initializers, opset=17):
    """A 1x1 convolution, a final Sigmoid and ``nodes`` quantising its ``p`` to ``output``."""
    conv, weights = conv1x1("input", "logits", 3, 1, seed=7)
    return save_graph(path, [conv, helper.make_node("Sigmoid", ["logits"], ["p"]), *nodes],
                      [("input", FLOAT, ["N", 3, "H", "W"])], [("output", FLOAT,
                                                                 ["N", 1, "H", "W"])],
                      {**weights, **initializers}, opset=opset, ir_version=10)


def test_a_final_quantization_is_read_by_its_zero_points_type_wherever_it_is(
        tmp_path, make_raster, run_cli):
    """The codes' range was read from an initializer's type only, else taken as uint8: a
    16-bit QDQ model (com.microsoft QuantizeLinear, scale 1/65535 for 0..1) whose zero point
    is a Constant node, or an opset 21 one declaring uint16 by output_dtype, was warned of
    as 'codes end at 0.00389' (255 codes) though they reach 1; an int8 zero point in a
    Constant node (scale 0.5/127: probabilities end at 0.5) went unwarned (255 codes: 1.0)."""
    from onnx import TensorProto

    pixels = np.random.default_rng(2).integers(0, 256, (3, 32, 32), dtype=np.uint8)
    image = make_raster("image.tif", pixels)

    def zero(dtype):
        return helper.make_node("Constant", [], ["z"], value=numpy_helper.from_array(
            np.array(0, dtype)))

    def qdq(domain="", zero_point=("z",), **attributes):
        return [helper.make_node("QuantizeLinear", ["p", "s", *zero_point], ["q"],
                                 domain=domain, **attributes),
                helper.make_node("DequantizeLinear", ["q", "s", *zero_point], ["output"],
                                 domain=domain)]

    models = {
        "uint16.onnx": ([zero(np.uint16), *qdq("com.microsoft")], 1 / 65535, 17, None),
        "opset21.onnx": (qdq(zero_point=(), output_dtype=TensorProto.UINT16), 1 / 65535, 21,
                         None),
        "int8.onnx": ([zero(np.int8), *qdq()], 0.5 / 127, 17, "0.5"),
    }
    for name, (nodes, scale, opset, ceiling) in models.items():
        model = _final_quantization_model(tmp_path / name, nodes,
                                          {"s": np.array(scale, np.float32)}, opset)
        out = tmp_path / f"{name}.tif"
        result = run_cli("predict", str(model), str(image), "-o", str(out), "--tile-size",
                         "32", "--overlap", "0")
        assert result.exit_code == 0, result.output
        warned = [line for line in result.stderr.splitlines() if "quantised by" in line]
        if ceiling is None:
            assert not warned, result.stderr
        else:
            assert len(warned) == 1 and f"end at {ceiling}" in warned[0], result.stderr


def test_fp16_converts_a_float32_model_holding_one_float16_constant_cast_back(
        tmp_path, monkeypatch, caplog):
    """A float32 model whose one float16 constant (a mean kept in half precision) is only
    Cast to float32 before use: --fp16 on a GPU provider left it float32, warned of as
    'float16 already (float16 weights (mean))'. Its float16 copy is made and run."""
    from onnx import TensorProto

    import geotile.model as model_module
    from geotile.model import OnnxModel

    from .onnx_models import ort_run

    monkeypatch.setenv("GEOTILE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(model_module, "choose_providers",
                        lambda requested: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    conv, weights = conv1x1("centred", "output", 3, 2, seed=12)
    nodes = [helper.make_node("Cast", ["mean"], ["mean32"], to=TensorProto.FLOAT),
             helper.make_node("Sub", ["input", "mean32"], ["centred"]), conv]
    path = save_graph(tmp_path / "float32.onnx", nodes, [("input", FLOAT, ["N", 3, "H", "W"])],
                      [("output", FLOAT, ["N", 2, "H", "W"])],
                      {**weights, "mean": np.full((1, 3, 1, 1), 0.5, np.float16)},
                      ir_version=10)
    batch = np.random.default_rng(3).random((1, 3, 8, 8), dtype=np.float32)
    with caplog.at_level("WARNING", logger="geotile"):
        loaded = OnnxModel.from_path(path, fp16=True, activation="none")
    assert "--fp16 ignored" not in caplog.text, caplog.text
    assert list((tmp_path / "cache").glob("float32.*.onnx"))  # its float16 copy runs
    np.testing.assert_allclose(loaded.run(batch), ort_run(path, batch)[0], atol=2e-2)
