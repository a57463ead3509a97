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
    result = run_cli("tile", agrivision / "images" / "rgb", "--masks", agrivision / "labels",
                     "--extra-bands", agrivision / "images" / "nir", "--size", 32, "-o", out)
    assert result.exit_code == 0, result.output
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
