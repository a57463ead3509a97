"""`geotile evaluate`: object scores (SpaceNet metric) or pixel scores."""

from __future__ import annotations

import click

from geotile.cli.options import (
    INPUT_PATH,
    LOCAL_FILE,
    FloatRange,
    class_map_opt,
    evaluate_labels_crs_opt,
    given,
    json_opt,
    overwrite_opt,
)

#: options of object (or pixel) scores, which line scores do not take
NOT_FOR_LINES = ("iou", "threshold", "class_field", "conf_field", "repair_truth", "report",
                 "image", "min_area", "errors", "class_map", "road_class")
#: options of vector files, which pixel scores of two rasters do not take (--min-area,
#: --errors, --report and --layer have their own messages)
NOT_FOR_RASTERS = ("iou", "class_field", "conf_field", "repair_truth", "labels_crs",
                   "prediction_crs", "buffer", "road_class", "apls")
#: options of other inputs, which relaxed scores of two road rasters (--buffer) do not take
NOT_FOR_RELAXED = ("iou", "class_field", "conf_field", "repair_truth", "labels_crs",
                   "prediction_crs", "class_map", "min_area", "layer", "apls")
#: options of lines and probability rasters, which polygon scores do not take
NOT_FOR_POLYGONS = ("threshold", "buffer", "class_map", "road_class", "apls")
#: options of vector files, lines or rasters, which two SpaceNet CSVs do not take
NOT_FOR_CSVS = ("threshold", "buffer", "class_field", "conf_field", "repair_truth",
                "labels_crs", "prediction_crs", "class_map", "road_class", "apls")
#: options of other truth, which truth drawn in each image's pixels does not take
NOT_FOR_PIXEL_TRUTH = ("buffer", "layer", "labels_crs", "class_map", "report", "errors",
                       "road_class", "apls")
#: options of other inputs, which a COCO results file (PREDICTION) does not take
NOT_FOR_RESULTS = ("threshold", "buffer", "layer", "labels_crs", "prediction_crs",
                   "class_map", "report", "errors", "image", "class_field", "road_class",
                   "apls")
#: the inputs each option applies to
APPLIES = {"layer": "vector truth files","iou": "polygons and SpaceNet CSVs (object scores)",
           "min_score": "a COCO results file (PREDICTION)",
           "min_area": "polygons and SpaceNet CSVs (object scores)",
           "errors": "polygons and SpaceNet CSVs (object scores)",
           "report": "two polygon files (object scores)",
           "image": "two polygon files (object scores) and SpaceNet road CSVs",
           "class_field": "polygon files (object scores)",
           "conf_field": "polygon files (object scores)",
           "repair_truth": "polygon files (object scores)",
           "labels_crs": "vector files", "prediction_crs": "vector files",
           "threshold": "probability rasters (pixel scores)",
           "class_map": "truth rasters (pixel scores)",
           "buffer": "line files (length-weighted scores) and road rasters (relaxed scores)",
           "road_class": "road rasters scored with --buffer (relaxed scores)",
           "apls": "line files and SpaceNet road CSVs (road graphs)"}
#: each kind of inputs and how it is scored
WHY = {"lines": "lines, scored by their length within --buffer metres of each other",
       "rasters": "two rasters, which get pixel scores by class",
       "relaxed": "road rasters scored with --buffer (relaxed precision and recall of road "
                  "pixels)",
       "pixel truth": "truth drawn in each image's pixels (COCO, YOLO, Labelme, CVAT, Label "
                      "Studio, Labelbox, Supervisely, Datumaro, V7 Darwin, VIA, "
                      "DOTA)",
       "raster predictions": "prediction rasters, which get pixel scores by class",
       "polygons": "polygons, which match by their IoU (--iou)",
       "results": "a COCO results file, scored per category of the COCO truth",
       "class folders": "a folder of binary masks per class, scored class by class",
       "xview2": "the xView2 challenge's PNGs, scored as its xview2_metrics.py scores them",
       "csvs": "two SpaceNet CSVs, scored as SpaceNet scores them (pixel WKT, Confidence "
               "order, --iou, --min-area)"}


def _refuse_options(ctx, names, why: str) -> None:
    """A usage error naming the options of ``names`` given (not defaults) that the inputs
    do not take, where each applies (:data:`APPLIES`), and ``why`` (a key of :data:`WHY`)."""
    listed = [param for param in ctx.command.params if param.name in names
              and given(ctx, param.name)]
    if not listed:
        return
    groups: dict[str, list[str]] = {}
    for param in listed:
        groups.setdefault(APPLIES[param.name], []).append(param.opts[0])
    parts = [f"{', '.join(opts)} {'applies' if len(opts) == 1 else 'apply'} to {where}"
             for where, opts in groups.items()]
    raise click.UsageError(f"{'; '.join(parts)}, not to {WHY[why]}: leave "
                           f"{'it' if len(listed) == 1 else 'them'} out.")


def _check_outputs(kind, prediction, truth, report, image, errors, overwrite, *, layer=None,
                   labels_crs=None) -> None:
    """Usage errors of --errors, --report and --image for inputs of ``kind``
    (geotile.evaluate_inputs.input_kind); outputs that may not be written."""
    from geotile.error_layers import ERRORS_LAYER, ERRORS_SUFFIXES
    from geotile.evaluate import is_raster
    from geotile.input_sources import refuse_overwriting_inputs
    from geotile.output_files import check_output, check_writable
    from geotile.vector_output import check_vector_output

    many = kind in ("folders", "csvs")
    if errors is not None:
        if errors.suffix.lower() not in ERRORS_SUFFIXES:
            raise click.BadParameter(f"give a {', '.join(ERRORS_SUFFIXES)} file.",
                                     param_hint="--errors")
        if not many and prediction.exists() and is_raster(prediction):
            raise click.UsageError("--errors writes object matches; give vector files.")
        refuse_overwriting_inputs([errors], (prediction, truth, image))
        check_vector_output(errors, overwrite, ERRORS_LAYER)
        if kind == "files":
            from geotile.error_layers import check_errors_crs

            check_errors_crs(errors, [truth], layer, labels_crs)
        if kind == "csvs":  # pixel coordinates a .geojson cannot hold: before scoring
            from geotile.spacenet_scoring import check_errors_output

            check_errors_output(prediction, truth, errors)
    if report is not None:
        if report.suffix.lower() not in (".png", ".html", ".htm"):
            raise click.BadParameter("give a .png or .html file.", param_hint="--report")
        if many:
            raise click.UsageError("--report draws one image's matches; give two vector "
                                   "files (--errors FILE.gpkg shows many images in QGIS).")
        if prediction.exists() and is_raster(prediction):
            raise click.UsageError("--report draws object matches; give two vector files.")
        refuse_overwriting_inputs([report], (prediction, truth, image))
        check_output(report, overwrite)
        check_writable(report)
        if image is not None and truth.exists():
            from geotile.evaluation_crs import declared_crs
            from geotile.report import check_image_crs

            check_image_crs(image, truth, declared_crs(truth, layer, labels_crs))
    elif image is not None:
        raise click.UsageError("--image is drawn under --report; give --report too.")


def _line_options(command):
    return click.option(
        "--buffer", type=FloatRange(min=0, min_open=True), default=2.0,
        show_default=True, metavar="M", help="Lines: predicted and true centrelines match "
        "where they lie within M metres of each other. On each side, stretches within M/100 "
        "of each other (2 cm at 2 m: a road drawn twice, overlapping tiles' lines, copies "
        "reprojected) are measured once. Two road rasters (or folders): given, relaxed "
        "scores of road pixels within M ground metres (Euclidean, M included: rho = M / "
        "pixel size px); rasters without a CRS in pixels (--buffer 3: rho 3 px).")(
        click.option("--apls", is_flag=True, help="Lines and road CSVs: also APLS, "
                     "SpaceNet's road graph metric (control points every 50 m, snapped "
                     "within 4 m; in metres: refused in no CRS); folders: the mean over "
                     "images. Off by default: shortest paths between all control points, "
                     "O(n^2): 0.2-0.4 s a SpaceNet tile (400 m, 250-600 roads), 2-6 s "
                     "for 1.2 km, a minute for 6 km of 100 m blocks (said above 10,000 "
                     "control points).")(command))


@click.command("evaluate", short_help="Score predictions: object F1 or pixel IoU.")
@click.argument("prediction", type=INPUT_PATH)
@click.argument("truth", type=INPUT_PATH)
@click.option("--iou", type=FloatRange(0, 1, max_open=True), default=0.5,
              show_default=True,
              help="Vectors: a prediction matches a truth polygon when IoU > this.")
@click.option("--threshold", type=FloatRange(0, 1), default=None,
              help="Probability rasters: p >= threshold is the class (torchmetrics: p > "
              "threshold; default: the raster's GEOTILE_THRESHOLD tag, else 0.5).")
@click.option("--class-field", metavar="FIELD",
              help="Vectors: also score each class apart (FIELD in both files; a prediction "
              "without it by its 'class', geotile vectorize's names). Names match without "
              "case, separators or a plural ('building' is the truth's 'Buildings'). Features "
              "whose class says background ('background', 'No Data', as make-masks burns "
              "them 0) are left out. VIA truth: the region attribute naming the class, as in "
              "make-masks (with prediction rasters too).")
@click.option("--conf-field", default=None, metavar="FIELD",
              help="Vectors: predictions are matched in decreasing order of this field, as "
              "SpaceNet scores them. Default: conf, else score (geotile vectorize's), else "
              "Confidence, when the file has one; '' for file order. COCO results file: its "
              "key (default score).")
@click.option("--min-score", type=float, default=None, metavar="S",
              help="COCO results file (PREDICTION): leave out results scoring below S. "
              "Default: none, every result is a prediction (frameworks write detections "
              "down to 0.05 for COCO's AP: a warning says when many score below 0.5); give "
              "the score the model is used at, e.g. 0.5.")
@click.option("--layer", metavar="NAME",
              help="Vectors: layer of TRUTH to read when the file has several (GeoPackage...).")
@evaluate_labels_crs_opt
@click.option("--prediction-crs", metavar="CRS", default=None,
              help="CRS of PREDICTION's coordinates when the file declares none or a wrong one.")
@click.option("--repair-truth", is_flag=True,
              help="Vectors: repair invalid truth polygons with buffer(0) (SpaceNet scores "
              "them as unmatchable).")
@click.option("--report", **LOCAL_FILE, metavar="FILE.png|FILE.html",
              help="Vectors: draw TP (green), FP (red) and FN (yellow) polygons.")
@click.option("--image", type=INPUT_PATH,
              help="Image drawn under --report (else a blank background); with TRUTH in "
              "each image's pixels, the image a vector PREDICTION is drawn on; with a "
              "SpaceNet road CSV, its images (a folder, or one image or prediction "
              "raster), which place its ImageIds' pixel lines and measure them in metres.")
@click.option("--min-area", type=FloatRange(min=0), default=None, metavar="AREA",
              help="SpaceNet's minimum-area rule: leave out truth polygons smaller than AREA "
              "and predictions not larger. Two SpaceNet CSVs: AREA in px^2 (pixel WKT), "
              "default 20 as SpaceNet scores. Vector files and folders: AREA in ground m^2 "
              "(in the truth's UTM zone when its CRS is in degrees, feet or Web Mercator), "
              "px^2 against truth in an image's pixels (COCO, YOLO, Labelme...), default 0.")
@click.option("--errors", "errors", **LOCAL_FILE,
              metavar="FILE.gpkg|.geojson|.fgb",
              help="Vectors and SpaceNet CSVs: write the TP and FP (predicted) and FN (missed "
              "truth) polygons with fields image, kind (TP/FP/FN), iou (of the match), "
              "best_iou and confidence (with --class-field: each polygon's class, and "
              "true_class of the truth a TP matched), in the truth's CRS (.geojson: "
              "EPSG:4326, RFC 7946), for QGIS. SpaceNet CSVs: "
              "PolygonWKT_Geo (EPSG:4326) when both files have it, else pixel coordinates "
              "(y down, no CRS; said in a warning), which .geojson cannot hold. A .gpkg "
              "gets the layer \"errors\": --overwrite replaces that layer, other layers are "
              "kept.")
@class_map_opt(
    'Rasters: JSON file {"no data": 0, "background": 1, ...} naming the TRUTH\'s class ids '
    "0..254 (as make-masks --class-map names a label raster's), over names it carries, so "
    "that classes pair by name with the prediction's. A truth id named no data (\"no "
    'data", "ignore", "unknown"...) is left out, as 255. A list of ids is one class: '
    '{"other": [13, 14]} scores both as "other", in a prediction of the truth\'s ids too '
    '(FLAIR\'s ids 13..19 are so scored).')
@_line_options
@click.option("--class", "road_class", metavar="ID|NAME", default=None,
              help="Road rasters with --buffer: the road class of class rasters, by id or "
              "name (default: class 1 of binary masks, 0/1 or 0/255).")
@json_opt
@overwrite_opt
@click.pass_context
def evaluate(ctx, prediction, truth, iou, threshold, class_field, conf_field, min_score, layer,
             labels_crs, prediction_crs, repair_truth, report, image, as_json, overwrite,
             min_area, errors, buffer, class_map, road_class, apls):
    """Score PREDICTION against TRUTH: two vector files (polygons or lines), two
    rasters, two SpaceNet CSVs, or two folders of them.

    \b
    Two vector files: the SpaceNet building metric, as solaris scores it.
    Predictions, in decreasing --conf-field order, are matched one-to-one to
    the remaining truth polygon of highest IoU; IoU > --iou is a true
    positive (TP), else a false positive (FP); unmatched truth polygons are
    false negatives (FN). PREDICTION is reprojected to TRUTH's CRS.
    GeoJSON without a crs member is lon/lat (RFC 7946); with "crs": null
    (GeoJSON 2008: vectorize's of an image without georeference) it is in
    no CRS, as a GeoPackage without one, and so are two GeoJSONs without a
    crs member where one's coordinates cannot be lon/lat (y beyond 90: an
    image's pixels) and the other's lie on the same ground (a warning says
    so). Files in no CRS are scored in their coordinates' units (pixels:
    --min-area in px^2, --buffer in px).
    Equal confidences keep the file's order, as in SpaceNet's scorer (equal
    IoUs: the truth first in its file), so two tied predictions that want
    one truth may score differently in another order: sort the predictions
    (or give distinct scores) for results that do not depend on it.
    Two SpaceNet CSVs (ImageId, BuildingId, PolygonWKT_Pix/_Geo, Confidence):
    the same metric image by image in pixel coordinates, with SpaceNet's
    --min-area rule, per-image and total scores. A SpaceNet CSV against a
    vector file is read through its PolygonWKT_Geo column; a building cut by
    image edges is one piece per image there (a warning counts them): score
    a city's whole buildings from `vectorize tiles/ -o city.gpkg`.
    Two files of lines (centrelines, e.g. from `vectorize --lines`; a truth of
    roads beside buildings, SpaceNet 8's annotations, gives its lines): the
    buffer measures of road extraction (Wiedemann): length-weighted precision
    or correctness (predicted length within --buffer metres of the truth),
    recall or completeness (true length within --buffer of the prediction),
    F1, and quality TP/(TP+FP+FN) of the lengths (TP: predicted length within
    the buffer); many lines may match one; the options of polygon scores
    (--iou, --errors, --report, --class-field...) do not apply. --apls adds
    APLS (Van Etten et al. 2018; as CosmiQ's apls.py) by path length: SpaceNet
    3's metric, apls.py's APLS_length, not SpaceNet 5's travel-time APLS_time:
    each side a graph (nodes at line ends and shared vertices: lines crossing
    without one are a bridge; pieces whose paths are all under 5 m left
    out), control points at its nodes and every 50 m
    along edges; truth onto prediction: each truth
    point snaps to the nearest predicted edge within 4 m, each pair of truth
    points joined by a path of length L costs min(1, |L - L'|/L), L' the
    prediction's path between their snapped places, 1 where either did not
    snap or no path joins them; 1 - the mean cost; prediction onto truth
    the same swapped; APLS their harmonic mean. A truth without lines has
    none (null); per image, folders and road CSVs also their mean, a truth
    without a prediction scored 0 as an empty prediction is (SpaceNet 3's
    tester and apls.py leave it out).
    A SpaceNet road CSV (ImageId, WKT_Pix: SpaceNet 3, 5 and 8's, vectorize
    --lines -o x.csv's) on either side: its lines are placed on the images
    --image gives (a folder; ImageId: the image name without its product
    prefix) and scored so, in metres; two road CSVs image by image, totals
    summed (per_image as folders'); no --image is refused. Its roads stop at
    image edges: APLS against whole roads sees a break at each (a warning
    counts them); vectorize --lines to .gpkg to keep them whole.
    Two rasters on the same grid: per-class pixel IoU, precision, recall, F1
    and a confusion matrix (rows: truth, columns: prediction; one wider
    than 200 characters, as of 150 classes, is left to --json and its 10
    largest confusions listed), nodata left out (and a signed integer truth's
    negative values: Sen1Floods11's -1). Probability rasters are
    thresholded (one band) or argmaxed. A class truth's 255 is left out (its
    ignore value, as mmseg's and torchmetrics' ignore_index), a 0/255 mask's
    is class 1. Where
    both name their classes in another order, classes match by name (case,
    separators and a plural 's' aside); --class-map names an unnamed truth's
    ids (LoveDA, OpenEarthMap: 0 no data, a model's class k is id k+1).
    Two road rasters on the same grid with --buffer (Massachusetts Roads,
    DeepGlobe, SpaceNet road masks): the relaxed precision and recall of
    Mnih & Hinton (2010): a predicted road pixel is correct where a true
    road pixel lies within --buffer of it, a true one found where a
    predicted one does; F1 and quality TP/(TP+FP+FN) of those pixels.
    Within: Euclidean distance <= --buffer ground metres (a disk of rho =
    buffer / pixel size px, rho itself included; an ellipse of px on a
    lon/lat grid), or pixels for rasters without a CRS. Road: class 1 of
    binary masks (0/1, 0/255), or --class of class rasters; nodata and the
    truth's 255 are left out on both sides. Streamed by blocks.
    TRUTH a folder of class folders (Agriculture-Vision's labels/<class>/, as
    tile --masks reads it; boundaries/ and masks/ beside it leave their 0
    pixels out): each class scored on its own (classes may overlap), pooled
    over the PREDICTION folder's rasters: band k of independent probabilities
    (p >= --threshold) or of a multi-label mask, else a class raster's id k
    or a softmax's argmax; classes by name where the prediction names them,
    else in folder name order. No confusion matrix (--json: "multi-label").
    TRUTH a folder of the xView2 challenge's targets (ids 0..4 in
    test_localization_<id>_target.png and test_damage_<id>_target.png),
    PREDICTION of its _prediction.png (or xBD's targets/, <name>_pre_ and
    _post_disaster_target.png, against <name>_localization_ and
    _damage_disaster_prediction.png): the challenge's score as its
    xview2_metrics.py gives it: localization F1 of building pixels, damage
    F1 the harmonic mean of no/minor/major damage and destroyed's F1 on the
    true buildings' pixels (damage counted where a building is predicted),
    score 0.3 localization F1 + 0.7 damage F1; counts summed over images.
    Two folders: each file of PREDICTION is scored against the file of TRUTH
    with the same name (pred/<stem>.geojson vs truth/<stem>.geojson, or
    rasters; pred/<stem>_pred.tif... vs truth/<stem>.tif or <stem>_mask.tif
    where no truth has its exact name; else SpaceNet's image ids); files
    without a partner are left out with one warning. A folder of Parquet
    parts (Overture's release folder: part-* files, key=value subfolders) is
    one vector file. Scores
    per image and in total (summed TP, FP, FN or confusion matrix, as
    SpaceNet totals; lines: summed lengths): pixels
    pooled over images, as mmseg's IoUMetric, not a mean of per-image scores.
    TRUTH drawn in each image's pixels (a COCO instances file, a YOLO-seg
    labels folder, a Labelme file or folder, a CVAT XML, a Label Studio
    export, a Labelbox export (v2 NDJSON, v1 JSON), a Supervisely project or
    dataset, a Datumaro export or subset file, V7 Darwin JSON files, a VIA
    file (JSON, CSV export, VIA 3 project), DOTA's labelTxt folder or root:
    its difficult objects are regions to ignore, as DOTA's evaluation ignores
    them): each prediction
    against its own image's instances, the prediction raster (or a folder of
    them) taking the image's place and name (<stem>.tif, or
    <stem>_pred.tif...; the file's images listed under unpaired when none
    takes them); pixel scores as make-masks then evaluate
    give them (a Label Studio annotation without regions: all background).
    A vector prediction takes --image IMAGE (the image, or its prediction
    raster) to place them: object scores with each instance its own polygon
    (touching buildings apart); a prediction matching none that lies mostly
    in crowd (iscrowd) or __ignore__ regions is neither TP nor FP, as COCO
    scores crowd.
    An instance model's COCO results file as PREDICTION (detectron2's
    coco_instances_results.json, MMDetection's *.segm.json, Ultralytics'
    predictions.json: [{image_id, category_id, segmentation, score}]) against
    the COCO instances file it was made on: each result one polygon of its
    mask (compressed or uncompressed RLE, or polygons; overlapping masks each
    on its own, as COCO scores them), matched in its image (image_id: the
    truth's id, or the file stem, as Ultralytics writes it) by decreasing
    score (--conf-field); every image of TRUTH scored, one without results
    all FN; totals summed, per_class by the truth's categories when it has
    several; --min-area in px^2; crowd as above. Frameworks write every
    detection down to score 0.05 for COCO's AP: give --min-score (a warning
    says when many results score below 0.5 without it). Image ids or
    categories TRUTH lacks, box-only results and RLE sizes other than the
    image's are refused; other truth (YOLO, Labelme...) cannot name the
    results' image ids: refused.

    \b
    --json keys. Objects: mode ("object"), tp, fp, fn, precision, recall,
    f1, mean_iou (of the matches; 0: none), iou_threshold, predictions,
    truths and, with --class-field, per_class {class: {tp, fp, fn,
    precision, recall, f1, mean_iou, iou_threshold}}. Pixels: mode
    ("pixel"), classes [{class_id, class, iou, precision, recall, f1,
    support (truth pixels), predicted}],
    confusion_matrix, accuracy (pixels agreeing / pixels scored: mmseg's
    aAcc, torchmetrics' average="micro"), mean_iou (mean of the IoUs of the
    classes on either side, background included: mmseg's mIoU, torchmetrics'
    macro JaccardIndex), pixels; a score of 0/0 (a class, or an image's
    foreground, on neither side) is null; precision of a class never
    predicted, recall of one never true: 0 (mmseg: NaN).
    Several images (folders, CSVs, COCO results): the totals as above, plus
    images, min_area (objects), per_image {image: {tp, fp, fn, precision,
    recall, f1, ...}};
    CSVs also coordinates ("pixel" or "geo": the WKT scored); COCO results
    also min_score (null: none) and per_image truth (the image's file_name);
    folders also unpaired {prediction: [...], truth: [...]} and, for
    pixels, foreground (classes other than background pooled: tp, fp, fn, ...).
    Lines: mode ("line"), buffer_m, units ("m"; "coordinates" where neither
    file declares a CRS: --buffer and the *_m lengths are then in their
    coordinates' units, pixels for lines of an image without georeference),
    precision, recall, f1, quality, predicted_length_m, true_length_m,
    matched_predicted_length_m, matched_true_length_m, predictions, truths;
    with --apls: apls, apls_gt_onto_prop, apls_prop_onto_gt (null: no true
    lines); folders of lines also images, per_image and unpaired (--apls:
    apls the mean over apls_images, images with true lines, those of
    apls_unpredicted, truths without a prediction, scored 0).
    Road rasters (--buffer): mode ("relaxed"), buffer_m, units, rho_px
    (along columns), rho_px_rows, road_class, precision, recall, f1,
    quality, predicted_pixels, true_pixels, matched_predicted_pixels,
    matched_true_pixels, pixels (scored); folders also images, per_image,
    unpaired.
    xView2 folders: mode ("xview2"), score, localization_f1, damage_f1,
    localization {tp, fp, fn, precision, recall, f1}, damage {no-damage,
    minor-damage, major-damage, destroyed: the same}, images.

    \b
    Examples:
    $ geotile evaluate buildings.geojson footprints.geojson
    $ geotile evaluate classes.tif mask.tif --json
    $ geotile evaluate classes.tif loveda_mask.png --class-map loveda.json
    $ geotile evaluate buildings.geojson footprints.geojson --report check.png \\
          --image tile.tif
    $ geotile evaluate buildings/ footprints/ --errors errors.gpkg
    $ geotile evaluate proposals.csv truth.csv --json
    $ geotile evaluate centrelines.gpkg roads.geojson --buffer 2
    $ geotile evaluate centrelines.gpkg roads.geojson --apls
    $ geotile evaluate roads.csv truth_roads.csv --image PS-RGB/
    $ geotile evaluate road_pred.tif road_mask.tif --buffer 3
    $ geotile evaluate xview2_predictions/ xview2_targets/
    $ geotile evaluate predictions/ annotation.json --json
    $ geotile evaluate buildings.geojson annotation.json --image val/0001.jpg
    $ geotile evaluate coco_instances_results.json annotation.json --min-score 0.5
    $ geotile evaluate predictions/ annotations.xml --json
    $ geotile evaluate predictions/ via_region_data.json --class-field type
    """
    from geotile.annotation_truth import takes_class_field
    from geotile.coco_results import is_coco_results, refuse_as_truth
    from geotile.evaluate import dumps, is_raster
    from geotile.evaluate_inputs import are_line_folders, input_kind
    from geotile.evaluate_modes import evaluate_files
    from geotile.pixel_truth import is_pixel_truth
    from geotile.raster_kinds import check_threshold_applies
    from geotile.stac_labels import labels_file

    truth = labels_file(truth)  # a STAC label item: its labels asset
    if is_coco_results(prediction):  # an instance model's results: their images, by id
        _refuse_options(ctx, NOT_FOR_RESULTS, "results")
        result = evaluate_files(prediction, truth, iou=iou, conf_field=conf_field,
                                repair_truth=repair_truth, min_area=min_area,
                                min_score=min_score, kind="coco results")
        click.echo(dumps(result) if as_json else result.table())
        return
    refuse_as_truth(truth)
    if min_score is not None:
        raise click.UsageError("--min-score applies to a COCO results file as PREDICTION "
                               "(image_id, category_id, segmentation, score); leave it out.")
    if is_pixel_truth(truth):  # each prediction against its own image's instances
        _refuse_options(ctx, NOT_FOR_PIXEL_TRUTH, "pixel truth")
        if prediction.is_dir() or is_raster(prediction):
            named = takes_class_field(truth)  # VIA: the region attribute of the class
            _refuse_options(ctx, [n for n in NOT_FOR_RASTERS
                                  if n != "class_field" or not named], "raster predictions")
            if given(ctx, "threshold"):
                from geotile.pixel_truth import prediction_rasters

                check_threshold_applies(prediction_rasters(prediction) if
                                        prediction.is_dir() else [prediction])
        else:
            _refuse_options(ctx, NOT_FOR_POLYGONS, "polygons")
        result = evaluate_files(prediction, truth, iou=iou, threshold=threshold,
                                class_field=class_field, conf_field=conf_field,
                                prediction_crs=prediction_crs, repair_truth=repair_truth,
                                progress=bool(ctx.obj and ctx.obj.get("progress")),
                                min_area=min_area, kind="pixel truth", image=image)
        click.echo(dumps(result) if as_json else result.table())
        return
    from geotile.pixel_labels import refuse_for_evaluate

    refuse_for_evaluate(labels_crs, truth)  # before --errors and --report read its CRS
    buffered = given(ctx, "buffer")  # two files (or folders) of nothing: lines
    kind = input_kind(prediction, truth, layer, "lines" if buffered or apls else "files")
    if kind == "folders":
        from geotile.class_folders import class_folders
        from geotile.xview2_scores import evaluate_xview2, refuse_targets_first, xview2_targets

        refuse_targets_first(prediction, truth)
        if xview2_targets(truth, prediction) is not None:  # the challenge's *_target.png: its score
            _refuse_options(ctx, list(APPLIES), "xview2")
            result = evaluate_xview2(prediction, truth)
            click.echo(dumps(result) if as_json else result.table())
            return
        if (folders := class_folders([truth])) is not None:  # labels/<class>/<image>.png
            from geotile.class_folder_scores import evaluate_class_folders

            _refuse_options(ctx, [n for n in APPLIES if n != "threshold"], "class folders")
            result = evaluate_class_folders(prediction, folders, threshold)
            click.echo(dumps(result) if as_json else result.table())
            return
    if kind == "road csvs":  # --image: the images that place its pixel coordinates
        _refuse_options(ctx, [n for n in NOT_FOR_LINES if n != "image"], "lines")
    elif kind == "lines":
        _refuse_options(ctx, NOT_FOR_LINES, "lines")
    else:
        _check_outputs(kind, prediction, truth, report, image, errors, overwrite, layer=layer,
                       labels_crs=labels_crs)
    if kind == "csvs":
        _refuse_options(ctx, NOT_FOR_CSVS, "csvs")
    elif kind == "files" and prediction.exists() and truth.exists():
        rasters = is_raster(prediction), is_raster(truth)
        if all(rasters) and buffered:  # road masks: relaxed precision and recall
            kind = "relaxed"
            _refuse_options(ctx, NOT_FOR_RELAXED, "relaxed")
            if given(ctx, "threshold"):
                check_threshold_applies([prediction])
        elif all(rasters):
            _refuse_options(ctx, NOT_FOR_RASTERS, "rasters")
            if given(ctx, "threshold"):
                check_threshold_applies([prediction])
        elif not any(rasters):
            _refuse_options(ctx, NOT_FOR_POLYGONS, "polygons")
    pairs = None
    if kind == "folders":  # after the checks of --errors and --report: pairing warns
        from geotile.folder_pairs import pair_folders

        pairs = pair_folders(prediction, truth)
        if are_line_folders(pairs, layer, buffered or apls):
            kind = "line folders"
            _refuse_options(ctx, NOT_FOR_LINES, "lines")
        elif pairs.kind == "raster" and buffered:
            kind = "relaxed folders"
            _refuse_options(ctx, NOT_FOR_RELAXED, "relaxed")
            if given(ctx, "threshold"):
                check_threshold_applies([p for p, _ in pairs.pairs.values()])
        elif pairs.kind == "raster":
            kind = "object folders"
            _refuse_options(ctx, NOT_FOR_RASTERS, "rasters")
            if given(ctx, "threshold"):
                check_threshold_applies([p for p, _ in pairs.pairs.values()])
        else:
            kind = "object folders"
            _refuse_options(ctx, NOT_FOR_POLYGONS, "polygons")
        if errors is not None and pairs.kind == "raster":
            raise click.UsageError(f"{truth} holds rasters: --errors writes object matches "
                                   "(TP/FP/FN polygons) of vector files or SpaceNet CSVs.")
        if errors is not None:  # the paired files are inputs; the first truth's CRS
            from geotile.error_layers import check_errors_crs
            from geotile.input_sources import refuse_overwriting_inputs

            refuse_overwriting_inputs([errors], [f for pair in pairs.pairs.values()
                                                 for f in pair])
            check_errors_crs(errors, [t for _, t in pairs.pairs.values()], layer, labels_crs)
    if class_map is not None:
        from geotile.labels import read_class_map

        # a label raster's ids: 0 too; {"other": [13, 14]}: ids scored as one class
        class_map = read_class_map(class_map, zero=True, merges=True)
    result = evaluate_files(prediction, truth, iou=iou, threshold=threshold,
                            class_field=class_field, conf_field=conf_field,
                            labels_crs=labels_crs, labels_layer=layer,
                            prediction_crs=prediction_crs, repair_truth=repair_truth,
                            progress=bool(ctx.obj and ctx.obj.get("progress")),
                            min_area=min_area, buffer=buffer, pairs=pairs, kind=kind,
                            class_map=class_map, road_class=road_class,
                            image=image if kind == "road csvs" else None, apls=apls)
    # the scores first: a write that fails (a full disk) does not lose them
    click.echo(dumps(result) if as_json else result.table())
    if report is not None:
        from geotile.report import write_report

        write_report(result, report, image, overwrite=overwrite)
    if errors is not None:
        from geotile.error_layers import write_errors

        write_errors(result, errors, overwrite=overwrite)
