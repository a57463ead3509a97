"""Bands named: a band name as compared across files (B04 as B4), and the bands of an
image picked by their colour interpretation (red, green, blue)."""

from __future__ import annotations

import re


def band_key(name) -> str:
    """A band name compared: case, spaces and hyphens aside, B04 as B4."""
    key = re.sub(r"[\s\-]+", "_", str(name).strip()).upper()
    return re.sub(r"^B0+(?=\d)", "B", key)


def bands_by_colour(src, wanted: list[set[str]]) -> list[int] | None:
    """The bands (1-based) whose colour interpretation (red, green, blue) is the name each
    of ``wanted`` goes by, one band each; None unless every one is so named."""
    from rasterio.enums import ColorInterp

    colours = [{band_key(c.name)} if c in (ColorInterp.red, ColorInterp.green,
                                           ColorInterp.blue) else set()
               for c in src.colorinterp]
    hits = [[i + 1 for i, c in enumerate(colours) if c & w] for w in wanted]
    picked = [h[0] for h in hits if len(h) == 1]
    return picked if len(picked) == len(wanted) == len(set(picked)) else None
