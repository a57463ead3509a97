"""predict: blending exactness, seams, model variants, nodata, TTA, outputs, georeference."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import rasterio

from geotile.errors import GeotileWarning, InputError, ModelError
from geotile.model import OnnxModel
from geotile.predict import PredictOptions, predict_array, predict_raster

from .onnx_models import conv3x3_model, conv3x3_reference, pointwise_model, pointwise_reference


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(0).integers(0, 256, (3, 301, 257), dtype=np.uint8)


def whole_image(reference, image, **kw):
    return reference(image[np.newaxis].astype(np.float32) / 255, **kw)[0]


@pytest.mark.parametrize(
    ("tile_size", "overlap", "blend"),
    [(64, None, "bilinear"), (100, 30, "hann"), (128, 0, "uniform"), (64, 0.75, "bilinear"),
     (512, None, "bilinear")],
)
def test_pointwise_model_reproduces_whole_image(tmp_path, image, tile_size, overlap, blend):
    model = OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx"))
    options = PredictOptions(tile_size=tile_size, overlap=overlap, blend=blend)
    out = predict_array(model, image, options=options)
    np.testing.assert_allclose(out, whole_image(pointwise_reference, image), atol=1e-5)


def test_conv3x3_has_no_seams(tmp_path, image):
    model = OnnxModel.from_path(conv3x3_model(tmp_path / "m.onnx"))
    out = predict_array(model, image, options=PredictOptions(tile_size=128))
    expected = whole_image(conv3x3_reference, image)
    error = np.abs(out - expected)
    assert error.max() < 0.01  # seams would show errors of the size of the patch-edge error
    # compare with no blending at all (abutting tiles, no overlap): visibly worse at seams
    abutting = predict_array(model, image, options=PredictOptions(tile_size=128, overlap=0))
    assert np.abs(abutting - expected).max() > 5 * error.max()


@pytest.mark.parametrize(
    "variant",
    [{"layout": "NHWC"}, {"size": 64}, {"size": 64, "batch": 3},
     {"classes": 4, "activation": "softmax"}, {"classes": 3}, {"activation": "sigmoid"}],
)
def test_model_variants(tmp_path, image, variant):
    model = OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx", **variant))
    out = predict_array(model, image, options=PredictOptions(batch_size=5))
    classes = variant.get("classes", 1)
    expected = whole_image(pointwise_reference, image, classes=classes)
    assert out.shape == (classes, 301, 257)
    np.testing.assert_allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize("tta", ["flip", "d4"])
def test_tta_on_pointwise_model_changes_nothing(tmp_path, image, tta):
    model = OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx"))
    out = predict_array(model, image, options=PredictOptions(tile_size=64, tta=tta))
    np.testing.assert_allclose(out, whole_image(pointwise_reference, image), atol=1e-5)


def test_tta_undoes_its_transforms_on_a_conv(tmp_path, image):
    model = OnnxModel.from_path(conv3x3_model(tmp_path / "m.onnx"))
    plain = predict_array(model, image, options=PredictOptions(tile_size=96))
    d4 = predict_array(model, image, options=PredictOptions(tile_size=96, tta="d4"))
    # a 3x3 conv is not rotation invariant: d4 averages 8 different views of each pixel,
    # which stay aligned (undone) so the result remains close to, but not equal to, plain
    assert 0 < np.abs(plain - d4).mean() < 0.2
    assert np.corrcoef(plain.ravel(), d4.ravel())[0, 1] > 0.5


def _d4_views():
    """(forward, inverse) of the 8 views, written apart from geotile.tta: quarter turns k
    and, mirrored left-right after the turn, their mirrors."""
    views = []
    for k in range(4):
        views.append((lambda a, k=k: np.rot90(a, k, (2, 3)),
                      lambda a, k=k: np.rot90(a, -k, (2, 3))))
        views.append((lambda a, k=k: np.rot90(a, k, (2, 3))[..., ::-1],
                      lambda a, k=k: np.rot90(a[..., ::-1], -k, (2, 3))))
    return views


@pytest.mark.parametrize("tta", ["flip", "d4"])
def test_tta_averages_the_probabilities_of_each_view_undone(tmp_path, tta):
    # a 3x3 conv of random (direction-sensitive) weights, NHWC logits, softmax applied by
    # geotile: one window's output is the mean over the views T of T^-1(softmax(model(T x)))
    pixels = np.random.default_rng(4).integers(0, 256, (3, 64, 64), dtype=np.uint8)
    path = conv3x3_model(tmp_path / "m.onnx", classes=3, layout="NHWC", seed=3)
    model = OnnxModel.from_path(path, activation="softmax")
    out = predict_array(model, pixels, options=PredictOptions(tile_size=64, tta=tta))
    views = _d4_views() if tta == "d4" else [
        (lambda a: a, lambda a: a), (lambda a: a[..., ::-1], lambda a: a[..., ::-1]),
        (lambda a: a[..., ::-1, :], lambda a: a[..., ::-1, :])]
    batch = pixels[np.newaxis].astype(np.float32) / 255

    def mean_of(activation):
        return np.mean([inverse(conv3x3_reference(forward(batch).copy(), classes=3, seed=3,
                                                  activation=activation))
                        for forward, inverse in views], axis=0)[0]

    np.testing.assert_allclose(out, mean_of("softmax"), atol=1e-5)
    np.testing.assert_allclose(out.sum(axis=0), 1, atol=1e-5)
    logits = mean_of("none")  # not the softmax of the mean logits
    averaged_logits = np.exp(logits) / np.exp(logits).sum(axis=0)
    assert np.abs(out - averaged_logits).max() > 0.01
    plain = predict_array(model, pixels, options=PredictOptions(tile_size=64))
    assert np.abs(out - plain).max() > 0.1  # the views differ: the test can tell


def test_raster_output_grid_and_uint8_values(tmp_path, make_raster, image):
    path = make_raster("img.tif", image)
    model = OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx"))
    out = tmp_path / "prob.tif"
    predict_raster(model, path, out, options=PredictOptions(tile_size=64, dtype="uint8"))
    with rasterio.open(path) as src, rasterio.open(out) as dst:
        assert (dst.width, dst.height, dst.transform, dst.crs) == \
            (src.width, src.height, src.transform, src.crs)
        assert dst.dtypes == ("uint8",) and dst.tags()["GEOTILE_OUTPUT"] == "probability"
        values = dst.read(1).astype(int)
    expected = np.rint(whole_image(pointwise_reference, image)[0] * 255)
    assert np.abs(values - expected).max() <= 1


def test_default_output_is_the_models_float32_values(tmp_path, make_raster, image):
    # third-party models come out as the model gives them (within 1e-4), no option needed
    path = make_raster("img.tif", image)
    model = OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx", classes=2))
    predict_raster(model, path, tmp_path / "p.tif", options=PredictOptions(tile_size=64))
    with rasterio.open(tmp_path / "p.tif") as dst:
        assert dst.dtypes == ("float32", "float32")
        np.testing.assert_allclose(dst.read(), whole_image(pointwise_reference, image,
                                                           classes=2), atol=1e-5)


def test_float32_and_class_outputs(tmp_path, make_raster, image):
    path = make_raster("img.tif", image)
    model = OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx", classes=3))
    predict_raster(model, path, tmp_path / "f.tif",
                   options=PredictOptions(dtype="float32", tile_size=100))
    predict_raster(model, path, tmp_path / "c.tif",
                   options=PredictOptions(output_type="class", tile_size=100))
    expected = whole_image(pointwise_reference, image, classes=3)
    with rasterio.open(tmp_path / "f.tif") as f, rasterio.open(tmp_path / "c.tif") as c:
        np.testing.assert_allclose(f.read(), expected, atol=1e-5)
        ids = c.read(1)
        assert json.loads(c.tags()["GEOTILE_CLASS_NAMES"]) == ["class_1", "class_2", "class_3"]
        assert c.colormap(1)[1][:3] != c.colormap(1)[2][:3]
    margin = np.sort(expected, axis=0)
    clear = (margin[-1] - margin[-2]) > 1e-4
    np.testing.assert_array_equal(ids[clear], expected.argmax(axis=0)[clear])


def test_uint8_probabilities_are_zero_under_their_mask(tmp_path, make_raster):
    """The mask says nodata, and the values there are 0 too: readers that ignore masks
    (numpy, training code, rasterio's shapes) see no building where the model only saw the
    zeros fed at nodata (a ramp up to 131 of 255 here before)."""
    pixels = np.full((3, 200, 200), 100, np.uint8)
    pixels[:, :, :120] = 0
    path = make_raster("img.tif", pixels, nodata=0)
    model = OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx", activation="sigmoid"),
                                providers="cpu")
    predict_raster(model, path, tmp_path / "u8.tif",
                   options=PredictOptions(tile_size=64, overlap=32, dtype="uint8"))
    expected = pointwise_reference(np.full((1, 3, 1, 1), 100 / 255, np.float32),
                                   activation="sigmoid")[0, 0, 0, 0]
    with rasterio.open(tmp_path / "u8.tif") as u8:
        values, mask = u8.read(1), u8.read_masks(1)
    assert (mask[:, :120] == 0).all() and (mask[:, 120:] == 255).all()
    assert (values[:, :120] == 0).all()
    assert (values[:, 121:] == round(expected * 255)).all()


def test_binary_class_output_uses_threshold(tmp_path, make_raster, image):
    path = make_raster("img.tif", image)
    model = OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx"))
    predict_raster(model, path, tmp_path / "c.tif",
                   options=PredictOptions(output_type="class", threshold=0.3))
    probability = whole_image(pointwise_reference, image)[0]
    with rasterio.open(tmp_path / "c.tif") as c:
        ids = c.read(1)
        assert json.loads(c.tags()["GEOTILE_CLASS_NAMES"]) == ["background", "class_1"]
    clear = np.abs(probability - 0.3) > 1e-4
    np.testing.assert_array_equal(ids[clear], (probability >= 0.3)[clear])


def test_nodata_in_is_nodata_out_and_never_run(tmp_path, make_raster, monkeypatch):
    pixels = np.full((3, 200, 200), 100, np.uint8)
    pixels[:, :, :120] = 0  # nodata: the left 120 columns
    path = make_raster("img.tif", pixels, nodata=0)
    # CPU: batches as they come (GPU providers pad them to one shape)
    model = OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx"), providers="cpu")
    seen = []
    original = model.run
    monkeypatch.setattr(model, "run", lambda batch: seen.append(batch.shape[0]) or original(batch))
    predict_raster(model, path, tmp_path / "u8.tif", options=PredictOptions(tile_size=64,
                                                                          overlap=32))
    predict_raster(model, path, tmp_path / "f32.tif",
                   options=PredictOptions(tile_size=64, overlap=32, dtype="float32"))
    # 64 px tiles at 32 px stride start at x = 0, 32, ..., 160: the patches at x = 0 and 32
    # hold only nodata and are skipped; 4 of 6 columns x 6 rows run, in each of the 2 runs
    assert sum(seen) == 2 * 6 * 4
    with rasterio.open(tmp_path / "u8.tif") as u8, rasterio.open(tmp_path / "f32.tif") as f32:
        assert (u8.read_masks(1)[:, :120] == 0).all() and (u8.read_masks(1)[:, 120:] == 255).all()
        values = f32.read(1)
    assert np.isnan(values[:, :120]).all()
    expected = pointwise_reference(np.full((1, 3, 1, 1), 100 / 255, np.float32))[0, 0, 0, 0]
    np.testing.assert_allclose(values[:, 121:], expected, atol=1e-5)


def test_a_float_band_at_its_nodata_value_makes_the_pixel_nodata(tmp_path, make_raster):
    """Float rasters: -9999 in one band is that band's missing value, as NaN would be, never
    a reflectance to feed the model raw (GDAL's dataset mask calls a pixel nodata only when
    every band is). Integer rasters keep GDAL's rule: 0 in the red band of nodata=0 RGB is
    a dark pixel, not a hole."""
    pixels = np.full((3, 60, 70), 0.4, np.float32)
    pixels[1, 10:20, 30:40] = -9999  # band 2 only
    pixels[:, 40:50, 5:15] = -9999  # every band
    path = make_raster("f.tif", pixels, nodata=-9999)
    model = OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx"))
    predict_raster(model, path, tmp_path / "o.tif", options=PredictOptions(tile_size=32))
    with rasterio.open(tmp_path / "o.tif") as src:
        values = src.read(1)
    holes = np.zeros((60, 70), bool)
    holes[10:20, 30:40] = holes[40:50, 5:15] = True
    assert np.isnan(values[holes]).all()
    expected = pointwise_reference(np.full((1, 3, 1, 1), 0.4, np.float32))[0, 0, 0, 0]
    np.testing.assert_allclose(values[~holes], expected, rtol=1e-5)
    dark = np.full((3, 40, 40), 120, np.uint8)
    dark[0, 5:15, 5:15] = 0  # no red: a dark pixel, not nodata (the other bands are 120)
    path = make_raster("u8.tif", dark, nodata=0)
    predict_raster(model, path, tmp_path / "u8_out.tif", options=PredictOptions(tile_size=32))
    with rasterio.open(tmp_path / "u8_out.tif") as src:
        assert np.isfinite(src.read(1)).all()


def test_bands_selection_and_message(tmp_path, make_raster):
    single = make_raster("pan.tif", np.arange(100 * 90, dtype=np.uint16).reshape(1, 100, 90))
    model = OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx"))
    with pytest.raises(ModelError, match="--bands 1,1,1"):
        predict_raster(model, single, tmp_path / "o.tif")
    assert not (tmp_path / "o.tif").exists()
    predict_raster(model, single, tmp_path / "o.tif",
                   options=PredictOptions(bands=(1, 1, 1), dtype="float32"))
    pan = np.arange(100 * 90, dtype=np.float32).reshape(1, 100, 90)  # uint16: not scaled
    expected = pointwise_reference(np.repeat(pan, 3, axis=0)[np.newaxis])[0]
    with rasterio.open(tmp_path / "o.tif") as out:
        np.testing.assert_allclose(out.read(), expected, atol=1e-5)


def test_wide_integer_pixels_fed_unscaled_are_said(tmp_path, make_raster, run_cli):
    """11-bit SpaceNet pixels (uint16 up to 2047) go to a model as they are unless --scale
    says otherwise: a model trained on 0..1 inputs then sees 2047, silently. Said once;
    an explicit --scale (1 included) says the user chose."""
    pixels = np.random.default_rng(2).integers(0, 2048, (3, 40, 50)).astype(np.uint16)
    image = make_raster("sn.tif", pixels)
    model = pointwise_model(tmp_path / "m.onnx")
    result = run_cli("predict", model, image, "-o", tmp_path / "a.tif", "--tile-size", 32)
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    assert len(warned) == 1 and "uint16 pixels go to the model as they are" in warned[0]
    for scale in ("1", "0.000489"):
        result = run_cli("predict", model, image, "-o", tmp_path / f"s{scale}.tif",
                         "--tile-size", 32, "--scale", scale)
        assert result.exit_code == 0 and "Warning" not in result.stderr, result.output


def test_fixed_size_model_rejects_other_tile_size(tmp_path, image):
    model = OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx", size=224))
    with pytest.raises(ModelError, match="fixed 224 px"):
        predict_array(model, image, options=PredictOptions(tile_size=256))


def test_small_raster_is_padded(tmp_path, make_raster):
    pixels = np.random.default_rng(2).integers(0, 256, (3, 30, 20), dtype=np.uint8)
    model = OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx", size=224))
    out = predict_array(model, pixels)
    np.testing.assert_allclose(out, whole_image(pointwise_reference, pixels), atol=1e-5)


def test_cog_output(tmp_path, make_raster, image):
    path = make_raster("img.tif", image)
    model = OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx"))
    predict_raster(model, path, tmp_path / "cog.tif", options=PredictOptions(cog=True))
    with rasterio.open(tmp_path / "cog.tif") as cog:
        assert cog.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert cog.profile["tiled"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cog.tif", "img.tif", "m.onnx"]


def test_batches_run_across_rows_in_one_shape_and_change_nothing(tmp_path, image):
    """A batch takes the windows that follow, row after row: all batches are full but the
    last (no short batch at every row end; on a GPU a new shape means a new cuDNN
    algorithm search), which GPU providers pad to the one shape: same result."""
    model = OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx"), providers="cpu")
    assert not model.steady_batches
    shapes = []
    run = model.run

    def recording_run(batch):
        shapes.append(batch.shape)
        return run(batch)

    model.run = recording_run
    options = PredictOptions(tile_size=32, overlap=0.5, batch_size=5)
    rows = -(-(image.shape[1] - 32) // 16) + 1
    windows = rows * 16  # 16 windows a row
    assert windows % 5  # so that the last batch is short
    plain = predict_array(model, image, options=options)
    assert shapes == [(5, 3, 32, 32)] * (windows // 5) + [(windows % 5, 3, 32, 32)]
    shapes.clear()
    model.steady_batches = True
    steady = predict_array(model, image, options=options)
    assert shapes == [(5, 3, 32, 32)] * -(-windows // 5)  # the last one padded
    np.testing.assert_array_equal(steady, plain)
    # a row of nodata alone runs no window and still finishes (its blocks are written)
    holed = image.copy()
    holed[:, 40:80] = 0
    valid = np.ones(image.shape[1:], bool)
    valid[40:80] = False
    shapes.clear()
    with_gap = predict_array(model, holed, valid, options=options)
    assert len(shapes) == -(-(windows - 16) // 5)  # the row of windows at y 48 skipped
    assert np.isnan(with_gap[:, 40:80]).all()
    np.testing.assert_array_equal(with_gap[:, valid], plain[:, valid])  # a pointwise model


def test_batches_reuse_one_buffer_and_outputs_never_alias_it(tmp_path, image):
    """Batches are stacked into one reused array: a padded batch is zero past its windows,
    and a model handing (a view of) its input back still blends exactly."""
    from geotile.predict import BatchBuffer

    buffer = BatchBuffer()
    first = buffer.stack([np.ones((3, 4, 4), np.float32)] * 3, 3)
    assert first.shape == (3, 3, 4, 4) and (first == 1).all()
    second = buffer.stack([np.full((3, 4, 4), 2, np.float32)], 2)  # padded to 2
    assert np.shares_memory(first, second) and second.shape == (2, 3, 4, 4)
    assert (second[0] == 2).all() and (second[1] == 0).all()  # no stale window

    model = OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx"), providers="cpu")
    options = PredictOptions(tile_size=32, overlap=0.5, batch_size=5)
    expected = predict_array(model, image, options=options)
    model.run = lambda batch: batch[:, :1]  # the input's first channel: a view of the batch
    echoed = predict_array(model, image, options=options)
    normalised = image[:1].astype(np.float32) / 255
    np.testing.assert_allclose(echoed, normalised, atol=1e-6)
    assert expected.shape == echoed.shape


def test_a_model_error_with_batches_in_flight_is_raised_and_nothing_hangs(tmp_path, image):
    """On GPU providers two batches run at once in runner threads: an error in one reaches
    the caller as it is, and the threads stop."""
    import threading

    model = OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx"), providers="cpu")
    model.steady_batches = True
    run, calls = model.run, []

    def failing_run(batch):
        calls.append(1)
        if len(calls) == 7:
            raise ModelError("the seventh batch failed")
        return run(batch)

    model.run = failing_run
    before = threading.active_count()
    with pytest.raises(ModelError, match="seventh batch"):
        predict_array(model, image, options=PredictOptions(tile_size=32, overlap=0.5,
                                                           batch_size=5))
    assert len(calls) < 20  # stopped soon after, not run to the end
    assert threading.active_count() == before


@pytest.mark.parametrize(("wanted", "expected"), [(0.5, 1.0), (0.25, None), ("meta", 1.0)])
def test_model_resolution_is_compared_with_the_ground_pixel_size(make_raster, wanted,
                                                                 expected):
    """0.5 unit EPSG:3857 pixels at 60 deg N are 0.25 m on the ground: a 0.5 m model reads
    windows resampled to 1.0 unit (2x coarser), a 0.25 m one reads them as they are; they
    were taken as 0.5 m pixels, as the model expects."""
    from types import SimpleNamespace

    from pyproj import Geod, Transformer
    from rasterio.transform import from_origin

    from geotile.model_pixel import model_pixel

    x0, y0 = 1_700_000.0, 8_400_000.0
    tif = make_raster("merc.tif", np.zeros((3, 64, 64), np.uint8), crs="EPSG:3857",
                      transform=from_origin(x0, y0, 0.5, 0.5))
    # the ground size of 200 pixels across the middle, measured on the ellipsoid
    lon, lat = Transformer.from_crs(3857, 4326, always_xy=True).transform(
        [x0 - 34, x0 + 66], [y0 - 16, y0 - 16])
    ground = Geod(ellps="WGS84").inv(lon[0], lat[0], lon[1], lat[1])[2] / 200
    assert ground == pytest.approx(0.25, rel=0.01)
    model = SimpleNamespace(resolution=0.5, path=tif)
    options = PredictOptions(model_resolution=None if wanted == "meta" else wanted)
    with rasterio.open(tif) as src:
        pixel = model_pixel(model, src, options)
    if expected is None:
        assert pixel is None
    else:
        assert pixel == pytest.approx((expected * 0.25 / ground,) * 2, rel=0.01)


def test_predict_array_takes_nan_pixels_as_nodata(tmp_path, image):
    # NaN pixels (src.read(masked=True).filled(np.nan)) raised a ModelError blaming the model
    model = OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx"))
    pixels = image.astype(np.float32) / 255
    pixels[:, :50] = np.nan
    pixels[1, 60, 70] = np.inf
    out = predict_array(model, pixels)
    assert np.isnan(out[0, :50]).all() and np.isnan(out[0, 60, 70])
    expected = pointwise_reference(np.nan_to_num(pixels, posinf=0)[np.newaxis])[0]
    keep = ~np.isnan(out[0])
    assert keep.sum() == 251 * 257 - 1
    np.testing.assert_allclose(out[:, keep], expected[:, keep], atol=1e-5)


@pytest.mark.parametrize(("dtype", "factor"), [(np.float32, 1), (np.uint16, 40)])
def test_predict_array_warns_of_unscaled_pixels_as_predict_raster(tmp_path, image, dtype, factor):
    model = OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx"))
    with pytest.warns(GeotileWarning, match=rf"{np.dtype(dtype)} pixels go to the model as they"):
        predict_array(model, image.astype(dtype) * factor)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        predict_array(model, image.astype(np.float32) / 255)  # 0..1 floats: nothing to say
        predict_array(model, image)


@pytest.mark.parametrize("high", [1, 255])
def test_predict_array_takes_integer_valid_masks(tmp_path, image, high):
    # rasterio's read_masks()/dataset_mask() give 0/255 uint8: a raw numpy TypeError before
    model = OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx"))
    valid = np.zeros(image.shape[1:], np.uint8)
    valid[100:] = high
    out = predict_array(model, image, valid=valid)
    assert np.isnan(out[0, :100]).all() and not np.isnan(out[0, 100:]).any()
    with pytest.raises(InputError, match=r"valid must be a bool \(H, W\) array"):
        predict_array(model, image, valid=valid.astype(str))


def test_predict_array_takes_masked_pixels_as_nodata(tmp_path, image):
    # src.read(masked=True): np.asarray dropped the mask, nodata pixels (RGB.byte.tif's collar)
    # came back as probabilities; a pixel masked in any band is nodata, as valid= makes it
    model = OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx"))
    masked = np.ma.masked_array(image, mask=np.zeros(image.shape, bool))
    masked.mask[:, :50, :60] = True
    masked.mask[2, 200, 100] = True  # one band only
    out = predict_array(model, masked)
    valid = np.ones(image.shape[1:], bool)
    valid[:50, :60] = valid[200, 100] = False
    assert np.array_equal(np.isnan(out[0]), ~valid)
    np.testing.assert_array_equal(out, predict_array(model, image, valid=valid))
    both = valid.copy()
    both[250:] = False
    np.testing.assert_array_equal(predict_array(model, masked, valid=both),
                                  predict_array(model, image, valid=both & valid))
    plain = predict_array(model, np.ma.masked_array(image))  # no mask: every pixel
    assert not np.isnan(plain).any()


@pytest.mark.parametrize("change", [{"output_type": "class"}, {"dtype": "uint8"},
                                    {"threshold": 0.3}, {"cog": True}, {"bands": (1, 2, 3)},
                                    {"model_resolution": 0.5}])
def test_predict_array_refuses_options_it_cannot_honour(tmp_path, image, change):
    model = OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx"))
    name = next(iter(change))
    with pytest.raises(InputError, match=rf"predict_array.*{name}.*predict_raster"):
        predict_array(model, image, options=PredictOptions(**change))


@pytest.mark.parametrize("name", ["p.png", "p.jpg", "p.vrt", "p"])
def test_predict_raster_refuses_output_names_of_other_formats(tmp_path, make_raster, image, name):
    # a GeoTIFF was written under the name, as the CLI refuses to
    path = make_raster("img.tif", image)
    model = OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx"))
    with pytest.raises(InputError, match=rf"{name}: the output is a GeoTIFF; name it .tif or"):
        predict_raster(model, path, tmp_path / name)
    assert not (tmp_path / name).exists()
    predict_raster(model, path, tmp_path / "p.TIFF")
    with rasterio.open(tmp_path / "p.TIFF") as dst:
        assert dst.driver == "GTiff"


def test_a_model_with_thousands_of_classes_is_sized_before_it_runs(tmp_path, run_cli,
                                                                   make_raster, monkeypatch):
    """10,000 classes at the default 512 px (batch 2) made ONNX Runtime allocate 21 GB on a
    1 x 1 px image; one window above half the memory it may use (here made 16 MiB) is refused
    before the model runs, naming the --tile-size that fits, and default batches keep under
    their budget (many classes: fewer windows a batch)."""
    from geotile import model as model_module
    from geotile.predict import batch_size_for

    from .conftest import assert_one_line_error

    monkeypatch.setattr(model_module, "MAX_WINDOW_OUTPUT_BYTES", 16 * 2**20, raising=False)
    monkeypatch.setattr(model_module, "window_memory_limit", lambda: 16 * 2**20)
    path = pointwise_model(tmp_path / "many.onnx", classes=40)
    tif = make_raster("one.tif", np.full((3, 1, 1), 100, np.uint8))
    result = run_cli("predict", path, tif, "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "many.onnx", "40 output channels", "--tile-size 288")
    assert not (tmp_path / "o.tif").exists()
    model = OnnxModel.from_path(path, tile_size=128)
    assert batch_size_for(model, 128, PredictOptions()) * 43 * 128 * 128 * 4 <= 16 * 2**20
    ok = run_cli("predict", path, tif, "-o", tmp_path / "o.tif", "--tile-size", "128")
    assert ok.exit_code == 0, ok.output
    with rasterio.open(tmp_path / "o.tif") as out:
        assert out.count == 40 and (out.width, out.height) == (1, 1)


def test_a_large_window_that_fits_memory_is_not_refused(tmp_path, monkeypatch):
    """An 8192 px window of a 2-class model (1.3 GB of float32 input and output) ran before
    the many-classes budget; it is refused only past half the memory it may use (here made
    4 GiB), not at the default batches' 1 GiB."""
    from geotile import model as model_module
    from geotile.errors import ModelError

    monkeypatch.setattr(model_module, "window_memory_limit", lambda: 4 * 2**30)
    model = OnnxModel.from_path(pointwise_model(tmp_path / "two.onnx", classes=2))
    model._refuse_huge_output(8192)  # 1.34 GB: runs
    with pytest.raises(ModelError, match="give --tile-size 14624 or smaller"):
        model._refuse_huge_output(16384)  # 5.4 GB


def test_a_batch_above_the_budget_probes_the_model_once(tmp_path, monkeypatch):
    """--batch-size above the default batches' budget: the probe ran at the budget's batch
    and, as that stayed below the batch asked for, again before every batch (a window's run
    each: 11 probes on the CPU for a 256 px image at --tile-size 64 --batch-size 4, here 3
    for 3 batches on a GPU); it runs once."""
    from geotile import model as model_module

    monkeypatch.setattr(model_module, "MAX_WINDOW_OUTPUT_BYTES", 5 * 4 * 64 * 64)  # 1 window
    model = OnnxModel.from_path(pointwise_model(tmp_path / "two.onnx", classes=2),
                                tile_size=64)
    model.provider = "CUDAExecutionProvider"  # a GPU probes at the batch that runs
    probes = []
    run = model._try
    monkeypatch.setattr(model, "_try", lambda batch, size: probes.append(batch) or run(batch, size))
    batch = np.zeros((4, 3, 64, 64), np.float32)
    for _ in range(3):
        assert model.run(batch).shape == (4, 2, 64, 64)
    assert len(probes) <= 1


def test_channels_last_outputs_of_a_channels_first_input_are_sized_by_their_channels(
        tmp_path, monkeypatch):
    """tf2onnx --inputs-as-nchw: input [N, 3, 512, 512], output [N, 512, 512, 2]. The window
    budget read the output's axis 1 (512) as its channels: 540 MB a window, so default
    batches fell from 2 to 1 (4 to 1 on a GPU), and a machine with less than 1.1 GB was told
    to 'export it with fewer classes'; its 2 channels are counted."""
    from onnx import helper

    from geotile import model as model_module
    from geotile.predict import batch_size_for

    from .onnx_models import FLOAT, conv1x1, save_graph

    conv, weights = conv1x1("input", "nchw", 3, 2, seed=3)
    path = save_graph(tmp_path / "tf.onnx", [conv, helper.make_node(
        "Transpose", ["nchw"], ["output"], perm=[0, 2, 3, 1])],
        [("input", FLOAT, ["N", 3, 512, 512])], [("output", FLOAT, ["N", 512, 512, 2])], weights)
    monkeypatch.setattr(model_module, "window_memory_limit", lambda: 2**28)  # 6 MB a window
    model = OnnxModel.from_path(path)
    assert model.declared_output_channels() == 2
    assert batch_size_for(model, 512, PredictOptions()) == 2
    model.provider = "CUDAExecutionProvider"
    assert batch_size_for(model, 512, PredictOptions()) == 4
    out = predict_array(model, np.ones((3, 40, 40), np.float32), options=PredictOptions())
    assert out.shape == (2, 40, 40)


@pytest.mark.parametrize("resolution", ["1", "0.25"])  # averaged down, interpolated up
def test_a_mask_band_beside_a_nodata_value_decides_on_the_model_grid(tmp_path, run_cli,
                                                                     make_raster, resolution):
    """An RGB GeoTIFF with an internal mask band and a nodata value of 0: GDAL's mask is the
    mask band (the nodata value is ignored), as the plain path has it. Resampled to the
    model's resolution the warp took the nodata value instead: a black block the mask calls
    valid (240 px of 64 x 64) came out NaN and the masked pixels' hidden values were averaged
    into the model's cells. Now it gives what the same file without the nodata value gives."""
    rng = np.random.default_rng(3)
    stack = rng.integers(1, 200, (3, 64, 64)).astype(np.uint8)
    stack[:, 30:42, 4:24] = 0  # black, valid by the mask
    stack[:, :, 56:] = 255  # hidden by the mask
    mask = np.full((64, 64), 255, np.uint8)
    mask[:, 56:] = 0
    tifs = {}
    for name, nodata in (("masked", None), ("masked_nodata", 0)):
        tifs[name] = make_raster(f"{name}.tif", stack, nodata=nodata, photometric="MINISBLACK")
        with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(tifs[name], "r+") as dst:
            dst.write_mask(mask)
    path = pointwise_model(tmp_path / "rgb.onnx")
    outputs = {}
    for name, tif in tifs.items():
        for grid, args in (("plain", []), ("model", ["--model-resolution", resolution])):
            out = tmp_path / f"{name}_{grid}_p.tif"
            result = run_cli("predict", path, tif, "-o", out, "--dtype", "float32",
                             "--tile-size", "32", *args)
            assert result.exit_code == 0, result.output
            with rasterio.open(out) as src:
                outputs[name, grid] = src.read(1)
    for grid in ("plain", "model"):
        np.testing.assert_array_equal(np.isnan(outputs["masked_nodata", grid]), mask == 0)
        np.testing.assert_allclose(outputs["masked_nodata", grid], outputs["masked", grid],
                                   atol=1e-6, rtol=0)


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7])
def test_uint8_probabilities_at_the_threshold_read_back_as_the_class_output(threshold):
    """p x 255 halfway between two codes is rounded up: p = 0.3 (76.5) or 0.7 (178.5) is
    the class (p >= threshold) in the class output, and was stored as 76 or 178 (numpy's
    rint rounds halves to even), below the threshold for vectorize and evaluate reading the
    uint8 raster back (0.5, 127.5 -> 128, agreed by luck of parity)."""
    from types import SimpleNamespace

    from geotile.prediction_output import encode
    from geotile.raster_kinds import RasterKind, class_ids

    at = np.float32(threshold)
    below, above = np.nextafter(at, np.float32(0)), np.nextafter(at, np.float32(1))
    values = np.array([[[below, at, above, at - 1 / 510, at + 1 / 510]]], np.float32)
    valid = np.ones(values.shape[1:], bool)
    classes = encode(values, valid, SimpleNamespace(output_type="class"), threshold)[0]
    stored = encode(values, valid, SimpleNamespace(output_type="probability",
                                                   dtype="uint8"), threshold)
    read, _ = class_ids(stored, valid, RasterKind("probability", 255.0, None, threshold),
                        threshold)
    np.testing.assert_array_equal(classes, [[0, 1, 1, 0, 1]])
    np.testing.assert_array_equal(read, classes)


def test_uint8_probabilities_round_halves_up_and_nothing_else():
    """Round half up, not to even; values just below a half stay below (no x + 0.5 floor,
    which rounds 0.49999997 up), NaN is 0, values past 0..1 are clipped."""
    from geotile.prediction_output import scaled_uint8

    halves = (np.arange(255, dtype=np.float32) + np.float32(0.5)) / np.float32(255)
    codes = scaled_uint8(halves)
    product = np.float64(halves * np.float32(255))  # p x 255 as float32 computes it
    np.testing.assert_array_equal(codes, np.floor(product + 0.5))
    assert (codes[1::2] % 2 == 0).all()  # 1.5, 3.5, ... were rounded down to even
    small = np.array([np.nextafter(np.float32(0.5), np.float32(0)) / 255, np.nan, -1, 2, 1],
                     np.float32)
    np.testing.assert_array_equal(scaled_uint8(small), [0, 0, 0, 255, 255])


def test_predict_options_take_bands_as_the_cli_writes_them(tmp_path, make_raster):
    """PredictOptions(bands="3,2,1") (as --bands is written) was read character by
    character: '3', ',', '2' ... ('no band goes by the name ,'); B04,B03,B02 likewise. The
    string (or a list) is read as the CLI reads it: the run equals bands=(3, 2, 1)."""
    assert PredictOptions(bands="B04, B03,B02").bands == ("B04", "B03", "B02")
    assert PredictOptions(bands=["3", 2, "1"]).bands == (3, 2, 1)
    with pytest.raises(InputError, match="band numbers start at 1"):
        PredictOptions(bands="0,1,2")
    pixels = np.random.default_rng(3).integers(0, 255, (3, 40, 40), dtype=np.uint8)
    image = make_raster("i.tif", pixels)
    model = pointwise_model(tmp_path / "m.onnx")
    results = []
    for bands in ("3,2,1", (3, 2, 1), None):
        out = tmp_path / f"p{len(results)}.tif"
        predict_raster(model, image, out, options=PredictOptions(tile_size=32, bands=bands))
        with rasterio.open(out) as src:
            results.append(src.read())
    np.testing.assert_array_equal(results[0], results[1])
    assert not np.array_equal(results[0], results[2])


def test_predict_options_read_a_tuple_of_band_strings_as_numbers():
    """A tuple of strings ("3", "2", "1") was kept as band names ('no band goes by the name
    3') while the same list was read as numbers; '³' (a digit to str.isdigit, no number to
    int) ended in a ValueError traceback."""
    assert PredictOptions(bands=("3", "2", "1")).bands == (3, 2, 1)
    assert PredictOptions(bands=(" B8A", "4")).bands == ("B8A", 4)
    with pytest.raises(InputError, match="band numbers start at 1"):
        PredictOptions(bands=(-1, 2))
    assert PredictOptions(bands="³,2").bands == ("³", 2)
