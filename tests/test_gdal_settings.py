"""GDAL/PROJ settings users keep in their shell for other tools: geotile's outputs stay the
same whatever they set, or it refuses in one line (geotile/gdal_settings.py)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.env import get_gdal_config
from rasterio.errors import NotGeoreferencedWarning
from rasterio.transform import from_origin

from .conftest import UTM_ORIGIN, assert_one_line_error, write_raster
from .onnx_models import pointwise_model

PIXEL = 0.5


def _tfw_tile(path):
    """A baseline TIFF (no GeoKeys) placed by the .tfw beside it, as Pix4D and ArcGIS
    exports deliver split tiles."""
    pixels = np.random.default_rng(0).integers(0, 255, (3, 32, 32)).astype(np.uint8)
    with warnings.catch_warnings(), rasterio.Env(GDAL_PAM_ENABLED="NO"):
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        dst = rasterio.open(
            path, "w", driver="GTiff", width=32, height=32, count=3, dtype="uint8",
            profile="BASELINE")
        with dst:
            dst.write(pixels)
    x0, y0 = UTM_ORIGIN
    path.with_suffix(".tfw").write_text(
        f"{PIXEL}\n0\n0\n{-PIXEL}\n{x0 + PIXEL / 2}\n{y0 - PIXEL / 2}\n")
    return path


@pytest.mark.parametrize("value", ["EMPTY_DIR", "TRUE"])
def test_predict_of_a_tfw_placed_tile_keeps_its_place_whatever_readdir(
        tmp_path, run_cli, monkeypatch, value):
    """GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR (set for cloud reads) hides every side-car:
    predict of a .tfw-placed tile wrote its probabilities on the identity grid (origin 0,0,
    1 unit pixels), exit 0. geotile opens rasters with their side-cars looked up by name
    (TRUE, as without the setting): the output lies where the tile does."""
    tile = _tfw_tile(tmp_path / "tile.tif")
    model = pointwise_model(tmp_path / "m.onnx", activation="sigmoid", ir_version=10)
    monkeypatch.setenv("GDAL_DISABLE_READDIR_ON_OPEN", value)
    out = tmp_path / f"p_{value}.tif"
    result = run_cli("predict", model, tile, "-o", out, "--scale", "0.0039", "-q")
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as src:
        assert src.transform == from_origin(*UTM_ORIGIN, PIXEL, PIXEL)
    # rasterio set the environment's value back as a GDAL option at the command's end:
    # unset from the environment, it stayed in force and hid the next reads' side-cars
    monkeypatch.delenv("GDAL_DISABLE_READDIR_ON_OPEN")
    assert get_gdal_config("GDAL_DISABLE_READDIR_ON_OPEN") is None


def test_a_users_empty_dir_in_a_rasterio_env_does_not_hide_a_side_car(tmp_path):
    """Library use under the user's rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN='EMPTY_DIR'):
    open_raster read a tile whose nodata mask lies in its .msk as all valid; geotile's
    reads find the .msk as they do without the setting, and the setting is the user's again
    after the call."""
    from geotile.raster import open_raster

    tile = write_raster(tmp_path / "t.tif", np.ones((1, 8, 8), "uint8"))
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK="NO"), rasterio.open(tile, "r+") as dst:
        dst.write_mask(np.r_[np.zeros((4, 8)), np.full((4, 8), 255)].astype("uint8"))
    assert (tmp_path / "t.tif.msk").exists()
    with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"):
        with open_raster(tile) as src:
            mask = src.read_masks(1)
        assert get_gdal_config("GDAL_DISABLE_READDIR_ON_OPEN") == "EMPTY_DIR"
    assert mask[0, 0] == 0 and mask[7, 0] == 255


def test_predict_of_a_png_placed_by_its_aux_xml_keeps_its_place_without_pam(
        tmp_path, run_cli, make_raster, monkeypatch):
    """GDAL_PAM_ENABLED=NO (set to keep .aux.xml files from being written) also stops GDAL
    reading them: predict of a PNG whose CRS and geotransform lie in its .aux.xml (GDAL's
    own PNG copies, labelling tools' exports) wrote probabilities without CRS on the
    identity grid, exit 0 and no word; make-masks called it ungeoreferenced. geotile reads
    its inputs' .aux.xml as without the setting."""
    tile = make_raster("t.tif", np.random.default_rng(1).integers(0, 255, (3, 16, 16))
                       .astype(np.uint8))
    png = tmp_path / "t.png"
    with rasterio.open(tile) as src, rasterio.open(png, "w", driver="PNG", width=16,
                                                   height=16, count=3, dtype="uint8",
                                                   crs=src.crs, transform=src.transform) as dst:
        dst.write(src.read())
    assert (tmp_path / "t.png.aux.xml").exists()
    model = pointwise_model(tmp_path / "m.onnx", activation="sigmoid", ir_version=10)
    monkeypatch.setenv("GDAL_PAM_ENABLED", "NO")
    result = run_cli("predict", model, png, "-o", tmp_path / "p.tif", "--scale", "0.0039", "-q")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "p.tif") as out, rasterio.open(tile) as src:
        assert out.crs == src.crs and out.transform == src.transform
    monkeypatch.delenv("GDAL_PAM_ENABLED")
    assert get_gdal_config("GDAL_PAM_ENABLED") is None


def _nad27_labels(tmp_path):
    """One building label in NAD27 (EPSG:4267) over a UTM 16N tile: its best move to the
    tile goes through the PROJ grid us_noaa_conus.tif."""
    import geopandas
    from shapely.geometry import box

    x0, y0 = UTM_ORIGIN
    labels = tmp_path / "nad27.gpkg"
    geopandas.GeoDataFrame(geometry=[box(x0 + 2, y0 - 10, x0 + 10, y0 - 2)],
                           crs="EPSG:32616").to_crs("EPSG:4267").to_file(labels)
    return labels


@pytest.fixture
def proj_network_offline(monkeypatch):
    """A call that sets PROJ_NETWORK=ON as a user sets it for grids, on a machine where
    PROJ's CDN is out of reach (a port nothing listens on); pyproj's own setting is made
    again with it, and restored after the test."""
    import pyproj

    if (Path(pyproj.datadir.get_data_dir()) / "us_noaa_conus.tif").exists():
        pytest.skip("us_noaa_conus.tif is installed: PROJ needs no network for it")

    def offline():
        monkeypatch.setenv("PROJ_NETWORK", "ON")
        monkeypatch.setenv("PROJ_NETWORK_ENDPOINT", "http://127.0.0.1:9")
        pyproj.network.set_network_enabled(True)

    before = pyproj.network.is_network_enabled()
    yield offline
    pyproj.network.set_network_enabled(before)


def test_labels_moved_through_a_grid_proj_cannot_download_are_refused(
        tmp_path, run_cli, make_raster, proj_network_offline):
    """PROJ_NETWORK=ON with no network: PROJ picks the NAD27 -> WGS 84 transformation
    through us_noaa_conus.tif, cannot fetch it, and moves every vertex to inf: make-masks
    wrote an all-zero mask ('no feature overlaps tile.tif'), exit 0. Now one line names
    the grid, its projsync command and PROJ_NETWORK; nothing is written."""
    tile = make_raster("tile.tif", np.zeros((1, 32, 32), np.uint8))
    labels = _nad27_labels(tmp_path)
    proj_network_offline()
    result = run_cli("make-masks", labels, tile, "-o", tmp_path / "mask.tif")
    assert_one_line_error(result, labels.name, "PROJ_NETWORK=ON", "us_noaa_conus.tif",
                          "projsync --file us_noaa_conus.tif")
    assert not (tmp_path / "mask.tif").exists()


def test_vectorize_to_a_crs_through_a_grid_proj_cannot_download_is_refused(
        tmp_path, run_cli, make_raster, proj_network_offline):
    """vectorize --crs EPSG:4267 under PROJ_NETWORK=ON without network wrote a polygon of
    NaN coordinates, exit 0; now the one line, and no output."""
    mask = np.zeros((1, 32, 32), np.uint8)
    mask[0, 4:20, 4:20] = 1
    tile = make_raster("mask.tif", mask)
    out = tmp_path / "v.gpkg"
    proj_network_offline()
    result = run_cli("vectorize", tile, "-o", out, "--crs", "EPSG:4267")
    assert_one_line_error(result, "PROJ_NETWORK=ON", "projsync --file us_noaa_")
    assert not out.exists()


def _nad27_raster(tmp_path, name):
    """A 0/1 class raster in NAD27 (EPSG:4267) over the UTM tile of make_raster."""
    from rasterio.warp import transform_bounds

    x0, y0 = UTM_ORIGIN
    west, south, east, north = transform_bounds("EPSG:32616", "EPSG:4267", x0, y0 - 16,
                                                x0 + 16, y0)
    classes = np.zeros((1, 20, 20), np.uint8)
    classes[0, 5:15, 5:15] = 1
    return write_raster(tmp_path / name, classes, crs="EPSG:4267", transform=from_origin(
        west, north, (east - west) / 20, (north - south) / 20))


def _geotile_offline(*args):
    """geotile run in a process of its own under PROJ_NETWORK=ON with PROJ's CDN out of reach:
    GDAL's PROJ reads PROJ_NETWORK once, when the process starts."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PROJ_NETWORK": "ON", "PROJ_NETWORK_ENDPOINT": "http://127.0.0.1:9",
           "PYTHONPATH": str(Path(__file__).parents[1])}
    return subprocess.run([sys.executable, "-m", "geotile", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=120)


def _one_line(process, *fragments):
    lines = process.stderr.strip().splitlines()
    assert process.returncode == 1 and len(lines) == 1, process.stderr
    assert all(f in lines[0] for f in fragments), lines[0]


def test_a_label_raster_moved_through_a_grid_proj_cannot_download_is_refused(
        tmp_path, make_raster, proj_network_offline):
    """make-masks of a NAD27 class raster over a UTM tile under PROJ_NETWORK=ON without
    network: GDAL's PROJ moved the tile's bounds to inf, and the mask was all ignore (255),
    exit 0 ('holds only no data under tile.tif'), or a traceback (ValueError: cannot
    convert float NaN to integer). Now the one line naming PROJ_NETWORK; no mask."""
    tile = make_raster("tile.tif", np.zeros((1, 32, 32), np.uint8))
    labels = _nad27_raster(tmp_path, "classes.tif")
    result = _geotile_offline("make-masks", labels, tile, "-o", tmp_path / "mask.tif")
    _one_line(result, "classes.tif", "PROJ_NETWORK=ON", "projsync --file us_noaa_")
    assert not (tmp_path / "mask.tif").exists()


def test_extra_bands_moved_through_a_grid_proj_cannot_download_are_refused(
        tmp_path, make_raster, proj_network_offline):
    """predict --extra-bands of a NAD27 raster under PROJ_NETWORK=ON without network was
    refused as not overlapping the image ('it spans inf, inf to inf, inf'): the line now
    names PROJ_NETWORK and the grid."""
    tile = make_raster("tile.tif", np.zeros((3, 32, 32), np.uint8))
    extra = _nad27_raster(tmp_path, "ndsm.tif")
    model = pointwise_model(tmp_path / "m.onnx", channels=4, ir_version=10)
    result = _geotile_offline("predict", model, tile, "--extra-bands", extra, "-o",
                              tmp_path / "p.tif")
    _one_line(result, "ndsm.tif", "PROJ_NETWORK=ON", "projsync --file us_noaa_")
    assert not (tmp_path / "p.tif").exists()


def test_predict_keeps_its_nodata_mask_inside_the_output_without_internal_masks(
        tmp_path, run_cli, make_raster, monkeypatch):
    """GDAL_TIFF_INTERNAL_MASK=NO (a user's, for tools that want .msk files) made GDAL
    write predict's uint8 mask into a .msk of the temporary file, left behind under the
    temporary name when it became the output: every pixel of the output valid, the
    image's 10 px nodata collar scored as predictions, exit 0. The mask stays inside."""
    pixels = np.random.default_rng(2).integers(1, 255, (3, 32, 32)).astype(np.uint8)
    pixels[:, :, :10] = 0
    tile = make_raster("tile.tif", pixels, nodata=0)
    model = pointwise_model(tmp_path / "m.onnx", activation="sigmoid", ir_version=10)
    monkeypatch.setenv("GDAL_TIFF_INTERNAL_MASK", "NO")
    out = tmp_path / "out" / "p.tif"
    result = run_cli("predict", model, tile, "-o", out, "--scale", "0.0039", "--dtype",
                     "uint8", "-q")
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as src:
        mask = src.read_masks(1)
    assert (mask[:, :10] == 0).all() and (mask[:, 10:] == 255).all()
    assert sorted(p.name for p in out.parent.iterdir()) == ["p.tif"]


def _overviews(path):
    """(compression, block shape, pixels) of each overview of ``path``."""
    with rasterio.open(path) as src:
        levels = len(src.overviews(1))
    found = []
    for level in range(levels):
        with rasterio.open(path, OVERVIEW_LEVEL=level) as src:
            found.append((src.compression, src.block_shapes[0], src.read()))
    return found


def test_cog_overviews_are_the_cogs_own_whatever_the_overview_settings(
        tmp_path, run_cli, make_raster, monkeypatch):
    """COMPRESS_OVERVIEW=JPEG and GDAL_TIFF_OVR_BLOCKSIZE=64 (a user's, for gdaladdo) were
    taken by the COG driver for predict --cog's overviews: JPEG refused the class raster's
    palette ('ERROR 1: JPEGSetupEncode: PhotometricInterpretation 3 not allowed', raw on
    stderr) and left its overview tiles unwritten (nodata read back), exit 0; 64 px
    overview blocks. The overviews are those written without the settings."""
    pixels = np.random.default_rng(3).integers(0, 255, (3, 640, 640)).astype(np.uint8)
    tile = make_raster("tile.tif", pixels)
    model = pointwise_model(tmp_path / "m.onnx", activation="sigmoid", ir_version=10)
    args = (model, tile, "--scale", "0.0039", "--cog", "--output-type", "class", "-q")
    clean = tmp_path / "clean.tif"
    assert run_cli("predict", *args, "-o", clean).exit_code == 0
    monkeypatch.setenv("COMPRESS_OVERVIEW", "JPEG")
    monkeypatch.setenv("GDAL_TIFF_OVR_BLOCKSIZE", "64")
    out = tmp_path / "set.tif"
    result = run_cli("predict", *args, "-o", out)
    assert result.exit_code == 0 and not result.stderr, result.stderr
    expected, got = _overviews(clean), _overviews(out)
    assert len(got) == len(expected) == 1
    assert got[0][:2] == expected[0][:2]
    np.testing.assert_array_equal(got[0][2], expected[0][2])


def test_cog_under_a_cpl_tmpdir_that_is_no_folder_names_the_setting(
        tmp_path, run_cli, make_raster, monkeypatch):
    """CPL_TMPDIR naming a folder that is gone (a user's, from another machine's set-up):
    the COG driver writes its temporary overviews there, and predict --cog was refused with
    'GDAL could not write it (Attempt to create new tiff file ... failed) ... Free space or
    choose another folder', advice that fixes nothing. The line names CPL_TMPDIR."""
    pixels = np.random.default_rng(3).integers(0, 255, (3, 640, 640)).astype(np.uint8)
    tile = make_raster("tile.tif", pixels)
    model = pointwise_model(tmp_path / "m.onnx", activation="sigmoid", ir_version=10)
    missing = tmp_path / "gone"
    monkeypatch.setenv("CPL_TMPDIR", str(missing))
    out = tmp_path / "out" / "p.tif"
    result = run_cli("predict", model, tile, "--scale", "0.0039", "--cog", "-o", out, "-q")
    assert_one_line_error(result, f"CPL_TMPDIR={missing}", "unset it")
    assert not out.exists()


@pytest.mark.parametrize("setting", ["ISO-8859-1", "CP1252", ""])
@pytest.mark.parametrize("code_page", ["UTF-8", "CP1252"])
def test_a_shapefiles_code_page_wins_over_shape_encoding(tmp_path, run_cli, make_raster,
                                                         monkeypatch, setting, code_page):
    """SHAPE_ENCODING (a user's, for older Shapefiles without .cpg) overrode the .cpg of
    the file: a UTF-8 Shapefile's class 'bâtiment' became 'bÃ¢timent' in the mask's class
    names, exit 0, no word. The .cpg beside the file is read as GDAL reads it unset."""
    import geopandas
    from shapely.geometry import box

    x0, y0 = UTM_ORIGIN
    labels = tmp_path / "labels.shp"
    geopandas.GeoDataFrame({"cls": ["bâtiment", "route"]},
                           geometry=[box(x0 + 1, y0 - 5, x0 + 5, y0 - 1),
                                     box(x0 + 8, y0 - 12, x0 + 12, y0 - 8)],
                           crs="EPSG:32616").to_file(labels, encoding=code_page)
    assert labels.with_suffix(".cpg").read_text().upper().replace("-", "") == \
        code_page.replace("-", "")
    tile = make_raster("tile.tif", np.zeros((1, 32, 32), np.uint8))
    monkeypatch.setenv("SHAPE_ENCODING", setting)
    result = run_cli("make-masks", labels, tile, "-o", tmp_path / "m.tif", "--class-field",
                     "cls", "--json", "-q")
    assert result.exit_code == 0, result.output
    import json

    assert json.loads(result.stdout)["classes"] == ["background", "bâtiment", "route"]
