"""GDAL side-cars: files beside a raster that are part of it, never a raster of their own."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

#: side-car suffixes (metadata, overviews, masks, ENVI and EHdr headers, projections, world
#: files), compared in lower case
SIDECAR_SUFFIXES = (".aux.xml", ".ovr", ".msk", ".hdr", ".xml", ".prj", ".wld", ".tfw",
                    ".tfwx", ".tifw", ".tiffw", ".pgw", ".pngw", ".jgw", ".jpgw", ".jpegw",
                    ".j2w", ".jp2w", ".gfw", ".gifw", ".bpw", ".bmpw", ".aux", ".rrd")


def is_sidecar(path) -> bool:
    """Whether a file is a side-car of a raster (:data:`SIDECAR_SUFFIXES`)."""
    return Path(path).name.lower().endswith(SIDECAR_SUFFIXES)


#: what GDAL reads beside a raster: its PAM metadata, external overviews and mask, and off
#: Windows their upper-case spellings (gdaldefaultoverviews.cpp: .OVR, .MSK, read where the
#: lower-case one is absent: both are taken, or the other is read once one goes)
GDAL_SIDECAR_SUFFIXES = (".aux.xml", ".ovr", ".msk") + (
    (".OVR", ".MSK") if sys.platform != "win32" else ())


def gdal_sidecars(path: str | os.PathLike) -> list[Path]:
    """The files beside ``path`` that GDAL reads as part of it and that exist
    (:data:`GDAL_SIDECAR_SUFFIXES`); none whose name would be too long for the file system
    (of a file named near its limit)."""
    return [Path(f"{os.fspath(path)}{suffix}") for suffix in GDAL_SIDECAR_SUFFIXES
            if _exists(Path(f"{os.fspath(path)}{suffix}"))]


def _exists(path: Path) -> bool:
    """``path.exists()``, False for a name too long to exist (ENAMETOOLONG)."""
    try:
        return path.exists()
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:
            raise
        return False
