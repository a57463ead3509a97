"""Object scores of two sets of polygons: the SpaceNet building metric, one-to-one
matching of predicted to true polygons, on geometries or on two vector files.

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
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from geotile.errors import InputError, check_range
from geotile.evaluation_crs import in_truth_crs, same_crs, warn_if_apart
from geotile.label_set import cut_name_hint
from geotile.label_set import geometry_array as _geometry_array
from geotile.plurals import counted_are
from geotile.quiet_warnings import is_valid
from geotile.score_tables import name_column_width
from geotile.user_warnings import warn

if TYPE_CHECKING:
    import geopandas as gpd


log = logging.getLogger("geotile")


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


def repaired(geometries: np.ndarray) -> np.ndarray:
    """``buffer(0)`` of the invalid geometries, as solaris repairs bow-ties."""
    return repaired_valid(geometries)[0]


def repaired_valid(geometries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(:func:`repaired` geometries, which of them are valid): only the repaired ones are
    checked again."""
    import shapely

    valid = is_valid(geometries)
    invalid = ~valid & ~shapely.is_empty(geometries)
    if invalid.any():
        geometries = geometries.copy()
        geometries[invalid] = shapely.buffer(geometries[invalid], 0)
        valid = valid.copy()
        valid[invalid] = is_valid(geometries[invalid])
    return geometries, valid


#: shapely type ids of a Polygon and a MultiPolygon (valid: parts that do not overlap)
POLYGONAL = (3, 6)
#: share of a prediction's area within ignored regions that leaves it out of the scores
IGNORED_SHARE = 0.5


def _may_pass(pred_bounds, true_bounds, pred_area, true_area, iou: float) -> np.ndarray:
    """Which polygon pairs may have an IoU above ``iou``: their intersection is at most the
    overlap of their bounding boxes and the smaller area, and IoU grows with it. A pair
    left out can neither match nor beat one that does (its IoU is below the threshold), so
    only the pairs kept are intersected (a quarter of a city's are neighbours); a margin of
    1e-6 of the threshold keeps those that rounding could put over it."""
    low = np.maximum(pred_bounds[:, :2], true_bounds[:, :2])
    high = np.minimum(pred_bounds[:, 2:], true_bounds[:, 2:])
    boxes = np.prod(np.clip(high - low, 0, None), axis=1)
    most = np.minimum(np.minimum(pred_area, true_area), boxes)
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = most / (pred_area + true_area - most)
    return ~(bound < iou * (1 - 1e-6))  # NaN (no area): kept, scored as before


def match_polygons(predicted, truth, iou: float = 0.5, *,
                   repair_truth: bool = False) -> ObjectScores:
    """Match predicted polygons (already in scoring order) one-to-one to ``truth``.

    Predictions carrying a CRS (GeoSeries, GeoDataFrame) are reprojected to the truth's
    (:func:`in_truth_crs`). See the module docstring for the rules; a prediction is a
    true positive when its best IoU with a remaining truth polygon is > ``iou``.
    ``Match.pred`` / ``Match.truth`` are positions in the two sequences.
    """
    import shapely

    check_range("--iou", iou, 0, 1, high_open=True, required=True)
    pred, pred_valid = repaired_valid(_geometry_array(in_truth_crs(predicted, truth),
                                                       "the predicted geometries"))
    true = _geometry_array(truth, "the true geometries")
    true, true_valid = repaired_valid(true) if repair_truth else (true, is_valid(true))
    # invalid geometries score IoU 0 with everything (solaris): keep them out of the pairs
    usable_true = np.flatnonzero(true_valid & ~shapely.is_empty(true))
    usable_pred = pred_valid & ~shapely.is_empty(pred)
    tree = shapely.STRtree(true[usable_true])
    query = np.flatnonzero(usable_pred)
    q, t = tree.query(pred[query], predicate="intersects")
    pi, ti = query[q], usable_true[t]
    order = np.lexsort((ti, pi))  # by prediction, then truth in file order (ties -> first)
    pi, ti = pi[order], ti[order]
    pred_area, true_area = shapely.area(pred)[pi], shapely.area(true)[ti]
    polygonal = np.isin(shapely.get_type_id(pred), POLYGONAL)[pi] & np.isin(
        shapely.get_type_id(true), POLYGONAL)[ti]
    possible = _may_pass(shapely.bounds(pred)[pi], shapely.bounds(true)[ti], pred_area,
                         true_area, iou) | ~polygonal
    pi, ti, pred_area, true_area, polygonal = (
        a[possible] for a in (pi, ti, pred_area, true_area, polygonal))
    inter = shapely.area(shapely.intersection(pred[pi], true[ti]))
    # the union's area without building the union (valid polygons: half the time of a
    # city's scoring); where that puts an IoU a hair from the threshold, or a collection's
    # parts may overlap, the union decides
    union = pred_area + true_area - inter
    ious = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    close = np.flatnonzero((np.abs(ious - iou) <= 1e-9) | ~polygonal)
    if len(close):
        union[close] = shapely.area(shapely.union(pred[pi[close]], true[ti[close]]))
        ious[close] = np.divide(inter[close], union[close], out=np.zeros(len(close)),
                                where=union[close] > 0)

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
    conf_field: str | None = None
    inputs: tuple = ()  # the files scored, which a report or errors file never replaces
    #: --class-field and the class of each prediction and truth polygon (errors files)
    classes: tuple | None = None

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
            w = name_column_width(self.per_class)
            lines.append(f"  {'class':<{w}}{'TP':>6}{'FP':>6}{'FN':>6}{'prec.':>8}"
                         f"{'recall':>8}{'F1':>8}")
            for name, c in self.per_class.items():
                lines.append(f"  {name:<{w}}{c.tp:>6}{c.fp:>6}{c.fn:>6}{c.precision:>8.4f}"
                             f"{c.recall:>8.4f}{c.f1:>8.4f}")
        return "\n".join(lines)


def read_vector_or_empty(path, crs_override: str | None, layer: str | None = None,
                 polygons: bool = True) -> gpd.GeoDataFrame:
    """read_labels, except that a file with no features (or no geometries) is an empty frame:
    SpaceNet scores an empty proposal or truth file instead of failing. ``polygons``: only
    the polygon features (:func:`_polygons_only`), else every one with a geometry."""

    import geopandas as gpd
    import shapely

    from geotile.errors import GeotileWarning
    from geotile.input_paths import ogr_path
    from geotile.labels import PARQUET_SUFFIXES, read_labels
    from geotile.quiet_warnings import hidden

    try:
        # a plain Parquet's lon/lat note: said once the other side tells the guess holds
        # (geotile.evaluation_crs.warn_if_apart)
        with hidden(GeotileWarning, message=r".*: no GeoParquet metadata"):
            frame = read_labels(path, crs_override, layer=layer, crs_option=None).to_frame()
    except InputError:
        try:
            from geotile.quiet_warnings import hidden

            # read_labels said what was wrong: pyogrio's and GDAL's notes on it again
            with hidden(RuntimeWarning, UserWarning):
                frame = gpd.read_file(ogr_path(path), engine="pyogrio", layer=layer) \
                    if Path(path).suffix.lower() not in PARQUET_SUFFIXES \
                    else gpd.read_parquet(path)
        except Exception:
            frame = None
        if not isinstance(frame, gpd.GeoDataFrame) or (
                ~shapely.is_missing(frame.geometry.values)).any():
            raise
        if crs_override is not None:
            frame = frame.set_crs(crs_override, allow_override=True)
        else:
            from geotile.labels import no_crs

            if no_crs(path):  # "crs": null, which GDAL reads as lon/lat
                from geotile.evaluation_crs import without_crs

                frame = without_crs(frame)
    frame = _polygons_only(frame, path) if polygons else \
        frame[~shapely.is_missing(frame.geometry.values)]
    _refuse_overflowing(frame, path)
    return frame


def _refuse_overflowing(frame: gpd.GeoDataFrame, path) -> None:
    """InputError when a geometry's coordinates are NaN, or so large that its area or bounds
    overflow (1e300 m): no CRS has them, and every overlap would be inf or NaN."""
    import shapely

    values = frame.geometry.values
    coordinates, rows = shapely.get_coordinates(values, return_index=True)
    nan = np.unique(rows[np.isnan(coordinates).any(1)])
    if len(nan):
        raise InputError(f"{path}: {len(nan)} feature(s) have NaN coordinates; fix or drop "
                         "them.")
    with np.errstate(all="ignore"):
        finite = np.isfinite(shapely.area(values)) & np.isfinite(shapely.bounds(values)).all(1)
    finite |= shapely.is_empty(values) | shapely.is_missing(values)
    if not finite.all():
        reach = np.nanmax(np.abs(shapely.bounds(values[~finite])))
        raise InputError(f"{path}: {int((~finite).sum())} feature(s) have coordinates up to "
                         f"{reach:g}, beyond any CRS (their areas overflow); fix or drop them.")


def _polygons_only(frame: gpd.GeoDataFrame, path) -> gpd.GeoDataFrame:
    """The features with a polygon: missing and empty geometries are no object; a
    GeometryCollection is the union of its polygons (ogr2ogr -nlt GEOMETRYCOLLECTION, clipped
    files); points and lines beside polygons are left out with a warning, a file of nothing
    else is refused."""

    import shapely

    from geotile.errors import GeotileWarning
    from geotile.masks import line_parts

    values = frame.geometry.values
    collections = np.flatnonzero(shapely.get_type_id(values) == 7)
    if len(collections):
        polygons = line_parts(np.asarray(values[collections], dtype=object))[1]
        held = [i for i, parts in enumerate(polygons) if parts]
        if held:
            geometries = np.asarray(values, dtype=object).copy()
            geometries[collections[held]] = [shapely.union_all(polygons[i]) for i in held]
            frame = frame.set_geometry(geometries, crs=frame.crs)
            values = frame.geometry.values
    present = ~(shapely.is_missing(values) | shapely.is_empty(values))
    polygonal = present & np.isin(shapely.get_type_id(values), [3, 6])  # (Multi)Polygon
    others = present & ~polygonal
    if others.any():
        kinds = sorted({int(t) for t in shapely.get_type_id(values[others])})
        names = ", ".join(sorted({_GEOMETRY_NAMES.get(t, str(t)) for t in kinds}))  # once
        if not polygonal.any():
            raise InputError(f"{path}: its features are {names}, not polygons; object scores "
                             "compare polygons (lines are scored against lines, with "
                             "--buffer).")
        n = int(others.sum())
        what = f"a {_GEOMETRY_NAME[kinds[0]]}" if n == 1 and kinds[0] in _GEOMETRY_NAME \
            else names
        warn(f"{path}: {counted_are(n, 'feature')} {what}, "
             f"{'not a polygon' if n == 1 else 'not polygons'}, and "
             f"{'is' if n == 1 else 'are'} left out of the object scores.",
             GeotileWarning)
    return frame[polygonal]


_GEOMETRY_NAMES = {0: "points", 1: "lines", 2: "rings", 4: "points", 5: "lines",
                   7: "geometry collections"}
#: the same, of one feature ("1 feature is a point")
_GEOMETRY_NAME = {0: "point", 1: "line", 2: "ring", 4: "multipoint", 5: "multiline",
                  7: "geometry collection"}


#: confidence fields looked for when none is named: SpaceNet's and geotile vectorize's
CONF_FIELDS = ("conf", "score", "Confidence", "confidence")


def scoring_order(frame: gpd.GeoDataFrame, conf_field: str | None, source
                   ) -> tuple[gpd.GeoDataFrame, str | None]:
    """The predictions in decreasing confidence, and the field that gave it: ``conf_field``
    (an InputError when the file has no such field: a typo would match in file order),
    else the first of :data:`CONF_FIELDS` present (None: file order)."""
    if conf_field and conf_field not in frame.columns and len(frame):
        fields = ", ".join(c for c in frame.columns if c != frame.geometry.name) or "none"
        raise InputError(f"{source}: no field {conf_field!r} to order the predictions by "
                         f"(its fields: {fields}). Give --conf-field one of them, or leave it "
                         "out." + cut_name_hint(conf_field, frame.columns, "--conf-field"))
    if conf_field is None:
        conf_field = next((c for c in CONF_FIELDS if c in frame.columns), None)
    if conf_field and conf_field in frame.columns:
        order = _confidences(frame[conf_field], conf_field, source)
        frame = frame.assign(**{conf_field: order}) if order is not frame[conf_field] else frame
        frame = frame.sort_values(conf_field, ascending=False, kind="stable", na_position="last")
    return frame.reset_index(drop=True), conf_field


def _confidences(values, conf_field: str, source):
    """The confidence column as numbers: numeric columns as they are, text holding numbers
    ("0.9") parsed, blank text missing as a null is (a CSV's null: an empty cell); any other
    value is an InputError naming it."""
    import pandas as pd
    from pandas.api import types

    if types.is_numeric_dtype(values.dtype) and not types.is_bool_dtype(values.dtype):
        return values
    text = values.map(lambda v: (v.strip() or None) if isinstance(v, str) else v)
    numbers = pd.to_numeric(text, errors="coerce")
    bad = values[numbers.isna() & text.notna()]
    if len(bad) or not types.is_numeric_dtype(numbers.dtype) or \
            types.is_bool_dtype(values.dtype):
        example = bad.iloc[0] if len(bad) else values.dropna().iloc[0]
        raise InputError(f"{source}: field {conf_field!r} holds {example!r}, not a number; "
                         "give the confidence field with --conf-field, or --conf-field '' to "
                         "score in file order.")
    return numbers.astype(float)


def square_metres(frame: gpd.GeoDataFrame) -> np.ndarray:
    """Polygon areas in ground m^2: in the frame's CRS where its unit is a ground metre,
    else in the data's UTM zone (geographic CRSs, state planes in US feet, Web Mercator,
    whose "metres" are 1/cos(latitude) ground metres: geotile.ground_scale); in the
    coordinates' own units without a CRS."""
    from geotile.ground_scale import metric_crs, to_crs

    if len(frame) and frame.crs is not None:
        metric = metric_crs(frame.crs, frame)
        if metric != frame.crs:
            frame = to_crs(frame, metric)
    return np.asarray(frame.geometry.area, dtype=np.float64)


def apply_min_area(pred_frame, truth_frame, min_area: float):
    """SpaceNet's minimum-area rule (in m^2 here): truth polygons of area < ``min_area`` and
    predictions of area <= ``min_area`` are left out of the scores."""
    if min_area <= 0:
        return pred_frame, truth_frame
    areas = square_metres(truth_frame) if len(truth_frame) else np.zeros(0)
    kept_truth = truth_frame[areas >= min_area]
    unit = "m^2" if truth_frame.crs is not None else "px^2"  # an image's pixels: px
    if len(truth_frame) and not len(kept_truth):
        from geotile.errors import GeotileWarning

        warn(f"--min-area {min_area:g} {unit} leaves out all {len(truth_frame)} "
             f"truth polygons (the largest is {areas.max():.4g} {unit}): the scores "
             f"are of nothing. Give --min-area in {unit}.", GeotileWarning)
    kept_pred = pred_frame[square_metres(pred_frame) > min_area] if len(pred_frame) \
        else pred_frame
    dropped = len(truth_frame) - len(kept_truth), len(pred_frame) - len(kept_pred)
    if any(dropped):
        log.info("--min-area %g %s leaves out %d truth and %d predicted polygons", min_area,
                 unit, *dropped)
    return kept_pred, kept_truth


def evaluate_vectors(prediction: str | os.PathLike, truth: str | os.PathLike, *,
                     iou: float = 0.5, class_field: str | None = None,
                     conf_field: str | None = None, labels_crs: str | None = None,
                     prediction_crs: str | None = None,
                     repair_truth: bool = False,
                     labels_layer: str | None = None,
                     min_area: float = 0.0, truth_frame: gpd.GeoDataFrame | None = None,
                     ignored: np.ndarray | None = None,
                     in_pixels: bool = False) -> ObjectEvaluation:
    """SpaceNet object scores of two vector files; also per class with ``class_field``.

    The prediction is reprojected to the truth's CRS when they differ. ``labels_crs`` /
    ``prediction_crs`` override the CRS the truth / prediction files declare;
    ``labels_layer`` names the truth's layer in a multi-layer file. ``min_area`` (m^2):
    truth polygons smaller and predictions not larger are left out (SpaceNet's rule).
    ``truth_frame``: the truth polygons already read (``truth`` names them), ``ignored``
    regions in its CRS (COCO's crowd: :func:`outside_ignored`);
    ``in_pixels``: the prediction is read in no CRS, as that truth (an image's pixels).
    """

    if truth_frame is None:
        truth_frame = read_vector_or_empty(truth, labels_crs, labels_layer)
    pred_frame = read_vector_or_empty(prediction, prediction_crs)
    if in_pixels:
        from geotile.evaluation_crs import without_crs

        pred_frame = without_crs(pred_frame)
    pred_frame, truth_frame = same_crs(pred_frame, truth_frame, prediction, truth,
                                        prediction_crs, labels_crs)
    if class_field:
        pred_field = class_field
        if class_field not in pred_frame.columns and "class" in pred_frame.columns:
            pred_field = "class"  # geotile vectorize's: the mask's names of FIELD's classes
        for source, frame, name in ((prediction, pred_frame, pred_field),
                                    (truth, truth_frame, class_field)):
            if len(frame) and name not in frame.columns:
                fields = ", ".join(c for c in frame.columns if c != frame.geometry.name)
                raise InputError(f"{source}: no field {class_field!r} for per-class scores. "
                                 f"Fields: {fields or 'none'}." + cut_name_hint(
                                     class_field, frame.columns, "--class-field"))
        # classes make-masks burns as background (0) are no objects
        truth_frame = _without_background(truth_frame, class_field, truth)
        pred_frame = _without_background(pred_frame, pred_field, prediction)
    warn_if_apart(pred_frame, truth_frame, prediction, truth,
                  "every prediction is a false positive",
                  crs_options=(prediction_crs, labels_crs))
    _warn_of_cut_buildings(prediction, truth, pred_frame, truth_frame)
    pred_frame, truth_frame = apply_min_area(pred_frame, truth_frame, min_area)
    pred_frame, conf_field = scoring_order(pred_frame, conf_field, prediction)
    truth_frame = truth_frame.reset_index(drop=True)
    if ignored is not None and len(ignored):
        pred_frame = outside_ignored(pred_frame, truth_frame, ignored, iou, repair_truth)
    if len(pred_frame) == 0:
        log.info("%s holds no polygons: every truth polygon is a false negative", prediction)
    invalid = int((~is_valid(truth_frame.geometry.values)).sum()) if len(truth_frame) \
        else 0
    if invalid and not repair_truth:
        log.warning("%s: %d invalid truth polygon(s) (self-intersecting) match no prediction, "
                    "as SpaceNet scores them; --repair-truth repairs them (buffer(0)) first",
                    truth, invalid)
    scores = match_polygons(pred_frame.geometry.values, truth_frame.geometry.values, iou,
                            repair_truth=repair_truth)
    per_class = {}
    if class_field:
        true_class, pred_class = _class_labels(
            truth_frame[class_field] if len(truth_frame) else [],
            pred_frame[pred_field] if len(pred_frame) else [])
        pred_class = named_as_truth(pred_class, true_class)
        if len(pred_class) and len(true_class) and not set(pred_class) & set(true_class):
            log.warning("%s and %s share no %s value (%s against %s): every per-class score "
                        "is 0. Give both files the same class values (ids or names).",
                        prediction, truth, class_field, ", ".join(sorted(set(pred_class))[:5]),
                        ", ".join(sorted(set(true_class))[:5]))
        for name in sorted(set(pred_class) | set(true_class)):
            per_class[name] = match_polygons(pred_frame.geometry.values[pred_class == name],
                                             truth_frame.geometry.values[true_class == name],
                                             iou, repair_truth=repair_truth)
        classes = (class_field, pred_class, true_class)
    return ObjectEvaluation(scores, pred_frame, truth_frame, per_class, conf_field=conf_field,
                            inputs=(prediction, truth),
                            classes=classes if class_field else None)


def _warn_of_cut_buildings(prediction, truth, pred_frame, truth_frame) -> None:
    """A SpaceNet CSV (per image) scored against a file of whole buildings: say so when it
    holds buildings cut at image edges (:mod:`geotile.image_edge_pieces`)."""
    from geotile.image_edge_pieces import warn_if_cut
    from geotile.spacenet import is_spacenet_csv

    csvs = is_spacenet_csv(prediction), is_spacenet_csv(truth)
    if csvs[0] != csvs[1]:
        path, frame, other = (prediction, pred_frame, truth) if csvs[0] else \
            (truth, truth_frame, prediction)
        warn_if_cut(frame, path, other, truth_frame if csvs[0] else pred_frame,
                    truth=not csvs[0])


def _without_background(frame, field: str, source):
    """``frame`` less the features whose ``field`` says background in so many words
    (:func:`~geotile.class_keys.names_background`), which make-masks --class-field burns as
    0 and tile leaves out of its annotations; a warning names them."""
    from geotile.class_keys import names_background
    from geotile.errors import GeotileWarning
    from geotile.labels import class_value_text, count_features

    if not len(frame) or field not in frame.columns:
        return frame
    named = [class_value_text(v) if isinstance(v, str) else None for v in frame[field]]
    background = np.array([v is not None and names_background(v) for v in named], bool)
    if not background.any():
        return frame
    said = [v for v, b in zip(named, background, strict=True) if b]
    shown = ", ".join(repr(v) for v in list(dict.fromkeys(said))[:5])
    warn(f"{source}: {count_features(said)} of field {field!r} "
         f"{'name' if len(said) > 1 else 'names'} background ({shown}): left out of "
         "the scores, as make-masks burns them as background (0).", GeotileWarning)
    return frame[~background]


def named_as_truth(pred_class: np.ndarray, true_class: np.ndarray) -> np.ndarray:
    """The prediction's class names, each the truth's name that it differs from only by
    separators or a plural ('building' for 'Buildings'), where one name of the truth
    (no other) is so (:func:`~geotile.class_keys.match_class_names`, as raster scores pair
    names); the others as they are."""
    from geotile.class_keys import match_class_names

    predicted, true = sorted(set(pred_class)), sorted(set(true_class))
    renamed = {name: true[j] for name, j in zip(predicted, match_class_names(predicted, true),
                                                strict=True) if j is not None}
    if all(name == other for name, other in renamed.items()):
        return pred_class
    log.info("per-class scores pair predicted %s with the truth's %s", ", ".join(
        f"'{n}'" for n, o in renamed.items() if n != o), ", ".join(
        f"'{o}'" for n, o in renamed.items() if n != o))
    return np.array([renamed.get(name, name) for name in pred_class], dtype=object)


def _class_labels(*columns) -> list[np.ndarray]:
    """Each column's class values as strings, one name per class as make-masks compares
    them (1, 1.0 and '01' are '1'; 'Building ' is 'building': case, spaces and hyphens
    aside), spelt as first seen (the first column first); missing (null, or blank text: a
    CSV's null) -> 'none'."""
    from geotile.class_keys import class_key
    from geotile.labels import class_value_text

    spelling: dict[str, str] = {}
    labels = []
    for column in columns:
        texts = ["none" if v is None or (isinstance(v, (float, np.floating)) and np.isnan(v))
                 or (isinstance(v, str) and not v.strip()) else class_value_text(v) for v in column]
        labels.append(np.array([spelling.setdefault(class_key(t), t) for t in texts],
                               dtype=object))
    return labels


def outside_ignored(pred_frame, truth_frame, ignored: np.ndarray, iou: float,
                    repair_truth: bool):
    """``pred_frame`` (in scoring order) less the predictions that match no truth polygon
    and lie mostly in ``ignored`` regions; the others match as they did (an unmatched
    prediction takes no truth polygon from them)."""
    import shapely

    if not len(pred_frame):
        return pred_frame
    geometries = pred_frame.geometry.values
    scores = match_polygons(geometries, truth_frame.geometry.values, iou,
                            repair_truth=repair_truth)
    matched = np.zeros(len(pred_frame), bool)
    matched[[m.pred for m in scores.matches]] = True
    regions = shapely.union_all(ignored)
    with np.errstate(all="ignore"):
        share = shapely.area(shapely.intersection(shapely.make_valid(
            np.asarray(geometries, dtype=object)), regions)) / shapely.area(geometries)
    left_out = ~matched & (np.nan_to_num(share) > IGNORED_SHARE)
    return pred_frame[~left_out].reset_index(drop=True)
