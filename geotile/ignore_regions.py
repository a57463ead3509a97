"""Regions to leave out of masks (make-masks --ignore): burnt 255 over every band.

A region is a vector file (its polygons, reprojected as labels are) or a one-band raster
(its nonzero pixels, resampled nearest onto each image's grid; its nodata is no region):
SpaceNet 7's ``labels/<scene>_UDM.geojson`` and ``UDM_masks/<scene>_UDM.tif``, a cloud
mask, the unlabelled zones of a city. A folder or a pattern gives each image its own file,
paired as label folders pair (:func:`geotile.label_folders.pair_labels`, a ``_UDM``-like
suffix left out). Sentinel-2's SCL, an HLS Fmask or a Landsat QA band
is refused: its nonzero pixels are classes or flags, not regions. Regions are burnt after
the labels, so they win over any class; one outside an image changes nothing. Every file
is read and checked before any mask is written.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from geotile.errors import InputError
from geotile.user_warnings import warn

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
    said: dict[str, list] = {"off": [], "no area": []}  # warned once over the files
    for f, images in by_file.items():
        if is_region_raster(f):
            with open_raster(input_path(f)) as src:
                _check_raster(src, f, images, said)
        else:
            _check_vector(f, images, image_regions(images), said)
    _warn(said)


def is_region_raster(path) -> bool:
    """Whether region file ``path`` is a raster (else vector data)."""
    from geotile.label_rasters import is_label_raster

    return is_label_raster(path)


def _check_raster(src, path, images, said: dict) -> None:
    """InputError in one line where region raster ``src`` cannot be placed; ``said["off"]``
    gets it where it lies on none of its ``images``."""
    if src.count != 1:
        raise InputError(f"{path}: a region raster has one band, nonzero where pixels are "
                         f"ignored; this one has {src.count}. Take the band that marks them "
                         "(gdal_translate -b N), e.g. a Planet UDM2's cloud band 6.")
    _refuse_classes(src, path)
    if src.crs is None:
        raise InputError(f"{path}: the region raster has no CRS, so it cannot be placed on "
                         "the images. Assign one with gdal_edit.py -a_srs EPSG:xxxx.")
    import numpy as np
    import shapely

    from geotile.label_set import Labels, grid_envelope
    from geotile.labels import image_regions

    extent = shapely.box(*grid_envelope(src.transform, src.width, src.height))
    if not _lies_on(Labels(np.array([extent], dtype=object), crs=src.crs),
                    image_regions(images)):
        said["off"].append((path, images, extent.bounds, src.crs))


def _refuse_classes(src, path) -> None:
    """InputError where region raster ``src`` holds classes or flags, not regions: an HLS
    Fmask or a Landsat QA band (their clear pixels are nonzero flags too), or Sentinel-2's
    SCL (vegetation and water would be left out with the clouds). Other class rasters (a
    cloud model's classes, 0 its background) are regions."""
    from geotile.hls_files import refuse_fmask
    from geotile.landsat_mtl import refuse_qa_band
    from geotile.raster_kinds import class_names
    from geotile.sentinel2_bands import SCL_NAMES

    refuse_fmask(src)
    refuse_qa_band(src)
    names = class_names(src) or []
    if names != SCL_NAMES:
        return
    cloudy = [i for i, n in enumerate(names) if "cloud" in n or "cirrus" in n]
    calc = " | ".join(f"(A == {i})" for i in cloudy)
    shown = ", ".join(f"{i} {n}" for i, n in enumerate(names[:5]))
    raise InputError(
        f"{path}: Sentinel-2's SCL ({len(names)} classes: {shown}, ...), not regions: every "
        "nonzero class would be left out; reduce it to 1 where pixels are to be left out "
        f"first (gdal_calc.py -A {os.path.basename(str(path))} --calc '{calc}' --type Byte "
        "--outfile ignore.tif for its cloud classes) and give that.")


def read_ignore_regions(path, places):
    """The region features of vector file ``path`` near ``places`` (image regions)."""
    from geotile.labels import read_labels

    return read_labels(path, None, regions=places, empty_ok=True, crs_option=None)


def areas(regions):
    """``regions`` (Labels) without the features that mark no area (lines, points), and how
    many those were."""
    import numpy as np
    import shapely

    no_area = np.isin(shapely.get_type_id(regions.geometries), NO_AREA)
    return regions.take(~no_area), int(no_area.sum())


#: shapely type ids of points and lines (and their multi-parts): no area to leave out
NO_AREA = (0, 1, 2, 4, 5)


def _check_vector(path, images, places, said: dict) -> None:
    """InputError in one line where region file ``path`` cannot be placed on ``images``
    (no CRS; coordinates that are no lon/lat, though read so; no polygon near them); a
    word in ``said`` where lines or points are left out ("no area": the file and how many),
    or no region lies on any of them ("off")."""
    import math

    regions = read_ignore_regions(path, places)
    extent = regions.extent if regions.extent is not None else tuple(regions.total_bounds)
    if not all(math.isfinite(v) for v in extent):
        return  # no feature with a geometry: no region (SpaceNet 7's UDM of a clear sky)
    fix = f"write the file in its CRS (ogr2ogr -a_srs EPSG:xxxx regions.gpkg {Path(path).name})"
    if regions.crs is None:
        raise InputError(f"{path}: the --ignore regions declare no CRS, so they cannot be "
                         f"placed on the images; {fix}.")
    minx, miny, maxx, maxy = extent
    if regions.crs.is_geographic and (min(minx, miny) < -180.5 or maxx > 360.5 or maxy > 90.5):
        raise InputError(f"{path}: --ignore region coordinates like ({minx:.0f}, {miny:.0f}) "
                         "are not longitude/latitude, although the file declares "
                         f"{regions.crs.to_string()} (GeoJSON's default); {fix}. An image's "
                         "pixel coordinates (SpaceNet 7's labels_match_pix) cannot be placed: "
                         "give the regions in map coordinates.")
    shaped, no_area = areas(regions.take(
        [g is not None and not g.is_empty for g in regions.geometries]))
    if no_area and not len(shaped):
        raise InputError(f"{path}: no polygon among the --ignore regions near the images "
                         f"({no_area} lines or points, which mark no area); give polygons "
                         "(or a raster) of the regions.")
    if no_area:
        said["no area"].append((path, no_area))
    if not _lies_on(shaped, places):
        said["off"].append((path, images, extent, regions.crs))


def _warn(said: dict) -> None:
    """One warning of the region files whose lines or points were left out, one of those
    lying on none of their images: the first file in full, how many others."""

    from geotile.errors import GeotileWarning

    def others(found, what):
        return f" (and {len(found) - 1} other {what})" if len(found) > 1 else ""

    if lines := said["no area"]:
        path, count = lines[0]
        warn(f"{path}: {count} line or point feature{'s' if count > 1 else ''} of "
             f"--ignore {'were' if count > 1 else 'was'} left out"
             f"{others(lines, 'region files of some')}: they mark no area.",
             GeotileWarning)
    if off := said["off"]:
        path, images, (minx, miny, maxx, maxy), crs = off[0]
        names = ", ".join(Path(os.fspath(i)).name for i in images[:3])
        more = f" and {len(images) - 3} more" if len(images) > 3 else ""
        warn(f"{path}: no --ignore region lies on {names}{more} (regions span "
             f"({minx:.6g}, {miny:.6g}, {maxx:.6g}, {maxy:.6g}) in "
             f"{crs.to_string()}){others(off, 'region files on none of theirs')}; "
             "no pixel is left out. Their CRS may be wrong, or the files may belong "
             "to other images.", GeotileWarning)


def _lies_on(regions, places) -> bool:
    """Whether any of ``regions`` (Labels in a CRS) meets any of ``places`` (image regions:
    (crs, bounds))."""
    import shapely
    from rasterio.warp import transform_bounds

    geometries = [g for g in regions.geometries if g is not None and not g.is_empty]
    if not geometries:
        return False
    for crs, bounds in places:
        try:
            box = shapely.box(*transform_bounds(crs, regions.crs, *bounds, densify_pts=21))
        except Exception:  # no place to compare in the regions' CRS: not said to be off
            return True
        if shapely.intersects(box, geometries).any():
            return True
    return False
