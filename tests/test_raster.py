"""raster.py: opening with checks, profiles, atomic writes."""

from __future__ import annotations

import os

import numpy as np
import pytest
import rasterio

from geotile.creation_options import parse_creation_options
from geotile.errors import InputError, OutputExistsError
from geotile.output_files import atomic_output
from geotile.raster import (
    check_pixels_readable,
    open_raster,
    output_profile,
    read_window,
    require_crs,
)


def test_open_missing_file_names_it(tmp_path):
    missing = tmp_path / "nope.tif"
    with pytest.raises(InputError, match=r"nope\.tif: no such file"):
        open_raster(missing)


def test_open_non_raster_says_so(tmp_path):
    text = tmp_path / "notes.tif"
    text.write_text("this is not an image")
    with pytest.raises(InputError, match=r"notes\.tif: not a raster GDAL can read"):
        open_raster(text)


def test_corrupt_pixels_are_an_input_error(real_data):
    with open_raster(real_data / "rasterio" / "corrupt.tif") as src, pytest.raises(
        InputError, match=r"corrupt\.tif: pixel data cannot be read"
    ):
        check_pixels_readable(src)
        read_window(src)


def test_require_crs(make_raster):
    path = make_raster("nocrs.tif", np.zeros((4, 4), np.uint8), crs=None)
    with open_raster(path) as src, pytest.raises(InputError, match="has no CRS, so labels"):
        require_crs(src, "labels cannot be placed on it")


def test_output_profile_keeps_grid_and_sets_compression(make_raster):
    path = make_raster("img.tif", np.zeros((3, 40, 50), np.uint16))
    with rasterio.open(path) as src:
        profile = output_profile(src, count=1, dtype="float32", nodata=np.nan)
        assert profile["width"] == 50 and profile["height"] == 40
        assert profile["transform"] == src.transform and profile["crs"] == src.crs
    assert profile["tiled"] and profile["compress"] == "deflate"
    assert profile["predictor"] == 3  # floating-point predictor for float32
    # blocks shrink to the image (a multiple of 16) instead of 512 px
    assert profile["blockxsize"] == 64 and profile["blockysize"] == 48


def test_creation_options_override_and_parse():
    options = parse_creation_options(["COMPRESS=ZSTD", "blockxsize=256"])
    assert options == {"compress": "ZSTD", "blockxsize": "256"}
    profile = output_profile(None, count=1, dtype="uint8", width=10, height=10,
                             creation_options=options)
    assert profile["compress"] == "ZSTD"
    with pytest.raises(InputError, match="KEY=VALUE"):
        parse_creation_options(["COMPRESS"])


def test_atomic_output_renames_on_success(tmp_path):
    final = tmp_path / "out.txt"
    with atomic_output(final) as tmp:
        assert tmp.parent == final.parent and tmp != final
        tmp.write_text("done")
        assert not final.exists()
    assert final.read_text() == "done"
    assert list(tmp_path.iterdir()) == [final]


def test_atomic_output_failure_leaves_old_file_and_no_temp(tmp_path):
    final = tmp_path / "out.txt"
    final.write_text("old")
    with pytest.raises(RuntimeError), atomic_output(final, overwrite=True) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert final.read_text() == "old"
    assert list(tmp_path.iterdir()) == [final]


def test_atomic_output_refuses_existing_without_overwrite(tmp_path):
    final = tmp_path / "out.txt"
    final.write_text("old")
    with pytest.raises(OutputExistsError, match="--overwrite"), atomic_output(final):
        pass
    assert final.read_text() == "old"


def test_output_profile_checks_creation_options():
    with pytest.raises(InputError, match=r"BLOCKXSIZE=7.*multiple of 16"):
        output_profile(None, count=1, dtype="uint8", width=10, height=10,
                       creation_options={"blockxsize": "7"})
    with pytest.raises(InputError, match=r"COMPRESS=JPEG.*uint8"):
        output_profile(None, count=1, dtype="float32", width=10, height=10,
                       creation_options={"compress": "JPEG"})
    # another compression replaces the default one, levels and predictor included
    profile = output_profile(None, count=3, dtype="uint8", width=10, height=10,
                             creation_options={"compress": "JPEG"})
    assert profile["compress"] == "JPEG" and "zlevel" not in profile
    assert "predictor" not in profile


def test_write_categories_merges_with_gdal_sidecar(make_raster):
    from geotile.categories import write_categories
    from geotile.output_files import pam_sidecar

    path = make_raster("ids.tif", np.array([[0, 1], [2, 1]], np.uint8))
    pam_sidecar(path).write_text('<PAMDataset><PAMRasterBand band="1"><Metadata>'
                                 '<MDI key="KEEP">yes</MDI></Metadata></PAMRasterBand>'
                                 '</PAMDataset>')
    write_categories(path, ["background", "building", "road"],
                     {0: (0, 0, 0, 0), 1: (230, 25, 75, 255), 2: (60, 180, 75, 255)})
    write_categories(path, ["background", "building", "road"])  # again: replaced, not doubled
    text = pam_sidecar(path).read_text()
    assert text.count("<CategoryNames>") == 1 and text.count("<GDALRasterAttributeTable") == 1
    with rasterio.open(path) as src:
        assert src.tags(1)["KEEP"] == "yes"
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".part")] == []


@pytest.mark.parametrize("dtype, nbits", [("uint8", "1"), ("uint8", "7"), ("uint16", "12"),
                                          ("float32", "16"), ("uint8", "eight")])
def test_fewer_bits_than_the_data_type_are_refused(dtype, nbits):
    # GDAL would keep only the low bits (class ids, nodata 255, pixels above 4095 changed)
    with pytest.raises(InputError, match=rf"NBITS={nbits}.*{dtype}"):
        output_profile(None, count=1, dtype=dtype, width=10, height=10,
                       creation_options={"nbits": nbits})


def test_nbits_of_the_data_type_is_accepted():
    profile = output_profile(None, count=1, dtype="uint16", width=10, height=10,
                             creation_options={"nbits": "16"})
    assert profile["nbits"] == "16"


def test_output_profile_keeps_class_ids_lossless():
    with pytest.raises(InputError, match=r"COMPRESS=JPEG: lossy compression would change"):
        output_profile(None, count=1, dtype="uint8", width=10, height=10, categorical=True,
                       creation_options={"compress": "JPEG"})


def test_grid_difference_names_what_differs(make_raster):
    """Mismatched grids are described by what differs, with values precise enough to see it
    (a half-pixel shift of a UTM origin included)."""
    from rasterio.transform import from_origin

    from geotile.crs_names import grid_difference

    from .conftest import UTM_ORIGIN

    x0, y0 = UTM_ORIGIN
    zeros = np.zeros((10, 10), np.uint8)
    base = make_raster("base.tif", zeros)
    variants = {
        "same": (make_raster("same.tif", zeros), None),
        "size": (make_raster("size.tif", np.zeros((10, 12), np.uint8)), "10x10 px against 12x10"),
        "crs": (make_raster("crs.tif", zeros, crs="EPSG:32617"), "EPSG:32617"),
        "none": (make_raster("none.tif", zeros, crs=None), "no CRS"),
        "shift": (make_raster("shift.tif", zeros, transform=from_origin(x0 + 0.25, y0, 0.5, 0.5)),
                  f"origin ({x0:.10g}, {y0:.10g}) against ({x0 + 0.25:.10g}, {y0:.10g})"),
        "pixel": (make_raster("pixel.tif", zeros, transform=from_origin(x0, y0, 0.3, 0.3)),
                  "pixel size 0.5 x 0.5 against 0.3 x 0.3"),
    }
    with rasterio.open(base) as a:
        for name, (path, expected) in variants.items():
            with rasterio.open(path) as b:
                found = grid_difference(a, b)
            if expected is None:
                assert found is None, name
            else:
                assert expected in found, (name, found)


def test_a_dangling_symlink_output_is_said_as_such(tmp_path):
    link = tmp_path / "out.txt"
    link.symlink_to(tmp_path / "nowhere" / "x.txt")
    said = r"out\.txt: already exists \(a symbolic link to .*x\.txt, which does not exist\)"
    with pytest.raises(OutputExistsError, match=said), atomic_output(link):
        pass
    assert link.is_symlink()
    with atomic_output(link, overwrite=True) as tmp:
        tmp.write_text("new")
    assert not link.is_symlink() and link.read_text() == "new"


def test_open_with_decode_threads_reads_the_same_pixels_and_leaves_no_setting(tmp_path):
    """GPU predict decodes a compressed tiled GeoTIFF's tiles in threads: the pixels of a
    window across many tiles (edges included) are those of a plain read, and
    GDAL_NUM_THREADS is set only while the file is opened."""
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    pixels = np.random.default_rng(3).integers(0, 256, (3, 300, 410), dtype=np.uint8)
    path = tmp_path / "tiled.tif"
    with rasterio.open(path, "w", driver="GTiff", width=410, height=300, count=3,
                       dtype="uint8", crs="EPSG:32616", transform=from_origin(0, 0, 0.3, 0.3),
                       tiled=True, blockxsize=64, blockysize=64, compress="deflate") as dst:
        dst.write(pixels)
    window = Window(37, 21, 373, 270)
    with open_raster(path) as plain, open_raster(path, decode_threads=4) as threaded:
        expected = plain.read(window=window)
        assert np.array_equal(threaded.read(window=window), expected)
        assert np.array_equal(threaded.read(), pixels)
    from rasterio._env import get_gdal_config

    assert get_gdal_config("GDAL_NUM_THREADS") is None


@pytest.mark.parametrize(("crs", "pixel", "x0", "y0"), [
    ("EPSG:4326", 2.7e-6, -115.3, 36.2),  # SpaceNet's 0.3 m pixels in degrees
    ("EPSG:32616", 0.3, 740000.0, 3735000.0),
    ("EPSG:3857", 1000.0, -12000000.0, 4300000.0),
])
def test_grid_difference_is_relative_to_the_pixel_size(make_raster, crs, pixel, x0, y0):
    """Grids a few pixels (or a pixel size) apart differ in every CRS, degrees included;
    float noise far below a pixel (3e-5 px) is the same grid."""
    from rasterio.transform import from_origin

    from geotile.crs_names import grid_difference
    from geotile.extra_bands import same_grid

    zeros = np.zeros((650, 650), np.uint8)

    def grid(name, dx=0.0, dy=0.0, scale=1.0):
        return make_raster(name, zeros, crs=crs, transform=from_origin(
            x0 + dx * pixel, y0 - dy * pixel, scale * pixel, scale * pixel))

    base = grid("base.tif")
    cases = {"east": (grid("east.tif", dx=3), "origin"),
             "south": (grid("south.tif", dy=0.01), "origin"),
             "coarser": (grid("coarser.tif", scale=2), "pixel size"),
             "drift": (grid("drift.tif", scale=1 + 1e-5), "pixel size"),  # 0.0065 px at 650
             "noise": (grid("noise.tif", dx=3e-5, dy=-3e-5, scale=1 + 1e-12), None)}
    with rasterio.open(base) as a:
        for name, (path, expected) in cases.items():
            with rasterio.open(path) as b:
                found = grid_difference(a, b)
                assert same_grid(a, b) is (expected is None), name
            if expected is None:
                assert found is None, (name, found)
            else:
                assert found is not None and found.startswith(expected), (name, found)


@pytest.mark.parametrize("band4", ["alpha", "nir"])
def test_a_jpeg_alpha_band_holds_a_mask(make_raster, band4):
    """A JPEG-compressed RGBA (rasterio's alpha.tif): the codec rings the alpha's edges
    (values 1..13 and 240..254 beside its 0s and 255s), and it was read as an alpha band
    holding values (RGB+NIR's), so predict read its transparent pixels under a non-zero RGB
    as data (alpha.tif: 4286 px). It masks again; a JPEG RGB+NIR's NIR still holds values."""
    from geotile.raster import alpha_holds_values, holds_a_mask

    stack = np.random.default_rng(1).integers(1, 250, (4, 64, 64)).astype(np.uint8)
    if band4 == "alpha":
        stack[3] = 255
    stack[3, 20:40, 10:50] = 0
    tif = make_raster("rgba.tif", stack, compress="jpeg", tiled=True, blockxsize=32,
                      blockysize=32)
    with rasterio.open(tif) as src:
        noisy = src.read(4)
        assert band4 == "nir" or ((noisy > 0) & (noisy < 255)).any()  # the codec's ringing
        assert holds_a_mask(src, 4) == (band4 == "alpha")
        assert alpha_holds_values(src) == (band4 == "nir")


@pytest.mark.parametrize("coefficients", [
    (float("nan"), 0, 500000, 0, -0.5, 4000000),  # NaN pixel width
    (0.5, 0, float("inf"), 0, -0.5, 4000000),  # infinite origin
    (1e300, 0, 1e300, 0, -1e300, 1e300),  # a pixel area past float range
])
def test_a_geotransform_of_nan_or_inf_is_refused_by_every_command(tmp_path, run_cli,
                                                                   coefficients):
    """A geotransform holding NaN/inf (or 1e300 px) gave make-masks an all-zero mask and
    tile/predict outputs with NaN bounds (exit 0), and vectorize a GEOSException
    traceback; each command refuses it in one line naming the file and gdal_edit.py."""
    from affine import Affine

    from .conftest import assert_one_line_error, write_raster
    from .onnx_models import pointwise_model

    image = write_raster(tmp_path / "bad.tif", np.full((3, 16, 16), 80, np.uint8),
                         transform=Affine(*coefficients))
    labels = tmp_path / "labels.geojson"
    labels.write_text('{"type": "FeatureCollection", "features": []}')
    model = pointwise_model(tmp_path / "m.onnx")
    runs = {"mask.tif": ("make-masks", labels, image, "-o", tmp_path / "mask.tif"),
            "patches": ("tile", image, "--size", "8", "-o", tmp_path / "patches"),
            "pred.tif": ("predict", model, image, "-o", tmp_path / "pred.tif"),
            "polygons.gpkg": ("vectorize", image, "-o", tmp_path / "polygons.gpkg")}
    for output, args in runs.items():
        assert_one_line_error(run_cli(*args), "bad.tif", "geotransform", "gdal_edit.py")
        assert not (tmp_path / output).exists()


def test_complex_int16_pixels_are_refused_by_every_command(tmp_path, run_cli):
    """A CInt16 raster (Sentinel-1 SLC's type) gave every command a TypeError traceback
    ('complex_int16' is no numpy type): one line naming the file and the conversion to
    amplitude (but make-masks, which takes it as a grid: below). It also offered
    'gdal_translate -ot CFloat32', whose CFloat32 copy every one of these refuses again:
    no longer named."""
    from .conftest import assert_one_line_error, write_raster
    from .onnx_models import pointwise_model

    pixels = (np.arange(256).reshape(16, 16) + 1j * 7).astype(np.complex64)
    image = write_raster(tmp_path / "slc.tif", pixels, dtype="complex_int16")
    model = pointwise_model(tmp_path / "m.onnx", channels=1)
    runs = {"patches": ("tile", image, "--size", "8", "-o", tmp_path / "patches"),
            "pred.tif": ("predict", model, image, "-o", tmp_path / "pred.tif"),
            "polygons.gpkg": ("vectorize", image, "-o", tmp_path / "polygons.gpkg")}
    for output, args in runs.items():
        result = run_cli(*args)
        assert_one_line_error(result, "slc.tif", "CInt16", "gdal_calc.py", "abs(A)")
        assert "CFloat32" not in result.stderr
        assert not (tmp_path / output).exists()
    copy = write_raster(tmp_path / "slc_cfloat32.tif", pixels)  # what -ot CFloat32 gives
    for args in (("tile", copy, "--size", "8", "-o", tmp_path / "patches"),
                 ("predict", model, copy, "-o", tmp_path / "pred.tif"),
                 ("vectorize", copy, "-o", tmp_path / "polygons.gpkg")):
        assert_one_line_error(run_cli(*args), "slc_cfloat32.tif", "abs(A)")


def test_a_file_of_subdatasets_names_one_to_give(tmp_path, run_cli):
    """A file of several rasters (GDAL subdatasets: a GeoPackage of two raster tables, a
    NetCDF/HDF5 of several variables) opens with 0 bands: every command failed with an
    IndexError traceback (make-masks: 'no georeferencing'). One line names its subdatasets
    and how to write one to a GeoTIFF."""
    import rasterio

    from .conftest import UTM_CRS, assert_one_line_error
    from .onnx_models import pointwise_model

    path = tmp_path / "multi.gpkg"
    profile = {"driver": "GPKG", "width": 16, "height": 16, "count": 3, "dtype": "uint8",
               "crs": UTM_CRS, "transform": rasterio.transform.from_origin(500000, 4e6, 1, 1)}
    for table, append in (("one", "NO"), ("two", "YES")):
        with rasterio.open(path, "w", **profile, RASTER_TABLE=table,
                           APPEND_SUBDATASET=append) as dst:
            dst.write(np.full((3, 16, 16), 80, np.uint8))
    model = pointwise_model(tmp_path / "m.onnx")
    labels = tmp_path / "labels.geojson"
    labels.write_text('{"type": "FeatureCollection", "features": []}')
    runs = {"mask.tif": ("make-masks", labels, path, "-o", tmp_path / "mask.tif"),
            "patches": ("tile", path, "--size", "8", "-o", tmp_path / "patches"),
            "pred.tif": ("predict", model, path, "-o", tmp_path / "pred.tif"),
            "polygons.gpkg": ("vectorize", path, "-o", tmp_path / "polygons.gpkg")}
    for output, args in runs.items():
        assert_one_line_error(run_cli(*args), "multi.gpkg", "subdatasets",
                              f"gdal_translate 'GPKG:{path}:one' one.tif")
        assert not (tmp_path / output).exists()


@pytest.mark.parametrize("how", ["environment", "rasterio.Env"])
def test_decode_threads_leave_the_users_gdal_num_threads(make_raster, monkeypatch, how):
    """predict on a GPU opened the image under GDAL_NUM_THREADS=<all cores>, over a user's
    GDAL_NUM_THREADS=1 (a shared node, a job given one core): their setting wins, as for
    GDAL's own tools; without one the image is decoded on the cores."""
    path = make_raster("img.tif", np.zeros((1, 8, 8), np.uint8))
    seen = []
    real_env = rasterio.Env

    def spy(**options):
        seen.append(options.get("GDAL_NUM_THREADS"))
        return real_env(**options)

    monkeypatch.setattr(rasterio, "Env", spy)
    with open_raster(path, decode_threads=8):
        pass
    assert seen == ["8"]
    seen.clear()
    if how == "environment":
        monkeypatch.setenv("GDAL_NUM_THREADS", "1")
        with open_raster(path, decode_threads=8):
            pass
    else:
        with real_env(GDAL_NUM_THREADS="1"), open_raster(path, decode_threads=8):
            pass
    assert seen == []


def test_too_many_open_files_advises_ulimit_n_not_free_space_or_a_damaged_file(tmp_path):
    # a merge past the open-file limit said "Free space or choose another folder" and a
    # VRT read said its tile was "damaged or truncated"
    import errno
    import os
    from unittest import mock

    from rasterio.errors import RasterioIOError

    from geotile.errors import write_advice
    from geotile.raster import read_window

    from .conftest import write_raster

    assert "ulimit -n" in write_advice(OSError(errno.EMFILE, os.strerror(errno.EMFILE)))
    assert "ulimit -n" in write_advice("t_002_015.tif: Too many open files")
    path = write_raster(tmp_path / "a.tif", np.ones((1, 4, 4), "uint8"))
    failing = RasterioIOError("t.tif: Too many open files")
    with rasterio.open(path) as src, mock.patch.object(type(src), "read", side_effect=failing), \
            pytest.raises(InputError, match=r"ulimit -n") as raised:
        read_window(src)
    assert "damaged" not in str(raised.value)


def test_system_wide_too_many_open_files_is_not_advised_ulimit_n(tmp_path):
    # GDAL's text of ENFILE ("Too many open files in system") holds EMFILE's: a write said
    # "raise the limit (ulimit -n 4096)" and a read the same, which cannot help
    from unittest import mock

    from rasterio.errors import RasterioIOError

    from geotile.errors import write_advice
    from geotile.raster import read_window

    from .conftest import write_raster

    advice = write_advice("TIFFOpen: out.tif: Too many open files in system")
    assert "close other programs" in advice and "ulimit" not in advice
    path = write_raster(tmp_path / "a.tif", np.ones((1, 4, 4), "uint8"))
    failing = RasterioIOError("t.tif: Too many open files in system")
    with rasterio.open(path) as src, mock.patch.object(type(src), "read", side_effect=failing), \
            pytest.raises(InputError, match=r"close other programs") as raised:
        read_window(src)
    assert "ulimit" not in str(raised.value) and "damaged" not in str(raised.value)


def test_side_car_check_is_not_quadratic_in_a_folder_of_dotted_names(tmp_path, monkeypatch):
    # d23af52 filed a folder's names by their first part: in a time series named
    # 2024.05.0001.tif .. every raster shares "2024", so each open walked all 4000 names
    # (4000 opens: ~3 s more, quadratic); and scene.tif beside scene.v2.tif was taken for
    # one with a side-car in another case, so GDAL listed the folder at its every open
    import geotile.input_paths as input_paths
    from geotile.gdal_settings import READ_SETTINGS
    from geotile.input_paths import _folder_names, side_car_in_another_case

    monkeypatch.delenv("GDAL_DISABLE_READDIR_ON_OPEN", raising=False)
    names = [f"2024.05.{i:04d}.tif" for i in range(4000)]
    for name in names:
        (tmp_path / name).touch()
    for name in ("2024.05.0007.Tfw", "2024.05.0008.TFW", "2024.05.0009.tif.Msk",
                 "scene.tif", "scene.v2.tif", "Other.tif", "other.tif.msk", "bare", "bare.Hdr",
                 "Alone.Tif"):
        (tmp_path / name).touch()
    listings = []
    listdir = os.listdir
    monkeypatch.setattr(input_paths.os, "listdir",
                        lambda folder: listings.append(folder) or listdir(folder))
    with rasterio.Env(**READ_SETTINGS):
        found = [name for name in names if side_car_in_another_case(tmp_path / name)]
        assert found == ["2024.05.0007.tif", "2024.05.0009.tif"]
        assert not side_car_in_another_case(tmp_path / "scene.tif")
        assert side_car_in_another_case(tmp_path / "Other.tif")
        assert side_car_in_another_case(tmp_path / "bare")
        assert not side_car_in_another_case(tmp_path / "Alone.Tif")
    assert listings == [str(tmp_path)]  # one listing serves the folder's 4000 checks
    # and each raster's check walks its own names, not the 4000 sharing "2024"
    filed = _folder_names(str(tmp_path), names[0])
    assert max(len(filed[name[:-4].lower()]) for name in names) == 2  # 0007: .tif, .Tfw


def test_a_folder_written_into_is_not_listed_again_at_every_open(tmp_path, monkeypatch):
    # d23af52 cached a folder's listing by its mtime: outputs written beside the inputs
    # changed it at every tile, so each open listed the whole folder again (3000 tiles,
    # 3 opens and one output each: 48 s vs 5.5 s for GDAL's opens alone)
    import os

    from geotile.gdal_settings import READ_SETTINGS
    from geotile.input_paths import side_car_in_another_case

    monkeypatch.delenv("GDAL_DISABLE_READDIR_ON_OPEN", raising=False)
    for i in range(200):
        (tmp_path / f"t_{i:03d}.tif").touch()
    listings = []
    listdir = os.listdir
    monkeypatch.setattr(os, "listdir", lambda folder: listings.append(folder) or listdir(folder))
    with rasterio.Env(**READ_SETTINGS):
        for i in range(200):
            for _ in range(3):
                assert not side_car_in_another_case(tmp_path / f"t_{i:03d}.tif")
            (tmp_path / f"t_{i:03d}_out.tif").touch()
        assert len(listings) <= 2, len(listings)
        # a raster the listing has not seen is looked up in a new one, with its side-cars
        (tmp_path / "new.tif").touch()
        (tmp_path / "new.Tfw").touch()
        assert side_car_in_another_case(tmp_path / "new.tif")


def test_make_masks_takes_a_complex_int16_image_as_its_grid(tmp_path, run_cli):
    """make-masks reads an image for its grid (and nodata) only, but refused a CInt16 one
    (Sentinel-1 SLC's, Capella SLC's type) with 'convert it to amplitude': its mask is made,
    on its exact grid, as for a CFloat32 image."""
    import json

    import rasterio

    from .conftest import UTM_ORIGIN, write_raster

    pixels = (np.arange(256).reshape(16, 16) + 1j * 7).astype(np.complex64)
    image = write_raster(tmp_path / "slc.tif", pixels, dtype="complex_int16")
    x, y = UTM_ORIGIN
    square = [[x + 1, y - 1], [x + 3, y - 1], [x + 3, y - 3], [x + 1, y - 3], [x + 1, y - 1]]
    labels = tmp_path / "labels.geojson"
    labels.write_text(json.dumps({"type": "FeatureCollection", "crs": {
        "type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32616"}}, "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon",
                                                          "coordinates": [square]}}]}))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "mask.tif") as mask, rasterio.open(image) as src:
        assert (mask.crs, mask.transform, mask.shape) == (src.crs, src.transform, src.shape)
        values = mask.read(1)
    assert values[2:6, 2:6].all() and values.sum() == 16


def test_a_cog_may_grow_past_4_gb_as_the_geotiffs_do(tmp_path, monkeypatch):
    """GeoTIFF outputs say BIGTIFF=IF_SAFER; their COG copies said nothing, the COG driver's
    IF_NEEDED, which never makes a compressed file BigTIFF: a city's COG (predict --cog,
    --merge) past 4 GB compressed failed at the very end, after all the inference."""
    import rasterio.shutil

    from geotile.output_files import write_cog

    src = tmp_path / "src.tif"
    with rasterio.open(src, "w", driver="GTiff", width=32, height=32, count=1, dtype="uint8",
                       crs="EPSG:32616", transform=rasterio.transform.from_origin(0, 32, 1, 1)
                       ) as dst:
        dst.write(np.arange(1024, dtype=np.uint8).reshape(1, 32, 32))
    seen = []
    real = rasterio.shutil.copy

    def copy(*args, **kwargs):
        seen.append({k.lower(): v for k, v in kwargs.items()})
        return real(*args, **kwargs)

    monkeypatch.setattr(rasterio.shutil, "copy", copy)
    write_cog(src, tmp_path / "cog.tif")
    assert str(seen[-1].get("bigtiff")).upper() == "IF_SAFER"
    with rasterio.open(tmp_path / "cog.tif") as cog:
        assert (cog.read(1) == np.arange(1024, dtype=np.uint8).reshape(32, 32)).all()
    write_cog(src, tmp_path / "big.tif", {"BIGTIFF": "YES"})  # --co still decides
    assert (tmp_path / "big.tif").read_bytes()[:4] == b"II+\x00"
    assert str(seen[-1]["bigtiff"]).upper() == "YES"
