"""What a mask's values mean to tile: its nodata, ignore values and padding, 0/255 and
probability masks, alpha and mask bands, and the tags its patches carry."""

from __future__ import annotations

import json

import numpy as np

from geotile.raster_kinds import ids_above_255, may_hold_0_255, values_0_255, zero_nodata


def mask_padding_value(mask_src, binary: bool | None = None, zeros_nodata: bool = False):
    """The value of mask pixels outside the raster (padding): the mask's nodata value, else
    255, the ignore value of geotile's masks (0 would claim background where nothing is
    known); the largest value of a signed 8-bit mask, which cannot hold 255, or of one
    holding ids above 255 (instance ids: 255 is one of them), NaN for a float one; 0 for a
    0/255 binary mask (INRIA, Massachusetts), where 255 is the building class (its padding
    is marked by a mask band instead). ``binary``: whether it is one (default:
    :func:`is_binary_0_255`); ``zeros_nodata``: :func:`mask_nodata`'s."""
    if (nodata := mask_nodata(mask_src, binary or None, zeros_nodata)) is not None:
        return nodata
    dtype = np.dtype(mask_src.dtypes[0])
    if dtype.kind in "iu" and (np.iinfo(dtype).max < 255 or ids_above_255(mask_src)):
        return np.iinfo(dtype).max  # 255 may be an id
    if dtype.kind == "f" and ids_above_255(mask_src):
        return float("nan")
    return 0 if (is_binary_0_255(mask_src) if binary is None else binary) else 255


def is_binary_0_255(mask_src, zeros: bool = False) -> bool:
    """Whether a uint8 mask without nodata, or declaring 0 (:func:`mask_nodata`), holds only
    0 and 255 (255: the positive class), in every band (Massachusetts' and DeepGlobe's RGB
    masks repeat it in three); ``zeros``: an all-0 mask counts too (one without buildings
    among 0/255 masks)."""
    kind = values_0_255(mask_src, nodata=mask_src.nodata == 0)
    return kind == "binary" or (zeros and kind == "zeros")


def mask_nodata(mask_src, binary: bool | None = None, zeros_nodata: bool = False):
    """The mask's nodata value as tile reads it: none for a declared 0 that is the mask's
    background (a 0/1 or 0/255 mask of gdal_rasterize -a_nodata 0:
    :func:`~geotile.raster_kinds.zero_nodata`), as make-masks and evaluate read it.
    ``binary``: whether it is a 0/255 mask (:func:`is_binary_0_255`), when known;
    ``zeros_nodata``: the run reads 0 as no data
    (:func:`~geotile.tile_checks.warn_masks_zero_nodata`)."""
    if mask_src.nodata == 0 and (binary or zero_nodata(mask_src, zeros_nodata).background):
        return None
    return mask_src.nodata


def mask_ignore_values(mask_src, binary: bool | None = None,
                       zeros_nodata: bool = False) -> tuple:
    """The mask values index.csv and the filters count as no data: its nodata
    (:func:`mask_nodata`), the ids its names call no data (:func:`_named_no_data`) and 255
    of an integer or float mask that is no 0/255 mask (class ids: 255 is the ignore value,
    as make-masks and evaluate read it, whatever nodata it declares); none but those for a
    0/255 one, or one holding ids above 255
    (:func:`~geotile.raster_kinds.ids_above_255`: 255 is one of them).
    ``zeros_nodata``: :func:`mask_nodata`'s."""
    nodata = mask_nodata(mask_src, binary, zeros_nodata)
    values = (*(() if nodata is None else (nodata,)), *_named_no_data(mask_src))
    if not may_hold_0_255(mask_src.dtypes[0]) or nodata == 255 or ids_above_255(mask_src):
        return values
    binary = is_binary_0_255(mask_src, zeros=True) if binary is None else binary
    return values if binary else (*values, 255)


def _named_no_data(mask_src) -> tuple[int, ...]:
    """The ids past 0 that an integer mask's names call no data (Chesapeake's 15 'No Data',
    CORINE's 48 'NODATA': :func:`~geotile.raster_kinds.no_data_ids`), which make-masks
    writes as 255 and evaluate leaves out."""
    from geotile.raster_kinds import class_names, no_data_ids

    if np.dtype(mask_src.dtypes[0]).kind not in "iu":
        return ()
    return tuple(i for i in no_data_ids(class_names(mask_src)) if i > 0)


def probability_mask(mask_src):
    """(bands, kind) of predict's probabilities given as a mask (GEOTILE_OUTPUT=probability:
    :func:`~geotile.raster_kinds.plain_bands`), whose 255 is p = 1, no ignore value; None
    for any other mask."""
    from geotile.raster_kinds import plain_bands, raster_kind

    if mask_src is None or mask_src.tags().get("GEOTILE_OUTPUT") != "probability":
        return None
    return plain_bands(mask_src, raster_kind(mask_src))


def counted_band(mask_src) -> int | None:
    """The 0-based band whose positive pixels index.csv and --skip-empty count: make-masks'
    footprint band wherever its --channels put it (bands described footprint, boundary,
    contact: :func:`~geotile.raster_kinds.band_roles`, as evaluate and vectorize read it),
    else the first (as make-masks' own positive_pixels); None, every band (a pixel of any
    class), for a multi-label mask of one 0/1 band per class (:func:`multi_label_mask`)."""
    from geotile.raster_kinds import band_roles

    if multi_label_mask(mask_src):
        return None
    roles = band_roles(mask_src) if mask_src is not None and mask_src.count > 1 else None
    return roles["footprint"] - 1 if roles and "footprint" in roles else 0


def multi_label_mask(mask_src) -> bool:
    """Whether a mask holds one 0/1 band per class, classes overlapping (GEOTILE_OUTPUT=mask
    and GEOTILE_BANDS=independent: :mod:`geotile.class_folders`' masks)."""
    if mask_src is None or mask_src.count < 2:
        return False
    tags = mask_src.tags()
    return tags.get("GEOTILE_OUTPUT") == "mask" and tags.get("GEOTILE_BANDS") == "independent"


def names_zero_class(mask_src) -> bool:
    """Whether a mask names its id 0 as a class (:func:`~geotile.raster_kinds.class_names`,
    :func:`~geotile.class_keys.zero_is_background`): then it is no background."""
    from geotile.class_keys import zero_is_background
    from geotile.raster_kinds import class_names

    return mask_src is not None and not zero_is_background(class_names(mask_src))


def masked_by_band(mask_src) -> bool:
    """Whether a mask raster marks its invalid pixels by a GDAL mask band and no nodata value
    (predict --dtype uint8's probabilities, all of 0..255 values): its patches keep them."""
    from rasterio.enums import MaskFlags

    return mask_src.nodata is None and mask_src.mask_flag_enums[0] == [MaskFlags.per_dataset]


def mask_alpha_bands(mask_src) -> list[int]:
    """The 0-based indexes of a mask's alpha bands (a grey + alpha PNG): their 0 marks
    unlabelled pixels, read as no data, as make-masks and evaluate read them."""
    from rasterio.enums import ColorInterp

    return [i for i, ci in enumerate(mask_src.colorinterp) if ci == ColorInterp.alpha]


#: the tags saying how to read a probability mask's bands (softmax or sigmoid), its scale
#: and threshold (:func:`~geotile.raster_kinds.raster_kind`), kept on its patches
READING_TAGS = ("GEOTILE_BANDS", "GEOTILE_SCALE", "GEOTILE_THRESHOLD")


def mask_tags(mask_src, zeros_nodata: bool = False) -> dict[str, str]:
    """The tags saying what a mask's patches hold: GEOTILE_OUTPUT and its class names
    (:func:`~geotile.raster_kinds.class_names`: tag or GDAL categories), when it has them,
    the :data:`READING_TAGS` of predict's probabilities, and GEOTILE_ZERO=nodata where its
    declared nodata 0 is read as no data (``zeros_nodata``: :func:`mask_nodata`'s), which a
    patch of 0 and one class alone would read as background."""
    from geotile.raster_kinds import ZERO_TAG, class_names

    names = class_names(mask_src)
    tags = {**mask_src.tags(1), **mask_src.tags()}
    output = tags.get("GEOTILE_OUTPUT")
    zero = mask_nodata(mask_src, None, zeros_nodata) == 0
    return {**({"GEOTILE_OUTPUT": output} if output else {}),
            **{key: tags[key] for key in READING_TAGS if key in tags},
            **({"GEOTILE_CLASS_NAMES": json.dumps(names)} if names else {}),
            **({ZERO_TAG: "nodata"} if zero else {})}
