"""Input arguments that name many rasters: a folder (its raster files) or a glob pattern.

A city arrives as a folder of hundreds of orthotiles, more than a shell command line holds:
``geotile predict model.onnx city/`` or ``'city/*.tif'`` (quoted) is expanded here.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path, PurePosixPath

from geotile.errors import InputError
from geotile.input_paths import (
    ARCHIVE_PREFIXES,
    gdal_archive_path,
    input_path,
    is_product_file,
    is_virtual_path,
    is_virtual_subdataset,
    local_path,
    product_quicklooks,
)
from geotile.sidecars import is_sidecar

#: file suffixes taken from a folder (case-insensitive)
RASTER_SUFFIXES = (".tif", ".tiff", ".jp2", ".vrt", ".img", ".png", ".jpg", ".jpeg")
#: vector files taken from a folder (evaluate's folders, make-masks' label folders; xBD's
#: label files are .json)
VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".parquet", ".geoparquet", ".fgb",
                   ".kml", ".gml", ".osm", ".pbf")
#: suffixes of the files (and .gdb folders) that one image's labels may come in, beyond
#: :data:`VECTOR_SUFFIXES`: those GDAL reads as one file (KMZ, GeoJSONSeq, GPX, MapInfo,
#: TopoJSON, File Geodatabase folders); x.geojson.gz and a .zip holding a Shapefile too
#: (:func:`is_label_file`). A CSV never: in a label folder it is a
#: summary (SpaceNet's) or a list far more often than one tile's labels.
CONTAINER_SUFFIXES = (".kmz", ".geojsonl", ".geojsons", ".gpx", ".tab", ".topojson")
#: suffixes of the data file of a raster its .hdr describes (ENVI's, EHdr's), or none
HEADER_DATA_SUFFIXES = ("", ".dat", ".raw", ".bin", ".bil", ".bip", ".bsq", ".flt", ".envi")


def is_label_file(path: Path) -> bool:
    """Whether ``path`` (an entry of a folder) is one image's vector labels: a file of a
    vector suffix or of :data:`CONTAINER_SUFFIXES`, one of them gzipped (x.geojson.gz), a
    .zip holding a Shapefile (x.zip, x.shp.zip; a zip of images is not), a .gdb folder.
    Side-cars (a Shapefile's .dbf, .shx, .prj; a MapInfo file's .dat, .map, .id) are not."""
    name = path.name.lower()
    if name.startswith("."):
        return False
    if path.is_dir():
        return name.endswith(".gdb")
    if not path.is_file():
        return False
    suffix = path.suffix.lower()
    if suffix == ".gz":
        suffix = Path(name[:-3]).suffix
        return suffix in VECTOR_SUFFIXES + CONTAINER_SUFFIXES
    if suffix == ".zip":
        return _holds_shapefile(path)
    return suffix in VECTOR_SUFFIXES + CONTAINER_SUFFIXES


def _holds_shapefile(path: Path) -> bool:
    """Whether the zip ``path`` holds a Shapefile (Mac's __MACOSX/ copies aside)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False
    return any(n.lower().endswith(".shp") and not n.startswith("__MACOSX/")
               and not n.rpartition("/")[2].startswith("._") for n in names)


def raster_files(files, suffixes: tuple[str, ...] = RASTER_SUFFIXES) -> list[Path]:
    """Of ``files`` (of one folder), the rasters: those ending in one of ``suffixes``, and
    the data files of a header beside them (ENVI's ``scene.dat`` or ``scene`` with
    ``scene.hdr``, EHdr's ``.bil``); side-cars never (:func:`is_sidecar`)."""
    files = [Path(f) for f in files]
    wanted = tuple(x.lower() for x in suffixes)
    headers = {f.name.lower() for f in files if f.suffix.lower() == ".hdr"}
    return [f for f in files if not is_sidecar(f) and (
        f.suffix.lower() in wanted or (f.suffix.lower() in HEADER_DATA_SUFFIXES and not
                                       headers.isdisjoint({f"{f.stem}.hdr".lower(),
                                                           f"{f.name}.hdr".lower()})))]


def _file_or_dangling(path: Path) -> bool:
    """A file, or a symbolic link to nothing (a moved file, an unmounted volume): a missing
    input to report, never to leave out."""
    return path.is_file() or (path.is_symlink() and not path.exists())


def _folder_files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """The rasters of ``folder`` (not recursing: :func:`raster_files`), sorted by name;
    hidden ones (macOS ``._x.tif``, geotile's own ``.x.<hex>.tmp.tif`` of a killed run)
    are no input, as a shell's ``*`` leaves them out. A dangling link is kept: the commands
    say "no such file", as for the shell's expansion."""
    wanted = tuple(s.lower() for s in suffixes)
    entries = [p for p in folder.iterdir() if not p.name.startswith(".")]  # listed once
    files = sorted(raster_files((p for p in entries if _file_or_dangling(p)), suffixes),
                   key=lambda p: p.name)
    if ".tif" in wanted:
        files = _without_side_rasters(_products_for_tiles(entries, files))
    if not files:
        from geotile.sentinel2_safe import safe_folder_advice

        if advice := safe_folder_advice(folder):
            raise InputError(f"{folder}: {advice}.")
        archives = sorted(p.name for p in folder.iterdir() if _archive_prefix(p))
        deeper = _folders_of_rasters(folder, wanted)
        fix = (f"give its archives themselves ({', '.join(archives[:3])}"
               f"{' ...' if archives[3:] else ''}): geotile reads the rasters inside"
               if archives else f"its folder{'s' if deeper[1:] else ''} "
               f"{', '.join(deeper[:3])}{f' and {len(deeper) - 3} more' if deeper[3:] else ''}"
               f" hold{'' if deeper[1:] else 's'} them (a delivery's products, as a Maxar "
               "order's _MUL and _PAN): give those you want" if deeper else "Check the path")
        raise InputError(f"{folder}: the folder holds no raster files "
                         f"({' '.join(wanted)}); {fix}.")
    return files


def _folders_of_rasters(folder: Path, suffixes: tuple[str, ...]) -> list[str]:
    """The names of ``folder``'s folders (not hidden) holding rasters or a vendor's product
    file, sorted; one level down only."""
    found = []
    for sub in sorted(folder.iterdir(), key=lambda p: p.name):
        if sub.name.startswith(".") or not sub.is_dir():
            continue
        try:
            names = [p for p in sub.iterdir() if not p.name.startswith(".")]
        except OSError:
            continue
        if raster_files(names, suffixes) or any(is_product_file(p) for p in names):
            found.append(sub.name)
    return found


def _products_for_tiles(entries: list[Path], files: list[Path]) -> list[Path]:
    """``files`` with the tiles that a vendor's product file among ``entries`` (a folder's
    listing, hidden names left out) lists (Maxar's .TIL, Airbus' DIM_*.XML:
    :func:`geotile.input_paths.is_product_file`) replaced by that file, which GDAL reads
    as their scene (its mosaic, its metadata), sorted by name; a
    product file GDAL cannot open leaves the folder's rasters as they are. A VRT of the
    folder reading a product file (the collar advice's ``<stem>_nodata.vrt``) replaces it
    in turn."""
    from geotile.input_sources import files_read

    products = sorted((p for p in entries if is_product_file(p) and p.is_file()),
                      key=lambda p: p.name)
    if not products:
        return files
    through_vrts = {os.path.realpath(f) for vrt in files if vrt.suffix.lower() == ".vrt"
                    for f in files_read(vrt)[1:] if is_product_file(f)}
    listed: set[str] = set()
    for product in products:
        read = files_read(product)
        if len(read) > 1:  # it opened: GDAL listed its tiles (its quick-looks: none)
            looks = product_quicklooks(product)
            listed |= {os.path.realpath(f) for f in read[1:]} | {
                os.path.realpath(f) for f in files if f.name.lower() in looks}
            if os.path.realpath(product) not in through_vrts:
                files.append(product)
        elif _recognised_unreadable(product):  # a tile missing: the commands say which
            files.append(product)
    return sorted((f for f in files if os.path.realpath(f) not in listed), key=lambda p: p.name)


def _recognised_unreadable(product) -> bool:
    """Whether GDAL takes ``product`` for a product file but cannot open it (a tile it
    lists is missing), not for a file of another kind (a text .til, a DIM_notes.xml)."""
    import rasterio
    from rasterio.errors import RasterioError

    from geotile.quiet_warnings import quietly

    try:
        with quietly(rasterio.open, product):
            return False
    except RasterioError as exc:
        return "not recognized as being in a supported file format" not in str(exc)


def _without_side_rasters(files: list) -> list:
    """``files`` (of a folder, local or in an archive) without the rasters that describe
    another image among them: Planet's udm/udm2, HyP3 RTC's layover, incidence, browse, DEM
    and area rasters (:func:`geotile.sar_files.without_hyp3_side_rasters`)."""
    from geotile.sar_files import without_hyp3_side_rasters

    return without_hyp3_side_rasters(_without_planet_udms(files))


def _without_planet_udms(files: list) -> list:
    """``files`` (of a folder, local or in an archive) without the Planet udm/udm2 rasters
    (:func:`geotile.planet_files.udm_scene`) whose scene's image is among them: the flags
    of that image's pixels (clear, cloud, unusable), never an image of their own. One
    given by name or by a pattern is read as any raster."""
    from geotile.planet_files import image_scenes, udm_scene

    udms = {f: scene for f in files if (scene := udm_scene(f))}
    if not udms:
        return files
    scenes = {s for f in files if f not in udms for s in image_scenes(f)}
    alone = {f: None for f, scene in udms.items() if scene not in scenes}
    for udm in alone:
        _refuse_udm_alone(udm, udms[udm])
    return [f for f in files if f not in udms or f in alone]


def _refuse_udm_alone(udm, scene: str) -> None:
    """InputError for a folder's Planet udm/udm2 (uint8 flags: 8 bands, or udm's 1) whose
    scene's image is not beside it: read as an image, its flags would be predicted or
    patched (exit 0 for a model of as many channels). Another raster so named passes."""
    import rasterio
    from rasterio.errors import RasterioError

    from geotile.quiet_warnings import quietly

    try:
        with quietly(rasterio.open, udm) as src:
            flags = src.count in (1, 8) and set(src.dtypes) == {"uint8"}
    except RasterioError:
        return  # not readable: the commands say so
    if flags:
        name, parent = input_path(udm).name, PurePosixPath(os.fspath(udm)).parent
        raise InputError(f"{udm}: a Planet usable-data mask (udm: pixel flags of a scene, "
                         f"no image) whose image ({name[:len(scene)]}_*) is not in {parent}; "
                         "put the scene's image beside it, or move the udm out of the folder.")


#: a downloaded archive's suffix -> GDAL's prefix for the files inside it
LOCAL_ARCHIVES = ((".tar.gz", "/vsitar/"), (".tgz", "/vsitar/"), (".tar", "/vsitar/"),
                  (".zip", "/vsizip/"), (".7z", "/vsi7z/"), (".rar", "/vsirar/"),
                  (".gz", "/vsigzip/"))


def _archive_prefix(path: Path) -> str | None:
    """GDAL's prefix for reading inside the local archive file ``path``, or None."""
    name = path.name.lower()
    if not path.is_file():
        return None
    return next((prefix for suffix, prefix in LOCAL_ARCHIVES if name.endswith(suffix)), None)


def _pattern_files(pattern: str) -> list[Path]:
    """The files matching a glob ``pattern``, sorted; ``**`` is any depth, none included
    (as in bash's globstar, zsh and pathlib); dangling links kept, as in a folder."""
    files = [local_path(p) for p in sorted(glob.glob(pattern, recursive=True))
             if _file_or_dangling(Path(p))]
    if not files:
        raise InputError(f"{pattern}: no file matches this pattern. Check the path.")
    return files


def _archive_listing(folder: str) -> list[str] | None:
    """The paths of every entry under ``folder`` inside an archive (GDAL lists it), or None
    when it is no folder there (a member file, a missing archive: opening it says so)."""
    from pyogrio import vsi_listtree

    try:
        return [p.rstrip("/") for p in vsi_listtree(folder.rstrip("/"))]
    except (OSError, ValueError, RuntimeError):
        return None


def _archive_files(text: str, suffixes: tuple[str, ...]) -> list | None:
    """The rasters of a folder inside an archive (``/vsizip/a.zip/top``, not recursing) or
    of a pattern there (``/vsizip/a.zip/top/*.tif``), sorted; None when ``text`` is neither
    (one member, given as is)."""
    import fnmatch

    parts = text.rstrip("/").split("/")
    magic = next((i for i, part in enumerate(parts) if glob.has_magic(part)), None)
    if magic is None and PurePosixPath(parts[-1]).suffix.lower() in suffixes:
        return None  # a member, as given (listing a .tar.gz would read all of it)
    root = "/".join(parts if magic is None else parts[:magic])
    listing = _archive_listing(root)
    if listing is None:
        return None
    depth = len(parts) if magic is not None else len(parts) + 1
    matches = [p for p in listing if len(p.split("/")) == depth and all(
        fnmatch.fnmatchcase(a, b) for a, b in zip(p.split("/"), parts, strict=False))]
    names = [p.rsplit("/", 1)[-1] for p in matches]  # as text: a Path would collapse "//"
    wanted = {f.name for f in raster_files((n for n in names if not n.startswith(".")),
                                           suffixes)}
    files = sorted((name, p) for name, p in zip(names, matches, strict=True) if name in wanted)
    if magic is None:  # a vendor's product file there stands for its tiles, as in a folder
        files = _archive_products([(n, p) for n, p in zip(names, matches, strict=True)
                                   if is_product_file(n) and not n.startswith(".")], files)
    if not files:
        what = "folder holds no raster files" if magic is None else "pattern matches no raster"
        deeper = sorted({p.rsplit("/", 1)[0] for p in listing if raster_files(
            [p.rsplit("/", 1)[-1]], suffixes)})
        fix = (f"its rasters are in {deeper[0]}{' and other folders' if deeper[1:] else ''}:"
               " give that path" if deeper and magic is None else "Check the path")
        raise InputError(f"{text}: the {what} ({' '.join(suffixes)}) in the archive; {fix}.")
    found = [input_path(p) for _, p in files]
    return _without_side_rasters(found) if magic is None and ".tif" in suffixes else found


def _archive_products(products: list[tuple], files: list[tuple]) -> list[tuple]:
    """``files`` ((name, path) of an archive's folder) with the tiles that a product file
    among ``products`` lists replaced by it (:func:`_products_for_tiles`: GDAL lists them,
    as paths in the archive), sorted; one GDAL cannot open leaves them as they are (kept
    itself when GDAL took it for a product: a tile missing)."""
    import rasterio
    from rasterio.errors import RasterioError

    from geotile.quiet_warnings import quietly

    listed: set[str] = set()
    for name, product in products:
        try:
            with quietly(rasterio.open, product) as src:
                read = src.files[1:]
        except RasterioError as exc:  # recognised, a tile missing: the commands say which
            if "not recognized as being in a supported file format" not in str(exc):
                files.append((name, product))
            continue
        if read:
            looks = product_quicklooks(name)
            listed |= set(read) | {p for n, p in files if n.lower() in looks}
            files.append((name, product))
    return sorted(f for f in files if f[1] not in listed)


def expand_one(path: str | os.PathLike, suffixes: tuple[str, ...] = RASTER_SUFFIXES,
               stac_items: bool = False) -> list:
    """One argument as a list of inputs: a folder's raster files, a pattern's matches, a
    local archive's rasters (tiles.zip, x.tar.gz, scene.tif.gz, read in place), or the
    argument itself (a file, a GDAL virtual or remote path). ``stac_items``: a folder holding
    STAC Items of imagery (or folders of them, one level down) is its Items
    (:func:`geotile.stac_images.folder_items`)."""
    text = gdal_archive_path(os.fspath(path))
    if text.startswith(ARCHIVE_PREFIXES):
        return _archive_files(text, suffixes) or [input_path(text)]
    if is_virtual_path(text):
        refuse_remote_listing(text)
        return [input_path(text)]
    if is_virtual_subdataset(text):  # SENTINEL2_L2A:/vsizip//abs/S2A_....SAFE.zip/...
        return [input_path(text)]
    from geotile.zarr_stores import zarr_refusal

    if refusal := zarr_refusal(text):  # a folder of chunks, or ZARR:"cube.zarr":/ndvi
        raise InputError(refusal)
    local = local_path(text)
    if local.is_dir():
        if stac_items:  # a downloaded search: its items, not their bands
            from geotile.stac_images import folder_items

            if found := folder_items(local):
                return found
        return _folder_files(local, suffixes)
    if not local.exists() and glob.has_magic(text):
        return [item for match in _pattern_files(text) for item in (
            expand_one(match, suffixes) if _archive_prefix(match) else [match])]
    if (inside := in_place(local)) is not local:  # a download as it came: the rasters inside
        from geotile.sentinel2_safe import safe_archive_advice

        if advice := safe_archive_advice(local):
            raise InputError(f"{local}: {advice}.")
        return expand_one(inside, suffixes)
    return [local]


def refuse_remote_listing(text: str) -> None:
    """InputError for a remote folder (``https://host/tiles/``) or pattern
    (``s3://bucket/tiles/*.tif``; a signed URL's query is no pattern, brackets are an IPv6
    host's or a file name's): geotile lists only local folders and archives."""
    where = text.split("?", 1)[0]
    if where.endswith("/") or "*" in where:
        raise InputError(f"{text}: a remote folder or pattern cannot be listed here; give "
                         "each file's URL (or download the files and give their folder).")


def in_place(path):
    """A local archive file (tiles.zip, x.tar.gz, scene.tif.gz) as GDAL's path reading it in
    place (``/vsizip//abs/tiles.zip``); any other path as it is."""
    if isinstance(path, Path) and (prefix := _archive_prefix(path)):
        return input_path(f"{prefix}{path.resolve()}")
    return path


class Inputs(list):
    """The expanded inputs; ``folders``: the (resolved) folders that a folder or pattern
    argument read, where a run's own outputs must not go (a later run would read them)."""

    folders: frozenset = frozenset()
    #: each input that a folder or pattern argument brought in -> that argument
    listed: dict


def path_list(paths) -> list:
    """A list of paths from a list, or from one path (a string is one path, not letters)."""
    if isinstance(paths, str | bytes | os.PathLike):
        return [paths]
    return list(paths)


def check_pairs(images: list, outputs: list) -> None:
    """InputError in one line unless there is one output path per image."""
    if len(images) != len(outputs):
        raise InputError(f"{len(images)} image{'s' if len(images) != 1 else ''} but "
                         f"{len(outputs)} output{'s' if len(outputs) != 1 else ''}: give one "
                         "output path per image.")


def expand_inputs(paths, suffixes: tuple[str, ...] = RASTER_SUFFIXES,
                  stac_items: bool = False) -> Inputs:
    """``paths`` with folders and glob patterns expanded (see :func:`expand_one`), in order.
    A file named twice stays twice, so that commands refuse it as before: the same raster
    twice is a mistake to report, never to hide. One str or path is one input."""
    inputs, folders, listed = Inputs(), set(), {}
    for path in path_list(paths):
        items = expand_one(path, suffixes, stac_items)
        inputs += items
        if items != [input_path(path)]:  # a folder or a pattern
            folders |= {Path(item).parent.resolve() for item in items
                        if not is_virtual_path(item)}
            listed.update((item, path) for item in items)
    inputs.folders, inputs.listed = frozenset(folders), listed
    return inputs


#: what each GEOTILE_OUTPUT value of a raster geotile wrote is, in words
_OUTPUT_KINDS = {"probability": "prediction", "raw": "prediction", "class": "prediction",
                 "mask": "mask"}


#: what geotile's outputs are named: GeoTIFFs, COGs, and --merge's VRT mosaic of them
_OUTPUT_SUFFIXES = (".tif", ".tiff", ".vrt")


def refuse_geotile_outputs(inputs: Inputs, command: str) -> None:
    """InputError for a GeoTIFF or --merge VRT that geotile wrote (predict's, make-masks':
    an output of an earlier run saved beside the images) that a folder or pattern argument
    brought in beside other images: ``command`` would read it as one more image, exit 0.
    Given by name, or by a folder or pattern bringing in nothing else (a cascade's first
    predictions), it is read."""
    import rasterio
    from rasterio.errors import RasterioError

    from geotile.output_owners import OWNERS, written_by
    from geotile.quiet_warnings import quietly

    by_argument: dict = {}
    for item, given in getattr(inputs, "listed", {}).items():
        by_argument.setdefault(given, []).append(item)
    for given, items in by_argument.items():
        found, others = None, False
        for item in items:
            tags = None
            if not is_virtual_path(item) and Path(item).suffix.lower() in _OUTPUT_SUFFIXES:
                try:
                    with quietly(rasterio.open, item) as src:
                        tags = src.tags()
                except RasterioError:
                    pass  # not readable: the command says so
            if tags is not None and any(written_by(tags, owner) for owner in OWNERS):
                found = found or (item, tags["GEOTILE_OUTPUT"])
            else:
                others = True
            if found and others:
                item, output = found
                raise InputError(f"{item}: a {_OUTPUT_KINDS.get(output, 'output')} geotile "
                                 f"wrote (GEOTILE_OUTPUT={output}), brought in by {given} "
                                 f"beside other images: {command} would read it as one more "
                                 "image. Move geotile's outputs out of that folder, or give "
                                 "the images by name.")


def refuse_given_twice(paths, what: str = "image") -> None:
    """An InputError for a file given twice, however spelt (``tiles/ tiles/a.tif``): the
    fix is to give it once, not to rename it."""
    seen: dict[str, object] = {}
    for path in paths:
        key = os.fspath(path) if is_virtual_path(path) else os.path.realpath(path)
        if key in seen:
            also = "" if os.fspath(seen[key]) == os.fspath(path) else f" (as {seen[key]} too)"
            raise InputError(f"{path}: given twice{also}; give each {what} once.")
        seen[key] = path
