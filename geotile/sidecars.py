"""GDAL side-cars: files beside a raster that are part of it, never a raster of their own."""

from __future__ import annotations

from pathlib import Path

#: side-car suffixes (metadata, overviews, masks, ENVI and EHdr headers, projections, world
#: files), compared in lower case
SIDECAR_SUFFIXES = (".aux.xml", ".ovr", ".msk", ".hdr", ".xml", ".prj", ".wld", ".tfw",
                    ".tfwx", ".tifw", ".tiffw", ".pgw", ".pngw", ".jgw", ".jpgw", ".jpegw",
                    ".j2w", ".jp2w", ".gfw", ".gifw", ".bpw", ".bmpw", ".aux", ".rrd")


def is_sidecar(path) -> bool:
    """Whether a file is a side-car of a raster (:data:`SIDECAR_SUFFIXES`)."""
    return Path(path).name.lower().endswith(SIDECAR_SUFFIXES)
