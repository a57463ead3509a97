"""The few parts of an ONNX file geotile reads before running it: its producer, node ops, their
inputs/outputs and attributes (a Transpose's perm, a Softmax's axis, a Resize's mode), the
graph's input and output names, shapes and doc strings, the default opset, small
constants (a Mul's 1/255, a Clip's bounds) and where initialisers keep external data.

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
    "ValueInfoProto": [("name", 1, "string", False, None),
                       ("type", 2, "message", False, "TypeProto"),
                       ("doc_string", 3, "string", False, None)],
    "TypeProto": [("tensor_type", 1, "message", False, "TypeProtoTensor")],
    "TypeProtoTensor": [("elem_type", 1, "int32", False, None),
                        ("shape", 2, "message", False, "TensorShapeProto")],
    "TensorShapeProto": [("dim", 1, "message", True, "Dimension")],
    "Dimension": [("dim_value", 1, "int64", False, None),
                  ("dim_param", 2, "string", False, None)],
    "NodeProto": [("input", 1, "string", True, None), ("output", 2, "string", True, None),
                  ("name", 3, "string", False, None), ("op_type", 4, "string", False, None),
                  ("attribute", 5, "message", True, "AttributeProto"),
                  ("domain", 7, "string", False, None),
                  ("overload", 8, "string", False, None),
                  ("metadata_props", 9, "message", True, "StringStringEntryProto")],
    "AttributeProto": [("name", 1, "string", False, None), ("f", 2, "float", False, None),
                       ("i", 3, "int64", False, None), ("s", 4, "bytes", False, None),
                       ("t", 5, "message", False, "TensorProto"),
                       ("floats", 7, "float", True, None), ("ints", 8, "int64", True, None),
                       ("ref_attr_name", 21, "string", False, None)],
    "TensorProto": [("dims", 1, "int64", True, None), ("data_type", 2, "int32", False, None),
                    ("float_data", 4, "float", True, None),
                    ("int32_data", 5, "int32", True, None),
                    ("int64_data", 7, "int64", True, None),
                    ("name", 8, "string", False, None), ("raw_data", 9, "bytes", False, None),
                    ("double_data", 10, "double", True, None),
                    ("external_data", 13, "message", True, "StringStringEntryProto"),
                    ("data_location", 14, "int32", False, None)],
    "OperatorSetIdProto": [("domain", 1, "string", False, None),
                           ("version", 2, "int64", False, None)],
    "GraphProto": [("node", 1, "message", True, "NodeProto"),
                   ("initializer", 5, "message", True, "TensorProto"),
                   ("input", 11, "message", True, "ValueInfoProto"),
                   ("output", 12, "message", True, "ValueInfoProto")],
    "FunctionProto": [("name", 1, "string", False, None), ("input", 4, "string", True, None),
                      ("output", 5, "string", True, None),
                      ("node", 7, "message", True, "NodeProto"),
                      ("domain", 10, "string", False, None),
                      ("attribute_proto", 11, "message", True, "AttributeProto"),
                      ("overload", 13, "string", False, None)],
    "ModelProto": [("ir_version", 1, "int64", False, None),
                   ("producer_name", 2, "string", False, None),
                   ("graph", 7, "message", False, "GraphProto"),
                   ("opset_import", 8, "message", True, "OperatorSetIdProto"),
                   ("functions", 25, "message", True, "FunctionProto")],
}

#: TensorProto.DataLocation.EXTERNAL
EXTERNAL = 1
#: tensors of more elements are weights: their values are dropped after parsing
SMALL = 64
#: TensorProto.DataType -> numpy dtype, for the types constants are read from
_DTYPES = {1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32",
           7: "int64", 9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64"}


@cache
def _model_class():
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    field = descriptor_pb2.FieldDescriptorProto
    types = {"string": field.TYPE_STRING, "int32": field.TYPE_INT32,
             "int64": field.TYPE_INT64, "message": field.TYPE_MESSAGE,
             "bytes": field.TYPE_BYTES, "float": field.TYPE_FLOAT,
             "double": field.TYPE_DOUBLE}
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
    return _message_class(message_factory, pool.FindMessageTypeByName("geotile_onnx.ModelProto"))


def _message_class(message_factory, descriptor):
    """The class of ``descriptor``'s messages: newer protobuf has GetMessageClass only
    (GetPrototype is removed), 3.20-4.21 (allowed by onnx 1.15) GetPrototype only."""
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(descriptor)
    return message_factory.MessageFactory(descriptor.file.pool).GetPrototype(descriptor)


def read_model(path: str | Path, data: bytes | None = None):
    """The ONNX model at ``path`` (``.graph``, ``.opset_import`` as in onnx's ModelProto),
    without its weights, or None when the file does not parse as an ONNX model; ``data``:
    the file's bytes, read already (parsed instead of reading it again)."""
    model = _model_class()()
    try:
        model.ParseFromString(Path(path).read_bytes() if data is None else data)
    except Exception:  # not protobuf, or over protobuf's 2 GB: ONNX Runtime explains
        return None
    if not model.HasField("graph"):
        return None
    model.DiscardUnknownFields()
    if model.functions:
        _inline_functions(model)
    for tensor in model.graph.initializer:  # the weights: geotile reads none of them
        if _size(tensor) > SMALL:
            for name in ("raw_data", "float_data", "int32_data", "int64_data", "double_data"):
                tensor.ClearField(name)
    return model


def _inline_functions(model) -> None:
    """Replace calls of the model's local functions (torch.onnx.export's
    export_modules_as_functions, onnxscript) by the functions' nodes, nested calls too, as
    onnx.inliner does: the activation or /255 inside a function is then seen."""
    functions = {(f.domain, f.name, f.overload): f for f in model.functions}
    node_class = type(model.graph.node[0]) if model.graph.node else None
    calls = [0]

    def expand(nodes, active: frozenset) -> list:
        expanded = []
        for node in nodes:
            key = (node.domain, node.op_type, node.overload)
            function = functions.get(key)
            if function is None or key in active:  # recursion: left as a call
                expanded.append(node)
                continue
            calls[0] += 1
            names = dict.fromkeys(function.input, "")  # optional inputs left out: none
            names.update(zip(function.input, node.input, strict=False))
            # outputs the call leaves out ("") keep an inner name of this call: mapped to ""
            # they would be one value of every call's left-out outputs
            names.update((name, outer) for name, outer
                         in zip(function.output, node.output, strict=False) if outer)
            given = {a.name: a for a in node.attribute}
            defaults = {a.name: a for a in function.attribute_proto}
            body = []
            for inner in function.node:
                copy = node_class()
                copy.CopyFrom(inner)
                for field in (copy.input, copy.output):
                    field[:] = [names.get(name, f"{name}@call{calls[0]}") if name else ""
                                for name in field]
                for attr in list(copy.attribute):
                    if attr.ref_attr_name:
                        source = given.get(attr.ref_attr_name,
                                           defaults.get(attr.ref_attr_name))
                        copy.attribute.remove(attr)
                        if source is not None:
                            value = copy.attribute.add()
                            value.CopyFrom(source)
                            value.name = attr.name
                body.append(copy)
            expanded.extend(expand(body, active | {key}))
        return expanded

    nodes = expand(list(model.graph.node), frozenset())
    del model.graph.node[:]
    model.graph.node.extend(nodes)


def read_graph(path: str | Path):
    """The graph of the ONNX model at ``path`` (``.node``, ``.initializer``, ``.input``,
    ``.output`` as in onnx's GraphProto), or None when the file is not an ONNX model."""
    model = read_model(path)
    return model.graph if model is not None else None


def default_opset(model) -> int | None:
    """The version of the default (ai.onnx) operator set the model imports, or None."""
    versions = [entry.version for entry in model.opset_import
                if entry.domain in ("", "ai.onnx")] if model is not None else []
    return int(versions[0]) if versions else None


def _size(tensor) -> int:
    count = 1
    for dim in tensor.dims:
        count *= dim
    return count


def tensor_values(tensor):
    """The values of a small TensorProto as a numpy array, or None (a weight, external
    data, a type other than numbers)."""
    import numpy as np

    dtype = _DTYPES.get(tensor.data_type)
    if dtype is None or tensor.data_location == EXTERNAL or _size(tensor) > SMALL:
        return None
    shape = tuple(tensor.dims)
    if tensor.raw_data:
        values = np.frombuffer(tensor.raw_data, dtype=np.dtype(dtype).newbyteorder("<"))
    else:
        listed = (tensor.float_data if dtype == "float32" else tensor.double_data
                  if dtype == "float64" else tensor.int64_data if dtype in ("int64", "uint64")
                  else tensor.int32_data)
        values = np.asarray(list(listed))
        if dtype == "float16":  # stored as their bits in int32_data
            values = values.astype(np.uint16).view(np.float16)
    if values.size != _size(tensor):
        return None
    return values.astype(np.float64).reshape(shape)


def constant_values(graph) -> dict:
    """Tensor name -> numpy array of the graph's small constants: initialisers and Constant
    nodes (value, value_float(s), value_int(s))."""
    import numpy as np

    found = {}
    for tensor in graph.initializer:
        values = tensor_values(tensor)
        if values is not None:
            found[tensor.name] = values
    for node in graph.node:
        if node.op_type != "Constant" or not node.output:
            continue
        for entry in node.attribute:
            values = {"value": lambda a: tensor_values(a.t),
                      "value_float": lambda a: np.float64(a.f),
                      "value_floats": lambda a: np.asarray(list(a.floats), np.float64),
                      "value_int": lambda a: np.float64(a.i),
                      "value_ints": lambda a: np.asarray(list(a.ints), np.float64),
                      }.get(entry.name, lambda a: None)(entry)
            if values is not None:
                found[node.output[0]] = np.asarray(values)
    for node in graph.node:  # an int8 model's constants: its int8 values dequantized
        if node.op_type == "DequantizeLinear" and node.output and node.input[0] in found \
                and not attribute(node, "block_size"):
            values = dequantized(found, node.input[0], node.input[1:3],
                                 attribute(node, "axis", 1))
            if values is not None:
                found[node.output[0]] = values
    return found


def dequantized(found: dict, name: str, params, axis: int = 1):
    """DequantizeLinear of the constant ``name``, ``(q - zero point) * scale`` from the
    constants ``params`` (its scale and zero point names: one, or one per slice along
    ``axis``), else None (a parameter not constant)."""
    import numpy as np

    values = found[name]
    scale_name, zero_name = [*params, "", ""][:2]
    scale = found.get(scale_name)
    zero = found.get(zero_name) if zero_name else np.zeros(1)
    if scale is None or zero is None:
        return None
    if scale.size > 1 or zero.size > 1:  # per axis: along ``axis`` of the values
        if values.ndim == 0 or scale.ndim != 1 or not -values.ndim <= axis < values.ndim:
            return None
        shape = [1] * values.ndim
        shape[axis] = -1
        if values.shape[axis] != scale.size:
            return None
        scale, zero = scale.reshape(shape), (zero.reshape(shape) if zero.size > 1 else zero)
    return (values - zero) * scale


def attribute(node, name: str, default=None):
    """An attribute of ``node``: its int, float, string or ints, else ``default``."""
    for entry in node.attribute:
        if entry.name == name:
            if entry.ints:
                return list(entry.ints)
            if entry.floats:
                return list(entry.floats)
            if entry.HasField("s"):
                return entry.s.decode(errors="replace")
            return entry.i if entry.HasField("i") else entry.f if entry.HasField("f") \
                else default
    return default


def external_locations(graph) -> list[str]:
    """The external-data files the graph's initialisers name, in order, without repeats."""
    found: dict[str, None] = {}
    for tensor in graph.initializer:
        if tensor.data_location == EXTERNAL:
            for entry in tensor.external_data:
                if entry.key == "location" and entry.value:
                    found.setdefault(entry.value)
    return list(found)


def external_extents(graph) -> dict[str, int]:
    """The bytes each external-data file must hold at least: the end of the last weight
    (offset + length) the graph's initialisers read from it (those giving a length)."""
    ends: dict[str, int] = {}
    for tensor in graph.initializer:
        if tensor.data_location == EXTERNAL:
            entries = {entry.key: entry.value for entry in tensor.external_data}
            offset, length = entries.get("offset", "0"), entries.get("length", "")
            if entries.get("location") and offset.isdigit() and length.isdigit():
                end = int(offset) + int(length)
                ends[entries["location"]] = max(ends.get(entries["location"], 0), end)
    return ends
