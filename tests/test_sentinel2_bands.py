"""Sentinel-2 band files given themselves (IMG_DATA's T31TCJ_..._B04_10m.jp2, a GeoTIFF
copy under its stem, a gdalbuildvrt -separate stack of them): the nodata 0, reflectance
scale and offset of the product's MTD_MSIL2A.xml / MTD_MSIL1C.xml, SCL's no data and
class names."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from .conftest import assert_one_line_error
from .test_predict_mlm import identity_model
from .test_sentinel2_safe import PHYSICAL, RGB, SIZE, psd_14_2, safe_product

with rasterio.Env() as _env:
    _DRIVERS = _env.drivers()
pytestmark = pytest.mark.skipif("JP2OpenJPEG" not in _DRIVERS,
                                reason="GDAL without the JP2OpenJPEG driver")


def _product(tmp_path, baseline="05.10", level="2A", files=None):
    """The SAFE folder of :func:`safe_product`."""
    safe_product(tmp_path, baseline, level, files or RGB)
    return next(tmp_path.glob("*.SAFE"))


def _band(safe, band):
    """The file of ``band`` (B04, TCI, SCL) in product folder ``safe``."""
    return next(safe.rglob(f"*_{band}*.jp2"))


def _tif_copy(path, dtype=None):
    """A GeoTIFF copy of ``path`` beside it under its stem (gdal_translate's), its pixels
    cast to ``dtype`` when given."""
    with rasterio.open(path) as src:
        profile = {**src.profile, "driver": "GTiff"}
        values = src.read()
    if dtype:
        profile["dtype"] = dtype
    out = path.with_suffix(".tif")
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(values.astype(profile["dtype"]))
    return out


@pytest.mark.parametrize(("level", "baseline", "copy", "offset"), [
    ("2A", "05.10", False, -0.1),  # R10m/T31TCJ_..._B04_10m.jp2, BOA_ADD_OFFSET -1000
    ("2A", "05.10", True, -0.1),  # its GeoTIFF copy under the same stem
    ("1C", "05.10", False, -0.1),  # IMG_DATA/T31TCJ_..._B04.jp2, RADIO_ADD_OFFSET
    ("2A", "03.01", False, 0.0),  # before baseline 04.00: no offset
])
def test_a_band_file_declares_its_products_nodata_scale_and_offset(run_cli, tmp_path, level,
                                                                   baseline, copy, offset):
    """A band file given itself declared nothing: its 0 fill was predicted and the warning
    advised 16-bit scaling. It takes the MTD's nodata 0, 1 / 10000 and offset / 10000: the
    fill is NaN, the warning names the flags that feed reflectance."""
    from geotile.raster import open_raster

    band = _band(_product(tmp_path, baseline, level), "B04")
    band = _tif_copy(band) if copy else band
    with open_raster(band) as src:
        assert (src.nodatavals, src.scales, src.offsets) == ((0.0,), (0.0001,), (offset,))
        assert src.read(1)[0, 4:6].tolist() == [0, 1300]
    model = identity_model(tmp_path / "id.onnx", 1)
    result = run_cli("predict", model, band, "--activation", "none", "-o", tmp_path / "o.tif")
    assert result.exit_code == 0, result.output
    assert f"--scale 0.0001 --mean {abs(offset):g}" in result.stderr
    assert "16-bit" not in result.stderr
    with rasterio.open(tmp_path / "o.tif") as dst:
        values = dst.read(1)
        assert dst.transform == from_origin(300000, 4900020, 10, 10)
    assert np.isnan(values[:, :5]).all() and (values[:, 5:] == 1300).all()


def test_a_band_file_without_its_mtd_warns_that_the_offset_is_unknown(run_cli, tmp_path):
    """Copied out of its product: nodata 0 and the quantification 1 / 10000 every baseline
    has, no offset guessed; one warning says it is unknown and what to do."""
    from geotile.raster import open_raster

    band = _band(_product(tmp_path / "p"), "B04")
    alone = tmp_path / band.name
    shutil.copy(band, alone)
    with pytest.warns(UserWarning, match="offset") as caught, open_raster(alone) as src:
        assert (src.nodatavals, src.scales, src.offsets) == ((0.0,), (0.0001,), (0.0,))
    assert "MTD_MSIL2A.xml" in str(caught[0].message)
    model = identity_model(tmp_path / "id.onnx", 1)
    result = run_cli("predict", model, alone, "--activation", "none", "-o", tmp_path / "o.tif")
    assert result.exit_code == 0, result.output
    said = [line for line in result.stderr.splitlines() if "MTD_MSIL2A.xml" in line]
    assert len(said) == 1 and "offset" in said[0] and alone.name in said[0], result.stderr
    with rasterio.open(tmp_path / "o.tif") as dst:
        assert np.isnan(dst.read(1)[:, :5]).all()


def test_the_true_colour_file_declares_nodata_only(tmp_path):
    """TCI_10m.jp2 (uint8 RGB): nodata 0 on its 3 bands, no reflectance scale."""
    from geotile.raster import open_raster

    tci = _band(_product(tmp_path, files={**RGB, ("TCI", 10): 90}), "TCI")
    with open_raster(tci) as src:
        assert (src.nodatavals, src.scales, src.offsets) == ((0.0,) * 3, (1.0,) * 3,
                                                             (0.0,) * 3)


@pytest.mark.parametrize("case", ["float32", "name", "foreign"])
def test_other_rasters_declare_nothing(tmp_path, case):
    """A float copy under the band's name (reflectance already), a uint16 file named
    otherwise beside the product's files, and a band file whose MTD beside it lists
    another product's files: read as they are (no warning but for the last)."""
    import warnings

    from geotile.raster import open_raster

    safe = _product(tmp_path)
    band = _band(safe, "B04")
    if case == "float32":
        path = _tif_copy(band, "float32")
    elif case == "name":
        path = band.with_name("b04_subset.tif")
        shutil.copy(_tif_copy(band), path)
    else:
        path = safe / band.name.replace("20240101T105441", "20240301T105441")
        shutil.copy(band, path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with open_raster(path) as src:
            declared = (src.nodatavals, src.offsets)
    if case == "foreign":
        assert declared == ((0.0,), (0.0,)) and "MTD_MSIL2A.xml" in str(caught[0].message)
    else:
        assert declared == ((None,), (0.0,)) and not caught


@pytest.mark.parametrize("level", ["2A", "1C"])
def test_each_band_takes_the_offset_of_its_own_band_id(tmp_path, level):
    """The MTD lists BOA_ADD_OFFSET (RADIO_ADD_OFFSET) by band_id 0-12: B1..B8, B8A (8),
    B9 (9), B10, B11, B12, not by the number in the file name. With band_id i's offset
    -(1000 + 10 i) each band file and each band of the product's subdatasets declares its
    own: B8 -0.107, B8A -0.108, B9 -0.109, B11 -0.111."""
    import re

    from geotile.raster import open_raster

    names = {"B05": 20, "B06": 20, "B07": 20, "B8A": 20, "B11": 20, "B12": 20, "B01": 60,
             "B09": 60, "B08": 10}
    safe = _product(tmp_path, "05.10", level, files=dict.fromkeys(names.items(), 2000))
    mtd = safe / f"MTD_MSIL{level}.xml"
    mtd.write_text(re.sub(r'band_id="(\d+)">-1000<',
                          lambda m: f'band_id="{m[1]}">{-1000 - 10 * int(m[1])}<',
                          mtd.read_text()))

    def expected(name):
        return -(1000 + 10 * PHYSICAL.index(re.sub(r"^B0", "B", name))) / 10000

    for band in names:
        with open_raster(_band(safe, band)) as src:
            assert src.offsets == (pytest.approx(expected(band), abs=1e-12),), band
    if level == "1C" or "SENTINEL2" not in _DRIVERS:
        return
    for resolution in ("20m", "60m"):
        with open_raster(f"SENTINEL2_L2A:{mtd}:{resolution}:EPSG_32631") as src:
            found = {src.tags(i)["BANDNAME"]: src.offsets[i - 1]
                     for i in range(1, src.count + 1) if src.scales[i - 1] == 0.0001}
        assert found == {b: pytest.approx(expected(b), abs=1e-12) for b in found}
        assert set(found) == {"B1", "B9"} if resolution == "60m" else \
            {"B5", "B6", "B7", "B8A", "B11", "B12"}


def test_a_band_file_of_a_psd_14_2_product_declares_its_mtds_values(tmp_path):
    """An L2A product of baseline 02.06 names its files IMAGE_FILE_2A and its quantification
    L2A_BOA_QUANTIFICATION_VALUE (L2A_AOT_..., L2A_WVP_...; beside the L1C's 1000 of
    L1C_TOA_QUANTIFICATION_VALUE): its own MTD was taken for another product's (a warning
    that the offset is unknown on B04) and AOT and WVP declared scale 1, not 1 / 1000.
    They declare the MTD's values now: B04 0.0001 and offset 0 unwarned, AOT and WVP
    0.001."""
    import warnings

    from geotile.raster import open_raster

    safe = _product(tmp_path, "02.06", files={("B04", 10): 1300, ("AOT", 10): 120,
                                              ("WVP", 10): 900})
    psd_14_2(safe / "MTD_MSIL2A.xml")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        declared = {}
        for band in ("B04", "AOT", "WVP"):
            with open_raster(_band(safe, band)) as src:
                declared[band] = (src.nodatavals, src.scales, src.offsets)
    assert not [w for w in caught if "MTD_MSIL2A" in str(w.message)], caught[0].message
    assert declared == {"B04": ((0.0,), (0.0001,), (0.0,)), "AOT": ((0.0,), (0.001,), (0.0,)),
                        "WVP": ((0.0,), (0.001,), (0.0,))}


def _scl(safe):
    """The product's SCL_20m.jp2 rewritten with classes 4, 8 and 9 by rows beside its 0
    fill (the left 2 columns)."""
    path = _band(safe, "SCL")
    pixels = np.repeat(np.resize(np.array([4, 8, 9], np.uint8), 10)[:, None], 10, 1)[None]
    pixels[:, :, :2] = 0
    with rasterio.open(path, "w", driver="JP2OpenJPEG", width=10, height=10, count=1,
                       dtype="uint8", crs="EPSG:32631", QUALITY=100, REVERSIBLE="YES",
                       transform=from_origin(300000, 4900020, 20, 20)) as dst:
        dst.write(pixels)
    return path, pixels[0]


def test_scl_as_labels_ignores_its_no_data_and_names_its_classes(run_cli, tmp_path):
    """SCL_20m.jp2 given to make-masks: its class 0 (NO_DATA) was a class, "background",
    and ids 4, 8, 9 unnamed. Now 0 is ignored (255) and the classes take ESA's names."""
    safe = _product(tmp_path, files={**RGB, ("B11", 20): 2100, ("SCL", 20): 4})
    scl, pixels = _scl(safe)
    out = tmp_path / "mask.tif"
    result = run_cli("make-masks", scl, _band(safe, "B11"), "-o", out, "--json")
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as dst:
        mask = dst.read(1)
        names = json.loads(dst.tags()["GEOTILE_CLASS_NAMES"])
    assert (mask[:, :2] == 255).all()
    assert (mask[:, 2:] == pixels[:, 2:]).all()
    assert names[4] == "vegetation" and names[9] == "cloud_high_probability"
    summary = json.loads(result.stdout)["masks"][0]
    assert summary["ignored_pixels"] == 20


def test_scl_as_ignore_regions_is_refused(run_cli, tmp_path):
    """SCL_20m.jp2 given to make-masks --ignore (a cloud mask): every nonzero class
    (vegetation, water, clouds) was left out, the whole mask 255 past the fill, exit 0.
    It names its classes: refused in one line naming the file, its classes and how to
    reduce it to the clouds; nothing written."""
    safe = _product(tmp_path, files={**RGB, ("B11", 20): 2100, ("SCL", 20): 4})
    scl, _ = _scl(safe)
    labels = tmp_path / "none.geojson"
    labels.write_text('{"type": "FeatureCollection", "features": []}')
    out = tmp_path / "mask.tif"
    result = run_cli("make-masks", labels, _band(safe, "B11"), "--ignore", scl, "-o", out)
    assert_one_line_error(result, f"{scl}: ", "12 classes", "vegetation",
                          "gdal_calc.py", "cloud")
    assert not out.exists()
    clouds = tmp_path / "clouds.tif"  # a cloud model's classes: its nonzero are regions
    with rasterio.open(scl) as src:
        profile = {**src.profile, "driver": "GTiff"}
        ids = np.where(src.read() >= 8, 1, 0).astype(np.uint8)
    with rasterio.open(clouds, "w", **profile) as dst:
        dst.write(ids)
        dst.update_tags(GEOTILE_CLASS_NAMES=json.dumps(["background", "cloud", "shadow"]))
    result = run_cli("make-masks", labels, _band(safe, "B11"), "--ignore", clouds, "-o", out)
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as dst:  # the clouds 255; so is the image's fill
        mask = dst.read(1)
    with rasterio.open(_band(safe, "B11")) as src:
        fill = src.read(1) == 0
    assert ((mask == 255) == ((ids[0] == 1) | fill)).all() and ids.sum() == 48


def test_a_separate_stack_of_band_files_declares_each_bands_values(run_cli, tmp_path):
    """gdalbuildvrt -separate stack.vrt B04 B03 B02: the VRT's bands declared nothing (its
    sources' nothing either), the fill predicted; each band now takes its file's."""
    from geotile.raster import open_raster

    safe = _product(tmp_path)
    sources = "".join(
        f'<VRTRasterBand dataType="UInt16" band="{i}"><ComplexSource>'
        f'<SourceFilename relativeToVRT="1">{_band(safe, b).relative_to(tmp_path)}'
        "</SourceFilename><SourceBand>1</SourceBand>"
        f'<SrcRect xOff="0" yOff="0" xSize="{SIZE}" ySize="{SIZE}"/>'
        f'<DstRect xOff="0" yOff="0" xSize="{SIZE}" ySize="{SIZE}"/>'
        "</ComplexSource></VRTRasterBand>" for i, b in enumerate(["B04", "B03", "B02"], 1))
    stack = tmp_path / "stack.vrt"
    stack.write_text(f'<VRTDataset rasterXSize="{SIZE}" rasterYSize="{SIZE}"><SRS>EPSG:32631'
                     "</SRS><GeoTransform>300000, 10, 0, 4900020, 0, -10</GeoTransform>"
                     f"{sources}</VRTDataset>")
    with open_raster(stack) as src:
        assert (src.nodatavals, src.scales, src.offsets) == ((0.0,) * 3, (0.0001,) * 3,
                                                             (-0.1,) * 3)
    model = identity_model(tmp_path / "id.onnx", 3)
    result = run_cli("predict", model, stack, "--activation", "none", "--scale", "0.0001",
                     "--mean", "0.1", "-o", tmp_path / "o.tif")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "o.tif") as dst:
        values = dst.read()
    assert np.isnan(values[:, :, :5]).all()
    np.testing.assert_allclose(values[:, 0, 5:], [[0.03] * 15, [0.02] * 15, [0.01] * 15],
                               atol=1e-6)


def test_resume_redoes_a_band_file_whose_mtd_changed(run_cli, tmp_path):
    """The MTD decides the band's offset: --resume digests it, so patches cut before the
    MTD's offset was fixed are cut again with the new one."""
    import glob

    from geotile.input_sources import files_read

    safe = _product(tmp_path)
    band, mtd = _band(safe, "B04"), safe / "MTD_MSIL2A.xml"
    assert mtd in files_read(band)
    patches = tmp_path / "patches"
    args = ("tile", band, "--size", "10", "-o", patches, "--resume")
    assert run_cli(*args).exit_code == 0
    mtd.write_text(mtd.read_text().replace(">-1000<", ">-2000<"))
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    found = glob.glob(str(patches / "images" / "*.tif"))
    assert found
    for patch in found:
        with rasterio.open(patch) as src:
            assert src.offsets == (-0.2,) and src.nodata == 0, patch


@pytest.mark.parametrize("source_nodata", [False, True])
def test_a_mosaic_of_band_files_declares_their_values(tmp_path, source_nodata):
    """gdalbuildvrt of two granules' B04 (here one file twice, 10 px apart): the band takes
    their values; its sources declaring no nodata (no -srcnodata 0), the later one's 0 fill
    hides the earlier one's pixels where they overlap: a warning says how to build it."""
    from geotile.raster import open_raster

    safe = _product(tmp_path)
    band = _band(safe, "B04")
    nodata = "<NODATA>0</NODATA>" if source_nodata else ""
    sources = "".join(
        f'<ComplexSource><SourceFilename relativeToVRT="0">{band}</SourceFilename>'
        f'<SourceBand>1</SourceBand><SrcRect xOff="0" yOff="0" xSize="{SIZE}" '
        f'ySize="{SIZE}"/><DstRect xOff="{x}" yOff="0" xSize="{SIZE}" ySize="{SIZE}"/>'
        f"{nodata}</ComplexSource>" for x in (0, 10))
    mosaic = tmp_path / "mosaic.vrt"
    mosaic.write_text(f'<VRTDataset rasterXSize="{SIZE + 10}" rasterYSize="{SIZE}"><SRS>'
                      "EPSG:32631</SRS><GeoTransform>300000, 10, 0, 4900020, 0, -10"
                      '</GeoTransform><VRTRasterBand dataType="UInt16" band="1">'
                      f"{sources}</VRTRasterBand></VRTDataset>")
    import warnings

    with warnings.catch_warnings(record=True) as caught, open_raster(mosaic) as src:
        warnings.simplefilter("always")
        assert (src.nodatavals, src.scales, src.offsets) == ((0.0,), (0.0001,), (-0.1,))
        row = src.read(1)[0]
    said = [str(w.message) for w in caught if "-srcnodata 0" in str(w.message)]
    if source_nodata:
        assert not said and row[10:15].tolist() == [1300] * 5
    else:
        assert len(said) == 1 and said[0].startswith("mosaic.vrt: ")
        assert row[10:15].tolist() == [0] * 5


def _mosaic(path, bands):
    """A gdalbuildvrt -srcnodata 0 mosaic of band files ``bands``, each 10 px east of the
    one before."""
    sources = "".join(
        f'<ComplexSource><SourceFilename relativeToVRT="0">{band}</SourceFilename>'
        f'<SourceBand>1</SourceBand><SrcRect xOff="0" yOff="0" xSize="{SIZE}" '
        f'ySize="{SIZE}"/><DstRect xOff="{10 * i}" yOff="0" xSize="{SIZE}" ySize="{SIZE}"/>'
        "<NODATA>0</NODATA></ComplexSource>" for i, band in enumerate(bands))
    path.write_text(f'<VRTDataset rasterXSize="{SIZE + 10 * len(bands) - 10}" '
                    f'rasterYSize="{SIZE}"><SRS>EPSG:32631</SRS><GeoTransform>300000, 10, 0, '
                    '4900020, 0, -10</GeoTransform><VRTRasterBand dataType="UInt16" band="1">'
                    f"{sources}</VRTRasterBand></VRTDataset>")
    return path


def test_a_mosaic_of_products_read_differently_is_refused(run_cli, tmp_path):
    """A mosaic of B04 files of baselines 03.01 (DN = reflectance x 10000) and 05.10 (DN +
    1000, offset -0.1) declared nothing, without a word: its 0 fill was predicted and the
    two products' pixels, 0.1 apart in reflectance, read as one. No one offset reads it:
    refused in one line naming the offsets and the fix; nothing written."""
    bands = [_band(_product(tmp_path / base, base), "B04") for base in ("03.01", "05.10")]
    mosaic = _mosaic(tmp_path / "mosaic.vrt", bands)
    model = identity_model(tmp_path / "id.onnx", 1)
    out = tmp_path / "out.tif"
    result = run_cli("predict", model, mosaic, "--activation", "none", "-o", out)
    assert_one_line_error(result, "mosaic.vrt: ", "band 1", "offset -0.1", "offset 0)",
                          "baseline 04.00")
    assert not out.exists()
    same = _mosaic(tmp_path / "same.vrt", [bands[1], bands[1]])  # one product's: as before
    result = run_cli("predict", model, same, "--activation", "none", "-o", out)
    assert result.exit_code == 0, result.output


def test_a_band_file_beside_another_products_mtd_is_told_so(tmp_path):
    """A merged download: a band file of another date put in a product's R10m folder. The
    MTD above it lists other files, so its offset is unknown as before, but the warning said
    no MTD was found and to put one beside it: it names the MTD there as another product's."""
    from geotile.raster import open_raster

    safe = _product(tmp_path)
    band = _band(safe, "B04")
    stranger = band.with_name(band.name.replace("20240101T105441", "20240111T105441"))
    shutil.copy(band, stranger)
    with pytest.warns(UserWarning, match="offset") as caught, open_raster(stranger) as src:
        assert (src.nodatavals, src.scales, src.offsets) == ((0.0,), (0.0001,), (0.0,))
    said = str(caught[0].message)
    assert said.startswith(f"{stranger.name}: ") and str(safe / "MTD_MSIL2A.xml") in said
    assert "another product's" in said and "no MTD_MSIL2A.xml" not in said


def test_a_prediction_named_after_the_true_colour_file_keeps_its_zeros(run_cli, tmp_path):
    """predict over T31TCJ_..._TCI_10m.jp2 writes <out>/T31TCJ_..._TCI_10m.tif: 3 bands of
    uint8 probabilities (--dtype uint8), its fill under an internal mask. Read back (by
    evaluate, vectorize) it was taken for the TCI: nodata 0 declared, so every pixel of
    probability 0 was no data (band 2's 300 valid pixels all masked). geotile's own
    outputs declare what they hold."""
    from geotile.raster import open_raster

    tci = _band(_product(tmp_path, files={**RGB, ("TCI", 10): 90}), "TCI")
    model = identity_model(tmp_path / "id.onnx", 3)
    out = tmp_path / "out"
    result = run_cli("predict", model, tci, "--activation", "softmax", "--dtype", "uint8",
                     "--scale", "1", "--mean", "0,90,90", "--std", "1,1,1", "-o", f"{out}/")
    assert result.exit_code == 0, result.output
    written = out / f"{tci.stem}.tif"
    with rasterio.open(written) as src:
        assert src.read(2)[:, 5:].max() == 0 and src.nodatavals == (None,) * 3
        expected = src.read_masks()
    with open_raster(written) as src:
        assert src.nodatavals == (None,) * 3
        assert (src.read_masks() == expected).all() and (expected[:, :, 5:] == 255).all()


def test_resume_redoes_an_item_of_band_files_whose_mtd_changed(run_cli, tmp_path):
    """A STAC Item (a user's, no s2:processing_baseline) of a product's band files: the MTD
    decides their offset, but --resume digested the item and its files only, so patches cut
    before the MTD's offset was fixed were kept ('complete'). The MTD is an input too."""
    safe = _product(tmp_path)
    band, mtd = _band(safe, "B04"), safe / "MTD_MSIL2A.xml"
    item = tmp_path / "item.json"
    item.write_text(json.dumps({
        "type": "Feature", "stac_version": "1.0.0", "id": "scene", "geometry": None,
        "properties": {"datetime": "2024-01-01T10:54:41Z"}, "links": [],
        "assets": {"B04": {"href": str(band), "roles": ["data"],
                           "eo:bands": [{"name": "B04", "common_name": "red"}]}}}))
    patches = tmp_path / "patches"
    args = ("tile", item, "--size", "10", "-o", patches, "--resume")
    assert run_cli(*args).exit_code == 0
    mtd.write_text(mtd.read_text().replace(">-1000<", ">-2000<"))
    result = run_cli(*args)
    assert result.exit_code == 0 and "skipped" not in result.output, result.output
    found = list((patches / "images").glob("*.tif"))
    assert found
    for patch in found:
        with rasterio.open(patch) as src:
            assert src.offsets == (-0.2,) and src.nodata == 0, patch


def test_a_band_file_in_the_zipped_product_declares_its_values(run_cli, tmp_path):
    """The product as the Copernicus Data Space delivers it (S2A_MSIL2A_....SAFE.zip), a
    band given by its GDAL path in it (/vsizip/....SAFE.zip/....SAFE/GRANULE/.../B04_10m.jp2):
    the MTD in it was never read: its 0 fill predicted, 16-bit scaling advised, unlike the
    unzipped file. Now read as the unzipped one: fill NaN, the reflectance advice."""
    import zipfile

    safe = _product(tmp_path / "p")
    band = _band(safe, "B04").relative_to(safe.parent)
    path = tmp_path / f"{safe.name}.zip"
    with zipfile.ZipFile(path, "w") as opened:
        for file in sorted(safe.rglob("*")):
            opened.write(file, file.relative_to(safe.parent).as_posix())
    shutil.rmtree(safe)
    name = f"/vsizip/{path}/{band.as_posix()}"
    model = identity_model(tmp_path / "id.onnx", 1)
    out = tmp_path / "o.tif"
    result = run_cli("predict", model, name, "--activation", "none", "-o", out)
    assert result.exit_code == 0, result.output
    assert "--scale 0.0001 --mean 0.1" in result.stderr and "16-bit" not in result.stderr
    with rasterio.open(out) as dst:
        values = dst.read(1)
    assert np.isnan(values[:, :5]).all() and (values[:, 5:] == 1300).all()
