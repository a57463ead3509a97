"""`geotile predict` on models in the graph shapes other exporters write (ViT/DINOv2 patch
heads, ...), run through the CLI on georeferenced GeoTIFFs and compared with ONNX Runtime
run directly on the same pixels."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import rasterio
from onnx import helper

from .conftest import assert_one_line_error
from .onnx_models import FLOAT, conv1x1, ort_run, save_graph


def softmax(values: np.ndarray) -> np.ndarray:
    e = np.exp(values - values.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def resize_reference(values: np.ndarray, factor: int, folder) -> np.ndarray:
    """(1, K, h, w) upsampled by ONNX Runtime's own Resize (linear, half-pixel)."""
    nodes = [helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="linear",
                              coordinate_transformation_mode="half_pixel")]
    path = save_graph(folder / "resize.onnx", nodes,
                      [("x", FLOAT, [1, values.shape[1], "h", "w"])], [("y", FLOAT, None)],
                      {"scales": np.array([1, 1, factor, factor], np.float32)})
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": values.astype(np.float32)})[0]


def predicted(run_cli, model, image, *options):
    """The CLI's output for ``image`` (its values, after checking it kept the grid)."""
    out = image.with_name(image.stem + "_out.tif")
    result = run_cli("predict", model, image, "-o", out, *options)
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as written, rasterio.open(image) as source:
        assert (written.crs, written.transform, written.shape) == (
            source.crs, source.transform, source.shape)
        return written.read()


def patch_head(path, size: int, patch: int, classes: int = 3):
    """A ViT/DINOv2-style head at a fixed ``size`` px input named pixel_values: one token per
    ``patch`` px (an AveragePool standing in for the patch embedding), 1x1 conv logits per
    token [1, K, size/patch, size/patch], not upsampled in the graph (as a linear head on the
    patch tokens is exported)."""
    conv, weights = conv1x1("tokens", "logits", 3, classes, seed=31)
    weights["c_W"] *= 6
    tokens = size // patch
    nodes = [helper.make_node("AveragePool", ["pixel_values"], ["tokens"],
                              kernel_shape=[patch, patch], strides=[patch, patch]), conv]
    return save_graph(path, nodes, [("pixel_values", FLOAT, [1, 3, size, size])],
                      [("logits", FLOAT, [1, classes, tokens, tokens])], weights)


@pytest.mark.parametrize("size", [224, 518])
def test_a_fixed_size_patch_14_head_is_upsampled_not_taken_for_a_crop(tmp_path, run_cli,
                                                                       make_raster, size):
    """DINOv2's 14 px patches at a fixed 224 (16 tokens) or 518 px (37) input: the logits
    are a 1/14 downscale of the window, upsampled then softmaxed, as at 1/16 (ViT-16). They
    were taken for a centred crop of valid convolutions (224: exit 0 with 16 px of values in
    NaN) or refused as a crop that cannot be centred (518)."""
    tokens = size // 14
    coarse = np.random.default_rng(32).integers(0, 256, (3, tokens, tokens), dtype=np.uint8)
    pixels = np.kron(coarse, np.ones((1, 14, 14), np.uint8))  # pooling loses nothing
    image = make_raster("rgb.tif", pixels)
    model = patch_head(tmp_path / "dinov2.onnx", size, 14)
    out = predicted(run_cli, model, image)
    logits = ort_run(model, pixels[np.newaxis].astype(np.float32) / np.float32(255))[0]
    expected = softmax(resize_reference(logits, 14, tmp_path))[0]
    np.testing.assert_allclose(out, expected, atol=2e-5)


def test_a_fixed_size_head_whose_patch_does_not_divide_its_input_is_one_line(
        tmp_path, run_cli, make_raster):
    """14 px patches on a fixed 520 px input (37 tokens, the last one short): no whole
    downscale; refused naming the stride and a size it divides, not as a crop."""
    image = make_raster("rgb.tif", np.zeros((3, 64, 64), np.uint8))
    model = patch_head(tmp_path / "vit.onnx", 520, 14)
    result = run_cli("predict", model, image, "-o", tmp_path / "out.tif")
    assert_one_line_error(result, "stride of 14", "e.g. 518")


def padded_head(path, pad: int, classes: int = 2):
    """A head whose last convolution pads more than its kernel needs (a 1x1 Conv2d with
    padding=``pad``): [N, K, H + 2 pad, W + 2 pad], the window in its centre."""
    conv, weights = conv1x1("input", "logits", 3, classes, seed=33)
    conv.attribute.append(helper.make_attribute("pads", [pad] * 4))
    return save_graph(path, [conv], [("input", FLOAT, ["N", 3, "H", "W"])],
                      [("logits", FLOAT, ["N", classes, f"H+{2 * pad}", f"W+{2 * pad}"])],
                      weights)


@pytest.mark.parametrize("shape", [(300, 300), (1000, 700)])
def test_an_output_wider_than_the_window_by_even_margins_is_cropped_to_its_centre(
        tmp_path, run_cli, make_raster, shape):
    """An output of H+2 (padding beyond the kernel's) holds the window in its centre: cropped
    there, as a valid convolution's smaller output is placed; it was refused as neither the
    window nor a crop of it."""
    pixels = np.random.default_rng(34).integers(0, 256, (3, *shape), dtype=np.uint8)
    image = make_raster("rgb.tif", pixels)
    model = padded_head(tmp_path / "padded.onnx", 1)
    out = predicted(run_cli, model, image)
    logits = ort_run(model, pixels[np.newaxis].astype(np.float32) / np.float32(255))[0]
    np.testing.assert_allclose(out, softmax(logits[:, :, 1:-1, 1:-1])[0], atol=1e-6)


def test_an_output_wider_than_the_window_by_an_odd_margin_is_one_line(tmp_path, run_cli,
                                                                       make_raster):
    """H+1 cannot be centred on the window: refused in one line, not placed off by half a
    pixel."""
    image = make_raster("rgb.tif", np.zeros((3, 64, 64), np.uint8))
    conv, weights = conv1x1("input", "logits", 3, 2, seed=33)
    conv.attribute.append(helper.make_attribute("pads", [0, 0, 1, 1]))
    model = save_graph(tmp_path / "odd.onnx", [conv], [("input", FLOAT, ["N", 3, "H", "W"])],
                       [("logits", FLOAT, ["N", 2, "H+1", "W+1"])], weights)
    result = run_cli("predict", model, image, "-o", tmp_path / "out.tif")
    assert_one_line_error(result, "1 px wider", "cannot be centred")


def upsampled_patch_model(path, patch: int = 14, classes: int = 3):
    """A dynamic-size ViT/DINOv2 segmenter as torch.onnx.export(dynamo=True) writes it
    (opset 18, IR 10, dims s0/s1/s2): a patch embedding (Conv of kernel and stride
    ``patch``), 1x1 conv logits per token, upsampled in the graph to the input's size
    (``F.interpolate(size=x.shape[-2:], mode='bilinear')``)."""
    embed = np.random.default_rng(35).normal(0, 0.05, (8, 3, patch, patch)).astype(np.float32)
    conv, weights = conv1x1("tokens", "coarse", 8, classes, seed=36)
    nodes = [helper.make_node("Conv", ["x", "embed"], ["tokens"], kernel_shape=[patch, patch],
                              strides=[patch, patch]), conv,
             helper.make_node("Shape", ["x"], ["x_shape"]),
             helper.make_node("Shape", ["coarse"], ["coarse_shape"]),
             helper.make_node("Slice", ["coarse_shape", "zero", "two"], ["nk"]),
             helper.make_node("Slice", ["x_shape", "two", "four"], ["hw"]),
             helper.make_node("Concat", ["nk", "hw"], ["sizes"], axis=0),
             helper.make_node("Resize", ["coarse", "", "", "sizes"], ["logits"],
                              mode="linear", coordinate_transformation_mode="half_pixel")]
    ends = {"zero": np.array([0]), "two": np.array([2]), "four": np.array([4])}
    return save_graph(path, nodes, [("x", FLOAT, ["s0", 3, "s1", "s2"])],
                      [("logits", FLOAT, ["s0", classes, "s1", "s2"])],
                      {**weights, "embed": embed, **ends}, opset=18, ir_version=10)


def test_patch_14_logits_upsampled_in_the_graph_are_predicted_on_whole_patches(
        tmp_path, run_cli, make_raster):
    """A dynamic DINOv2-style model upsampling its 14 px tokens to its input in the graph ran
    at the default 512 px windows: 36 tokens cover 504 px and were stretched over 512, the
    class edges up to 8 px off (max 0.74 from its probabilities on the whole image, exit 0).
    Windows are now whole patches (518 px) that start on the image's patch grid."""
    pixels = np.random.default_rng(37).integers(0, 256, (3, 560, 700), dtype=np.uint8)
    model = upsampled_patch_model(tmp_path / "dinov2_seg.onnx")
    out = predicted(run_cli, model, make_raster("rgb.tif", pixels))
    logits = ort_run(model, pixels[np.newaxis].astype(np.float32) / np.float32(255))[0]
    inner = (slice(None), slice(14, -14), slice(14, -14))
    np.testing.assert_allclose(out[inner], softmax(logits)[0][inner], atol=1e-5)


def test_patch_14_windows_of_another_size_are_one_line(tmp_path, run_cli, make_raster):
    """--tile-size 500 (35.7 patches): refused naming the patch and a size that is whole
    patches, nothing written."""
    model = upsampled_patch_model(tmp_path / "dinov2_seg.onnx")
    image = make_raster("rgb.tif", np.zeros((3, 64, 64), np.uint8))
    result = run_cli("predict", model, image, "-o", tmp_path / "out.tif", "--tile-size", "500")
    assert_one_line_error(result, "dinov2_seg.onnx", "14 px patches", "--tile-size 504")
    assert not (tmp_path / "out.tif").exists()


def test_a_patched_model_that_runs_on_no_such_size_is_told_the_size_it_runs_on(
        tmp_path, run_cli, make_raster):
    """4 px patches, then two 2x2 poolings joined back by skips (ConvNeXt/UperNet-like): at
    --tile-size 250 ONNX Runtime cannot run it; the patch check (250 -> 252) came first and
    named a size that fails the same way. The size offered is the one it runs on."""
    embed = np.random.default_rng(38).normal(0, 0.1, (2, 3, 4, 4)).astype(np.float32)
    up = helper.make_node("Resize", ["p2", "", "two_x"], ["r1"], mode="nearest")
    nodes = [helper.make_node("Conv", ["x", "embed"], ["t"], kernel_shape=[4, 4],
                              strides=[4, 4]),
             helper.make_node("MaxPool", ["t"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("MaxPool", ["p1"], ["p2"], kernel_shape=[2, 2], strides=[2, 2]),
             up, helper.make_node("Add", ["r1", "p1"], ["a1"]),
             helper.make_node("Resize", ["a1", "", "two_x"], ["r2"], mode="nearest"),
             helper.make_node("Add", ["r2", "t"], ["coarse"]),
             helper.make_node("Resize", ["coarse", "", "four_x"], ["logits"], mode="linear")]
    model = save_graph(tmp_path / "convnext.onnx", nodes, [("x", FLOAT, ["N", 3, "H", "W"])],
                       [("logits", FLOAT, ["N", 2, "H", "W"])],
                       {"embed": embed, "two_x": np.array([1, 1, 2, 2], np.float32),
                        "four_x": np.array([1, 1, 4, 4], np.float32)}, ir_version=10)
    image = make_raster("rgb.tif", np.zeros((3, 64, 64), np.uint8))
    result = run_cli("predict", model, image, "-o", tmp_path / "out.tif", "--tile-size", "250")
    assert_one_line_error(result, "convnext.onnx", "multiples of 16", "--tile-size 256")
    assert not (tmp_path / "out.tif").exists()


@pytest.mark.parametrize("order", ["tokens-then-classes", "classes-then-tokens"])
def test_a_patch_token_sequence_output_is_told_to_be_exported_as_a_grid(tmp_path, run_cli,
                                                                        make_raster, order):
    """A linear head on DINOv2's patch tokens exported as their sequence, [N, 1369, 5] at 518
    px (37 x 37 tokens) or [N, 5, 1369], was refused as 'neither the window nor a centred
    crop or an integer downscale of it (super-resolution and classifier outputs are not
    supported)'; it is told the tokens' grid and the reshape that makes a map of them."""
    embed = np.random.default_rng(39).normal(0, 0.1, (5, 3, 14, 14)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "embed"], ["grid"], kernel_shape=[14, 14],
                              strides=[14, 14]),
             helper.make_node("Reshape", ["grid", "flat"], ["sequence"])]
    shape = ["N", 5, "T"]
    if order == "tokens-then-classes":
        nodes.append(helper.make_node("Transpose", ["sequence"], ["logits"], perm=[0, 2, 1]))
        shape = ["N", "T", 5]
    else:
        nodes[-1].output[0] = "logits"
    model = save_graph(tmp_path / "tokens.onnx", nodes, [("x", FLOAT, ["N", 3, "H", "W"])],
                       [("logits", FLOAT, shape)],
                       {"embed": embed, "flat": np.array([0, 5, -1])}, ir_version=10)
    image = make_raster("rgb.tif", np.zeros((3, 64, 64), np.uint8))
    result = run_cli("predict", model, image, "-o", tmp_path / "out.tif")
    assert_one_line_error(result, "tokens.onnx", "37 x 37", "14 px", "[N, 5, 37, 37]")
    assert "super-resolution" not in result.stderr
    assert not (tmp_path / "out.tif").exists()


def dynamo_two_heads(path, scopes):
    """torchvision's out/aux model as torch.onnx.export(dynamo=True) writes it without
    output_names: its dict's outputs named after their ops (conv2d, conv2d_1), the modules
    they come from only in each node's metadata (pkg.torch.onnx.name_scopes)."""
    nodes, weights = [], {}
    for k, (name, scope) in enumerate(zip(("conv2d", "conv2d_1"), scopes, strict=True)):
        conv, more = conv1x1("x", name, 3, 3, seed=40 + k, prefix=f"h{k}")
        entry = conv.metadata_props.add()
        entry.key, entry.value = "pkg.torch.onnx.name_scopes", repr(["", scope, name])
        nodes.append(conv)
        weights.update(more)
    return save_graph(path, nodes, [("x", FLOAT, ["s77", 3, "s53", "s0"])],
                      [(n, FLOAT, ["s77", 3, "s53", "s0"]) for n in ("conv2d", "conv2d_1")],
                      weights, opset=18, ir_version=10)


def test_a_dynamo_exports_auxiliary_head_is_told_by_its_module(tmp_path, run_cli,
                                                               make_raster):
    """A torchvision segmentation model of aux_loss=True exported by dynamo without
    output_names: its outputs conv2d (classifier) and conv2d_1 (aux_classifier) were both
    written, 6 bands, the auxiliary head's as classes of their own. The head whose module
    is aux_classifier is left out, as 'aux' is; heads of other modules are all written."""
    pixels = np.random.default_rng(41).integers(0, 256, (3, 64, 80), dtype=np.uint8)
    image = make_raster("rgb.tif", pixels)
    model = dynamo_two_heads(tmp_path / "deeplab.onnx", ("classifier", "aux_classifier"))
    out = predicted(run_cli, model, image)
    logits = ort_run(model, pixels[np.newaxis].astype(np.float32) / np.float32(255))
    np.testing.assert_allclose(out, softmax(logits[0])[0], atol=1e-6)
    both = dynamo_two_heads(tmp_path / "two.onnx", ("seg_head", "edge_head"))
    assert predicted(run_cli, both, make_raster("rgb2.tif", pixels)).shape[0] == 6


def test_patch_14_model_is_probed_once_at_its_default_size(tmp_path, monkeypatch):
    """Loading a dynamic 14 px patch model ran it twice: at 512 px (refused: 36.6 patches)
    and again at 518 (a ViT-L-sized graph: 5.5 s of its 22 s load) -> the default size is
    whole patches from the start: one run, at 518 px."""
    import onnxruntime

    from geotile.model import OnnxModel

    model = upsampled_patch_model(tmp_path / "dinov2_seg.onnx")
    sizes = []
    run = onnxruntime.InferenceSession.run

    def spy(self, names, feed, *args, **kwargs):
        sizes.append(next(iter(feed.values())).shape[-1])
        return run(self, names, feed, *args, **kwargs)

    monkeypatch.setattr(onnxruntime.InferenceSession, "run", spy)
    loaded = OnnxModel.from_path(model)
    assert sizes == [518]
    assert loaded.tile_size == 518


def convnext_stem_model(path, classes: int = 2):
    """A ConvNeXt-encoded segmenter as torch.onnx.export writes smp's Unet('tu-convnext_*')
    or torchvision's convnext: a 4 px stem (a Conv of kernel and stride 4, no pads, as a
    patch embedding), LayerNorm2d (Transpose, LayerNormalization, Transpose), a 3x3 Conv
    over the 4 px grid with its residual, 1x1 conv logits upsampled x4 in the graph."""
    rng = np.random.default_rng(41)
    head, weights = conv1x1("mixed", "coarse", 8, classes, seed=42)
    node = helper.make_node
    nodes = [node("Conv", ["x", "stem"], ["cells"], kernel_shape=[4, 4], strides=[4, 4]),
             node("Transpose", ["cells"], ["nhwc"], perm=[0, 2, 3, 1]),
             node("LayerNormalization", ["nhwc", "ln_s", "ln_b"], ["normed"], axis=-1),
             node("Transpose", ["normed"], ["nchw"], perm=[0, 3, 1, 2]),
             node("Conv", ["nchw", "dw"], ["spread"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             node("Add", ["nchw", "spread"], ["mixed"]), head,
             node("Resize", ["coarse", "", "scales"], ["logits"], mode="linear",
                  coordinate_transformation_mode="half_pixel")]
    initializers = {**weights, "stem": rng.normal(0, 0.1, (8, 3, 4, 4)).astype(np.float32),
                    "dw": rng.normal(0, 0.1, (8, 8, 3, 3)).astype(np.float32),
                    "ln_s": np.ones(8, np.float32), "ln_b": np.zeros(8, np.float32),
                    "scales": np.array([1, 1, 4, 4], np.float32)}
    return save_graph(path, nodes, [("x", FLOAT, ["N", 3, "H", "W"])],
                      [("logits", FLOAT, ["N", classes, "H", "W"])], initializers, opset=17)


def test_a_convnext_stem_is_not_taken_for_a_vit_patch_embedding(tmp_path, run_cli, make_raster):
    """A ConvNeXt encoder's 4 px stem (kernel = stride 4, no pads) was read as a ViT patch
    embedding: --overlap 0 at 32 px windows became 4 px ('covers the centre 28 px'), 16
    windows for 9, each window's outer 2 px blended away (values up to 0.5 from its own
    run). A 3x3 Conv over its cells before any token Reshape makes it a CNN: windows as
    asked, each equal to ONNX Runtime's run of it alone."""
    pixels = np.random.default_rng(43).integers(0, 256, (3, 96, 96), dtype=np.uint8)
    model = convnext_stem_model(tmp_path / "unet_convnext.onnx")
    image = make_raster("rgb.tif", pixels)
    result = run_cli("-v", "predict", model, image, "-o", tmp_path / "out.tif", "--tile-size",
                     "32", "--overlap", "0", "--activation", "none", "--dtype", "float32")
    assert result.exit_code == 0, result.output
    assert "3 x 3 windows of 32 px, overlap 0 px" in result.stderr, result.stderr
    with rasterio.open(tmp_path / "out.tif") as written:
        out = written.read()
    for y in range(0, 96, 32):
        for x in range(0, 96, 32):
            window = pixels[np.newaxis, :, y:y + 32, x:x + 32].astype(np.float32) / 255
            np.testing.assert_allclose(out[:, y:y + 32, x:x + 32], ort_run(model, window)[0][0],
                                       atol=1e-5)


def test_a_wrapped_dynamo_exports_auxiliary_head_is_told_through_its_resize(
        tmp_path, run_cli, make_raster):
    """torchvision's out/aux model exported by dynamo inside a wrapper (``self.model =
    deeplabv3_...``; forward returning model(x)['out'], model(x)['aux']) without
    output_names: each head's Conv is in model.classifier / model.aux_classifier, the
    F.interpolate after it in the wrapper's 'model' scope. The walk stopped at that Resize
    (a module, no 'aux' in it): both heads written, 6 bands -> the auxiliary head is found
    through it and left out, 3 bands equal to the main head's softmax."""
    pixels = np.random.default_rng(44).integers(0, 256, (3, 64, 64), dtype=np.uint8)
    nodes, weights = [], {"scales": np.array([1, 1, 2, 2], np.float32)}
    for k, head in enumerate(("classifier", "aux_classifier")):
        conv, more = conv1x1("pooled", f"conv2d_{k}", 3, 3, seed=45 + k, prefix=f"h{k}")
        resize = helper.make_node("Resize", [f"conv2d_{k}", "", "scales"],
                                  [f"upsample_bilinear2d_{k}"], mode="linear",
                                  coordinate_transformation_mode="half_pixel")
        for node, scopes in ((conv, ["", "model", f"model.{head}", f"conv2d_{k}"]),
                             (resize, ["", "model", f"upsample_bilinear2d_{k}"])):
            entry = node.metadata_props.add()
            entry.key, entry.value = "pkg.torch.onnx.name_scopes", repr(scopes)
        nodes += [conv, resize]
        weights.update(more)
    pool = helper.make_node("AveragePool", ["x"], ["pooled"], kernel_shape=[2, 2],
                            strides=[2, 2])
    model = save_graph(tmp_path / "wrapped.onnx", [pool, *nodes],
                       [("x", FLOAT, ["s77", 3, "s53", "s0"])],
                       [(f"upsample_bilinear2d_{k}", FLOAT, ["s77", 3, "s53", "s0"])
                        for k in range(2)], weights, opset=18, ir_version=10)
    out = predicted(run_cli, model, make_raster("rgb.tif", pixels), "--tile-size", "64")
    logits = ort_run(model, pixels[np.newaxis].astype(np.float32) / np.float32(255))
    assert out.shape[0] == 3
    np.testing.assert_allclose(out, softmax(logits[0])[0], atol=1e-5)


@pytest.mark.parametrize("norm", ["InstanceNormalization", "LayerNormalization"])
def test_a_patch_embedding_after_a_normalisation_layer_is_found(tmp_path, run_cli,
                                                                make_raster, norm):
    """A ViT normalising its input in the graph (per image: InstanceNormalization; per
    pixel over its bands: LayerNormalization of the channel axis between Transposes) before
    its 14 px patch embedding ran --tile-size 500 windows (35.7 patches, exit 0, its tokens
    stretched over 500 px) where a BatchNormalization's was refused: both keep the pixels
    in place, so the patches are found and the size refused in one line."""
    import onnx

    model = upsampled_patch_model(tmp_path / "plain.onnx")
    proto = onnx.load(model)
    graph = proto.graph
    graph.node[0].input[0] = "normed"
    ones = np.ones(3, np.float32)
    graph.initializer.extend([onnx.numpy_helper.from_array(ones, "gamma"),
                              onnx.numpy_helper.from_array(ones * 0, "beta")])
    if norm == "InstanceNormalization":
        layers = [helper.make_node(norm, ["x", "gamma", "beta"], ["normed"])]
    else:
        layers = [helper.make_node("Transpose", ["x"], ["nhwc"], perm=[0, 2, 3, 1]),
                  helper.make_node(norm, ["nhwc", "gamma", "beta"], ["ln"], axis=-1),
                  helper.make_node("Transpose", ["ln"], ["normed"], perm=[0, 3, 1, 2])]
    for node in reversed(layers):
        graph.node.insert(0, node)
    onnx.save(proto, tmp_path / "normed.onnx")
    image = make_raster("rgb.tif", np.zeros((3, 64, 64), np.uint8))
    result = run_cli("predict", tmp_path / "normed.onnx", image, "-o", tmp_path / "out.tif",
                     "--tile-size", "500")
    assert_one_line_error(result, "normed.onnx", "14 px patches", "--tile-size 504")
    assert not (tmp_path / "out.tif").exists()
