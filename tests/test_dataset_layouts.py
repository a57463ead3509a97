"""Datasets' own layouts: images paired with their labels by the names they ship with."""

from __future__ import annotations

import csv

import numpy as np
import rasterio
from rasterio.transform import from_origin

#: Sen1Floods11 chips are EPSG:4326, 10 m (about 0.0001 degrees)
_S1F_TRANSFORM = from_origin(-66.0, -14.0, 0.0001, 0.0001)


def _sen1floods11_chip(make_raster, chip: str, seed: int) -> np.ndarray:
    """HandLabeled/S1Hand/<chip>_S1Hand.tif (VV, VH float32), S2Hand/<chip>_S2Hand.tif
    (13 bands uint16) and LabelHand/<chip>_LabelHand.tif (int16: -1 no data, 0, 1, -1
    not declared nodata, as shipped); returns the label."""
    rng = np.random.default_rng(seed)
    label = np.zeros((32, 32), np.int16)
    label[:, 12 + seed:] = 1
    label[:4] = -1
    kw = {"crs": "EPSG:4326", "transform": _S1F_TRANSFORM}
    make_raster(f"S1Hand/{chip}_S1Hand.tif", rng.normal(-15, 3, (2, 32, 32)).astype("float32"),
                **kw)
    make_raster(f"S2Hand/{chip}_S2Hand.tif", rng.integers(0, 4000, (13, 32, 32), np.uint16),
                **kw)
    make_raster(f"LabelHand/{chip}_LabelHand.tif", label, **kw)
    return label


def test_sen1floods11_chips_pair_with_their_labelhand(run_cli, make_raster, tmp_path):
    """tile S1Hand/ (or S2Hand/) --masks LabelHand/ was refused: 'no mask named
    Bolivia_103757_S1Hand.* in LabelHand'. <chip>_S1Hand and <chip>_S2Hand name the chip
    whose <chip>_LabelHand is the label: each patch's mask is its own chip's label."""
    for folder in ("S1Hand", "S2Hand", "LabelHand"):
        (tmp_path / folder).mkdir()
    labels = {chip: _sen1floods11_chip(make_raster, chip, seed)
              for seed, chip in enumerate(("Bolivia_103757", "Ghana_5079"))}
    for sensor in ("S1Hand", "S2Hand"):
        out = tmp_path / f"out_{sensor}"
        result = run_cli("tile", tmp_path / sensor, "--masks", tmp_path / "LabelHand",
                         "--size", 16, "-o", out)
        assert result.exit_code == 0, result.output
        with (out / "index.csv").open() as handle:
            rows = list(csv.DictReader(handle))
        assert sorted({r["source"] for r in rows}) == [
            f"Bolivia_103757_{sensor}.tif", f"Ghana_5079_{sensor}.tif"]
        for row in rows:
            chip = row["source"].rsplit("_", 1)[0]
            top, left = int(row["y_off"]), int(row["x_off"])
            with rasterio.open(out / row["mask"]) as mask:
                assert mask.read(1).tolist() == labels[chip][top:top + 16,
                                                             left:left + 16].tolist()


def test_sen1floods11_predictions_score_against_labelhand_without_its_no_data(
        run_cli, make_raster, tmp_path):
    """evaluate preds/ LabelHand/ (predict names its outputs <chip>_S1Hand.tif) found no
    pairs, and a chip's pair was refused: 'negative class id -1 ... declare it'. The chips
    pair; the truth's undeclared -1 is no data, left out as declaring it would; a
    prediction's -1 is still refused."""
    import json

    from .conftest import assert_one_line_error

    for folder in ("S1Hand", "S2Hand", "LabelHand", "preds"):
        (tmp_path / folder).mkdir()
    kw = {"crs": "EPSG:4326", "transform": _S1F_TRANSFORM}
    expected = np.zeros((2, 2), np.int64)
    for seed, chip in enumerate(("Bolivia_103757", "Ghana_5079")):
        label = _sen1floods11_chip(make_raster, chip, seed)
        pred = (label == 1).astype(np.uint8)
        pred[:, 8:12] = 1  # false positives, some under the no-data rows
        pred[20:, -2:] = 0  # false negatives
        make_raster(f"preds/{chip}_S1Hand.tif", pred, **kw)
        known = label >= 0
        np.add.at(expected, (label[known], pred[known]), 1)
    result = run_cli("evaluate", tmp_path / "preds", tmp_path / "LabelHand", "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["confusion_matrix"] == expected.tolist()
    assert scores["images"] == 2 and scores["pixels"] == expected.sum() == 2 * 28 * 32
    one = run_cli("evaluate", tmp_path / "preds/Ghana_5079_S1Hand.tif",
                  tmp_path / "LabelHand/Ghana_5079_LabelHand.tif", "--json")
    assert one.exit_code == 0, one.output
    assert json.loads(one.stdout)["pixels"] == 28 * 32

    negative = make_raster("neg_S1Hand.tif", np.full((32, 32), -1, np.int16), **kw)
    result = run_cli("evaluate", negative, tmp_path / "LabelHand/Ghana_5079_LabelHand.tif")
    assert_one_line_error(result, "neg_S1Hand.tif", "negative class id -1")
