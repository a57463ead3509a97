"""What in an ONNX graph makes a window's values depend on the run or on the windows run
beside it: layers exported in training mode and random ops (refused: no window's values
can be trusted), ops mixing windows along the batch axis: reductions over it, a fixed
leading Reshape, a Gather or Slice of windows (run one window a run)."""
from __future__ import annotations

from geotile.errors import ModelError

#: ops that draw random numbers on every run (a seed only repeats the sequence)
RANDOM_OPS = {"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike",
              "Multinomial", "Bernoulli"}
#: reductions: an ``axes`` attribute (an input from opset 18, ReduceSum's from 13)
_REDUCE_OPS = {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd",
               "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"}
#: ops whose outputs are a tensor's shape, not its values
_SHAPE_OPS = {"Shape", "Size", "ConstantOfShape"}
_FIX = ("Re-export it in eval mode: model.eval() before torch.onnx.export (training="
        "torch.onnx.TrainingMode.EVAL, the default), or tf.keras's training=False.")


def _label(node) -> str:
    return f"{node.op_type} {node.name!r}" if node.name else node.op_type


def refuse_training_graph(graph, path) -> None:
    """ModelError, one line naming the layer and the fix, when ``graph`` holds a
    BatchNormalization in training mode (training_mode=1, or its running statistics as
    outputs before opset 14: each batch normalised by its own statistics), a Dropout in
    training mode (a constant true or computed training_mode input) or a random op."""
    from geotile.onnx_graph import attribute, constant_values

    values = constant_values(graph)
    for node in graph.node:
        op = node.op_type
        if op == "BatchNormalization" and (attribute(node, "training_mode", 0) or sum(
                1 for out in node.output if out) > 1):
            why = "normalises each batch by its own statistics, so a window's values " \
                "depend on --batch-size and on the windows beside it"
        elif op == "Dropout" and len(node.input) > 2 and node.input[2] and (
                node.input[2] not in values or values[node.input[2]].any()):
            why = "zeroes random values on every run"
        elif op in RANDOM_OPS:
            raise ModelError(f"{path}: its {_label(node)} draws random numbers on every run, "
                             "so its output changes from run to run and with --batch-size. "
                             f"{_FIX[:-1]}, with no random layers (sample outside the model).")
        else:
            continue
        raise ModelError(f"{path}: it was exported with its {_label(node)} in training "
                         f"mode, which {why}. {_FIX}")


def batch_reduction(graph, input_name: str) -> str:
    """The first op mixing the values of the windows of a batch, else "": a reduction of
    the image's values over axis 0 (-4 of a 4-D tensor) or over every axis (a
    MeanVarianceNormalization's default axes 0, 2, 3 too), or a Reshape of them to a fixed
    leading size (the batch folded into its other axes: torch's ``x.view(1, -1)``), a Gather
    or Slice of windows along axis 0 (``x + x[0:1]``)."""
    from geotile.graph_analysis import _graph_ranks
    from geotile.onnx_graph import attribute, constant_values

    values = constant_values(graph)
    rank = _graph_ranks(graph, {out: node for node in graph.node for out in node.output})
    image = {input_name}  # tensors holding values computed from the image (nodes in order)
    for node in graph.node:
        if node.op_type not in _SHAPE_OPS and any(i in image for i in node.input if i):
            image.update(node.output)

    for node in graph.node:
        if not node.input or node.input[0] not in image:
            continue
        if node.op_type == "MeanVarianceNormalization":  # its default axes: [0, 2, 3]
            if 0 in attribute(node, "axes", [0]):
                return f"{_label(node)} over axis 0"
        elif node.op_type in _REDUCE_OPS:
            axes = attribute(node, "axes")
            if axes is None and len(node.input) > 1 and node.input[1]:
                known = values.get(node.input[1])
                if known is None:
                    continue  # computed axes: unknown
                axes = [int(a) for a in known.ravel()]
            if axes is None or axes == []:
                if attribute(node, "noop_with_empty_axes", 0):
                    continue
                return f"{_label(node)} over every axis"
            if any(_axis_0(axis, rank(node.input[0])) for axis in axes):
                return f"{_label(node)} over axis 0"
        elif node.op_type == "Gather" and _axis_0(attribute(node, "axis", 0),
                                                  rank(node.input[0])):
            return f"{_label(node)} of windows by index"
        elif node.op_type == "Slice" and _slices_batch(node, values):
            return f"{_label(node)} of windows"
        elif node.op_type == "Reshape" and len(node.input) > 1:
            shape = values.get(node.input[1])
            if shape is not None and shape.ndim == 1 and shape.size and shape[0] >= 1:
                return f"{_label(node)} to a fixed shape {[int(s) for s in shape]}"
    return ""


def _slices_batch(node, values) -> bool:
    """Whether a Slice (opset 10+: starts, ends, axes, steps as inputs) keeps only some of
    axis 0 (axes left out: the first len(starts) axes); computed bounds: unknown, False."""
    given = [values.get(name) if name else None for name in node.input[1:5]]
    starts, ends = given[0], given[1] if len(given) > 1 else None
    if starts is None or ends is None:
        return False
    axes = list(given[2].ravel()) if len(given) > 2 and given[2] is not None else \
        list(range(starts.size))
    if len(node.input) > 3 and node.input[3] and given[2] is None:
        return False  # computed axes
    steps = given[3].ravel() if len(given) > 3 and given[3] is not None else None
    for k, axis in enumerate(axes):
        if int(axis) == 0:
            step = int(steps[k]) if steps is not None else 1
            return not (int(starts.ravel()[k]) == 0 and int(ends.ravel()[k]) >= 2 ** 31 - 1
                        and step == 1)
    return False


def _axis_0(axis: int, dims: int | None) -> bool:
    """Whether ``axis`` (negative: from the end of a tensor of ``dims`` axes) is axis 0."""
    return axis == 0 or (dims is not None and axis == -dims)
