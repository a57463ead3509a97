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

- input bands and raster transformers: the scenes' raster source (pipeline-config.json of
  the pipeline's bundle, else learner-config.json's ``data.scene_dataset``):
  ``channel_order`` is the default --bands (:func:`rv_raster_input`), its StatsTransformer,
  CastTransformer and NanTransformer are reproduced before the normalisation (bit for bit:
  Raster Vision's own operations); MinMaxTransformer (per chip) and others are refused
  unless --scale is given (then warned of).

The bundle's zip itself may be given as the model (:func:`bundle_onnx`): its model.onnx and
learner-config.json are read from it in memory, as are those of the learner's bundle that a
pipeline's ``bundle/model-bundle.zip`` holds (beside its pipeline-config.json).
"""
from __future__ import annotations

import functools
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
#: bytes: the most a file of a bundle's zip may unzip to (an ONNX file holds at most 2 GiB,
#: protobuf's limit); a learner's bundle inside a pipeline's, twice that (model.pth beside)
LARGEST = 2 << 30
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
            return zipfile.ZipFile(io.BytesIO(unzipped(outer, BUNDLE, 2 * LARGEST)))
    except (OSError, zipfile.BadZipFile, RuntimeError, EOFError) as exc:
        raise ValueError(f"cannot be read as a zip ({exc})") from exc
    return None


def unzipped(archive, name: str, limit: int | None = None) -> bytes:
    """The file ``name`` of the zip ``archive``, read in memory; ValueError (reason) when the
    zip says it unzips to more than ``limit`` (``LARGEST``) bytes: a broken or hostile zip
    (a zip bomb) is not unzipped."""
    limit = LARGEST if limit is None else limit
    size = archive.getinfo(name).file_size
    if size > limit:
        raise ValueError(f"its {name} unzips to {size:,} bytes, more than a model bundle's "
                         f"can be ({limit:,}): a broken or hostile zip")
    return archive.read(name)


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
    try:
        return unzipped(bundle, ONNX)
    except ValueError as exc:
        raise ModelError(f"{path}: {exc}; give the model's .onnx file.") from exc


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
        import copy

        path = Path(model_path)
        info = path.stat()
        config = copy.deepcopy(_zipped_learner_config(
            str(path.resolve()), (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)))
        return path, config if _is_learner_config(config) else None
    path = rv_folder(model_path) / LEARNER_CONFIG
    config = read_json(path)
    return path, config if _is_learner_config(config) else None


@functools.lru_cache(maxsize=4)
def _zipped_learner_config(path: str, version: tuple):
    """The parsed learner-config.json of the bundle zip at ``path`` (None without one), read
    once per ``version`` of the file (inode, size, mtime, ctime): reaching it in a pipeline's
    bundle unzips the learner's whole bundle (model.pth and model.onnx), which the
    normalisation and the class names would otherwise each do again. ValueError (reason)
    when it is no valid JSON (not kept: said again)."""
    import json

    bundle = _learner_bundle(Path(path))
    if bundle is None or LEARNER_CONFIG not in bundle.namelist():
        return None
    try:
        return json.loads(unzipped(bundle, LEARNER_CONFIG).decode("utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"its {LEARNER_CONFIG} is not valid JSON ({exc.msg} at line "
                         f"{exc.lineno})") from exc
    except (OSError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"its {LEARNER_CONFIG} cannot be read ({exc})") from exc


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
    """Raster Vision's files that would be read with ``model_path``: the zip given, else
    the learner-config.json, pipeline-config.json and analyze/ stats beside it."""
    if is_bundle_zip(model_path):
        return [Path(model_path)]
    folder = sidecar_folder(model_path, (PIPELINE_CONFIG,))
    return [rv_file(model_path), folder / PIPELINE_CONFIG,
            *sorted((folder / "analyze").glob("**/stats.json"))]


# --- the scenes' raster source: channel_order (and transformers) ---------------------------
SCENE_GROUPS = ("train_scenes", "validation_scenes", "test_scenes")


def _parse(text: bytes, file) -> dict:
    import json

    try:
        return json.loads(text.decode("utf-8-sig"))
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
                config = _parse(unzipped(outer, PIPELINE_CONFIG),
                                f"{path}: its {PIPELINE_CONFIG}")
                if _is_pipeline_config(config):
                    return config, f"{path}'s {PIPELINE_CONFIG}", _zip_reader(path, outer)
        except (OSError, zipfile.BadZipFile, RuntimeError, EOFError, ValueError):
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
    return config, str(file), _folder_reader(folder)


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
    from the raster source's 0-based ``channel_order``; None: no default), ``steps`` (its
    raster transformers that geotile reproduces, in order), ``unsupported`` (the names of
    those it cannot), and ``where``, ``file`` (read, for --resume)."""

    def __init__(self, file, where: str, bands=None, order=None):
        self.file, self.where, self.bands, self.order = file, where, bands, order
        self.steps: list = []
        self.unsupported: list[str] = []
        #: why those are not reproduced
        self.why = "MinMaxTransformer stretches each of Raster Vision's chips to its own range"

    def bind(self, indexes, source, added: int = 0) -> None:
        """Fit the steps to the image's bands ``indexes`` (1-based) that feed the model,
        then ``added`` channels of --extra-bands."""
        for step in self.steps:
            step.bind(indexes, source, added, self.order)

    def out_dtype(self, dtype):
        import numpy as np

        dtype = np.dtype(dtype)
        for step in self.steps:
            dtype = step.out_dtype(dtype)
        return dtype

    def __call__(self, pixels, start: int = 0):
        """(N, C, H, W) pixels of the channels fed from ``start`` on, through the steps."""
        for step in self.steps:
            pixels = step(pixels, start)
        return pixels

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
    core = (config.get("plugin_versions") or {}).get("rastervision.core")
    read = pipeline[2] if pipeline is not None else _learner_reader(model_path)
    other = sorted({str(s.get("type_hint")) for _, s in scenes
                    if s.get("type_hint", "rasterio_source") != "rasterio_source"})
    if other:
        found = RasterInput(file, where)  # its transformers (its sources' too): refused
        found.unsupported = sorted({TRANSFORMERS.get(t.get("type_hint"), str(t.get(
            "type_hint"))) for t in _nested_transformers([s for _, s in scenes])})
        found.why = f"of a {' and '.join(other)} raster source: geotile reads one image"
        if not found.unsupported:  # else refused in one line
            log.warning("%s: %s has a %s raster source, which geotile does not reproduce "
                        "(it reads the bands of one image): give --bands for the channels it "
                        "was trained on", name, where, " and ".join(other))
        found.stats_file = None
        return found
    orders = {}
    for label, source in scenes:
        order = source.get("channel_order")
        if order is not None and not (isinstance(order, list) and order and all(
                isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in order)):
            raise ModelError(f"{where}: {label} raster_source channel_order {order!r} is not "
                             "a list of 0-based band indices; fix it, or give --bands.")
        orders.setdefault(None if order is None else tuple(order), label)
    steps, unsupported, stats_file = _transformers(scenes, where, core, read, name)
    if len(orders) > 1:
        log.warning("%s: the scenes of %s have different channel_order (%s), so no bands are "
                    "chosen by default (Raster Vision's predict takes validation_scenes[0]'s): "
                    "give --bands", name, where, "; ".join(
                        f"{label} {list(order) if order is not None else None}"
                        for order, label in orders.items()))
        order = None
    else:
        order = next(iter(orders))
    # None: Raster Vision reads the bands that are no alpha, geotile's default too
    found = RasterInput(file, where, *(([i + 1 for i in order], list(order)) if order
                                        else ()))
    found.steps, found.unsupported, found.stats_file = steps, unsupported, stats_file
    if order is None:
        return found
    log.info("%s: bands %s by default (%s)", name, ",".join(map(str, found.bands)),
             found.describe().split(" (bands")[0])
    return found


def _nested_transformers(sources) -> list[dict]:
    """The raster transformers of ``sources`` (serialized raster sources) and of the
    sources they stack (a MultiRasterSource's raster_sources)."""
    found = []
    for source in sources:
        if not isinstance(source, dict):
            continue
        found += [t for t in source.get("transformers") or [] if isinstance(t, dict)]
        found += _nested_transformers(source.get("raster_sources") or [])
    return found


def _zip_reader(path: Path, archive):
    """A reader of the files of the zip ``archive`` (at ``path``) by name (None for a
    missing one)."""
    names = set(archive.namelist())

    def read(name):
        try:
            return unzipped(archive, name) if name in names else None
        except ValueError as exc:
            raise ModelError(f"{path}: {exc}; give the model's .onnx file.") from exc

    return read


def _learner_reader(model_path):
    """A reader of files by name beside the learner's bundle (an unzipped pipeline
    bundle's analyze/), for a learner-config.json's scenes."""
    return _folder_reader(Path(model_path).parent if is_bundle_zip(model_path)
                          else rv_folder(model_path))


def _folder_reader(folder: Path):
    """A reader of the files in ``folder`` by name (None for a missing one); its
    ``folder`` says where they are."""
    def read(name):
        return (folder / name).read_bytes() if (folder / name).is_file() else None

    read.folder = folder
    return read


#: Raster Vision's raster transformers (type_hint -> class name)
TRANSFORMERS = {"stats_transformer": "StatsTransformer", "cast_transformer": "CastTransformer",
                "nan_transformer": "NanTransformer", "min_max_transformer": "MinMaxTransformer",
                "reclass_transformer": "ReclassTransformer",
                "rgb_class_transformer": "RGBClassTransformer"}


def _transformers(scenes, where, core, read, name):
    """(steps, names of the transformers geotile cannot reproduce, the stats file read) of
    the scenes' raster source ``transformers``; those of validation_scenes[0], as Raster
    Vision's predict takes them, where the scenes disagree (warned of)."""
    import json

    lists = {json.dumps(s.get("transformers") or [], sort_keys=True): label
             for label, s in scenes}
    chosen = dict(scenes).get("validation_scenes[0]", scenes[0][1]).get("transformers") or []
    if len(lists) > 1:
        log.warning("%s: the scenes of %s have different raster transformers; those of %s are "
                    "reproduced, as Raster Vision's predict does", name, where,
                    "validation_scenes[0]" if "validation_scenes[0]" in dict(scenes)
                    else scenes[0][0])
    if not isinstance(chosen, list):
        raise ModelError(f"{where}: its raster_source transformers {chosen!r} is no list; "
                         "fix it.")
    steps, unsupported, stats_file = [], [], None
    for transformer in chosen:
        hint = transformer.get("type_hint") if isinstance(transformer, dict) else None
        kind = TRANSFORMERS.get(hint, str(hint))
        if hint == "stats_transformer":
            step = _stats_step(transformer, where, core, read)
            stats_file = step.file
        elif hint == "cast_transformer":
            step = _cast_step(transformer.get("to_dtype"), where)
        elif hint == "nan_transformer":
            value = transformer.get("to_value", 0.0)
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ModelError(f"{where}: its NanTransformer to_value {value!r} is no "
                                 "number; fix it.")
            step = _NanStep(float(value))
        else:
            unsupported.append(kind)
            continue
        steps.append(step)
    return steps, unsupported, stats_file


def _stats_step(transformer, where, core, read):
    """The StatsTransformer of ``transformer``: Raster Vision's Predictor reads its stats
    from the bundle's analyze/stats/<scene_group>/stats.json (update_root; stats.json at
    the bundle's root for a config of rastervision.core <= 2), a learner its stats_uri;
    needs_channel_order (set for configs of rastervision.core <= 13) takes the means and
    stds in channel_order, else they are those of the channels fed."""

    group = transformer.get("scene_group", "train_scenes")
    if isinstance(core, int) and core <= 2:
        group = "__N/A__"
    name = "stats.json" if group == "__N/A__" else f"analyze/stats/{group}/stats.json"
    text, file = read(name), name
    if text is not None and getattr(read, "folder", None) is not None:
        file = read.folder / name  # a file of its own (--resume)
    uri = transformer.get("stats_uri")
    if text is None and isinstance(uri, str) and Path(uri).is_file():
        text, file = Path(uri).read_bytes(), Path(uri)  # a file of its own (--resume)
    if text is None:
        raise ModelError(f"{where}: its raster source's StatsTransformer needs its stats "
                         f"({name}, stats_uri {uri}), which the bundle does not hold; give the "
                         "pipeline's bundle/model-bundle.zip (it holds analyze/), or put "
                         f"that stats.json at {name} beside the model.")
    stats = _parse(text, f"{where}: its {file}")
    means, stds = (stats.get(k) if isinstance(stats, dict) else None for k in ("means", "stds"))
    if not all(isinstance(v, list) and v and all(isinstance(x, int | float) and not isinstance(
            x, bool) and math.isfinite(x) for x in v) for v in (means, stds)) \
            or len(means) != len(stds):
        raise ModelError(f"{where}: its {file} holds no per-channel means and stds (lists "
                         "of numbers, one each per channel); fix it.")
    by_band = transformer.get("needs_channel_order", False) is True or (
        isinstance(core, int) and core <= 13)
    return _StatsStep(means, stds, by_band, f"{where} {file}", file)


class _StatsStep:
    """Raster Vision's StatsTransformer (core/data/raster_transformer/stats_transformer.py
    0.31.1, l.46-83), its operations in its order, in float64: z-scores clipped to
    +-3 std (max_stds, no config field), stretched to 0..255 and cast to uint8 (truncated);
    zeros stay 0; uint8 pixels pass as they are."""

    name = "StatsTransformer"
    max_stds = 3.0

    def __init__(self, means, stds, by_band: bool, where: str, file):
        self.all_means, self.all_stds, self.by_band = means, stds, by_band
        self.where, self.file = where, file
        self.means = self.stds = None

    def bind(self, indexes, source, added: int = 0, order=None) -> None:
        import numpy as np

        count = len(self.all_means)
        if self.by_band:  # needs_channel_order: the file's stats are of the raster's bands
            if max(indexes) > count:
                raise ModelError(f"{source}: band {max(indexes)} feeds the model, but "
                                 f"{self.where} holds stats of {count} bands; give --bands "
                                 f"between 1 and {count}.")
            picked = [i - 1 for i in indexes]
            if added:  # channels of --extra-bands: those bands of channel_order
                if order is None or len(order) != len(indexes) + added \
                        or max(order) >= count:
                    raise ModelError(f"{source}: {added} channel(s) of --extra-bands feed the "
                                     f"model, but {self.where} holds stats of the raster's "
                                     "bands in no channel_order that says which: give an "
                                     "image with all of the model's bands.")
                picked += list(order[len(indexes):])
            self.means = np.array(self.all_means, dtype=float)[picked]
            self.stds = np.array(self.all_stds, dtype=float)[picked]
        elif count != len(indexes) + added:
            extra = f" and {added} of --extra-bands" if added else ""
            raise ModelError(f"{source}: {len(indexes)} band(s){extra} feed the model, but "
                             f"{self.where} holds stats of {count} channels; give the "
                             "model's channels with --bands.")
        else:
            self.means = np.array(self.all_means, dtype=float)
            self.stds = np.array(self.all_stds, dtype=float)

    @staticmethod
    def out_dtype(dtype):
        import numpy as np

        return np.dtype(np.uint8)

    def __call__(self, chip, start: int = 0):
        import numpy as np

        if chip.dtype == np.uint8:
            return chip
        shape = (1, -1, 1, 1)  # (N, C, H, W): per channel
        end = start + chip.shape[1]
        nodata_mask = chip == 0
        chip = chip.astype(float)
        chip -= self.means[start:end].reshape(shape)
        with np.errstate(divide="ignore", invalid="ignore"):  # a std of 0: +-inf (NaN
            chip /= self.stds[start:end].reshape(shape)  # where x = mean), as RV's
            chip = np.clip(chip, -self.max_stds, self.max_stds, out=chip)
            chip += self.max_stds
            chip /= (2 * self.max_stds)
            chip *= 255
            chip = chip.astype(np.uint8)
        chip[nodata_mask] = 0
        return chip


def _cast_step(to_dtype, where):
    import numpy as np

    try:
        dtype = np.dtype(to_dtype)
    except TypeError as exc:
        raise ModelError(f"{where}: its CastTransformer to_dtype {to_dtype!r} is no numpy "
                         "type; fix it.") from exc
    return _CastStep(dtype)


class _CastStep:
    """Raster Vision's CastTransformer: ``chip.astype(to_dtype)``."""

    name = "CastTransformer"

    def __init__(self, dtype):
        self.dtype = dtype

    def bind(self, indexes, source, added=0, order=None) -> None:
        pass

    def out_dtype(self, dtype):
        return self.dtype

    def __call__(self, chip, start=0):
        return chip.astype(self.dtype)


class _NanStep:
    """Raster Vision's NanTransformer: NaN pixels become ``to_value`` (geotile's output is
    nodata there all the same)."""

    name = "NanTransformer"

    def __init__(self, value: float):
        self.value = value

    def bind(self, indexes, source, added=0, order=None) -> None:
        pass

    @staticmethod
    def out_dtype(dtype):
        return dtype

    def __call__(self, chip, start=0):
        import numpy as np

        if chip.dtype.kind != "f":
            return chip
        chip = chip.copy()
        chip[np.isnan(chip)] = self.value
        return chip
