"""`geotile evaluate`: object scores (SpaceNet metric) or pixel scores."""

from __future__ import annotations

from pathlib import Path

import click

from geotile.cli.options import json_opt, labels_crs_opt, overwrite_opt


@click.command("evaluate", short_help="Score predictions: object F1 or pixel IoU.")
@click.argument("prediction", type=click.Path(path_type=Path))
@click.argument("truth", type=click.Path(path_type=Path))
@click.option("--iou", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Vectors: a prediction matches a truth polygon when IoU > this.")
@click.option("--threshold", type=click.FloatRange(0, 1), default=None,
              help="Probability rasters: p >= threshold is the class (default: the raster's "
              "own, else 0.5).")
@click.option("--class-field", metavar="FIELD", help="Vectors: also score each class apart.")
@click.option("--conf-field", default="conf", show_default=True, metavar="FIELD",
              help="Vectors: predictions are matched in decreasing order of this field "
              "(when present), as SpaceNet scores them.")
@labels_crs_opt
@click.option("--report", type=click.Path(path_type=Path),
              help="Vectors: write a PNG of TP (green), FP (red) and FN (yellow) outlines.")
@click.option("--image", type=click.Path(path_type=Path), help="Image drawn under --report.")
@json_opt
@overwrite_opt
def evaluate(prediction, truth, iou, threshold, class_field, conf_field, labels_crs, report,
             image, as_json, overwrite):
    """Score PREDICTION against TRUTH.

    \b
    Two vector files: the SpaceNet building metric. Predictions (in decreasing
    --conf-field order) are matched one-to-one to the truth polygon of highest
    IoU; IoU > --iou is a true positive. Reports TP, FP, FN, precision, recall
    and F1; the files are reprojected to TRUTH's CRS when they differ.
    Two rasters on the same grid: per-class pixel IoU, precision, recall, F1
    and a confusion matrix (rows: truth, columns: prediction); nodata excluded.

    \b
    --json keys: object mode: mode, tp, fp, fn, precision, recall, f1,
    iou_threshold[, per_class]; pixel mode: mode, classes (class_id, class, iou,
    precision, recall, f1, support), confusion_matrix, accuracy, pixels.

    \b
    Examples:
    $ geotile evaluate buildings.geojson footprints.geojson
    $ geotile evaluate classes.tif mask.tif --json
    $ geotile evaluate buildings.geojson footprints.geojson --report check.png --image tile.tif
    """
    from geotile.evaluate import dumps, evaluate_files, format_table
    from geotile.raster import check_output

    if report is not None:
        check_output(report, overwrite)
    result = evaluate_files(prediction, truth, iou=iou, threshold=threshold,
                            class_field=class_field, conf_field=conf_field,
                            labels_crs=labels_crs)
    if report is not None:
        if result["mode"] != "object":
            raise click.UsageError("--report draws vector matches; give two vector files.")
        from geotile.report import write_report

        write_report(result, report, image, overwrite=overwrite)
    click.echo(dumps(result) if as_json else format_table(result))
