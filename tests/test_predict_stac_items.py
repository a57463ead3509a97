"""`geotile predict` of a STAC Item of imagery: its band assets read as one stack."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from .conftest import assert_one_line_error, write_raster
from .onnx_models import pointwise_model, pointwise_reference

CRS = "EPSG:32632"
ORIGIN = (600000.0, 5200000.0)
#: Sentinel-2 L2A bands: asset key -> (band name, common name)
S2 = {"B02": ("B02", "blue"), "B03": ("B03", "green"), "B04": ("B04", "red"),
      "B08": ("B08", "nir"), "B11": ("B11", "swir16")}


def s2_item(folder, keys=("B08", "B03", "B02", "B04"), *, coarse=(), seed=1, crs=None,
            stac11=False, extra_assets=None, item_id="S2A_MSIL2A_20240601_T32TQM"):
    """An item.json in ``folder`` with one uint16 GeoTIFF per band key (10 m, 8 x 6 px; the
    ``coarse`` ones at 20 m, 4 x 3 px), a thumbnail and an SCL asset; the pixels by key."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    pixels, assets = {}, {}
    for key in keys:
        name, common = S2[key]
        res, shape = (20.0, (3, 4)) if key in coarse else (10.0, (6, 8))
        pixels[key] = rng.integers(1, 10000, shape).astype(np.uint16)
        write_raster(folder / f"{key}.tif", pixels[key], crs=(crs or {}).get(key, CRS),
                     transform=from_origin(*ORIGIN, res, res), nodata=0)
        band = ({"name": name, "eo:common_name": common} if stac11
                else {"name": name, "common_name": common})
        assets[key] = {"href": f"./{key}.tif", "roles": ["data"],
                       "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                       "bands" if stac11 else "eo:bands": [band]}
    write_raster(folder / "SCL.tif", np.ones((3, 4), np.uint8), crs=CRS,
                 transform=from_origin(*ORIGIN, 20, 20))
    assets["SCL"] = {"href": "SCL.tif", "roles": ["data"], "type": "image/tiff"}
    assets["thumbnail"] = {"href": "thumb.jpg", "roles": ["thumbnail"], "type": "image/jpeg"}
    assets.update(extra_assets or {})
    item = {"type": "Feature", "stac_version": "1.1.0" if stac11 else "1.0.0",
            "id": item_id, "geometry": None, "properties": {"datetime": "2024-06-01T10:00:00Z"},
            "links": [], "assets": assets}
    path = folder / "item.json"
    path.write_text(json.dumps(item))
    return path, pixels


def expected(stack):
    """The pointwise model (3 channels, raw values: --scale 1) on a (3, H, W) stack."""
    return pointwise_reference(stack[np.newaxis].astype(np.float32).astype(np.float64),
                               activation="none")[0, 0]


def test_an_item_is_predicted_on_its_bands_picked_by_name(run_cli, tmp_path):
    """Four single-band assets in shuffled key order; --bands B04,B03,B02 picks them by
    their band names: the output is the model of those pixels, on their grid, named after
    the item's id in a folder."""
    item, pixels = s2_item(tmp_path / "S2A")
    model = pointwise_model(tmp_path / "m.onnx")
    result = run_cli("predict", model, item, "-o", f"{tmp_path / 'out'}/", "--bands", "B04,B03,B02",
                     "--scale", "1", "--activation", "none")
    assert result.exit_code == 0, result.output
    out = tmp_path / "out" / "S2A_MSIL2A_20240601_T32TQM.tif"
    with rasterio.open(out) as dst:
        assert dst.crs.to_string() == CRS
        assert dst.transform == from_origin(*ORIGIN, 10, 10)
        assert dst.shape == (6, 8)
        got = dst.read(1)
    want = expected(np.stack([pixels["B04"], pixels["B03"], pixels["B02"]]))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-3)
    # by common names too, in one file
    result = run_cli("predict", model, item, "-o", tmp_path / "rgb.tif", "--bands",
                     "red,green,blue", "--scale", "1", "--activation", "none")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "rgb.tif") as dst:
        np.testing.assert_array_equal(dst.read(1), got)


def test_the_stack_of_an_item_describes_its_bands(tmp_path):
    """The data assets in the item's order, each band described by its name, its common name
    a tag (and red/green/blue a colour interpretation); SCL and the thumbnail left out."""
    from rasterio.enums import ColorInterp

    from geotile.raster import open_raster

    item, pixels = s2_item(tmp_path / "S2A", stac11=True)
    with open_raster(item) as src:
        assert src.descriptions == ("B08", "B03", "B02", "B04")
        assert [src.tags(b)["STAC_COMMON_NAME"] for b in range(1, 5)] == \
            ["nir", "green", "blue", "red"]
        assert src.colorinterp[1:] == (ColorInterp.green, ColorInterp.blue, ColorInterp.red)
        assert src.nodatavals == (0, 0, 0, 0)
        np.testing.assert_array_equal(src.read(4), pixels["B04"])


def test_a_20_m_band_is_put_on_the_10_m_grid_nearest(run_cli, tmp_path):
    item, pixels = s2_item(tmp_path / "S2A", keys=("B04", "B11", "B08"), coarse=("B11",))
    model = pointwise_model(tmp_path / "m.onnx")
    result = run_cli("predict", model, item, "-o", tmp_path / "p.tif", "--bands", "B04,B08,B11",
                     "--scale", "1", "--activation", "none")
    assert result.exit_code == 0, result.output
    swir = pixels["B11"].repeat(2, axis=0).repeat(2, axis=1)
    with rasterio.open(tmp_path / "p.tif") as dst:
        assert dst.transform == from_origin(*ORIGIN, 10, 10) and dst.shape == (6, 8)
        np.testing.assert_allclose(
            dst.read(1), expected(np.stack([pixels["B04"], pixels["B08"], swir])),
            rtol=1e-6, atol=1e-3)


def test_a_folder_of_items_is_predicted_item_by_item(run_cli, tmp_path):
    _, pa = s2_item(tmp_path / "search" / "a", keys=("B02", "B03", "B04"), item_id="A")
    _, pb = s2_item(tmp_path / "search" / "b", keys=("B04", "B02", "B03"), item_id="B", seed=2)
    model = pointwise_model(tmp_path / "m.onnx")
    result = run_cli("predict", model, tmp_path / "search", "-o", tmp_path / "out",
                     "--bands", "B04,B03,B02", "--scale", "1", "--activation", "none")
    assert result.exit_code == 0, result.output
    for name, pixels in (("A", pa), ("B", pb)):
        with rasterio.open(tmp_path / "out" / f"{name}.tif") as dst:
            np.testing.assert_allclose(
                dst.read(1), expected(np.stack([pixels[k] for k in ("B04", "B03", "B02")])),
                rtol=1e-6, atol=1e-3)


def test_a_band_name_the_item_lacks_is_refused(run_cli, tmp_path):
    item, _ = s2_item(tmp_path / "S2A")
    model = pointwise_model(tmp_path / "m.onnx")
    assert_one_line_error(run_cli("predict", model, item, "-o", tmp_path / "p.tif",
                                  "--bands", "B05,B03,B02"),
                          "item.json", "B05", "B08, B03, B02, B04")
    assert not (tmp_path / "p.tif").exists()


def test_assets_in_two_crss_are_refused(run_cli, tmp_path):
    item, _ = s2_item(tmp_path / "S2A", crs={"B08": "EPSG:32633"})
    model = pointwise_model(tmp_path / "m.onnx")
    assert_one_line_error(run_cli("predict", model, item, "-o", tmp_path / "p.tif",
                                  "--bands", "B04,B03,B02"),
                          "item.json", "different CRSs", "B08", "EPSG:32633", "EPSG:32632")
    assert not (tmp_path / "p.tif").exists()


def test_a_missing_asset_file_is_refused(run_cli, tmp_path):
    item, _ = s2_item(tmp_path / "S2A")
    (tmp_path / "S2A" / "B03.tif").unlink()
    model = pointwise_model(tmp_path / "m.onnx")
    assert_one_line_error(run_cli("predict", model, item, "-o", tmp_path / "p.tif",
                                  "--bands", "B04,B03,B02"),
                          "item.json", "asset 'B03'", "B03.tif", "no such file")


def test_an_item_without_band_assets_is_refused(run_cli, tmp_path):
    (tmp_path / "item.json").write_text(json.dumps({
        "type": "Feature", "stac_version": "1.0.0", "id": "x", "geometry": None,
        "properties": {}, "links": [],
        "assets": {"thumbnail": {"href": "t.jpg", "roles": ["thumbnail"]}}}))
    model = pointwise_model(tmp_path / "m.onnx")
    assert_one_line_error(run_cli("predict", model, tmp_path / "item.json", "-o",
                                  tmp_path / "p.tif"),
                          "item.json", "no raster data assets", "thumbnail")


def test_an_unreachable_remote_asset_is_one_line(run_cli, tmp_path):
    """Remote hrefs are read through /vsicurl/; one that cannot be reached is one line
    naming the item and the asset (a closed local port: no network needed)."""
    item, _ = s2_item(tmp_path / "S2A", extra_assets={"B05": {
        "href": "http://127.0.0.1:9/B05.tif", "roles": ["data"], "type": "image/tiff",
        "eo:bands": [{"name": "B05", "common_name": "rededge"}]}})
    model = pointwise_model(tmp_path / "m.onnx")
    result = run_cli("predict", model, item, "-o", tmp_path / "p.tif", "--bands", "B04,B03,B02")
    assert_one_line_error(result, "item.json", "asset 'B05'", "http://127.0.0.1:9/B05.tif")
    assert not (tmp_path / "p.tif").exists()


@pytest.mark.parametrize(("href", "path"), [
    ("https://e84.s3.amazonaws.com/T32/B04.tif", "/vsicurl/https://e84.s3.amazonaws.com/T32/B04.tif"),
    ("s3://sentinel-cogs/T32/B04.tif", "/vsis3/sentinel-cogs/T32/B04.tif"),
    ("gs://bucket/B04.tif", "/vsigs/bucket/B04.tif"),
    ("B04.tif", "{folder}/B04.tif"),
    ("./sub/B04.tif", "{folder}/sub/B04.tif"),
    ("file:///data/B04.tif", "/data/B04.tif"),
])
def test_asset_hrefs_are_gdal_paths(tmp_path, href, path):
    from geotile.stac_images import asset_path

    assert asset_path(href, tmp_path / "item.json") == path.format(folder=tmp_path.resolve())


def test_an_output_never_replaces_an_asset(run_cli, tmp_path):
    item, _ = s2_item(tmp_path / "S2A")
    model = pointwise_model(tmp_path / "m.onnx")
    before = (tmp_path / "S2A" / "B04.tif").read_bytes()
    assert_one_line_error(run_cli("predict", model, item, "-o", tmp_path / "S2A" / "B04.tif",
                                  "--bands", "B04,B03,B02", "--overwrite"),
                          "B04.tif", "read by the input", "item.json")
    assert (tmp_path / "S2A" / "B04.tif").read_bytes() == before


def earth_search_item(folder, *, scale=0.0001, offset=-0.1, file_nodata=0):
    """An Earth Search Sentinel-2 L2A item: assets keyed by common name (red, green, blue,
    nir) with their JPEG 2000 twins (red-jp2..., remote), a visual asset, an SCL asset
    without band objects, eo:bands and raster:bands (scale, offset, nodata 0) on each."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    pixels, assets = {}, {}
    for key in ("blue", "green", "red", "nir"):
        pixels[key] = rng.integers(1, 10000, (6, 8)).astype(np.uint16)
        write_raster(folder / f"{key}.tif", pixels[key], crs=CRS,
                     transform=from_origin(*ORIGIN, 10, 10), nodata=file_nodata)
        eo = [{"name": key, "common_name": key, "center_wavelength": 0.665}]
        raster = [{"nodata": 0, "data_type": "uint16", "bits_per_sample": 15,
                   "spatial_resolution": 10, "scale": scale, "offset": offset}]
        assets[key] = {"href": f"./{key}.tif", "roles": ["data", "reflectance"],
                       "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                       "eo:bands": eo, "raster:bands": raster}
        assets[f"{key}-jp2"] = {"href": f"s3://sentinel-s2-l2a/tiles/32/T/QM/{key}.jp2",
                                "type": "image/jp2", "roles": ["data", "reflectance"],
                                "eo:bands": eo, "raster:bands": raster}
    assets["visual"] = {"href": "https://example.com/TCI.tif", "type": "image/tiff",
                        "roles": ["visual"], "eo:bands": [
                            {"name": c, "common_name": c} for c in ("red", "green", "blue")]}
    assets["scl"] = {"href": "https://example.com/SCL.tif", "type": "image/tiff",
                     "roles": ["data"], "raster:bands": [{"nodata": 0}]}
    item = {"type": "Feature", "stac_version": "1.0.0", "id": "S2B_32TQM_20240601_0_L2A",
            "geometry": None, "links": [], "assets": assets,
            "properties": {"datetime": "2024-06-01T10:00:00Z",
                           "s2:processing_baseline": "05.10"}}
    (folder / "item.json").write_text(json.dumps(item))
    return folder / "item.json", pixels


def test_raster_bands_scale_offset_and_nodata_are_declared_by_the_stack(tmp_path):
    """An Earth Search item's raster:bands (reflectance = DN x 0.0001 - 0.1 since processing
    baseline 04.00) are the stack's GDAL scale and offset, as a GeoTIFF declaring them (its
    pixels unchanged); its nodata where the file declares none; the -jp2 twins, the visual
    and SCL assets left out."""
    from geotile.raster import open_raster

    item, pixels = earth_search_item(tmp_path / "es", file_nodata=None)
    with open_raster(item) as src:
        assert src.descriptions == ("blue", "green", "red", "nir")
        assert src.scales == (0.0001,) * 4
        assert src.offsets == (-0.1,) * 4
        assert src.nodatavals == (0, 0, 0, 0)
        np.testing.assert_array_equal(src.read(3), pixels["red"])


def test_an_asset_files_own_scale_and_offset_are_kept(tmp_path):
    from geotile.raster import open_raster

    item, _ = s2_item(tmp_path / "S2A", keys=("B02", "B03"))
    with rasterio.open(tmp_path / "S2A" / "B03.tif", "r+") as dst:
        dst.scales, dst.offsets = (0.5,), (3.0,)
    with open_raster(item) as src:
        assert src.scales == (1.0, 0.5) and src.offsets == (0.0, 3.0)


def test_predict_of_an_item_declaring_an_offset_says_how_to_feed_reflectance(run_cli,
                                                                              tmp_path):
    """Without --scale, the warning names the item's scale and offset (a model trained on
    reflectance would otherwise get DN, or DN x scale without the -0.1)."""
    item, _ = earth_search_item(tmp_path / "es")
    model = pointwise_model(tmp_path / "m.onnx")
    result = run_cli("predict", model, item, "-o", tmp_path / "p.tif",
                     "--bands", "red,green,blue")
    assert result.exit_code == 0, result.output
    assert "declares scale 0.0001 and offset -0.1" in result.output


def test_tile_names_an_items_patches_after_its_id(run_cli, tmp_path):
    """tile of an Item: its stack in patches named <id>_<row>_<col>, not item_<row>_<col>;
    a mask named after the id (make-masks' output in a folder) is its mask."""
    item, pixels = s2_item(tmp_path / "S2A", keys=("B02", "B03", "B04"))
    masks = tmp_path / "masks"
    masks.mkdir()
    write_raster(masks / "S2A_MSIL2A_20240601_T32TQM.tif", np.ones((6, 8), np.uint8), crs=CRS,
                 transform=from_origin(*ORIGIN, 10, 10))
    result = run_cli("tile", item, "--masks", masks, "-o", tmp_path / "tiles", "--size", "4")
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "tiles" / "images").iterdir())
    assert names == [f"S2A_MSIL2A_20240601_T32TQM_{r}_{c}.tif" for r in (0, 1) for c in (0, 1)]
    assert sorted(p.name for p in (tmp_path / "tiles" / "masks").iterdir()) == names
    with rasterio.open(tmp_path / "tiles" / "images" / names[0]) as src:
        assert src.descriptions == ("B02", "B03", "B04")
        np.testing.assert_array_equal(src.read(1), pixels["B02"][:4, :4])


@pytest.mark.parametrize("href", ["item.json", "../other/item.json"])
def test_an_asset_that_is_an_item_is_one_line(run_cli, tmp_path, href):
    """An asset whose href is the item itself, or another item pointing back at it, is
    refused in one line (not a recursion without a message)."""
    s2_item(tmp_path / "other", extra_assets={"X": {
        "href": "../S2A/item.json", "roles": ["data"], "type": "image/tiff",
        "eo:bands": [{"name": "X"}]}})
    item, _ = s2_item(tmp_path / "S2A", extra_assets={"X": {
        "href": href, "roles": ["data"], "type": "image/tiff", "eo:bands": [{"name": "X"}]}})
    model = pointwise_model(tmp_path / "m.onnx")
    result = run_cli("predict", model, item, "-o", tmp_path / "p.tif", "--bands",
                     "B04,B03,B02", "--scale", "1")
    assert_one_line_error(result, "item.json", "asset 'X'", "STAC Item")
    assert not (tmp_path / "p.tif").exists()


def test_an_href_out_of_the_folder_is_one_line(run_cli, tmp_path):
    item, _ = s2_item(tmp_path / "S2A", extra_assets={"X": {
        "href": "../../../../../../../../etc/passwd", "roles": ["data"], "type": "image/tiff",
        "eo:bands": [{"name": "X"}]}})
    model = pointwise_model(tmp_path / "m.onnx")
    result = run_cli("predict", model, item, "-o", tmp_path / "p.tif", "--bands",
                     "B04,B03,B02", "--scale", "1")
    assert_one_line_error(result, "item.json", "asset 'X'", "/etc/passwd", "not a raster")
    assert "root:" not in result.output


def test_a_true_colour_data_asset_of_the_items_own_bands_is_left_out(run_cli, tmp_path):
    """A Planetary Computer-style item: besides B02..B08, a 'visual' asset of roles
    ["data"] whose bands are B04, B03, B02 again (the true-colour composite). It is left
    out, so --bands B04,B03,B02 picks the single-band assets, as it does without it."""
    folder = tmp_path / "S2"
    folder.mkdir()
    write_raster(folder / "TCI.tif", np.full((3, 6, 8), 7, np.uint8), crs=CRS,
                 transform=from_origin(*ORIGIN, 10, 10))
    visual = {"visual": {"href": "TCI.tif", "roles": ["data"], "type": "image/tiff",
                         "eo:bands": [{"name": "B04", "common_name": "red"},
                                      {"name": "B03", "common_name": "green"},
                                      {"name": "B02", "common_name": "blue"}]}}
    item, pixels = s2_item(folder, extra_assets=visual)
    model = pointwise_model(tmp_path / "m.onnx")
    result = run_cli("predict", model, item, "-o", tmp_path / "o.tif", "--bands",
                     "B04,B03,B02", "--scale", "1", "--activation", "none")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "o.tif") as dst:
        got = dst.read(1)
    want = expected(np.stack([pixels["B04"], pixels["B03"], pixels["B02"]]))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-3)


def test_tile_of_a_folder_of_items_tiles_each_items_stack(run_cli, tmp_path):
    """tile of a downloaded search (items in folders beside their bands): a patch set per
    item, named after its id, of its stacked bands; never one per band GeoTIFF."""
    _, pa = s2_item(tmp_path / "search" / "a", keys=("B02", "B03", "B04"), item_id="A")
    _, pb = s2_item(tmp_path / "search" / "b", keys=("B02", "B03", "B04"), item_id="B", seed=2)
    result = run_cli("tile", tmp_path / "search", "-o", tmp_path / "tiles", "--size", "4")
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "tiles" / "images").iterdir())
    assert names == [f"{i}_{r}_{c}.tif" for i in "AB" for r in (0, 1) for c in (0, 1)]
    for name, pixels in (("A", pa), ("B", pb)):
        with rasterio.open(tmp_path / "tiles" / "images" / f"{name}_0_1.tif") as src:
            assert src.descriptions == ("B02", "B03", "B04")
            np.testing.assert_array_equal(
                src.read(), np.stack([pixels[k][:4, 4:8] for k in ("B02", "B03", "B04")]))
    # one item's folder: the item, not its band GeoTIFFs (B02_0_0.tif, SCL_0_0.tif...)
    result = run_cli("tile", tmp_path / "search" / "a", "-o", tmp_path / "one", "--size", "4")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "one" / "images").iterdir()) == [
        f"A_{r}_{c}.tif" for r in (0, 1) for c in (0, 1)]


def _strip_item(folder, ident, x0, pixels):
    """An item.json in ``folder`` whose assets (by key, in ``pixels``' order) are 10 m
    uint16 GeoTIFFs with their upper left corner at ``x0``, ORIGIN's northing."""
    folder.mkdir(parents=True, exist_ok=True)
    assets = {}
    for key, band in pixels.items():
        write_raster(folder / f"{key}.tif", band, crs=CRS, nodata=0,
                     transform=from_origin(x0, ORIGIN[1], 10, 10))
        assets[key] = {"href": f"./{key}.tif", "roles": ["data"], "type": "image/tiff",
                       "eo:bands": [{"name": key}]}
    (folder / "item.json").write_text(json.dumps({
        "type": "Feature", "stac_version": "1.0.0", "id": ident, "geometry": None,
        "properties": {"datetime": "2024-06-01T10:00:00Z"}, "links": [], "assets": assets}))
    return folder / "item.json"


def test_a_mosaic_of_adjacent_items_is_the_prediction_of_one_item_covering_both(run_cli,
                                                                              tmp_path):
    """Two items side by side on one grid: --mosaic predicts them as one surface (the 3x3
    model reads across their edge), each output the part of one item covering both. Items
    listing their bands in different orders are refused in one line, nothing written: the
    mosaic reads every item's bands by the same numbers."""
    from .onnx_models import conv3x3_model

    rng = np.random.default_rng(3)
    keys = ("B02", "B03", "B04")
    whole = {k: rng.integers(1, 10000, (6, 16)).astype(np.uint16) for k in keys}
    both = _strip_item(tmp_path / "both", "AB", ORIGIN[0], whole)
    a = _strip_item(tmp_path / "a", "A", ORIGIN[0], {k: whole[k][:, :8] for k in keys})
    b = _strip_item(tmp_path / "b", "B", ORIGIN[0] + 80, {k: whole[k][:, 8:] for k in keys})
    model = conv3x3_model(tmp_path / "m.onnx")
    common = ["--bands", "B04,B03,B02", "--scale", "1", "--activation", "none"]
    result = run_cli("predict", model, both, "-o", tmp_path / "both.tif", *common)
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "both.tif") as src:
        want = src.read(1)
    result = run_cli("predict", model, b, a, "--mosaic", "-o", f"{tmp_path / 'out'}/", *common)
    assert result.exit_code == 0, result.output
    for name, part in (("A", slice(0, 8)), ("B", slice(8, 16))):
        with rasterio.open(tmp_path / "out" / f"{name}.tif") as src:
            assert src.transform == from_origin(ORIGIN[0] + part.start * 10, ORIGIN[1], 10, 10)
            np.testing.assert_allclose(src.read(1), want[:, part], rtol=1e-6, atol=1e-3)
    shuffled = _strip_item(tmp_path / "c", "C", ORIGIN[0] + 80,
                           {k: whole[k][:, 8:] for k in ("B04", "B02", "B03")})
    result = run_cli("predict", model, a, shuffled, "--mosaic", "-o", f"{tmp_path / 'o2'}/",
                     *common)
    assert_one_line_error(result, f"{shuffled}: bands B04, B02, B03, in another order than",
                          "(B02, B03, B04)", "or predict without --mosaic")
    assert not (tmp_path / "o2").exists() or not any((tmp_path / "o2").iterdir())


def test_make_masks_of_a_folder_of_items_writes_a_mask_per_item(run_cli, tmp_path):
    """make-masks of a downloaded search: one mask per item, named after its id, on its 10 m
    stack grid, the pixels of each item given alone; never one mask per band GeoTIFF."""
    import geopandas as gpd
    import shapely

    ia, _ = s2_item(tmp_path / "search" / "a", keys=("B02", "B03", "B04"), item_id="A")
    ib, _ = s2_item(tmp_path / "search" / "b", keys=("B02", "B03", "B04"), item_id="B",
                    coarse=("B04",), seed=2)
    labels = tmp_path / "labels.geojson"
    x0, y0 = ORIGIN
    gpd.GeoDataFrame(geometry=[shapely.box(x0 + 20, y0 - 40, x0 + 50, y0 - 10)],
                     crs=CRS).to_file(labels)
    result = run_cli("make-masks", labels, tmp_path / "search", "-o", tmp_path / "masks")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "masks").glob("*.tif")) == ["A.tif", "B.tif"]
    want = np.zeros((6, 8), np.uint8)
    want[1:4, 2:5] = 1
    for ident, item in (("A", ia), ("B", ib)):
        alone = tmp_path / f"{ident}_alone.tif"
        result = run_cli("make-masks", labels, item, "-o", alone)
        assert result.exit_code == 0, result.output
        with rasterio.open(tmp_path / "masks" / f"{ident}.tif") as got, \
                rasterio.open(alone) as one:
            assert got.shape == (6, 8) and got.transform == from_origin(*ORIGIN, 10, 10)
            assert got.crs == one.crs and got.transform == one.transform
            np.testing.assert_array_equal(got.read(1), one.read(1))
            np.testing.assert_array_equal(got.read(1), want)
    # one item's folder: the item, not its band GeoTIFFs (B02.tif, SCL.tif...)
    result = run_cli("make-masks", labels, tmp_path / "search" / "b", "-o", f"{tmp_path / 'one'}/")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "one").glob("*.tif")) == ["B.tif"]


def test_make_masks_pairs_a_label_folders_files_with_items_by_their_ids(run_cli, tmp_path):
    """A label folder beside a folder of items: A.geojson is item A's labels, B.geojson
    B's (both item files are item.json: the id, not the file's stem, pairs)."""
    import geopandas as gpd
    import shapely

    s2_item(tmp_path / "search" / "a", keys=("B02", "B03"), item_id="A")
    s2_item(tmp_path / "search" / "b", keys=("B02", "B03"), item_id="B", seed=2)
    x0, y0 = ORIGIN
    (tmp_path / "labels").mkdir()
    for ident, box in (("A", (x0, y0 - 20, x0 + 20, y0)), ("B", (x0 + 60, y0 - 60, x0 + 80,
                                                                 y0 - 40))):
        gpd.GeoDataFrame(geometry=[shapely.box(*box)], crs=CRS).to_file(
            tmp_path / "labels" / f"{ident}.geojson")
    result = run_cli("make-masks", tmp_path / "labels", tmp_path / "search", "-o",
                     tmp_path / "masks")
    assert result.exit_code == 0, result.output
    want_a, want_b = np.zeros((6, 8), np.uint8), np.zeros((6, 8), np.uint8)
    want_a[0:2, 0:2] = 1
    want_b[4:6, 6:8] = 1
    for ident, want in (("A", want_a), ("B", want_b)):
        with rasterio.open(tmp_path / "masks" / f"{ident}.tif") as src:
            np.testing.assert_array_equal(src.read(1), want)
    # an item of no label file: named by its id
    (tmp_path / "labels" / "B.geojson").unlink()
    assert_one_line_error(run_cli("make-masks", tmp_path / "labels", tmp_path / "search",
                                  "-o", tmp_path / "again"),
                          "item.json: no label file in", "(expected B.geojson")
