"""STAC Machine Learning Model (MLM) items describing an ONNX model: run from the item, or
read beside the model (geotile.mlm_sidecars)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from onnx import helper

from .conftest import assert_one_line_error
from .onnx_models import FLOAT, conv1x1, save_graph

S2 = ["B01", "B02", "B03", "B04", "B08", "B11"]


def identity_model(path, channels):
    """A model whose output is its (scaled) input, IR 9: written pixels are the scaling."""
    node = helper.make_node("Identity", ["image"], ["values"])
    return save_graph(path, [node], [("image", FLOAT, ["batch", channels, "height", "width"])],
                      [("values", FLOAT, ["batch", channels, "height", "width"])])


def item(bands, scaling, *, tasks=("regression",), classes=None, href="./model.onnx",
         artifact="onnx", channels=None, **input_fields):
    """An MLM v1.5 item (the structure of the spec's examples/item_basic.json, trimmed)."""
    count = channels or len(bands) or 3
    output = {"name": "out", "tasks": list(tasks),
              "result": {"shape": [-1, count, -1, -1],
                         "dim_order": ["batch", "channel", "height", "width"],
                         "data_type": "float32"}}
    if classes is not None:
        output["classification:classes"] = classes
    spec = {"name": "image", "bands": bands,
            "input": {"shape": [-1, count, -1, -1],
                      "dim_order": ["batch", "bands" if bands else "channel", "height",
                                    "width"], "data_type": "float32"},
            "value_scaling": scaling, "resize_type": None, "pre_processing_function": None,
            **input_fields}
    return {"stac_version": "1.0.0", "type": "Feature", "id": "model",
            "stac_extensions": ["https://stac-extensions.github.io/mlm/v1.5.0/schema.json"],
            "geometry": None, "properties": {
                "datetime": None, "mlm:name": "test", "mlm:architecture": "unknown",
                "mlm:tasks": list(tasks), "mlm:input": [spec], "mlm:output": [output]},
            "assets": {"model": {"href": href, "type": "application/octet-stream",
                                 "roles": ["mlm:model"], "mlm:artifact_type": artifact}},
            "links": []}


def folder(tmp_path, content, channels=6, model=identity_model, name="item.json"):
    """model.onnx and its item (a dict, or text as it is) in tmp_path/m."""
    where = tmp_path / "m"
    where.mkdir(exist_ok=True)
    path = model(where / "model.onnx", channels)
    (where / name).write_text(content if isinstance(content, str) else json.dumps(content))
    return path, where / name


@pytest.fixture(scope="module")
def s2():
    """6 uint16 bands of DN."""
    return np.random.default_rng(106).integers(0, 12000, (6, 16, 16)).astype(np.uint16)


def image(make_raster, pixels, descriptions=None):
    return make_raster("s2.tif", pixels, descriptions=descriptions)


def predicted(run_cli, tmp_path, model, tif, *options, code=0):
    result = run_cli("-v", "predict", model, tif, "-o", tmp_path / "o.tif", "--dtype",
                     "float32", "--tile-size", "16", "--overwrite", *options)
    assert result.exit_code == code, result.output
    with rasterio.open(tmp_path / "o.tif") as out:
        return out.read().astype(np.float64), result.stderr


SCALINGS = [
    {"type": "min-max", "minimum": 100, "maximum": 10100},
    {"type": "z-score", "mean": 1500.5, "stddev": 812.25},
    {"type": "clip", "minimum": 2000, "maximum": 9000},
    {"type": "clip-min", "minimum": 3000},
    {"type": "offset", "value": 1000},
    {"type": "scale", "value": 10000},
]


def spec_formula(x):
    """The spec's scaling of each of SCALINGS' bands (README, Value Scaling Object)."""
    x = x.astype(np.float64)
    return np.stack([(x[0] - 100) / (10100 - 100), (x[1] - 1500.5) / 812.25,
                     np.minimum(np.maximum(x[2], 2000), 9000), np.maximum(x[3], 3000),
                     x[4] - 1000, x[5] / 10000])


def test_each_value_scaling_type_per_band_from_the_item(tmp_path, run_cli, make_raster, s2):
    """`geotile predict item.json` ran nothing (a .json is no ONNX model); now the item's
    ONNX asset runs on uint16 pixels scaled as the spec defines each type, per band."""
    _, path = folder(tmp_path, item(S2, SCALINGS))
    out, stderr = predicted(run_cli, tmp_path, path, image(make_raster, s2))
    np.testing.assert_allclose(out, spec_formula(s2), rtol=1e-6, atol=1e-6)
    assert "item.json" in stderr, stderr


def test_an_item_beside_the_model_is_read_and_clip_max_applies(tmp_path, run_cli, make_raster,
                                                                 s2):
    model, _ = folder(tmp_path, item(S2, [{"type": "clip-max", "maximum": 5000}]))
    out, _ = predicted(run_cli, tmp_path, model, image(make_raster, s2))
    np.testing.assert_array_equal(out, np.minimum(s2, 5000))


def test_an_item_named_as_a_paddle_program_beside_its_weights_is_read(tmp_path, run_cli,
                                                                      make_raster, s2):
    """A PaddlePaddle export folder holding its ONNX export and an MLM item named
    inference.json (beside inference.pdiparams): the item is read, not refused as a Paddle 3
    program; a Paddle 3 program of that name is named with paddle2onnx's command."""
    from .conftest import assert_one_line_error

    _, path = folder(tmp_path, item(S2, [{"type": "scale", "value": 2}]), name="inference.json")
    (path.parent / "inference.pdiparams").write_bytes(b"")
    out, _ = predicted(run_cli, tmp_path, path, image(make_raster, s2))
    np.testing.assert_allclose(out, s2 / 2)
    path.write_text('{"base_code":{"magic":"pir","trainable":true,"version":1},"program":{}}')
    result = run_cli("predict", path, image(make_raster, s2), "-o", tmp_path / "p.tif")
    assert_one_line_error(result, "PaddlePaddle inference model", "--model_filename "
                          "inference.json --params_filename inference.pdiparams")


def test_band_names_pick_the_image_s_bands_by_description(tmp_path, run_cli, make_raster, s2):
    """Bands B04,B03,B02 of a 6-band image described B01..B11 feed a 3-channel model."""
    model, _ = folder(tmp_path, item(["B04", "B03", "B02"],
                                     [{"type": "scale", "value": 10000}]), channels=3)
    out, stderr = predicted(run_cli, tmp_path, model, image(make_raster, s2, S2))
    np.testing.assert_allclose(out, s2[[3, 2, 1]] / 10000, rtol=1e-6)
    assert "4,3,2" in stderr, stderr


def test_undescribed_bands_go_by_position_only_with_the_item_s_count(tmp_path, run_cli,
                                                                      make_raster, s2):
    model, _ = folder(tmp_path, item(["B04", "B03", "B02"], None), channels=3)
    result = run_cli("predict", model, image(make_raster, s2), "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "s2.tif", "6 bands", "B04,B03,B02", "--bands")
    out, _ = predicted(run_cli, tmp_path, model, image(make_raster, s2), "--bands", "4,3,2")
    np.testing.assert_array_equal(out, s2[[3, 2, 1]])  # no value_scaling: raw values


def test_legacy_norm_type_and_statistics(tmp_path, run_cli, make_raster, s2):
    """MLM v1.0-1.3: norm_type z-score with statistics per band (norm_by_channel), and
    clip: x / norm_clip clipped to 0..1."""
    stats = [{"mean": 1000.0 * i, "stddev": 500.0 + i} for i in range(6)]
    legacy = item(S2, None, norm_type="z-score", norm_by_channel=True, statistics=stats)
    model, _ = folder(tmp_path, legacy)
    out, _ = predicted(run_cli, tmp_path, model, image(make_raster, s2))
    mean = np.array([s["mean"] for s in stats])[:, None, None]
    std = np.array([s["stddev"] for s in stats])[:, None, None]
    np.testing.assert_allclose(out, (s2 - mean) / std, rtol=1e-5, atol=1e-6)
    legacy = item(S2, None, norm_type="clip", norm_clip=[4000] * 6)
    model, _ = folder(tmp_path, legacy)
    out, _ = predicted(run_cli, tmp_path, model, image(make_raster, s2))
    np.testing.assert_allclose(out, np.clip(s2 / 4000, 0, 1), rtol=1e-6)


def test_options_override_the_item(tmp_path, run_cli, make_raster, s2):
    model, _ = folder(tmp_path, item(S2, SCALINGS))
    out, _ = predicted(run_cli, tmp_path, model, image(make_raster, s2), "--mean", "0",
                       "--std", "2", "--scale", "1")
    np.testing.assert_allclose(out, s2 / 2, rtol=1e-6)


def test_class_names_and_colours_from_classification_classes(tmp_path, run_cli, make_raster,
                                                             s2):
    classes = [{"value": 1, "name": "water", "color_hint": "0000FF"},
               {"value": 0, "name": "land", "color_hint": "00FF00"}]
    model, _ = folder(tmp_path, item(S2, [{"type": "scale", "value": 10000}],
                                     tasks=["semantic-segmentation"], classes=classes),
                      model=lambda p, c: save_graph(
                          p, [conv1x1("image", "logits", c, 2, seed=106)[0]],
                          [("image", FLOAT, ["batch", c, "height", "width"])],
                          [("logits", FLOAT, ["batch", 2, "height", "width"])],
                          conv1x1("image", "logits", c, 2, seed=106)[1]))
    result = run_cli("predict", model, image(make_raster, s2), "-o", tmp_path / "c.tif",
                     "--output-type", "class", "--tile-size", "16")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "c.tif") as out:
        assert out.colormap(1)[0][:3] == (0, 255, 0) and out.colormap(1)[1][:3] == (0, 0, 255)
        assert json.loads(out.tags()["GEOTILE_CLASS_NAMES"]) == ["land", "water"]


def test_class_values_other_than_positions_are_warned_of(tmp_path, run_cli, make_raster, s2):
    classes = [{"value": 10, "name": "a"}, {"value": 20, "name": "b"},
               {"value": 30, "name": "c"}, {"value": 40, "name": "d"}, {"value": 50, "name": "e"},
               {"value": 60, "name": "f"}]
    model, _ = folder(tmp_path, item(S2, None, tasks=["segmentation"], classes=classes))
    result = run_cli("predict", model, image(make_raster, s2), "-o", tmp_path / "o.tif",
                     "--tile-size", "16", "--activation", "none")
    assert result.exit_code == 0, result.output
    assert "not 0..5" in result.stderr and "channel" in result.stderr, result.stderr


@pytest.mark.parametrize("change, fragments", [
    (lambda i: i["assets"]["model"].update(href="https://example.com/m.onnx"),
     ["remote", "https://example.com/m.onnx", "download"]),
    (lambda i: i["assets"]["model"].update({"mlm:artifact_type": "torch.save",
                                            "href": "m.pt"}),
     ["torch.save", "export the model to ONNX"]),
    (lambda i: i["assets"]["model"].update(href="gone.onnx"), ["gone.onnx", "does not exist"]),
    (lambda i: i["assets"]["model"].update(href="../m/model.onnx"),
     ["another folder", "keep the item in the model's folder"]),
])
def test_an_item_without_a_local_onnx_model_says_what_to_do(tmp_path, run_cli, make_raster,
                                                            s2, change, fragments):
    content = item(S2, None)
    change(content)
    _, path = folder(tmp_path, content)
    if "../m/" in content["assets"]["model"]["href"]:
        (tmp_path / "items").mkdir()
        path = path.rename(tmp_path / "items" / "item.json")
    result = run_cli("predict", path, image(make_raster, s2), "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "item.json", *fragments)
    assert not (tmp_path / "o.tif").exists()


def _set(path, value):
    def change(content):
        where = content["properties"]["mlm:input"][0]
        for key in path[:-1]:
            where = where[key]
        where[path[-1]] = value
    return change


@pytest.mark.parametrize("change, fragments", [
    (_set(["value_scaling"], [{"type": "processing", "format": "gdal-calc",
                               "expression": "A*2"}]), ["processing", "--mean"]),
    (_set(["pre_processing_function"], {"format": "python", "expression": "pkg.mod:fn"}),
     ["pre_processing_function", "--scale"]),
    (_set(["value_scaling"], [{"type": "z-score", "mean": "12", "stddev": 1}]),
     ["value_scaling[0] mean", "'12'", "finite number"]),
    (_set(["value_scaling"], [{"type": "scale", "value": 0}]), ["other than 0"]),
    (_set(["value_scaling"], [{"type": "min_max", "minimum": 0, "maximum": 1}]),
     ["min-max"]),
    (_set(["value_scaling"], [{"type": "offset", "value": 1}] * 4), ["4 objects for 6 bands"]),
    (_set(["input", "shape"], [-1, 4, -1, -1]), ["4 channels", "takes 6"]),
    (_set(["norm_type"], "l2"), ["norm_type 'l2'", "--mean"]),
    (_set(["value_scaling"], [{"type": "clip", "minimum": 9000, "maximum": 2000}]),
     ["value_scaling[0] clip minimum 9000 is above its maximum 2000"]),
])
def test_hostile_or_unreproducible_items_are_one_line(tmp_path, run_cli, make_raster, s2,
                                                      change, fragments):
    content = item(S2, None)
    change(content)
    model, _ = folder(tmp_path, content)
    result = run_cli("predict", model, image(make_raster, s2), "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "item.json", *fragments)
    assert not (tmp_path / "o.tif").exists()


def test_nan_deep_nesting_and_huge_items_are_one_line(tmp_path, run_cli, make_raster, s2):
    tif = image(make_raster, s2)
    text = json.dumps(item(S2, [{"type": "offset", "value": 1.0}])).replace("1.0", "NaN")
    _, path = folder(tmp_path, text)
    assert_one_line_error(run_cli("predict", path, tif, "-o", tmp_path / "o.tif"),
                          "item.json", "nan")
    _, path = folder(tmp_path, '{"mlm:input": ' + "[" * 100000 + "]" * 100000 + "}")
    assert_one_line_error(run_cli("predict", path, tif, "-o", tmp_path / "o.tif"),
                          "item.json", "cannot be read")
    _, path = folder(tmp_path, json.dumps(item(S2, [{"type": "offset", "value": 1}] *
                                               200000)))
    assert_one_line_error(run_cli("predict", path, tif, "-o", tmp_path / "o.tif"),
                          "item.json", "bytes")
    assert not (tmp_path / "o.tif").exists()


@pytest.mark.parametrize("tasks", [["object-detection"], ["scene-classification"]])
def test_detection_and_scene_classification_are_refused(tmp_path, run_cli, make_raster, s2,
                                                        tasks):
    model, _ = folder(tmp_path, item(S2, None, tasks=tasks))
    result = run_cli("predict", model, image(make_raster, s2), "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "item.json", tasks[0], "not a per-pixel map")


def test_a_band_expression_is_refused_unless_bands_are_given(tmp_path, run_cli, make_raster,
                                                             s2):
    ndvi = {"name": "NDVI", "format": "rio-calc", "expression": "(B08-B04)/(B08+B04)"}
    bands = [*S2[:5], ndvi]
    model, _ = folder(tmp_path, item(bands, None))
    result = run_cli("predict", model, image(make_raster, s2), "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "NDVI", "expression", "--bands")
    out, _ = predicted(run_cli, tmp_path, model, image(make_raster, s2), "--bands",
                       "1,2,3,4,5,6")
    np.testing.assert_array_equal(out, s2)


def test_the_item_joins_the_worker_cache_key_and_resume_inputs(tmp_path):
    from geotile.exporter_sidecars import sidecar_paths
    from geotile.model import OnnxModel

    model, path = folder(tmp_path, item(S2, None))
    assert path in sidecar_paths(model)
    loaded = OnnxModel.from_path(model, providers="cpu", tile_size=16)
    assert loaded.sidecars["mlm"] == path



FTW = ["B4", "B3", "B2", "B8", "B4", "B3", "B2", "B8"]  # TorchGeo's FTW UNet: two dates


def test_repeated_band_names_are_fed_by_position_never_one_band_twice(tmp_path, run_cli,
                                                                      make_raster, s2):
    """The spec's item_pytorch_geo_unet.json names B4,B3,B2,B8 twice (two dates): a 4-band
    image described B4..B8 fed both dates from the same bands (exit 0); an 8-band image
    described in the item's order was refused. Now: by position, else one line."""
    model, _ = folder(tmp_path, item(FTW, [{"type": "z-score", "mean": 0, "stddev": 3000}]),
                      channels=8)
    four = image(make_raster, s2[:4], FTW[:4])
    result = run_cli("predict", model, four, "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "s2.tif", "B4", "twice", "--bands")
    assert not (tmp_path / "o.tif").exists()
    pixels = np.concatenate([s2[:4], s2[2:6]])
    out, _ = predicted(run_cli, tmp_path, model, make_raster("s8.tif", pixels))
    np.testing.assert_allclose(out, pixels / 3000, rtol=1e-6)
    described = image(make_raster, pixels, FTW)
    out, _ = predicted(run_cli, tmp_path, model, described)
    np.testing.assert_allclose(out, pixels / 3000, rtol=1e-6)


@pytest.mark.parametrize("descriptions, picked", [
    (["B02", "B03", "B04"], [2, 1, 0]),  # zero-padded names of B2, B3, B4
    (["B2, central wavelength 490 nm", "B3, central wavelength 560 nm",
      "B4, central wavelength 665 nm"], [2, 1, 0]),  # GDAL's SENTINEL2 driver
    (["blue", "green", "red"], [2, 1, 0]),  # eo:bands common_name
])
def test_bands_are_matched_by_number_driver_description_and_common_name(
        tmp_path, run_cli, make_raster, s2, descriptions, picked):
    """An item fed B4,B3,B2 to a 3-band image described B02,B03,B04 by position (blue as
    red, exit 0): band names match with or without zero padding, GDAL's Sentinel-2
    descriptions and the common names of the item's band objects."""
    content = item(["B4", "B3", "B2"], None, channels=3)
    content["assets"]["model"]["eo:bands"] = [
        {"name": n, "common_name": c} for n, c in (("B2", "blue"), ("B3", "green"),
                                                   ("B4", "red"))]
    model, _ = folder(tmp_path, content, channels=3)
    out, _ = predicted(run_cli, tmp_path, model, image(make_raster, s2[:3], descriptions))
    np.testing.assert_array_equal(out, s2[picked])


def test_an_image_described_with_other_bands_is_not_fed_by_position(tmp_path, run_cli,
                                                                    make_raster, s2):
    model, _ = folder(tmp_path, item(["B4", "B3", "B2"], None), channels=3)
    tif = image(make_raster, s2[:3], ["nir", "swir1", "swir2"])
    result = run_cli("predict", model, tif, "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "s2.tif", "nir, swir1, swir2", "B4,B3,B2", "--bands")
    assert not (tmp_path / "o.tif").exists()


def class_model(classes):
    """A model of as many output channels as ``classes``, 1x1 convolution (seed 106)."""
    def build(path, channels):
        node, weights = conv1x1("image", "logits", channels, classes, seed=106)
        return save_graph(path, [node], [("image", FLOAT, ["batch", channels, "height",
                                                            "width"])],
                          [("logits", FLOAT, ["batch", classes, "height", "width"])], weights)
    return build


def class_run(run_cli, tmp_path, make_raster, s2, classes, channels, key):
    content = item(S2, [{"type": "scale", "value": 10000}], tasks=["semantic-segmentation"])
    content["properties"]["mlm:output"][0][key] = classes
    model, _ = folder(tmp_path, content, model=class_model(channels))
    result = run_cli("predict", model, image(make_raster, s2), "-o", tmp_path / "c.tif",
                     "--output-type", "class", "--tile-size", "16")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "c.tif") as out:
        return json.loads(out.tags()["GEOTILE_CLASS_NAMES"]), out.colormap(1), result.stderr


@pytest.mark.parametrize("key", ["classification_classes", "classes"])
def test_the_spec_examples_classification_classes_spelling_is_read(tmp_path, run_cli,
                                                                   make_raster, s2, key):
    """The spec's examples (item_basic.json...) write classification_classes, stac-model
    reads classes too: their names and [r, g, b] color_hint were left unread."""
    classes = [{"value": 1, "name": "CITY", "color_hint": [0, 0, 255]},
               {"value": 0, "name": "BACKGROUND", "color_hint": [0, 0, 0]}]
    names, colours, _ = class_run(run_cli, tmp_path, make_raster, s2, classes, 2, key)
    assert names == ["BACKGROUND", "CITY"]
    assert colours[0][:3] == (0, 0, 0) and colours[1][:3] == (0, 0, 255)


@pytest.mark.parametrize("channels, expected", [(2, ["water", "land"]),
                                                (3, ["nodata", "water", "land"])])
def test_nodata_classes_name_no_channel_of_a_model_without_them(tmp_path, run_cli,
                                                                make_raster, s2, channels,
                                                                expected):
    """A class marked nodata (classification extension) beside a 2-class model: its 3
    names were left unread (bands named by number); now the others name its channels."""
    classes = [{"value": 0, "name": "nodata", "nodata": True, "color_hint": "000000"},
               {"value": 1, "name": "water", "color_hint": "0000FF"},
               {"value": 2, "name": "land", "color_hint": "00FF00"}]
    names, colours, _ = class_run(run_cli, tmp_path, make_raster, s2, classes, channels,
                                  "classification:classes")
    assert names == expected
    assert colours[0][:3] == ((0, 0, 255) if channels == 2 else (0, 0, 0))


def test_class_values_written_as_strings_still_order_the_channels(tmp_path, run_cli,
                                                                  make_raster, s2):
    classes = [{"value": "1", "name": "water"}, {"value": "0", "name": "land"}]
    names, _, stderr = class_run(run_cli, tmp_path, make_raster, s2, classes, 2,
                                 "classification:classes")
    assert names == ["land", "water"], stderr


@pytest.mark.parametrize("field, value", [
    ("post_processing_function", {"format": "gdal-calc", "expression": "logical_not(A)"}),
    ("bands", [{"name": "LAI", "format": "rio-calc", "expression": "B1 * 0.01"}]),
])
def test_an_output_post_processing_geotile_cannot_run_is_refused(tmp_path, run_cli,
                                                                 make_raster, s2, field,
                                                                 value):
    """item_multi_io.json's inverse-mask output is logical_not(A) of the model's: geotile
    wrote the model's values as the item's output (exit 0). Now one line, unless
    --activation says how its outputs are read."""
    content = item(S2, None)
    content["properties"]["mlm:output"][0][field] = value
    model, _ = folder(tmp_path, content)
    result = run_cli("predict", model, image(make_raster, s2), "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "item.json", "out", field, "--activation")
    assert not (tmp_path / "o.tif").exists()
    out, _ = predicted(run_cli, tmp_path, model, image(make_raster, s2), "--activation",
                       "none")
    np.testing.assert_array_equal(out, s2)


def test_two_items_of_one_model_differing_only_in_dates_are_read(tmp_path, run_cli,
                                                                 make_raster, s2):
    """A catalogue's item and its copy with another datetime/updated beside one model were
    refused as describing it differently; their mlm: fields are what is compared."""
    first = item(S2, [{"type": "scale", "value": 4}])
    second = json.loads(json.dumps(first))
    second["properties"].update(datetime="2025-01-01T00:00:00Z",
                                updated="2025-02-01T00:00:00Z")
    folder(tmp_path, first)
    model, _ = folder(tmp_path, second, name="item-v2.json")
    out, _ = predicted(run_cli, tmp_path, model, image(make_raster, s2))
    np.testing.assert_allclose(out, s2 / 4, rtol=1e-6)
    second["properties"]["mlm:input"][0]["value_scaling"][0]["value"] = 5
    (tmp_path / "m" / "item-v2.json").write_text(json.dumps(second))
    result = run_cli("predict", model, image(make_raster, s2), "-o", tmp_path / "o.tif",
                     "--overwrite")
    assert_one_line_error(result, "item-v2.json", "item.json", "differently")


def test_a_collection_is_refused_naming_its_items(tmp_path, run_cli, make_raster, s2):
    """The spec's examples/collection.json (item_assets, no href) was called no STAC item."""
    collection = {"stac_version": "1.0.0", "type": "Collection", "id": "ml-model-examples",
                  "item_assets": {"weights": {"roles": ["mlm:model", "mlm:weights"]}},
                  "summaries": {}, "links": []}
    _, path = folder(tmp_path, collection, name="collection.json")
    result = run_cli("predict", path, image(make_raster, s2), "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "collection.json", "Collection", "one of its items")
@pytest.mark.parametrize("cut", [0, 1, 4, 30, 150, 600])
def test_an_item_beside_the_model_still_being_written_is_one_line(tmp_path, run_cli,
                                                                  make_raster, s2, cut):
    """An item.json cut short (still being written, a copy interrupted) before its first
    'mlm:' (its first 197 bytes, or empty) was read as no item at all: the model ran
    without the item's scaling, exit 0. Any cut is one line now, nothing written (its advice
    is no longer --mean, --std and --scale, which did not get past it)."""
    text = json.dumps(item(S2, [{"type": "offset", "value": 1000}]))
    assert text.index("mlm:") > 150
    model, _ = folder(tmp_path, text[:cut])
    tif = image(make_raster, s2)
    result = run_cli("predict", model, tif, "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "item.json", "still being written", "fix it")
    assert not (tmp_path / "o.tif").exists()
    result = run_cli("predict", model, tif, "-o", tmp_path / "o.tif", "--mean", "0", "--std",
                     "1", "--scale", "1")
    assert_one_line_error(result, "item.json", "still being written")
    assert not (tmp_path / "o.tif").exists()


def test_other_broken_json_beside_the_model_is_no_item(tmp_path, run_cli, make_raster, s2):
    """A JSON file beside the model that is no STAC item (a tool's notes, broken) is left
    alone: the model runs as it is."""
    model, _ = folder(tmp_path, item(S2, [{"type": "offset", "value": 1000}]))
    (tmp_path / "m" / "item.json").unlink()
    tif = image(make_raster, s2)
    alone, _ = predicted(run_cli, tmp_path, model, tif, "--scale", "1")
    (tmp_path / "m" / "notes.json").write_text('{"trained on": "Sentinel-2 L2A tiles of '
                                               'the Alps", "epochs": 40, "note": ')
    out, _ = predicted(run_cli, tmp_path, model, tif, "--scale", "1")
    np.testing.assert_array_equal(out, alone)
    assert len(np.unique(out)) > 1


def test_legacy_min_max_statistics(tmp_path, run_cli, make_raster, s2):
    """MLM v1.0-1.3 norm_type min-max: (x - minimum) / (maximum - minimum), per band."""
    stats = [{"minimum": 100.0 * i, "maximum": 9000.0 + 500 * i} for i in range(6)]
    model, _ = folder(tmp_path, item(S2, None, norm_type="min-max", norm_by_channel=True,
                                     statistics=stats))
    out, _ = predicted(run_cli, tmp_path, model, image(make_raster, s2))
    low = np.array([s["minimum"] for s in stats])[:, None, None]
    high = np.array([s["maximum"] for s in stats])[:, None, None]
    np.testing.assert_allclose(out, (s2 - low) / (high - low), rtol=1e-5, atol=1e-6)


def test_a_variable_channel_count_takes_per_band_scaling(tmp_path, run_cli, make_raster, s2):
    """An input of shape -1 channels (any) and no band names: its per-band value_scaling
    fits the image's 6 bands."""
    model, _ = folder(tmp_path, item([], SCALINGS, channels=-1))
    out, _ = predicted(run_cli, tmp_path, model, image(make_raster, s2))
    np.testing.assert_allclose(out, spec_formula(s2), rtol=1e-6, atol=1e-6)


def test_a_classification_of_one_label_per_image_is_refused(tmp_path, run_cli, make_raster,
                                                            s2):
    """Task classification whose result has no height/width (batch, class) is a scene's
    label, refused as scene classification."""
    content = item(S2, None, tasks=["classification"])
    content["properties"]["mlm:output"][0]["result"].update(shape=[-1, 6],
                                                           dim_order=["batch", "class"])
    model, _ = folder(tmp_path, content)
    result = run_cli("predict", model, image(make_raster, s2), "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "item.json", "classification", "gives one label per scene")
    assert not (tmp_path / "o.tif").exists()


def test_a_common_name_of_two_bands_names_neither(tmp_path, run_cli, make_raster, s2):
    """B08 and B8A both of common name nir: an image band described nir is neither's, so
    B8A is named by no single band (and B08 by its own description)."""
    content = item(["B04", "B08", "B8A"], None, channels=3)
    content["properties"]["eo:bands"] = [
        {"name": n, "common_name": c} for n, c in (("B04", "red"), ("B08", "nir"),
                                                   ("B8A", "nir"))]
    model, _ = folder(tmp_path, content, channels=3)
    result = run_cli("predict", model, image(make_raster, s2[:3], ["red", "nir", "B08"]),
                     "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "s2.tif", "name no single band B8A,", "--bands")


CLIPS = [{"type": "clip", "minimum": 2000, "maximum": 9000},
         {"type": "clip-min", "minimum": 3000},
         {"type": "clip-max", "maximum": 5000}]


def test_extra_bands_take_the_item_s_steps_at_their_own_channels(tmp_path, run_cli,
                                                                  make_raster, s2):
    """An item of any channel count with 5 steps, and an image of 3 bands plus
    --extra-bands of 2: channels 4 and 5 (the extra raster's) take steps 4 and 5 (an offset
    and a clip-max), not the image's clips; the image's bands each their own clip."""
    steps = [*CLIPS, {"type": "offset", "value": 1000}, {"type": "clip-max", "maximum": 4000}]
    model, _ = folder(tmp_path, item([], steps, channels=-1), channels=5)
    tif = image(make_raster, s2[:3])
    extra = make_raster("extra.tif", s2[3:5])
    out, _ = predicted(run_cli, tmp_path, model, tif, "--extra-bands", extra)
    x = s2.astype(np.float64)
    expected = np.stack([np.clip(x[0], 2000, 9000), np.maximum(x[1], 3000),
                         np.minimum(x[2], 5000), x[3] - 1000, np.minimum(x[4], 4000)])
    np.testing.assert_array_equal(out, expected)


def test_channels_past_the_item_s_clips_are_as_they_are(tmp_path, s2):
    """The item's clips, 3 per band: predict's call for the image's 3 bands (start 0) clips
    each; its call for 2 --extra-bands channels after them (start 3), past the item's bands,
    leaves them as they are (float32), as it does where the options drop the item's
    normalisation."""
    from geotile.mlm_sidecars import mlm_input

    model, _ = folder(tmp_path, item(["B02", "B03", "B04"], CLIPS), channels=3)
    found = mlm_input(model, 3)
    x = s2[None].astype(np.float32)
    np.testing.assert_array_equal(found(x[:, :3]), np.stack([
        np.clip(x[0, 0], 2000, 9000), np.maximum(x[0, 1], 3000), np.minimum(x[0, 2], 5000)
    ])[None])
    extra = found(s2[None, 3:5], 3)
    assert extra.dtype == np.float32
    np.testing.assert_array_equal(extra, x[:, 3:5])


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("scaling", ["z-score", "null"])
def test_value_scaling_is_of_the_raw_pixels_of_any_type(tmp_path, run_cli, make_raster, s2,
                                                        dtype, scaling):
    """value_scaling (or none) is of the raw pixels: geotile's scale is 1, so uint8 pixels
    are not divided by 255 first, nor uint16 by 65535 (no clip step here that would read
    them as float32)."""
    pixels = (s2[:3] % 256).astype(dtype) if dtype == np.uint8 else s2[:3]
    steps = [{"type": "z-score", "mean": 100.0 + 10 * i, "stddev": 4.0 + i} for i in range(3)]
    model, _ = folder(tmp_path, item(["B02", "B03", "B04"], steps if scaling == "z-score"
                                     else None, channels=3), channels=3)
    out, _ = predicted(run_cli, tmp_path, model, image(make_raster, pixels))
    x = pixels.astype(np.float64)
    if scaling == "z-score":
        x = np.stack([(x[i] - (100.0 + 10 * i)) / (4.0 + i) for i in range(3)])
    np.testing.assert_allclose(out, x, rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize(("bands", "objects"), [
    (["blue", "green", "red"], None),
    (["B02", "B03", "B04"], [("B02", "blue"), ("B03", "green"), ("B04", "red")]),
])
def test_colour_bands_of_an_rgb_image_go_by_its_colour_interpretation(
        tmp_path, run_cli, make_raster, bands, objects):
    """An item feeding blue, green, red (a model trained on BGR: by name, or by its band
    objects' common names) and an RGB GeoTIFF (undescribed bands, colour interpretation
    red, green, blue): bands 1-3 went in by position, red as blue, exit 0. Now they are
    picked by colour: 3,2,1."""
    from rasterio.enums import ColorInterp

    rgb = np.random.default_rng(7).integers(1, 255, (3, 16, 16)).astype(np.uint8)
    tif = make_raster("rgb.tif", rgb)
    with rasterio.open(tif, "r+") as src:
        src.colorinterp = [ColorInterp.red, ColorInterp.green, ColorInterp.blue]
    content = item(bands, None, channels=3)
    if objects:
        content["assets"]["model"]["eo:bands"] = [{"name": n, "common_name": c}
                                                  for n, c in objects]
    model, _ = folder(tmp_path, content, channels=3)
    out, stderr = predicted(run_cli, tmp_path, model, tif)
    np.testing.assert_array_equal(out, rgb[[2, 1, 0]])
    assert "bands 3,2,1" in stderr and "colour interpretation" in stderr, stderr
    out, _ = predicted(run_cli, tmp_path, model, tif, "--bands", "1,2,3")  # as given
    np.testing.assert_array_equal(out, rgb)


@pytest.mark.parametrize("colours", [("red", "green", "blue", "alpha"),
                                     ("blue", "green", "red")])
def test_bands_picked_by_colour_are_not_warned_of_as_blue_first(tmp_path, run_cli,
                                                                make_raster, colours):
    """An item feeding blue, green, red over an RGBA (or a BGR-interpreted) GeoTIFF: the
    bands picked by colour interpretation (3,2,1; 1,2,3) were fed right, yet warned of as
    'blue, green, red ... give --bands 1,2,3 if it takes red first' (the item says it takes
    blue first: that advice feeds it red as blue). Now said once, at -v, and not warned."""
    from rasterio.enums import ColorInterp

    pixels = np.random.default_rng(8).integers(1, 255, (len(colours), 16, 16)).astype(np.uint8)
    tif = make_raster("rgba.tif", pixels)
    with rasterio.open(tif, "r+") as src:
        src.colorinterp = [ColorInterp[c] for c in colours]
    model, _ = folder(tmp_path, item(["blue", "green", "red"], None, channels=3), channels=3)
    out, stderr = predicted(run_cli, tmp_path, model, tif)
    fed = [colours.index(c) for c in ("blue", "green", "red")]
    np.testing.assert_array_equal(out, pixels[fed])
    assert "colour interpretation (item.json" in stderr
    assert "red first" not in stderr and "Warning" not in stderr, stderr
