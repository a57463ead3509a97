"""The few parts of an ONNX file geotile reads before running it: node ops, their
inputs/outputs and integer-list attributes (a Transpose's perm), the graph's output names
and where initialisers keep external data.

Parsed by protobuf against a subset of onnx.proto (same field numbers; other fields are
skipped), in a private descriptor pool. Importing the ``onnx`` package instead costs about
a second (ml_dtypes 0.7 registers its types at import), more than a small model's whole run.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

#: message -> [(field name, number, type, repeated, message type)]; numbers from onnx.proto
_SCHEMA = {
    "StringStringEntryProto": [("key", 1, "string", False, None),
                               ("value", 2, "string", False, None)],
    "ValueInfoProto": [("name", 1, "string", False, None)],
    "NodeProto": [("input", 1, "string", True, None), ("output", 2, "string", True, None),
                  ("name", 3, "string", False, None), ("op_type", 4, "string", False, None),
                  ("attribute", 5, "message", True, "AttributeProto"),
                  ("domain", 7, "string", False, None)],
    "AttributeProto": [("name", 1, "string", False, None), ("ints", 8, "int64", True, None)],
    "TensorProto": [("name", 8, "string", False, None),
                    ("external_data", 13, "message", True, "StringStringEntryProto"),
                    ("data_location", 14, "int32", False, None)],
    "GraphProto": [("node", 1, "message", True, "NodeProto"),
                   ("initializer", 5, "message", True, "TensorProto"),
                   ("input", 11, "message", True, "ValueInfoProto"),
                   ("output", 12, "message", True, "ValueInfoProto")],
    "ModelProto": [("ir_version", 1, "int64", False, None),
                   ("graph", 7, "message", False, "GraphProto")],
}

#: TensorProto.DataLocation.EXTERNAL
EXTERNAL = 1


@cache
def _model_class():
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    field = descriptor_pb2.FieldDescriptorProto
    types = {"string": field.TYPE_STRING, "int32": field.TYPE_INT32,
             "int64": field.TYPE_INT64, "message": field.TYPE_MESSAGE}
    file = descriptor_pb2.FileDescriptorProto(name="geotile_onnx_subset.proto",
                                              package="geotile_onnx", syntax="proto2")
    for message, fields in _SCHEMA.items():
        proto = file.message_type.add(name=message)
        for name, number, kind, repeated, type_name in fields:
            entry = proto.field.add(name=name, number=number, type=types[kind],
                                    label=field.LABEL_REPEATED if repeated
                                    else field.LABEL_OPTIONAL)
            if type_name:
                entry.type_name = f".geotile_onnx.{type_name}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("geotile_onnx.ModelProto"))


def read_graph(path: str | Path):
    """The graph of the ONNX model at ``path`` (``.node``, ``.initializer``, ``.output`` as
    in onnx's GraphProto), or None when the file does not parse as an ONNX model."""
    model = _model_class()()
    try:
        model.ParseFromString(Path(path).read_bytes())
    except Exception:  # not protobuf, or over protobuf's 2 GB: ONNX Runtime explains
        return None
    if not model.HasField("graph"):
        return None
    model.DiscardUnknownFields()  # the weights: geotile reads none of them
    return model.graph


def external_locations(graph) -> list[str]:
    """The external-data files the graph's initialisers name, in order, without repeats."""
    found: dict[str, None] = {}
    for tensor in graph.initializer:
        if tensor.data_location == EXTERNAL:
            for entry in tensor.external_data:
                if entry.key == "location" and entry.value:
                    found.setdefault(entry.value)
    return list(found)
