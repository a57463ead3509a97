"""`geotile predict` leaving out an auxiliary head's output (a dynamo export's
aux_classifier / auxiliary_head module) when outputs concatenate heads: a Concat of an
auxiliary head and the main one is the model's own output, every band written as ONNX
Runtime gives it."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from .onnx_models import FLOAT, conv1x1, ort_run, save_graph
from .test_predict_exporters import predicted

RAW = ("--activation", "none", "--dtype", "float32", "--tile-size", "64")


def scoped(node, *scopes):
    """``node`` with the module path dynamo records for it (pkg.torch.onnx.name_scopes)."""
    entry = node.metadata_props.add()
    entry.key, entry.value = "pkg.torch.onnx.name_scopes", repr(["", *scopes, node.output[0]])
    return node


def dynamo_model(path, heads, concats, outputs):
    """A dynamo export without output names: ``heads`` (tensor, module) 3-class 1x1 convs
    of the input in that module, ``concats`` (tensor, inputs) channel Concats in the top
    module's forward (torch.cat), ``outputs`` the graph's outputs."""
    nodes, weights = [], {}
    for k, (name, module) in enumerate(heads):
        conv, more = conv1x1("x", name, 3, 3, seed=60 + k, prefix=f"h{k}")
        nodes.append(scoped(conv, module))
        weights.update(more)
    for name, inputs in concats:
        nodes.append(scoped(helper.make_node("Concat", list(inputs), [name], axis=1)))
    return save_graph(path, nodes, [("x", FLOAT, ["s77", 3, "s53", "s0"])],
                      [(n, FLOAT, ["s77", None, "s53", "s0"]) for n in outputs], weights,
                      opset=18, ir_version=10)


def written_and_reference(tmp_path, run_cli, make_raster, model):
    pixels = np.random.default_rng(61).integers(0, 256, (3, 64, 64), dtype=np.uint8)
    out = predicted(run_cli, model, make_raster("rgb.tif", pixels), *RAW)
    every = ort_run(model, pixels[np.newaxis].astype(np.float32) / np.float32(255))
    return out, every


HEADS = [("conv2d", "aux_classifier"), ("conv2d_1", "classifier"),
         ("conv2d_2", "decode_head.aux_heads.0"), ("conv2d_3", "edge_head")]


@pytest.mark.parametrize("inputs", [("conv2d", "conv2d_1"), ("conv2d_1", "conv2d"),
                                    ("conv2d_2", "conv2d", "conv2d_1")])
def test_one_output_concatenating_heads_is_written_whole(tmp_path, run_cli, make_raster,
                                                         inputs):
    """One output torch.cat([aux, main]) (or [main, aux], or deep supervision's scales):
    every band written, equal to ONNX Runtime's."""
    model = dynamo_model(tmp_path / "cat.onnx", HEADS, [("cat", inputs)], ["cat"])
    out, every = written_and_reference(tmp_path, run_cli, make_raster, model)
    assert out.shape[0] == 3 * len(inputs)
    np.testing.assert_allclose(out, every[0][0], atol=1e-5)


@pytest.mark.parametrize("first", ["conv2d", "conv2d_1"])
def test_a_concat_of_an_auxiliary_and_the_main_head_beside_another_output_is_kept(
        tmp_path, run_cli, make_raster, first):
    """Outputs torch.cat([aux, main]) and an edge head: the Concat was taken for the
    auxiliary head's (the walk followed its first input only) and left out, 3 bands of 9
    written -> a Concat is an auxiliary head's only when all it joins is: 9 bands."""
    second = "conv2d_1" if first == "conv2d" else "conv2d"
    model = dynamo_model(tmp_path / "cat.onnx", HEADS, [("cat", (first, second))],
                         ["cat", "conv2d_3"])
    out, every = written_and_reference(tmp_path, run_cli, make_raster, model)
    assert out.shape[0] == 9
    np.testing.assert_allclose(out, np.concatenate([every[0][0], every[1][0]]), atol=1e-5)


def test_a_concat_of_auxiliary_heads_only_is_left_out(tmp_path, run_cli, make_raster):
    """torch.cat of two auxiliary heads' scales beside the main output: left out."""
    model = dynamo_model(tmp_path / "cat.onnx", HEADS, [("cat", ("conv2d", "conv2d_2"))],
                         ["conv2d_1", "cat"])
    out, every = written_and_reference(tmp_path, run_cli, make_raster, model)
    assert out.shape[0] == 3
    np.testing.assert_allclose(out, every[0][0], atol=1e-5)


def test_the_auxiliary_output_first_is_left_out(tmp_path, run_cli, make_raster):
    """Outputs (aux_classifier's, classifier's): the main head's 3 bands written."""
    model = dynamo_model(tmp_path / "aux_first.onnx", HEADS, [], ["conv2d", "conv2d_1"])
    out, every = written_and_reference(tmp_path, run_cli, make_raster, model)
    assert out.shape[0] == 3
    np.testing.assert_allclose(out, every[1][0], atol=1e-5)


def unet_with_aux(path, outputs):
    """A U-Net's last layers (upsampled decoder features concatenated with the skip, the
    segmentation head's conv over them) and a torchvision aux_classifier head."""
    node = helper.make_node
    up, w_up = conv1x1("pooled", "deep", 3, 4, seed=70, prefix="d")
    head, w_head = conv1x1("joined", "conv2d_5", 7, 2, seed=71, prefix="s")
    aux, w_aux = conv1x1("x", "conv2d_6", 3, 3, seed=72, prefix="a")
    nodes = [node("AveragePool", ["x"], ["pooled"], kernel_shape=[2, 2], strides=[2, 2]),
             scoped(up, "decoder.blocks.0"),
             scoped(node("Resize", ["deep", "", "scales"], ["upsampled"], mode="nearest"),
                    "decoder.blocks.1"),
             scoped(node("Concat", ["upsampled", "x"], ["joined"], axis=1), "decoder.blocks.1"),
             scoped(head, "segmentation_head"), scoped(aux, "aux_classifier")]
    return save_graph(path, nodes, [("x", FLOAT, ["s77", 3, "s53", "s0"])],
                      [(n, FLOAT, ["s77", None, "s53", "s0"]) for n in outputs],
                      {**w_up, **w_head, **w_aux, "scales": np.array([1, 1, 2, 2], np.float32)},
                      opset=18, ir_version=10)


@pytest.mark.parametrize("outputs", [["conv2d_5"], ["conv2d_6", "conv2d_5"],
                                     ["conv2d_5", "conv2d_6"]])
def test_a_unets_skip_concatenation_is_the_main_heads(tmp_path, run_cli, make_raster, outputs):
    """A U-Net ending in a Concat of decoder features and a conv: its 2 bands written."""
    model = unet_with_aux(tmp_path / "unet.onnx", outputs)
    out, every = written_and_reference(tmp_path, run_cli, make_raster, model)
    assert out.shape[0] == 2
    np.testing.assert_allclose(out, every[outputs.index("conv2d_5")][0], atol=1e-5)


@pytest.mark.parametrize("names", [["aux"], ["aux", "edges"], ["edges", "aux"]])
def test_a_users_output_named_aux_is_written(tmp_path, run_cli, make_raster, names):
    """Outputs a user named 'aux' (not torchvision's out/aux pair, no aux module): all."""
    heads = [(n, f"head{k}") for k, n in enumerate(names)]
    model = dynamo_model(tmp_path / "named.onnx", heads, [], names)
    out, every = written_and_reference(tmp_path, run_cli, make_raster, model)
    assert out.shape[0] == 3 * len(names)
    np.testing.assert_allclose(out, np.concatenate([e[0] for e in every]), atol=1e-5)


def test_the_auxiliary_head_beside_a_concat_of_it_and_the_main_head_is_left_out(
        tmp_path, run_cli, make_raster):
    """Outputs torch.cat([aux, main]) and aux_classifier's own: the Concat's 6 bands."""
    model = dynamo_model(tmp_path / "cat.onnx", HEADS, [("cat", ("conv2d", "conv2d_1"))],
                         ["cat", "conv2d"])
    out, every = written_and_reference(tmp_path, run_cli, make_raster, model)
    assert out.shape[0] == 6
    np.testing.assert_allclose(out, every[0][0], atol=1e-5)
