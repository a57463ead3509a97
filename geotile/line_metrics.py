"""Centreline scores: length-weighted precision and recall within a buffer.

The buffer measures of road extraction (Wiedemann et al. 1998; Heipke et al.
1997): precision ("correctness") is the fraction of predicted length lying
within ``buffer`` metres of a true line, recall ("completeness") the fraction
of true length within ``buffer`` metres of a predicted line, F1 their harmonic
mean and quality TP / (TP + FP + FN) of the lengths (predicted length within
the buffer over all predicted length plus the true length outside the
prediction's buffer). Any number of lines may match one line (no one-to-one
matching). SpaceNet's road metric, APLS (a graph's path lengths), is asked apart
(``apls=True``: :mod:`geotile.apls`); the pixel "relaxed" precision of Mnih (road rasters)
is :mod:`geotile.relaxed_scores`. Lengths and the buffer are in ground
metres (the truth's CRS where its unit is a ground metre, else the UTM zone:
Web Mercator's units are not, :mod:`geotile.ground_scale`; files without a CRS
in their own units).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np

from geotile.apls import AplsScore
from geotile.buffer_measures import BufferMeasures
from geotile.errors import InputError, check_range
from geotile.line_snapping import snapped_lines
from geotile.plurals import counted_are
from geotile.user_warnings import warn

log = logging.getLogger("geotile")

#: shapely type ids of LineString, LinearRing and MultiLineString
LINE_TYPES = (1, 2, 5)
POINT_TYPES = (0, 4)
#: stretches of one side lying within this fraction of the buffer of each other (2 cm at
#: 2 m) are measured once: copies reprojected, tiles' overlaps, a road drawn twice
DISSOLVE_FRACTION = 0.01


@dataclass(frozen=True)
class LineScores(BufferMeasures):
    """Lengths (metres) predicted and true, and how much of each lies within ``buffer``."""

    buffer: float
    predicted_length: float
    true_length: float
    matched_predicted_length: float
    matched_true_length: float
    predictions: int = 0
    truths: int = 0
    mode: str = "line"
    #: measured in ground metres (the lines carry a CRS); else in their coordinates' units
    metres: bool = True
    #: APLS, where asked (:mod:`geotile.apls`)
    apls: AplsScore | None = None

    def amounts(self) -> tuple[float, float, float, float]:
        """Lengths within the buffer and in all, predicted then true (Wiedemann's quality:
        TP the predicted length within the buffer, FN the true length outside the
        prediction's)."""
        return (self.matched_predicted_length, self.predicted_length,
                self.matched_true_length, self.true_length)

    @property
    def unit(self) -> str:
        """The lengths' unit in tables: "m", or "units" (of coordinates in no CRS)."""
        return "m" if self.metres else "units"

    @property
    def within(self) -> str:
        """What "within the buffer" means, for tables."""
        return (f"{self.buffer:g} m" if self.metres
                else f"{self.buffer:g} coordinate units (no CRS)")

    def as_dict(self) -> dict:
        return {"mode": "line", "buffer_m": self.buffer,
                "units": "m" if self.metres else "coordinates",
                "precision": round(self.precision, 6),
                "recall": round(self.recall, 6), "f1": round(self.f1, 6),
                "quality": round(self.quality, 6),
                "predicted_length_m": round(self.predicted_length, 3),
                "true_length_m": round(self.true_length, 3),
                "matched_predicted_length_m": round(self.matched_predicted_length, 3),
                "matched_true_length_m": round(self.matched_true_length, 3),
                "predictions": self.predictions, "truths": self.truths,
                **(self.apls.as_dict() if self.apls is not None else {})}

    def table(self) -> str:
        return "\n".join([
            f"Lines (length within {self.within}): {self.predictions} predicted "
            f"({self.predicted_length:.1f} {self.unit}), {self.truths} true "
            f"({self.true_length:.1f} {self.unit})",
            self.scores_line(),
            *([self.apls.table()] if self.apls is not None else []),
        ])


def line_scores(predicted, truth, buffer: float = 2.0, apls: bool = False) -> LineScores:
    """Scores of two sequences of line geometries; each side is measured as the union of its
    lines (a stretch drawn twice, also up to ``buffer`` / 100 apart, counts once). Where they
    carry a CRS (GeoSeries...), in ground metres (:func:`in_ground_metres`); else in the
    units of their coordinates. ``apls``: also their APLS (:func:`geotile.apls.apls`), which
    needs metres: lines in no CRS are an InputError."""
    import shapely

    check_range("--buffer", buffer, 0, low_open=True, required=True)
    predicted, truth = in_ground_metres(predicted, truth)
    metres = getattr(truth, "crs", None) is not None  # a GeoSeries in metres
    predicted = _lines(predicted, "predicted")
    truth = _lines(truth, "true")
    counts = len(predicted), len(truth)
    graphs = None
    if apls:
        if not metres:
            raise InputError("line_scores: APLS places control points every 50 m and snaps "
                             "them within 4 m: give lines in a CRS (GeoSeries).")
        from geotile.apls import apls as apls_of

        graphs = apls_of(predicted, truth)
    tolerance = buffer * DISSOLVE_FRACTION
    predicted, truth = _dissolved(predicted, tolerance), _dissolved(truth, tolerance)
    pred_length = float(shapely.length(predicted).sum())
    true_length = float(shapely.length(truth).sum())
    return LineScores(buffer, pred_length, true_length,
                      _length_within(predicted, truth, buffer),
                      _length_within(truth, predicted, buffer), *counts, metres=metres,
                      apls=graphs)


def in_ground_metres(predicted, truth):
    """(predicted, truth) as GeoSeries in ground metres where one carries a CRS: the
    prediction in the truth's CRS (:func:`~geotile.evaluation_crs.in_truth_crs`; a list is taken
    to be in the other's), both in the truth's CRS where its unit is a ground metre, else in
    their UTM zone (not in degrees nor Web Mercator's units); else as they are."""
    import geopandas as gpd

    from geotile.evaluation_crs import in_truth_crs
    from geotile.ground_scale import metric_crs, to_crs

    predicted = in_truth_crs(predicted, truth)
    crs = getattr(truth, "crs", None) or getattr(predicted, "crs", None)
    if crs is None:
        return predicted, truth
    predicted, truth = (gpd.GeoSeries(list(getattr(s, "geometry", s)), crs=crs)
                        for s in (predicted, truth))
    metric = metric_crs(crs, gpd.GeoSeries([*truth.values, *predicted.values], crs=crs))
    if metric != crs:  # degrees, Web Mercator...: the UTM zone
        log.info("measuring lengths in %s", metric.to_string())
        predicted, truth = to_crs(predicted, metric), to_crs(truth, metric)
    return predicted, truth


def _dissolved(lines: np.ndarray, tolerance: float = 0.0) -> np.ndarray:
    """The union of ``lines``: duplicated or overlapping stretches (OSM ways drawn twice,
    lines of overlapping tiles, copies reprojected) are measured once, also where they lie
    up to ``tolerance`` apart (:func:`geotile.line_snapping.snapped_lines`)."""
    import shapely

    if not len(lines):
        return lines
    if tolerance > 0:
        parts = shapely.get_parts(lines)
        while (shapely.get_type_id(parts) > 3).any():  # collections of multi-lines
            parts = shapely.get_parts(parts)
        lines = snapped_lines(parts[np.isin(shapely.get_type_id(parts), (1, 2))], tolerance)
    return np.asarray(shapely.get_parts(shapely.union_all(lines)), dtype=object)


def _lines(geometries, side: str = "") -> np.ndarray:
    """The lines of ``geometries`` (a GeometryCollection's lines alone), None and empty ones
    left out; anything but lines an InputError (as evaluate_lines refuses such files), stray
    points beside lines left out with a warning."""
    import shapely

    from geotile.errors import GeotileWarning
    from geotile.masks import line_parts

    array = np.asarray(list(geometries), dtype=object)
    array = array[~shapely.is_missing(array)] if len(array) else array
    array = array[~shapely.is_empty(array)] if len(array) else array
    if not len(array):
        return array
    if not _all_lines(array):
        kinds = shapely.get_type_id(array)
        other = array[~line_parts(array)[3] & ~np.isin(kinds, POINT_TYPES)]
        found = f"a {other[0].geom_type}" if len(other) else "only points"
        raise InputError(f"line_scores: the {side} geometries hold {found}, not lines; give "
                         "LineStrings (centrelines), or polygons' outlines (shapely.boundary).")
    linear, _, _, only = line_parts(array)
    if not only.all():
        n = int((~only).sum())
        warn(f"line_scores: {counted_are(n, f'{side} geometry', f'{side} geometries')} "
             f"{'a point, not a line' if n == 1 else 'points, not lines'}, and "
             f"{'is' if n == 1 else 'are'} left out of the line scores.", GeotileWarning)
    return linear[only]


def _length_within(lines: np.ndarray, others: np.ndarray, buffer: float) -> float:
    """Length of ``lines`` within ``buffer`` of ``others``, exactly: the points of a straight
    segment within ``buffer`` of another segment (a stadium, convex) form one interval along
    it (:func:`_interval_within`); each segment's intervals against the segments of
    ``others`` near it are merged. (Buffers as polygons cut their round caps and joins by
    chords, up to 0.5 % of the buffer short; intersecting the union of every buffer, one
    polygon as large as the city, cost each line the whole network, O(n²).)"""
    import shapely

    if not len(lines) or not len(others):
        return 0.0
    start, end = _segments(lines)
    o_start, o_end = _segments(others)
    if not len(start) or not len(o_start):
        return 0.0
    tree = shapely.STRtree(shapely.linestrings(np.stack([o_start, o_end], axis=1)))
    owner, other = tree.query(shapely.linestrings(np.stack([start, end], axis=1)),
                              "dwithin", distance=buffer)
    low, high = _interval_within(start[owner], end[owner], o_start[other], o_end[other],
                                 buffer)
    low, high = np.clip(low, 0.0, 1.0), np.clip(high, 0.0, 1.0)
    kept = high > low
    owner, low, high = owner[kept], low[kept], high[kept]
    if not len(owner):
        return 0.0
    # the union of each segment's intervals: in order of (segment, low), what each adds
    order = np.lexsort((low, owner))
    owner, low, high = owner[order], low[order], high[order]
    reach = np.maximum.accumulate(high + 2.0 * owner)  # segments 2 apart: no overlap
    before = np.r_[-np.inf, reach[:-1]] - 2.0 * owner
    covered = np.clip(high - np.maximum(low, before), 0.0, None)
    return float((covered * np.hypot(*(end - start)[owner].T)).sum())


def _segments(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) points of the straight segments of ``lines``, none of zero length nor
    across the gap between a MultiLineString's parts."""
    import shapely

    xy, line = shapely.get_coordinates(shapely.get_parts(lines), return_index=True)
    same = (line[1:] == line[:-1]) & (xy[1:] != xy[:-1]).any(axis=1)
    return xy[:-1][same], xy[1:][same]


def _interval_within(a: np.ndarray, e: np.ndarray, p: np.ndarray, q: np.ndarray,
                     buffer: float) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the interval [low, high] of t (0 at ``a``, 1 at ``e``) where a + t (e - a)
    lies within ``buffer`` of the segment p..q: the line's chord through the stadium around
    p..q (its rectangle and the discs at its ends; convex, so one interval, from the lowest
    to the highest of the three). Empty: low > high."""
    u = e - a
    uu = (u * u).sum(axis=1)
    lows, highs = [], []
    for c in (p, q):  # the discs: |a - c + t u|^2 <= buffer^2
        w = a - c
        b = (u * w).sum(axis=1)
        discriminant = b * b - uu * ((w * w).sum(axis=1) - buffer * buffer)
        hit = discriminant >= 0
        root = np.sqrt(np.where(hit, discriminant, 0.0))
        lows.append(np.where(hit, (-b - root) / uu, np.inf))
        highs.append(np.where(hit, (-b + root) / uu, -np.inf))
    v = q - p
    vv = (v * v).sum(axis=1)
    length = np.sqrt(vv)
    w = a - p
    # the rectangle: 0 <= (w + t u).v <= |v|^2 and |(w + t u).n| <= buffer, n the unit normal
    n = np.divide(np.column_stack([-v[:, 1], v[:, 0]]), length[:, None],
                  out=np.zeros_like(v), where=length[:, None] > 0)
    along = _linear_interval((w * v).sum(axis=1), (u * v).sum(axis=1), 0.0, vv)
    across = _linear_interval((w * n).sum(axis=1), (u * n).sum(axis=1), -buffer, buffer)
    flat = vv > 0
    lows.append(np.where(flat, np.maximum(along[0], across[0]), np.inf))
    highs.append(np.where(flat, np.minimum(along[1], across[1]), -np.inf))
    low, high = np.array(lows), np.array(highs)
    empty = low > high
    low[empty], high[empty] = np.inf, -np.inf
    return low.min(axis=0), high.max(axis=0)


def _linear_interval(alpha: np.ndarray, beta: np.ndarray, lo, hi
                     ) -> tuple[np.ndarray, np.ndarray]:
    """The t where lo <= alpha + beta t <= hi: an interval, all of it or none (beta 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        one, two = (lo - alpha) / beta, (hi - alpha) / beta
    moving = beta != 0
    inside = (alpha >= lo) & (alpha <= hi)
    low = np.where(moving, np.minimum(one, two), np.where(inside, -np.inf, np.inf))
    high = np.where(moving, np.maximum(one, two), np.where(inside, np.inf, -np.inf))
    return low, high


def is_line_file(path: str | os.PathLike, layer: str | None = None) -> bool | None:
    """Whether ``path`` is a vector file of lines (LineString / MultiLineString features,
    or a layer declaring them); None when it is a vector file without features that declares
    no type (an empty prediction). A file that is missing or cannot be read is the
    InputError saying so."""
    from geotile.evaluate import is_raster

    if is_raster(path):
        return False
    try:
        import pyogrio

        from geotile.input_paths import ogr_path
        from geotile.quiet_warnings import hidden

        with hidden(RuntimeWarning):  # GDAL's notes on a file it cannot read
            if layer is None and len(pyogrio.list_layers(ogr_path(path))) > 1:
                from geotile.labels import choose_layer

                # the one layer of lines or polygons beside points (osmnx: nodes, edges)
                layer = choose_layer(path, None)
                if layer is None:
                    return False  # points only: the other scores say so
            info = pyogrio.read_info(ogr_path(path), layer=layer)
        kind = str(info.get("geometry_type") or "")
        if info.get("features") == 0 and "LineString" not in kind:
            return None
    except InputError:
        raise
    except Exception as exc:  # not readable by GDAL here (GeoParquet...): read it below
        from geotile.failed_downloads import raise_remote_failure

        raise_remote_failure(path, exc)
        kind = "Unknown"
    if "LineString" in kind:  # also a layer of none (vectorize --lines of a tile without)
        return True
    if kind not in ("Unknown", "Geometry", "") and "GeometryCollection" not in kind:
        return False
    frame = read_lines(path, None, layer)
    return _all_lines(frame.geometry.values) if len(frame) else None


def _all_lines(geometries) -> bool:
    """Lines (also inside GeometryCollections), and perhaps stray points (left out by
    :func:`_lines_only`), but nothing else."""
    import shapely

    from geotile.masks import line_parts

    kinds = shapely.get_type_id(geometries)
    lines = line_parts(geometries)[3]
    blank = (kinds < 0) | ((kinds == 7) & shapely.is_empty(geometries))
    return bool(lines.any() and (lines | blank | np.isin(kinds, POINT_TYPES)).all())


def holds_lines(path: str | os.PathLike, layer: str | None = None) -> bool:
    """Whether a vector file that is no file of lines holds line features beside its
    polygons (SpaceNet 8's annotations: buildings and roads, 'highway', in one file)."""
    import pyogrio

    from geotile.evaluate import is_raster
    from geotile.input_paths import ogr_path
    from geotile.masks import line_parts
    from geotile.quiet_warnings import hidden

    if is_raster(path):
        return False
    try:  # the geometries alone, as stored: the scores that read the file say its problems
        with hidden(RuntimeWarning):
            frame = pyogrio.read_dataframe(ogr_path(path), layer=layer, columns=[])
    except Exception:
        return False
    return bool(len(frame)) and bool(line_parts(frame.geometry.values)[3].any())


def _polygons_left_out(frame, path) -> None:
    """One warning naming the features of ``path`` that are not lines (nor points, said by
    :func:`_lines_only`): polygons beside its lines, left out of the line scores."""
    import shapely

    from geotile.errors import GeotileWarning
    from geotile.masks import line_parts

    geometries = frame.geometry.values
    kinds = shapely.get_type_id(geometries)
    blank = (kinds < 0) | shapely.is_empty(geometries)
    other = ~line_parts(geometries)[3] & ~blank & ~np.isin(kinds, POINT_TYPES)
    if other.any():
        n = int(other.sum())
        warn(f"{path}: {counted_are(n, 'feature')} "
             f"{'a polygon' if n == 1 else 'polygons'}, not lines (buildings beside "
             f"roads), and {'is' if n == 1 else 'are'} left out of the line scores.",
             GeotileWarning)


def _lines_only(frame, path):
    """The line features (a GeometryCollection's lines alone); stray points beside them are
    left out with a warning."""
    import geopandas as gpd
    import shapely

    from geotile.errors import GeotileWarning
    from geotile.masks import line_parts

    linear, _, lines, only = line_parts(frame.geometry.values)
    kinds = shapely.get_type_id(frame.geometry.values)
    points = ~lines & np.isin(kinds, POINT_TYPES)
    if points.any():
        n = int(points.sum())
        warn(f"{path}: {counted_are(n, 'feature')} "
             f"{'a point, not a line' if n == 1 else 'points, not lines'}, and "
             f"{'is' if n == 1 else 'are'} left out of the line scores.",
             GeotileWarning)
    frame = frame[only].copy()
    frame[frame.geometry.name] = gpd.GeoSeries(linear[only], index=frame.index, crs=frame.crs)
    return frame


def read_lines(path, crs: str | None, layer: str | None):
    """The features of a vector file; a file without features is an empty frame."""
    from geotile.object_scores import read_vector_or_empty

    return read_vector_or_empty(path, crs, layer, polygons=False)


def evaluate_lines(prediction: str | os.PathLike, truth: str | os.PathLike, *,
                   buffer: float = 2.0, labels_crs: str | None = None,
                   prediction_crs: str | None = None,
                   labels_layer: str | None = None, apls: bool = False) -> LineScores:
    """:func:`line_scores` of two line files; the prediction is reprojected to the truth's
    CRS, both measured in ground metres (the truth's CRS where its unit is one, else their
    UTM zone: not in Web Mercator's units); polygons beside lines (SpaceNet 8's buildings
    beside its roads) are left out with a warning. ``apls``: their APLS too."""
    return score_line_frames(read_lines(prediction, prediction_crs, None),
                             read_lines(truth, labels_crs, labels_layer), prediction, truth, buffer,
                             prediction_crs=prediction_crs, labels_crs=labels_crs, apls=apls)


def score_line_frames(pred_frame, truth_frame, prediction, truth,
                      buffer: float = 2.0, *, prediction_crs: str | None = None,
                      labels_crs: str | None = None, apls: bool = False) -> LineScores:
    """:func:`evaluate_lines` of two frames read already (from files ``prediction`` and
    ``truth``, which messages name; ``prediction_crs``/``labels_crs``: the CRSs given for
    them, if any; ``apls``: their APLS too)."""
    from geotile.masks import line_parts

    for path, frame in ((prediction, pred_frame), (truth, truth_frame)):
        if len(frame) and not _all_lines(frame.geometry.values):
            if not line_parts(frame.geometry.values)[3].any():
                raise InputError(f"{path}: not every feature is a line; line scores compare "
                                 "two files of LineStrings (centrelines).")
            _polygons_left_out(frame, path)
    pred_frame, truth_frame = _lines_only(pred_frame, prediction), _lines_only(truth_frame,
                                                                               truth)
    from geotile.evaluation_crs import same_crs, warn_if_apart

    pred_frame, truth_frame = same_crs(pred_frame, truth_frame, prediction, truth,
                                        prediction_crs, labels_crs)
    if truth_frame.crs is None and apls:
        raise InputError(f"{prediction}, {truth}: the files declare no CRS, and APLS places "
                         "control points every 50 m and snaps them within 4 m, in metres: "
                         "give --labels-crs (and --prediction-crs) with the CRS they are in, "
                         "or leave --apls out.")
    if truth_frame.crs is None:
        from geotile.errors import GeotileWarning

        warn(f"{prediction}, {truth}: the files declare no CRS, so --buffer "
             f"{buffer:g} and the lengths are in their coordinates' units (pixels for "
             "lines vectorized from an image without georeference), not metres.",
             GeotileWarning)
    if apls:
        from geotile.apls import say_if_timed

        say_if_timed(((truth, truth_frame), (prediction, pred_frame)))
    pred_lines, true_lines = in_ground_metres(pred_frame.geometry, truth_frame.geometry)
    for path, lines, outcome in ((prediction, pred_lines, "recall 0"),
                                 (truth, true_lines, "precision 0")):
        if not len(_lines(lines)):  # no features, or empty ones (a tile without roads)
            log.info("%s holds no lines: %s", path, outcome)
    warn_if_apart(pred_lines, true_lines, prediction, truth,
                  "no predicted line lies on a true one", margin=buffer,
                  crs_options=(prediction_crs, labels_crs))
    return line_scores(pred_lines, true_lines, buffer, apls=apls)
