"""Esri's files with an ONNX model: its Esri Model Definition (``.emd``, JSON) beside it (the
same stem unless its ``ModelFile`` is another ONNX model there, else the one .emd of the
folder whose ``ModelFile`` names it), or the deep learning
package (``.dlpk``, a zip of the .emd, the model and a raster function) given as the model
(:func:`dlpk_onnx`). Read for what the ONNX metadata and the other exporters' files do not
declare (options override all, see :meth:`geotile.model.OnnxModel.set_normalization`), as
arcgis.learn writes it (``ArcGISModel._create_emd_template``) and its raster functions use it
(``normalize_batch`` / ``norm``):

- normalisation: ``NormalizationStats`` (a multispectral model's, stats of all the raster's
  bands, picked by ``ExtractBands``): ``(x - band_min) / (band_max - band_min)``, then minus
  ``scaled_mean_values``, over ``scaled_std_values``; fed as geotile's ``(x - mean) / std``
  of raw pixels (mean ``min + scaled_mean * range``, std ``scaled_std * range``). Without it,
  an arcgis.learn RGB model (``ArcGISLearnVersion``, ``IsMultispectral`` false) takes
  ImageNet's mean/std of 0..1 pixels (its ``norm``: raw pixels minus 255 x mean, over 255 x
  std). A model saying ``IsMultispectral`` without stats, stats without a value needed,
  ``DoNormalize`` false, a zero range are refused; an .emd of another tool without stats is
  warned of (give --mean/--std/--scale), as is one naming its own raster function (a
  ModelConfiguration or InferenceFunction .py not ArcGIS'), whose code normalises.
- task: a ModelType of no per-pixel output (ObjectDetection...) is refused; an image
  translation model's normalisation (Pix2Pix, CycleGAN: -1..1 of min/max) is asked for.
- class names: ``Classes`` ``Name`` in order, a "background" first where the model has one
  channel more (arcgis.learn's class 0); their ``Color`` colours a class output, whose
  ids are channels: Values other than them (ArcGIS writes channel k as the k-th) refused.
- bands: ``ExtractBands`` (0-based) are the default --bands.
- windows: ``ImageHeight`` (= ``ImageWidth``: the chips it was trained on) is the default
  --tile-size. ``ModelPadding`` and ``BatchSize`` are not read: ArcGIS' padding discards
  each tile's edge, geotile blends overlapping windows (--overlap); a batch size changes
  no output.
"""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path

from geotile.errors import ModelError
from geotile.sidecar_files import read_json

log = logging.getLogger("geotile")

SUFFIX = ".emd"
#: ImageNet's mean/std of 0..1 pixels (arcgis.learn's imagenet_stats)
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
#: NormalizationStats read by arcgis.learn's normalize_batch
STATS = ("band_min_values", "band_max_values", "scaled_mean_values", "scaled_std_values")
ASK = "give --mean, --std and --scale for the pixels it was trained on"
#: arcgis.learn's image translation models (-1..1 of min/max, not standardised)
TRANSLATION = {"Pix2Pix", "Pix2PixHD", "CycleGAN", "WNet_cGAN"}
#: ModelTypes of no per-pixel output (ArcGIS' Detect Objects / Classify Objects tools')
REFUSED_TYPES = {"ObjectDetection": "gives bounding boxes",
                 "ObjectClassification": "gives one class per feature of a feature class",
                 "InstanceDetection": "gives instance masks of objects"}


def is_dlpk(model_path) -> bool:
    """Whether ``model_path`` is a zip holding an .emd (an Esri deep learning package)."""
    import zipfile

    try:
        with open(model_path, "rb") as file:
            if file.read(2) != b"PK":
                return False
        with zipfile.ZipFile(model_path) as archive:
            return any(n.lower().endswith(SUFFIX) for n in archive.namelist())
    except (OSError, zipfile.BadZipFile, RuntimeError, EOFError):
        return False


def _zipped_emd(path: Path):
    """(the .emd's JSON, its member name) of the .dlpk at ``path``."""
    import zipfile

    from geotile.json_text import decoded
    from geotile.rastervision_sidecars import unzipped

    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.lower().endswith(SUFFIX))
        try:
            return json.loads(decoded(unzipped(archive, name, 1 << 24))), name  # UTF-16 too
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise ModelError(f"{path}: its {name} is not valid JSON ({exc}); fix it, or "
                             f"{ASK}.") from exc


def emd_file(model_path) -> Path | None:
    """The .emd that goes with the ONNX model at ``model_path`` (the .dlpk itself when it
    is one): <stem>.emd beside it, else the one .emd there whose ModelFile names it."""
    path = Path(model_path)
    if is_dlpk(path):
        return path
    same = path.with_suffix(SUFFIX)
    if same.is_file() and not _describes_another(same, path):
        return same
    naming = []
    for other in sorted(path.parent.glob("*" + SUFFIX)):
        try:
            doc = read_json(other)
        except ValueError:
            continue
        if isinstance(doc, dict) and _model_file(doc) == path.name:
            naming.append(other)
    return naming[0] if len(naming) == 1 else None


def _model_file(doc) -> str:
    """The file name of a .emd's ModelFile (a folder before it, / or \\, left out)."""
    return str(doc.get("ModelFile") or "").replace("\\", "/").rsplit("/", 1)[-1] if \
        isinstance(doc, dict) else ""


def _describes_another(emd: Path, path: Path) -> bool:
    """Whether ``emd`` (of the stem of ``path``) names another ONNX model beside it as its
    ModelFile: that model's, not this one's."""
    try:
        model = _model_file(read_json(emd))
    except ValueError:
        return False
    return model.lower().endswith(".onnx") and model != path.name and (
        path.parent / model).is_file()


def esri_emd(model_path):
    """(the .emd's JSON, the file read, its name in messages) for ``model_path``; (None,
    None, "") without one. ModelError naming it when it is no JSON object."""
    file = emd_file(model_path)
    if file is None:
        return None, None, ""
    if file == Path(model_path) and file.suffix.lower() != SUFFIX:
        doc, name = _zipped_emd(file)
        shown = Path(name).name
    else:
        try:
            doc = read_json(file)
        except ValueError as exc:
            raise ModelError(f"{file}: {exc}; fix it (or remove it), or {ASK}.") from exc
        shown = file.name
    if not isinstance(doc, dict):
        raise ModelError(f"{file}: holds no JSON object (an Esri model definition); fix it "
                         f"(or remove it), or {ASK}.")
    return doc, file, shown


def esri_task(model_path) -> None:
    """ModelError naming the .emd with ``model_path`` whose ModelType gives no per-pixel
    output (:data:`REFUSED_TYPES`); ImageClassification (arcgis.learn's pixel classifiers),
    ClassifyPixels and the others run. A broken .emd: its normalisation says why."""
    try:
        doc, file, name = esri_emd(model_path)
    except ModelError:
        return
    kind = doc.get("ModelType") if doc is not None else None
    why = REFUSED_TYPES.get(kind) if isinstance(kind, str) else None
    if why:
        where = str(file) if name == file.name else f"{file}: its {name}"
        raise ModelError(f"{where}: ModelType {kind}: the model {why}, not a per-pixel map; "
                         "geotile predicts segmentation and per-pixel regression: run it "
                         "with ArcGIS (or its own framework).")


def _extract_bands(doc, file, count: int | None):
    """ExtractBands (0-based ints, each below ``count`` when given), None without them."""
    bands = doc.get("ExtractBands")
    if bands is None:
        return None
    if not isinstance(bands, list) or not bands or not all(
            isinstance(b, int) and not isinstance(b, bool) and b >= 0 for b in bands):
        raise ModelError(f"{file}: ExtractBands {bands!r} is not a list of band indexes "
                         "(0-based); fix it, or give --bands.")
    if count is not None and max(bands) >= count:
        raise ModelError(f"{file}: ExtractBands {bands} picks band index {max(bands)}, but "
                         f"its NormalizationStats hold stats of {count} bands; fix it, or "
                         f"{ASK}.")
    return bands


def _numbers(stats, key, file):
    value = stats.get(key)
    if not isinstance(value, list) or not value or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in value):
        raise ModelError(f"{file}: NormalizationStats {key} is {json.dumps(value)[:40]}, not "
                         f"a list of numbers (one per band); fix it, or {ASK}.")
    return [float(v) for v in value]


def _custom_function(doc) -> str | None:
    """'key file.py' of an .emd whose ModelConfiguration or InferenceFunction is a Python file
    of its author's (a custom raster function), not one of ArcGIS' (ArcGIS*.py); else None."""
    for key in ("ModelConfiguration", "InferenceFunction"):
        file = _function(doc.get(key))
        if file and not file.startswith("ArcGIS"):
            return f"{key} {file}"
    return None


def _function(value) -> str | None:
    """The file name of a raster function an .emd names (``[Functions]System\\...\\x.py``,
    a path or a name); None unless a .py."""
    if not isinstance(value, str) or not value.lower().endswith(".py"):
        return None
    return value.replace("\\", "/").rsplit("/", 1)[-1]


def esri_normalization(model_path, wanted=("mean", "std"), scale: bool = True
                       ) -> dict[str, tuple]:
    """"scale" (when ``scale``) and "mean"/"std" (those ``wanted``) -> (value, where) of the
    .emd with ``model_path`` (see the module docstring); {} without one, or with another
    tool's .emd that declares none (warned of). ModelError naming the key that cannot be
    read unambiguously."""
    doc, file, name = esri_emd(model_path)
    if doc is None:
        return {}
    kind = doc.get("ModelType")
    if kind in TRANSLATION or "NormalizationStats_b" in doc or _function(
            doc.get("InferenceFunction")) == "ArcGISImageTranslation.py":
        shown = f"ModelType {kind}" if isinstance(kind, str) else "NormalizationStats_b"
        raise ModelError(f"{file}: {shown}, an image translation model: ArcGIS scales its "
                         f"pixels to -1..1 of NormalizationStats' min/max (the other "
                         f"direction's by NormalizationStats_b), not to their scaled mean/std; "
                         f"{ASK}.")
    stats = doc.get("NormalizationStats")
    found = {}
    if stats is None:
        if doc.get("IsMultispectral") is True:
            raise ModelError(f"{file}: IsMultispectral is true but it has no "
                             f"NormalizationStats (arcgis.learn's multispectral scaling); "
                             f"{ASK}.")
        if "ArcGISLearnVersion" not in doc:
            log.warning("%s: its %s has no NormalizationStats and is not arcgis.learn's (no "
                        "ArcGISLearnVersion): its normalisation is not known; give --mean, "
                        "--std and --scale", Path(model_path).name, name)
            return {}
        custom = _custom_function(doc)
        if custom:
            log.warning("%s: its %s has no NormalizationStats and names its own raster "
                        "function (%s), which normalises as its code says, not known here; "
                        "give --mean, --std and --scale", Path(model_path).name, name, custom)
            return {}
        where = f"{name} ImageNet mean/std of 0..1 pixels (arcgis.learn RGB model)"
        if scale:
            found["scale"] = (1.0, where)
        for key, values in zip(("mean", "std"), IMAGENET, strict=True):
            if key in wanted:
                found[key] = ([255 * v for v in values], where)
        return found
    if not isinstance(stats, dict):
        raise ModelError(f"{file}: NormalizationStats is no object of band stats; fix it, or "
                         f"{ASK}.")
    if doc.get("DoNormalize") is False:
        raise ModelError(f"{file}: DoNormalize is false, which arcgis.learn's inference does "
                         f"not read the same way everywhere; {ASK}.")
    low, high, mean, std = (_numbers(stats, key, file) for key in STATS)
    if len({len(low), len(high), len(mean), len(std)}) > 1:
        raise ModelError(f"{file}: NormalizationStats {', '.join(STATS)} hold different "
                         f"counts of bands; fix it, or {ASK}.")
    bands = _extract_bands(doc, file, len(low)) or list(range(len(low)))
    spans = [high[b] - low[b] for b in bands]
    if any(span <= 0 for span in spans):
        band = bands[next(i for i, s in enumerate(spans) if s <= 0)]
        raise ModelError(f"{file}: NormalizationStats band_min_values and band_max_values "
                         f"of band index {band} leave no range ({low[band]:g} to "
                         f"{high[band]:g}); fix it, or {ASK}.")
    where = f"{name} NormalizationStats (min/max, then scaled mean/std)"
    if scale:
        found["scale"] = (1.0, where)
    if "mean" in wanted:
        found["mean"] = ([low[b] + mean[b] * s for b, s in zip(bands, spans, strict=True)],
                         where)
    if "std" in wanted:
        found["std"] = ([std[b] * s for b, s in zip(bands, spans, strict=True)], where)
    return found


def esri_class_names(model_path, channels: int | None = None):
    """(names, where) from the .emd's Classes (a "background" first where the model has one
    channel more and no class is Value 0); (None, None) without them."""
    try:
        doc, _, name = esri_emd(model_path)
    except ModelError:
        return None, None  # its normalisation says why
    classes = doc.get("Classes") if doc is not None else None
    if not isinstance(classes, list) or not classes or not all(
            isinstance(c, dict) and "Name" in c for c in classes):
        return None, None
    names = [str(c["Name"]) for c in classes]
    if channels == len(names) + 1 and all(c.get("Value") != 0 for c in classes):
        names = ["background", *names]
    return names, f"{name} Classes"


def esri_class_ids(model_path, names: list[str]) -> None:
    """ModelError naming the .emd with ``model_path`` whose Classes Values are not the ids
    of a class raster of ``names`` (its channels): arcgis.learn's raster function writes
    channel k as the k-th Value (background 0 first where the model has one channel more),
    geotile's class raster numbers channels 0..K-1."""
    try:
        doc, file, name = esri_emd(model_path)
    except ModelError:
        return
    classes = doc.get("Classes") if doc is not None else None
    if not isinstance(classes, list) or not classes or len(names) not in (
            len(classes), len(classes) + 1):
        return
    values = [c.get("Value") if isinstance(c, dict) else None for c in classes]
    ids = [0, *values] if len(names) == len(classes) + 1 else values
    if ids == list(range(len(names))):
        return
    where = str(file) if name == file.name else f"{file}: its {name}"
    shown = ", ".join(json.dumps(v) for v in values)
    first = len(names) - len(classes)  # 1 where background is the model's channel 0
    raise ModelError(f"{where}: its Classes Values {shown} are the ids ArcGIS writes for the "
                     f"model's channels, and a class raster of geotile's holds "
                     f"0..{len(names) - 1}: write probabilities (--output-type probability) "
                     f"and reclassify them, or number the Classes {first}..{len(names) - 1} in "
                     f"{name}.")


def esri_tile_size(model_path) -> int | None:
    """The .emd's ImageHeight (px) when ImageWidth is the same or absent, said with -v;
    None without it, or for one too small for predict's windows (warned of)."""
    from geotile.streaming import MIN_TILE_SIZE

    try:
        doc, _, name = esri_emd(model_path)
    except ModelError:
        return None  # its normalisation says why
    height = doc.get("ImageHeight") if doc is not None else None
    if not isinstance(height, int) or isinstance(height, bool) or doc.get(
            "ImageWidth", height) != height:
        return None
    if height < MIN_TILE_SIZE:
        log.warning("%s: its %s ImageHeight says %d px chips, smaller than any window predict "
                    "feeds (%d px): default windows used (give --tile-size to choose)",
                    Path(model_path).name, name, height, MIN_TILE_SIZE)
        return None
    log.info("%s: %d px windows, as %s ImageHeight says", Path(model_path).name, height, name)
    return height


def esri_colours(model_path, names: list[str]) -> dict[int, tuple[int, int, int, int]] | None:
    """Channel -> RGBA of the .emd's Classes' Color [r, g, b] when its Classes named the
    bands ``names`` (a background first keeps geotile's colour); None otherwise, or unless
    every class has a colour of 3 values 0..255."""
    from geotile.categories import class_colours

    found, _ = esri_class_names(model_path, len(names))
    if found != names:
        return None
    try:
        classes = esri_emd(model_path)[0]["Classes"]
    except ModelError:
        return None
    colours = [c.get("Color") for c in classes]
    if not all(isinstance(c, list) and len(c) == 3 and all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in c)
            for c in colours):
        return None
    table = class_colours(len(names), names)
    first = len(names) - len(colours)
    table.update({first + i: (*c, 255) for i, c in enumerate(colours)})
    return table


class EsriBands:
    """The bands an .emd's ExtractBands feed the model (1-based: :attr:`bands`); no raster
    transformer steps."""

    def __init__(self, file: Path, name: str, bands: list[int]):
        self.file, self.bands = file, bands
        self.steps: list = []
        self.unsupported: list[str] = []
        self.stats_file = None
        self.where = f"{name} ExtractBands"

    def bind(self, indexes, source, added: int = 0) -> None:
        pass

    def describe(self) -> str:
        return f"{self.where} {[b - 1 for b in self.bands]}"


def esri_bands(model_path) -> EsriBands | None:
    """The bands of the .emd with ``model_path`` (ExtractBands), None without them."""
    try:
        doc, file, name = esri_emd(model_path)
    except ModelError:
        return None  # its normalisation says why
    if doc is None:
        return None
    bands = _extract_bands(doc, file, None)
    if bands is None:
        return None
    found = EsriBands(file, name, [b + 1 for b in bands])
    log.info("%s: bands %s feed it (%s)", Path(model_path).name,
             ",".join(map(str, found.bands)), found.describe())
    return found


def esri_files(model_path) -> list[Path]:
    """Esri's file read with ``model_path``: its .emd, or the .dlpk given."""
    file = emd_file(model_path)
    return [file] if file is not None else []


def dlpk_onnx(model_path) -> bytes:
    """The ONNX model of the .dlpk at ``model_path`` (its .emd's ModelFile), read in memory;
    ModelError with the line of :func:`geotile.model_formats.not_onnx` when it holds none,
    or one whose weights lie in external files."""
    import zipfile

    from geotile.model_formats import esri_line
    from geotile.onnx_graph import external_locations, read_model
    from geotile.rastervision_sidecars import unzipped

    path = Path(model_path)
    doc, _, _ = esri_emd(path)
    refused = f"{path}: " + esri_line(doc)
    model = str(doc.get("ModelFile") or "")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        member = next((n for n in names if n == model or Path(n).name == Path(model).name),
                      None)
        if member is None or not member.lower().endswith(".onnx"):
            raise ModelError(refused)
        try:
            data = unzipped(archive, member)
        except ValueError as exc:
            raise ModelError(f"{path}: {exc}; unzip it and give {member}.") from exc
    parsed = read_model(path, data)
    if parsed is not None and external_locations(parsed.graph):
        raise ModelError(refused)
    return data
