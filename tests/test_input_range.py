"""predict's advice on float pixels reaching a model unscaled (geotile.input_range), for SAR
backscatter: linear power of a long tail, and decibels."""

from __future__ import annotations

import numpy as np
import pytest

from .onnx_models import pointwise_model


def _linear_power(seed: int = 0) -> np.ndarray:
    """Sentinel-1 RTC gamma0 in linear power (ASF HyP3, OPERA RTC-S1): mostly 0..0.5, a
    few bright scatterers (ships, buildings) up to 3, and a nodata 0 collar."""
    power = np.random.default_rng(seed).gamma(1.0, 0.05, (64, 64)).astype(np.float32)
    power[30:33, 30:33] = 3.0
    power[:, :10] = 0
    return power


@pytest.mark.parametrize("product", ["power", "dB"])
def test_sar_backscatter_gets_no_0_255_advice(run_cli, make_raster, tmp_path, product):
    """Linear gamma0 (99% of it below 0.3, a few targets at 3) was warned 'if it was trained
    on 0..1 inputs give --scale, e.g. --scale 0.00392 for 0..255 values (0.333 for this
    top)'; gamma0 in dB (-40..+4.8, -inf where the power is 0) got --scale 0.00392 or 0.21,
    which leave it -8..1. Neither is a 0..255 image: no scale advice; the pixels go in as
    they are."""
    power = _linear_power()
    if product == "dB":
        with np.errstate(divide="ignore"):
            image = make_raster("hyp3_VV_dB.tif", (10 * np.log10(power)).astype(np.float32))
    else:
        image = make_raster("rtc_VV.tif", power, nodata=0)
    model = pointwise_model(tmp_path / "m.onnx", channels=1)
    result = run_cli("predict", model, image, "-o", tmp_path / "p.tif", "--tile-size", "32")
    assert result.exit_code == 0, result.output
    assert "as they are" not in result.stderr and "0.00392" not in result.stderr, \
        result.stderr


def test_float_0_255_pixels_are_still_warned(run_cli, make_raster, tmp_path):
    """The advice still comes for a float image of 0..255 (gdal_translate -ot Float32 of an
    8-bit one), with a few dark negative pixels of a cubic resampling's ringing."""
    pixels = np.random.default_rng(1).integers(0, 256, (64, 64)).astype(np.float32)
    pixels[0, :5] = -3
    image = make_raster("f255.tif", pixels)
    model = pointwise_model(tmp_path / "m.onnx", channels=1)
    result = run_cli("predict", model, image, "-o", tmp_path / "p.tif", "--tile-size", "32")
    assert result.exit_code == 0, result.output
    assert "as they are" in result.stderr and "--scale 0.00392" in result.stderr


def _reflectance_with_water(seed: int = 0) -> np.ndarray:
    """Float surface reflectance x 10000 of a coastal scene: land 300..4000, and 20 of 64
    columns of water at -120..40 (Sentinel-2's BOA_ADD_OFFSET applied: 23% below 0)."""
    rng = np.random.default_rng(seed)
    values = rng.uniform(300, 4000, (64, 64)).astype(np.float32)
    values[:, :20] = rng.uniform(-120, 40, (64, 20))
    return values


@pytest.mark.parametrize("scale, options, advice", [
    (1, [], "for this top"),
    (1e-4, ["--mean", "123.675", "--std", "58.395"], "give --scale 255"),
])
def test_reflectance_with_negative_water_is_still_advised(run_cli, make_raster, tmp_path,
                                                          scale, options, advice):
    """A tenth of the values below 0 took the advice away (2d1e72f, for dB and standardised
    values): float reflectance x 10000 with 23% of slightly negative water went to a 0..1
    model unwarned, reflectance 0..1 to a 0..255 mean/std one. Its negatives are a few
    percent of its top, not a scale of their own: advised as before."""
    values = _reflectance_with_water()
    image = make_raster("coast.tif", values * scale)
    model = pointwise_model(tmp_path / "m.onnx", channels=1)
    result = run_cli("predict", model, image, "-o", tmp_path / "p.tif", "--tile-size", "32",
                     *options)
    assert result.exit_code == 0, result.output
    top = float((values * scale).max())
    assert "as they are" in result.stderr and advice in result.stderr, result.stderr
    assert f"reach only {top:g}" in result.stderr if options else \
        f"reach {top:g}: " in result.stderr and f"({1 / top:.3g} for this top)" in result.stderr


def test_standardised_values_get_no_0_255_advice(run_cli, make_raster, tmp_path):
    """z-scores (half of them negative, as deep as the positives are high) are no 0..255
    image: no scale advice."""
    values = np.random.default_rng(3).normal(0, 1, (64, 64)).astype(np.float32)
    image = make_raster("z.tif", values)
    model = pointwise_model(tmp_path / "m.onnx", channels=1)
    result = run_cli("predict", model, image, "-o", tmp_path / "p.tif", "--tile-size", "32")
    assert result.exit_code == 0, result.output
    assert "as they are" not in result.stderr, result.stderr
