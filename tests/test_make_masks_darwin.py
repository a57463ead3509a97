"""make-masks with V7's Darwin JSON (2.0 and 1.0) as LABELS (geotile.darwin_labels): one file,
a folder or a pattern of them, each IMAGE paired by the name its file gives; polygons (several
paths even-odd) drawn as darwin-py's mask export draws them (vertices rounded to pixel
centres, outlines in, upolygon's lines), boxes and ellipses by the pixel-centre rule, the
raster layer exactly; evaluate against it as TRUTH; the refusals (one line, nothing
written)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from tests.conftest import UTM_CRS, assert_one_line_error, write_raster
from tests.pixel_label_files import assert_evaluate_as_make_masks, plain_png, read_mask

H, W = 40, 60
#: a building of whole pixels 5..20 x 5..15 with a hole 10..14 x 8..11: upolygon paints the
#: hole's outline, clearing only its inside (11..13 x 9..10)
OUTER = [(5, 5), (20, 5), (20, 15), (5, 15)]
HOLE = [(10, 8), (14, 8), (14, 11), (10, 11)]
#: a triangle, and the columns of each row upolygon's draw_polygon paints of it (rows 2..12)
TRIANGLE = [(30, 2), (40, 8), (31, 12)]
TRIANGLE_ROWS = {2: (30, 30), 3: (30, 32), 4: (30, 34), 5: (30, 35), 6: (30, 37),
                 7: (30, 39), 8: (31, 40), 9: (31, 38), 10: (31, 36), 11: (31, 34),
                 12: (31, 32)}


def _points(path):
    return [{"x": x, "y": y} for x, y in path]


def _polygon(name, *paths, bbox=None) -> dict:
    found = {"id": f"p{len(paths)}", "name": name, "polygon": {
        "paths": [_points(p) for p in paths]}, "slot_names": ["0"]}
    if bbox is not None:
        found["bounding_box"] = dict(zip("xywh", bbox, strict=True))
    return found


def _v2(name, annotations, width=W, height=H, slots=None) -> dict:
    slot = {"type": "image", "slot_name": "0", "width": width, "height": height,
            "source_files": [{"file_name": name, "url": "https://example.com/x"}]}
    return {"version": "2.0", "schema_ref": "https://example.com/2.0/schema.json",
            "item": {"name": name, "path": "/", "slots": [slot] if slots is None else slots},
            "annotations": annotations, "properties": []}


def _plain_tif(path):
    """A one-band GeoTIFF of W x H px without georeference."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_raster(path, np.zeros((1, H, W), np.uint8), crs=None)


def _write(path, document):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    return path


def _expected_house(value=1) -> np.ndarray:
    expected = np.zeros((H, W), np.uint8)
    expected[5:16, 5:21] = value
    expected[9:11, 11:14] = 0
    return expected


def _ellipse_pixels(cx, cy, rx, ry, angle) -> np.ndarray:
    """The pixels whose centre lies inside or on the ellipse turned ``angle`` radians from x
    towards y."""
    rows, cols = np.mgrid[0:H, 0:W] + 0.5
    dx, dy = cols - cx, rows - cy
    c, s = math.cos(angle), math.sin(angle)
    return (c * dx + s * dy) ** 2 / rx ** 2 + (c * dy - s * dx) ** 2 / ry ** 2 <= 1


def test_v2_shapes_burn_as_darwin_py_draws(tmp_path, run_cli):
    """A 2.0 file: a polygon of two paths (the inner one a hole, its outline painted), a
    triangle (upolygon's pixels), a box and a turned ellipse (pixel centres inside), an
    __ignore__ box 255; lines, keypoints, tags and skeletons left out with one warning;
    ids by sorted name."""
    image = plain_png(tmp_path / "a.png", W, H)
    labels = _write(tmp_path / "a.json", _v2("a.png", [
        _polygon("building", OUTER, HOLE, bbox=(5, 5, 15, 10)),
        _polygon("water", TRIANGLE),
        {"id": "b", "name": "car", "bounding_box": {"x": 44.2, "y": 20.7, "w": 5.6, "h": 4}},
        {"id": "e", "name": "pond", "ellipse": {"center": {"x": 15, "y": 30},
                                                "radius": {"x": 8, "y": 3}, "angle": 0.5}},
        {"id": "l", "name": "road", "line": {"path": _points([(0, 39), (59, 39)])}},
        {"id": "k", "name": "tree", "keypoint": {"x": 50, "y": 35}},
        {"id": "t", "name": "cloudy", "tag": {}},
        {"id": "s", "name": "person", "skeleton": {"nodes": []}},
        {"id": "i", "name": "__ignore__", "bounding_box": {"x": 0, "y": 0, "w": 3, "h": 3}}]))
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", labels, image, "-o", out)
    assert result.exit_code == 0, result.output
    assert "4 line, keypoint, tag, skeleton, cuboid or other annotations were left out " \
        "(a.json annotations[4] first)" in result.stderr
    assert "class ids by name: 1 building, 2 car, 3 pond, 4 water" in result.stdout
    expected = _expected_house()
    for row, (first, last) in TRIANGLE_ROWS.items():
        expected[row, first:last + 1] = 4
    expected[21:25, 44:50] = 2
    expected[_ellipse_pixels(15, 30, 8, 3, 0.5)] = 3
    expected[0:3, 0:3] = 255
    np.testing.assert_array_equal(read_mask(out)[0], expected)


def test_v1_paths_complex_polygons_and_pairing_by_filename(tmp_path, run_cli):
    """A 1.0 file (image.filename) in a folder pairs with the image of its name's stem; its
    polygon's additional_paths and a complex_polygon's paths fill even-odd (a hole, two
    apart parts); vertices are rounded half to even to whole pixels."""
    labels = _write(tmp_path / "darwin" / "export_0001.json", {
        "dataset": "roofs", "image": {"width": W, "height": H, "filename": "b.jpg",
                                      "original_filename": "b.jpg", "path": "/"},
        "annotations": [
            {"name": "building", "polygon": {"path": _points(
                [(4.6, 5.4), (20.4, 5), (19.6, 15.2), (5, 14.5)]),
                "additional_paths": [_points(HOLE)]}},
            {"name": "lake", "complex_polygon": {"path": [
                _points([(30, 25), (35, 25), (35, 30), (30, 30)]),
                _points([(40, 25), (45, 25), (45, 30), (40, 30)])]}}]})
    image = _plain_tif(tmp_path / "images" / "b.tif")
    result = run_cli("make-masks", labels.parent, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    assert "class ids by name: 1 building, 2 lake" in result.stdout
    expected = _expected_house()  # 14.5 rounds to 14: the bottom edge slants
    expected[15, 5:13] = 0
    expected[25:31, 30:36] = 2
    expected[25:31, 40:46] = 2
    mask = read_mask(tmp_path / "m.tif")[0]
    np.testing.assert_array_equal(mask, expected)


def test_raster_layer_masks_are_exact(tmp_path, run_cli):
    """The __raster_layer__'s dense_rle (rows top to bottom) gives each mask annotation its
    pixels through mask_annotation_ids_mapping, classed by that annotation's name."""
    rng = np.random.default_rng(3)
    values = rng.choice([0, 0, 1, 2], size=(H, W))
    flat = values.ravel()
    starts = np.r_[0, np.nonzero(np.diff(flat))[0] + 1]
    counts = np.diff(np.r_[starts, flat.size])
    rle = [int(v) for pair in zip(flat[starts], counts, strict=True) for v in pair]
    image = plain_png(tmp_path / "r.png", W, H)
    labels = _write(tmp_path / "r.json", _v2("r.png", [
        {"id": "m1", "name": "tree", "mask": {"sparse_rle": None}, "slot_names": ["0"]},
        {"id": "m2", "name": "road", "mask": {"sparse_rle": None}, "slot_names": ["0"]},
        {"id": "rl", "name": "__raster_layer__", "raster_layer": {
            "dense_rle": rle, "mask_annotation_ids_mapping": {"m1": 1, "m2": 2},
            "total_pixels": W * H}, "slot_names": ["0"]}]))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    assert "class ids by name: 1 road, 2 tree" in result.stdout
    np.testing.assert_array_equal(read_mask(tmp_path / "m.tif")[0],
                                  np.choose(values, [0, 2, 1]))


def test_mask_annotations_without_their_pixels(tmp_path, run_cli):
    """A mask annotation beside a raster layer that holds no pixel of it is left out with
    the warning of annotations that burn nothing; mask annotations in a file without a
    raster layer (their pixels) were left out without a word, exit 0: refused in one line."""
    image = plain_png(tmp_path / "r.png", W, H)
    masks = [{"id": "m1", "name": "tree", "mask": {"sparse_rle": None}, "slot_names": ["0"]},
             {"id": "m2", "name": "road", "mask": {"sparse_rle": None}, "slot_names": ["0"]}]
    layer = {"id": "rl", "name": "__raster_layer__", "raster_layer": {
        "dense_rle": [0, 10, 1, 5, 0, W * H - 15],
        "mask_annotation_ids_mapping": {"m1": 1, "m2": 2}, "total_pixels": W * H}}
    labels = _write(tmp_path / "r.json", _v2("r.png", [*masks, layer]))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    assert "1 annotation was left out (r.json annotations[1]): they burn no pixel" \
        in result.stderr, result.stderr
    expected = np.zeros((H, W), np.uint8)
    expected[0, 10:15] = 1  # tree, the one class burnt (one file: its names burnt)
    np.testing.assert_array_equal(read_mask(tmp_path / "m.tif")[0], expected)
    _write(labels, _v2("r.png", [_polygon("water", TRIANGLE), *masks]))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "n.tif")
    assert_one_line_error(result, "r.json: annotations[1] ('tree') is a mask",
                          "no __raster_layer__")
    assert not (tmp_path / "n.tif").exists()


def test_georeferenced_utm_image(tmp_path, run_cli):
    """A UTM image: the mask on its grid (CRS, transform), the pixels as on a plain one."""
    transform = from_origin(740000.0, 3735000.0, 0.5, 0.5)
    image = write_raster(tmp_path / "scene.tif", np.full((3, H, W), 7, np.uint8),
                         crs=UTM_CRS, transform=transform)
    labels = _write(tmp_path / "scene.json", _v2("scene.tif", [_polygon("water", TRIANGLE)]))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    mask, profile, _, _ = read_mask(tmp_path / "m.tif")
    assert profile["crs"] == rasterio.crs.CRS.from_user_input(UTM_CRS)
    assert profile["transform"] == transform
    expected = np.zeros((H, W), np.uint8)
    for row, (first, last) in TRIANGLE_ROWS.items():
        expected[row, first:last + 1] = 1
    np.testing.assert_array_equal(mask, expected)


def test_folder_run_pairs_each_image_by_its_item(tmp_path, run_cli):
    """A folder (a subfolder too, as a release with folders) of files named apart from their
    images: each image takes the file its item names (a.jpg for a.tif by stem); other JSON
    is left alone; ids by name over the run; --workers gives the same masks."""
    folder = tmp_path / "darwin"
    _write(folder / "sub" / "0001.json", _v2("a.jpg", [_polygon("water", TRIANGLE)]))
    _write(folder / "0002.json", _v2("b.png", [_polygon("building", OUTER, HOLE)]))
    _write(folder / "notes.json", {"comment": "not labels"})
    images = tmp_path / "images"
    _plain_tif(images / "a.tif")
    plain_png(images / "b.png", W, H)
    for workers in ("1", "2"):
        out = tmp_path / f"masks{workers}"
        result = run_cli("make-masks", folder, images, "-o", f"{out}/", "--workers", workers)
        assert result.exit_code == 0, result.output
        assert "class ids by name: 1 building, 2 water" in result.stdout
        a, b = read_mask(out / "a.tif")[0], read_mask(out / "b.tif")[0]
        assert (a == 2).sum() == sum(last - first + 1 for first, last in
                                     TRIANGLE_ROWS.values()) and set(np.unique(a)) == {0, 2}
        np.testing.assert_array_equal(b, _expected_house())
    pattern = run_cli("make-masks", f"{folder}/**/*.json", images / "a.tif", "-o",
                      tmp_path / "p.tif")
    assert pattern.exit_code == 0, pattern.output
    np.testing.assert_array_equal(read_mask(tmp_path / "p.tif")[0] > 0,
                                  read_mask(tmp_path / "masks1" / "a.tif")[0] > 0)


def test_polygon_past_the_image_is_drawn_on_darwin_py_s_larger_canvas(tmp_path, run_cli):
    """A vertex past the image is clipped to its last pixel, as darwin-py clips it, unless
    a polygon's bounding box reaches past the image: then darwin-py draws on a canvas
    holding them all (clipped to its own last pixel, 79), and the edge keeps its slope."""
    image = plain_png(tmp_path / "c.png", W, H)
    triangle = [(50, 5), (80, 5), (50, 20)]
    rows = {"clipped": {5: 59, 6: 58, 7: 58, 8: 57, 9: 57, 10: 56, 11: 55, 12: 55, 13: 54,
                        14: 54, 15: 53, 16: 52, 17: 52, 18: 51, 19: 51, 20: 50},
            "canvas": {**dict.fromkeys(range(5, 16), 59), 16: 58, 17: 56, 18: 54, 19: 52,
                       20: 50}}
    for kind, bbox in (("clipped", None), ("canvas", (50, 5, 30, 15))):
        labels = _write(tmp_path / kind / "c.json",
                        _v2("c.png", [_polygon("roof", triangle, bbox=bbox)]))
        out = tmp_path / f"{kind}.tif"
        result = run_cli("make-masks", labels, image, "-o", out)
        assert result.exit_code == 0, result.output
        expected = np.zeros((H, W), np.uint8)
        for row, last in rows[kind].items():
            expected[row, 50:last + 1] = 1
        np.testing.assert_array_equal(read_mask(out)[0], expected)


def test_bottom_right_tips_are_left_out_as_upolygon_leaves_them():
    """A vertex at the bottom right of both its slanted edges: upolygon's line stops before
    it and its scanlines end above it, so its pixel is not painted, unless inside another
    path's fill; a right tip with an edge going down from it is."""
    from rasterio.features import rasterize

    from geotile.darwin_labels import painted

    def burnt(*paths):
        geometry = painted([np.array(p, float) for p in paths])
        return rasterize([geometry], out_shape=(H, W), dtype="uint8")

    sliver = [(10, 20), (20, 30), (14, 21)]
    assert burnt(sliver)[30, 20] == 0 and burnt(sliver)[29, 19] == 1
    around = [(5, 15), (35, 15), (35, 38), (5, 38)]
    assert burnt(around, sliver)[30, 20] == 1  # the tip's pixel inside the other path
    assert burnt(around, sliver)[25, 16] == 0  # the sliver's inside: a hole
    assert burnt([(10, 20), (20, 25), (10, 30)])[25, 20] == 1


def test_polygons_agree_with_upolygon():
    """geotile's polygons, burnt by the pixel-centre rule, against darwin-py's own draw
    (upolygon's draw_polygon of the rounded, clipped vertices) on random polygons of one to
    three paths, crossing themselves too: the same pixels (skipped without upolygon)."""
    upolygon = pytest.importorskip("upolygon")
    from rasterio.features import rasterize

    from geotile.darwin_labels import _pixels, painted

    rng = np.random.default_rng(11)
    for _ in range(300):
        paths = [[{"x": float(x), "y": float(y)} for x, y in
                  rng.uniform(0, 1, 2) * (W, H) + rng.uniform(-15, 15, (int(n), 2))]
                 for n in rng.integers(3, 10, int(rng.integers(1, 4)))]
        sequences = [[round(v) for p in path for v in (max(min(p["x"], W - 1), 0),
                                                         max(min(p["y"], H - 1), 0))]
                     for path in paths]
        drawn = np.zeros((H, W), np.uint8)
        upolygon.draw_polygon(drawn, sequences, 1)
        ours = rasterize([painted([_pixels("", "", p, (0, 0, W, H)) for p in paths])],
                         out_shape=(H, W), dtype="uint8")
        np.testing.assert_array_equal(ours, drawn)


def test_evaluate_against_darwin_truth(tmp_path, run_cli):
    """evaluate TRUTH a folder of Darwin files: a prediction raster scores as make-masks'
    mask of its image; two predicted buildings against two touching polygons are 2 TP."""
    left, right = [(10, 10), (19, 10), (19, 29), (10, 29)], [(20, 10), (29, 10), (29, 29),
                                                            (20, 29)]
    folder = tmp_path / "darwin"
    _write(folder / "img.json", _v2("img.png", [_polygon("building", left),
                                                _polygon("building", right)]))
    image = plain_png(tmp_path / "images" / "img.png", W, H)
    assert_evaluate_as_make_masks(tmp_path, run_cli, folder, image, W, H)


def _slot(kind="image", name="0"):
    return {"type": kind, "slot_name": name, "width": W, "height": H,
            "source_files": [{"file_name": "a.png"}]}


_RASTER = {"id": "rl", "name": "__raster_layer__", "raster_layer": {
    "dense_rle": [0, 100], "mask_annotation_ids_mapping": {}, "total_pixels": 100}}


@pytest.mark.parametrize(("document", "fragments"), [
    (_v2("a.png", [], slots=[_slot(), _slot(name="1")]), ["an item of 2 slots"]),
    (_v2("a.png", [], slots=[_slot("video")]), ["slot is of type 'video'", "not an image"]),
    ('{"version": "2.0", "item": {"name": "a.png", "slots": [', ["not a JSON file"]),
    (_v2("a.png", [], slots=[{**_slot(), "width": None}]),
     ["its slot has width None and height 40"]),
    ({"image": {"filename": "a.png", "height": H}, "annotations": []},
     ["its image has width None and height 40"]),
    ('{"version": "2.0", "item": {"name": "a.png", "slots": [{"type": "image", '
     '"slot_name": "0", "width": 60, "height": 40}]}, "annotations": [{"name": "x", '
     '"polygon": {"paths": [[{"x": NaN, "y": 1}, {"x": 5, "y": 5}, {"x": 1, "y": 9}]]}}]}',
     ["annotations[0] ('x') has a point that is not a finite number"]),
    (_v2("a.png", [_RASTER]), ["raster layer) has a dense_rle of 100 pixels",
                               "60x40 = 2,400"]),
    (_v2("a.png", [{**_RASTER, "raster_layer": {**_RASTER["raster_layer"], "dense_rle": [
        0, 2399, 3, 1]}}]), ["pixels of value 3", "no mask annotation"]),
    (_v2("a.png", [{**_polygon("x", TRIANGLE), "slot_names": ["1"]}]),
     ["annotations[0] ('x') is on slot ['1']", "one slot is '0'"]),
    (_v2("a.png", [], width=50), ["a.png: 60x40 px", "annotates an image of 50x40 px"]),
    (_v2("a.png", [{"id": "q", "name": "x", "hologram": {}}]),
     ["annotations[0] ('x') has no shape make-masks knows"]),
    (_v2("a.png", [_polygon("x", TRIANGLE, bbox=(-1e300, 2, 1e300, 10))]),
     ["annotations[0] ('x') has a bounding_box past 16777216 px"]),
    # integers past any float (JSON has no limit) were OverflowError tracebacks
    (_v2("a.png", [_polygon("x", TRIANGLE, bbox=(10 ** 400, 2, 5, 10))]),
     ["annotations[0] ('x') has a bounding_box past 16777216 px"]),
    (_v2("a.png", [_polygon("x", [(10 ** 400, 1), *TRIANGLE[1:]])]),
     ["annotations[0] ('x') has a point that is not a finite number"]),
    (_v2("a.png", [{"id": {"a": 1}, "name": "x", "mask": {}}, {**_RASTER, "raster_layer": {
        **_RASTER["raster_layer"], "dense_rle": [0, W * H]}}]),
     ["annotations[0] ('x') is a mask of id {'a': 1}"]),
    (_v2("a.png", [{"id": "b", "name": "car", "bounding_box": {"x": 10 ** 400, "y": 2,
                                                               "w": 5, "h": 6}}]),
     ["annotations[0] ('car') is a bounding_box with a value that is not a finite number"]),
])
def test_refusals_are_one_line(tmp_path, run_cli, document, fragments):
    image = plain_png(tmp_path / "a.png", W, H)
    labels = tmp_path / "a.json"
    labels.write_text(document if isinstance(document, str) else json.dumps(document))
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", labels, image, "-o", out)
    assert_one_line_error(result, str(labels) if "a.png:" not in fragments[0] else "",
                          *fragments)
    assert not out.exists()


def test_source_files_that_are_no_list_name_nothing(tmp_path, run_cli):
    """A slot's source_files that is no list (true, a number) names no file (it was a
    TypeError traceback): the item's name pairs the image, its polygon burnt."""
    document = _v2("a.png", [_polygon("building", OUTER, HOLE, bbox=(5, 5, 15, 10))])
    document["item"]["slots"][0]["source_files"] = True
    labels = tmp_path / "a.json"
    labels.write_text(json.dumps(document))
    image = plain_png(tmp_path / "a.png", W, H)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read_mask(tmp_path / "m.tif")[0], _expected_house())


def test_one_file_for_two_images_and_an_image_without_a_file_are_refused(tmp_path, run_cli):
    labels = _write(tmp_path / "darwin" / "a.json", _v2("a.png", []))
    a, b = plain_png(tmp_path / "a.png", W, H), plain_png(tmp_path / "b.png", W, H)
    two = run_cli("make-masks", labels, a, b, "-o", f"{tmp_path / 'm'}/")
    assert_one_line_error(two, "Darwin JSON of one image, but 2 IMAGEs are given")
    missing = run_cli("make-masks", labels.parent, b, "-o", tmp_path / "m.tif")
    assert_one_line_error(missing, "b.png: no Darwin JSON in", "names it or its stem")


def test_told_apart_from_the_other_formats(tmp_path):
    """Darwin's files by their own keys: a Labelme, Supervisely, COCO or GeoJSON file is none
    of them, and none of those readers takes a Darwin file; other commands refuse one."""
    from geotile import pixel_label_formats as formats
    from geotile.darwin_labels import is_darwin_labels
    from geotile.errors import InputError
    from geotile.labels import read_labels

    darwin = _write(tmp_path / "d" / "a.json", _v2("a.png", [_polygon("x", TRIANGLE)]))
    v1 = _write(tmp_path / "v1.json", {"image": {"width": W, "height": H,
                                                 "filename": "a.png"}, "annotations": []})
    assert formats.pixel_label_format(darwin) == formats.DARWIN
    assert formats.pixel_label_format(v1) == formats.DARWIN
    assert formats.pixel_label_format(darwin.parent) == formats.DARWIN
    assert formats.pixel_label_format(f"{tmp_path}/d/*.json") == formats.DARWIN
    others = {
        "labelme.json": {"version": "5.4.1", "shapes": [], "imagePath": "a.png",
                         "imageHeight": H, "imageWidth": W},
        "ann.json": {"size": {"height": H, "width": W}, "objects": []},
        "coco.json": {"images": [{"id": 1, "file_name": "a.png", "width": W, "height": H}],
                      "annotations": [], "categories": []},
        "g.geojson": {"type": "FeatureCollection", "features": []},
        # Segment Anything's SA-1B: a COCO-like image (file_name) beside annotations
        "sa_1.json": {"image": {"image_id": 1, "width": W, "height": H,
                                "file_name": "sa_1.jpg"},
                      "annotations": [{"id": 1, "segmentation": {"size": [H, W],
                                                                 "counts": "PPYo0"}}]}}
    for name, document in others.items():
        assert not is_darwin_labels(_write(tmp_path / name, document)), name
    with pytest.raises(InputError, match=r"V7.s Darwin JSON.*make-masks takes it"):
        read_labels(darwin)


def test_a_box_with_a_directional_vector_is_burnt(tmp_path, run_cli):
    """A direction vector is a sub-annotation of a box (or polygon) in V7, as darwin-py
    reads it: the box is burnt, not left out as an annotation without area."""
    image = plain_png(tmp_path / "a.png", W, H)
    labels = _write(tmp_path / "a.json", _v2("a.png", [
        {"id": "b", "name": "car", "bounding_box": {"x": 10, "y": 10, "w": 20, "h": 10},
         "directional_vector": {"angle": 1.5, "length": 10.0}, "instance_id": {"value": 3},
         "slot_names": ["0"]}]))
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", labels, image, "-o", out)
    assert result.exit_code == 0, result.output
    assert "left out" not in result.stderr
    expected = np.zeros((H, W), np.uint8)
    expected[10:20, 10:30] = 1
    np.testing.assert_array_equal(read_mask(out)[0], expected)


def test_ids_are_the_folder_s_whichever_images_are_masked(tmp_path, run_cli):
    """Files of a (building, and a tag 'apple': no area, no class), b (road), c (water): c
    masked alone takes water's id over every file of the folder (3), as all three masked,
    a pattern of them too; --resume redoes it when another file adds a class (water 4)."""
    folder = tmp_path / "darwin"
    _write(folder / "a.json", _v2("a.png", [_polygon("building", OUTER),
                                            {"id": "t", "name": "apple", "tag": {}}]))
    _write(folder / "b.json", _v2("b.png", [_polygon("road", OUTER)]))
    _write(folder / "c.json", _v2("c.png", [_polygon("water", TRIANGLE)]))
    images = [plain_png(tmp_path / "i" / f"{n}.png", W, H) for n in "abc"]
    full = run_cli("make-masks", folder, *images, "-o", f"{tmp_path / 'full'}/")
    assert full.exit_code == 0, full.output
    assert "class ids by name: 1 building, 2 road, 3 water" in full.stdout
    for labels in (folder, f"{folder}/*.json"):
        one = run_cli("make-masks", labels, images[2], "-o", f"{tmp_path / 'one'}/",
                      "--overwrite")
        assert one.exit_code == 0, one.output
        assert "class ids by name: 1 building, 2 road, 3 water" in one.stdout
        mask = read_mask(tmp_path / "one" / "c.tif")[0]
        np.testing.assert_array_equal(mask, read_mask(tmp_path / "full" / "c.tif")[0])
        assert set(np.unique(mask)) == {0, 3}
    _write(folder / "b.json", _v2("b.png", [_polygon("road", OUTER), _polygon("bridge", HOLE)]))
    again = run_cli("make-masks", folder, images[2], "-o", f"{tmp_path / 'one'}/", "--resume")
    assert again.exit_code == 0, again.output
    assert set(np.unique(read_mask(tmp_path / "one" / "c.tif")[0])) == {0, 4}
