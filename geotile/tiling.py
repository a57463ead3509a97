"""Cut images (and their masks) into training patches, with an index.csv manifest.

Image and mask patches come from the same :class:`~geotile.grid.Grid` windows,
so every pair lines up exactly. Images are read one grid row (``size`` px tall) at a
time, in runs of its patches of at most 16 MP (a striped source's whole row), so memory
does not grow with the raster or its width. Patch files are named
``<stem>_<row>_<col>.<ext>`` with ``row``/``col`` the patch's place in the grid
(``x_off``/``y_off`` in index.csv give its pixel offsets). Writing runs in a small
thread pool: GDAL and NumPy release the GIL while encoding, so the next run is read
while patches are written.

GeoTIFF image patches keep the pixel validity index.csv counts: a patch whose invalid
pixels (nodata, the image's mask or alpha band, padding) are not exactly those its nodata
value marks gets an internal GDAL mask band (``read_masks``/``dataset_mask``), which
readers use over the nodata value. PNG and npy patches hold no mask.

Mask patches hold, outside the image (``edge="pad"``), the mask's nodata value, else 255
(the ignore value of geotile's masks: never background); a GeoTIFF mask patch holding
padding declares that value as its nodata. A 0/255 mask (255: the building) keeps 0 there,
marked by a mask band instead (PNG/npy have none: a warning says so). index.csv counts
padding as nodata, never positive.

Train/val/test splits are assigned by spatial blocks (:class:`~geotile.splits.SplitPlan`), never per
patch: overlapping patches (``overlap``, shifted edge patches) would otherwise put the same
pixels in train and in val/test. A patch whose window reaches into a block of another
split lies in the gap between the splits and is left out, so no two patches of different
splits share a pixel. Blocks are planned on the patches filtering (``skip_empty``,
``max_nodata``) keeps, so the proportions are those of the kept patches; a patch always
takes its blocks' split (filtering moves none on its own).

The output folder is new, empty or an earlier output of this function; patches are
written to a staging folder and published when all are written, and ``overwrite``
replaces only the files geotile wrote (:mod:`geotile.output_folder`).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import logging
import math
import os
import shutil
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from geotile.creation_options import gdal_yes
from geotile.errors import (
    GeotileError,
    GeotileWarning,
    InputError,
    Interrupted,
    UsageError,
    check_whole,
)
from geotile.gdal_settings import with_read_settings
from geotile.grid import EDGE_MODES, Grid
from geotile.image_stems import image_stem
from geotile.mask_pairing import as_paths, pair_masks, without_elevation, without_masks
from geotile.mask_values import (
    counted_band,
    is_binary_0_255,
    mask_alpha_bands,
    mask_ignore_values,
    mask_padding_value,
    masked_by_band,
    names_zero_class,
    probability_mask,
)
from geotile.patch_writer import PatchData, PatchWriter
from geotile.resume import digest as resume_digest
from geotile.resume import identity as resume_identity
from geotile.resume import say_other_code
from geotile.splits import SPLIT_NAMES, SplitPlan, warn_overlapping
from geotile.streaming import BAND_PIXELS
from geotile.tile_checks import (
    check_dates,
    check_grids,
    check_mask_classes,
    check_mask_grid,
    check_paletted_with_extra,
    check_png,
    png_alpha_band,
    refuse_complex_inputs,
    warn_16_bit_png,
    warn_if_colour_labels,
    warn_if_lossy_mask,
    warn_mask_band_lost,
    warn_masks_zero_nodata,
    warn_png_alpha,
)
from geotile.tile_resume import (
    RUN_RECORD,
    check_resumable,
    empty_folder,
    forget_parts,
    forget_record,
    holds_geotile_output,
    keep_finished,
    lock_parts,
    parts_folder,
    read_record,
    remove_leftovers,
    remove_staging,
)
from geotile.user_warnings import warn

log = logging.getLogger("geotile")

FORMATS = ("tif", "png", "npy")
#: GTiff options asking for side files (world file, RPCs) next to each patch
_SIDE_FILE_OPTIONS = ("tfw", "worldfile", "rpb", "rpctxt")
_RESERVED_PROFILE_KEYS = {"driver", "width", "height", "count", "dtype", "crs", "transform",
                          "nodata"}
INDEX_COLUMNS = (
    "image", "mask", "source", "row", "col", "x_off", "y_off", "width", "height",
    "minx", "miny", "maxx", "maxy", "positive_fraction", "nodata_fraction", "split",
)


@dataclass(frozen=True)
class TileOptions:
    """How images are cut into patches."""

    size: int = 256
    #: overlap in whole pixels, or a fraction of ``size`` below 1 (0.25 -> size / 4)
    overlap: int | float = 0
    edge: str = "shift"
    fmt: str = "tif"
    skip_empty: bool = False
    max_nodata: float | None = None
    #: train/val/test fractions: a tuple, a list or text like "0.8,0.1,0.1"
    split: tuple[float, ...] | None = None
    seed: int = 0
    #: GDAL GeoTIFF creation options of the patches (``--co KEY=VALUE``), tif only: a dict,
    #: or "KEY=VALUE" text or a list of them
    creation_options: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.fmt not in FORMATS:
            raise InputError(f"format must be one of {', '.join(FORMATS)}, got {self.fmt!r}")
        check_whole(self, "size", "--size", 1)
        if self.edge not in EDGE_MODES:
            raise InputError(f"--edge {self.edge!r}: choose {', '.join(EDGE_MODES[:-1])} or "
                             f"{EDGE_MODES[-1]}.")
        object.__setattr__(self, "split", _as_fractions(self.split))
        given = self.overlap
        object.__setattr__(self, "overlap", _overlap_pixels(given, self.size))
        if self.overlap >= self.size:
            shown = f"{given:g} ({self.overlap} px)" if 0 < given < 1 \
                else f"{self.overlap} px"
            raise InputError(f"--overlap {shown} must be smaller than the patch size "
                             f"(--size {self.size}).")
        if not isinstance(self.creation_options, dict):
            from geotile.creation_options import parse_creation_options

            pairs = self.creation_options
            pairs = [pairs] if isinstance(pairs, str) else list(pairs)
            object.__setattr__(self, "creation_options", parse_creation_options(pairs))
        if self.split is not None:
            if not 1 <= len(self.split) <= 3 or not all(
                    math.isfinite(f) and f >= 0 for f in self.split):
                raise InputError("--split takes 1 to 3 non-negative fractions, e.g. 0.8,0.1,0.1")
            if abs(sum(self.split) - 1) > 1e-6:
                raise InputError(f"--split fractions must sum to 1, got {sum(self.split):g}")
        if self.max_nodata is not None and not 0 <= self.max_nodata <= 1:
            raise InputError("--max-nodata is a fraction between 0 and 1")
        if self.creation_options and self.fmt != "tif":
            raise UsageError("--co sets GeoTIFF creation options: use it with --format tif")
        reserved = {k for k in self.creation_options if k.lower() in _RESERVED_PROFILE_KEYS}
        if reserved:
            raise InputError(
                f"--co {sorted(reserved)[0].upper()}: not a creation option (the patches take "
                "it from the image). Give GDAL GeoTIFF options like COMPRESS=DEFLATE."
            )
        _check_block_options(self.creation_options)
        side = [k for k in _SIDE_FILE_OPTIONS if gdal_yes(self.creation_options.get(k, ""))]
        if side:
            raise InputError(f"--co {side[0].upper()}={self.creation_options[side[0]]}: geotile "
                             "writes no side files; the GeoTIFF patches hold their "
                             "georeference inside. Remove the option.")


def _overlap_pixels(overlap, size: int) -> int:
    """Whole pixels, or a fraction of the patch below 1, as pixels."""
    value = float(overlap)
    if 0 < value < 1:
        return round(value * size)
    if not math.isfinite(value) or value < 0 or value != int(value):
        raise InputError(f"--overlap {overlap:g}: give whole pixels (e.g. 64) or a fraction "
                         "of the patch size below 1 (e.g. 0.25).")
    return int(value)


def _as_fractions(split) -> tuple[float, ...] | None:
    """``"0.8,0.1,0.1"``, a number or a sequence of numbers -> a tuple of floats."""
    if split is None:
        return None
    try:
        if isinstance(split, str):
            return tuple(float(part) for part in split.split(","))
        if isinstance(split, (int, float)):
            return (float(split),)
        return tuple(float(part) for part in split)
    except (TypeError, ValueError):
        raise InputError(f"--split {split!r}: give fractions like 0.8,0.1,0.1") from None


def _check_block_options(options: dict[str, str]) -> None:
    """BLOCKXSIZE (tiles only) and, for tiled patches, BLOCKYSIZE are multiples of 16:
    GDAL would silently change other values."""
    lowered = {k.lower(): str(v) for k, v in options.items()}
    tiled = gdal_yes(lowered.get("tiled", "NO"))
    for key in ("blockxsize", "blockysize"):
        if key not in lowered:
            continue
        value = lowered[key]
        if not value.isdigit() or int(value) == 0 or (
                (tiled or key == "blockxsize") and int(value) % 16):
            raise InputError(
                f"--co {key.upper()}={value}: GeoTIFF tiles are a positive multiple of 16 px "
                "wide and high (with --co TILED=YES), e.g. --co BLOCKXSIZE=256."
            )


@dataclass
class TileSummary:
    """What tile_rasters wrote."""

    outdir: Path
    written: int = 0
    skipped_empty: int = 0
    skipped_nodata: int = 0
    excluded_gap: int = 0
    per_split: dict[str, int] = field(default_factory=dict)
    #: images that yield no patch (--edge drop, --max-nodata): path -> why, with the fix
    skipped_images: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The summary as JSON-ready values."""
        return {"outdir": str(self.outdir), "written": self.written,
                "skipped_empty": self.skipped_empty, "skipped_nodata": self.skipped_nodata,
                "excluded_gap": self.excluded_gap, "per_split": dict(self.per_split),
                "skipped_images": dict(self.skipped_images)}


def _pads(grid: Grid) -> bool:
    """Whether some patch of ``grid`` reaches past the raster."""
    return bool(grid.col_offsets and grid.row_offsets) and (
        grid.col_offsets[-1] + grid.size > grid.width
        or grid.row_offsets[-1] + grid.size > grid.height)


def _zeros_are_binary(images, masks, options: TileOptions) -> bool:
    """Whether the run's all-0 masks pad as 0/255 masks: when another of its masks is one
    (one dataset, one convention). Decided only when some patch is padded."""
    from geotile.raster import open_raster

    if masks is None:
        return False
    for image, mask in zip(images, masks, strict=True):
        if not _pads(_grid_of(image, options)):
            continue  # no padding: the convention never shows
        with open_raster(mask) as mask_src:
            if is_binary_0_255(mask_src):
                return True
    return False


def _fractions(data: PatchData, ignore_values=(), zero_class: bool = False,
               binary: bool = False, probability=None, band: int = 0
               ) -> tuple[float, float | None]:
    """The patch's nodata fraction (image nodata, or the mask's ignore values,
    :func:`~geotile.mask_values.mask_ignore_values`: 255 where make-masks found no image or
    an unknown label; negative values of an integer mask, Sen1Floods11's undeclared -1,
    which make-masks refuses as class ids and evaluate leaves out) and its positive (labelled)
    fraction: ids other than 0, or every id where the mask names 0 as a class
    (``zero_class``); of a 0/255 mask (``binary``:
    :func:`~geotile.mask_values.is_binary_0_255`), values from 128 up, as make-masks reads
    its strays; of predict's probabilities (``probability``:
    :func:`~geotile.mask_values.probability_mask`), pixels whose class is not background.
    ``band``: the mask's band counted (:func:`~geotile.mask_values.counted_band`; None: a
    multi-label mask's bands, a pixel positive in any, ignored where they hold 255)."""
    from geotile.raster_kinds import class_ids

    invalid = ~data.valid
    if data.mask is None:
        return float(np.count_nonzero(invalid)) / invalid.size, None
    labels = data.mask.max(axis=0) if band is None else data.mask[band]
    if probability is not None:
        bands, kind = probability
        values = data.mask if bands is None else data.mask[[b - 1 for b in bands]]
        threshold = 0.5 if kind.threshold is None else kind.threshold
        positive = class_ids(values, np.ones(labels.shape, bool), kind, threshold)[0] != 0
    else:
        positive = np.ones(labels.shape, bool) if zero_class else labels >= 128 if binary \
            else labels != 0
    ignored = np.isin(labels, ignore_values) if ignore_values else None
    if labels.dtype.kind == "i" and probability is None:  # -1 undeclared: no class id
        ignored = labels < 0 if ignored is None else ignored | (labels < 0)
    if ignored is not None:
        invalid = invalid | ignored
        positive &= ~ignored
    if data.mask_valid is not None:  # padding: the ignore value, never a building
        invalid = invalid | ~data.mask_valid
        positive &= data.mask_valid
    # the image's nodata: written as ignored (none beyond the padding: valid_in_mask)
    if 255 in ignore_values and not binary and not data.valid_in_mask:
        positive &= data.valid
    return (float(np.count_nonzero(invalid)) / invalid.size,
            float(np.count_nonzero(positive)) / positive.size)


def iter_patches(src, mask_src, grid: Grid, extra=None,
                 mask_fill=None) -> Iterator[PatchData]:
    """Yield the patches of ``grid`` row by row, reading a row's patches in runs of at
    most BAND_PIXELS pixels (at least one patch; a striped source's whole row: narrower
    reads would decode its strips again), so that memory does not grow with the raster's
    width; the next run is read in a thread while this one's patches are written.

    Parts of padded patches outside the raster are filled with the raster's
    nodata value (0 without one) and marked invalid; in the mask, with
    ``mask_fill`` (default :func:`~geotile.mask_values.mask_padding_value`; ``mask_valid``
    False). ``extra`` (:class:`geotile.extra_bands.ExtraBands`): bands stacked after the
    image's.
    """
    from geotile.raster import alpha_holds_values, may_hold_nodata, read_block
    from geotile.streaming import background, is_striped

    if len(grid) == 0:  # a raster smaller than the patch, with --edge drop: none
        return
    check_nodata = may_hold_nodata(src)
    # an alpha band holding values (RGB+NIR): nodata only where every band is 0, as predict
    data_alpha = check_nodata and alpha_holds_values(src)
    band_width = max(src.width, grid.col_offsets[-1] + grid.size)
    striped = is_striped(*(s for s in (src, mask_src) if s is not None))
    most = max(grid.size, BAND_PIXELS // grid.size)  # columns of one read

    def runs(patches):
        if striped:
            yield 0, band_width, patches
            return
        start = 0
        for i, patch in enumerate(patches):
            if patch.x_off + grid.size - patches[start].x_off > most:
                yield patches[start].x_off, patches[i - 1].x_off + grid.size - \
                    patches[start].x_off, patches[start:i]
                start = i
        yield patches[start].x_off, patches[-1].x_off + grid.size - patches[start].x_off, \
            patches[start:]

    def bands():
        for row in grid.rows():
            top = row[0].y_off
            # a warped --extra-bands raster's pixels depend on the window asked for (one on
            # the VRT's blocks is warped apart): its whole row, as before, and runs of it
            warped = None if extra is None or getattr(extra, "exact", True) else \
                extra.read(top, grid.size, band_width)
            for left, width, patches in runs(row):
                pixels, valid = read_block(src, left, top, width, grid.size,
                                           check_nodata=check_nodata, alpha_as_data=data_alpha)
                if extra is not None:
                    more, more_valid = extra.read(top, grid.size, width, left) \
                        if warped is None else (warped[0][:, :, left:left + width],
                                                warped[1][:, left:left + width])
                    pixels = np.concatenate([pixels, more.astype(np.result_type(pixels, more))])
                    valid &= more_valid
                labels = inside = None
                if mask_src is not None:
                    labels, inside = read_block(mask_src, left, top, width, grid.size,
                                                check_nodata=mask_band, fill=mask_fill)
                yield left, patches, pixels, valid, labels, inside

    if mask_fill is None and mask_src is not None:
        mask_fill = mask_padding_value(mask_src)
    mask_band = mask_src is not None and (masked_by_band(mask_src) or
                                          bool(mask_alpha_bands(mask_src)))
    # an image of no nodata (no mask read) is invalid only in its padding, the mask's too
    in_mask = not check_nodata and extra is None and mask_src is not None and \
        (mask_src.width, mask_src.height) == (src.width, src.height)
    # closed here, not when garbage-collected: closing this generator stops the thread
    with contextlib.closing(background(bands(), depth=1)) as reader:
        for left, patches, pixels, valid, labels, inside in reader:
            for patch in patches:
                cols = slice(patch.x_off - left, patch.x_off - left + grid.size)
                yield PatchData(
                    patch,
                    pixels[:, :, cols],
                    valid[:, cols],
                    None if labels is None else labels[:, :, cols],
                    None if inside is None else inside[:, cols],
                    in_mask and inside is not None,
                )


def _tile_label_rasters(images, masks, outdir, palette, **tile_args) -> TileSummary:
    """Tile with colour label rasters as masks: class-id masks are made on each image's
    grid in a temporary folder (geotile.label_rasters), then tiled as usual."""
    import tempfile

    from geotile.label_rasters import check_placeable, make_masks_from_raster

    if masks is None:
        raise InputError("--palette maps the colours of label rasters given as --masks; "
                         "give --masks.")
    for image, label in zip(images, masks, strict=True):  # headers, before any is converted
        check_placeable(label, [image])
    with tempfile.TemporaryDirectory(prefix="geotile-masks-") as folder:
        converted = []
        for image, label in zip(images, masks, strict=True):
            target = Path(folder) / f"{image_stem(image)}.tif"
            make_masks_from_raster(label, [image], [target], palette=palette)
            converted.append(target)
        # the label rasters and the palette stand for the masks in the resume digests: the
        # temporary masks get a new name and time on every run
        return tile_rasters(images, converted, outdir, masks_from=(list(masks), palette),
                            **tile_args)


def _tile_class_folders(images, folders, outdir, **tile_args) -> TileSummary:
    """Tile with a folder of binary masks per class as masks: a multi-label mask (a 0/1
    band per class) is made on each image's grid in a temporary folder
    (geotile.class_folders), then tiled as usual."""
    import tempfile

    from geotile.class_folders import describe, pair_class_files, write_class_mask

    log.info("%s", describe(folders))
    if tile_args["options"].fmt == "png" and len(folders.classes) > 4:
        raise InputError(f"--masks {folders.root}: {len(folders.classes)} class folders make "
                         "masks of as many bands, and PNG holds 1 to 4. Use --format tif or "
                         "--format npy.")
    paired = pair_class_files(images, folders)
    with tempfile.TemporaryDirectory(prefix="geotile-masks-") as folder:
        made = []
        for image, (files, validity) in zip(images, paired, strict=True):
            target = Path(folder) / f"{image_stem(image)}.tif"
            write_class_mask(image, folders.classes, files, validity, target)
            made.append(target)
        # the class and validity files stand for the masks in the resume digests
        sources = [tuple(f for f in (*files, *validity) if f is not None)
                   for files, validity in paired]
        return tile_rasters(images, made, outdir,
                            masks_from=(sources, {"class_folders": list(folders.classes)}),
                            **tile_args)


def _files_of(entries) -> list:
    """``entries`` (paths, or tuples of paths standing for one mask) as one list of paths."""
    return [p for entry in entries or []
            for p in (entry if isinstance(entry, tuple) else (entry,))]


def _check_patch_names(images, stems, fmt: str, outdir) -> None:
    """InputError naming the image whose shortest patch name (``<stem>_0_0.<fmt>``) is
    longer than the file system takes (a name legal for the image, a few bytes short)."""
    folder = _nearest_folder(Path(outdir))
    try:
        limit = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # not told (Windows): 255, as most
        limit = 255
    for image, stem in zip(images, stems, strict=True):
        size = len(os.fsencode(f"{stem}_0_0.{fmt}"))
        if size > limit:
            raise InputError(f"{image}: its patches would be named <name>_<row>_<col>.{fmt}, "
                             f"{size} bytes or more, too long for this file system ({limit}); "
                             f"nothing was written. Give it a name of at most "
                             f"{limit - size + len(os.fsencode(stem))} bytes (rename it, or "
                             "make a link of that name to it).")


def _nearest_folder(path: Path) -> Path:
    """``path`` or its nearest parent that exists."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


@with_read_settings
def tile_rasters(
    images: str | os.PathLike | Sequence[str | os.PathLike],
    masks: str | os.PathLike | Sequence[str | os.PathLike] | None,
    outdir: str | os.PathLike,
    *,
    options: TileOptions = TileOptions(),
    overwrite: bool = False,
    progress: bool = False,
    annotations=None,
    extra_bands=None,
    extra_resampling: str = "auto",
    resume: bool = False,
    palette=None,
    masks_from=None,
) -> TileSummary:
    """Cut every image (and its mask) into patches under ``outdir`` with an index.csv.

    ``images``: one path or a sequence of paths. ``masks``: one file per image, or a folder
    or glob pattern of masks named after the images (see :func:`~geotile.mask_pairing.pair_masks`).
    ``annotations`` (a :class:`geotile.annotations.AnnotationOptions`) also writes each
    patch's labels clipped to it, and COCO or YOLO-seg annotations.

    ``outdir`` is new, empty, or an earlier output of this function (replaced only with
    ``overwrite``, and only the files it wrote: see :mod:`geotile.output_folder`). The
    patches appear when all are written; an error or interrupt leaves ``outdir`` as it was.
    ``extra_bands``: rasters (one per image, or a folder) whose bands are stacked after the
    image's (see :mod:`geotile.extra_bands`); several for one image, or a folder each, are
    its further dates (paired as predict pairs them), stacked in date order: index.csv's
    ``dates`` column and the patches' GEOTILE_DATES tag name their files (a JSON list, as a
    name may hold ';' or ','), GEOTILE_DATE_BANDS the bands of each, so that a (T*C, H, W)
    patch reshapes to (T, C, H, W).

    Each image is cut into a folder of its own in ``outdir/.geotile-tile-parts.tmp``, finished
    by a completion record written last; the folder goes when the run ends (and, without
    ``resume``, when it fails).
    ``resume``: a run killed before it ended keeps the images it finished, and an ``outdir``
    complete for the same options and inputs (its marker's digest) is left as it is; an
    earlier output of other options or input files is refused
    (:func:`~geotile.tile_resume.check_resumable`).
    ``palette`` (``potsdam`` or a palette file/dict): the masks are colour label rasters,
    turned into class-id masks on each image's grid first (as ``make-masks --palette``);
    ``masks_from`` ((label rasters, palette)) is how: they stand for those masks in the
    completion digests.
    """
    from geotile.extra_bands import pair_extra_bands
    from geotile.input_files import refuse_given_twice
    from geotile.output_folder import staged_folder

    images = without_elevation(without_masks(as_paths(images), masks), masks)
    refuse_given_twice(images)
    stems = [image_stem(p) for p in images]
    if len(set(stems)) != len(stems):  # before pairing masks: by these names
        shared = sorted({s for s in stems if stems.count(s) > 1})
        raise InputError(f"images share a file name ({', '.join(shared)}): their patches "
                         "would collide. Rename them.")
    _check_patch_names(images, stems, options.fmt, outdir)
    from geotile.class_folders import class_folders

    if (folders := class_folders(as_paths(masks) if masks else None)) is not None:
        if palette is not None:
            raise UsageError(f"--palette maps colour label rasters; --masks {folders.root} "
                             "holds a folder of binary masks per class. Leave out --palette.")
        return _tile_class_folders(images, folders, outdir, options=options,
                                   overwrite=overwrite, progress=progress,
                                   annotations=annotations, extra_bands=extra_bands,
                                   extra_resampling=extra_resampling, resume=resume)
    masks = pair_masks(images, masks)
    if palette is not None:
        return _tile_label_rasters(images, masks, outdir, palette, options=options,
                                   overwrite=overwrite, progress=progress,
                                   annotations=annotations, extra_bands=extra_bands,
                                   extra_resampling=extra_resampling, resume=resume)
    # several for one image, or a folder each: its further dates, in order (as predict)
    extras = pair_extra_bands(images, extra_bands, dates=True)
    extras = [tuple(e) if isinstance(e, list) else e for e in extras] if extras else extras
    # in name order: index.csv, COCO ids and split lists do not depend on the order given
    order = sorted(range(len(images)), key=stems.__getitem__)
    images, stems = [images[i] for i in order], [stems[i] for i in order]
    masks = [masks[i] for i in order] if masks else masks
    extras = [extras[i] for i in order] if extras else extras
    if masks_from is not None:  # the label rasters stand for each image's mask: paired too
        masks_from = ([masks_from[0][i] for i in order], masks_from[1])
    if options.skip_empty and masks is None:
        raise UsageError("--skip-empty needs --masks (it drops patches with no positive pixel)")
    refuse_complex_inputs(images, masks, extras)
    if options.fmt == "png":  # every input, before any patch is cut
        warn_16_bit_png([image for i, image in enumerate(images) if check_png(
            image, masks[i] if masks else None, extras[i] if extras else None)])
        # a mask of 2 or 4 bands (independent classes: a 0/1 band each) likewise; one made
        # in a temporary folder (class folders, label rasters) is named by its image
        warn_png_alpha([(image, band) for i, image in enumerate(images) if (
            band := png_alpha_band(image, extras[i] if extras else None))] + [
            (f"the mask of {images[i]}" if masks_from else mask, band)
            for i, mask in enumerate(masks or []) if mask is not None and (
                band := png_alpha_band(mask))])
    check_grids(images, masks)
    check_paletted_with_extra(images, extras, options.fmt)
    check_dates(images, extras, extra_resampling)
    check_mask_classes(masks)
    if annotations is not None:  # numbered as the masks number their classes
        annotations = annotations.named_by(masks, masks_from and masks_from[0])
    zeros_nodata = warn_masks_zero_nodata(masks)
    zeros_binary = _zeros_are_binary(images, masks, options)
    if zeros_binary and options.fmt != "tif":  # some 0/255 mask is padded
        warn(
            f"0/255 masks (255: the building) are padded with 0, background, in {options.fmt} "
            "mask patches, which hold no mask band to mark it (index.csv's nodata_fraction "
            "counts it). Use --format tif to have the padding marked.",
            GeotileWarning)
    if options.fmt != "tif":
        warn_mask_band_lost(images, options.fmt)
    summary = TileSummary(Path(outdir))
    digests = _part_digests(images, masks, extras, options, masks_from,
                            (zeros_binary, zeros_nodata))
    labelled = annotations.settings() if annotations is not None else None
    # the labels file, or each image's file of a label folder (its image without one refused)
    label_files = dict.fromkeys(annotations.files_of(images)) if annotations is not None else []
    run_digest = resume_digest("tile", {"parts": digests, "annotations": labelled},
                               list(label_files))
    run_key = _run_key(images, masks, extras, options, masks_from, labelled)
    if resume:  # a finished run: nothing to read
        finished = _finished_run(Path(outdir), run_digest)
        if finished is not None:
            remove_leftovers(Path(outdir), run_key,  # of this run, killed once in place
                              [image_stem(i) for i in images])
            return finished
        if not overwrite and holds_geotile_output(Path(outdir)):
            check_resumable(Path(outdir), run_key)
            _say_other_code(Path(outdir))
            overwrite = True
    patch_labels = None
    if annotations is not None:  # read and checked before any patch is cut
        from geotile.annotations import read_patch_labels

        patch_labels = read_patch_labels(images, annotations)
    plan = None
    if options.split is not None:
        kept = None  # the proportions are those of the patches filtering keeps
        if options.skip_empty or options.max_nodata is not None:
            kept = [_kept_patches(image, masks[i] if masks else None,
                                  extras and (extras[i], extra_resampling), options,
                                  zeros_nodata)
                    for i, image in enumerate(images)]
        warn_overlapping(images)
        plan = SplitPlan.make([_grid_of(image, options) for image in images], stems,
                              options.split, options.seed, kept)
    parts = parts_folder(outdir)
    made = [p for p in parts.parents if not p.exists()]  # removed again on failure
    lock = None
    about: dict = {}
    all_nodata: dict = {}  # image -> its patches, every one entirely nodata
    try:
        read = [*images, *(masks or []), *_files_of(extras), *label_files,
                *_files_of(masks_from[0] if masks_from else [])]  # never among the files replaced
        with staged_folder(outdir, overwrite, inputs=read, about=about) as tmp:
            lock = lock_parts(parts)  # one run at a time in outdir: the others are refused
            # a killed run's staging folders (no other run is writing now: the lock)
            remove_staging(Path(outdir), keep=tmp.name)
            if not resume:  # left by a killed run: start afresh
                empty_folder(parts)
            # what a --resume of this run, if killed, may replace
            (parts / RUN_RECORD).write_text(json.dumps({"run": run_key, "overwrite": overwrite}),
                                            encoding="utf-8")
            (tmp / "images").mkdir()
            if masks is not None:
                (tmp / "masks").mkdir()
            with (tmp / "index.csv").open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                # a run of several dates: each patch's dates' files, in order
                writer.writerow(INDEX_COLUMNS + (("dates",) if extras and isinstance(
                    extras[0], tuple) else ()))
                for number, image in enumerate(images):
                    mask = masks[number] if masks is not None else None
                    extra = extras and (extras[number], extra_resampling)
                    rows = _tile_part(image, mask, tmp, parts / image_stem(image),
                                      digests[number], writer, options, summary, progress,
                                      plan, number, extra, zeros_binary, zeros_nodata)
                    column = INDEX_COLUMNS.index("nodata_fraction")
                    if rows and all(float(row[column]) == 1 for row in rows):
                        all_nodata[image] = len(rows)
            if len(summary.skipped_images) == len(images):  # nothing to train on
                (image, why), *others = summary.skipped_images.items()
                more = f" (and {len(others)} more images)" if others else ""
                raise InputError(f"{image}{more}: {why}")
            if annotations is not None:  # per-patch labels, published with the patches
                from geotile.annotations import write_patch_labels

                write_patch_labels(tmp, images, annotations, patch_labels, SPLIT_NAMES)
            counts = {k: v for k, v in summary.to_dict().items() if k != "outdir"}
            about.update(complete=run_digest, run=run_key, summary=counts)
    except Interrupted:
        if not resume:
            forget_parts(parts, lock, made)
            raise
        if _finished_run(Path(outdir), run_digest) is not None:  # interrupted once in place
            empty_folder(parts)  # nothing left to go on from
            with contextlib.suppress(OSError):
                parts.rmdir()
            raise
        finished = sum(read_record(parts / image_stem(image) / "complete.json")
                       .get("complete") == digest
                       for image, digest in zip(images, digests, strict=True))
        raise Interrupted(f"{outdir}: interrupted; nothing was published there. The "
                          f"{finished} of {len(images)} images finished are kept in {parts}: "
                          "run the same command with --resume to go on from them.") from None
    except BaseException as exc:
        if not resume:
            forget_parts(parts, lock, made)
            raise
        finished = keep_finished(parts, lock, images, digests)
        if not finished and not overwrite:  # the record of a killed --overwrite run stays
            forget_record(parts, lock, made)
        if finished and isinstance(exc, GeotileError) and \
                _finished_run(Path(outdir), run_digest) is None:
            raise type(exc)(f"{exc} The {finished} of {len(images)} images finished are kept "
                            f"in {parts}: run the same command with --resume to go on from "
                            "them.") from exc
        raise
    else:
        empty_folder(parts)
        with contextlib.suppress(OSError):
            parts.rmdir()
    finally:
        if lock is not None:
            os.close(lock)  # after the folder went: a run waiting on it makes a new one
    for image, why in summary.skipped_images.items():
        warn(f"{image}: skipped, no patch: {why}", GeotileWarning)
    if options.max_nodata is None:  # else kept as asked (--max-nodata 1)
        for image, count in all_nodata.items():
            warn(
                f"{image}: all {count} of its patches are entirely nodata (index.csv's "
                "nodata_fraction 1.0), written as no --max-nodata was given. Pass "
                "--max-nodata 0.99 to leave such patches out, or check the image's nodata "
                "value.", GeotileWarning)
    if options.split is not None:
        empty = [name for name, fraction in zip(SPLIT_NAMES, options.split, strict=False)
                 if fraction > 0 and not summary.per_split.get(name)]
        if empty:
            warn(
                f"no patch in {' and '.join(empty)}: the images hold too few patches for "
                f"--split {','.join(f'{f:g}' for f in options.split)} (splits go by spatial "
                "blocks). Give more or larger images, a smaller --size, or other fractions.",
                GeotileWarning)
    return summary


#: what a patch holds beyond its pixels; raised when that changes, so --resume redoes the
#: patches of older runs (2: mask bands, padding as the masks' ignore value, GCPs/RPCs;
#: 3: every mask patch declares the mask's nodata; 4: 0/255 masks found from every pixel,
#: the source's colour interpretation kept; 5: mask patches name the mask's classes; 6: a
#: 0/255 mask's declared nodata 0 is background; 7: a paletted 0/255 mask is one, and 255
#: of a class mask counts as nodata, declared or not; 8: also beside another declared nodata;
#: 9: GEOTILE_ZERO=nodata on mask patches whose nodata 0 is no data; 10: a negative id of
#: an integer mask counts as nodata; 11: so do the ids its names call no data)
PATCH_FORMAT = 11


def _part_digests(images, masks, extras, options: TileOptions, masks_from=None,
                  zeros: tuple[bool, bool] = (False, False)) -> list[str]:
    """The completion digest of each image's patches (a split depends on every image);
    ``masks_from``: (label rasters, palette) the masks were made from, standing for them;
    ``zeros``: all-0 masks pad as 0/255 ones; the run reads a nodata 0 as no data."""
    settings: dict = {"options": dataclasses.asdict(options), "masks": masks is not None,
                      "patches": PATCH_FORMAT, "zeros_binary": zeros[0],
                      "zeros_nodata": zeros[1]}
    palette_file = []  # a palette file's contents decide the ids: an input, as in make-masks
    if masks_from is not None:
        masks, settings["palette"] = masks_from[0], masks_from[1]
        if isinstance(masks_from[1], str | os.PathLike) and Path(masks_from[1]).is_file():
            settings["palette"], palette_file = resume_identity(masks_from[1])[0], \
                [masks_from[1]]
    if options.split is not None:
        settings["split_over"] = [resume_identity(p) for p in images]
    return [resume_digest("tile", settings,
                          [image, *(_files_of([masks[i]]) if masks is not None else []),
                           *(_files_of([extras[i]]) if extras else []), *palette_file])
            for i, image in enumerate(images)]


def _run_key(images, masks, extras, options: TileOptions, masks_from, annotations) -> str:
    """The options and the input files' paths of a run (not their contents, geotile's version
    or the patch format): an output of the same key is one --resume may cut again.
    ``annotations``: :meth:`geotile.annotations.AnnotationOptions.settings`, or None."""
    from geotile.resume import settings_key

    palette = None
    if masks_from is not None:  # a palette's name or mapping as it is, a file as a file
        masks, palette = masks_from
        if isinstance(palette, (str, os.PathLike)) and Path(palette).is_file():
            palette = resume_identity(palette)[0]
    return settings_key("tile", {
        "options": dataclasses.asdict(options), "annotations": annotations,
        "palette": palette if isinstance(palette, (str, dict, type(None))) else repr(palette),
        "files": [[resume_identity(p)[0] for p in _files_of(group)]
                  for group in (images, masks, extras)]})


def _say_other_code(outdir: Path) -> None:
    """The one line of --resume redoing an output folder that another geotile finished."""
    from geotile.output_folder import MARKER

    say_other_code(read_record(outdir / MARKER).get("complete"))


def _finished_run(outdir: Path, run_digest: str) -> TileSummary | None:
    """The summary of ``outdir`` when its marker says it is complete for ``run_digest``."""
    from geotile.output_folder import MARKER

    about = read_record(outdir / MARKER)
    if about.get("complete") != run_digest or not all(
            (outdir / name).is_file() for name in about.get("files", [])):
        return None
    counts = {k: v for k, v in about.get("summary", {}).items() if k != "outdir"}
    return TileSummary(outdir, **counts)


class _Rows(list):
    """Collects index rows (a csv writer's writerow)."""

    def writerow(self, row) -> None:
        self.append(list(row))


def _tile_part(image, mask, staging, part, complete, writer, options, summary, progress, plan,
               number, extra=None, zeros_binary=False, zeros_nodata=False) -> list:
    """Cut one image into ``part`` (unless a completion record equal to ``complete`` says it
    already was), then link its patches into ``staging`` and add its rows and counts: its
    index rows."""
    record = part / "complete.json"
    done = read_record(record)
    if done.get("complete") != complete:
        say_other_code(done.get("complete"))  # a killed run of another geotile's
        shutil.rmtree(part, ignore_errors=True)
        for sub in ("images", "masks") if mask is not None else ("images",):
            (part / sub).mkdir(parents=True)
        rows, counts = _Rows(), TileSummary(part)
        _tile_one(image, mask, part, rows, options, counts, progress, plan, number, extra,
                  zeros_binary, zeros_nodata)
        done = {"complete": complete, "rows": rows, "summary": counts.to_dict()}
        (part / "complete.json.part").write_text(json.dumps(done), encoding="utf-8")
        os.replace(part / "complete.json.part", record)  # last: the part is complete
    for row in done["rows"]:
        for name in row[:2]:
            if name:
                _link(part / name, staging / name)
        writer.writerow(row)
    counts = done["summary"]
    summary.written += counts["written"]
    summary.skipped_empty += counts["skipped_empty"]
    summary.skipped_nodata += counts["skipped_nodata"]
    summary.excluded_gap += counts["excluded_gap"]
    for key, value in counts["per_split"].items():
        summary.per_split[key] = summary.per_split.get(key, 0) + value
    summary.skipped_images.update(counts.get("skipped_images", {}))
    return done["rows"]


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # no hard links here
        shutil.copy2(source, target)


def _grid_of(image: str | Path, options: TileOptions) -> Grid:
    from geotile.raster import open_raster

    with open_raster(image) as src:
        return Grid(src.width, src.height, options.size, options.overlap, options.edge)


def _kept_patches(image, mask, extra, options: TileOptions,
                  zeros_nodata: bool = False) -> np.ndarray:
    """Which patches of ``image``'s grid ``skip_empty`` and ``max_nodata`` keep (a boolean
    array of the grid's shape), from the values the tiling pass reads."""
    from geotile.extra_bands import open_dates
    from geotile.raster import check_pixels_readable, may_hold_nodata, open_raster

    with open_raster(image) as src, (
        open_raster(mask) if mask else contextlib.nullcontext()
    ) as mask_src:
        check_pixels_readable(src)
        if mask_src is not None:
            check_pixels_readable(mask_src)
            check_mask_grid(src, mask_src)
        grid = Grid(src.width, src.height, options.size, options.overlap, options.edge)
        kept = np.zeros(grid.shape, bool)
        binary = mask_src is not None and is_binary_0_255(mask_src)  # strays below 128: 0
        probability = probability_mask(mask_src)
        ignore_values = mask_ignore_values(mask_src, binary, zeros_nodata) \
            if mask_src is not None and probability is None else ()
        zero_class = names_zero_class(mask_src)
        band = counted_band(mask_src)  # make-masks' footprint, wherever --channels put it
        nodata = options.max_nodata is not None
        # the image's nodata counts for max_nodata, and for skip_empty where the mask's
        # pixels on it are written as ignored (_fractions): no building there
        read_image = nodata or (options.skip_empty and 255 in ignore_values and not binary
                                and (may_hold_nodata(src) or bool(extra)))
        # the padding's fill counts for nothing (it is never positive, always nodata);
        # else only the mask counts: read once, as the pixels
        with (open_dates(extra[0], src, extra[1]) if extra and read_image
              else contextlib.nullcontext()) as extra_src, contextlib.closing(
                iter_patches(src, mask_src, grid, extra_src, mask_fill=0) if read_image
                else _mask_patches(mask_src, grid)) as patches:
            for data in patches:
                nodata_fraction, positive = _fractions(data, ignore_values, zero_class,
                                                       binary, probability, band)
                kept[data.patch.row, data.patch.col] = not (
                    (nodata and nodata_fraction > options.max_nodata)
                    or (options.skip_empty and not positive))
    return kept


def _mask_patches(mask_src, grid: Grid) -> Iterator[PatchData]:
    """The patches of ``mask_src`` as masks (its valid pixels: mask_valid), read once."""
    with contextlib.closing(iter_patches(mask_src, None, grid)) as patches:
        for data in patches:
            yield replace(data, mask=data.pixels, mask_valid=data.valid)


def _tile_one(image, mask, outdir, writer, options, summary, progress, plan, number,
              extra=None, zeros_binary=False, zeros_nodata=False) -> None:
    from geotile.extra_bands import dated_band_metadata, dates_named, open_dates
    from geotile.input_paths import input_path, source_name
    from geotile.nitf_files import warn_nitf
    from geotile.no_georef import warn_if_not_georeferenced
    from geotile.planet_files import warn_unclear
    from geotile.progress import progress_bar
    from geotile.raster import check_pixels_readable, common_dtype, open_raster
    from geotile.tiff_pages import warn_other_pages
    from geotile.vrt_views import warn_vrt_gap

    label = input_path(image)  # its name (a URL's without its ?query)
    source = source_name(image)  # index.csv's: a SAFE's by its product
    stem = image_stem(image)  # a STAC Item's id

    with open_raster(image) as src, (
        open_raster(mask) if mask else contextlib.nullcontext()
    ) as mask_src, (open_dates(extra[0], src, extra[1]) if extra
                    else contextlib.nullcontext()) as extra_src:
        check_pixels_readable(src)
        if mask_src is not None:  # a refused mask: no warning about the image before
            check_pixels_readable(mask_src)
            check_mask_grid(src, mask_src)
        warn_if_not_georeferenced(src, "the patches and their index.csv bounds",
                                  mask=mask, name=label.name)
        warn_other_pages(src, label.name)
        warn_nitf(src, label.name, "the patches and their index.csv bounds")
        warn_vrt_gap(src, label.name, "become patches of valid pixels")
        warn_unclear(src, image, "become patches")  # a Planet udm2's clouds
        if mask_src is not None:
            warn_if_colour_labels(mask_src, image)
            warn_if_lossy_mask(mask_src)
        count, dtype = src.count, common_dtype(src)
        if extra_src is not None:  # the patches hold both rasters' bands
            count, dtype = count + extra_src.count, np.result_type(dtype, extra_src.dtype)
        grid = Grid(src.width, src.height, options.size, options.overlap, options.edge)
        if len(grid) == 0:  # skipped: refused when no image yields a patch (tile_rasters)
            summary.skipped_images[str(image)] = (
                f"{src.width}x{src.height} px is smaller than the {options.size} px patch, "
                "so --edge drop leaves no patch. Use --edge pad or a smaller --size.")
            return
        # 0/255 or not: read from every pixel, so only when some patch is padded
        # (or masked by its alpha band)
        binary = mask_src is not None and (_pads(grid) or bool(mask_alpha_bands(mask_src))) \
            and is_binary_0_255(mask_src, zeros_binary)
        writers = PatchWriter(src, outdir, options.fmt, mask_src,
                              creation_options=options.creation_options, mask_binary=binary,
                              zeros_nodata=zeros_nodata)
        dates = [] if not extra or not isinstance(extra[0], tuple) else \
            dates_named([image, *extra[0]])  # a multi-temporal model's
        if extra_src is not None or len({repr(v) for v in src.nodatavals}) > 1:
            # no nodata value: GeoTIFF has one for all bands, and the image's would mark
            # valid extra-band values (0 m heights) as nodata; the mask band marks them
            more = extra_src.band_metadata() if extra_src is not None else ()
            writers.image_profile = writers._profile(
                src, count, dtype.name, None,
                more=dated_band_metadata(src, extra_src) if dates else more)
            if dates and "_meta" in writers.image_profile:  # how to make it (T, C, H, W)
                writers.image_profile["_meta"]["tags"].update(
                    GEOTILE_DATES=json.dumps(dates), GEOTILE_DATE_BANDS=str(src.count))
        writers.check_creation_options(grid.size)
        kept = dropped_nodata = 0
        padding_drops, least_nodata = False, 1.0
        zero_class = names_zero_class(mask_src)
        band = counted_band(mask_src)  # make-masks' footprint, wherever --channels put it
        positive_128 = mask_src is not None and (binary or is_binary_0_255(mask_src))
        probability = probability_mask(mask_src)
        ignore_values = mask_ignore_values(mask_src, positive_128, zeros_nodata) \
            if mask_src is not None and probability is None else ()
        writers.ignore(ignore_values)
        # patches waiting for the pool: 64, or as many as make BAND_PIXELS (each holds the
        # run of patches it was read with), two at least: one being written, one waiting
        most_pending = max(2, min(64, BAND_PIXELS // grid.size ** 2))
        # the reader thread stops before the datasets close, whatever holds the patches
        with ThreadPoolExecutor(max_workers=2) as pool, contextlib.closing(iter_patches(
                src, mask_src, grid, extra_src, writers.mask_fill)) as patches:
            pending = []
            for data in progress_bar(patches, progress, total=len(grid), desc=label.name,
                                     unit="patch"):
                patch = data.patch
                nodata_fraction, positive = _fractions(data, ignore_values, zero_class,
                                                       positive_128, probability, band)
                if options.max_nodata is not None and nodata_fraction > options.max_nodata:
                    dropped_nodata += 1
                    least_nodata = min(least_nodata, nodata_fraction)
                    if not padding_drops:  # would it be kept without its padding?
                        inside = data.valid[:patch.valid_height, :patch.valid_width]
                        padding_drops = 1 - inside.mean() <= options.max_nodata
                    continue
                if options.skip_empty and not positive:
                    summary.skipped_empty += 1
                    continue
                split = ""
                if plan is not None:
                    split = plan.split_of(number, patch)
                    if split is None:
                        summary.excluded_gap += 1
                        continue
                    summary.per_split[split] = summary.per_split.get(split, 0) + 1
                name = f"{stem}_{patch.row}_{patch.col}"
                image_rel, mask_rel = writers.names(name)
                pending.append(pool.submit(writers.write, data, image_rel, mask_rel))
                if len(pending) > most_pending:  # memory bounded while the pool catches up
                    pending.pop(0).result()
                minx, miny, maxx, maxy = patch.bounds(src.transform)
                writer.writerow([
                    image_rel, mask_rel or "", source, patch.row, patch.col, patch.x_off,
                    patch.y_off, patch.width, patch.height, _fmt(minx), _fmt(miny), _fmt(maxx),
                    _fmt(maxy), "" if positive is None else _fmt(positive),
                    _fmt(nodata_fraction), split, *([json.dumps(dates)] if dates else []),
                ])
                kept += 1
            for future in pending:
                future.result()
        summary.written += kept
        summary.skipped_nodata += dropped_nodata
        if kept == 0 and dropped_nodata == len(grid):
            why = ("(the raster holds no or almost no valid pixels). Check the file or raise "
                   "--max-nodata.")
            if least_nodata < 0.5:  # a collar or scattered nodata in every patch
                why = (f"(the least {least_nodata:.0%}, from nodata within the raster). Raise "
                       "--max-nodata.")
            if padding_drops and min(src.width, src.height) < options.size:
                # every --edge pads an image smaller than the patch: shifting does not help
                why = (f"counting the padding past the raster's edge ({src.width}x{src.height} "
                       f"px, smaller than the {options.size} px patch). Use a smaller --size "
                       "or a higher --max-nodata.")
            elif padding_drops:
                why = ("counting the padding past the raster's edge. Use --edge shift, a "
                       "smaller --size or a higher --max-nodata.")
            summary.skipped_images[str(image)] = (
                f"every patch has more than {options.max_nodata:g} nodata {why}")
        log.info("%s: %d patches kept of %d (%d mostly nodata)", label.name, kept, len(grid),
                 dropped_nodata)


def _fmt(value: float) -> str:
    # the shortest text that reads back as the same float: a fraction of 1 px in 2.25 M is
    # 4.444444444444445e-07, never 0.000000
    return repr(float(value))


