"""STAC Items, Catalogs and Collections given as labels (make-masks, tile --labels,
evaluate TRUTH): a label-extension Item's labels asset is read, never the item's footprint."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
import shapely
from pyproj import Transformer
from rasterio.features import rasterize
from rasterio.transform import from_origin

from .conftest import UTM_CRS, UTM_ORIGIN, assert_one_line_error, write_raster

X0, Y0 = UTM_ORIGIN
TRANSFORM = from_origin(X0, Y0, 0.5, 0.5)
SIZE = 40
LABEL_EXT = "https://stac-extensions.github.io/label/v1.0.1/schema.json"
TO_LONLAT = Transformer.from_crs(UTM_CRS, "EPSG:4326", always_xy=True)


def _box(a, b, c, d):
    """A box a..c metres east, b..d metres south of the images' origin."""
    return shapely.box(X0 + a, Y0 - d, X0 + c, Y0 - b)


def _lonlat(geometry):
    return shapely.transform(geometry, lambda xy: np.column_stack(TO_LONLAT.transform(
        xy[:, 0], xy[:, 1])))


def _image(tmp_path, name="tile.tif"):
    return write_raster(tmp_path / name, np.ones((3, SIZE, SIZE), np.uint8))


def _geojson(path, boxes, **fields):
    features = [{"type": "Feature", "geometry": shapely.geometry.mapping(_lonlat(_box(*b))),
                 "properties": {k: v[i] for k, v in fields.items()}}
                for i, b in enumerate(boxes)]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def _item(path, properties=None, assets=None, links=(), extensions=(LABEL_EXT,)):
    """A STAC Item whose footprint covers the whole tile (and more)."""
    footprint = _lonlat(_box(-50, -50, SIZE + 50, SIZE + 50))
    path.write_text(json.dumps({
        "type": "Feature", "stac_version": "1.0.0", "stac_extensions": list(extensions),
        "id": path.stem, "geometry": shapely.geometry.mapping(footprint),
        "bbox": list(footprint.bounds),
        "properties": {"datetime": "2020-01-01T00:00:00Z", **(properties or {})},
        "assets": assets or {}, "links": list(links)}))
    return path


def _vector_item(path, href="labels.geojson", fields=("class",), classes=None):
    properties = {"label:type": "vector", "label:properties": list(fields) if fields else None,
                  "label:description": "buildings", "label:tasks": ["segmentation"]}
    if classes is not None:
        properties["label:classes"] = classes
    return _item(path, properties, {"labels": {"href": href, "roles": ["labels"],
                                               "type": "application/geo+json"}})


def _read(path):
    with rasterio.open(path) as src:
        return src.read(1), src.tags()


def _expected(boxes, ids):
    return rasterize([(_box(*b), i) for b, i in zip(boxes, ids, strict=True)],
                     out_shape=(SIZE, SIZE), transform=TRANSFORM, dtype="uint8")


def test_an_item_footprint_is_never_burnt(run_cli, tmp_path):
    """An item whose footprint covers the tile: its labels (two small boxes) are the mask,
    not the footprint (it was burnt over the whole tile, exit 0)."""
    boxes = [(1, 1, 6, 5), (10, 2, 15, 9)]
    _geojson(tmp_path / "labels.geojson", boxes)
    item = _vector_item(tmp_path / "item.json", fields=None)
    result = run_cli("make-masks", str(item), str(_image(tmp_path)), "-o",
                     str(tmp_path / "m.tif"))
    assert result.exit_code == 0, result.output
    mask, _ = _read(tmp_path / "m.tif")
    np.testing.assert_array_equal(mask, _expected(boxes, [1, 1]))
    assert 0 < mask.sum() < SIZE * SIZE / 4


CLASSES = [{"name": "class", "classes": ["road", "building", "tree"]}]


def test_declared_classes_give_the_ids_whichever_a_tile_holds(run_cli, tmp_path):
    """label:classes road, building, tree: ids 1..3 by sorted name (building 1, road 2,
    tree 3) in every mask, the tile holding only trees too (alone it would make tree 1);
    the one label:properties field classes the features without --class-field."""
    boxes = [(1, 1, 6, 5), (10, 2, 15, 9)]
    _geojson(tmp_path / "labels.geojson", boxes, **{"class": ["tree", "tree"]})
    item = _vector_item(tmp_path / "item.json", classes=CLASSES)
    result = run_cli("make-masks", str(item), str(_image(tmp_path)), "-o",
                     str(tmp_path / "m.tif"))
    assert result.exit_code == 0, result.output
    mask, tags = _read(tmp_path / "m.tif")
    np.testing.assert_array_equal(mask, _expected(boxes, [3, 3]))
    assert json.loads(tags["GEOTILE_CLASS_NAMES"]) == ["background", "building", "road",
                                                       "tree"]


def test_a_class_the_item_does_not_declare_is_refused(run_cli, tmp_path):
    _geojson(tmp_path / "labels.geojson", [(1, 1, 6, 5)], **{"class": ["car"]})
    item = _vector_item(tmp_path / "item.json", classes=CLASSES)
    result = run_cli("make-masks", str(item), str(_image(tmp_path)), "-o",
                     str(tmp_path / "m.tif"))
    assert_one_line_error(result, "labels.geojson", "'car'", "label:classes",
                          "road, building, tree")
    assert not (tmp_path / "m.tif").exists()


def test_several_class_fields_need_class_field(run_cli, tmp_path):
    """Zanzibar's items: label:properties building and condition, both with classes."""
    boxes = [(1, 1, 6, 5), (10, 2, 15, 9)]
    _geojson(tmp_path / "labels.geojson", boxes, building=["yes", "yes"],
             condition=["Complete", "Incomplete"])
    classes = [{"name": "building", "classes": ["yes"]},
               {"name": "condition", "classes": ["Complete", "Incomplete", "Foundation"]}]
    item = _vector_item(tmp_path / "item.json", fields=("building", "condition"),
                        classes=classes)
    args = ("make-masks", str(item), str(_image(tmp_path)), "-o", str(tmp_path / "m.tif"))
    assert_one_line_error(run_cli(*args), "item.json", "building, condition",
                          "--class-field")
    assert not (tmp_path / "m.tif").exists()
    result = run_cli(*args, "--class-field", "condition")
    assert result.exit_code == 0, result.output
    mask, _ = _read(tmp_path / "m.tif")  # Complete 1, Foundation 2, Incomplete 3
    np.testing.assert_array_equal(mask, _expected(boxes, [1, 3]))


def test_a_raster_label_item_is_read_as_a_label_raster(run_cli, tmp_path):
    """label:type raster: the GeoTIFF asset's ids copied, named by its
    classification:classes (the extent GeoJSON beside it is not the labels)."""
    ids = np.zeros((1, SIZE, SIZE), np.uint8)
    ids[0, 5:10, 5:20], ids[0, 20:30, 10:15] = 1, 2
    write_raster(tmp_path / "lc.tif", ids)
    _geojson(tmp_path / "extent.geojson", [(0, 0, SIZE / 2, SIZE / 2)])
    classes = [{"value": 0, "name": "other"}, {"value": 1, "name": "water"},
               {"value": 2, "name": "crops"}]
    item = _item(tmp_path / "item.json", {
        "label:type": "raster", "label:properties": None, "label:description": "land cover",
        "label:classes": [{"name": None, "classes": ["other", "water", "crops"]}]}, {
        "labels": {"href": "./lc.tif", "roles": ["labels", "labels-raster"],
                   "type": "image/tiff; application=geotiff",
                   "classification:classes": classes},
        "extent": {"href": "extent.geojson", "roles": ["labels", "labels-extent"],
                   "type": "application/geo+json"}})
    result = run_cli("make-masks", str(item), str(_image(tmp_path)), "-o",
                     str(tmp_path / "m.tif"))
    assert result.exit_code == 0, result.output
    mask, tags = _read(tmp_path / "m.tif")
    np.testing.assert_array_equal(mask, ids[0])
    assert json.loads(tags["GEOTILE_CLASS_NAMES"]) == ["other", "water", "crops"]


def test_an_imagery_item_is_refused(run_cli, tmp_path):
    item = _item(tmp_path / "scene.json", {"eo:cloud_cover": 1},
                 {"visual": {"href": "scene.tif", "roles": ["data"]}}, extensions=())
    result = run_cli("make-masks", str(item), str(_image(tmp_path)), "-o",
                     str(tmp_path / "m.tif"))
    assert_one_line_error(result, "scene.json", "a STAC Item of imagery",
                          "its label item or their GeoJSON")
    assert not (tmp_path / "m.tif").exists()


def test_tile_refuses_a_catalog_naming_its_label_items(run_cli, tmp_path):
    _geojson(tmp_path / "labels.geojson", [(1, 1, 6, 5)], **{"class": ["tree"]})
    _vector_item(tmp_path / "item.json", classes=CLASSES)
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps({
        "type": "Catalog", "stac_version": "1.0.0", "id": "c", "description": "labels",
        "links": [{"rel": "item", "href": "./item.json"}, {"rel": "root", "href": "."}]}))
    result = run_cli("tile", str(_image(tmp_path)), "-o", str(tmp_path / "out"), "--size",
                     "20", "--labels", str(catalog))
    assert_one_line_error(result, "catalog.json", "a STAC Catalog", "one label item per image",
                          str(tmp_path / "item.json"))


@pytest.mark.parametrize("href", ["https://example.com/data/labels.geojson", "missing.geojson"])
def test_a_labels_asset_not_here_is_refused(run_cli, tmp_path, href):
    item = _vector_item(tmp_path / "item.json", href=href, fields=None)
    result = run_cli("make-masks", str(item), str(_image(tmp_path)), "-o",
                     str(tmp_path / "m.tif"))
    assert_one_line_error(result, "item.json", "download it")
    assert not (tmp_path / "m.tif").exists()


def test_resume_redoes_a_mask_whose_labels_geojson_changed(run_cli, tmp_path):
    labels = _geojson(tmp_path / "labels.geojson", [(1, 1, 6, 5)], **{"class": ["tree"]})
    item = _vector_item(tmp_path / "item.json", classes=CLASSES)
    args = ("make-masks", str(item), str(_image(tmp_path)), "-o", str(tmp_path / "m.tif"),
            "--resume")
    assert run_cli(*args).exit_code == 0
    assert "skipped" in run_cli(*args).output
    _geojson(labels, [(1, 1, 6, 5)], **{"class": ["road"]})
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    assert "skipped" not in result.output
    np.testing.assert_array_equal(_read(tmp_path / "m.tif")[0], _expected([(1, 1, 6, 5)], [2]))
    item.write_text(item.read_text().replace('"road", ', ""))  # road undeclared now
    assert_one_line_error(run_cli(*args), "'road'", "label:classes")


def test_workers_make_the_masks_of_a_serial_run(run_cli, tmp_path):
    pytest.importorskip("distributed")
    boxes = [(1, 1, 6, 5), (10, 2, 15, 9)]
    _geojson(tmp_path / "labels.geojson", boxes, **{"class": ["tree", "road"]})
    item = _vector_item(tmp_path / "item.json", classes=CLASSES)
    images = [_image(tmp_path, f"t{i}.tif") for i in (1, 2)]
    args = ("make-masks", str(item), *map(str, images), "--json", "-o")
    serial = run_cli(*args, f"{tmp_path / 'serial'}/")
    assert serial.exit_code == 0, serial.output
    workers = run_cli(*args, f"{tmp_path / 'workers'}/", "--workers", "2")
    assert workers.exit_code == 0, workers.output
    assert workers.stdout == serial.stdout.replace("serial", "workers")
    for image in images:
        mask = _read(tmp_path / "workers" / image.name)[0]
        np.testing.assert_array_equal(mask, _expected(boxes, [3, 2]))


def test_tile_labels_of_an_item_are_its_geojson_classed_as_declared(run_cli, tmp_path):
    boxes = [(1, 1, 6, 5)]
    _geojson(tmp_path / "labels.geojson", boxes, **{"class": ["tree"]})
    item = _vector_item(tmp_path / "item.json", classes=CLASSES)
    result = run_cli("tile", str(_image(tmp_path)), "-o", str(tmp_path / "out"), "--size",
                     "20", "--labels", str(item))
    assert result.exit_code == 0, result.output
    features = [f for p in sorted((tmp_path / "out" / "labels").glob("*.geojson"))
                for f in json.loads(p.read_text())["features"]]
    assert features and {f["properties"]["class_id"] for f in features} == {3}
    assert {f["properties"]["class"] for f in features} == {"tree"}
    assert sum(shapely.geometry.shape(f["geometry"]).area for f in features) == \
        pytest.approx(20.0)


def test_tile_labels_refuses_an_imagery_item(run_cli, tmp_path):
    item = _item(tmp_path / "scene.json", {}, {"visual": {"href": "scene.tif"}},
                 extensions=())
    result = run_cli("tile", str(_image(tmp_path)), "-o", str(tmp_path / "out"), "--size",
                     "20", "--labels", str(item))
    assert_one_line_error(result, "scene.json", "a STAC Item of imagery")
    assert not (tmp_path / "out").exists()


def test_evaluate_scores_against_an_items_labels(run_cli, tmp_path):
    """The truth is the item's two boxes (its footprint would be one more truth)."""
    boxes = [(1, 1, 6, 5), (10, 2, 15, 9)]
    _geojson(tmp_path / "labels.geojson", boxes, **{"class": ["tree", "road"]})
    item = _vector_item(tmp_path / "item.json", classes=CLASSES)
    prediction = _geojson(tmp_path / "pred.geojson", boxes)
    result = run_cli("evaluate", str(prediction), str(item), "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert (scores["tp"], scores["fp"], scores["fn"]) == (2, 0, 0)


def test_read_labels_never_reads_an_item_as_a_feature(tmp_path):
    """Where an item is read as vector labels without being resolved (a folder of label
    items, a prediction): refused, naming its labels asset."""
    from geotile.errors import InputError
    from geotile.labels import read_labels

    _geojson(tmp_path / "labels.geojson", [(1, 1, 6, 5)], **{"class": ["tree"]})
    item = _vector_item(tmp_path / "item.json", classes=CLASSES)
    with pytest.raises(InputError, match=r"a STAC label item.*labels\.geojson"):
        read_labels(item)


def test_class_map_applies_to_the_items_class_field(run_cli, tmp_path):
    _geojson(tmp_path / "labels.geojson", [(1, 1, 6, 5)], **{"class": ["tree"]})
    item = _vector_item(tmp_path / "item.json", classes=CLASSES)
    (tmp_path / "map.json").write_text('{"road": 1, "building": 2, "tree": 7}')
    result = run_cli("make-masks", str(item), str(_image(tmp_path)), "-o",
                     str(tmp_path / "m.tif"), "--class-map", str(tmp_path / "map.json"))
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "m.tif")[0], _expected([(1, 1, 6, 5)], [7]))


@pytest.mark.parametrize("properties", [
    {"label:properties": None},  # the field named by label:classes alone
    {"label:property": ["class"]},  # STAC 0.8's singular name
], ids=["properties-null", "stac-0.8-property"])
def test_the_field_label_classes_names_classes_the_features(run_cli, tmp_path, properties):
    """label:properties null (or 0.8's label:property) and label:classes of road and tree:
    the features are classed by that field (both were burnt as one class, exit 0)."""
    boxes = [(1, 1, 6, 5), (10, 2, 15, 9)]
    _geojson(tmp_path / "labels.geojson", boxes, **{"class": ["tree", "road"]})
    item = _item(tmp_path / "item.json", {
        "label:type": "vector", "label:description": "cover", **properties,
        "label:classes": [{"name": "class", "classes": ["road", "tree"]}]},
        {"labels": {"href": "labels.geojson", "roles": ["labels"]}})
    result = run_cli("make-masks", str(item), str(_image(tmp_path)), "-o",
                     str(tmp_path / "m.tif"))
    assert result.exit_code == 0, result.output
    mask, tags = _read(tmp_path / "m.tif")
    np.testing.assert_array_equal(mask, _expected(boxes, [2, 1]))
    assert json.loads(tags["GEOTILE_CLASS_NAMES"]) == ["background", "road", "tree"]


def test_one_declared_class_without_a_field_is_one_class(run_cli, tmp_path):
    """label:properties null, label:classes of one name the features do not carry: one
    class, as before."""
    boxes = [(1, 1, 6, 5)]
    _geojson(tmp_path / "labels.geojson", boxes)
    item = _item(tmp_path / "item.json", {
        "label:type": "vector", "label:properties": None,
        "label:classes": [{"name": "building", "classes": ["building"]}]},
        {"labels": {"href": "labels.geojson", "roles": ["labels"]}})
    result = run_cli("make-masks", str(item), str(_image(tmp_path)), "-o",
                     str(tmp_path / "m.tif"))
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "m.tif")[0], _expected(boxes, [1]))


def test_two_fields_label_classes_names_need_class_field(run_cli, tmp_path):
    _geojson(tmp_path / "labels.geojson", [(1, 1, 6, 5)], kind=["a"], state=["new"])
    item = _item(tmp_path / "item.json", {
        "label:type": "vector", "label:properties": None,
        "label:classes": [{"name": "kind", "classes": ["a", "b"]},
                          {"name": "state", "classes": ["new", "old"]}]},
        {"labels": {"href": "labels.geojson", "roles": ["labels"]}})
    result = run_cli("make-masks", str(item), str(_image(tmp_path)), "-o",
                     str(tmp_path / "m.tif"))
    assert_one_line_error(result, "item.json", "label:classes", "kind, state",
                          "--class-field kind")
    assert not (tmp_path / "m.tif").exists()


def test_the_asset_the_source_link_names_is_the_labels(run_cli, tmp_path):
    """The extension's roads example: asset road_labels, no role, named by the source
    link's label:assets (it was refused as an item without labels)."""
    boxes = [(1, 1, 6, 5), (10, 2, 15, 9)]
    _geojson(tmp_path / "roads.geojson", boxes, road_type=["5", "6"])
    item = _item(tmp_path / "item.json", {
        "label:type": "vector", "label:properties": ["road_type"],
        "label:classes": [{"name": "road_type", "classes": ["1", "5", "6"]}]},
        {"road_labels": {"href": "roads.geojson", "type": "application/geo+json"}},
        links=[{"rel": "source", "href": "source.json", "label:assets": ["road_labels"]}])
    result = run_cli("make-masks", str(item), str(_image(tmp_path)), "-o",
                     str(tmp_path / "m.tif"))
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "m.tif")[0], _expected(boxes, [5, 6]))


@pytest.mark.parametrize("kind", ["relative", "file-uri"])
def test_percent_encoded_hrefs_are_read(run_cli, tmp_path, kind):
    boxes = [(1, 1, 6, 5)]
    _geojson(tmp_path / "my labels.geojson", boxes)
    href = "my%20labels.geojson" if kind == "relative" else \
        (tmp_path / "my labels.geojson").as_uri()
    item = _vector_item(tmp_path / "item.json", href=href, fields=None)
    result = run_cli("make-masks", str(item), str(_image(tmp_path)), "-o",
                     str(tmp_path / "m.tif"))
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "m.tif")[0], _expected(boxes, [1]))



def _catalog(path, links, kind="Catalog"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "type": kind, "stac_version": "1.0.0", "id": path.stem, "description": "labels",
        "links": [{"rel": "root", "href": "./catalog.json"}, *links]}))
    return path


def _labelled_scene(folder, name, boxes, classes, declared):
    """images/NAME.tif, its source imagery item source/NAME/NAME.json (its data asset
    ../../images/NAME.tif) and its label item labels/NAME/item.json (labels.geojson beside
    it, its source link ../../source/NAME/NAME.json): (label item, image, source item)."""
    for sub in ("images", f"source/{name}", f"labels/{name}"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    image = _image(folder / "images", f"{name}.tif")
    source = _item(folder / "source" / name / f"{name}.json", {}, {
        "data": {"href": f"../../images/{name}.tif", "roles": ["data"],
                 "type": "image/tiff; application=geotiff"}}, extensions=())
    _geojson(folder / "labels" / name / "labels.geojson", boxes, **{"class": classes})
    item = _vector_item(folder / "labels" / name / "item.json",
                        classes=[{"name": "class", "classes": declared}])
    document = json.loads(item.read_text())
    document["links"] = [{"rel": "source", "href": f"../../source/{name}/{name}.json"}]
    item.write_text(json.dumps(document))
    return item, image, source


A_BOXES, B_BOXES = [(1, 1, 6, 5), (10, 2, 15, 9)], [(3, 3, 12, 8)]


def _two_scene_catalog(tmp_path):
    """A catalog (a child collection of its label items) of scenes a (trees, roads) and b
    (a building, declared only by b)."""
    a = _labelled_scene(tmp_path, "a", A_BOXES, ["tree", "road"], ["road", "tree"])
    b = _labelled_scene(tmp_path, "b", B_BOXES, ["building"], ["building", "road"])
    _catalog(tmp_path / "labels" / "collection.json", [
        {"rel": "item", "href": "./a/item.json"}, {"rel": "item", "href": "b/item.json"},
        {"rel": "parent", "href": "../catalog.json"}], kind="Collection")
    catalog = _catalog(tmp_path / "catalog.json",
                       [{"rel": "child", "href": "./labels/collection.json"}])
    return catalog, a, b


def test_a_catalog_gives_each_image_its_label_items_labels(run_cli, tmp_path):
    """Each image's mask is its label item's labels (as that item alone gives them, with
    --class-map of the run's ids), ids alike across masks: building 1, road 2, tree 3 from
    both items' label:classes."""
    catalog, (item_a, image_a, _), (item_b, image_b, _) = _two_scene_catalog(tmp_path)
    result = run_cli("make-masks", str(catalog), str(image_b), str(image_a), "-o",
                     f"{tmp_path / 'masks'}/", "--json")
    assert result.exit_code == 0, result.output
    summaries = json.loads(result.stdout)["masks"]
    assert [s["labels"] for s in summaries] == [str(item_b), str(item_a)]
    mask_a, tags_a = _read(tmp_path / "masks" / "a.tif")
    mask_b, tags_b = _read(tmp_path / "masks" / "b.tif")
    np.testing.assert_array_equal(mask_a, _expected(A_BOXES, [3, 2]))
    np.testing.assert_array_equal(mask_b, _expected(B_BOXES, [1]))
    names = ["background", "building", "road", "tree"]
    assert json.loads(tags_a["GEOTILE_CLASS_NAMES"]) == json.loads(
        tags_b["GEOTILE_CLASS_NAMES"]) == names
    (tmp_path / "map.json").write_text('{"building": 1, "road": 2, "tree": 3}')
    for item, image, mask in ((item_a, image_a, mask_a), (item_b, image_b, mask_b)):
        alone = tmp_path / f"alone_{image.name}"
        result = run_cli("make-masks", str(item), str(image), "-o", str(alone),
                         "--class-map", str(tmp_path / "map.json"))
        assert result.exit_code == 0, result.output
        np.testing.assert_array_equal(_read(alone)[0], mask)


def test_a_catalog_image_found_by_name(run_cli, tmp_path):
    """An image copied elsewhere pairs by its file name."""
    catalog, _, (_, image_b, _) = _two_scene_catalog(tmp_path)
    (tmp_path / "copy").mkdir()
    copy = tmp_path / "copy" / "b.tif"
    copy.write_bytes(image_b.read_bytes())
    result = run_cli("make-masks", str(catalog), str(copy), "-o", str(tmp_path / "m.tif"))
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "m.tif")[0], _expected(B_BOXES, [1]))


def test_a_catalog_refuses_an_image_no_item_names(run_cli, tmp_path):
    catalog, (_, image_a, _), _ = _two_scene_catalog(tmp_path)
    other = _image(tmp_path, "c.tif")
    result = run_cli("make-masks", str(catalog), str(image_a), str(other), "-o",
                     f"{tmp_path / 'masks'}/")
    assert_one_line_error(result, "c.tif", "no label item of", "catalog.json",
                          "2 label items found", "a.tif", "rel=\"source\"")
    assert not (tmp_path / "masks").exists() or not any((tmp_path / "masks").iterdir())


def test_a_catalog_refuses_an_image_two_items_name(run_cli, tmp_path):
    catalog, (_, image_a, _), (item_b, _, _) = _two_scene_catalog(tmp_path)
    document = json.loads(item_b.read_text())
    document["links"] = [{"rel": "source", "href": "../../source/a/a.json"}]
    item_b.write_text(json.dumps(document))
    result = run_cli("make-masks", str(catalog), str(image_a), "-o", str(tmp_path / "m.tif"))
    assert_one_line_error(result, "a.tif", "label items", "both name it")
    assert not (tmp_path / "m.tif").exists()


def test_a_catalog_whose_links_cycle_is_refused(run_cli, tmp_path):
    _catalog(tmp_path / "sub" / "catalog.json", [{"rel": "child", "href": "../catalog.json"}])
    catalog = _catalog(tmp_path / "catalog.json", [{"rel": "child",
                                                   "href": "sub/catalog.json"}])
    result = run_cli("make-masks", str(catalog), str(_image(tmp_path)), "-o",
                     str(tmp_path / "m.tif"))
    assert_one_line_error(result, "catalog.json", "links cycle", "rel=\"child\"")
    assert not (tmp_path / "m.tif").exists()


def test_a_deep_catalog_is_refused(run_cli, tmp_path):
    from geotile.stac_catalogs import MAX_DEPTH

    for depth in range(MAX_DEPTH + 1):
        _catalog(tmp_path / ("d/" * depth) / "catalog.json",
                 [{"rel": "child", "href": "d/catalog.json"}])
    result = run_cli("make-masks", str(tmp_path / "catalog.json"), str(_image(tmp_path)),
                     "-o", str(tmp_path / "m.tif"))
    assert_one_line_error(result, "catalog.json", f"more than {MAX_DEPTH} deep")


def test_a_catalog_resumes_what_its_own_item_leaves_alone(run_cli, tmp_path):
    """--resume redoes the mask whose own labels changed, skips the other."""
    catalog, (_, image_a, _), (item_b, image_b, _) = _two_scene_catalog(tmp_path)
    args = ("make-masks", str(catalog), str(image_a), str(image_b), "-o",
            f"{tmp_path / 'masks'}/", "--resume")
    assert run_cli(*args).exit_code == 0
    _geojson(item_b.parent / "labels.geojson", B_BOXES, **{"class": ["road"]})
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    assert "a.tif: complete from an earlier run, skipped" in result.output
    assert "b.tif: complete" not in result.output
    np.testing.assert_array_equal(_read(tmp_path / "masks" / "b.tif")[0],
                                  _expected(B_BOXES, [2]))


def test_a_catalog_with_workers_makes_the_masks_of_a_serial_run(run_cli, tmp_path):
    pytest.importorskip("distributed")
    catalog, (_, image_a, _), (_, image_b, _) = _two_scene_catalog(tmp_path)
    args = ("make-masks", str(catalog), str(image_a), str(image_b), "--json", "-o")
    serial = run_cli(*args, f"{tmp_path / 'serial'}/")
    assert serial.exit_code == 0, serial.output
    workers = run_cli(*args, f"{tmp_path / 'workers'}/", "--workers", "2")
    assert workers.exit_code == 0, workers.output
    assert workers.stdout == serial.stdout.replace("serial", "workers")
    for name in ("a.tif", "b.tif"):
        np.testing.assert_array_equal(_read(tmp_path / "workers" / name)[0],
                                      _read(tmp_path / "serial" / name)[0])


def test_a_catalog_where_one_item_cannot_take_is_refused_before_any_mask(run_cli, tmp_path):
    """--where over a field scene a's labels hold and b's lack: refused in one line naming
    b's labels before a's mask is written (as a label folder's files are checked)."""
    catalog, (_, image_a, _), (_, image_b, _) = _two_scene_catalog(tmp_path)
    _geojson(tmp_path / "labels" / "a" / "labels.geojson", A_BOXES,
             **{"class": ["tree", "road"], "conf": [0.9, 0.2]})
    result = run_cli("make-masks", str(catalog), str(image_a), str(image_b), "-o",
                     f"{tmp_path / 'masks'}/", "--where", "conf > 0.5")
    assert_one_line_error(result, str(tmp_path / "labels" / "b" / "labels.geojson"),
                          "conf > 0.5")
    assert not (tmp_path / "masks" / "a.tif").exists()


def test_a_catalog_of_undeclared_classes_numbers_the_selected_features(run_cli, tmp_path):
    """Items without label:classes: the names of their files' features --where selects
    get the ids (tree filtered out takes none), as a label folder's do."""
    catalog, (item_a, image_a, _), (item_b, image_b, _) = _two_scene_catalog(tmp_path)
    for item in (item_a, item_b):
        document = json.loads(item.read_text())
        del document["properties"]["label:classes"]
        item.write_text(json.dumps(document))
    result = run_cli("make-masks", str(catalog), str(image_a), str(image_b), "-o",
                     f"{tmp_path / 'masks'}/", "--where", "class <> 'tree'", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["classes"] == ["background", "building", "road"]
    np.testing.assert_array_equal(_read(tmp_path / "masks" / "a.tif")[0],
                                  _expected(A_BOXES[1:], [2]))



def test_a_catalog_pairs_the_source_imagery_item_given_as_image(run_cli, tmp_path):
    """Open Cities AI's train_tier_1: each label item's source link is the imagery item
    (acc/665946/665946.json); that item given as IMAGE takes the label item naming it, as
    its image file does. It was refused as named by none ('1 label items found, naming
    b.tif'): with no band metadata it is now refused for that, naming the image file."""
    catalog, _, (_, _, source_b) = _two_scene_catalog(tmp_path)
    result = run_cli("make-masks", str(catalog), str(source_b), "-o", str(tmp_path / "m.tif"))
    assert_one_line_error(result, "b.json", "no raster data assets", "give the image file")
    document = json.loads(source_b.read_text())
    document["assets"]["data"]["eo:bands"] = [{"name": n} for n in ("red", "green", "blue")]
    source_b.write_text(json.dumps(document))
    result = run_cli("make-masks", str(catalog), str(source_b), "-o", str(tmp_path / "m.tif"))
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "m.tif")[0], _expected(B_BOXES, [1]))
