"""make-masks with VGG Image Annotator (VIA) JSON as LABELS (geotile.via_labels): one file
of many images' regions (VIA 2.x export, project file, VIA 1.x), each IMAGE paired by file
name, regions in its pixels (origin at the top-left corner of the top-left pixel) burnt by
the pixel-centre rule on plain and georeferenced images; each shape, the class attribute,
and the refusals (one line, nothing written)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import rasterio
import shapely
from rasterio.features import rasterize

from tests.conftest import UTM_CRS, assert_one_line_error, write_raster
from tests.pixel_label_files import plain_png, read_mask, turned_jpeg
from tests.via_files import via3_project, via_csv

H, W = 40, 60
ROWS, COLS = np.mgrid[0:H, 0:W]
#: pixel centres
X, Y = COLS + 0.5, ROWS + 0.5

HOUSE = [[5.2, 4.3], [25.7, 5.1], [22.4, 20.6], [6.1, 18.2]]
TREE_ON_HOUSE = [[15.5, 10.5], [30.3, 10.1], [29.8, 16.6]]
CAR = (30, 22, 11, 8)  # x, y, width, height
TANK = (45.3, 10.2, 7.3)  # cx, cy, r
POND = (12.4, 30.1, 9.2, 4.3, 0.6)  # cx, cy, rx, ry, theta


def _polygon(points):
    return {"name": "polygon", "all_points_x": [p[0] for p in points],
            "all_points_y": [p[1] for p in points]}


def _rect(x, y, width, height):
    return {"name": "rect", "x": x, "y": y, "width": width, "height": height}


def _circle(cx, cy, r):
    return {"name": "circle", "cx": cx, "cy": cy, "r": r}


def _ellipse(cx, cy, rx, ry, theta=None):
    shape = {"name": "ellipse", "cx": cx, "cy": cy, "rx": rx, "ry": ry}
    return shape if theta is None else {**shape, "theta": theta}


def _region(shape, **attributes) -> dict:
    return {"shape_attributes": shape, "region_attributes": attributes}


def _entry(filename, regions, size=-1) -> dict:
    return {"filename": filename, "size": size, "regions": regions, "file_attributes": {}}


def _via(path, *entries, project=None):
    """A VIA 2.x export (``project``: the _via_attributes of a project file holding it)."""
    metadata = {f"{e['filename']}{e['size']}": e for e in entries}
    document = metadata if project is None else {
        "_via_settings": {"ui": {}, "core": {"buffer_size": 18}, "project": {"name": "p"}},
        "_via_img_metadata": metadata, "_via_attributes": project,
        "_via_data_format_version": "2.0.10", "_via_image_id_list": list(metadata)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    return path


def _png(path, width=W, height=H):
    return plain_png(path, width, height)


def _read(path):
    return read_mask(path, None)


def _in_polygon(points) -> np.ndarray:
    return shapely.contains_xy(shapely.Polygon(points), X, Y)


def _in_rect(x, y, width, height) -> np.ndarray:
    xs, ys = X, Y
    return (xs > x) & (xs < x + width) & (ys > y) & (ys < y + height)


def _in_circle(cx, cy, r) -> np.ndarray:
    return (X - cx) ** 2 + (Y - cy) ** 2 <= r * r


def _in_ellipse(cx, cy, rx, ry, theta, xs=X, ys=Y) -> np.ndarray:
    """The analytic rule: pixel centres inside or on the ellipse VIA draws (x = cx + rx
    cos t cos theta - ry sin t sin theta, y = cy + rx cos t sin theta + ry sin t cos theta)."""
    dx, dy = xs - cx, ys - cy
    u = dx * math.cos(theta) + dy * math.sin(theta)
    v = dy * math.cos(theta) - dx * math.sin(theta)
    return (u / rx) ** 2 + (v / ry) ** 2 <= 1


def _regions() -> list[dict]:
    return [
        _region(_polygon(HOUSE), kind="house"),
        _region(_polygon(TREE_ON_HOUSE), kind="tree"),  # later: on top of the house
        _region(_rect(*CAR), kind="car"),
        _region(_circle(*TANK), kind="tank"),
        _region(_ellipse(*POND), kind="pond"),
        _region({"name": "polyline", "all_points_x": [1, 50], "all_points_y": [1, 2]},
                kind="road"),
        _region({"name": "point", "cx": 33, "cy": 3}, kind="pole"),
    ]


def _expected() -> np.ndarray:
    """car 1, house 2, pond 3, tank 4, tree 5 (by name); later regions on top."""
    expected = np.zeros((H, W), np.uint8)
    expected[_in_polygon(HOUSE)] = 2
    expected[_in_polygon(TREE_ON_HOUSE)] = 5
    expected[_in_rect(*CAR)] = 1
    expected[_in_circle(*TANK)] = 4
    expected[_in_ellipse(*POND)] = 3
    return expected


def test_each_shape_pixel_exact_on_plain_pngs(tmp_path, run_cli):
    """A VIA 2.x export of two images and a negative one: polygon, rect, circle and rotated
    ellipse burnt by the pixel-centre rule, later regions on top; polyline and point left
    out with one warning counting them; classes 1..N by sorted name over the file; the
    entry without regions all background, said in the summary."""
    labels = _via(tmp_path / "via_region_data.json",
                  _entry("train/a.png", _regions()),
                  _entry("b.png", [_region(_rect(2, 3, 10, 10), kind="car")]),
                  _entry("c.png", []))
    images = [_png(tmp_path / "images" / f"{s}.png") for s in "abc"]
    result = run_cli("make-masks", labels, *images, "-o", tmp_path / "masks")
    assert result.exit_code == 0, result.output
    a, profile, tags, descriptions = _read(tmp_path / "masks" / "a.tif")
    np.testing.assert_array_equal(a[0], _expected())
    assert profile["transform"].is_identity and descriptions == ("class",)
    names = ["background", "car", "house", "pond", "tank", "tree"]
    assert json.loads(tags["GEOTILE_CLASS_NAMES"]) == names
    b, _, b_tags, _ = _read(tmp_path / "masks" / "b.tif")
    np.testing.assert_array_equal(b[0], np.where(_in_rect(2, 3, 10, 10), 1, 0))
    assert json.loads(b_tags["GEOTILE_CLASS_NAMES"]) == names
    assert not _read(tmp_path / "masks" / "c.tif")[0].any()
    left_out = [line for line in result.stderr.splitlines() if "left out" in line]
    assert len(left_out) == 1, result.stderr
    assert "2 polyline or point regions" in left_out[0] and "a.png regions[5]" in left_out[0]
    assert "1 of 3 images have no region to burn" in result.stdout
    assert "class ids by name: 1 car, 2 house, 3 pond, 4 tank, 5 tree" in result.stdout


def test_a_georeferenced_image_and_via_1_regions(tmp_path, run_cli):
    """VIA 1.x (regions an object {"0": ...}) on a GeoTIFF in a real CRS: the regions placed
    through its geotransform, the same pixels as on a plain image; -o one file."""
    regions = {str(i): r for i, r in enumerate(_regions())}
    labels = _via(tmp_path / "via.json", {"filename": "a.tif", "size": 1, "regions": regions,
                                          "file_attributes": {}})
    image = write_raster(tmp_path / "a.tif", np.ones((1, H, W), np.uint8), crs=UTM_CRS)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    bands, profile, _, _ = _read(tmp_path / "m.tif")
    np.testing.assert_array_equal(bands[0], _expected())
    with rasterio.open(image) as src:
        assert profile["transform"] == src.transform and profile["crs"] == src.crs


def test_ellipses_are_pixel_exact_against_the_analytic_centre_rule():
    """Ellipses of any size, turn and place burn exactly the pixels whose centre lies
    inside or on them; --all-touched burns them all too."""
    from geotile.labelme_labels import ellipse

    size = 120
    rows, cols = np.mgrid[0:size, 0:size]
    rng = np.random.default_rng(3)
    cases = [(60.5, 60.5, 5.0, 3.0, 0.0), (60.0, 60.0, 10.0, 4.0, math.pi / 2),
             (60.5, 60.5, 0.3, 7.0, 0.0), (59.5, 60.5, 40.0, 40.0, 1.0)]
    for _ in range(300):
        (cx, cy), (rx, ry) = rng.uniform(20, 100, 2), rng.uniform(0.2, 40, 2)
        cases.append((cx, cy, rx, ry, rng.uniform(-4, 4)))
    for cx, cy, rx, ry, theta in cases:
        shape = ellipse(cx, cy, rx, ry, theta)
        burnt = rasterize([shape], out_shape=(size, size)).astype(bool)
        analytic = _in_ellipse(cx, cy, rx, ry, theta, cols + 0.5, rows + 0.5)
        np.testing.assert_array_equal(burnt, analytic, err_msg=f"{cx} {cy} {rx} {ry} {theta}")
        touched = rasterize([shape], out_shape=(size, size), all_touched=True).astype(bool)
        assert (touched >= analytic).all()


def test_the_balloon_layout_is_one_class_named_object(tmp_path, run_cli):
    """Matterport's balloon dataset: region_attributes {}: every region one class,
    'object', said once; an ellipse without theta (VIA before 2.0.8) unturned; --class-map
    maps the name."""
    labels = _via(tmp_path / "via_region_data.json",
                  _entry("a.png", [_region(_polygon(HOUSE)), _region(_ellipse(*POND[:4]))]))
    image = _png(tmp_path / "a.png")
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif", "--json")
    assert result.exit_code == 0, result.output
    expected = _in_polygon(HOUSE) | _in_ellipse(*POND[:4], 0.0)
    bands, _, tags, descriptions = _read(tmp_path / "m.tif")
    np.testing.assert_array_equal(bands[0], expected)
    assert descriptions == ("footprint",)
    assert json.loads(tags["GEOTILE_CLASS_NAMES"]) == ["background", "object"]
    said = [line for line in result.stderr.splitlines() if "'object'" in line]
    assert len(said) == 1 and "2 regions" in said[0], result.stderr
    (tmp_path / "map.json").write_text(json.dumps({"object": 7}))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "c.tif", "--class-map",
                     tmp_path / "map.json")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "c.tif")[0][0], np.where(expected, 7, 0))


PROJECT = {"region": {
    "type": {"type": "dropdown", "options": {"building": "", "road": ""}, "default_options": {}},
    "tags": {"type": "checkbox", "options": {"roof": "", "tank": ""}, "default_options": {}},
    "note": {"type": "text", "default_value": ""}}, "file": {}}


def test_a_project_file_with_several_attributes_takes_class_field(tmp_path, run_cli):
    """A VIA 2.x project file whose regions have several attributes: refused without
    --class-field (listing them); --class-field type classes by the dropdown, --class-field
    tags by the one checked option; a region without it is 'object', said once."""
    labels = _via(tmp_path / "project.json", _entry("a.png", [
        _region(_polygon(HOUSE), type="building", tags={"roof": True}, note="x"),
        _region(_rect(*CAR), type="road", tags={"tank": True, "roof": False}),
        _region(_circle(*TANK), note="")]), project=PROJECT)
    image = _png(tmp_path / "a.png")
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "project.json", "'type', 'tags', 'note'", "--class-field")
    assert not (tmp_path / "m.tif").exists()
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "type.tif",
                     "--class-field", "type")
    assert result.exit_code == 0, result.output
    expected = np.zeros((H, W), np.uint8)
    expected[_in_polygon(HOUSE)] = 1
    expected[_in_rect(*CAR)] = 3
    expected[_in_circle(*TANK)] = 2
    bands, _, tags, _ = _read(tmp_path / "type.tif")
    np.testing.assert_array_equal(bands[0], expected)
    assert json.loads(tags["GEOTILE_CLASS_NAMES"]) == ["background", "building", "object",
                                                        "road"]
    assert "1 region with no 'type' value: class 'object'" in result.stderr
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "tags.tif",
                     "--class-field", "tags")
    assert result.exit_code == 0, result.output
    assert json.loads(_read(tmp_path / "tags.tif")[2]["GEOTILE_CLASS_NAMES"]) == [
        "background", "object", "roof", "tank"]
    # a region of another image naming two classes: refused only where that image is
    # masked, and no class of this run's
    labels = _via(tmp_path / "project.json", *json.loads(labels.read_text())[
        "_via_img_metadata"].values(), _entry("z.png", [_region(_rect(*CAR), tags={
            "roof": True, "tank": True})]), project=PROJECT)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "tags2.tif",
                     "--class-field", "tags")
    assert result.exit_code == 0, result.output
    again, before = _read(tmp_path / "tags2.tif"), _read(tmp_path / "tags.tif")
    np.testing.assert_array_equal(again[0], before[0])
    assert again[2]["GEOTILE_CLASS_NAMES"] == before[2]["GEOTILE_CLASS_NAMES"]
    result = run_cli("make-masks", labels, _png(tmp_path / "z.png"), "-o",
                     tmp_path / "z.tif", "--class-field", "tags")
    assert_one_line_error(result, "z.png regions[0]", "'roof', 'tank'", "one class")
    assert not (tmp_path / "z.tif").exists()
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "x.tif",
                     "--class-field", "kind")
    assert_one_line_error(result, "project.json", "'kind'", "'type', 'tags', 'note'")
    assert not (tmp_path / "x.tif").exists()


def _refused(tmp_path, run_cli, regions, *fragments, options=(), size=-1):
    """make-masks of b.png (one good polygon) and a.png (``regions``): refused in one line,
    no mask written."""
    labels = _via(tmp_path / "via.json", _entry("b.png", [_region(_polygon(HOUSE))]),
                  _entry("a.png", regions, size))
    images = [_png(tmp_path / "images" / "b.png"), _png(tmp_path / "images" / "a.png")]
    result = run_cli("make-masks", labels, *images, "-o", f"{tmp_path / 'out'}/", *options)
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    return result


BIG = 10 ** 400  # an integer JSON reads, past any float


@pytest.mark.parametrize("region, fragments", [
    (_region({"name": "polygon", "all_points_x": [1, 5], "all_points_y": [1, 5]}),
     ("via.json: a.png regions[0]", "3 points")),
    (_region({"name": "polygon", "all_points_x": [1, 5, 3], "all_points_y": [1, 5]}),
     ("regions[0]", "as many")),
    (_region(_polygon([[1, 1], [5, 5], [1, 5]] * 333_334)),
     ("regions[0]", "1,000,002 points", "at most 1,000,000")),
    (_region({"name": "rect", "x": 1, "y": "2", "width": 3, "height": 4}),
     ("regions[0]", "rect", "y '2'")),
    (_region(_polygon([[BIG, 1], [10, 1], [10, 10]])), ("regions[0]", "finite")),
    (_region(_circle(10, 10, 1e200)), ("regions[0]", "radius")),
    (_region(_ellipse(10, 10, 5, 1e12, 0.3)), ("regions[0]", "radius")),
    (_region({"name": ["polygon"]}), ("regions[0]", "shape ['polygon']")),
    (_region({"name": "cuboid"}), ("regions[0]", "'cuboid'", "rect, circle")),
    ("not a region", ("a.png regions[0]", "not an object")),
    (_region(_rect(*CAR), kind={"car": True, "bus": True}),
     ("a.png regions[0]", "'car', 'bus'", "one class")),
    (_region(_rect(*CAR), kind=["car"]), ("a.png regions[0]", "class name")),
    (_region(_rect(100, 50, 20, 10)), ("a.png", "regions[0]", "wholly outside", "60x40")),
    # past 2**24 px (GDAL burnt a polygon reaching 1e12 px as 12 of its 108 pixels, exit 0;
    # one reaching 1e300 was 'wholly outside' its image, shown in 300 digits)
    (_region(_polygon([[2, 2], [1e12, 5], [2, 8]])), ("a.png regions[0]", "16777216 px")),
    (_region(_polygon([[2, 2], [1e300, 5], [2, 8]])), ("a.png regions[0]", "16777216 px")),
    (_region(_rect(2, 2, 1e12, 6)), ("a.png regions[0]", "16777216 px")),
    (_region(_rect(-1e300, 2, 3, 6)), ("a.png regions[0]", "16777216 px")),
    (_region(_circle(3e7, 10, 5)), ("a.png regions[0]", "16777216 px")),
    (_region(_ellipse(10, -3e7, 5, 4, 0.3)), ("a.png regions[0]", "16777216 px")),
])
def test_broken_regions_are_refused(tmp_path, run_cli, region, fragments):
    _refused(tmp_path, run_cli, [region], *fragments)


def test_a_huge_circle_walks_the_image_s_rows_only(tmp_path, run_cli):
    """A circle of radius 1e6 px crossing the image (a circle of 1.6e7 px took 8 GB and
    minutes: every row of it was walked) is read in the memory of the image's rows, and
    burns the pixels whose centre lies inside or on it."""
    import tracemalloc

    from geotile.via_labels import read_via

    cx, cy, r = 30.3, 1e6 + 20.2, 1e6
    labels = _via(tmp_path / "via.json", _entry("a.png", [_region(_circle(cx, cy, r), c="a")]))
    image = _png(tmp_path / "a.png")
    tracemalloc.start()
    try:
        read_via(labels, [image])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, peak  # 2e6 rows of float64 arrays: over 16 MB each
    result = run_cli("make-masks", labels, image, "-o", f"{tmp_path / 'out'}/")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "out" / "a.tif")[0][0],
                                  _in_circle(cx, cy, r).astype(np.uint8))


def test_regions_reaching_2_24_px_burn_as_their_part_in_the_image(tmp_path, run_cli):
    """A polygon and a box reaching 2**24 px right of the image (GDAL burns such far
    coordinates right up to 2**31) burn the pixels whose centre they hold in it."""
    far = float(1 << 24)
    labels = _via(tmp_path / "via.json", _entry("a.png", [
        _region(_polygon([[2, 2], [far, 5], [2, 8]])), _region(_rect(3, 20, far - 3, 6))]))
    image = _png(tmp_path / "a.png")
    result = run_cli("make-masks", labels, image, "-o", f"{tmp_path / 'out'}/")
    assert result.exit_code == 0, result.output
    expected = (_in_polygon([[2, 2], [far, 5], [2, 8]])
                | _in_rect(3, 20, far - 3, 6)).astype(np.uint8)
    np.testing.assert_array_equal(_read(tmp_path / "out" / "a.tif")[0][0], expected)


def test_pairing_by_file_name(tmp_path, run_cli):
    """Entries by their file name, folders and URLs apart; two of one name told apart by
    their size (the file's bytes), else refused; an IMAGE the file does not list refused;
    an image of other bytes than the one annotated warned about."""
    a = _png(tmp_path / "x" / "a.png")
    other = _png(tmp_path / "y" / "a.png", 3 * W, 3 * H)
    size = a.stat().st_size
    assert other.stat().st_size != size
    labels = _via(tmp_path / "via.json",
                  _entry("https://example.org/data/a.png?dl=1", [_region(_polygon(HOUSE))],
                         size),
                  _entry("other\\a.png", [_region(_rect(*CAR))], other.stat().st_size + 1))
    result = run_cli("make-masks", labels, a, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "m.tif")[0][0], _in_polygon(HOUSE))
    assert "bytes" not in result.stderr
    result = run_cli("make-masks", labels, other, "-o", tmp_path / "o.tif")
    assert_one_line_error(result, "a.png", "2 entries", "size")
    assert not (tmp_path / "o.tif").exists()
    labels = _via(tmp_path / "one.json", _entry("a.png", [_region(_rect(*CAR))], 123))
    b = _png(tmp_path / "x" / "b.png")
    result = run_cli("make-masks", labels, a, b, "-o", tmp_path / "masks")
    assert_one_line_error(result, "b.png", "one.json", "'b.png'", "e.g. a.png")
    assert not (tmp_path / "masks").exists()
    result = run_cli("make-masks", labels, a, "-o", tmp_path / "w.tif")
    assert result.exit_code == 0, result.output
    said = [line for line in result.stderr.splitlines() if "bytes" in line]
    assert len(said) == 1 and f"{size} bytes" in said[0] and "123 bytes" in said[0]


def test_resume_and_workers_give_the_same_masks(tmp_path, run_cli):
    """--resume skips the masks of unchanged labels, --workers 2 writes the same bytes."""
    labels = _via(tmp_path / "via.json", _entry("a.png", _regions()),
                  _entry("b.png", [_region(_rect(2, 3, 10, 10), kind="car")]))
    images = [_png(tmp_path / "images" / f"{s}.png") for s in "ab"]
    out = tmp_path / "masks"
    assert run_cli("make-masks", labels, *images, "-o", out).exit_code == 0
    result = run_cli("make-masks", labels, *images, "-o", out, "--resume", "--json")
    assert result.exit_code == 0, result.output
    assert all(m.get("skipped") for m in json.loads(result.stdout)["masks"])
    result = run_cli("make-masks", labels, *images, "-o", tmp_path / "w", "--workers", "2")
    assert result.exit_code == 0, result.output
    for name in ("a.tif", "b.tif"):
        assert (tmp_path / "w" / name).read_bytes() == (out / name).read_bytes()


@pytest.mark.parametrize("option", [("--line-width", "2"), ("--labels-crs", "EPSG:4326"),
                                    ("--layer", "x"), ("--palette", "potsdam")])
def test_options_of_other_labels_are_refused(tmp_path, run_cli, option):
    _refused(tmp_path, run_cli, [_region(_polygon(HOUSE))], "VIA", option[0], options=option)


def test_other_refusals(tmp_path, run_cli):
    image = _png(tmp_path / "a.png")
    # JSON nested 100,000 deep
    (tmp_path / "deep.json").write_text('{"a.png": {"filename": "a.png", "regions": [], '
                                        '"x": ' + "[" * 100000 + "]" * 100000 + "}}")
    result = run_cli("make-masks", tmp_path / "deep.json", image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "deep.json")
    # regions of the wrong type
    _via(tmp_path / "bad.json", {"filename": "a.png", "size": 1, "regions": "x"})
    result = run_cli("make-masks", tmp_path / "bad.json", image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "bad.json", "a.png has regions 'x'")
    # a photo turned by EXIF: VIA's browser shows it turned
    turned_jpeg(tmp_path / "t.jpg", W, H)
    _via(tmp_path / "t.json", _entry("t.jpg", [_region(_polygon(HOUSE))]))
    result = run_cli("make-masks", tmp_path / "t.json", tmp_path / "t.jpg", "-o",
                     tmp_path / "m.tif")
    assert_one_line_error(result, "t.jpg", "EXIF orientation (6)", "VIA")
    assert not (tmp_path / "m.tif").exists()


def test_other_commands_say_make_masks_takes_via(tmp_path, run_cli):
    labels = _via(tmp_path / "via_region_data.json", _entry("a.png", [_region(
        _polygon(HOUSE))]))
    image = write_raster(tmp_path / "img.tif", np.ones((1, H, W), np.uint8))
    result = run_cli("tile", image, "--labels", labels, "-o", tmp_path / "p", "--size", "16")
    assert_one_line_error(result, "via_region_data.json", "VIA", "make-masks")


def test_class_values_empty_regions_and_unnamed_attributes(tmp_path, run_cli):
    """A class value is stripped (" car " is car), an attribute of no name (VIA skips it)
    is not a second class attribute, an empty region (VIA drops it on import) is skipped,
    a rect of negative width and height spans back from its corner; whole numbers are
    class ids (as other labels' numeric class fields)."""
    labels = _via(tmp_path / "via.json", _entry("a.png", [
        {},
        {"shape_attributes": _polygon(HOUSE), "region_attributes": {"kind": " car ", "": "x"}},
        _region(_rect(40, 30, -8, -6), kind="tree"),
    ]))
    result = run_cli("make-masks", labels, _png(tmp_path / "a.png"), "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    bands, _, tags, _ = _read(tmp_path / "m.tif")
    expected = np.zeros((H, W), np.uint8)
    expected[_in_polygon(HOUSE)] = 1
    expected[_in_rect(32, 24, 8, 6)] = 2
    np.testing.assert_array_equal(bands[0], expected)
    assert json.loads(tags["GEOTILE_CLASS_NAMES"]) == ["background", "car", "tree"]
    labels = _via(tmp_path / "ids.json", _entry("a.png", [_region(_rect(*CAR), kind=3)]))
    result = run_cli("make-masks", labels, tmp_path / "a.png", "-o", tmp_path / "i.tif")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "i.tif")[0][0],
                                  np.where(_in_rect(*CAR), 3, 0))


def test_two_attributes_without_class_field_and_twin_entries_are_refused(tmp_path, run_cli):
    """Regions of two attributes need --class-field; two entries of the image's name and
    its size cannot be told apart."""
    image = _png(tmp_path / "a.png")
    labels = _via(tmp_path / "two.json", _entry("a.png", [
        _region(_polygon(HOUSE), kind="house", note="old")]))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "two.json", "several attributes", "'kind', 'note'",
                          "--class-field")
    size = image.stat().st_size
    labels = _via(tmp_path / "twins.json", _entry("a.png", [_region(_polygon(HOUSE))], size),
                  _entry("copy/a.png", [_region(_rect(*CAR))], size))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "a.png", "twins.json", "2 entries", "size")
    assert not (tmp_path / "m.tif").exists()


def test_a_region_outside_is_named_by_its_place_after_regions_left_out(tmp_path, run_cli):
    """A region beside the image, touching its right edge (no area inside), is refused,
    named by its regions[] place though a polyline and an empty region come before it."""
    line = {"name": "polyline", "all_points_x": [1, 50], "all_points_y": [1, 2]}
    _refused(tmp_path, run_cli, [{}, _region(line), _region(_rect(W, 5, 10, 10))],
             "a.png regions[2]", "wholly outside", "60x40", "x 60..70")


def test_ids_are_the_file_s_whichever_images_are_masked(tmp_path, run_cli):
    """Entries a (building), b (road), c (tree): c masked alone takes tree's id over every
    region of the file (3), as all three masked; a project file declaring an option no
    region uses (apple) gives the same ids as its regions exported (no _via_attributes:
    VIA's export drops them), not one for each option."""
    entries = [_entry("a.png", [_region(_polygon(HOUSE), type="building")]),
               _entry("b.png", [_region(_rect(*CAR), type="road")]),
               _entry("c.png", [_region(_circle(*TANK), type="tree")])]
    options = {"apple": "", "building": "", "road": "", "tree": ""}
    project = {"region": {"type": {"type": "dropdown", "options": options,
                                   "default_options": {}}}, "file": {}}
    images = [_png(tmp_path / "i" / f"{n}.png") for n in "abc"]
    full = run_cli("make-masks", _via(tmp_path / "e.json", *entries), *images, "-o",
                   f"{tmp_path / 'full'}/")
    assert full.exit_code == 0, full.output
    assert "1 building, 2 road, 3 tree" in full.stdout
    for labels in (tmp_path / "e.json", _via(tmp_path / "p.json", *entries, project=project)):
        one = run_cli("make-masks", labels, images[2], "-o", tmp_path / f"{labels.stem}.tif")
        assert one.exit_code == 0, one.output
        assert "1 building, 2 road, 3 tree" in one.stdout
        mask = _read(tmp_path / f"{labels.stem}.tif")[0][0]
        np.testing.assert_array_equal(mask, _read(tmp_path / "full" / "c.tif")[0][0])
        assert set(np.unique(mask)) == {0, 3}


# VIA's CSV export and VIA 3 projects (geotile.via_csv, geotile.via3_project)

def _masks(run_cli, labels, images, out, *options):
    result = run_cli("make-masks", labels, *images, "-o", out, *options)
    assert result.exit_code == 0, result.output
    return result


def _same_masks(first, second):
    for a, b in zip(sorted(first.glob("*.tif")), sorted(second.glob("*.tif")), strict=True):
        assert a.name == b.name
        one, other = _read(a), _read(b)
        np.testing.assert_array_equal(one[0], other[0])
        assert one[2]["GEOTILE_CLASS_NAMES"] == other[2]["GEOTILE_CLASS_NAMES"]


def test_csv_export_masks_as_its_json(tmp_path, run_cli):
    """VIA 2's CSV export of the JSON of test_each_shape_pixel_exact_on_plain_pngs (a row
    per region, one of region_count 0 for c.png): the same masks, byte for byte in pixels
    and class names, the same warnings; VIA 1.0's '#filename' header too."""
    entries = [_entry("train/a.png", _regions()),
               _entry("b.png", [_region(_rect(2, 3, 10, 10), kind="car")]), _entry("c.png", [])]
    images = [_png(tmp_path / "images" / f"{s}.png") for s in "abc"]
    _masks(run_cli, _via(tmp_path / "via.json", *entries), images, tmp_path / "json")
    for name, header in (("via.csv", None), ("via1.csv", "#filename,file_size,file_attributes,"
                                             "region_count,region_id,region_shape_attributes,"
                                             "region_attributes")):
        labels = via_csv(tmp_path / name, *entries, **({"header": header} if header else {}))
        out = tmp_path / name.replace(".", "_")
        result = _masks(run_cli, labels, images, out)
        _same_masks(tmp_path / "json", out)
        np.testing.assert_array_equal(_read(out / "a.tif")[0][0], _expected())
        left_out = [line for line in result.stderr.splitlines() if "left out" in line]
        assert len(left_out) == 1 and "2 polyline or point regions" in left_out[0]
        assert "train/a.png row 7" in left_out[0], left_out
        assert "1 of 3 images have no region to burn" in result.stdout


def test_via3_project_masks_as_the_via2_json_of_its_regions(tmp_path, run_cli):
    """A VIA 3 project of each _VIA_RSHAPE: rectangle, circle, ellipse (no rotation in VIA
    3), polygon, extreme rectangle (the box of its 4 points), extreme circle (the circle
    through its 3 points), and point, line, polyline left out with one warning: the masks of
    VIA 2 JSON of the same regions; classes the select's option labels, not their ids."""
    regions = [_region(_polygon(HOUSE), kind="house"),
               _region(_polygon(TREE_ON_HOUSE), kind="tree"),
               _region(_rect(*CAR), kind="car"), _region(_circle(*TANK), kind="tank"),
               _region(_ellipse(*POND[:4], 0), kind="pond"),
               _region(_rect(3.5, 24.2, 7.1, 9.4), kind="car"),  # extreme rectangle
               _region(_circle(50, 30, 5), kind="tank"),  # extreme circle
               _region({"name": "point", "cx": 33, "cy": 3}, kind="pole"),
               _region({"name": "polyline", "all_points_x": [1, 50], "all_points_y": [1, 2]},
                       kind="road"),
               _region({"name": "polyline", "all_points_x": [1, 9, 20],
                        "all_points_y": [1, 2, 5]}, kind="road")]
    xy = [[7, *[v for p in HOUSE for v in p]], [7, *[v for p in TREE_ON_HOUSE for v in p]],
          [2, *CAR], [3, *TANK], [4, *POND[:4]],
          [8, 7.0, 24.2, 10.6, 29.0, 6.1, 33.6, 3.5, 28.8],
          [9, 55, 30, 50, 25, 45, 30], [1, 33, 3], [5, 1, 1, 50, 2], [6, 1, 1, 9, 2, 20, 5]]
    entries = [_entry("a.png", regions), _entry("b.png", [_region(_rect(2, 3, 10, 10),
                                                                  kind="car")]),
               _entry("c.png", [])]
    images = [_png(tmp_path / "images" / f"{s}.png") for s in "abc"]
    _masks(run_cli, _via(tmp_path / "via.json", *entries), images, tmp_path / "json")
    labels = via3_project(tmp_path / "project.json", *entries, xy={"a.png": xy})
    assert json.loads(labels.read_text())["attribute"]["1"]["options"]["0"] == "house"
    result = _masks(run_cli, labels, images, tmp_path / "via3")
    _same_masks(tmp_path / "json", tmp_path / "via3")
    a = _read(tmp_path / "via3" / "a.tif")[0][0]
    assert a[int(29.0)][int(7.0)] == 1 and a[30][54] == 4  # car box, tank circle
    left_out = [line for line in result.stderr.splitlines() if "left out" in line]
    assert len(left_out) == 1 and "3 polyline or point regions" in left_out[0]
    assert "a.png metadata 1_m7" in left_out[0], left_out
    assert "class ids by name: 1 car, 2 house, 3 pond, 4 tank, 5 tree" in result.stdout


@pytest.mark.parametrize("xy", [
    [9, 10 ** 400, 30, 50, 25, 45, 30],  # was an OverflowError traceback
    [9, 1e308, 1e308, -1e308, 25, 45, 30],  # was 'through points on one line'
])
def test_via3_extreme_circle_of_far_points_is_refused(tmp_path, run_cli, xy):
    labels = via3_project(tmp_path / "project.json",
                          _entry("a.png", [_region(_circle(50, 30, 5), kind="tank")]),
                          xy={"a.png": [xy]})
    out = tmp_path / "out"
    result = run_cli("make-masks", labels, _png(tmp_path / "a.png"), "-o", f"{out}/")
    assert_one_line_error(result, "project.json: metadata '1_m0'", "EXTREME_CIRCLE",
                          "not a finite number")
    assert not out.exists()


@pytest.mark.parametrize("change, fragments", [
    # each was a traceback: int(inf) an OverflowError, a dict type unhashable
    (lambda d: d["metadata"]["1_m0"].update(xy=[float("inf"), 1, 2, 3, 4]),
     ("a.png metadata 1_m0", "shape 'VIA 3 shape inf'")),
    (lambda d: d["file"]["1"].update(type={"a": 1}), ("file 'a.png' has type {'a': 1}",)),
])
def test_via3_broken_shape_ids_and_file_types_are_refused(tmp_path, run_cli, change,
                                                          fragments):
    labels = via3_project(tmp_path / "project.json",
                          _entry("a.png", [_region(_rect(*CAR), kind="car")]))
    document = json.loads(labels.read_text())
    change(document)
    labels.write_text(json.dumps(document))
    out = tmp_path / "out"
    result = run_cli("make-masks", labels, _png(tmp_path / "a.png"), "-o", f"{out}/")
    assert_one_line_error(result, "project.json", *fragments)
    assert not out.exists()


def test_via3_options_checkboxes_text_and_class_field(tmp_path, run_cli):
    """VIA 3 attributes by aname: a radio's option ids map to their labels (an empty label:
    the id, as VIA 3 imports VIA 2's options), a checkbox's one checked id to its label, a
    text attribute as written; a file's attribute (VIA's demo sets captions on regions) is
    no region attribute; --class-field picks one; unknown option ids refused."""
    entries = [_entry("a.png", [_region(_polygon(HOUSE), kind="h"),
                                _region(_rect(*CAR), kind="c")])]
    labels = via3_project(tmp_path / "p.json", *entries)
    document = json.loads(labels.read_text())
    document["attribute"]["1"].update(type=3, options={"h": "", "c": "Car"})
    document["attribute"]["2"] = {"aname": "tags", "anchor_id": "FILE1_Z0_XY1", "type": 2,
                                  "options": {"0": "roof", "1": "tank"}}
    document["attribute"]["3"] = {"aname": "note", "anchor_id": "FILE1_Z0_XY1", "type": 1}
    document["attribute"]["4"] = {"aname": "caption", "anchor_id": "FILE1_Z0_XY0", "type": 1}
    document["metadata"]["1_m0"]["av"] = {"1": "h", "2": "1", "3": "old", "4": "a file's"}
    document["metadata"]["1_m1"]["av"] = {"1": "c", "2": "", "3": "new"}
    labels.write_text(json.dumps(document))
    image = _png(tmp_path / "a.png")
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "p.json", "several attributes ('kind', 'tags', 'note')",
                          "--class-field")
    for field, names in (("kind", ["Car", "h"]), ("tags", ["object", "tank"]),
                         ("note", ["new", "old"])):
        _masks(run_cli, labels, [image], tmp_path / f"{field}.tif", "--class-field", field)
        found = json.loads(_read(tmp_path / f"{field}.tif")[2]["GEOTILE_CLASS_NAMES"])
        assert found == ["background", *names]
    document["metadata"]["1_m1"]["av"]["1"] = "x"
    labels.write_text(json.dumps(document))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "x.tif", "--class-field",
                     "kind")
    assert_one_line_error(result, "p.json", "metadata '1_m1'", "'x'", "'h', 'c'")


def test_csv_and_via3_on_a_utm_image_and_twin_names_by_csv_file_size(tmp_path, run_cli):
    """A GeoTIFF in UTM: CSV and VIA 3 regions placed through its geotransform, the pixels
    of the VIA 2 JSON's; two CSV images of one name told apart by file_size."""
    (tmp_path / "x").mkdir()
    image = write_raster(tmp_path / "x" / "a.tif", np.ones((1, H, W), np.uint8), crs=UTM_CRS)
    size = image.stat().st_size
    regions = [r for r in _regions() if r["shape_attributes"]["name"] != "ellipse"]
    entries = [_entry("x/a.tif", regions, size),
               _entry("y/a.tif", [_region(_rect(1, 1, 50, 30), kind="car")], size + 1)]
    for name, labels in (("json", _via(tmp_path / "via.json", *entries)),
                         ("csv", via_csv(tmp_path / "via.csv", *entries)),
                         ("via3", via3_project(tmp_path / "p.json", *entries[:1]))):
        _masks(run_cli, labels, [image], tmp_path / f"{name}.tif")
        bands, profile, _, _ = _read(tmp_path / f"{name}.tif")
        np.testing.assert_array_equal(bands[0], _read(tmp_path / "json.tif")[0][0])
        with rasterio.open(image) as src:
            assert profile["transform"] == src.transform and profile["crs"] == src.crs
    assert set(np.unique(_read(tmp_path / "csv.tif")[0][0])) == {0, 1, 2, 3, 4}  # x/a.tif


def test_evaluate_takes_csv_and_via3_truth_as_its_json(tmp_path, run_cli):
    """evaluate PREDICTION TRUTH: the scores of the VIA 2 JSON's, for its CSV export and a
    VIA 3 project of the same regions; --class-field passes through."""
    regions = [_region(_polygon(HOUSE), kind="house", note="a"),
               _region(_rect(*CAR), kind="car", note="b"),
               _region(_circle(*TANK), kind="tank", note="c")]
    entries = [_entry("a.png", regions)]
    image = _png(tmp_path / "a.png")
    truths = {"json": _via(tmp_path / "via.json", *entries),
              "csv": via_csv(tmp_path / "via.csv", *entries),
              "via3": via3_project(tmp_path / "p.json", *entries)}
    prediction = np.zeros((H, W), np.uint8)
    prediction[5:20, 5:25] = 2
    prediction[22:30, 30:41] = 1
    pred = write_raster(tmp_path / "a_classes.tif", prediction[None])
    scores = {}
    for name, truth in truths.items():
        result = run_cli("evaluate", pred, truth, "--class-field", "kind", "--json")
        assert result.exit_code == 0, result.output
        scores[name] = json.loads(result.stdout)
        result = run_cli("evaluate", pred, truth, "--json")
        assert_one_line_error(result, truth.name, "--class-field")
    assert scores["csv"]["classes"] == scores["json"]["classes"] == scores["via3"]["classes"]
    assert scores["json"]["classes"][1]["class"] == "car"
    assert scores["json"]["classes"][1]["iou"] == 1.0
    del image


@pytest.mark.parametrize("rows, fragments", [
    (['a.png,12,"{}",1,0,"{""name"":""rect""}"'], ("row 2", "6 cells", "7")),
    (['a.png,x,"{}",1,0,"{}","{}"'], ("row 2", "file_size 'x'")),
    (['a.png,12,"{}",1,0,"{""name"":""rect"",}","{}"'], ("row 2", "region_shape_attributes",
                                                         "JSON object")),
    (['a.png,12,"{}",1,0,"[1]","{}"'], ("row 2", "not a JSON object")),
    (['b.png,12,"{}",0,0,"{}","{}"', 'a.png,12,"{}",1,0,"{""name"":""rect"",""x"":1}","{}"'],
     ("via.csv: a.png row 3", "rect")),
    (['a.png,12,"{}",1,0,"{""name"":""cuboid""}","{}"'], ("a.png row 2", "'cuboid'")),
    (['a,b.png,12,"{}",1,0,"{}","{}"'], ("row 2", "8 cells", "comma")),
])
def test_malformed_csv_rows_are_refused(tmp_path, run_cli, rows, fragments):
    header = ("filename,file_size,file_attributes,region_count,region_id,"
              "region_shape_attributes,region_attributes")
    (tmp_path / "via.csv").write_text("\n".join([header, *rows]))
    result = run_cli("make-masks", tmp_path / "via.csv", _png(tmp_path / "a.png"), "-o",
                     tmp_path / "m.tif")
    assert_one_line_error(result, "via.csv", *fragments)
    assert not (tmp_path / "m.tif").exists()


def _project(tmp_path, change):
    labels = via3_project(tmp_path / "p.json", _entry("a.png", [_region(_rect(*CAR))]),
                          _entry("b.png", [_region(_polygon(HOUSE))]))
    document = json.loads(labels.read_text())
    change(document)
    labels.write_text(json.dumps(document))
    return labels


@pytest.mark.parametrize("change, fragments", [
    (lambda d: d["file"].update({"9": {"fid": 9, "fname": "v.mp4", "type": 4, "loc": 1,
                                       "src": ""}}), ("'v.mp4'", "a video", "images only")),
    (lambda d: d["file"]["2"].update(type=8), ("'b.png'", "audio")),
    (lambda d: d["metadata"]["1_m0"].update(z=[1.5, 2.0]),
     ("metadata '1_m0'", "temporal", "z []")),
    (lambda d: (d["view"].update({"3": {"fid_list": [1, 2]}}),
                d["metadata"].update({"3_m": {"vid": "3", "z": [], "xy": [2, 1, 1, 5, 5],
                                              "av": {}}})),
     ("metadata '3_m'", "2 files", "one file's view")),
    (lambda d: d["metadata"]["1_m0"].update(xy=[2, 1, 2, 3]), ("metadata '1_m0'",
                                                               "RECTANGLE", "4")),
    (lambda d: d["metadata"]["1_m0"].update(xy=[7, 1, 2, 3, 4, 5]), ("POLYGON", "even")),
    (lambda d: d["metadata"]["1_m0"].update(xy=[9, 1, 1, 2, 2, 3, 3]), ("one line",)),
    (lambda d: d["metadata"]["1_m0"].update(xy=[12, 1, 1]), ("a.png metadata 1_m0",
                                                             "VIA 3 shape 12")),
    (lambda d: d["metadata"]["1_m0"].update(vid="7"), ("metadata '1_m0'", "view '7'")),
    (lambda d: d["metadata"]["1_m0"].update(av={"5": "x"}), ("attribute '5'",)),
])
def test_via3_refusals(tmp_path, run_cli, change, fragments):
    """Video and audio files, video frames' regions and temporal segments (z), a region on
    a view of several files, xy not as VIA 3 writes each shape: one line, nothing written."""
    labels = _project(tmp_path, change)
    result = run_cli("make-masks", labels, _png(tmp_path / "a.png"), "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "p.json", *fragments)
    assert not (tmp_path / "m.tif").exists()


def test_a_group_view_s_attributes_are_no_region(tmp_path, run_cli):
    """A view of two files (VIA 3's pair annotator) holding a group attribute (xy []) adds
    no region; each file's own view's regions are burnt."""
    labels = _project(tmp_path, lambda d: (
        d["view"].update({"3": {"fid_list": [1, 2]}}),
        d["metadata"].update({"3_m": {"vid": "3", "z": [], "xy": [], "av": {}}})))
    _masks(run_cli, labels, [_png(tmp_path / "a.png")], tmp_path / "m.tif")
    np.testing.assert_array_equal(_read(tmp_path / "m.tif")[0][0], _in_rect(*CAR))


def test_other_csvs_are_not_via(tmp_path, run_cli):
    """Only VIA's exact header makes a CSV VIA's: a SpaceNet summary CSV, a WKT CSV, a CSV of
    points and a near-VIA header (a column more) are not; a VIA CSV given as vector labels
    is refused, saying make-masks takes it."""
    from geotile.pixel_label_formats import VIA, pixel_label_format

    texts = {"spacenet.csv": "ImageId,BuildingId,PolygonWKT_Pix,PolygonWKT_Geo\n"
                             'a,1,"POLYGON ((1 1, 5 1, 5 5, 1 1))","POLYGON EMPTY"\n',
             "buildings.csv": 'latitude,longitude,area_in_meters,confidence,geometry,'
                              'full_plus_code\n1,2,3,0.9,"POLYGON ((1 1, 2 1, 2 2, 1 1))",x\n',
             "points.csv": "x,y,class\n1,2,tree\n",
             "near.csv": "filename,file_size,file_attributes,region_count,region_id,"
                         "region_shape_attributes,region_attributes,extra\n"}
    for name, text in texts.items():
        (tmp_path / name).write_text(text)
        assert pixel_label_format(tmp_path / name) is None, name
    labels = via_csv(tmp_path / "via.csv", _entry("a.png", [_region(_polygon(HOUSE))]))
    assert pixel_label_format(labels) == VIA
    image = write_raster(tmp_path / "img.tif", np.ones((1, H, W), np.uint8))
    result = run_cli("tile", image, "--labels", labels, "-o", tmp_path / "p", "--size", "16")
    assert_one_line_error(result, "via.csv", "VIA", "make-masks")


def test_via3_option_ids_and_labels_that_are_numbers(tmp_path, run_cli):
    """A select whose av values are written as numbers (1, not "1": JavaScript indexes its
    options alike) takes the options' labels, not the numbers as class names; an option label
    that is a number is its text (a class id, as a VIA 2 name of digits), not the option's id."""
    entries = [_entry("a.png", [_region(_polygon(HOUSE), kind="h"),
                                _region(_rect(*CAR), kind="c")])]
    labels = via3_project(tmp_path / "p.json", *entries)
    document = json.loads(labels.read_text())
    document["attribute"]["1"]["options"] = {"1": "house", "2": "car"}
    document["metadata"]["1_m0"]["av"] = {"1": 1}
    document["metadata"]["1_m1"]["av"] = {"1": 2}
    labels.write_text(json.dumps(document))
    image = _png(tmp_path / "a.png")
    _masks(run_cli, labels, [image], tmp_path / "n.tif")
    assert json.loads(_read(tmp_path / "n.tif")[2]["GEOTILE_CLASS_NAMES"]) == [
        "background", "car", "house"]
    document["attribute"]["1"]["options"] = {"1": 7, "2": 9}
    labels.write_text(json.dumps(document))
    _masks(run_cli, labels, [image], tmp_path / "l.tif")
    assert set(np.unique(_read(tmp_path / "l.tif")[0][0])) == {0, 7, 9}  # not ids 1, 2


def test_url_filenames_pair_by_their_percent_decoded_file_name(tmp_path, run_cli):
    """VIA writes a remote image's URL as its filename, percent-escaped
    (http://host/path/img%20one.png): the local 'img one.png' was refused as not in the
    file -> paired by the URL path's last part, decoded (as Labelbox's row_data); two URLs
    of that name and the image's size are refused as twin entries."""
    image = _png(tmp_path / "img one.png")
    labels = _via(tmp_path / "via.json", _entry("http://host/path/img%20one.png",
                                                [_region(_polygon(HOUSE))]))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "m.tif")[0][0], _in_polygon(HOUSE))
    size = image.stat().st_size
    labels = _via(tmp_path / "twins.json",
                  _entry("http://host/a/img%20one.png", [_region(_polygon(HOUSE))], size),
                  _entry("https://other.org/b/img%20one.png?dl=1", [_region(_rect(*CAR))],
                         size))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "t.tif")
    assert_one_line_error(result, "img one.png", "twins.json", "2 entries", "size")
    assert not (tmp_path / "t.tif").exists()


def test_an_export_nested_too_deep_is_refused_as_via_s(tmp_path, run_cli):
    """A VIA export whose file_attributes nest 100,000 deep: it was 'not vector data GDAL
    can read' (it could not be parsed to tell VIA's) -> told by its VIA keys, refused as a
    VIA file nested too deep to read; nothing written."""
    image = _png(tmp_path / "a.png")
    labels = tmp_path / "via.json"
    labels.write_text('{"a.png-1": {"filename": "a.png", "size": -1, "regions": [], '
                      '"file_attributes": {"x": ' + "[" * 100000 + "]" * 100000 + "}}}")
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, str(labels), "nested too deep", "VIA")
    assert "GDAL" not in result.output
    assert not (tmp_path / "m.tif").exists()
