"""ONNX segmentation models: providers, input layout, normalisation, activation.

:class:`OnnxModel` hides the differences between exported models so the
predictor always sees ``float32 (N, C, H, W) -> probabilities (N, K, H, W)``:

- layout: NCHW (PyTorch, segmentation_models_pytorch) or NHWC (Keras via
  tf2onnx) read from the input shape; outputs [N,K,H,W], [N,H,W,K] or [N,H,W];
- size: a fixed H=W sets the tile size; dynamic H/W accept any tile size;
  a fixed batch size is honoured by padding the batch;
- normalisation ``x' = (x * scale - mean) / std`` per channel, from options,
  else the model's metadata (Deepness keys ``standardization_mean``/``_std``),
  else uint8 input is scaled by 1/255 and other dtypes are passed unchanged;
- activation: K = 1 -> sigmoid, K > 1 -> softmax over K, unless the model
  already outputs probabilities: metadata ``activation`` ("none", "sigmoid",
  "softmax"), else the graph's last op (Sigmoid/Softmax, past layout-only ops
  such as Transpose). Values are never used to guess, since logits may well
  all fall inside [0, 1];
- providers: ``auto`` takes the best of TensorRT, CUDA, CPU whose libraries
  really load, checked quietly before ONNX Runtime is asked (so a CPU machine
  with onnxruntime-gpu shows no error dump).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import io
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geotile.errors import ModelError

log = logging.getLogger("geotile")

PROVIDERS = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
#: shared libraries that must load for a provider to work (any one name per group)
_PROVIDER_LIBRARIES = {
    "cuda": [("libcudart.so.13", "libcudart.so.12"), ("libcublas.so.13", "libcublas.so.12"),
             ("libcudnn.so.9",)],
    "tensorrt": [("libnvinfer.so.10",)],
}


@dataclass(frozen=True)
class Normalization:
    """``x' = (x * scale - mean) / std`` per channel."""

    scale: float
    mean: tuple[float, ...]
    std: tuple[float, ...]


def _libraries_load(provider: str) -> bool:
    groups = list(_PROVIDER_LIBRARIES.get(provider, []))
    if provider == "tensorrt":
        groups += _PROVIDER_LIBRARIES["cuda"]
    for names in groups:
        for name in names:
            try:
                ctypes.CDLL(name)
                break
            except OSError:
                continue
        else:
            return False
    return True


@contextlib.contextmanager
def _quiet_stderr():
    """Silence C-level stderr (ONNX Runtime's provider error dumps) inside the block."""
    try:
        fd = os.dup(2)
    except OSError:
        yield
        return
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(fd, 2)
            os.close(fd)


@functools.lru_cache(maxsize=1)
def usable_providers() -> tuple[str, ...]:
    """Short names of the providers whose runtime libraries load here, best first."""
    import importlib.util

    import onnxruntime as ort

    available = ort.get_available_providers()
    wanted = [s for s in ("tensorrt", "cuda") if PROVIDERS[s] in available]
    if wanted and not _libraries_load("cuda") and importlib.util.find_spec("nvidia") is not None \
            and hasattr(ort, "preload_dlls"):
        # CUDA/cuDNN installed as pip packages (onnxruntime-gpu[cuda,cudnn]) load this way
        with _quiet_stderr(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.suppress(Exception):
            ort.preload_dlls(directory="")
    return (*[s for s in wanted if _libraries_load(s)], "cpu")


def _choose_providers(requested: str) -> list[str]:
    if requested not in ("auto", *PROVIDERS):
        raise ModelError(f"unknown provider {requested!r}: choose auto, tensorrt, cuda or cpu")
    usable = usable_providers()
    if requested == "auto":
        return [PROVIDERS[name] for name in usable]
    if requested not in usable:
        raise ModelError(
            f"the {requested} execution provider cannot run here (its libraries do not load, or "
            "onnxruntime-gpu is not installed). Use --providers cpu, or install CUDA 12/13 and "
            "cuDNN 9 (pip install 'onnxruntime-gpu[cuda,cudnn]')."
        )
    chain = [PROVIDERS[requested]]
    if requested == "tensorrt":
        chain.append(PROVIDERS["cuda"])
    return list(dict.fromkeys([*chain, PROVIDERS["cpu"]]))


def _metadata_json(metadata: dict[str, str], key: str):
    if key not in metadata:
        return None
    try:
        return json.loads(metadata[key])
    except ValueError:
        return metadata[key]


class OnnxModel:
    """A loaded ONNX segmentation model; see the module docstring."""

    def __init__(self, session, path: Path, activation: str | None = None) -> None:
        self.session, self.path = session, path
        self.provider = session.get_providers()[0]
        self.metadata = dict(session.get_modelmeta().custom_metadata_map)
        model_input = session.get_inputs()[0]
        self.input_name = model_input.name
        self.input_type = np.float16 if "float16" in model_input.type else np.float32
        shape = [d if isinstance(d, int) and d > 0 else None for d in model_input.shape]
        if len(shape) != 4:
            raise ModelError(f"{path}: the model input has shape {model_input.shape}; "
                             "geotile needs a 4-D image batch [N,C,H,W] or [N,H,W,C].")
        layout = (self.metadata.get("layout") or "").upper()
        if layout not in ("NCHW", "NHWC"):
            nchw = shape[1] is not None and (shape[3] is None or shape[1] <= shape[3])
            layout = "NCHW" if nchw or shape[3] is None else "NHWC"
        self.layout = layout
        self.channels = shape[1] if layout == "NCHW" else shape[3]
        height, width = (shape[2], shape[3]) if layout == "NCHW" else (shape[1], shape[2])
        self.fixed_size = height is not None and width is not None
        if self.fixed_size and height != width:
            raise ModelError(f"{path}: fixed input {height}x{width} is not square; geotile "
                             "predicts square tiles.")
        meta_size = _metadata_json(self.metadata, "tile_size") or _metadata_json(
            self.metadata, "tiles_size")
        self.tile_size = height if self.fixed_size else (int(meta_size) if meta_size else None)
        self.fixed_batch = shape[0]
        overlap = _metadata_json(self.metadata, "tiles_overlap")
        self.overlap_fraction = float(overlap) / 100 if overlap is not None else None
        threshold = _metadata_json(self.metadata, "seg_thresh")
        self.threshold = float(threshold) if threshold is not None else None
        self.output_name = session.get_outputs()[0].name
        self._output_rank = len(session.get_outputs()[0].shape)
        if self._output_rank not in (3, 4):
            raise ModelError(f"{path}: output shape {session.get_outputs()[0].shape} is not "
                             "[N,K,H,W], [N,H,W,K] or [N,H,W].")
        self.num_classes = self._probe_classes()
        names = _metadata_json(self.metadata, "class_names")
        if isinstance(names, dict):  # Deepness writes {"0": "background", ...}
            names = [names[k] for k in sorted(names, key=int)]
        if not names or len(names) != self.num_classes:
            names = ["building"] if self.num_classes == 1 else [
                f"class_{i}" for i in range(self.num_classes)]
        self.class_names = [str(n) for n in names]
        self._scale: float | None = None
        self._mean = self._std = None
        self.activation = activation or self.metadata.get("activation") or graph_activation(path)
        # GPU providers re-plan (cuDNN algorithm search, buffers) whenever the batch shape
        # changes, costing more than a padded batch: predict keeps one shape on them
        self.steady_batches = self.provider != PROVIDERS["cpu"]

    @classmethod
    def from_path(cls, path, *, providers: str = "auto", fp16: bool = False,
                  mean=None, std=None, scale=None, activation: str | None = None,
                  threads: int | None = None) -> OnnxModel:
        """Load ``path`` on the best (or the requested) execution provider."""
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise ModelError(f"{path}: no such model file. Check the path.")
        chain = _choose_providers(providers)
        if fp16:
            if chain[0] == PROVIDERS["cpu"]:
                log.warning("--fp16 ignored: the CPU provider runs fp16 models slower, not faster")
            else:
                path = float16_copy(path)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        try:
            with _quiet_stderr() if chain[0] != PROVIDERS["cpu"] else contextlib.nullcontext():
                session = ort.InferenceSession(str(path), options, providers=chain)
        except Exception as exc:
            raise ModelError(_explain_load_error(path, exc)) from exc
        model = cls(session, path, activation)
        model.set_normalization(mean, std, scale)
        return model

    def _probe_classes(self) -> int:
        shape = self.session.get_outputs()[0].shape
        if self._output_rank == 3:
            return 1
        dims = (shape[1], shape[3]) if self.layout == "NCHW" else (shape[3], shape[1])
        if isinstance(dims[0], int) and dims[0] > 0:
            return dims[0]
        size = self.tile_size or 64
        batch = np.zeros((self.fixed_batch or 1, self.channels or 3, size, size), np.float32)
        return self._raw_run(batch).shape[1]

    def set_normalization(self, mean=None, std=None, scale=None) -> None:
        """Options override the metadata (``standardization_mean``/``_std``); None keeps it."""
        if mean is None:
            mean = _metadata_json(self.metadata, "standardization_mean")
        if std is None:
            std = _metadata_json(self.metadata, "standardization_std")
        channels = self.channels or 1
        self._mean = _per_channel(mean if mean is not None else 0.0, channels, "mean", self.path)
        self._std = _per_channel(std if std is not None else 1.0, channels, "std", self.path)
        if any(v == 0 for v in self._std):
            raise ModelError(f"{self.path}: a std of 0 would divide by zero (--std).")
        self._scale = scale

    def normalization_for(self, dtype) -> Normalization:
        """The normalisation for input of ``dtype``: without a scale, uint8 is divided by 255
        (as Deepness and most exported models expect) and other dtypes are left unscaled."""
        scale = self._scale
        if scale is None:
            scale = 1 / 255 if np.dtype(dtype) == np.uint8 else 1.0
        return Normalization(scale, self._mean, self._std)

    def check_bands(self, count: int, source) -> None:
        """ModelError suggesting --bands when ``count`` selected bands do not fit the model."""
        if self.channels is not None and count != self.channels:
            hint = ",".join(["1"] * self.channels) if count == 1 else ",".join(
                str(i + 1) for i in range(self.channels))
            raise ModelError(
                f"{source}: {count} band(s) selected but {self.path.name} takes "
                f"{self.channels} channels. Choose bands with --bands, e.g. --bands {hint}."
            )

    def prepare(self, pixels: np.ndarray) -> np.ndarray:
        """(N, C, H, W) raster pixels -> float32 normalised, still NCHW."""
        norm = self.normalization_for(pixels.dtype)
        out = pixels.astype(np.float32)
        if norm.scale != 1.0:
            out *= np.float32(norm.scale)
        if any(norm.mean) or any(s != 1.0 for s in norm.std):
            mean = np.asarray(norm.mean, np.float32).reshape(1, -1, 1, 1)
            std = np.asarray(norm.std, np.float32).reshape(1, -1, 1, 1)
            out -= mean
            out /= std
        return out

    def _raw_run(self, batch: np.ndarray) -> np.ndarray:
        feed = batch if self.layout == "NCHW" else batch.transpose(0, 2, 3, 1)
        feed = np.ascontiguousarray(feed, dtype=self.input_type)
        out = self.session.run([self.output_name], {self.input_name: feed})[0]
        out = out.astype(np.float32, copy=False)
        if out.ndim == 3:
            return out[:, np.newaxis]
        return out if self.layout == "NCHW" else out.transpose(0, 3, 1, 2)

    def run(self, batch: np.ndarray) -> np.ndarray:
        """float32 (N, C, H, W) normalised -> float32 (N, K, H, W) probabilities in [0, 1]."""
        count = batch.shape[0]
        fixed = self.fixed_batch
        if fixed and count != fixed:
            outputs = []
            for start in range(0, count, fixed):
                part = batch[start : start + fixed]
                if part.shape[0] < fixed:
                    part = np.concatenate(
                        [part, np.zeros((fixed - part.shape[0], *part.shape[1:]), part.dtype)])
                outputs.append(self._raw_run(part))
            out = np.concatenate(outputs)[:count]
        else:
            out = self._raw_run(batch)
        if self.activation != "none":
            return _activate(out, self.num_classes)
        return np.clip(out, 0.0, 1.0, out=out)

    def describe(self) -> str:
        """One line for -v: provider, layout, size, classes."""
        size = f"{self.tile_size} px fixed" if self.fixed_size else (
            f"dynamic size (metadata {self.tile_size} px)" if self.tile_size else "dynamic size")
        return (f"{self.path.name}: {self.provider}, {self.layout}, {self.channels} channels, "
                f"{size}, {self.num_classes} output(s) {self.class_names}")


_PASS_THROUGH_OPS = {"Identity", "Transpose", "Reshape", "Squeeze", "Unsqueeze", "Cast",
                     "Resize", "Upsample", "Slice", "Concat"}


def graph_activation(path: Path) -> str:
    """'none' when the graph already ends in Sigmoid/Softmax (probabilities), else the
    activation to apply: read from the op producing the output, past layout-only ops."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    producers = {out: node for node in graph.node for out in node.output}
    name = graph.output[0].name
    while (node := producers.get(name)) is not None and node.op_type in _PASS_THROUGH_OPS:
        name = node.input[0]
    if node is not None and node.op_type in ("Sigmoid", "Softmax", "HardSigmoid"):
        return "none"
    return "auto"


def _activate(logits: np.ndarray, classes: int) -> np.ndarray:
    if classes == 1:
        # numerically stable sigmoid, in place
        np.negative(logits, out=logits)
        np.exp(logits, out=logits)
        logits += 1.0
        np.reciprocal(logits, out=logits)
        return logits
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=1, keepdims=True)
    return logits


def _per_channel(value, channels: int, name: str, path) -> tuple[float, ...]:
    values = [float(v) for v in (value if isinstance(value, list | tuple) else [value])]
    if len(values) == 1:
        values *= channels
    if len(values) != channels:
        raise ModelError(f"{path}: {name} has {len(values)} values for {channels} channels. "
                         f"Give one value or one per channel (--{name}).")
    return tuple(values)


def _explain_load_error(path: Path, exc: Exception) -> str:
    import re

    import onnxruntime as ort

    text = str(exc)
    ir = re.search(r"IR version:? (\d+).*max supported IR version:? (\d+)", text, re.I | re.S)
    if ir:
        return (f"{path}: the model has ONNX IR version {ir.group(1)} but the installed ONNX "
                f"Runtime {ort.__version__} reads up to {ir.group(2)}. Upgrade onnxruntime, or "
                "re-export the model with an older IR version (onnx.save with ir_version set).")
    if "protobuf" in text.lower() or "INVALID_PROTOBUF" in text:
        return f"{path}: not an ONNX model (the file cannot be parsed). Export it with torch.onnx."
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return f"{path}: ONNX Runtime cannot load the model ({first[:200]})."


def float16_copy(path: str | os.PathLike) -> Path:
    """A float16 copy of the model (float32 inputs and outputs kept), converted once and
    cached by content hash under $GEOTILE_CACHE (default ~/.cache/geotile)."""
    import hashlib

    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    path = Path(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    cache = Path(os.environ.get("GEOTILE_CACHE", Path.home() / ".cache" / "geotile"))
    target = cache / f"{path.stem}.{digest}.fp16.onnx"
    if target.exists():
        return target
    converted = convert_float_to_float16(onnx.load(str(path)), keep_io_types=True)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")  # concurrent runs never share a file
    onnx.save(converted, str(tmp))
    os.replace(tmp, target)
    return target
