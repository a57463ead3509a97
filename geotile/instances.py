"""Touching buildings as separate polygons: marker-based watershed on footprint / boundary /
contact probabilities (the SpaceNet winners' post-processing).

- building mask: footprint >= ``threshold`` (the plain vectorizer's rule);
- markers: footprint > ``marker_threshold`` and boundary < ``boundary_threshold`` and
  contact < ``contact_threshold``, eroded by ``erosion`` px (breaks thin bridges between
  neighbours), 4-connected, those under ``min_marker`` px dropped;
- seeded watershed over -footprint inside the mask: every mask pixel joins the marker it is
  reached from first, so a row of touching houses is cut along the walls. Mask regions
  holding no marker (buildings thinner than the boundary band) stay one instance each.

Band roles come from the raster's band descriptions (``footprint``, ``boundary``,
``contact``, as written by make-masks and by predict for such a model), else bands 1-3.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geotile.errors import InputError

log = logging.getLogger("geotile")

ROLES = ("footprint", "boundary", "contact")
FOUR_CONNECTED = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], bool)


@dataclass(frozen=True)
class InstanceOptions:
    """Marker rules of the watershed (probabilities in 0..1, sizes in pixels)."""

    marker_threshold: float = 0.5
    boundary_threshold: float = 0.5
    contact_threshold: float = 0.5
    erosion: int = 1
    min_marker: int = 4


def markers(footprint: np.ndarray, boundary: np.ndarray | None = None,
            contact: np.ndarray | None = None, mask: np.ndarray | None = None,
            options: InstanceOptions = InstanceOptions()) -> np.ndarray:
    """Labelled seeds (int32, 0 = none): building interiors away from outlines and contacts."""
    from scipy import ndimage

    seeds = footprint > options.marker_threshold
    if boundary is not None:
        seeds &= boundary < options.boundary_threshold
    if contact is not None:
        seeds &= contact < options.contact_threshold
    if mask is not None:
        seeds &= mask
    if options.erosion > 0 and seeds.any():
        seeds = ndimage.binary_erosion(seeds, FOUR_CONNECTED, iterations=options.erosion,
                                       border_value=1)
    labels, count = ndimage.label(seeds, structure=FOUR_CONNECTED)
    if count and options.min_marker > 1:
        sizes = np.bincount(labels.ravel(), minlength=count + 1)
        small = sizes < options.min_marker
        small[0] = True
        labels[small[labels]] = 0
        labels, _ = ndimage.label(labels > 0, structure=FOUR_CONNECTED)
    return labels.astype(np.int32, copy=False)


def split_instances(footprint: np.ndarray, boundary: np.ndarray | None = None,
                    contact: np.ndarray | None = None, *, threshold: float = 0.5,
                    valid: np.ndarray | None = None,
                    options: InstanceOptions = InstanceOptions()) -> np.ndarray:
    """Instance labels (int32, 0 background, 1..N one per building) from probabilities in 0..1.

    ``valid`` (bool) leaves nodata pixels out of every building.
    """
    from scipy import ndimage
    from skimage.segmentation import watershed

    footprint = np.nan_to_num(np.asarray(footprint, np.float32))
    mask = footprint >= threshold
    if valid is not None:
        mask &= valid
    if not mask.any():
        return np.zeros(footprint.shape, np.int32)
    seeds = markers(footprint, boundary, contact, mask, options)
    labels = watershed(-footprint, seeds, mask=mask, connectivity=1).astype(np.int32)
    orphans, count = ndimage.label(mask & (labels == 0), structure=FOUR_CONNECTED)
    if count:
        start = int(labels.max())
        labels[orphans > 0] = orphans[orphans > 0] + start
    return labels


def instance_polygons(labels: np.ndarray, footprint: np.ndarray, transform):
    """One polygon per instance: list of ``(polygon, score_sum, pixel_count)`` in map units."""
    from rasterio.features import shapes

    from geotile.vectorize import polygons_from_geojson

    count = int(labels.max(initial=0))
    if count == 0:
        return []
    sums = np.bincount(labels.ravel(), weights=footprint.ravel().astype(np.float64),
                       minlength=count + 1)
    pixels = np.bincount(labels.ravel(), minlength=count + 1)
    found = list(shapes(labels, mask=labels > 0, connectivity=4, transform=transform))
    polygons = polygons_from_geojson([geometry for geometry, _ in found])
    return [(polygon, float(sums[int(value)]), int(pixels[int(value)]))
            for polygon, (_, value) in zip(polygons, found, strict=True)]


def band_roles(src, required: bool = False) -> dict[str, int] | None:
    """Band index (1-based) of each role present, from the band descriptions.

    Without descriptions naming a footprint and a boundary or contact band: ``None``, or,
    with ``required``, bands 1-3 in that order (as many as the raster has).
    """
    names = [(d or "").strip().lower() for d in src.descriptions]
    roles = {role: names.index(role) + 1 for role in ROLES if role in names}
    if "footprint" in roles and len(roles) > 1:
        return roles
    if not required:
        return None
    return {role: index for index, role in enumerate(ROLES[: src.count], start=1)}


def raster_instances(src, *, threshold: float | None = None,
                     options: InstanceOptions = InstanceOptions(), roles=None):
    """(labels, footprint probability) of a whole open raster."""
    from geotile.raster import has_nodata, read_band
    from geotile.raster_kinds import raster_kind

    roles = roles or band_roles(src, required=True)
    if threshold is None:
        threshold = float(src.tags().get("GEOTILE_THRESHOLD", 0.5))
    kind = raster_kind(src)
    order = [roles[r] for r in ROLES if r in roles]
    values, valid = read_band(src, 0, src.height, src.width, indexes=order,
                              check_nodata=has_nodata(src))
    probabilities = np.nan_to_num(values.astype(np.float32) / np.float32(kind.scale))
    bands = dict(zip([r for r in ROLES if r in roles], probabilities, strict=True))
    labels = split_instances(bands["footprint"], bands.get("boundary"), bands.get("contact"),
                             threshold=threshold, valid=valid, options=options)
    return labels, bands["footprint"]


def is_instance_raster(path: str | os.PathLike) -> bool:
    """Whether the raster's bands are described as footprint + boundary and/or contact."""
    from geotile.raster import open_raster

    with open_raster(path) as src:
        return band_roles(src) is not None


def instance_frame(paths: Sequence[str | os.PathLike], *, threshold: float | None = None,
                   options: InstanceOptions = InstanceOptions(), progress: bool = False):
    """A GeoDataFrame (raster CRS) of the instances of each raster: class_id, class, score,
    source; one row per building."""
    import geopandas as gpd
    from tqdm import tqdm

    from geotile.raster import open_raster

    rows, crs, cell = [], None, 1.0
    for number, path in enumerate(tqdm([Path(p) for p in paths], disable=not progress,
                                       unit="raster")):
        with open_raster(path) as src:
            if number == 0:
                crs, cell = src.crs, abs(src.transform.a)
            elif src.crs != crs:
                raise InputError(f"{path}: CRS {src.crs} differs from the first raster's "
                                 f"({crs}). Reproject it with gdalwarp first.")
            labels, footprint = raster_instances(src, threshold=threshold, options=options)
            for polygon, total, count in instance_polygons(labels, footprint, src.transform):
                rows.append((polygon, round(total / count, 4) if count else None, path.name))
    frame = gpd.GeoDataFrame(
        {"class_id": np.ones(len(rows), np.int64), "class": ["building"] * len(rows),
         "score": [r[1] for r in rows], "source": [r[2] for r in rows]},
        geometry=[r[0] for r in rows], crs=crs)
    frame.attrs["cell"] = cell
    return frame


def vectorize_instances(
    paths: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    *,
    options=None,
    instance_options: InstanceOptions = InstanceOptions(),
    overwrite: bool = False,
    progress: bool = False,
) -> dict:
    """``vectorize_rasters`` with one polygon per building instance (marker watershed).

    ``options`` is a :class:`geotile.vectorize.VectorizeOptions` (threshold, cleaning, CRS).
    Each raster is split as a whole; polygons keep score (mean footprint probability) and
    area_m2. Returns a summary (output, features, per-class counts).
    """
    from geotile.raster import atomic_output, check_output
    from geotile.vectorize import WRITERS, VectorizeOptions, _write

    options = options or VectorizeOptions()
    output = Path(output)
    writer = WRITERS.get(output.suffix.lower())
    if writer is None:
        raise InputError(f"{output}: unknown vector format. Use .geojson, .gpkg or .parquet.")
    check_output(output, overwrite)
    frame = instance_frame(paths, threshold=options.threshold, options=instance_options,
                           progress=progress)
    frame = finish_frame(frame, options, frame.attrs.get("cell", 1.0))
    with atomic_output(output, overwrite) as tmp:
        _write(frame, tmp, writer, output.stem)
    log.info("%s: %d building instances from %s", output, len(frame),
             ", ".join(Path(p).name for p in paths))
    return {"output": str(output), "features": len(frame),
            "per_class": {"building": len(frame)} if len(frame) else {}}


def finish_frame(frame, options, cell: float = 1.0):
    """Clean (in metres: holes, min area, simplify, regularise, area_m2) and reproject to
    ``options.crs`` as the plain vectorizer does; ``crs="source"`` keeps the raster's CRS.
    ``cell`` is the pixel size in the frame's CRS units (the regularisation grid)."""
    from rasterio.crs import CRS

    from geotile.vectorize import _cell_in, _metric_crs, _orient, clean

    crs = CRS.from_user_input(frame.crs) if frame.crs is not None else None
    if len(frame):
        metric = _metric_crs(crs, frame)
        frame = clean(frame.to_crs(metric), options, _cell_in(metric, crs, cell, frame))
    else:
        frame["area_m2"] = np.array([], np.float64)
    target = crs if options.crs == "source" else options.crs
    frame = frame.to_crs(target) if frame.crs is not None and target is not None else frame
    frame = frame.set_geometry(_orient(frame.geometry.values), crs=frame.crs)
    return frame.reset_index(drop=True)
