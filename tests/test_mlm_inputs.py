"""What an MLM item says its model receives (mlm:input's input structure: dim_order, shape,
data_type), read back from tiny models whose outputs show their input."""
from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from onnx import TensorProto, helper

from .conftest import assert_one_line_error
from .onnx_models import FLOAT, save_graph
from .test_predict_mlm import item


def centred_model(path, dims=("d0", "d1", "d2", "d3"), elem=FLOAT):
    """x - mean(x over the last axis), every axis symbolic: runs in either layout, and is the
    per-pixel centring of the bands only where the last axis is the bands (NHWC)."""
    nodes = [helper.make_node("Cast", ["image"], ["x"], to=FLOAT),
             helper.make_node("ReduceMean", ["x"], ["m"], axes=[3], keepdims=1),
             helper.make_node("Sub", ["x", "m"], ["values"])]
    return save_graph(path, nodes, [("image", elem, list(dims))],
                      [("values", FLOAT, list(dims))])


def window_model(path, channels=3):
    """Every output pixel is the width of the window the model was fed."""
    nodes = [helper.make_node("Shape", ["image"], ["shape"]),
             helper.make_node("Gather", ["shape", "three"], ["w"], axis=0),
             helper.make_node("Cast", ["w"], ["wf"], to=FLOAT),
             helper.make_node("Mul", ["image", "zero"], ["z"]),
             helper.make_node("Add", ["z", "wf"], ["values"])]
    dims = ["batch", channels, "height", "width"]
    return save_graph(path, nodes, [("image", FLOAT, dims)], [("values", FLOAT, dims)],
                      {"three": np.array(3, np.int64), "zero": np.array(0, np.float32)})


def _window_item(tmp_path, size):
    """window_model beside an item whose input shape is [-1, 3, size, size]."""
    (tmp_path / "m").mkdir()
    window_model(tmp_path / "m" / "model.onnx")
    return write_item(tmp_path / "m", structured(["batch", "bands", "height", "width"],
                                                 shape=[-1, 3, size, size]))


def write_item(folder, content):
    (folder / "item.json").write_text(json.dumps(content))
    return folder / "item.json"


def structured(dim_order, shape=None, data_type="float32", bands=("B04", "B03", "B02")):
    """item() of 3 bands whose input structure is ``dim_order``/``shape``/``data_type``."""
    content = item(list(bands), None)
    content["properties"]["mlm:input"][0]["input"] = {
        "shape": shape or [-1 if d != "bands" else 3 for d in dim_order],
        "dim_order": list(dim_order), "data_type": data_type}
    return content


@pytest.fixture
def rgb(make_raster):
    pixels = np.random.default_rng(146).integers(0, 1000, (3, 16, 16)).astype(np.uint16)
    return make_raster("rgb.tif", pixels), pixels.astype(np.float64)


def run(run_cli, tmp_path, path, tif, *options, code=0):
    verbose = ["-v"] if code == 0 else []  # a refusal: its one line alone
    result = run_cli(*verbose, "predict", path, tif, "-o", tmp_path / "o.tif", "--overwrite",
                     "--dtype", "float32", *options)
    assert result.exit_code == code, result.output
    if code:
        return None, result
    with rasterio.open(tmp_path / "o.tif") as out:
        return out.read().astype(np.float64), result


@pytest.mark.parametrize("dim_order", [["batch", "height", "width", "bands"],
                                       ["height", "width", "bands"]])
def test_channels_last_dim_order_feeds_the_bands_on_the_last_axis(tmp_path, run_cli, rgb,
                                                                    dim_order):
    """A model of symbolic axes whose item says [batch, height, width, bands] was fed NCHW
    (its mean taken across the window's width, exit 0); now NHWC, as the item says."""
    tif, x = rgb
    (tmp_path / "m").mkdir()
    centred_model(tmp_path / "m" / "model.onnx")
    path = write_item(tmp_path / "m", structured(dim_order))
    out, result = run(run_cli, tmp_path, path, tif, "--tile-size", "16")
    np.testing.assert_allclose(out, x - x.mean(axis=0), atol=1e-3)
    assert "dim_order" in result.stderr, result.stderr


def test_a_dim_order_the_model_contradicts_is_refused(tmp_path, run_cli, rgb):
    tif, _ = rgb
    (tmp_path / "m").mkdir()
    centred_model(tmp_path / "m" / "model.onnx", dims=("n", 3, "h", "w"))
    path = write_item(tmp_path / "m", structured(["batch", "height", "width", "bands"]))
    _, result = run(run_cli, tmp_path, path, tif, code=1)
    assert_one_line_error(result, "item.json", "dim_order")


@pytest.mark.parametrize("dim_order", [["batch", "time", "bands", "height", "width"],
                                       ["batch", "bands", "lat", "time"]])
def test_a_dim_order_geotile_cannot_feed_is_refused(tmp_path, run_cli, rgb, dim_order):
    tif, _ = rgb
    (tmp_path / "m").mkdir()
    centred_model(tmp_path / "m" / "model.onnx")
    path = write_item(tmp_path / "m", structured(dim_order))
    _, result = run(run_cli, tmp_path, path, tif, code=1)
    assert_one_line_error(result, "item.json", "dim_order")


def test_the_item_s_fixed_height_and_width_are_the_tile_size(tmp_path, run_cli, rgb):
    """An item whose input shape is [-1, 3, 8, 8] on a model of symbolic H/W: fed 512 px
    windows (16 px: the whole image); now 8 px ones, and --tile-size 16 warned of."""
    tif, _ = rgb
    path = _window_item(tmp_path, 8)
    out, result = run(run_cli, tmp_path, path, tif)
    assert np.all(out == 8), np.unique(out)
    out, result = run(run_cli, tmp_path, path, tif, "--tile-size", "16")
    assert np.all(out == 16), np.unique(out)
    assert "item.json" in result.stderr and "8x8" in result.stderr, result.stderr


def test_an_item_shape_the_model_contradicts_is_refused(tmp_path, run_cli, rgb):
    tif, _ = rgb
    (tmp_path / "m").mkdir()
    centred_model(tmp_path / "m" / "model.onnx", dims=("n", 3, 16, 16))
    path = write_item(tmp_path / "m", structured(["batch", "bands", "height", "width"],
                                                 shape=[-1, 3, 8, 8]))
    _, result = run(run_cli, tmp_path, path, tif, code=1)
    assert_one_line_error(result, "item.json", "shape")


def test_a_float_input_fed_to_an_integer_model_is_refused(tmp_path, run_cli, rgb):
    """The item says its scaled input is float32; the model takes uint16: geotile would
    round the scaled values."""
    tif, _ = rgb
    (tmp_path / "m").mkdir()
    centred_model(tmp_path / "m" / "model.onnx", dims=("n", "h", "w", 3),
                  elem=TensorProto.UINT16)
    content = structured(["batch", "height", "width", "bands"])
    content["properties"]["mlm:input"][0]["value_scaling"] = [{"type": "scale",
                                                               "value": 10000}]
    path = write_item(tmp_path / "m", content)
    _, result = run(run_cli, tmp_path, path, tif, code=1)
    assert_one_line_error(result, "item.json", "data_type float32")


def test_the_item_s_band_nodata_the_image_does_not_declare_is_warned_of(tmp_path, run_cli,
                                                                        make_raster):
    """raster:bands nodata 0 of the bands fed, an image declaring none: its 0 pixels were fed
    as values without a word; now warned of with the fix (the image's own nodata rules)."""
    pixels = np.random.default_rng(7).integers(0, 1000, (3, 16, 16)).astype(np.uint16)
    tif = make_raster("rgb.tif", pixels)
    (tmp_path / "m").mkdir()
    centred_model(tmp_path / "m" / "model.onnx", dims=("n", 3, "h", "w"))
    content = structured(["batch", "bands", "height", "width"])
    content["properties"]["raster:bands"] = [{"name": b, "nodata": 0, "data_type": "uint16"}
                                             for b in ("B02", "B03", "B04")]
    path = write_item(tmp_path / "m", content)
    _, result = run(run_cli, tmp_path, path, tif, "--tile-size", "16")
    assert "nodata 0" in result.stderr and "a_nodata" in result.stderr, result.stderr
    tagged = make_raster("tagged.tif", pixels, nodata=0)
    _, result = run(run_cli, tmp_path, path, tagged, "--tile-size", "16")
    assert "a_nodata" not in result.stderr, result.stderr


def test_an_item_window_smaller_than_any_predict_feeds_is_warned_and_left(tmp_path, run_cli,
                                                                          rgb):
    """The spec's own U-Net example declares a [-1, 8, 3, 3] input (a placeholder) for a
    model of symbolic H/W: 3 px windows are below the smallest predict feeds (8 px), so the
    default 512 px windows are fed (the 16 px image padded) with a warning naming the item."""
    tif, _ = rgb
    path = _window_item(tmp_path, 3)
    out, result = run(run_cli, tmp_path, path, tif)
    assert np.all(out == 512), np.unique(out)
    assert "item.json" in result.stderr and "3x3" in result.stderr, result.stderr
    # no --tile-size was given: no advice to leave it out (the 3x3 windows are not fed)
    assert "--tile-size 512" not in result.stderr, result.stderr


@pytest.mark.parametrize("dim_order", [["batch", "bands", "width", "height"],
                                       ["batch", "x", "y", "bands"]])
def test_a_dim_order_of_width_before_height_is_refused(tmp_path, run_cli, rgb, dim_order):
    """An item whose model takes its windows transposed ([batch, bands, width, height]) was
    fed [batch, bands, height, width] (the first spatial axis taken as the height), the
    model's rows and columns swapped, exit 0; now refused in one line naming the item."""
    tif, _ = rgb
    (tmp_path / "m").mkdir()
    centred_model(tmp_path / "m" / "model.onnx")
    path = write_item(tmp_path / "m", structured(dim_order))
    _, result = run(run_cli, tmp_path, path, tif, code=1)
    assert_one_line_error(result, "item.json", "dim_order", "width before its height")
