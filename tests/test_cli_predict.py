"""`geotile predict` on the command line."""

from __future__ import annotations

import re

import numpy as np
import rasterio

from .conftest import assert_one_line_error
from .onnx_models import pointwise_model


def test_predict_several_images_into_a_folder(run_cli, make_raster, tmp_path):
    model = pointwise_model(tmp_path / "m.onnx")
    a = make_raster("a.tif", np.zeros((3, 50, 60), np.uint8))
    b = make_raster("b.tif", np.full((3, 40, 30), 200, np.uint8))
    result = run_cli("-v", "predict", model, a, b, "-o", tmp_path / "out", "--tile-size", "32")
    assert result.exit_code == 0, result.output
    # -v describes the model: the provider auto chose (CUDA where usable), layout, size
    assert re.search(r"m\.onnx: (CPU|CUDA|Tensorrt)ExecutionProvider, NCHW, 3 channels",
                     result.stderr)
    for name, shape in (("a.tif", (50, 60)), ("b.tif", (40, 30))):
        with rasterio.open(tmp_path / "out" / name) as dst:
            assert dst.shape == shape


def test_a_batch_checks_every_images_bands_before_the_first(run_cli, make_raster, tmp_path):
    model = pointwise_model(tmp_path / "m.onnx")
    a = make_raster("a.tif", np.zeros((3, 40, 40), np.uint8))
    pan = make_raster("z_pan.tif", np.zeros((1, 40, 40), np.uint8))
    assert_one_line_error(run_cli("predict", model, a, pan, "-o", tmp_path / "out",
                                  "--tile-size", "32"), "z_pan.tif", "--bands 1,1,1")
    assert not (tmp_path / "out" / "a.tif").exists()


def test_bad_inputs(run_cli, make_raster, real_data, tmp_path):
    model = pointwise_model(tmp_path / "m.onnx")
    pan = make_raster("pan.tif", np.zeros((1, 20, 20), np.uint16))
    assert_one_line_error(run_cli("predict", model, pan, "-o", tmp_path / "o.tif"),
                          "pan.tif", "--bands 1,1,1")
    assert_one_line_error(run_cli("predict", tmp_path / "none.onnx", pan, "-o",
                                  tmp_path / "o.tif"), "none.onnx", "no such model file")
    too_new = pointwise_model(tmp_path / "new.onnx", ir_version=14)
    assert_one_line_error(run_cli("predict", too_new, pan, "-o", tmp_path / "o.tif"),
                          "new.onnx", "IR version 14")
    assert_one_line_error(run_cli("predict", model, real_data / "rasterio" / "corrupt.tif",
                                  "-o", tmp_path / "o.tif"), "corrupt.tif", "cannot be read")
    assert_one_line_error(run_cli("predict", model, pan, "--bands", "1,2,3", "-o",
                                  tmp_path / "o.tif"), "band 2 does not exist")
    assert not (tmp_path / "o.tif").exists()


def test_existing_output_is_kept(run_cli, make_raster, tmp_path):
    model = pointwise_model(tmp_path / "m.onnx")
    image = make_raster("img.tif", np.zeros((3, 20, 20), np.uint8))
    out = tmp_path / "o.tif"
    out.write_bytes(b"old")
    assert_one_line_error(run_cli("predict", model, image, "-o", out), "o.tif", "--overwrite")
    assert out.read_bytes() == b"old"
    assert run_cli("predict", model, image, "-o", out, "--overwrite").exit_code == 0


def test_uint8_outputs_with_a_mask_print_no_gdal_errors(run_cli, make_raster, tmp_path, capfd):
    """uint8 probabilities of images with nodata get an internal mask, written block row by
    block row with the bands: GDAL's compression threads (GDAL 3.10) then read the bands'
    ExtraSamples from freed memory and print 'ERROR 1: ... Bad value N for "ExtraSamples"
    tag' (intermittently) straight to stderr. Nothing but geotile's own lines there, and the
    values and mask are those of a float32 run."""
    rng = np.random.default_rng(5)
    images = []
    for i in range(4):
        pixels = rng.integers(1, 255, (3, 600, 640)).astype("uint8")
        pixels[:, :, : 40 + 30 * i] = 0  # a nodata collar
        images.append(make_raster(f"img{i}.tif", pixels, nodata=0))
    model = pointwise_model(tmp_path / "m.onnx", classes=3)
    capfd.readouterr()
    result = run_cli("-q", "predict", model, *images, "-o", tmp_path / "u8", "--dtype", "uint8",
                     "--tile-size", "128", "--co", "BLOCKXSIZE=128", "--co", "BLOCKYSIZE=128")
    assert result.exit_code == 0, result.output
    assert "ERROR" not in capfd.readouterr().err
    result = run_cli("-q", "predict", model, *images, "-o", tmp_path / "f32", "--tile-size",
                     "128")
    assert result.exit_code == 0, result.output
    for i in range(4):
        with rasterio.open(tmp_path / "u8" / f"img{i}.tif") as u8, \
                rasterio.open(tmp_path / "f32" / f"img{i}.tif") as f32:
            expected = f32.read()
            valid = np.isfinite(expected[0])
            np.testing.assert_array_equal(u8.dataset_mask() > 0, valid)
            assert not valid[:, : 40 + 30 * i].any() and valid[:, 40 + 30 * i :].all()
            np.testing.assert_allclose(u8.read()[:, valid] / 255, expected[:, valid],
                                       atol=0.5 / 255 + 1e-6)
