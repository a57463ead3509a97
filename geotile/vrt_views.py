"""VRTs: in-memory VRT views of a raster (its palette expanded, its alpha band read as
values) and the areas of a VRT file that none of its sources covers."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import numpy as np
import rasterio

from geotile.input_paths import is_local
from geotile.raster import has_nodata, sample_pixels, unmasked_alpha
from geotile.user_warnings import warn


@contextlib.contextmanager
def expanded_palette(src, colours: str) -> Iterator[rasterio.io.DatasetReader]:
    """A paletted ``src`` read through its colour table, as ``gdal_translate -expand``
    ``colours`` ("gray", "rgb" or "rgba") gives it: a VRT that GDAL reads by windows. An
    alpha band is added after gray or rgb where the table has transparent colours or the
    band a nodata index (alpha 0 there), so that those pixels are nodata."""
    from xml.sax.saxutils import escape

    table = src.colormap(1)
    components = {"gray": ["Gray"], "rgb": ["Red", "Green", "Blue"],
                  "rgba": ["Red", "Green", "Blue", "Alpha"]}[colours]
    if components[-1] != "Alpha" and (src.nodata is not None or any(
            entry[3] < 255 for entry in table.values())):
        components.append("Alpha")
    name = src.name if not is_local(src.name) else os.path.abspath(src.name)
    bands = []
    for band, interp in enumerate(components, start=1):
        component = 4 if interp == "Alpha" else min(band, 3)
        nodata = f"<NODATA>{src.nodata!r}</NODATA>" if interp == "Alpha" and \
            src.nodata is not None else ""  # left 0: nothing written there
        bands.append(
            f'<VRTRasterBand dataType="Byte" band="{band}"><ColorInterp>{interp}</ColorInterp>'
            f'<ComplexSource><SourceFilename relativeToVRT="0">{escape(name)}</SourceFilename>'
            f"<SourceBand>1</SourceBand><ColorTableComponent>{component}</ColorTableComponent>"
            f"{nodata}</ComplexSource></VRTRasterBand>")
    with _vrt_view(src, bands) as view:
        yield view


@contextlib.contextmanager
def alpha_as_values(src) -> Iterator[rasterio.io.DatasetReader]:
    """``src`` with no alpha band and no mask (a VRT of its bands, colour interpretation
    undefined): a warp of it reads an alpha band that holds values (:func:`alpha_holds_values`)
    as a band, not as a mask of the others."""
    from xml.sax.saxutils import escape

    from rasterio.dtypes import _gdal_typename

    name = src.name if not is_local(src.name) else os.path.abspath(src.name)
    bands = [f'<VRTRasterBand dataType="{_gdal_typename(dtype)}" band="{band}">'
             f'<SimpleSource><SourceFilename relativeToVRT="0">{escape(name)}</SourceFilename>'
             f"<SourceBand>{band}</SourceBand></SimpleSource></VRTRasterBand>"
             for band, dtype in enumerate(src.dtypes, start=1)]
    with _vrt_view(src, bands) as view:
        yield view


@contextlib.contextmanager
def nodata_as_nan(src) -> Iterator[rasterio.io.DatasetReader]:
    """``src`` (float bands) with each band's declared nodata value, +inf and -inf read as
    NaN (VRTs of its bands, nodata NaN): a warp of it leaves out a band's NaN, its nodata
    value and its infinities alike, where GDAL's warper knows one nodata value a band (NaN
    beside -9999 were interpolated and averaged into the cells around them, whose valid
    pixels came out nodata; an inf pixel made its model cells inf)."""
    import math

    with contextlib.ExitStack() as stack:
        view = src
        declared = [None if value is None or math.isnan(value) else value
                    for value in src.nodatavals]
        for values in (declared, [math.inf] * src.count, [-math.inf] * src.count):
            if any(value is not None for value in values):
                view = stack.enter_context(_as_nan(view, values))
        yield view


@contextlib.contextmanager
def _as_nan(src, values: list) -> Iterator[rasterio.io.DatasetReader]:
    """``src`` with each band's value of ``values`` (None: none) read as NaN."""
    from xml.sax.saxutils import escape

    from rasterio.dtypes import _gdal_typename

    name = src.name if not is_local(src.name) else os.path.abspath(src.name)
    bands = []
    for band, (dtype, nodata, interp) in enumerate(
            zip(src.dtypes, values, src.colorinterp, strict=True), start=1):
        own = f"<NODATA>{nodata!r}</NODATA>" if nodata is not None else ""
        bands.append(f'<VRTRasterBand dataType="{_gdal_typename(dtype)}" band="{band}">'
                     f"<ColorInterp>{interp.name.capitalize()}</ColorInterp>"
                     "<NoDataValue>nan</NoDataValue><ComplexSource>"
                     f'<SourceFilename relativeToVRT="0">{escape(name)}</SourceFilename>'
                     f"<SourceBand>{band}</SourceBand>{own}</ComplexSource></VRTRasterBand>")
    with _vrt_view(src, bands) as view:
        yield view


@contextlib.contextmanager
def _vrt_view(src, bands: list[str]) -> Iterator[rasterio.io.DatasetReader]:
    """An in-memory VRT of ``bands`` (VRTRasterBand elements) on ``src``'s grid."""
    from xml.sax.saxutils import escape

    georef = f"<SRS>{escape(src.crs.to_wkt())}</SRS>" if src.crs is not None else ""
    if not src.transform.is_identity:
        georef += f"<GeoTransform>{', '.join(map(repr, src.transform.to_gdal()))}</GeoTransform>"
    xml = (f'<VRTDataset rasterXSize="{src.width}" rasterYSize="{src.height}">{georef}'
           f"{''.join(bands)}</VRTDataset>")
    with rasterio.io.MemoryFile(xml.encode(), ext=".vrt") as memory, memory.open() as view:
        yield view


#: sources of a VRT band, as GDAL writes them
_VRT_SOURCES = ("SimpleSource", "ComplexSource", "AveragedSource", "KernelFilteredSource")


#: distinct source edges on an axis beyond which a VRT's cover is not worked out
_VRT_EDGES = 4096


def vrt_uncovered(src, indexes=None) -> float | None:
    """The share of a local VRT file's pixels that no source of one of its ``indexes``
    bands (all by default) covers, from the sources' DstRect in its XML: GDAL reads them
    as 0, valid unless the VRT declares nodata, a mask or alpha. None when ``src`` is no
    such VRT or its cover is not known (derived or warped bands)."""
    import xml.etree.ElementTree as ElementTree

    if src.driver != "VRT" or not is_local(src.name) or not os.path.isfile(src.name):
        return None
    try:
        root = ElementTree.parse(src.name).getroot()
    except (ElementTree.ParseError, OSError):
        return None
    width, height = src.width, src.height
    wanted = set(indexes or range(1, src.count + 1))
    rects = []
    for band in root.iter("VRTRasterBand"):
        if int(band.get("band", 0)) not in wanted:
            continue
        if band.get("subClass"):
            return None
        boxes = []
        for source in band:
            if source.tag not in _VRT_SOURCES:
                continue
            dst = source.find("DstRect")
            if dst is None:
                boxes.append((0.0, 0.0, width, height))
                continue
            x, y = float(dst.get("xOff", 0)), float(dst.get("yOff", 0))
            boxes.append((max(x, 0.0), max(y, 0.0), min(x + float(dst.get("xSize", 0)), width),
                          min(y + float(dst.get("ySize", 0)), height)))
        rects.append([b for b in boxes if b[0] < b[2] and b[1] < b[3]])
    if len(rects) != len(wanted):
        return None
    xs = np.unique([0.0, width, *(v for band in rects for b in band for v in (b[0], b[2]))])
    ys = np.unique([0.0, height, *(v for band in rects for b in band for v in (b[1], b[3]))])
    if len(xs) > _VRT_EDGES or len(ys) > _VRT_EDGES:
        return None
    covered = np.ones((len(ys) - 1, len(xs) - 1), bool)
    for band in rects:  # a pixel is covered when every band has a source there
        here = np.zeros_like(covered)
        for x0, y0, x1, y1 in band:
            here[np.searchsorted(ys, y0) : np.searchsorted(ys, y1),
                 np.searchsorted(xs, x0) : np.searchsorted(xs, x1)] = True
        covered &= here
    area = np.outer(np.diff(ys), np.diff(xs))
    return float(area[~covered].sum() / (width * height))


def warn_vrt_gap(src, name: str, what: str, indexes=None) -> None:
    """One warning when a VRT ``src`` has areas outside all of its sources (of ``indexes``)
    and declares no nodata or alpha: GDAL reads them as valid 0s, which become ``what``;
    else one when 12/16-bit bands are 0 together in a share of it (a scene's fill, as in
    Sentinel-2's JP2s and stacks of them, which declare no nodata)."""

    from geotile.errors import GeotileWarning

    # an alpha band GDAL's mask leaves out masks the gap too; a float's gap is 0, not NaN
    if has_nodata(src) or unmasked_alpha(src):
        return
    if gap := vrt_uncovered(src, indexes):
        warn(f"{name}: {gap * 100:.3g} % of it lies outside all of its sources, and "
             "it declares no nodata or alpha: GDAL reads those areas as valid 0 "
             f"pixels, and they {what}. Rebuild it with gdalbuildvrt -addalpha (or a "
             "nodata value: -vrtnodata) to leave them out.", GeotileWarning)
    elif share := _zero_fill_share(src, indexes):
        warn(f"{name}: its {src.dtypes[0]} bands are 0 together in {share * 100:.3g} "
             "% of it (sampled), a fill, but it declares no nodata: GDAL reads those "
             f"pixels as valid, and they {what}. {_declare_fill(src.name)} to leave "
             "them out.", GeotileWarning)


def _declare_fill(path) -> str:
    """How to declare 0 nodata in the raster ``path``: gdal_edit.py, but a vendor's product
    file (a .TIL, a DIMAP), which GDAL opens read-only, through a VRT of it."""
    from geotile.input_paths import input_path, is_product_file

    if not is_product_file(path):
        return ("Declare it (gdal_edit.py -a_nodata 0; gdalbuildvrt -srcnodata 0 -vrtnodata 0 "
                "for a stack)")
    path = input_path(path)
    return (f"GDAL opens {path.name} read-only: give a VRT that declares it (gdalbuildvrt "
            f"-srcnodata 0 -vrtnodata 0 {path.stem}_nodata.vrt {path.name})")


def _zero_fill_share(src, indexes=None) -> float:
    """The share (0 under 1 %) of a sample of ``src`` where its integer bands wider than 8
    bits (of ``indexes``, two or more distinct; else all of its bands) are all 0: no
    12/16-bit sensor reads 0 in every band; one band's 0 is a value (an nDSM's ground, fed
    as --bands 1,1,1 too)."""
    bands = sorted(set(indexes or ()))
    if len(bands) < 2:  # one band of a stack: its fill is 0 in all of them
        bands = list(range(1, src.count + 1))
    if len(bands) < 2 or not all(np.dtype(src.dtypes[b - 1]).kind in "iu" and
               np.dtype(src.dtypes[b - 1]).itemsize > 1 for b in bands):
        return 0.0
    share = float((sample_pixels(src, bands) == 0).all(axis=0).mean())
    return share if share >= 0.01 else 0.0
