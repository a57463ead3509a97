"""What a STAC Item of Sentinel-2 (L2A or L1C, ``s2:processing_baseline`` among its
properties) declares of a reflectance band's values, as catalogs serve them:

- Earth Search's ``sentinel-2-l2a`` shifted the pixels of baseline 04.00 on by the
  product's -1000 already (``earthsearch:boa_offset_applied`` true) but its raster:bands
  still declare offset -0.1: the pixels are reflectance x 10000, offset 0; where that
  flag is false they are the product's DN, whatever raster:bands says: offset -0.1 from
  baseline 04.00, 0 before it;
- the Planetary Computer's items declare no raster:bands on their raw DN: scale 0.0001
  (the product's quantification value, 10000) and, since baseline 04.00, offset -0.1
  (BOA_ADD_OFFSET / RADIO_ADD_OFFSET -1000), as :mod:`geotile.sentinel2_safe` reads a
  SAFE; 0 is the product's no data;
- what an item declares otherwise (Earth Search's ``sentinel-2-c1-l2a``: -0.1, not
  applied) is kept;
- the 8-bit true-colour image (TCI, ``visual``: eo:bands B04, B03, B02) holds display
  values, not DN: its fill 0 alone; floats (reflectance already) are left as declared, and
  DN stored in other integers of 16 bits or more (Int16) are read as uint16 DN are.
"""

from __future__ import annotations

import re

import numpy as np

#: the spectral bands, by name or common name (Earth Search names its assets by the latter)
_SPECTRAL = re.compile(r"B(0?[1-9]|1[0-2]|8A)|coastal|blue|green|red|rededge\d?|nir\d*|"
                       r"water_?vapou?r|cirrus|swir\d+", re.IGNORECASE)
_PRODUCTS = ("S2MSI2A", "S2MSI1C")


def _baseline(properties: dict) -> float | None:
    """The item's processing baseline (``"05.09"``) as a number, else None."""
    found = re.fullmatch(r"\s*(\d{1,2})\.(\d{1,2})\s*",
                         str(properties.get("s2:processing_baseline", "")))
    return int(found.group(1)) + int(found.group(2)) / 100 if found else None


def decides(document: dict) -> bool:
    """Whether ``document`` is a Sentinel-2 item whose processing baseline decides its
    reflectance bands' values (:func:`declared_values`), not its band files' MTDs."""
    properties = document.get("properties")
    return isinstance(properties, dict) and _baseline(properties) is not None \
        and str(properties.get("s2:product_type", "")).upper() in _PRODUCTS


def declared_values(document: dict, names: list[str], declared: dict,
                    dtype: str = "uint16") -> dict:
    """``declared`` (a band's raster:bands object) for a band of ``document`` known by any
    of ``names`` (its name, common name, asset key), its pixels of ``dtype``, with the
    reflectance they hold where ``document`` is a Sentinel-2 item (see the module
    docstring); as it is else."""
    if not decides(document) or not any(name and _SPECTRAL.fullmatch(name) for name in names):
        return declared
    kind = np.dtype(dtype)
    if kind.kind not in "iu" or kind.itemsize < 2:  # not DN: TCI's 8-bit display values,
        return {"nodata": 0, **declared} if kind.itemsize == 1 else declared  # or floats
    properties = document["properties"]
    baseline = _baseline(properties)
    declared = dict(declared)
    applied = properties.get("earthsearch:boa_offset_applied")
    if isinstance(applied, bool):  # Earth Search says what its COGs hold
        scale = declared.get("scale", 0.0001)
        declared |= {"scale": scale,
                     "offset": 0.0 if applied or baseline < 4 else -1000 * scale}
    elif "scale" not in declared and "offset" not in declared:
        declared |= {"scale": 0.0001, "offset": -0.1 if baseline >= 4 else 0.0}
    declared.setdefault("nodata", 0)
    return declared
