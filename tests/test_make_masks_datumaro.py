"""make-masks with Datumaro JSON as LABELS (geotile.datumaro_labels: CVAT's "Datumaro 1.0"
export, Intel Geti's, datum export -f datumaro): an export's root, its annotations folder or
one subset file, each IMAGE paired with the item of its name; polygons, boxes (turned too),
ellipses and RLE masks burnt by z_order in the image's pixels, area-less types left out
with one warning, ids over the whole export's labels; evaluate against it as TRUTH; the
refusals (one line, nothing written); other formats' files are never taken for it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from tests.conftest import UTM_CRS, assert_one_line_error, write_raster
from tests.pixel_label_files import (
    assert_evaluate_as_make_masks,
    coco_counts,
    one_image_as_all,
    plain_png,
    read_mask,
    turned_jpeg,
)

H, W = 40, 60
LABELS = ["building", "car", "tree", "water", "road", "__ignore__"]


def _categories(labels=LABELS) -> dict:
    return {"label": {"labels": [{"name": n, "parent": "", "attributes": []} for n in labels],
                      "label_groups": [], "attributes": []}}


def _ann(kind, label, z=0, group=0, **data) -> dict:
    return {"id": 0, "type": kind, "attributes": data.pop("attributes", {}), "group": group,
            "label_id": LABELS.index(label), "z_order": z, **data}


def _item(ident, annotations, path=None, size=(H, W)) -> dict:
    image = {"path": path if path is not None else f"{ident}.jpg"}
    if size is not None:
        image["size"] = list(size)
    return {"id": ident, "annotations": annotations, "image": image}


def _write(path, items, labels=LABELS) -> object:
    """A subset file as datumaro 1.x's exporter writes it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"dm_format_version": "1.0", "media_type": 2, "infos": {},
                                "categories": _categories(labels), "items": items}))
    return path


def _mask_rle(mask) -> dict:
    return {"counts": coco_counts(mask), "size": list(mask.shape)}


def _ellipse_pixels(x1, y1, x2, y2) -> np.ndarray:
    rows, cols = np.mgrid[0:H, 0:W] + 0.5
    cx, cy, rx, ry = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2, (y2 - y1) / 2
    return (cols - cx) ** 2 / rx ** 2 + (rows - cy) ** 2 / ry ** 2 <= 1


def _export(tmp_path):
    """An export root: train (a: every shape type; b) and val (c), images beside."""
    blob = np.zeros((H, W), bool)
    blob[30:36, 40:50] = True
    blob[32:34, 44:46] = False
    root = tmp_path / "export"
    _write(root / "annotations" / "train.json", [
        _item("a", [
            _ann("polygon", "building", z=1, points=[5, 5, 20, 5, 20, 15, 5, 15]),
            _ann("bbox", "car", bbox=[10, 10, 20, 10]),  # under the building (z 0)
            _ann("mask", "tree", rle=_mask_rle(blob)),
            _ann("ellipse", "water", points=[2, 20, 14, 28]),
            _ann("polyline", "road", points=[0, 39, 59, 39]),
            _ann("points", "building", points=[50, 35], visibility=[2]),
            {"id": 0, "type": "caption", "attributes": {}, "group": 0, "caption": "x"},
            {"id": 0, "type": "label", "attributes": {}, "group": 0, "label_id": 1},
            _ann("bbox", "__ignore__", bbox=[55, 0, 5, 3])]),
        _item("b", [_ann("polygon", "water", points=[30, 2, 40, 8, 31, 12])])])
    _write(root / "annotations" / "val.json", [
        _item("c", [_ann("bbox", "car", bbox=[0, 0, 4, 4])])])
    images = [plain_png(root / "images" / sub / f"{n}.jpg", W, H)
              for sub, n in (("train", "a"), ("train", "b"), ("val", "c"))]
    return root, images, blob


def test_export_root_burns_every_area_type_by_z_order(tmp_path, run_cli):
    """The export's root: a's polygon (z 1) over the box, the RLE mask exactly (its hole
    too), the ellipse's pixel centres inside, __ignore__ 255; polylines, points, captions
    and labels left out with one warning; ids by sorted name over every subset's labels
    (road only on a polyline: no class)."""
    root, images, blob = _export(tmp_path)
    out = tmp_path / "masks"
    result = run_cli("make-masks", root, *images, "-o", f"{out}/")
    assert result.exit_code == 0, result.output
    assert "class ids by name: 1 building, 2 car, 3 tree, 4 water" in result.stdout
    assert "4 label, points, polyline, caption, cuboid, skeleton or other annotations " \
        "were left out (train.json a.jpg annotations[4] first)" in result.stderr
    expected = np.zeros((H, W), np.uint8)
    expected[10:20, 10:30] = 2
    expected[5:15, 5:20] = 1
    expected[blob] = 3
    expected[_ellipse_pixels(2, 20, 14, 28)] = 4
    expected[0:3, 55:60] = 255
    np.testing.assert_array_equal(read_mask(out / "a.tif")[0], expected)
    c = np.zeros((H, W), np.uint8)
    c[0:4, 0:4] = 2
    np.testing.assert_array_equal(read_mask(out / "c.tif")[0], c)


def test_one_subset_file_and_partial_runs_number_classes_as_the_full_one(tmp_path, run_cli):
    """c (val: a car) masked alone from the root takes car's id of the whole export (2),
    as with every image; its subset file alone numbers its own labels the same; --resume
    skips it, and redoes it when another subset's file declares a class before car."""
    root, images, _ = _export(tmp_path)
    mask = one_image_as_all(tmp_path, run_cli, root, images,
                            "class ids by name: 1 building, 2 car, 3 tree, 4 water")
    assert set(np.unique(mask)) == {0, 2}
    alone = run_cli("make-masks", root / "annotations" / "val.json", images[2], "-o",
                    tmp_path / "v.tif")
    assert alone.exit_code == 0, alone.output
    np.testing.assert_array_equal(read_mask(tmp_path / "v.tif")[0], mask)
    same = run_cli("make-masks", root, images[2], "-o", f"{tmp_path / 'one'}/", "--resume")
    assert same.exit_code == 0, same.output
    assert "skipped" in same.output.lower()
    _write(root / "annotations" / "train.json", [_item("a", [  # a class before car: 'bus'
        _ann("polygon", "building", points=[5, 5, 20, 5, 20, 15])])],
        labels=["building", "bus", *LABELS[1:]])
    again = run_cli("make-masks", root, images[2], "-o", f"{tmp_path / 'one'}/", "--resume")
    assert again.exit_code == 0, again.output
    assert set(np.unique(read_mask(tmp_path / "one" / "c.tif")[0])) == {0, 3}


def test_georeferenced_image_paired_by_id_with_a_rotated_box(tmp_path, run_cli):
    """A UTM GeoTIFF paired by its stem with an item of no image path (CVAT's export
    without images): the mask on its grid; CVAT's rotation attribute (degrees, clockwise
    on screen) turns the box about its centre; every label the categories declare is a
    class, used or not (car 2)."""
    transform = from_origin(740000.0, 3735000.0, 0.5, 0.5)
    image = write_raster(tmp_path / "scene.tif", np.full((3, H, W), 7, np.uint8),
                         crs=UTM_CRS, transform=transform)
    item = {"id": "scene", "annotations": [
        _ann("bbox", "car", bbox=[20, 10, 20, 10], attributes={"rotation": 90.0,
                                                                 "occluded": False})],
            "image": {"size": [H, W]}, "attr": {"frame": 0}}
    labels = _write(tmp_path / "default.json", [item])
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    assert "class ids by name: 1 building, 2 car, 3 road, 4 tree, 5 water" in result.stdout
    mask, profile, _, _ = read_mask(tmp_path / "m.tif")
    assert profile["crs"] == rasterio.crs.CRS.from_user_input(UTM_CRS)
    assert profile["transform"] == transform
    expected = np.zeros((H, W), np.uint8)
    expected[5:25, 25:35] = 2  # 20 x 10 about (30, 15), turned: 10 wide, 20 high
    np.testing.assert_array_equal(mask, expected)


def test_groups_are_one_instance_and_workers_agree(tmp_path, run_cli):
    """Two boxes 2 px apart of one group and label are one instance (no contact between
    them); without a group, two (contact in the gap); --workers 2 masks them alike."""
    left, right = [5, 5, 10, 20], [17, 5, 10, 20]
    labels = _write(tmp_path / "default.json", [
        _item("g", [_ann("bbox", "building", group=3, bbox=left),
                    _ann("bbox", "building", group=3, bbox=right)]),
        _item("n", [_ann("bbox", "building", bbox=left), _ann("bbox", "building", bbox=right)])])
    images = [plain_png(tmp_path / f"{n}.png", W, H) for n in "gn"]
    for workers in ("1", "2"):
        out = tmp_path / f"m{workers}"
        result = run_cli("make-masks", labels, *images, "-o", f"{out}/", "--channels",
                         "footprint,contact", "--workers", workers)
        assert result.exit_code == 0, result.output
        grouped, apart = (read_mask(out / f"{n}.tif", None)[0] for n in "gn")
        for bands in (grouped, apart):
            assert bands[0][5:25, 5:15].all() and bands[0][5:25, 17:27].all()
            assert not bands[0][:, 15:17].any()
        assert not grouped[1].any() and apart[1][5:25, 15:17].all()


def test_evaluate_against_datumaro_truth(tmp_path, run_cli):
    """evaluate TRUTH a Datumaro file: a prediction raster scores as make-masks' mask of its
    image; two predicted buildings against two touching polygons are 2 TP."""
    left, right = [10, 10, 20, 10, 20, 30, 10, 30], [20, 10, 30, 10, 30, 30, 20, 30]
    labels = _write(tmp_path / "dm" / "annotations" / "default.json", [
        _item("img", [_ann("polygon", "building", points=left),
                      _ann("polygon", "building", points=right)], path="img.png")],
                    labels=["building"])
    image = plain_png(tmp_path / "images" / "img.png", W, H)
    assert_evaluate_as_make_masks(tmp_path, run_cli, labels, image, W, H)


_OK = [_ann("polygon", "building", points=[1, 1, 9, 1, 9, 9])]
_PAST_FLOAT = 10 ** 400  # an integer JSON may hold and no float can


@pytest.mark.parametrize(("items", "fragments"), [
    ([_item("a", [{**_OK[0], "type": "hologram"}])],
     ["items[0] (a.jpg) annotations[0] has type 'hologram'", "make-masks burns polygon"]),
    ([_item("a", [{**_OK[0], "label_id": 9}])],
     ["annotations[0] (polygon) has label_id 9", "categories list 6 labels"]),
    ([_item("a", [{**_OK[0], "points": [1, 1, 9, 1]}])],
     ["(polygon 'building') has [1, 1, 9, 1]", "at least 3 points"]),
    ([_item("a", [_ann("mask", "tree", rle={"counts": "PPYo0", "size": [10, 10]})])],
     ["(mask 'tree') has an RLE of size [10, 10]", "[40, 60]"]),
    ([_item("a", [_ann("bbox", "car", bbox=[1, 2, float("nan"), 4])])],
     ["(bbox 'car') has a coordinate that is not a finite number"]),
    ([_item("a", [{**_OK[0], "points": [0, 0, 1e300, 0, 1e300, 1e300, 0, 1e300]}])],
     ["(polygon 'building') has a point 1e+300 px out", "past 16777216 px"]),
    ([_item("a", [_ann("bbox", "car", bbox=[-1e15, 0, 10, 10])])],
     ["(bbox 'car') has a point 1e+15 px out", "past 16777216 px"]),
    ([_item("a", _OK, size=(H, 50))], ["a.jpg: 60x40 px", "annotates an image of 50x40 px"]),
    ([{**_item("a", _OK), "annotations": 5}], ["items[0] (a.jpg) has annotations 5",
                                                "give a list"]),
    ([_item("a", _OK, size=(H, _PAST_FLOAT))], ["items[0] has image size [40, 1000",
                                                 "[height, width] in pixels"]),
    ([_item("z", _OK)], ["a.jpg: no item of", "names it or its stem", "z.jpg"]),
    ([_item("a", _OK), _item("a", [], path="sub/a.jpg")], ["has 2 items of it"]),
    ([{"id": "a", "annotations": [], "point_cloud": {"path": "a.pcd"}}],
     ["items[0] (a) is a point cloud", "not an image"]),
])
def test_refusals_are_one_line(tmp_path, run_cli, items, fragments):
    image = plain_png(tmp_path / "a.jpg", W, H)
    labels = _write(tmp_path / "default.json", items)
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", labels, image, "-o", out)
    assert_one_line_error(result, *fragments)
    assert not out.exists()


def test_a_broken_file_of_the_export_is_refused_naming_it(tmp_path, run_cli):
    """A subset file cut short beside a good one: one line naming it, nothing written."""
    root, images, _ = _export(tmp_path)
    (root / "annotations" / "val.json").write_text('{"dm_format_version": "1.0", '
                                                   '"categories": {"label": {')
    result = run_cli("make-masks", root, images[0], "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "val.json: not a JSON file")
    assert not (tmp_path / "m.tif").exists()


def test_told_apart_from_the_other_formats(tmp_path, run_cli):
    """Datumaro's files by categories beside items: no other format's file is taken for
    one, no other reader takes one; vector labels (and so tile --labels) refuse it."""
    from geotile import pixel_label_formats as formats
    from geotile.datumaro_labels import is_datumaro_labels
    from geotile.errors import InputError
    from geotile.labels import read_labels

    root, _, _ = _export(tmp_path)
    subset = root / "annotations" / "train.json"
    for labels in (root, root / "annotations", subset):
        assert formats.pixel_label_format(labels) == formats.DATUMARO, labels
    others = {
        "labelme.json": {"version": "5.4.1", "shapes": [], "imagePath": "a.png",
                         "imageHeight": H, "imageWidth": W},
        "ann.json": {"size": {"height": H, "width": W}, "objects": []},
        "coco.json": {"images": [{"id": 1, "file_name": "a.png", "width": W, "height": H}],
                      "annotations": [], "categories": [{"id": 1, "name": "x"}]},
        "ls.json": [{"id": 1, "data": {"image": "/data/upload/1/a.png"}, "annotations": []}],
        "via.json": {"a.png1": {"filename": "a.png", "size": 1, "regions": [],
                                "file_attributes": {}}},
        "darwin.json": {"version": "2.0", "item": {"name": "a.png", "slots": []},
                        "annotations": []},
        "g.geojson": {"type": "FeatureCollection", "features": []}}
    for name, document in others.items():
        path = tmp_path / "others" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(document))
        assert not is_datumaro_labels(path), name
        assert formats.pixel_label_format(path) != formats.DATUMARO, name
    assert not is_datumaro_labels(tmp_path / "others")
    with pytest.raises(InputError, match=r"Datumaro JSON.*make-masks takes it"):
        read_labels(subset)
    tiled = run_cli("tile", root / "images" / "train" / "a.jpg", "--labels", subset,
                    "--annotations", "coco", "-o", tmp_path / "patches")
    assert_one_line_error(tiled, "train.json: Datumaro JSON", "make-masks takes it")
    assert not (tmp_path / "patches").exists()


def test_shapes_against_datumaro_s_own_drawing():
    """geotile's shapes (pixel-centre rule) against datumaro's PolygonsToMasks and
    BoxesToMasks (pycocotools' frPyObjects of the box's corners, of the ellipse's 720-point
    polygon) on random shapes: boxes of whole-pixel corners alike; polygons and ellipses
    differ only at pixels whose centre lies within half a pixel of the outline (skipped
    without pycocotools)."""
    mask_api = pytest.importorskip("pycocotools.mask")
    import shapely
    from rasterio.features import rasterize

    from geotile.coco_labels import polygonal
    from geotile.datumaro_labels import _boxed

    def theirs(ring):
        return mask_api.decode(mask_api.merge(mask_api.frPyObjects([ring], H, W)))

    def near_outline(geometry, differ):
        rows, cols = np.nonzero(differ)
        centres = shapely.points(cols + 0.5, rows + 0.5)
        return bool((shapely.distance(geometry.boundary, centres) <= 0.5).all())

    rng = np.random.default_rng(5)
    for _ in range(200):
        x, y = (int(v) for v in rng.integers(0, 40, 2))
        w, h = (int(v) for v in rng.integers(1, 20, 2))
        box = _boxed("", "bbox", {"bbox": [x, y, w, h]}, {}, (W, H))
        np.testing.assert_array_equal(rasterize([box], out_shape=(H, W), dtype="uint8"),
                                      theirs([x, y, x + w, y, x + w, y + h, x, y + h]))
    t = np.linspace(0, 2 * np.pi, 720)
    for _ in range(200):
        x1, y1 = rng.uniform(0, 40, 2)
        x2, y2 = x1 + rng.uniform(2, 20), y1 + rng.uniform(2, 20)
        drawn = _boxed("", "ellipse", {"points": [x1, y1, x2, y2]}, {}, (W, H))
        ring = np.column_stack(((x1 + x2) / 2 + (x2 - x1) / 2 * np.cos(t),
                                (y1 + y2) / 2 + (y2 - y1) / 2 * np.sin(t)))
        differ = rasterize([drawn], out_shape=(H, W), dtype="uint8") != theirs(
            ring.ravel().tolist())
        assert near_outline(shapely.Polygon(ring), differ)
    for _ in range(200):
        ring = rng.uniform(8, [W - 8, H - 8]) + rng.uniform(-12, 12, (int(rng.integers(3, 9)),
                                                                     2))
        polygon = polygonal(shapely.make_valid(shapely.Polygon(ring)))  # as read
        differ = rasterize([polygon], out_shape=(H, W), dtype="uint8") != theirs(
            ring.ravel().tolist())
        assert near_outline(shapely.Polygon(ring), differ)


def test_cvat_export_without_images(tmp_path, run_cli):
    """CVAT's "Datumaro 1.0" export without images: items of no image path, ids with
    folders (paired by their last part), a skeleton and its points' labels (a parent):
    the skeleton left out, its labels no classes; a tag's label (no area) neither."""
    labels = [{"name": "building", "parent": "", "attributes": ["roof"]},
              {"name": "person", "parent": "", "attributes": []},
              {"name": "head", "parent": "person", "attributes": []},
              {"name": "sunny", "parent": "", "attributes": []}]
    items = [{"id": "city/tile_01", "annotations": [
        {"id": 0, "type": "polygon", "attributes": {"occluded": False, "roof": "flat"},
         "group": 0, "label_id": 0, "points": [2.0, 2.0, 12.0, 2.0, 12.0, 8.0, 2.0, 8.0],
         "z_order": 0},
        {"id": 1, "type": "skeleton", "attributes": {}, "group": 0, "label_id": 1,
         "elements": [{"type": "points", "label_id": 2, "points": [20.0, 20.0]}]},
        {"id": 2, "type": "label", "attributes": {}, "group": 0, "label_id": 3}],
        "attr": {"frame": 0}, "image": {"size": [H, W]}}]
    path = tmp_path / "task" / "annotations" / "default.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"info": {}, "categories": {
        "label": {"labels": labels, "attributes": ["occluded"]}, "points": {"items": [
            {"label_id": 1, "labels": ["head"], "joints": []}]}}, "items": items}))
    image = plain_png(tmp_path / "images" / "tile_01.png", W, H)
    result = run_cli("make-masks", tmp_path / "task", image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    assert "class ids by name: 1 building (" in result.stdout
    assert "2 label, points, polyline, caption, cuboid, skeleton or other annotations" \
        in result.stderr
    expected = np.zeros((H, W), np.uint8)
    expected[2:8, 2:12] = 1
    np.testing.assert_array_equal(read_mask(tmp_path / "m.tif")[0], expected)


def test_a_crowd_region_is_burnt_as_ignore_as_coco_s(tmp_path, run_cli):
    """datumaro keeps COCO's iscrowd as the attribute is_crowd (its COCO import and export):
    a crowd mask and a crowd box are burnt 255 (ignore), as make-masks burns the COCO file;
    is_crowd false, or "0", an object; its label still a class (car 2)."""
    crowd = np.zeros((H, W), bool)
    crowd[0:6, 40:50] = True
    labels = _write(tmp_path / "default.json", [_item("a", [
        _ann("mask", "tree", rle=_mask_rle(crowd), attributes={"is_crowd": True}),
        _ann("bbox", "car", bbox=[0, 20, 10, 10], attributes={"is_crowd": "1"}),
        _ann("polygon", "building", points=[5, 5, 20, 5, 20, 15, 5, 15],
             attributes={"is_crowd": False}),
        _ann("bbox", "water", bbox=[30, 20, 5, 5], attributes={"is_crowd": "0"})])])
    image = plain_png(tmp_path / "a.jpg", W, H)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    assert "class ids by name: 1 building, 2 car, 3 road, 4 tree, 5 water" in result.stdout
    expected = np.zeros((H, W), np.uint8)
    expected[crowd] = 255
    expected[20:30, 0:10] = 255
    expected[5:15, 5:20] = 1
    expected[20:25, 30:35] = 5
    np.testing.assert_array_equal(read_mask(tmp_path / "m.tif")[0], expected)


def test_an_image_of_another_size_is_refused_before_its_annotations_are_read(tmp_path,
                                                                             run_cli):
    """The item's size is checked against the image first: an item of 40000 x 40000 px
    given a 60 x 40 px image is refused for its size, not for a broken annotation (its masks
    were decoded at the item's size first: one of 40000 x 40000 px took past 22 GB)."""
    labels = _write(tmp_path / "default.json", [_item("a", [{**_OK[0], "label_id": 9}],
                                                      size=(40000, 40000))])
    image = plain_png(tmp_path / "a.jpg", W, H)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "a.jpg: 60x40 px", "annotates an image of 40000x40000 px")
    assert not (tmp_path / "m.tif").exists()


@pytest.mark.parametrize(("annotation", "fragments"), [
    ({**_OK[0], "z_order": _PAST_FLOAT}, ["annotations[0] has z_order 1000", "give a number"]),
    ({**_OK[0], "z_order": "top"}, ["annotations[0] has z_order 'top'", "give a number"]),
    ({**_OK[0], "label_id": _PAST_FLOAT}, ["(polygon) has label_id 1000", "6 labels"]),
    (_ann("bbox", "car", bbox=[1, 2, 3, 4], attributes={"rotation": _PAST_FLOAT}),
     ["(bbox 'car') has rotation 1000", "give degrees"]),
])
def test_numbers_past_any_float_are_refused_in_one_line(tmp_path, run_cli, annotation,
                                                         fragments):
    """Integers past any float (JSON holds them) as z_order, label_id or rotation, and a
    z_order that is no number: one line naming the annotation, no traceback."""
    image = plain_png(tmp_path / "a.jpg", W, H)
    labels = tmp_path / "default.json"
    _write(labels, [_item("a", [annotation])])
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "default.json: items[0] (a.jpg) ", *fragments)
    assert not (tmp_path / "m.tif").exists()


@pytest.mark.parametrize(("orientation", "size"), [("6", None), ("3", None), ("6", (W, H))])
def test_a_photo_turned_by_exif_is_refused_naming_the_item(tmp_path, run_cli, orientation,
                                                           size):
    """A JPEG its EXIF orientation turns (6: a quarter; 3: upside down), with an item of
    no size (CVAT's export without images) or of its turned size: refused in one line
    naming the Datumaro file and item (not Labelme), nothing written."""
    image = turned_jpeg(tmp_path / "a.jpg", W, H, orientation)
    labels = _write(tmp_path / "default.json", [_item("a", _OK, size=size)])
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "a.jpg", f"EXIF orientation ({orientation})",
                          "default.json items[0] is drawn on it as turned")
    assert "Labelme" not in result.output
    assert not (tmp_path / "m.tif").exists()


def test_an_export_without_label_categories_is_all_background(tmp_path, run_cli):
    """datumaro exports a dataset of no labels with "categories": {} (no label categories):
    its images are all background, not refused; an annotation there is refused naming its
    label_id."""
    path = tmp_path / "export" / "annotations" / "default.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"dm_format_version": "1.0", "media_type": 2, "infos": {},
                                "categories": {}, "items": [
                                    {"id": "a", "annotations": [],
                                     "image": {"path": "a.jpg", "size": [H, W]}}]}))
    image = plain_png(tmp_path / "a.jpg", W, H)
    result = run_cli("make-masks", tmp_path / "export", image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    band = read_mask(tmp_path / "m.tif")[0]
    assert band.shape == (H, W) and not band.any()
    document = json.loads(path.read_text())
    document["items"][0]["annotations"] = _OK
    path.write_text(json.dumps(document))
    refused = run_cli("make-masks", tmp_path / "export", image, "-o", tmp_path / "n.tif")
    assert_one_line_error(refused, "(polygon) has label_id 0", "categories list 0 labels")
    assert not (tmp_path / "n.tif").exists()


def test_an_item_id_in_two_subsets_is_told_apart_by_the_image_s_subset_folder(
        tmp_path, run_cli, monkeypatch):
    """Two subsets each with an item a (a.jpg: a CVAT project's tasks, frame_000000 in
    each): datumaro's images/<subset>/a.jpg take their own subset's item, given by a
    relative path from that folder too; an a.jpg in no subset's folder is refused, naming
    both and the subset file to give instead."""
    root = tmp_path / "export"
    _write(root / "annotations" / "train.json",
           [_item("a", [_ann("bbox", "car", bbox=[0, 0, 4, 4])])])
    _write(root / "annotations" / "val.json",
           [_item("a", [_ann("bbox", "tree", bbox=[10, 10, 4, 4])])])
    for sub, (box, value) in (("train", (slice(0, 4), 2)), ("val", (slice(10, 14), 4))):
        image = plain_png(root / "images" / sub / "a.jpg", W, H)
        result = run_cli("make-masks", root, image, "-o", tmp_path / f"{sub}.tif")
        assert result.exit_code == 0, result.output
        expected = np.zeros((H, W), np.uint8)
        expected[box, box] = value
        np.testing.assert_array_equal(read_mask(tmp_path / f"{sub}.tif")[0], expected)
    monkeypatch.chdir(root / "images" / "val")
    result = run_cli("make-masks", root, "a.jpg", "-o", tmp_path / "here.tif")
    assert result.exit_code == 0, result.output
    assert set(np.unique(read_mask(tmp_path / "here.tif")[0])) == {0, 4}
    elsewhere = plain_png(tmp_path / "other" / "a.jpg", W, H)
    refused = run_cli("make-masks", root, elsewhere, "-o", tmp_path / "n.tif")
    assert_one_line_error(refused, "has 2 items of it (train.json items[0], val.json "
                          "items[0])", "give its subset's file")
    assert not (tmp_path / "n.tif").exists()


def test_images_are_paired_through_one_index_of_the_items(tmp_path, monkeypatch):
    """Each item's names are read once for the run, not once per image: pairing every image
    against every item took 0.15 s an image for 20,000 items (50 min for their 20,000
    images); the images still take their own items."""
    from geotile import datumaro_labels

    items = [_item(f"i{i}", [_ann("bbox", "car", bbox=[i % W, 0, 1, 1])]) for i in range(50)]
    labels = _write(tmp_path / "default.json", items)
    images = [plain_png(tmp_path / f"i{i}.jpg", W, H) for i in (3, 7, 41)]
    read = datumaro_labels._item_names
    calls = []
    monkeypatch.setattr(datumaro_labels, "_item_names",
                        lambda found: calls.append(found) or read(found))
    found = datumaro_labels.read_datumaro(labels, images)
    assert len(calls) <= len(items) + len(images)
    assert [f.image_path for f in found.shapes] == ["i3.jpg", "i7.jpg", "i41.jpg"]
    assert [f.instances[0][1].bounds[0] for f in found.shapes] == [3, 7, 41]


def test_names_are_paired_in_unicode_nfc(tmp_path, run_cli):
    """An image whose name macOS wrote decomposed (Zu + combining diaeresis + rich.png, NFD)
    takes the item that names it composed (Zürich.png, as CVAT and datumaro write it), by
    its image path and by its id, as YOLO's labels are paired."""
    for key, item in (("path", _item("x", _OK, path="Z\u00fcrich.png")),
                      ("id", _item("Z\u00fcrich", _OK, path=""))):
        labels = _write(tmp_path / key / "default.json", [item])
        image = plain_png(tmp_path / key / "Zu\u0308rich.png", W, H)
        result = run_cli("make-masks", labels, image, "-o", tmp_path / key / "m.tif")
        assert result.exit_code == 0, result.output
        assert read_mask(tmp_path / key / "m.tif")[0].sum() > 0


@pytest.mark.parametrize("annotations", [[], _OK])
def test_a_turned_photo_of_its_stored_size_names_its_turn(tmp_path, run_cli, annotations):
    """An item of the photo's stored size (60 x 40) whose EXIF orientation (6) turns it to
    40 x 60: the line says so, not '60x40 px, but ... an image of 60x40 px'."""
    image = turned_jpeg(tmp_path / "a.jpg", W, H, "6")
    labels = _write(tmp_path / "default.json", [_item("a", annotations, size=(H, W))])
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "a.jpg: 60x40 px (40x60 as its EXIF orientation (6) turns "
                          "it), but", "annotates an image of 60x40 px")
    assert not (tmp_path / "m.tif").exists()
