"""Relaxed precision and recall of road masks (Mnih & Hinton 2010): `evaluate A.tif B.tif
--buffer M`, streamed by blocks with a halo, against an independent whole-array
computation (scipy's Euclidean distance transform)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from rasterio.transform import Affine, from_origin
from scipy.ndimage import distance_transform_edt

from geotile.errors import InputError
from geotile.relaxed_scores import evaluate_relaxed

from .conftest import UTM_ORIGIN, assert_one_line_error


def _expected(pred_road, true_road, buffer, sampling=(1.0, 1.0)):
    """(predicted, true, matched predicted, matched true) pixels, from the Euclidean
    distance of each pixel to the other side's nearest road pixel (distance == buffer
    within)."""
    to_truth = distance_transform_edt(~true_road, sampling=sampling)
    to_prediction = distance_transform_edt(~pred_road, sampling=sampling)
    near = buffer * (1 + 1e-12) + 1e-12
    return (int(pred_road.sum()), int(true_road.sum()),
            int((pred_road & (to_truth <= near)).sum()),
            int((true_road & (to_prediction <= near)).sum()))


def _counts(scores):
    return (scores.predicted_pixels, scores.true_pixels, scores.matched_predicted_pixels,
            scores.matched_true_pixels)


def _roads(rng, shape, share=0.04):
    """Random masks with some runs (road-like strokes) besides scattered pixels."""
    road = rng.random(shape) < share
    for _ in range(4):
        r = rng.integers(0, shape[0])
        road[r, rng.integers(0, shape[1] // 2):] = True
    return road


@pytest.mark.parametrize("buffer", [0.5, 1.0, 1.5, 2.3])
def test_relaxed_counts_equal_a_whole_array_distance_transform(make_raster, buffer):
    """Random 0/1 masks at 0.5 m (rho 1..4.6 px): tiny blocks (5, 7 px: every road pixel
    near a block edge, halos crossing several blocks) and one block count the same as the
    Euclidean distance transform of the whole arrays."""
    rng = np.random.default_rng(int(buffer * 10))
    shape = (61, 47)
    pred, true = _roads(rng, shape), _roads(rng, shape)
    p = make_raster("p.tif", pred.astype(np.uint8))
    t = make_raster("t.tif", true.astype(np.uint8))
    expected = _expected(pred, true, buffer, (0.5, 0.5))
    assert expected[2] < expected[0] and expected[3] < expected[1]  # not all matched
    for block in (5, 7, 1024):
        s = evaluate_relaxed(p, t, buffer=buffer, block_size=block)
        assert _counts(s) == expected, block
        assert s.pixels == pred.size
        assert s.rho_px == pytest.approx((buffer / 0.5, buffer / 0.5))
        assert s.precision == pytest.approx(expected[2] / expected[0])
        assert s.recall == pytest.approx(expected[3] / expected[1])


def test_nodata_and_ignored_truth_are_left_out_on_both_sides(make_raster):
    """A probability prediction with NaN holes (thresholded at 0.5) against a 0/1 truth
    with 255 to ignore: those pixels are neither counted nor road for the other side."""
    rng = np.random.default_rng(5)
    shape = (50, 64)
    probability = rng.random(shape).astype(np.float32) ** 8  # p >= 0.5 on ~9%
    probability[10:20, 5:30] = np.nan
    truth = _roads(rng, shape).astype(np.uint8)
    truth[rng.random(shape) < 0.02] = 255
    truth[30:40, 40:60] = 255
    p = make_raster("p.tif", probability)
    t = make_raster("t.tif", truth)
    valid = ~np.isnan(probability) & (truth != 255)
    pred_road = valid & (np.nan_to_num(probability) >= 0.5)
    true_road = valid & (truth == 1)
    expected = _expected(pred_road, true_road, 1.0, (0.5, 0.5))
    for block in (6, 1024):
        s = evaluate_relaxed(p, t, buffer=1.0, block_size=block)
        assert _counts(s) == expected
        assert s.pixels == int(valid.sum())
    # what leaving out changed: the ignored truth pixels' predictions count no more
    assert expected[0] < int((np.nan_to_num(probability) >= 0.5).sum())


@pytest.mark.parametrize("transform", [
    Affine.translation(*UTM_ORIGIN) @ Affine.rotation(30) @ Affine.scale(0.5, -0.5),
    from_origin(*UTM_ORIGIN, 0.5, 0.5) @ Affine.scale(1, -1),  # south-up
    Affine.translation(*UTM_ORIGIN) @ Affine.rotation(-65) @ Affine.scale(-0.5, 0.5)],
    ids=["rotated", "south-up", "rotated-flipped"])
def test_rotated_and_south_up_grids_measure_ground_distance(make_raster, transform):
    """A rotated or south-up grid of 0.5 m pixels: the disk is the same 0.5 m pixels' (the
    distance on the ground, whichever way the rows run)."""
    rng = np.random.default_rng(9)
    pred, true = _roads(rng, (40, 52)), _roads(rng, (40, 52))
    p = make_raster("p.tif", pred.astype(np.uint8), transform=transform)
    t = make_raster("t.tif", true.astype(np.uint8), transform=transform)
    s = evaluate_relaxed(p, t, buffer=1.5, block_size=8)
    assert _counts(s) == _expected(pred, true, 1.5, (0.5, 0.5))
    assert s.rho_px == pytest.approx((3.0, 3.0))


def test_pixels_not_square_on_the_ground_take_an_ellipse(make_raster):
    """0.5 m wide, 1 m high pixels: rho 3 px along rows, 1.5 px along columns."""
    rng = np.random.default_rng(4)
    pred, true = _roads(rng, (45, 38)), _roads(rng, (45, 38))
    transform = from_origin(*UTM_ORIGIN, 0.5, 1.0)
    p = make_raster("p.tif", pred.astype(np.uint8), transform=transform)
    t = make_raster("t.tif", true.astype(np.uint8), transform=transform)
    s = evaluate_relaxed(p, t, buffer=1.5, block_size=9)
    assert _counts(s) == _expected(pred, true, 1.5, (1.0, 0.5))
    assert s.rho_px == pytest.approx((3.0, 1.5))


def _road_masks(make_raster, shift=2, scale=255):
    """A 3 px wide vertical road in a 0/255 truth (DeepGlobe's masks, no georeference:
    pixels), and the prediction ``shift`` px to its right."""
    truth = np.zeros((40, 40), np.uint8)
    truth[:, 18:21] = scale
    pred = np.zeros_like(truth)
    pred[:, 18 + shift:21 + shift] = scale
    return (make_raster("pred.png.tif", pred, crs=None, transform=Affine.identity()),
            make_raster("truth.tif", truth, crs=None, transform=Affine.identity()))


def test_a_road_shifted_by_2_px_scores_1_at_rho_3_and_less_at_rho_1(run_cli, make_raster):
    pred, truth = _road_masks(make_raster)
    result = run_cli("evaluate", pred, truth, "--buffer", "3", "--json")
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert d["mode"] == "relaxed" and d["units"] == "coordinates" and d["rho_px"] == 3
    assert (d["precision"], d["recall"], d["f1"]) == (1.0, 1.0, 1.0)
    assert d["predicted_pixels"] == d["true_pixels"] == 120
    result = run_cli("evaluate", pred, truth, "--buffer", "1", "--json")
    d = json.loads(result.stdout)
    # within 1 px: the pixels of columns 19..21 on either side (2 of 3 columns)
    assert d["precision"] == pytest.approx(2 / 3) and d["recall"] == pytest.approx(2 / 3)
    table = run_cli("evaluate", pred, truth, "--buffer", "1").stdout
    assert "relaxed (within 1 coordinate units (no CRS), rho 1 px)" in table
    assert "precision 0.6667  recall 0.6667" in table


def test_class_rasters_take_the_road_class_by_name_or_id(run_cli, make_raster):
    """A land-cover class raster: --class picks the road class (by id, or by the truth's
    name); without it, ids other than 0 and 1 are refused in one line, not pooled."""
    rng = np.random.default_rng(2)
    truth = rng.integers(0, 4, (30, 30)).astype(np.uint8)
    pred = rng.integers(0, 4, (30, 30)).astype(np.uint8)
    names = '["background", "building", "road", "water"]'
    t = make_raster("t.tif", truth)
    p = make_raster("p.tif", pred)
    from rasterio import open as rio_open

    for path in (t, p):
        with rio_open(path, "r+") as dst:
            dst.update_tags(GEOTILE_CLASS_NAMES=names)
    expected = _expected(pred == 2, truth == 2, 1.0, (0.5, 0.5))
    by_name = json.loads(run_cli("evaluate", p, t, "--buffer", "1", "--class", "Road",
                                 "--json").stdout)
    by_id = evaluate_relaxed(p, t, buffer=1.0, road_class=2, block_size=7)
    assert _counts(by_id) == expected
    assert (by_name["predicted_pixels"], by_name["true_pixels"],
            by_name["matched_predicted_pixels"], by_name["matched_true_pixels"]) == expected
    result = run_cli("evaluate", p, t, "--buffer", "1")
    assert_one_line_error(result, "--class", "binary road masks", code=1)
    assert_one_line_error(run_cli("evaluate", p, t, "--buffer", "1", "--class", "rail"),
                          "t.tif", "no class 'rail'", "'road'", code=1)
    unnamed = make_raster("unnamed.tif", pred)  # pairs by id: the truth's road id
    assert _counts(evaluate_relaxed(unnamed, t, buffer=1.0, road_class="road")) == expected


def test_folders_of_road_masks_score_per_image_and_in_total(run_cli, make_raster, tmp_path):
    rng = np.random.default_rng(3)
    (tmp_path / "pred").mkdir()
    (tmp_path / "true").mkdir()
    sums = np.zeros(4, int)
    for name in ("a", "b"):
        pred, true = _roads(rng, (30, 33)), _roads(rng, (30, 33))
        make_raster(f"pred/{name}.tif", pred.astype(np.uint8) * 255)
        make_raster(f"true/{name}.tif", true.astype(np.uint8) * 255)
        sums += _expected(pred, true, 1.0, (0.5, 0.5))
    result = run_cli("evaluate", tmp_path / "pred", tmp_path / "true", "--buffer", "1",
                     "--json")
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert d["mode"] == "relaxed" and d["images"] == 2 and set(d["per_image"]) == {"a", "b"}
    assert [d[k] for k in ("predicted_pixels", "true_pixels", "matched_predicted_pixels",
                           "matched_true_pixels")] == list(sums)
    assert sum(r["true_pixels"] for r in d["per_image"].values()) == sums[1]
    assert d["precision"] == pytest.approx(sums[2] / sums[0])
    table = run_cli("evaluate", tmp_path / "pred", tmp_path / "true", "--buffer", "1").stdout
    assert "2 images" in table and "rho 2 px" in table


def test_bad_inputs_fail_in_one_line(run_cli, make_raster, tmp_path):
    pred, truth = _road_masks(make_raster)
    other = make_raster("other.tif", np.zeros((20, 20), np.uint8), crs=None,
                        transform=Affine.identity())
    assert_one_line_error(run_cli("evaluate", pred, other, "--buffer", "3"),
                          "not on the same grid", code=1)
    assert_one_line_error(run_cli("evaluate", pred, truth, "--buffer", "3",
                                  "--class-field", "x"), "--class-field", code=2)
    assert_one_line_error(run_cli("evaluate", pred, truth, "--buffer", "5000"),
                          "--buffer 5000", code=1)
    lines = tmp_path / "x.geojson"
    lines.write_text('{"type": "FeatureCollection", "features": []}')
    with pytest.raises(InputError, match="no raster"):
        evaluate_relaxed(pred, lines, buffer=3)


@pytest.mark.parametrize("scale", [1, 255], ids=["0-1", "0-255"])
@pytest.mark.parametrize("declared", [(0, None), (None, 0), (0, 0)],
                         ids=["prediction", "truth", "both"])
def test_masks_declaring_nodata_0_score_their_0_as_background(make_raster, scale, declared):
    """A road mask declaring nodata 0 (gdal_rasterize -burn 1 -a_nodata 0, QGIS' Rasterize)
    holds background in its 0s, as pixel scores read it: counted as without the nodata,
    not every background pixel left out (true 0, precision and recall 0, exit 0)."""
    rng = np.random.default_rng(11)
    pred, true = _roads(rng, (36, 44)), _roads(rng, (36, 44))
    expected = _expected(pred, true, 1.0, (0.5, 0.5))
    p = make_raster("p.tif", pred.astype(np.uint8) * scale, nodata=declared[0])
    t = make_raster("t.tif", true.astype(np.uint8) * scale, nodata=declared[1])
    with pytest.warns(UserWarning, match="nodata 0"):
        s = evaluate_relaxed(p, t, buffer=1.0, block_size=8)
    assert _counts(s) == expected
    assert s.pixels == pred.size


def test_folders_of_masks_declaring_nodata_0_warn_once(run_cli, make_raster, tmp_path):
    """Three pairs of 0/1 masks declaring nodata 0: their 0 background, said in one warning
    for the six rasters (pixel scores' folders say it once too), not one per pair."""
    road = np.zeros((20, 20), np.uint8)
    road[5] = 1
    for folder in ("pred", "true"):
        (tmp_path / folder).mkdir()
        for name in "abc":
            make_raster(f"{folder}/{name}.tif", road, nodata=0)
    result = run_cli("evaluate", tmp_path / "pred", tmp_path / "true", "--buffer", "1",
                     "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["true_pixels"] == 60
    warnings = [line for line in result.stderr.splitlines() if "nodata 0" in line]
    assert len(warnings) == 1 and "and 5 other rasters" in warnings[0], result.stderr


@pytest.mark.parametrize("side", ["prediction", "truth"])
def test_a_0_255_mask_declaring_nodata_255_is_warned_of(make_raster, side):
    """A 0/255 road mask declaring nodata 255 makes its every road pixel no data: no road on
    that side and those pixels left out of the other's, exit 0 without a word -> a warning
    naming the file and gdal_edit.py -unsetnodata (as pixel scores warn of it)."""
    rng = np.random.default_rng(12)
    pred, true = _roads(rng, (30, 30)), _roads(rng, (30, 30))
    nodata = (255, None) if side == "prediction" else (None, 255)
    p = make_raster("p.tif", pred.astype(np.uint8) * 255, nodata=nodata[0])
    t = make_raster("t.tif", true.astype(np.uint8) * 255, nodata=nodata[1])
    with pytest.warns(UserWarning, match=r"(p|t)\.tif: its nodata value 255 .*-unsetnodata"):
        s = evaluate_relaxed(p, t, buffer=1.0)
    assert (s.predicted_pixels if side == "prediction" else s.true_pixels) == 0


def test_a_wide_buffer_counts_exactly_in_work_independent_of_rho(make_raster, monkeypatch):
    """rho 60 px took 51 s on a 2000 px square (a dilation costs the disk's 11,000 px per
    pixel; rho 500, which --buffer allows, hours) -> a distance transform of each block with
    its halo, on grids whose rows and columns are perpendicular: the same counts as the whole
    arrays' distance transform (tiny blocks: halos over many), at a cost per pixel rho does
    not set (counted: footprint pixels visited per pixel, not seconds)."""
    import scipy.ndimage

    work = {"pixels": 0, "visits": 0}
    real_dilation, real_distance = (scipy.ndimage.binary_dilation,
                                    scipy.ndimage.distance_transform_edt)

    def dilation(mask, structure=None, *args, **kwargs):
        work["pixels"] += mask.size
        work["visits"] += mask.size * (9 if structure is None else int(np.sum(structure)))
        return real_dilation(mask, structure, *args, **kwargs)

    def distance(mask, *args, **kwargs):
        work["pixels"] += mask.size
        work["visits"] += mask.size  # linear in the pixels (Maurer et al.), any rho
        return real_distance(mask, *args, **kwargs)

    monkeypatch.setattr(scipy.ndimage, "binary_dilation", dilation)
    monkeypatch.setattr(scipy.ndimage, "distance_transform_edt", distance)

    def relaxed(p, t, **options):
        work.update(pixels=0, visits=0)
        scores = evaluate_relaxed(p, t, **options)
        assert 0 < work["visits"] <= work["pixels"], (options, work)
        return scores

    rng = np.random.default_rng(13)
    pred, true = rng.random((90, 70)) < 0.002, rng.random((90, 70)) < 0.002
    pred[40, 5:30] = True
    p = make_raster("p.tif", pred.astype(np.uint8))
    t = make_raster("t.tif", true.astype(np.uint8))
    for buffer in (7.3, 20.0):  # rho 14.6 and 40 px
        expected = _expected(pred, true, buffer, (0.5, 0.5))
        assert buffer > 10 or expected[2] < expected[0] or expected[3] < expected[1]
        for block in (16, 1024):
            assert _counts(relaxed(p, t, buffer=buffer, block_size=block)) \
                == expected, (buffer, block)
    big = np.zeros((1000, 1000), bool)
    big[::97, :] = True
    p = make_raster("bp.tif", big.astype(np.uint8))
    t = make_raster("bt.tif", big.T.astype(np.uint8))
    s = relaxed(p, t, buffer=100.0)  # rho 200 px: a dilation visits ~125,000 a pixel
    assert _counts(s) == _expected(big, big.T, 100.0, (0.5, 0.5))


def test_folders_of_0_255_masks_declaring_nodata_255_warn_once(run_cli, make_raster,
                                                               tmp_path):
    """Three truths, 0/255 road masks declaring nodata 255: each pair said the warning
    (1000 lines for a city's 1000 tiles) -> one line naming the first, how many others and
    their pixels together, as the nodata-0 warning of folders says it."""
    road = np.zeros((20, 20), np.uint8)
    road[5] = 255
    for folder, nodata in (("pred", None), ("true", 255)):
        (tmp_path / folder).mkdir()
        for name in "abc":
            make_raster(f"{folder}/{name}.tif", road, nodata=nodata)
    result = run_cli("evaluate", tmp_path / "pred", tmp_path / "true", "--buffer", "1",
                     "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["true_pixels"] == 0
    said = [line for line in result.stderr.splitlines() if "nodata value 255" in line]
    assert len(said) == 1, result.stderr
    assert "a.tif and 2 other rasters" in said[0] and "60 pixels" in said[0], said[0]
    assert "-unsetnodata on each, e.g." in said[0]


def _strict_json(text: str):
    """``text`` parsed as JSON proper: NaN and Infinity, which json.dumps writes by
    default but no other reader takes, refused."""

    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_library_dumps_write_an_undefined_score_as_null_as_evaluate_dumps_does():
    """RelaxedScores.dumps and ManyLineScores.dumps (the library API) wrote NaN, which is
    not JSON (the total of two grids of other pixel sizes has no one rho: NaN), where the
    CLI's evaluate.dumps writes null; they now write the same text."""
    import math

    from geotile.evaluate import dumps
    from geotile.line_folders import ManyLineScores
    from geotile.line_metrics import LineScores
    from geotile.relaxed_scores import ManyRelaxedScores, RelaxedScores

    fine = RelaxedScores(3.0, (6.0, 6.0), 10, 12, 8, 9, pixels=100)
    coarse = RelaxedScores(3.0, (3.0, 3.0), 5, 4, 4, 4, pixels=50)
    many = ManyRelaxedScores({"a": fine, "b": coarse}, {"a": ("pa", "ta"), "b": ("pb", "tb")},
                             3.0)
    total = many.scores
    assert math.isnan(total.rho_px[0])  # no one rho for the two grids
    undefined = LineScores(2.0, math.nan, 10.0, 0.0, 8.0)  # a length that is no number
    lines = ManyLineScores({"a": undefined}, {"a": ("pa.geojson", "ta.geojson")}, 2.0)
    for scores, key in ((total, "rho_px"), (many, "rho_px"), (lines, "predicted_length_m"),
                        (undefined, "predicted_length_m")):
        text = scores.dumps()
        assert _strict_json(text)[key] is None, text
        assert text == dumps(scores)
    assert _strict_json(lines.dumps())["per_image"]["a"]["precision"] is None
