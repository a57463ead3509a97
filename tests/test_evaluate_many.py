"""evaluate over many images: folder pairs (vectors, rasters), per-image and total scores,
--min-area, and the --errors file of TP/FP/FN polygons."""

from __future__ import annotations

import json
import logging
import shutil
import warnings

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geotile.error_layers import write_errors
from geotile.errors import InputError
from geotile.folder_evaluation import evaluate_folders
from geotile.folder_pairs import pair_folders
from geotile.object_scores import evaluate_vectors
from geotile.spacenet_scoring import evaluate_csvs

from .conftest import UTM_CRS, UTM_ORIGIN, assert_one_line_error, write_raster
from .test_spacenet import sn2_pair, write_rows

X0, Y0 = UTM_ORIGIN


def box(x, y, w=10.0, h=10.0):
    """A w x h m box x, y metres east / south of the UTM origin."""
    return shapely.box(X0 + x, Y0 - y - h, X0 + x + w, Y0 - y)


def write_vector(path, geometries, crs=UTM_CRS, **fields):
    frame = gpd.GeoDataFrame(fields, geometry=list(geometries), crs=UTM_CRS)
    frame.to_crs(crs).to_file(path, engine="pyogrio")
    return path


def vector_folders(tmp_path):
    """Predictions and truth for four images with known outcomes (TP, FP, FN):
    a (2, 1, 1), b (0, 1, 2), c (1, 0, 0, prediction in EPSG:4326), d (0, 0, 1, no prediction
    polygon); plus one unpaired file in each folder."""
    pred, truth = tmp_path / "pred", tmp_path / "truth"
    pred.mkdir()
    truth.mkdir()
    # a: exact (IoU 1), shifted 2 m (IoU 80/120), far away (FP); the 4th truth is missed
    write_vector(truth / "a.geojson", [box(0, 0), box(30, 0), box(60, 0), box(90, 0)][:3])
    write_vector(pred / "a.geojson", [box(0, 0), box(32, 0), box(200, 200)],
                 conf=[0.9, 0.8, 0.7])
    # b: one prediction overlapping a truth box by 3 m (IoU 30/170): FP, both truths FN
    write_vector(truth / "b.geojson", [box(0, 0), box(50, 50)])
    write_vector(pred / "b.geojson", [box(7, 0)], conf=[0.6])
    write_vector(truth / "c.geojson", [box(10, 10)])
    write_vector(pred / "c.geojson", [box(10, 10)], crs="EPSG:4326", conf=[0.5])
    write_vector(truth / "d.geojson", [box(0, 0)])
    (pred / "d.geojson").write_text('{"type": "FeatureCollection", "features": []}')
    write_vector(pred / "extra.geojson", [box(0, 0)], conf=[1.0])
    write_vector(truth / "lonely.geojson", [box(0, 0)])
    return pred, truth


EXPECTED = {"a": (2, 1, 1), "b": (0, 1, 2), "c": (1, 0, 0), "d": (0, 0, 1)}


def test_folder_pair_scores_per_image_and_summed(tmp_path, caplog):
    pred, truth = vector_folders(tmp_path)
    with caplog.at_level("WARNING", logger="geotile"):
        result = evaluate_folders(pred, truth)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "extra.geojson" in warnings[0] and "lonely.geojson" in warnings[0]
    assert list(result.per_image) == ["a", "b", "c", "d"]
    for name, counts in EXPECTED.items():
        s = result.per_image[name].scores
        assert (s.tp, s.fp, s.fn) == counts, name
    total = result.scores
    assert (total.tp, total.fp, total.fn) == (3, 2, 4)
    assert total.precision == pytest.approx(3 / 5) and total.recall == pytest.approx(3 / 7)
    assert total.f1 == pytest.approx(2 * 3 / (2 * 3 + 2 + 4))
    ious = sorted(m.iou for m in total.matches)
    assert ious == pytest.approx([80 / 120, 1.0, 1.0], abs=1e-6)
    d = result.as_dict()
    assert d["images"] == 4 and (d["tp"], d["fp"], d["fn"]) == (3, 2, 4)
    assert d["per_image"]["b"]["fn"] == 2 and d["per_image"]["a"]["precision"] == 2 / 3
    assert d["unpaired"] == {"prediction": [str(pred / "extra.geojson")],
                             "truth": [str(truth / "lonely.geojson")]}
    # the per-image scores are those of scoring each pair on its own
    alone = evaluate_vectors(pred / "a.geojson", truth / "a.geojson").scores
    assert d["per_image"]["a"]["f1"] == alone.f1


def test_cli_folders_text_json_and_errors_file(run_cli, tmp_path):
    pred, truth = vector_folders(tmp_path)
    errors = tmp_path / "errors.gpkg"
    result = run_cli("evaluate", pred, truth, "--errors", errors)
    assert result.exit_code == 0, result.output
    assert "4 images" in result.stdout and "TP 3  FP 2  FN 4" in result.stdout
    lines = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[4:]}
    assert lines["a"][:3] == ["2", "1", "1"] and lines["b"][:3] == ["0", "1", "2"]
    assert "extra.geojson" in result.stderr and "lonely.geojson" in result.stderr

    frame = gpd.read_file(errors, layer="errors", engine="pyogrio")
    assert frame.crs.to_epsg() == 32616
    counts = frame.groupby(["image", "kind"]).size().to_dict()
    assert counts == {("a", "TP"): 2, ("a", "FP"): 1, ("a", "FN"): 1, ("b", "FP"): 1,
                      ("b", "FN"): 2, ("c", "TP"): 1, ("d", "FN"): 1}
    tp = frame[frame.kind == "TP"].sort_values("iou")
    assert tp.iou.tolist() == pytest.approx([80 / 120, 1.0, 1.0], abs=1e-6)
    assert frame[frame.kind != "TP"].iou.isna().all()
    fp_b = frame[(frame.image == "b") & (frame.kind == "FP")].iloc[0]
    assert fp_b.best_iou == pytest.approx(30 / 170) and fp_b.confidence == pytest.approx(0.6)
    assert fp_b.geometry.equals_exact(box(7, 0), 1e-6)
    missed = frame[(frame.image == "a") & (frame.kind == "FN")].iloc[0]
    assert missed.geometry.equals_exact(box(60, 0), 1e-6) and missed.best_iou == 0
    c = frame[frame.image == "c"].iloc[0]  # the EPSG:4326 prediction, in the truth's CRS
    assert c.geometry.symmetric_difference(box(10, 10)).area < 1e-3

    # never replaced without --overwrite; replaced atomically with it
    before = errors.read_bytes()
    again = run_cli("evaluate", pred, truth, "--errors", errors)
    assert again.exit_code == 1 and "already exists" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1 and errors.read_bytes() == before
    assert run_cli("evaluate", pred, truth, "--errors", errors, "--overwrite").exit_code == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []

    result = run_cli("evaluate", pred, truth, "--json")
    d = json.loads(result.stdout)
    assert (d["tp"], d["fp"], d["fn"], d["images"]) == (3, 2, 4, 4)
    # the totals carry what one pair's scores carry: scripts read both the same way
    assert d["mode"] == "object"
    assert d["predictions"] == sum(v["predictions"] for v in d["per_image"].values()) == 5
    assert d["truths"] == sum(v["truths"] for v in d["per_image"].values()) == 7
    assert {k: (v["tp"], v["fp"], v["fn"]) for k, v in d["per_image"].items()} == EXPECTED
    assert sum(v["tp"] for v in d["per_image"].values()) == d["tp"]


@pytest.mark.parametrize("first", ["with", "without"])
def test_errors_of_a_folder_whose_truths_half_declare_a_crs_are_refused(run_cli, tmp_path,
                                                                        first):
    """evaluate pred/ truth/ --errors: one truth in UTM, another (a .gpkg of lon/lat without
    a CRS) scored against its own CRS-less prediction: its polygons were written as UTM
    metres (x 15, y 45: on the equator, 5,000 km from the others), exit 0 -> the errors are
    refused in one line naming the file without a CRS and the fix; nothing is written."""
    pred, truth = tmp_path / "pred", tmp_path / "truth"
    pred.mkdir()
    truth.mkdir()
    declared, bare = ("a", "b") if first == "with" else ("b", "a")
    write_vector(truth / f"{declared}.geojson", [box(0, 0), box(30, 0)])
    write_vector(pred / f"{declared}.geojson", [box(0, 0)], conf=[0.9])
    lonlat = gpd.GeoSeries([box(0, 0), box(30, 0)], crs=UTM_CRS).to_crs("EPSG:4326")
    with warnings.catch_warnings():  # pyogrio: "'crs' was not provided"
        warnings.simplefilter("ignore")
        gpd.GeoDataFrame(geometry=list(lonlat)).to_file(truth / f"{bare}.gpkg")
        gpd.GeoDataFrame({"conf": [0.9]}, geometry=list(lonlat)[:1]).to_file(
            pred / f"{bare}.gpkg")
    out = tmp_path / "errors.gpkg"
    result = run_cli("evaluate", pred, truth, "--errors", out)
    assert_one_line_error(result, f"{bare}.gpkg", "no CRS", "--labels-crs")
    assert "TP 2  FP 0  FN 2" in result.stdout  # the scores, each pair in its own CRS
    assert not out.exists()
    # given the CRS the files lack, their polygons lie where they are
    for folder in (truth, pred):
        frame = gpd.read_file(folder / f"{bare}.gpkg")
        frame.set_crs("EPSG:4326").to_file(folder / f"{bare}.gpkg")
    result = run_cli("evaluate", pred, truth, "--errors", out)
    assert result.exit_code == 0, result.output
    frame = gpd.read_file(out).to_crs(UTM_CRS)
    assert frame.geometry.distance(shapely.Point(X0, Y0)).max() < 100


def test_errors_file_geojson_and_bad_suffix(run_cli, tmp_path):
    pred, truth = vector_folders(tmp_path)
    out = tmp_path / "errors.geojson"
    assert run_cli("evaluate", pred / "a.geojson", truth / "a.geojson", "--errors",
                   out).exit_code == 0
    frame = gpd.read_file(out, engine="pyogrio")
    assert sorted(frame.kind) == ["FN", "FP", "TP", "TP"] and set(frame.image) == {""}
    # RFC 7946: longitude/latitude, no crs member (it was the truth's UTM with one)
    assert "crs" not in json.loads(out.read_text()) and frame.crs.to_epsg() == 4326
    missed = frame[frame.kind == "FN"].to_crs(UTM_CRS).geometry.iloc[0]
    assert missed.hausdorff_distance(box(60, 0)) < 0.02  # 7 decimals of a degree
    import pyogrio

    for suffix in (".geojson", ".fgb"):  # the layer is named after the file, not its temp
        out = tmp_path / f"found{suffix}"
        assert run_cli("evaluate", pred / "a.geojson", truth / "a.geojson", "--errors",
                       out).exit_code == 0
        assert [name for name, _ in pyogrio.list_layers(out)] == ["found"]
    bad = run_cli("evaluate", pred, truth, "--errors", tmp_path / "errors.shp")
    assert bad.exit_code == 2 and ".gpkg" in bad.stderr


@pytest.mark.parametrize("field", ["kind", "type"])
def test_errors_file_with_class_field_shows_classes_mistaken(run_cli, tmp_path, field):
    """evaluate --class-field --errors: a building predicted as a road was a TP like any
    other, and a class field named like an errors column (kind) gave no class at all ->
    true_class names the truth a TP matched; a field named kind is written as class."""
    truth = write_vector(tmp_path / "truth.gpkg", [box(0, 0), box(20, 0), box(40, 0)],
                         **{field: ["building", "road", "building"]})
    pred = write_vector(tmp_path / "pred.gpkg", [box(0, 0), box(20, 0), box(80, 0)],
                        **{field: ["Building", "building", "road"]})
    out = tmp_path / "errors.gpkg"
    result = run_cli("evaluate", pred, truth, "--class-field", field, "--errors", out)
    assert result.exit_code == 0, result.output
    column = "class" if field == "kind" else field
    frame = gpd.read_file(out).sort_values(["kind", column])
    rows = list(zip(frame["kind"], frame[column], frame["true_class"].fillna("-"), strict=True))
    assert rows == [("FN", "building", "-"), ("FP", "road", "-"),
                    ("TP", "building", "building"), ("TP", "building", "road")]


@pytest.mark.parametrize("suffix", [".gpkg", ".fgb"])
def test_errors_file_without_polygons_keeps_its_text_fields(run_cli, tmp_path, suffix):
    """evaluate --errors of a tile without buildings on either side: an empty layer whose
    image, kind, class and true_class fields were Real (pandas types an empty column float)
    and geometry Unknown; appended to (ogr2ogr -append, the next tile's errors), 'TP' went in
    as 0 -> String fields, Polygon layer, as the errors of a tile with polygons."""
    import pyogrio

    pred = write_vector(tmp_path / "p.gpkg", [], roof=np.array([], dtype=object))
    truth = write_vector(tmp_path / "t.gpkg", [], roof=np.array([], dtype=object))
    for args, text in (((), ["image", "kind"]),
                       (("--class-field", "roof"), ["image", "kind", "roof", "true_class"])):
        out = tmp_path / f"errors{len(args)}{suffix}"
        result = run_cli("evaluate", pred, truth, "--errors", out, *args)
        assert result.exit_code == 0, result.output
        info = pyogrio.read_info(out, force_feature_count=True)
        assert info["features"] == 0 and info["geometry_type"] == "Polygon"
        types = dict(zip(info["fields"], info["ogr_types"], strict=True))
        assert {name: types[name] for name in text} == dict.fromkeys(text, "OFTString")
        assert {types[name] for name in ("iou", "best_iou", "confidence")} == {"OFTReal"}


@pytest.mark.parametrize("suffix", [".fgb", ".gpkg", ".geojson"])
def test_errors_file_of_3d_truth_and_2d_predictions(run_cli, tmp_path, suffix):
    """SpaceNet truth carries Z=0, predictions are 2D: FlatGeobuf refused the mixed layer
    with a traceback and no scores. Z, which the scores never use, is dropped where the
    polygons mix 2D and 3D; all-3D polygons keep it."""
    truth = write_vector(tmp_path / "t.geojson", shapely.force_3d([box(0, 0), box(30, 0)]))
    pred = write_vector(tmp_path / "p.geojson", [box(0, 0), box(200, 200)])
    out = tmp_path / f"errors{suffix}"
    result = run_cli("evaluate", pred, truth, "--errors", out)
    assert result.exit_code == 0, result.output
    assert "TP 1  FP 1  FN 1" in result.stdout
    frame = gpd.read_file(out, engine="pyogrio")
    assert sorted(frame.kind) == ["FN", "FP", "TP"]
    assert not shapely.has_z(frame.geometry.values).any()
    missed = frame[frame.kind == "FN"].to_crs(UTM_CRS).geometry.iloc[0]  # GeoJSON: lon/lat
    assert missed.hausdorff_distance(box(30, 0)) < 0.02
    both = run_cli("evaluate", truth, truth, "--errors", tmp_path / f"z{suffix}")
    assert both.exit_code == 0, both.output
    assert shapely.has_z(gpd.read_file(tmp_path / f"z{suffix}").geometry.values).all()


@pytest.mark.parametrize("target", ["truth", "prediction", "image"])
def test_errors_and_report_never_replace_an_input_even_with_overwrite(run_cli, tmp_path,
                                                                       target):
    pred, truth = vector_folders(tmp_path)
    files = {"prediction": pred / "a.geojson", "truth": truth / "a.geojson"}
    files["image"] = write_raster(tmp_path / "bg.png", np.zeros((3, 40, 40), np.uint8))
    before = {k: v.read_bytes() for k, v in files.items()}
    if target == "image":
        image = files["image"]
        result = run_cli("evaluate", files["prediction"], files["truth"], "--report", image,
                         "--image", image, "--overwrite")
    else:
        result = run_cli("evaluate", files["prediction"], files["truth"], "--errors",
                         files[target], "--overwrite")
    assert_one_line_error(result, "is the input", "Choose another")
    assert {k: v.read_bytes() for k, v in files.items()} == before


def test_spacenet_names_pair_and_clashes_are_one_line(tmp_path, run_cli):
    pred, truth = tmp_path / "pred", tmp_path / "truth"
    pred.mkdir()
    truth.mkdir()
    write_vector(pred / "RGB-PanSharpen_AOI_2_Vegas_img1.geojson", [box(0, 0)])
    write_vector(truth / "buildings_AOI_2_Vegas_img1.geojson", [box(0, 0)])
    write_vector(pred / "AOI_2_Vegas_img11.geojson", [box(0, 0)])
    write_vector(truth / "buildings_AOI_2_Vegas_img11.geojson", [box(50, 0)])
    pairs = pair_folders(pred, truth)
    assert list(pairs.pairs) == ["AOI_2_Vegas_img1", "AOI_2_Vegas_img11"]
    assert pairs.pairs["AOI_2_Vegas_img1"][1].name == "buildings_AOI_2_Vegas_img1.geojson"
    result = evaluate_folders(pred, truth)
    assert (result.scores.tp, result.scores.fp, result.scores.fn) == (1, 1, 1)

    write_vector(pred / "PS-RGB_AOI_2_Vegas_img1.geojson", [box(0, 0)])
    with pytest.raises(InputError, match="name the same image"):
        pair_folders(pred, truth)
    (pred / "PS-RGB_AOI_2_Vegas_img1.geojson").unlink()
    write_vector(pred / "AOI_2_Vegas_img11.gpkg", [box(0, 0)])
    with pytest.raises(InputError, match="share the name 'AOI_2_Vegas_img11'"):
        pair_folders(pred, truth)


def test_an_id_matching_two_truths_is_refused_even_when_one_has_its_exact_name(tmp_path,
                                                                               run_cli):
    """Prediction 1 names both a_1 and b_1 by the '_id' rule: once paired with b_1 without
    notice because a_1 had a prediction of its exact name, exit 0."""
    pred, truth = tmp_path / "pred", tmp_path / "truth"
    pred.mkdir()
    truth.mkdir()
    for folder, names in ((pred, ["1", "a_1"]), (truth, ["a_1", "b_1"])):
        for name in names:
            write_vector(folder / f"{name}.geojson", [box(0, 0)])
    with pytest.raises(InputError, match=r"1\.geojson matches a_1\.geojson, b_1\.geojson"):
        pair_folders(pred, truth)
    result = run_cli("evaluate", pred, truth)
    assert_one_line_error(result, "1.geojson matches a_1.geojson, b_1.geojson")
    # the mirror: truth 1 matched by predictions a_1 (its exact namesake taken) and b_1
    for folder in (pred, truth):
        for path in folder.iterdir():
            path.unlink()
    for folder, names in ((pred, ["a_1", "b_1"]), (truth, ["1", "a_1"])):
        for name in names:
            write_vector(folder / f"{name}.geojson", [box(0, 0)])
    with pytest.raises(InputError, match="name the same image"):
        pair_folders(pred, truth)
    # one candidate left is no ambiguity
    (truth / "a_1.geojson").unlink()
    (pred / "a_1.geojson").unlink()
    assert pair_folders(pred, truth).pairs["1"][0].name == "b_1.geojson"


def test_names_spelt_nfd_pair_with_the_same_names_spelt_nfc(tmp_path, run_cli):
    """Predictions written on macOS (Zu + combining diaeresis, NFD) and truth from Linux
    (Zürich in NFC) name one image: once left out with "no file of the same name" and exit
    0; the image keeps the truth's spelling."""
    pred, truth = tmp_path / "pred", tmp_path / "truth"
    pred.mkdir()
    truth.mkdir()
    write_vector(pred / "Zu\u0308rich_1.geojson", [box(0, 0)])
    write_vector(truth / "Z\u00fcrich_1.geojson", [box(0, 0)])
    write_vector(pred / "b.geojson", [box(0, 0)])
    write_vector(truth / "b.geojson", [box(0, 0)])
    pairs = pair_folders(pred, truth)
    assert list(pairs.pairs) == ["Z\u00fcrich_1", "b"]
    assert not pairs.unpaired_prediction and not pairs.unpaired_truth
    result = run_cli("evaluate", pred, truth, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tp"] == 2
    write_vector(pred / "Z\u00fcrich_1.geojson", [box(0, 0)])
    with pytest.raises(InputError, match="share the name"):
        pair_folders(pred, truth)


@pytest.mark.parametrize("image", ["AOI_2_Vegas_img{}",
                                   "SN2_buildings_train_AOI_2_Vegas_PS-RGB_img{}"])
@pytest.mark.parametrize("label", ["SN2_buildings_train_AOI_2_Vegas_geojson_buildings_img{}",
                                   "SN3_roads_train_AOI_2_Vegas_geojson_roads_img{}"])
def test_spacenet_release_label_names_pair_with_image_names(tmp_path, image, label):
    """The public release's truth (SN2_..._geojson_buildings_img1.geojson) paired with no
    prediction named after its image (AOI_2_Vegas_img1, SN2_..._PS-RGB_img1): exit 1."""
    pred, truth = tmp_path / "pred", tmp_path / "truth"
    pred.mkdir()
    truth.mkdir()
    for n, x in ((1, 0), (11, 50)):
        write_vector(pred / f"{image.format(n)}.gpkg", [box(0, 0)])
        write_vector(truth / f"{label.format(n)}.geojson", [box(x, 0)])
    pairs = pair_folders(pred, truth)
    assert {k: (p.stem, t.stem) for k, (p, t) in pairs.pairs.items()} == {
        f"AOI_2_Vegas_img{n}": (image.format(n), label.format(n)) for n in (1, 11)}
    result = evaluate_folders(pred, truth)
    assert (result.scores.tp, result.scores.fp, result.scores.fn) == (1, 1, 1)


@pytest.mark.parametrize("case", ["no pair", "rasters vs vectors", "folder vs file",
                                  "empty folder", "mixed truth"])
def test_mismatched_inputs_are_one_line_errors(tmp_path, run_cli, case):
    pred, truth = tmp_path / "pred", tmp_path / "truth"
    pred.mkdir()
    truth.mkdir()
    write_vector(truth / "a.geojson", [box(0, 0)])
    args, expected = (pred, truth), None
    if case == "no pair":
        write_vector(pred / "b.geojson", [box(0, 0)])
        expected = "no file of one has the name of a file of the other"
    elif case == "rasters vs vectors":
        write_raster(pred / "a.tif", np.zeros((8, 8), np.uint8))
        expected = "compare like with like"
    elif case == "folder vs file":
        args, expected = (pred, truth / "a.geojson"), "is a folder but"
    elif case == "empty folder":
        expected = "no raster or vector file in the folder"
    else:
        write_vector(pred / "a.geojson", [box(0, 0)])
        write_raster(truth / "b.tif", np.zeros((8, 8), np.uint8))
        expected = "holds both rasters and vector files"
    result = run_cli("evaluate", *args)
    assert result.exit_code == 1, result.output
    assert expected in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_raster_folders_sum_the_confusion_matrices(tmp_path, run_cli):
    pred, truth = tmp_path / "pred", tmp_path / "truth"
    pred.mkdir()
    truth.mkdir()
    t1 = np.zeros((10, 10), np.uint8)
    t1[:5] = 1  # 50 positive pixels
    p1 = np.zeros((10, 10), np.uint8)
    p1[:4] = 1  # 40 TP, 10 FN
    p1[9, :3] = 1  # 3 FP
    t2 = np.zeros((10, 10), np.uint8)
    p2 = np.zeros((10, 10), np.uint8)
    p2[0, :7] = 1  # 7 FP, nothing true
    for folder, a, b in ((truth, t1, t2), (pred, p1, p2)):
        write_raster(folder / "one.tif", a)
        write_raster(folder / "two.tif", b)
    result = evaluate_folders(pred, truth)
    rows = result.rows()
    assert (rows["one"]["tp"], rows["one"]["fp"], rows["one"]["fn"]) == (40, 3, 10)
    assert (rows["two"]["tp"], rows["two"]["fp"], rows["two"]["fn"]) == (0, 7, 0)
    assert result.scores.confusion.tolist() == [[47 + 93, 3 + 7], [10, 40]]
    cli = run_cli("evaluate", pred, truth, "--json")
    d = json.loads(cli.stdout)
    assert d["mode"] == "pixel" and d["images"] == 2
    # --help listed min_area among every several-image result's keys: pixel folders have none
    assert "min_area" not in d
    help_text = " ".join(run_cli("evaluate", "--help").stdout.split())
    assert "plus images, min_area (objects), per_image" in help_text
    assert (d["foreground"]["tp"], d["foreground"]["fp"], d["foreground"]["fn"]) == (40, 10, 10)
    assert d["confusion_matrix"] == [[140, 10], [10, 40]]
    text = run_cli("evaluate", pred, truth).stdout
    assert "TP 40  FP 10  FN 10" in text and "Confusion matrix" in text
    errors = run_cli("evaluate", pred, truth, "--errors", tmp_path / "e.gpkg")
    assert errors.exit_code == 2 and "holds rasters" in errors.stderr
    assert not (tmp_path / "e.gpkg").exists()
    area = run_cli("evaluate", pred, truth, "--min-area", "5")
    assert area.exit_code == 2 and "--min-area" in area.stderr


def test_a_tile_empty_on_both_sides_has_no_scores_in_a_folder(tmp_path, run_cli):
    """A tile with no building in the truth nor the prediction (a perfect answer) was listed
    TP 0 FP 0 FN 0 with precision, recall, F1 and IoU 0.0000: 0/0, now NaN (Python), null
    (--json), '-' (table). The totals pool the counts and keep their values."""
    pred, truth = tmp_path / "pred", tmp_path / "truth"
    pred.mkdir()
    truth.mkdir()
    t1 = np.zeros((10, 10), np.uint8)
    t1[:5] = 255
    p1 = t1.copy()
    p1[:1] = 0  # 40 TP, 10 FN
    for folder, a in ((truth, t1), (pred, p1)):
        write_raster(folder / "one.tif", a)
        write_raster(folder / "two.tif", np.zeros((10, 10), np.uint8))
    result = evaluate_folders(pred, truth)
    two = result.rows()["two"]
    assert (two["tp"], two["fp"], two["fn"], two["mean_iou"]) == (0, 0, 0, 1.0)
    assert all(np.isnan(two[k]) for k in ("precision", "recall", "f1", "iou"))
    assert result.rows()["one"]["iou"] == pytest.approx(0.8)
    cli = run_cli("evaluate", pred, truth, "--json")
    assert cli.exit_code == 0, cli.output
    assert "NaN" not in cli.stdout
    d = json.loads(cli.stdout)
    row = d["per_image"]["two"]
    assert [row[k] for k in ("precision", "recall", "f1", "iou")] == [None] * 4
    assert d["foreground"]["iou"] == pytest.approx(0.8) and d["mean_iou"] > 0.8
    text = run_cli("evaluate", pred, truth).stdout.splitlines()
    line = next(t for t in text if t.strip().startswith("two "))
    assert line.split() == ["two", "0", "0", "0", "-", "-", "-", "-"], line
    assert "IoU 0.8000" in "\n".join(text)


def test_255_means_one_thing_across_a_folder_of_masks(tmp_path):
    """mmseg/LoveDA masks: 0 background, 1 building, 255 ignore. A tile without buildings
    holds only 0 and 255, like an INRIA 0/255 mask; its 255 strip was scored as 40 missed
    building pixels (recall 0.71). The folder decides: 255 is ignore in every tile."""
    pred, truth = tmp_path / "pred", tmp_path / "truth"
    pred.mkdir()
    truth.mkdir()
    t1 = np.zeros((20, 20), np.uint8)
    t1[5:15, 5:15] = 1
    t1[:, :2] = 255
    t2 = np.zeros((20, 20), np.uint8)
    t2[:, :2] = 255  # no building, the same ignore strip
    write_raster(truth / "tile1.tif", t1)
    write_raster(truth / "tile2.tif", t2)
    write_raster(pred / "tile1.tif", np.where(t1 == 1, 1, 0).astype(np.uint8))
    write_raster(pred / "tile2.tif", np.zeros((20, 20), np.uint8))
    result = evaluate_folders(pred, truth)
    rows = result.rows()
    assert (rows["tile1"]["tp"], rows["tile1"]["fp"], rows["tile1"]["fn"]) == (100, 0, 0)
    assert (rows["tile2"]["tp"], rows["tile2"]["fp"], rows["tile2"]["fn"]) == (0, 0, 0)
    assert result.scores.confusion.tolist() == [[620, 0], [0, 100]]
    # a folder of INRIA 0/255 masks: 255 is the building in each, empty tiles included
    for folder, a, b in ((truth, t1, t2), (pred, t1, t2)):
        write_raster(folder / "tile1.tif", np.where(a == 1, 255, 0).astype(np.uint8))
        write_raster(folder / "tile2.tif", np.where(b == 255, 255, 0).astype(np.uint8))
    write_raster(pred / "tile2.tif", np.zeros((20, 20), np.uint8))
    rows = evaluate_folders(pred, truth).rows()
    assert (rows["tile1"]["tp"], rows["tile1"]["fp"], rows["tile1"]["fn"]) == (100, 0, 0)
    assert (rows["tile2"]["tp"], rows["tile2"]["fp"], rows["tile2"]["fn"]) == (0, 0, 40)


def test_nodata_0_over_a_folder_is_said_once_with_totals(tmp_path, run_cli):
    """Truth tiles, 0/1 masks declaring nodata 0 (gdal_rasterize -a_nodata 0): their 0 was
    left out as nodata (150 background pixels unscored, warned of). It is background, as
    make-masks and tile read it (raster_kinds.zero_nodata), said in one line for the
    folder; tiles of several class ids keep 0 as no data, in one line with the share of
    the pixels left out and the fix."""
    pred, truth = tmp_path / "pred", tmp_path / "truth"
    pred.mkdir()
    truth.mkdir()
    classes = np.zeros((10, 10), np.uint8)
    classes[:, 5:] = 1  # 50 background pixels per tile
    for k in range(4):
        write_raster(pred / f"t{k}.tif", classes)
        write_raster(truth / f"t{k}.tif", classes, nodata=0 if k != 2 else None)
    result = run_cli("evaluate", pred, truth, "--json")
    assert result.exit_code == 0, result.output
    said = [line for line in result.stderr.splitlines() if "nodata" in line]
    assert len(said) == 1, result.stderr
    assert "truth/t0.tif and 2 other rasters: a 0/1 mask declaring nodata 0" in said[0]
    assert json.loads(result.stdout)["pixels"] == 4 * 100
    classes[:2] = 2  # 0 on 40 of 100 pixels per tile
    for k in range(4):
        write_raster(pred / f"t{k}.tif", classes)
        write_raster(truth / f"t{k}.tif", classes, nodata=0)
    result = run_cli("evaluate", pred, truth, "--json")
    assert result.exit_code == 0, result.output
    said = [line for line in result.stderr.splitlines() if "nodata" in line]
    assert len(said) == 1, result.stderr
    assert "truth/t0.tif and 3 other rasters: class ids (1, 2, ...)" in said[0]
    assert "40% of the pixels left out" in said[0] and "-unsetnodata on each" in said[0]
    assert json.loads(result.stdout)["pixels"] == 4 * 60

def test_a_folder_reads_nodata_0_of_its_tiles_alike(tmp_path, run_cli):
    """Two tiles of one land cover dataset declaring nodata 0 over one no-data strip: a.tif
    holds several ids, so its 0 was no data, while b.tif holds 0 and 1 only, so its 0 was
    scored as background (1000 px, confusion row background [0, 1000, 0, 0]). One tile of
    several ids makes 0 no data in every unnamed tile of that side."""
    pred, truth = tmp_path / "pred", tmp_path / "truth"
    pred.mkdir()
    truth.mkdir()
    a = np.ones((100, 100), np.uint8)
    a[:, 50:] = 2
    a[80:, :] = 3
    a[:, :10] = 0
    b = np.ones((100, 100), np.uint8)
    b[:, :10] = 0
    for name, labels in (("a", a), ("b", b)):
        write_raster(truth / f"{name}.tif", labels, nodata=0)
        write_raster(pred / f"{name}.tif", np.where(labels == 0, 1, labels).astype(np.uint8))
    result = run_cli("evaluate", pred, truth, "--json")
    assert result.exit_code == 0, result.output
    said = [line for line in result.stderr.splitlines() if "nodata" in line]
    assert len(said) == 1 and "truth/a.tif and 1 other rasters: class ids (1, 2, ...)" \
        in said[0], result.stderr
    report = json.loads(result.stdout)
    assert report["pixels"] == 2 * 9000
    assert report["accuracy"] == 1


def test_min_area_in_square_metres_for_vectors(tmp_path, run_cli):
    truth = write_vector(tmp_path / "truth.geojson", [box(0, 0), box(50, 0, 2, 2)])  # 100, 4
    pred = write_vector(tmp_path / "pred.geojson", [box(0, 0), box(50, 0, 2, 2),
                                                    box(80, 0, 2, 3)])  # 100, 4, 6 m^2
    plain = evaluate_vectors(pred, truth).scores
    assert (plain.tp, plain.fp, plain.fn) == (2, 1, 0)
    ruled = evaluate_vectors(pred, truth, min_area=5).scores
    assert (ruled.tp, ruled.fp, ruled.fn) == (1, 1, 0)  # the 4 m^2 pair is left out
    edge = evaluate_vectors(pred, truth, min_area=6).scores
    assert (edge.tp, edge.fp, edge.fn) == (1, 0, 0)  # proposals of area <= 6 out
    # a geographic CRS: areas measured in metres, not square degrees
    geo_truth = write_vector(tmp_path / "geo.geojson", [box(0, 0), box(50, 0, 2, 2)],
                             crs="EPSG:4326")
    geo = evaluate_vectors(pred, geo_truth, min_area=5).scores
    assert (geo.tp, geo.fp, geo.fn) == (1, 1, 0)
    # a CRS in feet (US state planes): square metres, not square feet (4 m^2 is 46 ft^2)
    feet = "+proj=utm +zone=16 +datum=WGS84 +units=us-ft +no_defs"
    feet_truth = write_vector(tmp_path / "ft_truth.gpkg", [box(0, 0), box(50, 0, 2, 2)],
                              crs=feet)
    feet_pred = write_vector(tmp_path / "ft_pred.gpkg", [box(0, 0), box(50, 0, 2, 2),
                                                         box(80, 0, 2, 3)], crs=feet)
    in_feet = evaluate_vectors(feet_pred, feet_truth, min_area=5).scores
    assert (in_feet.tp, in_feet.fp, in_feet.fn) == (1, 1, 0)
    d = json.loads(run_cli("evaluate", pred, truth, "--min-area", "5", "--json").stdout)
    assert (d["tp"], d["fp"], d["fn"]) == (1, 1, 0)
    assert "m^2" in run_cli("evaluate", "--help").stdout


def test_geo_only_csvs_do_not_drop_every_building(tmp_path, caplog):
    """Without pixel WKT the px^2 rule cannot apply: 20 (square degrees) dropped everything."""
    geo = shapely.box(-115.30, 36.20, -115.2999, 36.2001).wkt
    truth = write_rows(tmp_path / "truth.csv", ["ImageId", "BuildingId", "PolygonWKT_Geo"],
                       [["AOI_2_Vegas_img1", 0, geo]])
    proposals = write_rows(tmp_path / "proposals.csv",
                           ["ImageId", "BuildingId", "PolygonWKT_Geo", "Confidence"],
                           [["AOI_2_Vegas_img1", 0, geo, 1.0]])
    with caplog.at_level("WARNING", logger="geotile"):
        result = evaluate_csvs(proposals, truth)
    assert (result.scores.tp, result.scores.fp, result.scores.fn) == (1, 0, 0)
    assert result.coordinates == "geo" and "not applied" in caplog.text


def test_csv_pair_errors_file(tmp_path, run_cli):
    proposals, truth = sn2_pair(tmp_path)
    out = tmp_path / "errors.gpkg"
    result = run_cli("evaluate", proposals, truth, "--errors", out)
    assert result.exit_code == 0, result.output
    assert "TP 1  FP 3  FN 2" in result.stdout and "recall" in result.stdout
    frame = gpd.read_file(out, engine="pyogrio")
    assert frame.crs is None  # pixel coordinates: the truth has no Geo WKT
    said = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(said) == 1 and "errors.gpkg" in said[0] and "pixel coordinates" in said[0], said
    assert "truth.csv" in said[0] and "PolygonWKT_Geo" in said[0]
    counts = frame.groupby(["image", "kind"]).size().to_dict()
    assert counts == {("AOI_2_Vegas_img1", "TP"): 1, ("AOI_2_Vegas_img1", "FP"): 2,
                      ("AOI_2_Vegas_img1", "FN"): 1, ("AOI_2_Vegas_img2", "FP"): 1,
                      ("AOI_2_Vegas_img3", "FN"): 1}
    tp = frame[frame.kind == "TP"].iloc[0]
    assert tp.iou == pytest.approx(0.6) and tp.confidence == pytest.approx(0.9)
    assert tp.geometry.equals(shapely.box(0, 0, 10, 6))
    near = frame[(frame.kind == "FP") & (frame.confidence == 0.4)].iloc[0]
    assert np.isnan(near.iou) and near.best_iou == pytest.approx(0.9)


def test_pixel_errors_are_refused_as_geojson(tmp_path, run_cli):
    """Pixel-only SpaceNet CSVs with --errors x.geojson wrote pixel coordinates (y down,
    up to 725) into a GeoJSON, which is EPSG:4326 by definition: QGIS read latitudes of
    725 degrees. GeoJSON cannot hold them: one line naming the fix, nothing written."""
    proposals, truth = sn2_pair(tmp_path)
    out = tmp_path / "errors.geojson"
    result = run_cli("evaluate", proposals, truth, "--errors", out)
    assert_one_line_error(result, "errors.geojson", "pixel coordinates", ".gpkg",
                          "PolygonWKT_Geo")
    assert sorted(tmp_path.iterdir()) == sorted([proposals, truth])
    # vector files without a CRS (labels in pixel coordinates) alike
    pixels = [tmp_path / "p.gpkg", tmp_path / "t.gpkg"]
    for path in pixels:
        gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 10, 10)]).to_file(path, engine="pyogrio")
    result = run_cli("evaluate", *pixels, "--errors", out)
    assert_one_line_error(result, "errors.geojson", "no CRS", ".gpkg")
    assert not out.exists()
    result = run_cli("evaluate", *pixels, "--errors", tmp_path / "e.gpkg")
    assert result.exit_code == 0, result.output
    assert gpd.read_file(tmp_path / "e.gpkg").kind.tolist() == ["TP"]


def test_csvs_whose_errors_geojson_is_refused_print_no_scores(tmp_path, run_cli):
    """SpaceNet CSVs with --errors x.geojson printed the whole result (tp 151 ...) and then
    exited 1, saying both files 'lack PolygonWKT_Geo' though the truth has the column (its
    cells the placeholder 1). Refused before scoring: nothing on stdout, one line naming the
    file without the column and the file whose cells are not WKT."""
    header = ["ImageId", "BuildingId", "PolygonWKT_Pix"]
    truth = write_rows(tmp_path / "truth.csv", [*header, "PolygonWKT_Geo"],
                       [["img1", 0, shapely.box(0, 0, 10, 10).wkt, 1]])
    proposals = write_rows(tmp_path / "proposals.csv", [*header, "Confidence"],
                           [["img1", 0, shapely.box(0, 0, 10, 10).wkt, 0.9]])
    out = tmp_path / "errors.geojson"
    for extra in ((), ("--json",)):
        result = run_cli("evaluate", proposals, truth, "--errors", out, *extra)
        assert_one_line_error(result, "errors.geojson", "proposals.csv has no PolygonWKT_Geo",
                              "truth.csv's PolygonWKT_Geo is not WKT", "'1'", ".gpkg")
        assert result.stdout == ""
        assert " lack " not in result.stderr
    assert not out.exists()
    empty = write_rows(tmp_path / "empty.csv", [*header, "PolygonWKT_Geo"],
                       [["img1", 0, shapely.box(0, 0, 10, 10).wkt, "POLYGON EMPTY"]])
    result = run_cli("evaluate", empty, truth, "--errors", out)
    assert_one_line_error(result, "empty.csv's PolygonWKT_Geo is POLYGON EMPTY", "line 2")
    assert result.stdout == ""
    ok = run_cli("evaluate", proposals, truth, "--errors", tmp_path / "e.gpkg")
    assert ok.exit_code == 0 and "TP 1  FP 0  FN 0" in ok.stdout, ok.output
    assert "proposals.csv has no PolygonWKT_Geo" in ok.stderr


def test_csv_errors_in_map_coordinates_when_both_have_geo(tmp_path):
    geo = [shapely.box(-115.3, 36.2, -115.2999, 36.2001), shapely.box(-115.1, 36.2, -115.0999,
                                                                      36.2001)]
    header = ["ImageId", "BuildingId", "PolygonWKT_Pix", "PolygonWKT_Geo"]
    truth = write_rows(tmp_path / "truth.csv", header,
                       [["img1", 0, shapely.box(0, 0, 10, 10).wkt, geo[0].wkt]])
    proposals = write_rows(tmp_path / "proposals.csv", [*header, "Confidence"], [
        ["img1", 0, shapely.box(0, 0, 10, 10).wkt, geo[0].wkt, 0.9],
        ["img1", 1, shapely.box(50, 0, 60, 10).wkt, geo[1].wkt, 0.8]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # map coordinates: nothing to warn of
        write_errors(evaluate_csvs(proposals, truth), tmp_path / "e.gpkg")
    frame = gpd.read_file(tmp_path / "e.gpkg", engine="pyogrio")
    assert frame.crs.to_epsg() == 4326 and frame.kind.tolist() == ["TP", "FP"]
    assert frame.geometry.iloc[1].equals(geo[1]) and frame.iou.iloc[0] == 1.0


def test_real_spacenet_csvs_and_folders(real_data, tmp_path, run_cli):
    folder = real_data / "spacenet"
    out = tmp_path / "errors.gpkg"
    result = run_cli("evaluate", folder / "sample_preds.csv", folder / "sample_truth.csv",
                     "--errors", out, "--json")
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert (d["tp"], d["fp"], d["fn"], d["min_area"]) == (151, 0, 0, 20.0)
    frame = gpd.read_file(out, engine="pyogrio")
    assert len(frame) == 151 and set(frame.kind) == {"TP"} and (frame.iou > 0.5).all()
    assert frame.crs is None  # pixel coordinates: the proposals carry no PolygonWKT_Geo

    pred, truth = tmp_path / "pred", tmp_path / "truth"
    pred.mkdir()
    truth.mkdir()
    shutil.copy(folder / "pred.geojson", pred / "tile.geojson")
    shutil.copy(folder / "gt.geojson", truth / "tile.geojson")
    shutil.copy(folder / "gt.geojson", truth / "tile2.geojson")
    shutil.copy(folder / "pred.geojson", pred / "tile2.geojson")
    single = evaluate_vectors(folder / "pred.geojson", folder / "gt.geojson").scores
    many = evaluate_folders(pred, truth).scores
    assert (many.tp, many.fp, many.fn) == (2 * single.tp, 2 * single.fp, 2 * single.fn)
    assert many.f1 == pytest.approx(single.f1)


def test_per_class_totals_over_folders(tmp_path, run_cli):
    pred, truth = tmp_path / "pred", tmp_path / "truth"
    pred.mkdir()
    truth.mkdir()
    write_vector(truth / "a.geojson", [box(0, 0), box(30, 0)], kind=["house", "shed"])
    write_vector(pred / "a.geojson", [box(0, 0), box(30, 0)], kind=["house", "house"])
    write_vector(truth / "b.geojson", [box(0, 0)], kind=["shed"])
    write_vector(pred / "b.geojson", [box(0, 0)], kind=["shed"])
    result = evaluate_folders(pred, truth, class_field="kind")
    house, shed = result.per_class["house"], result.per_class["shed"]
    assert (house.tp, house.fp, house.fn) == (1, 1, 0)
    assert (shed.tp, shed.fp, shed.fn) == (1, 0, 1)
    d = json.loads(run_cli("evaluate", pred, truth, "--class-field", "kind", "--json").stdout)
    assert d["per_class"]["shed"]["fn"] == 1 and d["per_image"]["b"]["tp"] == 1
    text = run_cli("evaluate", pred, truth, "--class-field", "kind").stdout
    assert "per class (all images)" in text and "class" in text
    report = run_cli("evaluate", pred, truth, "--report", tmp_path / "r.png")
    assert report.exit_code == 2 and "--errors" in report.stderr


def test_dataset_image_and_mask_names_pair_predictions_with_truth(tmp_path):
    """Predictions named after DeepGlobe's images (104_sat.tif) pair with its masks
    (104_mask.tif); neither scene takes the other's truth."""
    pred, truth = tmp_path / "pred", tmp_path / "truth"
    pred.mkdir()
    truth.mkdir()
    one, two = np.zeros((10, 10), np.uint8), np.zeros((10, 10), np.uint8)
    one[:5] = 1  # 50 pixels
    two[:, :2] = 1  # 20 pixels
    for name, array in (("104", one), ("207", two)):
        write_raster(pred / f"{name}_sat.tif", array)
        write_raster(truth / f"{name}_mask.tif", array)
    pairs = pair_folders(pred, truth)
    assert {k: (p.name, t.name) for k, (p, t) in pairs.pairs.items()} == {
        "104": ("104_sat.tif", "104_mask.tif"), "207": ("207_sat.tif", "207_mask.tif")}
    rows = evaluate_folders(pred, truth).rows()
    assert (rows["104"]["tp"], rows["104"]["fp"], rows["104"]["fn"]) == (50, 0, 0)
    assert (rows["207"]["tp"], rows["207"]["fp"], rows["207"]["fn"]) == (20, 0, 0)


def test_same_names_in_both_folders_pair_though_one_reads_as_a_scene_of_the_other(tmp_path):
    """Prediction and truth folders each holding farm.tif and farm-ortho.tif (x.tif and
    x_sat.tif): since -ortho became an image suffix, farm-ortho.tif was taken for the
    image of the mask farm.tif in both folders and left out unsaid (1 pair of 2 scored).
    A file pairs with its namesake when the 'mask' pairs with its own too."""
    pred, truth = _mask_folders(tmp_path, [(s, s, rows) for s, rows in (
        ("farm", 5), ("farm-ortho", 2), ("x", 3), ("x_sat", 4))])
    pairs = pair_folders(pred, truth)
    assert {k: (p.name, t.name) for k, (p, t) in pairs.pairs.items()} == {
        s: (f"{s}.tif", f"{s}.tif") for s in ("farm", "farm-ortho", "x", "x_sat")}
    rows = evaluate_folders(pred, truth).rows()
    assert {k: (r["tp"], r["fp"], r["fn"]) for k, r in rows.items() if k in pairs.pairs} == {
        "farm": (50, 0, 0), "farm-ortho": (20, 0, 0), "x": (30, 0, 0), "x_sat": (40, 0, 0)}


def _mask_folders(tmp_path, rasters):
    """pred/ and truth/ folders of 10 x 10 masks, (prediction stem, truth stem, rows of 1
    from the top) each, the same mask on both sides."""
    pred, truth = tmp_path / "pred", tmp_path / "truth"
    pred.mkdir()
    truth.mkdir()
    for stem, truth_stem, rows in rasters:
        array = np.zeros((10, 10), np.uint8)
        array[:rows] = 1
        write_raster(pred / f"{stem}.tif", array)
        write_raster(truth / f"{truth_stem}.tif", array)
    return pred, truth


def test_a_mask_named_after_the_whole_image_pairs_beside_its_scenes_namesake(tmp_path):
    """Predictions farm.tif and farm-ortho.tif with truths farm.tif and
    farm-ortho_mask.tif were refused ('farm-ortho.tif, farm-ortho_mask.tif name the same
    image (farm)') once -ortho became an image suffix: a mask named after the whole image
    names that image, not its scene; DeepGlobe's 104_mask still names 104_sat's scene."""
    pred, truth = _mask_folders(tmp_path, [("farm", "farm", 5),
                                           ("farm-ortho", "farm-ortho_mask", 2),
                                           ("104_sat", "104_mask", 3)])
    pairs = pair_folders(pred, truth)
    assert {k: (p.name, t.name) for k, (p, t) in pairs.pairs.items()} == {
        "farm": ("farm.tif", "farm.tif"),
        "farm-ortho": ("farm-ortho.tif", "farm-ortho_mask.tif"),
        "104": ("104_sat.tif", "104_mask.tif")}
    rows = evaluate_folders(pred, truth).rows()
    assert {k: r["tp"] for k, r in rows.items() if k in pairs.pairs} == {
        "farm": 50, "farm-ortho": 20, "104": 30}


def test_spacenet7_building_labels_pair_with_predictions_of_their_mosaics(tmp_path):
    """SpaceNet 7 names each month's labels after its mosaic with _Buildings
    (labels_match/global_monthly_2018_01_mosaic_L15-0331E-1257N_1327_3160_13_Buildings.geojson
    for images/..._13.tif): predictions named after the mosaics paired with nothing ('no
    truth for ...'); each month takes its own truth."""
    pred, truth = tmp_path / "pred", tmp_path / "truth"
    pred.mkdir()
    truth.mkdir()
    months = {"2018_01": 1, "2018_02": 3}
    for month, count in months.items():
        stem = f"global_monthly_{month}_mosaic_L15-0331E-1257N_1327_3160_13"
        boxes = [shapely.box(X0 + 10 * i, Y0 - 8, X0 + 10 * i + 6, Y0) for i in range(count)]
        gpd.GeoDataFrame(geometry=boxes, crs=UTM_CRS).to_file(pred / f"{stem}.gpkg")
        gpd.GeoDataFrame(geometry=boxes, crs=UTM_CRS).to_file(
            truth / f"{stem}_Buildings.geojson")
    pairs = pair_folders(pred, truth)
    assert sorted((p.name, t.name) for p, t in pairs.pairs.values()) == [
        (f"global_monthly_{m}_mosaic_L15-0331E-1257N_1327_3160_13.gpkg",
         f"global_monthly_{m}_mosaic_L15-0331E-1257N_1327_3160_13_Buildings.geojson")
        for m in months]
    rows = evaluate_folders(pred, truth).rows()
    assert sorted((row["tp"], row["fp"], row["fn"]) for row in rows.values()) == [
        (1, 0, 0), (3, 0, 0)]


def test_min_area_in_ground_square_metres_in_web_mercator(tmp_path):
    """EPSG:3857 at 60 N: a unit is half a ground metre, a square unit a quarter of a square
    metre. A 4 x 4 unit building is 4 m^2 on the ground (16 "m^2" in Mercator units)."""
    y60 = 8399737.89  # 60 deg N in EPSG:3857
    boxes = [shapely.box(0, y60, 10, y60 + 10), shapely.box(50, y60, 54, y60 + 4)]
    for name in ("truth.gpkg", "pred.gpkg"):  # 25 and 4 ground m^2
        gpd.GeoDataFrame(geometry=boxes, crs="EPSG:3857").to_file(tmp_path / name)
    truth, pred = tmp_path / "truth.gpkg", tmp_path / "pred.gpkg"
    ruled = evaluate_vectors(pred, truth, min_area=5).scores
    assert (ruled.tp, ruled.fp, ruled.fn) == (1, 0, 0)  # the 4 m^2 pair is left out
    kept = evaluate_vectors(pred, truth, min_area=3).scores
    assert (kept.tp, kept.fp, kept.fn) == (2, 0, 0)


def test_folders_of_jpeg_masks_pair_as_single_jpeg_files_are_scored(tmp_path):
    """Folders of .jpg masks and predictions were refused ('no raster or vector file in
    the folder ... Check the path') although one .jpg pair is scored. JPEG, BMP and the
    other rasters make-masks reads pair like GeoTIFFs; a DeepGlobe folder holding each
    mask's photo too (104_sat.jpg beside 104_mask.png) pairs the masks, not the photos."""
    import warnings

    import rasterio
    from PIL import Image

    pred, truth = tmp_path / "pred", tmp_path / "truth"
    pred.mkdir()
    truth.mkdir()
    mask = np.zeros((64, 64), np.uint8)
    mask[8:40, 8:40] = 255  # 1024 px
    for name, suffix in (("a", ".jpg"), ("b", ".bmp")):
        Image.fromarray(mask).save(pred / f"{name}{suffix}")
        Image.fromarray(mask).save(truth / f"{name}{suffix}")
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(truth / "c_sat.jpg")
    Image.fromarray(mask).save(truth / "c_mask.png")
    Image.fromarray(mask).save(pred / "c_sat.png")
    pairs = pair_folders(pred, truth)
    assert {k: (p.name, t.name) for k, (p, t) in pairs.pairs.items()} == {
        "a": ("a.jpg", "a.jpg"), "b": ("b.bmp", "b.bmp"), "c": ("c_sat.png", "c_mask.png")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        rows = evaluate_folders(pred, truth).rows()
    with rasterio.open(truth / "a.jpg") as src:
        high = int((src.read(1) >= 128).sum())
    assert (rows["a"]["tp"], rows["a"]["fp"], rows["a"]["fn"]) == (high, 0, 0)
    assert (rows["b"]["tp"], rows["c"]["tp"], rows["c"]["fn"]) == (1024, 1024, 0)


def test_folders_of_envi_rasters_pair_by_their_data_files(tmp_path):
    """A truth folder of ENVI .dat rasters (each with its .hdr) is scored as one .dat is:
    the data files pair, the headers are no rasters of their own."""
    from tests.conftest import write_raster

    pred, truth = tmp_path / "pred", tmp_path / "truth"
    pred.mkdir()
    truth.mkdir()
    ids = (np.arange(20 * 20).reshape(20, 20) % 3).astype(np.uint8)
    for name in ("a", "b"):
        write_raster(truth / f"{name}.dat", ids, driver="ENVI")
        write_raster(pred / f"{name}.tif", ids)
    pairs = pair_folders(pred, truth)
    assert {k: (p.name, t.name) for k, (p, t) in pairs.pairs.items()} == {
        "a": ("a.tif", "a.dat"), "b": ("b.tif", "b.dat")}
    assert not pairs.unpaired_prediction and not pairs.unpaired_truth
    rows = evaluate_folders(pred, truth).rows()
    assert rows["a"]["pixels"] == rows["b"]["pixels"] == 400


def test_folders_of_grey_class_masks_are_ids_and_of_jpeg_masks_are_masks(tmp_path):
    """A folder of class truths saved as 0/64/128/192/255 was read, pooled, as JPEG-noisy
    0/255 masks (classes merged into 'class 1'); a folder of JPEG 0/255 masks, whose
    strays lie at 0 <-> 255 edges, stays a folder of masks: 1 from 128 up."""
    from PIL import Image

    from tests.test_vectorize_inputs import _grey_classes, _instance_ids

    for name in ("gp", "gt", "jp", "jt"):
        (tmp_path / name).mkdir()
    grey = _grey_classes()
    pred = np.where(grey == 128, 64, np.where(grey == 255, 0, grey)).astype(np.uint8)
    for k in range(2):
        write_raster(tmp_path / "gp" / f"t{k}.tif", pred)
        write_raster(tmp_path / "gt" / f"t{k}.tif", grey)
    result = evaluate_folders(tmp_path / "gp", tmp_path / "gt")
    c = result.scores.confusion
    assert c.shape == (193, 193) and c[64, 64] == 2 * 400 * 60 and c[192, 192] == 2 * 400 * 60
    assert result.scores.pixels == 2 * 400 * 340
    ones = {}
    for k in range(2):
        mask = (_instance_ids()[:, ::1 - 2 * k] > 0) * 255  # as it is; mirrored
        Image.fromarray(mask.astype(np.uint8)).save(tmp_path / f"m{k}.jpg", quality=75)
        decoded = np.asarray(Image.open(tmp_path / f"m{k}.jpg"))
        ones[k] = (decoded >= 128).astype(np.uint8)
        write_raster(tmp_path / "jt" / f"t{k}.tif", decoded)
        write_raster(tmp_path / "jp" / f"t{k}.tif", ones[k])
    result = evaluate_folders(tmp_path / "jp", tmp_path / "jt")
    positive = int(ones[0].sum() + ones[1].sum())
    assert result.scores.confusion.tolist() == [[2 * 400 * 600 - positive, 0], [0, positive]]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_a_folder_of_wide_class_truths_reads_255_alike(tmp_path, run_cli, dtype):
    """uint16 truths of ids 0..3 with 255 unlabelled, one tile holding only 0 and 255: that
    tile was read alone as a 0/255 mask (its 5000 unlabelled px scored as missed class 1,
    mIoU 0.725 over 19000 px) while a uint8 folder decides what 255 means for all its
    tiles. Both read 255 as the ignore value: 14000 px, mIoU 1."""
    truth, prediction = tmp_path / "truth", tmp_path / "pred"
    truth.mkdir()
    prediction.mkdir()
    a = np.zeros((100, 100), np.uint8)
    a[:, 20:40], a[:, 40:60], a[:, 60:80], a[:, 90:] = 1, 2, 3, 255
    b = np.zeros((100, 100), np.uint8)
    b[:, 50:] = 255
    for name, ids in (("a", a), ("b", b)):
        write_raster(truth / f"{name}.tif", ids.astype(dtype))
        write_raster(prediction / f"{name}.tif", np.where(ids == 255, 0, ids).astype(np.uint8))
    result = run_cli("evaluate", prediction, truth, "--json")
    assert result.exit_code == 0, result.output
    total = json.loads(result.stdout)
    assert total["pixels"] == 14000 and total["mean_iou"] == 1.0



def test_buildings_across_the_antimeridian_are_scored_whole_in_lonlat(run_cli, tmp_path):
    """UTM 60S predictions against lon/lat truth cut at longitude 180 (RFC 7946 GeoJSON, as
    --errors and vectorize write it): the reprojected predictions wrapped round the globe,
    TP 0 FP 2 FN 2 with exit 0. Both are made whole; the errors GeoJSON keeps each polygon
    within metres of 180, cut there."""
    from pyproj import Transformer

    x, y = Transformer.from_crs(4326, 32760, always_xy=True).transform(180.0, -17.0)
    found = [shapely.box(x - 20, y - 10, x + 20, y + 10),
             shapely.box(x - 10, y + 40, x + 5, y + 60)]
    missed = shapely.box(x - 30, y - 60, x + 25, y - 40)
    utm, lonlat = tmp_path / "utm.gpkg", tmp_path / "lonlat.geojson"
    gpd.GeoDataFrame(geometry=found, crs=32760).to_file(utm, engine="pyogrio")
    gpd.GeoDataFrame(geometry=[*found, missed], crs=32760).to_file(
        lonlat, engine="pyogrio", layer_options={"RFC7946": "YES"})
    out = tmp_path / "errors.geojson"
    result = run_cli("evaluate", utm, lonlat, "--json", "--errors", out)
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert (scores["tp"], scores["fp"], scores["fn"]) == (2, 0, 1)
    assert scores["mean_iou"] > 0.99
    frame = gpd.read_file(out, engine="pyogrio")
    assert sorted(frame.kind) == ["FN", "TP", "TP"]
    lon = shapely.get_coordinates(frame.geometry.values)[:, 0]
    assert (np.abs(np.abs(lon) - 180) < 3e-4).all()  # 30 m of longitude at 17 S
    back = frame.dissolve("kind").geometry.to_crs(32760)
    for kind, expected in (("TP", shapely.union_all(found)), ("FN", missed)):
        assert back[kind].symmetric_difference(expected).area < 1e-3 * expected.area


@pytest.mark.parametrize(("cut", "utm"), [("truth", False), ("truth", True),
                                          ("prediction", False)])
def test_a_building_just_east_of_180_matches_its_part_cut_at_180(run_cli, tmp_path, cut, utm):
    """A truth building astride 180 (RFC 7946 MultiPolygon) was made whole past 180 while
    its prediction, wholly east of 180 (-179.99999..-179.9996), stayed at -180: TP 0 FP 1
    FN 1 and a 'cover different ground' warning where IoU is 0.557. Both lie in one
    longitude range now (the prediction given in UTM 60S too; the other way round)."""
    lat0, lat1 = -17.0002, -16.9998
    astride = shapely.MultiPolygon([shapely.box(179.9997, lat0, 180.0, lat1),
                                    shapely.box(-180.0, lat0, -179.9996, lat1)])
    east = shapely.box(-179.99999, lat0, -179.9996, lat1)
    pred, truth = (east, astride) if cut == "truth" else (astride, east)
    pred_path, truth_path = tmp_path / "pred.geojson", tmp_path / "truth.geojson"
    frame = gpd.GeoDataFrame(geometry=[pred], crs=4326)
    if utm:
        frame, pred_path = frame.to_crs(32760), tmp_path / "pred.gpkg"
    frame.to_file(pred_path, engine="pyogrio")
    gpd.GeoDataFrame(geometry=[truth], crs=4326).to_file(truth_path, engine="pyogrio")
    result = run_cli("evaluate", pred_path, truth_path, "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert (scores["tp"], scores["fp"], scores["fn"]) == (1, 0, 0)
    assert scores["mean_iou"] == pytest.approx(0.557, abs=0.002)
    assert "different ground" not in result.output


def test_lonlat_buildings_far_from_180_keep_their_longitudes(run_cli, tmp_path):
    """Buildings at lon -100 and +116, far from 180, were moved to lon 260 in the errors
    file by the one-longitude-range step meant for buildings astride 180."""
    boxes = [shapely.box(-100.0001, 40, -100, 40.0001), shapely.box(116, 40, 116.0001, 40.0001)]
    pred, truth = tmp_path / "pred.geojson", tmp_path / "truth.geojson"
    gpd.GeoDataFrame(geometry=boxes, crs=4326).to_file(pred, engine="pyogrio")
    gpd.GeoDataFrame(geometry=boxes, crs=4326).to_file(truth, engine="pyogrio")
    out = tmp_path / "errors.gpkg"
    result = run_cli("evaluate", pred, truth, "--json", "--errors", out)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tp"] == 2
    lon = shapely.get_coordinates(gpd.read_file(out, engine="pyogrio").geometry.values)[:, 0]
    assert lon.min() == pytest.approx(-100.0001) and lon.max() == pytest.approx(116.0001)


def test_the_per_image_table_names_each_image_whole(tmp_path, run_cli):
    """SpaceNet 7's monthly mosaics (59 characters) were cut to their last 39 in the table:
    2018_01's and 2019_01's rows both read '_01_mosaic_L15-0331E-1257N_1327_3160_13'.
    Each row names its image whole."""
    pred, truth = tmp_path / "pred", tmp_path / "truth"
    pred.mkdir()
    truth.mkdir()
    names = [f"global_monthly_{month}_mosaic_L15-0331E-1257N_1327_3160_13"
             for month in ("2018_01", "2019_01")]
    a = np.zeros((10, 10), np.uint8)
    a[:4] = 1
    for name in names:
        write_raster(truth / f"{name}.tif", a)
        write_raster(pred / f"{name}.tif", a)
    result = run_cli("evaluate", pred, truth)
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.stdout.splitlines()
            if line.strip().startswith("global_monthly_")]
    assert [row[0] for row in rows] == names
    assert all(row[1:4] == ["40", "0", "0"] for row in rows)


def test_deepglobe_truth_images_left_out_when_predictions_take_the_mask_names(tmp_path,
                                                                                caplog):
    """A DeepGlobe truth folder (104_sat.tif beside 104_mask.tif, 207_...) against
    predictions named after the masks (104_mask.tif): the images were left out unsaid, as
    before f74b967; since then they were kept, each named in a 'left out' warning (2 in
    truth) for want of a prediction. An image is kept only when it has a partner too."""
    pred, truth = tmp_path / "pred", tmp_path / "truth"
    pred.mkdir()
    truth.mkdir()
    array = np.zeros((10, 10), np.uint8)
    array[:3] = 1
    for scene in ("104", "207"):
        write_raster(truth / f"{scene}_sat.tif", np.stack([array * 200] * 3))
        write_raster(truth / f"{scene}_mask.tif", array)
        write_raster(pred / f"{scene}_mask.tif", array)
    with caplog.at_level(logging.WARNING, logger="geotile"):
        pairs = pair_folders(pred, truth)
    assert sorted((p.name, t.name) for p, t in pairs.pairs.values()) == [
        ("104_mask.tif", "104_mask.tif"), ("207_mask.tif", "207_mask.tif")]
    assert "left out" not in caplog.text
    rows = evaluate_folders(pred, truth).rows()
    assert sorted((r["tp"], r["fp"], r["fn"]) for r in rows.values()) == [(30, 0, 0)] * 2


def test_a_mask_named_in_nfd_beside_its_image_named_in_nfc_is_the_truth(tmp_path):
    """A DeepGlobe truth folder copied from a Mac: Zürich_sat.tif (NFC) beside
    Zürich_mask.tif (NFD, Zu + U+0308). The image was not known for the mask's image and
    stood for the truth of prediction Zürich_sat.tif (tp 30 fn 70 on an all-ones image).
    The mask is the truth now, under the scene's name."""
    nfc, nfd = "Z\u00fcrich", "Zu\u0308rich"
    pred, truth = _mask_folders(tmp_path, [(f"{nfc}_sat", f"{nfd}_mask", 3)])
    write_raster(truth / f"{nfc}_sat.tif", np.ones((10, 10), np.uint8))
    pairs = pair_folders(pred, truth)
    assert {k: (p.name, t.name) for k, (p, t) in pairs.pairs.items()} == {
        nfc: (f"{nfc}_sat.tif", f"{nfd}_mask.tif")}
    rows = evaluate_folders(pred, truth).rows()
    assert (rows[nfc]["tp"], rows[nfc]["fp"], rows[nfc]["fn"]) == (30, 0, 0)


def test_a_truth_folder_of_openstreetmap_extracts_pairs_osm_pbf_by_the_name_before_it(
        run_cli, tmp_path):
    """Predictions tile_a.gpkg, tile_b.gpkg against a folder of OSM extracts (tile_a.osm,
    tile_b.osm.pbf, as make-masks pairs them): tile_b.osm.pbf was left out ('no file of the
    same name') and 1 image of 2 scored."""
    from .test_labels_inputs import _osm_extract

    x0, y0 = UTM_ORIGIN
    squares = {"a": (1, 1, 4, 4), "b": (10, 10, 15, 12)}
    (tmp_path / "truth").mkdir()
    (tmp_path / "pred").mkdir()
    for n, (a, b, c, d) in squares.items():
        ring = [(x0 + a, y0 - b), (x0 + c, y0 - b), (x0 + c, y0 - d), (x0 + a, y0 - d),
                (x0 + a, y0 - b)]
        name = "tile_a.osm" if n == "a" else "tile_b.osm.pbf"  # GDAL tells XML by content
        _osm_extract(tmp_path / "truth" / name, [({"building": "yes"}, [ring])])
        gpd.GeoDataFrame(geometry=[shapely.Polygon(ring)], crs=UTM_CRS).to_file(
            tmp_path / "pred" / f"tile_{n}.gpkg")
    result = run_cli("evaluate", tmp_path / "pred", tmp_path / "truth", "--layer",
                     "multipolygons", "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert (scores["tp"], scores["fp"], scores["fn"]) == (2, 0, 0)
    assert scores["images"] == 2 and sorted(scores["per_image"]) == ["tile_a", "tile_b"]
    assert "left out" not in result.stderr


def test_flair_and_dfc2022_predictions_pair_with_their_masks(tmp_path):
    """Predictions named after FLAIR's images (IMG_000001.tif) pair with its masks
    (MSK_000001.tif), those of DFC2022's BDORTHO tiles with UrbanAtlas' <tile>_UA2012.tif;
    both folders were refused ('no file of one has the name of a file of the other'), and
    no image takes another id's truth."""
    one, two = np.zeros((10, 10), np.uint8), np.zeros((10, 10), np.uint8)
    one[:5] = 1  # 50 pixels
    two[:, :2] = 1  # 20 pixels
    for dataset, names in (("flair", (("IMG_000001", "MSK_000001"),
                                      ("IMG_000011", "MSK_000011"))),
                           ("dfc", (("06-2014-1007", "06-2014-1007_UA2012"),
                                    ("06-2014-1008", "06-2014-1008_UA2012")))):
        pred, truth = tmp_path / dataset / "pred", tmp_path / dataset / "truth"
        pred.mkdir(parents=True)
        truth.mkdir()
        for (image, mask), array in zip(names, (one, two), strict=True):
            write_raster(pred / f"{image}.tif", array)
            write_raster(truth / f"{mask}.tif", array)
        pairs = pair_folders(pred, truth)
        assert {k: (p.stem, t.stem) for k, (p, t) in pairs.pairs.items()} == {
            image: (image, mask) for image, mask in names}
        rows = evaluate_folders(pred, truth).rows()
        first, second = names[0][0], names[1][0]
        assert (rows[first]["tp"], rows[first]["fp"], rows[first]["fn"]) == (50, 0, 0)
        assert (rows[second]["tp"], rows[second]["fp"], rows[second]["fn"]) == (20, 0, 0)


def test_geonrw_predictions_pair_with_seg_labels_not_rgb_images(tmp_path):
    """Predictions named after GeoNRW's images (294_5628_rgb.tif, as predict names them)
    against a city folder (294_5628_rgb.jp2, _dem.tif, _seg.tif) were scored against the
    RGB photograph of the same stem (IoU 0, exit 0): they pair with the _seg labels."""
    from rasterio.transform import from_origin

    pred, truth = tmp_path / "pred", tmp_path / "aachen"
    pred.mkdir()
    truth.mkdir()
    labels = {}
    for k, east in enumerate((294, 295)):
        tile = f"{east}_5628"
        where = {"crs": "EPSG:25832", "transform": from_origin(east * 1000, 5629000, 1, 1)}
        seg = np.zeros((10, 10), np.uint8)
        seg[: 3 + k] = 10  # buildings: 30 and 40 pixels
        labels[tile] = int((seg == 10).sum())
        write_raster(truth / f"{tile}_rgb.jp2", np.full((3, 10, 10), 120, np.uint8),
                     driver="JP2OpenJPEG", **where)
        write_raster(truth / f"{tile}_dem.tif", np.full((10, 10), 61.5, np.float32), **where)
        write_raster(truth / f"{tile}_seg.tif", seg, **where)
        write_raster(pred / f"{tile}_rgb.tif", seg, **where)
    pairs = pair_folders(pred, truth)
    assert {k: (p.name, t.name) for k, (p, t) in pairs.pairs.items()} == {
        tile: (f"{tile}_rgb.tif", f"{tile}_seg.tif") for tile in labels}
    rows = evaluate_folders(pred, truth).rows()
    for tile, positives in labels.items():
        assert (rows[tile]["tp"], rows[tile]["fp"], rows[tile]["fn"]) == (positives, 0, 0)


def test_chesapeake_cvpr_predictions_pair_with_lc_as_tile_does(tmp_path):
    """Predictions named after the Chesapeake CVPR NAIP tiles (m_3708035_ne_17_1_naip-new.tif)
    against a tiles folder holding the tile's _naip-new, _naip-old, _lc, _nlcd, _buildings
    and _landsat-leaf-on rasters were refused ('... _buildings.tif, ..._lc.tif name the same
    image'), though tile pairs the same names (_lc before _buildings): evaluate pairs them
    with the _lc land cover too, the other rasters left out."""
    from rasterio.transform import from_origin

    pred, truth = tmp_path / "pred", tmp_path / "de_1m_2013_extended-debuffered-test_tiles"
    pred.mkdir()
    truth.mkdir()
    counts = {}
    for k, tile in enumerate(("m_3807511_ne_18_060_20131104", "m_3807512_nw_18_060_20131104")):
        where = {"crs": "EPSG:26918", "transform": from_origin(400000 + 1000 * k, 4300000, 1, 1)}
        lc = np.full((10, 10), 5, np.uint8)  # barren
        lc[: 2 + k] = 4  # impervious: 20 and 30 pixels
        counts[tile] = {4: 10 * (2 + k), 5: 10 * (8 - k)}
        for layer in ("naip-new", "naip-old"):
            write_raster(truth / f"{tile}_{layer}.tif", np.full((4, 10, 10), 90, np.uint8),
                         **where)
        write_raster(truth / f"{tile}_landsat-leaf-on.tif",
                     np.full((9, 10, 10), 500, np.uint16), **where)
        write_raster(truth / f"{tile}_lc.tif", lc, **where)
        write_raster(truth / f"{tile}_nlcd.tif", np.full((10, 10), 41, np.uint8), **where)
        write_raster(truth / f"{tile}_buildings.tif", np.ones((10, 10), np.uint8), **where)
        write_raster(pred / f"{tile}_naip-new.tif", lc, **where)
    pairs = pair_folders(pred, truth)
    assert {k: (p.name, t.name) for k, (p, t) in pairs.pairs.items()} == {
        tile: (f"{tile}_naip-new.tif", f"{tile}_lc.tif") for tile in counts}
    rows = evaluate_folders(pred, truth).rows()
    for tile, count in counts.items():
        assert (rows[tile]["tp"], rows[tile]["fp"], rows[tile]["fn"]) == (sum(count.values()),
                                                                          0, 0)
