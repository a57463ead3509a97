"""Scores: pixel metrics (rasters); the SpaceNet building metric (objects) is in
:mod:`geotile.object_scores`.

Pixel metrics compare two rasters on the same grid, streamed by row bands,
excluding nodata and the ignore value 255 of a class truth of ids up to 255 (make-masks
writes it where the label is unknown or the image is nodata): a confusion matrix C (rows: truth,
columns: prediction) and, per class c, TP = C[c, c], FP = column sum - TP, FN = row sum - TP,
IoU = TP / (TP + FP + FN), precision, recall and F1: NaN (JSON null, "-" in tables) for a class
with no pixel on either side (0/0), 0 for a class on one side only.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from geotile import label_rasters
from geotile.errors import InputError
from geotile.input_files import VECTOR_SUFFIXES
from geotile.score_tables import class_lines, name_column_width, shown

log = logging.getLogger("geotile")

#: rasters by extension: those make-masks reads as labels (JPEG, PNG, BMP masks too)
RASTER_SUFFIXES = label_rasters.RASTER_SUFFIXES
#: the ignore value of masks (make-masks): truth pixels holding it are left out
IGNORE = 255
#: the widest confusion matrix a text table prints (characters a line); wider ones (150
#: classes) are in --json, the table lists their largest confusions
MATRIX_CHARACTERS = 200
#: the widest column of a confusion matrix (a space and 15 characters of a class name;
#: longer names are cut, ending in '~')
HEAD_CHARACTERS = 16

#: the largest class id of a class raster (a confusion matrix of 1024 x 1024 counts)
MAX_SCORED_CLASS_ID = 1023


# ----------------------------------------------------------------------------- pixels


@dataclass
class PixelScores:
    """A confusion matrix (rows: truth class id, columns: predicted class id) and the
    per-class scores derived from it."""

    confusion: np.ndarray
    class_names: list[str] | None = None
    mode: str = "pixel"
    #: the truth's ids named no data (:func:`truth_names`): left out, not scored
    left_out: tuple[int, ...] = ()

    def name(self, class_id: int) -> str:
        if self.class_names and class_id < len(self.class_names):
            return str(self.class_names[class_id])
        return "background" if class_id == 0 else str(class_id)

    def classes(self) -> list[dict]:
        """Per class: class_id, class, iou, precision, recall, f1 (:func:`pixel_ratios`),
        support (truth pixels) and predicted."""
        c = self.confusion
        rows = []
        for k in range(c.shape[0]):
            tp = int(c[k, k])
            fp = int(c[:, k].sum()) - tp
            fn = int(c[k].sum()) - tp
            ratios = pixel_ratios(0, 0, 0) if k in self.left_out else pixel_ratios(tp, fp, fn)
            rows.append({"class_id": k, "class": self.name(k), **ratios,
                         "support": int(c[k].sum()), "predicted": int(c[:, k].sum())})
        return rows

    @property
    def pixels(self) -> int:
        return int(self.confusion.sum())

    @property
    def accuracy(self) -> float:
        """Share of the pixels scored that agree (NaN without pixels)."""
        return float(np.trace(self.confusion)) / self.pixels if self.pixels else np.nan

    def as_dict(self) -> dict:
        classes = self.classes()
        seen = [c["iou"] for c in classes
                if (c["support"] or c["predicted"]) and c["class_id"] not in self.left_out]
        return {"mode": "pixel", "classes": classes,
                "confusion_matrix": self.confusion.tolist(), "accuracy": self.accuracy,
                "mean_iou": float(np.mean(seen)) if seen else np.nan, "pixels": self.pixels}

    def table(self) -> str:
        d = self.as_dict()
        lines = [f"Pixels: {d['pixels']}  accuracy {shown(d['accuracy'])}  mean IoU "
                 f"{shown(d['mean_iou'])}", *class_lines(d["classes"])]
        n = len(d["classes"])
        rows = [self.name(k) for k in range(n)]
        least = max(8, len(str(self.confusion.max(initial=0))) + 2)
        fits = (MATRIX_CHARACTERS - name_column_width(rows)) // max(n, 1)  # wider names, if room
        width = max(least, min(HEAD_CHARACTERS, fits, max(map(len, rows), default=0) + 1))
        heads = [r if len(r) < width else r[:width - 2] + "~" for r in rows]
        if len(set(heads)) < n:  # cut names would clash: columns by class id
            heads, rows = [str(k) for k in range(n)], [f"{k} {r}" for k, r in enumerate(rows)]
            width = least
        w = name_column_width(rows)
        if w + n * width > MATRIX_CHARACTERS:  # 150 classes: lines no terminal shows
            return "\n".join(lines + self._largest_confusions())
        lines.append("Confusion matrix (rows: truth, columns: prediction):")
        lines.append(" " * w + "".join(f"{h:>{width}}" for h in heads))
        for name, row in zip(rows, self.confusion, strict=True):
            lines.append(f"{name:<{w}}" + "".join(f"{v:>{width}}" for v in row))
        return "\n".join(lines)

    def _largest_confusions(self, count: int = 10) -> list[str]:
        """In place of a matrix too wide to read: where it is, and its ``count`` largest
        counts off the diagonal (a truth class predicted as another)."""
        n = len(self.confusion)
        lines = [f"Confusion matrix: {n} x {n}, too wide to print (--json holds it); "
                 "the largest confusions (truth -> prediction, pixels):"]
        off = self.confusion.astype(np.int64)
        np.fill_diagonal(off, 0)
        order = np.argsort(-off, axis=None, kind="stable")[:count]  # ties: the first first
        cells = zip(*np.unravel_index(order, off.shape), strict=True)
        pairs = [(int(k), int(j), int(off[k, j])) for k, j in cells if off[k, j]]
        if not pairs:
            return [*lines, "  none"]
        a = max(len(self.name(k)) for k, _, _ in pairs)
        b = max(len(self.name(j)) for _, j, _ in pairs)
        return lines + [f"  {self.name(k):<{a}} -> {self.name(j):<{b}} {v:>12}"
                        for k, j, v in pairs]


def pixel_ratios(tp: int, fp: int, fn: int) -> dict:
    """IoU, precision, recall and F1 of pixel counts: NaN where there is nothing to score
    (TP + FP + FN = 0), else 0 where a denominator is 0."""
    if not tp + fp + fn:
        return dict.fromkeys(("iou", "precision", "recall", "f1"), np.nan)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {"iou": tp / (tp + fp + fn), "precision": precision, "recall": recall,
            "f1": 2 * precision * recall / (precision + recall) if precision * recall else 0.0}


def confusion_matrix(prediction: np.ndarray, truth: np.ndarray,
                     valid: np.ndarray | None = None, n_classes: int = 2) -> np.ndarray:
    """Confusion matrix (truth x prediction) of two arrays of non-negative class ids; only
    pixels where ``valid`` (a mask: bool, or non-zero such as read_masks' 255) count.
    Grows past ``n_classes`` to the largest id present."""
    prediction = np.asarray(prediction).astype(np.int64, copy=False)
    truth = np.asarray(truth).astype(np.int64, copy=False)
    if valid is not None:
        valid = _valid_mask(valid, prediction.shape)
        prediction, truth = prediction[valid], truth[valid]
    if prediction.size and min(prediction.min(), truth.min()) < 0:
        raise InputError("class ids must be >= 0; negative ids found.")
    top = max(int(prediction.max(initial=0)), int(truth.max(initial=0)))
    if top > MAX_SCORED_CLASS_ID:  # an n x n matrix of instance ids would not fit in memory
        raise InputError(f"value {top} is beyond the class ids evaluate scores "
                         f"(0..{MAX_SCORED_CLASS_ID}); instance ids or counts are not classes. "
                         "Give class ids.")
    n = max(n_classes, top + 1)
    counts = np.bincount((truth * n + prediction).ravel(), minlength=n * n)
    return counts.reshape(n, n)


def _valid_mask(valid, shape: tuple) -> np.ndarray:
    """``valid`` as a bool mask of ``shape``: non-zero pixels count (a 0/1 or 0/255 mask is
    never read as indices)."""
    valid = np.asarray(valid)
    if valid.shape != shape:
        raise InputError(f"the valid mask has shape {valid.shape}, the arrays {shape}; give "
                         "one value per pixel (True or non-zero: counted).")
    return valid if valid.dtype == bool else valid != 0


def _float_ids(values, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(ids, where they are known) of a class-id array; a masked array's masked pixels and
    a float one's NaN are nodata (as in a raster), a fraction or infinity an InputError
    (probabilities: threshold first)."""
    known = ~np.ma.getmaskarray(values) if np.ma.isMaskedArray(values) else None
    values = np.asarray(np.ma.getdata(values))
    if values.dtype.kind == "f":
        known = ~np.isnan(values) if known is None else known & ~np.isnan(values)
        ids = values[known]
        bad = ids[~np.isfinite(ids) | (ids != np.round(ids))]
        if bad.size:
            raise InputError(f"pixel_scores takes class ids and the {name} holds {bad[0]:g} "
                             "(class probabilities?): threshold probabilities first, e.g. "
                             "pixel_scores(probability >= 0.5, truth).")
    if known is None:
        return values, None
    return np.where(known, values, 0).astype(values.dtype, copy=False), known


def pixel_scores(prediction: np.ndarray, truth: np.ndarray, valid: np.ndarray | None = None, *,
                 class_names: list[str] | None = None) -> PixelScores:
    """Pixel scores of two class-id arrays of the same shape; ``valid`` (a mask: True or
    non-zero) the pixels to count. NaN of a float array and the masked pixels of a masked
    array are nodata, left out; 255 is read as evaluate reads masks: a 0/255 mask's
    positives (class 1), else the truth's ignore value."""
    if np.shape(prediction) != np.shape(truth):
        raise InputError(f"arrays differ in shape: {np.shape(prediction)} vs {np.shape(truth)}.")
    prediction, known_pred = _float_ids(prediction, "prediction")
    truth, known_true = _float_ids(truth, "truth")
    if valid is not None:
        valid = _valid_mask(valid, prediction.shape)
    for known in (known_pred, known_true):
        if known is not None:
            valid = known if valid is None else valid & known
    n = len(class_names) if class_names else 2
    confusion = confusion_matrix(prediction, truth, valid, n)
    return _array_counts(confusion, prediction, truth, valid, class_names).scores()


def _array_counts(confusion: np.ndarray, prediction: np.ndarray, truth: np.ndarray,
                  valid: np.ndarray | None, names) -> _RasterCounts:
    """The counts of two arrays as :func:`raster_counts` holds those of two rasters of
    their types, naming no classes, for 255 to be read as evaluate reads it
    (:func:`_resolve_255`); with 3 or more ``names`` (class rasters) 255 is ignored."""
    from geotile.raster_kinds import may_hold_0_255

    binary = names is None or len(names) <= 2  # a 0/255 mask is one class and background
    may = tuple(binary and may_hold_0_255(a.dtype) for a in (truth, prediction))
    edge = tuple(_array_edge_strays(a, valid, counts) if m else 0 for a, m, counts in (
        (truth, may[0], confusion.sum(axis=1)), (prediction, may[1], confusion.sum(axis=0))))
    truth_0_255 = truth.dtype == np.uint8 or (may[0] and not confusion[IGNORE + 1:].any())
    pred_0_255 = prediction.dtype == np.uint8 or (
        may[1] and not confusion[:, IGNORE + 1:].any())
    return _RasterCounts.of(confusion, names, truth_0_255, pred_0_255, may_be_0_255=may,
                            wide_truth=truth.dtype != np.uint8, edge_strays=edge)


def _array_edge_strays(ids: np.ndarray, valid: np.ndarray | None, counts: np.ndarray) -> int:
    """:func:`_strays_at_edges` of an array (its last two axes an image's rows and columns)."""
    from geotile.raster_kinds import count_edge_strays

    if len(counts) <= IGNORE or not counts[IGNORE] or not counts[1:IGNORE].any() \
            or ids.ndim == 0:
        return 0
    images = ids.reshape(-1, *ids.shape[-2:]) if ids.ndim > 1 else ids[None, None]
    kept = np.ones(ids.shape, bool) if valid is None else valid
    kept = kept.reshape(images.shape)
    images = np.where(kept, images, 0)  # (a float array's NaN: left out by valid)
    return sum(count_edge_strays(image[:0], image, (image > 0) & (image < IGNORE) & keep, image[:0])
               for image, keep in zip(images, kept, strict=True))


def add_confusion(total: np.ndarray, part: np.ndarray) -> np.ndarray:
    n = max(total.shape[0], part.shape[0])
    grown = np.zeros((n, n), np.int64)
    grown[: total.shape[0], : total.shape[0]] += total
    grown[: part.shape[0], : part.shape[0]] += part
    return grown


#: at most this many distinct values above MAX_SCORED_CLASS_ID in a block of a class
#: raster, all multiples of 10, are class codes (Urban Atlas' 27: 11100, 11210, ...),
#: not instance ids nor scaled probabilities (6554, 58982)
CLASS_CODES = 64


def band_class_ids(values: np.ndarray, valid: np.ndarray, kind, threshold: float,
         source) -> np.ndarray:
    """Class ids of a row band: class rasters as they are, probabilities thresholded
    (one band: p >= threshold) or argmaxed (several bands)."""
    from geotile.raster_kinds import (
        LOGITS_HINT,
        SCALED_PROBABILITY_IDS,
        check_probabilities,
        class_ids,
        largest_value,
        scale_advice,
        value_text,
        whole_float_ids,
    )

    if kind.kind == "class":
        band = values[0]
        floats = band.dtype.kind == "f"
        if floats:  # 1.9 is no class 1: refused, never cut to it
            band = whole_float_ids(band, valid, source)
        ids = np.where(valid, band, 0)  # checked before the cast: -3.4e38 is no int64
        name = Path(str(source)).name
        if ids.size and ids.min() < 0:
            low = value_text(ids.min())
            hint = LOGITS_HINT if floats else ""
            raise InputError(f"{source}: negative class id {low}; a class raster holds ids >= "
                             f"0. If {low} marks no data, declare it (gdal_edit.py -a_nodata "
                             f"{low} {name}){hint}.")
        scaled = kind.names is None and band.dtype in SCALED_PROBABILITY_IDS
        if ids.size and ids.max() > MAX_SCORED_CLASS_ID:
            top = ids.max()
            advice = f"; {scale_advice(band.dtype, name, largest_value(source, int(top)))}" \
                if scaled else ""
            limits = np.finfo if band.dtype.kind == "f" else np.iinfo
            if band.dtype.kind in "iuf" and top == limits(band.dtype).max and (
                    ids[ids > MAX_SCORED_CLASS_ID] == top).all():  # the dtype's maximum alone
                advice = (f", or if {value_text(top)} marks no data, declare it (gdal_edit.py "
                          f"-a_nodata {value_text(top)} {name})")
                if band.dtype.kind in "iu" and not ids[(ids != 0) & (ids != top)].size:
                    # 0 and the maximum alone: a 16-bit 0/65535 mask, its foreground no nodata
                    advice = (f", or if it is a 0/{top} mask, its {top} the class, make it "
                              f"0/1 (gdal_translate -scale 0 {top} 0 1 -ot Byte {name} "
                              f"mask.tif){advice.replace(', or if', '; if', 1)}")
            codes = np.unique(ids[ids > MAX_SCORED_CLASS_ID])
            if (codes.size <= CLASS_CODES and not np.any(codes % 10)
                    and not advice.startswith(", or if")):
                shown = ", ".join(map(value_text, codes[:4])) + (", ..." if codes.size > 4
                                                                 else "")
                raise InputError(f"{source}: value {value_text(top)} is beyond the class ids "
                                 f"evaluate scores (0..{MAX_SCORED_CLASS_ID}): {codes.size} "
                                 f"distinct values above it ({shown}). Class codes (Urban "
                                 f"Atlas' 11100..50000)? Then renumber them to "
                                 f"0..{MAX_SCORED_CLASS_ID} first (a lookup, gdal_calc.py); "
                                 "instance ids are not classes.")
            raise InputError(f"{source}: value {value_text(top)} is beyond the class ids "
                             f"evaluate scores (0..{MAX_SCORED_CLASS_ID}); instance ids or "
                             f"counts are not classes. Give a class raster{advice}.")
        return ids.astype(np.int64)
    check_probabilities(values, valid, kind, source)  # float class ids are no probabilities
    return class_ids(values, valid, kind, threshold, source)[0]


def meaning_of_255(confusion: np.ndarray, truth_uint8: bool, prediction_uint8: bool,
                    edge: tuple[int, int] = (0, 0)) -> tuple[bool, bool]:
    """Whether the truth and the prediction (uint8 rasters) are 0/255 masks (INRIA,
    Massachusetts, DeepGlobe, JPEG or antialiased ones with a few strays too), from the
    counts of one image or of a whole folder and their strays at 0 <-> 255 edges
    (``edge``: :func:`_strays_at_edges`), by the rule make-masks and tile read them with
    (:func:`~geotile.raster_kinds.kind_0_255`): 255 is then class 1, a stray 1 from 128 up,
    else 0. In a truth with other ids too, 255 is the ignore value (make-masks)."""
    from geotile.raster_kinds import kind_0_255

    c = confusion
    if c.shape[0] <= IGNORE:
        return False, False

    def binary(counts: np.ndarray, near: int) -> bool:
        return kind_0_255(np.append(counts[:IGNORE + 1], near)) in ("binary", "zeros")

    return (truth_uint8 and binary(c.sum(axis=1), edge[0]),
            prediction_uint8 and binary(c.sum(axis=0), edge[1]))


def _strays_at_edges(src, counts: np.ndarray) -> int:
    """How many of the strays (1..254) of one side's ``counts`` (a uint8 raster's, when it
    may be a 0/255 mask) lie at 0 <-> 255 edges, by the share its scan finds
    (:func:`~geotile.raster_kinds.edge_share`); 0 without a 255 or strays (no scan)."""
    from geotile.raster_kinds import edge_share

    strays = int(counts[1:IGNORE].sum()) if len(counts) > IGNORE else 0
    if not strays or not counts[IGNORE]:
        return 0
    return round(strays * edge_share(src))


def _fold_0_255(c: np.ndarray, axis: int) -> None:
    """Read the ids 0..255 of one side (``axis`` 0: the truth's rows, 1: the prediction's
    columns) of ``c`` as a 0/255 mask's, in place: 1 from 128 up, else 0."""
    side = c if axis == 0 else c.T  # a view: written through
    low, high = side[:128].sum(axis=0), side[128:IGNORE + 1].sum(axis=0)
    side[:IGNORE + 1] = 0
    side[0], side[1] = low, high


def _resolve_255(confusion: np.ndarray, truth_uint8: bool, prediction_uint8: bool,
                 classes: int, meaning: tuple[bool, bool] | None = None,
                 wide_truth: bool = False) -> np.ndarray:
    """Class 255 of uint8 rasters (or wider ones of ids 0..255 only: ``truth_uint8``,
    ``prediction_uint8``), once every pixel is counted: where ``meaning`` (default:
    :func:`meaning_of_255` of this matrix) says a side is a 0/255 mask, its ids are read as
    one (:func:`_fold_0_255`); else 255 is left out of a uint8 truth (the ignore value), as
    of a class truth of another type (``wide_truth``) holding no id above 255, as make-masks
    reads them. The matrix is then cut to the classes used (at least ``classes``)."""
    c = confusion
    if wide_truth and not truth_uint8 and c.shape[0] > IGNORE and c[IGNORE].any() \
            and not c[IGNORE + 1:].any():
        c = c.copy()
        c[IGNORE] = 0  # ids 0..254 and 255: the ignore value
    if c.shape[0] > IGNORE:
        truth_binary, prediction_binary = meaning or meaning_of_255(c, truth_uint8,
                                                                    prediction_uint8)
        c = c.copy()
        if truth_uint8:
            if truth_binary:
                _fold_0_255(c, 0)
            c[IGNORE] = 0
        if prediction_uint8 and prediction_binary:
            _fold_0_255(c, 1)
    used = np.flatnonzero(c.any(axis=0) | c.any(axis=1))
    size = max(classes, int(used[-1]) + 1 if used.size else 0)
    if size < c.shape[0]:
        c = c[:size, :size]
    return c


def _names_matched(predicted: list[str], true: list[str], prediction
                   ) -> tuple[list[str], np.ndarray | None, str | None]:
    """Class names to score with, the prediction's ids -> truth's ids (None: as they are),
    and what to say of names left unmatched. Where a name of the prediction is the truth's
    at another id (another palette order), classes match by name
    (:func:`~geotile.class_keys.match_class_names`); the prediction's names the truth lacks,
    and its unnamed ids, come after the truth's."""
    from geotile.class_keys import match_class_names

    matched = match_class_names(predicted, true)
    by_id = all(m is None or m == i for i, m in enumerate(matched))
    said = _unmatched_names(predicted, true, matched, by_id)
    if by_id:  # same order, or names of their own: ids as they are, the prediction's past
        return [*true, *predicted[len(true):]], None, said  # the truth's naming its ids
    names = list(true)
    lookup = np.arange(max(len(predicted), MAX_SCORED_CLASS_ID + 1), dtype=np.int64)
    for i, (m, name) in enumerate(zip(matched, predicted, strict=True)):
        if m is None:
            m = len(names)
            names.append(name)
        lookup[i] = m
    lookup[len(predicted):] += len(names) - len(predicted)
    log.info("%s: its classes matched to the truth's by name: %s", prediction,
             ", ".join(f"{n} {i}->{lookup[i]}" for i, n in enumerate(predicted) if lookup[i] != i))
    return names, lookup, said


def _unmatched_names(predicted, true, matched, by_id: bool) -> str | None:
    """What to say where some names matched and others of both rasters did not: a class
    of the truth may be spelt otherwise in the prediction ('Structures', 'building')."""
    from geotile.class_keys import is_background_name, is_placeholder_name

    if all(m is None for m in matched):
        return None
    odd = [i for i, m in enumerate(matched) if m is None
           and not is_placeholder_name(predicted[i])]
    left = [n for j, n in enumerate(true) if j not in matched and not is_background_name(n)
            and not is_placeholder_name(n)]
    if not odd or not left:
        return None
    shown = ", ".join(f"{predicted[i]!r} (id {i}"
                      + (f", scored by id as {true[i]!r})" if by_id and i < len(true) else ")")
                      for i in odd)
    return (f"its classes {shown} match no class name of the truth, whose "
            f"{', '.join(map(repr, left))} no prediction class name matches: "
            + ("" if by_id else "scored as classes of their own (IoU 0). ")
            + "If they are the same classes, give them the same names (tag "
            "GEOTILE_CLASS_NAMES, gdal_edit.py -mo) so that they match by name.")


def _zeros(values: np.ndarray, where: np.ndarray, kind, threshold: float, source) -> int:
    """How many pixels ``where`` holds class 0 (a raster's own values, unchecked)."""
    from geotile.raster_kinds import class_ids

    if not where.any():
        return 0
    if kind.kind == "class":
        return int((where & (values[0] == 0)).sum())
    return int((where & (class_ids(values, where, kind, threshold, source)[0] == 0)).sum())


def check_same_grid(pred, true, prediction, truth) -> None:
    """An InputError when the rasters' grids differ, or, first, when one of them is damaged
    (a truncated GeoTIFF loses its georeferencing: no grid problem to fix with gdalwarp); of
    one size, one georeferenced and not the other, it gives the other that georeferencing
    (:func:`~geotile.no_georef.one_georeferenced`)."""
    from geotile.crs_names import grid_difference
    from geotile.raster import check_pixels_readable

    if (difference := grid_difference(pred, true)) is not None:
        check_pixels_readable(pred)
        check_pixels_readable(true)
        from geotile.tile_checks import crs_alone_differs

        # a PNG whose .aux.xml was lost keeps its world file: assigning the CRS is the fix
        if (no_crs := crs_alone_differs(pred, true, ("prediction", "truth"))) is not None:
            raise InputError(no_crs)
        from geotile.no_georef import one_georeferenced, unplaced

        # WHU's label tiles without their images' georeferencing: the truth takes it
        plain = [r for r in (true, pred) if unplaced(r)]
        if len(plain) == 1 and (pred.width, pred.height) == (true.width, true.height):
            placed = pred if plain[0] is true else true
            raise InputError(one_georeferenced(placed, plain[0], True, "truth" if plain[0]
                                               is true else "prediction"))
        raise InputError(
            f"{prediction} and {truth} are not on the same grid: {difference}. Rasterize the "
            "truth labels on the prediction's grid (`geotile make-masks LABELS IMAGE`), or "
            "resample one onto the other with gdalwarp -tap -tr/-te.")


def merged_ids(class_map: dict) -> tuple[dict[str, int], dict[int, int]]:
    """A class map whose names may have several ids ({"other": (13, 14, 15)}, FLAIR's
    classes merged as its benchmark scores them) as one id a name, the first, and the
    other ids -> that id ({14: 13, 15: 13})."""
    single, merged = {}, {}
    for name, ids in class_map.items():
        if isinstance(ids, tuple):
            single[name] = ids[0]
            merged.update(dict.fromkeys(ids[1:], ids[0]))
        else:
            single[name] = ids
    return single, merged


def truth_names(class_map: dict[str, int]) -> list[str]:
    """A truth's class names by id from a class map {name: id} (make-masks --class-map's for
    a label raster): an unnamed id is its number, or background for 0. An id named no data
    (:func:`~geotile.nodata_names.names_no_data`: "no data", "ignore", "unknown"...) is
    left out of the scores, as 255."""
    from geotile.class_keys import unnamed_zero
    from geotile.label_set import class_map_names

    by_id = class_map_names(class_map)
    zero = unnamed_zero(by_id.values())
    return [by_id.get(i, zero if i == 0 else str(i))
            for i in range(max(class_map.values()) + 1)]


#: pixel scores go by blocks of this many px a side: each is cast to int64 ids a few times
#: over, so 4096 px blocks held ~1 GB (976 MB peak for two 6000 px class rasters) where
#: 1024 px hold ~200 MB at the same speed (0.81 s against 0.76-1.9 s, warm)
PIXEL_BLOCK_SIZE = 1024


def evaluate_rasters(prediction: str | os.PathLike, truth: str | os.PathLike, *,
                     threshold: float | None = None, progress: bool = False,
                     block_size: int = PIXEL_BLOCK_SIZE,
                     class_map: dict[str, int] | None = None) -> PixelScores:
    """Pixel scores of a prediction raster against a truth class raster on the same grid.

    The prediction may be a class raster or a probability raster (formats.md): one band is
    thresholded (``threshold``, default the raster's GEOTILE_THRESHOLD tag, else 0.5),
    several are argmaxed. Band 1 of the truth holds class ids. Pixels that are nodata in
    either raster, or 255 (the ignore value) in a truth of ids up to 255, are left out, as
    are the truth's ids named no data (:func:`truth_names`). ``class_map`` ({name: id}, as
    make-masks' for a label raster) names the truth's ids. Streams by ``block_size`` px
    blocks (read a block ahead, see geotile.streaming).
    """
    counts = raster_counts(prediction, truth, threshold=threshold, progress=progress,
                            block_size=block_size, class_map=class_map)
    return counts.scores()


@dataclass
class _RasterCounts:
    """The confusion matrix of two rasters before 255 is resolved (:func:`_resolve_255`),
    kept as the rows and columns of the ids present (a folder holds one per image)."""

    ids: np.ndarray
    counts: np.ndarray
    names: list[str] | None
    truth_uint8: bool
    prediction_uint8: bool
    #: pixels of class 0 left out by the other raster's nodata 0: (by the prediction's, by
    #: the truth's), and the pixels of one raster
    zero_nodata: tuple[int, int] = (0, 0)
    pixels: int = 0
    #: an unnamed truth paired by id with a named prediction: the ids it holds, and its
    #: pixels (all, on the diagonal, truth id k+1 at class k, k-1 at k): :func:`_id_shift`
    by_id: tuple[tuple[int, ...], tuple[int, int, int, int]] | None = None
    #: pixels where the prediction holds a class, left out as a truth's nodata 255 that is
    #: all its non-zero pixels (a 0/255 mask declaring its positives nodata?), of
    #: ``nodata_255`` pixels of that nodata where the prediction is valid
    lost_255: int = 0
    nodata_255: int = 0
    #: whether the truth, the prediction may be 0/255 masks (raster_kinds.may_be_0_255)
    may_be_0_255: tuple[bool, bool] = (True, True)
    #: a class truth of another type than uint8 (its 255: :func:`_resolve_255`)
    wide_truth: bool = False
    #: what the declared nodata 0 of the prediction, the truth means (zero_nodata)
    zeros: tuple = (None, None)
    #: strays of the truth, the prediction at 0 <-> 255 edges (:func:`_strays_at_edges`)
    edge_strays: tuple[int, int] = (0, 0)
    #: what to say of class names left unmatched (:func:`_unmatched_names`)
    unmatched: str | None = None
    #: the truth's ids named no data (:attr:`PixelScores.left_out`)
    left_out: tuple[int, ...] = ()
    #: a prediction naming no classes that holds those ids on pixels scored: (the ids, their
    #: pixels, the pixels scored, the truth's names) (:func:`warn_predicted_no_data`)
    predicted_no_data: tuple | None = None

    @classmethod
    def of(cls, confusion: np.ndarray, names, truth_uint8: bool, prediction_uint8: bool,
           **more):
        ids = np.flatnonzero(confusion.any(axis=0) | confusion.any(axis=1))
        return cls(ids, confusion[np.ix_(ids, ids)], names, truth_uint8, prediction_uint8,
                   **more)

    @property
    def confusion(self) -> np.ndarray:
        n = max(len(self.names) if self.names else 2, int(self.ids.max(initial=0)) + 1)
        full = np.zeros((n, n), np.int64)
        full[np.ix_(self.ids, self.ids)] = self.counts
        return full

    def scores(self, meaning: tuple[bool, bool] | None = None) -> PixelScores:
        meaning = meaning or meaning_of_255(self.confusion, self.truth_uint8,
                                             self.prediction_uint8, self.edge_strays)
        meaning = (meaning[0] and self.may_be_0_255[0], meaning[1] and self.may_be_0_255[1])
        confusion = _resolve_255(self.confusion, self.truth_uint8, self.prediction_uint8,
                                 len(self.names) if self.names else 2, meaning,
                                 self.wide_truth)
        return PixelScores(confusion, self.names, left_out=self.left_out)


def raster_counts(prediction, truth, *, threshold: float | None = None,
                   progress: bool = False, block_size: int = PIXEL_BLOCK_SIZE,
                   warn: bool = True, zeros_nodata: tuple[bool, bool] = (False, False),
                   class_map: dict[str, int] | None = None) -> _RasterCounts:
    """:func:`evaluate_rasters`' counts, 255 not yet resolved; ``warn``: of pixels left out
    by a nodata 0 (else only counted, for a folder's one warning); ``zeros_nodata``: the
    prediction's, the truth's folder reads a nodata 0 as no data (:func:`_folder_zeros`)."""
    from geotile.nodata_classes import refuse_nodata_class
    from geotile.palettes import palette_advice
    from geotile.progress import progress_bar
    from geotile.raster import has_nodata, open_raster, read_block
    from geotile.raster_kinds import (
        ROLES,
        looks_like_colour_labels,
        may_be_0_255,
        no_data_ids,
        plain_bands,
        raster_kind,
        reads_nodata,
        roles_tag_advice,
        warn_if_lossy_ids,
        warn_if_other_class_bands,
        warn_if_scaled_class_raster,
        warn_zero_nodata,
        zero_nodata,
    )
    from geotile.streaming import background, blocks, is_striped

    with open_raster(prediction) as pred, open_raster(truth) as true:
        check_same_grid(pred, true, prediction, truth)
        for path, src in ((truth, true), (prediction, pred)):
            if looks_like_colour_labels(src):  # band 1 (red) alone would be scored
                advice = palette_advice(src)  # no built-in palette's 0/255 colours:
                roles = (f"; if they are solaris' footprint, boundary and contact masks, name "
                         f"them: {roles_tag_advice(src)}" if src.count == len(ROLES)
                         and "palette.json" in advice
                         and looks_like_colour_labels(src, pure=True) else "")
                raise InputError(f"{path}: its RGB bands look like colour-coded labels, not "
                                 "class ids. Make a class mask first: geotile make-masks "
                                 f"{Path(str(path)).name} IMAGE -o mask.tif {advice}{roles}.")
        p_indexes, pred_kind = plain_bands(pred, raster_kind(
            pred, threshold_given=threshold is not None))
        # a probability truth (a teacher model's) is read as a prediction is, at its threshold
        t_indexes, true_kind = plain_bands(true, raster_kind(true, truth=True))
        t_indexes = t_indexes or (None if true_kind.kind == "probability" else [1])
        if true_kind.kind == "class" and t_indexes == [1] and true.count > 1:
            warn_if_other_class_bands(true, truth)
        if pred_kind.kind == "class" and p_indexes is None and pred.count > 1:
            warn_if_other_class_bands(pred, prediction, side="prediction")
        for path, src, kind in ((truth, true, true_kind), (prediction, pred, pred_kind)):
            if kind.kind == "class":
                warn_if_lossy_ids(src, path, "which count as errors")
        t_threshold = true_kind.threshold if true_kind.threshold is not None else 0.5
        merged: dict[int, int] = {}
        if class_map:
            class_map, merged = merged_ids(class_map)
            true_kind = replace(true_kind, names=truth_names(class_map))
            if true_kind.kind == "class":
                refuse_nodata_class(true, truth, true_kind.names, "--class-map")
        no_data = no_data_ids(true_kind.names)
        if threshold is None:
            threshold = pred_kind.threshold if pred_kind.threshold is not None else 0.5
        names = true_kind.names or pred_kind.names
        lookup = unmatched = None
        if p_indexes is None and true_kind.names and pred_kind.names:
            names, lookup, unmatched = _names_matched(pred_kind.names, true_kind.names,
                                                      prediction)
        confusion = np.zeros((len(names) if names else 2,) * 2, np.int64)
        # a class raster's declared nodata 0 may be its background (zero_nodata)
        zeros = tuple(zero_nodata(src, run) if kind.kind == "class" else None
                      for src, kind, run in ((pred, pred_kind, zeros_nodata[0]),
                                             (true, true_kind, zeros_nodata[1])))
        check_pred = reads_nodata(pred, pred_kind) and not (zeros[0] and zeros[0].background)
        # a probability truth's class band that GDAL flags alpha (a one-hot of 4 uint8
        # bands) holds values, as a prediction's does (reads_nodata)
        check_true = has_nodata(true) and reads_nodata(true, true_kind) and not (
            zeros[1] and zeros[1].background)
        zero_nodata = [0, 0]  # pixels of class 0 in the truth, the prediction, left out
        # because the other declares nodata 0
        lost_255 = ignored_255 = 0  # pixels of a class in the prediction, of all pixels,
        # left out as truth nodata 255
        wide_truth = true_kind.kind == "class" and true.dtypes[0] != "uint8"
        # a signed integer class truth's negative values are no class ids: no data
        signed_truth = true_kind.kind == "class" and np.dtype(true.dtypes[0]).kind == "i"
        left_negative = 0
        nodata_255 = true.nodata == IGNORE and may_be_0_255(true, true_kind)  # not make-masks'
        pred_255 = [0, 0] if pred.nodata == IGNORE and may_be_0_255(pred, pred_kind) else None

        def read(parts):
            # a probability of 0 is a value (GDAL's mask: nodata where every band is), as
            # vectorize reads it: a softmax written with an image profile's nodata 0
            for left, top, cols, rows in parts:
                yield (read_block(pred, left, top, cols, rows, p_indexes, check_pred,
                                  band_nodata_values=pred_kind.kind != "probability"),
                       read_block(true, left, top, cols, rows, t_indexes, check_true,
                                  band_nodata_values=true_kind.kind != "probability"))

        parts = list(blocks(pred.width, pred.height, block_size, is_striped(pred, true)))
        # the reader thread stops before the rasters close, whatever holds the pairs
        with contextlib.closing(background(read(parts))) as pairs:
            for (p_values, p_valid), (t_values, t_valid) in progress_bar(
                    pairs, progress, total=len(parts), unit="block", desc="evaluate"):
                keep = p_valid & t_valid
                if signed_truth:  # Sen1Floods11's undeclared -1: no class, left out
                    negative = t_values[0] < 0
                    keep = keep & ~negative
                    left_negative += int((negative & p_valid & t_valid).sum())
                p_ids = band_class_ids(p_values, keep, pred_kind, threshold, prediction)
                if lookup is not None:
                    p_ids = lookup[p_ids]
                t_ids = band_class_ids(t_values, keep, true_kind, t_threshold, truth)
                for source, target in merged.items():  # --class-map's ids of one class
                    t_ids = np.where(t_ids == source, target, t_ids)
                    if lookup is None:  # the prediction's ids are the truth's: merged too
                        p_ids = np.where(p_ids == source, target, p_ids)
                if no_data:  # the truth's ids named no data: left out
                    keep = keep & ~np.isin(t_ids, no_data)
                confusion = add_confusion(confusion, confusion_matrix(p_ids, t_ids, keep))
                if pred.nodata == 0 and zeros[0] is None:  # else warn_zero_nodata's
                    zero_nodata[0] += _zeros(t_values, t_valid & ~p_valid, true_kind, t_threshold,
                                             truth)
                if true.nodata == 0 and zeros[1] is None:
                    zero_nodata[1] += _zeros(p_values, p_valid & ~t_valid, pred_kind, threshold,
                                             prediction)
                if pred_255 is not None:  # the truth's classes where the prediction's 255s
                    lost = t_valid & ~p_valid
                    pred_255[0] += int(lost.sum())
                    pred_255[1] += int(lost.sum()) - _zeros(t_values, lost, true_kind,
                                                            t_threshold, truth)
                if nodata_255:
                    lost = p_valid & ~t_valid
                    ignored_255 += int(lost.sum())
                    lost_255 += int(lost.sum()) - _zeros(p_values, lost, pred_kind, threshold,
                                                         prediction)
        # once per raster, from a sample (after the blocks: ids beyond a confusion matrix
        # are refused there, with the same advice); the truth's 255 is its ignore value
        may = may_be_0_255(true, true_kind), may_be_0_255(pred, pred_kind)
        edge = (_strays_at_edges(true, confusion.sum(axis=1)) if may[0] else 0,
                _strays_at_edges(pred, confusion.sum(axis=0)) if may[1] else 0)
        # a wider raster of ids 0..255 only is read as a uint8 one (a 0/255 mask, or ids
        # with 255 to ignore: decided from its counts, over a folder from all its tiles')
        truth_0_255 = true.dtypes[0] == "uint8" or (may[0] and not confusion[IGNORE + 1:].any())
        pred_0_255 = pred_kind.kind == "class" and (pred.dtypes[0] == "uint8" or (
            may[1] and not confusion[:, IGNORE + 1:].any()))
        binary = meaning_of_255(confusion, truth_0_255, pred_0_255, edge)
        _refuse_nodata_255_prediction(confusion, pred_255, prediction, truth)
        _refuse_instance_ids(confusion, pred, pred_kind, true_kind, prediction, truth, binary)
        _refuse_scaled_probabilities(confusion, pred, pred_kind, prediction, truth, binary)
        warn_if_scaled_class_raster(pred, pred_kind, prediction)
        warn_if_scaled_class_raster(true, true_kind, truth, ignore=IGNORE)
        by_id = None
        if pred_kind.names and not true_kind.names:  # scored under the prediction's names
            meaning = meaning_of_255(confusion, truth_0_255, False, edge)
            read = _resolve_255(confusion, truth_0_255, False, 2, meaning,
                                wide_truth=wide_truth)  # 0/255?
            held = np.flatnonzero(read.any(axis=1))
            by_id = (tuple(int(i) for i in held if i != IGNORE),
                     (int(read.sum()), int(np.trace(read)), int(np.trace(read, -1)),
                      int(np.trace(read, 1))))
        # the named truth's declared nodata id (ArcGIS' unnamed 0 beside its Value 1..N) is
        # no data to predict too
        said_ids, said_names = _no_data_said(true, true_kind, no_data, confusion)
        said = _predicted_no_data(confusion, said_ids, said_names) \
            if said_ids and lookup is None and _numbers_only(pred_kind.names) else None
        counts = _RasterCounts.of(confusion, names, truth_0_255, pred_0_255,
                                  zero_nodata=tuple(zero_nodata),
                                  pixels=pred.width * pred.height, by_id=by_id,
                                  lost_255=lost_255, nodata_255=ignored_255,
                                  wide_truth=wide_truth, zeros=zeros,
                                  may_be_0_255=may, edge_strays=edge, unmatched=unmatched,
                                  left_out=tuple(no_data), predicted_no_data=said)
        if left_negative:
            log.info("%s: %d pixels of negative value left out as no data (no class id)",
                     truth, left_negative)
        if warn and unmatched:
            log.warning("%s (against %s): %s", prediction, truth, unmatched)
        if warn:
            warn_zero_nodata([prediction, truth], zeros)
        if by_id and warn:
            warn_paired_by_id(str(truth), prediction, truth, [counts])
        for path, other, lost in ((prediction, truth, zero_nodata[0]),
                                  (truth, prediction, zero_nodata[1])):
            if lost and warn:
                _warn_zero_nodata(Path(str(path)).name, Path(str(other)).name, lost,
                                  counts.pixels)
        if warn and said:
            warn_predicted_no_data(prediction, truth, [said])
        if warn and (lost := lost_to_255([counts])):
            warn_nodata_255(Path(str(truth)).name, Path(str(prediction)).name, lost,
                             counts.pixels)
    if not confusion.sum():
        log.warning("%s and %s share no valid pixel: every score is 0", prediction, truth)
    return counts


#: share of the pixels on which an unnamed truth's ids must agree with a named prediction's
#: classes one id off (and more than on the same ids) to be taken for another numbering
SHIFTED_AGREEMENT = 0.2


#: an unnamed prediction of this many ids besides 0 (or of a type wider than 8 bits and
#: INSTANCE_IDS_WIDE) on a footprint mask's one class may be instance ids (as SpaceNet
#: proposals read a raster's ids); uint8 classes below it (xBD's 4 damage levels on
#: buildings) stay classes
INSTANCE_IDS = 8
INSTANCE_IDS_WIDE = 3


def _refuse_instance_ids(confusion: np.ndarray, pred, pred_kind, true_kind, prediction,
                         truth, binary: tuple[bool, bool]) -> None:
    """An InputError when an unnamed class prediction holds many ids (:data:`INSTANCE_IDS`)
    against a truth of one class besides 0 (a footprint mask naming no more), the ids from 2
    up lying mostly on that class: an instance-id raster (Mask R-CNN's, SAM's: each building
    its own id), which scored as classes gives class 1 the first building alone and every
    other building a class of its own. Classes of a land-cover prediction against a
    building mask (road, water) lie on its background instead; ``binary``: whether the
    truth, the prediction are 0/255 masks (:func:`meaning_of_255`: strays are no ids)."""
    if pred_kind.kind != "class" or pred_kind.names is not None or binary[1] or (
            true_kind.names is not None and len(true_kind.names) > 2):
        return
    predicted = np.flatnonzero(confusion[:, 1:].sum(axis=0)) + 1
    wide = np.dtype(pred.dtypes[0]).itemsize > 1
    if len(predicted) < (INSTANCE_IDS_WIDE if wide else INSTANCE_IDS):
        return
    others = confusion[:, 2:]  # the pixels of ids from 2 up, by truth class
    if binary[0]:  # a 0/255 truth: 255 and its strays from 128 up are its class
        on_class = others[128:IGNORE + 1].sum()
    else:
        present = np.flatnonzero(confusion[1:].sum(axis=1)) + 1
        if len(present) != 1:
            return
        on_class = others[present[0]].sum()
    if on_class * 2 <= others.sum():
        return
    name = Path(str(prediction)).name
    raise InputError(
        f"{prediction}: {len(predicted)} ids ({int(predicted[0])}..{int(predicted[-1])}) and no "
        f"class names, lying on the one class of {Path(str(truth)).name}: instance ids (each "
        "building its own id), not classes, which would score all but the first building as "
        "classes of their own. Give a 0/1 footprint mask (gdal_calc.py -A "
        f"{name} --calc \"A>0\" --type Byte --outfile mask.tif), or vectorize it (geotile "
        f"vectorize {name} -o buildings.gpkg) and evaluate those polygons against the truth's "
        "for object scores.")


#: how many ids past SCALED_PROBABILITY_IDS that the truth never holds make an untagged
#: class prediction probabilities x 255 without their scale (_refuse_scaled_probabilities)
SCALED_IDS = 3
#: the largest value of probabilities written as whole percent (p x 100)
PERCENT = 100


#: the share of neighbouring values of a percent ramp that differ by at most RAMP_STEP
#: (a steep sigmoid's 0.7; a class map's ids in any order, 0.4)
RAMP_SHARE = 0.6
RAMP_STEP = 10


def _ramp_share(band: np.ndarray, valid: np.ndarray) -> float:
    """Of the neighbouring valid pixels of ``band`` (a sample) whose values differ, the share
    that differ by :data:`RAMP_STEP` or less: a ramp's steps, not a class map's edges."""
    values = band.astype(np.int64)
    found = []
    for a, b, ok in ((values[1:], values[:-1], valid[1:] & valid[:-1]),
                     (values[:, 1:], values[:, :-1], valid[:, 1:] & valid[:, :-1])):
        diff = np.abs(a - b)[ok]
        found.append(diff[diff > 0])
    diffs = np.concatenate(found)
    return float((diffs <= RAMP_STEP).mean()) if diffs.size else 1.0


def _refuse_scaled_probabilities(confusion: np.ndarray, pred, pred_kind, prediction, truth,
                                 binary: tuple[bool, bool]) -> None:
    """An InputError when an untagged, unnamed uint8/uint16 class prediction (no 0/255 mask:
    ``binary``) holds :data:`SCALED_IDS` ids or more past SCALED_PROBABILITY_IDS (not the
    ignore value 255) that the truth never holds: probabilities x 255 (x 65535) written
    without their scale (a third-party sigmoid's), which scored as ids give accuracy 0; the
    scale that reads them is the fix. Codes past 100 that the truth holds too (CCI's
    10..220), or, of at most LAYER_IDS foreign ids, each in regions of its own in a sample
    (a land cover's errors), are ids; a ramp's steps, or a coarse sigmoid's blocks of dozens
    of values, are not. More than LAYER_IDS foreign ids, none past :data:`PERCENT`, mostly
    steps, are probabilities x 100 (whole percent): -scale 0.01."""
    from geotile.raster import sample_pixels
    from geotile.raster_kinds import LAYER_IDS, SCALED_PROBABILITY_IDS, forms_regions

    dtype = np.dtype(pred.dtypes[0])
    if pred_kind.kind != "class" or pred_kind.names is not None or binary[1] \
            or dtype not in SCALED_PROBABILITY_IDS or "GEOTILE_OUTPUT" in pred.tags():
        return
    predicted = np.flatnonzero(confusion.sum(axis=0))
    held = confusion.sum(axis=1)
    foreign = [i for i in predicted if i != IGNORE and (i >= len(held) or not held[i])]
    high = [i for i in foreign if i > SCALED_PROBABILITY_IDS[dtype]]
    # percent (p x 100, none past 100): a ramp's many values, each a step, not a parcel
    percent = len(foreign) > LAYER_IDS and int(predicted[-1]) <= PERCENT
    if len(high) < SCALED_IDS and not percent:
        return
    if len(foreign) <= LAYER_IDS or percent:  # a legend's few codes, or a ramp's many values
        band = sample_pixels(pred, [1])[0]
        valid = np.ones(band.shape, bool) if pred.nodata is None else band != pred.nodata
        seen = [i for i in (foreign if percent else high) if (band == i).any()]
        steps = [i for i in seen if not forms_regions(band, valid, i)]
        # percent: mostly steps (a land cover's few linear classes, roads, rails, streams,
        # form no regions either)
        if len(steps) < SCALED_IDS or (percent and (2 * len(steps) <= len(seen)
                                                    or _ramp_share(band, valid) < RAMP_SHARE)):
            return
    name = Path(str(prediction)).name
    full = PERCENT if percent else np.iinfo(dtype).max
    raise InputError(f"{prediction}: {len(predicted)} values ({int(predicted[0])}.."
                     f"{int(predicted[-1])}) and no class names, {len(foreign)} of them ids "
                     f"that {Path(str(truth)).name} never holds: probabilities x {full} "
                     f"{'(percent) ' if percent else ''}without their scale, not classes. "
                     "Set it: gdal_edit.py -scale "
                     f"{1 / full:.6g} {name}; if they are class ids, say so: gdal_edit.py "
                     f"-mo GEOTILE_OUTPUT=class {name}.")


def _id_shift(names, counts) -> int:
    """1 where truth id k+1 agrees with the prediction's class k (LoveDA, OpenEarthMap: 0 no
    data, a model trained without it), -1 where k-1 does, on :data:`SHIFTED_AGREEMENT` of
    the pixels of ``counts`` (:class:`_RasterCounts` with ``by_id``) and more than id k
    does; 0 otherwise, and for fewer than 3 classes (one off and swapped look alike)."""
    total, same, plus, minus = np.sum([c.by_id[1] for c in counts], axis=0)
    for shift, agree in ((1, plus), (-1, minus)):
        if len(names) >= 3 and agree > max(same, SHIFTED_AGREEMENT * total):
            return shift
    return 0


def warn_paired_by_id(where: str, prediction, truth, counts) -> None:
    """Say that an unnamed truth's ids (``counts``: :class:`_RasterCounts` with ``by_id``,
    of one pair or a folder's) were paired by id with the prediction's class names where
    that looks wrong (ids one off: :func:`_id_shift`, or ids past the names), with the class
    map that names the truth's ids and the command that gives it."""
    import shlex
    counts = [c for c in counts if c.by_id]
    names = counts[0].names
    shift = _id_shift(names, counts)
    held = sorted({i for c in counts for i in c.by_id[0]})
    past = [i for i in held if i >= len(names)]
    if not shift and not past:
        return
    total, same, plus, minus = np.sum([c.by_id[1] for c in counts], axis=0)
    if shift:
        why = (f"its id k{shift:+d} agrees with their class k on "
               f"{100 * (plus if shift > 0 else minus) / total:.0f}% of the pixels, id k on "
               f"{100 * same / total:.0f}%")
    else:
        why = (f"it holds class ids {', '.join(map(str, past[:10]))}"
               f"{' ...' if len(past) > 10 else ''} that their names do not cover")
    top = max([*held, len(names) - 1 + shift])
    mapping = {}
    for t in range(top + 1):
        if 0 <= t - shift < len(names):
            mapping[names[t - shift]] = t
        elif t in held:
            mapping["no data" if t == 0 else f"<name of id {t}>"] = t
    log.warning("%s names no classes: its ids were paired by id with the classes of %s, but "
                "%s. Name the truth's ids: write %s to classes.json and run geotile evaluate "
                "%s %s --class-map classes.json (ids named no data are left out; if 0 is a "
                "class, name it).", where, prediction, why, json.dumps(mapping),
                shlex.quote(str(prediction)), shlex.quote(str(truth)))


def _numbers_only(names) -> bool:
    """Whether class ``names`` name no class: none, or numbers alone (predict's class_1..
    of a model naming none), which pair by id."""
    from geotile.class_keys import is_placeholder_name

    return not names or all(is_placeholder_name(n) for n in names)


def _no_data_said(true, true_kind, no_data: list[int],
                  confusion: np.ndarray) -> tuple[list[int], list[str] | None]:
    """The truth's ids of no data that a prediction naming no classes should not hold, and
    the truth's names for them: ``no_data`` (ids named no data), and its declared nodata
    value where it is an unnamed id (or one named background) of a named class truth,
    named 'nodata', unless the truth's pixels of it were scored (``confusion``'s row: a
    background 0 declared nodata, read as background)."""
    from geotile.class_keys import is_background_name, is_placeholder_name

    names = true_kind.names
    nodata = true.nodata
    if (true_kind.kind != "class" or not names or nodata is None or nodata != int(nodata)
            or not 0 <= int(nodata) < len(names) or int(nodata) in no_data
            or (int(nodata) < len(confusion) and confusion[int(nodata)].any())
            or not (is_placeholder_name(names[int(nodata)])
                    or is_background_name(names[int(nodata)]))):
        return no_data, names
    names = list(names)
    names[int(nodata)] = "nodata"
    return [*no_data, int(nodata)], names


def _predicted_no_data(confusion: np.ndarray, no_data: list[int], names: list[str]) -> tuple:
    """(the ids of ``no_data`` a prediction holds on pixels scored, their pixels, the pixels
    scored, the truth's ``names``): :attr:`_RasterCounts.predicted_no_data`."""
    ids = tuple(i for i in no_data if i < confusion.shape[1] and confusion[:, i].any())
    return ids, int(confusion[:, list(ids)].sum()), int(confusion.sum()), names


def warn_predicted_no_data(prediction, truth, found: list[tuple], others: int = 0) -> None:
    """Say that a prediction naming no classes holds, on pixels scored, the ids that the
    truth's names call no data (``found``: :func:`_predicted_no_data` of one pair, or of
    ``others`` + 1 pairs of a folder): paired by id, it predicts no data there (a model
    whose class k is the truth's id k+1, LoveDA). Under 1% of the pixels scored is a few
    misses of ids that pair right: not said."""
    ids = sorted({i for f in found for i in f[0]})
    said, scored = sum(f[1] for f in found), sum(f[2] for f in found)
    if not ids or said < 0.01 * scored:
        return
    names = next(f[3] for f in found if f[0])
    more = f" (and {others} other prediction{'s' if others > 1 else ''})" if others else ""
    log.warning("%s%s names no classes and holds id %s, named %s for %s, on %d pixels (%.0f%% "
                "of those scored): paired by id, they predict no data and count as misses. "
                "Name the prediction's classes (gdal_edit.py -mo GEOTILE_CLASS_NAMES='[...]' "
                "%s) so that they pair with the truth's by name.", prediction, more,
                ", ".join(map(str, ids)), repr(names[ids[0]]), truth, said,
                100 * said / max(scored, 1), Path(str(prediction)).name)


def _warn_zero_nodata(name: str, other: str, lost: int, pixels: int) -> None:
    """Say that nodata 0 of ``name`` left out ``lost`` of ``pixels`` pixels where ``other``
    holds class 0."""
    log.warning("%s: its nodata value 0 is class 0 (background) of %s: %d pixels (%.0f%%) "
                "where %s holds class 0 are left out of the scores. If 0 is background in %s "
                "too, unset its nodata (gdal_edit.py -unsetnodata %s).", name, other, lost,
                100 * lost / pixels, other, other, name)


#: share of a truth's nodata 255 where the prediction must hold a class for that nodata to be
#: taken for a 0/255 mask's positives (:func:`lost_to_255`), not for its ignore value
AGREES_WITH_255 = 0.5


def lost_to_255(counts) -> int:
    """The pixels where the prediction holds a class that the truths' nodata 255 left out
    (:class:`_RasterCounts` of a pair or a folder's) when the evidence says that nodata is
    a 0/255 mask's positives: no truth holds a class id 1..254, and the prediction holds a
    class on :data:`AGREES_WITH_255` of it or more; else 0 (255 is the ignore value)."""
    counts = list(counts)
    for c in counts:
        held = c.ids[c.counts.any(axis=1)]  # the truth's ids (rows)
        if ((held > 0) & (held < IGNORE)).any():
            return 0
    lost, ignored = sum(c.lost_255 for c in counts), sum(c.nodata_255 for c in counts)
    return lost if lost and lost >= AGREES_WITH_255 * ignored else 0


#: how many times denser the truth's classes lie in a prediction's nodata 255 than in its
#: pixels scored for that 255 to be its positive class (_refuse_nodata_255_prediction)
ENRICHED = 4


def _refuse_nodata_255_prediction(confusion: np.ndarray, pred_255: list[int] | None,
                                  prediction, truth) -> None:
    """An InputError when a prediction naming no classes declares nodata 255, holds only 0
    where it is scored, and the truth holds a class on :data:`AGREES_WITH_255` or more of
    its 255s (``pred_255``: those pixels where the truth is valid, and of a class there), or
    fewer but :data:`ENRICHED` times their share of the pixels scored (255 a collar without
    data too): a 0/255 mask
    whose positives were declared nodata (gdal_calc.py --NoDataValue=255), every predicted
    building left out of the scores."""
    if not pred_255 or not pred_255[1] or confusion[:, 1:].any():
        return
    # under half: a nodata collar of 255 too, refused where the truth's classes crowd in its
    # 255s (ENRICHED times their share of the pixels scored: a mask of them, not a cloud's)
    collar = pred_255[1] < AGREES_WITH_255 * pred_255[0]
    if collar and pred_255[1] * confusion.sum() < ENRICHED * pred_255[0] * confusion[1:].sum():
        return
    name = Path(str(prediction)).name
    also = (f"; its 255 also marks {pred_255[0] - pred_255[1]} pixels of the truth's 0 (a "
            "collar without data?): give those another value first" if collar else "")
    raise InputError(f"{prediction}: its nodata value 255 is every non-zero pixel: "
                     f"{pred_255[1]} pixels where {Path(str(truth)).name} holds a class would "
                     "be left out of the scores, and the prediction holds only 0. If it is a "
                     "0/255 mask (255 the positive class, not pixels to ignore), unset its "
                     f"nodata (gdal_edit.py -unsetnodata {name}){also}.")


def warn_nodata_255(name: str, other: str, lost: int, pixels: int, fix: str = "") -> None:
    """Say that nodata 255 of truth ``name``, all but 0s, left out ``lost`` of ``pixels``
    pixels where ``other`` holds a class: maybe a 0/255 mask's positives, declared nodata."""
    log.warning("%s: its nodata value 255 is every non-zero pixel: %d pixels (%.0f%%) where "
                "%s holds a class are left out of the scores, and the truth holds only 0. If "
                "it is a 0/255 mask (255 the positive class, not pixels to ignore), unset its "
                "nodata (gdal_edit.py -unsetnodata %s).", name, lost, 100 * lost / pixels,
                other, fix or name)


# ----------------------------------------------------------------------------- files


def is_raster(path: str | os.PathLike) -> bool:
    """Raster or vector: by extension, else by whether GDAL opens it as a raster; a
    GeoPackage of raster tiles and no vector layer (gdal_translate -of GPKG) is a raster."""
    suffix = Path(path).suffix.lower()
    if suffix == ".gpkg":
        return label_rasters.is_label_raster(path)
    if suffix in RASTER_SUFFIXES:
        return True
    if suffix in VECTOR_SUFFIXES:
        return False
    import rasterio

    try:
        with rasterio.open(path):
            return True
    except Exception:
        return False


def dumps(result) -> str:
    """The result as indented JSON (the keys the --help text documents); an undefined
    score (NaN) is null."""
    from geotile.json_text import scores_json

    return scores_json(result.as_dict())
