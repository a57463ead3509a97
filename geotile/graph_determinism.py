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


def batch_reduction(graph, input_name: str, fixed_batch: int | None = None) -> str:
    """The first op mixing the values of the windows of a batch, else "": a reduction of
    the image's values over their batch axis (axis 0 until a Transpose moves it; -4 of a 4-D
    tensor) or over every axis (a MeanVarianceNormalization's default axes 0, 2, 3 too), or
    a Reshape of them to a fixed leading size (the batch folded into its other axes: torch's
    ``x.view(1, -1)``), a Gather or Slice of windows along it (``x + x[0:1]``). A Gather of
    axis 0 after the windows were moved off it (attention's ``qkv.permute(2, 0, ...)[0]``)
    is none, nor one of indices computed from shapes alone (dynamo's as_strided: a Range
    over every window), as a Slice of computed bounds is none, nor a Reshape to a whole
    multiple of the model's own ``fixed_batch`` (an export without dynamic axes: [2, 32,
    -1]; Swin's attention of B x 16 windows, [32, 64, 96]: each window its own rows)."""
    from geotile.graph_analysis import graph_ranks
    from geotile.onnx_graph import attribute, constant_values

    values = constant_values(graph)
    rank = graph_ranks(graph, {out: node for node in graph.node for out in node.output})
    batch_axes = _batch_axes(graph, input_name, values, rank)
    for node in graph.node:
        if not node.input or node.input[0] not in batch_axes:
            continue
        batch = batch_axes[node.input[0]]

        def is_batch(axis: int, name: str = node.input[0], batch: int = batch) -> bool:
            dims = rank(name)
            return axis == batch or (dims is not None and axis + dims == batch)

        if node.op_type == "MeanVarianceNormalization":  # its default axes: [0, 2, 3]
            if any(is_batch(axis) for axis in attribute(node, "axes", [0, 2, 3])):
                return f"{_label(node)} over axis {batch}"
        elif node.op_type in _REDUCE_OPS:
            axes = _reduce_axes(node, values)
            if axes is None:
                continue  # computed axes: unknown
            if axes == []:
                if attribute(node, "noop_with_empty_axes", 0):
                    continue
                return f"{_label(node)} over every axis"
            if any(is_batch(axis) for axis in axes):
                return f"{_label(node)} over axis {batch}"
        elif node.op_type == "Gather" and is_batch(attribute(node, "axis", 0)) and (
                len(node.input) < 2 or node.input[1] in values or node.input[1] in batch_axes):
            return f"{_label(node)} of windows by index"
        elif node.op_type == "Slice" and _slices_batch(node, values, batch):
            return f"{_label(node)} of windows"
        elif node.op_type == "Reshape" and batch == 0 and len(node.input) > 1:
            shape = values.get(node.input[1])
            if shape is not None and shape.ndim == 1 and shape.size and shape[0] >= 1 \
                    and not (fixed_batch and shape[0] % fixed_batch == 0):
                return f"{_label(node)} to a fixed shape {[int(s) for s in shape]}"
    return ""


def _reduce_axes(node, values) -> list[int] | None:
    """A reduction's axes (an attribute, or an input from opset 18): [] when none are given
    (every axis), None when computed."""
    from geotile.onnx_graph import attribute

    axes = attribute(node, "axes")
    if axes is None and len(node.input) > 1 and node.input[1]:
        known = values.get(node.input[1])
        return None if known is None else [int(a) for a in known.ravel()]
    return [] if axes is None else list(axes)


def _batch_axes(graph, input_name: str, values, rank) -> dict[str, int]:
    """Tensors computed from the image's values (nodes in their order; not their shapes) ->
    the axis holding its windows: 0, moved by a Transpose (``qkv.permute(2, 0, 3, 1, 4)``:
    1), Unsqueeze and Squeeze, or a Gather or reduction of an axis before it; 0 where a
    node's effect on it is unknown."""
    from geotile.onnx_graph import attribute

    found = {input_name: 0}
    for node in graph.node:
        given = [found[i] for i in node.input if i in found]
        if node.op_type in _SHAPE_OPS or not given:
            continue
        batch, op = given[0], node.op_type
        dims = rank(node.input[0])

        def positive(axes, dims=dims):
            return None if any(a < 0 for a in axes) and dims is None else \
                [a + dims if a < 0 else a for a in axes]

        if node.input[0] not in found:
            pass  # the image's values are not the op's data (Gather's indices...)
        elif op == "Transpose":
            perm = attribute(node, "perm") or (list(range(dims))[::-1] if dims else None)
            batch = list(perm).index(batch) if perm and batch in perm else 0
        elif op in ("Unsqueeze", "Squeeze"):
            axes = attribute(node, "axes")
            if axes is None and len(node.input) > 1 and node.input[1] in values:
                axes = [int(a) for a in values[node.input[1]].ravel()]
            out_dims = None if dims is None or axes is None else \
                dims + len(axes) if op == "Unsqueeze" else dims - len(axes)
            axes = None if axes is None else positive(axes, dims if op == "Squeeze" else
                                                      out_dims)
            if axes is None:
                batch = 0
            elif op == "Unsqueeze":
                for axis in sorted(axes):
                    batch += axis <= batch
            else:
                batch -= sum(axis < batch for axis in axes)
        elif op == "Gather" and len(node.input) > 1:
            axis = positive([attribute(node, "axis", 0)])
            indices = values.get(node.input[1])
            if axis is None or (axis[0] < batch and indices is None):
                batch = 0
            elif axis[0] < batch:
                batch += indices.ndim - 1
        elif op in _REDUCE_OPS and not attribute(node, "keepdims", 1):
            axes = _reduce_axes(node, values)
            axes = positive(axes) if axes else None
            batch = 0 if axes is None else batch - sum(axis < batch for axis in axes)
        for out in node.output:
            found[out] = batch
    return found


def _slices_batch(node, values, batch: int = 0) -> bool:
    """Whether a Slice (opset 10+: starts, ends, axes, steps as inputs) keeps only some of
    axis ``batch`` (axes left out: the first len(starts) axes); computed bounds: unknown,
    False."""
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
        if int(axis) == batch:
            step = int(steps[k]) if steps is not None else 1
            return not (int(starts.ravel()[k]) == 0 and int(ends.ravel()[k]) >= 2 ** 31 - 1
                        and step == 1)
    return False


def _axis_0(axis: int, dims: int | None) -> bool:
    """Whether ``axis`` (negative: from the end of a tensor of ``dims`` axes) is axis 0."""
    return axis == 0 or (dims is not None and axis == -dims)
