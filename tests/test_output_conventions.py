"""predict's rasters follow the conventions GIS clients expect: scale/offset, colour
interpretation, band descriptions, category names, tags, creation options, --json."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import rasterio
from rasterio.enums import ColorInterp

from geotile.model import OnnxModel
from geotile.predict import PredictOptions, predict_raster

from .onnx_models import pointwise_model

NAMES = ["background", "building", "road"]


def gdalinfo(path) -> str | None:
    """gdalinfo's report of ``path``, or None where GDAL's tools are not installed."""
    if shutil.which("gdalinfo") is None:
        return None
    return subprocess.run(["gdalinfo", str(path)], capture_output=True, text=True,
                          check=True).stdout


@pytest.fixture
def image(make_raster):
    pixels = np.random.default_rng(1).integers(0, 256, (3, 40, 50), dtype=np.uint8)
    return make_raster("img.tif", pixels)


@pytest.fixture
def three_classes(tmp_path):
    return OnnxModel.from_path(pointwise_model(
        tmp_path / "three.onnx", classes=3, activation="softmax",
        metadata={"class_names": NAMES}))


@pytest.fixture
def one_class(tmp_path):
    return OnnxModel.from_path(pointwise_model(tmp_path / "one.onnx",
                                               metadata={"seg_thresh": 0.3}))


# --- 1. uint8 probabilities carry scale 1/255 and offset 0 ---------------------------------
def test_uint8_probabilities_have_scale_and_offset(tmp_path, image, three_classes):
    out = tmp_path / "p.tif"
    predict_raster(three_classes, image, out)
    with rasterio.open(out) as dst:
        assert dst.scales == (1 / 255,) * 3 and dst.offsets == (0.0,) * 3
        raw = dst.read().astype(np.float64)
    # a reader applying scale/offset sees probabilities: softmax bands sum to 1
    np.testing.assert_allclose((raw * (1 / 255)).sum(axis=0), 1, atol=2 / 255)
    report = gdalinfo(out)
    if report is not None:
        assert report.count("Offset: 0,   Scale:0.00392156862745098") == 3


def test_float32_probabilities_have_no_scale(tmp_path, image, three_classes):
    out = tmp_path / "f.tif"
    predict_raster(three_classes, image, out, options=PredictOptions(dtype="float32"))
    with rasterio.open(out) as dst:
        assert dst.scales == (1.0,) * 3 and dst.offsets == (0.0,) * 3
    report = gdalinfo(out)
    if report is not None:
        assert "Scale:" not in report


# --- 2. probability bands: gray / undefined, class names as descriptions -------------------
@pytest.mark.parametrize("dtype", ["uint8", "float32"])
@pytest.mark.parametrize("cog", [False, True])
def test_probability_bands_are_not_rgb(tmp_path, image, three_classes, dtype, cog):
    out = tmp_path / "p.tif"
    predict_raster(three_classes, image, out, options=PredictOptions(dtype=dtype, cog=cog))
    with rasterio.open(out) as dst:
        assert dst.colorinterp == (ColorInterp.gray, ColorInterp.undefined,
                                   ColorInterp.undefined)
        assert dst.descriptions == tuple(NAMES)
        assert dst.tags(ns="IMAGE_STRUCTURE").get("PHOTOMETRIC", "MINISBLACK") != "RGB"
    report = gdalinfo(out)
    if report is not None:
        assert "ColorInterp=Gray" in report and report.count("ColorInterp=Undefined") == 2
        assert "Red" not in report and "Description = building" in report
