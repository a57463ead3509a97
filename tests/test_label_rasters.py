"""make-masks from label rasters: Potsdam palette, palette files, class indices, alignment."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from rasterio.transform import from_origin

from geotile.errors import GeotileWarning, InputError
from geotile.label_rasters import PALETTE_SHARE, read_palette
from geotile.masks import MaskOptions, make_masks
from geotile.palettes import POTSDAM
from tests.conftest import UTM_ORIGIN, assert_one_line_error, write_raster

X0, Y0 = UTM_ORIGIN

COLOURS = np.array(list(POTSDAM.values()), np.uint8)  # class id k = row k - 1


def _scene(rng, shape=(300, 260)) -> np.ndarray:
    """Class ids 1..6 in blocks (as Potsdam's regions) with some single-pixel noise."""
    ids = rng.integers(1, 7, (shape[0] // 10 + 1, shape[1] // 10 + 1)).repeat(10, 0).repeat(10, 1)
    ids = ids[: shape[0], : shape[1]].astype(np.uint8)
    noise = rng.random(shape) < 0.02
    ids[noise] = rng.integers(1, 7, int(noise.sum()))
    return ids


def _paint(ids: np.ndarray) -> np.ndarray:
    return np.moveaxis(COLOURS[ids - 1], -1, 0).copy()


def _read(path):
    with rasterio.open(path) as src:
        return src.read(1), src.nodata, src.tags(), src.profile


def test_potsdam_palette_same_grid_is_exact(tmp_path, run_cli):
    rng = np.random.default_rng(1)
    ids = _scene(rng)
    labels = write_raster(tmp_path / "top_potsdam_2_10_label.tif", _paint(ids))
    image = write_raster(tmp_path / "top_potsdam_2_10_RGB.tif",
                         rng.integers(0, 255, (3, *ids.shape), dtype=np.uint8))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif",
                     "--palette", "potsdam", "--json")
    assert result.exit_code == 0, result.output
    mask, nodata, tags, profile = _read(tmp_path / "mask.tif")
    np.testing.assert_array_equal(mask, ids)
    assert nodata == 255
    names = json.loads(tags["GEOTILE_CLASS_NAMES"])
    assert names == ["background", "impervious_surfaces", "building", "low_vegetation", "tree",
                     "car", "clutter"]
    assert tags["GEOTILE_OUTPUT"] == "mask"
    with rasterio.open(image) as src:
        assert (profile["transform"], profile["crs"]) == (src.transform, src.crs)
    summary = json.loads(result.stdout)["masks"][0]
    assert summary["unknown_pixels"] == 0 and summary["ignored_pixels"] == 0
    assert summary["class_pixels"]["car"] == int((ids == 5).sum())


def test_unknown_colours_counted_warned_and_ignored(tmp_path):
    rng = np.random.default_rng(2)
    ids = _scene(rng, (120, 100))
    rgb = _paint(ids)
    rgb[:, 5:9, 5:10] = np.array([0, 0, 0], np.uint8)[:, None, None]  # 20 px black
    rgb[:, 50, 20:23] = np.array([10, 20, 30], np.uint8)[:, None]  # 3 px
    labels = write_raster(tmp_path / "labels.tif", rgb)
    image = write_raster(tmp_path / "image.tif", np.ones((3, 120, 100), np.uint8))
    with pytest.warns(GeotileWarning) as caught:
        [summary] = make_masks(labels, [image], [tmp_path / "mask.tif"], palette="potsdam")
    messages = [str(w.message) for w in caught if issubclass(w.category, GeotileWarning)]
    assert len(messages) == 1
    assert "23 pixels" in messages[0] and "[0, 0, 0]: 20 px" in messages[0]
    assert "[10, 20, 30]: 3 px" in messages[0]
    mask = _read(tmp_path / "mask.tif")[0]
    expected = ids.copy()
    expected[5:9, 5:10] = 255
    expected[50, 20:23] = 255
    np.testing.assert_array_equal(mask, expected)
    assert summary["unknown_pixels"] == 23 and summary["ignored_pixels"] == 23


def test_image_nodata_and_label_outside_are_ignored(tmp_path):
    rng = np.random.default_rng(3)
    ids = _scene(rng, (80, 60))
    labels = write_raster(tmp_path / "labels.tif", _paint(ids))
    # image shifted 10 px right and 5 px down from the label raster, 20 px wider
    pixels = rng.integers(1, 255, (3, 80, 80), dtype=np.uint8)
    pixels[:, 70:, :] = 0
    image = write_raster(tmp_path / "image.tif", pixels, nodata=0,
                         transform=from_origin(UTM_ORIGIN[0] + 5, UTM_ORIGIN[1] - 2.5, 0.5, 0.5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        [summary] = make_masks(labels, image, tmp_path / "mask.tif", palette="potsdam")
    mask = _read(tmp_path / "mask.tif")[0]
    expected = np.full((80, 80), 255, np.uint8)
    expected[:75, :50] = ids[5:, 10:]
    expected[70:] = 255
    np.testing.assert_array_equal(mask, expected)
    assert summary["aligned"] == "copy"
    assert summary["unknown_pixels"] == 0


def test_the_lake_of_an_rgbn_image_keeps_its_classes(tmp_path):
    """make-masks from a colour label raster onto a 4-band uint8 RGB+NIR image (band 4
    flagged alpha by GDAL's default): NIR 0 over a 20-row lake was written 255 (ignore).
    Now only pixels where every band is 0 (the collar) are ignored, as predict has it."""
    rng = np.random.default_rng(6)
    ids = _scene(rng, (80, 60))
    labels = write_raster(tmp_path / "labels.tif", _paint(ids))
    pixels = rng.integers(1, 250, (4, 80, 60)).astype(np.uint8)
    pixels[3, 20:40] = 0  # the lake
    pixels[:, 70:] = 0  # a collar outside the scene
    image = write_raster(tmp_path / "image.tif", pixels)
    make_masks(labels, image, tmp_path / "mask.tif", palette="potsdam")
    expected = ids.copy()
    expected[70:] = 255
    np.testing.assert_array_equal(_read(tmp_path / "mask.tif")[0], expected)


def test_other_grid_nearest_neighbour(tmp_path):
    rng = np.random.default_rng(4)
    ids = _scene(rng, (200, 200))
    lx, ly = UTM_ORIGIN
    labels = write_raster(tmp_path / "labels.tif", _paint(ids),
                          transform=from_origin(lx, ly, 0.5, 0.5))
    # coarser image grid (0.75 m) offset by a fraction of a pixel, inside the labels
    ix, iy = lx + 3.1, ly - 2.3
    image = write_raster(tmp_path / "image.tif", np.ones((3, 120, 110), np.uint8),
                         transform=from_origin(ix, iy, 0.75, 0.75))
    [summary] = make_masks(labels, image, tmp_path / "mask.tif", palette="potsdam")
    rows, cols = np.mgrid[0:120, 0:110]
    x = ix + (cols + 0.5) * 0.75
    y = iy - (rows + 0.5) * 0.75
    expected = ids[np.floor((ly - y) / 0.5).astype(int), np.floor((x - lx) / 0.5).astype(int)]
    mask = _read(tmp_path / "mask.tif")[0]
    np.testing.assert_array_equal(mask, expected)
    assert summary["aligned"] == "nearest"


def test_other_crs_nearest_neighbour_keeps_palette_ids(tmp_path):
    rng = np.random.default_rng(5)
    ids = _scene(rng, (100, 100))
    labels = write_raster(tmp_path / "labels.tif", _paint(ids))
    with rasterio.open(labels) as src:
        from rasterio.warp import calculate_default_transform
        transform, width, height = calculate_default_transform(
            src.crs, "EPSG:3857", src.width, src.height, *src.bounds)
    image = write_raster(tmp_path / "image.tif", np.ones((3, height, width), np.uint8),
                         crs="EPSG:3857", transform=transform)
    with warnings.catch_warnings():
        warnings.simplefilter("error", GeotileWarning)  # no colour is ever blended
        make_masks(labels, image, tmp_path / "mask.tif", palette="potsdam")
    mask = _read(tmp_path / "mask.tif")[0]
    inside = mask != 255
    assert inside.mean() > 0.9
    assert set(np.unique(mask[inside])) <= set(range(1, 7))


def test_palette_file_order_and_background(tmp_path):
    palette = tmp_path / "palette.json"
    palette.write_text(json.dumps({"background": [0, 0, 0], "road": "#808080",
                                   "building": [255, 0, 0]}))
    rgb = np.zeros((3, 4, 4), np.uint8)
    rgb[:, 0] = 128
    rgb[0, 1] = 255
    labels = write_raster(tmp_path / "labels.tif", rgb)
    image = write_raster(tmp_path / "image.tif", np.ones((1, 4, 4), np.uint8))
    make_masks(labels, image, tmp_path / "mask.tif", palette=palette)
    mask, _, tags, _ = _read(tmp_path / "mask.tif")
    np.testing.assert_array_equal(mask[:, 0], [1, 2, 0, 0])
    assert json.loads(tags["GEOTILE_CLASS_NAMES"]) == ["background", "road", "building"]
    assert list(read_palette("potsdam")) == list(POTSDAM)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-32"])
def test_palette_file_in_any_json_encoding(tmp_path, encoding):
    """A palette saved by Notepad (UTF-8 with a BOM) or PowerShell's Out-File (UTF-16) is
    read as --class-map files are, not refused."""
    text = json.dumps({"Gebäude": [255, 0, 0], "Straße": "#808080"}, ensure_ascii=False)
    (tmp_path / "utf8.json").write_bytes(text.encode("utf-8"))
    (tmp_path / "other.json").write_bytes(text.encode(encoding))
    expected = read_palette(tmp_path / "utf8.json")
    assert list(expected) == ["Gebäude", "Straße"]
    assert read_palette(tmp_path / "other.json") == expected


@pytest.mark.parametrize("content, message", [
    ('{"building": [0, 0, 256]}', "colour"),
    ('{"a": [1, 2, 3], "b": [1, 2, 3]}', "same colour"),
    ("[1, 2]", r'palette is a JSON object \{"building": \[0, 0, 255\], \.\.\.\}, one colour'),
])
def test_bad_palettes(tmp_path, content, message):
    palette = tmp_path / "palette.json"
    palette.write_text(content)
    with pytest.raises(InputError, match=message):
        read_palette(palette)


def _with_class_map(tmp_path, run_cli, ids, class_map: str, nodata=None):
    """make-masks of the index raster ``ids`` on an image of its size, names from the JSON
    ``class_map``; the CLI's result."""
    labels = write_raster(tmp_path / "index.tif", ids, nodata=nodata)
    image = write_raster(tmp_path / "image.tif", np.ones((3, *ids.shape), np.uint8))
    path = tmp_path / "classes.json"
    path.write_text(class_map)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif",
                     "--class-map", path)
    assert result.exit_code == 0, result.output
    return result


def test_index_raster_with_nodata_and_class_map(tmp_path, run_cli):
    ids = np.array([[0, 1, 2, 3], [3, 2, 1, 9], [255, 1, 1, 1]], np.uint16)
    result = _with_class_map(tmp_path, run_cli, ids, '{"building": 1, "road": 2, "water": 3}',
                             nodata=9)
    mask, nodata, tags, _ = _read(tmp_path / "mask.tif")
    expected = ids.astype(np.uint8)
    expected[1, 3] = 255
    np.testing.assert_array_equal(mask, expected)
    assert nodata == 255
    assert json.loads(tags["GEOTILE_CLASS_NAMES"]) == ["background", "building", "road", "water"]
    assert "ignored" in result.stdout


def test_nan_in_a_float_index_raster_is_ignored_not_background(tmp_path, run_cli):
    """NaN is no class id, declared nodata or not: the mask's ignore value (255), never 0,
    which would teach "background" where nothing was labelled."""
    ids = np.array([[0, 1, 2, np.nan], [np.nan, 2, 1, 0]], np.float32)
    labels = write_raster(tmp_path / "index.tif", ids)  # no nodata declared
    image = write_raster(tmp_path / "image.tif", np.ones((3, 2, 4), np.uint8))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
    assert result.exit_code == 0, result.output
    mask, nodata, _, _ = _read(tmp_path / "mask.tif")
    np.testing.assert_array_equal(mask, [[0, 1, 2, 255], [255, 2, 1, 0]])
    assert nodata == 255


def test_signed_8_bit_index_rasters_with_nodata_or_partial_cover(tmp_path, run_cli):
    """An Int8 label raster (ArcGIS "8 bit signed") with a declared nodata, or covering part
    of the image: its nodata and uncovered pixels are 255 in the mask, never a refused -1
    (255 wrapped to int8); a real negative id is still refused."""
    ids = (np.arange(6 * 8).reshape(6, 8) % 4).astype(np.int8)
    ids[:, :2] = -128
    image = write_raster(tmp_path / "image.tif", np.ones((3, 6, 10), np.uint8))
    labels = write_raster(tmp_path / "int8.tif", ids, nodata=-128)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
    assert result.exit_code == 0, result.output
    mask, nodata, _, _ = _read(tmp_path / "mask.tif")
    expected = np.full((6, 10), 255, np.uint8)  # columns 8, 9: outside the label raster
    expected[:, 2:8] = ids[:, 2:8]
    np.testing.assert_array_equal(mask, expected)
    assert nodata == 255
    partial = write_raster(tmp_path / "partial.tif", ids[:, 2:])  # no nodata, 6 columns
    result = run_cli("make-masks", partial, image, "-o", tmp_path / "partial_mask.tif")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "partial_mask.tif")[0][:, :6], ids[:, 2:])
    assert (_read(tmp_path / "partial_mask.tif")[0][:, 6:] == 255).all()
    ids[0, 3] = -3
    bad = write_raster(tmp_path / "bad.tif", ids, nodata=-128)
    result = run_cli("make-masks", bad, image, "-o", tmp_path / "bad_mask.tif")
    assert_one_line_error(result, "bad.tif", "class id -3")
    assert not (tmp_path / "bad_mask.tif").exists()


def test_tile_warns_of_a_colour_coded_mask_not_of_channel_masks(tmp_path, run_cli):
    """An RGB label raster given to tile as --masks (no class ids: its patches would hold
    colours) is warned of once; a mask of footprint/boundary/contact 0/1 bands is not."""
    ids = _scene(np.random.default_rng(9), shape=(64, 64))
    colours = write_raster(tmp_path / "labels.tif", _paint(ids), photometric="RGB")
    image = write_raster(tmp_path / "image.tif", np.ones((3, 64, 64), np.uint8))
    channels = write_raster(tmp_path / "channels.tif", (ids[np.newaxis] == np.arange(1, 4)
                                                        [:, None, None]).astype(np.uint8),
                            photometric="RGB")
    for mask, warned in ((colours, True), (channels, False)):
        result = run_cli("tile", image, "--masks", mask, "--size", 32, "-o",
                         tmp_path / f"out_{mask.stem}")
        assert result.exit_code == 0, result.output
        lines = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
        assert (len(lines) == 1 and "colour-coded labels" in lines[0]
                and "--palette" in lines[0]) if warned else not lines, result.stderr


def test_a_south_up_label_raster_is_read_the_right_way_up(tmp_path, run_cli):
    """Rows that run north (a positive y pixel size) cover the image all the same."""
    from rasterio.transform import Affine

    ids = (np.arange(40 * 60).reshape(40, 60) % 7).astype(np.uint8)
    image = write_raster(tmp_path / "image.tif", np.ones((3, 40, 60), np.uint8),
                         transform=from_origin(X0, Y0, 0.5, 0.5))
    labels = write_raster(tmp_path / "labels.tif", ids[::-1].copy(),
                          transform=Affine(0.5, 0, X0, 0, 0.5, Y0 - 20))  # south-up
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "mask.tif")[0], ids)


def test_pixel_mask_without_crs_on_image_grid(tmp_path):
    """A plain PNG-like index mask (no georeference) of the image's size is the image's grid."""
    ids = np.random.default_rng(6).integers(0, 4, (30, 40)).astype(np.uint8)
    image = write_raster(tmp_path / "image.tif", np.ones((3, 30, 40), np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        labels = write_raster(tmp_path / "mask_in.tif", ids, crs=None,
                              transform=rasterio.Affine.identity())
        make_masks(labels, image, tmp_path / "mask.tif")
    np.testing.assert_array_equal(_read(tmp_path / "mask.tif")[0], ids)


def test_cli_errors_are_one_line(tmp_path, run_cli):
    rgb = _paint(_scene(np.random.default_rng(7), (20, 20)))
    labels = write_raster(tmp_path / "labels.tif", rgb)
    image = write_raster(tmp_path / "image.tif", np.ones((3, 20, 20), np.uint8))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
    assert result.exit_code == 1 and "--palette potsdam" in result.stderr
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif",
                     "--palette", "nope")
    assert result.exit_code == 1 and "not a built-in palette" in result.stderr
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif",
                     "--palette", "potsdam", "--channels", "footprint,boundary")
    assert result.exit_code == 1 and "label raster" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "mask.tif").exists()
    # options of vector labels are refused, not ignored (--labels-crs would have been a lie)
    for option, fragment in ((["--labels-crs", "EPSG:4326"], "gdal_edit.py -a_srs"),
                             (["--all-touched"], "--all-touched apply to vector labels only")):
        result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif",
                         "--palette", "potsdam", *option)
        assert result.exit_code == 1 and fragment in result.stderr, result.output
    assert not (tmp_path / "mask.tif").exists()
    vector = tmp_path / "labels.geojson"
    vector.write_text('{"type": "FeatureCollection", "features": []}')
    result = run_cli("make-masks", vector, image, "-o", tmp_path / "mask.tif",
                     "--palette", "potsdam")
    assert result.exit_code == 1 and "--palette" in result.stderr


def test_large_image_streams_in_bands(tmp_path):
    """Band seams (copy and nearest paths) are exact."""
    bands = MaskOptions(band_rows=7)
    rng = np.random.default_rng(8)
    ids = _scene(rng, (60, 50))
    labels = write_raster(tmp_path / "labels.tif", _paint(ids))
    image = write_raster(tmp_path / "image.tif", np.ones((3, 60, 50), np.uint8))
    make_masks(labels, image, tmp_path / "a.tif", palette="potsdam", options=bands)
    np.testing.assert_array_equal(_read(tmp_path / "a.tif")[0], ids)
    lx, ly = UTM_ORIGIN
    image2 = write_raster(tmp_path / "image2.tif", np.ones((3, 30, 25), np.uint8),
                          transform=from_origin(lx + 0.1, ly - 0.1, 1.0, 1.0))
    make_masks(labels, image2, tmp_path / "b.tif", palette="potsdam", options=bands)
    rows, cols = np.mgrid[0:30, 0:25]
    expected = ids[np.floor((0.1 + rows + 0.5) / 0.5).astype(int),
                   np.floor((0.1 + cols + 0.5) / 0.5).astype(int)]
    np.testing.assert_array_equal(_read(tmp_path / "b.tif")[0], expected)


def test_label_tiff_without_georeference_on_georeferenced_image(tmp_path):
    """ISPRS ships label TIFFs without a geotransform beside georeferenced RGB tiles."""
    rng = np.random.default_rng(9)
    ids = _scene(rng, (50, 40))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        labels = write_raster(tmp_path / "top_potsdam_2_10_label.tif", _paint(ids), crs=None,
                              transform=rasterio.Affine.identity())
    image = write_raster(tmp_path / "top_potsdam_2_10_RGB.tif", np.ones((3, 50, 40), np.uint8))
    make_masks(labels, image, tmp_path / "mask.tif", palette="potsdam")
    mask, _, _, profile = _read(tmp_path / "mask.tif")
    np.testing.assert_array_equal(mask, ids)
    assert profile["crs"] == "EPSG:32616"
    other = write_raster(tmp_path / "other.tif", np.ones((3, 50, 41), np.uint8))
    with pytest.raises(InputError, match="no CRS"):
        make_masks(labels, other, tmp_path / "other_mask.tif", palette="potsdam")


def test_tile_counts_the_ignore_value_as_nodata(tmp_path, run_cli):
    rng = np.random.default_rng(10)
    ids = _scene(rng, (64, 64))
    rgb = _paint(ids)
    rgb[:, :16, :] = 0  # unknown colour: the top quarter is ignored
    labels = write_raster(tmp_path / "labels.tif", rgb)
    image = write_raster(tmp_path / "image.tif", np.ones((3, 64, 64), np.uint8))
    with pytest.warns(GeotileWarning):
        make_masks(labels, image, tmp_path / "image_mask.tif", palette="potsdam")
    result = run_cli("tile", image, "--masks", tmp_path / "image_mask.tif", "--size", "32",
                     "-o", tmp_path / "patches")
    assert result.exit_code == 0, result.output
    import csv

    with open(tmp_path / "patches" / "index.csv") as f:
        rows = {(int(r["row"]), int(r["col"])): r for r in csv.DictReader(f)}
    assert float(rows[(0, 0)]["nodata_fraction"]) == pytest.approx(0.5)
    assert float(rows[(1, 0)]["nodata_fraction"]) == 0
    # every mask patch declares the mask's ignore value, padded or not (a training loader
    # reading the patch alone must know that 255 is no class)
    for patch in (tmp_path / "patches" / "masks").glob("*.tif"):
        with rasterio.open(patch) as src:
            assert src.nodata == 255, patch.name


def test_finer_label_raster_warps_in_smaller_bands(tmp_path):
    import geotile.label_rasters as lr

    rng = np.random.default_rng(13)
    ids = _scene(rng, (160, 160))
    lx, ly = UTM_ORIGIN
    labels = write_raster(tmp_path / "labels.tif", _paint(ids))  # 0.5 m
    image = write_raster(tmp_path / "image.tif", np.ones((3, 39, 39), np.uint8),
                         transform=from_origin(lx + 0.3, ly - 0.3, 2.0, 2.0))
    with rasterio.open(labels) as label, rasterio.open(image) as src:
        assert lr._band_rows(label, src, 16) == 1  # 16 label pixels per image pixel
    make_masks(labels, image, tmp_path / "mask.tif", palette="potsdam",
               options=MaskOptions(band_rows=16))
    rows, cols = np.mgrid[0:39, 0:39]
    expected = ids[np.floor((0.3 + (rows + 0.5) * 2) / 0.5).astype(int),
                   np.floor((0.3 + (cols + 0.5) * 2) / 0.5).astype(int)]
    np.testing.assert_array_equal(_read(tmp_path / "mask.tif")[0], expected)


def test_large_palette_uses_the_table(tmp_path, monkeypatch):
    import geotile.label_rasters as lr

    monkeypatch.setattr(lr, "FEW_COLOURS", 2)
    rng = np.random.default_rng(14)
    ids = _scene(rng, (40, 30))
    rgb = _paint(ids)
    rgb[:, 0, :4] = 7
    labels = write_raster(tmp_path / "labels.tif", rgb)
    image = write_raster(tmp_path / "image.tif", np.ones((3, 40, 30), np.uint8))
    with pytest.warns(GeotileWarning, match=r"\[7, 7, 7\]: 4 px"):
        make_masks(labels, image, tmp_path / "mask.tif", palette="potsdam")
    expected = ids.copy()
    expected[0, :4] = 255
    np.testing.assert_array_equal(_read(tmp_path / "mask.tif")[0], expected)


def test_palette_ignore_colour_is_silent(tmp_path):
    palette = tmp_path / "palette.json"
    palette.write_text(json.dumps({**{k: list(v) for k, v in POTSDAM.items()},
                                   "ignore": [0, 0, 0]}))
    rng = np.random.default_rng(15)
    ids = _scene(rng, (30, 30))
    rgb = _paint(ids)
    rgb[:, 10, :] = 0  # eroded boundary (ISPRS noBoundary labels)
    labels = write_raster(tmp_path / "labels.tif", rgb)
    image = write_raster(tmp_path / "image.tif", np.ones((3, 30, 30), np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("error", GeotileWarning)
        [summary] = make_masks(labels, image, tmp_path / "mask.tif", palette=palette)
    mask, _, tags, _ = _read(tmp_path / "mask.tif")
    expected = ids.copy()
    expected[10] = 255
    np.testing.assert_array_equal(mask, expected)
    assert summary["unknown_pixels"] == 0 and summary["ignored_pixels"] == 30
    assert json.loads(tags["GEOTILE_CLASS_NAMES"])[1:] == list(POTSDAM)


def test_paletted_label_raster_is_read_through_its_colour_table(tmp_path, run_cli):
    """A one-band label tile whose colour table holds the palette's colours (as many
    exports store Potsdam-style labels): --palette reads the colours, not the indices."""
    rng = np.random.default_rng(7)
    ids = _scene(rng, (60, 50))
    order = [3, 1, 6, 2, 5, 4]  # table index k holds the colour of class order[k]
    index_of = {class_id: k for k, class_id in enumerate(order)}
    indices = np.vectorize(index_of.get)(ids).astype(np.uint8)
    labels = write_raster(tmp_path / "labels.tif", indices)
    with rasterio.open(labels, "r+") as dst:
        dst.write_colormap(1, {k: (*COLOURS[c - 1].tolist(), 255) for k, c in enumerate(order)})
    image = write_raster(tmp_path / "image.tif", rng.integers(0, 255, (3, 60, 50), np.uint8))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif", "--palette",
                     "potsdam")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "m.tif")[0], ids)


def test_label_raster_off_the_image_is_warned(tmp_path):
    ids = _scene(np.random.default_rng(8), (40, 40))
    labels = write_raster(tmp_path / "far.tif", _paint(ids),
                          transform=from_origin(UTM_ORIGIN[0] + 400_000, UTM_ORIGIN[1], 0.5, 0.5))
    image = write_raster(tmp_path / "image.tif", np.zeros((3, 40, 40), np.uint8))
    with pytest.warns(GeotileWarning, match=r"far\.tif does not cover image\.tif"):
        make_masks(labels, image, tmp_path / "m.tif", palette="potsdam")
    assert (_read(tmp_path / "m.tif")[0] == 255).all()


def test_nan_pixels_of_a_float_image_are_ignored_under_a_label_raster(tmp_path, run_cli):
    """NaN in a float orthotile is nodata, declared or not, with label rasters as with
    vectors: a class id burnt over NaN taught the model a class where it saw nothing."""
    image = np.ones((3, 6, 5), np.float32)
    image[:, 0:2] = np.nan  # rows 0-1, no nodata declared
    image[1, 4, 4] = np.nan  # one band of one pixel
    image_path = write_raster(tmp_path / "image.tif", image)
    ids = np.full((6, 5), 2, np.uint8)
    labels = write_raster(tmp_path / "labels.tif", ids)
    result = run_cli("make-masks", labels, image_path, "-o", tmp_path / "mask.tif", "--json")
    assert result.exit_code == 0, result.output
    mask = _read(tmp_path / "mask.tif")[0]
    expected = ids.copy()
    expected[0:2] = 255
    expected[4, 4] = 255
    np.testing.assert_array_equal(mask, expected)
    summary = json.loads(result.stdout)["masks"][0]
    assert summary["ignored_pixels"] == 11 and summary["positive_pixels"] == 19


@pytest.mark.parametrize("bands", [1, 3])
def test_a_0_255_binary_mask_as_labels_is_class_1_not_ignored(tmp_path, run_cli, bands):
    """INRIA's and Massachusetts' ground truth (0 background, 255 building; Massachusetts
    repeats it in three bands) as a label raster: 255 is the building, as tile and evaluate
    read it; every building pixel came out as the ignore value."""
    truth = np.zeros((8, 10), np.uint8)
    truth[2:5, 3:7] = 255
    labels = write_raster(tmp_path / "austin1_gt.tif", np.repeat(truth[None], bands, 0))
    image = write_raster(tmp_path / "austin1.tif", np.ones((3, 8, 10), np.uint8))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif", "--json")
    assert result.exit_code == 0, result.output
    mask, nodata, tags, _ = _read(tmp_path / "mask.tif")
    np.testing.assert_array_equal(mask, (truth == 255).astype(np.uint8))
    assert nodata == 255  # the mask's own ignore value, declared as ever
    summary = json.loads(result.stdout)["masks"][0]
    assert summary["positive_pixels"] == 12 and summary["ignored_pixels"] == 0
    assert json.loads(tags["GEOTILE_CLASS_NAMES"]) == ["background", "1"]
    # 255 declared as the label's nodata stays the ignore value
    declared = write_raster(tmp_path / "declared.tif", truth, nodata=255)
    assert run_cli("make-masks", declared, image, "-o", tmp_path / "m2.tif").exit_code == 0
    np.testing.assert_array_equal(_read(tmp_path / "m2.tif")[0], truth)


@pytest.mark.parametrize("how", ["serial", "workers", "resume"])
def test_class_names_cover_every_id_of_the_run(tmp_path, run_cli, how):
    """One class raster over two images (ids 0..2 under one, 0..5 under the other): every
    mask, the --json classes and the mosaic name ids 0..5, not the first mask's 0..2; so
    too with --workers (each worker sees one image) and with --resume (the first mask was
    written by an earlier run over it alone)."""
    ids = np.zeros((10, 20), np.uint8)
    ids[:, :10] = np.arange(10)[None, :] % 3
    ids[:, 10:] = np.arange(10)[None, :] % 6
    labels = write_raster(tmp_path / "classes.tif", ids)
    left = write_raster(tmp_path / "left.tif", np.ones((3, 10, 10), np.uint8))
    right = write_raster(tmp_path / "right.tif", np.ones((3, 10, 10), np.uint8),
                         transform=from_origin(X0 + 5, Y0, 0.5, 0.5))
    extra = {"serial": [], "workers": ["--workers", "2"], "resume": ["--resume"]}[how]
    if how == "resume":
        first = run_cli("make-masks", labels, left, "-o", f"{tmp_path / 'masks'}/")
        assert first.exit_code == 0, first.output
    result = run_cli("make-masks", labels, left, right, "-o", tmp_path / "masks", "--json",
                     "--merge", tmp_path / "all.vrt", *extra)
    assert result.exit_code == 0, result.output
    every = ["background", "1", "2", "3", "4", "5"]
    report = json.loads(result.stdout)
    assert report["classes"] == every
    assert [m["classes"] for m in report["masks"]] == [every, every]
    for name in ("left.tif", "right.tif"):
        tags = _read(tmp_path / "masks" / name)[2]
        assert json.loads(tags["GEOTILE_CLASS_NAMES"]) == every
        assert "<Category>5</Category>" in (tmp_path / "masks" / f"{name}.aux.xml").read_text()
    # the mosaic names the categories of the first mask: all six
    vrt = (tmp_path / "all.vrt").read_text()
    assert "<Category>5</Category>" in vrt and json.loads(_read(tmp_path / "all.vrt")[2][
        "GEOTILE_CLASS_NAMES"]) == every
    np.testing.assert_array_equal(_read(tmp_path / "masks" / "left.tif")[0], ids[:, :10])


def test_a_class_map_naming_fewer_ids_than_the_raster_holds_is_warned(tmp_path, run_cli):
    ids = np.array([[0, 1, 2, 3], [4, 1, 2, 0]], np.uint8)
    result = _with_class_map(tmp_path, run_cli, ids, '{"building": 1, "road": 2}')
    tags = _read(tmp_path / "mask.tif")[2]
    assert json.loads(tags["GEOTILE_CLASS_NAMES"]) == ["background", "building", "road", "3",
                                                       "4"]
    assert "ids 3, 4" in result.stderr and "no name" in result.stderr
    # ids below the highest named one are unnamed too: every one is listed, up to 20
    ids = np.arange(40, dtype=np.uint8).reshape(4, 10)
    (tmp_path / "many").mkdir()
    result = _with_class_map(tmp_path / "many", run_cli, ids, '{"building": 2, "tree": 4}')
    listed = ", ".join(map(str, [1, 3, *range(5, 23)]))
    assert f"class ids {listed} and 17 more have no name in --class-map" in result.stderr


def test_lossy_colour_labels_are_named_as_the_cause(tmp_path):
    """A JPEG-compressed colour label raster: its colours are not exact; the warning says
    so and how to fix it, not "add the colours to the palette" (thousands of them)."""
    rng = np.random.default_rng(11)
    ids = _scene(rng, (64, 64))
    labels = write_raster(tmp_path / "labels.tif", _paint(ids), compress="jpeg",
                          photometric="rgb", tiled=True, blockxsize=32, blockysize=32)
    image = write_raster(tmp_path / "image.tif", np.ones((3, 64, 64), np.uint8))
    with pytest.warns(GeotileWarning) as caught:
        make_masks(labels, [image], [tmp_path / "mask.tif"], palette="potsdam")
    message = " ".join(str(w.message) for w in caught)
    assert "JPEG" in message and "lossy" in message and "losslessly" in message
    assert "Add the colours" not in message


def test_a_raster_naming_a_crs_without_a_geotransform(tmp_path, run_cli):
    """A label raster (or image) that names a CRS but has no geotransform: of the image's
    size, the label is the image's pixel grid (as one without a CRS); otherwise a one-line
    refusal naming the file and the missing geotransform, not an all-255 mask."""
    ids = np.random.default_rng(12).integers(0, 3, (20, 30)).astype(np.uint8)
    image = write_raster(tmp_path / "image.tif", np.ones((3, 20, 30), np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        labels = write_raster(tmp_path / "labels.tif", ids, transform=rasterio.Affine.identity())
        loose = write_raster(tmp_path / "loose.tif", ids[:, :25],
                             transform=rasterio.Affine.identity())
        image_loose = write_raster(tmp_path / "image_loose.tif", np.ones((3, 20, 25), np.uint8),
                                   transform=rasterio.Affine.identity())
    assert run_cli("make-masks", labels, image, "-o", tmp_path / "m1.tif").exit_code == 0
    np.testing.assert_array_equal(_read(tmp_path / "m1.tif")[0], ids)
    for label, img in ((loose, image), (write_raster(tmp_path / "geo.tif", ids[:, :25]),
                                        image_loose)):
        result = run_cli("make-masks", label, img, "-o", tmp_path / "m2.tif")
        assert result.exit_code == 1
        line = result.stderr.strip()
        assert "\n" not in line and "no geotransform" in line and "gdal_translate" in line
        assert (str(loose) if label == loose else str(image_loose)) in line
        assert not (tmp_path / "m2.tif").exists()


def test_a_label_raster_in_another_crs_gives_each_pixel_the_label_pixel_under_its_centre(
        tmp_path):
    """An image in UTM, a label raster in EPSG:4326 (as ESA WorldCover under a Sentinel-2
    tile) whose class changes at every label pixel: each mask pixel is the label pixel under
    its centre, found by PROJ exactly; GDAL's approximate transformer (0.125 px) gave ~1 %
    of them a neighbour's class."""
    from rasterio.warp import transform, transform_bounds

    n, size, deg = 100, 100.0, 0.001
    image_transform = from_origin(300000, 5100000, size, size)
    image = write_raster(tmp_path / "image.tif", np.ones((1, n, n), np.uint8),
                         crs="EPSG:32632", transform=image_transform)
    west, south, east, north = transform_bounds("EPSG:32632", "EPSG:4326", 300000,
                                                5100000 - n * size, 300000 + n * size, 5100000)
    label_transform = from_origin(west - 2 * deg, north + 2 * deg, deg, deg)
    shape = (int((north - south) / deg) + 5, int((east - west) / deg) + 5)
    ids = np.random.default_rng(16).integers(0, 10, shape).astype(np.uint8)
    labels = write_raster(tmp_path / "labels.tif", ids, crs="EPSG:4326",
                          transform=label_transform)
    [summary] = make_masks(labels, image, tmp_path / "mask.tif",
                           options=MaskOptions(band_rows=30))
    rows, cols = np.mgrid[0:n, 0:n]
    xs, ys = image_transform * (cols.ravel() + 0.5, rows.ravel() + 0.5)
    lon, lat = transform("EPSG:32632", "EPSG:4326", xs, ys)
    col, row = ~label_transform * (np.array(lon), np.array(lat))
    expected = ids[np.floor(row).astype(int), np.floor(col).astype(int)].reshape(n, n)
    mask = _read(tmp_path / "mask.tif")[0]
    assert int((mask != expected).sum()) == 0
    assert summary["aligned"] == "nearest" and summary["ignored_pixels"] == 0


def test_a_photo_given_as_colour_labels_is_refused(tmp_path, run_cli):
    """LABELS and IMAGE swapped: a photo given with --palette has few pixels of palette
    colours among thousands of colours; a one-line refusal naming it, no all-255 mask.
    JPEG-compressed colour labels (their colours near the palette's) are still read."""
    rng = np.random.default_rng(17)
    ids = _scene(rng, (128, 128))
    labels = write_raster(tmp_path / "labels.tif", _paint(ids), photometric="RGB")
    photo = write_raster(tmp_path / "photo.tif", rng.integers(0, 255, (3, 128, 128), np.uint8),
                         photometric="RGB")
    result = run_cli("make-masks", photo, labels, "-o", tmp_path / "mask.tif",
                     "--palette", "potsdam")
    assert result.exit_code == 1, result.output
    line = result.stderr.strip()
    assert "\n" not in line and str(photo) in line and "swap" in line and "palette" in line
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "mask.tif").exists()
    for quality in (90, 30):
        lossy = write_raster(tmp_path / f"labels_q{quality}.tif", _paint(ids), compress="jpeg",
                             jpeg_quality=quality, photometric="rgb", tiled=True,
                             blockxsize=64, blockysize=64)
        result = run_cli("make-masks", lossy, photo, "-o", tmp_path / f"m{quality}.tif",
                         "--palette", "potsdam")
        assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("dtype", "value", "shown"), [
    ("uint16", 300, "300"),
    ("float32", float(np.finfo(np.float32).min), "-3.4028234663852886e+38"),
    ("float64", float(np.finfo(np.float32).min), "-3.4028234663852886e+38"),
    ("float64", -1e20, "-1e+20"),
])
def test_a_class_id_out_of_range_is_named_as_written_and_declaring_it_works(
        tmp_path, run_cli, dtype, value, shown):
    """An id a mask cannot hold: one line naming it as a GIS shows it (a float's undeclared
    float32-minimum nodata as -3.4...e+38, not 39 digits), nothing written; declaring that
    value as nodata, as the message says, makes the run work."""
    ids = np.array([[0, 1, 2, 3], [value, 1, 2, 0]]).astype(dtype)
    labels = write_raster(tmp_path / "ids.tif", ids)
    image = write_raster(tmp_path / "image.tif", np.ones((3, 2, 4), np.uint8))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
    assert_one_line_error(result, str(labels), f"class id {shown} does not fit",
                          f"gdal_edit.py -a_nodata {shown})")
    assert not (tmp_path / "mask.tif").exists()
    with rasterio.open(labels, "r+") as dst:  # gdal_edit.py -a_nodata <as shown>
        dst.nodata = float(shown)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
    assert result.exit_code == 0, result.output
    assert _read(tmp_path / "mask.tif")[0].tolist() == [[0, 1, 2, 3], [255, 1, 2, 0]]


@pytest.mark.parametrize(("dtype", "value"), [("int64", 2**53 + 1), ("uint64", 2**64 - 1)])
def test_a_64_bit_class_id_out_of_range_is_named_with_its_own_digits(tmp_path, run_cli,
                                                                      dtype, value):
    """Int64 id 2**53 + 1 and UInt64's 2**64 - 1 were named as floats (9007199254740992.0,
    1.8446744073709552e+19), values the pixels do not hold, for gdal_edit.py -a_nodata."""
    ids = np.array([[0, 1, 2, 3], [value, 1, 2, 0]], dtype)
    labels = write_raster(tmp_path / "ids.tif", ids)
    image = write_raster(tmp_path / "image.tif", np.ones((3, 2, 4), np.uint8))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
    assert_one_line_error(result, str(labels), f"class id {value} does not fit",
                          f"gdal_edit.py -a_nodata {value})")
    assert not (tmp_path / "mask.tif").exists()


def test_every_class_id_out_of_range_is_named_in_one_line(tmp_path, run_cli, monkeypatch):
    """uint16 ids 300, 511 and 1000 (1000 in a later row band): the line named only 511 (the
    largest of the first failing band), so declaring it nodata as advised failed again on
    the next. Every distinct bad id of the image is named (beyond six: 'and N more'), with
    a fix for several; nothing written."""
    ids = np.zeros((40, 8), np.uint16)
    ids[0, :3] = [300, 511, 300]
    ids[39, 0] = 1000
    labels = write_raster(tmp_path / "ids.tif", ids)
    image = write_raster(tmp_path / "image.tif", np.ones((3, 40, 8), np.uint8))
    monkeypatch.setattr("geotile.label_rasters.streamed_band_rows", lambda width, rows: 16)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
    assert_one_line_error(result, str(labels), "class ids 300, 511, 1000 do not fit",
                          "gdal_calc.py")
    assert not (tmp_path / "mask.tif").exists()
    ids[1, :] = np.arange(256, 264)
    labels = write_raster(tmp_path / "many.tif", ids)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
    assert_one_line_error(result, "class ids 256, 257, 258, 259, 260, 261 and 5 more")


@pytest.mark.parametrize("palette", [[], ["--palette", "potsdam"]])
def test_a_folder_of_label_rasters_as_labels_asks_for_one_raster(tmp_path, run_cli, palette):
    """LABELS as a folder of label tiles (Potsdam's 5_Labels_all/): one line saying LABELS
    is one label raster and how to mosaic them, not "vector labels, leave out --palette"
    (which led to a second error); nothing written."""
    labdir = tmp_path / "5_Labels_all"
    labdir.mkdir()
    rng = np.random.default_rng(3)
    write_raster(labdir / "top_potsdam_2_10_label.tif", _paint(_scene(rng, (20, 20))))
    write_raster(labdir / "top_potsdam_2_11_label.tif", _paint(_scene(rng, (20, 20))),
                 transform=from_origin(X0 + 10, Y0, 0.5, 0.5))
    image = write_raster(tmp_path / "image.tif", np.ones((3, 20, 20), np.uint8))
    result = run_cli("make-masks", labdir, image, "-o", tmp_path / "mask.tif", *palette)
    assert_one_line_error(result, str(labdir), "folder of 2 rasters", "one label raster",
                          f"gdalbuildvrt labels.vrt {labdir}/*.tif")
    assert "vector labels" not in result.stderr and "Leave out" not in result.stderr
    assert not (tmp_path / "mask.tif").exists()
    (labdir / "top_potsdam_2_11_label.tif").unlink()  # one: named
    result = run_cli("make-masks", labdir, image, "-o", tmp_path / "mask.tif", *palette)
    assert_one_line_error(result, "one label raster",
                          f"Give the raster it holds: {labdir / 'top_potsdam_2_10_label.tif'}")


def test_palette_and_class_map_mistakes_and_messages(tmp_path, run_cli):
    """A palette naming a class twice is refused (JSON kept the last colour, and the first
    was then "not in the palette"); --class-map with --palette is refused, not ignored; an
    index raster's summary says nothing of colours; the unknown-colour warning tells of
    the palette's "ignore" entry."""
    rng = np.random.default_rng(18)
    ids = _scene(rng, (20, 20))
    rgb = _paint(ids)
    rgb[:, 0, :] = 0  # a black (unlabelled) row
    labels = write_raster(tmp_path / "labels.tif", rgb)
    image = write_raster(tmp_path / "image.tif", np.ones((3, 20, 20), np.uint8))
    twice = tmp_path / "twice.json"
    twice.write_text('{"building": [0, 0, 255], "tree": [0, 255, 0], "building": [9, 9, 9]}')
    with pytest.raises(InputError, match=r"twice\.json.*'building'.*twice"):
        read_palette(twice)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif", "--palette", twice)
    assert result.exit_code == 1 and "'building'" in result.stderr, result.output
    class_map = tmp_path / "classes.json"
    class_map.write_text('{"building": 1}')
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif", "--palette",
                     "potsdam", "--class-map", class_map)
    assert result.exit_code == 1, result.output
    assert "--class-map" in result.stderr and "--palette" in result.stderr
    assert "\n" not in result.stderr.strip() and not (tmp_path / "m.tif").exists()
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif", "--palette",
                     "potsdam")
    assert result.exit_code == 0, result.output
    assert "20 pixels" in result.stderr and "ignore" in result.stderr
    assert "silently" in result.stderr and "Add the colours" in result.stderr
    index = write_raster(tmp_path / "index.tif", np.where(ids == 6, 9, ids).astype(np.uint8),
                         nodata=9)
    result = run_cli("make-masks", index, image, "-o", tmp_path / "m2.tif")
    assert result.exit_code == 0, result.output
    assert "ignored" in result.stdout and "colour" not in result.stdout


def test_class_names_of_a_label_raster_s_gdal_categories(tmp_path, run_cli):
    """Category names in the label raster's PAM sidecar (gdalinfo's "Categories:", as QGIS,
    ArcGIS and geotile's own masks write them) name the classes when it has no
    GEOTILE_CLASS_NAMES tag and no --class-map is given; the ids were the names."""
    ids = np.array([[0, 1, 2, 3], [3, 2, 1, 0]], np.uint8)
    labels = write_raster(tmp_path / "cats.tif", ids)
    (tmp_path / "cats.tif.aux.xml").write_text(
        '<PAMDataset><PAMRasterBand band="1"><CategoryNames><Category>background</Category>'
        "<Category>building</Category><Category>road</Category><Category>water</Category>"
        "</CategoryNames></PAMRasterBand></PAMDataset>")
    image = write_raster(tmp_path / "image.tif", np.ones((3, 2, 4), np.uint8))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif", "--json")
    assert result.exit_code == 0, result.output
    names = ["background", "building", "road", "water"]
    assert json.loads(result.stdout)["classes"] == names
    tags = _read(tmp_path / "mask.tif")[2]
    assert json.loads(tags["GEOTILE_CLASS_NAMES"]) == names
    assert "<Category>water</Category>" in (tmp_path / "mask.tif.aux.xml").read_text()
    class_map = tmp_path / "classes.json"
    class_map.write_text('{"roof": 1, "street": 2, "lake": 3}')  # --class-map comes first
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m2.tif", "--json",
                     "--class-map", class_map)
    assert json.loads(result.stdout)["classes"] == ["background", "roof", "street", "lake"]


def _rat(rows, value_usage=5, name_usage=2) -> str:
    """A thematic raster attribute table (ArcGIS': Value, Count, ClassName) in a sidecar."""
    cells = "".join(f"<Row index='{i}'><F>{v}</F><F>{n}</F><F>{name}</F></Row>"
                    for i, (v, n, name) in enumerate(rows))
    return ("<PAMDataset><PAMRasterBand band='1'><GDALRasterAttributeTable tableType='thematic'>"
            f"<FieldDefn index='0'><Name>Value</Name><Type>0</Type><Usage>{value_usage}</Usage>"
            "</FieldDefn><FieldDefn index='1'><Name>Count</Name><Type>1</Type><Usage>1</Usage>"
            "</FieldDefn><FieldDefn index='2'><Name>ClassName</Name><Type>2</Type>"
            f"<Usage>{name_usage}</Usage></FieldDefn>{cells}</GDALRasterAttributeTable>"
            "</PAMRasterBand></PAMDataset>")


def test_class_names_kept_when_categories_or_a_table_also_name_255(tmp_path, run_cli):
    """Categories of 256 entries ('Unlabelled' at 255) or an attribute table with a row
    255 'NoData' (ArcGIS', ERDAS') lost every class name: make-masks wrote classes
    background, 1, 2, 3 and vectorize refused --classes road. The names of 0..254 are kept;
    255 stays the ignore value."""
    ids = (np.arange(6 * 8).reshape(6, 8) % 4).astype(np.uint8)
    ids[0, :2] = 255
    image = write_raster(tmp_path / "image.tif", np.ones((3, 6, 8), np.uint8))
    names = ["background", "building", "road", "tree"]
    cats = write_raster(tmp_path / "cats.tif", ids)
    categories = names + [""] * (255 - len(names)) + ["Unlabelled"]
    (tmp_path / "cats.tif.aux.xml").write_text(
        '<PAMDataset><PAMRasterBand band="1"><CategoryNames>'
        + "".join(f"<Category>{c}</Category>" for c in categories)
        + "</CategoryNames></PAMRasterBand></PAMDataset>")
    rat = write_raster(tmp_path / "rat.tif", ids)
    (tmp_path / "rat.tif.aux.xml").write_text(_rat(
        [(i, 10, n) for i, n in enumerate(names)] + [(255, 2, "NoData")], name_usage=0))
    for labels in (cats, rat):
        out = tmp_path / f"mask_{labels.name}"
        result = run_cli("make-masks", labels, image, "-o", out, "--json")
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        assert summary["classes"] == names, labels
        assert summary["masks"][0]["ignored_pixels"] == 2
        np.testing.assert_array_equal(_read(out)[0], ids)
        result = run_cli("vectorize", labels, "-o", tmp_path / f"{labels.stem}.gpkg",
                         "--classes", "road", "--json")
        assert result.exit_code == 0, result.output
        assert "no class names" not in result.stderr
        assert set(json.loads(result.stdout)["per_class"]) == {"road"}


@pytest.mark.parametrize("zero", ["Unclassified", "No Class", "NoClass", "Not classified",
                                  "Fill", "No data (ocean)", "NoData - outside scene"])
def test_an_envi_classification_ignoring_0_named_unclassified_leaves_0_out(tmp_path, run_cli,
                                                                          zero):
    """An ENVI classification declaring 'data ignore value = 0' with class 0 named
    'Unclassified' (ENVI's own name of it): its nodata 0 was read as background with no
    warning (make-masks wrote 12 px of class 0, evaluate scored them). Such a name of id 0
    says no data, as 'nodata' or 'unlabelled' do; undeclared, 0 stays background."""
    from geotile.class_keys import zero_is_background

    ids = (np.arange(6 * 8).reshape(6, 8) % 4).astype(np.uint8)
    image = write_raster(tmp_path / "image.tif", np.ones((3, 6, 8), np.uint8))
    envi = tmp_path / "scene.dat"
    ids.tofile(envi)
    header = ("ENVI\nsamples = 8\nlines = 6\nbands = 1\nheader offset = 0\n"
              "file type = ENVI Classification\ndata type = 1\ninterleave = bsq\n"
              "byte order = 0\ndata ignore value = 0\nclasses = 4\n"
              f"class names = {{{zero}, building, road, tree}}\n"
              f"map info = {{UTM, 1, 1, {X0}, {Y0}, 0.5, 0.5, 16, North, WGS-84}}\n")
    (tmp_path / "scene.hdr").write_text(header)
    result = run_cli("make-masks", envi, image, "-o", tmp_path / "mask.tif", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["masks"][0]["ignored_pixels"] == 12
    np.testing.assert_array_equal(_read(tmp_path / "mask.tif")[0],
                                  np.where(ids == 0, 255, ids))
    prediction = write_raster(tmp_path / "pred.tif", ids)
    result = run_cli("evaluate", prediction, envi, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["pixels"] == 36
    assert zero_is_background([zero, "building"])


def test_every_name_of_no_data_for_id_0_is_no_class():
    """A name of id 0 saying no data (nodata_names.NODATA_NAMES: its declared nodata 0 is
    no data) makes id 0 no class when nothing is declared too, never a class of its own."""
    from geotile.class_keys import zero_is_background
    from geotile.nodata_names import NODATA_NAMES

    assert [n for n in sorted(NODATA_NAMES) if not zero_is_background([n, "a"])] == []
    assert zero_is_background(["No data (ocean)", "a"]) and zero_is_background(["Fill", "a"])


def test_class_names_from_envi_headers_erdas_and_attribute_tables(tmp_path, run_cli):
    """Class names inside the label raster (an ENVI classification's .hdr 'class names', an
    ERDAS .img's attribute table) or in a raster attribute table (ArcGIS' .aux.xml: Value,
    ClassName; uint8 and Int32) name the mask's classes, as GDAL reads them; evaluate
    scores by them too."""
    ids = (np.arange(6 * 8).reshape(6, 8) % 4).astype(np.uint8)
    image = write_raster(tmp_path / "image.tif", np.ones((3, 6, 8), np.uint8))
    envi = tmp_path / "scene.dat"
    ids.tofile(envi)
    (tmp_path / "scene.hdr").write_text(
        "ENVI\nsamples = 8\nlines = 6\nbands = 1\nheader offset = 0\n"
        "file type = ENVI Classification\ndata type = 1\ninterleave = bsq\nbyte order = 0\n"
        "classes = 4\nclass lookup = {0,0,0, 255,0,0, 128,128,128, 0,255,0}\n"
        "class names = {Unclassified, building, road, tree}\n"
        f"map info = {{UTM, 1, 1, {X0}, {Y0}, 0.5, 0.5, 16, North, WGS-84}}\n")
    arcgis = write_raster(tmp_path / "arcgis.tif", ids, nodata=255)
    (tmp_path / "arcgis.tif.aux.xml").write_text(  # ArcGIS: ClassName of usage generic
        _rat([(1, 12, "building"), (2, 12, "road"), (3, 12, "tree")], name_usage=0))
    arcgis32 = write_raster(tmp_path / "arcgis32.tif", ids.astype(np.int32),
                            nodata=-2147483648)
    (tmp_path / "arcgis32.tif.aux.xml").write_text(
        _rat([(3, 12, "tree"), (1, 12, "building"), (2, 12, "road")]))
    source = write_raster(tmp_path / "source.tif", ids)
    (tmp_path / "source.tif.aux.xml").write_text(
        "<PAMDataset><PAMRasterBand band='1'><GDALRasterAttributeTable tableType='thematic'>"
        "<FieldDefn index='0'><Name>Class_Names</Name><Type>2</Type><Usage>2</Usage>"
        "</FieldDefn>" + "".join(f"<Row index='{i}'><F>{n}</F></Row>" for i, n in
                                 enumerate(["Unclassified", "building", "road", "tree"]))
        + "</GDALRasterAttributeTable></PAMRasterBand></PAMDataset>")
    erdas = tmp_path / "scene.img"
    rasterio.shutil.copy(source, erdas, driver="HFA")  # the table goes into the .img
    (tmp_path / "scene.img.aux.xml").unlink(missing_ok=True)
    for labels in (envi, arcgis, arcgis32, erdas):  # a name of 0 is kept, as a sidecar's
        names = ["Unclassified" if labels.stem == "scene" else "background", "building",
                 "road", "tree"]
        out = tmp_path / f"mask_{labels.name}.tif"
        result = run_cli("make-masks", labels, image, "-o", out, "--json")
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        assert summary["classes"] == names, labels
        assert summary["masks"][0]["class_pixels"] == dict.fromkeys(names, 12)
        np.testing.assert_array_equal(_read(out)[0], ids)
        assert json.loads(_read(out)[2]["GEOTILE_CLASS_NAMES"]) == names
    prediction = write_raster(tmp_path / "pred.tif", ids)
    result = run_cli("evaluate", prediction, envi, "--json")
    assert result.exit_code == 0, result.output
    scored = [c["class"] for c in json.loads(result.stdout)["classes"]]
    assert scored == ["Unclassified", "building", "road", "tree"]


def test_class_names_from_an_arcgis_vat_dbf_sidecar(tmp_path, run_cli):
    """ArcGIS' Classify Pixels writes its classes (Value 1, 5, 9; ClassName or Class_Name)
    in a ``.tif.vat.dbf`` beside the raster, which GDAL before 3.11 does not read:
    vectorize named class 1 'building' and 5, 9 by number, and evaluate of a prediction
    against labels numbering the same classes otherwise (Water 1, Building 5, Tree 9)
    paired them by id, scoring Building at IoU 0 with exit 0. The table names the
    classes, as an .aux.xml table does."""
    import geopandas as gpd
    import pandas as pd
    import pyogrio

    def vat(raster, column, rows):
        table = pd.DataFrame({"Value": [v for v, _ in rows], "Count": [12] * len(rows),
                              column: [n for _, n in rows], "Red": [0] * len(rows)})
        pyogrio.write_dataframe(table, tmp_path / "vat.dbf", driver="ESRI Shapefile")
        (tmp_path / "vat.dbf").rename(f"{raster}.vat.dbf")

    ids = np.repeat([1, 5, 9, 255], 12).reshape(6, 8).astype(np.uint8)
    prediction = write_raster(tmp_path / "pred.tif", ids, nodata=255)
    vat(prediction, "ClassName", [(1, "Building"), (5, "Tree"), (9, "Water")])
    renumbered = np.select([ids == 1, ids == 5, ids == 9], [5, 9, 1], 255).astype(np.uint8)
    truth = write_raster(tmp_path / "truth.tif", renumbered, nodata=255)
    vat(truth, "Class_Name", [(1, "Water"), (5, "Building"), (9, "Tree")])
    out = tmp_path / "classes.gpkg"
    result = run_cli("vectorize", prediction, "-o", out)
    assert result.exit_code == 0, result.output
    frame = gpd.read_file(out)
    assert sorted(zip(frame["class_id"], frame["class"], strict=True)) == [
        (1, "Building"), (5, "Tree"), (9, "Water")]
    result = run_cli("evaluate", prediction, truth, "--json")
    assert result.exit_code == 0, result.output
    scores = {c["class"]: c["iou"] for c in json.loads(result.stdout)["classes"]
              if c["support"]}
    assert scores == {"Building": 1.0, "Tree": 1.0, "Water": 1.0}


def test_a_16_bit_paletted_label_raster_is_refused_for_what_it_is(tmp_path, run_cli):
    """A uint16 raster with a colour table given with --palette: the message states the
    limit (8-bit colour tables) and the conversion, not "no colour table"."""
    indices = (np.arange(6 * 8).reshape(6, 8) % 6).astype(np.uint16)
    labels = write_raster(tmp_path / "labels16.tif", indices)
    with rasterio.open(labels, "r+") as dst:
        dst.write_colormap(1, {k: (*COLOURS[k].tolist(), 255) for k in range(6)})
    with rasterio.open(labels) as src:
        assert src.dtypes[0] == "uint16" and src.colormap(1)[1][:3] == (0, 0, 255)
    image = write_raster(tmp_path / "image.tif", np.ones((3, 6, 8), np.uint8))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif", "--palette",
                     "potsdam")
    assert result.exit_code == 1, result.output
    line = result.stderr.strip()
    assert "\n" not in line and str(labels) in line and "no colour table" not in line
    assert "8-bit" in line and "-ot Byte" in line and "-ot Byte -expand rgb" in line
    assert not (tmp_path / "m.tif").exists()


def _antimeridian_scene(tmp_path, west, width_deg, deg=0.01):
    """An image in UTM 60S (Fiji) astride 180 degrees, 40 x 30 pixels of 500 m, and a label
    raster in EPSG:4326 from longitude ``west`` over ``width_deg`` degrees, random class ids
    0..9 in pixels of ``deg``; with the ids expected under each image pixel's centre
    (computed here by PROJ, the longitude wrapped into the label raster's range)."""
    from rasterio.warp import transform

    cols_n, rows_n, size = 40, 30, 500.0
    image_transform = from_origin(815000, 8050000, size, size)
    image = write_raster(tmp_path / "image.tif", np.ones((1, rows_n, cols_n), np.uint8),
                         crs="EPSG:32760", transform=image_transform)
    label_transform = from_origin(west, -17.4, deg, deg)
    shape = (int(0.5 / deg), round(width_deg / deg))
    ids = np.random.default_rng(17).integers(0, 10, shape).astype(np.uint8)
    labels = write_raster(tmp_path / "labels.tif", ids, crs="EPSG:4326",
                          transform=label_transform, tiled=True, blockxsize=256,
                          blockysize=16)
    rows, cols = np.mgrid[0:rows_n, 0:cols_n]
    xs, ys = image_transform * (cols.ravel() + 0.5, rows.ravel() + 0.5)
    lon, lat = transform("EPSG:32760", "EPSG:4326", xs, ys)
    lon = west + np.mod(np.array(lon) - west, 360)
    col, row = ~label_transform * (lon, np.array(lat))
    expected = ids[np.floor(row).astype(int), np.floor(col).astype(int)].reshape(rows_n, cols_n)
    return labels, image, expected, lon


@pytest.mark.parametrize("west, width_deg", [(-180, 360), (179.5, 1)])
def test_an_image_astride_the_antimeridian_with_a_label_raster_in_degrees(
        tmp_path, monkeypatch, west, width_deg):
    """An image crossing 180 degrees: PROJ gives its centres east of it longitudes near
    -180, which a label raster of 179.5..180.5 holds at 180..180.5 (they were all 255) and
    a global one at its other end (the read window spanned the globe's width: 449 MB for a
    300 x 200 image). Longitudes are wrapped into the label raster's range and only the
    label pixels near the image are read (two windows for a global label)."""
    import geotile.raster

    labels, image, expected, lon = _antimeridian_scene(tmp_path, west, width_deg)
    assert (lon > 180).any() or (lon < -179).any()  # both sides of the antimeridian
    widths = []
    read_window = geotile.raster.read_window

    def recording(src, window, *args, **kwargs):
        if src.name.endswith("labels.tif"):
            widths.append(int(window.width))
        return read_window(src, window, *args, **kwargs)

    monkeypatch.setattr(geotile.raster, "read_window", recording)
    [summary] = make_masks(labels, image, tmp_path / "mask.tif",
                           options=MaskOptions(band_rows=10))
    mask = _read(tmp_path / "mask.tif")[0]
    assert int((mask != expected).sum()) == 0
    assert summary["ignored_pixels"] == 0
    assert max(widths) < 1000  # the image spans ~0.2 degrees (the globe 36000 label pixels)


@pytest.mark.parametrize("which", ["image", "labels"])
def test_a_raster_georeferenced_by_gcps_only_is_told_to_be_warped(tmp_path, run_cli, which):
    """An image (or label raster) placed by GCPs alone (a Level-1 scene): the advice was
    to assign a CRS with gdal_edit.py -a_srs, which only names the GCPs' CRS, and the same
    error came back. It is told to warp it to a map grid (gdalwarp -t_srs)."""
    from rasterio.control import GroundControlPoint
    from rasterio.crs import CRS

    ids = np.random.default_rng(18).integers(0, 5, (20, 30)).astype(np.uint8)
    placed = write_raster(tmp_path / "placed.tif", ids[:, :25])  # not of the other's size
    gcp_only = tmp_path / "gcps.tif"
    gcps = [GroundControlPoint(r, c, X0 + c * 0.5, Y0 - r * 0.5)
            for r, c in ((0, 0), (0, 30), (20, 0), (20, 30))]
    with warnings.catch_warnings():  # rasterio: no geotransform (yet) when it is created
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(gcp_only, "w", driver="GTiff", width=30, height=20, count=1,
                           dtype="uint8") as dst:
            dst.write(ids, 1)
            dst.gcps = (gcps, CRS.from_string("EPSG:32616"))
    labels, image = (placed, gcp_only) if which == "image" else (gcp_only, placed)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
    assert_one_line_error(result, f"{gcp_only}: ", "GCPs only", "gdalwarp -t_srs EPSG:")
    assert "Assign one" not in result.stderr


def test_unknown_colours_under_the_image_s_nodata_are_not_counted(tmp_path, run_cli):
    """Potsdam-style black borders over an orthophoto's nodata collar: those pixels are 255
    because of the image, yet their colour was counted and warned of as not in the palette.
    Only unknown colours that the image's valid pixels see are counted."""
    ids = _scene(np.random.default_rng(19), (40, 30))
    rgb = _paint(ids)
    rgb[:, :3] = 0  # black (no palette colour) exactly over the image's nodata rows
    rgb[:, 20, :4] = 0  # and 4 black pixels where the image is valid
    labels = write_raster(tmp_path / "labels.tif", rgb)
    pixels = np.full((3, 40, 30), 9, np.uint8)
    pixels[:, :3] = 0
    image = write_raster(tmp_path / "image.tif", pixels, nodata=0)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif",
                     "--palette", "potsdam", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)["masks"][0]
    assert summary["unknown_pixels"] == 4
    assert summary["ignored_pixels"] == 3 * 30 + 4
    assert "4 pixels have 1 colour(s) not in the palette" in result.stderr
    mask = _read(tmp_path / "mask.tif")[0]
    expected = ids.copy()
    expected[:3] = 255
    expected[20, :4] = 255
    np.testing.assert_array_equal(mask, expected)


def _vector_square(path, x, y, side):
    """A one-polygon vector file (GeoPackage or zipped Shapefile by ``path``'s ending)."""
    import zipfile

    import geopandas as gpd
    from shapely.geometry import box

    frame = gpd.GeoDataFrame(geometry=[box(x, y - side, x + side, y)], crs="EPSG:32616")
    if path.suffix == ".zip":
        folder = path.with_suffix("")
        folder.mkdir()
        frame.to_file(folder / "squares.shp")
        with zipfile.ZipFile(path, "w") as archive:
            for part in folder.iterdir():
                archive.write(part, part.name)
    else:
        frame.to_file(path)
    return path


def test_a_raster_geopackage_or_zipped_tiff_as_labels_is_read_as_a_label_raster(
        tmp_path, run_cli):
    """A raster GeoPackage, or a GeoTIFF in a .zip (as the path is, or /vsizip/), was read
    as vector labels by its ending and refused as "not vector data GDAL can read". What GDAL
    opens decides; vector GeoPackages and zipped Shapefiles stay vector labels."""
    import zipfile

    import rasterio.shutil

    ids = np.random.default_rng(20).integers(0, 4, (20, 30)).astype(np.uint8)
    tiff = write_raster(tmp_path / "labels.tif", ids)
    image = write_raster(tmp_path / "image.tif", np.full((3, 20, 30), 9, np.uint8))
    gpkg = tmp_path / "labels_r.gpkg"
    with rasterio.open(tiff) as src:
        rasterio.shutil.copy(src, gpkg, driver="GPKG")
    zipped = tmp_path / "labels.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.write(tiff, "labels.tif")
    for n, labels in enumerate((gpkg, zipped, f"/vsizip/{zipped}")):
        result = run_cli("make-masks", labels, image, "-o", tmp_path / f"mask{n}.tif")
        assert result.exit_code == 0, (labels, result.output)
        np.testing.assert_array_equal(_read(tmp_path / f"mask{n}.tif")[0], ids)
    for name in ("squares.gpkg", "squares.zip"):  # vector labels all the same
        vector = _vector_square(tmp_path / name, X0 + 2, Y0 - 2, 4)
        result = run_cli("make-masks", vector, image, "-o", tmp_path / f"m_{name}.tif")
        assert result.exit_code == 0, (name, result.output)
        mask = _read(tmp_path / f"m_{name}.tif")[0]
        assert int(mask.sum()) == 64 and mask[4:12, 4:12].all()


def test_a_grey_class_mask_saved_as_rgb_is_read_as_class_ids(tmp_path, run_cli):
    """Class ids 0..k repeated in R = G = B (PIL's and OpenCV's "grey" PNG saved as RGB,
    shown grey in QGIS) were refused as colour-coded labels with "Give --palette potsdam",
    the wrong fix. Its bands are all equal, so it is band 1 of class ids, as a 0/255 mask
    repeated in three bands is read; with --palette it is refused naming that fix."""
    ids = np.random.default_rng(21).integers(0, 7, (20, 30)).astype(np.uint8)
    grey = write_raster(tmp_path / "grey.tif", np.stack([ids] * 3), photometric="RGB")
    image = write_raster(tmp_path / "image.tif", np.full((3, 20, 30), 9, np.uint8))
    result = run_cli("make-masks", grey, image, "-o", tmp_path / "mask.tif", "--json")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "mask.tif")[0], ids)
    assert json.loads(result.stdout)["classes"] == ["background", *map(str, range(1, 7))]
    # a PNG without georeferencing, of the image's size (its pixel grid)
    with warnings.catch_warnings():  # rasterio: no geotransform
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        png = write_raster(tmp_path / "grey.png", np.stack([ids] * 3), crs=None,
                           transform=rasterio.Affine.identity(), driver="PNG")
    result = run_cli("make-masks", png, image, "-o", tmp_path / "mask_png.tif")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "mask_png.tif")[0], ids)
    result = run_cli("make-masks", grey, image, "-o", tmp_path / "m2.tif", "--palette",
                     "potsdam")
    assert_one_line_error(result, "bands are equal", "Leave out --palette")
    # one pixel of another colour: colour-coded labels after all, refused as before
    rgb = np.stack([ids] * 3)
    rgb[0, 19, 29] = 200
    colour = write_raster(tmp_path / "colour.tif", rgb, photometric="RGB")
    result = run_cli("make-masks", colour, image, "-o", tmp_path / "m3.tif")
    assert_one_line_error(result, "look like colour-coded labels", "--palette")


def _road_mask(shape=(40, 60)) -> np.ndarray:
    """A 0/255 mask (DeepGlobe's roads): 255 in blocks over about a third of the pixels."""
    blocks = np.random.default_rng(31).random((shape[0] // 10, shape[1] // 10)) < 0.35
    return (blocks.repeat(10, 0).repeat(10, 1) * 255).astype(np.uint8)


def test_a_0_255_mask_with_a_few_stray_values_is_binarised_not_read_as_class_ids(
        tmp_path, run_cli):
    """A DeepGlobe-style RGB PNG mask, 0/255 but for a few pixels that resampling or JPEG
    left at 128, 1 and 254: its 255s (every road pixel) became the ignore value and the
    strays classes 1, 128 and 254, silently. It is a 0/255 mask read >= 128 as 1, with
    one warning counting the strays; a raster of many class ids stays class ids."""
    truth = _road_mask()
    stray = truth.copy()
    stray[5, 5], stray[20, 20], stray[30, 40] = 128, 1, 254
    with warnings.catch_warnings():  # rasterio: no geotransform
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        labels = write_raster(tmp_path / "104_mask.png", np.stack([stray] * 3), crs=None,
                              transform=rasterio.Affine.identity(), driver="PNG")
    image = write_raster(tmp_path / "104_sat.tif", np.ones((3, *truth.shape), np.uint8))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif", "--json")
    assert result.exit_code == 0, result.output
    expected = (stray >= 128).astype(np.uint8)
    np.testing.assert_array_equal(_read(tmp_path / "mask.tif")[0], expected)
    summary = json.loads(result.stdout)["masks"][0]
    assert summary["classes"] == ["background", "1"]
    assert summary["class_pixels"] == {"background": int((expected == 0).sum()),
                                       "1": int(expected.sum())}
    warned = [line for line in result.stderr.splitlines() if "104_mask.png" in line]
    assert len(warned) == 1 and "3 pixels" in warned[0] and "128" in warned[0], result.stderr
    # 0 background, 255 (to ignore) over most pixels and a few pixels of class 1: no
    # stray from 128 up, so class ids, with a warning
    sparse = np.where(truth == 255, 255, 0).astype(np.uint8)
    sparse[12, 0:5] = 1
    labels = write_raster(tmp_path / "sparse.tif", sparse)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "sparse_mask.tif")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "sparse_mask.tif")[0], sparse)
    assert "read as class ids" in result.stderr and "1: 5 px" in result.stderr
    # class ids 1..6 with some 0 and 255 (ignore): class ids, as before
    ids = np.random.default_rng(32).integers(0, 7, truth.shape).astype(np.uint8)
    ids[:, :5] = 255
    labels = write_raster(tmp_path / "ids.tif", ids)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "ids_mask.tif")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "ids_mask.tif")[0], ids)


def test_a_jpeg_0_255_mask_at_quality_75_is_a_mask_not_class_ids(tmp_path, run_cli):
    """A road mask saved as JPEG at PIL's default quality (about 3 % values 1..254) was
    read as class ids: its 255s, every road pixel, became the ignore value. JPEG noise is
    spread over many values on both sides of 128: a 0/255 mask, read >= 128 as 1."""
    from PIL import Image

    truth = _road_mask((120, 160))
    Image.fromarray(np.stack([truth] * 3, axis=-1)).save(tmp_path / "7_mask.jpg", quality=75)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        decoded = _read(tmp_path / "7_mask.jpg")[0]
    assert ((decoded > 0) & (decoded < 255)).mean() > 0.01
    image = write_raster(tmp_path / "7_sat.tif", np.ones((3, *truth.shape), np.uint8),
                         crs=None, transform=rasterio.Affine.identity())
    result = run_cli("make-masks", tmp_path / "7_mask.jpg", image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "m.tif")[0], (decoded >= 128))

def test_a_0_255_mask_declaring_nodata_0_or_with_alpha_keeps_its_positive_class(
        tmp_path, run_cli):
    """A 0/255 mask declaring nodata 0 (gdal_rasterize -a_nodata 0) or carrying an alpha
    band (a grey + alpha PNG) was read as class ids: every 255 (building) pixel became the
    ignore value. Nodata 0 on a 0/255 mask is its background (warned once); an alpha band,
    or another nodata value, marks the pixels to ignore."""
    truth = _road_mask()
    image = write_raster(tmp_path / "image.tif", np.ones((3, *truth.shape), np.uint8))
    labels = write_raster(tmp_path / "nd0.tif", truth, nodata=0)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "nd0_mask.tif", "--json")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "nd0_mask.tif")[0], truth // 255)
    assert json.loads(result.stdout)["masks"][0]["ignored_pixels"] == 0
    warned = [line for line in result.stderr.splitlines() if "nd0.tif" in line]
    assert len(warned) == 1 and "nodata 0" in warned[0] and "background" in warned[0]
    # on another grid (nearest neighbour) as well: 0 is background there too
    shifted = write_raster(tmp_path / "shifted.tif", np.ones((3, *truth.shape), np.uint8),
                           transform=from_origin(X0 + 0.25, Y0, 0.5, 0.5))
    result = run_cli("make-masks", labels, shifted, "-o", tmp_path / "nd0_near.tif", "--json")
    assert result.exit_code == 0, result.output
    near = _read(tmp_path / "nd0_near.tif")[0]
    np.testing.assert_array_equal(near[:, :-1], truth[:, 1:] // 255)  # centres half a px on
    assert near[:, -1].tolist() == [255] * truth.shape[0]  # past the label raster
    # another nodata value: those pixels are ignored, the 255s class 1
    declared = truth.copy()
    declared[:3] = 7
    labels = write_raster(tmp_path / "nd7.tif", declared, nodata=7)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "nd7_mask.tif")
    assert result.exit_code == 0, result.output
    expected = truth // 255
    expected[:3] = 255
    np.testing.assert_array_equal(_read(tmp_path / "nd7_mask.tif")[0], expected)
    # grey + alpha PNG: transparent rows ignored
    alpha = np.full_like(truth, 255)
    alpha[:4] = 0
    with warnings.catch_warnings():  # rasterio: no geotransform
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        labels = write_raster(tmp_path / "la.png", np.stack([truth, alpha]), crs=None,
                              transform=rasterio.Affine.identity(), driver="PNG")
    with rasterio.open(labels) as src:
        assert src.colorinterp[1] == rasterio.enums.ColorInterp.alpha
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "la_mask.tif")
    assert result.exit_code == 0, result.output
    expected = truth // 255
    expected[:4] = 255
    np.testing.assert_array_equal(_read(tmp_path / "la_mask.tif")[0], expected)
    # a class raster declaring nodata 0 keeps 0 as no data
    ids = np.random.default_rng(33).integers(0, 7, truth.shape).astype(np.uint8)
    labels = write_raster(tmp_path / "ids_nd0.tif", ids, nodata=0)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "ids_mask.tif")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "ids_mask.tif")[0],
                                  np.where(ids == 0, 255, ids))


def test_a_0_1_mask_declaring_nodata_0_keeps_its_background(tmp_path, run_cli):
    """gdal_rasterize -burn 1 -a_nodata 0 (QGIS' Rasterize default): a 64x64 0/1 mask
    declaring nodata 0 had its background written as the ignore value 255 (400 labelled,
    3696 ignored), silently. A mask's one class id besides 0 (1 or 255; float too): 0 is
    the background, with one warning; another id alone (a land-cover tile of one class:
    WorldCover's 80 over water) or several ids: 0 is no data, ignored, with one warning
    giving the share it leaves out and the fix."""
    labels = np.zeros((64, 64), np.uint8)
    labels[10:30, 20:40] = 1
    image = write_raster(tmp_path / "image.tif", np.ones((3, 64, 64), np.uint8))
    for name, burn, dtype in (("b1.tif", 1, "uint8"), ("b1w.tif", 1, "uint16"),
                              ("bf.tif", 1, "float32")):
        path = write_raster(tmp_path / name, (labels * burn).astype(dtype), nodata=0)
        result = run_cli("make-masks", path, image, "-o", tmp_path / f"m_{name}", "--json")
        assert result.exit_code == 0, result.output
        np.testing.assert_array_equal(_read(tmp_path / f"m_{name}")[0], labels * burn)
        mask = json.loads(result.stdout)["masks"][0]
        assert (mask["positive_pixels"], mask["ignored_pixels"]) == (400, 0)
        warned = [line for line in result.stderr.splitlines() if "nodata 0" in line]
        assert len(warned) == 1 and f"{name}: a 0/{burn} mask declaring nodata 0" in warned[0]
        assert "read as background" in warned[0]
    water = write_raster(tmp_path / "wc.tif", (labels * 80).astype(np.uint16), nodata=0)
    result = run_cli("make-masks", water, image, "-o", tmp_path / "m_wc.tif", "--json")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "m_wc.tif")[0],
                                  np.where(labels == 0, 255, 80))
    assert json.loads(result.stdout)["masks"][0]["ignored_pixels"] == 4096 - 400
    warned = [line for line in result.stderr.splitlines() if "nodata 0" in line]
    assert len(warned) == 1 and "wc.tif: class id 80 and nodata 0" in warned[0]
    assert "90% of the pixels left out" in warned[0]
    classes = labels.copy()
    classes[40:, :] = 2
    classes[:, 50:] = 3  # 0 on 1600 of 4096 pixels (39%)
    path = write_raster(tmp_path / "lc.tif", classes, nodata=0)
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m_lc.tif", "--json")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "m_lc.tif")[0],
                                  np.where(classes == 0, 255, classes))
    assert json.loads(result.stdout)["masks"][0]["ignored_pixels"] == 1600
    warned = [line for line in result.stderr.splitlines() if "nodata 0" in line]
    assert len(warned) == 1 and "lc.tif: class ids (1, 2, ...)" in warned[0]
    assert "39% of the pixels left out" in warned[0]
    assert f"gdal_edit.py -unsetnodata {path})" in warned[0]
    named = write_raster(tmp_path / "named.tif", labels, nodata=0)  # its name for 0 decides
    with rasterio.open(named, "r+") as dst:
        dst.update_tags(GEOTILE_CLASS_NAMES='["no data", "building"]')
    result = run_cli("make-masks", named, image, "-o", tmp_path / "m_named.tif", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["masks"][0]["ignored_pixels"] == 4096 - 400
    assert "nodata 0" not in result.stderr


def test_grey_labels_in_rgba_are_read_not_refused_as_an_rgb_image(tmp_path, run_cli):
    """R = G = B with an alpha band (a 0/255 mask as RGBA GeoTIFF; class ids as the RGBA
    grey PNG PIL writes) was refused as "an RGB image, not a prediction ... geotile
    predict": make-masks reads band 1, the alpha band marking the pixels to ignore."""
    truth = _road_mask()
    alpha = np.full_like(truth, 255)
    alpha[:5] = 0
    image = write_raster(tmp_path / "image.tif", np.ones((3, *truth.shape), np.uint8))
    labels = write_raster(tmp_path / "rgba.tif", np.stack([truth] * 3 + [alpha]),
                          photometric="RGB")
    with rasterio.open(labels, "r+") as dst:
        dst.colorinterp = [*dst.colorinterp[:3], rasterio.enums.ColorInterp.alpha]
    with rasterio.open(labels) as src:
        assert src.colorinterp[3] == rasterio.enums.ColorInterp.alpha
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "rgba_mask.tif", "--json")
    assert result.exit_code == 0, result.output
    expected = truth // 255
    expected[:5] = 255
    np.testing.assert_array_equal(_read(tmp_path / "rgba_mask.tif")[0], expected)
    assert json.loads(result.stdout)["classes"] == ["background", "1"]
    ids = np.random.default_rng(34).integers(0, 7, truth.shape).astype(np.uint8)
    with warnings.catch_warnings():  # rasterio: no geotransform
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        labels = write_raster(tmp_path / "grey_ids.png", np.stack([ids] * 3 + [alpha]),
                              crs=None, transform=rasterio.Affine.identity(), driver="PNG")
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "ids_mask.tif", "--json")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "ids_mask.tif")[0],
                                  np.where(alpha == 0, 255, ids))
    assert json.loads(result.stdout)["classes"] == ["background", *map(str, range(1, 7))]


@pytest.mark.parametrize("scale", [0.5, 2])
def test_label_and_image_without_georeference_of_different_sizes_are_refused(
        tmp_path, run_cli, scale):
    """A label PNG of 60 x 40 px and its image resized to 30 x 20 (or 120 x 80), neither
    georeferenced: the mask was the label's top-left corner (or the label in a quarter of
    the mask, the rest 255), exit 0. Pixel grids of different sizes are no one grid: one
    line naming both sizes and the fix, exit 1, no mask written."""
    truth = _road_mask()
    height, width = int(truth.shape[0] * scale), int(truth.shape[1] * scale)
    with warnings.catch_warnings():  # rasterio: no geotransform
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        labels = write_raster(tmp_path / "105_mask.png", np.stack([truth] * 3), crs=None,
                              transform=rasterio.Affine.identity(), driver="PNG")
        image = write_raster(tmp_path / "105_sat.png",
                             np.ones((3, height, width), np.uint8), crs=None,
                             transform=rasterio.Affine.identity(), driver="PNG")
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
    assert_one_line_error(result, "105_mask.png", "105_sat.png", "60 x 40",
                          f"{width} x {height}", "image's size")
    assert not (tmp_path / "mask.tif").exists()


def test_colours_near_a_palette_colour_take_its_class(tmp_path, run_cli):
    """Colours one unit off a palette colour ([254, 0, 0], as JPEG leaves them) were
    unknown and written as 255: colours within 16 in every band of a palette colour take
    its class (its ignore, for an ignore entry), with one warning counting them; 17 off is
    still unknown."""
    ids = np.ones((20, 30), np.uint8) * 2  # building [0, 0, 255]
    ids[:, 10:] = 6  # clutter [255, 0, 0]
    rgb = _paint(ids)
    rgb[:, 0, 0] = (0, 16, 240)  # building, 16 off
    rgb[:, 0, 20] = (254, 0, 0)  # clutter, 1 off
    rgb[:, 1, 0] = (0, 0, 238)  # 17 off: unknown
    rgb[:, 2, 0] = (3, 3, 3)  # near the palette's black "ignore": ignored silently
    rgb[:, 3, 0] = (0, 0, 0)
    labels = write_raster(tmp_path / "labels.png", rgb, driver="PNG")
    image = write_raster(tmp_path / "image.tif", np.ones((3, 20, 30), np.uint8))
    palette = tmp_path / "palette.json"
    palette.write_text(json.dumps({**{k: list(v) for k, v in POTSDAM.items()},
                                   "ignore": [0, 0, 0]}))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif", "--json",
                     "--palette", palette)
    assert result.exit_code == 0, result.output
    expected = ids.copy()
    expected[1:4, 0] = 255
    np.testing.assert_array_equal(_read(tmp_path / "mask.tif")[0], expected)
    summary = json.loads(result.stdout)["masks"][0]
    assert summary["unknown_pixels"] == 1 and summary["ignored_pixels"] == 3
    assert "3 pixels have a colour within 16 of one palette colour" in result.stderr
    assert "[0, 0, 238]: 1 px" in result.stderr
    # under the image's nodata a pixel is 255, and not counted
    pixels = np.ones((3, 20, 30), np.uint8)
    pixels[:, 0, 20] = 0
    image = write_raster(tmp_path / "image_nd.tif", pixels, nodata=0)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask_nd.tif", "--palette",
                     palette)
    assert result.exit_code == 0, result.output
    assert _read(tmp_path / "mask_nd.tif")[0][0, 20] == 255
    assert "2 pixels have a colour within 16" in result.stderr


def test_jpeg_colour_labels_are_read_and_a_jpeg_photo_refused_as_jpeg(tmp_path, run_cli):
    """Colour labels saved as JPEG (YCbCr, quality 50: 10 px class blocks; under 10 % of
    pixels keep an exact palette colour) were refused as "a photo ... Did you swap LABELS
    and IMAGE?": they are read, each pixel within 16 of a palette colour taking its class
    (none wrongly). A JPEG photo is refused naming JPEG."""
    rng = np.random.default_rng(35)
    ids = rng.integers(1, 7, (20, 30)).repeat(10, 0).repeat(10, 1).astype(np.uint8)
    jpeg = {"compress": "jpeg", "photometric": "ycbcr", "jpeg_quality": 50, "tiled": True,
            "blockxsize": 64, "blockysize": 64}
    labels = write_raster(tmp_path / "labels.tif", _paint(ids), **jpeg)
    with rasterio.open(labels) as src:
        decoded = src.read()
    exact = (decoded == _paint(ids)).all(axis=0).mean()
    assert exact < PALETTE_SHARE  # refused as a photo before
    image = write_raster(tmp_path / "image.tif", np.ones((3, *ids.shape), np.uint8))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif", "--palette",
                     "potsdam")
    assert result.exit_code == 0, result.output
    mask = _read(tmp_path / "mask.tif")[0]
    labelled = mask != 255
    assert labelled.mean() > 2 * exact and (mask[labelled] == ids[labelled]).all()
    assert "JPEG compression" in result.stderr
    photo = write_raster(tmp_path / "photo.tif",
                         rng.integers(0, 255, (3, *ids.shape), np.uint8), **jpeg)
    result = run_cli("make-masks", photo, image, "-o", tmp_path / "m2.tif", "--palette",
                     "potsdam")
    assert_one_line_error(result, "photo.tif", "JPEG-compressed", "swap LABELS and IMAGE",
                          "losslessly")


def test_a_class_map_given_names_the_ids_over_the_raster_s_own_names(tmp_path, run_cli):
    """--class-map with a label raster tagged GEOTILE_CLASS_NAMES played no part: the
    masks, categories and --json took the tag's names. The option given wins."""
    ids = np.array([[0, 1, 2], [2, 1, 0]], np.uint8)
    labels = write_raster(tmp_path / "tagged.tif", ids)
    with rasterio.open(labels, "r+") as dst:
        dst.update_tags(GEOTILE_CLASS_NAMES=json.dumps(["background", "imp", "bld"]))
    image = write_raster(tmp_path / "image.tif", np.ones((3, 2, 3), np.uint8))
    path = tmp_path / "classes.json"
    path.write_text('{"road": 1, "building": 2}')
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif", "--json",
                     "--class-map", path)
    assert result.exit_code == 0, result.output
    named = ["background", "road", "building"]
    assert json.loads(result.stdout)["classes"] == named
    assert json.loads(_read(tmp_path / "mask.tif")[2]["GEOTILE_CLASS_NAMES"]) == named
    # without --class-map the tag names them
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m2.tif", "--json")
    assert json.loads(result.stdout)["classes"] == ["background", "imp", "bld"]


def test_tile_keeps_the_class_names_of_the_masks_in_their_patches(tmp_path, run_cli, caplog):
    """tile --palette (and tile --masks of a named mask) wrote mask patches with no class
    names: evaluate then named the truth's ids with the prediction's names (Potsdam: building
    IoU 0.94 where it was 0.009). The patches carry the mask's names, so evaluate matches a
    prediction naming the classes in another order by name."""
    rng = np.random.default_rng(26)
    ids = _scene(rng, (64, 64))
    labels = write_raster(tmp_path / "labels.tif", _paint(ids))
    image = write_raster(tmp_path / "image.tif", np.ones((3, 64, 64), np.uint8))
    result = run_cli("tile", image, "--masks", labels, "--palette", "potsdam", "--size", "16",
                     "-o", tmp_path / "patches")
    assert result.exit_code == 0, result.output
    make_masks(labels, image, tmp_path / "mask.tif", palette="potsdam")
    result = run_cli("tile", image, "--masks", tmp_path / "mask.tif", "--size", "16",
                     "-o", tmp_path / "patches2")
    assert result.exit_code == 0, result.output
    predictions = tmp_path / "predictions"
    predictions.mkdir()
    for folder in ("patches", "patches2"):
        masks = sorted((tmp_path / folder / "masks").glob("*.tif"))
        assert len(masks) == 16
        for patch in masks:
            with rasterio.open(patch) as src:
                assert json.loads(src.tags()["GEOTILE_CLASS_NAMES"]) == [
                    "background", *POTSDAM], patch.name
                truth, profile = src.read(1), src.profile
            # a softmax model without background: ids 0..5 named in Potsdam's order
            with rasterio.open(predictions / patch.name, "w", **profile) as dst:
                dst.write(truth - 1, 1)
                dst.update_tags(GEOTILE_OUTPUT="class", GEOTILE_CLASS_NAMES=json.dumps(
                    list(POTSDAM)))
        result = run_cli("evaluate", predictions, tmp_path / folder / "masks", "--json")
        assert result.exit_code == 0, result.output
        scores = json.loads(result.stdout)
        assert scores["accuracy"] == 1.0 and scores["pixels"] == 64 * 64
        ious = {c["class"]: c["iou"] for c in scores["classes"] if c["support"]}
        assert ious == dict.fromkeys(POTSDAM, 1.0)


def test_an_unnamed_truth_holding_ids_the_prediction_does_not_name_is_warned(tmp_path,
                                                                              run_cli):
    """An unnamed truth is scored under the prediction's names; an id they do not cover
    (truth 6 against names of ids 0..5) says the two number their classes differently."""
    truth = np.repeat(np.arange(1, 7, dtype=np.uint8), 10)[None].repeat(6, 0)
    t = write_raster(tmp_path / "t.tif", truth)
    p = write_raster(tmp_path / "p.tif", truth - 1)
    with rasterio.open(p, "r+") as dst:
        dst.update_tags(GEOTILE_OUTPUT="class", GEOTILE_CLASS_NAMES=json.dumps(list(POTSDAM)))
    result = run_cli("evaluate", p, t)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "t.tif" in lines[0] and "6" in lines[0], result.stderr
    assert "names no classes" in lines[0]
    (tmp_path / "pf").mkdir(), (tmp_path / "tf").mkdir()
    for name in ("a", "b"):
        (tmp_path / "pf" / f"{name}.tif").write_bytes(p.read_bytes())
        (tmp_path / "tf" / f"{name}.tif").write_bytes(t.read_bytes())
    result = run_cli("evaluate", tmp_path / "pf", tmp_path / "tf")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "names no classes" in lines[0], result.stderr
    t2 = write_raster(tmp_path / "t2.tif", truth - 1)  # ids the names cover: no warning
    assert run_cli("evaluate", p, t2).stderr.strip() == ""


def test_class_0_named_as_a_class_is_labelled_not_empty(tmp_path, run_cli):
    """Class-index labels naming id 0 as a class (water): make-masks counted it out of
    positive_pixels and tile --skip-empty dropped the patches of only water."""
    ids = np.zeros((32, 48), np.uint8)  # columns 0..15: water only
    ids[:, 16:32], ids[:, 32:] = 1, 2
    ids[0, 40] = 255
    labels = write_raster(tmp_path / "labels.tif", ids, nodata=255)
    with rasterio.open(labels, "r+") as dst:
        dst.update_tags(GEOTILE_CLASS_NAMES=json.dumps(["water", "forest", "urban"]))
    image = write_raster(tmp_path / "image.tif", np.ones((3, 32, 48), np.uint8))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)["masks"][0]
    assert summary["positive_pixels"] == 32 * 48 - 1 and summary["ignored_pixels"] == 1
    result = run_cli("tile", image, "--masks", tmp_path / "mask.tif", "--size", "16",
                     "--skip-empty", "-o", tmp_path / "patches", "--json")
    assert result.exit_code == 0, result.output
    import csv

    with open(tmp_path / "patches" / "index.csv") as f:
        rows = {(int(r["row"]), int(r["col"])): r for r in csv.DictReader(f)}
    assert len(rows) == 6 and float(rows[(0, 0)]["positive_fraction"]) == 1.0
    assert float(rows[(0, 2)]["positive_fraction"]) == pytest.approx(255 / 256, abs=1e-6)
    with rasterio.open(labels, "r+") as dst:  # unnamed again: 0 is background
        dst.update_tags(GEOTILE_CLASS_NAMES=json.dumps(["background", "forest", "urban"]))
    make_masks(labels, image, tmp_path / "mask2.tif")
    result = run_cli("tile", image, "--masks", tmp_path / "mask2.tif", "--size", "16",
                     "--skip-empty", "-o", tmp_path / "patches2", "--json")
    assert json.loads(result.stdout)["skipped_empty"] == 2


def test_class_masks_describe_their_band_as_class_not_footprint(tmp_path, run_cli):
    """Masks of class ids (a palette's, class indices) said "footprint" (the building band)
    to gdalinfo and QGIS; a 0/255 building mask still does."""
    rng = np.random.default_rng(7)
    ids = _scene(rng, (32, 32))
    image = write_raster(tmp_path / "image.tif", np.ones((3, 32, 32), np.uint8))
    colours = write_raster(tmp_path / "colours.tif", _paint(ids))
    index = write_raster(tmp_path / "index.tif", ids)
    binary = write_raster(tmp_path / "binary.tif", np.where(ids == 2, 255, 0).astype(np.uint8))
    for labels, extra, expected in ((colours, ["--palette", "potsdam"], "class"),
                                    (index, [], "class"), (binary, [], "footprint")):
        out = tmp_path / f"{labels.stem}_mask.tif"
        result = run_cli("make-masks", labels, image, "-o", out, *extra)
        assert result.exit_code == 0, result.output
        with rasterio.open(out) as src:
            assert src.descriptions == (expected,), labels.name


def test_colours_near_two_palette_colours_are_not_snapped(tmp_path, run_cli):
    """Cityscapes' bus [0, 60, 100] and train [0, 80, 100] are 20 apart: a colour within 16
    of both (JPEG, antialiased borders) took the nearer's class, or the first's on a tie
    (25 % of a quality 15 JPEG checkerboard given the other class). Only a colour within 16
    of one palette colour is snapped; the others stay 255."""
    palette = tmp_path / "palette.json"
    palette.write_text(json.dumps({"bus": [0, 60, 100], "train": [0, 80, 100]}))
    rgb = np.zeros((3, 4, 8), np.uint8)
    rgb[1, :, :4], rgb[1, :, 4:], rgb[2] = 60, 80, 100
    greens = {(0, 0): 70, (0, 1): 69, (0, 2): 64, (0, 3): 50, (0, 4): 71, (0, 5): 90,
              (0, 6): 97, (1, 0): 62}
    for (row, col), green in greens.items():
        rgb[1, row, col] = green
    labels = write_raster(tmp_path / "labels.png", rgb, driver="PNG")
    image = write_raster(tmp_path / "image.tif", np.ones((3, 4, 8), np.uint8))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif", "--palette",
                     palette)
    assert result.exit_code == 0, result.output
    expected = np.ones((4, 8), np.uint8)
    expected[:, 4:] = 2
    expected[0, [0, 1, 2, 4, 6]] = 255  # near both (70, 69, 64, 71); 17 off (97)
    np.testing.assert_array_equal(_read(tmp_path / "mask.tif")[0], expected)
    assert "3 pixels have a colour within 16 of one palette colour" in result.stderr
    # a checkerboard of 4 px squares of both colours as a quality 15 JPEG: none wrong
    truth = np.where((np.indices((96, 96)) // 4).sum(axis=0) % 2 == 0, 1, 2).astype(np.uint8)
    rgb = np.zeros((3, 96, 96), np.uint8)
    rgb[1], rgb[2] = np.where(truth == 1, 60, 80), 100
    labels = write_raster(tmp_path / "labels.tif", rgb, compress="jpeg", jpeg_quality=15,
                          photometric="ycbcr", tiled=True, blockxsize=16, blockysize=16)
    image = write_raster(tmp_path / "image96.tif", np.ones((3, 96, 96), np.uint8))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask96.tif", "--palette",
                     palette)
    assert result.exit_code == 0, result.output
    mask = _read(tmp_path / "mask96.tif")[0]
    assert (mask != 255).any() and (mask != 255).sum() < mask.size
    assert ((mask != truth) & (mask != 255)).sum() == 0


def test_the_0_255_rule_reads_a_class_raster_no_further_than_its_first_block(tmp_path,
                                                                              monkeypatch):
    """A class raster of ids 0, 1, 2 (no 255), tiled 256 px: make-masks' 0/255 detection
    read all its 16 blocks before any mask (256 on a 4096 px raster); it stops at the first
    block whose ids alone exceed the strays a mask may have, once per file. (A raster of
    ids under 1 % of its pixels is read once whole: an antialiased mask's edge may come
    before its 255s.)"""
    from geotile.label_rasters import label_raster_kind

    ids = np.zeros((1024, 1024), np.uint8)
    ids[::4, :] = 1
    ids[:, ::512] = 2
    path = write_raster(tmp_path / "classes.tif", ids, tiled=True, blockxsize=256,
                        blockysize=256)
    reads = []
    read = rasterio.io.DatasetReader.read
    monkeypatch.setattr(rasterio.io.DatasetReader, "read",
                        lambda self, *a, **k: reads.append(1) or read(self, *a, **k))
    for _ in range(2):
        with rasterio.open(path) as src:
            assert label_raster_kind(src, path, None) == ([1], "index")
    assert len(reads) == 1


def test_an_antialiased_0_255_mask_in_one_row_strips_is_a_mask_whatever_comes_first(tmp_path):
    """The 0/255 scan stopped at the first block holding in-between values while no 255 was
    seen yet: a PNG-like mask in 1-row strips whose building's antialiased top row (20 px of
    128, 0.5 %) comes before its 255s was read as class ids (the building 'ignore', 129
    classes, no warning). It is a 0/255 mask read >= 128 as 1, as the same mask tiled is."""
    pixels = np.zeros((64, 64), np.uint8)
    pixels[20:40, 20:40] = 255
    pixels[19, 20:40] = 128
    for blocks in ({"blockysize": 1}, {"tiled": True, "blockxsize": 16, "blockysize": 16}):
        name = "strips" if "blockysize" in blocks and len(blocks) == 1 else "tiled"
        labels = write_raster(tmp_path / f"{name}_mask.tif", pixels, **blocks)
        image = write_raster(tmp_path / f"{name}.tif", np.ones((3, 64, 64), np.uint8))
        with pytest.warns(GeotileWarning, match="0/255"):
            make_masks(labels, image, tmp_path / f"{name}_out.tif")
        with rasterio.open(tmp_path / f"{name}_out.tif") as src:
            mask = src.read(1)
        assert (mask == (pixels >= 128)).all(), name


def test_a_class_map_may_name_id_0_of_a_label_raster_and_keeps_its_own_name(tmp_path,
                                                                           run_cli):
    """Land cover ids 0 water, 1 building, 2 tree: --class-map {"water": 0, ...} was refused
    ("0 is background"), and a map renaming only 1 and 2 turned the raster's own class 0
    (tagged "water") into background: positive pixels 8 of 12, water dropped. A map may
    name id 0 of a label raster (then it is that class), and one that does not keeps the
    raster's own name of 0. A vector --class-field map still starts at 1."""
    ids = np.array([[0, 0, 1, 2], [0, 2, 2, 1], [0, 1, 2, 2]], np.uint8)
    labels = write_raster(tmp_path / "lc.tif", ids)
    with rasterio.open(labels, "r+") as dst:
        dst.update_tags(GEOTILE_CLASS_NAMES=json.dumps(["water", "building", "tree"]))
    image = write_raster(tmp_path / "image.tif", np.ones((3, *ids.shape), np.uint8))
    for n, (mapping, names) in enumerate((
            ({"lake": 0, "roof": 1, "tree": 2}, ["lake", "roof", "tree"]),
            ({"roof": 1, "forest": 2}, ["water", "roof", "forest"]),
            ({"background": 0, "roof": 1, "forest": 2}, ["background", "roof", "forest"]))):
        path = tmp_path / f"map{n}.json"
        path.write_text(json.dumps(mapping))
        result = run_cli("make-masks", labels, image, "-o", tmp_path / f"m{n}.tif", "--json",
                         "--class-map", path)
        assert result.exit_code == 0, result.output
        made = json.loads(result.stdout)
        assert made["classes"] == names
        positive = 8 if names[0] == "background" else 12
        assert made["masks"][0]["positive_pixels"] == positive, made
        assert json.loads(_read(tmp_path / f"m{n}.tif")[2]["GEOTILE_CLASS_NAMES"]) == names
    polygons = tmp_path / "p.geojson"
    polygons.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"kind": "lake"}, "geometry": {
            "type": "Polygon", "coordinates": [[[UTM_ORIGIN[0], UTM_ORIGIN[1]],
                                                [UTM_ORIGIN[0] + 1, UTM_ORIGIN[1]],
                                                [UTM_ORIGIN[0] + 1, UTM_ORIGIN[1] - 1],
                                                [UTM_ORIGIN[0], UTM_ORIGIN[1]]]]}}]}))
    result = run_cli("make-masks", polygons, image, "-o", tmp_path / "v.tif", "--class-field",
                     "kind", "--class-map", tmp_path / "map0.json")
    assert_one_line_error(result, "'lake' has id 0")
def test_a_class_map_naming_id_0_of_a_0_255_mask_is_refused(tmp_path, run_cli):
    """A 0/255 mask's 0 is its background: {"building": 0} named all 12784 background pixels
    'building' (16384 positive) with only a warning about id 1. Refused in one line."""
    from tests.conftest import assert_one_line_error as one_line

    pixels = np.zeros((64, 64), np.uint8)
    pixels[10:50, 10:50] = 255
    labels = write_raster(tmp_path / "gt.tif", pixels)
    image = write_raster(tmp_path / "img.tif", np.ones((3, 64, 64), np.uint8))
    (tmp_path / "map.json").write_text(json.dumps({"building": 0}))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif", "--class-map",
                     tmp_path / "map.json")
    one_line(result, "gt.tif", "0/255 mask", "--class-map")
    assert not (tmp_path / "m.tif").exists()


@pytest.mark.parametrize("driver", ["GTiff", "PNG"])
def test_a_paletted_0_255_mask_is_a_0_255_mask(tmp_path, run_cli, driver):
    """A 0/255 mask with a colour table (a paletted GeoTIFF; PIL's .convert("P") PNG, a grey
    table) lost every building: its 255s were written as the ignore value, silently, while
    tile and evaluate read them as the building. Without --palette it is a 0/255 mask."""
    truth = np.zeros((8, 10), np.uint8)
    truth[2:5, 3:7] = 255
    grey = {i: (i, i, i, 255) for i in range(256)}
    table = grey if driver == "PNG" else {0: (0, 0, 0, 255), 255: (255, 255, 255, 255)}
    with warnings.catch_warnings():  # a PNG: no geotransform
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        suffix = ".png" if driver == "PNG" else ".tif"
        labels = write_raster(tmp_path / f"gt{suffix}", truth, driver=driver,
                              **({"crs": None, "transform": rasterio.Affine.identity()}
                                 if driver == "PNG" else {}))
        with rasterio.open(labels, "r+") as dst:
            dst.write_colormap(1, table)
        with rasterio.open(labels) as src:
            assert src.colorinterp[0] == rasterio.enums.ColorInterp.palette
    image = write_raster(tmp_path / "img.tif", np.ones((3, 8, 10), np.uint8),
                         **({"crs": None, "transform": rasterio.Affine.identity()}
                            if driver == "PNG" else {}))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif", "--json")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "mask.tif")[0], truth // 255)
    summary = json.loads(result.stdout)["masks"][0]
    assert summary["positive_pixels"] == 12 and summary["ignored_pixels"] == 0


def test_instance_ids_and_grey_class_masks_stay_ids_in_make_masks(tmp_path, run_cli):
    """A uint8 instance-id raster (300 buildings, ids mod 256, in random order) and a class
    mask saved as 0/64/128/192/255 were read as JPEG-noisy 0/255 masks: ids below 128
    became background, the rest building. Their values 1..254 lie away from the
    0 <-> 255 edges: class ids, as they are (255 the ignore value)."""
    from tests.test_vectorize_inputs import _grey_classes, _instance_ids

    for name, ids in (("inst", _instance_ids()), ("grey", _grey_classes())):
        labels = write_raster(tmp_path / f"{name}.tif", ids)
        image = write_raster(tmp_path / f"{name}_image.tif",
                             np.ones((3, *ids.shape), np.uint8))
        result = run_cli("make-masks", labels, image, "-o", tmp_path / f"{name}_mask.tif")
        assert result.exit_code == 0, result.output
        np.testing.assert_array_equal(_read(tmp_path / f"{name}_mask.tif")[0], ids)


def test_the_0_255_scan_counts_edge_strays_across_its_row_bands(tmp_path, monkeypatch):
    """The strays at 0 <-> 255 edges of a JPEG mask read in row bands of a few rows (a
    wide raster) are those of one read: the rows around each band count."""
    from PIL import Image

    from geotile import raster_kinds

    mask = np.zeros((120, 160), np.uint8)
    rng = np.random.default_rng(4)
    for y, x in rng.integers(0, 100, (25, 2)):
        mask[y:y + rng.integers(4, 20), x:x + rng.integers(4, 50)] = 255
    Image.fromarray(mask).save(tmp_path / "mask.jpg", quality=75)
    decoded = np.asarray(Image.open(tmp_path / "mask.jpg"))
    counts = {}
    for size, name in ((1 << 18, "one"), (160 * 13, "bands")):  # 1 band; of 13 rows
        monkeypatch.setattr(raster_kinds, "_SCAN_PIXELS", size)
        path = write_raster(tmp_path / f"{name}.tif", decoded, blockysize=1)
        with rasterio.open(path) as src:
            counts[name] = raster_kinds.counts_0_255(src)
    assert counts["one"].tolist() == counts["bands"].tolist()
    assert counts["one"][256] >= 0.9 * counts["one"][1:255].sum() > 0
    assert raster_kinds.kind_0_255(counts["bands"]) == "binary"


@pytest.mark.parametrize("dtype", [np.uint16, np.int16, np.float32])
def test_a_wider_0_255_mask_as_labels_is_class_1_not_ignored(tmp_path, run_cli, dtype):
    """A 0/255 building mask exported as UInt16, Int16 or Float32 (values 0 and 255 only)
    had every building written as the ignore value (0 labelled, all ignored). It is a 0/255
    mask as a uint8 one is: 255 is class 1; a wider raster of ids 0..3 keeps 255 ignored."""
    truth = np.zeros((8, 10), np.uint8)
    truth[2:5, 3:7] = 255
    labels = write_raster(tmp_path / "gt.tif", truth.astype(dtype))
    image = write_raster(tmp_path / "img.tif", np.ones((3, 8, 10), np.uint8))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif", "--json")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "mask.tif")[0], truth // 255)
    summary = json.loads(result.stdout)["masks"][0]
    assert summary["positive_pixels"] == 12 and summary["ignored_pixels"] == 0
    ids = np.where(truth == 255, 255, np.arange(10) % 4).astype(dtype)
    labels = write_raster(tmp_path / "ids.tif", ids)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "ids_mask.tif", "--json")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "ids_mask.tif")[0], ids.astype(np.uint8))
    assert json.loads(result.stdout)["masks"][0]["ignored_pixels"] == 12


@pytest.mark.parametrize("palette, colours, names", [
    ("deepglobe",  # DeepGlobe land cover: unknown (black: clouds) is not scored
     [(0, 255, 255), (255, 255, 0), (255, 0, 255), (0, 255, 0), (0, 0, 255), (255, 255, 255),
      (0, 0, 0)],
     ["urban_land", "agriculture_land", "rangeland", "forest_land", "water", "barren_land",
      None]),
    ("uavid",  # UAVid: background clutter is its label 0
     [(0, 0, 0), (128, 0, 0), (128, 64, 128), (0, 128, 0), (128, 128, 0), (192, 0, 192),
      (64, 0, 128), (64, 64, 0)],
     ["background", "building", "road", "tree", "low_vegetation", "static_car", "moving_car",
      "human"]),
    ("dronedeploy",  # DroneDeploy (its README's colours): magenta is its IGNORE
     [(230, 25, 75), (145, 30, 180), (60, 180, 75), (245, 130, 48), (255, 255, 255),
      (0, 130, 200), (255, 0, 255)],
     ["building", "clutter", "vegetation", "water", "ground", "car", None]),
])
def test_built_in_palettes_of_colour_coded_datasets(tmp_path, run_cli, palette, colours,
                                                    names):
    """DeepGlobe's 104_mask.png, UAVid's and DroneDeploy's colour labels needed a JSON
    palette written by hand ('--palette deepglobe: no such file, and not a built-in
    palette'): each is built in, with its classes in the dataset's order and its
    unscored colour ignored (255)."""
    ids = np.repeat(np.arange(len(colours)), 4)[None, :].repeat(6, axis=0)
    rgb = np.moveaxis(np.array(colours, np.uint8)[ids], -1, 0).copy()
    labels = write_raster(tmp_path / "104_mask.tif", rgb)
    image = write_raster(tmp_path / "104_sat.tif", np.zeros((3, *ids.shape), np.uint8))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif",
                     "--palette", palette)
    assert result.exit_code == 0, result.output
    mask, nodata, tags, _ = _read(tmp_path / "mask.tif")
    classes = [n for n in names if n is not None and n != "background"]
    expected = [255 if n is None else 0 if n == "background" else 1 + classes.index(n)
                for n in names]
    np.testing.assert_array_equal(mask, np.array(expected, np.uint8)[ids])
    assert nodata == 255
    assert json.loads(tags["GEOTILE_CLASS_NAMES"]) == ["background", *classes]


@pytest.mark.parametrize("how", ["serial", "workers"])
def test_an_image_the_label_raster_cannot_be_placed_on_is_refused_before_any_mask(
        tmp_path, run_cli, how):
    """A class raster over 4 images, the 3rd without a CRS on a grid of its own: one process
    wrote 2 masks, --workers 2 wrote 3 (the others), before refusing it. Every image is now
    checked (headers only) first: the same one line, exit 1, nothing written."""
    labels = write_raster(tmp_path / "classes.tif",
                          (np.arange(40 * 40).reshape(40, 40) % 3).astype(np.uint8))
    images = [write_raster(tmp_path / f"im{i}.tif", np.ones((3, 10, 10), np.uint8),
                           crs=None if i == 2 else "EPSG:32616",
                           transform=from_origin(X0 + 5 * i, Y0, *([1, 1] if i == 2 else
                                                                   [0.5, 0.5])))
              for i in range(4)]
    out = tmp_path / "masks"
    extra = ["--workers", "2"] if how == "workers" else []
    result = run_cli("make-masks", labels, *images, "-o", out, *extra)
    assert_one_line_error(result, "im2.tif: the raster has no CRS", "gdal_edit.py -a_srs")
    assert "output(s) were finished" not in result.stderr
    assert not out.exists() or list(out.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "classes.tif", "im0.tif", "im1.tif", "im2.tif", "im3.tif"]


def test_pixel_grids_of_other_sizes_are_refused_before_any_mask(tmp_path, run_cli):
    """Label PNG and images without georeferencing, the 2nd image of another size: the 1st
    image's mask was written before the refusal; now none is."""
    with warnings.catch_warnings():  # rasterio: no geotransform
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        labels = write_raster(tmp_path / "labels.png", np.stack([_road_mask()] * 3), crs=None,
                              transform=rasterio.Affine.identity(), driver="PNG")
        images = [write_raster(tmp_path / f"{i}_sat.png", np.ones((3, *shape), np.uint8),
                               crs=None, transform=rasterio.Affine.identity(), driver="PNG")
                  for i, shape in enumerate([(40, 60), (20, 30), (40, 60)])]
    out = tmp_path / "masks"
    result = run_cli("make-masks", labels, *images, "-o", out)
    assert_one_line_error(result, "1_sat.png (30 x 20 px)", "image's size")
    assert not out.exists() or list(out.iterdir()) == []


def test_tile_palette_refuses_an_unplaceable_label_raster_before_converting_any(tmp_path,
                                                                                 run_cli):
    """tile --palette over 3 images, the 3rd's label raster without a CRS on a grid of its
    own: the first two label rasters were converted (each warning of its 20 unknown-colour
    pixels) before the refusal, so stderr held 3 lines; every pair is now checked from its
    headers first: one line, exit 1, nothing written."""
    rng = np.random.default_rng(3)
    images, labels = [], []
    for i in range(3):
        rgb = _paint(_scene(rng, (32, 32)))
        rgb[:, :4, :5] = 7  # 20 px of a colour of no class
        transform = from_origin(X0 + 100 * i, Y0, 0.5, 0.5)
        images.append(write_raster(tmp_path / f"t{i}.tif", np.ones((3, 32, 32), np.uint8),
                                   transform=transform))
        (tmp_path / "labels").mkdir(exist_ok=True)
        labels.append(write_raster(tmp_path / "labels" / f"t{i}.tif", rgb,
                                   **({"crs": None, "transform": from_origin(0, 32, 1, 1)}
                                      if i == 2 else {"transform": transform})))
    out = tmp_path / "out"
    result = run_cli("tile", *images, "--masks", tmp_path / "labels", "--palette", "potsdam",
                     "--size", 16, "-o", out)
    assert_one_line_error(result, "the raster has no CRS", "gdal_edit.py -a_srs")
    assert not out.exists()


def _coloured(tmp_path, name, palette: dict) -> object:
    """A 40 x 60 RGB label raster of blocks of each colour of ``palette``."""
    colours = np.array(list(palette.values()), np.uint8)
    ids = (np.arange(6).repeat(10)[None, :] + np.arange(4).repeat(10)[:, None]) % len(colours)
    return write_raster(tmp_path / name, np.moveaxis(colours[ids], -1, 0).copy(),
                        photometric="RGB")


@pytest.mark.parametrize("command", ["make-masks", "tile", "evaluate", "vectorize"])
def test_colour_labels_without_a_palette_name_the_palette_of_their_colours(tmp_path, run_cli,
                                                                           command):
    """A DeepGlobe land cover mask given without --palette was told "--palette potsdam" (by
    make-masks, tile, evaluate and vectorize alike), whose colours leave its rangeland and
    unknown pixels out; it is told --palette deepglobe."""
    from geotile.palettes import DEEPGLOBE

    labels = _coloured(tmp_path, "deepglobe_mask.tif", DEEPGLOBE)
    image = write_raster(tmp_path / "image.tif", np.ones((3, 40, 60), np.uint8))
    args = {"make-masks": ["make-masks", labels, image, "-o", tmp_path / "m.tif"],
            "tile": ["tile", image, "--masks", labels, "--size", 20, "-o", tmp_path / "t"],
            "evaluate": ["evaluate", write_raster(tmp_path / "p.tif", np.zeros((40, 60),
                                                                              np.uint8)), labels],
            "vectorize": ["vectorize", labels, "-o", tmp_path / "v.gpkg"]}[command]
    result = run_cli(*args)
    if command == "tile":
        assert result.exit_code == 0, result.output
        assert "--palette deepglobe" in result.stderr and "potsdam" not in result.stderr
    else:
        assert_one_line_error(result, "deepglobe_mask.tif", "--palette deepglobe")
        assert "potsdam" not in result.stderr


def test_colour_labels_advice_follows_their_colours(tmp_path, run_cli):
    """Potsdam's colours are told --palette potsdam, UAVid's --palette uavid; colours of
    no built-in palette are told to write a JSON palette."""
    from geotile.palettes import UAVID

    image = write_raster(tmp_path / "image.tif", np.ones((3, 40, 60), np.uint8))
    unknown = {f"c{i}": (10 * i + 5, 200 - 20 * i, 77) for i in range(6)}
    for name, palette, advice in (("potsdam", POTSDAM, "--palette potsdam"),
                                  ("uavid", UAVID, "--palette uavid"),
                                  ("other", unknown, '--palette palette.json ({"building": ')):
        labels = _coloured(tmp_path, f"{name}.tif", palette)
        result = run_cli("make-masks", labels, image, "-o", tmp_path / f"{name}_mask.tif")
        assert_one_line_error(result, f"{name}.tif", advice)
        if name == "other":
            assert "potsdam, deepglobe, uavid, dronedeploy" in result.stderr


def test_colour_labels_of_another_dataset_are_not_told_a_palette_missing_their_colours(
        tmp_path, run_cli):
    """GID (Gaofen Image Dataset) labels: built-up red, farmland green, forest cyan, meadow
    yellow, water blue, unknown black. Without --palette they were told "--palette
    deepglobe", whose colours cover 5 of the 6 (83 % of the pixels) but name cyan urban,
    green forest and yellow agriculture, and leave red (a sixth of the pixels) out; a
    colour of the labels no built-in palette has means a JSON palette of their own."""
    gid = {"unknown": (0, 0, 0), "built_up": (255, 0, 0), "farmland": (0, 255, 0),
           "forest": (0, 255, 255), "meadow": (255, 255, 0), "water": (0, 0, 255)}
    labels = _coloured(tmp_path, "GF2_PMS1__L1A0000564539-MSS1_label.tif", gid)
    image = write_raster(tmp_path / "image.tif", np.ones((3, 40, 60), np.uint8))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
    assert_one_line_error(result, "GF2_PMS1__L1A0000564539-MSS1_label.tif",
                          '--palette palette.json ({"building": ')
    assert "--palette deepglobe" not in result.stderr
    assert not (tmp_path / "mask.tif").exists()



def test_gid15_colour_labels_are_not_told_the_five_billion_pixels_palette(tmp_path, run_cli):
    """GID-15's colour labels (<image>_15label.tif) hold 15 of Five Billion Pixels' 24
    colours: once fbp was built in they were told "--palette fbp", whose ids are FBP's
    (traffic land 21 'road', rural residential 18: 15 classes spread over 1..21), not
    GID-15's 1..15; they are told a JSON palette of their own, as before. The same colours
    in FBP's <image>_24label.tif are still told --palette fbp."""
    from geotile.palettes import FBP

    gid15 = ("unlabeled", "industrial_area", "urban_residential", "rural_residential", "road",
             "paddy_field", "irrigated_field", "dry_cropland", "garden_land", "arbor_forest",
             "shrub_forest", "natural_meadow", "artificial_meadow", "river", "lake", "pond")
    colours = {name: FBP[name] for name in gid15}
    image = write_raster(tmp_path / "image.tif", np.ones((3, 40, 60), np.uint8))
    for suffix, advice in (("15label", '--palette palette.json ({"building": '),
                           ("24label", "--palette fbp")):
        labels = _coloured(tmp_path, f"GF2_PMS1__L1A0000647767-MSS1_{suffix}.tif", colours)
        result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
        assert_one_line_error(result, labels.name, advice)
        assert suffix == "24label" or "--palette fbp" not in result.stderr
        assert not (tmp_path / "mask.tif").exists()

def test_isprs_no_boundary_labels_are_still_told_the_potsdam_palette(tmp_path, run_cli):
    """Vaihingen's _noBoundary labels are Potsdam's colours with the class edges eroded to
    black (to be ignored). Once a palette missing a colour of 1 % of the pixels was no
    longer advised, they were told to write a JSON palette; black is their ignored edge:
    --palette potsdam (black then ignored, with a warning)."""
    from geotile.palettes import POTSDAM

    colours = {**POTSDAM, "edge": (0, 0, 0)}
    labels = _coloured(tmp_path, "top_mosaic_09cm_area1_noBoundary.tif", colours)
    image = write_raster(tmp_path / "image.tif", np.ones((3, 40, 60), np.uint8))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
    assert_one_line_error(result, "top_mosaic_09cm_area1_noBoundary.tif", "--palette potsdam")
    assert not (tmp_path / "mask.tif").exists()
    other = _coloured(tmp_path, "top_mosaic_09cm_area1.tif", colours)
    result = run_cli("make-masks", other, image, "-o", tmp_path / "mask.tif")
    assert_one_line_error(result, "top_mosaic_09cm_area1.tif", "--palette palette.json")


@pytest.mark.parametrize(("image_size", "label_size", "shift"), [
    (0.2, 0.2, 5.5),  # a grid half a pixel off the image's
    (0.3, 0.3, 5.5),
    (0.3, 0.15, 0.0),  # labels 2x finer: every image centre on a label pixel corner
])
def test_image_centres_on_label_pixel_edges_take_the_pixel_right_and_below(
        tmp_path, image_size, label_size, shift):
    """An image centre on the edge between two label pixels takes the one right of it and
    below (half-open pixels, as GDAL's floor). In floating point some of those centres fell
    a hair short: 0.2 m labels half a pixel off a UTM image gave 20 of 120 image columns
    the label column left of theirs (a label column twice, its neighbour lost; 1998 px),
    0.3 m ones 60 of 100 rows, 0.15 m labels under a 0.3 m image 40 of 100 rows."""
    ids = np.random.default_rng(21).integers(1, 7, (230, 260)).astype(np.uint8)
    ids[51, 61] = 9  # one label pixel lands on exactly one image pixel
    labels = write_raster(tmp_path / "labels.tif", ids,
                          transform=from_origin(X0, Y0, label_size, label_size))
    image = write_raster(tmp_path / "image.tif", np.ones((1, 100, 120), np.uint8),
                         transform=from_origin(X0 + shift * image_size, Y0 - shift * image_size,
                                               image_size, image_size))
    for rows in (100, 3):
        [summary] = make_masks(labels, image, tmp_path / f"mask{rows}.tif",
                               options=MaskOptions(band_rows=rows))
        assert summary["aligned"] == "nearest"
        step = round(image_size / label_size)
        first = int(shift * step + step / 2)  # of the label pixels right of and below centres
        expected = ids[first::step][:100, first::step][:, :120]
        mask = _read(tmp_path / f"mask{rows}.tif")[0]
        assert int((mask != expected).sum()) == 0
        assert int((mask == 9).sum()) == int((expected == 9).sum()) == 1


@pytest.mark.parametrize("dtype", ["float32", "int16"])
@pytest.mark.parametrize("shift", [0.0, 0.25])  # on the image's grid (copied), else nearest
def test_a_label_raster_with_an_alpha_band_gdal_s_mask_leaves_out_ignores_its_gaps(
        tmp_path, dtype, shift):
    """gdalwarp -dstalpha of a float32 or int16 class raster: GDAL's dataset mask honours a
    Byte or UInt16 alpha band only, so the label pixels the alpha marks empty (value 0 under
    it) were written as class 0, background (480 px of 2400 here), not ignored (255)."""
    from rasterio.enums import ColorInterp

    ids = np.random.default_rng(22).integers(1, 7, (40, 60)).astype(dtype)
    alpha = np.full(ids.shape, 255, dtype)
    alpha[:, :12] = 0
    ids[alpha == 0] = 0
    labels = write_raster(tmp_path / "labels.tif", np.stack([ids, alpha]))
    with rasterio.open(labels, "r+") as dst:
        dst.colorinterp = [ColorInterp.gray, ColorInterp.alpha]
    image = write_raster(tmp_path / "image.tif", np.ones((1, 40, 60), np.uint8),
                         transform=from_origin(X0 + shift * 0.5, Y0 - shift * 0.5, 0.5, 0.5))
    [summary] = make_masks(labels, image, tmp_path / "mask.tif")
    expected = np.where(alpha == 0, 255, ids).astype(np.uint8)
    mask = _read(tmp_path / "mask.tif")[0]
    assert summary["aligned"] == ("nearest" if shift else "copy")
    assert int((mask != expected).sum()) == 0
    assert summary["ignored_pixels"] == int((expected == 255).sum())


@pytest.mark.parametrize("form", ["/vsizip/{zip}/lc/cats.tif", "/vsitar/{tar}/lc/cats.tif"])
def test_class_names_of_a_label_raster_inside_an_archive(tmp_path, run_cli, form):
    """A land-cover download (a zip/tar of the class raster and its .aux.xml categories)
    read in place lost its class names: the classes were named 1, 2, 3."""
    import tarfile
    import zipfile

    ids = np.array([[0, 1, 2, 3], [3, 2, 1, 0]], np.uint8)
    labels = write_raster(tmp_path / "cats.tif", ids)
    sidecar = tmp_path / "cats.tif.aux.xml"
    sidecar.write_text(
        '<PAMDataset><PAMRasterBand band="1"><CategoryNames><Category>background</Category>'
        "<Category>building</Category><Category>road</Category><Category>water</Category>"
        "</CategoryNames></PAMRasterBand></PAMDataset>")
    with zipfile.ZipFile(tmp_path / "lc.zip", "w") as zf:
        zf.write(labels, "lc/cats.tif")
        zf.write(sidecar, "lc/cats.tif.aux.xml")
    with tarfile.open(tmp_path / "lc.tar", "w") as tf:
        tf.add(labels, "lc/cats.tif")
        tf.add(sidecar, "lc/cats.tif.aux.xml")
    image = write_raster(tmp_path / "image.tif", np.ones((3, 2, 4), np.uint8))
    given = form.format(zip=tmp_path / "lc.zip", tar=tmp_path / "lc.tar")
    result = run_cli("make-masks", given, image, "-o", tmp_path / "mask.tif", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["classes"] == ["background", "building", "road", "water"]


def test_a_nad27_label_raster_on_a_nad83_image_says_the_datum_shift_is_inexact(tmp_path,
                                                                             run_cli):
    """A NAD27 UTM label raster on a NAD83 UTM image: without the NADCON grid PROJ moves it
    by a Helmert good to 14 m (28 px at 0.5 m) without a word; make-masks says so once, as
    for vector labels, naming the file, both CRSs and how to get the grid."""
    from pyproj import Transformer

    from tests.test_masks import _nad27_grid_missing

    image = write_raster(tmp_path / "img.tif", np.zeros((1, 100, 100), np.uint8),
                         crs="EPSG:26916")
    x, y = Transformer.from_crs("EPSG:26916", "EPSG:26716", always_xy=True).transform(X0, Y0)
    ids = np.zeros((1, 100, 100), np.uint8)
    ids[0, 20:60, 20:60] = 1
    labels = write_raster(tmp_path / "nad27.tif", ids, crs="EPSG:26716",
                          transform=from_origin(x, y, 0.5, 0.5))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
    assert result.exit_code == 0, result.output
    said = [line for line in result.stderr.splitlines() if "projsync" in line]
    if _nad27_grid_missing(X0, Y0):
        assert len(said) == 1 and said[0].startswith("Warning: ")
        assert "nad27.tif: moving EPSG:26716 to EPSG:26916 is accurate to" in said[0]
        assert "PROJ_NETWORK=ON" in said[0]
    else:
        assert said == []
    assert _read(tmp_path / "mask.tif")[0][20:60, 20:60].all()
    assert _read(tmp_path / "mask.tif")[0].sum() == 1600


def test_a_label_raster_in_the_images_datum_says_nothing_of_grids(tmp_path, run_cli):
    """A WGS 84 lon/lat label raster on a WGS 84 UTM image: the same datum, no warning."""
    from rasterio.warp import transform_bounds

    image = write_raster(tmp_path / "img.tif", np.zeros((1, 100, 100), np.uint8))
    west, _, _, north = transform_bounds("EPSG:32616", "EPSG:4326", X0, Y0 - 50, X0 + 50, Y0)
    labels = write_raster(tmp_path / "ll.tif", np.ones((1, 100, 100), np.uint8),
                          crs="EPSG:4326", transform=from_origin(west - 1e-4, north + 1e-4,
                                                                 1e-5, 1e-5))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
    assert result.exit_code == 0 and "Warning" not in result.stderr, result.output


def test_a_label_raster_replaced_with_the_same_mtime_is_read_again(tmp_path):
    """In one process (a notebook, a pipeline worker), labels.tif (a 0/255 mask) was made
    into a mask, then replaced by class ids 0/1 with 255 to ignore whose modification time
    was the same (tar, cp -p and rsync -a keep it): the cached '0/255 mask' decision was
    reused, the 900 building pixels became background and the 512 ignored ones class 1.
    Now the replaced file is scanned again, as a fresh process reads it."""
    import os

    image = write_raster(tmp_path / "img.tif",
                         np.random.default_rng(0).integers(1, 250, (3, 64, 64)).astype(np.uint8))
    zero_255 = np.zeros((64, 64), np.uint8)
    zero_255[10:40, 10:40] = 255
    ids = np.where(zero_255 == 255, 1, 0).astype(np.uint8)
    ids[:, 56:] = 255
    labels, mask = tmp_path / "labels.tif", tmp_path / "mask.tif"
    counts = []
    for values in (zero_255, ids):
        write_raster(labels, values)
        os.utime(labels, ns=(1_700_000_000 * 10**9,) * 2)  # as tar extracts it: whole seconds
        make_masks(labels, image, mask, overwrite=True)
        with rasterio.open(mask) as src:
            counts.append(dict(zip(*np.unique(src.read(1), return_counts=True), strict=True)))
    assert counts[0] == {0: 3196, 1: 900}
    assert counts[1] == {0: 2684, 1: 900, 255: 512}


def _jpeg_class_ids(path):
    """A FloodNet-like label image of class ids 0..9 in bands, saved as JPEG (lossy)."""
    from PIL import Image

    ids = np.repeat(np.arange(10, dtype=np.uint8), 8)[np.newaxis].repeat(40, axis=0)
    ids[10:30, 5:75] = 5
    Image.fromarray(ids).save(path, quality=90)
    return ids


def test_class_ids_from_a_jpeg_are_warned_about(tmp_path):
    """make-masks and evaluate of class ids saved as JPEG: ids at class edges are moved
    (here to neighbouring ids), silently before; now one warning each names the file."""
    pytest.importorskip("PIL.Image")
    from geotile.evaluate import evaluate_rasters
    from geotile.label_rasters import make_masks_from_raster

    ids = _jpeg_class_ids(tmp_path / "6467_lab.jpg")
    with rasterio.open(tmp_path / "6467_lab.jpg") as src:
        assert (src.read(1) != ids).any()  # the codec moved some
    photo = np.zeros((3, 40, 80), np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(tmp_path / "6467.png", "w", driver="PNG", width=80, height=40,
                           count=3, dtype="uint8") as dst:
            dst.write(photo)
    with rasterio.open(tmp_path / "truth.tif", "w", driver="GTiff", width=80, height=40,
                       count=1, dtype="uint8") as dst:
        dst.write(ids[np.newaxis])
    with pytest.warns(GeotileWarning) as record:
        make_masks_from_raster(tmp_path / "6467_lab.jpg", [tmp_path / "6467.png"],
                               [tmp_path / "mask.tif"])
        evaluate_rasters(tmp_path / "6467_lab.jpg", tmp_path / "truth.tif")
    lossy = [str(w.message) for w in record if "JPEG-compressed (lossy)" in str(w.message)]
    assert len(lossy) == 2 and all("6467_lab.jpg" in text for text in lossy), lossy
    assert "the masks keep" in lossy[0] and "count as errors" in lossy[1]


def test_a_class_id_its_legend_names_no_data_is_ignored_in_the_mask(tmp_path, run_cli):
    """CORINE's 100 m index raster (EPSG:3035) names 48 'NODATA' in its legend without
    declaring it: make-masks burnt its pixels as class 48 (positive pixels, a class to
    train on) where evaluate leaves the same id out as no data. An id past 0 that the
    raster's names (or --class-map) call no data is written as the ignore value 255, as
    the label's declared nodata is, with one warning counting its pixels."""
    codes = (np.arange(6 * 8).reshape(6, 8) % 44 + 1).astype(np.uint8)
    codes[:2, :3] = 48  # outside CORINE's survey, inside the raster
    x0, y0 = 4_600_000, 3_000_000
    labels = write_raster(tmp_path / "clc.tif", codes, crs="EPSG:3035",
                          transform=from_origin(x0, y0, 100, 100))
    names = [""] + [f"clc_{i}" for i in range(1, 45)] + ["", "", "", "NODATA"]
    (tmp_path / "clc.tif.aux.xml").write_text(
        '<PAMDataset><PAMRasterBand band="1"><CategoryNames>'
        + "".join(f"<Category>{n}</Category>" for n in names)
        + "</CategoryNames></PAMRasterBand></PAMDataset>")
    image = write_raster(tmp_path / "ortho.tif", np.ones((3, 24, 32), np.uint8),
                         crs="EPSG:3035", transform=from_origin(x0, y0, 25, 25))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif", "--json")
    assert result.exit_code == 0, result.output
    expected = np.where(codes == 48, 255, codes).repeat(4, 0).repeat(4, 1)
    np.testing.assert_array_equal(_read(tmp_path / "mask.tif")[0], expected)
    summary = json.loads(result.stdout)["masks"][0]
    assert summary["ignored_pixels"] == 6 * 16 and "NODATA" not in summary["class_pixels"]
    assert summary["positive_pixels"] == 42 * 16
    warned = [line for line in result.stderr.splitlines() if "NODATA" in line]
    assert warned == [f"Warning: {labels}: class id 48 is named 'NODATA' (no data): its 96 "
                      "pixels are written as the ignore value 255."], result.stderr
    classes = {f"clc_{i}": i for i in range(1, 45)} | {"unknown": 2, "nodata": 48}
    del classes["clc_2"]
    (tmp_path / "classes.json").write_text(json.dumps(classes))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mapped.tif",
                     "--class-map", tmp_path / "classes.json")
    assert result.exit_code == 0, result.output
    expected[np.isin(codes, (2, 48)).repeat(4, 0).repeat(4, 1)] = 255
    np.testing.assert_array_equal(_read(tmp_path / "mapped.tif")[0], expected)
    assert (f"Warning: {labels}: class ids 2 ('unknown'), 48 ('nodata') are named no data: "
            "their 112 pixels are written as the ignore value 255.") in result.stderr


def test_a_vrts_scan_is_not_kept_past_a_rewrite_of_its_source(tmp_path):
    """The per-file scans (0/255 mask, nodata fractions...) were kept by the file's own
    path and times: for a VRT those of its XML, which stays as it is when the raster it
    points to is rewritten, so a process (a notebook, a service) kept the first verdict
    about pixels that had changed. A VRT's scan is kept by the times of the files it reads
    too: scanned again once one changed, as a fresh process would."""
    from geotile.raster_kinds import counts_0_255

    source = tmp_path / "m.tif"

    def write(values):
        with rasterio.open(source, "w", driver="GTiff", width=16, height=16, count=1,
                           dtype="uint8", crs="EPSG:32633",
                           transform=from_origin(500000, 4000000, 1, 1)) as dst:
            dst.write(values, 1)

    mask = np.zeros((16, 16), np.uint8)
    mask[4:12, 4:12] = 255
    write(mask)
    vrt = tmp_path / "m.vrt"
    vrt.write_text(
        '<VRTDataset rasterXSize="16" rasterYSize="16">'
        "<SRS>EPSG:32633</SRS><GeoTransform>500000, 1, 0, 4000000, 0, -1</GeoTransform>"
        '<VRTRasterBand dataType="Byte" band="1"><SimpleSource>'
        '<SourceFilename relativeToVRT="1">m.tif</SourceFilename><SourceBand>1</SourceBand>'
        "</SimpleSource></VRTRasterBand></VRTDataset>")
    with rasterio.open(vrt) as src:
        assert counts_0_255(src)[255] == 64
    smaller = np.zeros((16, 16), np.uint8)
    smaller[6:10, 6:10] = 255
    write(smaller)  # the VRT's own file untouched
    with rasterio.open(vrt) as src:
        assert counts_0_255(src)[255] == 16


def test_a_folder_of_plain_label_pngs_is_not_told_to_mosaic(tmp_path, run_cli):
    """FloodNet's train-label-img/ (6467_lab.png... , no georeferencing) given as LABELS with
    an image of none of their names was told to mosaic them with gdalbuildvrt, which skips
    every ungeoreferenced image and writes nothing: the line says no mosaic places them and
    that tile --masks and evaluate take such a folder of masks as it is. An image named as
    one of them takes its own."""
    from PIL import Image

    labdir, images = tmp_path / "train-label-img", tmp_path / "train-org-img"
    labdir.mkdir()
    images.mkdir()
    for stem in ("6467", "6468"):
        Image.fromarray(np.full((30, 40), 5, np.uint8)).save(labdir / f"{stem}_lab.png")
        Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(images / f"{stem}.jpg")
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(images / "9999.jpg")
    result = run_cli("make-masks", labdir, images / "9999.jpg", "-o", tmp_path / "mask.tif")
    assert_one_line_error(result, str(labdir), "folder of 2 rasters", "no georeferencing",
                          "tile --masks", "evaluate")
    assert "gdalbuildvrt" not in result.stderr
    assert not (tmp_path / "mask.tif").exists()
    # an image with a mask of its own name in the folder takes it, as a pattern pairs them
    result = run_cli("make-masks", labdir, images / "6467.jpg", "-o", tmp_path / "mask.tif")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "mask.tif") as src:
        assert (src.read(1) == 5).all()


@pytest.mark.parametrize("workers", [[], ["--workers", "2"]])
def test_a_folder_of_label_rasters_pairs_each_image_with_its_own(tmp_path, run_cli, workers):
    """Potsdam's 5_Labels_all/ (top_potsdam_2_10_label.tif...) given as LABELS with its
    _RGB tiles was refused ('a folder of 2 rasters; LABELS is one label raster'), though
    the same files as a quoted pattern pair by name: each image gets the mask of its own
    label tile, on its grid. An image without a label raster of its name keeps the
    refusal."""
    labdir = tmp_path / "5_Labels_all"
    labdir.mkdir()
    rng = np.random.default_rng(11)
    ids, images = {}, []
    for k, tile in enumerate(("2_10", "2_11")):
        ids[tile] = _scene(rng, (20, 20))
        transform = from_origin(X0 + 10 * k, Y0, 0.5, 0.5)
        write_raster(labdir / f"top_potsdam_{tile}_label.tif", _paint(ids[tile]),
                     transform=transform)
        images.append(write_raster(tmp_path / f"top_potsdam_{tile}_RGB.tif",
                                   np.ones((3, 20, 20), np.uint8), transform=transform))
    result = run_cli("make-masks", labdir, *images, "--palette", "potsdam",
                     "-o", tmp_path / "masks", *workers)
    assert result.exit_code == 0, result.output
    for tile, image in zip(ids, images, strict=True):
        mask, _, _, profile = _read(tmp_path / "masks" / image.name)
        assert (mask == ids[tile]).all()
        with rasterio.open(image) as src:
            assert profile["transform"] == src.transform and profile["crs"] == src.crs
    other = write_raster(tmp_path / "image.tif", np.ones((3, 20, 20), np.uint8))
    result = run_cli("make-masks", labdir, images[0], other, "--palette", "potsdam",
                     "-o", tmp_path / "refused", *workers)
    assert_one_line_error(result, str(labdir), "folder of 2 rasters", "one label raster")
    assert not (tmp_path / "refused").exists()


@pytest.mark.parametrize("unknown", ["unknown", "unlabeled", "No Data"])
def test_a_palette_colour_named_no_data_is_ignored(tmp_path, run_cli, unknown):
    """GID's labels, as its docs list them, start with black 'unknown' (Five-Billion-Pixels:
    'unlabeled'); a JSON palette naming it so made black class 1, built-up 2, ..., a class
    of the masks every patch of unlabelled ground trains on. Only 'ignore', 'nodata' and
    'void' were ignored: a colour whose name says no data, as evaluate and tile read class
    names, is the ignore value 255 and takes no id."""
    gid = {unknown: (0, 0, 0), "built_up": (255, 0, 0), "farmland": (0, 255, 0),
           "forest": (0, 255, 255), "meadow": (255, 255, 0), "water": (0, 0, 255)}
    labels = _coloured(tmp_path, "GF2_PMS1__L1A0000564539-MSS1_label.tif", gid)
    (tmp_path / "gid.json").write_text(json.dumps({k: list(v) for k, v in gid.items()}))
    image = write_raster(tmp_path / "image.tif", np.ones((3, 40, 60), np.uint8))
    result = run_cli("make-masks", labels, image, "--palette", tmp_path / "gid.json",
                     "-o", tmp_path / "mask.tif")
    assert result.exit_code == 0, result.output
    mask, nodata, tags, _ = _read(tmp_path / "mask.tif")
    with rasterio.open(labels) as src:
        rgb = src.read()
    for k, colour in enumerate(gid.values()):
        where = (rgb == np.array(colour, np.uint8)[:, None, None]).all(axis=0)
        assert (mask[where] == (255 if k == 0 else k)).all()
    assert nodata == 255
    assert json.loads(tags["GEOTILE_CLASS_NAMES"]) == ["background", *list(gid)[1:]]
    assert "not in the palette" not in result.stderr


def test_a_label_raster_of_several_unnamed_schemes_names_the_band_fix(tmp_path, run_cli):
    """SEN12MS's ROIs1158_spring_lc_1_p30.tif holds four land cover schemes as uint16
    bands without descriptions (IGBP, LCCS land cover, land use, surface hydrology): it was
    refused naming no fix ('... this one has 4.'); the one line names gdal_translate -b N."""
    lc = np.stack([np.full((32, 32), v, np.uint16) for v in (10, 35, 9, 30)])
    labels = write_raster(tmp_path / "ROIs1158_spring_lc_1_p30.tif", lc)
    image = write_raster(tmp_path / "ROIs1158_spring_s2_1_p30.tif",
                         np.ones((13, 32, 32), np.uint16))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "ROIs1158_spring_lc_1_p30.tif", "has 4",
                          "gdal_translate -b 1 ROIs1158_spring_lc_1_p30.tif")
    assert not (tmp_path / "m.tif").exists()


@pytest.mark.parametrize("name", ["fbp", "Potsdam"])
def test_a_palette_file_named_as_a_built_in_palette_is_not_silently_passed_over(
        tmp_path, run_cli, monkeypatch, name):
    """A user's own JSON palette saved as 'fbp' in the working folder was read by
    --palette fbp until fbp became a built-in palette; then the built-in was taken without
    a word (its red 'building' 255, unknown, exit 0). A bare name that is both is refused in
    one line naming the file and './<name>'; ./<name> reads the file; a folder of that name
    (a dataset's) leaves the built-in name alone."""
    monkeypatch.chdir(tmp_path)
    rgb = np.zeros((3, 6, 8), np.uint8)
    rgb[0, :, :4] = 255  # red left half, black right
    labels = write_raster(tmp_path / "label.tif", rgb)
    image = write_raster(tmp_path / "image.tif", np.zeros((3, 6, 8), np.uint8))
    (tmp_path / name).write_text('{"background": [0, 0, 0], "building": [255, 0, 0]}')
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif",
                     "--palette", name)
    assert_one_line_error(result, f"--palette {name}", f"./{name}")
    assert not (tmp_path / "mask.tif").exists()
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif",
                     "--palette", f"./{name}")
    assert result.exit_code == 0, result.output
    mask, *_ = _read(tmp_path / "mask.tif")
    np.testing.assert_array_equal(mask[:, :4], 1)
    np.testing.assert_array_equal(mask[:, 4:], 0)
    (tmp_path / name).unlink()
    (tmp_path / name).mkdir()
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask2.tif",
                     "--palette", name.lower())
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("palette", ["potsdam", "vaihingen"])
def test_isprs_black_boundaries_are_ignored_without_a_warning(tmp_path, palette):
    """ISPRS's _noBoundary labels paint the eroded class boundaries black, which its
    benchmark leaves unscored: --palette potsdam wrote them 255 (right) but warned
    'colour(s) not in the palette ([0, 0, 0])'. They are ignored silently; another colour
    off the palette still warns."""
    ids = _scene(np.random.default_rng(3), (60, 50))
    rgb = _paint(ids)
    rgb[:, ::10] = 0  # the black boundaries
    labels = write_raster(tmp_path / "top_mosaic_09cm_area1_noBoundary.tif", rgb)
    image = write_raster(tmp_path / "top_mosaic_09cm_area1.tif", np.ones((3, 60, 50), np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("error", GeotileWarning)
        make_masks(labels, image, tmp_path / "mask.tif", palette=palette)
    mask = _read(tmp_path / "mask.tif")[0]
    expected = ids.copy()
    expected[::10] = 255
    np.testing.assert_array_equal(mask, expected)
    rgb[:, 5] = 128  # grey: a colour of no class, still reported
    labels = write_raster(tmp_path / "grey_noBoundary.tif", rgb)
    with pytest.warns(GeotileWarning, match=r"not in the palette \(\[128, 128, 128\]"):
        make_masks(labels, image, tmp_path / "grey.tif", palette=palette)


def test_noisy_grey_labels_are_told_to_keep_one_band_not_a_palette(tmp_path, run_cli):
    """A grey 0/255 label raster saved through JPEG (R, G, B off by 1-2) was told 'Give
    --palette deepglobe', whose colours read 255 as barren land and 0 as unknown; it is
    told it holds grey labels and to keep one band (gdal_translate -b 1), nothing written."""
    ids = np.zeros((40, 40), np.uint8)
    ids[10:30, 5:25] = 255
    noise = np.random.default_rng(5).integers(0, 3, (3, 40, 40))
    noisy = np.clip(np.stack([ids] * 3).astype(np.int16) - noise * (ids > 0) + noise * (ids == 0),
                    0, 255).astype(np.uint8)
    labels = write_raster(tmp_path / "mask_grey.tif", noisy, photometric="RGB")
    image = write_raster(tmp_path / "image.tif", np.ones((3, 40, 40), np.uint8))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "mask_grey.tif" in lines[0], result.output
    assert "grey" in lines[0] and "gdal_translate -b 1 mask_grey.tif" in lines[0]
    assert "--palette" not in lines[0]
    assert not (tmp_path / "m.tif").exists()


def test_label_rasters_beside_their_images_pair_by_name(run_cli, tmp_path):
    """A label folder that also holds the images (a GeoNRW city: <E>_<N>_rgb.jp2 beside
    its <E>_<N>_seg.tif and _dem.tif; ISPRS Potsdam unpacked in one folder) was refused as
    'a folder of 6 rasters', told to mosaic them all (images and DSMs too) into one label
    raster: an image is never its own label, so each pairs with its own labels."""
    city = tmp_path / "aachen"
    city.mkdir()
    images = []
    for k, east in enumerate((294, 295)):
        where = {"crs": "EPSG:25832", "transform": from_origin(east * 1000, 5629000, 1, 1)}
        images.append(write_raster(city / f"{east}_5628_rgb.jp2",
                                   np.full((3, 16, 16), 100, np.uint8), driver="JP2OpenJPEG",
                                   **where))
        write_raster(city / f"{east}_5628_dem.tif", np.full((16, 16), 61.5, np.float32),
                     **where)
        write_raster(city / f"{east}_5628_seg.tif", np.full((16, 16), 9 + k, np.uint8),
                     **where)
    result = run_cli("make-masks", city, *images, "-o", f"{tmp_path / 'masks'}/")
    assert result.exit_code == 0, result.output
    for k, east in enumerate((294, 295)):
        with rasterio.open(tmp_path / "masks" / f"{east}_5628_rgb.tif") as mask:
            assert (mask.read(1) == 9 + k).all() and mask.transform.c == east * 1000


def test_an_arcgis_classification_naming_background_1_scores_against_its_own_kind(
        tmp_path, run_cli):
    """ArcGIS Pro's Classify Pixels writes Value 1..4 (Background, Water, Forest, Urban) in
    its attribute table and 0 as NoData, unnamed. The unnamed 0 was named 'background',
    the name of id 1 too: a prediction's class 1 paired with the truth's 0, the truth's
    Background found no partner, accuracy 0.2 instead of 0.86, exit 0. An unnamed 0 beside
    a named background is no background: each class pairs with its own."""
    rows = [(1, 12, "Background"), (2, 12, "Water"), (3, 12, "Forest"), (4, 12, "Urban")]
    truth_ids = (np.arange(6 * 8).reshape(6, 8) % 4 + 1).astype(np.uint8)
    pred_ids = truth_ids.copy()
    pred_ids[0] = 2  # a row of water where the truth differs on 6 of its 8 px
    paths = []
    for name, ids in (("truth", truth_ids), ("pred", pred_ids)):
        path = write_raster(tmp_path / f"{name}.tif", ids, nodata=0)
        (tmp_path / f"{name}.tif.aux.xml").write_text(_rat(rows, name_usage=0))
        paths.append(path)
    result = run_cli("evaluate", paths[1], paths[0], "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["accuracy"] == pytest.approx(np.mean(truth_ids == pred_ids))
    ious = {c["class"]: c["iou"] for c in scores["classes"] if c["support"] or c["predicted"]}
    for k, (_, _, name) in enumerate(rows, start=1):
        t, p = truth_ids == k, pred_ids == k
        assert ious[name] == pytest.approx((t & p).sum() / (t | p).sum()), name


def test_an_unnamed_prediction_of_ids_from_0_against_a_named_truth_from_1_is_warned(
        tmp_path, run_cli):
    """A model's class ids 0..3 (unnamed) against an ArcGIS Pro truth naming Value 1..4
    (Background, Water, Forest, Urban; 0 its NoData) paired by id: accuracy 0.02, exit 0,
    without a word (LoveDA's named no-data id is warned). The prediction's id 0, on the
    truth's nodata id, is said with the fix: named so, its classes pair by name and score
    as numpy's."""
    rows = [(1, 12, "Background"), (2, 12, "Water"), (3, 12, "Forest"), (4, 12, "Urban")]
    truth_ids = (np.arange(6 * 8).reshape(6, 8) % 4 + 1).astype(np.uint8)
    pred_ids = truth_ids - 1
    pred_ids[0] = 1
    truth = write_raster(tmp_path / "truth.tif", truth_ids, nodata=0)
    (tmp_path / "truth.tif.aux.xml").write_text(_rat(rows, name_usage=0))
    prediction = write_raster(tmp_path / "pred.tif", pred_ids)
    result = run_cli("evaluate", prediction, truth, "--json")
    assert result.exit_code == 0, result.output
    assert "holds id 0" in result.stderr and "GEOTILE_CLASS_NAMES" in result.stderr
    with rasterio.open(prediction, "r+") as dst:
        dst.update_tags(GEOTILE_CLASS_NAMES=json.dumps([name for _, _, name in rows]))
    result = run_cli("evaluate", prediction, truth, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accuracy"] == pytest.approx(
        np.mean(truth_ids == pred_ids + 1))


def test_a_named_background_0_declared_nodata_but_scored_is_no_no_data_to_predict(
        tmp_path, run_cli):
    """A truth naming 0..2 background, building, road and declaring nodata 0 (gdal_translate
    -a_nodata 0), its 0 read as background and scored (all 4096 pixels), against an unnamed
    prediction equal to it: accuracy 1.0, yet a warning said the prediction's 0 'predict no
    data and count as misses' on 78% of the pixels. A nodata id the truth's pixels are
    scored as is no data to predict: no such warning, accuracy 1.0."""
    ids = np.zeros((64, 64), np.uint8)
    ids[10:30, 10:40] = 1
    ids[40:60, 5:20] = 2
    truth = write_raster(tmp_path / "truth.tif", ids, nodata=0)
    with rasterio.open(truth, "r+") as dst:
        dst.update_tags(GEOTILE_CLASS_NAMES=json.dumps(["background", "building", "road"]))
    prediction = write_raster(tmp_path / "pred.tif", ids)
    result = run_cli("evaluate", prediction, truth, "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["pixels"] == ids.size and scores["accuracy"] == 1.0
    assert "predict no data" not in result.stderr, result.stderr
