"""The definitions behind evaluate's numbers, as --help states them beside the reference
implementations users compare with (mmsegmentation's IoUMetric, torchmetrics, sklearn,
solaris): expected values worked out by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest

from geotile.evaluate import evaluate_rasters, pixel_scores
from geotile.folder_evaluation import evaluate_folders

from .conftest import write_raster


def test_mean_iou_is_mmseg_nanmean_over_classes_on_either_side():
    # class 3 predicted only, 4 on neither side, 5 true only
    truth = np.array([[0, 0, 1, 1, 2, 2, 5]])
    pred = np.array([[0, 1, 1, 1, 2, 3, 0]])
    d = pixel_scores(pred, truth).as_dict()
    by_id = {c["class_id"]: c for c in d["classes"]}
    assert [by_id[k]["iou"] for k in (0, 1, 2, 3, 5)] == pytest.approx([1 / 3, 2 / 3, 1 / 2,
                                                                        0, 0])
    assert np.isnan(by_id[4]["iou"])  # 0/0: left out of the mean, as mmseg's nanmean
    assert d["mean_iou"] == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 5)  # 0.3, background in
    assert d["accuracy"] == pytest.approx(4 / 7)  # pooled: mmseg's aAcc
    # never predicted (5): precision 0, not NaN; never true (3): recall 0
    assert (by_id[5]["precision"], by_id[5]["recall"], by_id[5]["f1"]) == (0, 0, 0)
    assert (by_id[3]["precision"], by_id[3]["recall"], by_id[3]["f1"]) == (0, 0, 0)
    assert [by_id[k]["support"] for k in range(6)] == [2, 2, 2, 0, 0, 1]


def test_probability_on_the_threshold_is_the_class(tmp_path):
    prob = np.array([[0.5, 0.49], [1.0, 0.0]], np.float32)
    truth = np.array([[1, 0], [1, 0]], np.uint8)
    p, t = write_raster(tmp_path / "p.tif", prob), write_raster(tmp_path / "t.tif", truth)
    d = evaluate_rasters(p, t).as_dict()  # p >= 0.5 (torchmetrics' p > 0.5 would miss one)
    assert d["accuracy"] == 1.0 and d["confusion_matrix"] == [[2, 0], [0, 2]]


def test_folder_totals_pool_pixels_not_average_images(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "t").mkdir()
    for name, pred, truth in (("a", [[1, 1], [1, 1]], [[1, 1], [1, 1]]),
                              ("b", [[1, 1], [0, 0]], [[0, 0], [0, 1]])):
        write_raster(tmp_path / "p" / f"{name}.tif", np.array(pred, np.uint8))
        write_raster(tmp_path / "t" / f"{name}.tif", np.array(truth, np.uint8))
    d = json.loads(json.dumps(evaluate_folders(tmp_path / "p", tmp_path / "t").as_dict(),
                              default=float))
    assert d["per_image"]["a"]["mean_iou"] == 1.0
    assert d["per_image"]["b"]["mean_iou"] == pytest.approx((1 / 4 + 0) / 2)
    # pooled: class 1 TP 4 FP 2 FN 1, class 0 TP 1 FP 1 FN 2 (not (1 + 0.125) / 2)
    assert d["mean_iou"] == pytest.approx((4 / 7 + 1 / 4) / 2)
    assert d["foreground"]["iou"] == pytest.approx(4 / 7)


def test_help_names_the_definitions(run_cli):
    result = run_cli("evaluate", "--help")
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for said in ("mmseg's mIoU", "background included", "mmseg's aAcc",
                 "torchmetrics: p > threshold", "not a mean of per-image scores",
                 "ignore_index", "0 (mmseg: NaN)"):
        assert said in text, said
    assert max(map(len, result.output.splitlines())) <= 80
