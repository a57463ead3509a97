"""Hugging Face's files beside an ONNX export: ``optimum-cli export onnx`` writes model.onnx
(no metadata_props) with the model's ``config.json`` and its image processor's
``preprocessor_config.json``. Read only from the model's own folder (a link's, else that of
the file it links to; the repository's root for onnx/model.onnx: :func:`hf_folder`), only
when clearly Hugging Face's, and only for what the ONNX metadata does not declare (options
override both, see :meth:`geotile.model.OnnxModel.set_normalization`):

- preprocessor_config.json (``image_processor_type``, ``feature_extractor_type`` or
  ``image_mean``): pixels x ``rescale_factor`` when ``do_rescale`` (transformers' defaults:
  true, 1/255; false: 0..255 pixels go in as they are), minus ``image_mean``, divided by
  ``image_std`` when ``do_normalize`` (false: neither). Its ``size`` is the processor's
  resize, not a tile size: geotile does not resize windows, so it is not read.
  ``do_flip_channel_order`` (MobileViT's default) means the model takes BGR: geotile flips
  the image's R,G,B itself after the rescale, then normalises with image_mean/std, which are
  the flipped channels' (:func:`hf_channel_flip`, as MobileViTImageProcessorFast does it).
  MobileViT's processor does not normalise
  unless ``do_normalize`` says so (transformers 5 writes its image_mean/std 0.5 anyway).
- config.json (``model_type``, ``architectures`` or ``id2label``): class names from
  ``id2label`` ({"0": "wall"}), else ``label2id``; transformers' placeholders (LABEL_0,
  LABEL_1, ... written when nobody named the classes) are not read. ``do_reduce_labels``
  changes only the training labels (0 ignored, the others shifted down by one): band k is
  always the class ``id2label`` gives id k.
"""
from __future__ import annotations

import logging
import math
import re
from pathlib import Path

from geotile.errors import ModelError
from geotile.sidecar_files import read_json, sidecar_folder

log = logging.getLogger("geotile")

PREPROCESSOR = "preprocessor_config.json"
CONFIG = "config.json"


def hf_folder(model_path) -> Path:
    """The folder whose Hugging Face files go with ``model_path``: its own; for a link
    (models/segformer.onnx -> exports/segformer/model.onnx) without either file beside it,
    the folder of the file it links to; for a model in an ``onnx`` folder without them
    (a Hub repository laid out for transformers.js: onnx/model.onnx,
    onnx/model_quantized.onnx, the JSON files at its root), the folder above it."""
    return sidecar_folder(model_path, (PREPROCESSOR, CONFIG), above_onnx=True)


def shown(model_path, path: Path) -> str:
    """``path``'s name when it lies beside ``model_path``, else the whole path (above an
    onnx/ folder, beside a link's target): -v and warnings say where it was read."""
    return path.name if path.parent == Path(model_path).parent else str(path)


def hf_normalization(model_path, wanted=("mean", "std"), scale: bool = True
                     ) -> dict[str, tuple]:
    """"scale" (when ``scale``) and "mean"/"std" (those ``wanted``) -> (value, where
    preprocessor_config.json gives it) from the Hugging Face image processor beside
    ``model_path``; {} without one. ModelError naming the file when it is no valid JSON or
    its rescale_factor is no number > 0 (mean/std are checked per channel by the model)."""
    path = hf_folder(model_path) / PREPROCESSOR
    try:
        processor = read_json(path)
    except ValueError as exc:
        raise ModelError(f"{path}: {exc}; fix it (or remove it), or give --mean and --std."
                         ) from exc
    if not _is_processor(processor):
        return {}
    # MobileViT's processor does not normalise unless told: transformers 5 writes its
    # image_mean/std 0.5 without do_normalize (whose default there is None)
    mobilevit = _mobilevit(processor)
    found = {}
    if scale:
        if processor.get("do_rescale", True) is False:
            found["scale"] = (1.0, f"{PREPROCESSOR} do_rescale false")
        else:
            factor = processor.get("rescale_factor", 1 / 255)
            ok = isinstance(factor, int | float) and not isinstance(factor, bool) \
                and math.isfinite(factor) and factor > 0
            if not ok:
                raise ModelError(f"{path}: rescale_factor {factor!r} is not a number > 0; fix "
                                 "it, or give --scale.")
            found["scale"] = (float(factor), f"{PREPROCESSOR} rescale_factor {factor!r}")
    for name, default in (("mean", 0.0), ("std", 1.0)):
        if name not in wanted:
            continue
        if processor.get("do_normalize", not mobilevit) in (False, None):
            found[name] = (default, f"{PREPROCESSOR} do_normalize "
                                    f"{'false' if 'do_normalize' in processor else 'unset'}")
        elif f"image_{name}" in processor:
            value = processor[f"image_{name}"]
            found[name] = (value, f"{PREPROCESSOR} image_{name} {value!r}")
    return found


def _is_processor(processor) -> bool:
    """Whether a preprocessor_config.json's content is clearly an image processor's."""
    return isinstance(processor, dict) and bool(
        {"image_processor_type", "feature_extractor_type", "image_mean"} & set(processor))


def _mobilevit(processor: dict) -> bool:
    """Whether it is MobileViT's (or MobileViTV2's) processor, which flips by default."""
    return str(processor.get("image_processor_type", processor.get(
        "feature_extractor_type", ""))).startswith("MobileViT")


def hf_channel_flip(model_path) -> str | None:
    """Where the Hugging Face image processor beside ``model_path`` flips RGB to BGR
    (``do_flip_channel_order``, MobileViT's default: "preprocessor_config.json
    do_flip_channel_order"), else None (no file, not clearly a processor's, no valid JSON:
    :func:`hf_normalization` names that one)."""
    path = hf_folder(model_path) / PREPROCESSOR
    try:
        processor = read_json(path)
    except ValueError:
        return None
    if not _is_processor(processor) or \
            processor.get("do_flip_channel_order", _mobilevit(processor)) is not True:
        return None
    return f"{shown(model_path, path)} do_flip_channel_order"


def hf_class_names(model_path):
    """(id2label or label2id, where) from the Hugging Face config.json beside
    ``model_path``; (None, None) without one, or when it names no classes (transformers'
    LABEL_k placeholders). A config.json that is no valid JSON is warned about and left out,
    as a metadata value that is no list of names is."""
    path = hf_folder(model_path) / CONFIG
    try:
        config = read_json(path)
    except ValueError as exc:
        from geotile.smp_sidecars import ENCODER_MARK, shows

        if shows(path, ENCODER_MARK):  # smp's, which names no classes: refused for its mean
            return None, None
        log.warning("%s: %s %s; its class names are not read", Path(model_path).name,
                    f"{CONFIG} beside it" if shown(model_path, path) == CONFIG else path, exc)
        return None, None
    if not isinstance(config, dict) or not (
            {"model_type", "architectures"} & set(config)
            or isinstance(config.get("id2label"), dict)):
        return None, None
    for key in ("id2label", "label2id"):
        value = config.get(key)
        if value is None:
            continue
        names = [str(k) for k in value] if key == "label2id" and isinstance(value, dict) \
            else list(value.values()) if isinstance(value, dict) else []
        if names and all(re.fullmatch(r"LABEL_\d+", str(n)) for n in names):
            return None, None  # transformers' placeholders: nobody named the classes
        return value, f"{shown(model_path, path)} {key}"
    return None, None
