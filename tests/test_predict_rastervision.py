"""Raster Vision model bundles (0.21 to 0.31) as `geotile predict` models: a learner's
model-bundle.zip holds model.onnx (input x, output out: logits), model.pth and
learner-config.json; geotile reads the config beside model.onnx for what its metadata does
not say (:mod:`geotile.rastervision_sidecars`)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from onnx import helper

from geotile.model import OnnxModel

from .onnx_models import FLOAT, save_graph

CLASSES = ["building", "background", "null"]  # ensure_null_class() appends "null"


def learner_config(base_transform=None, names=CLASSES, **data):
    """A learner-config.json as Raster Vision writes it (the keys geotile reads, and a few
    others, real-shaped)."""
    return {
        "model": {"backbone": "resnet50", "pretrained": True, "init_weights": None,
                  "load_strict": True, "external_def": None, "extra_args": {},
                  "type_hint": "semantic_segmentation_model"},
        "solver": {"lr": 0.0001, "num_epochs": 10, "batch_sz": 8,
                   "type_hint": "solver"},
        "data": {"class_config": {"names": list(names),
                                  "colors": ["orange", "brown", "black"][:len(names)],
                                  "null_class": "null", "type_hint": "class_config"},
                 "img_channels": 3, "img_sz": 256, "num_workers": 4,
                 "augmentors": ["RandomRotate90", "HorizontalFlip", "VerticalFlip"],
                 "base_transform": base_transform, "aug_transform": None,
                 "preview_batch_limit": None, "type_hint": "semantic_segmentation_geo_data",
                 **data},
        "predict_mode": False, "eval_train": False, "save_model_bundle": True,
        "output_uri": "s3://bucket/train", "type_hint": "semantic_segmentation_learner",
        "plugin_versions": {"rastervision.pipeline": 0, "rastervision.core": 12,
                            "rastervision.pytorch_learner": 5},
    }


def normalize(mean, std, max_pixel_value=255.0):
    """data.base_transform of an albumentations Normalize, as A.to_dict serializes it."""
    return {"__version__": "1.4.24", "transform": {
        "__class_fullname__": "Normalize", "p": 1.0, "mean": mean, "std": std,
        "max_pixel_value": max_pixel_value, "normalization": "standard"}}


def bundle(folder, config=None, classes=3, metadata=None):
    """An unzipped model-bundle: model.onnx (an identity 1x1 Conv, 3 channels in, the first
    ``classes`` out, as torch.onnx.export names them) and its learner-config.json."""
    folder.mkdir(parents=True, exist_ok=True)
    weights = np.eye(classes, 3, dtype=np.float32).reshape(classes, 3, 1, 1)
    nodes = [helper.make_node("Conv", ["x", "W"], ["out"], kernel_shape=[1, 1])]
    path = save_graph(folder / "model.onnx", nodes, [("x", FLOAT, ["batch_size", 3, "height",
                                                                   "width"])],
                      [("out", FLOAT, ["batch_size", classes, "height", "width"])],
                      {"W": weights}, opset=15, metadata=metadata)
    (folder / "model.pth").write_bytes(b"weights")
    if config is not False:
        (folder / "learner-config.json").write_text(json.dumps(config or learner_config()))
    return path


def predict(run_cli, tmp_path, model, tif, *args):
    result = run_cli("-v", "predict", model, tif, "-o", tmp_path / "o.tif", "--activation",
                     "none", "--tile-size", "64", "--overwrite", *args)
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "o.tif") as out:
        return out.read(), list(out.descriptions), result


def bundle_zip(tmp_path, kind):
    """The learner's model-bundle.zip of :func:`bundle`, or (``kind`` "pipeline") a
    pipeline's bundle holding it beside a pipeline-config.json."""
    bundle(tmp_path / "train")
    model = zip_folder(tmp_path / "train", tmp_path / "model-bundle.zip")
    if kind == "pipeline":
        outer = tmp_path / "bundle"
        outer.mkdir()
        (outer / "model-bundle.zip").write_bytes(model.read_bytes())
        (outer / "pipeline-config.json").write_text(json.dumps(
            {"type_hint": "semantic_segmentation_pipeline", "train_uri": "s3://b/train"}))
        model = zip_folder(outer, tmp_path / "outer.zip")
    return model


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
def test_a_bundle_scales_pixels_as_raster_vision_and_names_its_classes(tmp_path, run_cli,
                                                                      make_raster, dtype):
    """Raster Vision feeds unsigned pixels / their type's maximum (uint16 / 65535) and
    floats as they are, and names its channels in data.class_config.names. geotile fed a
    uint16 image's pixels as they are (up to 65535 where the model saw up to 1) and named
    the bands class_1..class_3."""
    top = {"uint8": 255, "uint16": 65535, "float32": 3.0}[dtype]
    rng = np.random.default_rng(5)
    image = (rng.random((3, 70, 90)) * top).astype(dtype)
    model = bundle(tmp_path / "model-bundle")
    values, names, result = predict(run_cli, tmp_path, model, make_raster("i.tif", image))
    want = image.astype(np.float64) / (top if dtype != "float32" else 1)
    np.testing.assert_allclose(values, want, atol=1e-6)
    assert names == CLASSES
    assert "learner-config.json" in result.stderr
    assert "--scale" not in result.stderr  # no warning of unscaled 16-bit pixels


def test_a_bundle_reads_the_normalize_of_its_base_transform(tmp_path, run_cli, make_raster):
    """An albumentations Normalize in data.base_transform: (x - mean * max_pixel_value) /
    (std * max_pixel_value), here of uint16 pixels with max_pixel_value 65535."""
    mean, std = [0.1, 0.2, 0.3], [0.5, 0.25, 0.125]
    image = np.random.default_rng(6).integers(0, 65536, (3, 40, 50)).astype(np.uint16)
    model = bundle(tmp_path / "b", learner_config(normalize(mean, std, 65535.0)))
    values, names, _ = predict(run_cli, tmp_path, model, make_raster("i.tif", image))
    want = (image / 65535.0 - np.reshape(mean, (3, 1, 1))) / np.reshape(std, (3, 1, 1))
    np.testing.assert_allclose(values, want, atol=1e-5)
    assert names == CLASSES


def test_options_and_metadata_override_the_bundle(tmp_path, run_cli, make_raster):
    image = np.random.default_rng(7).integers(0, 65536, (3, 40, 50)).astype(np.uint16)
    tif = make_raster("i.tif", image)
    model = bundle(tmp_path / "b")
    values, _, _ = predict(run_cli, tmp_path, model, tif, "--scale", "0.001", "--mean", "1",
                           "--std", "2")
    np.testing.assert_allclose(values, (image * 0.001 - 1) / 2, atol=1e-5)
    loaded = OnnxModel.from_path(model)
    assert loaded.sidecars["normalization"] == tmp_path / "b" / "learner-config.json"
    assert loaded.class_names == CLASSES
    declared = bundle(tmp_path / "m", metadata={"class_names": ["a", "b", "c"],
                                                 "mean": [0.5] * 3, "std": [0.25] * 3})
    values, names, _ = predict(run_cli, tmp_path, declared, tif, "--scale", "0.0001")
    np.testing.assert_allclose(values, (image * 0.0001 - 0.5) / 0.25, atol=1e-5)
    assert names == ["a", "b", "c"]


def test_a_model_beside_no_learner_config_is_as_before(tmp_path, run_cli, make_raster):
    """Another tool's config.json-like file, or none: geotile's own defaults."""
    image = np.random.default_rng(8).integers(0, 256, (3, 40, 50)).astype(np.uint8)
    model = bundle(tmp_path / "b", config=False)
    (tmp_path / "b" / "learner-config.json").write_text('{"data": {}, "name": "x"}')
    values, names, _ = predict(run_cli, tmp_path, model, make_raster("i.tif", image))
    np.testing.assert_allclose(values, image / 255.0, atol=1e-6)
    assert names != CLASSES


def test_a_broken_learner_config_is_one_line(tmp_path, run_cli, make_raster):
    from .conftest import assert_one_line_error

    image = np.random.default_rng(9).integers(0, 256, (3, 40, 50)).astype(np.uint8)
    model = bundle(tmp_path / "b", config=False)
    (tmp_path / "b" / "learner-config.json").write_text('{"data": {"class_config": ')
    result = run_cli("predict", model, make_raster("i.tif", image), "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "learner-config.json", "not valid JSON", "--mean")
    assert not (tmp_path / "o.tif").exists()


def zip_folder(folder, target):
    """``folder``'s files zipped flat, as Raster Vision's zipdir writes a bundle."""
    import zipfile

    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(folder.iterdir()):
            archive.write(file, file.name)
    return target


@pytest.mark.parametrize("kind", ["learner", "pipeline"])
def test_the_bundle_zip_itself_is_the_model(tmp_path, run_cli, make_raster, kind):
    """train/model-bundle.zip (model.onnx, learner-config.json) and bundle/model-bundle.zip
    (pipeline-config.json and that zip inside) given as the model: geotile said "not an
    ONNX model (the file cannot be parsed)" (exit 1). Now their model.onnx and
    learner-config.json are read from the zip: the unzipped folder's output, its names."""
    image = np.random.default_rng(10).integers(0, 65536, (3, 40, 50)).astype(np.uint16)
    tif = make_raster("i.tif", image)
    model = bundle_zip(tmp_path, kind)
    values, names, _ = predict(run_cli, tmp_path, model, tif)
    np.testing.assert_allclose(values, image / 65535.0, atol=1e-6)
    assert names == CLASSES
    assert OnnxModel.from_path(model).sidecars == {"names": model, "normalization": model}


@pytest.mark.parametrize("kind", ["learner", "pipeline"])
def test_a_bundle_zip_holding_more_than_an_onnx_file_can_be_is_refused_unread(
        tmp_path, run_cli, make_raster, monkeypatch, kind):
    """A model-bundle.zip whose model.onnx unzips to 3 GiB (3 MB zipped: zeros) was read
    whole into memory, then refused as "not enough memory ... lower --tile-size" (4.2 GB
    peak; 10 GiB unzipped would take 10 GB), and so was a pipeline's bundle holding such a
    zip. An ONNX file holds at most 2 GiB (protobuf): the sizes the zip declares are
    checked first (here against a limit lowered to 100 bytes)."""
    from geotile import rastervision_sidecars

    from .conftest import assert_one_line_error

    monkeypatch.setattr(rastervision_sidecars, "LARGEST", 100)
    tif = make_raster("i.tif", np.zeros((3, 20, 20), np.uint8))
    model = bundle_zip(tmp_path, kind)
    result = run_cli("predict", model, tif, "-o", tmp_path / "o.tif")
    assert_one_line_error(result, model.name, "unzips to", "give the model's .onnx file")
    assert not (tmp_path / "o.tif").exists()


def test_a_bundle_zip_without_model_onnx_says_how_to_export_it(tmp_path, run_cli,
                                                                make_raster):
    from .conftest import assert_one_line_error

    bundle(tmp_path / "train")
    (tmp_path / "train" / "model.onnx").unlink()
    model = zip_folder(tmp_path / "train", tmp_path / "model-bundle.zip")
    tif = make_raster("i.tif", np.zeros((3, 20, 20), np.uint8))
    result = run_cli("predict", model, tif, "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "model-bundle.zip", "no model.onnx",
                          "learner.save_model_bundle(export_onnx=True)",
                          "learner.export_to_onnx('model.onnx')")
    assert not (tmp_path / "o.tif").exists()
    (tmp_path / "train" / "learner-config.json").unlink()
    (tmp_path / "train" / "model.pth").unlink()
    (tmp_path / "train" / "notes.txt").write_text("x")
    other = zip_folder(tmp_path / "train", tmp_path / "other.zip")
    assert_one_line_error(run_cli("predict", other, tif, "-o", tmp_path / "o.tif"),
                          "other.zip", "no Raster Vision model bundle", "unzip it")


def test_resume_redoes_outputs_of_another_bundle_zip(tmp_path, run_cli, make_raster):
    image = np.random.default_rng(11).integers(0, 256, (3, 40, 50)).astype(np.uint8)
    tif = make_raster("i.tif", image)
    bundle(tmp_path / "train")
    model = zip_folder(tmp_path / "train", tmp_path / "model-bundle.zip")
    args = ("predict", model, tif, "-o", tmp_path / "o.tif", "--activation", "none")
    assert run_cli(*args).exit_code == 0
    assert "skipped" in run_cli(*args, "--resume").output
    (tmp_path / "train" / "learner-config.json").write_text(json.dumps(learner_config(
        normalize([0.5] * 3, [0.5] * 3))))
    zip_folder(tmp_path / "train", model)
    result = run_cli(*args, "--resume")
    assert result.exit_code == 0 and "skipped" not in result.output, result.output
    with rasterio.open(tmp_path / "o.tif") as out:
        np.testing.assert_allclose(out.read(), (image / 255.0 - 0.5) / 0.5, atol=1e-6)


# --- the scenes' raster source: channel_order and transformers ---------------------------


def raster_source(channel_order=None, transformers=(), uris=("s3://b/scene.tif",)):
    """A scene's raster_source as Raster Vision 0.31 serializes a RasterioSourceConfig."""
    return {"uris": list(uris), "allow_streaming": False, "channel_order": channel_order,
            "bbox": None, "transformers": list(transformers), "type_hint": "rasterio_source"}


def scene(id_, source):
    return {"id": id_, "raster_source": source,
            "label_source": {"raster_source": {"uris": ["s3://b/labels.tif"],
                                               "type_hint": "rasterio_source",
                                               "channel_order": None, "transformers": []},
                             "type_hint": "semantic_segmentation_label_source"},
            "label_store": None, "aoi_uris": None, "type_hint": "scene"}


def pipeline_config(*sources, validation=None, core=14):
    """A pipeline-config.json of a semantic segmentation pipeline: one train scene per
    raster source (``validation`` the validation scenes' ones, else the first)."""
    validation = validation if validation is not None else sources[:1]
    return {
        "root_uri": "s3://b/output", "rv_config": None,
        "plugin_versions": {"rastervision.pipeline": 0, "rastervision.core": core,
                            "rastervision.pytorch_backend": 4,
                            "rastervision.pytorch_learner": 5},
        "dataset": {"class_config": {"names": CLASSES[:2], "colors": ["orange", "brown"],
                                     "null_class": "null", "type_hint": "class_config"},
                    "train_scenes": [scene(f"train{i}", s) for i, s in enumerate(sources)],
                    "validation_scenes": [scene(f"val{i}", s)
                                          for i, s in enumerate(validation)],
                    "test_scenes": [], "scene_groups": {}, "type_hint": "dataset"},
        "analyze_uri": "s3://b/output/analyze", "train_uri": "s3://b/output/train",
        "predict_options": {"chip_sz": 256, "stride": None, "batch_sz": 8,
                            "type_hint": "semantic_segmentation_predict_options"},
        "type_hint": "semantic_segmentation_pipeline",
    }


def pipeline_bundle(tmp_path, config, stats=None, learner=None):
    """bundle/model-bundle.zip: pipeline-config.json, the learner's model-bundle.zip
    (``learner``: its learner-config.json) and analyze/stats/train_scenes/stats.json."""
    import zipfile

    bundle(tmp_path / "train", learner)
    inner = zip_folder(tmp_path / "train", tmp_path / "inner.zip")
    target = tmp_path / "bundle" / "model-bundle.zip"
    target.parent.mkdir(exist_ok=True)
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr("model-bundle.zip", inner.read_bytes())
        archive.writestr("pipeline-config.json", json.dumps(config))
        if stats is not None:
            archive.writestr("analyze/stats/train_scenes/stats.json", json.dumps(stats))
    return target


def rgbn(seed=12, dtype=np.uint8, top=256):
    return np.random.default_rng(seed).integers(1, top, (4, 40, 50)).astype(dtype)


def test_the_bundle_channel_order_chooses_the_bands(tmp_path, run_cli, make_raster):
    """An RGBN image and a model trained on channel_order [3, 0, 1] (N, R, G): geotile fed
    bands 1, 2, 3 (R, G, B) and wrote wrong values, exit 0. Now bands 4, 1, 2 by default,
    said at -v; the same from learner-config.json's data.scene_dataset scenes."""
    image = rgbn()
    tif = make_raster("i.tif", image)
    model = pipeline_bundle(tmp_path, pipeline_config(raster_source([3, 0, 1])))
    values, names, result = predict(run_cli, tmp_path, model, tif)
    np.testing.assert_allclose(values, image[[3, 0, 1]] / 255.0, atol=1e-6)
    assert names == CLASSES
    assert "bands 4,1,2" in result.stderr and "channel_order [3, 0, 1]" in result.stderr
    config = learner_config(scene_dataset=pipeline_config(raster_source([3, 0, 1]))["dataset"])
    values, _, _ = predict(run_cli, tmp_path, bundle(tmp_path / "l", config), tif)
    np.testing.assert_allclose(values, image[[3, 0, 1]] / 255.0, atol=1e-6)


def test_bands_given_over_the_channel_order_are_warned_of(tmp_path, run_cli, make_raster):
    image = rgbn(13)
    model = pipeline_bundle(tmp_path, pipeline_config(raster_source([3, 0, 1])))
    values, _, result = predict(run_cli, tmp_path, model, make_raster("i.tif", image),
                                "--bands", "1,2,3")
    np.testing.assert_allclose(values, image[:3] / 255.0, atol=1e-6)
    assert result.stderr.count("--bands 1,2,3") == 1, result.stderr
    assert "channel_order [3, 0, 1] (bands 4,1,2)" in result.stderr
    _, _, result = predict(run_cli, tmp_path, model, make_raster("i.tif", image),
                           "--bands", "4,1,2")
    assert "replaces" not in result.stderr


def test_scenes_of_different_channel_orders_give_no_default(tmp_path, run_cli, make_raster):
    image = rgbn(14)
    config = pipeline_config(raster_source([3, 0, 1]), raster_source([0, 1, 2]))
    model = pipeline_bundle(tmp_path, config)
    values, _, result = predict(run_cli, tmp_path, model, make_raster("i.tif", image),
                                "--bands", "1,2,3")
    np.testing.assert_allclose(values, image[:3] / 255.0, atol=1e-6)
    assert "--bands 1,2,3 replaces" not in result.stderr
    result = run_cli("predict", model, make_raster("i.tif", image), "-o", tmp_path / "p.tif")
    assert result.stderr.count("different channel_order") == 1, result.stderr
    assert "[3, 0, 1]" in result.stderr and "[0, 1, 2]" in result.stderr


def test_a_channel_order_the_image_lacks_is_one_line(tmp_path, run_cli, make_raster):
    from .conftest import assert_one_line_error

    model = pipeline_bundle(tmp_path, pipeline_config(raster_source([3, 0, 1])))
    tif = make_raster("rgb.tif", rgbn(15)[:3])
    result = run_cli("predict", model, tif, "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "model-bundle.zip", "rgb.tif", "channel_order [3, 0, 1]",
                          "3 bands", "--bands")
    assert not (tmp_path / "o.tif").exists()


def rv_stats_transform(chip, means, stds, max_stds=3.0):
    """Raster Vision 0.31.1's StatsTransformer.transform (stats_transformer.py:46-83), its
    lines as they are, on a (H, W, C) chip."""
    if chip.dtype == np.uint8:
        return chip
    means, stds = np.array(means, dtype=float), np.array(stds, dtype=float)
    nodata_mask = chip == 0
    chip = chip.astype(float)
    chip -= means
    chip /= stds
    chip = np.clip(chip, -max_stds, max_stds, out=chip)
    chip += max_stds
    chip /= (2 * max_stds)
    chip *= 255
    chip = chip.astype(np.uint8)
    chip[nodata_mask] = 0
    return chip


def stats_transformer(**fields):
    return {"stats_uri": "s3://b/output/analyze/stats/train_scenes/stats.json",
            "scene_group": "train_scenes", "needs_channel_order": False,
            "type_hint": "stats_transformer", **fields}


def rv_stats(means, stds):
    """analyze/stats/train_scenes/stats.json as RasterStats.save writes it."""
    return {"means": list(means), "stds": list(stds), "counts": [1000] * len(means)}


@pytest.mark.parametrize("core", [14, 13])
def test_a_stats_transformer_is_reproduced(tmp_path, run_cli, make_raster, core):
    """A model trained on 16-bit RGBN through a StatsTransformer (z-scores clipped to +-3
    std, stretched to 0..255 uint8) and channel_order [3, 0, 1]: geotile fed uint16 / 65535.
    Now the transformer's uint8 / 255, as Raster Vision computes it; its stats.json (in the
    bundle's analyze/) is of the channels fed, or (a config of rastervision.core <= 13:
    needs_channel_order) of every band, taken in channel_order."""
    image = rgbn(16, np.uint16, 4000)
    image[:, :3, :4] = 0  # nodata: stays 0
    band_means, band_stds = [900.0, 1100.0, 1300.0, 2500.0], [300.0, 250.5, 410.0, 700.0]
    chip_means = [band_means[i] for i in (3, 0, 1)]
    chip_stds = [band_stds[i] for i in (3, 0, 1)]
    stats = rv_stats(chip_means, chip_stds) if core == 14 else rv_stats(band_means, band_stds)
    transformer = stats_transformer()
    if core == 13:  # written before the field existed
        del transformer["needs_channel_order"]
    config = pipeline_config(raster_source([3, 0, 1], [transformer]), core=core)
    model = pipeline_bundle(tmp_path, config, stats)
    values, _, result = predict(run_cli, tmp_path, model, make_raster("i.tif", image))
    chip = np.moveaxis(image[[3, 0, 1]], 0, -1)
    want = np.moveaxis(rv_stats_transform(chip, chip_means, chip_stds), -1, 0) / 255.0
    np.testing.assert_allclose(values, want, atol=1e-6)
    assert "StatsTransformer" in result.stderr and "stats.json" in result.stderr
    assert "--scale" not in result.stderr


def test_cast_and_nan_transformers_are_reproduced(tmp_path, run_cli, make_raster):
    """CastTransformer(to_dtype) and NanTransformer(to_value) in the raster source: a
    uint16 image cast to uint8 (as numpy's astype wraps it) is then divided by 255."""
    image = rgbn(17, np.uint16, 1000)
    config = pipeline_config(raster_source([0, 1, 2], [
        {"to_value": 0.0, "type_hint": "nan_transformer"},
        {"to_dtype": "uint8", "type_hint": "cast_transformer"}]))
    model = pipeline_bundle(tmp_path, config)
    values, _, _ = predict(run_cli, tmp_path, model, make_raster("i.tif", image))
    np.testing.assert_allclose(values, image[:3].astype(np.uint8) / 255.0, atol=1e-6)


def test_a_min_max_transformer_is_refused_unless_scale_is_given(tmp_path, run_cli,
                                                                make_raster):
    """MinMaxTransformer stretches each of Raster Vision's chips to its own min..max:
    geotile's windows are not its chips, so it cannot give Raster Vision's values."""
    from .conftest import assert_one_line_error

    image = rgbn(18, np.uint16, 4000)
    tif = make_raster("i.tif", image)
    config = pipeline_config(raster_source([0, 1, 2], [{"type_hint": "min_max_transformer"}]))
    model = pipeline_bundle(tmp_path, config)
    result = run_cli("predict", model, tif, "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "model-bundle.zip", "MinMaxTransformer", "--scale")
    assert not (tmp_path / "o.tif").exists()
    values, _, result = predict(run_cli, tmp_path, model, tif, "--scale", "0.001")
    np.testing.assert_allclose(values, image[:3] * 0.001, atol=1e-5)
    assert "MinMaxTransformer" in result.stderr and "differ" in result.stderr


def test_a_stats_transformer_without_its_stats_is_one_line(tmp_path, run_cli, make_raster):
    from .conftest import assert_one_line_error

    tif = make_raster("i.tif", rgbn(19, np.uint16, 4000))
    model = pipeline_bundle(tmp_path, pipeline_config(raster_source([3, 0, 1],
                                                                    [stats_transformer()])))
    result = run_cli("predict", model, tif, "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "model-bundle.zip", "StatsTransformer",
                          "analyze/stats/train_scenes/stats.json")
    model = pipeline_bundle(tmp_path, pipeline_config(raster_source([3, 0, 1], [
        stats_transformer()])), rv_stats([1.0, 2.0], [1.0, 1.0]))
    result = run_cli("predict", model, tif, "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "stats.json", "2 channels", "3")
    assert not (tmp_path / "o.tif").exists()


def test_dask_workers_load_the_model_again_for_other_scenes(tmp_path, make_raster,
                                                            monkeypatch):
    """An unzipped pipeline bundle (model.onnx beside pipeline-config.json and analyze/):
    a worker kept the model of the old channel_order or stats.json after either changed."""
    from geotile import distributed as gd

    monkeypatch.setattr(gd, "_MODELS", {})
    path = bundle(tmp_path / "b")
    stats = tmp_path / "b" / "analyze" / "stats" / "train_scenes" / "stats.json"
    stats.parent.mkdir(parents=True)
    stats.write_text(json.dumps(rv_stats([900.0, 1100.0, 1300.0], [300.0, 250.0, 400.0])))
    config = tmp_path / "b" / "pipeline-config.json"
    config.write_text(json.dumps(pipeline_config(raster_source([3, 0, 1],
                                                               [stats_transformer()]))))
    options = {"providers": "cpu", "threads": 1}
    first = gd._worker_model(str(path), options)
    assert gd._worker_model(str(path), options) is first and first.bundle_bands == [4, 1, 2]
    config.write_text(json.dumps(pipeline_config(raster_source([0, 1, 2],
                                                               [stats_transformer()]))))
    second = gd._worker_model(str(path), options)
    assert second is not first and second.bundle_bands == [1, 2, 3]
    stats.write_text(json.dumps(rv_stats([1.0, 2.0, 3.0], [300.0, 250.0, 401.0])))
    assert gd._worker_model(str(path), options) is not second and len(gd._MODELS) == 1


@pytest.mark.parametrize("core", [14, 13])
def test_extra_bands_go_through_the_stats_transformer(tmp_path, run_cli, make_raster, core):
    """A 3-channel StatsTransformer model fed bands 1,2 of a 16-bit image and its third
    channel from --extra-bands: the extra channel went in raw, / 255 (up to 4000 / 255 =
    15.7 where Raster Vision feeds at most 1), exit 0, or (stats of the channels fed) was
    refused as "2 bands feed the model, but ... stats of 3 channels". Now every channel fed,
    extra ones included, goes through the transformer with its own stats, as Raster
    Vision's one raster source of all of them does."""
    image = rgbn(31, np.uint16, 4000)[:3]
    image[:, :3, :4] = 0
    means, stds = [900.0, 1100.0, 1300.0], [300.0, 250.5, 410.0]
    transformer = stats_transformer()
    if core == 13:
        del transformer["needs_channel_order"]
    model = pipeline_bundle(tmp_path, pipeline_config(raster_source([0, 1, 2], [transformer]),
                                                      core=core), rv_stats(means, stds))
    tif = make_raster("i.tif", image[:2])
    extra = make_raster("nir.tif", image[2:])
    values, _, _ = predict(run_cli, tmp_path, model, tif, "--extra-bands", extra)
    chip = np.moveaxis(image, 0, -1)
    want = np.moveaxis(rv_stats_transform(chip, means, stds), -1, 0) / 255.0
    valid = image.all(axis=0)  # nodata (0) pixels of either raster are nodata
    np.testing.assert_allclose(values[:, valid], want[:, valid], atol=1e-6)


def test_transformers_of_a_multi_raster_source_are_not_dropped(tmp_path, run_cli,
                                                               make_raster):
    """A MultiRasterSource (RGB and NIR files stacked) with a StatsTransformer: geotile
    warned only to give --bands and fed uint16 / 65535 where Raster Vision fed the
    transformer's uint8 / 255 (values up to 255 times off), exit 0. Now its transformers
    are refused as any geotile cannot reproduce, unless --scale is given."""
    from .conftest import assert_one_line_error

    image = rgbn(32, np.uint16, 4000)[:3]
    tif = make_raster("i.tif", image)
    multi = {"raster_sources": [raster_source(), raster_source()], "primary_source_idx": 0,
             "force_same_dtype": False, "temporal": False, "channel_order": [0, 1, 2],
             "bbox": None, "transformers": [stats_transformer()],
             "type_hint": "multi_raster_source"}
    model = pipeline_bundle(tmp_path, pipeline_config(multi),
                            rv_stats([900.0, 1100.0, 1300.0], [300.0, 250.5, 410.0]))
    result = run_cli("predict", model, tif, "-o", tmp_path / "o.tif", "--bands", "1,2,3")
    assert_one_line_error(result, "model-bundle.zip", "StatsTransformer", "--scale")
    assert not (tmp_path / "o.tif").exists()
    values, _, result = predict(run_cli, tmp_path, model, tif, "--bands", "1,2,3",
                                "--scale", "0.001")
    np.testing.assert_allclose(values, image * 0.001, atol=1e-5)
    assert "StatsTransformer" in result.stderr


def test_resume_redoes_outputs_after_a_learners_stats_uri_changed(tmp_path, run_cli,
                                                                  make_raster):
    """A learner's data.scene_dataset StatsTransformer reads its stats_uri (a local file,
    no analyze/ beside the model): after that stats.json changed, --resume skipped the
    output of the old stats (every value off, exit 0)."""
    image = rgbn(33, np.uint16, 4000)[:3]
    tif = make_raster("i.tif", image)
    stats = tmp_path / "stats.json"
    stats.write_text(json.dumps(rv_stats([900.0, 1100.0, 1300.0], [300.0, 250.5, 410.0])))
    dataset = pipeline_config(raster_source([0, 1, 2], [stats_transformer(
        stats_uri=str(stats))]))["dataset"]
    model = bundle(tmp_path / "train", learner_config(scene_dataset=dataset))
    args = ("predict", model, tif, "-o", tmp_path / "o.tif", "--activation", "none")
    assert run_cli(*args).exit_code == 0
    assert "skipped" in run_cli(*args, "--resume").output
    means, stds = [1000.0, 1000.0, 1000.0], [500.0, 500.0, 500.0]
    stats.write_text(json.dumps(rv_stats(means, stds)))
    result = run_cli(*args, "--resume")
    assert result.exit_code == 0 and "skipped" not in result.output, result.output
    chip = np.moveaxis(image, 0, -1)
    want = np.moveaxis(rv_stats_transform(chip, means, stds), -1, 0) / 255.0
    with rasterio.open(tmp_path / "o.tif") as out:
        np.testing.assert_allclose(out.read(), want, atol=1e-6)


def test_a_zero_std_in_stats_json_gives_raster_visions_values_quietly(tmp_path, run_cli,
                                                                      make_raster):
    """A constant channel's std of 0 in stats.json: Raster Vision's z-scores are +-inf,
    clipped to 0 or 255. geotile gave those values but printed numpy's bare "Warning:
    divide by zero encountered in divide", naming no file."""
    image = rgbn(34, np.uint16, 4000)[:3]
    means, stds = [900.0, 1100.0, 1300.0], [300.0, 0.0, 410.0]
    model = pipeline_bundle(tmp_path, pipeline_config(raster_source([0, 1, 2], [
        stats_transformer()])), rv_stats(means, stds))
    values, _, result = predict(run_cli, tmp_path, model, make_raster("i.tif", image))
    chip = np.moveaxis(image, 0, -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        want = np.moveaxis(rv_stats_transform(chip, means, stds), -1, 0) / 255.0
    np.testing.assert_allclose(values, want, atol=1e-6)
    assert "divide" not in result.output


def test_a_normalize_without_its_values_takes_albumentations_defaults(tmp_path, run_cli,
                                                                      make_raster):
    """A base_transform Normalize that names no mean, std or max_pixel_value (a config
    written by hand, A.Normalize()): albumentations' defaults, ImageNet's mean and std of
    0..1 pixels and max_pixel_value 255, not 0.5 or a uint16's 65535."""
    image = np.random.default_rng(35).integers(0, 256, (3, 40, 50)).astype(np.uint8)
    bare = {"__version__": "1.4.24", "transform": {"__class_fullname__": "Normalize",
                                                   "p": 1.0}}
    model = bundle(tmp_path / "b", learner_config(bare))
    values, _, _ = predict(run_cli, tmp_path, model, make_raster("i.tif", image))
    mean = np.reshape([0.485, 0.456, 0.406], (3, 1, 1))
    std = np.reshape([0.229, 0.224, 0.225], (3, 1, 1))
    np.testing.assert_allclose(values, (image / 255.0 - mean) / std, atol=1e-5)


def test_a_per_image_normalize_is_refused(tmp_path, run_cli, make_raster):
    """Normalize(normalization="image") standardises each of Raster Vision's chips by its
    own statistics: geotile's windows are not its chips, so it is refused in one line."""
    from .conftest import assert_one_line_error

    per_image = normalize([0.5] * 3, [0.5] * 3)
    per_image["transform"]["normalization"] = "image"
    model = bundle(tmp_path / "b", learner_config(per_image))
    tif = make_raster("i.tif", np.ones((3, 20, 20), np.uint8))
    result = run_cli("predict", model, tif, "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "learner-config.json", "'image'", "per-image", "--scale")
    assert not (tmp_path / "o.tif").exists()


def test_a_stats_transformer_passes_uint8_and_keeps_zeros_of_one_band(tmp_path, run_cli,
                                                                      make_raster):
    """Raster Vision's StatsTransformer returns a uint8 chip as it is; of a uint16 chip it
    sets every 0 back to 0 after the stretch, channel by channel (a 0 in one band of a
    valid pixel too: with mean 300 and std 250 it would otherwise be 76)."""
    means, stds = [300.0, 300.0, 300.0], [250.0, 250.0, 250.0]
    model = pipeline_bundle(tmp_path, pipeline_config(raster_source([0, 1, 2], [
        stats_transformer()])), rv_stats(means, stds))
    small = rgbn(36)[:3]
    values, _, _ = predict(run_cli, tmp_path, model, make_raster("u8.tif", small))
    np.testing.assert_allclose(values, small / 255.0, atol=1e-6)
    image = rgbn(37, np.uint16, 1000)[:3]
    image[1, 10:20, 10:30] = 0  # band 2 only: the pixels stay valid
    values, _, _ = predict(run_cli, tmp_path, model, make_raster("u16.tif", image))
    chip = np.moveaxis(image, 0, -1)
    want = np.moveaxis(rv_stats_transform(chip, means, stds), -1, 0) / 255.0
    assert (want[1, 10:20, 10:30] == 0).all()
    np.testing.assert_allclose(values, want, atol=1e-6)


def test_the_transformers_of_validation_scenes_0_are_reproduced(tmp_path, run_cli,
                                                               make_raster):
    """Scenes of different raster transformers: Raster Vision's predict takes
    validation_scenes[0]'s (here a CastTransformer to uint8), not train_scenes[0]'s (none),
    warned of."""
    image = rgbn(38, np.uint16, 1000)[:3]
    cast = raster_source([0, 1, 2], [{"to_dtype": "uint8", "type_hint": "cast_transformer"}])
    model = pipeline_bundle(tmp_path, pipeline_config(raster_source([0, 1, 2]),
                                                      validation=[cast]))
    values, _, result = predict(run_cli, tmp_path, model, make_raster("i.tif", image))
    np.testing.assert_allclose(values, image.astype(np.uint8) / 255.0, atol=1e-6)
    assert "different raster transformers" in result.stderr
    assert "validation_scenes[0]" in result.stderr


def test_a_core_2_config_reads_stats_json_at_the_bundle_root(tmp_path, run_cli, make_raster):
    """A pipeline of rastervision.core <= 2 keeps its StatsTransformer's stats at the
    bundle's root (stats.json), not in analyze/stats/<scene_group>/."""
    import zipfile

    image = rgbn(39, np.uint16, 4000)[:3]
    means, stds = [900.0, 1100.0, 1300.0], [300.0, 250.5, 410.0]
    config = pipeline_config(raster_source([0, 1, 2], [stats_transformer()]), core=2)
    model = pipeline_bundle(tmp_path, config)
    with zipfile.ZipFile(model, "a") as archive:
        archive.writestr("stats.json", json.dumps(rv_stats(means, stds)))
    values, _, _ = predict(run_cli, tmp_path, model, make_raster("i.tif", image))
    chip = np.moveaxis(image, 0, -1)
    want = np.moveaxis(rv_stats_transform(chip, means, stds), -1, 0) / 255.0
    np.testing.assert_allclose(values, want, atol=1e-6)
