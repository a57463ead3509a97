"""Models exported by others, in the shapes they come in: each must run exactly (compared
with ONNX Runtime run directly) or be refused in one line."""

from __future__ import annotations

import contextlib
import dataclasses
import json

import numpy as np
import onnx
import pytest
import rasterio
from onnx import helper
from rasterio.enums import ColorInterp

from geotile.model import OnnxModel
from geotile.predict import PredictOptions, predict_array, predict_raster

from .conftest import assert_one_line_error
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


def _activated_then(path, tail: str, classes: int):
    """A final Sigmoid/Softmax followed by value-preserving or rescaling ops, as exports
    write them: Clip(0, 1), Mul by a constant, a two-channel [1 - p, p] from one sigmoid."""
    conv, weights = conv1x1("input", "logits", 3, classes, seed=7)
    act = (helper.make_node("Sigmoid", ["logits"], ["prob"]) if classes == 1 else
           helper.make_node("Softmax", ["logits"], ["prob"], axis=1))
    consts = {"zero": np.array(0, np.float32), "one": np.array(1, np.float32),
              "k": np.array(100, np.float32)}
    tails = {
        "clip": [helper.make_node("Clip", ["prob", "zero", "one"], ["output"])],
        "mul": [helper.make_node("Mul", ["prob", "k"], ["output"])],
        "pair": [helper.make_node("Sub", ["one", "prob"], ["back"]),
                 helper.make_node("Concat", ["back", "prob"], ["output"], axis=1)],
        "constant-node": [helper.make_node("Constant", [], ["c"], value=helper.make_tensor(
                              "c", FLOAT, [], [1.0])),
                          helper.make_node("Min", ["prob", "c"], ["output"])],
    }
    out_classes = 2 if tail == "pair" else classes
    return save_graph(path, [conv, act, *tails[tail]], nchw_in(),
                      [("output", FLOAT, ["N", out_classes, "H", "W"])], {**weights, **consts})


@pytest.mark.parametrize(("tail", "classes"), [("clip", 1), ("pair", 1),
                                               ("constant-node", 1), ("clip", 3)])
def test_activation_behind_elementwise_ops_is_not_applied_twice(tmp_path, image, tail,
                                                                 classes):
    path = _activated_then(tmp_path / "m.onnx", tail, classes)
    model = OnnxModel.from_path(path)
    assert {o.activation for o in model.outputs} == {"none"}
    out = predict_array(model, image, options=PredictOptions(tile_size=64))
    np.testing.assert_allclose(out, whole(path, image)[0][0], atol=1e-5)


@pytest.mark.parametrize("form", ["qdq", "qoperator"])
@pytest.mark.parametrize("classes", [1, 3])
def test_a_statically_quantized_activation_is_not_applied_twice(tmp_path, image, form,
                                                                 classes):
    """onnxruntime.quantization.quantize_static ends a model's Sigmoid/Softmax in
    QuantizeLinear + DequantizeLinear (QDQ) or makes it a com.microsoft QLinearSigmoid /
    QLinearSoftmax then DequantizeLinear (QOperator): -v said 'activation sigmoid' and a
    one-class model's probabilities were written as sigmoid(p), 0.5..0.73 (softmax twice
    flattened them, 0.21..0.58 for 0.0..0.99). The graph's values are written as they are."""
    import onnx

    conv, weights = conv1x1("input", "logits", 3, classes, seed=9)
    axis = {"axis": 1} if classes > 1 else {}
    act = "Sigmoid" if classes == 1 else "Softmax"
    consts = {"ls": np.array(0.05, np.float32), "lz": np.array(128, np.uint8),
              "s": np.array(1 / 256, np.float32), "z": np.array(0, np.uint8)}
    if form == "qdq":
        tail = [helper.make_node(act, ["logits"], ["prob"], **axis),
                helper.make_node("QuantizeLinear", ["prob", "s", "z"], ["q"])]
    else:
        tail = [helper.make_node("QuantizeLinear", ["logits", "ls", "lz"], ["ql"]),
                helper.make_node(f"QLinear{act}", ["ql", "ls", "lz", "s", "z"], ["q"],
                                 domain="com.microsoft",
                                 **({**axis, "opset": 17} if classes > 1 else {}))]
    nodes = [conv, *tail, helper.make_node("DequantizeLinear", ["q", "s", "z"], ["output"])]
    path = save_graph(tmp_path / "m.onnx", nodes, nchw_in(),
                      [("output", FLOAT, ["N", classes, "H", "W"])], {**weights, **consts})
    exported = onnx.load(str(path))
    exported.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(exported, str(path))
    model = OnnxModel.from_path(path)
    assert [o.activation for o in model.outputs] == ["none"]
    out = predict_array(model, image, options=PredictOptions(tile_size=64))
    expected = whole(path, image)[0][0]
    assert np.ptp(expected) > 0.3  # a second activation would squeeze them
    np.testing.assert_allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize(("graph", "classes", "declared", "warned"), [
    ("sigmoid", 1, "sigmoid", False), ("sigmoid", 1, "Sigmoid", False),
    ("softmax", 4, "softmax", False), ("softmax", 4, "sigmoid", True),
    ("sigmoid", 1, "softmax", True), ("sigmoid", 3, "softmax", True)])
def test_a_declared_activation_the_graph_ends_in_is_not_applied_twice(
        tmp_path, run_cli, make_raster, image, caplog, graph, classes, declared, warned):
    """metadata activation=sigmoid on a graph ending in Sigmoid wrote sigmoid(p), 0.58..0.71:
    every pixel class 1 where p >= 0.5 held for 91 %; softmax twice flattened p. The graph's
    own values are written; a declared activation that disagrees with it is warned."""
    from .onnx_models import pointwise_model

    path = pointwise_model(tmp_path / "m.onnx", classes=classes, activation=graph,
                           metadata={"activation": declared})
    with caplog.at_level("WARNING", logger="geotile"):
        model = OnnxModel.from_path(path)
        out = predict_array(model, image, options=PredictOptions(tile_size=64))
    np.testing.assert_allclose(out, whole(path, image)[0][0], atol=1e-5)
    assert ("activation=" + declared.lower() in caplog.text
            and graph.capitalize() in caplog.text) == warned, caplog.text
    tif = make_raster("img.tif", image)
    result = run_cli("predict", path, tif, "-o", tmp_path / "c.tif", "--output-type", "class")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "c.tif") as written:
        p = whole(path, image)[0][0]
        expected = p.argmax(axis=0) if graph == "softmax" else np.where(
            p.max(axis=0) >= 0.5, p.argmax(axis=0) + 1, 0)  # sigmoids: background first
        assert (written.read(1) == expected).mean() > 0.999


def test_logits_scaled_by_a_constant_still_get_the_activation(tmp_path):
    conv, weights = conv1x1("input", "logits", 3, 1, seed=8)
    path = save_graph(tmp_path / "m.onnx", [conv, helper.make_node("Mul", ["logits", "k"],
                                                                   ["output"])],
                      nchw_in(), [("output", FLOAT, ["N", 1, "H", "W"])],
                      {**weights, "k": np.array(2, np.float32)})
    assert [o.activation for o in OnnxModel.from_path(path).outputs] == ["sigmoid"]


@pytest.mark.parametrize(("tail", "classes", "seen"), [("mul", 1, "Sigmoid then Mul"),
                                                       ("mul", 3, "Softmax then Mul"),
                                                       ("tanh", 1, "Tanh")])
def test_a_scaled_activation_or_tanh_is_refused(tmp_path, run_cli, make_raster, image, tail,
                                                classes, seen):
    """Sigmoid x 100 (percent) or Softmax x 255 were taken as probabilities 0..1 (class output
    all 1, uint8 all 255); Tanh's -1..1 too. Neither probabilities nor logits: refused in one
    line; --activation none writes the raw values."""
    from .conftest import assert_one_line_error

    if tail == "tanh":
        conv, weights = conv1x1("input", "z", 3, 1, seed=9)
        path = save_graph(tmp_path / "m.onnx", [conv, helper.make_node("Tanh", ["z"], ["output"])],
                          nchw_in(), [("output", FLOAT, ["N", 1, "H", "W"])], weights)
    else:
        path = _activated_then(tmp_path / "m.onnx", tail, classes)
    tif = make_raster("img.tif", image)
    for extra in ([], ["--output-type", "class"], ["--dtype", "uint8"]):
        result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", *extra)
        assert_one_line_error(result, "m.onnx", seen, "--activation none")
        assert not (tmp_path / "o.tif").exists()
    result = run_cli("predict", path, tif, "-o", tmp_path / "raw.tif", "--activation", "none",
                     "--tile-size", "64")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "raw.tif") as raw:
        np.testing.assert_allclose(raw.read(), whole(path, image)[0][0], atol=1e-4)


@pytest.mark.parametrize(("classes", "low", "high"), [(1, 0.0, 1.0), (80, 0.5, 1.0),
                                                      (1, 0.0, 100.0)])
def test_an_activation_times_a_large_constant_is_read_by_its_values(tmp_path, run_cli,
                                                                   make_raster, image, classes,
                                                                   low, high):
    """Sigmoid x a 64 x 64 weight map in 0..1, Softmax over 80 classes x per-class weights
    0.5..1 ([1, 80, 1, 1]): constants of more than 64 values were read as -inf..inf and the
    models refused as 'gives values -inf..inf'. Within 0..1 they are written as the model
    gives them; a map of 0..100 is refused in one line with the values it gives."""
    from .conftest import assert_one_line_error

    conv, weights = conv1x1("input", "logits", 3, classes, seed=34)
    act = (helper.make_node("Sigmoid", ["logits"], ["prob"]) if classes == 1 else
           helper.make_node("Softmax", ["logits"], ["prob"], axis=1))
    shape = (1, 1, 64, 64) if classes == 1 else (1, classes, 1, 1)
    factor = np.linspace(low, high, int(np.prod(shape)), dtype=np.float32).reshape(shape)
    path = save_graph(tmp_path / "m.onnx",
                      [conv, act, helper.make_node("Mul", ["prob", "w"], ["output"])],
                      [("input", FLOAT, ["N", 3, 64, 64])],
                      [("output", FLOAT, ["N", classes, 64, 64])], {**weights, "w": factor})
    tile = image[:, :64, :64]
    result = run_cli("predict", path, make_raster("img.tif", tile), "-o", tmp_path / "o.tif",
                     "--tile-size", "64")
    if high > 1:
        assert_one_line_error(result, "m.onnx", "--activation none")
        assert "inf" not in result.stderr and "gives 0" in result.stderr
        return
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "o.tif") as out:
        np.testing.assert_allclose(out.read(), whole(path, tile)[0][0], atol=1e-5)


def test_a_cubic_upsampling_of_probabilities_is_clipped_not_refused(tmp_path, run_cli,
                                                                     make_raster):
    """Sigmoid at half resolution, then Resize(cubic) x2 (a head upsampled at the end)
    overshoots 0..1 (about -0.2..1.2): it was refused as not probabilities at run time
    (linear was accepted). Cubic Resize of probabilities stays probabilities: written
    clipped to 0..1."""
    make = helper.make_node
    conv = make("Conv", ["input", "W", "B"], ["z"], kernel_shape=[1, 1])
    weights = {"W": np.full((1, 3, 1, 1), 1, np.float32), "B": np.array([-1.5], np.float32)}
    nodes = [conv, make("Mul", ["z", "k"], ["steep"]),
             make("MaxPool", ["steep"], ["pooled"], kernel_shape=[2, 2], strides=[2, 2]),
             make("Sigmoid", ["pooled"], ["prob"]),
             make("Resize", ["prob", "", "scales"], ["output"], mode="cubic")]
    path = save_graph(tmp_path / "m.onnx", nodes, nchw_in(),
                      [("output", FLOAT, ["N", 1, "H", "W"])],
                      {**weights, "k": np.array(20, np.float32),
                       "scales": np.array([1, 1, 2, 2], np.float32)})
    tile = np.repeat(((np.indices((64, 64)) // 2).sum(axis=0) % 2 * 255)[None], 3, 0)
    tile = tile.astype(np.uint8)  # 2 px squares: 1 px at half resolution
    raw = whole(path, tile)[0][0]
    assert raw.min() < -0.05 and raw.max() > 1.05  # the overshoot
    result = run_cli("predict", path, make_raster("img.tif", tile), "-o", tmp_path / "o.tif",
                     "--tile-size", "64")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "o.tif") as out:
        np.testing.assert_allclose(out.read(), np.clip(raw, 0, 1), atol=1e-5)


@pytest.mark.parametrize("classes", [1, 3])
@pytest.mark.parametrize("opset", [17, 10])
@pytest.mark.parametrize("bounds", [(-10, 10), (0, 1)])
def test_clamped_logits_still_get_the_activation(tmp_path, image, classes, opset, bounds):
    """torch.clamp(logits, -10, 10) was taken as final probabilities: raw logits written
    (8 % of class pixels wrong). Bounds beyond 0..1 keep them logits; Clip(z, 0, 1) is final
    (before opset 11 the bounds are attributes)."""
    from .onnx_models import pointwise_reference

    conv, weights = conv1x1("input", "z", 3, classes, seed=4)
    low, high = bounds
    clip = (helper.make_node("Clip", ["z"], ["output"], min=float(low), max=float(high))
            if opset < 11 else helper.make_node("Clip", ["z", "low", "high"], ["output"]))
    path = save_graph(tmp_path / "m.onnx", [conv, clip], nchw_in(),
                      [("output", FLOAT, ["N", classes, "H", "W"])],
                      {**weights, "low": np.array(low, np.float32),
                       "high": np.array(high, np.float32)}, opset=opset)
    model = OnnxModel.from_path(path)
    out = predict_array(model, image, options=PredictOptions(tile_size=64))
    logits = whole(path, image)[0][0]
    if bounds == (0, 1):
        assert model.outputs[0].activation == "none"
        np.testing.assert_allclose(out, logits, atol=1e-5)
        return
    assert model.outputs[0].activation == ("sigmoid" if classes == 1 else "softmax")
    expected = pointwise_reference(image[np.newaxis] / 255, classes=classes, seed=4)[0]
    assert logits.min() < 0 and logits.max() > 1  # what was written before
    np.testing.assert_allclose(out if classes > 1 else out[0],
                               expected if classes > 1 else expected[0], atol=1e-5)


@pytest.mark.parametrize("axis", [1, 2, -3])
def test_softmax_over_the_window_before_opset_13_is_refused(tmp_path, run_cli, make_raster,
                                                            image, axis):
    """Before opset 13 Softmax(axis=1) on [N, C, H, W] normalises over C x H x W: values
    ~1e-6 depending on the window were written as class probabilities."""
    from .conftest import assert_one_line_error

    conv, weights = conv1x1("input", "z", 3, 3, seed=5)
    path = save_graph(tmp_path / "m.onnx",
                      [conv, helper.make_node("Softmax", ["z"], ["output"], axis=axis)],
                      nchw_in(), [("output", FLOAT, ["N", 3, "H", "W"])], weights, opset=11)
    tif = make_raster("img.tif", image)
    for extra in ([], ["--output-type", "class"]):
        result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", *extra)
        assert_one_line_error(result, "m.onnx", f"Softmax(axis={axis}) at opset 11",
                              "opset 13")
        assert not (tmp_path / "o.tif").exists()


@pytest.mark.parametrize(("axis", "classes", "expected"), [
    (-1, 3, "normalises axis 3 of its [1, 3, 64, 64] output, the window's width"),
    (2, 3, "normalises axis 2 of its [1, 3, 64, 64] output, the window's height"),
    (1, 1, "normalises its one channel, so it is 1 everywhere")])
def test_a_final_softmax_over_another_axis_than_the_classes_is_refused(
        tmp_path, run_cli, make_raster, image, axis, classes, expected):
    """At opset 13, Softmax(axis=-1) of an NCHW output normalises each row over the window's
    width (3 classes summing to 0.1 at a pixel, and changing with the window), and a Softmax
    over one channel is 1 everywhere (every pixel a building): both were written as
    probabilities, exit 0."""
    from .conftest import assert_one_line_error

    conv, weights = conv1x1("input", "z", 3, classes, seed=5)
    path = save_graph(tmp_path / "m.onnx",
                      [conv, helper.make_node("Softmax", ["z"], ["output"], axis=axis)],
                      nchw_in(), [("output", FLOAT, ["N", classes, "H", "W"])], weights)
    tif = make_raster("img.tif", image)
    for extra in ([], ["--output-type", "class"]):
        result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", "--tile-size", "64",
                         *extra)
        assert_one_line_error(result, "m.onnx", expected, "Re-export")
        assert not (tmp_path / "o.tif").exists()


@pytest.mark.parametrize("tail", ["nhwc", "slice", "upsample"])
def test_a_final_softmax_over_the_classes_moved_or_sliced_is_read(tmp_path, image, tail):
    """Softmax over the classes then a Transpose to NHWC, a Slice keeping one class of two
    (p of the foreground) or a Resize: per-pixel probabilities, written as they are."""
    classes = 1 if tail == "slice" else 3
    conv, weights = conv1x1("input", "z", 3, 2 if tail == "slice" else 3, seed=5)
    make = helper.make_node
    tails = {"nhwc": [make("Transpose", ["p"], ["output"], perm=[0, 2, 3, 1])],
             "slice": [make("Slice", ["p", "one", "two", "one"], ["output"])],
             "upsample": [make("Resize", ["p", "", "scales"], ["output"], mode="nearest")]}
    shape = ["N", "H", "W", 3] if tail == "nhwc" else ["N", classes, "H", "W"]
    nodes = [make("AveragePool", ["input"], ["x"], kernel_shape=[2, 2], strides=[2, 2])
             ] if tail == "upsample" else [make("Identity", ["input"], ["x"])]
    conv.input[0] = "x"
    path = save_graph(tmp_path / "m.onnx",
                      [*nodes, conv, make("Softmax", ["z"], ["p"], axis=1), *tails[tail]],
                      nchw_in(), [("output", FLOAT, shape)],
                      {**weights, "one": np.array([1]), "two": np.array([2]),
                       "scales": np.array([1, 1, 2, 2], np.float32)})
    model = OnnxModel.from_path(path, tile_size=64)
    assert [(o.activation, o.channels, o.not_probabilities) for o in model.outputs] == [
        ("none", classes, "")]
    if tail != "upsample":
        out = predict_array(model, image, options=PredictOptions(tile_size=64))
        expected = whole(path, image)[0][0]
        np.testing.assert_allclose(out, expected.transpose(2, 0, 1) if tail == "nhwc"
                                   else expected, atol=1e-5)


def test_a_final_softmax_with_classes_cut_off_after_it_is_refused(tmp_path, image, run_cli,
                                                                  make_raster):
    """Softmax over [background, building, road] then a Slice keeping building and road (an
    export of the foreground probabilities): the two bands sum to under 1, and their argmax
    gave every background pixel building or road, exit 0. Refused in one line, unless
    --activation none asks for the values as they are."""
    from .conftest import assert_one_line_error

    conv, weights = conv1x1("input", "z", 3, 3, seed=5)
    make = helper.make_node
    path = save_graph(tmp_path / "m.onnx",
                      [conv, make("Softmax", ["z"], ["p"], axis=1),
                       make("Slice", ["p", "one", "three", "one"], ["output"])],
                      nchw_in(), [("output", FLOAT, ["N", 2, "H", "W"])],
                      {**weights, "one": np.array([1]), "three": np.array([3])},
                      metadata={"class_names": ["building", "road"]})
    tif = make_raster("img.tif", image)
    result = run_cli("predict", path, tif, "-o", tmp_path / "c.tif", "--output-type", "class")
    assert_one_line_error(result, "m.onnx", "sum to", "cut off", "every class")
    assert not (tmp_path / "c.tif").exists()
    result = run_cli("predict", path, tif, "-o", tmp_path / "raw.tif", "--activation", "none")
    assert result.exit_code == 0, result.output  # the values as they are, said raw


def test_a_final_softmax_tells_the_class_axis_of_a_fixed_output_as_wide_as_its_classes(
        tmp_path, image):
    """A fixed 8 px model with 8 classes, [1, 8, 8, 8] NHWC out of a Softmax(axis=-1): its
    axes 1 and 3 have one length at its one size, and its bands were read from axis 1 (each
    band a row of the window: 0.35 off), exit 0."""
    conv, weights = conv1x1("input", "z", 3, 8, seed=5)
    make = helper.make_node
    path = save_graph(tmp_path / "m.onnx",
                      [conv, make("Transpose", ["z"], ["t"], perm=[0, 2, 3, 1]),
                       make("Softmax", ["t"], ["output"], axis=-1)],
                      [("input", FLOAT, [1, 3, 8, 8])], [("output", FLOAT, [1, 8, 8, 8])],
                      weights)
    model = OnnxModel.from_path(path)
    assert model.outputs[0].channel_axis == 3
    window = image[:, :8, :8]
    out = predict_array(model, window, options=PredictOptions())
    np.testing.assert_allclose(out, whole(path, window)[0][0].transpose(2, 0, 1), atol=1e-5)


@pytest.mark.parametrize("opset", [11, 13])
def test_softmax_over_the_last_axis_before_opset_13_is_per_pixel(tmp_path, image, opset):
    """torch's export before opset 13 (Transpose, Softmax over the last axis, Transpose
    back) and the same Softmax(axis=1) at opset 13 are per-pixel class probabilities."""
    from .onnx_models import pointwise_reference

    conv, weights = conv1x1("input", "z", 3, 3, seed=5)
    make = helper.make_node
    nodes = [conv, make("Softmax", ["z"], ["output"], axis=1)] if opset >= 13 else [
        conv, make("Transpose", ["z"], ["t"], perm=[0, 2, 3, 1]),
        make("Softmax", ["t"], ["s"], axis=3),
        make("Transpose", ["s"], ["output"], perm=[0, 3, 1, 2])]
    path = save_graph(tmp_path / "m.onnx", nodes, nchw_in(),
                      [("output", FLOAT, ["N", 3, "H", "W"])], weights, opset=opset)
    model = OnnxModel.from_path(path)
    assert model.outputs[0].activation == "none"
    out = predict_array(model, image, options=PredictOptions(tile_size=64))
    expected = pointwise_reference(image[np.newaxis] / 255, classes=3, seed=5)[0]
    np.testing.assert_allclose(out, expected, atol=1e-5)


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
    # asked for uint8: raw values do not fit 0..255 probabilities, said without -v
    result = run_cli("predict", path, tif, "-o", tmp_path / "raw8.tif", "--activation", "none",
                     "--tile-size", "64", "--dtype", "uint8")
    assert result.exit_code == 0, result.output
    assert "--dtype uint8 ignored" in result.stderr
    with rasterio.open(tmp_path / "raw8.tif") as raw:
        assert raw.dtypes == ("float32",)


def test_class_output_of_raw_values_needs_a_threshold_in_their_units(
        tmp_path, run_cli, make_raster, image):
    """--activation none --output-type class on a one-channel logits model thresholded the
    logits at the default 0.5 (p >= 0.62, not >= 0.5: 4,878 px where 16,264 logits are >= 0),
    exit 0. Raw values take no default threshold: refused in one line, naming --threshold in
    the model's own units and --activation sigmoid; with --threshold given, it applies to
    the values as written; a softmax-free multi-class argmax needs none."""
    from .conftest import assert_one_line_error

    weights = {"W": np.full((1, 3, 1, 1), 1.0, np.float32), "B": np.array([-1.5], np.float32)}
    conv = helper.make_node("Conv", ["input", "W", "B"], ["output"], kernel_shape=[1, 1])
    path = save_graph(tmp_path / "m.onnx", [conv], nchw_in(),
                      [("output", FLOAT, ["N", 1, "H", "W"])], weights)
    tif = make_raster("img.tif", image)
    result = run_cli("predict", path, tif, "-o", tmp_path / "c.tif", "--activation", "none",
                     "--output-type", "class", "--tile-size", 64)
    assert_one_line_error(result, "m.onnx", "raw values", "--threshold", "--activation sigmoid")
    assert not (tmp_path / "c.tif").exists()
    result = run_cli("predict", path, tif, "-o", tmp_path / "c.tif", "--activation", "none",
                     "--output-type", "class", "--threshold", "0", "--tile-size", 64)
    assert result.exit_code == 0, result.output
    logits = (image.astype(np.float32) / 255).sum(axis=0) - 1.5
    assert 0.2 < (logits >= 0).mean() < 0.8 and ((logits >= 0) != (logits >= 0.5)).any()
    with rasterio.open(tmp_path / "c.tif") as written:
        assert np.array_equal(written.read(1), (logits >= 0).astype(np.uint8))
    result = run_cli("predict", path, tif, "-o", tmp_path / "s.tif", "--output-type", "class",
                     "--tile-size", 64)  # auto: a sigmoid, p >= 0.5 where the logit >= 0
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "s.tif") as written:
        assert np.array_equal(written.read(1), (logits >= 0).astype(np.uint8))


def test_raw_values_are_tagged_raw_and_refused_by_vectorize_and_evaluate(
        tmp_path, run_cli, make_raster, image):
    """--activation none on a logits model wrote float32 tagged GEOTILE_OUTPUT=probability,
    GEOTILE_THRESHOLD=0.5: logits that lay within 0..1 by chance (here 0.04..0.96) were
    thresholded at 0.5 by vectorize/evaluate, exit 0. Tagged raw now, refused in one line
    whatever the values; a Deepness Regressor's output and a graph's own Sigmoid stay
    probabilities, as before."""
    from .conftest import assert_one_line_error

    weights = {"W": np.full((1, 3, 1, 1), 0.3, np.float32), "B": np.array([0.04], np.float32)}

    def conv(out="output"):
        return helper.make_node("Conv", ["input", "W", "B"], [out], kernel_shape=[1, 1])

    path = save_graph(tmp_path / "m.onnx", [conv()], nchw_in(),
                      [("output", FLOAT, ["N", 1, "H", "W"])], weights)
    tif = make_raster("img.tif", image)
    truth = make_raster("truth.tif", (image[:1] > 128).astype(np.uint8))
    result = run_cli("predict", path, tif, "-o", tmp_path / "raw.tif", "--activation", "none",
                     "--tile-size", 64)
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "raw.tif") as raw:
        values = raw.read()
        assert values.min() >= 0 and values.max() <= 1  # logits within 0..1 by chance
        assert raw.tags()["GEOTILE_OUTPUT"] == "raw"
        assert "GEOTILE_THRESHOLD" not in raw.tags()
    result = run_cli("vectorize", tmp_path / "raw.tif", "-o", tmp_path / "v.gpkg")
    assert_one_line_error(result, "raw.tif", "raw values", "--activation sigmoid")
    # which way out fits which model: predict refuses a second activation on a graph's own
    assert "without --activation none (a model ending in its own Sigmoid" in result.output
    assert "--activation sigmoid (a model giving logits)" in result.output
    assert "or give --threshold" in result.output
    # a model giving final probabilities through ops geotile cannot recognise needs
    # --activation none (examples/README.md): its output is used with an explicit threshold
    import json

    import geopandas as gpd

    result = run_cli("vectorize", tmp_path / "raw.tif", "-o", tmp_path / "t.gpkg",
                     "--threshold", "0.5", "--crs", "source")
    assert result.exit_code == 0, result.output
    ones = (values[0] >= 0.5).sum()
    assert gpd.read_file(tmp_path / "t.gpkg").area.sum() == pytest.approx(ones * 0.25)
    result = run_cli("evaluate", tmp_path / "raw.tif", truth, "--threshold", "0.5", "--json")
    assert result.exit_code == 0, result.output
    predicted, true = values[0] >= 0.5, image[0] > 128
    scores = json.loads(result.stdout)
    assert scores["confusion_matrix"][1][1] == int((predicted & true).sum())
    assert scores["classes"][1]["predicted"] == int(predicted.sum())
    # footprint/boundary/contact bands go to the watershed, which takes no --threshold
    with rasterio.open(tmp_path / "raw.tif") as raw:
        profile = {**raw.profile, "count": 3}
    with rasterio.open(tmp_path / "fbc.tif", "w", **profile) as dst:
        dst.write(np.repeat(values[:1], 3, axis=0))
        dst.update_tags(GEOTILE_OUTPUT="raw", GEOTILE_BANDS="independent",
                        GEOTILE_CLASS_NAMES='["footprint", "boundary", "contact"]')
        for band, name in enumerate(("footprint", "boundary", "contact"), start=1):
            dst.set_band_description(band, name)
    for extra in ((), ("--threshold", "0.5")):
        result = run_cli("vectorize", tmp_path / "fbc.tif", "-o", tmp_path / "i.gpkg", *extra)
        assert_one_line_error(result, "fbc.tif", "raw values", "--activation none")
        assert "--threshold" not in result.output
    assert not (tmp_path / "v.gpkg").exists()
    result = run_cli("evaluate", tmp_path / "raw.tif", truth)
    assert_one_line_error(result, "raw.tif", "raw values", "--activation sigmoid")
    for name, metadata, extra in (("r.onnx", {"model_type": "Regressor"}, []),
                                  ("s.onnx", None, ["--activation", "none"])):
        nodes = [conv()] if metadata else [conv("z"), helper.make_node("Sigmoid", ["z"],
                                                                        ["output"])]
        model = save_graph(tmp_path / name, nodes, nchw_in(),
                           [("output", FLOAT, ["N", 1, "H", "W"])], weights, metadata=metadata)
        out = tmp_path / f"{name}.tif"
        result = run_cli("predict", model, tif, "-o", out, "--tile-size", 64, *extra)
        assert result.exit_code == 0, result.output
        with rasterio.open(out) as written:
            assert written.tags()["GEOTILE_OUTPUT"] == "probability"
        result = run_cli("vectorize", out, "-o", tmp_path / f"{name}.gpkg")
        assert result.exit_code == 0, result.output


def squeezed_model(path, classes=2, **kw):
    """Logits x 0.05 + 0.5: 0..1 values from a graph that ends in no activation."""
    conv, weights = conv1x1("input", "z", 3, classes, seed=4)
    nodes = [conv, helper.make_node("Mul", ["z", "k"], ["m"]),
             helper.make_node("Add", ["m", "half"], ["output"])]
    return save_graph(path, nodes, nchw_in(), [("output", FLOAT, ["N", classes, "H", "W"])],
                      {**weights, "k": np.array(0.05, np.float32),
                       "half": np.array(0.5, np.float32)}, **kw)


@pytest.mark.parametrize("metadata", [{"model_type": "Segmentor"}, {"activation": "none"}])
def test_final_values_outside_0_1_are_refused(tmp_path, run_cli, make_raster, image,
                                              metadata):
    """A Deepness segmentor (or a model declaring activation none) giving logits had them
    written as probabilities: refused in one line with the range seen, nothing written;
    --activation none writes them."""
    from .conftest import assert_one_line_error

    path = logits_model(tmp_path / "m.onnx", classes=2, metadata=metadata)
    logits = whole(path, image)[0][0]
    tif = make_raster("img.tif", image)
    for extra in ([], ["--output-type", "class"]):
        result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", "--tile-size", 64,
                         *extra)
        assert_one_line_error(result, "m.onnx", "probabilities 0..1", "--activation none")
        low, high = (float(v) for v in result.output.split("but gives ")[1].split(". ")[0]
                     .split(".."))
        assert logits.min() - 0.01 <= low < -0.01 and 1.01 < high <= logits.max() + 0.01
        assert not (tmp_path / "o.tif").exists()
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", "--tile-size", 64,
                     "--activation", "none")
    assert result.exit_code == 0, result.output


def test_final_values_leaving_0_1_after_the_first_batch_are_refused(tmp_path, run_cli,
                                                                    make_raster):
    """A model declaring activation none whose first batch lay in 0..1 but later windows
    gave 3.7 had those written as probabilities (float32 3.7, uint8 clipped to 255, exit 0)
    while the same values in the first batch were refused: every batch is checked now."""
    from .conftest import assert_one_line_error

    weights = {"W": np.ones((1, 1, 1, 1), np.float32)}
    path = save_graph(tmp_path / "m.onnx", [helper.make_node("Conv", ["input", "W"],
                                                             ["output"])],
                      nchw_in(channels=1), [("output", FLOAT, ["N", 1, "H", "W"])], weights,
                      metadata={"activation": "none"})
    pixels = np.full((1, 256, 64), 0.2, np.float32)
    pixels[0, 192:] = 3.7  # only the last of four windows leaves 0..1
    tif = make_raster("img.tif", pixels)
    for dtype in ("float32", "uint8"):
        result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", "--tile-size", 64,
                         "--batch-size", 1, "--scale", 1, "--dtype", dtype)
        assert_one_line_error(result, "m.onnx", "probabilities 0..1", "gives 0.2..3.7",
                              "--activation none")
        assert not (tmp_path / "o.tif").exists()


@pytest.mark.parametrize("graph", ["Sigmoid", "Softmax"])
@pytest.mark.parametrize("option", ["sigmoid", "softmax"])
def test_an_activation_the_graph_already_applies_is_refused(tmp_path, run_cli, make_raster,
                                                            image, graph, option):
    """--activation sigmoid on a model ending in Sigmoid applied it twice: every p in
    0.5..0.73, so class output and vectorize marked every pixel (softmax twice: 0.27..0.73),
    exit 0. Refused in one line naming the model and the graph's activation, and what the
    activation asked for would do (--activation softmax was said to give 'a sigmoid of
    probabilities', 0.5..0.73)."""
    from .conftest import assert_one_line_error

    conv, weights = conv1x1("input", "logits", 3, 2, seed=12)
    act = helper.make_node(graph, ["logits"], ["output"], **({"axis": 1} if graph ==
                                                              "Softmax" else {}))
    path = save_graph(tmp_path / "m.onnx", [conv, act], nchw_in(),
                      [("output", FLOAT, ["N", 2, "H", "W"])], weights)
    tif = make_raster("img.tif", image)
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", "--tile-size", 64,
                     "--activation", option)
    squeezed = {"sigmoid": "a sigmoid of probabilities lies in 0.5..0.73",
                "softmax": "a softmax of probabilities of 2 channels lies in 0.27..0.73"}
    assert_one_line_error(result, "m.onnx", f"ends in {graph}", f"--activation {option}",
                          squeezed[option])
    assert not (tmp_path / "o.tif").exists()
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", "--tile-size", 64)
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "o.tif") as out:
        np.testing.assert_allclose(out.read(), whole(path, image)[0][0], atol=1e-5)


def test_deepness_model_type_means_final_values(tmp_path, make_raster, image):
    segmentor = squeezed_model(tmp_path / "s.onnx", metadata={"model_type": "Segmentor"})
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
    from geotile.errors import InputError

    with pytest.raises(InputError, match=r"r\.onnx.*regression.*--output-type class"):
        predict_raster(str(regressor), tif, tmp_path / "c.tif",
                       options=PredictOptions(tile_size=64, output_type="class"))
    assert not (tmp_path / "c.tif").exists()


# --- 2. non-finite values --------------------------------------------------------------------
def test_non_finite_outputs_and_options_are_one_line(tmp_path, run_cli, make_raster, image):
    from geotile.errors import ModelError

    from .conftest import assert_one_line_error

    conv, weights = conv1x1("input", "logits", 3, 1, seed=5)
    path = save_graph(tmp_path / "nan.onnx", [conv, helper.make_node("Log", ["logits"],
                                                                     ["output"])],
                      nchw_in(), [("output", FLOAT, ["N", 1, "H", "W"])], weights)
    assert np.isnan(whole(path, image)[0]).any()  # log of negative logits
    with pytest.raises(ModelError, match=r"nan\.onnx.*NaN or infinite"):
        predict_array(OnnxModel.from_path(path), image, options=PredictOptions(tile_size=64))
    tif = make_raster("img.tif", image)
    assert_one_line_error(run_cli("predict", path, tif, "-o", tmp_path / "o.tif"),
                          "nan.onnx", "NaN or infinite")
    good = logits_model(tmp_path / "good.onnx")
    for option, value in (("--mean", "0,nan,0"), ("--std", "inf"), ("--scale", "nan")):
        assert_one_line_error(run_cli("predict", good, tif, "-o", tmp_path / "o.tif", option,
                                      value), option, "finite", "good.onnx")
    assert not (tmp_path / "o.tif").exists()


def test_non_finite_outputs_say_how_many_where_and_why(tmp_path, run_cli, make_raster):
    """x / x on a black 10 x 10 region of valid pixels refused the whole image with 'the
    model outputs NaN or infinite values' and no count or place: the refusal stays (holes
    would exit 0), now saying how many of how many, the first pixel's row/col and map
    coordinates, the likely cause and the fixes, in one line."""
    from rasterio.transform import from_origin

    from .conftest import assert_one_line_error

    nodes = [helper.make_node("Div", ["input", "input"], ["q"]),
             helper.make_node("ReduceMean", ["q"], ["output"], axes=[1], keepdims=1)]
    path = save_graph(tmp_path / "xx.onnx", nodes, nchw_in(),
                      [("output", FLOAT, ["N", 1, "H", "W"])], metadata={"model_type": "Segmentor"})
    pixels = np.full((3, 64, 64), 100, np.uint8)
    pixels[:, 30:40, 20:30] = 0  # black, declared valid
    tif = make_raster("img.tif", pixels, transform=from_origin(500_000, 5_000_000, 0.5, 0.5))
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", "--tile-size", 64)
    assert_one_line_error(result, "xx.onnx", "NaN or infinite", "100 of the 4096 valid pixels",
                          "row 30, col 20", "x=500010.25, y=4999984.75", "nodata", "--mean",
                          "epsilon")
    assert not (tmp_path / "o.tif").exists()


# --- 3. output layouts and batches -----------------------------------------------------------
def sigmoid(x):
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x.astype(np.float64)))


def test_nchw_model_with_nhwc_output_gives_one_band(tmp_path, image):
    conv, weights = conv1x1("input", "logits", 3, 1, seed=6)
    nodes = [conv, helper.make_node("Transpose", ["logits"], ["output"], perm=[0, 2, 3, 1])]
    path = save_graph(tmp_path / "m.onnx", nodes, nchw_in(),
                      [("output", FLOAT, ["N", "H", "W", 1])], weights)
    model = OnnxModel.from_path(path)
    assert model.num_classes == 1
    out = predict_array(model, image, options=PredictOptions(tile_size=64))
    expected = sigmoid(whole(path, image)[0][..., 0])
    np.testing.assert_allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize("batch_size", [3, 8])
def test_batch_of_one_baked_into_the_graph_runs_at_any_batch_size(tmp_path, image, batch_size):
    conv, weights = conv1x1("input", "logits", 3, 1, seed=7)
    # a traced export: the output reshaped to batch 1 although the input batch is dynamic
    nodes = [conv, helper.make_node("Reshape", ["logits", "shape"], ["output"])]
    path = save_graph(tmp_path / "m.onnx", nodes, nchw_in(),
                      [("output", FLOAT, [1, 1, "H", "W"])],
                      {**weights, "shape": np.array([1, -1, 0, 0], np.int64)})
    model = OnnxModel.from_path(path)  # probed at batch 1: larger batches probed on use
    out = predict_array(model, image, options=PredictOptions(tile_size=64,
                                                             batch_size=batch_size))
    np.testing.assert_allclose(out, sigmoid(whole(path, image)[0][0]), atol=1e-5)


@pytest.mark.parametrize("batch_size", [3, 8])
def test_batch_of_four_baked_into_a_graph_of_symbolic_batch_runs_padded(tmp_path, image,
                                                                       batch_size):
    """A traced export reshaping to its dummy input's batch of 4 while its input and output
    declare a symbolic one: refused as 'cannot run the model on 64 px tiles (... requested
    shape:{4,1,64,64}). Check the export.', blaming the tile size. It runs 4 windows at a
    time (a last batch padded), as a declared batch of 4 does."""
    conv, weights = conv1x1("input", "logits", 3, 1, seed=7)
    nodes = [conv, helper.make_node("Reshape", ["logits", "shape"], ["output"])]
    path = save_graph(tmp_path / "m.onnx", nodes, nchw_in(),
                      [("output", FLOAT, ["N", 1, "H", "W"])],
                      {**weights, "shape": np.array([4, -1, 0, 0], np.int64)}, ir_version=10)
    plain = save_graph(tmp_path / "plain.onnx", [conv], nchw_in(),
                       [("logits", FLOAT, ["N", 1, "H", "W"])], weights, ir_version=10)
    out = predict_array(OnnxModel.from_path(path), image,
                        options=PredictOptions(tile_size=64, batch_size=batch_size))
    np.testing.assert_allclose(out, sigmoid(whole(plain, image)[0][0]), atol=1e-5)


# --- 4. several outputs ----------------------------------------------------------------------
def two_outputs(path, **kw):
    mask, w1 = conv1x1("input", "mask_logits", 3, 1, seed=8, prefix="a")
    edges, w2 = conv1x1("input", "edges", 3, 2, seed=9, prefix="b")
    nodes = [mask, edges, helper.make_node("Sigmoid", ["mask_logits"], ["mask"])]
    return save_graph(path, nodes, nchw_in(), [("mask", FLOAT, ["N", 1, "H", "W"]),
                                               ("edges", FLOAT, ["N", 2, "H", "W"])],
                      {**w1, **w2}, **kw)


def softmax(x):
    e = np.exp(x - x.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def test_every_output_becomes_bands_named_from_metadata(tmp_path, run_cli, make_raster,
                                                        image):
    names = [{"0": "building"}, {"0": "background", "1": "edge"}]
    path = two_outputs(tmp_path / "m.onnx", metadata={"class_names": names})
    mask, edges = (o[0] for o in whole(path, image))
    tif = make_raster("img.tif", image)
    result = run_cli("predict", path, tif, "-o", tmp_path / "all.tif", "--dtype", "float32",
                     "--tile-size", "64")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "all.tif") as out:
        assert out.descriptions == ("building", "background", "edge")
        np.testing.assert_allclose(out.read(), np.concatenate([mask, softmax(edges)]),
                                   atol=1e-5)
    result = run_cli("predict", path, tif, "-o", tmp_path / "edges.tif", "--dtype", "float32",
                     "--outputs", "edges", "--tile-size", "64")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "edges.tif") as out:
        assert out.descriptions == ("background", "edge")
        np.testing.assert_allclose(out.read(), softmax(edges), atol=1e-5)
    unnamed = OnnxModel.from_path(two_outputs(tmp_path / "u.onnx"))
    assert unnamed.class_names == ["mask", "edges_1", "edges_2"]  # neutral: no "building"
    from .conftest import assert_one_line_error

    for wanted, fragment in ((",", "names no output"), (" ", "names no output"),
                             ("edges,edges", "'edges' twice"), ("edge", "no output named")):
        assert_one_line_error(run_cli("predict", path, tif, "-o", tmp_path / "x.tif",
                                      "--outputs", wanted), "m.onnx", fragment)
    assert not (tmp_path / "x.tif").exists()



def test_flat_class_names_go_to_the_one_output_they_fit(tmp_path, run_cli, make_raster, image,
                                                        caplog):
    """A flat name list on a model of several outputs was dropped without a word, even with
    --outputs choosing the output whose channels it fits; now it names that output, and a
    warning says when it fits none (or several) of them."""
    path = two_outputs(tmp_path / "m.onnx", metadata={"class_names": ["background", "edge"]})
    assert OnnxModel.from_path(path).class_names == ["mask", "background", "edge"]
    assert OnnxModel.from_path(path, outputs="edges").class_names == ["background", "edge"]
    tif = make_raster("img.tif", image)
    result = run_cli("predict", path, tif, "-o", tmp_path / "c.tif", "--outputs", "edges",
                     "--output-type", "class", "--tile-size", "64")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "c.tif") as out:
        assert '"edge"' in out.tags()["GEOTILE_CLASS_NAMES"]
    three = two_outputs(tmp_path / "3.onnx", metadata={"class_names": "a,b,c"})
    with caplog.at_level("WARNING", logger="geotile"):
        assert OnnxModel.from_path(three).class_names == ["mask", "edges_1", "edges_2"]
    assert "3 class names (a, b, c)" in caplog.text and "'edges' (2 band(s))" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="geotile"):
        assert OnnxModel.from_path(three, outputs="mask").class_names == ["mask"]
    assert "3 class names (a, b, c)" in caplog.text

# --- 5. outputs smaller than the window ------------------------------------------------------
def test_valid_convolution_output_covers_the_window_centre(tmp_path, image):
    conv, weights = conv1x1("input", "logits", 3, 1, seed=10)
    nodes = [conv, helper.make_node("Slice", ["logits", "starts", "ends", "axes"], ["output"])]
    consts = {"starts": np.array([14, 14]), "ends": np.array([-14, -14]),
              "axes": np.array([2, 3])}
    path = save_graph(tmp_path / "m.onnx", nodes, nchw_in(),
                      [("output", FLOAT, ["N", 1, "h", "w"])], {**weights, **consts})
    model = OnnxModel.from_path(path)
    assert model.geometry(512).out == 484 and model.geometry(512).offset == 14
    out = predict_array(model, image, options=PredictOptions(tile_size=128, overlap=0))
    # the model's own output for the whole image covers the image less 14 px on each side
    expected = sigmoid(whole(path, image)[0][0])
    np.testing.assert_allclose(out[:, 14:-14, 14:-14], expected, atol=1e-5)
    assert np.isnan(out[:, :14]).all()  # never the centre of a window: no prediction


@pytest.mark.parametrize("shape", [(150, 200), (50, 70)])
def test_valid_convolution_never_sees_padding_at_any_edge(tmp_path, shape):
    """A 9 x 9 convolution without padding: an output pixel needs 4 px of image on every
    side. Those within 4 px of any edge (far ones too, and all of a raster smaller than the
    window) would see padding instead: nodata, like the near ones; the rest is exact."""
    weights = np.full((1, 3, 9, 9), 1 / 243, np.float32)  # the mean of 9 x 9 x 3 pixels
    nodes = [helper.make_node("Conv", ["input", "w"], ["output"], kernel_shape=[9, 9])]
    path = save_graph(tmp_path / "box.onnx", nodes, nchw_in(),
                      [("output", FLOAT, ["N", 1, "h", "w"])], {"w": weights})
    model = OnnxModel.from_path(path, activation="none")
    pixels = np.full((3, *shape), 200, np.uint8)
    out = predict_array(model, pixels, options=PredictOptions(tile_size=64))[0]
    inside = np.zeros(shape, bool)
    inside[4:-4, 4:-4] = True
    np.testing.assert_allclose(out[inside], 200 / 255, rtol=1e-5)
    assert np.isnan(out[~inside]).all()


def resize_reference(values: np.ndarray, factor: int, folder) -> np.ndarray:
    """(1, K, h, w) upsampled by ONNX Runtime's own Resize (linear, half-pixel)."""
    import onnxruntime as ort

    nodes = [helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="linear",
                              coordinate_transformation_mode="half_pixel")]
    path = save_graph(folder / "resize.onnx", nodes,
                      [("x", FLOAT, [1, values.shape[1], "h", "w"])],
                      [("y", FLOAT, None)],
                      {"scales": np.array([1, 1, factor, factor], np.float32)})
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": values.astype(np.float32)})[0]


@pytest.mark.parametrize("factor", [2, 4, 8])
def test_downscaled_output_is_upsampled_before_blending(tmp_path, factor):
    pixels = np.random.default_rng(11).integers(0, 256, (3, 128, 128), dtype=np.uint8)
    conv, weights = conv1x1("input", "logits", 3, 2, seed=11)
    nodes = [conv, helper.make_node("AveragePool", ["logits"], ["output"],
                                    kernel_shape=[factor, factor], strides=[factor, factor])]
    path = save_graph(tmp_path / "m.onnx", nodes, nchw_in(),
                      [("output", FLOAT, ["N", 2, "h", "w"])], weights)
    out = predict_array(OnnxModel.from_path(path), pixels,
                        options=PredictOptions(tile_size=64))
    coarse = whole(path, pixels)[0]
    expected = softmax(resize_reference(coarse, factor, tmp_path)[0])
    np.testing.assert_allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize(("classes", "final"), [(3, None), (1, None), (3, "Softmax"),
                                                (1, "Sigmoid")])
def test_downscaled_logits_are_upsampled_before_the_activation(tmp_path, classes, final):
    """A SegFormer-style 1/4 output (a 1x1 conv behind a 4x4 AveragePool, on constant 4x4
    blocks so pooling loses nothing): logits are upsampled, then softmax/sigmoid, as HF
    and mmseg do (it was the other way round: up to 0.39 off); a graph ending in its own
    Softmax/Sigmoid has its probabilities upsampled."""
    rng = np.random.default_rng(21)
    coarse_pixels = rng.integers(0, 256, (3, 24, 20), dtype=np.uint8)
    pixels = np.kron(coarse_pixels, np.ones((1, 4, 4), np.uint8))
    conv, weights = conv1x1("pooled", "logits", 3, classes, seed=21)
    weights["c_W"] *= 6
    nodes = [helper.make_node("AveragePool", ["input"], ["pooled"], kernel_shape=[4, 4],
                              strides=[4, 4]), conv]
    if final:
        nodes.append(helper.make_node(final, ["logits"], ["output"],
                                      **({"axis": 1} if final == "Softmax" else {})))
    else:
        nodes.append(helper.make_node("Identity", ["logits"], ["output"]))
    path = save_graph(tmp_path / "m.onnx", nodes, nchw_in(),
                      [("output", FLOAT, ["N", classes, "h", "w"])], weights)
    out = predict_array(OnnxModel.from_path(path), pixels,
                        options=PredictOptions(tile_size=32, overlap=8))
    upsampled = resize_reference(whole(path, pixels)[0], 4, tmp_path)[0].astype(np.float64)
    if final:
        expected = upsampled
    else:
        expected = softmax(upsampled) if classes > 1 else 1 / (1 + np.exp(-upsampled))
    np.testing.assert_allclose(out, expected, atol=2e-5)


def pooled_model(path, factor: int, ceil: int = 0):
    conv, weights = conv1x1("input", "logits", 3, 2, seed=11)
    nodes = [conv, helper.make_node("AveragePool", ["logits"], ["output"], ceil_mode=ceil,
                                    kernel_shape=[factor, factor], strides=[factor, factor])]
    return save_graph(path, nodes, nchw_in(), [("output", FLOAT, ["N", 2, "h", "w"])],
                      weights)


@pytest.mark.parametrize("shape", [(151, 201), (70, 50), (64, 48), (152, 200)])
def test_a_downscaling_model_sees_no_zeros_past_the_edge(tmp_path, shape):
    """A 1/4-size output: where the raster is not a multiple of the 4 px cells, or smaller
    than the window, the last cells reach past its edge. They see its edge pixels repeated,
    not zeros: a constant image gives that constant everywhere."""
    path = pooled_model(tmp_path / "m.onnx", 4)
    model = OnnxModel.from_path(path, tile_size=64, activation="none")
    pixels = np.full((3, *shape), 200, np.uint8)
    out = predict_array(model, pixels, options=PredictOptions(tile_size=64))
    expected = whole(path, np.full((3, 64, 64), 200, np.uint8))[0][0, :, 0, 0]
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, np.broadcast_to(expected[:, None, None], out.shape),
                               rtol=1e-5)


def test_any_integer_downscale_is_upsampled(tmp_path):
    """A factor outside 2/4/8 (3) is told from a crop by a second probe, and exact."""
    pixels = np.random.default_rng(13).integers(0, 256, (3, 132, 132), dtype=np.uint8)
    path = pooled_model(tmp_path / "m.onnx", 3)
    model = OnnxModel.from_path(path, tile_size=66)
    assert (model.geometry(66).out, model.geometry(66).offset) == (66, 0)
    # windows every 33 px: on the whole image's 3 px cells, so its output is the reference
    out = predict_array(model, pixels, options=PredictOptions(tile_size=66, overlap=33))
    expected = softmax(resize_reference(whole(path, pixels)[0], 3, tmp_path)[0])
    np.testing.assert_allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize(("factor", "size", "overlap"), [(4, 64, 30), (3, 66, 20)])
def test_downscaled_windows_stay_on_the_models_cells(tmp_path, factor, size, overlap):
    """Windows of a downscaling model start on its k px cells (the stride and the last,
    edge-aligned window too): every window's cells are the whole image's, so the output
    equals the model run on the whole image away from the edges."""
    pixels = np.random.default_rng(14).integers(0, 256, (3, 150, 139), dtype=np.uint8)
    path = pooled_model(tmp_path / "m.onnx", factor)
    out = predict_array(OnnxModel.from_path(path, tile_size=size), pixels,
                        options=PredictOptions(tile_size=size, overlap=overlap))
    rows, cols = (150 // factor) * factor, (139 // factor) * factor
    coarse = whole(path, pixels[:, :rows, :cols])[0]
    expected = softmax(resize_reference(coarse, factor, tmp_path)[0])
    inner = (slice(None), slice(size, rows - size), slice(size, cols - size))
    np.testing.assert_allclose(out[:, :rows, :cols][inner], expected[inner], atol=1e-5)


@pytest.mark.parametrize(("factor", "ceil", "size"), [(4, 0, 130), (4, 1, 130), (2, 1, 129),
                                                       (4, 0, 250)])
def test_downscale_at_a_size_it_does_not_divide_is_refused(tmp_path, run_cli, make_raster,
                                                          image, factor, ceil, size):
    """Not a crop of the window: one line asking for a multiple of the factor."""
    from .conftest import assert_one_line_error

    path = pooled_model(tmp_path / "m.onnx", factor, ceil)
    tif = make_raster("img.tif", image)
    assert_one_line_error(run_cli("predict", path, tif, "-o", tmp_path / "o.tif",
                                  "--tile-size", str(size)),
                          "m.onnx", f"downscales by {factor}", "--tile-size")
    assert not (tmp_path / "o.tif").exists()
    # nobody chose a size: one that the factor divides is taken
    assert OnnxModel.from_path(path).geometry(512).out == 512


@pytest.mark.parametrize("crop", ["odd", "pool-then-crop"])
def test_outputs_that_cannot_be_placed_are_refused(tmp_path, run_cli, make_raster, image,
                                                   crop):
    from .conftest import assert_one_line_error

    conv, weights = conv1x1("input", "logits", 3, 1, seed=10)
    consts = {"starts": np.array([1, 1]), "ends": np.array([2 ** 30, 2 ** 30]),
              "axes": np.array([2, 3])}
    if crop == "odd":  # window[1:, 1:]: a crop with no centre
        nodes = [conv, helper.make_node("Slice", ["logits", "starts", "ends", "axes"],
                                        ["output"])]
    else:  # valid convolution, then a stride: neither a crop nor a downscale
        consts["starts"] = np.array([14, 14])
        consts["ends"] = np.array([-14, -14])
        nodes = [conv, helper.make_node("Slice", ["logits", "starts", "ends", "axes"], ["c"]),
                 helper.make_node("AveragePool", ["c"], ["output"], kernel_shape=[4, 4],
                                  strides=[4, 4])]
    path = save_graph(tmp_path / "m.onnx", nodes, nchw_in(),
                      [("output", FLOAT, ["N", 1, "h", "w"])], {**weights, **consts})
    tif = make_raster("img.tif", image)
    assert_one_line_error(run_cli("predict", path, tif, "-o", tmp_path / "o.tif",
                                  "--tile-size", "128"), "m.onnx")
    assert not (tmp_path / "o.tif").exists()


def test_super_resolution_and_classifiers_are_refused_in_one_line(tmp_path, run_cli,
                                                                  make_raster, image):
    """An output of class ids or of one value per image is refused in one line; beside a
    usable output, the refusal names --outputs of that one."""
    from .conftest import assert_one_line_error

    conv, weights = conv1x1("input", "logits", 3, 1, seed=12)
    superres = save_graph(tmp_path / "sr.onnx", [conv, helper.make_node(
        "Resize", ["logits", "", "scales"], ["output"], mode="nearest")], nchw_in(),
        [("output", FLOAT, None)], {**weights, "scales": np.array([1, 1, 2, 2], np.float32)})
    conv, weights = conv1x1("input", "logits", 3, 5, seed=12)
    classifier = save_graph(tmp_path / "cls.onnx", [
        conv, helper.make_node("GlobalAveragePool", ["logits"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["output"])], nchw_in(),
        [("output", FLOAT, ["N", 5])], weights)
    tif = make_raster("img.tif", image)
    assert_one_line_error(run_cli("predict", superres, tif, "-o", tmp_path / "o.tif"),
                          "sr.onnx", "super-resolution")
    assert_one_line_error(run_cli("predict", classifier, tif, "-o", tmp_path / "o.tif"),
                          "cls.onnx", "classifier")
    conv, weights = conv1x1("input", "logits", 3, 3, seed=12)
    ids = save_graph(tmp_path / "ids.onnx", [conv, helper.make_node(
        "ArgMax", ["logits"], ["output"], axis=1, keepdims=0)], nchw_in(),
        [("output", helper.TensorProto.INT64, ["N", "H", "W"])], weights)
    assert_one_line_error(run_cli("predict", ids, tif, "-o", tmp_path / "o.tif"),
                          "ids.onnx", "int64", "before ArgMax")

    # the scores beside the ids, or a segmentation head beside a classifier head: the
    # refusal names --outputs of the usable one (it said 'export the scores', 'classifier')
    probs = helper.make_node("Softmax", ["logits"], ["probs"], axis=1)
    both = save_graph(tmp_path / "both.onnx", [conv, probs, helper.make_node(
        "ArgMax", ["logits"], ["pred"], axis=1, keepdims=0)], nchw_in(),
        [("probs", FLOAT, ["N", 3, "H", "W"]), ("pred", helper.TensorProto.INT64,
                                                ["N", "H", "W"])], weights)
    heads = save_graph(tmp_path / "heads.onnx", [conv, probs, helper.make_node(
        "ReduceMean", ["logits"], ["pooled"], axes=[2, 3], keepdims=0),
        helper.make_node("Sigmoid", ["pooled"], ["cls_out/Sigmoid:0"])], nchw_in(),
        [("cls_out/Sigmoid:0", FLOAT, ["N", 3]), ("probs", FLOAT, ["N", 3, "H", "W"])],
        weights, opset=13)
    for path, fragment in ((both, "class ids"), (heads, "one value per image")):
        assert_one_line_error(run_cli("predict", path, tif, "-o", tmp_path / "o.tif"),
                              path.name, fragment, "give --outputs probs.")
        assert not (tmp_path / "o.tif").exists()
        result = run_cli("predict", path, tif, "-o", tmp_path / f"{path.stem}.tif", "--outputs",
                         "probs", "--dtype", "float32", "--tile-size", "64")
        assert result.exit_code == 0, result.output
        with rasterio.open(tmp_path / f"{path.stem}.tif") as out:
            expected = whole(path, image)[0 if path == both else 1][0]
            np.testing.assert_allclose(out.read(), expected, atol=1e-5)
    from .onnx_models import pointwise_model

    fixed = pointwise_model(tmp_path / "fixed.onnx", size=224)
    assert_one_line_error(run_cli("predict", fixed, tif, "-o", tmp_path / "o.tif",
                                  "--tile-size", "256"), "fixed 224 px")


def yolo_seg_model(path, *, size=64, classes=2, prototypes=32, dynamic=False, metadata=None):
    """An Ultralytics YOLOv8-seg export: detections [N, 4 + classes + prototypes, anchors]
    (boxes, class scores, mask coefficients; here one stride-8 level) and mask prototypes
    [N, prototypes, H/4, W/4]."""
    features = 4 + classes + prototypes
    rng = np.random.default_rng(40)
    weights = {"dW": rng.normal(0, 0.1, (features, 3, 8, 8)).astype(np.float32),
               "dB": np.zeros(features, np.float32),
               "pW": rng.normal(0, 0.1, (prototypes, 3, 4, 4)).astype(np.float32),
               "pB": np.zeros(prototypes, np.float32),
               "flat": np.array([0, features, -1], np.int64)}
    nodes = [helper.make_node("Conv", ["images", "dW", "dB"], ["det"], kernel_shape=[8, 8],
                              strides=[8, 8]),
             helper.make_node("Reshape", ["det", "flat"], ["output0"]),
             helper.make_node("Conv", ["images", "pW", "pB"], ["proto"], kernel_shape=[4, 4],
                              strides=[4, 4]),
             helper.make_node("Sigmoid", ["proto"], ["output1"])]
    side = "H" if dynamic else size
    anchors = "anchors" if dynamic else (size // 8) ** 2
    quarter = ["mask_height", "mask_width"] if dynamic else [size // 4, size // 4]
    return save_graph(path, nodes, [("images", FLOAT, [1, 3, side, side])],
                      [("output0", FLOAT, [1, features, anchors]),
                       ("output1", FLOAT, [1, prototypes, *quarter])], weights,
                      metadata=metadata)


def test_an_instance_segmentation_model_is_refused_not_its_prototypes_written(
        tmp_path, run_cli, make_raster, image):
    """A YOLOv8-seg export (detections [1, 38, 64] and 32 mask prototypes [1, 32, 16, 16] at
    64 px) was refused with 'its output output1 can be predicted: give --outputs output1',
    and so given, wrote 32 bands of a softmax over the prototypes (basis masks that only the
    detections' coefficients turn into instances), exit 0; it is refused in one line as an
    instance-segmentation model, the prototypes chosen too, and nothing is written."""
    from .conftest import assert_one_line_error

    tif = make_raster("img.tif", image)
    static = yolo_seg_model(tmp_path / "yolov8n-seg.onnx")
    dynamic = yolo_seg_model(tmp_path / "dyn-seg.onnx", dynamic=True)
    tagged = yolo_seg_model(tmp_path / "best.onnx", dynamic=True, metadata={
        "author": "Ultralytics", "task": "segment", "names": "{0: 'building', 1: 'tree'}"})
    for path, extra in ((static, []), (static, ["--outputs", "output1"]), (dynamic, []),
                        (dynamic, ["--outputs", "output1"]), (tagged, ["--outputs", "output1"])):
        result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", *extra)
        assert_one_line_error(result, path.name, "instance segmentation")
        assert "--outputs output1" not in result.stderr
        assert not (tmp_path / "o.tif").exists()


def test_a_pooled_classifier_head_of_1_x_1_px_is_refused_as_a_classifier(tmp_path, run_cli,
                                                                        make_raster, image):
    """A GlobalAveragePool head ([N, K, 1, 1], one value per window) was taken for a 512x
    downscale and refused with 'overlap must be ... smaller than the patch size (512), got
    512'; it is refused as a classifier, naming the model."""
    from .conftest import assert_one_line_error

    conv, weights = conv1x1("input", "logits", 3, 2, seed=12)
    pooled = save_graph(tmp_path / "gap.onnx", [
        conv, helper.make_node("GlobalAveragePool", ["logits"], ["output"])], nchw_in(),
        [("output", FLOAT, ["N", 2, 1, 1])], weights)
    tif = make_raster("img.tif", image)
    result = run_cli("predict", pooled, tif, "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "gap.onnx", "classifier")
    assert "overlap" not in result.stderr
    assert not (tmp_path / "o.tif").exists()


def test_a_downscaling_model_at_one_output_cell_a_window_is_told_the_tile_size(
        tmp_path, run_cli, make_raster, image):
    """A stride-16 segmentation head at --tile-size 16 gives [N, K, 1, 1] (one cell a window,
    5 x 5 at 80 px): it was refused as 'a pooled classifier head, not a segmentation model'
    (before that, 'overlap must be ... smaller than the patch size (16), got 16'); it is
    told its downscale and a --tile-size that leaves a step, which runs."""
    from .conftest import assert_one_line_error

    weights = {"W": np.full((2, 3, 16, 16), 0.01, np.float32), "B": np.zeros(2, np.float32)}
    strided = save_graph(tmp_path / "s16.onnx", [helper.make_node(
        "Conv", ["input", "W", "B"], ["output"], kernel_shape=[16, 16], strides=[16, 16])],
        nchw_in(), [("output", FLOAT, ["N", 2, "h", "w"])], weights)
    tif = make_raster("img.tif", image)
    result = run_cli("predict", strided, tif, "-o", tmp_path / "o.tif", "--tile-size", "16")
    assert_one_line_error(result, "s16.onnx", "downscales by 16", "--tile-size 32")
    assert "classifier" not in result.stderr
    assert not (tmp_path / "o.tif").exists()
    ok = run_cli("predict", strided, tif, "-o", tmp_path / "o.tif", "--tile-size", "32")
    assert ok.exit_code == 0, ok.output


# --- 6. Deepness metadata, in all its documented forms ---------------------------------------
@pytest.mark.parametrize(("key", "value", "classes", "names"), [
    ("class_names", "{0: 'road', 1: 'tree'}", 2, ["road", "tree"]),  # a Python literal
    ("class_names", '[{"0": "road", "1": "tree"}]', 2, ["road", "tree"]),  # one per output
    ("names", "{0: 'road', 1: 'tree'}", 2, ["road", "tree"]),
    ("class_names", '{"0": "background", "1": "roof"}', 1, ["roof"]),  # binary: foreground
    ("class_names", '["a", "b", "c"]', 2, ["class_1", "class_2"]),  # does not fit: neutral
])
def test_class_names_forms(tmp_path, key, value, classes, names):
    path = logits_model(tmp_path / "m.onnx", classes=classes, metadata={key: value})
    assert OnnxModel.from_path(path).class_names == names


def test_sizes_overlap_resolution_normalisation_and_threshold(tmp_path, image):
    from geotile.predict import resolve_tiling

    metadata = {"tile_size": "96", "tiles_overlap": "25", "resolution": "50",
                "standardization_mean": "[0.5, 0.5, 0.5]", "standardization_std": "[0.25]",
                "seg_thresh": "0"}
    model = OnnxModel.from_path(logits_model(tmp_path / "m.onnx", metadata=metadata))
    assert (model.tile_size, model.overlap_fraction, model.resolution) == (96, 0.25, 0.5)
    assert model.threshold is None  # Deepness: 0 means no threshold
    assert resolve_tiling(model, PredictOptions()) == (96, 24)
    np.testing.assert_allclose(model.prepare(np.full((1, 3, 1, 1), 255, np.uint8)), 2.0)
    plain = OnnxModel.from_path(logits_model(tmp_path / "p.onnx"))
    assert resolve_tiling(plain, PredictOptions()) == (512, 128)  # dynamic, no metadata: 25 %


@pytest.mark.parametrize(("key", "value"), [("tile_size", "abc"), ("tiles_size", "-3"),
                                            ("tiles_overlap", "150"), ("resolution", "x"),
                                            ("seg_thresh", "high"),
                                            ("standardization_std", "abc"),
                                            ("standardization_std", "[1e400, 1, 1]"),
                                            ("standardization_mean", '{"r": 0.5}'),
                                            ("standardization_mean", "[[0.5], [0.5], [0.5]]"),
                                            ("standardization_mean", "[0.5, NaN, 0.5]"),
                                            ("standardization_mean", "[0.5, 0.5, 0.5, 0.5]"),
                                            ("pixel_std", "[58, 57]")])
def test_bad_metadata_is_one_line(tmp_path, run_cli, make_raster, image, key, value):
    from .conftest import assert_one_line_error

    path = logits_model(tmp_path / "m.onnx", metadata={key: value})
    tif = make_raster("img.tif", image)
    assert_one_line_error(run_cli("predict", path, tif, "-o", tmp_path / "o.tif"),
                          "m.onnx", key, value)

    assert not (tmp_path / "o.tif").exists()


@pytest.mark.parametrize(("key", "value", "option"), [
    ("resolution", "30cm", ["--model-resolution", "native"]),
    ("resolution", "30cm", ["--model-resolution", "0.5"]),
    ("tile_size", "512x512", ["--tile-size", "64"]), ("tiles_overlap", "150", ["--overlap", "8"]),
    ("seg_thresh", "high", ["--threshold", "0.5"])])
def test_a_bad_metadata_value_is_not_read_when_its_option_replaces_it(
        tmp_path, run_cli, make_raster, image, key, value, option):
    """The refusal said 'Fix the model's metadata or give --tile-size' (--overlap,
    --threshold, --model-resolution), but with the option given the model was still refused."""
    path = logits_model(tmp_path / "m.onnx", metadata={key: value})
    tif = make_raster("img.tif", image)  # 0.5 m pixels
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", "--dtype", "float32",
                     *option)
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "o.tif") as out:
        np.testing.assert_allclose(out.read(1), sigmoid(whole(path, image)[0][0, 0]), atol=1e-5)

def test_mean_and_std_on_the_0_255_scale_apply_to_raw_pixels(tmp_path, caplog):
    """torchvision's constants written for 0..255 pixels (123.675, 58.395): no 1/255 first,
    or every pixel would come out near -2.1."""
    metadata = {"standardization_mean": "[123.675, 116.28, 103.53]",
                "standardization_std": "[58.395, 57.12, 57.375]"}
    pixels = np.array([0, 128, 255], np.uint8).reshape(1, 1, 1, 3).repeat(3, axis=1)
    with caplog.at_level("INFO", logger="geotile"):
        model = OnnxModel.from_path(logits_model(tmp_path / "m.onnx", metadata=metadata))
        prepared = model.prepare(pixels)
    expected = (pixels[0].astype(np.float32) - np.array([123.675, 116.28, 103.53],
                                                         np.float32)[:, None, None]) \
        / np.array([58.395, 57.12, 57.375], np.float32)[:, None, None]
    np.testing.assert_allclose(prepared[0], expected, rtol=1e-5)
    assert "0..255" in caplog.text
    # on the 0..1 scale (Deepness's convention) pixels are divided by 255 first, as before
    unit = OnnxModel.from_path(logits_model(tmp_path / "u.onnx", metadata={
        "standardization_mean": "[0.485, 0.456, 0.406]",
        "standardization_std": "[0.229, 0.224, 0.225]"}))
    np.testing.assert_allclose(unit.prepare(pixels)[0, 0], (pixels[0, 0] / 255 - 0.485) / 0.229,
                               rtol=1e-5)


@pytest.mark.parametrize("mean, std, warned", [
    ([0.485, 0.456, 0.406], [58.395, 57.12, 57.375], True),  # mean 0..1, std 0..255
    ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225], False),
    ([123.675, 116.28, 103.53], [58.395, 57.12, 57.375], False),
    ([0, 0, 0], [255, 255, 255], False),  # 0..255 pixels divided by 255: one scale
])
def test_a_mean_and_std_on_two_scales_are_said(tmp_path, caplog, mean, std, warned):
    """ImageNet's mean for 0..1 pixels beside its std for 0..255 ones, as exports mixing
    torchvision's two sets write them: normalised pixels 255 times off,
    without a word; now one warning naming both and --mean/--std."""
    metadata = {"standardization_mean": json.dumps(mean), "standardization_std": json.dumps(std)}
    with caplog.at_level("WARNING", logger="geotile"):
        OnnxModel.from_path(logits_model(tmp_path / "m.onnx", metadata=metadata))
    said = "scales" in caplog.text and "--mean" in caplog.text and "--std" in caplog.text
    assert said == warned, caplog.text


UNIT_MEAN, UNIT_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
MEAN_255, STD_255 = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]


@pytest.mark.parametrize(("metadata", "mean", "std", "scale"), [
    ({"mean": UNIT_MEAN, "std": UNIT_STD}, UNIT_MEAN, UNIT_STD, 1 / 255),
    ({"Mean": UNIT_MEAN, "STD": UNIT_STD}, UNIT_MEAN, UNIT_STD, 1 / 255),
    ({"STANDARDIZATION_MEAN": UNIT_MEAN, "STANDARDIZATION_STD": UNIT_STD}, UNIT_MEAN,
     UNIT_STD, 1 / 255),
    ({"pixel_mean": MEAN_255, "pixel_std": STD_255}, MEAN_255, STD_255, 1.0),
    ({"img_norm_cfg": {"mean": MEAN_255, "std": STD_255, "to_rgb": True}}, MEAN_255, STD_255,
     1.0),
    ({"normalization": {"mean": [0.5] * 3, "std": [0.5] * 3}}, [0.5] * 3, [0.5] * 3, 1 / 255),
    ({"mean": UNIT_MEAN, "standardization_mean": UNIT_MEAN}, UNIT_MEAN, [1.0] * 3, 1 / 255),
])
def test_normalisation_metadata_under_its_usual_keys_is_read(tmp_path, image, caplog, metadata,
                                                             mean, std, scale):
    """mean/std, pixel_mean/_std, img_norm_cfg {mean, std}, any case: they were ignored
    without a word (x / 255 fed with mean 0, std 1: 47 % of pixel classes wrong)."""
    path = logits_model(tmp_path / "m.onnx", classes=3, metadata=metadata)
    with caplog.at_level("WARNING", logger="geotile"):
        model = OnnxModel.from_path(path)
    assert caplog.text == ""
    feed = (image[np.newaxis].astype(np.float32) * np.float32(scale)
            - np.float32(mean).reshape(1, 3, 1, 1)) / np.float32(std).reshape(1, 3, 1, 1)
    np.testing.assert_allclose(model.prepare(image[np.newaxis]), feed, rtol=1e-5, atol=1e-5)
    out = predict_array(model, image, options=PredictOptions(tile_size=64))
    logits = ort_run(path, feed)[0][0]
    expected = np.exp(logits - logits.max(axis=0)) / np.exp(logits - logits.max(axis=0)).sum(0)
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_upper_case_metadata_keys_are_read(tmp_path):
    path = logits_model(tmp_path / "m.onnx", classes=2, metadata={
        "CLASS_NAMES": "road,tree", "TILE_SIZE": "96", "class_names": "a,b"})
    model = OnnxModel.from_path(path)
    assert (model.class_names, model.tile_size) == (["a", "b"], 96)  # lower case wins


@pytest.mark.parametrize(("metadata", "named"), [
    ({"img_norm_cfg": [MEAN_255, STD_255]}, "img_norm_cfg"),
    ({"mean_values": "123.675,116.28,103.53"}, "mean_values"),
    ({"rgb_std": STD_255}, "rgb_std"),
    ({"normalize": "imagenet 0.485"}, "normalize"),
])
def test_normalisation_metadata_that_is_not_read_is_warned(tmp_path, caplog, metadata, named):
    path = logits_model(tmp_path / "m.onnx", metadata=metadata)
    with caplog.at_level("WARNING", logger="geotile"):
        OnnxModel.from_path(path)
    assert named in caplog.text and "--" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="geotile"):  # the options replace it: no word
        OnnxModel.from_path(path, mean=[0.5], std=[0.5])
    assert caplog.text == ""


def _assert_fed_bgr(path, image, output) -> tuple[np.ndarray, np.ndarray]:
    """Assert ``output`` holds the softmax of the model at ``path`` fed ``image`` as mmseg
    feeds a to_rgb false model (its B,G,R, minus the mean given in B,G,R order, over the
    std), and differs from the unflipped feed's (the model tells the channels apart);
    return both references (flipped, unflipped)."""
    mean = np.float32(MEAN_255[::-1]).reshape(-1, 1, 1)
    std = np.float32(STD_255[::-1]).reshape(-1, 1, 1)

    def reference(pixels):
        feed = np.ascontiguousarray(((pixels.astype(np.float32) - mean) / std)[np.newaxis])
        return softmax(ort_run(path, feed)[0][0].astype(np.float64))

    expected, unflipped = reference(image[::-1]), reference(image)
    with rasterio.open(output) as out:
        got = out.read()
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.abs(got - unflipped).max() > 1e-3
    return expected, unflipped


@pytest.mark.parametrize("metadata", [
    {"img_norm_cfg": {"mean": MEAN_255[::-1], "std": STD_255[::-1], "to_rgb": False}},
    {"data_preprocessor": {"mean": MEAN_255[::-1], "std": STD_255[::-1],
                           "bgr_to_rgb": False}},
    {"normalization": {"mean": MEAN_255[::-1], "std": STD_255[::-1], "rgb_to_bgr": True}},
])
def test_metadata_declaring_bgr_input_is_flipped(tmp_path, run_cli, make_raster, image,
                                                 metadata):
    """Metadata whose normalisation says the model takes BGR (mmseg's to_rgb false, its
    mean/std in B,G,R order) only got a warning asking for --bands 3,2,1: a user who missed
    it got BGR-wrong outputs with exit 0. Now the image's R,G,B are flipped to B,G,R for the
    model (the Hugging Face flip), the mean/std applied in the model's order."""
    path = logits_model(tmp_path / "m.onnx", classes=3, metadata=metadata)
    tif = make_raster("img.tif", image)
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", "--dtype", "float32",
                     "--tile-size", "64")
    assert result.exit_code == 0, result.output
    assert "--bands 3,2,1" not in result.stderr, result.stderr
    _assert_fed_bgr(path, image, tmp_path / "o.tif")
    result = run_cli("predict", path, tif, "-o", tmp_path / "b.tif", "--tile-size", "64",
                     "--bands", "3,2,1")
    said = [line for line in result.stderr.splitlines() if "--bands 3,2,1" in line]
    assert result.exit_code == 0 and len(said) == 1 and "metadata" in said[0], result.stderr


def test_metadata_declaring_bgr_input_of_4_channels_is_refused(tmp_path, run_cli,
                                                               make_raster, image):
    conv, weights = conv1x1("input", "output", 4, 2, seed=4)
    path = save_graph(tmp_path / "m.onnx", [conv], nchw_in(channels=4),
                      [("output", FLOAT, ["N", 2, "H", "W"])], weights, metadata={
                          "img_norm_cfg": {"mean": [103.5, 116.3, 123.7, 9], "std": [57, 57, 58, 4],
                                           "to_rgb": False}})
    rgbn = make_raster("rgbn.tif", np.concatenate([image, image[:1]]))
    out = tmp_path / "o.tif"
    result = run_cli("predict", path, rgbn, "-o", out, "--tile-size", "64")
    assert_one_line_error(result, "img_norm_cfg", "4 channels")
    assert not out.exists()


def test_unrelated_metadata_is_not_taken_for_normalisation(tmp_path, caplog):
    path = logits_model(tmp_path / "m.onnx", metadata={
        "mean_iou": "0.82", "norm_cfg": "{'type': 'SyncBN'}", "std_dev_of_labels": "3",
        "norm_layer": "BatchNorm2d", "normalization_layer": "nn.GroupNorm32"})
    with caplog.at_level("WARNING", logger="geotile"):
        model = OnnxModel.from_path(path)
    assert caplog.text == ""
    assert model.normalization_for(np.uint8) == dataclasses.replace(
        model.normalization_for(np.uint8), scale=1 / 255, mean=(0.0,) * 3, std=(1.0,) * 3)


def test_two_normalisation_keys_that_disagree_are_one_line(tmp_path, run_cli, make_raster,
                                                          image):
    from .conftest import assert_one_line_error

    path = logits_model(tmp_path / "m.onnx", metadata={"mean": UNIT_MEAN,
                                                       "pixel_mean": MEAN_255})
    tif = make_raster("img.tif", image)
    assert_one_line_error(run_cli("predict", path, tif, "-o", tmp_path / "o.tif"),
                          "m.onnx", "metadata mean", "metadata pixel_mean", "--mean")
    assert not (tmp_path / "o.tif").exists()
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", "--mean", "0.5")
    assert result.exit_code == 0, result.output


def test_a_mean_option_beside_the_metadatas_std_is_said(tmp_path, run_cli, make_raster,
                                                          image):
    """Metadata mean/std for 0..255 pixels (123.675 / 58.395) and --mean 0.485,0.456,0.406:
    the metadata's std of 58.4 silently stayed (so uint8 went in undivided, (x - 0.485) /
    58.4). Now a warning says which metadata value stays and asks for --std."""
    path = logits_model(tmp_path / "m.onnx", metadata={"mean": MEAN_255,
                                                       "std": STD_255})
    tif = make_raster("img.tif", image)
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", "--mean",
                     "0.485,0.456,0.406")
    assert result.exit_code == 0, result.output
    assert "--mean 0.485,0.456,0.406 replaces its metadata's mean" in result.stderr
    assert "std (std 58.395,57.12,57.375) stays: give --std too" in result.stderr
    result = run_cli("predict", path, tif, "-o", tmp_path / "p.tif", "--mean",
                     "0.485,0.456,0.406", "--std", "0.229,0.224,0.225")
    assert result.exit_code == 0 and "stays" not in result.stderr, result.output



def test_a_kept_metadata_value_is_said_channel_by_channel(tmp_path, run_cli, make_raster,
                                                          image):
    """Metadata std [58, 57, 57, 3.5] (RGB + nDSM) kept beside --mean: the warning named it
    'std 58,57,3.5' (repeated values dropped: 3 values for 4 channels, which --std refuses).
    Now every channel's value, one value only when all are equal."""
    from .onnx_models import pointwise_model

    path = pointwise_model(tmp_path / "m.onnx", channels=4, metadata={
        "mean": "[123.0, 116.0, 103.0, 2.1]", "std": "[58.0, 57.0, 57.0, 3.5]"})
    tif = make_raster("img.tif", np.concatenate([image, image[:1]]), photometric="MINISBLACK")
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", "--mean", "0.5")
    assert result.exit_code == 0, result.output
    assert "--mean 0.5 replaces its metadata's mean" in result.stderr
    assert "std (std 58,57,57,3.5) stays" in result.stderr, result.stderr


def test_extra_bands_mean_is_not_said_to_decide_the_images_scale(tmp_path, run_cli,
                                                                 make_raster, image):
    """Metadata mean [0.34, 0.36, 0.33, 2.1] (RGB 0..1, nDSM metres) with --extra-bands:
    -v said 'mean [...2.1] ... are on the 0..255 scale: uint8 pixels are not divided by 255'
    while the RGB was divided (the image's channels decide). Now it says what is done."""
    from .onnx_models import pointwise_model

    path = pointwise_model(tmp_path / "m.onnx", channels=4, metadata={
        "mean": "[0.34, 0.36, 0.33, 2.1]", "std": "[0.2, 0.2, 0.2, 3.5]"})
    tif = make_raster("img.tif", image)
    dsm = make_raster("dsm.tif", image[0].astype(np.float32) / 10)
    result = run_cli("-v", "predict", path, tif, "--extra-bands", dsm, "-o",
                     tmp_path / "o.tif")
    assert result.exit_code == 0, result.output
    said = result.stderr.split("m.onnx: mean")[-1]
    assert "image's 3 channels are on the 0..1 scale: uint8 pixels are divided by 255" in said

def _rescaling_model(path, first: str):
    """A model that scales its own input to 0..1 before a 1x1 Conv and a Softmax: keras
    Rescaling(1/255) as tf2onnx writes it (NHWC, Mul + Add 0), torch's x / 255 (Div), a
    Cast first, keras Rescaling(1/127.5, offset=-1), torch's x / 255 with
    ``F.interpolate(size=x.shape[-2:])`` at the end (the input also feeds Shape and Size),
    x / 255 after a reflect Pad (cut off again at the end), after a Pad to a multiple of 32
    computed from the input's shape, after a Resize (the model's own input resize)."""
    make = helper.make_node
    consts = {"k": np.array(1 / 255, np.float32), "d": np.array(255, np.float32),
              "zero": np.array(0, np.float32), "half": np.array(1 / 127.5, np.float32),
              "minus": np.array(-1, np.float32), "start": np.array([2], np.int64),
              "stop": np.array([4], np.int64), "nc": np.array([1, 3], np.int64)}
    conv, weights = conv1x1("scaled", "z", 3, 3, seed=31)
    resize = []
    consts.update(pads=np.array([0, 0, 2, 2, 0, 0, 2, 2], np.int64),
                  at=np.array([2, 2], np.int64), ones4=np.array([1, 1, 1, 1], np.float32),
                  axes=np.array([2, 3], np.int64), by32=np.array(32, np.int64),
                  zeros6=np.zeros(6, np.int64), zeros2=np.zeros(2, np.int64))
    if first.startswith("pad"):  # the padding cut off again: [:, :, :h, :w] of the input
        conv, weights = conv1x1("scaled", "y", 3, 3, seed=31)
        start = "at" if first == "pad-reflect" else "zeros2"
        resize = [make("Shape", ["input"], ["shape"]),
                  make("Slice", ["shape", "start", "stop"], ["hw"]),
                  make("Add", ["hw", start], ["end"]),
                  make("Slice", ["y", start, "end", "axes"], ["z"])]
    if first == "div-shape":
        conv, weights = conv1x1("scaled", "y", 3, 3, seed=31)
        resize = [make("Shape", ["input"], ["shape"]), make("Size", ["input"], ["size"]),
                  make("Slice", ["shape", "start", "stop"], ["hw"]),
                  make("Concat", ["nc", "hw"], ["sizes"], axis=0),
                  make("Resize", ["y", "", "", "sizes"], ["z"], mode="nearest")]
    firsts = {"keras": [make("Transpose", ["input"], ["t"], perm=[0, 3, 1, 2]),
                        make("Mul", ["t", "k"], ["m"]), make("Add", ["m", "zero"], ["scaled"])],
              "div": [make("Div", ["input", "d"], ["scaled"])],
              "div-shape": [make("Div", ["input", "d"], ["scaled"])],
              "cast-mul": [make("Cast", ["input"], ["c"], to=FLOAT),
                           make("Mul", ["k", "c"], ["scaled"])],
              "minus-one": [make("Mul", ["input", "half"], ["m"]),
                            make("Add", ["m", "minus"], ["scaled"])],
              "pad-reflect": [make("Pad", ["input", "pads"], ["p"], mode="reflect"),
                              make("Div", ["p", "d"], ["scaled"])],
              "pad-to-32": [make("Shape", ["input"], ["s"]),
                            make("Slice", ["s", "start", "stop"], ["s_hw"]),
                            make("Mod", ["s_hw", "by32"], ["rest"]),
                            make("Sub", ["by32", "rest"], ["short"]),
                            make("Mod", ["short", "by32"], ["extra"]),
                            make("Concat", ["zeros6", "extra"], ["p32"], axis=0),
                            make("Pad", ["input", "p32"], ["p"]),
                            make("Div", ["p", "d"], ["scaled"])],
              "resize": [make("Resize", ["input", "", "ones4"], ["r"], mode="nearest"),
                         make("Div", ["r", "d"], ["scaled"])]}
    layout = ["N", "H", "W", 3] if first == "keras" else ["N", 3, "H", "W"]
    return save_graph(path, [*firsts[first], conv, *resize,
                             make("Softmax", ["z"], ["output"], axis=1)],
                      [("input", FLOAT, layout)], [("output", FLOAT, ["N", 3, "H", "W"])],
                      {**weights, **consts})


@pytest.mark.parametrize("first", ["keras", "div", "cast-mul", "minus-one", "div-shape",
                                   "pad-reflect", "pad-to-32", "resize"])
def test_a_model_that_rescales_its_input_gets_raw_pixels(tmp_path, image, caplog, first):
    """The model divides by 255 itself: uint8 pixels divided by 255 first reached it as
    0..0.004 (75 % of class pixels wrong; 12.7 % with a Pad or Resize before the Div, which
    hid it); --scale still wins."""
    path = _rescaling_model(tmp_path / "m.onnx", first)
    with caplog.at_level("INFO", logger="geotile"):
        model = OnnxModel.from_path(path)
    assert "divides its input" in caplog.text
    assert model.normalization_for(np.uint8).scale == 1.0
    feed = image[np.newaxis].astype(np.float32)
    expected = ort_run(path, feed.transpose(0, 2, 3, 1) if first == "keras" else feed)[0][0]
    out = predict_array(model, image, options=PredictOptions(tile_size=64))
    np.testing.assert_allclose(out, expected, atol=1e-5)
    chosen = OnnxModel.from_path(path, scale=1 / 255)
    assert chosen.normalization_for(np.uint8).scale == pytest.approx(1 / 255)


def test_a_model_scaling_its_input_by_another_factor_keeps_the_default(tmp_path):
    conv, weights = conv1x1("scaled", "output", 3, 1, seed=32)
    path = save_graph(tmp_path / "m.onnx", [helper.make_node("Mul", ["input", "k"], ["scaled"]),
                                            conv],
                      nchw_in(), [("output", FLOAT, ["N", 1, "H", "W"])],
                      {**weights, "k": np.array(2, np.float32)})
    assert OnnxModel.from_path(path).normalization_for(np.uint8).scale == pytest.approx(1 / 255)


def _normalising_model(path, first: str):
    """A model standardising its own input before a 1x1 Conv and a Softmax: torch's
    ``(x - mean) / std`` with ImageNet's constants x 255 (NCHW), the same after a Cast, as
    a Mul by 1 / std, as an Add of -mean; keras Normalization via tf2onnx (NHWC Sub + Div
    by its Sqrt); a caffe-style mean only; or the constants for 0..1 pixels."""
    make = helper.make_node
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    small = first.startswith("unit")
    mean, std = (mean, std) if small else (mean * 255, std * 255)
    shape = (1, 1, 1, 3) if first == "keras" else (1, 3, 1, 1)
    consts = {"mean": mean.reshape(shape).astype(np.float32),
              "neg": -mean.reshape(shape).astype(np.float32),
              "std": std.reshape(shape).astype(np.float32),
              "inv": (1 / std).reshape(shape).astype(np.float32)}
    firsts = {"torch": [make("Sub", ["input", "mean"], ["a"]),
                        make("Div", ["a", "std"], ["scaled"])],
              "unit": [make("Sub", ["input", "mean"], ["a"]),
                       make("Div", ["a", "std"], ["scaled"])],
              "cast": [make("Cast", ["input"], ["c"], to=FLOAT),
                       make("Sub", ["c", "mean"], ["a"]), make("Div", ["a", "std"], ["scaled"])],
              "mul-first": [make("Mul", ["input", "inv"], ["a"]),
                            make("Sub", ["a", "mean"], ["scaled"])],
              "add": [make("Add", ["neg", "input"], ["a"]),
                      make("Mul", ["a", "inv"], ["scaled"])],
              "caffe": [make("Sub", ["input", "mean"], ["scaled"])],
              "keras": [make("Sub", ["input", "mean"], ["a"]),
                        make("Div", ["a", "std"], ["n"]),
                        make("Transpose", ["n"], ["scaled"], perm=[0, 3, 1, 2])],
              # RGB to BGR first (caffe/mmseg exports): a Gather of channels 2, 1, 0, torch's
              # x.flip(1) (a Slice of step -1), a Split into channels, each shifted, Concat
              "bgr-gather": [make("Gather", ["input", "bgr"], ["g"], axis=1),
                             make("Sub", ["g", "mean"], ["a"]),
                             make("Div", ["a", "std"], ["scaled"])],
              "unit-bgr": [make("Gather", ["input", "bgr"], ["g"], axis=1),
                           make("Sub", ["g", "mean"], ["a"]),
                           make("Div", ["a", "std"], ["scaled"])],
              "bgr-slice": [make("Slice", ["input", "start", "end", "axis", "step"], ["g"]),
                            make("Div", ["g", "std"], ["a"]),
                            make("Sub", ["a", "mean"], ["scaled"])],
              "bgr-255": [make("Gather", ["input", "bgr"], ["g"], axis=1),
                          make("Unsqueeze", ["g", "axis0"], ["u"]),
                          make("Squeeze", ["u", "axis0"], ["s"]),
                          make("Mul", ["s", "by255"], ["scaled"])],
              # an input BatchNormalization (caffe's data_bn): its running mean/var (or its
              # scale and bias, mean 0, var 1) are a Sub and Div
              "bn": [make("BatchNormalization", ["input", "one3", "zero3", "mean3", "var3"],
                          ["scaled"])],
              "bn-affine": [make("BatchNormalization", ["input", "inv3", "neg3", "zero3",
                                                        "one3"], ["scaled"], epsilon=0.0)],
              "unit-bn": [make("BatchNormalization", ["input", "one3", "zero3", "mean3",
                                                      "var3"], ["scaled"])],
              "split": [make("Split", ["input", "ones"], ["r", "g", "b"], axis=1),
                        *[make("Sub", [c, f"m{c}"], [f"s{c}"]) for c in "rgb"],
                        make("Concat", ["sr", "sg", "sb"], ["a"], axis=1),
                        make("Div", ["a", "std"], ["scaled"])]}
    consts.update(one3=np.ones(3, np.float32), zero3=np.zeros(3, np.float32),
                  mean3=mean.astype(np.float32), var3=(std ** 2).astype(np.float32),
                  inv3=(1 / std).astype(np.float32), neg3=(-mean / std).astype(np.float32))
    consts.update(bgr=np.array([2, 1, 0], np.int64), start=np.array([-1], np.int64),
                  end=np.array([-(2 ** 63)], np.int64), axis=np.array([1], np.int64),
                  step=np.array([-1], np.int64), axis0=np.array([0], np.int64),
                  by255=np.array(1 / 255, np.float32), ones=np.array([1, 1, 1], np.int64),
                  **{f"m{c}": np.array(m, np.float32) for c, m in zip("rgb", mean, strict=True)})
    conv, weights = conv1x1("scaled", "z", 3, 3, seed=33)
    layout = ["N", "H", "W", 3] if first == "keras" else ["N", 3, "H", "W"]
    return save_graph(path, [*firsts[first], conv, make("Softmax", ["z"], ["output"], axis=1)],
                      [("input", FLOAT, layout)], [("output", FLOAT, ["N", 3, "H", "W"])],
                      {**weights, **consts})


@pytest.mark.parametrize("first", ["torch", "cast", "mul-first", "add", "caffe", "keras",
                                   "unit", "bgr-gather", "unit-bgr", "bgr-slice", "bgr-255",
                                   "split", "bn", "bn-affine", "unit-bn"])
def test_a_model_standardising_0_255_pixels_itself_gets_raw_pixels(tmp_path, image, caplog,
                                                                   first):
    """ImageNet's mean/std x 255 subtracted and divided inside the graph: uint8 pixels
    divided by 255 first gave 67 % of class ids wrong, without a word. Constants for 0..1
    pixels (0.485 / 0.229) keep the 1/255."""
    path = _normalising_model(tmp_path / "m.onnx", first)
    with caplog.at_level("INFO", logger="geotile"):
        model = OnnxModel.from_path(path)
    scale = 1 / 255 if first.startswith("unit") else 1.0
    assert model.normalization_for(np.uint8).scale == pytest.approx(scale)
    assert ("0..255 pixels" in caplog.text or "by 255 itself" in caplog.text) == (
        not first.startswith("unit"))
    feed = image[np.newaxis].astype(np.float32) * np.float32(scale)
    expected = ort_run(path, feed.transpose(0, 2, 3, 1) if first == "keras" else feed)[0][0]
    out = predict_array(model, image, options=PredictOptions(tile_size=64))
    np.testing.assert_allclose(out, expected, atol=1e-5)
    assert OnnxModel.from_path(path, scale=1 / 255).normalization_for(
        np.uint8).scale == pytest.approx(1 / 255)


@pytest.mark.parametrize("form", ["qdq-255", "qdq-std", "qdq-bn", "qoperator-255",
                                  "qoperator-std"])
def test_a_quantized_model_scaling_0_255_pixels_itself_gets_raw_pixels(tmp_path, image,
                                                                       form):
    """onnxruntime.quantization.quantize_static quantises the input first (QuantizeLinear,
    then DequantizeLinear in QDQ, or a com.microsoft QLinearMul/QLinearAdd in QOperator) and
    the constants of the model's own ``x / 255``, ``x * (1 / std) - mean / std`` or input
    BatchNormalization (a DequantizeLinear of int8 weights): geotile saw none of it and
    divided uint8 pixels by 255 first, so the model saw 0..0.0039. Raw pixels go in."""
    make = helper.make_node
    std = np.array([58.395, 57.12, 57.375])
    if form.endswith("255"):
        factor = np.array(1 / 255)
    else:
        factor = 1 / std if form == "qdq-bn" else (1 / std).reshape(1, 3, 1, 1)
    k_scale = np.float32(factor.max() / 255)
    consts = {"x_s": np.array(1.0, np.float32), "x_z": np.array(0, np.uint8),
              "k_q": np.round(factor / k_scale).astype(np.uint8),
              "k_s": k_scale, "k_z": np.array(0, np.uint8),
              "y_s": np.array(1 / 255 if form.endswith("255") else 0.02, np.float32),
              "y_z": np.array(0, np.uint8),
              "zero3": np.zeros(3, np.float32), "one3": np.ones(3, np.float32)}
    quantize = make("QuantizeLinear", ["input", "x_s", "x_z"], ["xq"])
    if form.startswith("qoperator"):
        first = [quantize, make("QLinearMul", ["xq", "x_s", "x_z", "k_q", "k_s", "k_z", "y_s",
                                               "y_z"], ["yq"], domain="com.microsoft"),
                 make("DequantizeLinear", ["yq", "y_s", "y_z"], ["scaled"])]
    else:
        first = [quantize, make("DequantizeLinear", ["xq", "x_s", "x_z"], ["x"]),
                 make("DequantizeLinear", ["k_q", "k_s", "k_z"], ["k"])]
        first.append(make("BatchNormalization", ["x", "k", "zero3", "zero3", "one3"],
                          ["scaled"], epsilon=0.0) if form == "qdq-bn"
                     else make("Mul", ["x", "k"], ["scaled"]))
    conv, weights = conv1x1("scaled", "z", 3, 3, seed=34)
    path = save_graph(tmp_path / "m.onnx", [*first, conv, make("Softmax", ["z"], ["output"],
                                                               axis=1)],
                      nchw_in(), [("output", FLOAT, ["N", 3, "H", "W"])],
                      {**weights, **consts})
    if form.startswith("qoperator"):
        import onnx

        exported = onnx.load(str(path))
        exported.opset_import.append(helper.make_opsetid("com.microsoft", 1))
        onnx.save(exported, str(path))
    model = OnnxModel.from_path(path)
    assert model.normalization_for(np.uint8).scale == 1.0
    out = predict_array(model, image, options=PredictOptions(tile_size=64))
    np.testing.assert_allclose(out, whole(path, image, scale=1.0)[0][0], atol=1e-5)


def test_a_model_scaling_reflectances_itself_is_not_taken_for_0_255(tmp_path):
    """A Div by 10000 or a mean of 1500 is for raw 12- or 16-bit pixels, not 0..255 pixels
    (uint8 pixels go in as they are, with a warning: see the test below)."""
    for op, value in (("Div", 10000.0), ("Sub", 1500.0)):
        conv, weights = conv1x1("scaled", "output", 3, 1, seed=32)
        path = save_graph(tmp_path / f"{op}.onnx",
                          [helper.make_node(op, ["input", "k"], ["scaled"]), conv], nchw_in(),
                          [("output", FLOAT, ["N", 1, "H", "W"])],
                          {**weights, "k": np.array(value, np.float32)})
        model = OnnxModel.from_path(path)
        assert model.normalization_for(np.uint8).scale == 1.0
        assert "0..255" not in (model.unscaled(np.uint16) or "")


@pytest.mark.parametrize(("op", "value", "warned"), [
    ("Div", 10000.0, False), ("Mul", 1 / 4095, False), ("Div", 2.0, True), (None, 0, True)])
def test_16_bit_pixels_into_a_model_dividing_them_itself_are_not_warned(
        tmp_path, run_cli, make_raster, op, value, warned):
    """A model dividing its input by 10000 (Sentinel-2 L2A) got the advice to give --scale
    0.0000153 for its uint16 pixels: following it divided them twice. Its output was right."""
    pixels = np.random.default_rng(4).integers(0, 10001, (3, 40, 50)).astype(np.uint16)
    tif = make_raster("s2.tif", pixels)
    conv, weights = conv1x1("scaled", "z", 3, 1, seed=32)
    first = [helper.make_node(op, ["input", "k"], ["scaled"])] if op else [
        helper.make_node("Identity", ["input"], ["scaled"])]
    path = save_graph(tmp_path / "m.onnx", [*first, conv,
                                            helper.make_node("Sigmoid", ["z"], ["output"])],
                      nchw_in(), [("output", FLOAT, ["N", 1, "H", "W"])],
                      {**weights, "k": np.array(value, np.float32)})
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", "--dtype", "float32")
    assert result.exit_code == 0, result.output
    assert ("--scale" in result.stderr) == warned, result.stderr
    with rasterio.open(tmp_path / "o.tif") as out:
        np.testing.assert_allclose(out.read(), ort_run(path, pixels[np.newaxis].astype(
            np.float32))[0][0], atol=1e-5)


def test_a_model_of_raw_dn_mean_std_takes_16_bit_not_8_bit_pixels(tmp_path, run_cli,
                                                                 make_raster):
    """TorchGeo-style metadata mean/std of Sentinel-2 DN (1354.4, ... / 245.7, ...) are for the
    raw uint16 pixels: predict was right, but warned that they were "for 0..255 pixels" and
    advised --scale 0.0039, which would have fed pixels 256x too small."""
    from .onnx_models import pointwise_model, pointwise_reference

    mean, std = [1354.4, 1118.2, 1042.9], [245.7, 333.0, 395.1]
    path = pointwise_model(tmp_path / "m.onnx", metadata={"standardization_mean": mean,
                                                          "standardization_std": std})
    pixels = np.random.default_rng(6).integers(1, 12000, (3, 40, 50)).astype(np.uint16)
    tif = make_raster("s2.tif", pixels, nodata=0)
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif")
    assert result.exit_code == 0, result.output
    assert "--scale" not in result.stderr and "0..255" not in result.stderr, result.stderr
    norm = (pixels - np.reshape(mean, (3, 1, 1))) / np.reshape(std, (3, 1, 1))
    with rasterio.open(tmp_path / "o.tif") as out:
        np.testing.assert_allclose(out.read(1), pointwise_reference(
            norm[np.newaxis].astype(np.float32))[0, 0], atol=1e-5)
    # Sentinel-2's 8-bit true-colour TCI into it: every input far below the means
    tci = make_raster("tci.tif", (pixels // 48).astype(np.uint8))
    result = run_cli("predict", path, tci, "-o", tmp_path / "t.tif")
    assert result.exit_code == 0, result.output
    assert "tci.tif" in result.stderr and "raw 12- or 16-bit pixels" in result.stderr
    # reflectances as float32 0..1.2 (DN / 10000): --scale 10000 gives the DN back
    refl = make_raster("refl.tif", pixels.astype(np.float32) / np.float32(10000))
    result = run_cli("predict", path, refl, "-o", tmp_path / "r.tif")
    assert result.exit_code == 0 and "--scale 10000" in result.stderr, result.output


@pytest.mark.parametrize("form", ["keras-normalization", "div-10000"])
def test_a_model_scaling_raw_dn_itself_is_not_told_to_scale_them_nor_fed_8_bit(
        tmp_path, run_cli, make_raster, form):
    """A Keras Normalization adapted on Sentinel-2 DN (mean 1200..2500, as tf2onnx exports
    it: NHWC Sub of the means, Mul by 1 / std, Transpose, Conv) fed its uint16 DN right but
    was told "if it was trained on 0..1 inputs give --scale 0.0000153" (following it fed
    them 65536x too small); an 8-bit rendering into it, or into a model dividing by 10000
    itself, was divided by 255 without a word (the model saw 0..0.0039 for DN of 0..10000)
    -> no --scale advice for raw DN; 8-bit pixels go in as they are (as into a model of raw
    DN mean/std metadata), with a warning asking for the raw bands."""
    make = helper.make_node
    mean = np.array([1200.0, 1100.0, 900.0, 2500.0], np.float32).reshape(1, 1, 1, 4)
    std = np.array([600.0, 550.0, 500.0, 1200.0], np.float32).reshape(1, 1, 1, 4)
    if form == "keras-normalization":
        first = [make("Sub", ["input", "mean"], ["centred"]),
                 make("Mul", ["centred", "inv_std"], ["scaled"])]
    else:
        first = [make("Div", ["input", "k"], ["scaled"])]
    conv, weights = conv1x1("nchw", "z", 4, 1, seed=35)
    nodes = [*first, make("Transpose", ["scaled"], ["nchw"], perm=[0, 3, 1, 2]), conv,
             make("Sigmoid", ["z"], ["p"]), make("Transpose", ["p"], ["output"],
                                                  perm=[0, 2, 3, 1])]
    path = save_graph(tmp_path / "m.onnx", nodes, [("input", FLOAT, ["unk__1", "unk__2",
                                                                     "unk__3", 4])],
                      [("output", FLOAT, ["unk__4", "unk__5", "unk__6", 1])],
                      {**weights, "mean": mean, "inv_std": 1 / std,
                       "k": np.array(10000.0, np.float32)})
    pixels = np.random.default_rng(7).integers(1, 10001, (4, 40, 50)).astype(np.uint16)
    result = run_cli("predict", path, make_raster("s2.tif", pixels), "-o", tmp_path / "o.tif")
    assert result.exit_code == 0, result.output
    assert "--scale" not in result.stderr, result.stderr
    with rasterio.open(tmp_path / "o.tif") as out:
        np.testing.assert_allclose(out.read(), ort_run(path, pixels.transpose(1, 2, 0)[
            np.newaxis].astype(np.float32))[0][0].transpose(2, 0, 1), atol=1e-5)
    tci = make_raster("tci.tif", (pixels // 40).astype(np.uint8))
    result = run_cli("predict", path, tci, "-o", tmp_path / "t.tif")
    assert result.exit_code == 0, result.output
    assert "tci.tif" in result.stderr and "raw 12- or 16-bit pixels" in result.stderr \
        and "8-bit rendering" in result.stderr, result.stderr
    with rasterio.open(tmp_path / "t.tif") as out:
        np.testing.assert_allclose(out.read(), ort_run(path, (pixels // 40).transpose(
            1, 2, 0)[np.newaxis].astype(np.float32))[0][0].transpose(2, 0, 1), atol=1e-5)


def test_0_1_float_pixels_into_a_model_of_0_255_mean_std_are_warned(tmp_path, run_cli,
                                                                     make_raster):
    """Float32 reflectances 0..0.6 into a model whose mean/std are torchvision's for 0..255
    pixels (123.675 / 58.395) went in as they are, every input about -2.1, without a word
    -> a warning naming --scale 255, which feeds what the model expects."""
    from .onnx_models import pointwise_model, pointwise_reference

    mean, std = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
    path = pointwise_model(tmp_path / "m.onnx", metadata={"mean": mean, "std": std})
    pixels = np.random.default_rng(9).uniform(0, 0.6, (3, 40, 50)).astype(np.float32)
    tif = make_raster("refl.tif", pixels)
    result = run_cli("predict", path, tif, "-o", tmp_path / "a.tif")
    assert result.exit_code == 0, result.output
    assert "refl.tif" in result.stderr and "--scale 255" in result.stderr, result.stderr
    result = run_cli("predict", path, tif, "-o", tmp_path / "b.tif", "--scale", "255")
    assert result.exit_code == 0 and "--scale" not in result.stderr, result.output
    norm = (pixels * 255.0 - np.reshape(mean, (3, 1, 1))) / np.reshape(std, (3, 1, 1))
    with rasterio.open(tmp_path / "b.tif") as out:
        np.testing.assert_allclose(out.read(1), pointwise_reference(
            norm[np.newaxis].astype(np.float32))[0, 0], atol=1e-5)


@pytest.mark.parametrize("first", ["rgb-ndsm", "one-channel-dem", "add-1.5", "div-2",
                                   "div-1.5", "mul-0.5-add"])
def test_a_model_shifting_or_scaling_0_1_pixels_keeps_the_1_255(tmp_path, first):
    """A mean > 1 on one channel only (RGB + nDSM: [0.485, 0.456, 0.406, 12 m]) or a small
    scalar shift/scale (Add -1.5, Div 2, Div 1.5, Mul 0.5) was read as a model taking 0..255
    pixels: uint8 RGB went in raw, 255x too large, output saturated."""
    make = helper.make_node
    channels = 4 if first == "rgb-ndsm" else 3

    def const(values):
        return np.array(values, np.float32).reshape((1, -1, 1, 1) if np.ndim(values) else ())

    firsts = {"rgb-ndsm": ([make("Sub", ["input", "m"], ["a"]),
                            make("Div", ["a", "s"], ["scaled"])],
                           {"m": const([0.485, 0.456, 0.406, 12]),
                            "s": const([0.229, 0.224, 0.225, 9])}),
              "one-channel-dem": ([make("Sub", ["input", "m"], ["scaled"])],
                                  {"m": const([0.4, 0.4, 100])}),
              "add-1.5": ([make("Add", ["input", "m"], ["scaled"])], {"m": const(-1.5)}),
              "div-2": ([make("Div", ["input", "s"], ["scaled"])], {"s": const(2.0)}),
              "div-1.5": ([make("Div", ["input", "s"], ["scaled"])], {"s": const(1.5)}),
              "mul-0.5-add": ([make("Mul", ["input", "s"], ["a"]),
                               make("Add", ["a", "m"], ["scaled"])],
                              {"s": const(0.5), "m": const(0.5)})}
    nodes, consts = firsts[first]
    conv, weights = conv1x1("scaled", "z", channels, 1, seed=34)
    path = save_graph(tmp_path / "m.onnx", [*nodes, conv, make("Sigmoid", ["z"], ["output"])],
                      nchw_in(channels=channels),
                      [("output", FLOAT, ["N", 1, "H", "W"])], {**weights, **consts})
    model = OnnxModel.from_path(path)
    assert model.normalization_for(np.uint8).scale == pytest.approx(1 / 255)
    pixels = np.random.default_rng(5).integers(0, 256, (channels, 64, 64), dtype=np.uint8)
    out = predict_array(model, pixels, options=PredictOptions(tile_size=64))
    expected = ort_run(path, pixels[np.newaxis].astype(np.float32) / np.float32(255))[0][0]
    np.testing.assert_allclose(out, expected, atol=1e-5)


# --- 7. inputs -------------------------------------------------------------------------------
def cast_model(path, elem_type):
    """A model whose input is ``elem_type`` (uint8, float16), cast to float inside."""
    conv, weights = conv1x1("float_input", "output", 3, 1, seed=13)
    nodes = [helper.make_node("Cast", ["input"], ["float_input"], to=FLOAT), conv]
    return save_graph(path, nodes, [("input", elem_type, ["N", 3, "H", "W"])],
                      [("output", FLOAT, ["N", 1, "H", "W"])], weights)



def dynamic_channels_model(path, channels, first="conv"):
    """torch.onnx.export with dynamic_axes on all four input axes (channels symbolic too):
    a 1x1 Conv of ``channels``, after a normalisation (``norm``), a Transpose from NHWC
    (``nhwc``), or after a gate (x * sigmoid(x)), which tells nothing (``gate``)."""
    make = helper.make_node
    conv, weights = conv1x1("x", "output", channels, 2, seed=41)
    firsts = {"conv": [make("Identity", ["input"], ["x"])],
              "norm": [make("Sub", ["input", "m"], ["a"]), make("Div", ["a", "s"], ["x"])],
              "nhwc": [make("Transpose", ["input"], ["x"], perm=[0, 3, 1, 2])],
              "gate": [make("Sigmoid", ["input"], ["g"]), make("Mul", ["input", "g"], ["x"])]}
    dims = ["batch", "height", "width", "channels"] if first == "nhwc" else [
        "batch", "channels", "height", "width"]
    return save_graph(path, [*firsts[first], conv], [("input", FLOAT, dims)],
                      [("output", FLOAT, ["batch", 2, "height", "width"])],
                      {**weights, "m": np.float32(0.5), "s": np.float32(0.25)})


@pytest.mark.parametrize(("channels", "first"), [(13, "norm"), (4, "conv"), (4, "nhwc"),
                                                 (1, "conv")])
def test_a_symbolic_channel_axis_runs_on_the_channels_the_model_takes(
        tmp_path, run_cli, make_raster, channels, first):
    """The probe fed 3 zero channels to a model of symbolic channels: 13-, 4- and 1-channel
    models were refused ('Try another --tile-size'); the first Conv's weights tell."""
    from .conftest import assert_one_line_error

    path = dynamic_channels_model(tmp_path / "m.onnx", channels, first)
    pixels = np.random.default_rng(4).integers(0, 256, (channels, 70, 90), dtype=np.uint8)
    model = OnnxModel.from_path(path)
    assert model.channels == channels
    out = predict_array(model, pixels, options=PredictOptions(tile_size=32))
    feed = pixels[np.newaxis].astype(np.float32) / 255
    expected = ort_run(path, feed.transpose(0, 2, 3, 1) if first == "nhwc" else feed)[0][0]
    np.testing.assert_allclose(out, softmax(expected), atol=1e-5)
    wrong = make_raster("wrong.tif", np.zeros((channels + 1, 20, 20), np.uint8))
    assert_one_line_error(run_cli("predict", path, wrong, "-o", tmp_path / "o.tif"),
                          f"takes {channels} channels")
    assert not (tmp_path / "o.tif").exists()


def test_a_symbolic_channel_axis_nothing_tells_is_blamed_not_the_tile_size(tmp_path, run_cli,
                                                                          make_raster):
    from .conftest import assert_one_line_error

    path = dynamic_channels_model(tmp_path / "m.onnx", 4, "gate")
    tif = make_raster("img.tif", np.zeros((4, 20, 20), np.uint8))
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "m.onnx", "channel axis is symbolic", "channels fixed")
    assert "--tile-size" not in result.stderr

def test_integer_and_float16_inputs_get_what_they_expect(tmp_path, image):
    from .onnx_models import FLOAT16, UINT8

    raw = cast_model(tmp_path / "u8.onnx", UINT8)
    out = predict_array(OnnxModel.from_path(raw), image, options=PredictOptions(tile_size=64))
    expected = sigmoid(ort_run(raw, image[np.newaxis])[0][0])  # raw pixels, no / 255
    np.testing.assert_allclose(out, expected, atol=1e-5)
    half = cast_model(tmp_path / "f16.onnx", FLOAT16)
    out = predict_array(OnnxModel.from_path(half), image, options=PredictOptions(tile_size=64))
    feed = (image[np.newaxis].astype(np.float32) / 255).astype(np.float16)
    np.testing.assert_allclose(out, sigmoid(ort_run(half, feed)[0][0]), atol=1e-3)


def test_pixels_out_of_an_integer_models_range_are_refused_not_clipped(tmp_path, run_cli,
                                                                       make_raster, image):
    """A uint8-input model on a uint16 image: values above 255 would be clipped (a saturated
    input, a wrong output); one line asks for --scale. 8-bit values in uint16 run as is."""
    from .conftest import assert_one_line_error
    from .onnx_models import UINT8

    raw = cast_model(tmp_path / "u8.onnx", UINT8)
    wide = make_raster("wide.tif", image.astype(np.uint16) * 4)
    assert_one_line_error(run_cli("predict", raw, wide, "-o", tmp_path / "o.tif", "--tile-size",
                                  "64"), "u8.onnx", "takes uint8", "reach 0..1020", "--scale")
    assert not (tmp_path / "o.tif").exists()
    result = run_cli("predict", raw, wide, "-o", tmp_path / "o.tif", "--tile-size", "64",
                     "--scale", "0.25")
    assert result.exit_code == 0, result.output
    narrow = make_raster("narrow.tif", image.astype(np.uint16))
    result = run_cli("predict", raw, narrow, "-o", tmp_path / "n.tif", "--tile-size", "64")
    assert result.exit_code == 0, result.output
    expected = sigmoid(ort_run(raw, image[np.newaxis])[0][0])
    for out in ("o.tif", "n.tif"):
        with rasterio.open(tmp_path / out) as src:
            np.testing.assert_allclose(src.read(), expected, atol=1e-5)


@pytest.mark.parametrize("names", [["N", "H", "W", "C"], ["batch", "d1", "d2", "d3"]])
def test_nhwc_input_with_every_dimension_symbolic_runs(tmp_path, image, names):
    """Keras/TF exports may leave all four dimensions unnamed or symbolic: the layout is
    read from the names, else found by probing both."""
    conv, weights = conv1x1("nchw", "logits", 3, 1, seed=16)
    nodes = [helper.make_node("Transpose", ["input"], ["nchw"], perm=[0, 3, 1, 2]), conv,
             helper.make_node("Sigmoid", ["logits"], ["prob"]),
             helper.make_node("Transpose", ["prob"], ["output"], perm=[0, 2, 3, 1])]
    path = save_graph(tmp_path / "m.onnx", nodes, [("input", FLOAT, names)],
                      [("output", FLOAT, [names[0], names[1], names[2], 1])], weights)
    model = OnnxModel.from_path(path)
    assert model.layout == "NHWC"
    out = predict_array(model, image, options=PredictOptions(tile_size=64))
    feed = (image.astype(np.float32) / 255).transpose(1, 2, 0)[np.newaxis]
    np.testing.assert_allclose(out, ort_run(path, feed)[0][0].transpose(2, 0, 1), atol=1e-5)


def test_outputs_of_unreadable_types_and_new_opsets_are_one_line(tmp_path, run_cli,
                                                                  make_raster, image):
    import onnx

    from .conftest import assert_one_line_error

    conv, weights = conv1x1("input", "output", 3, 1, seed=18)
    new = save_graph(tmp_path / "new.onnx", [conv], nchw_in(),
                     [("output", FLOAT, ["N", 1, "H", "W"])], weights)
    proto = onnx.load(str(new))
    proto.opset_import[0].version = 99
    onnx.save(proto, str(new))
    result = run_cli("predict", new, make_raster("img.tif", image), "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "new.onnx", "opset 99", "supports up to")
    assert "onnxruntime_src" not in result.stderr and "::" not in result.stderr

    conv, weights = conv1x1("input", "logits", 3, 1, seed=17)
    bf16 = save_graph(tmp_path / "bf16.onnx", [conv, helper.make_node(
        "Cast", ["logits"], ["output"], to=helper.TensorProto.BFLOAT16)], nchw_in(),
        [("output", helper.TensorProto.BFLOAT16, ["N", 1, "H", "W"])], weights)
    tif = make_raster("img.tif", image)
    assert_one_line_error(run_cli("predict", bf16, tif, "-o", tmp_path / "o.tif"),
                          "bf16.onnx", "bfloat16", "float32")
    assert not (tmp_path / "o.tif").exists()


def test_an_input_without_a_declared_rank_is_one_line(tmp_path, run_cli, make_raster, image):
    from .conftest import assert_one_line_error

    path = save_graph(tmp_path / "norank.onnx", [helper.make_node("Identity", ["input"],
                                                                  ["output"])],
                      [("input", FLOAT, None)], [("output", FLOAT, None)])
    assert_one_line_error(run_cli("predict", path, make_raster("img.tif", image), "-o",
                                  tmp_path / "o.tif"), "norank.onnx", "no declared rank")


def test_two_input_models_are_refused_in_one_line(tmp_path, run_cli, make_raster, image):
    from .conftest import assert_one_line_error

    conv, weights = conv1x1("input", "logits", 3, 1, seed=14)
    path = save_graph(tmp_path / "two.onnx", [conv, helper.make_node(
        "Add", ["logits", "prior"], ["output"])], [*nchw_in(), *nchw_in("prior", 1)],
        [("output", FLOAT, ["N", 1, "H", "W"])], weights)
    tif = make_raster("img.tif", image)
    assert_one_line_error(run_cli("predict", path, tif, "-o", tmp_path / "o.tif"),
                          "two.onnx", "2 inputs")


def test_rgba_alpha_feeds_rgb_and_masks_nodata(tmp_path, run_cli, image):
    from rasterio.enums import ColorInterp

    from .conftest import write_raster

    alpha = np.full(image.shape[1:], 255, np.uint8)
    alpha[:, :40] = 0
    tif = write_raster(tmp_path / "rgba.tif", np.concatenate([image, alpha[np.newaxis]]),
                       photometric="RGB")
    with rasterio.open(tif, "r+") as dst:
        dst.colorinterp = [ColorInterp.red, ColorInterp.green, ColorInterp.blue,
                           ColorInterp.alpha]
    path = logits_model(tmp_path / "m.onnx")
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", "--dtype", "float32",
                     "--tile-size", "64")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "o.tif") as out:
        values = out.read(1)
    assert np.isnan(values[:, :40]).all()
    expected = sigmoid(whole(path, image)[0][0, 0])
    np.testing.assert_allclose(values[:, 41:], expected[:, 41:], atol=1e-5)


def test_rgba_alpha_is_not_fed_as_a_models_fourth_channel(tmp_path, run_cli, make_raster,
                                                          image):
    """RGBA + a 4-channel (RGB+NIR) model: the default bands fed the 0/255 alpha mask as
    NIR (exit 0). Now one line asks for --bands; given explicitly, alpha is the user's."""
    from .conftest import assert_one_line_error
    from .onnx_models import pointwise_model, pointwise_reference

    alpha = np.full(image.shape[1:], 255, np.uint8)
    alpha[:, :40] = 0
    tif = make_raster("rgba.tif", np.concatenate([image, alpha[np.newaxis]]),
                      photometric="RGB", alpha="YES")
    path = pointwise_model(tmp_path / "rgbn.onnx", channels=4)
    out = tmp_path / "o.tif"
    assert_one_line_error(run_cli("predict", path, tif, "-o", out), "rgba.tif",
                          "band 4 is alpha", "--bands 1,2,3", "--extra-bands",
                          "--bands 1,2,3,4")
    assert not out.exists()
    extra = make_raster("nir.tif", image[:1])  # the 4th channel from another raster: runs
    result = run_cli("predict", path, tif, "-o", out, "--extra-bands", extra,
                     "--dtype", "float32")
    assert result.exit_code == 0, result.output
    result = run_cli("predict", path, tif, "-o", tmp_path / "a.tif", "--bands", "1,2,3,4",
                     "--dtype", "float32")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "a.tif") as dst:
        values = dst.read(1)
    stack = np.concatenate([image, alpha[np.newaxis]]).astype(np.float64) / 255
    expected = pointwise_reference(stack[np.newaxis], channels=4)[0, 0]
    np.testing.assert_allclose(values[:, 40:], expected[:, 40:], atol=1e-5)


def test_rgbn_whose_nir_gdal_flags_alpha_feeds_a_four_channel_model(tmp_path, run_cli,
                                                                    make_raster, image):
    """A 4-band uint8 RGB+NIR GeoTIFF written without options: GDAL flags band 4 alpha by
    default. Its NIR holds values, not a 0/255 mask: it is the model's fourth channel, as
    before the alpha refusal (which refused every such image)."""
    from .onnx_models import pointwise_model, pointwise_reference

    rng = np.random.default_rng(4)
    nir = rng.integers(1, 250, image.shape[1:], dtype=np.uint8)
    stack = np.concatenate([image, nir[np.newaxis]])
    tif = make_raster("rgbn.tif", stack)
    with rasterio.open(tif) as src:
        assert src.colorinterp[3] == rasterio.enums.ColorInterp.alpha  # GDAL's default
    path = pointwise_model(tmp_path / "rgbn.onnx", channels=4)
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", "--dtype", "float32")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "o.tif") as dst:
        values = dst.read(1)
    expected = pointwise_reference(stack[np.newaxis].astype(np.float64) / 255, channels=4)
    np.testing.assert_allclose(values, expected[0, 0], atol=1e-5)


def test_rgbn_whose_nir_gdal_flags_alpha_keeps_its_nir_0_pixels(tmp_path, run_cli,
                                                                make_raster, image):
    """RGB+NIR uint8 (band 4 flagged alpha by GDAL's default) fed whole to a 4-channel
    model: pixels of NIR 0 (water) were nodata (NaN, exit 0), as if the NIR were a mask.
    Now they are predicted; only pixels where every band is 0 (a collar) are nodata."""
    from .onnx_models import pointwise_model, pointwise_reference

    rng = np.random.default_rng(6)
    nir = rng.integers(1, 250, image.shape[1:], dtype=np.uint8)
    nir[50:70, 20:90] = 0  # a lake
    stack = np.concatenate([image, nir[np.newaxis]])
    stack[:, :, :10] = 0  # a collar outside the scene
    tif = make_raster("rgbn.tif", stack)
    path = pointwise_model(tmp_path / "rgbn.onnx", channels=4)
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", "--dtype", "float32",
                     "--tile-size", "64")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "o.tif") as dst:
        values = dst.read(1)
    assert np.isnan(values[:, :10]).all()
    expected = pointwise_reference(stack[np.newaxis].astype(np.float64) / 255, channels=4)
    np.testing.assert_allclose(values[:, 10:], expected[0, 0, :, 10:], atol=1e-5)


def _rgbn_with_a_lake():
    """A 64 x 64 uint8 RGB+NIR stack: NIR 0 over a 20 x 40 px lake (800 px), every band 0
    in an 8 px collar outside the scene."""
    from .conftest import rgbn_with_a_lake

    return rgbn_with_a_lake((64, 64), np.s_[20:40, 10:50], np.s_[:, :8], seed=7)


@pytest.mark.parametrize("resolution", ["1", "0.25"])  # averaged down, interpolated up
def test_rgbn_whose_nir_gdal_flags_alpha_keeps_its_nir_0_pixels_on_the_model_grid(
        tmp_path, run_cli, make_raster, resolution):
    """As above, resampled to the model's resolution: the lake's 800 px were NaN (64 x 64,
    exit 0) and left out of the warp's averages. Now its nodata pixels are the plain path's
    (the collar), its values those of the same pixels with the collar as a mask band."""
    from .onnx_models import pointwise_model

    stack = _rgbn_with_a_lake()
    rgbn = make_raster("rgbn.tif", stack)
    masked = make_raster("masked.tif", stack, photometric="MINISBLACK")
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(masked, "r+") as dst:
        dst.write_mask(np.where(stack.any(axis=0), 255, 0).astype(np.uint8))
    path = pointwise_model(tmp_path / "rgbn.onnx", channels=4)
    outputs = {}
    for name, tif, args in (("plain", rgbn, []),
                            ("rgbn", rgbn, ["--model-resolution", resolution]),
                            ("masked", masked, ["--model-resolution", resolution])):
        result = run_cli("predict", path, tif, "-o", tmp_path / f"{name}_p.tif", "--dtype",
                         "float32", "--tile-size", "32", *args)
        assert result.exit_code == 0, result.output
        with rasterio.open(tmp_path / f"{name}_p.tif") as out:
            outputs[name] = out.read(1)
    assert np.isnan(outputs["plain"]).sum() == 64 * 8
    np.testing.assert_array_equal(np.isnan(outputs["rgbn"]), np.isnan(outputs["plain"]))
    np.testing.assert_allclose(outputs["rgbn"], outputs["masked"], atol=1e-6, rtol=0)


@pytest.mark.parametrize("path_args", [[], ["--model-resolution", "1"], ["--mosaic"]],
                         ids=["plain", "model_grid", "mosaic"])
def test_a_real_alpha_fed_whole_is_nodata_on_every_path(tmp_path, run_cli, make_raster,
                                                        path_args):
    """The lake and collar as a 0/255 alpha band (RGBA), fed whole to a 4-channel model
    (--bands 1,2,3,4): its 0 pixels stay nodata on the plain path, resampled to the
    model's resolution and over a --mosaic of two tiles."""
    from rasterio.transform import from_origin

    from .conftest import UTM_ORIGIN
    from .onnx_models import pointwise_model

    stack = _rgbn_with_a_lake()
    hole = stack[3] == 0
    stack[3] = np.where(hole, 0, 255)
    x0, y0 = UTM_ORIGIN
    tifs = [make_raster(f"t{left}.tif", stack[:, :, left : left + 32],
                        transform=from_origin(x0 + left * 0.5, y0, 0.5, 0.5))
            for left in (0, 32)] if path_args == ["--mosaic"] else [make_raster("rgba.tif", stack)]
    path = pointwise_model(tmp_path / "rgba.onnx", channels=4)
    out = tmp_path / "out" / ("" if len(tifs) > 1 else tifs[0].name)
    result = run_cli("predict", path, *tifs, "-o", out, "--dtype", "float32",
                     "--tile-size", "32", "--bands", "1,2,3,4", *path_args)
    assert result.exit_code == 0, result.output
    values = []
    for tif in tifs:
        with rasterio.open(tmp_path / "out" / tif.name) as out:
            values.append(out.read(1))
    np.testing.assert_array_equal(np.isnan(np.concatenate(values, axis=1)), hole)


@pytest.mark.parametrize("path_args", [[], ["--model-resolution", "1"], ["--mosaic"]],
                         ids=["plain", "model_grid", "mosaic"])
def test_an_rgb_model_on_rgbn_keeps_the_pixels_of_nir_0(tmp_path, run_cli, make_raster,
                                                        path_args):
    """A 3-channel model on a 4-band uint8 RGB+NIR GeoTIFF (band 4 flagged alpha by GDAL's
    default, not fed): the NIR's 0s over a lake made those RGB pixels nodata (800 NaN of
    64 x 64, exit 0), as if the NIR were a mask. Now the nodata pixels are those of the RGB
    with the collar as a mask band, and so are the values."""
    from rasterio.transform import from_origin

    from .conftest import UTM_ORIGIN
    from .onnx_models import pointwise_model

    stack = _rgbn_with_a_lake()
    collar = ~stack.any(axis=0)
    x0, y0 = UTM_ORIGIN
    mosaic = path_args == ["--mosaic"]
    model = pointwise_model(tmp_path / "rgb.onnx", channels=3)
    outputs = {}
    for name, pixels, options in (("rgbn", stack, {}),
                                  ("masked", stack[:3], {"photometric": "MINISBLACK"})):
        tifs = [make_raster(f"{name}{left}.tif", pixels[:, :, left:left + (32 if mosaic else 64)],
                            transform=from_origin(x0 + left * 0.5, y0, 0.5, 0.5), **options)
                for left in ((0, 32) if mosaic else (0,))]
        if name == "masked":
            for tif, left in zip(tifs, (0, 32), strict=False):
                with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(tif, "r+") as dst:
                    part = ~collar[:, left:left + dst.width]
                    dst.write_mask(np.where(part, 255, 0).astype(np.uint8))
        out = tmp_path / name
        result = run_cli("predict", model, *tifs, "-o", out if mosaic else out / "o.tif",
                         "--dtype", "float32", "--tile-size", "32", *path_args)
        assert result.exit_code == 0, result.output
        parts = []
        for tif in tifs:
            with rasterio.open(out / (tif.name if mosaic else "o.tif")) as dst:
                parts.append(dst.read(1))
        outputs[name] = np.concatenate(parts, axis=1)
    if not path_args:
        np.testing.assert_array_equal(np.isnan(outputs["rgbn"]), collar)
    np.testing.assert_array_equal(np.isnan(outputs["rgbn"]), np.isnan(outputs["masked"]))
    np.testing.assert_allclose(outputs["rgbn"], outputs["masked"], atol=1e-6, rtol=0)


def test_an_all_nodata_rgbn_tile_among_others_runs(tmp_path, run_cli, make_raster, image):
    """Three RGBN tiles (band 4 flagged alpha by GDAL's default), one all zeros (outside the
    scene): its NIR of 0 alone looked like a mask band and refused the whole run."""
    from .onnx_models import pointwise_model

    nir = np.random.default_rng(5).integers(1, 250, image.shape[1:], dtype=np.uint8)
    tiles = [make_raster(f"t{i}.tif", np.concatenate([image, nir[np.newaxis]]) * (i != 1))
             for i in range(3)]
    path = pointwise_model(tmp_path / "rgbn.onnx", channels=4)
    result = run_cli("predict", path, *tiles, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").glob("*.tif")) == [
        "t0.tif", "t1.tif", "t2.tif"]


@pytest.mark.parametrize(("count", "bands", "channels"), [(2, "1,2,1", 3), (1, "1,1,1,1", 4)])
def test_repeated_bands_fill_a_models_channels(tmp_path, run_cli, make_raster, image, count,
                                               bands, channels):
    """--bands 1,2,1 for a 2-band SAR image into a 3-channel model (or 1,1,1,1 for a PAN
    image into a 4-channel one) ran before the band-count message came, then was refused
    as 'the image has 2 bands'; explicit --bands that give every channel run."""
    from .onnx_models import pointwise_model, pointwise_reference

    tif = make_raster("img.tif", image[:count])
    path = pointwise_model(tmp_path / "m.onnx", channels=channels)
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", "--bands", bands,
                     "--dtype", "float32")
    assert result.exit_code == 0, result.output
    stack = image[[int(b) - 1 for b in bands.split(",")]].astype(np.float64) / 255
    with rasterio.open(tmp_path / "o.tif") as dst:
        np.testing.assert_allclose(
            dst.read(1), pointwise_reference(stack[np.newaxis], channels=channels)[0, 0],
            atol=1e-5)


def test_external_weights_load_and_a_missing_file_is_one_line(tmp_path, run_cli, make_raster,
                                                              image):
    from .conftest import assert_one_line_error

    path = logits_model(tmp_path / "m.onnx", external=True)
    assert (tmp_path / "m.onnx.data").is_file()
    out = predict_array(OnnxModel.from_path(path), image, options=PredictOptions(tile_size=64))
    np.testing.assert_allclose(out, sigmoid(whole(path, image)[0][0]), atol=1e-5)
    (tmp_path / "m.onnx.data").unlink()
    tif = make_raster("img.tif", image)
    assert_one_line_error(run_cli("predict", path, tif, "-o", tmp_path / "o.tif"),
                          "m.onnx", "external file m.onnx.data", "missing")


# --- 8. probe at load ------------------------------------------------------------------------
def stride32_model(path):
    """A U-Net-like skip: pooled by 32, upsampled by 32, added to the full resolution, so
    only tile sizes that are multiples of 32 run."""
    conv, weights = conv1x1("input", "logits", 3, 1, seed=15)
    nodes = [conv,
             helper.make_node("MaxPool", ["logits"], ["pooled"], kernel_shape=[32, 32],
                              strides=[32, 32]),
             helper.make_node("Resize", ["pooled", "", "scales"], ["up"], mode="nearest"),
             helper.make_node("Add", ["logits", "up"], ["output"])]
    return save_graph(path, nodes, nchw_in(), [("output", FLOAT, ["N", 1, "H", "W"])],
                      {**weights, "scales": np.array([1, 1, 32, 32], np.float32)})


def test_probe_turns_runtime_failures_into_one_line_with_the_fix(tmp_path, run_cli,
                                                                 make_raster, image, capfd):
    from geotile.errors import ModelError

    from .conftest import assert_one_line_error

    path = stride32_model(tmp_path / "unet.onnx")
    capfd.readouterr()
    with pytest.raises(ModelError, match=r"unet\.onnx.*multiples of 32: try --tile-size 256"):
        OnnxModel.from_path(path, tile_size=250, batch_size=4)
    assert capfd.readouterr().err == ""  # no ONNX Runtime error dump on stderr
    tif = make_raster("img.tif", image)
    assert_one_line_error(run_cli("predict", path, tif, "-o", tmp_path / "o.tif",
                                  "--tile-size", "250"),
                          "unet.onnx", "250 px", "try --tile-size 256")
    model = OnnxModel.from_path(path)  # the default 512 px runs
    with pytest.raises(ModelError, match="try --tile-size 96"):
        predict_array(model, image, options=PredictOptions(tile_size=100))
    assert not (tmp_path / "o.tif").exists()


def _predicted(run_cli, model, tif, out, *opts):
    result = run_cli("predict", model, tif, "-o", out, "--dtype", "float32", *opts)
    assert result.exit_code == 0, result.output
    with rasterio.open(tif) as src, rasterio.open(out) as dst:
        return dst.read(1), src.read().astype(np.float64) / 255


def test_a_unet_pooled_twice_is_told_its_true_multiple_of_4(tmp_path, run_cli, make_raster):
    """A U-Net pooled twice runs on multiples of 4 (252 px runs): --tile-size 250 said
    'multiples of 8: try --tile-size 248'; the size it names runs and equals the model."""
    from .conftest import assert_one_line_error
    from .onnx_models import pointwise_reference, pooled_unet_model

    path = pooled_unet_model(tmp_path / "unet.onnx")
    rng = np.random.default_rng(4)
    tif = make_raster("img.tif", rng.integers(0, 256, (3, 150, 200), dtype=np.uint8))
    assert_one_line_error(run_cli("predict", path, tif, "-o", tmp_path / "o.tif",
                                  "--tile-size", "250"),
                          "250 px", "multiples of 4: try --tile-size 248")
    for size in ("252", "248"):
        out, pixels = _predicted(run_cli, path, tif, tmp_path / f"{size}.tif", "--tile-size",
                                 size, "--overwrite")
        np.testing.assert_allclose(out, pointwise_reference(pixels[np.newaxis], seed=21)[0, 0],
                                   atol=1e-5)


@pytest.mark.parametrize("batch", ["N", 1])
def test_a_fixed_height_with_a_dynamic_width_is_a_fixed_size(tmp_path, run_cli, make_raster,
                                                             batch):
    """Input [N,3,256,W]: --tile-size 250 said 'multiples of 256: try --tile-size 256' (512
    fails too); now it is a fixed 256 px model: any other size is one line, and the default
    predicts an image smaller and one larger than the tile as the model does."""
    from .conftest import assert_one_line_error
    from .onnx_models import pointwise_reference, pooled_unet_model

    path = pooled_unet_model(tmp_path / "unet.onnx", height=256, batch=batch)
    rng = np.random.default_rng(5)
    for index, (rows, cols) in enumerate(((150, 200), (280, 300))):
        tif = make_raster(f"img{index}.tif",
                          rng.integers(0, 256, (3, rows, cols), dtype=np.uint8))
        for size in ("250", "512"):
            assert_one_line_error(run_cli("predict", path, tif, "-o", tmp_path / "o.tif",
                                          "--tile-size", size),
                                  "fixed 256 px", f"--tile-size {size} cannot be used")
        out, pixels = _predicted(run_cli, path, tif, tmp_path / f"o{index}.tif",
                                 "--batch-size", "8", "--tta", "d4")
        np.testing.assert_allclose(out, pointwise_reference(pixels[np.newaxis], seed=21)[0, 0],
                                   atol=1e-5)


# --- whole exports: an smp-style U-Net and a Keras (tf2onnx) NHWC U-Net --------------------
def test_smp_style_unet_matches_the_whole_window(tmp_path, make_raster):
    from .onnx_models import unet_model

    pixels = np.random.default_rng(21).integers(0, 256, (3, 128, 128), dtype=np.uint8)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    path = unet_model(tmp_path / "smp.onnx", metadata={
        "standardization_mean": mean, "standardization_std": std,
        "class_names": {"0": "background", "1": "building"}})
    tif = make_raster("img.tif", pixels)
    predict_raster(path, tif, tmp_path / "p.tif",
                   options=PredictOptions(tile_size=128, dtype="float32"))
    feed = (pixels[np.newaxis] / 255 - np.reshape(mean, (1, 3, 1, 1))) / np.reshape(
        std, (1, 3, 1, 1))
    logits = ort_run(path, feed.astype(np.float32))[0][0]
    with rasterio.open(tmp_path / "p.tif") as out:
        assert out.descriptions == ("background", "building")
        np.testing.assert_allclose(out.read(), softmax(logits), atol=1e-5)


def test_keras_nhwc_unet_with_final_softmax_matches_the_whole_window(tmp_path, make_raster):
    from .onnx_models import unet_model

    pixels = np.random.default_rng(22).integers(0, 256, (3, 96, 96), dtype=np.uint8)
    path = unet_model(tmp_path / "keras.onnx", layout="NHWC", size=96, classes=3,
                      final="softmax", metadata={"names": "{0: 'bg', 1: 'road', 2: 'roof'}"})
    model = OnnxModel.from_path(path)
    assert (model.layout, model.tile_size, model.num_classes) == ("NHWC", 96, 3)
    tif = make_raster("img.tif", pixels)
    predict_raster(str(path), tif, tmp_path / "p.tif", options=PredictOptions(dtype="float32"))
    feed = (pixels.transpose(1, 2, 0)[np.newaxis] / 255).astype(np.float32)
    expected = ort_run(path, feed)[0][0].transpose(2, 0, 1)  # already probabilities
    with rasterio.open(tmp_path / "p.tif") as out:
        assert out.descriptions == ("bg", "road", "roof")
        np.testing.assert_allclose(out.read(), expected, atol=1e-5)


# --- 9. resolution ---------------------------------------------------------------------------
def test_windows_are_resampled_to_the_model_resolution(tmp_path, run_cli, make_raster):
    pixels = np.zeros((3, 200, 200), np.uint8)
    pixels[:, :, 100:] = 255  # two flat halves: the values away from the edge are exact
    tif = make_raster("img.tif", pixels)  # 0.5 m pixels
    path = logits_model(tmp_path / "m.onnx", metadata={"resolution": 100})  # 1 m (cm/px)
    model = OnnxModel.from_path(path)
    seen = []
    run = model.run
    model.run = lambda batch: seen.append(batch.shape[0]) or run(batch)
    options = PredictOptions(tile_size=64, overlap=32, dtype="float32")
    predict_raster(model, tif, tmp_path / "o.tif", options=options)
    assert sum(seen) == 9  # 100 x 100 model pixels at 64 px / 32 px stride: 3 x 3 windows
    with rasterio.open(tif) as src, rasterio.open(tmp_path / "o.tif") as out:
        assert (out.shape, out.transform) == (src.shape, src.transform)
        values = out.read(1)
    expected = sigmoid(whole(path, pixels)[0][0, 0])
    away = np.r_[0:95, 105:200]
    np.testing.assert_allclose(values[:, away], expected[:, away], atol=1e-4)
    assert np.isfinite(values).all()
    assert not list(tmp_path.glob("*model-grid*")) and not list(tmp_path.glob(".*"))
    seen.clear()
    native = dataclasses.replace(options, model_resolution="native")
    predict_raster(model, tif, tmp_path / "n.tif", options=native)
    assert sum(seen) == 36  # 200 x 200 image pixels: 6 x 6 windows
    result = run_cli("-v", "predict", path, tif, "-o", tmp_path / "v.tif",
                     "--model-resolution", "2", "--tile-size", "64")
    assert result.exit_code == 0, result.output
    assert "0.5 m pixels, the model expects 2 m" in result.stderr


@pytest.mark.parametrize("resolution", ["1", "0.25"])  # averaged down, interpolated up
def test_undeclared_nan_is_nodata_when_resampled_to_the_model_grid(tmp_path, run_cli,
                                                                  make_raster, resolution):
    """A float image whose collar is NaN without a declared nodata predicts, resampled to the
    model's resolution, as the same image with NaN declared: NaN is not averaged into the
    model cells along the collar, eroding the valid pixels beside it."""
    path = logits_model(tmp_path / "m.onnx")
    rows, cols = np.mgrid[0:120, 0:140]
    pixels = np.stack([rows / 120, cols / 140, (rows + cols) / 260]).astype(np.float32)
    pixels[:, (rows + 2 * cols) < 90] = np.nan  # a slanted collar
    pixels[:, 100:, :] = np.nan
    outputs = []
    for name, nodata in (("undeclared", None), ("declared", float("nan"))):
        tif = make_raster(f"{name}.tif", pixels, nodata=nodata)
        result = run_cli("predict", path, tif, "-o", tmp_path / f"{name}_p.tif",
                         "--model-resolution", resolution, "--tile-size", "64")
        assert result.exit_code == 0, result.output
        with rasterio.open(tmp_path / f"{name}_p.tif") as out:
            outputs.append(out.read(1))
    undeclared, declared = outputs
    assert np.isfinite(declared).sum() > 0.6 * np.isfinite(pixels[0]).sum()
    np.testing.assert_array_equal(np.isnan(undeclared), np.isnan(declared))
    np.testing.assert_allclose(undeclared, declared, atol=1e-6)


@pytest.mark.parametrize("resolution", ["1", "0.3", "0.25"])  # averaged down, interpolated up
def test_nan_beside_a_declared_nodata_value_is_nodata_on_the_model_grid(tmp_path, run_cli,
                                                                        make_raster, resolution):
    """A float image declaring nodata -9999 (its collar) with NaN gaps inside predicts,
    resampled to the model's resolution, as the same image with -9999 in the gaps: NaN is
    nodata too, never interpolated into the model cells around a gap (a ring of valid pixels
    came out NaN, 82 of them around a 20 x 40 gap at 0.3 m on 0.5 m pixels)."""
    path = logits_model(tmp_path / "m.onnx")
    rows, cols = np.mgrid[0:120, 0:150]
    pixels = np.stack([0.5 + 0.4 * np.sin(cols / 23 + c) * np.cos(rows / 31 - c)
                       for c in range(3)]).astype(np.float32)
    gap, collar = np.zeros((120, 150), bool), (rows + cols) < 30
    gap[40:60, 50:90] = gap[90:93, 20:130] = True
    pixels[:, collar] = -9999
    declared = pixels.copy()
    pixels[:, gap], declared[:, gap] = np.nan, -9999
    with_nan, expected = _at_model_resolution(
        run_cli, make_raster, tmp_path, path, resolution, -9999,
        {"nan": pixels, "declared": declared})
    np.testing.assert_array_equal(np.isnan(expected), gap | collar)
    np.testing.assert_array_equal(np.isnan(with_nan), gap | collar)
    np.testing.assert_allclose(with_nan, expected, atol=1e-6)


@pytest.mark.parametrize("resolution", ["1", "0.25"])  # averaged down, interpolated up
def test_a_mask_band_is_nodata_on_the_model_grid_as_alpha_is(tmp_path, run_cli, make_raster,
                                                            resolution):
    """An RGB image whose nodata is an internal mask band (gdal_translate -mask, JPEG
    orthophotos) predicts, resampled to the model's resolution, as the same image with an
    alpha band: model cells without a valid pixel stay nodata. They were fed as valid zeros
    and interpolated into the valid pixels next to the hole (off by up to 0.056)."""
    path = logits_model(tmp_path / "m.onnx")
    pixels = np.random.default_rng(3).integers(1, 256, (3, 123, 157)).astype(np.uint8)
    hole = np.zeros((123, 157), bool)
    hole[:, :20], hole[50:70, 60:100], hole[:, 130], hole[-1] = True, True, True, True
    pixels[:, hole] = 0
    alpha = np.where(hole, 0, 255).astype(np.uint8)
    images = {"alpha": make_raster("alpha.tif", np.concatenate([pixels, alpha[None]]),
                                   photometric="RGB", alpha="YES")}
    images["mask"] = make_raster("mask.tif", pixels)
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(images["mask"], "r+") as dst:
        dst.write_mask(alpha)
    # RGB+NIR+alpha (gdalwarp -dstalpha of NAIP): GDAL's mask leaves a 5th alpha band out
    images["rgbn_alpha"] = make_raster("rgbn.tif", np.concatenate([pixels, pixels[:1],
                                                                   alpha[None]]))
    with rasterio.open(images["rgbn_alpha"], "r+") as dst:
        dst.colorinterp = [*[ColorInterp.undefined] * 4, ColorInterp.alpha]
    outputs = {}
    for name, tif in images.items():
        result = run_cli("predict", path, tif, "-o", tmp_path / f"{name}_p.tif",
                         "--model-resolution", resolution, "--tile-size", "32", "--bands",
                         "1,2,3")
        assert result.exit_code == 0, result.output
        with rasterio.open(tmp_path / f"{name}_p.tif") as out:
            outputs[name] = out.read(1)
    for name in images:
        np.testing.assert_array_equal(np.isnan(outputs[name]), hole)
        np.testing.assert_allclose(outputs[name], outputs["alpha"], atol=1e-6)


@pytest.mark.parametrize("resolution", ["1", "0.25"])  # averaged down, interpolated up
@pytest.mark.parametrize("kind", ["chosen", "one_float"])
def test_chosen_bands_nodata_is_nodata_on_the_model_grid(tmp_path, run_cli, make_raster,
                                                        resolution, kind):
    """Resampled to the model's resolution, nodata follows the per-file rule: where every
    --bands chosen band is nodata (band 1 valid: it was warped into values, 0.665 on
    rgbn_u16) or one float band is at its own nodata value, the output is NaN, and the cells
    beside it are not mixed with it: as the image with only those bands, all nodata there."""
    path = logits_model(tmp_path / "m.onnx")
    hole = np.zeros((96, 128), bool)
    hole[33:47, 49:63] = True  # across model cells at 1 m
    if kind == "chosen":
        pixels = np.random.default_rng(4).integers(1, 4000, (4, 96, 128)).astype(np.uint16)
        pixels[1:, hole] = 0
        image = make_raster("img.tif", pixels, nodata=0)
        alone = make_raster("alone.tif", pixels[[3, 2, 1]], nodata=0)
        args, chosen = ["--scale", "0.00025"], ["--bands", "4,3,2"]
    else:
        pixels = np.random.default_rng(4).normal(0, 1, (3, 96, 128)).astype(np.float32)
        pixels[0, hole] = -9999
        image = make_raster("img.tif", pixels, nodata=-9999)
        every = pixels.copy()
        every[:, hole] = -9999
        alone = make_raster("alone.tif", every, nodata=-9999)
        args, chosen = ["--scale", "1"], []
    outputs = []
    for tif, bands in ((image, chosen), (alone, [])):
        result = run_cli("predict", path, tif, "-o", tmp_path / f"p_{tif.name}", *args, *bands,
                         "--model-resolution", resolution, "--tile-size", "32")
        assert result.exit_code == 0, result.output
        with rasterio.open(tmp_path / f"p_{tif.name}") as out:
            outputs.append(out.read(1))
    np.testing.assert_array_equal(np.isnan(outputs[1]), hole)
    np.testing.assert_array_equal(np.isnan(outputs[0]), hole)
    got, expected = outputs[0][~hole], outputs[1][~hole]
    assert expected.min() <= got.min() and got.max() <= expected.max()  # no nodata mixed in
    if kind == "one_float" or resolution == "0.25":
        # GDAL interpolates beside a hole per band (float: its bands 2-3 hold values there)
        # or per pixel (the image of the chosen bands alone): the ring may differ a little
        ring = np.zeros_like(hole)
        ring[31:49, 47:65] = True
        outputs = [np.where(ring, 0, o) for o in outputs]
    np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-5)


def test_a_bands_lone_zero_is_a_value_on_the_model_grid(tmp_path, run_cli, make_raster):
    """A uint8 RGB image declaring nodata 0, R alternating 0/200 where G = B = 100 (a dark
    band in shadow): the pixels are valid (every band fed must be nodata for a pixel to be),
    so R's 0s are values, as on the native path; the warp left them out of its averages
    (R 200, not 100), so the model saw another image than the one resampled by hand."""
    path = logits_model(tmp_path / "m.onnx")
    pixels = np.full((3, 64, 64), 100, np.uint8)
    pixels[0, :, ::2], pixels[0, :, 1::2] = 0, 200
    dark = make_raster("dark.tif", pixels, nodata=0)
    reference = pixels.copy()
    reference[0] = 100  # R's average over every 2 x 2 cell
    plain = make_raster("plain.tif", reference, nodata=0)
    outputs = []
    for tif in (dark, plain):
        result = run_cli("predict", path, tif, "-o", tmp_path / f"p_{tif.name}",
                         "--model-resolution", "2", "--tile-size", "32")
        assert result.exit_code == 0, result.output
        with rasterio.open(tmp_path / f"p_{tif.name}") as out:
            outputs.append(out.read(1))
    assert not np.isnan(outputs[0]).any()
    np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-5)


@pytest.mark.parametrize("resolution", ["1", "0.25"])  # averaged down, interpolated up
def test_an_rgbn_bands_nir_flagged_alpha_is_data_on_the_model_grid(tmp_path, run_cli,
                                                                   make_raster, resolution):
    """A 4-band uint8 RGB+NIR GeoTIFF, band 4 flagged alpha by GDAL's default, its NIR 0
    over water: fed to the model, it is data on the native path, and resampled to the
    model's resolution too. The warp took it for alpha (NIR 0 pixels nodata: 1500 NaN of
    120 x 150, the others weighted by NIR / 255, off by up to 0.004)."""
    conv, weights = conv1x1("input", "output", 4, 1, seed=4)
    path = save_graph(tmp_path / "m.onnx", [conv], nchw_in(channels=4),
                      [("output", FLOAT, ["N", 1, "H", "W"])], weights)
    pixels = np.random.default_rng(6).integers(1, 256, (4, 120, 150)).astype(np.uint8)
    pixels[3, 30:60, 40:90] = 0  # water
    pixels[3, 80:] //= 3
    flagged = make_raster("flagged.tif", pixels)
    plain = make_raster("plain.tif", pixels, photometric="RGB")
    with rasterio.open(flagged) as src, rasterio.open(plain) as other:
        assert src.colorinterp[3] == ColorInterp.alpha != other.colorinterp[3]
    outputs = []
    for tif in (flagged, plain):
        result = run_cli("predict", path, tif, "-o", tmp_path / f"p_{tif.name}",
                         "--model-resolution", resolution, "--tile-size", "32", "--bands",
                         "1,2,3,4")
        assert result.exit_code == 0, result.output
        with rasterio.open(tmp_path / f"p_{tif.name}") as out:
            outputs.append(out.read(1))
    assert not np.isnan(outputs[0]).any()
    np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-6)


def test_zero_division_on_nodata_pixels_is_not_an_error(tmp_path, make_raster, image):
    """A vegetation index (2G - R - B) / (2G + R + B), as Deepness's own test regressor: its
    0/0 on the zeroed nodata pixels is never written, so the model stays usable."""
    nodes = [helper.make_node("Split", ["input"], ["r", "g", "b"], axis=1),
             helper.make_node("Add", ["g", "g"], ["g2"]),
             helper.make_node("Sub", ["g2", "r"], ["d1"]),
             helper.make_node("Sub", ["d1", "b"], ["num"]),
             helper.make_node("Add", ["g2", "r"], ["s1"]),
             helper.make_node("Add", ["s1", "b"], ["den"]),
             helper.make_node("Div", ["num", "den"], ["output"])]
    path = save_graph(tmp_path / "exg.onnx", nodes, nchw_in(),
                      [("output", FLOAT, ["N", 1, "H", "W"])],
                      metadata={"model_type": "Regressor"})
    pixels = np.maximum(image, 1)
    pixels[:, 50:80, 60:90] = 0  # nodata
    tif = make_raster("img.tif", pixels, nodata=0)
    predict_raster(path, tif, tmp_path / "o.tif", options=PredictOptions(tile_size=64))
    with rasterio.open(tmp_path / "o.tif") as out:
        values = out.read(1)
    assert np.isnan(values[50:80, 60:90]).all()
    expected = whole(path, pixels)[0][0, 0]
    valid = np.ones(values.shape, bool)
    valid[50:80, 60:90] = False
    np.testing.assert_allclose(values[valid], expected[valid], atol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "uint8"])
def test_nan_pixels_of_a_float_image_without_nodata_are_nodata(tmp_path, run_cli, make_raster,
                                                              image, dtype):
    """Reflectance rasters mark gaps with NaN and often declare no nodata: those pixels are
    nodata in the output (NaN, or masked in uint8), the rest exact; never 'the model outputs
    NaN'."""
    path = logits_model(tmp_path / "m.onnx")
    pixels = image.astype(np.float32) / 255
    pixels[1, 40:60, 30:70] = np.nan
    pixels[:, 100:, :5] = np.inf
    tif = make_raster("img.tif", pixels)
    with rasterio.open(tif) as src:
        assert src.nodata is None
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", "--tile-size", "64",
                     "--dtype", dtype)
    assert result.exit_code == 0, result.output
    gaps = ~np.isfinite(pixels).all(axis=0)
    expected = sigmoid(whole(path, np.nan_to_num(pixels, posinf=0), scale=1)[0][0, 0])
    with rasterio.open(tmp_path / "o.tif") as out:
        values = out.read(1, masked=True)
    if dtype == "float32":
        assert np.isnan(values.data[gaps]).all()
        np.testing.assert_allclose(values.data[~gaps], expected[~gaps], atol=1e-5)
    else:
        assert values.mask[gaps].all() and not values.mask[~gaps].any()
        np.testing.assert_allclose(values.data[~gaps] / 255, expected[~gaps], atol=1 / 255)


def test_batch_of_one_hidden_behind_a_symbolic_output_batch(tmp_path, image):
    """The output declares the input's batch name, yet the graph makes it 1: found on use."""
    conv, weights = conv1x1("input", "logits", 3, 1, seed=16)
    nodes = [conv, helper.make_node("Reshape", ["logits", "shape"], ["output"])]
    path = save_graph(tmp_path / "m.onnx", nodes, nchw_in(),
                      [("output", FLOAT, ["N", 1, "H", "W"])],
                      {**weights, "shape": np.array([1, -1, 0, 0], np.int64)})
    out = predict_array(OnnxModel.from_path(path), image,
                        options=PredictOptions(tile_size=64, batch_size=4))
    np.testing.assert_allclose(out, sigmoid(whole(path, image)[0][0]), atol=1e-5)


def test_valid_convolution_margin_is_nodata_in_uint8_output(tmp_path, make_raster, image):
    conv, weights = conv1x1("input", "logits", 3, 1, seed=10)
    nodes = [conv, helper.make_node("Slice", ["logits", "starts", "ends", "axes"], ["output"])]
    consts = {"starts": np.array([14, 14]), "ends": np.array([-14, -14]),
              "axes": np.array([2, 3])}
    path = save_graph(tmp_path / "m.onnx", nodes, nchw_in(),
                      [("output", FLOAT, ["N", 1, "h", "w"])], {**weights, **consts})
    tif = make_raster("img.tif", image)  # no nodata at all
    predict_raster(path, tif, tmp_path / "o.tif", options=PredictOptions(tile_size=128))
    with rasterio.open(tmp_path / "o.tif") as out:
        mask = out.read_masks(1)
    # the far margin too: a model that crops 14 px needs them as context (no padding)
    assert (mask[:14] == 0).all() and (mask[:, :14] == 0).all()
    assert (mask[-14:] == 0).all() and (mask[:, -14:] == 0).all()
    assert (mask[14:-14, 14:-14] == 255).all()


def cropping_model(path, crop: int = 14):
    """A 1x1 convolution whose output is its window less ``crop`` px of each side."""
    conv, weights = conv1x1("input", "logits", 3, 1, seed=10)
    nodes = [conv, helper.make_node("Slice", ["logits", "starts", "ends", "axes"], ["output"])]
    consts = {"starts": np.array([crop, crop]), "ends": np.array([-crop, -crop]),
              "axes": np.array([2, 3])}
    return save_graph(path, nodes, nchw_in(), [("output", FLOAT, ["N", 1, "h", "w"])],
                      {**weights, **consts})


@pytest.mark.parametrize("shape", [(20, 20), (1, 1), (40, 28)])
def test_an_image_within_the_unpredicted_margin_is_said_so(tmp_path, run_cli, make_raster,
                                                           shape):
    """A 20 x 20 px image under a model that crops 14 px of each side: every pixel lies in
    the margin no window's output reaches, so the output is all nodata. That was written
    without a word (20 x 20: pixels of the near margin counted as predicted), or said as
    'all nodata' of an image with no nodata at all (1 x 1); now one warning names the
    margin, and an image with a predicted pixel gets none."""
    path = cropping_model(tmp_path / "m.onnx")
    pixels = np.random.default_rng(3).integers(1, 256, (3, *shape), dtype=np.uint8)
    tif = make_raster("small.tif", pixels)  # no nodata at all
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", "--tile-size", "64")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "o.tif") as out:
        assert np.isnan(out.read()).all()
    warning = [line for line in result.stderr.splitlines() if "small.tif" in line]
    assert len(warning) == 1, result.stderr
    assert "14 px" in warning[0] and "m.onnx" in warning[0], warning
    assert "all nodata" not in warning[0]
    bigger = make_raster("big.tif", np.full((3, 29, 29), 9, np.uint8))
    result = run_cli("predict", path, bigger, "-o", tmp_path / "b.tif", "--tile-size", "64")
    assert result.exit_code == 0 and "margin" not in result.stderr, result.stderr
    with rasterio.open(tmp_path / "b.tif") as out:
        assert np.isnan(out.read()).sum() == 29 * 29 - 1


@pytest.mark.parametrize(("metres", "predicted"), [(2.0, False), (0.25, True)])
def test_the_margin_is_measured_on_the_models_grid(tmp_path, run_cli, make_raster, metres,
                                                   predicted):
    """100 x 100 px of 0.5 m run at --model-resolution 2 are 25 x 25 px of the model's, all
    within the 14 px margin of a model cropping 14 px a side: nothing was predicted and the
    warning said the image was all nodata; now it names the margin on the model's grid.
    At 0.25 m (200 x 200 px of the model's) the centre is predicted, without a warning."""
    path = cropping_model(tmp_path / "m.onnx")
    tif = make_raster("coarse.tif", np.full((3, 100, 100), 90, np.uint8))
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", "--tile-size", "64",
                     "--model-resolution", str(metres))
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "o.tif") as out:
        assert (~np.isnan(out.read(1))).any() == predicted
    if predicted:
        assert "coarse.tif" not in result.stderr, result.stderr
    else:
        warning = [line for line in result.stderr.splitlines() if "coarse.tif" in line]
        assert len(warning) == 1 and "all nodata" not in warning[0], result.stderr
        assert "25 x 25 px at the model's pixel size" in warning[0]
        assert "14 px margin" in warning[0]


def test_dynamic_model_without_metadata_gets_a_size_that_runs(tmp_path, image):
    from geotile.errors import ModelError

    conv, weights = conv1x1("input", "logits", 3, 1, seed=17)
    bias = np.random.default_rng(17).normal(0, 1, (1, 1, 256, 256)).astype(np.float32)
    nodes = [conv, helper.make_node("Add", ["logits", "prior"], ["output"])]
    path = save_graph(tmp_path / "m.onnx", nodes, nchw_in(),
                      [("output", FLOAT, ["N", 1, "H", "W"])], {**weights, "prior": bias})
    model = OnnxModel.from_path(path)  # 512 px fails: 256 px is taken
    assert model.tile_size == 256
    with pytest.raises(ModelError, match=r"m\.onnx.*512 px.*try --tile-size 256"):
        predict_array(model, image, options=PredictOptions(tile_size=512))


# --- what a model's outputs or metadata cannot mean: one line, nothing written -------------
def _two_heads(path):
    """Outputs "seg" (3 classes, softmax) and "edge" (1 channel, sigmoid): two heads."""
    seg, seg_weights = conv1x1("input", "seg", 3, 3, seed=21, prefix="s")
    edge, edge_weights = conv1x1("input", "edge", 3, 1, seed=22, prefix="e")
    return save_graph(path, [seg, edge], nchw_in(),
                      [("seg", FLOAT, ["N", 3, "H", "W"]), ("edge", FLOAT, ["N", 1, "H", "W"])],
                      {**seg_weights, **edge_weights})


def _uint8_input(path):
    from .onnx_models import UINT8

    conv, weights = conv1x1("pixels", "output", 3, 1, seed=23)
    nodes = [helper.make_node("Cast", ["input"], ["pixels"], to=FLOAT), conv]
    return save_graph(path, nodes, [("input", UINT8, ["N", 3, "H", "W"])],
                      [("output", FLOAT, ["N", 1, "H", "W"])], weights)


@pytest.mark.parametrize("case", ["softmax of one channel", "seg_thresh 5", "class of two heads",
                                  "300 classes", "fractions to a uint8 model",
                                  "metadata nested 5000 deep", "resolution 1e-9", "complex"])
def test_what_cannot_be_predicted_is_one_line(tmp_path, make_raster, run_cli, case):
    from .conftest import assert_one_line_error
    from .onnx_models import pointwise_model

    pixels = np.random.default_rng(4).integers(0, 256, (3, 40, 50), dtype=np.uint8)
    image, args = make_raster("img.tif", pixels), []
    model = tmp_path / "m.onnx"
    if case == "softmax of one channel":
        pointwise_model(model)
        args, fragment = ["--activation", "softmax"], "softmax over one channel"
    elif case == "seg_thresh 5":
        pointwise_model(model, metadata={"seg_thresh": "5"})
        args, fragment = ["--output-type", "class"], "seg_thresh=5 is not a probability"
    elif case == "class of two heads":
        _two_heads(model)
        args, fragment = ["--output-type", "class"], "--outputs seg"
    elif case == "300 classes":
        pointwise_model(model, classes=300)
        args, fragment = ["--output-type", "class"], "300 classes do not fit"
    elif case == "fractions to a uint8 model":
        _uint8_input(model)
        image = make_raster("f.tif", pixels.astype(np.float32) / 255)
        fragment = "would be rounded"
    elif case == "metadata nested 5000 deep":
        pointwise_model(model, metadata={"class_names": "[" * 5000 + "]" * 5000})
        fragment = "m.onnx"
    elif case == "resolution 1e-9":
        pointwise_model(model)
        args, fragment = ["--model-resolution", "1e-9"], "--model-resolution"
    else:
        pointwise_model(model)
        image = make_raster("c.tif", (pixels + 1j * pixels).astype(np.complex64))
        fragment = "complex pixels"
    out = tmp_path / "out.tif"
    result = run_cli("predict", model, image, "-o", out, "--tile-size", 32, *args)
    if case == "metadata nested 5000 deep":  # read as the text it is, not a traceback
        assert result.exit_code == 0, result.output
        assert out.exists() and "Traceback" not in result.output
        return
    assert_one_line_error(result, fragment)
    assert not out.exists()


def test_a_uint8_model_takes_whole_pixels_as_they_are(tmp_path, make_raster, run_cli):
    pixels = np.random.default_rng(5).integers(0, 256, (3, 40, 50), dtype=np.uint8)
    model = _uint8_input(tmp_path / "m.onnx")
    for image in (make_raster("u.tif", pixels), make_raster("f.tif", pixels.astype(np.float32))):
        out = tmp_path / f"{image.stem}_out.tif"
        result = run_cli("predict", model, image, "-o", out, "--tile-size", 32,
                         "--activation", "none")
        assert result.exit_code == 0, result.output
        with rasterio.open(out) as src:
            expected = ort_run(model, pixels[np.newaxis])[0][0, 0]
            np.testing.assert_allclose(src.read(1), expected, rtol=1e-5)


@pytest.mark.parametrize("declared", [["N", "H", "W", 64], ["N", "a", "b", "c"]])
def test_channels_last_output_as_wide_as_the_window_is_read_right(tmp_path, declared):
    """64 channels last at 64 px windows: (N, 64, 64, 64) reads either way. The export's
    fixed channel axis tells, else the axis that keeps its length at another size."""
    conv, weights = conv1x1("input", "logits", 3, 64, seed=31)
    nodes = [conv, helper.make_node("Transpose", ["logits"], ["output"], perm=[0, 2, 3, 1])]
    path = save_graph(tmp_path / "m.onnx", nodes, nchw_in(), [("output", FLOAT, declared)],
                      weights)
    pixels = np.random.default_rng(31).integers(0, 256, (3, 70, 90), dtype=np.uint8)
    model = OnnxModel.from_path(path, tile_size=64, activation="none")
    out = predict_array(model, pixels, options=PredictOptions(tile_size=64))
    expected = whole(path, pixels)[0][0].transpose(2, 0, 1)  # (64, h, w) per pixel
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_pixels_beyond_float16_are_one_line(tmp_path, make_raster, run_cli):
    from .conftest import assert_one_line_error
    from .onnx_models import FLOAT16

    conv, weights = conv1x1("pixels", "output", 3, 1, seed=24)
    nodes = [helper.make_node("Cast", ["input"], ["pixels"], to=FLOAT), conv]
    model = save_graph(tmp_path / "m.onnx", nodes, [("input", FLOAT16, ["N", 3, "H", "W"])],
                       [("output", FLOAT, ["N", 1, "H", "W"])], weights)
    image = make_raster("u16.tif", np.full((3, 20, 20), 65535, np.uint16))
    result = run_cli("predict", model, image, "-o", tmp_path / "o.tif", "--tile-size", 32,
                     "--scale", 1)  # the pixels as they are, chosen
    assert_one_line_error(result, "m.onnx", "float16", "65535", "--scale")
    assert not (tmp_path / "o.tif").exists()


# --- other people's export tails (a tester's sweep, 2026-12-04) ------------------------------
def _tail_model(path, tail: str):
    """A 1x1 Conv (1 or 2 channels) and a tail that already gives final values."""
    classes = 2 if tail in ("argmax", "softmax-max", "softmax-written-out") else 1
    conv, weights = conv1x1("input", "z", 3, classes, seed=21)
    consts = {"half": np.array(0.5, np.float32), "one": np.array(1.0, np.float32),
              "zero": np.array(0.0, np.float32), "low": np.array(0.3, np.float32)}
    make = helper.make_node
    tails = {
        "threshold": [make("Sigmoid", ["z"], ["p"]), make("Greater", ["p", "half"], ["b"]),
                      make("Cast", ["b"], ["output"], to=FLOAT)],
        "argmax": [make("ArgMax", ["z"], ["i"], axis=1, keepdims=1),
                   make("Cast", ["i"], ["output"], to=FLOAT)],
        "clip": [make("Clip", ["z", "zero", "one"], ["output"])],
        "tanh": [make("Tanh", ["z"], ["t"]), make("Add", ["t", "one"], ["u"]),
                 make("Mul", ["u", "half"], ["output"])],
        "softmax-max": [make("Softmax", ["z"], ["p"], axis=1),
                        make("ReduceMax", ["p"], ["output"], axes=[1], keepdims=1)],
        "where": [make("Sigmoid", ["z"], ["p"]), make("Greater", ["p", "low"], ["keep"]),
                  make("Where", ["keep", "p", "zero"], ["output"])],
        "sigmoid-written-out": [make("Neg", ["z"], ["n"]), make("Exp", ["n"], ["e"]),
                                make("Add", ["e", "one"], ["d"]),
                                make("Reciprocal", ["d"], ["output"])],
        "sigmoid-div": [make("Neg", ["z"], ["n"]), make("Exp", ["n"], ["e"]),
                        make("Add", ["one", "e"], ["d"]), make("Div", ["one", "d"], ["output"])],
        "softmax-written-out": [make("Exp", ["z"], ["e"]),
                                make("ReduceSum", ["e", "axes"], ["s"], keepdims=1),
                                make("Div", ["e", "s"], ["output"])],
    }
    consts["axes"] = np.array([1], np.int64)
    out_channels = 1 if tail in ("argmax", "softmax-max") else classes
    return save_graph(path, [conv, *tails[tail]], nchw_in(),
                      [("output", FLOAT, ["N", out_channels, "H", "W"])], {**weights, **consts})


@pytest.mark.parametrize("tail", ["clip", "tanh", "softmax-max", "where", "sigmoid-written-out",
                                  "sigmoid-div", "softmax-written-out"])
def test_final_values_of_other_tails_get_no_second_activation(tmp_path, image, tail):
    """A tail that already gives probabilities without ending in Sigmoid/Softmax (Clip(0, 1),
    (tanh + 1) / 2, the max of a softmax, a sigmoid or softmax written out op by op) is
    written as the model gives it: a sigmoid on top squeezed 0..1 into 0.5..0.73."""
    path = _tail_model(tmp_path / "m.onnx", tail)
    model = OnnxModel.from_path(path)
    assert all(o.activation == "none" for o in model.outputs)
    out = predict_array(model, image, options=PredictOptions(tile_size=64))
    np.testing.assert_allclose(out, whole(path, image)[0][0], atol=1e-5)


@pytest.mark.parametrize("tail", ["threshold", "argmax"])
def test_masks_and_class_ids_cast_to_float_are_refused(tmp_path, run_cli, make_raster, image,
                                                       tail):
    """A thresholded 0/1 mask or ArgMax class ids cast to float cannot be blended (nor
    activated: sigmoid(0) = 0.5 made every pixel a building): refused as integer ones are."""
    from .conftest import assert_one_line_error

    path = _tail_model(tmp_path / "m.onnx", tail)
    tif = make_raster("img.tif", image)
    assert_one_line_error(run_cli("predict", path, tif, "-o", tmp_path / "o.tif"),
                          "m.onnx", "class ids or masks", "before ArgMax or thresholding")
    assert not (tmp_path / "o.tif").exists()


def test_quantised_integer_scores_are_refused_as_such(tmp_path, run_cli, make_raster, image):
    """Softmax x 255 cast to uint8 (4 bands of scores) was refused as 'class ids or masks'
    with advice to export before ArgMax or thresholding, which the model does not have."""
    from .conftest import assert_one_line_error
    from .onnx_models import UINT8

    conv, weights = conv1x1("input", "logits", 3, 4, seed=14)
    nodes = [conv, helper.make_node("Softmax", ["logits"], ["p"], axis=1),
             helper.make_node("Mul", ["p", "k"], ["scaled"]),
             helper.make_node("Cast", ["scaled"], ["output"], to=UINT8)]
    path = save_graph(tmp_path / "m.onnx", nodes, nchw_in(),
                      [("output", UINT8, ["N", 4, "H", "W"])],
                      {**weights, "k": np.array(255, np.float32)})
    tif = make_raster("img.tif", image)
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "m.onnx", "uint8", "float scores", "Cast")
    assert "ArgMax" not in result.output and "class ids" not in result.output
    assert not (tmp_path / "o.tif").exists()


@pytest.mark.parametrize("model_type", ["UNet", "segmentation", "42"])
def test_a_model_type_that_is_not_deepness_keeps_the_activation(tmp_path, image, model_type):
    """Only Deepness's model types (Segmentor, Regressor...) mean final values; an
    architecture name in `model_type` left logits unactivated, written as probabilities."""
    from .onnx_models import pointwise_model, pointwise_reference

    path = pointwise_model(tmp_path / "m.onnx", metadata={"model_type": model_type})
    model = OnnxModel.from_path(path)
    assert model.outputs[0].activation == "sigmoid"
    out = predict_array(model, image, options=PredictOptions(tile_size=64))
    expected = pointwise_reference(image[np.newaxis].astype(np.float32) / 255,
                                   activation="sigmoid")[0]
    np.testing.assert_allclose(out, expected, atol=1e-5)
    deepness = pointwise_model(tmp_path / "d.onnx", metadata={"model_type": "Segmentor"})
    assert OnnxModel.from_path(deepness).outputs[0].activation == "none"


def test_a_fixed_size_model_whose_stride_does_not_divide_its_size_is_refused(
        tmp_path, run_cli, make_raster, image):
    """DeepLab's classic export: 513 px in, stride 8 with ceil -> 65 px logits. Not a crop
    (it was placed as one: 94 % NaN, the rest misplaced) and not a whole downscale."""
    from .conftest import assert_one_line_error

    for name, ceil, out in (("ceil.onnx", 1, 65), ("floor.onnx", 0, 64)):
        nodes = [helper.make_node("AveragePool", ["input"], ["pooled"], kernel_shape=[8, 8],
                                  strides=[8, 8], ceil_mode=ceil)]
        conv, weights = conv1x1("pooled", "z", 3, 1, seed=22)
        path = save_graph(tmp_path / name, [*nodes, conv,
                                            helper.make_node("Sigmoid", ["z"], ["output"])],
                          [("input", FLOAT, [1, 3, 513, 513])],
                          [("output", FLOAT, [1, 1, out, out])], weights)
        tif = make_raster("img.tif", image)
        assert_one_line_error(run_cli("predict", path, tif, "-o", tmp_path / "o.tif"),
                              name, "513", str(out), "downscale", "upsampling")
        assert not (tmp_path / "o.tif").exists()


@pytest.mark.parametrize("names, channels, expected", [
    ("background,building", 1, ["building"]),
    ("background, building", 2, ["background", "building"]),
    ('["a", "b", "c"]', 2, ["class_1", "class_2"]),
])
def test_class_names_as_comma_separated_text(tmp_path, names, channels, expected, caplog):
    from .onnx_models import pointwise_model

    path = pointwise_model(tmp_path / "m.onnx", classes=channels,
                           metadata={"class_names": names})
    with caplog.at_level("WARNING", logger="geotile"):
        model = OnnxModel.from_path(path)
    assert model.class_names == expected
    if expected[0] == "class_1":  # three names for two bands: said, not dropped silently
        assert "3 class names" in caplog.text and "2 band" in caplog.text


@pytest.mark.parametrize("names, expected, warned", [
    (["background", "building"], "building", False),
    (["building", "background"], "building", False),  # was named 'background'
    (["No data", "water"], "water", False),
    (["building", "road"], "road", True),  # two classes for one band: said
])
def test_two_class_names_of_one_band_name_the_one_that_is_no_background(
        tmp_path, names, expected, warned, caplog):
    """A binary model exported with one sigmoid band and the two names of its training
    (background and the class, in either order): the band is the class, never the
    background; two class names for one band are said, not picked silently."""
    from .onnx_models import pointwise_model

    path = pointwise_model(tmp_path / "m.onnx", classes=1, metadata={"class_names": names})
    with caplog.at_level("WARNING", logger="geotile"):
        model = OnnxModel.from_path(path)
    assert model.class_names == [expected]
    assert ("2 class names" in caplog.text and "one band" in caplog.text) == warned


@pytest.mark.parametrize("layout, shape", [("NCHW", [1, 72, 32, 32]), ("NHWC", [1, 32, 32, 72]),
                                           ("NHWC", [1, 32, 32, 32])])
def test_the_layout_of_a_fixed_input_follows_its_square_axes(tmp_path, layout, shape):
    """Many bands in small fixed patches (multi-temporal stacks): the two equal axes are the
    patch, whichever holds more; a Keras export's leading Transpose tells NHWC when all
    three are equal (32 bands of 32 px ran as NCHW: wrong values, exit 0)."""
    from .onnx_models import pointwise_model, pointwise_reference

    bands = shape[1] if layout == "NCHW" else shape[3]
    path = pointwise_model(tmp_path / "m.onnx", channels=bands, layout=layout, size=32,
                           batch=1, activation="sigmoid")
    model = OnnxModel.from_path(path)
    assert (model.layout, model.channels, model.tile_size) == (layout, bands, 32)
    pixels = np.random.default_rng(5).random((bands, 70, 90)).astype(np.float32)
    out = predict_array(model, pixels, options=PredictOptions(tile_size=32))
    expected = pointwise_reference(pixels[np.newaxis], channels=bands, activation="sigmoid")[0]
    np.testing.assert_allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_a_fixed_square_patch_beside_a_symbolic_channel_axis_tells_the_layout(
        tmp_path, run_cli, make_raster, image, layout):
    """[N, C, 32, 32] (NCHW) was read as NHWC of 32 channels and [N, 32, 32, C] as NCHW of
    32: 'ONNX Runtime cannot run the model on 32 px tiles ... Check the export.', a model
    that runs. The equal fixed axes are the patch, the symbolic one its channels."""
    import onnx

    from .onnx_models import pointwise_model, pointwise_reference

    path = pointwise_model(tmp_path / "m.onnx", layout=layout, size=32, activation="sigmoid")
    read = onnx.load(str(path))
    read.graph.input[0].type.tensor_type.shape.dim[1 if layout == "NCHW" else 3].dim_param = "C"
    onnx.save(read, str(path))
    model = OnnxModel.from_path(path)
    assert (model.layout, model.channels, model.tile_size) == (layout, 3, 32)
    result = run_cli("predict", path, make_raster("img.tif", image), "-o", tmp_path / "o.tif")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "o.tif") as out:
        expected = pointwise_reference(image[np.newaxis] / 255, activation="sigmoid")[0]
        np.testing.assert_allclose(out.read(), expected, atol=1e-5)


def test_a_scale_given_for_an_integer_model_rounds_the_pixels(tmp_path, run_cli, make_raster,
                                                              image):
    """A uint8-input model on 12-bit pixels: the range error's --scale now runs, rounding the
    scaled pixels as gdal_translate -scale does (the fraction error answered each --scale,
    and its own advice led back to the range error). Without --scale fractions still stop."""
    from .onnx_models import UINT8

    raw = cast_model(tmp_path / "u8.onnx", UINT8)
    wide = make_raster("wide.tif", image.astype(np.uint16) * 16 + 7)  # 7..4087
    result = run_cli("predict", raw, wide, "-o", tmp_path / "o.tif", "--tile-size", "64")
    assert result.exit_code == 1 and "--scale 0.0623" in result.stderr
    result = run_cli("predict", raw, wide, "-o", tmp_path / "o.tif", "--tile-size", "64",
                     "--scale", "0.0623")
    assert result.exit_code == 0, result.output
    scaled = np.rint((image.astype(np.float32) * 16 + 7) * np.float32(0.0623))
    expected = sigmoid(ort_run(raw, scaled[np.newaxis].astype(np.uint8))[0][0])
    with rasterio.open(tmp_path / "o.tif") as src:
        np.testing.assert_allclose(src.read(), expected, atol=1e-5)


def test_an_integer_models_scale_comes_from_the_whole_image(tmp_path, run_cli, make_raster,
                                                            image):
    """The range error named the first offending batch's top (1020 of a 4080 image), so its
    --scale failed again; it is the whole image's (read once a batch leaves the range: a
    run that fits reads nothing more), and works.
    Where --mean takes pixels below 0 no --scale can help: it says so, and no --scale."""
    from .conftest import assert_one_line_error
    from .onnx_models import UINT8

    raw = cast_model(tmp_path / "u8.onnx", UINT8)
    pixels = image.astype(np.uint16) * 4  # 0..1020 everywhere but the last rows
    pixels[:, -10:] *= 4  # 0..4080 there
    wide = make_raster("wide.tif", pixels)
    out = tmp_path / "o.tif"
    result = run_cli("predict", raw, wide, "-o", out, "--tile-size", "64")
    assert_one_line_error(result, "u8.onnx", "reach 0..4080", "--scale 0.0625")
    result = run_cli("predict", raw, wide, "-o", out, "--tile-size", "64", "--scale", "0.0625")
    assert result.exit_code == 0, result.output
    scaled = np.rint(pixels.astype(np.float32) * np.float32(0.0625))
    with rasterio.open(out) as src:
        np.testing.assert_allclose(src.read(), sigmoid(ort_run(raw, scaled[None].astype(
            np.uint8))[0][0]), atol=1e-5)
    narrow = make_raster("narrow.tif", image)  # 0..255: a mean of 10 makes 0 -10
    for scale in ((), ("--scale", "1.04")):
        result = run_cli("predict", raw, narrow, "-o", tmp_path / "m.tif", "--mean", "10",
                         *scale)
        assert_one_line_error(result, "u8.onnx", "--mean 10", "no --scale", "leave out --mean")
        assert "e.g. --scale" not in result.stderr and not (tmp_path / "m.tif").exists()


def test_an_integer_model_reads_the_image_once_when_its_scale_fits(tmp_path, run_cli,
                                                                    make_raster, image,
                                                                    monkeypatch):
    """The whole image's range was read before every run of a uint8-input model on a
    uint16 image (twice the reading), even with the right --scale: only a batch that leaves
    the range has it read."""
    from geotile.model import OnnxModel

    from .onnx_models import UINT8

    checked = []
    original = OnnxModel.check_input_range

    def spy(self, lows, highs, source, owners=None):
        checked.append(list(highs))  # the types' tops, or the pixels' read
        return original(self, lows, highs, source, owners)

    monkeypatch.setattr(OnnxModel, "check_input_range", spy)
    raw = cast_model(tmp_path / "u8.onnx", UINT8)
    wide = make_raster("wide.tif", image.astype(np.uint16) * 16)  # 0..4080
    result = run_cli("predict", raw, wide, "-o", tmp_path / "o.tif", "--scale", "0.0625")
    assert result.exit_code == 0, result.output
    assert checked == [[65535] * 3]  # from the type alone: nothing read before the batches
    result = run_cli("predict", raw, wide, "-o", tmp_path / "p.tif")
    assert result.exit_code == 1 and "--scale 0.0625" in result.stderr
    assert checked[1:] == [[65535] * 3, [int(image[b].max()) * 16 for b in range(3)]]


@pytest.mark.parametrize("scale", ["0", "-1"])
def test_a_scale_of_zero_or_below_is_refused(tmp_path, run_cli, make_raster, image, scale):
    """--scale 0 fed every pixel as 0 (a constant output), -1 inverted them: exit 0."""
    from .conftest import assert_one_line_error

    model = cast_model(tmp_path / "f.onnx", FLOAT)
    tif = make_raster("img.tif", image)
    result = run_cli("predict", model, tif, "-o", tmp_path / "o.tif", f"--scale={scale}")
    assert_one_line_error(result, f"--scale {scale}", "> 0", "f.onnx")
    assert not (tmp_path / "o.tif").exists()


def test_an_image_without_a_valid_pixel_is_warned(tmp_path, run_cli, make_raster, image):
    """All nodata: the output is all nodata, as documented, and now said (tile said it)."""
    model = cast_model(tmp_path / "f.onnx", FLOAT)
    tif = make_raster("empty.tif", np.zeros_like(image), nodata=0)
    result = run_cli("predict", model, tif, "-o", tmp_path / "o.tif")
    assert result.exit_code == 0, result.output
    assert "empty.tif: the raster holds no valid pixel" in result.stderr
    with rasterio.open(tmp_path / "o.tif") as src:
        assert np.isnan(src.read()).all()
    result = run_cli("predict", model, make_raster("full.tif", image), "-o", tmp_path / "f.tif")
    assert result.exit_code == 0 and "no valid pixel" not in result.stderr


def test_16_bit_pixels_with_statistics_of_8_bit_ones_are_warned(tmp_path, run_cli,
                                                                make_raster, image):
    """ImageNet's mean and std on the 0..255 scale in the metadata, a uint16 image of
    0..4000: its pixels reach the model 16x too bright, so the 16-bit warning stands."""
    from .onnx_models import pointwise_model

    path = pointwise_model(tmp_path / "m.onnx", activation="sigmoid", metadata={
        "standardization_mean": [123.675, 116.28, 103.53],
        "standardization_std": [58.395, 57.12, 57.375]})
    wide = make_raster("u16.tif", (image.astype(np.uint16) * 15) + 100)
    result = run_cli("predict", path, wide, "-o", tmp_path / "o.tif", "--tile-size", "64")
    assert result.exit_code == 0, result.output
    assert "uint16 pixels go to the model as they are" in result.stderr
    assert "0..255" in result.stderr and "--scale" in result.stderr


def test_outputs_that_lost_their_batch_axis_are_named_so(tmp_path, run_cli, make_raster,
                                                        image):
    from .conftest import assert_one_line_error

    tif = make_raster("img.tif", image)
    for name, axes, out_shape in (("hw.onnx", [0, 1], [256, 256]),
                                  ("khw.onnx", [0], [1, 256, 256])):
        conv, weights = conv1x1("input", "z", 3, 1, seed=23)
        nodes = [conv, helper.make_node("Sigmoid", ["z"], ["p"]),
                 helper.make_node("Squeeze", ["p", "axes"], ["output"])]
        path = save_graph(tmp_path / name, nodes, [("input", FLOAT, [1, 3, 256, 256])],
                          [("output", FLOAT, out_shape)],
                          {**weights, "axes": np.array(axes, np.int64)})
        result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif")
        if name == "khw.onnx":  # [1, 256, 256] is [N, H, W]: a batch of one, and it runs
            assert result.exit_code == 0, result.output
            continue
        assert_one_line_error(result, name, "batch", "squeeze", "[N,K,H,W]")
        assert "classifier" not in result.stderr


def test_float_pixels_of_0_to_255_going_in_unscaled_are_warned(tmp_path, run_cli, make_raster,
                                                               image):
    """A float32 orthotile holding 0..255 (gdal_translate -ot Float32 of an 8-bit one): uint8
    is divided by 255 for the model, float is not; its values reach the model 255x too
    large. Warned with the scale, as 16-bit pixels are; 0..1 floats and --scale are quiet."""
    from .onnx_models import pointwise_model

    path = pointwise_model(tmp_path / "m.onnx", activation="sigmoid")
    bright = image.astype(np.float32)
    bright[:, :5, :5] = -9999  # declared nodata: not a pixel value
    wide = make_raster("f255.tif", bright, nodata=-9999)
    result = run_cli("predict", path, wide, "-o", tmp_path / "o.tif", "--tile-size", "64")
    assert result.exit_code == 0, result.output
    assert "float32 pixels go to the model as they are" in result.stderr
    assert "reach 255" in result.stderr and "--scale 0.00392" in result.stderr
    for args in (["--scale", "0.00392"], []):
        source = wide if args else make_raster("f1.tif", image.astype(np.float32) / 255)
        result = run_cli("predict", path, source, "-o", tmp_path / "q.tif", "--tile-size", "64",
                         "--overwrite", *args)
        assert result.exit_code == 0 and "as they are" not in result.stderr, result.stderr


@pytest.mark.parametrize("shape", [[1, 3, 256, 256], ["N", 3, "H", "W"]])
def test_layout_metadata_that_contradicts_the_input_is_named(tmp_path, run_cli, make_raster,
                                                             image, shape):
    from .conftest import assert_one_line_error

    conv, weights = conv1x1("input", "z", 3, 1, seed=25)
    out = [shape[0], 1, *shape[2:]]
    path = save_graph(tmp_path / "m.onnx", [conv, helper.make_node("Sigmoid", ["z"],
                                                                   ["output"])],
                      [("input", FLOAT, shape)], [("output", FLOAT, out)], weights,
                      metadata={"layout": "NHWC"})
    tif = make_raster("img.tif", image)
    assert_one_line_error(run_cli("predict", path, tif, "-o", tmp_path / "o.tif"),
                          "m.onnx", "layout=NHWC", "NCHW", "metadata")


def test_readme_says_a_bare_tanh_and_scaled_activations_are_refused():
    """README's model handling listed Tanh among recognised probability activations and
    named only ArgMax and thresholds as refused, while predict refuses a bare Tanh and a
    Sigmoid x 100 (test_a_scaled_activation_or_tanh_is_refused)."""
    from pathlib import Path

    text = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    model = " ".join(text[text.index("Model handling:"):].split("\n\n")[0].split())
    refused = model[model.index("Refused"):]
    assert "bare Tanh" in refused and "x 100" in refused and "ArgMax" in refused
    assert "(tanh + 1) / 2" in model[:model.index("Refused")]


def test_a_cut_external_weights_file_is_one_line_naming_it(tmp_path, run_cli, make_raster,
                                                           image):
    """m.onnx.data cut to 4 bytes (a copy that stopped): ONNX Runtime's own error log spilt
    onto stderr (3 lines, colour codes) around 'cannot load the model (... offset: 0 size
    to read: ... given file_length: 4 ...)'; now one line naming the short file."""
    from .conftest import assert_one_line_error

    path = logits_model(tmp_path / "m.onnx", external=True)
    data = tmp_path / "m.onnx.data"
    data.write_bytes(data.read_bytes()[:4])
    tif = make_raster("img.tif", image)
    assert_one_line_error(run_cli("predict", path, tif, "-o", tmp_path / "o.tif"),
                          "m.onnx: its weights file m.onnx.data holds 4 bytes", "shorter",
                          "copy m.onnx.data again")
    assert not (tmp_path / "o.tif").exists()


def test_a_folder_named_like_a_model_is_said_to_be_a_folder(tmp_path, run_cli, make_raster,
                                                            image):
    """unet.onnx/ a folder (an unzipped archive, a SavedModel): 'no such model file. Check
    the path.' while the path exists; now it says it is a folder."""
    from .conftest import assert_one_line_error

    (tmp_path / "unet.onnx").mkdir()
    tif = make_raster("img.tif", image)
    assert_one_line_error(run_cli("predict", tmp_path / "unet.onnx", tif, "-o",
                                  tmp_path / "o.tif"), "unet.onnx is a folder",
                          "give the .onnx file")


def test_activation_none_keeps_uint8_for_outputs_ending_in_sigmoid(tmp_path, run_cli,
                                                                   make_raster, image):
    """--activation none --dtype uint8 on a model ending in Sigmoid (and on the Sigmoid
    output of a model with a logits head too, chosen by --outputs) warned 'gives raw values,
    not probabilities 0..1' and wrote float32: its values are probabilities, written as
    asked, round(p x 255); raw values alone are written as float32."""
    conv, weights = conv1x1("input", "z", 3, 1, seed=4)
    raw, more = conv1x1("input", "l", 3, 1, seed=5, prefix="d")
    path = save_graph(tmp_path / "two.onnx",
                      [conv, helper.make_node("Sigmoid", ["z"], ["p"]), raw,
                       helper.make_node("Identity", ["l"], ["logits"])], nchw_in(),
                      [("p", FLOAT, ["N", 1, "H", "W"]), ("logits", FLOAT, ["N", 1, "H", "W"])],
                      {**weights, **more})
    tif = make_raster("img.tif", image)
    p, logits = ort_run(path, image[None].astype(np.float32) / 255)
    result = run_cli("predict", path, tif, "-o", tmp_path / "p.tif", "--activation", "none",
                     "--outputs", "p", "--dtype", "uint8", "--tile-size", 64)
    assert result.exit_code == 0, result.output
    assert "ignored" not in result.output
    with rasterio.open(tmp_path / "p.tif") as written:
        assert written.dtypes == ("uint8",)
        assert written.tags()["GEOTILE_OUTPUT"] == "probability"
        assert np.abs(written.read(1).astype(int) - np.rint(p[0, 0] * 255)).max() <= 1
    result = run_cli("predict", path, tif, "-o", tmp_path / "l.tif", "--activation", "none",
                     "--outputs", "logits", "--dtype", "uint8", "--tile-size", 64)
    assert result.exit_code == 0, result.output
    assert "--dtype uint8 ignored" in result.output
    with rasterio.open(tmp_path / "l.tif") as written:
        assert written.dtypes == ("float32",)
        np.testing.assert_allclose(written.read(1), logits[0, 0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("nodata", [None, -9999.0])
@pytest.mark.parametrize("resolution", ["1", "0.3"])  # averaged down, interpolated up
def test_inf_pixels_are_nodata_on_the_model_grid_as_nan_is(tmp_path, run_cli, make_raster,
                                                           resolution, nodata):
    """A float image with +inf and -inf pixels (a division by zero in an index) predicts,
    resampled to the model's resolution, as the same image with NaN there: nodata, as on the
    plain path, never averaged into the model cells around them (a ring of valid pixels came
    out NaN, 82 of 18,000 at 0.3 m on 0.5 m pixels)."""
    path = logits_model(tmp_path / "m.onnx")
    rows, cols = np.mgrid[0:120, 0:150]
    pixels = np.stack([0.5 + 0.4 * np.sin(cols / 23 + c) * np.cos(rows / 31 - c)
                       for c in range(3)]).astype(np.float32)
    gap = np.zeros((120, 150), bool)
    gap[40:60, 50:90] = gap[90:93, 20:130] = True
    with_inf, with_nan = pixels.copy(), pixels.copy()
    with_inf[:, 40:60, 50:90], with_inf[:, 90:93, 20:130] = np.inf, -np.inf
    with_inf[:, 10, 10], with_nan[:, 10, 10], gap[10, 10] = np.inf, np.nan, True
    with_nan[:, gap] = np.nan
    inf, expected = _at_model_resolution(run_cli, make_raster, tmp_path, path, resolution,
                                         nodata, {"inf": with_inf, "nan": with_nan})
    np.testing.assert_array_equal(np.isnan(expected), gap)
    np.testing.assert_array_equal(np.isnan(inf), gap)
    np.testing.assert_allclose(inf, expected, atol=1e-6)


def _at_model_resolution(run_cli, make_raster, tmp_path, model, resolution, nodata,
                         images: dict) -> list:
    """Band 1 of predict --model-resolution of each of ``images`` (name -> pixels, written
    with ``nodata``), in order."""
    outputs = []
    for name, values in images.items():
        tif = make_raster(f"{name}.tif", values, nodata=nodata)
        result = run_cli("predict", model, tif, "-o", tmp_path / f"{name}_p.tif", "--scale", "1",
                         "--model-resolution", resolution, "--tile-size", "64")
        assert result.exit_code == 0, result.output
        with rasterio.open(tmp_path / f"{name}_p.tif") as out:
            outputs.append(out.read(1))
    return outputs


# --- Hugging Face exports (Optimum): preprocessor_config.json and config.json beside them -----
HF_LABELS = ["wall", "building", "sky", "floor"]
HF_PROCESSOR = {"image_processor_type": "SegformerImageProcessor", "do_rescale": True,
                "rescale_factor": 0.00392156862745098, "do_normalize": True,
                "image_mean": UNIT_MEAN, "image_std": UNIT_STD, "do_resize": True,
                "size": {"height": 512, "width": 512}, "do_reduce_labels": False}
HF_CONFIG = {"model_type": "segformer", "architectures": ["SegformerForSemanticSegmentation"],
             "id2label": {str(i): name for i, name in enumerate(HF_LABELS)},
             "label2id": {name: i for i, name in enumerate(HF_LABELS)}, "num_labels": 4}


def optimum_folder(folder, processor=HF_PROCESSOR, config=HF_CONFIG, metadata=None,
                   channels=3):
    """What ``optimum-cli export onnx`` writes: model.onnx (input pixel_values, output logits,
    no metadata_props) with preprocessor_config.json and config.json beside it (a dict is
    written as JSON, a str as it is, None: no file)."""
    folder.mkdir(parents=True, exist_ok=True)
    conv, weights = conv1x1("pixel_values", "logits", channels, len(HF_LABELS), seed=9)
    path = save_graph(folder / "model.onnx", [conv], nchw_in("pixel_values", channels),
                      [("logits", FLOAT, ["batch_size", len(HF_LABELS), "height", "width"])],
                      weights, metadata=metadata)
    model = onnx.load(str(path))
    model.ir_version = 8  # Optimum's exports of older opsets
    onnx.save(model, str(path))
    for name, content in (("preprocessor_config.json", processor), ("config.json", config)):
        if content is not None:
            (folder / name).write_text(content if isinstance(content, str)
                                       else json.dumps(content))
    return path


def hf_reference(path, image, scale, mean, std):
    """ONNX Runtime on ((x * scale) - mean) / std, then softmax over the classes."""
    feed = ((image[np.newaxis].astype(np.float32) * np.float32(scale)
             - np.float32(mean).reshape(1, -1, 1, 1)) / np.float32(std).reshape(1, -1, 1, 1))
    return softmax(ort_run(path, feed)[0][0].astype(np.float64))


@pytest.mark.parametrize(("processor", "scale", "mean", "std"), [
    (HF_PROCESSOR, 1 / 255, UNIT_MEAN, UNIT_STD),
    # older exports: feature_extractor_type, no do_rescale (transformers rescales by 1/255)
    ({"feature_extractor_type": "SegformerFeatureExtractor", "do_normalize": True,
      "image_mean": UNIT_MEAN, "image_std": UNIT_STD, "size": 512}, 1 / 255, UNIT_MEAN,
     UNIT_STD),
    # a processor that does not rescale feeds 0..255 pixels; do_normalize false: no mean/std
    ({**HF_PROCESSOR, "do_rescale": False, "do_normalize": False}, 1.0, [0.0] * 3, [1.0] * 3),
    ({**HF_PROCESSOR, "do_rescale": False, "image_mean": MEAN_255, "image_std": STD_255},
     1.0, MEAN_255, STD_255),
    ({**HF_PROCESSOR, "rescale_factor": 1 / 127.5, "image_mean": [1.0] * 3,
      "image_std": [1.0] * 3}, 1 / 127.5, [1.0] * 3, [1.0] * 3),  # -1..1 inputs
])
def test_hugging_face_export_reads_its_preprocessor_and_config(
        tmp_path, run_cli, make_raster, image, processor, scale, mean, std):
    """An Optimum export of SegFormer: its preprocessor_config.json (ImageNet mean/std) and
    config.json (id2label) were ignored, so x / 255 went in unnormalised (probabilities
    silently wrong) and the bands were class_1..class_4; now both are read, and -v says
    from where."""
    path = optimum_folder(tmp_path / "segformer", processor=processor)
    tif = make_raster("img.tif", image)
    result = run_cli("-v", "predict", path, tif, "-o", tmp_path / "o.tif", "--dtype", "float32",
                     "--tile-size", "64")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "o.tif") as out:
        assert list(out.descriptions) == HF_LABELS
        np.testing.assert_allclose(out.read(), hf_reference(path, image, scale, mean, std),
                                   atol=1e-5)
    assert "config.json id2label" in result.stderr
    assert "preprocessor_config.json" in result.stderr


def test_hugging_face_rescale_of_8_bit_pixels_leaves_16_bit_images_unscaled(
        tmp_path, run_cli, make_raster):
    """transformers' rescale_factor 1/255 is for 8-bit pixels: a uint16 image (values to
    2000) was divided by 255 (inputs to 7.8 against the model's 0..1) without a word. It
    goes in as geotile takes 16-bit pixels without a declared scale: as they are, with the
    warning that asks for --scale."""
    path = optimum_folder(tmp_path / "segformer")
    pixels = np.random.default_rng(3).integers(0, 2000, (3, 32, 32)).astype(np.uint16)
    tif = make_raster("u16.tif", pixels)
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", "--tile-size", "32")
    assert result.exit_code == 0, result.output
    assert "--scale" in result.stderr
    with rasterio.open(tmp_path / "o.tif") as out:
        np.testing.assert_allclose(out.read(), hf_reference(path, pixels, 1.0, UNIT_MEAN,
                                                            UNIT_STD), atol=1e-5)
    result = run_cli("predict", path, tif, "-o", tmp_path / "s.tif", "--tile-size", "32",
                     "--scale", "0.0005")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "s.tif") as out:
        np.testing.assert_allclose(out.read(), hf_reference(path, pixels, 0.0005, UNIT_MEAN,
                                                            UNIT_STD), atol=1e-5)


@pytest.mark.parametrize("dtype", ["uint16", "float32"])
def test_pixels_left_unscaled_beside_a_hugging_face_rescale_name_it(tmp_path, run_cli,
                                                                    make_raster, dtype):
    """A float32 image of 0..255 values (or a uint16 one) beside a SegFormer export with
    preprocessor_config.json's rescale_factor 1/255 went in unscaled with a warning saying
    "the model declares none": it declares 1/255, which geotile takes for 8-bit pixels only.
    The warning names that file and key instead."""
    path = optimum_folder(tmp_path / "segformer")
    top = 255 if dtype == "float32" else 2000
    pixels = np.random.default_rng(3).integers(0, top, (3, 32, 32)).astype(dtype)
    tif = make_raster(f"{dtype}.tif", pixels)
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", "--tile-size", "32")
    assert result.exit_code == 0, result.output
    assert "--scale" in result.stderr
    assert "declares none" not in result.stderr, result.stderr
    assert "preprocessor_config.json rescale_factor" in result.stderr, result.stderr
    assert "for 8-bit pixels" in result.stderr, result.stderr


@pytest.mark.parametrize(("config", "names"), [
    ({"model_type": "segformer", "label2id": {n: i for i, n in enumerate(HF_LABELS)}},
     HF_LABELS),
    ({"architectures": ["SegformerForSemanticSegmentation"],
      "id2label": {"0": "wall", "1": "building", "2": "sky", "3": "floor"}}, HF_LABELS),
    # transformers' placeholders when nobody named the classes: not names, not read
    ({"model_type": "segformer", "id2label": {str(k): f"LABEL_{k}" for k in range(4)},
      "label2id": {f"LABEL_{k}": k for k in range(4)}}, [f"class_{k}" for k in range(1, 5)]),
])
def test_hugging_face_config_names_the_bands(tmp_path, config, names):
    path = optimum_folder(tmp_path / "m", config=config)
    model = OnnxModel.from_path(path)
    assert model.class_names == names
    pixels = np.full((1, 3, 1, 1), 255, np.uint8)  # the processor beside it is read all the same
    np.testing.assert_allclose(model.prepare(pixels)[0, :, 0, 0],
                               (1 - np.float32(UNIT_MEAN)) / np.float32(UNIT_STD), rtol=1e-5)


@pytest.mark.parametrize("metadata", [
    {"class_names": ["a", "b", "c", "d"]},
    {"standardization_mean": [0.5] * 3, "standardization_std": [0.25] * 3},
])
def test_onnx_metadata_wins_over_hugging_face_files(tmp_path, image, metadata):
    """What the metadata declares comes from it; the rest from the files beside it."""
    path = optimum_folder(tmp_path / "m", metadata=metadata)
    model = OnnxModel.from_path(path)
    named = "class_names" in metadata
    assert model.class_names == (["a", "b", "c", "d"] if named else HF_LABELS)
    mean, std = (UNIT_MEAN, UNIT_STD) if named else ([0.5] * 3, [0.25] * 3)
    out = predict_array(model, image, options=PredictOptions(tile_size=64))
    np.testing.assert_allclose(out, hf_reference(path, image, 1 / 255, mean, std), atol=1e-5)


@pytest.mark.parametrize(("options", "scale", "mean", "std"), [
    # --mean and --std replace the whole processor: the default scale, as without it
    ({"mean": [0.5] * 3, "std": [0.25] * 3}, 1 / 255, [0.5] * 3, [0.25] * 3),
    ({"scale": 1 / 1000}, 1 / 1000, UNIT_MEAN, UNIT_STD),
    ({"mean": [0.5] * 3}, 0.5, [0.5] * 3, UNIT_STD),  # the file's std and scale stay (warned)
])
def test_options_override_hugging_face_files(tmp_path, image, caplog, options, scale, mean,
                                             std):
    path = optimum_folder(tmp_path / "m", processor={**HF_PROCESSOR, "rescale_factor": 0.5})
    with caplog.at_level("WARNING", logger="geotile"):
        model = OnnxModel.from_path(path, **options)
    assert model.class_names == HF_LABELS  # config.json still names the bands
    out = predict_array(model, image, options=PredictOptions(tile_size=64))
    np.testing.assert_allclose(out, hf_reference(path, image, scale, mean, std), atol=1e-5)
    kept = "replaces preprocessor_config.json's mean, but preprocessor_config.json's std"
    assert (kept in caplog.text) == (list(options) == ["mean"]), caplog.text


def test_files_that_are_not_hugging_face_s_are_not_read(tmp_path, image):
    """A training run's config.json beside an HF processor, and a processor of another
    tool beside an HF config.json: only the HF one of each is read."""
    path = optimum_folder(tmp_path / "a", config={"name": "my run", "lr": 0.001,
                                                  "classes": ["a", "b", "c", "d"]})
    model = OnnxModel.from_path(path)
    assert model.class_names == [f"class_{k}" for k in range(1, 5)]
    out = predict_array(model, image, options=PredictOptions(tile_size=64))
    np.testing.assert_allclose(out, hf_reference(path, image, 1 / 255, UNIT_MEAN, UNIT_STD),
                               atol=1e-5)
    path = optimum_folder(tmp_path / "b", processor={"resize": 512, "mean": [9, 9, 9]})
    model = OnnxModel.from_path(path)
    assert model.class_names == HF_LABELS
    out = predict_array(model, image, options=PredictOptions(tile_size=64))
    np.testing.assert_allclose(out, hf_reference(path, image, 1 / 255, [0.0] * 3, [1.0] * 3),
                               atol=1e-5)


def test_without_hugging_face_files_in_its_folder_nothing_changes(tmp_path, image):
    """Guard (passes before too): none beside the model, HF's one folder up."""
    optimum_folder(tmp_path)
    path = optimum_folder(tmp_path / "sub", processor=None, config=None)
    model = OnnxModel.from_path(path)
    assert model.class_names == [f"class_{k}" for k in range(1, 5)]
    out = predict_array(model, image, options=PredictOptions(tile_size=64))
    np.testing.assert_allclose(out, hf_reference(path, image, 1 / 255, [0.0] * 3, [1.0] * 3),
                               atol=1e-5)


@pytest.mark.parametrize(("processor", "fragments"), [
    ('{"image_processor_type": "SegformerImageProcessor", "image_mean": [0.485,',
     ["preprocessor_config.json", "not valid JSON"]),
    ({**HF_PROCESSOR, "image_mean": [0.485, 0.456, 0.406, 0.5]},
     ["preprocessor_config.json", "image_mean", "4 values for 3 channels", "--mean"]),
    ({**HF_PROCESSOR, "image_std": "abc"}, ["preprocessor_config.json", "image_std", "--std"]),
    ({**HF_PROCESSOR, "rescale_factor": 0}, ["preprocessor_config.json", "rescale_factor",
                                             "--scale"]),
])
def test_a_bad_hugging_face_preprocessor_is_one_line(tmp_path, run_cli, make_raster, image,
                                                     processor, fragments):
    from .conftest import assert_one_line_error

    path = optimum_folder(tmp_path / "m", processor=processor)
    tif = make_raster("img.tif", image)
    assert_one_line_error(run_cli("predict", path, tif, "-o", tmp_path / "o.tif"), *fragments)
    assert not (tmp_path / "o.tif").exists()
    # the options it names replace it
    fix = ["--scale", "0.0039"] if "rescale_factor" in fragments else ["--mean", "0", "--std",
                                                                       "1"]
    fixed = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", *fix)
    assert fixed.exit_code == 0, fixed.output


MOBILEVIT_PROCESSOR = {"image_processor_type": "MobileViTImageProcessor", "do_rescale": True,
                       "rescale_factor": 0.00392156862745098, "do_flip_channel_order": True,
                       "do_resize": True, "size": {"shortest_edge": 512}}


@pytest.mark.parametrize(("processor", "mean", "std"), [
    (MOBILEVIT_PROCESSOR, [0.0] * 3, [1.0] * 3),
    # older exports: the feature extractor, whose default flips without saying so
    ({"feature_extractor_type": "MobileViTFeatureExtractor", "do_resize": True, "size": 288},
     [0.0] * 3, [1.0] * 3),
    # transformers 5 writes its image_mean/std 0.5 without do_normalize, whose default there
    # is None: it does not normalise (geotile fed 2x - 1: 72 % of pixels agreed)
    ({**MOBILEVIT_PROCESSOR, "image_mean": [0.5] * 3, "image_std": [0.5] * 3},
     [0.0] * 3, [1.0] * 3),
    # told to normalise, MobileViTImageProcessorFast does it after the flip: image_mean[0]
    # is the blue channel's
    ({**MOBILEVIT_PROCESSOR, "do_normalize": True, "image_mean": [0.1, 0.4, 0.7],
      "image_std": [0.2, 0.5, 0.9]}, [0.1, 0.4, 0.7], [0.2, 0.5, 0.9])])
def test_hugging_face_processor_flipping_channels_to_bgr_is_applied(
        tmp_path, run_cli, make_raster, image, processor, mean, std):
    """MobileViT's (and MobileViTV2's) image processor flips RGB to BGR before the model
    (do_flip_channel_order, its default): geotile only warned and asked for --bands 3,2,1, so
    a user who missed it got BGR-wrong probabilities with exit 0. Now the flip is applied as
    transformers does (rescale, flip, then its mean/std in the flipped order): an RGB image
    gives transformers' result as it is, and --bands 3,2,1 (the old advice) is warned of."""
    path = optimum_folder(tmp_path / "mobilevit", processor=processor)
    tif = make_raster("img.tif", image)
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", "--dtype", "float32",
                     "--tile-size", "64")
    assert result.exit_code == 0, result.output
    assert "--bands 3,2,1" not in result.stderr, result.stderr
    # numpy's own pipeline: x / 255, RGB -> BGR, minus mean, over std, the model, softmax
    rescaled = image.astype(np.float32) * np.float32(1 / 255)
    feed = (rescaled[::-1][np.newaxis] - np.float32(mean).reshape(1, -1, 1, 1)) \
        / np.float32(std).reshape(1, -1, 1, 1)
    expected = softmax(ort_run(path, np.ascontiguousarray(feed))[0][0].astype(np.float64))
    with rasterio.open(tmp_path / "o.tif") as out:
        got = out.read()
    np.testing.assert_allclose(got, expected, atol=1e-5)
    unflipped = hf_reference(path, image, 1 / 255, mean, std)
    assert np.abs(got - unflipped).max() > 1e-3  # the model tells the channels apart
    # --bands 3,2,1, as the old warning asked: one line says geotile flips now (the bands
    # given are still fed as asked, flipped once more)
    result = run_cli("predict", path, tif, "-o", tmp_path / "b.tif", "--dtype", "float32",
                     "--tile-size", "64", "--bands", "3,2,1")
    assert result.exit_code == 0, result.output
    said = [line for line in result.stderr.splitlines() if "--bands 3,2,1" in line]
    assert len(said) == 1 and "preprocessor_config.json" in said[0] \
        and "flip" in said[0] and "--bands 1,2,3" in said[0], result.stderr
    with rasterio.open(tmp_path / "b.tif") as out:
        np.testing.assert_allclose(out.read(), unflipped, atol=1e-5)
    # a processor that keeps RGB flips nothing and says nothing of it
    keeps = optimum_folder(tmp_path / "rgb", processor={**MOBILEVIT_PROCESSOR,
                                                        "do_flip_channel_order": False})
    result = run_cli("predict", keeps, tif, "-o", tmp_path / "k.tif", "--dtype", "float32",
                     "--tile-size", "64", "--bands", "3,2,1")
    assert result.exit_code == 0 and "flip" not in result.stderr, result.output
    with rasterio.open(tmp_path / "k.tif") as out:
        np.testing.assert_allclose(out.read(), hf_reference(keeps, image[::-1], 1 / 255,
                                                            [0.0] * 3, [1.0] * 3), atol=1e-5)


def test_mean_and_std_given_to_a_flipping_hugging_face_model_are_in_bands_order(
        tmp_path, run_cli, make_raster, image):
    """--bands picks red, green, blue for a model whose processor flips them, so --mean and
    --std given are in that order too (the processor's own image_mean/std, in the model's
    blue, green, red order, are reordered: see the test above)."""
    path = optimum_folder(tmp_path / "mobilevit", processor=MOBILEVIT_PROCESSOR)
    tif = make_raster("img.tif", image)
    mean, std = [0.1, 0.4, 0.7], [0.2, 0.5, 0.9]
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", "--dtype", "float32",
                     "--tile-size", "64", "--mean", "0.1,0.4,0.7", "--std", "0.2,0.5,0.9")
    assert result.exit_code == 0, result.output
    normalised = (image.astype(np.float32) * np.float32(1 / 255)
                  - np.float32(mean).reshape(-1, 1, 1)) / np.float32(std).reshape(-1, 1, 1)
    feed = np.ascontiguousarray(normalised[::-1][np.newaxis])
    with rasterio.open(tmp_path / "o.tif") as out:
        np.testing.assert_allclose(out.read(), softmax(ort_run(path, feed)[0][0].astype(
            np.float64)), atol=1e-5)


def test_hugging_face_channel_flip_of_other_than_3_channels_is_refused(
        tmp_path, run_cli, make_raster, image):
    """transformers' two MobileViT processors disagree beyond 3 channels (the fast one flips
    the first 3, the slow one reverses them all): a 4-channel model (RGBN, or RGB and an nDSM
    from --extra-bands) whose processor flips is refused, naming the file and the fix."""
    path = optimum_folder(tmp_path / "mobilevit", processor=MOBILEVIT_PROCESSOR, channels=4)
    rgbn = make_raster("rgbn.tif", np.concatenate([image, image[:1]]))
    rgb, ndsm = make_raster("rgb.tif", image), make_raster("ndsm.tif", image[:1])
    for args in ((rgbn,), (rgb, "--extra-bands", ndsm)):
        out = tmp_path / "o.tif"
        result = run_cli("predict", path, *args, "-o", out, "--tile-size", "64")
        assert result.exit_code == 1, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.output, result.output
        assert "preprocessor_config.json" in lines[0] and "4 channels" in lines[0] \
            and "do_flip_channel_order false" in lines[0], lines[0]
        assert not out.exists()


def quantized_hub_model(path, form):
    """An Optimum export's graph ([batch_size, num_channels, height, width] in, 1x1 logits
    out) quantised as onnxruntime does: ``dynamic`` (quantize_dynamic: DynamicQuantizeLinear
    into ConvInteger) or ``qdq`` (quantize_static: Quantize/DequantizeLinear pairs, the
    weights int8 behind a DequantizeLinear)."""
    weights = np.random.default_rng(17).integers(0, 256, (len(HF_LABELS), 3, 1, 1))
    if form == "dynamic":
        nodes = [helper.make_node("DynamicQuantizeLinear", ["pixel_values"],
                                  ["q", "q_scale", "q_zero"]),
                 helper.make_node("ConvInteger", ["q", "w", "q_zero", "w_zero"], ["acc"]),
                 helper.make_node("Cast", ["acc"], ["acc_f"], to=FLOAT),
                 helper.make_node("Mul", ["q_scale", "w_scale"], ["scale"]),
                 helper.make_node("Mul", ["acc_f", "scale"], ["logits"])]
        constants = {"w": weights.astype(np.uint8), "w_zero": np.uint8(128),
                     "w_scale": np.float32(0.01)}
    else:
        nodes = [helper.make_node("QuantizeLinear", ["pixel_values", "x_scale", "x_zero"],
                                  ["q"]),
                 helper.make_node("DequantizeLinear", ["q", "x_scale", "x_zero"], ["x"]),
                 helper.make_node("DequantizeLinear", ["w", "w_scale", "w_zero"], ["w_f"]),
                 helper.make_node("Conv", ["x", "w_f"], ["logits"])]
        constants = {"w": (weights - 128).astype(np.int8), "w_zero": np.int8(0),
                     "w_scale": np.float32(0.01), "x_scale": np.float32(0.02),
                     "x_zero": np.uint8(128)}
    return save_graph(path, nodes,
                      [("pixel_values", FLOAT, ["batch_size", "num_channels", "height", "width"])],
                      [("logits", FLOAT, ["batch_size", len(HF_LABELS), "height", "width"])],
                      constants)


@pytest.mark.parametrize("form", ["dynamic", "qdq"])
def test_a_quantized_hub_export_with_a_symbolic_channel_axis_runs(
        tmp_path, run_cli, make_raster, image, form):
    """transformers.js' onnx/model_quantized.onnx (onnxruntime's quantize_dynamic) of an
    Optimum export, whose input is [batch_size, num_channels, height, width], or one
    quantize_static made (QDQ): its channels were not found behind the quantisation, so the
    preprocessor's 3 means were refused as '3 values for 1 channels' (a SegFormer snapshot,
    exit 1). The quantised convolution's weights tell them: it runs, normalised as
    transformers does."""
    folder = tmp_path / "hub"
    (folder / "onnx").mkdir(parents=True)
    path = quantized_hub_model(folder / "onnx" / "model_quantized.onnx", form)
    for name, content in (("preprocessor_config.json", HF_PROCESSOR), ("config.json", HF_CONFIG)):
        (folder / name).write_text(json.dumps(content))
    tif = make_raster("img.tif", image)
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", "--dtype", "float32",
                     "--tile-size", "64")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "o.tif") as out:
        assert list(out.descriptions) == HF_LABELS
        np.testing.assert_allclose(out.read(), hf_reference(path, image, 1 / 255, UNIT_MEAN,
                                                            UNIT_STD), atol=1e-5)


def test_a_dynamically_quantized_model_gives_each_window_its_own_range(tmp_path, run_cli,
                                                                       make_raster):
    """quantize_dynamic's DynamicQuantizeLinear takes one range for its whole input: windows
    run in one batch shared it, so a window's classes depended on its neighbours in the batch
    (a quantized SegFormer: 1.7 % of pixels changed between --batch-size 1 and 8, exit 0
    both). Each window now runs alone, as transformers.js runs an image: the result is the
    same whatever the batch size, and equal to ONNX Runtime on each window."""
    path = quantized_hub_model(tmp_path / "model_quantized.onnx", "dynamic")
    pixels = np.random.default_rng(5).integers(0, 40, (3, 64, 128)).astype(np.uint8)
    pixels[:, :, 64:] *= 6  # a dark window beside a bright one: other ranges
    tif = make_raster("img.tif", pixels)
    written = []
    for batch in (1, 2):
        out = tmp_path / f"b{batch}.tif"
        result = run_cli("predict", path, tif, "-o", out, "--dtype", "float32", "--tile-size",
                         "64", "--overlap", "0", "--batch-size", batch, "--mean", "0.5",
                         "--std", "0.25")
        assert result.exit_code == 0, result.output
        with rasterio.open(out) as raster:
            written.append(raster.read())
    np.testing.assert_allclose(written[1], written[0], atol=1e-6)
    for left in (0, 64):
        window = pixels[:, :, left:left + 64]
        np.testing.assert_allclose(written[0][:, :, left:left + 64], hf_reference(
            path, window, 1 / 255, [0.5] * 3, [0.25] * 3), atol=1e-5)


@pytest.mark.parametrize("config", ['{"model_type": "segformer", "id2label": {"0": "wa',
                                    {"model_type": "segformer", "id2label": [[1], [2]]}])
def test_a_bad_hugging_face_config_is_warned_and_not_read(tmp_path, caplog, config):
    """As for metadata class names: a warning naming the file, the bands named by number."""
    path = optimum_folder(tmp_path / "m", config=config)
    with caplog.at_level("WARNING", logger="geotile"):
        model = OnnxModel.from_path(path)
    assert model.class_names == [f"class_{k}" for k in range(1, 5)]
    assert "config.json" in caplog.text


def test_predict_help_and_readme_name_the_hugging_face_files(run_cli):
    from pathlib import Path

    text = " ".join(run_cli("predict", "--help").output.split())
    assert "preprocessor_config.json and config.json beside it" in text
    readme = (Path(__file__).parents[1] / "examples" / "README.md").read_text()
    assert "optimum-cli export onnx" in readme and "id2label" in readme


@pytest.mark.parametrize("edit", ["processor", "config", "neither"])
def test_resume_redoes_outputs_of_other_hugging_face_files(tmp_path, run_cli, make_raster,
                                                           image, edit):
    """--resume took an output as complete when preprocessor_config.json or config.json
    had changed since (image_std 0.229 -> 0.5: probabilities up to 0.31 off; other class
    names): only the model file entered the digest. The files read are inputs too."""
    path = optimum_folder(tmp_path / "m")
    tif = make_raster("img.tif", image)
    args = ("predict", path, tif, "-o", tmp_path / "o.tif", "--dtype", "float32",
            "--tile-size", "64")
    assert run_cli(*args).exit_code == 0
    if edit == "processor":  # the model file as it was
        (path.parent / "preprocessor_config.json").write_text(
            json.dumps({**HF_PROCESSOR, "image_std": [0.5] * 3}))
    elif edit == "config":
        (path.parent / "config.json").write_text(json.dumps(
            {**HF_CONFIG, "id2label": {"0": "a", "1": "b", "2": "c", "3": "d"}}))
    result = run_cli(*args, "--resume")
    assert result.exit_code == 0, result.output
    assert ("skipped" in result.output) == (edit == "neither"), result.output
    with rasterio.open(tmp_path / "o.tif") as out:
        std = [0.5] * 3 if edit == "processor" else UNIT_STD
        assert list(out.descriptions) == (list("abcd") if edit == "config" else HF_LABELS)
        np.testing.assert_allclose(out.read(), hf_reference(path, image, 1 / 255, UNIT_MEAN,
                                                            std), atol=1e-5)


def test_resume_redoes_an_output_written_without_the_channel_flip(tmp_path, run_cli,
                                                                 make_raster, image,
                                                                 monkeypatch):
    """An output of a MobileViT export written before geotile applied its processor's
    do_flip_channel_order (RGB fed as it was) had the same completion digest as one written
    with the flip (its mean/std, files and options unchanged), so --resume skipped the
    BGR-wrong file; the flip is part of the digest now."""
    import geotile.hf_sidecars as hf

    path = optimum_folder(tmp_path / "m", processor=MOBILEVIT_PROCESSOR)
    tif = make_raster("img.tif", image)
    args = ("predict", path, tif, "-o", tmp_path / "o.tif", "--dtype", "float32",
            "--tile-size", "64")
    with monkeypatch.context() as patch:
        patch.setattr(hf, "hf_channel_flip", lambda model_path: None)  # as geotile did
        assert run_cli(*args).exit_code == 0
    result = run_cli(*args, "--resume")
    assert result.exit_code == 0 and "skipped" not in result.output, result.output
    with rasterio.open(tmp_path / "o.tif") as out:
        np.testing.assert_allclose(out.read(), hf_reference(path, image[::-1], 1 / 255,
                                                            [0.0] * 3, [1.0] * 3), atol=1e-5)
    assert "skipped" in run_cli(*args, "--resume").output  # flipped both times: complete


def test_dask_workers_load_the_model_again_for_other_hugging_face_files(tmp_path, image,
                                                                        monkeypatch):
    """A dask worker keeps its model between commands, found again by the model file's
    identity only: after preprocessor_config.json was fixed (image_std 0.229 -> 0.5) a
    running cluster's workers still normalised by the old one, and kept config.json's old
    class names. The files beside it are part of that identity now."""
    from geotile import distributed as gd

    monkeypatch.setattr(gd, "_MODELS", {})
    path = optimum_folder(tmp_path / "m")
    options = {"providers": "cpu", "threads": 1}
    first = gd._worker_model(str(path), options)
    assert gd._worker_model(str(path), options) is first  # unchanged: the same session
    (path.parent / "preprocessor_config.json").write_text(
        json.dumps({**HF_PROCESSOR, "image_std": [0.5] * 3}))
    (path.parent / "config.json").write_text(json.dumps(
        {**HF_CONFIG, "id2label": {"0": "a", "1": "b", "2": "c", "3": "d"}}))
    model = gd._worker_model(str(path), options)
    assert model.class_names == list("abcd") and len(gd._MODELS) == 1
    out = predict_array(model, image, options=PredictOptions(tile_size=64))
    np.testing.assert_allclose(out, hf_reference(path, image, 1 / 255, UNIT_MEAN, [0.5] * 3),
                               atol=1e-5)


def test_a_model_in_an_onnx_folder_reads_the_files_at_the_repository_root(tmp_path, image):
    """A Hub repository laid out for transformers.js (Xenova/segformer-...: onnx/model.onnx,
    onnx/model_quantized.onnx, config.json and preprocessor_config.json at its root) ran
    unnormalised with bands class_1..class_4: the files are read from the folder above
    'onnx' when none are beside the model; a folder of another name is not climbed."""
    path = optimum_folder(tmp_path / "repo" / "onnx")
    for name in ("preprocessor_config.json", "config.json"):
        (path.parent / name).rename(tmp_path / "repo" / name)
    model = OnnxModel.from_path(path)
    assert model.class_names == HF_LABELS
    out = predict_array(model, image, options=PredictOptions(tile_size=64))
    np.testing.assert_allclose(out, hf_reference(path, image, 1 / 255, UNIT_MEAN, UNIT_STD),
                               atol=1e-5)
    assert model.sidecars == {"names": tmp_path / "repo" / "config.json",
                              "normalization": tmp_path / "repo" / "preprocessor_config.json"}
    (tmp_path / "repo" / "onnx").rename(tmp_path / "repo" / "exports")
    model = OnnxModel.from_path(tmp_path / "repo" / "exports" / "model.onnx")
    assert model.class_names != HF_LABELS and not model.sidecars


def test_files_above_an_onnx_folder_are_named_as_such_by_v(tmp_path, caplog):
    """A user's own model in a folder named onnx takes the Hugging Face files of the folder
    above (83a21af): -v said 'class names from config.json id2label beside it' and
    'mean [...] (preprocessor_config.json image_mean)', hiding that they came from another
    folder (an unrelated model's at a project's root would name and normalise it unseen).
    -v names the folder above."""
    path = optimum_folder(tmp_path / "repo" / "onnx")
    for name in ("preprocessor_config.json", "config.json"):
        (path.parent / name).rename(tmp_path / "repo" / name)
    with caplog.at_level("INFO", logger="geotile"):
        OnnxModel.from_path(path)
    said = caplog.text
    assert "beside it" not in said
    assert f"{tmp_path / 'repo' / 'config.json'} id2label" in said
    assert f"preprocessor_config.json read in {tmp_path / 'repo'}" in said


def test_a_model_linked_from_another_folder_reads_the_files_beside_its_file(tmp_path, image):
    """models/segformer.onnx -> exports/segformer/model.onnx: the link's folder holds no
    Hugging Face files, so the export ran unnormalised (x / 255, mean 0) with bands
    class_1..class_4. Without them beside the link, those beside the file it links to are
    read; a folder of links that holds them (the Hub's cache: snapshots/<rev>/ links into
    blobs/) is read first."""
    path = optimum_folder(tmp_path / "exports" / "segformer")
    (tmp_path / "models").mkdir()
    link = tmp_path / "models" / "segformer.onnx"
    link.symlink_to(path)
    model = OnnxModel.from_path(link)
    assert model.class_names == HF_LABELS
    out = predict_array(model, image, options=PredictOptions(tile_size=64))
    np.testing.assert_allclose(out, hf_reference(path, image, 1 / 255, UNIT_MEAN, UNIT_STD),
                               atol=1e-5)
    # the Hub's cache: the snapshot's files are links too, into blobs/ named by hash
    blobs, snapshot = tmp_path / "hub" / "blobs", tmp_path / "hub" / "snapshots" / "rev"
    blobs.mkdir(parents=True)
    snapshot.mkdir(parents=True)
    for name in ("model.onnx", "preprocessor_config.json", "config.json"):
        (blobs / f"{name}.blob").write_bytes((path.parent / name).read_bytes())
        (snapshot / name).symlink_to(blobs / f"{name}.blob")
    model = OnnxModel.from_path(snapshot / "model.onnx")
    assert model.class_names == HF_LABELS
    assert model.sidecars == {"names": snapshot / "config.json",
                              "normalization": snapshot / "preprocessor_config.json"}


# --- other Hugging Face architectures: UperNet, BEiT/DPT/MobileViT, Mask2Former, depth ------
def hf_export(folder, nodes, outputs, weights, config=None, processor=HF_PROCESSOR):
    """An Optimum export of ``nodes`` (input pixel_values [batch_size, 3, height, width],
    ``outputs`` (name, type, shape)) beside preprocessor_config.json and config.json
    (HF_CONFIG updated by ``config``), IR 8 as Optimum writes them."""
    folder.mkdir(parents=True, exist_ok=True)
    path = save_graph(folder / "model.onnx", nodes,
                      [("pixel_values", FLOAT, ["batch_size", 3, "height", "width"])], outputs,
                      weights)
    model = onnx.load(str(path))
    model.ir_version = 8
    onnx.save(model, str(path))
    (folder / "preprocessor_config.json").write_text(json.dumps(processor))
    (folder / "config.json").write_text(json.dumps({**HF_CONFIG, **(config or {})}))
    return path


def hf_feed(image):
    """The image as transformers' processor feeds it: x / 255, ImageNet mean/std."""
    return ((image[np.newaxis].astype(np.float32) / np.float32(255)
             - np.float32(UNIT_MEAN).reshape(1, -1, 1, 1))
            / np.float32(UNIT_STD).reshape(1, -1, 1, 1))


UPERNET = {"model_type": "upernet", "architectures": ["UperNetForSemanticSegmentation"],
           "use_auxiliary_head": True}


@pytest.mark.parametrize("names", [("seg", "aux_edges"), ("mask", "aux"),
                                   ("out", "auxiliary"), ("main", "Aux_Roads"),
                                   ("out", "aux", "edges")])
def test_outputs_named_aux_by_others_are_all_written(tmp_path, run_cli, make_raster, image,
                                                     names):
    """Every output is written by default (RoadNet-style side outputs): 06667e6 left out any
    output with the word aux in its name ('aux_edges' beside 'seg': 1 band of 2, exit 0);
    only torchvision's out/aux and transformers' logits/auxiliary_logits pairs are known
    training heads, when they are the model's only outputs (out, aux and edges: all three,
    as before 06667e6)."""
    heads = [conv1x1("input", name, 3, 1, seed=80 + k, prefix=f"h{k}")
             for k, name in enumerate(names)]
    path = save_graph(tmp_path / "m.onnx", [h[0] for h in heads], nchw_in(),
                      [(n, FLOAT, ["N", 1, "H", "W"]) for n in names],
                      {k: v for h in heads for k, v in h[1].items()})
    tif = make_raster("img.tif", image)
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", "--tile-size", "64")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "o.tif") as out:
        assert list(out.descriptions) == list(names)
    help_text = " ".join(run_cli("predict", "--help").output.split())
    assert "are the only outputs" in help_text


@pytest.mark.parametrize("order", [("logits", "auxiliary_logits"),
                                   ("auxiliary_logits", "logits")])
def test_an_auxiliary_head_beside_the_logits_is_left_out(tmp_path, run_cli, make_raster, image,
                                                         order):
    """UperNet (ConvNeXt/Swin) exported with its auxiliary head: logits and auxiliary_logits,
    both [batch, 4, height, width], gave 8 bands logits_1..4, auxiliary_logits_1..4 (the
    id2label names fit both, so neither got them) and --output-type class took the argmax
    over both heads. As torchvision's aux: the main head alone, named from id2label;
    --outputs still writes both."""
    heads = {"logits": conv1x1("pixel_values", "logits", 3, 4, seed=31, prefix="a"),
             "auxiliary_logits": conv1x1("pixel_values", "auxiliary_logits", 3, 4, seed=32,
                                         prefix="b")}
    path = hf_export(tmp_path / "upernet", [heads[n][0] for n in order],
                     [(n, FLOAT, ["batch_size", 4, "height", "width"]) for n in order],
                     {**heads["logits"][1], **heads["auxiliary_logits"][1]}, UPERNET)
    tif = make_raster("img.tif", image)
    result = run_cli("-v", "predict", path, tif, "-o", tmp_path / "o.tif", "--dtype",
                     "float32", "--tile-size", "64")
    assert result.exit_code == 0, result.output
    assert "auxiliary_logits" in result.stderr  # -v says what was left out
    expected = softmax(ort_run(path, hf_feed(image))[order.index("logits")][0]
                       .astype(np.float64))
    with rasterio.open(tmp_path / "o.tif") as out:
        assert list(out.descriptions) == HF_LABELS
        np.testing.assert_allclose(out.read(), expected, atol=1e-5)
    result = run_cli("predict", path, tif, "-o", tmp_path / "c.tif", "--output-type", "class",
                     "--tile-size", "64")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "c.tif") as out:
        np.testing.assert_array_equal(out.read(1), expected.argmax(axis=0))
    both = OnnxModel.from_path(path, outputs="logits,auxiliary_logits")
    assert both.num_classes == 8


def test_an_output_whose_classes_the_metadata_names_is_no_auxiliary_head(tmp_path):
    """A Deepness two-output model whose metadata names the classes of each output (one
    dict per output), the second output named aux_water: since 06667e6 it was left out as
    an auxiliary head (2 bands background, building instead of 4). An output the metadata
    names the classes of is the model's: all 4 bands, as Deepness writes them."""
    first, w1 = conv1x1("input", "l1", 3, 2, seed=1, prefix="a")
    second, w2 = conv1x1("input", "l2", 3, 2, seed=2, prefix="b")
    path = save_graph(
        tmp_path / "two.onnx",
        [first, second, helper.make_node("Softmax", ["l1"], ["buildings"], axis=1),
         helper.make_node("Softmax", ["l2"], ["aux_water"], axis=1)],
        [("input", FLOAT, ["N", 3, "H", "W"])],
        [("buildings", FLOAT, ["N", 2, "H", "W"]), ("aux_water", FLOAT, ["N", 2, "H", "W"])],
        {**w1, **w2}, metadata={"model_type": "Segmentor", "class_names": [
            {"0": "background", "1": "building"}, {"0": "land", "1": "water"}]})
    model = OnnxModel.from_path(path, tile_size=64)
    assert model.class_names == ["background", "building", "land", "water"]


MASK2FORMER = {"model_type": "mask2former",
               "architectures": ["Mask2FormerForUniversalSegmentation"], "num_queries": 6}


def mask2former_export(folder, names=("class_queries_logits", "masks_queries_logits"),
                       queries="num_queries", config=MASK2FORMER, queries_count=6):
    """A mask classification export: class queries [batch, Q, K+1] (constant here, as if
    from learnt queries) and mask queries [batch, Q, height/4, width/4] (a 1x1 conv behind a
    4x4 AveragePool), outputs ``names``; Q declared as ``queries`` (a name or a number)."""
    classes = len(HF_LABELS) + 1
    rng = np.random.default_rng(41)
    conv, weights = conv1x1("pooled", names[1], 3, queries_count, seed=42)
    weights["c_W"] *= 3
    nodes = [helper.make_node("Shape", ["pixel_values"], ["shape"]),
             helper.make_node("Slice", ["shape", "zero", "one"], ["batch"]),
             helper.make_node("Concat", ["batch", "tail"], ["target"], axis=0),
             helper.make_node("Expand", ["queries", "target"], [names[0]]),
             helper.make_node("AveragePool", ["pixel_values"], ["pooled"], kernel_shape=[4, 4],
                              strides=[4, 4]), conv]
    weights.update({"zero": np.array([0], np.int64), "one": np.array([1], np.int64),
                    "tail": np.array([queries_count, classes], np.int64),
                    "queries": rng.normal(0, 2, (1, queries_count, classes)).astype(np.float32)})
    return hf_export(folder, nodes, [(names[0], FLOAT, ["batch_size", queries, classes]),
                                     (names[1], FLOAT, ["batch_size", queries, "h", "w"])],
                     weights, config)


def mask_classification_reference(path, image, folder):
    """transformers' post_process_semantic_segmentation on the whole image: softmax of the
    class queries without "no object", sigmoid of the masks, summed over the queries,
    upsampled bilinearly (half-pixel) to the image; with its per-pixel shares of the sum."""
    classes, masks = (r.astype(np.float64) for r in ort_run(path, hf_feed(image)))
    probs = softmax(classes[0].T).T[:, :-1]  # [Q, K]
    segmentation = np.einsum("qc,qhw->chw", probs, 1 / (1 + np.exp(-masks[0])))
    upsampled = resize_reference(segmentation[np.newaxis], 4, folder)[0].astype(np.float64)
    return upsampled.argmax(axis=0), upsampled / upsampled.sum(axis=0)


@pytest.mark.parametrize(("names", "queries"), [
    (("class_queries_logits", "masks_queries_logits"), "num_queries"),
    (("pred_logits", "pred_masks"), 6),  # other names: told by their shapes
    (("pred_logits", "pred_masks"), "num_queries"),  # ... found by the probe
])
def test_a_mask_classification_export_gives_the_classes_of_its_queries(
        tmp_path, run_cli, make_raster, names, queries):
    """Mask2Former (MaskFormer, OneFormer) has no per-pixel class logits: class queries
    [batch, 6, 5] (4 classes and 'no object') and 6 masks at 1/4. It was refused with the
    advice '--outputs masks_queries_logits', which wrote 6 'classes' that were the softmax
    over the queries. Now the two are combined per window as transformers does: 4 bands
    named from id2label, their argmax the reference's."""
    path = mask2former_export(tmp_path / "m2f", names, queries)
    pixels = np.random.default_rng(43).integers(0, 256, (3, 96, 128), dtype=np.uint8)
    tif = make_raster("img.tif", pixels)
    ids, shares = mask_classification_reference(path, pixels, tmp_path)
    result = run_cli("-v", "predict", path, tif, "-o", tmp_path / "p.tif", "--dtype", "float32",
                     "--tile-size", "64", "--overlap", "16")
    assert result.exit_code == 0, result.output
    assert "mask classification" in result.stderr
    with rasterio.open(tmp_path / "p.tif") as out:
        assert list(out.descriptions) == HF_LABELS
        assert out.tags()["GEOTILE_BANDS"] == "exclusive"
        np.testing.assert_allclose(out.read(), shares, atol=1e-5)
    result = run_cli("predict", path, tif, "-o", tmp_path / "c.tif", "--output-type", "class",
                     "--tile-size", "64", "--overlap", "16")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "c.tif") as out:
        np.testing.assert_array_equal(out.read(1), ids)
    from .conftest import assert_one_line_error

    assert_one_line_error(run_cli("predict", path, tif, "-o", tmp_path / "s.tif", "--activation",
                                  "sigmoid"), "class and mask queries", "--activation")


def test_a_mask_classification_export_whose_k_plus_1_is_the_masks_height_is_paired(
        tmp_path, run_cli, make_raster):
    """A Mask2Former of other output names exported at a fixed 20 px: pred_logits [1, 6, 5]
    (4 classes and 'no object') beside pred_masks [1, 6, 5, 5], K + 1 = 5 being the masks'
    height (Cityscapes' 20 at 80 px, LoveDA's 8 at 32 px). 3c55087 took them for two maps
    and refused the model advising '--outputs pred_masks', which writes a softmax over the
    queries. Square masks of the window are queries: combined, 4 bands named from id2label."""
    path = mask2former_export(tmp_path / "m2f", ("pred_logits", "pred_masks"), 6)
    model = onnx.load(str(path))
    shapes = [(1, 3, 20, 20), (1, 6, 5), (1, 6, 5, 5)]
    for value, shape in zip([*model.graph.input, *model.graph.output], shapes, strict=True):
        for dim, size in zip(value.type.tensor_type.shape.dim, shape, strict=True):
            dim.Clear()
            dim.dim_value = size
    onnx.save(model, str(path))
    assert OnnxModel.from_path(path).outputs[0].class_queries == "pred_logits"
    pixels = np.random.default_rng(43).integers(0, 256, (3, 40, 40), dtype=np.uint8)
    result = run_cli("predict", path, make_raster("img.tif", pixels), "-o", tmp_path / "p.tif")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "p.tif") as out:
        assert list(out.descriptions) == HF_LABELS


@pytest.mark.parametrize("names", [("dets", "labels", "masks"), ("dets", "masks")])
def test_an_instance_segmentation_export_with_masks_per_detection_is_refused(
        tmp_path, run_cli, make_raster, image, names):
    """MMDeploy's Mask R-CNN (mmdet) export: dets [1, 100, 5] (box and score), labels
    [1, 100] and one mask per detection [1, 100, h, w]. bbc24f8 took dets and masks for a
    mask classification model's queries: with --outputs masks, as its message advised, it
    wrote 4 bands of a softmax over box coordinates, exit 0. It is refused as an instance
    segmentation model, in one line, with or without --outputs; nothing written."""
    from onnx import TensorProto

    from .conftest import assert_one_line_error

    conv, weights = conv1x1("input", "c", 3, 100, seed=71)
    nodes = [conv,
             helper.make_node("AveragePool", ["c"], ["masks"], kernel_shape=[4, 4],
                              strides=[4, 4]),
             helper.make_node("ReduceMean", ["c"], ["m"], axes=[2, 3], keepdims=0),
             helper.make_node("Unsqueeze", ["m", "axis"], ["m3"]),
             helper.make_node("Tile", ["m3", "reps"], ["dets"])]
    outputs = [("dets", FLOAT, [1, 100, 5]), ("masks", FLOAT, [1, 100, "h", "w"])]
    if "labels" in names:
        nodes.append(helper.make_node("Cast", ["m"], ["labels"], to=TensorProto.INT64))
        outputs.insert(1, ("labels", TensorProto.INT64, [1, 100]))
    path = save_graph(tmp_path / "end2end.onnx", nodes, [("input", FLOAT, [1, 3, "H", "W"])],
                      outputs, {**weights, "axis": np.array([2], np.int64),
                                "reps": np.array([1, 1, 5], np.int64)})
    tif = make_raster("img.tif", image)
    for extra in ((), ("--outputs", "masks")):
        result = run_cli("predict", path, tif, "-o", tmp_path / "p.tif", "--tile-size", "64",
                         *extra)
        assert_one_line_error(result, "instance segmentation")
        assert not (tmp_path / "p.tif").exists()


@pytest.mark.parametrize("names", [("boxes",), ("seg", "bboxes")])
def test_a_per_pixel_map_named_as_boxes_is_no_instance_segmentation(tmp_path, make_raster,
                                                                   run_cli, image, names):
    """A model whose one output 'boxes' [N, 4, H, W] (a map of box classes) or whose second
    output 'bboxes' [N, 4, H, W] (per-pixel box offsets) beside seg is a per-pixel map of the
    window, no list of detections: c18ea06 refused both as instance segmentation models
    ('detections boxes and per-detection masks boxes', exit 1; 4 or 6 bands before).
    Detections are a list ([N, Q, 5], [Q, 4]): a 4-D output so named is written."""
    nodes, weights, outputs = [], {}, []
    for i, (name, classes) in enumerate(zip(names, (4,) if len(names) == 1 else (2, 4),
                                            strict=True)):
        conv, w = conv1x1("input", name, 3, classes, seed=81 + i, prefix=f"p{i}")
        nodes.append(conv)
        weights.update(w)
        outputs.append((name, FLOAT, ["N", classes, "H", "W"]))
    path = save_graph(tmp_path / "m.onnx", nodes, [("input", FLOAT, ["N", 3, "H", "W"])],
                      outputs, weights)
    tif = make_raster("img.tif", image)
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", "--tile-size", "64",
                     "--activation", "none", "--dtype", "float32")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "o.tif") as out:
        np.testing.assert_allclose(out.read(), np.concatenate(
            [r[0] for r in whole(path, image)]), atol=1e-4)


def test_a_depth_estimation_export_writes_its_raw_depth(tmp_path, run_cli, make_raster, image):
    """DPTForDepthEstimation / GLPN / Depth Anything: predicted_depth [batch, height, width],
    no channel axis. It was taken for a binary model's logits: a sigmoid squeezed the depths
    (0.3..9 here) into 0.57..0.9999, written as probabilities of a band class_1 (exit 0).
    Now it is one band of the model's raw values, float32, named predicted_depth, tagged raw."""
    conv, weights = conv1x1("pixel_values", "depth", 3, 1, seed=51)
    weights["c_B"] += 5
    nodes = [conv, helper.make_node("Squeeze", ["depth", "axis"], ["predicted_depth"])]
    path = hf_export(tmp_path / "dpt", nodes,
                     [("predicted_depth", FLOAT, ["batch_size", "height", "width"])],
                     {**weights, "axis": np.array([1], np.int64)},
                     {"model_type": "dpt", "architectures": ["DPTForDepthEstimation"],
                      "id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0}})
    tif = make_raster("img.tif", image)
    result = run_cli("-v", "predict", path, tif, "-o", tmp_path / "d.tif", "--tile-size", "64")
    assert result.exit_code == 0, result.output
    assert "depth" in result.stderr
    expected = ort_run(path, hf_feed(image))[0]
    with rasterio.open(tmp_path / "d.tif") as out:
        assert out.count == 1 and out.dtypes[0] == "float32"
        assert list(out.descriptions) == ["predicted_depth"]
        assert out.tags()["GEOTILE_OUTPUT"] == "raw"
        np.testing.assert_allclose(out.read(), expected, atol=1e-4)
    # --activation none given: the same band name (was class_1)
    result = run_cli("predict", path, tif, "-o", tmp_path / "n.tif", "--tile-size", "64",
                     "--activation", "none")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "n.tif") as out:
        assert list(out.descriptions) == ["predicted_depth"]
    # classes and polygons of a depth: refused without advising a sigmoid (which 0fbacb0
    # took away), naming what the output is
    from .conftest import assert_one_line_error

    result = run_cli("predict", path, tif, "-o", tmp_path / "c.tif", "--tile-size", "64",
                     "--output-type", "class")
    assert_one_line_error(result, "depth")
    assert "sigmoid" not in result.output and not (tmp_path / "c.tif").exists()
    result = run_cli("vectorize", tmp_path / "d.tif", "-o", tmp_path / "d.gpkg")
    assert_one_line_error(result, "depth")
    assert "sigmoid" not in result.output and not (tmp_path / "d.gpkg").exists()


def strided_encoder(path, output, size=None, channels=16, factor=16):
    """A feature extractor alike: a strided Conv, [N, 3, H, W] -> ``output`` [N, 16, H/16,
    W/16] (SAM's image encoder: image_embeddings at 1/16; a backbone's last_hidden_state)."""
    weights = np.random.default_rng(91).normal(0, 0.05, (channels, 3, factor, factor))
    node = helper.make_node("Conv", ["input", "W", "B"], [output],
                            kernel_shape=[factor, factor], strides=[factor, factor])
    shape_in = [1, 3, size, size] if size else ["N", 3, "H", "W"]
    shape_out = [1, channels, size // factor, size // factor] if size else [
        "N", channels, "h", "w"]
    return save_graph(path, [node], [("input", FLOAT, shape_in)],
                      [(output, FLOAT, shape_out)],
                      {"W": weights.astype(np.float32),
                       "B": np.linspace(-1, 1, channels).astype(np.float32)})


@pytest.mark.parametrize("output, size", [("image_embeddings", 64),
                                          ("last_hidden_state", None),
                                          ("Feature_Maps", None), ("out", 64)])
def test_a_feature_extractor_writes_its_raw_features(tmp_path, run_cli, make_raster, output,
                                                     size):
    """SAM's image encoder (image_embeddings [1, 256, 64, 64]), a backbone's
    last_hidden_state or feature maps: predict wrote a softmax over the embedding channels,
    256 bands named class_1..class_256 of meaningless probabilities that vectorize and
    evaluate read as 256 classes (exit 0). Now, told by the output's name alone, the raw
    values as float32 (upsampled as any 1/16 output), bands named <output>_k, tagged raw;
    classes, polygons and scores of them are refused in one line. An output named 'out' is
    as before: a softmax, class_k."""
    from .conftest import assert_one_line_error

    path = strided_encoder(tmp_path / "encoder.onnx", output, size)
    pixels = np.random.default_rng(92).integers(0, 256, (3, 64, 64), dtype=np.uint8)
    tif = make_raster("img.tif", pixels)
    result = run_cli("-v", "predict", path, tif, "-o", tmp_path / "f.tif", "--tile-size", "64")
    assert result.exit_code == 0, result.output
    coarse = whole(path, pixels)[0]
    expected = resize_reference(coarse, 16, tmp_path)[0]
    with rasterio.open(tmp_path / "f.tif") as out:
        assert out.count == 16
        if output == "out":
            assert list(out.descriptions) == [f"class_{k}" for k in range(1, 17)]
            assert out.tags()["GEOTILE_OUTPUT"] == "probability"
            np.testing.assert_allclose(out.read(), softmax(expected.astype(np.float64)),
                                       atol=1e-2)
            return
        assert "features" in result.stderr
        assert out.dtypes[0] == "float32"
        assert list(out.descriptions) == [f"{output}_{k}" for k in range(1, 17)]
        assert out.tags()["GEOTILE_OUTPUT"] == "raw"
        np.testing.assert_allclose(out.read(), expected, atol=1e-5)
    result = run_cli("predict", path, tif, "-o", tmp_path / "c.tif", "--tile-size", "64",
                     "--output-type", "class")
    assert_one_line_error(result, output, "features")
    assert not (tmp_path / "c.tif").exists()
    result = run_cli("vectorize", tmp_path / "f.tif", "-o", tmp_path / "f.gpkg")
    assert_one_line_error(result, "features")
    assert not (tmp_path / "f.gpkg").exists()
    truth = make_raster("truth.tif", (pixels[:1] > 128).astype(np.uint8))
    result = run_cli("evaluate", tmp_path / "f.tif", truth)
    assert_one_line_error(result, "features")
    result = run_cli("vectorize", tmp_path / "f.tif", "-o", tmp_path / "t.gpkg",
                     "--threshold", "0.5")
    assert_one_line_error(result, "features")


@pytest.mark.parametrize("names", [("high_res_feats_0", "high_res_feats_1", "image_embed"),
                                   ("image_features_0", "image_features_1",
                                    "image_embeddings")])
def test_a_sam2_encoders_outputs_picked_are_raw_features(tmp_path, run_cli, make_raster,
                                                         names):
    """SAM2's image encoder (samexporter's high_res_feats_0/1 and image_embed, ONNX
    Runtime's export image_features_0/1 and image_embeddings: 1/4, 1/8, 1/16): all three are
    refused as of different sizes, and --outputs image_embed, as the refusal advises,
    wrote a softmax over its 16 embedding channels as class_1..16 probabilities (exit 0).
    Each is a feature extractor's output: raw values, float32, tagged raw."""
    weights, nodes, outputs = {}, [], []
    for k, (name, factor) in enumerate(zip(names, (4, 8, 16), strict=True)):
        weights[f"W{k}"] = np.random.default_rng(96 + k).normal(
            0, 0.05, (16, 3, factor, factor)).astype(np.float32)
        nodes.append(helper.make_node("Conv", ["image", f"W{k}"], [name],
                                      kernel_shape=[factor, factor], strides=[factor, factor]))
        outputs.append((name, FLOAT, [1, 16, 64 // factor, 64 // factor]))
    path = save_graph(tmp_path / "sam2_encoder.onnx", nodes, [("image", FLOAT, [1, 3, 64, 64])],
                      outputs, weights, ir_version=10)
    pixels = np.random.default_rng(99).integers(0, 256, (3, 64, 64), dtype=np.uint8)
    tif = make_raster("img.tif", pixels)
    for name, factor, coarse in zip(names, (4, 8, 16), whole(path, pixels), strict=True):
        out = tmp_path / f"{name}.tif"
        result = run_cli("predict", path, tif, "-o", out, "--outputs", name)
        assert result.exit_code == 0, result.output
        with rasterio.open(out) as written:
            assert written.tags()["GEOTILE_OUTPUT"] == "raw" and written.dtypes[0] == "float32"
            assert list(written.descriptions) == [f"{name}_{k}" for k in range(1, 17)]
            np.testing.assert_allclose(written.read(),
                                       resize_reference(coarse, factor, tmp_path)[0],
                                       atol=1e-5)


@pytest.mark.parametrize("inputs", [
    # segment-anything's exported mask decoder (scripts/export_onnx_model.py)
    [("image_embeddings", [1, 256, 64, 64]), ("point_coords", [1, "num_points", 2]),
     ("point_labels", [1, "num_points"]), ("mask_input", [1, 1, 256, 256]),
     ("has_mask_input", [1]), ("orig_im_size", [2])],
    # EfficientSAM: the image with its point prompts in one graph
    [("batched_images", [1, 3, "H", "W"]), ("batched_point_coords", [1, 1, "P", 2]),
     ("batched_point_labels", [1, 1, "P"])],
    # transformers' SamModel: pixel_values with input_boxes
    [("pixel_values", [1, 3, 1024, 1024]), ("input_boxes", [1, "B", 4])]])
def test_a_promptable_sam_model_is_refused_as_one(tmp_path, run_cli, make_raster, inputs):
    """A Segment Anything mask decoder, or a SAM model taking the image with its prompts, was
    refused as "'point_coords' is no image batch ... Re-export it with that input as a
    constant": a fixed point in every window, whose mask follows that point, not the image's
    classes. Refused as a model of prompts, naming them."""
    from .conftest import assert_one_line_error

    first = inputs[0][0]
    nodes = [helper.make_node("ReduceMean", [first], ["masks"], axes=[1], keepdims=1)]
    path = save_graph(tmp_path / "sam.onnx", nodes, [(n, FLOAT, s) for n, s in inputs],
                      [("masks", FLOAT, None)], ir_version=10)
    tif = make_raster("img.tif", np.zeros((3, 64, 64), np.uint8))
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif")
    prompts = [n for n, _ in inputs if n not in (first, "orig_im_size")]
    assert_one_line_error(result, "sam.onnx", "prompts", *prompts)
    assert "as a constant" not in result.stderr
    assert not (tmp_path / "o.tif").exists()


def test_features_picked_with_outputs_are_raw_and_beside_logits_unchanged(tmp_path, run_cli,
                                                                         make_raster):
    """A model giving logits and last_hidden_state: as before (a feature name among others
    decides nothing); --outputs last_hidden_state: its raw features."""
    conv, weights = conv1x1("input", "logits", 3, 2, seed=93)
    hidden, more = conv1x1("input", "last_hidden_state", 3, 4, seed=94, prefix="h")
    path = save_graph(tmp_path / "m.onnx", [conv, hidden], nchw_in(),
                      [("logits", FLOAT, ["N", 2, "H", "W"]),
                       ("last_hidden_state", FLOAT, ["N", 4, "H", "W"])], {**weights, **more})
    pixels = np.random.default_rng(95).integers(0, 256, (3, 64, 64), dtype=np.uint8)
    tif = make_raster("img.tif", pixels)
    result = run_cli("predict", path, tif, "-o", tmp_path / "a.tif", "--tile-size", "64")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "a.tif") as out:
        assert out.tags()["GEOTILE_OUTPUT"] == "probability"
    result = run_cli("predict", path, tif, "-o", tmp_path / "h.tif", "--tile-size", "64",
                     "--outputs", "last_hidden_state")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "h.tif") as out:
        assert out.tags()["GEOTILE_OUTPUT"] == "raw" and out.dtypes[0] == "float32"
        assert list(out.descriptions) == [f"last_hidden_state_{k}" for k in range(1, 5)]
        np.testing.assert_allclose(out.read(), whole(path, pixels)[1][0], atol=1e-5)


def test_class_scores_named_features_go_through_with_an_activation(tmp_path, run_cli,
                                                                   make_raster):
    """A segmentation model whose one output a user named 'features' (class scores): with
    --activation softmax (as the -v line says overrides) its bands were still named
    features_1..3 and --output-type class refused ('leave out --output-type class'), no way
    through; now --activation softmax makes them class scores: class_k, classes written."""
    from .conftest import assert_one_line_error

    conv, weights = conv1x1("input", "features", 3, 3, seed=96)
    path = save_graph(tmp_path / "m.onnx", [conv], nchw_in(),
                      [("features", FLOAT, ["N", 3, "H", "W"])], weights)
    pixels = np.random.default_rng(97).integers(0, 256, (3, 64, 64), dtype=np.uint8)
    tif = make_raster("img.tif", pixels)
    result = run_cli("predict", path, tif, "-o", tmp_path / "c.tif", "--tile-size", "64",
                     "--output-type", "class")
    assert_one_line_error(result, "features", "--activation softmax")
    result = run_cli("predict", path, tif, "-o", tmp_path / "c.tif", "--tile-size", "64",
                     "--output-type", "class", "--activation", "softmax")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "c.tif") as out:
        np.testing.assert_array_equal(out.read(1), whole(path, pixels)[0][0].argmax(0))
    result = run_cli("predict", path, tif, "-o", tmp_path / "p.tif", "--tile-size", "64",
                     "--activation", "softmax")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "p.tif") as out:
        assert list(out.descriptions) == ["class_1", "class_2", "class_3"]
    result = run_cli("vectorize", tmp_path / "p.tif", "-o", tmp_path / "p.gpkg")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("factor", [16, 32])
def test_mobilevit_logits_at_1_16_and_1_32_are_upsampled_and_odd_sizes_told_the_multiple(
        tmp_path, run_cli, make_raster, factor):
    """MobileViT's logits at 1/16 or 1/32 (ceil_mode, as its strided convs pad): exact against
    the whole image's logits upsampled as transformers does; at --tile-size 200 the output of
    ceil(200 / 32) = 7 cells was read as a downscale by 29 ('try --tile-size 203', which runs
    no better): the factor is the model's, and the size offered a multiple of it."""
    conv, weights = conv1x1("pooled", "logits", 3, 4, seed=61)
    nodes = [helper.make_node("AveragePool", ["pixel_values"], ["pooled"], ceil_mode=1,
                              kernel_shape=[factor, factor], strides=[factor, factor]), conv]
    path = hf_export(tmp_path / "mobilevit", nodes,
                     [("logits", FLOAT, ["batch_size", 4, "h", "w"])], weights,
                     {"model_type": "mobilevit",
                      "architectures": ["MobileViTForSemanticSegmentation"]})
    pixels = np.random.default_rng(62).integers(0, 256, (3, 4 * factor, 3 * factor), np.uint8)
    out = predict_array(OnnxModel.from_path(path), pixels,
                        options=PredictOptions(tile_size=2 * factor, overlap=factor))
    expected = softmax(resize_reference(ort_run(path, hf_feed(pixels))[0], factor,
                                        tmp_path)[0].astype(np.float64))
    np.testing.assert_allclose(out, expected, atol=1e-5)
    from .conftest import assert_one_line_error

    tif = make_raster("img.tif", pixels)
    target = round(200 / factor) * factor
    assert_one_line_error(run_cli("predict", path, tif, "-o", tmp_path / "o.tif",
                                  "--tile-size", "200"),
                          f"downscales by {factor}", f"--tile-size {target}")
    assert run_cli("predict", path, tif, "-o", tmp_path / "o.tif", "--tile-size",
                   str(target)).exit_code == 0


# --- MMDeploy exports (OpenMMLab's mmseg): pipeline.json, detail.json beside end2end.onnx ---
LOVEDA = ["background", "building", "road", "water", "barren", "forest", "agricultural"]
MMSEG_NORMALIZE = {"type": "Normalize", "mean": MEAN_255, "std": STD_255, "to_rgb": True}


def mmdeploy_pipeline(normalize=MMSEG_NORMALIZE, with_argmax=False, nested=False):
    """MMDeploy's pipeline.json for an mmseg model: its Normalize (mmseg 0.x's img_norm_cfg,
    or 1.x's data_preprocessor as MMDeploy writes it: to_rgb = bgr_to_rgb), inside
    MultiScaleFlipAug's transforms when ``nested``."""
    transforms = [{"type": "Resize", "keep_ratio": True, "size": [2048, 512]},
                  *([normalize] if normalize else []),
                  {"type": "ImageToTensor", "keys": ["img"]},
                  {"type": "Collect", "keys": ["img"], "meta_keys": ["img_shape"]}]
    if nested:
        transforms = [{"type": "MultiScaleFlipAug", "img_scale": [2048, 512], "flip": False,
                       "transforms": transforms}]
    return {"pipeline": {"input": ["img"], "output": ["post_output"], "tasks": [
        {"type": "Task", "module": "Transform", "name": "Preprocess", "input": ["img"],
         "output": ["prep_output"], "transforms": [{"type": "LoadImageFromFile"}, *transforms]},
        {"name": "segmentor", "type": "Task", "module": "Net", "is_batched": False,
         "input": ["prep_output"], "output": ["infer_output"], "input_map": {"img": "input"},
         "output_map": {}},
        {"type": "Task", "module": "mmseg", "name": "postprocess", "component": "ResizeMask",
         "params": {"type": "FCNHead", "num_classes": len(LOVEDA), "with_argmax": with_argmax},
         "input": ["prep_output", "infer_output"], "output": ["post_output"]}]}}


def mmdeploy_folder(folder, *, with_argmax=False, pipeline=None, detail_extra=None,
                    net="end2end.onnx", channels=3):
    """What ``tools/deploy.py configs/mmseg/segmentation_onnxruntime_dynamic.py`` writes:
    end2end.onnx (input 'input', output 'output': class ids [batch, 1, height, width] int64
    by an ArgMax, MMDeploy's default, else logits [batch, 7, height, width]), deploy.json,
    pipeline.json and detail.json."""
    folder.mkdir(parents=True, exist_ok=True)
    conv, weights = conv1x1("input", "logits" if with_argmax else "output", channels,
                            len(LOVEDA), seed=96)
    nodes = [conv]
    if with_argmax:
        nodes.append(helper.make_node("ArgMax", ["logits"], ["output"], axis=1, keepdims=1))
        output = ("output", onnx.TensorProto.INT64, ["batch", 1, "height", "width"])
    else:
        output = ("output", FLOAT, ["batch", len(LOVEDA), "height", "width"])
    path = save_graph(folder / net, nodes,
                      [("input", FLOAT, ["batch", channels, "height", "width"])],
                      [output], weights)
    model = onnx.load(str(path))
    model.ir_version = 8
    onnx.save(model, str(path))
    files = {
        "deploy.json": {"version": "1.3.1", "task": "Segmentation", "models": [
            {"name": "fcn", "net": net, "weights": "", "backend": "onnxruntime",
             "precision": "FP32", "batch_size": 1, "dynamic_shape": True}], "customs": []},
        "pipeline.json": pipeline or mmdeploy_pipeline(with_argmax=with_argmax),
        "detail.json": {"version": "1.3.1", "codebase": {
            "task": "Segmentation", "codebase": "mmseg", "version": "1.2.2",
            "pth": "fcn_loveda.pth", "config": "fcn_loveda.py"},
            "codebase_config": {"type": "mmseg", "task": "Segmentation",
                                "with_argmax": with_argmax},
            "onnx_config": {"type": "onnx", "export_params": True, "opset_version": 11,
                            "save_file": net, "input_names": ["input"],
                            "output_names": ["output"], "input_shape": None},
            "backend_config": {"type": "onnxruntime"}, **(detail_extra or {})}}
    for name, content in files.items():
        (folder / name).write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def mmseg_reference(path, image, mean=MEAN_255, std=STD_255, bgr=False):
    """mmseg's inference: 0..255 pixels (BGR first when ``bgr``) minus mean, over std, then
    the softmax of the logits."""
    pixels = image[::-1] if bgr else image
    feed = ((pixels[np.newaxis].astype(np.float32) - np.float32(mean).reshape(1, -1, 1, 1))
            / np.float32(std).reshape(1, -1, 1, 1))
    return softmax(ort_run(path, feed)[0][0].astype(np.float64))


@pytest.mark.parametrize("pipeline", [
    mmdeploy_pipeline(),  # mmseg 1.x's data_preprocessor, as MMDeploy writes it
    mmdeploy_pipeline(nested=True),  # mmseg 0.x's test pipeline: MultiScaleFlipAug
])
def test_mmdeploy_export_reads_its_pipeline_normalize(tmp_path, run_cli, make_raster, image,
                                                      pipeline):
    """An mmseg model (LoveDA, 7 classes) exported by MMDeploy with_argmax=False: its
    pipeline.json Normalize (ImageNet's mean/std of 0..255 pixels) was ignored, so x / 255
    went in unnormalised: probabilities up to 0.8 off, the argmax agreeing on 44 % of
    pixels (exit 0). Now it is read, -v naming the file."""
    path = mmdeploy_folder(tmp_path / "work", pipeline=pipeline)
    tif = make_raster("img.tif", image)
    result = run_cli("-v", "predict", path, tif, "-o", tmp_path / "o.tif", "--dtype", "float32",
                     "--tile-size", "64")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "o.tif") as out:
        np.testing.assert_allclose(out.read(), mmseg_reference(path, image), atol=1e-5)
    assert "pipeline.json Normalize" in result.stderr, result.stderr


@pytest.mark.parametrize("key", ["to_rgb", "bgr_to_rgb"])
def test_mmdeploy_normalize_of_bgr_pixels_is_applied(tmp_path, run_cli, make_raster, image,
                                                     key):
    """to_rgb false (mmseg 0.x's img_norm_cfg; 1.x's bgr_to_rgb false): the model takes the
    channels as cv2 loads them, B,G,R, with the mean/std in that order. geotile only warned
    and asked for --bands 3,2,1, so a user who missed it got BGR-wrong probabilities with
    exit 0. Now an RGB image is flipped to B,G,R before the model, through the same flip as
    a Hugging Face processor's, and gives mmseg's result; --bands 3,2,1 (the old advice) is
    warned of in one line."""
    normalize = {key: value for key, value in MMSEG_NORMALIZE.items() if key != "to_rgb"}
    pipeline = mmdeploy_pipeline({**normalize, "mean": MEAN_255[::-1], "std": STD_255[::-1],
                                  key: False})
    path = mmdeploy_folder(tmp_path / "work", pipeline=pipeline)
    tif = make_raster("img.tif", image)
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", "--dtype", "float32",
                     "--tile-size", "64")
    assert result.exit_code == 0, result.output
    assert "--bands 3,2,1" not in result.stderr, result.stderr
    expected, unflipped = _assert_fed_bgr(path, image, tmp_path / "o.tif")
    result = run_cli("predict", path, tif, "-o", tmp_path / "b.tif", "--dtype", "float32",
                     "--tile-size", "64", "--bands", "3,2,1")
    assert result.exit_code == 0, result.output
    said = [line for line in result.stderr.splitlines() if "--bands 3,2,1" in line]
    assert len(said) == 1 and "pipeline.json" in said[0] and "--bands 1,2,3" in said[0], \
        result.stderr
    with rasterio.open(tmp_path / "b.tif") as out:
        np.testing.assert_allclose(out.read(), unflipped, atol=1e-5)
    # --mean/--std given are in --bands order (R,G,B), and the model still takes B,G,R
    result = run_cli("predict", path, tif, "-o", tmp_path / "m.tif", "--dtype", "float32",
                     "--tile-size", "64", "--mean", ",".join(map(str, MEAN_255)),
                     "--std", ",".join(map(str, STD_255)))
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "m.tif") as out:
        np.testing.assert_allclose(out.read(), expected, atol=1e-5)


def test_metadata_saying_rgb_overrides_mmdeploy_s_to_rgb_false(tmp_path, run_cli,
                                                               make_raster, image):
    """The model's metadata overrides the files beside it: its img_norm_cfg to_rgb true
    (mean/std in R,G,B order) over a pipeline.json saying to_rgb false was flipped anyway,
    its mean/std reversed too (probabilities >1e-3 off mmseg's, exit 0)."""
    pipeline = mmdeploy_pipeline({**MMSEG_NORMALIZE, "mean": MEAN_255[::-1],
                                  "std": STD_255[::-1], "to_rgb": False})
    path = mmdeploy_folder(tmp_path / "work", pipeline=pipeline)
    model = onnx.load(str(path))
    onnx.helper.set_model_props(model, {"img_norm_cfg": json.dumps(
        {"mean": MEAN_255, "std": STD_255, "to_rgb": True})})
    onnx.save(model, str(path))
    tif = make_raster("img.tif", image)
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", "--dtype", "float32",
                     "--tile-size", "64")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "o.tif") as out:
        np.testing.assert_allclose(out.read(), mmseg_reference(path, image), atol=1e-5)


def test_mmdeploy_bgr_model_of_other_than_3_channels_is_refused(tmp_path, run_cli,
                                                                make_raster, image):
    """mmseg converts BGR only of 3-channel images: a 4-channel model whose Normalize says
    to_rgb false (RGBN, or RGB and an nDSM) cannot be flipped as it was trained; refused in
    one line naming the file and the fix, nothing written."""
    pipeline = mmdeploy_pipeline({**MMSEG_NORMALIZE, "mean": [*MEAN_255[::-1], 0],
                                  "std": [*STD_255[::-1], 1], "to_rgb": False})
    path = mmdeploy_folder(tmp_path / "work", pipeline=pipeline, channels=4)
    rgbn = make_raster("rgbn.tif", np.concatenate([image, image[:1]]))
    out = tmp_path / "o.tif"
    result = run_cli("predict", path, rgbn, "-o", out, "--tile-size", "64")
    assert_one_line_error(result, "pipeline.json", "4 channels", "to_rgb")
    assert not out.exists()


def test_resume_redoes_an_output_written_without_the_mmdeploy_bgr_flip(tmp_path, run_cli,
                                                                      make_raster, image,
                                                                      monkeypatch):
    """An output of a to_rgb-false MMDeploy export written unflipped (as geotile did) is
    redone by --resume: the flip is part of the completion digest."""
    import geotile.mmdeploy_sidecars as mmdeploy

    pipeline = mmdeploy_pipeline({**MMSEG_NORMALIZE, "mean": MEAN_255[::-1],
                                  "std": STD_255[::-1], "to_rgb": False})
    path = mmdeploy_folder(tmp_path / "work", pipeline=pipeline)
    tif = make_raster("img.tif", image)
    args = ("predict", path, tif, "-o", tmp_path / "o.tif", "--dtype", "float32",
            "--tile-size", "64")
    with monkeypatch.context() as patch:
        patch.setattr(mmdeploy, "mmdeploy_channel_flip", lambda model_path: None)
        assert run_cli(*args).exit_code == 0
    result = run_cli(*args, "--resume")
    assert result.exit_code == 0 and "skipped" not in result.output, result.output
    with rasterio.open(tmp_path / "o.tif") as out:
        np.testing.assert_allclose(out.read(), mmseg_reference(
            path, image, MEAN_255[::-1], STD_255[::-1], bgr=True), atol=1e-5)
    assert "skipped" in run_cli(*args, "--resume").output


def test_mmdeploy_normalize_without_a_mean_feeds_0_255_pixels(tmp_path, image):
    """mmseg 1.x without a mean in its data_preprocessor: MMDeploy writes Normalize mean 0,
    std 1, and mmseg feeds 0..255 pixels; geotile divided uint8 by 255 first."""
    pipeline = mmdeploy_pipeline({**MMSEG_NORMALIZE, "mean": [0, 0, 0], "std": [1, 1, 1]})
    path = mmdeploy_folder(tmp_path / "work", pipeline=pipeline)
    out = predict_array(OnnxModel.from_path(path), image, options=PredictOptions(tile_size=64))
    np.testing.assert_allclose(out, mmseg_reference(path, image, [0.0] * 3, [1.0] * 3),
                               atol=1e-5)


@pytest.mark.parametrize("normalize", [{"mean": [0, 0, 0], "std": [1, 1, 1]},
                                       {"mean": [0.5] * 3, "std": [0.5] * 3}])
def test_mmdeploy_normalize_of_0_255_pixels_warns_of_16_bit_and_0_1_images(
        tmp_path, run_cli, make_raster, normalize):
    """A Normalize of mean 0, std 1 (or 0.5/0.5) is for mmcv's 0..255 pixels: it was taken
    as --scale 1 for every image, so a uint16 image (values to 10200) or 0..1 floats went
    in as they are without a word, where a 0..255 mean warns of both. Now they are warned
    of as for that mean (uint8 still goes in as 0..255)."""
    pipeline = mmdeploy_pipeline({**MMSEG_NORMALIZE, **normalize})
    path = mmdeploy_folder(tmp_path / "work", pipeline=pipeline)
    pixels = np.random.default_rng(3).integers(0, 10200, (3, 32, 32)).astype(np.uint16)
    for name, array, advice in (("u16.tif", pixels, "--scale"),
                                ("f.tif", (pixels / 10200).astype(np.float32),
                                 "--scale 255")):
        result = run_cli("predict", path, make_raster(name, array), "-o", tmp_path / f"o{name}",
                         "--tile-size", "32")
        assert result.exit_code == 0, result.output
        assert advice in result.stderr and "0..255" in result.stderr, result.stderr
    image = pixels.astype(np.uint8)
    out = predict_array(OnnxModel.from_path(path), image, options=PredictOptions(tile_size=32))
    np.testing.assert_allclose(out, mmseg_reference(path, image, normalize["mean"],
                                                    normalize["std"]), atol=1e-5)


def test_options_and_metadata_override_mmdeploy_files(tmp_path, image, caplog):
    path = mmdeploy_folder(tmp_path / "work")
    model = OnnxModel.from_path(path, mean=[100.0] * 3, std=[50.0] * 3)
    out = predict_array(model, image, options=PredictOptions(tile_size=64))
    np.testing.assert_allclose(out, mmseg_reference(path, image, [100.0] * 3, [50.0] * 3),
                               atol=1e-5)
    with caplog.at_level("WARNING", logger="geotile"):  # --mean alone: the file's std stays
        model = OnnxModel.from_path(path, mean=[100.0] * 3)
    out = predict_array(model, image, options=PredictOptions(tile_size=64))
    np.testing.assert_allclose(out, mmseg_reference(path, image, [100.0] * 3, STD_255),
                               atol=1e-5)
    assert "replaces pipeline.json's mean, but pipeline.json's std" in caplog.text
    onnx_model = onnx.load(str(path))
    entry = onnx_model.metadata_props.add()
    entry.key, entry.value = "img_norm_cfg", json.dumps({"mean": [90] * 3, "std": [40] * 3})
    onnx.save(onnx_model, str(path))
    out = predict_array(OnnxModel.from_path(path), image, options=PredictOptions(tile_size=64))
    np.testing.assert_allclose(out, mmseg_reference(path, image, [90.0] * 3, [40.0] * 3),
                               atol=1e-5)


def test_files_that_are_not_this_mmdeploy_model_s_are_not_read(tmp_path, image):
    """A pipeline.json of another tool, and an MMDeploy folder whose deploy.json names
    another model file beside it: not read (x / 255 as without them)."""
    path = mmdeploy_folder(tmp_path / "a", pipeline={"steps": [MMSEG_NORMALIZE]})
    out = predict_array(OnnxModel.from_path(path), image, options=PredictOptions(tile_size=64))
    np.testing.assert_allclose(out, hf_reference(path, image, 1 / 255, [0.0] * 3, [1.0] * 3),
                               atol=1e-5)
    other = mmdeploy_folder(tmp_path / "b", net="other.onnx")
    mine = tmp_path / "b" / "mine.onnx"
    mine.write_bytes(other.read_bytes())
    model = OnnxModel.from_path(mine)
    assert not model.sidecars
    out = predict_array(model, image, options=PredictOptions(tile_size=64))
    np.testing.assert_allclose(out, hf_reference(mine, image, 1 / 255, [0.0] * 3, [1.0] * 3),
                               atol=1e-5)
    # a model renamed after the export (the one deploy.json names gone) is the one meant
    other.unlink()
    model = OnnxModel.from_path(mine)
    assert model.sidecars == {"normalization": tmp_path / "b" / "pipeline.json"}


@pytest.mark.parametrize("detail", [
    {"created": "2024-05-01", "classes": ["note one", "note two", "note three"]},
    {"data": {"test": {"classes": ["t1", "t2", "t3"]}}},
    {"metainfo": {"classes": ["a", "b", "c"]}},
])
def test_a_detail_json_of_another_tool_names_no_bands(tmp_path, run_cli, make_raster, image,
                                                      detail):
    """A detail.json that is not MMDeploy's (no codebase, codebase_config or onnx_config)
    beside a user's model with a classes list: 9605ecc named the 3 bands from it ('note
    one', 'note two', 'note three' instead of class_1..class_3, exit 0). It is not read."""
    from .onnx_models import pointwise_model

    (tmp_path / "m").mkdir()
    path = pointwise_model(tmp_path / "m" / "model.onnx", classes=3, activation="softmax")
    (tmp_path / "m" / "detail.json").write_text(json.dumps(detail))
    model = OnnxModel.from_path(path)
    assert model.class_names == ["class_1", "class_2", "class_3"]
    assert not model.sidecars
    tif = make_raster("img.tif", image)
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", "--tile-size", "64")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "o.tif") as out:
        assert list(out.descriptions) == ["class_1", "class_2", "class_3"]


@pytest.mark.parametrize("name", ["end2end_fp16.onnx", "end2end.quant.onnx",
                                  "end2end-int8.onnx"])
def test_an_fp16_or_quantized_copy_beside_the_mmdeploy_export_reads_its_files(tmp_path, image,
                                                                            name):
    """MMDeploy's onnxruntime-fp16 backend (or the user's quantisation) writes
    end2end_fp16.onnx beside end2end.onnx, which deploy.json names: its pipeline.json was
    taken for another model's, so the copy ran unnormalised on x / 255 (exit 0). A file
    named as the export with a suffix is that export; mine.onnx stays another model."""
    path = mmdeploy_folder(tmp_path / "work", detail_extra={
        "model_cfg": {"metainfo": {"classes": LOVEDA}}})
    copy = path.parent / name
    copy.write_bytes(path.read_bytes())
    model = OnnxModel.from_path(copy)
    assert model.sidecars == {"normalization": path.parent / "pipeline.json",
                              "names": path.parent / "detail.json"}
    assert model.class_names == LOVEDA
    out = predict_array(model, image, options=PredictOptions(tile_size=64))
    np.testing.assert_allclose(out, mmseg_reference(copy, image), atol=1e-5)
    other = path.parent / "end2end2.onnx"
    other.write_bytes(path.read_bytes())
    assert not OnnxModel.from_path(other).sidecars


def _bad_sidecar_is_one_line(run_cli, make_raster, image, tmp_path, path, name):
    """predict of ``path`` beside a broken ``name``: one line naming it and --mean; --mean
    and --std, which replace what it would give, run."""
    from .conftest import assert_one_line_error

    tif = make_raster("img.tif", image)
    assert_one_line_error(run_cli("predict", path, tif, "-o", tmp_path / "o.tif"), name,
                          "--mean")
    fixed = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", "--mean", "0", "--std", "1")
    assert fixed.exit_code == 0, fixed.output


def _resume_redoes(run_cli, make_raster, image, tmp_path, path, edited, rewrite, reference):
    """predict --resume of ``path`` after ``rewrite()`` changed its exporter's file
    (``edited``) redoes the output, else finds it done; the output is ``reference()``."""
    tif = make_raster("img.tif", image)
    args = ("predict", path, tif, "-o", tmp_path / "o.tif", "--dtype", "float32",
            "--tile-size", "64")
    assert run_cli(*args).exit_code == 0
    if edited:
        rewrite()
    result = run_cli(*args, "--resume")
    assert result.exit_code == 0, result.output
    assert ("skipped" in result.output) == (not edited), result.output
    with rasterio.open(tmp_path / "o.tif") as out:
        np.testing.assert_allclose(out.read(), reference(), atol=1e-5)


@pytest.mark.parametrize("pipeline", ['{"pipeline": {"tasks": [{"type": "Task", "trans',
                                      mmdeploy_pipeline({**MMSEG_NORMALIZE,
                                                         "mean": [1.0, 2.0]})])
def test_a_bad_mmdeploy_pipeline_is_one_line(tmp_path, run_cli, make_raster, image, pipeline):
    path = mmdeploy_folder(tmp_path / "work", pipeline=pipeline)
    _bad_sidecar_is_one_line(run_cli, make_raster, image, tmp_path, path, "pipeline.json")


@pytest.mark.parametrize("edit", ["pipeline", "neither"])
def test_resume_redoes_outputs_of_another_mmdeploy_pipeline(tmp_path, run_cli, make_raster,
                                                            image, edit):
    path = mmdeploy_folder(tmp_path / "work")
    std = [64.0] * 3 if edit == "pipeline" else STD_255
    _resume_redoes(run_cli, make_raster, image, tmp_path, path, edit == "pipeline",
                   lambda: (path.parent / "pipeline.json").write_text(json.dumps(
                       mmdeploy_pipeline({**MMSEG_NORMALIZE, "std": std}))),
                   lambda: mmseg_reference(path, image, MEAN_255, std))


def test_dask_workers_load_the_model_again_for_another_mmdeploy_pipeline(tmp_path, image,
                                                                         monkeypatch):
    from geotile import distributed as gd

    monkeypatch.setattr(gd, "_MODELS", {})
    path = mmdeploy_folder(tmp_path / "work")
    options = {"providers": "cpu", "threads": 1}
    first = gd._worker_model(str(path), options)
    assert gd._worker_model(str(path), options) is first
    (path.parent / "pipeline.json").write_text(json.dumps(
        mmdeploy_pipeline({**MMSEG_NORMALIZE, "std": [64.0] * 3})))
    model = gd._worker_model(str(path), options)
    assert model is not first and len(gd._MODELS) == 1
    out = predict_array(model, image, options=PredictOptions(tile_size=64))
    np.testing.assert_allclose(out, mmseg_reference(path, image, MEAN_255, [64.0] * 3),
                               atol=1e-5)


def test_predict_help_and_readme_name_mmdeploy_s_files(run_cli):
    from pathlib import Path

    text = " ".join(run_cli("predict", "--help").output.split())
    assert "MMDeploy's pipeline.json beside it" in text and "--bands 3,2,1" not in text
    assert "in B,G,R order when to_rgb is false: R,G,B flipped to B,G,R" in text
    assert "(class names) detail.json" in text
    readme = (Path(__file__).parents[1] / "examples" / "README.md").read_text()
    assert "tools/deploy.py" in readme and "with_argmax=False" in readme
    # without --dump-info tools/deploy.py writes no pipeline.json nor detail.json
    assert "--work-dir work --dump-info" in readme
    assert "give `--bands 3,2,1` for an RGB image" not in readme  # geotile flips now


@pytest.mark.parametrize("detail_extra", [
    # mmseg 1.x's config copied in: the test dataset's metainfo
    {"model_cfg": {"test_dataloader": {"dataset": {"type": "LoveDADataset",
                                                   "metainfo": {"classes": LOVEDA}}}}},
    {"model_cfg": {"metainfo": {"classes": LOVEDA, "palette": [[0, 0, 0]] * 7}}},
    {"model_cfg": {"data": {"test": {"type": "LoveDADataset", "classes": LOVEDA}}}},  # 0.x
])
def test_mmdeploy_detail_json_names_the_bands(tmp_path, run_cli, make_raster, image,
                                              detail_extra):
    """The model config MMDeploy copied into detail.json names LoveDA's 7 classes; the bands
    were class_1..class_7. Now they are named from it, -v saying from where."""
    path = mmdeploy_folder(tmp_path / "work", detail_extra=detail_extra)
    tif = make_raster("img.tif", image)
    result = run_cli("-v", "predict", path, tif, "-o", tmp_path / "o.tif", "--tile-size", "64")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "o.tif") as out:
        assert list(out.descriptions) == LOVEDA
    assert "class names from detail.json model_cfg" in result.stderr, result.stderr
    model = OnnxModel.from_path(path)
    assert model.sidecars["names"] == tmp_path / "work" / "detail.json"


def test_an_mmdeploy_argmax_export_is_refused_with_how_to_export_scores(tmp_path, run_cli,
                                                                        make_raster, image):
    """MMDeploy's default (with_argmax true): 'output' holds class ids [batch, 1, h, w] of
    an ArgMax in the graph, which cannot be blended across windows. It was refused with
    'Export the model's scores', which said nothing of how MMDeploy does it; the line now
    names its setting. No output is written."""
    from .conftest import assert_one_line_error

    path = mmdeploy_folder(tmp_path / "work", with_argmax=True)
    tif = make_raster("img.tif", image)
    assert_one_line_error(run_cli("predict", path, tif, "-o", tmp_path / "o.tif"),
                          "ArgMax", "cannot be blended", "with_argmax=False",
                          "codebase_config")
    assert not (tmp_path / "o.tif").exists()


# --- PaddleSeg / PaddleRS exports (paddle2onnx): deploy.yaml, model.yml, label.txt beside them -
PADDLE_LABELS = ["background", "building", "road", "water"]
IMAGENET_UNIT = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


def paddleseg_deploy(output_op="softmax", normalize=None, transforms=None):
    """PaddleSeg's tools/export.py deploy.yaml: ``Deploy`` with its transforms (a bare
    Normalize, PaddleSeg's default, unless ``normalize`` gives its mean/std)."""
    import yaml

    normalize = {"type": "Normalize", **(normalize or {})}
    return yaml.safe_dump({"Deploy": {
        "input_shape": [-1, 3, -1, -1], "model": "model.pdmodel",
        "output_dtype": "int32" if output_op == "argmax" else "float32",
        "output_op": output_op, "params": "model.pdiparams",
        "transforms": transforms if transforms is not None else [
            {"type": "Resize", "target_size": [512, 512]}, normalize]}})


def paddle_folder(folder, output_op="softmax", *, opset=11, deploy=None, name="deploy.yaml",
                  files=None):
    """What PaddleSeg's export then ``paddle2onnx --save_file model.onnx`` give: input 'x'
    [-1, 3, -1, -1]; output_op softmax: probabilities [N, 4, H, W] (before opset 13 a
    Softmax over the last axis between Transposes, as paddle2onnx writes it), none: logits
    'save_infer_model/scale_0.tmp_0', argmax: int32 class ids [N, H, W] 'argmax_0.tmp_0'
    (ArgMax, Cast); ``deploy`` (text) written as ``name``; ``files`` {name: text} beside."""
    folder.mkdir(parents=True, exist_ok=True)
    conv, weights = conv1x1("x", "conv2d_1.tmp_1", 3, len(PADDLE_LABELS), seed=97)
    nodes, dims = [conv], [-1, len(PADDLE_LABELS), -1, -1]
    if output_op == "softmax" and opset < 13:
        out = ("softmax_0.tmp_0", FLOAT, dims)
        nodes += [helper.make_node("Transpose", ["conv2d_1.tmp_1"], ["t0"], perm=[0, 2, 3, 1]),
                  helper.make_node("Softmax", ["t0"], ["t1"], axis=3),
                  helper.make_node("Transpose", ["t1"], [out[0]], perm=[0, 3, 1, 2])]
    elif output_op == "softmax":
        out = ("softmax_0.tmp_0", FLOAT, dims)
        nodes.append(helper.make_node("Softmax", ["conv2d_1.tmp_1"], [out[0]], axis=1))
    elif output_op == "none":
        out = ("save_infer_model/scale_0.tmp_0", FLOAT, dims)
        nodes.append(helper.make_node("Identity", ["conv2d_1.tmp_1"], [out[0]]))
    else:
        out = ("argmax_0.tmp_0", onnx.TensorProto.INT32, [-1, -1, -1])
        nodes += [helper.make_node("ArgMax", ["conv2d_1.tmp_1"], ["a0"], axis=1, keepdims=0),
                  helper.make_node("Cast", ["a0"], [out[0]], to=onnx.TensorProto.INT32)]
    path = save_graph(folder / "model.onnx", nodes, [("x", FLOAT, [-1, 3, -1, -1])], [out],
                      weights, opset=opset)
    model = onnx.load(str(path))
    model.ir_version = 8
    onnx.save(model, str(path))
    if deploy is None:
        deploy = paddleseg_deploy(output_op)
    if deploy:
        (folder / name).write_text(deploy)
    for file, text in (files or {}).items():
        (folder / file).write_text(text)
    return path


def paddle_reference(path, image, mean=(0.5,) * 3, std=(0.5,) * 3, low=0.0, high=255.0):
    """PaddleSeg's inference: (pixels / 255 - mean) / std (PaddleRS: (x - min_val) /
    (max_val - min_val) first), then the softmax of logits, or the model's probabilities."""
    feed = (((image[np.newaxis].astype(np.float32) - np.float32(low)) / np.float32(high - low)
             - np.float32(mean).reshape(1, -1, 1, 1)) / np.float32(std).reshape(1, -1, 1, 1))
    result = ort_run(path, feed.astype(np.float32))[0][0].astype(np.float64)
    return result if np.allclose(result.sum(axis=0), 1, atol=1e-5) else softmax(result)


@pytest.mark.parametrize(("output_op", "opset", "normalize", "mean", "std"), [
    ("softmax", 11, None, (0.5,) * 3, (0.5,) * 3),  # PaddleSeg's default Normalize
    ("softmax", 13, None, (0.5,) * 3, (0.5,) * 3),
    ("none", 12, IMAGENET_UNIT, IMAGENET_UNIT["mean"], IMAGENET_UNIT["std"]),
])
def test_paddleseg_export_reads_its_deploy_yaml_normalize(tmp_path, run_cli, make_raster,
                                                          image, output_op, opset, normalize,
                                                          mean, std):
    """A PaddleSeg export converted by paddle2onnx: its deploy.yaml Normalize (bare: mean
    0.5, std 0.5 of pixels / 255, inputs -1..1) was ignored, so x / 255 went in: its
    probabilities up to 0.55 off, the argmax agreeing on 66 % of pixels (exit 0). Now it
    is read, -v naming the file and key; softmax heads get no second softmax, logits one."""
    path = paddle_folder(tmp_path / "out", output_op, opset=opset,
                         deploy=paddleseg_deploy(output_op, normalize))
    tif = make_raster("img.tif", image)
    result = run_cli("-v", "predict", path, tif, "-o", tmp_path / "o.tif", "--dtype", "float32",
                     "--tile-size", "64")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "o.tif") as out:
        np.testing.assert_allclose(out.read(), paddle_reference(path, image, mean, std),
                                   atol=1e-5)
    assert "deploy.yaml Normalize" in result.stderr, result.stderr
    model = OnnxModel.from_path(path)
    assert model.sidecars["normalization"] == tmp_path / "out" / "deploy.yaml"


PADDLERS_MODEL_YML = """\
Model: UNet
Transforms:
- Resize:
    interp: LINEAR
    keep_ratio: false
    target_size: !!python/tuple
    - 512
    - 512
- Normalize:
    apply_to_tar: true
    max_val: [1000.0, 1000.0, 1000.0]
    mean: [0.4, 0.45, 0.5]
    min_val: [0.0, 0.0, 0.0]
    std: [0.2, 0.25, 0.3]
- ArrangeSegmenter:
    mode: test
_Attributes:
  fixed_input_shape: null
  in_channels: 3
  labels: [background, building, road, water]
  model_type: segmenter
  num_classes: 4
_init_params:
  in_channels: 3
  num_classes: 4
completed_epochs: 0
status: Infer
version: 1.0.0
"""


def test_paddlers_model_yml_normalizes_and_names_the_bands(tmp_path, run_cli, make_raster,
                                                          image):
    """A PaddleRS export (model.yml: Model, Transforms of {name: attributes}, _Attributes
    labels; its Normalize of (x - min_val) / (max_val - min_val), here of 0..1000 values):
    x / 255 went in unnormalised and the bands were class_1..class_4. Now both are read."""
    path = paddle_folder(tmp_path / "out", "none", deploy=PADDLERS_MODEL_YML, name="model.yml")
    tif = make_raster("img.tif", image)
    result = run_cli("-v", "predict", path, tif, "-o", tmp_path / "o.tif", "--dtype", "float32",
                     "--tile-size", "64")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "o.tif") as out:
        np.testing.assert_allclose(out.read(), paddle_reference(
            path, image, [0.4, 0.45, 0.5], [0.2, 0.25, 0.3], high=1000.0), atol=1e-5)
        assert list(out.descriptions) == PADDLE_LABELS
    assert "model.yml Normalize" in result.stderr, result.stderr
    assert "class names from model.yml _Attributes.labels" in result.stderr, result.stderr


PADDLEX_BGR_MODEL_YML = """\
Model: DeepLabv3p
Transforms:
- Normalize:
    max_val: [255.0, 255.0, 255.0]
    mean: [0.406, 0.456, 0.485]
    min_val: [0.0, 0.0, 0.0]
    std: [0.225, 0.224, 0.229]
- ArrangeSegmenter:
    mode: test
TransformsMode: BGR
_Attributes:
  labels: [background, building, road, water]
  model_type: segmenter
  num_classes: 4
_init_params:
  num_classes: 4
status: Infer
version: 1.3.11
"""


def test_paddlex_model_yml_transforms_mode_bgr_is_flipped(tmp_path, run_cli, make_raster,
                                                         image):
    """A PaddleX 1.x segmenter (model.yml TransformsMode BGR: its deploy reads images with
    cv2 and leaves them B,G,R; its Normalize mean/std in that order) was fed the image's
    R,G,B as they were with exit 0. Now they go through the flip of MMDeploy's to_rgb
    false; --bands 3,2,1 warns of flipping twice; 4 channels are refused."""
    path = paddle_folder(tmp_path / "out", "none", deploy=PADDLEX_BGR_MODEL_YML,
                         name="model.yml")
    tif = make_raster("img.tif", image)
    result = run_cli("-v", "predict", path, tif, "-o", tmp_path / "o.tif", "--dtype",
                     "float32", "--tile-size", "64")
    assert result.exit_code == 0, result.output
    mean, std = [0.406, 0.456, 0.485], [0.225, 0.224, 0.229]
    expected = paddle_reference(path, image[::-1], mean, std)
    with rasterio.open(tmp_path / "o.tif") as out:
        got = out.read()
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.abs(got - paddle_reference(path, image, mean, std)).max() > 1e-3
    assert "model.yml TransformsMode BGR" in result.stderr, result.stderr
    model = OnnxModel.from_path(path)
    assert model.sidecars["flip"] == tmp_path / "out" / "model.yml"
    result = run_cli("predict", path, tif, "-o", tmp_path / "b.tif", "--tile-size", "64",
                     "--bands", "3,2,1")
    said = [line for line in result.stderr.splitlines() if "--bands 3,2,1" in line]
    assert result.exit_code == 0 and len(said) == 1 and "model.yml" in said[0], result.stderr
    rgb = paddle_folder(tmp_path / "rgb", "none", name="model.yml",
                        deploy=PADDLEX_BGR_MODEL_YML.replace("Mode: BGR", "Mode: RGB"))
    assert OnnxModel.from_path(rgb).flip_rgb is None


def test_paddlex_bgr_model_of_4_channels_is_refused(tmp_path, run_cli, make_raster, image):
    folder = tmp_path / "out"
    folder.mkdir()
    conv, weights = conv1x1("x", "y", 4, 4, seed=5)
    path = save_graph(folder / "model.onnx", [conv], [("x", FLOAT, [-1, 4, -1, -1])],
                      [("y", FLOAT, [-1, 4, -1, -1])], weights)
    four = PADDLEX_BGR_MODEL_YML.replace("255.0]", "255.0, 255.0]").replace(
        "0.0]", "0.0, 0.0]").replace("0.485]", "0.485, 0.5]").replace("0.229]", "0.229, 0.25]")
    (folder / "model.yml").write_text(four)
    rgbn = make_raster("rgbn.tif", np.concatenate([image, image[:1]]))
    out = tmp_path / "o.tif"
    assert_one_line_error(run_cli("predict", path, rgbn, "-o", out, "--tile-size", "64"),
                          "model.yml TransformsMode BGR", "4 channels", "TransformsMode RGB")
    assert not out.exists()


@pytest.mark.parametrize("name", ["label.txt", "labels.txt"])
def test_a_paddleseg_label_txt_names_the_bands(tmp_path, run_cli, make_raster, image, name):
    """The dataset's label.txt (one class a line) copied beside a PaddleSeg export: the bands
    were class_1..class_4; now they are named from it. Not read beside a model that is no
    PaddleSeg export (no deploy.yaml)."""
    text = "\n".join(PADDLE_LABELS) + "\n"
    path = paddle_folder(tmp_path / "out", files={name: text})
    tif = make_raster("img.tif", image)
    result = run_cli("-v", "predict", path, tif, "-o", tmp_path / "o.tif", "--tile-size", "64")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "o.tif") as out:
        assert list(out.descriptions) == PADDLE_LABELS
    assert f"class names from {name}" in result.stderr, result.stderr
    assert OnnxModel.from_path(path).sidecars["names"] == tmp_path / "out" / name
    alone = paddle_folder(tmp_path / "alone", deploy="", files={name: text})
    assert OnnxModel.from_path(alone).class_names == [f"class_{k}" for k in range(1, 5)]


def test_a_paddleseg_argmax_export_is_refused_naming_output_op(tmp_path, run_cli, make_raster,
                                                               image):
    """PaddleSeg's default export (--output_op argmax): 'argmax_0.tmp_0' int32 class ids
    [N, H, W], which cannot be blended. It was refused saying 'Export the model's scores',
    not how PaddleSeg does it; the line now names --output_op softmax. Nothing written."""
    from .conftest import assert_one_line_error

    path = paddle_folder(tmp_path / "out", "argmax")
    tif = make_raster("img.tif", image)
    assert_one_line_error(run_cli("predict", path, tif, "-o", tmp_path / "o.tif"),
                          "ArgMax", "cannot be blended", "--output_op softmax", "paddle2onnx")
    assert not (tmp_path / "o.tif").exists()


def test_options_metadata_and_other_files_override_or_skip_paddle_files(tmp_path, image,
                                                                       caplog):
    path = paddle_folder(tmp_path / "out", "none")
    model = OnnxModel.from_path(path, mean=[0.3] * 3, std=[0.2] * 3)
    out = predict_array(model, image, options=PredictOptions(tile_size=64))
    np.testing.assert_allclose(out, paddle_reference(path, image, [0.3] * 3, [0.2] * 3),
                               atol=1e-5)
    with caplog.at_level("WARNING", logger="geotile"):  # --mean alone: the file's std stays
        model = OnnxModel.from_path(path, mean=[0.3] * 3)
    assert "replaces deploy.yaml's mean, but deploy.yaml's std" in caplog.text
    onnx_model = onnx.load(str(path))
    entry = onnx_model.metadata_props.add()
    entry.key, entry.value = "mean", json.dumps([0.1] * 3)
    entry = onnx_model.metadata_props.add()
    entry.key, entry.value = "std", json.dumps([0.9] * 3)
    onnx.save(onnx_model, str(path))
    model = OnnxModel.from_path(path)
    assert "normalization" not in model.sidecars
    out = predict_array(model, image, options=PredictOptions(tile_size=64))
    np.testing.assert_allclose(out, paddle_reference(path, image, [0.1] * 3, [0.9] * 3),
                               atol=1e-5)
    # a deploy.yaml of another tool (a Deploy section without transforms): not read
    other = paddle_folder(tmp_path / "other", "none", deploy="Deploy:\n  replicas: 3\n")
    model = OnnxModel.from_path(other)
    assert not model.sidecars
    out = predict_array(model, image, options=PredictOptions(tile_size=64))
    np.testing.assert_allclose(out, paddle_reference(other, image, [0.0] * 3, [1.0] * 3),
                               atol=1e-5)


@pytest.mark.parametrize(("name", "text"), [
    ("deploy.yaml", "apiVersion: apps/v1\nkind: Deployment\nspec:\n"
                    "  replicas: {{ .Values.replicas }}\n"),  # a Helm template
    ("model.yml", "- hosts: gpu\n  vars:\n    model: {{ model_path }}\n"),  # Ansible
    ("pipeline.json", '// ETL pipeline\n{"steps": [{"type": "Normalize"}]}\n'),  # JSONC
])
def test_an_unreadable_file_of_another_tool_beside_a_model_is_no_refusal(
        tmp_path, run_cli, make_raster, image, name, text):
    """A user's model beside a deploy.yaml, model.yml or pipeline.json of another tool that
    is no valid YAML or JSON (a Helm or Ansible template, JSON with comments) predicted
    before (exit 0); since 2fb9037 and 42a3a54 it was refused ('deploy.yaml: not valid YAML
    (found unhashable key at line 4); fix it (or remove it)', exit 1). Such a file that does
    not show MMDeploy's or Paddle's keys is not theirs: not read, the model predicts as
    without it (a broken file that shows them is still one line)."""
    from .onnx_models import pointwise_model

    (tmp_path / "m").mkdir()
    path = pointwise_model(tmp_path / "m" / "model.onnx", classes=3, activation="softmax")
    tif = make_raster("img.tif", image)
    args = ("predict", path, tif, "--dtype", "float32", "--tile-size", "64")
    assert run_cli(*args, "-o", tmp_path / "a.tif").exit_code == 0
    (tmp_path / "m" / name).write_text(text)
    result = run_cli(*args, "-o", tmp_path / "b.tif")
    assert result.exit_code == 0, result.output
    assert not OnnxModel.from_path(path).sidecars
    with rasterio.open(tmp_path / "a.tif") as a, rasterio.open(tmp_path / "b.tif") as b:
        np.testing.assert_array_equal(a.read(), b.read())


@pytest.mark.parametrize("bom", ["", "\ufeff"])
def test_a_bad_paddle_deploy_yaml_is_one_line(tmp_path, run_cli, make_raster, image, bom):
    """A broken deploy.yaml of Paddle's (its Deploy key, after a Windows editor's byte-order
    mark too: skipped without a word before) is one line naming it and --mean."""
    path = paddle_folder(tmp_path / "out",
                         deploy=bom + "Deploy:\n  transforms: [{type: Normalize\n")
    _bad_sidecar_is_one_line(run_cli, make_raster, image, tmp_path, path, "deploy.yaml")


@pytest.mark.parametrize("edit", ["deploy", "neither"])
def test_resume_redoes_outputs_of_another_paddle_deploy_yaml(tmp_path, run_cli, make_raster,
                                                             image, edit):
    path = paddle_folder(tmp_path / "out")
    std = (0.25,) * 3 if edit == "deploy" else (0.5,) * 3
    _resume_redoes(run_cli, make_raster, image, tmp_path, path, edit == "deploy",
                   lambda: (path.parent / "deploy.yaml").write_text(paddleseg_deploy(
                       "softmax", {"mean": [0.5] * 3, "std": list(std)})),
                   lambda: paddle_reference(path, image, (0.5,) * 3, std))


def test_dask_workers_load_the_model_again_for_another_paddle_deploy_yaml(tmp_path, image,
                                                                          monkeypatch):
    from geotile import distributed as gd

    monkeypatch.setattr(gd, "_MODELS", {})
    path = paddle_folder(tmp_path / "out")
    options = {"providers": "cpu", "threads": 1}
    first = gd._worker_model(str(path), options)
    assert gd._worker_model(str(path), options) is first
    (path.parent / "deploy.yaml").write_text(paddleseg_deploy(
        "softmax", {"mean": [0.5] * 3, "std": [0.25] * 3}))
    model = gd._worker_model(str(path), options)
    assert model is not first and len(gd._MODELS) == 1
    out = predict_array(model, image, options=PredictOptions(tile_size=64))
    np.testing.assert_allclose(out, paddle_reference(path, image, (0.5,) * 3, (0.25,) * 3),
                               atol=1e-5)


def test_predict_help_readme_and_install_name_paddleseg_s_files(run_cli):
    from pathlib import Path

    text = " ".join(run_cli("predict", "--help").output.split())
    assert "PaddleSeg's deploy.yaml or PaddleRS' model.yml beside it" in text
    assert "label.txt" in text
    root = Path(__file__).parents[1]
    readme = (root / "examples" / "README.md").read_text()
    assert "paddle2onnx" in readme and "--output_op softmax" in readme
    assert "pyyaml>=6" in (root / "setup.cfg").read_text()


def paddlers_folder(folder):
    """What PaddleRS' export and paddle2onnx give for a segmenter: its InferNet's two outputs,
    the label map (int32 class ids [N, H, W]: ArgMax, Cast) and the score map (softmax
    probabilities moved last [N, H, W, 4]), with its model.yml."""
    folder.mkdir(parents=True, exist_ok=True)
    conv, weights = conv1x1("image", "logit", 3, len(PADDLE_LABELS), seed=98)
    nodes = [conv, helper.make_node("ArgMax", ["logit"], ["a0"], axis=1, keepdims=0),
             helper.make_node("Cast", ["a0"], ["argmax_0.tmp_0"], to=onnx.TensorProto.INT32),
             helper.make_node("Softmax", ["logit"], ["s0"], axis=1),
             helper.make_node("Transpose", ["s0"], ["transpose_0.tmp_0"], perm=[0, 2, 3, 1])]
    path = save_graph(folder / "model.onnx", nodes, [("image", FLOAT, [-1, 3, -1, -1])],
                      [("argmax_0.tmp_0", onnx.TensorProto.INT32, [-1, -1, -1]),
                       ("transpose_0.tmp_0", FLOAT, [-1, -1, -1, len(PADDLE_LABELS)])],
                      weights, opset=13)
    (folder / "model.yml").write_text(PADDLERS_MODEL_YML)
    return path


def _seg_and_edge_model(path, classes, size, stride):
    """Two float heads as Keras-like exports give them: seg [N, h, w, classes] (NHWC) and
    edge [N, h, w] (no channel axis), strided convolutions of ``stride``; input fixed at
    ``size`` px (None: dynamic)."""
    rng = np.random.default_rng(61)
    weights = {"W1": rng.normal(0, 1, (classes, 3, stride, stride)).astype(np.float32),
               "W2": rng.normal(0, 1, (1, 3, stride, stride)).astype(np.float32),
               "axis": np.array([1], np.int64)}
    conv = {"kernel_shape": [stride, stride], "strides": [stride, stride]}
    nodes = [helper.make_node("Conv", ["input", "W1"], ["s"], **conv),
             helper.make_node("Transpose", ["s"], ["seg"], perm=[0, 2, 3, 1]),
             helper.make_node("Conv", ["input", "W2"], ["e"], **conv),
             helper.make_node("Squeeze", ["e", "axis"], ["edge"])]
    n, h = (1, size) if size else ("N", "h")
    return save_graph(path, nodes, [("input", FLOAT, [n, 3, size or "H", size or "W"])],
                      [("seg", FLOAT, [n, h, h, classes]), ("edge", FLOAT, [n, h, h])],
                      weights)


@pytest.mark.parametrize(("size", "stride"), [(64, 1), (None, 4)])
def test_an_nhwc_map_beside_a_map_without_channels_is_no_mask_classification(
        tmp_path, run_cli, make_raster, image, size, stride):
    """A Keras-like model with two float heads, seg [N, h, w, 3] (NHWC) and edge [N, h, w]
    (no channel axis), at a fixed 64 px or at 1/4 of a dynamic window: bbc24f8 took edge for
    class queries [N, Q=h, K+1=w] and seg for mask queries [N, Q=h, w, 3] and refused the
    model ("output 'seg' has shape [1, 63, 64, 3] ... neither the window nor a centred crop",
    exit 1), which wrote 4 bands before. Queries whose classes are the masks' first spatial
    axis are a map's, not queries: 4 bands seg_1..seg_3, edge, as ONNX Runtime gives them."""
    path = _seg_and_edge_model(tmp_path / "two.onnx", 3, size, stride)
    model = OnnxModel.from_path(path, tile_size=64)
    assert model.class_names == ["seg_1", "seg_2", "seg_3", "edge"]
    assert not any(o.class_queries for o in model.outputs)
    tif = make_raster("img.tif", image[:, :64, :64])
    result = run_cli("-v", "predict", path, tif, "-o", tmp_path / "o.tif", "--tile-size", "64",
                     "--activation", "none")
    assert result.exit_code == 0, result.output
    assert "mask classification" not in result.stderr
    seg, edge = ort_run(path, image[np.newaxis, :, :64, :64].astype(np.float32) / 255)
    if stride == 1:
        with rasterio.open(tmp_path / "o.tif") as out:
            assert list(out.descriptions) == ["seg_1", "seg_2", "seg_3", "edge"]
            np.testing.assert_allclose(out.read(), np.concatenate(
                [seg[0].transpose(2, 0, 1), edge]), atol=1e-4)


@pytest.mark.parametrize(("size", "stride", "classes"), [(64, 1, 64), (None, 4, 16),
                                                        (None, 4, 8)])
def test_an_nhwc_map_of_as_many_classes_as_its_width_is_no_mask_classification(
        tmp_path, run_cli, make_raster, image, size, stride, classes):
    """seg [N, h, w, K] (NHWC) beside edge [N, h, w] whose K is the maps' width: 64 classes
    at a fixed 64 px, 16 at 1/4 of a dynamic 64 px window, 8 at 1/4 of 32 px. 143c08a took
    every map of K = w for square mask queries (edge the class queries [N, Q=h, K+1=w]), as
    3c55087 had fixed for K != w. Maps whose 'queries' are their own height are two maps:
    K + 1 bands seg_1.., edge (seg [N, w, w, w] cannot tell its layout: values unchecked)."""
    path = _seg_and_edge_model(tmp_path / "two.onnx", classes, size, stride)
    tile = size or classes * stride
    model = OnnxModel.from_path(path, tile_size=tile)
    assert not any(o.class_queries for o in model.outputs)
    assert model.class_names == [*(f"seg_{i}" for i in range(1, classes + 1)), "edge"]
    tif = make_raster("img.tif", image[:, :tile, :tile])
    result = run_cli("-v", "predict", path, tif, "-o", tmp_path / "o.tif", "--tile-size",
                     str(tile), "--activation", "none")
    assert result.exit_code == 0, result.output
    assert "mask classification" not in result.stderr
    with rasterio.open(tmp_path / "o.tif") as out:
        assert out.count == classes + 1


def test_a_paddlers_label_map_beside_its_score_map_is_no_mask_classification(
        tmp_path, run_cli, make_raster, image):
    """PaddleRS' segmenter export: label map int32 [N, H, W] beside score map [N, H, W, 4].
    At a 64 px window the two were taken for a mask classification model's class queries
    [N, 64, 64] and mask queries [N, 64, 64, 4], and refused ('neither the window nor a
    centred crop'), --outputs transpose_0.tmp_0 too. Now the label map is refused as class
    ids in one line naming --outputs transpose_0.tmp_0, which predicts PaddleRS' scores."""
    from .conftest import assert_one_line_error

    path = paddlers_folder(tmp_path / "out")
    tif = make_raster("img.tif", image)
    args = ("predict", path, tif, "-o", tmp_path / "o.tif", "--dtype", "float32",
            "--tile-size", "64")
    result = run_cli(*args)
    assert_one_line_error(result, "argmax_0.tmp_0", "--outputs transpose_0.tmp_0")
    assert "mask classification" not in result.stderr
    result = run_cli(*args, "--outputs", "transpose_0.tmp_0")
    assert result.exit_code == 0, result.output
    feed = ((image[np.newaxis].astype(np.float32) / np.float32(1000.0)
             - np.float32([0.4, 0.45, 0.5]).reshape(1, -1, 1, 1))
            / np.float32([0.2, 0.25, 0.3]).reshape(1, -1, 1, 1))
    reference = ort_run(path, feed)[1][0].transpose(2, 0, 1)
    with rasterio.open(tmp_path / "o.tif") as out:
        np.testing.assert_allclose(out.read(), reference, atol=1e-5)
        assert list(out.descriptions) == PADDLE_LABELS


# --- model files of other formats: what each is and how to export it (geotile.model_formats) -
def stored_zip(path, members):
    """A zip of stored ``members`` (name -> bytes, or an int: that many bytes left a hole in
    a sparse file), written by hand: a 2 GB checkpoint in no time or disk."""
    import struct

    directory = []
    with open(path, "wb") as file:
        for name, data in members.items():
            size = data if isinstance(data, int) else len(data)
            raw = name.encode()
            directory.append(struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, 0, 0, 0,
                                         0, size, size, len(raw), 0, 0, 0, 0, 0,
                                         file.tell()) + raw)
            file.write(struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, size, size,
                                   len(raw), 0) + raw)
            if isinstance(data, int):
                file.seek(data, 1)
            else:
                file.write(data)
        start = file.tell()
        file.write(b"".join(directory))
        file.write(struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(members), len(members),
                               file.tell() - start, start, 0))
    return path


TORCH_MAGIC = b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little") + b"."
STATE_DICT = (b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01X\x0b\x00\x00\x00conv.weight"
              b"q\x02ctorch._utils\n_rebuild_tensor_v2\nq\x03.")
WHOLE = b"\x80\x02cmynet.models\nUNet\nq\x00)\x81q\x01}q\x02X\x08\x00\x00\x00trainingq\x03\x88sb."
LIGHTNING = (b"\x80\x02}q\x00(X\x05\x00\x00\x00epochq\x01K\x03X\x19\x00\x00\x00"
             b"pytorch-lightning_versionq\x02X\x05\x00\x00\x002.4.0q\x03X\n\x00\x00\x00"
             b"state_dictq\x04ccollections\nOrderedDict\nq\x05)Rq\x06u.")
SKLEARN = b"\x80\x02csklearn.ensemble._forest\nRandomForestClassifier\nq\x00)\x81q\x01}b."
SAFETENSORS = (lambda h: len(h).to_bytes(8, "little") + h + bytes(16))(
    b'{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,2],'
    b'"data_offsets":[0,16]}}')
OPENVINO = b'<?xml version="1.0"?>\n<net name="unet" version="11">\n<layers/></net>\n'
PIR = b'{"base_code":{"magic":"pir","trainable":true,"version":1},"program":{"regions":[]}}'
LFS = (b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"0" * 64
       + b"\nsize 98765432\n")


def torch_zip(pkl, *more):
    return lambda p: stored_zip(p, {"m/data.pkl": pkl, "m/byteorder": b"little",
                                    "m/data/0": bytes(16), **dict.fromkeys(more, b""),
                                    "m/version": b"3\n"})


def files(**named):
    """A builder writing ``named`` (file name -> bytes; '/' makes folders) in the folder it
    is given, returning the first one's path (or the folder, named '.')."""
    def build(folder):
        for name, data in named.items():
            if name != ".":
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                (folder / name).write_bytes(data)
        first = next(iter(named))
        return folder if first == "." else folder / first
    return build


OTHER_FORMATS = {
    "state_dict": (torch_zip(STATE_DICT), "m.pth", ["PyTorch checkpoint (torch.save)",
                   "a state_dict", "load_state_dict", "torch.onnx.export(model.eval(), "
                   "torch.randn(1, C, H, W), 'model.onnx', dynamo=True)"]),
    "lightning": (torch_zip(LIGHTNING), "last.ckpt", ["PyTorch Lightning checkpoint",
                  "load_from_checkpoint('last.ckpt')", ".to_onnx('model.onnx'"]),
    "whole model": (torch_zip(WHOLE), "m.pt", ["whole pickled model (mynet.models.UNet)",
                    "weights_only=False", "torch.onnx.export"]),
    "legacy": (lambda p: p.write_bytes(TORCH_MAGIC + b"\x80\x02M\xe9\x03.\x80\x02}q\x00."
                                       + STATE_DICT), "old.pth",
               ["torch.save, legacy format", "a state_dict"]),
    "torchscript": (torch_zip(STATE_DICT, "m/constants.pkl", "m/code/__torch__/m.py"),
                    "m.pt", ["TorchScript model", "torch.jit.load('m.pt')", "dynamo=False"]),
    "safetensors": (lambda p: p.write_bytes(SAFETENSORS), "w.safetensors",
                    ["safetensors weights", "load_state_dict"]),
    "hf file": (files(**{"model.safetensors": SAFETENSORS, "config.json": b"{}"}), None,
                ["safetensors weights", "optimum-cli export onnx --model",
                 "--task semantic-segmentation"]),
    "hf folder": (files(**{".": b"", "config.json": b"{}", "pytorch_model.bin": b"PK"}), None,
                  ["Hugging Face model folder without model.onnx", "optimum-cli export onnx"]),
    "keras h5": (lambda p: p.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(600)), "unet.h5",
                 ["HDF5 file (a Keras .h5 model)", "tf2onnx.convert --keras unet.h5",
                  "NHWC"]),
    "keras 3": (lambda p: stored_zip(p, {"metadata.json": b"{}", "config.json": b"{}",
                                         "model.weights.h5": b"\x89HDF"}), "unet.keras",
                ["Keras 3 model", "keras.saving.load_model('unet.keras')",
                 "format='onnx'"]),
    "savedmodel": (files(**{".": b"", "saved_model.pb": b"\x08\x01\x12\x05\x0a\x03\x0a\x01x",
                            "variables/variables.index": b""}), None,
                   ["TensorFlow SavedModel folder", "tf2onnx.convert --saved-model"]),
    "saved_model.pb": (lambda p: p.write_bytes(b"\x08\x01\x12\x85\x02\x0a\x03\x0a\x01x"),
                       "saved_model.pb", ["SavedModel's saved_model.pb", "--saved-model"]),
    "whole saved_model.pb": (lambda p: p.write_bytes(b"\x08\x01\x12\x07\x0a\x05\x0a\x031.0"),
                             "saved_model.pb", ["SavedModel's saved_model.pb"]),
    "tflite": (lambda p: p.write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(64)), "seg.tflite",
               ["TensorFlow Lite model", "tf2onnx.convert --tflite seg.tflite", "NHWC"]),
    "tensorrt": (lambda p: p.write_bytes(b"ftrt" + bytes(64)), "unet.plan",
                 ["TensorRT engine", "give the .onnx it was built from"]),
    "ultralytics engine": (lambda p: p.write_bytes(len(b'{"task":"segment"}').to_bytes(
        4, "little") + b'{"task":"segment"}' + b"ftrt" + bytes(64)), "best.engine",
        ["TensorRT engine"]),
    "openvino": (files(**{"unet.xml": OPENVINO, "unet.bin": bytes(64)}), None,
                 ["OpenVINO IR model", "does not export ONNX"]),
    "openvino bin": (files(**{"unet.bin": bytes(64), "unet.xml": OPENVINO}), None,
                     ["OpenVINO IR model"]),
    "paddle": (files(**{"inference.pdmodel": b"\x0a\x05", "inference.pdiparams": b""}),
               None, ["PaddlePaddle inference model", "paddle2onnx --model_dir",
                      "--model_filename inference.pdmodel --params_filename "
                      "inference.pdiparams"]),
    "paddle pir folder": (files(**{".": b"", "inference.json": b'{"program":{}}',
                                   "inference.pdiparams": b""}), None,
                          ["PaddlePaddle", "--model_filename inference.json"]),
    "paddle pir json": (files(**{"inference.json": PIR, "inference.pdiparams": b""}), None,
                        ["PaddlePaddle inference model", "--model_filename inference.json "
                         "--params_filename inference.pdiparams", "paddle2onnx 2.0"]),
    "paddle pir params": (files(**{"inference.pdiparams": b"", "inference.json": PIR}), None,
                          ["PaddlePaddle inference model", "--model_filename inference.json"]),
    "coreml": (lambda p: p.write_bytes(b"\x08\x04\x12\x10\x0a\x0e"), "m.mlmodel",
               ["Core ML model", "onnxmltools.convert_coreml(coremltools.utils.load_spec("
                "'m.mlmodel'))"]),
    "mlpackage": (files(**{".": b"", "Manifest.json": b"{}",
                           "Data/com.apple.CoreML/model.mlmodel": b"\x08\x04"}), None,
                  ["Core ML package"]),
    "ncnn": (lambda p: p.write_bytes(b"7767517\n3 3\nInput data 0 1 data\n"), "m.param",
             ["ncnn model"]),
    "dlpk": (lambda p: stored_zip(p, {"model.emd": json.dumps(
        {"Framework": "PyTorch", "ModelFile": "model.pth",
         "ModelConfiguration": "_DynamicUnet"}).encode(), "model.pth": b"PK"}),
        "roads.dlpk", ["Esri deep learning package (.dlpk) of a PyTorch model (model.pth)"]),
    # one holding its ONNX model is run (tests/test_predict_esri.py): not one without it
    "onnx dlpk": (lambda p: stored_zip(p, {"unet.emd": json.dumps(
        {"Framework": "ONNX", "ModelFile": "unet.onnx"}).encode(), "unet.pth": b"\x08\x07"}),
        "roads.dlpk", ["Esri deep learning package (.dlpk) holding the ONNX model unet.onnx: "
                       "unzip it and give unet.onnx"]),
    "darknet cfg": (lambda p: p.write_bytes(b"[net]\nbatch=1\n"), "yolo.cfg", ["Darknet"]),
    "darknet weights": (lambda p: p.write_bytes(b"\x00\x00\x00\x00\x02\x00\x00\x00" + bytes(40)),
                        "yolo.weights", ["Darknet"]),
    "sklearn": (lambda p: p.write_bytes(SKLEARN), "rf.joblib",
                ["scikit-learn/joblib pickle", "skl2onnx"]),
    "git lfs": (lambda p: p.write_bytes(LFS), "unet.onnx",
                ["Git LFS pointer", "98765432-byte", "git lfs pull"]),
}


@pytest.mark.parametrize("kind", OTHER_FORMATS)
def test_a_model_of_another_format_is_named_with_its_export(tmp_path, run_cli, make_raster,
                                                            kind, image):
    """predict of a PyTorch checkpoint, a Keras/TF/TFLite file, a TensorRT engine... said
    'not an ONNX model (the file cannot be parsed). Export it with torch.onnx.' of each,
    the wrong advice for all but PyTorch's (and a folder: 'is a folder'). Now one line says
    what the file is, from its content, and the command that exports it; nothing written."""
    from .conftest import assert_one_line_error

    build, name, fragments = OTHER_FORMATS[kind]
    folder = tmp_path / "model"
    folder.mkdir()
    path = build(folder / name) if name else build(folder)
    path = path if name is None else folder / name
    tif = make_raster("img.tif", image)
    result = run_cli("predict", path, tif, "-o", tmp_path / "out" / "o.tif")
    assert_one_line_error(result, str(path), *fragments)
    assert "cannot be parsed" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_raster_vision_bundle_and_onnx_files_are_left_to_the_onnx_reader(tmp_path):
    from geotile.model_formats import not_onnx

    stored_zip(tmp_path / "model-bundle.zip", {"model.onnx": b"\x08\x07",
                                               "learner-config.json": b"{}"})
    onnx_file = pointwise_model_file(tmp_path / "m.onnx")
    (tmp_path / "empty").mkdir()
    for path in (tmp_path / "model-bundle.zip", onnx_file, tmp_path / "empty"):
        assert not_onnx(path) is None


def pointwise_model_file(path):
    conv, weights = conv1x1("input", "output", 3, 2, seed=1)
    return save_graph(path, [conv], nchw_in(), [("output", FLOAT, ["N", 2, "H", "W"])],
                      weights)


def test_a_folder_holding_an_onnx_model_names_it(tmp_path, run_cli, make_raster, image):
    from .conftest import assert_one_line_error

    pointwise_model_file(tmp_path / "export" / "onnx" / "model.onnx") \
        if (tmp_path / "export" / "onnx").mkdir(parents=True) is None else None
    (tmp_path / "export" / "config.json").write_text("{}")
    tif = make_raster("img.tif", image)
    assert_one_line_error(run_cli("predict", tmp_path / "export", tif, "-o",
                                  tmp_path / "o.tif"),
                          "export is a folder: give its ONNX model",
                          str(tmp_path / "export" / "onnx" / "model.onnx"))


def test_a_hub_folder_whose_onnx_folder_lacks_model_onnx_names_its_onnx_files(tmp_path):
    """A transformers.js repository holding only onnx/model_fp16.onnx and
    onnx/model_quantized.onnx (beside config.json and model.safetensors) was 'a Hugging Face
    model folder without model.onnx: export the folder with optimum-cli', though its ONNX
    models were there; now its first ONNX file is named."""
    from geotile.model_formats import not_onnx

    repo = tmp_path / "repo"
    (repo / "onnx").mkdir(parents=True)
    for name in ("model_quantized.onnx", "model_fp16.onnx"):
        pointwise_model_file(repo / "onnx" / name)
    (repo / "config.json").write_text("{}")
    (repo / "model.safetensors").write_bytes(SAFETENSORS)
    said = not_onnx(repo)
    assert said == f"{repo} is a folder: give its ONNX model, {repo / 'onnx' / 'model_fp16.onnx'}."


class _Counted:
    """A file opened while :func:`_reading` counts: the bytes read through it."""

    def __init__(self, file, tally: dict):
        self._file, self._tally = file, tally

    def read(self, *args):
        data = self._file.read(*args)
        self._tally["bytes"] += len(data)
        return data

    def readinto(self, buffer):
        count = self._file.readinto(buffer)
        self._tally["bytes"] += count or 0
        return count

    def __getattr__(self, name):
        return getattr(self._file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._file.__exit__(*exc)


class _Listed:
    """An os.scandir iterator counting the entries taken from it."""

    def __init__(self, entries, tally: dict):
        self._entries, self._tally = entries, tally

    def __iter__(self):
        for entry in self._entries:
            self._tally["entries"] += 1
            yield entry

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._entries.__exit__(*exc)

    def close(self):
        self._entries.close()


@contextlib.contextmanager
def _reading(monkeypatch):
    """While inside: {"bytes": read from files (open, io.open, zipfile's), "entries": of
    folders listed (os.scandir, os.listdir)}; the work done, not the clock's seconds."""
    import builtins
    import io
    import os

    tally = {"bytes": 0, "entries": 0}
    real_open, real_scandir, real_listdir = builtins.open, os.scandir, os.listdir

    def counted_open(*args, **kwargs):
        return _Counted(real_open(*args, **kwargs), tally)

    def counted_listdir(*args):
        names = real_listdir(*args)
        tally["entries"] += len(names)
        return names

    with monkeypatch.context() as patch:
        patch.setattr(builtins, "open", counted_open)
        patch.setattr(io, "open", counted_open)
        patch.setattr(os, "scandir", lambda *args: _Listed(real_scandir(*args), tally))
        patch.setattr(os, "listdir", counted_listdir)
        yield tally


@pytest.mark.parametrize("kind", ["zip", "legacy"])
def test_a_2_gb_checkpoint_is_told_from_its_first_kb(tmp_path, kind, monkeypatch):
    """A 2 GB checkpoint (a sparse file) was read whole before anything was said; now its
    first kB and its zip's member list are: under 1 MB read, counted, not timed."""
    from geotile.model_formats import not_onnx

    path = tmp_path / "big.pth"
    if kind == "zip":
        stored_zip(path, {"big/data.pkl": STATE_DICT, "big/data/0": 2 << 30,
                          "big/version": b"3\n"})
    else:
        with open(path, "wb") as file:
            file.write(TORCH_MAGIC + STATE_DICT)
            file.truncate(2 << 30)
    with _reading(monkeypatch) as tally:
        said = not_onnx(path)
    assert 0 < tally["bytes"] < 1 << 20, tally
    assert "a state_dict" in said and path.stat().st_size >= 2 << 30


def test_hostile_zips_and_folders_are_answered_from_a_part(tmp_path, monkeypatch):
    """A zip declaring 1,000,000 members (Python's zipfile reads them all: seconds and
    hundreds of MB), a central directory said to be larger than the file, a folder of
    20,000 files: each answered from at most 2 MB of it (its 47 MB central directory), or
    half the folder's names (counted, not timed)."""
    import struct

    from geotile.model_formats import not_onnx

    many = tmp_path / "many.zip"
    entry = struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0,
                        0, 0, 0, 0) + b"a"
    with open(many, "wb") as file:
        file.write(struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0, 1, 0)
                   + b"a")
        file.write(entry * 1_000_000)
        end = file.tell()  # zip64's end record and locator: the count over 65,535
        file.write(struct.pack("<4sQ2H2I4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, 1_000_000,
                               1_000_000, len(entry) * 1_000_000, 31))
        file.write(struct.pack("<4sIQI", b"PK\x06\x07", 0, end, 1))
        file.write(struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF,
                               0xFFFFFFFF, 0xFFFFFFFF, 0))
    lying = tmp_path / "lying.zip"
    lying.write_bytes(b"PK\x03\x04" + bytes(40) + struct.pack(
        "<4s4H2IH", b"PK\x05\x06", 0, 0, 5, 5, 0xFFFFFFF0, 0, 0))
    cut = tmp_path / "cut.zip"  # a zip64 locator pointing past the end of the file
    cut.write_bytes(b"PK\x03\x04" + bytes(40) + struct.pack("<4sIQI", b"PK\x06\x07", 0, 1 << 40, 1)
                    + struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, 5, 5, 10, 0, 0))
    crowd = tmp_path / "crowd"
    crowd.mkdir()
    for i in range(20_000):
        (crowd / f"{i}.tif").touch()
    for path, said in ((many, "a zip of 1,000,000 files"), (lying, None), (cut, None),
                       (crowd, None)):
        with _reading(monkeypatch) as tally:
            found = not_onnx(path)
        assert tally["bytes"] <= 2 << 20 and tally["entries"] <= 10_000, (path, tally)
        assert (said in found) if said else found is None


def fields_in_order(model, order, **values):
    """``model``'s bytes with its fields written in ``order`` (ModelProto field names; the
    rest after, by field number as onnx.save writes them), ``values`` set first: protobuf
    readers take fields in any order."""
    for name, value in values.items():
        setattr(model, name, value)
    fields = sorted(model.DESCRIPTOR.fields, key=lambda f: f.number)
    names = [*order, *(f.name for f in fields if f.name not in order)]
    parts = []
    for name in names:
        part = onnx.ModelProto()
        if model.DESCRIPTOR.fields_by_name[name].type == 11:  # messages, repeated or not
            field = getattr(model, name)
            target = getattr(part, name)
            target.extend(field) if hasattr(field, "extend") else target.CopyFrom(field)
            if not hasattr(field, "extend") and not model.HasField(name):
                continue
        else:
            setattr(part, name, getattr(model, name))
        parts.append(part.SerializeToString())
    return b"".join(parts)


@pytest.mark.parametrize(("order", "values"), [
    ((), {"producer_name": "TFL3"}),  # bytes 4..8 are TFLite's identifier
    (("doc_string",), {"doc_string": "xxTFL3 export"}),
    (("domain", "graph"), {"domain": "  TFL3"}),
    ((), {"ir_version": 1, "producer_name": "\n\x03tf"}),  # a SavedModel's first bytes
    (("graph", "opset_import"), {"producer_name": "pytorch"}),  # ir_version last
    (("opset_import", "producer_name"), {"producer_name": "7767517 <net [net] ftrt PK"}),
    (("metadata_props",), {}),
])
def test_an_onnx_model_whose_first_bytes_match_another_format_is_read(
        tmp_path, run_cli, make_raster, image, order, values):
    """A valid ONNX model whose producer_name (or doc_string, domain: any first string)
    starts with TFLite's 'TFL3' at bytes 4..8 was refused as 'a TensorFlow Lite model', and
    one of IR version 1 whose producer_name starts with a newline as 'a TensorFlow
    SavedModel's saved_model.pb'; ONNX Runtime runs both. A file that reads as an ONNX
    model's fields is never named another format from its magic bytes."""
    from geotile.model_formats import not_onnx

    model = onnx.load(pointwise_model_file(tmp_path / "m.onnx"))
    model.metadata_props.add(key="note", value="TFL3")
    path = tmp_path / "model.onnx"
    path.write_bytes(fields_in_order(model, order, **values))
    assert onnx.load(path).producer_name == values.get("producer_name", model.producer_name)
    assert not_onnx(path) is None
    tif = make_raster("img.tif", image)
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("name", "data", "said"), [
    # 'f' is field 12 (no ModelProto field), 'r' a length of 116 running to the file's end
    ("unet.plan", b"ftrt" + b"\x01" * 116, "a TensorRT engine (built for one GPU"),
    # fields 2 and 1 are ModelProto's, of the wrong wire types (a varint, a length)
    ("seg.tflite", b"\x10\x00\x0a\x04TFL3", "a TensorFlow Lite model"),
])
def test_a_file_reading_as_protobuf_fields_of_no_model_proto_is_named(tmp_path, name, data,
                                                                       said):
    """The ONNX guard takes a file for an ONNX model only when each field it starts with is
    one of ModelProto's numbers with that field's wire type: a TensorRT engine or a TFLite
    file whose first bytes happen to read as other protobuf fields is still named."""
    from geotile.model_formats import not_onnx

    path = tmp_path / name
    path.write_bytes(data)
    assert not_onnx(path).startswith(f"{path}: {said}")


def test_only_the_first_16_kb_of_a_file_are_read(tmp_path):
    """What a file is comes from its first 16 kB (a 2 GB checkpoint is not read whole): an
    .xml whose '<net' is cut by byte 16,384 is left to the ONNX reader, one 10 bytes
    shorter, its '<net' within them, is an OpenVINO model."""
    from geotile.model_formats import not_onnx

    def xml(path, at):  # '<net' at byte ``at``
        start = b'<?xml version="1.0"?>\n<!--'
        path.write_bytes(start + b" " * (at - len(start) - 4) + b"-->\n<net name='unet'/>\n")
        assert path.read_bytes().index(b"<net") == at
        return path

    assert not_onnx(xml(tmp_path / "late.xml", 16384 - 3)) is None
    assert "an OpenVINO IR model" in not_onnx(xml(tmp_path / "early.xml", 16384 - 13))


@pytest.mark.parametrize(("tiles", "said"), [
    (9_999, "an Esri deep learning package (.dlpk) of a PyTorch model (model.pth)"),
    (10_000, "a zip of 10,001 files, no model (a Raster Vision bundle holds a few)"),
])
def test_only_a_zip_s_first_10_000_members_are_looked_at(tmp_path, tiles, said):
    """A zip's first 10,000 member names are read (a zip declaring a million is answered
    quickly); one holding more is no model bundle: an Esri .emd as its 10,000th member is
    named, as its 10,001st it is not, and the zip is said to hold 10,001 files."""
    from geotile.model_formats import not_onnx

    emd = json.dumps({"Framework": "PyTorch", "ModelFile": "model.pth"}).encode()
    path = stored_zip(tmp_path / "roads.dlpk", {**{f"t/{i}.tif": b"" for i in range(tiles)},
                                                "model.emd": emd})
    assert not_onnx(path) == f"{path}: {said}" + (
        ", not an ONNX model: unzip it and export model.pth to ONNX from PyTorch "
        "(torch.onnx.export, tf2onnx)." if tiles < 10_000 else
        ": unzip it and give the model's .onnx file.")


def test_a_pir_program_without_its_weights_beside_it_is_named(tmp_path):
    """A PaddlePaddle 3 program (inference.json, '"magic":"pir"' in its base_code) given
    without its .pdiparams beside it is named by its magic; a .json with neither is left
    to the ONNX reader."""
    from geotile.model_formats import not_onnx

    program = tmp_path / "inference.json"
    program.write_bytes(b'{\n  "base_code": {\n    "magic": "pir",\n    "version": 1\n  }}')
    other = tmp_path / "labels.json"
    other.write_bytes(b'{"base_code": {"magic": "other"}}')
    assert not_onnx(program) == (
        f"{program}: a PaddlePaddle inference model, not an ONNX model: convert it with "
        f"`paddle2onnx --model_dir {tmp_path} --model_filename inference.json "
        "--params_filename inference.pdiparams --save_file model.onnx` (paddle2onnx 2.0 or "
        "later reads a .json program).")
    assert not_onnx(other) is None


def test_only_a_folder_s_first_10_000_files_are_looked_at(tmp_path, monkeypatch):
    """A folder of 20,000 tiles given as the model is told from the names of its first
    10,000 files, not all of them (counted as they are listed)."""
    import os

    from geotile.model_formats import not_onnx

    crowd = tmp_path / "crowd"
    crowd.mkdir()
    for i in range(20_000):
        (crowd / f"{i}.tif").touch()
    listed = []
    scandir = os.scandir

    class Counted:
        def __init__(self, folder):
            self.entries = scandir(folder)

        def __enter__(self):
            return (listed.append(entry) or entry for entry in self.entries.__enter__())

        def __exit__(self, *exc):
            return self.entries.__exit__(*exc)

    monkeypatch.setattr(os, "scandir", Counted)
    assert not_onnx(crowd) is None
    assert len(listed) == 10_000


def test_a_decoder_rounding_odd_windows_up_is_told_an_even_size(tmp_path, run_cli,
                                                                 make_raster):
    """A stride-2 Conv then a ConvTranspose with output_padding 1 (a U-Net decoder as torch
    exports it) gives 34 px for a 33 px window: refused as '1 px wider than the window,
    which cannot be centred; check the export (its padding)', though the export is right
    and any even size runs. Now the line says so and names the even sizes beside it (a
    size geotile chose falls back to the one below); 32 equals ONNX Runtime's run of each window."""
    rng = np.random.default_rng(4)
    path = save_graph(tmp_path / "unet.onnx", [
        helper.make_node("Conv", ["input", "cw", "cb"], ["down"], strides=[2, 2],
                         pads=[1] * 4, kernel_shape=[3, 3]),
        helper.make_node("ConvTranspose", ["down", "tw", "tb"], ["output"], strides=[2, 2],
                         pads=[1] * 4, output_padding=[1, 1], kernel_shape=[3, 3])],
        [("input", FLOAT, ["N", 3, "H", "W"])], [("output", FLOAT, ["N", 2, "H2", "W2"])],
        {"cw": rng.normal(0, 0.3, (4, 3, 3, 3)).astype(np.float32),
         "cb": np.zeros(4, np.float32),
         "tw": rng.normal(0, 0.3, (4, 2, 3, 3)).astype(np.float32),
         "tb": np.zeros(2, np.float32)})
    pixels = rng.integers(0, 255, (3, 64, 64)).astype(np.uint8)
    tif = make_raster("img.tif", pixels)
    args = ("predict", path, tif, "--dtype", "float32", "--activation", "none",
            "--overlap", "0")
    from .conftest import assert_one_line_error

    result = run_cli(*args, "-o", tmp_path / "odd.tif", "--tile-size", "33")
    assert_one_line_error(result, "unet.onnx", "[1, 2, 34, 34] for a 33 px window",
                          "rounds odd windows up", "--tile-size 32 or 34")
    assert not (tmp_path / "odd.tif").exists()
    result = run_cli(*args, "-o", tmp_path / "even.tif", "--tile-size", "32")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "even.tif") as raster:
        written = raster.read()
    for y, x in ((0, 0), (0, 32), (32, 0), (32, 32)):
        window = (pixels[:, y:y + 32, x:x + 32].astype(np.float32) / 255)[None]
        np.testing.assert_allclose(written[:, y:y + 32, x:x + 32],
                                   ort_run(path, window)[0][0], atol=1e-5)


def test_dtype_uint8_of_raw_features_over_a_folder_is_said_once(tmp_path, run_cli,
                                                                  make_raster):
    """predict sam2_encoder.onnx tiles/ --outputs image_embed --dtype uint8 (raw features,
    written as float32) logged '--dtype uint8 ignored: ...' once per image, the same line
    for a folder of 3 images 3 times (2,000 tiles: 2,000 lines), with --workers too. It is
    a warning now, said once for the run; the outputs stay float32."""
    weights = {"W": np.random.default_rng(96).normal(0, 0.05, (16, 3, 16, 16)).astype(
        np.float32)}
    nodes = [helper.make_node("Conv", ["image", "W"], ["image_embed"], kernel_shape=[16, 16],
                              strides=[16, 16])]
    path = save_graph(tmp_path / "sam2_encoder.onnx", nodes, [("image", FLOAT, [1, 3, 64, 64])],
                      [("image_embed", FLOAT, [1, 16, 4, 4])], weights, ir_version=10)
    (tmp_path / "tiles").mkdir()
    rng = np.random.default_rng(97)
    for k in range(3):
        make_raster(f"tiles/t{k}.tif", rng.integers(0, 256, (3, 64, 64), dtype=np.uint8))
    result = run_cli("predict", path, tmp_path / "tiles", "-o", tmp_path / "out",
                     "--outputs", "image_embed", "--dtype", "uint8")
    assert result.exit_code == 0, result.output
    said = [line for line in result.stderr.splitlines() if "--dtype uint8 ignored" in line]
    assert len(said) == 1 and "sam2_encoder.onnx gives raw values" in said[0], result.stderr
    for k in range(3):
        with rasterio.open(tmp_path / "out" / f"t{k}.tif") as written:
            assert written.dtypes[0] == "float32" and written.tags()["GEOTILE_OUTPUT"] == "raw"


def test_hugging_face_files_saved_with_a_byte_order_mark_are_read(tmp_path):
    """preprocessor_config.json and config.json re-saved on Windows with a UTF-8 BOM (Notepad,
    PowerShell's Out-File) were refused as "not valid JSON (Unexpected UTF-8 BOM ...)";
    now they are read as without it."""
    path = optimum_folder(tmp_path / "m", processor="\ufeff" + json.dumps(HF_PROCESSOR),
                          config="\ufeff" + json.dumps(HF_CONFIG))
    model = onnx.load(str(path))
    model.ir_version = 10
    onnx.save(model, str(path))
    model = OnnxModel.from_path(path)
    assert model.class_names == HF_LABELS
    pixels = np.full((1, 3, 1, 1), 255, np.uint8)
    np.testing.assert_allclose(model.prepare(pixels)[0, :, 0, 0],
                               (1 - np.float32(UNIT_MEAN)) / np.float32(UNIT_STD), rtol=1e-5)
