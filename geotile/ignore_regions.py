"""Regions to leave out of masks (make-masks --ignore): burnt 255 over every band.

A region is a vector file (its polygons, reprojected as labels are) or a one-band raster
(its nonzero pixels, resampled nearest onto each image's grid; its nodata is no region):
SpaceNet 7's ``labels/<scene>_UDM.geojson`` and ``UDM_masks/<scene>_UDM.tif``, a cloud
mask, the unlabelled zones of a city. A folder or a pattern gives each image its own file,
paired as label folders pair (:func:`geotile.label_folders.pair_labels`, a ``_UDM``-like
suffix left out). Regions are burnt after the labels, so they win over any class; one
outside an image changes nothing. Every file is read and checked before any mask is
written.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from geotile.errors import InputError

#: what may follow an image's stem in its region file's name (SpaceNet 7's _UDM), any case
SUFFIXES = ("_UDM", "_UDM2", "_cloud", "_clouds", "_cloudmask", "_ignore")


@dataclass(frozen=True)
class IgnoreRegions:
    """The region files of each image of a run, in the images' order."""

    files: tuple[tuple[str, ...], ...]

    def take(self, indices) -> IgnoreRegions:
        return IgnoreRegions(tuple(self.files[i] for i in indices))

    def of(self, index: int) -> tuple[str, ...]:
        return self.files[index]

    def mapped(self, func) -> IgnoreRegions:
        """Every path through ``func`` (made absolute for remote workers)."""
        return IgnoreRegions(tuple(tuple(func(f) for f in own) for own in self.files))


def pair_regions(regions, image_paths) -> IgnoreRegions | None:
    """Each image's region files from ``regions`` (paths given to --ignore: a file for
    every image, a folder or pattern of one per image), every file checked readable; None
    when none is given; an :class:`IgnoreRegions` as it is."""
    if regions is None or isinstance(regions, IgnoreRegions):
        return regions
    if isinstance(regions, str | os.PathLike):
        regions = [regions]
    if not regions:
        return None
    from geotile.label_folders import pair_labels

    per_image: list[list[str]] = [[] for _ in image_paths]
    for given in regions:
        text = os.fspath(given)
        if Path(text).is_dir() or (not Path(text).exists() and glob.has_magic(text)):
            files = [str(f) for f in pair_labels(given, image_paths, rasters=True,
                                                 strip=SUFFIXES)]
        else:
            files = [text] * len(image_paths)
        for own, f in zip(per_image, files, strict=True):
            own.append(f)
    paired = IgnoreRegions(tuple(tuple(own) for own in per_image))
    check_regions(paired, image_paths)
    return paired


def check_regions(regions: IgnoreRegions, image_paths) -> None:
    """InputError in one line for a region file that cannot be read or placed (no such
    file, not vector data nor a raster, a raster of several bands or without a CRS, an
    image without one), before any mask is written."""
    from geotile.input_paths import input_path
    from geotile.labels import image_regions
    from geotile.no_georef import map_crs
    from geotile.raster import open_raster

    by_file: dict[str, list] = {}
    for image, own in zip(image_paths, regions.files, strict=True):
        for f in own:
            by_file.setdefault(f, []).append(image)
    for image in dict.fromkeys(i for own, i in zip(regions.files, image_paths, strict=True)
                               if own):
        with open_raster(input_path(image)) as src:
            if map_crs(src) is None:
                raise InputError(f"{input_path(image).name}: --ignore regions are placed by "
                                 "their CRS, and this image has none. Georeference it, or "
                                 "leave out --ignore.")
    for f, images in by_file.items():
        if is_region_raster(f):
            with open_raster(input_path(f)) as src:
                _check_raster(src, f)
        else:
            _read_vector(f, image_regions(images))


def is_region_raster(path) -> bool:
    """Whether region file ``path`` is a raster (else vector data)."""
    from geotile.label_rasters import is_label_raster

    return is_label_raster(path)


def _check_raster(src, path) -> None:
    if src.count != 1:
        raise InputError(f"{path}: a region raster has one band, nonzero where pixels are "
                         f"ignored; this one has {src.count}. Take the band that marks them "
                         "(gdal_translate -b N), e.g. a Planet UDM2's cloud band 6.")
    if src.crs is None:
        raise InputError(f"{path}: the region raster has no CRS, so it cannot be placed on "
                         "the images. Assign one with gdal_edit.py -a_srs EPSG:xxxx.")


def _read_vector(path, places):
    """The region features of vector file ``path`` near ``places`` (image regions)."""
    from geotile.labels import read_labels

    return read_labels(path, None, regions=places, empty_ok=True, crs_option=None)
