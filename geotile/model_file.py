"""Loading an ONNX model's file: a local path, its graph parsed without the weights (its
external weights checked beside it), a key of its content, its float16 copy, and one line
for a file ONNX Runtime refuses."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from geotile.errors import ModelError


def local_model_path(path: str | os.PathLike) -> Path:
    """``path`` as a Path, or ModelError naming it as given for a GDAL virtual or remote
    path: ONNX Runtime reads models from local files only (download it first). A STAC MLM
    item (.json) gives the ONNX model it names (:func:`~geotile.mlm_sidecars.mlm_model_file`)."""
    from geotile.input_paths import is_virtual_path

    if is_virtual_path(path):
        raise ModelError(f"{os.fspath(path)}: the model must be a local file (ONNX Runtime "
                         "reads local files); download it first (e.g. `curl -O`, `aws s3 cp`) "
                         "and give its local path.")
    if Path(path).suffix.lower() == ".json":
        from geotile.mlm_sidecars import mlm_model_file
        from geotile.model_formats import not_onnx

        if other := not_onnx(path):  # a PaddlePaddle 3 program, not an MLM item
            raise ModelError(other)

        return mlm_model_file(path)
    return Path(path)


def first_line(exc: Exception, limit: int = 240) -> str:
    """ONNX Runtime's message on one line, without its source location and C++ signature,
    cut at a word within ``limit`` characters."""
    import re

    text = " ".join(str(exc).split())
    if "Status Message:" in text:
        text = text.split("Status Message:", 1)[1].strip()
    # "/onnxruntime_src/.../file.h:46 void onnxruntime::f(const std::string&, int) Reason"
    text = re.sub(r"/?onnxruntime_src/\S+:\d+ (?:[^()]*onnxruntime::[^()]*"
                  r"\((?:[^()]|\([^()]*\))*\) (?:const )?)?", " ", text)
    text = " ".join(text.split())
    text = text or type(exc).__name__
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + "..."
    return text


def content_key(data: bytes, external: list[Path]) -> str:
    """A short key of a model's content: the file's bytes and its ``external`` weights
    (:func:`external_data_files`), for TensorRT's engine cache folder and the --fp16 copy;
    hashed only where it is used (a 100 MB model takes ~0.2 s)."""
    digest = hashlib.sha256(data)
    for weights in external:  # retrained weights are a new model
        with open(weights, "rb") as file:
            for chunk in iter(lambda: file.read(1 << 24), b""):
                digest.update(chunk)
    return digest.hexdigest()[:16]


def load_model(path: Path, data: bytes | None = None):
    """The ONNX model (``.graph``, ``.opset_import``) without its weights, None when it does
    not parse; ModelError for a missing external-data file. ``data``: the file's bytes."""
    from geotile.onnx_graph import external_extents, external_locations, read_model

    model = read_model(path, data)
    if model is None:
        return None  # ONNX Runtime explains what is wrong with the file
    for location in external_locations(model.graph):
        if not (path.parent / location).is_file():
            raise ModelError(f"{path}: its weights are in the external file {location}, "
                             f"missing from the model's folder ({path.parent.resolve()}). "
                             f"Keep {location} next to the model.")
    for location, needed in external_extents(model.graph).items():
        size = (path.parent / location).stat().st_size
        if size < needed:
            raise ModelError(f"{path}: its weights file {location} holds {size} bytes, "
                             f"shorter than the {needed} the model reads from it (a copy or "
                             f"download that stopped): copy {location} again.")
    return model


def explain_load_error(path: Path, exc: Exception, data: bytes = b"") -> str:
    """One line for a model ONNX Runtime refused; ``data``: the bytes it was given."""
    import re

    import onnxruntime as ort

    text = str(exc)
    ir = re.search(r"IR version:? (\d+).*max supported IR version:? (\d+)", text, re.I | re.S)
    if ir:
        return (f"{path}: the model has ONNX IR version {ir.group(1)} but the installed ONNX "
                f"Runtime {ort.__version__} reads up to {ir.group(2)}. Upgrade onnxruntime, or "
                "re-export the model with an older IR version (onnx.save with ir_version set).")
    from geotile.failed_downloads import failed_download

    # an empty file or a saved error page, whatever ONNX Runtime's words for it (1.17 said
    # 'ModelProto does not have a graph' of an empty one)
    download = failed_download(path, "an ONNX model")
    if download:
        return download
    if "protobuf" in text.lower() or "INVALID_PROTOBUF" in text:
        if len(data) > 2 and data[0] == 0x08 and 0 < data[1] < 0x80:  # starts as ONNX does
            return (f"{path}: cut short or damaged (an ONNX model that does not parse to its "
                    "end: a copy or download that did not finish, or one being written now); "
                    "copy it again.")
        return (f"{path}: not an ONNX model (the file cannot be parsed), nor a format geotile "
                "recognises: export the model to ONNX from its training framework "
                "(torch.onnx.export, tf2onnx, optimum-cli export onnx).")
    opset = re.search(r"Opset (\d+) is under development.*domain (\S+) is till opset (\d+)",
                      text, re.S)
    if opset:
        return (f"{path}: the model uses opset {opset.group(1)} of {opset.group(2)}, and the "
                f"installed ONNX Runtime {ort.__version__} supports up to {opset.group(3)}. "
                "Re-export it with an older opset (torch.onnx.export opset_version=...).")
    kernel = re.search(r"Could not find an implementation for (\S+)\((\d+)\) node with "
                       r"name '([^']*)'", text)
    if kernel:  # an op at an opset, or of input types, this ONNX Runtime has no kernel for
        op, version, node = kernel.groups()
        return (f"{path}: the installed ONNX Runtime {ort.__version__} has no implementation "
                f"of {op} (opset {version}) for the input types of node '{node}'. Re-export "
                "the model (another opset_version, or with dynamic height/width, or dynamo=True "
                "in torch.onnx.export), or try another onnxruntime version.")
    if "Type Error" in text and "tensor(float16)" in text:  # a float16 conversion's types
        return (f"{path}: ONNX Runtime cannot load this float16 model ({first_line(exc)}): "
                "its converter mistyped it (convert_float_to_float16 of an opset 9/10 "
                "Upsample export does). Convert an export of opset 11 or later, or give the "
                "float32 model (--fp16 runs a float16 copy of it on a GPU).")
    return f"{path}: ONNX Runtime cannot load the model ({first_line(exc)})."


def external_data_files(path: Path, graph) -> list[Path]:
    """The files holding the external weights of the model at ``path`` (its parsed
    ``graph``, None when it did not parse), beside it, in a stable order."""
    from geotile.onnx_graph import external_locations

    names = external_locations(graph) if graph is not None else []
    return [path.parent / name for name in sorted(names) if (path.parent / name).is_file()]


def float16_copy(path: str | os.PathLike, data: bytes | None = None) -> Path:
    """A float16 copy of the model (float32 inputs and outputs kept), converted once and
    cached by the hash of its content and its external weights under $GEOTILE_CACHE
    (default ~/.cache/geotile). ``data``: the model file's bytes, read already (hashed and
    converted, so that a copy of another model never lands under this one's key)."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    path = Path(path)
    from geotile.onnx_graph import read_model

    data = path.read_bytes() if data is None else data
    parsed = read_model(path, data)  # once, for the key and the weights' files
    external = external_data_files(path, parsed.graph if parsed is not None else None)
    digest = content_key(data, external)  # re-exported weights are a new copy
    cache = Path(os.environ.get("GEOTILE_CACHE", Path.home() / ".cache" / "geotile"))
    # fp16-2: copies cached before repeated Casts were removed cannot load; never reuse them
    target = cache / f"{path.stem}.{digest}.fp16-2.onnx"
    if target.exists():
        return target
    model = onnx.load_model_from_string(data)
    if external:
        from onnx.external_data_helper import load_external_data_for_model

        load_external_data_for_model(model, str(path.parent))
    converted = _without_repeated_nodes(convert_float_to_float16(model, keep_io_types=True))
    cache.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")  # concurrent runs never share a file
    onnx.save(converted, str(tmp))
    os.replace(tmp, target)
    return target


def _without_repeated_nodes(model):
    """``model`` less the repeats of a node and of a value_info: the float16 converter adds one
    Cast ``<name>_cast_to_fp32_node`` per node reading a float ``<name>`` that must stay
    float32 (Resize's scales, which torch's dynamo exporter shares between all the
    upsamplings of a U-Net), each the same node, which ONNX Runtime refuses to load."""
    graph = model.graph
    for field in ("node", "value_info"):
        entries, seen = list(getattr(graph, field)), set()
        kept = []
        for entry in entries:
            key = entry.SerializeToString(deterministic=True) if field == "node" else entry.name
            if key not in seen:
                seen.add(key)
                kept.append(entry)
        if len(kept) < len(entries):
            graph.ClearField(field)
            getattr(graph, field).extend(kept)
    return model
