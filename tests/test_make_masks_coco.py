"""make-masks with COCO instance annotations as LABELS (geotile.coco_labels): polygons,
uncompressed and compressed RLE, crowd regions, categories, georeferenced and plain images,
the round trip with tile --annotations coco, and the refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from rasterio.features import rasterize
from rasterio.transform import from_origin

from tests.conftest import assert_one_line_error, write_raster
from tests.pixel_label_files import (
    FAR_DOWN,
    FAR_RIGHT,
    analytic_pixels,
    assert_masks_given_back,
    plain_png,
    read_mask,
    tiled_scene,
    turned_jpeg,
)

H, W = 40, 50
#: pycocotools 2.0.11's mask.encode of MASK (below): COCO's compressed RLE string
COMPRESSED = "^38P100000Wm0<]RO00000000AA5?KA5?KA5?KA5?KA5?:00000000S6"
POLYGON = [10.3, 5.2, 30.7, 6.1, 28.2, 25.9, 12.1, 22.4]
#: two parts of one object, overlapping
PARTS = [[2, 30, 12, 30, 12, 38], [8, 32, 20, 32, 20, 39, 8, 39]]


def _mask() -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[5:25, 30:45] = True
    mask[10:15, 35:40] = False  # a hole
    mask[30:38, 2:6] = True
    return mask


def _runs(mask: np.ndarray) -> list[int]:
    """COCO's uncompressed counts of ``mask``: column-major, from a background run."""
    flat = mask.ravel(order="F").astype(np.int8)
    edges = np.flatnonzero(np.diff(flat)) + 1
    runs = np.diff(np.concatenate(([0], edges, [flat.size]))).tolist()
    return [0, *runs] if flat[0] else runs


def _burnt(polygon_lists, all_touched=False) -> np.ndarray:
    shape = shapely.union_all([shapely.Polygon(np.reshape(p, (-1, 2))) for p in polygon_lists])
    return rasterize([shape], out_shape=(H, W), all_touched=all_touched).astype(bool)


def _png(path, width=W, height=H):
    return plain_png(path, width, height)


def _coco(path, annotations, images=(("train/images/img.png", W, H),), categories=None):
    document = {
        "info": {}, "licenses": [],
        "images": [{"id": i + 1, "file_name": n, "width": w, "height": h}
                   for i, (n, w, h) in enumerate(images)],
        "annotations": [{"id": i + 1, "image_id": 1, "category_id": 100, "iscrowd": 0, **a}
                        for i, a in enumerate(annotations)],
        "categories": categories or [{"id": 100, "name": "building"}],
    }
    path.write_text(json.dumps(document))
    return path


def _read(path):
    return read_mask(path, 1)


def test_polygons_and_both_rle_forms_on_a_plain_png(tmp_path, run_cli):
    """CrowdAI's layout: a PNG without georeference, category 100 'building': polygons
    burnt by pixel centre, RLE exactly its pixels, later annotations on top."""
    image = _png(tmp_path / "img.png")
    crowd = np.zeros((H, W), bool)
    crowd[0:6, 40:50] = True
    labels = _coco(tmp_path / "annotation.json", [
        {"segmentation": [POLYGON]},
        {"segmentation": PARTS},
        {"segmentation": {"counts": COMPRESSED, "size": [H, W]}},
        {"segmentation": {"counts": _runs(crowd), "size": [H, W]}, "iscrowd": 1},
        {"segmentation": [[44, 1, 48, 1, 48, 4, 44, 4]]},  # an object on the crowd wins
    ])
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif", "--json")
    assert result.exit_code == 0, result.output
    expected = np.zeros((H, W), np.uint8)
    expected[_burnt([POLYGON])] = 1
    expected[_burnt(PARTS)] = 1
    expected[_mask()] = 1
    expected[crowd] = 255
    expected[_burnt([[44, 1, 48, 1, 48, 4, 44, 4]])] = 1
    mask, profile, tags, descriptions = _read(tmp_path / "m.tif")
    np.testing.assert_array_equal(mask, expected)
    assert profile["nodata"] == 255 and profile["transform"].is_identity
    assert profile["crs"] is None and descriptions == ("footprint",)
    assert json.loads(tags["GEOTILE_CLASS_NAMES"]) == ["background", "building"]
    (summary,) = json.loads(result.stdout)["masks"]
    assert summary["features"] == 5
    assert summary["ignored_pixels"] == int((expected == 255).sum())
    assert summary["positive_pixels"] == int(((expected > 0) & (expected < 255)).sum())


def test_rle_decodes_as_pycocotools():
    """The decoder against pycocotools.mask.decode on random masks (both RLE forms)."""
    mask_api = pytest.importorskip("pycocotools.mask")
    from geotile.coco_labels import decode_counts, rle_mask

    rng = np.random.default_rng(3)
    for _ in range(50):
        h, w = (int(n) for n in rng.integers(1, 40, 2))
        mask = np.asfortranarray(rng.random((h, w)) < rng.random(), dtype=np.uint8)
        encoded = mask_api.encode(mask)
        runs = decode_counts(encoded["counts"].decode())
        np.testing.assert_array_equal(rle_mask(runs, h, w), mask_api.decode(encoded) == 1)
        assert runs == _runs(mask.astype(bool))


def test_all_touched_grows_polygons_not_rle(tmp_path, run_cli):
    image = _png(tmp_path / "img.png")
    labels = _coco(tmp_path / "annotation.json", [
        {"segmentation": [POLYGON]}, {"segmentation": {"counts": _runs(_mask()), "size": [H, W]}}])
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif", "--all-touched")
    assert result.exit_code == 0, result.output
    expected = (_burnt([POLYGON], all_touched=True) | _mask()).astype(np.uint8)
    np.testing.assert_array_equal(_read(tmp_path / "m.tif")[0], expected)


def test_a_georeferenced_image_takes_its_pixels(tmp_path, run_cli):
    """A GeoTIFF in UTM with 0.3 m pixels: the mask is on its grid, the annotations placed
    through its transform as they lie on its pixels."""
    transform = from_origin(500000.3, 4100000.7, 0.3, 0.3)
    image = write_raster(tmp_path / "img.tif", np.ones((1, H, W), np.uint8), crs="EPSG:32633",
                         transform=transform)
    labels = _coco(tmp_path / "annotation.json", [
        {"segmentation": [POLYGON]}, {"segmentation": {"counts": COMPRESSED, "size": [H, W]}}],
        images=(("img.tif", W, H),))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    mask, profile, _, _ = _read(tmp_path / "m.tif")
    np.testing.assert_array_equal(mask, (_burnt([POLYGON]) | _mask()).astype(np.uint8))
    assert profile["transform"] == transform and profile["crs"] == "EPSG:32633"
    assert profile["nodata"] is None  # no crowd, no image nodata


@pytest.mark.parametrize("all_touched", [False, True])
def test_polygons_reaching_far_past_the_image_burn_exactly_their_pixels(tmp_path, run_cli,
                                                                       all_touched):
    """One vertex 1e12 px to the right, one 3e9 px below a UTM GeoTIFF: each polygon's pixels
    of the image, by pixel centre and all touched (GDAL's burn overflowed past 2**31 px: 18
    of the first's 162 pixels, none of the second's, exit 0)."""
    image = write_raster(tmp_path / "img.tif", np.ones((1, H, W), np.uint8), crs="EPSG:32633",
                         transform=from_origin(500000.0, 4100000.0, 0.5, 0.5))
    labels = _coco(tmp_path / "annotation.json",
                   [{"segmentation": [np.ravel(ring).tolist()]} for ring in (FAR_RIGHT, FAR_DOWN)],
                   images=(("img.tif", W, H),))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif",
                     *(["--all-touched"] if all_touched else []))
    assert result.exit_code == 0, result.output
    expected = analytic_pixels([FAR_RIGHT, FAR_DOWN], H, W, all_touched)
    np.testing.assert_array_equal(_read(tmp_path / "m.tif")[0], expected.astype(np.uint8))


def test_categories_get_ids_by_ascending_id_with_names(tmp_path, run_cli):
    image = _png(tmp_path / "img.png")
    categories = [{"id": 7, "name": "shed"}, {"id": 2, "name": "house"},
                  {"id": 30, "name": "garage"}]
    boxes = {2: [1, 1, 9, 1, 9, 9, 1, 9], 7: [11, 1, 19, 1, 19, 9, 11, 9],
             30: [21, 1, 29, 1, 29, 9, 21, 9]}
    labels = _coco(tmp_path / "annotation.json",
                   [{"segmentation": [box], "category_id": c} for c, box in boxes.items()],
                   categories=categories)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif", "--json")
    assert result.exit_code == 0, result.output
    mask, _, tags, descriptions = _read(tmp_path / "m.tif")
    for class_id, category in enumerate((2, 7, 30), start=1):
        assert (mask[_burnt([boxes[category]])] == class_id).all()
    assert json.loads(tags["GEOTILE_CLASS_NAMES"]) == ["background", "house", "shed", "garage"]
    assert json.loads(result.stdout)["classes"] == ["background", "house", "shed", "garage"]
    assert descriptions == ("class",)
    class_map = tmp_path / "map.json"
    class_map.write_text(json.dumps({"house": 1, "shed": 1, "garage": 2}))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m2.tif", "--class-map",
                     class_map)
    assert result.exit_code == 0, result.output
    mask = _read(tmp_path / "m2.tif")[0]
    assert (mask[_burnt([boxes[7]])] == 1).all() and (mask[_burnt([boxes[30]])] == 2).all()


def test_many_images_and_a_negative_one(tmp_path, run_cli):
    """One file for a folder of images; an image listed without annotations is all 0."""
    folder = tmp_path / "images"
    folder.mkdir()
    _png(folder / "a.png")
    _png(folder / "b.png")
    labels = _coco(tmp_path / "annotation.json", [{"segmentation": [POLYGON]}],
                   images=(("a.png", W, H), ("val/b.png", W, H)))
    result = run_cli("make-masks", labels, folder, "-o", tmp_path / "masks")
    assert result.exit_code == 0, result.output
    assert "GeotileWarning" not in result.output and "no feature" not in result.output
    np.testing.assert_array_equal(_read(tmp_path / "masks" / "a.tif")[0],
                                  _burnt([POLYGON]).astype(np.uint8))
    assert not _read(tmp_path / "masks" / "b.tif")[0].any()


def test_round_trip_with_tile_annotations_coco(tmp_path, run_cli):
    """tile --annotations coco, then make-masks of its annotations.json on its patches:
    the tile's mask patches, pixel for pixel (georeferenced, several classes, a hole)."""
    patches = tiled_scene(tmp_path, run_cli, "coco")
    result = run_cli("make-masks", patches / "annotations.json", patches / "images", "-o",
                     tmp_path / "back")
    assert result.exit_code == 0, result.output
    assert_masks_given_back(patches, tmp_path / "back")


def test_a_polygon_of_150000_points_is_burnt(tmp_path, run_cli):
    """A field's boundary traced pixel by pixel (OpenCV's CHAIN_APPROX_NONE on a large
    orthophoto: 150,000 points, 2 s, ~150 MB) was refused as 'a polygon holds at most
    100,000 (a broken export?)'; now it is burnt, as a box of few points is."""
    image = _png(tmp_path / "img.png")
    edge = np.linspace(0, 1, 37_500, endpoint=False)
    ring = np.concatenate([np.column_stack([1 + 8 * edge, np.full_like(edge, 1)]),
                           np.column_stack([np.full_like(edge, 9), 1 + 8 * edge]),
                           np.column_stack([9 - 8 * edge, np.full_like(edge, 9)]),
                           np.column_stack([np.full_like(edge, 1), 9 - 8 * edge])])
    labels = _coco(tmp_path / "annotation.json", [{"segmentation": [ring.ravel().tolist()]}])
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "m.tif")[0],
                                  _burnt([[1, 1, 9, 1, 9, 9, 1, 9]]).astype(np.uint8))


def _refused(tmp_path, run_cli, labels, *fragments, images=None, options=()):
    images = images or [_png(tmp_path / "img.png")]
    result = run_cli("make-masks", labels, *images, "-o", f"{tmp_path / 'out'}/", *options)
    assert_one_line_error(result, str(labels) if labels.suffix else "", *fragments)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("annotation, fragments", [
    ({"image_id": 9, "segmentation": [POLYGON]}, ("annotation id 1", "image_id 9")),
    ({"category_id": 5, "segmentation": [POLYGON]}, ("annotation id 1", "category_id 5")),
    ({"segmentation": [[1, 1, 5, 5]]}, ("annotation id 1", "at least 3 points")),
    ({"segmentation": [[1, 1, 5, 5, 1, 5] * 333_334]},
     ("annotation id 1", "1,000,002 points", "at most 1,000,000")),
    ({"segmentation": {"counts": [0, 10], "size": [10, 1]}}, ("annotation id 1", "[40, 50]")),
    ({"segmentation": {"counts": [5, 10], "size": [H, W]}}, ("annotation id 1", "15 pixels")),
    ({"segmentation": {"counts": "\x7f!", "size": [H, W]}}, ("annotation id 1", "compressed")),
    ({"segmentation": {"counts": "P", "size": [H, W]}}, ("annotation id 1", "compressed")),
])
def test_broken_annotations_are_refused(tmp_path, run_cli, annotation, fragments):
    labels = _coco(tmp_path / "annotation.json", [{"segmentation": [POLYGON]}, annotation])
    # (the first annotation is fine: the second is named; ids from 1)
    fragments = tuple(f.replace("annotation id 1", "annotation id 2") for f in fragments)
    _refused(tmp_path, run_cli, labels, *fragments)


def test_not_coco_and_unlisted_images_are_refused(tmp_path, run_cli):
    labels = tmp_path / "annotation.json"
    labels.write_text(json.dumps({"images": [], "annotations": []}))
    _refused(tmp_path, run_cli, labels, "not a COCO annotation file", "'categories'")
    labels = _coco(tmp_path / "annotation.json", [{"segmentation": [POLYGON]}])
    listed = _png(tmp_path / "img.png")
    other = _png(tmp_path / "other.png")
    # nothing is written for the listed image either
    _refused(tmp_path, run_cli, labels, "other.png", "not in", images=[listed, other])
    (tmp_path / "small").mkdir()
    small = _png(tmp_path / "small" / "img.png", 20, 20)
    _refused(tmp_path, run_cli, labels, "20x20 px", "50x40 px", images=[small])
    _refused(tmp_path, run_cli, labels, "--class-field", images=[listed],
             options=("--class-field", "category"))


def test_zero_area_slivers_are_skipped_with_a_warning(tmp_path, run_cli):
    image = _png(tmp_path / "img.png")
    labels = _coco(tmp_path / "annotation.json", [
        {"segmentation": [[1, 1, 5, 5, 9, 9]]},  # on one line
        {"segmentation": [POLYGON]}])
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    assert "1 polygon(s)" in result.stderr and "annotation 1" in result.stderr
    np.testing.assert_array_equal(_read(tmp_path / "m.tif")[0],
                                  _burnt([POLYGON]).astype(np.uint8))


def test_other_commands_say_make_masks_takes_coco(tmp_path, run_cli):
    image = write_raster(tmp_path / "img.tif", np.ones((1, H, W), np.uint8))
    labels = _coco(tmp_path / "annotation.json", [{"segmentation": [POLYGON]}])
    result = run_cli("tile", image, "--labels", labels, "-o", tmp_path / "p", "--size", "16")
    assert_one_line_error(result, "annotation.json", "COCO", "make-masks")


def test_iscrowd_as_text_zero_is_an_object(tmp_path, run_cli):
    """Some exporters write "iscrowd": "0": an object, not a region to ignore."""
    image = _png(tmp_path / "img.png")
    labels = _coco(tmp_path / "annotation.json", [{"segmentation": [POLYGON], "iscrowd": "0"}])
    assert run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif").exit_code == 0
    np.testing.assert_array_equal(_read(tmp_path / "m.tif")[0],
                                  _burnt([POLYGON]).astype(np.uint8))
    # and "1" (text) a region to ignore, as 1 is
    labels = _coco(tmp_path / "annotation.json", [{"segmentation": [POLYGON], "iscrowd": "1"}])
    assert run_cli("make-masks", labels, image, "-o", tmp_path / "m1.tif").exit_code == 0
    np.testing.assert_array_equal(_read(tmp_path / "m1.tif")[0],
                                  _burnt([POLYGON]).astype(np.uint8) * 255)


def test_roboflow_placeholder_category_is_no_class(tmp_path, run_cli):
    """Roboflow's COCO export lists the dataset itself as category 0 (supercategory
    "none"), the parent of its real classes, and no annotation uses it: one real class is
    still a 0/1 building mask, not class 2 of two."""
    image = _png(tmp_path / "img.png")
    categories = [{"id": 0, "name": "buildings-xyz", "supercategory": "none"},
                  {"id": 1, "name": "building", "supercategory": "buildings-xyz"}]
    labels = _coco(tmp_path / "_annotations.coco.json",
                   [{"segmentation": [POLYGON], "category_id": 1}], categories=categories)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif", "--json")
    assert result.exit_code == 0, result.output
    mask = _read(tmp_path / "m.tif")[0]
    np.testing.assert_array_equal(mask, _burnt([POLYGON]).astype(np.uint8))
    assert json.loads(result.stdout)["classes"] == ["background", "building"]
    # two real classes under the placeholder: 1 and 2, the placeholder no class
    categories.append({"id": 2, "name": "shed", "supercategory": "buildings-xyz"})
    box = [30, 30, 40, 30, 40, 38, 30, 38]
    labels = _coco(tmp_path / "_annotations.coco.json",
                   [{"segmentation": [POLYGON], "category_id": 1},
                    {"segmentation": [box], "category_id": 2}], categories=categories)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m2.tif", "--json")
    assert result.exit_code == 0, result.output
    mask = _read(tmp_path / "m2.tif")[0]
    assert (mask[_burnt([POLYGON])] == 1).all() and (mask[_burnt([box])] == 2).all()
    assert json.loads(result.stdout)["classes"] == ["background", "building", "shed"]


def test_same_name_in_two_folders_given_by_a_relative_path(tmp_path, run_cli, monkeypatch):
    """CrowdAI-like a/img.png and b/img.png: the image given as a/img.png (relative, as
    typed in the folder) takes a/img.png's annotations."""
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        _png(tmp_path / folder / "img.png")
    labels = _coco(tmp_path / "annotation.json", [{"segmentation": [POLYGON]}],
                   images=(("a/img.png", W, H), ("b/img.png", W, H)))
    monkeypatch.chdir(tmp_path)
    result = run_cli("make-masks", labels.name, "a/img.png", "-o", "m.tif")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "m.tif")[0],
                                  _burnt([POLYGON]).astype(np.uint8))
    result = run_cli("make-masks", labels.name, "b/img.png", "-o", "mb.tif")
    assert result.exit_code == 0, result.output
    assert not _read(tmp_path / "mb.tif")[0].any()


def test_a_category_id_given_twice_is_refused(tmp_path, run_cli):
    """Two categories of id 100 (building, then road; merged files): which name the
    objects of 100 have is unknown, not the last one's."""
    labels = _coco(tmp_path / "annotation.json", [{"segmentation": [POLYGON]}], categories=[
        {"id": 100, "name": "building"}, {"id": 100, "name": "road"}])
    _refused(tmp_path, run_cli, labels, "category id 100", "twice", "building", "road")


@pytest.mark.parametrize("second, fragments, options", [
    ({"segmentation": [[1, 1, 5, 5]]}, ("annotation id 2", "at least 3 points"), ()),
    ({"segmentation": [POLYGON], "category_id": 200}, ("'shed'", "class map"),
     ("--class-map", "map.json")),
])
def test_a_broken_annotation_of_a_later_image_writes_no_mask(tmp_path, run_cli, second,
                                                             fragments, options):
    """The second image's annotation is broken (or of a class the --class-map lacks): the
    first image's mask is not written either."""
    (tmp_path / "map.json").write_text(json.dumps({"building": 1}))
    images = [_png(tmp_path / "a.png"), _png(tmp_path / "b.png")]
    labels = _coco(tmp_path / "annotation.json", [{"segmentation": [POLYGON]}, second],
                   images=(("a.png", W, H), ("b.png", W, H)),
                   categories=[{"id": 100, "name": "building"}, {"id": 200, "name": "shed"}])
    document = json.loads(labels.read_text())
    document["annotations"][1]["image_id"] = 2
    labels.write_text(json.dumps(document))
    options = tuple(str(tmp_path / o) if o.endswith(".json") else o for o in options)
    _refused(tmp_path, run_cli, labels, *fragments, images=images, options=options)


def test_box_only_annotations_are_left_out_with_a_warning(tmp_path, run_cli):
    """CVAT's and Roboflow's exports write a box as "segmentation": [] with its bbox: no
    shape to burn, said, not an all-background mask without a word."""
    image = _png(tmp_path / "img.png")
    labels = _coco(tmp_path / "annotation.json", [
        {"segmentation": [], "bbox": [30, 30, 10, 8], "area": 80},
        {"segmentation": [POLYGON]},
        {"segmentation": [], "bbox": [2, 2, 5, 5], "area": 25}])
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    assert "2 annotation(s)" in result.stderr and "no segmentation" in result.stderr
    assert "annotation 1 first" in result.stderr
    np.testing.assert_array_equal(_read(tmp_path / "m.tif")[0],
                                  _burnt([POLYGON]).astype(np.uint8))


def test_an_image_listed_twice_is_refused_saying_so(tmp_path, run_cli):
    """Two images entries of one file_name (merged files): no path can choose between
    them, so the refusal names both ids, not a path to give."""
    labels = _coco(tmp_path / "annotation.json", [{"segmentation": [POLYGON]}],
                   images=(("img.png", W, H), ("img.png", W, H)))
    _refused(tmp_path, run_cli, labels, "img.png", "twice", "image ids 1 and 2")


def test_a_coco_results_list_says_what_it_is(tmp_path, run_cli):
    """Detectron2's and mmdet's COCO results (a bare list of detections with scores, no
    images or categories) were refused as 'not vector data GDAL can read (a GeoJSON object
    of type None ...)': now one line saying it is a results file and what to give."""
    image = _png(tmp_path / "img.png")
    results = tmp_path / "coco_instances_results.json"
    results.write_text(json.dumps([{"image_id": 1, "category_id": 1, "score": 0.93,
                                    "segmentation": {"size": [H, W], "counts": "PPYo0"},
                                    "bbox": [1.0, 2.0, 3.0, 4.0]}]))
    result = run_cli("make-masks", results, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "coco_instances_results.json", "COCO results",
                          "instances file")
    assert "GeoJSON object" not in result.output
    assert not (tmp_path / "m.tif").exists()


BIG = 10 ** 400  # an integer JSON reads, past any float


@pytest.mark.parametrize("annotation, fragments", [
    ({"segmentation": [[BIG, 1, 10, 1, 10, 10]]}, ("annotation id 2", "finite")),
    ({"segmentation": {"counts": [BIG], "size": [H, W]}}, ("annotation id 2", "RLE")),
    ({"segmentation": {"counts": "o" * 100000 + "1", "size": [H, W]}},
     ("annotation id 2", "compressed encoding")),
    ({"image_id": [1], "segmentation": [POLYGON]}, ("annotation id 2", "image_id [1]")),
    ({"category_id": {"a": 1}, "segmentation": [POLYGON]}, ("annotation id 2", "category_id")),
])
def test_hostile_annotations_are_refused_in_one_line(tmp_path, run_cli, annotation, fragments):
    """Integers past a float (10**400) were OverflowError tracebacks, a compressed RLE
    string of one 100,000-character number a ValueError traceback (its sum past 4,300
    digits; 5 MB of it took quadratic time), an image_id or category_id list or object a
    TypeError (unhashable) traceback."""
    labels = _coco(tmp_path / "annotation.json", [{"segmentation": [POLYGON]}, annotation])
    _refused(tmp_path, run_cli, labels, *fragments)


def test_hostile_files_are_refused_in_one_line(tmp_path, run_cli):
    """JSON nested 100,000 deep was a RecursionError traceback; an image's width of
    10**400 an OverflowError traceback."""
    labels = tmp_path / "annotation.json"
    labels.write_text('{"images": [' + "[" * 100000 + "]" * 100000
                      + '], "annotations": [], "categories": []}')
    _refused(tmp_path, run_cli, labels, "nested too deep")
    _coco(labels, [{"segmentation": [POLYGON]}], images=(("img.png", BIG, H),))
    _refused(tmp_path, run_cli, labels, "image id 1", "width")


def test_iscrowd_true_as_json_or_text_is_a_region_to_ignore(tmp_path, run_cli):
    """iscrowd true (JSON) and "true" (text, as some exporters write it) are crowd
    regions, burnt as the ignore value 255, as 1 is."""
    image = _png(tmp_path / "img.png")
    for name, value in (("bool", True), ("text", "true"), ("text_upper", " TRUE ")):
        labels = _coco(tmp_path / "annotation.json",
                       [{"segmentation": [POLYGON], "iscrowd": value}])
        result = run_cli("make-masks", labels, image, "-o", tmp_path / f"{name}.tif")
        assert result.exit_code == 0, result.output
        np.testing.assert_array_equal(_read(tmp_path / f"{name}.tif")[0],
                                      _burnt([POLYGON]).astype(np.uint8) * 255)


def test_a_category_named_background_is_class_0_and_clears(tmp_path, run_cli):
    """A category named background gets no class id: its objects are 0 and clear the
    objects under them; the other category alone is a 0/1 footprint mask."""
    image = _png(tmp_path / "img.png")
    box = [14, 8, 24, 8, 24, 18, 14, 18]  # inside POLYGON
    labels = _coco(tmp_path / "annotation.json",
                   [{"segmentation": [POLYGON], "category_id": 2},
                    {"segmentation": [box], "category_id": 1}],
                   categories=[{"id": 1, "name": "background"}, {"id": 2, "name": "building"}])
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif", "--json")
    assert result.exit_code == 0, result.output
    mask, _, _, descriptions = _read(tmp_path / "m.tif")
    expected = _burnt([POLYGON]).astype(np.uint8)
    expected[_burnt([box])] = 0
    np.testing.assert_array_equal(mask, expected)
    assert json.loads(result.stdout)["classes"] == ["background", "building"]
    assert descriptions == ("footprint",)


def test_a_supercategory_that_annotations_use_is_a_class(tmp_path, run_cli):
    """Only an UNUSED category named as another's supercategory is a placeholder: vehicle,
    the parent of car, whose own objects are annotated, stays class 1 (car 2)."""
    image = _png(tmp_path / "img.png")
    box = [30, 30, 40, 30, 40, 38, 30, 38]
    labels = _coco(tmp_path / "annotation.json",
                   [{"segmentation": [POLYGON], "category_id": 1},
                    {"segmentation": [box], "category_id": 2}],
                   categories=[{"id": 1, "name": "vehicle"},
                               {"id": 2, "name": "car", "supercategory": "vehicle"}])
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif", "--json")
    assert result.exit_code == 0, result.output
    mask = _read(tmp_path / "m.tif")[0]
    expected = _burnt([POLYGON]).astype(np.uint8)
    expected[_burnt([box])] = 2
    np.testing.assert_array_equal(mask, expected)
    assert json.loads(result.stdout)["classes"] == ["background", "vehicle", "car"]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig", "utf-16-be"])
def test_a_coco_file_saved_as_utf16_or_with_a_bom_is_read(tmp_path, run_cli, encoding):
    """PowerShell's Out-File (UTF-16 with its byte-order mark) or Notepad's UTF-8 with a
    BOM: the file is recognised as COCO by its start and read, as one in UTF-8."""
    image = _png(tmp_path / "img.png")
    labels = _coco(tmp_path / "annotation.json", [{"segmentation": [POLYGON]}])
    text = labels.read_text()
    labels.write_bytes(("\ufeff" + text).encode(encoding) if encoding == "utf-16-be"
                       else text.encode(encoding))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    expected = np.zeros((H, W), np.uint8)
    expected[_burnt([POLYGON])] = 1
    np.testing.assert_array_equal(_read(tmp_path / "m.tif")[0], expected)


def test_a_coco_file_in_a_windows_code_page_is_refused_saying_so(tmp_path, run_cli):
    """A COCO file saved in Windows' code page (a category 'Straße' as the byte 0xDF) was
    refused as "not a JSON file ('utf-8' codec can't decode byte 0xdf ...). Give a COCO
    annotation file": it is one; now the line says it is not UTF-8 and how to convert it."""
    image = _png(tmp_path / "img.png")
    labels = _coco(tmp_path / "annotation.json", [{"segmentation": [POLYGON]}],
                   categories=[{"id": 100, "name": "Straße"}])
    labels.write_bytes(json.dumps(json.loads(labels.read_text()),
                                  ensure_ascii=False).encode("cp1252"))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "annotation.json", "not UTF-8", "byte 0xDF", "iconv")
    assert "not a JSON file" not in result.stderr
    assert not (tmp_path / "m.tif").exists()


@pytest.mark.parametrize(("orientation", "size"), [("3", (W, H)), ("6", (H, W))])
def test_a_photo_turned_by_exif_with_annotations_is_refused(tmp_path, run_cli, orientation,
                                                            size):
    """A drone JPEG upside down by its EXIF orientation (3, a FloodNet-style 4000 x 3000
    photo) was burnt as if its COCO polygons were on the stored pixels, exit 0: the mask lay
    turned half a turn off the photo. The tools that write COCO (CVAT, labelme2coco) draw
    on the photo as viewers show it: refused, naming the orientation, as for Labelme and
    CVAT; a quarter turn (6, its entry of the turned size) is too, not 'another image'."""
    turned_jpeg(tmp_path / "train" / "images" / "img.jpg", W, H, orientation)
    labels = _coco(tmp_path / "annotation.json", [{"segmentation": [POLYGON]}],
                   images=(("train/images/img.jpg", *size),))
    result = run_cli("make-masks", labels, tmp_path / "train" / "images" / "img.jpg", "-o",
                     tmp_path / "m.tif")
    assert_one_line_error(result, "img.jpg", f"EXIF orientation ({orientation})",
                          "annotation.json", "exiftran -ai")
    assert not (tmp_path / "m.tif").exists()


def test_a_turned_photo_without_annotations_is_checked_against_its_turned_size(tmp_path,
                                                                                run_cli):
    """A JPEG turned a quarter by EXIF (6) without annotations (a negative image) is listed
    at its turned size (H x W), as CVAT lists it: all background; its stored size (W x H)
    is another image's, refused."""
    image = turned_jpeg(tmp_path / "train" / "images" / "img.jpg", W, H)
    labels = _coco(tmp_path / "annotation.json", [], images=(("train/images/img.jpg", H, W),))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    mask = _read(tmp_path / "m.tif")[0]
    assert mask.shape[-2:] == (H, W) and not mask.any()
    labels = _coco(tmp_path / "annotation.json", [], images=(("train/images/img.jpg", W, H),))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m2.tif")
    assert_one_line_error(result, "img.jpg", "annotation.json", f"{W}x{H}")
    assert not (tmp_path / "m2.tif").exists()


def test_a_class_map_naming_background_0_as_evaluate_takes_it(tmp_path, run_cli):
    """FloodNet's ids name its class 0 'background' (water 5...): one class map of its ten
    classes serves evaluate, but make-masks refused it ('ids are integers 1..254'). A name
    that says background mapped to 0 is what make-masks does with it anyway: taken."""
    image = _png(tmp_path / "img.png")
    box = [14, 8, 24, 8, 24, 18, 14, 18]
    labels = _coco(tmp_path / "annotation.json",
                   [{"segmentation": [POLYGON], "category_id": 1},
                    {"segmentation": [PARTS[0]], "category_id": 2},
                    {"segmentation": [box], "category_id": 3}],
                   categories=[{"id": 1, "name": "building-flooded"}, {"id": 2, "name": "water"},
                               {"id": 3, "name": "background"}])
    class_map = tmp_path / "floodnet.json"
    class_map.write_text(json.dumps({"background": 0, "building-flooded": 1, "water": 5}))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif", "--class-map",
                     class_map)
    assert result.exit_code == 0, result.output
    expected = _burnt([POLYGON]).astype(np.uint8)
    expected[_burnt([PARTS[0]])] = 5
    expected[_burnt([box])] = 0
    np.testing.assert_array_equal(_read(tmp_path / "m.tif")[0], expected)
    class_map.write_text(json.dumps({"building-flooded": 0}))  # a class as 0: refused
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m2.tif", "--class-map",
                     class_map)
    assert_one_line_error(result, "floodnet.json", "'building-flooded'", "1..254")
