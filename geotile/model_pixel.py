"""The model's pixel size against the raster's: the ground pixel size in metres, whether
windows are resampled to the model's pixel, and the images refused before predicting
(complex pixels, a resampling too large, bands of different nodata values)."""

from __future__ import annotations

import logging
import math
from pathlib import Path

from geotile.affine_math import apply
from geotile.errors import GeotileWarning, InputError
from geotile.user_warnings import warn

log = logging.getLogger("geotile")


#: the most a window is resampled to the model's pixel size, either way (a 0.05 m model on
#: 3 m imagery is 60x): beyond it the resolution given is taken for a mistake
MAX_RESAMPLING = 100
#: resampled more than this either way, predict says so (slow, and likely a unit mix-up)
LARGE_RESAMPLING = 8


def model_pixel(model, src, options) -> tuple[float, float] | None:
    """The model's pixel size in the raster's CRS units, (x, y), when windows must be
    resampled to it (``--model-resolution`` M, else the model's ``resolution``), else None.
    Compared with the raster's pixel size on the ground at its centre, per axis
    (:func:`_ground_pixel`). Pixels too far from the model's are refused before
    (:func:`refuse_unpredictable`)."""
    from geotile.no_georef import placed_nowhere, raster_crs

    metres, given = _wanted_resolution(model, options)
    if not metres:
        return None
    name = Path(src.name).name
    ground = _ground_pixel(src)
    if ground is None:  # said without -v: the model runs at a scale nobody checked
        if raster_crs(src) is not None and not placed_nowhere(src):  # else said: no georef
            warn(f"{name}: pixel size unknown in ground metres: {given} is not "
                 "applied. Reproject the image (gdalwarp -t_srs EPSG:xxxx) to "
                 "resample it, or give --model-resolution native.", GeotileWarning)
        return None
    ratios = [size / metres for size in ground]
    shown = " x ".join(dict.fromkeys(f"{size:.4g}" for size in ground))
    factor = max(max(ratios), 1 / min(ratios))
    if all(abs(ratio - 1) < 0.02 for ratio in ratios):
        log.info("%s: %s m pixels, as the model expects", name, shown)
        return None
    if factor > LARGE_RESAMPLING:  # slow and likely a unit mix-up: said without -v
        warn(f"{name}: {given} resamples its {shown} m pixels {factor:.3g}x "
             f"({'finer' if metres < min(ground) else 'coarser'}); if the model's "
             "pixels are not that size, give --model-resolution in metres (or "
             "native).", GeotileWarning)
    log.info("%s: %s m pixels, the model expects %g m: windows are read resampled to %g m "
             "and the result is written back on the image grid (--model-resolution native "
             "turns this off)", name, shown, metres, metres)
    return abs(src.res[0]) * metres / ground[0], abs(src.res[1]) * metres / ground[1]


def _resampling_refusal(model, src, options) -> str | None:
    """Why ``src``'s pixels are too far from the model's to resample (past MAX_RESAMPLING),
    else None."""
    metres, given = _wanted_resolution(model, options)
    ground = _ground_pixel(src) if metres else None
    if ground is None:
        return None
    factor = max(max(size / metres for size in ground), max(metres / size for size in ground))
    if factor <= MAX_RESAMPLING:
        return None
    shown = " x ".join(dict.fromkeys(f"{size:.4g}" for size in ground))
    return (f"{Path(src.name).name}: {given} would resample its {shown} m pixels "
            f"{factor:.3g}x; give the model's pixel size in metres (--model-resolution), "
            "or native.")


def refuse_unpredictable(model, original, src, options, image_path) -> None:
    """InputError for an image its header says the model cannot take, beyond its bands
    (:func:`~geotile.input_bands.select_bands`): complex pixels, pixels too far from the
    model's to resample. ``src``: ``original`` as the model sees it
    (:func:`~geotile.input_bands.model_view`)."""
    from geotile.raster import common_dtype

    refuse_complex(common_dtype(src), image_path)
    if refusal := _repeated_colour_refusal(original, src, options, image_path):
        raise InputError(refusal)
    if refusal := _resampling_refusal(model, original, options):
        raise InputError(refusal)


def refuse_complex(dtype, path, whose: str = "") -> None:
    """InputError for complex pixels (SAR) of ``dtype`` at ``path`` (``whose``: "the
    --extra-bands raster's "): a model channel holds one value a pixel, and the cast to
    float32 would drop the imaginary part."""
    import numpy as np

    from geotile.raster import AMPLITUDE

    if np.dtype(dtype).kind == "c":
        raise InputError(f"{path}: {whose}complex pixels (SAR) hold two values each; convert "
                         f"them to amplitude or intensity first (e.g. {AMPLITUDE}).")


def _repeated_colour_refusal(original, src, options, image_path) -> str | None:
    """Why --bands that repeat a band (1,1,1, a grey image's hint) are refused for a paletted
    ``original`` of colours, seen through them as ``src``: they would feed one of its colours
    (red) several times, neither its indices nor its colours; None otherwise."""
    from geotile.categories import grey_palette

    bands = list(options.bands or ())
    if src is original or len(set(bands)) == len(bands) or grey_palette(original):
        return None
    return (f"{image_path}: its band holds colour-table indices (a paletted image of "
            f"colours), seen as red, green, blue: --bands {','.join(map(str, bands))} would "
            "feed one of its colours several times. To feed its colours leave out --bands; "
            "for grey levels convert it first (gdal_translate -expand rgb, then to grey).")


def _wanted_resolution(model, options) -> tuple[float | None, str]:
    """The model's pixel size in metres that windows are resampled to (None: none) and
    what gives it (--model-resolution, or the model's metadata)."""
    wanted = options.model_resolution
    metres = None if wanted == "native" else (
        float(wanted) if wanted is not None else getattr(model, "resolution", None))
    if not metres:
        return None, ""
    return metres, f"--model-resolution {wanted}" if wanted is not None else \
        f"{model.path.name}'s resolution metadata ({metres * 100:g} cm/px, Deepness's unit)"


def scale_unknown(model, src, options) -> str:
    """What the no-georeferencing warning adds when the model's resolution cannot be
    applied to ``src`` ("" when none is wanted)."""
    metres, given = _wanted_resolution(model, options)
    if not metres or _ground_pixel(src) is not None:
        return ""
    return (f"Its pixel size is unknown, so {given} is not applied: georeference it "
            "(gdal_translate -a_srs EPSG:xxxx -a_ullr ULX ULY LRX LRY) to resample it, or "
            "give --model-resolution native.")


def mosaic_resampling(image_path, model, src, options) -> str:
    """Why --mosaic refuses tiles whose pixels are not the model's, and the fixes."""
    metres, given = _wanted_resolution(model, options)
    shown = " x ".join(dict.fromkeys(f"{size:.4g}" for size in _ground_pixel(src)))
    return (f"{image_path}: --mosaic reads the tiles at their own {shown} m pixels and cannot "
            f"resample them to the model's {metres:g} m ({given}). Resample the tiles first "
            f"(gdalwarp -tr, -tap), drop --mosaic (each tile is then resampled on its own), or "
            f"give --model-resolution native to run the model on the {shown} m pixels as they "
            "are.")


def _ground_pixel(src) -> tuple[float, float] | None:
    """The raster's pixel size in ground metres at its centre, (x, y)
    (:mod:`geotile.ground_scale`): in degrees, cos(latitude) shrinks x; in Web Mercator
    both by cos(latitude). Its CRS's linear unit where that is a ground metre over the
    raster (to 2e-3: UTM) or cannot be measured; None without a CRS (or with degrees that
    cannot be measured)."""
    from geotile.ground_scale import ground_scales, in_ground_metres
    from geotile.no_georef import placed_nowhere, raster_crs

    # no pixel size in no CRS, GDAL's placeholder of none, or one nothing places it in
    if raster_crs(src) is None or placed_nowhere(src):
        return None
    res_x, res_y = abs(src.res[0]), abs(src.res[1])
    if not in_ground_metres(src.crs, src.bounds):
        x, y = apply(src.transform, src.width / 2, src.height / 2)
        along_x, along_y = ground_scales(src.crs, x, y)
        if math.isfinite(along_x) and math.isfinite(along_y):
            return res_x * along_x, res_y * along_y
    if src.crs.is_geographic:
        return None
    try:
        unit = float(src.crs.linear_units_factor[1])
    except Exception:  # rasterio raises CRSError for CRSs without linear units
        unit = 1.0
    return res_x * unit, res_y * unit


def check_one_nodata(src, indexes: list[int], image_path) -> None:
    """InputError when the bands ``indexes`` declare different nodata values: resampling to
    the model's resolution (a WarpedVRT) takes one for all of them."""
    values = list(dict.fromkeys(repr(src.nodatavals[i - 1]) for i in indexes))
    if len(values) > 1:
        raise InputError(f"{image_path}: its bands have different nodata values "
                         f"({', '.join(values)}), which resampling to the model's resolution "
                         "would mix up; give --model-resolution native, or the other bands "
                         "as --extra-bands.")
