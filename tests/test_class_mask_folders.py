"""Labels as one binary mask per class, in per-class folders (Agriculture-Vision's
train/labels/<class>/<field>.png beside train/images/rgb/<field>.jpg, with
train/boundaries/ and train/masks/ marking the pixels that are not valid)."""

from __future__ import annotations

import csv
import json
import warnings

import numpy as np
import pytest
import rasterio

from tests.conftest import assert_one_line_error

#: the replica's classes, as their folders sort
CLASSES = ["double_plant", "water", "weed_cluster"]
FIELDS = ["1AD76MIZ7_1011-8498-1523-9010", "2BQ4AX8LT_645-2219-1157-2731"]
SIZE = 64


def _write(path, array, driver):
    path.parent.mkdir(parents=True, exist_ok=True)
    if array.ndim == 2:
        array = array[np.newaxis]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no geotransform: Agriculture-Vision's plain files
        with rasterio.open(path, "w", driver=driver, width=array.shape[2],
                           height=array.shape[1], count=array.shape[0],
                           dtype="uint8") as dst:
            dst.write(array)
    return path


def _class_pixels(field: int) -> dict[str, np.ndarray]:
    """Each class's 0/1 pixels in field ``field``: double_plant and weed_cluster overlap."""
    shape = (SIZE, SIZE)
    double_plant, water, weed = (np.zeros(shape, np.uint8) for _ in range(3))
    double_plant[4:20, 4:40] = 1
    weed[10:30, 30:50] = 1  # overlaps double_plant in rows 10..19, columns 30..39
    if field == 1:
        water[40:60, 40:60] = 1
    return {"double_plant": double_plant, "water": water, "weed_cluster": weed}


def _valid(field: int) -> tuple[np.ndarray, np.ndarray]:
    """(boundary, mask) of field ``field``: outside the field's boundary the last 8 columns,
    invalid pixels the last 4 rows."""
    boundary = np.full((SIZE, SIZE), 255, np.uint8)
    boundary[:, SIZE - 8:] = 0
    mask = np.full((SIZE, SIZE), 255, np.uint8)
    mask[SIZE - 4:] = 0
    return boundary, mask


@pytest.fixture
def agrivision(tmp_path):
    """A replica of Agriculture-Vision's train/ folder: 2 fields, 3 overlapping classes."""
    train = tmp_path / "train"
    for number, field in enumerate(FIELDS):
        rgb = np.full((3, SIZE, SIZE), 100 + 20 * number, np.uint8)
        _write(train / "images" / "rgb" / f"{field}.jpg", rgb, "JPEG")
        _write(train / "images" / "nir" / f"{field}.jpg", rgb[:1], "JPEG")
        for name, pixels in _class_pixels(number).items():
            _write(train / "labels" / name / f"{field}.png", pixels * 255, "PNG")
        boundary, mask = _valid(number)
        _write(train / "boundaries" / f"{field}.png", boundary, "PNG")
        _write(train / "masks" / f"{field}.png", mask, "PNG")
    return train


def _expected(field: int) -> np.ndarray:
    """The mask tile writes for field ``field``: one 0/1 band per class, 255 where invalid."""
    bands = np.stack([_class_pixels(field)[name] for name in CLASSES])
    boundary, mask = _valid(field)
    bands[:, (boundary == 0) | (mask == 0)] = 255
    return bands


def _read(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(path) as src:
            return src.read(), src.descriptions, src.tags()


def test_tile_class_folders_give_one_band_per_class(agrivision, tmp_path, run_cli):
    out = tmp_path / "patches"
    result = run_cli("-v", "tile", agrivision / "images" / "rgb", "--masks",
                     agrivision / "labels", "--extra-bands", agrivision / "images" / "nir",
                     "--size", 32, "-o", out)
    assert result.exit_code == 0, result.output
    said = result.stderr.replace("\n", " ")
    assert "one 0/1 band per class folder (double_plant, water, weed_cluster)" in said
    assert "pixels that boundaries/ and masks/ mark 0 are no data" in said
    with (out / "index.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 8
    for number, field in enumerate(FIELDS):
        expected = _expected(number)
        for row in (r for r in rows if r["source"] == f"{field}.jpg"):
            y, x = int(row["y_off"]), int(row["x_off"])
            pixels, descriptions, tags = _read(out / row["mask"])
            want = expected[:, y:y + 32, x:x + 32]
            np.testing.assert_array_equal(pixels, want)
            assert list(descriptions) == CLASSES
            assert tags["GEOTILE_BANDS"] == "independent"
            assert json.loads(tags["GEOTILE_CLASS_NAMES"]) == ["background", *CLASSES]
            image, _, _ = _read(out / row["image"])
            assert image.shape[0] == 4  # RGB + NIR
            # positive: any class, among the valid pixels; nodata: outside the field or masked
            valid = want[0] != 255
            assert float(row["positive_fraction"]) == pytest.approx(
                np.count_nonzero(want.max(axis=0)[valid]) / want[0].size)
            assert float(row["nodata_fraction"]) == pytest.approx(
                np.count_nonzero(~valid) / want[0].size)
    # the overlap of double_plant and weed_cluster is in both bands
    top_right = next(r for r in rows if r["source"] == f"{FIELDS[0]}.jpg"
                     and r["row"] == "0" and r["col"] == "1")
    pixels, _, _ = _read(out / top_right["mask"])
    assert pixels[0, 15, 2] == pixels[2, 15, 2] == 1 and pixels[1, 15, 2] == 0


def _tile(run_cli, train, out, *more):
    return run_cli("tile", train / "images" / "rgb", "--masks", train / "labels", "--size", 32,
                   "-o", out, *more)


def test_class_folder_without_an_images_file_reads_it_as_0(agrivision, tmp_path, run_cli):
    # datasets that leave out empty masks: field 0 has no water
    (agrivision / "labels" / "water" / f"{FIELDS[0]}.png").unlink()
    out = tmp_path / "patches"
    result = _tile(run_cli, agrivision, out, "--skip-empty")
    assert result.exit_code == 0, result.output
    assert f"labels/water: no file named after {FIELDS[0]}.jpg: read as no water" in \
        result.stderr.replace("\n", " ")
    with (out / "index.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    # --skip-empty counts every band: field 1's bottom-right patch keeps its water (band
    # 2), the bottom patches of field 0, without any class, are dropped
    kept = {(r["source"], r["row"], r["col"]) for r in rows}
    assert kept == {(f"{field}.jpg", "0", col) for field in FIELDS for col in "01"} | {
        (f"{FIELDS[1]}.jpg", "1", "1")}
    row = next(r for r in rows if r["source"] == f"{FIELDS[0]}.jpg" and r["row"] == "0"
               and r["col"] == "0")
    pixels, _, _ = _read(out / row["mask"])
    np.testing.assert_array_equal(pixels, _expected(0)[:, :32, :32])
    assert (pixels[1] == 0).all()


def test_refusals_name_the_file_and_write_nothing(agrivision, tmp_path, run_cli):
    out = tmp_path / "patches"
    # an image without its boundary file
    boundary = agrivision / "boundaries" / f"{FIELDS[1]}.png"
    boundary.rename(tmp_path / "away.png")
    result = _tile(run_cli, agrivision, out)
    assert result.exit_code == 1
    assert "Traceback" not in result.output and not out.exists()
    assert f"{FIELDS[1]}.jpg: no file named after it in {agrivision / 'boundaries'}" in \
        result.stderr.replace("\n", " ")
    (tmp_path / "away.png").rename(boundary)
    # a class file that is no binary mask
    _write(agrivision / "labels" / "water" / f"{FIELDS[0]}.png",
           np.full((SIZE, SIZE), 7, np.uint8), "PNG")
    result = _tile(run_cli, agrivision, out)
    assert result.exit_code == 1 and not out.exists()
    assert "water" in result.stderr and "values other than 0, 1 and 255" in result.stderr
    # more classes than PNG bands
    for name in ("a", "b"):
        (agrivision / "labels" / name).mkdir()
        for field in FIELDS:
            _write(agrivision / "labels" / name / f"{field}.png",
                   np.zeros((SIZE, SIZE), np.uint8), "PNG")
    result = _tile(run_cli, agrivision, out, "--format", "png")
    assert result.exit_code == 1 and not out.exists()
    assert f"--masks {agrivision / 'labels'}: 5 class folders" in \
        result.stderr.replace("\n", " ")


def test_subfolders_of_other_images_masks_are_refused_not_read_as_classes(tmp_path, run_cli):
    """masks/<region>/<image>.tif (SpaceNet's AOIs, train/val splits) each naming other
    images were read as classes since the class folders came: each image's mask in one
    band, 0 in the others, exit 0. Refused with the pattern that pairs them, which works."""
    from rasterio.transform import from_origin

    profile = {"driver": "GTiff", "width": SIZE, "height": SIZE, "crs": "EPSG:32633",
               "transform": from_origin(500000, 4000000, 1, 1)}
    for name, region in (("a", "AOI_2_Vegas"), ("b", "AOI_3_Paris")):
        (tmp_path / "images").mkdir(exist_ok=True)
        (tmp_path / "masks" / region).mkdir(parents=True)
        with rasterio.open(tmp_path / "images" / f"{name}.tif", "w", count=3, dtype="uint8",
                           **profile) as dst:
            dst.write(np.full((3, SIZE, SIZE), 90, np.uint8))
        mask = np.zeros((1, SIZE, SIZE), np.uint8)
        mask[0, 4:20, 4:20] = 1
        with rasterio.open(tmp_path / "masks" / region / f"{name}.tif", "w", count=1,
                           dtype="uint8", **profile) as dst:
            dst.write(mask)
    out = tmp_path / "patches"
    result = run_cli("tile", tmp_path / "images", "--masks", tmp_path / "masks", "--size", 32,
                     "-o", out)
    assert result.exit_code == 1 and not out.exists()
    said = result.stderr.replace("\n", " ")
    assert "(AOI_2_Vegas, AOI_3_Paris) each hold other images' masks" in said
    assert "Traceback" not in result.output
    result = run_cli("tile", tmp_path / "images", "--masks", f"{tmp_path / 'masks'}/*/*.tif",
                     "--size", 32, "-o", out)
    assert result.exit_code == 0, result.output
    with rasterio.open(out / "masks" / "a_0_0.tif") as src:
        assert src.count == 1 and int(src.read(1).sum()) == 16 * 16


def _write_tif(path, array, descriptions=(), **tags):
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(path, "w", driver="GTiff", width=SIZE, height=SIZE,
                           count=array.shape[0], dtype=array.dtype.name) as dst:
            dst.write(array)
            dst.update_tags(**tags)
            for band, text in enumerate(descriptions, 1):
                dst.set_band_description(band, text)
    return path


def _expected_scores(predicted: dict[int, np.ndarray]) -> dict[str, tuple[int, int, int]]:
    """TP, FP, FN per class over both fields' valid pixels; ``predicted``: field -> (3,
    rows, cols) booleans in CLASSES order."""
    counts = {name: np.zeros(3, int) for name in CLASSES}
    for number in range(len(FIELDS)):
        truth = _expected(number)
        valid = truth[0] != 255
        for k, name in enumerate(CLASSES):
            true, said = truth[k] == 1, predicted[number][k]
            counts[name] += [np.count_nonzero(a & b & valid)
                             for a, b in ((true, said), (~true, said), (true, ~said))]
    return {name: tuple(int(v) for v in c) for name, c in counts.items()}


def test_evaluate_scores_each_class_on_its_own(agrivision, tmp_path, run_cli):
    # independent probabilities (predict's sigmoid channels), bands in another order
    predicted = {}
    for number, field in enumerate(FIELDS):
        truth = np.stack([_class_pixels(number)[name] for name in CLASSES]).astype(bool)
        said = truth.copy()
        said[2] = np.roll(truth[2], 5, axis=1)  # weed_cluster shifted
        said[1] = False  # no water found
        predicted[number] = said
        p = np.where(said, 230, 20).astype(np.uint8)
        _write_tif(tmp_path / "pred" / f"{field}.tif", p[[1, 0, 2]],
                   ["water", "double_plant", "weed_cluster"],
                   GEOTILE_OUTPUT="probability", GEOTILE_BANDS="independent")
    result = run_cli("evaluate", tmp_path / "pred", agrivision / "labels", "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["mode"] == "multi-label"
    expected = _expected_scores(predicted)
    for row in scores["classes"]:
        tp, fp, fn = expected[row["class"]]
        assert row["support"] == tp + fn and row["predicted"] == tp + fp
        assert row["iou"] == pytest.approx(tp / (tp + fp + fn))
    by_name = {row["class"]: row for row in scores["classes"]}
    assert by_name["double_plant"]["iou"] == 1.0 and by_name["water"]["iou"] == 0.0
    assert 0 < by_name["weed_cluster"]["iou"] < 1
    # the overlap counts for both classes: double_plant's support is all its pixels
    assert by_name["double_plant"]["support"] == sum(
        np.count_nonzero(_expected(n)[0] == 1) for n in range(2))
    table = run_cli("evaluate", tmp_path / "pred", agrivision / "labels")
    assert table.exit_code == 0 and "weed_cluster" in table.stdout
    assert "multi-label" in table.stdout
    # the Python API scores them as the CLI does (it refused the folder: 'no raster or
    # vector file in the folder')
    import geotile
    from geotile.evaluate import dumps

    api = geotile.evaluate_files(tmp_path / "pred", agrivision / "labels")
    assert json.loads(dumps(api)) == scores


def test_evaluate_class_rasters_and_refusals(agrivision, tmp_path, run_cli):
    # a class raster (ids in folder order): one class per pixel, so the overlap is half lost
    predicted = {}
    for number, field in enumerate(FIELDS):
        ids = np.zeros((SIZE, SIZE), np.uint8)
        for k, name in enumerate(CLASSES, start=1):
            ids[_class_pixels(number)[name] == 1] = k
        predicted[number] = np.stack([ids == k for k in range(1, 4)])
        _write_tif(tmp_path / "ids" / f"{field}.tif", ids[np.newaxis], GEOTILE_OUTPUT="class")
    result = run_cli("evaluate", tmp_path / "ids", agrivision / "labels", "--json")
    assert result.exit_code == 0, result.output
    expected = _expected_scores(predicted)
    for row in json.loads(result.stdout)["classes"]:
        tp, fp, fn = expected[row["class"]]
        assert row["iou"] == pytest.approx(tp / (tp + fp + fn))
    assert expected["double_plant"][2] > 0  # the overlap written as weed_cluster: missed
    # a prediction naming a class of no folder
    _write_tif(tmp_path / "named" / f"{FIELDS[0]}.tif", np.zeros((3, SIZE, SIZE), np.uint8),
               ["water", "double_plant", "storm_damage"], GEOTILE_OUTPUT="probability",
               GEOTILE_BANDS="independent")
    result = run_cli("evaluate", tmp_path / "named", agrivision / "labels")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "storm_damage" in result.stderr and "no class folder" in result.stderr
    # options of other inputs
    result = run_cli("evaluate", tmp_path / "ids", agrivision / "labels", "--iou", 0.7)
    assert result.exit_code == 2 and "--iou" in result.stderr
    result = run_cli("evaluate", tmp_path / "ids", agrivision / "labels", "--threshold", 0.3)
    assert result.exit_code == 2 and "holds class ids, not probabilities" in result.stderr


def test_the_folder_above_labels_is_refused_not_read_as_classes(agrivision, tmp_path,
                                                                 run_cli):
    """--masks train/ (labels/, boundaries/, masks/ in it) read boundaries/ and masks/ as
    the classes: every valid pixel of both bands 1, exit 0. Refused, naming labels/."""
    out = tmp_path / "patches"
    result = run_cli("tile", agrivision / "images" / "rgb", "--masks", agrivision,
                     "--size", 32, "-o", out)
    assert result.exit_code == 1 and not out.exists()
    said = result.stderr.replace("\n", " ")
    assert "Traceback" not in result.output
    assert f"{agrivision / 'boundaries'}" in said and f"{agrivision / 'labels'}" in said
    _write_tif(tmp_path / "pred" / f"{FIELDS[0]}.tif", np.zeros((1, SIZE, SIZE), np.uint8),
               GEOTILE_OUTPUT="class")
    result = run_cli("evaluate", tmp_path / "pred", agrivision)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{agrivision / 'labels'}" in result.stderr.replace("\n", " ")


def test_jpeg_class_masks_are_refused_naming_the_lossy_format(agrivision, tmp_path,
                                                              run_cli):
    """A JPEG class mask's blurred edges (values 1..254) were refused as 'no binary mask'
    without saying why a 0/255 mask holds them: the refusal names JPEG's compression."""
    pixels = _class_pixels(0)["weed_cluster"] * 255
    (agrivision / "labels" / "weed_cluster" / f"{FIELDS[0]}.png").unlink()
    _write(agrivision / "labels" / "weed_cluster" / f"{FIELDS[0]}.jpg", pixels, "JPEG")
    out = tmp_path / "patches"
    result = _tile(run_cli, agrivision, out)
    assert result.exit_code == 1 and not out.exists()
    said = result.stderr.replace("\n", " ")
    assert f"{FIELDS[0]}.jpg" in said and "JPEG" in said and "PNG" in said


def test_a_class_mask_in_a_colour_reads_every_colour_band(agrivision, tmp_path, run_cli):
    """A class mask saved as RGB (an editor's green on black) was read by its red band
    alone: no water at all, exit 0 without a word; now any colour band (alpha left out)
    marks the class, and a file of two colours, no binary mask, is one line."""
    water = _class_pixels(1)["water"]
    green = np.zeros((4, SIZE, SIZE), np.uint8)
    green[1], green[3] = water * 255, 255  # green on black, opaque alpha
    path = agrivision / "labels" / "water" / f"{FIELDS[1]}.png"
    _write(path, green, "PNG")
    out = tmp_path / "patches"
    result = _tile(run_cli, agrivision, out, "--size", 64)
    assert result.exit_code == 0, result.output
    pixels, _, _ = _read(out / "masks" / f"{FIELDS[1]}_0_0.tif")
    np.testing.assert_array_equal(pixels, _expected(1))
    two = green[:3].copy()
    two[0, :2] = 255  # red rows beside the green class
    _write(path, two, "PNG")
    result = _tile(run_cli, agrivision, tmp_path / "two")
    assert result.exit_code == 1 and not (tmp_path / "two").exists()
    assert "Traceback" not in result.output
    said = result.stderr.replace("\n", " ")
    assert str(path) in said and "2 colours" in said


def test_a_class_file_named_but_for_case_is_its_band(agrivision, tmp_path, run_cli):
    """water/<FIELD>.PNG in lower case (copied from Windows or macOS, which pair names in any
    case) was 'no file named after ...: read as no water there', its pixels 0, exit 0; then
    refused; now it is the field's water band, as tile --masks pairs such a mask, with a
    warning naming both spellings."""
    field = FIELDS[1]
    path = agrivision / "labels" / "water" / f"{field}.png"
    path.rename(path.with_name(f"{field.lower()}.PNG"))
    out = tmp_path / "patches"
    result = _tile(run_cli, agrivision, out, "--size", 64)
    assert result.exit_code == 0, result.output
    said = result.stderr.replace("\n", " ")
    assert f"{field.lower()}" in said and f"{field}.jpg" in said and "letter case" in said
    np.testing.assert_array_equal(_read(out / "masks" / f"{field}_0_0.tif")[0], _expected(1))


def test_an_empty_class_folder_is_a_band_of_0(agrivision, tmp_path, run_cli):
    """A class folder left empty (a split or subset without that class) was left out: the
    masks had a band fewer than another split's, each band after it another class, exit 0
    without a word; now it is a class of no pixels, warned of."""
    (agrivision / "labels" / "a_cloud").mkdir()
    out = tmp_path / "patches"
    result = _tile(run_cli, agrivision, out, "--size", 64)
    assert result.exit_code == 0, result.output
    assert "labels/a_cloud: no file named after" in result.stderr.replace("\n", " ")
    for number, field in enumerate(FIELDS):
        pixels, descriptions, _ = _read(out / "masks" / f"{field}_0_0.tif")
        assert list(descriptions) == ["a_cloud", *CLASSES]
        np.testing.assert_array_equal(pixels[1:], _expected(number))
        np.testing.assert_array_equal(pixels[0], np.where(_expected(number)[0] == 255, 255, 0))


def test_16_bit_class_masks_of_0_and_65535_are_binary(agrivision, tmp_path, run_cli):
    """A 16-bit class mask of 0 and 65535 (a binary mask at the type's full scale) was
    refused as 'no binary mask of its class (such as 65535)'; now read as 0/1."""
    water = _class_pixels(1)["water"]
    path = agrivision / "labels" / "water" / f"{FIELDS[1]}.png"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(path, "w", driver="PNG", width=SIZE, height=SIZE, count=1,
                           dtype="uint16") as dst:
            dst.write(water.astype(np.uint16)[np.newaxis] * 65535)
    out = tmp_path / "patches"
    result = _tile(run_cli, agrivision, out, "--size", 64)
    assert result.exit_code == 0, result.output
    pixels, _, _ = _read(out / "masks" / f"{FIELDS[1]}_0_0.tif")
    np.testing.assert_array_equal(pixels, _expected(1))


def test_evaluate_says_which_fields_have_no_prediction(agrivision, tmp_path, run_cli):
    """A field of the class folders without a prediction (predict failed, or pred/ of
    another split) was left out without a word: the scores of a subset, exit 0. Now one
    warning names it, as evaluate's folders of other files do; a prediction without any
    class file is refused without a warning per class folder first."""
    ids = np.zeros((1, SIZE, SIZE), np.uint8)
    _write_tif(tmp_path / "pred" / f"{FIELDS[0]}.tif", ids, GEOTILE_OUTPUT="class")
    result = run_cli("evaluate", tmp_path / "pred", agrivision / "labels", "--json")
    assert result.exit_code == 0, result.output
    said = result.stderr.replace("\n", " ")
    assert "left out, no file of the same name" in said and FIELDS[1] in said
    assert FIELDS[0] not in said
    assert json.loads(result.stdout)["pixels"] == np.count_nonzero(_expected(0)[0] != 255)
    _write_tif(tmp_path / "pred" / "other_field.tif", ids, GEOTILE_OUTPUT="class")
    result = run_cli("evaluate", tmp_path / "pred", agrivision / "labels")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "other_field.tif: no file named after it in any class folder" in \
        result.stderr.replace("\n", " ")
    assert "read as no" not in result.stderr


def test_a_class_folder_named_as_background_words_is_a_class(tmp_path, run_cli):
    """Class folders other/ and water/ (land cover's 'other' is a class) against independent
    probabilities whose bands are named so: band 1 was read as background's own sigmoid and
    each pixel given its argmax, so a perfect prediction scored a mean IoU of 0.54 (water's
    pixels that are also 'other' lost), exit 0; now each band is its class."""
    rng = np.random.default_rng(4)
    truth = {"other": rng.random((SIZE, SIZE)) < 0.5, "water": rng.random((SIZE, SIZE)) < 0.3}
    for name, pixels in truth.items():
        _write(tmp_path / "labels" / name / "f.png", pixels.astype(np.uint8) * 255, "PNG")
    _write_tif(tmp_path / "pred" / "f.tif", np.stack(list(truth.values())).astype(np.float32),
               list(truth), GEOTILE_OUTPUT="probability", GEOTILE_BANDS="independent")
    result = run_cli("evaluate", tmp_path / "pred", tmp_path / "labels", "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert [(c["class"], c["iou"]) for c in scores["classes"]] == [("other", 1.0),
                                                                   ("water", 1.0)]


def test_masks_in_one_subfolder_are_told_to_be_given_as_that_folder(tmp_path, run_cli):
    """--masks masks/ whose masks of class ids sit in masks/train/ was read as one class
    folder and refused as 'no binary mask of its class', naming no way out; the line now
    says how it was read and to give --masks masks/train."""
    ids = np.zeros((1, SIZE, SIZE), np.uint8)
    ids[0, :20], ids[0, 30:] = 3, 1
    _write(tmp_path / "masks" / "train" / "f.png", ids, "PNG")
    _write(tmp_path / "images" / "f.png", np.zeros((3, SIZE, SIZE), np.uint8), "PNG")
    out = tmp_path / "patches"
    result = run_cli("tile", tmp_path / "images" / "f.png", "--masks", tmp_path / "masks",
                     "-o", out)
    assert_one_line_error(result, "f.png", "such as 3", "one class",
                          f"--masks {tmp_path / 'masks' / 'train'}")
    assert not out.exists()


def test_a_masks_folder_of_class_masks_beside_labels_is_no_validity_folder(agrivision,
                                                                          tmp_path, run_cli):
    """masks/ beside labels/ holding a project's own 0/1 masks (make-masks' buildings), not
    Agriculture-Vision's 0/255 valid pixels: every background pixel became no data (255 in
    every band), exit 0; now one line naming the file and the way out."""
    for number, field in enumerate(FIELDS):
        _write(agrivision / "masks" / f"{field}.png",
               _class_pixels(number)["double_plant"], "PNG")
    out = tmp_path / "patches"
    result = _tile(run_cli, agrivision, out)
    assert_one_line_error(result, f"masks/{FIELDS[0]}.png", "0 and 255", "valid pixels",
                          "move the folder away")
    assert not out.exists()


def test_make_masks_of_class_folders_names_tile(agrivision, tmp_path, run_cli):
    """make-masks labels/ (class folders, masks already) said 'labels is a folder, not
    vector data GDAL can read. Give a vector file', naming no command that reads them."""
    labels = agrivision / "labels"
    out = tmp_path / "masks"
    result = run_cli("make-masks", labels, agrivision / "images" / "rgb" / f"{FIELDS[0]}.jpg",
                     "-o", f"{out}/")
    assert_one_line_error(result, str(labels), "one folder of binary masks per class",
                          f"--masks {labels}")
    assert not out.exists()


def test_png_patches_of_4_class_folders_say_the_4th_class_is_alpha(agrivision, tmp_path,
                                                                    run_cli):
    """4 class folders make a 4-band mask (in a temporary folder): PNG mask patches keep the
    4th class as alpha -> one warning naming the image whose mask it is, not the temporary
    file; 3 class folders, none."""
    import shutil

    out = tmp_path / "three"
    result = _tile(run_cli, agrivision, out, "--format", "png")
    assert result.exit_code == 0, result.output
    assert "alpha" not in result.stderr, result.stderr
    shutil.copytree(agrivision / "labels" / "weed_cluster", agrivision / "labels" / "zz_cloud")
    result = _tile(run_cli, agrivision, tmp_path / "four", "--format", "png")
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())
    assert said.count("as alpha") == 1, said
    assert f"the mask of {agrivision / 'images' / 'rgb' / FIELDS[0]}.jpg (and 1 more)" in said
    assert "band 4 of 4" in said and "geotile-masks-" not in said
