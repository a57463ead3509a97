"""Rasterize vector labels into masks on exactly the grid of an image.

Channels (one uint8 band each):

- ``footprint``: 0 background, 1..N class ids (binary: 1). A pixel is burnt
  when its centre lies inside a polygon, or, with ``all_touched``, when the
  polygon touches it (GDAL's rasterize semantics). Where polygons overlap the
  later row of the labels file wins.
- ``boundary``: 1 on a band of ``2 * r`` px centred on every outline, with
  ``r = max(1, boundary_width // 2)``: a pixel is boundary when its
  (2r+1) x (2r+1) neighbourhood holds two different buildings, or a building
  and background. Outlines between touching buildings are included.
- ``contact``: 1 on background pixels that have two different buildings
  within ``contact_spacing / 2`` px (a disc): the middle of every gap
  narrower than ``contact_spacing`` between two buildings, as the intersection
  of footprints buffered by half the spacing (the contact channel of the
  SpaceNet winners and solaris, used to separate touching buildings).

Rasters are processed in row bands with a halo wide enough for the
neighbourhood operations, so band seams are exact and memory stays bounded.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geotile.errors import GeotileWarning, InputError

log = logging.getLogger("geotile")

CHANNELS = ("footprint", "boundary", "contact")
BAND_ROWS = 1024


@dataclass(frozen=True)
class MaskOptions:
    """How labels become mask bands."""

    channels: tuple[str, ...] = ("footprint",)
    all_touched: bool = False
    boundary_width: int = 3
    contact_spacing: int = 10

    def __post_init__(self) -> None:
        unknown = [c for c in self.channels if c not in CHANNELS]
        if unknown or not self.channels:
            raise InputError(
                f"unknown channel {unknown[0] if unknown else ''!r}: "
                f"choose from {', '.join(CHANNELS)}"
            )
        if self.boundary_width < 1 or self.contact_spacing < 1:
            raise InputError("--boundary-width and --contact-spacing must be at least 1 px")

    @property
    def halo(self) -> int:
        """Rows of context a band needs above and below for exact neighbourhoods."""
        halo = 0
        if "boundary" in self.channels:
            halo = max(halo, self.boundary_width // 2 + 1)
        if "contact" in self.channels:
            halo = max(halo, math.ceil(self.contact_spacing / 2) + 1)
        return halo


def rasterize_labels(
    geometries: Sequence,
    classes: Sequence[int],
    shape: tuple[int, int],
    transform,
    options: MaskOptions = MaskOptions(),
) -> np.ndarray:
    """Burn polygons (already in the raster's CRS) into ``(len(channels), rows, cols)`` uint8."""
    from rasterio.features import rasterize

    height, width = shape
    bands = np.zeros((len(options.channels), height, width), np.uint8)
    if len(geometries) == 0 or height == 0 or width == 0:
        return bands
    geometries = geojson_dicts(geometries)
    for index, channel in enumerate(options.channels):
        if channel == "footprint":
            bands[index] = rasterize(
                zip(geometries, classes, strict=True),
                out_shape=shape,
                transform=transform,
                all_touched=options.all_touched,
                fill=0,
                dtype="uint8",
            )
    if "boundary" in options.channels or "contact" in options.channels:
        instances = rasterize(
            zip(geometries, range(1, len(geometries) + 1), strict=True),
            out_shape=shape,
            transform=transform,
            all_touched=options.all_touched,
            fill=0,
            dtype="int32",
        )
        if "boundary" in options.channels:
            bands[options.channels.index("boundary")] = boundary_band(
                instances, options.boundary_width
            )
        if "contact" in options.channels:
            bands[options.channels.index("contact")] = contact_band(
                instances, options.contact_spacing
            )
    return bands


def geojson_dicts(geometries: Sequence) -> list[dict]:
    """Shapely geometries as GeoJSON-like dicts, converted in bulk by GEOS's GeoJSON writer.

    rasterio's rasterize takes dicts 3x faster than shapely objects (whose
    ``__geo_interface__`` builds them in Python); coordinates round-trip exactly.
    """
    import json

    import shapely

    array = np.empty(len(geometries), dtype=object)
    array[:] = list(geometries)
    return json.loads("[" + ",".join(shapely.to_geojson(array)) + "]")


def boundary_band(instances: np.ndarray, width: int) -> np.ndarray:
    """1 where a (2r+1)-square neighbourhood holds two different instance ids (0 included)."""
    from scipy import ndimage

    size = 2 * max(1, width // 2) + 1
    high = ndimage.maximum_filter(instances, size=size, mode="nearest")
    low = ndimage.minimum_filter(instances, size=size, mode="nearest")
    return (high != low).astype(np.uint8)


def contact_band(instances: np.ndarray, spacing: int) -> np.ndarray:
    """1 on background pixels with two different buildings within ``spacing / 2`` px."""
    from scipy import ndimage

    radius = max(1, math.ceil(spacing / 2))
    y, x = np.ogrid[-radius : radius + 1, -radius : radius + 1]
    disc = x * x + y * y <= (spacing / 2) ** 2 + 1e-9
    top = ndimage.maximum_filter(instances, footprint=disc, mode="constant", cval=0)
    # smallest positive id in reach: negate so that 0 (background) never wins the max
    shifted = np.where(instances > 0, -instances, np.iinfo(np.int32).min)
    lowest = -ndimage.maximum_filter(
        shifted, footprint=disc, mode="constant", cval=np.iinfo(np.int32).min
    )
    touching = (top > 0) & (lowest > 0) & (top != lowest)
    return (touching & (instances == 0)).astype(np.uint8)


def prepare_labels(
    labels,
    crs,
    source: str | os.PathLike,
    class_field: str | None = None,
    class_map: dict[str, int] | None = None,
):
    """Repair, class and reproject labels once; returns (Labels with a ``class_id`` field,
    class names)."""
    import shapely

    from geotile.labels import check_geographic_coordinates, class_ids, repair_polygons, to_crs

    labels = labels.take(~shapely.is_missing(labels.geometries))
    ids, names = class_ids(labels, class_field, class_map, source)
    invalid = int((~shapely.is_valid(labels.geometries)).sum())
    labels = labels.replace(geometries=repair_polygons(labels.geometries),
                            class_id=np.asarray(ids, dtype=np.int64))
    if invalid:
        log.info("%s: repaired %d invalid geometries", source, invalid)
    labels = labels.take(~shapely.is_empty(labels.geometries))
    # a SpaceNet CSV whose images hold no building (POLYGON EMPTY rows) makes empty masks
    if len(labels) == 0 and not {"ImageId", "BuildingId"} <= set(labels.fields):
        raise InputError(f"{source}: no feature is a polygon. Give building footprints.")
    check_geographic_coordinates(labels, source)
    if crs is not None:
        labels = to_crs(labels, crs, source)
    return labels, names


def make_masks(
    labels_path: str | os.PathLike,
    image_paths: Sequence[str | os.PathLike],
    output_paths: Sequence[str | os.PathLike],
    *,
    options: MaskOptions = MaskOptions(),
    class_field: str | None = None,
    class_map: dict[str, int] | None = None,
    labels_crs: str | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> list[dict]:
    """Write one mask per image on the image's exact grid; labels are read once.

    Returns one summary dict per image (output, features burnt, positive pixels).
    """
    from geotile.labels import read_labels
    from geotile.raster import check_output

    for output in output_paths:
        check_output(output, overwrite)
    labels = read_labels(labels_path, labels_crs, images=image_paths)
    by_crs: dict = {}
    summaries = []
    for image_path, output_path in zip(image_paths, output_paths, strict=True):
        summaries.append(
            _mask_one_image(
                labels, by_crs, labels_path, Path(image_path), Path(output_path),
                options, class_field, class_map, overwrite, progress,
            )
        )
    return summaries


def _mask_one_image(
    labels, by_crs, labels_path, image_path, output_path, options, class_field, class_map,
    overwrite, progress,
) -> dict:
    import rasterio

    from geotile.labels import select_bounds
    from geotile.raster import atomic_output, check_pixels_readable, open_raster, output_profile

    with open_raster(image_path) as src:
        check_pixels_readable(src)
        if src.crs is None and labels.crs is not None:
            raise InputError(
                f"{image_path}: the raster has no CRS, so the labels in {labels_path} "
                f"({labels.crs.to_string()}) cannot be placed on it. Assign one with "
                "`gdal_edit.py -a_srs EPSG:xxxx`."
            )
        key = src.crs.to_wkt() if src.crs else None
        if key not in by_crs:  # reproject once per distinct CRS, not per image
            by_crs[key] = prepare_labels(labels, src.crs, labels_path, class_field, class_map)
        frame, names = by_crs[key]
        on_image = select_bounds(frame, tuple(src.bounds))
        if len(on_image) == 0:
            warnings.warn(
                f"{labels_path}: no feature overlaps {image_path.name} (labels span "
                f"{_fmt_bounds(frame.total_bounds)}, the image {_fmt_bounds(src.bounds)} in "
                f"{src.crs.to_string() if src.crs else 'no CRS'}); the mask is all zeros. "
                "The labels' CRS may be wrong or missing (fix with --labels-crs) or the file "
                "may belong to another image.",
                GeotileWarning,
                stacklevel=2,
            )
        profile = output_profile(src, count=len(options.channels), dtype="uint8", nodata=None)
        with (
            atomic_output(output_path, overwrite) as tmp,
            rasterio.open(tmp, "w", **profile) as dst,
        ):
            dst.update_tags(
                GEOTILE_OUTPUT="mask",
                GEOTILE_CLASS_NAMES=_class_names_json(names),
                GEOTILE_LABELS=Path(labels_path).name,
            )
            for index, channel in enumerate(options.channels, start=1):
                dst.set_band_description(index, channel)
            positives = _burn_bands(src, dst, on_image, options, progress)
    log.info("%s: %d features, %d positive pixels -> %s", image_path.name, len(on_image),
             positives, output_path)
    return {"image": str(image_path), "output": str(output_path), "features": len(on_image),
            "positive_pixels": positives}


def _burn_bands(src, dst, labels, options: MaskOptions, progress: bool) -> int:
    """Burn ``labels`` into ``dst`` (on ``src``'s grid) by row bands with a halo; returns the
    positive footprint pixels."""
    from rasterio.windows import Window
    from rasterio.windows import bounds as window_bounds
    from rasterio.windows import transform as window_transform
    from tqdm import tqdm

    from geotile.labels import select_bounds

    halo, positives = options.halo, 0
    starts = range(0, src.height, BAND_ROWS)
    # GDAL compresses and writes a band (without the GIL) while the next is burnt
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="geotile-writer")
    writes: list = []
    try:
        for top in tqdm(starts, disable=not progress, desc=Path(src.name).name, unit="band"):
            rows = min(BAND_ROWS, src.height - top)
            above = min(halo, top)
            below = min(halo, src.height - top - rows)
            window = Window(0, top - above, src.width, rows + above + below)
            band_labels = select_bounds(labels, window_bounds(window, src.transform))
            bands = rasterize_labels(
                band_labels.geometries,
                band_labels.fields["class_id"].tolist(),
                (int(window.height), src.width),
                window_transform(window, src.transform),
                options,
            )
            bands = bands[:, above : above + rows]
            if len(writes) >= 2:  # at most two bands in memory waiting to be written
                writes.pop(0).result()
            writes.append(writer.submit(dst.write, bands, window=Window(0, top, src.width,
                                                                        rows)))
            positives += int(np.count_nonzero(bands[0]))
        for write in writes:
            write.result()
    finally:  # never leave a write running on a closed dataset
        writer.shutdown(wait=True, cancel_futures=True)
    return positives


def _class_names_json(names: dict[int, str]) -> str:
    import json

    top = max(names) if names else 1
    return json.dumps(["background"] + [names.get(i, str(i)) for i in range(1, top + 1)])


def _fmt_bounds(bounds) -> str:
    return "({:.6g}, {:.6g}, {:.6g}, {:.6g})".format(*bounds)
