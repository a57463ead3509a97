"""Multi-temporal models of one 5-D input ([N,T,C,H,W]: U-TAE, BIT's 5-D exports;
[N,C,T,H,W]: Prithvi-EO-2.0's Conv3d): the image is the first date, each --extra-bands the
next, stacked on the time axis the model's shape, names or graph tell."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import rasterio
from onnx import TensorProto, helper

from tests.conftest import assert_one_line_error
from tests.onnx_models import temporal_model, temporal_weights

HEIGHT, WIDTH = 40, 52


def _reference(stack, dates, channels, fixed=True):
    """The model's output for float (T, C, H, W) inputs."""
    return np.einsum("tc,tchw->chw", temporal_weights(dates, channels, fixed), stack)


@pytest.fixture
def series(make_raster):
    """Three float32 dates of two bands, 0..1, of one place."""
    rng = np.random.default_rng(11)
    stack = rng.random((3, 2, HEIGHT, WIDTH)).astype(np.float32)
    paths = [make_raster(f"d{i}.tif", stack[i]) for i in range(3)]
    return stack, paths


def _predict(run_cli, model, paths, out, *more):
    extras = [a for p in paths[1:] for a in ("--extra-bands", p)]
    result = run_cli("predict", model, paths[0], *extras, "-o", out, "--dtype", "float32",
                     "--activation", "none", *more)
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as src:
        return src.read().astype(np.float64), src


@pytest.mark.parametrize("layout", ["NTCHW", "NCTHW"])
@pytest.mark.parametrize("fixed", [True, False])
def test_each_date_reaches_its_place_on_the_time_axis(series, tmp_path, run_cli, layout,
                                                      fixed):
    """A 5-D input was refused ('geotile feeds 4-D image batches'); now the image is date 1
    and each --extra-bands the next, over overlapping windows, in either axis order."""
    stack, paths = series
    names = ("T",) if layout == "NTCHW" else ("num_frames",)
    model = temporal_model(tmp_path / "m.onnx", layout, fixed=fixed, names=names,
                           metadata=None if not fixed else {"layout": layout})
    got, src = _predict(run_cli, model, paths, tmp_path / "o.tif", "--tile-size", 32,
                        "--overlap", 8)
    np.testing.assert_allclose(got, _reference(stack, 3, 2, fixed), atol=1e-5)
    swapped = _reference(stack[[1, 0, 2]], 3, 2, fixed)
    assert np.abs(got - swapped).max() > 0.05
    with rasterio.open(paths[0]) as image:
        assert (src.crs, src.transform) == (image.crs, image.transform)


def test_the_dates_given_or_a_conv3d_tell_the_time_axis(series, tmp_path, run_cli):
    """[N,2,3,...] fixed both (C=2, T=3: NCTHW) with nothing named: 3 dates of 2 bands fit
    one order only; a Conv3d on the input says NCTHW by itself."""
    stack, paths = series
    for name, conv in (("plain.onnx", False), ("conv3d.onnx", True)):
        model = temporal_model(tmp_path / name, "NCTHW", conv3d=conv)
        got, _ = _predict(run_cli, model, paths, tmp_path / f"{name}.tif")
        np.testing.assert_allclose(got, _reference(stack, 3, 2), atol=1e-5)


def test_a_fixed_count_of_dates_other_than_given_is_one_line(series, tmp_path, run_cli):
    _, paths = series
    model = temporal_model(tmp_path / "m.onnx", "NTCHW", metadata={"layout": "NTCHW"})
    out = tmp_path / "o.tif"
    result = run_cli("predict", model, paths[0], "--extra-bands", paths[1], "-o", out)
    assert_one_line_error(result, "m.onnx takes 3 dates", "2 given", "--extra-bands")
    assert not out.exists()


def test_mosaic_of_a_multi_temporal_model_says_how_to_give_its_dates(make_raster, tmp_path,
                                                                   run_cli):
    """predict --mosaic of two tiles with a 3-date model: told to give '--extra-bands once
    per further date' (exit 1), which --mosaic then refused as bad usage ('cannot be
    combined with --extra-bands', exit 2, no way out named): a dead end. Now the model's
    need is an input refusal (exit 1) and the options' clash bad usage (exit 2), as the
    CLI's others are (--mosaic --workers: 2; the model's resolution under --mosaic: 1),
    both naming the way that works: each date's tiles mosaicked, predicted without
    --mosaic."""
    from rasterio.transform import from_origin

    from tests.conftest import UTM_ORIGIN

    model = temporal_model(tmp_path / "m.onnx", "NTCHW", metadata={"layout": "NTCHW"})
    rng = np.random.default_rng(3)
    tiles = {(date, col): make_raster(
        f"d{date}_{col}.tif", rng.random((2, 20, 20)).astype(np.float32),
        transform=from_origin(UTM_ORIGIN[0] + 10 * col, UTM_ORIGIN[1], 0.5, 0.5))
        for date in range(3) for col in range(2)}
    out = tmp_path / "out"
    result = run_cli("predict", model, tiles[0, 0], tiles[0, 1], "-o", f"{out}/", "--mosaic")
    assert_one_line_error(result, "m.onnx takes 3 dates", "--mosaic", "gdalbuildvrt",
                          "without --mosaic")
    assert "give --extra-bands once" not in result.stderr
    result = run_cli("predict", model, tiles[0, 0], tiles[0, 1], "--extra-bands",
                     tiles[1, 0], "--extra-bands", tiles[2, 0], "-o", f"{out}/", "--mosaic")
    assert_one_line_error(result, "--mosaic cannot be combined with --extra-bands",
                          "gdalbuildvrt", "without --mosaic", code=2)
    assert not out.exists()


def test_dates_of_ambiguous_axes_are_one_line_saying_how_to_tell(make_raster, tmp_path,
                                                                 run_cli):
    """[N,2,2,H,W] given 2 dates of 2 bands: either order fits, nothing says which."""
    rng = np.random.default_rng(3)
    paths = [make_raster(f"d{i}.tif", rng.random((2, 20, 20)).astype(np.float32))
             for i in range(2)]
    model = temporal_model(tmp_path / "m.onnx", "NTCHW", dates=2, channels=2)
    out = tmp_path / "o.tif"
    result = run_cli("predict", model, paths[0], "--extra-bands", paths[1], "-o", out)
    assert_one_line_error(result, "m.onnx", "layout=NTCHW or layout=NCTHW")
    assert not out.exists()


def test_bands_mean_std_and_uint8_apply_to_every_date(make_raster, tmp_path, run_cli):
    """--bands picks every date's bands; --mean/--std of one date's channels, every date's;
    uint8 dates divided by 255 alike."""
    rng = np.random.default_rng(5)
    stack = rng.integers(0, 256, (3, 3, HEIGHT, WIDTH), dtype=np.uint8)
    paths = [make_raster(f"u{i}.tif", stack[i]) for i in range(3)]
    model = temporal_model(tmp_path / "m.onnx", "NCTHW", metadata={"layout": "NCTHW"})
    got, _ = _predict(run_cli, model, paths, tmp_path / "o.tif", "--bands", "3,1",
                      "--mean", "0.5,0.25", "--std", "0.5,2")
    fed = stack[:, [2, 0]].astype(np.float64) / 255
    fed = (fed - np.array([0.5, 0.25]).reshape(1, 2, 1, 1)) / np.array(
        [0.5, 2]).reshape(1, 2, 1, 1)
    np.testing.assert_allclose(got, _reference(fed, 3, 2), atol=1e-4)


def test_api_tta_and_workers_give_the_same(series, tmp_path, run_cli):
    """predict_raster takes the dates as a list; --tta flips every date alike."""
    from geotile.model import OnnxModel
    from geotile.predict import PredictOptions, predict_raster

    stack, paths = series
    model = temporal_model(tmp_path / "m.onnx", "NTCHW", metadata={"layout": "NTCHW"})
    want = _reference(stack, 3, 2)
    loaded = OnnxModel.from_path(model, activation="none")
    predict_raster(loaded, paths[0], tmp_path / "api.tif", extra_bands=paths[1:],
                   options=PredictOptions(dtype="float32", tile_size=32))
    with rasterio.open(tmp_path / "api.tif") as src:
        np.testing.assert_allclose(src.read(), want, atol=1e-5)
    got, _ = _predict(run_cli, model, paths, tmp_path / "tta.tif", "--tta", "flip")
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_resume_digests_every_date(series, tmp_path, run_cli):
    """A changed third date makes --resume predict again."""
    stack, paths = series
    model = temporal_model(tmp_path / "m.onnx", "NTCHW", metadata={"layout": "NTCHW"})
    out = tmp_path / "o.tif"
    _predict(run_cli, model, paths, out, "--resume")
    with rasterio.open(paths[2], "r+") as dst:
        dst.write(stack[2] * 0 + 0.5)
    got, _ = _predict(run_cli, model, paths, out, "--resume")
    changed = stack.copy()
    changed[2] = 0.5
    np.testing.assert_allclose(got, _reference(changed, 3, 2), atol=1e-5)


def test_several_dates_for_a_4d_model_are_one_line(series, tmp_path, run_cli):
    from tests.onnx_models import pointwise_model

    _, paths = series
    model = pointwise_model(tmp_path / "flat.onnx", channels=4)
    result = run_cli("predict", model, paths[0], "--extra-bands", paths[1], "--extra-bands",
                     paths[2], "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "2 --extra-bands rasters for one image", "5-D")


def test_workers_and_folders_per_date_feed_every_image(make_raster, tmp_path, run_cli):
    """Several images: one --extra-bands folder per further date, paired by name; --workers
    gives what one process does."""
    rng = np.random.default_rng(9)
    stacks = {}
    for name in ("a", "b"):
        stacks[name] = rng.random((3, 2, 24, 24)).astype(np.float32)
        for i, folder in enumerate(("t1", "t2", "t3")):
            (tmp_path / folder).mkdir(exist_ok=True)
            make_raster(f"{folder}/{name}.tif", stacks[name][i])
    model = temporal_model(tmp_path / "m.onnx", "NTCHW", metadata={"layout": "NTCHW"})
    for more in ((), ("--workers", 2)):
        out = tmp_path / f"out{len(more)}"
        result = run_cli("predict", model, tmp_path / "t1" / "a.tif", tmp_path / "t1" / "b.tif",
                         "--extra-bands", tmp_path / "t2", "--extra-bands", tmp_path / "t3",
                         "-o", out, "--dtype", "float32", "--activation", "none", *more)
        assert result.exit_code == 0, result.output
        for name, stack in stacks.items():
            with rasterio.open(out / f"{name}.tif") as src:
                np.testing.assert_allclose(src.read(), _reference(stack, 3, 2), atol=1e-5)


def test_a_date_on_another_scale_is_one_line_naming_it(series, make_raster, tmp_path,
                                                       run_cli):
    """The third date in reflectance x 10000 beside two of 0..1: fed alike, the model would
    see a change everywhere, as of two dates (geotile.date_ranges)."""
    stack, paths = series
    paths[2] = make_raster("d2_dn.tif", stack[2] * 10000)
    model = temporal_model(tmp_path / "m.onnx", "NTCHW", metadata={"layout": "NTCHW"})
    out = tmp_path / "o.tif"
    result = run_cli("predict", model, paths[0], "--extra-bands", paths[1], "--extra-bands",
                     paths[2], "-o", out)
    assert_one_line_error(result, "d0.tif and d2_dn.tif", "different scales")
    assert not out.exists()


def test_verbose_names_the_time_axis_and_dates(series, tmp_path, run_cli):
    _, paths = series
    model = temporal_model(tmp_path / "m.onnx", "NCTHW", conv3d=True)
    result = run_cli("-v", "predict", model, *paths[:1], "--extra-bands", paths[1],
                     "--extra-bands", paths[2], "-o", tmp_path / "o.tif")
    assert result.exit_code == 0, result.output
    assert "Provider, x0 [N,2,3,H,W] [N,C,T,H,W] (3 dates of 2 channels)" in result.stderr


def test_no_further_date_or_one_of_other_bands_is_one_line(series, make_raster, tmp_path,
                                                           run_cli):
    stack, paths = series
    model = temporal_model(tmp_path / "m.onnx", "NTCHW", metadata={"layout": "NTCHW"})
    result = run_cli("predict", model, paths[0], "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "takes 3 dates", "but 1 given", "(2 of them)")
    three = make_raster("three.tif", np.concatenate([stack[2], stack[2][:1]]))
    result = run_cli("predict", model, paths[0], "--extra-bands", paths[1], "--extra-bands",
                     three, "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "d1.tif 2, three.tif 3", "--bands")


@pytest.mark.parametrize("shape", [["N", 3, "H", "W", 2], [1, 3, 32, 32, 2]])
def test_a_channels_last_5d_input_is_one_line(series, tmp_path, run_cli, shape):
    """[N,T,H,W,C] (Keras ConvLSTM) read as [N,T,C,H,W] would feed rows as channels."""
    _, paths = series
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["x"], ["out"], axes=[1], keepdims=0)], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [shape[0], *shape[2:]])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 10
    onnx.save(model, str(tmp_path / "nthwc.onnx"))
    result = run_cli("predict", tmp_path / "nthwc.onnx", paths[0], "--extra-bands", paths[1],
                     "--extra-bands", paths[2], "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "nthwc.onnx", "channels last", "[N,T,C,H,W]")


def test_a_worker_s_warning_on_several_dates_names_the_paths_given(make_raster, tmp_path,
                                                                   run_cli):
    """Workers' warnings are put back in the paths given, each date's among them."""
    rng = np.random.default_rng(2)
    for name in ("a", "b"):
        for folder in ("t1", "t2", "t3"):
            (tmp_path / folder).mkdir(exist_ok=True)
            make_raster(f"{folder}/{name}.tif", rng.integers(0, 3000, (2, 24, 24),
                                                            dtype=np.uint16))
    model = temporal_model(tmp_path / "m.onnx", "NTCHW", metadata={"layout": "NTCHW"})
    result = run_cli("predict", model, tmp_path / "t1" / "a.tif", tmp_path / "t1" / "b.tif",
                     "--extra-bands", tmp_path / "t2", "--extra-bands", tmp_path / "t3",
                     "-o", tmp_path / "out", "--workers", 2, "--resume")
    assert result.exit_code == 0, result.output
    assert "uint16" in result.stderr and "Traceback" not in result.stderr


def test_metadata_mean_std_of_one_date_apply_to_every_date(series, tmp_path, run_cli):
    """A model whose time axis only the dates given tell ([N,2,3,H,W]) with a metadata
    mean/std of its 2 channels was refused ('has 2 values for 1 channels')."""
    stack, paths = series
    model = temporal_model(tmp_path / "m.onnx", "NCTHW",
                           metadata={"mean": "[0.1, 0.2]", "std": "[1, 2]"})
    got, _ = _predict(run_cli, model, paths, tmp_path / "o.tif")
    fed = (stack - np.array([0.1, 0.2]).reshape(1, 2, 1, 1)) / np.array(
        [1, 2]).reshape(1, 2, 1, 1)
    np.testing.assert_allclose(got, _reference(fed, 3, 2), atol=1e-5)


@pytest.mark.parametrize("fixed", [True, False])
def test_predict_array_takes_a_time_series_array(series, tmp_path, fixed):
    """predict_array of a 5-D model was given no way to pass dates: (T, C, H, W) pixels
    now feed them, as the image and --extra-bands do."""
    from geotile.errors import ModelError
    from geotile.model import OnnxModel
    from geotile.predict import PredictOptions, predict_array

    stack, _ = series
    model = OnnxModel.from_path(temporal_model(
        tmp_path / "m.onnx", "NCTHW", fixed=fixed, names=("time",),
        metadata={"layout": "NCTHW"}), activation="none")
    got = predict_array(model, stack, options=PredictOptions(dtype="float32", tile_size=32))
    np.testing.assert_allclose(got, _reference(stack, 3, 2, fixed), atol=1e-5)
    if fixed:  # a symbolic T takes any count
        with pytest.raises(ModelError, match="takes 3 dates"):
            predict_array(model, stack[:2])


def _with_coordinates(path, extra):
    """A Prithvi-EO-2.0 style [1,2,3,H,W] input beside ``extra`` inputs ((name, shape, type)),
    which the output adds 0 times (as TerraTorch's coords_encoding feeds its encoder)."""
    nodes = [helper.make_node("ReduceMean", ["x"], ["out0"], axes=[2], keepdims=0)]
    inits = [onnx.numpy_helper.from_array(np.array(0, np.float32), "zero")]
    last = "out0"
    for i, (name, _, _) in enumerate(extra):
        nodes += [helper.make_node("ReduceSum", [name], [f"s{i}"], keepdims=0),
                  helper.make_node("Cast", [f"s{i}"], [f"f{i}"], to=TensorProto.FLOAT),
                  helper.make_node("Mul", [f"f{i}", "zero"], [f"z{i}"]),
                  helper.make_node("Add", [last, f"z{i}"], [f"out{i + 1}"])]
        last = f"out{i + 1}"
    graph = helper.make_graph(
        nodes, "prithvi",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 3, "H", "W"]),
         *(helper.make_tensor_value_info(n, k, s) for n, s, k in extra)],
        [helper.make_tensor_value_info(last, TensorProto.FLOAT, [1, 2, "H", "W"])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 10
    helper.set_model_props(model, {"layout": "NCTHW"})
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("extra, said", [
    ([("temporal_coords", [1, 3, 2], TensorProto.FLOAT),
      ("location_coords", [1, 2], TensorProto.FLOAT)],
     ["temporal_coords [1,3,2]", "location_coords [1,2]", "year, day of year", "lat, lon"]),
    ([("batch_positions", ["N", 3], TensorProto.INT64)],
     ["batch_positions [N,3]", "day"]),
    ([("dem", ["N", 1, "H", "W"], TensorProto.FLOAT)], ["dem [N,1,H,W]", "pixels alone"]),
    ([("s1", ["N", 2, 3, "H", "W"], TensorProto.FLOAT)], ["x, s1", "one series"])])
def test_a_second_input_of_dates_or_places_is_one_line_naming_it(series, tmp_path, run_cli,
                                                                 extra, said):
    """Prithvi-EO-2.0's temporal_coords/location_coords, U-TAE's batch_positions: the line
    said the image input 'x' ([1,2,3,H,W]) was 'no image batch' and to make it a constant.
    Now it names the inputs geotile cannot fill (acquisition days are in no raster's
    pixels, U-TAE's count from a reference date of its training) and how to export."""
    _, paths = series
    model = _with_coordinates(tmp_path / "coords.onnx", extra)
    out = tmp_path / "o.tif"
    result = run_cli("predict", model, paths[0], "--extra-bands", paths[1], "--extra-bands",
                     paths[2], "-o", out)
    assert_one_line_error(result, "coords.onnx", *said, "x [1,2,3,H,W]"
                          if "one series" not in said else "[N,2,3,H,W]")
    assert "'x'" not in result.stderr and "as a constant" not in result.stderr
    assert not out.exists()


def test_a_symbolic_time_axis_its_graph_fixes_takes_that_count(series, tmp_path, run_cli):
    """[N,T,2,H,W] with T symbolic but a Reshape to 3 x 2 channels inside (a position
    embedding of num_frames=3): the probe's 2 dates failed, so 3 dates given were refused
    as 'its channel axis is symbolic ... export it with its number of channels fixed'. Now
    the probe finds the count it runs on: 3 dates predict, 2 are one line naming 3."""
    from tests.onnx_models import fixed_frames_model

    stack, paths = series
    model = fixed_frames_model(tmp_path / "frames.onnx")
    got, _ = _predict(run_cli, model, paths, tmp_path / "o.tif", "--tile-size", 32,
                      "--overlap", 8)
    np.testing.assert_allclose(got[0], _reference(stack, 3, 2).sum(axis=0), atol=1e-5)
    out = tmp_path / "two.tif"
    result = run_cli("predict", model, paths[0], "--extra-bands", paths[1], "-o", out)
    assert_one_line_error(result, "frames.onnx runs on 3 dates", "2 given", "(2 of them)")
    assert not out.exists()


def test_one_raster_of_every_date_s_bands_is_told_to_split(series, make_raster, tmp_path,
                                                          run_cli):
    """TerraTorch's multi-temporal datasets (HLS crop classification) keep 3 dates x 6 bands
    in one 18-band file; given alone it was told 'give --extra-bands once per further date'
    as if it were one date. Now the line says it holds 3 x 2 bands and how to split it (the
    order of its bands, date- or band-major, only its maker knows)."""
    stack, _ = series
    six = make_raster("stack6.tif", stack.reshape(6, HEIGHT, WIDTH))
    model = temporal_model(tmp_path / "m.onnx", "NCTHW", metadata={"layout": "NCTHW"})
    result = run_cli("predict", model, six, "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "stack6.tif holds 6 bands: 3 dates of 2",
                          "gdal_translate -b 1 -b 2 stack6.tif", "--extra-bands")


def test_a_date_s_folder_beside_a_date_s_file_pairs_by_name(series, make_raster, tmp_path,
                                                           run_cli):
    """One image, the second date a file, the third a folder holding the image's name: it
    was refused as '1 image but 2 --extra-bands rasters: give one per image'."""
    stack, paths = series
    (tmp_path / "t3").mkdir()
    make_raster("t3/d0.tif", stack[2])
    model = temporal_model(tmp_path / "m.onnx", "NTCHW", metadata={"layout": "NTCHW"})
    got, _ = _predict(run_cli, model, [paths[0], paths[1], tmp_path / "t3"], tmp_path / "o.tif")
    np.testing.assert_allclose(got, _reference(stack, 3, 2), atol=1e-5)


def test_more_dates_than_a_symbolic_time_axis_runs_on_is_one_line(series, tmp_path, run_cli):
    """T symbolic, the graph fixed to 2 dates (the probe's count): 3 given failed mid-run as
    'ONNX Runtime failed on a batch of 1 (... cannot be reshaped ...)', no count named."""
    from tests.onnx_models import fixed_frames_model

    _, paths = series
    model = fixed_frames_model(tmp_path / "two.onnx", dates=2)
    out = tmp_path / "o.tif"
    result = run_cli("predict", model, *paths[:1], "--extra-bands", paths[1], "--extra-bands",
                     paths[2], "-o", out)
    assert_one_line_error(result, "two.onnx runs on 2 dates", "3 given", "(1 of them)")
    assert not out.exists()


def test_predict_array_of_dates_stacked_in_channels_is_refused(series, tmp_path):
    """(T*C, H, W) pixels for a 5-D model skipped the dates' checks: fed date-major as they
    came (a band-major stack swapped bands and dates, exit 0) and one date's mean/std
    raised numpy's 'operands could not be broadcast'. Now one ModelError asks for
    (T, C, H, W)."""
    from geotile.errors import ModelError
    from geotile.model import OnnxModel
    from geotile.predict import predict_array

    stack, _ = series
    path = temporal_model(tmp_path / "m.onnx", "NCTHW", metadata={"layout": "NCTHW"})
    for mean in (None, [0.1, 0.2]):
        model = OnnxModel.from_path(path, activation="none", mean=mean,
                                    std=None if mean is None else [1, 2])
        with pytest.raises(ModelError, match=r"3 dates of 2 channels.*\(T, C, H, W\)"):
            predict_array(model, stack.reshape(6, HEIGHT, WIDTH))


def test_one_file_given_as_two_dates_is_warned_of(series, tmp_path, run_cli):
    """d0.tif as dates 1 and 2 (a copy-paste) predicted silently; a repeated date may be
    meant (a cloudy date filled with the one before), so it is one warning naming both."""
    stack, paths = series
    model = temporal_model(tmp_path / "m.onnx", "NTCHW", metadata={"layout": "NTCHW"})
    got, _ = _predict(run_cli, model, [paths[0], paths[0], paths[2]], tmp_path / "o.tif")
    np.testing.assert_allclose(got, _reference(stack[[0, 0, 2]], 3, 2), atol=1e-5)
    result = run_cli("predict", model, paths[0], "--extra-bands", paths[1], "--extra-bands",
                     paths[1], "-o", tmp_path / "o2.tif")
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if "Warning" in line]
    assert len(warned) == 1 and "d1.tif is given as dates 2 and 3" in warned[0], result.stderr


def test_dates_naming_their_bands_in_other_orders_are_one_line(series, make_raster,
                                                               tmp_path, run_cli):
    """The third date's bands described 'nir, red' beside 'red, nir' were fed as they came
    (red beside nir, exit 0). Now one line names both orders and --bands by the names,
    which picks each date's bands by its own."""
    stack, _ = series
    names = ["red", "nir"]
    paths = [make_raster(f"n{i}.tif", stack[i] if i < 2 else stack[i][::-1].copy(),
                         descriptions=names if i < 2 else names[::-1]) for i in range(3)]
    model = temporal_model(tmp_path / "m.onnx", "NTCHW", metadata={"layout": "NTCHW"})
    out = tmp_path / "o.tif"
    result = run_cli("predict", model, paths[0], "--extra-bands", paths[1], "--extra-bands",
                     paths[2], "-o", out)
    assert_one_line_error(result, "n0.tif and n2.tif", "red, nir", "nir, red",
                          "--bands red,nir")
    assert not out.exists()
    got, _ = _predict(run_cli, model, paths, out, "--bands", "red,nir")
    np.testing.assert_allclose(got, _reference(stack, 3, 2), atol=1e-5)


def test_a_time_axis_of_one_date_takes_the_image_alone(series, tmp_path, run_cli):
    """[N,1,2,H,W] (a 5-D export of a single-date model) given its one 2-band image was told
    'd0.tif holds 2 bands: 1 dates of 2 ... Split it: gdal_translate -b 1 -b 2', exit 1; a
    second date was told '(0 of them)'. Now the image alone predicts; a further date is one
    line saying to give none."""
    stack, paths = series
    model = temporal_model(tmp_path / "one.onnx", "NTCHW", dates=1)
    got, _ = _predict(run_cli, model, paths[:1], tmp_path / "o.tif", "--tile-size", 32,
                      "--overlap", 8)
    np.testing.assert_allclose(got, _reference(stack[:1], 1, 2), atol=1e-5)
    out = tmp_path / "two.tif"
    result = run_cli("predict", model, paths[0], "--extra-bands", paths[1], "-o", out)
    assert_one_line_error(result, "one.onnx takes 1 date ", "2 given",
                          "give no --extra-bands")
    assert not out.exists()


@pytest.mark.parametrize("dates,channels", [(2, 3), (3, 3)])
def test_a_conv3d_on_the_input_tells_ncthw_whatever_its_axes_say(make_raster, tmp_path,
                                                                  run_cli, dates, channels):
    """A Conv3d U-Net exported with every axis dynamic (torch dynamic_axes [0, 1, 2, 3, 4])
    was fed [N,2,3,H,W] by the probe and refused as 'its channel axis is symbolic ...
    export it with its number of channels fixed'; 3 dates of 3 bands (T = C) as 'takes 3
    dates of 3 channels as [N,T,C,H,W] or [N,C,T,H,W] alike'. ONNX's Conv takes
    [N,C,D,H,W]: a Conv3d on the input says its axis 1 holds the channels."""
    rng = np.random.default_rng(3)
    stack = rng.random((dates, channels, HEIGHT, WIDTH)).astype(np.float32)
    paths = [make_raster(f"c{i}.tif", stack[i]) for i in range(dates)]
    model = temporal_model(tmp_path / "m.onnx", "NCTHW", dates, channels, conv3d=True)
    proto = onnx.load(str(model))
    for axis in (1, 2):
        proto.graph.input[0].type.tensor_type.shape.dim[axis].dim_param = f"x_dynamic_{axis}"
    onnx.save(proto, str(model))
    got, _ = _predict(run_cli, model, paths, tmp_path / "o.tif", "--tile-size", 32,
                      "--overlap", 8)
    np.testing.assert_allclose(got, _reference(stack, dates, channels), atol=1e-5)


def test_model_resolution_resamples_every_date_as_the_image(series, make_raster, tmp_path,
                                                             run_cli):
    """--model-resolution 20 of 10 m dates averaged the image (date 1) onto the model's
    grid but resampled the --extra-bands dates bilinearly: one file given as dates 1 and 3
    reached the model 0.12 apart (a change everywhere), exit 0. Now each date is resampled
    as the image: three copies of one raster give W-weighted sums of one resampled image."""
    stack, _ = series
    copies = [make_raster(f"copy{i}.tif", stack[0]) for i in range(3)]
    model = temporal_model(tmp_path / "m.onnx", "NTCHW", metadata={"layout": "NTCHW"})
    got, _ = _predict(run_cli, model, copies, tmp_path / "o.tif", "--model-resolution", 20)
    identity = tmp_path / "identity.onnx"
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], "identity",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2, "H", "W"])])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 10
    onnx.save(proto, str(identity))
    resampled, _ = _predict(run_cli, identity, copies[:1], tmp_path / "r.tif",
                            "--model-resolution", 20)
    assert np.abs(resampled - stack[0]).max() > 0.1  # resampled indeed
    expected = np.einsum("tc,chw->chw", temporal_weights(3, 2), resampled)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_an_output_keeping_the_dates_axis_is_one_line_saying_so(series, tmp_path, run_cli):
    """A model giving a map per date ([N,K,T,H,W]: a per-date segmentation) was told
    'output 'y' has shape [1, 3, 2, 512, 512] ...; geotile needs [N,K,H,W], [N,H,W,K] or
    [N,H,W]', nothing of the dates or the re-export."""
    _, paths = series
    model = tmp_path / "per_date.onnx"
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], "per_date",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", "T", 2, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", "T", 2, "H", "W"])])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 10
    onnx.save(proto, str(model))
    out = tmp_path / "o.tif"
    result = run_cli("predict", model, paths[0], "--extra-bands", paths[1], "--extra-bands",
                     paths[2], "-o", out)
    assert_one_line_error(result, "per_date.onnx", "5-D", "a map per date",
                          "Re-export it with the dates reduced")
    assert not out.exists()


def test_a_pair_check_names_the_dates_by_number(series, make_raster, tmp_path, run_cli):
    """Three dates, the third of another type or scale, were told as of a change detection
    model: 'd0.tif and d2.tif: the two dates of m.onnx ... (the first's ..., the second's
    ...)', the third date called the second. Now: 'dates 1 and 3 of m.onnx', 'date 3's'."""
    stack, paths = series
    model = temporal_model(tmp_path / "m.onnx", "NTCHW", metadata={"layout": "NTCHW"})
    uint8 = [make_raster(f"u{i}.tif", (stack[i] * 255).astype(np.uint8)) for i in range(2)]
    cases = (([*uint8, make_raster("u2.tif", (stack[2] * 10000).astype(np.uint16))],
              "u0.tif and u2.tif: dates 1 and 3 of m.onnx", "date 3's uint16"),
             ([*paths[:2], make_raster("d2_dn.tif", stack[2] * 10000)],
              "d0.tif and d2_dn.tif: dates 1 and 3 of m.onnx", "date 3's"))
    for dates, pair, third in cases:
        result = run_cli("predict", model, dates[0], "--extra-bands", dates[1],
                         "--extra-bands", dates[2], "-o", tmp_path / "o.tif")
        assert_one_line_error(result, pair, third)
        assert "second's" not in result.stderr


def test_a_graph_needing_at_least_some_dates_says_fewer_fail(make_raster, tmp_path, run_cli):
    """A Conv3d of temporal kernel 3 without padding runs on 3 dates or more: given 2 it was
    told 'runs on 3 dates (... T is symbolic, its graph fixes it ...)', as if 4 would fail
    too (they predict). Now the line says fewer fail; 4 dates predict."""
    rng = np.random.default_rng(5)
    stack = rng.random((4, 2, HEIGHT, WIDTH)).astype(np.float32)
    paths = [make_raster(f"n{i}.tif", stack[i]) for i in range(4)]
    kernel = np.arange(1, 7, dtype=np.float32).reshape(1, 2, 3, 1, 1) / 10
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "k"], ["c"], kernel_shape=[3, 1, 1]),
         helper.make_node("ReduceMean", ["c"], ["y"], axes=[2], keepdims=0)], "nopad",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, "time", "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1, "H", "W"])],
        [onnx.numpy_helper.from_array(kernel, "k")])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 10
    model = tmp_path / "nopad.onnx"
    onnx.save(proto, str(model))
    got, _ = _predict(run_cli, model, paths, tmp_path / "four.tif")
    x = stack.transpose(1, 0, 2, 3)  # C, T, H, W
    windows = [np.einsum("ct,cthw->hw", kernel[0, :, :, 0, 0], x[:, t:t + 3]) for t in range(2)]
    np.testing.assert_allclose(got[0], np.mean(windows, axis=0), atol=1e-5)
    out = tmp_path / "two.tif"
    result = run_cli("predict", model, paths[0], "--extra-bands", paths[1], "-o", out)
    assert_one_line_error(result, "nopad.onnx runs on 3 dates", "fewer fail", "2 given",
                          "(2 of them)")
    assert "fixes it" not in result.stderr
    assert not out.exists()


def test_a_date_leaving_an_integer_model_s_range_is_named(series, make_raster, tmp_path,
                                                          run_cli):
    """A uint8-input 5-D model given two uint8 dates and a third of uint16 pixels up to 3999
    was told 'd0.tif: ... takes uint8 pixels (0..255) and the image's pixels reach 0..3999',
    the image blamed for the third date's pixels. Now the line names the date's file."""
    stack, _ = series
    weights = np.arange(1, 7, dtype=np.float32).reshape(1, 3, 2, 1, 1) / 10
    graph = helper.make_graph(
        [helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT),
         helper.make_node("Mul", ["xf", "w"], ["m"]),
         helper.make_node("ReduceSum", ["m", "axes"], ["y"], keepdims=0)], "uint8",
        [helper.make_tensor_value_info("x", TensorProto.UINT8, ["N", 3, 2, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2, "H", "W"])],
        [onnx.numpy_helper.from_array(weights, "w"),
         onnx.numpy_helper.from_array(np.array([1], np.int64), "axes")])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 10
    helper.set_model_props(proto, {"layout": "NTCHW"})
    model = tmp_path / "u8.onnx"
    onnx.save(proto, str(model))
    dates = [make_raster(f"u{i}.tif", (stack[i] * 250).astype(np.uint8)) for i in range(2)]
    dates.append(make_raster("dn.tif", (stack[2] * 3999).astype(np.uint16)))
    out = tmp_path / "o.tif"
    result = run_cli("predict", model, dates[0], "--extra-bands", dates[1], "--extra-bands",
                     dates[2], "-o", out)
    assert_one_line_error(result, "takes uint8 pixels (0..255)", "dn.tif's pixels reach",
                          "--scale")
    assert "the image's" not in result.stderr
    assert not out.exists()
