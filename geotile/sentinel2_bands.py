"""Sentinel-2 band files given themselves, as the product names them in its IMG_DATA
(L2A: ``R10m/T31TCJ_20230615T105031_B04_10m.jp2``, ``TCI_10m``, ``R20m/..._SCL_20m.jp2``;
L1C: ``T31TCJ_20230615T105031_B04.jp2``), a GeoTIFF copy under the same stem, or a
``gdalbuildvrt -separate`` stack of them, also by GDAL path in the zipped product
(/vsizip/S2A_....SAFE.zip/...). Their files declare nothing; the product's
MTD_MSIL2A.xml / MTD_MSIL1C.xml (beside the file, or above its GRANULE folder, listing
the file; in the archive too) gives what :mod:`geotile.sentinel2_safe` declares for its subdatasets:

- spectral bands (uint16): nodata 0, scale 1 / (BOA_)QUANTIFICATION_VALUE and offset
  BOA_ADD_OFFSET (RADIO_ADD_OFFSET) / that value; AOT, WVP: their quantification. With
  no MTD found: nodata 0 and scale 1e-4 (every baseline's), no offset, with a warning;
- TCI (3 bands uint8): nodata 0 only;
- SCL (uint8): nodata 0 (its class NO_DATA) and ESA's class names (GEOTILE_CLASS_NAMES).

Another type or band count under such a name (reflectance already), or geotile's own
output named after one, declares nothing; what a file declares itself is kept. The MTD
used is an input (:func:`metadata_files`).
"""

from __future__ import annotations

import functools
import json
import os
import posixpath
import re
from pathlib import Path

from geotile.user_warnings import warn

#: a band file as the product names it: tile, sensing time, band, L2A's resolution
BAND_FILE = re.compile(r"T\d{2}[A-Z]{3}_\d{8}T\d{6}_(B\d[\dA]|TCI|SCL|AOT|WVP)(_\d{2}m)?"
                       r"\.(?:jp2|tiff?)", re.IGNORECASE)
#: SCL's classes as ESA names them (the Level-2A product format), by id
SCL_NAMES = ["no_data", "saturated_or_defective", "cast_shadows", "cloud_shadows",
             "vegetation", "not_vegetated", "water", "unclassified",
             "cloud_medium_probability", "cloud_high_probability", "thin_cirrus", "snow"]
#: the spectral bands by the MTD's band_id (its Spectral_Information says so too)
_PHYSICAL = ["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11",
             "B12"]
#: GDAL's prefixes of a member of a local archive whose MTD is read in it
_ARCHIVES = ("/vsizip/", "/vsitar/")
#: the most bytes an MTD is read of (ESA's are some 50-100 kB)
_LARGEST = 1 << 23


def _kind(path) -> tuple[str, str] | None:
    """(band: B4, B8A, TCI, SCL, AOT, WVP; level: 2A or 1C) of a band file's name."""
    found = BAND_FILE.fullmatch(os.path.basename(os.fspath(path)))
    if not found:
        return None
    band = re.sub(r"^B0", "B", found.group(1).upper())
    return band, "2A" if found.group(2) else "1C"


def product_metadata(path, others: list | None = None) -> Path | str | None:
    """The MTD_MSIL2A.xml (L1C: MTD_MSIL1C.xml) of the local band file ``path``: beside it,
    else above its GRANULE folder (GRANULE/<granule>/IMG_DATA[/R10m]/), one that lists the
    file (its IMAGE_FILE, whatever its suffix); None when there is none. Of a band in a
    local archive (/vsizip/S2A_....SAFE.zip/...): its GDAL path in it. ``others`` gets
    those there that list other files (another product's)."""
    kind = _kind(path)
    text = os.fspath(path)
    archived = text.startswith(_ARCHIVES)
    if kind is None or "://" in text or (text.startswith("/vsi") and not archived):
        return None
    folder = posixpath.dirname(text) if archived else os.path.dirname(os.path.abspath(text))
    places, parent = [folder], folder
    for _ in range(4):
        parent = (posixpath if archived else os.path).dirname(parent)
        if (posixpath if archived else os.path).basename(parent) == "GRANULE":
            places.append((posixpath if archived else os.path).dirname(parent))
            break
    name = f"MTD_MSIL{kind[1]}.xml"
    for place in places:
        mtd = f"{place}/{name}" if archived else Path(place) / name
        version = _version(mtd)
        if version is None:
            continue
        if os.path.splitext(os.path.basename(text))[0].lower() in _values(str(mtd),
                                                                          *version)["files"]:
            return mtd
        if others is not None:
            others.append(mtd)
    return None


def _version(mtd) -> tuple | None:
    """(mtime, size) of MTD file ``mtd`` (of its archive for a member of one), None when
    there is none."""
    from geotile.input_paths import local_archive
    from geotile.landsat_mtl import archive_version, metadata_bytes

    text = os.fspath(mtd)
    try:
        if not text.startswith(_ARCHIVES):
            stat = os.stat(text)
            return (stat.st_mtime_ns, stat.st_size) if os.path.isfile(text) else None
        archive = local_archive(text)
        if archive is None:
            return None
        metadata_bytes(text)  # there, and small enough
        return archive_version(archive)
    except (OSError, ValueError):
        return None


def metadata_files(path) -> list:
    """[the MTD deciding the band file ``path``'s values] (an input, as the file is), or []."""
    mtd = product_metadata(path)
    return [mtd] if mtd is not None else []


@functools.lru_cache(maxsize=16)
def _values(mtd: str, *_version) -> dict:
    """What an MTD declares: files (its IMAGE_FILE stems, lower case), the quantification
    by band kind (spectral, AOT, WVP) and the offset by band name (B4, B8A); PSD 14.2's
    names too (IMAGE_FILE_2A, L2A_BOA_QUANTIFICATION_VALUE; not the L1C's
    L1C_TOA_QUANTIFICATION_VALUE beside it)."""
    import xml.etree.ElementTree as ElementTree

    from geotile.sentinel2_safe import finite_number

    values: dict = {"files": set(), "quantity": {}, "offsets": {}}
    from geotile.landsat_mtl import metadata_bytes

    try:
        root = ElementTree.fromstring(metadata_bytes(mtd)[:_LARGEST])
    except (OSError, ValueError, ElementTree.ParseError):
        return values
    names = dict(enumerate(_PHYSICAL))
    offsets = {}
    for element in root.iter():
        tag, text = element.tag.rsplit("}", 1)[-1], (element.text or "").strip()
        tag = tag.removeprefix("L2A_")  # PSD 14.2's names (baselines 02.04-02.06)
        if tag in ("IMAGE_FILE", "IMAGE_FILE_2A"):
            values["files"].add(text.rsplit("/", 1)[-1].lower())
        elif tag in ("BOA_QUANTIFICATION_VALUE", "QUANTIFICATION_VALUE"):
            values["quantity"]["spectral"] = finite_number(text)
        elif tag in ("AOT_QUANTIFICATION_VALUE", "WVP_QUANTIFICATION_VALUE"):
            values["quantity"][tag[:3]] = finite_number(text)
        elif tag in ("BOA_ADD_OFFSET", "RADIO_ADD_OFFSET"):
            offsets[element.get("band_id")] = finite_number(text)
        elif tag == "Spectral_Information" and (element.get("bandId") or "").isdigit() \
                and element.get("physicalBand"):
            names[int(element.get("bandId"))] = element.get("physicalBand")
    values["offsets"] = {names.get(int(k)): v for k, v in offsets.items()
                         if k is not None and k.isdigit() and v is not None}
    return values


def band_declared(src) -> tuple[list[tuple], dict] | None:
    """((nodata, scale, offset) per band, dataset tags to add) of a Sentinel-2 band file
    ``src`` (local, of the product's type), where it declares none; None otherwise."""
    from geotile.output_owners import geotile_output

    kind, name = _kind(src.name), str(src.name)
    if kind is None or (name.startswith("/vsi") and not name.startswith(_ARCHIVES)) \
            or "://" in name or geotile_output(src):
        return None
    band, level = kind
    count, dtype = (3, "uint8") if band == "TCI" else (1, "uint8" if band == "SCL" else
                                                        "uint16")
    if src.count != count or set(src.dtypes) != {dtype}:
        return None
    own = list(zip(src.nodatavals, src.scales, src.offsets, strict=True))
    nodata = [0.0 if value is None else value for value, _, _ in own]
    if band in ("TCI", "SCL"):
        bands = [(n, s, o) for n, (_, s, o) in zip(nodata, own, strict=True)]
        tags = {} if band == "TCI" or "GEOTILE_CLASS_NAMES" in {**src.tags(1), **src.tags()} \
            else {"GEOTILE_CLASS_NAMES": json.dumps(SCL_NAMES)}
        return (bands, tags) if bands != own or tags else None
    scale, offset = own[0][1:]
    if (scale, offset) == (1, 0):
        scale, offset = _scale_offset(src.name, band, level)
    bands = [(nodata[0], scale, offset)]
    return (bands, {}) if bands != own else None


def offset_known():
    """A context in which band files opened (one short call: :func:`quiet_warnings.hidden`)
    declare what they would but are not warned of a missing MTD: a STAC Item's processing
    baseline decides their offset (:mod:`geotile.sentinel2_items`)."""
    from geotile.errors import GeotileWarning
    from geotile.quiet_warnings import hidden

    return hidden(GeotileWarning, message=_NO_MTD)


#: the start of the warning of a band file without its product's MTD
_NO_MTD = r"[^:]*: (no|the) MTD_MSIL(1C|2A)\.xml (of its product found|there)"


def _scale_offset(path, band: str, level: str) -> tuple[float, float]:
    """(scale, offset) of ``band`` from its product's MTD; without one, a spectral band's
    1e-4 and no offset, with a warning (AOT, WVP: none)."""
    others: list = []
    mtd = product_metadata(path, others)
    if mtd is None:
        if band in ("AOT", "WVP"):
            return 1.0, 0.0
        from geotile.errors import GeotileWarning

        name = os.path.basename(os.fspath(path))
        found = (f"the MTD_MSIL{level}.xml there ({others[0]}) is another product's (it "
                 f"lists no {Path(name).stem})" if others else
                 f"no MTD_MSIL{level}.xml of its product found (beside it or above its "
                 "GRANULE folder)")
        advice = (f"{found}: read with nodata 0 and scale 0.0001, but its offset is "
                  "unknown (products of processing baseline 04.00 on, from 2022-01-25, hold "
                  "DN + 1000: reflectance 0.1 too high, give --mean 0.1 with --scale 0.0001); "
                  f"give it in its unzipped SAFE, or put its own product's "
                  f"MTD_MSIL{level}.xml beside it")
        warn(GeotileWarning(f"{name}: {advice}.", about=name, advice=advice))
        return 0.0001, 0.0
    values = _values(str(mtd), *(_version(mtd) or ()))
    quantity = values["quantity"].get(band if band in ("AOT", "WVP") else "spectral")
    if not quantity:
        return 1.0, 0.0
    shift = values["offsets"].get(band, 0.0) if band not in ("AOT", "WVP") else 0.0
    return 1 / quantity, shift / quantity


def stack_declared(src) -> list[tuple] | None:
    """(nodata, scale, offset) per band of a local VRT file whose bands read Sentinel-2
    band files alone (gdalbuildvrt -separate B04.jp2 B03.jp2 ..., or a mosaic of granules'
    B04): their files' (:func:`band_declared`, the same for every source of a band) where
    the VRT band declares none; None when none is added. A mosaic whose sources declare no
    nodata is warned of (a later file's 0 fill hides an earlier one's pixels)."""
    import xml.etree.ElementTree as ElementTree

    name = str(src.name)
    if src.driver != "VRT" or not name.lower().endswith(".vrt") or not os.path.isfile(name):
        return None
    # GDAL's list of the VRT's files first (~1 ms for 2000 sources): a mosaic of other
    # rasters is not parsed at every open (~75 ms for 2000 sources)
    if not any(BAND_FILE.fullmatch(os.path.basename(f)) for f in src.files[1:]):
        return None
    try:
        root = ElementTree.parse(name).getroot()
    except (ElementTree.ParseError, OSError):
        return None
    own = list(zip(src.nodatavals, src.scales, src.offsets, strict=True))
    bands, hidden = list(own), []
    for element in root.iter("VRTRasterBand"):
        index = int(element.get("band", 0))
        sources = [s for s in element if s.tag in ("SimpleSource", "ComplexSource")]
        if not 1 <= index <= len(bands) or element.get("subClass") or not sources \
                or len(sources) != sum(e.tag.endswith("Source") for e in element):
            continue
        found = {_source_declared(name, source) for source in sources}
        if None in found:
            continue
        if len({values[1:] for values in found}) > 1:
            _refuse_mixed(name, index, found)
        if len(found) != 1:
            continue
        declared = found.pop()
        value, scale, offset = bands[index - 1]
        bands[index - 1] = (value if value is not None else declared[0],
                            *(declared[1:] if (scale, offset) == (1, 0) else (scale, offset)))
        if len(sources) > 1 and any(s.find("NODATA") is None for s in sources):
            hidden.append(index)
    if hidden:
        from geotile.errors import GeotileWarning

        file = os.path.basename(name)
        advice = (f"band{'s' if hidden[1:] else ''} {', '.join(map(str, hidden))} "
                  f"mosaic{'' if hidden[1:] else 's'} "
                  "Sentinel-2 band files whose 0 fill the VRT does not declare: where they "
                  "overlap, a later file's fill hides an earlier one's pixels; build it "
                  "with gdalbuildvrt -srcnodata 0 -vrtnodata 0")
        warn(GeotileWarning(f"{file}: {advice}.", about=file, advice=advice))
    return bands if bands != own else None


def _refuse_mixed(vrt: str, index: int, found: set) -> None:
    """InputError: band ``index`` of ``vrt`` mosaics band files whose products read their
    DN differently (``found``: their (nodata, scale, offset)), which no one scale and
    offset of the band reads."""
    from geotile.errors import InputError

    shown = " and ".join(sorted(f"scale {s:g} offset {o:g}" for s, o in
                                {values[1:] for values in found}))
    raise InputError(
        f"{os.path.basename(vrt)}: band {index} mosaics Sentinel-2 band files whose products "
        f"read their pixels differently ({shown}): processing baselines from 04.00 on hold "
        "DN + 1000, earlier ones not (or a file's MTD was not found), so no one offset "
        "reads the band; mosaic products of one side of baseline 04.00 (their MTD's "
        "PROCESSING_BASELINE), or give each product's file on its own.")


def _source_declared(vrt: str, source) -> tuple | None:
    """(nodata, scale, offset) of a VRT ``source`` element's band of a Sentinel-2 band file
    (:func:`band_declared`), None for another source or one rescaling its pixels."""
    import rasterio
    from rasterio.errors import RasterioError

    from geotile.quiet_warnings import quietly

    path = source.find("SourceFilename")
    if path is None or not BAND_FILE.fullmatch(os.path.basename(path.text or "")) \
            or any(source.find(t) is not None for t in ("ScaleRatio", "ScaleOffset", "LUT")):
        return None
    text = path.text if path.get("relativeToVRT") != "1" else \
        os.path.join(os.path.dirname(os.path.abspath(vrt)), path.text)
    try:
        with quietly(rasterio.open, text) as band_src:
            found = band_declared(band_src)
    except RasterioError:
        return None
    number = int(source.findtext("SourceBand", "1"))
    return found[0][number - 1] if found and 1 <= number <= len(found[0]) else None


def with_band_values(src):
    """``src``, or for a Sentinel-2 band file or a stack of them declaring what its product
    does (:func:`band_declared`, :func:`stack_declared`) an in-memory VRT of it declaring
    them (``src`` is closed then)."""
    from geotile.sentinel2_safe import declared_or_as_is, declared_view

    found = band_declared(src)
    if found is not None:
        return declared_view(src, *found)
    try:
        bands = stack_declared(src)
    except Exception:
        src.close()
        raise
    return declared_or_as_is(src, bands)
