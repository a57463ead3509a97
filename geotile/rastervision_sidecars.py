"""Raster Vision's files beside its ONNX export: a learner's model bundle
(``train/model-bundle.zip``, Raster Vision 0.21 to 0.31) holds model.onnx (written unless
``save_model_bundle(export_onnx=False)``), model.pth and ``learner-config.json``; unzipped,
its model.onnx (no metadata_props, input ``x``, output ``out``: logits) is read with it. Read
only from the model's own folder (a link's, else that of the file it links to:
:func:`rv_folder`), only when clearly Raster Vision's, and only for what the ONNX metadata
and the other exporters' files do not declare (options override all, see
:meth:`geotile.model.OnnxModel.set_normalization`):

- normalisation: Raster Vision divides unsigned integer pixels by their type's maximum
  (uint8 / 255, uint16 / 65535) and leaves float and signed ones as they are, after its
  ``data.base_transform``; an albumentations ``Normalize`` there gives ``(x - mean *
  max_pixel_value) / (std * max_pixel_value)`` for any type instead. Another base transform
  is warned about (geotile does not run albumentations). Its ``A.Resize(img_sz)`` is not a
  tile size: geotile does not resize windows.
- class names: ``data.class_config.names``, the null class Raster Vision adds to a
  segmentation's classes included: the model's output channels, in order.

The bundle's zip itself may be given as the model (:func:`bundle_onnx`): its model.onnx and
learner-config.json are read from it in memory, as are those of the learner's bundle that a
pipeline's ``bundle/model-bundle.zip`` holds (beside its pipeline-config.json).
"""
from __future__ import annotations

import logging
import math
from pathlib import Path

from geotile.errors import ModelError
from geotile.sidecar_files import read_json, sidecar_folder

log = logging.getLogger("geotile")

LEARNER_CONFIG = "learner-config.json"
#: the "scale" of a normalisation that divides unsigned pixels by their type's maximum
DTYPE_MAX = "dtype max"


def rv_folder(model_path) -> Path:
    """The folder whose Raster Vision files go with ``model_path``: its own; for a link
    without them beside it, the folder of the file it links to."""
    return sidecar_folder(model_path, (LEARNER_CONFIG,))


ONNX = "model.onnx"
PIPELINE_CONFIG = "pipeline-config.json"
BUNDLE = "model-bundle.zip"
EXPORT_HINT = ("export it from Raster Vision with learner.save_model_bundle(export_onnx=True) "
               "or learner.export_to_onnx('model.onnx')")


def _learner_bundle(path: Path):
    """The open learner bundle (zipfile) of the zip at ``path``: itself, or the
    model-bundle.zip a pipeline's bundle holds beside its pipeline-config.json; None when
    it is no Raster Vision bundle. ValueError (reason) when it cannot be read."""
    import io
    import zipfile

    try:
        outer = zipfile.ZipFile(path)
        names = set(outer.namelist())
        if LEARNER_CONFIG in names or ONNX in names:
            return outer
        if PIPELINE_CONFIG in names and BUNDLE in names:
            return zipfile.ZipFile(io.BytesIO(outer.read(BUNDLE)))
    except (OSError, zipfile.BadZipFile, RuntimeError, EOFError) as exc:
        raise ValueError(f"cannot be read as a zip ({exc})") from exc
    return None


def is_bundle_zip(model_path) -> bool:
    """Whether ``model_path`` is a zip file (a model bundle given as the model): it starts
    as one (an ONNX file never does; its weights may hold a zip's end record by chance)."""
    try:
        with open(model_path, "rb") as file:
            return file.read(2) == b"PK"
    except OSError:
        return False


def bundle_onnx(model_path) -> bytes:
    """The model.onnx of the Raster Vision model bundle (zip) at ``model_path``; ModelError
    saying what to do when it is none, or holds no model.onnx."""
    path = Path(model_path)
    try:
        bundle = _learner_bundle(path)
    except ValueError as exc:
        raise ModelError(f"{path}: {exc}; give the model's .onnx file.") from exc
    if bundle is None:
        raise ModelError(f"{path}: a zip file, but no Raster Vision model bundle (no "
                         f"{LEARNER_CONFIG} or {ONNX} in it); unzip it and give the model's "
                         ".onnx file.")
    if ONNX not in bundle.namelist():
        raise ModelError(f"{path}: this Raster Vision model bundle holds no {ONNX} (only "
                         f"model.pth, which geotile cannot run): {EXPORT_HINT}.")
    return bundle.read(ONNX)


def _is_learner_config(config) -> bool:
    if not isinstance(config, dict) or not isinstance(config.get("data"), dict):
        return False
    hint = config.get("type_hint")
    plugins = config.get("plugin_versions")
    return (isinstance(hint, str) and hint.endswith("_learner")) or (
        isinstance(plugins, dict) and any(str(k).startswith("rastervision") for k in plugins))


def _learner_config(model_path):
    """(path, content) of the Raster Vision learner-config.json beside ``model_path``;
    (path, None) without one. ValueError (reason) when it is no valid JSON."""
    if is_bundle_zip(model_path):  # read in memory from the bundle given as the model
        import json

        path = Path(model_path)
        bundle = _learner_bundle(path)
        if bundle is None or LEARNER_CONFIG not in bundle.namelist():
            return path, None
        try:
            config = json.loads(bundle.read(LEARNER_CONFIG).decode("utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"its {LEARNER_CONFIG} is not valid JSON ({exc.msg} at line "
                             f"{exc.lineno})") from exc
        except (OSError, UnicodeDecodeError, RecursionError) as exc:
            raise ValueError(f"its {LEARNER_CONFIG} cannot be read ({exc})") from exc
        return path, config if _is_learner_config(config) else None
    path = rv_folder(model_path) / LEARNER_CONFIG
    config = read_json(path)
    return path, config if _is_learner_config(config) else None


def _normalize_of(transform):
    """(the albumentations Normalize of a serialized ``base_transform``, or None; the name
    of another transform found there, or None)."""
    if not isinstance(transform, dict):
        return None, None
    if isinstance(transform.get("transform"), dict):  # A.to_dict: {"__version__", "transform"}
        transform = transform["transform"]
    name = str(transform.get("__class_fullname__", "?")).rsplit(".", 1)[-1]
    if name == "Compose" and isinstance(transform.get("transforms"), list):
        found, other = None, None
        for item in transform["transforms"]:
            normalize, unknown = _normalize_of(item)
            found, other = found or normalize, other or unknown
        return found, other
    if name == "Normalize":
        return transform, None
    if name in {"Resize", "NoOp"}:  # geotile does not resize windows
        return None, None
    return None, name


def _numbers(value, name):
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    if isinstance(value, list) and value and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        return [float(v) for v in value]
    raise TypeError(name)


def rv_normalization(model_path, wanted=("mean", "std"), scale: bool = True
                     ) -> dict[str, tuple]:
    """"scale" (when ``scale``; :data:`DTYPE_MAX` for Raster Vision's own division of
    unsigned pixels by their type's maximum) and "mean"/"std" (those ``wanted``) -> (value,
    where) from the learner-config.json beside ``model_path``; {} without one. ModelError
    naming the file when it is no valid JSON or its Normalize's values are no numbers."""
    try:
        path, config = _learner_config(model_path)
    except ValueError as exc:
        file = Path(model_path) if is_bundle_zip(model_path) \
            else rv_folder(model_path) / LEARNER_CONFIG
        raise ModelError(f"{file}: {exc}; fix it (or remove it), or give --mean and --std."
                         ) from exc
    if config is None:
        return {}
    base = config["data"].get("base_transform")
    normalize, other = _normalize_of(base)
    if other is not None:
        log.warning("%s: %s data.base_transform has %s, which geotile does not run: give "
                    "--mean, --std and --scale for the pixels it gave the model",
                    Path(model_path).name, LEARNER_CONFIG, other)
    found = {}
    if normalize is None:
        if scale:
            found["scale"] = (DTYPE_MAX, f"{LEARNER_CONFIG} base_transform without Normalize")
        for name, default in (("mean", 0.0), ("std", 1.0)):
            if name in wanted:
                found[name] = (default, f"{LEARNER_CONFIG} base_transform without Normalize")
        return found
    if normalize.get("normalization", "standard") != "standard":
        raise ModelError(f"{path}: its base_transform Normalize has normalization "
                         f"{normalize.get('normalization')!r}, a per-image one geotile does not "
                         "run; give --mean, --std and --scale.")
    try:  # albumentations' defaults: ImageNet's mean and std of 0..1 pixels
        mean = _numbers(normalize.get("mean", [0.485, 0.456, 0.406]), "mean")
        std = _numbers(normalize.get("std", [0.229, 0.224, 0.225]), "std")
        top = _numbers(normalize.get("max_pixel_value", 255.0), "max_pixel_value")
    except TypeError as exc:
        raise ModelError(f"{path}: its base_transform Normalize {exc} "
                         f"{normalize.get(str(exc))!r} is not a number or a list of numbers; "
                         "fix it, or give --mean and --std.") from exc
    if not isinstance(top, float) or top <= 0:
        raise ModelError(f"{path}: its base_transform Normalize max_pixel_value {top!r} is "
                         "not a number > 0; fix it, or give --scale.")
    if scale:
        found["scale"] = (1 / top, f"{LEARNER_CONFIG} Normalize max_pixel_value {top:g}")
    for name, value in (("mean", mean), ("std", std)):
        if name in wanted:
            found[name] = (value, f"{LEARNER_CONFIG} Normalize {name} {value!r}")
    return found


def rv_class_names(model_path):
    """(names, where) from the learner-config.json ``data.class_config.names`` beside
    ``model_path``; (None, None) without them. One that is no valid JSON is left out (its
    normalisation says why)."""
    try:
        _, config = _learner_config(model_path)
    except ValueError:
        return None, None
    if config is None or not isinstance(config["data"].get("class_config"), dict):
        return None, None
    names = config["data"]["class_config"].get("names")
    if not isinstance(names, list) or not names:
        return None, None
    return names, f"{LEARNER_CONFIG} data.class_config.names"


def rv_file(model_path) -> Path:
    """The file Raster Vision's config is read from with ``model_path``: the bundle's zip
    given as the model, else the learner-config.json beside it."""
    return Path(model_path) if is_bundle_zip(model_path) \
        else rv_folder(model_path) / LEARNER_CONFIG


def rv_files(model_path) -> list[Path]:
    """Raster Vision's files that would be read with ``model_path``."""
    return [rv_file(model_path)]


# --- the scenes' raster source: channel_order (and transformers) ---------------------------
SCENE_GROUPS = ("train_scenes", "validation_scenes", "test_scenes")


def _parse(text: bytes, file) -> dict:
    import json

    try:
        return json.loads(text.decode("utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelError(f"{file}: not valid JSON ({exc.msg} at line {exc.lineno}); fix it "
                         "(or remove it), or give --bands.") from exc
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ModelError(f"{file}: cannot be read ({exc}); fix it (or remove it).") from exc


def _is_pipeline_config(config) -> bool:
    if not isinstance(config, dict) or not isinstance(config.get("dataset"), dict):
        return False
    hint, plugins = config.get("type_hint"), config.get("plugin_versions")
    return (isinstance(hint, str) and hint.endswith("_pipeline")) or (
        isinstance(plugins, dict) and any(str(k).startswith("rastervision") for k in plugins))


def _pipeline_config(model_path):
    """(config, its name in messages, reader of the bundle's other files by name) of the
    pipeline-config.json in the pipeline's bundle given as the model, else beside the model
    (an unzipped pipeline bundle); None without one."""
    import zipfile

    path = Path(model_path)
    if is_bundle_zip(path):
        try:
            outer = zipfile.ZipFile(path)
            names = set(outer.namelist())
            if PIPELINE_CONFIG in names:
                config = _parse(outer.read(PIPELINE_CONFIG), f"{path}: its {PIPELINE_CONFIG}")
                if _is_pipeline_config(config):
                    return config, f"{path}'s {PIPELINE_CONFIG}", (
                        lambda name: outer.read(name) if name in names else None)
        except (OSError, zipfile.BadZipFile, RuntimeError, EOFError):
            pass  # said by bundle_onnx
    folder = sidecar_folder(path, (PIPELINE_CONFIG,))
    file = folder / PIPELINE_CONFIG
    if not file.is_file():
        return None
    try:
        config = read_json(file)
    except ValueError as exc:
        raise ModelError(f"{file}: {exc}; fix it (or remove it), or give --bands.") from exc
    if not _is_pipeline_config(config):
        return None
    return config, str(file), (
        lambda name: (folder / name).read_bytes() if (folder / name).is_file() else None)


def _scenes(dataset) -> list[tuple[str, dict]]:
    """(train_scenes[0]..., its raster_source) of a serialized DatasetConfig."""
    found = []
    for group in SCENE_GROUPS:
        scenes = dataset.get(group) if isinstance(dataset, dict) else None
        for i, scene in enumerate(scenes if isinstance(scenes, list) else []):
            if isinstance(scene, dict) and isinstance(scene.get("raster_source"), dict):
                found.append((f"{group}[{i}]", scene["raster_source"]))
    return found


class RasterInput:
    """What Raster Vision's scenes say of the pixels its model was fed: ``bands`` (1-based,
    from the raster source's 0-based ``channel_order``; None: no default) and ``where``,
    ``file`` (read, for --resume)."""

    def __init__(self, file, where: str, bands=None, order=None):
        self.file, self.where, self.bands, self.order = file, where, bands, order

    def describe(self) -> str:
        return (f"{self.where} channel_order {self.order} (bands "
                f"{','.join(map(str, self.bands))})")


def rv_raster_input(model_path) -> RasterInput | None:
    """The raster source of the scenes in the pipeline-config.json of the model's bundle
    (beside the learner's), else in learner-config.json's ``data.scene_dataset`` (a
    GeoDataConfig learner); None without them. Scenes that disagree are warned of once and
    give no default; a broken file is a ModelError naming it."""
    name = Path(model_path).name
    pipeline = _pipeline_config(model_path)
    if pipeline is not None:
        config, where, _ = pipeline
        scenes, file = _scenes(config["dataset"]), rv_file(model_path) if is_bundle_zip(
            model_path) else Path(where)
    else:
        try:
            file, config = _learner_config(model_path)
        except ValueError:
            return None  # said by its normalisation
        if config is None:
            return None
        where = f"{file}'s data.scene_dataset" if is_bundle_zip(model_path) \
            else f"{file} data.scene_dataset"
        scenes = _scenes(config["data"].get("scene_dataset"))
    if not scenes:
        return None
    other = sorted({str(s.get("type_hint")) for _, s in scenes
                    if s.get("type_hint", "rasterio_source") != "rasterio_source"})
    if other:
        log.warning("%s: %s has a %s raster source, which geotile does not reproduce (it "
                    "reads the bands of one image): give --bands for the channels it was "
                    "trained on", name, where, " and ".join(other))
        return RasterInput(file, where)
    orders = {}
    for label, source in scenes:
        order = source.get("channel_order")
        if order is not None and not (isinstance(order, list) and order and all(
                isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in order)):
            raise ModelError(f"{where}: {label} raster_source channel_order {order!r} is not "
                             "a list of 0-based band indices; fix it, or give --bands.")
        orders.setdefault(None if order is None else tuple(order), label)
    if len(orders) > 1:
        log.warning("%s: the scenes of %s have different channel_order (%s), so no bands are "
                    "chosen by default (Raster Vision's predict takes validation_scenes[0]'s): "
                    "give --bands", name, where, "; ".join(
                        f"{label} {list(order) if order is not None else None}"
                        for order, label in orders.items()))
        return RasterInput(file, where)
    order = next(iter(orders))
    if order is None:  # Raster Vision reads the bands that are no alpha: geotile's default
        return RasterInput(file, where)
    found = RasterInput(file, where, [i + 1 for i in order], list(order))
    log.info("%s: bands %s by default (%s)", name, ",".join(map(str, found.bands)),
             found.describe().split(" (bands")[0])
    return found
