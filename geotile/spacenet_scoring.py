"""SpaceNet's scorer on its own CSV files: proposals against truth, image by image, as
solaris ``eval_iou_spacenet_csv`` does (see :func:`evaluate_csvs`)."""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field

import numpy as np

from geotile.errors import GeotileWarning, InputError
from geotile.plurals import counted
from geotile.spacenet import GEO_CRS, read_csv

log = logging.getLogger("geotile")


@dataclass
class CsvEvaluation:
    """SpaceNet scores of a proposal CSV against a truth CSV: per image and in total."""

    scores: object  # geotile.object_scores.ObjectScores, summed over images
    per_image: dict[str, object]
    min_area: float
    coordinates: str
    mode: str = "object"
    #: the two tables and, per image, the rows scored (proposals in scoring order, truth)
    tables: tuple | None = None
    rows: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    inputs: tuple = ()  # the two CSVs, which an errors file never replaces

    def outcome_frames(self, output=None) -> list:
        """Per image, TP/FP/FN polygons (geotile.error_layers.outcome_frame): map coordinates
        (PolygonWKT_Geo, EPSG:4326) when both files have them, else pixel ones (no CRS, one
        warning naming ``output`` and why; an InputError for a .geojson ``output``)."""
        from geotile.error_layers import outcome_frame

        pred, true = self.tables
        why = _no_geo(self.inputs, self.tables)
        geo = why is None
        if not geo and self.per_image:
            _refuse_pixel_geojson(output, why)
            warnings.warn(f"{output or 'the errors'}: in pixel coordinates (x right, y down "
                          f"from each image's top-left corner), without a CRS: {why}. For map "
                          "coordinates give both files PolygonWKT_Geo polygons (vectorize -o "
                          "x.csv writes them).", GeotileWarning, stacklevel=2)
        scored = (lambda t: t.pixel) if self.coordinates == "pixel" else (lambda t: t.geo)
        frames = []
        for image, scores in self.per_image.items():
            p_rows, t_rows = self.rows[image]
            shown = (pred.geo[p_rows], true.geo[t_rows]) if geo else None
            frames.append(outcome_frame(scored(pred)[p_rows], scored(true)[t_rows], scores,
                                        image=image, confidence=pred.confidence[p_rows],
                                        crs=GEO_CRS if geo else None, shown=shown))
        return frames

    def as_dict(self) -> dict:
        """As a folder's: the totals, predictions and truths scored (after --min-area),
        min_area, coordinates ("pixel" or "geo"), images and per_image."""
        counts = {i: {"predictions": len(self.rows[i][0]), "truths": len(self.rows[i][1])}
                  if i in self.rows else {} for i in self.per_image}
        return {"mode": "object", **self.scores.as_dict(),
                "predictions": sum(c.get("predictions", 0) for c in counts.values()),
                "truths": sum(c.get("truths", 0) for c in counts.values()),
                "min_area": self.min_area, "coordinates": self.coordinates,
                "images": len(self.per_image),
                "per_image": {i: {**{k: v for k, v in s.as_dict().items()
                                     if k != "iou_threshold"}, **counts[i]}
                              for i, s in self.per_image.items()}}

    def table(self) -> str:
        s = self.scores
        lines = [f"Objects (SpaceNet metric, IoU > {s.iou_threshold:g}, min area "
                 f"{self.min_area:g} px^2, {self.coordinates} coordinates): "
                 f"{counted(len(self.per_image), 'image')}",
                 f"  TP {s.tp}  FP {s.fp}  FN {s.fn}",
                 f"  precision {s.precision:.4f}  recall {s.recall:.4f}  F1 {s.f1:.4f}"]
        if len(self.per_image) > 1:
            from geotile.score_tables import image_table

            lines += image_table({i: c.as_dict() for i, c in self.per_image.items()})
        return "\n".join(lines)


def _no_geo(paths, tables) -> str | None:
    """Why the errors of two CSVs' tables are in pixel coordinates (each file without a
    PolygonWKT_Geo polygon on every building, and why), or None."""
    said = [t.geo_problem(os.path.basename(os.fspath(p))) for p, t in zip(paths, tables,
                                                                         strict=True)]
    return "; ".join(s for s in said if s) or None


def _refuse_pixel_geojson(output, why: str | None) -> None:
    """An InputError when ``output`` is a .geojson and ``why`` says the errors are in pixel
    coordinates (RFC 7946: EPSG:4326 only)."""
    if why and str(output).lower().endswith(".geojson"):
        raise InputError(f"{output}: {why}, so the errors are in pixel coordinates, which "
                         "GeoJSON (EPSG:4326) cannot hold. Give --errors a .gpkg or .fgb file, "
                         "or both files PolygonWKT_Geo polygons.")


def check_errors_output(prediction: str | os.PathLike, truth: str | os.PathLike,
                        output: str | os.PathLike) -> None:
    """Before scoring two CSVs: an InputError when their errors could not be written to
    ``output`` (a .geojson while they are in pixel coordinates)."""
    if str(output).lower().endswith(".geojson"):
        _refuse_pixel_geojson(output, _no_geo((prediction, truth),
                                              (read_csv(prediction), read_csv(truth))))


def evaluate_csvs(prediction: str | os.PathLike, truth: str | os.PathLike, *,
                  iou: float = 0.5, min_area: float = 20.0) -> CsvEvaluation:
    """Score a SpaceNet proposal CSV against a truth CSV image by image, as SpaceNet's scorer
    (solaris ``eval_iou_spacenet_csv``) does: pixel WKT (Geo when a file has no pixel WKT),
    truth polygons of area < ``min_area`` and proposals of area <= ``min_area`` left out,
    proposals in decreasing Confidence (file order among ties), one-to-one matches at
    IoU > ``iou``; totals are summed over every ImageId of either file."""
    import shapely

    from geotile.object_scores import ObjectScores, match_polygons

    pred, true = read_csv(prediction), read_csv(truth)
    for path, table in ((prediction, pred), (truth, true)):
        if table.roads:
            raise InputError(f"{path}: a SpaceNet road CSV (WKT_Pix lines, in each image's "
                             "pixels): its lines are scored in metres with --image FOLDER "
                             "(the images its ImageIds name).")
    if (pred.has_pixel or not len(pred)) and (true.has_pixel or not len(true)):
        coordinates, pred_shapes, true_shapes = "pixel", pred.pixel, true.pixel
    elif (pred.has_geo or not len(pred)) and (true.has_geo or not len(true)):
        coordinates, pred_shapes, true_shapes = "geo", pred.geo, true.geo
    else:
        raise InputError(f"{prediction} and {truth} share no coordinate column with a "
                         "polygon on every row (PolygonWKT_Pix or PolygonWKT_Geo).")
    if coordinates == "geo" and min_area > 0:
        log.warning("%s / %s: no pixel coordinates (PolygonWKT_Pix); the %g px^2 minimum-area "
                    "rule is not applied", prediction, truth, min_area)
        min_area = 0.0
    if len(pred) and len(true) and not set(pred.images) & set(true.images):
        raise InputError(f"{prediction} and {truth} share no ImageId (e.g. "
                         f"{sorted(pred.images)[0]!r} and {sorted(true.images)[0]!r}): every "
                         "score would be 0. Name the proposals' images as the truth does "
                         "(vectorize takes ImageId from the image name without its product "
                         "prefix).")
    total = ObjectScores(0, 0, 0, iou)
    per_image, kept = {}, {}
    for image in sorted(set(true.images) | set(pred.images)):
        t_rows = true.rows_of(image)
        if len(t_rows):  # zero-area truth can never match and is not a false negative either
            area = shapely.area(true_shapes[t_rows])
            t_rows = t_rows[(area >= min_area) & (area > 0)]
        rows = pred.rows_of(image)
        rows = rows[np.argsort(-np.nan_to_num(pred.confidence[rows], nan=-np.inf),
                               kind="stable")]
        rows = rows[shapely.area(pred_shapes[rows]) > min_area] if len(rows) else rows
        scores = match_polygons(list(pred_shapes[rows]), list(true_shapes[t_rows]), iou)
        per_image[image] = scores
        kept[image] = rows, t_rows
        total = ObjectScores(total.tp + scores.tp, total.fp + scores.fp, total.fn + scores.fn,
                             iou, total.matches + scores.matches)
    return CsvEvaluation(total, per_image, min_area, coordinates, tables=(pred, true),
                         rows=kept, inputs=(prediction, truth))
