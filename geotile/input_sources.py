"""The files an input is read from (a VRT's sources, a STAC Item's assets, a product's
metadata, a subdataset's file) and the refusal of an output that is one of them.

It asks the product readers (:mod:`geotile.stac_images`, :mod:`geotile.sentinel2_bands`,
:mod:`geotile.tile_indexes`, :mod:`geotile.parquet_datasets`), so it sits above them;
the path and name logic it uses is :mod:`geotile.input_paths`'.
"""

from __future__ import annotations

import os
from pathlib import Path

import rasterio
from rasterio._err import CPLE_BaseError
from rasterio.errors import RasterioError

from geotile.errors import InputError
from geotile.input_paths import (
    ARCHIVE_PREFIXES,
    file_keys,
    input_path,
    is_mosaic_file,
    local_archive,
    mtl_files,
    output_folders,
    shapefile_parts,
    subdataset_file,
)
from geotile.quiet_warnings import quietly


def files_read(path, _seen: frozenset = frozenset()) -> list:
    """``path`` and, for a VRT, a GTI index or a vendor's product file (:func:`is_mosaic_file`:
    a .TIL, a DIMAP), the files GDAL reads it from (tiles, .IMD, .RPB; which an output must never
    replace either), through VRTs of VRTs: GDAL lists a VRT's own sources only; for
    a Shapefile, its other files (:func:`shapefile_parts`); for a Parquet dataset folder,
    its part files; for a subdataset, those GDAL reads it from; for a Landsat band file,
    its product's MTL."""
    if subdataset_file(path):  # NETCDF:"scene.nc":sst reads scene.nc (a SAFE: its bands')
        read = [input_path(path), *files_read(subdataset_file(path), _seen)]
        return [*read, *(f for f in _subdataset_files(path) if f not in read)]
    path = input_path(path)
    if str(path).startswith(ARCHIVE_PREFIXES):  # /vsizip/a.zip/x.tif reads a.zip
        archive = local_archive(str(path))
        return [path, Path(archive)] if archive else [path]
    if isinstance(path, Path) and path.suffix.lower() in (".json", ".geojson"):
        from geotile.sentinel2_bands import metadata_files
        from geotile.stac_images import item_files

        return [path, *(f for band in item_files(path)  # a STAC Item's band files too
                        for f in (band, *mtl_files(band), *metadata_files(band)))]
    if isinstance(path, Path) and path.suffix.lower() == ".shp":
        return [path, *shapefile_parts(path)]  # its fields (.dbf) and CRS (.prj) too
    from geotile.parquet_datasets import dataset_files

    if isinstance(path, Path) and (parts := dataset_files(path)):
        return [path, *parts]  # a folder of Parquet parts (Overture's release): each part
    if not (isinstance(path, Path) and is_mosaic_file(path) and path.is_file()):
        from geotile.sentinel2_bands import metadata_files  # a Sentinel-2 band file's MTD

        return [path, *(mtl_files(path) + metadata_files(path)
                        if isinstance(path, Path) else ())]
    try:
        with rasterio.open(path) as src:
            files = src.files
            if src.driver == "GTI":  # it lists the index alone
                from geotile.tile_indexes import index_tiles

                files = [*files, *map(str, index_tiles(path))]
    except RasterioError:  # not readable: its own checks say so later
        return [path]
    seen = _seen | {os.path.realpath(path)}
    found = [path]
    for name in files:
        if name.startswith("/vsi") or os.path.realpath(name) in seen:
            continue
        found += files_read(Path(name), seen)
    return found


def _subdataset_files(name) -> list:
    """The local files GDAL reads the subdataset ``name`` from (a SAFE's MTD_TL.xml and
    band files), [] when it does not open."""
    try:
        with quietly(rasterio.open, os.fspath(name)) as src:
            files = src.files
    except RasterioError:
        return []
    return [Path(f) for f in files if not f.startswith("/vsi")]


def refuse_overwriting_inputs(outputs, inputs, more: dict | None = None) -> None:
    """InputError, before any work, when an output is one of ``inputs`` (paths, None
    skipped) or a file a VRT among them reads, or when two outputs are one file. Files
    are compared as files (through '..', symbolic and hard links); overwrite never allows
    either. ``more``: the :func:`input_sources` of more inputs, computed once for many
    calls."""
    sources = {**(more or {}), **input_sources(inputs, output_folders(outputs))}
    written: dict = {}
    for out in outputs:
        out = Path(out)
        keys = file_keys(out)
        source = next((sources[k] for k in keys if k in sources), None)
        if source is not None:
            read, given = source
            what = f"the input {given}" if read == given else f"read by the input {given}"
            raise InputError(f"{out}: this output is {what}; geotile never writes over its "
                             "inputs. Choose another output name or folder.")
        earlier = next((written[k] for k in keys if k in written), None)
        if earlier is not None:
            same = "" if str(earlier) == str(out) else f" (as {earlier})"
            raise InputError(f"{out}: given twice as an output{same}; the second would "
                             "replace the first. Give each input its own output name.")
        written.update(dict.fromkeys(keys, out))


def input_sources(inputs, beside=frozenset()) -> dict:
    """``{file key: (file read, input given)}`` of every file ``inputs`` (None skipped) are
    read from (:func:`file_keys`), for :func:`refuse_overwriting_inputs`; of an input in one
    of the folders ``beside`` (:func:`output_folders`), every file GDAL reads with it."""
    sources: dict = {}  # each file read, by its keys: linear in the inputs
    for given in inputs:
        if given is None:
            continue
        path = input_path(given)
        extra = (_gdal_file_list(path) if isinstance(path, Path)
                 and os.path.realpath(path.parent) in beside else [])
        for read in [*files_read(given), *extra]:
            for key in file_keys(read):
                sources.setdefault(key, (read, given))
    return sources


def _gdal_file_list(path: Path) -> list[Path]:
    """The local files GDAL reads ``path`` from (its header, .prj, sidecars); none when it is
    no raster GDAL opens."""
    try:
        with quietly(rasterio.open, path) as src:
            return [Path(f) for f in src.files if not f.startswith("/vsi")]
    except (RasterioError, CPLE_BaseError):
        return []
