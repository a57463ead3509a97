"""Scores: the SpaceNet building metric (objects) and pixel metrics (rasters).

Object matching follows the published SpaceNet scoring (solaris ``eval_iou``):
proposals are taken in order of decreasing confidence (a ``conf`` field when
present, else file order); each is matched to the remaining ground-truth
polygon with which it has the highest IoU, and counts as a true positive when
that IoU is strictly greater than the threshold (the truth polygon is then
removed); otherwise, or when it has no area, it is a false positive. Truth
polygons left unmatched are false negatives. Invalid polygons are repaired
first. ``F1 = 2 P R / (P + R)``.

Pixel metrics compare two rasters on the same grid by windows, excluding
nodata: a confusion matrix and, per class, IoU = TP / (TP + FP + FN),
precision, recall and F1.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from geotile.errors import InputError

RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".img", ".jp2", ".png")


@dataclass
class ObjectScores:
    """Result of one-to-one polygon matching."""

    tp: int
    fp: int
    fn: int
    iou_threshold: float
    matches: list[tuple[int, int, float]] = field(default_factory=list)  # pred, truth, IoU

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "precision": self.precision,
                "recall": self.recall, "f1": self.f1, "iou_threshold": self.iou_threshold}


def match_polygons(predicted, truth, iou: float = 0.5) -> ObjectScores:
    """Match two sequences of polygons (same CRS, prediction already in scoring order)."""
    import shapely

    truth = list(truth)
    tree = shapely.STRtree(truth)
    remaining = np.ones(len(truth), bool)
    tp = fp = 0
    matches = []
    for index, polygon in enumerate(predicted):
        if polygon is None or polygon.is_empty or polygon.area <= 0:
            fp += 1
            continue
        candidates = [c for c in tree.query(polygon, predicate="intersects") if remaining[c]]
        best, best_iou = -1, 0.0
        for candidate in candidates:
            other = truth[candidate]
            union = polygon.union(other).area
            score = polygon.intersection(other).area / union if union else 0.0
            if score > best_iou:
                best, best_iou = candidate, score
        if best >= 0 and best_iou > iou:
            tp += 1
            remaining[best] = False
            matches.append((index, int(best), best_iou))
        else:
            fp += 1
    return ObjectScores(tp, fp, int(remaining.sum()), iou, matches)


def _scoring_order(frame, conf_field: str | None):
    if conf_field and conf_field in frame.columns:
        return frame.sort_values(conf_field, ascending=False, kind="stable")
    return frame


def evaluate_vectors(prediction, truth, *, iou: float = 0.5, class_field: str | None = None,
                     conf_field: str | None = "conf", labels_crs: str | None = None) -> dict:
    """SpaceNet object scores of two vector files; per class with ``class_field``."""
    from geotile.labels import read_labels, repair_polygons

    truth_frame = _read_polygons(truth, labels_crs, read_labels, repair_polygons)
    try:
        pred_frame = _read_polygons(prediction, labels_crs, read_labels, repair_polygons)
    except InputError as exc:
        if "no features" not in str(exc):
            raise
        pred_frame = truth_frame.iloc[:0]
    if pred_frame.crs is not None and truth_frame.crs is not None and \
            pred_frame.crs != truth_frame.crs:
        pred_frame = pred_frame.to_crs(truth_frame.crs)
    pred_frame = _scoring_order(pred_frame, conf_field)
    scores = match_polygons(pred_frame.geometry.values, truth_frame.geometry.values, iou)
    result = {"mode": "object", **scores.as_dict()}
    if class_field:
        for name, frame in ((prediction, pred_frame), (truth, truth_frame)):
            if class_field not in frame.columns:
                raise InputError(f"{name}: no field {class_field!r} for per-class scores.")
        classes = sorted(set(map(str, truth_frame[class_field])) |
                         set(map(str, pred_frame[class_field])))
        result["per_class"] = {
            c: match_polygons(
                pred_frame[pred_frame[class_field].astype(str) == c].geometry.values,
                truth_frame[truth_frame[class_field].astype(str) == c].geometry.values,
                iou).as_dict()
            for c in classes
        }
    result["_scores"] = scores
    result["_frames"] = (pred_frame, truth_frame)
    return result


def _read_polygons(path, labels_crs, read_labels, repair_polygons):
    frame = read_labels(path, labels_crs)
    frame = frame[frame.geometry.notna()]
    return frame.set_geometry(repair_polygons(frame.geometry))


def pixel_scores(prediction, truth, *, threshold: float | None = None) -> dict:
    """Pixel metrics of a prediction raster against a truth mask on the same grid."""
    from geotile.raster import has_nodata, open_raster, read_band
    from geotile.vectorize import class_ids, raster_kind

    with open_raster(prediction) as pred, open_raster(truth) as true:
        same = ((pred.width, pred.height) == (true.width, true.height) and pred.crs == true.crs
                and pred.transform.almost_equals(true.transform))
        if not same:
            raise InputError(
                f"{prediction} and {truth} are not on the same grid ({pred.width}x{pred.height} "
                f"vs {true.width}x{true.height}, or another transform/CRS). Rasterize the truth "
                "on the prediction's grid with `geotile make-masks LABELS PREDICTION`, or align "
                "them with gdalwarp.")
        pred_kind, true_kind = raster_kind(pred), raster_kind(true)
        threshold = threshold if threshold is not None else float(
            pred.tags().get("GEOTILE_THRESHOLD", 0.5))
        names = true_kind.names or pred_kind.names
        size = 256
        confusion = np.zeros((size, size), np.int64)
        check_pred, check_true = has_nodata(pred), has_nodata(true)
        for top in range(0, pred.height, 1024):
            rows = min(1024, pred.height - top)
            p_values, p_valid = read_band(pred, top, rows, pred.width, check_nodata=check_pred)
            t_values, t_valid = read_band(true, top, rows, true.width, indexes=[1],
                                          check_nodata=check_true)
            p_ids, _ = class_ids(p_values, p_valid, pred_kind, threshold)
            t_ids, _ = class_ids(t_values, t_valid, true_kind, 0.5)
            keep = p_valid & t_valid
            if pred_kind.kind == "class" and pred.nodata is not None:
                keep &= p_values[0] != pred.nodata
            pairs = t_ids[keep].astype(np.int64) * size + p_ids[keep]
            confusion += np.bincount(pairs, minlength=size * size).reshape(size, size)
    present = np.nonzero(confusion.sum(axis=0) + confusion.sum(axis=1))[0]
    top_class = int(max(present.max() if present.size else 1, 1))
    confusion = confusion[: top_class + 1, : top_class + 1]
    classes = []
    for c in range(top_class + 1):
        tp = int(confusion[c, c])
        fp = int(confusion[:, c].sum()) - tp
        fn = int(confusion[c].sum()) - tp
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        classes.append({
            "class_id": c,
            "class": str(names[c]) if names and c < len(names) else
            ("background" if c == 0 else str(c)),
            "iou": tp / (tp + fp + fn) if tp + fp + fn else 0.0,
            "precision": precision, "recall": recall,
            "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
            "support": int(confusion[c].sum()),
        })
    total = int(confusion.sum())
    return {"mode": "pixel", "classes": classes, "confusion_matrix": confusion.tolist(),
            "accuracy": float(np.trace(confusion)) / total if total else 0.0, "pixels": total}


def is_raster(path: str | os.PathLike) -> bool:
    """Raster or vector, by extension (GeoTIFF, VRT, ...) and else by trying GDAL's raster side."""
    if Path(path).suffix.lower() in RASTER_SUFFIXES:
        return True
    if Path(path).suffix.lower() in (".geojson", ".json", ".gpkg", ".shp", ".parquet", ".fgb"):
        return False
    import rasterio

    try:
        with rasterio.open(path):
            return True
    except Exception:
        return False


def evaluate_files(prediction, truth, *, iou: float = 0.5, threshold: float | None = None,
                   class_field: str | None = None, conf_field: str | None = "conf",
                   labels_crs: str | None = None) -> dict:
    """Object scores for two vector files, pixel scores for two rasters."""
    for path in (prediction, truth):
        if not Path(path).exists():
            raise InputError(f"{path}: no such file. Check the path.")
    kinds = is_raster(prediction), is_raster(truth)
    if kinds[0] != kinds[1]:
        raster, vector = (prediction, truth) if kinds[0] else (truth, prediction)
        raise InputError(
            f"{raster} is a raster but {vector} is vector data: compare like with like "
            "(`geotile vectorize` the raster, or `geotile make-masks` the vectors onto it).")
    if kinds[0]:
        return pixel_scores(prediction, truth, threshold=threshold)
    return evaluate_vectors(prediction, truth, iou=iou, class_field=class_field,
                            conf_field=conf_field, labels_crs=labels_crs)


def public(result: dict) -> dict:
    """The result without its private objects, ready for JSON."""
    return {k: v for k, v in result.items() if not k.startswith("_")}


def format_table(result: dict) -> str:
    """A readable summary for the terminal."""
    if result["mode"] == "object":
        lines = [f"Objects (IoU > {result['iou_threshold']:g}): TP {result['tp']}  FP "
                 f"{result['fp']}  FN {result['fn']}",
                 f"precision {result['precision']:.4f}  recall {result['recall']:.4f}  "
                 f"F1 {result['f1']:.4f}"]
        for name, s in result.get("per_class", {}).items():
            lines.append(f"  {name}: TP {s['tp']} FP {s['fp']} FN {s['fn']} F1 {s['f1']:.4f}")
        return "\n".join(lines)
    lines = [f"Pixels: {result['pixels']}  accuracy {result['accuracy']:.4f}",
             f"{'class':<16}{'IoU':>8}{'F1':>8}{'prec.':>8}{'recall':>8}{'support':>12}"]
    for c in result["classes"]:
        lines.append(f"{c['class'][:15]:<16}{c['iou']:>8.4f}{c['f1']:>8.4f}"
                     f"{c['precision']:>8.4f}{c['recall']:>8.4f}{c['support']:>12}")
    return "\n".join(lines)


def dumps(result: dict) -> str:
    return json.dumps(public(result), indent=2)
