"""SAR deliveries by their file names: an ASF HyP3 RTC product's side rasters, a scene's
other polarisation beside one given alone, and a Sentinel-1 GRD measurement file's nodata.

A HyP3 RTC product folder holds ``<scene>_VV.tif`` and ``<scene>_VH.tif`` (HH/HV; ``_VV_dB``
when processed in dB) beside ``<scene>_ls_map.tif`` (layover/shadow flags),
``_inc_map.tif`` (incidence angles), ``_rgb.tif`` (a colour browse), ``_dem.tif`` and
``_area.tif`` (scattering area), and its browse and thumbnail PNGs (``<scene>.png``,
``_thumb.png``, ``_rgb.png``, ``_rgb_thumb.png``): rasters that describe the scene, never
backscatter to cut or predict; an OPERA RTC-S1 burst's ``<id>_mask.tif`` (layover and
shadow flags) and ``<id>_BROWSE.png`` beside its ``<id>_VV.tif`` alike.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePath

#: a scene's polarisation file: <scene>_VV (VH, HH, HV), HyP3's dB <scene>_VV_dB
_POLARISATION = re.compile(r"(?P<scene>.+)_(?P<pol>VV|VH|HH|HV)(?P<db>_db)?$", re.I)
#: an RTC product's side rasters, <scene>_<what>: HyP3's (its browse and thumbnail PNGs
#: too), and OPERA RTC-S1's layover and shadow _mask and _BROWSE.png
_HYP3_SIDE = re.compile(r"(?P<scene>.+?)_(?:ls_map|inc_map|rgb|dem|area|mask|thumb|rgb_thumb"
                        r"|browse)$", re.I)
#: a browse image's suffixes (HyP3's amplitude browse is <scene>.png)
_BROWSE_SUFFIXES = (".png", ".jpg", ".jpeg")
#: a scene named as a Sentinel-1 product (HyP3's S1A_IW_..., S1_<burst>_...) or OPERA's
_SAR_PRODUCT = re.compile(r"s1[a-d]?_|opera_l2_rtc", re.I)
#: a Sentinel-1 GRD measurement file (a .SAFE's measurement/s1a-iw-grd-vv-<start>-<stop>-
#: <orbit>-<datatake>-001.tiff): uint16 amplitude placed by GCPs, whose 0 is no data (the
#: border the products fill with 0) though the file declares no nodata
_GRD_FILE = re.compile(r"(?P<head>s1[a-d]-(?:iw|ew|sm|s[1-6]|wv)[1-6]?-grd-)(?P<pol>hh|hv|vv|vh)"
                       r"(?P<tail>-\d{8}t\d{6}-\d{8}t\d{6}-\d{6}-[0-9a-f]{6}-)\d{3}\.tiff?", re.I)
#: the other polarisation of a dual-polarisation pair (of the second letter)
_OTHER = {"VV": "VH", "VH": "VV", "HH": "HV", "HV": "HH"}


def _stem(path) -> str:
    """The file name without its suffix (OPERA's ``..._v1.0_VV.tif``: ``..._v1.0_VV``)."""
    name = path.name if isinstance(path, PurePath) else os.path.basename(os.fspath(path))
    return os.path.splitext(name)[0]


def _sar_scenes(files: list) -> set[str]:
    """The scenes (lower case) of the polarisation files among ``files`` that are SAR by
    their name (a Sentinel-1 or OPERA product's) or by both polarisations of a pair among
    them: a drone survey's site_HH.tif (hedge heights) alone is none."""
    pols = {}
    for f in files:
        if m := _POLARISATION.match(_stem(f)):
            pols.setdefault(m["scene"].lower(), set()).add(m["pol"].upper())
    return {scene for scene, have in pols.items() if _SAR_PRODUCT.match(scene)
            or any(_OTHER[p] in have for p in have)}


def without_hyp3_side_rasters(files: list) -> list:
    """``files`` (of a folder) without the RTC side rasters (:data:`_HYP3_SIDE`) whose
    scene has a polarisation file among them (:func:`_sar_scenes`); others stay."""
    scenes = _sar_scenes(files)
    if not scenes:
        return files
    return [f for f in files if not ((m := _HYP3_SIDE.match(_stem(f)))
                                     and m["scene"].lower() in scenes) and not (
        _stem(f).lower() in scenes and _suffix(f).lower() in _BROWSE_SUFFIXES)]


def _suffix(path) -> str:
    """The file name's suffix (``.png``)."""
    name = path.name if isinstance(path, PurePath) else os.path.basename(os.fspath(path))
    return os.path.splitext(name)[1]


def _other_name(pol: str) -> str:
    """The other polarisation of a dual-polarisation pair, in ``pol``'s case."""
    other = _OTHER[pol.upper()]
    return other if pol.isupper() else other.lower()


def other_polarisation(path) -> Path | None:
    """The file beside ``path`` (a local ``<scene>_VV.tif``, a GRD measurement file...)
    holding its scene's other polarisation (``<scene>_VH.tif``, the same suffix and
    dB-ness; the GRD's ``-vh-`` file of its datatake), None if there is none."""
    path = Path(os.fspath(path))
    if not path.parent.is_dir():
        return None
    if grd := _GRD_FILE.fullmatch(path.name):
        found = sorted(path.parent.glob(f"{grd['head']}{_other_name(grd['pol'])}"
                                        f"{grd['tail']}[0-9][0-9][0-9].tif*"))
        return found[0] if len(found) == 1 else None
    match = _POLARISATION.match(_stem(path))
    if match is None:
        return None
    partner = path.with_name(f"{match['scene']}_{_other_name(match['pol'])}"
                             f"{match['db'] or ''}{path.name[len(_stem(path)):]}")
    return partner if partner.is_file() else None


def polarisation_hint(path) -> str:
    """For one polarisation of a scene whose other one lies beside it: how to give both, the
    co-polarised (VV, HH) first as models take them, else ''. A GRD measurement file, placed
    by GCPs that a gdalbuildvrt stack drops, is given its partner by --extra-bands only."""
    partner = other_polarisation(path)
    if partner is None:
        return ""
    path = Path(os.fspath(path))
    grd = _GRD_FILE.fullmatch(path.name)
    match = grd or _POLARISATION.match(_stem(path))
    co, cross = (path, partner) if match["pol"].upper() in ("VV", "HH") else (partner, path)
    give = f"add --extra-bands {cross}" if co == path else f"give {co} --extra-bands {cross}"
    if grd:
        return f" (its scene's other polarisation is beside it: {give})"
    stack = path.with_name(f"{match['scene']}.vrt")
    return (f" (its scene's other polarisation is beside it: {give}; a folder of scenes: "
            f"{path.parent} --extra-bands {path.parent}; or one file of both: gdalbuildvrt "
            f"-separate {stack} {co} {cross})")


def with_grd_nodata(src):
    """``src``, or for a Sentinel-1 GRD measurement file (:data:`_GRD_FILE`: its name,
    uint16, one band, no nodata of its own) an in-memory VRT of it declaring nodata 0, its
    GCPs kept (``src`` is closed then)."""
    from geotile.sentinel2_safe import declared_view

    if not _GRD_FILE.fullmatch(os.path.basename(str(src.name))) or src.count != 1 \
            or src.dtypes[0] != "uint16" or src.nodata is not None:
        return src
    return declared_view(src, [(0, src.scales[0], src.offsets[0])])
