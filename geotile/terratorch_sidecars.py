"""TerraTorch's Lightning CLI config beside an ONNX export of a fine-tune (Prithvi on
Sen1Floods11, HLS burn scars...): ``config.yaml`` (LightningCLI saves it beside the
checkpoint; the Hub's fine-tunes ship one, under that or another .yaml name), with
``trainer`` / ``data`` / ``model`` sections; users torch.onnx.export the task's model into
that folder (no metadata_props). Read only from the model's own folder (a link's, else that
of the file it links to), only when clearly TerraTorch's (a ``data`` or ``model`` class_path
of ``terratorch.``, or a data module of TerraTorch's by its short name), and only for what
the ONNX metadata and the other exporters' files do not declare (options override all, see
:meth:`geotile.model.OnnxModel.set_normalization`). terratorch 1.2.13:

- normalisation: the data module's ``init_args``: its dataset multiplies the bands fed by
  ``constant_scale`` (default 1; no division by a type's maximum), then ``Normalize`` takes
  ``(x - means) / stds`` per channel (datasets/generic_pixel_wise_dataset.py,
  datamodules/utils.py); no means/stds: no normalisation. Data modules that keep theirs in
  TerraTorch's source (Sen1Floods11NonGeoDataModule...), means in a text file or per
  modality are refused: give --mean and --std.
- bands (:func:`terratorch_bands`): ``dataset_bands`` name the file's bands in order,
  ``output_bands`` (a subset) those fed, in their order (``predict_*`` ones first, as
  TerraTorch's predict does); the image's band descriptions, when they carry those names,
  pick them instead (undescribed: their colour interpretation, where it names each band
  fed: BLUE, GREEN, RED of an RGB image), and an image of as many bands as output_bands is
  taken to hold them.
- class names: the task's ``class_names``.
- multi-temporal fine-tunes (``expand_temporal_dimension``, ``num_frames`` > 1: inputs
  [N, C, T, H, W]) are read when the export takes a 5-D input (its dates: the image and
  each --extra-bands, every date's bands picked and normalised alike), else refused.
- ``no_data_replace`` (the raw value TerraTorch gives nodata and NaN pixels) is not
  reproduced: geotile feeds nodata pixels as 0 after the normalisation and writes them as
  nodata, so only what they give their valid neighbours differs.
"""
from __future__ import annotations

import logging
import math
import re
from pathlib import Path

from geotile.errors import ModelError
from geotile.sidecar_files import sidecar_folder

log = logging.getLogger("geotile")

CONFIG = "config.yaml"
#: TerraTorch's data modules that a config may name without ``terratorch.datamodules.``
DATA_MODULES = {"GenericNonGeoSegmentationDataModule",
                "GenericNonGeoPixelwiseRegressionDataModule", "GenericMultiModalDataModule",
                "Sen1Floods11NonGeoDataModule", "FireScarsNonGeoDataModule",
                "MultiTemporalCropClassificationDataModule"}
_LARGEST = 1 << 20  # a config of more is no fine-tune's
#: the most bands a [first, last] interval of dataset_bands may span (GDAL's most per file)
MOST_BANDS = 65536


def _candidates(folder: Path) -> list[Path]:
    """config.yaml first, then the other .yaml / .yml files of ``folder``."""
    others = sorted(p for p in (*folder.glob("*.yaml"), *folder.glob("*.yml"))
                    if p.name != CONFIG and p.is_file())
    return [folder / CONFIG, *others]


def terratorch_folder(model_path) -> Path:
    return sidecar_folder(model_path, (CONFIG,))


def terratorch_files(model_path) -> list[Path]:
    """The YAML files beside ``model_path`` a TerraTorch config may be read from."""
    return _candidates(terratorch_folder(model_path))


def _class_path(section) -> str:
    value = section.get("class_path") if isinstance(section, dict) else None
    return value if isinstance(value, str) else ""


def _is_terratorch(config) -> bool:
    if not isinstance(config, dict):
        return False
    data, model = _class_path(config.get("data")), _class_path(config.get("model"))
    return data.startswith("terratorch.") or model.startswith("terratorch.") \
        or data in DATA_MODULES


def _read(path: Path):
    """The TerraTorch config in ``path``, else None; ModelError naming the file when one
    that mentions terratorch is no valid YAML."""
    from geotile.paddle_sidecars import read_yaml

    try:
        if not path.is_file() or path.stat().st_size > _LARGEST:
            return None
        config = read_yaml(path)
    except (ValueError, OSError) as exc:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
        if "terratorch" in text or any(name in text for name in DATA_MODULES):
            raise ModelError(f"{path}: TerraTorch's config, {exc}; fix it (or remove it), or "
                             "give --mean, --std and --scale.") from exc
        return None
    return config if _is_terratorch(config) else None


def terratorch_config(model_path):
    """(file, content) of the TerraTorch config beside ``model_path``: config.yaml, else
    the one other TerraTorch YAML there; (None, None) without one. Several that differ are
    a ModelError naming them."""
    found = [(p, c) for p in terratorch_files(model_path) if (c := _read(p)) is not None]
    if not found:
        return None, None
    if found[0][0].name == CONFIG or len(found) == 1:
        return found[0]
    if any(_used(c) != _used(found[0][1]) for _, c in found[1:]):
        raise ModelError(f"{found[0][0].parent}: TerraTorch configs "
                         f"{', '.join(p.name for p, _ in found)} differ; keep the model's "
                         f"as {CONFIG} beside it.")
    return found[0]


def _used(config):
    """What geotile reads of a config (configs that agree on it are one)."""
    return (config.get("data"), (config.get("model") or {}).get("init_args")
            if isinstance(config.get("model"), dict) else None)


def _init_args(config, section) -> dict:
    part = config.get(section)
    args = part.get("init_args") if isinstance(part, dict) else None
    return args if isinstance(args, dict) else {}


def _five_d(model_path) -> bool:
    """Whether the ONNX model at ``model_path`` takes a 5-D input (its dates on an axis)."""
    from geotile.onnx_graph import read_model

    model = read_model(model_path) if model_path is not None else None
    if model is None:
        return False
    weights = {t.name for t in model.graph.initializer}
    return any(len(i.type.tensor_type.shape.dim) == 5 for i in model.graph.input
               if i.name not in weights)


def terratorch_frames(model_path) -> tuple[int, str] | None:
    """(count, why) of the dates a multi-temporal fine-tune took: its config's model_args
    num_frames above 1, else None (its neck reshapes that many dates' tokens)."""
    path, config = terratorch_config(model_path)
    if config is None:
        return None
    model_args = _init_args(config, "model").get("model_args")
    frames = model_args.get("num_frames") if isinstance(model_args, dict) else None
    if isinstance(frames, int) and not isinstance(frames, bool) and frames > 1:
        return frames, f"{path.name} model_args num_frames {frames}"
    return None


def _multi_temporal(config, path, model_path=None) -> None:
    """ModelError for a multi-temporal fine-tune exported with a 4-D input: one of a 5-D
    input gets its dates from predict (:mod:`geotile.model_inputs`)."""
    data = _init_args(config, "data")
    model_args = _init_args(config, "model").get("model_args")
    frames = model_args.get("num_frames") if isinstance(model_args, dict) else None
    why = None
    if data.get("expand_temporal_dimension") is True:
        why = "data.init_args expand_temporal_dimension: true"
    elif isinstance(frames, int) and not isinstance(frames, bool) and frames > 1:
        why = f"model_args num_frames {frames}"
    if why and not _five_d(model_path):
        raise ModelError(f"{path}: a multi-temporal fine-tune ({why}: inputs [N, C, T, H, W] "
                         "of several dates), but its ONNX export takes a 4-D input; export "
                         "the model with its 5-D input, and predict gives it the image and "
                         "each --extra-bands as its dates.")


#: a number PyYAML's safe loader leaves a str (no dot: 1e-4), which LightningCLI's
#: jsonargparse reads as a float
_SCIENTIFIC = re.compile(r"[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+")


def _float(value):
    """``value`` with jsonargparse's floats read (a str of one, or a flat list of them);
    anything else as it is, unwalked (a value of YAML aliases stays unexpanded)."""
    if isinstance(value, str) and _SCIENTIFIC.fullmatch(value.strip()):
        return float(value.strip().replace("_", ""))
    if isinstance(value, list) and not any(isinstance(v, list | dict) for v in value):
        return [_float(v) for v in value]
    return value


def _shown(value) -> str:
    """``value`` in a message, short: a value of YAML aliases (a billion laughs) unexpanded."""
    import reprlib

    short = reprlib.Repr()
    short.maxlevel, short.maxlist, short.maxdict, short.maxstring = 2, 6, 6, 40
    return short.repr(value)


def _numbers(value):
    return isinstance(value, list) and value and all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        for v in value)


def terratorch_normalization(model_path, wanted=("mean", "std"), scale: bool = True
                             ) -> dict[str, tuple]:
    """"scale" (``constant_scale``, when ``scale``) and "mean"/"std" (those ``wanted``) ->
    (value, where) from the TerraTorch config beside ``model_path``; {} without one.
    ModelError naming the file for what geotile cannot reproduce."""
    path, config = terratorch_config(model_path)
    if config is None:
        return {}
    _multi_temporal(config, path, model_path)
    data = _init_args(config, "data")
    module = _class_path(config.get("data")).rsplit(".", 1)[-1]
    means, stds = _float(data.get("means")), _float(data.get("stds"))
    found = {}
    if scale:
        found["scale"] = _constant_scale(path, config)
    if not means or not stds:
        if not module:
            raise ModelError(f"{path}: no data module (data has no class_path: "
                             f"{_shown(config.get('data'))}), so not the means/stds the model "
                             "was trained with; give --mean and --std (and --scale: its "
                             "constant_scale) for the bands it feeds.")
        if not module.startswith("Generic"):
            raise ModelError(f"{path}: its data module {module} keeps its means/stds in "
                             f"TerraTorch's source, not in {path.name}; give --mean and "
                             "--std (and --scale: its constant_scale) for the bands it feeds.")
        for name, value in (("mean", 0.0), ("std", 1.0)):  # TerraTorch normalises nothing
            if name in wanted:
                found[name] = (value, f"{path.name} data.init_args without means/stds")
        return found
    for key, value in (("means", means), ("stds", stds)):
        if isinstance(value, dict):
            raise ModelError(f"{path}: data.init_args {key} are given per modality (a "
                             "multimodal data module); geotile feeds one image: give --mean "
                             "and --std.")
        if isinstance(value, str):
            raise ModelError(f"{path}: data.init_args {key} names a file ({value}), which "
                             "TerraTorch read at training; give --mean and --std from it.")
        if not _numbers(value):
            raise ModelError(f"{path}: data.init_args {key} {_shown(value)} is no list of numbers "
                             "(one per band fed); fix it, or give --mean and --std.")
    for name, value in (("mean", means), ("std", stds)):
        if name in wanted:
            found[name] = ([float(v) for v in value], f"{path.name} data.init_args.{name}s")
    return found


#: data modules whose constant_scale defaults to another than 1 in TerraTorch's source
_MODULE_SCALES = {"Sen1Floods11NonGeoDataModule": 0.0001}


def _constant_scale(path, config) -> tuple[float, str]:
    """(constant_scale, where) of ``config``: its data module's default when not given."""
    data = _init_args(config, "data")
    module = _class_path(config.get("data")).rsplit(".", 1)[-1]
    where = f"{path.name} data.init_args.constant_scale"
    if "constant_scale" not in data and module in _MODULE_SCALES:
        where = f"{path.name} {module}'s default constant_scale"
    constant = _float(data.get("constant_scale", _MODULE_SCALES.get(module, 1)))
    if not isinstance(constant, int | float) or isinstance(constant, bool) \
            or not math.isfinite(constant) or constant <= 0:
        raise ModelError(f"{path}: data.init_args constant_scale {_shown(constant)} is not a "
                         "number > 0; fix it, or give --scale.")
    return float(constant), where


def terratorch_scale(model_path) -> tuple[float, str] | None:
    """(constant_scale, where) of the TerraTorch config beside ``model_path``, for --mean and
    --std given without --scale (TerraTorch scales the image before any mean/std); None
    without one."""
    path, config = terratorch_config(model_path)
    if config is None:
        return None
    _multi_temporal(config, path, model_path)
    return _constant_scale(path, config)


def terratorch_class_names(model_path):
    """(names, where) from the task's ``class_names`` in the TerraTorch config beside
    ``model_path``; (None, None) without them (a broken config: said by its normalisation)."""
    try:
        path, config = terratorch_config(model_path)
    except ModelError:
        return None, None
    names = _init_args(config, "model").get("class_names") if config is not None else None
    if not names:
        return None, None
    return names, f"{path.name} model.init_args.class_names"


def terratorch_regression(model_path) -> str | None:
    """Where the TerraTorch config beside ``model_path`` says its task is a pixel-wise
    regression (PixelwiseRegressionTask, or its data module's): its model's values are
    final (no activation); None otherwise (a broken config: said by its normalisation)."""
    try:
        path, config = terratorch_config(model_path)
    except ModelError:
        return None
    if config is None:
        return None
    for section in ("model", "data"):
        name = _class_path(config.get(section)).rsplit(".", 1)[-1]
        if name in ("PixelwiseRegressionTask", "GenericNonGeoPixelwiseRegressionDataModule"):
            return f"{path.name} {section} {name}"
    return None


def _band_list(value, key, path):
    """TerraTorch's bands (names, ints, [a, b] inclusive int intervals), expanded."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise ModelError(f"{path}: data.init_args {key} {_shown(value)} is no list of bands; "
                         "fix it.")
    bands = []
    for item in value:
        if isinstance(item, list) and len(item) == 2 and all(
                isinstance(i, int) and not isinstance(i, bool) for i in item) \
                and item[0] >= 0 and item[1] - item[0] < MOST_BANDS:
            bands += list(range(item[0], item[1] + 1))
        elif isinstance(item, str | int) and not isinstance(item, bool):
            bands.append(item)
        else:
            raise ModelError(f"{path}: data.init_args {key} holds {_shown(item)}, no band name, "
                             "number or [first, last] interval; fix it.")
    return bands or None


def _key(name) -> str:
    return re.sub(r"[\s\-]+", "_", str(name).strip()).upper()


class TerraTorchBands:
    """The bands a TerraTorch config feeds its model: ``dataset`` (the file's, in order) and
    ``output`` (those fed); :meth:`bands_for` picks them in an image. No raster transformer
    steps (the constant_scale is geotile's --scale)."""

    def __init__(self, file: Path, dataset, output):
        self.file, self.dataset, self.output = file, dataset, output
        self.steps: list = []
        self.unsupported: list[str] = []
        self.stats_file = None
        self.bands = self.order = None  # no default for every image: see bands_for
        self.where = f"{file.name} data.init_args"
        self.warned = False

    def bind(self, indexes, source, added: int = 0) -> None:
        pass

    def describe(self) -> str:
        return f"{self.where} output_bands {','.join(map(str, self.output))}"

    def named_bands(self) -> list[set[str]] | None:
        """The name (:func:`~geotile.band_keys.band_key`) each band fed goes by; None where
        output_bands give numbers."""
        from geotile.band_keys import band_key

        if not all(isinstance(b, str) for b in self.output):
            return None
        return [{band_key(b)} for b in self.output]

    def bands_for(self, src, source, quiet: bool = False) -> list[int] | None:
        """The image's bands (1-based) fed: by their descriptions when they name the
        config's bands (those naming only some, each where dataset_bands put it: by
        position), else, bands undescribed, by colour interpretation where it names each
        (:func:`~geotile.band_keys.bands_by_colour`), else by position in dataset_bands,
        else (an image of as many bands
        as output_bands) all of them, warned of (``quiet``: nothing logged); ModelError
        naming ``source`` otherwise."""
        from geotile.band_keys import bands_by_colour

        name, output = Path(str(source)).name, self.output
        shown = ",".join(map(str, output))
        described = [_key(d) if d else None for d in src.descriptions]
        # only names: descriptions "1".."13" are no TerraTorch band numbers
        known = {_key(b) for b in (self.dataset or output) if isinstance(b, str)}
        if all(isinstance(b, str) for b in output) and any(d in known for d in described):
            missing = [b for b in output if described.count(_key(b)) != 1]
            in_place = self.dataset and src.count == len(self.dataset) and all(
                d not in known or d == _key(b) for d, b in zip(described, self.dataset,
                                                               strict=True))
            if missing and not in_place:  # those named where dataset_bands are: by position
                names = ", ".join(map(str, src.descriptions))
                raise ModelError(f"{source}: its band descriptions ({names}) name no single "
                                 f"band {missing[0]}, which {self.where} output_bands feed "
                                 f"the model ({shown}); give the image's bands for them with "
                                 "--bands.")
            picked = [described.index(_key(b)) + 1 for b in output] if not missing else None
            if picked:
                if not quiet:
                    log.info("%s: bands %s feed the model, by their descriptions (%s "
                             "output_bands %s)", name, ",".join(map(str, picked)),
                             self.file.name, shown)
                return picked
        if (named := self.named_bands()) and not any(src.descriptions):
            picked = bands_by_colour(src, named)
            if picked:  # BLUE, GREEN, RED of an RGB image: by colour, not position
                if not quiet:
                    log.info("%s: bands %s feed the model, by their colour interpretation (%s "
                             "output_bands %s)", name, ",".join(map(str, picked)),
                             self.file.name, shown)
                return picked
        if self.dataset and src.count == len(self.dataset):
            picked = [self.dataset.index(b) + 1 for b in output]
            if not quiet:
                log.info("%s: bands %s feed the model as %s (%s output_bands, by their position "
                         "in its dataset_bands: the image's bands are not described so)", name,
                         ",".join(map(str, picked)), shown, self.file.name)
            return picked
        if src.count == len(output):
            if self.dataset and not self.warned and not quiet:
                self.warned = True
                log.warning("%s: the image has %d bands, not the %d of %s dataset_bands: bands "
                            "1-%d are taken as its output_bands %s; give --bands if they are "
                            "not", name, src.count, len(self.dataset), self.where, src.count,
                            shown)
            return list(range(1, src.count + 1))
        listed = f"{len(self.dataset)} ({','.join(map(str, self.dataset))})" \
            if self.dataset else "none"
        raise ModelError(f"{source}: the image has {src.count} bands; {self.where} "
                         f"dataset_bands lists {listed}, of which output_bands {shown} feed "
                         f"the model: give an image of those bands, or choose {len(output)} "
                         "with --bands.")


def terratorch_bands(model_path) -> TerraTorchBands | None:
    """The bands of the TerraTorch config beside ``model_path`` (``predict_dataset_bands`` /
    ``predict_output_bands`` first); None without a config or output bands (all the image's
    bands feed the model, geotile's default too)."""
    try:
        path, config = terratorch_config(model_path)
    except ModelError:
        return None  # said by its normalisation
    if config is None:
        return None
    _multi_temporal(config, path, model_path)
    data = _init_args(config, "data")
    dataset = _band_list(data.get("predict_dataset_bands") or data.get("dataset_bands"),
                         "dataset_bands", path)
    output = _band_list(data.get("predict_output_bands") or data.get("output_bands"),
                        "output_bands", path)
    if output is None:
        if dataset is None:
            return None
        output = dataset
    if dataset is None:
        raise ModelError(f"{path}: data.init_args has output_bands but no dataset_bands (the "
                         "image's bands); fix it, or give --bands.")
    absent = [b for b in output if b not in dataset]
    if absent:
        raise ModelError(f"{path}: data.init_args output_bands holds {absent[0]}, which its "
                         f"dataset_bands ({','.join(map(str, dataset))}) do not; fix it, or "
                         "give --bands.")
    return TerraTorchBands(path, dataset, output)
