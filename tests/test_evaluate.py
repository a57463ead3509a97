"""evaluate: the SpaceNet object metric (as solaris scores it) and pixel metrics."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from geotile.errors import GeotileWarning, InputError
from geotile.evaluate import (
    confusion_matrix,
    evaluate_rasters,
    pixel_scores,
)
from geotile.evaluate_modes import evaluate_files
from geotile.object_scores import match_polygons

from .conftest import UTM_CRS, UTM_ORIGIN, without_crs

X0, Y0 = UTM_ORIGIN


def brute_force(pred, truth, threshold):
    """Independent SpaceNet matcher: the full IoU matrix (shapely union), predictions in the
    given order, each taking the free truth of highest IoU (first on ties) when IoU > threshold.
    Returns (TP, FP, FN, [(pred, truth), ...])."""
    pred = [p if p.is_valid else p.buffer(0) for p in pred]
    matrix = np.zeros((len(pred), len(truth)))
    for i, p in enumerate(pred):
        for j, t in enumerate(truth):
            if p.is_valid and t.is_valid and p.intersects(t):
                matrix[i, j] = p.intersection(t).area / p.union(t).area
    free = np.ones(len(truth), bool)
    pairs = []
    for i, row in enumerate(matrix):
        scores = np.where(free, row, -1.0)
        if scores.size and scores.max() > threshold:
            j = int(np.argmax(scores))  # argmax: the first of equal maxima
            free[j] = False
            pairs.append((i, j))
    return len(pairs), len(pred) - len(pairs), int(free.sum()), pairs


def box(x, y, size=10.0):
    return shapely.box(x, y, x + size, y + size)


def frame(geometries, crs=UTM_CRS, **columns):
    return gpd.GeoDataFrame(columns, geometry=list(geometries), crs=crs)


# ----------------------------------------------------------------- the published scoring


def test_published_spacenet_score_of_shared_files(real_data):
    pred = real_data / "spacenet" / "pred.geojson"
    truth = real_data / "spacenet" / "gt.geojson"
    result = evaluate_files(pred, truth)
    # solaris tests/test_eval/evaluator_test.py::test_score_proposals scores these two files:
    # TruePos 8, FalsePos 20, FalseNeg 20, Precision = Recall = F1 = 0.2857142857142857
    s = result.scores
    assert (s.tp, s.fp, s.fn) == (8, 20, 20)
    assert s.precision == s.recall == s.f1 == pytest.approx(0.2857142857142857, abs=1e-15)
    p = gpd.read_file(pred).sort_values("conf", ascending=False, kind="stable")
    t = gpd.read_file(truth)
    tp, fp, fn, pairs = brute_force(list(p.geometry), list(t.geometry), 0.5)
    assert (tp, fp, fn) == (8, 20, 20)
    assert sorted((m.pred, m.truth) for m in s.matches) == sorted(pairs)


def test_published_iou_values(real_data):
    """solaris tests/test_eval/iou_test.py: this polygon's first overlap is ground truth row 27
    with IoU 0.073499798744833519, and the second polygon's best match is row 21."""
    truth = gpd.read_file(real_data / "spacenet" / "gt.geojson").geometry
    overlap = shapely.Polygon([(736348.0, 3722762.5), (736353.0, 3722762.0),
                               (736354.0, 3722759.0), (736352.0, 3722755.5),
                               (736348.5, 3722755.5), (736346.0, 3722757.5)])
    scores = match_polygons([overlap], truth, iou=0.05)
    assert [m.truth for m in scores.matches] == [27]
    assert scores.matches[0].iou == pytest.approx(0.073499798744833519, rel=1e-12)
    best = shapely.Polygon([
        (736414.0, 3722573.0), (736417.5, 3722572.5), (736420.0, 3722568.0),
        (736421.0, 3722556.0), (736418.5, 3722538.0), (736424.0, 3722532.5),
        (736424.0, 3722527.0), (736422.5, 3722525.5), (736412.0, 3722524.0),
        (736410.5, 3722521.5), (736407.0, 3722520.5), (736383.5, 3722521.0),
        (736376.5, 3722528.5), (736378.0, 3722532.5), (736402.0, 3722532.0),
        (736410.0, 3722539.0), (736411.0, 3722544.0), (736408.5, 3722553.5),
        (736409.0, 3722569.0)])
    assert [m.truth for m in match_polygons([best], truth, iou=0.0).matches] == [21]


# ----------------------------------------------------------------- matching rules


def test_perfect_match_and_shift_around_the_threshold():
    truth = [box(0, 0), box(100, 100)]
    perfect = match_polygons([box(0, 0), box(100, 100)], truth)
    assert (perfect.tp, perfect.fp, perfect.fn, perfect.f1, perfect.mean_iou) == (2, 0, 0, 1, 1)
    above = match_polygons([box(3, 0)], truth)  # IoU 70/130 = 0.538
    assert (above.tp, above.fp, above.fn) == (1, 0, 1)
    assert above.matches[0].iou == pytest.approx(70 / 130)
    below = match_polygons([box(4, 0)], truth)  # IoU 60/140 = 0.43
    assert (below.tp, below.fp, below.fn) == (0, 1, 2)
    assert match_polygons([box(4, 0)], truth, iou=0.4).tp == 1


def test_iou_equal_to_the_threshold_is_not_a_match():
    # IoU exactly 100/200 = 0.5: solaris requires IoU > miniou
    exact = match_polygons([shapely.box(0, 0, 10, 20)], [shapely.box(0, 0, 10, 10)])
    assert (exact.tp, exact.fp, exact.fn) == (0, 1, 1)


def test_one_to_one_and_tie_breaking():
    truth = [box(0, 0), box(100, 100)]
    twice = match_polygons([box(0, 0), box(1, 0)], truth)  # two predictions on one truth
    assert (twice.tp, twice.fp, twice.fn) == (1, 1, 1)
    assert [(m.pred, m.truth) for m in twice.matches] == [(0, 0)]
    # the first prediction takes the truth even when a later one fits it better
    order = match_polygons([box(1, 0), box(0, 0)], truth)
    assert [(m.pred, m.truth) for m in order.matches] == [(0, 0)]
    # equal IoUs: the first truth polygon in file order wins, the duplicate stays a FN
    duplicates = [box(50, 50), box(0, 0), box(0, 0)]
    tie = match_polygons([box(0, 0)], duplicates)
    assert [(m.pred, m.truth) for m in tie.matches] == [(0, 1)]
    both = match_polygons([box(0, 0), box(0, 0)], duplicates)
    assert [(m.pred, m.truth) for m in both.matches] == [(0, 1), (1, 2)]


def test_invalid_polygons_follow_solaris():
    square = box(0, 0)
    # a zero-width spike makes the ring self-intersect; buffer(0) removes it
    spiked = shapely.Polygon([(0, 0), (10, 0), (10, 10), (5, 10), (5, 15), (5, 10), (0, 10)])
    assert not spiked.is_valid
    repaired = match_polygons([spiked], [square])
    assert (repaired.tp, repaired.fp, repaired.fn) == (1, 0, 0)
    # an invalid truth polygon scores IoU 0 with everything ...
    unmatched = match_polygons([square], [spiked])
    assert (unmatched.tp, unmatched.fp, unmatched.fn) == (0, 1, 1)
    # ... unless the truth is repaired as well
    assert match_polygons([square], [spiked], repair_truth=True).tp == 1


def test_empty_and_missing_geometries():
    truth = [box(0, 0), box(100, 100)]
    empty = match_polygons([], truth)
    assert (empty.tp, empty.fp, empty.fn, empty.precision, empty.f1) == (0, 0, 2, 0, 0)
    nothing_true = match_polygons([box(0, 0)], [])
    assert (nothing_true.tp, nothing_true.fp, nothing_true.fn, nothing_true.f1) == (1 - 1, 1, 0, 0)
    holes = match_polygons([None, shapely.Polygon(), box(0, 0)], truth)
    assert (holes.tp, holes.fp, holes.fn) == (1, 2, 1)


def test_match_polygons_reproject_the_predictions_to_the_truths_crs():
    """Predictions in EPSG:4326 against a UTM truth scored TP 0 (every one a false positive
    and every truth a false negative) without a word; they are reprojected as evaluate
    reprojects files, and a CRS on one side only is refused."""
    truth = frame([box(X0 + 20 * i, Y0 + 15 * (i % 3)) for i in range(6)])
    pred = frame([box(X0 + 20 * i + 1, Y0 + 15 * (i % 3)) for i in range(5)] + [box(X0, Y0 + 500)])
    expected = match_polygons(pred, truth)
    assert (expected.tp, expected.fp, expected.fn) == (5, 1, 1)
    for predicted, true in ((pred.to_crs(4326), truth), (pred.to_crs(4326).geometry, truth),
                            (pred, truth.to_crs(3857).geometry.values),
                            (pred.to_crs(3857), truth.to_crs(4326))):
        scores = match_polygons(predicted, true)
        assert (scores.tp, scores.fp, scores.fn) == (5, 1, 1)
        assert [(m.pred, m.truth) for m in scores.matches] == \
            [(m.pred, m.truth) for m in expected.matches]
        assert [m.iou for m in scores.matches] == pytest.approx(
            [m.iou for m in expected.matches], abs=1e-3)  # (ground shapes differ a little)
    assert match_polygons(list(pred.geometry), truth).tp == 5  # a list: the truth's CRS
    for predicted, true, missing in ((without_crs(pred), truth, "predicted"),
                                     (pred, without_crs(truth.geometry),
                                      "truth")):
        with pytest.raises(InputError) as caught:
            match_polygons(predicted, true)
        message = str(caught.value)
        assert "\n" not in message and f"the {missing} geometries carry no CRS" in message
        assert "EPSG:32616" in message and ".set_crs(" in message


def test_files_score_polygons_only(tmp_path, run_cli):
    """Empty polygons are no object; a stray line or point beside polygons is left out with
    a warning; a file of points is refused in one line."""
    from .conftest import assert_one_line_error

    x, y = X0 + 10, Y0 - 50
    pred = tmp_path / "pred.gpkg"
    frame([box(x, y), box(x + 30, y)]).to_file(pred)
    truth = tmp_path / "truth.geojson"
    frame([box(x, y), box(x + 30, y), shapely.Polygon(), shapely.LineString(
        [(x, y), (x + 50, y)]), shapely.Point(x, y)]).to_file(truth)
    result = run_cli("evaluate", pred, truth, "--json")
    assert result.exit_code == 0, result.output
    assert '"tp": 2' in result.stdout and '"fn": 0' in result.stdout
    assert "2 features are lines, points, not polygons" in result.stderr
    assert "GeoSeries" not in result.stderr
    points = tmp_path / "points.gpkg"
    frame([shapely.Point(x, y), shapely.Point(x + 30, y)]).to_file(points)
    assert_one_line_error(run_cli("evaluate", pred, points), "points.gpkg", "points",
                          "not polygons")


def test_projected_prediction_claiming_degrees_names_prediction_crs(tmp_path, run_cli):
    import json

    from .conftest import assert_one_line_error

    x, y = X0 + 10, Y0 - 50
    truth = tmp_path / "truth.gpkg"
    frame([box(x, y)]).to_file(truth)
    prediction = tmp_path / "pred.geojson"  # UTM numbers, no crs member: read as degrees
    prediction.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(box(x, y))}]}))
    assert_one_line_error(run_cli("evaluate", prediction, truth), "pred.geojson",
                          "--prediction-crs")
    result = run_cli("evaluate", prediction, truth, "--prediction-crs", UTM_CRS, "--json")
    assert result.exit_code == 0 and '"tp": 1' in result.stdout, result.output


def test_pixel_geojson_against_pixel_labels_without_crs(tmp_path, run_cli):
    """vectorize of a plain JPEG's prediction to .geojson writes pixel coordinates without a
    crs member (read as EPSG:4326); against truth that declares no CRS (pixel labels in a
    GeoPackage) they are the same pixel frame, scored with a warning."""
    import json

    truth = tmp_path / "truth.gpkg"
    frame([box(20, 100, 80), box(200, 40, 60)], crs=None).to_file(truth)
    prediction = tmp_path / "pred.geojson"
    prediction.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {},
         "geometry": shapely.geometry.mapping(box(21, 101, 80))}]}))
    result = run_cli("evaluate", prediction, truth, "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert (scores["tp"], scores["fp"], scores["fn"]) == (1, 0, 1)
    assert "pred.geojson" in result.stderr and "no CRS" in result.stderr
    swapped = json.loads(run_cli("evaluate", truth, prediction, "--json").stdout)
    assert (swapped["tp"], swapped["fp"], swapped["fn"]) == (1, 1, 0)


@pytest.mark.parametrize("option", ["--prediction-crs", "--labels-crs"])
@pytest.mark.parametrize("value", ["EPSG:99999", "truth.gpkg"])
def test_a_crs_option_that_is_no_crs_is_named_as_given(tmp_path, run_cli, option, value):
    """--prediction-crs EPSG:99999 was reported as '--labels-crs ... is not a CRS', an option
    the user had not given."""
    from .conftest import assert_one_line_error

    truth = tmp_path / "truth.gpkg"
    frame([box(X0 + 10, Y0 - 50)]).to_file(truth)
    result = run_cli("evaluate", truth, truth, option, value)
    assert_one_line_error(result, f"{option} {value!r} is not a CRS", "EPSG:")
    other = ({"--prediction-crs", "--labels-crs"} - {option}).pop()
    assert other not in result.stderr


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_matches_brute_force_on_random_scenes(seed):
    rng = np.random.default_rng(seed)
    sizes = rng.uniform(5, 15, 60)
    truth = [box(x, y, s) for (x, y), s in zip(rng.uniform(0, 150, (60, 2)), sizes, strict=True)]
    truth += truth[:5]  # exact duplicates: ties
    pred = [shapely.affinity.translate(t, *rng.normal(0, 2.5, 2)) for t in truth[:45]]
    pred += [shapely.affinity.scale(t, 1.3, 0.8) for t in truth[10:30]]  # competing proposals
    pred += [box(x, y) for x, y in rng.uniform(0, 150, (15, 2))]
    assert_matches_brute_force([pred[i] for i in rng.permutation(len(pred))], truth)


def assert_matches_brute_force(pred, truth):
    """match_polygons at IoU 0.3, 0.5 and 0.75: brute_force's TP, FP, FN and pairs, each
    match's IoU within 1e-9 of intersection / union."""
    for threshold in (0.3, 0.5, 0.75):
        scores = match_polygons(pred, truth, threshold)
        tp, fp, fn, pairs = brute_force(pred, truth, threshold)
        assert (scores.tp, scores.fp, scores.fn) == (tp, fp, fn)
        assert [(m.pred, m.truth) for m in scores.matches] == pairs
        for m in scores.matches:
            p, t = pred[m.pred], truth[m.truth]
            assert m.iou == pytest.approx(p.intersection(t).area / p.union(t).area, abs=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_brute_force_on_rotated_outlines(seed):
    """IoU from the union's area as a + b - intersection (not the union built, half the
    time of a city's scoring): the same matches as the brute-force matcher on rotated,
    many-vertex outlines whose unions GEOS nodes with rounding, each IoU within 1e-9 of
    intersection / union, an IoU of exactly the threshold still no match."""
    import shapely.affinity as affinity

    rng = np.random.default_rng(seed)
    truth = [affinity.rotate(shapely.Point(x, y).buffer(s, 8), a, origin="centroid")
             for (x, y), s, a in zip(rng.uniform(0, 200, (50, 2)), rng.uniform(3, 9, 50),
                                     rng.uniform(0, 90, 50), strict=True)]
    pred = [affinity.rotate(affinity.translate(t, *rng.normal(0, 2, 2)), rng.normal(0, 8),
                            origin="centroid") for t in truth]
    assert_matches_brute_force([pred[i] for i in rng.permutation(len(pred))], truth)
    half = match_polygons([shapely.box(0, 0, 3, 1)], [shapely.box(1, 0, 4, 1)])  # 2 / 4
    assert (half.tp, half.fp, half.fn) == (0, 1, 1)


# ----------------------------------------------------------------- files


def test_confidence_order(tmp_path):
    truth = frame([box(X0, Y0)])
    truth.to_file(tmp_path / "t.geojson")
    # file order: the better-fitting but less confident proposal comes first
    pred = frame([box(X0, Y0), box(X0 + 2, Y0)], conf=[0.4, 0.9])
    pred.to_file(tmp_path / "p.geojson")
    result = evaluate_files(tmp_path / "p.geojson", tmp_path / "t.geojson")
    (match,) = result.scores.matches
    assert result.prediction.loc[match.pred, "conf"] == 0.9
    assert match.iou == pytest.approx(80 / 120)
    in_file_order = evaluate_files(tmp_path / "p.geojson", tmp_path / "t.geojson",
                                   conf_field="")
    assert in_file_order.scores.matches[0].iou == pytest.approx(1.0)
    # geotile vectorize writes `score`: ordered by it without an option
    frame([box(X0, Y0), box(X0 + 2, Y0)], score=[0.4, 0.9]).to_file(tmp_path / "s.geojson")
    scored = evaluate_files(tmp_path / "s.geojson", tmp_path / "t.geojson")
    assert scored.scores.matches[0].iou == pytest.approx(80 / 120)
    # a field named but not in the file (a typo) is refused, not silently file order
    with pytest.raises(InputError, match=r"s\.geojson: no field 'scroe'.*its fields: score"):
        evaluate_files(tmp_path / "s.geojson", tmp_path / "t.geojson", conf_field="scroe")


def test_a_missing_confidence_scores_alike_in_every_format(tmp_path):
    # GDAL writes a null confidence to CSV as an empty cell: it was refused as "holds '',
    # not a number" while the same proposals as GeoPackage scored (the null last)
    frame([box(X0, Y0)]).to_file(tmp_path / "t.gpkg")
    pred = frame([box(X0, Y0), box(X0 + 2, Y0)], conf=[None, 0.9])
    pred.to_file(tmp_path / "p.gpkg")
    pred.to_file(tmp_path / "p.csv", driver="CSV", layer_options={"GEOMETRY": "AS_WKT"})
    assert (tmp_path / "p.csv").read_text().splitlines()[1].endswith(",")
    results = [evaluate_files(tmp_path / name, tmp_path / "t.gpkg", prediction_crs=UTM_CRS)
               for name in ("p.gpkg", "p.csv")]
    for result in results:
        (match,) = result.scores.matches
        assert (result.scores.tp, result.scores.fp, result.scores.fn) == (1, 1, 0)
        assert result.prediction.loc[match.pred, "conf"] == 0.9
        assert match.iou == pytest.approx(80 / 120)
    # text that is not a number is still refused
    pred.assign(conf=["high", "0.9"]).to_file(tmp_path / "q.csv", driver="CSV",
                                             layer_options={"GEOMETRY": "AS_WKT"})
    with pytest.raises(InputError, match=r"q\.csv: field 'conf' holds 'high', not a number"):
        evaluate_files(tmp_path / "q.csv", tmp_path / "t.gpkg", prediction_crs=UTM_CRS)


def test_reprojection_to_the_truth_crs(tmp_path):
    truth = frame([box(X0, Y0, 12), box(X0 + 100, Y0 + 100, 12)])
    truth.to_file(tmp_path / "t.geojson")
    shifted = frame([box(X0 + 2, Y0, 12), box(X0 + 100, Y0 + 100, 12)])
    shifted.to_crs("EPSG:4326").to_file(tmp_path / "p.geojson")
    result = evaluate_files(tmp_path / "p.geojson", tmp_path / "t.geojson")
    assert result.prediction.crs == truth.crs
    assert (result.scores.tp, result.scores.fp, result.scores.fn) == (2, 0, 0)
    ious = sorted(m.iou for m in result.scores.matches)
    assert ious == pytest.approx([120 / 168, 1.0], abs=1e-6)  # 2 m shift of a 12 m square


def test_missing_crs_needs_an_option(tmp_path):
    frame([box(X0, Y0)]).to_file(tmp_path / "t.gpkg")
    frame([box(X0, Y0)], crs=None).to_file(tmp_path / "p.gpkg")
    with pytest.raises(InputError, match=r"p\.gpkg.*declares no CRS.*--prediction-crs"):
        evaluate_files(tmp_path / "p.gpkg", tmp_path / "t.gpkg")
    result = evaluate_files(tmp_path / "p.gpkg", tmp_path / "t.gpkg", prediction_crs=UTM_CRS)
    assert result.scores.tp == 1


@pytest.mark.parametrize("srs_id", [0, -1])
def test_a_geopackage_with_srs_id_0_declares_no_crs(tmp_path, srs_id):
    """GDAL before 3.9 wrote layers without a CRS as srs_id 0 ("Undefined geographic SRS"),
    whatever their coordinates: no CRS, not degrees; so is the GeoPackage standard's other
    placeholder, srs_id -1 ("Undefined Cartesian SRS"), not a local CRS of its own."""
    import sqlite3

    frame([box(X0, Y0)], crs=None).to_file(tmp_path / "p.gpkg")
    with sqlite3.connect(tmp_path / "p.gpkg") as db:
        db.execute("UPDATE gpkg_geometry_columns SET srs_id = ?", (srs_id,))
        db.execute("UPDATE gpkg_contents SET srs_id = ?", (srs_id,))
    frame([box(X0, Y0)]).to_file(tmp_path / "t.gpkg")
    with pytest.raises(InputError, match=r"p\.gpkg.*declares no CRS.*--prediction-crs"):
        evaluate_files(tmp_path / "p.gpkg", tmp_path / "t.gpkg")
    result = evaluate_files(tmp_path / "p.gpkg", tmp_path / "t.gpkg", prediction_crs=UTM_CRS)
    assert result.scores.tp == 1


def test_projected_coordinates_claiming_degrees(real_data, tmp_path):
    """Projected coordinates in a GeoJSON without a crs member cannot be lon/lat: against a
    file in lon/lat, refused (--labels-crs); two such files (pixels, or one unnamed map
    CRS) are read in no CRS, said in a warning, and scored in their own units."""
    labels = real_data / "spacenet" / "geotiff_custom_proj_labels.geojson"
    lonlat = tmp_path / "lonlat.geojson"
    frame([box(X0, Y0)]).to_crs("EPSG:4326").to_file(lonlat)
    with pytest.raises(InputError, match="--labels-crs"):
        evaluate_files(lonlat, labels)
    with pytest.warns(GeotileWarning, match="not longitude/latitude.*no CRS"):
        result = evaluate_files(labels, labels)
    n = len(gpd.read_file(labels))
    assert (result.scores.tp, result.scores.fp, result.scores.fn) == (n, 0, 0)


def test_empty_prediction_and_truth_files(tmp_path):
    frame([box(X0, Y0), box(X0 + 50, Y0)]).to_file(tmp_path / "t.geojson")
    (tmp_path / "none.geojson").write_text('{"type": "FeatureCollection", "features": []}')
    result = evaluate_files(tmp_path / "none.geojson", tmp_path / "t.geojson")
    s = result.scores
    assert (s.tp, s.fp, s.fn, s.precision, s.recall, s.f1) == (0, 0, 2, 0, 0, 0)
    result = evaluate_files(tmp_path / "t.geojson", tmp_path / "none.geojson")
    assert (result.scores.tp, result.scores.fp, result.scores.fn) == (0, 2, 0)
    (tmp_path / "bad.geojson").write_text("not json")
    with pytest.raises(InputError, match=r"bad\.geojson"):
        evaluate_files(tmp_path / "bad.geojson", tmp_path / "t.geojson")


def test_per_class(tmp_path):
    truth = frame([box(X0, Y0), box(X0 + 50, Y0), box(X0 + 100, Y0)], kind=["house", "shed",
                                                                           "house"])
    pred = frame([box(X0, Y0), box(X0 + 50, Y0), box(X0 + 100, Y0)], kind=["house", "house",
                                                                          "house"])
    truth.to_file(tmp_path / "t.gpkg")
    pred.to_file(tmp_path / "p.gpkg")
    result = evaluate_files(tmp_path / "p.gpkg", tmp_path / "t.gpkg", class_field="kind")
    assert result.scores.tp == 3  # class-blind overall score
    house, shed = result.per_class["house"], result.per_class["shed"]
    assert (house.tp, house.fp, house.fn) == (2, 1, 0)
    assert (shed.tp, shed.fp, shed.fn) == (0, 0, 1)
    with pytest.raises(InputError, match="no field 'type'"):
        evaluate_files(tmp_path / "p.gpkg", tmp_path / "t.gpkg", class_field="type")



def test_per_class_leaves_out_the_features_make_masks_burns_as_background(tmp_path):
    """Truth polygons whose class says background ('background', 'No Data'), which
    make-masks --class-field burns as 0 and tile leaves out of its annotations, were scored
    as objects: a prediction of every building gave recall 0.5 (FN 2) and a per-class row
    'background' with FN 1, exit 0. With --class-field they are left out, with a warning;
    without it every polygon is an object, as make-masks burns every one."""
    boxes = [box(X0 + 50 * i, Y0) for i in range(4)]
    frame(boxes, kind=["building", "background", "building", "No Data"]).to_file(
        tmp_path / "t.gpkg")
    frame([boxes[0], boxes[2]], kind=["building", "building"]).to_file(tmp_path / "p.gpkg")
    with pytest.warns(GeotileWarning, match=r"t\.gpkg: 2 features of field 'kind' name "
                      r"background \('background', 'No Data'\)"):
        result = evaluate_files(tmp_path / "p.gpkg", tmp_path / "t.gpkg", class_field="kind")
    assert (result.scores.tp, result.scores.fp, result.scores.fn) == (2, 0, 0)
    assert list(result.per_class) == ["building"]
    result = evaluate_files(tmp_path / "p.gpkg", tmp_path / "t.gpkg")
    assert (result.scores.tp, result.scores.fp, result.scores.fn) == (2, 0, 2)


def test_per_class_compares_class_values_as_make_masks_does(tmp_path):
    """Class values that make-masks burns as one class were scored as different ones:
    truth 'Building ' and 'building' against predicted 'building' gave building TP 1 FP 1
    and 'Building ' FN 1; ids 1.0 (a float field) against '01' gave '01' FP 1 and '1' FN 1."""
    boxes = [box(X0, Y0), box(X0 + 50, Y0), box(X0 + 100, Y0)]
    frame(boxes, kind=["Building ", "building", "Tree"]).to_file(tmp_path / "t.gpkg")
    frame(boxes, kind=["building", "building", "tree"]).to_file(tmp_path / "p.gpkg")
    result = evaluate_files(tmp_path / "p.gpkg", tmp_path / "t.gpkg", class_field="kind")
    assert sorted(result.per_class) == ["Building", "Tree"]  # the truth's spelling
    building, tree = result.per_class["Building"], result.per_class["Tree"]
    assert (building.tp, building.fp, building.fn) == (2, 0, 0)
    assert (tree.tp, tree.fp, tree.fn) == (1, 0, 0)
    frame(boxes, kind=[1.0, 1.0, 2.0]).to_file(tmp_path / "ids.gpkg")
    frame(boxes, kind=["01", "1", "2"]).to_file(tmp_path / "text.gpkg")
    result = evaluate_files(tmp_path / "text.gpkg", tmp_path / "ids.gpkg", class_field="kind")
    assert sorted(result.per_class) == ["1", "2"]
    assert (result.per_class["1"].tp, result.per_class["1"].fp) == (2, 0)


def test_per_class_a_missing_class_is_none_in_every_format(tmp_path):
    """GDAL writes a null class to CSV as an empty cell: its per-class row was '' (a
    blank name in the table, per_class[''] in --json) where GeoPackage's, Shapefile's or
    GeoJSON's is 'none'."""
    boxes = [box(X0, Y0), box(X0 + 50, Y0)]
    truth = frame(boxes, kind=[None, "house"])
    truth.to_file(tmp_path / "t.gpkg")
    truth.to_file(tmp_path / "t.csv", driver="CSV", layer_options={"GEOMETRY": "AS_WKT"})
    frame([boxes[1]], kind=["house"]).to_file(tmp_path / "p.gpkg")
    for name in ("t.gpkg", "t.csv"):
        result = evaluate_files(tmp_path / "p.gpkg", tmp_path / name, class_field="kind",
                                labels_crs=UTM_CRS if name.endswith(".csv") else None)
        assert list(result.per_class) == ["house", "none"], name
        missing = result.per_class["none"]
        assert (missing.tp, missing.fp, missing.fn) == (0, 0, 1)


def test_per_class_pairs_the_predictions_names_with_the_truths_as_raster_scores_do(tmp_path):
    """Truth 'Buildings'/'low-vegetation' (a dataset's spelling) against vectorize's
    'building'/'low_vegetation': per class they were four classes, each TP 0 (building FP 2,
    Buildings FN 2), exit 0, where raster scores pair such names. A prediction's name the
    truth lacks is paired with the one truth name apart only by separators or a plural;
    two prediction classes of one truth name ('tree', 'trees' against 'tree') stay apart."""
    boxes = [box(X0 + 50 * i, Y0) for i in range(5)]
    frame(boxes, kind=["Buildings", "Buildings", "low-vegetation", "tree", "tree"]).to_file(
        tmp_path / "t.gpkg")
    frame(boxes, kind=["building", "building", "low_vegetation", "tree", "trees"]).to_file(
        tmp_path / "p.gpkg")
    result = evaluate_files(tmp_path / "p.gpkg", tmp_path / "t.gpkg", class_field="kind")
    assert sorted(result.per_class) == ["Buildings", "low-vegetation", "tree", "trees"]
    counts = {k: (v.tp, v.fp, v.fn) for k, v in result.per_class.items()}
    assert counts == {"Buildings": (2, 0, 0), "low-vegetation": (1, 0, 0), "tree": (1, 0, 1),
                      "trees": (0, 1, 0)}


def test_a_folder_pairs_a_predicted_name_in_a_tile_whose_truth_lacks_that_class(tmp_path):
    """'building' against the truth's 'Buildings' in a folder: a tile whose truth holds no
    building paired nothing, so its false positive 'building' was a class of its own in the
    totals (Buildings TP 1, building FP 1) and in that tile's errors -> paired by the
    folder's truth names: Buildings TP 1 FP 1, in every tile alike."""
    from geotile.folder_evaluation import evaluate_folders

    (tmp_path / "p").mkdir()
    (tmp_path / "t").mkdir()
    boxes = [box(X0, Y0), box(X0 + 50, Y0)]
    for name, truth in (("a", ["Buildings", "Trees"]), ("b", [None, "Trees"])):
        frame(boxes, kind=["building", "tree"]).to_file(tmp_path / "p" / f"{name}.gpkg")
        kept = [(g, k) for g, k in zip(boxes, truth, strict=True) if k]
        frame([g for g, _ in kept], kind=[k for _, k in kept]).to_file(
            tmp_path / "t" / f"{name}.gpkg")
    many = evaluate_folders(tmp_path / "p", tmp_path / "t", class_field="kind")
    counts = {k: (v.tp, v.fp, v.fn) for k, v in many.per_class.items()}
    assert counts == {"Buildings": (1, 1, 0), "Trees": (2, 0, 0)}
    assert sorted(many.per_image["b"].per_class) == ["Buildings", "Trees"]
    assert list(many.per_image["b"].classes[1]) == ["Buildings", "Trees"]


# ----------------------------------------------------------------- pixels


def numpy_confusion(truth, pred, n):
    expected = np.zeros((n, n), int)
    for a, b in zip(truth.ravel(), pred.ravel(), strict=True):
        expected[a, b] += 1
    return expected


def test_pixel_scores_on_arrays():
    rng = np.random.default_rng(5)
    truth = rng.integers(0, 4, (30, 40))
    pred = np.where(rng.random((30, 40)) < 0.7, truth, rng.integers(0, 4, (30, 40)))
    valid = rng.random((30, 40)) < 0.9
    scores = pixel_scores(pred, truth, valid)
    expected = numpy_confusion(truth[valid], pred[valid], 4)
    assert scores.confusion.tolist() == expected.tolist()
    for row in scores.classes():
        c = row["class_id"]
        tp, fp, fn = expected[c, c], expected[:, c].sum() - expected[c, c], \
            expected[c].sum() - expected[c, c]
        assert row["iou"] == pytest.approx(tp / (tp + fp + fn))
        assert row["precision"] == pytest.approx(tp / (tp + fp))
        assert row["recall"] == pytest.approx(tp / (tp + fn))
        assert row["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert scores.accuracy == pytest.approx((pred == truth)[valid].mean())
    assert confusion_matrix(np.zeros(3), np.zeros(3)).shape == (2, 2)


def test_a_class_on_neither_side_has_no_scores_and_one_on_one_side_scores_0(make_raster,
                                                                           run_cli):
    """A class with no pixel in the truth nor the prediction scored IoU, precision, recall
    and F1 0.0: a raster against itself listed background and car at 0.0000 beside mean IoU
    1.0000. They are 0/0: NaN (Python), null (--json), '-' (table); a class on one side only
    keeps its 0, and mean IoU stays over the classes present."""
    import json

    names = ["background", "road", "building", "car"]
    truth = np.ones((20, 20), np.uint8)
    truth[10:] = 2  # road and building; no background, no car
    same = pixel_scores(truth, truth, class_names=names)
    rows = {c["class"]: c for c in same.classes()}
    for name in ("background", "car"):
        assert all(np.isnan(rows[name][k]) for k in ("iou", "precision", "recall", "f1"))
    assert rows["road"]["iou"] == rows["building"]["f1"] == 1.0
    assert same.as_dict()["mean_iou"] == 1.0
    pred = truth.copy()
    pred[0, :5] = 3  # 5 car pixels where the truth has road: car on one side only
    rows = {c["class"]: c for c in pixel_scores(pred, truth, class_names=names).classes()}
    assert (rows["car"]["iou"], rows["car"]["f1"], rows["car"]["predicted"]) == (0.0, 0.0, 5)
    assert rows["road"]["recall"] == pytest.approx(195 / 200)
    assert np.isnan(rows["background"]["iou"])
    t = make_raster("t.tif", truth)
    with rasterio.open(t, "r+") as dst:
        dst.update_tags(GEOTILE_CLASS_NAMES=json.dumps(names))
    result = run_cli("evaluate", t, t, "--json")
    assert result.exit_code == 0, result.output
    assert "NaN" not in result.stdout
    d = json.loads(result.stdout)
    by_name = {c["class"]: c for c in d["classes"]}
    assert [by_name["car"][k] for k in ("iou", "precision", "recall", "f1")] == [None] * 4
    assert by_name["road"]["iou"] == 1.0 and d["mean_iou"] == 1.0
    table = run_cli("evaluate", t, t).stdout.splitlines()
    car = next(line for line in table if line.startswith("car "))
    assert car.split() == ["car", "-", "-", "-", "-", "0"], car
    assert "0.0000" not in "\n".join(table)


@pytest.mark.parametrize("kind", ["bool", "uint8 0/1", "int 0/1", "uint8 0/255", "float 0/1"])
def test_pixel_scores_take_any_mask_of_valid_pixels(kind):
    """A 0/1 or 0/255 mask (rasterio's read_masks) is a mask, not indices: 1,000,000 pixels
    were counted of a 100 x 100 pair, and 255 was an IndexError."""
    rng = np.random.default_rng(1)
    truth = (rng.random((100, 100)) > 0.7).astype(np.uint8)
    pred = truth.copy()
    pred[50:] = 0
    valid = np.zeros((100, 100), bool)
    valid[:50] = True  # the top half only: perfect there
    mask = {"bool": valid, "uint8 0/1": valid.astype(np.uint8), "int 0/1": valid.astype(int),
            "uint8 0/255": valid.astype(np.uint8) * 255,
            "float 0/1": valid.astype(np.float32)}[kind]
    scores = pixel_scores(pred, truth, mask)
    assert scores.pixels == 5000
    assert scores.classes()[1]["iou"] == 1.0
    assert scores.confusion.tolist() == numpy_confusion(truth[:50], pred[:50], 2).tolist()


def test_pixel_scores_refuse_a_valid_mask_of_another_shape():
    with pytest.raises(InputError, match=r"mask has shape \(10, 5\), the arrays \(10, 10\)"):
        pixel_scores(np.zeros((10, 10)), np.zeros((10, 10)), np.ones((10, 5), bool))


def test_pixel_scores_refuse_probabilities_and_leave_out_nan():
    """Float probabilities were cut to class 0 (p = 0.8 scored as background, class-1 IoU
    0.337 where thresholding gives 1.0); they are refused, the fix named. NaN, nodata as in
    float rasters, is left out; whole float ids are ids."""
    rng = np.random.default_rng(1)
    truth = (rng.random((100, 100)) > 0.7).astype(np.uint8)
    prob = np.clip(truth * 0.8 + rng.random((100, 100)) * 0.3, 0, 1).astype(np.float32)
    for name, pred, true in (("prediction", prob, truth), ("truth", truth, prob)):
        with pytest.raises(InputError) as caught:
            pixel_scores(pred, true)
        message = str(caught.value)
        assert "\n" not in message and f"the {name} holds 0." in message
        assert "threshold probabilities first" in message and ">= 0.5" in message
    assert pixel_scores(prob >= 0.5, truth).classes()[1]["iou"] == 1.0
    nan = (prob >= 0.5).astype(np.float32)
    nan[:10] = np.nan  # predict_array's nodata
    scores = pixel_scores(nan, truth.astype(np.float64))
    assert scores.pixels == 9000 and scores.classes()[1]["iou"] == 1.0
    assert scores.confusion.tolist() == numpy_confusion(truth[10:], truth[10:], 2).tolist()
    with pytest.raises(InputError, match="the prediction holds inf"):
        pixel_scores(np.full((2, 2), np.inf), np.zeros((2, 2)))


@pytest.mark.parametrize("side", ["prediction", "truth", "both"])
def test_pixel_scores_leave_out_masked_pixels(side):
    """A masked array (src.read(1, masked=True)) lost its mask: all 3000 pixels were counted
    where 2400 are valid. Masked pixels are nodata, as NaN is; valid= narrows them further."""
    rng = np.random.default_rng(1)
    truth = (rng.random((50, 60)) > 0.4).astype(np.int16)
    pred = (rng.random((50, 60)) > 0.5).astype(np.int16)
    known = rng.random((50, 60)) < 0.8
    arrays = {name: np.ma.masked_array(np.where(known, a, -9999), mask=~known)  # nodata -9999
              if side in (name, "both") else a
              for name, a in (("prediction", pred), ("truth", truth))}
    scores = pixel_scores(arrays["prediction"], arrays["truth"])
    assert scores.pixels == known.sum()
    assert scores.confusion.tolist() == numpy_confusion(truth[known], pred[known], 2).tolist()
    half = np.zeros((50, 60), bool)
    half[:25] = True
    scores = pixel_scores(arrays["prediction"], arrays["truth"], half)
    both = known & half
    assert scores.confusion.tolist() == numpy_confusion(truth[both], pred[both], 2).tolist()


def test_pixel_scores_read_255_as_evaluate_reads_masks(make_raster, tmp_path):
    """255 of a mask was scored as a class (a 256 x 256 matrix, mean IoU 0.599 where the
    rest agrees); it is the ignore value of a class truth, and a 0/255 mask's positives, as
    evaluate reads the same arrays written as GeoTIFFs."""
    rng = np.random.default_rng(1)
    truth = (rng.random((100, 100)) > 0.7).astype(np.uint8)
    ignored = truth.copy()
    ignored[:10] = 255  # make-masks' ignore value
    scores = pixel_scores(truth, ignored)
    assert scores.confusion.tolist() == numpy_confusion(truth[10:], truth[10:], 2).tolist()
    assert scores.as_dict()["mean_iou"] == 1.0
    wide = ignored.astype(np.int64)  # a class truth of another type: 255 ignored too
    assert pixel_scores(truth, wide).confusion.tolist() == scores.confusion.tolist()
    pred = truth.copy()
    pred[95:] = 0
    inria = pixel_scores(pred * 255, truth * 255)  # two 0/255 masks: classes 0 and 1
    assert inria.confusion.tolist() == numpy_confusion(truth, pred, 2).tolist()
    assert [c["class"] for c in inria.classes()] == ["background", "1"]
    mixed = pixel_scores(pred, truth * 255)  # a 0/1 prediction against a 0/255 truth
    assert mixed.confusion.tolist() == inria.confusion.tolist()
    noisy = np.zeros((100, 100), np.uint8)  # a JPEG's 0/255 mask: 4 % strays at its edges
    noisy[20:60, 20:60] = 255
    ring = np.zeros((100, 100), bool)
    ring[19:61, 19:61] = True
    ring[21:59, 21:59] = False
    noisy[ring] = rng.choice(np.array([3, 40, 90, 140, 200, 250], np.uint8), ring.sum())
    square = (noisy >= 128).astype(np.uint8)
    assert pixel_scores(square, noisy).confusion.tolist() == numpy_confusion(
        square, square, 2).tolist()
    for i, (p, t) in enumerate(((pred, ignored), (pred * 255, truth * 255), (pred, truth * 255),
                                (pred, wide), (square, noisy))):
        on_files = evaluate_rasters(make_raster(f"p{i}.tif", p[None]),
                                    make_raster(f"t{i}.tif", t[None])).confusion
        assert pixel_scores(p, t).confusion.tolist() == on_files.tolist()


@pytest.mark.parametrize(("block", "tiled"), [(16, True), (16, False), (10**6, True)])
def test_pixel_scores_of_rasters_match_numpy(make_raster, block, tiled):
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 3, (70, 90)).astype(np.uint8)
    pred = np.where(rng.random((70, 90)) < 0.8, truth, rng.integers(0, 3, (70, 90))).astype(
        np.uint8)
    pred[:3, :] = 255  # nodata
    t = make_raster("t.tif", truth, **({"tiled": True, "blockxsize": 16, "blockysize": 16}
                                       if tiled else {}))
    p = make_raster("p.tif", pred, nodata=255)
    result = evaluate_rasters(p, t, block_size=block)  # 16 px: 30 blocks (or 11 row bands)
    assert result.confusion.tolist() == numpy_confusion(truth[3:], pred[3:], 3).tolist()
    assert result.pixels == 67 * 90
    assert evaluate_files(p, t).confusion.tolist() == result.confusion.tolist()


@pytest.mark.parametrize("side", ["truth", "prediction"])
def test_a_raster_geopackage_is_scored_as_a_raster(make_raster, tmp_path, run_cli, side):
    """A class mask copied by gdal_translate -of GPKG (raster tiles, no vector layer) was
    refused with 'is a raster, not vector labels', exit 1."""
    from rasterio.shutil import copy as copy_raster

    truth = np.zeros((64, 64), np.uint8)
    truth[:32] = 1
    truth[40:, 40:] = 2
    pred = truth.copy()
    pred[:8] = 0  # 8 rows of class 1 missed
    files = {"truth": make_raster("t.tif", truth), "prediction": make_raster("p.tif", pred)}
    expected = evaluate_files(files["prediction"], files["truth"]).confusion.tolist()
    copy_raster(files[side], tmp_path / "copy.gpkg", driver="GPKG")
    files[side] = tmp_path / "copy.gpkg"
    result = evaluate_files(files["prediction"], files["truth"])
    assert result.confusion.tolist() == expected
    assert result.confusion[1, 0] == 8 * 64
    cli = run_cli("evaluate", files["prediction"], files["truth"])
    assert cli.exit_code == 0, cli.output
    assert "mean IoU" in cli.output


def test_probability_rasters(make_raster, tmp_path):
    truth = np.zeros((10, 10), np.uint8)
    truth[:, :5] = 1
    probability = np.where(truth == 1, 0.9, 0.2).astype(np.float32)
    probability[0, :] = np.nan  # nodata row
    t = make_raster("t.tif", truth)
    p = make_raster("p.tif", probability, nodata=float("nan"))
    result = evaluate_files(p, t)
    assert result.pixels == 90
    assert result.classes()[1]["iou"] == 1.0
    assert evaluate_files(p, t, threshold=0.95).classes()[1]["iou"] == 0.0
    # geotile's uint8 multi-class probabilities (x255) are argmaxed; the mask band is nodata
    classes = np.zeros((12, 12), np.uint8)
    classes[:, 4:8], classes[:, 8:] = 1, 2
    scores = np.stack([(classes == k) * 200 + 20 for k in range(3)]).astype(np.uint8)
    scores[0, :, 11] = 250  # last column predicted background
    path = tmp_path / "multi.tif"
    with rasterio.open(path, "w", driver="GTiff", width=12, height=12, count=3, dtype="uint8",
                       crs=UTM_CRS, transform=from_origin(X0, Y0, 0.5, 0.5)) as dst:
        dst.write(scores)
        dst.update_tags(GEOTILE_OUTPUT="probability", GEOTILE_SCALE=255,
                        GEOTILE_CLASS_NAMES='["background", "roof", "road"]')
        mask = np.full((12, 12), 255, np.uint8)
        mask[:2] = 0
        dst.write_mask(mask)
    result = evaluate_files(path, make_raster("c.tif", classes))
    expected = numpy_confusion(classes[2:], scores.argmax(axis=0)[2:], 3)
    assert result.confusion.tolist() == expected.tolist()
    assert [c["class"] for c in result.classes()] == ["background", "roof", "road"]


def test_float_truth_of_whole_numbers_holds_class_ids(make_raster, run_cli):
    """A Float32 truth of class ids (QGIS' Rasterize default type; nodata -9999 too) is
    scored as the class raster make-masks and tile read it; an untagged float truth of
    fractions is still thresholded as probabilities."""
    truth = (np.arange(20 * 30).reshape(20, 30) // 7 % 4).astype(np.uint8)
    p = make_raster("p.tif", truth)
    result = evaluate_files(p, make_raster("t.tif", truth.astype(np.float32)))
    assert result.confusion.tolist() == numpy_confusion(truth, truth, 4).tolist()
    assert result.pixels == 600 and all(c["iou"] == 1.0 for c in result.classes())
    wrong = truth.copy()
    wrong[:, :3] = 3
    nodata = truth.astype(np.float32)
    nodata[0] = -9999
    t = make_raster("nd.tif", nodata, nodata=-9999)
    result = evaluate_files(make_raster("w.tif", wrong), t)
    assert result.confusion.tolist() == numpy_confusion(truth[1:], wrong[1:], 4).tolist()
    cli = run_cli("evaluate", p, t, "--json")
    assert cli.exit_code == 0, cli.output
    soft = np.where(truth > 0, 0.8, 0.1).astype(np.float32)
    result = evaluate_files(make_raster("b.tif", (truth > 0).astype(np.uint8)),
                            make_raster("soft.tif", soft))
    assert result.classes()[1]["iou"] == 1.0 and result.pixels == 600


def test_0_255_masks_score_255_as_the_positive_class(make_raster):
    """INRIA, Massachusetts and DeepGlobe masks are 0/255 with no nodata: 255 is the
    building (road) class there, on either side; 255 stays the ignore value of a truth
    that also holds other ids (make-masks' ignore) or declares it nodata."""
    truth = np.zeros((20, 20), np.uint8)
    truth[5:15, 5:15] = 1
    pred = np.zeros((20, 20), np.uint8)
    pred[5:15, 7:15] = 1  # 80 of 100 found, no false positive
    expected = [[300, 0], [20, 80]]
    for p_values, t_values in ((pred, truth * 255), (pred * 255, truth),
                               (pred * 255, truth * 255)):
        result = evaluate_rasters(make_raster("p.tif", p_values), make_raster("t.tif", t_values))
        assert result.confusion.tolist() == expected
        assert result.classes()[1]["iou"] == 0.8
    ignored = truth.copy()
    ignored[:2] = 255  # with ids 0/1 beside it, 255 is make-masks' ignore value
    result = evaluate_rasters(make_raster("p.tif", pred), make_raster("t.tif", ignored))
    assert result.confusion.tolist() == [[260, 0], [20, 80]]
    declared = truth * 255
    declared[:2] = 255
    result = evaluate_rasters(make_raster("p.tif", pred),
                              make_raster("t.tif", declared, nodata=255))
    assert result.confusion.tolist() == [[260, 0], [0, 0]]  # declared nodata: left out
    paletted = make_raster("tp.tif", truth * 255)  # a colour table changes nothing
    with rasterio.open(paletted, "r+") as dst:
        dst.write_colormap(1, {0: (0, 0, 0, 255), 255: (255, 255, 255, 255)})
    assert evaluate_rasters(make_raster("p.tif", pred), paletted).confusion.tolist() == expected


def test_float_softmax_declaring_nodata_0_is_scored_pixel_by_pixel(make_raster):
    """Float32 softmax probabilities (background, building) written with an image profile's
    nodata 0, as vectorize reads them: every pixel holds a 0 in one band (1, 0 or 0, 1), and
    each counted as nodata, so the prediction 'shared no valid pixel' and every score was 0;
    a probability of 0 is a value (GDAL's mask: nodata where every band is)."""
    truth = np.zeros((20, 20), np.uint8)
    truth[5:15, 5:15] = 1
    probs = np.zeros((2, 20, 20), np.float32)
    probs[0] = 1
    probs[0, 5:15, 7:15], probs[1, 5:15, 7:15] = 0, 1  # 80 of 100 found
    probs[:, :2] = 0  # two rows of nodata: 0 in every band
    pred = make_raster("soft.tif", probs, nodata=0)
    with rasterio.open(pred, "r+") as dst:
        dst.descriptions = ("background", "building")
    result = evaluate_rasters(pred, make_raster("t.tif", truth))
    assert result.confusion.tolist() == [[260, 0], [20, 80]]
    assert result.classes()[1]["iou"] == 0.8


@pytest.mark.parametrize("dtype", [np.int16, np.uint16, np.int32])
def test_255_of_a_wider_class_truth_is_its_ignore_value(make_raster, dtype):
    """An Int16 truth of ids 0..3 with 255 unlabelled (not declared nodata; QGIS Rasterize
    -init 255) had 255 scored as a class: 256 classes listed, mean IoU 0.41 for a perfect
    prediction, while make-masks reads 255 as ignore. It is left out, as of a uint8 truth;
    a truth with ids above 255 keeps 255 as one of them."""
    truth = np.repeat(np.arange(4), 5)[np.newaxis].repeat(20, 0).astype(dtype)
    truth[:3] = 255
    pred = np.where(truth == 255, 0, truth).astype(np.uint8)
    result = evaluate_rasters(make_raster("p.tif", pred), make_raster("t.tif", truth))
    assert result.pixels == 17 * 20 and result.accuracy == 1.0
    assert result.confusion.shape == (4, 4) and result.as_dict()["mean_iou"] == 1.0
    codes = truth.copy()
    codes[3:5] = 300  # ids beyond 255: 255 is a class id
    scored = evaluate_rasters(make_raster("p.tif", np.where(codes == 300, 0, codes)
                                          .astype(np.int16)), make_raster("t.tif", codes))
    assert scored.pixels == 20 * 20 and scored.confusion[255, 255] == 3 * 20


def test_nodata_0_that_is_the_background_of_the_other_raster_is_warned_of(make_raster,
                                                                           caplog):
    """A 0/1 mask declaring nodata 0 (gdal_rasterize -burn 1 -a_nodata 0) left out all its
    background: 100 false positives vanished, precision 1.0 (then only warned of). Its 0 is
    background, as make-masks and tile read it (raster_kinds.zero_nodata), with one
    warning; a class raster of several ids keeps 0 as no data, with one warning giving the
    share left out and the fix; nodata 0 of a probability raster stays nodata, warned of
    where the other holds class 0."""
    truth = np.zeros((20, 20), np.uint8)
    truth[5:15, 5:15] = 1
    pred = truth.copy()
    pred[:5] = 1  # 100 false positives
    for p_nodata, t_nodata, named in ((None, 0, "t.tif"), (0, None, "p.tif")):
        with pytest.warns(GeotileWarning) as caught:
            result = evaluate_rasters(make_raster("p.tif", pred, nodata=p_nodata),
                                      make_raster("t.tif", truth, nodata=t_nodata))
        assert result.confusion.tolist() == [[200, 100], [0, 100]]
        said = [str(w.message) for w in caught if "nodata 0" in str(w.message)]
        assert len(said) == 1 and f"{named}: a 0/1 mask declaring nodata 0" in said[0]
        assert "read as background" in said[0]
    with pytest.warns(GeotileWarning) as caught:  # a tile without buildings
        evaluate_rasters(make_raster("p.tif", pred), make_raster("e.tif", truth * 0, nodata=0))
    said = [str(w.message) for w in caught if "nodata 0" in str(w.message)]
    assert len(said) == 1 and "e.tif: an all-0 mask declaring nodata 0" in said[0]
    cover = np.full((20, 20), 10, np.uint8)
    cover[:, 10:] = 20
    cover[:5] = 0  # not surveyed
    with pytest.warns(GeotileWarning) as caught:
        result = evaluate_rasters(
            make_raster("p.tif", np.where(cover == 0, 20, cover).astype(np.uint8)),
            make_raster("t.tif", cover, nodata=0))
    assert result.pixels == 300
    said = [str(w.message) for w in caught if "nodata 0" in str(w.message)]
    assert len(said) == 1 and "t.tif: class ids (10, 20, ...)" in said[0]
    assert "25% of the pixels left out" in said[0] and "gdal_edit.py -unsetnodata" in said[0]
    caplog.clear()
    with caplog.at_level("WARNING", logger="geotile"):
        result = evaluate_rasters(make_raster("p.tif", pred.astype(np.float32), nodata=0),
                                  make_raster("t.tif", truth))
    assert result.confusion.tolist() == [[0, 100], [0, 100]]
    assert "p.tif: its nodata value 0 is class 0 (background) of t.tif: 200 pixels" \
        in caplog.text

def test_the_share_a_nodata_0_leaves_out_is_exact(make_raster):
    """Land cover codes declaring nodata 0 on a 20 px strip of 200 (10% of the pixels):
    the warning said 4%, estimated from overlapping sample windows that over-weight the
    centre. The share is counted over every pixel."""
    cover = np.full((200, 200), 10, np.uint8)
    cover[100:, 100:] = 20
    cover[:, :20] = 0
    with pytest.warns(GeotileWarning) as caught:
        result = evaluate_rasters(make_raster("p.tif", np.where(cover == 0, 10, cover)
                                              .astype(np.uint8)),
                                  make_raster("t.tif", cover, nodata=0))
    assert result.pixels == 36000
    said = [str(w.message) for w in caught if "nodata 0" in str(w.message)]
    assert len(said) == 1 and "10% of the pixels left out" in said[0], said


def test_ignore_value_of_a_truth_is_no_sign_of_scaled_probabilities(make_raster):
    """Classes 0..3 with make-masks' ignore value 255 in the truth: scored right, but a
    warning told the user to rescale the mask as probabilities. Values 101..254 beside
    255 still are warned of."""
    import warnings

    from geotile.errors import GeotileWarning

    truth = np.repeat(np.arange(4, dtype=np.uint8), 5)[np.newaxis].repeat(20, 0)
    truth[:3] = 255
    pred = np.where(truth == 255, 0, truth).astype(np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error", GeotileWarning)
        result = evaluate_rasters(make_raster("p.tif", pred), make_raster("t.tif", truth))
    assert result.pixels == 17 * 20 and result.accuracy == 1.0
    scores = truth.copy()
    scores[5:10] = 200
    with pytest.warns(GeotileWarning, match=r"t\.tif: class ids up to 200.*-scale"):
        evaluate_rasters(make_raster("p.tif", pred), make_raster("t.tif", scores))


def test_scaled_probabilities_are_warned_of_once_per_raster(make_raster):
    """A class raster of ids 150..250 (probabilities x 255?) read in 16 blocks: one warning,
    not one per block (against a truth of the same ids: against one that holds none of
    them, it is refused, test_untagged_uint8_probabilities_against_a_mask_...)."""
    import warnings

    from geotile.errors import GeotileWarning

    scores = np.arange(64 * 64).reshape(64, 64) % 101 + 150  # 150..250 in every block
    truth = make_raster("t.tif", scores.astype(np.uint8))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        evaluate_rasters(make_raster("p.tif", scores.astype(np.uint8)), truth, block_size=16)
    said = [str(w.message) for w in caught if issubclass(w.category, GeotileWarning)
            and "p.tif" in str(w.message)]
    assert len(said) == 1 and "p.tif: class ids up to 250" in said[0], said


def test_float_class_ids_are_not_thresholded_as_probabilities(make_raster):
    """Whole numbers reaching 3 in an untagged float prediction are class ids (as vectorize,
    make-masks and tile read them); values past 0..1 with fractions are refused."""
    classes = np.zeros((8, 8), np.float32)
    classes[2:4] = 3.0
    result = evaluate_rasters(make_raster("p.tif", classes),
                              make_raster("t.tif", np.zeros((8, 8), np.uint8)))
    assert result.confusion.sum(axis=0).tolist() == [48, 0, 0, 16]
    classes[0, 0] = 0.5
    with pytest.raises(InputError, match=r"p\.tif: values reach 3.*not probabilities"):
        evaluate_rasters(make_raster("p.tif", classes),
                         make_raster("t.tif", np.zeros((8, 8), np.uint8)))


def test_class_ids_too_large_for_a_confusion_matrix_are_one_line(make_raster):
    ids = np.zeros((8, 8), np.uint32)
    ids[2, 2] = 70000  # instance ids, not classes
    with pytest.raises(InputError, match=r"p\.tif.*70000.*class ids"):
        evaluate_rasters(make_raster("p.tif", ids), make_raster("t.tif", np.zeros((8, 8),
                                                                                   np.uint8)))


def test_a_float_class_raster_of_fractions_is_refused(make_raster, tmp_path):
    """Tagged a class raster, 1.9 and -0.5 are no class ids: refused, never cut to 1 and 0
    (which scored this prediction perfect)."""
    prediction = make_raster("p.tif", np.array([[0.7, 1.7], [1.9, -0.5]], np.float32))
    with rasterio.open(prediction, "r+") as dst:
        dst.update_tags(GEOTILE_OUTPUT="class")
    truth = make_raster("t.tif", np.array([[0, 1], [1, 0]], np.uint8))
    with pytest.raises(InputError, match=r"p\.tif: class ids are not whole numbers"):
        evaluate_files(prediction, truth)
    whole = make_raster("w.tif", np.array([[0, 1], [1, np.nan]], np.float32))
    with rasterio.open(whole, "r+") as dst:
        dst.update_tags(GEOTILE_OUTPUT="class")
    assert evaluate_files(whole, truth) is not None  # whole ids and NaN (no class) pass


def test_colour_coded_truth_is_refused_not_scored_by_its_red_band(make_raster, tmp_path):
    """An ISPRS Potsdam label raster as truth: its red band alone scored a perfect
    prediction at 14 % accuracy; it is refused, naming make-masks --palette. A grey 0/255
    mask in three bands (Massachusetts) is scored."""
    ids = np.random.default_rng(4).integers(0, 3, (30, 40)).astype(np.uint8)
    colours = np.array([[255, 255, 255], [0, 0, 255], [0, 255, 0]], np.uint8)
    truth = make_raster("labels.tif", np.moveaxis(colours[ids], -1, 0).copy(),
                        photometric="RGB")
    prediction = make_raster("pred.tif", ids)
    with pytest.raises(InputError, match=r"labels\.tif: its RGB bands look like colour-coded "
                                         r"labels.*--palette"):
        evaluate_files(prediction, truth)
    grey = make_raster("grey.tif", np.repeat((ids[np.newaxis] == 1) * np.uint8(255), 3, 0),
                       photometric="RGB")
    scores = evaluate_files(make_raster("p1.tif", (ids == 1).astype(np.uint8)), grey)
    assert scores.as_dict()["mode"] == "pixel"


@pytest.mark.parametrize(("palette", "nodata", "suffix"), [
    ("potsdam", None, "tif"), ("potsdam", 255, "tif"), ("potsdam", 0, "tif"),
    ("deepglobe", None, "png")])
def test_colour_labels_with_nodata_rows_are_still_told_their_palette(
        make_raster, palette, nodata, suffix):
    """Leaving a raster's nodata pixels out of the colour check (a 0/1 footprint, boundary,
    contact copy's 255 rows are no white) keeps real colour labels refused, with the same
    --palette: Potsdam's with nodata 255 (its white class) or 0 at an edge, DeepGlobe's PNG."""
    from geotile.palettes import PALETTES

    colours = np.array(list(PALETTES[palette].values())[:5], np.uint8)
    ids = np.random.default_rng(9).integers(0, len(colours), (60, 80))
    rgb = np.moveaxis(colours[ids], -1, 0).copy()
    if nodata is not None:
        rgb[:, 50:] = nodata
    kwargs = {"nodata": nodata} if nodata is not None else {}
    if suffix == "png":
        kwargs.update(driver="PNG")
    truth = make_raster(f"labels.{suffix}", rgb, photometric="RGB", **kwargs)
    prediction = make_raster("pred.tif", ids.astype(np.uint8))
    with pytest.raises(InputError, match=rf"labels\.{suffix}: its RGB bands look like "
                                         rf"colour-coded labels.*--palette {palette}\."):
        evaluate_files(prediction, truth)


def test_grid_mismatch_and_mixed_kinds(make_raster, tmp_path):
    a = make_raster("a.tif", np.zeros((10, 10), np.uint8))
    b = make_raster("b.tif", np.zeros((10, 10), np.uint8), transform=from_origin(0, 0, 1, 1))
    c = make_raster("c.tif", np.zeros((10, 12), np.uint8))
    d = make_raster("d.tif", np.zeros((10, 10), np.uint8), crs="EPSG:32617")
    for other, what in ((b, "pixel size 0.5 x 0.5 against 1 x 1"), (c, "10x10 px against 12x10 px"),
                        (d, "EPSG:32617")):
        with pytest.raises(InputError, match=rf"a\.tif and .*are not on the same grid: "
                                             rf".*{what}.*gdalwarp -tap"):
            evaluate_files(a, other)
    frame([box(0, 0)]).to_file(tmp_path / "v.geojson")
    with pytest.raises(InputError, match="compare like with like"):
        evaluate_files(a, tmp_path / "v.geojson")
    with pytest.raises(InputError, match="no such file"):
        evaluate_files(tmp_path / "missing.tif", a)


@pytest.mark.parametrize("bare", ["truth", "prediction"])
def test_rasters_whose_crs_alone_differs_are_told_to_assign_it(make_raster, tmp_path, bare):
    """A class mask copied to PNG whose .aux.xml was lost keeps its world file (the
    prediction's transform) but no CRS: evaluate said 'not on the same grid: CRS EPSG:32616
    against no CRS' and sent the user to make-masks or gdalwarp, where tile says to assign
    the CRS. It names the file without one and the gdal_edit.py -a_srs that fixes it."""
    ids = (np.arange(400).reshape(20, 20) % 3).astype(np.uint8)
    named = make_raster("pred.tif", ids)
    plain = make_raster("mask.tif", ids, crs=None)
    pair = (named, plain) if bare == "truth" else (plain, named)
    with pytest.raises(InputError) as caught:
        evaluate_files(*pair)
    message = str(caught.value)
    assert message.startswith(f"{plain}: the {bare} has the size and transform of pred.tif "
                              "but no CRS.")
    assert message.endswith(f"gdal_edit.py -a_srs EPSG:32616 {plain}")
    assert "gdalwarp" not in message


def test_a_truncated_raster_is_called_damaged_not_off_the_grid(make_raster, tmp_path):
    """A GeoTIFF cut to its first 300 bytes keeps a header but loses its GeoKeys: beside
    a good file it was 'not on the same grid: no CRS against CRS EPSG:32616', sending the
    user to gdalwarp."""
    good = make_raster("good.tif", np.arange(400, dtype=np.uint8).reshape(20, 20) % 2)
    cut = tmp_path / "cut.tif"
    cut.write_bytes(good.read_bytes()[:300])
    for pair in ((cut, good), (good, cut)):
        with pytest.raises(InputError, match=r"cut\.tif: pixel data cannot be read.*damaged "
                                             r"or truncated"):
            evaluate_files(*pair)


# ----------------------------------------------------------------- reports


def test_report_png_and_html(tmp_path, make_raster):
    from geotile.report import COLOURS, write_report

    transform = from_origin(X0, Y0, 0.5, 0.5)  # the image covers 100 m x 100 m
    truth = frame([box(X0 + 10, Y0 - 40), box(X0 + 40, Y0 - 40)])
    pred = frame([box(X0 + 10, Y0 - 40), box(X0 + 70, Y0 - 80)])
    truth.to_file(tmp_path / "t.geojson")
    pred.to_file(tmp_path / "p.geojson")
    image = make_raster("img.tif", np.full((3, 200, 200), 90, np.uint8), transform=transform)
    result = evaluate_files(tmp_path / "p.geojson", tmp_path / "t.geojson")
    write_report(result, tmp_path / "r.png", image)
    with rasterio.open(tmp_path / "r.png") as png:
        assert png.width == 200 and png.height > 200
        pixels = png.read()
    picture = pixels[:, :200]

    def colour_at(x, y):  # a map point on an outline -> its RGB in the picture
        col, row = ~transform * (x, y)
        return tuple(int(v) for v in picture[:, min(int(row), 199), min(int(col), 199)])

    assert colour_at(X0 + 10, Y0 - 35) == COLOURS["TP"]   # left edge of the matched box
    assert colour_at(X0 + 70, Y0 - 75) == COLOURS["FP"]
    assert colour_at(X0 + 40, Y0 - 35) == COLOURS["FN"]
    assert colour_at(X0 + 25, Y0 - 20) == (90, 90, 90)    # untouched image
    legend = {tuple(pixels[:, r, c]) for r in range(200, pixels.shape[1]) for c in range(200)}
    assert set(COLOURS.values()) <= legend
    write_report(result, tmp_path / "r.html")
    text = (tmp_path / "r.html").read_text()
    assert "<svg" in text and text.count("<path") == 3
    assert "false positive: 1" in text and "F1 0.5000" in text
    with pytest.raises(InputError, match="png"):
        write_report(result, tmp_path / "r.jpg")


@pytest.mark.parametrize("degrees", [30, 90])
def test_a_report_over_a_rotated_image_draws_the_polygons_on_its_pixels(tmp_path, make_raster,
                                                                         degrees):
    """A bright box of a grid turned by ``degrees`` and its polygon, matched: the outline is
    drawn on the box's edge in the PNG and the SVG. The image was stretched north-up over
    its bounding box, so the box lay elsewhere than its outline."""
    from affine import Affine

    from geotile.report import COLOURS, write_report

    transform = Affine.translation(X0, Y0) * Affine.rotation(-degrees) * Affine.scale(0.5, -0.5)
    pixels = np.full((3, 200, 200), 90, np.uint8)
    pixels[:, 40:80, 40:100] = 200
    image = make_raster("img.tif", pixels, transform=transform)
    corners = [(40, 40), (100, 40), (100, 80), (40, 80)]
    building = shapely.Polygon([transform * c for c in corners])
    frame([building]).to_file(tmp_path / "t.geojson")
    frame([building]).to_file(tmp_path / "p.geojson")
    result = evaluate_files(tmp_path / "p.geojson", tmp_path / "t.geojson")
    write_report(result, tmp_path / "r.png", image)
    with rasterio.open(tmp_path / "r.png") as png:
        picture = png.read()[:, :200]
    assert tuple(picture[:, 60, 40]) == COLOURS["TP"]  # the box's left edge (row, col)
    assert tuple(picture[:, 80, 70]) == COLOURS["TP"]  # its bottom edge
    assert tuple(picture[:, 60, 70]) == (200, 200, 200)  # inside: the image
    assert tuple(picture[:, 60, 20]) == (90, 90, 90)
    write_report(result, tmp_path / "r.html", image)
    path = (tmp_path / "r.html").read_text().split('<path d="M')[1].split("Z")[0]
    drawn = [tuple(float(v) for v in xy.split(",")) for xy in path.split("L")]
    assert shapely.Polygon(drawn).equals(shapely.Polygon(corners))


def test_files_of_different_ground_are_warned_about(tmp_path, caplog):
    """Truth and prediction far apart (a CRS or lon/lat mix-up) score 0 with a warning
    saying why, not silently."""
    frame([box(X0, Y0)]).to_file(tmp_path / "t.geojson")
    frame([box(X0 + 5000, Y0)]).to_file(tmp_path / "p.geojson")
    with caplog.at_level("WARNING", logger="geotile"):
        scores = evaluate_files(tmp_path / "p.geojson", tmp_path / "t.geojson").scores
    assert (scores.tp, scores.fp, scores.fn) == (0, 1, 1)
    assert "cover different ground" in caplog.text
    caplog.clear()
    frame([box(X0 + 5, Y0)]).to_file(tmp_path / "near.geojson")
    with caplog.at_level("WARNING", logger="geotile"):
        evaluate_files(tmp_path / "near.geojson", tmp_path / "t.geojson")
    assert "cover different ground" not in caplog.text


def test_invalid_truth_polygons_are_named_with_the_option_that_repairs_them(tmp_path, caplog):
    """A bow-tie truth polygon matches nothing (SpaceNet's rule): the user is told so and
    pointed at --repair-truth rather than left with an unexplained false positive."""
    bowtie = shapely.Polygon([(X0, Y0), (X0 + 10, Y0 - 10), (X0 + 10, Y0), (X0, Y0 - 10)])
    frame([bowtie, box(X0 + 50, Y0)]).to_file(tmp_path / "t.geojson")
    frame([box(X0 + 50, Y0)]).to_file(tmp_path / "p.geojson")
    with caplog.at_level("WARNING", logger="geotile"):
        evaluate_files(tmp_path / "p.geojson", tmp_path / "t.geojson")
    assert "1 invalid truth polygon(s)" in caplog.text and "--repair-truth" in caplog.text


def test_class_values_in_common_or_a_warning(tmp_path, caplog):
    """Ids in the prediction, names in the truth: per-class scores of 0 beside a headline
    F1 of 1 come with a warning naming both sets of values."""
    frame([box(X0, Y0)], cls=[1]).to_file(tmp_path / "p.geojson")
    frame([box(X0, Y0)], cls=["building"]).to_file(tmp_path / "t.geojson")
    with caplog.at_level("WARNING", logger="geotile"):
        result = evaluate_files(tmp_path / "p.geojson", tmp_path / "t.geojson", class_field="cls")
    assert result.scores.tp == 1
    assert "share no cls value (1 against building)" in caplog.text


def test_0_255_masks_with_a_few_strays_read_as_make_masks_reads_them(make_raster, caplog,
                                                                      tmp_path):
    """A JPEG or antialiased 0/255 mask (<= 1 % values 1..254) was read as class ids 0..254
    with 255 ignored: every building pixel dropped, 255 "classes" scored and a warning of
    scaled probabilities. It is a 0/255 mask (raster_kinds.kind_0_255), 1 from 128 up, as
    make-masks reads it; on either side, and across a folder's masks."""
    import warnings

    from geotile.errors import GeotileWarning
    from geotile.folder_evaluation import evaluate_folders

    mask = np.zeros((100, 100), np.uint8)
    mask[20:50, 20:50] = 255  # 900 px
    mask[50, 20:40] = 200  # an antialiased edge: 20 px of building
    mask[19, 20:40] = 40  # and 20 px of background
    mask[80, 80:90] = np.arange(1, 11)  # JPEG noise: background
    ones = (mask >= 128).astype(np.uint8)
    expected = [[10000 - 920, 0], [0, 920]]
    with warnings.catch_warnings(), caplog.at_level("WARNING", logger="geotile"):
        warnings.simplefilter("error", GeotileWarning)
        for p_values, t_values in ((ones, mask), (mask, ones), (mask, mask)):
            result = evaluate_rasters(make_raster("p.tif", p_values),
                                      make_raster("t.tif", t_values))
            assert result.confusion.tolist() == expected
            assert result.classes()[1]["iou"] == 1.0
    assert "do not cover" not in caplog.text
    for side, a, b in (("p", ones, ones), ("t", mask, ones * 255)):  # strayed, clean 0/255
        (tmp_path / side).mkdir()
        make_raster(f"{side}/a.tif", a)
        make_raster(f"{side}/b.tif", b)
    many = evaluate_folders(tmp_path / "p", tmp_path / "t")
    assert many.scores.confusion.tolist() == [[2 * 10000 - 1840, 0], [0, 1840]]
    # strays all below 128 beside 255: class ids, 255 the ignore value (make-masks' too)
    low = np.where(mask == 200, 1, mask).astype(np.uint8)
    result = evaluate_rasters(make_raster("p.tif", ones), make_raster("t.tif", low))
    assert result.pixels == 10000 - 900
    # vectorize's (and instances', lines') read of such a mask: the same 1s
    from geotile.raster_kinds import RasterKind, class_ids

    kind = RasterKind("class", 255.0, None, binary_255=True)
    assert (class_ids(mask[np.newaxis], np.ones(mask.shape, bool), kind, 0.5)[0] == ones).all()


def _rectangles(size: int, count: int, seed: int, low=6, high=30) -> np.ndarray:
    """A 0/255 building mask of ``count`` random rectangles."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((size, size), np.uint8)
    for _ in range(count):
        y, x = rng.integers(0, size - high, 2)
        h, w = rng.integers(low, high, 2)
        mask[y:y + h, x:x + w] = 255
    return mask


def _plain_image(path, pixels: np.ndarray, **save) -> str:
    """``pixels`` saved by PIL (no georeferencing, as a photo editor or a dataset writes)."""
    from PIL import Image

    Image.fromarray(pixels).save(path, **save)
    return str(path)


@pytest.mark.parametrize("count", [30, 60, 120])
def test_jpeg_and_resampled_0_255_masks_with_over_1_percent_strays_stay_masks(
        make_raster, tmp_path, count):
    """A 0/255 mask saved as JPEG at PIL's default quality 75 (1.3-3 % values 1..254) or
    resampled bilinearly (1-7 %) had its 255s, every building pixel, dropped as the ignore
    value, 0..254 scored as classes, exit 0. Strays spread over many values, from 128 up
    too, are such noise: read 1 from 128 up, on either side."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        mask = _rectangles(256, count, seed=count)
        exact = _plain_image(tmp_path / "exact.png", mask)
        jpeg = _plain_image(tmp_path / "mask.jpg", mask, quality=75)
        with rasterio.open(jpeg) as src:
            decoded = src.read(1)
        share = ((decoded > 0) & (decoded < 255)).mean()
        assert share > 0.01, share  # past the 1 % of a few strays
        ones = (decoded >= 128).astype(np.int64)
        expected = numpy_confusion(ones, (mask == 255).astype(np.int64), 2)
        result = evaluate_rasters(exact, jpeg)
        assert result.confusion.tolist() == expected.T.tolist()
        assert result.pixels == mask.size
        result = evaluate_rasters(jpeg, exact)
        assert result.confusion.tolist() == expected.tolist()
    # bilinear onto a grid shifted by half a pixel (gdalwarp -r bilinear): 64, 128, 191
    # at the edges; and by 0.3 px: more values
    wide = _rectangles(257, count, seed=count + 1).astype(np.float64)
    for wy, wx in ((0.5, 0.5), (0.3, 0.7)):
        aa = (wy * wx * wide[:-1, :-1] + wy * (1 - wx) * wide[:-1, 1:]
              + (1 - wy) * wx * wide[1:, :-1] + (1 - wy) * (1 - wx) * wide[1:, 1:])
        aa = np.round(aa).astype(np.uint8)
        share = ((aa > 0) & (aa < 255)).mean()
        assert 0.01 < share < 0.08, share
        ones = (aa >= 128).astype(np.uint8)
        result = evaluate_rasters(make_raster("p.tif", ones), make_raster("t.tif", aa))
        assert result.pixels == aa.size
        assert result.confusion.tolist() == [[int((ones == 0).sum()), 0],
                                             [0, int(ones.sum())]]


def test_a_sparse_class_raster_with_an_ignore_value_stays_class_ids(make_raster):
    """Classes 1..3 over 5 % of the pixels, 0 background and 255 to ignore: class ids (no
    0/255 mask with strays), its 255 left out, however many pixels each class holds."""
    truth = np.zeros((100, 100), np.uint8)
    truth[:30] = 255
    truth[40:42, :] = 1  # 200 px
    truth[50:52, :50] = 2  # 100 px
    truth[60:62, :100] = 3  # 200 px
    pred = np.where(truth == 255, 0, truth).astype(np.uint8)
    result = evaluate_rasters(make_raster("p.tif", pred), make_raster("t.tif", truth))
    assert result.pixels == 7000 and result.accuracy == 1.0
    assert result.confusion.shape == (4, 4)


def test_a_named_mask_that_lost_its_nodata_keeps_255_as_its_ignore_value(make_raster,
                                                                        tmp_path):
    """make-masks' mask (GEOTILE_OUTPUT=mask, names background/building) whose nodata tag
    a rewrite dropped: on a tile without buildings it holds only 0 and 255, and its 12000
    ignore pixels (image nodata) were scored as 'building', all missed; with a building,
    255 was ignored. A raster naming its classes is no 0/255 mask: 255 is ignore, alone
    and in a folder."""
    import json

    from geotile.folder_evaluation import evaluate_folders

    truth = np.zeros((60, 80), np.uint8)
    truth[:, :20] = 255  # the image's nodata strip
    pred = np.zeros((60, 80), np.float32)
    pred[10:20, 30:40] = 0.9  # 100 false positives
    tags = {"GEOTILE_OUTPUT": "mask",
            "GEOTILE_CLASS_NAMES": json.dumps(["background", "building"])}
    for folder in ("p", "t"):
        (tmp_path / folder).mkdir()
    for name in ("a", "b"):
        make_raster(f"p/{name}.tif", pred)
        path = make_raster(f"t/{name}.tif", truth, nodata=255 if name == "b" else None)
        with rasterio.open(path, "r+") as dst:
            dst.update_tags(**tags)
    expected = [[3600 - 100, 100], [0, 0]]
    result = evaluate_rasters(tmp_path / "p" / "a.tif", tmp_path / "t" / "a.tif")
    assert result.confusion.tolist() == expected
    assert result.pixels == 3600
    many = evaluate_folders(tmp_path / "p", tmp_path / "t")
    assert many.scores.confusion.tolist() == [[2 * 3500, 200], [0, 0]]
    for name in ("a", "b"):
        assert many.per_image[name].confusion.tolist() == expected


def test_a_0_255_truth_declaring_nodata_255_is_warned_of(make_raster, tmp_path, caplog):
    """A 0/255 building mask declaring nodata 255 lost all its 2983 building pixels as
    nodata without a word (building support 0); the nodata-0 twin is warned of. Declared
    nodata stays nodata (as make-masks reads it), with a warning counting the pixels the
    prediction holds a class in and naming the fix; alone and over a folder. A truth
    with classes beside its nodata 255, or naming its classes (make-masks'), is not
    warned of."""
    from geotile.folder_evaluation import evaluate_folders

    rng = np.random.default_rng(9)
    building = rng.random((100, 100)) < 0.3
    truth = (building * 255).astype(np.uint8)
    pred = building.astype(np.float32)
    with caplog.at_level("WARNING", logger="geotile"):
        result = evaluate_rasters(make_raster("p.tif", pred),
                                  make_raster("t.tif", truth, nodata=255))
    lost = int(building.sum())
    assert result.pixels == 10000 - lost  # declared nodata: left out
    assert f"t.tif: its nodata value 255 is every non-zero pixel: {lost} pixels" in caplog.text
    assert "gdal_edit.py -unsetnodata t.tif" in caplog.text
    for folder in ("p", "t"):
        (tmp_path / folder).mkdir()
    for name in ("a", "b"):
        make_raster(f"p/{name}.tif", pred)
        make_raster(f"t/{name}.tif", truth, nodata=255)
    caplog.clear()
    with caplog.at_level("WARNING", logger="geotile"):
        evaluate_folders(tmp_path / "p", tmp_path / "t")
    assert caplog.text.count("nodata value 255") == 1 and f"{2 * lost} pixels" in caplog.text
    classes = np.where(building, 1, 0).astype(np.uint8)
    classes[:10] = 255
    caplog.clear()
    with caplog.at_level("WARNING", logger="geotile"):
        evaluate_rasters(make_raster("p.tif", pred), make_raster("t.tif", classes, nodata=255))
    assert "nodata" not in caplog.text
    named = make_raster("t.tif", truth, nodata=255)
    with rasterio.open(named, "r+") as dst:
        dst.update_tags(GEOTILE_CLASS_NAMES='["background", "building"]')
    caplog.clear()
    with caplog.at_level("WARNING", logger="geotile"):
        evaluate_rasters(make_raster("p.tif", pred), named)
    assert "nodata" not in caplog.text


def test_nodata_255_as_the_ignore_value_of_0_1_truths_is_not_warned_of(make_raster, tmp_path,
                                                                        caplog):
    """0/1 truths declaring nodata 255 (the ignore value): a tile without buildings (0 and a
    10 px ignore strip only) was warned of as a 0/255 mask whose positives are nodata, and
    advised '-unsetnodata on each', which would score every ignore region as buildings.
    In a folder whose other truths hold class 1, and for a pair whose prediction holds a
    class on under half of the 255s, there is no warning; the scores are unchanged."""
    from geotile.folder_evaluation import evaluate_folders

    for folder in ("p", "t"):
        (tmp_path / folder).mkdir()
    for name, building in (("a", True), ("b", False)):
        truth = np.zeros((40, 40), np.uint8)
        truth[:, :10] = 255  # ignore strip
        pred = np.zeros((40, 40), np.uint8)
        pred[:, :10] = 1  # the model says building in the ignore strip
        if building:
            truth[20:30, 20:30] = pred[20:30, 20:30] = 1
        make_raster(f"p/{name}.tif", pred)
        make_raster(f"t/{name}.tif", truth, nodata=255)
    with caplog.at_level("WARNING", logger="geotile"):
        many = evaluate_folders(tmp_path / "p", tmp_path / "t")
    assert "nodata" not in caplog.text
    assert many.scores.confusion.tolist() == [[2 * 1200 - 100, 0], [0, 100]]
    pred = np.zeros((40, 40), np.uint8)
    pred[:15, :10] = 1  # a class on 150 of the 400 ignored pixels
    caplog.clear()
    with caplog.at_level("WARNING", logger="geotile"):
        result = evaluate_rasters(make_raster("p.tif", pred), tmp_path / "t" / "b.tif")
    assert "nodata" not in caplog.text and result.pixels == 1200
    pred[:25, :10] = 1  # on 250 of them: maybe a 0/255 mask's positives, declared nodata
    with caplog.at_level("WARNING", logger="geotile"):
        evaluate_rasters(make_raster("p.tif", pred), tmp_path / "t" / "b.tif")
    assert "b.tif: its nodata value 255 is every non-zero pixel: 250 pixels" in caplog.text


def test_a_jpeg_mask_of_many_small_shapes_stays_a_mask(tmp_path):
    """A JPEG (quality 90) of a mask of many 3 px shapes holds a third of its pixels as
    values 1..254, 0 and 255 still the most: still a 0/255 mask, scored >= 128 as 1."""
    import warnings

    rng = np.random.default_rng(5)
    mask = ((rng.random((64, 64)) < 0.4).repeat(3, 0).repeat(3, 1) * 255).astype(np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        jpeg = _plain_image(tmp_path / "mask.jpg", mask, quality=90)
        with rasterio.open(jpeg) as src:
            decoded = src.read(1)
        share = ((decoded > 0) & (decoded < 255)).mean()
        assert 0.25 < share < 0.5, share
        ones = (decoded >= 128).astype(np.uint8)
        result = evaluate_rasters(_plain_image(tmp_path / "p.png", ones), jpeg)
    assert result.confusion.tolist() == [[int((ones == 0).sum()), 0], [0, int(ones.sum())]]


def test_an_undeclared_nodata_at_the_dtype_maximum_is_named_as_such(make_raster):
    """uint16 land cover codes 111..512 with rows of 65535 (an undeclared nodata): the
    error advised a probability scale (which would make the codes probabilities), not
    declaring the nodata. Values beyond the scored ids that are all the dtype's maximum
    get the nodata fix; a raster of large values keeps the scale advice."""
    codes = np.array([111, 112, 211, 311, 512], np.uint16)
    truth = codes[np.random.default_rng(3).integers(0, 5, (20, 20))]
    undeclared = truth.copy()
    undeclared[:5] = 65535
    with pytest.raises(InputError) as caught:
        evaluate_rasters(make_raster("p.tif", truth), make_raster("t.tif", undeclared))
    assert "gdal_edit.py -a_nodata 65535 t.tif" in str(caught.value)
    assert "-scale" not in str(caught.value)
    scores = (np.arange(400, dtype=np.uint16) * 160).reshape(20, 20)
    with pytest.raises(InputError, match=r"-scale 1\.5259e-05 t\.tif"):
        evaluate_rasters(make_raster("p.tif", truth), make_raster("t.tif", scores))


def test_a_0_65535_mask_is_not_told_to_declare_its_foreground_no_data(make_raster, tmp_path):
    """A 16-bit mask of 0 and 65535 (a 16-bit PNG's) was refused with the one fix 'if 65535
    marks no data, declare it', and so declared it scored accuracy and mean IoU 1.0 over the
    background alone, exit 0. The error names the 0/65535 mask and its conversion to 0/1
    (gdal_translate -scale), which then scores as a 0/1 mask; the nodata fix stays second."""
    import subprocess

    truth = np.zeros((20, 20), np.uint8)
    truth[4:12, 3:9] = 1
    predicted = np.roll(truth, 2, axis=1)
    mask = make_raster("mask16.tif", predicted.astype(np.uint16) * 65535)
    with pytest.raises(InputError) as caught:
        evaluate_rasters(mask, make_raster("t.tif", truth))
    message = str(caught.value)
    assert "\n" not in message and "0/65535 mask" in message
    fix = "gdal_translate -scale 0 65535 0 1 -ot Byte mask16.tif"
    assert fix in message and message.index(fix) < message.index("-a_nodata 65535")
    subprocess.run([*fix.split(" ")[:-1], str(mask), str(tmp_path / "m.tif")], check=True,
                   capture_output=True)
    result = evaluate_rasters(tmp_path / "m.tif", make_raster("t.tif", truth))
    assert result.confusion.tolist() == [[400 - 48 - 16, 16], [16, 32]]


def test_a_grey_class_mask_and_instance_ids_are_scored_as_ids_not_as_a_noisy_mask(
        make_raster):
    """A class truth saved as 0/64/128/192/255 (45 % values 1..254) was read as a JPEG-noisy
    0/255 mask: its classes 128 and 192 merged with 255 into 'class 1', 64 into
    background, so a prediction swapping 128 for 64 scored perfect. Its values lie away
    from the 0 <-> 255 edges: class ids, 255 the ignore value; instance ids too."""
    from tests.test_vectorize_inputs import _grey_classes, _instance_ids

    truth = _grey_classes()
    pred = np.where(truth == 128, 64, np.where(truth == 255, 0, truth)).astype(np.uint8)
    result = evaluate_rasters(make_raster("p.tif", pred), make_raster("t.tif", truth))
    assert result.pixels == 400 * 340  # the 255 column left out
    c = result.confusion
    assert c.shape == (193, 193) and c[0, 0] == 400 * 160 and c[192, 192] == 400 * 60
    assert c[64, 64] == 400 * 60 and c[128, 64] + c[64, 128] == 400 * 60
    assert result.accuracy == pytest.approx(280 / 340)
    ids = _instance_ids()
    result = evaluate_rasters(make_raster("pi.tif", ids), make_raster("ti.tif", ids))
    assert result.confusion.shape == (255, 255) and result.accuracy == 1.0
    assert result.pixels == ids.size - (ids == 255).sum()


@pytest.mark.parametrize("dtype", [np.uint16, np.int16, np.float32])
def test_a_wider_0_255_truth_scores_its_buildings(make_raster, dtype):
    """A 0/255 building truth stored as UInt16, Int16 or Float32 had every building left
    out as the ignore value: mean IoU 1.0 for any prediction, an all-background one too.
    It is a 0/255 mask as a uint8 one is: 255 is class 1; so is a 0/255 prediction of
    these types (a Float32 one, QGIS' `(p > 0.5) * 255`, was refused as probabilities
    reaching 255); a float one of other values too may be 0..255 scores: refused."""
    truth = np.zeros((20, 20), np.uint8)
    truth[5:15, 5:15] = 255
    pred = np.zeros((20, 20), np.uint8)
    pred[5:15, 7:15] = 1  # 80 of 100 found
    t = make_raster("t.tif", truth.astype(dtype))
    result = evaluate_rasters(make_raster("p.tif", pred), t)
    assert result.pixels == 400 and result.confusion.tolist() == [[300, 0], [20, 80]]
    empty = evaluate_rasters(make_raster("p0.tif", np.zeros((20, 20), np.uint8)), t)
    assert empty.classes()[1]["iou"] == 0
    wide_pred = make_raster("pw.tif", (pred * 255).astype(dtype))
    assert evaluate_rasters(wide_pred, t).confusion.tolist() == [[300, 0], [20, 80]]
    if dtype == np.float32:
        scores = (pred * 255).astype(dtype)
        scores[5, 7] = 128.0
        with pytest.raises(InputError, match="values reach 255: not probabilities"):
            evaluate_rasters(make_raster("ps.tif", scores), t)


def test_a_soft_truth_is_probabilities_wherever_its_fractions_lie(make_raster):
    """A Float32 soft-label truth (buildings 1.0 with an antialiased 0.5 border) whose
    fractions lay between the sample windows was taken for class ids, then refused at its
    first fraction ('class ids are not whole numbers'). Any fraction in the band makes it
    probabilities, thresholded at 0.5 as before."""
    truth = np.zeros((1000, 1000), np.float32)
    truth[79:121, 79:121] = 0.5  # rows/cols 64..133 hold no sample window
    truth[80:120, 80:120] = 1.0
    pred = (truth >= 0.5).astype(np.uint8)
    result = evaluate_rasters(make_raster("p.tif", pred), make_raster("t.tif", truth))
    assert result.pixels == 10**6 and result.classes()[1]["iou"] == 1.0
    assert result.classes()[1]["support"] == 42 * 42


def test_pixel_scores_refuse_instance_ids_as_classes():
    """Instance ids (100,000 buildings) given to pixel_scores built a 100,000 x 100,000
    confusion matrix (80 GB) and ran out of memory; evaluate refuses such rasters, and the
    arrays get the same one line."""
    truth = np.arange(5000, dtype=np.int32).reshape(50, 100)  # small enough to fail safely
    with pytest.raises(InputError, match=r"value 4999 is beyond the class ids.*0\.\.1023"):
        pixel_scores(truth, truth)
    with pytest.raises(InputError, match="beyond the class ids"):
        confusion_matrix(np.zeros_like(truth), truth)


def test_pixel_scores_with_class_names_read_a_0_255_truth_as_evaluate_does(make_raster):
    """class_names turned the 0/255 reading off: a 0/255 truth's 255 became the ignore value,
    so building IoU 0.0, support 0, where evaluate (a prediction naming its classes) gives
    the same arrays building IoU 0.68 of 1223 px. A class truth's 255 is still ignored."""
    import json

    rng = np.random.default_rng(0)
    truth = (rng.random((64, 64)) < 0.3).astype(np.uint8)
    pred = truth.copy()
    pred[:8] = 1 - pred[:8]
    names = ["background", "building"]
    scores = pixel_scores(pred, truth * 255, class_names=names)
    assert scores.confusion.tolist() == numpy_confusion(truth, pred, 2).tolist()
    building = scores.classes()[1]
    assert building["class"] == "building" and building["support"] == int(truth.sum()) > 1000
    named = make_raster("p.tif", pred[None])
    with rasterio.open(named, "r+") as dst:
        dst.update_tags(GEOTILE_CLASS_NAMES=json.dumps(names))
    on_files = evaluate_rasters(named, make_raster("t.tif", (truth * 255)[None]))
    assert on_files.confusion.tolist() == scores.confusion.tolist()
    assert on_files.as_dict()["mean_iou"] == scores.as_dict()["mean_iou"]
    ignored = truth.copy()
    ignored[:10] = 255  # make-masks' ignore value
    kept = pixel_scores(truth, ignored, class_names=names)
    assert kept.confusion.tolist() == numpy_confusion(truth[10:], truth[10:], 2).tolist()


@pytest.mark.parametrize("dtype", [np.uint8, np.int64])
def test_pixel_scores_with_3_class_names_ignore_255_on_a_background_only_patch(dtype):
    """With 3 class names a patch of background 0 and the ignore value 255 (an 8 px border,
    torch's ignore_index) was read as a 0/255 building mask: its 1792 ignored pixels became
    missed buildings, accuracy 0.5625 where the prediction is right everywhere (1.0)."""
    truth = np.full((64, 64), 255, dtype)
    truth[8:-8, 8:-8] = 0
    scores = pixel_scores(np.zeros((64, 64), dtype), truth,
                          class_names=["background", "building", "road"])
    assert scores.confusion.tolist() == [[48 * 48, 0, 0], [0, 0, 0], [0, 0, 0]]
    assert scores.accuracy == 1.0


@pytest.mark.parametrize("fill", [np.finfo(np.float32).min, np.finfo(np.float32).max])
def test_an_undeclared_float32_nodata_is_named_as_such(make_raster, run_cli, fill):
    """A float32 class raster with rows of the float32 minimum (an undeclared nodata)
    printed numpy's 'invalid value encountered in cast' above 'negative class ids', without
    the fix make-masks and vectorize give: declare it, as gdal_edit.py takes it exactly."""
    from .conftest import assert_one_line_error

    truth = (np.random.default_rng(4).random((20, 20)) < 0.3).astype(np.uint8)
    undeclared = truth.astype(np.float32)
    undeclared[:4] = fill
    result = run_cli("evaluate", make_raster("p.tif", truth),
                     make_raster("t.tif", undeclared))
    assert_one_line_error(result, "t.tif", f"gdal_edit.py -a_nodata {float(fill)!r}")


def test_collections_of_polygons_are_scored_by_their_polygons(tmp_path, run_cli):
    """Truth written by `ogr2ogr -nlt GEOMETRYCOLLECTION` or clipped to an AOI (a building
    and the sliver of its outline on the edge): each building was left out with a warning,
    so its exact prediction scored a false positive (TP 1, FP 1 of 2) while make-masks burns
    the same file's buildings; now a collection is scored by the union of its polygons."""
    import json

    x, y = X0 + 10, Y0 - 50
    pred = tmp_path / "pred.gpkg"
    frame([box(x, y), box(x + 30, y), box(x + 60, y)]).to_file(pred)
    truth = tmp_path / "truth.geojson"
    edge = shapely.LineString([(x + 30, y), (x + 30, y - 5)])
    halves = [shapely.box(x + 60, y, x + 65, y + 10), shapely.box(x + 65, y, x + 70, y + 10)]
    frame([box(x, y), shapely.GeometryCollection([box(x + 30, y), edge]),
           shapely.GeometryCollection(halves), shapely.GeometryCollection([edge])]
          ).to_file(truth)
    result = run_cli("evaluate", pred, truth, "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert (scores["tp"], scores["fp"], scores["fn"], scores["truths"]) == (3, 0, 0, 3)
    assert scores["mean_iou"] == pytest.approx(1.0)
    assert "1 feature is a geometry collection, not a polygon" in result.stderr


def test_tables_tell_classes_apart_whose_names_share_their_start():
    """Chesapeake's 'Tree Canopy over Structures' / '... over Impervious Roads': the pixel
    table cut both rows to 'Tree Canopy ove' and the confusion matrix headed three columns
    'Tree Ca', and the object table did the same per class; now rows show whole names and
    the matrix, where cut names would clash, heads its columns with class ids."""
    from geotile.object_scores import ObjectEvaluation, ObjectScores

    names = ["background", "Tree Canopy", "Tree Canopy over Structures",
             "Tree Canopy over Impervious Roads"]
    truth = np.repeat(np.arange(4, dtype=np.uint8), 25).reshape(10, 10)
    pred = truth.copy()
    pred[9, :5] = 2  # 5 pixels of roads' canopy called structures' canopy
    lines = pixel_scores(pred, truth, class_names=names).table().splitlines()
    rows = [line for line in lines if line.startswith("Tree Canopy over")]
    assert [r.split()[:4] for r in rows[:2]] == [
        ["Tree", "Canopy", "over", "Structures"], ["Tree", "Canopy", "over", "Impervious"]]
    assert rows[1].split()[5:] == ["0.8000", "0.8889", "1.0000", "0.8000", "25"]
    matrix = lines[lines.index("Confusion matrix (rows: truth, columns: prediction):") + 1:]
    assert matrix[0].split() == ["0", "1", "2", "3"]
    assert matrix[-1].split()[-4:] == ["0", "0", "5", "20"]
    assert matrix[-1].startswith("3 Tree Canopy over Impervious Roads")
    scores = {n: ObjectScores(1, 0, 0, 0.5) for n in names[2:]}
    table = ObjectEvaluation(ObjectScores(2, 0, 0, 0.5), [], [], scores).table()
    assert "  Tree Canopy over Structures " in table
    assert "  Tree Canopy over Impervious Roads " in table


def test_a_min_area_leaving_out_every_truth_polygon_is_said(run_cli, tmp_path):
    """--min-area 1000 (m^2, given as if pixels) over 10 x 10 m buildings left out every
    polygon and printed precision 0, recall 0, F1 0 with exit 0 and not a word why."""
    x, y = X0 + 10, Y0 - 50
    pred, truth = tmp_path / "pred.geojson", tmp_path / "truth.geojson"
    frame([box(x, y), box(x + 30, y)]).to_file(pred)
    frame([box(x, y), box(x + 30, y)]).to_file(truth)
    result = run_cli("evaluate", pred, truth, "--min-area", 1000, "--json")
    assert result.exit_code == 0, result.output
    assert '"truths": 0' in result.stdout
    assert "--min-area 1000" in result.stderr and "all 2 truth polygons" in result.stderr
    assert "largest" in result.stderr
    result = run_cli("evaluate", pred, truth, "--min-area", 50, "--json")
    assert result.exit_code == 0 and '"tp": 2' in result.stdout
    assert "--min-area" not in result.stderr


def test_min_area_of_web_mercator_truth_is_ground_square_metres(run_cli, tmp_path):
    """A 10 x 10 m and a 30 x 30 m building at 60 N in EPSG:3857 (about 400 and 3600
    "square metres" there): --min-area 200 leaves out the 100 m^2 one, as --help says."""
    utm = gpd.GeoSeries([shapely.box(500000, 6650000, 500010, 6650010),
                         shapely.box(500100, 6650000, 500130, 6650030)], crs="EPSG:32633")
    pred, truth = tmp_path / "pred.gpkg", tmp_path / "truth.gpkg"
    for path in (pred, truth):
        gpd.GeoDataFrame(geometry=utm.to_crs("EPSG:3857")).to_file(path)
    result = run_cli("evaluate", pred, truth, "--min-area", 200, "--json")
    assert result.exit_code == 0, result.output
    assert '"truths": 1' in result.stdout and '"tp": 1' in result.stdout
    help_text = " ".join(run_cli("evaluate", "--help").output.split())
    assert "AREA in ground m^2 (in the truth's UTM zone when its CRS is in degrees, feet or " \
           "Web Mercator)" in help_text


def test_pixel_scores_read_blocks_of_at_most_1024_px(tmp_path, monkeypatch):
    """Pixel evaluate read 4096 x 4096 blocks, cast to int64 several times over: ~1 GB held
    for two 6000 px class rasters (976 MB peak RSS), where 1024 px blocks hold ~200 MB at
    the same speed. The scores do not depend on the blocks."""
    import geotile.raster
    from geotile.evaluate import evaluate_rasters

    from .conftest import write_raster

    rng = np.random.default_rng(0)
    truth = write_raster(tmp_path / "t.tif", rng.integers(0, 3, (2500, 2100)).astype(np.uint8),
                         tiled=True, blockxsize=256, blockysize=256)
    pred = write_raster(tmp_path / "p.tif", rng.integers(0, 3, (2500, 2100)).astype(np.uint8),
                        tiled=True, blockxsize=256, blockysize=256)
    sizes = []
    read_block = geotile.raster.read_block
    monkeypatch.setattr(geotile.raster, "read_block", lambda src, left, top, cols, rows, *a,
                        **k: sizes.append((cols, rows)) or read_block(src, left, top, cols,
                                                                      rows, *a, **k))
    scores = evaluate_rasters(pred, truth)
    assert sizes and max(max(s) for s in sizes) <= 1024
    with rasterio.open(pred) as p, rasterio.open(truth) as t:
        p_ids, t_ids = p.read(1).astype(int), t.read(1).astype(int)
    expected = np.bincount((t_ids * 3 + p_ids).ravel(), minlength=9).reshape(3, 3)
    np.testing.assert_array_equal(scores.confusion, expected)


def test_a_compound_crs_prediction_scores_against_plain_utm_truth(make_raster):
    """predict writes the ortho's compound CRS (UTM 16N + EGM96 height); a truth mask in
    plain UTM 16N on the same pixels was refused as 'not on the same grid'."""
    rng = np.random.default_rng(5)
    truth = rng.integers(0, 2, (30, 40)).astype(np.uint8)
    compound = rasterio.crs.CRS.from_user_input("EPSG:32616+5773")
    result = evaluate_rasters(make_raster("p.tif", truth, crs=compound),
                              make_raster("t.tif", truth, crs=UTM_CRS))
    assert result.pixels == 1200
    assert result.confusion.tolist() == numpy_confusion(truth, truth, 2).tolist()


def test_match_polygons_takes_the_union_of_geometry_collections():
    """geotile.match_polygons of a GeometryCollection (a clip's output: a building and
    parts of it drawn again) took its union's area as a + b - intersection, the collection's
    area counting the overlaps again: IoU 0.33 (FP) for a prediction equal to its truth
    building (IoU 1), where shapely's union gives TP."""
    from shapely.geometry import box

    truth = [box(0, 0, 10, 10), box(20, 0, 30, 10)]
    pred = [shapely.GeometryCollection([box(0, 0, 10, 10)] * 3),
            shapely.MultiPolygon([box(20, 0, 30, 10)])]
    scores = match_polygons(pred, truth)
    assert (scores.tp, scores.fp, scores.fn) == (2, 0, 0)
    assert [m.iou for m in scores.matches] == pytest.approx([1.0, 1.0])


def test_nad27_predictions_against_nad83_truth_say_the_datum_shift_is_inexact(tmp_path):
    """Predictions in NAD27 UTM scored against NAD83 UTM truth: without the NADCON grid the
    Helmert PROJ falls back to is good to 14 m only (a 12 m building can miss entirely);
    evaluate says so as make-masks does, and moves them the same way make-masks burns them."""
    import warnings

    from pyproj import Transformer

    from .test_masks import _nad27_grid_missing

    to_nad27 = Transformer.from_crs("EPSG:26916", "EPSG:26716", always_xy=True)
    square = box(X0, Y0, 12)
    frame([square], crs="EPSG:26916").to_file(tmp_path / "t.gpkg")
    moved = shapely.transform(square, lambda xy: np.column_stack(to_nad27.transform(*xy.T)))
    frame([moved], crs="EPSG:26716").to_file(tmp_path / "p.gpkg")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = evaluate_files(tmp_path / "p.gpkg", tmp_path / "t.gpkg")
    said = [str(w.message) for w in caught if "projsync" in str(w.message)]
    if _nad27_grid_missing(X0, Y0):
        assert len(said) == 1 and said[0].startswith(
            f"{tmp_path / 'p.gpkg'}: moving EPSG:26716 to EPSG:26916 is accurate to")
    else:
        assert said == []
    assert result.scores.matches[0].iou == pytest.approx(1.0, abs=1e-3)


def test_a_long_edge_is_scored_where_make_masks_burns_it(tmp_path):
    """A 20 km Web Mercator field scored against its UTM truth (the same field, its top
    edge followed in UTM): moving the corners only put the edges 3 m off, IoU 0.994
    instead of 1; now they follow their curve (1 cm), as make-masks burns them."""
    from pyproj import Transformer

    there = Transformer.from_crs(UTM_CRS, "EPSG:3857", always_xy=True)
    mx, my = there.transform(X0, Y0)
    field = shapely.box(mx - 10_000, my - 1_000, mx + 10_000, my)
    frame([field], crs="EPSG:3857").to_file(tmp_path / "p.gpkg")
    back = Transformer.from_crs("EPSG:3857", UTM_CRS, always_xy=True)
    true = shapely.transform(shapely.segmentize(field, 10.0),
                             lambda xy: np.column_stack(back.transform(*xy.T)))
    frame([true]).to_file(tmp_path / "t.gpkg")
    result = evaluate_files(tmp_path / "p.gpkg", tmp_path / "t.gpkg")
    assert result.scores.matches[0].iou == pytest.approx(1.0, abs=1e-4)


def test_a_file_geodatabase_truth_is_a_file_not_a_folder(tmp_path):
    """An ArcGIS File Geodatabase (footprints.gdb, a folder GDAL reads as one dataset) was
    refused as truth: "footprints.gdb is a folder but p.gpkg is not: give two folders"."""
    boxes = [box(X0, Y0), box(X0 + 50, Y0)]
    frame(boxes, kind=["house", "shed"]).to_file(tmp_path / "footprints.gdb",
                                                 driver="OpenFileGDB", layer="buildings")
    frame(boxes[:1], kind=["house"]).to_file(tmp_path / "p.gpkg")
    for pred, truth in (("p.gpkg", "footprints.gdb"), ("footprints.gdb", "p.gpkg")):
        result = evaluate_files(tmp_path / pred, tmp_path / truth)
        assert (result.scores.tp, result.scores.fp + result.scores.fn) == (1, 1)


def test_folders_of_file_geodatabases_are_paired_by_name(tmp_path):
    """Two folders of File Geodatabases (pred/a.gdb, truth/a.gdb, one per tile): a .gdb is
    one dataset, yet the folders were refused as 'no raster or vector file in the folder'."""
    for folder in ("pred", "truth"):
        (tmp_path / folder).mkdir()
        for n, name in enumerate(("a", "b")):
            boxes = [box(X0 + 50 * n, Y0)] if folder == "pred" else [box(X0, Y0),
                                                                     box(X0 + 50, Y0)]
            frame(boxes, kind=["house"] * len(boxes)).to_file(
                tmp_path / folder / f"{name}.gdb", driver="OpenFileGDB", layer="buildings")
    result = evaluate_files(tmp_path / "pred", tmp_path / "truth")
    assert (result.scores.tp, result.scores.fp, result.scores.fn) == (2, 0, 2)


def test_coordinates_whose_area_overflows_are_refused_not_scored(tmp_path, run_cli):
    """Two identical boxes at 1e300 m scored TP 0, FP 1, FN 1 (F1 0, exit 0) behind numpy
    overflow warnings; such a file is refused in one line naming it."""
    from .conftest import assert_one_line_error

    box = shapely.box(1e300, 1e300, 3e300, 3e300)
    for name in ("pred.gpkg", "truth.gpkg"):
        gpd.GeoDataFrame(geometry=[box], crs=UTM_CRS).to_file(tmp_path / name)
    result = run_cli("evaluate", tmp_path / "pred.gpkg", tmp_path / "truth.gpkg")
    assert_one_line_error(result, ".gpkg", "up to 3e+300", "beyond any CRS")
    near = shapely.box(1e15, 1e15, 1e15 + 10, 1e15 + 10)  # large but exact: still scored
    for name in ("pred.gpkg", "truth.gpkg"):
        gpd.GeoDataFrame(geometry=[near], crs=UTM_CRS).to_file(tmp_path / name)
    result = run_cli("evaluate", tmp_path / "pred.gpkg", tmp_path / "truth.gpkg", "--json")
    assert result.exit_code == 0, result.output
    assert '"tp": 1' in result.stdout


def test_nan_coordinates_are_refused_as_nan_not_as_overflowing(tmp_path, run_cli):
    """A polygon with a NaN vertex beside a box at 500,000 m was refused as '1 feature(s)
    have coordinates up to 4.00001e+06, beyond any CRS (their areas overflow)': UTM
    metres, named as beyond any CRS; it is refused as NaN coordinates."""
    box = shapely.box(500000, 4000000, 500010, 4000010)
    nan = shapely.Polygon([(500000, 4000000), (np.nan, 4000000), (500010, 4000010)])
    gpd.GeoDataFrame(geometry=[box, nan], crs=UTM_CRS).to_file(tmp_path / "pred.gpkg")
    gpd.GeoDataFrame(geometry=[box], crs=UTM_CRS).to_file(tmp_path / "truth.gpkg")
    result = run_cli("evaluate", tmp_path / "pred.gpkg", tmp_path / "truth.gpkg")
    assert result.exit_code == 1, result.output
    assert "pred.gpkg: 1 feature(s) have NaN coordinates" in result.stderr
    assert "beyond any CRS" not in result.stderr and "Traceback" not in result.stderr


def test_a_folder_in_a_local_zip_is_not_called_remote(tmp_path):
    """evaluate /vsizip/preds.zip/ truth/: a local archive was refused as 'a remote folder or
    pattern cannot be listed here; give each file's URL'; it is a folder GDAL reads in a
    local file, and the one-line error says the pair is a folder and no folder."""
    import zipfile

    from geotile.evaluate_inputs import are_folders

    (tmp_path / "truth").mkdir()
    with zipfile.ZipFile(tmp_path / "preds.zip", "w") as archive:
        archive.writestr("a.geojson", "{}")
    zipped = f"/vsizip/{tmp_path / 'preds.zip'}/"
    with pytest.raises(InputError) as error:
        are_folders(zipped, tmp_path / "truth")
    assert "remote" not in str(error.value) and "URL" not in str(error.value)
    assert "give two folders" in str(error.value)


@pytest.mark.parametrize("crs", ["EPSG:3031", "EPSG:3413"])
def test_polar_predictions_meet_their_lonlat_truth_round_the_pole(tmp_path, crs):
    """A 60 km ice disc round the pole and a 10 km square, vectorized from an EPSG:3031 /
    3413 raster to a GeoPackage (prediction) and to GeoJSON (truth: lon/lat caps): scored
    TP 1, FP 1, FN 1, F1 0.5: the disc, moved to lon/lat, was PROJ's zigzag round the pole,
    not a cap. Now it is closed along the pole as the truth's is: TP 2, F1 1."""
    from geotile.vectorize import VectorizeOptions, vectorize_polygons

    rows, cols = np.mgrid[0:128, 0:128]
    classes = ((rows - 64) ** 2 + (cols - 64) ** 2 < 30**2).astype(np.uint8)
    classes[10:20, 10:20] = 1
    path = tmp_path / "ice.tif"
    with rasterio.open(path, "w", driver="GTiff", width=128, height=128, count=1,
                       dtype="uint8", crs=crs,
                       transform=from_origin(-64000, 64000, 1000, 1000)) as dst:
        dst.write(classes, 1)
        dst.update_tags(GEOTILE_OUTPUT="class")
    vectorize_polygons([path], tmp_path / "pred.gpkg", options=VectorizeOptions())
    vectorize_polygons([path], tmp_path / "truth.geojson", options=VectorizeOptions())
    scores = evaluate_files(tmp_path / "pred.gpkg", tmp_path / "truth.geojson").scores
    assert (scores.tp, scores.fp, scores.fn) == (2, 0, 0)


def test_a_confusion_matrix_too_wide_to_read_names_the_most_confused_pairs():
    """150 classes (ADE20K-sized) printed a 151 x 151 matrix of 1,225-character lines no
    terminal shows; the table now says where the matrix is (--json) and lists the largest
    confusions instead. Narrow matrices (Cityscapes' 19 classes) are printed as before."""
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 151, (60, 60)).astype(np.uint8)
    pred = truth.copy()
    pred[:10, :] = np.where(truth[:10, :] == 7, 9, truth[:10, :])  # 7 called 9
    pred[10:12, :] = np.where(truth[10:12, :] == 3, 150, truth[10:12, :])  # 3 called 150
    scores = pixel_scores(pred, truth)
    lines = scores.table().splitlines()
    assert not any(len(line) > 200 for line in lines)
    said = [line for line in lines if line.startswith("Confusion matrix")]
    assert said == ["Confusion matrix: 151 x 151, too wide to print (--json holds it); "
                    "the largest confusions (truth -> prediction, pixels):"]
    c = scores.confusion
    first = lines[lines.index(said[0]) + 1].split()
    assert first == ["7", "->", "9", str(c[7, 9])]
    assert c[7, 9] == max(c[k, j] for k in range(151) for j in range(151) if k != j)
    assert ["3", "->", "150", str(c[3, 150])] in [line.split() for line in lines]
    narrow = pixel_scores(truth % 19, truth % 19).table().splitlines()
    assert "Confusion matrix (rows: truth, columns: prediction):" in narrow


@pytest.mark.parametrize("dtype", [np.uint16, np.uint8])
def test_instance_ids_against_a_footprint_mask_are_refused_not_scored_as_classes(
        run_cli, make_raster, dtype):
    """A uint16 instance-id raster (Mask R-CNN's, SAM's: 0 background, each of 10 buildings
    its own id) against a 0/1 truth was scored as 10 classes, exit 0 and no warning: class 1
    IoU 0.1 (the first building), ids 2..10 lowering the mean IoU. Refused in one line naming
    the file, instance ids and the 0/1 mask to give instead; a land-cover prediction of 3
    unnamed classes (road, water off the buildings) and xBD's 4 damage levels on the
    buildings are still scored as classes."""
    from .conftest import assert_one_line_error

    ids = np.zeros((60, 100), dtype)
    truth = np.zeros((60, 100), np.uint8)
    for k in range(10):
        y, x = 5 + (k // 5) * 28, 3 + (k % 5) * 20
        ids[y:y + 20, x:x + 15], truth[y:y + 20, x:x + 15] = k + 1, 1
    prediction = make_raster("inst.tif", ids)
    for t in (make_raster("t.tif", truth), make_raster("t255.tif", truth * 255)):
        result = run_cli("evaluate", prediction, t, "--json")
        assert_one_line_error(result, "inst.tif", "10 ids (1..10)", "instance ids",
                              "gdal_calc.py -A inst.tif")
        assert not result.stdout
    land = np.where(truth == 1, 1, 0).astype(dtype)
    land[:3], land[-2:] = 2, 3  # road and water beside the buildings
    scores = evaluate_rasters(make_raster("land.tif", land), make_raster("t.tif", truth))
    assert scores.classes()[1]["iou"] == 1.0 and scores.confusion.shape == (4, 4)
    damage = np.where(truth == 1, ids % 4 + 1, 0).astype(np.uint8)
    scores = evaluate_rasters(make_raster("damage.tif", damage), make_raster("t.tif", truth))
    assert scores.confusion[1, 1:].tolist() == [(damage == k).sum() for k in (1, 2, 3, 4)]


@pytest.mark.parametrize("channels", ["contact,footprint,boundary", "boundary,footprint"])
def test_a_masks_footprint_band_is_scored_wherever_its_channels_put_it(tmp_path, run_cli,
                                                                       make_raster, channels):
    """A truth made by make-masks --channels contact,footprint,boundary (the order a
    training recipe wanted) was scored by its band 1, the contact band: a perfect footprint
    prediction got building IoU 0, exit 0. The band described footprint is the class
    raster's, as tile counts it, on either side."""
    import json

    image = make_raster("img.tif", np.zeros((3, 64, 64), np.uint8))
    with rasterio.open(image) as src:
        left, top = src.bounds.left, src.bounds.top
    labels = tmp_path / "b.geojson"
    gpd.GeoDataFrame(geometry=[shapely.box(left + 2, top - 20, left + 12, top - 10),
                               shapely.box(left + 12.5, top - 20, left + 20, top - 10)],
                     crs=src.crs).to_file(labels)
    for name, extra in (("fbc.tif", ("--channels", channels)), ("plain.tif", ())):
        result = run_cli("make-masks", labels, image, "-o", tmp_path / name, *extra)
        assert result.exit_code == 0, result.output
    for pair in (("plain.tif", "fbc.tif"), ("fbc.tif", "plain.tif")):
        result = run_cli("evaluate", *(tmp_path / p for p in pair), "--json")
        assert result.exit_code == 0, result.output
        scores = json.loads(result.stdout)
        assert scores["classes"][1]["iou"] == 1.0, pair
        assert scores["classes"][1]["support"] == 700


@pytest.mark.parametrize("option", [("--min-area", "5"), ("--layer", "buildings")])
def test_vector_options_for_two_rasters_are_usage_errors(make_raster, tmp_path, run_cli,
                                                         option):
    # --iou or --errors with two rasters exit 2, as the README says of options that do
    # nothing in the chosen mode; --min-area and --layer exited 1, as if an input were bad
    mask = np.zeros((8, 8), np.uint8)
    mask[2:6, 2:6] = 1
    pred = make_raster("pred.tif", mask)
    truth = make_raster("truth.tif", mask)
    result = run_cli("evaluate", pred, truth, *option)
    assert result.exit_code == 2, result.output
    assert option[0] in result.stderr and "evaluate --help" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_confusion_matrix_heads_show_whole_class_names_up_to_a_cap():
    """The matrix headed 'background' as 'backgrou' (columns 8 wide, names cut to 7); now
    columns are as wide as the longest name (a space before it), up to 16 characters, and
    a longer name is cut with '~'. The matrix keeps within 200 characters a line."""
    truth = np.repeat(np.arange(3, dtype=np.uint8), 12).reshape(6, 6)
    names = ["background", "building", "low_vegetation_and_shrubs"]
    lines = pixel_scores(truth, truth, class_names=names).table().splitlines()
    matrix = lines[lines.index("Confusion matrix (rows: truth, columns: prediction):") + 1:]
    assert matrix[0].split() == ["background", "building", "low_vegetation~"]
    assert len(matrix[0]) == len(matrix[1])
    assert matrix[1].split() == ["background", "12", "0", "0"]
    # 19 classes of 16-character names: columns narrowed to fit 200, not left to --json
    many = [f"class_number_{k:03d}" for k in range(19)]
    truth = np.arange(19 * 19, dtype=np.int64).reshape(19, 19) % 19
    lines = pixel_scores(truth.astype(np.uint8), truth.astype(np.uint8),
                         class_names=many).table().splitlines()
    assert "Confusion matrix (rows: truth, columns: prediction):" in lines
    assert not any(len(line) > 200 for line in lines)


def test_a_truth_of_several_unnamed_class_bands_warns_band_1_alone_is_scored(
        run_cli, make_raster):
    """SEN12MS's ROIs1158_spring_lc_1_p30.tif holds four land cover schemes as unnamed
    uint16 bands (IGBP 1..17, LCCS land cover, land use, hydrology): a prediction of LCCS
    land cover ids was scored against band 1 (IGBP) alone, accuracy 0.5, exit 0 without a
    word; the scores stay band 1's and a warning names it and the fix (gdal_translate -b N).
    A grey RGB truth (R = G = B) and a one-band one stay silent."""
    igbp = np.full((32, 32), 10, np.uint16)
    igbp[:, 16:] = 13
    lccs = np.where(igbp == 10, 35, 9).astype(np.uint16)
    truth = make_raster("ROIs1158_spring_lc_1_p30.tif",
                        np.stack([igbp, lccs, lccs + 1, lccs + 2]))
    prediction = make_raster("pred.tif", np.where(igbp == 10, 35, 13).astype(np.uint16))
    result = run_cli("evaluate", prediction, truth, "--json")
    assert result.exit_code == 0, result.output
    assert "\"accuracy\": 0.5" in result.stdout.replace(" ", " ")
    assert "ROIs1158_spring_lc_1_p30.tif" in result.stderr
    assert "band 1 of its 4" in result.stderr and "gdal_translate -b" in result.stderr
    for name, bands in (("grey.tif", np.stack([igbp] * 3).astype(np.uint8)),
                        ("one.tif", igbp)):
        result = run_cli("evaluate", make_raster(f"p_{name}", igbp), make_raster(name, bands))
        assert result.exit_code == 0, result.output
        assert "band 1 of its" not in result.stderr


def test_a_folder_of_several_band_truths_warns_once_and_names_the_others(
        run_cli, make_raster, tmp_path):
    """evaluate pred/ lc_1/ of SEN12MS (a truth per patch, each of four unnamed bands) said
    the band-1 warning once per truth file, each naming its own file in the
    gdal_translate advice, so that the command line's digest never gathered them: 3
    patches 3 lines, SEN12MS's 180,662 patches as many. Now one line names the first and
    one more names the others ('2 more images (...)'); scores unchanged."""
    igbp = np.full((32, 32), 10, np.uint16)
    igbp[:, 16:] = 13
    lccs = np.where(igbp == 10, 35, 9).astype(np.uint16)
    for folder in ("pred", "lc_1"):
        (tmp_path / folder).mkdir()
    for k in range(3):
        make_raster(f"lc_1/ROIs1158_spring_lc_1_p{k}.tif",
                    np.stack([igbp, lccs, lccs + 1, lccs + 2]))
        make_raster(f"pred/ROIs1158_spring_s2_1_p{k}.tif", igbp)
    result = run_cli("evaluate", tmp_path / "pred", tmp_path / "lc_1", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accuracy"] == 1.0
    lines = [line for line in result.stderr.splitlines() if "band 1 of" in line]
    assert len(lines) == 2, result.stderr
    assert "ROIs1158_spring_lc_1_p0.tif" in lines[0] and "gdal_translate -b N" in lines[0]
    assert lines[1].startswith("Warning: 2 more images (ROIs1158_spring_lc_1_p1.tif, "
                               "ROIs1158_spring_lc_1_p2.tif): band 1 of"), lines[1]


def test_landcover_ai_pieces_beside_their_masks_pair_with_the_masks(run_cli, tmp_path):
    """LandCover.ai's split.py writes each piece and its mask to one folder (output/
    M-33-20-D-c-4-2_0.jpg beside M-33-20-D-c-4-2_0_m.png), which tile reads as --masks.
    `evaluate pred/ output/` paired prediction M-33-20-D-c-4-2_0.png with the piece's JPEG
    (same stem), left the _m masks out and was refused: 'output/M-33-20-D-c-4-2_0.jpg: an RGB
    image, not a prediction'. The pieces' masks are the truth now (accuracy 1.0 of 2)."""
    from PIL import Image

    for folder in ("output", "pred"):
        (tmp_path / folder).mkdir()
    rng = np.random.default_rng(5)
    for k in range(2):
        stem = f"M-33-20-D-c-4-2_{k}"
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(
            tmp_path / "output" / f"{stem}.jpg", quality=95)
        ids = rng.integers(0, 5, (32, 32), dtype=np.uint8)
        Image.fromarray(ids).save(tmp_path / "output" / f"{stem}_m.png")
        Image.fromarray(ids).save(tmp_path / "pred" / f"{stem}.png")
    result = run_cli("evaluate", tmp_path / "pred", tmp_path / "output", "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["accuracy"] == 1.0 and scores["images"] == 2


def test_class_masks_named_piece_and_piece_m_keep_their_exact_name_pairs(run_cli, make_raster):
    """A truth folder of one-band class masks area_1.tif and area_1_m.tif (no LandCover.ai
    piece: no RGB image) and a prediction area_1.tif: 836664c read area_1.tif as the image of
    area_1_m.tif, scored the prediction against area_1_m.tif (accuracy 0.55) and left the
    exact-name truth out without a word. The exact name pairs again (accuracy 1.0), area_1_m
    is left out with the usual warning."""
    ids = np.zeros((32, 32), np.uint8)
    ids[4:20, 4:20] = 1
    other = np.zeros((32, 32), np.uint8)
    other[10:30, 10:30] = 1
    for folder in ("pred", "truth"):
        (make_raster("x.tif", ids).parent / folder).mkdir()
    make_raster("truth/area_1.tif", ids)
    make_raster("truth/area_1_m.tif", other)
    pred = make_raster("pred/area_1.tif", ids)
    result = run_cli("evaluate", pred.parent, pred.parent.parent / "truth", "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["accuracy"] == 1.0 and scores["images"] == 1
    assert "area_1_m.tif" in result.stderr and "left out" in result.stderr


def test_grey_and_sar_pieces_beside_their_masks_pair_with_the_masks(run_cli, tmp_path,
                                                                   make_raster):
    """Pieces cut as LandCover.ai's split.py names them (<name>_<k> beside <name>_<k>_m) from
    a grey orthophoto (one-band JPEG) and a Sentinel-1 scene (VV, VH in dB, float32): ca77b93
    kept such a piece as a truth (an image only with 3+ bands), and the prediction
    <name>_<k> was scored against the photo's grey levels (IoU 0.002, exit 0). A piece of
    many distinct values is an image: the _m masks are the truth (accuracy 1.0 of 2)."""
    from PIL import Image

    for folder in ("output", "pred"):
        (tmp_path / folder).mkdir()
    rng = np.random.default_rng(7)
    Image.fromarray(rng.integers(0, 255, (32, 32), dtype=np.uint8)).save(
        tmp_path / "output" / "grey_0.jpg", quality=95)
    ids = rng.integers(0, 5, (32, 32), dtype=np.uint8)
    Image.fromarray(ids).save(tmp_path / "output" / "grey_0_m.png")
    Image.fromarray(ids).save(tmp_path / "pred" / "grey_0.png")
    make_raster("output/s1_0.tif", rng.normal(-12, 4, (2, 32, 32)).astype(np.float32))
    ids = rng.integers(0, 5, (32, 32), dtype=np.uint8)
    make_raster("output/s1_0_m.tif", ids)
    make_raster("pred/s1_0.tif", ids)
    result = run_cli("evaluate", tmp_path / "pred", tmp_path / "output", "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["accuracy"] == 1.0 and scores["images"] == 2


def test_images_beside_masks_named_after_them_leave_the_masks_as_truth(run_cli, tmp_path,
                                                                      make_raster):
    """A truth folder as datasets unpack (tile --masks reads it): images a.tif, b.tif (RGB)
    beside their masks a_mask.tif, b_seg.tif. Predictions a.tif, b.tif paired with the
    photos by name and were refused ('its 3 bands sum to 0.031..2.9, not 1 ... footprint,
    boundary and contact'), the masks left out. As a LandCover.ai piece beside its _m: an
    image beside a mask named after it is that mask's image; the masks are the truth."""
    rng = np.random.default_rng(3)
    rows, cols = np.mgrid[0:32, 0:32]
    photo = np.stack([(rows * 7 + cols * c) % 256 for c in (1, 3, 5)]).astype(np.uint8)
    truths, preds = {}, {}
    for folder in ("pred", "truth"):
        (tmp_path / folder).mkdir()
    for stem, suffix in (("a", "_mask"), ("b", "_seg")):
        truths[stem] = rng.integers(0, 3, (32, 32), dtype=np.uint8)
        preds[stem] = np.where(rng.random((32, 32)) < 0.8, truths[stem], 2).astype(np.uint8)
        make_raster(f"truth/{stem}.tif", photo)
        make_raster(f"truth/{stem}{suffix}.tif", truths[stem])
        pred = make_raster(f"pred/{stem}.tif", preds[stem])
    result = run_cli("evaluate", pred.parent, pred.parent.parent / "truth", "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    agree = sum(int((preds[s] == truths[s]).sum()) for s in "ab")
    assert scores["images"] == 2 and scores["accuracy"] == pytest.approx(agree / 2048)
    assert scores["unpaired"] == {"prediction": [], "truth": []}


def _class_ids_and_pred(make_raster):
    """Class ids 0..2 on 32 x 32 px, and a prediction of them wrong in rows 0-1."""
    ids = np.zeros((32, 32), np.uint8)
    ids[:, 16:] = 1
    ids[20:, :8] = 2
    pred = ids.copy()
    pred[:2] = 2
    return ids, make_raster("pred.tif", pred)


def test_a_truth_of_class_ids_and_an_unflagged_validity_band_is_refused_with_the_fix(
        make_raster, run_cli):
    """A 2-band uint8 truth, band 1 class ids 0..2, band 2 a 0/1 validity mask (not flagged
    alpha), was read as a softmax and refused with advice about footprint/boundary/contact
    bands; it is refused naming the validity band and both fixes (flag it alpha, or keep
    band 1). Flagged alpha (as the fix does), band 2 masks: rows 0-3 invalid, 896 px scored
    perfectly; band 1 alone scores all 1024 px. Bands described "class", "mask" were read
    as probabilities: all background, accuracy 0.375, exit 0; refused the same way."""
    ids, prediction = _class_ids_and_pred(make_raster)
    valid = np.ones_like(ids)
    valid[:4] = 0
    for high in (1, 255):
        truth = make_raster(f"truth{high}.tif", np.stack([ids, valid * high]))
        result = run_cli("evaluate", prediction, truth)
        assert result.exit_code == 1, result.output
        message = result.output.strip().splitlines()
        assert len(message) == 1 and f"truth{high}.tif" in message[0]
        assert f"band 2 holds 0 and {high} only" in message[0]
        assert f"gdal_edit.py -colorinterp_2 alpha truth{high}.tif" in message[0]
        assert f"gdal_translate -b 1 truth{high}.tif" in message[0]
        assert "footprint" not in message[0]
        with rasterio.open(truth, "r+") as dst:  # the fix it names
            dst.colorinterp = [rasterio.enums.ColorInterp.gray, rasterio.enums.ColorInterp.alpha]
        scores = evaluate_files(prediction, truth).as_dict()
        assert scores["pixels"] == 32 * 28 and scores["accuracy"] == 1.0
    described = make_raster("described.tif", np.stack([ids, valid]),
                            descriptions=["class", "mask"])  # scored as all background, exit 0
    result = run_cli("evaluate", prediction, described)
    assert result.exit_code == 1 and "band 2 holds 0 and 1 only" in result.output, result.output
    band_1 = make_raster("band1.tif", ids)
    assert evaluate_files(prediction, band_1).as_dict()["pixels"] == 32 * 32
    softmax = make_raster("softmax.tif", np.stack([255 - valid * 255, valid * 255]))
    scores = evaluate_files(make_raster("p01.tif", valid), softmax).as_dict()  # a hard one
    assert scores["pixels"] == 32 * 32 and scores["accuracy"] == 1.0


def test_two_binary_0_255_class_bands_are_not_told_their_second_is_a_validity_mask(
        make_raster, run_cli):
    """A truth of two undescribed 0/255 binary masks (building, road) was told by 5d3c2cd
    'band 1 holds class ids and band 2 ... a validity mask' with 'gdal_edit.py
    -colorinterp_2 alpha': that fix scores the buildings on the road pixels alone (exit 0).
    Band 1 is a binary mask like band 2: the refusal says to describe the bands, as before,
    and the bands described are scored as the two classes they are."""
    building = np.zeros((32, 32), np.uint8)
    building[4:20, 4:20] = 255
    road = np.zeros((32, 32), np.uint8)
    road[22:30, 2:12] = 255
    prediction = make_raster("pred.tif", np.stack([building, road]) // 255,
                             descriptions=["building", "road"])
    truth = make_raster("truth.tif", np.stack([building, road]))
    result = run_cli("evaluate", prediction, truth)
    assert result.exit_code == 1, result.output
    assert "validity" not in result.output and "colorinterp_2" not in result.output
    assert "description" in result.output, result.output
    described = make_raster("described.tif", np.stack([building, road]),
                            descriptions=["building", "road"])
    classes = {c["class"]: c for c in evaluate_files(prediction, described).as_dict()["classes"]}
    assert classes["building"]["iou"] == 1.0 and classes["building"]["support"] == 256
    assert classes["road"]["iou"] == 1.0 and classes["road"]["support"] == 80


def test_class_ids_beside_a_0_1_class_band_are_not_only_told_to_flag_it_alpha(
        make_raster, run_cli):
    """Land cover ids 0..2 beside an undescribed 0/1 building band: 5d3c2cd's refusal said
    band 2 is 'a validity mask' and named flagging it alpha, which scores band 1 on the
    buildings alone (exit 0). The line says band 2 may be a class of its own too, and how
    to score each band alone (gdal_translate -b 1, -b 2)."""
    ids, prediction = _class_ids_and_pred(make_raster)
    building = np.zeros_like(ids)
    building[6:14, 20:30] = 1
    truth = make_raster("truth.tif", np.stack([ids, building]))
    result = run_cli("evaluate", prediction, truth)
    assert result.exit_code == 1, result.output
    message = result.output.strip().splitlines()
    assert len(message) == 1 and "class of its own" in message[0], result.output
    assert "gdal_translate -b 1 truth.tif" in message[0] and "-b 2" in message[0]


def test_a_grey_rgba_truth_is_read_as_its_grey_band_masked_by_its_alpha(make_raster):
    """A grey RGB truth (R = G = B) is read as class ids; the same with an alpha band was
    refused as 'an RGB image, not a prediction'. It is read as band 1's ids, alpha 0 (rows
    0-3) left out: 896 px scored, the prediction's errors in rows 0-1 among them not."""
    ids, prediction = _class_ids_and_pred(make_raster)
    alpha = np.full_like(ids, 255)
    alpha[:4] = 0
    truth = make_raster("grey_rgba.tif", np.stack([ids, ids, ids, alpha]), photometric="RGB",
                        alpha="YES")
    with rasterio.open(truth) as src:
        assert src.colorinterp[3] == rasterio.enums.ColorInterp.alpha
    scores = evaluate_files(prediction, truth).as_dict()
    assert scores["pixels"] == 32 * 28 and scores["accuracy"] == 1.0
    grey = make_raster("grey_rgb.tif", np.stack([ids] * 3), photometric="RGB")
    assert evaluate_files(prediction, grey).as_dict()["accuracy"] == pytest.approx(
        1 - 64 / 1024)


@pytest.mark.parametrize("binary", [False, True])
def test_a_noisy_grey_rgb_truth_is_told_to_keep_one_band_not_a_palette(
        make_raster, run_cli, binary):
    """Grey labels saved through JPEG (R, G, B differ by 1-2): a 0/255 one was told
    '--palette deepglobe' (which reads 255 as barren land, 0 as unknown), a 0/1/2 one was
    refused as a softmax. Both are told they are grey labels whose one band to keep, with
    gdal_translate -b 1."""
    ids, prediction = _class_ids_and_pred(make_raster)
    grey = (ids == 1) * np.uint8(255) if binary else ids
    noise = np.random.default_rng(7).integers(0, 3, (3, 32, 32))
    noisy = np.clip(np.stack([grey] * 3).astype(np.int16) + noise, 0, 255).astype(np.uint8)
    truth = make_raster("noisy.tif", noisy, photometric="RGB")
    result = run_cli("evaluate", prediction, truth)
    assert result.exit_code == 1, result.output
    message = result.output.strip().splitlines()
    assert len(message) == 1 and "noisy.tif" in message[0], result.output
    assert "grey" in message[0] and "gdal_translate -b 1 noisy.tif" in message[0]
    assert "--palette" not in message[0] and "softmax" not in message[0]


def _land_cover_and_buildings():
    """Land-cover ids 0..3 in 8 px columns, and a 0/1 building layer, on 32 x 32 px."""
    cover = (np.arange(32)[np.newaxis, :].repeat(32, axis=0) // 8).astype(np.uint8)
    buildings = np.zeros((32, 32), np.uint8)
    buildings[4:12, 4:20] = 1
    return cover, buildings


@pytest.mark.parametrize(("names", "dtype", "order", "high"), [
    (["landcover", "building"], "uint8", (0, 1), 1),
    (["landcover", "building"], "uint8", (0, 1), 255),
    (["label", "label"], "uint8", (0, 1), 1),
    (["class", "class"], "uint8", (0, 1), 1),
    (["building", "landcover"], "uint8", (1, 0), 1),
    (["landcover", "building"], "uint16", (0, 1), 1),
])
def test_a_truth_of_class_layers_described_is_refused_not_read_as_probabilities(
        make_raster, run_cli, names, dtype, order, high):
    """A 2-band truth, land-cover ids 0..3 in one band and a building layer (0/1 or 0/255)
    in the other, its bands described (class layers, not a validity mask), was read as
    probabilities x 1/255 (uint8): ids 0..3 all below 0.5, all background, an all-zero
    prediction scored accuracy 1.0, exit 0; uint16, band 1 alone was scored without a word.
    It is refused in one line naming the file, the bands and the fix (keep one band), for
    any prediction: a class raster, predict's tagged probabilities, untagged 0..255 ones."""
    cover, buildings = _land_cover_and_buildings()
    layers = [cover, buildings * high]
    truth = make_raster(f"truth_{dtype}.tif", np.stack([layers[i] for i in order]).astype(dtype),
                        descriptions=names)
    zero = make_raster("zero.tif", np.zeros((32, 32), np.uint8))
    probability = make_raster("p.tif", np.stack([255 - buildings * 200, buildings * 200]),
                              descriptions=["background", "building"])
    with rasterio.open(probability, "r+") as dst:
        dst.update_tags(GEOTILE_OUTPUT="probability", GEOTILE_SCALE="255",
                        GEOTILE_BANDS="exclusive", GEOTILE_MODEL="m.onnx",
                        GEOTILE_CLASS_NAMES=json.dumps(["background", "building"]))
    third_party = make_raster("third.tif", (buildings * 230 + 10).astype(np.uint8))
    cover_band = order.index(0) + 1
    for prediction in (zero, make_raster("cover.tif", cover), probability, third_party):
        result = run_cli("evaluate", prediction, truth)
        message = result.output.strip().splitlines()
        assert result.exit_code == 1 and len(message) == 1, result.output
        assert f"truth_{dtype}.tif" in message[0] and "Traceback" not in result.output
        assert f"band {cover_band} ({names[cover_band - 1]!r}) holds class ids 0..3" \
            in message[0], message[0]
        assert f"gdal_translate -b N truth_{dtype}.tif" in message[0]
    kept = tmp = truth.with_name("kept.tif")  # the fix it names: the land-cover band alone
    with rasterio.open(truth) as src:
        profile = {**src.profile, "count": 1}
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(src.read(cover_band), 1)
    scores = evaluate_files(zero, kept).as_dict()
    assert scores["pixels"] == 32 * 32 and scores["accuracy"] == np.mean(cover == 0)


@pytest.mark.parametrize("high", [1, 255])
def test_a_one_hot_truth_of_four_described_bands_scores_every_pixel(make_raster, high):
    """A one-hot truth of 4 uint8 bands (background, water, forest, urban: 0/1 or 0/255),
    which GDAL flags RGBA, was scored on the 256 px where band 4 ('urban', read by GDAL's
    dataset mask as alpha) is not 0: the land cover's prediction 'perfect' on urban alone,
    an all-zero one accuracy 0, exit 0. Its bands are classes (mask_alpha_bands): all
    1024 px are scored, 256 of each class; an all-zero prediction right on background's."""
    cover, _ = _land_cover_and_buildings()
    truth = make_raster("onehot.tif", np.stack([(cover == k) * high for k in range(4)])
                        .astype(np.uint8), descriptions=["background", "water", "forest",
                                                          "urban"])
    with rasterio.open(truth) as src:
        assert src.colorinterp[3] == rasterio.enums.ColorInterp.alpha  # as GDAL flags it
    scores = evaluate_files(make_raster("cover.tif", cover), truth).as_dict()
    assert scores["pixels"] == 32 * 32 and scores["accuracy"] == 1.0
    assert [c["support"] for c in scores["classes"]] == [256] * 4
    zero = evaluate_files(make_raster("zero.tif", np.zeros_like(cover)), truth).as_dict()
    assert zero["pixels"] == 32 * 32 and zero["accuracy"] == np.mean(cover == 0)


@pytest.mark.parametrize("background", [True, False])
def test_a_one_hot_of_uint16_described_bands_is_read_as_its_classes(make_raster, background):
    """A one-hot of uint16 bands, each described by its class (background, water, forest,
    urban; or without background), 0/1 only, was read as a class raster of band 1's ids:
    background's band made 'class 1', a land-cover prediction scored accuracy 0 (0.5
    without a background band), an all-zero one 0.75, exit 0; as a prediction the same.
    Its bands are its classes, as a uint8 one-hot's: all 1024 px right for the land
    cover, an all-zero prediction right on background's 256 alone."""
    cover, _ = _land_cover_and_buildings()
    names = ["background", "water", "forest", "urban"]
    first = 0 if background else 1
    onehot = make_raster("onehot.tif", np.stack([cover == k for k in range(first, 4)])
                         .astype(np.uint16), descriptions=names[first:])
    ids = make_raster("cover.tif", cover)
    for prediction, truth in ((ids, onehot), (onehot, ids)):
        scores = evaluate_files(prediction, truth).as_dict()
        assert scores["pixels"] == 32 * 32 and scores["accuracy"] == 1.0, scores
    zero = evaluate_files(make_raster("zero.tif", np.zeros_like(cover)), onehot).as_dict()
    assert zero["accuracy"] == np.mean(cover == 0)
    assert [c["support"] for c in zero["classes"]] == [256] * 4


@pytest.mark.parametrize("field", ["tail", "noise"])
def test_a_described_truth_of_low_probabilities_is_no_class_layer(make_raster, field):
    """Independent uint8 probabilities described 'building', 'road', all below 0.1 (a
    teacher model's on a tile without either: a peak of 20/255, or values 0..20 anywhere)
    are probabilities, not class ids 0..20, though few and whole: their values >= 2 form no
    regions of one id. Scored as probabilities: all background, so an all-zero prediction
    is right on all 1024 px and one of buildings on none of its 128."""
    y, x = np.mgrid[0:32, 0:32]
    if field == "tail":
        low = np.round(20 * np.exp(-((x - 16) ** 2 + (y - 16) ** 2) / 30))
    else:
        low = np.random.default_rng(0).integers(0, 21, (32, 32))
    truth = make_raster("teacher.tif", np.stack([low, low[::-1]]).astype(np.uint8),
                        descriptions=["building", "road"])
    zero = evaluate_files(make_raster("zero.tif", np.zeros((32, 32), np.uint8)), truth)
    assert zero.as_dict()["pixels"] == 32 * 32 and zero.as_dict()["accuracy"] == 1.0
    _, buildings = _land_cover_and_buildings()
    some = evaluate_files(make_raster("b.tif", buildings), truth).as_dict()
    assert some["accuracy"] == 1 - buildings.mean()


def test_an_undescribed_uint8_truth_of_two_class_layers_is_refused_as_layers(make_raster,
                                                                            run_cli):
    """A uint8 truth of two undescribed layers of class ids (land cover 0..3 of two years)
    was refused as 'no softmax' with advice to tag it GEOTILE_BANDS=independent, which then
    read ids 0..3 as probabilities below 0.5: all background, an all-zero prediction
    accuracy 1.0, exit 0. It is refused as layers of class ids, keeping one band the fix;
    a grey truth saved as RGB (R = G = B) is still read as its ids."""
    cover, _ = _land_cover_and_buildings()
    truth = make_raster("years.tif", np.stack([cover, cover.T]))
    zero = make_raster("zero.tif", np.zeros_like(cover))
    result = run_cli("evaluate", zero, truth)
    message = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(message) == 1, result.output
    assert "years.tif: band 1 holds class ids 0..3" in message[0]
    assert "gdal_translate -b N years.tif truth.tif (N: 1, 2)" in message[0]
    assert "GEOTILE_BANDS=independent" not in message[0]
    grey = make_raster("grey.tif", np.stack([cover] * 3))
    scores = evaluate_files(make_raster("cover.tif", cover), grey).as_dict()
    assert scores["pixels"] == 32 * 32 and scores["accuracy"] == 1.0


@pytest.mark.parametrize("second", ["mask", "valid"])
def test_a_0_1_truth_beside_a_band_described_as_validity_mask_is_refused(make_raster, run_cli,
                                                                        second):
    """A 0/1 building truth beside a 0/1 band described 'mask' or 'valid' (1 but in rows
    0-3) was read as independent probabilities of classes 'building' and 'mask': the
    validity band scored as a class on 896 px, background IoU 0.14 for the exact building
    prediction, exit 0. Refused as a truth beside its validity mask (flag it alpha, or keep
    band 1); flagged alpha as it says, rows 0-3 are left out and the prediction scores 1.0."""
    _, buildings = _land_cover_and_buildings()
    valid = np.ones_like(buildings)
    valid[:4] = 0
    truth = make_raster("truth.tif", np.stack([buildings, valid]),
                        descriptions=["building", second])
    prediction = make_raster("pred.tif", buildings)
    result = run_cli("evaluate", prediction, truth)
    message = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(message) == 1, result.output
    assert "truth.tif: band 1 holds class ids and band 2 holds 0 and 1 only" in message[0]
    assert "gdal_edit.py -colorinterp_2 alpha truth.tif" in message[0]
    with rasterio.open(truth, "r+") as dst:
        dst.colorinterp = [rasterio.enums.ColorInterp.gray, rasterio.enums.ColorInterp.alpha]
    scores = evaluate_files(prediction, truth).as_dict()
    assert scores["pixels"] == 32 * 28 and scores["accuracy"] == 1.0


def test_a_two_band_truth_naming_more_classes_than_bands_is_refused_as_layers(make_raster,
                                                                             run_cli):
    """A 2-band uint8 truth (land-cover ids 0..3, a 0/1 building layer) whose
    GEOTILE_CLASS_NAMES names 4 classes, ids of band 1, was read as probabilities: an
    all-zero prediction scored accuracy 0.97, exit 0. Names past its bands are ids':
    refused as layers of class ids, keeping one band the fix."""
    cover, buildings = _land_cover_and_buildings()
    truth = make_raster("named.tif", np.stack([cover, buildings]))
    with rasterio.open(truth, "r+") as dst:
        dst.update_tags(GEOTILE_CLASS_NAMES=json.dumps(["background", "water", "forest",
                                                        "urban"]))
    result = run_cli("evaluate", make_raster("zero.tif", np.zeros_like(cover)), truth)
    message = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(message) == 1, result.output
    assert "named.tif: band 1 holds class ids 0..3" in message[0]
    assert "gdal_translate -b N named.tif truth.tif (N: 1, 2)" in message[0]


def test_a_described_soft_label_truth_of_a_coarse_teacher_is_no_class_layer(make_raster):
    """Soft labels of a teacher at 1/16 of the truth's resolution (background, building,
    road; uint8 x 255, each band rounded alone: sums 254..256) hold few values in blocks,
    road's below 0.3: a softmax, not class layers (refused as 'class ids 12..87'). Scored
    as probabilities: the argmax of the soft labels is right on every pixel."""
    rng = np.random.default_rng(0)
    coarse = rng.dirichlet([8, 2, 0.3], size=(4, 4)).transpose(2, 0, 1)
    coarse[2] = np.minimum(coarse[2], 0.3)
    coarse[0] = 1 - coarse[1] - coarse[2]
    soft = np.round(np.repeat(np.repeat(coarse, 16, 1), 16, 2) * 255).astype(np.uint8)
    assert len(np.unique(soft.astype(int).sum(axis=0))) > 1  # rounded: no hard softmax
    truth = make_raster("soft.tif", soft, descriptions=["background", "building", "road"])
    argmax = np.argmax(soft, axis=0).astype(np.uint8)
    result = evaluate_files(make_raster("argmax.tif", argmax), truth).as_dict()
    assert result["pixels"] == 64 * 64 and result["accuracy"] == 1.0


@pytest.mark.parametrize(("names", "dtype", "high"), [
    (None, "uint8", 1),
    (["landcover", "building"], "uint8", 1),
    (["landcover", "building"], "uint8", 255),
    (["landcover", "building"], "uint16", 1),
])
def test_a_prediction_of_class_layers_is_refused_not_read_as_probabilities(
        make_raster, run_cli, tmp_path, names, dtype, high):
    """A 2-band prediction, band 1 land-cover ids 0..3, band 2 a building layer, was read as
    probabilities x 1/255 (described: all background, accuracy 0.25 against its own land
    cover, exit 0, and vectorize wrote no polygon; undescribed: refused as 'no softmax' with
    advice to tag it GEOTILE_BANDS=independent, which scores ids as probabilities). evaluate
    and vectorize refuse it in one line naming the file, the band of ids and the fix; its
    band 1 kept scores 1.0."""
    cover, buildings = _land_cover_and_buildings()
    prediction = make_raster("layers.tif", np.stack([cover, buildings * high]).astype(dtype),
                             **({"descriptions": names} if names else {}))
    truth = make_raster("cover.tif", cover)
    said = f" ({names[0]!r})" if names else ""
    for result in (run_cli("evaluate", prediction, truth),
                   run_cli("vectorize", prediction, "-o", tmp_path / "out.gpkg")):
        message = result.output.strip().splitlines()
        assert result.exit_code == 1 and len(message) == 1, result.output
        assert f"layers.tif: band 1{said} holds class ids 0..3" in message[0], message[0]
        assert "gdal_translate -b N layers.tif" in message[0]
        assert "GEOTILE_BANDS=independent" not in message[0]
    assert not (tmp_path / "out.gpkg").exists()
    kept = make_raster("kept.tif", cover.astype(dtype))
    assert evaluate_files(kept, truth).as_dict()["accuracy"] == 1.0


def _flat_sigmoid(levels):
    """A sigmoid's uint8 output over flat areas on 32 x 32 px: plateaus of small constant
    values ``levels`` (left, right half), smoothed across their edge as a network's
    receptive field does, and 0 in the top rows."""
    from scipy import ndimage

    flat = np.where(np.arange(32)[np.newaxis, :] < 16, *levels).repeat(32, axis=0)
    flat[:6] = 0
    return np.round(ndimage.uniform_filter(flat.astype(float), 7)).astype(np.uint8)


@pytest.mark.parametrize("levels", [(3, 0), (2, 4), (3, 1)])
def test_independent_sigmoids_of_small_flat_values_are_read_as_probabilities(
        make_raster, levels):
    """Undescribed-tag sigmoid outputs (building, road) over a flat area hold small constant
    values (p < 0.02) with steps between them only along the plateaus' edges: probabilities
    below the threshold, all background, never refused as layers of class ids."""
    _, buildings = _land_cover_and_buildings()
    prediction = make_raster("flat.tif", np.stack([_flat_sigmoid(levels),
                                                   _flat_sigmoid(levels[::-1])]),
                             descriptions=["building", "road"])
    scores = evaluate_files(prediction, make_raster("b.tif", buildings)).as_dict()
    assert scores["pixels"] == 32 * 32 and scores["accuracy"] == 1 - buildings.mean()


@pytest.mark.parametrize("as_truth", [False, True])
def test_an_undescribed_uint16_one_hot_is_read_as_its_classes(make_raster, as_truth):
    """A uint16 one-hot of 4 undescribed 0/1 bands (background, then classes 1..3) was read
    as class ids of band 1: background's band made class 1, a land-cover prediction scored
    accuracy 0, exit 0. Its bands are read as its classes (probabilities x 1), as a
    described one's: accuracy 1.0 either way round."""
    cover, _ = _land_cover_and_buildings()
    one_hot = make_raster("one_hot.tif", np.stack([cover == k for k in range(4)])
                          .astype(np.uint16))
    ids = make_raster("cover.tif", cover)
    pair = (ids, one_hot) if as_truth else (one_hot, ids)
    scores = evaluate_files(*pair).as_dict()
    assert scores["pixels"] == 32 * 32 and scores["accuracy"] == 1.0


def test_a_uint16_prediction_of_undescribed_class_layers_warns_which_band_is_read(
        make_raster, run_cli, tmp_path):
    """A uint16 prediction of two undescribed layers of class ids (land cover 0..3, then
    another scheme) was read by its band 1 without a word, by evaluate and vectorize alike
    (a truth's says so): both warn that band 1 is read and how to give another; the score
    is band 1's."""
    cover, _ = _land_cover_and_buildings()
    prediction = make_raster("layers16.tif", np.stack([cover, 3 - cover]).astype(np.uint16))
    truth = make_raster("cover.tif", cover)
    with pytest.warns(GeotileWarning, match=r"layers16.tif: band 1 of its 2 unnamed bands "
                      r"of class ids is the prediction read.*gdal_translate -b N "
                      r"layers16.tif prediction.tif"):
        assert evaluate_files(prediction, truth).as_dict()["accuracy"] == 1.0
    result = run_cli("vectorize", prediction, "-o", tmp_path / "out.gpkg")
    assert result.exit_code == 0, result.output
    assert "band 1 of its 2 unnamed bands of class ids is the one vectorized" in result.output
    assert "gdal_translate -b N layers16.tif classes.tif" in result.output


def _sigmoid_bytes(buildings):
    """A third-party sigmoid's untagged uint8 output (p x 255) around ``buildings``: smooth,
    1..254, no flat 0 or 255 (so no 0/255 mask)."""
    from scipy import ndimage

    outside = ndimage.distance_transform_edt(buildings == 0)
    inside = ndimage.distance_transform_edt(buildings == 1)
    p = 1 / (1 + np.exp((outside - inside) / 3))
    return np.clip(np.round(p * 255), 1, 254).astype(np.uint8)


def test_untagged_uint8_probabilities_against_a_mask_are_refused_with_the_scale(
        make_raster, run_cli):
    """A third-party sigmoid's untagged 1-band uint8 output (p x 255, smooth, no flat 0/255)
    was read as class ids 1..254 against a 0/1 building truth: accuracy 0, exit 0, a
    warning. Its many ids past 100 that the truth never holds are refused in one line with
    the scale that reads them (gdal_edit.py -scale), which then scores 1.0; land-cover
    codes past 100 that the truth holds too (CCI's 10..220) are still scored as ids."""
    _, buildings = _land_cover_and_buildings()
    prediction = make_raster("sigmoid.tif", _sigmoid_bytes(buildings))
    truth = make_raster("buildings.tif", buildings)
    result = run_cli("evaluate", prediction, truth)
    message = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(message) == 1, result.output
    assert "sigmoid.tif" in message[0] and "buildings.tif" in message[0]
    assert "gdal_edit.py -scale 0.00392157 sigmoid.tif" in message[0]
    with rasterio.open(prediction, "r+") as dst:
        dst.scales = (1 / 255,)
    assert evaluate_files(prediction, truth).as_dict()["accuracy"] == 1.0
    codes = (np.arange(32 * 32).reshape(32, 32) // 24 * 5 + 10).astype(np.uint8)  # 10..220
    scores = evaluate_files(make_raster("cci.tif", codes),
                            make_raster("cci_truth.tif", codes)).as_dict()
    assert scores["pixels"] == 32 * 32 and scores["accuracy"] == 1.0


def test_untagged_uint8_percent_probabilities_against_a_mask_are_refused_with_the_scale(
        make_raster, run_cli):
    """A sigmoid written as percent (round(p x 100), uint8 0..100, untagged: tools that
    store probabilities as whole percent) against a 0/1 building truth was read as class ids
    0..100: accuracy 0.03, exit 0, without a word (the scaled-probability refusal looked for
    ids past 100 alone). Its many foreign ids in ramps, none past 100, are refused in one
    line naming -scale 0.01, which then scores the threshold's pixels; 64 class ids in
    parcels against a truth of 2 are still scored as ids."""
    from scipy import ndimage

    _, buildings = _land_cover_and_buildings()
    outside = ndimage.distance_transform_edt(buildings == 0)
    inside = ndimage.distance_transform_edt(buildings == 1)
    percent = np.round(100 / (1 + np.exp((outside - inside) / 6))).astype(np.uint8)
    prediction = make_raster("percent.tif", percent)
    truth = make_raster("buildings.tif", buildings)
    result = run_cli("evaluate", prediction, truth)
    message = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(message) == 1, result.output
    assert "percent.tif" in message[0] and "buildings.tif" in message[0]
    assert "gdal_edit.py -scale 0.01 percent.tif" in message[0]
    with rasterio.open(prediction, "r+") as dst:
        dst.scales = (0.01,)
    expected = np.mean((percent * 0.01 >= 0.5) == buildings)
    assert evaluate_files(prediction, truth).as_dict()["accuracy"] == pytest.approx(expected)
    parcels = (np.arange(64)[:, None] // 8 * 8 + np.arange(64) // 8).astype(np.uint8)
    scores = evaluate_files(make_raster("classes.tif", parcels),  # ids 0..63, 8 x 8 px each
                            make_raster("halves.tif", parcels % 2)).as_dict()
    assert scores["pixels"] == 64 * 64 and scores["accuracy"] == pytest.approx(2 / 64)


def test_forty_land_cover_classes_with_three_linear_ones_are_scored_not_taken_for_percent(
        make_raster):
    """An untagged land-cover prediction of 43 class ids 10..52 (40 in 16 px parcels, roads,
    rails and streams 1 px wide) against a truth of another legend (1..3) was refused as
    'probabilities x 100 (percent)': its 3 linear classes form no regions, and 3 steps
    sufficed. Mostly parcels, it is scored as ids (accuracy: the share of equal pixels)."""
    n = 128
    prediction = ((np.arange(n)[:, None] // 16 * 8 + np.arange(n)[None, :] // 16) % 40
                  + 10).astype(np.uint8)
    prediction[20, :] = prediction[:, 100] = 50
    prediction[:, 37] = 51
    prediction[90, :] = 52
    truth = np.where(prediction % 2 == 0, 1, 2).astype(np.uint8)
    truth[:64] = 3
    scores = evaluate_files(make_raster("landcover.tif", prediction),
                            make_raster("other_legend.tif", truth)).as_dict()
    assert scores["pixels"] == n * n
    assert scores["accuracy"] == pytest.approx((prediction == truth).mean())


def test_a_smooth_45_class_map_is_scored_not_taken_for_percent(make_raster):
    """An untagged class map of 45 ids 0..44 from the argmax of smooth fields (a CRF's or a
    smoothed model's, blobs of ~60 px) against a truth of 2 ids was refused as
    'probabilities x 100 (percent)': most of its small blobs erode away. Its neighbouring
    ids differ by any amount (a ramp's by a few percent): it is scored as ids."""
    from scipy import ndimage

    rng = np.random.default_rng(1)
    fields = np.stack([ndimage.gaussian_filter(rng.random((256, 256)), 6)
                       for _ in range(45)])
    prediction = fields.argmax(0).astype(np.uint8)
    truth = (prediction % 3 == 0).astype(np.uint8)
    scores = evaluate_files(make_raster("crf.tif", prediction),
                            make_raster("two.tif", truth)).as_dict()
    assert scores["pixels"] == prediction.size
    assert scores["accuracy"] == pytest.approx((prediction == truth).mean())


def test_land_cover_codes_the_truth_lacks_are_scored_not_taken_for_scaled_probabilities(
        make_raster):
    """A land-cover prediction of CCI codes (10..220) in parcels, holding 4 codes past 100
    that its truth tile never holds (the model's errors), was refused as 'probabilities x
    255 without their scale': codes that each form regions of their own are scored as ids
    (accuracy: the share of equal pixels); a sigmoid's ramp and a coarse sigmoid's blocks
    (many values past 100) are still refused."""
    from scipy import ndimage

    codes = np.array([10, 30, 60, 130, 150, 190, 200, 210, 220], np.uint8)
    parcels = np.arange(64)[:, None] // 16 * 4 + np.arange(64)[None, :] // 16  # 16 parcels
    prediction = codes[parcels % len(codes)]
    truth = np.where(np.isin(prediction, [150, 190, 200, 210]), 10, prediction)
    scores = evaluate_files(make_raster("cci.tif", prediction),
                            make_raster("cci_truth.tif", truth)).as_dict()
    assert scores["pixels"] == 64 * 64
    assert scores["accuracy"] == pytest.approx((prediction == truth).mean())
    # a coarse model's sigmoid upsampled x8 (nearest): blocks, but dozens of values
    _, buildings = _land_cover_and_buildings()
    smooth = ndimage.zoom(_sigmoid_bytes(buildings).astype(float), 4, order=1)  # 128 px
    blocky = np.kron(np.round(ndimage.zoom(smooth, 1 / 8, order=1)), np.ones((8, 8)))
    with pytest.raises(InputError, match=r"gdal_edit\.py -scale 0\.00392157 blocky\.tif"):
        evaluate_files(make_raster("blocky.tif", blocky.astype(np.uint8)),
                       make_raster("buildings.tif", np.kron(buildings, np.ones((4, 4), np.uint8))))


def test_an_undescribed_uint8_one_hot_of_four_bands_is_read_as_its_classes(
        make_raster, run_cli, tmp_path):
    """A uint8 one-hot of 4 undescribed 0/1 bands, which GDAL flags RGBA, was refused by
    evaluate and vectorize as 'an RGB image, not a prediction' (no photograph holds 0 and 1
    alone): it is read as its classes, band 1 background: accuracy 1.0, and vectorize
    writes the regions of classes 1..3."""
    from rasterio.enums import ColorInterp

    cover, _ = _land_cover_and_buildings()
    one_hot = make_raster("one_hot8.tif", np.stack([cover == k for k in range(4)])
                          .astype(np.uint8))
    with rasterio.open(one_hot, "r+") as dst:
        dst.colorinterp = [ColorInterp.red, ColorInterp.green, ColorInterp.blue,
                           ColorInterp.alpha]
    scores = evaluate_files(one_hot, make_raster("cover.tif", cover)).as_dict()
    assert scores["pixels"] == 32 * 32 and scores["accuracy"] == 1.0
    result = run_cli("vectorize", one_hot, "-o", tmp_path / "out.gpkg")
    assert result.exit_code == 0, result.output
    assert sorted(gpd.read_file(tmp_path / "out.gpkg")["class_id"]) == [1, 2, 3]


def test_an_undescribed_uint8_softmax_of_four_bands_is_read_as_its_classes(
        make_raster, run_cli, tmp_path):
    """A third-party softmax of 4 classes saved uint8 per band (each rounded: sums 255..256),
    which GDAL flags RGBA, was refused by evaluate and vectorize as 'an RGB image, not a
    prediction' (no photograph's bands sum to 255): it is read as its classes, band 1
    background: the argmax's accuracy, and vectorize writes classes 1..3."""
    from scipy import ndimage

    rng = np.random.default_rng(5)
    cover = np.zeros((128, 128), np.uint8)  # parcels of classes 1..3 on background
    boxes = rng.integers(5, 40, (12, 4)) * (3, 3, 1, 1)  # row, col, height, width
    for k, (row, col, height, width) in zip(np.arange(12) % 3 + 1, boxes, strict=True):
        cover[row:row + height, col:col + width] = k
    logits = np.stack([ndimage.gaussian_filter((cover == k).astype(float), 2.0) * 6
                       for k in range(4)])
    soft = np.exp(logits) / np.exp(logits).sum(axis=0)
    scaled = np.round(soft * 255).astype(np.uint8)
    assert (scaled.sum(axis=0, dtype=int) != 255).any()  # rounded per band
    softmax = make_raster("softmax8.tif", scaled)
    with rasterio.open(softmax) as src:
        assert src.colorinterp[3].name == "alpha"
    scores = evaluate_files(softmax, make_raster("cover.tif", cover)).as_dict()
    assert scores["accuracy"] == pytest.approx((scaled.argmax(axis=0) == cover).mean())
    result = run_cli("vectorize", softmax, "-o", tmp_path / "out.gpkg")
    assert result.exit_code == 0, result.output
    assert set(gpd.read_file(tmp_path / "out.gpkg")["class_id"]) == {1, 2, 3}


def test_solaris_footprint_boundary_contact_masks_are_refused_with_the_names_that_read_them(
        make_raster, run_cli):
    """solaris' df_to_px_mask(channels=['footprint', 'boundary', 'contact']) writes three
    unnamed uint8 bands of 0 and 255 (GDAL flags them RGB). evaluate took them for colour
    labels alone and advised make-masks --palette, which reads footprint-only, edge and
    contact pixels as three classes. The refusal names the tag that says what the bands
    are; tagged, the footprint band is scored (accuracy as numpy's)."""
    from scipy import ndimage

    buildings = np.zeros((32, 32), np.uint8)
    buildings[4:12, 4:20] = 1
    buildings[16:28, 8:14] = 1
    predicted = buildings.copy()
    predicted[20:24, 14:18] = 1
    for name, mask in (("truth", buildings), ("pred", predicted)):
        edge = ndimage.binary_dilation(mask) & ~ndimage.binary_erosion(mask)
        contact = ndimage.binary_dilation(mask, iterations=2) & ~mask.astype(bool) & ~edge
        make_raster(f"{name}_fbc.tif", np.stack([mask, edge, contact]).astype(np.uint8) * 255)
    truth = make_raster("truth.tif", buildings)
    prediction = make_raster("pred.tif", predicted)
    for pred, true, fbc in ((prediction.with_name("pred_fbc.tif"), truth, "pred_fbc.tif"),
                            (prediction, truth.with_name("truth_fbc.tif"), "truth_fbc.tif")):
        result = run_cli("evaluate", pred, true)
        message = result.output.strip().splitlines()
        assert result.exit_code == 1 and len(message) == 1, result.output
        assert fbc in message[0]
        assert 'GEOTILE_CLASS_NAMES=["footprint", "boundary", "contact"]' in message[0]
        path = pred if fbc.startswith("pred") else true
        with rasterio.open(path, "r+") as dst:
            dst.update_tags(GEOTILE_CLASS_NAMES='["footprint", "boundary", "contact"]')
        result = run_cli("evaluate", pred, true, "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["accuracy"] == pytest.approx(
            np.mean(buildings == predicted))


def test_a_prediction_whose_nodata_255_is_its_positive_class_is_refused(make_raster, run_cli):
    """A 0/255 building prediction declaring nodata 255 (gdal_calc.py --NoDataValue=255,
    gdal_rasterize -burn 255 -a_nodata 255) left every predicted building out of the scores:
    accuracy 0.98 on the 0s alone, building IoU 0, exit 0 without a word (a truth so
    declared is warned). Its 255s, where the truth holds buildings, are refused in one line
    naming the fix; unset, the mask scores as numpy's."""
    truth = np.zeros((32, 32), np.uint8)
    truth[4:12, 4:20] = 1
    truth[16:28, 8:14] = 1
    predicted = truth.copy()
    predicted[20:24, 14:18] = 1
    predicted[4:6, 4:20] = 0
    prediction = make_raster("pred.tif", predicted * 255, nodata=255)
    truth_path = make_raster("truth.tif", truth)
    result = run_cli("evaluate", prediction, truth_path)
    message = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(message) == 1, result.output
    assert "pred.tif" in message[0] and "gdal_edit.py -unsetnodata pred.tif" in message[0]
    with rasterio.open(prediction, "r+") as dst:
        dst.nodata = None
    result = run_cli("evaluate", prediction, truth_path, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accuracy"] == pytest.approx(np.mean(truth == predicted))


def test_uint16_probabilities_x_10000_are_told_the_scale_of_their_maximum(make_raster, run_cli):
    """A sigmoid saved as uint16 p x 10000 (0..10000, as reflectances are scaled) against a
    0/1 mask was refused with '-scale 1.5259e-05' (p x 65535), which reads its 10000 as
    p = 0.15: all background, exit 0. A maximum of 10000 is told -scale 0.0001, which
    scores as numpy's threshold."""
    from scipy import ndimage

    _, buildings = _land_cover_and_buildings()
    outside = ndimage.distance_transform_edt(buildings == 0)
    inside = ndimage.distance_transform_edt(buildings == 1)
    p = np.round(10000 / (1 + np.exp((outside - inside) / 2))).astype(np.uint16)
    p[0, 0] = 10000
    prediction = make_raster("p16.tif", p)
    truth = make_raster("buildings.tif", buildings)
    result = run_cli("evaluate", prediction, truth)
    message = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(message) == 1, result.output
    assert "gdal_edit.py -scale 0.0001 p16.tif" in message[0]
    with rasterio.open(prediction, "r+") as dst:
        dst.scales = (0.0001,)
    expected = np.mean((p * 0.0001 >= 0.5) == buildings)
    assert evaluate_files(prediction, truth).as_dict()["accuracy"] == pytest.approx(expected)


def test_a_prediction_folder_of_probabilities_beside_their_seg_classes_pairs_by_name(
        make_raster, tmp_path):
    """A prediction folder holding a.tif (float probabilities) beside a_seg.tif (its class
    map) against a truth folder of a.tif was refused ('no file of one has the name of a
    file of the other'): the probabilities, of many values, were taken for a_seg's image and
    dropped, though a_seg pairs with no truth. They pair with the truth by name as before
    (a_seg.tif left out with a warning) and score as numpy's."""
    mask = np.zeros((64, 64), np.uint8)
    mask[10:40, 10:40] = 1
    noise = np.random.default_rng(0).random((64, 64))
    prob = np.clip(mask * 0.6 + noise * 0.5, 0, 1).astype(np.float32)
    (tmp_path / "pred").mkdir()
    (tmp_path / "truth").mkdir()
    make_raster("pred/a.tif", prob)
    make_raster("pred/a_seg.tif", 1 - mask)
    make_raster("truth/a.tif", mask)
    scores = evaluate_files(tmp_path / "pred", tmp_path / "truth").as_dict()
    assert scores["pixels"] == mask.size
    assert scores["accuracy"] == pytest.approx(np.mean((prob >= 0.5) == mask))


def test_a_0_255_prediction_with_a_nodata_255_collar_and_buildings_is_refused(
        make_raster, run_cli):
    """A 0/255 building prediction declaring nodata 255 that also marks a 30 px collar
    without data (truth 0 there): its 255s lie on the truth's buildings for 768 of 3768
    pixels (under half), so it scored accuracy 1.0 on its 0s alone, building support 0
    though the truth holds 768 building pixels, exit 0 without a word. Every truth building
    pixel lying in its 255s, none scored, it is refused in one line that names the collar
    too (255 means two things there)."""
    truth = np.zeros((100, 100), np.uint8)
    for y in range(20, 90, 20):
        for x in range(40, 100, 20):
            truth[y:y + 8, x:x + 8] = 1
    predicted = (truth * 255).astype(np.uint8)
    predicted[:, :30] = 255
    prediction = make_raster("collar.tif", predicted, nodata=255)
    result = run_cli("evaluate", prediction, make_raster("truth.tif", truth))
    message = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(message) == 1, result.output
    assert "collar.tif" in message[0] and "gdal_edit.py -unsetnodata collar.tif" in message[0]
    assert f"{int(truth.sum())} pixels where truth.tif holds a class" in message[0]
    assert "another value" in message[0]
    # a model that missed one building (its pixels scored as 0): the truth's class is 20%
    # of the 255s and 1% of the pixels scored, still its positives, still refused
    missed = predicted.copy()
    missed[20:28, 40:48] = 0
    result = run_cli("evaluate", make_raster("missed.tif", missed, nodata=255),
                     make_raster("truth.tif", truth))
    assert result.exit_code == 1 and "gdal_edit.py -unsetnodata missed.tif" in result.output, \
        result.output
    # an empty prediction whose nodata (a cloud mask) lies on buildings as densely as the
    # rest of the truth holds them is scored: its 255 is no mask of the truth's buildings
    cloud = np.zeros_like(predicted)
    cloud[:, :50] = 255
    scores = evaluate_files(make_raster("cloud.tif", cloud, nodata=255),
                            make_raster("truth.tif", truth)).as_dict()
    assert scores["pixels"] == 100 * 50
    assert scores["accuracy"] == pytest.approx(np.mean(truth[:, 50:] == 0))


def test_uint16_probabilities_x_10000_short_of_10000_are_told_that_scale(make_raster, run_cli):
    """A sigmoid saved as uint16 p x 10000 whose most confident pixel is p = 0.88 (largest
    value 8803, not exactly 10000) was told '-scale 1.5259e-05' (p x
    65535): set so, it reads as p <= 0.13, all background, exit 0. A largest value (of the
    whole raster) of 10000 or less, which x 65535 would top out at p = 0.15, is told -scale
    0.0001, which scores as numpy's."""
    from scipy import ndimage

    _, buildings = _land_cover_and_buildings()
    outside = ndimage.distance_transform_edt(buildings == 0)
    inside = ndimage.distance_transform_edt(buildings == 1)
    p = np.round(9994 / (1 + np.exp((outside - inside) / 2))).astype(np.uint16)
    assert p.max() < 10000
    prediction = make_raster("p16.tif", p)
    truth = make_raster("buildings.tif", buildings)
    result = run_cli("evaluate", prediction, truth)
    message = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(message) == 1, result.output
    assert "gdal_edit.py -scale 0.0001 p16.tif" in message[0], message[0]
    with rasterio.open(prediction, "r+") as dst:
        dst.scales = (0.0001,)
    expected = np.mean((p * 0.0001 >= 0.5) == buildings)
    assert evaluate_files(prediction, truth).as_dict()["accuracy"] == pytest.approx(expected)
    # p x 65535 whose first 16 rows top out at 3000: the raster's largest value decides
    wide = np.kron(p.astype(np.float64) / 9994 * 65535, np.ones((2, 2))).astype(np.uint16)
    wide[:16] = np.minimum(wide[:16], 3000)
    with pytest.raises(InputError, match=r"-scale 1\.5259e-05 p65535\.tif"):
        evaluate_rasters(make_raster("p65535.tif", wide),
                         make_raster("wide.tif", np.kron(buildings, np.ones((2, 2), np.uint8))),
                         block_size=16)


def test_only_pairs_that_may_pass_the_threshold_are_intersected(monkeypatch):
    """A pair whose IoU cannot pass the threshold (the overlap of its bounding boxes, or the
    smaller area, over the union that leaves) is never intersected: no match, no tie, and the
    same TP/FP/FN, pairs and IoUs, bit for bit, as when every intersecting pair is."""
    rng = np.random.default_rng(7)
    truth = [box(x, y, s) for (x, y), s in zip(rng.uniform(0, 150, (80, 2)),
                                                rng.uniform(5, 15, 80), strict=True)]
    pred = [shapely.affinity.translate(t, *rng.normal(0, 2.5, 2)) for t in truth]
    pred += [shapely.affinity.scale(t, 0.5, 0.5) for t in truth[:20]]  # a quarter's area
    seen = []
    intersection = shapely.intersection

    def counted(a, b, **kwargs):
        seen.append(len(np.atleast_1d(a)))
        return intersection(a, b, **kwargs)

    monkeypatch.setattr(shapely, "intersection", counted)
    scores = match_polygons(pred, truth, 0.5)
    tree = shapely.STRtree(truth)
    q, t = tree.query(pred, predicate="intersects")
    inter = shapely.area(intersection(np.asarray(pred, object)[q], np.asarray(truth)[t]))
    areas_p, areas_t = shapely.area(pred)[q], shapely.area(truth)[t]
    passing = int((inter / (areas_p + areas_t - inter) > 0.5).sum())
    # each of the quarter-size predictions' pairs (IoU at most 0.25) left out
    assert passing <= sum(seen) <= len(q) - int((q >= len(truth)).sum())
    monkeypatch.setattr(shapely, "intersection", intersection)
    tp, fp, fn, pairs = brute_force(pred, truth, 0.5)
    assert (scores.tp, scores.fp, scores.fn) == (tp, fp, fn)
    assert [(m.pred, m.truth) for m in scores.matches] == pairs
    for m in scores.matches:
        p, t = pred[m.pred], truth[m.truth]
        union = p.area + t.area - p.intersection(t).area
        assert m.iou == p.intersection(t).area / union  # the same float, not approximately


@pytest.mark.parametrize("repair_truth", [False, True])
def test_each_geometry_is_checked_for_validity_once(monkeypatch, repair_truth):
    """Predictions (and --repair-truth's truths) were checked for validity twice, before
    and after the repair (a tenth of scoring 7600 vectorized outlines): once now, the
    repaired ones again, with the same matches."""
    import geotile.object_scores as object_scores

    spiked = shapely.Polygon([(0, 0), (10, 0), (10, 10), (0, 10), (0, 0), (5, 20), (5, 10)])
    bowtie = shapely.Polygon([(20, 0), (30, 10), (30, 0), (20, 10)])
    truth = [box(0, 0), box(20, 0), box(40, 0), spiked]
    pred = [spiked, bowtie, box(41, 0), shapely.Polygon(), box(0, 0)]
    expected = match_polygons(pred, truth, repair_truth=repair_truth)
    checked, is_valid = [], object_scores.is_valid

    def counted(geometries):
        checked.append(len(geometries))
        return is_valid(geometries)

    monkeypatch.setattr(object_scores, "is_valid", counted)
    scores = match_polygons(pred, truth, repair_truth=repair_truth)
    repaired = 2 + repair_truth  # the spike and the bow-tie; the truth's spike
    assert sum(checked) == len(pred) + len(truth) + repaired
    assert [(m.pred, m.truth, m.iou) for m in scores.matches] == \
        [(m.pred, m.truth, m.iou) for m in expected.matches]
    assert (scores.tp, scores.fp, scores.fn) == (expected.tp, expected.fp, expected.fn)


def _plain_parquet(path, shapes) -> None:
    """A Parquet of a WKB 'geometry' column without GeoParquet's 'geo' metadata: no CRS."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"geometry": pa.array(shapely.to_wkb(shapes).tolist(),
                                                   pa.binary())}), path)


@pytest.mark.parametrize("guessed", ["truth", "prediction", "csv"])
@pytest.mark.parametrize("kind", ["polygons", "lines"])
def test_a_guessed_crs_that_puts_one_side_elsewhere_is_refused(run_cli, tmp_path, guessed,
                                                               kind):
    """Footprints (or road lines) in UTM metres / 1e5 in a Parquet without 'geo' metadata,
    read as lon/lat, against the same features in a GeoPackage of EPSG:32616: every one
    lay far from the other side's, and evaluate exited 0 with scores of 0. Now exit 1, one
    line naming the Parquet file, the CRS assumed and why, and the option with the other
    side's CRS; nothing on stdout."""
    x0, y0 = UTM_ORIGIN
    shapes = [shapely.box(x0 + 10 * i, y0 - 8, x0 + 10 * i + 6, y0 - 2) for i in range(3)]
    if kind == "lines":
        shapes = [shapely.LineString([(x0 + 10 * i, y0), (x0 + 10 * i, y0 - 40)])
                  for i in range(3)]
    plain, declared = tmp_path / "plain.parquet", tmp_path / "declared.gpkg"
    scaled = [shapely.transform(s, lambda xy: xy / 1e5) for s in shapes]
    _plain_parquet(plain, scaled)
    if guessed == "csv":  # a WKT column (Google Open Buildings'): read as lon/lat
        plain = tmp_path / "plain.csv"
        plain.write_text("id,WKT_geometry\n" + "".join(f'{i},"{s.wkt}"\n'
                                                      for i, s in enumerate(scaled)))
    gpd.GeoDataFrame(geometry=shapes, crs=UTM_CRS).to_file(declared)
    pred, truth = (plain, declared) if guessed == "prediction" else (declared, plain)
    result = run_cli("evaluate", pred, truth, "--json")
    option = "--prediction-crs" if guessed == "prediction" else "--labels-crs"
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for fragment in (plain.name, "lon/lat", "no CRS", f"{option} {UTM_CRS}"):
        assert fragment in lines[0], lines[0]
    assert not result.stdout.strip()
    if guessed == "csv":
        return
    # declared far apart: scores of 0 with a warning, as before
    gpd.GeoDataFrame(geometry=[shapely.transform(s, lambda xy: xy / 1e5) for s in shapes],
                     crs="OGC:CRS84").to_parquet(plain)
    result = run_cli("evaluate", pred, truth, "--json")
    assert result.exit_code == 0, result.output
    assert "cover different ground" in result.stderr, result.stderr
