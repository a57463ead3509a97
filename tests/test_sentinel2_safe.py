"""Sentinel-2 SAFE products through GDAL's SENTINEL2 driver (MTD_MSIL2A.xml's subdatasets):
the product's nodata and reflectance scale/offset declared on the bands it names."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from .conftest import assert_one_line_error
from .test_predict_mlm import identity_model

with rasterio.Env() as _env:
    _DRIVERS = _env.drivers()
pytestmark = pytest.mark.skipif(
    not {"SENTINEL2", "JP2OpenJPEG"} <= set(_DRIVERS),
    reason="GDAL without the SENTINEL2 or JP2OpenJPEG driver")

TILE, GRANULE, SIZE = "T31TCJ", "L2A_T31TCJ_A044000_20240101T105441", 20
#: band -> its DN in the synthetic product (left 5 columns 0: the fill outside the swath)
DN = {"B02": 1100, "B03": 1200, "B04": 1300, "B08": 1700, "AOT": 120, "WVP": 900}
PHYSICAL = ["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12"]


def safe_product(folder, baseline="05.10"):
    """A minimal L2A SAFE (SAFE_COMPACT) with the 10 m B02, B03, B04, B08, AOT and WVP
    JPEG 2000 files, MTD_MSIL2A.xml (nodata 0, quantification 10000, BOA_ADD_OFFSET -1000 from
    baseline 04.00) and the granule's MTD_TL.xml; its 10 m subdataset's name."""
    safe = folder / (f"S2A_MSIL2A_20240101T105441_N{baseline.replace('.', '')}_R051_{TILE}"
                     "_20240101T120000.SAFE")
    files = []
    for band, value in DN.items():
        name = f"GRANULE/{GRANULE}/IMG_DATA/R10m/{TILE}_20240101T105441_{band}_10m"
        (safe / name).parent.mkdir(parents=True, exist_ok=True)
        pixels = np.full((SIZE, SIZE), value, np.uint16)
        pixels[:, :5] = 0
        with rasterio.open(safe / f"{name}.jp2", "w", driver="JP2OpenJPEG", width=SIZE,
                           height=SIZE, count=1, dtype="uint16", crs="EPSG:32631",
                           transform=from_origin(300000, 4900020, 10, 10), QUALITY=100,
                           REVERSIBLE="YES") as dst:
            dst.write(pixels, 1)
        files.append(f"<IMAGE_FILE>{name}</IMAGE_FILE>")
    offsets = "".join(f'<BOA_ADD_OFFSET band_id="{i}">-1000</BOA_ADD_OFFSET>'
                      for i in range(13)) if baseline >= "04.00" else ""
    spectral = "".join(f'<Spectral_Information bandId="{i}" physicalBand="{b}">'
                       "</Spectral_Information>" for i, b in enumerate(PHYSICAL))
    (safe / "MTD_MSIL2A.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?><n1:Level-2A_User_Product xmlns:n1="https://'
        'psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-2A.xsd"><n1:General_Info>'
        "<Product_Info><PRODUCT_START_TIME>2024-01-01T10:54:41.024Z</PRODUCT_START_TIME>"
        f"<PRODUCT_URI>{safe.name}</PRODUCT_URI><PROCESSING_LEVEL>Level-2A</PROCESSING_LEVEL>"
        f"<PRODUCT_TYPE>S2MSI2A</PRODUCT_TYPE><PROCESSING_BASELINE>{baseline}"
        "</PROCESSING_BASELINE><Query_Options><PRODUCT_FORMAT>SAFE_COMPACT</PRODUCT_FORMAT>"
        "</Query_Options><Product_Organisation><Granule_List><Granule "
        f'imageFormat="JPEG2000">{"".join(files)}</Granule></Granule_List>'
        "</Product_Organisation></Product_Info><Product_Image_Characteristics>"
        "<Special_Values><SPECIAL_VALUE_TEXT>NODATA</SPECIAL_VALUE_TEXT>"
        "<SPECIAL_VALUE_INDEX>0</SPECIAL_VALUE_INDEX></Special_Values>"
        "<QUANTIFICATION_VALUES_LIST><BOA_QUANTIFICATION_VALUE>10000"
        "</BOA_QUANTIFICATION_VALUE><AOT_QUANTIFICATION_VALUE>1000.0</AOT_QUANTIFICATION_VALUE>"
        "<WVP_QUANTIFICATION_VALUE>1000.0</WVP_QUANTIFICATION_VALUE>"
        "</QUANTIFICATION_VALUES_LIST>"
        f"<BOA_ADD_OFFSET_VALUES_LIST>{offsets}</BOA_ADD_OFFSET_VALUES_LIST>"
        f"<Spectral_Information_List>{spectral}</Spectral_Information_List>"
        "</Product_Image_Characteristics></n1:General_Info></n1:Level-2A_User_Product>")
    grid = "".join(
        f'<Size resolution="{r}"><NROWS>{SIZE * 10 // r}</NROWS><NCOLS>{SIZE * 10 // r}'
        f'</NCOLS></Size><Geoposition resolution="{r}"><ULX>300000</ULX><ULY>4900020</ULY>'
        f"<XDIM>{r}</XDIM><YDIM>-{r}</YDIM></Geoposition>" for r in (10, 20, 60))
    (safe / "GRANULE" / GRANULE / "MTD_TL.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?><n1:Level-2A_Tile_ID xmlns:n1="https://psd-14.'
        'sentinel2.eo.esa.int/PSD/S2_PDI_Level-2A_Tile_Metadata.xsd"><n1:Geometric_Info>'
        "<Tile_Geocoding><HORIZONTAL_CS_NAME>WGS84 / UTM zone 31N</HORIZONTAL_CS_NAME>"
        f"<HORIZONTAL_CS_CODE>EPSG:32631</HORIZONTAL_CS_CODE>{grid}</Tile_Geocoding>"
        "</n1:Geometric_Info></n1:Level-2A_Tile_ID>")
    return f"SENTINEL2_L2A:{safe / 'MTD_MSIL2A.xml'}:10m:EPSG_32631"


def test_a_safe_product_fill_is_nodata_and_its_reflectance_is_named(run_cli, tmp_path):
    """The 10 m subdataset of an L2A product of baseline 05.10 picked B04,B03,B02 by name:
    its 0 fill is NaN in the output (not predicted), the DN go in as stored, and the
    warning names scale 0.0001, offset -0.1 and the flags feeding reflectance, which then
    reach the model as (DN - 1000) / 10000. Before, the fill was predicted and the warning
    advised 16-bit scaling."""
    name = safe_product(tmp_path)
    model = identity_model(tmp_path / "id.onnx", 3)
    out = tmp_path / "raw.tif"
    result = run_cli("predict", model, name, "--bands", "B04,B03,B02", "--activation", "none",
                     "-o", out)
    assert result.exit_code == 0, result.output
    assert "declares scale 0.0001 and offset -0.1" in result.stderr
    assert "--scale 0.0001 --mean 0.1" in result.stderr
    assert "declares no nodata" not in result.stderr
    with rasterio.open(out) as dst, rasterio.open(name) as src:
        values = dst.read()
        assert (dst.crs, dst.transform, dst.shape) == (src.crs, src.transform, src.shape)
    assert np.isnan(values[:, :, :5]).all()
    assert values[:, :, 5:].tolist() == [[[v] * 15] * SIZE for v in (1300, 1200, 1100)]

    out = tmp_path / "reflectance.tif"
    result = run_cli("predict", model, name, "--bands", "B04,B03,B02", "--activation", "none",
                     "--scale", "0.0001", "--mean", "0.1", "-o", out)
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as dst:
        values = dst.read()
    np.testing.assert_allclose(values[:, 0, 5:], [[0.03] * 15, [0.02] * 15, [0.01] * 15],
                               atol=1e-6)
    assert np.isnan(values[:, :, :5]).all()


def test_a_product_before_baseline_04_declares_no_offset(tmp_path):
    """Baseline 03.01 (no BOA_ADD_OFFSET): reflectance = DN / 10000, nodata 0; the
    geometry and band names are GDAL's."""
    from geotile.raster import open_raster

    with open_raster(safe_product(tmp_path, "03.01")) as src:
        assert [src.tags(i)["BANDNAME"] for i in range(1, 7)] == \
            ["B4", "B3", "B2", "B8", "AOT", "WVP"]
        assert src.scales == (0.0001,) * 4 + (0.001,) * 2 and src.offsets == (0.0,) * 6
        assert src.nodatavals == (0.0,) * 6
        assert src.crs.to_epsg() == 32631
        assert src.transform == from_origin(300000, 4900020, 10, 10)
        assert src.read(1)[0, :6].tolist() == [0] * 5 + [1300]


def test_tile_patches_of_a_safe_product_keep_its_nodata_and_scale(run_cli, tmp_path):
    """tile of the 10 m subdataset: patches declare nodata 0, scale 0.0001 and offset
    -0.1 on the spectral bands (AOT and WVP: 0.001, 0), and their nodata_fraction counts
    the fill."""
    import csv

    name = safe_product(tmp_path)
    result = run_cli("tile", name, "--size", "10", "-o", tmp_path / "patches")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "patches" / "index.csv").read_text().splitlines()))
    first = next(r for r in rows if r["x_off"] == "0" and r["y_off"] == "0")
    assert float(first["nodata_fraction"]) == 0.5
    with rasterio.open(tmp_path / "patches" / first["image"]) as patch:
        assert patch.nodatavals == (0.0,) * 6
        assert patch.scales == (0.0001,) * 4 + (0.001,) * 2
        assert patch.offsets == (-0.1,) * 4 + (0.0,) * 2


def test_two_safe_products_are_predicted_into_one_folder_by_product_name(run_cli, tmp_path):
    """Every product's metadata file is MTD_MSIL2A.xml: outputs in a folder are named
    after the .SAFE folder (before: 'inputs share the file name MTD_MSIL2A_10m_EPSG_32631',
    exit 1)."""
    first = safe_product(tmp_path / "a")
    second = safe_product(tmp_path / "b", "04.00")
    model = identity_model(tmp_path / "id.onnx", 4)
    result = run_cli("predict", model, first, second, "--bands", "1,2,3,4", "-o",
                     tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        f"S2A_MSIL2A_20240101T105441_N{n}_R051_T31TCJ_20240101T120000_10m_EPSG_32631.tif"
        for n in ("0400", "0510")]


def test_a_safe_folder_given_as_an_image_names_its_subdatasets(run_cli, tmp_path):
    """The .SAFE folder (its rasters are in GRANULE/.../IMG_DATA): one line naming a
    subdataset to give, not 'the folder holds no raster files ... Check the path'."""
    name = safe_product(tmp_path)
    safe = next(tmp_path.glob("*.SAFE"))
    model = identity_model(tmp_path / "id.onnx", 4)
    result = run_cli("predict", model, safe, "-o", tmp_path / "out.tif")
    assert_one_line_error(result, f"{safe}: a satellite product (SAFE)",
                          f"e.g. '{name}'", "gdalinfo")
    assert not (tmp_path / "out.tif").exists()


def test_a_product_missing_a_band_file_is_refused_naming_it(run_cli, tmp_path):
    """A partial download without B03's JPEG 2000: GDAL reads that band as 0s (before,
    predicted with exit 0); one line naming the file and the fixes, nothing written. A
    missing WVP file (no reflectance) reads as its no data: the RGB bands are predicted."""
    name = safe_product(tmp_path)
    images = next(tmp_path.glob("*.SAFE/GRANULE/*/IMG_DATA/R10m"))
    (images / f"{TILE}_20240101T105441_WVP_10m.jp2").unlink()
    model = identity_model(tmp_path / "id.onnx", 3)
    result = run_cli("predict", model, name, "--bands", "B04,B03,B02", "--activation", "none",
                     "-o", tmp_path / "rgb.tif")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "rgb.tif") as dst:
        assert dst.read(2)[0, 5:].tolist() == [1200] * 15

    (images / f"{TILE}_20240101T105441_B03_10m.jp2").unlink()
    result = run_cli("predict", model, name, "--bands", "B04,B03,B02", "-o",
                     tmp_path / "out.tif")
    assert_one_line_error(result, f"{images / TILE}_20240101T105441_B03_10m.jp2: missing "
                          "from the product (band B3", "download it again",
                          "gdalbuildvrt -separate")
    assert not (tmp_path / "out.tif").exists()


def zipped(name):
    """The product of the subdataset ``name`` as the Copernicus Data Space serves it, a
    <product>.SAFE.zip holding its .SAFE folder (the folder removed); the subdataset's
    name as gdalinfo lists it: SENTINEL2_L2A:/vsizip//abs/<product>.SAFE.zip/...."""
    import shutil
    import zipfile
    from pathlib import Path

    metadata = Path(name.split(":", 1)[1].rsplit(":", 2)[0])
    safe = metadata.parent
    archive = safe.with_name(f"{safe.name}.zip")
    with zipfile.ZipFile(archive, "w") as zipped_file:
        for path in sorted(safe.rglob("*")):
            zipped_file.write(path, path.relative_to(safe.parent))
    shutil.rmtree(safe)
    return name.replace(f"{metadata}", f"/vsizip/{archive}/{safe.name}/{metadata.name}")


def test_a_zipped_product_subdataset_reads_as_the_unzipped_one(run_cli, tmp_path):
    """The subdataset of a .SAFE.zip as gdalinfo lists it (/vsizip//abs/...): read as
    the unzipped product (fill NaN, DN as stored, the reflectance advice), its output named
    after the product; before, 'no such file. Check the path.' (its '//' collapsed too)."""
    from geotile.input_paths import files_read, image_stem, input_path

    name = zipped(safe_product(tmp_path))
    archive = next(tmp_path.glob("*.SAFE.zip"))
    assert f":/vsizip//{str(archive).lstrip('/')}/" in name
    assert str(input_path(name)) == name
    assert image_stem(name) == f"{archive.name[:-9]}_10m_EPSG_32631"
    assert archive in files_read(name)
    model = identity_model(tmp_path / "id.onnx", 3)
    result = run_cli("predict", model, name, "--bands", "B04,B03,B02", "--activation", "none",
                     "-o", f"{tmp_path / 'out'}/")
    assert result.exit_code == 0, result.output
    assert "--scale 0.0001 --mean 0.1" in result.stderr
    out = tmp_path / "out" / f"{archive.name[:-9]}_10m_EPSG_32631.tif"
    assert [p.name for p in (tmp_path / "out").iterdir()] == [out.name]
    with rasterio.open(out) as dst:
        values = dst.read()
        assert dst.crs.to_epsg() == 32631
        assert dst.transform == from_origin(300000, 4900020, 10, 10)
    assert np.isnan(values[:, :, :5]).all()
    assert values[:, :, 5:].tolist() == [[[v] * 15] * SIZE for v in (1300, 1200, 1100)]


def test_tile_patches_of_a_zipped_product_are_named_after_it(run_cli, tmp_path):
    """tile of a .SAFE.zip's subdataset: patches named <product>_10m_EPSG_32631_<row>_<col>
    keeping nodata and scale, as for the unzipped product."""
    name = zipped(safe_product(tmp_path))
    product = next(tmp_path.glob("*.SAFE.zip")).name[:-9]
    result = run_cli("tile", name, "--size", "10", "-o", tmp_path / "patches")
    assert result.exit_code == 0, result.output
    patches = sorted(p.name for p in (tmp_path / "patches" / "images").glob("*.tif"))
    assert len(patches) == 4 and all(p.startswith(f"{product}_10m_EPSG_32631_")
                                     for p in patches)
    with rasterio.open(tmp_path / "patches" / "images" / patches[0]) as patch:
        assert patch.nodatavals == (0.0,) * 6 and patch.offsets[0] == -0.1


def test_a_zipped_product_given_itself_names_its_subdatasets(run_cli, tmp_path):
    """The .SAFE.zip as downloaded, given as an IMAGE: one line naming a subdataset to give
    (as for the .SAFE folder), not the JPEG 2000 folder inside; nothing written."""
    name = zipped(safe_product(tmp_path))
    archive = next(tmp_path.glob("*.SAFE.zip"))
    model = identity_model(tmp_path / "id.onnx", 4)
    result = run_cli("predict", model, archive, "-o", tmp_path / "out")
    assert_one_line_error(result, f"{archive}: a satellite product (SAFE)",
                          f"e.g. '{name}'", "gdalinfo")
    assert "IMG_DATA" not in result.output
    assert not (tmp_path / "out").exists()
