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
