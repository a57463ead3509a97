"""xView2 / xBD label files (one JSON per 1024 px PNG, buildings as WKT in pixel coordinates
and in lon/lat, damage in ``subtype``): read as labels with layers ``xy`` and ``lng_lat``."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import rasterio
import shapely
from rasterio.features import rasterize
from rasterio.transform import from_origin

from tests.conftest import assert_one_line_error

SIZE = 128
#: (pixel polygon, lon/lat polygon on a 0.00001 deg grid from (-95.1, 29.8), subtype)
BUILDINGS = [
    (shapely.box(10, 12, 40, 30), "major-damage"),
    (shapely.Polygon([(60, 60), (100, 64), (96, 100), (58, 92)]), "no-damage"),
    (shapely.box(20, 90, 35, 120), "destroyed"),
]
LON0, LAT0, STEP = -95.1, 29.8, 0.00001


def _lonlat(polygon):
    return shapely.transform(polygon, lambda xy: np.column_stack(
        [LON0 + xy[:, 0] * STEP, LAT0 - xy[:, 1] * STEP]))


def _xbd(tmp_path, name, buildings, subtype=True):
    """An xBD post-disaster label file and its plain PNG, as the dataset ships them."""
    def features(transform):
        return [{"properties": {"feature_type": "building", "uid": f"u{i}",
                                **({"subtype": damage} if subtype else {})},
                 "wkt": transform(polygon).wkt}
                for i, (polygon, damage) in enumerate(buildings)]

    labels = tmp_path / f"{name}.json"
    labels.write_text(json.dumps({
        "features": {"lng_lat": features(_lonlat), "xy": features(lambda p: p)},
        "metadata": {"img_name": f"{name}.png", "width": SIZE, "height": SIZE}}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rasterio: no geotransform
        with rasterio.open(tmp_path / f"{name}.png", "w", driver="PNG", width=SIZE,
                           height=SIZE, count=3, dtype="uint8") as dst:
            dst.write(np.zeros((3, SIZE, SIZE), np.uint8))
    return labels, tmp_path / f"{name}.png"


def _expected(buildings, transform=None, ids=None):
    shapes = [(p, 1 if ids is None else ids[d]) for p, d in buildings]
    return rasterize(shapes, out_shape=(SIZE, SIZE), dtype="uint8",
                     transform=transform or rasterio.Affine.identity())


def _read(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(path) as src:
            return src.read(1), src.crs, src.tags()


def test_make_masks_of_an_xbd_file_draws_its_pixel_polygons(run_cli, tmp_path):
    """make-masks of hurricane-harvey_..._post_disaster.json on its PNG was refused ('a
    GeoJSON object of type None holds no features'): the xy polygons are drawn on the
    image's pixels, and --class-field subtype gives the challenge's damage ids in every
    file, whichever damage classes it holds (not 1..N by name per file)."""
    labels, image = _xbd(tmp_path, "hurricane-harvey_00000001_post_disaster", BUILDINGS)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    mask, crs, _ = _read(tmp_path / "m.tif")
    assert crs is None
    np.testing.assert_array_equal(mask, _expected(BUILDINGS))
    ids = {"no-damage": 1, "minor-damage": 2, "major-damage": 3, "destroyed": 4}
    for name, buildings in (("a_post_disaster", BUILDINGS),
                            ("b_post_disaster", BUILDINGS[2:])):
        labels, image = _xbd(tmp_path, name, buildings)
        out = tmp_path / f"{name}.tif"
        result = run_cli("make-masks", labels, image, "-o", out, "--class-field", "subtype")
        assert result.exit_code == 0, result.output
        mask, _, tags = _read(out)
        np.testing.assert_array_equal(mask, _expected(buildings, ids=ids))
        assert json.loads(tags["GEOTILE_CLASS_NAMES"])[:5] == [
            "background", "no-damage", "minor-damage", "major-damage", "destroyed"]


def test_the_lng_lat_layer_places_an_xbd_file_on_a_georeferenced_image(run_cli, tmp_path):
    """--layer lng_lat reads the lon/lat polygons (EPSG:4326): on the image georeferenced
    on that grid they give the xy mask; an unknown layer names both."""
    labels, _ = _xbd(tmp_path, "scene_post_disaster", BUILDINGS)
    transform = from_origin(LON0, LAT0, STEP, STEP)
    image = tmp_path / "georeferenced.tif"
    with rasterio.open(image, "w", driver="GTiff", width=SIZE, height=SIZE, count=3,
                       dtype="uint8", crs="EPSG:4326", transform=transform) as dst:
        dst.write(np.zeros((3, SIZE, SIZE), np.uint8))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif",
                     "--layer", "lng_lat")
    assert result.exit_code == 0, result.output
    mask, crs, _ = _read(tmp_path / "m.tif")
    assert crs == "EPSG:4326"
    assert (mask != _expected(BUILDINGS)).sum() <= 4  # lon/lat rounding on pixel edges
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "n.tif", "--layer", "xyz")
    assert_one_line_error(result, "scene_post_disaster.json", "'xyz'", "xy", "lng_lat")
    assert not (tmp_path / "n.tif").exists()


def test_the_lng_lat_layer_on_an_xbd_png_names_the_xy_layer(run_cli, tmp_path):
    """--layer lng_lat on the dataset's own PNG (no georeferencing) said to give the labels
    'in a GeoPackage or Shapefile that declares no CRS ... GeoJSON coordinates are always
    longitude/latitude': the file holds them in pixels already, as its xy layer, the
    default. The refusal names that fix (make-masks and tile --labels), nothing written."""
    labels, image = _xbd(tmp_path, "hurricane-harvey_00000001_post_disaster", BUILDINGS)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif",
                     "--layer", "lng_lat")
    assert_one_line_error(result, image.name, labels.name, "--layer xy")
    assert "GeoPackage" not in result.stderr
    assert not (tmp_path / "m.tif").exists()
    result = run_cli("tile", image, "--labels", labels, "--layer", "lng_lat",
                     "-o", tmp_path / "patches")
    assert_one_line_error(result, image.name, labels.name, "--layer xy")
    assert not (tmp_path / "patches").exists()


def test_an_xbd_file_without_buildings_gives_an_empty_mask(run_cli, tmp_path):
    labels, image = _xbd(tmp_path, "empty_pre_disaster", [])
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    mask, _, _ = _read(tmp_path / "m.tif")
    assert mask.shape == (SIZE, SIZE) and not mask.any()


def test_vectorized_predictions_score_against_an_xbd_file(run_cli, tmp_path):
    """A prediction vectorized from the PNG's pixels scores against the xBD truth: the
    same buildings are 3 true positives; one left out is a false negative."""
    labels, image = _xbd(tmp_path, "guatemala-volcano_00000000_post_disaster", BUILDINGS)
    assert run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif").exit_code == 0
    result = run_cli("-q", "vectorize", tmp_path / "m.tif", "-o", tmp_path / "p.gpkg")
    assert result.exit_code == 0, result.output
    result = run_cli("evaluate", tmp_path / "p.gpkg", labels, "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert (scores["tp"], scores["fp"], scores["fn"]) == (3, 0, 0)


@pytest.mark.parametrize("values, expected", [
    (["no-damage", "Destroyed", "un-classified"], {"no-damage": 1, "destroyed": 4}),
    (["no-damage", "flooded"], None),
    ([], None),
])
def test_damage_map_only_for_xbd_damage_names(values, expected):
    from geotile.xbd import damage_map

    found = damage_map(values)
    assert (found is None) == (expected is None)
    for name, i in (expected or {}).items():
        assert found[name] == i


def test_unreadable_wkt_in_an_xbd_file_is_skipped_with_one_warning(tmp_path):
    """A feature whose WKT GEOS cannot read is left out, said once with its number; the
    others are read."""
    from geotile.errors import GeotileWarning
    from geotile.labels import read_labels

    labels, _ = _xbd(tmp_path, "a_post_disaster", BUILDINGS)
    document = json.loads(labels.read_text())
    document["features"]["xy"][1]["wkt"] = "POLYGON ((60 60, 100 64"
    labels.write_text(json.dumps(document))
    with pytest.warns(GeotileWarning, match=r"1 xy feature\(s\) .* skipped \(feature 1,") as seen:
        read = read_labels(labels)
    assert seen[0].filename == __file__  # attributed to the caller of read_labels
    assert [g is None for g in read.geometries] == [False, True, False]
    assert list(read.fields["subtype"]) == [d for _, d in BUILDINGS]


def test_one_xbd_file_is_not_pasted_onto_other_pngs_by_tile(run_cli, tmp_path):
    """tile a_post.png b_post.png --labels a_post.json --annotations coco wrote a's
    buildings onto b's patches too (pixel coordinates place them on any PNG; 6 annotations,
    exit 0). Labels in pixel coordinates belong to one image: refused, nothing written."""
    labels, first = _xbd(tmp_path, "a_post_disaster", BUILDINGS)
    _, second = _xbd(tmp_path, "b_post_disaster", BUILDINGS[:1])
    out = tmp_path / "patches"
    result = run_cli("tile", first, second, "--labels", labels, "--annotations", "coco",
                     "--size", 64, "-o", out)
    assert_one_line_error(result, "a_post_disaster.json", "pixel coordinates",
                          "a_post_disaster.png", "b_post_disaster.png")
    assert not out.exists()
    result = run_cli("tile", first, "--labels", labels, "--annotations", "coco",
                     "--size", 64, "-o", out)
    assert result.exit_code == 0, result.output
    assert len(json.loads((out / "annotations.json").read_text())["annotations"]) >= 3


def test_damage_classes_of_a_vectorized_mask_score_against_the_xbd_subtype(run_cli, tmp_path):
    """make-masks --class-field subtype, vectorize, evaluate --class-field subtype was
    refused ('p.gpkg: no field 'subtype''): vectorize names classes in 'class'. A prediction
    without FIELD is read by its 'class': each damage class scores TP 1."""
    labels, image = _xbd(tmp_path, "a_post_disaster", BUILDINGS)
    assert run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif", "--class-field",
                   "subtype").exit_code == 0
    assert run_cli("-q", "vectorize", tmp_path / "m.tif", "-o", tmp_path / "p.gpkg").exit_code == 0
    result = run_cli("evaluate", tmp_path / "p.gpkg", labels, "--class-field", "subtype",
                     "--json")
    assert result.exit_code == 0, result.output
    per_class = json.loads(result.stdout)["per_class"]
    assert {k: (v["tp"], v["fp"], v["fn"]) for k, v in per_class.items()} == {
        "major-damage": (1, 0, 0), "no-damage": (1, 0, 0), "destroyed": (1, 0, 0)}


def test_pre_disaster_files_with_class_field_subtype_name_the_fix(run_cli, tmp_path):
    """xBD's labels/ holds <name>_pre_disaster.json (buildings before the event: no
    subtype) beside <name>_post_disaster.json: make-masks labels/ images/ --class-field
    subtype was refused as 'no field 'subtype'. Fields: feature_type, uid.', naming no fix;
    the line says pre-disaster files hold no damage and names the post-disaster pattern."""
    for folder in ("labels", "images"):
        (tmp_path / folder).mkdir()
    for when, subtype in (("pre", False), ("post", True)):
        labels, image = _xbd(tmp_path, f"hurricane-harvey_00000001_{when}_disaster",
                             BUILDINGS, subtype=subtype)
        labels.rename(tmp_path / "labels" / labels.name)
        image.rename(tmp_path / "images" / image.name)
    result = run_cli("make-masks", tmp_path / "labels", tmp_path / "images", "-o",
                     f"{tmp_path / 'masks'}/", "--class-field", "subtype")
    assert_one_line_error(result, "hurricane-harvey_00000001_pre_disaster.json",
                          "no field 'subtype'", "pre-disaster", "_post_disaster")
    assert not (tmp_path / "masks").exists()
