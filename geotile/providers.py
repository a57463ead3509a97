"""ONNX Runtime execution providers: which of TensorRT, CUDA and the CPU really work here
(their libraries load, checked quietly), the chain a ``--providers`` choice asks for, and
each provider's options (TensorRT's engine cache on disk)."""
from __future__ import annotations

import contextlib
import ctypes
import functools
import io
import os
from pathlib import Path

from geotile.errors import ModelError

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
def quiet_stderr():
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
        with quiet_stderr(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.suppress(Exception):
            ort.preload_dlls(directory="")
    return (*[s for s in wanted if _libraries_load(s)], "cpu")


def tensorrt_cache() -> Path:
    """Where TensorRT engines are kept between runs (building one takes minutes; a cached
    one loads in seconds): $GEOTILE_TENSORRT_CACHE, else $XDG_CACHE_HOME/geotile/tensorrt,
    else ~/.cache/geotile/tensorrt."""
    explicit = os.environ.get("GEOTILE_TENSORRT_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "geotile" / "tensorrt"


def provider_options(chain: list[str], fp16: bool = False, model_key: str | None = None
                     ) -> list:
    """ONNX Runtime's providers argument for ``chain``: TensorRT with its engine and timing
    caches on disk (:func:`tensorrt_cache`, keyed by ONNX Runtime on the model and shapes)
    and fp16 kernels with --fp16; CUDA with channels-last (NHWC) convolution kernels, which
    the tensor cores run faster (measured on an H200, ResNet18 U-Net: fp16 0.53 -> 0.44 s,
    fp32 0.61 -> 0.57 s per 6000 px orthotile); the CPU as it is. ``model_key``: a folder
    of the cache for this model's content (ONNX Runtime's key hashes no weights)."""
    result: list = []
    for name in chain:
        if name == PROVIDERS["cuda"]:
            result.append((name, {"prefer_nhwc": "1"}))
            continue
        if name != PROVIDERS["tensorrt"]:
            result.append(name)
            continue
        cache = tensorrt_cache() / model_key if model_key else tensorrt_cache()
        cache.mkdir(parents=True, exist_ok=True)
        result.append((name, {"trt_engine_cache_enable": "True",
                              "trt_engine_cache_path": str(cache),
                              "trt_timing_cache_enable": "True",
                              "trt_timing_cache_path": str(cache),
                              "trt_fp16_enable": "True" if fp16 else "False"}))
    return result


def choose_providers(requested: str) -> list[str]:
    if requested not in ("auto", *PROVIDERS):
        raise ModelError(f"unknown provider {requested!r}: choose auto, tensorrt, cuda or cpu")
    usable = usable_providers()
    if requested == "auto":
        return [PROVIDERS[name] for name in usable]
    if requested not in usable:
        install = "pip install 'onnxruntime-gpu[cuda,cudnn]'"
        if requested == "tensorrt":  # TensorRT's own libraries too
            install += " and pip install tensorrt-cu13"
        raise ModelError(
            f"the {requested} execution provider cannot run here (its libraries do not load, or "
            "onnxruntime-gpu is not installed). Use --providers cpu, or install CUDA 12/13 and "
            f"cuDNN 9 ({install})."
        )
    chain = [PROVIDERS[requested]]
    if requested == "tensorrt":
        chain.append(PROVIDERS["cuda"])
    return list(dict.fromkeys([*chain, PROVIDERS["cpu"]]))
