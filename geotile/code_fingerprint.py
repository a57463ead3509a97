"""The fingerprint of geotile's own code, in --resume's completion digests: outputs that
another geotile wrote (other rules for the same inputs and options) are never taken for
complete, though ``__version__`` is the same."""

from __future__ import annotations

import contextvars
import functools
import hashlib
import os
from pathlib import Path

#: the client's fingerprint, set in a dask task (geotile.distributed): a worker digests as
#: the command that started the run does
SHIPPED: contextvars.ContextVar[str | None] = contextvars.ContextVar("geotile_code",
                                                                     default=None)


def _code_files(root: Path) -> list[Path]:
    """The package's code under ``root``, sorted by relative path: its ``*.py`` files and
    the ``*.pyc`` of a sourceless install (compileall -b, no .py beside it; never a
    __pycache__ copy of a .py, nor a legacy .pyc that its .py hides from import)."""
    found = [p for p in root.rglob("*.py*") if p.suffix == ".py" or (
        p.suffix == ".pyc" and p.parent.name != "__pycache__"
        and not p.with_suffix(".py").exists())]
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


@functools.cache
def _own() -> str:
    """sha256 over the sorted relative paths, sizes and modification times of this
    package's code files (:func:`_code_files`): any other code differs in one (a
    reinstall of the same code too, which redoes the outputs once: the safe side), for
    ~1 ms of stat calls where reading the 2.6 MB of source took 5-15 ms on every
    make-masks and predict run."""
    root = Path(__file__).resolve().parent
    sha = hashlib.sha256()
    for path in _code_files(root):
        stat = path.stat()
        sha.update(f"{path.relative_to(root).as_posix()}\0{stat.st_size}\0"
                   f"{stat.st_mtime_ns}\0".encode())
    return sha.hexdigest()


@functools.cache
def code_files() -> tuple[str, ...]:
    """The relative paths of this package's code files (:func:`_code_files`)."""
    root = Path(__file__).resolve().parent
    return tuple(path.relative_to(root).as_posix() for path in _code_files(root))


def content(files: tuple[str, ...] | None = None) -> str:
    """sha256 over the relative paths and bytes of this package's code ``files`` (the
    caller's :func:`code_files`; all of its own by default): the same code installed
    elsewhere (another machine, other modification times) reads the same, other code
    differs, and a file missing here too. Read once per process (5-15 ms): by a dask
    worker, whose tasks tag outputs with the caller's :func:`fingerprint`, to refuse other
    code; files only the worker holds (a removed module left behind) are never imported by
    the caller's code, and do not count."""
    return _content(code_files() if files is None else files)


def _hash(files: tuple[str, ...]) -> str:
    root = Path(__file__).resolve().parent
    sha = hashlib.sha256()
    for name in files:
        sha.update(f"{name}\0".encode())
        try:
            sha.update(hashlib.sha256((root / name).read_bytes()).digest())
        except OSError:  # not here: other code
            sha.update(b"\0")
    return sha.hexdigest()


_content = functools.cache(_hash)


def _stats(files: tuple[str, ...]) -> tuple:
    root = Path(__file__).resolve().parent
    found = []
    for name in files:
        try:
            info = os.stat(root / name)
        except OSError:
            found.append(None)
            continue
        found.append((info.st_ino, info.st_size, info.st_mtime_ns))
    return tuple(found)


@functools.cache
def _as_first_read() -> list:
    """The code files' stat and digest when this process first asked (a list: updated
    after a change that left the bytes as they were)."""
    files = code_files()
    return [_stats(files), _content(files)]


def changed_since_read() -> bool:
    """Whether this package's code changed on disk since this process first asked (an
    upgrade or an edit under a long-running dask worker: the modules it loaded are the old
    code, the others would load from the new files). Stat calls (~0.5 ms); the bytes are
    read again only where those changed, so that a touch alone is no change."""
    first = _as_first_read()
    now = _stats(code_files())
    if now == first[0]:
        return False
    if _hash(code_files()) != first[1]:
        return True
    first[0] = now
    return False


def fingerprint() -> str:
    """The fingerprint of geotile's code (the shipped one in a dask task); once a process."""
    return SHIPPED.get() or _own()
