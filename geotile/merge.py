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
from affine import Affine

from geotile.errors import InputError
from geotile.raster import atomic_output, check_output, open_raster, pam_sidecar, write_cog
from geotile.resume import TAG as COMPLETE_TAG

#: what --merge writes, by suffix
MERGE_SUFFIXES = (".vrt", ".tif", ".tiff")
#: GEOTILE_OUTPUT values of rasters whose overviews take the most frequent value
CATEGORICAL_OUTPUTS = ("class", "mask")
#: alignment tolerance, in pixels
_TOLERANCE = 1e-6

_GDAL_TYPES = {"uint8": "Byte", "int8": "Int8", "uint16": "UInt16", "int16": "Int16",
               "uint32": "UInt32", "int32": "Int32", "uint64": "UInt64", "int64": "Int64",
               "float32": "Float32", "float64": "Float64"}


@dataclass
class _Source:
    """What the mosaic needs of one raster."""

    path: str
    crs: object
    transform: Affine
    width: int
    height: int
    count: int
    dtype: str
    block: tuple[int, int]


def check_merge_output(output: str | os.PathLike, others=(), overwrite: bool = False) -> Path:
    """Refuse, before any work, a --merge path that is not .vrt/.tif, is one of ``others``
    (inputs, outputs) or exists without ``overwrite``."""
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
    return output


def written_by_geotile(path: str | os.PathLike) -> bool:
    """True for an existing mosaic geotile wrote (a raster with a GEOTILE_OUTPUT tag)."""
    try:
        with rasterio.open(path) as src:
            return "GEOTILE_OUTPUT" in src.tags()
    except rasterio.errors.RasterioError:
        return False


def is_local(path) -> bool:
    from geotile.raster import is_virtual_path

    return not is_virtual_path(path)


def merge_rasters(paths, output: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write one mosaic of ``paths`` (rasters on one grid) to ``output``: a VRT (.vrt) or a
    Cloud Optimised GeoTIFF (.tif), with the band layout and GEOTILE_* tags of the first."""
    if not paths:
        raise InputError("no raster to merge.")
    output = check_merge_output(output, paths, overwrite)
    sources = check_grid(paths)
    root = _vrt_xml(sources, output.parent, paths[0])
    if output.suffix.lower() == ".vrt":
        with atomic_output(output, overwrite, verify=_verify_vrt) as tmp:
            _write_xml(root, tmp)
        return output
    return _write_cog(root, output, overwrite, _resampling(paths[0]))


def check_grid(paths, bands: bool = True) -> list[_Source]:
    """Raise one InputError line unless ``paths`` lie on one pixel grid (CRS, pixel size,
    whole-pixel offsets) and, with ``bands``, share the band count and type; their
    descriptions otherwise."""
    sources = [_open_describe(p) for p in paths]
    _check_grid(sources, bands)
    return sources


def _open_describe(path) -> _Source:
    with open_raster(path) as src:
        return _describe(src)


def _describe(src) -> _Source:
    return _Source(path=src.name, crs=src.crs, transform=src.transform, width=src.width,
                   height=src.height, count=src.count, dtype=src.dtypes[0],
                   block=tuple(src.block_shapes[0]))


def _check_grid(sources: list[_Source], bands: bool = True) -> None:
    """One line unless every source shares the CRS, pixel size and pixel grid of the first."""
    first = sources[0]
    fix = "reproject or resample them onto one grid first (gdalwarp -tap -tr)"
    t0 = first.transform
    if t0.b != 0 or t0.d != 0:
        raise InputError(f"{first.path}: a rotated grid cannot be merged; {fix}.")
    for src in sources[1:]:
        t = src.transform
        if src.crs != first.crs:
            raise InputError(f"{src.path}: CRS {src.crs} differs from {first.crs} of "
                             f"{first.path}; {fix}.")
        if not all(abs(a - b) <= _TOLERANCE * abs(b) for a, b in
                   zip((t.a, t.b, t.d, t.e), (t0.a, t0.b, t0.d, t0.e), strict=True)):
            raise InputError(f"{src.path}: pixel size {abs(t.a):g} x {abs(t.e):g} differs from "
                             f"{abs(t0.a):g} x {abs(t0.e):g} of {first.path}; {fix}.")
        if not _aligned(t, t0):
            raise InputError(f"{src.path}: not aligned with {first.path} (offset of a "
                             f"fraction of a pixel); {fix}.")
        if bands and (src.count, src.dtype) != (first.count, first.dtype):
            raise InputError(f"{src.path}: {src.count} {src.dtype} bands, {first.path} has "
                             f"{first.count} {first.dtype}; merge outputs of one run.")


def _aligned(t: Affine, t0: Affine) -> bool:
    col, row = ~t0 * (t.c, t.f)
    return abs(col - round(col)) <= _TOLERANCE and abs(row - round(row)) <= _TOLERANCE


def _offsets(sources: list[_Source]) -> tuple[Affine, int, int, list[tuple[int, int]]]:
    """The mosaic's transform and size, and each source's pixel offset in it."""
    t0 = sources[0].transform
    corners = [tuple(round(v) for v in ~t0 * (s.transform.c, s.transform.f)) for s in sources]
    left = min(c for c, _ in corners)
    top = min(r for _, r in corners)
    right = max(c + s.width for (c, _), s in zip(corners, sources, strict=True))
    bottom = max(r + s.height for (_, r), s in zip(corners, sources, strict=True))
    transform = t0 * Affine.translation(left, top)
    return transform, right - left, bottom - top, [(c - left, r - top) for c, r in corners]


def _vrt_xml(sources: list[_Source], folder: Path, first_path) -> ET.Element:
    """The VRTDataset of the mosaic: the first raster's bands, its tags, one source each."""
    transform, width, height, offsets = _offsets(sources)
    root = ET.Element("VRTDataset", rasterXSize=str(width), rasterYSize=str(height))
    with rasterio.open(first_path) as first:
        if first.crs is not None:
            ET.SubElement(root, "SRS").text = first.crs.to_wkt()
        ET.SubElement(root, "GeoTransform").text = ", ".join(
            repr(v) for v in transform.to_gdal())
        _metadata(root, {k: v for k, v in first.tags().items()
                         if k.startswith("GEOTILE_") and k != COMPLETE_TAG})
        pam = _pam_bands(first_path)
        for band in range(1, first.count + 1):
            element = _band(root, first, band, pam.get(str(band)))
            for src, offset in zip(sources, offsets, strict=True):
                _source(element, src, band, offset, folder, first.nodatavals[band - 1])
    return root


def _metadata(parent: ET.Element, tags: dict) -> None:
    if tags:
        metadata = ET.SubElement(parent, "Metadata")
        for key, value in tags.items():
            ET.SubElement(metadata, "MDI", key=key).text = value


def _band(root: ET.Element, src, band: int, pam: ET.Element | None) -> ET.Element:
    """A VRTRasterBand with the band's type, nodata, description, colours, scale, offset and
    category names."""
    element = ET.SubElement(root, "VRTRasterBand", dataType=_GDAL_TYPES[src.dtypes[band - 1]],
                            band=str(band))
    description = src.descriptions[band - 1]
    if description:
        ET.SubElement(element, "Description").text = description
    _metadata(element, src.tags(band))
    nodata = src.nodatavals[band - 1]
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


def _source(band: ET.Element, src: _Source, index: int, offset: tuple[int, int],
            folder: Path, nodata) -> None:
    """One ComplexSource (nodata pixels see through) or SimpleSource of ``src``."""
    element = ET.SubElement(band, "ComplexSource" if nodata is not None else "SimpleSource")
    name, relative = _source_name(src.path, folder)
    ET.SubElement(element, "SourceFilename", relativeToVRT=relative).text = name
    ET.SubElement(element, "SourceBand").text = str(index)
    ET.SubElement(element, "SourceProperties", RasterXSize=str(src.width),
                  RasterYSize=str(src.height), DataType=_GDAL_TYPES[src.dtype],
                  BlockXSize=str(src.block[1]), BlockYSize=str(src.block[0]))
    ET.SubElement(element, "SrcRect", xOff="0", yOff="0", xSize=str(src.width),
                  ySize=str(src.height))
    ET.SubElement(element, "DstRect", xOff=str(offset[0]), yOff=str(offset[1]),
                  xSize=str(src.width), ySize=str(src.height))
    if nodata is not None:
        ET.SubElement(element, "NODATA").text = repr(float(nodata))


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


def _write_cog(root: ET.Element, output: Path, overwrite: bool, resampling: str) -> Path:
    """The COG of the VRT ``root``, written atomically (the VRT lives beside it meanwhile,
    so that its relative paths hold)."""
    vrt = output.with_name(f".{output.stem}.{os.getpid()}.merge.vrt")
    try:
        with atomic_output(output, overwrite) as tmp:
            _write_xml(root, vrt)
            write_cog(vrt, tmp, overview_resampling=resampling)
    finally:
        vrt.unlink(missing_ok=True)
        pam_sidecar(vrt).unlink(missing_ok=True)
    return output
