"""Models whose values depend on the run or on a window's batch neighbours (exported in
training mode, random ops, reductions over the batch axis), and per-window normalisations
that must not."""
from __future__ import annotations

import contextlib

import numpy as np
import pytest
import rasterio
from onnx import helper

from .conftest import assert_one_line_error
from .onnx_models import FLOAT, conv1x1, ort_run, save_graph

IN = [("input", FLOAT, ["N", 3, "H", "W"])]
OUT = [("output", FLOAT, ["N", 2, "H", "W"])]
#: a BatchNormalization's scale, bias, running mean and variance
BN = {"s": np.ones(2, np.float32), "b": np.zeros(2, np.float32),
      "m": np.full(2, 0.5, np.float32), "v": np.full(2, 2.0, np.float32)}
DROP = {"ratio": np.array(0.5, np.float32)}


def _model(path, name, batch="N"):
    """The model ``name``: a 1x1 conv and one layer; ``batch``: its input's and output's
    batch (an int: fixed)."""
    conv, weights = conv1x1("input", "conv", 3, 2, 1)
    node = helper.make_node
    mean = node("ReduceMean", ["conv"], ["pooled"], axes=[2, 3], keepdims=0)
    cases = {  # name: (nodes after the conv, initializers, opset)
        "batchnorm_training_mode": ([node("BatchNormalization", ["conv", "s", "b", "m", "v"],
                                          ["output", "rm", "rv"], training_mode=1)], BN, 15),
        "batchnorm_5_outputs": ([node("BatchNormalization", ["conv", "s", "b", "m", "v"],
                                      ["output", "rm", "rv", "sm", "sv"])], BN, 9),
        "dropout_training": ([node("Dropout", ["conv", "ratio", "t"], ["output"])],
                             {**DROP, "t": np.array(True)}, 13),
        "random_normal_like": ([node("RandomNormalLike", ["conv"], ["noise"], scale=0.1),
                                node("Add", ["conv", "noise"], ["output"])], {}, 17),
        "random_uniform": ([node("RandomUniform", [], ["noise"], shape=[1, 2, 1, 1], seed=1.0),
                            node("Add", ["conv", "noise"], ["output"])], {}, 17),
        "multinomial": ([mean, node("Multinomial", ["pooled"], ["drawn"], sample_size=1),
                         node("Cast", ["drawn"], ["f"], to=FLOAT),
                         node("Unsqueeze", ["f", "axes"], ["g"]),
                         node("Add", ["conv", "g"], ["output"])],
                        {"axes": np.array([2, 3], np.int64)}, 17),
        # run as they are: eval mode, or normalisations of each window on its own
        "batchnorm_eval": ([node("BatchNormalization", ["conv", "s", "b", "m", "v"],
                                 ["output"])], BN, 15),
        "dropout_eval": ([node("Dropout", ["conv", "ratio", "t"], ["output"])],
                         {**DROP, "t": np.array(False)}, 13),
        "dropout": ([node("Dropout", ["conv"], ["output"])], {}, 13),
        "instance_norm": ([node("InstanceNormalization", ["conv", "s", "b"], ["output"])],
                          BN, 17),
        "layer_norm": ([node("LayerNormalization", ["conv", "s1", "b1"], ["output"], axis=1)],
                       {"s1": np.ones(1, np.float32), "b1": np.zeros(1, np.float32)}, 17),
        "group_norm": ([node("GroupNormalization", ["conv", "s1", "b1"], ["output"],
                             num_groups=1)],
                       {"s1": np.ones(1, np.float32), "b1": np.zeros(1, np.float32)}, 18),
        # reductions over the batch axis: one window a run
        "reduce_mean_axis_0": ([node("ReduceMean", ["conv"], ["mu"], axes=[0]),
                                node("Sub", ["conv", "mu"], ["output"])], {}, 17),
        "reduce_mean_axis_minus_4": ([node("ReduceMean", ["conv"], ["mu"], axes=[-4, -1]),
                                      node("Sub", ["conv", "mu"], ["output"])], {}, 17),
        "reduce_max_all": ([node("ReduceMax", ["conv"], ["top"]),
                            node("Div", ["conv", "top"], ["output"])], {}, 17),
        "reduce_sum_axis_0_input": ([node("ReduceSum", ["conv", "zero"], ["total"]),
                                     node("Sub", ["conv", "total"], ["output"])],
                                    {"zero": np.array([0], np.int64)}, 17),
        "mean_variance_normalization": ([node("MeanVarianceNormalization", ["conv"],
                                              ["output"])], {}, 17),
        "first_window_gathered": ([node("Gather", ["conv", "zero"], ["first"], axis=0),
                                   node("Add", ["conv", "first"], ["output"])],
                                  {"zero": np.array([0], np.int64)}, 17),
        "first_window_sliced": ([node("Slice", ["conv", "zero", "one", "zero"], ["first"]),
                                 node("Add", ["conv", "first"], ["output"])],
                                {"zero": np.array([0], np.int64),
                                 "one": np.array([1], np.int64)}, 17),
        "channels_sliced": ([node("Slice", ["conv", "zero", "one", "one"], ["first"]),
                             node("Add", ["conv", "first"], ["output"])],
                            {"zero": np.array([0], np.int64),
                             "one": np.array([1], np.int64)}, 17),
        "batch_folded": ([node("Shape", ["conv"], ["shape"]),
                          node("Reshape", ["conv", "flat_shape"], ["flat"]),
                          node("Softmax", ["flat"], ["soft"], axis=-1),
                          node("Reshape", ["soft", "shape"], ["output"])],
                         {"flat_shape": np.array([1, -1], np.int64)}, 17),
        # each window split into 4 rows along the batch axis and back (Swin's attention
        # reshaped by B * windows, traced with a fixed B): windows kept apart
        "windows_split": ([node("Reshape", ["conv", "split_shape"], ["split"]),
                           node("Softmax", ["split"], ["soft"], axis=-1),
                           node("Reshape", ["soft", "back_shape"], ["output"])],
                          {"split_shape": np.array([4 * batch if isinstance(batch, int)
                                                    else -1, 2, 8, 32], np.int64),
                           "back_shape": np.array([-1, 2, 32, 32], np.int64)}, 17),
    }
    nodes, initializers, opset = cases[name]
    inputs, outputs = [(n, t, [batch, *shape[1:]]) for n, t, shape in IN + OUT]
    return save_graph(path, [conv, *nodes], [inputs], [outputs], {**weights, **initializers},
                      opset=opset)


@pytest.fixture
def image(make_raster):
    pixels = np.random.default_rng(3).integers(0, 255, (3, 96, 96)).astype(np.uint8)
    return pixels, make_raster("img.tif", pixels)


def _predict(run_cli, model, tif, out, batch):
    return run_cli("predict", model, tif, "-o", out, "--dtype", "float32", "--tile-size", "32",
                   "--overlap", "0", "--batch-size", batch, "--activation", "none")


@pytest.mark.parametrize("name, fragment", [
    ("batchnorm_training_mode", "BatchNormalization 'bn' in training mode"),
    ("batchnorm_5_outputs", "BatchNormalization 'bn' in training mode"),
    ("dropout_training", "Dropout 'drop' in training mode"),
    ("random_normal_like", "RandomNormalLike 'random'"),
    ("random_uniform", "RandomUniform 'random'"),
    ("multinomial", "Multinomial 'random'")])
def test_training_mode_and_random_ops_are_refused(tmp_path, run_cli, image, name, fragment):
    """A BatchNormalization exported in training mode normalised each batch by its own
    statistics (a window's values 0.15 apart between --batch-size 1 and 8), a Dropout in
    training mode and random ops gave other values every run: all exit 0. Refused now, in
    one line naming the model, the op and the re-export in eval mode; nothing written."""
    path = _model(tmp_path / f"{name}.onnx", name)
    _name_node(path, fragment)
    result = _predict(run_cli, path, image[1], tmp_path / "o.tif", 8)
    assert_one_line_error(result, f"{name}.onnx", fragment, "model.eval()")
    assert not (tmp_path / "o.tif").exists()


def _name_node(path, fragment):
    """Name the layer the fragment names (its quoted word) in the model at ``path``."""
    import onnx

    model = onnx.load(str(path))
    op, label = fragment.split()[0], fragment.split("'")[1]
    next(n for n in model.graph.node if n.op_type == op).name = label
    onnx.save(model, str(path))


@pytest.mark.parametrize("name", [
    "batchnorm_eval", "dropout_eval", "dropout", "instance_norm", "layer_norm", "group_norm",
    "reduce_mean_axis_0", "reduce_mean_axis_minus_4", "reduce_max_all", "reduce_sum_axis_0_input",
    "mean_variance_normalization", "first_window_gathered", "first_window_sliced",
    "channels_sliced", "batch_folded"])
def test_values_do_not_depend_on_the_batch(tmp_path, run_cli, image, name):
    """Eval-mode layers and normalisations over each window (instance, layer, group norm)
    give every window its own values whatever --batch-size; reductions over the batch axis
    (ReduceMean over axis 0 or every axis, MeanVarianceNormalization's default axes 0, 2,
    3, a Reshape folding the batch away) mixed a
    window's values with its batch neighbours' (up to 1.4 apart between --batch-size 1 and
    8, exit 0), as did the first window's values picked by index (x + x[0:1]): such models
    run one window a run now. Each equals ONNX Runtime's run of
    that window alone, twice over."""
    pixels, tif = image
    path = _model(tmp_path / f"{name}.onnx", name)
    written = []
    for batch in (1, 8, 8):
        out = tmp_path / f"o{len(written)}.tif"
        result = _predict(run_cli, path, tif, out, batch)
        assert result.exit_code == 0, result.output
        with rasterio.open(out) as raster:
            written.append(raster.read())
    for y in range(0, 96, 32):
        for x in range(0, 96, 32):
            window = (pixels[:, y:y + 32, x:x + 32].astype(np.float32) / 255)[None]
            alone = ort_run(path, window)[0][0]
            for values in written:
                np.testing.assert_allclose(values[:, y:y + 32, x:x + 32], alone, atol=1e-5)


def test_a_reduction_after_a_deep_chain_is_found(tmp_path):
    """The image's tensors are followed node by node, not by recursion (a ResNet-152 export
    has thousands of nodes in a row: Python stops at 1000 frames)."""
    from geotile.graph_determinism import batch_reduction
    from geotile.onnx_graph import read_graph

    nodes = [helper.make_node("Relu", [f"r{k}" if k else "input"], [f"r{k + 1}"])
             for k in range(1500)]
    nodes.append(helper.make_node("ReduceMean", ["r1500"], ["output"], axes=[0], name="mean"))
    path = save_graph(tmp_path / "deep.onnx", nodes, IN, [("output", FLOAT, [1, 3, "H", "W"])])
    assert batch_reduction(read_graph(path), "input") == "ReduceMean 'mean' over axis 0"


def _upsampling_model(path, producer, opset, op, mode, factor=2):
    """A 1x1 conv at 1 / ``factor`` resolution (MaxPool) upsampled x ``factor`` by ``op`` at
    ``opset``, as ``producer`` writes it."""
    import onnx

    conv, weights = conv1x1("input", "conv", 3, 2, 1)
    pool = helper.make_node("MaxPool", ["conv"], ["half"], kernel_shape=[factor, factor],
                            strides=[factor, factor])
    scales = {"scales": np.array([1, 1, factor, factor], np.float32),
              "roi": np.zeros(0, np.float32)}
    extra = {"coordinate_transformation_mode": "half_pixel"} if opset >= 11 else {}
    inputs = ["half", "roi", "scales"] if opset >= 11 else ["half", "scales"]
    node = helper.make_node(op, inputs, ["output"], mode=mode, **extra)
    path = save_graph(path, [conv, pool, node], IN, OUT, {**weights, **scales}, opset=opset)
    model = onnx.load(str(path))
    model.producer_name = producer
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("producer, opset, op, mode, warned", [
    ("pytorch", 9, "Upsample", "linear", True), ("pytorch", 10, "Resize", "linear", True),
    ("pytorch", 9, "Upsample", "nearest", False), ("tf2onnx", 9, "Upsample", "linear", False),
    ("pytorch", 11, "Resize", "linear", False)])
def test_pytorch_bilinear_upsampling_before_opset_11_is_warned(
        tmp_path, run_cli, image, producer, opset, op, mode, warned):
    """torch.onnx.export before opset 11 writes F.interpolate(mode="bilinear") as an
    Upsample/Resize that ONNX defines with asymmetric coordinates, where PyTorch's are
    half-pixel: the map ONNX Runtime gives is shifted (0.5 px for x2) from the model's own,
    exit 0 without a word. A warning names the layer, the shift and the re-export; nearest
    (asymmetric in both), tf2onnx's (TensorFlow's own asymmetric resize) and opset 11's
    half_pixel are not warned of. The values are ONNX Runtime's in every case."""
    pixels, tif = image
    path = _upsampling_model(tmp_path / "m.onnx", producer, opset, op, mode)
    result = _predict(run_cli, path, tif, tmp_path / "o.tif", 8)
    assert result.exit_code == 0, result.output
    said = [line for line in result.stderr.splitlines() if "opset_version=11" in line]
    assert len(said) == warned, result.stderr
    if warned:
        assert f"its {op} (opset {opset}" in said[0] and "0.5 px" in said[0], said[0]
        assert "m.onnx" in said[0]
    with rasterio.open(tmp_path / "o.tif") as raster:
        written = raster.read()
    window = (pixels[:, :32, :32].astype(np.float32) / 255)[None]
    np.testing.assert_allclose(written[:, :32, :32], ort_run(path, window)[0][0], atol=1e-5)


def _attention_model(path, first_window=False):
    """A pointwise attention-like model as DINOv2, SegFormer (mmseg) and
    nn.MultiheadAttention export it: a 1x1 conv to 3 x 2 channels, reshaped to
    [N, 3, 2, HW], transposed to put q, k, v first ([3, N, 2, HW]: ``qkv.permute(2, 0,
    ...)``), picked by qkv[0], qkv[1], qkv[2] (Gathers of axis 0, scalar indices), q * k + v
    reshaped to [N, 2, H, W]; ``first_window``: plus the first window's v (a Gather of the
    windows' axis, 1 after the Transpose)."""
    conv, weights = conv1x1("input", "conv", 3, 6, 1)
    node = helper.make_node
    nodes = [conv, node("Shape", ["input"], ["s"]),
             node("Slice", ["s", "i0", "i1"], ["n"]), node("Slice", ["s", "i2", "i4"], ["hw"]),
             node("Concat", ["n", "two", "hw"], ["out_shape"], axis=0),
             node("Reshape", ["conv", "qkv_shape"], ["qkv"]),
             node("Transpose", ["qkv"], ["moved"], perm=[1, 0, 2, 3])]
    for k, name in enumerate("qkv"):
        nodes.append(node("Gather", ["moved", f"k{k}"], [name], axis=0))
    nodes += [node("Mul", ["q", "k"], ["qk"]), node("Add", ["qk", "v"], ["a"])]
    if first_window:
        nodes += [node("Gather", ["v", "i0"], ["v0"], axis=0), node("Add", ["a", "v0"], ["b"])]
    nodes.append(node("Reshape", ["b" if first_window else "a", "out_shape"], ["output"]))
    ints = {f"i{k}": np.array([k], np.int64) for k in (0, 1, 2, 4)}
    ints.update({f"k{k}": np.array(k, np.int64) for k in range(3)})
    return save_graph(path, nodes, IN, OUT, {**weights, **ints,
                                             "two": np.array([2], np.int64),
                                             "qkv_shape": np.array([0, 3, 2, -1], np.int64)},
                      opset=17)


@pytest.mark.parametrize("first_window, per_run", [(False, 8), (True, 1)])
def test_q_k_v_picked_after_a_transpose_run_batched(tmp_path, run_cli, image, monkeypatch,
                                                    first_window, per_run):
    """DINOv2's and SegFormer's attention (qkv.permute(2, 0, 3, 1, 4); qkv[0], qkv[1],
    qkv[2]) and nn.MultiheadAttention's Gather axis 0 of a tensor whose windows a Transpose
    moved to axis 1: each window keeps its own values, yet predict ran one window a run (9
    runs for 9 windows at --batch-size 8) -> batched as any model (2 runs); a Gather of the
    windows' own axis after it still runs one window a run. Each window equals ONNX
    Runtime's run of it alone."""

    pixels, tif = image
    path = _attention_model(tmp_path / "attention.onnx", first_window)
    with _runs_fed(monkeypatch) as fed:
        result = _predict(run_cli, path, tif, tmp_path / "o.tif", 8)
    assert result.exit_code == 0, result.output
    batches = [len(f) for f in fed]
    assert max(batches) == per_run, batches
    with rasterio.open(tmp_path / "o.tif") as raster:
        written = raster.read()
    for y in range(0, 96, 32):
        for x in range(0, 96, 32):
            window = (pixels[:, y:y + 32, x:x + 32].astype(np.float32) / 255)[None]
            alone = ort_run(path, window)[0][0]
            np.testing.assert_allclose(written[:, y:y + 32, x:x + 32], alone, atol=1e-5)


@pytest.mark.parametrize("fixed, folded, after", [
    (1, [1, -1], ("Relu", {})), (2, [2, 2, -1], ("Softmax", {"axis": -1}))])
def test_a_batch_reshaped_to_its_own_fixed_size_is_not_said_to_mix(tmp_path, run_cli, image,
                                                                   fixed, folded, after):
    """torch.onnx.export without dynamic_axes writes every Reshape's shape as a constant of
    its batch: of 1 ([1, -1]) -v said 'its Reshape ... to a fixed shape [1, -1] mixes the
    windows of a batch: one window a run' of a model that runs one window a run anyway;
    SegFormer exported with a fixed batch of 2 reshapes its tokens to [2, 32, -1], said to
    mix too, yet each window keeps its own values (and ran 2 a run) -> a fixed leading size
    equal to the model's batch is not said to mix; the map equal to ONNX Runtime's run of
    each window (repeated to the fixed batch)."""
    conv, weights = conv1x1("input", "conv", 3, 2, 1)
    node = helper.make_node
    op, attributes = after
    nodes = [conv, node("Reshape", ["conv", "folded_shape"], ["folded"], name="fold"),
             node(op, ["folded"], ["after"], **attributes),
             node("Reshape", ["after", "shape"], ["output"])]
    path = save_graph(tmp_path / "fixed.onnx", nodes, [("input", FLOAT, [fixed, 3, 32, 32])],
                      [("output", FLOAT, [fixed, 2, 32, 32])],
                      {**weights, "folded_shape": np.array(folded, np.int64),
                       "shape": np.array([fixed, 2, 32, 32], np.int64)}, opset=17)
    pixels, tif = image
    result = run_cli("-v", "predict", path, tif, "-o", tmp_path / "o.tif", "--dtype",
                     "float32", "--overlap", "0", "--activation", "none")
    assert result.exit_code == 0, result.output
    assert "mixes the windows" not in result.stderr, result.stderr
    assert f"{fixed} per batch" in result.stderr, result.stderr
    with rasterio.open(tmp_path / "o.tif") as raster:
        written = raster.read()
    window = (pixels[:, 32:64, 64:96].astype(np.float32) / 255)[None]
    np.testing.assert_allclose(written[:, 32:64, 64:96],
                               ort_run(path, np.repeat(window, fixed, axis=0))[0][0],
                               atol=1e-5)


def test_as_strided_after_a_pooling_runs_batched(tmp_path, run_cli, image, monkeypatch):
    """torch.onnx.export(dynamo=True) writes smp UPerNet's adaptive pooling (as_strided) as
    a Reshape of the pooled [N, C, 1, 1] to [-1] and a Gather of axis 0 whose indices are
    computed from the input's shape (Range(N * C)): ran one window a run ('its Gather
    node_as_strided of windows by index mixes the windows', 9 runs for 9 windows at
    --batch-size 8) -> indices computed from shapes alone pick every window's own values:
    batched; each window equals ONNX Runtime's run of it alone."""

    conv, weights = conv1x1("input", "conv", 3, 2, 1)
    node = helper.make_node
    nodes = [conv, node("ReduceMean", ["conv"], ["mean"], axes=[2, 3]),
             node("Reshape", ["mean", "flat_shape"], ["flat"]),
             node("Shape", ["input"], ["shape"]),
             node("Gather", ["shape", "zero"], ["n"], axis=0),
             node("Mul", ["n", "two"], ["total"]),
             node("Range", ["zero", "total", "one"], ["indices"]),
             node("Gather", ["flat", "indices"], ["picked"], axis=0, name="node_as_strided"),
             node("Unsqueeze", ["n", "axes"], ["n1"]),
             node("Concat", ["n1", "rest"], ["back_shape"], axis=0),
             node("Reshape", ["picked", "back_shape"], ["pooled"]),
             node("Sub", ["conv", "pooled"], ["output"])]
    path = save_graph(tmp_path / "as_strided.onnx", nodes, IN, OUT, {
        **weights, "flat_shape": np.array([-1], np.int64), "zero": np.array(0, np.int64),
        "one": np.array(1, np.int64), "two": np.array(2, np.int64),
        "axes": np.array([0], np.int64), "rest": np.array([2, 1, 1], np.int64)}, opset=17)
    pixels, tif = image
    with _runs_fed(monkeypatch) as fed:
        result = _predict(run_cli, path, tif, tmp_path / "o.tif", 8)
    assert result.exit_code == 0, result.output
    batches = [len(f) for f in fed]
    assert max(batches) == 8, batches
    with rasterio.open(tmp_path / "o.tif") as raster:
        written = raster.read()
    for y in range(0, 96, 32):
        for x in range(0, 96, 32):
            window = (pixels[:, y:y + 32, x:x + 32].astype(np.float32) / 255)[None]
            np.testing.assert_allclose(written[:, y:y + 32, x:x + 32],
                                       ort_run(path, window)[0][0], atol=1e-5)


def test_pytorch_bilinear_resize_by_1_before_opset_11_is_not_warned(tmp_path, run_cli, image):
    """torch.onnx.export at opset 9 of F.interpolate(scale_factor=1, mode="bilinear") (a
    resize to the same size) writes an Upsample of scales 1: warned 'its map is shifted 0 px
    for its x1 ... Re-export it', of a map no coordinate convention shifts -> not warned;
    the values ONNX Runtime's."""
    pixels, tif = image
    path = _upsampling_model(tmp_path / "m.onnx", "pytorch", 9, "Upsample", "linear", 1)
    result = _predict(run_cli, path, tif, tmp_path / "o.tif", 8)
    assert result.exit_code == 0, result.output
    assert "opset_version=11" not in result.stderr, result.stderr
    with rasterio.open(tmp_path / "o.tif") as raster:
        written = raster.read()
    window = (pixels[:, :32, :32].astype(np.float32) / 255)[None]
    np.testing.assert_allclose(written[:, :32, :32], ort_run(path, window)[0][0], atol=1e-5)


#: graphs mixing the windows of a batch (:func:`_model`)
MIXING = ["reduce_mean_axis_0", "reduce_max_all", "mean_variance_normalization",
          "first_window_gathered", "first_window_sliced", "batch_folded"]


@contextlib.contextmanager
def _runs_fed(monkeypatch):
    """The first input of every ONNX Runtime run made inside the block, in order."""
    import onnxruntime

    fed = []
    run = onnxruntime.InferenceSession.run

    def spy(self, names, feed, *args, **kwargs):
        fed.append(next(iter(feed.values())))
        return run(self, names, feed, *args, **kwargs)

    monkeypatch.setattr(onnxruntime.InferenceSession, "run", spy)
    try:
        yield fed
    finally:
        monkeypatch.setattr(onnxruntime.InferenceSession, "run", run)


def _assert_each_window_alone(written, pixels, path, fixed):
    """Each 32 px window of ``written`` equals the model on that window alone, repeated to
    fill its fixed batch."""
    for y in range(0, pixels.shape[1], 32):
        for x in range(0, pixels.shape[2], 32):
            window = pixels[:, y:y + 32, x:x + 32].astype(np.float32) / 255
            np.testing.assert_allclose(written[:, y:y + 32, x:x + 32],
                                       _replicated(path, window, fixed), atol=1e-5)


def _replicated(path, window, fixed):
    """The model's output for ``window`` (C, s, s) fed alone, repeated to fill its batch."""
    return ort_run(path, np.repeat(window[None], fixed, axis=0))[0][0]


@pytest.mark.parametrize("fixed", [2, 4])
@pytest.mark.parametrize("name", MIXING)
def test_a_fixed_batch_that_mixes_windows_runs_each_window_alone(tmp_path, run_cli,
                                                                 make_raster, name, fixed):
    """A model of a batch fixed at 2 or 4 (a traced export) whose graph mixes the windows
    of a batch (x - x.mean(0), x / x.max(), x.view(1, -1), x + x[0:1]) ran full batches
    of different windows: a window's values hung on its neighbours, on --batch-size and
    on the zeros padding the last batch (up to 0.9 apart, exit 0) -> each window runs
    alone, repeated to fill the batch: its values are the model's on it alone, for
    --batch-size 1, 2, 8, images of 1, 5 and 9 windows, and --tta flip."""
    path = _model(tmp_path / f"{name}.onnx", name, fixed)
    rng = np.random.default_rng(7)
    for rows, cols in ((1, 1), (1, 5), (3, 3)):
        pixels = rng.integers(0, 255, (3, 32 * rows, 32 * cols)).astype(np.uint8)
        tif = make_raster(f"img{rows}x{cols}.tif", pixels)
        runs = [("1", "none"), ("2", "none"), ("8", "none"), ("8", "flip")]
        for batch, tta in runs if (rows, cols) == (3, 3) else runs[2:3]:
            out = tmp_path / f"o{rows}{cols}{batch}{tta}.tif"
            result = run_cli("predict", path, tif, "-o", out, "--dtype", "float32",
                             "--tile-size", "32", "--overlap", "0", "--batch-size", batch,
                             "--activation", "none", "--tta", tta)
            assert result.exit_code == 0, result.output
            with rasterio.open(out) as raster:
                written = raster.read()
            for y in range(0, 32 * rows, 32):
                for x in range(0, 32 * cols, 32):
                    window = pixels[:, y:y + 32, x:x + 32].astype(np.float32) / 255
                    alone = _replicated(path, window, fixed)
                    if tta == "flip":
                        alone = (alone + _replicated(path, window[:, :, ::-1], fixed)[:, :, ::-1]
                                 + _replicated(path, window[:, ::-1], fixed)[:, ::-1]) / 3
                    np.testing.assert_allclose(written[:, y:y + 32, x:x + 32], alone,
                                               atol=1e-5, err_msg=f"{batch} {tta} {y} {x}")


@pytest.mark.parametrize("name, fixed, runs", [
    ("reduce_mean_axis_0", 4, 9), ("batch_folded", 2, 9), ("batchnorm_eval", 4, 3),
    ("batchnorm_eval", 2, 5), ("windows_split", 4, 3), ("windows_split", 2, 5)])
def test_runs_of_a_fixed_batch(tmp_path, name, fixed, runs, monkeypatch):
    """9 windows: a fixed batch that mixes windows runs one window a run (9 runs, each
    window repeated to fill the batch); one that does not still runs full batches (3 runs
    of 4, 5 of 2: the last padded), no slower than before. A Reshape to a leading size of
    whole multiples of the fixed batch ([16, 2, 8, 32] of [4, 2, 32, 32]: each window its
    own rows, as Swin's attention traced at a fixed batch) was taken as mixing: 9 runs of
    4 for 9 windows (4 x the work) -> 3."""

    from geotile.model import OnnxModel

    model = OnnxModel.from_path(_model(tmp_path / "m.onnx", name, fixed), tile_size=32,
                                activation="none")
    batch = np.random.default_rng(2).random((9, 3, 32, 32)).astype(np.float32)
    with _runs_fed(monkeypatch) as fed:
        out = model.run(batch)
    assert len(fed) == runs and {len(f) for f in fed} == {fixed}
    for window, values in zip(batch, out, strict=True):
        np.testing.assert_allclose(values, _replicated(tmp_path / "m.onnx", window, fixed),
                                   atol=1e-5)


def test_a_fixed_batch_that_mixes_windows_says_what_it_costs(tmp_path, run_cli, image):
    """-v names the layer, that each window runs alone repeated to fill the fixed batch,
    the cost and the re-export; the windows line says 1 per batch."""
    path = _model(tmp_path / "m.onnx", "reduce_mean_axis_0", 4)
    result = run_cli("-v", "predict", path, image[1], "-o", tmp_path / "o.tif", "--tile-size",
                     "32", "--overlap", "0", "--activation", "none")
    assert result.exit_code == 0, result.output
    said = [line for line in result.stderr.splitlines() if "mixes the windows" in line]
    assert len(said) == 1, result.stderr
    assert "m.onnx" in said[0] and "ReduceMean" in said[0], said[0]
    assert "repeated 4 times" in said[0] and "4 x the work" in said[0], said[0]
    assert "dynamic batch axis" in said[0], said[0]
    assert "1 per batch" in result.stderr, result.stderr


@pytest.mark.parametrize("mixes", [True, False])
def test_a_batch_hidden_in_a_symbolic_graph_that_mixes_windows(tmp_path, run_cli, make_raster,
                                                               mixes):
    """A traced export of symbolic batch whose graph reshapes to its dummy batch of 4
    ([4, 2, 1024]: run 4 at a time, found by ONNX Runtime's error) and subtracts the batch's
    mean (x - x.mean(0)) ran full batches of 4 different windows (exit 0, values off) ->
    each window runs alone, repeated to fill the 4; without the mean its windows still run
    4 a run (3 runs for 9 windows), and -v no longer says that its Reshape mixes windows,
    one a run. Each window equals the model on it alone, repeated."""

    conv, weights = conv1x1("input", "conv", 3, 2, 1)
    node = helper.make_node
    nodes = [conv, node("Reshape", ["conv", "tokens_shape"], ["tokens"]),
             node("Relu", ["tokens"], ["relu"]), node("Shape", ["conv"], ["shape"]),
             node("Reshape", ["relu", "shape"], ["back"])]
    nodes += [node("ReduceMean", ["back"], ["mu"], axes=[0]),
              node("Sub", ["back", "mu"], ["output"])] if mixes else [
        node("Identity", ["back"], ["output"])]
    path = save_graph(tmp_path / "hidden.onnx", nodes, IN, OUT,
                      {**weights, "tokens_shape": np.array([4, 2, 1024], np.int64)}, opset=17)
    pixels = np.random.default_rng(4).integers(0, 255, (3, 96, 96)).astype(np.uint8)
    tif = make_raster("img.tif", pixels)
    with pytest.MonkeyPatch.context() as monkeypatch, _runs_fed(monkeypatch) as inputs:
        result = run_cli("-v", "predict", path, tif, "-o", tmp_path / "o.tif", "--dtype",
                         "float32", "--tile-size", "32", "--overlap", "0", "--batch-size", 8,
                         "--activation", "none")
    fed = [len(f) for f in inputs]
    assert result.exit_code == 0, result.output
    said = [line for line in result.stderr.splitlines() if "mixes the windows" in line]
    assert len(said) == mixes and "one window a run" not in result.stderr, result.stderr
    if mixes:
        assert "ReduceMean" in said[0] and "repeated 4 times" in said[0], said[0]
    assert sum(size == 4 for size in fed) >= (9 if mixes else 3), fed
    if not mixes:
        assert sum(size == 4 for size in fed) <= 4, fed  # 3 runs and the probe
    with rasterio.open(tmp_path / "o.tif") as raster:
        written = raster.read()
    _assert_each_window_alone(written, pixels, path, 4)


def test_padding_of_a_fixed_batch_that_mixes_windows_runs_once(tmp_path, monkeypatch):
    """On GPU providers a strip's last batch is padded with zero windows to --batch-size
    (64): each ran alone, repeated to fill the fixed batch (64 runs of 4 for 2 windows)
    -> a window equal to the one before it takes its output: 3 runs, the values the
    model's on each window alone."""

    from geotile.model import OnnxModel

    path = _model(tmp_path / "m.onnx", "reduce_mean_axis_0", 4)
    model = OnnxModel.from_path(path, tile_size=32, activation="none")
    batch = np.zeros((64, 3, 32, 32), np.float32)
    batch[:2] = np.random.default_rng(2).random((2, 3, 32, 32))
    with _runs_fed(monkeypatch) as fed:
        out = model.run(batch)
    assert len(fed) == 3
    for window, values in zip(batch, out, strict=True):
        np.testing.assert_allclose(values, _replicated(path, window, 4), atol=1e-5)


def test_a_fixed_batch_runs_full_batches_whatever_the_batch_size(tmp_path, run_cli, image,
                                                                  monkeypatch):
    """A batch fixed at 4 that does not mix windows, --batch-size 1 or 2: each batch of 1
    or 2 windows was padded with zeros to 4 (9 runs for 9 windows at --batch-size 1, 5 at
    2, 3 at 8) -> --batch-size is rounded up to whole fixed batches: as many runs as at 8;
    the map the same, equal to the model's run of each window."""

    pixels, tif = image
    path = _model(tmp_path / "m.onnx", "batchnorm_eval", 4)
    counts, written = [], []
    for batch in (1, 2, 8):
        with _runs_fed(monkeypatch) as fed:
            result = _predict(run_cli, path, tif, tmp_path / f"o{batch}.tif", batch)
        assert result.exit_code == 0, result.output
        counts.append(len(fed))
        with rasterio.open(tmp_path / f"o{batch}.tif") as raster:
            written.append(raster.read())
    assert counts[0] == counts[1] == counts[2], counts
    window = pixels[:, 32:64, 64:96].astype(np.float32) / 255
    for values in written:
        np.testing.assert_allclose(values[:, 32:64, 64:96], _replicated(path, window, 4),
                                   atol=1e-5)


def test_whole_fixed_batches_stay_within_the_memory_budget(tmp_path, run_cli, image,
                                                            monkeypatch):
    """--batch-size 1 on a batch fixed at 8 was rounded up to 8 windows a batch whatever
    their size: their outputs are activated, upsampled and blended at full resolution (a
    fixed batch 32 of 150 classes at 512 px: 5 GB, where --batch-size 1 held 157 MB) ->
    rounded up no further than the windows the memory budget holds (3 here), and never
    below --batch-size; the map the same."""
    import geotile.model
    from geotile.model import OnnxModel
    from geotile.predict import PredictOptions, batch_size_for

    pixels, tif = image
    path = _model(tmp_path / "m.onnx", "batchnorm_eval", 8)
    model = OnnxModel.from_path(path, tile_size=32, activation="none")
    window_bytes = model._window_bytes_per_pixel() * 32 * 32
    assert batch_size_for(model, 32, PredictOptions(batch_size=1)) == 8
    monkeypatch.setattr(geotile.model, "MAX_WINDOW_OUTPUT_BYTES", 3 * window_bytes)
    assert batch_size_for(model, 32, PredictOptions(batch_size=1)) == 3
    assert batch_size_for(model, 32, PredictOptions(batch_size=5)) == 5
    assert batch_size_for(model, 32, PredictOptions(batch_size=12)) == 12
    assert batch_size_for(model, 32, PredictOptions()) == 3
    result = _predict(run_cli, path, tif, tmp_path / "o.tif", 1)
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "o.tif") as raster:
        written = raster.read()
    _assert_each_window_alone(written, pixels, path, 8)


def test_a_batch_size_rounded_up_to_the_fixed_batch_is_said(tmp_path, run_cli, image):
    """--batch-size 3 on a batch fixed at 8 ran 8 windows a batch, -v saying only '8 per
    batch' -> it says the model's batch is fixed at 8 and --batch-size 3 was rounded up;
    nothing said at --batch-size 8 or 16, nor without -v."""
    path = _model(tmp_path / "m.onnx", "batchnorm_eval", 8)
    for batch, said in ((3, True), (8, False), (16, False)):
        result = run_cli("-v", "predict", path, image[1], "-o", tmp_path / f"o{batch}.tif",
                         "--tile-size", "32", "--overlap", "0", "--batch-size", batch,
                         "--activation", "none")
        assert result.exit_code == 0, result.output
        line = next(x for x in result.stderr.splitlines() if "per batch" in x)
        assert ("fixed at 8: --batch-size 3 rounded up" in line) == said, line
        assert "8 per batch" in line, line
    result = run_cli("predict", path, image[1], "-o", tmp_path / "q.tif", "--tile-size", "32",
                     "--overlap", "0", "--batch-size", 3, "--activation", "none")
    assert result.exit_code == 0 and "rounded up" not in result.stderr, result.output
