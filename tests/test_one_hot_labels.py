"""Label rasters of one band per class (DynamicEarthNet's monthly labels: 7 uint8 bands of
0/255 in EPSG:3857 or UTM, band k set where the pixel is class k): make-masks reads them as
class ids, tile refuses them as masks naming make-masks."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from .conftest import assert_one_line_error, write_raster

CLASSES = 7
SIZE = 64


def _classes(seed: int = 0) -> np.ndarray:
    """Class index 0..6 per pixel: vertical stripes, a random block of each class."""
    classes = np.repeat(np.arange(SIZE) * CLASSES // SIZE, SIZE).reshape(SIZE, SIZE).T.copy()
    rng = np.random.default_rng(seed)
    classes[20:30, 5:15] = rng.integers(0, CLASSES)
    return classes


def _one_hot(classes: np.ndarray, on: int = 255) -> np.ndarray:
    return np.stack([(classes == k).astype(np.uint8) * on for k in range(CLASSES)])


def _scene(tmp_path, crs="EPSG:3857", on=255, classes=None):
    """A Planet Fusion image (4 bands uint16, BGRN) and its label raster, DynamicEarthNet's
    names and folders."""
    transform = from_origin(-8_600_000.0, 4_700_000.0, 3.0, 3.0)
    image_folder = tmp_path / "planet" / "18N" / "1417_3281_13" / "PF-SR"
    label_folder = (tmp_path / "labels" / "1417_3281_13_18N" / "Labels" / "Raster"
                    / "18N-74W-41N-L3H-SR")
    image_folder.mkdir(parents=True)
    label_folder.mkdir(parents=True)
    pixels = np.random.default_rng(1).integers(1, 3000, (4, SIZE, SIZE)).astype(np.uint16)
    image = write_raster(image_folder / "2018-01-01.tif", pixels, crs=crs, transform=transform)
    classes = _classes() if classes is None else classes
    label = write_raster(label_folder / "18N-74W-41N-L3H-SR-2018_01_01.tif",
                         _one_hot(classes, on), crs=crs, transform=transform)
    return image, label, classes


def _read(path):
    with rasterio.open(path) as src:
        return src.read(1), src.nodata


def test_make_masks_reads_a_one_hot_label_raster_as_class_ids(run_cli, tmp_path):
    """Band k (1..7) set: class id k - 1, as evaluate reads it. It was refused as
    colour-coded labels ('7 bands look like colour-coded labels. Give --palette ...')."""
    image, label, classes = _scene(tmp_path)
    out = tmp_path / "mask.tif"
    result = run_cli("make-masks", str(label), str(image), "-o", str(out))
    assert result.exit_code == 0, result.output
    mask, nodata = _read(out)
    np.testing.assert_array_equal(mask, classes)
    assert nodata == 255


def test_a_one_hot_of_0_1_bands_in_utm_on_another_grid(run_cli, tmp_path):
    """0/1 bands read alike; an image of half the pixel size takes the label pixel under
    each of its pixels; a pixel of no class or of two is ignored (255)."""
    classes = _classes(3)
    image, label, _ = _scene(tmp_path, crs="EPSG:32618", on=1, classes=classes)
    with rasterio.open(label, "r+") as dst:
        bands = dst.read()
        bands[:, 0, :] = 0  # row 0: no class
        bands[0, 1, :] = bands[1, 1, :] = 1  # row 1: classes 1 and 2 both
        dst.write(bands)
    with rasterio.open(label) as src:
        fine = src.transform * src.transform.scale(0.5, 0.5)
    half = write_raster(tmp_path / "half.tif", np.ones((3, 2 * SIZE, 2 * SIZE), np.uint8),
                        crs="EPSG:32618", transform=fine)
    out = tmp_path / "mask.tif"
    result = run_cli("make-masks", str(label), str(half), "-o", str(out))
    assert result.exit_code == 0, result.output
    mask, _ = _read(out)
    expected = classes.copy()
    expected[:2] = 255
    np.testing.assert_array_equal(mask, np.repeat(np.repeat(expected, 2, 0), 2, 1))
    del image


def test_a_multi_label_raster_is_no_one_hot(run_cli, tmp_path):
    """Bands set together over most pixels (classes overlapping, not one class a pixel)
    are not read as one-hot: refused, not as 'colour-coded labels. Give --palette' (no
    palette maps 7 bands) but naming the one-hot it is not and the band to keep."""
    image, label, _ = _scene(tmp_path)
    with rasterio.open(label, "r+") as dst:
        bands = dst.read()
        bands[1] = 255
        dst.write(bands)
    result = run_cli("make-masks", str(label), str(image), "-o", str(tmp_path / "m.tif"))
    assert_one_line_error(result, label.name, "this one has 7", "one class a pixel",
                          "gdal_translate -b 1")
    assert "colour-coded" not in result.stderr


def test_tile_refuses_a_one_hot_mask_naming_make_masks(run_cli, tmp_path):
    """Tile cut a one-hot mask into patches declaring nodata 255, its classes' own value
    (index.csv: positive_fraction 0.0, nodata_fraction band 1's share), exit 0. Refused,
    naming the command that makes a class mask."""
    image, label, _ = _scene(tmp_path)
    out = tmp_path / "patches"
    result = run_cli("tile", str(image), "--masks", str(label), "--size", "32", "-o",
                     str(out))
    assert_one_line_error(result, label.name, "one band per class",
                          f"geotile make-masks {label.name} {image.name} -o")
    assert not out.exists() or not any(out.iterdir())


def test_tile_keeps_geotile_own_band_per_class_masks(run_cli, tmp_path):
    """A multi-label mask of one 0/1 band per class (class folders', GEOTILE_BANDS
    independent) and make-masks' footprint/boundary/contact channels, classes seldom
    overlapping, are tile's masks as before: cut band for band."""
    image, _, classes = _scene(tmp_path)
    with rasterio.open(image) as src:
        grid = {"crs": src.crs, "transform": src.transform}
    tagged = write_raster(tmp_path / "tagged.tif", _one_hot(classes, 1), **grid)
    with rasterio.open(tagged, "r+") as dst:
        dst.update_tags(GEOTILE_OUTPUT="mask", GEOTILE_BANDS="independent")
    roles = write_raster(tmp_path / "roles.tif", _one_hot(classes, 1)[:3], **grid,
                         descriptions=["footprint", "boundary", "contact"])
    for mask in (tagged, roles):
        out = tmp_path / f"patches_{mask.stem}"
        result = run_cli("tile", str(image), "--masks", str(mask), "--size", "32", "-o",
                         str(out))
        assert result.exit_code == 0, result.output
        with rasterio.open(out / "masks" / "2018-01-01_0_0.tif") as src:
            np.testing.assert_array_equal(src.read(), _one_hot(classes, 1)[
                :src.count, :32, :32])


def test_evaluate_scores_make_masks_mask_against_its_one_hot(run_cli, tmp_path):
    """The mask make-masks makes of a one-hot, scored against that one-hot as TRUTH, is
    perfect (make-masks wrote ids 1..7 where evaluate reads 0..6: accuracy 0, exit 0);
    shifted 4 px east, each class loses what the shift moves out of it."""
    import json

    image, label, classes = _scene(tmp_path)
    mask = tmp_path / "mask.tif"
    assert run_cli("make-masks", str(label), str(image), "-o", str(mask)).exit_code == 0
    result = run_cli("evaluate", str(mask), str(label), "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["accuracy"] == 1.0
    assert [c["iou"] for c in scores["classes"]] == [1.0] * CLASSES
    shifted = np.roll(classes, 4, axis=1)
    with rasterio.open(image) as src:
        moved = write_raster(tmp_path / "moved.tif", shifted.astype(np.uint8), crs=src.crs,
                             transform=src.transform)
    result = run_cli("evaluate", str(moved), str(label), "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["accuracy"] == np.mean(shifted == classes)
    for k, found in enumerate(scores["classes"]):
        hit = np.count_nonzero((shifted == k) & (classes == k))
        either = np.count_nonzero((shifted == k) | (classes == k))
        assert found["iou"] == pytest.approx(hit / either)


def test_evaluate_names_make_masks_for_a_one_hot_truth_with_unlabelled_pixels(
        run_cli, tmp_path):
    """A one-hot TRUTH whose top rows are of no class was refused as 'no softmax whose band
    1 is background', told to describe footprint, boundary and contact bands: it names the
    one-hot and the make-masks command that leaves those pixels out; that mask scores the
    labelled pixels alone."""
    import json

    image, label, classes = _scene(tmp_path)
    with rasterio.open(label, "r+") as dst:
        bands = dst.read()
        bands[:, :16] = 0
        dst.write(bands)
    with rasterio.open(image) as src:
        prediction = write_raster(tmp_path / "pred.tif", classes.astype(np.uint8),
                                  crs=src.crs, transform=src.transform)
    result = run_cli("evaluate", str(prediction), str(label))
    assert_one_line_error(result, label.name, "one band per class", "25% of the pixels",
                          f"geotile make-masks {label.name} IMAGE -o truth.tif")
    truth = tmp_path / "truth.tif"
    assert run_cli("make-masks", str(label), str(image), "-o", str(truth)).exit_code == 0
    result = run_cli("evaluate", str(prediction), str(truth), "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["accuracy"] == 1.0 and scores["pixels"] == 48 * SIZE


def test_a_class_map_naming_id_0_makes_band_1_a_class(run_cli, tmp_path):
    """DynamicEarthNet's band 1 is impervious surface, no background: --class-map naming id
    0 names it, and tile counts its pixels as labelled (positive_fraction 1.0)."""
    import csv
    import json

    image, label, classes = _scene(tmp_path)
    names = ["impervious surface", "agriculture", "forest & other vegetation", "wetlands",
             "soil", "water", "snow & ice"]
    (tmp_path / "classes.json").write_text(json.dumps({n: i for i, n in enumerate(names)}))
    mask = tmp_path / "mask.tif"
    result = run_cli("make-masks", str(label), str(image), "-o", str(mask), "--class-map",
                     str(tmp_path / "classes.json"))
    assert result.exit_code == 0, result.output
    with rasterio.open(mask) as src:
        np.testing.assert_array_equal(src.read(1), classes)
        assert json.loads(src.tags()["GEOTILE_CLASS_NAMES"]) == names
    out = tmp_path / "patches"
    result = run_cli("tile", str(image), "--masks", str(mask), "--size", "32", "-o", str(out))
    assert result.exit_code == 0, result.output
    with open(out / "index.csv") as f:
        assert {row["positive_fraction"] for row in csv.DictReader(f)} == {"1.0"}


def test_a_label_band_beside_a_validity_band_is_no_one_hot(run_cli, tmp_path):
    """Two 0/255 bands, buildings (3% of the pixels) and a validity band set almost
    everywhere, overlap over 3% only; band 1 is never set alone, so they are no one-hot
    (whose background would become class 1): refused naming the band to keep, as before."""
    image, _, _ = _scene(tmp_path)
    with rasterio.open(image) as src:
        grid = {"crs": src.crs, "transform": src.transform}
    bands = np.zeros((2, SIZE, SIZE), np.uint8)
    bands[0, 10:20, 10:22] = 255
    bands[1, :, 1:] = 255
    label = write_raster(tmp_path / "label_valid.tif", bands, **grid)
    result = run_cli("make-masks", str(label), str(image), "-o", str(tmp_path / "m.tif"))
    assert_one_line_error(result, "this one has 2", "gdal_translate -b 1")


def test_bands_of_a_few_disjoint_classes_over_background_are_no_one_hot(run_cli, tmp_path):
    """Two 0/255 bands of buildings (3 %) and roads (5 %), set nowhere else: a multi-label
    layer of two classes over unlabelled ground, not one class a pixel. Read as a one-hot,
    the buildings became class 0 (background) and 92 % of the pixels ignored (255), exit 0;
    refused naming the band to keep, as before one-hot label rasters were read."""
    image, _, _ = _scene(tmp_path)
    with rasterio.open(image) as src:
        grid = {"crs": src.crs, "transform": src.transform}
    bands = np.zeros((2, SIZE, SIZE), np.uint8)
    bands[0, 10:20, 10:22] = 255
    bands[1, 40:43, :] = 255
    label = write_raster(tmp_path / "buildings_roads.tif", bands, **grid)
    result = run_cli("make-masks", str(label), str(image), "-o", str(tmp_path / "m.tif"))
    assert_one_line_error(result, "this one has 2", "gdal_translate -b 1")
    assert not (tmp_path / "m.tif").exists()
