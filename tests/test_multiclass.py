"""Multi-class rasters: vectorize with names, per-class cleaning, --classes; pixel scores."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import rasterio

from geotile.class_values import parse_per_class
from geotile.errors import InputError
from geotile.evaluate import evaluate_rasters
from geotile.palettes import POTSDAM
from geotile.vectorize import VectorizeOptions, vectorize_polygons
from tests.conftest import assert_one_line_error, union_of, write_raster

NAMES = ["background", *POTSDAM]  # impervious_surfaces 1 .. clutter 6


def _class_raster(path, ids, nodata=None):
    write_raster(path, ids, nodata=nodata)
    with rasterio.open(path, "r+") as dst:
        dst.update_tags(GEOTILE_OUTPUT="mask", GEOTILE_CLASS_NAMES=json.dumps(NAMES))
    return path


def _scene() -> np.ndarray:
    """0.5 m pixels: one square per class; car 2x2 px (1 m2) and 4x4 px (4 m2)."""
    ids = np.zeros((60, 60), np.uint8)
    ids[2:12, 2:12] = 1      # 25 m2
    ids[2:22, 20:40] = 2     # building, 100 m2
    ids[30:36, 2:8] = 3      # 9 m2
    ids[30:40, 20:30] = 4    # tree, 25 m2
    ids[45:47, 45:47] = 5    # car, 1 m2
    ids[50:54, 50:54] = 5    # car, 4 m2
    ids[45:55, 2:12] = 6     # 25 m2
    return ids


def test_every_class_with_its_name(tmp_path):
    raster = _class_raster(tmp_path / "classes.tif", _scene())
    summary = vectorize_polygons(raster, tmp_path / "out.gpkg")
    frame = gpd.read_file(tmp_path / "out.gpkg")
    assert summary["per_class"] == {"impervious_surfaces": 1, "building": 1, "low_vegetation": 1,
                                    "tree": 1, "car": 2, "clutter": 1}
    assert dict(zip(frame["class"], frame["class_id"], strict=True))["tree"] == 4
    assert sorted(frame.loc[frame["class"] == "car", "area_m2"]) == [1.0, 4.0]


def test_per_class_min_area_simplify_and_classes_cli(tmp_path, run_cli):
    raster = _class_raster(tmp_path / "classes.tif", _scene())
    result = run_cli("vectorize", raster, "-o", tmp_path / "a.gpkg", "--min-area",
                     "car=2,building=200", "--json")
    assert result.exit_code == 0, result.output
    frame = gpd.read_file(tmp_path / "a.gpkg")
    assert "building" not in set(frame["class"])
    assert sorted(frame.loc[frame["class"] == "car", "area_m2"]) == [4.0]
    assert (frame["class"] == "tree").sum() == 1

    # a plain number first is the default for the other classes; ids work as keys
    result = run_cli("vectorize", raster, "-o", tmp_path / "b.gpkg", "--min-area", "30,5=0")
    assert result.exit_code == 0, result.output
    frame = gpd.read_file(tmp_path / "b.gpkg")
    assert sorted(frame["class"]) == ["building", "car", "car"]

    result = run_cli("vectorize", raster, "-o", tmp_path / "c.gpkg", "--classes", "building,tree")
    assert result.exit_code == 0, result.output
    frame = gpd.read_file(tmp_path / "c.gpkg")
    assert sorted(frame["class"]) == ["building", "tree"]
    assert json.loads(run_cli("vectorize", raster, "-o", tmp_path / "d.geojson", "--classes",
                              "car", "--json").stdout)["per_class"] == {"car": 2}


def test_a_per_class_key_naming_a_class_is_that_class_not_also_an_id(tmp_path, run_cli):
    """make-masks --class-map {"3": 1, "1": 2, "2": 3} names ids 1..3 '3', '1', '2' (the
    field's codes). --min-area 2=30 dropped both the class named '2' (id 3) and id 2 (named
    '1'), and --min-area 1=30,3=30 all three classes, where --classes 2 keeps the class
    named '2' alone. Now a key that names a class is that class only, as in --classes."""
    ids = np.zeros((60, 60), np.uint8)
    ids[2:12, 2:12] = 1      # '3', 25 m2
    ids[2:12, 20:30] = 2     # '1', 25 m2
    ids[30:40, 2:12] = 3     # '2', 25 m2
    raster = write_raster(tmp_path / "codes.tif", ids)
    _tagged(raster, ["background", "3", "1", "2"])
    for option, kept in (("--min-area", ["1", "3"]), ("--simplify", ["1", "2", "3"])):
        result = run_cli("vectorize", raster, "-o", tmp_path / "a.gpkg", option, "2=30",
                         "--overwrite")
        assert result.exit_code == 0, result.output
        frame = gpd.read_file(tmp_path / "a.gpkg")
        assert sorted(frame["class"]) == kept
        assert dict(zip(frame["class"], frame["class_id"], strict=True)) == {
            n: i for i, n in enumerate(["background", "3", "1", "2"]) if n in kept}
    result = run_cli("vectorize", raster, "-o", tmp_path / "b.gpkg", "--min-area", "1=30,3=30")
    assert result.exit_code == 0, result.output
    assert list(gpd.read_file(tmp_path / "b.gpkg")["class"]) == ["2"]
    result = run_cli("vectorize", raster, "-o", tmp_path / "c.gpkg", "--classes", "2")
    assert result.exit_code == 0, result.output
    assert list(gpd.read_file(tmp_path / "c.gpkg")["class_id"]) == [3]


def test_per_class_simplify(tmp_path):
    ids = np.zeros((80, 80), np.uint8)
    yy, xx = np.mgrid[0:80, 0:80]
    ids[(yy - 20) ** 2 + (xx - 20) ** 2 < 15 ** 2] = 2  # building disc
    ids[(yy - 60) ** 2 + (xx - 60) ** 2 < 15 ** 2] = 4  # tree disc
    raster = _class_raster(tmp_path / "discs.tif", ids)
    plain = gpd.read_file(vectorize_polygons(raster, tmp_path / "p.gpkg")["output"])
    options = VectorizeOptions(simplify=parse_per_class("tree=2"))
    simple = gpd.read_file(vectorize_polygons(raster, tmp_path / "s.gpkg", options=options)[
        "output"])

    def vertices(frame, name):
        geometry = frame.loc[frame["class"] == name].geometry.iloc[0]
        return len(geometry.exterior.coords)

    assert vertices(simple, "building") == vertices(plain, "building")
    assert vertices(simple, "tree") < vertices(plain, "tree") // 2


def test_unknown_class_names_are_one_line_errors(tmp_path, run_cli):
    raster = _class_raster(tmp_path / "classes.tif", _scene())
    result = run_cli("vectorize", raster, "-o", tmp_path / "a.gpkg", "--classes", "house")
    assert result.exit_code == 1
    assert "--classes: no class 'house'" in result.stderr and "building" in result.stderr
    result = run_cli("vectorize", raster, "-o", tmp_path / "a.gpkg", "--min-area", "cars=2")
    assert result.exit_code == 1 and "no class 'cars'" in result.stderr
    result = run_cli("vectorize", raster, "-o", tmp_path / "a.gpkg", "--min-area", "car=-1")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert not (tmp_path / "a.gpkg").exists()


def test_a_per_class_value_for_a_class_classes_leaves_out_is_a_usage_error(tmp_path, run_cli):
    """--classes building,tree --min-area car=2,building=10 (once vectorize --help's own
    example) on a raster with cars: car=2 did nothing, silently; options that do nothing
    are usage errors (exit 2), before any output."""
    raster = _class_raster(tmp_path / "classes.tif", _scene())
    for option in ("--min-area", "--simplify"):
        result = run_cli("vectorize", raster, "-o", tmp_path / "a.gpkg", "--classes",
                         "building,tree", option, "car=2,building=1")
        assert result.exit_code == 2, result.output
        assert f"{option} car=2" in result.stderr and "--classes" in result.stderr
        assert not (tmp_path / "a.gpkg").exists()
    result = run_cli("vectorize", raster, "-o", tmp_path / "a.gpkg", "--classes",
                     "building,tree", "--min-area", "tree=2,*=1")
    assert result.exit_code == 0, result.output


def test_a_class_id_key_with_a_leading_zero_is_that_class(tmp_path, run_cli):
    """--min-area 05=2 passed the check of its key (digits) and then matched no class id
    ("05" is not "5"): the 1 m2 car was kept, while --classes 05 picks class 5."""
    raster = _class_raster(tmp_path / "classes.tif", _scene())
    for key in ("5", "05"):
        result = run_cli("vectorize", raster, "-o", tmp_path / f"{key}.gpkg", "--min-area",
                         f"{key}=2", "--simplify", f"{key}=0")
        assert result.exit_code == 0, result.output
        frame = gpd.read_file(tmp_path / f"{key}.gpkg")
        assert sorted(frame.loc[frame["class"] == "car", "area_m2"]) == [4.0]


@pytest.mark.parametrize("text, code", [("Car=2,car=0", 2), ("car=2,05=0", 1),
                                        ("car=2,5=0", 1)])
def test_a_class_given_twice_is_refused(tmp_path, run_cli, text, code):
    """--min-area Car=2,car=0 (or car=2,5=0, car being class 5) gave the car two values and
    kept one of them without a word (the 1 m2 car kept or dropped by the spelling)."""
    raster = _class_raster(tmp_path / "classes.tif", _scene())
    result = run_cli("vectorize", raster, "-o", tmp_path / "a.gpkg", "--min-area", text)
    assert_one_line_error(result, code=code)
    assert "once" in result.stderr and not (tmp_path / "a.gpkg").exists()
    if code == 1:
        assert "classes.tif" in result.stderr and "car" in result.stderr


@pytest.mark.parametrize("text, parsed", [
    ("10", 10.0), ("car=2,building=10", {"car": 2.0, "building": 10.0}),
    ("5, car=2", {"*": 5.0, "car": 2.0}), (0.5, 0.5),
])
def test_parse_per_class(text, parsed):
    assert parse_per_class(text) == parsed


@pytest.mark.parametrize("text", ["car=", "car=x", "=", "car=1,car=2", "-1", ","])
def test_parse_per_class_rejects(text):
    with pytest.raises(InputError):
        parse_per_class(text)


# ----------------------------------------------------------------------------- pixel scores


def _numpy_confusion(truth, prediction, keep, n):
    matrix = np.zeros((n, n), np.int64)
    np.add.at(matrix, (truth[keep], prediction[keep]), 1)
    return matrix


@pytest.mark.parametrize("declared", [True, False])
def test_per_class_iou_equals_numpy_confusion_with_ignore_excluded(tmp_path, run_cli, declared):
    rng = np.random.default_rng(11)
    truth = rng.integers(0, 7, (90, 70)).astype(np.uint8)
    prediction = np.where(rng.random(truth.shape) < 0.7, truth,
                          rng.integers(0, 7, truth.shape)).astype(np.uint8)
    truth[rng.random(truth.shape) < 0.1] = 255  # unknown label / image nodata
    truth_path = _class_raster(tmp_path / "truth.tif", truth, nodata=255 if declared else None)
    pred_path = _class_raster(tmp_path / "pred.tif", prediction)
    keep = truth != 255
    expected = _numpy_confusion(truth, prediction, keep, 7)

    scores = evaluate_rasters(pred_path, truth_path)
    np.testing.assert_array_equal(scores.confusion, expected)
    result = run_cli("evaluate", pred_path, truth_path, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["confusion_matrix"] == expected.tolist()
    assert report["pixels"] == int(keep.sum())
    for row in report["classes"]:
        k = row["class_id"]
        tp, fp, fn = expected[k, k], expected[:, k].sum() - expected[k, k], \
            expected[k].sum() - expected[k, k]
        assert row["class"] == NAMES[k]
        assert row["iou"] == pytest.approx(tp / (tp + fp + fn))
        assert row["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
        assert row["support"] == expected[k].sum()
    table = run_cli("evaluate", pred_path, truth_path).stdout
    assert "low_vegetation" in table and "Confusion matrix" in table


def test_prediction_classes_are_matched_to_the_truth_by_name(tmp_path):
    """A model whose palette orders road before building: its perfect prediction scored
    building and road IoU 0 (ids compared raw, labelled with the truth's names). Both
    rasters name their ids: a name both hold at different ids matches the classes by
    name; names that merely differ (no name shared at another id) keep the ids."""
    truth = np.zeros((20, 20), np.uint8)
    truth[0:10], truth[10:15] = 1, 2
    t = write_raster(tmp_path / "t.tif", truth)
    p = write_raster(tmp_path / "p.tif", np.choose(truth, [0, 2, 1]).astype(np.uint8))
    for path, names in ((t, ["background", "building", "road"]),
                        (p, ["Background", "road", "building", "car"])):
        with rasterio.open(path, "r+") as dst:
            dst.update_tags(GEOTILE_OUTPUT="class", GEOTILE_CLASS_NAMES=json.dumps(names))
    scores = evaluate_rasters(p, t)
    assert scores.confusion.tolist() == [[100, 0, 0, 0], [0, 200, 0, 0], [0, 0, 100, 0],
                                         [0, 0, 0, 0]]
    assert [(c["class"], c["iou"]) for c in scores.classes()[:3]] == [
        ("background", 1.0), ("building", 1.0), ("road", 1.0)]
    assert np.isnan(scores.classes()[3]["iou"])  # car: on neither side, no score
    with rasterio.open(p, "r+") as dst:
        dst.update_tags(GEOTILE_CLASS_NAMES=json.dumps(["class_0", "class_1", "class_2"]))
    scores = evaluate_rasters(p, t)  # no name in common: ids as they are
    assert scores.confusion.tolist() == [[100, 0, 0], [0, 0, 200], [0, 100, 0]]
    assert [c["class"] for c in scores.classes()] == ["background", "building", "road"]


def test_prediction_classes_past_the_truths_keep_their_names(tmp_path, run_cli):
    """A multi-class prediction (background, building, road, water) scored against a
    footprint mask (make-masks without --class-field: background, building): the 960 road
    pixels predicted on buildings were reported as class '2', the prediction's name lost.
    The prediction's names past the truth's name those ids."""
    truth = np.zeros((20, 20), np.uint8)
    truth[:10] = 1
    pred = truth.copy()
    pred[5:10], pred[15:] = 2, 3
    t = _tagged(write_raster(tmp_path / "t.tif", truth), ["background", "building"])
    p = _tagged(write_raster(tmp_path / "p.tif", pred), ["background", "building", "road",
                                                          "water"])
    result = run_cli("evaluate", p, t, "--json")
    assert result.exit_code == 0, result.output
    classes = json.loads(result.stdout)["classes"]
    assert [(c["class"], c["predicted"]) for c in classes] == [
        ("background", 100), ("building", 100), ("road", 100), ("water", 100)]
    assert "road" in run_cli("evaluate", p, t).stdout


@pytest.mark.parametrize("dtype", ["float32", "uint8"])
def test_a_probability_truth_is_read_as_its_classes(tmp_path, run_cli, dtype):
    """A teacher model's probabilities (predict's 3 softmax bands: background, building,
    road) given as evaluate's TRUTH were read from band 1 alone, thresholded: background
    became 'building', building and road 'background' (accuracy 0.00 for a raster against
    itself, exit 0). A probability truth is argmaxed as a prediction is."""
    from .onnx_models import pointwise_model

    model = pointwise_model(tmp_path / "m.onnx", classes=3, activation="softmax", seed=3,
                            metadata={"class_names": ["background", "building", "road"]})
    rng = np.random.default_rng(1)
    image = write_raster(tmp_path / "scene.tif",
                         rng.integers(0, 255, (3, 24, 24), dtype=np.uint8))
    for out, extra in (("p.tif", ["--dtype", dtype]), ("c.tif", ["--output-type", "class"])):
        result = run_cli("predict", model, image, "-o", tmp_path / out, *extra)
        assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "c.tif") as src:
        held = np.unique(src.read(1))
    assert len(held) >= 2  # more than one class to tell apart
    for pred, truth in (("c.tif", "p.tif"), ("p.tif", "p.tif"), ("p.tif", "c.tif")):
        result = run_cli("evaluate", tmp_path / pred, tmp_path / truth, "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["accuracy"] == 1.0, (pred, truth)


def test_class_names_spelt_otherwise_pair_and_names_matching_none_are_warned_of(
        tmp_path, run_cli):
    """ISPRS Potsdam: a truth named as make-masks --palette potsdam names it, a 6-class
    model named after ISPRS's legend ("Buildings", ids 0..5). 5 names matched, but
    "Buildings" became a class of its own: building IoU 0, mean IoU 0.51 for a model right
    on 80% of the pixels, exit 0 and nothing said. Names differing by case, separators or
    a plural pair; a name matching none while a truth name is left is warned of."""
    rng = np.random.default_rng(8)
    truth = rng.integers(1, 7, (40, 50)).astype(np.uint8)
    pred = truth.copy()
    pred[rng.random(truth.shape) < 0.2] = 1  # 20%: impervious
    legend = ["Impervious surfaces", "Buildings", "Low-vegetation", "Trees", "Car", "Clutter"]
    t = _tagged(write_raster(tmp_path / "t.tif", truth), NAMES)
    p = _tagged(write_raster(tmp_path / "p.tif", pred - 1), legend)
    result = run_cli("evaluate", p, t, "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    expected = {n: ((truth == k) & (pred == k)).sum() / ((truth == k) | (pred == k)).sum()
                for k, n in enumerate(NAMES) if k}
    assert {c["class"]: c["iou"] for c in scores["classes"] if c["support"]} == \
        pytest.approx(expected)
    assert len(scores["classes"]) == 7 and scores["mean_iou"] == pytest.approx(
        np.mean(list(expected.values())))
    assert "match no class name" not in result.stderr
    _tagged(p, [*legend[:1], "Structures", *legend[2:]])  # no spelling of building
    result = run_cli("evaluate", p, t, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["classes"][2]["iou"] == 0.0
    assert "'Structures' (id 1)" in result.stderr and "'building'" in result.stderr
    assert "GEOTILE_CLASS_NAMES" in result.stderr
    for folder, path in (("pf", p), ("tf", t)):  # a folder: said once, not per image
        (tmp_path / folder).mkdir()
        for name in ("a.tif", "b.tif"):
            (tmp_path / folder / name).write_bytes(path.read_bytes())
    result = run_cli("evaluate", tmp_path / "pf", tmp_path / "tf")
    assert result.exit_code == 0, result.output
    assert result.stderr.count("'Structures' (id 1)") == 1 and "and 1 other image:" in result.stderr


def test_match_class_names_pairs_only_one_loose_spelling():
    from geotile.class_keys import match_class_names

    assert match_class_names(["Buses", "ROADS", "body-parts", "grass"],
                             ["road", "bus", "body_part", "grass", "glass"]) == [1, 0, 2, 3]
    assert match_class_names(["car"], ["cars", "car_s"]) == [None]  # two candidates
    assert match_class_names(["cars", "car_s"], ["car"]) == [None, None]
    assert match_class_names(["house"], ["houses", "House"]) == [1]  # the exact one first


def test_names_in_other_scripts_pair_only_with_themselves(tmp_path):
    """Names in Japanese ('建物' building, '道路' road, '水域' water): their loose forms
    (ASCII letters and digits only) were all '', so the prediction's road, a class the
    truth lacks, was paired with the truth's water, a class the prediction lacks: road
    pixels on water scored as correct (water IoU 1.0), exit 0; and masks naming class 1
    '道路' and '水域' tiled together. Letters of any script are kept."""
    from geotile.class_keys import match_class_names, same_class_name

    assert match_class_names(["建物", "道路"], ["建物", "水域"]) == [0, None]
    assert match_class_names(["здание"], ["дорога"]) == [None]
    assert match_class_names(["Gebäude"], ["gebäude"]) == [0]
    assert match_class_names(["Gebäude"], ["Gebäudes"]) == [0]  # a plural still pairs
    assert not same_class_name("道路", "水域") and not same_class_name("?", "-")
    truth = np.zeros((20, 20), np.uint8)
    truth[:10], truth[10:15] = 1, 2
    pred = np.choose(truth, [0, 2, 1]).astype(np.uint8)  # buildings right, water as road
    t = write_raster(tmp_path / "t.tif", truth)
    p = write_raster(tmp_path / "p.tif", pred)
    for path, names in ((t, ["background", "建物", "水域"]), (p, ["background", "道路", "建物"])):
        with rasterio.open(path, "r+") as dst:
            dst.update_tags(GEOTILE_OUTPUT="class", GEOTILE_CLASS_NAMES=json.dumps(names))
    scores = evaluate_rasters(p, t)
    assert scores.confusion.tolist() == [[100, 0, 0, 0], [0, 200, 0, 0], [0, 0, 0, 100],
                                         [0, 0, 0, 0]]
    assert [(c["class"], c["iou"]) for c in scores.classes()[:3]] == [
        ("background", 1.0), ("建物", 1.0), ("水域", 0.0)]
    assert scores.classes()[3]["class"] == "道路"


def test_names_in_other_unicode_forms_are_one_class():
    """The same name typed decomposed (macOS, some exporters: 'a' + U+0308), in fullwidth
    letters (Japanese input methods) or with German sharp s upper-cased (STRASSE) is one
    class: before, each was a class of its own and scored 0 against the other."""
    import unicodedata

    from geotile.class_keys import class_key, match_class_names, same_class_name

    composed, decomposed = (unicodedata.normalize(form, "Gebäude") for form in ("NFC", "NFD"))
    assert composed != decomposed and class_key(composed) == class_key(decomposed)
    assert match_class_names([decomposed, "Straße"], [composed, "STRASSE"]) == [0, 1]
    assert same_class_name("ｂｕｉｌｄｉｎｇ", "building")
    assert not same_class_name("Gebäude", "Gebaude")  # another letter, not another form


def test_masks_from_label_raster_evaluate_against_themselves(tmp_path):
    """make-masks' ignore value (unknown colours) is left out of the scores."""
    from geotile.masks import make_masks

    rng = np.random.default_rng(12)
    ids = rng.integers(1, 7, (40, 40)).astype(np.uint8)
    colours = np.array(list(POTSDAM.values()), np.uint8)
    rgb = np.moveaxis(colours[ids - 1], -1, 0).copy()
    rgb[:, :5] = 0  # black: not in the palette
    labels = write_raster(tmp_path / "labels.tif", rgb)
    image = write_raster(tmp_path / "image.tif", np.ones((3, 40, 40), np.uint8))
    with pytest.warns(UserWarning, match="200 pixels"):
        make_masks(labels, image, tmp_path / "mask.tif", palette="potsdam")
    prediction = _class_raster(tmp_path / "pred.tif", ids)
    scores = evaluate_rasters(prediction, tmp_path / "mask.tif")
    assert scores.pixels == 35 * 40 and scores.accuracy == 1.0
    assert [c["class"] for c in scores.classes()][1:] == list(POTSDAM)


def test_class_names_match_without_case_or_spaces(tmp_path, run_cli):
    raster = _class_raster(tmp_path / "classes.tif", _scene())
    result = run_cli("vectorize", raster, "-o", tmp_path / "a.gpkg", "--classes",
                     "Low Vegetation,impervious-surfaces", "--min-area", "low vegetation=10")
    assert result.exit_code == 0, result.output
    frame = gpd.read_file(tmp_path / "a.gpkg")
    assert sorted(frame["class"]) == ["impervious_surfaces"]


def _one_hot_u8(path, **profile):
    """A 4-class one-hot softmax as uint8 0/255 written with GDAL's defaults (a 4-band uint8
    GeoTIFF is RGB + alpha): buildings x2, a road, a tree; band 4 (tree) is 0 elsewhere."""
    ids = np.zeros((30, 40), np.uint8)
    ids[2:10, 2:10] = 1
    ids[2:10, 10:20] = 2
    ids[15:25, 5:15] = 3
    ids[20:28, 25:35] = 1
    bands = np.stack([(ids == k).astype(np.uint8) * 255 for k in range(4)])
    return write_raster(path, bands, **profile)


@pytest.mark.parametrize("tags", [
    {"GEOTILE_CLASS_NAMES": '["background", "building", "road", "tree"]'},
    {"GEOTILE_OUTPUT": "probability"},
    {},  # named by its band descriptions alone
])
def test_4_band_uint8_probabilities_flagged_rgba_keep_every_class(tmp_path, tags):
    # GDAL flags band 4 alpha: it was read as a mask, and every pixel outside the tree was
    # nodata (1 polygon of 4, exit 0); untagged, it was refused as colour-coded labels
    path = _one_hot_u8(tmp_path / "p.tif")
    with rasterio.open(path, "r+") as dst:
        dst.update_tags(**tags)
        if not tags:
            dst.descriptions = ("background", "building", "road", "tree")
    with rasterio.open(path) as src:
        assert src.colorinterp[3].name == "alpha"
    vectorize_polygons([path], tmp_path / "p.gpkg")
    found = gpd.read_file(tmp_path / "p.gpkg")
    ids = sorted(found["class_id"])
    assert ids == [1, 1, 2, 3]
    assert sorted(found["area_m2"]) == pytest.approx([16, 20, 20, 25])
    if tags.get("GEOTILE_CLASS_NAMES") or not tags:
        assert sorted(found["class"]) == ["building", "building", "road", "tree"]
    if not tags:
        return
    with rasterio.open(path) as src:  # scored against its own classes: every pixel counts
        truth = _class_raster(tmp_path / "t.tif", src.read().argmax(axis=0).astype(np.uint8))
    with rasterio.open(truth, "r+") as dst:  # the same names (classes are matched by name)
        dst.update_tags(GEOTILE_CLASS_NAMES='["background", "building", "road", "tree"]')
    scores = evaluate_rasters(path, truth)
    assert scores.confusion.sum() == 30 * 40
    assert np.trace(scores.confusion) == 30 * 40


@pytest.mark.parametrize("profile", ["GeoTIFF", "BASELINE"])
def test_4_band_uint8_probabilities_copied_with_a_tiff_profile_keep_every_class(tmp_path,
                                                                               profile):
    # predict --dtype uint8 of 4 classes copied by gdal_translate -co PROFILE=GeoTIFF (or
    # BASELINE): GDAL drops the band scales and names and reads the bands gray, green,
    # blue, alpha; band 4 (tree) was read as a mask, every pixel outside the trees nodata:
    # 0 polygons of 4, exit 0, and evaluate scored no building, where the original tiled
    import rasterio.shutil

    original = _one_hot_u8(tmp_path / "p.tif", photometric="MINISBLACK")
    with rasterio.open(original, "r+") as dst:
        dst.scales = (1 / 255,) * 4
        dst.descriptions = ("background", "building", "road", "tree")
        dst.update_tags(GEOTILE_OUTPUT="probability", GEOTILE_BANDS="exclusive",
                        GEOTILE_SCALE="255",
                        GEOTILE_CLASS_NAMES='["background", "building", "road", "tree"]')
    path = tmp_path / "copy.tif"
    rasterio.shutil.copy(original, path, driver="GTiff", PROFILE=profile)
    with rasterio.open(path) as src:
        assert src.colorinterp[3].name == "alpha" and src.colorinterp[0].name == "gray"
        assert src.scales == (1.0,) * 4
    for raster in (original, path):
        vectorize_polygons([raster], tmp_path / f"{raster.stem}.gpkg")
        found = gpd.read_file(tmp_path / f"{raster.stem}.gpkg")
        assert sorted(found["class"]) == ["building", "building", "road", "tree"]
        assert sorted(found["area_m2"]) == pytest.approx([16, 20, 20, 25])
    with rasterio.open(original) as src:
        truth = _class_raster(tmp_path / "t.tif", src.read().argmax(axis=0).astype(np.uint8))
    with rasterio.open(truth, "r+") as dst:
        dst.update_tags(GEOTILE_CLASS_NAMES='["background", "building", "road", "tree"]')
    scores = evaluate_rasters(path, truth)
    assert scores.confusion.sum() == 30 * 40
    assert np.trace(scores.confusion) == 30 * 40


def test_untagged_4_band_uint8_probabilities_are_refused_saying_how_to_tag(tmp_path, run_cli):
    from tests.conftest import assert_one_line_error

    path = _one_hot_u8(tmp_path / "p.tif")
    result = run_cli("vectorize", path, "-o", tmp_path / "p.gpkg")
    assert_one_line_error(result, "p.tif", "GEOTILE_OUTPUT=probability")
    assert not (tmp_path / "p.gpkg").exists()


@pytest.mark.parametrize("named_by", ["descriptions", "tag"])
def test_probability_bands_without_a_background_band_keep_their_first_class(tmp_path, named_by):
    # bands "building", "road", "tree" (a model without a background class): band 1 was
    # taken for background, and every building was lost without a word
    ids = np.zeros((30, 40), np.uint8)
    ids[2:10, 2:10] = 1
    ids[20:28, 25:35] = 1
    ids[2:10, 12:20] = 2
    ids[15:25, 5:15] = 3
    p = np.full((3, 30, 40), 0.1, np.float32)
    for k in (1, 2, 3):
        p[k - 1][ids == k] = 0.8
    names = ["building", "road", "tree"]
    path = write_raster(tmp_path / "p.tif", p)
    with rasterio.open(path, "r+") as dst:
        if named_by == "tag":
            dst.update_tags(GEOTILE_CLASS_NAMES=json.dumps(names))
        else:
            dst.descriptions = tuple(names)
    vectorize_polygons([path], tmp_path / "p.gpkg")
    found = gpd.read_file(tmp_path / "p.gpkg").sort_values(["class_id", "area_m2"])
    assert found["class"].tolist() == ["building", "building", "road", "tree"]
    assert found["class_id"].tolist() == [1, 1, 2, 3]
    assert found["area_m2"].tolist() == pytest.approx([16, 20, 16, 25])  # 0.1 nowhere a class
    assert found["score"].tolist() == pytest.approx([0.8] * 4)


def test_rasters_whose_class_names_disagree_are_refused(tmp_path, run_cli):
    # b's id 1 is "tree", but it was written "building" (a's names labelled every raster)
    from rasterio.transform import from_origin

    from tests.conftest import UTM_ORIGIN, assert_one_line_error

    ids = np.zeros((20, 20), np.uint8)
    ids[2:8, 2:8], ids[10:16, 10:16] = 1, 2
    x0, y0 = UTM_ORIGIN
    paths = []
    for name, names, x in (("a.tif", ["background", "building", "road"], x0),
                           ("b.tif", ["background", "tree", "building"], x0 + 10)):
        paths.append(write_raster(tmp_path / name, ids, transform=from_origin(x, y0, 0.5, 0.5)))
        with rasterio.open(paths[-1], "r+") as dst:
            dst.update_tags(GEOTILE_CLASS_NAMES=json.dumps(names))
    for extra in ((), ("--lines",)):
        result = run_cli("vectorize", *paths, "-o", tmp_path / "ab.gpkg", *extra)
        assert_one_line_error(result, "b.tif", "a.tif", "tree")
        assert not (tmp_path / "ab.gpkg").exists()
    with rasterio.open(paths[1], "r+") as dst:  # the same names, in another case: one run
        dst.update_tags(GEOTILE_CLASS_NAMES=json.dumps(["Background", "Building", "Road"]))
    vectorize_polygons(paths, tmp_path / "ab.gpkg")
    found = gpd.read_file(tmp_path / "ab.gpkg")
    assert sorted(found["class"]) == ["building"] * 2 + ["road"] * 2


# --- predict --output-type class of independent sigmoid channels (multi-label) -------------
LABELS = ["building", "road", "water"]


def _channel_model(path, final: str, names):
    """Channel k of the output is 8 x band k - 4 (pixels / 255), then ``final`` ("Sigmoid",
    "Softmax" or "" for logits): every mix of high and low channels occurs."""
    from onnx import helper

    from .onnx_models import FLOAT, save_graph

    nodes = [helper.make_node("Conv", ["input", "W", "B"], ["z" if final else "output"],
                              kernel_shape=[1, 1])]
    if final:
        nodes.append(helper.make_node(final, ["z"], ["output"], **(
            {"axis": 1} if final == "Softmax" else {})))
    weights = (8 * np.eye(3, dtype=np.float32))[:, :, np.newaxis, np.newaxis]
    return save_graph(path, nodes, [("input", FLOAT, ["N", 3, "H", "W"])],
                      [("output", FLOAT, ["N", 3, "H", "W"])],
                      {"W": weights, "B": np.full(3, -4, np.float32)},
                      metadata={"class_names": names})


def _channel_probabilities(pixels, final: str) -> np.ndarray:
    z = 8 * pixels.astype(np.float64) / 255 - 4
    if final == "Softmax":
        e = np.exp(z - z.max(axis=0))
        return e / e.sum(axis=0)
    return 1 / (1 + np.exp(-z))


def _sigmoid_model(tmp_path, declared: str):
    """A 3-channel model whose channels are independent sigmoids, said by its graph (a final
    Sigmoid), by --activation sigmoid, or by its metadata."""
    from geotile.model import OnnxModel

    path = _channel_model(tmp_path / "m.onnx", "Sigmoid" if declared == "graph" else "",
                          LABELS)
    if declared == "metadata":
        import onnx

        model = onnx.load(str(path))
        entry = model.metadata_props.add()
        entry.key, entry.value = "activation", "sigmoid"
        onnx.save(model, str(path))
    return OnnxModel.from_path(path, activation="sigmoid" if declared == "option" else None)


def _image(tmp_path):
    pixels = np.random.default_rng(5).integers(0, 256, (3, 60, 50), dtype=np.uint8)
    return pixels, write_raster(tmp_path / "img.tif", pixels)


@pytest.mark.parametrize("declared", ["graph", "option", "metadata"])
@pytest.mark.parametrize("threshold", [None, 0.7])
def test_class_output_of_sigmoid_channels_is_background_where_none_reaches_the_threshold(
        tmp_path, declared, threshold):
    # 3 independent sigmoids were argmaxed: a pixel with p = (0.01, 0.02, 0.03) became
    # "water", and no pixel was background
    from geotile.predict import PredictOptions, predict_raster

    model = _sigmoid_model(tmp_path, declared)
    pixels, image = _image(tmp_path)
    predict_raster(model, image, tmp_path / "c.tif",
                   options=PredictOptions(output_type="class", threshold=threshold))
    t = 0.5 if threshold is None else threshold
    p = _channel_probabilities(pixels, "Sigmoid")
    top, order = p.max(axis=0), np.sort(p, axis=0)
    expected = np.where(top >= t, p.argmax(axis=0) + 1, 0)
    clear = (np.abs(top - t) > 1e-4) & (order[-1] - order[-2] > 1e-4)
    assert np.bincount(expected[clear], minlength=4).min() > 100  # background and each class
    with rasterio.open(tmp_path / "c.tif") as c:
        ids = c.read(1)
        assert json.loads(c.tags()["GEOTILE_CLASS_NAMES"]) == ["background", *LABELS]
        assert float(c.tags()["GEOTILE_THRESHOLD"]) == t
    np.testing.assert_array_equal(ids[clear], expected[clear])


def _read_back_alike(tmp_path, classes: int) -> dict:
    """evaluate of p.tif (probabilities) against c.tif (its class output) is diagonal, and
    vectorize gives both the same area per class: those areas (by class name)."""
    confusion = evaluate_rasters(tmp_path / "p.tif", tmp_path / "c.tif").confusion
    assert confusion.shape == (classes, classes)
    assert np.count_nonzero(confusion - np.diag(np.diag(confusion))) == 0
    areas = {}
    for name in ("p", "c"):
        vectorize_polygons([tmp_path / f"{name}.tif"], tmp_path / f"{name}.gpkg")
        found = gpd.read_file(tmp_path / f"{name}.gpkg")
        areas[name] = found.groupby("class")["area_m2"].sum().round(6).to_dict()
    assert areas["c"] == areas["p"]
    return areas["c"]


def test_sigmoid_class_raster_reads_back_as_its_probabilities_do(tmp_path):
    # vectorize and evaluate read the probability raster of the same model (bands named
    # building, road, water: background is max p < threshold); the class raster agrees
    from geotile.predict import PredictOptions, predict_raster

    model = _sigmoid_model(tmp_path, "graph")
    _, image = _image(tmp_path)
    predict_raster(model, image, tmp_path / "p.tif", options=PredictOptions(threshold=0.6))
    predict_raster(model, image, tmp_path / "c.tif",
                   options=PredictOptions(output_type="class", threshold=0.6))
    assert set(_read_back_alike(tmp_path, 4)) == set(LABELS)


@pytest.mark.parametrize("threshold", [None, 0.7])
def test_sigmoid_channels_with_a_background_channel_make_no_background_class(tmp_path,
                                                                            threshold):
    """A multi-label model trained with BCE on one-hot masks has a sigmoid channel of its
    own for background (class_names ["background", "building", "road"]): its class output
    named ids 1..3 background, building, road, and vectorize wrote "background" polygons
    over everything else. Band 1 named background is background: argmax of the channels
    reaching the threshold, 0 where band 1 wins or none reaches it, in predict's class
    output and in vectorize and evaluate of its probabilities."""
    from geotile.model import OnnxModel
    from geotile.predict import PredictOptions, predict_raster

    names = ["background", "building", "road"]
    model = OnnxModel.from_path(_channel_model(tmp_path / "m.onnx", "Sigmoid", names))
    pixels, image = _image(tmp_path)
    options = {"threshold": threshold}
    predict_raster(model, image, tmp_path / "p.tif", options=PredictOptions(**options))
    predict_raster(model, image, tmp_path / "c.tif",
                   options=PredictOptions(output_type="class", **options))
    t = 0.5 if threshold is None else threshold
    p = _channel_probabilities(pixels, "Sigmoid")
    top, order = p.max(axis=0), np.sort(p, axis=0)
    expected = np.where(top >= t, p.argmax(axis=0), 0)
    clear = (np.abs(top - t) > 1e-4) & (order[-1] - order[-2] > 1e-4)
    assert ((p.argmax(axis=0) == 0) & (top >= t) & clear).sum() > 100  # band 1 wins there
    assert np.bincount(expected[clear], minlength=3).min() > 100
    with rasterio.open(tmp_path / "c.tif") as c:
        ids = c.read(1)
        assert json.loads(c.tags()["GEOTILE_CLASS_NAMES"]) == names
    np.testing.assert_array_equal(ids[clear], expected[clear])
    assert set(_read_back_alike(tmp_path, 3)) == {"building", "road"}


def test_softmax_class_output_stays_the_argmax_and_declares_no_threshold(tmp_path):
    from geotile.model import OnnxModel
    from geotile.predict import PredictOptions, predict_raster

    names = ["background", "building", "road"]
    model = OnnxModel.from_path(_channel_model(tmp_path / "m.onnx", "Softmax", names))
    pixels, image = _image(tmp_path)
    predict_raster(model, image, tmp_path / "c.tif", options=PredictOptions(output_type="class"))
    p = _channel_probabilities(pixels, "Softmax")
    order = np.sort(p, axis=0)
    clear = order[-1] - order[-2] > 1e-4
    with rasterio.open(tmp_path / "c.tif") as c:
        np.testing.assert_array_equal(c.read(1)[clear], p.argmax(axis=0)[clear])
        assert json.loads(c.tags()["GEOTILE_CLASS_NAMES"]) == names
        assert "GEOTILE_THRESHOLD" not in c.tags()  # no threshold was applied
    with pytest.raises(InputError, match="--threshold"):
        predict_raster(model, image, tmp_path / "t.tif",
                       options=PredictOptions(output_type="class", threshold=0.9))
    assert not (tmp_path / "t.tif").exists()



def _nearest_colour_model(path, colours: np.ndarray, names):
    """Logit k is 20 c_k . x - 10 |c_k|^2 (c_k colour k / 255, x pixels / 255): the argmax of
    a pixel of colour k is k, by a margin of 10 |c_j - c_k|^2."""
    from onnx import helper

    from .onnx_models import FLOAT, save_graph

    c = colours.astype(np.float32) / 255
    k = len(c)
    return save_graph(path, [helper.make_node("Conv", ["input", "W", "B"], ["z"],
                                              kernel_shape=[1, 1]),
                             helper.make_node("Softmax", ["z"], ["output"], axis=1)],
                      [("input", FLOAT, ["N", 3, "H", "W"])],
                      [("output", FLOAT, ["N", k, "H", "W"])],
                      {"W": (20 * c).reshape(k, 3, 1, 1), "B": -10 * (c ** 2).sum(axis=1)},
                      metadata={"class_names": names})


def test_class_output_of_150_classes_is_each_pixels_class_in_every_block(tmp_path):
    # class ids are encoded as each finished block arrives, band by band (blocks of 150
    # probabilities no longer wait for the writer); the ids are the argmax's, nodata 255
    from geotile.predict import PredictOptions, predict_raster

    levels = np.linspace(10, 250, 6).round(), np.linspace(10, 250, 5).round()
    colours = np.array([(r, g, b) for r in levels[0] for g in levels[1] for b in levels[1]],
                       np.uint8)
    names = [f"class {k:03d}" for k in range(150)]
    model = _nearest_colour_model(tmp_path / "m.onnx", colours, names)
    rng = np.random.default_rng(7)
    truth = np.repeat(np.repeat(rng.integers(0, 150, (30, 25)), 4, 0), 4, 1)  # 120 x 100
    truth[rng.random(truth.shape) < 0.05] = rng.integers(0, 150)  # single pixels
    pixels = colours[truth].transpose(2, 0, 1).copy()
    pixels[:, 50:60, 30:45] = 0  # nodata in every band
    image = write_raster(tmp_path / "img.tif", pixels, nodata=0)
    predict_raster(model, image, tmp_path / "c.tif", options=PredictOptions(
        output_type="class", tile_size=32, block_size=64))  # 2 strips, many blocks
    expected = truth.astype(np.uint8)
    expected[50:60, 30:45] = 255
    with rasterio.open(tmp_path / "c.tif") as c:
        np.testing.assert_array_equal(c.read(1), expected)
        assert json.loads(c.tags()["GEOTILE_CLASS_NAMES"]) == names
        assert len({c.colormap(1)[k] for k in range(150)}) == 150


def test_most_probable_is_numpys_argmax_ties_to_the_first():
    from geotile.prediction_output import most_probable

    values = np.random.default_rng(3).integers(0, 4, (150, 20, 30)).astype(np.float32)
    values[:, 0, 0] = 3  # a tie of every class
    ids, best = most_probable(values)
    assert ids.dtype == np.uint8 and ids[0, 0] == 0
    np.testing.assert_array_equal(ids, values.argmax(axis=0))
    np.testing.assert_array_equal(best, values.max(axis=0))


def test_class_output_of_footprint_boundary_contact_sigmoids_is_refused(tmp_path):
    # the bundled model's bands overlap (a building's edge is footprint and boundary): its
    # argmax named 196208 clear background pixels footprint, boundary or contact
    from geotile.errors import ModelError
    from geotile.model import OnnxModel
    from geotile.predict import PredictOptions, predict_raster

    model = OnnxModel.from_path(_channel_model(tmp_path / "m.onnx", "Sigmoid",
                                               ["footprint", "boundary", "contact"]))
    _, image = _image(tmp_path)
    with pytest.raises(ModelError, match=r"write probabilities .* --instances"):
        predict_raster(model, image, tmp_path / "c.tif",
                       options=PredictOptions(output_type="class"))
    assert not (tmp_path / "c.tif").exists()


@pytest.mark.parametrize("names", [LABELS, None])
def test_softmax_probabilities_without_a_background_read_back_as_their_argmax(tmp_path, names):
    # a softmax model of building, road, water (or unnamed: class_1..class_3): its class
    # output is the argmax, but its probability raster was read with "background where no
    # band reaches the threshold" (p = .45/.35/.2 became background): the two disagreed
    from geotile.model import OnnxModel
    from geotile.predict import PredictOptions, predict_raster

    model = OnnxModel.from_path(_channel_model(tmp_path / "m.onnx", "Softmax", names))
    _, image = _image(tmp_path)
    predict_raster(model, image, tmp_path / "p.tif")
    predict_raster(model, image, tmp_path / "c.tif", options=PredictOptions(output_type="class"))
    with rasterio.open(tmp_path / "p.tif") as p:
        assert p.tags()["GEOTILE_BANDS"] == "exclusive"
        below = (p.read().max(axis=0) < 0.5).sum()
    assert below > 100  # pixels whose most probable class is below 0.5
    _read_back_alike(tmp_path, 3)
def _garage_house_road(path, names):
    """Staircase garages (id 1), houses (2) and a road (3), 0.5 m pixels, named ``names``."""
    ids = np.zeros((80, 80), np.uint8)
    for top in (4, 44):
        ids[top:top + 20, 4:30][np.tri(20, 26, 6, dtype=bool)] = 1
        ids[top:top + 20, 40:70][np.tri(20, 30, 8, dtype=bool)] = 2
    ids[30:38, :] = 3
    write_raster(path, ids)
    with rasterio.open(path, "r+") as dst:
        dst.update_tags(GEOTILE_OUTPUT="mask", GEOTILE_CLASS_NAMES=json.dumps(names))
    return path


def test_regularize_squares_a_class_by_its_name_whichever_classes_are_kept(tmp_path):
    """h12 F3: garages were squared with --classes garage (139 vertices) but left as pixel
    staircases with --classes garage,house (1311), 90 m2 apart; classes named '1','2','3'
    were never squared, without a word. A class is squared by its name alone (garage and
    house are buildings, road is not), and --regularize that squares nothing says so."""
    path = _garage_house_road(tmp_path / "m.tif", ["background", "garage", "house", "road"])

    def garages(classes):
        out = tmp_path / f"{'_'.join(classes or ['all'])}.gpkg"
        vectorize_polygons([path], out, options=VectorizeOptions(
            crs="source", regularize=True, classes=classes))
        found = gpd.read_file(out)
        return found, union_of(found[found["class"] == "garage"].geometry)

    alone, one = garages(("garage",))
    every, both = garages(None)
    assert set(alone["class"]) == {"garage"} and len(every) == 5
    assert one.symmetric_difference(both).area < 1e-6
    assert all(len(g.exterior.coords) <= 9 for g in every[every["class"] != "road"].geometry)
    plain = tmp_path / "plain.gpkg"
    vectorize_polygons([path], plain, options=VectorizeOptions(crs="source"))
    road = gpd.read_file(plain).query("`class` == 'road'").geometry.iloc[0]
    assert every.query("`class` == 'road'").geometry.iloc[0].equals(road)

    numbered = _garage_house_road(tmp_path / "n.tif", ["0", "1", "2", "3"])
    with pytest.warns(UserWarning, match=r"--regularize squares .*none of 1, 2, 3"):
        vectorize_polygons([numbered], tmp_path / "n.gpkg",
                           options=VectorizeOptions(crs="source", regularize=True))


def test_regularize_help_says_which_classes_it_squares(run_cli):
    result = run_cli("vectorize", "--help")
    assert "garage" in " ".join(result.stdout.split())


def test_regularize_squares_predicts_unnamed_single_class_output(tmp_path):
    # predict names an unnamed one-class model's band class_1: `vectorize p.tif --regularize`
    # (README's flow) warned "squares no class" and wrote pixel staircases
    p = np.zeros((60, 60), np.float32)
    p[10:40, 12:44] = 0.9
    p[9, 20:30] = 0.9  # a bump: the staircase --regularize squares away
    path = write_raster(tmp_path / "p.tif", p[None])
    with rasterio.open(path, "r+") as dst:
        dst.update_tags(GEOTILE_OUTPUT="probability",
                        GEOTILE_CLASS_NAMES=json.dumps(["background", "class_1"]))
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vectorize_polygons([path], tmp_path / "r.gpkg",
                           options=VectorizeOptions(crs="source", regularize=True))
    assert not [w for w in caught if "--regularize" in str(w.message)]
    vectorize_polygons([path], tmp_path / "plain.gpkg", options=VectorizeOptions(crs="source"))
    squared = gpd.read_file(tmp_path / "r.gpkg").geometry.iloc[0]
    plain = gpd.read_file(tmp_path / "plain.gpkg").geometry.iloc[0]
    assert len(squared.exterior.coords) < len(plain.exterior.coords)
    assert len(squared.exterior.coords) <= 9


def _categorised(path, ids, categories, nodata=None):
    """A third-party class raster (QGIS, ArcGIS): names only as GDAL category names."""
    from geotile.categories import write_categories

    write_raster(path, ids, nodata=nodata)
    write_categories(path, categories)
    return path


def test_gdal_category_names_name_the_classes_of_evaluate_and_vectorize(tmp_path, run_cli):
    """A truth whose ids 0..2 are named building, tree, impervious_surfaces only by its
    category names was scored by id under the prediction's names (accuracy 0.33 for a
    perfect prediction); vectorize called its tree (id 1) "building"."""
    order = ["building", "tree", "impervious_surfaces"]
    truth = np.zeros((30, 30), np.uint8)
    truth[10:20], truth[20:] = 1, 2
    t = _categorised(tmp_path / "t.tif", truth, order, nodata=255)
    by_name = {name: NAMES.index(name) for name in order}  # ids of the prediction
    p = _class_raster(tmp_path / "p.tif", np.vectorize(lambda i: by_name[order[i]])(
        truth).astype(np.uint8))
    scores = evaluate_rasters(p, t)
    assert scores.accuracy == 1.0
    assert {c["class"]: c["iou"] for c in scores.classes() if c["support"]} == {
        "building": 1.0, "tree": 1.0, "impervious_surfaces": 1.0}
    v = _categorised(tmp_path / "v.tif", truth, ["", "tree", "building"])
    result = run_cli("vectorize", v, "-o", tmp_path / "v.gpkg", "--classes", "building",
                     "--json")
    assert result.exit_code == 0, result.output
    frame = gpd.read_file(tmp_path / "v.gpkg")
    assert frame["class"].tolist() == ["building"] and frame["class_id"].tolist() == [2]
    assert frame["area_m2"].tolist() == [10 * 30 * 0.25]


def _no_background(path, ids, nodata=255, **tags):
    """Class ids 0..5 of a softmax model without a background class: 0 impervious_surfaces."""
    write_raster(path, ids, nodata=nodata)
    with rasterio.open(path, "r+") as dst:
        dst.update_tags(GEOTILE_CLASS_NAMES=json.dumps(list(POTSDAM)), **tags)
    return path


@pytest.mark.parametrize("output", ["class", "probability"])
def test_class_0_named_as_a_class_is_polygonized_and_kept_by_classes(tmp_path, run_cli,
                                                                      output):
    """A raster naming id 0 as a class (impervious_surfaces, a softmax model without
    background) lost every polygon of it (60 % of a Potsdam tile), and --classes
    impervious_surfaces wrote nothing, warning "no region of that class"."""
    ids = _scene() - 1
    ids[ids == 255] = 0  # the scene's background: impervious here
    ids[:, 58:] = 255  # nodata: no class
    if output == "class":
        raster = _no_background(tmp_path / "r.tif", ids.astype(np.uint8), GEOTILE_OUTPUT="class")
    else:  # a softmax's probabilities, argmaxed
        p = np.stack([(ids == k) * 0.9 + 0.02 for k in range(6)]).astype(np.float32)
        p[:, ids == 255] = np.nan
        raster = _no_background(tmp_path / "r.tif", p, nodata=np.nan,
                                GEOTILE_OUTPUT="probability", GEOTILE_BANDS="exclusive")
    summary = vectorize_polygons(raster, tmp_path / "all.gpkg")
    assert summary["per_class"] == {"impervious_surfaces": 1, "building": 1,
                                    "low_vegetation": 1, "tree": 1, "car": 2, "clutter": 1}
    frame = gpd.read_file(tmp_path / "all.gpkg")
    impervious = frame.loc[frame["class"] == "impervious_surfaces"]
    assert impervious["class_id"].tolist() == [0]
    assert impervious["area_m2"].tolist() == [((ids == 0).sum()) * 0.25]
    assert frame["area_m2"].sum() == (ids != 255).sum() * 0.25  # nodata is no polygon
    for given in ("impervious_surfaces", "0"):
        result = run_cli("vectorize", raster, "-o", tmp_path / f"{given}.gpkg", "--classes",
                         given, "--json")
        assert result.exit_code == 0 and not result.stderr.strip(), result.output
        kept = gpd.read_file(tmp_path / f"{given}.gpkg")
        assert kept["class"].tolist() == ["impervious_surfaces"]
        assert kept["area_m2"].tolist() == impervious["area_m2"].tolist()
    result = run_cli("vectorize", raster, "-o", tmp_path / "x.gpkg", "--classes", "road")
    assert_one_line_error(result, "impervious_surfaces, building")


def test_unnamed_or_background_named_class_0_stays_background(tmp_path):
    ids = _scene()
    # ISPRS Potsdam/Vaihingen name their id 0 'Clutter/background'; others 'background_x'
    for names in (None, ["0", "building"], ["Unlabelled", "a"], ["ignore", "a"],
                  ["Clutter/background", "a"], ["background_clutter", "a"],
                  ["Background (clutter)", "a"], ["bg-other", "a"]):
        path = write_raster(tmp_path / "r.tif", ids)
        if names:
            with rasterio.open(path, "r+") as dst:
                dst.update_tags(GEOTILE_CLASS_NAMES=json.dumps(names))
        summary = vectorize_polygons(path, tmp_path / "o.gpkg", overwrite=True)
        assert sum(summary["per_class"].values()) == 7, names


def test_evaluate_pools_class_0_named_as_a_class_into_the_foreground(tmp_path, run_cli):
    """The pooled foreground of a folder left out id 0 whatever it was named: a perfect
    prediction of classes 0..5 (0 impervious_surfaces) had TP short of its pixels."""
    ids = (_scene() - 1).astype(np.uint8)
    ids[ids == 255] = 0
    for folder in ("p", "t"):
        (tmp_path / folder).mkdir()
        _no_background(tmp_path / folder / "a.tif", ids, GEOTILE_OUTPUT="class")
    result = run_cli("evaluate", tmp_path / "p", tmp_path / "t", "--json")
    assert result.exit_code == 0, result.output
    pooled = json.loads(result.stdout)["foreground"]
    assert (pooled["tp"], pooled["fp"], pooled["fn"]) == (ids.size, 0, 0)
    for folder in ("p", "t"):  # named background: left out as before
        with rasterio.open(tmp_path / folder / "a.tif", "r+") as dst:
            dst.update_tags(GEOTILE_CLASS_NAMES=json.dumps(NAMES[:6]))
    pooled = json.loads(run_cli("evaluate", tmp_path / "p", tmp_path / "t", "--json").stdout)
    assert pooled["foreground"]["tp"] == int((ids != 0).sum())


def test_evaluate_folders_sums_the_classes_of_each_image_by_name(tmp_path, run_cli):
    """Truths naming their classes in other orders (a palette listed in another order) were
    summed by id: a perfect prediction's total mixed background with road (IoU 0.33, the
    foreground pooled background pixels). Each image's ids are mapped to one list of names
    (the first's, extended) before the sum."""
    truth = np.zeros((20, 20), np.uint8)
    truth[0:8], truth[8:12] = 1, 2  # building, road
    names = ["background", "building", "road"]
    for folder in ("p", "t"):
        (tmp_path / folder).mkdir()
    order_b = ["road", "background", "building", "car"]  # b's id of each of a's classes: 1 2 0
    for name, ids, true_names in (("a", truth, names),
                                  ("b", np.choose(truth, [1, 2, 0]).astype(np.uint8), order_b)):
        _tagged(write_raster(tmp_path / "t" / f"{name}.tif", ids), true_names)
        _tagged(write_raster(tmp_path / "p" / f"{name}.tif", truth), names)
    result = run_cli("evaluate", tmp_path / "p", tmp_path / "t", "--json")
    assert result.exit_code == 0, result.output
    total = json.loads(result.stdout)
    assert total["accuracy"] == 1.0 and total["mean_iou"] == 1.0
    assert [(c["class"], c["support"]) for c in total["classes"]] == [
        ("background", 2 * 160), ("building", 2 * 160), ("road", 2 * 80), ("car", 0)]
    assert (total["foreground"]["tp"], total["foreground"]["fp"]) == (2 * 240, 0)


def _tagged(path, names):
    with rasterio.open(path, "r+") as dst:
        dst.update_tags(GEOTILE_OUTPUT="class", GEOTILE_CLASS_NAMES=json.dumps(names))
    return path


def test_class_colour_tables_are_distinct_and_colour_a_named_class_0(tmp_path):
    """Colour tables repeated after 11 classes (ids 1, 12 and 23 alike; 11 and 22 black as
    background), and a softmax model's class 0 was drawn transparent like background."""
    from geotile.categories import class_colours
    from geotile.model import OnnxModel
    from geotile.predict import PredictOptions, predict_raster

    colours = class_colours(255)
    assert colours[0] == (0, 0, 0, 0)
    assert len({c[:3] for c in colours.values()}) == 255
    assert all(colours[i][3] == 255 for i in range(1, 255))
    model = OnnxModel.from_path(_channel_model(tmp_path / "m.onnx", "Softmax",
                                               ["water", "forest", "urban"]))
    _, image = _image(tmp_path)
    predict_raster(model, image, tmp_path / "c.tif", options=PredictOptions(output_type="class"))
    with rasterio.open(tmp_path / "c.tif") as c:
        table = [c.colormap(1)[i] for i in range(3)]
    assert len(set(table)) == 3 and all(alpha == 255 for *_, alpha in table)


def test_regularize_keeps_a_building_whose_notch_another_class_holds(tmp_path):
    """A grid-aligned building (46 x 68 px) with a 41 x 11 px notch of tree filled 0.856 of
    its rectangle: squared with its walls moved in to keep the area with the notch, then cut
    by the tree, it lost 16 % and left a gap no class covered. Its outline is kept."""
    import shapely

    ids = np.zeros((80, 100), np.uint8)
    ids[10:56, 10:78] = 2  # building
    ids[10:21, 10:51] = 4  # tree in its corner
    ids[60:70, 60:70] = 2  # a square building: stays as it is
    raster = _class_raster(tmp_path / "r.tif", ids)
    vectorize_polygons(raster, tmp_path / "o.gpkg",
                       options=VectorizeOptions(regularize=True))
    frame = gpd.read_file(tmp_path / "o.gpkg")
    buildings = frame.loc[frame["class"] == "building"]
    assert sorted(buildings["area_m2"]) == [100 * 0.25, (46 * 68 - 41 * 11) * 0.25]
    union = shapely.union_all(frame.geometry.values)
    assert union.area == pytest.approx(((ids != 0).sum()) * 0.25)


@pytest.mark.parametrize("placeholder", ["class_1", "1", "Class 1"])
def test_a_placeholder_class_name_is_not_warned_of(tmp_path, run_cli, placeholder):
    """make-masks -> predict -> evaluate with a one-band model naming no classes: predict
    names them background, class_1; the truth background, building. Every run warned that
    'class_1' matches no class name of the truth (found by a review): a name that only
    numbers its class is scored by id, without a word; a real other name is still said."""
    truth = np.zeros((20, 20), np.uint8)
    truth[5:12, 4:15] = 1
    t = _tagged(write_raster(tmp_path / "t.tif", truth), ["background", "building"])
    p = _tagged(write_raster(tmp_path / "p.tif", truth), ["background", placeholder])
    result = run_cli("evaluate", p, t, "--json")
    assert result.exit_code == 0, result.output
    assert "match no class name" not in result.stderr
    assert json.loads(result.stdout)["mean_iou"] == pytest.approx(1.0)
    _tagged(p, ["background", "Structures"])
    result = run_cli("evaluate", p, t, "--json")
    assert "'Structures' (id 1" in result.stderr and "'building'" in result.stderr


def _two_head_model(path, second: str):
    """Two outputs of one 1x1 conv each on bands 1 and 2 (8 x band / 255 - 4): "building"
    (a Sigmoid head) and, ``second`` "sigmoid", "road" (another Sigmoid head) or
    "softmax", "surface" (background/road: a softmax over two channels)."""
    from onnx import helper

    from .onnx_models import FLOAT, save_graph

    w = np.zeros((3, 3, 1, 1), np.float32)
    w[0, 0], w[1, 1], w[2, 1] = 8, 8, -8
    inits = {"Wa": w[:1], "Ba": np.full(1, -4, np.float32)}
    nodes = [helper.make_node("Conv", ["input", "Wa", "Ba"], ["za"], kernel_shape=[1, 1]),
             helper.make_node("Sigmoid", ["za"], ["building"])]
    if second == "sigmoid":
        inits.update(Wb=w[1:2], Bb=np.full(1, -4, np.float32))
        nodes += [helper.make_node("Conv", ["input", "Wb", "Bb"], ["zb"], kernel_shape=[1, 1]),
                  helper.make_node("Sigmoid", ["zb"], ["road"])]
        outputs = [("road", FLOAT, ["N", 1, "H", "W"])]
    else:
        inits.update(Wb=w[[2, 1]], Bb=np.array([4, -4], np.float32))
        nodes += [helper.make_node("Conv", ["input", "Wb", "Bb"], ["zb"], kernel_shape=[1, 1]),
                  helper.make_node("Softmax", ["zb"], ["surface"], axis=1)]
        outputs = [("surface", FLOAT, ["N", 2, "H", "W"])]
    metadata = {"class_names": [{"0": "building"}, {"0": "background", "1": "road"}]} \
        if second == "softmax" else None
    return save_graph(path, nodes, [("input", FLOAT, ["N", 3, "H", "W"])],
                      [("building", FLOAT, ["N", 1, "H", "W"]), *outputs], inits,
                      metadata=metadata)


def test_two_sigmoid_heads_are_vectorized_each_as_its_class(tmp_path):
    # a model of two outputs, "building" and "road" (a Sigmoid each): predict tagged its
    # probabilities GEOTILE_BANDS=exclusive, so vectorize took their argmax with "building"
    # as the background: a 20 x 20 px building (p 0.98) gave no polygon, only the road's
    from geotile.predict import predict_raster

    pixels = np.zeros((3, 60, 60), np.uint8)
    pixels[0, 10:30, 10:30] = 255  # a building
    pixels[1, 40:50, :] = 255  # a road
    image = write_raster(tmp_path / "img.tif", pixels)
    predict_raster(_two_head_model(tmp_path / "m.onnx", "sigmoid"), image, tmp_path / "p.tif")
    with rasterio.open(tmp_path / "p.tif") as p:
        assert p.descriptions == ("building", "road")
        assert p.tags()["GEOTILE_BANDS"] == "independent"
    vectorize_polygons([tmp_path / "p.tif"], tmp_path / "p.gpkg")
    found = gpd.read_file(tmp_path / "p.gpkg")
    assert sorted(found["class"]) == ["building", "road"]
    areas = dict(zip(found["class"], found.area, strict=True))
    assert areas == pytest.approx({"building": 20 * 20 * 0.25, "road": 60 * 10 * 0.25})


def test_a_sigmoid_head_beside_a_softmax_head_is_refused_by_vectorize(tmp_path, run_cli):
    # a building sigmoid beside a background/road softmax: tagged exclusive, vectorize took
    # the argmax of the 3 bands with "building" as the background, and wrote the softmax's
    # "background" as a class of polygons (exit 0). The bands are neither one set of
    # exclusive classes nor independent ones: vectorize says so and how to choose one output
    from geotile.predict import predict_raster

    pixels = np.zeros((3, 60, 60), np.uint8)
    pixels[0, 10:30, 10:30] = 255
    pixels[1, 40:50, :] = 255
    image = write_raster(tmp_path / "img.tif", pixels)
    predict_raster(_two_head_model(tmp_path / "m.onnx", "softmax"), image, tmp_path / "p.tif")
    with rasterio.open(tmp_path / "p.tif") as p:
        assert p.descriptions == ("building", "background", "road")
        assert p.tags()["GEOTILE_BANDS"] == "outputs"
    result = run_cli("vectorize", tmp_path / "p.tif", "-o", tmp_path / "p.gpkg")
    assert_one_line_error(result, "p.tif", "several model outputs", "--outputs")
    assert not (tmp_path / "p.gpkg").exists()


def _deeplab_with_aux(path, order=("out", "aux")):
    """torchvision's DeepLabV3/FCN exported raw with aux_loss=True: outputs 'out' (the
    model's) and 'aux' (the auxiliary head, trained only), both 3-class logits."""
    from tests.onnx_models import FLOAT, conv1x1, save_graph

    heads = {"out": conv1x1("input", "out", 3, 3, seed=2, prefix="a"),
             "aux": conv1x1("input", "aux", 3, 3, seed=3, prefix="b")}
    return save_graph(path, [heads[name][0] for name in order],
                      [("input", FLOAT, ["batch", 3, "height", "width"])],
                      [(name, FLOAT, ["batch", 3, "height", "width"]) for name in order],
                      {**heads["out"][1], **heads["aux"][1]})


@pytest.mark.parametrize("order", [("out", "aux"), ("aux", "out")])
def test_torchvision_aux_head_is_left_out_by_default(tmp_path, run_cli, order):
    """A torchvision segmentation model exported raw with its auxiliary head gave a raster
    of both heads (out_1..3, aux_1..3), which vectorize and evaluate refuse: the whole
    prediction had to be run again with --outputs out. The main head is written now, the
    same bands as --outputs out; --outputs out,aux still writes both."""
    from geotile.model import OnnxModel
    from geotile.predict import predict_raster

    model = _deeplab_with_aux(tmp_path / "deeplab.onnx", order)
    rng = np.random.default_rng(5)
    image = write_raster(tmp_path / "img.tif", rng.integers(0, 256, (3, 40, 40), np.uint8))
    predict_raster(model, image, tmp_path / "p.tif")
    predict_raster(OnnxModel.from_path(model, outputs="out"), image, tmp_path / "out.tif")
    with rasterio.open(tmp_path / "p.tif") as p, rasterio.open(tmp_path / "out.tif") as o:
        assert p.count == 3
        assert p.descriptions == o.descriptions
        assert not any("aux" in (d or "") for d in p.descriptions)
        np.testing.assert_array_equal(p.read(), o.read())
    result = run_cli("vectorize", tmp_path / "p.tif", "-o", tmp_path / "p.gpkg")
    assert result.exit_code == 0, result.output
    predict_raster(OnnxModel.from_path(model, outputs="out,aux"), image, tmp_path / "both.tif")
    with rasterio.open(tmp_path / "both.tif") as both:
        assert both.count == 6


def test_deeplab_out_and_aux_softmax_heads_are_not_called_sigmoid(tmp_path, run_cli):
    # torchvision DeepLabV3's 'out' and 'aux' (two softmax heads) asked for together:
    # vectorize's refusal called them "sigmoid and softmax ones"; it now names what they are
    from geotile.model import OnnxModel
    from geotile.predict import predict_raster

    model = _deeplab_with_aux(tmp_path / "deeplab.onnx")
    image = write_raster(tmp_path / "img.tif", np.zeros((3, 40, 40), np.uint8))
    predict_raster(OnnxModel.from_path(model, outputs="out,aux"), image, tmp_path / "p.tif")
    result = run_cli("vectorize", tmp_path / "p.tif", "-o", tmp_path / "p.gpkg")
    assert_one_line_error(result, "p.tif", "several model outputs", "softmax", "--outputs")
    assert "sigmoid" not in result.output
    assert not (tmp_path / "p.gpkg").exists()


def test_class_names_of_a_qgis_paletted_style_pair_by_name(tmp_path):
    """A class raster styled in QGIS (Paletted/Unique values, saved as its default style
    truth.qml beside truth.tif) names its classes only there: evaluate paired a prediction
    numbering them otherwise by id (mean IoU 0.25 for a perfect one). The .qml's labels
    name the classes now, where the raster names none itself."""
    ids = _scene()[:, :40]
    ids[ids > 3] = 0
    truth = write_raster(tmp_path / "truth.tif", ids)
    entries = "".join(f'<paletteEntry value="{v}" color="#{c}" label="{n}" alpha="255"/>'
                      for v, c, n in ((1, "ff0000", "Roof"), (2, "00ff00", "Grass"),
                                      (3, "0000ff", "Water")))
    (tmp_path / "truth.qml").write_text(
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n<qgis version=\"3.34\">"
        f'<pipe><rasterrenderer type="paletted" band="1"><colorPalette>{entries}'
        "</colorPalette></rasterrenderer></pipe></qgis>")
    order = {0: 0, 1: 3, 2: 1, 3: 2}  # prediction: background, grass, water, roof
    pred = _tagged(write_raster(tmp_path / "p.tif", np.vectorize(order.get)(ids)
                                .astype(np.uint8)), ["background", "grass", "water", "roof"])
    result = evaluate_rasters(pred, truth)
    assert np.count_nonzero(result.confusion - np.diag(np.diag(result.confusion))) == 0
    assert {r["class"]: r["iou"] for r in result.classes()} == {
        "background": 1.0, "Roof": 1.0, "Grass": 1.0, "Water": 1.0}



def test_a_qgis_style_labelling_classes_by_their_values_names_none(tmp_path):
    """QGIS's Paletted/Unique values style labels each class by its value ("0".."3") until
    renamed; saved as truth.qml, those numbers became the truth's class names, over a
    prediction's background/building/road/water (the scores listed classes 0..3). Labels
    that are the value itself name nothing: the prediction's names are kept."""
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 4, (40, 40)).astype(np.uint8)
    truth = write_raster(tmp_path / "truth.tif", ids)
    names = ["background", "building", "road", "water"]
    pred = _tagged(write_raster(tmp_path / "p.tif", ids), names)
    entries = "".join(f'<paletteEntry value="{v}" color="#ff0000" label="{v}" alpha="255"/>'
                      for v in range(4))
    (tmp_path / "truth.qml").write_text(
        '<qgis version="3.34"><pipe><rasterrenderer type="paletted" band="1"><colorPalette>'
        f"{entries}</colorPalette></rasterrenderer></pipe></qgis>")
    result = evaluate_rasters(pred, truth)
    assert [c["class"] for c in result.classes()] == names
    assert result.as_dict()["mean_iou"] == 1.0

LOVEDA = ["background", "building", "road", "water", "barren", "forest", "agriculture"]


def _loveda(tmp_path, top: int = 8):
    """A LoveDA mask (0 no data, 1..7 background..agriculture, no names) and an mmseg
    model's class raster of it (reduce_zero_label: ids 0..6 named background..agriculture),
    right on ~75% of the pixels; ids ``top`` and up are absent from the truth."""
    rng = np.random.default_rng(5)
    truth = rng.integers(1, top, (64, 64)).astype(np.uint8)
    truth[:8] = 0
    pred = truth.astype(np.int64) - 1
    noise = rng.random(truth.shape) < 0.25
    pred[noise] = rng.integers(0, 7, int(noise.sum()))
    pred[:8] = rng.integers(0, 7, (8, 64))
    pred = pred.astype(np.uint8)
    t = write_raster(tmp_path / "t.tif", truth)
    p = _tagged(write_raster(tmp_path / "p.tif", pred), LOVEDA)
    valid = truth > 0
    expected = {}
    for k, name in enumerate(LOVEDA):
        hit, said = (truth == k + 1) & valid, (pred == k) & valid
        if hit.any() or said.any():
            expected[name] = (hit & said).sum() / (hit | said).sum()
    return p, t, expected, int(valid.sum())


def test_class_map_names_the_truths_ids_and_leaves_out_its_no_data(tmp_path, run_cli):
    """LoveDA: the model's ids are the mask's minus 1 and the mask's 0 is no data. Scored by
    id, agriculture got IoU 0 and mean IoU 0.02 for a model right on 75% of the pixels;
    naming the truth's classes (tag) scored its 512 no-data pixels as a class 'no data'
    (mean IoU 0.51). --class-map names TRUTH's ids, as make-masks' names a label raster's;
    an id named no data is left out, like 255."""
    p, t, expected, pixels = _loveda(tmp_path)
    mapping = {"no data": 0, **{n: k + 1 for k, n in enumerate(LOVEDA)}}
    (tmp_path / "loveda.json").write_text(json.dumps(mapping))
    result = run_cli("evaluate", p, t, "--class-map", tmp_path / "loveda.json", "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["pixels"] == pixels
    got = {c["class"]: c["iou"] for c in scores["classes"] if c["support"] or c["predicted"]}
    assert got == pytest.approx(expected)
    assert scores["mean_iou"] == pytest.approx(np.mean(list(expected.values())))
    assert "paired by id" not in result.stderr
    with rasterio.open(t, "r+") as dst:  # the truth's own names say the same
        dst.update_tags(GEOTILE_CLASS_NAMES=json.dumps(list(mapping)))
    result = run_cli("evaluate", p, t, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["pixels"] == pixels
    assert json.loads(result.stdout)["mean_iou"] == pytest.approx(scores["mean_iou"])
    (tmp_path / "bad.json").write_text('{"building": 255}')
    assert_one_line_error(run_cli("evaluate", p, t, "--class-map", tmp_path / "bad.json"),
                          "bad.json", "0..254")
    gj = tmp_path / "a.geojson"
    gpd.GeoDataFrame(geometry=gpd.GeoSeries.from_xy([1], [1]).buffer(1),
                     crs="EPSG:32633").to_file(gj)
    assert_one_line_error(run_cli("evaluate", gj, gj, "--class-map", tmp_path / "loveda.json"),
                          "--class-map", code=2)


@pytest.mark.parametrize("names", [None, [f"class_{k + 1}" for k in range(7)]])
def test_a_prediction_without_names_of_a_class_maps_no_data_id_is_warned_of(tmp_path, run_cli,
                                                                           names):
    """LoveDA truth with --class-map (0 no data) against a model's class raster without
    names (ids 0..6), or naming them only by number as geotile predict does for a model
    without class names (class_1..class_7): paired by id, every class one off, its
    background (id 0) scored as predicting 'no data' on 513 of 3584 pixels, mean IoU 0.02
    for a model right on 75%, exit 0 (without a word for the numbered names). Now a warning
    names the prediction, the pixels and the fix; numbered names the map names are paired
    by name, silently."""
    p, t, _, pixels = _loveda(tmp_path)
    if names:
        _tagged(p, names)
    else:
        with rasterio.open(p, "r+") as dst:
            dst.update_tags(GEOTILE_CLASS_NAMES="")
    (tmp_path / "loveda.json").write_text(json.dumps(
        {"no data": 0, **{n: k + 1 for k, n in enumerate(LOVEDA)}}))
    result = run_cli("evaluate", p, t, "--class-map", tmp_path / "loveda.json", "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    said = scores["classes"][0]["predicted"]
    assert scores["pixels"] == pixels and said > 0.1 * pixels
    warned = [line for line in result.stderr.splitlines() if "no data" in line]
    assert len(warned) == 1, result.stderr
    assert str(p) in warned[0] and f"{said} pixels" in warned[0]
    assert "GEOTILE_CLASS_NAMES" in warned[0]
    if names:
        mapping = {"no data": 0, **{f"class_{k}": k for k in range(1, 8)}}
        (tmp_path / "numbered.json").write_text(json.dumps(mapping))  # paired by name
        result = run_cli("evaluate", p, t, "--class-map", tmp_path / "numbered.json", "--json")
        assert result.exit_code == 0, result.output
        assert "no data" not in result.stderr, result.stderr


def test_a_prediction_paired_by_id_that_rarely_predicts_no_data_is_not_warned_of(
        tmp_path, run_cli):
    """An unnamed class raster numbered as the LoveDA truth (1..7) that says 0 (no data) on
    5 of 3584 scored pixels was told '(0% of those scored) ... Name the prediction's
    classes': its ids pair right; a few misses are no sign of a one-off numbering."""
    rng = np.random.default_rng(5)
    truth = rng.integers(1, 8, (64, 64)).astype(np.uint8)
    truth[:8] = 0
    pred = truth.copy()
    pred[:8] = rng.integers(1, 8, (8, 64))
    pred[20, 5:10] = 0
    p, t = write_raster(tmp_path / "p.tif", pred), write_raster(tmp_path / "t.tif", truth)
    (tmp_path / "loveda.json").write_text(json.dumps(
        {"no data": 0, **{n: k + 1 for k, n in enumerate(LOVEDA)}}))
    result = run_cli("evaluate", p, t, "--class-map", tmp_path / "loveda.json", "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["pixels"] == 56 * 64 and scores["classes"][0]["predicted"] == 5
    assert "no data" not in result.stderr, result.stderr


@pytest.mark.parametrize("top", [8, 7])
def test_a_truth_numbered_one_off_is_warned_of_with_a_class_map_that_works(
        tmp_path, run_cli, top):
    """LoveDA scored by id printed mean IoU 0.02 for a model right on 75% of the pixels; a
    tile without agriculture (ids 0..6, all within the model's names) was scored so without
    a word, and the warning of ids 0..7 said to tag the truth, which scored its no data as
    a class. Now: classes paired by id that agree one id off are warned of with the class
    map to give; followed, the scores are numpy's."""
    p, t, expected, pixels = _loveda(tmp_path, top)
    result = run_cli("evaluate", p, t, "--json")
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if "paired by id" in line]
    assert len(warned) == 1, result.stderr
    assert "--class-map" in warned[0] and str(t) in warned[0]
    import re

    mapping = json.loads(re.search(r"write (\{.*?\}) to", warned[0]).group(1))
    assert mapping["no data"] == 0 and mapping["background"] == 1
    (tmp_path / "classes.json").write_text(json.dumps(mapping))
    result = run_cli("evaluate", p, t, "--class-map", tmp_path / "classes.json", "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["pixels"] == pixels and "paired by id" not in result.stderr
    assert {c["class"]: c["iou"] for c in scores["classes"]
            if c["support"] or c["predicted"]} == pytest.approx(expected)


def test_truths_numbered_as_the_prediction_are_not_warned_of(tmp_path, run_cli):
    """A 0/1 truth against a 2-class model named background, building, and a 0..2 truth
    against a model named background, building, road: paired by id, rightly, silently."""
    rng = np.random.default_rng(2)
    for k, names in ((2, ["background", "building"]), (3, ["background", "building", "road"])):
        truth = rng.integers(0, k, (40, 40)).astype(np.uint8)
        pred = truth.copy()
        pred[rng.random(truth.shape) < 0.3] = 0
        t = write_raster(tmp_path / f"t{k}.tif", truth)
        p = _tagged(write_raster(tmp_path / f"p{k}.tif", pred), names)
        result = run_cli("evaluate", p, t)
        assert result.exit_code == 0, result.output
        assert "paired by id" not in result.stderr and "names no classes" not in result.stderr


DEEPGLOBE = ["urban_land", "agriculture_land", "rangeland", "forest_land", "water",
             "barren_land", "unknown"]


def test_a_truth_class_named_no_data_is_not_scored_where_the_model_predicts_it(
        tmp_path, run_cli):
    """DeepGlobe: 7 classes, 'unknown' (id 6) left out of the scores. Its truth pixels were
    left out, but the model's 94 'unknown' pixels made it a class of IoU 0 in the mean
    (0.5099 for numpy's 0.5949 over the 6 classes). Now it is listed without scores and
    out of the mean; those pixels still count against the truth's classes."""
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 7, (50, 50)).astype(np.uint8)
    pred = truth.copy()
    noise = rng.random(truth.shape) < 0.3
    pred[noise] = rng.integers(0, 7, int(noise.sum()))
    t = _tagged(write_raster(tmp_path / "t.tif", truth), DEEPGLOBE)
    p = _tagged(write_raster(tmp_path / "p.tif", pred), DEEPGLOBE)
    valid = truth != 6
    expected = [((truth == k) & (pred == k) & valid).sum()
                / (((truth == k) | (pred == k)) & valid).sum() for k in range(6)]
    result = run_cli("evaluate", p, t, "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["pixels"] == int(valid.sum())
    assert scores["mean_iou"] == pytest.approx(np.mean(expected))
    rows = {c["class"]: c for c in scores["classes"]}
    assert [rows[n]["iou"] for n in DEEPGLOBE[:6]] == pytest.approx(expected)
    assert rows["unknown"]["iou"] is None and rows["unknown"]["support"] == 0
    assert rows["unknown"]["predicted"] == int(((pred == 6) & valid).sum()) > 0
    table = run_cli("evaluate", p, t).stdout
    assert f"mean IoU {np.mean(expected):.4f}" in table
    # a folder of such pairs: the total leaves it out too
    for d in ("pd", "td"):
        (tmp_path / d).mkdir()
    for i in range(2):
        (tmp_path / "pd" / f"a{i}.tif").write_bytes(p.read_bytes())
        (tmp_path / "td" / f"a{i}.tif").write_bytes(t.read_bytes())
    result = run_cli("evaluate", tmp_path / "pd", tmp_path / "td", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["mean_iou"] == pytest.approx(np.mean(expected))


def test_asprs_unclassified_points_are_a_scored_class_past_id_0(tmp_path, run_cli):
    """A LiDAR classification raster names ASPRS classes: 0 never classified, 1
    unclassified (points processed into no other class), 2 ground, 6 building. Its
    'unclassified' pixels (a class the model predicts too) were left out as no data, without
    a word: 1/4 of the pixels gone, the class listed empty. Past id 0 it is a class; an id
    named no data, void, unknown... is still left out."""
    names = ["never_classified", "unclassified", "ground", "building"]
    rng = np.random.default_rng(4)
    truth = rng.integers(1, 4, (40, 40)).astype(np.uint8)
    pred = truth.copy()
    pred[rng.random(truth.shape) < 0.2] = 2
    t = _tagged(write_raster(tmp_path / "t.tif", truth), names)
    p = _tagged(write_raster(tmp_path / "p.tif", pred), names)
    scores = json.loads(run_cli("evaluate", p, t, "--json").stdout)
    assert scores["pixels"] == truth.size
    hit, said = truth == 1, pred == 1
    rows = {c["class"]: c for c in scores["classes"]}
    assert rows["unclassified"]["support"] == int(hit.sum())
    assert rows["unclassified"]["iou"] == pytest.approx((hit & said).sum() / (hit | said).sum())


def test_scaled_uint8_is_round_p_255_of_clipped_values_nan_as_0(monkeypatch):
    # chunk by chunk (the last one partial), as the whole block's nan_to_num, clip, round
    # (halves up: 0.5 / 255 is 1, 1.5 / 255 is 2, 254.5 / 255 is 255)
    import geotile.prediction_output as prediction_output

    monkeypatch.setattr(prediction_output, "SCALE_CHUNK", 7)
    for dtype in (np.float32, np.float64):
        values = np.random.default_rng(5).normal(0.5, 0.6, (3, 5, 9)).astype(dtype)
        values[0, 0, :8] = [np.nan, np.inf, -np.inf, -0.0, 0.5 / 255, 1.5 / 255, 254.5 / 255,
                            1e-30]
        scaled = prediction_output.scaled_uint8(values)
        product = np.clip(np.nan_to_num(values, nan=0.0), 0, 1) * dtype(255)
        expected = np.floor(product.astype(np.float64) + 0.5).astype(np.uint8)
        assert scaled.dtype == np.uint8
        np.testing.assert_array_equal(scaled, expected)
        assert list(scaled[0, 0, :4]) == [0, 255, 0, 0]
        np.testing.assert_array_equal(prediction_output.scaled_uint8(values[:, 1:, 2:7]),
                                      expected[:, 1:, 2:7])  # a view


def test_probability_output_of_40_classes_in_strips_is_the_whole_images(tmp_path):
    # blocks are encoded as they arrive and divided straight from the strip's sums (no copy
    # of K bands): uint8 is round(p * 255) (halves up) of the float32 output, the pointwise
    # model's on the whole image; nodata is masked (uint8) or NaN (float32)
    from geotile.predict import PredictOptions, predict_raster

    from .onnx_models import pointwise_model, pointwise_reference

    model = pointwise_model(tmp_path / "m.onnx", classes=40, activation="softmax", seed=4)
    pixels = np.random.default_rng(2).integers(1, 256, (3, 90, 150), dtype=np.uint8)
    pixels[:, 30:41, 70:95] = 0
    image = write_raster(tmp_path / "img.tif", pixels, nodata=0)
    nodata = np.zeros((90, 150), bool)
    nodata[30:41, 70:95] = True
    outputs = {}
    for dtype in ("float32", "uint8"):  # 3 strips, blocks of 16 rows gathered from pieces
        outputs[dtype] = tmp_path / f"{dtype}.tif"
        predict_raster(model, image, outputs[dtype], options=PredictOptions(
            tile_size=32, block_size=64, dtype=dtype,
            creation_options={"blockxsize": 16, "blockysize": 16}))
    expected = pointwise_reference(pixels[np.newaxis] / 255, classes=40, seed=4)[0]
    with rasterio.open(outputs["float32"]) as p, rasterio.open(outputs["uint8"]) as q:
        probabilities, scaled = p.read(), q.read()
        assert np.isnan(probabilities[:, nodata]).all()
        np.testing.assert_allclose(probabilities[:, ~nodata], expected[:, ~nodata], atol=2e-6)
        np.testing.assert_array_equal(scaled[:, ~nodata],  # under the mask: the model's
                                      np.floor(np.float64(probabilities[:, ~nodata]
                                                          * np.float32(255)) + 0.5))
        np.testing.assert_array_equal(q.dataset_mask(), np.where(nodata, 0, 255))
        assert q.descriptions == p.descriptions and q.count == 40


def test_a_folder_of_unnamed_predictions_of_no_data_ids_is_warned_of_once(tmp_path, run_cli):
    """The same LoveDA case as folders (pred/ and truth/ of two tiles each): scored one id off
    without a word, as the pairs of a folder are read with their warnings held back; now one
    warning for the folder, naming the first prediction, the others' count and the pixels."""
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        p, t, _, _ = _loveda(tmp_path / name)
        with rasterio.open(p, "r+") as dst:
            dst.update_tags(GEOTILE_CLASS_NAMES="")
        for side, path in (("pred", p), ("truth", t)):
            (tmp_path / side).mkdir(exist_ok=True)
            path.rename(tmp_path / side / f"{name}.tif")
    (tmp_path / "loveda.json").write_text(json.dumps(
        {"no data": 0, **{n: k + 1 for k, n in enumerate(LOVEDA)}}))
    result = run_cli("evaluate", tmp_path / "pred", tmp_path / "truth", "--class-map",
                     tmp_path / "loveda.json", "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    pixels_said = scores["classes"][0]["predicted"]  # the folder's totals
    assert pixels_said > 0.1 * scores["pixels"]
    warned = [line for line in result.stderr.splitlines() if "no data" in line]
    assert len(warned) == 1, result.stderr
    assert "a.tif" in warned[0] and "1 other" in warned[0], warned[0]
    assert f"{pixels_said} pixels" in warned[0]
    assert "GEOTILE_CLASS_NAMES" in warned[0]


FLAIR = ["building", "pervious surface", "impervious surface", "bare soil", "water",
         "coniferous", "deciduous", "brushwood", "vineyard", "herbaceous vegetation",
         "agricultural land", "plowed land", "other"]


def test_class_map_merges_truth_ids_into_one_class(tmp_path, run_cli):
    """FLAIR's masks hold ids 1..19; its benchmark (and TorchGeo) scores 13 classes, ids 13
    to 19 (swimming pool ... other) merged into 'other', as models trained on it predict.
    --class-map could not say so (one id per name: '"other" has id [13, ...]; ids are
    integers'), and naming 13 alone scored a model right on every pixel at mean IoU 0.64,
    14..19 as classes it never predicts. A list of ids names them one class."""
    rng = np.random.default_rng(7)
    truth = rng.integers(1, 20, (64, 64)).astype(np.uint8)
    truth[:4] = 0  # not a FLAIR id: scored as is, unnamed
    pred = np.clip(truth.astype(np.int64) - 1, 0, 12).astype(np.uint8)
    noise = rng.random(truth.shape) < 0.2
    pred[noise] = rng.integers(0, 13, int(noise.sum()))
    t = write_raster(tmp_path / "MSK_000001.tif", truth, crs="EPSG:2154")
    p = _tagged(write_raster(tmp_path / "IMG_000001.tif", pred, crs="EPSG:2154"), FLAIR)
    mapping = {**{n: k + 1 for k, n in enumerate(FLAIR[:-1])}, "other": list(range(13, 20))}
    (tmp_path / "flair.json").write_text(json.dumps(mapping))
    result = run_cli("evaluate", p, t, "--class-map", tmp_path / "flair.json", "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    merged = np.where(truth >= 13, 13, truth)
    got = {c["class"]: c["iou"] for c in scores["classes"] if c["support"] or c["predicted"]}
    for k, name in enumerate(FLAIR):
        hit, said = merged == k + 1, pred == k
        assert got[name] == pytest.approx((hit & said).sum() / (hit | said).sum())
    assert got["other"] > 0.7 and scores["pixels"] == truth.size
    assert {c["class"] for c in scores["classes"]} <= {*FLAIR, "background"}
    for bad, said in (({"other": [13, 256]}, "256"), ({"other": []}, "[]"),
                      ({"other": [13, 14], "snow": [14]}, "14")):
        (tmp_path / "bad.json").write_text(json.dumps(bad))
        assert_one_line_error(run_cli("evaluate", p, t, "--class-map", tmp_path / "bad.json"),
                              "bad.json", said)


def test_dfc2022_no_information_is_left_out(tmp_path, run_cli):
    """DFC2022 (MiniFrance, UrbanAtlas labels) names its id 0 'No information': not a class
    to score. Named so in --class-map (the dataset's own class table) it was scored as a
    class: its pixels, where a model predicts land cover, counted as errors of every class
    (urban fabric IoU 0.5 for a model right on every labelled pixel). It is left out, as
    'no data' is."""
    truth = np.ones((32, 32), np.uint8)  # urban fabric
    truth[:, 16:] = 0  # no information: outside UrbanAtlas' polygons
    truth[24:, :16] = 14  # water
    pred = np.where(truth == 0, 1, truth).astype(np.uint8)
    t = write_raster(tmp_path / "06-2014-1007_UA2012.tif", truth, crs="EPSG:2154")
    p = write_raster(tmp_path / "06-2014-1007.tif", pred, crs="EPSG:2154")
    mapping = {"No information": 0, "Urban fabric": 1, "Water": 14}
    (tmp_path / "dfc.json").write_text(json.dumps(mapping))
    result = run_cli("evaluate", p, t, "--class-map", tmp_path / "dfc.json", "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["pixels"] == int((truth > 0).sum()) == 512
    got = {c["class"]: c["iou"] for c in scores["classes"] if c["support"] or c["predicted"]}
    assert got == {"Urban fabric": 1.0, "Water": 1.0}


def test_class_map_merges_the_ids_of_a_prediction_compared_by_id(tmp_path, run_cli):
    """A list of ids names one class of the truth ({"other": [13, ..., 19]}); a prediction
    of the same ids, unnamed (a model trained on FLAIR's 19 ids), kept its 14..19: a
    prediction equal to the truth scored 'other' at IoU 0.64 and classes '14'..'19' beside
    it (IoU 0, support 0), exit 0. Its ids are the truth's: merged as the truth's are."""
    rng = np.random.default_rng(8)
    truth = rng.integers(1, 20, (64, 64)).astype(np.uint8)
    t = write_raster(tmp_path / "MSK_000001.tif", truth, crs="EPSG:2154")
    p = write_raster(tmp_path / "IMG_000001.tif", truth.copy(), crs="EPSG:2154")
    mapping = {**{n: k + 1 for k, n in enumerate(FLAIR[:-1])}, "other": list(range(13, 20))}
    (tmp_path / "flair.json").write_text(json.dumps(mapping))
    result = run_cli("evaluate", p, t, "--class-map", tmp_path / "flair.json", "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    scored = {c["class"]: c for c in scores["classes"] if c["support"] or c["predicted"]}
    assert set(scored) == set(FLAIR), sorted(scored)
    assert all(c["iou"] == 1.0 for c in scored.values()), scored
    assert scored["other"]["support"] == int((truth >= 13).sum())
