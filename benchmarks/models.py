"""ONNX models for speed benchmarks, built with onnx.helper (random weights).

- tiny_convnet: two 3x3 convolutions (16 channels) and a 1x1 head: I/O-bound.
- resnet18_unet: a U-Net whose encoder has ResNet-18's layout (7x7/2 stem, max-pool,
  four stages of two basic blocks at 64-128-256-512 channels) and a decoder of
  upsample + skip concat + two 3x3 convs per level; ~5 GMAC per 256 px patch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

IR_VERSION, OPSET = 9, 17  # ONNX Runtime 1.17 (the oldest geotile supports) reads IR <= 9


class GraphBuilder:
    """Accumulates nodes and initialisers with unique names."""

    def __init__(self, seed: int = 0) -> None:
        self.nodes, self.inits, self.count = [], [], 0
        self.rng = np.random.default_rng(seed)
        self.macs = 0

    def name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def conv(self, x: str, cin: int, cout: int, k: int, stride: int = 1, relu: bool = True,
             hw: int = 0) -> str:
        w = self.name("w")
        scale = np.sqrt(2 / (cin * k * k))
        self.inits.append(numpy_helper.from_array(
            (self.rng.standard_normal((cout, cin, k, k)) * scale).astype(np.float32), w))
        b = self.name("b")
        self.inits.append(numpy_helper.from_array(np.zeros(cout, np.float32), b))
        y = self.name("conv")
        self.nodes.append(helper.make_node("Conv", [x, w, b], [y], kernel_shape=[k, k],
                                           strides=[stride, stride], pads=[k // 2] * 4))
        self.macs += cin * cout * k * k * (hw // stride) ** 2
        if not relu:
            return y
        z = self.name("relu")
        self.nodes.append(helper.make_node("Relu", [y], [z]))
        return z

    def op(self, op: str, inputs: list[str], **attrs) -> str:
        y = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [y], **attrs))
        return y

    def upsample(self, x: str) -> str:
        scales = self.name("scales")
        self.inits.append(numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), scales))
        return self.op("Resize", [x, "", scales], mode="nearest")

    def save(self, path: Path, x_in: str, y_out: str, channels: int = 3) -> Path:
        graph = helper.make_graph(
            [*self.nodes, helper.make_node("Sigmoid", [y_out], ["output"])], "bench",
            [helper.make_tensor_value_info(x_in, TensorProto.FLOAT, ["N", channels, "H", "W"])],
            [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 1, "H", "W"])],
            self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = IR_VERSION
        onnx.save(model, str(path))
        return path


def tiny_convnet(path: Path) -> Path:
    g = GraphBuilder()
    x = g.conv("input", 3, 16, 3, hw=256)
    x = g.conv(x, 16, 16, 3, hw=256)
    return g.save(Path(path), "input", g.conv(x, 16, 1, 1, relu=False, hw=256))


def resnet18_unet(path: Path, size: int = 256) -> tuple[Path, float]:
    """Returns (path, GMAC per ``size`` px patch)."""
    g = GraphBuilder()
    skips = []
    x = g.conv("input", 3, 64, 7, stride=2, hw=size)  # 1/2
    skips.append((x, 64))
    x = g.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])  # 1/4
    cin, hw = 64, size // 4
    for stage, cout in enumerate((64, 128, 256, 512)):
        for blk in range(2):
            stride = 2 if stage > 0 and blk == 0 else 1
            y = g.conv(x, cin, cout, 3, stride=stride, hw=hw)
            y = g.conv(y, cout, cout, 3, relu=False, hw=hw // stride)
            shortcut = x if stride == 1 and cin == cout else g.conv(
                x, cin, cout, 1, stride=stride, relu=False, hw=hw)
            x = g.op("Relu", [g.op("Add", [y, shortcut])])
            cin, hw = cout, hw // stride
        if stage < 3:
            skips.append((x, cout))
    for width in (256, 128, 64, 32):
        x = g.upsample(x)
        hw *= 2
        if skips:
            skip, skip_channels = skips.pop()
            x = g.op("Concat", [x, skip], axis=1)
            cin += skip_channels
        x = g.conv(x, cin, width, 3, hw=hw)
        x = g.conv(x, width, width, 3, hw=hw)
        cin = width
    x = g.upsample(x)
    x = g.conv(x, cin, 16, 3, hw=size)
    out = g.conv(x, 16, 1, 1, relu=False, hw=size)
    return g.save(Path(path), "input", out), g.macs / 1e9
