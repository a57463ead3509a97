"""Reading predict's rasters back: class rasters or probability rasters, and class ids.

Shared by vectorize (polygons per class) and evaluate (pixel scores): geotile's own
tags (GEOTILE_OUTPUT, GEOTILE_SCALE, GEOTILE_CLASS_NAMES) say what a raster holds;
without them the dtype and band count decide.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from geotile.errors import InputError


@dataclass(frozen=True)
class RasterKind:
    """How to read a raster: class ids or probabilities (x scale), and class names."""

    kind: str
    scale: float
    names: list[str] | None


def raster_kind(src) -> RasterKind:
    """Tell class rasters from probability rasters (geotile's tags, else dtype and bands)."""
    tags = src.tags()
    names = json.loads(tags["GEOTILE_CLASS_NAMES"]) if "GEOTILE_CLASS_NAMES" in tags else None
    output = tags.get("GEOTILE_OUTPUT")
    floating = np.dtype(src.dtypes[0]).kind == "f"
    if output in ("class", "mask"):
        return RasterKind("class", 1.0, names)
    if output == "probability":
        return RasterKind("probability", float(tags.get("GEOTILE_SCALE", 1 if floating else 255)),
                          names)
    if floating:
        return RasterKind("probability", 1.0, names)
    if src.count > 1 and src.dtypes[0] == "uint8":
        return RasterKind("probability", 255.0, names)
    return RasterKind("class", 1.0, names)


#: largest class id a class raster may hold (ids travel as int32)
MAX_CLASS_ID = 2**31 - 1


def class_ids(values: np.ndarray, valid: np.ndarray, kind: RasterKind,
              threshold: float, source=None) -> tuple[np.ndarray, np.ndarray]:
    """(ids (rows, cols), score float32 (rows, cols)) from raster values (bands, rows, cols).

    Class rasters: ids exactly as they are (uint8 stays uint8, wider types become int32;
    0 is background; ids outside 0..MAX_CLASS_ID or with fractions are an InputError
    naming ``source``), score 1. Probabilities: one band -> p >= threshold is class 1;
    several -> argmax (index 0 is background); score = p.
    """
    if kind.kind == "class":
        ids = _checked_class_ids(values[0], valid, source)
        return ids, np.ones(ids.shape, np.float32)
    probabilities = np.nan_to_num(values.astype(np.float32) / np.float32(kind.scale))
    if probabilities.shape[0] == 1:
        ids = (probabilities[0] >= threshold).astype(np.uint8)
        score = probabilities[0]
    else:
        wide = probabilities.shape[0] > 256
        ids = probabilities.argmax(axis=0).astype(np.int32 if wide else np.uint8)
        score = probabilities.max(axis=0)
    ids[~valid] = 0
    return ids, score


def _checked_class_ids(band: np.ndarray, valid: np.ndarray, source) -> np.ndarray:
    if band.dtype == np.uint8:
        return np.where(valid, band, 0).astype(np.uint8)
    if band.dtype.kind == "f":
        band = np.where(valid & np.isfinite(band), band, 0)
        if not np.array_equal(band, np.round(band)):
            raise InputError(f"{source or 'raster'}: class ids are not whole numbers (a float "
                             "raster of probabilities?). Give a class raster of integer ids, "
                             "or tag it GEOTILE_OUTPUT=probability.")
    else:
        band = np.where(valid, band, 0)
    if band.size:
        low, high = band.min(), band.max()
        bad = low if low < 0 else high if high > MAX_CLASS_ID else None
        if bad is not None:
            bad = int(bad)
            raise InputError(
                f"{source or 'raster'}: class id {bad} is outside 0..{MAX_CLASS_ID}. If "
                f"{bad} marks no data, declare it as the raster's nodata value "
                f"(gdal_edit.py -a_nodata {bad}).")
    return band.astype(np.int32)
