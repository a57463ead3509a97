"""`geotile evaluate`: object scores (SpaceNet metric) or pixel scores."""

from __future__ import annotations

from pathlib import Path

import click

from geotile.cli.options import (
    INPUT_PATH,
    FloatRange,
    json_opt,
    labels_crs_opt,
    overwrite_opt,
    refuse_input_as_output,
)
from geotile.errors import InputError


def _is_spacenet(path) -> bool:
    from geotile.spacenet import is_spacenet_csv

    return is_spacenet_csv(path)


def _folders(prediction, truth) -> bool:
    """Two folders: True; a folder and a file: a one-line error."""
    dirs = [isinstance(p, Path) and p.is_dir() for p in (prediction, truth)]
    if dirs[0] != dirs[1]:
        folder, other = (prediction, truth) if dirs[0] else (truth, prediction)
        raise InputError(f"{folder} is a folder but {other} is not: give two folders (files "
                         "paired by name), two files or two SpaceNet CSVs.")
    return dirs[0]


def _check_one_layer(path, layer: str | None, role: str) -> None:
    """A one-line error naming the layers of a vector file holding several layers of polygons
    or lines when none is chosen (``layer``: --layer, which only TRUTH takes)."""
    from geotile.evaluate import is_raster
    from geotile.raster import input_exists

    if layer is not None or not input_exists(path) or Path(path).is_dir() or is_raster(path):
        return
    try:
        import pyogrio

        layers = [(str(name), str(kind)) for name, kind in pyogrio.list_layers(path)]
    except Exception:  # not a file GDAL lists layers of: read (and refused) later
        return
    shaped = [name for name, kind in layers
              if any(word in kind for word in ("Polygon", "LineString", "Surface", "Curve",
                                                 "Unknown", "Geometry"))]
    if len(shaped) < 2:
        return
    held = f"{path} holds {len(shaped)} layers of polygons or lines ({', '.join(shaped)})"
    if role == "truth":
        raise InputError(f"{held}: choose the layer of TRUTH with --layer NAME.")
    raise InputError(f"{held}; PREDICTION is read as one layer (--layer chooses TRUTH's): "
                     f"save the one to score in a file of its own, e.g. `ogr2ogr "
                     f"{Path(path).stem}_{shaped[0]}.gpkg {path} {shaped[0]}`.")


def _pair_kind(prediction, truth, layer) -> bool | None:
    """Whether two files hold lines (centrelines): True; False when neither does, None when
    both are empty; a one-line error when only one does."""
    from geotile.line_metrics import is_line_file

    lines = is_line_file(prediction), is_line_file(truth, layer)  # None: no features
    if lines == (None, None):
        return None
    if not any(lines):
        return False
    if False in lines:
        line, other = (prediction, truth) if lines[0] else (truth, prediction)
        raise InputError(f"{line} holds lines but {other} does not: compare centrelines "
                         "with centrelines (`geotile vectorize --lines` makes them).")
    return True


def _is_line_pair(prediction, truth, layer) -> bool:
    return bool(_pair_kind(prediction, truth, layer))


def _line_folders(pairs, layer) -> bool:
    """Whether the paired files of two folders hold lines (decided by the first pair that
    is not empty); a one-line error when some hold lines and others polygons."""
    if pairs.kind != "vector":
        return False
    kinds = {}
    for name, (pred, true) in pairs.pairs.items():
        _check_one_layer(pred, None, "prediction")
        _check_one_layer(true, layer, "truth")
        kinds[name] = _pair_kind(pred, true, layer)
        if kinds[name] is False and True not in kinds.values():
            return False  # polygons: their scores read (and check) every file
    lines = [n for n, k in kinds.items() if k is True]
    others = [n for n, k in kinds.items() if k is False]
    if lines and others:
        raise InputError(f"{pairs.pairs[lines[0]][1]} holds lines but "
                         f"{pairs.pairs[others[0]][1]} does not: give folders of centrelines "
                         "only, or of polygons only.")
    return bool(lines)


#: options of object (or pixel) scores, which line scores do not take
NOT_FOR_LINES = ("iou", "threshold", "class_field", "conf_field", "repair_truth", "report",
                 "image", "min_area", "errors")


def _refuse_options_of_polygons(ctx) -> None:
    """A usage error naming the options given that line scores do not take."""
    from click.core import ParameterSource

    given = [param.opts[0] for param in ctx.command.params if param.name in NOT_FOR_LINES
             and ctx.get_parameter_source(param.name) not in (
                 None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP)]
    if given:
        one = len(given) == 1
        raise click.UsageError(
            f"{', '.join(given)} {'applies' if one else 'apply'} to polygon (or pixel) scores; "
            "lines are scored by their length within --buffer metres of each other: leave "
            f"{'it' if one else 'them'} out.")


def _line_options(command):
    return click.option(
        "--buffer", type=FloatRange(min=0, min_open=True), default=2.0,
        show_default=True, metavar="M", help="Lines: predicted and true centrelines match "
        "where they lie within M metres of each other.")(command)


@click.command("evaluate", short_help="Score predictions: object F1 or pixel IoU.")
@click.argument("prediction", type=INPUT_PATH)
@click.argument("truth", type=INPUT_PATH)
@click.option("--iou", type=FloatRange(0, 1, max_open=True), default=0.5,
              show_default=True,
              help="Vectors: a prediction matches a truth polygon when IoU > this.")
@click.option("--threshold", type=FloatRange(0, 1), default=None,
              help="Probability rasters: p >= threshold is the class (default: the raster's "
              "GEOTILE_THRESHOLD tag, else 0.5).")
@click.option("--class-field", metavar="FIELD",
              help="Vectors: also score each class apart (FIELD in both files).")
@click.option("--conf-field", default=None, metavar="FIELD",
              help="Vectors: predictions are matched in decreasing order of this field, as "
              "SpaceNet scores them. Default: conf, else score (geotile vectorize's), else "
              "Confidence, when the file has one; '' for file order.")
@click.option("--layer", metavar="NAME",
              help="Vectors: layer of TRUTH to read when the file has several (GeoPackage...).")
@labels_crs_opt
@click.option("--prediction-crs", metavar="CRS", default=None,
              help="CRS of PREDICTION's coordinates when the file declares none or a wrong one.")
@click.option("--repair-truth", is_flag=True,
              help="Vectors: repair invalid truth polygons with buffer(0) (SpaceNet scores "
              "them as unmatchable).")
@click.option("--report", type=click.Path(path_type=Path), metavar="FILE.png|FILE.html",
              help="Vectors: draw TP (green), FP (red) and FN (yellow) polygons.")
@click.option("--image", type=INPUT_PATH,
              help="Image drawn under --report (else a blank background).")
@click.option("--min-area", type=FloatRange(min=0), default=None, metavar="AREA",
              help="SpaceNet's minimum-area rule: leave out truth polygons smaller than AREA "
              "and predictions not larger. Two SpaceNet CSVs: AREA in px^2 (pixel WKT), "
              "default 20 as SpaceNet scores. Vector files and folders: AREA in m^2 "
              "(measured in the truth's CRS, in its UTM zone when geographic), default 0.")
@click.option("--errors", "errors", type=click.Path(path_type=Path),
              metavar="FILE.gpkg|.geojson|.fgb",
              help="Vectors and SpaceNet CSVs: write the TP and FP (predicted) and FN (missed "
              "truth) polygons with fields image, kind (TP/FP/FN), iou (of the match), "
              "best_iou and confidence, in the truth's CRS, for QGIS.")
@_line_options
@json_opt
@overwrite_opt
@click.pass_context
def evaluate(ctx, prediction, truth, iou, threshold, class_field, conf_field, layer, labels_crs,
             prediction_crs, repair_truth, report, image, as_json, overwrite, min_area, errors,
             buffer):
    """Score PREDICTION against TRUTH: two vector files (polygons or lines), two
    rasters, two SpaceNet CSVs, or two folders of them.

    \b
    Two vector files: the SpaceNet building metric, as solaris scores it.
    Predictions, in decreasing --conf-field order, are matched one-to-one to
    the remaining truth polygon of highest IoU; IoU > --iou is a true
    positive (TP), else a false positive (FP); unmatched truth polygons are
    false negatives (FN). PREDICTION is reprojected to TRUTH's CRS.
    Two SpaceNet CSVs (ImageId, BuildingId, PolygonWKT_Pix/_Geo, Confidence):
    the same metric image by image in pixel coordinates, with SpaceNet's
    --min-area rule, per-image and total scores. A SpaceNet CSV against a
    vector file is read through its PolygonWKT_Geo column.
    Two files of lines (centrelines, e.g. from `vectorize --lines`): length-
    weighted precision (predicted length within --buffer metres of the truth),
    recall (true length within --buffer of the prediction) and F1; the options
    of polygon scores (--iou, --errors, --report, --class-field...) do not apply.
    Two rasters on the same grid: per-class pixel IoU, precision, recall, F1
    and a confusion matrix (rows: truth, columns: prediction), nodata left
    out. Probability rasters are thresholded (one band) or argmaxed. Where
    both name their classes in another order, classes match by name.
    Two folders: each file of PREDICTION is scored against the file of TRUTH
    with the same name (pred/<stem>.geojson vs truth/<stem>.geojson, or
    rasters; else SpaceNet's image ids); files without a partner are left
    out with one warning. Scores per image and in total (summed TP, FP, FN
    or confusion matrix, as SpaceNet totals; lines: summed lengths).

    \b
    --json keys. Objects: mode ("object"), tp, fp, fn, precision, recall,
    f1, mean_iou (of the matches), iou_threshold, predictions, truths and,
    with --class-field, per_class {class: {tp, fp, fn, precision, recall,
    f1, mean_iou, iou_threshold}}. Pixels: mode ("pixel"), classes [{class_id,
    class, iou, precision, recall, f1, support (truth pixels), predicted}],
    confusion_matrix, accuracy, mean_iou (over classes present), pixels.
    Several images (folders, CSVs): the totals as above, plus images,
    min_area, per_image {image: {tp, fp, fn, precision, recall, f1, ...}};
    folders also unpaired {prediction: [...], truth: [...]} and, for
    pixels, foreground (classes other than 0 pooled: tp, fp, fn, ...).
    Lines: mode ("line"), buffer_m, precision, recall, f1, predicted_length_m,
    true_length_m, matched_predicted_length_m, matched_true_length_m,
    predictions, truths; folders of lines also images, per_image and unpaired.

    \b
    Examples:
    $ geotile evaluate buildings.geojson footprints.geojson
    $ geotile evaluate classes.tif mask.tif --json
    $ geotile evaluate buildings.geojson footprints.geojson --report check.png --image tile.tif
    $ geotile evaluate predictions/ truth/ --errors errors.gpkg
    $ geotile evaluate proposals.csv truth.csv --json
    $ geotile evaluate centrelines.gpkg roads.geojson --buffer 2
    """
    from geotile.evaluate import ERRORS_SUFFIXES, dumps, evaluate_files, is_raster
    from geotile.raster import check_output

    folders = _folders(prediction, truth)
    csvs = not folders and _is_spacenet(prediction) and _is_spacenet(truth)
    if not folders and not csvs:
        _check_one_layer(prediction, None, "prediction")
        _check_one_layer(truth, layer, "truth")
    if not folders and not csvs and _is_line_pair(prediction, truth, layer):
        from geotile.line_metrics import evaluate_lines

        _refuse_options_of_polygons(ctx)
        result = evaluate_lines(prediction, truth, buffer=buffer, labels_crs=labels_crs,
                                prediction_crs=prediction_crs, labels_layer=layer)
        click.echo(result.dumps() if as_json else result.table())
        return
    if errors is not None:
        if errors.suffix.lower() not in ERRORS_SUFFIXES:
            raise click.BadParameter(f"give a {', '.join(ERRORS_SUFFIXES)} file.",
                                     param_hint="--errors")
        if not folders and not csvs and prediction.exists() and is_raster(prediction):
            raise click.UsageError("--errors writes object matches; give vector files.")
        refuse_input_as_output(errors, (prediction, truth, image), "--errors")
        check_output(errors, overwrite)
    if report is not None:
        if report.suffix.lower() not in (".png", ".html", ".htm"):
            raise click.BadParameter("give a .png or .html file.", param_hint="--report")
        if folders or csvs:
            raise click.UsageError("--report draws one image's matches; give two vector "
                                   "files (--errors FILE.gpkg shows many images in QGIS).")
        if prediction.exists() and is_raster(prediction):
            raise click.UsageError("--report draws object matches; give two vector files.")
        refuse_input_as_output(report, (prediction, truth, image), "--report")
        check_output(report, overwrite)
    elif image is not None:
        raise click.UsageError("--image is drawn under --report; give --report too.")
    progress = bool(ctx.obj and ctx.obj.get("progress"))
    if folders:  # after the checks of --errors and --report: pairing warns
        from geotile.evaluate import pair_folders

        pairs = pair_folders(prediction, truth)
        if _line_folders(pairs, layer):
            from geotile.line_folders import evaluate_line_folders

            _refuse_options_of_polygons(ctx)
            result = evaluate_line_folders(pairs, buffer=buffer, labels_crs=labels_crs,
                                           prediction_crs=prediction_crs, labels_layer=layer,
                                           progress=progress)
            click.echo(result.dumps() if as_json else result.table())
            return
    if csvs:
        from geotile.spacenet_scoring import evaluate_csvs

        result = evaluate_csvs(prediction, truth, iou=iou,
                               min_area=20.0 if min_area is None else min_area)
    elif folders:
        from geotile.evaluate import evaluate_folders

        if errors is not None and pairs.kind == "raster":
            raise InputError(f"{truth} holds rasters: --errors writes object matches (TP/FP/FN "
                             "polygons) of vector files or SpaceNet CSVs.")
        result = evaluate_folders(prediction, truth, iou=iou, threshold=threshold,
                                  class_field=class_field, conf_field=conf_field,
                                  labels_crs=labels_crs, labels_layer=layer,
                                  prediction_crs=prediction_crs, repair_truth=repair_truth,
                                  min_area=min_area or 0.0, progress=progress, pairs=pairs)
    else:
        result = evaluate_files(prediction, truth, iou=iou, threshold=threshold,
                                class_field=class_field, conf_field=conf_field,
                                labels_crs=labels_crs, labels_layer=layer,
                                prediction_crs=prediction_crs,
                                repair_truth=repair_truth, progress=progress,
                                min_area=min_area or 0.0)
    if report is not None:
        from geotile.report import write_report

        write_report(result, report, image, overwrite=overwrite)
    if errors is not None:
        from geotile.evaluate import write_errors

        write_errors(result, errors, overwrite=overwrite)
    click.echo(dumps(result) if as_json else result.table())
