"""STAC Machine Learning Model (MLM) extension items (github.com/stac-extensions/mlm v1.5,
read as its README defines them; TorchGeo, CRIM, the Planetary Computer publish such items):
the JSON item whose asset of role ``mlm:model`` and ``mlm:artifact_type`` ``onnx`` is the
model, its href relative to the item. ``geotile predict item.json`` runs that asset
(:func:`mlm_model_file`); a model with an item beside it (in its folder, its href resolving
to the model) reads it as the other exporters' files, and the options and the model's
metadata override it (:class:`geotile.model.OnnxModel`). From ``properties``:

- ``mlm:input`` (one: geotile feeds one image): ``bands`` name the bands fed, picked by the
  image's band descriptions where they name them (B04 as B4, GDAL's "B4, central ...", the
  common names of the item's band objects), else, bands undescribed, by their colour
  interpretation where it names each (blue, green, red: a model trained on B,G,R), else by
  position (as many bands; bands named twice, two dates, go by position only);
  ``input.shape`` / ``dim_order`` are checked against the model's channels;
  ``dim_order`` sets the layout (NCHW or NHWC; a batch axis first or none; a time axis or
  other refused), its fixed height/width the default tile size (:func:`mlm_structure`;
  the model's metadata and --tile-size override, warned of), a float ``data_type`` for an
  integer model is refused; band objects' ``nodata`` the image does not declare are warned
  of. Left as they are: band ``scale``/``offset`` (they describe the source's values, which
  value_scaling is of: the spec's examples scale raw DN), ``resize_type`` (windows are cut
  at the input's size), the batch and ``mlm:batch_size_suggestion`` (no pixel changes).
  ``value_scaling`` (one object per band, or one for all) is applied per band as the spec
  defines each type: ``min-max`` (x - minimum) / (maximum - minimum), ``z-score``
  (x - mean) / stddev, ``offset`` x - value, ``scale`` x / value (geotile's mean/std, on
  the raw pixels: --scale 1), ``clip``, ``clip-min``, ``clip-max`` (a step on the raw pixels,
  :class:`MlmInput`), ``null`` none. Items of v1.0-1.3 give ``norm_type`` (``z-score``,
  ``min-max``, ``clip``: x / norm_clip clipped to 0..1) with ``statistics`` (one per band
  when ``norm_by_channel``). ``processing`` scalings, a ``pre_processing_function`` and band
  ``expression``s are code geotile cannot run: refused unless options replace them.
- ``mlm:output``: a ``post_processing_function`` or band ``expression``s are refused unless
  --activation says how the outputs are read. ``classification:classes`` (the spec's
  examples: ``classification_classes``) name the classes. geotile numbers its class raster by
  the model's channel, 0..K-1: classes whose ``value`` are 0..K-1 name those channels by
  value; other values are taken in the item's order, warned of; classes marked ``nodata``
  are left out where the others are as many as the model's channels; ``color_hint``
  (RRGGBB, or [r, g, b]) colours them. ``regression`` (and other non-class) tasks are written
  raw; scene classification and detection are refused.
"""
from __future__ import annotations

import copy
import functools
import logging
import math
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

from geotile.band_keys import band_key, bands_by_colour
from geotile.errors import ModelError

log = logging.getLogger("geotile")

_LARGEST = 1 << 20  # an item of more is no model's description
_MOST_ITEMS = 64  # JSON files of a model's folder read in search of its item
#: tasks whose outputs are values, written raw (no activation)
RAW_TASKS = {"regression", "super-resolution", "downscaling", "generative",
             "similarity-search"}
#: tasks geotile cannot write as a raster of per-pixel values
REFUSED_TASKS = {"scene-classification": "gives one label per scene",
                 "object-detection": "gives bounding boxes",
                 "detection": "gives detections", "image-captioning": "gives text"}
SCALINGS = ("min-max", "z-score", "clip", "clip-min", "clip-max", "offset", "scale",
            "processing")


def _remote(href: str) -> bool:
    scheme = urlparse(href).scheme
    return len(scheme) > 1 and scheme != "file"  # "C:" is a drive


def _href_path(href: str, item_path: Path) -> Path:
    if href.startswith("file:"):
        href = unquote(urlparse(href).path)
    return item_path.parent / href


def _read(path: Path, strict: bool, short_is_item: bool = False):
    """The MLM item in ``path``, else None; ModelError naming it when ``strict`` (or it may
    be an item: :func:`_may_be_item`, ``short_is_item``) and it cannot be read."""
    from geotile.sidecar_files import read_json

    try:
        if not path.is_file():
            if strict:
                raise ModelError(f"{path}: no such item file. Check the path.")
            return None
        if path.stat().st_size > _LARGEST:
            if strict:
                raise ModelError(f"{path}: {path.stat().st_size} bytes, more than an MLM item "
                                 f"holds ({_LARGEST}); give the model's item.")
            return None
        item = read_json(path)
    except (ValueError, OSError) as exc:
        try:
            mentions = strict or _may_be_item(path.read_bytes()[:_LARGEST], short_is_item)
        except OSError:
            mentions = strict
        if mentions:
            raise ModelError(f"{path}: an MLM item, {exc} (cut short, or still being "
                             "written?); wait until it is written, or fix it (or remove it)."
                             ) from exc
        return None
    props = item.get("properties") if isinstance(item, dict) else None
    if not isinstance(props, dict) or "mlm:input" not in props:
        if strict and isinstance(item, dict) and item.get("type") == "Collection":
            raise ModelError(f"{path}: a STAC Collection, whose item_assets name no model "
                             "file (MLM's mlm:input is an item's); give one of its items, or "
                             "the .onnx model.")
        if strict:
            raise ModelError(f"{path}: no STAC item with properties mlm:input (the MLM "
                             "extension); give an MLM item or the .onnx model.")
        return None
    return item


def _read_beside(path: Path, short_is_item: bool):
    """:func:`_read` of a JSON file beside a model (not strict), parsed once per version of
    the file (device, inode, size, mtime, ctime): the normalisation, class names, input,
    tasks and post-processing each look for the model's item, one folder scan apiece."""
    import stat

    try:
        info = path.stat()
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    item = _read_version(str(path), (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns,
                                     info.st_ctime_ns), short_is_item)
    return None if item is None else copy.deepcopy(item)


@functools.lru_cache(maxsize=_MOST_ITEMS)
def _read_version(path: str, version: tuple, short_is_item: bool):
    """_read(path) of one ``version`` of the file (a ModelError is not kept: said again)."""
    return _read(Path(path), strict=False, short_is_item=short_is_item)


#: the start of an unreadable JSON file too short to tell from an MLM item being written
_TOO_SHORT_TO_TELL = 64


def _may_be_item(data: bytes, short_is_item: bool) -> bool:
    """Whether an unreadable JSON file beside a model may be its MLM item, cut short or
    still being written: it names STAC or MLM (a STAC item's first bytes do), or, where
    ``short_is_item`` (a file no other exporter's reader takes), holds too little to tell
    (an empty file, '{"st')."""
    return (short_is_item and len(data.strip()) < _TOO_SHORT_TO_TELL) or \
        re.search(rb"(?i)stac|mlm", data) is not None


def _model_assets(item) -> list[tuple[str, dict]]:
    assets = item.get("assets")
    if not isinstance(assets, dict):
        return []
    return [(k, a) for k, a in assets.items() if isinstance(a, dict) and isinstance(
        a.get("roles"), list) and "mlm:model" in a["roles"]]


def _is_onnx(asset) -> bool:
    kind = asset.get("mlm:artifact_type")
    href = asset.get("href")
    return (isinstance(kind, str) and kind.strip().lower() == "onnx") or (
        kind is None and isinstance(href, str) and href.lower().endswith(".onnx"))


def mlm_model_file(item_path) -> Path:
    """The local ONNX model the MLM item at ``item_path`` names (its ``mlm:model`` asset of
    artifact type onnx, href relative to the item); ModelError in one line otherwise."""
    path = Path(item_path)
    item = _read(path, strict=True)
    assets = _model_assets(item)
    if not assets:
        raise ModelError(f"{path}: no asset with role mlm:model; add the model's asset (href, "
                         "mlm:artifact_type onnx) or give the .onnx file.")
    onnx = [(k, a) for k, a in assets if _is_onnx(a)]
    if not onnx:
        kinds = ", ".join(f"{k} ({a.get('mlm:artifact_type')!s:.40})" for k, a in assets[:4])
        raise ModelError(f"{path}: its mlm:model asset(s) {kinds} are no ONNX model; geotile "
                         "runs ONNX: export the model to ONNX (torch.onnx.export) and give "
                         "that .onnx file (or add it as an asset of mlm:artifact_type onnx).")
    if len(onnx) > 1:
        raise ModelError(f"{path}: several ONNX mlm:model assets "
                         f"({', '.join(k for k, _ in onnx[:4])}); give the .onnx file to run.")
    key, asset = onnx[0]
    href = asset.get("href")
    if not isinstance(href, str) or not href.strip():
        raise ModelError(f"{path}: asset {key} has no href; fix the item or give the .onnx.")
    if _remote(href):
        raise ModelError(f"{path}: asset {key} is remote ({href:.200}); download it (e.g. "
                         "`curl -O`) beside the item and set its href to the file's name, or "
                         "give the downloaded .onnx file.")
    model = _href_path(href, path)
    if not model.is_file():
        raise ModelError(f"{path}: asset {key} href {href:.200} names {model}, which does "
                         "not exist; download the model there or fix the href.")
    if not _same(model.parent, path.parent):  # read beside the model: never left unread
        raise ModelError(f"{path}: asset {key} is {model}, in another folder; keep the item "
                         "in the model's folder (its href the model's file name).")
    return model


def _same(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def mlm_files(model_path) -> list[Path]:
    """The JSON files beside ``model_path`` its MLM item may be read from."""
    folder = Path(model_path).parent
    try:
        return sorted(folder.glob("*.json"))[:_MOST_ITEMS]
    except OSError:
        return []


def _mlm(item) -> dict:
    """What geotile reads of an item: its mlm: properties and band objects."""
    return {"properties": {k: v for k, v in item["properties"].items() if k.startswith(
        "mlm:") or k in ("bands", "eo:bands", "raster:bands")},
        "assets": [{k: v for k, v in a.items() if k.endswith("bands")}
                   for _, a in _model_assets(item)]}


def mlm_item(model_path):
    """(file, item) of the MLM item beside ``model_path`` whose ONNX mlm:model asset is that
    model; (None, None) without one. Several whose mlm: fields differ are a ModelError
    naming them."""
    from geotile.exporter_files import named_sidecar_paths

    found = []
    others = {p.name for p in named_sidecar_paths(model_path)}
    for path in mlm_files(model_path):
        item = _read_beside(path, short_is_item=path.name not in others)
        if item is None:
            continue
        for _, asset in _model_assets(item):
            href = asset.get("href")
            if _is_onnx(asset) and isinstance(href, str) and not _remote(href) \
                    and _same(_href_path(href, path), Path(model_path)):
                found.append((path, item))
                break
    if len(found) > 1 and any(_mlm(i) != _mlm(found[0][1]) for _, i in found):
        raise ModelError(f"{Path(model_path).parent}: MLM items "
                         f"{', '.join(p.name for p, _ in found[:4])} describe "
                         f"{Path(model_path).name} differently; keep one.")
    return found[0] if found else (None, None)


def _shown(value) -> str:
    import reprlib

    short = reprlib.Repr()
    short.maxlevel, short.maxlist, short.maxdict, short.maxstring = 2, 4, 4, 40
    return short.repr(value)


def _input(item, path: Path) -> dict:
    """The item's one mlm:input object."""
    inputs = item["properties"]["mlm:input"]
    if not isinstance(inputs, list) or not inputs or not isinstance(inputs[0], dict):
        raise ModelError(f"{path}: mlm:input {_shown(inputs)} is no list of input objects; "
                         "fix the item.")
    if len(inputs) > 1:
        raise ModelError(f"{path}: mlm:input describes {len(inputs)} inputs; geotile feeds the "
                         "model one image: give the .onnx with --mean/--std/--bands instead.")
    return inputs[0]


def _number(value, what: str, path: Path, nonzero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value) or (nonzero and value == 0):
        kind = "a number other than 0" if nonzero else "a finite number"
        raise ModelError(f"{path}: mlm:input {what} {_shown(value)} is not {kind}; fix the "
                         "item, or give --mean, --std and --scale.")
    return float(value)


def _bands(spec, path: Path) -> list | None:
    """The input's bands: names, or dicts of a band with an expression."""
    bands = spec.get("bands")
    if bands in (None, []):
        return None
    if not isinstance(bands, list) or not all(
            isinstance(b, str) or (isinstance(b, dict) and isinstance(b.get("name"), str))
            for b in bands):
        raise ModelError(f"{path}: mlm:input bands {_shown(bands)} are no list of band names "
                         "(or objects with a name); fix the item, or give --bands.")
    return bands


def _channels(spec, path: Path) -> int | None:
    """The channels of the input's shape (its bands/channel dimension), None when variable."""
    structure = spec.get("input")
    if structure is None:
        return None
    shape = structure.get("shape") if isinstance(structure, dict) else None
    order = structure.get("dim_order") if isinstance(structure, dict) else None
    if not isinstance(shape, list) or not isinstance(order, list) or len(shape) != len(order) \
            or not all(isinstance(s, int) and not isinstance(s, bool) and (s > 0 or s == -1)
                       for s in shape):
        raise ModelError(f"{path}: mlm:input input {_shown(structure)} has no shape of "
                         "integers (> 0, or -1) matching its dim_order; fix the item.")
    for name in ("bands", "channel", "channels"):
        if name in order:
            size = shape[order.index(name)]
            return size if size > 0 else None
    return None


def _per_band(path: Path, spec, count: int | None):
    """(means, stds, (lows, highs)) per band of the input's value_scaling (v1.4+), or of
    its norm_type and statistics (v1.0-1.3); None without any."""
    scaling = spec.get("value_scaling")
    if scaling is None and spec.get("norm_type") is not None:
        return _legacy(path, spec, count)
    if scaling is None:
        return None
    if not isinstance(scaling, list) or not scaling or not all(
            isinstance(s, dict) for s in scaling):
        raise ModelError(f"{path}: mlm:input value_scaling {_shown(scaling)} is no list of "
                         "value scaling objects; fix the item, or give --mean and --std.")
    if count is not None and len(scaling) not in (1, count):
        raise ModelError(f"{path}: mlm:input value_scaling has {len(scaling)} objects for "
                         f"{count} bands (one for all, or one per band); fix the item.")
    means, stds, lows, highs = [], [], [], []
    for index, step in enumerate(scaling):
        kind = step.get("type")
        what = f"value_scaling[{index}]"
        mean, std, low, high = 0.0, 1.0, -math.inf, math.inf
        if kind == "min-max":
            low_, high_ = (_number(step.get(k), f"{what} {k}", path) for k in ("minimum",
                                                                                "maximum"))
            mean, std = low_, _number(high_ - low_, f"{what} maximum - minimum", path, True)
        elif kind == "z-score":
            mean = _number(step.get("mean"), f"{what} mean", path)
            std = _number(step.get("stddev"), f"{what} stddev", path, True)
        elif kind in ("clip", "clip-min", "clip-max"):
            if kind != "clip-max":
                low = _number(step.get("minimum"), f"{what} minimum", path)
            if kind != "clip-min":
                high = _number(step.get("maximum"), f"{what} maximum", path)
            if low > high:
                raise ModelError(f"{path}: mlm:input {what} clip minimum {low:g} is above its "
                                 f"maximum {high:g}; fix the item.")
        elif kind == "offset":
            mean = _number(step.get("value"), f"{what} value", path)
        elif kind == "scale":
            std = _number(step.get("value"), f"{what} value", path, True)
        elif kind == "processing":
            raise _code(path, f"{what} is a processing expression "
                        f"({_shown(step.get('format'))}: {_shown(step.get('expression'))})")
        elif kind is not None:
            hint = str(kind).replace("_", "-").lower()
            fix = f" (the spec's name is {hint})" if hint in SCALINGS else ""
            raise ModelError(f"{path}: mlm:input {what} type {_shown(kind)} is none of the "
                             f"MLM value scalings ({', '.join(SCALINGS)}){fix}; fix the item.")
        means.append(mean), stds.append(std), lows.append(low), highs.append(high)
    return means, stds, (lows, highs)


def _legacy(path: Path, spec, count: int | None):
    """MLM v1.0-1.3's norm_type with statistics (per band when norm_by_channel) and
    norm_clip: z-score, min-max, clip (x / norm_clip, clipped to 0..1)."""
    kind = spec.get("norm_type")
    if kind == "clip":
        clips = spec.get("norm_clip")
        if not isinstance(clips, list) or not clips:
            raise ModelError(f"{path}: mlm:input norm_type clip without norm_clip values; fix "
                             "the item, or give --mean, --std and --scale.")
        values = [_number(c, "norm_clip", path, True) for c in clips]
        return [0.0] * len(values), values, ([0.0] * len(values), values)
    if kind not in ("z-score", "min-max"):
        raise _code(path, f"norm_type {_shown(kind)} (v1.0-1.3) is no per-pixel scaling "
                    "geotile reproduces (z-score, min-max and clip are)")
    stats = spec.get("statistics")
    if not isinstance(stats, list) or not stats or not all(isinstance(s, dict) for s in stats):
        raise ModelError(f"{path}: mlm:input norm_type {kind} without statistics objects; fix "
                         "the item, or give --mean and --std.")
    if count is not None and len(stats) not in (1, count):
        raise ModelError(f"{path}: mlm:input statistics has {len(stats)} objects for {count} "
                         "bands (one for all, or one per band: norm_by_channel); fix the item.")
    keys = ("mean", "stddev") if kind == "z-score" else ("minimum", "maximum")
    pairs = [[_number(s.get(k), f"statistics {k}", path) for k in keys] for s in stats]
    means = [a for a, _ in pairs]
    stds = [_number(b if kind == "z-score" else b - a, "statistics " + (
        "stddev" if kind == "z-score" else "maximum - minimum"), path, True) for a, b in pairs]
    return means, stds, ([-math.inf] * len(means), [math.inf] * len(means))


def _code(path: Path, what: str) -> ModelError:
    return ModelError(f"{path}: mlm:input {what}, code geotile cannot run; give the scaling "
                      "it does with --mean, --std and --scale (or --bands for band "
                      "expressions).")


def _where(path: Path, spec) -> str:
    return f"{path.name} mlm:input " + (
        "value_scaling" if spec.get("value_scaling") is not None else "norm_type")


def mlm_normalization(model_path, wanted=("mean", "std"), scale: bool = True
                      ) -> dict[str, tuple]:
    """"scale" (1: value_scaling is of the raw pixels; when ``scale``) and "mean"/"std"
    (those ``wanted``) -> (value, where) of the MLM item beside ``model_path``; {} without
    one. Its clips are :class:`MlmInput`'s. ModelError naming the item for what geotile
    cannot reproduce (unless --scale is given)."""
    path, item = mlm_item(model_path)
    if item is None:
        return {}
    spec = _input(item, path)
    bands = _bands(spec, path)
    count = len(bands) if bands else _channels(spec, path)
    if spec.get("pre_processing_function") is not None and scale:
        raise _code(path, f"has a pre_processing_function "
                          f"({_shown(spec['pre_processing_function'])})")
    try:
        found = _per_band(path, spec, count)
    except ModelError:
        if scale:
            raise
        return {}  # --scale given: the user says what the pixels are
    where = _where(path, spec)
    if found is None:
        found, where = ([0.0], [1.0], None), f"{path.name} mlm:input without value_scaling"
    declared = {"scale": (1.0, where)} if scale else {}
    for name, values in (("mean", found[0]), ("std", found[1])):
        if name in wanted:
            declared[name] = (list(values), where)
    return declared


def mlm_class_names(model_path, channels: int | None = None):
    """(names, where) of the MLM item's classification:classes beside ``model_path``, in
    channel order (:func:`_in_channel_order`); (None, None) without them (a broken item:
    said by its normalisation)."""
    try:
        path, item = mlm_item(model_path)
    except ModelError:
        return None, None
    if item is None:
        return None, None
    classes = _classes(item)
    if not classes:
        return None, None
    classes, by_value = _in_channel_order(classes, channels)
    names = [c.get("name") if isinstance(c, dict) else None for c in classes]
    if not all(isinstance(n, str) and n for n in names):
        return names, f"{path.name} mlm:output classification:classes"  # warned of: no names
    if not by_value:
        values = [c.get("value") for c in classes]
        log.warning("%s: its classification:classes values %s are not 0..%d: geotile numbers "
                    "its class raster by the model's channel (0..%d), the classes named in "
                    "the item's order", path.name, _shown(values), len(values) - 1,
                    len(values) - 1)
    return names, f"{path.name} mlm:output classification:classes"


def _outputs(item) -> list[dict]:
    outputs = item["properties"].get("mlm:output")
    return [o for o in outputs if isinstance(o, dict)] if isinstance(outputs, list) else []


def _classes(item) -> list | None:
    """The first output's class objects: classification:classes, or as the spec's examples
    and stac-model spell it, classification_classes or classes."""
    for output in _outputs(item):
        for key in ("classification:classes", "classification_classes", "classes"):
            classes = output.get(key)
            if isinstance(classes, list) and classes:
                return classes
    return None


def _value(cls) -> int | None:
    value = cls.get("value") if isinstance(cls, dict) else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _in_channel_order(classes: list, channels: int | None) -> tuple[list, bool]:
    """(classes, whether by value): those marked nodata left out when the others are the
    model's ``channels``; ordered by value when the values are 0..K-1, else as listed."""
    if channels and len(classes) != channels:
        kept = [c for c in classes if not (isinstance(c, dict) and c.get("nodata") is True)]
        classes = kept if len(kept) == channels else classes
    values = [_value(c) for c in classes]
    if sorted(v for v in values if v is not None) == list(range(len(values))):
        return [classes[values.index(i)] for i in range(len(values))], True
    return classes, False


def _rgba(hint) -> tuple[int, int, int, int] | None:
    """RRGGBB (the classification extension's), or [r, g, b] (the MLM examples')."""
    if isinstance(hint, str) and re.fullmatch(r"[0-9A-Fa-f]{6}", hint):
        return int(hint[:2], 16), int(hint[2:4], 16), int(hint[4:], 16), 255
    if isinstance(hint, list) and len(hint) == 3 and all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in hint):
        return hint[0], hint[1], hint[2], 255
    return None


def mlm_colours(model_path, count: int | None = None
                ) -> dict[int, tuple[int, int, int, int]] | None:
    """Channel -> RGBA of the item's classes' color_hint, in the order of
    :func:`mlm_class_names` for ``count`` classes; None unless every class has one."""
    try:
        item = mlm_item(model_path)[1]
    except ModelError:
        return None
    classes = _classes(item) if item is not None else None
    if not classes or not all(isinstance(c, dict) for c in classes):
        return None
    colours = [_rgba(c.get("color_hint")) for c in _in_channel_order(classes, count)[0]]
    return dict(enumerate(colours)) if all(colours) else None


def _spatial(output) -> bool:
    result = output.get("result")
    order = result.get("dim_order") if isinstance(result, dict) else None
    return isinstance(order, list) and any(d in order for d in ("height", "width", "x", "y",
                                                                  "h", "w"))


def mlm_regression(model_path) -> str | None:
    """Where the MLM item beside ``model_path`` says its outputs are values (regression and
    the other tasks of :data:`RAW_TASKS`, no classes): written raw; None otherwise.
    ModelError for tasks geotile cannot write (:data:`REFUSED_TASKS`, a classification
    without height/width: one label per image)."""
    path, item = mlm_item(model_path)
    if item is None:
        return None
    outputs = _outputs(item)
    tasks = [t for o in outputs for t in (o.get("tasks") if isinstance(o.get("tasks"), list)
                                          else [])]
    if not tasks and isinstance(item["properties"].get("mlm:tasks"), list):
        tasks = list(item["properties"]["mlm:tasks"])
    tasks = [t for t in tasks if isinstance(t, str)]
    pixelwise = any("segmentation" in t for t in tasks) or (
        "classification" in tasks and any(_spatial(o) for o in outputs))
    if not pixelwise:
        for task, why in REFUSED_TASKS.items():
            if task in tasks or (task == "scene-classification" and "classification" in tasks):
                raise ModelError(f"{path}: mlm:output tasks {', '.join(tasks)}: the model "
                                 f"{why}, not a per-pixel map; geotile predicts segmentation "
                                 "and per-pixel regression: run it with its own framework.")
    if tasks and not pixelwise and all(t in RAW_TASKS for t in tasks) and not _classes(item):
        return f"{path.name} mlm:output tasks {', '.join(tasks)}"
    return None


def mlm_post_processing(model_path) -> None:
    """ModelError naming the MLM item beside ``model_path`` whose output has a
    ``post_processing_function`` or band ``expression``s: code geotile cannot run on the
    model's outputs (called unless --activation says how they are read)."""
    path, item = mlm_item(model_path)
    for output in _outputs(item) if item is not None else []:
        steps = output.get("post_processing_function")
        bands = output.get("bands") if isinstance(output.get("bands"), list) else []
        computed = [b for b in bands if isinstance(b, dict) and b.get("expression")]
        if steps not in (None, []) or computed:
            what = (f"post_processing_function {_shown(steps)}" if steps not in (None, [])
                    else f"bands {_shown(computed[0].get('name'))} expression "
                         f"{_shown(computed[0]['expression'])}")
            raise ModelError(f"{path}: mlm:output {_shown(output.get('name'))} has a {what}, "
                             "code geotile cannot run on the model's outputs; give "
                             "--activation (none, sigmoid or softmax) for how they are read, "
                             "or run the model with its own framework.")


def _keys(description) -> set[str]:
    """The names a band description may give: all of it, or its first word (GDAL's
    Sentinel-2 driver: "B4, central wavelength 665 nm")."""
    if not description or not str(description).strip():
        return set()
    return {band_key(description), band_key(re.split(r"[,\s(]", str(description).strip())[0])}


def described_keys(src) -> list[set[str]]:
    """The names each band of ``src`` goes by (:func:`_keys` of its description, and the
    common name a STAC Item's stack tags it with, :mod:`geotile.stac_images`)."""
    keys = []
    for band, description in enumerate(src.descriptions, start=1):
        common = src.tags(band).get("STAC_COMMON_NAME") if src.driver == "VRT" else None
        keys.append(_keys(description) | ({band_key(common)} if common else set()))
    return keys


def _common_names(item) -> dict[str, set[str]]:
    """Band name -> its common name (``eo:bands``, ``raster:bands``, STAC 1.1 ``bands``, in
    the properties or an mlm:model asset); one shared by bands of other names is left out."""
    objects = []
    for where in (item["properties"], *(a for _, a in _model_assets(item))):
        for field in ("bands", "eo:bands", "raster:bands"):
            if isinstance(where.get(field), list):
                objects += [b for b in where[field] if isinstance(b, dict)]
    found: dict[str, set[str]] = {}
    for band in objects:
        common = band.get("common_name", band.get("eo:common_name"))
        if isinstance(band.get("name"), str) and isinstance(common, str) and common.strip():
            found.setdefault(band_key(common), set()).add(band_key(band["name"]))
    aliases: dict[str, set[str]] = {}
    for common, names in found.items():
        if len(names) == 1:
            aliases.setdefault(next(iter(names)), set()).add(common)
    return aliases


class _ClipStep:
    """The item's clip / clip-min / clip-max per channel, on the raw pixels (float32)."""

    name = "clip"

    def __init__(self, lows, highs):
        self.lows, self.highs = lows, highs

    def bind(self, indexes, source, added=0, order=None) -> None:
        pass

    @staticmethod
    def out_dtype(dtype):
        import numpy as np

        return np.dtype(np.float32)

    def __call__(self, chip, start=0):
        import numpy as np

        count = chip.shape[1]
        lows, highs = self.lows, self.highs
        if len(lows) == 1:
            lows, highs = lows * (start + count), highs * (start + count)
        lo = np.asarray(lows[start:start + count], np.float32)[None, :, None, None]
        hi = np.asarray(highs[start:start + count], np.float32)[None, :, None, None]
        if lo.shape[1] != count:  # channels past the item's (--extra-bands): as they are
            return chip.astype(np.float32)
        return np.clip(chip.astype(np.float32), lo, hi)


class MlmInput:
    """What an MLM item says of its input: ``names`` (its bands, in the order fed; None: no
    default), ``steps`` (its clips), ``channels`` (of its input shape), ``aliases`` (band
    name -> common names); :meth:`bands_for` picks the bands in an image."""

    def __init__(self, file: Path, names, steps, channels, expressions, aliases=None):
        self.file, self.names, self.steps, self.channels = file, names, steps, channels
        self.expressions, self.aliases = expressions, aliases or {}
        self.unsupported: list[str] = []
        self.stats_file = None
        self.bands = self.order = None
        self.where = f"{file.name} mlm:input"
        self.why = ""
        self.nodata: dict[str, float] = {}  # band name (band_key) -> its band object's nodata

    def bind(self, indexes, source, added: int = 0) -> None:
        pass

    def out_dtype(self, dtype):
        import numpy as np

        return np.dtype(np.float32) if self.steps else np.dtype(dtype)

    def __call__(self, pixels, start: int = 0):
        for step in self.steps:
            pixels = step(pixels, start)
        return pixels

    def describe(self) -> str:
        return f"{self.where} bands {','.join(self.names or [])}"

    def named_bands(self) -> list[set[str]] | None:
        """The names (:func:`band_key`) each band fed goes by: its own and its common
        names; None without band names."""
        if not self.names:
            return None
        return [{band_key(b)} | self.aliases.get(band_key(b), set()) for b in self.names]

    def bands_for(self, src, source, quiet: bool = False) -> list[int] | None:
        """:meth:`_bands_for`, and a warning where the item's band objects give a nodata
        value the image does not declare for the bands fed (its pixels of that value are
        fed as values: geotile's nodata is the image's own)."""
        picked = self._bands_for(src, source, quiet)
        if quiet or not self.names or not self.nodata:
            return picked
        indexes = picked or list(range(1, src.count + 1))
        undeclared = [(name, self.nodata[band_key(name)], index) for name, index in zip(
            self.names, indexes, strict=False) if band_key(name) in self.nodata and (
            src.nodatavals[index - 1] is None or src.nodatavals[index - 1] != self.nodata[
                band_key(name)])]
        if undeclared:
            name, value, index = undeclared[0]
            declared = src.nodatavals[index - 1]
            log.warning("%s: %s band objects give band %s nodata %g, but the image declares %s:"
                        " its pixels of %g are fed to the model as values (set the image's "
                        "nodata, e.g. gdal_edit.py -a_nodata %g, to leave them out)",
                        Path(str(source)).name, self.file.name, name, value,
                        "none" if declared is None else f"nodata {declared:g}", value, value)
        return picked

    def _bands_for(self, src, source, quiet: bool = False) -> list[int] | None:
        """The image's bands (1-based) fed: by their descriptions where they name the
        item's bands (or their common names), else by colour interpretation where it names
        each (:func:`bands_by_colour`), else by position (an image of as many bands, none
        described); ModelError naming ``source`` otherwise, and for bands the item
        computes (expressions). Bands named twice (two dates) go by position only."""
        if self.expressions:
            raise ModelError(f"{source}: {self.where} band {self.expressions[0]} is an "
                             "expression (a band it computes), code geotile cannot run; give "
                             "the image's bands with --bands (and --mean/--std for them).")
        if not self.names:
            return None
        name, shown = Path(str(source)).name, ",".join(self.names)
        wanted = self.named_bands()
        described = described_keys(src)
        texts = ", ".join(str(d) for d in src.descriptions)
        keys = [band_key(b) for b in self.names]
        twice = next((b for b in self.names if keys.count(band_key(b)) > 1), None)
        in_order = src.count == len(self.names) and (not any(described) or all(
            d & w for d, w in zip(described, wanted, strict=True)))
        if twice is not None and not in_order:
            raise ModelError(f"{source}: {self.where} bands ({shown}) name band {twice} twice "
                             f"(one per date or sensor), so they go by position: give an "
                             f"image of those {len(self.names)} bands in that order, or choose "
                             "them with --bands.")
        hits = [[i for i, d in enumerate(described) if d & w] for w in wanted]
        if twice is None and any(hits):
            missing = [b for b, h in zip(self.names, hits, strict=True) if len(h) != 1]
            picked = [h[0] + 1 for h in hits if len(h) == 1]
            if missing or len(set(picked)) != len(picked):
                what = missing[0] if missing else self.names[0]
                raise ModelError(f"{source}: its band descriptions ({texts:.200}) name no "
                                 f"single band {what}, which {self.where} bands feed the "
                                 f"model ({shown}); give the image's bands for them with "
                                 "--bands.")
            if not quiet:
                log.info("%s: bands %s feed the model, by their descriptions (%s bands %s)",
                         name, ",".join(map(str, picked)), self.file.name, shown)
            return picked
        by_colour = None if twice is not None or any(described) else \
            bands_by_colour(src, wanted)
        if by_colour:
            if not quiet:
                log.info("%s: bands %s feed the model, by their colour interpretation (%s "
                         "bands %s)", name, ",".join(map(str, by_colour)), self.file.name, shown)
            return by_colour
        if in_order:
            if not quiet:
                log.info("%s: bands 1-%d are taken as %s bands %s (by position%s)", name,
                         src.count, self.file.name, shown, ": the image's bands are not "
                         "described" if not any(described) else ", as described")
            return list(range(1, src.count + 1))
        if any(described):
            raise ModelError(f"{source}: its band descriptions ({texts:.200}) name none of "
                             f"{self.where} bands ({shown}); choose the image's bands for "
                             "them with --bands.")
        raise ModelError(f"{source}: the image has {src.count} bands and none described as "
                         f"{self.where} bands ({shown}); give an image of those "
                         f"{len(self.names)} bands (or name them in its band descriptions), "
                         "or choose them with --bands.")


def mlm_input(model_path, channels: int | None = None) -> MlmInput | None:
    """The bands and clips of the MLM item beside ``model_path``; None without an item or
    either. ModelError when its input does not fit the model's ``channels``, or for tasks
    geotile cannot write (:func:`mlm_regression`)."""
    path, item = mlm_item(model_path)
    if item is None:
        return None
    mlm_regression(model_path)
    spec = _input(item, path)
    bands = _bands(spec, path)
    shape_channels = _channels(spec, path)
    for what, count in (("input shape", shape_channels),
                        ("bands", len(bands) if bands else None)):
        if count is not None and channels is not None and count != channels:
            raise ModelError(f"{path}: mlm:input {what} gives {count} channels, but "
                             f"{Path(model_path).name} takes {channels}; fix the item (or give "
                             "the model it describes).")
    try:
        found = _per_band(path, spec, len(bands) if bands else shape_channels)
    except ModelError:
        found = None  # said by its normalisation, or --scale replaces it
    steps = []
    if found is not None and any(math.isfinite(v) for v in (*found[2][0], *found[2][1])):
        steps = [_ClipStep(*found[2])]
    names = [b if isinstance(b, str) else b["name"] for b in bands] if bands else None
    expressions = [b["name"] for b in bands or [] if isinstance(b, dict)
                   and b.get("expression") is not None]
    if not names and not steps:
        return None
    found = MlmInput(path, names, steps, shape_channels, expressions, _common_names(item))
    found.nodata = _band_nodata(item)
    return found


def _band_nodata(item) -> dict[str, float]:
    """Band name (:func:`band_key`) -> the nodata value its band object (``raster:bands``, STAC
    1.1 ``bands``, in the properties or an mlm:model asset) gives."""
    found: dict[str, float] = {}
    for where in (item["properties"], *(a for _, a in _model_assets(item))):
        for field in ("bands", "raster:bands"):
            for band in where.get(field) if isinstance(where.get(field), list) else []:
                value = band.get("nodata", band.get("raster:nodata")) if isinstance(
                    band, dict) else None
                if isinstance(band, dict) and isinstance(band.get("name"), str) and \
                        isinstance(value, int | float) and not isinstance(value, bool):
                    found.setdefault(band_key(band["name"]), float(value))
    return found


#: dim_order names of the input's axes (the spec's Dimension Order, and its short forms)
_BATCH_DIMS = {"batch", "b", "n", "batch_size"}
_CHANNEL_DIMS = {"bands", "band", "channel", "channels", "c", "variables"}
#: (the spatial axes: across the window, its width; down it, its height)
_WIDTH_DIMS = {"width", "w", "x", "cols", "lon", "longitude"}
_HEIGHT_DIMS = {"height", "h", "y", "rows", "lat", "latitude"}
_SPATIAL_DIMS = _WIDTH_DIMS | _HEIGHT_DIMS
#: the spec's data types (STAC raster / 1.1 core) fed as floating-point values
_FLOAT_TYPES = {"float16", "float32", "float64", "cfloat32", "cfloat64"}


class MlmStructure:
    """The item's input structure as geotile feeds it: ``layout`` (NCHW or NHWC, from its
    dim_order; None without one), ``size`` (its fixed height/width, None when variable),
    ``data_type`` (None when not given), ``where`` (the item's name and field)."""

    def __init__(self, path: Path, layout, size, data_type, order):
        self.file, self.layout, self.size, self.data_type = path, layout, size, data_type
        self.where = f"{path.name} mlm:input input"
        self.order = order


def mlm_structure(model_path) -> MlmStructure | None:
    """The input structure (dim_order, shape, data_type) of the MLM item beside
    ``model_path``; None without an item. ModelError naming the item for a dim_order that is
    no image batch (a time axis, no bands and two spatial axes) or a shape of unequal fixed
    height and width: geotile feeds square windows of one image."""
    path, item = mlm_item(model_path)
    if item is None:
        return None
    spec = _input(item, path)
    structure = spec.get("input")
    if not isinstance(structure, dict) or structure.get("dim_order") is None:
        return None
    _channels(spec, path)  # a shape of integers matching the dim_order
    shape, order = structure["shape"], [str(d).strip().lower() for d in structure["dim_order"]]
    shown = f"{path}: mlm:input input dim_order {_shown(structure['dim_order'])}"
    fix = ("geotile feeds one image as [batch, bands, height, width] or [batch, height, "
           "width, bands]: fix the item, or give the .onnx with --bands/--mean/--std")
    axes = [i for i, d in enumerate(order) if d not in _BATCH_DIMS or i != 0]
    kinds = ["c" if order[i] in _CHANNEL_DIMS else "s" if order[i] in _SPATIAL_DIMS else "?"
             for i in axes]
    if len(axes) != 3 or sorted(kinds) != ["c", "s", "s"] or kinds[1] != "s":
        raise ModelError(f"{shown} is no image batch (bands and two spatial axes, a batch "
                         f"first or none); {fix}.")
    spatial = [order[i] for i, k in zip(axes, kinds, strict=True) if k == "s"]
    if spatial[0] in _WIDTH_DIMS and spatial[1] in _HEIGHT_DIMS:
        raise ModelError(f"{shown} puts the window's width before its height (a transposed "
                         f"window); {fix}.")
    layout = "NCHW" if kinds[0] == "c" else "NHWC"
    height, width = (shape[i] for i, k in zip(axes, kinds, strict=True) if k == "s")
    if height > 0 and width > 0 and height != width:
        raise ModelError(f"{path}: mlm:input input shape {_shown(shape)} is of fixed "
                         f"{height}x{width} windows; geotile predicts square ones: fix the "
                         "item (-1 for a variable size), or export the model square.")
    size = height if height > 0 else width if width > 0 else None
    data_type = structure.get("data_type")
    return MlmStructure(path, layout, size, data_type if isinstance(data_type, str) else
                        None, structure["dim_order"])


def is_float_type(data_type: str) -> bool:
    return data_type.strip().lower() in _FLOAT_TYPES
