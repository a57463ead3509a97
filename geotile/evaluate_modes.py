"""``geotile evaluate`` from Python: which scorer two inputs get (:func:`evaluate_files`):
polygons (:mod:`geotile.object_scores`) or rasters (:mod:`geotile.evaluate`), lines
(:mod:`geotile.line_metrics`), SpaceNet CSVs (:mod:`geotile.spacenet_scoring`), or folders
of these."""

from __future__ import annotations

import os
from pathlib import Path

from geotile.errors import InputError, UsageError, check_range
from geotile.evaluate import (
    evaluate_rasters,
    is_raster,
)
from geotile.folder_evaluation import evaluate_folders
from geotile.folder_pairs import FilePairs, pair_folders
from geotile.gdal_settings import with_read_settings
from geotile.object_scores import evaluate_vectors


@with_read_settings
def evaluate_files(prediction: str | os.PathLike, truth: str | os.PathLike, *,
                   iou: float = 0.5, threshold: float | None = None,
                   class_field: str | None = None, conf_field: str | None = None,
                   labels_crs: str | None = None, prediction_crs: str | None = None,
                   repair_truth: bool = False,
                   progress: bool = False,
                   labels_layer: str | None = None,
                   min_area: float | None = None, buffer: float = 2.0,
                   pairs: FilePairs | None = None, kind: str | None = None,
                   class_map: dict[str, int] | None = None,
                   image: str | os.PathLike | None = None,
                   min_score: float | None = None,
                   road_class: str | int | None = None, apls: bool = False):
    """Score ``prediction`` against ``truth`` as ``geotile evaluate`` does: two vector
    files of polygons (:func:`geotile.object_scores.evaluate_vectors`) or of lines
    (:func:`geotile.evaluate_lines`, within ``buffer`` metres), two rasters
    (:func:`geotile.evaluate.evaluate_rasters`), two SpaceNet CSVs
    (:func:`geotile.spacenet_scoring.evaluate_csvs`), or two folders of these, paired by
    name (``pairs``: :func:`geotile.folder_pairs.pair_folders`'s, when already made).
    ``min_area``: None is SpaceNet's 20 px^2 for two CSVs, else 0. ``kind``: what the inputs
    are, when already known (:func:`geotile.evaluate_inputs.input_kind`'s answer, or "line
    folders" for folders of lines: :func:`~geotile.evaluate_inputs.are_line_folders`, "object
    folders" for folders of polygons or rasters). ``class_map`` ({name: id}) names the
    truth rasters' ids (:func:`geotile.evaluate.evaluate_rasters`). TRUTH may be drawn in
    each image's pixels (COCO, YOLO, Labelme: :mod:`geotile.pixel_truth`; ``kind`` "pixel
    truth"), ``image`` the image a vector prediction is drawn on. A SpaceNet road CSV
    (either side) takes ``image``: its images, or a folder of them
    (:func:`geotile.spacenet_scoring.evaluate_road_csvs`). PREDICTION may be an
    instance model's COCO results file against a COCO instances file
    (:mod:`geotile.coco_results`; ``kind`` "coco results"), its results scoring below
    ``min_score`` left out. Two road rasters (``kind`` "relaxed") or folders of them
    ("relaxed folders") get the relaxed precision and recall of their road pixels within
    ``buffer`` (:func:`geotile.relaxed_scores.evaluate_relaxed`; ``road_class``: the road
    class of class rasters). A TRUTH folder of one folder of binary masks per class
    (``labels/<class>/<image>.png``) scores each class on its own
    (:func:`geotile.class_folder_scores.evaluate_class_folders`); one of the xView2 challenge's
target PNGs gets its score (:func:`geotile.xview2_scores.evaluate_xview2`). ``apls``: lines (files,
    folders, road CSVs) also get APLS (:mod:`geotile.apls`)."""
    from geotile.evaluate_inputs import are_line_folders, input_kind

    check_range("--iou", iou, 0, 1, high_open=True)
    check_range("--threshold", threshold, 0, 1)
    check_range("--min-area", min_area, 0)
    check_range("--buffer", buffer, 0, low_open=True)
    from geotile.label_set import parse_crs
    from geotile.pixel_labels import refuse_for_evaluate

    refuse_for_evaluate(labels_crs, truth)
    for option, value in (("--labels-crs", labels_crs), ("--prediction-crs", prediction_crs)):
        if value is not None:  # named as given, before any file is read
            parse_crs(value, option)
    if kind is None and pairs is None:
        from geotile.coco_results import is_coco_results
        from geotile.pixel_truth import is_pixel_truth

        kind = ("coco results" if is_coco_results(prediction) else
                "pixel truth" if is_pixel_truth(truth) else None)
    if apls and kind in ("coco results", "pixel truth"):
        _refuse_apls(truth)
    if kind == "coco results":
        others = {"--image": image, "--layer": labels_layer, "--labels-crs": labels_crs,
                  "--prediction-crs": prediction_crs, "--class-map": class_map,
                  "--threshold": threshold, "--class-field": class_field}
        return _coco_results(prediction, truth, others, iou=iou, min_score=min_score,
                             conf_field=conf_field, min_area=min_area or 0.0,
                             repair_truth=repair_truth)
    if kind is None and pairs is None:  # a model's results given second
        from geotile.coco_results import refuse_as_truth

        refuse_as_truth(truth)
    if min_score is not None:
        raise UsageError(f"{prediction}: --min-score keeps the results of a COCO results file "
                         "(an instance model's image_id, segmentation, score list) by score; "
                         "leave it out.")
    if kind == "pixel truth":
        return _against_pixel_truth(prediction, truth, image=image, labels_layer=labels_layer,
                                    labels_crs=labels_crs, class_map=class_map, iou=iou,
                                    threshold=threshold, class_field=class_field,
                                    conf_field=conf_field, prediction_crs=prediction_crs,
                                    repair_truth=repair_truth, min_area=min_area or 0.0,
                                    progress=progress)
    if kind is None:
        kind = "folders" if pairs is not None else input_kind(prediction, truth, labels_layer)
    if kind == "folders" and pairs is None:  # labels/<class>/<image>.png, as the CLI's
        from geotile.class_folders import class_folders
        from geotile.xview2_scores import evaluate_xview2, refuse_targets_first, xview2_targets

        refuse_targets_first(prediction, truth)
        if xview2_targets(truth, prediction) is not None:  # the xView2 challenge's target PNGs
            return evaluate_xview2(prediction, truth)

        if (folders := class_folders([Path(truth)])) is not None:
            from geotile.class_folder_scores import evaluate_class_folders

            return evaluate_class_folders(prediction, folders, threshold)
    if kind == "folders":
        pairs = pairs or pair_folders(prediction, truth)
        if are_line_folders(pairs, labels_layer):
            kind = "line folders"
    elif kind == "object folders":  # folders known to hold polygons or rasters
        kind, pairs = "folders", pairs or pair_folders(prediction, truth)
    if apls and kind not in ("lines", "line folders", "road csvs"):
        _refuse_apls(truth)
    if road_class is not None and kind not in ("relaxed", "relaxed folders"):
        raise UsageError(f"{truth}: --class picks the road class of two road rasters scored "
                         "with --buffer (relaxed scores); leave it out.")
    if kind in ("relaxed", "relaxed folders"):
        for option, value in (("--layer", labels_layer), ("--labels-crs", labels_crs),
                              ("--prediction-crs", prediction_crs), ("--class-map", class_map),
                              ("--min-area", min_area)):
            if value:
                raise UsageError(f"{truth}: {option} does not apply to road rasters scored "
                                 "with --buffer (relaxed scores); leave it out.")
        from geotile.relaxed_scores import evaluate_relaxed, evaluate_relaxed_folders

        relaxed = {"buffer": buffer, "road_class": road_class, "threshold": threshold,
                   "progress": progress}
        if kind == "relaxed folders":
            return evaluate_relaxed_folders(pairs or pair_folders(prediction, truth),
                                            **relaxed)
        return evaluate_relaxed(prediction, truth, **relaxed)
    if class_map and kind in ("csvs", "road csvs", "lines", "line folders"):
        raise InputError(f"{truth}: --class-map names the ids of truth rasters; give "
                         "rasters.")
    if kind == "csvs":
        from geotile.spacenet_scoring import evaluate_csvs

        return evaluate_csvs(prediction, truth, iou=iou,
                             min_area=20.0 if min_area is None else min_area)
    lines = {"buffer": buffer, "labels_crs": labels_crs, "prediction_crs": prediction_crs,
             "labels_layer": labels_layer, "apls": apls}
    if kind == "road csvs":
        from geotile.spacenet_scoring import evaluate_road_csvs

        return evaluate_road_csvs(prediction, truth, images=image, **lines)
    if kind == "lines":
        from geotile.line_metrics import evaluate_lines

        return evaluate_lines(prediction, truth, **lines)
    common = {"iou": iou, "threshold": threshold, "class_field": class_field,
              "conf_field": conf_field, "labels_crs": labels_crs,
              "prediction_crs": prediction_crs, "repair_truth": repair_truth,
              "labels_layer": labels_layer, "min_area": min_area or 0.0, "progress": progress}
    if kind == "line folders":
        from geotile.line_folders import evaluate_line_folders

        return evaluate_line_folders(pairs or pair_folders(prediction, truth),
                                     progress=progress, **lines)
    if kind == "folders":
        return evaluate_folders(prediction, truth, pairs=pairs, class_map=class_map, **common)
    return _evaluate_pair(prediction, truth, class_map=class_map, **common)


def _refuse_apls(truth) -> None:
    raise UsageError(f"{truth}: --apls scores road graphs of two files (or folders) of "
                     "lines or SpaceNet road CSVs; leave it out.")


def _evaluate_pair(prediction, truth, *, iou, threshold, class_field, conf_field, labels_crs,
                   prediction_crs, repair_truth, progress, labels_layer, min_area,
                   class_map=None):
    """Object scores for two vector files, pixel scores for two rasters."""
    from geotile.input_paths import input_exists

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
            raise UsageError(f"{truth} is a raster: --layer names a layer of vector truth.")
        if min_area > 0:
            raise UsageError(f"{truth} is a raster: --min-area leaves out small polygons; "
                             "it applies to vector files and SpaceNet CSVs.")
        return evaluate_rasters(prediction, truth, threshold=threshold, progress=progress,
                                class_map=class_map)
    if class_map:
        raise UsageError(f"{truth} is vector data: --class-map names the ids of a truth "
                         "raster; score classes of vector files with --class-field.")
    return evaluate_vectors(prediction, truth, iou=iou, class_field=class_field,
                            conf_field=conf_field, labels_crs=labels_crs,
                            prediction_crs=prediction_crs, repair_truth=repair_truth,
                            labels_layer=labels_layer, min_area=min_area)


def _coco_results(prediction, truth, others: dict, *, iou, min_score, conf_field, min_area,
                  repair_truth):
    """:func:`geotile.coco_results.evaluate_coco_results`; UsageError for the options of
    other inputs."""
    from geotile.coco_results import evaluate_coco_results

    for option, value in others.items():
        if value is not None:
            raise UsageError(f"{prediction} is a COCO results file, scored in its images' "
                             f"pixels per category: {option} applies to other inputs; leave "
                             "it out.")
    return evaluate_coco_results(prediction, truth, iou=iou, min_score=min_score,
                                 conf_field=conf_field, min_area=min_area,
                                 repair_truth=repair_truth)


def _against_pixel_truth(prediction, truth, *, image, labels_layer, labels_crs, class_map,
                         **scoring):
    """:func:`geotile.pixel_truth.evaluate_pixel_truth`; UsageError for the options of
    other truth."""
    from geotile.pixel_truth import evaluate_pixel_truth

    for option, value in (("--layer", labels_layer), ("--labels-crs", labels_crs),
                          ("--class-map", class_map)):
        if value:
            raise UsageError(f"{truth} is drawn in each image's pixels and classed by its own "
                             f"names: {option} applies to other truth; leave it out.")
    return evaluate_pixel_truth(prediction, truth, image=image, **scoring)
