"""Landsat Collection 2 Level-2 band files (``LC09_L2SP_..._T1_SR_B4.TIF``) as the USGS
delivers them: their GeoTIFFs declare no scale or offset, which the product's metadata
file beside them (``<product>_MTL.json``, ``_MTL.xml`` or the ODL ``_MTL.txt``, named in
any case as the band file) gives per band, in its LEVEL2 groups (the same keys in
LEVEL1_RADIOMETRIC_RESCALING are the Level-1 product's top-of-atmosphere values):

- surface reflectance (SR_B1..SR_B7): REFLECTANCE_MULT_BAND_n (2.75e-05) and
  REFLECTANCE_ADD_BAND_n (-0.2);
- surface temperature (ST_B10; ST_B6 of Landsat 4-7): TEMPERATURE_MULT_BAND_ST_Bn
  (0.00341802) and TEMPERATURE_ADD_BAND_ST_Bn (149, kelvin).

A Level-1 band file (``LC08_L1TP_..._B4.TIF``; Landsat 1-7's DN are 8-bit) takes the
LEVEL1_RADIOMETRIC_RESCALING group's: a reflective band's top-of-atmosphere reflectance
corrected for the sun's elevation, (DN x REFLECTANCE_MULT_BAND_n + REFLECTANCE_ADD_BAND_n)
/ sin(SUN_ELEVATION) as the USGS defines it; a thermal band's (B10, B11, B6, B6_VCID_1)
radiance, RADIANCE_MULT_BAND_n and RADIANCE_ADD_BAND_n.

Such a file is read through a VRT declaring them as its scale and offset, and nodata 0
(the fill both product guides document) where it declares none, pixels unchanged:
as :mod:`geotile.sentinel2_safe` does for a SAFE, so predict's warning names the
``--scale 2.75e-05 --mean 0.2`` that feed reflectance, the fill is nodata, and a STAC Item
of the files (the USGS's declare no raster:bands) gets them too. What the file declares
itself is kept.
"""

from __future__ import annotations

import functools
import json
import os
import re

from geotile.input_paths import LANDSAT_BAND_FILE, mtl_files
from geotile.user_warnings import warn

#: a Level-2 band's MTL group and its scale and offset keys, by its kind (the MTL repeats
#: the keys of surface reflectance in LEVEL1_RADIOMETRIC_RESCALING: the Level-1 product's)
_KEYS = {"SR": ("LEVEL2_SURFACE_REFLECTANCE_PARAMETERS", "REFLECTANCE_MULT_BAND_{n}",
                "REFLECTANCE_ADD_BAND_{n}"),
         "ST": ("LEVEL2_SURFACE_TEMPERATURE_PARAMETERS", "TEMPERATURE_MULT_BAND_ST_B{n}",
                "TEMPERATURE_ADD_BAND_ST_B{n}")}


def mtl_groups(files) -> dict[str, dict[str, str]]:
    """{GROUP: {KEY: value}} of the first readable of a product's MTL ``files``
    (:func:`geotile.input_paths.mtl_files`: JSON, XML or the ODL text), a value under its
    innermost group; {} when none is readable."""
    for path in files:
        try:
            text = metadata_bytes(path).decode("utf-8-sig")  # a byte order mark too
        except (OSError, ValueError):
            continue
        suffix = str(path).lower().rsplit(".", 1)[-1]
        groups = {"json": _json_groups, "xml": _xml_groups, "txt": _odl_groups}[suffix](text)
        if groups:
            return groups
    return {}


#: the most bytes an MTL is read of (USGS's are some 10-30 kB)
_LARGEST = 1 << 22


def metadata_bytes(path) -> bytes:
    """The bytes of metadata file ``path`` (an MTL, a Sentinel-2 MTD): a file, or a member
    of a local .tar, .tar.gz or .zip by its GDAL path (/vsitar/scene.tar/..._MTL.json);
    OSError or ValueError otherwise."""
    from geotile.input_paths import local_archive

    text = os.fspath(path)
    archive = local_archive(text) if text.startswith(("/vsitar/", "/vsizip/")) else None
    if archive is None:
        with open(path, "rb") as file:
            return file.read(_LARGEST + 1)[:_LARGEST]
    member = text[text.index(archive) + len(archive):].lstrip("/")
    return _member_bytes(archive, member, *archive_version(archive))


def archive_version(archive: str) -> tuple:
    """(mtime, size) of ``archive``: a re-downloaded one is read again."""
    stat = os.stat(archive)
    return stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=32)
def _member_bytes(archive: str, member: str, *_version) -> bytes:
    """The bytes of ``member`` of the local tar (compressed too) or zip ``archive``, read
    once per version of it; ValueError for a member too large to be an MTL."""
    import tarfile
    import zipfile

    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as opened:
                if opened.getinfo(member).file_size > _LARGEST:
                    raise ValueError(f"{member}: too large for an MTL")
                return opened.read(member)
        with tarfile.open(archive) as opened:
            # GDAL lists ./name (tar -C scene .) as name
            info = next(i for i in opened if re.sub(r"^(?:\./)+", "", i.name) == member)
            extracted = opened.extractfile(info) if info.size <= _LARGEST else None
            if extracted is None:
                raise ValueError(f"{member}: not an MTL file")
            return extracted.read()
    except (KeyError, StopIteration, tarfile.TarError, zipfile.BadZipFile,
            EOFError) as exc:
        raise ValueError(f"{archive}: {exc}") from exc


def _json_groups(text: str) -> dict:
    """:func:`mtl_groups` of an _MTL.json's ``text``."""
    groups: dict[str, dict[str, str]] = {}

    def walk(group, node):
        for key, value in node.items():
            if isinstance(value, dict):
                walk(str(key).upper(), value)
            else:
                groups.setdefault(group, {}).setdefault(str(key).upper(), str(value))

    try:
        document = json.loads(text)
    except ValueError:
        return {}
    if isinstance(document, dict):
        walk("", document)
    return groups


def _xml_groups(text: str) -> dict:
    """:func:`mtl_groups` of an _MTL.xml's ``text``."""
    import xml.etree.ElementTree as ElementTree

    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        return {}
    groups: dict[str, dict[str, str]] = {}
    for group in root.iter():
        for element in group:
            if len(element) == 0 and element.text:
                groups.setdefault(group.tag.upper(), {}).setdefault(
                    element.tag.upper(), element.text.strip())
    return groups


def _odl_groups(text: str) -> dict:
    """:func:`mtl_groups` of an _MTL.txt's ``text`` (ODL: GROUP = NAME ... END_GROUP = NAME,
    KEY = value, strings quoted)."""
    groups: dict[str, dict[str, str]] = {}
    stack: list[str] = []
    for line in text.splitlines():
        key, equals, value = (part.strip() for part in line.partition("="))
        if not equals:
            continue
        if key == "GROUP":
            stack.append(value.upper())
        elif key == "END_GROUP":
            stack = stack[:-1]
        else:
            groups.setdefault(stack[-1] if stack else "", {}).setdefault(
                key.upper(), value.strip('"'))
    return groups


def mtl_declared(src) -> list[tuple] | None:
    """(nodata, scale, offset) of the one band of a Landsat C2 band file ``src`` (its DN:
    uint16; Level-1 of Landsat 1-7 uint8) from the MTL beside it, where the file declares
    no scale or offset; else None."""
    name = str(src.name)
    found = LANDSAT_BAND_FILE.fullmatch(os.path.basename(name))
    if not found:
        return None
    product, band = found.group(1).upper(), found.group(2).upper()
    level2 = "_L2S" in product
    # the product's DN: a copy rescaled to reflectance (float) or 8 bits is not
    dtype = "uint16" if level2 or int(product[2:4]) >= 8 else "uint8"
    local = not name.startswith("/vsi") or name.startswith(("/vsitar/", "/vsizip/"))
    from geotile.output_owners import geotile_output

    if level2 != band.startswith(("SR_", "ST_")) or src.driver != "GTiff" or geotile_output(src) \
            or src.count != 1 or not local or src.dtypes[0] != dtype \
            or (src.scales[0], src.offsets[0]) != (1, 0):
        return None
    files = mtl_files(name)
    groups = mtl_groups(files)
    named = groups.get("PRODUCT_CONTENTS", {}).get("LANDSAT_PRODUCT_ID", product).upper()
    if named != product:
        _warn_other_product(name, files[0], named)
        return None
    found = _level2_values(groups, band) if level2 else _level1_values(groups, band[1:])
    if found is None:
        return None
    nodata = src.nodatavals[0] if src.nodatavals[0] is not None else 0.0
    return [(nodata, *found)]


def _warn_other_product(name: str, mtl, named: str) -> None:
    """Warn that band file ``name``'s MTL is of another product (``named``): not read."""

    from geotile.errors import GeotileWarning

    file, mtl = os.path.basename(name), os.path.basename(os.fspath(mtl))
    advice = (f"its {mtl} is product {named}'s (its LANDSAT_PRODUCT_ID), not this one's: "
              "its scale, offset and fill are not taken; put the product's own MTL beside "
              "it")
    warn(GeotileWarning(f"{file}: {advice}.", about=file, advice=advice))


def _level2_values(groups: dict, band: str) -> tuple | None:
    """(scale, offset) of Level-2 ``band`` (SR_B4, ST_B10) in the MTL's ``groups``."""
    from geotile.sentinel2_safe import finite_number

    kind, number = band.split("_B")
    group, mult, add = _KEYS[kind]
    values = groups.get(group, {})
    scale = finite_number(values.get(mult.format(n=number)))
    offset = finite_number(values.get(add.format(n=number)))
    return (scale, offset) if scale and offset is not None else None


def _level1_values(groups: dict, number: str) -> tuple | None:
    """(scale, offset) of Level-1 band ``number`` (4, 10, 6_VCID_1) in the MTL's
    ``groups``: a reflective band's top-of-atmosphere reflectance corrected for the sun's
    elevation, (DN x REFLECTANCE_MULT + REFLECTANCE_ADD) / sin(SUN_ELEVATION) as the USGS
    defines it (None with the sun at or below the horizon); a thermal band's radiance."""
    import math

    from geotile.sentinel2_safe import finite_number

    values = groups.get("LEVEL1_RADIOMETRIC_RESCALING", {})
    if f"REFLECTANCE_MULT_BAND_{number}" not in values:
        scale = finite_number(values.get(f"RADIANCE_MULT_BAND_{number}"))
        offset = finite_number(values.get(f"RADIANCE_ADD_BAND_{number}"))
        return (scale, offset) if scale and offset is not None else None
    scale = finite_number(values.get(f"REFLECTANCE_MULT_BAND_{number}"))
    offset = finite_number(values.get(f"REFLECTANCE_ADD_BAND_{number}"))
    sun = finite_number(groups.get("IMAGE_ATTRIBUTES", {}).get("SUN_ELEVATION"))
    if not scale or offset is None or sun is None or not 0 < sun <= 90:
        return None
    sine = math.sin(math.radians(sun))
    return scale / sine, offset / sine


def with_mtl_values(src):
    """``src``, or for a Landsat C2 band file whose MTL declares its scale and offset
    (:func:`mtl_declared`) an in-memory VRT of it declaring them (``src`` is closed then)."""
    from geotile.sentinel2_safe import declared_or_as_is

    return declared_or_as_is(src, mtl_declared(src))


#: a Collection 2 QA band file of bit flags: its flags (by bit) and one flag's gdal_calc
_QA_FILE = re.compile(r"L[COTEM]0\d_(?:L2S[PR]|L1(?:TP|GT|GS))_\d{6}_\d{8}_\d{8}_\d{2}_"
                      r"[A-Z0-9]{2}_(QA_PIXEL|QA_RADSAT|SR_QA_AEROSOL|SR_CLOUD_QA)\.TIF",
                      re.IGNORECASE)
_QA_FLAGS = {
    "QA_PIXEL": ("1 dilated cloud, 2 cirrus, 3 cloud, 4 cloud shadow, 5 snow, 6 clear, "
                 "7 water", "(A >> 3) & 1", "cloud.tif for clouds"),
    "QA_RADSAT": ("bit n-1: band n saturated", "(A >> 3) & 1", "saturated.tif for band 4"),
    "SR_QA_AEROSOL": ("1 valid retrieval, 2 water, 5 interpolated, 6-7 aerosol level",
                      "(A >> 6) == 3", "aerosol.tif for high aerosol"),
    "SR_CLOUD_QA": ("1 cloud, 2 cloud shadow, 3 adjacent to cloud, 4 snow, 5 water",
                    "(A >> 1) & 1", "cloud.tif for clouds")}


def refuse_qa_band(src) -> None:
    """InputError when ``src`` is a Landsat QA band (QA_PIXEL, QA_RADSAT, SR_QA_AEROSOL,
    SR_CLOUD_QA) given as classes or regions: its values are bit flags, not class ids."""
    from geotile.errors import InputError

    name = str(src.name)
    found = _QA_FILE.fullmatch(os.path.basename(name))
    if not found:
        return
    band = found.group(1).upper()
    flags, calc, example = _QA_FLAGS[band]
    raise InputError(
        f"{name}: a Landsat {band} band, bit flags ({flags}), not class ids; take the flag "
        f"to learn out as a class raster first (gdal_calc.py -A {os.path.basename(name)} "
        f"--calc '{calc}' --type Byte --outfile {example}) and give that.")
