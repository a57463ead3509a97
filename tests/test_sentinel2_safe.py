"""Sentinel-2 SAFE products through GDAL's SENTINEL2 driver (MTD_MSIL2A.xml's subdatasets):
the product's nodata and reflectance scale/offset declared on the bands it names."""

from __future__ import annotations

from pathlib import Path

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


def _band_file(path, value, resolution):
    """A band's JPEG 2000 on the tile's grid at ``resolution`` m, its left 50 m (at least
    a column) 0; TCI: 3 bands of uint8."""
    n, tci = SIZE * 10 // resolution, path.stem.split("_")[2] == "TCI"
    pixels = np.full((3 if tci else 1, n, n), value, np.uint8 if tci else np.uint16)
    pixels[:, :, :max(1, 50 // resolution)] = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="JP2OpenJPEG", width=n, height=n,
                       count=pixels.shape[0], dtype=pixels.dtype, crs="EPSG:32631",
                       transform=from_origin(300000, 4900020, resolution, resolution),
                       QUALITY=100, REVERSIBLE="YES") as dst:
        dst.write(pixels)


def safe_product(folder, baseline="05.10", level="2A", files=None, resolution="10m"):
    """A minimal SAFE (SAFE_COMPACT) of ``level`` 2A or 1C with JPEG 2000 files ``files``
    ({(band, resolution m): DN}; default the 10 m B02, B03, B04, B08, AOT and WVP of DN;
    L1C's in IMG_DATA/ without a resolution), MTD_MSIL2A.xml or MTD_MSIL1C.xml (nodata 0,
    quantification 10000, BOA_ADD_OFFSET or RADIO_ADD_OFFSET -1000 from baseline 04.00,
    PHYSICAL_GAINS) and the granule's MTD_TL.xml; the name of its ``resolution``
    subdataset (10m, 20m, 60m, TCI)."""
    files = files or {(band, 10): value for band, value in DN.items()}
    granule = GRANULE.replace("L2A", f"L{level}")
    safe = folder / (f"S2A_MSIL{level}_20240101T105441_N{baseline.replace('.', '')}_R051_"
                     f"{TILE}_20240101T120000.SAFE")
    images = []
    for (band, r), value in files.items():
        name = (f"GRANULE/{granule}/IMG_DATA/R{r}m/{TILE}_20240101T105441_{band}_{r}m"
                if level == "2A" else f"GRANULE/{granule}/IMG_DATA/{TILE}_20240101T105441_{band}")
        _band_file(safe / f"{name}.jp2", value, r)
        if band != "TCI":
            images.append(f"<IMAGE_FILE>{name}</IMAGE_FILE>")
    add = "BOA_ADD_OFFSET" if level == "2A" else "RADIO_ADD_OFFSET"
    offsets = "".join(f'<{add} band_id="{i}">-1000</{add}>'
                      for i in range(13)) if baseline >= "04.00" else ""
    listed = "BOA_ADD_OFFSET_VALUES_LIST" if level == "2A" else "Radiometric_Offset_List"
    offsets = f"<{listed}>{offsets}</{listed}>"
    quantification = (
        "<QUANTIFICATION_VALUES_LIST><BOA_QUANTIFICATION_VALUE>10000"
        "</BOA_QUANTIFICATION_VALUE><AOT_QUANTIFICATION_VALUE>1000.0</AOT_QUANTIFICATION_VALUE>"
        "<WVP_QUANTIFICATION_VALUE>1000.0</WVP_QUANTIFICATION_VALUE>"
        "</QUANTIFICATION_VALUES_LIST>" if level == "2A" else
        '<QUANTIFICATION_VALUE unit="none">10000</QUANTIFICATION_VALUE>')
    gains = "".join(f'<PHYSICAL_GAINS bandId="{i}">3.97</PHYSICAL_GAINS>' for i in range(13))
    spectral = "".join(f'<Spectral_Information bandId="{i}" physicalBand="{b}">'
                       "</Spectral_Information>" for i, b in enumerate(PHYSICAL))
    root = f"Level-{level}_User_Product"
    (safe / f"MTD_MSIL{level}.xml").write_text(
        f'<?xml version="1.0" encoding="UTF-8"?><n1:{root} xmlns:n1="https://'
        f'psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-{level}.xsd"><n1:General_Info>'
        "<Product_Info><PRODUCT_START_TIME>2024-01-01T10:54:41.024Z</PRODUCT_START_TIME>"
        f"<PRODUCT_URI>{safe.name}</PRODUCT_URI><PROCESSING_LEVEL>Level-{level}"
        f"</PROCESSING_LEVEL><PRODUCT_TYPE>S2MSI{level}</PRODUCT_TYPE><PROCESSING_BASELINE>"
        f"{baseline}</PROCESSING_BASELINE><Query_Options><PRODUCT_FORMAT>SAFE_COMPACT"
        "</PRODUCT_FORMAT></Query_Options><Product_Organisation><Granule_List><Granule "
        f'imageFormat="JPEG2000">{"".join(images)}</Granule></Granule_List>'
        "</Product_Organisation></Product_Info><Product_Image_Characteristics>"
        f"{gains}<Special_Values><SPECIAL_VALUE_TEXT>NODATA</SPECIAL_VALUE_TEXT>"
        "<SPECIAL_VALUE_INDEX>0</SPECIAL_VALUE_INDEX></Special_Values>"
        f"{quantification}{offsets}"
        f"<Spectral_Information_List>{spectral}</Spectral_Information_List>"
        f"</Product_Image_Characteristics></n1:General_Info></n1:{root}>")
    grid = "".join(
        f'<Size resolution="{r}"><NROWS>{SIZE * 10 // r}</NROWS><NCOLS>{SIZE * 10 // r}'
        f'</NCOLS></Size><Geoposition resolution="{r}"><ULX>300000</ULX><ULY>4900020</ULY>'
        f"<XDIM>{r}</XDIM><YDIM>-{r}</YDIM></Geoposition>" for r in (10, 20, 60))
    (safe / "GRANULE" / granule / "MTD_TL.xml").write_text(
        f'<?xml version="1.0" encoding="UTF-8"?><n1:Level-{level}_Tile_ID xmlns:n1="https://'
        f'psd-14.sentinel2.eo.esa.int/PSD/S2_PDI_Level-{level}_Tile_Metadata.xsd">'
        "<n1:Geometric_Info><Tile_Geocoding><HORIZONTAL_CS_NAME>WGS84 / UTM zone 31N"
        "</HORIZONTAL_CS_NAME><HORIZONTAL_CS_CODE>EPSG:32631</HORIZONTAL_CS_CODE>"
        f"{grid}</Tile_Geocoding></n1:Geometric_Info></n1:Level-{level}_Tile_ID>")
    return f"SENTINEL2_L{level}:{safe / f'MTD_MSIL{level}.xml'}:{resolution}:EPSG_32631"


#: PSD 14.2's names (Level-2A of processing baselines 02.04-02.06) of later PSDs' elements
_PSD142 = {"Product_Info": "L2A_Product_Info", "IMAGE_FILE": "IMAGE_FILE_2A",
           "Product_Organisation": "L2A_Product_Organisation",
           "Product_Image_Characteristics": "L2A_Product_Image_Characteristics",
           "QUANTIFICATION_VALUES_LIST": "L1C_L2A_Quantification_Values_List",
           "BOA_QUANTIFICATION_VALUE": "L2A_BOA_QUANTIFICATION_VALUE",
           "AOT_QUANTIFICATION_VALUE": "L2A_AOT_QUANTIFICATION_VALUE",
           "WVP_QUANTIFICATION_VALUE": "L2A_WVP_QUANTIFICATION_VALUE"}


def psd_14_2(mtd):
    """MTD_MSIL2A.xml ``mtd`` of :func:`safe_product` rewritten with PSD 14.2's names, and
    the L1C's quantification (1000 here, unlike the L2A's 10000) beside the L2A's."""
    import re

    text = re.sub(r"<(/?)(\w+)([ >])", lambda m: f"<{m[1]}{_PSD142.get(m[2], m[2])}{m[3]}",
                  mtd.read_text())
    mtd.write_text(text.replace(
        "<L1C_L2A_Quantification_Values_List>", "<L1C_L2A_Quantification_Values_List>"
        '<L1C_TOA_QUANTIFICATION_VALUE unit="none">1000</L1C_TOA_QUANTIFICATION_VALUE>'))


def test_a_psd_14_2_product_declares_its_quantification(tmp_path):
    """GDAL names a PSD 14.2 product's (baselines 02.04-02.06) quantification
    L2A_BOA_QUANTIFICATION_VALUE (L2A_AOT_..., L2A_WVP_...): its bands declared no scale
    (predict advised 16-bit scaling). They declare 1 / 10000 (AOT, WVP 1 / 1000), no
    offset, not the L1C's L1C_TOA_QUANTIFICATION_VALUE."""
    from geotile.raster import open_raster

    name = safe_product(tmp_path, "02.06")
    psd_14_2(next(tmp_path.glob("*.SAFE")) / "MTD_MSIL2A.xml")
    with open_raster(name) as src:
        found = {src.tags(i)["BANDNAME"]: (src.nodatavals[i - 1], src.scales[i - 1],
                                           src.offsets[i - 1]) for i in range(1, src.count + 1)}
    assert found == {**dict.fromkeys(["B4", "B3", "B2", "B8"], (0.0, 0.0001, 0.0)),
                     "AOT": (0.0, 0.001, 0.0), "WVP": (0.0, 0.001, 0.0)}


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


def test_tile_annotations_of_two_products_are_each_products_own(run_cli, tmp_path):
    """Two products of different tiles (the second 10 km east) cut with --labels
    --annotations coco: index.csv named both sources MTD_MSIL2A.xml:10m:EPSG_32631, and the
    annotations looked each patch's image up by that name: the second product's patches
    took the first's boxes (exit 0). Now each source is its product's, and so are its
    boxes."""
    import csv
    import json

    import geopandas as gpd
    import shapely

    first = safe_product(tmp_path / "a")
    second = safe_product(tmp_path / "b", "04.00")
    for metadata in (tmp_path / "b").rglob("MTD_TL.xml"):
        metadata.write_text(metadata.read_text().replace("<ULX>300000</ULX>",
                                                         "<ULX>310000</ULX>"))
    labels = tmp_path / "labels.gpkg"
    gpd.GeoDataFrame({"class": [1, 1]}, geometry=[
        shapely.box(300060, 4899900, 300150, 4900000),  # the first's pixels 6..15, 2..12
        shapely.box(310100, 4899950, 310190, 4900010)], crs="EPSG:32631").to_file(labels)
    result = run_cli("tile", first, second, "--labels", labels, "--annotations", "coco",
                     "--size", "20", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "out" / "index.csv").read_text().splitlines()))
    assert len({row["source"] for row in rows}) == 2
    coco = json.loads((tmp_path / "out" / "annotations.json").read_text())
    boxes = {Path(image["file_name"]).name.split("_")[3]: [
        a["bbox"] for a in coco["annotations"] if a["image_id"] == image["id"]]
        for image in coco["images"]}
    assert boxes == {"N0510": [[6.0, 2.0, 9.0, 10.0]], "N0400": [[10.0, 1.0, 9.0, 6.0]]}


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


def test_renamed_products_are_predicted_into_one_folder_by_folder_name(run_cli, tmp_path):
    """Products whose folders lost the .SAFE suffix (renamed, or unzipped by a tool that
    drops it; zipped under another top folder too): before, each output was named after
    MTD_MSIL2A.xml and two were refused ('inputs share the file name
    MTD_MSIL2A_10m_EPSG_32631'); now after its folder."""
    import zipfile

    names = []
    for folder, baseline in (("a", "05.10"), ("b", "04.00")):
        name = safe_product(tmp_path / folder, baseline)
        safe = next((tmp_path / folder).glob("*.SAFE"))
        names.append(name.replace(safe.name, safe.stem))
        safe.rename(safe.with_suffix(""))
    archive = tmp_path / "download.zip"
    product = next((tmp_path / "b").iterdir())
    with zipfile.ZipFile(archive, "w") as zipped_product:
        for path in sorted(product.rglob("*")):
            zipped_product.write(path, f"product/{path.relative_to(product)}")
    names.append(f"SENTINEL2_L2A:/vsizip/{archive}/product/MTD_MSIL2A.xml:10m:EPSG_32631")
    model = identity_model(tmp_path / "id.onnx", 4)
    result = run_cli("predict", model, *names, "--bands", "1,2,3,4", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted([
        *(f"S2A_MSIL2A_20240101T105441_N{n}_R051_T31TCJ_20240101T120000_10m_EPSG_32631.tif"
          for n in ("0400", "0510")), "product_10m_EPSG_32631.tif"])


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
    from geotile.image_stems import image_stem
    from geotile.input_paths import input_path
    from geotile.input_sources import files_read

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


@pytest.mark.parametrize("top", ["product", "download/{safe}"])
def test_a_zip_of_a_renamed_or_nested_product_names_its_subdatasets(run_cli, tmp_path, top):
    """A zip whose product lies under a folder not named .SAFE, or one folder deeper:
    before, 'the folder holds no raster files ... give' its IMG_DATA/R10m folder (the
    JPEG 2000 bands without the product's nodata and scale); now, as for a .SAFE.zip,
    one line naming a subdataset to give, which reads."""
    import zipfile

    safe_product(tmp_path)
    safe = next(tmp_path.glob("*.SAFE"))
    top = top.format(safe=safe.name)
    archive = tmp_path / "download.zip"
    with zipfile.ZipFile(archive, "w") as zipped_product:
        for path in sorted(safe.rglob("*")):
            zipped_product.write(path, f"{top}/{path.relative_to(safe)}")
    name = f"SENTINEL2_L2A:/vsizip/{archive}/{top}/MTD_MSIL2A.xml:10m:EPSG_32631"
    model = identity_model(tmp_path / "id.onnx", 4)
    result = run_cli("predict", model, archive, "-o", tmp_path / "out")
    assert_one_line_error(result, f"{archive}: a satellite product (SAFE)",
                          f"e.g. '{name}'", "gdalinfo")
    assert "IMG_DATA" not in result.output
    assert not (tmp_path / "out").exists()
    result = run_cli("predict", model, name, "--bands", "1,2,3,4", "-o", tmp_path / "out.tif")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "out.tif") as dst:
        assert dst.crs.to_epsg() == 32631 and np.isnan(dst.read(1)[:, :5]).all()


RGB = {("B02", 10): 1100, ("B03", 10): 1200, ("B04", 10): 1300, ("B08", 10): 1700}


@pytest.mark.parametrize(("baseline", "mean", "expected"), [
    ("05.10", "0.1", [0.03, 0.02, 0.01]),  # (DN + RADIO_ADD_OFFSET) / QUANTIFICATION_VALUE
    ("02.07", "0", [0.13, 0.12, 0.11]),  # before baseline 04.00: DN / 10000
])
def test_an_l1c_product_declares_its_top_of_atmosphere_reflectance(run_cli, tmp_path, baseline,
                                                                   mean, expected):
    """L1C (MTD_MSIL1C.xml, QUANTIFICATION_VALUE, RADIO_ADD_OFFSET from baseline 04.00;
    PHYSICAL_GAINS, radiance gains, ignored): the warning names the flags feeding
    reflectance, which reach the model; the fill is NaN; the output is on the 10 m grid,
    named after the product."""
    name = safe_product(tmp_path, baseline, "1C", RGB)
    model = identity_model(tmp_path / "id.onnx", 3)
    result = run_cli("predict", model, name, "--bands", "B04,B03,B02", "--activation", "none",
                     "-o", f"{tmp_path / 'raw'}/")
    assert result.exit_code == 0, result.output
    assert f"--scale 0.0001 --mean {mean} " in result.stderr
    result = run_cli("predict", model, name, "--bands", "B04,B03,B02", "--activation", "none",
                     "--scale", "0.0001", "--mean", mean, "-o", f"{tmp_path / 'out'}/")
    assert result.exit_code == 0, result.output
    out = tmp_path / "out" / (f"S2A_MSIL1C_20240101T105441_N{baseline.replace('.', '')}_R051_"
                              "T31TCJ_20240101T120000_10m_EPSG_32631.tif")
    with rasterio.open(out) as dst:
        values = dst.read()
        assert dst.transform == from_origin(300000, 4900020, 10, 10) and dst.shape == (20, 20)
    assert np.isnan(values[:, :, :5]).all()
    np.testing.assert_allclose(values[:, 0, 5:], [[v] * 15 for v in expected], atol=1e-6)


@pytest.mark.parametrize(("resolution", "bands", "fill"), [
    ("20m", {"B05": 1500, "B06": 1600, "B07": 1700, "B8A": 1800, "B11": 2100, "B12": 2200,
             "SCL": 4}, 2),
    ("60m", {"B01": 1000, "B09": 1900, "SCL": 4}, 1),
])
def test_20_and_60_m_subdatasets_are_read_on_their_grid(run_cli, tmp_path, resolution, bands,
                                                        fill):
    """The 20 m and 60 m subdatasets (B8A, B11, B12; B1, B9; SCL, whose 0 is no data):
    predicted on their own grid, bands picked by name, reflectance declared, the fill
    NaN."""
    r = int(resolution[:-1])
    files = {**RGB, **{(band, r): value for band, value in bands.items()}}
    name = safe_product(tmp_path, files=files, resolution=resolution)
    picked = [b for b in bands if b != "SCL"][-2:]
    model = identity_model(tmp_path / "id.onnx", 2)
    result = run_cli("predict", model, name, "--bands", ",".join(picked), "--activation",
                     "none", "--scale", "0.0001", "--mean", "0.1", "-o", tmp_path / "out.tif")
    assert result.exit_code == 0, result.output
    with rasterio.open(out := tmp_path / "out.tif") as dst, rasterio.open(name) as src:
        values = dst.read()
        assert dst.transform == from_origin(300000, 4900020, r, r) == src.transform
        assert dst.shape == (SIZE * 10 // r,) * 2
    assert out.exists() and np.isnan(values[:, :, :fill]).all()
    np.testing.assert_allclose(values[:, 0, fill:], [
        [(bands[b] - 1000) / 10000] * (SIZE * 10 // r - fill) for b in picked], atol=1e-6)
    from geotile.raster import open_raster

    with open_raster(name) as src:
        scl = [src.tags(i)["BANDNAME"] for i in range(1, src.count + 1)].index("SCL")
        assert (src.nodatavals[scl], src.scales[scl], src.offsets[scl]) == (0.0, 1.0, 0.0)


def test_the_true_colour_subdataset_is_8_bit_without_reflectance_scale(run_cli, tmp_path):
    """TCI (uint8 RGB): nodata 0 but no reflectance scale (its bands carry BOA_ADD_OFFSET
    too), so 8-bit pixels / 255 reach the model; the output is named ..._TCI_EPSG_32631."""
    name = safe_product(tmp_path, files={**RGB, ("TCI", 10): 90}, resolution="TCI")
    model = identity_model(tmp_path / "id.onnx", 3)
    result = run_cli("predict", model, name, "--activation", "none",
                     "-o", f"{tmp_path / 'out'}/")
    assert result.exit_code == 0, result.output
    assert "declares scale" not in result.stderr
    out, = (tmp_path / "out").iterdir()
    assert out.name.endswith("T31TCJ_20240101T120000_TCI_EPSG_32631.tif")
    with rasterio.open(out) as dst:
        values = dst.read()
    assert np.isnan(values[:, :, :5]).all()
    np.testing.assert_allclose(values[:, :, 5:], 90 / 255, atol=1e-6)


def test_a_product_missing_its_true_colour_file_is_refused(run_cli, tmp_path):
    """TCI's file missing (a partial download): GDAL reads 0s, all no data (before: an
    all-NaN output, exit 0); one line naming it, nothing written."""
    name = safe_product(tmp_path, files={**RGB, ("TCI", 10): 90}, resolution="TCI")
    tci = next(tmp_path.glob("*.SAFE/GRANULE/*/IMG_DATA/R10m/*_TCI_10m.jp2"))
    tci.unlink()
    model = identity_model(tmp_path / "id.onnx", 3)
    result = run_cli("predict", model, name, "-o", tmp_path / "out.tif")
    assert_one_line_error(result, f"{tci}: missing from the product", "download it again")
    assert not (tmp_path / "out.tif").exists()


def test_resume_redoes_a_product_whose_band_file_changed(run_cli, tmp_path):
    """--resume digested the subdataset's metadata file alone, not the band files GDAL
    reads its pixels from: B04 downloaded again with other values kept the old output,
    'complete from an earlier run, skipped', exit 0. Each band file is an input."""
    name = safe_product(tmp_path)
    model = identity_model(tmp_path / "id.onnx", 3)
    out = tmp_path / "out.tif"
    args = ("predict", model, name, "--bands", "B04,B03,B02", "--activation", "none",
            "-o", out, "--resume")
    assert run_cli(*args).exit_code == 0
    with rasterio.open(out) as dst:
        assert dst.read(1)[0, 5:].tolist() == [1300] * 15
    _band_file(next(tmp_path.rglob("*_B04_10m.jp2")), 3000, 10)
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    assert "skipped" not in result.output
    with rasterio.open(out) as dst:
        assert dst.read(1)[0, 5:].tolist() == [3000] * 15


def test_a_zipped_products_members_are_listed_once_a_run(run_cli, tmp_path, monkeypatch):
    """Each look at a .SAFE.zip subdataset's file (48 in one predict: its stem, its files,
    its bands' VRT) listed the whole archive again: 55 s for a zip of 10,000 members against
    1.3 s -> the listing is read once per archive as it stands; a member it lacks is still
    no file."""
    import pyogrio

    from geotile.input_paths import subdataset_file

    name = zipped(safe_product(tmp_path))
    listed = []
    real = pyogrio.vsi_listtree
    monkeypatch.setattr(pyogrio, "vsi_listtree", lambda *a, **k: listed.append(a) or real(
        *a, **k))
    model = identity_model(tmp_path / "id.onnx", 3)
    result = run_cli("predict", model, name, "--bands", "B04,B03,B02", "--activation", "none",
                     "-o", f"{tmp_path / 'out'}/")
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "out").iterdir())) == 1
    assert len(listed) <= 1, len(listed)
    assert subdataset_file(name.replace("MTD_MSIL2A.xml", "MTD_MSIL1C.xml")) is None
