"""evaluate against one file of many images' shapes that make-masks reads (CVAT XML, Label
Studio JSON, VIA JSON: geotile.annotation_truth): each prediction raster paired with its
image by name (folders, upload prefixes, predict's suffixes), pixel scores equal to
make-masks then evaluate, object F1 of instances kept apart, __ignore__ regions, Label
Studio's negatives, VIA's --class-field, images without a prediction, refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio

from tests.conftest import assert_one_line_error
from tests.pixel_label_files import plain_png
from tests.via_files import via3_project, via_csv

H, W = 40, 50
#: two buildings sharing a wall (x = 20), and a region to ignore, as (x0, y0, x1, y1) px
LEFT, RIGHT, IGNORED = (10, 10, 20, 30), (20, 10, 30, 30), (35, 0, 50, 40)
#: a prediction in the ignored region: neither TP nor FP
IN_IGNORED = (38, 5, 45, 12)


def _ring(box) -> list:
    x0, y0, x1, y1 = box
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


def _classes(path, array=None):
    """A class raster without georeference (predict's of a plain PNG): 0/1, no CRS."""
    if array is None:
        array = np.zeros((H, W), np.uint8)
        array[10:30, 10:28] = 1  # 20 px short of the right building
        array[0:3, 0:3] = 1  # 9 px of nothing
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="GTiff", width=array.shape[1], height=array.shape[0],
                       count=1, dtype="uint8") as dst:
        dst.write(array[None])
    return path


def _polygons(path, *boxes, field="class"):
    """A GeoJSON of pixel polygons (no crs member), as vectorize writes a plain image's."""
    features = [{"type": "Feature", "properties": {field: "building"},
                 "geometry": {"type": "Polygon", "coordinates": [_ring(b)]}} for b in boxes]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _cvat(path, images):
    """annotations.xml of ``images`` [(name, width, height, [(label, box)...])]."""
    body = "".join(
        f'<image id="{i}" name="{name}" width="{w}" height="{h}">' + "".join(
            f'<box label="{label}" source="manual" occluded="0" xtl="{b[0]}" ytl="{b[1]}" '
            f'xbr="{b[2]}" ybr="{b[3]}" z_order="0"/>' for label, b in boxes) + "</image>"
        for i, (name, w, h, boxes) in enumerate(images))
    labels = "".join(f"<label><name>{n}</name><type>any</type></label>"
                     for n in ("building", "__ignore__"))
    path.write_text('<?xml version="1.0" encoding="utf-8"?>\n<annotations><version>1.1'
                    f"</version><meta><task><id>3</id><labels>{labels}</labels></task></meta>"
                    f"{body}</annotations>")
    return path


def _studio_region(label, box, rid):
    x0, y0, x1, y1 = box
    return {"id": rid, "type": "rectanglelabels", "from_name": "label", "to_name": "image",
            "original_width": W, "original_height": H, "image_rotation": 0,
            "value": {"x": x0 * 100 / W, "y": y0 * 100 / H, "width": (x1 - x0) * 100 / W,
                      "height": (y1 - y0) * 100 / H, "rotation": 0,
                      "rectanglelabels": [label]}}


def _studio(path, tasks):
    """A Label Studio JSON export of ``tasks`` [(image URL, [(label, box)...])]."""
    path.write_text(json.dumps([
        {"id": i + 1, "data": {"image": url}, "predictions": [],
         "annotations": [{"id": 100 + i, "was_cancelled": False, "ground_truth": False,
                          "result": [_studio_region(label, box, f"r{k}")
                                     for k, (label, box) in enumerate(regions)]}]}
        for i, (url, regions) in enumerate(tasks)]))
    return path


def _via(path, entries):
    """A VIA 2.x export of ``entries`` [(filename, [(attributes, box)...])]."""
    document = {}
    for filename, regions in entries:
        document[f"{filename}-1"] = {"filename": filename, "size": -1, "file_attributes": {},
                                     "regions": [{"shape_attributes": {
                                         "name": "rect", "x": b[0], "y": b[1],
                                         "width": b[2] - b[0], "height": b[3] - b[1]},
                                         "region_attributes": attributes}
                                         for attributes, b in regions]}
    path.write_text(json.dumps(document))
    return path


def _same_as_make_masks(run_cli, tmp_path, prediction, truth, image, *options):
    """evaluate PREDICTION TRUTH's scores, asserted equal to those of make-masks' mask."""
    direct = _json(run_cli("evaluate", prediction, truth, "--json", *options))
    mask = tmp_path / "mask.tif"
    made = run_cli("make-masks", truth, image, "-o", mask, "--overwrite", *options)
    assert made.exit_code == 0, made.output
    assert direct == _json(run_cli("evaluate", prediction, mask, "--json"))
    return direct


def test_cvat_truth_with_folders_in_its_names(tmp_path, run_cli):
    """CVAT's image val/images/img.png: img.tif scores as make-masks' mask (ignored pixels
    left out); two predicted buildings against its two touching boxes are 2 TP, where the
    mask, vectorized, holds one building they both miss."""
    image = plain_png(tmp_path / "img.png", W, H)
    truth = _cvat(tmp_path / "annotations.xml", [
        ("val/images/img.png", W, H, [("building", LEFT), ("building", RIGHT),
                                      ("__ignore__", IGNORED)]),
        ("val/images/other.png", W, H, [])])
    pixels = _same_as_make_masks(run_cli, tmp_path, _classes(tmp_path / "img.tif"), truth,
                                 image)
    building = pixels["classes"][1]
    assert (building["class"], building["support"], building["predicted"]) == (
        "building", 400, 369)
    assert building["iou"] == 360 / 409
    assert pixels["pixels"] == H * W - 15 * H
    pred = _polygons(tmp_path / "img.geojson", LEFT, RIGHT, IN_IGNORED)
    scores = _json(run_cli("evaluate", pred, truth, "--image", image, "--json"))
    assert (scores["tp"], scores["fp"], scores["fn"], scores["f1"]) == (2, 0, 0, 1.0)
    assert run_cli("vectorize", tmp_path / "mask.tif", "-o", tmp_path / "merged.gpkg",
                   "--overwrite").exit_code == 0
    merged = _json(run_cli("evaluate", _polygons(tmp_path / "two.geojson", LEFT, RIGHT),
                           tmp_path / "merged.gpkg", "--json", "--prediction-crs",
                           "EPSG:3857", "--labels-crs", "EPSG:3857"))
    assert (merged["tp"], merged["truths"]) == (0, 1)


def test_label_studio_folder_with_upload_prefixes_and_a_negative(tmp_path, run_cli):
    """Label Studio's uploads (8a9b7c1d-a.png) take predict's a.tif and b_pred.tif; b's task
    has an annotation without regions, all background (its predicted square an FP); c's
    task has no prediction and is listed as unpaired truth."""
    truth = _studio(tmp_path / "project-1.json", [
        ("/data/upload/1/8a9b7c1d-a.png", [("building", LEFT), ("building", RIGHT),
                                           ("__ignore__", IGNORED)]),
        ("/data/upload/1/0f0e0d0c-b.png", []),
        ("/data/local-files/?d=images/c.png", [("building", LEFT)])])
    folder = tmp_path / "pred"
    _classes(folder / "a.tif")
    negative = np.zeros((H, W), np.uint8)
    negative[0:20, 0:20] = 1
    _classes(folder / "b_pred.tif", negative)
    result = run_cli("evaluate", folder, truth, "--json")
    scores = _json(result)
    assert scores["images"] == 2
    assert scores["unpaired"] == {"prediction": [], "truth": ["/data/local-files/?d=images/c.png"]}
    assert "c.png" in result.stderr and "left out" in result.stderr
    assert scores["foreground"] == {**scores["foreground"], "tp": 360, "fp": 9 + 400, "fn": 40}
    image = plain_png(tmp_path / "a.png", W, H)
    alone = _same_as_make_masks(run_cli, tmp_path, folder / "a.tif", truth, image)
    assert alone["classes"][1]["iou"] == 360 / 409
    pred = _polygons(tmp_path / "a.geojson", LEFT, RIGHT, IN_IGNORED)
    objects = _json(run_cli("evaluate", pred, truth, "--image", image, "--json"))
    assert (objects["tp"], objects["fp"], objects["fn"]) == (2, 0, 0)


def test_via_truth_takes_its_class_field(tmp_path, run_cli):
    """VIA regions of two attributes: --class-field names the class one (as make-masks'),
    for a raster prediction too, and scores a vector prediction's classes by it; without
    it, or naming an attribute no region has, evaluate refuses in one line."""
    image = plain_png(tmp_path / "img.png", W, H)
    truth = _via(tmp_path / "via_region_data.json", [
        ("https://example.com/img.png", [({"type": "building", "note": "a"}, LEFT),
                                         ({"type": "building", "note": "b"}, RIGHT),
                                         ({"type": "__ignore__"}, IGNORED)]),
        ("b.png", [])])
    pred = _classes(tmp_path / "img_classes.tif")
    pixels = _same_as_make_masks(run_cli, tmp_path, pred, truth, image, "--class-field",
                                 "type")
    assert pixels["classes"][1]["class"] == "building"
    assert pixels["classes"][1]["iou"] == 360 / 409
    vectors = _polygons(tmp_path / "img.geojson", LEFT, RIGHT, IN_IGNORED)
    scores = _json(run_cli("evaluate", vectors, truth, "--image", image, "--class-field",
                           "type", "--json"))
    assert (scores["tp"], scores["fp"], scores["fn"]) == (2, 0, 0)
    assert scores["per_class"]["building"]["tp"] == 2
    assert_one_line_error(run_cli("evaluate", pred, truth), "via_region_data.json",
                          "--class-field")
    assert_one_line_error(run_cli("evaluate", vectors, truth, "--image", image,
                                  "--class-field", "class"), "via_region_data.json",
                          "'class'", "'type'")


def test_refusals_are_one_line(tmp_path, run_cli):
    """A prediction of no image of the file, one of another size than its image's, and
    --class-field of a raster against truth that names no class by it."""
    cvat = _cvat(tmp_path / "annotations.xml", [("img.png", W, H, [("building", LEFT)])])
    other = _classes(tmp_path / "other.tif")
    assert_one_line_error(run_cli("evaluate", other, cvat), "other.tif", "not in",
                          "annotations.xml", "img.png")
    small = _classes(tmp_path / "small" / "img.tif", np.zeros((H, W - 1), np.uint8))
    assert_one_line_error(run_cli("evaluate", small, cvat), str(small), "49x40", "50x40")
    studio = _studio(tmp_path / "export.json", [("/data/upload/1/8a9b7c1d-img.png",
                                                 [("building", LEFT)])])
    assert_one_line_error(run_cli("evaluate", other, studio), "other.tif", "not in",
                          "export.json")
    assert_one_line_error(run_cli("evaluate", small, studio), str(small), "49x40",
                          "50x40")
    via = _via(tmp_path / "via.json", [("img.png", [({}, (40, 10, 48, 20))])])
    tiny = _classes(tmp_path / "tiny" / "img.tif", np.zeros((H // 2, W // 2), np.uint8))
    assert_one_line_error(run_cli("evaluate", tiny, via), str(tiny), "wholly outside")
    assert_one_line_error(run_cli("evaluate", other, via), "other.tif", "not in",
                          "via.json")
    assert_one_line_error(run_cli("evaluate", other, cvat, "--class-field", "type"),
                          "--class-field", code=2)


def test_label_studio_vector_named_after_another_upload_is_refused(tmp_path, run_cli):
    """a.geojson with --image b.png, where Label Studio holds a's and b's uploads under
    8-hex-digit prefixes (8a9b7c1d-a.png): refused, not scored against b's buildings."""
    truth = _studio(tmp_path / "project-1.json", [
        ("/data/upload/1/8a9b7c1d-a.png", [("building", LEFT)]),
        ("/data/upload/1/0f0e0d0c-b.png", [("building", RIGHT)])])
    image = plain_png(tmp_path / "b.png", W, H)
    pred = _polygons(tmp_path / "a.geojson", LEFT)
    assert_one_line_error(run_cli("evaluate", pred, truth, "--image", image), "a.geojson",
                          "8a9b7c1d-a.png", "--image")
    own = _polygons(tmp_path / "b.geojson", RIGHT)
    scores = _json(run_cli("evaluate", own, truth, "--image", image, "--json"))
    assert (scores["tp"], scores["fp"], scores["fn"]) == (1, 0, 0)


#: three images' one box each, of classes A, B and C: ids 1, 2, 3 over the whole export
ABC = (("img1.png", "A", (0, 0, 10, 10)), ("img2.png", "B", (10, 10, 20, 20)),
       ("img3.png", "C", (20, 20, 30, 30)))


def _c_prediction(path):
    """img3's prediction, no class names: id 3 (C over the whole export) where C is."""
    array = np.zeros((H, W), np.uint8)
    array[20:30, 20:30] = 3
    return _classes(path, array)


def _abc_labelbox(tmp_path):
    rows = [{"data_row": {"id": f"dr{i}", "external_id": name},
             "media_attributes": {"width": W, "height": H},
             "projects": {"p": {"labels": [{"id": f"L{i}", "annotations": {"objects": [
                 {"name": label, "annotation_kind": "ImageBoundingBox", "bounding_box": {
                     "left": box[0], "top": box[1], "width": box[2] - box[0],
                     "height": box[3] - box[1]}}]}}]}}}
            for i, (name, label, box) in enumerate(ABC)]
    path = tmp_path / "export.ndjson"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _abc_darwin(tmp_path):
    folder = tmp_path / "darwin"
    folder.mkdir()
    for name, label, box in ABC:
        slot = {"type": "image", "slot_name": "0", "width": W, "height": H,
                "source_files": [{"file_name": name}]}
        (folder / f"{name}.json").write_text(json.dumps({
            "version": "2.0", "item": {"name": name, "slots": [slot]}, "annotations": [
                {"id": "1", "name": label, "bounding_box": {
                    "x": box[0], "y": box[1], "w": box[2] - box[0], "h": box[3] - box[1]}}]}))
    return folder


def _abc_datumaro(tmp_path):
    labels = sorted({label for _, label, _ in ABC})
    items = [{"id": name.rsplit(".", 1)[0], "image": {"path": name, "size": [H, W]},
              "annotations": [{"id": 1, "type": "bbox", "label_id": labels.index(label),
                               "group": 0, "z_order": 0, "attributes": {},
                               "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]]}]}
             for name, label, box in ABC]
    path = tmp_path / "datumaro" / "annotations" / "default.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"dm_format_version": "1.0", "infos": {}, "categories": {
        "label": {"labels": [{"name": n, "parent": ""} for n in labels]}}, "items": items}))
    return tmp_path / "datumaro"


def _abc_labelme(tmp_path):
    folder = tmp_path / "labelme"
    folder.mkdir()
    for name, label, box in ABC:
        (folder / name).with_suffix(".json").write_text(json.dumps({
            "version": "5.5.0", "flags": {}, "imagePath": name, "imageData": None,
            "imageHeight": H, "imageWidth": W, "shapes": [
                {"label": label, "points": [box[:2], box[2:]], "shape_type": "rectangle",
                 "group_id": None, "flags": {}}]}))
    return folder


def _abc_via_entries(tmp_path) -> list:
    """VIA 2 JSON's entries of ABC, as VIA's CSV export and a VIA 3 project hold them."""
    document = json.loads(_via(tmp_path / "abc.json", [
        (name, [({"class": label}, box)]) for name, label, box in ABC]).read_text())
    return list(document.values())


#: each format's export of ABC (Labelme's folder: make-masks of some images numbers theirs
#: alone, evaluate by id every file's)
ABC_EXPORTS = {
    "darwin": _abc_darwin,
    "datumaro": _abc_datumaro,
    "labelme": _abc_labelme,
    "labelstudio": lambda tmp_path: _studio(tmp_path / "project.json", [
        (f"/data/upload/1/{name}", [(label, box)]) for name, label, box in ABC]),
    "labelbox": _abc_labelbox,
    "via": lambda tmp_path: _via(tmp_path / "via_region_data.json", [
        (name, [({"class": label}, box)]) for name, label, box in ABC]),
    "via_csv": lambda tmp_path: via_csv(tmp_path / "via.csv", *_abc_via_entries(tmp_path)),
    "via3": lambda tmp_path: via3_project(tmp_path / "via3.json", *_abc_via_entries(tmp_path)),
}


@pytest.mark.parametrize("kind", sorted(ABC_EXPORTS))
def test_an_unnamed_prediction_of_some_images_takes_the_export_s_ids(tmp_path, run_cli, kind):
    """An export of img1 (A), img2 (B), img3 (C): a prediction of img3 alone whose pixels
    are id 3 where C is scores IoU 1.0, as make-masks over the whole export then evaluate
    (not against C numbered 1 over the names of img3 alone), a folder of it too."""
    truth = ABC_EXPORTS[kind](tmp_path)
    images = [plain_png(tmp_path / "images" / name, W, H) for name, _, _ in ABC]
    masks = tmp_path / "masks"
    made = run_cli("make-masks", truth, *images, "-o", masks)
    assert made.exit_code == 0, made.output
    assert "1 A, 2 B, 3 C" in made.output
    prediction = _c_prediction(tmp_path / "pred" / "img3.tif")
    full = _json(run_cli("evaluate", prediction, masks / "img3.tif", "--json"))
    assert full["classes"][3]["iou"] == 1.0
    for given in (prediction, prediction.parent):
        scores = _json(run_cli("evaluate", given, truth, "--json"))
        assert scores["classes"][3]["iou"] == 1.0
        assert scores["classes"] == full["classes"]


def test_a_turned_photo_is_refused_naming_the_format_read(tmp_path, run_cli):
    """A JPEG its EXIF orientation (6) turns, with VIA or CVAT shapes on it: evaluate's
    refusal said '(Labelme shows it so)' of every format's file (the shapes are read as
    Labelme's) -> it names the tool of the format read."""
    from tests.pixel_label_files import turned_jpeg

    photo = turned_jpeg(tmp_path / "img.jpg", W, H)
    pred = _polygons(tmp_path / "img.geojson", LEFT)
    via = _via(tmp_path / "via.json", [("img.jpg", [({"class": "building"}, LEFT)])])
    cvat = _cvat(tmp_path / "annotations.xml", [("img.jpg", W, H, [("building", LEFT)])])
    for truth, shows in ((via, "VIA shows"), (cvat, "CVAT shows")):
        result = run_cli("evaluate", pred, truth, "--image", photo)
        assert_one_line_error(result, "img.jpg", "EXIF orientation (6)", truth.name,
                              f"({shows} it so)", "exiftran -ai")
        assert "Labelme" not in result.output
