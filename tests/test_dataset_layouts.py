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
