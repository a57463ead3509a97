"""Landsat Collection 2 Level-2 band files (LC09_L2SP_..._SR_B4.TIF beside _MTL.json or
_MTL.xml) and STAC Items of them: the reflectance scale and offset and the 0 fill the
product declares reach predict's warning and the model as declared."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from .conftest import assert_one_line_error
from .test_predict_mlm import identity_model

PRODUCT = "LC09_L2SP_198030_20240101_20240103_02_T1"
#: band file -> its DN (left 5 columns 0: the fill outside the scene)
DN = {"SR_B2": 9100, "SR_B3": 9200, "SR_B4": 9300, "SR_B5": 15000, "ST_B10": 44000}
COMMON = {"SR_B2": "blue", "SR_B3": "green", "SR_B4": "red", "SR_B5": "nir08",
          "ST_B10": "lwir11"}


def landsat_files(folder, mtl="json"):
    """The band files (uint16 GeoTIFFs declaring no nodata, scale or offset) and the
    product's _MTL.json (``mtl`` json; json-bom: UTF-8 with a byte order mark), _MTL.xml or
    _MTL.txt (reflectance x 2.75e-05 - 0.2, temperature x 0.00341802 + 149)."""
    folder.mkdir(parents=True, exist_ok=True)
    for band, value in DN.items():
        pixels = np.full((1, 20, 20), value, np.uint16)
        pixels[:, :, :5] = 0
        with rasterio.open(folder / f"{PRODUCT}_{band}.TIF", "w", driver="GTiff", width=20,
                           height=20, count=1, dtype="uint16", crs="EPSG:32631",
                           transform=from_origin(300000, 4900020, 30, 30)) as dst:
            dst.write(pixels)
    reflectance = {}
    for n in range(1, 8):
        reflectance[f"REFLECTANCE_MULT_BAND_{n}"] = "2.75E-05"
        reflectance[f"REFLECTANCE_ADD_BAND_{n}"] = "-0.200000"
    temperature = {"TEMPERATURE_MULT_BAND_ST_B10": "0.00341802",
                   "TEMPERATURE_ADD_BAND_ST_B10": "149.000000"}
    # the Level-1 product's own rescaling (TOA: x 2e-05 - 0.1) under the same key names,
    # in a group some MTLs write first
    level1 = {k: "2.0000E-05" if "MULT" in k else "-0.100000" for k in reflectance}
    document = {"LANDSAT_METADATA_FILE": {
        "PRODUCT_CONTENTS": {"LANDSAT_PRODUCT_ID": PRODUCT, "PROCESSING_LEVEL": "L2SP"},
        "LEVEL1_RADIOMETRIC_RESCALING": level1,
        "LEVEL2_SURFACE_REFLECTANCE_PARAMETERS": reflectance,
        "LEVEL2_SURFACE_TEMPERATURE_PARAMETERS": temperature}}
    if mtl in ("json", "json-bom"):
        (folder / f"{PRODUCT}_MTL.json").write_text(
            json.dumps(document), encoding="utf-8-sig" if mtl == "json-bom" else "utf-8")
    elif mtl == "txt":  # the ODL text (GROUP = ... END_GROUP, strings quoted)
        lines = ["GROUP = LANDSAT_METADATA_FILE"]
        for group, values in document["LANDSAT_METADATA_FILE"].items():
            lines += [f"  GROUP = {group}", *(
                f'    {k} = "{v}"' if k in ("LANDSAT_PRODUCT_ID", "PROCESSING_LEVEL")
                else f"    {k} = {v}" for k, v in values.items()), f"  END_GROUP = {group}"]
        (folder / f"{PRODUCT}_MTL.txt").write_text(
            "\n".join([*lines, "END_GROUP = LANDSAT_METADATA_FILE", "END", ""]))
    else:
        def xml(values):
            return "".join(f"<{k}>{v}</{k}>" for k, v in values.items())
        (folder / f"{PRODUCT}_MTL.xml").write_text(
            '<?xml version="1.0" encoding="UTF-8"?><LANDSAT_METADATA_FILE>'
            f"<LEVEL1_RADIOMETRIC_RESCALING>{xml(level1)}</LEVEL1_RADIOMETRIC_RESCALING>"
            f"<LEVEL2_SURFACE_REFLECTANCE_PARAMETERS>{xml(reflectance)}"
            "</LEVEL2_SURFACE_REFLECTANCE_PARAMETERS><LEVEL2_SURFACE_TEMPERATURE_PARAMETERS>"
            f"{xml(temperature)}</LEVEL2_SURFACE_TEMPERATURE_PARAMETERS>"
            "</LANDSAT_METADATA_FILE>")
    return folder


def usgs_item(folder, raster_bands=False):
    """A STAC Item as the USGS serves it (assets SR_B2.. named SR_B4 with common names, no
    raster:bands; the MTL files as metadata assets), or the Planetary Computer's (assets
    blue.. named OLI_B4, raster:bands scale, offset and nodata 0)."""
    landsat_files(folder)
    assets = {}
    for band in DN:
        declared = {"raster:bands": [
            {"scale": 0.00341802, "offset": 149.0, "nodata": 0} if band == "ST_B10" else
            {"scale": 2.75e-05, "offset": -0.2, "nodata": 0}]} if raster_bands else {}
        name = band if not raster_bands else band.replace("SR_", "OLI_").replace("ST_", "TIRS_")
        assets[COMMON[band] if raster_bands else band] = {
            "href": f"./{PRODUCT}_{band}.TIF", "roles": ["data"],
            "type": "image/tiff; application=geotiff; profile=cloud-optimized",
            "eo:bands": [{"name": name, "common_name": COMMON[band]}], **declared}
    assets["MTL.json"] = {"href": f"./{PRODUCT}_MTL.json", "type": "application/json",
                          "roles": ["metadata"]}
    item = {"type": "Feature", "stac_version": "1.0.0", "id": PRODUCT, "geometry": None,
            "properties": {"datetime": "2024-01-01T10:00:00Z"}, "links": [], "assets": assets}
    (folder / f"{PRODUCT}.json").write_text(json.dumps(item))
    return folder / f"{PRODUCT}.json"


@pytest.mark.parametrize("raster_bands", [False, True], ids=["usgs", "planetary-computer"])
def test_an_items_reflectance_and_fill_reach_the_model_as_declared(run_cli, tmp_path,
                                                                   raster_bands):
    """red,green,blue of a Landsat C2 L2 Item: the warning names --scale 2.75e-05
    --mean 0.2, which feed reflectance, DN x 2.75e-05 - 0.2; the 0 fill is NaN. A USGS
    item declares neither (before: 16-bit advice, the fill predicted): the MTL beside
    the band files does."""
    item = usgs_item(tmp_path, raster_bands)
    model = identity_model(tmp_path / "id.onnx", 3)
    result = run_cli("predict", model, item, "--bands", "red,green,blue", "--activation",
                     "none", "-o", tmp_path / "raw.tif")
    assert result.exit_code == 0, result.output
    assert "declares scale 2.75e-05 and offset -0.2" in result.stderr
    assert "--scale 2.75e-05 --mean 0.2 " in result.stderr
    result = run_cli("predict", model, item, "--bands", "red,green,blue", "--activation",
                     "none", "--scale", "2.75e-05", "--mean", "0.2", "-o", tmp_path / "out.tif")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "out.tif") as dst:
        values = dst.read()
        assert dst.transform == from_origin(300000, 4900020, 30, 30)
    assert np.isnan(values[:, :, :5]).all()
    np.testing.assert_allclose(values[:, 0, 5:], [
        [DN[b] * 2.75e-05 - 0.2] * 15 for b in ("SR_B4", "SR_B3", "SR_B2")], atol=1e-6)


@pytest.mark.parametrize("mtl", ["json", "xml", "txt", "json-bom"])
def test_a_band_file_beside_its_mtl_declares_the_products_values(tmp_path, mtl):
    """LC09_..._SR_B4.TIF beside _MTL.json, _MTL.xml or the ODL _MTL.txt alone: scale
    2.75e-05, offset -0.2, nodata 0 (the surface temperature band: 0.00341802, 149);
    without the MTL, as the file declares (nothing). Before, an MTL writing its
    LEVEL1_RADIOMETRIC_RESCALING group first gave the Level-1 TOA 2e-05 and -0.1 (the same
    key names), and an _MTL.txt alone or a JSON with a byte order mark declared nothing."""
    from geotile.raster import open_raster

    folder = landsat_files(tmp_path / "scene", mtl)
    with open_raster(folder / f"{PRODUCT}_SR_B4.TIF") as src:
        assert (src.nodatavals, src.scales, src.offsets) == ((0.0,), (2.75e-05,), (-0.2,))
        assert src.read(1)[0, 4:6].tolist() == [0, 9300]
        assert src.transform == from_origin(300000, 4900020, 30, 30)
    with open_raster(folder / f"{PRODUCT}_ST_B10.TIF") as src:
        assert (src.nodatavals, src.scales, src.offsets) == ((0.0,), (0.00341802,), (149.0,))
    next(folder.glob("*_MTL.*")).unlink()
    with open_raster(folder / f"{PRODUCT}_SR_B4.TIF") as src:
        assert (src.nodatavals, src.scales, src.offsets) == ((None,), (1.0,), (0.0,))


def test_resume_redoes_a_band_file_whose_mtl_came_or_changed(run_cli, tmp_path):
    """The MTL decides a band file's nodata, scale and offset, but --resume digested the
    band file alone: an output predicted before the MTL was downloaded (the 0 fill
    predicted) and patches cut before its offset was fixed were 'complete from an earlier
    run, skipped', exit 0. The MTL is an input: either change redoes the work."""
    import glob

    folder = landsat_files(tmp_path / "scene")
    band, mtl = folder / f"{PRODUCT}_SR_B4.TIF", folder / f"{PRODUCT}_MTL.json"
    text = mtl.read_text()
    mtl.unlink()
    model = identity_model(tmp_path / "id.onnx", 1)
    out = tmp_path / "out.tif"
    args = ("predict", model, band, "--activation", "none", "-o", out, "--resume")
    assert run_cli(*args).exit_code == 0
    with rasterio.open(out) as dst:
        assert (dst.read(1)[:, :5] == 0).all()  # no MTL: the fill is a value
    mtl.write_text(text)
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    assert "skipped" not in result.output
    with rasterio.open(out) as dst:
        assert np.isnan(dst.read(1)[:, :5]).all()

    patches = tmp_path / "patches"
    tile = ("tile", band, "--size", "10", "-o", patches, "--resume")
    assert run_cli(*tile).exit_code == 0
    mtl.write_text(text.replace("-0.200000", "-0.100000"))
    result = run_cli(*tile)
    assert result.exit_code == 0, result.output
    for patch in glob.glob(str(patches / "images" / "*.tif")):
        with rasterio.open(patch) as src:
            assert src.offsets == (-0.1,), patch


@pytest.mark.parametrize("dtype", ["float32", "uint8"])
def test_a_band_file_not_of_the_products_dn_declares_nothing(tmp_path, dtype):
    """A user's SR_B4 rescaled to reflectance (float32, gdal_calc's 'A*2.75e-05-0.2') or an
    8-bit copy, written back under its name beside the MTL, took the MTL's scale 2.75e-05,
    offset -0.2 and nodata 0: predict's advice, tile's patches and every reader applying
    them rescaled reflectance again (0.09 as -0.19999) and its 0.0 pixels were no data ->
    the MTL is for the product's uint16 DN alone; the QA band is no reflectance either."""
    from geotile.raster import open_raster

    folder = landsat_files(tmp_path / "scene")
    values = np.full((1, 20, 20), 9300 * 2.75e-05 - 0.2, dtype)
    values[:, :, :5] = 0
    band = folder / f"{PRODUCT}_SR_B4.TIF"
    with rasterio.open(band, "w", driver="GTiff", width=20, height=20, count=1, dtype=dtype,
                       crs="EPSG:32631", transform=from_origin(300000, 4900020, 30, 30)) as dst:
        dst.write(values)
    with rasterio.open(folder / f"{PRODUCT}_QA_PIXEL.TIF", "w", driver="GTiff", width=20,
                       height=20, count=1, dtype="uint16") as dst:
        dst.write(np.full((1, 20, 20), 21824, np.uint16))
    for path in (band, folder / f"{PRODUCT}_QA_PIXEL.TIF"):
        with open_raster(path) as src:
            assert (src.nodatavals, src.scales, src.offsets) == ((None,), (1.0,), (0.0,))
    with open_raster(band) as src:
        np.testing.assert_allclose(src.read(1)[0, 4:6], values[0, 0, 4:6])


def test_a_product_renamed_to_lower_case_declares_its_values(run_cli, tmp_path):
    """lc09_l2sp_..._sr_b4.tif beside lc09_..._mtl.json (a product's files lower-cased, as
    some archives and tools do): before, the MTL was looked up as ..._MTL.json and the
    band declared nothing, the 0 fill predicted; now as the upper-case product, and
    --resume redoes the output when the MTL changes."""
    from geotile.input_sources import files_read
    from geotile.raster import open_raster

    folder = landsat_files(tmp_path / "scene")
    for path in list(folder.iterdir()):
        path.rename(path.with_name(path.name.lower()))
    band, mtl = folder / f"{PRODUCT}_SR_B4.TIF".lower(), folder / f"{PRODUCT}_MTL.json".lower()
    with open_raster(band) as src:
        assert (src.nodatavals, src.scales, src.offsets) == ((0.0,), (2.75e-05,), (-0.2,))
    assert mtl in files_read(band)
    model = identity_model(tmp_path / "id.onnx", 1)
    out = tmp_path / "out.tif"
    args = ("predict", model, band, "--activation", "none", "-o", out, "--resume")
    assert run_cli(*args).exit_code == 0
    with rasterio.open(out) as dst:
        assert np.isnan(dst.read(1)[:, :5]).all() and (dst.read(1)[:, 5:] == 9300).all()
    mtl.write_text(mtl.read_text().replace("-0.200000", "-0.100000"))
    result = run_cli(*args)
    assert result.exit_code == 0 and "skipped" not in result.output, result.output


def level1_files(folder, product, bands, mtl_format="json"):
    """Level-1 band files ``bands`` ({name: (dtype, DN)}, left 5 columns 0) of ``product``
    and its MTL (json or txt): LEVEL1_RADIOMETRIC_RESCALING (reflective bands: radiance
    and reflectance x 2e-05 - 0.1; thermal ones: radiance x 3.342e-04 + 0.1) and the sun
    30 degrees above the horizon."""
    folder.mkdir(parents=True, exist_ok=True)
    rescaling = {}
    for band, (dtype, value) in bands.items():
        pixels = np.full((1, 20, 20), value, dtype)
        pixels[:, :, :5] = 0
        with rasterio.open(folder / f"{product}_{band}.TIF", "w", driver="GTiff", width=20,
                           height=20, count=1, dtype=dtype, crs="EPSG:3031",
                           transform=from_origin(-1000000, 500000, 30, 30)) as dst:
            dst.write(pixels)
        number = band[1:]
        rescaling[f"RADIANCE_MULT_BAND_{number}"] = "3.3420E-04" if "6" in number or \
            number in ("10", "11") else "1.2000E-02"
        rescaling[f"RADIANCE_ADD_BAND_{number}"] = "0.10000" if "6" in number or \
            number in ("10", "11") else "-60.00000"
        if not ("6" in number or number in ("10", "11")):
            rescaling[f"REFLECTANCE_MULT_BAND_{number}"] = "2.0000E-05"
            rescaling[f"REFLECTANCE_ADD_BAND_{number}"] = "-0.100000"
    groups = {"PRODUCT_CONTENTS": {"LANDSAT_PRODUCT_ID": product},
              "IMAGE_ATTRIBUTES": {"SUN_AZIMUTH": "150.1", "SUN_ELEVATION": "30.00000000"},
              "LEVEL1_RADIOMETRIC_RESCALING": rescaling}
    if mtl_format == "json":
        (folder / f"{product}_MTL.json").write_text(
            json.dumps({"LANDSAT_METADATA_FILE": groups}))
    else:
        lines = ["GROUP = LANDSAT_METADATA_FILE"]
        for group, values in groups.items():
            lines += [f"  GROUP = {group}", *(f"    {k} = {v}" for k, v in values.items()),
                      f"  END_GROUP = {group}"]
        (folder / f"{product}_MTL.txt").write_text(
            "\n".join([*lines, "END_GROUP = LANDSAT_METADATA_FILE", "END", ""]))
    return folder


@pytest.mark.parametrize("mtl_format", ["json", "txt"])
def test_a_level1_band_file_declares_top_of_atmosphere_values(run_cli, tmp_path, mtl_format):
    """Collection 2 Level-1 band files (LC08_L1TP_..._B4.TIF, uint16; Landsat 4-7's uint8,
    ETM+'s thermal B6_VCID_1): before, they declared nothing beside their MTL (the 0 fill
    predicted, the DN taken as they are). Now nodata 0 and the MTL's rescaling: reflective
    bands top-of-atmosphere reflectance corrected for the sun's elevation (USGS:
    (DN x REFLECTANCE_MULT + REFLECTANCE_ADD) / sin(SUN_ELEVATION)), thermal ones radiance
    (RADIANCE_MULT, RADIANCE_ADD)."""
    from geotile.raster import open_raster

    oli = level1_files(tmp_path / "oli", "LC08_L1TP_217123_20240101_20240110_02_T1",
                       {"B4": ("uint16", 9300), "B10": ("uint16", 30000)}, mtl_format)
    with open_raster(oli / "LC08_L1TP_217123_20240101_20240110_02_T1_B4.TIF") as src:
        assert src.nodatavals == (0.0,)
        np.testing.assert_allclose([src.scales[0], src.offsets[0]], [4e-05, -0.2])
        assert src.crs.to_epsg() == 3031 and src.read(1)[0, 4:6].tolist() == [0, 9300]
    with open_raster(oli / "LC08_L1TP_217123_20240101_20240110_02_T1_B10.TIF") as src:
        assert (src.nodatavals, src.scales, src.offsets) == ((0.0,), (3.342e-04,), (0.1,))
    etm = level1_files(tmp_path / "etm", "LE07_L1TP_217123_20200101_20200110_02_T1",
                       {"B3": ("uint8", 93), "B6_VCID_1": ("uint8", 150)}, mtl_format)
    with open_raster(etm / "LE07_L1TP_217123_20200101_20200110_02_T1_B3.TIF") as src:
        assert src.nodatavals == (0.0,)
        np.testing.assert_allclose([src.scales[0], src.offsets[0]], [4e-05, -0.2])
    with open_raster(etm / "LE07_L1TP_217123_20200101_20200110_02_T1_B6_VCID_1.TIF") as src:
        assert (src.nodatavals, src.scales, src.offsets) == ((0.0,), (3.342e-04,), (0.1,))

    model = identity_model(tmp_path / "id.onnx", 1)
    out = tmp_path / "out.tif"
    result = run_cli("predict", model, oli / "LC08_L1TP_217123_20240101_20240110_02_T1_B4.TIF",
                     "--activation", "none", "--scale", "4e-05", "--mean", "0.2", "-o", out)
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as dst:
        values = dst.read(1)
    assert np.isnan(values[:, :5]).all()
    np.testing.assert_allclose(values[:, 5:], 9300 * 4e-05 - 0.2, rtol=1e-5)


def test_a_level1_band_file_of_a_night_scene_declares_no_reflectance(tmp_path):
    """The sun at or below the horizon (a night scene: SUN_ELEVATION -20) gives no
    reflectance: the reflective band declares nothing; the thermal one its radiance."""
    from geotile.raster import open_raster

    product = "LC08_L1TP_217123_20240101_20240110_02_T1"
    folder = level1_files(tmp_path, product, {"B4": ("uint16", 9300),
                                              "B10": ("uint16", 30000)})
    mtl = folder / f"{product}_MTL.json"
    mtl.write_text(mtl.read_text().replace('"30.00000000"', '"-20.0"'))
    with open_raster(folder / f"{product}_B4.TIF") as src:
        assert (src.nodatavals, src.scales, src.offsets) == ((None,), (1.0,), (0.0,))
    with open_raster(folder / f"{product}_B10.TIF") as src:
        assert (src.scales, src.offsets) == ((3.342e-04,), (0.1,))


@pytest.mark.parametrize("archive", ["tar", "tar.gz", "zip", "./tar.gz"])
def test_a_product_archive_given_itself_reads_as_the_extracted_files(run_cli, tmp_path,
                                                                    archive):
    """The product as the USGS delivers it (LC09_..._T1.tar of the band files and MTLs),
    given as an IMAGE or by a band's GDAL path in it: before, the MTL in it was never read,
    the 0 fill predicted and the advice 16-bit scaling; now as the extracted files: fill
    NaN, the reflectance advice. ./tar.gz: members named ./LC09_... (tar -C scene .),
    which GDAL lists without the ./"""
    dot, archive = archive.startswith("./"), archive.removeprefix("./")
    import shutil
    import tarfile
    import zipfile

    folder = landsat_files(tmp_path / "scene")
    path = tmp_path / f"{PRODUCT}.{archive}"
    if archive == "zip":
        with zipfile.ZipFile(path, "w") as opened:
            for file in sorted(folder.iterdir()):
                opened.write(file, file.name)
    else:
        with tarfile.open(path, "w:gz" if archive == "tar.gz" else "w") as opened:
            for file in sorted(folder.iterdir()):
                opened.add(file, f"./{file.name}" if dot else file.name)
    shutil.rmtree(folder)
    prefix = "/vsizip/" if archive == "zip" else "/vsitar/"
    band = f"{prefix}{path}/{PRODUCT}_SR_B4.TIF"
    model = identity_model(tmp_path / "id.onnx", 1)
    out = tmp_path / "out.tif"
    result = run_cli("predict", model, band, "--activation", "none", "-o", out)
    assert result.exit_code == 0, result.output
    assert "--scale 2.75e-05 --mean 0.2" in result.stderr
    with rasterio.open(out) as dst:
        values = dst.read(1)
    assert np.isnan(values[:, :5]).all() and (values[:, 5:] == 9300).all()


@pytest.mark.parametrize("mtl", ["json", "txt"])
def test_an_mtl_of_another_product_is_not_taken(tmp_path, mtl):
    """An _MTL named as the band files but whose LANDSAT_PRODUCT_ID is another product's
    (a renamed or overwritten copy, LC08's 3e-05 rescaling): its values were declared as
    the band's. The band declares nothing from it, with a warning naming both products."""
    from geotile.raster import open_raster

    folder = landsat_files(tmp_path / "scene", mtl)
    path = next(folder.glob("*_MTL.*"))
    other = "LC08_L2SP_198030_20240109_20240111_02_T1"
    path.write_text(path.read_text().replace(f'"{PRODUCT}"', f'"{other}"')
                    .replace("2.75E-05", "3.0E-05"))
    with pytest.warns(UserWarning, match=other) as caught, \
            open_raster(folder / f"{PRODUCT}_SR_B4.TIF") as src:
        assert (src.nodatavals, src.scales, src.offsets) == ((None,), (1.0,), (0.0,))
    said = str(caught[0].message)
    assert said.startswith(f"{PRODUCT}_SR_B4.TIF: ") and path.name in said
    path.write_text(path.read_text().replace(f'"{other}"', f'"{PRODUCT.lower()}"'))
    with open_raster(folder / f"{PRODUCT}_SR_B4.TIF") as src:  # its own, in any case
        assert src.scales == (3e-05,)


def _qa_band(folder, band):
    """The product's QA_PIXEL (uint16: 21824 clear, 22280 cloud over the top 8 rows, 1 the
    fill in the left 5 columns) or SR_QA_AEROSOL (uint8: 224, 194) beside its bands."""
    dtype, (clear, cloud) = {"QA_PIXEL": ("uint16", (21824, 22280)),
                             "SR_QA_AEROSOL": ("uint8", (224, 194))}[band]
    pixels = np.full((20, 20), clear, dtype)
    pixels[:8], pixels[:, :5] = cloud, 1
    path = folder / f"{PRODUCT}_{band}.TIF"
    with rasterio.open(path, "w", driver="GTiff", width=20, height=20, count=1, dtype=dtype,
                       crs="EPSG:32631", transform=from_origin(300000, 4900020, 30, 30)) as dst:
        dst.write(pixels, 1)
    return path


@pytest.mark.parametrize(("band", "use"), [("QA_PIXEL", "ignore"), ("SR_QA_AEROSOL", "labels"),
                                           ("SR_QA_AEROSOL", "truth")])
def test_qa_bit_flags_are_refused_as_classes_or_regions(run_cli, tmp_path, band, use):
    """The product's QA bands are bit flags, as an HLS Fmask is: QA_PIXEL as make-masks
    --ignore left out every pixel (21824, clear, is nonzero: 400 of 400), SR_QA_AEROSOL as
    labels made 'classes' 194 and 224, exit 0. Refused in one line naming the file and how
    to take a flag out; nothing written."""
    folder = landsat_files(tmp_path / "scene")
    qa, image = _qa_band(folder, band), folder / f"{PRODUCT}_SR_B4.TIF"
    labels = tmp_path / "none.geojson"
    labels.write_text('{"type": "FeatureCollection", "features": []}')
    out = tmp_path / "out"
    args = {"ignore": ("make-masks", labels, image, "--ignore", qa, "-o", out / "m.tif"),
            "labels": ("make-masks", qa, image, "-o", out / "m.tif"),
            "truth": ("evaluate", qa, qa)}[use]
    result = run_cli(*args)
    assert_one_line_error(result, f"{qa}: ", "bit flags", "gdal_calc.py")
    assert not out.exists()
