"""Exceptions and warnings raised by the geotile library.

The library raises these; only the command line turns them into a one-line
message and an exit status. Messages are written for the user: they name the
file concerned and, where there is one, the fix.
"""

import contextlib
import errno
import os


class GeotileError(Exception):
    """Base class: an error the user can act on (exit status 1, no traceback)."""


class InputError(GeotileError):
    """An input file is missing, unreadable or unsuitable."""


class UsageError(GeotileError):
    """Options that do nothing in the chosen mode, or do not go together (exit status 2,
    as the command line's own usage errors)."""


class ModelError(GeotileError):
    """An ONNX model cannot be loaded or does not fit the input."""


class InputRangeError(ModelError):
    """A batch's pixels leave an integer-input model's range once normalised."""


class OutputExistsError(GeotileError):
    """An output exists and --overwrite was not given."""


class Interrupted(GeotileError):
    """Ctrl-C, SIGTERM or SIGHUP stopped the work; temporary files were removed."""


class GeotileWarning(UserWarning):
    """Something suspicious that does not stop the work (e.g. no label touches a raster).
    ``about``: the file it is about; ``advice``: what it says of every such file, for the
    command line to say once for the others ("18 more images (b.tif, ...): ADVICE")."""

    def __init__(self, message: str = "", about: str | None = None,
                 advice: str | None = None) -> None:
        super().__init__(message)
        self.about, self.advice = about, advice


def unused_options(given: list[str], applies_to: str, sep: str = "; ") -> str:
    """The one line for options ``given`` that the chosen inputs or mode do not use:
    "--a, --b apply to APPLIES_TO; leave them out." (``sep`` before "leave")."""
    one = len(given) == 1
    return (f"{', '.join(given)} {'applies' if one else 'apply'} to {applies_to}{sep}"
            f"leave {'it' if one else 'them'} out.")


@contextlib.contextmanager
def interrupted_as(output):
    """Ctrl-C or SIGTERM (KeyboardInterrupt) in the block as :class:`Interrupted` naming
    ``output``, as every writing function raises it; after the block put a new ``output``
    in place (writers publish only complete files), the line says so."""
    before = file_identity(output)
    try:
        yield
    except KeyboardInterrupt:
        if file_identity(output) not in (None, before):
            raise Interrupted(f"{output}: interrupted after it was written completely (it "
                              "is in place).") from None
        raise Interrupted(f"{output}: interrupted; nothing was written under that name "
                          "(the temporary files were removed).") from None


def file_identity(path) -> tuple | None:
    """The file ``path`` is now (device, inode, mtime, size); None where there is none."""
    try:
        info = os.stat(path)
    except (OSError, TypeError, ValueError):
        return None
    return info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size


def check_range(option: str, value, low=None, high=None, *, low_open: bool = False,
                high_open: bool = False, whole: bool = False, required: bool = False) -> None:
    """InputError in one line unless ``value`` (of ``option``; None passes unless
    ``required``) is a number (``whole``: an integer) within ``low``..``high``, as the
    command's option accepts."""
    import math
    import numbers

    if value is None and not required:
        return
    number = isinstance(value, numbers.Real) and not isinstance(value, bool) \
        and math.isfinite(value) and (not whole or float(value).is_integer())
    ok = number and not (
        (low is not None and (value <= low if low_open else value < low))
        or (high is not None and (value >= high if high_open else value > high)))
    if not ok:
        kind = "a whole number" if whole else "a number"
        if low is not None and high is not None:
            where = (f"in {'(' if low_open else '['}{low:g}, {high:g}"
                     f"{')' if high_open else ']'}")
        elif low is not None:
            where = f"{'>' if low_open else '>='} {low:g}"
        else:
            where = f"{'<' if high_open else '<='} {high:g}"
        raise InputError(f"{option} {value!r}: give {kind} {where}.")


def check_whole(options, name: str, option: str, low) -> None:
    """:func:`check_range` (whole, >= ``low``) of the field ``name`` of ``options`` (a frozen
    dataclass), then set to an int: 256.0 is 256 (slices and range() take no floats)."""
    value = getattr(options, name)
    check_range(option, value, low, whole=True)
    if value is not None:
        object.__setattr__(options, name, int(value))


#: what to do about a failed write, by errno (see :func:`write_advice`)
_WRITE_ADVICE = {
    errno.ENOSPC: "Free space and run again.",
    errno.EDQUOT: "Free space (the disk quota is used up) and run again.",
    errno.EFBIG: "Write to a file system that takes larger files, or raise the file-size "
                 "limit (ulimit -f).",
    errno.EROFS: "The file system is read-only: choose another output folder.",
    errno.EACCES: "Choose another output folder or fix its permissions.",
    errno.EPERM: "Choose another output folder or fix its permissions.",
    errno.ENAMETOOLONG: "Choose a shorter output name.",
    errno.EISDIR: "A folder has that name: choose another output name.",
    errno.ENOENT: "Check that the output folder exists (and stays) and run again.",
    errno.ENOTDIR: "A file stands where the output path needs a folder: choose another "
                   "output folder.",
    errno.EMFILE: "Too many files open at once: raise the limit (ulimit -n 4096) and run "
                  "again.",
    errno.ENFILE: "The system has too many files open: close other programs and run again.",
}


def write_advice(cause: BaseException | str,
                 default: str = "Check the output folder and run again.") -> str:
    """The fix to advise for a write that failed with ``cause`` (an OSError, or a message
    such as GDAL's holding the system's reason: "... No space left on device"): free space
    only for a full disk, permissions for EACCES, ...; ``default`` when none is known."""
    code = getattr(cause, "errno", None)
    if code not in _WRITE_ADVICE:
        text = str(cause).lower()
        # the longest text that matches: ENFILE's "Too many open files in system" holds
        # EMFILE's "Too many open files"
        found = [c for c in _WRITE_ADVICE if os.strerror(c).lower() in text]
        code = max(found, key=lambda c: len(os.strerror(c)), default=None)
    return _WRITE_ADVICE.get(code, default)


def gdal_reason(exc: BaseException, default: str = "unknown error") -> str:
    """GDAL's own first line for a rasterio error: rasterio's "Read failed. See previous
    exception for details." chains it as the cause."""
    reasons = []
    while exc is not None and len(reasons) < 10:
        text = str(exc).splitlines()[0] if str(exc) else ""
        if text and "previous exception" not in text:
            reasons.append(text)
        exc = exc.__cause__ or exc.__context__
    return reasons[-1] if reasons else default
