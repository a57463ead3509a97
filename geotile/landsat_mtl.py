"""Landsat Collection 2 Level-2 band files (``LC09_L2SP_..._T1_SR_B4.TIF``) as the USGS
delivers them: their GeoTIFFs declare no scale or offset, which the product's metadata
file beside them (``<product>_MTL.json`` or ``_MTL.xml``) gives per band:

- surface reflectance (SR_B1..SR_B7): REFLECTANCE_MULT_BAND_n (2.75e-05) and
  REFLECTANCE_ADD_BAND_n (-0.2);
- surface temperature (ST_B10; ST_B6 of Landsat 4-7): TEMPERATURE_MULT_BAND_ST_Bn
  (0.00341802) and TEMPERATURE_ADD_BAND_ST_Bn (149, kelvin).

Such a file is read through a VRT declaring them as its scale and offset, and nodata 0
(the fill the Level-2 product guide documents) where it declares none, pixels unchanged:
as :mod:`geotile.sentinel2_safe` does for a SAFE, so predict's warning names the
``--scale 2.75e-05 --mean 0.2`` that feed reflectance, the fill is nodata, and a STAC Item
of the files (the USGS's declare no raster:bands) gets them too. What the file declares
itself is kept.
"""

from __future__ import annotations

import json
import os

from geotile.input_paths import LANDSAT_BAND_FILE

#: a Level-2 band's scale and offset keys in the MTL, by its kind
_KEYS = {"SR": ("REFLECTANCE_MULT_BAND_{n}", "REFLECTANCE_ADD_BAND_{n}"),
         "ST": ("TEMPERATURE_MULT_BAND_ST_B{n}", "TEMPERATURE_ADD_BAND_ST_B{n}")}


def _mtl_values(base: str) -> dict[str, str]:
    """Every KEY: value of the product's ``<base>_MTL.json`` or ``_MTL.xml`` (the groups
    flattened), {} when neither is there or readable."""
    import xml.etree.ElementTree as ElementTree

    values: dict[str, str] = {}

    def walk(node):
        for key, value in node.items():
            if isinstance(value, dict):
                walk(value)
            else:
                values.setdefault(str(key).upper(), str(value))

    try:
        with open(f"{base}_MTL.json", encoding="utf-8") as file:
            document = json.load(file)
        if isinstance(document, dict):
            walk(document)
            return values
    except (OSError, ValueError):
        pass
    try:
        root = ElementTree.parse(f"{base}_MTL.xml").getroot()
    except (OSError, ElementTree.ParseError):
        return {}
    for element in root.iter():
        if len(element) == 0 and element.text:
            values.setdefault(element.tag.upper(), element.text.strip())
    return values


def mtl_declared(src) -> list[tuple] | None:
    """(nodata, scale, offset) of the one band of a Landsat C2 L2 band file ``src`` (its
    uint16 DN) from the MTL beside it, where the file declares no scale or offset; else
    None."""
    name = str(src.name)
    found = LANDSAT_BAND_FILE.fullmatch(os.path.basename(name))
    # the product's DN are uint16: a copy rescaled to reflectance (float) or 8 bits is not
    if not found or src.driver != "GTiff" or src.count != 1 or name.startswith("/vsi") \
            or src.dtypes[0] != "uint16" or (src.scales[0], src.offsets[0]) != (1, 0):
        return None
    kind, number = found.group(2).upper().split("_B")
    mult, add = (key.format(n=number) for key in _KEYS[kind])
    values = _mtl_values(os.path.join(os.path.dirname(name), found.group(1)))
    from geotile.sentinel2_safe import finite_number

    scale, offset = finite_number(values.get(mult)), finite_number(values.get(add))
    if not scale or offset is None:
        return None
    nodata = src.nodatavals[0] if src.nodatavals[0] is not None else 0.0
    return [(nodata, scale, offset)]


def with_mtl_values(src):
    """``src``, or for a Landsat C2 L2 band file whose MTL declares its scale and offset
    (:func:`mtl_declared`) an in-memory VRT of it declaring them (``src`` is closed then)."""
    bands = mtl_declared(src)
    if bands is None:
        return src
    from geotile.sentinel2_safe import declared_view

    return declared_view(src, bands)
