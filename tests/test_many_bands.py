"""Hyperspectral and many-band rasters (EnMAP's 224 int16 bands, ENVI BIL/BIP): nodata
masks read from the pixels read, band ranges in --bands, ENVI's bad band list."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from geotile.raster import read_block
from tests.conftest import assert_one_line_error, write_raster


def _cube(bands=40, size=48, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    cube = rng.integers(0, 10000, (bands, size, size), dtype=np.int16)
    cube[:, :10, :12] = -32768  # outside the scene: every band nodata
    cube[3, 20:25, 30:40] = -32768  # one band's dropout: the pixel stays valid
    return cube


@pytest.mark.parametrize("interleave", ["pixel", "band"])
@pytest.mark.parametrize("indexes", [None, [4, 1, 2], [4, 4]])
def test_a_nodata_value_masks_pixels_as_gdal_without_reading_its_masks(
        tmp_path, monkeypatch, interleave, indexes):
    # GDAL's mask of a pixel-interleaved file reads every band's blocks once per band: 224
    # decodes of each 256 px tile of EnMAP's (190 s for a 1000 x 256 strip); the pixels
    # read already tell where each band holds the nodata value
    path = write_raster(tmp_path / "cube.tif", _cube(), nodata=-32768, tiled=True,
                        blockxsize=16, blockysize=16, interleave=interleave)
    with rasterio.open(path) as src:
        window = Window(5, 3, 43, 30)
        bands = indexes or list(range(1, src.count + 1))
        expected = np.logical_or.reduce(src.read_masks(sorted(set(bands)), window=window) > 0)

        def no_masks(*args, **kwargs):
            raise AssertionError("GDAL's nodata masks read")

        monkeypatch.setattr(type(src), "read_masks", no_masks)
        monkeypatch.setattr(type(src), "dataset_mask", no_masks)
        pixels, valid = read_block(src, 5, 3, 45, 30, indexes)
    assert pixels.shape == (len(bands), 30, 45)
    np.testing.assert_array_equal(valid[:, :43], expected)
    assert not valid[:, 43:].any()  # padding past the edge
    assert not valid[:7, :7].any() and valid[7:, :7].all()  # rows 3-9 of columns 5-11
    # band 4's dropout: nodata when it is the only band read
    assert valid[17:22, 25:35].all() == (indexes != [4, 4])
    assert valid[17:22, 25:35].any() == (indexes != [4, 4])


@pytest.mark.parametrize("given, expected", [
    ("1-5", (1, 2, 3, 4, 5)),
    ("1-3,7,10-11", (1, 2, 3, 7, 10, 11)),
    (" 2 - 4 ,1", (2, 3, 4, 1)),
    ("5-5", (5,)),
    ("B04,1-2", ("B04", 1, 2)),
    ("red-edge", ("red-edge",)),  # a name with a dash stays a name
])
def test_bands_take_ranges_of_band_numbers(given, expected):
    from geotile.predict import parse_bands

    assert parse_bands(given) == expected


@pytest.mark.parametrize("given, message", [
    ("50-1", "50-1 goes down"),
    ("0-4", "band numbers start at 1"),
])
def test_a_range_of_bands_that_cannot_be_is_refused(given, message):
    from geotile.errors import InputError
    from geotile.predict import parse_bands

    with pytest.raises(InputError, match=message):
        parse_bands(given)


def test_a_many_band_model_gets_a_range_of_bands(tmp_path, run_cli):
    """A 50-channel model over a 224-band EnMAP-like image: the refusal names --bands 1-50
    (it listed 50 numbers), and --bands 1-50 feeds bands 1 to 50, in order."""
    from tests.onnx_models import pointwise_model, pointwise_reference

    cube = _cube(bands=60, size=32)
    image = write_raster(tmp_path / "enmap.tif", cube, nodata=-32768)
    model = pointwise_model(tmp_path / "m50.onnx", channels=50, ir_version=10)
    out = tmp_path / "p.tif"
    refused = run_cli("predict", model, image, "-o", out)
    assert_one_line_error(refused, "60 band(s) selected", "takes 50 channels",
                          "--bands 1-50.")
    assert not out.exists()
    assert_one_line_error(run_cli("predict", model, image, "--bands", "20-69", "-o", out),
                          "band 61 does not exist")
    result = run_cli("predict", model, image, "--bands", "1-45,56-60", "--scale", "0.0001",
                     "-o", out)
    assert result.exit_code == 0, result.output
    fed = cube[list(range(45)) + list(range(55, 60))].astype(np.float64) * 0.0001
    expected = pointwise_reference(fed[np.newaxis], channels=50)[0, 0]
    with rasterio.open(out) as dst:
        got = dst.read(1, masked=True)
    assert got.mask[:10, :12].all() and not got.mask[10:].any()
    np.testing.assert_allclose(got[10:], expected[10:], rtol=1e-4, atol=1e-5)


def _envi(path, cube, bbl) -> Path:
    """An AVIRIS-NG-like ENVI file (BIP) whose header lists wavelengths, a bad band list and
    a data ignore value."""
    from rasterio.transform import from_origin

    with rasterio.open(path, "w", driver="ENVI", interleave="bip", width=cube.shape[2],
                       height=cube.shape[1], count=cube.shape[0], dtype=cube.dtype.name,
                       crs="EPSG:32611", transform=from_origin(300000, 3800000, 5, 5)) as dst:
        dst.write(cube)
    header = path.with_suffix(".hdr")
    text = header.read_text().split("band names")[0]
    wavelengths = ", ".join(f"{380 + 5 * i:.1f}" for i in range(cube.shape[0]))
    header.write_text(text + f"wavelength units = Nanometers\nwavelength = {{ {wavelengths} }}\n"
                      f"bbl = {{ {', '.join(map(str, bbl))} }}\ndata ignore value = -32768\n")
    Path(f"{path}.aux.xml").unlink(missing_ok=True)
    return path


def test_bad_bands_of_an_envi_header_fed_to_the_model_are_warned_of(tmp_path, run_cli):
    """AVIRIS-NG's bbl marks water-vapour bands 0: fed as they are, with a warning naming
    them and the --bands that leaves them out; its data ignore value is nodata."""
    from tests.onnx_models import pointwise_model

    cube = _cube(bands=30, size=24)
    bbl = [0 if 10 <= i < 14 or i == 29 else 1 for i in range(30)]
    image = _envi(tmp_path / "ang.img", cube, bbl)
    out = tmp_path / "p.tif"
    result = run_cli("predict", pointwise_model(tmp_path / "m30.onnx", channels=30,
                                                ir_version=10), image, "-o", out)
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if "bbl" in line]
    assert len(warned) == 1, result.stderr
    assert "bands 11-14,30" in warned[0] and "--bands 1-10,15-29" in warned[0], warned[0]
    with rasterio.open(out) as dst:
        got = dst.read(1, masked=True)
    assert got.mask[:10, :12].all() and not got.mask[10:].any()
    model = pointwise_model(tmp_path / "m25.onnx", channels=25, ir_version=10)
    result = run_cli("predict", model, image, "--bands", "1-10,15-29", "-o", out, "--overwrite")
    assert result.exit_code == 0, result.output
    assert "bbl" not in result.stderr


def test_an_envi_reflectance_scale_factor_is_the_scale_advised(tmp_path, run_cli):
    """AVIRIS-NG's int16 reflectance times 10000 ('reflectance scale factor = 10000'): the
    unscaled warning advised --scale 0.0000153 (16-bit's range); it names the header's."""
    from tests.onnx_models import pointwise_model

    image = _envi(tmp_path / "ang.img", _cube(bands=5, size=24), [1] * 5)
    header = image.with_suffix(".hdr")
    header.write_text(header.read_text() + "reflectance scale factor = 10000\n")
    model = pointwise_model(tmp_path / "m5.onnx", channels=5, ir_version=10)
    result = run_cli("predict", model, image, "-o", tmp_path / "p.tif")
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if "as they are" in line]
    assert len(warned) == 1, result.stderr
    assert "reflectance scale factor 10000" in warned[0] and "--scale 0.0001" in warned[0]
    assert "0.0000153" not in warned[0]


@pytest.mark.parametrize("dtype", ["int64", "uint64"])
def test_a_64_bit_nodata_value_past_2_53_masks_as_gdal(tmp_path, dtype):
    # rasterio gives nodata values as floats: 2**53 + 1 reads 2**53, so the pixels of
    # 2**53 were called nodata and those of 2**53 + 1 (GDAL's nodata) valid
    nodata = 2**53 + 1
    pixels = np.full((1, 4, 6), nodata, dtype)
    pixels[0, :, 3:] = 2**53
    pixels[0, 0, 0] = 7
    path = write_raster(tmp_path / "ids.tif", pixels)
    vrt = tmp_path / "ids.vrt"
    vrt.write_text(
        f'<VRTDataset rasterXSize="6" rasterYSize="4"><VRTRasterBand dataType='
        f'"{dtype.capitalize()}" band="1"><NoDataValue>{nodata}</NoDataValue><SimpleSource>'
        f'<SourceFilename relativeToVRT="0">{path}</SourceFilename><SourceBand>1'
        "</SourceBand></SimpleSource></VRTRasterBand></VRTDataset>")
    with rasterio.open(vrt) as src:
        expected = src.read_masks(1) > 0
        _, valid = read_block(src, 0, 0, 6, 4)
    assert expected[0, 0] and not expected[1, :3].any() and expected[:, 3:].all()
    np.testing.assert_array_equal(valid, expected)


@pytest.mark.parametrize("given", ["1-3000000000", "1-99999999999999999999", "9" * 5000])
def test_a_range_past_any_raster_is_refused_before_it_is_listed(tmp_path, run_cli, given):
    """'--bands 1-3000000000' listed three billion band numbers ('not enough memory: lower
    --tile-size ...' under a 3 GB limit, the machine's memory without one), a 20-digit end
    a traceback (OverflowError): no raster GDAL opens has more than 65536 bands."""
    from tests.onnx_models import pointwise_model

    image = write_raster(tmp_path / "a.tif", _cube(bands=4, size=16), nodata=-32768)
    model = pointwise_model(tmp_path / "m.onnx", channels=4, ir_version=10)
    out = tmp_path / "p.tif"
    result = run_cli("predict", model, image, "--bands", given, "-o", out)
    assert_one_line_error(result, "--bands", "65536", code=2)
    assert not out.exists()
