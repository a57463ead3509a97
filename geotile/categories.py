"""Class colours and category names of label rasters: the class palette, a raster's
colour table and category names (its attribute table or GDAL's category list) read and
written."""

from __future__ import annotations

import os
from pathlib import Path

from rasterio._err import CPLE_BaseError
from rasterio.errors import RasterioError

from geotile.input_paths import ARCHIVE_PREFIXES, ogr_path
from geotile.output_files import pam_sidecar

#: colours of class ids 0, 1, 2... (0 transparent), for colour tables and attribute tables
CLASS_PALETTE = [(0, 0, 0, 0), (230, 25, 75, 255), (60, 180, 75, 255), (255, 225, 25, 255),
                 (0, 130, 200, 255), (245, 130, 48, 255), (145, 30, 180, 255),
                 (70, 240, 240, 255), (240, 50, 230, 255), (210, 245, 60, 255),
                 (250, 190, 212, 255)]


def class_colours(count: int, names=None) -> dict[int, tuple[int, int, int, int]]:
    """Distinct colours of class ids 0..count-1 (up to 65536): :data:`CLASS_PALETTE`, then
    generated ones; id 0 is transparent black unless ``names`` name it a class
    (:func:`~geotile.class_keys.zero_is_background`), which then takes a colour too."""
    from geotile.class_keys import zero_is_background

    shift = 0 if zero_is_background(names) else 1
    colours = _distinct_colours(count + shift)
    return {i: colours[i + shift] for i in range(count)}


def _distinct_colours(count: int) -> list[tuple[int, int, int, int]]:
    """:data:`CLASS_PALETTE` followed by colours spread over hue (golden angle), saturation
    and value, each different from all before it."""
    import colorsys

    colours = list(CLASS_PALETTE[:count])
    seen = {c[:3] for c in colours}
    step = 0
    while len(colours) < count:
        hue = (step * 0.6180339887) % 1.0
        saturation, value = (0.9, 0.6, 0.75)[step % 3], (0.95, 0.7, 0.5, 0.85)[step // 3 % 4]
        rgb = tuple(round(255 * c) for c in colorsys.hsv_to_rgb(hue, saturation, value))
        step += 1
        while rgb in seen:  # past the spread's distinct colours: the next free one
            code = (rgb[0] << 16 | rgb[1] << 8 | rgb[2]) + 7919
            rgb = (code >> 16 & 255, code >> 8 & 255, code & 255)
        seen.add(rgb)
        colours.append((*rgb, 255))
    return colours


def read_categories(src, band: int = 1) -> list[str] | None:
    """The category names of ``band`` of an open raster, as GDAL reads them from any format
    (gdalinfo's "Categories:": a PAM sidecar, a VRT, an ENVI header's class names), else
    the name column of its raster attribute table (ArcGIS' .aux.xml, an ERDAS .img), else
    ArcGIS' ``.vat.dbf`` beside it (band 1), by value; None when it has none. Unnamed
    values are "" (GDAL's empty categories)."""
    import xml.etree.ElementTree as ET

    from rasterio.io import MemoryFile
    from rasterio.shutil import copy

    if not (os.path.isfile(str(src.name)) or str(src.name).startswith(ARCHIVE_PREFIXES)):
        return None  # remote or in memory: not looked up
    try:  # GDAL writes what it reads into a VRT's XML (no pixels are copied)
        with MemoryFile(ext=".vrt") as memory:
            copy(src, memory.name, driver="VRT")
            root = ET.fromstring(memory.read())
    except (RasterioError, CPLE_BaseError, OSError, ET.ParseError):
        return None
    element = root.find(f"VRTRasterBand[@band='{band}']")
    if element is None:
        return None
    categories = element.find("CategoryNames")
    if categories is not None:
        names = [(c.text or "").strip() for c in categories.findall("Category")]
    else:
        names = _attribute_table_names(element.find("GDALRasterAttributeTable"))
    if not names and band == 1:
        names = _vat_names(Path(str(src.name)))
    while names and not names[-1]:
        names.pop()
    return names or None


#: names of a raster attribute table's column of class names (lower case, no "_") when its
#: usage is not GDAL's Name (ArcGIS writes ClassName as a generic field)
_NAME_COLUMNS = frozenset({"classname", "classnames", "class", "name", "label", "category"})


def _attribute_table_names(table) -> list[str]:
    """Names by value of a GDAL raster attribute table's XML: its Name column (usage 2, else
    a string column named like :data:`_NAME_COLUMNS`), each row's value from its MinMax or
    Min column (usage 5, 3, or named Value), else Row0Min + row x BinSize."""
    if table is None:
        return []
    fields = [(f.findtext("Name", "").strip(), f.findtext("Type", ""), f.findtext("Usage", ""))
              for f in table.findall("FieldDefn")]
    name = next((i for i, f in enumerate(fields) if f[2] == "2"), None)
    if name is None:
        name = next((i for i, f in enumerate(fields) if f[1] == "2"
                     and f[0].lower().replace("_", "") in _NAME_COLUMNS), None)
    value = next((i for i, f in enumerate(fields) if f[2] in ("5", "3")),
                 next((i for i, f in enumerate(fields) if f[0].lower() == "value"), None))
    if name is None:
        return []
    start, size = float(table.get("Row0Min", 0)), float(table.get("BinSize", 1))
    pairs = []
    for index, row in enumerate(table.findall("Row")):
        cells = [c.text or "" for c in row.findall("F")]
        if name >= len(cells):
            return []
        pairs.append((cells[value] if value is not None and value < len(cells) else
                      None if value is not None else start + index * size, cells[name]))
    return _names_by_value(pairs)


def _names_by_value(pairs) -> list[str]:
    """Names listed by value from (value, name) ``pairs`` of a table; [] where a value is no
    class id (0..65535, whole; NaN, text and None neither)."""
    named = {}
    for number, text in pairs:
        try:
            number = float(number)
        except (TypeError, ValueError):
            return []
        if not 0 <= number <= 65535 or number != int(number):
            return []  # no class ids
        named[int(number)] = str(text or "").strip()
    names = [""] * (max(named, default=-1) + 1)
    for number, text in named.items():
        names[number] = text
    return names


def _vat_names(path: Path) -> list[str]:
    """Names by value from the ESRI value attribute table beside ``path``
    (``<raster>.vat.dbf``: Value and a column named like :data:`_NAME_COLUMNS`, ArcGIS'
    ClassName or Class_Name), which GDAL reads from 3.11 only; [] without a readable one."""
    table = path.with_name(path.name + ".vat.dbf")
    try:
        if not table.is_file():
            return []
    except OSError:  # a raster named near 255 bytes: no room for a table's name beside it
        return []
    import pyogrio  # here: 0.5 s of imports (pandas) for the rasters without a table

    try:
        meta, _, _, columns = pyogrio.raw.read(ogr_path(table), read_geometry=False)
    except Exception:  # pyogrio raises several types: an unreadable table names nothing
        return []
    fields = [str(f) for f in meta["fields"]]
    value = next((i for i, f in enumerate(fields) if f.lower() == "value"), None)
    name = next((i for i, f in enumerate(fields) if f.lower().replace("_", "") in _NAME_COLUMNS
                 and columns[i].dtype == object), None)
    if value is None or name is None:
        return []
    return _names_by_value(zip(columns[value], columns[name], strict=True))


def write_categories(
    path: str | os.PathLike,
    names: list[str],
    colours: dict[int, tuple[int, ...]] | None = None,
    band: int = 1,
) -> Path:
    """Name the values 0..N-1 of ``band`` in the PAM sidecar of ``path`` (GeoTIFF cannot hold
    them): ``<CategoryNames>`` (gdalinfo's "Categories:") and a thematic raster attribute
    table (value, class, colour) for QGIS. A sidecar GDAL already wrote is kept and merged.
    """
    import xml.etree.ElementTree as ET

    sidecar = pam_sidecar(path)
    root = ET.parse(sidecar).getroot() if sidecar.exists() else ET.Element("PAMDataset")
    element = root.find(f"PAMRasterBand[@band='{band}']")
    if element is None:
        element = ET.SubElement(root, "PAMRasterBand", band=str(band))
    for old in element.findall("CategoryNames") + element.findall("GDALRasterAttributeTable"):
        element.remove(old)
    categories = ET.SubElement(element, "CategoryNames")
    for name in names:
        ET.SubElement(categories, "Category").text = name
    rat = ET.SubElement(element, "GDALRasterAttributeTable", tableType="thematic")
    # field types: 0 integer, 2 string; usages: 5 MinMax (value), 2 Name, 6-9 R, G, B, A
    fields = [("Value", 0, 5), ("Class", 2, 2)]
    if colours is not None:
        fields += [("Red", 0, 6), ("Green", 0, 7), ("Blue", 0, 8), ("Alpha", 0, 9)]
    for index, (field_name, kind, usage) in enumerate(fields):
        definition = ET.SubElement(rat, "FieldDefn", index=str(index))
        ET.SubElement(definition, "Name").text = field_name
        ET.SubElement(definition, "Type").text = str(kind)
        ET.SubElement(definition, "Usage").text = str(usage)
    for value, name in enumerate(names):
        row = ET.SubElement(rat, "Row", index=str(value))
        cells = [str(value), name]
        if colours is not None:
            rgba = tuple(colours.get(value, (0, 0, 0, 255)))
            cells += [str(c) for c in (*rgba[:3], rgba[3] if len(rgba) > 3 else 255)]
        for cell in cells:
            ET.SubElement(row, "F").text = cell
    ET.indent(root)
    partial = sidecar.with_name(sidecar.name + ".part")
    try:
        ET.ElementTree(root).write(partial, encoding="utf-8", xml_declaration=False)
        os.replace(partial, sidecar)
    finally:
        partial.unlink(missing_ok=True)
    return sidecar


def paletted(src) -> bool:
    """Whether ``src``'s band 1 holds colour-table indices (a paletted PNG, GIF or TIFF)."""
    from rasterio.enums import ColorInterp

    return src.colorinterp[0] == ColorInterp.palette


def grey_palette(src) -> bool:
    """Whether a paletted ``src``'s colour table holds grey levels only (red = green = blue)."""
    return all(r == g == b for r, g, b, _ in src.colormap(1).values())
