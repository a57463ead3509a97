"""The files of a Planet delivery beside its image: usable-data masks (udm2: 8 uint8 bands,
band 1 "clear"), never an image of their own, whose not-clear pixels (cloud, shadow, haze,
snow), which GDAL reads as valid image pixels, are said with the copy that leaves them out;
a SkySat collect's analytic image, named where its panchromatic one lacks bands."""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path, PurePath

import numpy as np

from geotile.errors import GeotileWarning
from geotile.user_warnings import warn

#: a Planet usable-data mask's name: <scene>[_3B]_udm2[_clip].tif (PSScene), <scene>_udm.tif,
#: <scene>_3B_AnalyticMS_DN_udm_clip.tif (older), <tile>_BGRN_DN_udm.tif (PSOrthoTile),
#: SkySat's <collect>_udm2.tif
UDM_NAME = re.compile(r"(?P<scene>.+?)(_analyticms_dn|_dn)?_udm2?(_clip)?\.tiff?",
                      re.IGNORECASE)
#: the acquisition date every Planet scene, tile or collect id holds (20230612_101010_...,
#: 4621017_2021-06-01_...): a user's roads_udm.tif holds none
_PLANET_DATE = re.compile(r"(?<!\d)(\d{8}_\d{6}|\d{4}-\d{2}-\d{2})(?!\d)")


def udm_scene(path) -> str | None:
    """The scene prefix (lower case) of a Planet udm/udm2 file's name (its scene id dated:
    :data:`_PLANET_DATE`), else None."""
    name = path.name if isinstance(path, PurePath) else os.path.basename(os.fspath(path))
    if "udm" not in name.lower():
        return None  # most names: the pattern's backtracking over each costs 7 us
    match = UDM_NAME.fullmatch(name)
    return match["scene"].lower() if match and _PLANET_DATE.search(match["scene"]) else None


def of_scene(image, scene: str) -> bool:
    """Whether ``image`` is of the udm's ``scene`` (:func:`udm_scene`): its name starts with
    it (<id>_3B_AnalyticMS_SR_clip.tif of <id>_3B_udm2_clip.tif) or is it (SkySat's
    <collect>_panchromatic.tif of <collect>_panchromatic_udm2.tif)."""
    return scene in image_scenes(image)


def image_scenes(image) -> set[str]:
    """The scenes (:func:`udm_scene`) a udm of ``image`` may name: each start of its lower
    case name before a '_', and its stem; a set, so a folder's udms find their images in
    one pass (not each against every image)."""
    name = Path(image).name.lower()
    return {name[:i] for i, c in enumerate(name) if c == "_"} | {Path(name).stem}


def udm2_beside(image):
    """The udm2 of the Planet image ``image`` in its folder (the one whose scene prefix
    its name starts with; in a local archive too, as a GDAL path), else None."""
    if udm_scene(image) is not None:
        return None
    by_scene = _udm2s_beside(image)
    found = [p for scene in image_scenes(image) for p in by_scene.get(scene, ())
             if not isinstance(p, Path) or p.is_file()]
    return found[0] if len(found) == 1 else None


def _udm2s_beside(image) -> dict[str, list]:
    """The udm2 files beside ``image`` by scene (:func:`udm_scene`; names only, not
    checked): a local folder's, listed once while it is unchanged (not once per image of
    a folder of 20,000), or a local archive's folder's (GDAL paths)."""
    from geotile.input_paths import archive_siblings

    if isinstance(image, Path):
        try:
            version = os.stat(image.parent).st_mtime_ns
        except OSError:
            return {}
        return _udm2s_in(image.parent, version)
    return _archive_udm2s(archive_siblings(os.fspath(image)))


@functools.lru_cache(maxsize=16)
def _archive_udm2s(members: tuple[str, ...]) -> dict[str, list]:
    """:func:`_udm2s_beside` of the members of a local archive's folder (GDAL paths), found
    once per listing (:func:`~geotile.input_paths.archive_members`), not once per image."""
    from geotile.input_paths import input_path

    return _by_scene(input_path(m) for m in members)


@functools.lru_cache(maxsize=16)
def _udm2s_in(folder: Path, _version: int) -> dict[str, list]:
    """:func:`_udm2s_beside` of a local ``folder`` as it was at ``_version`` (its mtime)."""
    try:
        return _by_scene(folder.iterdir())
    except OSError:
        return {}


def _by_scene(paths) -> dict[str, list]:
    found: dict[str, list] = {}
    for p in paths:
        if "udm2" in p.name.lower() and (scene := udm_scene(p)):
            found.setdefault(scene, []).append(p)
    return found


def warn_unclear(src, image, what: str, size: int = 512) -> None:
    """Warn when the udm2 beside ``image`` (opened as ``src``) flags pixels not clear
    (band 1 is 0) among those ``src`` reads as valid (its mask; a sample of ``size`` px a
    side): they ``what`` as any pixel; a copy with them 0, its nodata, leaves them out."""
    import rasterio

    if (udm2 := udm2_beside(image)) is None:
        return
    local = isinstance(image, Path)  # the advice, run in its folder; else GDAL's paths
    a, b = (image.name, udm2.name) if local else (os.fspath(image), os.fspath(udm2))
    shape = (min(size, src.height), min(size, src.width))
    try:
        with rasterio.open(udm2) as udm:
            if udm.count != 8 or (udm.width, udm.height) != (src.width, src.height):
                return
            clear = udm.read(1, out_shape=shape) == 1
    except rasterio.errors.RasterioIOError:
        return
    valid = src.dataset_mask(out_shape=shape) > 0
    share = np.count_nonzero(valid & ~clear) / max(np.count_nonzero(valid), 1)
    if not share:
        return
    warn(f"{image.name}: its {udm2.name} flags {share * 100:.2g} % of its valid "
         f"pixels not clear (cloud, shadow, haze, snow), and they {what} as any "
         f"pixel. To leave them out, give a copy with them 0, its nodata: gdal_calc.py "
         f"-A {a} --allBands A -B {b} --B_band 1 --calc 'A*(B==1)' "
         f"--NoDataValue 0 --outfile {image.stem}_clear.tif.", GeotileWarning)


#: a SkySat ortho collect's panchromatic image, which it delivers apart from its analytic
_SKYSAT_PAN = re.compile(r"(?P<collect>.+)_panchromatic(_dn)?\.tiff?", re.IGNORECASE)


def skysat_analytic_hint(path) -> str:
    """For a SkySat collect's panchromatic image: the analytic image beside it that holds
    its multispectral bands (' (SkySat delivers ...: give <collect>_analytic_SR.tif (4
    bands))'), else ''."""
    import rasterio

    path = Path(path)
    match = _SKYSAT_PAN.fullmatch(path.name)
    if match is None or not path.parent.is_dir():
        return ""
    found = sorted(p for p in path.parent.glob(f"{match['collect']}_analytic*.tif*")
                   if udm_scene(p) is None and p.is_file())
    if not found:
        return ""
    analytic = next((p for p in found if "_sr" in p.name.lower()), found[0])
    try:
        with rasterio.open(analytic) as src:
            count = src.count
    except rasterio.errors.RasterioIOError:
        return ""
    return (f" (SkySat delivers the panchromatic band apart: give {analytic.name} "
            f"({count} bands))")
