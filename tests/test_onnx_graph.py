"""geotile.onnx_graph reads what onnx itself reads: ops, inputs/outputs, external data."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from geotile.onnx_graph import external_locations, read_graph


def _model(path, external: bool = False):
    weight = numpy_helper.from_array(np.arange(48, dtype=np.float32).reshape(16, 3, 1, 1), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("Sigmoid", ["c"], ["p"]),
             helper.make_node("Transpose", ["p"], ["y"], perm=[0, 2, 3, 1]),
             helper.make_node("Identity", ["c"], ["logits"])]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("logits", TensorProto.FLOAT, None)], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 10
    model.metadata_props.add(key="class_names", value="a,b")
    if external:
        onnx.save(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                  location="weights.bin", size_threshold=0)
    else:
        onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("external", [False, True])
def test_graph_matches_what_onnx_reads(tmp_path, external):
    path = _model(tmp_path / "m.onnx", external)
    expected = onnx.load(str(path), load_external_data=False).graph
    graph = read_graph(path)
    assert [(n.op_type, list(n.input), list(n.output), n.name) for n in graph.node] == \
        [(n.op_type, list(n.input), list(n.output), n.name) for n in expected.node]
    assert [o.name for o in graph.output] == ["y", "logits"]
    assert [t.name for t in graph.initializer] == ["w"]
    assert external_locations(graph) == (["weights.bin"] if external else [])


def test_a_file_that_is_not_onnx_gives_none(tmp_path):
    (tmp_path / "bad.onnx").write_bytes(b"\xff\xfe not a protobuf \x00" * 10)
    (tmp_path / "empty.onnx").write_bytes(b"")
    assert read_graph(tmp_path / "bad.onnx") is None
    assert read_graph(tmp_path / "empty.onnx") is None


def test_small_constants_opset_and_attributes_are_read(tmp_path):
    """Constants as raw_data, float_data, int64_data, float16 bits and Constant nodes;
    weights (over 64 values) are dropped; the default opset and int/float attributes."""
    from geotile.onnx_graph import attribute, constant_values, default_opset, read_model

    tensors = [numpy_helper.from_array(np.array([1 / 255, 2], np.float32), "raw"),
               helper.make_tensor("listed", TensorProto.FLOAT, [2], [0.5, -3.0]),
               helper.make_tensor("ints", TensorProto.INT64, [3], [1, -2, 3]),
               helper.make_tensor("half", TensorProto.FLOAT16, [1], [0.25]),  # bits in int32
               numpy_helper.from_array(np.ones((16, 3, 2, 2), np.float32), "weight")]
    nodes = [helper.make_node("Constant", [], ["c"], value_float=7.5),
             helper.make_node("Constant", [], ["t"], value=helper.make_tensor(
                 "t", TensorProto.DOUBLE, [], [0.125])),
             helper.make_node("Softmax", ["x"], ["y"], axis=-1),
             helper.make_node("Clip", ["y"], ["z"], min=-1.5)]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)], tensors)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 10)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "m.onnx"))
    read = read_model(tmp_path / "m.onnx")
    assert default_opset(read) == 10
    values = constant_values(read.graph)
    assert set(values) == {"raw", "listed", "ints", "half", "c", "t"}
    np.testing.assert_allclose(values["raw"], [1 / 255, 2], rtol=1e-7)
    assert values["listed"].tolist() == [0.5, -3.0] and values["ints"].tolist() == [1, -2, 3]
    assert values["half"].tolist() == [0.25]
    assert float(values["c"]) == 7.5 and float(values["t"]) == 0.125
    softmax, clip = read.graph.node[2], read.graph.node[3]
    assert attribute(softmax, "axis") == -1 and attribute(clip, "min") == -1.5
    assert attribute(clip, "max", "none") == "none"


def test_graph_is_read_with_protobuf_before_get_message_class(tmp_path, monkeypatch):
    """onnx 1.15 (setup.cfg's oldest) accepts protobuf 3.20-4.21, whose message_factory has
    no GetMessageClass (only MessageFactory.GetPrototype): every model read failed there
    with an AttributeError traceback. Simulated here on the installed protobuf."""
    import sys
    import types

    import google.protobuf
    from google.protobuf import message_factory

    from geotile import onnx_graph

    class OldFactory:  # protobuf 4.21's API, answered by the installed one
        def __init__(self, pool):
            self.pool = pool

        def GetPrototype(self, descriptor):
            return message_factory.GetMessageClass(descriptor)

    old = types.SimpleNamespace(MessageFactory=OldFactory)
    monkeypatch.setattr(google.protobuf, "message_factory", old)
    monkeypatch.setitem(sys.modules, "google.protobuf.message_factory", old)
    onnx_graph._model_class.cache_clear()
    try:
        graph = read_graph(_model(tmp_path / "m.onnx"))
    finally:
        onnx_graph._model_class.cache_clear()
    assert [n.op_type for n in graph.node] == ["Conv", "Sigmoid", "Transpose", "Identity"]


def _function_model(path):
    """A graph whose head is a model-local function (as torch.onnx.export writes with
    export_modules_as_functions=True): Head calls Activate, whose Softmax takes its axis
    from Head's attribute; a Normalize function divides the input by 255."""
    ops = [helper.make_opsetid("", 17), helper.make_opsetid("local", 1)]
    axis = helper.make_attribute_ref("axis", onnx.AttributeProto.INT)
    activate = helper.make_function("local", "Activate", ["x"], ["y"],
                                    [helper.make_node("Softmax", ["x"], ["y"])], ops, ["axis"])
    activate.node[0].attribute.append(axis)
    head = helper.make_function(
        "local", "Head", ["x"], ["y"],
        [helper.make_node("Identity", ["x"], ["t"]),
         helper.make_node("Activate", ["t"], ["y"], domain="local", axis=1)], ops)
    scale = numpy_helper.from_array(np.array(255, np.float32), "k")
    normalize = helper.make_function(
        "local", "Normalize", ["x"], ["y"],
        [helper.make_node("Constant", [], ["k"], value=scale),
         helper.make_node("Div", ["x", "k"], ["y"])], ops)
    weight = numpy_helper.from_array(np.array([1, 1, 1, 0, 0, 0], np.float32)
                                     .reshape(2, 3, 1, 1), "w")
    nodes = [helper.make_node("Normalize", ["image"], ["t"], domain="local"),
             helper.make_node("Conv", ["t", "w"], ["c"]),
             helper.make_node("Head", ["c"], ["t_out"], domain="local"),
             helper.make_node("Identity", ["t_out"], ["scores"])]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("image", TensorProto.FLOAT,
                                                   ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 2, "H", "W"])],
        [weight])
    model = helper.make_model(graph, opset_imports=ops, functions=[activate, head, normalize])
    model.ir_version = 10
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def test_model_local_functions_are_read_inlined(tmp_path):
    """Nodes inside model-local functions (nested, with attributes referring to the
    caller's) are read in place of their calls, as onnx's own inliner expands them."""
    from onnx.inliner import inline_local_functions

    from geotile.onnx_graph import attribute

    path = _function_model(tmp_path / "m.onnx")
    expected = inline_local_functions(onnx.load(str(path))).graph
    graph = read_graph(path)
    assert [n.op_type for n in graph.node] == [n.op_type for n in expected.node]
    assert [n.op_type for n in graph.node] == ["Constant", "Div", "Conv", "Identity",
                                               "Softmax", "Identity"]
    softmax = next(n for n in graph.node if n.op_type == "Softmax")
    assert attribute(softmax, "axis") == 1
    # the wiring: each node's inputs are the graph's input, an initializer or an output
    # of an earlier node, and the graph's output is produced
    known = {"image", "w"}
    for node in graph.node:
        assert all(name in known for name in node.input if name)
        known.update(node.output)
    assert "scores" in known


def test_outputs_left_out_of_function_calls_stay_apart(tmp_path):
    """Two calls each leaving their first output out (""): each call's inner value keeps
    a name of its own, so the final Sigmoid read through the first call is still seen."""
    from geotile.graph_analysis import graph_activation

    ops = [helper.make_opsetid("", 17), helper.make_opsetid("local", 1)]
    head = helper.make_function("local", "Head", ["x"], ["a", "b"],
                                [helper.make_node("Sigmoid", ["x"], ["a"]),
                                 helper.make_node("Identity", ["a"], ["b"])], ops)
    aux = helper.make_function("local", "Aux", ["x"], ["p", "q"],
                               [helper.make_node("Relu", ["x"], ["p"]),
                                helper.make_node("Identity", ["p"], ["q"])], ops)
    nodes = [helper.make_node("Head", ["image"], ["", "scores"], domain="local"),
             helper.make_node("Aux", ["image"], ["", "z"], domain="local")]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 1, 2, 2])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 1, 2, 2])])
    model = helper.make_model(graph, opset_imports=ops, functions=[head, aux])
    onnx.save(model, str(tmp_path / "m.onnx"))
    graph = read_graph(tmp_path / "m.onnx")
    assert all(output for node in graph.node for output in node.output)
    assert graph_activation(tmp_path / "m.onnx") == "none"


def test_a_function_calling_itself_twice_is_read_at_once(tmp_path):
    """A (checker-invalid) function calling itself twice: its inner calls are left as
    calls, not expanded 2**33 times."""
    ops = [helper.make_opsetid("", 17), helper.make_opsetid("local", 1)]
    recursive = helper.make_function(
        "local", "R", ["x"], ["y"], [helper.make_node("R", ["x"], ["a"], domain="local"),
                                     helper.make_node("R", ["a"], ["y"], domain="local")], ops)
    graph = helper.make_graph(
        [helper.make_node("R", ["image"], ["scores"], domain="local")], "g",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1])])
    model = helper.make_model(graph, opset_imports=ops, functions=[recursive])
    onnx.save(model, str(tmp_path / "m.onnx"))
    assert [n.op_type for n in read_graph(tmp_path / "m.onnx").node] == ["R", "R"]
