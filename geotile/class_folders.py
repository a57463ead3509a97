"""Labels as one binary mask per class, in a folder per class (Agriculture-Vision's
``labels/<class>/<field>.png``): one multi-label mask per image, a 0/1 band per class.

A --masks folder that holds no mask files but subfolders of them is read so: each subfolder
is a class (bands in the order of their names, each described by its class name), its
files named after the images as a masks folder's are. Classes may overlap: a pixel is 1 in
every class band it belongs to. A class folder without an image's file gives 0 in that
band (datasets that leave out empty masks; an empty folder: every image), with a warning;
an image without a file in any class folder is refused. Folders ``boundaries/`` and
``masks/`` beside the class folders' parent (Agriculture-Vision's field boundaries and
invalid pixels), when present, hold one file per image whose 0 marks pixels that are not
valid: 255 (the ignore value) in every band. The mask is tagged GEOTILE_OUTPUT=mask,
GEOTILE_BANDS=independent and GEOTILE_CLASS_NAMES (background first), so tile's index.csv
counts a pixel positive when any class band is (:func:`~geotile.mask_values.counted_band`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geotile.crs_identity import one_crs
from geotile.errors import GeotileWarning, InputError
from geotile.user_warnings import warn

log = logging.getLogger("geotile")

#: folders beside the class folders' parent whose 0 marks pixels that are not valid
#: (Agriculture-Vision: outside the field's boundary, and invalid pixels)
VALIDITY_FOLDERS = ("boundaries", "masks")
#: rows read and written at a time
BAND_ROWS = 512


@dataclass(frozen=True)
class ClassFolders:
    """A labels folder of one subfolder per class; ``validity``: the folders found beside it
    whose 0 marks pixels that are not valid."""

    root: Path
    classes: tuple[str, ...]
    validity: tuple[Path, ...]


def class_folders(masks) -> ClassFolders | None:
    """``masks`` (tile's --masks) as a :class:`ClassFolders` when it is one local folder
    holding no raster but subfolders that hold rasters; None otherwise."""
    from geotile.input_files import RASTER_SUFFIXES

    if masks is None or isinstance(masks, (str, bytes)) or len(masks) != 1:
        return None
    root = masks[0]
    if not isinstance(root, Path) or not root.is_dir():
        return None

    def rasters(folder: Path) -> bool:
        return any(f.is_file() and not f.name.startswith(".")
                   and f.suffix.lower() in RASTER_SUFFIXES for f in folder.iterdir())

    if rasters(root):
        return None
    folders = [d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")]
    if not any(rasters(d) for d in folders):
        return None
    # an empty one is a class of no pixels (a split without it), its band kept in place
    classes = sorted(d.name for d in folders
                     if rasters(d) or not any(not f.name.startswith(".") for f in d.iterdir()))
    _refuse_validity_as_class(root, classes, rasters)
    validity = tuple(root.resolve().parent / name for name in VALIDITY_FOLDERS
                     if (root.resolve().parent / name).is_dir()
                     and (root.resolve().parent / name) != root.resolve())
    return ClassFolders(root, tuple(classes), validity)


def _refuse_validity_as_class(root: Path, classes: list[str], rasters) -> None:
    """A subfolder named as a validity folder (``--masks train/`` holding labels/,
    boundaries/ and masks/) is no class: refused, naming the folder of class folders."""
    named = [c for c in classes if c.lower() in VALIDITY_FOLDERS]
    if not named:
        return
    holders = sorted(d for d in root.iterdir() if d.is_dir() and "label" in d.name.lower()
                     and any(sub.is_dir() and rasters(sub) for sub in d.iterdir()))
    hint = (f"Give {holders[0]}, which holds a folder per class" if holders else
            "Give the folder that holds one folder per class, or a folder of masks")
    raise InputError(
        f"{root / named[0]}: named as a folder of valid pixels (Agriculture-Vision's "
        f"boundaries/ and masks/, 0: not valid), not of a class, so {root} is no folder of "
        f"binary masks per class. {hint}.")


def pair_class_files(images, folders: ClassFolders) -> list[tuple]:
    """Per image, (its file in each class folder or None, its file in each validity
    folder): an image without a file in any class folder, or without one in a validity
    folder, is refused; a class folder missing some images' files is warned of."""
    from geotile.mask_pairing import pair_masks

    by_class = [pair_masks(images, [folders.root / name], missing_ok=True)
                for name in folders.classes]
    _refuse_folders_of_masks(images, folders, by_class)
    missing = [[image for image, f in zip(images, files, strict=True) if f is None]
               for files in by_class]
    for i, image in enumerate(images):
        if all(files[i] is None for files in by_class):
            raise InputError(
                f"{image}: no file named after it in any class folder of {folders.root} "
                f"({', '.join(folders.classes)}). Give its masks there, or leave it out.")
    by_validity = []
    for folder in folders.validity:
        files = pair_masks(images, [folder], missing_ok=True)
        for image, f in zip(images, files, strict=True):
            if f is None:
                raise InputError(
                    f"{image}: no file named after it in {folder}, whose 0 marks the pixels "
                    f"that are not valid beside the class folders of {folders.root}. Add it, "
                    "or move the folder away to count every pixel as valid.")
        by_validity.append(files)
    # after the refusals: a refused run gets its one line alone
    for name, images_missing in zip(folders.classes, missing, strict=True):
        if images_missing:
            more = len(images_missing) - 1
            warn(
                f"{folders.root / name}: no file named after {Path(images_missing[0]).name}"
                f"{f' and {more} more images' if more else ''}: "
                f"read as no {name} there (0 in its band).", GeotileWarning)
    return [(tuple(files[i] for files in by_class), tuple(files[i] for files in by_validity))
            for i in range(len(images))]


def _refuse_folders_of_masks(images, folders: ClassFolders, by_class) -> None:
    """Subfolders each holding other images' masks (by region, by split) are folders of
    masks, not classes: refused with the pattern that pairs them."""
    if len(folders.classes) < 2 or len(images) < 2 or any(
            sum(files[i] is not None for files in by_class) > 1 for i in range(len(images))):
        return
    found = next(f for files in by_class for f in files if f is not None)
    raise InputError(
        f"{folders.root}: its subfolders ({', '.join(folders.classes[:4])}"
        f"{', ...' if len(folders.classes) > 4 else ''}) each hold other images' masks, as "
        "folders of masks by region or split do, not one mask per class of each image; "
        f"give them as a pattern ('{folders.root}/*/*{Path(found).suffix}') or one "
        "subfolder at a time.")


def describe(folders: ClassFolders) -> str:
    """One line saying how the class folders are read (for -v)."""
    used = " and ".join(f"{f.name}/" for f in folders.validity)
    return (f"{folders.root}: one 0/1 band per class folder ({', '.join(folders.classes)})"
            + (f"; pixels that {used} mark 0 are no data (255 in every band)" if used
               else ""))


def write_class_mask(image, classes: tuple[str, ...], files: tuple, validity: tuple,
                     target: Path) -> None:
    """Write ``target``: the multi-label mask of ``image`` (its grid, :func:`class_blocks`),
    its bands described by ``classes``."""
    import rasterio

    from geotile.no_georef import copy_georeferencing
    from geotile.quiet_warnings import quietly
    from geotile.raster import open_raster, output_profile

    with open_raster(image) as src:
        profile = output_profile(src, count=len(classes), dtype="uint8", nodata=255)
        with quietly(rasterio.open, target, "w", **profile) as dst:
            copy_georeferencing(src, dst)
            dst.update_tags(GEOTILE_OUTPUT="mask", GEOTILE_BANDS="independent",
                            GEOTILE_CLASS_NAMES=json.dumps(["background", *classes]))
            for band, name in enumerate(classes, start=1):
                dst.set_band_description(band, name)
            for window, block in class_blocks(image, files, validity):
                dst.write(block, window=window)


def class_blocks(image, files: tuple, validity: tuple):
    """Yield (window, block) by row bands of ``image``'s grid: block (classes, rows, cols)
    uint8, band k 1 where ``files[k]`` (None: none) is not 0, 255 in every band where a
    ``validity`` file is 0. Each file is checked to lie on the image's grid first."""
    import contextlib

    from rasterio.windows import Window

    from geotile.raster import open_raster

    with contextlib.ExitStack() as stack:
        src = stack.enter_context(open_raster(image))
        sources = [stack.enter_context(open_raster(f)) if f is not None else None
                   for f in files]
        checks = [stack.enter_context(open_raster(f)) for f in validity]
        for path, other in zip([*files, *validity], [*sources, *checks], strict=True):
            if other is not None:
                _check_grid(src, image, other, path)
        for top in range(0, src.height, BAND_ROWS):
            window = Window(0, top, src.width, min(BAND_ROWS, src.height - top))
            block = np.zeros((len(files), window.height, window.width), np.uint8)
            for band, (path, other) in enumerate(zip(files, sources, strict=True)):
                if other is not None:
                    block[band] = _class_band(other, window, path, len(files) == 1)
            for path, check in zip(validity, checks, strict=True):
                block[:, _invalid(check.read(1, window=window), path)] = 255
            yield window, block


def _invalid(values: np.ndarray, path) -> np.ndarray:
    """Where a validity file's ``values`` are 0 (not valid): refused unless they are 0 and
    255 (or their integer type's top), as Agriculture-Vision's are; a 0/1 file is a mask
    of some class (make-masks'), whose background would all be no data."""
    top = np.iinfo(values.dtype).max if values.dtype.kind in "iu" else 255
    stray = ~np.isin(values, (0, 255, top))
    if stray.any():
        raise InputError(
            f"{path}: holds values other than 0 and 255 (such as {values[stray][0]}), so it "
            "is no file of valid pixels (255) beside the class folders, as Agriculture-Vision's "
            f"{Path(path).parent.name}/ are: its 0s would make pixels no data. If it is a "
            "folder of masks, move the folder away (or rename it).")
    return values == 0


def _class_band(src, window, path, alone: bool = False) -> np.ndarray:
    """The 0/1 class pixels of ``window`` of the class file ``src``: where any colour band
    (alpha left out) is not 0, so a mask saved in a colour (green on black) is read whole;
    refused when its pixels hold two colours (no binary mask); ``alone``: its folder is the
    one class folder (perhaps a folder of masks of ids: the refusal says so)."""
    from geotile.raster import alpha_bands

    alpha = alpha_bands(src)
    bands = [i for i in range(1, src.count + 1) if i not in alpha] or [1]
    values = _binary(src.read(bands, window=window), path, alone)
    if len(bands) > 1:
        on = values.any(axis=0)
        colours = np.unique(values[:, on], axis=1)
        if colours.shape[1] > 1:
            raise InputError(f"{path}: its pixels hold {colours.shape[1]} colours besides "
                             "black, so it is no binary mask of its class. Give one 0/1 "
                             "(or 0/255) mask per class, in one band or one colour.")
        return on.astype(np.uint8)
    return values[0]


def _binary(values: np.ndarray, path, alone: bool = False) -> np.ndarray:
    """``values`` of a binary mask as 0/1: refused unless they are 0 and 1, 0 and 255, or 0
    and their integer type's top (a 16-bit mask's 65535)."""
    top = np.iinfo(values.dtype).max if values.dtype.kind in "iu" else 255
    stray = ~np.isin(values, (0, 1, 255, top))
    if stray.any():
        folder = Path(path).parent
        lossy = Path(path).suffix.lower() in (".jpg", ".jpeg")
        raise InputError(f"{path}: holds values other than 0, 1 and 255 (such as "
                         f"{values[stray][0]}), so it is no binary mask of its class"
                         + (", its edges blurred by JPEG's lossy compression" if lossy
                            else "") + ". Give one 0/1 (or 0/255) mask per class"
                         + (", saved as PNG or TIFF." if lossy else ".") + (
                             f" {folder} was read as the one class folder of --masks "
                             f"{folder.parent}; if it holds masks of class ids, give --masks "
                             f"{folder}." if alone and not lossy else ""))
    return (values != 0).astype(np.uint8)


def _check_grid(src, image, other, path) -> None:
    """Refuse a class or validity file whose size is not the image's, or placed on another
    map grid."""
    from geotile.no_georef import unplaced

    if (other.width, other.height) != (src.width, src.height):
        raise InputError(f"{path} ({other.width} x {other.height} px) is not the size of "
                         f"{image} ({src.width} x {src.height} px), whose mask it is named "
                         "as. Give masks of their images' size.")
    if not unplaced(other) and not unplaced(src) and (
            other.transform != src.transform or not one_crs(other.crs, src.crs)):
        raise InputError(f"{path}: its grid differs from {image}'s (transform or CRS). "
                         "Give masks on their images' grid.")
