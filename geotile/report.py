"""A picture of object matching: TP, FP and FN outlines over the image, as PNG.

Colours: true positives green (the prediction), false positives red, false
negatives (missed truth) yellow; a legend strip is drawn at the bottom. Large
images are shown at a reduced scale (longest side at most ``max_size`` px).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

COLOURS = {"TP": (40, 220, 60), "FP": (235, 40, 40), "FN": (255, 220, 0)}
LEGEND_HEIGHT = 18


def write_report(result: dict, output: str | os.PathLike, image: str | os.PathLike | None = None,
                 *, overwrite: bool = False, max_size: int = 2000) -> Path:
    """Draw the matches of an object evaluation (``evaluate_vectors`` result) into a PNG."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.features import rasterize
    from rasterio.transform import from_bounds

    from geotile.errors import InputError
    from geotile.raster import atomic_output, open_raster

    output = Path(output)
    if output.suffix.lower() != ".png":
        raise InputError(f"{output}: the report is written as PNG; name it *.png.")
    pred, truth = result["_frames"]
    scores = result["_scores"]
    matched_pred = {m[0] for m in scores.matches}
    matched_truth = {m[1] for m in scores.matches}
    groups = {
        "TP": [g for i, g in enumerate(pred.geometry) if i in matched_pred],
        "FP": [g for i, g in enumerate(pred.geometry) if i not in matched_pred],
        "FN": [g for i, g in enumerate(truth.geometry) if i not in matched_truth],
    }
    if image is not None:
        with open_raster(image) as src:
            scale = max(src.width, src.height) / max_size
            width, height = (max(1, round(src.width / max(scale, 1))),
                             max(1, round(src.height / max(scale, 1))))
            bands = [1, 2, 3] if src.count >= 3 else [1, 1, 1]
            canvas = src.read(bands, out_shape=(3, height, width),
                              resampling=Resampling.average).astype(np.float32)
            transform = from_bounds(*src.bounds, width, height)
            crs = src.crs
        if np.dtype(src.dtypes[0]) != np.uint8:  # stretch 16-bit or float imagery for display
            low, high = np.percentile(canvas, (2, 98))
            canvas = np.clip((canvas - low) / max(high - low, 1e-6) * 255, 0, 255)
        if crs is not None and truth.crs is not None and truth.crs != crs:
            groups = {k: list(_reproject(v, truth.crs, crs)) for k, v in groups.items()}
    else:
        minx, miny, maxx, maxy = truth.total_bounds if len(truth) else pred.total_bounds
        aspect = (maxx - minx) / max(maxy - miny, 1e-9)
        width, height = (max_size, max(1, round(max_size / aspect))) if aspect >= 1 else \
            (max(1, round(max_size * aspect)), max_size)
        transform = from_bounds(minx, miny, maxx, maxy, width, height)
        canvas = np.full((3, height, width), 40, np.float32)
    canvas = canvas.astype(np.uint8)
    for name in ("FN", "FP", "TP"):
        outlines = [g.boundary for g in groups[name] if not g.is_empty]
        if outlines:
            drawn = rasterize(outlines, out_shape=(height, width), transform=transform,
                              all_touched=True).astype(bool)
            drawn[1:] |= drawn[:-1].copy()  # 2 px wide lines, visible over vegetation
            drawn[:, 1:] |= drawn[:, :-1].copy()
            for band, value in enumerate(COLOURS[name]):
                canvas[band][drawn] = value
    legend = np.zeros((3, LEGEND_HEIGHT, width), np.uint8)
    third = width // 3
    for i, name in enumerate(("TP", "FP", "FN")):
        for band, value in enumerate(COLOURS[name]):
            legend[band, 4:-4, i * third + 4 : i * third + min(third // 3, 60)] = value
    picture = np.concatenate([canvas, legend], axis=1)
    # PNG keeps no georeference (PAM is off); passing one avoids rasterio's warning
    profile = {"driver": "PNG", "width": width, "height": picture.shape[1], "count": 3,
               "dtype": "uint8", "transform": transform}
    with atomic_output(output, overwrite) as tmp, \
            rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(tmp, "w", **profile) as dst:
        dst.write(picture)
    return output


def _reproject(geometries, source, target):
    import geopandas as gpd

    return gpd.GeoSeries(geometries, crs=source).to_crs(target).values
