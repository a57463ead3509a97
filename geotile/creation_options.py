"""GeoTIFF and COG creation options: the compression profiles, parsing and checking the
user's --co options (with a trial write), and the lossy/lossless split of them."""

from __future__ import annotations

import contextlib
import functools
import re
import uuid
from typing import Any

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning, RasterioError

from geotile.errors import InputError
from geotile.quiet_warnings import hidden

#: BigTIFF for every GeoTIFF and COG output that might pass classic TIFF's 4 GB (GDAL's
#: guess from the uncompressed size): the default, IF_NEEDED, never makes a compressed file
#: BigTIFF, and the write fails at 4 GB
BIGTIFF = "IF_SAFER"

#: Compression profiles for GeoTIFF outputs: name -> creation options.
COMPRESSION_PROFILES: dict[str, dict[str, Any]] = {
    "deflate": {"compress": "deflate", "zlevel": 6},
    # float32 probabilities: their low bits are noise to any level, so level 1 is as small
    # as 6 and ~2x faster; ZSTD (with the float predictor, see "float-fast") halves that again
    "deflate-fast": {"compress": "deflate", "zlevel": 1},
    "zstd-fast": {"compress": "zstd", "zstd_level": 1},
    "zstd": {"compress": "zstd", "zstd_level": 9},
    "lzw": {"compress": "lzw"},
    "none": {},
}


def resolved_compression(compression: str) -> str:
    """A name of :data:`COMPRESSION_PROFILES`; "float-fast": ZSTD level 1 (with the float
    predictor), DEFLATE level 1 where GDAL lacks ZSTD."""
    if compression == "float-fast":
        return "zstd-fast" if gtiff_has_zstd() else "deflate-fast"
    return compression


@functools.cache
def gtiff_has_zstd() -> bool:
    """Whether this GDAL writes ZSTD-compressed GeoTIFFs (rasterio's wheels do; a GDAL built
    without libzstd warns and writes uncompressed, which the probe reads back)."""
    from rasterio.shutil import delete

    probe = f"/vsimem/geotile-zstd-{uuid.uuid4().hex}.tif"
    try:
        with hidden(NotGeoreferencedWarning), rasterio.Env():  # 1 px, no transform
            with rasterio.open(probe, "w", driver="GTiff", width=1, height=1, count=1,
                               dtype="uint8", compress="zstd") as dst:
                dst.write(np.zeros((1, 1, 1), np.uint8))
            with rasterio.open(probe) as src:
                return src.compression is not None and src.compression.name == "zstd"
    except RasterioError:
        return False
    finally:
        with contextlib.suppress(RasterioError):
            delete(probe)


def parse_creation_options(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """Turn ``["KEY=VALUE", ...]`` into a dict, raising InputError on a malformed pair."""
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"creation option {pair!r} is not KEY=VALUE (e.g. COMPRESS=ZSTD)")
        options[key.strip().lower()] = value.strip()
    return options


_DRIVER_DOCS = {"GTiff": "https://gdal.org/drivers/raster/gtiff.html#creation-options",
                "COG": "https://gdal.org/drivers/raster/cog.html#creation-options"}


#: overview resamplings of the COG driver
_RESAMPLINGS = ("nearest", "average", "bilinear", "cubic", "cubicspline", "lanczos", "mode",
                "rms", "gauss")


#: compressions that hold 8-bit samples only
_BYTE_CODECS = ("jpeg", "webp")


def _shown(key: str, value: Any) -> str:
    return f"--co {key.upper()}={value}"


def check_creation_options(
    options: dict[str, Any],
    *,
    dtype: str,
    count: int | None = None,
    cog: bool = False,
    categorical: bool = False,
    cog_option: bool = False,
) -> None:
    """Raise a one-line InputError for creation options GDAL would refuse, ignore or fail on
    at close, before any work: block sizes that are not multiples of 16, JPEG/WEBP on data
    that is not uint8, SPARSE_OK (geotile verifies every block), then whatever GDAL's own
    validation of a tiny trial file (in memory) reports: unknown names and values.
    ``cog`` checks them against the COG driver (after :func:`cog_creation_options`);
    ``count`` None: the number of bands is not known yet. ``categorical`` (class ids,
    masks): lossy codecs are refused. ``cog_option``: the command has --cog (predict), so
    a COG-only option is answered with "add --cog".
    """
    options = {key.lower(): value for key, value in options.items()}
    if not options:
        return
    if "sparse_ok" in options:
        raise InputError(f"{_shown('sparse_ok', options['sparse_ok'])}: not supported; geotile "
                         "checks that every block of its outputs was written, which sparse "
                         "files leave out. Remove the option.")
    for key in ("blockxsize", "blockysize", "blocksize"):
        if key in options:
            value = str(options[key]).strip()
            if not value.isdigit() or not 16 <= int(value) <= 4096 or int(value) % 16:
                raise InputError(f"{_shown(key, options[key])}: block sizes must be a "
                                 "multiple of 16 from 16 to 4096 (e.g. 256 or 512).")
    check_nbits(options, dtype)
    if str(options.get("photometric", "minisblack")).lower() != "minisblack":
        raise InputError(f"{_shown('photometric', options['photometric'])}: geotile writes "
                         "data bands, not pictures (PHOTOMETRIC=MINISBLACK). Remove the option.")
    codec = str(options.get("compress", "")).lower()
    if codec in _BYTE_CODECS and np.dtype(dtype) != np.uint8:
        raise InputError(f"{_shown('compress', options['compress'])} works only with uint8 "
                         f"output, not {dtype}; use --dtype uint8, or COMPRESS=DEFLATE, ZSTD "
                         "or LZW.")
    if categorical and (codec in _BYTE_CODECS or "max_z_error" in options):
        key = "compress" if codec in _BYTE_CODECS else "max_z_error"
        raise InputError(f"{_shown(key, options[key])}: lossy compression would change class "
                         "ids; use COMPRESS=DEFLATE, ZSTD or LZW for class rasters.")
    if codec == "webp" and count not in (None, 3, 4):
        raise InputError(f"{_shown('compress', options['compress'])} needs 3 or 4 bands, not "
                         f"{count}; use COMPRESS=DEFLATE, ZSTD, LZW or JPEG.")
    lossless = gdal_yes(options.get("webp_lossless")) or (
        cog and str(options.get("quality", "")).strip() == "100")
    if codec == "webp" and not lossless:
        raise InputError(f"{_shown('compress', options['compress'])}: lossy WebP stores the "
                         "bands as YUV colour, mixing them (off by up to 181/255); add --co "
                         "WEBP_LOSSLESS=YES, or use COMPRESS=JPEG, DEFLATE, ZSTD or LZW.")
    if cog and codec == "jpeg" and count == 3:  # the COG driver forces PHOTOMETRIC=YCBCR
        raise InputError(f"{_shown('compress', options['compress'])} in a COG (--cog, --merge "
                         ".tif) on 3 bands: GDAL's COG driver stores them as YCbCr colour, "
                         "mixing the bands (off by up to 164/255); drop --cog and merge to a "
                         ".vrt (a GeoTIFF keeps JPEG bands apart) or use COMPRESS=DEFLATE, ZSTD "
                         "or LZW.")
    if count is None:
        count = 3 if codec == "webp" else 1
    for key in ("overview_resampling", "resampling"):
        if key in options and str(options[key]).lower() not in _RESAMPLINGS:
            raise InputError(f"{_shown(key, options[key])}: not a resampling GDAL's COG "
                             f"driver knows; use one of {', '.join(_RESAMPLINGS).upper()}.")
        if categorical and key in options and \
                str(options[key]).lower() not in ("nearest", "mode"):
            raise InputError(f"{_shown(key, options[key])}: would blend class ids in the "
                             "overviews (ids of no class present there); use MODE (the "
                             "default for class rasters) or NEAREST.")
    driver = "COG" if cog else "GTiff"
    final = cog_creation_options(options) if cog else gtiff_creation_options(options)
    problem = _trial_write(final, dtype=dtype, count=count, cog=cog)
    if problem is not None:
        named = [key for key in options if key.upper() in problem.upper()] or list(options)
        shown = ", ".join(_shown(key, options[key]) for key in named)
        hint = ""
        if not cog and all(_trial_write(cog_creation_options({k: options[k]}), dtype=dtype,
                                        count=count, cog=True) is None for k in named):
            hint = (" (a COG option: add --cog)" if cog_option else
                    " (an option of GDAL's COG driver; these outputs are plain GeoTIFFs)")
        raise InputError(f"{shown}: GDAL's {driver} driver refuses it ({problem}){hint}. Fix "
                         f"or remove it; see {_DRIVER_DOCS[driver]}")


def check_nbits(options: dict[str, Any], dtype: str) -> None:
    """InputError for NBITS below ``dtype``'s size: GDAL keeps the low bits only, so class
    ids, nodata (255) and pixels above them would be stored changed."""
    options = {key.lower(): value for key, value in options.items()}
    if "nbits" not in options:
        return
    bits = np.dtype(dtype).itemsize * 8
    value = str(options["nbits"]).strip()
    if not value.isdigit() or int(value) < bits:
        raise InputError(f"{_shown('nbits', options['nbits'])}: {dtype} values need {bits} "
                         "bits; fewer would store them changed (class ids, nodata, pixels). "
                         "Remove the option.")


#: options that only make a lossy codec lossy (or drop low bits): never on class ids
_LOSSY_KEYS = ("jpeg_quality", "jpegtablesmode", "webp_level", "webp_lossless", "max_z_error",
               "max_z_error_overview", "jxl_lossless", "jxl_distance", "jxl_alpha_distance",
               "discard_lsb")


def lossy_creation_options(options: dict[str, Any]) -> bool:
    """Whether ``options`` may change pixel values (a JPEG/WEBP codec, a lossy setting)."""
    options = {key.lower(): value for key, value in options.items()}
    return (str(options.get("compress", "")).lower() in _BYTE_CODECS
            or any(key in options for key in _LOSSY_KEYS))


def lossless_creation_options(options: dict[str, Any], dtype: str) -> dict[str, Any]:
    """``options`` less what would change ``dtype`` class ids (masks): a lossy codec (JPEG,
    WEBP) becomes DEFLATE, lossy settings (MAX_Z_ERROR, JXL_LOSSLESS=NO, DISCARD_LSB...),
    PHOTOMETRIC/ALPHA, PREDICTOR=3 on integers and NBITS below ``dtype``'s size go."""
    out = {key.lower(): value for key, value in options.items()
           if key.lower() not in (*_LOSSY_KEYS, "photometric", "alpha")}
    if str(out.get("compress", "")).lower() in _BYTE_CODECS:
        out["compress"] = "deflate"
    if str(out.get("predictor", "")).strip() == "3" and np.dtype(dtype).kind != "f":
        del out["predictor"]
    nbits = str(out.get("nbits", "")).strip()
    if "nbits" in out and (not nbits.isdigit() or int(nbits) < np.dtype(dtype).itemsize * 8):
        del out["nbits"]
    return out


def gtiff_creation_options(options: dict[str, Any]) -> dict[str, Any]:
    """The COG driver's BLOCKSIZE=N in GeoTIFF names (BLOCKXSIZE=BLOCKYSIZE=N)."""
    out = {key: value for key, value in options.items() if key != "blocksize"}
    if "blocksize" in options:
        out.setdefault("blockxsize", options["blocksize"])
        out.setdefault("blockysize", options["blocksize"])
    return out


def gdal_yes(value: Any) -> bool:
    """Whether a creation option's value is GDAL's yes."""
    return str(value).strip().upper() in ("YES", "TRUE", "ON", "1")


def cog_creation_options(options: dict[str, Any]) -> dict[str, Any]:
    """GeoTIFF creation options in the COG driver's names: BLOCKXSIZE/BLOCKYSIZE ->
    BLOCKSIZE (square), ZLEVEL/ZSTD_LEVEL -> LEVEL, JPEG_QUALITY/WEBP_LEVEL -> QUALITY,
    PREDICTOR 1/2/3 -> NO/STANDARD/FLOATING_POINT, WEBP_LOSSLESS=YES -> QUALITY=100; TILED
    goes (COGs are always tiled)."""
    out: dict[str, Any] = {}
    sizes = {key: options[key] for key in ("blockxsize", "blockysize") if key in options}
    if len(set(map(str, sizes.values()))) > 1:
        raise InputError(f"{', '.join(_shown(k, v) for k, v in sizes.items())}: COG blocks "
                         "are square; give one size (--co BLOCKSIZE=N).")
    for key, value in options.items():
        if key in ("blockxsize", "blockysize"):
            out["blocksize"] = value
        elif key in ("zlevel", "zstd_level"):
            out["level"] = value
        elif key in ("jpeg_quality", "webp_level"):
            out["quality"] = value
        elif key == "webp_lossless":  # the COG driver's lossless WebP is QUALITY=100
            if gdal_yes(value):
                out["quality"] = 100
        elif key == "predictor":
            out[key] = {"1": "NO", "2": "STANDARD", "3": "FLOATING_POINT"}.get(str(value), value)
        elif key == "tiled" and gdal_yes(value):
            continue
        else:
            out[key] = value
    return out


def _trial_write(options: dict[str, Any], *, dtype: str, count: int, cog: bool) -> str | None:
    """Write a tiny raster in memory with ``options``; GDAL's first complaint, or None."""
    from rasterio.shutil import copy, delete
    from rasterio.transform import from_origin

    from geotile.quiet_warnings import gdal_messages

    stem = f"/vsimem/geotile-check-{uuid.uuid4().hex}"
    size = 16  # blocks may be larger than the raster
    profile = {"driver": "GTiff", "width": size, "height": size, "count": count,
               "dtype": dtype, "crs": "EPSG:3857", "transform": from_origin(0, size, 1, 1)}
    if not cog:  # geotile's GeoTIFFs are compressed unless a COMPRESS option says not
        # (GDAL 3.12 warns of a PREDICTOR given without one) and tiled unless TILED=NO says
        # not (3.12 refuses BLOCKXSIZE in a striped file)
        profile.update(compress="deflate")
        if gdal_yes(options.get("tiled", "YES")):
            profile.update(tiled=True, blockxsize=16, blockysize=16)
        profile.update(options)
    written = []
    with gdal_messages() as complaints:
        try:
            with rasterio.Env():
                written.append(f"{stem}.tif")
                with rasterio.open(written[-1], "w", **profile) as dst:
                    dst.write(np.zeros((count, size, size), dtype))
                if cog:
                    written.append(f"{stem}.cog.tif")
                    copy(written[0], written[-1], driver="COG", **options)
                with rasterio.open(written[-1]) as src:
                    src.read()
        except Exception as exc:  # GDAL refused the options: say why, in one line
            causes = []
            while exc is not None and len(causes) < 8:
                causes.append(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                exc = exc.__cause__ or exc.__context__
            specific = [c for c in causes if "see previous exception" not in c.lower()]
            complaints.append((specific or causes)[-1])
        finally:
            for path in written:
                with contextlib.suppress(Exception):
                    delete(path)
    if not complaints:
        return None
    problem = re.sub(r"^CPLE_\w+ in ", "", complaints[0])
    problem = re.sub(r"(/vsimem/)?geotile-check-\w+(\.cog)?\.tif: ", "", problem)
    return problem.strip().rstrip(".") or "refused"
