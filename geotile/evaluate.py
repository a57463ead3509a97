"""Scores: the SpaceNet building metric (objects) and pixel metrics (rasters).

Object matching reproduces the published SpaceNet scoring (solaris
``Evaluator.eval_iou``, the SpaceNet challenges' metric):

- proposals are taken one at a time in decreasing confidence (``conf`` field;
  solaris sorts with an unstable sort, geotile keeps file order among ties, and
  without the field the file order is the scoring order);
- each proposal is compared with every remaining ground-truth polygon it
  intersects, IoU = area(P ∩ T) / area(P ∪ T); the truth polygon of highest IoU
  (the first in file order among equal IoUs) is matched, and removed, when that
  IoU is strictly greater than the threshold: a true positive. Otherwise the
  proposal is a false positive. Truth polygons left over are false negatives;
- an invalid proposal is repaired with ``buffer(0)``; an invalid truth polygon
  scores IoU 0 with everything (so it always ends as a false negative) unless
  ``repair_truth`` repairs it with ``buffer(0)`` too;
- precision = TP / (TP + FP), recall = TP / (TP + FN),
  F1 = 2 P R / (P + R), each 0 when its denominator is 0.

Candidate pairs come from an STRtree query and IoUs are computed vectorised,
so 10,000 x 10,000 polygons take seconds; the greedy pass is exactly solaris'.

Pixel metrics compare two rasters on the same grid, streamed by row bands,
excluding nodata and the ignore value 255 of a uint8 truth (make-masks writes it where
the label is unknown or the image is nodata): a confusion matrix C (rows: truth,
columns: prediction) and, per class c, TP = C[c, c], FP = column sum - TP, FN = row sum - TP,
IoU = TP / (TP + FP + FN), precision, recall and F1.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from geotile.errors import InputError

if TYPE_CHECKING:
    import geopandas as gpd

log = logging.getLogger("geotile")

RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".img", ".jp2", ".png")
VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".parquet", ".fgb", ".kml", ".gml")
#: pixels per row band when streaming two rasters (about 16 MP)
BAND_PIXELS = 1 << 24
#: the ignore value of masks (make-masks): truth pixels holding it are left out
IGNORE = 255


# ----------------------------------------------------------------------------- objects


@dataclass(frozen=True)
class Match:
    """A true positive: prediction ``pred`` (scoring-order position) matched truth ``truth``."""

    pred: int
    truth: int
    iou: float


@dataclass
class ObjectScores:
    """Result of one-to-one polygon matching (the SpaceNet metric)."""

    tp: int
    fp: int
    fn: int
    iou_threshold: float
    matches: list[Match] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p * r > 0 else 0.0

    @property
    def mean_iou(self) -> float:
        """Mean IoU of the matched pairs (0 without matches)."""
        return float(np.mean([m.iou for m in self.matches])) if self.matches else 0.0

    def as_dict(self) -> dict:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "precision": self.precision,
                "recall": self.recall, "f1": self.f1, "mean_iou": self.mean_iou,
                "iou_threshold": self.iou_threshold}


def _geometry_array(geometries) -> np.ndarray:
    """Any sequence of shapely geometries (list, GeoSeries, GeometryArray) as an object array,
    None replaced by an empty polygon."""
    import shapely

    array = np.empty(len(geometries), dtype=object)
    array[:] = list(geometries)
    missing = np.array([g is None for g in array], dtype=bool)
    if missing.any():
        array[missing] = shapely.Polygon()
    return array


def _repaired(geometries: np.ndarray) -> np.ndarray:
    """``buffer(0)`` of the invalid geometries, as solaris repairs bow-ties."""
    import shapely

    invalid = ~shapely.is_valid(geometries) & ~shapely.is_empty(geometries)
    if invalid.any():
        geometries = geometries.copy()
        geometries[invalid] = shapely.buffer(geometries[invalid], 0)
    return geometries


def match_polygons(predicted, truth, iou: float = 0.5, *,
                   repair_truth: bool = False) -> ObjectScores:
    """Match predicted polygons (already in scoring order) one-to-one to ``truth``.

    Both in the same CRS. See the module docstring for the rules; a prediction is a
    true positive when its best IoU with a remaining truth polygon is > ``iou``.
    ``Match.pred`` / ``Match.truth`` are positions in the two sequences.
    """
    import shapely

    pred = _repaired(_geometry_array(predicted))
    true = _geometry_array(truth)
    if repair_truth:
        true = _repaired(true)
    # invalid geometries score IoU 0 with everything (solaris): keep them out of the pairs
    usable_true = np.flatnonzero(shapely.is_valid(true) & ~shapely.is_empty(true))
    usable_pred = shapely.is_valid(pred) & ~shapely.is_empty(pred)
    tree = shapely.STRtree(true[usable_true])
    query = np.flatnonzero(usable_pred)
    q, t = tree.query(pred[query], predicate="intersects")
    pi, ti = query[q], usable_true[t]
    order = np.lexsort((ti, pi))  # by prediction, then truth in file order (ties -> first)
    pi, ti = pi[order], ti[order]
    inter = shapely.area(shapely.intersection(pred[pi], true[ti]))
    union = shapely.area(shapely.union(pred[pi], true[ti]))
    ious = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)

    starts = np.searchsorted(pi, np.arange(len(pred) + 1))
    free = np.ones(len(true), dtype=bool)
    matches = []
    for p in range(len(pred)):
        lo, hi = starts[p], starts[p + 1]
        best, best_iou = -1, -1.0
        for k in range(lo, hi):
            if free[ti[k]] and ious[k] > best_iou:
                best, best_iou = ti[k], ious[k]
        if best >= 0 and best_iou > iou:
            free[best] = False
            matches.append(Match(p, int(best), float(best_iou)))
    tp = len(matches)
    return ObjectScores(tp, len(pred) - tp, int(free.sum()), iou, matches)


@dataclass
class ObjectEvaluation:
    """Object scores of two vector files, with the frames as scored (truth CRS, prediction
    in scoring order with a fresh 0..n-1 index) for reports."""

    scores: ObjectScores
    prediction: gpd.GeoDataFrame
    truth: gpd.GeoDataFrame
    per_class: dict[str, ObjectScores] = field(default_factory=dict)
    mode: str = "object"

    def outcomes(self) -> tuple[np.ndarray, np.ndarray]:
        """(prediction is TP, truth is matched) boolean arrays, by row position."""
        pred = np.zeros(len(self.prediction), dtype=bool)
        true = np.zeros(len(self.truth), dtype=bool)
        pred[[m.pred for m in self.scores.matches]] = True
        true[[m.truth for m in self.scores.matches]] = True
        return pred, true

    def as_dict(self) -> dict:
        result = {"mode": "object", **self.scores.as_dict(),
                  "predictions": len(self.prediction), "truths": len(self.truth)}
        if self.per_class:
            result["per_class"] = {name: s.as_dict() for name, s in self.per_class.items()}
        return result

    def table(self) -> str:
        s = self.scores
        lines = [
            f"Objects (SpaceNet metric, IoU > {s.iou_threshold:g}): "
            f"{len(self.prediction)} predicted, {len(self.truth)} true",
            f"  TP {s.tp}  FP {s.fp}  FN {s.fn}",
            f"  precision {s.precision:.4f}  recall {s.recall:.4f}  F1 {s.f1:.4f}  "
            f"mean IoU of matches {s.mean_iou:.4f}",
        ]
        if self.per_class:
            lines.append(f"  {'class':<16}{'TP':>6}{'FP':>6}{'FN':>6}{'prec.':>8}{'recall':>8}"
                         f"{'F1':>8}")
            for name, c in self.per_class.items():
                lines.append(f"  {name[:15]:<16}{c.tp:>6}{c.fp:>6}{c.fn:>6}{c.precision:>8.4f}"
                             f"{c.recall:>8.4f}{c.f1:>8.4f}")
        return "\n".join(lines)


def _read_vector(path, crs_override: str | None, layer: str | None = None) -> gpd.GeoDataFrame:
    """read_labels, except that a file with no features (or no geometries) is an empty frame:
    SpaceNet scores an empty proposal or truth file instead of failing."""
    import warnings

    import geopandas as gpd

    from geotile.labels import read_labels

    try:
        frame = read_labels(path, crs_override, layer=layer).to_frame()
    except InputError:
        try:
            with warnings.catch_warnings():  # read_labels said what was wrong
                warnings.simplefilter("ignore")
                frame = gpd.read_file(path, engine="pyogrio", layer=layer) \
                    if Path(path).suffix != ".parquet" else gpd.read_parquet(path)
        except Exception:
            frame = None
        if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.notna().any():
            raise
        if crs_override is not None:
            frame = frame.set_crs(crs_override, allow_override=True)
    return frame[frame.geometry.notna()]


def _scoring_order(frame: gpd.GeoDataFrame, conf_field: str | None, source) -> gpd.GeoDataFrame:
    if conf_field and conf_field in frame.columns:
        order = _confidences(frame[conf_field], conf_field, source)
        frame = frame.assign(**{conf_field: order}) if order is not frame[conf_field] else frame
        frame = frame.sort_values(conf_field, ascending=False, kind="stable", na_position="last")
    return frame.reset_index(drop=True)


def _confidences(values, conf_field: str, source):
    """The confidence column as numbers: numeric columns as they are, text holding numbers
    ("0.9") parsed; any other value is an InputError naming it."""
    import pandas as pd
    from pandas.api import types

    if types.is_numeric_dtype(values.dtype) and not types.is_bool_dtype(values.dtype):
        return values
    numbers = pd.to_numeric(values.map(lambda v: v.strip() if isinstance(v, str) else v),
                            errors="coerce")
    bad = values[numbers.isna() & values.notna()]
    if len(bad) or not types.is_numeric_dtype(numbers.dtype) or \
            types.is_bool_dtype(values.dtype):
        example = bad.iloc[0] if len(bad) else values.dropna().iloc[0]
        raise InputError(f"{source}: field {conf_field!r} holds {example!r}, not a number; "
                         "give the confidence field with --conf-field, or --conf-field '' to "
                         "score in file order.")
    return numbers.astype(float)


def _same_crs(prediction_frame, truth_frame, prediction, truth):
    from geotile.labels import check_geographic_coordinates

    check_geographic_coordinates(truth_frame, truth)
    check_geographic_coordinates(prediction_frame, prediction)
    if (prediction_frame.crs is None) != (truth_frame.crs is None):
        missing = prediction if prediction_frame.crs is None else truth
        option = "--prediction-crs" if prediction_frame.crs is None else "--labels-crs"
        raise InputError(f"{missing}: the file declares no CRS while the other one does. "
                         f"Pass {option} EPSG:xxxx to say what its coordinates are in.")
    if prediction_frame.crs is not None and prediction_frame.crs != truth_frame.crs:
        log.info("reprojecting %s to the truth's CRS %s", prediction, truth_frame.crs)
        prediction_frame = prediction_frame.to_crs(truth_frame.crs)
    return prediction_frame


def evaluate_vectors(prediction: str | os.PathLike, truth: str | os.PathLike, *,
                     iou: float = 0.5, class_field: str | None = None,
                     conf_field: str | None = "conf", labels_crs: str | None = None,
                     prediction_crs: str | None = None,
                     repair_truth: bool = False,
                     labels_layer: str | None = None) -> ObjectEvaluation:
    """SpaceNet object scores of two vector files; also per class with ``class_field``.

    The prediction is reprojected to the truth's CRS when they differ. ``labels_crs`` /
    ``prediction_crs`` override the CRS the truth / prediction files declare;
    ``labels_layer`` names the truth's layer in a multi-layer file.
    """
    truth_frame = _read_vector(truth, labels_crs, labels_layer)
    pred_frame = _read_vector(prediction, prediction_crs)
    pred_frame = _same_crs(pred_frame, truth_frame, prediction, truth)
    pred_frame = _scoring_order(pred_frame, conf_field, prediction)
    truth_frame = truth_frame.reset_index(drop=True)
    if len(pred_frame) == 0:
        log.info("%s holds no polygons: every truth polygon is a false negative", prediction)
    scores = match_polygons(pred_frame.geometry.values, truth_frame.geometry.values, iou,
                            repair_truth=repair_truth)
    per_class = {}
    if class_field:
        for source, frame in ((prediction, pred_frame), (truth, truth_frame)):
            if len(frame) and class_field not in frame.columns:
                fields = ", ".join(c for c in frame.columns if c != frame.geometry.name)
                raise InputError(f"{source}: no field {class_field!r} for per-class scores. "
                                 f"Fields: {fields or 'none'}.")
        pred_class = _class_labels(pred_frame, class_field)
        true_class = _class_labels(truth_frame, class_field)
        for name in sorted(set(pred_class) | set(true_class)):
            per_class[name] = match_polygons(pred_frame.geometry.values[pred_class == name],
                                             truth_frame.geometry.values[true_class == name],
                                             iou, repair_truth=repair_truth)
    return ObjectEvaluation(scores, pred_frame, truth_frame, per_class)


def _class_labels(frame, class_field: str) -> np.ndarray:
    """Class values as strings (1 and 1.0 are the same class; missing -> 'none')."""
    if len(frame) == 0:
        return np.array([], dtype=object)

    def label(value) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return "none"
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            return str(int(value))
        return str(value)

    return np.array([label(v) for v in frame[class_field]], dtype=object)


# ----------------------------------------------------------------------------- pixels


@dataclass
class PixelScores:
    """A confusion matrix (rows: truth class id, columns: predicted class id) and the
    per-class scores derived from it."""

    confusion: np.ndarray
    class_names: list[str] | None = None
    mode: str = "pixel"

    def name(self, class_id: int) -> str:
        if self.class_names and class_id < len(self.class_names):
            return str(self.class_names[class_id])
        return "background" if class_id == 0 else str(class_id)

    def classes(self) -> list[dict]:
        c = self.confusion
        rows = []
        for k in range(c.shape[0]):
            tp = int(c[k, k])
            fp = int(c[:, k].sum()) - tp
            fn = int(c[k].sum()) - tp
            precision = tp / (tp + fp) if tp + fp else 0.0
            recall = tp / (tp + fn) if tp + fn else 0.0
            rows.append({
                "class_id": k, "class": self.name(k),
                "iou": tp / (tp + fp + fn) if tp + fp + fn else 0.0,
                "precision": precision, "recall": recall,
                "f1": 2 * precision * recall / (precision + recall) if precision * recall else 0.0,
                "support": int(c[k].sum()), "predicted": int(c[:, k].sum()),
            })
        return rows

    @property
    def pixels(self) -> int:
        return int(self.confusion.sum())

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.confusion)) / self.pixels if self.pixels else 0.0

    def as_dict(self) -> dict:
        classes = self.classes()
        seen = [c["iou"] for c in classes if c["support"] or c["predicted"]]
        return {"mode": "pixel", "classes": classes,
                "confusion_matrix": self.confusion.tolist(), "accuracy": self.accuracy,
                "mean_iou": float(np.mean(seen)) if seen else 0.0, "pixels": self.pixels}

    def table(self) -> str:
        d = self.as_dict()
        lines = [f"Pixels: {d['pixels']}  accuracy {d['accuracy']:.4f}  mean IoU "
                 f"{d['mean_iou']:.4f}",
                 f"{'class':<16}{'IoU':>8}{'F1':>8}{'prec.':>8}{'recall':>8}{'support':>12}"]
        for c in d["classes"]:
            lines.append(f"{c['class'][:15]:<16}{c['iou']:>8.4f}{c['f1']:>8.4f}"
                         f"{c['precision']:>8.4f}{c['recall']:>8.4f}{c['support']:>12}")
        n = len(d["classes"])
        lines.append("Confusion matrix (rows: truth, columns: prediction):")
        width = max(8, len(str(self.confusion.max(initial=0))) + 2)
        lines.append(" " * 16 + "".join(f"{self.name(k)[:width - 1]:>{width}}" for k in range(n)))
        for k, row in enumerate(self.confusion):
            lines.append(f"{self.name(k)[:15]:<16}" + "".join(f"{v:>{width}}" for v in row))
        return "\n".join(lines)


def confusion_matrix(prediction: np.ndarray, truth: np.ndarray,
                     valid: np.ndarray | None = None, n_classes: int = 2) -> np.ndarray:
    """Confusion matrix (truth x prediction) of two arrays of non-negative class ids; only
    pixels where ``valid`` count. Grows past ``n_classes`` to the largest id present."""
    prediction = np.asarray(prediction).astype(np.int64, copy=False)
    truth = np.asarray(truth).astype(np.int64, copy=False)
    if valid is not None:
        prediction, truth = prediction[valid], truth[valid]
    if prediction.size and min(prediction.min(), truth.min()) < 0:
        raise InputError("class ids must be >= 0; negative ids found.")
    n = max(n_classes, int(prediction.max(initial=0)) + 1, int(truth.max(initial=0)) + 1)
    counts = np.bincount((truth * n + prediction).ravel(), minlength=n * n)
    return counts.reshape(n, n)


def pixel_scores(prediction: np.ndarray, truth: np.ndarray, valid: np.ndarray | None = None, *,
                 class_names: list[str] | None = None) -> PixelScores:
    """Pixel scores of two class-id arrays of the same shape (``valid``: pixels to count)."""
    if np.shape(prediction) != np.shape(truth):
        raise InputError(f"arrays differ in shape: {np.shape(prediction)} vs {np.shape(truth)}.")
    n = len(class_names) if class_names else 2
    return PixelScores(confusion_matrix(prediction, truth, valid, n), class_names)


def _add(total: np.ndarray, part: np.ndarray) -> np.ndarray:
    n = max(total.shape[0], part.shape[0])
    grown = np.zeros((n, n), np.int64)
    grown[: total.shape[0], : total.shape[0]] += total
    grown[: part.shape[0], : part.shape[0]] += part
    return grown


def _ids(values: np.ndarray, valid: np.ndarray, kind, threshold: float, source) -> np.ndarray:
    """Class ids of a row band: class rasters as they are, probabilities thresholded
    (one band: p >= threshold) or argmaxed (several bands)."""
    from geotile.raster_kinds import class_ids

    if kind.kind == "class":
        band = values[0]
        if band.dtype.kind == "f":
            band = np.nan_to_num(band)
        ids = np.where(valid, band, 0).astype(np.int64)
        if ids.size and ids.min() < 0:
            raise InputError(f"{source}: negative class ids; a class raster holds ids >= 0.")
        return ids
    return class_ids(values, valid, kind, threshold)[0]


def _not_ignored(truth: np.ndarray) -> np.ndarray | bool:
    """False where a uint8 truth band holds the ignore value (declared nodata or not)."""
    return truth != IGNORE if truth.dtype == np.uint8 else True


def _check_same_grid(pred, true, prediction, truth) -> None:
    same = ((pred.width, pred.height) == (true.width, true.height) and pred.crs == true.crs
            and pred.transform.almost_equals(true.transform))
    if not same:
        def describe(src):
            crs = src.crs.to_string() if src.crs else "no CRS"
            return (f"{src.width}x{src.height} px, origin ({src.transform.c:.6g}, "
                    f"{src.transform.f:.6g}), pixel {src.transform.a:.6g}, {crs}")

        raise InputError(
            f"{prediction} ({describe(pred)}) and {truth} ({describe(true)}) are not on the same "
            "grid. Rasterize the truth labels on the prediction's grid (`geotile make-masks "
            "LABELS IMAGE`), or resample one onto the other with gdalwarp -tap -tr/-te.")


def evaluate_rasters(prediction: str | os.PathLike, truth: str | os.PathLike, *,
                     threshold: float | None = None, progress: bool = False) -> PixelScores:
    """Pixel scores of a prediction raster against a truth class raster on the same grid.

    The prediction may be a class raster or a probability raster (formats.md): one band is
    thresholded (``threshold``, default the raster's GEOTILE_THRESHOLD tag, else 0.5),
    several are argmaxed. Band 1 of the truth holds class ids. Pixels that are nodata in
    either raster, or 255 (the ignore value) in a uint8 truth, are left out. Streams by
    row bands of about BAND_PIXELS pixels.
    """
    from tqdm import tqdm

    from geotile.raster import has_nodata, open_raster, read_band
    from geotile.raster_kinds import raster_kind

    with open_raster(prediction) as pred, open_raster(truth) as true:
        _check_same_grid(pred, true, prediction, truth)
        pred_kind, true_kind = raster_kind(pred), raster_kind(true)
        if threshold is None:
            threshold = pred_kind.threshold if pred_kind.threshold is not None else 0.5
        names = true_kind.names or pred_kind.names
        confusion = np.zeros((len(names) if names else 2,) * 2, np.int64)
        check_pred, check_true = has_nodata(pred), has_nodata(true)
        rows = max(1, BAND_PIXELS // pred.width)
        for top in tqdm(range(0, pred.height, rows), disable=not progress, unit="band",
                        desc="evaluate"):
            height = min(rows, pred.height - top)
            p_values, p_valid = read_band(pred, top, height, pred.width, check_nodata=check_pred)
            t_values, t_valid = read_band(true, top, height, true.width, indexes=[1],
                                          check_nodata=check_true)
            keep = p_valid & t_valid & _not_ignored(t_values[0])
            p_ids = _ids(p_values, keep, pred_kind, threshold, prediction)
            t_ids = _ids(t_values, keep, true_kind, 0.5, truth)
            confusion = _add(confusion, confusion_matrix(p_ids, t_ids, keep))
    if not confusion.sum():
        log.warning("%s and %s share no valid pixel: every score is 0", prediction, truth)
    return PixelScores(confusion, names)


# ----------------------------------------------------------------------------- files


def is_raster(path: str | os.PathLike) -> bool:
    """Raster or vector: by extension, else by whether GDAL opens it as a raster."""
    suffix = Path(path).suffix.lower()
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


def evaluate_files(prediction: str | os.PathLike, truth: str | os.PathLike, *,
                   iou: float = 0.5, threshold: float | None = None,
                   class_field: str | None = None, conf_field: str | None = "conf",
                   labels_crs: str | None = None, prediction_crs: str | None = None,
                   repair_truth: bool = False,
                   progress: bool = False,
                   labels_layer: str | None = None) -> ObjectEvaluation | PixelScores:
    """Object scores (``evaluate_vectors``) for two vector files, pixel scores
    (``evaluate_rasters``) for two rasters. A raster against vectors is an error."""
    from geotile.raster import input_exists

    for path in (prediction, truth):
        if not input_exists(path):
            raise InputError(f"{path}: no such file. Check the path.")
    kinds = is_raster(prediction), is_raster(truth)
    if kinds[0] != kinds[1]:
        raster, vector = (prediction, truth) if kinds[0] else (truth, prediction)
        raise InputError(
            f"{raster} is a raster but {vector} is vector data: compare like with like "
            f"(`geotile vectorize {raster}` for object scores, or `geotile make-masks {vector} "
            "IMAGE` for pixel scores).")
    if kinds[0]:
        if labels_layer is not None:
            raise InputError(f"{truth} is a raster: --layer names a layer of vector truth.")
        return evaluate_rasters(prediction, truth, threshold=threshold, progress=progress)
    return evaluate_vectors(prediction, truth, iou=iou, class_field=class_field,
                            conf_field=conf_field, labels_crs=labels_crs,
                            prediction_crs=prediction_crs, repair_truth=repair_truth,
                            labels_layer=labels_layer)


def dumps(result: ObjectEvaluation | PixelScores) -> str:
    """The result as indented JSON (the keys the --help text documents)."""
    return json.dumps(result.as_dict(), indent=2)
