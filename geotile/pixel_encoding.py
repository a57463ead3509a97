"""What a raster declares its integer pixels reach, for predict's --scale advice: the bits
they use (GDAL's NBITS: a DIMAP's 12, a Maxar product's 11) or, by the vendor's own file
name, PlanetScope/SkySat surface reflectance stored x 10000."""

from __future__ import annotations

import os
import re
from pathlib import Path

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


#: Planet's analytic radiance assets (PSScene ortho_analytic_4b / 8b: <id>_3B_AnalyticMS
#: [_8b][_clip].tif), whose metadata XML beside them names each band's reflectanceCoefficient
_PLANET_RADIANCE = re.compile(r"(?P<stem>.+_analyticms(_8b)?)(?P<clip>_clip)?\.tiff?",
                              re.IGNORECASE)


def planet_radiance_hint(src) -> str | None:
    """How to feed reflectance for a Planet analytic image (radiance x 100) whose metadata
    XML (<stem>_metadata[_clip].xml) gives every band's reflectanceCoefficient: the
    gdal_translate that multiplies each band by its own; None for any other raster."""
    path = Path(src.name)
    match = _PLANET_RADIANCE.fullmatch(path.name)
    if match is None or not path.parent.is_dir():
        return None
    found = sorted(path.parent.glob(f"{match['stem']}_metadata*.xml"))
    coefficients = _reflectance_coefficients(found[0]) if len(found) == 1 else {}
    if sorted(coefficients) != list(range(1, src.count + 1)):
        return None
    scales = " ".join(f"-scale_{b} 0 1 0 {coefficients[b]:.6g}" for b in sorted(coefficients))
    return (f"they are Planet's radiance x 100, and {found[0].name} gives each band's "
            f"top-of-atmosphere reflectanceCoefficient: give the reflectance copy "
            f"(gdal_translate -ot Float32 {scales} {path.name} {path.stem}_toa.tif)")


def _reflectance_coefficients(xml) -> dict[int, float]:
    """{band number: reflectanceCoefficient} of a Planet metadata XML; {} when unreadable."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(xml).getroot()
    except (OSError, ET.ParseError):
        return {}
    found = {}
    for band in root.iter():
        if band.tag.rpartition("}")[2] != "bandSpecificMetadata":
            continue
        values = {e.tag.rpartition("}")[2]: (e.text or "").strip() for e in band}
        try:
            found[int(values["bandNumber"])] = float(values["reflectanceCoefficient"])
        except (KeyError, ValueError):
            continue
    return found
