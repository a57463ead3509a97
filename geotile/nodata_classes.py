"""A class raster whose declared nodata is one of its classes (a 0/1 building mask written
with nodata 1, ``gdal_translate -a_nodata 1``; nodata 2 where 2 is roads): read as GDAL
declares it, every pixel of that class is no data, so vectorize finds no building and
evaluate scores without it. Every command that reads class ids refuses such a raster in
one line (as evaluate refuses a 0/255 prediction declaring nodata 255) rather than drop a
class with exit 0; a nodata that is no class (255 of a collar, Chesapeake's 15, 0 read as
background by :func:`~geotile.raster_kinds.zero_nodata`) is read as before."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geotile.errors import InputError

#: past this id a nodata is never taken for a class by the ids held alone (255: the ignore
#: value of make-masks and predict; a run of ids 1..255 is no class raster)
LARGEST_RUN_ID = 254

#: make-masks' ignore value: no class, beside any run of ids
IGNORE = 255


@dataclass(frozen=True)
class NodataClass:
    """A declared nodata ``value`` that is a class: ``pixels`` of it, and ``why``."""

    value: int
    pixels: int
    why: str


#: _held_ids of the rasters already scanned, by file (:func:`~geotile.file_scans.per_file`)
_HELD: dict[tuple, tuple[frozenset, int]] = {}


def _whole_nodata(src) -> int | None:
    """The declared nodata of band 1 as a class id (a whole number from 1), else None."""
    value = src.nodata
    if value is None or not np.isfinite(value) or value < 1 or not float(value).is_integer():
        return None
    return int(value)


def _held_ids(src) -> tuple[frozenset, int]:
    """The whole ids 1..:data:`LARGEST_RUN_ID` band 1 holds (empty once it holds another
    value past 0 and the ignore value 255: no run of small ids), and how many pixels are
    its nodata; block by block (8- and 16-bit unsigned ids counted by np.bincount, linear,
    not np.unique's sort)."""
    value = src.nodata
    dtype = np.dtype(src.dtypes[0])
    counted = dtype.kind == "u" and dtype.itemsize <= 2
    counts = np.zeros(1 << (8 * dtype.itemsize) if counted else 0, np.int64)
    held: set = set()
    other = False
    pixels = 0
    for _, window in src.block_windows(1):
        block = src.read(1, window=window)
        if counted:
            counts += np.bincount(block.ravel(), minlength=counts.size)
            continue
        pixels += int(np.count_nonzero(block == value))
        if other:
            continue
        ids = np.unique(block)
        ids = ids[(ids != 0) & ~np.isnan(ids)] if dtype.kind == "f" else ids[ids != 0]
        small = (ids >= 1) & (ids <= LARGEST_RUN_ID) & (ids == np.round(ids))
        other = not (small | (ids == IGNORE)).all()
        held.update(int(i) for i in ids[small])
    if counted:
        pixels = int(counts[int(value)]) if value < counts.size else 0
        other = bool(counts[IGNORE + 1:].any())  # past the ignore value
        held = set(np.flatnonzero(counts[1:LARGEST_RUN_ID + 1]) + 1)
    return (frozenset() if other else frozenset(int(i) for i in held)), pixels


def nodata_class(src, names=None, named_by: str = "", given=()) -> NodataClass | None:
    """The declared nodata of a class raster's band 1 when it is one of its classes, with
    the pixels that hold it; None when it is no class, or no pixel holds it. A class when
    ``names`` (by id: the raster's own, :func:`~geotile.raster_kinds.class_names`, or an
    option's; None: none) name it other than no data
    (:func:`~geotile.nodata_names.names_no_data`) or its number;
    else, by the ids held: the mask's id 1 beside 0 alone (a 0/1 mask declaring nodata 1),
    or an id inside a run 1..N held whole, below its top N (nodata 2 of ids 1, 2, 3). A
    nodata at the top of such a run (classes 1, 2 and nodata 3 round them) may be no data:
    left as declared, unless named. ``named_by``: the option that gave ``names``, or the
    ids ``given`` (vectorize --classes 2)."""
    from geotile.file_scans import per_file
    from geotile.nodata_names import names_no_data

    value = _whole_nodata(src)
    if value is None:
        return None
    name = names[value] if names is not None and value < len(names) else None
    # named no data: it is ('Unclassified' too, a class past id 0 but for the nodata it names)
    if name is not None and names_no_data(name):
        return None
    if name is not None and str(name).strip() == str(value):  # unnamed: its number
        name = None
    if value in given:
        name = str(value)
    if name is None and value > LARGEST_RUN_ID:
        return None
    held, pixels = per_file(_HELD, src, _held_ids)
    if not pixels:
        return None
    if name is not None:
        by = f" by {named_by}" if named_by else ""
        return NodataClass(value, pixels, f"given to {named_by}" if value in given
                           else f"named {name!r}{by}")
    top = max(held, default=0)
    if held == {1} and value == 1:
        return NodataClass(value, pixels, "a 0/1 mask's class")
    if top > value and held == set(range(1, top + 1)):
        return NodataClass(value, pixels, f"inside its class ids 1..{top}")
    return None


def refuse_nodata_class(src, path=None, names=None, named_by: str = "", given=()) -> None:
    """InputError naming the file, its nodata, the pixels it holds and the fix when the
    declared nodata of class raster ``src`` is one of its classes (:func:`nodata_class`)."""
    found = nodata_class(src, names, named_by, given)
    if found is None:
        return
    path = path if path is not None else src.name
    name = Path(str(path)).name
    value = found.value
    raise InputError(
        f"{path}: its nodata value {value} is class {value} ({found.why}): its {found.pixels} "
        f"pixels would be read as no data and that class lost. Unset its nodata "
        f"(gdal_edit.py -unsetnodata {name}), or give its no-data pixels 255 and declare "
        f"that (gdal_edit.py -a_nodata 255 {name}).")
