"""PaddleSeg's and PaddleRS' files beside an ONNX export of a Paddle model: PaddleSeg's
``tools/export.py`` writes model.pdmodel, model.pdiparams and ``deploy.yaml``; PaddleRS'
export ``model.yml``; users convert the model with ``paddle2onnx --save_file model.onnx``
in that folder (no metadata_props). Read only from the model's own folder (a link's, else
that of the file it links to: :func:`paddle_folder`), only when clearly Paddle's, and only
for what the ONNX metadata, Hugging Face's and MMDeploy's files do not declare (options
override all, see :meth:`geotile.model.OnnxModel.set_normalization`):

- deploy.yaml (PaddleSeg: ``Deploy`` with ``transforms``, items ``{type: Normalize, ...}``)
  or model.yml (PaddleRS, PaddleX: ``Model`` with ``Transforms``, items ``{Normalize:
  {...}}``): its Normalize. PaddleSeg's divides pixels by 255, then subtracts ``mean`` and
  divides by ``std`` (0.5 and 0.5 when not given: inputs -1..1); PaddleRS' maps
  ``min_val``..``max_val`` (0..255 when not given) to 0..1 first (PaddleX: unless
  ``is_scale`` is false). Its Resize is not a tile size: geotile does not resize windows.
- channel order (:func:`paddle_channel_flip`): PaddleX 1.x's model.yml ``TransformsMode:
  BGR`` (its deploy feeds the channels as cv2 reads them, its Normalize in that order);
  PaddleSeg's deploy.yaml says none (its Compose converts cv2's B,G,R to R,G,B), nor do
  PaddleRS' or PaddleX 2's model.yml (R,G,B, or the bands as GDAL reads them).
- class names: model.yml's ``_Attributes.labels``, else the dataset's ``label.txt`` or
  ``labels.txt`` (one name a line) beside a model whose deploy.yaml or model.yml is
  Paddle's (two that differ: neither is read).
"""
from __future__ import annotations

import functools
import logging
from pathlib import Path

from geotile.errors import ModelError
from geotile.sidecar_files import sidecar_folder

log = logging.getLogger("geotile")

DEPLOY = "deploy.yaml"
MODEL_YML = "model.yml"
LABELS = ("label.txt", "labels.txt")
FILES = (DEPLOY, MODEL_YML, *LABELS)


def paddle_folder(model_path) -> Path:
    """The folder whose Paddle files go with ``model_path``: its own; for a link without
    them beside it, the folder of the file it links to."""
    return sidecar_folder(model_path, (DEPLOY, MODEL_YML))


@functools.cache
def _loader():
    """PyYAML's safe loader, reading a Python tuple (PaddleRS dumps them) as a list and any
    other Python object as None (what geotile reads is plain lists and numbers)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("tag:yaml.org,2002:python/tuple",
                           lambda loader, node: loader.construct_sequence(node, deep=True))
    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)
    return Loader


def read_yaml(path: Path):
    """The YAML in ``path``, None when there is no such file; ValueError (its reason)."""
    if not path.is_file():
        return None
    import yaml

    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_loader())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ValueError(f"not valid YAML ({getattr(exc, 'problem', None) or exc}{where})"
                         ) from exc
    except (OSError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"cannot be read ({getattr(exc, 'strerror', None) or exc})") from exc


def _transforms(config, name: str):
    """The transforms of a Paddle deploy.yaml or model.yml as (type, attributes) pairs, or
    None when ``config`` is not Paddle's."""
    if not isinstance(config, dict):
        return None
    if name == DEPLOY:
        section = config.get("Deploy")
        items = section.get("transforms") if isinstance(section, dict) else None
    else:  # PaddleRS / PaddleX: Model (its class), Transforms [{Normalize: {...}}, ...]
        items = config.get("Transforms") if isinstance(config.get("Model"), str) else None
    if not isinstance(items, list):
        return None
    pairs = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("type"), str):
            pairs.append((item["type"], item))
        elif isinstance(item, dict) and len(item) == 1:
            (kind, attributes), = item.items()
            pairs.append((str(kind), attributes if isinstance(attributes, dict) else {}))
        else:
            return None
    return pairs


def _shows_paddle_keys(path: Path, name: str) -> bool:
    """Whether a deploy.yaml or model.yml that is no valid YAML shows Paddle's top key
    (``Deploy:``, ``Model:``): a broken one of Paddle's, not another tool's of that name."""
    import re

    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    key = "Deploy" if name == DEPLOY else "Model"
    # a byte-order mark before the first key (Windows editors) hides no key
    return re.search(rf"^\ufeff?{key}\s*:", text, re.MULTILINE) is not None


def _paddle_config(model_path):
    """(file, its transforms, its content) of the Paddle deploy.yaml or model.yml beside
    ``model_path`` (deploy.yaml first); (None, None, None) without one. ValueError (file,
    reason) when one is no valid YAML but shows Paddle's top key (another tool's is passed
    over)."""
    folder = paddle_folder(model_path)
    for name in (DEPLOY, MODEL_YML):
        path = folder / name
        try:
            config = read_yaml(path)
        except ValueError as exc:
            if not _shows_paddle_keys(path, name):  # another tool's (a Helm template)
                continue
            raise ValueError(path, str(exc)) from exc
        transforms = _transforms(config, name)
        if transforms is not None:
            return path, transforms, config
    return None, None, None


def _channels(value, name):
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [float(value)]
    if isinstance(value, list) and value and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        return [float(v) for v in value]
    raise TypeError(name)


def paddle_normalization(model_path, wanted=("mean", "std"), scale: bool = True
                         ) -> dict[str, tuple]:
    """"mean"/"std" (those ``wanted``) and "scale" (when ``scale``) -> (value, where the
    file gives it) from the Normalize of a PaddleSeg deploy.yaml or PaddleRS model.yml
    beside ``model_path``; {} without one. PaddleSeg's: scale 1/255, mean and std 0.5 when
    not given. PaddleRS': its min_val..max_val mapped to 0..1 (0..255: scale 1/255; other
    ranges: mean and std in pixel units, scale 1). ModelError naming the file when it is no
    valid YAML or its values are no numbers (mean/std are checked per channel by the
    model)."""
    try:
        path, transforms, _ = _paddle_config(model_path)
    except ValueError as exc:
        file, reason = exc.args
        raise ModelError(f"{file}: {reason}; fix it (or remove it), or give --mean and --std."
                         ) from exc
    normalize = next((a for kind, a in transforms or () if kind == "Normalize"), None)
    if normalize is None:
        return {}
    where = f"{path.name} Normalize"
    given = {name: normalize.get(name) for name in ("mean", "std")}
    if path.name != DEPLOY and None in given.values():  # PaddleRS writes both: not guessed
        return {}
    try:
        values = {name: _channels(given[name], name) if given[name] is not None else [0.5]
                  for name in ("mean", "std")}
        low = _channels(normalize.get("min_val", 0), "min_val")
        high = _channels(normalize.get("max_val", 255), "max_val")
    except TypeError as exc:
        raise ModelError(f"{path}: its Normalize {exc} {normalize.get(str(exc))!r} is not a "
                         "number or a list of numbers; fix it, or give --mean and --std."
                         ) from exc
    if path.name == DEPLOY or normalize.get("is_scale") is False:  # no range: x / 255, x
        low, high = [0.0], [255.0 if path.name == DEPLOY else 1.0]
    lists = [low, high, values["mean"], values["std"]]
    count = max(len(v) for v in lists)
    low, high, mean, std = (v * count if len(v) == 1 else v for v in lists)
    if len({len(low), len(high), len(mean), len(std)}) > 1:
        raise ModelError(f"{path}: its Normalize mean, std, min_val and max_val are for "
                         "different numbers of channels; fix it, or give --mean and --std.")
    ranges = [h - lo for lo, h in zip(low, high, strict=True)]
    if min(ranges) <= 0:
        raise ModelError(f"{path}: its Normalize max_val {high} is not above its min_val "
                         f"{low}; fix it, or give --mean, --std and --scale.")
    found = {}
    if max(low) == min(low) == 0 and len(set(ranges)) == 1:  # x / range, then mean and std
        if scale:
            found["scale"] = (1 / ranges[0], f"{where} of pixels / {ranges[0]:g}")
    elif scale:  # (x - min_val) / range: mean and std in pixel units, pixels as they are
        values = {"mean": [lo + m * r for lo, m, r in zip(low, mean, ranges, strict=True)],
                  "std": [s * r for s, r in zip(std, ranges, strict=True)]}
        found["scale"] = (1.0, f"{where} min_val {low} max_val {high}")
    for name in ("mean", "std"):
        if name in wanted:
            shown = given[name] if given[name] is not None else "0.5 (PaddleSeg's default)"
            found[name] = (values[name] if len(values[name]) > 1 else values[name][0],
                           f"{where} {name} {shown}")
    return found


def paddle_channel_flip(model_path) -> str | None:
    """"model.yml TransformsMode BGR" where PaddleX's model.yml beside ``model_path`` says
    the model takes B,G,R; else None (no valid YAML: :func:`paddle_normalization` names
    it)."""
    try:
        path, _, config = _paddle_config(model_path)
    except ValueError:
        return None
    if path is not None and path.name == MODEL_YML and config.get("TransformsMode") == "BGR":
        return f"{MODEL_YML} TransformsMode BGR"
    return None


def paddle_class_names(model_path):
    """(names, where) from the model.yml ``_Attributes.labels`` beside ``model_path``, else
    a label.txt or labels.txt (one name a line) beside a Paddle deploy.yaml or model.yml;
    (None, None) without them, or with two label files that differ. Files that cannot be
    read are left out (their normalisation says why)."""
    try:
        path, _, config = _paddle_config(model_path)
    except ValueError:
        return None, None, None
    if path is None:
        return None, None, None
    labels = (config.get("_Attributes") or {}).get("labels") \
        if isinstance(config.get("_Attributes"), dict) else None
    if isinstance(labels, list) and labels and all(isinstance(v, str) for v in labels):
        return labels, f"{path.name} _Attributes.labels", path
    found = {}
    for name in LABELS:
        file = path.parent / name
        if file.is_file():
            try:
                lines = file.read_text(encoding="utf-8-sig").splitlines()
            except (OSError, UnicodeDecodeError):
                continue
            names = [line.strip() for line in lines if line.strip()]
            if names:
                found[name] = names
    if len(found) > 1 and len({tuple(v) for v in found.values()}) > 1:
        log.warning("%s: %s beside it give different class names; the bands are named by "
                    "number", Path(model_path).name, " and ".join(found))
        return None, None, None
    if not found:
        return None, None, None
    name = next(iter(found))
    return found[name], name, path.parent / name


def paddle_files(model_path) -> list[Path]:
    """Paddle's files that would be read with ``model_path``: what identifies them."""
    folder = paddle_folder(model_path)
    return [folder / name for name in FILES]


def is_paddle_export(model_path) -> bool:
    """Whether a PaddleSeg deploy.yaml or PaddleRS model.yml lies beside the model."""
    try:
        return _paddle_config(model_path)[0] is not None
    except ValueError:
        return True  # a broken deploy.yaml beside it: Paddle's most likely
