"""Tiny ONNX segmentation models built with onnx.helper, and their numpy references.

- pointwise_model / pointwise_reference: a 1x1 convolution (each output pixel depends
  on one input pixel), so blended tiled prediction must equal whole-image prediction.
- conv3x3_model / conv3x3_reference: a 3x3 convolution with zero padding, for seams.

Options: channels, classes (K), layout "NCHW"/"NHWC", size (None = dynamic H/W,
an int = fixed), batch (None = dynamic), activation "none"/"sigmoid"/"softmax"
applied inside the graph, metadata written to metadata_props (values JSON).
Models are saved with IR version 9 / opset 17, which ONNX Runtime 1.17+ reads (1.17 reads
no IR 10).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

IR_VERSION = 9
OPSET = 17


def conv_weights(channels: int, classes: int, kernel: int, seed: int):
    rng = np.random.default_rng(seed)
    weights = rng.normal(0, 1, (classes, channels, kernel, kernel)).astype(np.float32)
    bias = rng.normal(0, 0.5, classes).astype(np.float32)
    return weights, bias


def _conv_model(path, *, kernel, channels, classes, layout, size, batch, activation, seed,
                metadata, ir_version=IR_VERSION) -> Path:
    weights, bias = conv_weights(channels, classes, kernel, seed)
    h = w = size if size else None
    n = batch if batch else "N"
    dims = (h or "H", w or "W")
    if layout == "NCHW":
        in_shape, out_shape = [n, channels, *dims], [n, classes, *dims]
    else:
        in_shape, out_shape = [n, *dims, channels], [n, *dims, classes]
    nodes, current = [], "input"
    if layout == "NHWC":
        nodes.append(helper.make_node("Transpose", [current], ["nchw"], perm=[0, 3, 1, 2]))
        current = "nchw"
    nodes.append(helper.make_node("Conv", [current, "W", "B"], ["conv"],
                                  pads=[kernel // 2] * 4, kernel_shape=[kernel, kernel]))
    current = "conv"
    if activation == "sigmoid":
        nodes.append(helper.make_node("Sigmoid", [current], ["act"]))
        current = "act"
    elif activation == "softmax":
        nodes.append(helper.make_node("Softmax", [current], ["act"], axis=1))
        current = "act"
    if layout == "NHWC":
        nodes.append(helper.make_node("Transpose", [current], ["nhwc"], perm=[0, 2, 3, 1]))
        current = "nhwc"
    nodes.append(helper.make_node("Identity", [current], ["output"]))
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, out_shape)],
        [numpy_helper.from_array(weights, "W"), numpy_helper.from_array(bias, "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = ir_version
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value if isinstance(value, str) else json.dumps(value)
    path = Path(path)
    onnx.save(model, str(path))
    return path


def pointwise_model(path, *, channels=3, classes=1, layout="NCHW", size=None, batch=None,
                    activation="none", seed=0, metadata=None, ir_version=IR_VERSION) -> Path:
    """A 1x1-conv model; see the module docstring."""
    return _conv_model(path, kernel=1, channels=channels, classes=classes, layout=layout,
                       size=size, batch=batch, activation=activation, seed=seed,
                       metadata=metadata, ir_version=ir_version)


def conv3x3_model(path, *, channels=3, classes=1, layout="NCHW", size=None, batch=None,
                  activation="none", seed=0, metadata=None) -> Path:
    """A 3x3-conv model (zero padding); see the module docstring."""
    return _conv_model(path, kernel=3, channels=channels, classes=classes, layout=layout,
                       size=size, batch=batch, activation=activation, seed=seed,
                       metadata=metadata)


def _activate(out: np.ndarray, activation: str) -> np.ndarray:
    if activation == "sigmoid" or (activation == "auto" and out.shape[1] == 1):
        return 1 / (1 + np.exp(-out))
    if activation in ("softmax", "auto"):
        e = np.exp(out - out.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    return out


def pointwise_reference(batch: np.ndarray, *, channels=3, classes=1, seed=0,
                        activation="auto") -> np.ndarray:
    """The pointwise model on float32 (N, C, H, W), as probabilities (sigmoid/softmax)."""
    weights, bias = conv_weights(channels, classes, 1, seed)
    out = np.einsum("kc,nchw->nkhw", weights[:, :, 0, 0].astype(np.float64), batch)
    return _activate(out + bias.reshape(1, -1, 1, 1), activation)


def conv3x3_reference(batch: np.ndarray, *, channels=3, classes=1, seed=0,
                      activation="auto") -> np.ndarray:
    """The 3x3 model on float32 (N, C, H, W) with zero padding, as probabilities."""
    weights, bias = conv_weights(channels, classes, 3, seed)
    n, _, h, w = batch.shape
    padded = np.pad(batch.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = np.zeros((n, classes, h, w))
    for dy in range(3):
        for dx in range(3):
            out += np.einsum("kc,nchw->nkhw", weights[:, :, dy, dx],
                             padded[:, :, dy : dy + h, dx : dx + w])
    return _activate(out + bias.reshape(1, -1, 1, 1), activation)


# --- models of other people's export shapes (see tests/test_model_formats.py) -------------
def save_graph(path, nodes, inputs, outputs, initializers=(), *, metadata=None,
               external=False, opset=OPSET, ir_version=IR_VERSION) -> Path:
    """Save a graph: ``inputs``/``outputs`` are (name, elem_type, shape) triples, values of
    ``initializers`` numpy arrays keyed by name; ``external``: weights in <name>.data."""
    graph = helper.make_graph(
        nodes, "export",
        [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
        [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in dict(initializers).items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir_version
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value if isinstance(value, str) else json.dumps(value)
    path = Path(path)
    if external:
        onnx.save(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                  location=path.name + ".data", size_threshold=0)
    else:
        onnx.save(model, str(path))
    return path


def conv1x1(name_in, name_out, channels, classes, seed, prefix="c"):
    """A 1x1 Conv node and its initializers."""
    weights, bias = conv_weights(channels, classes, 1, seed)
    node = helper.make_node("Conv", [name_in, f"{prefix}_W", f"{prefix}_B"], [name_out],
                            kernel_shape=[1, 1])
    return node, {f"{prefix}_W": weights, f"{prefix}_B": bias}


def ort_run(path, feed: np.ndarray) -> list[np.ndarray]:
    """All outputs of the model at ``path`` run directly by ONNX Runtime on ``feed``."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: feed})


FLOAT, UINT8, FLOAT16 = TensorProto.FLOAT, TensorProto.UINT8, TensorProto.FLOAT16


def unet_model(path, *, layout="NCHW", size=None, classes=2, final=None, metadata=None,
               seed=20) -> Path:
    """A tiny U-Net as segmentation_models_pytorch (NCHW, logits) or Keras via tf2onnx (NHWC,
    final Softmax over the last axis) export it: conv3x3-relu, maxpool, conv3x3-relu,
    upsample x2, concat with the skip, conv1x1."""
    rng = np.random.default_rng(seed)

    def weights(name, out, inp, k):
        return {f"{name}_W": rng.normal(0, 0.5, (out, inp, k, k)).astype(np.float32),
                f"{name}_B": rng.normal(0, 0.1, out).astype(np.float32)}

    inits = {**weights("e1", 8, 3, 3), **weights("e2", 8, 8, 3), **weights("head", classes,
                                                                          16, 1),
             "scales": np.array([1, 1, 2, 2], np.float32)}
    x = "input"
    nodes = []
    if layout == "NHWC":
        nodes.append(helper.make_node("Transpose", [x], ["x_nchw"], perm=[0, 3, 1, 2]))
        x = "x_nchw"
    nodes += [
        helper.make_node("Conv", [x, "e1_W", "e1_B"], ["e1"], kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["e1"], ["skip"]),
        helper.make_node("MaxPool", ["skip"], ["down"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["down", "e2_W", "e2_B"], ["e2"], kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["e2"], ["deep"]),
        helper.make_node("Resize", ["deep", "", "scales"], ["up"], mode="linear",
                         coordinate_transformation_mode="half_pixel"),
        helper.make_node("Concat", ["up", "skip"], ["cat"], axis=1),
        helper.make_node("Conv", ["cat", "head_W", "head_B"], ["logits"], kernel_shape=[1, 1]),
    ]
    current = "logits"
    if layout == "NHWC":
        nodes.append(helper.make_node("Transpose", [current], ["logits_nhwc"],
                                      perm=[0, 2, 3, 1]))
        current = "logits_nhwc"
    if final == "softmax":
        nodes.append(helper.make_node("Softmax", [current], ["prob"],
                                      axis=3 if layout == "NHWC" else 1))
        current = "prob"
    nodes.append(helper.make_node("Identity", [current], ["output"]))
    h = w = size or None
    dims = [h or "H", w or "W"]
    shape_in = ["N", 3, *dims] if layout == "NCHW" else ["N", *dims, 3]
    shape_out = ["N", classes, *dims] if layout == "NCHW" else ["N", *dims, classes]
    return save_graph(path, nodes, [("input", FLOAT, shape_in)],
                      [("output", FLOAT, shape_out)], inits, metadata=metadata)


def pooled_unet_model(path, *, levels=2, batch="N", height="H", width="W", seed=21) -> Path:
    """An encoder-decoder as exported U-Nets are: MaxPool 2x2 ``levels`` times, nearest
    upsampling x2 back, each concatenated with its skip, so only sizes divisible by
    2**levels run. Its result is pointwise_model's (channels=3, classes=1, ``seed``):
    the decoder's convolutions pass the skip on and weigh the upsampled maps by 0."""
    weights, bias = conv_weights(3, 1, 1, seed)
    nodes, inits, skips, current = [], {"scales": np.array([1, 1, 2, 2], np.float32)}, [], "input"
    for level in range(levels):
        skips.append(current)
        nodes.append(helper.make_node("MaxPool", [current], [f"pool{level}"],
                                      kernel_shape=[2, 2], strides=[2, 2]))
        current = f"pool{level}"
    for level in reversed(range(levels)):
        merge = np.zeros((3, 6, 1, 1), np.float32)
        merge[range(3), range(3, 6)] = 1  # the skip's channels, nothing of the upsampled
        inits[f"merge{level}_W"] = merge
        nodes += [
            helper.make_node("Resize", [current, "", "scales"], [f"up{level}"], mode="nearest"),
            helper.make_node("Concat", [f"up{level}", skips[level]], [f"cat{level}"], axis=1),
            helper.make_node("Conv", [f"cat{level}", f"merge{level}_W"], [f"dec{level}"],
                             kernel_shape=[1, 1]),
        ]
        current = f"dec{level}"
    inits.update(head_W=weights, head_B=bias)
    nodes.append(helper.make_node("Conv", [current, "head_W", "head_B"], ["output"],
                                  kernel_shape=[1, 1]))
    return save_graph(path, nodes, [("input", FLOAT, [batch, 3, height, width])],
                      [("output", FLOAT, [batch, 1, height, width])], inits)


def siamese_model(path, *, names=("x1", "x2"), channels=3, second_channels=None,
                  layout="NCHW", size=None, second_size=None, batch=None, elem=FLOAT,
                  second_elem=None, seed=30, metadata=None) -> Path:
    """A change detection model of two image inputs (``names``, in declaration order):
    ``sigmoid(conv1x1(names[1]) - conv1x1(names[0]))`` per pixel, so that which raster
    reached which input shows (:func:`siamese_reference`)."""
    second_channels = second_channels or channels
    n = batch if batch else "N"
    nodes, convs, inits = [], [], {}
    shapes = []
    types = (elem, second_elem or elem)
    for i, (name, count, side) in enumerate(((names[0], channels, size),
                                            (names[1], second_channels, second_size or size))):
        dims = (side or "H", side or "W")
        shapes.append([n, count, *dims] if layout == "NCHW" else [n, *dims, count])
        current = name
        if layout == "NHWC":
            nodes.append(helper.make_node("Transpose", [name], [f"t{i}"], perm=[0, 3, 1, 2]))
            current = f"t{i}"
        if types[i] != FLOAT:
            nodes.append(helper.make_node("Cast", [current], [f"k{i}"], to=FLOAT))
            current = f"k{i}"
        node, weights = conv1x1(current, f"f{i}", count, 1, seed + i, prefix=f"c{i}")
        nodes.append(node)
        inits.update(weights)
        convs.append(f"f{i}")
    nodes += [helper.make_node("Sub", [convs[1], convs[0]], ["diff"]),
              helper.make_node("Sigmoid", ["diff"], ["act"])]
    out_shape = [n, 1, "H", "W"] if layout == "NCHW" else [n, "H", "W", 1]
    if layout == "NHWC":
        nodes.append(helper.make_node("Transpose", ["act"], ["change"], perm=[0, 2, 3, 1]))
    else:
        nodes.append(helper.make_node("Identity", ["act"], ["change"]))
    return save_graph(path, nodes, [(names[0], types[0], shapes[0]),
                                    (names[1], types[1], shapes[1])],
                      [("change", FLOAT, out_shape)], inits, metadata=metadata)


def siamese_reference(first: np.ndarray, second: np.ndarray, *, seed=30) -> np.ndarray:
    """:func:`siamese_model`'s (1, H, W) output for float (C, H, W) inputs of each date."""
    def conv(pixels, s):
        weights, bias = conv_weights(len(pixels), 1, 1, s)
        return np.einsum("c,chw->hw", weights[0, :, 0, 0].astype(np.float64), pixels) + bias[0]

    return 1 / (1 + np.exp(-(conv(second, seed + 1) - conv(first, seed))))[np.newaxis]


def temporal_model(path, layout="NTCHW", dates=3, channels=2, *, fixed=True, names=None,
                   metadata=None, conv3d=False):
    """``out[c] = sum_t W[t, c] * x[t, c]`` per pixel (W distinct: a date fed out of order
    shows), of a 5-D input in ``layout``; ``fixed``: T and C fixed, else T named
    ``names[0]`` (W[t, c] = (T - t) * w[c]: a CumSum over any count of dates)."""
    axis = 1 if layout == "NTCHW" else 2
    dims = [dates, channels] if axis == 1 else [channels, dates]
    if not fixed:
        dims[axis - 1] = names[0]
    weights = temporal_weights(dates, channels, fixed)
    if not fixed:
        weights = weights[:1] / dates
    shaped = weights.reshape(1, -1, channels, 1, 1) if axis == 1 else \
        weights.T.reshape(1, channels, -1, 1, 1)
    nodes = [helper.make_node("Mul", ["xc", "w"], ["xw"]),
             helper.make_node("ReduceSum", ["xw", "axes"], ["out"], keepdims=0),
             helper.make_node("CumSum", ["x", "axis"], ["xc"]) if not fixed else
             helper.make_node("Identity", ["x"], ["xc"])]
    inits = [numpy_helper.from_array(shaped.astype(np.float32), "w"),
             numpy_helper.from_array(np.array([axis], np.int64), "axes"),
             numpy_helper.from_array(np.array(axis, np.int64), "axis")]
    if conv3d:  # Prithvi's patch embedding: a Conv3d on [N,C,T,H,W], here the identity
        kernel = np.eye(channels, dtype=np.float32).reshape(channels, channels, 1, 1, 1)
        nodes.insert(0, helper.make_node("Conv", ["x0", "k"], ["x"], kernel_shape=[1, 1, 1]))
        inits.append(numpy_helper.from_array(kernel, "k"))
    graph = helper.make_graph(
        nodes, "temporal",
        [helper.make_tensor_value_info("x0" if conv3d else "x", TensorProto.FLOAT,
                                       ["N", *dims, "H", "W"])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", channels, "H", "W"])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 10
    helper.set_model_props(model, dict(metadata or {}))
    onnx.save(model, str(path))
    return path


def temporal_weights(dates, channels, fixed=True):
    """W[t, c] of :func:`temporal_model`."""
    if not fixed:
        return np.outer(np.arange(dates, 0, -1), temporal_weights(1, channels)[0])
    return (np.arange(1, dates * channels + 1, dtype=np.float64).reshape(dates, channels)
            * np.array([1, -1] * channels)[:channels] / 3)


def fixed_frames_model(path, dates=3, channels=2):
    """A 5-D [N,T,C,H,W] input of symbolic T whose graph runs on ``dates`` only (a Reshape to
    [N, dates*channels, H, W], as a position embedding of num_frames fixes T): one class,
    ``sum_{t,c} W[t, c] * x[t, c]`` (W of :func:`temporal_weights`)."""
    weights = temporal_weights(dates, channels).reshape(1, -1, 1, 1).astype(np.float32)
    ints = {"n0": [0], "n1": [1], "hw0": [3], "hw1": [5], "tc": [dates * channels]}
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Slice", ["s", "n0", "n1"], ["n"]),
             helper.make_node("Slice", ["s", "hw0", "hw1"], ["hw"]),
             helper.make_node("Concat", ["n", "tc", "hw"], ["shape"], axis=0),
             helper.make_node("Reshape", ["x", "shape"], ["flat"]),
             helper.make_node("Conv", ["flat", "w"], ["out"], kernel_shape=[1, 1])]
    graph = helper.make_graph(
        nodes, "frames",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", "T", channels, "H", "W"])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 1, "H", "W"])],
        [numpy_helper.from_array(weights, "w"),
         *(numpy_helper.from_array(np.array(v, np.int64), k) for k, v in ints.items())])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 10
    onnx.save(model, str(path))
    return path
