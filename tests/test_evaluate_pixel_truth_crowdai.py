"""evaluate against a CrowdAI Mapping Challenge shaped COCO file, as users run it: JPEG
images, `geotile predict` of a tiny model over the folder (probabilities and classes),
`geotile vectorize` of single predictions, then `geotile evaluate`; the expected scores
computed here from the known shapes and the decoded JPEGs, not by geotile."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from PIL import Image

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

SIZE = 300
CROWD = (0, 280, 100, 300)  # x0, y0, x1, y1 in image 1, painted 10..30 x 285..295


def _scene(k):
    """Image k's (annotated rectangles, painted-only rectangles): every 5th image none
    annotated (image 4 with one painted building), every 3rd a touching pair."""
    if k % 5 == 4:
        return [], [(100, 100, 130, 130)] if k == 4 else []
    cells = [(c % 4, c // 4) for c in ((k * 7 + j * 5) % 16 for j in range(1 + k % 4))]
    boxes = [(5 + 70 * i, 5 + 60 * j, 5 + 70 * i + 20 + (k + i) % 25,
              5 + 60 * j + 15 + (k + j) % 30) for i, j in dict.fromkeys(cells)]
    if k % 3 == 0:
        boxes += [(200, 250, 230, 280), (230, 250, 260, 280)]
    return boxes, []


def _dataset(folder):
    (folder / "images").mkdir(parents=True)
    images, annotations = [], []
    for k in range(20):
        annotated, extra = _scene(k)
        array = np.zeros((SIZE, SIZE, 3), np.uint8)
        for x0, y0, x1, y1 in annotated + extra:
            array[y0:y1, x0:x1, 0] = 255
        images.append({"id": k + 1, "file_name": f"{k:012d}.jpg", "width": SIZE,
                       "height": SIZE})
        for x0, y0, x1, y1 in annotated:
            annotations.append({"image_id": k + 1, "category_id": 100, "iscrowd": 0,
                                "segmentation": [[x0, y0, x1, y0, x1, y1, x0, y1]],
                                "bbox": [x0, y0, x1 - x0, y1 - y0]})
        if k == 1:
            x0, y0, x1, y1 = CROWD
            annotations.append({"image_id": 2, "category_id": 100, "iscrowd": 1,
                                "segmentation": [[x0, y0, x1, y0, x1, y1, x0, y1]]})
            array[285:295, 10:30, 0] = 255
        Image.fromarray(array).save(folder / "images" / f"{k:012d}.jpg", quality=100,
                                    subsampling=0)
    for i, a in enumerate(annotations):
        a["id"] = i + 1
    (folder / "annotation.json").write_text(json.dumps({
        "images": images, "annotations": annotations,
        "categories": [{"id": 100, "name": "building", "supercategory": "building"}]}))
    return folder / "annotation.json"


def _model(path):
    """background 0, building 25.5 x red - 12.75 (red scaled to 0..1): argmax building
    where red >= 128; ONNX IR 9."""
    weights = np.zeros((2, 3, 1, 1), np.float32)
    weights[1, 0] = 25.5
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input", "W", "B"], ["conv"], kernel_shape=[1, 1]),
         helper.make_node("Softmax", ["conv"], ["output"], axis=1)], "red",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 2, "H", "W"])],
        [numpy_helper.from_array(weights, "W"),
         numpy_helper.from_array(np.array([0, -12.75], np.float32), "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    entry = model.metadata_props.add()
    entry.key, entry.value = "class_names", json.dumps(["background", "building"])
    onnx.save(model, str(path))
    return path


def _expected_pixels(folder):
    """(tp, fp, fn, pixels scored) of the building class over the 20 images."""
    tp = fp = fn = pixels = 0
    for k in range(20):
        predicted = np.asarray(Image.open(folder / "images" / f"{k:012d}.jpg"))[..., 0] >= 128
        truth = np.zeros((SIZE, SIZE), bool)
        for x0, y0, x1, y1 in _scene(k)[0]:
            truth[y0:y1, x0:x1] = True
        scored = np.ones((SIZE, SIZE), bool)
        if k == 1:
            x0, y0, x1, y1 = CROWD
            scored[y0:y1, x0:x1] = False
        tp += int((predicted & truth & scored).sum())
        fp += int((predicted & ~truth & scored).sum())
        fn += int((~predicted & truth & scored).sum())
        pixels += int(scored.sum())
    return tp, fp, fn, pixels


def _expected_objects(k):
    """(tp, fp, fn) of image k: the painted buildings, touching ones one polygon, against
    the annotated ones (IoU 1 or at most 0.5 here); predictions in the crowd not counted."""
    annotated, extra = _scene(k)
    truths = [shapely.box(*b) for b in annotated]
    painted = shapely.union_all([shapely.box(*b) for b in annotated + extra])
    parts = list(getattr(painted, "geoms", [painted])) if not painted.is_empty else []
    tp = sum(any(shapely.equals(p, t) for t in truths) for p in parts)
    return tp, len(parts) - tp, len(truths) - tp


@pytest.fixture(scope="module")
def crowdai(tmp_path_factory):
    from geotile.cli.main import cli
    from tests.conftest import cli_runner

    folder = tmp_path_factory.mktemp("crowdai")
    _dataset(folder)
    model = _model(folder / "model.onnx")
    for name, extra in (("probabilities", []), ("classes", ["--output-type", "class"])):
        done = cli_runner().invoke(cli, ["predict", str(model), str(folder / "images"), "-o",
                                         str(folder / name), *extra])
        assert done.exit_code == 0, done.output
    return folder


@pytest.mark.parametrize("kind", ["probabilities", "classes"])
def test_predict_s_folder_against_the_coco_file(crowdai, run_cli, kind):
    """predict's <stem>.tif per image, probabilities or classes: the building pixels'
    TP/FP/FN over all 20 images (the 4 without annotation too, crowd left out)."""
    result = run_cli("evaluate", crowdai / kind, crowdai / "annotation.json", "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    tp, fp, fn, pixels = _expected_pixels(crowdai)
    assert (fp, fn) == (900, 0) and tp > 10000  # image 4's 30x30 building; all found
    assert scores["images"] == 20 and scores["pixels"] == pixels == 20 * SIZE ** 2 - 2000
    ground = scores["foreground"]
    assert (ground["tp"], ground["fp"], ground["fn"]) == (tp, fp, fn)
    assert scores["classes"][1]["iou"] == pytest.approx(tp / (tp + fp + fn))
    assert scores["unpaired"] == {"prediction": [], "truth": []}
    assert scores["per_image"]["000000000004"]["fp"] == 900


@pytest.mark.parametrize("k", [0, 1, 3, 4, 9])
def test_vectorized_predictions_one_image_each(crowdai, run_cli, tmp_path, k):
    """vectorize of one prediction, evaluated with --image (the JPEG, or the prediction
    raster): touching painted buildings one polygon (an FP, two FNs), the crowd's not
    counted, image 4's building an FP against no annotation."""
    stem = f"{k:012d}"
    polygons = tmp_path / f"{stem}.geojson"
    done = run_cli("vectorize", crowdai / "classes" / f"{stem}.tif", "-o", polygons)
    assert done.exit_code == 0, done.output
    for image in (crowdai / "images" / f"{stem}.jpg", crowdai / "classes" / f"{stem}.tif"):
        result = run_cli("evaluate", polygons, crowdai / "annotation.json", "--image", image,
                         "--json")
        assert result.exit_code == 0, result.output
        scores = json.loads(result.stdout)
        assert (scores["tp"], scores["fp"], scores["fn"]) == _expected_objects(k)


def test_round_trip_through_tile_s_coco_file(tmp_path, run_cli):
    """tile --labels --annotations coco of a georeferenced scene, predict over its patches,
    evaluate against the COCO file tile wrote: pixels of the patches' rasters (georeferenced,
    the truth in their pixels) and one patch's vectorized polygons (in EPSG:32633)."""
    import rasterio
    from rasterio.transform import from_origin

    boxes = [(10, 10, 40, 30), (40, 10, 70, 30), (120, 130, 160, 170), (60, 100, 90, 140)]
    array = np.zeros((3, 200, 200), np.uint8)
    for x0, y0, x1, y1 in boxes[:3]:  # the last one missed
        array[0, y0:y1, x0:x1] = 255
    array[0, 180:190, 180:195] = 255  # one not in the labels
    with rasterio.open(tmp_path / "scene.tif", "w", driver="GTiff", width=200, height=200,
                       count=3, dtype="uint8", crs="EPSG:32633",
                       transform=from_origin(500000, 4000000, 0.5, 0.5)) as dst:
        dst.write(array)
    labels = {"type": "FeatureCollection", "crs": {"type": "name", "properties": {
        "name": "urn:ogc:def:crs:EPSG::32633"}}, "features": [
        {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(
            shapely.box(500000 + x0 / 2, 4000000 - y1 / 2, 500000 + x1 / 2,
                        4000000 - y0 / 2))} for x0, y0, x1, y1 in boxes]}
    (tmp_path / "labels.geojson").write_text(json.dumps(labels))
    done = run_cli("tile", tmp_path / "scene.tif", "--labels", tmp_path / "labels.geojson",
                   "--annotations", "coco", "--size", 100, "-o", tmp_path / "patches")
    assert done.exit_code == 0, done.output
    done = run_cli("predict", _model(tmp_path / "model.onnx"), tmp_path / "patches" / "images",
                   "-o", tmp_path / "pred", "--output-type", "class")
    assert done.exit_code == 0, done.output
    coco = tmp_path / "patches" / "annotations.json"
    scores = json.loads(run_cli("evaluate", tmp_path / "pred", coco, "--json").stdout)
    assert scores["images"] == 4
    ground = scores["foreground"]
    assert (ground["tp"], ground["fp"], ground["fn"]) == (600 + 600 + 1600, 150, 1200)
    polygons = tmp_path / "scene_0_0.gpkg"
    assert run_cli("vectorize", tmp_path / "pred" / "scene_0_0.tif", "-o",
                   polygons).exit_code == 0
    result = run_cli("evaluate", polygons, coco, "--image",
                     tmp_path / "patches" / "images" / "scene_0_0.tif", "--json")
    assert result.exit_code == 0, result.output
    objects = json.loads(result.stdout)  # the touching pair predicted as one building
    assert (objects["tp"], objects["fp"], objects["fn"]) == (0, 1, 2)
