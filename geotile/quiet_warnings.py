"""Hiding one warning around one short call, safely from several threads.

``warnings.catch_warnings`` saves the process's filter list and puts it back at the end; two
threads doing so at once put back each other's lists, leaving filters installed for good
(the library is called from thread pools). So geotile hides a warning only around the one
call that raises it (opening a raster, writing a file), never around a whole function, and
every save/restore pair runs under one lock.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import threading
import warnings
from collections.abc import Iterator

_LOCK = threading.RLock()
#: pyogrio's note on each look at a layer of PolygonM, LineStringZM...: geotile drops M itself
MEASURED = r"Measured \(M\) geometry types are not supported"
#: pyogrio's note on writing geometries without a CRS (to GDAL's memory, where none is needed)
NO_CRS = r"'crs' was not provided"
#: Python 3.14's per-context warning filters (free-threaded builds, -X context_aware_warnings)
_CONTEXT_AWARE = bool(getattr(sys.flags, "context_aware_warnings", False))


@contextlib.contextmanager
def hidden(*categories: type[Warning], message: str = "") -> Iterator[None]:
    """Hide warnings of ``categories`` (whose text matches the regex ``message`` at its start)
    raised in the block: one short call, which must not wait for another thread.

    Name the warnings the call raises, never ``Warning`` itself. A third-party
    ``catch_warnings`` in another thread (pyogrio's, geopandas') that saves the filter list
    while this one is in it puts it back for good: the filter then matches nothing (see
    :class:`_InThisBlock`)."""
    if not categories or Warning in categories or not all(
            isinstance(c, type) and issubclass(c, Warning) for c in categories):
        raise TypeError("hidden() needs the warning categories the call raises, not Warning "
                        "(the message goes as message=...)")
    pattern = _InThisBlock(message)
    try:
        with _LOCK, warnings.catch_warnings():
            for category in categories:
                warnings.filterwarnings("ignore", message, category)
                if not _CONTEXT_AWARE:  # else filters are per thread: none leaks, and
                    # warnings.filters is not the list catch_warnings just saved
                    warnings.filters[0] = ("ignore", pattern, category, None, 0)
            yield
    finally:
        pattern.thread = None


class _InThisBlock:
    """A filter's message pattern that matches only in the thread that hides, while it
    does: a filter leaked by another thread's catch_warnings hides nothing after."""

    def __init__(self, message: str) -> None:
        self.pattern, self.thread = re.compile(message, re.I), threading.get_ident()

    def match(self, text: str):
        return self.thread == threading.get_ident() and self.pattern.match(text)


def quietly(opener, *args, **kwargs):
    """``opener(*args, **kwargs)`` (``rasterio.open``, ``MemoryFile.open``, ``WarpedVRT``)
    without rasterio's NotGeoreferencedWarning, raised when a raster without a geotransform
    is opened or one with the identity transform is written: geotile says its own warning."""
    from rasterio.errors import NotGeoreferencedWarning

    with hidden(NotGeoreferencedWarning):
        return opener(*args, **kwargs)


def shapes(*args, **kwargs) -> list:
    """``rasterio.features.shapes`` as a list, under the lock: rasterio wraps its in-memory
    dataset in ``catch_warnings`` itself, which two threads at once would leave changed."""
    from rasterio.features import shapes as rasterio_shapes

    with _LOCK:
        return list(rasterio_shapes(*args, **kwargs))


def rasterize(*args, **kwargs):
    """``rasterio.features.rasterize`` under the lock (see :func:`shapes`)."""
    from rasterio.features import rasterize as rasterio_rasterize

    with _LOCK:
        return rasterio_rasterize(*args, **kwargs)


#: the loggers rasterio reports GDAL's messages through
GDAL_LOGGERS = ("rasterio._env", "rasterio._err", "rasterio._io", "rasterio._base")


@contextlib.contextmanager
def gdal_messages(names: tuple[str, ...] = GDAL_LOGGERS,
                  level: int = logging.WARNING) -> Iterator[list[str]]:
    """Collect the first lines of GDAL's messages of ``level`` and above logged to ``names``
    in the block (one short call; rasterio logs the errors GDAL signals at INFO), kept from
    the user's handlers; the loggers' levels, propagation and handlers are put back after,
    under the lock (two threads at once left them changed)."""
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = record.getMessage()
            messages.append(text.splitlines()[0] if text else "refused")

    handler = Collect(level)
    loggers = [logging.getLogger(name) for name in names]
    with _LOCK:
        saved = [(lg.level, lg.propagate) for lg in loggers]
        try:
            for lg in loggers:
                lg.addHandler(handler)
                lg.setLevel(level)
                lg.propagate = False
            yield messages
        finally:
            for lg, (level, propagate) in zip(loggers, saved, strict=True):
                lg.removeHandler(handler)
                lg.setLevel(level)
                lg.propagate = propagate


_RECORDS: dict[int, list] = {}  # thread -> the warnings it shows while it records
_SHOWN: list = []  # warnings.showwarning of before, while any thread records


def _show(message, category, filename, lineno, file=None, line=None) -> None:
    records = _RECORDS.get(threading.get_ident())
    if records is None:
        return _SHOWN[0](message, category, filename, lineno, file, line)
    records.append(warnings.WarningMessage(message, category, filename, lineno, file, line))
    return None


@contextlib.contextmanager
def recorded() -> Iterator[list]:
    """The warnings this thread shows in the block (``warnings.WarningMessage``s, as
    ``catch_warnings(record=True)`` lists them), kept from other threads' and from
    ``showwarning``; the filters stay the caller's. Safe in several threads at once, where
    ``catch_warnings`` would record each other's warnings and leave filters changed."""
    ident, records = threading.get_ident(), []
    with _LOCK:
        if not _RECORDS:
            _SHOWN[:] = [warnings.showwarning]
            warnings.showwarning = _show
        _RECORDS[ident] = records
    try:
        yield records
    finally:
        with _LOCK:
            del _RECORDS[ident]
            if not _RECORDS and warnings.showwarning is _show:
                warnings.showwarning = _SHOWN.pop()


def is_valid(geometries):
    """``shapely.is_valid`` without its ``catch_warnings(); simplefilter("ignore")``: from
    a thread pool another thread's catch_warnings saved that filter and put it back for good
    (the process showed no warning again). GEOS (3.10 and later) warns of nothing here."""
    from shapely import lib

    return lib.is_valid(geometries)
