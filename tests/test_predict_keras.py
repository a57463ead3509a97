"""`geotile predict` on Keras models in the graph shapes tf2onnx writes (NHWC input named
input_1 of dim_params unk__N, a Transpose to NCHW in front, a Transpose back before the
end), run through the CLI on georeferenced GeoTIFFs and compared with ONNX Runtime run
directly on the same pixels."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from onnx import helper

from .conftest import assert_one_line_error
from .onnx_models import FLOAT, FLOAT16, conv1x1, ort_run, save_graph

SIZE = 64


def flattened_model(path, *, classes=4, pool=1, activation="Softmax", first=False,
                    **attributes):
    """keras_segmentation's head (get_segmentation_model: Reshape((h * w, -1)), then
    Activation('softmax')) at a fixed SIZE px input, as tf2onnx exports it: the NHWC map
    transposed back, reshaped to [N, h*w, K] by a shape of Shape/Gather/Concat, the
    activation over the last axis; ``pool``: a MaxPool first (vgg_unet's half-size map);
    ``first``: the NCHW map reshaped, [N, K, h*w] (x.flatten(2)), the activation over
    axis 1."""
    side = SIZE // pool
    conv, weights = conv1x1("nchw", "logits", 3, classes, seed=51)
    weights["c_W"] *= 4
    nodes = [helper.make_node("Transpose", ["input_1"], ["nchw"], perm=[0, 3, 1, 2]), conv]
    last = "logits"
    if pool > 1:
        nodes.append(helper.make_node("MaxPool", ["logits"], ["pooled"],
                                      kernel_shape=[pool, pool], strides=[pool, pool]))
        last = "pooled"
    nodes += [
        helper.make_node("Transpose", [last], ["nhwc"], perm=[0, 2, 3, 1])
        if not first else helper.make_node("Identity", [last], ["nhwc"]),
        helper.make_node("Shape", [last], ["shape"]),
        helper.make_node("Gather", ["shape", "zero"], ["batch"]),
        helper.make_node("Concat", ["batch", "tail"], ["flat"], axis=0),
        helper.make_node("Reshape", ["nhwc", "flat"], ["sequence"]),
        helper.make_node(activation, ["sequence"], ["output_0"], **attributes),
    ]
    tail = [classes, side * side] if first else [side * side, classes]
    if first and activation == "Softmax":
        nodes[-1] = helper.make_node("Softmax", ["sequence"], ["output_0"], axis=1)
    weights.update(zero=np.array([0], np.int64), tail=np.array(tail, np.int64))
    return save_graph(path, nodes, [("input_1", FLOAT, ["unk__38", SIZE, SIZE, 3])],
                      [("output_0", FLOAT, ["unk__39", *tail])], weights, opset=13,
                      ir_version=10)


def bilinear(values: np.ndarray, factor: int) -> np.ndarray:
    """(K, h, w) upsampled by ``factor`` with half-pixel centres, edges clamped (numpy)."""
    def matrix(source: int) -> np.ndarray:
        x = np.clip((np.arange(source * factor) + 0.5) / factor - 0.5, 0, source - 1)
        low = np.floor(x).astype(int)
        high = np.minimum(low + 1, source - 1)
        m = np.zeros((source * factor, source))
        np.add.at(m, (np.arange(len(x)), low), 1 - (x - low))
        np.add.at(m, (np.arange(len(x)), high), x - low)
        return m

    rows, cols = matrix(values.shape[1]), matrix(values.shape[2])
    return np.einsum("yh,khw,xw->kyx", rows, values, cols)


@pytest.mark.parametrize(("pool", "first"), [(1, False), (2, False), (1, True)])
def test_a_keras_segmentation_flattened_softmax_is_read_as_its_map(tmp_path, run_cli,
                                                                    make_raster, pool, first):
    """keras_segmentation's models end in Reshape((h*w, K)) and a softmax: [N, 4096, 4] for a
    64 px window (h = w = 64), or [N, 1024, 4] (its half-size map, vgg_unet's). They were
    refused as ViT 'patch tokens of 1 px' (of 2 px) to be reshaped in PyTorch; the rows
    are the map's pixels, row after row, so they are read as the [N, h, w, K] map it is:
    the window's own pixels, or a downscale by 2 upsampled as any other; [N, 4, 4096]
    (a flattened NCHW map) as [N, 4, h, w]."""
    pixels = np.random.default_rng(52).integers(0, 256, (3, SIZE, SIZE), dtype=np.uint8)
    image = make_raster("rgb.tif", pixels)
    model = flattened_model(tmp_path / "vgg_unet.onnx", pool=pool, first=first)
    out_path = tmp_path / "out.tif"
    result = run_cli("predict", model, image, "-o", out_path)
    assert result.exit_code == 0, result.output
    feed = (pixels.astype(np.float32) / np.float32(255)).transpose(1, 2, 0)[np.newaxis]
    side = SIZE // pool
    expected = ort_run(model, feed)[0][0]
    expected = expected.reshape(4, side, side) if first else \
        expected.reshape(side, side, 4).transpose(2, 0, 1)
    if pool > 1:
        expected = bilinear(expected, pool)
    with rasterio.open(out_path) as written, rasterio.open(image) as source:
        assert (written.crs, written.transform, written.shape) == (
            source.crs, source.transform, source.shape)
        np.testing.assert_allclose(written.read(), expected, atol=1e-5)
    classes = tmp_path / "classes.tif"
    result = run_cli("predict", model, image, "-o", classes, "--output-type", "class")
    assert result.exit_code == 0, result.output
    with rasterio.open(classes) as written:
        ids = written.read(1)
    firm = np.sort(expected, axis=0)[-1] - np.sort(expected, axis=0)[-2] > 1e-4
    assert firm.mean() > 0.9
    np.testing.assert_array_equal(ids[firm], expected.argmax(axis=0)[firm])


def test_a_flattened_map_with_a_sigmoid_is_its_one_class_map(tmp_path, run_cli, make_raster):
    """keras_segmentation's sigmoid head of one class, [N, h*w, 1]: its probabilities on
    the window's pixels, and class 1 where p >= 0.5."""
    pixels = np.random.default_rng(53).integers(0, 256, (3, SIZE, SIZE), dtype=np.uint8)
    image = make_raster("rgb.tif", pixels)
    model = flattened_model(tmp_path / "unet.onnx", classes=1, activation="Sigmoid")
    result = run_cli("predict", model, image, "-o", tmp_path / "out.tif")
    assert result.exit_code == 0, result.output
    feed = (pixels.astype(np.float32) / np.float32(255)).transpose(1, 2, 0)[np.newaxis]
    expected = ort_run(model, feed)[0][0].reshape(1, SIZE, SIZE)
    with rasterio.open(tmp_path / "out.tif") as written:
        np.testing.assert_allclose(written.read(), expected, atol=1e-6)


def test_a_flattened_map_whose_softmax_is_over_its_pixels_is_refused(tmp_path, run_cli,
                                                                      make_raster):
    """A Softmax(axis=1) of [N, h*w, K] normalises the window's pixels, not its classes:
    no class probabilities, refused as such (not taken for a map of them)."""
    image = make_raster("rgb.tif", np.zeros((3, SIZE, SIZE), np.uint8))
    model = flattened_model(tmp_path / "unet.onnx", axis=1)
    result = run_cli("predict", model, image, "-o", tmp_path / "out.tif")
    assert_one_line_error(result, "unet.onnx", "Softmax(axis=1)", "[1, 4096, 4]",
                          "not its 4 classes (axis 2)")
    assert not (tmp_path / "out.tif").exists()


def mixed_float16_model(path, classes=4):
    """A Keras model of policy mixed_float16 as tf2onnx exports it: a float32 input
    input_1, a Cast to float16 first, float16 convolutions, a Cast back to float32 before
    the final softmax (its dtype float32)."""
    conv, weights = conv1x1("nchw", "logits", 3, classes, seed=54)
    weights = {k: v.astype(np.float16) for k, v in weights.items()}
    nodes = [helper.make_node("Cast", ["input_1"], ["half"], to=FLOAT16),
             helper.make_node("Transpose", ["half"], ["nchw"], perm=[0, 3, 1, 2]), conv,
             helper.make_node("Cast", ["logits"], ["logits32"], to=FLOAT),
             helper.make_node("Softmax", ["logits32"], ["probabilities"], axis=1),
             helper.make_node("Transpose", ["probabilities"], ["output_0"], perm=[0, 2, 3, 1])]
    return save_graph(path, nodes, [("input_1", FLOAT, ["unk__22", "unk__23", "unk__24", 3])],
                      [("output_0", FLOAT, ["unk__25", "unk__26", "unk__27", classes])],
                      weights, opset=13, ir_version=10)


def test_a_mixed_float16_model_refuses_pixels_beyond_float16(tmp_path, run_cli, make_raster):
    """A mixed_float16 export casts its float32 input to float16 first: raw 16-bit pixels
    of 65535 became inf there, and the model's values NaN, refused as 'a division or log in
    the model on black or nodata input' (a Rescaling after the Cast: exit 0 with the
    saturated pixels' classes of inf). Refused as pixels beyond float16's 65504, naming
    --scale; scaled into it, the output is the model's."""
    pixels = np.random.default_rng(55).integers(0, 65536, (3, 48, 48)).astype(np.uint16)
    pixels[:, :4, :4] = 65535
    image = make_raster("s2.tif", pixels)
    model = mixed_float16_model(tmp_path / "mixed.onnx")
    out = tmp_path / "out.tif"
    result = run_cli("predict", model, image, "-o", out)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.stderr
    error = result.stderr.strip().splitlines()[-1]  # after the warning of unscaled pixels
    for fragment in ("mixed.onnx", "casts its input to float16", "65535", "65504", "--scale"):
        assert fragment in error, error
    assert not out.exists()
    result = run_cli("predict", model, image, "-o", out, "--scale", "0.0001")
    assert result.exit_code == 0, result.output
    feed = (pixels.astype(np.float32) * np.float32(0.0001)).transpose(1, 2, 0)[np.newaxis]
    expected = ort_run(model, feed)[0][0].transpose(2, 0, 1)
    with rasterio.open(out) as written:
        np.testing.assert_allclose(written.read(), expected, atol=1e-6)


def test_a_sequence_made_by_no_reshape_is_not_taken_for_a_flattened_map(tmp_path, run_cli,
                                                                         make_raster):
    """An output [N, 100, 256] of a MatMul (100 queries of 256 features, a DETR-like head)
    has a square count on an axis but flattens no map: refused as no map of the window,
    not read as 100 channels of a 16 x 16 map."""
    image = make_raster("rgb.tif", np.zeros((3, SIZE, SIZE), np.uint8))
    queries = np.random.default_rng(56).normal(0, 1, (1, 100, 3)).astype(np.float32)
    nodes = [helper.make_node("Transpose", ["input_1"], ["nchw"], perm=[0, 3, 1, 2]),
             helper.make_node("GlobalAveragePool", ["nchw"], ["pooled"]),
             helper.make_node("Reshape", ["pooled", "vector"], ["features"]),
             helper.make_node("MatMul", ["queries", "features"], ["scores"]),
             helper.make_node("Expand", ["scores", "wide"], ["output_0"])]
    model = save_graph(tmp_path / "detr.onnx", nodes,
                       [("input_1", FLOAT, ["unk__1", SIZE, SIZE, 3])],
                       [("output_0", FLOAT, ["unk__2", 100, 256])],
                       {"queries": queries, "vector": np.array([1, 3, 1], np.int64),
                        "wide": np.array([1, 100, 256], np.int64)},
                       opset=13, ir_version=10)
    result = run_cli("predict", model, image, "-o", tmp_path / "out.tif")
    assert_one_line_error(result, "detr.onnx", "[1, 100, 256]")
    assert "flattened" not in result.stderr
    assert not (tmp_path / "out.tif").exists()


def strided_model(path, kind: str):
    """A Keras encoder-decoder without skips as tf2onnx exports it: two stride-2 layers (Conv
    of padding 'same': SAME_UPPER, ceil(s / 2); or MaxPooling2D: floor(s / 2)), a 1x1
    Conv, UpSampling2D(4) (a nearest Resize), softmax. At a window no multiple of 4 its
    output is ceil or floor(s / 4) * 4 px, lying at the window's top left."""
    nodes = [helper.make_node("Transpose", ["input_1"], ["x0"], perm=[0, 3, 1, 2])]
    rng = np.random.default_rng(57)
    weights = {}
    for k in range(2):
        if kind == "same":
            weights[f"w{k}"] = rng.normal(0, 0.5, (3, 3, 3, 3)).astype(np.float32)
            nodes.append(helper.make_node("Conv", [f"x{k}", f"w{k}"], [f"x{k + 1}"],
                                          kernel_shape=[3, 3], strides=[2, 2],
                                          auto_pad="SAME_UPPER"))
        else:
            nodes.append(helper.make_node("MaxPool", [f"x{k}"], [f"x{k + 1}"],
                                          kernel_shape=[2, 2], strides=[2, 2]))
    conv, more = conv1x1("x2", "logits", 3, 4, seed=58)
    weights.update(more, scales=np.array([1, 1, 4, 4], np.float32))
    nodes += [conv,
              helper.make_node("Resize", ["logits", "", "scales"], ["up"], mode="nearest"),
              helper.make_node("Softmax", ["up"], ["probabilities"], axis=1),
              helper.make_node("Transpose", ["probabilities"], ["output_0"],
                               perm=[0, 2, 3, 1])]
    return save_graph(path, nodes, [("input_1", FLOAT, ["unk__1", "unk__2", "unk__3", 3])],
                      [("output_0", FLOAT, ["unk__4", "unk__5", "unk__6", 4])], weights,
                      opset=13, ir_version=10)


@pytest.mark.parametrize("kind", ["same", "pool"])
def test_a_window_its_strides_round_is_refused_not_shifted(tmp_path, run_cli, make_raster,
                                                           kind):
    """Stride-4 layers then UpSampling2D(4) give 64 px (ceil) or 60 px (floor) for a 62 px
    window, at its top left. They were taken for padding beyond the kernel (its centre
    taken) or a centred crop of valid convolutions: exit 0, every value 1 px off (and a
    NaN rim). Refused naming a multiple of 4; at 64 px the output is the model's."""
    model = strided_model(tmp_path / "fcn.onnx", kind)
    pixels = np.random.default_rng(59).integers(0, 256, (3, 64, 64), dtype=np.uint8)
    odd = make_raster("odd.tif", pixels[:, :62, :62])
    result = run_cli("predict", model, odd, "-o", tmp_path / "odd_out.tif",
                     "--tile-size", "62")
    assert_one_line_error(result, "fcn.onnx", "multiples of 4", "--tile-size 64")
    assert not (tmp_path / "odd_out.tif").exists()
    image = make_raster("rgb.tif", pixels)
    out = tmp_path / "out.tif"
    result = run_cli("predict", model, image, "-o", out, "--tile-size", "64")
    assert result.exit_code == 0, result.output
    feed = (pixels.astype(np.float32) / np.float32(255)).transpose(1, 2, 0)[np.newaxis]
    expected = ort_run(model, feed)[0][0].transpose(2, 0, 1)
    with rasterio.open(out) as written:
        np.testing.assert_allclose(written.read(), expected, atol=1e-6)


def valid_pooled_model(path, step: int, ceil: bool):
    """A valid 3x3 Conv (1 px margin), an AveragePool of ``step`` (``ceil``: ceil_mode, as
    PyTorch's MaxPool2d(ceil_mode=True)) and a nearest Resize by ``step``: at a window
    whose 2 px smaller valid part is a multiple of ``step``, a crop centred 1 px in."""
    weights = {"w": np.random.default_rng(61).normal(0, 0.5, (2, 3, 3, 3)).astype(np.float32),
               "scales": np.array([1, 1, step, step], np.float32)}
    nodes = [helper.make_node("Conv", ["input", "w"], ["valid"], kernel_shape=[3, 3]),
             helper.make_node("AveragePool", ["valid"], ["pooled"], kernel_shape=[step, step],
                              strides=[step, step], ceil_mode=int(ceil)),
             helper.make_node("Resize", ["pooled", "", "scales"], ["output"], mode="nearest")]
    return save_graph(path, nodes, [("input", FLOAT, [1, 3, "h", "w"])],
                      [("output", FLOAT, [1, 2, "oh", "ow"])], weights, opset=17,
                      ir_version=10)


@pytest.mark.parametrize(("step", "ceil", "size"), [(2, True, 64), (4, True, 66),
                                                    (8, False, 66)])
def test_a_valid_crop_whose_pooling_is_aligned_is_read_centred(tmp_path, run_cli,
                                                                make_raster, step, ceil, size):
    """A valid Conv then a ceil_mode pool (PyTorch) and an upsampling, at a window whose valid
    part is a multiple of the pool (62 px for 2, 64 px for 4): its output, 2 px smaller,
    grows by the pool's step at size + 1 (ceil) and was refused as 'a window no multiple of
    2 px is rounded' at 64 px, a multiple of 2 -> read as the centred crop it is."""
    from geotile.model import OnnxModel

    model = valid_pooled_model(tmp_path / "m.onnx", step, ceil)
    geometry = OnnxModel.from_path(model, tile_size=size).geometry(size)
    assert (geometry.out, geometry.offset) == (size - 2, 1)
    pixels = np.random.default_rng(62).integers(0, 256, (3, size, size), dtype=np.uint8)
    result = run_cli("predict", model, make_raster("rgb.tif", pixels), "-o",
                     tmp_path / "out.tif", "--tile-size", size)
    assert result.exit_code == 0, result.output


def test_a_valid_crop_whose_floor_pooling_is_not_aligned_is_refused(tmp_path, run_cli,
                                                                    make_raster):
    """Valid 3x3 Conv, AveragePool(8), Resize(8) at 68 px: 66 valid px floor to 64, at the
    valid part's top left (1 px in), and size + 1, 2, 4 give the same 64 px: it was taken
    for an aligned floor and centred (2 px in), exit 0, every value 1 px off -> refused,
    naming 66 px (64 valid px), not 64 px, a multiple of 8 whose 62 valid px floor too."""
    model = valid_pooled_model(tmp_path / "m.onnx", 8, False)
    pixels = np.random.default_rng(63).integers(0, 256, (3, 68, 68), dtype=np.uint8)
    result = run_cli("predict", model, make_raster("rgb.tif", pixels), "-o",
                     tmp_path / "out.tif", "--tile-size", "68")
    assert_one_line_error(result, "m.onnx", "--tile-size 66")
    assert not (tmp_path / "out.tif").exists()


def test_queries_a_reshape_makes_of_a_linear_layer_are_not_a_flattened_map(tmp_path, run_cli,
                                                                           make_raster):
    """DETR's class logits [1, 100, 92] as torch exports Linear on queries viewed 2-D
    (Reshape [100, 32], Gemm, Reshape [1, 100, 92]) at a fixed 320 px input, after a
    stride-32 3x3 Conv: they were read as 92 bands of a 10 x 10 map flattened, exit 0 -> a
    Reshape flattens a map only where its input is one (a Conv, pool or Resize's): refused."""
    rng = np.random.default_rng(64)
    weights = {"w": rng.normal(0, 0.1, (32, 3, 3, 3)).astype(np.float32),
               "rows": np.array([100, 32], np.int64),
               "fc": rng.normal(0, 0.1, (32, 92)).astype(np.float32),
               "out": np.array([1, 100, 92], np.int64)}
    nodes = [helper.make_node("Conv", ["input", "w"], ["features"], kernel_shape=[3, 3],
                              strides=[32, 32], pads=[1, 1, 1, 1]),
             helper.make_node("Reshape", ["features", "rows"], ["queries"]),
             helper.make_node("Gemm", ["queries", "fc"], ["scores"]),
             helper.make_node("Reshape", ["scores", "out"], ["logits"])]
    model = save_graph(tmp_path / "detr.onnx", nodes, [("input", FLOAT, [1, 3, 320, 320])],
                       [("logits", FLOAT, [1, 100, 92])], weights, opset=17, ir_version=10)
    image = make_raster("rgb.tif", np.zeros((3, 320, 320), np.uint8))
    result = run_cli("predict", model, image, "-o", tmp_path / "out.tif")
    assert_one_line_error(result, "detr.onnx", "[1, 100, 92]")
    assert not (tmp_path / "out.tif").exists()
