"""Writing predictions: probabilities encoded as the output's values (float32, uint8 or
class ids), the tags and colours that say what its bands hold, and blocks written whole."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from geotile.class_output import CLASS_NODATA, band_relation
from geotile.stage_clock import StageClock


def encode(blended: np.ndarray, valid: np.ndarray, options,
           threshold: float | None, background_band: bool = False) -> np.ndarray:
    """Probabilities (K, rows, cols) -> the output band values (see predict_raster);
    ``threshold``: class output's (:func:`~geotile.class_output.class_threshold`), None for
    the argmax; ``background_band``: independent channels whose first is background's own
    (:func:`~geotile.class_output.background_channel`)."""
    valid = valid & ~np.isnan(blended[0])
    if options.output_type == "class":
        if threshold is None:  # exclusive classes: the most probable
            ids = most_probable(blended)[0]
        elif blended.shape[0] == 1:
            ids = (blended[0] >= threshold).astype(np.uint8)
        else:  # independent channels: background where none reaches the threshold
            ids, best = most_probable(blended)
            if not background_band:  # else channel 1 is background's: where it wins, 0
                ids += np.uint8(1)
            ids[best < threshold] = 0
        ids[~valid] = CLASS_NODATA
        return ids[np.newaxis]
    if options.dtype == "float32":  # NaN at nodata; no copy where every pixel is valid
        blended = blended.astype(np.float32, copy=False)
        return blended if valid.all() else np.where(valid, blended, np.float32(np.nan))
    scaled = scaled_uint8(blended)
    # 0 under the mask (the model's guess from the zeros fed at nodata stays out of the file
    # for readers that ignore masks); NaN (never predicted) is 0 already
    if not valid.all():
        scaled[:, ~valid] = 0
    return scaled


#: values scaled at a time by scaled_uint8: its float temporary stays in the CPU's cache
SCALE_CHUNK = 1 << 16


def scaled_uint8(values: np.ndarray) -> np.ndarray:
    """round(p * 255) as uint8, halves up, p clipped to [0, 1], NaN as 0 (+-inf as 1 and
    0, as after nan_to_num). Halves up, not to even (np.rint): p = 0.3 (76.5) reaching a
    threshold of 0.3 is stored 77, which readers thresholding value / 255 >= 0.3 read as
    the class the class output makes it (76 is 0.298). In chunks: over a whole block of K
    bands, each step's float temporary was the block's size again (4 GB at 150 classes of
    a 4096 px strip)."""
    flat = np.ascontiguousarray(values).reshape(-1)
    scaled = np.empty(flat.shape, np.uint8)
    part = np.empty(min(SCALE_CHUNK, flat.size), flat.dtype)
    whole = np.empty_like(part)
    for start in range(0, flat.size, SCALE_CHUNK):
        chunk = part[: min(SCALE_CHUNK, flat.size - start)]
        rounded = whole[: len(chunk)]
        np.fmax(flat[start : start + len(chunk)], 0, out=chunk)  # fmax: NaN -> 0
        np.fmin(chunk, 1, out=chunk)
        chunk *= 255
        np.rint(chunk, out=rounded)
        # a half rounded down to even goes up (exact: x - rint(x) is a float of x's);
        # floor(x + 0.5) would round 0.49999997 up, as x + 0.5 rounds to 1
        chunk -= rounded
        rounded[chunk == 0.5] += 1
        scaled[start : start + len(chunk)] = rounded
    return scaled.reshape(values.shape)


def most_probable(blended: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel of (K, rows, cols) values, the first band of the largest (argmax over the
    bands, as uint8) and that value. Band by band: argmax over the first axis strides
    through all K bands at once (4x slower at 150 classes). A NaN never wins; blocks hold
    NaN only where no window reached, in every band (nodata)."""
    best = blended[0].copy()
    ids = np.zeros(best.shape, np.uint8)
    for k in range(1, blended.shape[0]):
        higher = blended[k] > best  # strictly: a tie keeps the first band, as argmax
        ids[higher] = k
        np.copyto(best, blended[k], where=higher)
    return ids, best


def describe_output(dst, options, names, threshold, model) -> None:
    """Tags, band descriptions, colour interpretation, scale/offset and colour table, so
    that GIS clients (QGIS, gdalinfo) and geotile's own readers see what the bands hold."""
    from rasterio.enums import ColorInterp

    # the threshold applied (class output; None: the argmax, none) or declared
    # (--threshold, else the model's seg_thresh, else 0.5) travels to vectorize and evaluate
    raw = options.output_type == "probability" and getattr(model, "writes_raw", False)
    tags = {"GEOTILE_OUTPUT": "raw" if raw else options.output_type,
            "GEOTILE_CLASS_NAMES": json.dumps(names), "GEOTILE_MODEL": model.path.name}
    if threshold is not None and not raw:  # no threshold reads raw values
        tags["GEOTILE_THRESHOLD"] = repr(float(threshold))
    if options.output_type == "probability":
        for role, value in ({} if raw else getattr(model, "instance_thresholds", {})).items():
            tags[f"GEOTILE_{role.upper()}_THRESHOLD"] = repr(float(value))  # for --instances
        tags["GEOTILE_SCALE"] = "255" if options.dtype == "uint8" else "1"
        if len(names) > 1:  # how vectorize and evaluate read the bands
            tags["GEOTILE_BANDS"] = band_relation(model)
        for band, name in enumerate(names, start=1):
            dst.set_band_description(band, name)
        # data bands, not a picture: never red/green/blue
        dst.colorinterp = [ColorInterp.gray] + [ColorInterp.undefined] * (dst.count - 1)
        if options.dtype == "uint8":  # readers applying scale/offset see 0-1
            dst.scales = [1 / 255] * dst.count
            dst.offsets = [0.0] * dst.count
    else:
        dst.set_band_description(1, "class")
        from geotile.mlm_sidecars import mlm_colours  # an MLM item's classes' color_hint

        hinted = mlm_colours(model.path, len(names)) if getattr(
            model, "sidecars", {}).get("mlm") else None
        if hinted is None and getattr(model, "sidecars", {}).get("names"):
            from geotile.esri_sidecars import esri_colours  # an .emd's Classes' Color

            hinted = esri_colours(model.path, list(names))
        dst.write_colormap(1, hinted if hinted and len(hinted) == len(names)
                           else _colours(len(names), names))
    dst.update_tags(**tags)


def write_sidecar(path: Path, options, names) -> None:
    """Class outputs: category names (and a raster attribute table) in the PAM sidecar,
    published with the raster by atomic_output."""
    from geotile.categories import write_categories

    if options.output_type == "class":
        write_categories(path, names, _colours(len(names), names))


def overview_resampling(options) -> str:
    """Class ids are never averaged: their overviews keep the most frequent class."""
    return "mode" if options.output_type == "class" else "average"


def _colours(count: int, names=None) -> dict[int, tuple[int, int, int, int]]:
    from geotile.categories import class_colours

    return class_colours(count, names)


def block_width(dst) -> int:
    """The column alignment of strips written to ``dst``: its block width when tiled; a
    whole row when striped (strips would rewrite each compressed strip)."""
    cols = dst.block_shapes[0][1]
    return cols if cols < dst.width else max(dst.width, 1)


def writes_mask(options, check_nodata: bool) -> bool:
    """Whether the output gets an internal mask: uint8 probabilities (0 and 255 are values)
    with nodata to mark."""
    return options.output_type == "probability" and options.dtype == "uint8" and check_nodata


def write_bands(dst, bands, options, threshold, check_nodata, clock=None,
                 background_band: bool = False) -> bool:
    """Encode and write finished blocks in a background thread (GDAL releases the GIL);
    whether any pixel was predicted (valid, not NaN).

    Blocks come strip by strip, top to bottom; rows of a strip are gathered into whole
    rows of output blocks before writing, so each compressed tile is written once,
    complete: no partial tiles wait in GDAL's block cache (whose memory would grow with
    the raster) or get re-encoded. ``clock``: receives the time as ``encode``.
    """
    from rasterio.windows import Window

    from geotile.output_files import check_stopped
    from geotile.streaming import BackgroundWriter

    mask_band = writes_mask(options, check_nodata)
    block_rows = dst.block_shapes[0][0]
    clock = clock or StageClock()

    @functools.partial(clock.timed, "encode")
    def write(window, pieces):
        """Join the pieces (consecutive rows of one strip, encoded) and write them as
        ``window``."""
        dst.write(np.concatenate([p[0] for p in pieces], axis=1), window=window)
        if mask_band:
            keep = np.concatenate([p[1] for p in pieces], axis=0)
            dst.write_mask(keep.astype(np.uint8) * 255, window=window)

    def flush(parts, last: bool):
        """Write the whole block rows of consecutive parts of one strip (joined in the
        writer thread); the rest stays."""
        first = parts[0][0]
        total = sum(p[1].shape[1] for p in parts)
        rows = total if last else total // block_rows * block_rows
        pieces, rest, taken = [], [], 0
        for window, blended, valid in parts:
            n = min(max(rows - taken, 0), blended.shape[1])  # this part's rows written now
            if n:
                pieces.append((blended[:, :n], valid[:n]))
            if n < blended.shape[1]:
                rest.append((Window(window.col_off, window.row_off + n, window.width,
                                    window.height - n), blended[:, n:], valid[n:]))
            taken += blended.shape[1]
        writer.submit(write, Window(first.col_off, first.row_off, first.width, rows), pieces)
        return rest

    parts: list = []
    any_valid = False
    with BackgroundWriter(depth=2) as writer:
        for item in bands:
            check_stopped()  # a cluster run interrupted: stop between blocks
            # predicted: valid and not NaN (a valid-convolution model's near margin)
            any_valid = any_valid or bool((item[2] & ~np.isnan(item[1][0])).any())
            # encoded at once: blocks of K float probabilities waiting to be joined and
            # encoded are K times (class ids) or 4 times (uint8) larger
            with clock.timing("encode"):
                window, blended, valid = item
                keep = valid & ~np.isnan(blended[0]) if mask_band else valid
                item = (window, encode(blended, valid, options, threshold, background_band),
                        keep)
                del blended
            if parts and (item[0].col_off, item[0].width) != (parts[0][0].col_off,
                                                              parts[0][0].width):
                parts = flush(parts, last=True)  # a new strip: the last one is complete
            parts.append(item)
            if sum(p[1].shape[1] for p in parts) >= block_rows:
                parts = flush(parts, last=False)
        if parts:
            flush(parts, last=True)
    return any_valid
