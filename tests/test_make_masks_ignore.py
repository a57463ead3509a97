"""make-masks --ignore: regions left out of masks (255 over every band, after the labels)."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from .conftest import UTM_CRS, UTM_ORIGIN, assert_one_line_error

X0, Y0 = UTM_ORIGIN  # 0.5 m pixels: x metres east of X0 is column 2x


def _vector(path, *boxes, crs=UTM_CRS):
    """Boxes (x0, y0, x1, y1 in metres from the origin, y down) in ``crs``."""
    shapes = [shapely.box(X0 + a, Y0 - d, X0 + c, Y0 - b) for a, b, c, d in boxes]
    gpd.GeoDataFrame(geometry=shapes, crs=UTM_CRS).to_crs(crs).to_file(path)
    return path


@pytest.fixture
def scene(make_raster, tmp_path):
    """A 30x30 image with a building over rows and columns 2..11."""
    image = make_raster("img.tif", np.full((3, 30, 30), 9, np.uint8))
    return image, _vector(tmp_path / "labels.geojson", (1, 1, 6, 6))


def _mask(path):
    with rasterio.open(path) as src:
        return src.read(), src.nodata, src.transform, src.crs


def test_a_polygon_region_is_255_over_class_and_background(run_cli, scene, tmp_path):
    image, labels = scene
    # in lon/lat: reprojected onto the image's grid as labels are
    region = _vector(tmp_path / "clouds.geojson", (4, 4, 9, 8), crs="EPSG:4326")
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif",
                     "--ignore", region, "--json")
    assert result.exit_code == 0, result.output
    bands, nodata, transform, crs = _mask(tmp_path / "mask.tif")
    expected = np.zeros((30, 30), np.uint8)
    expected[2:12, 2:12] = 1
    expected[8:16, 8:18] = 255  # rows 4..8 m, columns 4..9 m: over the building too
    np.testing.assert_array_equal(bands[0], expected)
    assert nodata == 255 and crs == UTM_CRS and transform == from_origin(X0, Y0, 0.5, 0.5)
    (summary,) = json.loads(result.stdout)["masks"]
    assert summary["ignored_pixels"] == 80
    assert summary["positive_pixels"] == 100 - 16


def test_every_band_is_ignored(run_cli, scene, tmp_path):
    image, labels = scene
    region = _vector(tmp_path / "clouds.geojson", (4, 4, 9, 8))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif", "--ignore",
                     region, "--channels", "footprint,boundary,contact")
    assert result.exit_code == 0, result.output
    bands = _mask(tmp_path / "mask.tif")[0]
    assert (bands[:, 8:16, 8:18] == 255).all()
    assert (bands != 255).sum() == 3 * (900 - 80)


def test_a_raster_region_is_resampled_nearest_its_nodata_kept(run_cli, scene, make_raster,
                                                             tmp_path):
    image, labels = scene
    # 1 m pixels, 5 m east of the image's origin: each covers 2x2 mask pixels
    udm = np.zeros((10, 10), np.uint8)
    udm[1:3, 0:2] = 255  # cloud: mask rows 2..5, columns 10..13 (over the building's edge)
    udm[5, 5] = 7  # any nonzero value
    udm[8, 8] = 99  # the raster's nodata: not a region
    region = make_raster("udm.tif", udm, nodata=99,
                         transform=from_origin(X0 + 5, Y0, 1.0, 1.0))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif",
                     "--ignore", region, "--json")
    assert result.exit_code == 0, result.output
    expected = np.zeros((30, 30), np.uint8)
    expected[2:12, 2:12] = 1
    expected[2:6, 10:14] = 255
    expected[10:12, 20:22] = 255
    np.testing.assert_array_equal(_mask(tmp_path / "mask.tif")[0][0], expected)
    assert json.loads(result.stdout)["masks"][0]["ignored_pixels"] == 20


def test_all_touched_follows_the_labels_rule(run_cli, scene, tmp_path):
    image, labels = scene
    # a sliver between pixel centres: no centre inside, two pixels touched
    region = _vector(tmp_path / "sliver.geojson", (10.05, 10.05, 10.2, 10.7))
    for flag, ignored in (((), 0), (("--all-touched",), 2)):
        out = tmp_path / f"mask{len(flag)}.tif"
        result = run_cli("make-masks", labels, image, "-o", out, "--ignore", region, *flag,
                         "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["masks"][0]["ignored_pixels"] == ignored
        assert (_mask(out)[0][0] == 255).sum() == ignored


def test_a_region_outside_the_image_changes_nothing(run_cli, scene, tmp_path):
    image, labels = scene
    far = _vector(tmp_path / "far.geojson", (100, 100, 120, 120))
    run_cli("make-masks", labels, image, "-o", tmp_path / "plain.tif")
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif", "--ignore", far)
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_mask(tmp_path / "mask.tif")[0],
                                  _mask(tmp_path / "plain.tif")[0])


def test_a_folder_gives_each_image_its_own_region(run_cli, make_raster, tmp_path):
    """SpaceNet 7: labels/<scene>_UDM.geojson (empty where no cloud) for images/<scene>.tif."""
    images = tmp_path / "images"
    images.mkdir()
    for name in ("mosaic_2018_01", "mosaic_2018_02"):
        make_raster(f"images/{name}.tif", np.full((30, 30), 9, np.uint8))
    labels = _vector(tmp_path / "buildings.geojson", (1, 1, 6, 6))
    udm = tmp_path / "labels"
    udm.mkdir()
    _vector(udm / "mosaic_2018_01_UDM.geojson", (0, 0, 2, 3))
    (udm / "mosaic_2018_02_UDM.geojson").write_text(
        '{"type": "FeatureCollection", "features": []}')
    result = run_cli("make-masks", labels, images, "-o", tmp_path / "masks", "--ignore", udm,
                     "--json")
    assert result.exit_code == 0, result.output
    first = _mask(tmp_path / "masks" / "mosaic_2018_01.tif")[0][0]
    expected = np.zeros((30, 30), np.uint8)
    expected[2:12, 2:12] = 1
    expected[0:6, 0:4] = 255
    np.testing.assert_array_equal(first, expected)
    second = _mask(tmp_path / "masks" / "mosaic_2018_02.tif")[0][0]
    assert (second == 255).sum() == 0 and second.sum() == 100
    counts = [m["ignored_pixels"] for m in json.loads(result.stdout)["masks"]]
    assert counts == [24, 0]


def test_an_image_without_its_region_file_is_refused_before_any_mask(run_cli, make_raster,
                                                                     tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for name in ("a", "b"):
        make_raster(f"images/{name}.tif", np.full((30, 30), 9, np.uint8))
    labels = _vector(tmp_path / "buildings.geojson", (1, 1, 6, 6))
    udm = tmp_path / "udm"
    udm.mkdir()
    _vector(udm / "a_UDM.geojson", (0, 0, 2, 3))
    result = run_cli("make-masks", labels, images, "-o", tmp_path / "masks", "--ignore", udm)
    assert_one_line_error(result, "b.tif", "no label file", str(udm))
    assert not (tmp_path / "masks").exists() or not any((tmp_path / "masks").iterdir())


@pytest.mark.parametrize("content", ["{not json", None])
def test_an_unreadable_region_is_refused_before_any_mask(run_cli, scene, make_raster,
                                                        tmp_path, content):
    image, labels = scene
    other = make_raster("other.tif", np.full((30, 30), 9, np.uint8))
    region = tmp_path / "clouds.geojson"
    if content is not None:
        region.write_text(content)
    result = run_cli("make-masks", labels, image, other, "-o", tmp_path / "masks",
                     "--ignore", region)
    assert_one_line_error(result, "clouds.geojson")
    assert not (tmp_path / "masks").exists() or not any((tmp_path / "masks").iterdir())


def test_a_region_raster_of_several_bands_is_refused(run_cli, scene, make_raster, tmp_path):
    image, labels = scene
    udm2 = make_raster("udm2.tif", np.zeros((8, 10, 10), np.uint8))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif", "--ignore", udm2)
    assert_one_line_error(result, "udm2.tif", "one band", "gdal_translate -b")
    assert not (tmp_path / "mask.tif").exists()


def test_resume_digest_holds_the_regions(run_cli, scene, tmp_path):
    image, labels = scene
    out = tmp_path / "mask.tif"
    region = _vector(tmp_path / "clouds.geojson", (4, 4, 9, 8))
    assert run_cli("make-masks", labels, image, "-o", out, "--resume").exit_code == 0
    again = run_cli("make-masks", labels, image, "-o", out, "--resume")
    assert "skipped" in again.stdout
    # a region added: not the same mask, made again
    result = run_cli("make-masks", labels, image, "-o", out, "--resume", "--ignore", region)
    assert result.exit_code == 0 and "skipped" not in result.stdout, result.output
    assert (_mask(out)[0] == 255).sum() == 80
    assert "skipped" in run_cli("make-masks", labels, image, "-o", out, "--resume",
                                "--ignore", region).stdout
    # the region file changed: made again
    _vector(region, (0, 0, 1, 1))
    result = run_cli("make-masks", labels, image, "-o", out, "--resume", "--ignore", region)
    assert result.exit_code == 0 and "skipped" not in result.stdout, result.output
    assert (_mask(out)[0] == 255).sum() == 4


def test_a_label_raster_takes_regions_too(run_cli, make_raster, tmp_path):
    image = make_raster("img.tif", np.full((30, 30), 9, np.uint8))
    classes = np.zeros((30, 30), np.uint8)
    classes[:, :15] = 2
    label = make_raster("label.tif", classes)
    region = _vector(tmp_path / "clouds.geojson", (4, 4, 9, 8))
    result = run_cli("make-masks", label, image, "-o", tmp_path / "mask.tif", "--ignore",
                     region, "--json")
    assert result.exit_code == 0, result.output
    expected = classes.copy()
    expected[8:16, 8:18] = 255
    np.testing.assert_array_equal(_mask(tmp_path / "mask.tif")[0][0], expected)
    assert json.loads(result.stdout)["masks"][0]["ignored_pixels"] == 80


def test_library_call(scene, tmp_path):
    from geotile.masks import make_masks

    image, labels = scene
    region = _vector(tmp_path / "clouds.geojson", (4, 4, 9, 8))
    (summary,) = make_masks(labels, [image], [tmp_path / "mask.tif"], ignore=[region])
    assert summary["ignored_pixels"] == 80


def test_workers_make_the_masks_of_a_serial_run(run_cli, make_raster, tmp_path):
    (tmp_path / "images").mkdir()
    for name in ("a", "b"):
        make_raster(f"images/{name}.tif", np.full((30, 30), 9, np.uint8))
    labels = _vector(tmp_path / "buildings.geojson", (1, 1, 6, 6))
    (tmp_path / "udm").mkdir()
    _vector(tmp_path / "udm" / "a_UDM.geojson", (0, 0, 2, 3))
    _vector(tmp_path / "udm" / "b_UDM.geojson", (4, 4, 9, 8))
    args = ("make-masks", labels, tmp_path / "images", "--ignore",
            tmp_path / "udm" / "*_UDM.geojson", "--json", "-o")
    serial = run_cli(*args, tmp_path / "serial")
    assert serial.exit_code == 0, serial.output
    workers = run_cli(*args, tmp_path / "workers", "--workers", "2")
    assert workers.exit_code == 0, workers.output
    assert workers.stdout == serial.stdout.replace("serial", "workers")
    assert [m["ignored_pixels"] for m in json.loads(workers.stdout)["masks"]] == [24, 80]
    for name in ("a", "b"):
        assert ((tmp_path / "workers" / f"{name}.tif").read_bytes()
                == (tmp_path / "serial" / f"{name}.tif").read_bytes())


def test_a_folder_of_region_rasters_pairs_by_name(run_cli, scene, make_raster, tmp_path):
    """SpaceNet 7's UDM_masks/<scene>_UDM.tif for images/<scene>.tif."""
    image, labels = scene
    udm = np.zeros((30, 30), np.uint8)
    udm[20:, 25:] = 255
    (tmp_path / "UDM_masks").mkdir()
    make_raster("UDM_masks/img_UDM.tif", udm)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif", "--ignore",
                     tmp_path / "UDM_masks")
    assert result.exit_code == 0, result.output
    assert "50 ignored (--ignore regions" in result.stdout
    mask = _mask(tmp_path / "mask.tif")[0][0]
    assert (mask[20:, 25:] == 255).all() and (mask == 255).sum() == 50


def _images_with_regions(make_raster, tmp_path, second: str):
    """images/a.tif and b.tif with udm/a_UDM.geojson (a box) and udm/b_UDM.geojson
    (``second``, as written)."""
    images, udm = tmp_path / "images", tmp_path / "udm"
    images.mkdir()
    udm.mkdir()
    for name in ("a", "b"):
        make_raster(f"images/{name}.tif", np.full((30, 30), 9, np.uint8))
    _vector(udm / "a_UDM.geojson", (0, 0, 2, 3))
    (udm / "b_UDM.geojson").write_text(second)
    return images, udm


def _feature_collection(geometry, crs=None):
    doc = {"type": "FeatureCollection",
           "features": [{"type": "Feature", "properties": {}, "geometry": geometry}]}
    if crs != "absent":
        doc["crs"] = crs
    return json.dumps(doc)


PIXEL_BOX = {"type": "Polygon",  # SpaceNet 7's labels_match_pix: an image's pixels
             "coordinates": [[[0, 100], [200, 100], [200, 200], [0, 200], [0, 100]]]}


@pytest.mark.parametrize("second, fragments", [
    (_feature_collection(PIXEL_BOX, "absent"),
     ("b_UDM.geojson", "not longitude/latitude", "ogr2ogr -a_srs")),
    (_feature_collection(PIXEL_BOX, None), ("b_UDM.geojson", "no CRS", "ogr2ogr -a_srs")),
    (_feature_collection({"type": "LineString", "coordinates": [[X0, Y0], [X0 + 5, Y0 - 5]]},
                         {"type": "name", "properties": {"name": UTM_CRS}}),
     ("b_UDM.geojson", "no polygon", "mark no area"))],
    ids=["pixels-read-as-lon-lat", "no-crs", "lines-only"])
def test_a_region_file_that_cannot_be_placed_is_refused_before_any_mask(
        run_cli, make_raster, tmp_path, second, fragments):
    """The second image's region file refused in one line naming it and what to do with the
    file (--labels-crs, --line-width and 'building footprints' speak of LABELS), before the
    first image's mask is written."""
    images, udm = _images_with_regions(make_raster, tmp_path, second)
    labels = _vector(tmp_path / "buildings.geojson", (1, 1, 6, 6))
    result = run_cli("make-masks", labels, images, "-o", tmp_path / "masks", "--ignore", udm)
    assert_one_line_error(result, *fragments, code=1)
    for wrong in ("--labels-crs", "--line-width", "footprints"):
        assert wrong not in result.stderr
    assert not (tmp_path / "masks").exists() or not any((tmp_path / "masks").iterdir())


def test_region_lines_beside_polygons_are_left_out_with_a_region_warning(run_cli, scene,
                                                                         tmp_path):
    image, labels = scene
    region = tmp_path / "clouds.geojson"
    gpd.GeoDataFrame(geometry=[shapely.box(X0 + 4, Y0 - 8, X0 + 9, Y0 - 4),
                               shapely.LineString([(X0, Y0 - 12), (X0 + 14, Y0 - 12)])],
                     crs=UTM_CRS).to_file(region)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif",
                     "--ignore", region)
    assert result.exit_code == 0, result.output
    assert "clouds.geojson: 1 line or point feature of --ignore was left out" in result.stderr
    assert "--line-width" not in result.stderr
    assert (_mask(tmp_path / "mask.tif")[0][0] == 255).sum() == 80  # the box alone


def test_a_region_file_on_none_of_its_images_is_warned_of(run_cli, scene, tmp_path):
    """Regions whose lon/lat lie nowhere near the image (pixels of a small image, in lon/lat
    range, read as GeoJSON's lon/lat): a mask without them, and a warning saying so."""
    image, labels = scene
    region = tmp_path / "clouds.geojson"
    small = {"type": "Polygon", "coordinates": [[[0, 0], [20, 0], [20, 20], [0, 20], [0, 0]]]}
    region.write_text(_feature_collection(small, "absent"))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif",
                     "--ignore", region)
    assert result.exit_code == 0, result.output
    assert "clouds.geojson: no --ignore region lies on img.tif" in result.stderr
    assert "EPSG:4326" in result.stderr


def test_a_region_raster_on_none_of_its_images_is_warned_of(run_cli, scene, make_raster,
                                                            tmp_path):
    image, labels = scene
    far = make_raster("far_clouds.tif", np.ones((10, 10), np.uint8),
                      transform=from_origin(X0 + 10_000, Y0, 1, 1))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif", "--ignore", far)
    assert result.exit_code == 0, result.output
    assert "far_clouds.tif: no --ignore region lies on img.tif" in result.stderr
    assert (_mask(tmp_path / "mask.tif")[0] == 255).sum() == 0


def test_a_folder_of_regions_on_none_of_their_images_is_said_once(run_cli, make_raster,
                                                                  tmp_path):
    """Three images' region files all off their images (a wrong CRS for all): one warning
    naming the first file and how many others, not one per file (per image of a city)."""
    images, udm = tmp_path / "images", tmp_path / "udm"
    images.mkdir()
    udm.mkdir()
    labels = _vector(tmp_path / "buildings.geojson", (1, 1, 6, 6))
    small = {"type": "Polygon", "coordinates": [[[0, 0], [20, 0], [20, 20], [0, 20], [0, 0]]]}
    for name in "abc":
        make_raster(f"images/{name}.tif", np.full((30, 30), 9, np.uint8))
        (udm / f"{name}_UDM.geojson").write_text(_feature_collection(small, "absent"))
    result = run_cli("make-masks", labels, images, "-o", tmp_path / "masks", "--ignore", udm)
    assert result.exit_code == 0, result.output
    said = [line for line in result.stderr.splitlines() if "no --ignore region" in line]
    assert len(said) == 1, result.stderr
    assert "a_UDM.geojson: no --ignore region lies on a.tif" in said[0]
    assert "and 2 other region files" in said[0]
