"""What a raster declares its integer pixels reach, for predict's --scale advice: the bits
they use (GDAL's NBITS: a DIMAP's 12, a Maxar product's 11) or, by the vendor's own file
name, PlanetScope/SkySat surface reflectance stored x 10000."""

from __future__ import annotations

import os
import re

import numpy as np

#: Planet's surface reflectance assets (PSScene ortho_analytic_4b_sr / 8b_sr:
#: <id>_3B_AnalyticMS_SR[_8b]_clip.tif; SkySat ortho_analytic_sr: <id>_analytic_SR.tif)
_PLANET_SR = re.compile(r".*_analytic(ms)?_sr(_.*)?\.tiff?", re.IGNORECASE)


def declared_top(src, indexes) -> tuple[float, str] | None:
    """(the value its ``indexes`` bands' pixels stand for 1.0 at, why) that ``src``
    declares, else None: 2**NBITS - 1 when its bands declare fewer bits than their integer
    type holds, 10000 for Planet's surface reflectance."""
    dtypes = {np.dtype(src.dtypes[i - 1]) for i in indexes}
    if len(dtypes) != 1 or (dtype := dtypes.pop()).kind not in "iu" or dtype.itemsize < 2:
        return None
    if _PLANET_SR.fullmatch(os.path.basename(src.name)) and dtype == np.uint16:
        return 10000.0, "Planet's surface reflectance x 10000"
    bits = {src.tags(i, ns="IMAGE_STRUCTURE").get("NBITS") for i in indexes}
    if len(bits) == 1 and (nbits := bits.pop() or "").isdigit() \
            and 1 < int(nbits) < dtype.itemsize * 8:
        top = 2 ** int(nbits) - 1
        return float(top), f"1/{top}: it declares {nbits}-bit pixels, NBITS={nbits}"
    return None
