"""The fingerprint of geotile's own code, in --resume's completion digests: outputs that
another geotile wrote (other rules for the same inputs and options) are never taken for
complete, though ``__version__`` is the same."""

from __future__ import annotations

import contextvars
import functools
import hashlib
from pathlib import Path

#: the client's fingerprint, set in a dask task (geotile.distributed): a worker digests as
#: the command that started the run does
SHIPPED: contextvars.ContextVar[str | None] = contextvars.ContextVar("geotile_code",
                                                                     default=None)


@functools.cache
def _own() -> str:
    """sha256 over the sorted relative paths and bytes of this package's ``*.py`` files."""
    root = Path(__file__).resolve().parent
    sha = hashlib.sha256()
    for path in sorted(root.rglob("*.py"), key=lambda p: p.relative_to(root).as_posix()):
        sha.update(path.relative_to(root).as_posix().encode() + b"\0")
        sha.update(path.read_bytes() + b"\0")
    return sha.hexdigest()


def fingerprint() -> str:
    """The fingerprint of geotile's code (the shipped one in a dask task); once a process."""
    return SHIPPED.get() or _own()
