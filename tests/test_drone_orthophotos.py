"""Drone orthophotos as photogrammetry software writes them (OpenDroneMap, Pix4D, Metashape,
DJI Terra): RGBA or RGB with a mask, the area outside the flight transparent, through
make-masks, tile, predict, vectorize and evaluate."""

from __future__ import annotations

import csv
import subprocess

import geopandas
import numpy as np
import pytest
import rasterio
from rasterio.enums import ColorInterp
from rasterio.transform import from_origin
from shapely.geometry import box

from tests.conftest import assert_one_line_error, write_raster
from tests.onnx_models import pointwise_model

CRS = "EPSG:32633"
ORIGIN = (500000.0, 4000000.0)
PIXEL = 0.05  # 5 cm, a drone's ground sampling distance
RGBA = [ColorInterp.red, ColorInterp.green, ColorInterp.blue, ColorInterp.alpha]


def flight_mosaic(path, width=128, height=64, under=255):
    """A Pix4D-like RGBA transparent mosaic: the flight covers the left half's ellipse, the
    right half lies outside it (alpha 0), RGB ``under`` there (Metashape's and Pix4D's white
    background under the alpha)."""
    rng = np.random.default_rng(7)
    rgba = np.zeros((4, height, width), np.uint8)
    rgba[:3] = rng.integers(20, 230, (3, height, width))
    rows, cols = np.mgrid[0:height, 0:width]
    inside = ((rows - height / 2) / (height / 2 - 2)) ** 2 + ((cols - 32) / 30) ** 2 <= 1
    rgba[3] = np.where(inside, 255, 0)
    rgba[:3, ~inside] = under
    write_raster(path, rgba, crs=CRS, transform=from_origin(*ORIGIN, PIXEL, PIXEL),
                 tiled=True, blockxsize=32, blockysize=32, compress="lzw")
    with rasterio.open(path, "r+") as dst:
        dst.colorinterp = RGBA
    return path, inside


def split_tiles(mosaic, folder, size=64):
    """The mosaic split as Pix4D splits it (<name>_1_1.tif, _1_2.tif, ...), by gdal_translate
    -srcwin: the tiles keep RGBA and the colour interpretation."""
    folder.mkdir()
    with rasterio.open(mosaic) as src:
        width = src.width
    tiles = []
    for col in range(width // size):
        tile = folder / f"site_transparent_mosaic_group1_1_{col + 1}.tif"
        subprocess.run(["gdal_translate", "-q", "-srcwin", str(col * size), "0", str(size),
                        str(size), "-co", "TILED=YES", "-co", "BLOCKXSIZE=32", "-co",
                        "BLOCKYSIZE=32", "-co", "COMPRESS=LZW", str(mosaic), str(tile)],
                       check=True)
        tiles.append(tile)
    return tiles


def needs_gdal_translate():
    import shutil

    if shutil.which("gdal_translate") is None:
        pytest.skip("gdal_translate (gdal-bin) is not installed")


@pytest.fixture
def pix4d_tiles(tmp_path):
    needs_gdal_translate()
    mosaic, inside = flight_mosaic(tmp_path / "site_transparent_mosaic_group1.tif")
    tiles = split_tiles(mosaic, tmp_path / "tiles")
    with rasterio.open(tiles[1]) as src:  # the premise: tile 2 lies outside the flight
        assert src.colorinterp[3] == ColorInterp.alpha
        assert not src.read(4).any() and (src.read([1, 2, 3]) == 255).all()
    return tiles, inside


def test_predict_of_a_split_tile_outside_the_flight_is_nodata(tmp_path, run_cli, pix4d_tiles):
    """A Pix4D tile lying wholly outside the flight (alpha 0 everywhere over a white RGB) was
    read as an RGB+NIR whose NIR is 0 (no alpha value 255 in it): its 4096 white pixels were
    predicted (0.665 each), exit 0. Its alpha masks them: the output is all nodata, as the
    transparent half of the tile beside it, fed alone or with --mosaic."""
    tiles, inside = pix4d_tiles
    model = pointwise_model(tmp_path / "rgb.onnx", channels=3, activation="sigmoid")
    result = run_cli("predict", model, tiles[1], "-o", tmp_path / "alone.tif")
    assert result.exit_code == 0, result.output
    assert "holds no valid pixel" in result.stderr
    with rasterio.open(tmp_path / "alone.tif") as out:
        assert np.isnan(out.read(1)).all()
    result = run_cli("predict", model, *tiles, "--mosaic", "-o", tmp_path / "mosaic")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "mosaic" / tiles[0].name) as out:
        assert (np.isnan(out.read(1)) == ~inside[:, :64]).all()
    with rasterio.open(tmp_path / "mosaic" / tiles[1].name) as out:
        assert np.isnan(out.read(1)).all()


def test_tile_and_make_masks_of_a_split_tile_outside_the_flight(tmp_path, run_cli,
                                                                 pix4d_tiles):
    """The same tile: tile wrote its patches as wholly valid (nodata_fraction 0.0) and
    make-masks burnt a building into its transparent pixels -> nodata_fraction 1.0, the mask
    all 255 (ignored)."""
    tiles, _ = pix4d_tiles
    result = run_cli("tile", tiles[1], "--size", "32", "-o", tmp_path / "patches")
    assert result.exit_code == 0, result.output
    with open(tmp_path / "patches" / "index.csv") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["nodata_fraction"]) for r in rows] == [1.0] * 4
    x0, y0 = ORIGIN
    labels = tmp_path / "labels.geojson"
    geopandas.GeoDataFrame(geometry=[box(x0 + 2.0, y0 - 2.5, x0 + 4.5, y0 - 0.5)],
                           crs=CRS).to_file(labels)
    result = run_cli("make-masks", labels, tiles[1], "-o", tmp_path / "mask.tif")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "mask.tif") as mask:
        assert (mask.read(1) == 255).all()


def test_an_rgba_given_a_nodata_value_too_is_masked_by_both_without_rasterios_warning(
        tmp_path, run_cli):
    """An ODM orthophoto given a nodata value as well (gdal_edit.py -a_nodata 0, for QGIS):
    rasterio's 'nodata attribute is shadowing the alpha band. All masks will be determined by
    the nodata attribute' came out of predict, tile and make-masks, nameless and untrue:
    geotile masks by both (white under alpha 0, a black shadow under alpha 255). The masks
    are those, without the warning."""
    path, inside = flight_mosaic(tmp_path / "odm_orthophoto.tif")
    with rasterio.open(path, "r+") as dst:
        rgba = dst.read()
        rgba[:3, 20:30, 20:30] = 0  # a shadow inside the flight: nodata by its value
        dst.write(rgba)
        dst.nodata = 0
    shadow = np.zeros_like(inside)
    shadow[20:30, 20:30] = True
    invalid = ~inside | shadow
    model = pointwise_model(tmp_path / "rgb.onnx", channels=3, activation="sigmoid")
    result = run_cli("predict", model, path, "-o", tmp_path / "pred.tif")
    assert result.exit_code == 0, result.output
    assert "shadowing" not in result.stderr
    with rasterio.open(tmp_path / "pred.tif") as out:
        assert (np.isnan(out.read(1)) == invalid).all()
    result = run_cli("tile", path, "--size", "32", "-o", tmp_path / "patches")
    assert result.exit_code == 0, result.output
    assert "shadowing" not in result.stderr
    with open(tmp_path / "patches" / "index.csv") as f:
        rows = {(int(r["row"]), int(r["col"])): float(r["nodata_fraction"])
                for r in csv.DictReader(f)}
    for (row, col), fraction in rows.items():
        assert fraction == invalid[row * 32:row * 32 + 32, col * 32:col * 32 + 32].mean()
    x0, y0 = ORIGIN
    labels = tmp_path / "labels.geojson"
    geopandas.GeoDataFrame(geometry=[box(x0 + 0.5, y0 - 2.5, x0 + 6.0, y0 - 0.5)],
                           crs=CRS).to_file(labels)
    result = run_cli("make-masks", labels, path, "-o", tmp_path / "mask.tif")
    assert result.exit_code == 0, result.output
    assert "shadowing" not in result.stderr
    with rasterio.open(tmp_path / "mask.tif") as mask:
        assert ((mask.read(1) == 255) == invalid).all()


@pytest.fixture
def rgbn_pair(tmp_path):
    """A uint8 RGB+NIR composite (a multispectral drone's, band 4 flagged alpha by GDAL's
    default) with NIR 0 over a pond and every band 0 in an 8 px collar, written twice:
    declaring nodata 0, and declaring none (read right since 2eb8d4f: the reference)."""
    from tests.conftest import rgbn_with_a_lake

    stack = rgbn_with_a_lake((64, 64), (slice(20, 40), slice(10, 50)),
                             (slice(None), slice(0, 8)), seed=3)
    transform = from_origin(*ORIGIN, 1.0, 1.0)
    declared = write_raster(tmp_path / "rgbn_nodata0.tif", stack, crs=CRS,
                            transform=transform, nodata=0)
    plain = write_raster(tmp_path / "rgbn.tif", stack, crs=CRS, transform=transform)
    with rasterio.open(declared) as src:
        assert src.colorinterp[3] == ColorInterp.alpha
    return declared, plain


@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("how", ["plain", "model-resolution", "mosaic"])
def test_an_rgbn_declaring_nodata_0_keeps_its_nir_0s(tmp_path, run_cli, rgbn_pair, how,
                                                     channels):
    """An RGB+NIR GeoTIFF declaring nodata 0: rasterio's dataset mask is band 4's alone, so
    the NIR's 0s over a pond made its 800 px nodata (NaN, exit 0), the model fed RGB or all
    four bands, plainly, with --model-resolution or --mosaic. A nodata value beside a band
    flagged alpha that holds values: nodata where every band is 0 (the collar), the same
    output as the raster without the nodata value."""
    outputs = []
    model = pointwise_model(tmp_path / "m.onnx", channels=channels, activation="sigmoid")
    for image in rgbn_pair:
        options = []
        if how == "model-resolution":
            options = ["--model-resolution", "2"]
        if how == "mosaic":
            needs_gdal_translate()
            folder = tmp_path / f"{image.stem}_tiles"
            images = split_tiles(image, folder, size=32)
            options = ["--mosaic"]
        else:
            images = [image]
        out = tmp_path / f"{image.stem}_out"
        result = run_cli("predict", model, *images, "-o", f"{out}/", *options)
        assert result.exit_code == 0, result.output
        outputs.append(np.concatenate(
            [rasterio.open(out / p.name).read(1) for p in images], axis=1))
    declared, plain = outputs
    assert np.isnan(plain[:, :8]).all() and not np.isnan(plain[:, 8:]).any()
    np.testing.assert_array_equal(np.isnan(declared), np.isnan(plain))
    np.testing.assert_allclose(declared, plain, atol=1e-6)


def test_tile_and_make_masks_of_an_rgbn_declaring_nodata_0(tmp_path, run_cli, rgbn_pair):
    """The same raster through tile and make-masks: nodata_fraction and the ignored pixels
    are the collar's alone, its pond kept (as without the nodata value)."""
    declared, _ = rgbn_pair
    result = run_cli("tile", declared, "--size", "32", "-o", tmp_path / "patches")
    assert result.exit_code == 0, result.output
    with open(tmp_path / "patches" / "index.csv") as f:
        fractions = [float(r["nodata_fraction"]) for r in csv.DictReader(f)]
    assert fractions == [0.25, 0.0, 0.25, 0.0]
    with rasterio.open(tmp_path / "patches" / "images" / "rgbn_nodata0_0_1.tif") as patch:
        assert patch.nodata == 0  # band 4 is no alpha there either: the pond is data
        assert patch.colorinterp[3] == ColorInterp.undefined
        assert (patch.read_masks(1) > 0).all()
    x0, y0 = ORIGIN
    labels = tmp_path / "pond.geojson"
    geopandas.GeoDataFrame(geometry=[box(x0 + 10, y0 - 40, x0 + 50, y0 - 20)],
                           crs=CRS).to_file(labels)
    result = run_cli("make-masks", labels, declared, "-o", tmp_path / "mask.tif")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "mask.tif") as mask:
        values = mask.read(1)
    assert (values[:, :8] == 255).all() and (values[20:40, 10:50] == 1).all()
    assert (values == 255).sum() == 64 * 8


@pytest.fixture
def water_chip(tmp_path):
    """A uint8 RGB+NIR chip wholly over open water, its NIR 0 everywhere (an 8-bit stretch
    clips water's NIR), band 4 flagged alpha by GDAL's default for 4 uint8 bands."""
    rng = np.random.default_rng(11)
    stack = np.zeros((4, 64, 64), np.uint8)
    for band, (low, high) in enumerate([(5, 30), (20, 60), (40, 90)]):
        stack[band] = rng.integers(low, high, (64, 64))
    chip = write_raster(tmp_path / "water_chip.tif", stack, crs=CRS,
                        transform=from_origin(*ORIGIN, 1.0, 1.0))
    with rasterio.open(chip) as src:
        assert src.colorinterp[3] == ColorInterp.alpha
    return chip, stack


def test_an_rgbn_chip_whose_nir_is_0_everywhere_is_data(tmp_path, run_cli, water_chip):
    """Since aa3ec75 a band flagged alpha and 0 everywhere over other bands holding values
    masked every pixel: an RGB+NIR chip over water (NIR clipped to 0) was refused for a
    4-channel model ('band 4 is alpha'), all NaN with --bands 1,2,3,4 (exit 0), and tile
    gave it nodata_fraction 1.0. Its RGB varies, as no fill under a transparent tile does:
    band 4 is its NIR, every pixel data."""
    from tests.onnx_models import pointwise_reference

    chip, stack = water_chip
    model = pointwise_model(tmp_path / "rgbn.onnx", channels=4, activation="sigmoid")
    result = run_cli("predict", model, chip, "-o", tmp_path / "out.tif")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "out.tif") as out:
        values = out.read(1)
    expected = pointwise_reference(stack[np.newaxis].astype(np.float64) / 255, channels=4)
    np.testing.assert_allclose(values, expected[0, 0], atol=1e-5)
    result = run_cli("tile", chip, "--size", "32", "-o", tmp_path / "patches")
    assert result.exit_code == 0, result.output
    with open(tmp_path / "patches" / "index.csv") as f:
        assert [float(r["nodata_fraction"]) for r in csv.DictReader(f)] == [0.0] * 4


def test_an_rgbn_with_band_4_undefined_keeps_its_nir_0s_in_every_path(tmp_path, run_cli):
    """tile's own RGB+NIR patches (band 4 no alpha) declaring nodata 0: rasterio's dataset
    mask of 4 bands led by red is band 4's alone, so --model-resolution and make-masks made
    the pond's 800 px nodata while a plain predict (read_block) kept them: 1312 NaN px
    against 512. Every path: nodata where every band is 0 (the 512 px collar)."""
    from tests.conftest import rgbn_with_a_lake

    stack = rgbn_with_a_lake((64, 64), (slice(20, 40), slice(10, 50)),
                             (slice(None), slice(0, 8)), seed=3)
    image = write_raster(tmp_path / "rgbn.tif", stack, crs=CRS,
                         transform=from_origin(*ORIGIN, 1.0, 1.0), nodata=0)
    with rasterio.open(image, "r+") as dst:
        dst.colorinterp = [ColorInterp.red, ColorInterp.green, ColorInterp.blue,
                           ColorInterp.undefined]
    model = pointwise_model(tmp_path / "m.onnx", channels=4, activation="sigmoid")
    for name, options in [("plain", []), ("resampled", ["--model-resolution", "2"])]:
        result = run_cli("predict", model, image, "-o", f"{tmp_path / name}/", *options)
        assert result.exit_code == 0, result.output
        with rasterio.open(tmp_path / name / "rgbn.tif") as out:
            missing = np.isnan(out.read(1))
        assert missing[:, :8].all() and not missing[:, 8:].any(), name
    x0, y0 = ORIGIN
    labels = tmp_path / "pond.geojson"
    geopandas.GeoDataFrame(geometry=[box(x0 + 10, y0 - 40, x0 + 50, y0 - 20)],
                           crs=CRS).to_file(labels)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "mask.tif") as mask:
        values = mask.read(1)
    assert (values[20:40, 10:50] == 1).all() and (values == 255).sum() == 64 * 8


def test_make_masks_of_a_split_tile_outside_the_flight_and_the_labels_says_255(
        tmp_path, run_cli, pix4d_tiles):
    """Labels of the flight's buildings over a Pix4D tile outside the flight (and them): the
    warning said 'the mask is all zeros' while make-masks wrote 255 (ignore) in all its 4096
    pixels (alpha 0). It says what the mask holds: 0 where the image holds data, 255 where
    it is nodata."""
    tiles, _ = pix4d_tiles
    x0, y0 = ORIGIN
    labels = tmp_path / "labels.geojson"  # over tile 1's flight only
    geopandas.GeoDataFrame(geometry=[box(x0 + 0.5, y0 - 2.5, x0 + 2.0, y0 - 0.5)],
                           crs=CRS).to_file(labels)
    result = run_cli("make-masks", labels, tiles[1], "-o", tmp_path / "mask.tif")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "mask.tif") as mask:
        assert (mask.read(1) == 255).all()
    warned = [line for line in result.stderr.splitlines() if "no feature overlaps" in line]
    assert len(warned) == 1, result.stderr
    assert "all zeros" not in warned[0]
    assert "0 where the image holds data, 255 (ignore) where it is nodata" in warned[0]


def _tfw_split_tile(tmp_path):
    """A Pix4D split tile (64 px of the flight mosaic) as a baseline TIFF placed by a .tfw
    beside it, no GeoKeys."""
    mosaic, _ = flight_mosaic(tmp_path / "site_transparent_mosaic_group1.tif")
    tile = tmp_path / "site_transparent_mosaic_group1_1_1.tif"
    subprocess.run(["gdal_translate", "-q", "--config", "GDAL_PAM_ENABLED", "NO", "-srcwin",
                    "0", "0", "64", "64", "-co", "PROFILE=BASELINE", "-co", "TFW=YES",
                    str(mosaic), str(tile)], check=True)
    return tile


def _box_labels(tmp_path):
    """One box label over that tile, in its CRS."""
    x0, y0 = ORIGIN
    labels = tmp_path / "labels.geojson"
    geopandas.GeoDataFrame(geometry=[box(x0 + 0.5, y0 - 2.5, x0 + 2.0, y0 - 0.5)],
                           crs=CRS).to_file(labels)
    return labels


def test_make_masks_on_a_split_tile_placed_by_tfw_and_prj_names_the_prj(tmp_path, run_cli):
    """A Pix4D tile delivered as a baseline TIFF with .tfw and .prj beside it (no GeoKeys):
    GDAL reads the world file but not the .prj for a GeoTIFF, so make-masks refused it with
    'Assign one with `gdal_edit.py -a_srs EPSG:xxxx`', leaving the user to find the EPSG code
    of the CRS already beside it (predict's warning named the .prj). The refusal names it:
    gdal_edit.py -a_srs <tile>.prj <tile>.tif; nothing is written."""
    from pyproj import CRS as ProjCRS

    needs_gdal_translate()
    tile = _tfw_split_tile(tmp_path)
    prj = tile.with_suffix(".prj")
    prj.write_text(ProjCRS.from_user_input(CRS).to_wkt("WKT1_ESRI"))
    with rasterio.open(tile) as src:  # the premise: placed by the .tfw, no CRS read
        assert src.crs is None and src.transform.a == PIXEL
    labels = _box_labels(tmp_path)
    result = run_cli("make-masks", labels, tile, "-o", tmp_path / "mask.tif")
    assert_one_line_error(result, tile.name, "has no CRS",
                          f"gdal_edit.py -a_srs {prj} {tile}")
    assert "EPSG:xxxx" not in result.stderr
    assert not (tmp_path / "mask.tif").exists()


@pytest.mark.parametrize("text", ["", "Pix4D project: arbitrary coordinates\n"],
                         ids=["empty", "no-crs"])
def test_a_prj_beside_a_tfw_tile_that_holds_no_crs_is_not_offered(tmp_path, run_cli, text):
    """A .prj beside a .tfw-placed tile that no reader takes for a CRS (empty, as an export
    of arbitrary coordinates leaves it; other text) was offered all the same: 'tile.prj
    beside it holds one ... gdal_edit.py -a_srs tile.prj tile.tif', which GDAL refuses
    ('failed to load SRS definition'). Now the refusal says the .prj holds none GDAL reads
    and asks for the CRS (EPSG:xxxx); nothing is written."""
    needs_gdal_translate()
    tile = _tfw_split_tile(tmp_path)
    prj = tile.with_suffix(".prj")
    prj.write_text(text)
    labels = _box_labels(tmp_path)
    result = run_cli("make-masks", labels, tile, "-o", tmp_path / "mask.tif")
    assert_one_line_error(result, tile.name, "has no CRS", "EPSG:xxxx",
                          f"{prj.name} beside it holds no CRS")
    assert f"-a_srs {prj}" not in result.stderr
    assert not (tmp_path / "mask.tif").exists()
