"""Reading predict's rasters back: class rasters or probability rasters, and class ids.

Shared by vectorize (polygons per class) and evaluate (pixel scores): geotile's own
tags (GEOTILE_OUTPUT, GEOTILE_SCALE, GEOTILE_CLASS_NAMES, GEOTILE_THRESHOLD) say what a
raster holds; without them the dtype, a GDAL scale, the band count and the band
descriptions decide. Class names are indexed by class id (0 background unless they name it
a class: :func:`zero_is_background`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from geotile.class_keys import (
    BACKGROUND_NAMES,
    class_key,
    is_background_name,
    names_background,
    unnamed_zero,
    zero_is_background,
)
from geotile.errors import InputError
from geotile.file_scans import per_file
from geotile.nodata_names import names_no_data
from geotile.raster import AMPLITUDE, alpha_bands
from geotile.user_warnings import warn


@dataclass(frozen=True)
class RasterKind:
    """How to read a raster: class ids or probabilities (x scale), class names indexed by
    class id (0 background) and the threshold the raster declares (None: not declared)."""

    kind: str
    scale: float
    names: list[str] | None
    threshold: float | None = None
    #: whether band 1 of a multi-band probability raster is background (class 0); when its
    #: names say it is a class, band k is class k and background is max p < threshold
    background_band: bool = True
    #: a 0/255 mask (:func:`binary_mask_kind`): its 255 is class 1
    binary_255: bool = False
    #: an untagged, unnamed raster of 2 or more probability bands, read as a softmax whose
    #: band 1 is background on its values' word alone: :func:`check_softmax` checks that they
    #: sum to 1 where read
    softmax_unsaid: bool = False
    #: band 1 of independent probabilities (GEOTILE_BANDS=independent) is background's own
    #: sigmoid, named so: the argmax of the bands, background too where none reaches the
    #: threshold (predict's class output of such a model: class_output.background_channel)
    independent_background: bool = False

    @property
    def zero_class(self) -> bool:
        """Whether id 0 is a class of its own (:func:`zero_is_background`)."""
        return not zero_is_background(self.names)


def refuse_mixed_types(src, what: str = "prediction, mask or label raster",
                       fix: str = "give predict's output or a mask") -> None:
    """InputError when ``src``'s bands differ in type (an image stack, ``gdalbuildvrt
    -separate``): a ``what`` holds one type of value in all its bands."""
    if len(set(src.dtypes)) > 1:
        raise InputError(f"{src.name}: bands of different types "
                         f"({', '.join(dict.fromkeys(src.dtypes))}), so not a {what}, whose "
                         f"bands hold one type; {fix}.")
    if np.dtype(src.dtypes[0]).kind == "c":  # read as it is, the imaginary part is lost
        raise InputError(f"{src.name}: complex pixels ({src.dtypes[0]}, SAR) hold two values "
                         f"each, so not a {what}; {fix} (a complex image to amplitude "
                         f"first: {AMPLITUDE}).")


def raster_kind(src, truth: bool = False, threshold_given: bool = False) -> RasterKind:
    """Tell class rasters from probability rasters and read their names and threshold
    (:func:`_raster_kind`); a class raster whose declared nodata is one of its classes is
    an InputError (:func:`~geotile.nodata_classes.refuse_nodata_class`)."""
    from geotile.nodata_classes import refuse_nodata_class

    kind = _raster_kind(src, truth, threshold_given)
    if kind.kind == "class":
        refuse_nodata_class(src, names=kind.names)
    return kind


def _raster_kind(src, truth: bool = False, threshold_given: bool = False) -> RasterKind:
    """Tell class rasters from probability rasters and read their names and threshold.

    geotile's tags decide (GEOTILE_OUTPUT, GEOTILE_SCALE, GEOTILE_CLASS_NAMES,
    GEOTILE_THRESHOLD, on the dataset or band 1); without them the dtype, a GDAL scale
    (uint8 x 1/255 are probabilities) and the band count. Probability rasters without
    GEOTILE_CLASS_NAMES take their names from the band descriptions; bands of independent
    probabilities (GEOTILE_BANDS=independent, predict's sigmoid channels), or untagged bands
    named without a background first (:data:`BACKGROUND_NAMES`), make band k class k,
    background where none reaches the threshold; GEOTILE_BANDS=exclusive (softmax) is the
    argmax of every band; GEOTILE_BANDS=outputs (several model outputs, a softmax among
    them) is an InputError. A tag that cannot be read is an InputError naming the file.
    An untagged one-band float raster of whole numbers (every pixel: QGIS' Float32
    Rasterize output) holds class ids, as make-masks and tile read it, when some reach
    2..100 (no probabilities, nor 0..255 scores), or 0 and 255 only (a 0/255 mask), or
    any for a ``truth``.
    """
    from geotile.hls_files import refuse_fmask
    from geotile.label_band import refuse_label_band
    from geotile.landsat_mtl import refuse_qa_band

    refuse_mixed_types(src)
    refuse_fmask(src)
    refuse_qa_band(src)
    refuse_label_band(src)  # Dynamic World's class ids beside its probabilities
    tags = {**src.tags(1), **src.tags()}
    names = class_names(src)
    threshold = threshold_tag(src)
    output = tags.get("GEOTILE_OUTPUT")
    bands = tags.get("GEOTILE_BANDS")  # predict's: "exclusive" (softmax) or "independent"
    floating = np.dtype(src.dtypes[0]).kind == "f"
    gdal_scale = src.scales[0] if src.scales and src.scales[0] not in (0, 1) else None
    count = src.count - len(mask_alpha_bands(src))  # the bands of values
    if output in ("class", "mask"):
        return RasterKind("class", 1.0, names, threshold)
    held = model_values(names) if output == "raw" else None
    if held:
        raise InputError(f"{src.name}: {held}, raw values, not class scores or classes: there "
                         "is nothing to vectorize or score as classes in it.")
    if output == "raw" and not threshold_given:  # a threshold given: the user's values
        activation = "sigmoid" if src.count == 1 else "softmax (sigmoid for independent bands)"
        # footprint/boundary/contact bands go to the watershed, which takes no --threshold
        instance = {"boundary", "contact"} & {str(n).lower() for n in names or ()}
        raise InputError(f"{src.name}: predict wrote the model's raw values here (--activation "
                         "none, GEOTILE_OUTPUT=raw), not probabilities that a default threshold "
                         "reads. Predict again without --activation none (a model ending in "
                         f"its own Sigmoid/Softmax), or with --activation {activation} (a model "
                         "giving logits)" + ("." if instance else ", or give --threshold if "
                                             "they are probabilities 0..1."))
    if output == "raw":
        output = "probability"
    if output == "probability" and bands == "outputs":
        raise InputError(f"{src.name}: its bands are the probabilities of several model "
                         f"outputs ({', '.join(names or [])}), a softmax among them, that "
                         "no one class per pixel describes. Predict one output (geotile "
                         "predict --outputs NAME) and give that.")
    # layers of class ids, not probabilities (unless its tags say they are); its names past
    # its bands are those of ids
    layers = output is None and bands is None and gdal_scale is None \
        and "GEOTILE_SCALE" not in tags and (names is None or len(names) > count)
    if truth and output is None and names is None:
        _refuse_validity_band(src)
    if layers and (names is not None or has_class_descriptions(src)):
        _refuse_class_layers(src, truth)
    if output is None and names is None and not has_class_descriptions(src):
        refuse_noisy_grey(src)
        _refuse_colour_image(src)
        if gdal_scale is None and _repeats_one_band(src):  # a grey mask saved as RGB(A)
            return RasterKind("class", 1.0, None, threshold)
        if layers and src.dtypes[0] == "uint8":  # uint16: band 1 (warn_if_other_class_bands)
            _refuse_class_layers(src, truth)
    if floating and output is None and gdal_scale is None and count == 1 \
            and "GEOTILE_SCALE" not in tags and _whole_numbers(src, truth):
        return RasterKind("class", 1.0, names, threshold)
    # a one-hot of wider integer bands (uint16 0/1) each named by its class, or unnamed but
    # one 1 per pixel (their sum): its classes, not band 1's ids
    one_hot = output is None and names is None and gdal_scale is None and count > 1 \
        and "GEOTILE_SCALE" not in tags and np.dtype(src.dtypes[0]).kind in "iu" \
        and src.dtypes[0] != "uint8" and _holds_0_1(src) and (
            has_class_descriptions(src) or per_file(_SUMS_TO_ONE, src,
                                                      lambda src: _sums_to_one(src, 1.0)))
    if output == "probability" or floating or gdal_scale is not None or one_hot or (
            count > 1 and src.dtypes[0] == "uint8"):
        _refuse_offset(src, gdal_scale)
        default = 1.0 if floating or one_hot else 1 / gdal_scale if gdal_scale else 255.0
        scale = _number_tag(src, tags, "GEOTILE_SCALE", 0.0, None, low_open=True) or default
        if floating and scale > 1:
            _refuse_unscaled(src, scale, "GEOTILE_SCALE" in tags)
        names = names or _descriptions(src)
        if names and bands is None and count == len(names) > 1:
            _refuse_late_background(src, names)
        if names and count == 1 and len(names) == 1:  # the one band is class 1
            names = ["background", *names]
        elif names and count == len(names) > 1 and bands == "independent" \
                and is_background_name(names[0]):
            return RasterKind("probability", float(scale), names, threshold,
                              independent_background=True)
        elif names and count == len(names) > 1 and (bands == "independent" or (
                bands != "exclusive" and not is_background_name(names[0])
                and not (bands is None and per_file(
                    _SUMS_TO_ONE, src, lambda src: _sums_to_one(src, float(scale)))))):
            return RasterKind("probability", float(scale), ["background", *names], threshold,
                              background_band=False)
        if not names and count > 1 and bands == "independent":  # band k is class k
            return RasterKind("probability", float(scale), None, threshold,
                              background_band=False)
        unsaid = output is None and bands is None and names is None and count >= 2
        return RasterKind("probability", float(scale), names, threshold,
                          softmax_unsaid=unsaid)
    return RasterKind("class", 1.0, names, threshold)


#: the output of transformers' depth estimation models (DPT, GLPN, Depth Anything...)
DEPTH_OUTPUT = "predicted_depth"
#: names (lower case) of the outputs of feature extractors: SAM's image encoder
#: (image_embeddings), SAM2's (ONNX Runtime's export: image_features_0/1 beside it;
#: samexporter's: high_res_feats_0/1, image_embed), transformers' backbones and encoders
#: (last_hidden_state, hidden_states, feature_maps, pooler_output, encoder_hidden_states),
#: timm's and others' features/embeddings; predict writes their raw values, bands
#: <output>_1..<output>_K
FEATURE_OUTPUTS = frozenset({"image_embeddings", "image_features_0", "image_features_1",
                             "image_embed", "high_res_feats_0", "high_res_feats_1",
                             "last_hidden_state", "hidden_states", "feature_maps", "features",
                             "embeddings", "pooler_output", "encoder_hidden_states"})


def is_feature_output(name) -> bool:
    """Whether a model output named ``name`` is a feature extractor's (exact, any case)."""
    return str(name).lower() in FEATURE_OUTPUTS


def model_values(names) -> str | None:
    """What raw bands named ``names`` (predict's GEOTILE_OUTPUT=raw, bands named after the
    model's outputs) hold when they are no class scores of any kind, else None: a depth
    (:data:`DEPTH_OUTPUT`) or a feature extractor's features (every band <output>_k or
    <output> of :data:`FEATURE_OUTPUTS`)."""
    names = [str(n) for n in names or ()]
    if names == [DEPTH_OUTPUT]:
        return f"a depth estimation model's depth ({DEPTH_OUTPUT})"
    outputs = {n if is_feature_output(n) or not n.rsplit("_", 1)[-1].isdigit()
               else n.rsplit("_", 1)[0] for n in names}
    if outputs and all(is_feature_output(o) for o in outputs):
        return f"a model's features/embeddings ({', '.join(sorted(outputs))})"
    return None


def _refuse_late_background(src, names: list) -> None:
    """InputError when untagged bands name background after band 1 (building, background:
    a model's training order), which would be read as a class of its own; band 1 of such a
    raster is background's, or no band is."""
    if is_background_name(names[0]):
        return
    # a name that is background and nothing else ('background', 'No data', 'void'), not a
    # class of the dataset that says background too (ISPRS' 'Clutter/background')
    late = next((i for i, n in enumerate(names[1:], start=2)
                 if names_background(n) and class_key(n) in BACKGROUND_NAMES), None)
    if late is None:
        return
    order = " ".join(f"-b {b}" for b in [late, *(i for i in range(1, len(names) + 1)
                                                 if i != late)])
    name = Path(str(src.name)).name
    raise InputError(f"{src.name}: band {late} is named {names[late - 1]!r}, but only band 1 "
                     "is read as background: the others are classes, so background would be "
                     f"one. Put it first (gdal_translate {order} {name} reordered.tif).")


def _refuse_offset(src, gdal_scale: float | None) -> None:
    """InputError when band 1 declares a GDAL offset: probabilities are read as value x
    scale, and dropping the offset would threshold other values than GDAL's."""
    offset = src.offsets[0] if src.offsets else 0.0
    if offset:
        name = Path(str(src.name)).name
        raise InputError(f"{src.name}: its GDAL offset {offset:g} (values x "
                         f"{gdal_scale or 1:g} {'+' if offset > 0 else '-'} {abs(offset):g}) "
                         "is not read: probabilities are value x scale. Give probabilities "
                         "0..1 (gdal_translate -unscale "
                         f"-ot Float32 {name} p.tif), or drop the offset if it is wrong "
                         f"(gdal_edit.py -offset 0 {name}).")


#: _within_0_1 of the rasters already scanned, by file (:func:`per_file`)
_WITHIN_0_1: dict[tuple, bool] = {}


def _within_0_1(src, scale: float) -> bool:
    """Whether band 1 of a float raster (its nodata and NaN left out) holds values within
    0..1 only, some of them between, and, where its GDAL scale is 1/``scale`` (gdalwarp
    and gdal_translate -ot keep a uint8 raster's), all on the steps of 1/``scale`` (a
    copy by gdal_translate -scale 0 255 0 1), not between them (uint8 codes 0 and 1
    resampled: an empty tile warped by gdalwarp -r bilinear -ot Float32): read block by
    block, stopping at the first above 1; once per file."""
    kept = bool(src.scales) and abs(src.scales[0] * scale - 1) < 1e-6
    between = False
    for _, window in src.block_windows(1):
        block = src.read(1, window=window)
        block = block[np.isfinite(block) & (block != src.nodata)]
        if (block > 1 + PROBABILITY_TOLERANCE).any():
            return False
        if kept and (np.abs(block * scale - np.round(block * scale)) > 1e-3).any():
            return False
        between = between or bool(((block > 0) & (block < 1)).any())
    return between


def _refuse_unscaled(src, scale: float, tagged: bool) -> None:
    """InputError when a float raster whose scale reads its values x 1/``scale`` (> 1)
    holds probabilities 0..1 already: predict's uint8 output made Float32 by gdal_translate
    -unscale (GEOTILE_SCALE=255 copied) or -scale 0 255 0 1 (its GDAL scale 1/255 kept
    too), where no pixel would reach a threshold; not resampled uint8 codes (values
    between the steps of 1/``scale`` under that GDAL scale), read as codes."""
    if not per_file(_WITHIN_0_1, src, lambda raster: _within_0_1(raster, scale)):
        return
    name = Path(str(src.name)).name
    said = f"GEOTILE_SCALE={scale:g}" if tagged else f"GDAL scale {1 / scale:.6g}"
    raise InputError(f"{src.name}: its values are probabilities 0..1 already, but its scale "
                     f"({said}, kept by gdal_translate -unscale or -scale) reads them x "
                     f"1/{scale:g}, so that none would reach a threshold. Drop the scale: "
                     f"gdal_edit.py -scale 1 -mo GEOTILE_SCALE=1 {name}.")


#: _sums_to_one of the rasters already sampled, by file (:func:`per_file`)
_SUMS_TO_ONE: dict[tuple, bool] = {}
#: how far from 1 a sampled pixel's bands may sum for named bands to be read as a softmax
#: (float16 outputs, resampling), past the rounding of an integer type
NAMED_SOFTMAX_TOLERANCE = 0.01


def _sums_to_one(src, scale: float) -> bool:
    """Whether the value bands of ``src`` sum to 1 (values / ``scale``) in all but
    :data:`SOFTMAX_STRAYS` of the valid pixels of a sample: a softmax of the classes its
    bands name (land cover without a background class), not independent probabilities,
    which are 0 together outside their objects."""
    from geotile.raster import sample_pixels

    alpha = set(mask_alpha_bands(src))
    indexes = [i for i in range(1, src.count + 1) if i not in alpha]
    sample = sample_pixels(src, indexes).astype(np.float64)
    floating = np.dtype(src.dtypes[0]).kind == "f"
    valid = np.isfinite(sample).all(axis=0)
    if src.nodata is not None:
        valid &= (sample != src.nodata).all(axis=0)
    if not valid.any():
        return False
    rounded = not floating and scale > 1  # 0/1 bands (scale 1) round nothing
    tolerance = NAMED_SOFTMAX_TOLERANCE + (len(indexes) * 0.5 / scale if rounded else 0)
    off = np.abs(sample.sum(axis=0)[valid] / scale - 1) > tolerance
    return bool(np.count_nonzero(off) <= SOFTMAX_STRAYS * off.size)


def _whole_numbers(src, any_ids: bool = True) -> bool:
    """Whether band 1 of a float raster (its nodata and NaN left out) holds whole numbers
    only (a sample first, then every pixel: :func:`_has_fraction`); unless ``any_ids``, the
    largest but 255 (the ignore value) of a sample in 2..SCALED_PROBABILITY_IDS[uint8] (not
    0/1, probabilities alike; nor 0..255 scores), or the band 0 and 255 only."""
    from geotile.raster import sample_pixels

    sample = sample_pixels(src, 1)[0]
    sample = sample[np.isfinite(sample) & (sample != src.nodata)]
    if not np.array_equal(sample, np.round(sample)):
        return False
    ids = sample[sample != 255]
    if not any_ids and not (ids.size > 0 and
                            1 < ids.max() <= SCALED_PROBABILITY_IDS[np.dtype(np.uint8)]):
        return not (ids > 0).any() and _only_0_255(src)
    return not _has_fraction(src)


def _only_0_255(src) -> bool:
    """Whether band 1 holds 0 and 255 and nothing else (a 0/255 mask; 0..255 scores hold
    values between)."""
    counts = counts_0_255(src)
    return counts is not None and counts[255] > 0 and not counts[1:255].any()


#: _has_fraction of the rasters already scanned, by file (:func:`per_file`)
_FRACTION: dict[tuple, bool] = {}


def _has_fraction(src) -> bool:
    """Whether band 1 of a float raster holds a valid value that is no whole number (its
    nodata and NaN left out): read block by block, stopping at the first; once per file,
    so that every tile of a dataset is read alike, wherever its fractions lie."""
    def fraction(block) -> bool:
        block = block[np.isfinite(block) & (block != src.nodata)]
        return bool((block != np.round(block)).any())

    return per_file(_FRACTION, src, lambda raster: _any_block(raster, fraction))


def binary_mask_kind(src, kind: RasterKind) -> RasterKind:
    """``kind``, reading 255 as class 1 when ``src`` is an untagged 0/255 mask (INRIA's,
    Massachusetts'; one band or grey in three: :func:`values_0_255`,
    a read of its blocks), one declaring nodata 0 too (its background: :func:`zero_nodata`),
    as tile and evaluate read it; as a footprint, 255 is p = 1."""
    if not may_be_0_255(src, kind):
        return kind

    binary = values_0_255(src, nodata=src.nodata == 0) == "binary"
    return replace(kind, binary_255=True, scale=255.0) if binary else kind  # 255: p = 1


def may_be_0_255(src, kind: RasterKind) -> bool:
    """Whether ``src`` read as ``kind`` may be a 0/255 mask: a class raster naming no
    classes (one that names them, make-masks' mask, holds 255 to ignore) of a type that
    may hold one (:func:`may_hold_0_255`)."""
    return kind.kind == "class" and kind.names is None and may_hold_0_255(src.dtypes[0])


def may_ignore_255(src, kind: RasterKind) -> bool:
    """Whether 255 of ``src`` read as ``kind`` may be the ignore value (make-masks', VOC's
    void, gdal_rasterize -init 255): a class raster that is no 0/255 mask and names no
    class 255 (:func:`ignores_255` decides from its ids)."""
    dtype = np.dtype(src.dtypes[0])
    return kind.kind == "class" and not kind.binary_255 and (
        dtype.kind == "f" or (dtype.kind in "iu" and np.iinfo(dtype).max >= 255)) and not (
        kind.names and len(kind.names) > 255)


def ignores_255(ids: np.ndarray, named: bool) -> bool:
    """Whether 255 among the class ``ids`` of a :func:`may_ignore_255` raster is its ignore
    value, as make-masks, tile and evaluate read it: none above 255, and the raster names its
    classes or its other ids are all below 128 (kind_0_255's "low": a grey mask of
    0/64/128/192/255 or instance ids wrapping at 256 hold 255 as one more id)."""
    others = ids[ids != 255]
    return bool((ids == 255).any()) and not (ids > 255).any() and (
        named or not (others >= 128).any())


#: ids_above_255 of the rasters already scanned, by file (:func:`per_file`)
_ABOVE_255: dict[tuple, bool] = {}


def ids_above_255(src) -> bool:
    """Whether band 1 of a class or instance raster holds a valid value above 255 (its
    declared nodata left out): then 255 is one of its ids, never the ignore value (as
    evaluate reads it). Read block by block, stopping at the first; once per file."""
    dtype = np.dtype(src.dtypes[0])
    if dtype.kind in "iu" and np.iinfo(dtype).max <= 255:
        return False

    def high(block) -> bool:
        return bool(((block > 255) & (block != src.nodata if src.nodata is not None
                                      else True)).any())

    return per_file(_ABOVE_255, src, lambda raster: _any_block(raster, high))


def reads_nodata(src, kind: RasterKind) -> bool:
    """Whether ``src``'s nodata mask applies (:func:`~geotile.raster.has_nodata`, or an
    alpha band of a float raster): not when it is an alpha band of a probability raster that
    is a class band there (:func:`mask_alpha_bands`)."""
    from geotile.raster import has_nodata, unmasked_alpha

    class_alpha = set(alpha_bands(src)) - set(mask_alpha_bands(src))
    return (has_nodata(src) or bool(unmasked_alpha(src))) and not (
        class_alpha and kind.kind == "probability")


def mask_alpha_bands(src) -> list[int]:
    """The alpha bands of ``src`` that mask nodata (as GDAL's dataset mask reads them), not
    values: every alpha band (gdalwarp -dstalpha's), but band 4 of a 4-band uint8 RGB
    GeoTIFF, which GDAL flags alpha by default, unless the raster names only 3 classes or
    describes bands 1-3 but not band 4, and band 4 of any 4-band uint8 raster whose tag
    names 4 classes."""
    from rasterio.enums import ColorInterp

    alpha = alpha_bands(src)
    rgb = (ColorInterp.red, ColorInterp.green, ColorInterp.blue)
    if alpha != [4] or src.count != 4 or src.dtypes[0] != "uint8":
        return alpha
    names = _names_tag(src, {**src.tags(1), **src.tags()})
    if tuple(src.colorinterp[:3]) != rgb:
        # gray, green, blue, alpha: a copy by gdal_translate -co PROFILE=GeoTIFF (or
        # BASELINE), which drops the band names; its tag naming 4 classes says band 4 is one
        return [] if names is not None and len(names) == 4 else alpha
    described = [bool((d or "").strip()) for d in src.descriptions or [None] * 4]
    if (names is not None and len(names) == 3) or described == [True, True, True, False]:
        return alpha
    return []


def value_bands(src) -> list[int] | None:
    """The bands of values of ``src``, not those of :func:`mask_alpha_bands`; None: all."""
    alpha = mask_alpha_bands(src)
    return [b for b in range(1, src.count + 1) if b not in alpha] if alpha else None


#: zero_one_kind's scans, by file (:func:`per_file`)
_ZERO_ONE: dict[tuple, bool] = {}


def zero_one_kind(src, kind: RasterKind) -> RasterKind:
    """``kind``, with scale 1 (1 is p = 1) when ``src`` is an untagged uint8 probability
    raster whose value bands hold 0 and 1 only, nodata aside: make-masks' 0/1 channels
    whose tags a copy lost, never probabilities of at most 1/255. One scan per file,
    stopping at the first value above 1; the one rule of vectorize (every mode) and
    evaluate."""
    import logging

    if (kind.kind != "probability" or kind.scale != 255 or kind.binary_255
            or src.dtypes[0] != "uint8" or "GEOTILE_SCALE" in {**src.tags(1), **src.tags()}
            or any(s not in (0, 1) for s in src.scales or ())):
        return kind
    if not _holds_0_1(src):
        return kind
    logging.getLogger("geotile").info("%s: its bands hold 0 and 1 only: read as a 0/1 mask "
                                      "(1: p = 1)", src.name)
    return replace(kind, scale=1.0)


def _holds_0_1(src) -> bool:
    """Whether the value bands of ``src`` hold 0 and 1 only, some 1, nodata aside (0/1
    channels, a one-hot): one scan per file, stopping at the first value above 1."""
    bands = value_bands(src) or list(range(1, src.count + 1))

    def zero_one(raster) -> bool:
        found = False
        for _, window in raster.block_windows(1):
            block = raster.read(bands, window=window)
            if raster.nodata is not None:
                block = block[block != raster.nodata]
            if (block > 1).any() or (block < 0).any():
                return False
            found = found or bool(block.any())
        return found

    return per_file(_ZERO_ONE, src, zero_one)


def plain_bands(src, kind: RasterKind) -> tuple[list[int] | None, RasterKind]:
    """The bands to read, and how, when a raster is read plainly (not split into
    instances): a footprint/boundary/contact probability raster is its footprint band,
    thresholded (an argmax against boundary and contact would be nonsense); any other
    raster is its :func:`value_bands`; a 0/1 one read by :func:`zero_one_kind`. A class
    mask of make-masks' --channels is its footprint band, wherever they put it."""
    if kind.kind != "probability":
        roles = band_roles(src) if src.count > 1 else None
        return ([roles["footprint"]] if roles and "footprint" in roles else None), kind
    kind = zero_one_kind(src, kind)
    roles = band_roles(src)
    if not roles:
        return value_bands(src), kind
    return [roles["footprint"]], replace(kind, names=["background", "footprint"])


#: the bands of an instance model's output, in their usual order (geotile.instances)
ROLES = ("footprint", "boundary", "contact")


def roles_tag_advice(src) -> str:
    """The command that names the unnamed bands of ``src`` by :data:`ROLES`, in order
    (solaris' footprint, boundary and contact masks of 0 and 255)."""
    import shlex

    names = shlex.quote(f"GEOTILE_CLASS_NAMES={json.dumps(list(ROLES[:src.count]))}")
    return f"gdal_edit.py -mo {names} {shlex.quote(Path(str(src.name)).name)}"


def band_roles(src, required: bool = False) -> dict[str, int] | None:
    """Band index (1-based) of each role present, from the band descriptions, else from a
    GEOTILE_CLASS_NAMES tag naming each band (a copy that dropped the descriptions).

    Without names of a footprint and a boundary or contact band: ``None``, or, with
    ``required``, bands 1-3 in that order (as many as the raster has), a band described
    ``background`` (a softmax's class 0) left out.
    """
    roles = name_roles(src.descriptions)
    if roles:
        return roles
    tagged = _names_tag(src, {**src.tags(1), **src.tags()})
    if tagged and len(tagged) == src.count and (roles := name_roles(tagged)):
        return roles
    if not required:
        return None
    names = [(d or "").strip().lower() for d in src.descriptions or [None] * src.count]
    bands = list(value_bands(src) or range(1, src.count + 1))
    bands = [b for b in bands if names[b - 1] != "background"] or bands
    return dict(zip(ROLES, bands, strict=False))


def name_roles(names) -> dict[str, int] | None:
    """Band index (1-based) of each role in ``names`` (band descriptions, class names) when
    they name a footprint and a boundary or contact band, else None."""
    names = [(n or "").strip().lower() for n in names]
    roles = {role: names.index(role) + 1 for role in ROLES if role in names}
    return roles if "footprint" in roles and len(roles) > 1 else None


def _repeats_one_band(src) -> bool:
    """Whether a multi-band integer raster repeats one band (in a sample), its alpha band
    aside: a grey class mask saved as RGB or RGBA (Massachusetts' 0/255 masks), never
    probabilities of classes."""
    from geotile.raster import sample_pixels

    bands = [b for b in range(1, src.count + 1) if b not in alpha_bands(src)]
    if len(bands) < 2 or np.dtype(src.dtypes[0]).kind not in "iu":
        return False
    sample = sample_pixels(src, bands)
    return bool((sample == sample[0]).all())


#: how far apart R, G and B of grey labels may lie after lossy compression (JPEG)
GREY_NOISE = 2


def near_grey(sample: np.ndarray) -> bool:
    """Whether sampled RGB pixels (3, n) are grey but for lossy noise: R, G and B within
    :data:`GREY_NOISE` of each other everywhere."""
    sample = sample.astype(np.int16)
    return bool((sample.max(axis=0) - sample.min(axis=0) <= GREY_NOISE).all())


def refuse_noisy_grey(src) -> None:
    """An untagged uint8 RGB raster whose bands differ by 1-2 but are grey (labels saved
    through JPEG) is an InputError: no colours for a palette, no softmax, but one band
    of grey labels to keep. Bands of 0/1 values (make-masks' channels) and bands that sum
    to 255 (a softmax) are not grey labels."""
    from rasterio.enums import ColorInterp

    from geotile.raster import sample_pixels

    rgb = (ColorInterp.red, ColorInterp.green, ColorInterp.blue)
    if src.count < 3 or src.dtypes[0] != "uint8" or tuple(src.colorinterp[:3]) != rgb:
        return
    sample = sample_pixels(src, [1, 2, 3]).reshape(3, -1)
    if src.nodata is not None:
        sample = sample[:, ~(sample == src.nodata).all(axis=0)]
    if not sample.size or (sample == sample[0]).all() or sample.max() <= 2 \
            or not near_grey(sample) \
            or (np.abs(sample.sum(axis=0, dtype=np.int32) - 255) <= 3).all():
        return
    name = Path(src.name).name
    raise InputError(f"{src.name}: its R, G and B bands repeat one grey band but for "
                     f"differences of up to {GREY_NOISE} (lossy compression): grey labels, not "
                     f"colours or probabilities. Keep one band: gdal_translate -b 1 {name} "
                     "labels.tif (ids the compression moved stay wrong there: export the "
                     "labels again without lossy compression).")


#: band descriptions that name a validity mask, not a class
_MASK_BANDS = frozenset({"mask", "valid", "validity", "valid_mask", "alpha", "nodata",
                         "no_data", "ignore"})


def _refuse_validity_band(src) -> None:
    """A truth of 2 untagged integer bands, band 1 class ids (a value past 1, or any below
    a band 2 described as a mask), band 2 a 0/1 or 0/255 validity mask not flagged alpha
    (undescribed, or described as a mask), is an InputError: read as a softmax it scores
    nothing. Flagged alpha, band 2 masks band 1 (GDAL's dataset mask); a hard softmax
    (bands summing to 1 or 255) is no such truth, nor is an undescribed pair whose band 1
    holds 0 and 255 alone (two binary masks, building and road: to describe)."""
    from geotile.raster import sample_pixels

    if src.count != 2 or alpha_bands(src) or np.dtype(src.dtypes[0]).kind not in "iu":
        return
    second = ((src.descriptions or (None, None))[1] or "").strip().lower().replace(" ", "_")
    if second and second not in _MASK_BANDS:
        return
    sample = sample_pixels(src, [1, 2]).reshape(2, -1).astype(np.int64)
    high = int(sample[1].max())
    sums = sample.sum(axis=0)
    if high not in (1, 255) or not np.isin(sample[1], (0, high)).all() \
            or (sample[0].max() <= 1 and not second) or (sums == sums[0]).all() \
            or (np.isin(sample[0], (0, 255)).all() and not second):
        return
    name = Path(src.name).name
    raise InputError(f"{src.name}: band 1 holds class ids and band 2 holds 0 and {high} only, "
                     "not the second band of a softmax. A validity mask? Flag it as the mask "
                     f"(gdal_edit.py -colorinterp_2 alpha {name}: its 0 pixels are then not "
                     f"scored), or keep band 1 alone (gdal_translate -b 1 {name} truth.tif)."
                     + ("" if second else " A class of its own? Score each band alone (-b 1, "
                        "then -b 2)."))


#: the most ids a band of a class layer holds (a sample's distinct values): more, and values
#: of 2..SCALED_PROBABILITY_IDS may be probabilities of a class rarely seen
LAYER_IDS = 32


def _refuse_class_layers(src, truth: bool = True) -> None:
    """A truth or prediction of several integer bands (described, each named: 'landcover',
    'building'; 'label'; or undescribed uint8 ones), one of them holding class ids past 1
    (few, at most :data:`SCALED_PROBABILITY_IDS`, in regions: :func:`_regions`; a
    prediction's, every id from 1 up in regions of its own: :func:`_id_regions`), its bands
    no softmax (summing to one value, or to the type's maximum as rounded soft labels do),
    is an InputError naming the band and the fix (keep one): its layers of classes would be
    read as probabilities x 1/255 (ids 0..3 all background) or band 1 alone be scored."""
    from geotile.raster import sample_pixels

    dtype = np.dtype(src.dtypes[0])
    bands = value_bands(src) or list(range(1, src.count + 1))
    names = _descriptions(src) if has_class_descriptions(src) else [None] * len(bands)
    if dtype.kind not in "iu" or dtype not in SCALED_PROBABILITY_IDS or len(bands) < 2:
        return
    sample = sample_pixels(src, bands).astype(np.int64)  # (bands, rows, cols)
    valid = np.ones(sample.shape[1:], bool) if src.nodata is None \
        else ~(sample == src.nodata).any(axis=0)
    sums = sample.sum(axis=0)[valid]
    if not sums.size or (sums == sums[0]).all() or _sums_to_one(src, np.iinfo(dtype).max):
        return  # a hard softmax, or one of bands rounded each (soft labels)
    held = [np.unique(band[valid]) for band in sample]
    index = next((i for i, ids in enumerate(held) if 1 < ids.max() <= SCALED_PROBABILITY_IDS[
        dtype] and len(ids) <= LAYER_IDS and _regions(sample[i], valid) and (
            truth or _id_regions(sample[i], valid, ids))), None)
    if index is None:
        return
    ids = held[index]
    name = Path(str(src.name)).name
    listed = ", ".join(_band(b, n) for b, n in zip(bands, names, strict=True))
    said = f" ({names[index]!r})" if names[index] else ""
    reads, other, out = ("evaluate scores one", "prediction's", "truth") if truth else (
        "one is read", "truth's", "prediction")
    raise InputError(f"{src.name}: band {bands[index]}{said} holds class ids "
                     f"{ids.min()}..{ids.max()}, so its {len(bands)} bands are layers of "
                     f"classes, not probabilities: {reads}. Keep the layer of the {other} "
                     f"classes: gdal_translate -b N {name} {out}.tif (N: "
                     f"{listed}); if they are probabilities, tag it: "
                     f"{_TAG_PROBABILITIES}{name}.")


def _band(band: int, name: str | None) -> str:
    """A band as a list names it: its number and description (2 'building')."""
    return f"{band} {name!r}" if name else str(band)


#: the share of a band's values >= 2 equal to their right and lower neighbours for them to
#: be regions of class ids (a land cover's parcels), not probabilities (a tail, noise)
REGION_SHARE = 0.5


def _regions(band: np.ndarray, valid: np.ndarray) -> bool:
    """Whether the values >= 2 of a sampled ``band`` (rows, cols) form regions of one value:
    :data:`REGION_SHARE` of them equal to their right and lower neighbours."""
    high = ((band >= 2) & valid)[:-1, :-1]
    inside = (band[:-1, :-1] == band[1:, :-1]) & (band[:-1, :-1] == band[:-1, 1:])
    return bool(high.any()) and (inside & high).sum() >= REGION_SHARE * high.sum()


def _id_regions(band: np.ndarray, valid: np.ndarray, ids: np.ndarray) -> bool:
    """Whether every id from 1 to the largest of ``ids`` occurs in a sampled ``band`` and
    forms regions of its own (:data:`REGION_SHARE` of its pixels amid 8 neighbours of the
    same id): a prediction's class ids, not a sigmoid's small values over flat areas,
    whose plateaus meet through thin steps of the values between along their edges."""
    return all(forms_regions(band, valid, value) for value in range(1, int(ids.max()) + 1))


def forms_regions(band: np.ndarray, valid: np.ndarray, value: int) -> bool:
    """Whether ``value`` occurs in a sampled ``band`` and :data:`REGION_SHARE` of its pixels
    lie amid 8 neighbours of the same value: a class id's parcels, not a step of a
    probability ramp."""
    from scipy import ndimage

    where = (band == value) & valid
    amid = ndimage.binary_erosion(where, np.ones((3, 3), bool))
    return bool(where.any()) and amid.sum() >= REGION_SHARE * where.sum()


def _refuse_colour_image(src) -> None:
    """An untagged raster that is plainly a photograph (RGB with a lossy codec, YCbCr or an
    alpha band: an orthotile, never a prediction) or colour-coded labels (ISPRS Potsdam's:
    a few colours of 0s and 255s) is an InputError: read as class probabilities it would
    give polygons of colours. Another 3-band uint8 raster stays ambiguous (GDAL marks any
    such file RGB) and is read as probabilities."""
    from rasterio.enums import ColorInterp

    if looks_like_colour_labels(src, pure=True):
        from geotile.palettes import palette_advice

        raise InputError(f"{src.name}: its RGB bands look like colour-coded labels, not class "
                         "ids or probabilities. Make a class mask first: geotile make-masks "
                         f"{Path(src.name).name} IMAGE -o mask.tif {palette_advice(src)}; "
                         "if it holds probabilities, tag it: "
                         f"{_TAG_PROBABILITIES}{Path(src.name).name}.")

    colours = {ColorInterp.red, ColorInterp.green, ColorInterp.blue}
    if src.count < 3 or not colours <= set(src.colorinterp):
        return
    structure = src.tags(ns="IMAGE_STRUCTURE")
    lossy = structure.get("COMPRESSION", "").upper() in ("JPEG", "YCBCR JPEG", "WEBP", "JXL")
    # an alpha band beside bands of 0 and 1 alone (a one-hot, make-masks' channels), or one
    # of bands summing to 255 (a softmax saved uint8 per band), is no photograph's
    photo = lossy or structure.get("SOURCE_COLOR_SPACE", "").upper() == "YCBCR" \
        or (ColorInterp.alpha in src.colorinterp and not _repeats_one_band(src)
            and not _holds_0_1(src) and not _sums_to_one(src, 255.0))
    if photo:
        raise InputError(f"{src.name}: an RGB image, not a prediction. Give the output of "
                         "`geotile predict` (probabilities or classes), or a mask; if it holds "
                         f"probabilities, tag it: {_TAG_PROBABILITIES}{Path(src.name).name}.")


_TAG_PROBABILITIES = "gdal_edit.py -mo GEOTILE_OUTPUT=probability "
#: band descriptions that name colours or sensor bands, not classes
_COLOUR_BANDS = frozenset({"red", "green", "blue", "alpha", "gray", "grey", "nir", "rgb",
                           "band_1", "band_2", "band_3", "band_4"})


def has_class_descriptions(src) -> bool:
    """Whether every band is described, and by names other than colours: class names, the
    mark of a prediction (an image's bands are undescribed or red, green, ...)."""
    names = _descriptions(src)
    return bool(names) and not any(n.strip().lower().replace(" ", "_") in _COLOUR_BANDS
                                   for n in names)


def class_names(src) -> list[str] | None:
    """Names by class id of a class raster: its GEOTILE_CLASS_NAMES tag (dataset or band 1),
    else its GDAL category names or attribute table (QGIS', ArcGIS', ENVI', ERDAS',
    make-masks'), else the labels of its QGIS paletted style (:func:`_qml_names`), else
    None. The one reader of a raster's class names (raster_kind adds a probability raster's
    band names); an unreadable tag is an InputError."""
    return (_names_tag(src, {**src.tags(1), **src.tags()}) or _category_names(src)
            or _qml_names(src))


def _qml_names(src) -> list[str] | None:
    """Names by id from the paletteEntry labels of the QGIS style saved beside an integer
    raster (its default style, ``<stem>.qml``: Paletted/Unique values), ids 0..254; an
    unlabelled id, or one labelled by its number (QGIS's default), is its number, or
    background for 0. None without one."""
    import xml.etree.ElementTree as ET

    path = Path(str(src.name)).with_suffix(".qml")
    if np.dtype(src.dtypes[0]).kind not in "iu" or not path.is_file():
        return None
    try:
        entries = ET.parse(path).getroot().iter("paletteEntry")
        labels = {int(float(e.get("value", ""))): (e.get("label") or "").strip()
                  for e in entries}
    except (ET.ParseError, ValueError, OSError):
        return None
    # QGIS labels each value by its number until renamed: that names nothing
    labels = {v: n for v, n in labels.items() if 0 <= v < 255 and n and n != str(v)}
    if not labels:
        return None
    zero = unnamed_zero(labels.values())
    return [zero if i == 0 and i not in labels else labels.get(i, str(i))
            for i in range(max(labels) + 1)]


def _category_names(src) -> list[str] | None:
    """The GDAL category names of an integer band 1 naming ids 0..254 (a name of 255 is
    the ignore value's: 'NoData', 'Unlabelled'; none past it); an unnamed id is its
    number, or background for 0."""
    from geotile.categories import read_categories

    if np.dtype(src.dtypes[0]).kind not in "iu":
        return None
    categories = read_categories(src)
    if categories and len(categories) == 256:
        categories = categories[:255]
        while categories and not categories[-1]:
            categories.pop()
    if not categories or len(categories) > 255:
        return None
    zero = unnamed_zero(categories)
    return [zero if i == 0 and not name else name or str(i)
            for i, name in enumerate(categories)]


def _names_tag(src, tags) -> list[str] | None:
    """GEOTILE_CLASS_NAMES: a JSON list (index = class id, or band for probabilities) or
    a JSON object {"id": name}."""
    text = tags.get("GEOTILE_CLASS_NAMES")
    if text is None:
        return None
    try:
        value = json.loads(text)
        if isinstance(value, dict):
            top = max(int(k) for k in value) if value else -1
            value = [str(value.get(str(i), i)) for i in range(top + 1)]
        if not isinstance(value, list):
            raise ValueError("not a list")
        return [str(v) for v in value] or None
    except (ValueError, TypeError) as exc:
        raise InputError(f"{src.name}: tag GEOTILE_CLASS_NAMES={text!r} is not a JSON list of "
                         "names. Fix it (gdal_edit.py -mo) or remove it.") from exc


def threshold_tag(src) -> float | None:
    """The GEOTILE_THRESHOLD tag of ``src`` (dataset or band 1), None when absent; a value
    that is no probability is an InputError naming the file."""
    return _number_tag(src, {**src.tags(1), **src.tags()}, "GEOTILE_THRESHOLD", 0.0, 1.0,
                       low_open=False)


def _number_tag(src, tags, key: str, low: float, high: float | None, *,
                low_open: bool) -> float | None:
    """A numeric tag between ``low`` (excluded when ``low_open``) and ``high`` (None: no
    bound), or None when absent; anything else is an InputError."""
    text = tags.get(key)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    ok = np.isfinite(value) and (value > low if low_open else value >= low) and (
        high is None or value <= high)
    if not ok:
        wanted = f"a number in [{low:g}, {high:g}]" if high is not None else "a positive number"
        raise InputError(f"{src.name}: tag {key}={text!r} is not {wanted}. Fix it "
                         "(gdal_edit.py -mo) or remove it.")
    return value


def _descriptions(src) -> list[str] | None:
    """Band descriptions as class names, when every band of values has one
    (:func:`value_bands`)."""
    descriptions = list(src.descriptions or [])
    alpha = mask_alpha_bands(src)
    descriptions = [d for b, d in enumerate(descriptions, start=1) if b not in alpha]
    if descriptions and all(descriptions):
        return [str(d) for d in descriptions]
    return None


#: how far past 0..1 a float probability may stray (rounding) before it is not one
PROBABILITY_TOLERANCE = 1e-6


def check_probabilities(values: np.ndarray, valid: np.ndarray, kind: RasterKind,
                        source=None) -> None:
    """Refuse a raster read as probabilities whose valid values (after its scale) leave
    [0, 1] by more than :data:`PROBABILITY_TOLERANCE`: class ids or 0..255 scores stored as
    floats, which a threshold would turn into one class, or integers past their scale (0..255
    tagged GEOTILE_SCALE=1, as a copy of predict's Float32 output made Byte keeps it). An
    InputError in one line naming ``source``; a cheap check of the window just read (no
    second pass over the raster)."""
    if kind.kind != "probability" or values.dtype.kind not in "fiu" or not values.size:
        return
    low, high = np.inf, -np.inf
    for band in values:  # NaN and nodata pixels are not valid
        kept = band[valid] if not valid.all() else band
        kept = kept[np.isfinite(kept)] if not np.isfinite(kept).all() else kept
        if kept.size:
            low, high = min(low, float(kept.min())), max(high, float(kept.max()))
    limit = PROBABILITY_TOLERANCE * kind.scale
    bad = low if low < -limit else high if high > kind.scale + limit else None
    if bad is None:
        return
    scaled = f" ({bad / kind.scale:g} after its scale {kind.scale:g})" if kind.scale != 1 else ""
    if values.dtype.kind in "iu":  # the scale is wrong (integers are never read as ids here)
        name = Path(str(source)).name if source is not None else "RASTER"
        full = np.iinfo(values.dtype).max
        scaled = f" ({bad / kind.scale:g} after its scale 1/{kind.scale:g})"
        if bad < 0:  # no scale makes a probability negative: a nodata value undeclared
            raise InputError(f"{source or 'raster'}: values reach {bad:g}{scaled}, negative: "
                             "no probability. If they mark pixels without data, declare "
                             f"that nodata: gdal_edit.py -a_nodata {bad:g} {name}.")
        raise InputError(f"{source or 'raster'}: values reach {bad:g}{scaled}: not "
                         "probabilities 0..1. If they are probabilities x "
                         f"{full}, give that scale (gdal_edit.py -scale {1 / full:.6g} -mo "
                         f"GEOTILE_SCALE={full} {name}); class ids: gdal_edit.py -mo "
                         f"GEOTILE_OUTPUT=class {name}.")
    if bad < 0:  # no integer type of ids holds them (-ot Byte clamps them to 0)
        name = Path(str(source)).name if source is not None else "RASTER"
        raise InputError(f"{source or 'raster'}: values reach {bad:g}{scaled}: not "
                         f"probabilities 0..1{LOGITS_HINT}; if {bad:g} marks pixels without "
                         f"data, declare it (gdal_edit.py -a_nodata {bad:g} {name}).")
    # a type that holds them: -ot Byte clamps ids above 255 (instance ids) to 255, one id
    wide = "Byte" if bad <= 255 else "UInt16" if bad <= 65535 else "UInt32"
    raise InputError(f"{source or 'raster'}: values reach {bad:g}{scaled}: not probabilities "
                     f"0..1. Write class ids as an integer raster (gdal_translate -ot {wide}), "
                     "or give probabilities 0..1.")


#: how far from 1 the bands of a softmax may sum per pixel (resampling, float16), past the
#: rounding of an integer type (half a step per band)
SOFTMAX_TOLERANCE = 0.1
#: the share of the valid pixels read whose bands may sum further from 1 (a few odd pixels)
SOFTMAX_STRAYS = 0.01


#: the fewest bands of 0 and one value that check_softmax calls a one-hot (fewer: solaris'
#: footprint, boundary and contact channels, 0 together outside buildings)
ONE_HOT_BANDS = 5


def check_softmax(values: np.ndarray, valid: np.ndarray, kind: RasterKind, source=None) -> None:
    """Refuse the bands of a raster read as a softmax on its values' word alone
    (:attr:`RasterKind.softmax_unsaid`) when they do not sum to 1 per pixel (past
    :data:`SOFTMAX_TOLERANCE`) in more than :data:`SOFTMAX_STRAYS` of the valid pixels read:
    independent probabilities (solaris' footprint, boundary and contact sigmoids, 0 together
    outside buildings), whose argmax with band 1 as background makes building interiors
    background; a one-hot's bands (:data:`ONE_HOT_BANDS` or more of 0 and one value) with
    pixels of no class name make-masks, which leaves them out. An InputError in one line naming
    ``source`` and how to say what the bands are; a check of the window just read."""
    if not kind.softmax_unsaid or kind.kind != "probability" or values.shape[0] < 2:
        return
    sums = values.sum(axis=0, dtype=np.float64) / kind.scale
    read = valid & np.isfinite(sums)
    total = int(np.count_nonzero(read))
    if not total:
        return
    tolerance = SOFTMAX_TOLERANCE
    if values.dtype.kind in "iu" and kind.scale > 1:  # 0/1 bands (scale 1) round nothing
        tolerance += values.shape[0] * 0.5 / kind.scale
    off = read & (np.abs(sums - 1) > tolerance)
    if np.count_nonzero(off) <= SOFTMAX_STRAYS * total:
        return
    name = Path(str(source)).name if source is not None else "RASTER"
    share = f"{np.count_nonzero(off) / total:.0%} of the pixels read"
    # DynamicEarthNet's labels: 5 bands or more (fewer: solaris' channels), 0 or one value
    if values.shape[0] >= ONE_HOT_BANDS and not sums[off].any() and (
            (values == 0) | (values == kind.scale))[:, read].all():
        raise InputError(
            f"{source or 'raster'}: one band per class (a one-hot of {values.shape[0]} bands), "
            f"{share} of no class, which no argmax tells. Make a mask of it, those pixels "
            f"left out (255): geotile make-masks {name} IMAGE -o truth.tif, and give that.")
    low, high = float(sums[off].min()), float(sums[off].max())
    span = f"{low:.2g}" if f"{low:.2g}" == f"{high:.2g}" else f"{low:.2g}..{high:.2g}"
    raise InputError(
        f"{source or 'raster'}: its {values.shape[0]} bands sum to {span}, not "
        f"1, in {share}, so they are no softmax "
        "whose band 1 is background (how bands without tags or descriptions are read). Say "
        "what they are: footprint, boundary and contact probabilities by their band "
        f"descriptions (rio edit-info -b 1 --description footprint {name}; -b 2 boundary; "
        "-b 3 contact), independent class probabilities by the tag (gdal_edit.py -mo "
        f"GEOTILE_BANDS=independent {name}), a softmax by GEOTILE_BANDS=exclusive.")


#: largest class id a class raster may hold (ids travel as int32)
MAX_CLASS_ID = 2**31 - 1


def class_ids(values: np.ndarray, valid: np.ndarray, kind: RasterKind,
              threshold: float, source=None) -> tuple[np.ndarray, np.ndarray]:
    """(ids (rows, cols), score float32 (rows, cols)) from raster values (bands, rows, cols).

    Class rasters: ids exactly as they are (a 0/255 mask's 128..255 are 1; uint8 stays uint8,
    wider types become int32; 0 is background; ids outside 0..MAX_CLASS_ID or with
    fractions are an InputError naming ``source``), score 1 (a read-only view).
    Probabilities: one band -> p >= threshold is class 1; several -> argmax (index 0 is
    background; without a background band, argmax + 1 where its p >= threshold, else 0;
    independent bands whose first is background's own: argmax where p >= threshold, else 0),
    decided in float64 for a Float64 raster (float32 rounds 0.4999999999 to 0.5);
    score = p (float32).
    """
    if kind.kind == "class":
        ids = _checked_class_ids(values[0], valid, source)
        if kind.binary_255:  # a stray from 128 up is 1 (kind_0_255)
            ids = (ids >= 128).astype(np.uint8)
        return ids, np.broadcast_to(np.float32(1), ids.shape)  # read-only, no memory
    check_softmax(values, valid, kind, source)
    exact = np.float64 if values.dtype == np.float64 else np.float32  # no float32 rounding
    probabilities = np.nan_to_num(values.astype(exact, copy=False) / exact(kind.scale))
    if probabilities.shape[0] == 1:
        ids = (probabilities[0] >= threshold).astype(np.uint8)
        score = probabilities[0].astype(np.float32, copy=False)
    else:
        wide = probabilities.shape[0] > 255
        ids = probabilities.argmax(axis=0).astype(np.int32 if wide else np.uint8)
        top = probabilities.max(axis=0)
        if not kind.background_band:
            ids = np.where(top >= threshold, ids + 1, 0).astype(ids.dtype)
        elif kind.independent_background:
            ids = np.where(top >= threshold, ids, 0).astype(ids.dtype)
        score = top.astype(np.float32, copy=False)
    ids[~valid] = 0
    return ids, score


#: class ids above these in an untagged class raster look like probabilities x the dtype's
#: maximum (uint16: above CORINE's codes, up to 999, and WorldCover's, up to 100)
SCALED_PROBABILITY_IDS = {np.dtype(np.uint8): 100, np.dtype(np.uint16): 1000}


def warn_if_scaled_probabilities(ids: np.ndarray, source) -> None:
    """Warn when an untagged uint8 or uint16 class raster holds ids above
    :data:`SCALED_PROBABILITY_IDS` (other than a uint8 0/255 mask's): most likely
    probabilities written as 0..255 or 0..65535 without GDAL's scale (read as classes
    "20" and "200")."""

    from geotile.errors import GeotileWarning

    limit = SCALED_PROBABILITY_IDS.get(ids.dtype)
    top = int(ids.max()) if ids.size else 0
    if limit is None or top <= limit:
        return  # few classes
    if ids.dtype == np.uint8 and kind_0_255(np.bincount(ids.ravel(), minlength=256)) \
            == "binary":
        return  # a 0/255 mask, a few strays aside
    name = Path(str(source)).name if source is not None else "raster"
    warn(f"{name}: class ids up to {top} and no class names: "
         f"{scale_advice(ids.dtype, name)}; read as class ids.", GeotileWarning)


#: a common full scale of probabilities below a uint16's 65535 (p x 10000, as reflectances)
TEN_THOUSAND = 10000


def largest_value(source, top: int) -> int:
    """The largest valid value of band 1 of the raster ``source``, read block by block (a
    refusal's advice: the block that failed holds ``top``, maybe not the largest);
    ``top`` where it cannot be read."""
    from geotile.raster import open_raster

    try:
        with open_raster(source) as src:
            for _, window in src.block_windows(1):
                band = src.read(1, window=window)
                if src.nodata is not None:
                    band = band[band != src.nodata]
                if band.size:
                    top = max(top, int(band.max()))
    except (InputError, OSError, ValueError):  # rasterio's errors are OSErrors
        pass
    return top


def scale_advice(dtype, name: str, top: int | None = None) -> str:
    """How to read an integer raster of probabilities x the dtype's maximum as such; x
    10000 when its largest value ``top`` is no more than :data:`TEN_THOUSAND` (a sigmoid's
    most confident pixel short of 1; x 65535 it would top out at p = 0.15, nothing
    predicted)."""
    full = TEN_THOUSAND if top is not None and top <= TEN_THOUSAND else np.iinfo(dtype).max
    return (f"if it holds probabilities scaled to 0..{full}, set its scale first "
            f"(gdal_edit.py -scale {1 / full:.6g} {name})")


def warn_if_lossy_ids(src, path, effect: str) -> None:
    """One warning when a raster of class ids (not a 0/255 mask, whose strays are read from
    128 up) is JPEG- or WebP-compressed: the codec moves ids near class edges to
    neighbouring or new ones; ``effect`` says what that does to the command's result."""

    from geotile.errors import GeotileWarning
    from geotile.raster import lossy_codec

    if not (codec := lossy_codec(src)) or values_0_255(src, nodata=True) == "binary":
        return
    warn(f"{path}: class ids from a {codec}-compressed (lossy) raster: the codec "
         f"moves ids near class edges to neighbouring or new ones, {effect}. Export "
         "the labels losslessly (PNG or GeoTIFF) from their source.", GeotileWarning)


#: what warn_if_other_class_bands says of band 1 of each kind of input, which other band's
#: classes may be meant, and the file the fix writes
_READ_BY = {"truth": ("the truth scored", "the prediction's classes are", "truth"),
            "prediction": ("the prediction read", "the truth's classes are", "prediction"),
            "vectorize": ("the one vectorized", "the classes wanted are", "classes")}


def warn_if_other_class_bands(src, path, side: str = "truth") -> None:
    """One warning when a class truth, prediction (``side``) or raster to vectorize of
    several unnamed bands (no roles, no alpha) is read by its band 1 and another band holds
    other ids in a sample (SEN12MS's lc_ rasters: IGBP, then three LCCS schemes; uint16
    layers, which raster_kind does not refuse): band 1 alone is read."""

    from geotile.errors import GeotileWarning
    from geotile.raster import alpha_bands, sample_pixels

    others = [b for b in range(2, src.count + 1) if b not in alpha_bands(src)]
    if not others or any(src.descriptions or ()) or band_roles(src):
        return
    sample = sample_pixels(src, [1, *others])
    if all((band == sample[0]).all() for band in sample[1:]):  # a grey RGB: one band
        return
    read, other, out = _READ_BY[side]
    said = (f"band 1 of its {src.count} unnamed bands of class ids is {read}; where "
            f"{other} another band's, give that one (gdal_translate -b N {{}} {out}.tif).")
    name = Path(str(path)).name  # the advice of a folder's other truths said once, for all
    warn(GeotileWarning(f"{path}: {said.format(name)}", about=name,
                        advice=said.format("<truth>")))

def warn_if_scaled_class_raster(src, kind: RasterKind, source,
                                ignore: int | None = None) -> None:
    """:func:`warn_if_scaled_probabilities` from a sample of an open raster read as
    ``kind`` (its nodata value and ``ignore`` left out), for an untagged class raster of a
    dtype it checks; never for a 0/255 mask (:func:`kind_0_255` of all its pixels)."""
    if kind.kind != "class" or kind.names is not None or kind.binary_255 \
            or np.dtype(src.dtypes[0]) not in SCALED_PROBABILITY_IDS:
        return
    from geotile.raster import sample_pixels

    sample = sample_pixels(src, 1)[0]
    if sample.dtype == np.uint8 and sample.size and sample.max() > 100:  # scan: 0/255?
        counts = counts_0_255(src)
        if counts is not None and kind_0_255(counts) == "binary":
            return
    left_out = [v for v in (src.nodata if reads_nodata(src, kind) else None, ignore)
                if v is not None]
    if left_out:
        sample = np.where(np.isin(sample, left_out), 0, sample).astype(sample.dtype)
    warn_if_scaled_probabilities(sample, source)


def whole_float_ids(band: np.ndarray, valid: np.ndarray, source) -> np.ndarray:
    """A float class band's ids (0 where invalid or not finite); InputError when one is not
    a whole number (a float raster of probabilities?), never rounded or cut."""
    band = np.where(valid & np.isfinite(band), band, 0)
    if not np.array_equal(band, np.round(band)):
        raise InputError(f"{source or 'raster'}: class ids are not whole numbers (a float "
                         "raster of probabilities?). Give a class raster of integer ids, "
                         "or tag it GEOTILE_OUTPUT=probability.")
    return band


def value_text(value) -> str:
    """A class id as a message shows it: an integer's digits; a float past 2**53 as the
    float it is (an undeclared float32-minimum nodata: -3.4028234663852886e+38, which
    gdal_edit.py -a_nodata takes exactly, not 39 digits)."""
    if isinstance(value, float | np.floating) and not abs(value) < 2**53:
        return repr(float(value))
    return str(int(value))


def _checked_class_ids(band: np.ndarray, valid: np.ndarray, source) -> np.ndarray:
    if band.dtype == np.uint8:
        return np.where(valid, band, np.uint8(0))
    floats = band.dtype.kind == "f"
    band = whole_float_ids(band, valid, source) if floats else np.where(valid, band, 0)
    if band.size:
        low, high = band.min(), band.max()
        bad = low if low < 0 else high if high > MAX_CLASS_ID else None
        if bad is not None:
            bad = value_text(bad)
            raise InputError(
                f"{source or 'raster'}: class id {bad} is outside 0..{MAX_CLASS_ID}. If "
                f"{bad} marks no data, declare it as the raster's nodata value "
                f"(gdal_edit.py -a_nodata {bad}){LOGITS_HINT if floats and low < 0 else ''}.")
    return band.astype(np.int32)


#: what a float raster read as class ids holding negative ones may be: raw model outputs
LOGITS_HINT = ("; if they are a model's logits, apply its sigmoid or softmax (probabilities "
               "0..1, as geotile predict writes them)")


def looks_like_colour_labels(src, pure: bool = False) -> bool:
    """Whether an open raster looks like colour-coded labels (ISPRS Potsdam's): uint8 RGB
    bands of a few colours (not a photo), two or more bands above 1 and not all equal
    (Massachusetts' grey 0/255 masks repeat one binary band). ``pure``: only colours of
    0 and 255 in each band (Potsdam's, Vaihingen's, DeepGlobe land cover's), which tells
    them from three bands of probabilities that happen to take few values. Pixels of the
    raster's nodata are no colour; bands named as roles or classes (footprint, boundary,
    contact: make-masks' channels, their tags lost by a copy) are no colours at all."""
    from rasterio.enums import ColorInterp

    rgb = (ColorInterp.red, ColorInterp.green, ColorInterp.blue)
    if src.count < 3 or src.dtypes[0] != "uint8" or tuple(src.colorinterp[:3]) != rgb \
            or {"GEOTILE_OUTPUT", "GEOTILE_CLASS_NAMES"} & set(src.tags()) \
            or has_class_descriptions(src):  # geotile's own; bands of roles or classes
        return False
    from geotile.raster import sample_pixels

    sample = sample_pixels(src, [1, 2, 3]).reshape(3, -1)
    if src.nodata is not None:  # an image edge's 255 rows are no white class
        sample = sample[:, ~(sample == src.nodata).all(axis=0)]
    if not sample.size:
        return False
    grey = near_grey(sample)  # JPEG's grey labels too: one band to keep, no palette
    codes = sample[0].astype(np.int32) << 16 | sample[1].astype(np.int32) << 8 | sample[2]
    few = len(np.unique(codes)) <= 64  # a palette's colours, not a photo's thousands
    if pure and not np.isin(sample, (0, 255)).all():
        return False
    from geotile.palettes import one_colour_on_black

    return few and not grey and (int((sample.max(axis=1) > 1).sum()) >= 2
                                 or one_colour_on_black(
                                     src, codes if src.nodata is None else None) is not None)


#: a uint8 raster is a 0/255 mask when at least this share of its valid pixels is 0 or 255,
#: 255 outnumbering the other values (strays of resampling or JPEG)
BINARY_SHARE = 0.99
#: ... or at least this share, its strays the noise of 0 <-> 255 edges (:func:`edge_noise`)
NOISY_BINARY_SHARE = 0.5
#: a stray within this many pixels (a square) of both a 0 and a 255 is edge noise: JPEG's
#: 8 px blocks ring up to 7 px from an edge, its exact values a few px further
EDGE_RADIUS = 6
#: ... and at least this share of the strays must be (JPEG q50-95 and resampled masks: 95 %
#: or more; instance ids: 3 % at most; grey class masks of 10 px blocks: 31 %)
EDGE_SHARE = 0.75
#: about this many pixels a band of strips of the 0/255 scan reads
_SCAN_PIXELS = 1 << 16
#: counts_0_255 of the rasters already scanned, by file (:func:`per_file`), oldest first
_SCANNED: dict[tuple, np.ndarray | None] = {}


def values_0_255(label, nodata: bool = False) -> str | None:
    """"binary" when a uint8 label raster is a 0/255 mask (INRIA's, Massachusetts' and
    DeepGlobe's road ground truth; one band, or grey in three): 255 is then the positive
    class (id 1), as tile, evaluate and make-masks read it, not the ignore value; "zeros"
    when it holds only 0; else None (:func:`kind_0_255` of :func:`counts_0_255`). A raster
    declaring nodata is None unless ``nodata`` (make-masks: its 0 is background)."""
    if label.nodata is not None and not nodata:
        return None
    counts = counts_0_255(label)
    kind = kind_0_255(counts) if counts is not None else None
    return kind if kind in ("binary", "zeros") else None


def kind_0_255(counts: np.ndarray) -> str | None:
    """The one rule of a 0/255 mask, from band 1's value counts (256, or 257 with
    :func:`counts_0_255`'s edge strays last): "binary" when 255 is there and the other
    values (strays) are at most 1 - BINARY_SHARE of the pixels, fewer than the 255s and some
    from 128 up, or at most 1 - NOISY_BINARY_SHARE and :func:`edge_noise` (JPEG's,
    resampling's; read >= 128 as 1); "zeros" when all are 0; "low" when a few strays are all
    below 128 (class ids, 255 to ignore); else None."""
    values = counts[:256]
    high, others = int(values[255]), int(values[1:255].sum())
    if not others:
        return "binary" if high else "zeros"
    if high == 0:
        return None
    if others <= high and others <= (1 - BINARY_SHARE) * values.sum():
        return "binary" if values[128:255].any() else "low"
    noisy = others <= (1 - NOISY_BINARY_SHARE) * values.sum() and edge_noise(counts)
    return "binary" if noisy else None


def edge_noise(counts: np.ndarray) -> bool:
    """Whether the values 1..254 of (257,) counts look like the noise JPEG or resampling
    leave at 0 <-> 255 edges, not class or instance ids: three values or more, a tenth of
    them from 128 up, and at least EDGE_SHARE of them within EDGE_RADIUS px of both a 0 and
    a 255 (counts[256]; ids fill regions of their own, away from one or the other)."""
    strays = counts[1:255]
    total = strays.sum()
    return bool(np.count_nonzero(strays) >= 3 and strays[127:].sum() >= 0.1 * total
                and len(counts) > 256 and counts[256] >= EDGE_SHARE * total)


def edge_share(label) -> float:
    """The share of the strays (1..254) of a uint8 raster that lie at its 0 <-> 255 edges
    (:func:`counts_0_255`; 0 when it has none or is no 0/255 mask candidate)."""
    counts = counts_0_255(label)
    strays = int(counts[1:255].sum()) if counts is not None else 0
    return int(counts[256]) / strays if strays else 0.0


def counts_0_255(label) -> np.ndarray | None:
    """(257,) counts of band 1's values over the valid pixels (every pixel for a nodata of
    0: a mask's background), then of its strays (1..254) within EDGE_RADIUS px of both a 0
    and a 255, of a raster of one band or R = G = B (an alpha band aside; a colour table's
    indices too: PIL's "P" masks) holding whole numbers 0..255 (uint8, or a wider integer or
    float type: a 0/255 mask exported as UInt16 or Float32; NaN left out), or None: another
    raster, or one seen not to be a 0/255 mask (bands that differ, too many strays or too
    many away from edges, or more than a few all below 128). Read in bands of rows,
    stopping there; once per file (cached: :func:`per_file`)."""
    alpha = set(alpha_bands(label))
    if not may_hold_0_255(label.dtypes[0]) or label.count not in (1, 2, 3, 4) or (
            alpha & ({1} if label.count <= 2 else {1, 2, 3})) or (
            label.count == 2 and alpha != {2}):
        return None
    return per_file(_SCANNED, label, _scan_0_255)


def _any_block(src, hit) -> bool:
    """Whether ``hit(block)`` holds for a block of band 1: read block by block, stopping at
    the first."""
    return any(hit(src.read(1, window=window)) for _, window in src.block_windows(1))


def _scan_0_255(label) -> np.ndarray | None:
    """:func:`counts_0_255` from bands of whole rows of ``label`` (uncached); a band's edge
    strays are counted once the rows below it are read."""
    from rasterio.windows import Window

    from geotile.raster import has_nodata

    bands = [1] if label.count <= 2 else [1, 2, 3]
    masked = label.nodata != 0 and has_nodata(label)
    pixels = label.width * label.height
    few, limit = (1 - BINARY_SHARE) * pixels, (1 - NOISY_BINARY_SHARE) * pixels
    (step, block_width), rows = label.block_shapes[0], 2 * EDGE_RADIUS
    if block_width >= label.width:  # strips: about _SCAN_PIXELS; else one row of blocks
        rows = max(rows, _SCAN_PIXELS // max(label.width, 1))
    rows = -(-rows // step) * step  # whole blocks, each decoded once
    counts = np.zeros(257, np.int64)
    judged = 0  # strays whose neighbourhood is complete (counted in counts[256] if at edges)
    held = None  # (rows above, values, strays) of the band waiting for the rows below
    for top in range(0, label.height, rows):
        window = Window(0, top, label.width, min(rows, label.height - top))
        block = label.read(bands, window=window)
        if len(bands) > 1 and not ((block[0] == block[1]).all() and (block[1] == block[2]).all()):
            return None
        valid = label.dataset_mask(window=window) > 0 if masked else None
        if block.dtype != np.uint8:  # whole numbers 0..255, or no 0/255 mask
            finite = np.isfinite(block[0]) if block.dtype.kind == "f" else None
            if finite is not None and not finite.all():
                valid = finite if valid is None else valid & finite
            seen = block[0] if valid is None else block[0][valid]
            if seen.size and (seen.min() < 0 or seen.max() > 255
                              or (seen.dtype.kind == "f" and (seen != np.round(seen)).any())):
                return None
            block = block[:1] if valid is None else np.where(valid, block[:1], 0)
            block = block.astype(np.uint8)
        values = block[0]
        strays = (values > 0) & (values < 255)
        if valid is not None:
            counts[:256] += np.bincount(values[valid], minlength=256)
            strays &= valid
        else:
            counts[:256] += np.bincount(values.ravel(), minlength=256)
        if held is not None:
            counts[256] += count_edge_strays(*held, values[:EDGE_RADIUS])
            judged += int(held[2].sum())
        held = (held[1][-EDGE_RADIUS:] if held else values[:0], values, strays)
        # stop once no rest could make it a mask: too many strays, more than a few all below
        # 128 (an edge's noise has values on both sides of 128 together; never on the order
        # of the blocks alone: an antialiased edge may come before its 255s) or too many
        # away from the edges for edge noise
        total = counts[1:255].sum()
        far = judged - counts[256]
        if total > limit or (total > few and (not counts[128:255].any()
                                              or far > (1 - EDGE_SHARE) * limit)):
            return None
    if held is not None:
        counts[256] += count_edge_strays(*held, held[1][:0])
    return counts


def may_hold_0_255(dtype) -> bool:
    """Whether a raster of ``dtype`` may be a 0/255 mask (:func:`counts_0_255` decides):
    uint8, or an integer type holding 255, or a float one."""
    dtype = np.dtype(dtype)
    return dtype.kind == "f" or (dtype.kind in "iu" and np.iinfo(dtype).max >= 255)


def count_edge_strays(above: np.ndarray, values: np.ndarray, strays: np.ndarray,
                 below: np.ndarray) -> int:
    """How many ``strays`` of the rows ``values`` lie within EDGE_RADIUS px of both a 0 and
    a 255, ``above`` and ``below`` the rows around them."""
    if not strays.any():
        return 0
    stack = np.concatenate([above, values, below])
    if stack.min() > 0 or stack.max() < 255:
        return 0
    from scipy import ndimage  # only here: its import costs more than a 0/1 mask's scan

    size, rows = 2 * EDGE_RADIUS + 1, slice(len(above), len(above) + len(values))
    near = (ndimage.minimum_filter(stack, size)[rows] == 0) & (
        ndimage.maximum_filter(stack, size)[rows] == 255)
    return int((strays & near).sum())




def check_threshold_applies(rasters) -> None:
    """A UsageError when no raster takes --threshold: every one holds class ids, or
    exclusive probabilities (softmax, band 1 background), whose argmax it changes not."""
    from geotile.errors import UsageError
    from geotile.input_paths import input_exists
    from geotile.raster import open_raster

    if not rasters:
        return
    advice = softmax = None
    for path in rasters:
        if not input_exists(path):
            return
        with open_raster(path) as src:
            kind = raster_kind(src, threshold_given=True)
            if kind.kind != "class":
                if not kind.background_band or kind.independent_background \
                        or src.count - len(mask_alpha_bands(src)) < 2:
                    return
                softmax = softmax or Path(str(path)).name
                continue
            dtype = np.dtype(src.dtypes[0])
            if advice is None and kind.names is None and dtype in SCALED_PROBABILITY_IDS \
                    and not binary_mask_kind(src, kind).binary_255:  # untagged 0..255?
                advice = scale_advice(dtype, Path(str(path)).name)
    if softmax:
        raise UsageError(f"{softmax}: --threshold changes nothing on its exclusive class "
                         "probabilities (softmax, band 1 background): each pixel is its most "
                         "probable class. Leave --threshold out.")
    name = Path(str(rasters[0])).name
    fix = f"{advice}, or else leave --threshold out" if advice else "leave it out"
    raise UsageError(f"{name} holds class ids, not probabilities: --threshold applies to "
                     f"probability rasters only; {fix}.")


def no_data_ids(names) -> list[int]:
    """The ids whose names (one per id, from 0) say no data (:func:`names_no_data`)."""
    return [i for i, name in enumerate(names or ()) if names_no_data(name, i)]


@dataclass(frozen=True)
class ZeroNodata:
    """What a class raster's declared nodata 0 means (:func:`zero_nodata`)."""

    #: 0 is class 0 (kept, background unless named a class), not no data
    background: bool
    #: the values other than 0 found (the first two or one), for the message
    values: tuple
    #: its pixels, and those that are 0
    pixels: int
    zeros: int
    #: decided by the raster's own name for id 0 or its GEOTILE_ZERO tag (no warning)
    named: bool = False
    #: a 0/255 mask (its 0 background by that rule, whatever the rest of its run holds)
    binary: bool = False


#: the one class id of a mask whose declared nodata 0 is its background (gdal_rasterize
#: -burn 1 or -burn 255 -a_nodata 0, QGIS' Rasterize); another one alone is a class (a
#: land-cover tile of water only) beside no data
MASK_IDS = frozenset({1, 255})


#: the tag tile writes on mask patches whose declared nodata 0 it read as no data, so that
#: every command reads a patch as tile read its source: "nodata" or "background"
ZERO_TAG = "GEOTILE_ZERO"


#: zero_nodata of the rasters already scanned, by file (:func:`per_file`)
_ZERO_NODATA: dict[tuple, ZeroNodata] = {}


def zero_nodata(src, run_nodata: bool = False) -> ZeroNodata | None:
    """What the declared nodata 0 of a class or label raster means; None when it declares
    no nodata 0. Its :data:`ZERO_TAG` decides first, then its own name for id 0
    (GEOTILE_CLASS_NAMES, category names): a name of no data (:func:`names_no_data`) makes
    it no data, any other name (background, a class) keeps it. Unnamed, 0 is background
    when the only value besides it is a mask's 1 or 255 (:data:`MASK_IDS`: gdal_rasterize
    -burn 1 -a_nodata 0, QGIS' Rasterize) or none, else (another id alone, several ids:
    land cover's "not surveyed") no data; ``run_nodata`` (:func:`run_zero_nodata`): no
    data but in a 0/255 mask. The one rule of make-masks, tile and evaluate; band 1 is read
    block by block (its zeros counted exactly), once per file (:func:`warn_zero_nodata`
    says what it decided)."""
    if src.nodata is None or src.nodata != 0:
        return None
    meaning = _cached_zero_nodata(src)
    if run_nodata and meaning.background and not (meaning.named or meaning.binary):
        return replace(meaning, background=False)
    return meaning


def run_zero_nodata(meanings) -> bool:
    """Whether one run's rasters (one dataset: tile's masks, one side of evaluate's folders)
    read the declared nodata 0 of every unnamed one as no data (:func:`zero_nodata`'s
    ``run_nodata``): when one of them holds several class ids, so that a tile holding 0 and
    one class reads like its neighbours."""
    return any(m is not None and not m.named and not m.background for m in meanings)


def _cached_zero_nodata(src) -> ZeroNodata:
    """:func:`zero_nodata` of one raster alone, once per file."""
    return per_file(_ZERO_NODATA, src, _zero_nodata)


def _zero_nodata(src) -> ZeroNodata:
    """:func:`zero_nodata`, uncached."""
    from geotile.categories import read_categories
    from geotile.class_keys import class_key

    pixels = src.width * src.height
    tags = {**src.tags(1), **src.tags()}
    if tags.get(ZERO_TAG) in ("nodata", "background"):
        return ZeroNodata(tags[ZERO_TAG] == "background", (), pixels, 0, named=True)
    names = _names_tag(src, tags) or (read_categories(src)
                                      if np.dtype(src.dtypes[0]).kind in "iu" else None)
    if names and class_key(names[0]) not in ("", "0"):
        return ZeroNodata(not names_no_data(names[0]), (), pixels, 0, named=True)
    if values_0_255(src, nodata=True) == "binary":
        counts = counts_0_255(src)
        return ZeroNodata(True, (255,), pixels, int(counts[0]), binary=True)
    ignore = 255 if src.dtypes[0] == "uint8" else None  # make-masks' ignore value: no class
    found: set = set()
    zeros = 0
    for _, window in src.block_windows(1):
        block = src.read(1, window=window)
        zeros += int(np.count_nonzero(block == 0))
        if len(found) > 1:  # decided: the zeros alone, for the share left out
            continue
        held = (block != 0) & (block != ignore) if ignore is not None else block != 0
        if block.dtype.kind == "f":
            held &= ~np.isnan(block)  # NaN: no class
        found.update(np.unique(block[held]).tolist())
    if len(found) > 1 or not found <= MASK_IDS:  # several ids, or one not a mask's: no data
        return ZeroNodata(False, tuple(sorted(found)[:2]), pixels, zeros)
    return ZeroNodata(True, tuple(found), pixels, zeros)


def warn_zero_nodata(names, meanings) -> None:
    """One warning for the rasters ``names`` whose declared nodata 0 :func:`zero_nodata`
    read as ``meanings`` (those it decided by value; once per command run): their 0 read
    as background, or as no data with the share of their pixels left out and the fix; none
    of a raster holding no 0 (an inland WorldCover tile): nothing to decide."""

    from geotile.errors import GeotileWarning

    said = [(str(n), m) for n, m in zip(names, meanings, strict=True)
            if m is not None and not m.named and m.zeros]  # no 0 held: nothing to say
    for background in (True, False):
        hit = [(n, m) for n, m in said if m.background == background]
        if not hit:
            continue
        first = hit[0][0]
        more = f" and {len(hit) - 1} other rasters" if len(hit) > 1 else ""
        if background:
            values = hit[0][1].values
            what = f"a 0/{values[0]:g} mask" if values else "an all-0 mask"
            text = (f"{first}{more}: {what} declaring nodata 0 (as gdal_rasterize -a_nodata "
                    "0 writes): its 0 is read as background, not as no data.")
            if values and values[0] != 255:  # land cover of one class (water 1) beside no data
                fix = f"on each, e.g. {first}" if more else first
                text += (" If 0 is no data (a land-cover clip of one class), say so: "
                         f"gdal_edit.py -mo {ZERO_TAG}=nodata {fix}")
        else:
            zeros = sum(m.zeros for _, m in hit)
            pixels = sum(m.pixels for _, m in hit)
            values = hit[0][1].values
            shown = (f"class ids ({', '.join(f'{v:g}' for v in values)}, ...)"
                     if len(values) > 1 else f"class id {values[0]:g}" if values
                     else "no class id")
            fix = f"on each, e.g. {first}" if more else first
            text = (f"{first}{more}: {shown} and nodata 0: its 0 is read as no "
                    f"data, {100 * zeros / max(pixels, 1):.0f}% of the pixels left out. If 0 is "
                    f"background, unset its nodata (gdal_edit.py -unsetnodata {fix}).")
        warn(text, GeotileWarning)
