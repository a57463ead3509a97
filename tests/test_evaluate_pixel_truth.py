"""evaluate against truth drawn in each image's pixels (geotile.pixel_truth): COCO, YOLO and
Labelme instances on each prediction's grid; object F1 of instances (touching buildings
apart), pixel scores equal to make-masks then evaluate, crowd regions, folders, refusals."""

from __future__ import annotations

import json

import numpy as np
import rasterio

from tests.conftest import assert_one_line_error
from tests.pixel_label_files import plain_png

H, W = 40, 50
#: two buildings sharing a wall (x = 20), in pixels
LEFT = [10, 10, 20, 10, 20, 30, 10, 30]
RIGHT = [20, 10, 30, 10, 30, 30, 20, 30]


def _coco(path, annotations, names=("img.png",), size=(W, H)):
    document = {
        "images": [{"id": i + 1, "file_name": f"val/images/{n}", "width": size[0],
                    "height": size[1]} for i, n in enumerate(names)],
        "annotations": [{"id": i + 1, "image_id": 1, "category_id": 100, "iscrowd": 0, **a}
                        for i, a in enumerate(annotations)],
        "categories": [{"id": 100, "name": "building"}],
    }
    path.write_text(json.dumps(document))
    return path


def _touching(path, crowd=None):
    extra = [{"segmentation": [crowd], "iscrowd": 1}] if crowd else []
    return _coco(path, [{"segmentation": [LEFT]}, {"segmentation": [RIGHT]}, *extra])


def _classes(path, array):
    """A class raster without georeference (predict's of a plain PNG): 0/1, no CRS."""
    with rasterio.open(path, "w", driver="GTiff", width=array.shape[1], height=array.shape[0],
                       count=1, dtype="uint8") as dst:
        dst.write(array[None])
    return path


def _prediction():
    classes = np.zeros((H, W), np.uint8)
    classes[10:30, 10:28] = 1  # 20 px short of the right building
    classes[0:3, 0:3] = 1
    return classes


def _polygons(path, *rings):
    """A GeoJSON of pixel polygons (no crs member), as vectorize writes a plain image's."""
    features = [{"type": "Feature", "properties": {"class": "building"}, "geometry": {
        "type": "Polygon", "coordinates": [[*np.reshape(r, (-1, 2)).tolist(), r[:2]]]}}
        for r in rings]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_coco_instances_keep_touching_buildings_apart(tmp_path, run_cli):
    """Two predicted buildings against COCO's two touching ones: 2 TP, F1 1. Through
    make-masks' mask, vectorized, the two are one polygon: each prediction has IoU 0.5 with
    it (not > 0.5), 0 TP, F1 0 — the score this replaces."""
    image = plain_png(tmp_path / "img.png", W, H)
    truth = _touching(tmp_path / "annotation.json")
    pred = _polygons(tmp_path / "img.geojson", LEFT, RIGHT)
    scores = _json(run_cli("evaluate", pred, truth, "--image", image, "--json"))
    assert (scores["tp"], scores["fp"], scores["fn"], scores["f1"]) == (2, 0, 0, 1.0)
    assert scores["truths"] == 2
    assert run_cli("make-masks", truth, image, "-o", tmp_path / "mask.tif").exit_code == 0
    done = run_cli("vectorize", tmp_path / "mask.tif", "-o", tmp_path / "merged.gpkg")
    assert done.exit_code == 0, done.output
    merged = _json(run_cli("evaluate", pred, tmp_path / "merged.gpkg", "--json",
                           "--prediction-crs", "EPSG:3857", "--labels-crs", "EPSG:3857"))
    assert (merged["tp"], merged["fp"], merged["fn"], merged["truths"]) == (0, 2, 1, 1)
    assert merged["f1"] == 0.0


def test_pixel_scores_equal_make_masks_then_evaluate(tmp_path, run_cli):
    """A class raster named after its image (img.tif for val/images/img.png) against the
    COCO file: the scores of make-masks' mask, to the pixel."""
    image = plain_png(tmp_path / "img.png", W, H)
    truth = _touching(tmp_path / "annotation.json")
    pred = _classes(tmp_path / "img.tif", _prediction())
    direct = _json(run_cli("evaluate", pred, truth, "--json"))
    assert run_cli("make-masks", truth, image, "-o", tmp_path / "mask.tif").exit_code == 0
    via_mask = _json(run_cli("evaluate", pred, tmp_path / "mask.tif", "--json"))
    assert direct == via_mask
    building = direct["classes"][1]
    assert building["class"] == "building"
    assert (building["support"], building["predicted"]) == (400, 369)
    assert building["iou"] == 360 / 409


def test_crowd_is_ignored_in_pixels_and_objects(tmp_path, run_cli):
    """A crowd region: its pixels leave the pixel scores (as make-masks' 255) and a
    prediction lying in it is neither TP nor FP; one beside it stays an FP."""
    image = plain_png(tmp_path / "img.png", W, H)
    crowd = [35, 0, 50, 0, 50, 40, 35, 40]
    truth = _touching(tmp_path / "annotation.json", crowd)
    pred = _polygons(tmp_path / "img.geojson", LEFT, RIGHT, [38, 5, 45, 5, 45, 12, 38, 12],
                     [0, 32, 6, 32, 6, 38, 0, 38])
    scores = _json(run_cli("evaluate", pred, truth, "--image", image, "--json"))
    assert (scores["tp"], scores["fp"], scores["fn"], scores["predictions"]) == (2, 1, 0, 3)
    pixels = _json(run_cli("evaluate", _classes(tmp_path / "img.tif", _prediction()), truth,
                           "--json"))
    assert pixels["pixels"] == H * W - 15 * H


def test_yolo_labels_folder_with_a_suffixed_prediction(tmp_path, run_cli):
    """YOLO-seg: img_pred.tif takes labels/img.txt (classes named by data.yaml); the
    scores are make-masks' mask's."""
    image = plain_png(tmp_path / "images" / "img.png", W, H)
    (tmp_path / "labels").mkdir()
    (tmp_path / "data.yaml").write_text("names: [house]\n")
    rows = [" ".join(["0", *(f"{v / (W if i % 2 == 0 else H):.4f}" for i, v in enumerate(r))])
            for r in (LEFT, RIGHT)]
    (tmp_path / "labels" / "img.txt").write_text("\n".join(rows) + "\n")
    pred = _classes(tmp_path / "img_pred.tif", _prediction())
    direct = _json(run_cli("evaluate", pred, tmp_path / "labels", "--json"))
    assert run_cli("make-masks", tmp_path / "labels", image, "-o",
                   tmp_path / "mask.tif").exit_code == 0
    assert direct == _json(run_cli("evaluate", pred, tmp_path / "mask.tif", "--json"))
    assert direct["classes"][1]["class"] == "house"


def test_labelme_instances_and_its_ignore(tmp_path, run_cli):
    """Labelme: two touching rectangles are two instances (2 TP), an __ignore__ shape a
    region whose prediction counts as nothing."""
    image = plain_png(tmp_path / "img.png", W, H)
    shapes = [{"label": "building", "points": [[10, 10], [20, 30]], "shape_type": "rectangle"},
              {"label": "building", "points": [[20, 10], [30, 30]], "shape_type": "rectangle"},
              {"label": "__ignore__", "points": [[35, 0], [50, 40]], "shape_type": "rectangle"}]
    truth = tmp_path / "img.json"
    truth.write_text(json.dumps({"shapes": shapes, "imagePath": "img.png", "imageWidth": W,
                                 "imageHeight": H}))
    pred = _polygons(tmp_path / "pred.geojson", LEFT, RIGHT, [38, 5, 45, 5, 45, 12, 38, 12])
    scores = _json(run_cli("evaluate", pred, truth, "--image", image, "--json"))
    assert (scores["tp"], scores["fp"], scores["fn"]) == (2, 0, 0)


def test_a_folder_of_predictions_against_one_coco_file(tmp_path, run_cli):
    """predict's folder (<stem>.tif per image) against COCO: per image and in total."""
    truth = _coco(tmp_path / "annotation.json", [{"segmentation": [LEFT]}],
                  names=("a.jpg", "b.jpg"))
    folder = tmp_path / "pred"
    folder.mkdir()
    _classes(folder / "a.tif", _prediction())
    _classes(folder / "b.tif", np.zeros((H, W), np.uint8))
    scores = _json(run_cli("evaluate", folder, truth, "--json"))
    assert scores["images"] == 2
    assert set(scores["per_image"]) == {"a", "b"}
    assert scores["per_image"]["a"]["truth"] == str(truth)
    assert scores["foreground"]["tp"] == 200


def test_refusals_are_one_line(tmp_path, run_cli):
    truth = _touching(tmp_path / "annotation.json")
    other = _classes(tmp_path / "other.tif", _prediction())
    assert_one_line_error(run_cli("evaluate", other, truth), "other.tif", "not in",
                          "img.png")
    small = _classes(tmp_path / "img.tif", np.zeros((H, W - 1), np.uint8))
    assert_one_line_error(run_cli("evaluate", small, truth), "img.tif", "49x40",
                          "50x40")
    pred = _polygons(tmp_path / "img.geojson", LEFT)
    assert_one_line_error(run_cli("evaluate", pred, truth), "--image", code=2)
    assert_one_line_error(run_cli("evaluate", pred, truth, "--layer", "x"), "--layer",
                          code=2)


def test_ignore_regions_leave_out_only_unmatched_predictions_mostly_inside(tmp_path, run_cli):
    """Labelme's __ignore__ rectangle (x 35..50): an unmatched prediction 7/10 inside it is
    left out, one exactly half inside stays an FP, one matching a building inside it stays
    a TP; the region is no truth object (no FN)."""
    image = plain_png(tmp_path / "img.png", W, H)
    shapes = [{"label": "building", "points": [[10, 10], [20, 30]], "shape_type": "rectangle"},
              {"label": "building", "points": [[20, 10], [30, 30]], "shape_type": "rectangle"},
              {"label": "__ignore__", "points": [[35, 0], [50, 40]], "shape_type": "rectangle"},
              {"label": "building", "points": [[37, 31], [47, 39]], "shape_type": "rectangle"}]
    truth = tmp_path / "img.json"
    truth.write_text(json.dumps({"shapes": shapes, "imagePath": "img.png", "imageWidth": W,
                                 "imageHeight": H}))
    half = [30, 0, 40, 0, 40, 10, 30, 10]
    most = [32, 15, 42, 15, 42, 25, 32, 25]
    inside = [37, 31, 47, 31, 47, 39, 37, 39]
    pred = _polygons(tmp_path / "pred.geojson", LEFT, RIGHT, half, most, inside)
    scores = _json(run_cli("evaluate", pred, truth, "--image", image, "--json"))
    assert (scores["tp"], scores["fp"], scores["fn"], scores["predictions"]) == (3, 1, 0, 4)


def test_a_prediction_of_a_quarter_turned_photo_names_the_exif_turn(tmp_path, run_cli):
    """A drone JPEG its EXIF orientation turns a quarter (6) is listed in COCO (CVAT,
    labelme2coco) at its turned size, 40 x 50 for 50 x 40 stored; predict's raster is of the
    stored pixels. 'Give the image the annotations were made on' sent the user looking for
    another image: the line says the entry is the photo turned and how to rotate it."""
    truth = _coco(tmp_path / "annotation.json", [{"segmentation": [LEFT]}], size=(H, W))
    pred = _classes(tmp_path / "img.tif", _prediction())
    assert_one_line_error(run_cli("evaluate", pred, truth), "img.tif", "50x40", "40x50",
                          "EXIF orientation", "exiftran -ai")


def test_a_prediction_of_an_upside_down_photo_against_its_drawn_truth_is_refused(tmp_path,
                                                                                 run_cli):
    """A drone JPEG upside down by its EXIF orientation (3): predict reads its stored
    pixels, CVAT/labelme2coco and Ultralytics draw on it turned; the prediction was scored
    against the truth half a turn off it, exit 0 (no size tells them apart). predict notes
    the photo's orientation on its output; evaluate refuses it, naming the orientation."""
    from tests.onnx_models import pointwise_model
    from tests.pixel_label_files import turned_jpeg

    photo = turned_jpeg(tmp_path / "val" / "images" / "img.jpg", W, H, "3")
    model = pointwise_model(tmp_path / "m.onnx")
    result = run_cli("predict", model, photo, "-o", tmp_path / "img.tif", "--output-type",
                     "class", "--tile-size", 32)
    assert result.exit_code == 0, result.output
    coco = _touching(tmp_path / "annotation.json")
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "img.txt").write_text("0 0.2 0.25 0.4 0.25 0.4 0.75\n")
    (tmp_path / "data.yaml").write_text("names: [building]\n")
    for truth in (coco, tmp_path / "labels"):
        result = run_cli("evaluate", tmp_path / "img.tif", truth)
        assert_one_line_error(result, "img.tif", "EXIF orientation (3)", "predict it again")


def test_truth_reaching_far_past_the_image_scores_its_own_pixels(tmp_path, run_cli):
    """COCO truth polygons reaching 1e12 px right and 3e9 px below the image (GDAL's burn
    overflowed past 2**31 px: 18 of the first's 162 pixels, none of the second's, exit 0):
    the pixel scores of exactly their pixels of the image."""
    from tests.pixel_label_files import FAR_DOWN, FAR_RIGHT, analytic_pixels

    truth = _coco(tmp_path / "annotation.json",
                  [{"segmentation": [np.ravel(r).tolist()]} for r in (FAR_RIGHT, FAR_DOWN)])
    pred = _classes(tmp_path / "img.tif", _prediction())
    building = _json(run_cli("evaluate", pred, truth, "--json"))["classes"][1]
    true = analytic_pixels([FAR_RIGHT, FAR_DOWN], H, W)
    predicted = _prediction() == 1
    assert (building["support"], building["predicted"]) == (true.sum(), predicted.sum())
    assert building["iou"] == (true & predicted).sum() / (true | predicted).sum()
