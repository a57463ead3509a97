"""MMDeploy's files beside an ONNX export of an OpenMMLab model (mmseg: the LoveDA, ISPRS
Potsdam/Vaihingen and iSAID baselines): ``tools/deploy.py`` writes end2end.onnx (no
metadata_props) with ``deploy.json``, ``pipeline.json`` and ``detail.json`` in its work
folder. Read only from the model's own folder (a link's, else that of the file it links to:
:func:`mmdeploy_folder`), only when clearly MMDeploy's and this model's (a deploy.json that
names another model file beside it says they are not), and only for what the ONNX metadata
and Hugging Face's files do not declare (options override all, see
:meth:`geotile.model.OnnxModel.set_normalization`):

- pipeline.json (``{"pipeline": {"tasks": [...]}}``): the ``Normalize`` transform of its
  preprocessing (mmseg 0.x's img_norm_cfg; 1.x's data_preprocessor, which MMDeploy writes
  so, ``to_rgb`` being its ``bgr_to_rgb``): ``mean`` and ``std`` of 0..255 pixels, as mmcv
  loads 8-bit images (a mean of 0 and std of 1: 0..255 pixels go in as they are);
  ``to_rgb`` false means the model takes the channels as cv2 loads them, B,G,R, its
  mean/std in that order: geotile flips the image's R,G,B itself
  (:func:`mmdeploy_channel_flip`, as for a Hugging Face processor's). Its ``Resize`` is
  not a tile size: geotile does not resize windows.
- detail.json (``codebase``, ``codebase_config`` or ``onnx_config``): class names from a
  ``classes`` list in a model config added to it (``model_cfg``: its dataset's or
  ``metainfo``'s), when there is one; MMDeploy's own names only the config's file
  (``codebase.config``).
"""
from __future__ import annotations

import logging
from pathlib import Path

from geotile.errors import ModelError
from geotile.sidecar_files import read_json, sidecar_folder

log = logging.getLogger("geotile")

PIPELINE = "pipeline.json"
DETAIL = "detail.json"
DEPLOY = "deploy.json"
FILES = (PIPELINE, DETAIL, DEPLOY)


def mmdeploy_folder(model_path) -> Path:
    """The folder whose MMDeploy files go with ``model_path``: its own; for a link without
    them beside it, the folder of the file it links to."""
    return sidecar_folder(model_path, FILES)


def _for_this_model(model_path, folder: Path) -> bool:
    """False when the folder's deploy.json names other model files (``net``), one of them
    beside it, and not this one (by its name or, for a link, its file's): that export's
    files. A model renamed after the export, alone in its folder, is the one meant, as is a
    copy named as the export with a suffix (end2end_fp16.onnx of MMDeploy's onnxruntime-fp16
    backend, end2end.quant.onnx, end2end-int8.onnx)."""
    try:
        deploy = read_json(folder / DEPLOY)
    except ValueError:
        return True
    models = deploy.get("models") if isinstance(deploy, dict) else None
    nets = {str(m["net"]) for m in models if isinstance(m, dict) and m.get("net")} \
        if isinstance(models, list) else set()
    path = Path(model_path)
    names = {path.name, path.resolve().name}
    copies = {Path(n).stem + sep for n in nets for sep in "_-."}
    return not nets or bool(nets & names) or any(n.startswith(c) for n in names for c in copies) \
        or not any((folder / n).is_file() for n in nets)


def _is_mmdeploy_pipeline(value) -> bool:
    pipeline = value.get("pipeline") if isinstance(value, dict) else None
    return isinstance(pipeline, dict) and isinstance(pipeline.get("tasks"), list)


def _shows_mmdeploy_pipeline(path: Path) -> bool:
    """Whether a pipeline.json that is no valid JSON shows MMDeploy's keys (its pipeline
    and tasks): a broken one of MMDeploy's, not another tool's file of that name."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return '"pipeline"' in text and '"tasks"' in text


def _transforms(items):
    """Every transform of ``items`` (tasks or transforms), those nested in another's
    ``transforms`` (mmseg 0.x's MultiScaleFlipAug) too, in order."""
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        if item.get("module", "Transform") == "Transform" and "type" in item \
                and item.get("type") != "Task":
            yield item
        yield from _transforms(item.get("transforms"))


def _normalize(model_path) -> dict | None:
    """The Normalize transform of MMDeploy's pipeline.json beside ``model_path``; None
    without one. ModelError naming the file when it is no valid JSON."""
    folder = mmdeploy_folder(model_path)
    path = folder / PIPELINE
    try:
        pipeline = read_json(path)
    except ValueError as exc:
        if not _shows_mmdeploy_pipeline(path):  # another tool's (JSON with comments)
            return None
        raise ModelError(f"{path}: {exc}; fix it (or remove it), or give --mean and --std."
                         ) from exc
    if not _is_mmdeploy_pipeline(pipeline) or not _for_this_model(model_path, folder):
        return None
    return next((t for t in _transforms(pipeline["pipeline"]["tasks"])
                 if t.get("type") == "Normalize"), None)


def mmdeploy_channel_flip(model_path) -> str | None:
    """Where MMDeploy's pipeline.json beside ``model_path`` says the model takes B,G,R (its
    Normalize's to_rgb, or mmseg 1.x's bgr_to_rgb, false: the channels as cv2 loads them):
    "pipeline.json Normalize to_rgb false"; else None (no valid JSON:
    :func:`mmdeploy_normalization` names it)."""
    try:
        normalize = _normalize(model_path)
    except ModelError:
        return None
    for flag in ("to_rgb", "bgr_to_rgb"):
        if normalize is not None and normalize.get(flag) is False:
            return f"{PIPELINE} Normalize {flag} false"
    return None


def mmdeploy_normalization(model_path, wanted=("mean", "std"), scale: bool = True
                           ) -> dict[str, tuple]:
    """"mean"/"std" (those ``wanted``) -> (value, where pipeline.json gives it) from the
    Normalize of MMDeploy's pipeline.json beside ``model_path``, and "scale" (when
    ``scale``) 1.0 where its mean and std are no larger than 1 (mean 0, std 1: mmseg feeds
    0..255 pixels, which geotile's default would divide by 255); {} without one.
    ModelError naming the file when it is no valid JSON (mean/std are checked per channel
    by the model)."""
    normalize = _normalize(model_path)
    if normalize is None:
        return {}
    found = {}
    for name in ("mean", "std"):
        if name in wanted and name in normalize:
            found[name] = (normalize[name], f"{PIPELINE} Normalize {name} {normalize[name]!r}")
    if scale and found:
        try:
            values = [float(v) for name in ("mean", "std")
                      for v in (normalize.get(name) if isinstance(normalize.get(name), list)
                                else [normalize.get(name, 0)])]
        except (TypeError, ValueError):
            values = []
        if values and max(values) <= 1:
            found["scale"] = (1.0, f"{PIPELINE} Normalize of 0..255 pixels")
    return found


#: where a model config copied into detail.json keeps its classes (mmseg 1.x: metainfo;
#: 0.x: the dataset's classes; or at the top)
_CLASS_PATHS = (("classes",), ("metainfo", "classes"), ("dataset_meta", "classes"),
                ("test_dataloader", "dataset", "metainfo", "classes"),
                ("test_dataloader", "dataset", "classes"), ("data", "test", "classes"))


def _is_mmdeploy_detail(value) -> bool:
    """Whether ``value`` is MMDeploy's detail.json (its codebase, codebase_config or
    onnx_config), not another tool's file of that name."""
    return isinstance(value, dict) and any(
        isinstance(value.get(key), dict) for key in ("codebase", "codebase_config", "onnx_config"))


def mmdeploy_class_names(model_path):
    """(classes, where) from detail.json beside ``model_path`` (the model config MMDeploy
    copied into it: ``model_cfg``); (None, None) without one. A detail.json that is no
    valid JSON is warned about and left out."""
    folder = mmdeploy_folder(model_path)
    path = folder / DETAIL
    try:
        detail = read_json(path)
    except ValueError as exc:
        log.warning("%s: %s beside it %s; its class names are not read", Path(model_path).name,
                    DETAIL, exc)
        return None, None
    if not _is_mmdeploy_detail(detail) or not _for_this_model(model_path, folder):
        return None, None
    for top in ("model_cfg", "model_config", None):
        config = detail.get(top) if top else detail
        for keys in _CLASS_PATHS:
            value = config
            for key in keys:
                value = value.get(key) if isinstance(value, dict) else None
            if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                return value, f"{DETAIL} {'.'.join(filter(None, (top, *keys)))}"
    return None, None


def mmdeploy_files(model_path) -> list[Path]:
    """MMDeploy's files that would be read with ``model_path``: what identifies them."""
    folder = mmdeploy_folder(model_path)
    return [folder / name for name in FILES]


def is_mmdeploy_export(model_path) -> bool:
    """Whether MMDeploy's pipeline.json or deploy.json lies beside the model."""
    folder = mmdeploy_folder(model_path)
    return any((folder / name).is_file() for name in (PIPELINE, DEPLOY))
