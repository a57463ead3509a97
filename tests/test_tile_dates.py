"""tile IMAGE --extra-bands D2 --extra-bands D3: training patches of every date's bands, in
date order, for multi-temporal models (the image is date 1, as predict feeds them)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from tests.conftest import UTM_ORIGIN, assert_one_line_error

SIZE = 32
NAMES = ("B04", "B03", "B02")


def _date(make_raster, name, k, shape=(64, 64), plus=0, **kwargs):
    """Date ``k``'s raster: band b holds 10 * k + b (+ ``plus``)."""
    values = np.stack([np.full(shape, 10 * k + b + plus, np.uint16) for b in (1, 2, 3)])
    return make_raster(name, values, descriptions=NAMES, **kwargs)


def _rows(out):
    with (out / "index.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def dates(make_raster):
    image = _date(make_raster, "d1.tif", 1)
    second = _date(make_raster, "d2.tif", 2)
    # a coarser grid of the same ground: warped onto the image's, as one --extra-bands is
    third = _date(make_raster, "d3.tif", 3, shape=(32, 32),
                  transform=from_origin(*UTM_ORIGIN, 1.0, 1.0))
    mask = make_raster("d1_mask.tif", (np.arange(64 * 64).reshape(64, 64) % 2).astype(np.uint8))
    return image, second, third, mask


def test_every_date_is_stacked_in_date_order(dates, tmp_path, run_cli):
    image, second, third, mask = dates
    out = tmp_path / "out"
    result = run_cli("tile", image, "--extra-bands", second, "--extra-bands", third,
                     "--masks", mask, "--size", SIZE, "-o", out)
    assert result.exit_code == 0, result.output
    rows = _rows(out)
    assert len(rows) == 4
    for row in rows:
        assert json.loads(row["dates"]) == ["d1.tif", "d2.tif", "d3.tif"]
        with rasterio.open(out / row["image"]) as patch:
            assert patch.count == 9
            data = patch.read()
            assert patch.descriptions == tuple(f"date{k} {n}" for k in (1, 2, 3)
                                               for n in NAMES)
            tags = patch.tags()
            assert json.loads(tags["GEOTILE_DATES"]) == ["d1.tif", "d2.tif", "d3.tif"]
            assert tags["GEOTILE_DATE_BANDS"] == "3"
            assert (patch.dataset_mask() == 255).all()
        for k in (1, 2, 3):
            for b in (1, 2, 3):
                assert (data[3 * (k - 1) + b - 1] == 10 * k + b).all()
        # a (T*C, H, W) patch reshapes to (T, C, H, W)
        assert (data.reshape(3, 3, SIZE, SIZE)[:, 0, 0, 0] == [11, 21, 31]).all()


def test_nodata_of_any_date_marks_the_pixel_invalid(dates, make_raster, tmp_path, run_cli):
    image, second, _, mask = dates
    values = np.stack([np.full((64, 64), 30 + b, np.uint16) for b in (1, 2, 3)])
    values[:, :5, :7] = 0
    third = make_raster("d3.tif", values, nodata=0)
    out = tmp_path / "out"
    result = run_cli("tile", image, "--extra-bands", second, "--extra-bands", third,
                     "--masks", mask, "--size", SIZE, "-o", out)
    assert result.exit_code == 0, result.output
    first = next(r for r in _rows(out) if r["x_off"] == r["y_off"] == "0")
    assert float(first["nodata_fraction"]) == pytest.approx(35 / SIZE ** 2)
    with rasterio.open(out / first["image"]) as patch:
        valid = patch.dataset_mask() > 0
    with rasterio.open(out / first["mask"]) as patch:
        labels = patch.read(1)
    assert not valid[:5, :7].any() and valid.sum() == SIZE ** 2 - 35
    assert (labels[:5, :7] == 255).all() and (labels[valid] != 255).all()


def test_folders_of_dates_pair_by_name(make_raster, tmp_path, run_cli):
    images = [_date(make_raster, f"{stem}.tif", 1, plus=100 * i)
              for i, stem in enumerate(("a", "b"))]
    for k in (2, 3):
        for i, stem in enumerate(("a", "b")):
            (tmp_path / f"t{k}").mkdir(exist_ok=True)
            _date(make_raster, f"t{k}/{stem}.tif", k, plus=100 * i)
    out = tmp_path / "out"
    result = run_cli("tile", *images, "--extra-bands", tmp_path / "t2", "--extra-bands",
                     tmp_path / "t3", "--size", SIZE, "-o", out)
    assert result.exit_code == 0, result.output
    for row in _rows(out):
        i = row["image"].startswith("images/b_")
        with rasterio.open(out / row["image"]) as patch:
            data = patch.read()
        assert [int(v) for v in data[:, 0, 0]] == [
            10 * k + b + 100 * i for k in (1, 2, 3) for b in (1, 2, 3)]
    (tmp_path / "t3" / "b.tif").unlink()
    result = run_cli("tile", *images, "--extra-bands", tmp_path / "t2", "--extra-bands",
                     tmp_path / "t3", "--size", SIZE, "-o", tmp_path / "out2")
    assert_one_line_error(result, "b.tif", "date 3", "t3")
    assert not (tmp_path / "out2").exists()


def test_dates_of_other_band_counts_are_one_line(dates, make_raster, tmp_path, run_cli):
    image, second, _, mask = dates
    third = make_raster("d3.tif", np.full((2, 64, 64), 31, np.uint16))
    result = run_cli("tile", image, "--extra-bands", second, "--extra-bands", third,
                     "--masks", mask, "--size", SIZE, "-o", tmp_path / "out")
    assert_one_line_error(result, "d1.tif", "d3.tif 2", "3 bands")
    assert not (tmp_path / "out").exists()


def test_resume_digests_every_date(dates, make_raster, tmp_path, run_cli):
    image, second, third, mask = dates
    out = tmp_path / "out"
    args = ("tile", image, "--extra-bands", second, "--extra-bands", third, "--masks", mask,
            "--size", SIZE, "--resume", "-o", out)
    assert run_cli(*args).exit_code == 0
    _date(make_raster, "d3.tif", 3, shape=(32, 32), plus=5,
          transform=from_origin(*UTM_ORIGIN, 1.0, 1.0))
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    with rasterio.open(out / _rows(out)[0]["image"]) as patch:
        assert (patch.read(7) == 36).all()


def test_max_nodata_counts_every_dates_nodata(dates, make_raster, tmp_path, run_cli):
    image, second, _, _ = dates
    values = np.stack([np.full((64, 64), 30 + b, np.uint16) for b in (1, 2, 3)])
    values[:, :5, :7] = 0
    third = make_raster("d3.tif", values, nodata=0)
    out = tmp_path / "out"
    result = run_cli("tile", image, "--extra-bands", second, "--extra-bands", third,
                     "--size", SIZE, "--max-nodata", 0.01, "--split", "1,0,0", "-o", out)
    assert result.exit_code == 0, result.output
    kept = {(r["x_off"], r["y_off"]) for r in _rows(out)}
    assert kept == {("32", "0"), ("0", "32"), ("32", "32")}


def test_png_patches_of_too_many_dates_name_the_last(dates, tmp_path, run_cli):
    image, second, third, _ = dates
    result = run_cli("tile", image, "--extra-bands", second, "--extra-bands", third,
                     "--format", "png", "--size", SIZE, "-o", tmp_path / "out")
    assert_one_line_error(result, "d3.tif", "6 of", "earlier dates", "make 9 bands")


def test_dates_column_holds_names_with_separators(dates, make_raster, tmp_path, run_cli):
    image = dates[0]
    odd = [_date(make_raster, "x;y.tif", 2), _date(make_raster, "p,q.tif", 3)]
    out = tmp_path / "out"
    result = run_cli("tile", image, "--extra-bands", odd[0], "--extra-bands", odd[1],
                     "--size", SIZE, "-o", out)
    assert result.exit_code == 0, result.output
    for row in _rows(out):  # a name's ';' or ',' is no boundary between dates
        assert json.loads(row["dates"]) == ["d1.tif", "x;y.tif", "p,q.tif"]
        with rasterio.open(out / row["image"]) as patch:
            assert json.loads(patch.tags()["GEOTILE_DATES"]) == json.loads(row["dates"])
