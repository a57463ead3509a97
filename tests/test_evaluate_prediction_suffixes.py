"""evaluate of folders whose predictions are named <image>_pred.tif (any of
PREDICTION_SUFFIXES) against truth folders of <image>.tif or <image>_mask.tif: paired as the
unsuffixed names are, the exact name first, two predictions of one truth refused."""

from __future__ import annotations

import json
import logging

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geotile.errors import GeotileWarning, InputError
from geotile.folder_pairs import pair_folders

from .conftest import UTM_CRS, UTM_ORIGIN, assert_one_line_error, write_raster

X0, Y0 = UTM_ORIGIN


def _mask(rows: int, cols: int = 10) -> np.ndarray:
    array = np.zeros((10, 10), np.uint8)
    array[:rows, :cols] = 1
    return array


def _folders(root, files):
    """pred/ and truth/ under ``root``: ``files`` [(folder name, stem, mask)]."""
    pred, truth = root / "pred", root / "truth"
    for folder in (pred, truth):
        folder.mkdir(parents=True)
    for side, stem, array in files:
        write_raster((pred if side == "pred" else truth) / f"{stem}.tif", array)
    return pred, truth


def _pixel_json(run_cli, pred, truth) -> dict:
    result = run_cli("evaluate", pred, truth, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _scores(d: dict) -> tuple:
    return (d["mode"], d["images"], d["foreground"], d["confusion_matrix"],
            {k: {m: v for m, v in row.items() if m not in ("prediction", "truth")}
             for k, row in d["per_image"].items()})


@pytest.mark.parametrize("pred_suffix, truth_suffix", [
    ("_pred", ""), ("-pred", "_mask"), ("_probs", "_label"), ("_classes", "_labels"),
    ("_prediction", "_gt"), ("_class", "_seg"), ("_PRED", "_Mask"), ("_Buildings", "")])
def test_suffixed_predictions_score_as_the_same_files_unsuffixed(tmp_path, run_cli,
                                                                  pred_suffix, truth_suffix):
    """pred/TILE_1_pred.tif against truth/TILE_1.tif (or TILE_1_mask.tif) was refused ('no
    file of one has the name of a file of the other'); it scores as pred/TILE_1.tif."""
    truths = {"TILE_1": _mask(5), "TILE_2": _mask(2, 4)}
    preds = {"TILE_1": _mask(4), "TILE_2": _mask(3, 5)}

    def folders(root, suffix):
        return _folders(root, [("truth", s + truth_suffix, a) for s, a in truths.items()]
                        + [("pred", s + suffix, a) for s, a in preds.items()])

    plain = _pixel_json(run_cli, *folders(tmp_path / "plain", ""))
    pred, truth = folders(tmp_path / "suffixed", pred_suffix)
    pairs = pair_folders(pred, truth)
    assert {k: (p.name, t.name) for k, (p, t) in pairs.pairs.items()} == {
        s: (f"{s}{pred_suffix}.tif", f"{s}{truth_suffix}.tif") for s in truths}
    assert not pairs.unpaired_prediction and not pairs.unpaired_truth
    suffixed = _pixel_json(run_cli, pred, truth)
    assert _scores(suffixed) == _scores(plain)
    assert suffixed["foreground"]["tp"] == 40 + 8 and suffixed["images"] == 2


def _write_vector(path, boxes):
    frame = gpd.GeoDataFrame(geometry=[shapely.box(X0 + x, Y0 - y - 10, X0 + x + 10, Y0 - y)
                                       for x, y in boxes], crs=UTM_CRS)
    frame.to_file(path, engine="pyogrio")


def test_suffixed_vector_predictions_give_the_object_f1_of_unsuffixed_ones(tmp_path, run_cli):
    """pred/a_pred.geojson (vectorize's polygons saved under the prediction's name) against
    truth/a.geojson: the object F1 of pred/a.geojson."""
    results = {}
    for suffix in ("", "_pred"):
        pred, truth = tmp_path / f"p{suffix}", tmp_path / f"t{suffix}"
        pred.mkdir()
        truth.mkdir()
        _write_vector(truth / "a.geojson", [(0, 0), (30, 0), (60, 0)])
        _write_vector(pred / f"a{suffix}.geojson", [(0, 0), (31, 0), (200, 200)])
        _write_vector(truth / "b.geojson", [(0, 0)])
        _write_vector(pred / f"b{suffix}.geojson", [(0, 0)])
        result = run_cli("evaluate", pred, truth, "--json")
        assert result.exit_code == 0, result.output
        results[suffix] = json.loads(result.stdout)
    plain, suffixed = results[""], results["_pred"]
    assert suffixed["mode"] == "object" and suffixed["images"] == 2
    assert (suffixed["tp"], suffixed["fp"], suffixed["fn"]) == (3, 1, 1)
    for key in ("tp", "fp", "fn", "precision", "recall", "f1"):
        assert suffixed[key] == plain[key], key


def test_a_prediction_named_as_a_truth_takes_that_truth_not_its_image_s(tmp_path, caplog):
    """pred/TILE_1_pred.tif beside truths TILE_1_pred.tif and TILE_1.tif: the exact name
    pairs; TILE_1.tif is left out with the warning of any unpaired truth (TILE_2_pred.tif,
    of no namesake, pairs with TILE_2.tif)."""
    pred, truth = _folders(tmp_path, [("pred", "TILE_1_pred", _mask(3)),
                                      ("truth", "TILE_1_pred", _mask(3)),
                                      ("truth", "TILE_1", _mask(7)),
                                      ("pred", "TILE_2_pred", _mask(2)),
                                      ("truth", "TILE_2", _mask(2))])
    with caplog.at_level(logging.WARNING, logger="geotile"):
        pairs = pair_folders(pred, truth)
    assert {k: (p.name, t.name) for k, (p, t) in pairs.pairs.items()} == {
        "TILE_1_pred": ("TILE_1_pred.tif", "TILE_1_pred.tif"),
        "TILE_2": ("TILE_2_pred.tif", "TILE_2.tif")}
    assert [p.name for p in pairs.unpaired_truth] == ["TILE_1.tif"]
    assert "left out" in caplog.text and "TILE_1.tif" in caplog.text


@pytest.mark.parametrize("preds, truth_stem", [
    (("TILE_1", "TILE_1_pred"), "TILE_1"),
    (("TILE_1_pred", "TILE_1_probs"), "TILE_1_mask"),
    (("TILE_1", "tile_1_PRED"), "TILE_1"),
    (("tile_1", "TILE_1_classes"), "TILE_1_label"),
    (("AOI_2_Vegas_img1", "AOI_2_Vegas_img1_pred"), "RGB-PanSharpen_AOI_2_Vegas_img1"),
    (("AOI_2_Vegas_img1_probs", "AOI_2_Vegas_img1_pred"), "buildings_AOI_2_Vegas_img1")])
def test_two_predictions_of_one_truth_are_refused_naming_both(tmp_path, run_cli, preds,
                                                               truth_stem):
    """TILE_1.tif and TILE_1_pred.tif beside each other both name truth/TILE_1.tif: scoring
    one and leaving the other out would hide which was meant."""
    pred, truth = _folders(tmp_path, [("pred", s, _mask(3)) for s in preds]
                           + [("truth", truth_stem, _mask(3)), ("truth", "TILE_2", _mask(1)),
                              ("pred", "TILE_2", _mask(1))])
    with pytest.raises(InputError):
        pair_folders(pred, truth)
    result = run_cli("evaluate", pred, truth, "--json")
    assert_one_line_error(result, *(f"{s}.tif" for s in preds), f"{truth_stem}.tif")
    assert result.stdout == ""


def test_suffixed_names_pair_in_any_letter_case_and_unicode_form(tmp_path):
    """Zu\u0308rich_1_pred.tif (NFD, as macOS writes it) pairs with Zürich_1.tif (NFC),
    tile_2_PRED.tif with TILE_2_mask.tif, ZÜRICH_3_probs.tif with zürich_3.tif, as their
    unsuffixed names pair (:func:`~geotile.name_keys.name_key`)."""
    files = [("Zu\u0308rich_1", "Z\u00fcrich_1", 2), ("tile_2", "TILE_2_mask", 3),
             ("Z\u00dcRICH_3", "z\u00fcrich_3", 4)]
    with pytest.warns(GeotileWarning, match="another letter case"):
        plain = pair_folders(*_folders(tmp_path / "plain", [
            (side, stem, _mask(rows)) for p, t, rows in files
            for side, stem in (("pred", p), ("truth", t))]))
    pred, truth = _folders(tmp_path / "suffixed", [
        (side, stem, _mask(rows)) for p, t, rows in files
        for side, stem in (("pred", p + "_pred" if rows < 4 else p + "_probs"),
                           ("truth", t))])
    pairs = pair_folders(pred, truth)
    assert {k: t.name for k, (_, t) in pairs.pairs.items()} == {
        k: t.name for k, (_, t) in plain.pairs.items()}
    assert sorted(p.name for p, _ in pairs.pairs.values()) == sorted(
        p.name for p in pred.iterdir())
    assert not pairs.unpaired_prediction and not pairs.unpaired_truth


def test_deepglobe_truth_images_stay_out_beside_suffixed_predictions(tmp_path, caplog):
    """truth/104_sat.tif (the RGB image) beside truth/104_mask.tif, predictions
    104_sat_pred.tif: paired with the mask as 104_sat.tif is, the image left out unsaid."""
    pred, truth = tmp_path / "pred", tmp_path / "truth"
    pred.mkdir()
    truth.mkdir()
    for scene, rows in (("104", 3), ("207", 6)):
        write_raster(truth / f"{scene}_sat.tif", np.stack([_mask(rows) * 200] * 3))
        write_raster(truth / f"{scene}_mask.tif", _mask(rows))
        write_raster(pred / f"{scene}_sat_pred.tif", _mask(rows))
    with caplog.at_level(logging.WARNING, logger="geotile"):
        pairs = pair_folders(pred, truth)
    assert {k: (p.name, t.name) for k, (p, t) in pairs.pairs.items()} == {
        s: (f"{s}_sat_pred.tif", f"{s}_mask.tif") for s in ("104", "207")}
    assert "left out" not in caplog.text


def test_unpaired_suffixed_files_are_still_named_in_the_warning(tmp_path, caplog):
    """A prediction whose image has no truth (extra_pred.tif) and a truth without a
    prediction (lonely.tif) are left out with one warning naming both, as before."""
    pred, truth = _folders(tmp_path, [("pred", "TILE_1_pred", _mask(3)),
                                      ("truth", "TILE_1", _mask(3)),
                                      ("pred", "extra_pred", _mask(1)),
                                      ("truth", "lonely", _mask(1))])
    with caplog.at_level(logging.WARNING, logger="geotile"):
        pairs = pair_folders(pred, truth)
    assert list(pairs.pairs) == ["TILE_1"]
    assert [p.name for p in pairs.unpaired_prediction] == ["extra_pred.tif"]
    assert [p.name for p in pairs.unpaired_truth] == ["lonely.tif"]
    warned = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert len(warned) == 1 and "extra_pred.tif" in warned[0] and "lonely.tif" in warned[0]


def test_predictions_of_one_name_in_two_cases_and_no_suffix_pair_as_before(tmp_path, caplog):
    """tile_1.tif beside TILE_1.tif (a Linux disk), truth TILE_1.tif: the exact name pairs,
    the other is left out with a warning, as before prediction suffixes were read."""
    pred, truth = _folders(tmp_path, [("pred", "tile_1", _mask(3)), ("pred", "TILE_1", _mask(3)),
                                      ("truth", "TILE_1", _mask(3))])
    with caplog.at_level(logging.WARNING, logger="geotile"):
        pairs = pair_folders(pred, truth)
    assert {k: p.name for k, (p, _) in pairs.pairs.items()} == {"TILE_1": "TILE_1.tif"}
    assert [p.name for p in pairs.unpaired_prediction] == ["tile_1.tif"]
    assert "left out" in caplog.text


@pytest.mark.parametrize("preds", [("X_PRED", "x_pred"), ("X_PRED", "x"), ("X_pred", "x_probs")])
def test_suffixed_predictions_of_two_images_in_two_cases_pair_each_with_its_own(tmp_path,
                                                                                 preds):
    """truth/X.tif and truth/x.tif (two images on a Linux disk) with pred/X_PRED.tif and
    pred/x_pred.tif (or x.tif) were refused ('X_PRED.tif and x_pred.tif both name X.tif');
    each pairs with the truth its name spells, as X.tif and x.tif do."""
    pred, truth = _folders(tmp_path, [("truth", "X", _mask(3)), ("truth", "x", _mask(7)),
                                      ("pred", preds[0], _mask(3)), ("pred", preds[1], _mask(7))])
    pairs = pair_folders(pred, truth)
    assert {k: (p.name, t.name) for k, (p, t) in pairs.pairs.items()} == {
        "X": (f"{preds[0]}.tif", "X.tif"), "x": (f"{preds[1]}.tif", "x.tif")}
    assert not pairs.unpaired_prediction and not pairs.unpaired_truth


@pytest.mark.parametrize("pred_prefix", ["", "RGB-PanSharpen_"])
def test_suffixed_spacenet_predictions_pair_by_image_id(tmp_path, run_cli, pred_prefix):
    """SpaceNet truth buildings_AOI_2_Vegas_img1.geojson with pred/AOI_2_Vegas_img1_pred.geojson
    was refused ('no file of one has the name of a file of the other') though
    AOI_2_Vegas_img1.geojson pairs by image id; it scores as that unsuffixed name."""
    results = {}
    for suffix in ("", "_pred"):
        pred, truth = tmp_path / f"p{suffix}", tmp_path / f"t{suffix}"
        pred.mkdir()
        truth.mkdir()
        for image, boxes in (("img1", [(0, 0), (30, 0)]), ("img2", [(0, 0)])):
            _write_vector(truth / f"buildings_AOI_2_Vegas_{image}.geojson", boxes)
            _write_vector(pred / f"{pred_prefix}AOI_2_Vegas_{image}{suffix}.geojson",
                          [*boxes[:1], (100, 100)])
        pairs = pair_folders(pred, truth)
        assert sorted((p.name, t.name) for p, t in pairs.pairs.values()) == [
            (f"{pred_prefix}AOI_2_Vegas_{i}{suffix}.geojson",
             f"buildings_AOI_2_Vegas_{i}.geojson") for i in ("img1", "img2")]
        result = run_cli("evaluate", pred, truth, "--json")
        assert result.exit_code == 0, result.output
        results[suffix] = json.loads(result.stdout)
    assert (results["_pred"]["tp"], results["_pred"]["fp"], results["_pred"]["fn"]) == (2, 2, 1)
    for key in ("tp", "fp", "fn", "precision", "recall", "f1", "images"):
        assert results["_pred"][key] == results[""][key], key


def test_a_suffixed_prediction_of_two_truths_by_image_id_is_refused_as_unsuffixed(tmp_path,
                                                                                  run_cli):
    """pred/1_pred.tif names a_1.tif and b_1.tif by image id, as pred/1.tif does: refused
    naming both truths, not left out with a warning (exit 0 on the other image)."""
    pred, truth = _folders(tmp_path, [("pred", "1_pred", _mask(3)), ("truth", "a_1", _mask(3)),
                                      ("truth", "b_1", _mask(3)), ("pred", "c", _mask(2)),
                                      ("truth", "c", _mask(2))])
    result = run_cli("evaluate", pred, truth, "--json")
    assert_one_line_error(result, "1_pred.tif", "a_1.tif", "b_1.tif")
    assert result.stdout == ""
