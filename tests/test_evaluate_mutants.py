"""Scores that hand-made mutants of evaluate's scoring changed without a test noticing:
each expected value is worked out by hand on a tiny input."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geotile.evaluate import evaluate_rasters, pixel_scores
from geotile.line_metrics import line_scores
from geotile.object_scores import evaluate_vectors, match_polygons
from geotile.spacenet_scoring import evaluate_csvs

from .conftest import UTM_CRS, UTM_ORIGIN
from .test_spacenet import square, write_rows

X0, Y0 = UTM_ORIGIN


def box(x, y, size=10.0):
    return shapely.box(X0 + x, Y0 + y, X0 + x + size, Y0 + y + size)


def write(path, geometries, **columns):
    gpd.GeoDataFrame(columns, geometry=list(geometries), crs=UTM_CRS).to_file(path)
    return path


# ----------------------------------------------------------------- objects


def test_equal_confidences_keep_file_order_however_many(tmp_path):
    # 40 proposals, every third of confidence 0.9 and the others 0.5, all the same square
    # as the one truth polygon: scored 0.9s first, each tie in file order (a sort that is
    # not stable reorders ties for n > 16), so proposal 0 takes the truth polygon
    truth = write(tmp_path / "t.geojson", [box(0, 0)])
    n = 40
    conf = [0.9 if i % 3 == 0 else 0.5 for i in range(n)]
    pred = write(tmp_path / "p.geojson", [box(0, 0)] * n, conf=conf, id=list(range(n)))
    result = evaluate_vectors(pred, truth)
    expected = list(range(0, n, 3)) + [i for i in range(n) if i % 3]
    assert result.prediction["id"].tolist() == expected
    (match,) = result.scores.matches
    assert (match.pred, match.truth) == (0, 0)
    assert (result.scores.tp, result.scores.fp, result.scores.fn) == (1, n - 1, 0)


def test_scores_without_truth_or_without_predictions_are_0_not_undefined():
    nothing_true = match_polygons([box(0, 0)], [])
    assert (nothing_true.tp, nothing_true.fp, nothing_true.fn) == (0, 1, 0)
    assert nothing_true.as_dict()["recall"] == 0.0
    assert nothing_true.as_dict()["precision"] == 0.0
    assert nothing_true.as_dict()["f1"] == 0.0
    nothing_predicted = match_polygons([], [box(0, 0)])
    assert (nothing_predicted.tp, nothing_predicted.fp, nothing_predicted.fn) == (0, 0, 1)
    assert nothing_predicted.as_dict()["precision"] == 0.0
    assert nothing_predicted.as_dict()["recall"] == 0.0


def test_min_area_keeps_truth_of_exactly_that_area_and_drops_such_predictions(tmp_path):
    # SpaceNet: truth of area < min_area and predictions of area <= min_area left out; a
    # 10 m x 10 m square is 100 m^2 exactly in UTM
    truth = write(tmp_path / "t.geojson", [box(0, 0)])
    pred = write(tmp_path / "p.geojson", [box(0, 0)])
    result = evaluate_vectors(pred, truth, min_area=100.0)
    assert (result.scores.tp, result.scores.fp, result.scores.fn) == (0, 0, 1)
    assert (len(result.prediction), len(result.truth)) == (0, 1)
    just_below = evaluate_vectors(pred, truth, min_area=99.99)
    assert (just_below.scores.tp, just_below.scores.fp, just_below.scores.fn) == (1, 0, 0)


def test_crowd_regions_leave_out_unmatched_predictions_more_than_half_inside(tmp_path):
    # ignored (crowd) regions: an unmatched prediction is left out when more than half of
    # its area lies inside one; exactly half, or a tenth, is still a false positive; a
    # matched prediction stays a true positive however much of it is inside
    truth = write(tmp_path / "t.geojson", [box(0, 0)])
    pred = write(tmp_path / "p.geojson", [box(0, 0), box(100, 0), box(200, 0), box(300, 0)],
                 id=[0, 1, 2, 3])
    ignored = np.array([box(-5, -5, 20),                              # all of 0 (matched)
                        shapely.box(X0 + 95, Y0 - 5, X0 + 105, Y0 + 15),  # half of 1
                        shapely.box(X0 + 195, Y0 - 5, X0 + 206, Y0 + 15),  # 0.6 of 2
                        shapely.box(X0 + 295, Y0 - 5, X0 + 301, Y0 + 15)],  # 0.1 of 3
                       dtype=object)
    result = evaluate_vectors(pred, truth, ignored=ignored)
    assert result.prediction["id"].tolist() == [0, 1, 3]
    assert (result.scores.tp, result.scores.fp, result.scores.fn) == (1, 2, 0)


def test_an_invalid_truth_polygon_is_never_matched_though_geos_gives_it_an_overlap():
    # a hole outside its shell: invalid; GEOS still intersects it with the square (area
    # 100 of its 99.5), an IoU over 1 were it paired: SpaceNet scores it IoU 0
    square = box(0, 0)
    outside = shapely.Polygon(square.exterior, [box(20, 20, 1).exterior])
    assert not outside.is_valid
    scores = match_polygons([square], [outside])
    assert (scores.tp, scores.fp, scores.fn) == (0, 1, 1)
    assert scores.matches == []


def test_mean_iou_is_the_mean_over_the_matches():
    # IoUs 1, 1 and 75 / 125 = 0.6 (a 10 m square shifted 2.5 m): mean 2.6 / 3
    truth = [box(0, 0), box(100, 0), box(200, 0)]
    pred = [box(0, 0), box(100, 0), box(202.5, 0)]
    scores = match_polygons(pred, truth)
    assert [m.iou for m in scores.matches] == pytest.approx([1.0, 1.0, 0.6])
    assert scores.mean_iou == pytest.approx(2.6 / 3)
    assert scores.as_dict()["mean_iou"] == pytest.approx(2.6 / 3)


# ----------------------------------------------------------------- SpaceNet CSVs




def test_spacenet_csvs_min_area_bounds_missing_confidence_and_ties(tmp_path):
    n = 20  # ties of confidence among more than 16 proposals: file order still
    truth = write_rows(tmp_path / "truth.csv", ["ImageId", "BuildingId", "PolygonWKT_Pix"], [
        ["img1", 0, square(0, 0, 5)],                      # 25 px^2: kept at min_area 25
        ["img2", 0, "POLYGON ((0 0, 10 0, 20 0, 0 0))"],   # zero area: no object at all
        ["img3", 0, square(0, 0, 10)],
        ["img4", 0, square(0, 0, 10)],
    ])
    proposals = write_rows(
        tmp_path / "proposals.csv", ["ImageId", "BuildingId", "PolygonWKT_Pix", "Confidence"], [
            ["img1", 0, square(0, 0, 5), 1],                   # 25 px^2: left out (<=)
            ["img3", 0, square(0, 0, 10), ""],                  # no confidence: scored last
            ["img3", 1, shapely.box(0, 0, 10, 6).wkt, 0.5],     # IoU 0.6, scored first
            *[["img4", i, square(0, 0, 10), 0.9 if i % 3 == 0 else 0.5] for i in range(n)],
            ["img5", 0, square(0, 0, 10), 1],                   # no truth: a false positive
        ])
    result = evaluate_csvs(proposals, truth, min_area=25)
    images = result.per_image
    assert (images["img1"].tp, images["img1"].fp, images["img1"].fn) == (0, 0, 1)
    assert (images["img2"].tp, images["img2"].fp, images["img2"].fn) == (0, 0, 0)
    assert (images["img3"].tp, images["img3"].fp, images["img3"].fn) == (1, 1, 0)
    assert images["img3"].matches[0].iou == pytest.approx(0.6)
    rows = result.rows["img4"][0]
    assert (rows - rows.min()).tolist() == list(range(0, n, 3)) + [i for i in range(n) if i % 3]
    assert (images["img4"].tp, images["img4"].fp, images["img4"].fn) == (1, n - 1, 0)
    s = result.scores
    assert (images["img5"].tp, images["img5"].fp, images["img5"].fn) == (0, 1, 0)
    assert (s.tp, s.fp, s.fn) == (2, n + 1, 1)
    d = result.as_dict()
    assert (d["predictions"], d["truths"], d["images"]) == (3 + n, 3, 5)
    # at min_area 0 the zero-area truth polygon is still no object (never a false negative)
    zero = evaluate_csvs(proposals, truth, min_area=0).per_image["img2"]
    assert (zero.tp, zero.fp, zero.fn) == (0, 0, 0)


# ----------------------------------------------------------------- pixels


def test_pixel_scores_of_a_three_class_grid_by_hand():
    truth = np.array([[0, 1], [1, 2]])
    prediction = np.array([[0, 1], [2, 2]])
    scores = pixel_scores(prediction, truth)
    # rows truth, columns prediction: the truth's 1 predicted as 2 is row 1, column 2
    assert scores.confusion.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
    d = scores.as_dict()
    zero, one, two = d["classes"]
    assert (zero["iou"], zero["precision"], zero["recall"], zero["f1"]) == (1, 1, 1, 1)
    # class 1: TP 1, FP 0, FN 1; class 2: TP 1, FP 1, FN 0
    assert (one["iou"], one["precision"], one["recall"]) == (0.5, 1.0, 0.5)
    assert (two["iou"], two["precision"], two["recall"]) == (0.5, 0.5, 1.0)
    assert one["f1"] == pytest.approx(2 / 3) and two["f1"] == pytest.approx(2 / 3)
    assert (one["support"], one["predicted"], two["support"], two["predicted"]) == (2, 1, 1, 2)
    assert [c["class"] for c in d["classes"]] == ["background", "1", "2"]
    assert d["accuracy"] == 0.75 and d["pixels"] == 4
    assert d["mean_iou"] == pytest.approx(2 / 3)


def test_a_class_never_predicted_scores_0_and_an_absent_one_is_undefined():
    scores = pixel_scores(np.array([[0, 0]]), np.array([[0, 1]]),
                          class_names=["background", "building", "road"])
    background, building, road = scores.as_dict()["classes"]
    assert background["iou"] == 0.5 and background["precision"] == 0.5
    # TP 0, FP 0, FN 1: precision 0 (not undefined), recall 0, F1 0, IoU 0
    assert (building["iou"], building["precision"], building["recall"], building["f1"]) == (
        0.0, 0.0, 0.0, 0.0)
    assert building["class"] == "building"
    # nothing of it anywhere: NaN, and left out of the mean IoU
    assert all(np.isnan(road[k]) for k in ("iou", "precision", "recall", "f1"))
    assert scores.as_dict()["mean_iou"] == 0.25


def test_nodata_pixels_are_not_scored():
    # a float prediction's NaN is nodata, also where a valid mask says the pixel counts
    scores = pixel_scores(np.array([[0.0, np.nan, 1.0]]), np.array([[0, 1, 1]]),
                          valid=np.array([[True, True, True]]))
    assert scores.confusion.tolist() == [[1, 0], [0, 1]]
    assert scores.pixels == 2 and scores.accuracy == 1.0
    # a masked array: its masked pixels and its NaN are both nodata
    masked = np.ma.masked_array([[0.0, np.nan, 1.0, 1.0]], mask=[[False, False, False, True]])
    assert pixel_scores(masked, np.array([[0, 1, 1, 0]])).confusion.tolist() == [[1, 0], [0, 1]]
    # a 0/1 valid mask: 1 counts (non-zero), not only 255
    some = pixel_scores(np.array([[0, 1, 1]]), np.array([[0, 1, 0]]),
                        valid=np.array([[1, 1, 0]], np.uint8))
    assert some.confusion.tolist() == [[1, 0], [0, 1]]
    nothing = pixel_scores(np.array([[0, 1]]), np.array([[0, 1]]), valid=np.zeros((1, 2)))
    assert nothing.pixels == 0 and np.isnan(nothing.accuracy)
    assert np.isnan(nothing.as_dict()["mean_iou"])


def test_raster_counts_add_up_over_blocks(make_raster):
    # 1100 columns, tiled: two 1024 px blocks; each holds one TP pixel, one FP, one FN
    truth = np.zeros((16, 1100), np.uint8)
    prediction = np.zeros((16, 1100), np.uint8)
    for c in (10, 1050):
        truth[1, c] = prediction[1, c] = 1
        prediction[2, c] = 1
        truth[3, c] = 1
    tiled = {"tiled": True, "blockxsize": 16, "blockysize": 16}
    scores = evaluate_rasters(make_raster("p.tif", prediction, **tiled),
                              make_raster("t.tif", truth, **tiled))
    assert scores.confusion.tolist() == [[16 * 1100 - 6, 2], [2, 2]]
    building = scores.classes()[1]
    # TP 2, FP 2, FN 2
    assert building["iou"] == pytest.approx(1 / 3)
    assert (building["precision"], building["recall"]) == (0.5, 0.5)


# ----------------------------------------------------------------- lines


def test_line_scores_by_hand():
    # the predicted line runs 20 along y = 0, the true one 10 along y = 1 and 10 along
    # y = 50: within 1.5 of the first true line lies x in [0, 10 + sqrt(1.5^2 - 1)]
    predicted = [shapely.LineString([(0, 0), (20, 0)])]
    truth = [shapely.LineString([(0, 1), (10, 1)]), shapely.LineString([(0, 50), (10, 50)])]
    s = line_scores(predicted, truth, buffer=1.5)
    reach = 10 + np.sqrt(1.25)
    assert (s.predicted_length, s.true_length) == (20.0, 20.0)
    assert s.matched_predicted_length == pytest.approx(reach)
    assert s.matched_true_length == pytest.approx(10.0)
    assert s.precision == pytest.approx(reach / 20)
    assert s.recall == pytest.approx(0.5)
    p, r = reach / 20, 0.5
    assert s.f1 == pytest.approx(2 * p * r / (p + r))
    assert (s.predictions, s.truths) == (1, 2)
    # a line drawn twice counts once
    twice = line_scores(predicted * 2, truth, buffer=1.5)
    assert twice.predicted_length == 20.0 and twice.precision == pytest.approx(reach / 20)
    # ... also a copy 0.01 off (under buffer / 100 = 0.015): reprojected or from a tile overlap
    near = line_scores([*predicted, shapely.LineString([(0, 0.01), (20, 0.01)])], truth,
                       buffer=1.5)
    assert near.predicted_length == pytest.approx(20.0)
    assert near.precision == pytest.approx(reach / 20, rel=1e-3)


def test_line_scores_without_truth_are_0():
    s = line_scores([shapely.LineString([(0, 0), (20, 0)])], [], buffer=2.0)
    assert (s.precision, s.recall, s.f1) == (0.0, 0.0, 0.0)
    assert s.as_dict()["recall"] == 0.0
