"""evaluate with an instance model's COCO results file as PREDICTION (detectron2's
coco_instances_results.json, MMDetection's *.segm.json, Ultralytics' predictions.json)
against a COCO instances file: each result a polygon of its mask, matched per image, by
decreasing score, above --min-score; the expected counts worked out by hand from the masks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from rasterio.features import shapes

from tests.conftest import assert_one_line_error
from tests.pixel_label_files import coco_counts as _compressed
from tests.pixel_label_files import coco_runs as _runs
from tests.pixel_label_files import plain_png

H, W = 100, 120


def _box(x0, y0, x1, y1) -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[y0:y1, x0:x1] = True
    return mask


#: image a.png's three buildings, b.png's one; a crowd region in a.png's corner
A, B, C = _box(10, 10, 30, 30), _box(50, 10, 70, 30), _box(10, 60, 30, 80)
D = _box(40, 40, 60, 60)
CROWD = _box(80, 70, 120, 100)


def _rle(mask, compressed=True, size=(H, W)):
    return {"size": list(size), "counts": _compressed(mask) if compressed else _runs(mask)}


def _polygon(mask) -> list[list[float]]:
    """The outline of a one-rectangle mask, as a COCO polygon of pixel edges."""
    ys, xs = np.nonzero(mask)
    x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    return [[float(v) for v in (x0, y0, x1, y0, x1, y1, x0, y1)]]


def _truth(path, categories=None, extra=()):
    annotations = [{"image_id": 1, "category_id": 1, "iscrowd": 0, "segmentation": s}
                   for s in (_polygon(A), _rle(B, compressed=False), _polygon(C))]
    annotations += [{"image_id": 1, "category_id": 1, "iscrowd": 1,
                     "segmentation": _rle(CROWD, compressed=False)},
                    {"image_id": 2, "category_id": 1, "iscrowd": 0,
                     "segmentation": _polygon(D)}, *extra]
    for i, a in enumerate(annotations):
        a["id"] = i + 1
    path.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "val/a.png", "width": W, "height": H},
                   {"id": 2, "file_name": "val/b.png", "width": W, "height": H}],
        "annotations": annotations,
        "categories": categories or [{"id": 1, "name": "building"}]}))
    return path


def _duplicate():
    return np.roll(A, 1, axis=1)  # A one pixel right: IoU 380/420 with A


#: a.png's predictions: A (0.9), a duplicate of A (0.8), B as a polygon (0.7), C below
#: --min-score 0.1 (0.03), one in the crowd region (0.6): each segmentation form once
RESULTS = [(A, 0.9, "compressed"), (_duplicate(), 0.8, "runs"), (B, 0.7, "polygon"),
           (C, 0.03, "compressed"), (_box(85, 75, 110, 95), 0.6, "polygon")]


def _segmentation(mask, form):
    if form == "polygon":
        return _polygon(mask)
    return _rle(mask, compressed=form == "compressed")


def _results(path, rows=RESULTS, image_id=1, category_id=1, **extra):
    path.write_text(json.dumps([
        {"image_id": image_id, "category_id": category_id, "score": score,
         "segmentation": _segmentation(mask, form), "bbox": [0, 0, 1, 1], **extra}
        for mask, score, form in rows]))
    return path


@pytest.fixture
def files(tmp_path):
    return _results(tmp_path / "results.json"), _truth(tmp_path / "annotation.json")


def test_counts_by_hand_with_min_score(files, run_cli):
    """a.png: A TP (0.9), its duplicate FP (0.8: A is taken), B TP, C's prediction below
    --min-score left out (C FN), the crowd prediction neither; b.png: no result, D FN."""
    results, truth = files
    result = run_cli("evaluate", results, truth, "--min-score", "0.1", "--json")
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert (d["tp"], d["fp"], d["fn"]) == (2, 1, 2)
    assert d["precision"] == pytest.approx(2 / 3) and d["recall"] == pytest.approx(0.5)
    assert d["f1"] == pytest.approx(4 / 7)
    assert d["images"] == 2 and d["min_score"] == 0.1
    rows = d["per_image"]
    assert [(rows[n]["tp"], rows[n]["fp"], rows[n]["fn"]) for n in ("a.png", "b.png")] == [
        (2, 1, 1), (0, 0, 1)]
    assert rows["a.png"]["truth"] == "val/a.png"
    assert d["mean_iou"] == pytest.approx(1.0, abs=1e-5)
    assert "below 0.5" not in result.stderr  # --min-score given: no warning


def test_low_scores_scored_without_min_score_and_said(files, run_cli):
    """Without --min-score every result is a prediction (C's 0.03 a TP here), and a warning
    says how many score below 0.5 and names --min-score."""
    results, truth = files
    result = run_cli("evaluate", results, truth)
    assert result.exit_code == 0, result.output
    assert "TP 3  FP 1  FN 1" in result.stdout
    assert "1 of 5" in result.stderr and "--min-score" in result.stderr
    table = run_cli("evaluate", results, truth, "--min-score", "0.1")
    assert "TP 2  FP 1  FN 2" in table.stdout and "a.png" in table.stdout


def test_scores_equal_the_same_masks_as_vector_polygons(files, tmp_path, run_cli):
    """a.png's results, vectorized to pixel polygons with their scores and scored through
    the vector path (--image), give the same counts as the results file."""
    results, truth = files
    features = []
    for mask, score, _ in RESULTS:
        (geometry, _), = shapes(mask.astype(np.uint8), mask=mask)
        features.append({"type": "Feature", "properties": {"score": score},
                         "geometry": geometry})
    vectors = tmp_path / "a.geojson"
    vectors.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    image = plain_png(tmp_path / "val" / "a.png", W, H)
    by_vector = json.loads(run_cli("evaluate", vectors, truth, "--image", image,
                                   "--json").stdout)
    by_results = json.loads(run_cli("evaluate", results, truth, "--json").stdout)
    row = by_results["per_image"]["a.png"]
    assert (row["tp"], row["fp"], row["fn"]) == (by_vector["tp"], by_vector["fp"],
                                                  by_vector["fn"]) == (3, 1, 0)
    assert row["mean_iou"] == pytest.approx(by_vector["mean_iou"], abs=1e-6)


def test_overlapping_masks_are_each_their_own_instance(tmp_path, run_cli):
    """Two overlapping truth buildings, predicted by two overlapping masks: each mask's
    IoU alone (as COCO's), two TPs; their union would match neither."""
    first, second = _box(10, 10, 40, 40), _box(30, 10, 60, 40)
    truth = tmp_path / "annotation.json"
    truth.write_text(json.dumps({
        "images": [{"id": 7, "file_name": "a.png", "width": W, "height": H}],
        "annotations": [{"id": i + 1, "image_id": 7, "category_id": 1,
                         "segmentation": _rle(m)} for i, m in enumerate((first, second))],
        "categories": [{"id": 1, "name": "building"}]}))
    assert shapely.box(10, 10, 40, 40).intersects(shapely.box(30, 10, 60, 40))
    results = _results(tmp_path / "r.json", [(first, 0.9, "compressed"),
                                             (second, 0.8, "compressed")], image_id=7)
    d = json.loads(run_cli("evaluate", results, truth, "--json").stdout)
    assert (d["tp"], d["fp"], d["fn"]) == (2, 0, 0)


def test_per_category_scores(tmp_path, run_cli):
    """Categories of the truth: the total is class-agnostic (SpaceNet), per_class by each
    result's category_id named by the truth's categories."""
    tree = {"image_id": 1, "category_id": 5, "iscrowd": 0,
            "segmentation": _polygon(_box(90, 10, 110, 30))}
    truth = _truth(tmp_path / "annotation.json", categories=[
        {"id": 1, "name": "building"}, {"id": 5, "name": "tree"}], extra=[tree])
    path = tmp_path / "r.json"
    rows = json.loads(_results(path, RESULTS[:3]).read_text())
    rows.append({"image_id": 1, "category_id": 1, "score": 0.5,  # the tree, as building
                 "segmentation": _polygon(_box(90, 10, 110, 30))})
    path.write_text(json.dumps(rows))
    d = json.loads(run_cli("evaluate", path, truth, "--json").stdout)
    assert (d["tp"], d["fp"], d["fn"]) == (3, 1, 2)
    classes = d["per_class"]
    assert (classes["building"]["tp"], classes["building"]["fp"],
            classes["building"]["fn"]) == (2, 2, 2)
    assert (classes["tree"]["tp"], classes["tree"]["fp"], classes["tree"]["fn"]) == (0, 0, 1)


def test_ultralytics_file_stem_image_ids(tmp_path, run_cli):
    """Ultralytics writes image_id as the file stem when it is not a number."""
    truth = _truth(tmp_path / "annotation.json")
    results = _results(tmp_path / "predictions.json", RESULTS[:3], image_id="a")
    d = json.loads(run_cli("evaluate", results, truth, "--json").stdout)
    assert (d["tp"], d["fp"], d["fn"]) == (2, 1, 2)


def test_ultralytics_stems_in_the_other_unicode_form_pair(tmp_path, run_cli):
    """Ultralytics run on macOS writes the stem of Zürich.png decomposed (NFD) as image_id;
    the truth lists it composed (NFC): it was refused ("image_id 'Zürich' name no image"),
    now it pairs as 'a' does."""
    import unicodedata

    truth = _truth(tmp_path / "annotation.json")
    truth.write_text(truth.read_text().replace("val/a.png", "val/Z\\u00fcrich.png"))
    results = _results(tmp_path / "predictions.json", RESULTS[:3],
                       image_id=unicodedata.normalize("NFD", "Z\u00fcrich"))
    result = run_cli("evaluate", results, truth, "--json")
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert (d["tp"], d["fp"], d["fn"]) == (2, 1, 2)


def test_empty_results_and_conf_field(files, tmp_path, run_cli):
    """[] (a model that found nothing): every instance a false negative; --conf-field names
    the key of the confidence ('' file order: the duplicate first then takes A)."""
    results, truth = files
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    d = json.loads(run_cli("evaluate", empty, truth, "--json").stdout)
    assert (d["tp"], d["fp"], d["fn"], d["predictions"]) == (0, 0, 4, 0)
    assert_one_line_error(run_cli("evaluate", results, truth, "--conf-field", "conf"),
                          "result [0] has no 'conf'")
    rows = json.loads(results.read_text())
    rows[0], rows[1] = rows[1], rows[0]
    results.write_text(json.dumps(rows))
    d = json.loads(run_cli("evaluate", results, truth, "--conf-field", "", "--json").stdout)
    assert (d["tp"], d["fp"], d["fn"]) == (3, 1, 1)
    assert d["mean_iou"] < 0.99  # the duplicate (IoU 0.905) matched A


def test_python_api(files):
    from geotile import evaluate_files

    results, truth = files
    scores = evaluate_files(results, truth, min_score=0.1)
    assert (scores.scores.tp, scores.scores.fp, scores.scores.fn) == (2, 1, 2)


@pytest.mark.parametrize(("change", "fragments"), [
    ({"image_id": 9}, ("results.json", "image_id 9", "annotation.json")),
    ({"category_id": 3}, ("results.json", "category_id 3", "1 building")),
    ({"segmentation": {"size": [50, 60], "counts": [0, 3000]}},
     ("results.json", "[50, 60]", "a.png")),
    ({"segmentation": None}, ("results.json", "segmentation", "segm")),
    ({"score": "high"}, ("results.json", "score", "'high'")),
])
def test_refusals(files, run_cli, change, fragments):
    results, truth = files
    rows = json.loads(results.read_text())
    rows[1].update(change)
    results.write_text(json.dumps(rows))
    assert_one_line_error(run_cli("evaluate", results, truth), *fragments)


def test_other_truth_and_options_refused(files, tmp_path, run_cli):
    results, truth = files
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "a.txt").write_text("0 0.1 0.1 0.3 0.1 0.3 0.3\n")
    assert_one_line_error(run_cli("evaluate", results, labels), "results.json",
                          "COCO annotation file", "no image ids")
    assert_one_line_error(run_cli("evaluate", truth, results), "results.json",
                          "as PREDICTION")
    assert_one_line_error(run_cli("evaluate", results, truth, "--report", tmp_path / "r.png"),
                          "--report", code=2)
    vectors = tmp_path / "v.geojson"
    vectors.write_text('{"type": "FeatureCollection", "features": []}')
    assert_one_line_error(run_cli("evaluate", vectors, truth, "--min-score", "0.5"),
                          "--min-score", code=2)


def test_ultralytics_numeric_stems_are_not_taken_for_other_images_ids(tmp_path, run_cli):
    """Ultralytics writes image_id int(stem) for a numeric stem (1.png: 1): against a truth
    numbering its images otherwise (1.png id 0, 2.png id 1), the results are paired by
    stem where ids cannot pair them all; where both could, refused in one line."""
    document = json.loads(_truth(tmp_path / "t.json").read_text())
    for image, name in zip(document["images"], ("val/1.png", "val/2.png"), strict=True):
        image["file_name"] = name
        image["id"] -= 1
    for annotation in document["annotations"]:
        annotation["image_id"] -= 1
    truth = tmp_path / "annotation.json"
    truth.write_text(json.dumps(document))
    rows = json.loads(_results(tmp_path / "a.json", RESULTS[:3], image_id=1).read_text())
    rows.append({**rows[0], "image_id": 2, "segmentation": _rle(D)})  # 2.png's: no id 2
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps(rows))
    d = json.loads(run_cli("evaluate", path, truth, "--json").stdout)
    rows_of = d["per_image"]
    assert [(rows_of[n]["tp"], rows_of[n]["fp"], rows_of[n]["fn"])
            for n in ("1.png", "2.png")] == [(2, 1, 1), (1, 0, 0)]
    detectron = _results(tmp_path / "ids.json", RESULTS[:3], image_id=0)  # ids: 0 no stem
    d = json.loads(run_cli("evaluate", detectron, truth, "--json").stdout)
    assert (d["per_image"]["1.png"]["tp"], d["per_image"]["2.png"]["fp"]) == (2, 0)
    ambiguous = _results(tmp_path / "either.json", RESULTS[:3], image_id=1)
    assert_one_line_error(run_cli("evaluate", ambiguous, truth), "either.json",
                          "image_id 1", "val/2.png", "val/1.png")


def test_gzip_compressed_results(files, tmp_path, run_cli):
    """results.json.gz (a gzipped detectron2 file) scores as the plain file; a broken gzip
    is refused in one line naming it."""
    import gzip

    results, truth = files
    packed = tmp_path / "coco_instances_results.json.gz"
    packed.write_bytes(gzip.compress(results.read_bytes()))
    result = run_cli("evaluate", packed, truth, "--min-score", "0.1", "--json")
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert (d["tp"], d["fp"], d["fn"]) == (2, 1, 2)
    assert_one_line_error(run_cli("evaluate", truth, packed), "json.gz", "as PREDICTION")
    packed.write_bytes(gzip.compress(results.read_bytes())[:200])
    assert_one_line_error(run_cli("evaluate", packed, truth), "coco_instances_results.json.gz")


def _outline_one_by_one(mask: np.ndarray):
    """An RLE mask's polygons as geotile drew them one mask at a time: rasterio's shapes
    of its crop, their union, drawn RLE_INSET inside."""
    from affine import Affine

    from geotile.coco_labels import RLE_INSET

    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return None
    part = np.ascontiguousarray(mask[rows[0]:rows[-1] + 1, columns[0]:columns[-1] + 1])
    polygons = [shapely.geometry.shape(g) for g, _ in shapes(
        part.astype(np.uint8), mask=part, transform=Affine.translation(columns[0], rows[0]))]
    return shapely.buffer(shapely.union_all(polygons), -RLE_INSET, join_style="mitre")


def test_masks_outlined_together_as_one_by_one():
    """Random masks (holes, several parts, parts touching at a corner, the image's edges,
    none) outlined side by side on one canvas are the polygons of each alone, exactly."""
    from geotile import coco_labels
    from geotile.coco_labels import rle_outlines, rle_pieces

    rng = np.random.default_rng(7)
    masks = [rng.random((H, W)) < 0.002]  # scattered single pixels
    for _ in range(40):
        mask = np.zeros((H, W), bool)
        y, x = rng.integers(0, H - 8), rng.integers(0, W - 8)
        h, w = rng.integers(1, 40, 2)
        mask[y:y + h, x:x + w] = rng.random((min(h, H - y), min(w, W - x))) < 0.7
        masks.append(mask)
    masks += [np.zeros((H, W), bool), np.ones((H, W), bool), np.eye(H, W, dtype=bool)]
    pieces = [rle_pieces(_runs(m), H) for m in masks]
    for pixels in (coco_labels.OUTLINE_PIXELS, 2000):  # one canvas; many
        coco_labels.OUTLINE_PIXELS, before = pixels, coco_labels.OUTLINE_PIXELS
        try:
            together = rle_outlines(pieces)
        finally:
            coco_labels.OUTLINE_PIXELS = before
        for mask, outline in zip(masks, together, strict=True):
            alone = _outline_one_by_one(mask)
            if alone is None:
                assert outline is None
            else:
                assert shapely.equals_exact(outline, alone), (outline, alone)
