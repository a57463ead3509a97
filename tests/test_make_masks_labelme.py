"""make-masks with Labelme JSON label files as LABELS (geotile.labelme_labels): one JSON per
image (paired by name as a label folder's files), shapes in the image's pixels (origin at
the top-left corner of the top-left pixel), burnt by the pixel-centre rule on plain and
georeferenced images; each shape type, group_id instances, class ids by name across the
run, and the refusals (nothing written)."""

from __future__ import annotations

import base64
import io
import json
import math

import numpy as np
import pytest
import rasterio
import shapely
from rasterio.features import rasterize

from geotile.masks import boundary_band, contact_band
from tests.conftest import UTM_CRS, assert_one_line_error, write_raster
from tests.pixel_label_files import plain_png, read_mask, turned_jpeg

H, W = 40, 60
ROWS, COLS = np.mgrid[0:H, 0:W]
#: pixel centres
X, Y = COLS + 0.5, ROWS + 0.5

HOUSE = [[5.2, 4.3], [25.7, 5.1], [22.4, 20.6], [6.1, 18.2]]
TREE_ON_HOUSE = [[15.5, 10.5], [30.3, 10.1], [29.8, 16.6]]
#: a rectangle given by its lower-right corner first
CAR_BOX = [[40.6, 30.3], [30.2, 22.7]]
#: a circle: its centre and a point on it
CIRCLE = [[45.3, 10.2], [52.43, 12.2]]
ORIENTED = [[50.2, 20.1], [58.3, 26.4], [55.1, 30.6], [47.0, 24.3]]
MASK_ORIGIN = (3, 28)
MASK = np.array([[0, 1, 1, 1, 0, 0],
                 [1, 1, 1, 1, 1, 0],
                 [1, 1, 0, 1, 1, 1],
                 [0, 1, 1, 1, 1, 0]], dtype=np.uint8)


def _png_b64(array: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")  # as Labelme writes it (mode L)
    return base64.b64encode(buffer.getvalue()).decode()


def _shape(label, points, shape_type="polygon", group_id=None, mask=None) -> dict:
    """A shape as Labelme writes it."""
    return {"label": label, "points": points, "group_id": group_id, "description": "",
            "shape_type": shape_type, "flags": {},
            "mask": None if mask is None else _png_b64(mask)}


def _labelme(path, shapes, width=W, height=H, image_path=None) -> dict:
    document = {"version": "5.5.0", "flags": {}, "shapes": shapes,
                "imagePath": image_path or f"../images/{path.stem}.png", "imageData": None,
                "imageHeight": height, "imageWidth": width}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    return document


def _png(path, width=W, height=H):
    return plain_png(path, width, height)


def _read(path):
    return read_mask(path, None)


def _polygon(points) -> np.ndarray:
    """Pixels whose centre lies inside the polygon (tested by GEOS, not burnt by GDAL)."""
    return shapely.contains_xy(shapely.Polygon(points), X, Y)


def _rectangle(corners) -> np.ndarray:
    (x0, y0), (x1, y1) = corners
    xs, ys = X, Y
    return (xs > min(x0, x1)) & (xs < max(x0, x1)) & (ys > min(y0, y1)) & (ys < max(y0, y1))


def _circle(centre, edge) -> np.ndarray:
    """The analytic circle's pixel-centre rule: centre inside or on the circle."""
    (cx, cy), (px, py) = centre, edge
    return (X - cx) ** 2 + (Y - cy) ** 2 <= (px - cx) ** 2 + (py - cy) ** 2


def _mask_pixels(origin=MASK_ORIGIN, mask=MASK) -> np.ndarray:
    out = np.zeros((H, W), bool)
    x0, y0 = origin
    part = out[y0:y0 + mask.shape[0], x0:x0 + mask.shape[1]]
    part[...] = mask[:part.shape[0], :part.shape[1]].astype(bool)
    return out


def _all_shapes() -> list[dict]:
    x0, y0 = MASK_ORIGIN
    h, w = MASK.shape
    return [
        _shape("house", HOUSE),
        _shape("tree", TREE_ON_HOUSE),  # later: on top of the house
        _shape("car", CAR_BOX, "rectangle"),
        _shape("tree", CIRCLE, "circle"),
        _shape("house", [[x0, y0], [x0 + w - 1, y0 + h - 1]], "mask", mask=MASK),
        _shape("car", ORIENTED, "oriented_rectangle"),
        _shape("road", [[1.0, 1.0], [50.0, 2.0]], "line"),
        _shape("road", [[1.0, 3.0], [20.0, 3.0], [30.0, 9.0]], "linestrip"),
        _shape("pole", [[33.0, 3.0]], "point"),
        _shape("pole", [[35.0, 3.0], [36.0, 4.0]], "points"),
    ]


def _expected_all() -> np.ndarray:
    """car 1, house 2, tree 3 (by name); later shapes on top."""
    expected = np.zeros((H, W), np.uint8)
    expected[_polygon(HOUSE)] = 2
    expected[_polygon(TREE_ON_HOUSE)] = 3
    expected[_rectangle(CAR_BOX)] = 1
    expected[_circle(*CIRCLE)] = 3
    expected[_mask_pixels()] = 2
    expected[_polygon(ORIENTED)] = 1
    return expected


def test_a_huge_circle_walks_the_image_s_rows_only(tmp_path, run_cli):
    """A circle of radius 1e6 px crossing the image (one of 4e6 px took 139 s and 6.5 GB on
    a 20 x 10 image: every row of it was walked) is read in the memory of the image's rows
    and burns the pixels whose centre lies inside or on it."""
    import tracemalloc

    from geotile.labelme_labels import read_labelme

    circle = ([30.3, 1e6 + 20.2], [30.3, 20.2])
    labels = tmp_path / "labels" / "a.json"
    _labelme(labels, [_shape("pond", [list(p) for p in circle], "circle")])
    image = _png(tmp_path / "images" / "a.png")
    tracemalloc.start()
    try:
        read_labelme(labels, [image])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, peak  # 2e6 rows of float64 arrays: over 16 MB each
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "m.tif")[0][0],
                                  _circle(*circle).astype(np.uint8))

def test_each_shape_type_pixel_exact_on_a_plain_png(tmp_path, run_cli):
    """Labelme's layout (labels/a.json for images/a.png, no georeference): polygon,
    rectangle (corners in any order), circle, mask (its PNG exactly, at its first point),
    oriented rectangle burnt by the pixel-centre rule, later shapes on top; lines and
    points left out with one warning counting them; classes 1..N by sorted name."""
    _labelme(tmp_path / "labels" / "a.json", _all_shapes())
    image = _png(tmp_path / "images" / "a.png")
    result = run_cli("make-masks", tmp_path / "labels", image, "-o", tmp_path / "m.tif",
                     "--json")
    assert result.exit_code == 0, result.output
    bands, profile, tags, descriptions = _read(tmp_path / "m.tif")
    np.testing.assert_array_equal(bands[0], _expected_all())
    assert profile["transform"].is_identity and profile["crs"] is None
    assert (profile["width"], profile["height"]) == (W, H) and descriptions == ("class",)
    assert json.loads(tags["GEOTILE_CLASS_NAMES"]) == ["background", "car", "house", "tree"]
    document = json.loads(result.stdout)
    assert document["classes"] == ["background", "car", "house", "tree"]
    (summary,) = document["masks"]
    assert summary["labels"] == str(tmp_path / "labels" / "a.json")
    assert summary["features"] == 6
    assert summary["positive_pixels"] == int((_expected_all() > 0).sum())
    left_out = [line for line in result.stderr.splitlines() if "left out" in line]
    assert len(left_out) == 1, result.stderr
    assert "4 line" in left_out[0] and "a.json" in left_out[0]


def test_a_georeferenced_image_takes_its_pixels(tmp_path, run_cli):
    """A GeoTIFF in a real CRS: the shapes placed through its geotransform, so the mask
    (on the image's grid) holds the same pixels as on a plain image."""
    _labelme(tmp_path / "labels" / "a.json", _all_shapes())
    (tmp_path / "images").mkdir()
    image = write_raster(tmp_path / "images" / "a.tif", np.ones((1, H, W), np.uint8),
                         crs=UTM_CRS)
    result = run_cli("make-masks", tmp_path / "labels", tmp_path / "images", "-o",
                     f"{tmp_path / 'masks'}/")
    assert result.exit_code == 0, result.output
    bands, profile, _, _ = _read(tmp_path / "masks" / "a.tif")
    np.testing.assert_array_equal(bands[0], _expected_all())
    with rasterio.open(image) as src:
        assert profile["transform"] == src.transform and profile["crs"] == src.crs
    assert "class ids by name: 1 car, 2 house, 3 tree" in result.stdout


def test_circles_are_pixel_exact_against_the_analytic_centre_rule():
    """Circles of any size and place, centres on pixel corners and centres included (some
    pixel centres then lie exactly on the circle: burnt), burn exactly the pixels whose
    centre lies inside or on the circle."""
    from geotile.labelme_labels import circle

    size = 120
    rows, cols = np.mgrid[0:size, 0:size]
    rng = np.random.default_rng(7)
    # pixel centres exactly on the circle: (65.5, 60.5), (60.5, 73.5), ...
    cases = [(60.0, 60.0, 65.0, 60.0), (60.5, 60.5, 65.5, 60.5), (60.5, 60.5, 60.5, 73.5),
             (60.5, 60.0, 60.5, 73.0), (60.5, 60.5, 61.0, 60.5), (60.2, 60.7, 60.5, 60.7),
             (59.5, 60.5, 59.5, 10.5), (60.5, 60.5, 63.5, 64.5)]
    for number in range(300):
        (cx, cy), radius = rng.uniform(20, 100, 2), rng.uniform(0.2, 45)
        if number % 3 == 0:  # a pixel centre and a whole radius, given at an angle: pixel
            # centres on the circle within rounding
            cx, cy, radius = np.floor(cx) + 0.5, np.floor(cy) + 0.5, np.ceil(radius)
        angle = rng.uniform(0, 2 * np.pi)
        cases.append((cx, cy, cx + radius * np.cos(angle), cy + radius * np.sin(angle)))
    for cx, cy, px, py in cases:
        shape = circle(cx, cy, px, py)
        burnt = rasterize([shape], out_shape=(size, size)).astype(bool)
        r2 = (px - cx) ** 2 + (py - cy) ** 2
        analytic = (cols + 0.5 - cx) ** 2 + (rows + 0.5 - cy) ** 2 <= r2
        np.testing.assert_array_equal(burnt, analytic, err_msg=f"{cx} {cy} {px} {py}")
        touched = rasterize([shape], out_shape=(size, size), all_touched=True).astype(bool)
        assert (touched >= analytic).all()


def test_masks_of_every_labelme_version_take_their_first_point(tmp_path, run_cli):
    """A mask shape's PNG is placed with its top-left pixel at the shape's first point, its
    size its own: Labelme 5.4-5.5 stored one row and column more than the box (zeros), and
    cut at the image's edge; 6.x the inclusive box."""
    wide = np.zeros((5, 7), np.uint8)  # 5.4's: box of 4 x 6 plus a zero row and column
    wide[:4, :6] = MASK
    edge = np.array([[1, 1], [0, 1]], np.uint8)  # cut at the bottom-right corner
    shapes = [_shape("a", [[10, 2], [16, 6]], "mask", mask=wide),
              _shape("a", [[W - 2, H - 2], [W, H]], "mask", mask=edge)]
    _labelme(tmp_path / "labels" / "a.json", shapes)
    image = _png(tmp_path / "images" / "a.png")
    result = run_cli("make-masks", tmp_path / "labels", image, "-o", tmp_path / "m.tif",
                     "--all-touched")
    assert result.exit_code == 0, result.output
    expected = _mask_pixels((10, 2)) | _mask_pixels((W - 2, H - 2), edge)
    bands, _, tags, descriptions = _read(tmp_path / "m.tif")
    np.testing.assert_array_equal(bands[0], expected.astype(np.uint8))
    # one name: 0/1, as make-masks' default
    assert descriptions == ("footprint",)
    assert json.loads(tags["GEOTILE_CLASS_NAMES"]) == ["background", "a"]


def _instances(groups) -> np.ndarray:
    instances = np.zeros((H, W), np.int32)
    for number, boxes in enumerate(groups, start=1):
        for box in boxes:
            instances[_rectangle(box)] = number
    return instances


LEFT = [[5.2, 5.3], [15.7, 25.6]]
RIGHT = [[18.2, 5.3], [28.7, 25.6]]  # 2-3 px right of LEFT
OTHER = [[31.2, 5.3], [40.7, 25.6]]  # 2-3 px right of RIGHT


def test_a_group_id_makes_one_instance(tmp_path, run_cli):
    """Shapes of one group_id and label are one instance (Labelme's shapes_to_label): no
    contact between its parts, one boundary round each; the same group_id with another
    label is another instance, as is every shape without one."""
    _labelme(tmp_path / "labels" / "a.json", [
        _shape("house", LEFT, "rectangle", group_id=1),
        _shape("house", RIGHT, "rectangle", group_id=1),
        _shape("shed", OTHER, "rectangle", group_id=1)])
    _labelme(tmp_path / "labels" / "b.json", [
        _shape("house", LEFT, "rectangle"), _shape("house", RIGHT, "rectangle"),
        _shape("shed", OTHER, "rectangle")])
    images = [_png(tmp_path / "images" / "a.png"), _png(tmp_path / "images" / "b.png")]
    result = run_cli("make-masks", tmp_path / "labels", *images, "-o", tmp_path / "masks",
                     "--channels", "footprint,boundary,contact")
    assert result.exit_code == 0, result.output
    footprint = np.zeros((H, W), np.uint8)
    footprint[_rectangle(LEFT) | _rectangle(RIGHT)] = 1
    footprint[_rectangle(OTHER)] = 2
    for name, groups in (("a", [[LEFT, RIGHT], [OTHER]]), ("b", [[LEFT], [RIGHT], [OTHER]])):
        bands, _, _, descriptions = _read(tmp_path / "masks" / f"{name}.tif")
        instances = _instances(groups)
        assert descriptions == ("footprint", "boundary", "contact")
        np.testing.assert_array_equal(bands[0], footprint)
        np.testing.assert_array_equal(bands[1], boundary_band(instances, 3))
        np.testing.assert_array_equal(bands[2], contact_band(instances, 10))
    grouped, _, _, _ = _read(tmp_path / "masks" / "a.tif")
    assert not grouped[2][:, 16:18].any() and grouped[2][:, 29:31].any()


def test_later_shapes_win_over_a_group_around_them(tmp_path, run_cli):
    """A group whose parts come before and after another shape: each part stays where
    Labelme paints it (the shape between wins over the first part, the last part over it)."""
    first, between, last = [[5.2, 5.3], [20.7, 20.6]], [[10.2, 10.3], [30.7, 30.6]], \
        [[25.2, 25.3], [40.7, 38.6]]
    _labelme(tmp_path / "labels" / "a.json", [
        _shape("a", first, "rectangle", group_id=3), _shape("b", between, "rectangle"),
        _shape("a", last, "rectangle", group_id=3)])
    image = _png(tmp_path / "images" / "a.png")
    result = run_cli("make-masks", tmp_path / "labels", image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    expected = np.zeros((H, W), np.uint8)
    expected[_rectangle(first)] = 1
    expected[_rectangle(between)] = 2
    expected[_rectangle(last)] = 1
    np.testing.assert_array_equal(_read(tmp_path / "m.tif")[0][0], expected)


def test_class_ids_by_name_across_a_folder_of_images(tmp_path, run_cli):
    """Several images: ids by sorted name over every file of the run (the same in every
    mask, whatever names each holds); _background_ shapes clear what lies under them; a
    file without shapes (Labelme's saved negative image) is all background."""
    _labelme(tmp_path / "labels" / "a.json", [_shape("truck", HOUSE)])
    _labelme(tmp_path / "labels" / "b.json", [
        _shape("car", CAR_BOX, "rectangle"),
        _shape("_background_", [[33.2, 24.1], [36.6, 28.3]], "rectangle")])
    _labelme(tmp_path / "labels" / "c.json", [])
    for stem in "abc":
        _png(tmp_path / "images" / f"{stem}.png")
    result = run_cli("make-masks", tmp_path / "labels", tmp_path / "images", "-o",
                     tmp_path / "masks", "--json")
    assert result.exit_code == 0, result.output
    names = ["background", "car", "truck"]
    a, b, c = (_read(tmp_path / "masks" / f"{s}.tif") for s in "abc")
    np.testing.assert_array_equal(a[0][0], np.where(_polygon(HOUSE), 2, 0))
    expected = np.where(_rectangle(CAR_BOX), 1, 0)
    expected[_rectangle([[33.2, 24.1], [36.6, 28.3]])] = 0
    np.testing.assert_array_equal(b[0][0], expected)
    assert not c[0].any()
    for _, _, tags, _ in (a, b, c):
        assert json.loads(tags["GEOTILE_CLASS_NAMES"]) == names
    masks = json.loads(result.stdout)["masks"]
    assert [m["labels"] for m in masks] == [str(tmp_path / "labels" / f"{s}.json")
                                            for s in "abc"]
    assert masks[2]["features"] == 0
    # --class-map maps the names (one class here: 0/1)
    (tmp_path / "map.json").write_text(json.dumps({"car": 1, "truck": 1}))
    result = run_cli("make-masks", tmp_path / "labels", tmp_path / "images", "-o",
                     tmp_path / "mapped", "--class-map", tmp_path / "map.json")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "mapped" / "a.tif")[0][0],
                                  _polygon(HOUSE).astype(np.uint8))


def test_ignore_shapes_are_ignored_not_background(tmp_path, run_cli):
    """Labelme's __ignore__ label (the first line of its examples' labels.txt, -1 in its
    labelme2voc, saved 255) marks pixels to leave out of training: 255 (the mask's nodata),
    later shapes still on top; not burnt as background. A --class-map naming it keeps it a
    class."""
    ignored = [[10.2, 8.3], [40.7, 16.6]]
    _labelme(tmp_path / "labels" / "a.json", [
        _shape("house", HOUSE), _shape("__ignore__", ignored, "rectangle"),
        _shape("house", TREE_ON_HOUSE)])
    image = _png(tmp_path / "images" / "a.png")
    result = run_cli("make-masks", tmp_path / "labels", image, "-o", tmp_path / "m.tif",
                     "--json", "--channels", "footprint,boundary")
    assert result.exit_code == 0, result.output
    assert "background" not in result.stderr, result.stderr
    expected = _polygon(HOUSE).astype(np.uint8)
    expected[_rectangle(ignored)] = 255
    expected[_polygon(TREE_ON_HOUSE)] = 1
    bands, profile, tags, _ = _read(tmp_path / "m.tif")
    np.testing.assert_array_equal(bands[0], expected)
    assert (bands[1][expected == 255] == 255).all()
    assert profile["nodata"] == 255
    assert json.loads(tags["GEOTILE_CLASS_NAMES"]) == ["background", "house"]
    (summary,) = json.loads(result.stdout)["masks"]
    assert summary["ignored_pixels"] == int((expected == 255).sum())
    (tmp_path / "map.json").write_text(json.dumps({"house": 1, "__ignore__": 2}))
    result = run_cli("make-masks", tmp_path / "labels", image, "-o", tmp_path / "c.tif",
                     "--class-map", tmp_path / "map.json")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "c.tif")[0][0],
                                  np.where(expected == 255, 2, expected))


def test_one_file_for_one_image_resume_and_workers(tmp_path, run_cli):
    """LABELS may be one Labelme file for its one IMAGE; --resume skips a mask whose JSON is
    unchanged and redoes one whose JSON changed; --workers makes the same masks."""
    _labelme(tmp_path / "labels" / "a.json", [_shape("house", HOUSE)])
    _labelme(tmp_path / "labels" / "b.json", [_shape("house", CAR_BOX, "rectangle")])
    images = [_png(tmp_path / "images" / "a.png"), _png(tmp_path / "images" / "b.png")]
    result = run_cli("make-masks", tmp_path / "labels" / "a.json", images[0], "-o",
                     tmp_path / "one.tif")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "one.tif")[0][0], _polygon(HOUSE))
    out = tmp_path / "masks"
    assert run_cli("make-masks", tmp_path / "labels", *images, "-o", out).exit_code == 0
    _labelme(tmp_path / "labels" / "b.json", [_shape("house", TREE_ON_HOUSE)])
    result = run_cli("make-masks", tmp_path / "labels", *images, "-o", out, "--resume",
                     "--json")
    assert result.exit_code == 0, result.output
    first, second = json.loads(result.stdout)["masks"]
    assert first.get("skipped") and not second.get("skipped")
    np.testing.assert_array_equal(_read(out / "b.tif")[0][0], _polygon(TREE_ON_HOUSE))
    result = run_cli("make-masks", tmp_path / "labels", *images, "-o", tmp_path / "w",
                     "--workers", "2")
    assert result.exit_code == 0, result.output
    for name in ("a.tif", "b.tif"):
        np.testing.assert_array_equal(_read(tmp_path / "w" / name)[0], _read(out / name)[0])


def test_json_beside_its_images(tmp_path, run_cli):
    """Labelme's own layout, each JSON beside its image in one folder."""
    _labelme(tmp_path / "data" / "a.json", [_shape("house", HOUSE)], image_path="a.png")
    image = _png(tmp_path / "data" / "a.png")
    result = run_cli("make-masks", tmp_path / "data", image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "m.tif")[0][0], _polygon(HOUSE))


def _refused(tmp_path, run_cli, shapes, *fragments, options=(), width=W, height=H):
    """make-masks of a.png (``shapes``) and b.png (one good polygon): refused in one line,
    no mask written."""
    _labelme(tmp_path / "labels" / "a.json", shapes, width=width, height=height)
    _labelme(tmp_path / "labels" / "b.json", [_shape("house", HOUSE)])
    images = [_png(tmp_path / "images" / "b.png"), _png(tmp_path / "images" / "a.png")]
    result = run_cli("make-masks", tmp_path / "labels", *images, "-o",
                     f"{tmp_path / 'out'}/", *options)
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("shape, fragments", [
    (_shape("a", [[1, 1], [5, 5]]), ("a.json", "shapes[1]", "polygon", "3 points")),
    (_shape("a", [[1, 1], [5, 5], [1, 5]] * 333_334),
     ("shapes[1]", "1,000,002 points", "at most 1,000,000")),
    (_shape("a", [[1, 1], [5, 5], [1, 5]], "rectangle"), ("shapes[1]", "rectangle", "2 points")),
    (_shape("a", [[1, 1]], "circle"), ("shapes[1]", "circle", "2 points")),
    (_shape("a", [[1, 1], [5, 5]], "oriented_rectangle"), ("oriented_rectangle", "4 points")),
    (_shape("a", [[1, 1], [5, "x"], [1, 5]]), ("shapes[1]", "[x, y]")),
    (_shape("a", [[1, 1], [5, float("nan")], [1, 5]]), ("shapes[1]", "finite")),
    # past 2**24 px: GDAL burnt a polygon reaching 1e12 px as 12 of its 108 pixels, exit 0
    (_shape("a", [[2, 2], [1e12, 5], [2, 8]]), ("shapes[1]", "16777216 px")),
    (_shape("a", [[2, 2], [-3e7, 9]], "rectangle"), ("shapes[1]", "16777216 px")),
    (_shape("a", [[3e7, 2], [3e7 + 4, 2]], "circle"), ("shapes[1]", "centred 3e+07 px out")),
    (_shape("", [[1, 1], [5, 5], [1, 5]]), ("shapes[1]", "label")),
    (_shape("a", [[1, 1], [5, 5], [1, 5]], "cuboid"), ("shapes[1]", "'cuboid'")),
    (_shape("a", [[1, 1], [5, 5]], "mask"), ("shapes[1]", "mask", "no PNG")),
    ({**_shape("a", [[1, 1], [5, 5]], "mask"), "mask": "bm90IGEgUE5H"},
     ("shapes[1]", "mask", "PNG")),
    ({**_shape("a", [[1, 1], [5, 5]], "mask"),
      "mask": _png_b64(np.ones((3, 3, 3), np.uint8))}, ("shapes[1]", "one-band")),
])
def test_broken_shapes_are_refused(tmp_path, run_cli, shape, fragments):
    _refused(tmp_path, run_cli, [_shape("house", HOUSE), shape], *fragments)


def test_a_size_other_than_the_image_is_refused(tmp_path, run_cli):
    _refused(tmp_path, run_cli, [_shape("house", HOUSE)], "a.png", "a.json", "60x40",
             "64x48", width=64, height=48)


def test_without_its_size_the_embedded_image_gives_it(tmp_path, run_cli):
    """A file without imageHeight and imageWidth (Labelme before 3.x): the size of the
    image it embeds (imageData) is checked instead."""
    embedded = _png_b64(np.zeros((48, 64), np.uint8))
    document = _labelme(tmp_path / "labels" / "a.json", [_shape("house", HOUSE)])
    document.update(imageHeight=None, imageWidth=None, imageData=embedded)
    (tmp_path / "labels" / "a.json").write_text(json.dumps(document))
    image = _png(tmp_path / "images" / "a.png")
    result = run_cli("make-masks", tmp_path / "labels", image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "a.png", "a.json", "60x40", "64x48", "imageData")
    assert not (tmp_path / "m.tif").exists()
    document.update(imageData=_png_b64(np.zeros((H, W), np.uint8)))
    (tmp_path / "labels" / "a.json").write_text(json.dumps(document))
    result = run_cli("make-masks", tmp_path / "labels", image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "m.tif")[0][0], _polygon(HOUSE))


@pytest.mark.parametrize("option", [("--class-field", "label"), ("--line-width", "2"),
                                    ("--labels-crs", "EPSG:4326"), ("--layer", "x"),
                                    ("--palette", "potsdam")])
def test_options_of_other_labels_are_refused(tmp_path, run_cli, option):
    _refused(tmp_path, run_cli, [_shape("house", HOUSE)], "Labelme", option[0],
             options=option)


def test_other_refusals(tmp_path, run_cli):
    # an image without its JSON: the label-folder rule (Labelme writes a JSON, shapes [],
    # for an image saved without shapes; none means not annotated)
    _labelme(tmp_path / "1" / "labels" / "a.json", [_shape("house", HOUSE)])
    images = [_png(tmp_path / "1" / "images" / "a.png"), _png(tmp_path / "1" / "images" /
                                                             "b.png")]
    result = run_cli("make-masks", tmp_path / "1" / "labels", *images, "-o",
                     tmp_path / "1" / "out")
    assert_one_line_error(result, "b.png", "b.json")
    assert not (tmp_path / "1" / "out").exists()
    # a broken JSON file of the run
    _labelme(tmp_path / "2" / "labels" / "a.json", [_shape("house", HOUSE)])
    (tmp_path / "2" / "labels" / "b.json").write_text('{"shapes": [')
    images = [_png(tmp_path / "2" / "images" / "a.png"), _png(tmp_path / "2" / "images" /
                                                             "b.png")]
    result = run_cli("make-masks", tmp_path / "2" / "labels", *images, "-o",
                     tmp_path / "2" / "out")
    assert_one_line_error(result, "b.json", "JSON")
    assert not (tmp_path / "2" / "out").exists()
    # another kind of JSON paired with an image of a Labelme run
    (tmp_path / "2" / "labels" / "b.json").write_text(json.dumps(
        {"type": "FeatureCollection", "features": []}))
    result = run_cli("make-masks", tmp_path / "2" / "labels", *images, "-o",
                     tmp_path / "2" / "out")
    assert_one_line_error(result, "b.json", "not a Labelme")
    assert not (tmp_path / "2" / "out").exists()
    # one Labelme file for two images
    result = run_cli("make-masks", tmp_path / "2" / "labels" / "a.json", *images, "-o",
                     tmp_path / "2" / "out")
    assert_one_line_error(result, "a.json", "one image")
    assert not (tmp_path / "2" / "out").exists()
    # --class-map without a name the labels hold
    (tmp_path / "map.json").write_text(json.dumps({"car": 1}))
    result = run_cli("make-masks", tmp_path / "2" / "labels" / "a.json", images[0], "-o",
                     tmp_path / "2" / "out.tif", "--class-map", tmp_path / "map.json")
    assert_one_line_error(result, "house")
    assert not (tmp_path / "2" / "out.tif").exists()


def test_a_photo_turned_by_exif_is_refused(tmp_path, run_cli):
    """Labelme shows (and labels) a JPEG turned by its EXIF orientation: the shapes are on
    that view, not on the stored pixels GDAL reads."""
    folder = tmp_path / "images"
    turned_jpeg(folder / "a.jpg", W, H)
    _labelme(tmp_path / "labels" / "a.json", [_shape("house", HOUSE)], width=H, height=W)
    result = run_cli("make-masks", tmp_path / "labels", folder / "a.jpg", "-o",
                     tmp_path / "m.tif")
    assert_one_line_error(result, "a.jpg", "EXIF orientation (6)", "a.json")
    assert not (tmp_path / "m.tif").exists()


def test_other_commands_say_make_masks_takes_labelme(tmp_path, run_cli):
    _labelme(tmp_path / "labels" / "a.json", [_shape("house", HOUSE)])
    image = write_raster(tmp_path / "img.tif", np.ones((1, H, W), np.uint8))
    result = run_cli("tile", image, "--labels", tmp_path / "labels" / "a.json", "-o",
                     tmp_path / "p", "--size", "16")
    assert_one_line_error(result, "a.json", "Labelme", "make-masks")


def test_a_stray_labelme_file_makes_no_labelme_run(tmp_path, run_cli):
    """A Labelme file that pairs with no IMAGE, beside the xBD files of the images, is left
    alone: the run is xBD's."""
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "a.json").write_text(json.dumps({"features": {"xy": [
        {"wkt": "POLYGON ((5.2 4.3, 25.7 5.1, 22.4 20.6, 6.1 18.2, 5.2 4.3))",
         "properties": {"feature_type": "building"}}]}}))
    _labelme(tmp_path / "labels" / "z.json", [_shape("house", TREE_ON_HOUSE)])
    image = _png(tmp_path / "images" / "a.png")
    result = run_cli("make-masks", tmp_path / "labels", image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "m.tif")[0][0], _polygon(HOUSE))


BIG = 10 ** 400  # an integer JSON reads, past any float


@pytest.mark.parametrize("shape, fragments", [
    (_shape("house", [[BIG, 1], [10, 1], [10, 10]]), ("a.json: shapes[0]", "finite")),
    (_shape("tank", [[10, 10], [1e200, 10]], "circle"), ("a.json: shapes[0]", "radius")),
    (_shape("tank", [[10, 10], [1e12, 10]], "circle"), ("a.json: shapes[0]", "radius")),
    (_shape("house", HOUSE, ["polygon"]), ("a.json: shapes[0]", "shape_type")),
])
def test_hostile_shapes_are_refused_in_one_line(tmp_path, run_cli, shape, fragments):
    """A point past any float (10**400) was an OverflowError traceback, a circle of radius
    1e200 another, one of radius 1e12 'not enough memory (14.6 TiB) ... lower
    --boundary-width', a shape_type list a TypeError (unhashable) traceback."""
    _refused(tmp_path, run_cli, [shape], *fragments)


def test_hostile_files_are_refused_in_one_line(tmp_path, run_cli):
    """JSON nested 100,000 deep was a RecursionError traceback, an imageWidth of 10**400
    an OverflowError traceback."""
    _refused(tmp_path / "1", run_cli, [_shape("house", HOUSE)], "a.json", "imageWidth",
             width=BIG)
    folder = tmp_path / "2"
    _labelme(folder / "labels" / "a.json", [_shape("house", HOUSE)])
    (folder / "labels" / "a.json").write_text(
        '{"shapes": [], "imagePath": "a.png", "x": ' + "[" * 100000 + "]" * 100000 + "}")
    image = _png(folder / "images" / "a.png")
    result = run_cli("make-masks", folder / "labels" / "a.json", image, "-o", folder / "m.tif")
    assert_one_line_error(result, "a.json")
    assert not (folder / "m.tif").exists()


def test_a_shape_without_shape_type_is_a_polygon(tmp_path, run_cli):
    """Labelme's shape_to_mask reads a shape with no shape_type (null, or none given) as
    a polygon: burnt as one, not refused."""
    bare = {"label": "house", "points": HOUSE}
    null = {**_shape("tree", TREE_ON_HOUSE), "shape_type": None}
    _labelme(tmp_path / "labels" / "a.json", [bare, null])
    image = _png(tmp_path / "images" / "a.png")
    result = run_cli("make-masks", tmp_path / "labels", image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    expected = np.zeros((H, W), np.uint8)
    expected[_polygon(HOUSE)] = 1
    expected[_polygon(TREE_ON_HOUSE)] = 2
    np.testing.assert_array_equal(_read(tmp_path / "m.tif")[0][0], expected)


def test_a_mask_at_a_fractional_first_point_starts_at_its_whole_pixel(tmp_path, run_cli):
    """Labelme places a mask shape by its first point as whole pixels (astype(int): the
    pixel the point lies in): (10.7, 2.6) puts the PNG's top-left pixel at (10, 2), not
    rounded to (11, 3)."""
    h, w = MASK.shape
    _labelme(tmp_path / "labels" / "a.json",
             [_shape("a", [[10.7, 2.6], [10.7 + w - 1, 2.6 + h - 1]], "mask", mask=MASK)])
    image = _png(tmp_path / "images" / "a.png")
    result = run_cli("make-masks", tmp_path / "labels", image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "m.tif")[0][0],
                                  _mask_pixels((10, 2)).astype(np.uint8))


def test_a_turned_photo_without_shapes_is_checked_against_its_turned_size(tmp_path, run_cli):
    """A JPEG turned a quarter by EXIF (orientation 6) is labelled in its turned view, so a
    Labelme file of it without shapes (a negative image) gives its size turned (H x W):
    accepted, all background; the stored size (W x H) is another image, refused."""
    folder = tmp_path / "images"
    turned_jpeg(folder / "a.jpg", W, H)
    _labelme(tmp_path / "labels" / "a.json", [], width=H, height=W)
    result = run_cli("make-masks", tmp_path / "labels", folder / "a.jpg", "-o",
                     tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    assert not _read(tmp_path / "m.tif")[0].any()
    _labelme(tmp_path / "labels" / "a.json", [], width=W, height=H)
    result = run_cli("make-masks", tmp_path / "labels", folder / "a.jpg", "-o",
                     tmp_path / "m2.tif")
    assert_one_line_error(result, "a.jpg", "a.json", f"{W}x{H}")
    assert not (tmp_path / "m2.tif").exists()


def test_the_summary_line_says_ignored_pixels_are_ignore_shapes(tmp_path, run_cli):
    """make-masks' summary line called a Labelme mask's ignored pixels 'nodata in the image'
    when they were its __ignore__ shapes (the image has no nodata)."""
    _labelme(tmp_path / "labels" / "a.json", [
        _shape("house", HOUSE), _shape("__ignore__", [[10.2, 8.3], [40.7, 16.6]], "rectangle")])
    image = _png(tmp_path / "images" / "a.png")
    result = run_cli("make-masks", tmp_path / "labels", image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    assert "ignored (__ignore__ shapes or nodata in the image)" in result.stdout, result.stdout


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig", "utf-16-le"])
def test_a_labelme_file_saved_as_utf16_or_with_a_bom_is_read(tmp_path, run_cli, encoding):
    """A Labelme file re-saved as UTF-16 (with its byte-order mark) or UTF-8 with a BOM is
    recognised by its start and read, as one in UTF-8."""
    path = tmp_path / "labels" / "a.json"
    _labelme(path, [_shape("house", HOUSE)])
    text = path.read_text()
    path.write_bytes(("\ufeff" + text).encode(encoding) if encoding == "utf-16-le"
                     else text.encode(encoding))
    image = _png(tmp_path / "images" / "a.png")
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "m.tif")[0][0], _polygon(HOUSE))


@pytest.mark.parametrize("command", ["make-masks", "evaluate"])
def test_a_labelme_file_in_a_windows_code_page_is_refused_saying_so(tmp_path, run_cli,
                                                                    command):
    """Labelme before 4.5 saved its JSON in Windows' code page (cp1252: 'Straße' as one
    byte 0xDF; wkentaro/labelme#299). Such a file, not UTF-8, was read as GeoJSON and
    refused in two lines, a Latin-1 warning then "Labelme shapes ...: make-masks takes
    them; give vector labels here", under make-masks itself; now one line says it is not
    UTF-8 and how to convert it, and nothing is written."""
    path = tmp_path / "labels" / "a.json"
    document = _labelme(path, [_shape("Straße", HOUSE)])
    path.write_bytes(json.dumps(document, ensure_ascii=False).encode("cp1252"))
    assert b"Stra\xdfe" in path.read_bytes()
    image = _png(tmp_path / "images" / "a.png")
    out = tmp_path / "m.tif"
    args = ([path, image, "-o", out] if command == "make-masks" else [image, path])
    result = run_cli(command, *args)
    assert_one_line_error(result, "a.json", "Labelme", "not UTF-8", "iconv")
    assert "make-masks takes" not in result.stderr
    assert not out.exists()


def test_a_mask_reaching_far_past_the_image_is_refused_before_it_is_decoded(tmp_path,
                                                                           run_cli):
    """A mask PNG far larger than its image (one of 20000x20000 px on a 50x40 image took
    1.2 GB) is refused by the size its header declares; one row and column past the edge,
    as Labelme 5.4-5.5 stored them, is taken (test_masks_of_every_labelme_version_...)."""
    big = np.zeros((3000, 2000), np.uint8)
    big[0, 0] = 1
    _refused(tmp_path, run_cli, [_shape("a", [[1, 1], [5, 5]], "mask", mask=big)],
             "a.json", "shapes[0]", "2000x3000", "60x40")
    _refused(tmp_path / "2", run_cli,
             [_shape("a", [[W - 2, H - 2], [W, H]], "mask", mask=np.ones((4, 4), np.uint8))],
             "shapes[0]", "4x4", f"({W - 2}, {H - 2})")


def test_labels_that_are_numbers_are_their_ids_as_the_help_says(tmp_path, run_cli):
    """Labels "1" and "3" (a dataset's class ids) are ids 1 and 3, as a class field of
    numbers is, and make-masks --help's Labelme paragraph says so."""
    _labelme(tmp_path / "labels" / "a.json", [_shape("1", HOUSE), _shape("3", CAR_BOX,
                                                                         "rectangle")])
    image = _png(tmp_path / "images" / "a.png")
    result = run_cli("make-masks", tmp_path / "labels", image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    expected = np.where(_rectangle(CAR_BOX), 3, np.where(_polygon(HOUSE), 1, 0))
    np.testing.assert_array_equal(_read(tmp_path / "m.tif")[0][0], expected)
    text = " ".join(run_cli("make-masks", "--help").output.split())
    assert 'labels that read as numbers ("1", "3") are those ids' in text


def _least_on_each_pixel(cx, cy, rx, ry, theta, size):
    """For each pixel's square, the least of ((u / rx)^2 + (v / ry)^2) over it (u, v: the
    offset from the centre along the turned axes): <= 1 iff the ellipse meets the square.
    The quadratic is convex: 0 with the centre in the square, else its least on an edge,
    where it is a parabola minimised at its vertex clamped to the edge."""
    c, s = math.cos(theta), math.sin(theta)
    a = c * c / rx**2 + s * s / ry**2
    cc = s * s / rx**2 + c * c / ry**2
    b = 2 * c * s * (1 / rx**2 - 1 / ry**2)
    rows, cols = np.mgrid[0:size, 0:size].astype(float)
    x0, x1, y0, y1 = cols - cx, cols + 1 - cx, rows - cy, rows + 1 - cy
    least = np.full(rows.shape, np.inf)
    for dx in (x0, x1):
        dy = np.clip(-b * dx / (2 * cc), y0, y1)
        least = np.minimum(least, a * dx * dx + b * dx * dy + cc * dy * dy)
    for dy in (y0, y1):
        dx = np.clip(-b * dy / (2 * a), x0, x1)
        least = np.minimum(least, a * dx * dx + b * dx * dy + cc * dy * dy)
    return np.where((x0 <= 0) & (x1 >= 0) & (y0 <= 0) & (y1 >= 0), 0.0, least)


def test_all_touched_ellipses_burn_the_pixels_they_meet():
    """--all-touched burns the pixels whose square the ellipse meets, computed analytically,
    for sub-pixel ellipses (no pixel centre inside: only the inscribed polygon burns) and
    large ones (the inscribed polygon's sides within 0.01 px of the outline); pixels the
    outline grazes within that tolerance are not judged."""
    from geotile.labelme_labels import ellipse

    size = 40
    rng = np.random.default_rng(11)
    cases = [(20.3, 20.6, 0.2, 0.3, 0.4), (20.0, 20.0, 0.4, 0.1, 0.0), (19.9, 20.5, 0.7, 0.3, 1.1),
             (20.5, 20.5, 0.45, 0.45, 0.0), (20.2, 19.7, 15.3, 11.1, 0.3)]
    while len(cases) < 150:
        rx, ry = rng.uniform(0.1, 1.0 if len(cases) % 2 else 15.0, 2)
        if max(rx, ry) / min(rx, ry) <= 8:
            cases.append((*rng.uniform(17, 23, 2), rx, ry, rng.uniform(0, 2 * math.pi)))
    for cx, cy, rx, ry, theta in cases:
        least = _least_on_each_pixel(cx, cy, rx, ry, theta, size)
        sure = np.abs(least - 1) > 0.05 / min(rx, ry)
        touched = rasterize([ellipse(cx, cy, rx, ry, theta)], out_shape=(size, size),
                            all_touched=True).astype(bool)
        np.testing.assert_array_equal(touched[sure], (least <= 1)[sure],
                                      err_msg=f"{cx} {cy} {rx} {ry} {theta}")
        assert touched.any()


def test_all_touched_thin_ellipses_burn_no_pixel_they_miss():
    """Thin ellipses (axes 19 to 80 times as long as wide, at any angle, a few centres inside)
    burned with --all-touched a pixel beside the ellipse now and then (its centres' hull was
    grown by up to half a pixel, to the very edge of the next pixel): now no pixel whose
    square the ellipse misses (analytically, by over 0.01 px) burns, and each that it meets
    deeper than its outline's 0.01 px tolerance does."""
    from geotile.labelme_labels import ellipse

    size = 48
    rng = np.random.default_rng(19)
    for k in range(300):
        ry = rng.uniform(0.05, 1.2)
        rx = min(ry * rng.uniform(19, 80), 21)
        cx, cy = rng.uniform(22, 26, 2)
        theta = rng.uniform(0, 2 * math.pi)
        rx, ry = (ry, rx) if k % 2 else (rx, ry)
        least = _least_on_each_pixel(cx, cy, rx, ry, theta, size)
        touched = rasterize([ellipse(cx, cy, rx, ry, theta)], out_shape=(size, size),
                            all_touched=True).astype(bool)
        case = f"{cx} {cy} {rx} {ry} {theta}"
        # a square off the ellipse by over 0.01 px (GDAL's own fuzz) is off the ellipse
        # grown by 0.01 px and so off it scaled by 1 + 0.01 / its shorter half-axis
        assert not (touched & (least > (1 + 0.01 / min(rx, ry)) ** 2)).any(), case
        assert touched[(1 - least) * min(rx, ry) > 0.02].all(), case


def test_some_images_number_their_own_labels_evaluate_by_id_every_file_s(tmp_path, run_cli):
    """A folder of a (A), b (B), c (C): make-masks of c alone numbers the labels of its file
    (C 1, said so), not every file's (parsing a folder for one image would read every image
    Labelme embeds); evaluate of a prediction of c naming no classes (C's id 3 over the
    folder) scores it as make-masks over the whole folder then evaluate, IoU 1.0, saying
    so; one naming its classes scores by name, reading no other file, saying nothing."""
    folder = tmp_path / "labels"
    for name, label, x in (("a", "A", 0), ("b", "B", 10), ("c", "C", 20)):
        _labelme(folder / f"{name}.json", [_shape(label, [[x, 0], [x + 10, 10]], "rectangle")])
    images = [_png(tmp_path / "images" / f"{n}.png") for n in "abc"]
    full = run_cli("make-masks", folder, *images, "-o", f"{tmp_path / 'full'}/")
    assert full.exit_code == 0, full.output
    assert "class ids by name: 1 A, 2 B, 3 C (from the names the label files of these " \
        "images hold" in full.stdout
    one = run_cli("make-masks", folder, images[2], "-o", tmp_path / "c.tif")
    assert one.exit_code == 0, one.output
    assert "class ids by name: 1 C (from the names the label files of these images hold" \
        in one.stdout
    prediction = tmp_path / "pred" / "c.tif"
    prediction.parent.mkdir()
    pixels = np.zeros((H, W), np.uint8)
    pixels[0:10, 20:30] = 3
    with rasterio.open(prediction, "w", driver="GTiff", width=W, height=H, count=1,
                       dtype="uint8") as dst:
        dst.write(pixels[None])
    expected = run_cli("evaluate", prediction, tmp_path / "full" / "c.tif", "--json")
    expected = json.loads(expected.stdout)
    assert expected["classes"][3]["iou"] == 1.0
    for given in (prediction, prediction.parent):
        scored = run_cli("evaluate", given, folder, "--json")
        assert scored.exit_code == 0, scored.output
        assert json.loads(scored.stdout)["classes"] == expected["classes"]
        assert "c.tif names no classes: its ids are scored as make-masks numbers the labels " \
               f"of every file of {folder} (1 A, 2 B, 3 C), not those of the 1 file" in \
               scored.stderr
    named = tmp_path / "named" / "c.tif"
    named.parent.mkdir()
    named.write_bytes((tmp_path / "full" / "c.tif").read_bytes())
    (folder / "a.json").write_text("{broken")  # read only to number by id
    scored = run_cli("evaluate", named, folder, "--json")
    assert scored.exit_code == 0, scored.output
    by_name = {c["class"]: c["iou"] for c in json.loads(scored.stdout)["classes"]}
    assert by_name == {"background": 1.0, "C": 1.0, "A": None, "B": None}
    assert "names no classes" not in scored.stderr


def test_lon_lat_past_degrees_in_the_last_file_is_refused_before_any_mask(tmp_path, run_cli):
    """Three lon/lat images: the last file's shape lies so far out that its map coordinates
    are no degrees. The refusal comes before any mask is written (shapes are placed image by
    image as masks are made, but this is checked for every image first)."""
    from rasterio.transform import from_origin

    images = []
    (tmp_path / "images").mkdir()
    for i in range(3):
        images.append(write_raster(tmp_path / "images" / f"im{i}.tif",
                                   np.zeros((20, 20), np.uint8), crs="EPSG:4326",
                                   transform=from_origin(170, 10, 0.5, 0.5)))
        x = 5 if i < 2 else 900  # 900 px east of 170 deg: lon 620
        _labelme(tmp_path / "labels" / f"im{i}.json",
                 [_shape("a", [[x, 5], [x + 5, 5], [x + 5, 10]])], 20, 20)
    result = run_cli("make-masks", tmp_path / "labels", *images, "-o", f"{tmp_path / 'out'}/")
    assert_one_line_error(result, "im2.json", "not longitude/latitude")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
