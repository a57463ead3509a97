"""A picture of object matching for a person to look at: PNG or HTML (inline SVG).

True positives (the matched predictions) are green, false positives red and
false negatives (missed truth polygons) yellow, over the image when one is
given (else a dark background), with a legend giving the counts. Large images
are drawn at a reduced scale (longest side at most ``max_size`` pixels).
"""

from __future__ import annotations

import base64
import html
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geotile.affine_math import apply, chain
from geotile.errors import InputError

log = logging.getLogger("geotile")

COLOURS = {"TP": (40, 220, 60), "FP": (235, 40, 40), "FN": (255, 220, 0)}
LABELS = {"TP": "true positive", "FP": "false positive", "FN": "false negative (missed)"}
BACKGROUND = 40
#: 3x5 bitmap glyphs for the legend's text (rows top to bottom, "#" = ink)
GLYPHS = {
    "T": "### .#. .#. .#. .#.", "P": "##. #.# ##. #.. #..", "F": "### #.. ##. #.. #..",
    "N": "#.# ### ### ### #.#", "0": "### #.# #.# #.# ###", "1": ".#. ##. .#. .#. ###",
    "2": "### ..# ### #.. ###", "3": "### ..# .## ..# ###", "4": "#.# #.# ### ..# ..#",
    "5": "### #.. ### ..# ###", "6": "### #.. ### #.# ###", "7": "### ..# ..# .#. .#.",
    "8": "### #.# ### #.# ###", "9": "### #.# ### ..# ###", " ": "... ... ... ... ...",
}


@dataclass
class Canvas:
    """The picture's pixels (3, height, width) uint8 and its georeference."""

    pixels: np.ndarray
    transform: object
    crs: object


def outcome_groups(evaluation) -> dict[str, list]:
    """TP / FP / FN geometries of an ObjectEvaluation (truth CRS)."""
    pred_tp, truth_matched = evaluation.outcomes()
    pred = evaluation.prediction.geometry.values
    truth = evaluation.truth.geometry.values
    return {"TP": list(pred[pred_tp]), "FP": list(pred[~pred_tp]),
            "FN": list(truth[~truth_matched])}


def make_canvas(evaluation, image: str | os.PathLike | None, max_size: int) -> Canvas:
    """The image (RGB, bands 1-3, or band 1 as grey) reduced to ``max_size``, or a blank
    canvas covering the polygons."""
    from affine import Affine
    from rasterio.enums import Resampling
    from rasterio.transform import from_bounds

    from geotile.raster import open_raster

    if image is None:
        frames = [f for f in (evaluation.truth, evaluation.prediction) if len(f)]
        if not frames:
            bounds = (0.0, 0.0, 1.0, 1.0)
        else:
            stacked = np.array([f.total_bounds for f in frames])
            bounds = (*stacked[:, :2].min(axis=0), *stacked[:, 2:].max(axis=0))
        minx, miny, maxx, maxy = bounds
        pad = 0.03 * max(maxx - minx, maxy - miny, 1e-9)
        minx, miny, maxx, maxy = minx - pad, miny - pad, maxx + pad, maxy + pad
        aspect = (maxx - minx) / (maxy - miny)
        width, height = (max_size, max(1, round(max_size / aspect))) if aspect >= 1 else \
            (max(1, round(max_size * aspect)), max_size)
        return Canvas(np.full((3, height, width), BACKGROUND, np.uint8),
                      from_bounds(minx, miny, maxx, maxy, width, height), evaluation.truth.crs)
    with open_raster(image) as src:
        scale = max(1.0, max(src.width, src.height) / max_size)
        width, height = max(1, round(src.width / scale)), max(1, round(src.height / scale))
        bands = [1, 2, 3] if src.count >= 3 else [1, 1, 1]
        pixels = src.read(bands, out_shape=(3, height, width), resampling=Resampling.average,
                          masked=True)
        dtype = np.dtype(src.dtypes[0])
        # the image's own grid, reduced: a rotated or sheared image is drawn as it is stored
        canvas = Canvas(None, chain(src.transform, Affine.scale(src.width / width,
                                                                 src.height / height)), src.crs)
    values = pixels.astype(np.float32).filled(np.nan)
    if dtype != np.uint8:  # stretch 16-bit or float imagery for display, 2-98 % per band
        valid = values[~np.isnan(values)]
        low, high = np.percentile(valid, (2, 98)) if valid.size else (0.0, 1.0)
        values = (values - low) / max(high - low, 1e-6) * 255
    canvas.pixels = np.clip(np.nan_to_num(values, nan=BACKGROUND), 0, 255).astype(np.uint8)
    return canvas


def check_image_crs(image, truth, truth_crs) -> None:
    """Before scoring: an InputError naming ``image`` and ``truth`` where the polygons (in
    ``truth_crs``) cannot be drawn over the image (a local site grid and a map CRS)."""
    from geotile.ground_scale import transformable
    from geotile.proj_grids import crs_name
    from geotile.raster import open_raster

    with open_raster(image) as src:
        image_crs = src.crs
    if image_crs is None or truth_crs is None or transformable(truth_crs, image_crs):
        return
    raise InputError(f"{image}: its CRS ({crs_name(image_crs)}) and that of {truth} "
                     f"({crs_name(truth_crs)}) share no datum (a local site grid?), so the "
                     "polygons cannot be drawn over it. Give --image the image of these labels "
                     "in their CRS, or leave --image out (a blank background).")


def _to_canvas_crs(groups: dict[str, list], source_crs, canvas: Canvas) -> dict[str, list]:
    import geopandas as gpd

    from geotile.crs_identity import one_crs
    from geotile.ground_scale import to_crs

    if canvas.crs is None or source_crs is None or one_crs(canvas.crs, source_crs,
                                                            ellipsoid_only=True):
        return groups
    return {k: list(to_crs(gpd.GeoSeries(v, crs=source_crs), canvas.crs).values)
            for k, v in groups.items()}


def _warn_if_outside(groups, canvas: Canvas, image) -> None:
    import shapely

    _, height, width = canvas.pixels.shape
    extent = shapely.Polygon([apply(canvas.transform, *xy) for xy in ((0, 0), (width, 0),
                                                               (width, height), (0, height))])
    geometries = [g for group in groups.values() for g in group if g is not None]
    if geometries and not shapely.intersects(extent, geometries).any():
        log.warning("no polygon lies over %s: is it the image of these labels?", image)


def _draw_png(groups, canvas: Canvas) -> np.ndarray:
    from geotile.masks import CLIP_MARGIN, clip_far
    from geotile.quiet_warnings import rasterize

    pixels = canvas.pixels.copy()
    _, height, width = pixels.shape
    for name in ("FN", "FP", "TP"):  # TP last: drawn on top where outlines coincide
        drawn_ones = [g.boundary for g in groups[name] if g is not None and not g.is_empty]
        outlines = np.empty(len(drawn_ones), dtype=object)
        outlines[:] = drawn_ones
        # those reaching past 2**31 px drawn wrong, and slowly: cut near the image
        outlines = clip_far(outlines, [1] * len(outlines), canvas.transform, height, width,
                            CLIP_MARGIN)[0]
        if not len(outlines):
            continue
        drawn = rasterize(outlines, out_shape=(height, width), transform=canvas.transform,
                          all_touched=True).astype(bool)
        drawn[1:] |= drawn[:-1].copy()  # 2 px wide lines, visible over busy imagery
        drawn[:, 1:] |= drawn[:, :-1].copy()
        for band, value in enumerate(COLOURS[name]):
            pixels[band][drawn] = value
    scale = legend_scale(width)
    legend = np.zeros((3, 5 * scale + 8, width), np.uint8)
    third = max(width // 3, 1)
    for i, name in enumerate(("TP", "FP", "FN")):
        left = i * third + 4
        swatch = min(max(third - 8, 1), 5 * scale)
        for band, value in enumerate(COLOURS[name]):
            legend[band, 4: 4 + 5 * scale, left: left + swatch] = value
        ink = _text(f"{name} {len(groups[name])}", scale=scale)
        ink = ink[:, : max(0, min(ink.shape[1], third - swatch - 12))]
        top, x0 = 4, left + swatch + 6
        legend[:, top: top + ink.shape[0], x0: x0 + ink.shape[1]][:, ink] = 255
    return np.concatenate([pixels, legend], axis=1)


def legend_scale(width: int) -> int:
    """Pixels per font dot in the PNG legend; the legend strip is 5 * scale + 8 px high."""
    return max(2, min(4, width // 500))


def _text(text: str, scale: int = 2) -> np.ndarray:
    """``text`` rendered with GLYPHS as a boolean array, ``scale`` pixels per dot."""
    columns = []
    for char in text:
        rows = GLYPHS[char].split()
        columns.append(np.array([[c == "#" for c in row] for row in rows]))
        columns.append(np.zeros((5, 1), bool))
    ink = np.concatenate(columns, axis=1)
    return ink.repeat(scale, axis=0).repeat(scale, axis=1)


def _png_bytes(picture: np.ndarray, transform) -> bytes:
    import rasterio
    from rasterio.io import MemoryFile

    # PNG keeps no georeference (PAM is off); passing one avoids GDAL's warning
    profile = {"driver": "PNG", "width": picture.shape[2], "height": picture.shape[1],
               "count": 3, "dtype": "uint8", "transform": transform}

    with rasterio.Env(GDAL_PAM_ENABLED="NO"), MemoryFile() as memory:
        with memory.open(**profile) as dst:
            dst.write(picture)
        return memory.read()


def _svg(groups, canvas: Canvas, background_png: bytes) -> str:
    """An SVG of the outlines (pixel coordinates of the canvas) over the embedded image."""
    inverse = ~canvas.transform
    _, height, width = canvas.pixels.shape
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}">',
             f'<image width="{width}" height="{height}" href="data:image/png;base64,'
             f'{base64.b64encode(background_png).decode()}"/>']
    for name in ("FN", "FP", "TP"):
        colour = "rgb({},{},{})".format(*COLOURS[name])
        parts.append(f'<g class="{name}" fill="{colour}" fill-opacity="0.15" stroke="{colour}" '
                     'stroke-width="1.5" fill-rule="evenodd">')
        for geometry in groups[name]:
            if geometry is None or geometry.is_empty:
                continue
            path = []
            for polygon in getattr(geometry, "geoms", [geometry]):
                for ring in (polygon.exterior, *polygon.interiors):
                    xy = [apply(inverse, *c[:2]) for c in ring.coords]
                    path.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in xy) + "Z")
            parts.append(f'<path d="{"".join(path)}"><title>{LABELS[name]}</title></path>')
        parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts)


def _html(evaluation, svg: str, title: str) -> str:
    s = evaluation.scores
    counts = {"TP": s.tp, "FP": s.fp, "FN": s.fn}
    legend = "".join(
        f'<li><span style="background: rgb{COLOURS[k]}"></span>{LABELS[k]}: {counts[k]}</li>'
        for k in ("TP", "FP", "FN"))
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; background: #222; color: #eee; margin: 1em; }}
ul {{ list-style: none; padding: 0; display: flex; gap: 2em; }}
li span {{ display: inline-block; width: 1em; height: 1em; margin-right: .4em; }}
svg {{ max-width: 100%; height: auto; background: #282828; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>SpaceNet metric, IoU &gt; {s.iou_threshold:g}: precision {s.precision:.4f},
recall {s.recall:.4f}, F1 {s.f1:.4f}</p>
<ul>{legend}</ul>
{svg}
</body></html>
"""


def write_report(evaluation, output: str | os.PathLike, image: str | os.PathLike | None = None,
                 *, overwrite: bool = False, max_size: int = 2000) -> Path:
    """Draw the TP / FP / FN polygons of an ObjectEvaluation into ``output`` (.png or .html),
    over ``image`` when given. Written atomically."""
    from geotile.error_layers import evaluation_inputs
    from geotile.input_sources import refuse_overwriting_inputs
    from geotile.output_files import atomic_output

    output = Path(output)
    suffix = output.suffix.lower()
    if suffix not in (".png", ".html", ".htm"):
        raise InputError(f"{output}: a report is a .png or an .html file; rename it.")
    if getattr(evaluation, "mode", None) != "object":
        raise InputError("a report shows object matches: evaluate two vector files.")
    refuse_overwriting_inputs([output], [image, *evaluation_inputs(evaluation)])
    if image is not None:
        check_image_crs(image, "the truth", evaluation.truth.crs)
    canvas = make_canvas(evaluation, image, max_size)
    groups = _to_canvas_crs(outcome_groups(evaluation), evaluation.truth.crs, canvas)
    if image is not None:
        _warn_if_outside(groups, canvas, image)
    if suffix == ".png":
        data = _png_bytes(_draw_png(groups, canvas), canvas.transform)
    else:
        title = "geotile evaluate" + (f": {Path(image).name}" if image else "")
        data = _html(evaluation, _svg(groups, canvas, _png_bytes(canvas.pixels, canvas.transform)),
                     title).encode()
    with atomic_output(output, overwrite) as tmp:
        Path(tmp).write_bytes(data)
    return output
