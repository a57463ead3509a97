"""STAC Items of imagery read as rasters: ``geotile predict model.onnx S2A_.../item.json``.

A local Item (a GeoJSON Feature with ``stac_version`` and ``assets``; a label Item is
labels, :mod:`geotile.stac_labels`) whose bands are separate files (Sentinel-2's B02.tif,
B03.tif...; Landsat's "red", "nir08"... as ``stac-asset download`` or the Planetary
Computer leave them) is opened as one virtual stack (an in-memory GDAL VRT) of its raster
data assets:

- an asset is a band asset when it is a raster (its media type ``image/tiff``,
  ``image/jp2``..., else its file suffix) that describes its bands (``eo:bands``, STAC 1.1
  ``bands``) and whose roles are not a thumbnail's, overview's, visual's, metadata's or a
  mask's (``cloud``, ``snow-ice``...); assets without band objects (SCL, AOT, WVP) are
  left out. Where the same band is in a GeoTIFF and a JPEG 2000 asset (Earth Search's
  ``red`` and ``red-jp2``), the GeoTIFF is read; an asset of several bands that other
  assets hold one each (a true-colour ``visual`` of roles ``data``) is left out.
- one band per asset band, in the item's asset order, each described by its band's
  ``name`` (else its common name, else the asset's key), its ``common_name`` (STAC 1.1:
  ``eo:common_name``) a band tag ``STAC_COMMON_NAME`` (red, green and blue also a colour
  interpretation); ``--bands B04,B03,B02`` or ``red,green,blue`` picks them by name, as do
  an MLM item's band names beside the model.
- what the item declares of a band's values (the raster extension's ``raster:bands``, STAC
  1.1's band objects: ``scale``, ``offset``, ``nodata``) is the stack band's GDAL scale,
  offset (else the asset file's own) and nodata (where the file declares none), its pixels
  unchanged: predict feeds pixels as they are, as for any raster declaring a scale, and its
  warning names them. Sentinel-2 L2A since processing baseline 04.00 is reflectance = DN x
  0.0001 - 0.1 (BOA_ADD_OFFSET -1000), Landsat C2 L2 DN x 0.0000275 - 0.2: a model trained
  on reflectance wants ``--scale`` and a ``--mean`` shifted by the offset. A Sentinel-2
  item's reflectance bands declare what their pixels hold where its catalog's raster:bands
  do not (Earth Search's offset applied, the Planetary Computer's none declared:
  :mod:`geotile.sentinel2_items`).
- the stack is on the finest asset's grid; coarser bands (Sentinel-2's 20 m and 60 m) are
  resampled to it by nearest neighbour (a 20 m pixel becomes 2 x 2 pixels of 10 m). Assets
  in different CRSs, or covering different extents, are refused in one line.
- hrefs are relative to the item; remote ones (http(s)://, s3://, gs://, az://) are read
  through GDAL's /vsicurl/, /vsis3/, /vsigs/, /vsiaz/ (one that cannot be read: one line
  naming the asset).
- outputs in a folder are named after the item's ``id``, not "item.tif".
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from urllib.parse import unquote, urlparse

from geotile.crs_identity import one_crs
from geotile.errors import InputError

#: roles of assets that are not bands of the image
OTHER_ROLES = frozenset({"thumbnail", "overview", "visual", "metadata", "cloud", "cloud-shadow",
                         "snow-ice", "water-mask", "land-water", "data-mask", "saturation",
                         "mask", "labels", "labels-raster", "labels-vector", "iso-19139",
                         "graphic"})
#: raster media types (their start, lower case)
RASTER_MEDIA = ("image/tiff", "image/vnd.stac.geotiff", "image/jp2", "application/x-hdf",
                "application/x-netcdf", "image/png")
RASTER_SUFFIXES = (".tif", ".tiff", ".jp2", ".vrt", ".img")
#: URL schemes -> GDAL's prefixes
REMOTE_PREFIXES = {"http": "/vsicurl/", "https": "/vsicurl/", "s3": "/vsis3/", "gs": "/vsigs/",
                   "az": "/vsiaz/", "abfs": "/vsiaz/"}
#: common names that are a colour interpretation
COLOURS = {"red": "Red", "green": "Green", "blue": "Blue"}


def is_item_json(path) -> bool:
    """Whether ``path`` names a .json file at all (cheap: no reading)."""
    return os.fspath(path).lower().endswith((".json", ".geojson"))


def image_item(path) -> dict | None:
    """The parsed STAC Item of imagery at local ``path`` (a .json or .geojson file with
    ``stac_version``, type Feature and ``assets``, not a label item), else None."""
    from geotile.stac_labels import is_label_item, stac_document

    if path is None:  # a virtual or remote path is no local file: stac_document says None
        return None
    document = stac_document(path)
    if document is None or document.get("type") != "Feature" or is_label_item(document) \
            or not isinstance(document.get("assets"), dict):
        return None
    return document


def item_stem(path) -> str | None:
    """The name an output of the Item at ``path`` takes (its id, as a file name), else None."""
    document = image_item(path)
    if document is None:
        return None
    ident = str(document.get("id") or "").strip()
    ident = "".join("_" if c in '/\\:*?"<>|' or ord(c) < 32 else c for c in ident)
    return ident or Path(os.fspath(path)).stem


def folder_items(folder: Path) -> list[Path]:
    """The Items of imagery in ``folder`` and in its folders one level down (a downloaded
    search: an item's JSON beside its assets), sorted by path; [] when none."""
    found = []
    for place in [folder, *sorted(p for p in folder.iterdir()
                                  if p.is_dir() and not p.name.startswith("."))]:
        try:
            names = sorted(place.iterdir())
        except OSError:
            continue
        found += [p for p in names if p.suffix.lower() in (".json", ".geojson")
                  and not p.name.startswith(".") and p.is_file() and image_item(p) is not None]
    return found


def asset_path(href: str, item) -> str:
    """GDAL's path of an asset ``href``: relative to the ``item``'s folder, a file:// URL as
    its file, a remote URL through /vsicurl/ (/vsis3/, /vsigs/, /vsiaz/)."""
    if href.startswith("/vsi"):
        return href
    url = urlparse(href)
    scheme = url.scheme.lower()
    if scheme in REMOTE_PREFIXES:
        if REMOTE_PREFIXES[scheme] == "/vsicurl/":
            return f"/vsicurl/{href}"
        return f"{REMOTE_PREFIXES[scheme]}{url.netloc}{url.path}"
    if scheme == "file":
        return unquote(url.path)
    folder = Path(os.fspath(item)).resolve().parent
    return os.path.normpath(folder / unquote(href))


def _is_raster(asset: dict) -> bool:
    media = str(asset.get("type") or "").lower()
    if media:
        return media.startswith(RASTER_MEDIA) or "geotiff" in media
    return str(asset.get("href")).split("?")[0].lower().endswith(RASTER_SUFFIXES)


def _band_objects(asset: dict, properties: dict) -> list[dict]:
    """The asset's band objects (STAC 1.1 ``bands``, ``eo:bands``; STAC 0.9's indices into
    the item's ``eo:bands`` resolved), those naming a band."""
    listed = asset.get("bands") if isinstance(asset.get("bands"), list) else asset.get("eo:bands")
    if not isinstance(listed, list):
        return []
    shared = properties.get("eo:bands") if isinstance(properties.get("eo:bands"), list) else []
    objects = []
    for band in listed:
        if isinstance(band, int) and 0 <= band < len(shared):
            band = shared[band]
        if not isinstance(band, dict):
            return []
        objects.append(band)
    return objects if any(_common(b) or isinstance(b.get("name"), str) for b in objects) else []


def _common(band: dict) -> str | None:
    common = band.get("common_name", band.get("eo:common_name"))
    return common.strip() if isinstance(common, str) and common.strip() else None


def band_assets(document: dict, path) -> list[tuple[str, dict, list[dict]]]:
    """(key, asset, band objects) of the Item's band assets (see the module docstring), in
    its order; InputError naming ``path`` and its assets when it has none."""
    properties = document.get("properties") if isinstance(document.get("properties"),
                                                          dict) else {}
    found = []
    for key, asset in document["assets"].items():
        if not isinstance(asset, dict) or not isinstance(asset.get("href"), str):
            continue
        roles = set(asset.get("roles") or []) if isinstance(asset.get("roles"), list) else set()
        bands = _band_objects(asset, properties)
        if bands and _is_raster(asset) and not (roles & OTHER_ROLES and "data" not in roles):
            found.append((key, asset, bands))
    tiffs = {_name(b, k) for k, a, bands in found if _is_tiff(a) for b in bands}
    found = [(k, a, bands) for k, a, bands in found
             if _is_tiff(a) or not {_name(b, k) for b in bands} <= tiffs]
    found = [(k, a, bands) for k, a, bands in found if not _composite(k, bands, found)]
    if not found:
        listed = ", ".join(map(str, document["assets"])) or "none"
        raise InputError(f"{path}: a STAC Item with no raster data assets describing their "
                         f"bands (eo:bands or bands; its assets: {listed}); give the image "
                         "file itself.")
    return found


def _composite(key: str, bands: list[dict], found: list) -> bool:
    """Whether the asset ``key`` of several ``bands`` repeats bands that other assets of
    ``found`` hold one each (a true-colour 'visual' of roles ["data"] beside B04, B03, B02):
    left out, or every band of it would be in the stack twice."""
    if len(bands) < 2:
        return False
    singles = {_name(b, k) for k, _, others in found if k != key and len(others) == 1
               for b in others}
    return {_name(b, key) for b in bands} <= singles


def _is_tiff(asset: dict) -> bool:
    media = str(asset.get("type") or "").lower()
    return "tiff" in media or (not media and asset["href"].split("?")[0].lower().endswith(
        (".tif", ".tiff")))


def _name(band: dict, key: str) -> str:
    name = band.get("name")
    return name.strip() if isinstance(name, str) and name.strip() else (_common(band) or key)


def _raster_band(asset: dict, band: dict, index: int) -> dict:
    """What the item declares of the asset's ``index``-th band's values: STAC 1.1's band
    object itself (scale, offset, nodata), else the raster extension's ``raster:bands``."""
    listed = asset.get("raster:bands")
    if any(k in band for k in ("scale", "offset", "nodata")) or not isinstance(listed, list):
        return band
    return listed[index] if index < len(listed) and isinstance(listed[index], dict) else {}


def _number(value) -> float | None:
    """A finite JSON number (not a bool), else None."""
    import math

    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _open_asset(key: str, gdal_path: str, item, open_raster):
    """The asset's raster, opened by ``open_raster`` (:func:`geotile.raster.open_raster`);
    InputError naming the item and the asset otherwise (an asset that is a STAC Item itself:
    a stack of stacks, or one of itself)."""
    if is_item_json(gdal_path) and not gdal_path.startswith("/vsi") \
            and image_item(gdal_path) is not None:
        raise InputError(f"{item}: asset {key!r} ({gdal_path}) is a STAC Item, not a raster; "
                         "point its href at the band's image file.")
    try:
        return open_raster(gdal_path)
    except InputError as exc:
        text = str(exc).splitlines()[0] if str(exc) else "not readable"
        text = text.removeprefix(f"{gdal_path}: ")
        raise InputError(f"{item}: asset {key!r} ({gdal_path}): {text}") from None


def _crs_name(crs) -> str:
    if crs is None:
        return "none"
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_string()[:60]


def stack_xml(path, open_raster) -> str:
    """The VRT (XML) stacking the band assets of the Item at ``path`` on its finest grid,
    each asset opened by ``open_raster`` (a GDAL path -> dataset)."""
    from xml.sax.saxutils import escape

    from rasterio.dtypes import _gdal_typename

    from geotile.sentinel2_bands import offset_known
    from geotile.sentinel2_items import decides as s2_decides
    from geotile.sentinel2_items import declared_values as s2_declared

    document = image_item(path)
    if document is None:
        raise InputError(f"{path}: not a STAC Item of imagery.")
    chosen = band_assets(document, path)
    opened = []
    try:
        for key, asset, bands in chosen:
            gdal_path = asset_path(asset["href"], path)
            with offset_known() if s2_decides(document) else contextlib.nullcontext():
                src = _open_asset(key, gdal_path, path, open_raster)
            opened.append((key, gdal_path, bands, src))
            if len(bands) != src.count:
                raise InputError(f"{path}: asset {key!r} lists {len(bands)} bands but its "
                                 f"file {Path(gdal_path).name} has {src.count}; fix the item's "
                                 "eo:bands, or give the file itself.")
        asset_of = {key: asset for key, asset, _ in chosen}
        first = opened[0]
        other = next((o for o in opened if not one_crs(o[3].crs, first[3].crs)), None)
        if other is not None:
            raise InputError(
                f"{path}: its assets are in different CRSs ({first[0]}: "
                f"{_crs_name(first[3].crs)}, {other[0]}: {_crs_name(other[3].crs)}); warp "
                "them to one (gdalwarp -t_srs) and give their stack, or predict each CRS's "
                "bands on their own.")
        fine = min((o[3] for o in opened),  # the first of the smallest pixels
                   key=lambda src: abs(src.transform.a * src.transform.e))
        grid = fine.transform
        bands_xml = []
        for key, gdal_path, bands, src in opened:
            t = src.transform
            if src.transform != grid and (t.b or t.d or grid.b or grid.d):
                raise InputError(f"{path}: asset {key!r} is on a rotated grid unlike the "
                                 "others; give the bands as one file.")
            left = (t.c - grid.c) / grid.a
            top = (t.f - grid.f) / grid.e
            width = src.width * t.a / grid.a
            height = src.height * t.e / grid.e
            if max(abs(left), abs(top), abs(width - fine.width),
                   abs(height - fine.height)) > 0.5:
                raise InputError(
                    f"{path}: asset {key!r} covers another extent than the others "
                    f"({src.width} x {src.height} px of {abs(t.a):g}, origin {t.c:.10g}, "
                    f"{t.f:.10g}; the stack {fine.width} x {fine.height} px of "
                    f"{abs(grid.a):g}, origin {grid.c:.10g}, {grid.f:.10g}); give the "
                    "assets of one extent, or clip them to it (gdalwarp -te).")
            for index, band in enumerate(bands, start=1):
                name, common = _name(band, key), _common(band)
                declared = s2_declared(document, [name, common, key],
                                       _raster_band(asset_of[key], band, index - 1),
                                       src.dtypes[index - 1])
                nodata = src.nodatavals[index - 1]
                if nodata is None and _number(declared.get("nodata")) is not None:
                    nodata = _number(declared.get("nodata"))
                scale = _number(declared.get("scale")) or src.scales[index - 1]
                offset = _number(declared.get("offset"))
                offset = src.offsets[index - 1] if offset is None else offset
                scaling = (f"<Offset>{offset!r}</Offset><Scale>{scale!r}</Scale>"
                           if (scale, offset) != (1, 0) else "")
                interp = COLOURS.get((common or "").lower(), "Undefined")
                tags = (f'<Metadata><MDI key="STAC_COMMON_NAME">{escape(common)}</MDI>'
                        f'<MDI key="STAC_ASSET">{escape(key)}</MDI></Metadata>' if common else
                        f'<Metadata><MDI key="STAC_ASSET">{escape(key)}</MDI></Metadata>')
                nodata_xml = f"<NoDataValue>{nodata!r}</NoDataValue>" \
                    if nodata is not None else ""
                bands_xml.append(
                    f'<VRTRasterBand dataType="{_gdal_typename(src.dtypes[index - 1])}" '
                    f'band="{len(bands_xml) + 1}"><Description>{escape(name)}</Description>'
                    f"{tags}{nodata_xml}<ColorInterp>{interp}</ColorInterp>{scaling}"
                    f'<SimpleSource resampling="nearest"><SourceFilename relativeToVRT="0">'
                    f"{escape(gdal_path)}</SourceFilename><SourceBand>{index}</SourceBand>"
                    f'<SrcRect xOff="0" yOff="0" xSize="{src.width}" ySize="{src.height}"/>'
                    f'<DstRect xOff="0" yOff="0" xSize="{fine.width}" ySize="{fine.height}"/>'
                    "</SimpleSource></VRTRasterBand>")
        georef = f"<SRS>{escape(fine.crs.to_wkt())}</SRS>" if fine.crs is not None else ""
        if not grid.is_identity:
            georef += f"<GeoTransform>{', '.join(map(repr, grid.to_gdal()))}</GeoTransform>"
        return (f'<VRTDataset rasterXSize="{fine.width}" rasterYSize="{fine.height}">'
                f"{georef}{''.join(bands_xml)}</VRTDataset>")
    finally:
        for *_, src in opened:
            src.close()


#: (item path, its mtime and size, its local assets' path, size and mtime) -> the
#: MemoryFile of its stack, which must stay open while a dataset reads it (a few kB each)
_STACKS: dict = {}
_STACKS_LOCK = threading.Lock()


def open_item(path, open_raster):
    """The Item of imagery at ``path`` as a rasterio dataset (an in-memory VRT named
    ``<id>.vrt``; ``open_raster`` opens its assets: :func:`geotile.raster.open_raster`, which
    asks this module, not the other way round); InputError in one line when its assets
    cannot be stacked."""
    from rasterio.io import MemoryFile

    from geotile.input_paths import identity, input_path, mtl_files
    from geotile.quiet_warnings import quietly
    from geotile.sentinel2_bands import metadata_files

    info = os.stat(path)
    # assets made again, or their product's MTL or MTD: read again
    read = [f for band in item_files(input_path(path))
            for f in (band, *mtl_files(band), *metadata_files(band))]
    key = (os.path.realpath(path), info.st_mtime_ns, info.st_size,
           *(tuple(identity(f)) for f in read))
    with _STACKS_LOCK:
        memory = _STACKS.get(key)
    if memory is None:
        xml = stack_xml(path, open_raster)
        memory = MemoryFile(xml.encode(), filename=f"{item_stem(path)}.vrt")
        with _STACKS_LOCK:
            _STACKS[key] = memory
    return quietly(memory.open)


def item_files(path) -> list:
    """The local files of the Item at ``path``'s band assets (inputs an output must never
    replace); [] when it is none, or its assets cannot be listed."""
    document = image_item(path)
    if document is None:
        return []
    try:
        chosen = band_assets(document, path)
    except InputError:
        return []
    paths = (asset_path(a["href"], path) for _, a, _ in chosen)
    return [Path(p) for p in paths if not p.startswith("/vsi")]



