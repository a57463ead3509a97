"""evaluate against truth in each image's pixels: how predictions pair with the COCO, YOLO
or Labelme images (ambiguous stems, images left without a prediction, a vector prediction
named after another image), options that do not apply."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio

from tests.conftest import assert_one_line_error

H, W = 40, 50
SQUARE = [10, 10, 30, 10, 30, 30, 10, 30]


def _coco(path, names, annotated=(1,)):
    document = {
        "images": [{"id": i + 1, "file_name": n, "width": W, "height": H}
                   for i, n in enumerate(names)],
        "annotations": [{"id": k + 1, "image_id": i, "category_id": 1, "iscrowd": 0,
                         "segmentation": [SQUARE]} for k, i in enumerate(annotated)],
        "categories": [{"id": 1, "name": "building"}],
    }
    path.write_text(json.dumps(document))
    return path


def _classes(path, value=1):
    """A plain class raster: the square (400 px) of ``value``."""
    array = np.zeros((H, W), np.uint8)
    array[10:30, 10:30] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="GTiff", width=W, height=H, count=1,
                       dtype="uint8") as dst:
        dst.write(array[None])
    return path


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("names", [("x.jpg", "x.png"), ("x.png", "x.jpg")])
def test_two_images_of_one_stem_are_refused_not_picked(tmp_path, run_cli, names):
    """x.jpg (annotated) and x.png (not) in one COCO file: x.tif names either; the score of
    whichever was picked (F1 1 or 0) would be a guess."""
    truth = _coco(tmp_path / "annotation.json", names)
    pred = _classes(tmp_path / "x.tif")
    assert_one_line_error(run_cli("evaluate", pred, truth), "x.tif", "x.jpg", "x.png")
    folder = tmp_path / "pred"
    _classes(folder / "x.tif")
    assert_one_line_error(run_cli("evaluate", folder, truth), "x.tif", "x.jpg", "x.png")


def test_a_prediction_named_with_the_image_s_full_name_pairs(tmp_path, run_cli):
    """x.jpg.tif names x.jpg alone (x.png beside it): scored against x.jpg's square."""
    truth = _coco(tmp_path / "annotation.json", ("x.jpg", "x.png"))
    scores = _json(run_cli("evaluate", _classes(tmp_path / "x.jpg.tif"), truth, "--json"))
    assert scores["classes"][1]["support"] == 400
    assert scores["classes"][1]["iou"] == 1.0
    empty = _json(run_cli("evaluate", _classes(tmp_path / "x.png.tif"), truth, "--json"))
    assert empty["classes"][1]["support"] == 0
    assert empty["classes"][1]["predicted"] == 400


def test_images_without_a_prediction_are_said_and_listed(tmp_path, run_cli):
    """COCO lists a.jpg and y/b.jpg, the folder predicts a only: scored on a, and b is left
    out with a warning and under unpaired (as folders of files leave theirs), not silently."""
    truth = _coco(tmp_path / "annotation.json", ("a.jpg", "val/b.jpg"), annotated=(1, 2))
    folder = tmp_path / "pred"
    _classes(folder / "a.tif")
    result = run_cli("evaluate", folder, truth, "--json")
    scores = _json(result)
    assert scores["images"] == 1
    assert scores["unpaired"] == {"prediction": [], "truth": ["val/b.jpg"]}
    assert "b.jpg" in result.stderr and "left out" in result.stderr
    table = run_cli("evaluate", folder, truth)
    assert "left out (no partner): 0 predictions, 1 truth\n" in table.output


def test_label_files_without_a_prediction_are_listed(tmp_path, run_cli):
    """YOLO's and Labelme's label files without a prediction: listed, not scored."""
    labels = tmp_path / "labels"
    labels.mkdir()
    for stem in ("a", "c"):
        (labels / f"{stem}.txt").write_text("0 0.2 0.25 0.6 0.25 0.6 0.75 0.2 0.75\n")
    folder = tmp_path / "pred"
    _classes(folder / "a.tif")
    _classes(folder / "b.tif")  # a negative image: scored, its square an FP
    scores = _json(run_cli("evaluate", folder, labels, "--json"))
    assert scores["unpaired"]["truth"] == [str(labels / "c.txt")]
    assert scores["foreground"] == {**scores["foreground"], "tp": 400, "fp": 400, "fn": 0}
    shapes = tmp_path / "shapes"
    shapes.mkdir()
    for stem in ("a", "c"):
        (shapes / f"{stem}.json").write_text(json.dumps({
            "shapes": [{"label": "building", "points": [[10, 10], [30, 30]],
                        "shape_type": "rectangle"}],
            "imagePath": f"{stem}.jpg", "imageWidth": W, "imageHeight": H}))
    (folder / "b.tif").unlink()
    scores = _json(run_cli("evaluate", folder, shapes, "--json"))
    assert scores["unpaired"]["truth"] == [str(shapes / "c.json")]


def test_two_predictions_of_one_image_are_refused(tmp_path, run_cli):
    """x.tif (probabilities) and x_classes.tif beside it both name x.jpg: scoring both would
    count the image twice."""
    truth = _coco(tmp_path / "annotation.json", ("x.jpg", "y.jpg"))
    folder = tmp_path / "pred"
    _classes(folder / "x.tif")
    _classes(folder / "x_classes.tif")
    _classes(folder / "y.tif")
    assert_one_line_error(run_cli("evaluate", folder, truth), "x.tif", "x_classes.tif",
                          "x.jpg")


def _square_geojson(path):
    ring = np.reshape(SQUARE, (-1, 2)).tolist()
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"class": "building"},
        "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}}]}))
    return path


def test_a_vector_prediction_named_after_another_image_is_refused(tmp_path, run_cli):
    """a.geojson (vectorize's of a.tif) with --image b's raster: scored against b's truth it
    would be an FP (F1 0, exit 0); refused. With its own image: a TP."""
    truth = _coco(tmp_path / "annotation.json", ("a.jpg", "b.jpg"))
    pred = _square_geojson(tmp_path / "a.geojson")
    other = _classes(tmp_path / "b.tif")
    assert_one_line_error(run_cli("evaluate", pred, truth, "--image", other), "a.geojson",
                          "a.jpg", "b.tif")
    own = _json(run_cli("evaluate", pred, truth, "--image", _classes(tmp_path / "a.tif"),
                       "--json"))
    assert (own["tp"], own["fp"], own["fn"]) == (1, 0, 0)
    unnamed = _square_geojson(tmp_path / "buildings.geojson")
    scores = _json(run_cli("evaluate", unnamed, truth, "--image", other, "--json"))
    assert (scores["tp"], scores["fp"], scores["fn"]) == (0, 1, 0)


def test_threshold_of_class_rasters_is_refused_as_for_two_rasters(tmp_path, run_cli):
    """--threshold changes nothing of class ids: refused, as with a truth raster."""
    truth = _coco(tmp_path / "annotation.json", ("x.jpg",))
    with rasterio.open(_classes(tmp_path / "x.tif"), "r+") as dst:
        dst.update_tags(GEOTILE_OUTPUT="class", GEOTILE_CLASS_NAMES='["background", "building"]')
    assert_one_line_error(run_cli("evaluate", tmp_path / "x.tif", truth, "--threshold", "0.3"),
                          "--threshold", code=2)
    assert_one_line_error(run_cli("evaluate", tmp_path, truth, "--threshold", "0.3"),
                          "--threshold", code=2)


def _multi_class(path):
    """building (category 1), road (3) and tree (7): a 10x10 square each along the top."""
    categories = [{"id": 1, "name": "building"}, {"id": 3, "name": "road"},
                  {"id": 7, "name": "tree"}]
    annotations = [{"id": k + 1, "image_id": 1, "category_id": c["id"], "iscrowd": 0,
                    "segmentation": [[20 * k, 0, 20 * k + 10, 0, 20 * k + 10, 10, 20 * k, 10]]}
                   for k, c in enumerate(categories)]
    path.write_text(json.dumps({"images": [{"id": 1, "file_name": "m.jpg", "width": W,
                                            "height": H}],
                                "annotations": annotations, "categories": categories}))
    return path


def _raster(path, values, names=None):
    """The three squares of ``values`` (building's, road's, tree's) and, with ``names``,
    predict's tags; 4 at 20:30 (a fourth class)."""
    array = np.zeros((H, W), np.uint8)
    for k, value in enumerate(values):
        array[0:10, 20 * k:20 * k + 10] = value
    array[20:30, 0:10] = 4 if names else 0
    with rasterio.open(path, "w", driver="GTiff", width=W, height=H, count=1,
                       dtype="uint8") as dst:
        dst.write(array[None])
        if names:
            dst.update_tags(GEOTILE_OUTPUT="class", GEOTILE_CLASS_NAMES=json.dumps(names))
    return path


def test_classes_pair_by_name_with_predict_s_names(tmp_path, run_cli):
    """A model's classes in its own order (tree 1, road 2, building 3, car 4): each truth
    class found by name (IoU 1); car, which the truth lacks, is a class of its own whose
    pixels are background's errors."""
    truth = _multi_class(tmp_path / "annotation.json")
    pred = _raster(tmp_path / "m.tif", (3, 2, 1),
                   ["background", "tree", "road", "building", "car"])
    result = run_cli("evaluate", pred, truth, "--json")
    scores = {c["class"]: c for c in _json(result)["classes"]}
    assert [scores[n]["iou"] for n in ("building", "road", "tree")] == [1.0, 1.0, 1.0]
    assert (scores["car"]["predicted"], scores["car"]["support"]) == (100, 0)
    assert scores["background"]["recall"] == 1 - 100 / (H * W - 300)
    assert "category" not in result.stderr


def test_unnamed_ids_against_category_ids_with_gaps_are_warned_of(tmp_path, run_cli):
    """Ids 1, 3, 7 (the COCO category ids) in a raster naming no classes: scored as the
    classes make-masks numbers 1, 2, 3 (road and tree IoU 0), so a warning says which."""
    truth = _multi_class(tmp_path / "annotation.json")
    result = run_cli("evaluate", _raster(tmp_path / "m.tif", (1, 3, 7)), truth, "--json")
    scores = {c["class"]: c for c in _json(result)["classes"]}
    assert (scores["building"]["iou"], scores["road"]["iou"]) == (1.0, 0.0)
    assert "building 1, road 2, tree 3" in result.stderr
    assert "category ids 1, 3, 7" in result.stderr
    quiet = run_cli("evaluate", _raster(tmp_path / "m.tif", (1, 2, 3)), truth, "--json")
    assert _json(quiet)["mean_iou"] == 1.0  # make-masks' ids: right, still said
    assert "category ids" in quiet.stderr


def test_min_area_is_in_pixels_against_truth_in_pixels(tmp_path, run_cli):
    """The 400 px^2 square: kept by --min-area 300, left out by 500 (then said in px^2, the
    truth's unit, not m^2)."""
    truth = _coco(tmp_path / "annotation.json", ("a.jpg",))
    pred = _square_geojson(tmp_path / "a.geojson")
    image = _classes(tmp_path / "a.tif")
    kept = _json(run_cli("evaluate", pred, truth, "--image", image, "--min-area", 300,
                         "--json"))
    assert (kept["tp"], kept["truths"]) == (1, 1)
    result = run_cli("evaluate", pred, truth, "--image", image, "--min-area", 500, "--json")
    assert (_json(result)["truths"], _json(result)["predictions"]) == (0, 0)
    assert "largest is 400 px^2" in result.stderr and "m^2" not in result.stderr


@pytest.mark.parametrize("name", ["x_PRED.tif", "x-Pred.tif", "x_Probabilities.tif",
                                  "x_CLASSES.tif"])
def test_prediction_suffixes_in_capitals_name_the_image(tmp_path, run_cli, name):
    """image_stem compares the suffix case-blind: x_PRED.tif is x.jpg's prediction, alone
    and in a folder."""
    truth = _coco(tmp_path / "annotation.json", ("x.jpg",))
    scores = _json(run_cli("evaluate", _classes(tmp_path / name), truth, "--json"))
    assert (scores["classes"][1]["support"], scores["classes"][1]["iou"]) == (400, 1.0)
    _classes(tmp_path / "pred" / name)
    folder = _json(run_cli("evaluate", tmp_path / "pred", truth, "--json"))
    assert folder["images"] == 1 and folder["foreground"]["tp"] == 400


def _studio(path, names):
    """A Label Studio export: a task per name, the first with the square (percent)."""
    square = [[100 * x / W, 100 * y / H] for x, y in np.reshape(SQUARE, (-1, 2))]
    tasks = [{"id": i + 1, "data": {"image": f"/data/upload/1/{n}"}, "annotations": [{
        "id": i + 1, "was_cancelled": False, "ground_truth": False, "result": [{
            "id": "r", "type": "polygonlabels", "from_name": "label", "to_name": "image",
            "original_width": W, "original_height": H,
            "value": {"points": square, "polygonlabels": ["building"]}}] if i == 0 else []}]}
        for i, n in enumerate(names)]
    path.write_text(json.dumps(tasks))
    return path


@pytest.mark.parametrize("write", [_coco, _studio])
def test_a_folder_of_full_name_predictions_pairs_each(tmp_path, run_cli, write):
    """x.jpg.tif and x.png.tif (their stems full image names, x.jpg and x.png of one stem):
    each pairs its own image, in a folder and alone, COCO and Label Studio alike."""
    truth = write(tmp_path / "truth.json", ("x.jpg", "x.png"))
    folder = tmp_path / "pred"
    _classes(folder / "x.jpg.tif")
    _classes(folder / "x.png.tif")
    scores = _json(run_cli("evaluate", folder, truth, "--json"))
    assert scores["images"] == 2
    assert (scores["foreground"]["tp"], scores["foreground"]["fp"]) == (400, 400)
    alone = _json(run_cli("evaluate", folder / "x.png.tif", truth, "--json"))
    assert (alone["classes"][1]["support"], alone["classes"][1]["predicted"]) == (0, 400)


@pytest.mark.parametrize("declared", ["member", "option"])
def test_a_vector_prediction_in_a_map_crs_on_a_plain_image_is_refused(tmp_path, run_cli,
                                                                       declared):
    """The truth lies in a plain image's pixels: a prediction in EPSG:32631 (its GeoJSON
    crs member, or --prediction-crs) cannot be; GeoJSON's default lon/lat can (vectorize's
    polygons of a plain image)."""
    truth = _coco(tmp_path / "annotation.json", ("a.jpg",))
    image = _classes(tmp_path / "a.tif")
    pred = _square_geojson(tmp_path / "a.geojson")
    assert _json(run_cli("evaluate", pred, truth, "--image", image, "--json"))["tp"] == 1
    options = ()
    if declared == "member":
        document = json.loads(pred.read_text())
        document["crs"] = {"type": "name",
                           "properties": {"name": "urn:ogc:def:crs:EPSG::32631"}}
        pred.write_text(json.dumps(document))
    else:
        options = ("--prediction-crs", "EPSG:32631")
    result = run_cli("evaluate", pred, truth, "--image", image, *options)
    assert_one_line_error(result, "a.geojson", "EPSG:32631", "a.tif has no CRS",
                          "in the image's pixels")


def test_single_class_truth_with_another_category_id_is_not_warned_of(tmp_path, run_cli):
    """One class (COCO category id 100, make-masks' id 1): an unnamed 0/1 prediction is
    scored as is, without the several-classes warning about category ids."""
    truth = tmp_path / "annotation.json"
    document = json.loads(_coco(truth, ("x.jpg",)).read_text())
    document["categories"][0]["id"] = 100
    document["annotations"][0]["category_id"] = 100
    truth.write_text(json.dumps(document))
    result = run_cli("evaluate", _classes(tmp_path / "x.tif"), truth, "--json")
    assert _json(result)["classes"][1]["iou"] == 1.0
    assert "category ids" not in result.stderr and "names no classes" not in result.stderr


def test_image_with_a_raster_prediction_is_refused(tmp_path, run_cli):
    """A raster prediction is on its image's grid: --image is refused in one line, alone
    and with a folder."""
    truth = _coco(tmp_path / "annotation.json", ("x.jpg",))
    image = _classes(tmp_path / "image" / "x.tif")
    result = run_cli("evaluate", _classes(tmp_path / "pred" / "x.tif"), truth, "--image", image)
    assert_one_line_error(result, "x.tif is a raster on its image's grid", "leave out --image",
                          code=2)
    result = run_cli("evaluate", tmp_path / "pred", truth, "--image", image)
    assert_one_line_error(result, "folder of prediction rasters", "leave out --image", code=2)


def test_the_table_of_one_image_says_one_image(tmp_path, run_cli):
    """A folder scored against one image's truth said "Pixels over 1 images"."""
    truth = _coco(tmp_path / "annotation.json", ("a.jpg",), annotated=(1,))
    folder = tmp_path / "pred"
    _classes(folder / "a.tif")
    table = run_cli("evaluate", folder, truth)
    assert table.exit_code == 0, table.output
    assert "Pixels over 1 image, " in table.stdout and "1 images" not in table.stdout
