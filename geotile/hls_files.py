"""NASA HLS v2.0 band files (``HLS.S30.T10SEG.2023240T184919.v2.0.B04.tif``, ``HLS.L30...``)
as LP DAAC delivers them: int16 surface reflectance of scale 0.0001 and fill -9999, which
some files declare only in their band metadata (``scale_factor``, ``add_offset``,
``_FillValue``, netCDF's names), not as GDAL's scale, offset or nodata. Such a file is
read through a VRT declaring them, pixels unchanged (as :mod:`geotile.landsat_mtl` does),
so that predict's warning names ``--scale 0.0001`` and the fill is nodata. The angle bands
(SZA, VZA...) declare 0.01 the same way; Fmask declares no scale. What a file declares
itself is kept; a copy of another type (float reflectance, 8 bits) under the name declares
nothing.
"""

from __future__ import annotations

import os
import re

#: an HLS v2.0 band file: product (S30 Sentinel-2, L30 Landsat), tile, time, band
HLS_FILE = re.compile(r"HLS\.[SL]30\.T\d{2}[A-Z]{3}\.\d{7}T\d{6}\.v2\.0\.\w+\.tiff?",
                      re.IGNORECASE)


def hls_declared(src) -> list[tuple] | None:
    """(nodata, scale, offset) of the one band of an HLS v2.0 file ``src`` from its band
    metadata, where GDAL's own declare none; None when nothing is to be added."""
    from geotile.sentinel2_safe import finite_number

    name = os.path.basename(str(src.name))
    # the product's types: Fmask uint8, the others 16-bit (an 8-bit copy is not its DN)
    fmask = name.lower().endswith((".fmask.tif", ".fmask.tiff"))
    from geotile.output_owners import geotile_output

    if not HLS_FILE.fullmatch(name) or src.count != 1 or geotile_output(src) \
            or src.dtypes[0] not in (("uint8",) if fmask else ("int16", "uint16")):
        return None
    tags = src.tags(1)
    own = (src.nodatavals[0], src.scales[0], src.offsets[0])
    nodata, scale, offset = own
    if nodata is None:
        nodata = finite_number(tags.get("_FillValue"))
    if (scale, offset) == (1, 0) and finite_number(tags.get("scale_factor")):
        scale = finite_number(tags.get("scale_factor"))
        offset = finite_number(tags.get("add_offset")) or 0.0
    return None if (nodata, scale, offset) == own else [(nodata, scale, offset)]


def with_hls_values(src):
    """``src``, or for an HLS v2.0 file whose band metadata declares values GDAL's do not
    (:func:`hls_declared`) an in-memory VRT of it declaring them (``src`` is closed then)."""
    from geotile.sentinel2_safe import declared_or_as_is

    return declared_or_as_is(src, hls_declared(src))


def refuse_fmask(src) -> None:
    """InputError when ``src`` is an HLS Fmask given as classes (labels, a mask, a truth):
    its values are bit flags (64: clear, aerosol low; 66: cloud), not class ids."""
    from geotile.errors import InputError

    name = str(src.name)
    found = HLS_FILE.fullmatch(os.path.basename(name))
    if not found or os.path.basename(name).lower().rsplit(".", 2)[-2] != "fmask":
        return
    raise InputError(
        f"{name}: an HLS Fmask, bit flags (1 cloud, 2 adjacent to cloud or shadow, 3 cloud "
        "shadow, 4 snow/ice, 5 water, 6-7 aerosol level), not class ids; take the flag to "
        f"learn out as a class raster first (gdal_calc.py -A {os.path.basename(name)} "
        "--calc '(A >> 1) & 1' --NoDataValue 255 --type Byte --outfile cloud.tif for "
        "clouds) and give that.")


def refuse_band_file(src, source, model_name: str, channels: int) -> None:
    """ModelError when ``src`` (named ``source``) is an HLS band file given to a model of
    ``channels`` channels: one band of its scene, which ``--bands 1,1,1`` would repeat; the
    advice stacks the scene's band files in the model's order."""
    from geotile.errors import ModelError

    name = os.path.basename(str(source))
    if not HLS_FILE.fullmatch(name) or src.count != 1 or channels < 2:
        return
    scene, band = name.rsplit(".", 2)[:2]
    files = [f"{scene}.{b}.tif" for b in ("B04", "B03", "B02")] if channels == 3 \
        else [name, "..."]
    nodata = src.nodatavals[0]
    fill = "" if nodata is None else f"-srcnodata {nodata:g} -vrtnodata {nodata:g} "
    scale = f" with --scale {src.scales[0]:g}" if src.scales[0] != 1 else ""
    raise ModelError(
        f"{source}: one band of an HLS scene ({band}), but {model_name} takes {channels} "
        "channels; stack the scene's band files in the model's order first (gdalbuildvrt "
        f"-separate {fill}{scene}.vrt {' '.join(files)}) and give that{scale}.")
