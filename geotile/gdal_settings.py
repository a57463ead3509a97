"""The GDAL settings geotile reads files with, in the library as in the commands."""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable

#: a JPEG whose data libjpeg finds corrupt is a read error, not noise decoded silently.
#: GDAL lists a raster's whole folder at each open to find its side-car files (8 listings
#: of a 1600-file folder per tile: time quadratic in the number of tiles); without the
#: listing it looks for each side-car by name and finds the same ones. A user's own
#: setting (in the environment or a rasterio.Env) wins.
READ_SETTINGS = {"GDAL_ERROR_ON_LIBJPEG_WARNING": "TRUE",
                 "GDAL_DISABLE_READDIR_ON_OPEN": "TRUE"}

#: settings that change where a file's pixels lie or which are valid, set whatever the
#: user's environment says: GTIFF_POINT_GEO_IGNORE=YES (GDAL < 1.8's reading, kept for old
#: files) reads a PixelIsPoint GeoTIFF half a pixel off and writes one so, silently shifting
#: masks, predictions and polygons against labels read right; GDAL_TIFF_INTERNAL_MASK=NO
#: wrote an output's nodata mask into a .msk of its temporary file, left behind when that
#: became the output: every pixel valid
FORCED_SETTINGS = {"GTIFF_POINT_GEO_IGNORE": "NO", "GDAL_TIFF_INTERNAL_MASK": "YES"}


def user_value(key: str) -> str | None:
    """The user's value of the GDAL setting ``key`` (a rasterio.Env's, else the
    environment's), or None."""
    from rasterio.env import get_gdal_config

    value = get_gdal_config(key)
    return os.environ.get(key) if value is None else str(value)


@contextlib.contextmanager
def gdal_env(settings: dict):
    """``rasterio.Env(**settings)`` for the block. rasterio, leaving its outermost Env, sets
    each key's earlier value back as a GDAL option, the environment's too: that value then
    outlived the environment (a later ``del os.environ[key]`` left EMPTY_DIR in force, the
    next reads blind to side-cars). Such copies of the environment are unset."""
    import rasterio
    from rasterio._env import del_gdal_config
    from rasterio.env import get_gdal_config, hasenv

    with rasterio.Env(**settings) as env:
        yield env
    if not hasenv():
        for key in settings:
            if key in os.environ and get_gdal_config(key, normalize=False) == os.environ[key]:
                del_gdal_config(key)


def side_car_setting() -> dict:
    """The settings that let GDAL read a raster's side-cars, in place of a user's that hide
    them, else nothing. GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR (set for cloud reads) hides
    every side-car: a .tfw-placed tile read as ungeoreferenced (predictions on the identity
    grid, exit 0), a .msk's nodata unread; TRUE finds them by name, unlisted.
    GDAL_PAM_ENABLED=NO (set to keep .aux.xml files from being written) stops their
    reading too: a PNG placed by its .aux.xml lost its CRS and grid, and nodata, scales and
    class names kept there went unread."""
    settings = {}
    if str(user_value("GDAL_DISABLE_READDIR_ON_OPEN")).upper() == "EMPTY_DIR":
        settings["GDAL_DISABLE_READDIR_ON_OPEN"] = "TRUE"
    if str(user_value("GDAL_PAM_ENABLED")).upper() in ("NO", "FALSE", "OFF", "0"):
        settings["GDAL_PAM_ENABLED"] = "YES"
    return settings


def forced_settings() -> dict:
    """The :data:`FORCED_SETTINGS` and the :func:`side_car_setting`."""
    return {**FORCED_SETTINGS, **side_car_setting()}

#: seconds a remote read (/vsicurl/, /vsis3/, https://) may connect or receive nothing
#: before it fails: a server that accepts and never answers would hang a command for ever
#: (GDAL sets no limit); the user's GDAL_HTTP_* settings win
HTTP_STALL_S = 15


def _http_settings() -> dict:
    return {"GDAL_HTTP_CONNECTTIMEOUT": str(HTTP_STALL_S),
            "GDAL_HTTP_LOW_SPEED_TIME": str(HTTP_STALL_S), "GDAL_HTTP_LOW_SPEED_LIMIT": "1"}


#: GDAL's default number of files a VRT (a --merge mosaic, a city of tiles) keeps open
GDAL_POOL_SIZE = 100


def _file_limit_settings() -> dict:
    """A VRT's pool of open sources sized to the open-file limit (ulimit -n): GDAL keeps
    100 open whatever the limit, so a mosaic of 400 tiles under ``ulimit -n 64`` failed
    with "Too many open files"; a quarter of the limit leaves room for the rest. None on
    Windows (no ``resource`` module; its C runtime's own limit is not ulimit's)."""
    try:
        import resource
    except ImportError:
        return {}

    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY or soft // 4 >= GDAL_POOL_SIZE:
        return {}
    return {"GDAL_MAX_DATASET_POOL_SIZE": str(max(2, soft // 4))}


def set_by_user(key: str) -> bool:
    """Whether the GDAL setting ``key`` is the user's (environment or rasterio.Env)."""
    from rasterio.env import get_gdal_config

    return key in os.environ or get_gdal_config(key) is not None


def read_settings() -> dict:
    """The :data:`READ_SETTINGS`, HTTP limits and open-file pool that the user has not set
    (environment, rasterio.Env), and the :func:`forced_settings`."""
    from rasterio.env import get_gdal_config

    settings = {**READ_SETTINGS, **_http_settings(), **_file_limit_settings()}
    return {**{key: value for key, value in settings.items()
               if key not in os.environ and get_gdal_config(key) is None},
            **forced_settings()}


def check_proj_data() -> None:
    """Raise GeotileError when PROJ_DATA (or, without it, PROJ_LIB: a conda, QGIS or
    OSGeo4W set-up's) points rasterio's PROJ at data it cannot read (another PROJ's
    proj.db, an empty or missing folder): every CRS look-up would then fail, as "not a CRS
    GDAL knows" or a traceback. To be called inside a rasterio.Env (GDAL's error is
    logged, not printed)."""
    for name in ("PROJ_DATA", "PROJ_LIB"):  # rasterio's order
        if name in os.environ:
            _check_proj_data(name, os.environ[name])
            return


@functools.lru_cache(maxsize=4)
def _check_proj_data(name: str, value: str) -> None:
    import rasterio
    from rasterio.crs import CRS
    from rasterio.errors import CRSError

    from geotile.errors import GeotileError

    try:
        CRS.from_epsg(4326)
    except CRSError as exc:
        reason = str(exc).split("internal_proj_create_from_database: ")[-1].split(
            "PROJ: ")[-1].strip().rstrip(".")
        version = rasterio.__proj_version__
        raise GeotileError(
            f"{name}={value}: rasterio's PROJ {version} cannot use the PROJ data there "
            f"({reason}). Unset PROJ_DATA and PROJ_LIB (rasterio then uses its own), or "
            f"point {name} at PROJ {version}'s share/proj.") from None


def is_remote(value) -> bool:
    """Whether an argument is, or lists, a remote path (a URL, /vsicurl/, /vsis3/...)."""
    if isinstance(value, list | tuple):
        return any(is_remote(v) for v in value)
    return isinstance(value, str | os.PathLike) and (
        "://" in os.fspath(value) or os.fspath(value).startswith(
            ("/vsicurl", "/vsis3", "/vsigs", "/vsiaz", "/vsiadls", "/vsioss", "/vsiswift")))


#: pyogrio settings geotile set -> its reads under way that need them (see pyogrio_settings)
_PYOGRIO_HELD: dict[str, int] = {}
#: pyogrio settings geotile set -> the value it set, as pyogrio reads it back
_PYOGRIO_SET: dict[str, object] = {}
_PYOGRIO_LOCK = threading.Lock()


@contextlib.contextmanager
def pyogrio_settings(settings: dict):
    """``settings`` in pyogrio's GDAL (its own library, which a rasterio.Env does not reach)
    for the time of the block, those the user has not set. They are the process's, not the
    thread's: the first of the blocks at once (threads) sets one, the last to end unsets it
    unless the user has set it meanwhile; a value set by another block is not the user's."""
    import pyogrio

    with _PYOGRIO_LOCK:
        ours = [key for key in settings if key in _PYOGRIO_HELD
                or pyogrio.get_gdal_config_option(key) is None]
        for key in ours:
            if key not in _PYOGRIO_HELD:
                pyogrio.set_gdal_config_options({key: settings[key]})
                _PYOGRIO_SET[key] = pyogrio.get_gdal_config_option(key)
            _PYOGRIO_HELD[key] = _PYOGRIO_HELD.get(key, 0) + 1
    try:
        yield
    finally:
        with _PYOGRIO_LOCK:
            for key in ours:
                _PYOGRIO_HELD[key] -= 1
                if not _PYOGRIO_HELD[key]:
                    del _PYOGRIO_HELD[key]
                    if pyogrio.get_gdal_config_option(key) == _PYOGRIO_SET.pop(key):
                        pyogrio.set_gdal_config_options({key: None})


def _vector_key(key: str) -> bool:
    return key.startswith("GDAL_HTTP") or key == "GDAL_DISABLE_READDIR_ON_OPEN"


def _vector_settings(settings: dict):
    """The HTTP limits of ``settings``, and those of the rasterio.Env around (the user's,
    the command's), in pyogrio's GDAL for the time of the block (see
    :func:`pyogrio_settings`), which a rasterio.Env does not reach; the environment's own
    kept. No listing of the folder (the server's /) at each open: one more stalled wait."""
    from rasterio.env import getenv, hasenv

    around = getenv() if hasenv() else {}
    chosen = {**{key: value for key, value in around.items() if _vector_key(key)},
              **{key: value for key, value in settings.items() if _vector_key(key)}}
    return pyogrio_settings({key: ("ON" if value else "OFF") if isinstance(value, bool)
                             else str(value) for key, value in chosen.items()})


def with_read_settings(function: Callable) -> Callable:
    """``function`` (a public entry point) run under :func:`read_settings` in a
    rasterio.Env (and, for remote inputs, in pyogrio's GDAL), so that a notebook reads
    files as the commands do; nothing stays set."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        settings = read_settings()
        if not settings:
            return function(*args, **kwargs)

        remote = is_remote([*args, *kwargs.values()])
        with gdal_env(settings), (
                _vector_settings(settings) if remote else contextlib.nullcontext()):
            check_proj_data()
            return function(*args, **kwargs)

    return wrapper
