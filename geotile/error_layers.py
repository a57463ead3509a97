"""The --errors layers of an object evaluation: its TP, FP and FN polygons with their IoUs
and confidences, as one frame in the truth's CRS, written as a GeoPackage layer, GeoJSON or
FlatGeobuf."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from geotile.errors import InputError
from geotile.evaluation_crs import declared_crs, reprojected
from geotile.folder_evaluation import ManyEvaluation
from geotile.label_set import geometry_array as _geometry_array
from geotile.object_scores import ObjectEvaluation, ObjectScores, repaired
from geotile.quiet_warnings import is_valid

if TYPE_CHECKING:
    import geopandas as gpd

log = logging.getLogger("geotile")


#: formats --errors writes (single files)
ERRORS_SUFFIXES = (".gpkg", ".geojson", ".fgb")


#: the layer --errors writes in a GeoPackage (other formats: the file's stem)
ERRORS_LAYER = "errors"


#: the fields of --errors that hold numbers; the others (image, kind, classes) hold text
NUMBER_FIELDS = ("iou", "best_iou", "confidence")


def _best_ious(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For each geometry of ``a``, its highest IoU with any geometry of ``b`` (0 if none)."""
    import shapely

    best = np.zeros(len(a))
    if not len(a) or not len(b):
        return best
    a, b = repaired(_geometry_array(a)), repaired(_geometry_array(b))
    ok_a = is_valid(a) & ~shapely.is_empty(a)
    ok_b = np.flatnonzero(is_valid(b) & ~shapely.is_empty(b))
    query = np.flatnonzero(ok_a)
    q, t = shapely.STRtree(b[ok_b]).query(a[query], predicate="intersects")
    ai, bi = query[q], ok_b[t]
    inter = shapely.area(shapely.intersection(a[ai], b[bi]))
    union = shapely.area(shapely.union(a[ai], b[bi]))
    np.maximum.at(best, ai, np.divide(inter, union, out=np.zeros_like(inter), where=union > 0))
    return best


def outcome_frame(predicted, truth, scores: ObjectScores, *, image: str = "",
                  confidence=None, crs=None, shown=None) -> gpd.GeoDataFrame:
    """TP and FP (the predicted polygons) and FN (the missed truth polygons) of one image:
    fields image, kind, iou (of the match; empty for FP and FN), best_iou (highest IoU with
    any polygon of the other side) and confidence. ``shown``: (predicted, truth) geometries
    to write instead of the scored ones (same order; e.g. map rather than pixel ones)."""
    import geopandas as gpd

    predicted, truth = _geometry_array(predicted), _geometry_array(truth)
    is_tp = np.zeros(len(predicted), dtype=bool)
    matched = np.zeros(len(truth), dtype=bool)
    match_iou = np.full(len(predicted), np.nan)
    for m in scores.matches:
        is_tp[m.pred], matched[m.truth], match_iou[m.pred] = True, True, m.iou
    missed = ~matched
    conf = np.full(len(predicted), np.nan) if confidence is None else \
        np.asarray(confidence, dtype=np.float64)
    draw_pred, draw_true = shown if shown is not None else (predicted, truth)
    geometry = list(_geometry_array(draw_pred)) + list(_geometry_array(draw_true)[missed])
    return gpd.GeoDataFrame({
        "image": [image] * len(geometry),
        "kind": np.where(is_tp, "TP", "FP").tolist() + ["FN"] * int(missed.sum()),
        "iou": np.concatenate([match_iou, np.full(int(missed.sum()), np.nan)]),
        "best_iou": np.concatenate([_best_ious(predicted, truth),
                                    _best_ious(truth[missed], predicted)]),
        "confidence": np.concatenate([conf, np.full(int(missed.sum()), np.nan)]),
    }, geometry=geometry, crs=crs)


def _evaluation_frame(evaluation: ObjectEvaluation, image: str = "") -> gpd.GeoDataFrame:
    pred = evaluation.prediction
    conf = None
    if evaluation.conf_field and evaluation.conf_field in pred.columns:
        conf = np.asarray(pred[evaluation.conf_field], dtype=np.float64)
    frame = outcome_frame(pred.geometry.values, evaluation.truth.geometry.values,
                          evaluation.scores, image=image, confidence=conf,
                          crs=evaluation.truth.crs)
    if evaluation.classes is not None:
        # each polygon's class (the prediction's, FN the truth's; under the field scored
        # unless an errors column has its name) and the truth's class a TP matched
        field, pred_class, true_class = evaluation.classes
        true_class = np.asarray(true_class, dtype=object)
        _, matched = evaluation.outcomes()
        field = field if field not in frame.columns and field != "true_class" else "class"
        frame.insert(2, field, [*pred_class, *true_class[~matched]])
        found = np.full(len(frame), None, dtype=object)
        for m in evaluation.scores.matches:
            found[m.pred] = true_class[m.truth]
        frame.insert(3, "true_class", found)
    return frame


def errors_frame(result, output=None) -> gpd.GeoDataFrame:
    """The TP / FP / FN polygons of an object evaluation (one pair of files, folders or
    SpaceNet CSVs) as one frame in the truth's CRS (the first truth file's, for folders;
    CSVs: EPSG:4326, else pixels with a warning naming ``output``)."""
    import geopandas as gpd
    import pandas as pd

    if getattr(result, "mode", None) != "object":
        raise InputError("--errors writes object matches (TP/FP/FN polygons): evaluate vector "
                         "files or SpaceNet CSVs, not rasters.")
    if isinstance(result, ObjectEvaluation):
        return _one_dimension(_evaluation_frame(result))
    if isinstance(result, ManyEvaluation):
        named = {name: _evaluation_frame(e, name) for name, e in result.per_image.items()}
        first, crs = next(((n, f.crs) for n, f in named.items() if f.crs is not None),
                          (None, None))
        bare = next((n for n, f in named.items() if f.crs is None and len(f)), None)
        if crs is not None and bare is not None:
            # its coordinates would be written as the others' CRS: no place on the earth
            from geotile.proj_grids import crs_name

            raise InputError(
                f"{result.files[bare][1]}: declares no CRS, while {result.files[first][1]} is "
                f"in {crs_name(crs)}, so its TP/FP/FN polygons cannot be placed among the "
                "others'. Give it its CRS (--labels-crs and --prediction-crs when every file "
                "is in one), or write its errors in a run of its own.")
        from geotile.crs_identity import one_crs

        frames = [f if f.crs is None else f.set_crs(crs, allow_override=True)
                  if one_crs(f.crs, crs, ellipsoid_only=True) else reprojected(f, crs, name, first)
                  for name, f in named.items()]
    else:  # SpaceNet CSVs
        frames = result.outcome_frames(output)
        crs = frames[0].crs if frames else None
    if not frames:
        return gpd.GeoDataFrame({"image": [], "kind": [], "iou": [], "best_iou": [],
                                 "confidence": []}, geometry=[], crs=crs)
    return _one_dimension(gpd.GeoDataFrame(pd.concat(frames, ignore_index=True),
                                           geometry="geometry", crs=crs))


def _one_dimension(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The frame with Z dropped where its polygons mix 2D and 3D (3D truth, 2D predictions:
    a layer FlatGeobuf refuses, and the scores are 2D)."""
    import shapely

    geometries = frame.geometry.values
    present = ~(shapely.is_missing(geometries) | shapely.is_empty(geometries))
    has_z = shapely.has_z(geometries)[present]
    if has_z.any() and not has_z.all():
        frame = frame.set_geometry(shapely.force_2d(geometries), crs=frame.crs)
    return frame


def evaluation_inputs(result) -> list:
    """The files an evaluation scored (its ``inputs``; folders: each pair's files)."""
    files = [f for pair in getattr(result, "files", {}).values() for f in pair]
    return [*getattr(result, "inputs", ()), *files]


def _local_geojson(output, crs) -> InputError:
    return InputError(f"{output}: the truth is in a local CRS ({crs.name}), tied to no place on "
                      "the earth, and GeoJSON holds longitude/latitude only. Give --errors a "
                      ".gpkg or .fgb file (they keep it).")


def check_errors_crs(output: Path, truths, layer: str | None = None,
                     labels_crs: str | None = None) -> None:
    """Before scoring: a .geojson ``output`` of truth in a local CRS (read from the header
    of the first of ``truths`` that declares one, as :func:`errors_frame` takes it) is an
    InputError (:func:`write_errors` says the same after scoring where headers said nothing)."""
    from geotile.ground_scale import local_unit

    if Path(output).suffix.lower() != ".geojson":
        return
    crs = next((c for t in truths if (c := declared_crs(t, layer, labels_crs)) is not None),
               None)
    if crs is not None and local_unit(crs) is not None:
        raise _local_geojson(output, crs)


def write_errors(result, output: str | os.PathLike, overwrite: bool = False) -> int:
    """Write ``errors_frame(result)`` to ``output`` (.gpkg layer "errors", its other layers
    kept; .geojson in EPSG:4326 as RFC 7946 says; .fgb) as vectorize writes its output
    (:func:`geotile.vector_output.write_vector`); returns the number of polygons written."""
    from geotile.input_sources import refuse_overwriting_inputs
    from geotile.vector_output import check_vector_output, text_columns, write_vector

    output = Path(output)
    if output.suffix.lower() not in ERRORS_SUFFIXES:
        raise InputError(f"{output}: --errors writes {', '.join(ERRORS_SUFFIXES)}; rename it.")
    writer = check_vector_output(output, overwrite, ERRORS_LAYER)
    refuse_overwriting_inputs([output], evaluation_inputs(result))
    frame = errors_frame(result, output)
    if output.suffix.lower() == ".geojson" and frame.crs is not None:
        from geotile.ground_scale import local_unit

        if local_unit(frame.crs) is not None:
            raise _local_geojson(output, frame.crs)
        frame = frame.to_crs("EPSG:4326")  # RFC 7946, as vectorize writes GeoJSON
    elif output.suffix.lower() == ".geojson" and len(frame):
        raise InputError(f"{output}: the truth has no CRS (pixel coordinates?), and GeoJSON "
                         "holds EPSG:4326 only. Give --errors a .gpkg or .fgb file, or give "
                         "the truth its CRS.")
    # pixel coordinates (CSVs): no CRS, said in errors_frame. Without polygons: text fields
    # (image, kind, classes) and a Polygon layer, as where there are polygons
    frame = text_columns(frame, [c for c in frame.columns if c != frame.geometry.name
                                 and c not in NUMBER_FIELDS])
    write_vector(frame, output, writer, overwrite, ERRORS_LAYER, geometry_type="Polygon")
    counts = frame["kind"].value_counts().to_dict() if len(frame) else {}
    log.info("%s: %d TP, %d FP, %d FN polygons", output, counts.get("TP", 0),
             counts.get("FP", 0), counts.get("FN", 0))
    return len(frame)
