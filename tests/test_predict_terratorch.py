"""TerraTorch fine-tunes (Prithvi on Sen1Floods11, HLS burn scars...) exported to ONNX beside
their Lightning CLI config.yaml: its data module's means/stds, constant_scale and bands are
read (geotile.terratorch_sidecars)."""
from __future__ import annotations

import copy

import numpy as np
import onnx
import pytest
import rasterio
import yaml

from .conftest import assert_one_line_error
from .onnx_models import FLOAT, conv1x1, ort_run, save_graph, temporal_model, temporal_weights

S2_BANDS = ["COASTAL_AEROSOL", "BLUE", "GREEN", "RED", "RED_EDGE_1", "RED_EDGE_2",
            "RED_EDGE_3", "NIR_BROAD", "NIR_NARROW", "WATER_VAPOR", "CIRRUS", "SWIR_1",
            "SWIR_2"]
HLS = ["BLUE", "GREEN", "RED", "NIR_NARROW", "SWIR_1", "SWIR_2"]
#: the bands of S2_BANDS (1-based) that are HLS, in HLS' order
PICKED = [2, 3, 4, 9, 12, 13]
MEANS = [0.1412956, 0.13795798, 0.12353792, 0.30902815, 0.2044958, 0.11912015]
STDS = [0.07406382, 0.07370365, 0.08692279, 0.11798815, 0.09772074, 0.07659938]

#: the structure of TerraTorch's examples/confs/sen1floods11_vit.yaml (as LightningCLI saves
#: it beside the checkpoint), trimmed
SEN1FLOODS11 = {
    "seed_everything": 0,
    "trainer": {"accelerator": "auto", "precision": "16-mixed", "max_epochs": 100,
                "callbacks": [{"class_path": "RichProgressBar"}]},
    "data": {
        "class_path": "terratorch.datamodules.GenericNonGeoSegmentationDataModule",
        "init_args": {
            "batch_size": 16, "num_workers": 8, "constant_scale": 0.0001,
            "dataset_bands": S2_BANDS, "output_bands": HLS, "rgb_indices": [2, 1, 0],
            "train_data_root": "<path>/S2Hand/", "img_grep": "*_S2Hand.tif",
            "label_grep": "*_LabelHand.tif", "no_label_replace": -1, "no_data_replace": 0,
            "means": MEANS, "stds": STDS, "num_classes": 2,
            "train_transform": [{"class_path": "albumentations.RandomCrop",
                                 "init_args": {"height": 224, "width": 224}},
                                {"class_path": "ToTensorV2"}],
        },
    },
    "model": {
        "class_path": "terratorch.tasks.SemanticSegmentationTask",
        "init_args": {
            "model_factory": "EncoderDecoderFactory",
            "model_args": {"backbone": "prithvi_eo_v2_300_tl", "backbone_pretrained": True,
                           "backbone_bands": HLS, "decoder": "UperNetDecoder",
                           "num_classes": 2, "head_dropout": 0.1},
            "loss": "ce", "ignore_index": -1, "freeze_backbone": False,
        },
    },
    "optimizer": {"class_path": "torch.optim.AdamW", "init_args": {"lr": 6e-5}},
}


def config(data=None, model=None, **top):
    """SEN1FLOODS11 with ``data`` / ``model`` init_args changed ("-": left out)."""
    found = copy.deepcopy(SEN1FLOODS11)
    for section, changes in (("data", data), ("model", model)):
        args = found[section]["init_args"]
        args.update(changes or {})
        for key in [k for k, v in args.items() if isinstance(v, str) and v == "-"]:
            del args[key]
    found.update(top)
    return found


def tt_folder(folder, content=None, channels=6, name="config.yaml", classes=2):
    """model.onnx (a 1x1 Conv of ``channels`` inputs: no metadata_props) exported into the
    folder of the fine-tune's config (a str is written as it is, None writes none)."""
    folder.mkdir(parents=True, exist_ok=True)
    conv, weights = conv1x1("image", "logits", channels, classes, seed=96)
    path = save_graph(folder / "model.onnx", [conv],
                      [("image", FLOAT, ["batch", channels, "height", "width"])],
                      [("logits", FLOAT, ["batch", classes, "height", "width"])], weights)
    model = onnx.load(str(path))
    model.ir_version = 8
    onnx.save(model, str(path))
    content = config() if content is None else content
    if content is not False:
        (folder / name).write_text(content if isinstance(content, str)
                                   else yaml.safe_dump(content, sort_keys=False))
    return path


def reference(path, pixels, mean, std, scale=1.0):
    """TerraTorch's (x * constant_scale - mean) / std, the model, then softmax."""
    feed = ((pixels[np.newaxis].astype(np.float64) * scale - np.reshape(mean, (1, -1, 1, 1)))
            / np.reshape(std, (1, -1, 1, 1))).astype(np.float32)
    logits = ort_run(path, feed)[0][0].astype(np.float64)
    e = np.exp(logits - logits.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


@pytest.fixture(scope="module")
def s2():
    """13 Sentinel-2 L1C bands of DN (reflectance x 10000)."""
    return np.random.default_rng(96).integers(0, 10000, (13, 24, 20)).astype(np.uint16)


def raster(make_raster, pixels, descriptions=None, name="s2.tif"):
    return make_raster(name, pixels, descriptions=descriptions)


def predicted(run_cli, tmp_path, path, tif, *options, code=0):
    result = run_cli("-v", "predict", path, tif, "-o", tmp_path / "o.tif", "--dtype",
                     "float32", "--tile-size", "16", "--overwrite", *options)
    assert result.exit_code == code, result.output
    with rasterio.open(tmp_path / "o.tif") as out:
        return out.read(), list(out.descriptions), result.stderr


def test_sen1floods11_config_scales_normalises_and_picks_its_output_bands(
        tmp_path, run_cli, make_raster, s2):
    """A Prithvi Sen1Floods11 fine-tune exported beside its config.yaml got all 13 raw bands
    of an S2Hand chip with no mean/std (a 6-channel model: refused; any 6 bands: wrong
    outputs, exit 0); now bands 2,3,4,9,12,13 (output_bands in dataset_bands) feed it as
    x * 0.0001, minus means, over stds, as TerraTorch's data module does."""
    path = tt_folder(tmp_path / "flood")
    out, _, stderr = predicted(run_cli, tmp_path, path, raster(make_raster, s2))
    expected = reference(path, s2[np.array(PICKED) - 1], MEANS, STDS, 1e-4)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    assert "config.yaml" in stderr and "2,3,4,9,12,13" in stderr, stderr
    assert "BLUE,GREEN,RED,NIR_NARROW,SWIR_1,SWIR_2" in stderr, stderr


def test_band_descriptions_name_the_bands_fed(tmp_path, run_cli, make_raster, s2):
    """An HLS stack whose bands are described (SWIR_2 first) is read by those names, not by
    position."""
    order = [5, 0, 2, 1, 4, 3]  # the image's bands are HLS[order]
    pixels = s2[:6]
    tif = raster(make_raster, pixels, [HLS[i].lower().replace("_", " ") for i in order])
    path = tt_folder(tmp_path / "flood", config(data={"dataset_bands": HLS}))
    out, _, stderr = predicted(run_cli, tmp_path, path, tif)
    fed = [order.index(i) for i in range(6)]  # image band (0-based) of each HLS band
    np.testing.assert_allclose(out, reference(path, pixels[fed], MEANS, STDS, 1e-4),
                               atol=1e-5)
    assert "descriptions" in stderr and ",".join(str(i + 1) for i in fed) in stderr, stderr


def test_six_undescribed_bands_for_thirteen_dataset_bands_are_taken_as_its_output_bands(
        tmp_path, run_cli, make_raster, s2):
    path = tt_folder(tmp_path / "flood")
    out, _, stderr = predicted(run_cli, tmp_path, path, raster(make_raster, s2[:6]))
    np.testing.assert_allclose(out, reference(path, s2[:6], MEANS, STDS, 1e-4), atol=1e-5)
    warned = [line for line in stderr.splitlines() if "not the 13 of" in line]
    assert len(warned) == 1 and "--bands" in warned[0], stderr


def test_numbered_bands_and_intervals_go_by_position(tmp_path, run_cli, make_raster, s2):
    """dataset_bands [[0, 12]] (an inclusive interval of numbers): output_bands 1,2,3,8,11,12
    are the image's bands 2,3,4,9,12,13, whatever its descriptions "1".."13" say."""
    path = tt_folder(tmp_path / "flood", config(data={"dataset_bands": [[0, 12]],
                                                      "output_bands": [1, 2, 3, 8, 11, 12]}))
    tif = raster(make_raster, s2, [str(i) for i in range(1, 14)])
    out, _, stderr = predicted(run_cli, tmp_path, path, tif)
    expected = reference(path, s2[np.array(PICKED) - 1], MEANS, STDS, 1e-4)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    assert "2,3,4,9,12,13" in stderr, stderr


def test_bands_option_overrides_the_config_s(tmp_path, run_cli, make_raster, s2):
    path = tt_folder(tmp_path / "flood")
    out, _, _ = predicted(run_cli, tmp_path, path, raster(make_raster, s2),
                          "--bands", "1,2,3,4,5,6")
    np.testing.assert_allclose(out, reference(path, s2[:6], MEANS, STDS, 1e-4), atol=1e-5)


def test_burn_scars_config_short_class_path_and_class_names(tmp_path, run_cli, make_raster,
                                                            s2):
    """TerraTorch's burn_scars.yaml names its data module without terratorch. and keeps
    constant_scale at 1 (HLS reflectances as floats); class names from the task."""
    content = config(data={"constant_scale": "-", "dataset_bands": HLS},
                     model={"class_names": ["Unburned", "Burn scar"]})
    content["data"]["class_path"] = "GenericNonGeoSegmentationDataModule"
    path = tt_folder(tmp_path / "burn", content, name="burn_scars_config.yaml")
    pixels = (s2[:6] / 10000).astype(np.float32)
    out, names, _ = predicted(run_cli, tmp_path, path, raster(make_raster, pixels))
    np.testing.assert_allclose(out, reference(path, pixels, MEANS, STDS), atol=1e-5)
    assert names == ["Unburned", "Burn scar"]


def test_without_means_uint8_pixels_go_in_raw(tmp_path, run_cli, make_raster, s2):
    """No means/stds: TerraTorch normalises nothing; uint8 pixels are not divided by 255."""
    path = tt_folder(tmp_path / "m", config(data={"means": "-", "stds": "-",
                                                  "constant_scale": 2, "dataset_bands": HLS}))
    pixels = (s2[:6] % 256).astype(np.uint8)
    out, _, _ = predicted(run_cli, tmp_path, path, raster(make_raster, pixels))
    np.testing.assert_allclose(out, reference(path, pixels, [0.0] * 6, [1.0] * 6, 2.0),
                               atol=1e-5)


@pytest.mark.parametrize(("changes", "top", "fragments"), [
    ({"expand_temporal_dimension": True}, None,
     ["expand_temporal_dimension", "multi-temporal"]),
    ({}, {"num_frames": 3}, ["num_frames 3", "multi-temporal"]),
    ({"means": "/data/means.txt"}, None, ["means", "/data/means.txt", "--mean"]),
    ({"means": {"S2L2A": MEANS}, "stds": {"S2L2A": STDS}}, None, ["per modality"]),
    ({"output_bands": ["BLUE", "NIR"]}, None, ["output_bands", "NIR", "dataset_bands"]),
    ({"constant_scale": 0}, None, ["constant_scale", "> 0"]),
])
def test_what_geotile_cannot_reproduce_is_refused_in_one_line(tmp_path, run_cli, make_raster,
                                                              s2, changes, top, fragments):
    content = config(data=changes)
    content["model"]["init_args"]["model_args"].update(top or {})
    path = tt_folder(tmp_path / "flood", content)
    result = run_cli("predict", path, raster(make_raster, s2), "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "config.yaml", *fragments)


def test_a_data_module_with_its_means_in_terratorch_s_source_is_refused_without_options(
        tmp_path, run_cli, make_raster, s2):
    content = config(data={"means": "-", "stds": "-", "dataset_bands": "-",
                           "output_bands": "-", "bands": HLS, "data_root": "<path>"})
    content["data"]["class_path"] = "terratorch.datamodules.Sen1Floods11NonGeoDataModule"
    path = tt_folder(tmp_path / "flood", content)
    tif = raster(make_raster, s2[:6])
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "config.yaml", "Sen1Floods11NonGeoDataModule",
                          "--mean and --std")
    out, _, _ = predicted(run_cli, tmp_path, path, tif, "--mean", ",".join(map(str, MEANS)),
                          "--std", ",".join(map(str, STDS)), "--scale", "0.0001")
    np.testing.assert_allclose(out, reference(path, s2[:6], MEANS, STDS, 1e-4), atol=1e-5)


def test_an_image_without_the_config_s_bands_is_refused(tmp_path, run_cli, make_raster, s2):
    path = tt_folder(tmp_path / "flood")
    result = run_cli("predict", path, raster(make_raster, s2[:4]), "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "s2.tif", "4 bands", "dataset_bands", "--bands")
    described = raster(make_raster, s2[:6], ["BLUE", "GREEN", "RED", "RED_EDGE_1", "SWIR_1",
                                             "SWIR_2"], name="d.tif")
    result = run_cli("predict", path, described, "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "d.tif", "NIR_NARROW", "--bands")


@pytest.mark.parametrize("other", [
    "site_name: docs\nnav:\n  - index.md\n",  # mkdocs
    yaml.safe_dump({"data": {"class_path": "torchgeo.datamodules.EuroSATDataModule",
                             "init_args": {"batch_size": 8}},
                    "model": {"class_path": "torchgeo.trainers.SemanticSegmentationTask",
                              "init_args": {"model": "unet"}}}),
    "Deploy:\n  model: model.pdmodel\n  transforms: [\n",  # broken, not TerraTorch's
])
def test_another_tool_s_yaml_beside_the_model_changes_nothing(tmp_path, run_cli, make_raster,
                                                              s2, other):
    plain = tt_folder(tmp_path / "plain", False)
    tif = raster(make_raster, s2[:6])
    expected, _, _ = predicted(run_cli, tmp_path, plain, tif, "--scale", "1")
    path = tt_folder(tmp_path / "other", other)
    out, _, stderr = predicted(run_cli, tmp_path, path, tif, "--scale", "1")
    np.testing.assert_array_equal(out, expected)
    assert "config.yaml" not in stderr, stderr


def test_a_broken_terratorch_config_is_refused(tmp_path, run_cli, make_raster, s2):
    path = tt_folder(tmp_path / "flood", "data:\n  class_path: terratorch.datamodules.X\n"
                                         "  init_args: [\n")
    result = run_cli("predict", path, raster(make_raster, s2), "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "config.yaml", "not valid YAML", "--mean")


BOMB = ("a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)))


@pytest.mark.parametrize(("key", "value", "fragments"), [
    ("means", "*i", ["means", "no list of numbers"]),
    ("stds", "*i", ["stds", "no list of numbers"]),
    ("constant_scale", "*i", ["constant_scale", "not a number"]),
    ("dataset_bands", "*i", ["dataset_bands", "no band name"]),
    ("dataset_bands", "[[0, 1000000000000]]", ["dataset_bands", "[0, 1000000000000]"]),
])
def test_a_hostile_config_is_refused_at_once(tmp_path, run_cli, make_raster, s2, key, value,
                                             fragments):
    """A value of YAML aliases (a billion laughs: 9^9 leaves in 1 KB) was expanded into the
    message: 4 GB, 31 s, then a MemoryError traceback; dataset_bands [[0, 1e12]] built a
    list of 10^12 band numbers. Now one line at once, the value shown short."""
    text = yaml.safe_dump(config(data={key: "@"}), sort_keys=False).replace("'@'", value)
    path = tt_folder(tmp_path / "flood", BOMB + text)
    result = run_cli("predict", path, raster(make_raster, s2), "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "config.yaml", *fragments)
    assert len(result.stderr) < 600


def test_resume_redoes_outputs_of_another_config(tmp_path, run_cli, make_raster, s2):
    path = tt_folder(tmp_path / "flood")
    tif = raster(make_raster, s2)
    args = ("predict", path, tif, "-o", tmp_path / "o.tif", "--dtype", "float32",
            "--tile-size", "16")
    assert run_cli(*args).exit_code == 0
    assert "skipped" in run_cli(*args, "--resume").output
    (path.parent / "config.yaml").write_text(yaml.safe_dump(config(data={
        "constant_scale": 0.001})))
    result = run_cli(*args, "--resume")
    assert result.exit_code == 0 and "skipped" not in result.output, result.output
    with rasterio.open(tmp_path / "o.tif") as out:
        np.testing.assert_allclose(
            out.read(), reference(path, s2[np.array(PICKED) - 1], MEANS, STDS, 1e-3),
            atol=1e-5)


def test_dask_workers_load_the_model_again_for_another_config(tmp_path, s2, monkeypatch):
    from geotile import distributed as gd

    monkeypatch.setattr(gd, "_MODELS", {})
    path = tt_folder(tmp_path / "flood")
    options = {"providers": "cpu", "threads": 1}
    first = gd._worker_model(str(path), options)
    assert gd._worker_model(str(path), options) is first
    (path.parent / "config.yaml").write_text(yaml.safe_dump(config(data={
        "constant_scale": 0.001})))
    assert gd._worker_model(str(path), options) is not first


def test_a_regression_fine_tune_writes_its_raw_values(tmp_path, run_cli, make_raster, s2):
    """A PixelwiseRegressionTask's one output band (a biomass or height in its units) got a
    sigmoid (--activation auto: values 0..1, named class_1, exit 0); now its raw values."""
    content = config(data={"num_classes": "-"}, model={"loss": "rmse", "ignore_index": "-"})
    content["data"]["class_path"] = \
        "terratorch.datamodules.GenericNonGeoPixelwiseRegressionDataModule"
    content["model"]["class_path"] = "terratorch.tasks.PixelwiseRegressionTask"
    path = tt_folder(tmp_path / "biomass", content, classes=1)
    out, names, stderr = predicted(run_cli, tmp_path, path, raster(make_raster, s2))
    pixels = s2[np.array(PICKED) - 1][np.newaxis].astype(np.float64) * 1e-4
    feed = ((pixels - np.reshape(MEANS, (1, -1, 1, 1))) / np.reshape(STDS, (1, -1, 1, 1)))
    raw = ort_run(path, feed.astype(np.float32))[0][0]
    np.testing.assert_allclose(out, raw, atol=1e-4)
    assert names == ["logits"] and "PixelwiseRegressionTask" in stderr, (names, stderr)


def test_numbers_in_scientific_notation_are_read_as_lightning_cli_reads_them(
        tmp_path, run_cli, make_raster, s2):
    """constant_scale: 1e-4 and a std of 9e-2 written by hand (LightningCLI's jsonargparse
    reads them as floats; PyYAML's safe loader as strings) were refused as no numbers."""
    text = yaml.safe_dump(config(data={"stds": [*STDS[:5], "STD"]}), sort_keys=False)
    text = text.replace("constant_scale: 0.0001", "constant_scale: 1e-4")
    path = tt_folder(tmp_path / "flood", text.replace("STD", "9e-2"))
    out, _, _ = predicted(run_cli, tmp_path, path, raster(make_raster, s2))
    expected = reference(path, s2[np.array(PICKED) - 1], MEANS, [*STDS[:5], 0.09], 1e-4)
    np.testing.assert_allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.uint16])
def test_a_constant_scale_of_1_255_scales_every_image(tmp_path, run_cli, make_raster, s2,
                                                      dtype):
    """constant_scale 1/255 (an RGB dataset's) was taken for geotile's own default for 8-bit
    pixels: float32 or uint16 pixels 0..255 went in undivided (outputs wrong, exit 0);
    TerraTorch multiplies every image by it."""
    rgb, means, stds = ["RED", "GREEN", "BLUE"], [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    path = tt_folder(tmp_path / "rgb", config(data={
        "constant_scale": 1 / 255, "dataset_bands": rgb, "output_bands": rgb, "means": means,
        "stds": stds}), channels=3)
    pixels = (s2[:3] % 256).astype(dtype)
    out, _, _ = predicted(run_cli, tmp_path, path, raster(make_raster, pixels))
    np.testing.assert_allclose(out, reference(path, pixels, means, stds, 1 / 255), atol=1e-5)


def test_mean_and_std_options_keep_the_config_s_constant_scale(tmp_path, run_cli, make_raster,
                                                               s2):
    """--mean and --std (without --scale) dropped the config's constant_scale: raw DN
    0..10000 minus means of 0.1-0.3 (outputs wrong, exit 0); Sen1Floods11NonGeoDataModule's
    0.0001 is its default in TerraTorch's source."""
    means = MEANS[::-1]
    options = ("--mean", ",".join(map(str, means)), "--std", ",".join(map(str, STDS)))
    path = tt_folder(tmp_path / "flood")
    out, _, _ = predicted(run_cli, tmp_path, path, raster(make_raster, s2), *options)
    expected = reference(path, s2[np.array(PICKED) - 1], means, STDS, 1e-4)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    content = config(data={"means": "-", "stds": "-", "dataset_bands": "-", "constant_scale": "-",
                           "output_bands": "-", "bands": HLS, "data_root": "<path>"})
    content["data"]["class_path"] = "terratorch.datamodules.Sen1Floods11NonGeoDataModule"
    path = tt_folder(tmp_path / "module", content)
    out, _, _ = predicted(run_cli, tmp_path, path, raster(make_raster, s2[:6]), *options)
    np.testing.assert_allclose(out, reference(path, s2[:6], means, STDS, 1e-4), atol=1e-5)


def test_descriptions_naming_some_bands_where_dataset_bands_put_them_go_by_position(
        tmp_path, run_cli, make_raster, s2):
    """A 13-band S2 stack described Coastal, Blue, Green, Red, RE1... NIR, B8A, WV, Cirrus,
    SWIR1, SWIR2 (BLUE, GREEN, RED, CIRRUS where dataset_bands have them, SWIR_1 unnamed) was
    refused for naming no SWIR_1, though TerraTorch reads its bands by position."""
    described = ["Coastal", "Blue", "Green", "Red", "RE1", "RE2", "RE3", "NIR", "B8A", "WV",
                 "Cirrus", "SWIR1", "SWIR2"]
    path = tt_folder(tmp_path / "flood")
    out, _, stderr = predicted(run_cli, tmp_path, path, raster(make_raster, s2, described))
    expected = reference(path, s2[np.array(PICKED) - 1], MEANS, STDS, 1e-4)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    assert "2,3,4,9,12,13" in stderr, stderr
    described[1:3] = ["Green", "Blue"]  # where dataset_bands do not put them: refused
    result = run_cli("predict", path, raster(make_raster, s2, described, "swapped.tif"), "-o",
                     tmp_path / "o2.tif")
    assert_one_line_error(result, "swapped.tif", "SWIR_1", "--bands")


def test_predict_bands_come_before_the_training_bands(tmp_path, run_cli, make_raster, s2):
    """predict_dataset_bands / predict_output_bands (the bands of the images TerraTorch
    predicts on) go before dataset_bands / output_bands, as TerraTorch's predict does; a
    config with dataset_bands only feeds all of them, in their order."""
    reordered = HLS[::-1]
    fed = [HLS[1], HLS[0], *HLS[2:]]
    path = tt_folder(tmp_path / "flood", config(data={"predict_dataset_bands": reordered,
                                                      "predict_output_bands": fed}))
    pixels = s2[:6]
    out, _, _ = predicted(run_cli, tmp_path, path, raster(make_raster, pixels))
    picked = [reordered.index(b) for b in fed]  # [4, 5, 3, 2, 1, 0]
    np.testing.assert_allclose(out, reference(path, pixels[picked], MEANS, STDS, 1e-4),
                               atol=1e-5)
    path = tt_folder(tmp_path / "only", config(data={"dataset_bands": reordered,
                                                     "output_bands": "-"}))
    out, _, stderr = predicted(run_cli, tmp_path, path, raster(make_raster, s2[:6],
                                                               name="hls.tif"))
    np.testing.assert_allclose(out, reference(path, s2[:6], MEANS, STDS, 1e-4), atol=1e-5)
    assert "1,2,3,4,5,6" in stderr, stderr
    path = tt_folder(tmp_path / "described", config(data={"dataset_bands": HLS,
                                                          "output_bands": "-"}))
    tif = raster(make_raster, s2[:6], HLS[::-1], name="described.tif")
    out, _, _ = predicted(run_cli, tmp_path, path, tif)
    np.testing.assert_allclose(out, reference(path, s2[:6][::-1], MEANS, STDS, 1e-4),
                               atol=1e-5)


def test_descriptions_with_hyphens_and_a_band_named_twice(tmp_path, run_cli, make_raster, s2):
    """Descriptions "Swir-1" are SWIR_1 (spaces and hyphens as _, any case); a band two
    descriptions name is no single band: refused in one line."""
    order = [5, 0, 2, 1, 4, 3]
    described = [HLS[i].lower().replace("_", "-") for i in order]
    path = tt_folder(tmp_path / "flood", config(data={"dataset_bands": HLS}))
    out, _, _ = predicted(run_cli, tmp_path, path, raster(make_raster, s2[:6], described))
    fed = [order.index(i) for i in range(6)]
    np.testing.assert_allclose(out, reference(path, s2[:6][fed], MEANS, STDS, 1e-4),
                               atol=1e-5)
    twice = ["BLUE", "BLUE", "GREEN", "RED", "NIR_NARROW", "SWIR_1", "SWIR_2"]
    result = run_cli("predict", path, raster(make_raster, s2[:7], twice, "twice.tif"), "-o",
                     tmp_path / "o2.tif")
    assert_one_line_error(result, "twice.tif", "no single band BLUE", "--bands")


def test_a_single_frame_fine_tune_is_not_multi_temporal(tmp_path, run_cli, make_raster, s2):
    """num_frames 1 (Prithvi's default, written out) is one image: read, not refused."""
    content = config()
    content["model"]["init_args"]["model_args"]["num_frames"] = 1
    path = tt_folder(tmp_path / "flood", content)
    out, _, _ = predicted(run_cli, tmp_path, path, raster(make_raster, s2))
    expected = reference(path, s2[np.array(PICKED) - 1], MEANS, STDS, 1e-4)
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_a_regression_data_module_alone_makes_a_regression(tmp_path, run_cli, make_raster,
                                                           s2):
    """GenericNonGeoPixelwiseRegressionDataModule (by its short name, the task's class_path
    another's): a regression, its raw values written; the short name alone is TerraTorch's."""
    content = config(data={"num_classes": "-"})
    content["data"]["class_path"] = "GenericNonGeoPixelwiseRegressionDataModule"
    content["model"]["class_path"] = "my_package.MyRegressionTask"
    path = tt_folder(tmp_path / "biomass", content, classes=1)
    out, _, stderr = predicted(run_cli, tmp_path, path, raster(make_raster, s2))
    feed = ((s2[np.array(PICKED) - 1][np.newaxis].astype(np.float64) * 1e-4
             - np.reshape(MEANS, (1, -1, 1, 1))) / np.reshape(STDS, (1, -1, 1, 1)))
    raw = ort_run(path, feed.astype(np.float32))[0][0]
    np.testing.assert_allclose(out, raw, atol=1e-4)
    assert "GenericNonGeoPixelwiseRegressionDataModule" in stderr, stderr


def test_config_yaml_goes_before_other_yamls_and_differing_others_are_refused(
        tmp_path, run_cli, make_raster, s2):
    """config.yaml beside another TerraTorch YAML of other means: config.yaml is read; two
    other YAMLs that differ (no config.yaml) are refused in one line naming both."""
    tif = raster(make_raster, s2)
    path = tt_folder(tmp_path / "flood")
    other = yaml.safe_dump(config(data={"means": [0.0] * 6}))
    (path.parent / "a_other.yaml").write_text(other)
    out, _, _ = predicted(run_cli, tmp_path, path, tif)
    expected = reference(path, s2[np.array(PICKED) - 1], MEANS, STDS, 1e-4)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    (path.parent / "config.yaml").rename(path.parent / "b_fine_tune.yaml")
    result = run_cli("predict", path, tif, "-o", tmp_path / "o2.tif")
    assert_one_line_error(result, "a_other.yaml", "b_fine_tune.yaml", "differ", "config.yaml")
    assert not (tmp_path / "o2.tif").exists()


def test_predict_help_lists_the_exporters_files_in_the_order_they_are_asked(
        tmp_path, run_cli, make_raster, s2):
    """--mean/--std's help named Hugging Face's, MMDeploy's, Paddle's, Raster Vision's and
    smp's files but not TerraTorch's config.yaml, which is asked before smp's (a config.yaml
    beside smp's config.json gives its means), and --scale's did not name its constant_scale,
    which holds even with --mean and --std."""
    tif = raster(make_raster, s2[:6])
    path = tt_folder(tmp_path / "both")
    (path.parent / "config.json").write_text(
        '{"_model_class": "Unet", "encoder_name": "resnet34", "in_channels": 6, "classes": 2}')
    _, _, stderr = predicted(run_cli, tmp_path, path, tif)
    assert "config.yaml data.init_args.means" in stderr, stderr
    text = " ".join(run_cli("predict", "--help").output.split())
    for option, following in (("--mean LIST", "--std LIST"), ("--std LIST", "--scale FLOAT")):
        help_ = text.split(option, 1)[1].split(following, 1)[0]
        order = [help_.find(name) for name in (
            "preprocessor_config.json", "pipeline.json", "deploy.yaml",
            "Raster Vision's", "TerraTorch's config.yaml", "smp's")]
        assert -1 not in order and order == sorted(order), help_
    scale = text.split("--scale FLOAT", 1)[1].split("--output-type", 1)[0]
    assert "constant_scale" in scale and "Raster Vision's" in scale, scale


@pytest.mark.parametrize("data", [None, {"init_args": {"batch_size": 4}}])
def test_a_config_without_its_data_module_says_what_is_missing(tmp_path, run_cli, make_raster,
                                                               s2, data):
    """data: null (or a data section without class_path) names no data module: the line
    says so, not "its data module  keeps ..." with an empty name."""
    content = config()
    content["data"] = data
    path = tt_folder(tmp_path / "flood", content)
    result = run_cli("predict", path, raster(make_raster, s2[:6]), "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "config.yaml", "no data module", "--mean and --std")
    assert "module  " not in result.output


def test_bands_other_than_the_config_s_output_bands_are_warned_of_once(tmp_path, run_cli,
                                                                       make_raster, s2):
    """As Raster Vision's channel_order: --bands other than those output_bands pick are
    warned of once, naming both, and kept; the same bands are not warned of."""
    path = tt_folder(tmp_path / "flood")
    tif = raster(make_raster, s2)
    out, _, stderr = predicted(run_cli, tmp_path, path, tif, "--bands", "1,2,3,4,5,6")
    np.testing.assert_allclose(out, reference(path, s2[:6], MEANS, STDS, 1e-4), atol=1e-5)
    assert stderr.count("replaces") == 1, stderr
    assert "--bands 1,2,3,4,5,6 replaces" in stderr and "output_bands " + ",".join(HLS) in stderr
    _, _, stderr = predicted(run_cli, tmp_path, path, tif, "--bands", "2,3,4,9,12,13")
    assert "replaces" not in stderr, stderr


@pytest.mark.parametrize("why", [{"num_frames": 3}, {"expand_temporal_dimension": True}])
def test_a_multi_temporal_fine_tune_of_a_5d_export_is_fed_its_dates(tmp_path, run_cli,
                                                                     make_raster, s2, why):
    """Prithvi-EO-2.0 multi-temporal crop segmentation exported [N,6,3,H,W] beside its
    config.yaml (num_frames 3) was refused ('geotile cannot feed' it); now each date's
    output_bands, constant_scale and means/stds are those of the config."""
    content = config(data=why if "expand_temporal_dimension" in why else None)
    content["model"]["init_args"]["model_args"].update(
        why if "num_frames" in why else {})
    folder = tmp_path / "crops"
    tt_folder(folder, content)
    model = temporal_model(folder / "model.onnx", "NCTHW", dates=3, channels=6, conv3d=True)
    rng = np.random.default_rng(4)
    dates = [s2, *(rng.integers(0, 10000, s2.shape).astype(np.uint16) for _ in range(2))]
    paths = [raster(make_raster, d, name=f"t{i}.tif") for i, d in enumerate(dates)]
    result = run_cli("predict", model, paths[0], "--extra-bands", paths[1], "--extra-bands",
                     paths[2], "-o", tmp_path / "o.tif", "--dtype", "float32",
                     "--activation", "none")
    assert result.exit_code == 0, result.output
    fed = np.stack([(d[[i - 1 for i in PICKED]] * 1e-4 - np.reshape(MEANS, (-1, 1, 1)))
                    / np.reshape(STDS, (-1, 1, 1)) for d in dates])
    with rasterio.open(tmp_path / "o.tif") as out:
        np.testing.assert_allclose(out.read(), np.einsum(
            "tc,tchw->chw", temporal_weights(3, 6), fed), rtol=1e-4, atol=1e-4)


def test_a_symbolic_time_axis_takes_the_fine_tune_s_num_frames(tmp_path, run_cli,
                                                              make_raster, s2):
    """An export of T symbolic ([N,6,time,H,W]) beside config.yaml's num_frames 3 ran on the
    2 dates given (the fine-tune's neck reshapes its 3 dates' tokens: a wrong map, exit 0).
    Now the config's count is the model's: 3 dates predict, 2 are one line naming it."""
    content = config()
    content["model"]["init_args"]["model_args"]["num_frames"] = 3
    folder = tmp_path / "crops"
    tt_folder(folder, content)
    model = temporal_model(folder / "model.onnx", "NCTHW", dates=3, channels=6, fixed=False,
                           names=("time",))
    rng = np.random.default_rng(5)
    dates = [s2, *(rng.integers(0, 10000, s2.shape).astype(np.uint16) for _ in range(2))]
    paths = [raster(make_raster, d, name=f"t{i}.tif") for i, d in enumerate(dates)]
    out = tmp_path / "o.tif"
    result = run_cli("predict", model, paths[0], "--extra-bands", paths[1], "-o", out)
    assert_one_line_error(result, "takes 3 dates", "num_frames 3", "but 2 given")
    assert not out.exists()
    result = run_cli("predict", model, paths[0], "--extra-bands", paths[1], "--extra-bands",
                     paths[2], "-o", out, "--dtype", "float32", "--activation", "none")
    assert result.exit_code == 0, result.output
    fed = np.stack([(d[[i - 1 for i in PICKED]] * 1e-4 - np.reshape(MEANS, (-1, 1, 1)))
                    / np.reshape(STDS, (-1, 1, 1)) for d in dates])
    with rasterio.open(out) as src:
        np.testing.assert_allclose(src.read(), np.einsum(
            "tc,tchw->chw", temporal_weights(3, 6, fixed=False), fed), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dataset", [["BLUE", "GREEN", "RED"], HLS])
def test_colour_bands_of_an_rgb_image_go_by_its_colour_interpretation(tmp_path, run_cli,
                                                                     make_raster, dataset):
    """output_bands BLUE, GREEN, RED (a model trained on B,G,R stacks) and an RGB GeoTIFF
    (undescribed, colour interpretation red, green, blue): bands 1-3 went in by position,
    red as BLUE, exit 0. Now they are picked by colour: 3,2,1."""
    from rasterio.enums import ColorInterp

    rgb = np.random.default_rng(9).integers(1, 255, (3, 16, 16)).astype(np.uint8)
    tif = make_raster("rgb.tif", rgb)
    with rasterio.open(tif, "r+") as src:
        src.colorinterp = [ColorInterp.red, ColorInterp.green, ColorInterp.blue]
    data = {"dataset_bands": dataset, "output_bands": ["BLUE", "GREEN", "RED"],
            "means": [0.4, 0.5, 0.6], "stds": [0.2, 0.25, 0.3], "constant_scale": 1 / 255}
    path = tt_folder(tmp_path / "bgr", config(data=data), channels=3)
    out, _, stderr = predicted(run_cli, tmp_path, path, tif)
    expected = reference(path, rgb[[2, 1, 0]], data["means"], data["stds"], 1 / 255)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    assert np.abs(out - reference(path, rgb, data["means"], data["stds"], 1 / 255)).max() > 1e-3
    assert "bands 3,2,1" in stderr and "colour interpretation" in stderr, stderr


def test_bands_picked_by_colour_are_not_warned_of_as_blue_first(tmp_path, run_cli,
                                                                make_raster):
    """output_bands BLUE, GREEN, RED over an RGB GeoTIFF: bands 3,2,1 were picked by colour
    and fed right, yet warned of as 'blue, green, red ... give --bands 1,2,3 if it takes red
    first' (the config says it takes blue first). Now not warned."""
    from rasterio.enums import ColorInterp

    rgb = np.random.default_rng(10).integers(1, 255, (3, 16, 16)).astype(np.uint8)
    tif = make_raster("rgb.tif", rgb)
    with rasterio.open(tif, "r+") as src:
        src.colorinterp = [ColorInterp.red, ColorInterp.green, ColorInterp.blue]
    data = {"dataset_bands": ["BLUE", "GREEN", "RED"], "output_bands": ["BLUE", "GREEN", "RED"],
            "means": [0.4, 0.5, 0.6], "stds": [0.2, 0.25, 0.3], "constant_scale": 1 / 255}
    path = tt_folder(tmp_path / "bgr", config(data=data), channels=3)
    out, _, stderr = predicted(run_cli, tmp_path, path, tif)
    expected = reference(path, rgb[[2, 1, 0]], data["means"], data["stds"], 1 / 255)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    assert "bands 3,2,1" in stderr and "red first" not in stderr, stderr
