"""How file names are compared when images, masks and labels are paired by name."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path


def name_key(name: str) -> str:
    """``name`` as files are paired by it: in Unicode NFC (macOS writes Zürich as Zu +
    U+0308, NFD; Linux and Windows keep what they are given), so both spell one name."""
    return unicodedata.normalize("NFC", name)


def raw_name(name: str) -> str:
    """The file name of a listed path (/ or \\ before it), as spelled (no normalisation)."""
    return name.replace("\\", "/").rsplit("/", 1)[-1]


def same_spelling(image, entries: list, listed) -> list:
    """Those of ``entries`` (one name in NFC) whose ``listed(entry)`` file name is spelled as
    ``image``'s is (Zürich in NFD for the NFD file, where the labels list both forms); all of
    them where none or every one is."""
    from geotile.input_paths import input_path

    spelled = input_path(image).name
    found = [e for e in entries if raw_name(listed(e)) == spelled]
    return found or entries


def other_spelling_beside(image, listed: str) -> Path | None:
    """The file beside ``image`` spelled as ``listed`` (a name equal to the image's in NFC
    only), where that is another file than the image: the one the labels name; else None."""
    from geotile.input_paths import input_path

    path = input_path(image)
    if not isinstance(path, Path):
        return None  # a GDAL virtual path
    beside = path.parent / raw_name(listed)
    if beside.name == path.name or name_key(beside.name) != name_key(path.name) or \
            not beside.is_file():
        return None
    try:
        return None if os.path.samefile(beside, path) else beside  # macOS: one file
    except OSError:
        return None


def refuse_other_spelling(image, listed: str, labels) -> None:
    """InputError where ``listed`` (``image``'s name in NFC only) spells another file beside
    it: the labels name that one (both forms of a name on one disk)."""
    from geotile.errors import InputError

    beside = other_spelling_beside(image, listed)
    if beside is not None:
        raise InputError(f"{image}: {labels} lists {listed!r}, the file {beside.name} beside "
                         "it, whose name differs from this one's only in Unicode form (NFC/"
                         "NFD); the labels are that file's. Rename one of the two (convmv "
                         "--nfc), or give the one the labels name.")
