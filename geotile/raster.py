"""Raster I/O helpers shared by every command.

- :func:`open_raster` opens with checks and turns GDAL failures into one-line
  :class:`InputError` messages that name the file;
- :func:`read_window` reads pixels, reporting corrupt data the same way;
- :func:`output_profile` builds tiled, compressed GeoTIFF profiles (profiles
  are data, looked up by name, returned as copies);
- :func:`read_block` and :func:`valid_pixels` read pixels with their nodata mask.

Input paths, creation options, CRS names, output files, categories and VRT views live
in their own modules (:mod:`geotile.input_paths`, :mod:`geotile.creation_options`,
:mod:`geotile.crs_names`, :mod:`geotile.output_files`, :mod:`geotile.categories`,
:mod:`geotile.vrt_views`).
"""

from __future__ import annotations

import contextlib
import math
import os
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.errors import NodataShadowWarning, RasterioError, RasterioIOError

from geotile.creation_options import (
    BIGTIFF,
    COMPRESSION_PROFILES,
    check_creation_options,
    gtiff_creation_options,
    resolved_compression,
)
from geotile.errors import InputError, gdal_reason, write_advice
from geotile.gdal_settings import gdal_env, set_by_user, side_car_setting
from geotile.input_paths import (
    input_exists,
    input_path,
    is_product_file,
    is_virtual_path,
    side_car_in_another_case,
)
from geotile.quiet_warnings import hidden, quietly

_BASE_PROFILE: dict[str, Any] = {
    "driver": "GTiff",
    "tiled": True,
    "blockxsize": 512,
    "blockysize": 512,
    "interleave": "pixel",
    "photometric": "minisblack",  # data bands, not RGB pictures
    "bigtiff": BIGTIFF,
    "num_threads": "ALL_CPUS",
}


#: the conversion of complex (SAR) pixels to amplitude that every refusal of them names
AMPLITUDE = "gdal_calc.py --calc 'abs(A)' --type Float32"


def open_raster(path: str | os.PathLike, decode_threads: int | None = None, *,
                grid: bool = False) -> rasterio.io.DatasetReader:
    """Open a raster for reading, or raise InputError naming the file and the fix.
    ``decode_threads``: a read spanning several compressed GeoTIFF tiles decodes them in
    that many threads (GDAL_NUM_THREADS, read when the file is opened), unless the user set
    GDAL_NUM_THREADS (environment, rasterio.Env). ``grid``: the raster is read for its grid
    and nodata only (make-masks' image), so CInt16 pixels (read as complex64) are let
    through; else they are refused."""
    if not input_exists(path):
        raise InputError(f"{path}: no such file. Check the path.")
    from geotile.stac_images import image_item, is_item_json, open_item

    if is_item_json(path) and image_item(path) is not None:  # its band assets, one stack
        return open_item(path, lambda asset: open_raster(input_path(asset)))
    try:
        settings = side_car_setting()
        if decode_threads and decode_threads > 1 and not set_by_user("GDAL_NUM_THREADS"):
            settings["GDAL_NUM_THREADS"] = str(decode_threads)
        if side_car_in_another_case(path):  # GDAL finds it in the folder's listing
            settings["GDAL_DISABLE_READDIR_ON_OPEN"] = "FALSE"
        with gdal_env(settings) if settings else contextlib.nullcontext():
            src = quietly(rasterio.open, path)
    except RasterioIOError as exc:
        from geotile.failed_downloads import failed_download, remote_failure

        download = failed_download(path, "a raster")
        if download is None and is_virtual_path(path):
            download = remote_failure(path, str(exc))
        if download:
            raise InputError(download) from exc
        from geotile.tile_indexes import tile_index_advice

        if advice := tile_index_advice(path):  # gdaltindex's vector file
            raise InputError(advice) from exc
        reason = str(exc).splitlines()[0] if str(exc) else "unknown format"
        if is_product_file(path) and "being in a supported file format" not in reason:
            raise InputError(f"{path}: a file of its product cannot be opened ({reason}); "
                             "restore the delivery's files beside it (its tiles, .IMD), "
                             "or give the tiles themselves.") from exc
        raise InputError(
            f"{path}: not a raster GDAL can read ({reason}). "
            "Give a GeoTIFF or another GDAL-readable image."
        ) from exc
    if src.count == 0:  # a container of rasters (GDAL subdatasets), or none
        subdatasets = list(src.subdatasets)
        src.close()
        if subdatasets:
            shown = ", ".join(subdatasets[:3]) + (", ..." if len(subdatasets) > 3 else "")
            raise InputError(f"{path}: holds {len(subdatasets)} rasters (GDAL subdatasets: "
                             f"{shown}), not one; give the one to use by that name, quoted "
                             f"(e.g. '{subdatasets[0]}'), or write it to a GeoTIFF first "
                             f"(gdal_translate '{subdatasets[0]}' one.tif) and give that.")
        raise InputError(f"{path}: the raster has no bands. Give a raster with pixels.")
    if "complex_int16" in src.dtypes and not grid:  # no numpy type: read as complex64
        src.close()
        raise InputError(f"{path}: CInt16 complex pixels (SAR) hold two values each; convert "
                         f"them to amplitude or intensity first ({AMPLITUDE}).")
    bad = _unusable_geotransform(src)
    if bad:
        src.close()
        raise InputError(f"{path}: {bad}; fix it (gdal_edit.py -a_ullr ULX ULY LRX LRY, or "
                         "-unsetgt) or give the raster it came from.")
    from geotile.data_cubes import cube_refusal

    if refusal := cube_refusal(src, grid):  # a NetCDF's dates, a PRISMA cube's lines
        src.close()
        raise InputError(refusal)
    from geotile.change_maps import with_change_codes
    from geotile.hls_files import with_hls_values
    from geotile.landsat_mtl import with_mtl_values
    from geotile.sar_files import with_grd_nodata
    from geotile.sentinel2_bands import with_band_values
    from geotile.sentinel2_safe import with_declared_values

    # a Sentinel-2 SAFE's or band file's, a Landsat band file's or an HLS file's nodata,
    # scale and offset; a Sentinel-1 GRD measurement file's nodata
    src = with_hls_values(with_mtl_values(with_band_values(with_declared_values(src))))
    src = with_grd_nodata(src)
    return with_change_codes(src, path)  # OSCD's 1/2 change maps: 0/1


def _unusable_geotransform(src) -> str | None:
    """Why the geotransform of ``src`` places no pixel (NaN or infinite coefficients, or
    corners or a pixel area beyond float range), else None."""
    t, w, h = src.transform, np.float64(src.width), np.float64(src.height)
    with np.errstate(over="ignore", invalid="ignore"):
        corners = (t.c, t.f, t.a * w + t.b * h + t.c, t.d * w + t.e * h + t.f)
        area = np.float64(t.a) * t.e - np.float64(t.b) * t.d
    if all(map(math.isfinite, (*t[:6], *corners, area))):
        return None
    shown = ", ".join(f"{v:g}" for v in t.to_gdal())
    return f"its geotransform ({shown}) holds NaN or infinite values, or overflows"


def read_window(
    src: rasterio.io.DatasetReader,
    window=None,
    indexes: int | list[int] | None = None,
    **kwargs: Any,
) -> np.ndarray:
    """``src.read`` that reports unreadable (corrupt) pixel data as an InputError. Bands of
    different types (a ``gdalbuildvrt -separate`` of RGB and a float nDSM) are read one at
    a time, as their :func:`common_dtype`."""
    try:
        bands = list(range(1, src.count + 1)) if indexes is None else indexes
        if isinstance(bands, int) or len({src.dtypes[i - 1] for i in bands}) < 2:
            return src.read(indexes, window=window, **kwargs)
        dtype = common_dtype(src, bands)
        return np.stack([src.read(i, window=window, **kwargs).astype(dtype, copy=False)
                         for i in bands])
    except RasterioError as exc:
        reason = gdal_reason(exc)
        if "No such file" in reason or "does not exist" in reason:  # a VRT's source, say
            raise InputError(f"{src.name}: a file it reads its pixels from cannot be opened "
                             f"({reason}); restore it, or rebuild {Path(src.name).name}."
                             ) from exc
        if "Too many open files" in reason:  # ulimit -n, or the system's (ENFILE)
            raise InputError(f"{src.name}: pixel data cannot be read ({reason}). "
                             f"{write_advice(reason)}") from exc
        if src.driver == "JPEG" and "JPEG" not in reason:  # GDAL logged it, not chained
            reason = _libjpeg_complaint(src.name, window, indexes) or reason
        # libjpeg's warnings are errors here (GDAL_ERROR_ON_LIBJPEG_WARNING): some are
        # cosmetic, so say how to read such a file anyway
        anyway = (" If it shows whole in a viewer, set GDAL_ERROR_ON_LIBJPEG_WARNING=FALSE to "
                  "read it anyway." if "JPEG" in reason or src.driver == "JPEG" else "")
        raise InputError(
            f"{src.name}: pixel data cannot be read ({reason}). "
            f"The file is damaged or truncated; re-export or re-download it.{anyway}"
        ) from exc


def _libjpeg_complaint(path, window, indexes) -> str | None:
    """libjpeg's message for a JPEG whose read failed ('libjpeg: Corrupt JPEG data: 3
    extraneous bytes before marker 0xda'), which GDAL logs (as the file is opened) instead
    of chaining to the error: the file opened and read again, with that log caught."""
    import logging

    from geotile.quiet_warnings import gdal_messages

    with gdal_messages(level=logging.INFO) as messages, contextlib.suppress(Exception), \
            hidden(rasterio.errors.NotGeoreferencedWarning), rasterio.open(path) as again:
        again.read(indexes, window=window)  # the first read's error is the one reported
    found = [m[m.index("libjpeg:"):].rstrip("'\"") for m in messages if "libjpeg:" in m]
    return found[0] if found else None


def common_dtype(src: rasterio.io.DatasetReader, indexes=None) -> np.dtype:
    """The type that holds every value of the bands ``indexes`` (all by default) of ``src``:
    their own when they share one, else the widest (uint8 and float32: float32)."""
    bands = range(1, src.count + 1) if indexes is None else np.atleast_1d(indexes)
    types = (src.dtypes[int(i) - 1] for i in bands)  # CInt16 is read as complex64
    return np.result_type(*(np.dtype(t.replace("complex_int16", "complex64")) for t in types))


def alpha_bands(src) -> list[int]:
    """The 1-based indexes of ``src``'s bands whose colour interpretation is alpha."""
    from rasterio.enums import ColorInterp

    return [i + 1 for i, c in enumerate(src.colorinterp) if c == ColorInterp.alpha]


def sample_pixels(src, indexes=None, grid: int = 8, size: int = 64) -> np.ndarray:
    """Pixels (bands, rows, cols) of ``grid`` x ``grid`` windows of ``size`` px spread evenly
    over ``src``, side by side: a look at which values occur that decodes a few blocks,
    where a thinned read of the whole raster decodes every one (0.5 s for a 6000 px RGB
    orthotile)."""
    from rasterio.windows import Window

    height, width = min(size, src.height), min(size, src.width)
    rows = np.unique(np.linspace(0, src.height - height, grid).astype(int))
    cols = np.unique(np.linspace(0, src.width - width, grid).astype(int))
    parts = [read_window(src, Window(int(x), int(y), width, height), indexes)
             for y in rows for x in cols]
    parts = [p[np.newaxis] if p.ndim == 2 else p for p in parts]
    return np.concatenate(parts, axis=-1)


#: files check_pixels_readable read whole, as they were then (:func:`_readable_key`)
_READABLE: set = set()


def check_pixels_readable(src: rasterio.io.DatasetReader) -> None:
    """Read the first and the last block of every band, so that a damaged or truncated file
    fails before any work starts (commands that never read pixels, like make-masks, too).
    A file checked before and unchanged since is not read again (the last block of a JPEG
    or PNG decodes all of it: a batch checks every image up front, then each as it runs)."""
    from rasterio.windows import Window

    key = _readable_key(src)
    if key is not None and key in _READABLE:
        return
    h, w = src.block_shapes[0]
    last_col, last_row = (src.width - 1) // w * w, (src.height - 1) // h * h
    read_window(src, Window(0, 0, min(w, src.width), min(h, src.height)))
    read_window(src, Window(last_col, last_row, src.width - last_col, src.height - last_row))
    if key is not None:
        if len(_READABLE) > 10_000:
            _READABLE.clear()
        _READABLE.add(key)


def _readable_key(src) -> tuple | None:
    """What identifies a local file's pixels as GDAL reads them (None: not a local file, or
    a VRT, whose sources may change apart from it)."""
    from rasterio.env import get_gdal_config

    if src.driver == "VRT" or is_virtual_path(str(src.name)):
        return None
    try:
        info = os.stat(src.name)
    except (OSError, TypeError, ValueError):
        return None
    return (os.path.abspath(src.name), info.st_dev, info.st_ino, info.st_size,
            info.st_mtime_ns, info.st_ctime_ns, get_gdal_config("GDAL_ERROR_ON_LIBJPEG_WARNING"))


def require_crs(src: rasterio.io.DatasetReader, why: str) -> None:
    """Raise InputError when the raster has no CRS (``why`` says what needs one)."""
    if src.crs is None:
        raise InputError(
            f"{src.name}: the raster has no CRS, so {why}. "
            "Assign one with `gdal_edit.py -a_srs EPSG:xxxx` (or `rio edit-info --crs`)."
        )


def output_profile(
    like: rasterio.io.DatasetReader | dict[str, Any] | None = None,
    *,
    count: int,
    dtype: str,
    nodata: float | None = None,
    compression: str = "deflate",
    creation_options: dict[str, Any] | None = None,
    categorical: bool = False,
    **grid: Any,
) -> dict[str, Any]:
    """A tiled, compressed GeoTIFF profile on the grid of ``like`` (or of ``grid`` keys).

    ``grid`` may give or override width, height, transform and crs. Creation
    options (``--co KEY=VALUE``) are checked (:func:`check_creation_options`) and
    applied last; a COMPRESS among them replaces the default compression.
    ``categorical``: the bands hold class ids (masks), which lossy codecs would change.
    """
    options = {key.lower(): value for key, value in (creation_options or {}).items()}
    if options:
        check_creation_options(options, dtype=dtype, count=count, categorical=categorical)
        options = gtiff_creation_options(options)
    profile = dict(_BASE_PROFILE)
    if "compress" in options:
        profile["compress"] = str(options["compress"]).lower()
    else:
        profile.update(COMPRESSION_PROFILES[resolved_compression(compression)])
    if like is not None:
        base = like.profile if hasattr(like, "profile") else like
        for key in ("width", "height", "transform", "crs"):
            if key in base:
                profile[key] = base[key]
        if hasattr(like, "profile"):  # a CRS without a geotransform places nothing
            from geotile.no_georef import map_crs

            profile["crs"] = map_crs(like)
    profile.update(grid)
    profile.update(count=count, dtype=dtype, nodata=nodata)
    if profile.get("compress") in ("deflate", "lzw", "zstd"):
        profile["predictor"] = 3 if np.dtype(dtype).kind == "f" else 2
    # Small rasters: blocks larger than the image are legal but wasteful.
    for key, dim in (("blockxsize", "width"), ("blockysize", "height")):
        if dim in profile and profile[dim] < profile[key] and key not in options:
            profile[key] = max(16, -(-profile[dim] // 16) * 16)
    profile.update(options)
    return profile


#: grids whose pixel positions differ by less than this (in pixels, anywhere in the raster)
#: are one grid: float noise of other tools, never a misalignment


def has_nodata(src: rasterio.io.DatasetReader) -> bool:
    """True when some pixels may be nodata (a nodata value, a mask band or an alpha band)."""
    from rasterio.enums import MaskFlags

    return any(MaskFlags.all_valid not in flags for flags in src.mask_flag_enums)


def unmasked_alpha(src: rasterio.io.DatasetReader) -> list[int]:
    """The alpha bands that GDAL's dataset mask leaves out (it honours one of Byte or UInt16
    only): gdalwarp -dstalpha's of a float raster."""
    from rasterio.enums import ColorInterp, MaskFlags

    if any(MaskFlags.alpha in flags for flags in src.mask_flag_enums):
        return []
    return [i + 1 for i, c in enumerate(src.colorinterp) if c == ColorInterp.alpha]


def lossy_codec(src) -> str | None:
    """The lossy compression of a raster's pixels ("JPEG", "WebP"), else None."""
    driver = (src.driver or "").upper()
    compression = (src.tags(ns="IMAGE_STRUCTURE").get("COMPRESSION") or "").upper()
    if driver == "JPEG" or compression.startswith("JPEG") or compression == "YCBCR JPEG":
        return "JPEG"
    lossless = src.tags(ns="IMAGE_STRUCTURE").get("LOSSLESS", "").upper() == "TRUE"
    if (driver == "WEBP" or compression == "WEBP") and not lossless:
        return "WebP"
    return None


def holds_a_mask(src, band: int) -> bool:
    """Whether ``band`` holds a mask's values (its type's largest, or 255, and maybe 0),
    read at up to 1024 px a side: GDAL flags band 4 of any 4-band uint8 RGB GeoTIFF alpha,
    an RGB+NIR image's NIR too. A lossy codec's mask holds values near 0 or 255; a feathered
    or resampled one (a seam, ``-r average``) others too, at most :data:`MASK_EDGE_SHARE` of
    its pixels not (near) 0. A band of 0 alone over other bands each holding one value is a
    mask showing nothing (a drone mosaic's split tile outside the flight, white under it);
    over bands whose values vary it is an NIR of 0 (a chip over water, the NIR clipped by an
    8-bit stretch); over bands of 0 alone (outside the scene) no mask is told."""
    from rasterio.enums import Resampling

    rows, cols = min(src.height, 1024), min(src.width, 1024)
    values = src.read(band, out_shape=(rows, cols), resampling=Resampling.nearest)
    dtype = np.dtype(src.dtypes[band - 1])
    top = np.iinfo(dtype).max if dtype.kind in "iu" else 1
    lossy = lossy_codec(src)
    if dtype == np.uint8 and lossy:  # JPEG, WebP ring a mask's edges: near 0/255
        low, high = values < 64, values >= 192
    else:
        low, high = values == 0, np.isin(values, [255, top])
    if not values.any():
        others = [i for i in range(1, src.count + 1) if i != band]
        if not others:
            return False
        under = src.read(others, out_shape=(len(others), rows, cols),
                         resampling=Resampling.nearest).reshape(len(others), -1)
        spread = [np.ptp(b[np.isfinite(b)]) if np.isfinite(b).any() else 0 for b in under]
        return bool(under.any()) and all(s <= (8 if lossy else 0) for s in spread)
    shown = np.count_nonzero(~low)
    return bool(high.any() and shown - np.count_nonzero(high) <= MASK_EDGE_SHARE * shown)


#: the share of an alpha band's pixels that are not transparent that may lie between
#: transparent and opaque (its edges: feathered, resampled) for it to be a mask
#: (:func:`holds_a_mask`); an NIR's values lie between nearly everywhere
MASK_EDGE_SHARE = 0.1


def alpha_holds_values(src, indexes=None) -> bool:
    """Whether GDAL's dataset mask of the bands ``indexes`` (all by default) of ``src`` is
    an alpha band that holds values, not a 0/255 mask (band 4 of a 4-band uint8 RGB+NIR
    GeoTIFF, flagged alpha by GDAL's default), fed to the model or not: its 0s (NIR over
    water) must not make pixels nodata (``alpha_as_data`` of :func:`read_block`)."""
    from rasterio.enums import MaskFlags

    alphas = alpha_bands(src)
    indexes = range(1, src.count + 1) if indexes is None else indexes
    if not all(MaskFlags.alpha in src.mask_flag_enums[i - 1] for i in indexes
               if i not in alphas):
        return False  # a nodata value or mask band decides
    return bool(alphas) and not any(holds_a_mask(src, i) for i in alphas)


def dataset_valid(src: rasterio.io.DatasetReader, window) -> np.ndarray:
    """(rows, cols) bool: GDAL's dataset mask of ``window`` and, where it leaves them out
    (:func:`unmasked_alpha`), the alpha bands above 0. Alpha bands beside a nodata value
    (:func:`shadowed_alpha`): where some band of values is not nodata and no alpha is 0.
    Bands masked by nodata values alone: where any band is not nodata."""
    from rasterio.enums import MaskFlags

    shadowed = shadowed_alpha(src)
    if shadowed is not None:
        values, masks = shadowed
        valid = _any_valid(src, window, values)
        for band in masks:
            valid &= read_window(src, window, band) > 0
        return valid
    if all(list(flags) == [MaskFlags.nodata] for flags in src.mask_flag_enums):
        # rasterio's dataset mask of 4 bands led by red is band 4's alone (taken for alpha)
        valid = _any_valid(src, window, range(1, src.count + 1))
    else:
        valid = src.dataset_mask(window=window) > 0
    for band in unmasked_alpha(src):
        valid &= read_window(src, window, band) > 0
    return valid


def _any_valid(src, window, bands) -> np.ndarray:
    """Where any of ``bands`` is valid by its own GDAL mask (its nodata value)."""
    valid = None
    for i in bands:
        # rasterio warns that a nodata value shadows the alpha band: shadowed_alpha reads it
        with hidden(NodataShadowWarning):
            here = src.read_masks(i, window=window) > 0
        valid = here if valid is None else valid | here
    return valid


#: shadowed_alpha's answers by open raster (holds_a_mask reads a whole band, once)
_SHADOWED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def shadowed_alpha(src) -> tuple[list[int], list[int]] | None:
    """For a raster with alpha bands and a nodata value (an ODM orthophoto given
    ``gdal_edit.py -a_nodata 0``; an RGB+NIR GeoTIFF with nodata 0, its NIR flagged alpha by
    GDAL's default), which GDAL masks by the value alone and rasterio by band 4 alone (the
    NIR's 0s over water): ``(bands of values, alpha bands holding a mask)``. Both mask: a
    pixel is nodata where every band of values is nodata or a mask's alpha is 0. None for
    other rasters."""
    from rasterio.enums import MaskFlags

    alphas = alpha_bands(src)
    if not alphas or src.nodata is None or not all(
            MaskFlags.nodata in flags for flags in src.mask_flag_enums):
        return None
    try:
        return _SHADOWED[src]
    except (KeyError, TypeError):
        pass
    masks = [i for i in alphas if holds_a_mask(src, i)]
    found = [i for i in range(1, src.count + 1) if i not in masks] or masks, masks
    with contextlib.suppress(TypeError):
        _SHADOWED[src] = found
    return found


def masked_by_mask_band(src: rasterio.io.DatasetReader) -> bool:
    """True when ``src``'s nodata is a mask band (internal, as gdal_translate -mask writes,
    or .msk), not an alpha band or a nodata value: a WarpedVRT of it honours the mask when
    reading but marks nothing as nodata unless it is given ``add_alpha=True``."""
    from rasterio.enums import MaskFlags

    return all(MaskFlags.per_dataset in flags and not
               {MaskFlags.alpha, MaskFlags.nodata} & set(flags) for flags in src.mask_flag_enums)


def may_hold_nodata(src: rasterio.io.DatasetReader, indexes=None) -> bool:
    """True when some pixels of the bands ``indexes`` (all by default) may be nodata:
    :func:`has_nodata`, an alpha band GDAL's mask leaves out (:func:`unmasked_alpha`), or
    a float type (NaN)."""
    return common_dtype(src, indexes).kind == "f" or has_nodata(src) or bool(
        unmasked_alpha(src))


def valid_pixels(src: rasterio.io.DatasetReader, window, indexes=None,
                 alpha_as_data: bool = False) -> np.ndarray:
    """(rows, cols) bool of ``window`` (inside the raster): where the bands ``indexes`` (all
    by default) have data, as :func:`read_block` has it (nodata by their mask or alpha, and
    for float bands none NaN or at its own nodata value; ``alpha_as_data`` as there)."""
    if common_dtype(src, indexes).kind == "f" or alpha_as_data:
        return read_block(src, int(window.col_off), int(window.row_off), int(window.width),
                          int(window.height), indexes, alpha_as_data=alpha_as_data)[1]
    return _selected_mask(src, window, indexes)


def read_band(
    src: rasterio.io.DatasetReader,
    top: int,
    height: int,
    width: int,
    indexes: list[int] | None = None,
    check_nodata: bool = True,
    fill=None,
    alpha_as_data: bool = False,
    band_nodata_values: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``[top, top + height)`` of the full raster width: :func:`read_block` from
    column 0, padded to ``width``."""
    return read_block(src, 0, top, width, height, indexes, check_nodata, fill, alpha_as_data,
                      band_nodata_values)


def holds_valid_pixel(path: str | os.PathLike) -> bool:
    """Whether ``path`` has a pixel :func:`read_band` calls valid (not nodata, NaN or
    infinite; a band holding its nodata value beside others that do not is valid, as
    vectorize reads probabilities): read a few million pixels at a time, up to the first."""
    with open_raster(path) as src:
        rows = max(1, (1 << 22) // max(1, src.width * src.count))
        return any(read_band(src, top, min(rows, src.height - top), src.width,
                             band_nodata_values=False)[1].any()
                   for top in range(0, src.height, rows))


def read_block(
    src: rasterio.io.DatasetReader,
    left: int,
    top: int,
    width: int,
    height: int,
    indexes: list[int] | None = None,
    check_nodata: bool = True,
    fill=None,
    alpha_as_data: bool = False,
    band_nodata_values: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Read the ``width`` x ``height`` block at (``left``, ``top``), padded past the
    raster's edges.

    Returns ``(pixels (bands, height, width), valid (height, width) bool)``; padding
    is filled with ``fill``, else the nodata value (0 without one), and is invalid, as are nodata
    pixels (from the dataset mask) when ``check_nodata``, and the NaN or infinite pixels
    of a float raster (gaps that many declare no nodata for). ``alpha_as_data``: the alpha
    band of the dataset mask holds values (:func:`alpha_holds_values`): its 0s (NIR over
    water) are values; a pixel is nodata only where it and every band read are 0.
    ``band_nodata_values`` False: a float band holding its nodata value leaves the pixel to
    the dataset mask (:func:`band_nodata` not applied; the caller decides what it means).
    """
    from rasterio.windows import Window

    x0, y0 = max(0, left), max(0, top)
    cols = max(0, min(left + width, src.width) - x0)
    rows = max(0, min(top + height, src.height) - y0)
    window = Window(x0, y0, cols, rows)
    pad = ((y0 - top, height - rows - (y0 - top)), (x0 - left, width - cols - (x0 - left)))
    if fill is None:
        fill = src.nodata if src.nodata is not None else 0
    if rows and cols:
        pixels = read_window(src, window, indexes if indexes is not None else None)
    else:
        count = len(indexes) if indexes is not None else src.count
        pixels = np.zeros((count, rows, cols), common_dtype(src, indexes))
    if pixels.ndim == 2:
        pixels = pixels[np.newaxis]
    if check_nodata and rows and cols:
        try:
            valid = _value_mask(src, pixels, indexes)
            if valid is None:
                valid = _selected_mask(src, window, indexes)
        except RasterioError as exc:
            raise InputError(f"{src.name}: the nodata mask cannot be read ({exc}).") from exc
        if alpha_as_data:
            valid |= (pixels != 0).any(axis=0)
    else:
        valid = np.ones((rows, cols), bool)
    if any(p for side in pad for p in side):
        pixels = np.pad(pixels, ((0, 0), *pad), constant_values=fill)
        valid = np.pad(valid, pad, constant_values=False)
    if check_nodata and band_nodata_values and rows and cols and pixels.dtype.kind == "f":
        bands = indexes if indexes is not None else range(1, src.count + 1)
        missing = band_nodata(pixels, [src.nodatavals[i - 1] for i in np.atleast_1d(bands)])
        if missing is not None:
            valid = valid & ~missing
    finite = finite_pixels(pixels)
    if finite is not None:
        valid = valid & finite
    return pixels, valid


def _value_mask(src, pixels: np.ndarray, indexes) -> np.ndarray | None:
    """Where any band of the integer ``pixels`` read (bands ``indexes``) is not its nodata
    value: the mask :func:`_selected_mask` gets from GDAL when a nodata value alone masks
    every band (no mask or alpha band), without reading it again (GDAL's mask of a
    pixel-interleaved GeoTIFF decodes each tile once per band: 224 times for EnMAP's).
    None for other rasters."""
    from rasterio.enums import ColorInterp, MaskFlags

    if not isinstance(src, rasterio.io.DatasetReader) or pixels.dtype.kind not in "iu" \
            or ColorInterp.alpha in src.colorinterp \
            or any(list(flags) != [MaskFlags.nodata] for flags in src.mask_flag_enums):
        return None
    bands = range(1, src.count + 1) if indexes is None else np.atleast_1d(indexes)
    values = [src.nodatavals[int(i) - 1] for i in bands]
    info = np.iinfo(pixels.dtype)
    if any(v is None or not float(v).is_integer() or not info.min <= v <= info.max
           or abs(v) >= 2**53 for v in values):
        # GDAL's own rule for a value the type cannot hold; past 2**53 rasterio's float
        # may not be the 64-bit integer GDAL compares with
        return None
    nodata = np.array(values, pixels.dtype).reshape(-1, 1, 1)
    return (pixels != nodata).any(axis=0)


def _selected_mask(src, window, indexes) -> np.ndarray:
    """Where any of the bands ``indexes`` has data: the dataset mask, which counts every
    band, unless a subset of bands with their own nodata values is read (a stack's Byte
    bands are nodata where they are, whatever its nDSM holds). A chosen alpha band's own
    mask (all valid) counts only when no other band is chosen: alpha masks them."""
    from rasterio.enums import ColorInterp

    bands = sorted(set(np.atleast_1d(indexes).tolist())) if indexes is not None else None
    if bands is None or bands == list(range(1, src.count + 1)):
        return dataset_valid(src, window)
    shadowed = shadowed_alpha(src)
    if shadowed is not None:  # a nodata value beside alpha bands: both mask
        values = [i for i in bands if i not in shadowed[1]] or bands
        alphas = shadowed[1]
    else:
        values = [i for i in bands if src.colorinterp[i - 1] != ColorInterp.alpha] or bands
        alphas = unmasked_alpha(src)  # float alpha bands: GDAL's masks leave them out
    valid = _any_valid(src, window, values)
    for band in alphas:
        valid &= read_window(src, window, band) > 0
    return valid


def band_nodata(pixels: np.ndarray, values) -> np.ndarray | None:
    """Where any band of float ``pixels`` (bands, rows, cols) holds its own nodata value
    (``values``, one per band; None or NaN: none): as a NaN would be, such a band has no
    value there, though GDAL's dataset mask calls the pixel valid unless every band is
    nodata. None when no band holds it."""
    missing = None
    for band, value in zip(pixels, values, strict=True):
        if value is None or np.isnan(value):
            continue
        here = band == value
        if here.any():
            missing = here if missing is None else missing | here
    return missing


def finite_pixels(pixels: np.ndarray) -> np.ndarray | None:
    """Where every band of float ``pixels`` (bands, rows, cols) is finite: NaN gaps are
    nodata, declared or not. None for integer pixels or when all are finite."""
    if pixels.dtype.kind != "f":
        return None
    finite = np.isfinite(pixels).all(axis=0)
    return None if finite.all() else finite
