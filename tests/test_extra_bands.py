"""--extra-bands: the bands of a second raster (an nDSM) stacked after the image's bands, on
the image's grid: exact on the same grid, resampled on another, reprojected from another
CRS; a missing file is one line."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin

from geotile.errors import GeotileWarning, InputError
from geotile.extra_bands import ExtraBands
from tests.conftest import UTM_CRS, UTM_ORIGIN, assert_one_line_error, write_vrt
from tests.onnx_models import pointwise_model, pointwise_reference

HEIGHT, WIDTH = 120, 160  # 0.5 m pixels from UTM_ORIGIN (conftest's default grid)


@pytest.fixture
def rgb(make_raster):
    rng = np.random.default_rng(3)
    return make_raster("rgb.tif", rng.integers(0, 256, (3, HEIGHT, WIDTH), dtype=np.uint8))


def _centres(transform, height, width):
    """Map x, y of the pixel centres of a grid."""
    cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    x, y = transform * (cols, rows)
    return np.asarray(x), np.asarray(y)


def _image_centres():
    return _centres(from_origin(*UTM_ORIGIN, 0.5, 0.5), HEIGHT, WIDTH)


def _ramp(x, y):
    """A plane in UTM metres (bilinear resampling reproduces it exactly), 0-2 m high."""
    return 0.02 * (x - UTM_ORIGIN[0]) + 0.01 * (UTM_ORIGIN[1] - y)


def _predicted_with(tmp_path, run_cli, rgb, extra, *more):
    model = pointwise_model(tmp_path / "rgb_ndsm.onnx", channels=4, activation="sigmoid")
    out = tmp_path / "prob.tif"
    result = run_cli("predict", model, rgb, "--extra-bands", extra, "-o", out,
                     "--tile-size", 64, "--overlap", 16, *more)
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as src:
        return src.read(1), src.read_masks(1) > 0 if src.nodata is None else \
            np.isfinite(src.read(1))


def _reference(rgb, heights):
    with rasterio.open(rgb) as src:
        pixels = src.read().astype(np.float32) / 255
    stack = np.concatenate([pixels, heights[np.newaxis].astype(np.float32)])
    return pointwise_reference(stack[np.newaxis], channels=4)[0, 0]


def test_an_ndsm_mean_in_metres_leaves_the_rgb_divided_by_255(rgb, make_raster, tmp_path,
                                                              run_cli):
    """Metadata mean [0.34, 0.36, 0.33, 2.1] / std [0.2, 0.2, 0.2, 3.5]: RGB in 0..1, the
    nDSM in metres. The nDSM's mean of 2.1 made geotile take every mean as one for 0..255
    pixels and feed the RGB undivided (outputs off by up to hundreds, exit 0). Only the
    image's channels decide its scale now."""
    mean, std = [0.34, 0.36, 0.33, 2.1], [0.2, 0.2, 0.2, 3.5]
    heights = np.random.default_rng(4).uniform(0, 3, (HEIGHT, WIDTH)).astype(np.float32)
    dsm = make_raster("ndsm.tif", heights)
    model = pointwise_model(tmp_path / "m.onnx", channels=4,
                            metadata={"mean": mean, "std": std})
    out = tmp_path / "o.tif"
    result = run_cli("predict", model, rgb, "--extra-bands", dsm, "-o", out,
                     "--activation", "none", "--tile-size", 64)
    assert result.exit_code == 0, result.output
    with rasterio.open(rgb) as src:
        pixels = src.read().astype(np.float64) / 255
    stack = (np.concatenate([pixels, heights[np.newaxis]]) - np.reshape(mean, (4, 1, 1))) \
        / np.reshape(std, (4, 1, 1))
    expected = pointwise_reference(stack[np.newaxis], channels=4, activation="none")[0, 0]
    with rasterio.open(out) as dst:
        np.testing.assert_allclose(dst.read(1), expected, atol=1e-4)


def test_same_grid_is_stacked_exactly(rgb, make_raster, tmp_path, run_cli):
    heights = np.random.default_rng(4).uniform(0, 3, (HEIGHT, WIDTH)).astype(np.float32)
    dsm = make_raster("ndsm.tif", heights)
    with rasterio.open(rgb) as src, ExtraBands(dsm, src) as extra:
        assert extra.exact
        pixels, valid = extra.read(0, HEIGHT, WIDTH + 8)
    np.testing.assert_array_equal(pixels[0, :, :WIDTH], heights)  # no resampling at all
    assert valid[:, :WIDTH].all() and not valid[:, WIDTH:].any()
    predicted, _ = _predicted_with(tmp_path, run_cli, rgb, dsm)
    np.testing.assert_allclose(predicted, _reference(rgb, heights), atol=1e-6)


def test_a_south_up_extra_raster_of_the_same_ground_is_stacked(rgb, make_raster, tmp_path,
                                                                  run_cli):
    """An nDSM stored south-up (positive y pixel size, as some tools write it) over the
    image's ground was refused: 'does not overlap rgb.tif', from its unordered bounds.
    Its rows are stacked on the image's rows, flipped back."""
    from affine import Affine

    heights = np.random.default_rng(4).uniform(0, 3, (HEIGHT, WIDTH)).astype(np.float32)
    south_up = Affine(0.5, 0, UTM_ORIGIN[0], 0, 0.5, UTM_ORIGIN[1] - HEIGHT * 0.5)
    dsm = make_raster("ndsm.tif", heights[::-1].copy(), transform=south_up)
    predicted, valid = _predicted_with(tmp_path, run_cli, rgb, dsm, "--extra-resampling",
                                       "nearest")
    assert valid.all()
    np.testing.assert_allclose(predicted, _reference(rgb, heights), atol=1e-6)


def test_coarser_raster_is_resampled_bilinear(rgb, make_raster, tmp_path, run_cli):
    # 1 m pixels over the same area (half the image's resolution)
    transform = from_origin(*UTM_ORIGIN, 1.0, 1.0)
    x, y = _centres(transform, HEIGHT // 2, WIDTH // 2)
    dsm = make_raster("ndsm.tif", _ramp(x, y).astype(np.float32), transform=transform)
    expected = _ramp(*_image_centres())
    with rasterio.open(rgb) as src, ExtraBands(dsm, src) as extra:
        assert not extra.exact
        pixels, valid = extra.read(0, HEIGHT, WIDTH)
    inner = (slice(1, -1), slice(1, -1))  # the outer half pixel is extrapolated by GDAL
    np.testing.assert_allclose(pixels[0][inner], expected[inner], atol=1e-4)
    assert valid.all()
    predicted, _ = _predicted_with(tmp_path, run_cli, rgb, dsm)
    np.testing.assert_allclose(predicted[inner], _reference(rgb, expected)[inner], atol=1e-4)


def test_other_crs_is_reprojected(rgb, make_raster, tmp_path):
    # the nDSM in longitude/latitude, a plane in degrees, covering the image with a margin
    to_lonlat = Transformer.from_crs(UTM_CRS, "EPSG:4326", always_xy=True)
    lon0, lat0 = to_lonlat.transform(UTM_ORIGIN[0] - 20, UTM_ORIGIN[1] + 20)
    step = 0.5 / 111_000  # about 0.5 m
    transform = from_origin(lon0, lat0, step, step)
    x, y = _centres(transform, 200, 240)

    def plane(lon, lat):
        return 2000 * (lon - lon0) + 1000 * (lat0 - lat)

    dsm = make_raster("ndsm_wgs84.tif", plane(x, y).astype(np.float32), crs="EPSG:4326",
                      transform=transform)
    expected = plane(*to_lonlat.transform(*_image_centres()))
    with rasterio.open(rgb) as src, ExtraBands(dsm, src) as extra:
        assert not extra.exact
        pixels, valid = extra.read(0, HEIGHT, WIDTH)
    assert valid.all()
    # GDAL's warper approximates the transformation within 1/8 pixel: ~1.5e-3 of this plane
    np.testing.assert_allclose(pixels[0], expected, atol=2e-3)


def test_area_outside_the_extra_raster_is_nodata(rgb, make_raster, tmp_path, run_cli):
    # covers the left half of the image only
    dsm = make_raster("ndsm.tif", np.ones((HEIGHT, WIDTH // 2), np.float32))
    _, valid = _predicted_with(tmp_path, run_cli, rgb, dsm)
    assert valid[:, : WIDTH // 2].all() and not valid[:, WIDTH // 2 :].any()


def test_a_mask_band_of_a_coarser_raster_is_nodata(rgb, make_raster, tmp_path, run_cli):
    """An nDSM on a 1 m grid whose nodata is an internal mask band (gdal_translate -mask):
    its masked pixels are nodata on the image's grid, as a nodata value's are. Resampled,
    the mask was dropped: the hidden heights (here 0) were fed to the model as valid."""
    transform = from_origin(*UTM_ORIGIN, 1.0, 1.0)
    x, y = _centres(transform, HEIGHT // 2, WIDTH // 2)
    dsm = make_raster("ndsm.tif", _ramp(x, y).astype(np.float32), transform=transform)
    hidden = np.zeros((HEIGHT // 2, WIDTH // 2), bool)
    hidden[:, :20] = True  # the image's columns 0-39
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(dsm, "r+") as dst:
        dst.write(np.where(hidden, 0, dst.read(1))[None])
        dst.write_mask(np.where(hidden, 0, 255).astype(np.uint8))
    with rasterio.open(rgb) as src, ExtraBands(dsm, src) as extra:
        _, valid = extra.read(0, HEIGHT, WIDTH)
    assert not valid[:, :39].any() and valid[:, 41:].all()
    predicted, kept = _predicted_with(tmp_path, run_cli, rgb, dsm)
    assert not kept[:, :39].any() and kept[:, 41:].all()
    inner = (slice(1, -1), slice(42, -1))
    expected = _reference(rgb, _ramp(*_image_centres()))
    np.testing.assert_allclose(predicted[inner], expected[inner], atol=1e-4)


def test_a_mask_band_beside_a_nodata_value_of_a_coarser_raster_decides(rgb, make_raster):
    """An int16 nDSM in cm on a 1 m grid with an internal mask band and a nodata value of
    0: GDAL's mask is the band (ground at 0 cm is a height). Resampled, the warp took the
    nodata value and ignored the mask: the ground (the image's columns 80-159) was nodata
    and the hidden heights (999 cm, columns 0-39) were fed as valid. Now it reads as the
    same raster without the nodata value."""
    transform = from_origin(*UTM_ORIGIN, 1.0, 1.0)
    heights = np.zeros((HEIGHT // 2, WIDTH // 2), np.int16)
    heights[:, 20:40] = 150
    heights[:, :20] = 999  # hidden by the mask
    valids, pixels = {}, {}
    for name, nodata in (("mask", None), ("mask_nodata", 0)):
        dsm = make_raster(f"{name}.tif", heights, transform=transform, nodata=nodata)
        with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(dsm, "r+") as dst:
            dst.write_mask(np.where(heights == 999, 0, 255).astype(np.uint8))
        with rasterio.open(rgb) as src, ExtraBands(dsm, src) as extra:
            pixels[name], valids[name] = extra.read(0, HEIGHT, WIDTH)
    assert not valids["mask_nodata"][:, :39].any() and valids["mask_nodata"][:, 41:].all()
    np.testing.assert_array_equal(valids["mask_nodata"], valids["mask"])
    np.testing.assert_array_equal(pixels["mask_nodata"][:, valids["mask"]],
                                  pixels["mask"][:, valids["mask"]])


@pytest.mark.parametrize("crs", [UTM_CRS, "EPSG:32617"])
def test_an_extra_raster_of_another_place_is_one_line(rgb, make_raster, tmp_path, run_cli,
                                                      crs):
    """It covers none of the image (1 km east, or the same numbers in another UTM zone):
    every stacked pixel would be nodata."""
    far = from_origin(UTM_ORIGIN[0] + 1000, UTM_ORIGIN[1], 0.5, 0.5)
    dsm = make_raster("far.tif", np.ones((HEIGHT, WIDTH), np.float32), crs=crs,
                      transform=far if crs == UTM_CRS else None)
    model = pointwise_model(tmp_path / "m.onnx", channels=4, activation="sigmoid")
    for command in ("predict", "tile"):
        args = [model] if command == "predict" else []
        out = tmp_path / f"{command}_out"
        result = run_cli(command, *args, rgb, "--extra-bands", dsm, "-o",
                         out if command == "tile" else out.with_suffix(".tif"))
        assert_one_line_error(result, "far.tif", "does not overlap rgb.tif")
        assert not out.exists() and not out.with_suffix(".tif").exists()


def test_a_complex_extra_raster_is_refused_by_predict(rgb, make_raster, tmp_path, run_cli):
    """A complex --extra-bands raster (SAR) reached the model as its real parts, numpy's
    ComplexWarning the only word (exit 0); refused in one line naming it, before any window
    (a batch's header check too)."""
    values = (np.ones((HEIGHT, WIDTH)) + 3j).astype(np.complex64)
    sar = make_raster("sar.tif", values)
    model = pointwise_model(tmp_path / "m.onnx", channels=4, activation="sigmoid")
    result = run_cli("predict", model, rgb, "--extra-bands", sar, "-o", tmp_path / "p.tif")
    assert_one_line_error(result, "sar.tif", "complex pixels", "amplitude")
    assert not (tmp_path / "p.tif").exists()
    from geotile.predict import predict_raster

    with pytest.raises(InputError, match=r"sar\.tif: .*complex pixels"):
        predict_raster(model, rgb, tmp_path / "q.tif", extra_bands=sar)
    assert not (tmp_path / "q.tif").exists()


def test_a_scale_declared_by_the_extra_raster_is_said(rgb, make_raster, tmp_path, run_cli):
    """An nDSM in uint16 centimetres declaring scale 0.01 (metres) reached the model as
    centimetres without a word; they still do (as its patches hold them), said once with
    the conversion that feeds the declared values."""
    heights = np.random.default_rng(6).integers(0, 3000, (HEIGHT, WIDTH)).astype(np.uint16)
    dsm = make_raster("dsm_cm.tif", heights)
    with rasterio.open(dsm, "r+") as dst:
        dst.scales = (0.01,)
    predicted, _ = _predicted_with(tmp_path, run_cli, rgb, dsm)
    np.testing.assert_allclose(predicted, _reference(rgb, heights), atol=1e-5)
    model = tmp_path / "rgb_ndsm.onnx"
    result = run_cli("predict", model, rgb, "--extra-bands", dsm, "-o", tmp_path / "w.tif")
    warned = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    assert result.exit_code == 0 and len(warned) == 1, result.output
    assert "dsm_cm.tif" in warned[0] and "scale 0.01" in warned[0]
    assert "gdal_translate -unscale -ot Float32" in warned[0]
    plain = make_raster("dsm.tif", heights.astype(np.float32) / 100)
    result = run_cli("predict", model, rgb, "--extra-bands", plain, "-o", tmp_path / "p.tif")
    assert result.exit_code == 0 and "Warning" not in result.stderr, result.output


def test_missing_extra_raster_is_one_line(rgb, tmp_path, run_cli):
    model = pointwise_model(tmp_path / "m.onnx", channels=4, activation="sigmoid")
    result = run_cli("predict", model, rgb, "--extra-bands", tmp_path / "nope.tif",
                     "-o", tmp_path / "p.tif")
    assert_one_line_error(result, "nope.tif", "no such file")
    with pytest.raises(InputError, match=r"nope\.tif"):
        from geotile.predict import predict_raster

        predict_raster(model, rgb, tmp_path / "p.tif", extra_bands=tmp_path / "nope.tif")
    assert not (tmp_path / "p.tif").exists()


def test_band_count_names_both_rasters(rgb, make_raster, tmp_path, run_cli):
    dsm = make_raster("ndsm.tif", np.ones((2, HEIGHT, WIDTH), np.float32))
    model = pointwise_model(tmp_path / "m.onnx", channels=4, activation="sigmoid")
    result = run_cli("predict", model, rgb, "--extra-bands", dsm, "-o", tmp_path / "p.tif")
    assert_one_line_error(result, "rgb.tif + ndsm.tif", "3 band(s) of the image and 2 of "
                          "--extra-bands", "4 channels", "--bands 1,2")
    # the fix it names works: two of the image's bands and the two extra ones
    result = run_cli("predict", model, rgb, "--extra-bands", dsm, "--bands", "1,2", "-o",
                     tmp_path / "p.tif")
    assert result.exit_code == 0, result.output


def test_tile_stacks_extra_bands(rgb, make_raster, tmp_path, run_cli):
    heights = np.random.default_rng(5).uniform(0, 3, (HEIGHT, WIDTH)).astype(np.float32)
    dsm = make_raster("ndsm.tif", heights)
    result = run_cli("tile", rgb, "--extra-bands", dsm, "--size", 64, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    with rasterio.open(rgb) as src:
        pixels = src.read()
    for x, y, path in _patches(tmp_path / "out"):
        with rasterio.open(path) as patch:
            assert patch.count == 4 and patch.dtypes[0] == "float32"
            data = patch.read()
        np.testing.assert_array_equal(data[:3], pixels[:, y : y + 64, x : x + 64])
        np.testing.assert_array_equal(data[3], heights[y : y + 64, x : x + 64])


@pytest.mark.parametrize(("bands", "dtype", "fragment"), [
    (1, np.int16, "int16"), (1, np.float64, "float64"), (2, np.uint8, "5 bands")])
def test_png_refusal_names_the_extra_raster(rgb, make_raster, tmp_path, run_cli, bands, dtype,
                                            fragment):
    """A uint8 RGB image is fine for PNG: the refusal names the --extra-bands raster whose
    values or bands the stacked patches cannot hold, before any patch is cut."""
    dsm = make_raster("ndsm.tif", np.ones((bands, HEIGHT, WIDTH), dtype))
    out = tmp_path / "out"
    result = run_cli("tile", rgb, "--extra-bands", dsm, "--size", 64, "--format", "png",
                     "-o", out)
    assert_one_line_error(result, f"{dsm}:", "--extra-bands", fragment, "--format tif")
    assert "rgb.tif:" not in result.stderr and not out.exists()


def test_extra_raster_without_crs_is_one_line(rgb, make_raster, tmp_path, run_cli):
    dsm = make_raster("ndsm.tif", np.ones((HEIGHT // 2, WIDTH // 2), np.float32), crs=None)
    model = pointwise_model(tmp_path / "m.onnx", channels=4, activation="sigmoid")
    result = run_cli("predict", model, rgb, "--extra-bands", dsm, "-o", tmp_path / "p.tif")
    assert_one_line_error(result, "ndsm.tif", "no CRS", "cannot be placed")


@pytest.mark.parametrize("crs", [None, UTM_CRS])
def test_extra_raster_without_geotransform_is_told_how_to_georeference(
        rgb, make_raster, tmp_path, run_cli, crs):
    """An nDSM of the image's pixels but no geotransform (ISPRS Potsdam's JPEGs; with a CRS
    after `gdal_edit.py -a_srs`): the error says it has no georeferencing and gives the
    image's; written so, the raster stacks."""
    import re

    from rasterio.transform import from_bounds

    from tests.conftest import write_without_transform

    heights = np.arange(HEIGHT * WIDTH, dtype=np.float32).reshape(1, HEIGHT, WIDTH)
    dsm = write_without_transform(tmp_path / "ndsm.tif", heights, crs=crs)
    result = run_cli("tile", rgb, "--extra-bands", dsm, "--size", 64, "-o", tmp_path / "out")
    assert_one_line_error(result, f"{dsm}:", "has no georeferencing", "rgb.tif")
    assert "no CRS" not in result.stderr and not (tmp_path / "out").exists()
    fix = re.search(r"-a_srs (\S+) -a_ullr (\S+) (\S+) (\S+) (\S+)", result.stderr)
    assert fix and fix[1] == UTM_CRS
    # the command runs where geotile ran: the raster by the path given, the copy beside it
    files = re.search(r"-a_ullr \S+ \S+ \S+ \S+ (\S+) (\S+)\)", result.stderr)
    assert files and files[1] == str(dsm), result.stderr
    assert files[2] == str(tmp_path / "ndsm_georef.tif"), result.stderr
    ulx, uly, lrx, lry = map(float, fix.groups()[1:])
    make_raster("ndsm.tif", heights, transform=from_bounds(ulx, lry, lrx, uly, WIDTH, HEIGHT))
    result = run_cli("tile", rgb, "--extra-bands", dsm, "--size", 64, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "out" / "images" / "rgb_0_1.tif") as patch:
        np.testing.assert_array_equal(patch.read(4), heights[0, :64, 64:128])
    # another size: still no georeferencing, not "no CRS"
    small = write_without_transform(tmp_path / "small.tif", heights[:, :60, :80], crs=crs)
    result = run_cli("tile", rgb, "--extra-bands", small, "--size", 64, "-o", tmp_path / "o2")
    assert_one_line_error(result, f"{small}:", "has no georeferencing", "-a_ullr")
    assert "no CRS" not in result.stderr


def test_image_without_geotransform_with_a_georeferenced_extra_raster(make_raster, tmp_path,
                                                                      run_cli):
    from tests.conftest import write_without_transform

    image = write_without_transform(tmp_path / "photo.tif", np.ones((3, HEIGHT, WIDTH),
                                                                    np.uint8))
    dsm = make_raster("ndsm.tif", np.ones((HEIGHT, WIDTH), np.float32))
    result = run_cli("tile", image, "--extra-bands", dsm, "--size", 64, "-o", tmp_path / "out")
    assert_one_line_error(result, "ndsm.tif", "is georeferenced", "photo.tif has no "
                          "georeferencing")
    assert not (tmp_path / "out").exists()


def test_folder_of_extra_rasters_is_paired_by_name(make_raster, tmp_path, run_cli):
    rng = np.random.default_rng(6)
    images, heights = [], {}
    for stem in ("a", "b"):
        images.append(make_raster(f"{stem}.tif", rng.integers(0, 256, (3, 64, 64), np.uint8)))
        heights[stem] = rng.uniform(0, 3, (64, 64)).astype(np.float32)
    (tmp_path / "ndsm").mkdir()
    for stem, values in heights.items():
        make_raster(f"ndsm/{stem}_ndsm.tif", values)
    _assert_stacked(run_cli, images, tmp_path / "ndsm", heights, 64, tmp_path / "out")
    result = run_cli("tile", *images, "--extra-bands", tmp_path / "ndsm" / "a_ndsm.tif",
                     "-o", tmp_path / "out2")
    assert_one_line_error(result, "2 images but 1 --extra-bands")


def test_dataset_elevation_folders_pair_with_their_images(make_raster, tmp_path, run_cli):
    """ISPRS ships Potsdam's DSMs as 1_DSM/dsm_potsdam_02_10.tif for
    top_potsdam_2_10_RGB.tif (and Vaihingen's as dsm_09cm_matching_area1.tif for
    top_mosaic_09cm_area1.tif), DroneDeploy as 107f24d6e9-elev.tif for
    107f24d6e9-ortho.tif: --extra-bands FOLDER refused each ('no extra-bands raster(s)
    named top_potsdam_2_10_RGB.*'); each image gets its own heights."""
    rng = np.random.default_rng(16)
    pairs = {"top_potsdam_2_10_RGB": "dsm_potsdam_02_10",
             "top_potsdam_2_11_RGB": "dsm_potsdam_02_11",
             "top_mosaic_09cm_area1": "dsm_09cm_matching_area1",
             "top_mosaic_09cm_area11": "dsm_09cm_matching_area11",
             "107f24d6e9-ortho": "107f24d6e9-elev"}
    (tmp_path / "img").mkdir()
    (tmp_path / "dsm").mkdir()
    images, heights = [], {}
    for image, dsm in pairs.items():
        images.append(make_raster(f"img/{image}.tif",
                                  rng.integers(0, 256, (3, 32, 32), np.uint8)))
        heights[image] = rng.uniform(0, 30, (32, 32)).astype(np.float32)
        make_raster(f"dsm/{dsm}.tif", heights[image])
    _assert_stacked(run_cli, images, tmp_path / "dsm", heights, 32, tmp_path / "out")


def test_a_folder_holding_the_images_and_labels_too_gives_their_elevation(make_raster,
                                                                         tmp_path, run_cli):
    """DroneDeploy's 107f24d6e9-ortho.tif, -label.png and -elev.tif in one folder, given as
    --extra-bands: the image was paired with itself (patches of RGBA + RGB, 7 bands, the
    heights left out, exit 0). Neither the image nor its label raster is its elevation."""
    rng = np.random.default_rng(17)
    folder = tmp_path / "scene"
    folder.mkdir()
    image = make_raster("scene/107f24d6e9-ortho.tif",
                        rng.integers(0, 256, (3, 32, 32), np.uint8))
    make_raster("scene/107f24d6e9-label.tif", rng.integers(0, 256, (3, 32, 32), np.uint8))
    heights = rng.uniform(0, 30, (32, 32)).astype(np.float32)
    make_raster("scene/107f24d6e9-elev.tif", heights)
    _assert_stacked(run_cli, [image], folder, {"107f24d6e9-ortho": heights}, 32,
                    tmp_path / "out")
    with rasterio.open(tmp_path / "out" / "images" / "107f24d6e9-ortho_0_0.tif") as patch:
        assert patch.count == 4


def test_a_folder_of_cross_polarised_sar_pairs_with_its_co_polarised_images(make_raster,
                                                                          tmp_path, run_cli):
    """Sentinel-1 RTC products (ASF HyP3, OPERA RTC-S1) ship a scene's polarisations as
    <scene>_VV.tif and <scene>_VH.tif (HH/HV; HyP3's dB as _VV_dB): --extra-bands vh/ with
    the _VV images was refused ('no extra-bands raster(s) named <scene>_VV.*'). Each _VV
    (_HH) image gets its own scene's _VH (_HV) band."""
    rng = np.random.default_rng(18)
    scenes = {"S1A_IW_20230101T000000_DVP_RTC30_G_gpuned_ABCD_VV": "_VH",
              "OPERA_L2_RTC-S1_T001-000001-IW1_20230102T000000Z_S1A_30_v1.0_HH": "_HV",
              "S1A_IW_20230103T000000_DVP_RTC30_G_dpuned_EF01_VV_dB": "_VH_dB"}
    (tmp_path / "co").mkdir()
    (tmp_path / "cross").mkdir()
    images, cross = [], {}
    for stem, other in scenes.items():
        images.append(make_raster(f"co/{stem}.tif",
                                  rng.gamma(1.0, 0.05, (32, 32)).astype(np.float32)))
        cross[stem] = rng.gamma(1.0, 0.01, (32, 32)).astype(np.float32)
        scene = stem.rsplit("_V", 1)[0] if "_V" in stem else stem.rsplit("_H", 1)[0]
        make_raster(f"cross/{scene}{other}.tif", cross[stem])
    result = run_cli("tile", *images, "--extra-bands", tmp_path / "cross", "--size", 32,
                     "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    for stem, values in cross.items():
        with rasterio.open(tmp_path / "out" / "images" / f"{stem}_0_0.tif") as patch:
            np.testing.assert_array_equal(patch.read(2), values)


def _assert_stacked(run_cli, images, folder, heights, size, out):
    """tile IMAGES --extra-bands FOLDER: each image's one patch has its ``heights`` (by
    image stem) as band 4."""
    result = run_cli("tile", *images, "--extra-bands", folder, "--size", size, "-o", out)
    assert result.exit_code == 0, result.output
    for stem, values in heights.items():
        with rasterio.open(out / "images" / f"{stem}_0_0.tif") as patch:
            np.testing.assert_array_equal(patch.read(4), values)


def test_nearest_resampling_keeps_class_values(rgb, make_raster):
    transform = from_origin(*UTM_ORIGIN, 1.5, 1.5)  # not a multiple: bilinear would blend
    classes = np.random.default_rng(8).integers(1, 6, (HEIGHT // 3, WIDTH // 3), np.uint8)
    dsm = make_raster("classes.tif", classes, transform=transform)
    with rasterio.open(rgb) as src, ExtraBands(dsm, src, "nearest") as extra:
        pixels, _ = extra.read(0, HEIGHT, WIDTH)
    expected = np.repeat(np.repeat(classes, 3, 0), 3, 1)  # 159 px wide: the image is 160
    np.testing.assert_array_equal(pixels[0, :, : expected.shape[1]], expected)


def _class_raster(make_raster, tmp_path, how):
    """A 1.5 m land-cover raster (ids 1..5; 1.5 m is no multiple of 0.5 m, so bilinear
    resampling would blend neighbouring ids) whose classes are told by ``how``: a colour
    table, GDAL category names (its PAM sidecar, as QGIS writes them) or geotile's
    GEOTILE_CLASS_NAMES tag; and its ids on the image's grid by nearest neighbour."""
    transform = from_origin(*UTM_ORIGIN, 1.5, 1.5)
    classes = np.random.default_rng(8).integers(1, 6, (HEIGHT // 3, WIDTH // 3), np.uint8)
    path = make_raster(f"landcover_{how}.tif", classes, transform=transform)
    names = ["background", "water", "tree", "grass", "road", "building"]
    if how == "colours":
        with rasterio.open(path, "r+") as dst:
            dst.write_colormap(1, {i: (40 * i, 255 - 40 * i, 0, 255) for i in range(6)})
    elif how == "categories":
        (tmp_path / f"{path.name}.aux.xml").write_text(
            '<PAMDataset><PAMRasterBand band="1"><CategoryNames>'
            + "".join(f"<Category>{n}</Category>" for n in names)
            + "</CategoryNames></PAMRasterBand></PAMDataset>")
    else:
        with rasterio.open(path, "r+") as dst:
            dst.update_tags(GEOTILE_CLASS_NAMES=",".join(names))
    return path, np.repeat(np.repeat(classes, 3, 0), 3, 1)  # 159 px wide: the image is 160


@pytest.mark.parametrize("how", ["colours", "categories", "tag"])
def test_a_class_raster_is_resampled_nearest_by_default(rgb, make_raster, tmp_path, run_cli,
                                                        how):
    """A land-cover raster stacked as --extra-bands on another grid keeps its class ids:
    bilinear resampling (the default for heights) would feed the model ids that are no
    class (2.5 between grass and road), in tile's patches as in predict."""
    landcover, expected = _class_raster(make_raster, tmp_path, how)
    with rasterio.open(rgb) as src, ExtraBands(landcover, src) as extra:
        pixels, _ = extra.read(0, HEIGHT, WIDTH)
    np.testing.assert_array_equal(pixels[0, :, : expected.shape[1]], expected)
    out = tmp_path / "patches"
    result = run_cli("tile", rgb, "--extra-bands", landcover, "--size", 64, "-o", out)
    assert result.exit_code == 0, result.output
    with rasterio.open(out / "images" / "rgb_0_0.tif") as patch:
        np.testing.assert_array_equal(patch.read(4), expected[:64, :64])


def test_a_class_raster_resampled_bilinear_on_request_is_warned(rgb, make_raster, tmp_path):
    """--extra-resampling bilinear given for a class raster does what it says, with one
    warning: its ids get blended."""
    landcover, expected = _class_raster(make_raster, tmp_path, "colours")
    with pytest.warns(GeotileWarning, match=r"landcover_colours.tif: .*classes.*bilinear.*"
                                            r"--extra-resampling nearest"), \
            rasterio.open(rgb) as src, ExtraBands(landcover, src, "bilinear") as extra:
        pixels, _ = extra.read(0, HEIGHT, WIDTH)
    assert not np.array_equal(pixels[0, :, : expected.shape[1]], expected)


def test_heights_are_still_resampled_bilinear_by_default(rgb, make_raster, tmp_path):
    """A continuous raster (an nDSM: no colours, no class names) is resampled bilinear, as
    before, without a warning."""
    transform = from_origin(*UTM_ORIGIN, 1.5, 1.5)
    heights = np.random.default_rng(9).random((HEIGHT // 3, WIDTH // 3)).astype(np.float32)
    dsm = make_raster("ndsm.tif", heights, transform=transform)
    with rasterio.open(rgb) as src, ExtraBands(dsm, src) as auto, \
            ExtraBands(dsm, src, "bilinear") as bilinear:
        np.testing.assert_array_equal(auto.read(0, HEIGHT, WIDTH)[0],
                                      bilinear.read(0, HEIGHT, WIDTH)[0])


def test_an_extra_bands_input_is_never_an_output(rgb, make_raster, tmp_path, run_cli):
    """--overwrite replaces outputs, never an input: the --extra-bands raster (a file, or
    one in a folder of them, or the --merge path) is refused like IMAGE is."""
    model = pointwise_model(tmp_path / "m.onnx", channels=4, activation="sigmoid")
    heights = make_raster("ndsm.tif", np.ones((HEIGHT, WIDTH), np.float32))
    before = heights.read_bytes()
    result = run_cli("predict", model, rgb, "--extra-bands", heights, "-o", heights,
                     "--tile-size", 64, "--overwrite")
    assert_one_line_error(result, "ndsm.tif", "is the input", "never writes over its inputs")
    (tmp_path / "both").mkdir()
    images = [make_raster(f"both/{s}.tif", np.zeros((3, 64, 64), np.uint8)) for s in "ab"]
    saved = {p: p.read_bytes() for p in images}
    result = run_cli("predict", model, *images, "--extra-bands", tmp_path / "both", "-o",
                     tmp_path / "both", "--tile-size", 64, "--overwrite")
    # an image is never its own extra bands: the folder holds none for it
    assert_one_line_error(result, "no extra-bands raster", "a.tif: an image or label raster")
    (tmp_path / "ndsm2").mkdir()
    extras = [make_raster(f"ndsm2/{s}.tif", np.ones((64, 64), np.float32)) for s in "ab"]
    result = run_cli("predict", model, *images, "--extra-bands", tmp_path / "ndsm2", "-o",
                     tmp_path / "out", "--tile-size", 64, "--merge", extras[0], "--overwrite")
    assert result.exit_code == 1 and "one of the inputs" in result.stderr
    assert heights.read_bytes() == before and all(p.read_bytes() == saved[p] for p in images)
    assert extras[0].exists() and not (tmp_path / "out").exists()


def test_the_file_a_vrt_input_reads_is_never_an_output(rgb, tmp_path, run_cli):
    model = pointwise_model(tmp_path / "m.onnx", channels=3, activation="sigmoid")
    vrt = write_vrt(tmp_path / "scene.vrt", rgb)
    before = rgb.read_bytes()
    result = run_cli("predict", model, vrt, "-o", rgb, "--tile-size", 64, "--overwrite")
    assert_one_line_error(result, "rgb.tif", "scene.vrt", "never writes over its inputs")
    assert rgb.read_bytes() == before


def test_a_vrt_whose_source_is_gone_names_it(rgb, tmp_path, run_cli):
    model = pointwise_model(tmp_path / "m.onnx", channels=3, activation="sigmoid")
    gone = tmp_path / "gone.tif"
    gone.write_bytes(rgb.read_bytes())
    vrt = write_vrt(tmp_path / "scene.vrt", gone)
    gone.unlink()
    result = run_cli("predict", model, vrt, "-o", tmp_path / "p.tif", "--tile-size", 64)
    assert_one_line_error(result, "scene.vrt", "gone.tif", "No such file", "rebuild")
    assert not (tmp_path / "p.tif").exists()


def _separate_vrt(path, *sources):
    """``gdalbuildvrt -separate``: band 1 of each (file, gdal type, nodata) in turn, each
    band in its own type (RGB bytes beside a Float32 nDSM, as Vaihingen users stack them)."""
    bands = "".join(
        f'<VRTRasterBand dataType="{kind}" band="{n}"><NoDataValue>{nodata}</NoDataValue>'
        f"<SimpleSource><SourceFilename>{source.resolve()}</SourceFilename>"
        f"<SourceBand>{band}</SourceBand></SimpleSource></VRTRasterBand>"
        for n, (source, band, kind, nodata) in enumerate(sources, 1))
    transform = from_origin(*UTM_ORIGIN, 0.5, 0.5)
    path.write_text(
        f'<VRTDataset rasterXSize="{WIDTH}" rasterYSize="{HEIGHT}">'
        f"<SRS>{rasterio.crs.CRS.from_string(UTM_CRS).to_wkt()}</SRS>"
        f"<GeoTransform>{', '.join(map(str, transform.to_gdal()))}</GeoTransform>"
        f"{bands}</VRTDataset>")
    return path


@pytest.fixture
def stack(make_raster, tmp_path):
    """(an RGB image, nodata 0 in a 10 px collar, its nDSM with -9999 nodata in rows 100+, a
    4-band VRT of both: three Byte bands, nodata 0, and a Float32 one)."""
    pixels = np.random.default_rng(7).integers(1, 256, (3, HEIGHT, WIDTH), dtype=np.uint8)
    pixels[:, :, :10] = 0
    rgb = make_raster("rgb_collar.tif", pixels, nodata=0)
    heights = np.random.default_rng(6).uniform(0, 3, (HEIGHT, WIDTH)).astype(np.float32)
    heights[100:] = -9999
    dsm = make_raster("ndsm.tif", heights, nodata=-9999)
    vrt = _separate_vrt(tmp_path / "stack.vrt", *[(rgb, b, "Byte", 0) for b in (1, 2, 3)],
                        (dsm, 1, "Float32", -9999))
    return rgb, dsm, vrt


def test_a_stack_of_mixed_types_predicts_as_extra_bands(stack, tmp_path, run_cli):
    """A -separate VRT of uint8 RGB and a float32 nDSM ended in 'ValueError: more than one
    'dtype' found' (also with --bands picking the bytes, and as --extra-bands): each band is
    read in its own type and scaled by its default (RGB / 255, heights as they are), as
    --extra-bands stacks them; nodata where any band is."""
    rgb, dsm, vrt = stack
    expected, kept = _predicted_with(tmp_path, run_cli, rgb, dsm)
    assert kept[:100, 10:].all() and not kept[100:].any() and not kept[:, :10].any()
    model = pointwise_model(tmp_path / "rgb_ndsm.onnx", channels=4, activation="sigmoid")
    result = run_cli("predict", model, vrt, "-o", tmp_path / "vrt.tif", "--tile-size", 64)
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "vrt.tif") as src:
        np.testing.assert_array_equal(src.read(1), expected)
    # --bands 1,2,3: only the bytes (scaled by 1/255, as in the plain RGB)
    three = pointwise_model(tmp_path / "rgb.onnx", channels=3, activation="sigmoid")
    result = run_cli("predict", three, vrt, "--bands", "1,2,3", "-o", tmp_path / "b.tif")
    assert result.exit_code == 0, result.output
    with rasterio.open(rgb) as src, rasterio.open(tmp_path / "b.tif") as out:
        reference = pointwise_reference(src.read()[None].astype(np.float32) / 255)[0, 0]
        np.testing.assert_allclose(out.read(1)[:, 10:], reference[:, 10:], atol=1e-6)
        assert np.isnan(out.read(1)[:, :10]).all()
    # the stack as --extra-bands: its byte band / 255 and its heights as they are
    two = _separate_vrt(tmp_path / "two.vrt", (rgb, 3, "Byte", 0), (dsm, 1, "Float32", -9999))
    result = run_cli("predict", model, rgb, "--bands", "1,2", "--extra-bands", two,
                     "-o", tmp_path / "x.tif", "--tile-size", 64)
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "x.tif") as src:
        np.testing.assert_array_equal(src.read(1), expected)


def test_tile_keeps_a_float_band_of_a_mixed_stack(stack, tmp_path, run_cli):
    """Patches of the mixed stack were uint8 (heights 2.7 m written as 2); they are float32,
    without one nodata value for all bands (the bytes' 0 would make 0 m heights nodata): the
    mask band marks the nDSM's nodata."""
    rgb, dsm, vrt = stack
    result = run_cli("tile", vrt, "--size", 64, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    with rasterio.open(rgb) as src, rasterio.open(dsm) as heights:
        pixels = np.concatenate([src.read().astype(np.float32), heights.read()])
    for x, y, path in _patches(tmp_path / "out"):
        with rasterio.open(path) as patch:
            assert patch.dtypes == ("float32",) * 4 and patch.nodata is None
            np.testing.assert_array_equal(patch.read(), pixels[:, y:y + 64, x:x + 64])
            valid = patch.dataset_mask() > 0
        nodata = np.array([0, 0, 0, -9999], np.float32).reshape(4, 1, 1)
        np.testing.assert_array_equal(valid, (pixels[:, y:y + 64, x:x + 64] != nodata).all(0))
        assert valid.any() or y + 64 > 100


def test_a_mixed_stack_is_refused_where_it_cannot_work(stack, tmp_path, run_cli):
    """Resampled to the model's resolution, one nodata value would hold for all its bands;
    as a prediction to vectorize it is no class or probability raster: one line each."""
    _, _, vrt = stack
    model = pointwise_model(tmp_path / "rgb_ndsm.onnx", channels=4)
    out = tmp_path / "res.tif"
    result = run_cli("predict", model, vrt, "-o", out, "--model-resolution", 1)
    assert_one_line_error(result, f"{vrt}:", "different nodata values", "--extra-bands")
    assert not out.exists()
    result = run_cli("vectorize", vrt, "-o", tmp_path / "v.gpkg")
    assert_one_line_error(result, f"{vrt}:", "bands of different types (uint8, float32)")
    assert not (tmp_path / "v.gpkg").exists()


def _patches(out):
    """(column, row, path) of each image patch listed in ``out``/index.csv (some)."""
    with (out / "index.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    return [(int(r["x_off"]), int(r["y_off"]), out / r["image"]) for r in rows]


@pytest.mark.parametrize("scale", [1, 2])  # the image's grid, a 1 m one
@pytest.mark.parametrize("dtype", [np.int16, np.uint8])
def test_an_alpha_band_of_the_extra_raster_masks_nodata(rgb, make_raster, tmp_path, run_cli,
                                                       scale, dtype):
    """An nDSM warped with gdalwarp -dstalpha (heights + alpha; GDAL's mask leaves an int16's
    alpha out): its alpha was stacked as a data channel (an RGB + nDSM model refused it, tile's
    patches held it as band 5), its alpha 0 read as 0 m heights (int16), and on another grid
    it failed ('The VRT already has an alpha band'). The alpha masks nodata there: the
    stack is RGB + heights, nodata where the alpha is 0, as the image's own alpha."""
    from rasterio.enums import ColorInterp

    height, width = HEIGHT // scale, WIDTH // scale
    pixels = np.full((2, height, width), 7, dtype)
    pixels[1] = np.iinfo(dtype).max
    pixels[:, :, :40 // scale] = 0  # the collar: the image's columns 0-39
    dsm = make_raster("ndsm.tif", pixels, transform=from_origin(*UTM_ORIGIN, 0.5 * scale,
                                                                0.5 * scale))
    with rasterio.open(dsm, "r+") as dst:
        dst.colorinterp = [ColorInterp.gray, ColorInterp.alpha]
    with rasterio.open(rgb) as src, ExtraBands(dsm, src) as extra:
        assert extra.count == 1 and extra.dtypes == [np.dtype(dtype)]
        stacked, valid = extra.read(0, HEIGHT, WIDTH)
    assert stacked.shape == (1, HEIGHT, WIDTH)
    assert not valid[:, :39].any() and valid[:, 41:].all()
    np.testing.assert_array_equal(stacked[0][valid], 7)
    predicted, kept = _predicted_with(tmp_path, run_cli, rgb, dsm)
    assert not kept[:, :39].any() and kept[:, 41:].all()
    from geotile.model import OnnxModel

    unit = OnnxModel.from_path(tmp_path / "rgb_ndsm.onnx").normalization_for(dtype).scale
    expected = _reference(rgb, np.full((HEIGHT, WIDTH), 7 * unit, np.float32))
    np.testing.assert_allclose(predicted[kept], expected[kept], atol=1e-6)
    result = run_cli("tile", rgb, "--extra-bands", dsm, "--size", 40, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    with (tmp_path / "out" / "index.csv").open() as handle:
        fractions = {int(r["x_off"]): float(r["nodata_fraction"]) for r in csv.DictReader(handle)}
    assert fractions == {0: 1.0, 40: 0.0, 80: 0.0, 120: 0.0}
    for _, _, path in _patches(tmp_path / "out"):
        with rasterio.open(path) as patch:
            assert patch.count == 4


def test_extra_rasters_named_in_nfd_pair_with_images_named_in_nfc(make_raster, tmp_path,
                                                                 run_cli):
    """An nDSM folder copied from a Mac (Zürich as Zu + U+0308, NFD) beside images named on
    Linux (NFC): predict and tile --extra-bands FOLDER exited 1 ('no extra-bands raster(s)
    named Zürich.*'). Each image gets its own heights; outputs keep the image's spelling."""
    nfc, nfd = "Z\u00fcrich", "Zu\u0308rich"
    rng = np.random.default_rng(21)
    (tmp_path / "img").mkdir()
    (tmp_path / "ndsm").mkdir()
    images, heights = [], {}
    for stem, dsm in ((nfc, f"{nfd}_ndsm"), ("b", "b_ndsm")):
        images.append(make_raster(f"img/{stem}.tif",
                                  rng.integers(0, 256, (3, 32, 32), np.uint8)))
        heights[stem] = rng.uniform(0, 3, (32, 32)).astype(np.float32)
        make_raster(f"ndsm/{dsm}.tif", heights[stem])
    model = pointwise_model(tmp_path / "m.onnx", channels=4, activation="sigmoid")
    result = run_cli("predict", model, *images, "--extra-bands", tmp_path / "ndsm", "-o",
                     tmp_path / "pred", "--tile-size", 32)
    assert result.exit_code == 0, result.output
    for image in images:
        with rasterio.open(tmp_path / "pred" / image.name) as src:
            np.testing.assert_allclose(src.read(1), _reference(image, heights[image.stem]),
                                       atol=1e-6)
    _assert_stacked(run_cli, images, tmp_path / "ndsm", heights, 32, tmp_path / "tiles")
    # DroneDeploy's one folder: Zürich-ortho.tif (NFC) beside Zürich-label and -elev (NFD)
    (tmp_path / "scene").mkdir()
    image = make_raster(f"scene/{nfc}-ortho.tif", rng.integers(0, 256, (3, 32, 32), np.uint8))
    make_raster(f"scene/{nfd}-label.tif", rng.integers(0, 256, (3, 32, 32), np.uint8))
    elevation = rng.uniform(0, 30, (32, 32)).astype(np.float32)
    make_raster(f"scene/{nfd}-elev.tif", elevation)
    _assert_stacked(run_cli, [image], tmp_path / "scene", {f"{nfc}-ortho": elevation}, 32,
                    tmp_path / "scene_tiles")
