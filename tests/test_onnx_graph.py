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
