"""TIFFs of several pages (images in IFDs of their own, as tifffile or GDAL's GTIFF_DIR
write them; overviews and masks are none): GDAL reads page 1, and GTIFF_DIR:N:<file> reads
page N."""

from __future__ import annotations

import shlex

from geotile.errors import GeotileWarning
from geotile.user_warnings import warn


def warn_other_pages(src, name: str) -> None:
    """One warning when the TIFF ``src`` (``name``) holds other pages than the page 1 it
    reads: how many, and the subdataset name that reads another."""
    if src.driver != "GTiff":
        return
    pages = [s for s in src.subdatasets if s.upper().startswith("GTIFF_DIR:")]
    if len(pages) < 2:
        return
    warn(f"{name}: the TIFF holds {len(pages)} pages (images, not overviews) and "
         f"page 1 is read ({src.width}x{src.height} px, {src.count} band"
         f"{'s' if src.count > 1 else ''}). To read another give it as GDAL names "
         f"it, GTIFF_DIR:N:<file> for page N (e.g. {shlex.quote(pages[1])}; "
         "gdalinfo lists them).", GeotileWarning)
