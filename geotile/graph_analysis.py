"""What an ONNX model's graph says before it runs: whether it scales its 0..255 input
itself, its input's channels, the final values each output gives (an activation and their
range, class ids) and whether it is quantised."""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geotile.model_file import load_model

#: ops that only move, select or relabel values: a Sigmoid/Softmax before them is final;
#: an int8 model's QuantizeLinear and DequantizeLinear give its values back to a quantum
_PASS_THROUGH_OPS = {"Identity", "Transpose", "Reshape", "Squeeze", "Unsqueeze", "Cast",
                     "Gather", "GatherElements", "Slice", "Split", "Flatten", "Expand", "Tile",
                     "Resize", "Upsample", "Concat", "DepthToSpace", "SpaceToDepth",
                     "QuantizeLinear", "DequantizeLinear"}
#: the range of each final activation's values (QLinearSigmoid: onnxruntime.quantization's
#: QOperator Sigmoid, com.microsoft)
_FINAL_ACTIVATIONS = {"Sigmoid": ("sigmoid", 0.0, 1.0), "HardSigmoid": ("sigmoid", 0.0, 1.0),
                      "QLinearSigmoid": ("sigmoid", 0.0, 1.0),
                      "Softmax": ("softmax", 0.0, 1.0), "Tanh": ("final", -1.0, 1.0)}
#: pass-through ops that keep every axis and its length (a Resize keeps the channels')
_AXES_KEPT_OPS = {"Identity", "Cast", "Resize", "Upsample", "QuantizeLinear",
                  "DequantizeLinear"}
#: reductions over channels of final values are final (the most likely class's probability)
_REDUCTIONS = {"ReduceMax", "ReduceMin", "ReduceMean"}
#: ops whose outputs are class ids or booleans, not scores
_ID_OPS = {"ArgMax", "ArgMin", "Greater", "Less", "Equal", "GreaterOrEqual", "LessOrEqual",
           "And", "Or", "Not", "Xor"}
#: elementwise ops whose result, from final values and constants only, is final too, with
#: the range they map it to: Clip(p, 0, 1), the [1 - p, p] pair a one-sigmoid binary model
#: exports, (tanh + 1) / 2; p * 100 is final but not probabilities
_ELEMENTWISE_OPS = {"Clip", "Mul", "Div", "Add", "Sub", "Min", "Max", "Mean", "Sum", "Round",
                    "Floor", "Ceil", "Neg", "Abs", "Relu", "Sqrt", "Pow"}
#: values a float output may overshoot 0..1 by and still be probabilities (float16 models)
PROBABILITY_TOLERANCE = 2e-3

#: ops before a model's own input scaling that do not change the pixel values
_INPUT_PASS_OPS = {"Cast", "Identity", "Transpose"}
#: ops that pick, reorder or reshape the pixels without changing them (an RGB to BGR swap:
#: a Gather of channels 2, 1, 0, torch's ``x.flip(1)`` as a Slice, a Split and Concat)
_VALUE_PASS_OPS = _INPUT_PASS_OPS | {"Gather", "Slice", "Split", "Concat", "Reshape",
                                     "Squeeze", "Unsqueeze", "Flatten", "QuantizeLinear",
                                     "DequantizeLinear"}
#: onnxruntime.quantization's QOperator Mul and Add (com.microsoft): inputs A, its scale and
#: zero point, B, its scale and zero point, then the output's
_QLINEAR_OPS = {"QLinearMul": "Mul", "QLinearAdd": "Add"}
#: ops that keep the pixels' range whatever their other inputs (pads or sizes computed from
#: the input's shape): a Pad (reflect, edge or a fill in 0..255), a Resize or Upsample
_RANGE_PASS_OPS = {"Pad", "Resize", "Upsample"}
#: ops that read only a tensor's shape (torch's ``F.interpolate(size=x.shape[-2:])``)
_SHAPE_OPS = {"Shape", "Size"}


def graph_scales_input(graph, input_name: str, wide: bool = False) -> str:
    """Why the model takes 0..255 pixels, else "": the input, through ops that keep its values
    (Cast, Transpose, a channel swap by Gather, Slice or Split and Concat) or their range
    (Pad, Resize), goes into a Mul by ~1/255 or 1/127.5 or a Div by 255 or 127.5 (keras
    Rescaling, torch ``x / 255``), or into a Sub of a mean or a Div by a std (or Add/Mul of
    their inverse, or a BatchNormalization) of 0..255 pixels (torch's
    ``(x - 123.675) / 58.395``, keras Normalization, caffe's data_bn): every channel's above
    1 and up to 255, one at least 10. Shape and Size of the input are left aside. ``wide``:
    why it takes raw 12- or 16-bit pixels instead (a Div by 10000 or 4095 on every channel,
    a Sub of means above 255: a Keras Normalization adapted on Sentinel-2 DN)."""
    from geotile.onnx_graph import attribute, constant_values, dequantized

    constants = constant_values(graph)

    def for_0_255(values) -> bool:
        """Means or stds of 0..255 pixels on every channel: a 0..1 model's are below 1 (an
        nDSM channel's 12 m beside them is not), a shift or scale by 1.5 or 2 is not."""
        return bool((values > 1).all() and (values <= 255).all() and values.max() >= 10)

    def known(names) -> list | None:
        values = [constants.get(n) for n in names]
        return None if any(v is None or v.size == 0 or not np.isfinite(v).all()
                           for v in values) else values

    def subtracts(means) -> str:
        return (f"it subtracts a mean for 0..255 pixels itself ({means.max():.6g})"
                if for_0_255(means) else "")

    def multiplies(factors) -> str:
        if not (factors > 0).all():
            return ""
        if np.ptp(factors) <= 1e-9 * factors.max() and any(
                abs(factors.max() * top - 1) < 1e-3 for top in (255, 127.5)):
            return "it divides its input by 255 itself"
        return (f"it divides by a std for 0..255 pixels itself ({1 / factors.max():.6g})"
                if for_0_255(1 / factors) else "")

    def why(node, name: str) -> str:
        if node.op_type in _QLINEAR_OPS:  # A (B) dequantized by its own scale, zero point
            data = [k for k in (0, 3) if len(node.input) > k + 2 and node.input[k] == name]
            other = 3 - data[0] if len(data) == 1 else None
            values = dequantized(constants, node.input[other], node.input[other + 1:other + 3]
                                 ) if other is not None and node.input[other] in constants \
                else None
            if values is None or not np.isfinite(values).all():
                return ""
            return subtracts(-values) if _QLINEAR_OPS[node.op_type] == "Add" \
                else multiplies(values)
        first = node.input[0] == name
        if wide:
            values = known([i for i in node.input if i != name]) if node.op_type in (
                "Mul", "Div", "Sub", "Add") and (first or node.op_type in ("Mul", "Add")) \
                else None
            if values and len(node.input) == 2 and node.op_type in ("Sub", "Add"):
                means = values[0] if node.op_type == "Sub" else -values[0]
                return (f"it subtracts a mean for raw 12- or 16-bit pixels itself "
                        f"({means.max():.6g})" if (means > 0).all() and means.max() > 255
                        else "")
            divisors = (1 / values[0] if node.op_type == "Mul" else values[0]) \
                if values and len(node.input) == 2 else None
            return (f"it divides its input by {np.max(divisors):.6g} itself, for raw 12- or "
                    "16-bit pixels" if divisors is not None and (divisors >= 1000).all()
                    else "")
        if node.op_type == "BatchNormalization":  # (x - mean) / std, std = sqrt(var + eps) / k
            params = known(node.input[1:5]) if first and len(node.input) >= 5 else None
            if params is None:
                return ""
            k, bias, mean, var = (np.ravel(v).astype(np.float64) for v in params)
            with np.errstate(divide="ignore", invalid="ignore"):
                std = np.sqrt(var + attribute(node, "epsilon", 1e-5)) / k
            if not np.isfinite(std).all():
                return ""
            return subtracts(mean - bias * std) or multiplies(1 / std)
        other = [i for i in node.input if i != name]
        values = known(other) if len(other) == 1 else None
        if values is None:
            return ""
        values = values[0]
        if node.op_type in ("Sub", "Add") and (first or node.op_type == "Add"):
            return subtracts(values if node.op_type == "Sub" else -values)
        if node.op_type not in ("Mul", "Div") or (node.op_type == "Div" and not first):
            return ""
        return multiplies(values if node.op_type == "Mul" else 1 / values)

    def scales(name: str, depth: int = 0) -> str:
        consumers = [n for n in graph.node if name in n.input and n.op_type not in _SHAPE_OPS]
        if not consumers or depth > 8:
            return ""
        found = ""
        for node in consumers:
            if passes(node, name):
                reasons = [scales(out, depth + 1) for out in node.output if out]
                reason = reasons[0] if reasons and all(reasons) else ""
            else:
                reason = why(node, name)
            if not reason:
                return ""
            found = found or reason
        return found

    def passes(node, name: str) -> bool:
        """Whether ``node`` hands on the values of ``name`` unchanged (as its data input,
        its other inputs constant: indices, starts, shapes), or their range (Pad, Resize)."""
        if node.op_type in _RANGE_PASS_OPS:
            fill = node.input[2] if node.op_type == "Pad" and len(node.input) > 2 else ""
            value = constants.get(fill) if fill else np.float32(attribute(node, "value", 0.0))
            return node.input[0] == name and value is not None and bool(
                ((value >= 0) & (value <= 255)).all())
        if node.op_type not in _VALUE_PASS_OPS:
            return False
        if node.op_type == "Concat":
            return True
        return node.input[0] == name and all(i in constants or not i for i in node.input[1:])

    return scales(input_name)


#: ops that keep the channels of their first input (a constant, or nothing, beside it);
#: quantisation (onnxruntime's quantize_dynamic, QDQ) hands on its first output
_CHANNEL_PASS_OPS = _INPUT_PASS_OPS | {"Sub", "Add", "Mul", "Div", "Pad", "Relu", "Clip",
                                       "BatchNormalization", "DynamicQuantizeLinear",
                                       "QuantizeLinear", "DequantizeLinear"}
#: convolutions -> the input holding their weights (quantised ones: ConvInteger, QLinearConv)
_CONV_WEIGHTS = {"Conv": 1, "ConvTranspose": 1, "ConvInteger": 1, "QLinearConv": 3}


#: what a :func:`_first_layers` reader says of a node that is not the layer it looks for
_NOT_A_LAYER = object()


def _first_layers(graph, name: str, read, constant_names, passes, depth: int = 0) -> set:
    """What ``read(node, name)`` says of each first layer the tensor ``name`` goes into
    through ops of ``passes`` (taking nothing but constants beside it); None for a path
    that ends anywhere else (or a graph too deep to follow)."""
    consumers = [n for n in graph.node if name in n.input and n.op_type not in _SHAPE_OPS]
    if not consumers or depth > 8:
        return {None}
    found = set()
    for node in consumers:
        value = read(node, name)
        if value is not _NOT_A_LAYER:
            found.add(value)
        elif node.op_type in passes and all(
                i in constant_names or not i for i in node.input if i != name):
            found |= _first_layers(graph, node.output[0], read, constant_names, passes,
                                   depth + 1)
        else:
            found.add(None)
    return found


def graph_input_channels(graph, input_name: str, conv3d: bool = False) -> int | None:
    """The channels the model's input has, from the weights of the Conv (ConvTranspose, or a
    quantised one) it goes into through ops that keep its channels (a normalisation, a
    Transpose, quantisation); None when the graph does not tell (or tells two counts).
    ``conv3d``: only a Conv of 3-D kernels reached with no Transpose between: the count is
    then that of the input's axis 1 (ONNX's Conv takes [N,C,D,H,W])."""
    from geotile.onnx_graph import attribute

    _, constant_names = _graph_index(graph)
    dims = {t.name: list(t.dims) for t in graph.initializer}
    dims.update({node.output[0]: list(a.t.dims) for node in graph.node
                 if node.op_type == "Constant" and node.output
                 for a in node.attribute if a.name == "value"})
    dims.update({node.output[0]: dims[node.input[0]] for node in graph.node  # QDQ weights
                 if node.op_type == "DequantizeLinear" and node.input[0] in dims})

    def channels(node, name: str):
        at = _CONV_WEIGHTS.get(node.op_type)
        weight = dims.get(node.input[at]) if at and len(node.input) > at else None
        if not (weight and node.input[0] == name and len(weight) >= (5 if conv3d else 3)):
            return _NOT_A_LAYER
        group = int(attribute(node, "group", 1) or 1)
        return weight[0] if node.op_type == "ConvTranspose" else weight[1] * group

    found = _first_layers(graph, input_name, channels, constant_names,
                          _CHANNEL_PASS_OPS - ({"Transpose"} if conv3d else set()))
    return int(found.pop()) if len(found) == 1 and None not in found else None


#: ops that keep every pixel where it is (a normalisation, a Transpose, quantisation): not
#: a Pad (Swin pads its input to whole patches), a Resize or a Slice
_POSITION_PASS_OPS = _INPUT_PASS_OPS | {"Sub", "Add", "Mul", "Div", "Relu", "Clip",
                                        "BatchNormalization", "InstanceNormalization",
                                        "LayerNormalization", "DynamicQuantizeLinear",
                                        "QuantizeLinear", "DequantizeLinear"}


def graph_input_patch(graph, input_name: str) -> int | None:
    """The side in px of the patches the model cuts its input into (a ViT/DINOv2 patch
    embedding: a Conv whose kernel and stride are that side, without padding, taking the
    input through ops that keep its pixels in place; not a CNN's stem, whose cells a wider
    Conv spreads: ConvNeXt's), else None. Such a Conv drops the pixels past the last whole
    patch: windows must be whole patches."""
    from geotile.onnx_graph import attribute

    _, constant_names = _graph_index(graph)
    dims = {t.name: list(t.dims) for t in graph.initializer}
    dims.update({node.output[0]: dims[node.input[0]] for node in graph.node  # QDQ weights
                 if node.op_type == "DequantizeLinear" and node.input[0] in dims})

    def side(node) -> int | None:
        at = _CONV_WEIGHTS[node.op_type]
        weight = dims.get(node.input[at]) if len(node.input) > at else None
        kernel = attribute(node, "kernel_shape") or (weight[2:] if weight else None)
        strides = attribute(node, "strides") or [1]
        if not kernel or len(set(kernel)) != 1 or list(strides) != list(kernel) \
                or any(attribute(node, "pads") or [0]) \
                or attribute(node, "auto_pad", "NOTSET") not in ("NOTSET", "VALID") \
                or any(d != 1 for d in attribute(node, "dilations") or [1]):
            return None
        return int(kernel[0]) if kernel[0] > 1 else None

    def patch(node, name: str):
        if node.op_type in _CONV_WEIGHTS and node.op_type != "ConvTranspose" \
                and node.input[0] == name:
            found = side(node)
            return None if found and _convolved_cells(graph, node.output[0], dims) else found
        return _NOT_A_LAYER

    found = _first_layers(graph, input_name, patch, constant_names, _POSITION_PASS_OPS)
    return found.pop() if len(found) == 1 and None not in found else None


#: ops that make a patch grid a sequence of tokens (ViT, DINOv2, Swin) or mix its tokens
_TOKEN_OPS = {"Reshape", "Flatten", "MatMul", "Gemm", "Einsum", "Attention",
              "MultiHeadAttention"}


def _convolved_cells(graph, name: str, dims: dict, steps: int = 64) -> bool:
    """Whether the cells of a kernel = stride Conv (its output ``name``) go into a Conv of
    a kernel wider than 1 before any op of tokens (:data:`_TOKEN_OPS`): a CNN's patchify
    stem (ConvNeXt's 4 px, LayerNorm2d between), not a ViT's patch embedding. Nodes are
    followed breadth first, the first of either kind deciding; ``dims``: weights' shapes."""
    from geotile.onnx_graph import attribute

    consumers: dict[str, list] = {}
    for node in graph.node:
        for tensor in node.input:
            consumers.setdefault(tensor, []).append(node)
    queue, seen = [name], {name}
    while queue and steps > 0:
        tensor, queue = queue[0], queue[1:]
        for node in consumers.get(tensor, []):
            if node.op_type in _SHAPE_OPS:
                continue
            if node.op_type in _TOKEN_OPS:
                return False
            if node.op_type in _CONV_WEIGHTS:
                at = _CONV_WEIGHTS[node.op_type]
                weight = dims.get(node.input[at]) if len(node.input) > at else None
                kernel = attribute(node, "kernel_shape") or (weight[2:] if weight else [])
                if any(k > 1 for k in kernel):
                    return True
            steps -= 1
            queue += [out for out in node.output if out and out not in seen]
            seen.update(node.output)
    return False


#: words of the module a torch.onnx.export(dynamo=True) node comes from that make its
#: output an auxiliary head's (torchvision's aux_classifier, mmseg's auxiliary_head)
_AUXILIARY_WORDS = {"aux", "auxiliary"}


def graph_auxiliary_outputs(graph) -> set[str]:
    """Outputs a dynamo export computes in an auxiliary head's module (aux_classifier,
    auxiliary_head), as its nodes' metadata (pkg.torch.onnx.name_scopes) says: the output's
    own node or, through ops that hand values on (a Resize, in a wrapper's module too), the
    node giving them; a Concat's when all it joins is (not torch.cat([aux, main]))."""
    import ast
    import re

    producers, constants = _graph_index(graph)

    def scopes(node) -> list[str]:
        for entry in getattr(node, "metadata_props", ()):
            if entry.key == "pkg.torch.onnx.name_scopes":
                with contextlib.suppress(ValueError, SyntaxError, MemoryError,
                                         RecursionError):
                    value = ast.literal_eval(entry.value)
                    return [str(v) for v in value[:-1]] if isinstance(value, list) else []
        return []

    @functools.cache  # a Concat of Concats is walked once per tensor and depth
    def auxiliary(tensor: str, steps: int) -> bool:
        node = producers.get(tensor)
        if node is None or steps >= 8:
            return False
        words = {w for m in scopes(node) for w in re.split(r"[^a-z]+", m.lower())}
        if words & _AUXILIARY_WORDS:
            return True
        if node.op_type not in _PASS_THROUGH_OPS or not node.input:
            return False
        if node.op_type == "Concat":  # torch.cat([aux, main]) is the model's own
            joined = [t for t in node.input if t and t not in constants]
            return bool(joined) and all(auxiliary(t, steps + 1) for t in joined)
        return auxiliary(node.input[0], steps + 1)

    return {output.name for output in graph.output if auxiliary(output.name, 0)}


def _graph_index(graph) -> tuple[dict, set]:
    """(tensor name -> the node producing it, names of constant tensors) of a graph."""
    producers = {out: node for node in graph.node for out in node.output}
    constants = {t.name for t in graph.initializer} | {
        out for node in graph.node if node.op_type in ("Constant", "ConstantOfShape")
        for out in node.output}
    return producers, constants


@dataclass(frozen=True)
class GraphEnd:
    """What the graph gives at a tensor: ``kind`` "sigmoid", "softmax" or "final" (values
    from a final activation, or a Clip of logits into 0..1) or "" (logits, anything else),
    the range ``low``..``high`` its values lie in, and ``ops``, the activation and the ops
    after it that changed that range."""

    kind: str = ""
    low: float = -math.inf
    high: float = math.inf
    ops: tuple[str, ...] = ()
    #: why they are not per-pixel values whatever their range, and the fix
    why: str = ""
    #: a cubic Resize may take them a little past low..high (interpolation overshoot)
    overshoots: bool = False
    #: the axis a final Softmax normalises, numbered as the tensor's (negative: from its
    #: end), carried through ops that keep every axis and its length (a Transpose moves
    #: it); None when a Slice, Reshape, reduction... hides it
    axis: int | None = None
    #: a Slice or Gather after the final activation: some of its channels may be cut off
    sliced: bool = False

    @property
    def probabilities(self) -> bool:
        """Final values the graph cannot take outside 0..1; unknown (infinite) bounds, as of
        a weight map too large to be read, are believed: the first batch's values decide."""
        unknown = math.isinf(self.low) or math.isinf(self.high)
        return bool(self.kind) and not self.why and (unknown or not (
            self.low < -PROBABILITY_TOLERANCE or self.high > 1 + PROBABILITY_TOLERANCE))

    def problem(self) -> str:
        """Why these final values are not probabilities 0..1 and the fix, or ""."""
        if not self.kind or self.probabilities:
            return ""
        return self.why or (f"{' then '.join(self.ops)} gives values {self.low:g}..{self.high:g}"
                            ". Give --activation none to write its raw values, or re-export "
                            "it ending in its Sigmoid/Softmax.")


def _interval(op: str, ranges: list[tuple[float, float]]) -> tuple[float, float]:
    """The range of an elementwise ``op`` of inputs in ``ranges`` (unbounded when unsure)."""
    def product(a: float, b: float) -> float:
        return 0.0 if a == 0 or b == 0 else a * b

    (low, high), rest = ranges[0], ranges[1:]
    if op in ("Add", "Sum", "Mul", "Min", "Max", "Mean"):
        for lo, hi in rest:
            if op in ("Add", "Sum", "Mean"):
                low, high = low + lo, high + hi
            elif op == "Mul":
                corners = [product(a, b) for a in (low, high) for b in (lo, hi)]
                low, high = min(corners), max(corners)
            else:
                pick = min if op == "Min" else max
                low, high = pick(low, lo), pick(high, hi)
        if op == "Mean":
            low, high = low / len(ranges), high / len(ranges)
        return low, high
    if op == "Sub" and rest:
        return low - rest[0][1], high - rest[0][0]
    if op == "Div" and rest and rest[0][0] == rest[0][1] and rest[0][0]:
        bounds = sorted((low / rest[0][0], high / rest[0][0]))
        return bounds[0], bounds[1]
    if op == "Neg":
        return -high, -low
    if op in ("Round", "Floor", "Ceil"):
        return math.floor(low), math.ceil(high)
    if op == "Relu":
        return max(low, 0.0), max(high, 0.0)
    if op == "Abs":
        return (0.0 if low <= 0 <= high else min(abs(low), abs(high))), max(abs(low), abs(high))
    if op == "Sqrt" and low >= 0:
        return math.sqrt(low), math.sqrt(high)
    if op == "Pow" and rest and low >= 0 and rest[0][0] == rest[0][1] and rest[0][0] > 0:
        return low ** rest[0][0], high ** rest[0][0]
    return -math.inf, math.inf


def graph_ends(graph, opset: int | None = None) -> dict[str, GraphEnd]:
    """Output name -> :class:`GraphEnd`: Sigmoid, HardSigmoid, Softmax, Tanh (or a sigmoid
    or softmax written out op by op), seen through trailing shape-only ops (Gather, Squeeze,
    Slice, Transpose, Concat...), reductions over channels (the max of a softmax), Where and
    elementwise ops with constants (Clip, Mul, 1 - p...), the range carried along. A Clip of
    logits into 0..1 is final; a Clip to wider bounds (clamped logits) is not. Before
    ``opset`` 13 a Softmax over another axis than the last of its input normalises all the
    axes from it on together (the whole window): not per pixel (:class:`GraphEnd`.why)."""
    from geotile.onnx_graph import attribute, constant_values

    producers, constants = _graph_index(graph)
    values = constant_values(graph)
    memo: dict[str, GraphEnd] = {}
    rank = graph_ranks(graph, producers)

    def softmax(node) -> GraphEnd:
        quantized = node.op_type == "QLinearSoftmax"  # its own opset attribute, axis -1
        version = attribute(node, "opset", opset) if quantized else opset
        axis = attribute(node, "axis", -1 if quantized or version is None or version >= 13
                         else 1)
        end = GraphEnd("softmax", 0.0, 1.0, (node.op_type,), axis=axis)
        if version is None or version >= 13:
            return end
        dims = rank(node.input[0])
        if dims is None or axis in (-1, dims - 1):
            return end
        return dataclasses.replace(end, why=(
            f"its Softmax(axis={axis}) at opset {opset} normalises its {dims}-D input over "
            f"axes {axis % dims}..{dims - 1} together (the whole window), not each pixel's "
            "classes. Re-export it with opset 13 or later."))

    def op(name: str) -> str | None:
        node = producers.get(name)
        return node.op_type if node is not None else None

    def written_out(node) -> str:
        """1 / (1 + exp(-z)) or exp(z) / sum(exp(z)), as some exporters spell them."""
        if node.op_type == "Reciprocal" or (node.op_type == "Div" and node.input[0] in constants):
            add = producers.get(node.input[-1])
            found = add is not None and add.op_type == "Add" and any(
                i in constants for i in add.input) and any(op(i) == "Exp" for i in add.input)
            return "sigmoid" if found else ""
        if node.op_type == "Div" and op(node.input[0]) == "Exp":
            total = producers.get(node.input[1])
            found = total is not None and total.op_type == "ReduceSum" \
                and total.input[0] == node.input[0]
            return "softmax" if found else ""
        return ""

    def constant(name: str) -> GraphEnd:
        known = values.get(name)
        if known is None or not known.size or not np.isfinite(known).all():
            return GraphEnd("constant")
        return GraphEnd("constant", float(known.min()), float(known.max()))

    def combined(names, op_type: str | None, depth: int, joins: bool = False) -> GraphEnd:
        """Several inputs: final when every one that is not a constant is, of their kind
        when they agree (else "final"), over the range ``op_type`` maps them to (None: the
        union of theirs); ``joins``: a Concat, whose axis may be the softmax's."""
        ends = [constant(i) if i in constants else final(i, depth + 1) for i in names if i]
        kinds = {e.kind for e in ends} - {"constant"}
        if not kinds or "" in kinds:
            return GraphEnd()
        kind = kinds.pop() if len(kinds) == 1 else "final"
        ops = max((e.ops for e in ends), key=len)
        why = next((e.why for e in ends if e.why), "")
        over = any(e.overshoots for e in ends)
        # elementwise (Where, Mul...): the softmax's axis where they agree on it
        axes = {e.axis for e in ends if e.kind != "constant"}
        axis = axes.pop() if len(axes) == 1 and not joins else None
        sliced = any(e.sliced for e in ends)
        if op_type is None:
            return GraphEnd(kind, min(e.low for e in ends), max(e.high for e in ends), ops, why,
                            over, axis, sliced)
        low, high = _interval(op_type, [(e.low, e.high) for e in ends])
        return GraphEnd(kind, low, high, (*ops, op_type), why, over, axis, sliced)

    def clip(node, depth: int) -> GraphEnd:
        bounds = [attribute(node, "min", -math.inf), attribute(node, "max", math.inf)]
        for k, name in enumerate(node.input[1:3]):  # opset 11 on: inputs, not attributes
            bound = constant(name) if name in constants else None
            if name and (bound is None or bound.low != bound.high):
                return GraphEnd()  # bounds computed by the graph, or not one number
            bounds[k] = bound.low if name else (-math.inf, math.inf)[k]
        low, high = bounds
        inner = final(node.input[0], depth + 1)
        if not inner.kind:  # logits: clipped into 0..1 they are final, else still logits
            return GraphEnd("final", low, high, ("Clip",)) if low >= 0 and high <= 1 \
                else GraphEnd()
        return dataclasses.replace(inner, low=max(inner.low, low), high=min(inner.high, high),
                                   ops=(*inner.ops, "Clip"), overshoots=False)

    def final(name: str, depth: int = 0) -> GraphEnd:
        if name in memo:
            return memo[name]
        node = producers.get(name)
        result = GraphEnd()
        if node is not None and depth < 64:
            kind = node.op_type
            if kind in ("Softmax", "QLinearSoftmax"):
                result = softmax(node)
            elif kind in _FINAL_ACTIVATIONS:
                what, low, high = _FINAL_ACTIVATIONS[kind]
                result = GraphEnd(what, low, high, (kind,))
            elif kind in ("Reciprocal", "Div") and written_out(node):
                result = GraphEnd(written_out(node), 0.0, 1.0, (f"{kind} (a written-out "
                                                                f"{written_out(node)})",))
            elif kind == "Clip":
                result = clip(node, depth)
            elif kind == "Where":
                result = combined(node.input[1:], None, depth)
            elif kind in ("Sub", "Neg"):  # 1 - p: no longer one sigmoid per channel
                result = combined(node.input, kind, depth)
                if result.kind:
                    result = dataclasses.replace(result, kind="final")
            elif kind == "Concat":
                result = combined(node.input, None, depth, joins=True)
            elif kind in _ELEMENTWISE_OPS:
                result = combined(node.input, kind, depth)
            elif kind in _PASS_THROUGH_OPS or kind in _REDUCTIONS:
                result = final(node.input[0], depth + 1)
                if result.axis is not None and kind not in _AXES_KEPT_OPS:
                    perm = attribute(node, "perm") if kind == "Transpose" else None
                    moved = perm.index(result.axis % len(perm)) if perm and -len(perm) <= \
                        result.axis < len(perm) else None
                    result = dataclasses.replace(result, axis=moved)
                if kind in ("Resize", "Upsample") and attribute(node, "mode") == "cubic":
                    result = dataclasses.replace(result, overshoots=True)
                if kind in ("Slice", "Gather") and result.kind:
                    result = dataclasses.replace(result, sliced=True)
        memo[name] = result
        return result

    return {output.name: final(output.name) for output in graph.output}


#: ops whose output has the rank of their first input (the others: weights, sizes, bounds)
_FIRST_RANK_OPS = {"Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool",
                   "GlobalAveragePool", "GlobalMaxPool", "BatchNormalization",
                   "InstanceNormalization", "LRN", "Resize", "Upsample", "Pad", "DepthToSpace",
                   "SpaceToDepth", "Transpose", "Relu", "LeakyRelu", "Elu", "Selu", "Sigmoid",
                   "HardSigmoid", "HardSwish", "Tanh", "Softmax", "LogSoftmax", "Clip", "Cast",
                   "Identity", "Dropout", "Neg", "Abs", "Exp", "Log", "Sqrt", "Erf", "Softplus",
                   "Gelu", "Concat", "Round", "Floor", "Ceil", "QuantizeLinear",
                   "DequantizeLinear", "QLinearConv", "QLinearSigmoid", "QLinearSoftmax"}
#: ops broadcasting their inputs: the largest rank
_BROADCAST_OPS = {"Add", "Sub", "Mul", "Div", "Pow", "Min", "Max", "Sum", "Mean", "Where",
                  "PRelu", "MatMul"}


def graph_ranks(graph, producers: dict):
    """rank(name): the number of axes of a tensor when the graph tells it (the image input
    has 4; shapes carried through convolutions, elementwise and shape-keeping ops), else
    None (through Reshape, Flatten, Squeeze...)."""
    from geotile.onnx_graph import constant_values

    known = {t.name: len(t.dims) for t in graph.initializer}
    known.update({name: value.ndim for name, value in constant_values(graph).items()})
    known.update({i.name: 4 for i in graph.input if i.name not in known})
    memo: dict[str, int | None] = {}

    def rank(name: str, depth: int = 0) -> int | None:
        if name in known:
            return known[name]
        if name in memo:
            return memo[name]
        node = producers.get(name)
        result = None
        if node is not None and depth < 256:
            if node.op_type in _FIRST_RANK_OPS:
                result = rank(node.input[0], depth + 1)
            elif node.op_type in _BROADCAST_OPS:
                ranks = [rank(i, depth + 1) for i in node.input if i]
                result = None if None in ranks or not ranks else max(ranks)
        memo[name] = result
        return result

    return rank


def graph_activations(graph) -> dict[str, str]:
    """Output name -> the kind of final values the graph already gives (:func:`graph_ends`),
    "" for logits."""
    return {name: end.kind for name, end in graph_ends(graph).items()}


def graph_class_ids(graph) -> dict[str, bool]:
    """Output name -> True when the output is class ids or a 0/1 mask cast to float: ArgMax,
    ArgMin or a comparison, seen through shape-only ops and casts."""
    producers, _ = _graph_index(graph)

    def ids(name: str, depth: int = 0) -> bool:
        node = producers.get(name)
        if node is None or depth >= 64:
            return False
        if node.op_type in _ID_OPS:
            return True
        if node.op_type in _PASS_THROUGH_OPS and node.op_type != "Concat":
            return ids(node.input[0], depth + 1)
        return False

    return {output.name: ids(output.name) for output in graph.output}


def graph_activation(path: Path) -> str:
    """'none' when the graph's first output already ends in Sigmoid/Softmax, else 'auto'."""
    model = load_model(Path(path))
    graph = model.graph if model is not None else None
    ends = graph_activations(graph) if graph is not None else {}
    first = graph.output[0].name if graph is not None and graph.output else None
    return "none" if ends.get(first) else "auto"


def quantized_op(graph) -> str | None:
    """The first quantisation op (QDQ or QOperator int8) of ``graph``, else None."""
    for node in graph.node if graph is not None else ():
        if node.op_type in ("QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear") \
                or node.op_type.startswith("QLinear") or node.op_type.endswith("Integer"):
            return node.op_type
    return None




def cpu_layout_op(graph) -> str | None:
    """The first of ONNX Runtime's blocked-layout CPU ops (com.microsoft.nchwc: what a model
    saved optimised at ORT_ENABLE_ALL holds, made for the CPU it was saved on), else None."""
    for node in graph.node if graph is not None else ():
        if node.domain == "com.microsoft.nchwc":
            return f"{node.domain} {node.op_type}"
    return None


def quantized_resize_sizes(graph) -> str | None:
    """A Resize or Upsample taking its scales or sizes from a DequantizeLinear ("Resize
    'name' takes its scales"), else None: onnxruntime.quantization quantises the scales an
    opset 9/10 export computes (a Concat), 1 coming back as 1.0039."""
    producers, _ = _graph_index(graph)
    for node in graph.node:
        if node.op_type not in ("Resize", "Upsample"):
            continue
        sized = ["scales", "scales"] if node.op_type == "Upsample" or len(node.input) == 2 \
            else ["roi", "scales", "sizes"]
        for name, role in zip(node.input[1:], sized, strict=False):
            source = producers.get(name)
            if role != "roi" and source is not None and source.op_type == "DequantizeLinear":
                told = f"{node.op_type} {node.name!r}" if node.name else node.op_type
                return f"{told} takes its {role}"
    return None


def float16_part(graph) -> str | None:
    """What of ``graph`` computes in float16 already (its maker converted it:
    convert_float_to_float16, auto_mixed_precision, which keeps in float32 the ops float16
    cannot hold), else None: float16 weights or a Cast to float16 read by an op other than a
    Cast (a float16 constant only cast to float32 leaves a float32 model)."""
    from geotile.onnx_graph import attribute

    if graph is None:
        return None
    computed = {name for node in graph.node if node.op_type != "Cast" for name in node.input}
    for tensor in graph.initializer:
        if tensor.data_type == FLOAT16 and tensor.name in computed:
            return f"float16 weights ({tensor.name})"
    for node in graph.node:
        if node.op_type == "Cast" and attribute(node, "to", 0) == FLOAT16 \
                and node.output[0] in computed:
            return f"a Cast to float16 ({node.name or node.output[0]})"
    return None

#: quantised ops -> the input positions of their output's scale and zero point (QLinear*:
#: onnxruntime.quantization's QOperator ops, ai.onnx's and com.microsoft's)
_OUTPUT_QUANTA = {"QuantizeLinear": (1, 2), "QLinearConv": (6, 7), "QLinearMatMul": (6, 7),
                  "QLinearAdd": (6, 7), "QLinearMul": (6, 7), "QLinearSigmoid": (3, 4),
                  "QLinearSoftmax": (3, 4), "QLinearLeakyRelu": (3, 4),
                  "QLinearAveragePool": (3, 4), "QLinearGlobalAveragePool": (3, 4),
                  "QLinearConcat": (0, 1)}


#: integer element types of a zero point -> the range of their codes (uint8 by default)
_CODE_RANGES = {2: (0, 255), 3: (-128, 127), 4: (0, 65535), 5: (-32768, 32767), 21: (0, 15),
                22: (-8, 7)}


def _quantum(node, constants: dict, types: dict) -> tuple[str, float, float] | None:
    """(the op named, with its output's scale and zero point; the lowest and highest value
    its codes stand for) of a quantising ``node``, else None; the values are infinite where
    its scale or zero point is no single constant."""
    if node.op_type not in _OUTPUT_QUANTA:
        return None
    told = f"{node.op_type} {node.name!r}" if node.name else node.op_type
    names = [node.input[i] if i < len(node.input) else "" for i in _OUTPUT_QUANTA[node.op_type]]
    scale, zero = (constants.get(n) if n else None for n in names)
    if scale is None or scale.size != 1 or (zero is None) != (not names[1]) or (
            zero is not None and zero.size != 1):
        return told, -math.inf, math.inf
    from geotile.onnx_graph import attribute

    zero_point = 0.0 if zero is None else zero.item()
    # the codes' type: the zero point's, else (opset 21) output_dtype's, uint8 by default
    code_type = types.get(names[1]) if names[1] else attribute(node, "output_dtype", 0) or 2
    if code_type not in _CODE_RANGES:  # float8 codes, or a zero point of unknown type
        return told, -math.inf, math.inf
    low, high = _CODE_RANGES[code_type]
    return (f"{told} (scale {scale.item():.6g}, zero point {zero_point:g})",
            (low - zero_point) * scale.item(), (high - zero_point) * scale.item())


def _quantized_path(graph, name: str, through: set) -> list[tuple[str, float, float]]:
    """The quantising ops (:func:`_quantum`) on the way back from ``name`` through the ops
    ``through``, to the first other op (itself when it quantises), nearest first."""
    from geotile.onnx_graph import constant_values

    producers, _ = _graph_index(graph)
    constants = constant_values(graph)
    types = {t.name: t.data_type for t in graph.initializer}
    types.update({n.output[0]: a.t.data_type for n in graph.node if n.op_type == "Constant"
                  and n.output for a in n.attribute if a.name == "value"})
    found, node, depth = [], producers.get(name), 0
    while node is not None and depth < 64:
        quantum = _quantum(node, constants, types)
        if quantum is not None:
            found.append(quantum)
        if node.op_type not in through:
            break
        node, depth = producers.get(node.input[0]), depth + 1
    return found


def graph_quantized_outputs(graph) -> dict[str, str]:
    """Output name -> the quantised op whose integer codes it is, seen through shape-only
    ops ("QuantizeLinear 'name' (scale 0.05, zero point 128)"), for outputs that are
    codes with no DequantizeLinear after them; others are left out."""
    shape_ops = {"Identity", "Resize", "Upsample", "Transpose", "Reshape", "Squeeze",
                 "Unsqueeze"}
    found = {}
    for output in graph.output:
        path = _quantized_path(graph, output.name, shape_ops)
        if path:
            found[output.name] = path[-1][0]
    return found


def graph_quantized_ceilings(graph) -> dict[str, tuple[float, str]]:
    """Output name -> (the highest value, the op) where a quantisation after the output's
    last op that is not a pass-through one (its final Sigmoid or Softmax) leaves no code for
    values above it: calibrated on data whose values never reached them."""
    found = {}
    for output in graph.output:
        path = _quantized_path(graph, output.name, _PASS_THROUGH_OPS - {"Concat"})
        if path:
            told, _, high = min(path, key=lambda quantum: quantum[2])
            found[output.name] = (high, told)
    return found

#: TensorProto.FLOAT16, a Cast's ``to``
FLOAT16 = 10


def graph_input_float16(graph, input_name: str) -> bool:
    """Whether the model casts its (wider) input to float16 first, through ops that keep its
    values (a Transpose): Keras' mixed_float16 policy as tf2onnx exports it, where values
    beyond float16's 65504 become inf."""
    from geotile.onnx_graph import attribute

    def cast(node, name: str):
        if node.op_type != "Cast" or node.input[0] != name:
            return _NOT_A_LAYER
        return attribute(node, "to", 0) == FLOAT16

    _, constant_names = _graph_index(graph)
    return True in _first_layers(graph, input_name, cast, constant_names,
                                 _INPUT_PASS_OPS - {"Cast"})


#: ops after a map's Reshape that keep each value in its place (an activation, a Cast, the
#: Transpose of keras_segmentation's Permute((2, 1)))
_FLAT_PASS_OPS = {"Softmax", "Sigmoid", "LogSoftmax", "Cast", "Identity", "Transpose",
                  "Relu", "Clip"}


#: ops that make a map of the image (a Reshape of theirs flattens a map, one of a Gemm's
#: or MatMul's rows does not: DETR's queries)
_MAP_OPS = {"Conv", "ConvTranspose", "QLinearConv", "ConvInteger", "MaxPool", "AveragePool",
            "LpPool", "Resize", "Upsample", "DepthToSpace", "SpaceToDepth"}


def graph_flattened_outputs(graph) -> set[str]:
    """The outputs a Reshape or Flatten of a map (a Conv's, pool's or Resize's, through
    elementwise ops) makes, through ops that keep each value in its place: those that may
    hold a map flattened to a sequence of its pixels (keras_segmentation's
    Reshape((h * w, K)), then its softmax)."""
    producers, _ = _graph_index(graph)
    memo: dict[str, bool] = {}

    def a_map(name: str, depth: int = 0) -> bool:
        node = producers.get(name)
        if node is None or depth >= 64:
            return False
        if name not in memo:
            memo[name] = node.op_type in _MAP_OPS or (
                node.op_type in _FIRST_RANK_OPS and a_map(node.input[0], depth + 1)) or (
                node.op_type in _BROADCAST_OPS - {"MatMul"}
                and any(a_map(i, depth + 1) for i in node.input if i))
        return memo[name]

    def reshaped(name: str, depth: int = 0) -> bool:
        node = producers.get(name)
        if node is None or depth >= 16:
            return False
        if node.op_type in ("Reshape", "Flatten"):
            return a_map(node.input[0])
        return node.op_type in _FLAT_PASS_OPS and reshaped(node.input[0], depth + 1)

    return {output.name for output in graph.output if reshaped(output.name)}
