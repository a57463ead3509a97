"""Pair images with their masks: by file name from a folder or a glob pattern, or one
file per image (by name, or in order when no name matches)."""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from geotile.dataset_names import (
    MASK_SUFFIXES,
    image_spelled_by,
    mask_bases,
    mask_name_splits,
    name_key,
    scene_name,
    scene_of_mask,
    suffix_fits,
)
from geotile.errors import InputError
from geotile.image_stems import image_stem
from geotile.input_files import RASTER_SUFFIXES
from geotile.name_keys import nfc
from geotile.plurals import counted
from geotile.sidecars import SIDECAR_SUFFIXES

log = logging.getLogger("geotile")


#: files in a masks folder that are never masks (GDAL side-cars: metadata, overviews, world
#: files, projections, ENVI headers; notes and tables)
_SIDECARS = (*SIDECAR_SUFFIXES, ".json", ".txt", ".csv")


def as_paths(paths) -> list:
    """A bare path (str, bytes or PathLike) is one path, not a sequence of characters.
    Local paths become Paths; GDAL virtual and cloud paths (/vsizip/..., s3://...) stay
    the text they are, so that they reach GDAL unchanged."""
    from geotile.input_paths import input_path

    if isinstance(paths, (str, bytes, os.PathLike)):
        paths = [paths]
    return [input_path(os.fsdecode(p)) for p in paths]


def pair_masks(images: Sequence[str | Path], masks,
               missing_ok: bool = False) -> list[str | Path] | None:
    """The mask of each image, from ``masks``: a folder or a glob pattern (paired with the
    images by file stem: ``<stem>.*``, else ``<stem>_mask.*`` and the other
    :data:`MASK_SUFFIXES`; ``missing_ok``: None for an image without one), or one file per
    image (paired by name when every mask is named after an image, in order when none is,
    refused when only some are)."""
    if not masks:
        return None
    from geotile.input_files import in_place

    masks = [in_place(m) for m in as_paths(masks)]  # masks.zip: read in place
    if len(images) >= 1 and (found := _mask_files(masks)) is not None:
        return _pair_by_stem(images, *found, missing_ok=missing_ok)
    if len(masks) != len(images):
        # one label raster over every image (DFC2018's ground truth): make-masks cuts it
        one = (f"; one label raster over them all is cut onto each image's grid by `geotile "
               f"make-masks {Path(str(masks[0])).name} IMAGE... -o masks/`"
               if len(masks) == 1 else "")
        raise InputError(
            f"{counted(len(images), 'image')} but {counted(len(masks), 'mask')}: "
            "give one --masks file per image, "
            f"or a folder or a pattern ('masks/*.tif') of masks named after the images{one}."
        )
    return _pair_files_by_name(images, masks)


def _mask_files(masks: list) -> tuple[list[Path], str] | None:
    """The files of ``masks`` when it is one folder or one glob pattern, and how to name
    them in a message (an archive's folder as a folder); None otherwise."""
    from geotile.input_files import expand_one
    from geotile.input_paths import ARCHIVE_PREFIXES

    if len(masks) == 1 and str(masks[0]).startswith(ARCHIVE_PREFIXES):
        files = expand_one(masks[0])
        return (files, str(masks[0])) if files != [masks[0]] else None
    if len(masks) != 1 or not isinstance(masks[0], Path):
        return None
    single = masks[0]
    if single.is_dir():
        return [p for p in single.iterdir() if p.is_file()], f"{single}"
    if not single.exists() and glob.has_magic(str(single)):
        files = [Path(p) for p in sorted(glob.glob(str(single))) if Path(p).is_file()]
        if not files:
            raise InputError(f"--masks {single}: the pattern matches no file. Check it "
                             "(quote it, so that the shell does not expand it).")
        return files, f"the files matching {single}"
    return None


def without_masks(images: list, masks) -> list:
    """``images`` less the masks among them: files of a --masks folder or pattern named as
    the mask of another image (``tile DIR --masks DIR`` with img1.tif beside
    img1_mask.tif), unless one of those files is named as their own mask (x_buildings.tif
    beside x.tif, each with its _mask.tif)."""
    found = _mask_files(as_paths(masks)) if masks else None
    if found is None:
        return images
    files = {_resolved(f) for f in found[0]}
    stems = [name_key(image_stem(p)) for p in images]
    owners: dict[str, set[int]] = {}  # a mask's base: the images it is a base of
    for j, stem in enumerate(stems):
        for base in mask_bases(stem):
            owners.setdefault(name_key(base), set()).add(j)
    masks_of: dict[str, set[str]] = {}  # a base: the masks named after it
    for stem in {name_key(f.stem) for f in found[0]}:
        for base in mask_name_splits(stem):
            masks_of.setdefault(base, set()).add(stem)

    def is_mask(i: int) -> bool:  # each name looked up, not compared with every other
        return (any(owners.get(base, set()) - {i} for base in mask_name_splits(stems[i]))
                and not any(masks_of.get(name_key(base), set()) - {stems[i]}
                            for base in mask_bases(stems[i])))

    kept = [image for i, image in enumerate(images)
            if _resolved(image) not in files or not is_mask(i)]
    if len(kept) < len(images):
        log.info("%d masks left out of the images", len(images) - len(kept))
    return kept


def without_elevation(images: list, masks) -> list:
    """``images`` less the elevation rasters of other images among them, when the masks are
    a folder or a pattern naming none after them: ISPRS Potsdam unpacked in one folder
    (dsm_potsdam_02_10.tif beside top_potsdam_2_10_RGB.tif), a GeoNRW city (<E>_<N>_dem.tif
    beside <E>_<N>_rgb.jp2; :func:`~geotile.dataset_names.names_elevation`). Said in a
    warning: --extra-bands stacks them."""
    from geotile.dataset_names import elevation_rasters

    found = _mask_files(as_paths(masks)) if masks else None
    if found is None:
        return images
    stems = [name_key(image_stem(p)) for p in images]
    elevation = elevation_rasters(stems)
    masks_of: dict[str, list[Path]] = {}  # a base: the mask files named after it
    for f in found[0]:
        for base in mask_name_splits(f.stem):
            masks_of.setdefault(base, []).append(f)

    def is_elevation(i: int) -> bool:  # its masks looked up, not every mask compared
        if not elevation[i]:
            return False
        own = _resolved(images[i])
        return not any(_resolved(f) != own for base in mask_bases(stems[i])
                       for f in masks_of.get(name_key(base), ()))

    left = [image for i, image in enumerate(images) if is_elevation(i)]
    if left:
        log.warning("left out of the images, named as their elevation rasters: %s (stack "
                    "them onto the images with --extra-bands)",
                    ", ".join(Path(p).name for p in left))
    dropped = set(left)
    return [image for image in images if image not in dropped]


def _named_after(images: Sequence[str | Path], masks: list) -> list[list[int]]:
    """For each of ``masks``, the images it is named after: those of its stem, else those
    whose stem (or scene name: ``104_sat`` -> ``104``) plus one of the mask suffixes is its
    stem (:mod:`geotile.dataset_names`); each name looked up, not compared with every image."""
    spelled: dict[str, list[int]] = {}  # TILE_1 before tile_1
    keys: dict[str, list[int]] = {}
    bases: dict[str, list[int]] = {}  # a mask base: the images it is a base of
    for i, image in enumerate(images):
        name = nfc(image_stem(image))
        spelled.setdefault(name, []).append(i)
        keys.setdefault(key := name_key(name), []).append(i)
        for base in dict.fromkeys(name_key(b) for b in mask_bases(key)):
            bases.setdefault(base, []).append(i)

    def named(mask) -> list[int]:
        stem = Path(mask).stem
        key = name_key(stem)
        return list(spelled.get(nfc(stem)) or keys.get(key) or sorted(
            {i for base in mask_name_splits(key) for i in bases.get(base, ())}))

    return [named(mask) for mask in masks]


def _pair_files_by_name(images: Sequence[str | Path], masks: list) -> list:
    """One mask file per image: paired by name when every mask is named after its own
    image (or its scene: one label file for a scene's _RGB and _IRRG images), in order when
    none is; a partial or ambiguous match is refused (a guess could give an image another
    image's labels)."""
    matches = _named_after(images, masks)
    if not any(matches):
        return masks
    hint = ("Name each mask after its image (<stem>.*, <stem>_mask.*, <stem>_label.*, "
            "<stem>_gt.*), or none of them (then they pair in the order given).")
    by_image: dict[int, list] = {}
    scenes: dict[tuple, dict] = {}  # the images of a scene: its label files
    for mask, found in zip(masks, matches, strict=True):
        scenes_named = {scene_of_mask(Path(mask).stem, image_stem(images[i])) for i in found}
        if len(found) > 1 and (None in scenes_named or len(scenes_named) > 1):
            names = ", ".join(Path(images[i]).name for i in found)
            raise InputError(f"--masks {Path(mask).name} is named after several images "
                             f"({names}). {hint}")
        if len(found) > 1:
            scenes.setdefault(tuple(found), {}).setdefault(_resolved(mask), mask)
        elif found:
            by_image.setdefault(found[0], []).append(mask)
    for found, files in scenes.items():
        for i in found:
            by_image.setdefault(i, []).extend(files.values())
    for i, named in sorted(by_image.items()):
        if len(named) > 1:
            names = [Path(m).name for m in named]
            shown = names if len(set(names)) == len(names) else [str(m) for m in named]
            raise InputError(f"{Path(images[i]).name}: several --masks are named after it "
                             f"({', '.join(shown)}). Give one mask per image.")
    strays = [Path(m).name for m, found in zip(masks, matches, strict=True) if not found]
    bare = [Path(image).name for i, image in enumerate(images) if i not in by_image]
    if strays or bare:
        paired = next(i for i, found in enumerate(matches) if found)
        said = ([f"{bare[0]} has no --masks named after it"] if bare else []) + \
            ([f"{strays[0]} is named after no image"] if strays else [])
        raise InputError(
            f"{' and '.join(said)}, while {Path(masks[paired]).name} pairs by name with "
            f"{Path(images[matches[paired][0]]).name}: masks are paired by name, or in order "
            f"only when no name matches. {hint}")
    return [by_image[i][0] for i in range(len(images))]


def _pair_by_stem(images: Sequence[str | Path], files: list[Path], where: str,
                  missing_ok: bool = False) -> list[Path | None]:
    from geotile.input_paths import input_path
    from geotile.name_keys import refuse_other_spelling

    files = [f for f in files if not f.name.startswith(".")
             and not f.name.lower().endswith(_SIDECARS)]
    own = {_resolved(p) for p in images}
    named = _by_base_and_suffix(files)
    # the images by stem: a file of another image's stem is that image's mask, and a scene
    # name that is another image's stem names that image's masks (farm-ortho.tif's scene
    # farm: farm_mask.tif is farm.tif's), never this one's
    images_by_stem = {name_key(image_stem(image)): image for image in images}
    file_keys = {f: name_key(f.stem) for f in files}
    paired = []
    for image in images:
        found = []
        stem = name_key(image_stem(image))
        bases = [name_key(b) for b in mask_bases(stem)]
        others = [images_by_stem[b] for b in bases if b != stem and b in images_by_stem]
        others += [images_by_stem[key] for b in bases for s in MASK_SUFFIXES
                   for f in named.get((b, s.lower()), ())
                   if (key := file_keys[f]) != stem and key in images_by_stem
                   and _resolved(f) not in own]
        for base, suffix in ((b, s) for b in bases for s in MASK_SUFFIXES
                             if b == stem or b not in images_by_stem):
            found = sorted(f for f in named.get((base, suffix.lower()), ())
                           if _resolved(f) not in own and ((key := file_keys[f]) == stem
                                                           or key not in images_by_stem))
            # a raster beside files of its name (world file, .prj, style) is the mask
            found = [f for f in found if f.suffix.lower() in RASTER_SUFFIXES] or found
            if len(found) > 1:  # Zürich_1_mask in NFC and NFD: the one spelled as the image
                found = _spelled_as(image, found, suffix, base)
            if found:
                break
        if not found and missing_ok:
            paired.append(None)
            continue
        spelling = nfc(image_stem(image))  # as messages show it (name_key folds its case)
        if not found:
            bases = mask_bases(spelling)
        if not found and others:
            names = ", ".join(dict.fromkeys(Path(o).name for o in others))
            raise InputError(
                f"{image}: no mask named {bases[0]}.* in {where}, nor so with "
                f"{', '.join(MASK_SUFFIXES[1:-1])} or {MASK_SUFFIXES[-1]} before the extension "
                f"({bases[0]}_mask.*); masks named after {names} are that image's. Name this "
                "image's mask after its whole name, or give --masks files."
            )
        if not found:
            scene = scene_name(spelling)  # a FLAIR IMG_'s MSK_ name takes no suffix
            example = f"{scene}_label.*" if scene else f"{bases[0]}_mask.*"
            raise InputError(
                f"{image}: no mask named {' or '.join(f'{b}.*' for b in bases)} in {where}, "
                f"nor so with {', '.join(MASK_SUFFIXES[1:-1])} or {MASK_SUFFIXES[-1]} before "
                f"the extension ({example}). Name each mask after its image (make-masks "
                "does), or give --masks files."
            )
        if len(found) > 1:
            raise InputError(
                f"{image}: several masks match in {where} ({', '.join(f.name for f in found)}). "
                "Keep one, or give the mask file with --masks."
            )
        # the image as the mask spells it: its base as written, the (ASCII) suffix cut off
        spelled = _spelled(found[0], suffix, base, spelling)  # Zürich_1_mask, MSK_Zürich
        if spelled is not None:
            refuse_other_spelling(image, spelled + input_path(image).suffix, found[0])
        paired.append(found[0])
    return paired


def _spelled(mask: Path, suffix: str, base: str, spelling: str) -> str | None:
    """The image's stem (``spelling``, one of whose bases is ``base``) as ``mask``, named
    with ``suffix``, spells it: its base as written, the (ASCII) suffix cut off."""
    return image_spelled_by(mask.stem[:len(mask.stem) - len(suffix)], base, spelling)


def _spelled_as(image, found: list[Path], suffix: str, base: str) -> list[Path]:
    """Of masks ``found`` for ``image`` through ``base`` and ``suffix``, the one that spells
    the image as its name does (Unicode form and letter case: Zürich_1_mask in NFC and
    NFD, TILE_1_mask beside tile_1_mask), where only one does."""
    spelled = image_stem(image)
    same = [f for f in found if _spelled(f, suffix, base, nfc(spelled)) == spelled]
    return same if len(same) == 1 else found


def _by_base_and_suffix(files: list[Path]) -> dict[tuple[str, str], list[Path]]:
    """``files`` by each (base, lower-case mask suffix) their stem splits into, as
    :func:`~geotile.dataset_names.names_mask_with` pairs them: one look-up per image, not a
    pass over every file."""
    named: dict[tuple[str, str], list[Path]] = {}
    for f in files:
        key = name_key(f.stem)
        for suffix in dict.fromkeys(s.lower() for s in MASK_SUFFIXES):
            cut = len(key) - len(suffix)
            if cut >= 0 and key[cut:].lower() == suffix and suffix_fits(key[:cut], suffix):
                named.setdefault((key[:cut], suffix), []).append(f)
    return named


def _resolved(path: Path) -> Path:
    if not isinstance(path, Path):
        return path  # a GDAL virtual path: compared as written
    try:
        return path.resolve()
    except OSError:
        return path.absolute()
