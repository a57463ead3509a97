"""Label rasters whose dataset codes its classes from 1: OSCD's change maps.

OSCD (Onera Satellite Change Detection) ships ``<city>/cm/<city>-cm.tif`` holding 1 for no
change and 2 for change (TorchGeo's OSCD subtracts 1). Read as ids, every pixel would be a
class and none background. Such a file, found by its name and its values (only 1 and 2),
opens as a view of it holding 0 (no change) and 1 (change), its classes named. Ids 1 and 2
in a raster of another name (a chip without background) stay ids.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import PurePath

import numpy as np

#: the change map's name: <city>-cm.tif in a folder cm/ (any case)
_NAME = re.compile(r".+-cm\.tiff?", re.IGNORECASE)
#: its classes, by the ids the view gives them
CLASS_NAMES = ("no change", "change")


def is_oscd_name(path) -> bool:
    """Whether ``path`` is named as OSCD's change maps are: ``cm/<city>-cm.tif``."""
    parts = PurePath(os.fspath(path)).parts
    return len(parts) >= 2 and parts[-2].lower() == "cm" and bool(_NAME.fullmatch(parts[-1]))


def _codes_1_2(src) -> bool:
    """Whether a one-band integer raster holds 1 and 2 alone (2 or 1 alone too), its
    declared nodata aside."""
    if src.count != 1 or np.dtype(src.dtypes[0]).kind not in "iu":
        return False
    seen = np.zeros(3, bool)
    for _, window in src.block_windows(1):
        values = src.read(1, window=window)
        if src.nodata is not None:
            values = values[values != src.nodata]
        if values.size and (values.min() < 1 or values.max() > 2):
            return False
        seen |= np.bincount(values.ravel().astype(np.int64), minlength=3)[:3] > 0
    return bool(seen.any())


def with_change_codes(src, path):
    """``src``, or for OSCD's change map (:func:`is_oscd_name`, values 1 and 2) an
    in-memory VRT of it reading 1 as 0 (no change) and 2 as 1 (change), its declared nodata
    as nodata 255, its classes named (``src`` is closed then)."""
    if not is_oscd_name(path) or not os.path.isfile(src.name) or not _codes_1_2(src):
        return src
    from xml.sax.saxutils import escape

    from rasterio.io import MemoryFile

    from geotile.quiet_warnings import quietly

    name = os.path.abspath(src.name)
    georef = f"<SRS>{escape(src.crs.to_wkt())}</SRS>" if src.crs is not None else ""
    if not src.transform.is_identity:
        georef += f"<GeoTransform>{', '.join(map(repr, src.transform.to_gdal()))}</GeoTransform>"
    names = escape(json.dumps(list(CLASS_NAMES)))  # in memory: GDAL categories unread
    # its declared nodata (a strip outside the scene) is 255, the ignore value: the LUT
    # would clamp it to a class
    nodata = skipped = ""
    if src.nodata is not None:
        nodata = "<NoDataValue>255</NoDataValue>"
        skipped = f"<NODATA>{src.nodata!r}</NODATA>"
    xml = (f'<VRTDataset rasterXSize="{src.width}" rasterYSize="{src.height}">{georef}'
           f'<Metadata><MDI key="GEOTILE_CLASS_NAMES">{names}</MDI></Metadata>'
           f'<VRTRasterBand dataType="Byte" band="1">{nodata}<ComplexSource>'
           f'<SourceFilename relativeToVRT="0">{escape(name)}</SourceFilename>'
           f"<SourceBand>1</SourceBand>{skipped}<LUT>1:0,2:1</LUT></ComplexSource>"
           "</VRTRasterBand></VRTDataset>")
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", PurePath(os.fspath(path)).stem)
    memory = MemoryFile(xml.encode(), filename=f"{stem}.vrt")
    src.close()
    view = quietly(memory.open)
    view._geotile_memory = memory  # kept open while the view is
    return view
