"""Change detection models of two image inputs (Siamese: x1/x2, pre/post, A/B...): the image
feeds the first date's input and --extra-bands the second's, with predict's windows,
normalisation, blending and outputs; what cannot be fed so is one line."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import rasterio

from tests.conftest import assert_one_line_error
from tests.onnx_models import (
    FLOAT,
    FLOAT16,
    UINT8,
    save_graph,
    siamese_model,
    siamese_reference,
)

HEIGHT, WIDTH = 90, 110


@pytest.fixture
def dates(make_raster):
    """Two uint8 RGB rasters of the same place: before.tif and after.tif."""
    rng = np.random.default_rng(7)
    before = rng.integers(0, 256, (3, HEIGHT, WIDTH), dtype=np.uint8)
    after = rng.integers(0, 256, (3, HEIGHT, WIDTH), dtype=np.uint8)
    return make_raster("before.tif", before), make_raster("after.tif", after)


def _read(path):
    with rasterio.open(path) as src:
        return src.read().astype(np.float64)


def _predict(run_cli, model, image, extra, out, *more):
    result = run_cli("predict", model, image, "--extra-bands", extra, "-o", out,
                     "--dtype", "float32", *more)
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as src:
        return src.read(), src


def test_the_image_feeds_the_first_date_and_extra_bands_the_second(dates, tmp_path, run_cli):
    """Two inputs were refused ("Re-export it with a single input"); now each date reaches
    its own input, blended over overlapping windows as a one-input model's."""
    before, after = dates
    model = siamese_model(tmp_path / "siamese.onnx")
    got, src = _predict(run_cli, model, before, after, tmp_path / "change.tif",
                        "--tile-size", 32, "--overlap", 12)
    want = siamese_reference(_read(before) / 255, _read(after) / 255)
    np.testing.assert_allclose(got, want, atol=1e-5)
    swapped = siamese_reference(_read(after) / 255, _read(before) / 255)
    assert np.abs(got - swapped).max() > 0.1
    with rasterio.open(before) as image:
        assert (src.crs, src.transform) == (image.crs, image.transform)


@pytest.mark.parametrize(("names", "image_gets"), [
    (("x1", "x2"), "x1"), (("post", "pre"), "pre"), (("img_B", "img_A"), "img_A"),
    (("t2", "t1"), "t1"), (("after", "before"), "before"), (("image2", "image1"), "image1"),
    (("imageB", "imageA"), "imageA"), (("B", "A"), "A"), (("optical", "radar"), "optical"),
    # TorchScript's own names (no input_names): numbered by first use, not by date
    (("input.49", "input.1"), "input.49"), (("onnx::Mul_1", "onnx::Mul_0"), "onnx::Mul_1"),
    (("current", "previous"), "previous"), (("img_curr", "img_prev"), "img_prev"),
    (("test", "ref"), "ref"), (("later", "earlier"), "earlier"),
])
def test_the_names_say_which_input_is_the_first_date(dates, tmp_path, run_cli, names,
                                                     image_gets):
    """Inputs declared later-date first (post, pre) still get the dates in order; names that
    say nothing keep the declaration order."""
    before, after = dates
    model = siamese_model(tmp_path / "m.onnx", names=names)
    got, _ = _predict(run_cli, model, before, after, tmp_path / "c.tif")
    first, second = (before, after) if image_gets == names[0] else (after, before)
    np.testing.assert_allclose(got, siamese_reference(_read(first) / 255,
                                                      _read(second) / 255), atol=1e-5)


def test_python_api_batches_tta_and_nhwc_give_the_same_change(dates, tmp_path):
    """predict_raster(extra_bands=...) as the CLI; batch sizes 1 and 5, --tta d4 (both dates
    turned alike) and a channels-last export agree with the reference."""
    import geotile
    from geotile.predict import PredictOptions

    before, after = dates
    want = siamese_reference(_read(before) / 255, _read(after) / 255)
    for i, (layout, batch, tta) in enumerate((("NCHW", 1, "none"), ("NCHW", 5, "d4"),
                                              ("NHWC", 3, "flip"))):
        model = siamese_model(tmp_path / f"m{i}.onnx", layout=layout)
        out = tmp_path / f"c{i}.tif"
        options = PredictOptions(tile_size=32, overlap=8, batch_size=batch, tta=tta,
                                 dtype="float32")
        geotile.predict_raster(model, before, out, options=options, extra_bands=after)
        np.testing.assert_allclose(_read(out), want, atol=1e-5)


def test_a_mean_and_std_of_one_date_apply_to_both(dates, tmp_path, run_cli):
    before, after = dates
    mean, std = [0.4, 0.5, 0.6], [0.2, 0.25, 0.3]
    model = siamese_model(tmp_path / "m.onnx")
    got, _ = _predict(run_cli, model, before, after, tmp_path / "c.tif",
                      "--mean", "0.4,0.5,0.6", "--std", "0.2,0.25,0.3")
    m, s = np.reshape(mean, (3, 1, 1)), np.reshape(std, (3, 1, 1))
    want = siamese_reference((_read(before) / 255 - m) / s, (_read(after) / 255 - m) / s)
    np.testing.assert_allclose(got, want, atol=1e-5)
    # the model's metadata, as Deepness writes it, likewise
    model = siamese_model(tmp_path / "meta.onnx", metadata={
        "standardization_mean": mean, "standardization_std": std})
    got, _ = _predict(run_cli, model, before, after, tmp_path / "m.tif")
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_nodata_in_either_date_is_nodata_in_the_change(make_raster, tmp_path, run_cli):
    rng = np.random.default_rng(8)
    first = rng.integers(1, 256, (3, HEIGHT, WIDTH), dtype=np.uint8)
    second = rng.integers(1, 256, (3, HEIGHT, WIDTH), dtype=np.uint8)
    first[:, :10, :20] = 0
    second[:, -15:, -5:] = 0
    before = make_raster("b.tif", first, nodata=0)
    after = make_raster("a.tif", second, nodata=0)
    got, _ = _predict(run_cli, siamese_model(tmp_path / "m.onnx"), before, after,
                      tmp_path / "c.tif", "--tile-size", 32)
    invalid = np.zeros((HEIGHT, WIDTH), bool)
    invalid[:10, :20] = invalid[-15:, -5:] = True
    assert np.isnan(got[0][invalid]).all()
    want = siamese_reference(first / 255, second / 255)
    np.testing.assert_allclose(got[0][~invalid], want[0][~invalid], atol=1e-5)


def test_a_second_date_of_other_channels_or_none_is_one_line(dates, make_raster, tmp_path,
                                                            run_cli):
    before = dates[0]
    model = siamese_model(tmp_path / "cd.onnx", names=("pre", "post"))
    out = tmp_path / "c.tif"
    assert_one_line_error(run_cli("predict", model, before, "-o", out),
                          "cd.onnx", "2 inputs", "pre gets the image", "post",
                          "--extra-bands")
    four = make_raster("four.tif", np.ones((4, HEIGHT, WIDTH), np.uint8))
    assert_one_line_error(run_cli("predict", model, before, "--extra-bands", four, "-o", out),
                          "cd.onnx", "4 band(s)", "post takes 3 channels")
    assert not out.exists()


def test_inputs_that_cannot_be_two_dates_are_one_line(dates, tmp_path, run_cli):
    before, after = dates
    out = tmp_path / "c.tif"
    from onnx import helper

    shape = ["N", 3, "H", "W"]
    sizes = save_graph(tmp_path / "sizes.onnx", [  # the second date's mean added everywhere
        helper.make_node("ReduceMean", ["x1"], ["m1"], axes=[1], keepdims=1),
        helper.make_node("ReduceMean", ["x2"], ["m2"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Add", ["m1", "m2"], ["out"])],
        [("x1", FLOAT, ["N", 3, 32, 32]), ("x2", FLOAT, ["N", 3, 16, 16])],
        [("out", FLOAT, ["N", 1, 32, 32])])
    assert_one_line_error(run_cli("predict", sizes, before, "--extra-bands", after, "-o", out),
                          "sizes.onnx", "x1", "x2", "differ in window size")
    types = siamese_model(tmp_path / "types.onnx", second_elem=FLOAT16)
    assert_one_line_error(run_cli("predict", types, before, "--extra-bands", after, "-o", out),
                          "types.onnx", "differ in type")
    three = save_graph(tmp_path / "three.onnx", [
        helper.make_node("Sum", ["a", "b", "c"], ["s"]),
        helper.make_node("ReduceMean", ["s"], ["out"], axes=[1], keepdims=1)],
        [("a", FLOAT, shape), ("b", FLOAT, shape), ("c", FLOAT, shape)],
        [("out", FLOAT, ["N", 1, "H", "W"])], opset=17)
    assert_one_line_error(run_cli("predict", three, before, "--extra-bands", after, "-o", out),
                          "three.onnx", "3 image inputs", "one or two inputs")
    scalar = save_graph(tmp_path / "scalar.onnx", [
        helper.make_node("ReduceMean", ["x"], ["m"], axes=[1], keepdims=1),
        helper.make_node("Mul", ["m", "gain"], ["out"])],
        [("x", FLOAT, shape), ("gain", FLOAT, [1])], [("out", FLOAT, ["N", 1, "H", "W"])])
    assert_one_line_error(run_cli("predict", scalar, before, "--extra-bands", after, "-o", out),
                          "scalar.onnx", "'gain'", "[1]", "no image batch", "constant")
    assert not out.exists()


@pytest.fixture
def levir(tmp_path):
    """LEVIR-CD's layout: train/A, train/B and train/label PNGs of the same names, no
    georeference, labels 0/255 (255: change), one of them without any change."""
    from PIL import Image

    rng = np.random.default_rng(9)
    root = tmp_path / "train"
    for part in ("A", "B", "label"):
        (root / part).mkdir(parents=True)
    for i in (1, 2, 10):
        for part in ("A", "B"):
            Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(
                root / part / f"train_{i}.png")
        label = np.zeros((48, 48), np.uint8)
        if i != 10:
            label[5:20, 8:30] = 255
        Image.fromarray(label).save(root / "label" / f"train_{i}.png")
    return root


def test_levir_folders_pair_by_name_and_evaluate_255_as_change(levir, tmp_path, run_cli):
    """predict A/ --extra-bands B/ pairs each image with its namesake; evaluate reads the
    0/255 labels' 255 as the change class (not as ignored pixels)."""
    from PIL import Image

    model = siamese_model(tmp_path / "cd.onnx", names=("A", "B"))
    out = tmp_path / "pred"
    result = run_cli("predict", model, levir / "A", "--extra-bands", levir / "B", "-o", out,
                     "--output-type", "class", "--tile-size", 32)
    assert result.exit_code == 0, result.output
    tp = fp = fn = 0
    for i in (1, 2, 10):
        a, b = (np.asarray(Image.open(levir / p / f"train_{i}.png"), np.float64)
                .transpose(2, 0, 1) / 255 for p in ("A", "B"))
        with rasterio.open(out / f"train_{i}.tif") as src:
            got = src.read(1)
        want = siamese_reference(a, b)[0] >= 0.5
        assert (got == want).mean() > 0.999  # float32 rounding at exactly 0.5 aside
        truth = np.asarray(Image.open(levir / "label" / f"train_{i}.png")) == 255
        tp += int((truth & (got == 1)).sum())
        fp += int((~truth & (got == 1)).sum())
        fn += int((truth & (got == 0)).sum())
    result = run_cli("evaluate", out, levir / "label", "--json")
    assert result.exit_code == 0, result.output
    import json

    scores = json.loads(result.stdout)
    assert scores["pixels"] == 3 * 48 * 48
    assert scores["classes"][1]["support"] == 2 * 15 * 22  # 255 is change, never ignored
    assert (scores["foreground"]["tp"], scores["foreground"]["fp"],
            scores["foreground"]["fn"]) == (tp, fp, fn)


def test_tile_patches_carry_both_dates_and_their_change_mask(levir, tmp_path, run_cli):
    from PIL import Image

    out = tmp_path / "patches"
    result = run_cli("tile", levir / "A", "--extra-bands", levir / "B", "--masks",
                     levir / "label", "-o", out, "--size", 24)
    assert result.exit_code == 0, result.output
    a, b = (np.asarray(Image.open(levir / p / "train_2.png")).transpose(2, 0, 1)
            for p in ("A", "B"))
    with rasterio.open(out / "images" / "train_2_0_1.tif") as src:
        np.testing.assert_array_equal(src.read(), np.concatenate([a, b])[:, :24, 24:])
    with rasterio.open(out / "masks" / "train_2_0_1.tif") as src:
        changed = src.read(1)
    truth = np.asarray(Image.open(levir / "label" / "train_2.png"))[:24, 24:]
    assert set(np.unique(changed)) <= {0, 1, 255}
    np.testing.assert_array_equal(changed > 0, truth == 255)


def test_bands_pick_both_dates_bands(make_raster, tmp_path, run_cli):
    """Five-band dates and a three-channel model: --bands 3,2,1 picks each date's bands (the
    second date's were all stacked, and refused as 5 for 3 channels)."""
    rng = np.random.default_rng(10)
    first = rng.integers(0, 256, (5, HEIGHT, WIDTH), dtype=np.uint8)
    second = rng.integers(0, 256, (5, HEIGHT, WIDTH), dtype=np.uint8)
    before, after = make_raster("b.tif", first), make_raster("a.tif", second)
    model = siamese_model(tmp_path / "m.onnx")
    got, _ = _predict(run_cli, model, before, after, tmp_path / "c.tif", "--bands", "3,2,1")
    want = siamese_reference(first[[2, 1, 0]] / 255, second[[2, 1, 0]] / 255)
    np.testing.assert_allclose(got, want, atol=1e-5)
    # several images: every pair checked before the first is predicted
    out = tmp_path / "many"
    again = make_raster("b2.tif", first)
    result = run_cli("predict", model, before, again, "--extra-bands", after,
                     "--extra-bands", after, "-o", out, "--bands", "3,2,1", "--dtype", "float32")
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(_read(out / "b2.tif"), want, atol=1e-5)
    three = make_raster("three.tif", second[:3])
    assert_one_line_error(run_cli("predict", model, before, "--extra-bands", three, "-o",
                                  tmp_path / "x.tif", "--bands", "4,2,1"),
                          "three.tif", "band 4 does not exist", "second date")


def test_a_second_input_of_other_channels_gets_the_whole_extra_raster(dates, make_raster,
                                                                       tmp_path, run_cli):
    """An image and a one-channel prior map (inputs 'image', 'prior'): --bands picks the
    image's bands only; the prior raster's one band feeds 'prior'."""
    before = dates[0]
    prior = np.random.default_rng(11).random((1, HEIGHT, WIDTH)).astype(np.float32)
    extra = make_raster("prior.tif", prior)
    model = siamese_model(tmp_path / "m.onnx", names=("image", "prior"), second_channels=1)
    got, _ = _predict(run_cli, model, before, extra, tmp_path / "c.tif", "--bands", "3,2,1")
    want = siamese_reference(_read(before)[[2, 1, 0]] / 255, prior.astype(np.float64))
    np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize(("kind", "divisor"), [({"batch": 2}, 255), ({"size": 32, "batch": 1}, 255),
                                               ({"elem": UINT8}, 1)])
def test_fixed_batches_sizes_and_integer_inputs_take_both_dates(dates, tmp_path, kind,
                                                                divisor):
    """A batch or window size baked into both inputs, and uint8 inputs (raw pixels)."""
    import geotile
    from geotile.predict import PredictOptions

    before, after = dates
    out = tmp_path / "c.tif"
    options = PredictOptions(batch_size=5, dtype="float32",
                             tile_size=None if "size" in kind else 32)
    geotile.predict_raster(siamese_model(tmp_path / "m.onnx", **kind), before, out,
                           options=options, extra_bands=after)
    want = siamese_reference(_read(before) / divisor, _read(after) / divisor)
    np.testing.assert_allclose(_read(out), want, atol=1e-5)


def test_dates_of_types_scaled_apart_are_one_line(dates, make_raster, tmp_path, run_cli):
    """A uint8 first date and a uint16 second one were fed on different scales (the uint8
    divided by 255, the uint16 raw: a saturated change map, exit 0); now one line, unless
    --scale puts both on one."""
    before = dates[0]
    rng = np.random.default_rng(12)
    wide = rng.integers(0, 256, (3, HEIGHT, WIDTH)).astype(np.uint16)
    after16 = make_raster("after16.tif", wide)
    model = siamese_model(tmp_path / "m.onnx")
    out = tmp_path / "c.tif"
    for image, extra in ((before, after16), (after16, before)):
        assert_one_line_error(run_cli("predict", model, image, "--extra-bands", extra, "-o",
                                      out), "before.tif", "after16.tif", "uint8", "uint16",
                              "--scale")
        assert not out.exists()
    # several pairs: the mismatched second is refused before the first is predicted
    many = tmp_path / "many"
    assert_one_line_error(run_cli("predict", model, before, after16, "--extra-bands", dates[1],
                                  "--extra-bands", before, "-o", many),
                          "after16.tif", "before.tif", "different scales")
    assert not many.exists() or not any(many.iterdir())
    got, _ = _predict(run_cli, model, before, after16, out, "--scale", 1 / 255)
    np.testing.assert_allclose(got, siamese_reference(_read(before) / 255, wide / 255),
                               atol=1e-5)
    # 0..1 float pixels beside uint8 ones divided by 255: one scale, fed as they are
    unit = make_raster("unit.tif", (wide / 255).astype(np.float32))
    got, _ = _predict(run_cli, model, before, unit, tmp_path / "f.tif")
    np.testing.assert_allclose(got, siamese_reference(_read(before) / 255, wide / 255),
                               atol=1e-5)


def test_dates_declaring_other_reflectance_values_are_one_line(make_raster, tmp_path, run_cli):
    """Two Sentinel-2 dates across baseline 04.00 (DN x 0.0001 - 0.1, then DN x 0.0001):
    the second was warned of as an nDSM ('its pixels go to the model as they are ...
    gdal_translate -unscale'), though --scale and --mean feed both dates alike, and a
    change 0.1 wide was predicted everywhere, exit 0. Dates declaring the same values are
    fed alike without that warning; declaring others, one line naming both."""
    rng = np.random.default_rng(3)
    first = make_raster("t1.tif", rng.integers(1000, 3000, (3, 40, 40)).astype(np.uint16))
    second = make_raster("t2.tif", rng.integers(1000, 3000, (3, 40, 40)).astype(np.uint16))
    for path in (first, second):
        with rasterio.open(path, "r+") as dst:
            dst.scales, dst.offsets = (0.0001,) * 3, (-0.1,) * 3
    model = siamese_model(tmp_path / "m.onnx")
    got, _ = _predict(run_cli, model, first, second, tmp_path / "same.tif", "--scale",
                      0.0001, "--mean", 0.1)
    np.testing.assert_allclose(got, siamese_reference(_read(first) / 1e4 - 0.1,
                                                      _read(second) / 1e4 - 0.1), atol=1e-5)
    result = run_cli("predict", model, first, "--extra-bands", second, "-o",
                     tmp_path / "w.tif", "--scale", 0.0001, "--mean", 0.1)
    assert "--extra-bands raster declares" not in result.stderr, result.stderr
    with rasterio.open(second, "r+") as dst:
        dst.offsets = (0.0,) * 3
    out = tmp_path / "c.tif"
    for more in ((), ("--scale", 0.0001, "--mean", 0.1)):
        assert_one_line_error(run_cli("predict", model, first, "--extra-bands", second, "-o",
                                      out, *more), "t1.tif", "t2.tif", "offset -0.1",
                              "offset 0", "gdal_translate -unscale")
        assert not out.exists()
    many = tmp_path / "many"  # several pairs: refused before the first is predicted
    again = shutil.copy(second, tmp_path / "t2_again.tif")  # a file is no pair of itself
    assert_one_line_error(run_cli("predict", model, second, first, "--extra-bands", again,
                                  "--extra-bands", second, "-o", many), "t1.tif", "t2.tif")
    assert not many.exists() or not any(many.iterdir())


@pytest.mark.parametrize("shape", [["N", 2, 3, "H", "W"], [1, 2, 3, 32, 32]])
def test_both_dates_in_one_5d_input_are_fed_on_its_time_axis(dates, tmp_path, run_cli,
                                                             shape):
    """forward(x) of x [N, 2, C, H, W] (BIT's, ChangeFormer's 5-D exports) was refused
    ('geotile feeds 4-D image batches'); now the image and --extra-bands are its two dates
    (tests/test_multi_temporal.py checks their order)."""
    from onnx import helper

    before, after = dates
    out = tmp_path / "c.tif"
    model = save_graph(tmp_path / "pair.onnx", [
        helper.make_node("ReduceMean", ["pair"], ["m"], axes=[1, 2], keepdims=0),
        helper.make_node("Unsqueeze", ["m", "one"], ["change"])],
        [("pair", FLOAT, shape)], [("change", FLOAT, [shape[0], 1, shape[3], shape[4]])],
        {"one": np.array([1], np.int64)}, opset=17)
    got, _ = _predict(run_cli, model, before, after, out, "--activation", "none")
    want = (_read(before) + _read(after)).mean(axis=0, keepdims=True) / 2 / 255
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_two_uint16_dates_are_warned_of_once_naming_both(make_raster, tmp_path, run_cli):
    """Two uint16 dates fed without --scale: the warning 'uint16 pixels go to the model as
    they are' named the image alone, though the second date's go in alike. Now one warning
    naming both dates."""
    rng = np.random.default_rng(5)
    first = make_raster("t1.tif", rng.integers(0, 3000, (3, 40, 40)).astype(np.uint16))
    second = make_raster("t2.tif", rng.integers(0, 3000, (3, 40, 40)).astype(np.uint16))
    result = run_cli("predict", siamese_model(tmp_path / "m.onnx"), first, "--extra-bands",
                     second, "-o", tmp_path / "c.tif")
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if "uint16 pixels go" in line]
    assert len(warned) == 1, result.stderr
    assert "t1.tif and t2.tif: uint16 pixels go to the model as they are" in warned[0], \
        warned[0]


def test_float_dates_on_scales_far_apart_are_one_line(make_raster, tmp_path, run_cli):
    """A float32 date of reflectance 0..1 beside one of 0..255 (or 0..10000) was fed alike
    and a change predicted everywhere, exit 0. Now one line naming both files, their ranges
    and the rescale, before any pair is predicted; dates of one scale (both 0..1, both
    0..255 of other content, one mostly dark water) are fed as before."""
    rng = np.random.default_rng(21)
    unit = rng.random((3, 40, 40)).astype(np.float32)
    first = make_raster("t1.tif", unit)
    model = siamese_model(tmp_path / "m.onnx")
    out = tmp_path / "c.tif"
    for name, top in (("t2_255.tif", 255), ("t2_dn.tif", 10000)):
        second = make_raster(name, (rng.random((3, 40, 40)) * top).astype(np.float32))
        for image, extra in ((first, second), (second, first)):
            assert_one_line_error(run_cli("predict", model, image, "--extra-bands", extra,
                                          "-o", out), "t1.tif", name, "different scales",
                                  "..0.9", "gdal_translate", f"-scale 0 {top} 0 1 {name}",
                                  "--scale")
            assert not out.exists()
    many = tmp_path / "many"  # several pairs: refused before the first is predicted
    again = make_raster("u2.tif", unit[::-1].copy())
    assert_one_line_error(run_cli("predict", model, first, again, "--extra-bands", again,
                                  "--extra-bands", tmp_path / "t2_255.tif", "-o", many),
                          "u2.tif and t2_255.tif", "different scales")
    assert not many.exists() or not any(many.iterdir())
    # dates of one scale: both 0..1 (one mostly water, dark), both 0..255
    water = (rng.random((3, 40, 40)) * 0.08).astype(np.float32)
    water[:, :4] = rng.random((3, 4, 40)) * 0.5
    dark = make_raster("water.tif", water)
    got, _ = _predict(run_cli, model, first, dark, out)
    np.testing.assert_allclose(got, siamese_reference(unit, water), atol=1e-5)
    a = make_raster("a.tif", (rng.random((3, 40, 40)) * 255).astype(np.float32))
    b = make_raster("b.tif", (rng.random((3, 40, 40)) * 120).astype(np.float32))
    got, _ = _predict(run_cli, model, a, b, tmp_path / "ab.tif", "--scale", 1 / 255)
    np.testing.assert_allclose(got, siamese_reference(_read(a) / 255, _read(b) / 255),
                               atol=1e-5)


def test_dates_of_symbolic_channels_split_where_the_image_ends(dates, make_raster, tmp_path,
                                                                run_cli):
    """Two inputs of symbolic channel axes ([N,C1,H,W], [N,C2,H,W]) whose first node says no
    count (a channel mean): an RGB date beside a 2-band SAR one was split at half the five
    stacked channels (bands 1-2 to x1, band 3 and the SAR to x2), exit 0; now the image's
    bands feed x1 and the --extra-bands raster's x2."""
    from onnx import helper

    before = dates[0]
    sar = np.random.default_rng(12).normal(-12, 3, (2, HEIGHT, WIDTH)).astype(np.float32)
    extra = make_raster("sar.tif", sar)
    model = save_graph(tmp_path / "dyn.onnx", [
        helper.make_node("ReduceMean", ["x1"], ["m1"], axes=[1], keepdims=1),
        helper.make_node("ReduceMean", ["x2"], ["m2"], axes=[1], keepdims=1),
        helper.make_node("Sub", ["m2", "m1"], ["d"]),
        helper.make_node("Sigmoid", ["d"], ["change"])],
        [("x1", FLOAT, ["N", "C1", "H", "W"]), ("x2", FLOAT, ["N", "C2", "H", "W"])],
        [("change", FLOAT, ["N", 1, "H", "W"])])
    got, _ = _predict(run_cli, model, before, extra, tmp_path / "c.tif", "--tile-size", 32)
    first = _read(before) / 255
    want = 1 / (1 + np.exp(-(sar.astype(np.float64).mean(0) - first.mean(0))))
    np.testing.assert_allclose(got[0], want, atol=1e-5)


def test_dates_of_one_name_in_two_folders_are_told_apart(make_raster, tmp_path, run_cli):
    """LEVIR-CD, OSCD and S2Looking name both dates alike (A/x.tif, B/x.tif): the lines for
    dates on other scales said 'x.tif and x.tif' and advised 'gdal_translate ... x.tif
    x_rescaled.tif'; now each date is named with its folder."""
    rng = np.random.default_rng(23)
    for folder in ("A", "B"):
        (tmp_path / folder).mkdir()
    first = make_raster("A/x.tif", rng.random((3, 40, 40)).astype(np.float32))
    second = make_raster("B/x.tif", (rng.random((3, 40, 40)) * 255).astype(np.float32))
    model = siamese_model(tmp_path / "m.onnx")
    out = tmp_path / "c.tif"
    assert_one_line_error(run_cli("predict", model, first, "--extra-bands", second, "-o", out),
                          "A/x.tif and B/x.tif", "Rescale B/x.tif to A/x.tif's range",
                          "-scale 0 255 0 1 B/x.tif B/x_rescaled.tif")
    wide_pixels = rng.integers(0, 4000, (3, 40, 40)).astype(np.uint16)
    wide = make_raster("B/y.tif", wide_pixels)
    narrow = make_raster("A/y.tif", rng.integers(0, 256, (3, 40, 40)).astype(np.uint8))
    assert_one_line_error(run_cli("predict", model, narrow, "--extra-bands", wide, "-o", out),
                          "A/y.tif and B/y.tif", "uint16")
    assert not out.exists()
    both = make_raster("B/w.tif", rng.integers(0, 4000, (3, 40, 40)).astype(np.uint16))
    # two uint16 dates: one warning naming both
    result = run_cli("predict", model, make_raster("A/w.tif", wide_pixels), "--extra-bands",
                     both, "-o", out)
    assert result.exit_code == 0, result.output
    assert "A/w.tif and B/w.tif: uint16 pixels go" in result.stderr.replace("\n", " ")


def test_a_second_date_of_other_channels_is_not_told_to_use_bands(dates, tmp_path, run_cli):
    """An RGB and SAR model (3 and 2 channels) given a 3-band second date was told 'or pick
    both dates' bands with --bands', which picks the image's alone for such a model; now
    the line says so."""
    before, after = dates
    model = siamese_model(tmp_path / "m.onnx", names=("optical", "sar"), second_channels=2)
    result = run_cli("predict", model, before, "--extra-bands", after, "-o", tmp_path / "c.tif")
    assert_one_line_error(result, "sar takes 2 channels", "with 2 bands")
    assert "pick both dates' bands" not in result.stderr
    assert "--bands picks the image's bands alone" in result.stderr.replace("\n", " ")


def test_dates_in_other_colour_orders_are_one_line(dates, tmp_path, run_cli):
    """A second date in PlanetScope's blue-first order (colour interpretation blue, green,
    red) beside an RGB first date was fed as it is: the model saw red and blue swapped, a
    change everywhere (0.24 off the right change), exit 0; now one line naming both and
    the reorder."""
    from rasterio.enums import ColorInterp

    before, after = dates
    rgb = [ColorInterp.red, ColorInterp.green, ColorInterp.blue]
    with rasterio.open(before, "r+") as dst:
        dst.colorinterp = rgb
    with rasterio.open(after, "r+") as dst:
        dst.write(dst.read()[::-1])
        dst.colorinterp = rgb[::-1]
    model = siamese_model(tmp_path / "m.onnx")
    out = tmp_path / "c.tif"
    assert_one_line_error(run_cli("predict", model, before, "--extra-bands", after, "-o", out),
                          "before.tif and after.tif", "red, green, blue",
                          "blue, green, red", "gdal_translate -b 3 -b 2 -b 1 after.tif")
    assert not out.exists()
    import geotile
    from geotile.errors import InputError

    with pytest.raises(InputError, match="blue, green, red"):
        geotile.predict_raster(model, before, out, extra_bands=after)
    assert not out.exists()


def test_one_file_as_both_dates_is_one_line(dates, tmp_path, run_cli):
    """The image given again as --extra-bands (a copy-paste of the first date's path) was
    predicted as two dates: a change map of a date against itself, exit 0."""
    before = dates[0]
    model = siamese_model(tmp_path / "m.onnx")
    out = tmp_path / "c.tif"
    assert_one_line_error(run_cli("predict", model, before, "--extra-bands",
                                  before.parent / "." / before.name, "-o", out),
                          "before.tif", "both dates", "--extra-bands")
    assert not out.exists()
