"""Esri deep learning packages: an ONNX model beside its Esri Model Definition (.emd), or the
.dlpk zip holding both (geotile.esri_sidecars). The expected outputs are computed here by
hand as arcgis.learn's inference does (its normalize_batch / norm)."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import rasterio

from .conftest import assert_one_line_error
from .onnx_models import FLOAT, conv1x1, ort_run, save_graph

IMAGENET = (np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225]))
#: prepare_data's stats of a 4-band uint16 raster (all its bands), as _create_emd_template
#: writes them
STATS = {"band_min_values": [10.0, 20.0, 30.0, 0.0],
         "band_max_values": [3000.0, 4000.0, 5000.0, 6000.0],
         "band_mean_values": [900.0, 1100.0, 1300.0, 2000.0],
         "band_std_values": [300.0, 400.0, 500.0, 900.0],
         "scaled_min_values": [0.0, 0.0, 0.0, 0.0],
         "scaled_max_values": [1.0, 1.0, 1.0, 1.0],
         "scaled_mean_values": [0.3, 0.27, 0.25, 0.33],
         "scaled_std_values": [0.1, 0.1, 0.1, 0.15]}
CLASSES = [{"Value": 1, "Name": "Building", "Color": [255, 0, 0]},
           {"Value": 2, "Name": "Road", "Color": [0, 0, 255]}]


def emd(multispectral=True, **changes):
    """An .emd as arcgis.learn's UnetClassifier.save writes it."""
    doc = {"Framework": "ONNX", "ModelConfiguration": "_DynamicUnet",
           "ModelFile": "unet.onnx", "ModelType": "ImageClassification",
           "ExtractBands": [0, 1, 3] if multispectral else [0, 1, 2],
           "ImageHeight": 32, "ImageWidth": 32, "ModelPadding": 8, "BatchSize": 4,
           "Classes": CLASSES, "ModelName": "UnetClassifier", "backend": "pytorch",
           "IsMultispectral": multispectral, "ArcGISLearnVersion": "2.4.0",
           "ModelFormat": "NCHW"}
    if multispectral:
        doc.update(NormalizationStats=STATS, DoNormalize=True, Bands=["b", "g", "r", "nir"],
                   ImageryType="naip")
    doc.update(changes)
    return {k: v for k, v in doc.items() if v != "-"}


def unet(folder, doc=None, name="unet", emd_name=None, metadata=None, external=False):
    """unet.onnx (a 1x1 Conv: 3 channels in, 3 logits out: background and 2 classes) and
    its .emd beside it (``doc``: a dict, or text written as it is)."""
    folder.mkdir(parents=True, exist_ok=True)
    conv, weights = conv1x1("input", "output", 3, 3, seed=333)
    path = save_graph(folder / f"{name}.onnx", [conv],
                      [("input", FLOAT, ["batch", 3, "height", "width"])],
                      [("output", FLOAT, ["batch", 3, "height", "width"])], weights,
                      metadata=metadata, external=external)
    if doc is not None:
        text = doc if isinstance(doc, str) else json.dumps(doc, indent=4)
        (folder / f"{emd_name or name}.emd").write_text(text)
    return path


def softmax_of(path, feed):
    logits = ort_run(path, feed.astype(np.float32))[0][0].astype(np.float64)
    e = np.exp(logits - logits.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def multispectral_reference(path, image, bands=(0, 1, 3)):
    """arcgis.learn's normalize_batch: stats of ExtractBands, (x - min) / (max - min), then
    (that - scaled_mean) / scaled_std."""
    idx = list(bands)
    pick = {k: np.array(v)[idx].reshape(-1, 1, 1) for k, v in STATS.items()}
    x = image[idx].astype(np.float64)
    scaled = (x - pick["band_min_values"]) / (pick["band_max_values"]
                                              - pick["band_min_values"])
    return softmax_of(path, ((scaled - pick["scaled_mean_values"])
                             / pick["scaled_std_values"])[np.newaxis])


def rgb_reference(path, image):
    """arcgis.learn's norm of an RGB model: (x - 255 * imagenet mean) / (255 * std)."""
    mean, std = (255 * v.reshape(-1, 1, 1) for v in IMAGENET)
    return softmax_of(path, ((image.astype(np.float64) - mean) / std)[np.newaxis])


@pytest.fixture(scope="module")
def image16():
    return np.random.default_rng(333).integers(0, 6000, (4, 40, 36), dtype=np.uint16)


@pytest.fixture(scope="module")
def image8():
    return np.random.default_rng(334).integers(0, 256, (3, 40, 36), dtype=np.uint8)


def predicted(run_cli, make_raster, image, tmp_path, model, *options):
    tif = make_raster("img.tif", image)
    result = run_cli("-v", "predict", model, tif, "-o", tmp_path / "o.tif", "--dtype",
                     "float32", "--overwrite", *options)
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "o.tif") as out:
        return out.read(), list(out.descriptions), result.stderr


def test_multispectral_emd_beside_the_model_normalises_as_arcgis_learn(
        tmp_path, run_cli, make_raster, image16):
    """unet.onnx beside unet.emd (4-band NAIP stats, ExtractBands 0,1,3) was fed all 4 bands
    (refused: 3 channels) or, with --bands, raw uint16 pixels (exit 0, wrong): now bands
    1,2,4 are fed, min/max-scaled then standardised as arcgis.learn does, the bands named
    by its Classes (background first), 32 px windows (ImageHeight)."""
    path = unet(tmp_path / "m", emd())
    out, names, stderr = predicted(run_cli, make_raster, image16, tmp_path, path)
    np.testing.assert_allclose(out, multispectral_reference(path, image16), atol=1e-5)
    assert names == ["background", "Building", "Road"]
    assert "unet.emd NormalizationStats" in stderr, stderr
    assert "unet.emd ExtractBands" in stderr, stderr


def test_rgb_emd_gets_imagenet_of_8_bit_pixels(tmp_path, run_cli, make_raster, image8):
    """An RGB arcgis.learn model (IsMultispectral false, no NormalizationStats) gets
    ImageNet's mean/std of 0..1 pixels, as its raster function's norm does."""
    path = unet(tmp_path / "m", emd(multispectral=False))
    out, names, stderr = predicted(run_cli, make_raster, image8, tmp_path, path)
    np.testing.assert_allclose(out, rgb_reference(path, image8), atol=1e-5)
    assert names == ["background", "Building", "Road"]
    assert "ImageNet" in stderr, stderr


def test_emd_of_another_stem_found_by_its_model_file(tmp_path, run_cli, make_raster,
                                                     image16):
    path = unet(tmp_path / "m", emd(), emd_name="roads_model")
    out, _, _ = predicted(run_cli, make_raster, image16, tmp_path, path)
    np.testing.assert_allclose(out, multispectral_reference(path, image16), atol=1e-5)


def test_options_override_the_emd(tmp_path, run_cli, make_raster, image16):
    path = unet(tmp_path / "m", emd())
    out, _, _ = predicted(run_cli, make_raster, image16, tmp_path, path, "--bands", "1,2,3",
                          "--mean", "1,2,3", "--std", "100,200,300", "--scale", "1")
    feed = (image16[:3].astype(np.float64) - np.reshape([1, 2, 3], (-1, 1, 1))) \
        / np.reshape([100, 200, 300], (-1, 1, 1))
    np.testing.assert_allclose(out, softmax_of(path, feed[np.newaxis]), atol=1e-5)


def test_onnx_metadata_wins_over_the_emd(tmp_path, run_cli, make_raster, image16):
    path = unet(tmp_path / "m", emd(), metadata={"mean": [5, 6, 7], "std": [50, 60, 70]})
    out, _, _ = predicted(run_cli, make_raster, image16, tmp_path, path, "--scale", "1")
    x = image16[[0, 1, 3]].astype(np.float64)
    feed = (x - np.reshape([5, 6, 7], (-1, 1, 1))) / np.reshape([50, 60, 70], (-1, 1, 1))
    np.testing.assert_allclose(out, softmax_of(path, feed[np.newaxis]), atol=1e-5)


@pytest.mark.parametrize(("changes", "fragments"), [
    ({"NormalizationStats": {**STATS, "scaled_std_values": None}},
     ["unet.emd", "NormalizationStats scaled_std_values", "--mean"]),
    ({"NormalizationStats": "-"}, ["unet.emd", "IsMultispectral", "NormalizationStats",
                                   "--mean"]),
    ({"DoNormalize": False}, ["unet.emd", "DoNormalize", "--mean"]),
    ({"ExtractBands": [0, 1, 7]}, ["unet.emd", "ExtractBands", "4 bands"]),
    ({"NormalizationStats": {**STATS, "band_max_values": [10.0, 4000.0, 5000.0, 6000.0]}},
     ["unet.emd", "band_min_values", "band_max_values", "--mean"]),
    ("{broken", ["unet.emd", "not valid JSON", "--mean"]),
])
def test_an_emd_that_cannot_be_read_unambiguously_is_refused(tmp_path, run_cli, make_raster,
                                                             image16, changes, fragments):
    doc = changes if isinstance(changes, str) else emd(**changes)
    path = unet(tmp_path / "m", doc)
    result = run_cli("predict", path, make_raster("img.tif", image16), "-o",
                     tmp_path / "o.tif")
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "o.tif").exists()


def test_emd_not_arcgis_learn_without_stats_is_warned_of(tmp_path, run_cli, make_raster,
                                                         image8):
    """No NormalizationStats and no ArcGISLearnVersion: not arcgis.learn's, whose RGB
    normalisation cannot be assumed: warned of (give --mean/--std/--scale)."""
    path = unet(tmp_path / "m", emd(multispectral=False, ArcGISLearnVersion="-"))
    out, names, stderr = predicted(run_cli, make_raster, image8, tmp_path, path)
    assert "--mean" in stderr and "unet.emd" in stderr, stderr
    np.testing.assert_allclose(out, softmax_of(path, image8[np.newaxis] / 255), atol=1e-5)
    assert names == ["background", "Building", "Road"]


def dlpk(folder, doc, external=False, model_name="unet.onnx"):
    """roads.dlpk as ArcGIS packages it: the .emd, the model, a raster function."""
    source = unet(folder / "src", None, external=external)
    path = folder / "roads.dlpk"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("unet.emd", json.dumps(doc))
        archive.write(source, model_name)
        if external:
            archive.write(source.with_name("unet.onnx.data"), "unet.onnx.data")
        archive.writestr("ArcGISImageClassifier.py", "# raster function\n")
    return path, source


def test_dlpk_holding_an_onnx_model_is_run(tmp_path, run_cli, make_raster, image16):
    """roads.dlpk holding unet.onnx was refused ("unzip it and give unet.onnx"): now it runs
    from the zip, read with its .emd."""
    path, source = dlpk(tmp_path, emd())
    out, names, stderr = predicted(run_cli, make_raster, image16, tmp_path, path)
    np.testing.assert_allclose(out, multispectral_reference(source, image16), atol=1e-5)
    assert names == ["background", "Building", "Road"]
    assert "unet.emd NormalizationStats" in stderr, stderr


def test_dlpk_with_external_data_is_refused(tmp_path, run_cli, make_raster, image16):
    path, _ = dlpk(tmp_path, emd(), external=True)
    result = run_cli("predict", path, make_raster("img.tif", image16), "-o",
                     tmp_path / "o.tif")
    assert_one_line_error(result, "roads.dlpk", "unzip it and give unet.onnx")


def test_dlpk_of_a_broken_onnx_model_is_one_line(tmp_path, run_cli, make_raster, image16):
    path = tmp_path / "roads.dlpk"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("unet.emd", json.dumps(emd()))
        archive.writestr("unet.onnx", b"\x08\x07")
    result = run_cli("predict", path, make_raster("img.tif", image16), "-o",
                     tmp_path / "o.tif")
    assert_one_line_error(result, "roads.dlpk", "not an ONNX model")


def test_emd_image_height_is_the_default_tile_size(tmp_path, run_cli, make_raster, image16):
    """ImageHeight/ImageWidth (the chips it was trained on) were ignored (512 px windows):
    now they are the default windows; --tile-size overrides them."""
    path = unet(tmp_path / "m", emd(ImageHeight=128, ImageWidth=128))
    tif = make_raster("img.tif", np.random.default_rng(5).integers(
        0, 6000, (4, 300, 300), dtype=np.uint16))
    result = run_cli("-v", "predict", path, tif, "-o", tmp_path / "o.tif")
    assert result.exit_code == 0, result.output
    assert "windows of 128 px" in result.stderr, result.stderr
    assert "unet.emd ImageHeight" in result.stderr, result.stderr
    result = run_cli("-v", "predict", path, tif, "-o", tmp_path / "o.tif", "--overwrite",
                     "--tile-size", "256")
    assert "windows of 256 px" in result.stderr, result.stderr


def test_emd_class_colours_colour_the_class_output(tmp_path, run_cli, make_raster, image16):
    """Classes' Color [r, g, b] were left unread (geotile's own colours): now they colour
    the class raster, background keeping geotile's."""
    from geotile.categories import class_colours

    path = unet(tmp_path / "m", emd())
    result = run_cli("predict", path, make_raster("img.tif", image16), "-o",
                     tmp_path / "c.tif", "--output-type", "class")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "c.tif") as out:
        table = out.colormap(1)
        assert json.loads(out.tags()["GEOTILE_CLASS_NAMES"]) == ["background", "Building",
                                                                 "Road"]
    names = ["background", "Building", "Road"]
    assert table[0][:3] == class_colours(3, names)[0][:3]
    assert table[1][:3] == (255, 0, 0) and table[2][:3] == (0, 0, 255)


@pytest.mark.parametrize("framework", ["ONNX", "PyTorch"])
def test_dlpk_of_a_long_emd(tmp_path, run_cli, make_raster, image16, framework):
    """An .emd over 16 kB (arcgis.learn writes per_class_metrics, accuracies) was not read
    from the zip's head: the .dlpk holding an ONNX model is run all the same, one holding a
    PyTorch model refused with its line."""
    doc = emd(per_class_metrics="x" * 40_000)
    if framework == "PyTorch":
        doc.update(Framework="PyTorch", ModelFile="unet.pth")
    path, source = dlpk(tmp_path, doc, model_name=doc["ModelFile"])
    if framework == "ONNX":
        out, _, _ = predicted(run_cli, make_raster, image16, tmp_path, path)
        np.testing.assert_allclose(out, multispectral_reference(source, image16), atol=1e-5)
        return
    result = run_cli("predict", path, make_raster("img.tif", image16), "-o",
                     tmp_path / "o.tif")
    assert_one_line_error(result, "roads.dlpk", "of a PyTorch model (unet.pth)",
                          "export unet.pth to ONNX")


@pytest.mark.parametrize(("model_type", "why"), [
    ("ObjectDetection", "bounding boxes"), ("ObjectClassification", "one class per feature"),
    ("InstanceDetection", "instance"),
])
def test_emd_of_a_model_that_classifies_no_pixels_is_refused(tmp_path, run_cli, make_raster,
                                                            image16, model_type, why):
    """An .emd of an object detector beside an ONNX model was read as a pixel classifier's
    (its stats fed, its Classes naming the bands, exit 0): refused naming its ModelType."""
    path = unet(tmp_path / "m", emd(ModelType=model_type, ModelConfiguration="_FasterRCNN"))
    result = run_cli("predict", path, make_raster("img.tif", image16), "-o",
                     tmp_path / "o.tif")
    assert_one_line_error(result, "unet.emd", f"ModelType {model_type}", why)
    assert not (tmp_path / "o.tif").exists()


@pytest.mark.parametrize("model_type", ["ImageClassification", "ClassifyPixels", "-"])
def test_emd_of_a_pixel_classifier_runs(tmp_path, run_cli, make_raster, image16, model_type):
    """arcgis.learn writes ImageClassification for its pixel classifiers, Esri's docs
    ClassifyPixels: both run, as an .emd without ModelType does."""
    path = unet(tmp_path / "m", emd(ModelType=model_type))
    out, _, _ = predicted(run_cli, make_raster, image16, tmp_path, path)
    np.testing.assert_allclose(out, multispectral_reference(path, image16), atol=1e-5)


@pytest.mark.parametrize("values", [[5, 10], [2, 1]])
def test_emd_class_values_other_than_channels_are_refused_for_class_output(
        tmp_path, run_cli, make_raster, image16, values):
    """Classes Values 5, 10 (arcgis.learn's raster function writes channel k as the k-th
    Value, background 0): geotile's class raster held 1 and 2 for them, exit 0. Class output
    is refused naming the Values; probabilities (named by the Classes) are written."""
    classes = [{**c, "Value": v} for c, v in zip(CLASSES, values, strict=True)]
    path = unet(tmp_path / "m", emd(Classes=classes))
    tif = make_raster("img.tif", image16)
    result = run_cli("predict", path, tif, "-o", tmp_path / "c.tif", "--output-type", "class")
    assert_one_line_error(result, "unet.emd", f"Values {values[0]}, {values[1]}", "1..2",
                          "--output-type probability")
    assert not (tmp_path / "c.tif").exists()
    out, names, _ = predicted(run_cli, make_raster, image16, tmp_path, path)
    assert names == ["background", "Building", "Road"]
    np.testing.assert_allclose(out, multispectral_reference(path, image16), atol=1e-5)


def test_emd_class_values_of_the_channels_write_class_ids(tmp_path, run_cli, make_raster,
                                                         image16):
    """Values 1..K (background 0) are the channels: class output as before."""
    path = unet(tmp_path / "m", emd())
    result = run_cli("predict", path, make_raster("img.tif", image16), "-o",
                     tmp_path / "c.tif", "--output-type", "class")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "c.tif") as out:
        ids = out.read(1)
    expected = multispectral_reference(path, image16).argmax(axis=0)
    assert (ids == expected).mean() > 0.99


def test_extract_bands_out_of_order_pick_their_own_stats(tmp_path, run_cli, make_raster,
                                                        image16):
    path = unet(tmp_path / "m", emd(ExtractBands=[3, 1, 0]))
    out, _, _ = predicted(run_cli, make_raster, image16, tmp_path, path)
    np.testing.assert_allclose(out, multispectral_reference(path, image16, (3, 1, 0)),
                               atol=1e-5)


def test_rgb_model_with_stats_uses_them_not_imagenet(tmp_path, run_cli, make_raster, image8):
    """arcgis.learn's raster function reads NormalizationStats whenever the .emd has them
    (an 8-bit RGB model's too: band max 255), ImageNet only without them."""
    stats = {"band_min_values": [0.0, 0.0, 0.0], "band_max_values": [255.0, 255.0, 255.0],
             "scaled_mean_values": [0.4, 0.5, 0.6], "scaled_std_values": [0.2, 0.25, 0.3]}
    path = unet(tmp_path / "m", emd(multispectral=False, NormalizationStats=stats))
    out, _, _ = predicted(run_cli, make_raster, image8, tmp_path, path)
    mean = np.reshape(stats["scaled_mean_values"], (-1, 1, 1))
    std = np.reshape(stats["scaled_std_values"], (-1, 1, 1))
    feed = (image8.astype(np.float64) / 255 - mean) / std
    np.testing.assert_allclose(out, softmax_of(path, feed[np.newaxis]), atol=1e-5)


@pytest.mark.parametrize("custom", [{"ModelConfiguration": "my_unet.py"},
                                    {"InferenceFunction": "MyClassifier.py"}])
def test_emd_of_a_custom_raster_function_without_stats_is_warned_of(
        tmp_path, run_cli, make_raster, image8, custom):
    """A custom Python raster function (ModelConfiguration or InferenceFunction a .py of the
    author's) normalises as its code says: ImageNet was assumed silently. Now warned of, as
    an .emd of another tool is (give --mean/--std/--scale), geotile's default fed."""
    path = unet(tmp_path / "m", emd(multispectral=False, **custom))
    out, _, stderr = predicted(run_cli, make_raster, image8, tmp_path, path)
    assert "--mean" in stderr and "unet.emd" in stderr and ".py" in stderr, stderr
    np.testing.assert_allclose(out, softmax_of(path, image8[np.newaxis] / 255), atol=1e-5)


def test_arcgis_raster_function_keeps_imagenet(tmp_path, run_cli, make_raster, image8):
    path = unet(tmp_path / "m", emd(multispectral=False,
                                    InferenceFunction="ArcGISImageClassifier.py"))
    out, _, _ = predicted(run_cli, make_raster, image8, tmp_path, path)
    np.testing.assert_allclose(out, rgb_reference(path, image8), atol=1e-5)


def test_dlpk_members_in_a_folder(tmp_path, run_cli, make_raster, image16):
    source = unet(tmp_path / "src", None)
    path = tmp_path / "roads.dlpk"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("roads/unet.emd", json.dumps(emd()))
        archive.write(source, "roads/unet.onnx")
    out, names, _ = predicted(run_cli, make_raster, image16, tmp_path, path)
    np.testing.assert_allclose(out, multispectral_reference(source, image16), atol=1e-5)
    assert names == ["background", "Building", "Road"]


def test_emd_naming_a_pth_beside_its_onnx_export(tmp_path, run_cli, make_raster, image16):
    """unet.emd (ModelFile unet.pth, as arcgis.learn saved it) beside unet.onnx exported
    from it: the .emd describes the export."""
    path = unet(tmp_path / "m", emd(Framework="PyTorch", ModelFile="unet.pth"))
    out, _, _ = predicted(run_cli, make_raster, image16, tmp_path, path)
    np.testing.assert_allclose(out, multispectral_reference(path, image16), atol=1e-5)


def test_emd_of_the_same_stem_naming_another_onnx_model_is_not_taken(
        tmp_path, run_cli, make_raster, image8):
    """unet.emd whose ModelFile is roads.onnx, beside it: describes roads.onnx, not
    unet.onnx (fed its 4-band stats: refused or misnormalised)."""
    unet(tmp_path / "m", None, name="roads")
    path = unet(tmp_path / "m", emd(ModelFile="roads.onnx"))
    out, _, _ = predicted(run_cli, make_raster, image8, tmp_path, path)
    np.testing.assert_allclose(out, softmax_of(path, image8[np.newaxis] / 255), atol=1e-5)


@pytest.mark.parametrize("changes", [
    {"ModelType": "Pix2Pix", "ModelConfiguration": "_pix2pix",
     "InferenceFunction": "[Functions]System\\DeepLearning\\ArcGISLearn\\"
                          "ArcGISImageTranslation.py", "NormalizationStats_b": STATS},
    {"ModelType": "CycleGAN", "ModelConfiguration": "_cyclegan"},
])
def test_emd_of_an_image_translation_model_is_not_standardised(tmp_path, run_cli,
                                                                make_raster, image16, changes):
    """Pix2Pix/CycleGAN (arcgis.learn's image translation) scale pixels to -1..1 of the
    stats' min/max (-1 + 2 x scaled), not to their scaled mean/std, which were fed with exit
    0: refused naming the ModelType and --mean/--std/--scale; those options run it."""
    path = unet(tmp_path / "m", emd(**changes))
    tif = make_raster("img.tif", image16)
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "unet.emd", f"ModelType {changes['ModelType']}", "-1..1",
                          "--mean")
    assert not (tmp_path / "o.tif").exists()
    out, _, _ = predicted(run_cli, make_raster, image16, tmp_path, path, "--mean",
                          "1,2,3", "--std", "100,200,300", "--scale", "1")
    feed = (image16[[0, 1, 3]].astype(np.float64) - np.reshape([1, 2, 3], (-1, 1, 1))) \
        / np.reshape([100, 200, 300], (-1, 1, 1))
    np.testing.assert_allclose(out, softmax_of(path, feed[np.newaxis]), atol=1e-5)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig"])
def test_emd_saved_by_notepad_is_read_beside_and_in_a_dlpk(tmp_path, run_cli, make_raster,
                                                           image16, encoding):
    """An .emd re-saved by Notepad (UTF-16 with its mark, or UTF-8 with a BOM) was read
    beside the model but refused inside a .dlpk ('its unet.emd is not valid JSON')."""
    text = json.dumps(emd()).encode(encoding)
    path = unet(tmp_path / "m", None)
    path.with_suffix(".emd").write_bytes(text)
    out, _, _ = predicted(run_cli, make_raster, image16, tmp_path, path)
    np.testing.assert_allclose(out, multispectral_reference(path, image16), atol=1e-5)
    package = tmp_path / "roads.dlpk"
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("unet.emd", text)
        archive.write(path, "unet.onnx")
    out, _, _ = predicted(run_cli, make_raster, image16, tmp_path, package)
    np.testing.assert_allclose(out, multispectral_reference(path, image16), atol=1e-5)
