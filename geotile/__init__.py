"""geotile: tiling, ONNX segmentation inference and vectorisation for orthotiles.

The public API is re-exported here and imported lazily, so that
``import geotile`` (and ``geotile --help``) stays fast.
"""

from __future__ import annotations

import importlib

from geotile._version import __version__

#: public name -> defining module
_EXPORTS = {
    "GeotileError": "geotile.errors",
    "InputError": "geotile.errors",
    "ModelError": "geotile.errors",
    "OutputExistsError": "geotile.errors",
    "Interrupted": "geotile.errors",
    "GeotileWarning": "geotile.errors",
    "Grid": "geotile.grid",
    "Patch": "geotile.grid",
    "read_labels": "geotile.labels",
    "MaskOptions": "geotile.masks",
    "make_masks": "geotile.masks",
    "rasterize_labels": "geotile.masks",
    "TileOptions": "geotile.tiling",
    "tile_rasters": "geotile.tiling",
    "OnnxModel": "geotile.model",
    "PredictOptions": "geotile.predict",
    "predict_array": "geotile.predict",
    "predict_raster": "geotile.predict",
    "predict_rasters": "geotile.distributed",
    "make_masks_on_cluster": "geotile.distributed",
    "open_mosaic": "geotile.mosaic",
    "merge_rasters": "geotile.merge",
    "expand_inputs": "geotile.input_files",
    "VectorizeOptions": "geotile.vectorize",
    "polygonize_array": "geotile.vectorize",
    "regularize_polygon": "geotile.regularize",
    "vectorize_rasters": "geotile.vectorize_modes",
    "LineOptions": "geotile.lines",
    "vectorize_lines": "geotile.lines",
    "evaluate_lines": "geotile.line_metrics",
    "line_scores": "geotile.line_metrics",
    "evaluate_relaxed": "geotile.relaxed_scores",
    "evaluate_files": "geotile.evaluate_modes",
    "match_polygons": "geotile.object_scores",
    "pixel_scores": "geotile.evaluate",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'geotile' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
