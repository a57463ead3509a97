"""Label rasters of one band per class, a one-hot: DynamicEarthNet's monthly labels (7 uint8
bands of 0/255, 1024 px, band k set where the pixel is of its k-th class: impervious
surface, agriculture, forest, wetlands, soil, water, snow & ice). make-masks reads band k as
class id k - 1 (:func:`one_hot_ids`), as evaluate and vectorize read a one-hot (band 1 is
class 0); tile refuses them as masks (:func:`refuse_one_hot_mask`), whose patches would keep
7 bands whose 255 is a class, not the ignore value.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from geotile.errors import InputError

#: the ignore value of geotile's masks: a pixel of two classes
IGNORE = 255
#: the largest share of sampled pixels set in two bands or more for a raster to be one-hot
#: (a multi-label raster's classes overlap over much of it)
OVERLAP_SHARE = 0.05
#: the largest share of sampled pixels set in no band for a raster to be one-hot (one class
#: a pixel; bands of a few classes over unlabelled ground are layers to choose from)
UNSET_SHARE = 0.5


#: one_hot_value's answers by file (:func:`~geotile.file_scans.per_file`)
_ONE_HOT: dict = {}


def one_hot_value(src) -> int | None:
    """:func:`_one_hot_value`, once per file (make-masks asks what a label raster is, then
    how to read it)."""
    from geotile.file_scans import per_file

    return per_file(_ONE_HOT, src, _one_hot_value)


def _one_hot_value(src) -> int | None:
    """The value (1 or 255) marking a pixel's class in a one-hot label raster, None for any
    other raster. One-hot: integer bands, 2 or 5 and more (3 and 4 uint8 bands are RGB(A)
    colours, whose pure red, green and blue look alike) unless described by class names, no
    alpha band, no geotile output (make-masks' footprint/boundary/contact channels, class
    folders' multi-label masks: GEOTILE_OUTPUT, band roles); in a sample of its valid pixels
    each band holds 0 and that value alone, two bands at least hold it, at most
    :data:`OVERLAP_SHARE` of the pixels are set in two and :data:`UNSET_SHARE` in none,
    and each band's are mostly its own (not a label band beside a validity band set
    everywhere)."""
    from geotile.raster import alpha_bands, sample_pixels
    from geotile.raster_kinds import band_roles, has_class_descriptions

    if src.count < 2 or "GEOTILE_OUTPUT" in src.tags() or band_roles(src):
        return None
    if np.dtype(src.dtypes[0]).kind not in "iu" or alpha_bands(src) or (
            src.count in (3, 4) and not has_class_descriptions(src)):
        return None
    sample = sample_pixels(src)
    if src.nodata is not None:
        sample = sample[:, ~(sample == src.nodata).all(axis=0)]
    values = np.unique(sample)
    if len(values) != 2 or values[0] != 0 or values[1] not in (1, 255):
        return None
    on = (sample == values[1]).reshape(sample.shape[0], -1)
    held = on.sum(axis=1)
    if np.count_nonzero(held) < 2:
        return None
    count = on.sum(axis=0)
    alone = (on & (count == 1)).sum(axis=1)  # a label beside a validity band: never alone
    if np.count_nonzero(count > 1) > OVERLAP_SHARE * count.size or (2 * alone < held).any() \
            or np.count_nonzero(count == 0) > UNSET_SHARE * count.size:
        return None
    return int(values[1])


def one_hot_ids(values: np.ndarray, on: int) -> np.ndarray:
    """Class ids (rows, cols) uint8 of one-hot bands (bands, rows, cols): k - 1 where band k
    alone holds ``on``; :data:`IGNORE` where none or several do (no one class)."""
    set_ = values == on
    return np.where(set_.sum(axis=0) == 1, set_.argmax(axis=0), IGNORE).astype(np.uint8)


def refuse_one_hot_mask(mask_src, image) -> None:
    """InputError for a one-hot mask given to tile, naming the make-masks command that makes
    it a mask of class ids on the image's grid."""
    if one_hot_value(mask_src) is None:
        return
    name = Path(str(mask_src.name)).name
    raise InputError(f"{mask_src.name}: {mask_src.count} bands, one band per class (a "
                     "one-hot), whose patches would hold them as they are. Make a mask of "
                     f"class ids first (band k: class k - 1): geotile make-masks {name} "
                     f"{Path(str(image)).name} -o mask.tif, and give that to --masks.")
