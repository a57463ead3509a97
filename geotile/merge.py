"""One mosaic of per-image outputs on one pixel grid: a GDAL VRT, or a COG made from it.

`predict` and `make-masks` write one GeoTIFF per image, each on its image's grid; for a
city these are hundreds of files. :func:`merge_rasters` writes a VRT (XML, a few KB,
referencing the files) or a Cloud Optimised GeoTIFF of them. The files must share the
CRS and pixel size and lie on one grid (offsets of whole pixels); otherwise gdalwarp
is the tool.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import rasterio

from geotile.errors import InputError
from geotile.gdal_settings import with_read_settings
from geotile.input_paths import in_name_order
from geotile.masks import IGNORE
from geotile.output_files import atomic_output, check_output, check_writable, pam_sidecar, write_cog
from geotile.raster import open_raster
from geotile.resume import TAG as COMPLETE_TAG

#: what --merge writes, by suffix
MERGE_SUFFIXES = (".vrt", ".tif", ".tiff")
#: GEOTILE_OUTPUT values of rasters whose overviews take the most frequent value
CATEGORICAL_OUTPUTS = ("class", "mask")

_GDAL_TYPES = {"uint8": "Byte", "int8": "Int8", "uint16": "UInt16", "int16": "Int16",
               "uint32": "UInt32", "int32": "Int32", "uint64": "UInt64", "int64": "Int64",
               "float32": "Float32", "float64": "Float64"}


@dataclass
class _Source:
    """What the mosaic needs of one raster."""

    path: str
    col: int  # its place in the mosaic, px
    row: int
    width: int
    height: int
    dtype: str
    block: tuple[int, int]


def check_merge_output(output: str | os.PathLike, others=(), overwrite: bool = False) -> Path:
    """Refuse, before any work, a --merge path that is not .vrt/.tif, is one of ``others``
    (inputs, outputs), exists without ``overwrite`` or lies in a folder not writable."""
    output = Path(output)
    if output.suffix.lower() not in MERGE_SUFFIXES:
        raise InputError(f"{output}: the mosaic is a GDAL VRT (.vrt) or a Cloud Optimised "
                         "GeoTIFF (.tif); name it so.")
    for other in others:
        if not is_local(other):
            continue
        if os.path.abspath(other) == os.path.abspath(output) or (
                Path(other).exists() and output.exists() and os.path.samefile(other, output)):
            raise InputError(f"{output}: the mosaic would replace {other}, one of the inputs "
                             "or outputs. Choose another name.")
    check_output(output, overwrite)
    check_writable(output)
    return output


def is_local(path) -> bool:
    from geotile.input_paths import is_virtual_path

    return not is_virtual_path(path)


@with_read_settings
def merge_rasters(paths, output: str | os.PathLike, overwrite: bool = False,
                  creation_options: dict | None = None) -> Path:
    """Write one mosaic of ``paths`` (rasters on one grid) to ``output``: a VRT (.vrt) or a
    Cloud Optimised GeoTIFF (.tif, compressed as ``creation_options``, --co, say), with the
    band layout and GEOTILE_* tags of the first. Taken in file-name order: where rasters
    overlap the later name wins, whatever order they are given in."""
    from geotile.input_files import path_list

    paths = in_name_order(path_list(paths))
    if not paths:
        raise InputError("no raster to merge.")
    output = check_merge_output(output, paths, overwrite)
    mosaic = check_grid(paths)
    root = _vrt_xml(mosaic, _sources(mosaic, bands=True), output.parent, paths[0])
    if output.suffix.lower() == ".vrt":
        with atomic_output(output, overwrite, verify=_verify_vrt) as tmp:
            _write_xml(root, tmp)
        return output
    return _write_cog(root, output, overwrite, _resampling(paths[0]), creation_options)


def check_grid(paths, bands: bool = True):
    """The :class:`geotile.mosaic.Mosaic` of ``paths``, or one InputError line unless they
    lie on one pixel grid (CRS, pixel size, whole-pixel offsets: ``open_mosaic``, the one
    grid check) and, with ``bands``, share the band count and type."""
    from geotile.mosaic import open_mosaic

    mosaic = open_mosaic(paths, same_bands=bands, alternative="or leave out --merge")
    first = mosaic.transform
    if first.b != 0 or first.d != 0:
        raise InputError(f"{paths[0]}: a rotated grid cannot be merged; reproject or resample "
                         "it first (gdalwarp -tap -tr).")
    return mosaic


def _sources(mosaic, bands: bool) -> list[_Source]:
    """What the VRT needs of each tile; with ``bands``, one InputError line unless they share
    the band type and count (alpha bands too: the VRT takes each of the first's bands from
    every tile, where open_mosaic lets RGB lie beside RGBA)."""
    sources, counts = [], []
    for tile in mosaic.tiles:
        with open_raster(tile.path) as src:
            sources.append(_Source(path=src.name, col=tile.col, row=tile.row,
                                   width=src.width, height=src.height, dtype=src.dtypes[0],
                                   block=tuple(src.block_shapes[0])))
            counts.append(src.count)
    first = sources[0]
    for src, count in zip(sources[1:], counts[1:], strict=True):
        if bands and count != counts[0]:
            fix = " ".join(f"-b {b}" for b in range(1, min(count, counts[0]) + 1))
            raise InputError(f"{src.path}: {count} bands, {Path(first.path).name} has "
                             f"{counts[0]}; merged rasters need the same bands: give them the "
                             f"same (gdal_translate {fix}), or leave out --merge.")
        if bands and src.dtype != first.dtype:
            raise InputError(f"{src.path}: {src.dtype} bands, {first.path} has "
                             f"{first.dtype}; merge outputs of one run.")
    return sources


def _vrt_xml(mosaic, sources: list[_Source], folder: Path, first_path) -> ET.Element:
    """The VRTDataset of the mosaic: the first raster's bands, its tags, one source each."""
    transform = mosaic.transform
    root = ET.Element("VRTDataset", rasterXSize=str(mosaic.width),
                      rasterYSize=str(mosaic.height))
    with rasterio.open(first_path) as first:
        if first.crs is not None:
            ET.SubElement(root, "SRS").text = first.crs.to_wkt()
        ET.SubElement(root, "GeoTransform").text = ", ".join(
            repr(v) for v in transform.to_gdal())
        # PixelIsPoint tiles (their outputs keep it): the mosaic too, else a reader taking
        # the tie point as written puts it half a pixel off them
        _metadata(root, {k: v for k, v in first.tags().items()
                         if (k.startswith("GEOTILE_") and k != COMPLETE_TAG)
                         or (k == "AREA_OR_POINT" and v.lower() == "point")})
        pam = _pam_bands(first_path)
        # what no tile covers (gaps) is nodata: a mask's ignore value where masks declare
        # none (255: never a class), else a mask band from the tiles' own masks
        mask = first.tags().get("GEOTILE_OUTPUT") == "mask"
        nodatas = [v if v is not None or not mask else IGNORE for v in first.nodatavals]
        for band in range(1, first.count + 1):
            element = _band(root, first, band, pam.get(str(band)), nodatas[band - 1])
            for src in sources:
                _source(element, src, band, folder, first.nodatavals[band - 1])
        if all(v is None for v in nodatas):
            _mask_band(root, sources, folder)
    return root


def _mask_band(root: ET.Element, sources: list[_Source], folder: Path) -> None:
    """The mosaic's mask: valid where some tile's own mask (its mask band, or all valid) is,
    0 where no tile is (a uint8 probability's 0 and 255 are values, so gaps cannot be a
    nodata value). A tile's masked pixels see through (NODATA 0), as in the bands."""
    band = ET.SubElement(ET.SubElement(root, "MaskBand"), "VRTRasterBand", dataType="Byte")
    for src in sources:
        element = ET.SubElement(band, "ComplexSource")
        name, relative = _source_name(src.path, folder)
        ET.SubElement(element, "SourceFilename", relativeToVRT=relative).text = name
        ET.SubElement(element, "SourceBand").text = "mask,1"
        ET.SubElement(element, "SrcRect", xOff="0", yOff="0", xSize=str(src.width),
                      ySize=str(src.height))
        ET.SubElement(element, "DstRect", xOff=str(src.col), yOff=str(src.row),
                      xSize=str(src.width), ySize=str(src.height))
        ET.SubElement(element, "NODATA").text = "0"


def _metadata(parent: ET.Element, tags: dict) -> None:
    if tags:
        metadata = ET.SubElement(parent, "Metadata")
        for key, value in tags.items():
            ET.SubElement(metadata, "MDI", key=key).text = value


def _band(root: ET.Element, src, band: int, pam: ET.Element | None, nodata) -> ET.Element:
    """A VRTRasterBand with the band's type, ``nodata``, description, colours, scale, offset
    and category names."""
    element = ET.SubElement(root, "VRTRasterBand", dataType=_GDAL_TYPES[src.dtypes[band - 1]],
                            band=str(band))
    description = src.descriptions[band - 1]
    if description:
        ET.SubElement(element, "Description").text = description
    _metadata(element, src.tags(band))
    if nodata is not None:
        ET.SubElement(element, "NoDataValue").text = repr(float(nodata))
    ET.SubElement(element, "ColorInterp").text = src.colorinterp[band - 1].name.capitalize()
    if src.scales[band - 1] != 1 or src.offsets[band - 1] != 0:
        ET.SubElement(element, "Offset").text = repr(src.offsets[band - 1])
        ET.SubElement(element, "Scale").text = repr(src.scales[band - 1])
    _colour_table(element, src, band)
    for name in ("CategoryNames", "GDALRasterAttributeTable"):
        found = pam.find(name) if pam is not None else None
        if found is not None:
            element.append(found)
    return element


def _colour_table(element: ET.Element, src, band: int) -> None:
    try:
        colours = src.colormap(band)
    except ValueError:  # no colour table
        return
    table = ET.SubElement(element, "ColorTable")
    for value in range(max(colours) + 1):
        rgba = colours.get(value, (0, 0, 0, 0))
        ET.SubElement(table, "Entry", c1=str(rgba[0]), c2=str(rgba[1]), c3=str(rgba[2]),
                      c4=str(rgba[3]))


def _pam_bands(path) -> dict[str, ET.Element]:
    """The PAMRasterBand elements of a raster's sidecar (category names...), by band."""
    sidecar = pam_sidecar(path)
    if not is_local(path) or not sidecar.exists():
        return {}
    return {e.get("band"): e for e in ET.parse(sidecar).getroot().findall("PAMRasterBand")}


def _source(band: ET.Element, src: _Source, index: int, folder: Path, nodata) -> None:
    """One ComplexSource of ``src`` whose nodata pixels see through: those equal to
    ``nodata``, or, without one (uint8 probabilities), those its mask band masks
    (UseMaskBand, GDAL >= 3.9), so that a later tile's collar leaves an earlier tile's
    data in place. A SimpleSource would paint its whole rectangle."""
    element = ET.SubElement(band, "ComplexSource")
    name, relative = _source_name(src.path, folder)
    ET.SubElement(element, "SourceFilename", relativeToVRT=relative).text = name
    ET.SubElement(element, "SourceBand").text = str(index)
    ET.SubElement(element, "SourceProperties", RasterXSize=str(src.width),
                  RasterYSize=str(src.height), DataType=_GDAL_TYPES[src.dtype],
                  BlockXSize=str(src.block[1]), BlockYSize=str(src.block[0]))
    ET.SubElement(element, "SrcRect", xOff="0", yOff="0", xSize=str(src.width),
                  ySize=str(src.height))
    ET.SubElement(element, "DstRect", xOff=str(src.col), yOff=str(src.row),
                  xSize=str(src.width), ySize=str(src.height))
    if nodata is not None:
        ET.SubElement(element, "NODATA").text = repr(float(nodata))
    else:
        _check_mask_band_support(src.path)
        ET.SubElement(element, "UseMaskBand").text = "true"


def _check_mask_band_support(path: str) -> None:
    """InputError on a GDAL older than 3.9, which ignores a VRT source's UseMaskBand (each
    tile would paint its nodata over its neighbours' data in the mosaic)."""
    import rasterio

    version = tuple(int(p) for p in rasterio.__gdal_version__.split(".")[:2])
    if version < (3, 9):
        raise InputError(f"{path}: a mosaic of outputs without a nodata value (uint8 "
                         f"probabilities, masked) needs GDAL 3.9 or later, and rasterio here "
                         f"has GDAL {rasterio.__gdal_version__}. Upgrade rasterio (its 1.4 "
                         "wheels bring GDAL 3.9+) or write float32 outputs (--dtype float32).")


def _source_name(path: str, folder: Path) -> tuple[str, str]:
    """The path written in the VRT: relative to its folder when the file lies under it."""
    if not is_local(path):
        return path, "0"
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(os.path.abspath(folder)).as_posix(), "1"
    except ValueError:
        return absolute.as_posix(), "0"


def _write_xml(root: ET.Element, path: Path) -> None:
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8")


def _verify_vrt(tmp: Path, final: Path) -> None:
    """The VRT opens and every source is found (a wrong relative path fails here)."""
    with rasterio.open(tmp) as vrt:
        vrt.read(1, window=((0, 1), (0, 1)))


def _resampling(path) -> str:
    """Overviews: the most frequent value of class and mask rasters, else the mean."""
    with rasterio.open(path) as src:
        return "mode" if src.tags().get("GEOTILE_OUTPUT") in CATEGORICAL_OUTPUTS else "average"


def _write_cog(root: ET.Element, output: Path, overwrite: bool, resampling: str,
               creation_options: dict | None = None) -> Path:
    """The COG of the VRT ``root``, written atomically (the VRT lives beside it meanwhile,
    so that its relative paths hold, named as the temporary COG's companion: a killed run's
    is one that --resume removes, geotile.output_files.remove_temporaries)."""
    with atomic_output(output, overwrite) as tmp:
        vrt = tmp.with_name(f"{tmp.name}.merge.vrt")
        try:
            _write_xml(root, vrt)
            write_cog(vrt, tmp, creation_options, overview_resampling=resampling)
        finally:
            vrt.unlink(missing_ok=True)
            pam_sidecar(vrt).unlink(missing_ok=True)
    return output
