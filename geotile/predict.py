"""Streaming inference over whole orthotiles with blended overlapping windows.

Pipeline, per image (one model session serves every image)::

    the image in vertical strips (--block-size px wide), each top to bottom:
    reader thread:  read a band of the strip's rows (one grid row, tile-size tall)
                    -> cut patches -> normalise -> batch
    main thread:    model (+TTA, undone)
    blend thread:   weight window -> accumulate in the strip's row band
    writer thread:  finished blocks -> uint8 / float32 / class ids -> GeoTIFF

Windows come from :class:`~geotile.grid.Grid` with ``edge="pad"``, so every
pixel is predicted and all patches have the tile size. A strip's rows above the
next grid row's top are final once a grid row is done; they are written and
freed, and the sums its windows leave right of its edge are carried to the next
strip (:func:`predict_blocks`), so memory follows the block and tile size, never
the image's width or height.

Nodata input pixels are zeroed after normalisation, never fed as raw values. They
are GDAL's (the dataset mask): masked by a mask or alpha band, or every band at the
nodata value; in a float image also any band NaN or at its nodata value. A band alone
at the nodata value in an integer image is fed as that value: with nodata 0, an RGB
pixel of no red is dark, not missing. The edge strips of a 16-bit scene where one band
is 0 are fed so too; a mask band (or alpha) leaves them out. Patches that are entirely
nodata are not run; nodata pixels are nodata in the output (see the output formats in
:func:`predict_raster`). A paletted image (one band of colour-table indices) is read
through its colour table (:func:`~geotile.input_bands.model_view`).

The model is probed once per tile size (:meth:`OnnxModel.geometry`): an output
smaller than its window (valid convolutions) is blended where it lies, in the
window's centre, with at least the overlap that covers every pixel; an
upsampled (integer-downscaled) output leaves its outer half-cell to the
neighbouring window. A model that declares its pixel size (``resolution``, or
``--model-resolution``) runs on the raster resampled to it, and its result is
resampled back onto the raster's grid.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools
import itertools
import logging
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from geotile.affine_math import chain
from geotile.blending import RowBandAccumulator, WeightWindows
from geotile.class_output import (
    CLASS_NODATA,
    background_channel,
    check_class_output,
    class_names,
    class_threshold,
)
from geotile.date_ranges import check_date_ranges, date_range
from geotile.errors import (
    GeotileWarning,
    InputError,
    ModelError,
    check_range,
    check_whole,
)
from geotile.extra_bands import (
    check_date_colours,
    check_date_names,
    check_date_types,
    check_date_values,
    check_two_files,
    date_names,
    each_date,
    two_dates,
    warn_repeated_dates,
)
from geotile.gdal_settings import with_read_settings
from geotile.grid import Grid
from geotile.input_bands import every_date_bands, model_view, select_bands
from geotile.input_range import (
    check_input_range,
    float_top,
    warn_decibels_or_power,
    warn_extra_declared,
    warn_if_unscaled,
    warn_unscaled,
    whole_range_advice,
)
from geotile.model import DEFAULT_TILE_SIZE, DEPTH_OUTPUT
from geotile.model_pixel import (
    check_one_nodata,
    model_pixel,
    mosaic_resampling,
    refuse_complex,
    refuse_unpredictable,
    scale_unknown,
)
from geotile.non_finite_output import NonFiniteOutput, finite_where_valid, placed_error
from geotile.prediction_output import (
    block_width,
    describe_output,
    overview_resampling,
    write_bands,
    write_sidecar,
    writes_mask,
)
from geotile.resume import REPLACE, SKIP, completed_as
from geotile.resume import TAG as COMPLETE_TAG
from geotile.resume import plan as resume_plan
from geotile.stage_clock import StageClock
from geotile.streaming import DEFAULT_BLOCK_SIZE, MIN_BLOCK_SIZE, MIN_TILE_SIZE
from geotile.tta import TTA_TRANSFORMS
from geotile.user_warnings import warn

if TYPE_CHECKING:
    from rasterio.windows import Window

log = logging.getLogger("geotile")

OUTPUT_TYPES = ("probability", "class")
#: pixels per model run when --batch-size is not given: on CPU, where a batch's activations
#: are the process's memory (a 16-channel convnet holds ~115 MB per 512 px window) and the
#: batch size does not change the speed, 2 windows of 512 px; on a GPU 16 of 256 px (on an
#: H200, a ResNet18 U-Net's 6000 px orthotile took 0.69 s in batches of 16, 1.26 s in 64)
CPU_BATCH_PIXELS = 2 * 512 * 512
GPU_BATCH_PIXELS = 4 * 512 * 512
CPU_PROVIDER = "CPUExecutionProvider"
#: overlap of windows for a model that declares none: 25 % gave the same object F1 and
#: pixel IoU as 50 % with 2.25x fewer windows per pixel (benchmarks/RESULTS.md, overlap)
DEFAULT_OVERLAP = 0.25
DTYPES = ("uint8", "float32")
#: batches stacked ahead of the model (in the reader thread); with those being run and
#: BLENDS_BEHIND, what a strip holds beyond its band
BATCHES_AHEAD = 2
#: batches running at once on GPU providers (one's copies overlap the other's kernels)
IN_FLIGHT = 2
#: threads stacking windows into batches on GPU providers
STACKERS = 4
#: batches whose outputs may wait to be blended
BLENDS_BEHIND = 4
#: rows that may wait to be finished (their masks, then their blocks, are memory): rows of
#: nodata alone, run by no batch, would otherwise queue as fast as they are read
ROWS_BEHIND = 16
@dataclass(frozen=True)
class PredictOptions:
    """How a model is run over an image. None means: from the model, else the default."""

    tile_size: int | None = None
    overlap: float | None = None  # pixels when >= 1, else a fraction of the tile
    blend: str = "bilinear"
    #: windows per model run; None: as many as make BATCH_PIXELS (see batch_size_for)
    batch_size: int | None = None
    tta: str = "none"
    bands: tuple[int, ...] | None = None
    output_type: str = "probability"
    threshold: float | None = None
    dtype: str = "float32"
    cog: bool = False
    #: the outputs are merged into a COG (--merge .tif): --co must suit the COG driver too
    merge_cog: bool = False
    creation_options: dict = field(default_factory=dict)
    #: model pixel size in metres; None: the model's metadata; "native": never resample
    model_resolution: float | str | None = None
    #: predict works in vertical strips of this many px (memory: a band of one strip)
    block_size: int = DEFAULT_BLOCK_SIZE

    def __post_init__(self) -> None:
        if isinstance(self.bands, str | list | tuple):  # "B04,B03,B02", as in --bands
            object.__setattr__(self, "bands", parse_bands(self.bands))
        res = self.model_resolution
        if res is not None and res != "native" and not (
                isinstance(res, int | float) and math.isfinite(res) and res > 0):
            raise InputError(f"--model-resolution {res}: give metres per pixel (> 0) or native")
        if self.output_type not in OUTPUT_TYPES:
            raise InputError(f"output type must be one of {OUTPUT_TYPES}")
        if self.dtype not in DTYPES:
            raise InputError(f"dtype must be one of {DTYPES}")
        from geotile.blending import PROFILES

        for option, value, names in (("--tta", self.tta, TTA_TRANSFORMS),
                                     ("--blend", self.blend, PROFILES)):
            if not isinstance(value, str) or value not in names:
                raise InputError(f"{option} {value!r} must be one of {', '.join(names)}")
        check_whole(self, "tile_size", "--tile-size", MIN_TILE_SIZE)
        check_whole(self, "batch_size", "--batch-size", 1)
        check_whole(self, "block_size", "--block-size", MIN_BLOCK_SIZE)
        check_range("--threshold", self.threshold, 0, 1)
        check_range("--overlap", self.overlap, 0)
        overlap = self.overlap
        if overlap is not None and not (0 <= overlap < 1 or float(overlap).is_integer()):
            raise InputError(f"--overlap {overlap}: give a fraction below 1 of the tile "
                             "(e.g. 0.25) or whole pixels (e.g. 32).")
        if self.creation_options:  # checked before any work
            from geotile.creation_options import check_creation_options

            classes = self.output_type == "class"
            check_creation_options(self.creation_options, cog=self.cog, categorical=classes,
                                   cog_option=True,
                                   dtype="uint8" if classes else self.dtype)


def parse_bands(value) -> tuple:
    """--bands as the CLI and PredictOptions take it: "1,2,3", "1-50,60" (ranges, both
    ends included) or "B04,B03,B02" (or a list) as a tuple of 1-based band numbers and
    band names."""
    items = value.split(",") if isinstance(value, str) else list(value)
    bands = tuple(band for v in items for band in _band_items(v))
    if any(b == "" for b in bands):
        raise InputError("--bands: give 1-based band numbers or band names, e.g. 1,2,3, "
                         "1,1,1 or B04,B03,B02")
    if any(isinstance(b, int) and b < 1 for b in bands):
        raise InputError("--bands: band numbers start at 1")
    return bands


def _band_items(value) -> list:
    """One item of --bands: a band number, a range of them ("1-50"), else a name."""
    if isinstance(value, int):
        return [value]
    text = str(value).strip()
    if text.lstrip("-").isdecimal():
        return [-_band_number(text.lstrip("-"), text) if text.startswith("-")
                else _band_number(text, text)]
    first, dash, last = (part.strip() for part in text.partition("-"))
    if not (dash and first.isdecimal() and last.isdecimal()):
        return [text]
    first, last = _band_number(first, text), _band_number(last, text)
    if last < first:
        raise InputError(f"--bands: {text} goes down; give a range from the lower band "
                         f"number, e.g. {last}-{first}, or the bands one by one.")
    return list(range(first, last + 1))


def _band_number(digits: str, item: str) -> int:
    """``digits`` of the --bands ``item`` as a number; InputError past the most bands GDAL
    opens a raster with (GDAL_MAX_BAND_COUNT, 65536 by default), before a range of them is
    listed (1-3000000000: all of memory)."""
    most = 65536
    with contextlib.suppress(ValueError):
        most = max(most, int(os.environ.get("GDAL_MAX_BAND_COUNT", "0")[:12]))
    if len(digits.lstrip("0")) > len(str(most)) or int(digits) > most:
        raise InputError(f"--bands: {item:.40} is past band {most}, the most a raster GDAL "
                         "opens holds; give the image's band numbers, e.g. 1-10.")
    return int(digits)


def resolve_tiling(model, options: PredictOptions, quiet: bool = False) -> tuple[int, int]:
    """(tile size, overlap in px) from the options, else the model, else 512 px and
    DEFAULT_OVERLAP.

    The model is probed at that size (one line with the fix if it cannot run so); a model
    whose output covers less than its window gets at least the overlap that covers every
    pixel."""
    size = options.tile_size or model.tile_size or DEFAULT_TILE_SIZE
    if model.fixed_size and size != model.tile_size:
        raise ModelError(f"{model.path.name} takes fixed {model.tile_size} px tiles; "
                         f"--tile-size {size} cannot be used (leave it out).")
    from geotile.streaming import MIN_TILE_SIZE

    declared = getattr(model, "mlm_structure", None)
    # an item's window below MIN_TILE_SIZE is never fed (model.tile_size said so)
    if declared is not None and declared.size not in (None, size) and not quiet \
            and declared.size >= MIN_TILE_SIZE:
        log.warning("%s: --tile-size %d feeds the model %dx%d windows, where %s shape says "
                    "%dx%d (leave --tile-size out to feed those)", model.path.name, size, size,
                    size, declared.where, declared.size, declared.size)
    overlap = options.overlap
    if overlap is None:
        overlap = model.overlap_fraction if model.overlap_fraction is not None \
            else DEFAULT_OVERLAP
    pixels = round(overlap * size) if overlap < 1 else int(overlap)
    if not 0 <= pixels < size:
        given = (f"--overlap {overlap:g}" if options.overlap is not None else
                 f"{model.path.name}: its metadata's tiles_overlap {overlap * 100:g}%")
        fix = "" if options.overlap is not None else "give --overlap "
        raise InputError(f"{given} is {pixels} px of the {size} px tile, which leaves no step "
                         f"between tiles: {fix}at most {size - 1} px.")
    geometry = output_geometry(model, size, batch_size_for(model, size, options))
    needed = size - geometry.out + 2 * geometry.margin
    if pixels < needed:
        if not quiet:
            log.info("%s covers the centre %d px of each %d px window: overlap %d px",
                     model.path.name, geometry.out - 2 * geometry.margin, size, needed)
        pixels = needed
    scale = getattr(geometry, "scale", 1)
    if (size - pixels) % scale:  # a stride of whole output cells
        stride = max(scale, (size - pixels) // scale * scale)
        if not quiet:
            what = ("cuts its input into %d px patches" if geometry.out == size
                    and not geometry.offset and scale == getattr(model, "_patch", None)
                    else "downscales by %d")
            log.info("%s " + what + ": overlap %d px, so that windows start on its cells",
                     model.path.name, scale, size - stride)
        pixels = size - stride
    return size, pixels


def say_windows(model, name: str, shape, size: int, overlap: int, per_run: int,
                options: PredictOptions, whole: str = "") -> None:
    """-v: the windows predict chose for ``name`` (rows x columns; ``whole``: of what) and
    as many a batch as the model runs: no more than the windows, nor than a batch fixed in
    the model (or found to be 1 when probed; 1 where a fixed batch is filled with one
    window repeated); a --batch-size rounded up to the fixed batch is said."""
    step = 1 if getattr(model, "_replicate", False) else getattr(
        model, "fixed_batch", None) or getattr(model, "_chunk", None) or per_run
    rounded = "" if options.batch_size is None or per_run <= options.batch_size else \
        f" (the model's batch is fixed at {step}: --batch-size {options.batch_size} rounded up)"
    per_run = max(1, min(per_run, shape[0] * shape[1], step))
    log.info("%s: %d x %d windows%s of %d px, overlap %d px, %d per batch%s, %s blend%s", name,
             *shape, whole, size, overlap, per_run, rounded, options.blend,
             "" if options.tta == "none" else f", tta {options.tta}")


def batch_size_for(model, size: int, options: PredictOptions) -> int:
    """``--batch-size``, else as many windows as make CPU_BATCH_PIXELS (GPU_BATCH_PIXELS on
    a GPU), at least 1: memory then follows the pixels per batch, not the tile size. Rounded
    up to whole batches of a batch fixed in the model (it runs that many windows anyway),
    unless it is filled with one window repeated, but no further than the windows whose
    outputs fit the memory budget (they are upsampled and blended at full size)."""
    fits = getattr(model, "windows_in_budget", lambda size: 64)(size)  # many classes
    if options.batch_size is not None:
        wanted = options.batch_size
    else:
        budget = CPU_BATCH_PIXELS if getattr(model, "provider", CPU_PROVIDER) == CPU_PROVIDER \
            else GPU_BATCH_PIXELS
        wanted = max(1, min(64, fits, budget // (size * size)))
    fixed = getattr(model, "fixed_batch", None)
    if isinstance(fixed, int) and fixed > 1 and not getattr(model, "_replicate", False):
        return max(wanted, min(-(-wanted // fixed) * fixed, fits))
    return wanted


def output_geometry(model, size: int, batch_size: int):
    """Where the model's output lies in a ``size`` px window (models without geometry, such
    as test doubles, output the whole window)."""
    from geotile.model import Geometry

    probe = getattr(model, "geometry", None)
    return probe(size, batch_size) if probe is not None else Geometry(size, size)


def prepare_band(model, pixels: np.ndarray, valid: np.ndarray,
                 out: np.ndarray | None = None) -> np.ndarray:
    """Normalised float32 (C, rows, cols) for a band (into ``out`` when given); nodata
    pixels become 0 (after normalisation), so the model never sees their raw values."""
    band = model.prepare(pixels[np.newaxis], None if out is None else out[np.newaxis])[0]
    if not valid.all():
        np.copyto(band, 0, where=~valid)  # not a product: NaN pixels stay NaN times 0
    return band


def run_model(model, batch: np.ndarray, tta: str) -> np.ndarray:
    """Probabilities (N, K, s, s) for normalised patches (N, C, s, s), TTA averaged."""
    transforms = TTA_TRANSFORMS[tta]
    if len(transforms) == 1:
        return model.run(batch)
    total = None
    for forward, inverse in transforms:
        out = inverse(model.run(np.ascontiguousarray(forward(batch))))
        total = out if total is None else total + out
    return total / len(transforms)


def repeat_edges(band: np.ndarray, left: int, top: int, width: int, height: int) -> None:
    """Fill what ``band`` (C, rows, cols; its first pixel at column ``left``, row ``top`` of
    a ``width`` x ``height`` raster) holds past the raster with its edge pixels repeated: a
    downscaling model's last cells reach past the edge, and zeros there would pull their
    values (a constant image must stay constant)."""
    rows, cols = band.shape[1:]
    x0, x1 = min(max(0, -left), cols), max(0, min(cols, width - left))
    y0, y1 = min(max(0, -top), rows), max(0, min(rows, height - top))
    if x0 >= x1 or y0 >= y1:  # nothing of the raster in it
        return
    band[:, :, :x0] = band[:, :, x0 : x0 + 1]
    band[:, :, x1:] = band[:, :, x1 - 1 : x1]
    band[:, :y0] = band[:, y0 : y0 + 1]
    band[:, y1:] = band[:, y1 - 1 : y1]


def far_margin(geometry, size: int) -> int:
    """The input a window's output needs past its far side: a valid-convolution model's
    margin (0 for outputs that cover their window)."""
    return size - geometry.offset - geometry.out if getattr(geometry, "scale", 1) == 1 else 0


def without_far_margin(valid: np.ndarray, beyond: int, cols_left: int, rows_left: int
                       ) -> np.ndarray:
    """``valid`` (rows, cols) with its pixels within ``beyond`` px of the raster's far edges
    (``cols_left``/``rows_left`` px past its first column and row) made invalid: a
    valid-convolution model would see padding there, so they are left unpredicted, like
    the near margin (a copy; ``valid`` as it is when there is nothing to take)."""
    if not beyond:
        return valid
    valid = valid.copy()
    valid[max(0, rows_left - beyond) :] = False
    valid[:, max(0, cols_left - beyond) :] = False
    return valid


def window_grid(width: int, height: int, size: int, overlap: int, geometry) -> Grid:
    """The windows over a raster: a regular stride, the last window moved back so that its
    output ends on the raster's edge; what a valid-convolution model's last windows see of
    the padding past it only shapes the far margin, which is left unpredicted
    (:func:`without_far_margin`) like the near one. Windows pad past the edge otherwise only
    on a raster smaller than one output, and by less than a cell where a downscaling model's
    last window would not start on one of its cells."""
    beyond = size - geometry.offset - geometry.out  # input past the output's far side
    scale = getattr(geometry, "scale", 1)

    def extent(n: int) -> int:  # a downscaling model's last window too starts on a cell
        n += beyond
        return n if n <= size or scale == 1 else size + -(-(n - size) // scale) * scale

    return Grid(extent(width), extent(height), size, overlap, "shift")


class BatchBuffer:
    """One array reused for every batch of windows: a fresh 6 MB array per batch costs an
    allocation and the page faults that zero it."""

    def __init__(self) -> None:
        self._array: np.ndarray | None = None

    def take(self, shape: tuple[int, ...], dtype) -> np.ndarray:
        """The array, of ``shape`` and ``dtype`` (made anew only when they change)."""
        if self._array is None or self._array.shape != shape or self._array.dtype != dtype:
            self._array = np.empty(shape, dtype)
        return self._array

    def stack(self, views: list[np.ndarray], length: int) -> np.ndarray:
        """``views`` stacked, then zeros up to ``length`` windows (a padded batch)."""
        shape, dtype = (length, *views[0].shape), views[0].dtype
        array = self._array
        if array is None or array.shape[1:] != shape[1:] or len(array) < length \
                or array.dtype != dtype:
            array = self._array = np.empty(shape, dtype)
        batch = array[:length]
        np.stack(views, out=batch[: len(views)])
        batch[len(views) :] = 0
        return batch


def row_batches(patches, pixels: np.ndarray, valid: np.ndarray, left: int, size: int,
                batch_size: int, steady: bool, buffers: Iterator[BatchBuffer]):
    """The batches of a row of windows read from ``pixels`` (normalised, starting at column
    ``left``), skipping windows with no valid pixel: ``(patches, batch)``, each batch
    stacked into the next of ``buffers``. ``steady``: batches padded to one shape (GPU
    providers re-plan on a new one)."""
    runnable = patches if valid.all() else [  # the per-window test only where there is nodata
        p for p in patches if valid[:, p.x_off - left : p.x_off - left + size].any()]
    for start in range(0, len(runnable), batch_size):
        chunk = runnable[start : start + batch_size]
        yield chunk, next(buffers).stack([pixels[:, :, p.x_off - left : p.x_off - left + size]
                                          for p in chunk], batch_size if steady else len(chunk))


def run_batch(model, batch: np.ndarray, tta: str) -> np.ndarray:
    """:func:`run_model`, its outputs never a view of ``batch`` (whose buffer is reused
    while they are blended: a model, or a test double, may hand its input back)."""
    outputs = run_model(model, batch, tta)
    return outputs.copy() if np.may_share_memory(outputs, batch) else outputs


def run_row(model, patches, pixels: np.ndarray, valid: np.ndarray, left: int, size: int,
            batch_size: int, steady: bool, tta: str, buffer: BatchBuffer | None = None):
    """Run a row of windows (:func:`row_batches`) batch by batch; yields ``(patches,
    outputs)``. ``buffer``: reused for every batch (each is run before the next is made)."""
    buffers = itertools.repeat(buffer or BatchBuffer())
    for chunk, batch in row_batches(patches, pixels, valid, left, size, batch_size, steady,
                                    buffers):
        yield chunk, run_batch(model, batch, tta)


def blend_outputs(model, windows: WeightWindows, last: tuple[int, int], chunk, outputs,
                  valid: np.ndarray, left: int, offset: int,
                  add: Callable[[np.ndarray, np.ndarray, object], None]) -> None:
    """Hand each window's output and its weight window (sides on the grid's border at full
    weight; ``last``: the grid's last row and column) to ``add(output, weights, patch)``.
    NaN/inf is refused at valid pixels (``valid`` of the band read from column ``left``)."""
    out = windows.size
    with np.errstate(over="ignore", invalid="ignore"):
        finite = math.isfinite(float(outputs.sum()))
    for patch, output in zip(chunk, outputs, strict=False):  # outputs may hold padding
        x = patch.x_off - left + offset
        if not finite:
            output = finite_where_valid(model, output, valid[offset : offset + out, x : x + out],
                                         patch.y_off + offset, patch.x_off + offset)
        add(output, windows.get(patch.row == 0, patch.row == last[0], patch.col == 0,
                                patch.col == last[1]), patch)


def row_batch_size(model, patches_per_row: int, per_run: int) -> int:
    """Windows per batch for a row of ``patches_per_row``: ``per_run`` on the CPU (the last
    batch shorter); on GPU providers equal batches, the last one padded
    (:func:`steady_batch_size`); on TensorRT always ``per_run``, the size it was probed at
    (``one_batch_shape``)."""
    if not getattr(model, "steady_batches", False) or getattr(model, "one_batch_shape", False):
        return per_run
    return steady_batch_size(patches_per_row, per_run)


def steady_batch_size(patches_per_row: int, batch_size: int) -> int:
    """The size of equal batches covering a row of patches in as few batches as
    ``batch_size`` allows: 46 patches at 16 -> 3 batches of 16 (2 padding), 23 -> 2 of 12."""
    batches = -(-patches_per_row // batch_size)
    return -(-patches_per_row // batches)


def predict_blocks(
    model,
    read: Callable[[int, int, int, int], tuple[np.ndarray, np.ndarray]],
    width: int,
    height: int,
    options: PredictOptions,
    progress: bool = False,
    name: str = "",
    prepare: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    align: int = 1,
    clock: StageClock | None = None,
) -> Iterator[tuple[Window, np.ndarray, np.ndarray]]:
    """The streaming core: yield ``(window, probabilities (K, rows, cols), valid (rows,
    cols))`` for finished blocks: strip by strip (``options.block_size`` px wide, a multiple
    of ``align``), each strip top to bottom.

    ``read(left, top, cols, rows)`` returns pixels (C, rows, cols) and a valid mask, padded
    past the raster. Reading and stacking batches run ahead in a thread (``BATCHES_AHEAD``);
    the calling thread only runs the model; blending follows in a third. ``prepare(pixels, valid)``
    normalises them (default :func:`prepare_band`) into a buffer two bands high
    (:class:`~geotile.streaming.BandRows`). Memory holds that buffer and a band of sums for
    one strip, and the sums carried across strip edges (the raster's height x one window),
    whatever the raster's size. ``clock``
    receives the time of each stage (:data:`~geotile.stage_clock.PREDICT_STAGES`)."""
    from rasterio.windows import Window

    from geotile.blending import axis_weight_sums, divide
    from geotile.progress import progress_bar
    from geotile.streaming import BandRows, StripCarry, background, column_strips
    from geotile.window_batches import RowEnd, WindowBatcher, parallel_copy

    clock = clock or StageClock()

    size, overlap = resolve_tiling(model, options)
    per_run = batch_size_for(model, size, options)
    geometry = output_geometry(model, size, per_run)
    offset, out = geometry.offset, geometry.out
    beyond = far_margin(geometry, size)
    grid = window_grid(width, height, size, overlap, geometry)
    if name:
        say_windows(model, name, grid.shape, size, overlap, per_run, options)
    windows = WeightWindows(options.blend, out, geometry.margin)
    last_row, last_col = grid.shape[0] - 1, grid.shape[1] - 1
    strips = column_strips([x + offset for x in grid.col_offsets], width,
                           max(options.block_size, size), align)

    def span(strip) -> int:  # the columns a strip's windows reach, from its left edge
        return max(grid.col_offsets[strip.cols[-1]] + offset + out, strip.right) - strip.left

    # the summed weight at (y, x) is row_weights[y] * col_weights[x] (axis_weight_sums)
    row_weights = axis_weight_sums(windows, [y + offset for y in grid.row_offsets], height)
    col_weights = axis_weight_sums(windows, [x + offset for x in grid.col_offsets], width)
    carried = max((span(s) - (s.right - s.left) for s in strips[:-1]), default=0)
    carry = StripCarry(model.num_classes, height, carried) if carried else None
    steady = getattr(model, "steady_batches", False)

    def extent(strip) -> tuple[int, int]:  # the columns read for a strip
        first = grid.col_offsets[strip.cols[0]]
        left = min(first, strip.left)
        return left, max(grid.col_offsets[strip.cols[-1]] + size, strip.right) - left

    cells = getattr(geometry, "scale", 1) > 1
    in_flight = IN_FLIGHT if steady else 1

    def normalised(left, top, cols, rows, out):
        with clock.timing("decode"):
            pixels, valid = read(left, top, cols, rows)
        with clock.timing("normalise"):
            band = (prepare(pixels, valid) if prepare is not None
                    else prepare_band(model, pixels, valid, out))
            if cells:
                repeat_edges(band, left, top, width, height)
            return band, valid

    def work():  # in the reader thread: rows read once, windows stacked ahead of the model
        # a buffer is reused only after its batch ran: those queued, the one waiting to be
        # queued, the one handed to the model, those running and the one being filled are
        # never the same
        buffers = itertools.cycle([BatchBuffer()
                                   for _ in range(BATCHES_AHEAD + 3 + in_flight)])
        band_rows = BandRows(normalised, size)
        for strip in strips:
            left, cols = extent(strip)
            batcher = WindowBatcher(per_run, steady, buffers, copy)
            for row, top in enumerate(grid.row_offsets):
                # read, decoded and normalised once per pixel, not once per window row
                pixels, valid = band_rows.band(left, top, cols)
                valid = valid.copy()  # the buffer's rows are reused before it is blended
                patches = [grid.patch(row, col) for col in strip.cols]
                runnable = patches if valid.all() else [  # skip windows of nodata alone
                    p for p in patches if valid[:, p.x_off - left : p.x_off - left + size].any()]
                bar_counts[(strip.index, row)] = len(patches)
                items = batcher.add(row, pixels, valid, left, size, runnable)
                while True:
                    with clock.timing("normalise"):  # stacking windows into batches
                        item = next(items, None)
                    if item is None:
                        break
                    yield strip, left, item
            yield from ((strip, left, item) for item in batcher.finish())

    @functools.partial(clock.timed, "blend")
    def blend(accumulator, segment, outputs, left, strip) -> None:
        blend_outputs(model, windows, (last_row, last_col), segment.patches, outputs,
                      segment.valid, left, offset,
                      lambda output, weights, patch: accumulator.add(
                          output, weights, patch.x_off + offset - strip.left,
                          patch.y_off + offset))

    def blend_when_run(accumulator, segment, ran, left, strip) -> None:
        """Blend a segment once its batch has run (in the blender thread)."""
        outputs = ran.result()
        blend(accumulator, segment, outputs[segment.start : segment.stop], left, strip)

    @functools.partial(clock.timed, "blend")
    def finish_row(accumulator, strip, row, left, valid):
        """The row's finished block (after its windows were blended: same thread)."""
        top = grid.row_offsets[row]
        end = height if row == last_row else grid.row_offsets[row + 1]
        sums, _ = accumulator.head(end)  # views, divided before they are dropped: no copy
        core = strip.right - strip.left
        if carry is not None:
            if strip.index > 0:
                carry.take(sums, top)
            if strip.index < len(strips) - 1:
                carry.give(sums[:, :, core:], top)
        core_valid = without_far_margin(valid[: end - top, strip.left - left : strip.right - left],
                                        beyond, width - strip.left, height - top)
        weights = np.multiply.outer(row_weights[top:end], col_weights[strip.left : strip.right])
        blended = divide(sums[:, :, :core], weights)
        accumulator.drop(end)
        return Window(strip.left, top, core, end - top), blended, core_valid

    @functools.partial(clock.timed, "model")
    def run(batch):
        return run_batch(model, batch, options.tta)

    # on the CPU this thread runs the model, batch after batch (a gap between runs leaves
    # the model's other threads spinning); on a GPU, IN_FLIGHT batches run at once in
    # runner threads (one's copies and host work overlap the other's kernels); reading,
    # stacking, blending and writing happen in the reader, blender and writer threads
    blender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="geotile-blend")
    # on a GPU the cores are free: windows are stacked into batches by STACKERS threads
    stackers = ThreadPoolExecutor(max_workers=STACKERS, thread_name_prefix="geotile-stack") \
        if in_flight > 1 else None
    copy = parallel_copy(stackers, STACKERS) if stackers is not None else None
    runner = ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="geotile-model") \
        if in_flight > 1 else None
    bar = progress_bar(enabled=progress, total=len(grid), desc=name, unit="patch")
    bar_counts: dict[tuple[int, int], int] = {}
    reader = background(work(), depth=BATCHES_AHEAD)
    # blends and rows, in order, each with its kind: "row" (a row's finish), "batch" (the
    # last blend of a batch's outputs) or "blend"
    pending: collections.deque = collections.deque()
    running: collections.deque = collections.deque()  # batches handed to the runners
    accumulator, current, behind = None, None, 0  # behind: batches not yet blended
    rows_behind = 0  # rows not yet finished

    def hand_on(limit: int):
        """Finished blocks of the blends and rows done (or waited for, while more than
        ``limit`` batches wait to be blended, or more than ROWS_BEHIND rows to be
        finished: their outputs are memory)."""
        nonlocal behind, rows_behind
        while pending and (pending[0][0].done() or behind > limit
                           or rows_behind > ROWS_BEHIND):
            done, kind = pending.popleft()
            behind -= kind == "batch"
            rows_behind -= kind == "row"
            if (block := done.result()) is not None:
                yield block

    try:
        for strip, left, item in reader:
            if strip is not current:  # a strip's first row: its own sums
                accumulator = RowBandAccumulator(model.num_classes, size, span(strip),
                                                 weighted=False)
                current = strip
            ran = None
            if item.array is not None and runner is None:
                ran = Future()
                ran.set_result(run(item.array))
            elif item.array is not None:
                while len(running) >= in_flight:  # the oldest first (its error too)
                    running.popleft().result()
                ran = runner.submit(run, item.array)
                running.append(ran)
            last = max((i for i, a in enumerate(item.actions) if not isinstance(a, RowEnd)),
                       default=-1)
            for index, action in enumerate(item.actions):  # each row after its own blends
                if isinstance(action, RowEnd):
                    bar.update(bar_counts.pop((strip.index, action.row), 0))
                    pending.append((blender.submit(finish_row, accumulator, strip, action.row,
                                                   left, action.valid), "row"))
                    rows_behind += 1
                else:
                    pending.append((blender.submit(blend_when_run, accumulator, action, ran,
                                                   left, strip),
                                    "batch" if index == last else "blend"))
            behind += last >= 0
            yield from hand_on(BLENDS_BEHIND)
        yield from hand_on(-1)
    finally:
        reader.close()
        if runner is not None:
            runner.shutdown(wait=True, cancel_futures=True)
        if stackers is not None:
            stackers.shutdown(wait=True, cancel_futures=True)
        blender.shutdown(wait=True, cancel_futures=True)
        bar.close()


def predict_array(model, pixels: np.ndarray, valid: np.ndarray | None = None,
                  options: PredictOptions | None = None) -> np.ndarray:
    """Blended probabilities (K, H, W) float32 for an in-memory image (C, H, W), or a time
    series (T, C, H, W) for a multi-temporal model (a 5-D input); NaN = nodata.

    Nodata: where ``valid`` (bool, or integers: 0 is nodata) is not, NaN or infinite pixels
    and, in a masked array (``src.read(masked=True)``), pixels masked in any band. Pixels
    are normalised as predict_raster's (uint8 divided by 255 unless the model says
    otherwise); ``options``' output fields (output_type, dtype, ...) are predict_raster's.
    """
    from geotile.raster import finite_pixels

    options = options or PredictOptions()
    _refuse_raster_options(options)
    masked = np.ma.getmaskarray(pixels) if np.ma.isMaskedArray(pixels) else None
    pixels = np.asarray(np.ma.getdata(pixels))
    name = Path(getattr(model, "path", "model")).name
    if getattr(model, "dates", None) is not None and pixels.ndim == 4:  # (T, C, H, W)
        model.take_dates(pixels.shape[0], pixels.shape[1], "predict_array")
        pixels = pixels.reshape(-1, *pixels.shape[2:])
        masked = None if masked is None else masked.reshape(pixels.shape)
    elif getattr(model, "dates", None) is not None:  # date- or band-major: only T, C say
        dates, channels = model.dates.fixed()
        raise ModelError(
            f"{name} takes {dates or 'T'} dates of {channels or 'C'} channels "
            f"({model.dates.said()}), got pixels of shape {pixels.shape}: give a (T, C, H, "
            "W) array (pixels.reshape(T, C, H, W) where its bands go date by date).")
    channels = getattr(model, "channels", None)
    if pixels.ndim != 3 or channels not in (None, pixels.shape[0]):
        hwc = pixels.ndim == 3 and pixels.shape[-1] == channels
        raise ModelError(f"{name} expects (C, H, W) pixels with C = {channels or 'its channels'}"
                         f", got shape {pixels.shape}" + ("; for (H, W, C) pixels (PIL, "
                         "OpenCV) give pixels.transpose(2, 0, 1)" if hwc else "") + ".")
    _, height, width = pixels.shape
    if valid is None:
        valid = np.ones((height, width), bool)
    else:
        valid = np.asarray(valid)
        if valid.dtype.kind not in "biu":
            raise InputError(f"valid must be a bool (H, W) array (or integers, 0 for nodata, as "
                             f"rasterio's read_masks gives), not {valid.dtype}.")
        if valid.shape != (height, width):
            raise InputError(f"valid has shape {valid.shape}; give one of the pixels' (H, W): "
                             f"{(height, width)}.")
        valid = valid != 0
    if masked is not None and masked.any():
        valid = valid & ~masked.any(axis=0)
    finite = finite_pixels(pixels)
    if finite is not None:
        valid = valid & finite
    warn_if_unscaled(model, [pixels.dtype], lambda: float_top(pixels[:, valid]),
                      "predict_array")

    def read(left, top, cols, rows):
        part = pixels[:, top : top + rows, left : left + cols]
        mask = valid[top : top + rows, left : left + cols]
        pad = ((0, rows - part.shape[1]), (0, cols - part.shape[2]))
        return np.pad(part, ((0, 0), *pad)), np.pad(mask, pad, constant_values=False)

    out = np.empty((model.num_classes, height, width), np.float32)
    with contextlib.closing(predict_blocks(model, read, width, height, options)) as bands:
        for window, blended, band_valid in bands:
            out[(slice(None), *window.toslices())] = np.where(band_valid, blended, np.nan)
    return out


#: PredictOptions fields of predict_raster's output and reading, which predict_array has not
RASTER_ONLY = ("bands", "output_type", "threshold", "dtype", "cog", "creation_options")


def _refuse_raster_options(options: PredictOptions) -> None:
    """InputError naming the options ``predict_array`` cannot honour that are set."""
    default = PredictOptions()
    named = [n for n in RASTER_ONLY if getattr(options, n) != getattr(default, n)]
    if options.model_resolution not in (None, "native"):
        named.append("model_resolution")
    if named:
        raise InputError(
            f"predict_array returns the probabilities of the pixels as given: "
            f"PredictOptions({', '.join(f'{n}={getattr(options, n)!r}' for n in named)}) "
            "applies to predict_raster. Select bands (pixels[[0, 1, 2]]), threshold or "
            "scale the probabilities yourself."
        )


def _dates_named(model, src, indexes, extra, image) -> str:
    """``image``'s name, or "before.tif and after.tif" for a change detection model's dates
    of one pixel type: what is said of the image's pixels holds for the other dates' too
    (each named with its folder where two share a name: :func:`date_names`)."""
    if extra is None or not two_dates(model) or set(extra.dtypes) != {
            np.dtype(src.dtypes[i - 1]) for i in indexes}:
        return Path(image).name
    dates = each_date(extra)
    if len(dates) == 1:
        return " and ".join(date_names(image, dates[0].path))
    return " and ".join([Path(image).name, *(d.path.name for d in dates)])


def refuse_mosaic_dates(model, image_path) -> None:
    """InputError where ``model`` takes several dates, one file each (a 5-D input): --mosaic
    reads the tiles' own bands and cannot add the further dates (--extra-bands)."""
    dates = getattr(model, "dates", None)
    if dates is None:
        return
    count = dates.fixed()[0] if dates.axis is not None else (  # both fixed: the smaller
        None if None in dates.dims else min(dates.dims))  # is at least the dates
    if count is None or count < 2:
        return
    raise InputError(
        f"{image_path}: {Path(model.path).name} takes {count} dates, one raster each, and "
        f"--mosaic cannot add the further ones (--extra-bands); mosaic each date's tiles "
        f"into one raster (gdalbuildvrt date1.vrt <date 1's tiles>, date2.vrt ...) and "
        f"predict date1.vrt --extra-bands date2.vrt ... without --mosaic.")


def several_dates(model, extra_bands):
    """``extra_bands`` as one path, or the paths of a multi-temporal model's further dates;
    InputError for several given to a model of no time axis."""
    if extra_bands is None or isinstance(extra_bands, str | os.PathLike):
        return extra_bands
    paths = list(extra_bands)
    if len(paths) == 1:
        return paths[0]
    if getattr(model, "dates", None) is None:
        raise InputError(
            f"{len(paths)} --extra-bands rasters for one image ({', '.join(map(str, paths))})"
            f", but {Path(model.path).name} takes no dates on an axis of their own (a 5-D "
            "input); give one per image.")
    return paths if paths else None


def _take_dates(model, src, options, extra, source) -> None:
    """A multi-temporal model's dates: the image, then each --extra-bands raster (in date
    order), of as many channels each (:meth:`geotile.model.OnnxModel.take_dates`)."""
    if getattr(model, "dates", None) is None:
        return
    dates = each_date(extra)
    counts = {d.path.name: d.count for d in dates}
    if len(set(counts.values())) > 1:
        shown = ", ".join(f"{k} {v}" for k, v in counts.items())
        raise InputError(f"{source}: the --extra-bands dates have other band counts ({shown}); "
                         f"{Path(model.path).name} takes as many channels from every date: "
                         "give rasters of the same bands, or pick them with --bands.")
    channels = dates[0].count if dates else (len(options.bands) if options.bands
                                             else src.count)
    model.take_dates(1 + len(dates), channels, source)


@with_read_settings
def predict_raster(
    model,
    image_path: str | os.PathLike,
    output_path: str | os.PathLike,
    *,
    options: PredictOptions | None = None,
    overwrite: bool = False,
    progress: bool = False,
    extra_bands: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    extra_resampling: str = "auto",
    resume: bool = False,
    settings: dict | None = None,
    mosaic=None,
) -> dict:
    """Predict ``image_path`` with ``model`` into a GeoTIFF on the image's grid.

    ``mosaic``: a :class:`geotile.mosaic.Mosaic` holding ``image_path``: windows are those of
    the whole mosaic, reading from the neighbouring tiles (see :mod:`geotile.mosaic`).

    ``extra_bands``: a raster whose bands are stacked after the image's (an nDSM for RGB +
    height models), read on the image's grid (``extra_resampling`` when the grids differ,
    see :mod:`geotile.extra_bands`); a multi-temporal model's (5-D input) further dates: a
    list of rasters in date order, the image being date 1.
    ``resume``: an output already complete for the same settings is skipped (summary key
    ``skipped``), see geotile.resume: the CLI and this function tag the same work alike;
    ``settings`` (JSON-able, a caller's own) replace the options and model description in
    its completion digest.

    Outputs (tags GEOTILE_OUTPUT, GEOTILE_CLASS_NAMES, GEOTILE_THRESHOLD, GEOTILE_SCALE;
    class names as band descriptions or category names):

    - probability, uint8: one band per class, round(p * 255), GDAL scale 1/255 (readers
      that apply it see 0-1); nodata in an internal mask band;
    - probability, float32: p in [0, 1]; nodata NaN; the model's raw values (--activation
      none on logits) are tagged GEOTILE_OUTPUT=raw, which no reader thresholds;
    - class: uint8 ids, nodata 255, with a colour table, category names and a raster
      attribute table (PAM sidecar): K = 1: p >= threshold -> 1; independent sigmoid
      channels (multi-label): 0 background where no p >= threshold, else 1 + the most
      probable; exclusive classes (softmax): the argmax (GEOTILE_THRESHOLD is the threshold
      applied, absent there).

    Returns a summary dict (output, seconds, megapixels, MP/s, provider).
    """
    import rasterio

    from geotile.categories import paletted
    from geotile.creation_options import check_creation_options
    from geotile.input_paths import input_path, output_folders
    from geotile.input_sources import refuse_overwriting_inputs
    from geotile.output_files import (
        atomic_output,
        check_geotiff_name,
        check_sidecar_room,
        verify_geotiff,
        write_cog,
    )
    from geotile.planet_files import warn_unclear
    from geotile.raster import check_pixels_readable, may_hold_nodata, open_raster, output_profile
    from geotile.vrt_views import warn_vrt_gap

    options = options or PredictOptions()
    if isinstance(model, str | os.PathLike):
        from geotile.model import OnnxModel

        model = OnnxModel.from_path(model, tile_size=options.tile_size,
                                    batch_size=options.batch_size or 1)
    if getattr(model, "model_type", None) == "regressor" and options.output_type == "class":
        raise InputError(f"{model.path}: a regression model (Deepness Regressor) gives values, "
                         "not classes; leave out --output-type class.")
    if (getattr(model, "writes_raw", False) or getattr(model, "model_type", None) ==
            "regressor") and options.output_type == "probability" and options.dtype == "uint8":
        # raw model values (--activation none, regressors) are not probabilities: float32
        # a warning, not a log line: said once for a folder's images (the CLI's digest)
        warn(GeotileWarning(f"--dtype uint8 ignored: {model.path.name} gives raw "
                            "values, not probabilities 0..1; written as float32"))
        options = dataclasses.replace(options, dtype="float32")
    threshold = options.threshold if options.threshold is not None else (
        model.threshold if model.threshold is not None else 0.5)
    if options.threshold is None and threshold > 1:
        raise ModelError(f"{model.path}: metadata seg_thresh={threshold:g} is not a "
                         "probability (0-1). Fix the model's metadata or give --threshold.")
    if options.output_type == "class":
        if getattr(model, "depth", False):
            raise InputError(f"{model.path}: its output {DEPTH_OUTPUT} is a depth estimation "
                             "model's depth, not classes: leave out --output-type class (the "
                             "depth is written as float32).")
        if getattr(model, "features", False):
            names = ", ".join(o.name for o in model.outputs)
            raise InputError(f"{model.path}: its output {names} holds a model's "
                             "features/embeddings, not class scores: leave out --output-type "
                             "class (the features are written as float32), or, if they are "
                             "class scores named so, pass --activation softmax (or sigmoid).")
        check_class_output(model)
        threshold = class_threshold(model, options, threshold)
        if threshold is not None and options.threshold is None and getattr(
                model, "writes_raw", False):  # logits at 0.5 are p >= 0.62, not >= 0.5
            raise InputError(
                f"{model.path}: --output-type class of raw values (--activation none) takes "
                "no default threshold: give --threshold in the model's own units (0 for "
                "logits: p >= 0.5), or predict with --activation sigmoid.")
    started, clock = time.perf_counter(), StageClock()
    image_path, output_path = input_path(image_path), Path(output_path)
    if mosaic is not None:
        refuse_mosaic_dates(model, image_path)
    extra_bands = several_dates(model, extra_bands)
    refuse_overwriting_inputs([output_path], [image_path, *_paths(extra_bands), getattr(
        model, "path", None)], mosaic.input_sources(output_folders([output_path]))
        if mosaic is not None else None)
    check_geotiff_name(output_path)
    if options.output_type == "class":  # its class names: <name>.aux.xml
        check_sidecar_room(output_path)
    complete = _completion(model, options, settings, image_path, extra_bands,
                           mosaic.identities() if mosaic is not None else (),
                           extra_resampling)
    if resume:
        action = resume_plan(output_path, complete, "predict",
                             sidecar=options.output_type == "class")
        if action == SKIP:
            return {"image": str(image_path), "output": str(output_path), "skipped": True,
                    "seconds": 0.0, "megapixels": 0.0, "mp_per_s": 0.0,
                    "provider": model.provider, "stage_seconds": clock.seconds()}
        overwrite = overwrite or action == REPLACE
    from geotile.cpus import usable_cpus
    from geotile.nitf_files import warn_nitf
    from geotile.no_georef import copy_georeferencing, warn_if_not_georeferenced
    from geotile.quiet_warnings import quietly
    from geotile.tiff_pages import warn_other_pages
    from geotile.turned_images import note_orientation

    # on a GPU the cores are free to decode the image's tiles in parallel; on the CPU
    # provider they run the model
    decode_threads = usable_cpus() if getattr(model, "steady_batches", False) else None
    with open_raster(image_path, decode_threads) as original, _extra(
            extra_bands, original, extra_resampling,
            every_date_bands(model, original, options.bands, image_path)
    ) as extra, model_view(
            original, model, extra.count if extra is not None else 0) as src:
        check_pixels_readable(original)
        added = extra.count if extra is not None else 0
        source = image_path if extra is None else " + ".join(
            [str(image_path), *(d.path.name for d in each_date(extra))])
        refuse_unpredictable(model, original, src, options, image_path)
        for date in each_date(extra):
            refuse_complex(date.dtype, date.path, "the --extra-bands raster's ")
        _take_dates(model, src, options, extra, source)
        indexes = select_bands(model, src, options, added, source)
        # after the refusals: a refused image gets its one line alone
        warn_if_not_georeferenced(original, "the predictions",
                                  also=scale_unknown(model, original, options),
                                  name=image_path.name)
        warn_other_pages(original, image_path.name)
        warn_nitf(original, image_path.name, "the predictions")
        model.image_channels(len(indexes))  # the image's uint8 scale from its channels
        if extra is not None and getattr(model, "second_input", None) is not None:
            model.dates_fed(len(indexes))
        for number, date in enumerate(each_date(extra), 2):  # each beside the first
            check_date_types(model, [src.dtypes[i - 1] for i in indexes], date.dtypes,
                             image_path, date.path, number)
            check_date_values(model, [(src.scales[i - 1], src.offsets[i - 1])
                                      for i in indexes],
                              [b[2:4] for b in date.band_metadata()], image_path, date.path,
                              number)
            check_two_files(model, image_path, date.path)
            check_date_colours(model, src, indexes, *date.raster, image_path, date.path,
                               number)
            check_date_names(model, src, indexes, *date.raster, image_path, date.path)
            if two_dates(model):
                check_date_ranges(model, date_range(model, src, indexes),
                                  date_range(model, *date.raster), image_path, date.path,
                                  number)
        warn_repeated_dates(model, image_path, extra)
        warn_vrt_gap(original, image_path.name, "get predictions",
                     indexes if src is original else None)
        warn_unclear(original, image_path, "get predictions")  # a Planet udm2's clouds
        if src.count == 1 and paletted(src) and 1 in indexes:  # not expanded: 1 channel
            warn(f"{image_path.name}: its band holds colour-table indices (a paletted "
                 f"image), not intensities, and {model.path.name} gets them as they "
                 "are. For its colours, run gdal_translate -expand rgb on it and give "
                 "a 3-channel model.", GeotileWarning)
        warn_unscaled(model, src, indexes, added, _dates_named(model, src, indexes, extra,
                                                                image_path))
        warn_decibels_or_power(model, src, indexes, image_path.name)
        if extra is not None and not two_dates(model):  # a second date is fed as the first
            warn_extra_declared(extra)
        # a float image's NaN pixels are nodata too (read_block), declared or not
        check_nodata = may_hold_nodata(src, indexes)
        classes = model.num_classes
        if options.output_type == "class":
            count, dtype, nodata, names = 1, "uint8", CLASS_NODATA, class_names(model)
        else:
            count, dtype = classes, options.dtype
            nodata = float("nan") if dtype == "float32" else None
            names = model.class_names
        # a COG gets --co in write_cog; its intermediate GeoTIFF has the defaults
        profile = output_profile(original, count=count, dtype=dtype, nodata=nodata,
                                 compression="float-fast" if dtype == "float32"
                                 else "deflate",
                                 creation_options=None if options.cog
                                 else options.creation_options,
                                 categorical=options.output_type == "class")
        # a valid-convolution model leaves the raster's outer margin unpredicted: masked as
        # nodata, never written as 0
        size = resolve_tiling(model, options, quiet=True)[0]
        geometry = output_geometry(model, size, batch_size_for(model, size, options))
        margin = geometry.offset > 0
        if writes_mask(options, check_nodata or margin):
            # GDAL (3.10) compression threads read the bands' ExtraSamples from a TIFF
            # directory that writing the internal mask frees meanwhile ('ERROR 1: ... Bad
            # value 1 for "ExtraSamples" tag' on stderr): compress in the writer thread, as
            # with NUM_THREADS=1
            profile["num_threads"] = 1

        read, prepare = _stacked_reader(model, src, indexes, check_nodata, extra)
        range_check = (model, src, indexes, extra, read, prepare is not None, image_path)
        check_input_range(*range_check)

        if (options.cog or options.merge_cog) and options.creation_options:  # band count known
            check_creation_options(options.creation_options, dtype=dtype, count=count, cog=True,
                                   categorical=options.output_type == "class")
        pixel = model_pixel(model, original, options)  # refused before anything is written
        if pixel is not None:
            check_one_nodata(src, indexes, image_path)
        if mosaic is not None:
            if src is not original:
                raise InputError(f"{image_path}: --mosaic reads the tiles' own bands, and this "
                                 "one is paletted; expand the tiles first (gdal_translate "
                                 "-expand rgb), or drop --mosaic.")
            if extra is not None:
                raise InputError(f"{image_path}: --mosaic cannot add --extra-bands; drop one "
                                 "of them.")
            if pixel is not None:
                raise InputError(mosaic_resampling(image_path, model, original, options))
        with whole_range_advice(range_check), atomic_output(
                output_path, overwrite,
                written_meanwhile=completed_as(complete) if complete else None) as final_tmp:
            target = final_tmp.with_name(final_tmp.name + ".gtiff") if options.cog else final_tmp
            try:
                with quietly(rasterio.open, target, "w", **profile) as dst:
                    copy_georeferencing(original, dst)
                    note_orientation(original, dst)
                    describe_output(dst, options, names, threshold, model)
                    dst.update_tags(**{COMPLETE_TAG: complete})
                    if mosaic is not None:
                        bands = mosaic.predict(model, image_path, options, indexes, progress,
                                               clock)
                    elif pixel is None:
                        bands = predict_blocks(model, read, src.width, src.height, options,
                                               progress, image_path.name, prepare,
                                               block_width(dst), clock)
                    else:
                        bands = _resampled_bands(model, src, indexes, check_nodata, options,
                                                 progress, pixel, final_tmp,
                                                 (extra_bands, extra_resampling),
                                                 block_width(dst), clock, output_path)
                    with contextlib.closing(bands):
                        if not write_bands(dst, bands, options, threshold,
                                            check_nodata or margin, clock,
                                            background_channel(model)):
                            warn(_nothing_predicted(
                                image_path, model, geometry, size, src, mosaic, pixel),
                                GeotileWarning)
                if options.cog:  # cut at close on a full disk without an error: said first
                    verify_geotiff(target, output_path)
                    write_cog(target, final_tmp, options.creation_options,
                              overview_resampling=overview_resampling(options))
                write_sidecar(final_tmp, options, names)
            except NonFiniteOutput as exc:  # placed on the image, with map coordinates
                raise placed_error(exc, original, image_path, mosaic) from None
            finally:
                if options.cog:
                    target.unlink(missing_ok=True)
                    Path(f"{target}.aux.xml").unlink(missing_ok=True)
        seconds = time.perf_counter() - started
        megapixels = src.width * src.height / 1e6
    summary = {"image": str(image_path), "output": str(output_path), "seconds": round(seconds, 3),
               "megapixels": round(megapixels, 3), "mp_per_s": round(megapixels / seconds, 3),
               "provider": model.provider, "stage_seconds": clock.seconds()}
    log.info("%s: %.1f MP in %.1f s (%.2f MP/s) on %s", image_path.name, megapixels, seconds,
             megapixels / seconds, model.provider)
    log.info("%s: busy time per stage (threads overlap): %s", image_path.name,
             clock.describe())
    return summary


def model_grid_size(src, pixel) -> tuple[int, int]:
    """(width, height) of ``src`` resampled to the model's ``pixel`` ((x, y), CRS units)."""
    return (max(1, round(src.width * abs(src.res[0]) / pixel[0])),
            max(1, round(src.height * abs(src.res[1]) / pixel[1])))


def _nothing_predicted(image_path, model, geometry, size: int, src, mosaic, pixel) -> str:
    """The warning for an output without a predicted pixel: the raster holds none, or (a
    valid-convolution model's) every pixel lies in the margin its windows leave unpredicted
    at the raster's (or the mosaic's) edges, on the model's grid (``pixel``: its pixel size
    where the raster is resampled to it)."""
    near, far = geometry.offset, far_margin(geometry, size)
    if near:
        tile = mosaic.tile(image_path) if mosaic is not None else None
        extent = model_grid_size(src, pixel) if pixel else (src.width, src.height)
        place = (tile.col, tile.row) if tile else (0, 0)
        total = (mosaic.width, mosaic.height) if tile else extent
        if any(max(start, near) >= min(start + length, whole - far)
               for start, length, whole in zip(place, extent, total, strict=True)):
            sides = f"{near} px" if near == far else f"{near} px (far sides {far} px)"
            where = "the mosaic's" if tile else "the raster's"
            fix = "" if tile else ": predict it within a larger image" + (
                "" if pixel else ", or with its neighbouring tiles (--mosaic)")  # not resampled
            grid = f" ({extent[0]} x {extent[1]} px at the model's pixel size)" if pixel else ""
            return (f"{image_path.name}: {src.width} x {src.height} px{grid}, all within the "
                    f"{sides} margin at {where} edges that {model.path.name} leaves "
                    f"unpredicted (its output is the centre {geometry.out} px of each {size} "
                    f"px window), so the output holds no prediction{fix}.")
    return (f"{image_path.name}: the raster holds no valid pixel (all nodata), so neither "
            "does the output.")


def _extra(path, src, resampling, bands=None):
    """The ExtraBands of ``path`` on ``src``'s grid (``bands`` of it: a second date's), or a
    null context without one."""
    if path is None:
        return contextlib.nullcontext()
    from geotile.extra_bands import open_dates

    return open_dates(path, src, resampling, bands)


def _paths(extra_bands) -> list:
    """The --extra-bands path(s) of one image as a list: none, one, or one per date."""
    if extra_bands is None:
        return []
    return [extra_bands] if isinstance(extra_bands, str | os.PathLike) else list(extra_bands)


def _stacked_reader(model, src, indexes, check_nodata, extra, dtypes=None):
    """``(read, prepare)`` for :func:`predict_blocks`: the image's bands, then those of
    ``extra`` (each scaled by the model's default for its own dtype), nodata where either is.
    Without ``extra``, bands of one type: plain reads, and prepare None (the default).
    ``dtypes``: the bands' own types, where ``src`` (a VRT) reads them as one."""
    from geotile.raster import alpha_holds_values, read_block

    dtypes = dtypes or [np.dtype(src.dtypes[i - 1]) for i in indexes]
    data_alpha = check_nodata and alpha_holds_values(src, indexes)

    def read_block_(left, top, cols, rows):
        return read_block(src, left, top, cols, rows, indexes, check_nodata,
                          alpha_as_data=data_alpha)

    if extra is None and len(set(dtypes)) < 2:
        return read_block_, None
    from geotile.extra_bands import scaled, standardise

    def read_stacked(left, top, cols, rows):
        pixels, valid = read_block_(left, top, cols, rows)
        if hasattr(model, "transform_pixels"):  # Raster Vision's raster transformers
            pixels = model.transform_pixels(pixels[np.newaxis])[0]
        pixels = scaled(model, pixels, dtypes)
        if extra is None:
            return pixels, valid
        more, more_valid = extra.read(top, rows, cols, left)
        if hasattr(model, "transform_pixels"):  # its channels after the image's
            more = model.transform_pixels(more[np.newaxis], len(indexes))[0]
        return np.concatenate([pixels, scaled(model, more, extra.dtypes)]), valid & more_valid

    def prepare(pixels, valid):
        return standardise(model, pixels, valid)

    return read_stacked, prepare


#: PredictOptions fields that never change an output's bytes: out of its completion digest
_NOT_PIXELS = ("merge_cog",)  # checks --co for the merged COG only


def _completion(model, options, settings, image_path, extra_bands=None, mosaic=(),
                extra_resampling="auto") -> str:
    """The completion digest of one prediction (geotile.resume), the same from the CLI and
    the API: the options, the model as loaded (provider, outputs, activation, float16,
    normalisation) and, with ``extra_bands``, their resampling; ``settings`` (a caller's
    own) replace those; ``mosaic``: the identities of its tiles (``Mosaic.identities``)."""
    from geotile.resume import digest

    if settings is None:
        settings = {"options": {k: v for k, v in dataclasses.asdict(options).items()
                                if k not in _NOT_PIXELS},
                    "model": model.describe(),
                    "outputs": [(o.name, o.activation) for o in getattr(model, "outputs", ())],
                    "fp16": getattr(model, "fp16", False),
                    "normalise": [repr(getattr(model, k, None))
                                  for k in ("_mean", "_std", "_scale")]}
        if extra_bands is not None:
            settings["extra_resampling"] = extra_resampling
        if getattr(model, "flip_rgb", None):  # only then: other outputs keep their digest
            settings["flip_rgb"] = True
    if options.output_type == "probability" and getattr(model, "writes_raw", False):
        # tagged GEOTILE_OUTPUT=probability before it was raw: such a file is redone
        settings = {**settings, "output": "raw"}
    # Hugging Face's, MMDeploy's or Paddle's files that normalise its input or name its
    # classes, when read
    inputs = [model.path, *getattr(model, "sidecars", {}).values(), image_path,
              *_paths(extra_bands)]
    return digest("predict", settings, inputs, mosaic)


def _resampled_bands(model, src, indexes, check_nodata, options, progress, pixel, beside,
                     extra_bands=(None, "bilinear"), align: int = 1, clock=None,
                     output=None):
    """Like :func:`predict_blocks`, with the model run on the raster resampled to ``pixel``
    ((x, y), CRS units); its result, kept in a float32 file next to ``beside``, is resampled
    back (bilinear) and yielded by row bands on the raster's own grid. ``extra_bands``: (path,
    resampling) of extra bands, read on the model's grid; ``align``: the output's block
    width, which strips are a multiple of; ``clock``: see :func:`predict_blocks` (writing
    the result on the model's grid is timed as ``encode``, reading it back as ``decode``);
    ``output``: the output named when that file was cut (a full disk), else ``beside``."""
    import rasterio
    from affine import Affine
    from rasterio.enums import Resampling
    from rasterio.vrt import WarpedVRT
    from rasterio.windows import Window

    from geotile.output_files import verify_geotiff
    from geotile.raster import (
        alpha_bands,
        alpha_holds_values,
        masked_by_mask_band,
        output_profile,
        shadowed_alpha,
        valid_pixels,
    )
    from geotile.vrt_views import alpha_as_values, nodata_as_nan

    clock = clock or StageClock()
    width, height = model_grid_size(src, pixel)
    transform = chain(src.transform, Affine.scale(src.width / width, src.height / height))
    down = width < src.width and height < src.height  # else bilinear (GDAL widens it per axis)
    resampling = Resampling.average if down else Resampling.bilinear
    extra_way = extra_bands[1]
    if extra_way == "auto" and (getattr(model, "dates", None) is not None or getattr(
            model, "second_input", None) is not None):  # further dates: as the image
        extra_way = resampling.name
    temp = beside.with_name(beside.name + ".model-grid.tif")
    # NaN pixels of a float image are nodata, declared or not: left out of the averages
    # (else each model cell touching a NaN collar is NaN, and so its valid pixels)
    floating = any(np.dtype(src.dtypes[i - 1]).kind == "f" for i in indexes)
    undeclared_nan = {"src_nodata": float("nan")} if floating and src.nodata is None else {}
    # a mask band marks model cells without a valid pixel only in an added alpha band (else
    # they are valid zeros, interpolated into the valid pixels beside them), as alpha does;
    # with float bands or some bands chosen, each band's nodata value is its own
    # (UNIFIED_SRC_NODATA=NO: the chosen bands' nodata stays nodata where an unchosen band
    # has data); else a pixel is nodata where all bands are, and a band's lone 0 of an
    # integer image is a value, as read_block has it
    # an alpha band that holds values (NIR), fed or not, is warped as a band, nodata where
    # every band is 0, marked in an added alpha band (a nodata value of 0 would make warped
    # 0s 1s)
    data_alpha = check_nodata and alpha_holds_values(src, indexes)
    # so is one beside a nodata value (RGB+NIR, nodata 0): nodata where every band holds it
    shadowed = shadowed_alpha(src) if check_nodata else None
    value_alpha = shadowed is not None and set(alpha_bands(src)) != set(shadowed[1])
    as_band = data_alpha or value_alpha
    own = not as_band and (floating or sorted(set(indexes)) != list(range(1, src.count + 1)))
    # a mask band beside a nodata value is GDAL's mask (the value ignored, as read_block
    # has it), which the warper honours only without a source nodata value
    mask_band = masked_by_mask_band(src)
    source_nodata = ({"src_nodata": src.nodata if value_alpha else 0} if as_band else
                     {"src_nodata": None} if mask_band and not floating else undeclared_nan)
    # float bands declaring a nodata value (-9999) beside NaN gaps, or holding +/-inf (a
    # division by zero): all read as NaN, the one nodata value a band that the warper knows
    # (inf was averaged into its model cells, a ring of valid pixels around it nodata)
    nan_view = floating and not as_band and not mask_band and all(
        np.dtype(dtype).kind == "f" for dtype in src.dtypes)
    if nan_view:
        source_nodata = {"src_nodata": float("nan")}
    try:
        with (alpha_as_values(src) if as_band else nodata_as_nan(src) if nan_view
              else contextlib.nullcontext(src)) as source, \
                WarpedVRT(source, crs=src.crs, transform=transform, width=width, height=height,
                          resampling=resampling, add_alpha=as_band or mask_band,
                          **({"UNIFIED_SRC_NODATA": "NO"} if own else {}),
                          **source_nodata) as vrt, \
                _extra(extra_bands[0], vrt, extra_way,
                       every_date_bands(model, src, options.bands)) as extra:
            # the VRT holds the bands in one type: each is scaled for its own
            read, prepare = _stacked_reader(model, vrt, indexes, check_nodata, extra,
                                            [np.dtype(src.dtypes[i - 1]) for i in indexes])

            profile = output_profile(vrt, count=model.num_classes, dtype="float32",
                                     nodata=float("nan"))
            with rasterio.open(temp, "w", **profile) as grid, contextlib.closing(
                    predict_blocks(model, read, width, height, options, progress,
                                   Path(src.name).name, prepare, block_width(grid),
                                   clock)) as bands:
                for window, blended, valid in bands:
                    with clock.timing("encode"):
                        grid.write(np.where(valid, blended, np.nan).astype(np.float32),
                                   window=window)
        verify_geotiff(temp, output or beside)  # cut at close on a full disk without an error
        with rasterio.open(temp) as grid, WarpedVRT(
                grid, crs=src.crs, transform=src.transform, width=src.width,
                height=src.height, resampling=Resampling.bilinear, src_nodata=float("nan"),
                nodata=float("nan")) as back:
            step = 256
            strip = max(align, -(-options.block_size // align) * align)
            for left, top in ((x, y) for x in range(0, src.width, strip)
                              for y in range(0, src.height, step)):
                window = Window(left, top, min(strip, src.width - left),
                                min(step, src.height - top))
                with clock.timing("decode"):
                    values = back.read(window=window, masked=False).astype(np.float32)
                valid = np.isfinite(values).all(axis=0)
                if check_nodata:  # the image's own nodata, as read_block has it
                    valid &= valid_pixels(src, window, indexes, data_alpha)
                yield window, values, valid
    except NonFiniteOutput as exc:  # on the model's grid: placed on the raster's
        raise exc.placed(src.transform, grid=transform) from None
    finally:
        temp.unlink(missing_ok=True)
