"""segmentation_models_pytorch (smp) models exported to ONNX beside smp's config.json
(``save_pretrained``, smp-hub/...): the encoder's preprocessing is read (geotile.smp_sidecars)."""
from __future__ import annotations

import json
import logging

import numpy as np
import onnx
import pytest
import rasterio

from geotile.model import OnnxModel
from geotile.predict import PredictOptions, predict_array

from .conftest import assert_one_line_error
from .onnx_models import FLOAT, conv1x1, ort_run, save_graph

IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
INCEPTION = ([0.5] * 3, [0.5] * 3)
DPN = ([124 / 255, 117 / 255, 104 / 255], [1 / (0.0167 * 255)] * 3)
NONE = ([0.0] * 3, [1.0] * 3)


def smp_config(**changes):
    """What smp 0.5's Unet(...).save_pretrained(folder) writes as config.json (init kwargs,
    defaults included, and _model_class)."""
    config = {"encoder_name": "resnet34", "encoder_depth": 5, "encoder_weights": "imagenet",
              "decoder_use_norm": "batchnorm", "decoder_channels": [256, 128, 64, 32, 16],
              "decoder_attention_type": None, "decoder_interpolation": "nearest",
              "in_channels": 3, "classes": 2, "activation": None, "aux_params": None,
              "_model_class": "Unet"}
    config.update(changes)
    return {k: v for k, v in config.items() if v != "-"}


def smp_folder(folder, config=None, files=None, metadata=None, classes=2):
    """model.onnx (a 1x1 Conv: input 'input', logits 'output', no metadata_props) exported
    into the folder save_pretrained wrote config.json to (a str is written as it is)."""
    folder.mkdir(parents=True, exist_ok=True)
    conv, weights = conv1x1("input", "output", 3, classes, seed=91)
    path = save_graph(folder / "model.onnx", [conv],
                      [("input", FLOAT, ["batch", 3, "height", "width"])],
                      [("output", FLOAT, ["batch", classes, "height", "width"])], weights,
                      metadata=metadata)
    model = onnx.load(str(path))
    model.ir_version = 8
    onnx.save(model, str(path))
    for name, content in {"config.json": smp_config() if config is None else config,
                          **(files or {})}.items():
        (folder / name).write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def reference(path, image, stats, scale=1 / 255):
    """smp's preprocess_input (x / 255 - mean) / std, the model, then softmax."""
    mean, std = stats
    feed = ((image[np.newaxis].astype(np.float64) * scale - np.reshape(mean, (1, -1, 1, 1)))
            / np.reshape(std, (1, -1, 1, 1))).astype(np.float32)
    logits = ort_run(path, feed)[0][0].astype(np.float64)
    e = np.exp(logits - logits.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(91).integers(0, 256, (3, 40, 36), dtype=np.uint8)


def predicted(run_cli, make_raster, image, tmp_path, path, *options):
    tif = make_raster("img.tif", image)
    result = run_cli("-v", "predict", path, tif, "-o", tmp_path / "o.tif", "--dtype",
                     "float32", "--tile-size", "32", "--overwrite", *options)
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "o.tif") as out:
        return out.read(), list(out.descriptions), result.stderr


@pytest.mark.parametrize(("changes", "stats", "said"), [
    ({}, IMAGENET, "config.json resnet34.imagenet"),
    # an older save_pretrained (huggingface_hub < 0.22) kept only the kwargs given: smp's
    # defaults (resnet34, imagenet)
    ({"encoder_name": "-", "encoder_weights": "-"}, IMAGENET, "config.json resnet34.imagenet"),
    ({"encoder_name": "resnext101_32x8d", "encoder_weights": "instagram"}, IMAGENET,
     "resnext101_32x8d.instagram"),
    ({"encoder_name": "mit_b2", "_model_class": "Segformer"}, IMAGENET, "mit_b2.imagenet"),
    ({"encoder_name": "efficientnet-b3", "encoder_weights": "advprop"}, INCEPTION,
     "efficientnet-b3.advprop"),
    ({"encoder_name": "timm-tf_efficientnet_lite2"}, INCEPTION, "lite2.imagenet"),
    ({"encoder_name": "xception"}, INCEPTION, "xception.imagenet"),
    ({"encoder_name": "dpn92", "encoder_weights": "imagenet+5k"}, DPN, "dpn92.imagenet+5k"),
])
def test_smp_config_gives_its_encoder_s_normalisation(tmp_path, run_cli, make_raster, image,
                                                      changes, stats, said):
    """A Unet (resnet34, ImageNet weights) exported beside smp's config.json got x / 255
    without ImageNet's mean/std (probabilities off, exit 0); now the encoder's preprocessing
    is applied (smp's pretrained_settings: ImageNet's, 0.5/0.5 for Inception-style and
    advprop/lite weights, DPN's), -v naming the file, and the bands are not named by it."""
    path = smp_folder(tmp_path / "unet", smp_config(**changes))
    out, names, stderr = predicted(run_cli, make_raster, image, tmp_path, path)
    np.testing.assert_allclose(out, reference(path, image, stats), atol=1e-6)
    assert said in stderr and "beside it" not in stderr, stderr
    assert names == ["class_1", "class_2"]


def test_encoder_trained_from_scratch_gets_no_normalisation(tmp_path, run_cli, make_raster,
                                                            image):
    path = smp_folder(tmp_path / "unet", smp_config(encoder_weights=None))
    out, _, stderr = predicted(run_cli, make_raster, image, tmp_path, path)
    np.testing.assert_allclose(out, reference(path, image, NONE), atol=1e-6)
    assert "trained from scratch (encoder_weights null)" in stderr, stderr
    assert "WARNING" not in stderr.upper().replace("WARNINGS", ""), stderr


@pytest.mark.parametrize(("changes", "fragments"), [
    ({"encoder_name": "resnet34", "encoder_weights": "ssl"},
     ["encoder resnet34 with weights ssl", "get_preprocessing_params('resnet34', 'ssl')"]),
    ({"encoder_name": "my_encoder"}, ["encoder my_encoder with weights imagenet"]),
    # a name that only starts as a listed one (resnet34) is not that encoder
    ({"encoder_name": "resnet34_custom"}, ["encoder resnet34_custom with weights imagenet"]),
    ({"encoder_name": "tu-convnext_tiny", "encoder_weights": True},
     ["timm encoder tu-convnext_tiny", "timm.create_model('convnext_tiny'"]),
    ({"in_channels": 4}, ["in_channels 4", "3 RGB channels"]),
])
def test_unknown_encoder_preprocessing_is_warned_once(tmp_path, run_cli, make_raster, image,
                                                      changes, fragments):
    path = smp_folder(tmp_path / "unet", smp_config(**changes))
    out, _, stderr = predicted(run_cli, make_raster, image, tmp_path, path)
    np.testing.assert_allclose(out, reference(path, image, NONE), atol=1e-6)
    lines = [line for line in stderr.splitlines() if "give --mean and --std" in line]
    assert len(lines) == 1, stderr
    for fragment in ["config.json", *fragments]:
        assert fragment in lines[0], lines[0]
    out, _, stderr = predicted(run_cli, make_raster, image, tmp_path, path, "--mean",
                               "0.4,0.5,0.6", "--std", "0.2,0.3,0.25")
    np.testing.assert_allclose(out, reference(path, image, ([0.4, 0.5, 0.6], [0.2, 0.3, 0.25])),
                               atol=1e-6)
    assert "give --mean" not in stderr


def test_transformers_config_json_is_not_read_as_smp_s(tmp_path, run_cli, make_raster, image):
    """An Optimum export's config.json (model_type, id2label: no encoder) stays transformers':
    its names are read, no normalisation from smp; smp's config.json is not transformers'."""
    config = {"model_type": "segformer", "architectures": ["SegformerForSemanticSegmentation"],
              "id2label": {"0": "ground", "1": "building"}, "encoder_name": "resnet34"}
    path = smp_folder(tmp_path / "segformer", config)
    out, names, stderr = predicted(run_cli, make_raster, image, tmp_path, path)
    assert names == ["ground", "building"]
    np.testing.assert_allclose(out, reference(path, image, NONE), atol=1e-6)
    assert "resnet34.imagenet" not in stderr and "give --mean" not in stderr
    processor = {"image_processor_type": "SegformerImageProcessor", "image_mean": [0.5] * 3,
                 "image_std": [0.25] * 3}
    path = smp_folder(tmp_path / "optimum", config, {"preprocessor_config.json": processor})
    out, names, _ = predicted(run_cli, make_raster, image, tmp_path, path)
    np.testing.assert_allclose(out, reference(path, image, ([0.5] * 3, [0.25] * 3)), atol=1e-6)


def test_metadata_and_options_override_smp_s_config(tmp_path, run_cli, make_raster, image):
    path = smp_folder(tmp_path / "meta", metadata={"mean": "[0.4, 0.4, 0.4]",
                                                   "std": "[0.3, 0.3, 0.3]"})
    out, _, stderr = predicted(run_cli, make_raster, image, tmp_path, path)
    np.testing.assert_allclose(out, reference(path, image, ([0.4] * 3, [0.3] * 3)), atol=1e-6)
    assert "resnet34.imagenet" not in stderr
    path = smp_folder(tmp_path / "unet")
    out, _, stderr = predicted(run_cli, make_raster, image, tmp_path, path, "--mean", "0.5")
    np.testing.assert_allclose(out, reference(path, image, ([0.5] * 3, IMAGENET[1])), atol=1e-6)
    assert "--mean 0.5 replaces config.json's mean" in " ".join(stderr.split()), stderr
    out, _, _ = predicted(run_cli, make_raster, image, tmp_path, path, "--mean", "0",
                          "--std", "1", "--scale", "1")
    np.testing.assert_allclose(out, reference(path, image, NONE, 1.0), atol=1e-6)


ALBUMENTATIONS = {"__version__": "1.4.24", "transform": {
    "__class_fullname__": "Compose", "p": 1.0, "is_check_shapes": True, "transforms": [
        {"__class_fullname__": "Resize", "height": 512, "width": 512, "p": 1.0},
        {"__class_fullname__": "Normalize", "p": 1.0, "mean": [0.3, 0.4, 0.5],
         "std": [0.2, 0.25, 0.3], "max_pixel_value": 255.0, "normalization": "standard"}]}}


def test_albumentations_eval_config_gives_the_normalisation(tmp_path, run_cli, make_raster,
                                                            image):
    """An smp-hub checkpoint (a whole pretrained model: encoder_weights null) ships its
    preprocessing as albumentations_config_eval.json (A.Compose.from_pretrained): its
    Normalize is read, before the encoder's table."""
    files = {"albumentations_config_eval.json": ALBUMENTATIONS}
    for weights in (None, "imagenet"):
        path = smp_folder(tmp_path / str(weights), smp_config(encoder_weights=weights), files)
        out, _, stderr = predicted(run_cli, make_raster, image, tmp_path, path)
        np.testing.assert_allclose(out, reference(path, image, ([0.3, 0.4, 0.5],
                                                                [0.2, 0.25, 0.3])), atol=1e-6)
        assert "albumentations_config_eval.json Normalize" in stderr, stderr
    per_image = json.loads(json.dumps(ALBUMENTATIONS))
    per_image["transform"]["transforms"][1]["normalization"] = "min_max"
    path = smp_folder(tmp_path / "minmax", files={"albumentations_config_eval.json": per_image})
    out, _, stderr = predicted(run_cli, make_raster, image, tmp_path, path)
    np.testing.assert_allclose(out, reference(path, image, NONE), atol=1e-6)
    assert "normalization=min_max" in stderr and "give --mean and --std" in stderr


def test_classes_other_than_the_output_s_channels_are_warned(tmp_path, run_cli, make_raster,
                                                             image):
    path = smp_folder(tmp_path / "unet", smp_config(classes=5))
    _, _, stderr = predicted(run_cli, make_raster, image, tmp_path, path)
    assert "config.json says classes 5, but the model's output has 2 channel(s)" in \
        " ".join(stderr.split()), stderr


@pytest.mark.parametrize(("name", "text"), [
    ("config.json", '{"encoder_name": "resnet34", "_model_class": "Unet", "classes": '),
    ("albumentations_config_eval.json", '{"transform": {"__class_fullname__": "Compose"'),
    ("albumentations_config_eval.json", json.dumps({"transform": {
        "__class_fullname__": "Normalize", "max_pixel_value": 0}})),
    ("albumentations_config_eval.json", json.dumps({"transform": {
        "__class_fullname__": "Compose", "transforms": [
            {"__class_fullname__": "ToFloat", "max_value": "65535"},
            {"__class_fullname__": "Normalize", "max_pixel_value": 1.0}]}})),
])
def test_a_broken_smp_file_is_one_line(tmp_path, run_cli, make_raster, image, name, text):
    path = smp_folder(tmp_path / "unet", files={name: text})
    tif = make_raster("img.tif", image)
    assert_one_line_error(run_cli("predict", path, tif, "-o", tmp_path / "o.tif"), name,
                          "--mean")


def test_another_tool_s_broken_config_json_is_left_alone(tmp_path, run_cli, make_raster,
                                                         image):
    path = smp_folder(tmp_path / "unet", "{'not': json")
    out, _, _ = predicted(run_cli, make_raster, image, tmp_path, path)
    np.testing.assert_allclose(out, reference(path, image, NONE), atol=1e-6)


def test_resume_redoes_outputs_of_another_smp_config(tmp_path, run_cli, make_raster, image):
    path = smp_folder(tmp_path / "unet")
    tif = make_raster("img.tif", image)
    args = ("predict", path, tif, "-o", tmp_path / "o.tif", "--dtype", "float32",
            "--tile-size", "32")
    assert run_cli(*args).exit_code == 0
    assert "skipped" in run_cli(*args, "--resume").output
    (path.parent / "config.json").write_text(json.dumps(smp_config(encoder_name="xception")))
    result = run_cli(*args, "--resume")
    assert result.exit_code == 0 and "skipped" not in result.output, result.output
    with rasterio.open(tmp_path / "o.tif") as out:
        np.testing.assert_allclose(out.read(), reference(path, image, INCEPTION), atol=1e-6)


def test_dask_workers_load_the_model_again_for_another_smp_config(tmp_path, image,
                                                                  monkeypatch):
    from geotile import distributed as gd

    monkeypatch.setattr(gd, "_MODELS", {})
    path = smp_folder(tmp_path / "unet")
    options = {"providers": "cpu", "threads": 1}
    first = gd._worker_model(str(path), options)
    assert gd._worker_model(str(path), options) is first
    (path.parent / "config.json").write_text(json.dumps(smp_config(encoder_weights=None)))
    model = gd._worker_model(str(path), options)
    assert model is not first
    out = predict_array(model, image, options=PredictOptions(tile_size=32))
    np.testing.assert_allclose(out, reference(path, image, NONE), atol=1e-6)


def test_a_link_to_the_export_reads_the_config_beside_its_target(tmp_path, image, caplog):
    path = smp_folder(tmp_path / "export")
    (tmp_path / "models").mkdir()
    link = tmp_path / "models" / "unet.onnx"
    link.symlink_to(path)
    with caplog.at_level(logging.INFO, logger="geotile"):
        model = OnnxModel.from_path(link, providers="cpu")
    out = predict_array(model, image, options=PredictOptions(tile_size=32))
    np.testing.assert_allclose(out, reference(path, image, IMAGENET), atol=1e-6)


def test_readme_names_smp_s_config():
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "examples" / "README.md").read_text()
    assert "save_pretrained" in readme and "segmentation_models_pytorch" in readme


def test_predict_help_names_smp_s_config(run_cli):
    text = " ".join(run_cli("predict", "--help").output.split())
    assert "segmentation_models_pytorch's config.json" in text
    assert "else that of smp's config.json encoder" in text


@pytest.mark.parametrize("config", [
    # a user's training config beside the export, with its own statistics
    {"encoder_name": "resnet34", "encoder_weights": "imagenet", "classes": 2,
     "mean": [0.3, 0.3, 0.3], "std": [0.1, 0.1, 0.1], "lr": 0.001},
    {"encoder_name": "resnet50", "in_channels": 3, "classes": 2},
])
def test_a_config_json_without_smp_s_model_class_is_not_read_as_smp_s(
        tmp_path, run_cli, make_raster, image, config):
    """smp's save_pretrained always writes _model_class (smp.from_pretrained needs it, 0.3.4
    on); a config.json with an encoder_name only is anyone's: it gave ImageNet's mean/std
    silently, now none is applied and a warning asks for --mean/--std."""
    path = smp_folder(tmp_path / "unet", config)
    out, _, stderr = predicted(run_cli, make_raster, image, tmp_path, path)
    np.testing.assert_allclose(out, reference(path, image, NONE), atol=1e-6)
    assert ".imagenet" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if "_model_class" in line]
    assert len(lines) == 1 and "give --mean and --std" in lines[0], stderr


@pytest.mark.parametrize(("max_value", "dtype", "scale"), [
    (255.0, np.uint8, 1 / 255), (4095, np.uint16, 1 / 4095), (None, np.uint8, 1 / 255),
    (None, np.uint16, 1 / 65535)])
def test_albumentations_to_float_before_normalize_scales_the_pixels(
        tmp_path, run_cli, make_raster, image, max_value, dtype, scale):
    """A.Compose([A.ToFloat(max_value), A.Normalize(mean, std, max_pixel_value=1.0)]): the
    ToFloat was skipped, so 8-bit pixels reached the Normalize as 0..255 (inputs ~1000 instead
    of -2..2); now they are divided by max_value (by their type's maximum for None) first."""
    saved = json.loads(json.dumps(ALBUMENTATIONS))
    saved["transform"]["transforms"][1]["max_pixel_value"] = 1.0
    saved["transform"]["transforms"].insert(0, {"__class_fullname__": "ToFloat",
                                                "max_value": max_value, "p": 1.0})
    path = smp_folder(tmp_path / "unet", files={"albumentations_config_eval.json": saved})
    pixels = (image.astype(np.uint16) * 16).astype(dtype) if dtype == np.uint16 else image
    out, _, stderr = predicted(run_cli, make_raster, pixels, tmp_path, path)
    np.testing.assert_allclose(out, reference(path, pixels, ([0.3, 0.4, 0.5], [0.2, 0.25, 0.3]),
                                              scale), atol=1e-5)
    assert "albumentations_config_eval.json ToFloat" in stderr, stderr


@pytest.mark.parametrize("normalize", [
    {"__class_fullname__": "Normalize", "p": 1.0},
    {"__class_fullname__": "Normalize", "p": 1.0, "mean": None, "std": None,
     "max_pixel_value": None, "normalization": None},
])
def test_albumentations_normalize_without_values_takes_its_defaults(
        tmp_path, run_cli, make_raster, image, normalize):
    """A Normalize that names no mean, std or max_pixel_value (absent or null, A.Normalize()
    saved by hand or by another albumentations): albumentations' defaults, ImageNet's mean and
    std of pixels / 255, not 0.5 or / 65535 or / 1."""
    saved = {"__version__": "1.4.24", "transform": {
        "__class_fullname__": "Compose", "p": 1.0, "transforms": [normalize]}}
    path = smp_folder(tmp_path / "unet", smp_config(encoder_weights=None),
                      {"albumentations_config_eval.json": saved})
    out, _, stderr = predicted(run_cli, make_raster, image, tmp_path, path)
    np.testing.assert_allclose(out, reference(path, image, IMAGENET), atol=1e-6)
    assert "albumentations_config_eval.json Normalize" in stderr, stderr


def test_a_dpt_config_without_encoder_name_is_smp_s_timm_vit(tmp_path, run_cli, make_raster,
                                                             image):
    """smp's DPT defaults to encoder tu-vit_base_patch16_224.augreg_in21k (a timm encoder):
    a DPT config.json without encoder_name gets no normalisation and the timm warning, not
    resnet34's ImageNet statistics."""
    path = smp_folder(tmp_path / "dpt", smp_config(encoder_name="-", _model_class="DPT"))
    out, _, stderr = predicted(run_cli, make_raster, image, tmp_path, path)
    np.testing.assert_allclose(out, reference(path, image, NONE), atol=1e-6)
    assert "timm encoder tu-vit_base_patch16_224.augreg_in21k" in stderr, stderr
    assert "resnet34" not in stderr


def test_a_config_without_classes_counts_smp_s_default_of_one(tmp_path, run_cli, make_raster,
                                                               image):
    """smp's classes default is 1: a config.json without it beside a model of 2 output
    channels is warned of as another model's; with classes 2 it is not."""
    path = smp_folder(tmp_path / "unet", smp_config(classes="-"))
    _, _, stderr = predicted(run_cli, make_raster, image, tmp_path, path)
    assert "config.json says classes 1, but the model's output has 2 channel(s)" in \
        " ".join(stderr.split()), stderr
    path = smp_folder(tmp_path / "two", smp_config(classes=2))
    _, _, stderr = predicted(run_cli, make_raster, image, tmp_path, path)
    assert "says classes" not in stderr, stderr
