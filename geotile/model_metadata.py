"""Reading an ONNX model's metadata_props: values as JSON or Python literals, keys in any
case, numbers checked, class names in the shapes exporters write them, and the
normalisation (mean, std) under the keys exporters use."""
from __future__ import annotations

import contextlib
import json
import logging
import math
from pathlib import Path

from geotile.errors import ModelError

log = logging.getLogger("geotile")


def metadata_value(metadata: dict[str, str], key: str):
    """A metadata value as JSON, else as a Python literal (Deepness accepts both), else text."""
    import ast

    if key not in metadata:
        return None
    text = metadata[key]
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested thousands deep
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def lower_keys(metadata: dict[str, str]) -> dict[str, str]:
    """Metadata keys in lower case (``CLASS_NAMES`` is ``class_names``); a key already
    spelled in lower case wins over another spelling of it."""
    lowered = dict(metadata)
    for key, value in metadata.items():
        lowered.setdefault(key.lower(), value)
    return {k: v for k, v in lowered.items() if k == k.lower()}


#: metadata keys of a normalisation's mean and std, as exporters spell them
_NORMALIZATION_KEYS = (("standardization_mean", "standardization_std"), ("mean", "std"),
                       ("pixel_mean", "pixel_std"), ("image_mean", "image_std"),
                       ("img_mean", "img_std"), ("norm_mean", "norm_std"),
                       ("normalization_mean", "normalization_std"))
#: metadata keys holding {"mean": [...], "std": [...]} (mmseg's img_norm_cfg)
_NORMALIZATION_DICTS = ("img_norm_cfg", "normalization", "normalisation", "normalize",
                        "data_preprocessor", "preprocessing")


def declared_normalization(metadata: dict[str, str], path,
                           wanted=("mean", "std")) -> dict[str, tuple]:
    """"mean"/"std" (those ``wanted``) -> (value, where the metadata gives it) under any of
    their usual keys (:data:`_NORMALIZATION_KEYS`, :data:`_NORMALIZATION_DICTS`). ModelError
    when two keys give different values; a warning for a key that looks like normalisation
    but is not read (a model declaring BGR input: :func:`declared_bgr`)."""
    import re

    found: dict[str, list] = {"mean": [], "std": []}
    read = set()
    for pair in _NORMALIZATION_KEYS:
        for name, key in zip(("mean", "std"), pair, strict=True):
            if key in metadata:
                found[name].append((metadata_value(metadata, key),
                                    f"metadata {key} {metadata[key]!r}"))
                read.add(key)
    for key, value in _normalization_dicts(metadata):
        read.add(key)
        for name in ("mean", "std"):
            if name in value:
                found[name].append((value[name], f"metadata {key} {name} {value[name]!r}"))
    for key, text in metadata.items():
        looks = re.search(r"(^|_)(mean|std)(_values?)?$|norm|standardi[sz]", key)
        # a number standing alone (123.675, [0.5, 0.5]), not a layer's name (BatchNorm2d)
        number = re.search(r"(?<![A-Za-z_\d.])\d+(\.\d+)?(?![A-Za-z_\d])", text)
        if key not in read and looks and number:
            log.warning("%s: its metadata %s=%r looks like a normalisation that geotile does "
                        "not read (it reads standardization_mean/_std, mean/std, "
                        "pixel_mean/_std, or img_norm_cfg {mean, std}): give --mean/--std",
                        Path(path).name, key, text[:80])
    declared = {}
    for name, entries in found.items():
        if name not in wanted:
            continue
        if len({json.dumps(v, sort_keys=True, default=str) for v, _ in entries}) > 1:
            raise ModelError(f"{path}: {entries[0][1]} and {entries[1][1]} disagree; fix the "
                             f"model's metadata or give --{name}.")
        if entries:
            declared[name] = entries[0]
    return declared


def _normalization_dicts(metadata: dict[str, str]):
    """(key, its dict with lower-case keys) of each normalisation dict of the metadata
    (:data:`_NORMALIZATION_DICTS`) that holds a mean or a std."""
    for key in _NORMALIZATION_DICTS:
        value = metadata_value(metadata, key)
        if isinstance(value, dict):
            value = {str(k).lower(): v for k, v in value.items()}
            if {"mean", "std"} & set(value):
                yield key, value


#: a normalisation dict's word on the model's channel order: flag -> whether the model
#: takes B,G,R, by its value (mmcv's to_rgb and mmseg's bgr_to_rgb false: the channels as
#: cv2 loads them; true: R,G,B), rgb_to_bgr true (false says nothing: mmengine's default)
_ORDER_FLAGS = (("to_rgb", {False: True, True: False}),
                ("bgr_to_rgb", {False: True, True: False}), ("rgb_to_bgr", {True: True}))


def declared_channel_order(metadata: dict[str, str]) -> tuple[str, bool] | None:
    """(where, whether the model takes blue, green, red: its mean/std in that order) when
    the metadata's normalisation dict (:data:`_NORMALIZATION_DICTS`, with a mean or std)
    says so either way ("metadata img_norm_cfg to_rgb false", True); else None."""
    for key, value in _normalization_dicts(metadata):
        for flag, bgr in _ORDER_FLAGS:
            said = value.get(flag)
            if isinstance(said, bool) and said in bgr:
                return f"metadata {key} {flag} {str(said).lower()}", bgr[said]
    return None


#: the bands of an instance model whose marker thresholds metadata may declare
INSTANCE_ROLES = ("marker", "boundary", "contact")


def metadata_number(metadata, keys, path, *, integer=False, minimum=0.0, option=""):
    """The first of ``keys`` present, as a finite number >= minimum; ModelError otherwise."""
    for key in keys:
        value = metadata_value(metadata, key)
        if value is None:
            continue
        try:
            number = float(value)
            ok = math.isfinite(number) and number >= minimum and (
                not integer or number == int(number))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            kind = "a whole number" if integer else "a number"
            raise ModelError(f"{path}: metadata {key}={metadata[key]!r} is not {kind} >= "
                             f"{minimum:g}. Fix the model's metadata" +
                             (f" or give {option}." if option else "."))
        return int(number) if integer else number
    return None


def name_list(value) -> list[str] | None:
    """Class names from a dict {"0": name} (or {name: 0}: the names of those band ids), a list
    of names, or None."""
    if isinstance(value, dict):
        with contextlib.suppress(TypeError, ValueError):
            return _by_id({int(k): str(v) for k, v in value.items()}, len(value))
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value.values()):
            return _by_id({v: str(k) for k, v in value.items()}, len(value))  # name -> id
        return [str(value[k]) for k in value]
    if isinstance(value, list | tuple) and all(not isinstance(v, dict | list) for v in value):
        return [str(v) for v in value]
    if isinstance(value, str) and value.strip():  # "background,building": names by commas
        return [name.strip() for name in value.split(",") if name.strip()]
    return None


def _by_id(names: dict[int, str], given: int) -> list[str] | None:
    """Names of bands 0..the highest id of ``names`` {id: name}; an unnamed id is numbered
    as an unnamed band is (class_<id + 1>). None for negative or repeated ids."""
    if not names or min(names) < 0 or len(names) != given:
        return None
    return [names.get(i, f"class_{i + 1}") for i in range(max(names) + 1)]


#: metadata keys of class names: geotile's (Deepness'), then mmseg's, other exporters' and
#: HuggingFace's (id2label {"0": name}, label2id {name: 0})
CLASS_NAME_KEYS = ("class_names", "names", "classes", "labels", "id2label", "label2id")
