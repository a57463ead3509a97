"""Warnings that name the user's own line as their place.

``warnings.warn``'s ``stacklevel`` counts frames by hand, and a decorator or helper added
between a warning and the public function broke the count (warnings named geotile's own
files). :func:`warn` names the first frame outside the geotile package instead (Python
3.12's ``skip_file_prefixes`` by module name), so filters by module and ``-W error::...``
act on the caller's code. In geotile's own reader threads no user frame is on the stack:
the first frame outside geotile is then ``threading``'s.
"""

from __future__ import annotations

import sys
import warnings

from geotile.errors import GeotileWarning


def _inside(frame) -> bool:
    name = frame.f_globals.get("__name__", "")
    return name == "geotile" or name.startswith("geotile.")


def _internal(frame) -> bool:
    """A frame ``warnings.warn`` leaves out of its count (importlib's bootstrap)."""
    filename = frame.f_code.co_filename
    return "importlib" in filename and "_bootstrap" in filename


def warn(message: str | Warning, category: type[Warning] = GeotileWarning) -> None:
    """``warnings.warn(message, category)`` attributed to the first frame outside geotile
    (the outermost frame when all are geotile's)."""
    frame, level = sys._getframe(1), 2  # stacklevel 2: the caller of this function
    while frame.f_back is not None and _inside(frame):
        frame = frame.f_back
        while frame.f_back is not None and _internal(frame):  # as warnings counts them
            frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)
