"""segmentation_models_pytorch's files beside an ONNX export: smp's ``save_pretrained`` (and
the smp-hub/... repositories on the Hugging Face Hub) write ``config.json``, the model's init
arguments (``_model_class``, ``encoder_name``, ``encoder_weights``, ``in_channels``,
``classes``, ``activation``...), beside model.safetensors; users torch.onnx.export into that
folder. The graph holds no normalisation: smp models take their encoder's preprocessing
(``smp.encoders.get_preprocessing_params(encoder_name, encoder_weights)``). Read only from the
model's own folder (a link's, else that of the file it links to), only for what the ONNX
metadata and the other exporters' files do not declare (options override all, see
:meth:`geotile.model.OnnxModel.set_normalization`):

- ``albumentations_config_eval.json`` (albumentations' ``Compose.save_pretrained``, which the
  smp-hub model cards load with ``A.Compose.from_pretrained``): its ``Normalize`` (standard:
  pixels / ``max_pixel_value`` minus ``mean``, over ``std``); per-image normalisations are
  warned about. It goes before the encoder's table: it is what the model was evaluated with.
- config.json (its ``_model_class``, which smp's ``save_pretrained`` always writes and
  ``smp.from_pretrained`` needs, without transformers' ``model_type`` / ``architectures``;
  one with an ``encoder_name`` only, a training script's, is warned about): the encoder's
  preprocessing from :data:`_ENCODERS`, smp 0.4.0's ``pretrained_settings``
  (segmentation_models_pytorch/encoders/*.py; 0.5+ fetch the same values from
  smp-hub/<encoder>.<weights>/config.json): every encoder takes RGB pixels scaled to 0..1
  (input_range [0, 1]: 8-bit pixels / 255), then ImageNet's mean/std but for the exceptions
  listed. A missing key is smp's default (resnet34, imagenet, 3 channels).
  ``encoder_weights`` null (trained from scratch, or a whole smp-hub checkpoint) gives none
  (said with -v); ``tu-`` encoders take timm's pretrained config, which is not known here,
  and an unknown encoder or weights are warned about once, asking for --mean/--std. smp
  names no classes: ``classes`` is a count, checked against the model's output channels
  (:func:`smp_classes_warning`). Its ``activation`` (sigmoid, softmax2d) is part of the
  exported graph, where geotile sees it (``--activation auto`` applies none on top).
"""
from __future__ import annotations

import logging
import math
import re
from pathlib import Path

from geotile.errors import ModelError
from geotile.rastervision_sidecars import DTYPE_MAX
from geotile.sidecar_files import read_json, sidecar_folder

log = logging.getLogger("geotile")

CONFIG = "config.json"
ALBUMENTATIONS = "albumentations_config_eval.json"
FILES = (CONFIG, ALBUMENTATIONS)
ENCODER_MARK = '"_model_class"'  # what shows a broken config.json to be smp's

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
INCEPTION = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
#: pretrainedmodels' DPN: mean [124, 117, 104] / 255, std 1 / (0.0167 * 255)
DPN = ((124 / 255, 117 / 255, 104 / 255), (1 / (0.0167 * 255),) * 3)

#: (encoder names, their encoder_weights, mean/std) of smp 0.4.0 (timm- encoders other than
#: timm-efficientnet/timm-sknet are tu- ones since 0.5, whose names smp still takes)
_ENCODERS = (
    (r"resnet(18|50)|resnext50_32x4d", "imagenet ssl swsl", IMAGENET),
    (r"resnet(34|101|152)", "imagenet", IMAGENET),
    (r"resnext101_32x4d", "ssl swsl", IMAGENET),
    (r"resnext101_32x8d", "imagenet instagram ssl swsl", IMAGENET),
    (r"resnext101_32x16d", "instagram ssl swsl", IMAGENET),
    (r"resnext101_32x(32|48)d", "instagram", IMAGENET),
    (r"dpn(68|98|131)", "imagenet", DPN),
    (r"dpn(68b|92|107)", "imagenet+5k", DPN),
    (r"vgg(11|13|16|19)(_bn)?|densenet(121|161|169|201)|mobilenet_v2|mit_b[0-5]"
     r"|mobileone_s[0-4]|senet154|se_resnet(50|101|152)|se_resnext(50|101)_32x4d",
     "imagenet", IMAGENET),
    (r"inceptionv4|inceptionresnetv2", "imagenet imagenet+background", INCEPTION),
    (r"xception", "imagenet", INCEPTION),
    (r"efficientnet-b[0-7]", "imagenet", IMAGENET),
    (r"(timm-)?efficientnet-b[0-7]|timm-efficientnet-b8", "advprop", INCEPTION),
    (r"timm-efficientnet-b[0-7]", "imagenet noisy-student", IMAGENET),
    (r"timm-efficientnet-b8", "imagenet", IMAGENET),
    (r"timm-efficientnet-l2", "noisy-student noisy-student-475", IMAGENET),
    (r"timm-tf_efficientnet_lite[0-4]", "imagenet", INCEPTION),
    (r"timm-(resnest(14d|26d|50d|101e|200e|269e|50d_4s2x40d|50d_1s4x24d)"
     r"|res2net(50_26w_[468]s|101_26w_4s|50_48w_2s|50_14w_8s)|res2next50"
     r"|regnet[xy]_(002|004|006|008|016|032|040|064|080|120|160|320)"
     r"|skresnet(18|34)|skresnext50_32x4d|mobilenetv3_(large|small)_(075|100|minimal_100)"
     r"|gernet_[sml])", "imagenet", IMAGENET),
)

def encoder_preprocessing(encoder: str, weights: str):
    """(mean, std) of 0..1 RGB pixels smp gives ``encoder`` pretrained on ``weights``; None
    for one it does not list (or a tu- encoder: timm's)."""
    for names, listed, stats in _ENCODERS:
        if re.fullmatch(names, encoder) and weights in listed.split():
            return stats
    return None


def smp_folder(model_path) -> Path:
    """The folder whose smp files go with ``model_path``: its own; for a link without them
    beside it, the folder of the file it links to."""
    return sidecar_folder(model_path, FILES)


def is_smp_config(config) -> bool:
    """Whether ``config`` is smp's config.json (its ``_model_class``: an ``encoder_name``
    alone may be anyone's), not transformers' (``model_type``, ``architectures``)."""
    return isinstance(config, dict) and not {"model_type", "architectures"} & set(config) \
        and "_model_class" in config


def _warn_once(model_path, message: str, *args) -> None:
    log.warning(message, *args)


def shows(path: Path, marker: str) -> bool:
    """Whether ``path`` (no valid JSON) shows ``marker``: a broken file of smp's (its
    config.json's "encoder_name") or albumentations', not another tool's of that name."""
    try:
        return marker in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def _read(path: Path, marker: str):
    """The JSON in ``path``; None when missing, or broken but not showing ``marker`` (another
    tool's file); ModelError naming it when broken and showing it."""
    try:
        return read_json(path)
    except ValueError as exc:
        if not shows(path, marker):
            return None
        raise ModelError(f"{path}: {exc}; fix it (or remove it), or give --mean and --std."
                         ) from exc


def smp_config(model_path):
    """(smp's config.json beside ``model_path``, its path); (None, path) without one."""
    path = smp_folder(model_path) / CONFIG
    config = _read(path, ENCODER_MARK)
    return (config if is_smp_config(config) else None), path


def _normalize_transforms(transform):
    """Every Normalize and ToFloat of an albumentations transform dict in order, those nested
    in Compose too."""
    if not isinstance(transform, dict):
        return
    if str(transform.get("__class_fullname__", "")).rsplit(".", 1)[-1] in {"Normalize",
                                                                         "ToFloat"}:
        yield transform
    for inner in transform.get("transforms") or []:
        yield from _normalize_transforms(inner)


def _albumentations_normalization(model_path, wanted, scale):
    path = smp_folder(model_path) / ALBUMENTATIONS
    saved = _read(path, '"__class_fullname__"')
    if not isinstance(saved, dict) or not isinstance(saved.get("transform"), dict):
        return None
    divisors, normalize = [], None  # ToFloat's max_value before the Normalize: pixels / it
    for transform in _normalize_transforms(saved["transform"]):
        if str(transform.get("__class_fullname__")).rsplit(".", 1)[-1] == "Normalize":
            normalize = transform
            break
        divisors.append(transform.get("max_value"))
    if normalize is None:
        return None
    name = Path(model_path).name
    mode = normalize.get("normalization") or "standard"
    if mode != "standard":
        _warn_once(model_path, "%s: its %s Normalize is normalization=%s, computed per image, "
                   "which geotile does not do: give --mean and --std (per channel, of the "
                   "pixels it sees)", name, ALBUMENTATIONS, mode)
        return {}
    top = normalize.get("max_pixel_value", 255.0)
    top = 255.0 if top is None else top
    if isinstance(top, bool) or not isinstance(top, int | float) or not math.isfinite(top) \
            or top <= 0:
        raise ModelError(f"{path}: Normalize max_pixel_value {top!r} is not a number > 0; "
                         "fix it, or give --mean, --std and --scale.")
    found = {}
    for divisor in divisors:
        if divisor is None and top == 1 and len(divisors) == 1:
            top = DTYPE_MAX  # ToFloat(max_value=None): by the pixels' type's maximum
        elif isinstance(divisor, bool) or not isinstance(divisor, int | float) \
                or not math.isfinite(divisor) or divisor <= 0 or top == DTYPE_MAX:
            raise ModelError(f"{path}: ToFloat max_value {divisor!r} before its Normalize "
                             "is not a number > 0 geotile can scale by; fix it, or give "
                             "--mean, --std and --scale.")
        else:
            top *= divisor
    if scale and top == DTYPE_MAX:
        found["scale"] = (DTYPE_MAX, f"{ALBUMENTATIONS} ToFloat max_value None")
    elif scale:
        found["scale"] = (1 / float(top), f"{ALBUMENTATIONS} "
                          f"{'ToFloat and ' if divisors else ''}Normalize max_pixel_value "
                          f"{top!r}")
    for key, default in zip(("mean", "std"), IMAGENET, strict=True):
        if key in wanted:
            value = normalize.get(key)
            value = list(default) if value is None else value
            found[key] = (value, f"{ALBUMENTATIONS} Normalize {key} {value!r}")
    return found


def smp_normalization(model_path, wanted=("mean", "std"), scale: bool = True):
    """("scale" (when ``scale``) and "mean"/"std" (those ``wanted``) -> (value, where), the
    file read) from albumentations_config_eval.json's Normalize beside ``model_path``, else
    from smp's config.json: its encoder's preprocessing (:func:`encoder_preprocessing`);
    ({}, None) without either, or when the encoder's is not known (warned about)."""
    found = _albumentations_normalization(model_path, wanted, scale)
    if found is not None:
        return found, (smp_folder(model_path) / ALBUMENTATIONS if found else None)
    config, path = smp_config(model_path)
    name = Path(model_path).name
    if config is None:
        other = _read(path, ENCODER_MARK)
        if isinstance(other, dict) and isinstance(other.get("encoder_name"), str) \
                and not {"model_type", "architectures"} & set(other):
            _warn_once(model_path, "%s: its %s names encoder %s but has no _model_class: not "
                       "smp's save_pretrained file (a training config?), its normalisation is "
                       "not read: give --mean and --std the model was trained with", name,
                       CONFIG, other["encoder_name"])
        return {}, None
    default = "tu-vit_base_patch16_224.augreg_in21k" if config.get("_model_class") == "DPT" \
        else "resnet34"
    encoder = str(config.get("encoder_name", default))
    weights = config.get("encoder_weights", "imagenet")
    if weights is None or weights is False:
        log.info("%s: its %s says encoder %s was trained from scratch (encoder_weights null): "
                 "smp gives no normalisation for it (--mean/--std give the one it was trained "
                 "with)", name, CONFIG, encoder)
        return {}, None
    channels = config.get("in_channels", 3)
    if encoder.startswith("tu-"):
        _warn_once(model_path, "%s: its %s names timm encoder %s, whose normalisation smp takes "
                   "from timm's pretrained config, which geotile does not read: give --mean "
                   "and --std (timm.data.resolve_data_config(model=timm.create_model(%r, "
                   "pretrained=True)) gives them, of 0..1 pixels)", name, CONFIG, encoder,
                   encoder[3:])
        return {}, None
    stats = encoder_preprocessing(encoder, str(weights))
    if stats is None:
        _warn_once(model_path, "%s: its %s names encoder %s with weights %s, whose "
                   "normalisation geotile does not know: give --mean and --std "
                   "(smp.encoders.get_preprocessing_params(%r, %r) gives them, of 0..1 "
                   "pixels)", name, CONFIG, encoder, weights, encoder, weights)
        return {}, None
    if channels != 3:
        _warn_once(model_path, "%s: its %s says in_channels %s, but smp's normalisation of "
                   "encoder %s (%s) is for 3 RGB channels: give --mean and --std the model "
                   "was trained with", name, CONFIG, channels, encoder, weights)
        return {}, None
    source = f"{CONFIG} {encoder}.{weights}"
    found = {}
    if scale:
        found["scale"] = (1 / 255, f"{source} input_range [0, 1]")
    for key, value in zip(("mean", "std"), stats, strict=True):
        if key in wanted:
            found[key] = (list(value), f"{source} {key}")
    return found, path


def smp_classes_warning(model_path, channels: list[int]) -> None:
    """Warn when smp's config.json beside ``model_path`` counts other ``classes`` than any of
    the model's outputs has channels (``channels``): another model's file, or an export
    made after the head was changed."""
    try:
        config = smp_config(model_path)[0]
    except ModelError:
        return
    classes = config.get("classes", 1) if config is not None else None
    if classes is None or not channels or classes in channels:
        return
    _warn_once(model_path, "%s: its %s says classes %s, but the model's output has %s "
               "channel(s): the file may be another model's (its normalisation is read all "
               "the same; --mean/--std override it)", Path(model_path).name, CONFIG, classes,
               " and ".join(map(str, channels)))


def smp_files(model_path) -> list[Path]:
    """smp's files that would be read with ``model_path``."""
    folder = smp_folder(model_path)
    return [folder / name for name in FILES]
