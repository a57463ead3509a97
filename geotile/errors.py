"""Exceptions and warnings raised by the geotile library.

The library raises these; only the command line turns them into a one-line
message and an exit status. Messages are written for the user: they name the
file concerned and, where there is one, the fix.
"""

import contextlib


class GeotileError(Exception):
    """Base class: an error the user can act on (exit status 1, no traceback)."""


class InputError(GeotileError):
    """An input file is missing, unreadable or unsuitable."""


class UsageError(GeotileError):
    """Options that do nothing in the chosen mode, or do not go together (exit status 2,
    as the command line's own usage errors)."""


class ModelError(GeotileError):
    """An ONNX model cannot be loaded or does not fit the input."""


class OutputExistsError(GeotileError):
    """An output exists and --overwrite was not given."""


class Interrupted(GeotileError):
    """Ctrl-C, SIGTERM or SIGHUP stopped the work; temporary files were removed."""


class GeotileWarning(UserWarning):
    """Something suspicious that does not stop the work (e.g. no label touches a raster)."""


def unused_options(given: list[str], applies_to: str, sep: str = "; ") -> str:
    """The one line for options ``given`` that the chosen inputs or mode do not use:
    "--a, --b apply to APPLIES_TO; leave them out." (``sep`` before "leave")."""
    one = len(given) == 1
    return (f"{', '.join(given)} {'applies' if one else 'apply'} to {applies_to}{sep}"
            f"leave {'it' if one else 'them'} out.")


@contextlib.contextmanager
def interrupted_as(output):
    """Ctrl-C or SIGTERM (KeyboardInterrupt) in the block as :class:`Interrupted` naming
    ``output``, as every writing function raises it."""
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted(f"{output}: interrupted; nothing was written under that name "
                          "(the temporary files were removed).") from None
