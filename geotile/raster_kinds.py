"""Reading predict's rasters back: class rasters or probability rasters, and class ids.

Shared by vectorize (polygons per class) and evaluate (pixel scores): geotile's own
tags (GEOTILE_OUTPUT, GEOTILE_SCALE, GEOTILE_CLASS_NAMES) say what a raster holds;
without them the dtype and band count decide.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np


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


def class_ids(values: np.ndarray, valid: np.ndarray, kind: RasterKind,
              threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(ids uint8 (rows, cols), score float32 (rows, cols)) from raster values (bands, rows, cols).

    Class rasters: ids as they are (0 background), score 1. Probabilities: one band ->
    p >= threshold is class 1; several -> argmax (index 0 is background); score = p.
    """
    if kind.kind == "class":
        ids = values[0].astype(np.uint8, copy=False)
        ids = np.where(valid, ids, 0).astype(np.uint8)
        return ids, np.ones(ids.shape, np.float32)
    probabilities = np.nan_to_num(values.astype(np.float32) / np.float32(kind.scale))
    if probabilities.shape[0] == 1:
        ids = (probabilities[0] >= threshold).astype(np.uint8)
        score = probabilities[0]
    else:
        ids = probabilities.argmax(axis=0).astype(np.uint8)
        score = probabilities.max(axis=0)
    ids[~valid] = 0
    return ids, score
