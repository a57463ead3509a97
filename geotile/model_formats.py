"""What a model file that is no ONNX model is, told from its first bytes, its zip's member
names or its folder's files (never unpickled, never loaded with a framework: a few kB read,
a 2 GB checkpoint told in milliseconds), with the command that exports it to ONNX, in one
line (:func:`not_onnx`). Signatures, each from the format's own writer:

- PyTorch: torch.save's zip (``<name>/data.pkl`` first, ``<name>/version``, ``data/<key>``;
  TorchScript adds ``code/`` and ``constants.pkl``) or its legacy pickle (protocol 2, then
  the magic number 0x1950a86a20f9469cfc6c); data.pkl's opcodes (read with pickletools, not
  run) tell a Lightning checkpoint ("pytorch-lightning_version"), a state_dict (an
  OrderedDict) and a whole pickled model (its class) apart.
- safetensors: an 8-byte little-endian header length, then a JSON header.
- Keras: HDF5 (``\\x89HDF\\r\\n\\x1a\\n``), Keras 3 ``.keras`` (a zip of config.json,
  metadata.json, model.weights.h5); TensorFlow SavedModel (saved_model.pb: schema version 1,
  then a MetaGraphDef); TFLite (``TFL3`` at bytes 4..8).
- TensorRT engines (``ftrt``, or Ultralytics' 4-byte length and JSON before it), OpenVINO
  IR (``<net`` in an .xml), Paddle (.pdmodel/.pdiparams, PIR .json: ``"magic":"pir"``),
  CoreML (.mlmodel, .mlpackage), ncnn (.param: ``7767517``), Esri .dlpk (a zip with an
  .emd; one holding its ONNX model is run: :mod:`geotile.esri_sidecars`), Darknet (.cfg
  ``[net]``, .weights), scikit-learn/joblib pickles, Git LFS pointers.

A file whose first bytes read as ONNX ModelProto fields (any order: a producer_name 'TFL3...'
is no TFLite identifier) is never named from magic bytes; a saved_model.pb (whose start an
IR version 1 ONNX model can share) is told only of a .pb. A Raster Vision model bundle and
any file this does not know are left to the ONNX reader.
"""
from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

#: bytes read from a file's start (and from data.pkl, an .emd in a zip)
HEAD = 16384
#: a zip's central directory read at most (its first member names)
DIRECTORY = 1 << 20
#: members of a zip, files of a folder, looked at; a zip holding more is no model bundle
MEMBERS = 10_000

TORCH_MAGIC = b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little") + b"."
HDF5 = b"\x89HDF\r\n\x1a\n"
LFS = b"version https://git-lfs.github.com/spec/v1"
SHAPE = "torch.randn(1, C, H, W)"  # bands fed, the tile size
EXPORT = (f"torch.onnx.export(model.eval(), {SHAPE}, 'model.onnx', dynamo=True) (C bands, "
          "H x W a tile)")
STATE = ("build the network from its training code, load these weights (model."
         "load_state_dict) and export it: " + EXPORT)
TF_NHWC = "geotile feeds an NHWC export as it is"
OTHER = "export ONNX from the model it was made from (torch.onnx.export, tf2onnx)"


def not_onnx(path) -> str | None:
    """One line for the file or folder at ``path`` when it is a model of another format:
    what it is, and how to export it to ONNX; None for an ONNX model, a Raster Vision
    bundle, or anything else (the ONNX reader says what is wrong)."""
    path = Path(path)
    try:
        if path.is_dir():
            return _folder(path)
        with open(path, "rb") as file:
            head = file.read(HEAD)
            size = os.fstat(file.fileno()).st_size
            if head[:4] == b"PK\x03\x04":
                return _zip(path, file, size)
    except OSError:
        return None  # the loader names an unreadable file
    found = (None if _onnx_fields(head, size) else _content(path, head, size)) \
        or _by_name(path, head)
    return f"{path}: {found}" if found else None


#: ModelProto's fields: number -> wire type (0 varint, 2 length-delimited)
ONNX_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}


def _varint(data: bytes, at: int) -> tuple[int, int]:
    """(value, next position) of the varint at ``at``; ValueError when cut or over 10 bytes."""
    value = shift = 0
    for end in range(at, min(at + 10, len(data))):
        value |= (data[end] & 0x7F) << shift
        if not data[end] & 0x80:
            return value, end + 1
        shift += 7
    raise ValueError("no varint")


def _onnx_fields(head: bytes, size: int) -> bool:
    """Whether ``head`` (of a ``size``-byte file) reads as an ONNX ModelProto's fields, in
    any order (protobuf allows it; some exporters write the graph first): each a ModelProto
    field of its wire type, each length within the file, to the end of ``head`` or the
    field running past it. Its strings (producer_name 'TFL3...', doc_string) are skipped,
    never taken for another format's magic bytes; no other format's start reads so."""
    at = 0
    try:
        while at < len(head):
            tag, at = _varint(head, at)
            if ONNX_FIELDS.get(tag >> 3) != tag & 7:
                return False
            value, at = _varint(head, at)
            if tag & 7 == 2:
                if value > size - at:
                    return False
                at += value
    except ValueError:  # a varint cut by the head's end, else no varint
        return len(head) < size and all(byte & 0x80 for byte in head[at:])
    return at > 0 and (at == size or len(head) < size)


# --- files --------------------------------------------------------------------------------
def _content(path: Path, head: bytes, size: int) -> str | None:
    """What ``head`` (a file's first bytes, ``size`` in all) is, from its magic bytes."""
    if head.startswith(LFS):
        told = next((w for line in head.decode("ascii", "replace").splitlines()
                     if line.startswith("size ") for w in line.split()[1:2]), "?")
        return (f"a Git LFS pointer ({size} bytes of text standing for the {told}-byte file), "
                "not the model: run `git lfs pull` in its repository, or download the file "
                "itself.")
    if head.startswith(TORCH_MAGIC):
        return _pickle(path, head[len(TORCH_MAGIC):], "PyTorch checkpoint (torch.save, legacy "
                       "format)")
    if len(head) > 1 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return _pickle(path, head, "")
    if head.startswith(HDF5):
        return ("an HDF5 file (a Keras .h5 model), not an ONNX model: convert it with `python "
                f"-m tf2onnx.convert --keras {path.name} --output model.onnx` (a model saved "
                f"with model.save, not save_weights); {TF_NHWC}.")
    if _safetensors(head, size):
        return ("safetensors weights (no network), not an ONNX model: " + _hf_or_state(path))
    if head[4:8] == b"TFL3":
        return (f"a TensorFlow Lite model, not an ONNX model: convert it with `python -m "
                f"tf2onnx.convert --tflite {path.name} --output model.onnx`; {TF_NHWC}.")
    if head[:4] == b"ftrt" or _ultralytics_engine(head):
        return ("a TensorRT engine (built for one GPU and TensorRT version), not an ONNX "
                "model: give the .onnx it was built from (--providers tensorrt builds and "
                "caches its own engines).")
    return None


def _by_name(path: Path, head: bytes) -> str | None:
    """What a file of no magic number is, from its suffix and its first bytes or files
    beside it: OpenVINO, Paddle, CoreML, ncnn, Darknet, a TensorFlow graph."""
    suffix, text = path.suffix.lower(), head[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    beside = path.with_suffix
    if (suffix == ".xml" and b"<net" in head) or (
            suffix == ".bin" and b"<net" in _head(beside(".xml"))):
        return ("an OpenVINO IR model (.xml and .bin), not an ONNX model: OpenVINO does not "
                f"export ONNX; {OTHER}.")
    if suffix in (".pdmodel", ".pdiparams") or (suffix == ".json" and _paddle_json(path, head)):
        pir = suffix == ".json" or (suffix == ".pdiparams" and beside(".json").is_file()
                                    and not beside(".pdmodel").is_file())
        return ("a PaddlePaddle inference model, not an ONNX model: " + _paddle2onnx(
            path.parent, path.stem + (".json" if pir else ".pdmodel"), path.stem))
    if suffix == ".mlmodel":
        return ("a Core ML model, not an ONNX model: convert a neural network with onnxmltools "
                "(onnx.save(onnxmltools.convert_coreml(coremltools.utils.load_spec("
                f"'{path.name}')), 'model.onnx')), or {OTHER}.")
    if text.startswith(b"7767517") or (suffix == ".bin" and beside(".param").is_file()):
        return ("an ncnn model (.param and .bin), not an ONNX model: ncnn does not export "
                f"ONNX; {OTHER}.")
    if text.startswith((b"[net]", b"[network]")) or (
            suffix == ".weights" and beside(".cfg").is_file()) or (
            suffix == ".weights" and len(head) >= 12 and struct.unpack("<3i", head[:12])[0]
            in (0, 1) and struct.unpack("<3i", head[:12])[1] < 100):
        return ("a Darknet model (.cfg and .weights), not an ONNX model: convert the pair "
                "with a Darknet-to-ONNX converter (e.g. through PyTorch, then "
                "torch.onnx.export).")
    if suffix == ".pb" and _saved_model(head):  # as ONNX's IR version 1 starts: by name
        return ("a TensorFlow SavedModel's saved_model.pb, not an ONNX model: convert its "
                f"folder with `python -m tf2onnx.convert --saved-model {path.parent} --output "
                f"model.onnx`; {TF_NHWC}.")
    if suffix == ".pb" and head[:1] == b"\x0a":
        return ("a TensorFlow graph (.pb), not an ONNX model: convert it with `python -m "
                f"tf2onnx.convert --graphdef {path.name} --inputs <in>:0 --outputs <out>:0 "
                f"--output model.onnx`; {TF_NHWC}.")
    return None


def _paddle_json(path: Path, head: bytes) -> bool:
    """Whether the .json at ``path`` is a PaddlePaddle 3 (PIR) program: its first key
    base_code says "magic":"pir" (Paddle's serializer), or its .pdiparams is beside it and it
    is no STAC (MLM) item."""
    text = b"".join(head[:1024].split())
    return b'"magic":"pir"' in text or (path.with_suffix(".pdiparams").is_file() and not (
        b'"stac_version"' in head or b'"mlm:' in head))


def _paddle2onnx(folder: Path, model: str, stem: str) -> str:
    """paddle2onnx's command for ``model`` (.pdmodel, or PIR's .json) and its weights."""
    pir = " (paddle2onnx 2.0 or later reads a .json program)" if model.endswith(".json") else ""
    return (f"convert it with `paddle2onnx --model_dir {folder} --model_filename {model} "
            f"--params_filename {stem}.pdiparams --save_file model.onnx`{pir}.")


def _saved_model(head: bytes) -> bool:
    """Whether ``head`` starts as a SavedModel: schema version 1 (field 1), then a
    MetaGraphDef (field 2) opening with its meta_info_def (field 1); ONNX's IR version is
    3 or more."""
    if head[:3] != b"\x08\x01\x12":
        return False
    at = 3
    while at < min(len(head), 13) and head[at] & 0x80:  # the MetaGraphDef's length
        at += 1
    return head[at + 1:at + 2] == b"\x0a"


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read(HEAD)
    except OSError:
        return b""


def _safetensors(head: bytes, size: int) -> bool:
    """Whether ``head`` starts as safetensors: a length within the file, then '{'."""
    if len(head) < 9:
        return False
    length = struct.unpack("<Q", head[:8])[0]
    return head[8:9] == b"{" and 2 <= length <= size - 8


def _ultralytics_engine(head: bytes) -> bool:
    """Ultralytics' .engine: a 4-byte length, its JSON metadata, then the TensorRT plan."""
    if len(head) < 8 or head[4:5] != b"{":
        return False
    length = struct.unpack("<I", head[:4])[0]
    return head[4 + length:8 + length] == b"ftrt"


def _hf_or_state(path: Path) -> str:
    """The export of weights in ``path``: Optimum's for a Hugging Face folder, else the
    network's code."""
    folder = path.parent
    if (folder / "config.json").is_file():
        return _optimum(folder)
    return STATE + "."


def _optimum(folder: Path) -> str:
    return (f"export the folder with `optimum-cli export onnx --model {folder} --task "
            "semantic-segmentation <out folder>` and give <out folder>/model.onnx.")


# --- pickles (PyTorch, scikit-learn) -------------------------------------------------------
def _pickle(path: Path, data: bytes, torch: str) -> str:
    """What the pickle starting ``data`` is, from its opcodes' globals and strings (none of
    it run); ``torch``: "PyTorch checkpoint (...)" when torch.save wrote it, else ""."""
    globals_, strings, first = _opcodes(data)
    modules = [g.split(" ")[0] for g in globals_]
    torch = torch or ("PyTorch checkpoint (torch.save)" if any(
        m.split(".")[0] == "torch" for m in modules) else "")
    if "pytorch-lightning_version" in strings:
        return ("a PyTorch Lightning checkpoint, not an ONNX model: load it with your "
                f"LightningModule (YourModule.load_from_checkpoint('{path.name}')) and export "
                f"it with .to_onnx('model.onnx', {SHAPE}).")
    if any(m.split(".")[0] in ("sklearn", "joblib", "xgboost", "lightgbm") for m in modules):
        return ("a scikit-learn/joblib pickle (not loaded: pickles run code), not an ONNX "
                "model: convert it with skl2onnx (to_onnx(model, X[:1])); geotile runs "
                "networks on (N, C, H, W) images, not models of pixel rows.")
    if any(m.split(".")[0] == "ultralytics" for m in modules):
        return (f"an Ultralytics YOLO checkpoint, not an ONNX model: export it with `yolo "
                f"export model={path.name} format=onnx`.")
    if torch and first and first not in CONTAINERS:
        return (f"a {torch}, a whole pickled model ({first.replace(' ', '.')}), not an ONNX "
                "model: load it where that class can be imported (torch.load(..., "
                f"weights_only=False), if you trust the file) and export it: {EXPORT}.")
    if torch:
        keys = [k for k in ("state_dict", "model_state_dict", "model", "net") if k in strings]
        kind = f"a training checkpoint (its '{keys[0]}')" if keys else "a state_dict"
        return (f"a {torch}: {kind}, weights without the network, not an ONNX model: "
                + _hf_or_state(path))
    return ("a Python pickle (not loaded: pickles run code), not an ONNX model: export the "
            f"model to ONNX where it was trained ({EXPORT}, tf2onnx).")


#: globals of a checkpoint's containers and tensors, not a model's class
CONTAINERS = {"collections OrderedDict", "builtins dict", "__builtin__ dict",
              "torch._utils _rebuild_tensor_v2", "torch._utils _rebuild_parameter",
              "argparse Namespace", "_codecs encode", "builtins set", "builtins tuple"}


def _opcodes(data: bytes) -> tuple[list[str], list[str], str | None]:
    """(globals "module name", strings, the first global when it is the pickle's first
    object) of the pickles that ``data`` starts with, read with pickletools (no code run;
    a truncated or broken stream ends the reading)."""
    import io
    import pickletools

    globals_: list[str] = []
    strings: list[str] = []
    first = None
    stream = io.BytesIO(data)
    recent: list[str] = []
    try:
        while stream.tell() < len(data) and len(strings) < 2000:
            objects = 0
            for opcode, arg, _ in pickletools.genops(stream):
                name = opcode.name
                if name in ("GLOBAL", "STACK_GLOBAL", "INST"):
                    found = arg if name != "STACK_GLOBAL" else " ".join(recent[-2:])
                    globals_.append(str(found))
                    if objects == 0 and first is None:
                        first = str(found)
                elif isinstance(arg, str | bytes) and name not in ("PROTO", "FRAME"):
                    text = arg if isinstance(arg, str) else arg.decode("latin-1")
                    strings.append(text)
                    recent.append(text)
                if name in ("EMPTY_DICT", "EMPTY_LIST", "EMPTY_TUPLE", "GLOBAL",
                            "STACK_GLOBAL", "INST") or (name.endswith("INT") or "LONG" in name):
                    objects += 1
    except (ValueError, EOFError, UnicodeDecodeError, KeyError):
        pass
    return globals_, strings, first


# --- zips ------------------------------------------------------------------------------------
def _zip(path: Path, file, size: int) -> str | None:
    """What the zip at ``path`` is, from its member names (its central directory, read
    without unzipping): a PyTorch or Keras 3 file, an Esri package; None for a Raster Vision
    bundle or another zip, which the bundle reader names."""
    try:
        count, members = _members(file, size)
    except (ValueError, struct.error):
        return None  # the bundle reader says it is a broken zip
    names = [name for name, _ in members]
    base = {name.rsplit("/", 1)[-1] for name in names}
    prefix = names[0].split("/", 1)[0] + "/" if names and "/" in names[0] else ""
    inner = {name[len(prefix):] for name in names if name.startswith(prefix)}
    if "learner-config.json" in base or "model.onnx" in base or "pipeline-config.json" in base:
        return None  # Raster Vision's: its model.onnx is read
    if "data.pkl" in inner and ("constants.pkl" in inner or any(
            n.startswith("code/") for n in inner)):
        return (f"{path}: a TorchScript model (torch.jit.save), not an ONNX model: export it "
                f"with torch.onnx.export(torch.jit.load('{path.name}'), {SHAPE}, "
                "'model.onnx', dynamo=False).")
    if "data.pkl" in inner:
        info = dict(members)[prefix + "data.pkl"]
        return f"{path}: " + _pickle(path, _member_head(file, info),
                                     "PyTorch checkpoint (torch.save)")
    if {"config.json", "metadata.json"} <= inner and inner & {"model.weights.h5",
                                                              "model.weights.npz"}:
        return (f"{path}: a Keras 3 model (.keras), not an ONNX model: export it with "
                f"keras.saving.load_model('{path.name}').export('model.onnx', format='onnx'); "
                f"{TF_NHWC}.")
    emd = next((name for name in names if name.lower().endswith(".emd")), None)
    if emd is not None:  # its ONNX model is read from it (geotile.esri_sidecars.dlpk_onnx)
        found = _member_json(file, dict(members)[emd])  # None: over HEAD bytes, or no JSON
        model = str(found.get("ModelFile") or "") if isinstance(found, dict) else ""
        if found is None or (model.lower().endswith(".onnx") and any(
                name.rsplit("/", 1)[-1] == model.rsplit("/", 1)[-1] for name in names)):
            return None  # read whole by dlpk_onnx, which says what it holds
        return f"{path}: " + esri_line(found)
    if count > MEMBERS:
        return (f"{path}: a zip of {count:,} files, no model (a Raster Vision bundle holds a "
                "few): unzip it and give the model's .onnx file.")
    return None


def esri_line(emd) -> str:
    """The line of an Esri deep learning package whose .emd says ``emd`` (a dict, or None)
    that geotile does not run: no ONNX model in it, or one whose weights lie in external
    files (a .dlpk holding an ONNX model is read: :func:`geotile.esri_sidecars.dlpk_onnx`)."""
    emd = emd if isinstance(emd, dict) else {}
    framework = str(emd.get("Framework") or "an unnamed framework")[:40]
    model = str(emd.get("ModelFile") or "its model file")[:80]
    if framework.lower() == "onnx" or model.lower().endswith(".onnx"):
        return (f"an Esri deep learning package (.dlpk) holding the ONNX model {model}: unzip "
                f"it and give {model}.")
    kind = "a model of an unnamed framework" if "Framework" not in emd or not emd[
        "Framework"] else f"a {framework} model"
    return (f"an Esri deep learning package (.dlpk) of {kind} ({model}), not an "
            f"ONNX model: unzip it and export {model} to ONNX from {framework} "
            "(torch.onnx.export, tf2onnx).")


def _members(file, size: int) -> tuple[int, list[tuple[str, tuple]]]:
    """(the member count the zip declares, [(name, (offset, compressed size, method))] of
    its first ``MEMBERS``) from its end records and at most ``DIRECTORY`` bytes of its
    central directory; ValueError when they cannot be found."""
    tail_size = min(size, 22 + 65535 + 20)
    file.seek(size - tail_size)
    tail = file.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        raise ValueError("no end of central directory")
    count, cd_size, cd_offset = struct.unpack("<10xHII", tail[at:at + 20])
    end = size - tail_size + at
    locator = tail[at - 20:at] if at >= 20 else b""
    if locator[:4] == b"PK\x06\x07":  # zip64: counts and offsets in its own record
        (z64,) = struct.unpack("<8xQ", locator[:16])
        file.seek(z64)
        record = file.read(56)
        if record[:4] != b"PK\x06\x06":
            raise ValueError("no zip64 end record")
        count, cd_size, cd_offset = struct.unpack("<32xQQQ", record)
        end = z64
    shift = end - cd_size - cd_offset  # bytes before the zip (a self-extracting stub)
    if cd_size < 0 or end - cd_size < 0:
        raise ValueError("central directory out of the file")
    file.seek(end - cd_size)
    directory = file.read(min(cd_size, DIRECTORY))
    members, at = [], 0
    while at + 46 <= len(directory) and len(members) < MEMBERS:
        if directory[at:at + 4] != b"PK\x01\x02":
            break
        method, compressed, n, m, k = struct.unpack("<H8xI4xHHH", directory[at + 10:at + 34])
        offset = struct.unpack("<I", directory[at + 42:at + 46])[0]
        name = directory[at + 46:at + 46 + n].decode("utf-8", "replace")
        members.append((name, (offset + shift, compressed, method)))
        at += 46 + n + m + k
    return count, members


def _member_head(file, info: tuple, limit: int = HEAD) -> bytes:
    """The first ``limit`` bytes of a zip member (stored or deflated) at ``info``."""
    offset, compressed, method = info
    file.seek(offset)
    local = file.read(30)
    if local[:4] != b"PK\x03\x04":
        return b""
    n, m = struct.unpack("<HH", local[26:30])
    file.seek(offset + 30 + n + m)
    raw = file.read(min(compressed, limit) if method == 0 else min(compressed, 4 * limit))
    if method == 0:
        return raw
    if method != 8:
        return b""
    try:
        return zlib.decompressobj(-15).decompress(raw, limit)
    except zlib.error:
        return b""


def _member_json(file, info: tuple):
    """The JSON of a small zip member, None when it is no JSON (or over ``HEAD`` bytes)."""
    try:
        from geotile.json_text import decoded

        return json.loads(decoded(_member_head(file, info)))
    except (ValueError, RecursionError):
        return None


# --- folders ---------------------------------------------------------------------------------
def _folder(path: Path) -> str | None:
    """What the folder at ``path`` holds, from the names of its first ``MEMBERS`` files."""
    names = _names(path)
    suffixes = {Path(name).suffix.lower() for name in names}
    onnx = sorted(name for name in names if name.lower().endswith(".onnx"))
    if not onnx and "onnx" in names and (path / "onnx").is_dir():  # a transformers.js layout
        inner = sorted(n for n in _names(path / "onnx") if n.lower().endswith(".onnx"))
        onnx = [f"onnx/{n}" for n in (["model.onnx"] if "model.onnx" in inner else inner)]
    if onnx:
        return f"{path} is a folder: give its ONNX model, {path / onnx[0]}."
    if names & {"saved_model.pb", "saved_model.pbtxt"}:
        return (f"{path} is a TensorFlow SavedModel folder, not an ONNX model: convert it with "
                f"`python -m tf2onnx.convert --saved-model {path} --output model.onnx`; "
                f"{TF_NHWC}.")
    if "config.json" in names and names & {"model.safetensors", "pytorch_model.bin",
                                           "model.safetensors.index.json",
                                           "pytorch_model.bin.index.json", "tf_model.h5"}:
        return f"{path} is a Hugging Face model folder without model.onnx: " + _optimum(path)
    if path.suffix.lower() == ".mlpackage" or "Manifest.json" in names:
        return (f"{path} is a Core ML package, not an ONNX model: Core ML does not export ONNX; "
                f"{OTHER}.")
    if ".pdiparams" in suffixes:
        model = next((n for n in sorted(names) if n.endswith((".pdmodel", ".json"))
                      and n.rsplit(".", 1)[0] + ".pdiparams" in names), "inference.pdmodel")
        return (f"{path} is a PaddlePaddle inference model, not an ONNX model: "
                + _paddle2onnx(path, model, model.rsplit(".", 1)[0]))
    if ".xml" in suffixes and ".bin" in suffixes:
        return (f"{path} holds an OpenVINO IR model (.xml and .bin), not an ONNX model: "
                f"OpenVINO does not export ONNX; {OTHER}.")
    if ".emd" in suffixes:
        emd = next(n for n in sorted(names) if n.lower().endswith(".emd"))
        try:
            found = json.loads(_head(path / emd).decode("utf-8-sig"))
        except (ValueError, RecursionError):
            found = None
        return f"{path}: " + esri_line(found).replace("unzip it and ", "")
    return None


def _names(folder: Path) -> set[str]:
    """The names of the first ``MEMBERS`` files of ``folder``."""
    names: set[str] = set()
    with os.scandir(folder) as entries:
        for entry in entries:
            names.add(entry.name)
            if len(names) >= MEMBERS:
                break
    return names
