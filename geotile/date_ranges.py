"""A change detection model's two dates holding values on different scales: float
reflectance 0..1 beside float 0..255 or 0..10000, which one --scale feeds alike and the
model sees as a change everywhere. Each date's values, as fed, are sampled (a robust
range: 1st to 99th percentile) and dates whose tops lie :data:`RATIO` times apart are
refused in one line. Integer dates alone are left to
:func:`geotile.extra_bands.check_date_types` (their types say their scale)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from geotile.errors import InputError

#: how many times one date's top may be the other's: dates of one scale (a date mostly
#: water beside one of bright roofs or cloud) differ by some 20 at most; 0..1 beside 0..255
#: by 255, beside 0..10000 by 10000
RATIO = 50
#: full ranges a rescale is suggested from and to
_UNITS = (1.0, 255.0, 10000.0, 65535.0)


class DateRange:
    """One date's sampled values as fed: ``low``, ``top`` (1st and 99th percentiles),
    ``most`` (the largest raw pixel), ``floats`` (whether a band is of floats)."""

    def __init__(self, low: float, top: float, most: float, floats: bool) -> None:
        self.low, self.top, self.most, self.floats = low, top, most, floats

    def shown(self) -> str:
        return f"{self.low:.3g}..{self.top:.3g}"


def date_range(model, src, indexes) -> DateRange | None:
    """The values of the bands ``indexes`` of ``src`` as ``model`` gets them (times their
    type's scale) in a sample (:func:`geotile.raster.sample_pixels`), nodata and non-finite
    values left out; None when the sample holds none."""
    from geotile.raster import sample_pixels

    dtypes = [np.dtype(src.dtypes[i - 1]) for i in indexes]
    values = sample_pixels(src, list(indexes)).astype(np.float64)
    keep = np.isfinite(values)
    if src.nodata is not None:
        keep &= values != src.nodata
    scales = np.array([model.normalization_for(d).scale for d in dtypes], np.float64)
    fed = (values * scales.reshape(-1, 1, 1))[keep]
    if not fed.size:
        return None
    low, top = np.percentile(fed, [1, 99])
    return DateRange(float(low), float(top), float(np.abs(values[keep]).max()),
                     any(d.kind == "f" for d in dtypes))


def check_date_ranges(model, first: DateRange | None, second: DateRange | None, image,
                      extra, number: int = 2) -> None:
    """InputError when the two dates of ``model`` (one of them of float pixels) reach it on
    scales :data:`RATIO` times apart: naming both files, their ranges and the rescale."""
    from geotile.extra_bands import date_names, pair_words, two_dates

    if not two_dates(model) or first is None or second is None or not (
            first.floats or second.floats):
        return
    tops = [max(abs(d.low), abs(d.top)) for d in (first, second)]
    if min(tops) <= 0 or max(tops) <= RATIO * min(tops):
        return
    names = date_names(image, extra)
    big = 0 if tops[0] > tops[1] else 1
    small = (first, second)[1 - big]
    bigger = (first, second)[big]
    if bigger.floats and getattr(model, "_scale", None) is None:
        full = next((u for u in _UNITS if bigger.most <= u), bigger.most)
        to = next((u for u in _UNITS if abs(small.top) <= u), abs(small.top))
        scale = f"0 {full:.6g} 0 {to:.6g}"
    else:
        scale = "SRC_MIN SRC_MAX DST_MIN DST_MAX"
    how = (f"gdal_translate -ot Float32 -scale {scale} {names[big]} "
           f"{Path(names[big]).with_name(Path(names[big]).stem + '_rescaled.tif')}")
    pair, one, other = pair_words(model, number)
    raise InputError(
        f"{names[0]} and {names[1]}: {pair} hold values on different scales ({one} "
        f"{first.shown()}, {other} {second.shown()} as fed, 1st..99th percentile of a "
        "sample): fed alike, the model would see a change everywhere. Rescale "
        f"{names[big]} to {names[1 - big]}'s range first ({how}) and give that; --scale "
        "multiplies both dates alike.")
