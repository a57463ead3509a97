"""Sentinel-2 SAFE products as GDAL's SENTINEL2 driver opens them (MTD_MSIL2A.xml's
subdatasets, ``SENTINEL2_L2A:.../MTD_MSIL2A.xml:10m:EPSG_32631``).

The driver names each band (BANDNAME B4, its BOA_ADD_OFFSET) and the product's no-data
value and quantification (SPECIAL_VALUE_NODATA 0, BOA_QUANTIFICATION_VALUE 10000) in
metadata only: its bands declare no nodata, scale or offset, so the fill outside the
swath would be predicted and no warning could name the values the pixels hold. The
spectral bands (B1..B12, B8A) are read through a VRT declaring them, as a STAC Item's
stack declares its raster:bands (:mod:`geotile.stac_images`), pixels unchanged:

- nodata: SPECIAL_VALUE_NODATA (0) on the spectral bands, the 8-bit true-colour (TCI)
  ones, AOT, WVP and SCL (whose class 0 is no data); not on the cloud and snow
  probabilities (CLD, SNW), whose 0 is a value;
- scale 1 / BOA_QUANTIFICATION_VALUE (L1C: QUANTIFICATION_VALUE; PSD 14.2:
  L2A_BOA_QUANTIFICATION_VALUE) and offset
  BOA_ADD_OFFSET (RADIO_ADD_OFFSET) / that value: L2A since processing baseline 04.00 is
  reflectance = DN x 0.0001 - 0.1, before it DN x 0.0001; not on TCI's 8-bit bands. AOT
  and WVP: 1 / AOT_QUANTIFICATION_VALUE, 1 / WVP_QUANTIFICATION_VALUE.

What a band declares itself is kept. A spectral band's or TCI's file missing (a partial
download, which GDAL reads as 0s with a warning only) is refused in one line naming it.
"""

from __future__ import annotations

import math
import os
import re
import threading

#: a spectral band's BANDNAME (B4, B8A, B12)
_SPECTRAL = re.compile(r"B\d{1,2}A?")
#: other bands whose 0 is no data (SCL's class 0 is NO_DATA)
_FILLED = frozenset({"AOT", "WVP", "SCL"})
#: (its file's identity, its bands' declarations) -> the MemoryFile of its VRT (a few kB)
_VIEWS: dict = {}
_LOCK = threading.Lock()


def finite_number(text) -> float | None:
    """``text`` as a finite float, else None (metadata values: missing, text, NaN)."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def declared_values(src) -> list[tuple] | None:
    """(nodata, scale, offset) per band of a SENTINEL2 dataset ``src`` from the product's
    metadata, where its bands declare none; None when nothing is to be added."""
    if src.driver != "SENTINEL2" or src.gcps[0] or src.transform.is_identity:
        return None  # L1B's granules, placed by GCPs: left as GDAL reads them
    tags = src.tags()
    nodata = finite_number(tags.get("SPECIAL_VALUE_NODATA"))
    bands, added = [], False
    for index in range(1, src.count + 1):
        band = src.tags(index)
        name = band.get("BANDNAME", "")
        own = (src.nodatavals[index - 1], src.scales[index - 1], src.offsets[index - 1])
        spectral = bool(_SPECTRAL.fullmatch(name))
        if not spectral and name not in _FILLED:
            bands.append(own)
            continue
        value = own[0] if own[0] is not None else nodata
        scale, offset = own[1], own[2]
        quantity = finite_number(_quantification(tags, "BOA" if spectral else name))
        if (scale, offset) == (1, 0) and quantity and src.dtypes[index - 1] != "uint8":
            shift = finite_number(band.get("BOA_ADD_OFFSET") or band.get("RADIO_ADD_OFFSET")) \
                if spectral else 0
            scale, offset = 1 / quantity, (shift or 0) / quantity
        added |= (value, scale, offset) != own
        bands.append((value, scale, offset))
    return bands if added else None


def _quantification(tags: dict, kind: str):
    """The product's quantification value of ``kind`` (BOA: the spectral bands, AOT, WVP)
    in SENTINEL2 dataset ``tags``: PSD 14.2's name too (L2A_BOA_QUANTIFICATION_VALUE,
    baselines 02.04-02.06); an L1C's QUANTIFICATION_VALUE for BOA (not the
    L1C_TOA_QUANTIFICATION_VALUE an L2A's metadata repeats)."""
    return tags.get(f"{kind}_QUANTIFICATION_VALUE") or tags.get(
        f"L2A_{kind}_QUANTIFICATION_VALUE") or (tags.get("QUANTIFICATION_VALUE")
                                                if kind == "BOA" else None)


def missing_files(src) -> dict[str, str]:
    """{BANDNAME: its missing file} of a SENTINEL2 dataset ``src`` (a partial download:
    GDAL reads such a band as 0s, only warning 'Tile ... not found on filesystem')."""
    import rasterio

    from geotile.quiet_warnings import gdal_messages, quietly

    with gdal_messages() as messages:
        quietly(rasterio.open, src.name).close()
    missing = {}
    for text in messages:
        found = re.search(r"Tile (.+\.jp2) not found on filesystem", text)
        band = found and re.search(r"_([A-Z0-9]{2,3})(?:_\d+m)?$", found.group(1)[:-4])
        if band:
            name = band.group(1)
            missing[re.sub(r"^B0(\d)$", r"B\1", name)] = found.group(1)
    return missing


def _refuse_missing_bands(src) -> None:
    """InputError naming a spectral band's or the true-colour (TCI) missing file (GDAL
    would read it as 0s). AOT, WVP and SCL files missing read as their no data."""
    from geotile.errors import InputError

    lost = [(band, file) for band, file in missing_files(src).items()
            if _SPECTRAL.fullmatch(band) or band == "TCI"]
    if not lost:
        return
    src.close()
    names = ", ".join(band for band, _ in lost)
    raise InputError(
        f"{lost[0][1]}: missing from the product (band{'s' if lost[1:] else ''} {names}: "
        "GDAL would read 0s); download it again, or stack the band files you have "
        "(gdalbuildvrt -separate -srcnodata 0 -vrtnodata 0 stack.vrt B04.jp2 B03.jp2 "
        "B02.jp2) and give that.")


def view_xml(src, bands: list[tuple], tags: dict | None = None) -> str:
    """The VRT (XML) of ``src`` whose bands declare ``bands``' (nodata, scale, offset),
    with its descriptions, band metadata and colour interpretation, its metadata and
    ``tags``, on its grid (its GCPs where they alone place it)."""
    from xml.sax.saxutils import escape

    from rasterio.dtypes import _gdal_typename

    colours = {"red": "Red", "green": "Green", "blue": "Blue", "gray": "Gray"}
    extra, parts = tags or {}, []
    for index, (nodata, scale, offset) in enumerate(bands, start=1):
        tags = "".join(f'<MDI key="{escape(k)}">{escape(v)}</MDI>'
                       for k, v in src.tags(index).items())
        parts.append(
            f'<VRTRasterBand dataType="{_gdal_typename(src.dtypes[index - 1])}" '
            f'band="{index}"><Description>{escape(src.descriptions[index - 1] or "")}'
            f"</Description><Metadata>{tags}</Metadata>"
            + (f"<NoDataValue>{nodata!r}</NoDataValue>" if nodata is not None else "")
            + f"<ColorInterp>{colours.get(src.colorinterp[index - 1].name, 'Undefined')}"
            f"</ColorInterp><Offset>{offset!r}</Offset><Scale>{scale!r}</Scale>"
            f'<SimpleSource><SourceFilename relativeToVRT="0">{escape(_absolute(src.name))}'
            f"</SourceFilename><SourceBand>{index}</SourceBand></SimpleSource>"
            "</VRTRasterBand>")
    tags = "".join(f'<MDI key="{escape(k)}">{escape(v)}</MDI>'
                   for k, v in {**src.tags(), **extra}.items())
    georef = f"<SRS>{escape(src.crs.to_wkt())}</SRS>" if src.crs is not None else ""
    georef += f"<GeoTransform>{', '.join(map(repr, src.transform.to_gdal()))}</GeoTransform>"
    gcps, gcp_crs = src.gcps
    if gcps and src.transform.is_identity:  # placed by GCPs alone (Sentinel-1 GRD)
        crs = escape(gcp_crs.to_wkt(), {'"': "&quot;"}) if gcp_crs is not None else ""
        georef = "<GCPList Projection=\"{}\">{}</GCPList>".format(crs, "".join(
            f'<GCP Id="{escape(g.id or "")}" Pixel="{g.col!r}" Line="{g.row!r}" '
            f'X="{g.x!r}" Y="{g.y!r}" Z="{(g.z or 0.0)!r}"/>' for g in gcps))
    return (f'<VRTDataset rasterXSize="{src.width}" rasterYSize="{src.height}">{georef}'
            f"<Metadata>{tags}</Metadata>{''.join(parts)}</VRTDataset>")


def _absolute(name: str) -> str:
    """A subdataset name whose file is an absolute path (the VRT may be read from another
    working directory)."""
    from geotile.input_paths import absolute_subdataset

    absolute = absolute_subdataset(name)
    if absolute is None:
        return os.path.abspath(name) if os.path.isfile(name) else name
    return absolute


def with_declared_values(src):
    """``src``, or for a SENTINEL2 dataset whose product declares band values its bands
    do not (:func:`declared_values`) an in-memory VRT of it declaring them (``src`` is
    closed then)."""
    if src.driver == "SENTINEL2":
        _refuse_missing_bands(src)
    return declared_or_as_is(src, declared_values(src))


def declared_or_as_is(src, bands: list[tuple] | None):
    """``src`` as it is where ``bands`` is None, else :func:`declared_view` of it."""
    return src if bands is None else declared_view(src, bands)


def declared_view(src, bands: list[tuple], tags: dict | None = None):
    """An in-memory VRT of ``src`` whose bands declare ``bands``' (nodata, scale, offset),
    and its metadata ``tags`` too, made once per file (its absolute path, size and
    modification time: a file made again on another grid is read again) and declarations;
    ``src`` is closed."""
    from rasterio.io import MemoryFile

    from geotile.input_paths import identity
    from geotile.quiet_warnings import quietly

    key = (*identity(src.name), tuple(bands), tuple(sorted((tags or {}).items())))
    with _LOCK:
        memory = _VIEWS.get(key)
    if memory is None:
        xml = view_xml(src, bands, tags)
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", src.name.rsplit("/", 1)[-1])
        memory = MemoryFile(xml.encode(), filename=f"{stem}.vrt")
        with _LOCK:
            _VIEWS[key] = memory
    src.close()
    return quietly(memory.open)


def safe_folder_advice(folder) -> str | None:
    """What to give for a product's .SAFE ``folder`` given as an IMAGE (its rasters are
    GDAL subdatasets of its metadata file, not files in it), else None."""
    from pathlib import Path

    folder = Path(folder)
    found = sorted(folder.glob("MTD_MSI*.xml")) + sorted(folder.glob("manifest.safe"))
    return _subdatasets_advice(found)


def _subdatasets_advice(found) -> str | None:
    """The advice of :func:`safe_folder_advice` for the first of the metadata files
    ``found`` (local or GDAL paths) that lists subdatasets, else None."""
    import rasterio
    from rasterio.errors import RasterioError

    from geotile.quiet_warnings import quietly

    for metadata in found:
        try:
            with quietly(rasterio.open, metadata) as src:
                names = list(src.subdatasets)
        except RasterioError:
            continue
        if names:
            return (f"a satellite product (SAFE) whose rasters are GDAL subdatasets of "
                    f"{os.path.basename(metadata)}: give one by its name, quoted, e.g. "
                    f"'{names[0]}' ({len(names)} of them: gdalinfo {metadata} lists them)")
    return None


def safe_archive_advice(archive) -> str | None:
    """What to give for a zipped product (S2A_MSIL2A_....SAFE.zip as the Copernicus Data
    Space serves it) given as an IMAGE: :func:`safe_folder_advice` of the product's folder
    in it (.SAFE or renamed, at its top or deeper); None for another archive."""
    import zipfile

    if not str(archive).lower().endswith(".zip"):
        return None
    try:
        with zipfile.ZipFile(archive) as opened:
            names = opened.namelist()
    except (OSError, zipfile.BadZipFile):
        return None
    # the product's top folder named otherwise, or a folder deeper: shallowest first
    found = sorted((n for n in names if re.fullmatch(
        r"(?:.+/)?(?:MTD_MSI\w+\.xml|manifest\.safe)", n, re.IGNORECASE)),
        key=lambda n: (n.count("/"), n))
    return _subdatasets_advice([f"/vsizip/{os.path.abspath(archive)}/{n}" for n in found])
