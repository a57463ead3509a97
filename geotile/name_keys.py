"""How file names are compared when images, masks and labels are paired by name."""

from __future__ import annotations

import unicodedata


def name_key(name: str) -> str:
    """``name`` as files are paired by it: in Unicode NFC (macOS writes Zürich as Zu +
    U+0308, NFD; Linux and Windows keep what they are given), so both spell one name."""
    return unicodedata.normalize("NFC", name)
