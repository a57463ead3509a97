"""evaluate: the SpaceNet object metric and pixel metrics."""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from geotile.errors import InputError
from geotile.evaluate import evaluate_files, match_polygons

from .conftest import UTM_CRS


def brute_force(pred, truth, threshold):
    """Independent SpaceNet matcher: greedy in prediction order over an IoU matrix."""
    matrix = np.array([[p.intersection(t).area / p.union(t).area for t in truth] for p in pred])
    free = np.ones(len(truth), bool)
    tp = 0
    for row in matrix:
        scores = np.where(free, row, -1)
        if scores.size and scores.max() > threshold:
            free[scores.argmax()] = False
            tp += 1
    return tp, len(pred) - tp, int(free.sum())


def test_published_spacenet_score_of_shared_files(real_data):
    pred = real_data / "spacenet" / "pred.geojson"
    truth = real_data / "spacenet" / "gt.geojson"
    result = evaluate_files(pred, truth)
    # solaris' own test scores exactly these files: TP 8, FP 20, FN 20, F1 0.2857
    assert (result["tp"], result["fp"], result["fn"]) == (8, 20, 20)
    assert result["f1"] == pytest.approx(0.2857142857142857)
    p = gpd.read_file(pred).sort_values("conf", ascending=False, kind="stable")
    t = gpd.read_file(truth)
    assert brute_force(list(p.geometry.buffer(0)), list(t.geometry.buffer(0)), 0.5) == (8, 20, 20)


def box(x, y, size=10):
    return shapely.box(x, y, x + size, y + size)


def test_matching_rules():
    truth = [box(0, 0), box(100, 100)]
    assert match_polygons([box(0, 0), box(100, 100)], truth).f1 == 1.0
    shifted = match_polygons([box(3, 0)], truth)  # IoU 70/130 = 0.54 > 0.5
    assert (shifted.tp, shifted.fp, shifted.fn) == (1, 0, 1)
    far = match_polygons([box(5, 0)], truth)  # IoU 50/150 = 0.33
    assert (far.tp, far.fp, far.fn) == (0, 1, 2)
    twice = match_polygons([box(0, 0), box(1, 0)], truth)  # one truth, two predictions
    assert (twice.tp, twice.fp, twice.fn) == (1, 1, 1)
    exact = match_polygons([shapely.box(0, 0, 10, 20)], [shapely.box(0, 0, 10, 10)])
    assert exact.tp == 0  # IoU exactly 0.5 is not > 0.5
    empty = match_polygons([], truth)
    assert (empty.tp, empty.fp, empty.fn, empty.f1) == (0, 0, 2, 0.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_brute_force_on_random_scenes(seed):
    rng = np.random.default_rng(seed)
    truth = [box(*xy, s) for xy, s in zip(rng.uniform(0, 200, (40, 2)), rng.uniform(5, 15, 40),
                                          strict=True)]
    pred = [shapely.affinity.translate(t, *rng.normal(0, 3, 2)) for t in truth[:30]] + \
        [box(*xy) for xy in rng.uniform(0, 200, (10, 2))]
    scores = match_polygons(pred, truth)
    assert (scores.tp, scores.fp, scores.fn) == brute_force(pred, truth, 0.5)


def test_reprojection_and_empty_prediction(tmp_path):
    truth = gpd.GeoDataFrame(geometry=[box(500000, 3700000), box(500100, 3700100)], crs=UTM_CRS)
    truth.to_file(tmp_path / "t.geojson")
    truth.to_crs(4326).to_file(tmp_path / "p.geojson")
    result = evaluate_files(tmp_path / "p.geojson", tmp_path / "t.geojson")
    assert (result["tp"], result["fp"], result["fn"]) == (2, 0, 0)
    (tmp_path / "none.geojson").write_text('{"type": "FeatureCollection", "features": []}')
    result = evaluate_files(tmp_path / "none.geojson", tmp_path / "t.geojson")
    assert (result["tp"], result["fp"], result["fn"], result["f1"]) == (0, 0, 2, 0.0)


def test_per_class(tmp_path):
    truth = gpd.GeoDataFrame({"kind": ["a", "b"]}, geometry=[box(0, 0), box(50, 50)],
                             crs=UTM_CRS)
    pred = gpd.GeoDataFrame({"kind": ["a", "a"]}, geometry=[box(0, 0), box(50, 50)], crs=UTM_CRS)
    truth.to_file(tmp_path / "t.gpkg")
    pred.to_file(tmp_path / "p.gpkg")
    result = evaluate_files(tmp_path / "p.gpkg", tmp_path / "t.gpkg", class_field="kind")
    assert result["per_class"]["a"]["tp"] == 1 and result["per_class"]["a"]["fp"] == 1
    assert result["per_class"]["b"]["fn"] == 1


def test_pixel_scores_match_numpy(make_raster):
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 3, (70, 90)).astype(np.uint8)
    pred = np.where(rng.random((70, 90)) < 0.8, truth, rng.integers(0, 3, (70, 90))).astype(
        np.uint8)
    t = make_raster("t.tif", truth)
    p = make_raster("p.tif", pred)
    result = evaluate_files(p, t)
    expected = np.zeros((3, 3), int)
    for a, b in zip(truth.ravel(), pred.ravel(), strict=True):
        expected[a, b] += 1
    assert result["confusion_matrix"] == expected.tolist()
    for c in range(3):
        tp = expected[c, c]
        assert result["classes"][c]["iou"] == pytest.approx(
            tp / (expected[c].sum() + expected[:, c].sum() - tp))


def test_probability_raster_is_thresholded_and_nodata_excluded(make_raster, tmp_path):
    truth = np.zeros((10, 10), np.uint8)
    truth[:, :5] = 1
    probability = np.where(truth == 1, 0.9, 0.2).astype(np.float32)
    probability[0, :] = np.nan  # nodata row
    t = make_raster("t.tif", truth)
    p = make_raster("p.tif", probability, nodata=float("nan"))
    result = evaluate_files(p, t)
    assert result["pixels"] == 90
    assert result["classes"][1]["iou"] == 1.0
    strict = evaluate_files(p, t, threshold=0.95)
    assert strict["classes"][1]["iou"] == 0.0


def test_grid_mismatch_and_mixed_kinds(make_raster, tmp_path):
    a = make_raster("a.tif", np.zeros((10, 10), np.uint8))
    b = make_raster("b.tif", np.zeros((10, 10), np.uint8), transform=from_origin(0, 0, 1, 1))
    with pytest.raises(InputError, match="not on the same grid"):
        evaluate_files(a, b)
    gpd.GeoDataFrame(geometry=[box(0, 0)], crs=UTM_CRS).to_file(tmp_path / "v.geojson")
    with pytest.raises(InputError, match="compare like with like"):
        evaluate_files(a, tmp_path / "v.geojson")


def test_report_png(tmp_path, make_raster):
    from geotile.report import write_report

    truth = gpd.GeoDataFrame(geometry=[box(740000, 3734900), box(740030, 3734930)], crs=UTM_CRS)
    pred = gpd.GeoDataFrame(geometry=[box(740000, 3734900), box(740060, 3734960)], crs=UTM_CRS)
    truth.to_file(tmp_path / "t.geojson")
    pred.to_file(tmp_path / "p.geojson")
    image = make_raster("img.tif", np.full((3, 200, 200), 90, np.uint8))
    result = evaluate_files(tmp_path / "p.geojson", tmp_path / "t.geojson")
    write_report(result, tmp_path / "r.png", image)
    with rasterio.open(tmp_path / "r.png") as png:
        assert png.width == 200 and png.height == 200 + 18
        pixels = png.read()
    colours = {tuple(pixels[:, r, c]) for r, c in itertools.product(range(200), range(200))}
    assert {(40, 220, 60), (235, 40, 40), (255, 220, 0)} <= colours
