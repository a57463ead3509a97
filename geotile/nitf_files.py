"""NITF 2.1 files (Maxar/WorldView, Airbus: .ntf, .r0): what GDAL's NITF driver reads of
them that geotile's outputs would carry without a word.

GDAL derives a NITF's geotransform from IGEOLO, its four corner pixels' centres, unless a
GEOLOB or BLOCKA TRE holds them more finely. IGEOLO holds whole metres (ICORDS N, S: UTM;
U: MGRS), whole arc-seconds (G) or thousandths of a degree (D), so the grid read back may
lie up to half that off the data's: at 0.5 m pixels, a pixel. MIL-STD-2500C also makes
IGEOLO approximate; an image that carries RPC00B is placed by its RPCs, unless they place
its pixels where its grid does (an orthorectified product that keeps RPCs fitted to its
map grid, e.g. Maxar OR2A): gdalwarp -rpc would warp that a second time. A file of several
image segments reads as its first; NITF_IM:<n>:<file> reads segment n (0 the first).
"""

from __future__ import annotations

import math
import shlex

from geotile.errors import GeotileWarning
from geotile.user_warnings import warn

#: ICORDS -> (the step of IGEOLO's coordinates, in the CRS GDAL gives, and its words)
_PRECISION = {
    "G": (1 / 3600, "1 arc-second"),
    "D": (0.001, "0.001 degree"),
    "N": (1.0, "1 m"),
    "S": (1.0, "1 m"),
    "U": (1.0, "1 m"),
}
#: how far (in pixels) IGEOLO's rounding may move the grid before it is said: from half a
#: pixel, a pixel's centre may fall in its neighbour, and a mask moves by a pixel
SAID_FROM = 0.5


def corner_grid(src) -> tuple[str, float, str] | None:
    """(ICORDS, the pixels IGEOLO's rounding may move ``src``'s grid by, the rounding in
    words) when GDAL read the NITF ``src``'s geotransform from IGEOLO alone, else None."""
    if src.driver != "NITF" or src.transform.is_identity:
        return None
    tags = src.tags()
    icords = tags.get("NITF_ICORDS", "").strip().upper()
    if icords not in _PRECISION or any(k.startswith("NITF_BLOCKA_") for k in tags):
        return None
    if "GEOLOB" in src.tags(ns="TRE"):
        return None
    step, words = _PRECISION[icords]
    t = src.transform
    pixel = min(math.hypot(t.a, t.d), math.hypot(t.b, t.e))
    return icords, step / 2 / pixel, words


def rpcs_fit_grid(src, rounding: float) -> bool:
    """Whether ``src``'s RPCs (at their mean height) place its corner and centre pixels
    within SAID_FROM pixels, beyond the ``rounding`` its grid may carry, of where its grid
    does: a map-projected image's own model."""
    import numpy as np
    from rasterio.errors import RasterioError
    from rasterio.transform import RPCTransformer
    from rasterio.warp import transform as reproject

    rows = np.array([0, 0, src.height - 1, src.height - 1, src.height // 2])
    cols = np.array([0, src.width - 1, 0, src.width - 1, src.width // 2])
    try:
        with RPCTransformer(src.rpcs) as rpc:
            lons, lats = rpc.xy(rows, cols, zs=src.rpcs.height_off)
        xs, ys = reproject("EPSG:4326", src.crs, np.atleast_1d(lons), np.atleast_1d(lats))
    except (RasterioError, ValueError):  # a model GDAL cannot invert fits nothing
        return False
    inverse, xs, ys = ~src.transform, np.asarray(xs), np.asarray(ys)
    back_cols = inverse.a * xs + inverse.b * ys + inverse.c
    back_rows = inverse.d * xs + inverse.e * ys + inverse.f
    off = np.hypot(back_cols - (cols + 0.5), back_rows - (rows + 0.5))
    return bool(np.all(np.isfinite(off)) and off.max() < SAID_FROM + rounding)


def warn_nitf(src, name: str, outputs: str) -> None:
    """The warnings of the NITF ``src`` (``name``): a grid read from IGEOLO that may lie a
    pixel or more off, or beside RPCs (``outputs``: what is on it, e.g. "the predictions");
    and image segments other than the one read."""
    if src.driver != "NITF":
        return
    segment = str(src.name).upper().startswith("NITF_IM:")
    if segment and not name.upper().startswith("NITF_IM:"):  # which segment, as GDAL names it
        name = f"{name} ({':'.join(str(src.name).split(':')[:2])})"
    grid = corner_grid(src)
    if grid is not None:
        icords, shift, words = grid
        off = f"{shift:.3g} pixel{'s' if shift > 1 else ''}"
        where = (f"{name}: its grid is GDAL's reading of the NITF's corner coordinates "
                 f"(IGEOLO, ICORDS={icords}), ")
        if src.rpcs is not None and not rpcs_fit_grid(src, shift):
            warn(f"{where}which MIL-STD-2500C makes approximate (to {words}, up to {off} "
                 f"here), while its RPC00B holds the sensor model: {outputs} follow that "
                 "approximate grid. Orthorectify it by its RPCs (gdalwarp -rpc -t_srs "
                 "EPSG:xxxx, with -to RPC_DEM=dem.tif where the ground has relief) for an "
                 "exact one.", GeotileWarning)
        elif shift >= SAID_FROM:
            warn(f"{where}which hold them to {words}: it may lie up to {off} off the "
                 f"data's, and {outputs} with it. For an exact grid give a copy georeferenced "
                 "from the vendor's metadata (gdal_translate -a_ullr ULX ULY LRX LRY, e.g. "
                 "from a Maxar .IMD), or the product as GeoTIFF; NITFs written by GDAL keep "
                 "geographic corners exactly with -co SDE_TRE=YES.", GeotileWarning)
    segments = [s for s in src.subdatasets if s.upper().startswith("NITF_IM:")]
    if len(segments) > 1:
        warn(f"{name}: the NITF holds {len(segments)} image segments and the first "
             f"(NITF_IM:0) is read ({src.width}x{src.height} px, {src.count} band"
             f"{'s' if src.count > 1 else ''}). To read another give it as GDAL names it, "
             f"NITF_IM:<n>:<file> (e.g. {shlex.quote(segments[1])}; gdalinfo lists them).",
             GeotileWarning)
