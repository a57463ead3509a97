"""STAC Items of Sentinel-2 L2A as catalogs serve them: Earth Search's sentinel-2-l2a
(the -1000 offset applied to the COGs, ``earthsearch:boa_offset_applied``), its
sentinel-2-c1-l2a (the offset declared in raster:bands) and the Planetary Computer's
(raw DN, no raster:bands): the reflectance the pixels hold reaches predict's advice."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from .test_predict_mlm import identity_model

GRID = from_origin(600000, 4200000, 10, 10)
#: asset key (Earth Search's), band name, DN (left 4 columns 0: the fill outside the swath)
BANDS = (("red", "B04", 1500), ("green", "B03", 1400), ("blue", "B02", 1300))
#: Earth Search's raster:bands of a reflectance asset (both collections)
EARTH_SEARCH = {"nodata": 0, "data_type": "uint16", "bits_per_sample": 15,
                "spatial_resolution": 10, "scale": 0.0001, "offset": -0.1}


def s2_item(folder, catalog, baseline="05.09", nodata=0):
    """An item of three 10 m uint16 band COGs as ``catalog`` serves it: 'earth-search'
    (sentinel-2-l2a, offset applied, raster:bands still declaring -0.1), 'earth-search-c1'
    (sentinel-2-c1-l2a, not applied, declared), 'planetary-computer' (B04.. assets, no
    raster:bands)."""
    folder.mkdir(parents=True, exist_ok=True)
    pc = catalog == "planetary-computer"
    assets = {}
    for key, band, dn in BANDS:
        pixels = np.full((1, 16, 16), dn, np.uint16)
        pixels[:, :, :4] = 0
        name = f"T10SEG_20230828T184919_{band}_10m.tif" if pc else f"{band}.tif"
        with rasterio.open(folder / name, "w", driver="GTiff", width=16, height=16, count=1,
                           dtype="uint16", crs="EPSG:32610", transform=GRID, nodata=nodata,
                           tiled=True, blockxsize=16, blockysize=16) as dst:
            dst.write(pixels)
        asset = {"href": f"./{name}", "roles": ["data"] if pc else ["data", "reflectance"],
                 "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                 "eo:bands": [{"name": band if pc else key, "common_name": key}]}
        if not pc:
            asset["raster:bands"] = [EARTH_SEARCH]
        assets[band if pc else key] = asset
    properties = {"datetime": "2023-08-28T18:49:19Z", "s2:processing_baseline": baseline,
                  "s2:product_type": "S2MSI2A"}
    properties |= {"earth-search": {"earthsearch:boa_offset_applied": True},
                   "earth-search-c1": {"earthsearch:boa_offset_applied": False},
                   "planetary-computer": {"platform": "Sentinel-2A"}}[catalog]
    collection = {"earth-search": "sentinel-2-l2a", "earth-search-c1": "sentinel-2-c1-l2a",
                  "planetary-computer": "sentinel-2-l2a"}[catalog]
    item = {"type": "Feature", "stac_version": "1.0.0", "id": f"S2A_10SEG_{catalog}",
            "collection": collection, "geometry": None, "properties": properties,
            "links": [], "assets": assets}
    path = folder / "item.json"
    path.write_text(json.dumps(item))
    return path


@pytest.mark.parametrize(("catalog", "baseline", "offset"), [
    ("earth-search", "05.09", 0.0), ("earth-search-c1", "05.09", -0.1),
    ("planetary-computer", "05.09", -0.1), ("planetary-computer", "03.01", 0.0)])
def test_an_items_bands_declare_the_reflectance_their_pixels_hold(tmp_path, catalog,
                                                                  baseline, offset):
    """Earth Search's sentinel-2-l2a declared offset -0.1 on pixels it had already shifted
    by -1000 (earthsearch:boa_offset_applied true): reflectance read 0.1 low. The
    Planetary Computer's raw DN declared nothing: since baseline 04.00 they are
    DN x 0.0001 - 0.1, before it DN x 0.0001, 0 the fill (its COGs may declare none)."""
    from geotile.raster import open_raster

    item = s2_item(tmp_path, catalog, baseline, nodata=None if "planetary" in catalog else 0)
    with open_raster(item) as src:
        assert src.scales == (0.0001,) * 3
        assert src.offsets == (offset,) * 3
        assert src.nodatavals == (0.0,) * 3
        assert src.read(1)[0, 3:5].tolist() == [0, 1500]


def test_earth_search_applied_offset_advises_no_mean(run_cli, tmp_path):
    """predict on Earth Search's sentinel-2-l2a item advised --scale 0.0001 --mean 0.1:
    reflectance 0.15 fed as 0.05. It names --scale 0.0001 alone now, which feeds DN x
    0.0001; the fill is NaN."""
    item = s2_item(tmp_path, "earth-search")
    model = identity_model(tmp_path / "id.onnx", 3)
    result = run_cli("predict", model, item, "--bands", "red,green,blue", "--activation",
                     "none", "-o", tmp_path / "raw.tif")
    assert result.exit_code == 0, result.output
    assert "declares scale 0.0001 and offset 0 " in result.stderr
    assert "--mean 0.1" not in result.stderr
    result = run_cli("predict", model, item, "--bands", "red,green,blue", "--activation",
                     "none", "--scale", "0.0001", "-o", tmp_path / "out.tif")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "out.tif") as dst:
        values = dst.read()
        assert dst.transform == GRID
    assert np.isnan(values[:, :, :4]).all()
    np.testing.assert_allclose(values[:, 0, 4:], [[dn * 0.0001] * 12 for _, _, dn in BANDS],
                               atol=1e-6)


def test_planetary_computer_item_advises_the_products_offset(run_cli, tmp_path):
    """predict on a Planetary Computer item (baseline 05.09) gave 16-bit advice (--scale
    0.0000153): it names --scale 0.0001 --mean 0.1 now, the product's reflectance."""
    item = s2_item(tmp_path, "planetary-computer")
    model = identity_model(tmp_path / "id.onnx", 3)
    result = run_cli("predict", model, item, "--bands", "B04,B03,B02", "--activation",
                     "none", "-o", tmp_path / "raw.tif")
    assert result.exit_code == 0, result.output
    assert "--scale 0.0001 --mean 0.1 " in result.stderr


@pytest.mark.parametrize(("baseline", "mean"), [("03.01", "0"), ("05.09", "0.1")])
def test_planetary_computer_assets_are_not_warned_of_an_unknown_offset(run_cli, tmp_path,
                                                                       baseline, mean):
    """A Planetary Computer item's assets are named as ESA names band files
    (T10SEG_..._B04_10m.tif) and have no MTD beside them: each was warned that its offset
    is unknown, advising --mean 0.1 where the item's baseline 03.01 says 0 (fed 0.1 low).
    The item's baseline decides: only its advice is given."""
    item = s2_item(tmp_path, "planetary-computer", baseline)
    model = identity_model(tmp_path / "id.onnx", 3)
    result = run_cli("predict", model, item, "--bands", "B04,B03,B02", "--activation",
                     "none", "-o", tmp_path / "raw.tif")
    assert result.exit_code == 0, result.output
    assert "MTD_MSIL2A.xml" not in result.stderr and "unknown" not in result.stderr
    assert f"--scale 0.0001 --mean {mean} " in result.stderr


def test_other_items_are_left_as_they_declare(tmp_path):
    """An item without Sentinel-2's processing baseline (a user's stack of B04.tif..
    described by eo:bands alone) keeps what its files declare: nothing added."""
    from geotile.raster import open_raster

    item = s2_item(tmp_path, "planetary-computer", nodata=None)
    document = json.loads(item.read_text())
    del document["properties"]["s2:processing_baseline"]
    for asset in document["assets"].values():  # named as a user names them, not as ESA
        named = item.parent / asset["href"]
        asset["href"] = "./" + named.name.split("_")[2] + ".tif"
        named.rename(item.parent / asset["href"])
    item.write_text(json.dumps(document))
    with open_raster(item) as src:
        assert (src.scales, src.offsets, src.nodatavals) == ((1.0,) * 3, (0.0,) * 3,
                                                             (None,) * 3)


def test_assets_made_again_are_read_again_in_one_process(tmp_path):
    """A process that had stacked an item (a notebook, a dask worker of --scheduler) kept
    the stack while the item file was unchanged: its assets clipped to 8 x 8 px 80 m east
    read as the old 16 x 16 grid. The assets are read as they are now."""
    from geotile.raster import open_raster

    item = s2_item(tmp_path, "earth-search")
    with open_raster(item) as src:
        assert src.shape == (16, 16)
    for _, band, _ in BANDS:
        with rasterio.open(tmp_path / f"{band}.tif", "w", driver="GTiff", width=8, height=8,
                           count=1, dtype="uint16", crs="EPSG:32610", nodata=0,
                           transform=from_origin(600080, 4200000, 10, 10)) as dst:
            dst.write(np.full((1, 8, 8), 2000, np.uint16))
    with open_raster(item) as src, rasterio.open(tmp_path / "B04.tif") as asset:
        assert (src.shape, src.transform) == ((8, 8), asset.transform)
        assert (src.read(1) == 2000).all()


def _visual_item(folder, catalog):
    """An item whose one asset is the 8-bit true-colour image (TCI, 'visual': B04, B03,
    B02 of DN 120, left 4 columns 0) as ``catalog`` serves it (see :func:`s2_item`; 'l1c':
    Earth Search's sentinel-2-l1c)."""
    folder.mkdir(parents=True, exist_ok=True)
    pc = catalog == "planetary-computer"
    name = "T10SEG_20230828T184919_TCI_10m.tif" if pc else "TCI.tif"
    pixels = np.full((3, 16, 16), 120, np.uint8)
    pixels[:, :, :4] = 0
    with rasterio.open(folder / name, "w", driver="GTiff", width=16, height=16, count=3,
                       dtype="uint8", crs="EPSG:32610", transform=GRID) as dst:
        dst.write(pixels)
    asset = {"href": f"./{name}", "roles": ["data"] if pc else ["visual"],
             "type": "image/tiff; application=geotiff; profile=cloud-optimized",
             "eo:bands": [{"name": band, "common_name": key} for key, band, _ in BANDS]}
    if not pc:
        asset["raster:bands"] = [{"nodata": 0, "data_type": "uint8"}] * 3
        asset["roles"].append("data")
    properties = {"datetime": "2023-08-28T18:49:19Z", "s2:processing_baseline": "05.09",
                  "s2:product_type": "S2MSI1C" if catalog == "l1c" else "S2MSI2A"}
    if catalog == "earth-search-c1":
        properties["earthsearch:boa_offset_applied"] = False
    path = folder / "item.json"
    path.write_text(json.dumps({"type": "Feature", "stac_version": "1.0.0", "id": "S2A_TCI",
                                "geometry": None, "properties": properties, "links": [],
                                "assets": {"visual": asset}}))
    return path


@pytest.mark.parametrize("catalog", ["planetary-computer", "earth-search-c1", "l1c"])
def test_an_items_true_colour_image_is_not_declared_reflectance(run_cli, tmp_path, catalog):
    """An item of a baseline 05.09 product whose one asset is the true-colour 'visual'
    (uint8 display values, eo:bands B04, B03, B02) declared scale 0.0001 and offset -0.1
    on it as on the 16-bit DN: predict advised --scale 0.0001 --mean 0.1, feeding 120 as
    -0.088. Its bands declare the fill 0 alone: 120 reaches the model as any 8-bit
    image's (/ 255), the fill NaN."""
    from geotile.raster import open_raster

    item = _visual_item(tmp_path, catalog)
    with open_raster(item) as src:
        assert (src.scales, src.offsets, src.nodatavals) == ((1.0,) * 3, (0.0,) * 3,
                                                             (0.0,) * 3)
    model = identity_model(tmp_path / "id.onnx", 3)
    result = run_cli("predict", model, item, "--activation", "none", "-o", tmp_path / "o.tif")
    assert result.exit_code == 0, result.output
    assert "--mean 0.1" not in result.stderr and "0.0001" not in result.stderr
    with rasterio.open(tmp_path / "o.tif") as dst:
        values = dst.read()
    assert np.isnan(values[:, :, :4]).all()
    np.testing.assert_allclose(values[:, :, 4:], 120 / 255, rtol=1e-6)


@pytest.mark.parametrize(("baseline", "declared", "offset"), [
    ("03.01", -0.1, 0.0),  # before 04.00 the product holds no offset: -0.1 read 0.1 low
    ("04.00", 0.0, -0.1),  # not applied (the flag says): the pixels hold DN + 1000
    ("04.00", None, -0.1),
])
def test_earth_search_flag_decides_against_its_raster_bands(tmp_path, baseline, declared,
                                                            offset):
    """Earth Search's sentinel-2-l2a says with earthsearch:boa_offset_applied whether its
    COGs still hold the product's DN; where that flag is false its raster:bands offset was
    kept whatever it said: -0.1 on a baseline 03.01 product (no offset: reflectance read
    0.1 low), 0 or none on a baseline 04.00 one (DN + 1000: read 0.1 high). The flag and
    the baseline decide: 0 before 04.00, -0.1 from it."""
    from geotile.raster import open_raster

    item = s2_item(tmp_path, "earth-search-c1", baseline)
    document = json.loads(item.read_text())
    document["collection"] = "sentinel-2-l2a"
    for asset in document["assets"].values():
        bands = {k: v for k, v in EARTH_SEARCH.items() if k != "offset"}
        asset["raster:bands"] = [bands if declared is None else {**bands, "offset": declared}]
    item.write_text(json.dumps(document))
    with open_raster(item) as src:
        assert (src.scales, src.offsets, src.nodatavals) == ((0.0001,) * 3, (offset,) * 3,
                                                             (0.0,) * 3)


@pytest.mark.parametrize(("catalog", "offset"), [("earth-search", 0.0),
                                                 ("earth-search-c1", -0.1),
                                                 ("planetary-computer", -0.1)])
def test_an_items_16_bit_signed_band_files_hold_dn_as_unsigned_ones_do(tmp_path, catalog,
                                                                       offset):
    """The rule that kept the 8-bit true-colour image from the product's reflectance took
    every band file not uint16 for reflectance already: an item whose COGs hold the same DN
    as Int16 (a catalog writing DN - 1000 signed, or converted) lost its reflectance (the
    Planetary Computer's: scale 1, predict advised 16-bit scaling) and Earth Search's
    applied offset (-0.1 kept: 0.1 low). Integer DN of 16 bits and more follow the uint16
    rules; floats stay as declared."""
    from geotile.raster import open_raster

    item = s2_item(tmp_path, catalog, nodata=None if "planetary" in catalog else 0)
    for path in tmp_path.glob("*.tif"):
        with rasterio.open(path) as src:
            profile, pixels = src.profile, src.read()
        profile.update(dtype="int16")
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(pixels.astype(np.int16))
    if catalog != "planetary-computer":
        document = json.loads(item.read_text())
        for asset in document["assets"].values():
            asset["raster:bands"] = [{**EARTH_SEARCH, "data_type": "int16"}]
        item.write_text(json.dumps(document))
    with open_raster(item) as src:
        assert src.dtypes == ("int16",) * 3
        assert src.scales == (0.0001,) * 3
        assert src.offsets == (offset,) * 3
        assert src.read(1)[0, 3:5].tolist() == [0, 1500]
