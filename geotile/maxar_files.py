"""The products of a Maxar order beside one another: the multispectral product (<order>
_01_P001_MUL) named where its panchromatic one (_PAN) lacks a model's bands."""

from __future__ import annotations

import re
from pathlib import Path

#: a Maxar order's product folder: <order>_<item>_P<nnn>_<MUL|PAN|PSH...>
_PAN_FOLDER = re.compile(r"(?P<product>.+_P\d{3})_PAN", re.IGNORECASE)


def maxar_multispectral_hint(path) -> str:
    """For an image of a Maxar order's _PAN product folder: the .TIL of the _MUL product
    beside it (' (Maxar delivers the panchromatic band apart: give <order>_01_P001_MUL/
    <stem>.TIL (4 bands))'), else ''."""
    import rasterio

    path = Path(path)
    match = _PAN_FOLDER.fullmatch(path.parent.name)
    if match is None or not path.parent.parent.is_dir():
        return ""
    folders = [p for p in path.parent.parent.iterdir()
               if p.is_dir() and p.name.lower() == f"{match['product']}_mul".lower()]
    tils = sorted(p for f in folders for p in f.iterdir() if p.suffix.lower() == ".til")
    if not tils:
        return ""
    try:
        with rasterio.open(tils[0]) as src:
            count = src.count
    except rasterio.errors.RasterioIOError:
        return ""
    return (f" (Maxar delivers the panchromatic band apart: give {tils[0].parent.name}/"
            f"{tils[0].name} ({count} bands))")
