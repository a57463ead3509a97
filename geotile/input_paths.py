"""Input paths: local files and GDAL virtual paths (/vsi..., URLs, archives), side-cars as
GDAL finds them, and an input's identity; path and name logic only, which asks no product
reader (the files an input is read from, and the refusal to write over an input:
:mod:`geotile.input_sources`)."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import tempfile
import threading
from pathlib import Path, PurePath, PurePosixPath

#: GDAL's prefixes of a file inside a local archive (read in place, with its side-cars)
ARCHIVE_PREFIXES = ("/vsizip/", "/vsitar/", "/vsigzip/", "/vsi7z/", "/vsirar/")
#: a Landsat Collection 2 Level-2 or Level-1 band file: the product's id, then its band
#: (SR_B4, ST_B10; B4, B6_VCID_1) (geotile.landsat_mtl reads the MTL beside it)
LANDSAT_BAND_FILE = re.compile(
    r"(L[COTEM]0\d_(?:L2S[PR]|L1(?:TP|GT|GS))_\d{6}_\d{8}_\d{8}_\d{2}_[A-Z0-9]{2})_"
    r"((?:SR_|ST_)?B\d{1,2}|B6_VCID_[12])\.TIF", re.IGNORECASE)


def is_virtual_path(path: str | os.PathLike) -> bool:
    """True for GDAL virtual and remote paths (/vsizip/..., /vsicurl/..., s3://, https://)."""
    text = os.fspath(path)
    return text.startswith("/vsi") or "://" in text


#: a GDAL subdataset name whose file is a GDAL virtual path, as gdalinfo lists those of a
#: zipped product: SENTINEL2_L2A:/vsizip//abs/S2A_....SAFE.zip/S2A_....SAFE/MTD_MSIL2A.xml:10m:...
_VIRTUAL_SUBDATASET = re.compile(r'[A-Za-z][A-Za-z0-9_]*:"?/vsi')


def is_virtual_subdataset(path: str | os.PathLike) -> bool:
    """True for a GDAL subdataset name of a file read through GDAL's /vsi... (a Path would
    collapse the "//" of /vsizip//abs/a.zip)."""
    return bool(_VIRTUAL_SUBDATASET.match(os.fspath(path)))


def is_local(path: str | os.PathLike) -> bool:
    return not is_virtual_path(path)


class VirtualPath(str):
    """A GDAL virtual or remote path, kept as written (a Path would collapse the "//" of
    /vsicurl/https://...), with the Path attributes geotile uses for names."""

    __slots__ = ()

    @property
    def _last(self) -> PurePosixPath:
        """The last part, without a query, and without the .gz that /vsigzip/ decompresses
        (``/vsigzip/scene.tif.gz`` is ``scene.tif``)."""
        last = PurePosixPath(self.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1])
        if self.startswith("/vsigzip/") and last.suffix.lower() == ".gz" and last.stem:
            return PurePosixPath(last.stem)
        return last

    @property
    def name(self) -> str:
        return self._last.name

    @property
    def stem(self) -> str:
        return self._last.stem

    @property
    def suffix(self) -> str:
        return self._last.suffix

    def exists(self) -> bool:
        return True  # GDAL checks when it opens the file

    def __fspath__(self) -> str:
        return str(self)


def input_path(path: str | os.PathLike) -> Path | VirtualPath:
    """``path`` as a Path (:func:`local_path`), or as a VirtualPath for a GDAL virtual/remote
    path (rasterio's ``zip://a.zip!b.tif`` as GDAL's ``/vsizip/a.zip/b.tif``:
    :func:`gdal_archive_path`)."""
    text = gdal_archive_path(os.fspath(path))
    virtual = is_virtual_path(text) or is_virtual_subdataset(text)
    return VirtualPath(text) if virtual else local_path(text)


def dimap1_stem(path) -> str | None:
    """A DIMAP v1 product's METADATA.DIM, which every SPOT 1-5 product names alike, by its
    product folder: SCENE01's parent (S5_07_A/SCENE01/METADATA.DIM -> S5_07_A), else the
    folder holding it. None for any other file."""
    if os.path.basename(os.fspath(path)).lower() != "metadata.dim":
        return None
    path = input_path(path)
    folder = PurePosixPath(os.fspath(path)).parent if is_virtual_path(os.fspath(path)) \
        else Path(path).absolute().parent
    if re.fullmatch(r"scene\d+", folder.name, re.IGNORECASE) and folder.parent.name:
        folder = folder.parent
    return folder.name or None


def given_file(path) -> str:
    """The file the user gave for a path geotile made to read it: a .gz read through
    /vsigzip/ (town.osm.gz), a GeoJSON sequence through GeoJSONSeq:, is that file, named so
    in messages; any other path as it is."""
    text = os.fspath(path)
    for prefix in ("GeoJSONSeq:", "GeoJSON:", "/vsigzip/"):
        text = text.removeprefix(prefix)
    return text


def source_name(path) -> str:
    """The name index.csv's source column gives an input: its file's name; a GDAL
    subdataset's :func:`subdataset_stem` (every SAFE product's would read
    MTD_MSIL2A.xml:10m:EPSG_32631)."""
    return subdataset_stem(path) or input_path(path).name


def subdataset_stem(path) -> str | None:
    """A GDAL subdataset name's stem: its file's, and the fields that pick the subdataset
    (NETCDF:"scene.nc":sst -> scene_sst, GTIFF_DIR:2:pages.tif -> pages_2); a product's
    metadata file in its .SAFE folder, which every product names alike (MTD_MSIL2A.xml),
    by that folder (zipped too: .SAFE.zip; renamed without .SAFE too):
    S2A_MSIL2A_..._T31TCJ_..._10m_EPSG_32631. None for a file."""
    file = subdataset_file(path)
    if file is None:
        return None
    text = os.fspath(path).replace(f'"{file}"', "\0").replace(file, "\0")
    fields = [re.sub(r"[^A-Za-z0-9._-]+", "_", f).strip("_") for f in text.split(":")[1:]]
    folder = PurePosixPath(file).parent.name if is_virtual_path(file) else \
        Path(file).absolute().parent.name
    safe = re.match(r"(.+)\.safe(?:\.zip)?$", folder, re.IGNORECASE)
    stem = safe.group(1) if safe else Path(file).stem
    if not safe and folder and re.fullmatch(r"MTD_MSIL\w+", stem, re.IGNORECASE):
        stem = re.sub(r"\.zip$", "", folder, flags=re.IGNORECASE)  # renamed: no .SAFE
    return "_".join([stem, *(f for f in fields if f and f != "\0")])


#: the start of a relative path that rasterio and pyogrio read as a URL's scheme
#: ('file:a.tif' as a.tif, 's3:a.tif' as an S3 object) or GDAL as a driver's prefix
#: ('GPKG:a.gpkg', 'NETCDF:a.nc')
_SCHEME_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def local_path(path: str | os.PathLike) -> Path:
    """A local ``path`` as a Path that GDAL, rasterio and pyogrio read as that file: a
    relative one that exists and starts as a URL or a GDAL connection string would
    ('file:a.tif', 's3:a.tif', 'GPKG:a.gpkg'; './' does not help, a Path drops it) made
    absolute; any other as given."""
    text = os.fspath(path)
    if _SCHEME_LIKE.match(text) and not os.path.isabs(text) and os.path.lexists(text):
        return Path(os.path.abspath(text))
    return Path(text)


def ogr_path(path):
    """``path`` as pyogrio must be given it to read the file: pyogrio parses a local path as
    a URL, cutting it at a '!' (an archive's member) and at a ';' of its last part
    (pyogrio #632), so '!projects/labels.gpkg' is read through /vsisubfile/ (the whole
    file; a Shapefile's parts are found beside it). Other paths as given."""
    text = os.fspath(path)
    if is_virtual_path(text) or ("!" not in text and ";" not in os.path.basename(text)):
        return path
    if os.path.exists(f"{text}-wal"):  # a GeoPackage being edited (QGIS): SQLite reads its
        return _link(text)  # WAL beside the file it links to; /vsisubfile/ would skip it
    whole = f"/vsisubfile/0_,{os.path.abspath(text)}"
    # a zip pyogrio would open as /vsizip/ (a zipped Shapefile); .shp.zip GDAL reads itself
    lower = text.lower()
    zipped = lower.endswith(".zip") and not lower.endswith((".shp.zip", ".gpkg.zip"))
    return f"/vsizip/{whole}" if zipped else whole


#: a file read through a link (:func:`_link`) -> that link, made once per process
_LINKS: dict[str, str] = {}


def _link(text: str) -> str:
    """A link to the file ``text`` under a name without '!' or ';', in a folder of this
    process removed at exit; one per file, however often it is read."""
    target = os.path.abspath(text)
    if target in _LINKS:
        return _LINKS[target]
    if not _LINKS:
        import atexit
        import shutil

        folder = tempfile.mkdtemp(prefix="geotile-")
        atexit.register(shutil.rmtree, folder, True)
        _LINKS[""] = folder  # the folder of this process's links
    suffix = Path(text).suffix.replace(";", "_").replace("!", "_")
    link = os.path.join(tempfile.mkdtemp(dir=_LINKS[""]), f"file{suffix}")
    os.symlink(target, link)
    _LINKS[target] = link
    return link


@contextlib.contextmanager
def ogr_writable(path: Path):
    """A path through which pyogrio writes ``path``, whose name has no ';' (see
    :func:`ogr_path`): ``path`` itself, or for a folder whose path has a '!' the same file
    through a link to the folder from a temporary one (nothing copied)."""
    if "!" not in os.fspath(path.parent):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="geotile-") as links:
        link = Path(links) / "folder"
        os.symlink(os.path.abspath(path.parent), link, target_is_directory=True)
        yield link / path.name


#: rasterio's schemes of a local archive -> GDAL's prefixes
_ARCHIVE_SCHEMES = {"zip://": "/vsizip/", "tar://": "/vsitar/", "gzip://": "/vsigzip/"}


def gdal_archive_path(text: str) -> str:
    """rasterio's path into a local archive (``zip://tiles.zip!a.tif``) as GDAL's
    (``/vsizip/tiles.zip/a.tif``), as rasterio turns an absolute one; rasterio keeps the
    ``!`` of a relative one, which GDAL cannot open. Other paths as given."""
    scheme = next((s for s in _ARCHIVE_SCHEMES if text.startswith(s)), None)
    if scheme is None:
        return text
    archive, _, member = text[len(scheme):].partition("!")
    return f"{_ARCHIVE_SCHEMES[scheme]}{archive}{'/' + member.lstrip('/') if member else ''}"


def in_name_order(paths) -> list:
    """``paths`` sorted by file name (:func:`input_path`'s: a virtual path's last part, a
    URL's without its query), then by the whole path: an order that does not depend on the
    order given (shells' glob collation, lists typed by hand)."""
    return sorted(paths, key=lambda p: (input_path(p).name, os.fspath(p)))


def input_exists(path: str | os.PathLike) -> bool:
    """False only for a local file that does not exist (GDAL itself checks virtual paths,
    and the subdatasets of an existing file: :func:`subdataset_file`)."""
    return not is_local(path) or Path(path).exists() or subdataset_file(path) is not None


#: the start of a URL (s3://, https://, rasterio's zip://)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def subdataset_file(path: str | os.PathLike) -> str | None:
    """The existing local file of a GDAL subdataset's name ``path`` (NETCDF:"a.nc":sst, as
    gdalinfo lists them), or the file in a local archive it names as GDAL does
    (/vsizip//abs/S2A_....SAFE.zip/S2A_....SAFE/MTD_MSIL2A.xml), else None: a name GDAL
    opens, which is no file itself."""
    span = _file_span(os.fspath(path))
    return os.fspath(path)[span[0]:span[1]] if span else None


def _file_span(text: str) -> tuple[int, int] | None:
    """Where in the subdataset name ``text`` its file stands (:func:`subdataset_file`)."""
    # HDF5:"a.h5"://group/dataset is no URL: only a name starting as one is
    if os.path.lexists(text) or text.startswith("/vsi") or _URL.match(text):
        return None
    for match in re.finditer(r'"([^"]+)"', text):  # a quoted file
        if _is_file(match.group(1)):
            return match.span(1)
    parts = text.split(":")
    for start in range(1, len(parts)):  # an unquoted one, between the prefix and the name
        for end in range(len(parts), start, -1):
            candidate = ":".join(parts[start:end])
            if candidate and _is_file(candidate):
                offset = len(":".join(parts[:start])) + 1
                return offset, offset + len(candidate)
    return None


def absolute_subdataset(name: str) -> str | None:
    """A GDAL subdataset's ``name`` with its file's path made absolute (read from another
    working folder: a VRT's source, a dask worker), else None: no subdataset name."""
    span = _file_span(name)
    if not span:
        return None
    file = name[span[0]:span[1]]
    absolute = with_absolute_archive(file) if is_virtual_path(file) else os.path.abspath(file)
    return f"{name[:span[0]]}{absolute}{name[span[1]:]}"


def _is_file(candidate: str) -> bool:
    """Whether ``candidate`` is a local file or a file in a local archive (GDAL's path)."""
    if not candidate.startswith(ARCHIVE_PREFIXES):
        return os.path.isfile(candidate)
    folder, _, name = candidate.rpartition("/")
    archive = local_archive(candidate)
    if not name or archive is None:
        return False
    try:
        stat = os.stat(archive)
    except OSError:
        return False
    members = _archive_files(folder, stat.st_mtime_ns, stat.st_size)
    # a Zarr store is a folder of the archive, which GDAL's Zarr driver reads
    return candidate in members or any(f"{candidate}/{marker}" in members
                                       for marker in (".zgroup", ".zarray", "zarr.json"))


def archive_siblings(path: str) -> tuple[str, ...]:
    """The GDAL paths of the members beside ``path``, a file in a local archive
    (/vsizip/a.zip/x/b.tif: those of /vsizip/a.zip/x), sorted; () for any other path."""
    archive = local_archive(path) if path.startswith(ARCHIVE_PREFIXES) else None
    try:
        stat = os.stat(archive) if archive else None
    except OSError:
        return ()
    if stat is None:
        return ()
    return archive_members(path.rpartition("/")[0], stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=16)
def archive_members(folder: str, *version) -> tuple[str, ...]:
    """The GDAL paths of the members right in ``folder`` of a local archive, sorted, found
    once per ``version`` of the archive (its mtime and size), not once per image of it."""
    return tuple(sorted(m for m in _archive_files(folder, *version)
                        if m.rpartition("/")[0] == folder))


@functools.lru_cache(maxsize=16)
def _archive_files(folder: str, *_version) -> frozenset[str]:
    """The paths GDAL lists under ``folder`` of a local archive, listed once per version
    of it (``_version``: its mtime and size): a .SAFE.zip subdataset's file is looked up
    some 50 times a run, each listing 10,000 members in 0.5-1 s."""
    from pyogrio import vsi_listtree

    try:
        return frozenset(vsi_listtree(folder))
    except (OSError, ValueError, RuntimeError):
        return frozenset()


#: the files of a Shapefile that GDAL reads with its .shp: index, fields, CRS, encoding,
#: spatial indexes
SHAPEFILE_PARTS = (".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")


def shapefile_parts(path: Path) -> list[Path]:
    """The files beside Shapefile ``path`` that GDAL reads with it (either case)."""
    return [part for ext in SHAPEFILE_PARTS for part in dict.fromkeys(
        (path.with_suffix(ext), path.with_suffix(ext.upper()))) if part.is_file()]


#: a vendor's product file that GDAL reads as the mosaic of the tiles it lists (Maxar's
#: .TIL; Airbus' DIMAP DIM_*.XML, SPOT 5's METADATA.DIM), as a VRT is read
_PRODUCT_FILE = re.compile(r"(.+\.til|dim_.+\.xml|metadata\.dim)", re.IGNORECASE)


def is_product_file(path) -> bool:
    """Whether ``path`` names a vendor's product file (:data:`_PRODUCT_FILE`)."""
    name = (path.name if isinstance(path, PurePath) else
            os.path.basename(os.fspath(path))).lower()  # a Path's name: no str() of it
    if not (name.endswith((".til", ".xml")) or name == "metadata.dim"):
        return False  # most names: the pattern's backtracking over each costs 4 us
    return bool(_PRODUCT_FILE.fullmatch(name))


def product_quicklooks(path) -> set[str]:
    """The lower-case names of the JPEG quick-looks a vendor ships beside its product file
    ``path`` (Maxar's <stem>-BROWSE.JPG; Airbus' PREVIEW_<id>.JPG and ICON_<id>.JPG of
    DIM_<id>.XML; SPOT 5's PREVIEW.JPG and ICON.JPG): no images of their own."""
    name = os.path.basename(os.fspath(path)).lower()
    stem = os.path.splitext(name)[0]
    if name.endswith(".til"):
        return {f"{stem}-browse.jpg"}
    if name == "metadata.dim":
        return {"preview.jpg", "icon.jpg"}
    if is_product_file(name):  # DIM_<id>.XML
        return {f"preview_{stem[4:]}.jpg", f"icon_{stem[4:]}.jpg"}
    return set()


def is_mosaic_file(path) -> bool:
    """Whether ``path`` names a VRT, a GTI tile index (.gti.gpkg, .gti.fgb, .gti.parquet) or
    a product file (:func:`is_product_file`): GDAL reads its pixels from other files, which
    it lists (a GTI index: :func:`geotile.tile_indexes.index_tiles`)."""
    return os.fspath(path).lower().endswith((".vrt", ".gti.gpkg", ".gti.fgb", ".gti.parquet")) \
        or is_product_file(path)


def output_folders(outputs) -> frozenset:
    """The folders of the ``outputs`` that exist: an input there may read one of them (a
    .bil's .prj), see :func:`geotile.input_sources.input_sources`."""
    return frozenset(os.path.realpath(Path(out).parent) for out in outputs
                     if Path(out).exists())


def file_keys(path) -> list:
    """What identifies a local file: its (device, inode) when it exists and its resolved
    path; two paths sharing a key are the same file. None for a GDAL virtual path (never
    a local output)."""
    if not isinstance(path, Path):
        return []
    try:
        info = path.stat()
        keys: list = [(info.st_dev, info.st_ino)]
    except OSError:
        keys = []
    try:
        return [*keys, str(path.resolve())]
    except OSError:
        return keys


def same_file(a, b) -> bool:
    """Whether local paths ``a`` and ``b`` name one file (see :func:`file_keys`)."""
    a, b = input_path(a), input_path(b)
    return bool(set(file_keys(a)) & set(file_keys(b)))


#: seconds a folder's listing serves its rasters after the folder changed (outputs written
#: beside the inputs change it at every tile); a raster it does not hold gets a new one
RELIST_AFTER_S = 1.0


#: folder -> (its mtime, when listed, its names, those names by the parts before a dot)
_LISTINGS: dict[str, tuple[int, float, frozenset, dict[str, list[str]]]] = {}


_LISTINGS_LOCK = threading.Lock()


def _folder_names(folder: str, name: str) -> dict[str, list[str]]:
    """The names in ``folder`` filed under the lower case of each part before a dot (a.b.tif
    under "a" and "a.b"), so a raster finds its side-cars without walking its namesakes
    (2024.05.01.tif). One listing serves the folder while its mtime stays, or for
    RELIST_AFTER_S after it changed if it holds ``name``: a side-car put beside a listed
    raster within that second is missed, as where mtimes tick by the second."""
    import time

    mtime, now = os.stat(folder).st_mtime_ns, time.monotonic()
    known = _LISTINGS.get(folder)
    if known and (known[0] == mtime or (now - known[1] < RELIST_AFTER_S and name in known[2])):
        return known[3]
    listed = os.listdir(folder)
    names: dict[str, list[str]] = {}
    for other in listed:
        low = other.lower()
        end = low.find(".")
        while end >= 0:
            names.setdefault(low[:end], []).append(other)
            end = low.find(".", end + 1)
    with _LISTINGS_LOCK:  # rasters are opened from worker threads too
        _LISTINGS.pop(folder, None)
        while len(_LISTINGS) >= 64:
            del _LISTINGS[next(iter(_LISTINGS))]
        _LISTINGS[folder] = (mtime, now, frozenset(listed), names)
    return names


def side_car_in_another_case(path) -> bool:
    """Whether a local raster has a side-car that GDAL, not listing folders
    (GDAL_DISABLE_READDIR_ON_OPEN, see gdal_settings), would miss: one named in another
    case than the raster's or mixed case (scene.TIF with scene.tif.msk, c.tif with c.Tfw).
    GDAL looks each up by the raster's name in lower and upper case only."""
    from rasterio.env import get_gdal_config

    text = os.fspath(path)
    user = os.environ.get("GDAL_DISABLE_READDIR_ON_OPEN")  # EMPTY_DIR: read as TRUE
    if (user is not None and user.upper() != "EMPTY_DIR") or text.startswith("/vsi") or \
            "://" in text or str(get_gdal_config("GDAL_DISABLE_READDIR_ON_OPEN")).upper() \
            not in ("TRUE", "YES", "ON", "1"):
        return False
    folder, name = os.path.split(os.path.abspath(text))
    stem = os.path.splitext(name)[0]
    try:
        siblings = _folder_names(folder, name)
    except OSError:
        return False
    for other in siblings.get(stem.lower(), ()):  # the names that start with stem + "."
        if other == name:
            continue
        if other.lower().startswith(name.lower() + "."):
            base = name  # scene.tif.msk, scene.tif.aux.xml
        elif other.count(".") == name.count("."):
            base = stem  # scene.tfw
        else:
            continue  # another raster's: scene.v2.tif beside scene.tif
        rest = other[len(base):]
        if not other.startswith(base + ".") or rest not in (rest.lower(), rest.upper()):
            return True
    return False


#: a product's metadata files, in the order read: JSON, XML, then the ODL text
MTL_SUFFIXES = ("_mtl.json", "_mtl.xml", "_mtl.txt")


def mtl_files(path) -> list:
    """The product's ``_MTL.json``/``_MTL.xml``/``_MTL.txt`` beside the Landsat C2 band
    file ``path`` (they decide its nodata, scale and offset: inputs too), those there, in
    that order; named in any case, as the band file may be (lc09_..._mtl.json). Of a band
    in a local archive (/vsitar/LC09_..._T1.tar/...): their GDAL paths in it."""
    found = LANDSAT_BAND_FILE.fullmatch(os.path.basename(os.fspath(path)))
    if not found:
        return []
    base = found.group(1).lower()
    if os.fspath(path).startswith(ARCHIVE_PREFIXES):  # a member of the product's .tar
        folder = os.fspath(path).rpartition("/")[0]
        archive = local_archive(folder)
        try:
            stat = os.stat(archive) if archive else None
        except OSError:
            stat = None
        members = _archive_files(folder, stat.st_mtime_ns, stat.st_size) if stat else ()
        names = {m.rpartition("/")[2].lower(): m for m in sorted(members)
                 if m.rpartition("/")[0] == folder}
        return [names[base + suffix] for suffix in MTL_SUFFIXES if base + suffix in names]
    folder = Path(os.fspath(path)).parent
    try:
        names = {name.lower(): name for name in sorted(os.listdir(folder or "."))}
    except OSError:
        return []
    return [folder / names[base + suffix] for suffix in MTL_SUFFIXES
            if base + suffix in names and (folder / names[base + suffix]).is_file()]


def local_archive(path: str) -> str | None:
    """The local archive a GDAL path reads from (``/vsizip/a.zip/x.tif``, rasterio's
    ``zip://a.zip!x.tif``: ``a.zip``), else None: a re-downloaded archive is another input."""
    for prefix in ("zip://", "tar://", "gzip://"):
        if path.startswith(prefix):
            return path[len(prefix):].split("!", 1)[0] or None
    if not path.startswith(ARCHIVE_PREFIXES):
        return None
    parts = path.split("/")[2:]  # "", "vsizip", then the archive's path and the member's
    for end in range(1, len(parts) + 1):
        candidate = "/".join(parts[:end])
        if candidate and os.path.isfile(candidate):
            return candidate
    return None


def with_absolute_archive(path: str) -> str:
    """A GDAL path into a local archive given relative (``/vsizip/tiles.zip/a.tif``) with
    the archive's path made absolute (``/vsizip//data/tiles.zip/a.tif``); others as given."""
    archive = local_archive(path)  # right after its prefix: /vsizip/, zip://, ...
    if not archive or os.path.isabs(archive):
        return path
    start = path.index("/", 1) + 1 if path.startswith("/vsi") else path.index("://") + 3
    return f"{path[:start]}{os.path.abspath(archive)}{path[start + len(archive):]}"


def identity(path: str | os.PathLike) -> list:
    """``[path, size, mtime_ns]`` of a local file; ``[path]`` for a virtual/remote one or a
    subdataset's name (its file made absolute)."""
    text = os.fspath(path)
    if (subdataset := absolute_subdataset(text)) is not None:  # its file: one more input
        return [subdataset]
    if is_virtual_path(text):
        archive = local_archive(text)
        return [with_absolute_archive(text), *identity(archive)[1:]] if archive else [text]
    try:
        stat = os.stat(text)
    except OSError:  # missing: the command reports it when it opens the file
        return [os.path.abspath(text)]
    return [os.path.abspath(text), stat.st_size, stat.st_mtime_ns]
