"""predict --mosaic: adjacent tiles on one pixel grid predicted as one seamless surface."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import onnx
import pytest
import rasterio
from onnx import TensorProto, helper, numpy_helper
from rasterio.enums import ColorInterp
from rasterio.transform import from_origin

from geotile.cli.main import cli
from geotile.errors import InputError
from geotile.model import OnnxModel
from geotile.mosaic import open_mosaic
from geotile.predict import PredictOptions, predict_raster
from geotile.vectorize import VectorizeOptions, vectorize_polygons

from .conftest import assert_one_line_error, cli_runner
from .onnx_models import IR_VERSION, conv3x3_model, conv_weights, pointwise_model

X0, Y0, PIXEL = 400000.0, 5800000.0, 0.5
COLS, ROWS = [0, 45, 83, 130], [0, 37, 81, 120]  # uneven tiles, not multiples of the stride


def _write(path, pixels, col=0, row=0, crs="EPSG:32633", pixel=PIXEL, nodata=None):
    transform = from_origin(X0 + col * pixel, Y0 - row * pixel, pixel, pixel)
    with rasterio.open(path, "w", driver="GTiff", width=pixels.shape[2], height=pixels.shape[1],
                       count=pixels.shape[0], dtype=pixels.dtype, crs=crs,
                       transform=transform, nodata=nodata) as dst:
        dst.write(pixels)
    return path


@pytest.fixture
def scene(tmp_path):
    """(merged scene path, scene pixels, [(tile path, col, row, width, height)])."""
    pixels = np.random.default_rng(3).integers(1, 256, (3, ROWS[-1], COLS[-1]), np.uint8)
    merged = _write(tmp_path / "scene.tif", pixels)
    (tmp_path / "tiles").mkdir()
    tiles = []
    for i in range(3):
        for j in range(3):
            part = pixels[:, ROWS[i] : ROWS[i + 1], COLS[j] : COLS[j + 1]]
            path = _write(tmp_path / "tiles" / f"t{i}{j}.tif", part, COLS[j], ROWS[i])
            tiles.append((path, COLS[j], ROWS[i], part.shape[2], part.shape[1]))
    return merged, pixels, tiles


def _read(path):
    with rasterio.open(path) as src:
        return src.read(), src.transform, src.crs


def valid_conv_model(path):
    """A 3x3 convolution without padding: the output is 2 px smaller than the window."""
    weights, bias = conv_weights(3, 1, 3, 5)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input", "W", "B"], ["output"], kernel_shape=[3, 3])],
        "valid", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 32, 32])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 1, 30, 30])],
        [numpy_helper.from_array(weights, "W"), numpy_helper.from_array(bias, "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = IR_VERSION
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("make_model", [pointwise_model, conv3x3_model, valid_conv_model])
def test_mosaic_equals_merged_scene_cut(tmp_path, scene, make_model):
    merged, _, tiles = scene
    model = OnnxModel.from_path(make_model(tmp_path / "m.onnx"))
    options = PredictOptions(tile_size=32, batch_size=3)
    predict_raster(model, merged, tmp_path / "merged_out.tif", options=options)
    whole, _, _ = _read(tmp_path / "merged_out.tif")
    mosaic = open_mosaic([t[0] for t in tiles])
    assert (mosaic.width, mosaic.height) == (COLS[-1], ROWS[-1])
    edge_differs = []
    for path, col, row, width, height in tiles:
        out = tmp_path / "mosaic" / path.name
        out.parent.mkdir(exist_ok=True)
        predict_raster(model, path, out, options=options, mosaic=mosaic)
        got, transform, crs = _read(out)
        with rasterio.open(path) as src:
            assert transform == src.transform and crs == src.crs
        assert got.shape == (1, height, width) and got.dtype == np.float32
        expected = whole[:, row : row + height, col : col + width]
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
        single = tmp_path / "single" / path.name
        single.parent.mkdir(exist_ok=True)
        predict_raster(model, path, single, options=options)
        alone, _, _ = _read(single)
        edge_differs.append(not np.allclose(alone, expected, atol=1e-3, equal_nan=True))
    # per-tile predict differs along the tile edges for the 3x3 convs (context cut off; the
    # valid convolution leaves each tile's margin unpredicted)
    assert all(edge_differs) == (make_model is not pointwise_model)


def test_cli_mosaic_and_vectorize_gives_one_polygon_per_building(tmp_path):
    """A building straddling the corner of four tiles is one polygon."""
    pixels = np.zeros((3, 80, 80), np.uint8)
    pixels[:, 30:50, 25:55] = 255  # crosses the tile edges at 40 px both ways
    pixels[:, 5:12, 5:12] = 255  # inside one tile
    (tmp_path / "tiles").mkdir()
    paths = []
    for r in (0, 40):
        for c in (0, 40):
            paths.append(str(_write(tmp_path / "tiles" / f"t{r}_{c}.tif",
                                    pixels[:, r : r + 40, c : c + 40], c, r)))
    model = pointwise_model(tmp_path / "m.onnx", seed=1)  # ground -0.65, buildings 0.85
    result = cli_runner().invoke(cli, ["predict", str(model), *paths, "-o",
                                      str(tmp_path / "pred"), "--mosaic", "--tile-size", "32",
                                      "--output-type", "class"])
    assert result.exit_code == 0, result.output
    outputs = sorted((tmp_path / "pred").glob("*.tif"))
    assert [p.name for p in outputs] == sorted(p.split("/")[-1] for p in paths)
    with rasterio.open(outputs[0]) as src:
        ids = src.read(1)
    assert ids[5, 5] == 1 and ids[20, 20] == 0
    vectorize_polygons(outputs, tmp_path / "b.gpkg", options=VectorizeOptions())
    found = gpd.read_file(tmp_path / "b.gpkg")
    areas = sorted(found.geometry.area)
    assert len(found) == 2
    assert areas == pytest.approx([7 * 7 * PIXEL**2, 20 * 30 * PIXEL**2])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"crs": "EPSG:32632"}, "CRS"),
    ({"pixel": 0.25}, "pixel size"),
    ({"col": 10.5}, "whole number of pixels"),
])
def test_tiles_off_the_grid_are_refused_with_the_gdalwarp_fix(tmp_path, kwargs, message):
    a = _write(tmp_path / "a.tif", np.zeros((3, 10, 10), np.uint8))
    b = _write(tmp_path / "b.tif", np.zeros((3, 10, 10), np.uint8), **{"col": 10, **kwargs})
    with pytest.raises(InputError, match=message) as info:
        open_mosaic([a, b])
    text = str(info.value)
    assert "b.tif" in text and "gdalwarp" in text and "\n" not in text
    model = pointwise_model(tmp_path / "m.onnx")
    result = cli_runner().invoke(cli, ["predict", str(model), str(a), str(b), "-o",
                                      str(tmp_path / "out"), "--mosaic"])
    assert result.exit_code == 1 and "gdalwarp" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"crs": "EPSG:32632"}, "CRS"),
    ({"pixel": 0.25}, "pixel size"),
    ({"col": 10.5}, "whole number of pixels"),
])
def test_tiles_off_the_grid_with_merge_too_name_the_way_out_of_both(tmp_path, kwargs,
                                                                    message):
    """--mosaic --merge of a tile off the grid: the refusal's way out is dropping both,
    not "or leave out --merge" (without it, --mosaic refuses the same tile)."""
    a = _write(tmp_path / "a.tif", np.zeros((3, 10, 10), np.uint8))
    b = _write(tmp_path / "b.tif", np.zeros((3, 10, 10), np.uint8), **{"col": 10, **kwargs})
    model = pointwise_model(tmp_path / "m.onnx")
    args = ["predict", str(model), str(a), str(b), "-o", str(tmp_path / "out"), "--mosaic"]
    result = cli_runner().invoke(cli, [*args, "--merge", str(tmp_path / "m.vrt")])
    assert_one_line_error(result, "b.tif", message, "gdalwarp",
                          "or predict without --mosaic and --merge")
    assert not (tmp_path / "out").exists() and not (tmp_path / "m.vrt").exists()


@pytest.mark.parametrize(("second", "message"), [
    ({"pixels": np.zeros((3, 10, 10), np.uint16), "col": 10}, "uint16 pixels, a.tif has uint8"),
    ({"pixels": np.zeros((3, 10, 10), np.uint8), "col": 8}, "overlaps a.tif by 2 x 10 px"),
    ({"pixels": np.zeros((3, 4, 4), np.uint8), "col": 3, "row": 3}, "overlaps a.tif by 4 x 4"),
    ({"pixels": np.zeros((5, 10, 10), np.uint8), "col": 10},
     "5 bands, a.tif has 3; a mosaic's tiles need the same bands: give them the same "
     "(gdal_translate -b 1 -b 2 -b 3), or predict without --mosaic."),
])
def test_tiles_read_as_one_surface_share_a_type_and_no_pixel(tmp_path, second, message):
    """A mosaic's tiles are read and normalised as one surface: a tile of another data type
    (uint16 wrapped into uint8, or uint8 left unscaled) or one overlapping another (its
    pixels would be the other's) is refused before any work."""
    a = _write(tmp_path / "a.tif", np.zeros((3, 10, 10), np.uint8))
    b = _write(tmp_path / "b.tif", **second)
    model = pointwise_model(tmp_path / "m.onnx")
    result = cli_runner().invoke(cli, ["predict", str(model), str(a), str(b), "-o",
                                      str(tmp_path / "out"), "--mosaic"])
    assert result.exit_code == 1 and message in result.output, result.output
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()
    assert len(result.output.strip().splitlines()) == 1


def test_mosaic_of_rgb_and_rgba_tiles_reads_the_alpha_as_their_mask(tmp_path):
    """An RGB tile beside an RGBA tile (alpha 0 outside the ortho's footprint), as one
    delivery comes: --mosaic refused them ('4 bands, a.tif has 3', exit 1) and proposed
    gdal_translate -b 1 -b 2 -b 3, which drops the alpha and feeds its transparent pixels
    to the model. Now the alpha is the tile's mask, as predicting it alone: both tiles equal
    the merged RGBA scene predicted alone, and --merge gives that scene on its grid."""
    stack = np.random.default_rng(11).integers(1, 250, (4, 40, 80)).astype(np.uint8)
    stack[3] = 255
    stack[3, 5:30, 50:70] = 0  # outside the footprint, in the right tile
    merged = tmp_path / "scene.tif"
    tiles = tmp_path / "tiles"
    tiles.mkdir()
    alpha = {"photometric": "RGB", "alpha": "YES"}
    for path, pixels, col, profile in ((merged, stack, 0, alpha),
                                       (tiles / "a.tif", stack[:3, :, :40], 0, {}),
                                       (tiles / "b.tif", stack[:, :, 40:], 40, alpha)):
        with rasterio.open(path, "w", driver="GTiff", width=pixels.shape[2],
                           height=pixels.shape[1], count=pixels.shape[0], dtype="uint8",
                           crs="EPSG:32633", transform=from_origin(X0 + col * PIXEL, Y0,
                                                                   PIXEL, PIXEL),
                           **profile) as dst:
            dst.write(pixels)
    model = conv3x3_model(tmp_path / "m.onnx")
    common = ["--tile-size", "32", "--overlap", "8", "-q"]
    result = cli_runner().invoke(cli, ["predict", str(model), str(merged), "-o",
                                      str(tmp_path / "alone.tif"), *common])
    assert result.exit_code == 0, result.output
    result = cli_runner().invoke(cli, ["predict", str(model), str(tiles / "a.tif"),
                                      str(tiles / "b.tif"), "-o", str(tmp_path / "out"),
                                      "--mosaic", "--merge", str(tmp_path / "m.tif"), *common])
    assert result.exit_code == 0, result.output
    alone, transform, crs = _read(tmp_path / "alone.tif")
    assert np.isnan(alone).sum() == 25 * 20
    for name, col in (("a.tif", 0), ("b.tif", 40)):
        got, _, _ = _read(tmp_path / "out" / name)
        part = alone[:, :, col : col + 40]
        np.testing.assert_array_equal(np.isnan(got), np.isnan(part))
        np.testing.assert_allclose(got, part, atol=1e-5, rtol=0)
    whole, merged_transform, merged_crs = _read(tmp_path / "m.tif")
    assert (merged_transform, merged_crs) == (transform, crs)
    np.testing.assert_allclose(whole, alone, atol=1e-5, rtol=0)


def test_nodata_and_gaps_in_the_mosaic(tmp_path, scene):
    """A missing neighbour and nodata pixels are invalid context, as in the merged scene."""
    _, pixels, tiles = scene
    model = OnnxModel.from_path(conv3x3_model(tmp_path / "m.onnx"))
    options = PredictOptions(tile_size=32)
    kept = [t for t in tiles if t[0].name != "t11.tif"]  # the centre tile is missing
    holed = pixels.copy()
    _, col, row, width, height = next(t for t in tiles if t[0].name == "t11.tif")
    holed[:, row : row + height, col : col + width] = 0
    whole_path = _write(tmp_path / "holed.tif", holed, nodata=0)
    predict_raster(model, whole_path, tmp_path / "holed_out.tif", options=options)
    whole, _, _ = _read(tmp_path / "holed_out.tif")
    mosaic = open_mosaic([t[0] for t in kept])
    path, col, row, width, height = kept[1]  # t01: above the gap
    predict_raster(model, path, tmp_path / "t01.tif", options=options, mosaic=mosaic)
    got, _, _ = _read(tmp_path / "t01.tif")
    expected = whole[:, row : row + height, col : col + width]
    assert not np.isnan(got).any()
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


def test_nan_gaps_of_float_tiles_are_nodata_as_in_the_merged_scene(tmp_path, scene):
    """Float tiles with NaN gaps and no nodata declared: the mosaic treats the gaps as the
    merged scene does (invalid context, NaN out), never as a model failure."""
    _, pixels, tiles = scene
    model = OnnxModel.from_path(conv3x3_model(tmp_path / "m.onnx"))
    options = PredictOptions(tile_size=32)
    floats = pixels.astype(np.float32) / 255
    floats[:, 30:50, 40:60] = np.nan  # across the corner of four tiles
    merged = _write(tmp_path / "nan.tif", floats)
    predict_raster(model, merged, tmp_path / "nan_out.tif", options=options)
    whole, _, _ = _read(tmp_path / "nan_out.tif")
    assert np.isnan(whole[:, 30:50, 40:60]).all()
    paths = []
    for path, col, row, width, height in tiles:
        paths.append(_write(tmp_path / f"f{path.name}", floats[:, row : row + height,
                                                               col : col + width], col, row))
    mosaic = open_mosaic(paths)
    _, col, row, width, height = tiles[0]  # t00: holds part of the gap
    predict_raster(model, paths[0], tmp_path / "f00.tif", options=options, mosaic=mosaic)
    got, _, _ = _read(tmp_path / "f00.tif")
    np.testing.assert_allclose(got, whole[:, row : row + height, col : col + width], atol=1e-5,
                               rtol=0)


@pytest.mark.parametrize("kwargs", [{"dtype": "uint8"}, {"output_type": "class", "threshold": 0.3}])
def test_mosaic_uint8_and_class_outputs_equal_the_merged_scene(tmp_path, scene, kwargs):
    merged, _, tiles = scene
    model = OnnxModel.from_path(conv3x3_model(tmp_path / "m.onnx", activation="sigmoid"))
    options = PredictOptions(tile_size=32, **kwargs)
    predict_raster(model, merged, tmp_path / "merged_out.tif", options=options)
    whole, _, _ = _read(tmp_path / "merged_out.tif")
    mosaic = open_mosaic([t[0] for t in tiles])
    for path, col, row, width, height in tiles:
        predict_raster(model, path, tmp_path / path.name, options=options, mosaic=mosaic)
        got, _, _ = _read(tmp_path / path.name)
        expected = whole[:, row : row + height, col : col + width]
        assert got.dtype == np.uint8
        assert np.abs(got.astype(int) - expected).max() <= (1 if "dtype" in kwargs else 0)


def test_mosaic_resume_skips_finished_tiles_and_redoes_after_a_neighbour_changes(tmp_path,
                                                                                  scene):
    _, pixels, tiles = scene
    model = pointwise_model(tmp_path / "m.onnx")
    args = ["predict", str(model), *[str(t[0]) for t in tiles], "-o", str(tmp_path / "out"),
            "--mosaic", "--tile-size", "32", "--resume"]
    first = cli_runner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    again = cli_runner().invoke(cli, args)
    assert again.exit_code == 0 and again.output.count("skipped (--resume)") == 9
    path, col, row, _, _ = tiles[4]  # the centre tile changes: every tile is redone
    _write(path, 255 - pixels[:, row : row + 37 + 7, col : col + 38], col, row)
    redone = cli_runner().invoke(cli, args)
    assert redone.exit_code == 0 and "skipped" not in redone.output


def test_mosaic_outputs_and_resume_do_not_depend_on_the_order_of_the_tiles(tmp_path, scene):
    """The same 9 tiles listed in reverse (another glob order, a folder): the outputs were
    pixel-equal but their completion tags differed, so --resume redid all 9 outputs."""
    _, _, tiles = scene
    model = pointwise_model(tmp_path / "m.onnx")
    paths = [str(t[0]) for t in tiles]

    def run(order, out, *more):
        result = cli_runner().invoke(cli, ["predict", str(model), *order, "-o", str(out),
                                          "--mosaic", "--tile-size", "32", *more])
        assert result.exit_code == 0, result.output
        return result

    run(paths, tmp_path / "a")
    run(paths[::-1], tmp_path / "b")
    for path in paths:
        name = path.rsplit("/", 1)[-1]
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    run(paths, tmp_path / "c", "--resume")
    again = run(paths[::-1], tmp_path / "c", "--resume")
    assert again.output.count("skipped (--resume)") == 9


def test_mosaic_refuses_resampling_and_extra_bands_in_one_line(tmp_path, scene):
    """Refused before anything is written: the output folder was left behind, empty."""
    _, _, tiles = scene
    model = pointwise_model(tmp_path / "m.onnx")
    with_resolution = pointwise_model(tmp_path / "r.onnx", metadata={"resolution": "100"})
    paths = [str(t[0]) for t in tiles[:2]]
    for path, more in ((model, ["--model-resolution", "1.0"]), (with_resolution, [])):
        result = cli_runner().invoke(cli, ["predict", str(path), *paths, "-o",
                                          str(tmp_path / "o" / "out"), "--mosaic", *more])
        assert_one_line_error(result, "--mosaic", "own 0.5 m pixels", "the model's 1 m",
                              "gdalwarp -tr", "drop --mosaic",
                              "--model-resolution native to run the model on the 0.5 m pixels")
        assert not (tmp_path / "o").exists()
    result = cli_runner().invoke(cli, ["predict", str(model), *paths, "-o", str(tmp_path / "p"),
                                      "--mosaic", "--extra-bands", paths[0], "--extra-bands",
                                      paths[1]])
    assert result.exit_code == 2 and "cannot be combined with --extra-bands" in result.output


def _nodata_cases():
    """(name, scene (bands, 70, 90), write options, --bands): nodata by a float alpha band,
    an alpha band GDAL's mask leaves out or one chosen as a channel, by the chosen bands'
    value while an unchosen band has data, by one float band's own nodata value; each on a
    block that crosses the corner of four tiles."""
    rng = np.random.default_rng(5)
    alpha = rng.normal(0, 1, (4, 70, 90)).astype(np.float32)
    alpha[3] = 1
    alpha[3, 30:40, 40:50] = 0
    chosen = rng.integers(1, 4000, (4, 70, 90)).astype(np.uint16)
    chosen[1:, 30:40, 40:50] = 0  # bands 2-4 nodata, band 1 valid
    one = rng.normal(0, 1, (3, 70, 90)).astype(np.float32)
    one[0, 30:40, 40:50] = -9999  # band 1 alone at its nodata value
    # alpha bands GDAL's mask leaves out (it honours one of 2 or 4 Byte/UInt16 bands only):
    # RGB+NIR+alpha (gdalwarp -dstalpha of NAIP), int16+alpha; and an alpha band chosen
    rgbna = rng.integers(1, 256, (5, 70, 90)).astype(np.uint8)
    rgbna[4] = 255
    rgbna[4, 30:40, 40:50] = 0
    int16a = rng.integers(-500, 3000, (2, 70, 90)).astype(np.int16)
    int16a[1] = 255
    int16a[1, 30:40, 40:50] = 0
    rgba = rgbna[[0, 1, 2, 4]]
    return [("alpha", alpha, {"photometric": "RGB", "alpha": "YES"}, (1, 2, 3)),
            ("rgbn_alpha", rgbna, {"colorinterp": [*[ColorInterp.undefined] * 4,
                                                      ColorInterp.alpha]}, (1, 2, 3)),
            ("int16_alpha", int16a, {"photometric": "MINISBLACK", "alpha": "YES"}, (1, 1, 1)),
            ("rgba", rgba, {"photometric": "RGB", "alpha": "YES"}, (1, 2, 3)),
            ("alpha_chosen", rgba, {"photometric": "RGB", "alpha": "YES"}, (1, 2, 4)),
            ("alpha_first", rgba, {"photometric": "RGB", "alpha": "YES"}, (4, 1, 2)),
            ("chosen", chosen, {"nodata": 0}, (4, 3, 2)),
            ("one_band", one, {"nodata": -9999}, None)]


@pytest.mark.parametrize(("name", "pixels", "profile", "bands"), _nodata_cases(),
                         ids=[c[0] for c in _nodata_cases()])
def test_mosaic_nodata_is_the_per_file_rule(tmp_path, name, pixels, profile, bands):
    """--mosaic marks nodata as predicting each tile alone does (read_block): a float alpha
    band at 0, every chosen band at nodata, a float band at its own nodata value."""
    model = OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx"), scale=1.0)
    options = PredictOptions(tile_size=32, overlap=8, bands=bands)
    paths = []
    for top, bottom in ((0, 35), (35, 70)):
        for left, right in ((0, 45), (45, 90)):
            path = tmp_path / f"t{top}_{left}.tif"
            transform = from_origin(X0 + left * PIXEL, Y0 - top * PIXEL, PIXEL, PIXEL)
            with rasterio.open(path, "w", driver="GTiff", width=right - left,
                               height=bottom - top, count=pixels.shape[0],
                               dtype=pixels.dtype, crs="EPSG:32633", transform=transform,
                               **{k: v for k, v in profile.items() if k != "colorinterp"}
                               ) as dst:
                dst.write(pixels[:, top:bottom, left:right])
            if "colorinterp" in profile:  # a GeoTIFF's alpha band 5 is set when updating
                with rasterio.open(path, "r+") as dst:
                    dst.colorinterp = profile["colorinterp"]
            paths.append(path)
    mosaic = open_mosaic(paths)
    for path in paths:
        predict_raster(model, path, tmp_path / f"alone_{path.name}", options=options)
        predict_raster(model, path, tmp_path / f"mosaic_{path.name}", options=options,
                       mosaic=mosaic)
        alone, _, _ = _read(tmp_path / f"alone_{path.name}")
        together, _, _ = _read(tmp_path / f"mosaic_{path.name}")
        assert np.isnan(alone).sum() == 25  # the block's quarter in this tile
        np.testing.assert_array_equal(np.isnan(together), np.isnan(alone))
        np.testing.assert_allclose(together, alone, atol=1e-6, rtol=0)


def test_mosaic_of_rgbn_tiles_keeps_their_nir_0_pixels(tmp_path):
    """Two uint8 RGB+NIR tiles (band 4 flagged alpha by GDAL's default) fed whole to a
    4-channel model: a lake of NIR 0 across their edge was nodata (440 + 360 NaN px, exit 0).
    Now the tiles equal the merged scene predicted alone: only its collar (every band 0)."""
    model = OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx", channels=4))
    options = PredictOptions(tile_size=32, overlap=8, dtype="float32")
    stack = np.random.default_rng(7).integers(1, 250, (4, 64, 64)).astype(np.uint8)
    stack[3, 20:40, 10:50] = 0  # a lake
    stack[:, :, :8] = 0  # a collar outside the scene
    merged = _write(tmp_path / "scene.tif", stack)
    paths = [_write(tmp_path / f"t{left}.tif", stack[:, :, left : left + 32], left)
             for left in (0, 32)]
    with rasterio.open(paths[0]) as src:
        assert src.colorinterp[3] == ColorInterp.alpha  # GDAL's default
    predict_raster(model, merged, tmp_path / "alone.tif", options=options)
    alone, _, _ = _read(tmp_path / "alone.tif")
    assert np.isnan(alone).sum() == 64 * 8
    mosaic = open_mosaic(paths)
    for path, left in zip(paths, (0, 32), strict=True):
        predict_raster(model, path, tmp_path / f"mosaic_{path.name}", options=options,
                       mosaic=mosaic)
        together, _, _ = _read(tmp_path / f"mosaic_{path.name}")
        part = alone[:, :, left : left + 32]
        np.testing.assert_array_equal(np.isnan(together), np.isnan(part))
        np.testing.assert_allclose(together, part, atol=1e-6, rtol=0)


@pytest.mark.parametrize(("shift", "placed"), [(0.0, True), (0.05, False)])
def test_degree_tiles_from_world_files_are_one_grid(tmp_path, shift, placed):
    """EPSG:4326 tiles whose pixel size and origins went through a world file (10 decimals)
    lie 0.002 px off whole pixels (77 px x the rounding of 1.3e-6 deg): one grid, placed by
    whole pixels from the first tile, for --mosaic and --merge; a tile 0.05 px off is not."""
    from affine import Affine

    from geotile.merge import check_grid

    a, e = round(1.34745678e-6, 10), round(-1.0312345678e-6, 10)
    x0, y0 = 12.4912345678901, 41.8912345678901
    paths = []
    for top, height in ((0, 50), (50, 70)):
        for left, width in ((0, 77), (77, 123)):
            x = x0 + (left + (shift if left else 0)) * 1.34745678e-6
            y = y0 + top * -1.0312345678e-6
            transform = Affine(a, 0, round(x + a / 2, 10) - a / 2, 0, e,
                               round(y + e / 2, 10) - e / 2)
            path = tmp_path / f"t{top}_{left}.tif"
            with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=3,
                               dtype="uint8", crs="EPSG:4326", transform=transform) as dst:
                dst.write(np.full((3, height, width), 7, np.uint8))
            paths.append(path)
    if not placed:
        with pytest.raises(InputError, match=r"t0_77\.tif: not aligned"):
            open_mosaic(paths)
        return
    for mosaic in (open_mosaic(paths), check_grid(paths)):
        assert (mosaic.width, mosaic.height) == (200, 120)
        assert [(t.col, t.row) for t in mosaic.tiles] == [(0, 0), (77, 0), (0, 50), (77, 50)]
        with rasterio.open(paths[0]) as src:
            assert mosaic.transform == src.transform


def test_patches_of_a_photo_are_one_mosaic_in_its_pixels(tmp_path, run_cli):
    """tile's patches of an image without georeferencing carry translation(x_off, y_off)
    transforms in its pixels: the top-left one's is the identity, and --mosaic and
    make-masks --merge refused the set ('nogeo_0_0.tif: no georeferencing'). It is placed
    at pixel 0, 0 of that grid; two photos at 0, 0, or a photo among map tiles, are not."""
    from .conftest import write_without_transform

    pixels = np.random.default_rng(5).integers(1, 256, (3, 60, 90), np.uint8)
    photo = write_without_transform(tmp_path / "photo.tif", pixels)
    result = run_cli("tile", photo, "--size", 30, "-o", tmp_path / "patches")
    assert result.exit_code == 0, result.output
    folder = tmp_path / "patches" / "images"
    model = pointwise_model(tmp_path / "m.onnx")
    result = run_cli("predict", model, folder, "-o", tmp_path / "mosaic", "--mosaic")
    assert result.exit_code == 0, result.output
    mosaic = open_mosaic(sorted(folder.glob("*.tif")))
    assert (mosaic.width, mosaic.height) == (90, 60) and mosaic.transform.is_identity
    places = {t.path.name: (t.col, t.row) for t in mosaic.tiles}
    assert places["photo_0_0.tif"] == (0, 0) and places["photo_1_2.tif"] == (60, 30)
    other = write_without_transform(tmp_path / "other.tif", pixels[:, :30, :30])
    with pytest.raises(InputError, match=r"other\.tif: no georeferencing.*photo_0_0\.tif"):
        open_mosaic([*sorted(folder.glob("*.tif")), other])
    placed = _write(tmp_path / "placed.tif", pixels[:, :30, :30], col=30, crs=None)
    for tiles in ([folder / "photo_0_0.tif", placed], [placed, folder / "photo_0_0.tif"]):
        with pytest.raises(InputError, match=r"photo_0_0\.tif: no georeferencing"):
            open_mosaic(tiles)


def test_file_checks_of_a_mosaic_grow_with_its_tiles_not_their_square(tmp_path, monkeypatch):
    """--mosaic checked each output against every tile and hashed every tile's identity into
    each output's completion tag: 400 tiles of a city spent 19 s in --resume with nothing
    to redo (n² stat calls); the file-system calls per tile must not grow with n."""
    import os

    calls = {}
    for n in (40, 120):
        folder = tmp_path / f"tiles{n}"
        folder.mkdir()
        for i in range(n):
            _write(folder / f"t{i:03d}.tif", np.full((3, 4, 4), i % 200, np.uint8),
                   col=4 * (i % 10), row=4 * (i // 10))
        model = pointwise_model(tmp_path / "m.onnx")
        args = ["predict", str(model), str(folder), "-o", str(tmp_path / f"out{n}"),
                "--mosaic", "--tile-size", "8", "--overlap", "0", "-q"]
        assert cli_runner().invoke(cli, args).exit_code == 0
        count = {"n": 0}
        for name in ("stat", "lstat"):
            real = getattr(os, name)

            def counted(*a, _real=real, _count=count, **k):
                _count["n"] += 1
                return _real(*a, **k)

            monkeypatch.setattr(os, name, counted)
        result = cli_runner().invoke(cli, [*args, "--resume"])
        monkeypatch.undo()
        assert result.exit_code == 0, result.output
        calls[n] = count["n"] / n
    assert calls[120] < 1.5 * calls[40], calls  # per tile: constant, not growing with n


class _CountingTiles(tuple):
    """A mosaic's tiles that count how many of them are looked at."""

    looked_at = 0

    def __iter__(self):
        for tile in super().__iter__():
            _CountingTiles.looked_at += 1
            yield tile


def test_mosaic_read_looks_only_at_the_tiles_it_overlaps(tmp_path):
    """A read of a city's mosaic (400 tiles: 77 s for 200 tiles' 31 s) looked at every tile
    for every window; now at the few it overlaps, with the same pixels."""
    from geotile.mosaic import Mosaic

    side, n = 8, 12  # 144 tiles of 8 x 8 px
    pixels = np.random.default_rng(5).integers(1, 256, (3, side * n, side * n), np.uint8)
    paths = [_write(tmp_path / f"t{i:02d}{j:02d}.tif",
                    pixels[:, i * side:(i + 1) * side, j * side:(j + 1) * side],
                    j * side, i * side)
             for i in range(n) for j in range(n)]
    placed = open_mosaic(paths)
    mosaic = Mosaic(_CountingTiles(placed.tiles), placed.width, placed.height,
                    placed.transform)
    _CountingTiles.looked_at = 0
    sources: dict = {}
    try:
        for i in range(n):
            for j in range(n):
                x, y = j * side + 3, i * side + 5
                got, valid = mosaic.read(sources, x, y, 10, 6, [1, 2, 3])
                expected = pixels[:, y:y + 6, x:x + 10]
                assert np.array_equal(got[:, :expected.shape[1], :expected.shape[2]],
                                      expected)
                assert valid.sum() == expected.shape[1] * expected.shape[2]
    finally:
        for src, _ in sources.values():
            src.close()
    # once each to place them, then a handful per read (not 144 per read: 20736)
    assert _CountingTiles.looked_at <= n * n * 10


def test_non_finite_output_in_a_neighbouring_tile_is_placed_on_that_tile(tmp_path, run_cli):
    """x / x on black pixels of the right tile, met while predicting the left one through
    the mosaic's shared windows, was reported at 'row 30, col 66' of a 64 px wide tile (the
    left one): the pixel is named on the tile that holds it (row 30, col 2 of b.tif), with
    its map coordinates."""
    from .onnx_models import FLOAT, save_graph

    nodes = [helper.make_node("Div", ["input", "input"], ["q"]),
             helper.make_node("ReduceMean", ["q"], ["output"], axes=[1], keepdims=1)]
    model = save_graph(tmp_path / "xx.onnx", nodes, [("input", FLOAT, ["N", 3, "H", "W"])],
                       [("output", FLOAT, ["N", 1, "H", "W"])],
                       metadata={"model_type": "Segmentor"})
    (tmp_path / "tiles").mkdir()
    left = np.full((3, 64, 64), 100, np.uint8)
    right = left.copy()
    right[:, 30:40, 2:12] = 0  # black, declared valid
    _write(tmp_path / "tiles" / "a.tif", left)
    _write(tmp_path / "tiles" / "b.tif", right, col=64)
    result = run_cli("predict", model, tmp_path / "tiles", "-o", tmp_path / "out", "--mosaic",
                     "--tile-size", 32)
    x, y = X0 + (64 + 2 + 0.5) * PIXEL, Y0 - (30 + 0.5) * PIXEL
    assert_one_line_error(result, "NaN or infinite", "row 30, col 2 of b.tif",
                          f"x={x:.10g}, y={y:.10g} in EPSG:32633")
    assert not list((tmp_path / "out").glob("*.tif"))


POLAR_ELLIPSOID_ONLY = ("+proj=stere +lat_0=-90 +lat_ts=-71 +lon_0=0 +x_0=0 +y_0=0 "
                        "+ellps=WGS84 +units=m +no_defs")
LOCAL_TM = ("+proj=tmerc +lat_0=0 +lon_0={} +k=0.9996 +x_0=500000 +y_0=0 +ellps=GRS80 "
            "+units=m +no_defs")


def _named(proj: str) -> str:
    """``proj`` as WKT named 'My TM' (as a GIS names a custom CRS it saves)."""
    from pyproj import CRS

    return CRS.from_proj4(proj).to_wkt("WKT1_GDAL").replace('"unknown"', '"My TM"', 1)


@pytest.mark.parametrize("spellings", [
    # EPSG:3031 spelled as PROJ string: rasterio prints it as EPSG:3031 too, but its datum
    # is only the ellipsoid, so GDAL (and the VRT) take it as another CRS
    ("EPSG:3031", POLAR_ELLIPSOID_ONLY),
    (LOCAL_TM.format(12.5), LOCAL_TM.format(13)),  # two custom CRSs, no EPSG code
    # one name, the same parameters: another ellipsoid, or another projection
    (_named(LOCAL_TM.format(13)), _named(LOCAL_TM.format(13).replace("GRS80", "intl"))),
    (_named(LOCAL_TM.format(13)), _named(LOCAL_TM.format(13).replace("tmerc", "laea"))),
])
def test_a_refused_crs_is_named_so_that_the_two_differ(tmp_path, spellings):
    """The refusal says what tells the two CRSs apart: never 'CRS EPSG:3031 differs from
    a.tif's (EPSG:3031)', never two 1 KB WKTs; gdalwarp's -t_srs is one a shell takes."""
    a = _write(tmp_path / "a.tif", np.zeros((3, 10, 10), np.uint8), crs=spellings[0])
    b = _write(tmp_path / "b.tif", np.zeros((3, 10, 10), np.uint8), col=10,
               crs=spellings[1])
    with pytest.raises(InputError, match="CRS") as info:
        open_mosaic([a, b])
    text = str(info.value)
    mine, theirs = text.split(" differs from ")[0], text.split(" differs from ")[1]
    assert mine.split("CRS ", 1)[1] != theirs.split("'s (", 1)[1].rsplit("); ", 1)[0]
    assert len(text) < 600 and "PROJCS" not in text and "\n" not in text
    if spellings[0] == "EPSG:3031":
        assert "b.tif: CRS 'unknown' (datum 'Unknown based on WGS 84 ellipsoid') differs " \
               "from a.tif's (EPSG:3031)" in text
        assert "gdal_edit.py -a_srs EPSG:3031 b.tif" in text
        assert "-t_srs EPSG:3031" in text
    elif "International" in spellings[1]:
        assert "CRS 'My TM' (ellipsoid 'International 1924 (Hayford 1909, 1910)') differs " \
               "from a.tif's ('My TM' (ellipsoid 'GRS 1980'))" in text
    elif "Lambert" in spellings[1]:
        assert "CRS 'My TM' (method 'Lambert Azimuthal Equal Area') differs from a.tif's " \
               "('My TM' (method 'Transverse Mercator'))" in text
    else:
        assert "(Longitude of natural origin 13) differs" in text
        assert "(Longitude of natural origin 12.5)); put all" in text
        assert "gdalsrsinfo -o wkt a.tif > a.tif.wkt, then gdalwarp -t_srs a.tif.wkt" in text


def test_tiles_of_a_compound_crs_beside_plain_ones_are_one_mosaic(tmp_path, scene):
    """A drone ortho's tiles exported once with its heights (UTM 33N + EGM96: EPSG:32633+5773)
    and once without: the same pixel grid, as tile and evaluate take them. predict --mosaic
    --merge refused them ('CRS ... differs from t00.tif's (EPSG:32633)') and told to gdalwarp
    the tiles (resampling for nothing). Now the outputs are those of the plain tiles, each
    in its own tile's CRS, and the merged mosaic in the first's."""
    _, _, tiles = scene
    model = pointwise_model(tmp_path / "m.onnx")
    compound = rasterio.crs.CRS.from_user_input("EPSG:32633+5773")
    (tmp_path / "mixed").mkdir()
    for n, (path, *_) in enumerate(tiles):
        mixed = tmp_path / "mixed" / path.name
        mixed.write_bytes(path.read_bytes())
        if n % 2:
            with rasterio.open(mixed, "r+") as dst:
                dst.crs = compound
    runner = cli_runner()
    for folder in ("tiles", "mixed"):
        result = runner.invoke(cli, ["predict", str(model), str(tmp_path / folder), "-o",
                                     str(tmp_path / f"out_{folder}"), "--mosaic", "--tile-size",
                                     "32", "--merge", str(tmp_path / f"{folder}.tif")])
        assert result.exit_code == 0, result.output
    for n, (path, *_) in enumerate(tiles):
        plain, transform, _ = _read(tmp_path / "out_tiles" / path.name)
        got, got_transform, crs = _read(tmp_path / "out_mixed" / path.name)
        np.testing.assert_array_equal(got, plain)
        assert got_transform == transform and crs == (compound if n % 2 else "EPSG:32633")
    merged, transform, crs = _read(tmp_path / "mixed.tif")
    expected, expected_transform, _ = _read(tmp_path / "tiles.tif")
    np.testing.assert_array_equal(merged, expected)
    assert transform == expected_transform and crs == "EPSG:32633"


def test_a_tile_within_the_mosaics_unpredicted_margin_is_said_so(tmp_path, run_cli):
    """A 1 px wide tile on the mosaic's right edge, under a model whose output is 1 px short
    of each side of its window: no pixel of it is predicted. That was written without a
    word; now one warning names the margin at the mosaic's edges, and the tile beside it,
    predicted, gets none."""
    model = valid_conv_model(tmp_path / "valid.onnx")
    (tmp_path / "tiles").mkdir()
    pixels = np.random.default_rng(8).integers(1, 256, (3, 40, 41), np.uint8)
    _write(tmp_path / "tiles" / "a.tif", pixels[:, :, :40])
    _write(tmp_path / "tiles" / "b.tif", pixels[:, :, 40:], col=40)
    result = run_cli("predict", model, tmp_path / "tiles", "-o", tmp_path / "out", "--mosaic")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "out" / "b.tif") as out:
        assert np.isnan(out.read()).all()
    with rasterio.open(tmp_path / "out" / "a.tif") as out:
        assert not np.isnan(out.read()[:, 1:-1, 1:]).any()
    said = [line for line in result.stderr.splitlines() if "margin" in line]
    assert len(said) == 1 and said[0].startswith("Warning: b.tif: 1 x 40 px"), result.stderr
    assert "1 px margin at the mosaic's edges" in said[0] and "valid.onnx" in said[0]
