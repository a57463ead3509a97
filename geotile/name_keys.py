"""How file names are compared when images, masks and labels are paired by name."""

from __future__ import annotations

import os
import unicodedata
from functools import lru_cache
from pathlib import Path


def nfc(name: str) -> str:
    """``name`` in Unicode NFC, its letter case kept: as messages and spellings show it."""
    return unicodedata.normalize("NFC", name)


def _fold(letter: str) -> str:
    """``letter`` in lower case through its upper case, where each maps to one letter (as
    NTFS compares names: σ, ς and Σ alike); else as it is (ß is not SS, ﬁ not FI)."""
    upper = letter.upper()
    letter = upper if len(upper) == 1 else letter
    lower = letter.lower()
    return lower if len(lower) == 1 else letter


@lru_cache(maxsize=1 << 16)  # a folder's names, looked up again by each pairing
def name_key(name: str) -> str:
    """``name`` as files are paired by it: in Unicode NFC (macOS writes Zürich as Zu +
    U+0308, NFD; Linux and Windows keep what they are given), so both spell one name, and
    in one letter case (Windows and macOS disks find IMG_1.JPG as img_1.jpg, so exports
    made there spell names in any case), one letter for one (not str.casefold: Straße_1
    and Strasse_1 are two files there, two places), so the key is as long as the name."""
    name = nfc(name)
    return name.lower() if name.isascii() else "".join(map(_fold, name))


def _difference(a: str, b: str) -> str:
    """How two names of one :func:`name_key` differ: in Unicode form only, or in letter case
    ("" where they are spelled alike)."""
    return "" if a == b else "Unicode form (NFC/NFD)" if nfc(a) == nfc(b) else "letter case"


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
    """The file beside ``image`` spelled as ``listed`` (a name equal to the image's by
    :func:`name_key` only; its extension in either case: labels paired by stem spell none),
    where that is another file than the image: the one the labels name; else None. A few
    stats, for names spelled otherwise only: no folder is listed."""
    from geotile.input_paths import input_path

    path = input_path(image)
    if not isinstance(path, Path):
        return None  # a GDAL virtual path
    name = raw_name(listed)
    if name == path.name or name_key(name) != name_key(path.name):
        return None
    stem, dot, suffix = name.rpartition(".")
    cases = (f"{stem}.{suffix.lower()}", f"{stem}.{suffix.upper()}") if dot else ()
    for spelled in dict.fromkeys([name, *cases]):
        beside = path.parent / spelled
        if spelled == path.name or not beside.is_file():
            continue
        try:
            if not os.path.samefile(beside, path):  # macOS: one file
                return beside
        except OSError:
            continue
    return None


def refuse_other_spelling(image, listed: str, labels) -> None:
    """InputError where ``listed`` (``image``'s name in NFC only) spells another file beside
    it: the labels name that one (both forms of a name on one disk)."""
    from geotile.errors import InputError
    from geotile.input_paths import input_path

    beside = other_spelling_beside(image, listed)
    if beside is not None:
        how = _difference(beside.name, input_path(image).name)
        fix = " (convmv --nfc)" if how.startswith("Unicode") else ""
        raise InputError(f"{image}: {labels} lists {listed!r}, the file {beside.name} beside "
                         f"it, whose name differs from this one's only in {how}; the labels "
                         f"are that file's. Rename one of the two{fix}, or give the one the "
                         "labels name.")
    warn_other_case(image, listed, labels)


def warn_other_case(image, listed: str, labels) -> None:
    """Warn that ``labels`` spell ``image``'s name in another letter case (an export made on
    Windows/macOS), paired all the same: no other file beside it is spelled so."""
    from geotile.errors import GeotileWarning
    from geotile.input_paths import input_path
    from geotile.user_warnings import warn

    spelled, name = raw_name(listed), input_path(image).name
    if name_key(spelled) == name_key(name) and _difference(spelled, name) == "letter case":
        why = ("in another letter case (made on Windows/macOS, whose disks ignore case); "
               "paired all the same. Rename one to the other's spelling to silence this.")
        warn(GeotileWarning(f"{image}: {labels} names it {spelled!r}, {why}",
                            about=os.fspath(image), advice=f"labels name it {why}"))
