"""A band of class ids among bands of other values, named 'label': a Google Dynamic World
export (nine class probabilities and ``label``, float32 as Earth Engine writes an image of
mixed types). Band 1 is no class id there: geotile names the band to give, not guessing."""

from __future__ import annotations

from pathlib import Path

from geotile.errors import InputError

#: the description of the band of class ids (lower case)
LABEL = "label"


def label_band(src) -> int | None:
    """The 1-based index of the one band described 'label' (any case) of a raster of
    several bands that geotile did not write (no GEOTILE_OUTPUT tag), else None."""
    if src.count < 2 or "GEOTILE_OUTPUT" in {**src.tags(1), **src.tags()}:
        return None
    found = [i for i, text in enumerate(src.descriptions or (), 1)
             if (text or "").strip().lower() == LABEL]
    return found[0] if len(found) == 1 else None


def refuse_label_band(src, path=None) -> None:
    """InputError naming the 'label' band of ``src`` (:func:`label_band`) and the command
    that takes it alone; nothing when it has none."""
    band = label_band(src)
    if band is None:
        return
    path = str(path if path is not None else src.name)
    name = Path(path).name
    others = [str(d or i) for i, d in enumerate(src.descriptions, 1) if i != band]
    shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
    raise InputError(f"{path}: band {band} ('label') of its {src.count} bands holds the class "
                     f"ids, the others ({shown}) other values, as in a Dynamic World export. "
                     f"Give the label band alone: gdal_translate -b {band} {name} "
                     f"{Path(name).stem}_label.tif")
