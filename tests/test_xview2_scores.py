"""evaluate of xView2 (xBD) challenge folders: localization and damage PNGs scored as
the challenge's xview2_metrics.py scores them (0.3 localization F1 + 0.7 harmonic mean of
the 4 damage F1s, damage on true building pixels only)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests.conftest import assert_one_line_error


def _official(rows_of_images) -> dict:
    """A faithful numpy reading of DIUx-xView/xView2_scoring's xview2_metrics.py (ea0793d,
    after acb007a: every damage class counted in every image): per image TP/FN/FP, sums
    over images, F1 0 when TP is 0, harmonic mean with epsilon 1e-6."""
    def counts(p, t, c):
        return [np.sum((p == c) & (t == c)), np.sum((p != c) & (t == c)),
                np.sum((p == c) & (t != c))]

    loc = np.zeros(3)
    dmg = np.zeros((4, 3))
    for lp, dp, lt, dt in rows_of_images:
        lp_b, lt_b, dt_b = (lp > 0).astype(int), (lt > 0).astype(int), (dt > 0).astype(int)
        dp = dp * lp_b
        dp, dt = dp[dt_b == 1], dt[dt_b == 1]
        loc += counts(lp_b, lt_b, 1)
        for i in range(1, 5):
            dmg[i - 1] += counts(dp, dt, i)

    def f1(tp, fn, fp):
        if tp == 0:
            return 0.0
        p, r = tp / (tp + fp), tp / (tp + fn)
        return 2 * p * r / (p + r)

    lf1 = f1(*loc)
    df1s = [f1(*row) for row in dmg]
    df1 = 4 / sum((x + 1e-6) ** -1 for x in df1s)
    return {"score": 0.3 * lf1 + 0.7 * df1, "localization_f1": lf1, "damage_f1": df1,
            "damage_f1s": df1s}


def _challenge_names(split, name, kind, role):
    return f"{split}_{kind}_{name}_{role}.png"


def _xbd_names(split, name, kind, role):
    """xBD's targets/ (pre: buildings, post: damage), the winning solutions' predictions."""
    if role == "target":
        return f"{split}_{name}_{'pre' if kind == 'localization' else 'post'}_disaster_target.png"
    return f"{split}_{name}_{kind}_disaster_prediction.png"


def _challenge_folders(tmp_path, n=3, size=64, seed=0, split="test", names=_challenge_names):
    rng = np.random.default_rng(seed)
    pred, targ = tmp_path / "predictions", tmp_path / "targets"
    pred.mkdir()
    targ.mkdir()
    images = []
    for k in range(n):
        dt = np.zeros((size, size), np.uint8)
        for _ in range(6):  # buildings, each of one damage class
            r, c = rng.integers(0, size - 12, 2)
            dt[r:r + rng.integers(4, 12), c:c + rng.integers(4, 12)] = rng.integers(1, 5)
        if k == 0:
            dt[dt == 3] = 2  # an image without 'major damage': its FPs count
        lt = (dt > 0).astype(np.uint8)
        lp = np.where(rng.random(lt.shape) < 0.15, 1 - lt, lt).astype(np.uint8)
        dp = np.where(rng.random(dt.shape) < 0.3, rng.integers(0, 5, dt.shape), dt)
        dp = dp.astype(np.uint8)
        name = f"{k:05d}"
        for folder, kind, role, a in ((pred, "localization", "prediction", lp),
                                      (pred, "damage", "prediction", dp),
                                      (targ, "localization", "target", lt),
                                      (targ, "damage", "target", dt)):
            Image.fromarray(a).save(folder / names(split, name, kind, role))
        images.append((lp, dp, lt, dt))
    return pred, targ, images


def test_xview2_folders_score_as_the_challenge_scorer(tmp_path, run_cli):
    pred, targ, images = _challenge_folders(tmp_path)
    official = _official(images)
    result = run_cli("evaluate", pred, targ, "--json")
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert d["mode"] == "xview2"
    assert d["images"] == 3
    assert d["score"] == pytest.approx(official["score"], abs=1e-12)
    assert d["localization_f1"] == pytest.approx(official["localization_f1"], abs=1e-12)
    assert d["damage_f1"] == pytest.approx(official["damage_f1"], abs=1e-12)
    assert [d["damage"][k]["f1"] for k in ("no-damage", "minor-damage", "major-damage",
                                           "destroyed")] == pytest.approx(
        official["damage_f1s"], abs=1e-12)
    table = run_cli("evaluate", pred, targ)
    assert table.exit_code == 0, table.output
    assert f"{official['score']:.4f}" in table.stdout
    assert "0.3 localization F1 + 0.7 damage F1" in table.stdout


def test_xbd_targets_with_the_solutions_prediction_names_score_alike(tmp_path, run_cli):
    pred, targ, images = _challenge_folders(tmp_path, seed=3, split="hurricane-harvey",
                                            names=_xbd_names)
    d = json.loads(run_cli("evaluate", pred, targ, "--json").stdout)
    assert d["images"] == 3
    assert d["score"] == pytest.approx(_official(images)["score"], abs=1e-12)
    (pred / "hurricane-harvey_00001_damage_disaster_prediction.png").unlink()
    assert_one_line_error(run_cli("evaluate", pred, targ),
                          "hurricane-harvey_00001_damage_disaster_prediction.png",
                          "hurricane-harvey_00001_post_disaster_target.png")


def test_xview2_api_gives_the_cli_s_scores(tmp_path):
    import geotile
    from geotile.evaluate import dumps

    pred, targ, images = _challenge_folders(tmp_path, seed=1, split="hold")
    result = geotile.evaluate_files(pred, targ)
    assert result.as_dict()["score"] == pytest.approx(_official(images)["score"], abs=1e-12)
    assert json.loads(dumps(result))["images"] == 3


def test_a_class_never_predicted_scores_near_zero_damage(tmp_path, run_cli):
    pred, targ, _ = _challenge_folders(tmp_path, seed=2)
    for path in pred.glob("*_damage_*"):  # 'destroyed' never predicted: its F1 is 0
        a = np.array(Image.open(path))
        a[a == 4] = 1
        Image.fromarray(a).save(path)
    d = json.loads(run_cli("evaluate", pred, targ, "--json").stdout)
    assert d["damage"]["destroyed"]["f1"] == 0.0
    assert d["damage_f1"] < 1e-5  # the harmonic mean with epsilon 1e-6, as the challenge's
    assert d["score"] == pytest.approx(0.3 * d["localization_f1"] + 0.7 * d["damage_f1"])


def test_a_missing_prediction_is_refused_naming_it(tmp_path, run_cli):
    pred, targ, _ = _challenge_folders(tmp_path)
    (pred / "test_damage_00001_prediction.png").unlink()
    result = run_cli("evaluate", pred, targ)
    assert_one_line_error(result, "test_damage_00001_prediction.png", "test_damage_00001_target")


def test_values_outside_0_4_are_refused(tmp_path, run_cli):
    pred, targ, _ = _challenge_folders(tmp_path)
    Image.fromarray(np.full((64, 64), 255, np.uint8)).save(
        pred / "test_localization_00002_prediction.png")
    result = run_cli("evaluate", pred, targ)
    assert_one_line_error(result, "test_localization_00002_prediction.png", "0..4")


def test_options_of_other_inputs_are_refused(tmp_path, run_cli):
    pred, targ, _ = _challenge_folders(tmp_path)
    result = run_cli("evaluate", pred, targ, "--iou", "0.3")
    assert result.exit_code == 2
    assert "--iou" in result.stderr


def test_targets_given_first_are_refused_naming_the_order(tmp_path, run_cli):
    pred, targ, _ = _challenge_folders(tmp_path)
    assert_one_line_error(run_cli("evaluate", targ, pred), str(targ), "xView2",
                          "predictions first")


def _masks(folder, names, rng, size=32):
    """Binary building masks ``names`` in ``folder``, {name: array}."""
    folder.mkdir(exist_ok=True)
    out = {}
    for name in names:
        out[name] = (rng.random((size, size)) < 0.3).astype(np.uint8)
        Image.fromarray(out[name]).save(folder / name)
    return out


def _pixel_counts(pred, truth):
    """TP, FP, FN of building pixels summed over the images of both dicts."""
    return [int(sum(np.sum(f(pred[k], truth[k])) for k in truth)) for f in (
        lambda p, t: (p > 0) & (t > 0), lambda p, t: (p > 0) & (t == 0),
        lambda p, t: (p == 0) & (t > 0))]


@pytest.mark.parametrize("names", [
    # xBD's targets/ and a localization model's masks named as the pre-disaster targets
    ["guatemala-volcano_00000000_pre_disaster_target.png",
     "guatemala-volcano_00000000_post_disaster_target.png"],
    # the challenge's targets and predictions named as the targets
    ["test_localization_00000_target.png", "test_damage_00000_target.png"],
])
@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_predictions_named_as_the_targets_get_pixel_scores(tmp_path, run_cli, names, suffix):
    """Predictions named as the targets pair by name and get pixel scores; in another
    format too (a localization model's GeoTIFFs, <image>_pre_disaster_target.tif): folders
    pair by stem, and scored so before 680841f; b88bd98 looked for the targets' whole names
    (.png) and refused them as xView2 ('..._localization_disaster_prediction.png: no such
    file')."""
    rng = np.random.default_rng(7)
    truth = _masks(tmp_path / "targets", names, rng)
    pred = _masks(tmp_path / "predictions", names[:1], rng)
    png = tmp_path / "predictions" / names[0]
    png.rename(png.with_suffix(suffix))
    result = run_cli("evaluate", tmp_path / "predictions", tmp_path / "targets", "--json")
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert d["mode"] == "pixel"
    row = d["per_image"][names[0][:-4]]
    assert [row["tp"], row["fp"], row["fn"]] == _pixel_counts(pred, {names[0]: truth[names[0]]})


def test_pre_disaster_targets_alone_are_building_masks(tmp_path, run_cli):
    """xBD's pre-disaster targets without post ones (localization alone) pair by name."""
    rng = np.random.default_rng(8)
    names = [f"palu-tsunami_0000000{k}_pre_disaster_target.png" for k in range(2)]
    truth = _masks(tmp_path / "targets", names, rng)
    pred = _masks(tmp_path / "predictions", names, rng)
    result = run_cli("evaluate", tmp_path / "predictions", tmp_path / "targets", "--json")
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert d["mode"] == "pixel"
    assert d["confusion_matrix"][1][1] == _pixel_counts(pred, truth)[0]
    for p in (tmp_path / "predictions").iterdir():  # named as the images: the pairing's line
        p.rename(p.with_name(p.name.replace("_target", "")))
    assert_one_line_error(run_cli("evaluate", tmp_path / "predictions", tmp_path / "targets"),
                          "name each prediction after its truth file")


def test_a_stray_challenge_target_leaves_an_ordinary_folder_ordinary(tmp_path, run_cli):
    rng = np.random.default_rng(9)
    truth = _masks(tmp_path / "truth", ["a.png", "b.png"], rng)
    pred = _masks(tmp_path / "pred", ["a.png", "b.png"], rng)
    _masks(tmp_path / "truth", ["test_localization_00000_target.png"], rng)
    result = run_cli("evaluate", tmp_path / "pred", tmp_path / "truth", "--json")
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert d["mode"] == "pixel" and d["images"] == 2
    assert d["confusion_matrix"][1][1] == _pixel_counts(pred, truth)[0]
    assert d["unpaired"]["truth"][0].endswith("test_localization_00000_target.png")


def test_a_readme_in_both_folders_keeps_the_challenge_s_score(tmp_path, run_cli):
    pred, targ, images = _challenge_folders(tmp_path, seed=4)
    for folder in (pred, targ):
        (folder / "README.md").write_text("xView2 test split\n")
    d = json.loads(run_cli("evaluate", pred, targ, "--json").stdout)
    assert d["mode"] == "xview2"
    assert d["score"] == pytest.approx(_official(images)["score"], abs=1e-12)


@pytest.mark.parametrize("rename, fix", [
    (lambda p: p.with_name(p.name.replace("test_", "Test_")), "rename it"),
    (lambda p: p.with_suffix(".PNG"), "rename it"),
])
def test_a_prediction_named_in_other_case_is_named_with_the_rename(tmp_path, run_cli, rename,
                                                                   fix):
    pred, targ, _ = _challenge_folders(tmp_path)
    path = pred / "test_damage_00001_prediction.png"
    path.rename(rename(path))
    assert_one_line_error(run_cli("evaluate", pred, targ), "test_damage_00001_prediction.png",
                          rename(path).name, fix)


def test_a_jpeg_prediction_is_told_to_be_written_as_png(tmp_path, run_cli):
    pred, targ, _ = _challenge_folders(tmp_path)
    path = pred / "test_localization_00000_prediction.png"
    Image.open(path).save(path.with_suffix(".jpg"))
    path.unlink()
    assert_one_line_error(run_cli("evaluate", pred, targ),
                          "test_localization_00000_prediction.jpg", "JPEG", "PNG")


def test_predictions_of_no_target_are_named_as_left_out(tmp_path, run_cli):
    """Predictions of images the targets lack (another split's) are not scored, as the
    challenge's scorer leaves them; one warning names them, as folders' unpaired files."""
    pred, targ, images = _challenge_folders(tmp_path)
    for kind in ("localization", "damage"):
        Image.fromarray(np.ones((64, 64), np.uint8)).save(
            pred / f"test_{kind}_00007_prediction.png")
    result = run_cli("evaluate", pred, targ, "--json")
    assert result.exit_code == 0, result.output
    said = result.stderr.replace("\n", " ")
    assert "left out" in said and "2 in" in said and "test_damage_00007_prediction.png" in said
    assert json.loads(result.stdout)["score"] == pytest.approx(_official(images)["score"],
                                                               abs=1e-12)
