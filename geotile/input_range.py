"""The input's value range against the model's: an integer-input model's range checked
from the bands' types (and the whole image's pixels when a batch leaves it), and a warning
when pixels that want --scale reach the model as they are."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from geotile.errors import GeotileWarning, InputRangeError, ModelError
from geotile.user_warnings import warn


@contextlib.contextmanager
def whole_range_advice(range_check):
    """A batch that leaves an integer-input model's range (InputRangeError) names a --scale
    from the whole image's range (:func:`check_input_range`), not from that batch's."""
    try:
        yield
    except InputRangeError:
        check_input_range(*range_check, whole=True)
        raise


def check_input_range(model, src, indexes, extra, read, scaled: bool, image_path,
                       whole: bool = False) -> None:
    """The image's range against an integer-input model's (``model.check_input_range``):
    before any batch from its bands' types alone (nothing read; types whose range does not
    fit are left to the batches), and with ``whole`` (a batch left the range) from all its
    pixels, read once, so that the --scale named fits every pixel (``read`` of
    :func:`geotile.predict._stacked_reader`; ``scaled``: it gives pixels times the scale)."""
    if not np.issubdtype(getattr(model, "input_type", np.float32), np.integer):
        return
    dtypes = [np.dtype(src.dtypes[i - 1]) for i in indexes] + list(
        extra.dtypes if extra is not None else [])
    # each further date of ``extra`` (a DateStack's dates, else the one ExtraBands), as
    # extra_bands.each_date gives them (not imported: extra_bands takes shown_values from here)
    dates = [] if extra is None else list(getattr(extra, "dates", [extra]))
    owners = [None] * len(indexes) + [d.path for d in dates for _ in range(d.count)]
    if not whole:
        if all(d.kind in "iu" for d in dtypes):
            with contextlib.suppress(ModelError):  # the types' own ranges fit
                model.check_input_range([np.iinfo(d).min for d in dtypes],
                                        [np.iinfo(d).max for d in dtypes], image_path, owners)
        return
    lows = np.full(len(dtypes), np.inf)
    highs = np.full(len(dtypes), -np.inf)
    step = 1024
    for top in range(0, src.height, step):
        for left in range(0, src.width, step):
            pixels, valid = read(left, top, min(step, src.width - left),
                                 min(step, src.height - top))
            if valid.any():
                values = pixels[:, valid]
                lows = np.minimum(lows, values.min(axis=1))
                highs = np.maximum(highs, values.max(axis=1))
    if np.isfinite(lows).all():
        scale = (getattr(model, "_scale", None) or 1.0) if scaled else 1.0
        model.check_input_range(lows / scale, highs / scale, image_path, owners)


def warn_one_scale_over_types(model, typed) -> None:
    """Warn once when an explicit --scale multiplies images of different pixel types
    (``typed``: (name, dtype of the bands fed) per image; integers by type, floats as one):
    the scale fits one type's range, and the others' pixels reach the model on another
    (uint8 times a 16-bit scale: 0..0.0039 where the uint16 images reach 0..1)."""
    scale = getattr(model, "_scale", None)
    if scale is None:
        return
    first: dict = {}
    for name, dtype in typed:
        dtype = np.dtype(dtype)
        first.setdefault(dtype if dtype.kind in "iub" else "float", (name, dtype))

    def reach(dtype) -> str:
        if dtype.kind not in "iub":
            return "their values times it"
        info = np.iinfo(dtype) if dtype.kind != "b" else np.iinfo(np.uint8)
        low, high = sorted((info.min * scale, info.max * scale))
        return f"{low:.3g}..{high:.3g}"

    if len(first) < 2:
        return
    shown = ", ".join(f"{name}'s {dtype} {reach(dtype)}" for name, dtype in first.values())
    warn(f"--scale {scale:.3g} multiplies every image's pixels alike, but they are of "
         f"{len(first)} types, which reach the model on different ranges ({shown}): "
         "predict each type in its own run with its own --scale (or convert them to "
         "one type first: gdal_translate -ot Byte -scale).", GeotileWarning)


def _declared_scaling_hint(model, src, indexes: list[int], added: int) -> str | None:
    """What to give for the values ``src`` declares for its ``indexes`` bands (GDAL scale
    and offset, value = pixel * scale + offset), else None when it declares none."""
    scales = [src.scales[i - 1] for i in indexes]
    offsets = [src.offsets[i - 1] for i in indexes]
    if all(s == 1 for s in scales) and not any(offsets):
        return _reflectance_hint(src)
    declared = (f"the raster declares scale {shown_values(scales)} and offset "
                f"{shown_values(offsets)} (value = pixel * scale + offset)")
    fix, flags = _declared_fix(model, scales, offsets, added)
    return f"{declared}: {fix}; --scale 1 keeps the pixels" if flags else f"{declared}; {fix}"


def _reflectance_hint(src) -> str | None:
    """What to give for the reflectance an ENVI header's 'reflectance scale factor' (AVIRIS,
    AVIRIS-NG: 10000) declares its pixels to be times, else None."""
    text = src.tags(ns="ENVI").get("reflectance_scale_factor") if src.driver == "ENVI" else None
    try:
        factor = float(text)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(factor) or factor <= 0 or factor == 1:
        return None
    return (f"its ENVI header declares reflectance scale factor {factor:g} (reflectance = "
            f"pixel / {factor:g}): give --scale {1 / factor:.6g} if it was trained on "
            "reflectance; --scale 1 keeps the pixels")


def shown_values(values) -> str:
    """Band values as a warning names them: each distinct one once, in band order."""
    return ",".join(f"{v:.12g}" for v in dict.fromkeys(values))


def _declared_fix(model, scales, offsets, added: int) -> tuple[str, bool]:
    """How to feed the values bands declaring ``scales`` and ``offsets`` hold: the flags
    (``model.declared_flags``; True), else a conversion first (False)."""
    flags = model.declared_flags(scales, offsets) if not added else None
    if flags is None:
        return ("to feed those values convert it first (gdal_translate -unscale -ot Float32) "
                "or give --scale"), False
    plus = ", plus the model's mean" if any(getattr(model, "_mean", ())) else ""
    return (f"to feed those values give {flags} (--mean subtracts after --scale: the offset "
            f"negated{plus})"), True


def warn_extra_declared(extra) -> None:
    """Warn when the --extra-bands raster ``extra`` (:class:`geotile.extra_bands.ExtraBands`)
    declares values other than its pixels (GDAL scale/offset: an nDSM in uint16 centimetres
    of scale 0.01): they reach the model as they are, as its patches hold them."""
    declared = extra.band_metadata()
    scales, offsets = [b[2] for b in declared], [b[3] for b in declared]
    if all(s == 1 for s in scales) and not any(offsets):
        return
    shown = ",".join(f"{v:.12g}" for v in dict.fromkeys(scales))
    moved = ",".join(f"{v:.12g}" for v in dict.fromkeys(offsets))
    name = extra.path.name
    warn(f"{name}: the --extra-bands raster declares scale {shown} and offset {moved} "
         "(value = pixel * scale + offset), but its pixels go to the model as they "
         "are. To feed those values convert it first: gdal_translate -unscale -ot "
         f"Float32 {name} {extra.path.stem}_values.tif.", GeotileWarning)


def warn_unscaled(model, src, indexes: list[int], added: int, name: str) -> None:
    """:func:`warn_if_unscaled` for the bands ``indexes`` of ``src``, else
    :func:`_warn_declared_unapplied`."""
    from geotile.pixel_encoding import declared_top, planet_radiance_hint

    if not warn_if_unscaled(model, [np.dtype(src.dtypes[i - 1]) for i in indexes],
                             lambda: _float_top(src, indexes), name,
                             lambda: _declared_scaling_hint(model, src, indexes, added)
                             or planet_radiance_hint(src),
                             full=declared_top(src, indexes)):
        _warn_declared_unapplied(model, src, indexes, added, name)


#: the means of backscatter in dB a model may declare (of power 1e-5..0.8)
DB_MEANS = (-50.0, -1.0)
#: the highest mean of linear power or amplitude
POWER_MEAN_TOP = 1.0
#: pixels of a median below it may be backscatter in dB (NDVI and other indices never are)
DB_MEDIAN_TOP = -1.0


def warn_decibels_or_power(model, src, indexes: list[int], name: str) -> None:
    """Warn when float pixels and the model's mean disagree on SAR backscatter's scale:
    pixels never negative (linear power or amplitude) for a mean below 0 in each channel
    the image feeds (dB statistics), or mostly negative ones (median below 0: dB) for a
    mean above 0 in each (linear power's). Only means backscatter has count (dB:
    :data:`DB_MEANS`; linear power or amplitude: 0..:data:`POWER_MEAN_TOP`), and dB pixels
    only below :data:`DB_MEDIAN_TOP` (an index such as NDVI, an elevation or a temperature
    below 0 is no dB). What goes in is kept: either may be right."""
    mean = list(getattr(model, "_mean", None) or [])[:len(indexes)]
    if not mean or any(np.dtype(src.dtypes[i - 1]).kind != "f" for i in indexes):
        return
    if not (all(DB_MEANS[0] <= m <= DB_MEANS[1] for m in mean)
            or all(0 < m <= POWER_MEAN_TOP for m in mean)):
        return
    from geotile.raster import sample_pixels

    values = sample_pixels(src, indexes)
    values = values[np.isfinite(values) & (values != src.nodata if src.nodata is not None
                                           else True)]
    if not values.size:
        return
    median, shown = float(np.median(values)), shown_values(mean)
    model_name = getattr(getattr(model, "path", None), "name", "the model")
    if mean[0] < 0 and values.min() >= 0:
        warn(f"{name}: its pixels are never negative (median {median:.3g}: linear power or "
             f"amplitude?) but {model_name}'s mean {shown} is below 0, as of backscatter in "
             "dB. If it was trained on dB, convert them first: gdal_calc.py -A "
             f"{name} --outfile {Path(name).stem}_dB.tif --calc '10*log10(A)' "
             "--type Float32.", GeotileWarning)
    elif mean[0] > 0 and median < DB_MEDIAN_TOP:
        warn(f"{name}: its pixels are mostly negative (median {median:.3g}: backscatter in "
             f"dB?) but {model_name}'s mean {shown} is above 0, as of linear power. If it "
             f"was trained on linear power, convert them first: gdal_calc.py -A {name} "
             f"--outfile {Path(name).stem}_power.tif --calc '10**(A/10)' --type Float32.",
             GeotileWarning)


def _warn_declared_unapplied(model, src, indexes: list[int], added: int, name: str) -> None:
    """Warn when bands among ``indexes`` of ``src`` declare values other than their pixels
    (GDAL scale/offset: ``gdal_edit.py -scale 0.01 -offset -1`` on a uint8 band) that the
    model does not get: no --scale and a float-input model, the pixels go in as stored,
    times their type's default scale (1/255 for uint8). What goes in is kept as it is."""
    if not hasattr(model, "normalization_for") or getattr(model, "_scale", None) is not None \
            or np.issubdtype(getattr(model, "input_type", np.float32), np.integer):
        return
    scales = [src.scales[i - 1] for i in indexes]
    offsets = [src.offsets[i - 1] for i in indexes]
    bands = [(i, s, o) for i, s, o in zip(indexes, scales, offsets, strict=True)
             if (s, o) != (1, 0)]
    dtypes = list(dict.fromkeys(np.dtype(src.dtypes[i - 1]) for i, _, _ in bands))
    if not bands or len(dtypes) != 1:
        return
    fed = model.normalization_for(dtypes[0]).scale
    if all(math.isclose(s, fed, rel_tol=1e-6) and not o for _, s, o in bands):
        return  # the model gets the declared values (a uint8 probability of scale 1/255)
    how = "as stored" if fed == 1 else (
        f"as stored, divided by {round(1 / fed)}" if math.isclose(1 / fed, round(1 / fed))
        else f"as stored, times {fed:.6g}")
    fix = _declared_fix(model, scales, offsets, added)[0]
    warn(f"{name}: band{'s' if len(bands) > 1 else ''} "
         f"{','.join(str(i) for i, _, _ in bands)} declare scale "
         f"{shown_values(s for _, s, _ in bands)} and offset "
         f"{shown_values(o for _, _, o in bands)} (value = pixel * scale + offset), but "
         f"their {dtypes[0]} pixels go to the model {how}, not as those "
         f"values: {fix}.", GeotileWarning)


def warn_if_unscaled(model, dtypes, float_top: Callable, name: str,
                      declared: Callable = lambda: None,
                      full: tuple[float, str] | None = None) -> bool:
    """Warn when pixels of a type that wants --scale reach the model as they are
    (``model.unscaled``), once per type among ``dtypes``. Bands of mixed types are each
    scaled by their own type's default: a float band's top (``float_top()``) is not looked
    at then; ``declared()``: a hint from the raster's own scale/offset, else None; ``full``:
    the value its integer pixels stand for 1.0 at (NBITS, Planet SR). True when it warned."""
    unscaled = getattr(model, "unscaled", None)
    dtypes = list(dict.fromkeys(np.dtype(d) for d in dtypes))
    for dtype in dtypes if unscaled is not None else ():
        top = float_top() if dtype.kind == "f" and len(dtypes) == 1 else None
        if hint := (unscaled(dtype, top, full) if full else unscaled(dtype, top)):
            hint = declared() or hint
            eight_bit = getattr(model, "scale_for_8_bit", "")
            why = (f"its {eight_bit} is for 8-bit pixels" if eight_bit
                   else "the model declares none")
            warn(f"{name}: {dtype} pixels go to the model as they are (no --scale, "
                 f"and {why}): {hint}.", GeotileWarning)
            return True
    return False


def _float_top(src, indexes: list[int]) -> float | None:
    """:func:`float_top` of a float raster's ``indexes`` bands in a sample of it
    (:func:`geotile.raster.sample_pixels`), its nodata value left out."""
    from geotile.raster import sample_pixels

    values = sample_pixels(src, indexes)
    if src.nodata is not None:
        values = values[values != src.nodata]
    return float_top(values)


def float_top(values: np.ndarray) -> float | None:
    """The largest finite value of float ``values`` that --scale advice may go by, else None:
    none finite; a tenth or more of them negative, their 1st percentile below -1/4 of their
    99th (SAR backscatter in dB, standardised values: no scale brings those to 0..1; the
    slightly negative water of reflectances is advised); or 99% of them at most 1.5 below a
    larger top (linear SAR power or amplitude, a few bright targets in a long tail: not
    0..255)."""
    values = values[np.isfinite(values)]
    if not values.size:
        return None
    if np.count_nonzero(values < 0) >= values.size / 10:
        low, high = np.percentile(values, [1, 99])
        if low < -0.25 * max(high, 0):
            return None
    top = float(values.max())
    if top > 1.5 and np.percentile(values, 99) <= 1.5:
        return None
    return top
