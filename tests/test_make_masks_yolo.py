"""make-masks with Ultralytics YOLO segmentation labels as LABELS (geotile.yolo_labels): a
folder of <stem>.txt files paired with the images by name, coordinates as fractions of each
image's size, classes from data.yaml; negative images, boxes, georeferenced and plain
images, the round trip with tile --annotations yolo, and the refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from rasterio.features import rasterize
from rasterio.transform import from_origin

from tests.conftest import assert_one_line_error, write_raster
from tests.pixel_label_files import (
    assert_masks_given_back,
    plain_png,
    read_mask,
    tiled_scene,
    turned_jpeg,
)

H, W = 40, 50
#: a polygon in pixels, and as a YOLO line's coordinates (fractions of W, H)
POLYGON = [10.3, 5.2, 30.7, 6.1, 28.2, 25.9, 12.1, 22.4]
#: a box: centre (0.7, 0.5), 0.2 x 0.3 of the image -> x 30..40, y 14..26 px
BOX = [0.7, 0.5, 0.2, 0.3]
TRIANGLE = [40.2, 30.1, 48.7, 38.4, 36.1, 37.3]


def _fractions(pixels) -> list[float]:
    xy = np.reshape(pixels, (-1, 2)) / (W, H)
    return xy.ravel().tolist()


def _line(index: int, values) -> str:
    return " ".join([str(index), *(repr(float(v)) for v in values)])


def _burnt(pixel_lists, all_touched=False) -> np.ndarray:
    """Pixels of polygons given as YOLO fractions' pixels (the same doubles as geotile's)."""
    shapes = [shapely.Polygon(np.reshape(_fractions(p), (-1, 2)) * (W, H)) for p in pixel_lists]
    return rasterize(shapes, out_shape=(H, W), all_touched=all_touched).astype(bool)


def _box_pixels() -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[14:26, 30:40] = True
    return mask


def _png(path, width=W, height=H):
    return plain_png(path, width, height)


def _dataset(root, labels: dict[str, list[str]], images=("a",), names=None):
    """An Ultralytics dataset: root/images/train/<stem>.png, root/labels/train/<stem>.txt
    (``labels``: stem -> lines), root/data.yaml naming ``names`` (None: no data.yaml)."""
    for stem in images:
        _png(root / "images" / "train" / f"{stem}.png")
    folder = root / "labels" / "train"
    folder.mkdir(parents=True, exist_ok=True)
    for stem, lines in labels.items():
        (folder / f"{stem}.txt").write_text("".join(f"{line}\n" for line in lines))
    if names is not None:
        (root / "data.yaml").write_text(names)
    return folder, root / "images" / "train"


def _read(path):
    return read_mask(path, 1)


NAMES_DICT = "path: .\ntrain: images/train\nval: images/train\nnames:\n  0: house\n  1: shed\n"


def test_polygons_boxes_classes_and_a_negative_image(tmp_path, run_cli):
    """Ultralytics' layout, PNGs without georeference: class index + 1, names from the
    dataset's data.yaml (dict form), a box line as its rectangle, later lines on top, an
    image without its .txt all background (a negative image)."""
    labels, images = _dataset(tmp_path / "ds", {"a": [
        _line(0, _fractions(POLYGON)), _line(1, BOX), _line(0, _fractions(TRIANGLE))],
        "orphan": [_line(0, _fractions(POLYGON))]}, images=("a", "b"), names=NAMES_DICT)
    result = run_cli("make-masks", labels, images, "-o", tmp_path / "masks", "--json")
    assert result.exit_code == 0, result.output
    expected = np.zeros((H, W), np.uint8)
    expected[_burnt([POLYGON])] = 1
    expected[_box_pixels()] = 2
    expected[_burnt([TRIANGLE])] = 1
    mask, profile, tags, descriptions = _read(tmp_path / "masks" / "a.tif")
    np.testing.assert_array_equal(mask, expected)
    assert profile["transform"].is_identity and profile["crs"] is None
    assert profile["nodata"] is None and descriptions == ("class",)
    assert json.loads(tags["GEOTILE_CLASS_NAMES"]) == ["background", "house", "shed"]
    negative, _, tags, _ = _read(tmp_path / "masks" / "b.tif")
    assert not negative.any()
    assert json.loads(tags["GEOTILE_CLASS_NAMES"]) == ["background", "house", "shed"]
    document = json.loads(result.stdout)
    assert document["classes"] == ["background", "house", "shed"]
    first, second = document["masks"]
    assert first["labels"] == str(labels / "a.txt") and first["features"] == 3
    assert first["positive_pixels"] == int((expected > 0).sum())
    assert second["labels"] is None and second["features"] == 0
    assert "1 line" in result.stderr and "box" in result.stderr  # one warning for boxes
    assert len([line for line in result.stderr.splitlines() if "box" in line]) == 1
    text = run_cli("make-masks", labels, images, "-o", tmp_path / "again")
    assert text.exit_code == 0, text.output
    assert "negative image" in text.stdout and "1 of 2 images" in text.stdout


def test_list_names_one_class_and_all_touched(tmp_path, run_cli):
    """data.yaml's names as a list of one: 0/1 and band footprint, as make-masks' default;
    --all-touched grows the polygons as for vector labels."""
    labels, images = _dataset(tmp_path / "ds", {"a": [_line(0, _fractions(POLYGON))]},
                              names="names: ['building']\nnc: 1\n")
    result = run_cli("make-masks", labels, images / "a.png", "-o", tmp_path / "m.tif",
                     "--all-touched")
    assert result.exit_code == 0, result.output
    mask, _, tags, descriptions = _read(tmp_path / "m.tif")
    np.testing.assert_array_equal(mask, _burnt([POLYGON], all_touched=True).astype(np.uint8))
    assert descriptions == ("footprint",)
    assert json.loads(tags["GEOTILE_CLASS_NAMES"]) == ["background", "building"]


def test_a_georeferenced_image_takes_its_pixels(tmp_path, run_cli):
    """A GeoTIFF in UTM: the mask is on its grid, the fractions of its width and height
    placed through its transform."""
    transform = from_origin(500000.3, 4100000.7, 0.3, 0.3)
    (tmp_path / "images").mkdir()
    image = write_raster(tmp_path / "images" / "img.tif", np.ones((1, H, W), np.uint8),
                         crs="EPSG:32633", transform=transform)
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "img.txt").write_text(
        f"{_line(0, _fractions(POLYGON))}\n{_line(0, BOX)}\n")
    (tmp_path / "data.yaml").write_text("names: [roof]\n")
    result = run_cli("make-masks", tmp_path / "labels", image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    mask, profile, _, _ = _read(tmp_path / "m.tif")
    np.testing.assert_array_equal(mask, (_burnt([POLYGON]) | _box_pixels()).astype(np.uint8))
    assert profile["transform"] == transform and profile["crs"] == "EPSG:32633"


def test_without_data_yaml_classes_are_named_by_index(tmp_path, run_cli):
    """No data.yaml: Ultralytics' default names class_0.. (up to the largest index of the
    run), said once; --class-map maps those names; a pattern of .txt files is LABELS too."""
    labels, images = _dataset(tmp_path / "ds", {"a": [_line(2, _fractions(POLYGON))],
                                                "b": [_line(0, BOX)]}, images=("a", "b"))
    result = run_cli("make-masks", f"{labels}/*.txt", images, "-o", tmp_path / "masks")
    assert result.exit_code == 0, result.output
    said = [line for line in result.stderr.splitlines() if "data.yaml" in line]
    assert len(said) == 1 and "class_0" in said[0]
    mask, _, tags, _ = _read(tmp_path / "masks" / "a.tif")
    np.testing.assert_array_equal(mask, _burnt([POLYGON]).astype(np.uint8) * 3)
    assert json.loads(tags["GEOTILE_CLASS_NAMES"]) == ["background", "class_0", "class_1",
                                                       "class_2"]
    class_map = tmp_path / "map.json"
    class_map.write_text(json.dumps({"class_0": 1, "class_1": 1, "class_2": 2}))
    result = run_cli("make-masks", labels, images, "-o", tmp_path / "mapped", "--class-map",
                     class_map)
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "mapped" / "a.tif")[0],
                                  _burnt([POLYGON]).astype(np.uint8) * 2)
    np.testing.assert_array_equal(_read(tmp_path / "mapped" / "b.tif")[0],
                                  _box_pixels().astype(np.uint8))


def test_small_excursions_are_clipped_as_ultralytics_does(tmp_path, run_cli):
    """A vertex a little past the image's edge (Ultralytics trains on it, clipped): burnt
    clipped to the image; an empty .txt is a negative image."""
    labels, images = _dataset(tmp_path / "ds", {
        "a": ["0 -0.02 0.1 0.5 0.1 0.5 0.6 -0.02 0.6"], "b": []}, images=("a", "b"),
        names="names: [field]\n")
    result = run_cli("make-masks", labels, images, "-o", tmp_path / "masks")
    assert result.exit_code == 0, result.output
    expected = np.zeros((H, W), np.uint8)
    expected[4:24, 0:25] = 1
    np.testing.assert_array_equal(_read(tmp_path / "masks" / "a.tif")[0], expected)
    assert not _read(tmp_path / "masks" / "b.tif")[0].any()


def test_an_object_a_little_past_both_edges_is_taken_as_ultralytics_takes_it(tmp_path, run_cli):
    """Ultralytics accepts a line whose box (cx cy w h) is within -0.01..1.01: a field
    spanning the whole width, its vertices at -0.005 and 1.005 (w 1.01), is burnt clipped."""
    labels, images = _dataset(tmp_path / "ds", {
        "a": ["0 -0.005 0.1 1.005 0.1 1.005 0.6 -0.005 0.6"]}, names="names: [field]\n")
    result = run_cli("make-masks", labels, images, "-o", f"{tmp_path / 'masks'}/")
    assert result.exit_code == 0, result.output
    expected = np.zeros((H, W), np.uint8)
    expected[4:24, :] = 1
    np.testing.assert_array_equal(_read(tmp_path / "masks" / "a.tif")[0], expected)


def test_a_class_the_class_map_lacks_is_refused_before_any_mask(tmp_path, run_cli):
    """b.txt's class (road) is not in --class-map: refused before a.tif is written."""
    labels, images = _dataset(tmp_path / "ds", {"a": [_line(0, _fractions(POLYGON))],
                                                "b": [_line(1, _fractions(POLYGON))]},
                              images=("a", "b"), names="names: [building, road]\n")
    (tmp_path / "map.json").write_text('{"building": 1}')
    result = run_cli("make-masks", labels, images, "-o", f"{tmp_path / 'out'}/",
                     "--class-map", tmp_path / "map.json")
    assert_one_line_error(result, "b.txt", "road", "class map")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("names", ["names: [car, car, truck]\n", "names: [Car, car, truck]\n"])
def test_one_name_for_two_indices_is_refused(tmp_path, run_cli, names):
    """data.yaml naming indices 0 and 1 alike burnt index 1 as id 1 (not 2), its id 2 named
    '2'; a --class-map that merges them is the way to say so."""
    labels, images = _dataset(tmp_path / "ds", {"a": [_line(0, _fractions(POLYGON)),
                                                      _line(1, _fractions(TRIANGLE))]},
                              names=names)
    result = run_cli("make-masks", labels, images, "-o", f"{tmp_path / 'out'}/")
    assert_one_line_error(result, "data.yaml", "indices 0 and 1", "--class-map")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    (tmp_path / "map.json").write_text('{"car": 1, "truck": 2}')
    result = run_cli("make-masks", labels, images, "-o", f"{tmp_path / 'out'}/",
                     "--class-map", tmp_path / "map.json")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_read(tmp_path / "out" / "a.tif")[0],
                                  _burnt([POLYGON, TRIANGLE]).astype(np.uint8))


def test_nc_as_text_or_a_float_is_the_number_ultralytics_reads(tmp_path, run_cli):
    """nc: '3' beside two names was let through (Ultralytics refuses it); nc: 2.0 or '2'
    alone were 'no class names' (Ultralytics names them class_0, class_1)."""
    _refused(tmp_path / "1", run_cli, [], "data.yaml", "nc is 3", names="nc: '3'\nnames: [a, b]\n")
    _refused(tmp_path / "2", run_cli, [], "data.yaml", "nc", "integer", names="nc: 1.5\n")
    for number, text in enumerate(["nc: 2.0\n", "nc: '2'\n"]):
        labels, images = _dataset(tmp_path / f"ok{number}", {"a": [_line(1, BOX)]}, names=text)
        result = run_cli("make-masks", labels, images, "-o", f"{tmp_path / f'out{number}'}/",
                         "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["classes"] == ["background", "class_0", "class_1"]
        np.testing.assert_array_equal(_read(tmp_path / f"out{number}" / "a.tif")[0],
                                      _box_pixels() * np.uint8(2))


def test_round_trip_with_tile_annotations_yolo(tmp_path, run_cli):
    """tile --annotations yolo, then make-masks of its labels/*.txt on its patches: the
    tile's mask patches, pixel for pixel (georeferenced, several classes, holes bridged
    into one ring as tile writes them)."""
    patches = tiled_scene(tmp_path, run_cli, "yolo")
    holed = [p for p in (patches / "labels").glob("*.geojson")
             if any(shapely.geometry.shape(f["geometry"]).interiors
                    if f["geometry"]["type"] == "Polygon" else False
                    for f in json.loads(p.read_text())["features"])]
    assert holed  # the round trip holds holes
    result = run_cli("make-masks", f"{patches}/labels/*.txt", patches / "images", "-o",
                     tmp_path / "back")
    assert result.exit_code == 0, result.output
    assert_masks_given_back(patches, tmp_path / "back")


def _refused(tmp_path, run_cli, lines, *fragments, names="names: [a, b]\n", options=()):
    labels, images = _dataset(tmp_path / "ds", {"a": ["0 0.1 0.1 0.5 0.1 0.5 0.5", *lines],
                                                "b": ["0 0.1 0.1 0.5 0.1 0.5 0.5"]},
                              images=("a", "b"), names=names)
    result = run_cli("make-masks", labels, images, "-o", f"{tmp_path / 'out'}/", *options)
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("line, fragments", [
    ("0 0.1 0.1 0.5 0.1 0.5", ("a.txt line 2", "odd number")),
    ("0 0.1 0.1 0.5 0.5 0.2 0.3 0.4", ("a.txt line 2", "odd number")),
    ("0 0.1 0.1", ("a.txt line 2", "at least 3 points")),
    ("0", ("a.txt line 2", "no coordinates")),
    ("0 0.1 0.1 x 0.1 0.5 0.5", ("a.txt line 2", "'x'")),
    ("0 0.1 0.1 nan 0.1 0.5 0.5", ("a.txt line 2", "finite")),
    ("0 12 30 40 30 40 50", ("a.txt line 2", "0..1", "pixels")),
    ("0 0.5 0.5 0.3 -0.2", ("a.txt line 2", "0..1")),
    ("2 0.1 0.1 0.5 0.1 0.5 0.5", ("a.txt line 2", "class 2", "data.yaml", "2 classes")),
    ("-1 0.1 0.1 0.5 0.1 0.5 0.5", ("a.txt line 2", "class '-1'")),
    ("1.5 0.1 0.1 0.5 0.1 0.5 0.5", ("a.txt line 2", "class '1.5'")),
    ("254 0.1 0.1 0.5 0.1 0.5 0.5", ("a.txt line 2", "class 254", "1..254", "0..253")),
])
def test_broken_lines_are_refused(tmp_path, run_cli, line, fragments):
    _refused(tmp_path, run_cli, [line], *fragments)


def test_other_refusals(tmp_path, run_cli):
    # DOTA's labelTxt (pixels, class names) is no YOLO
    _refused(tmp_path / "1", run_cli, ["10 20 30 20 30 40 10 40 plane 0"], "a.txt line 2",
             "DOTA")
    _refused(tmp_path / "2", run_cli, [], "data.yaml", "names", names="train: images\n")
    _refused(tmp_path / "3", run_cli, [], "data.yaml", "class indices 0..1",
             names="names:\n  0: a\n  2: b\n")
    _refused(tmp_path / "4", run_cli, [], "--class-field", options=("--class-field", "kind"))
    _refused(tmp_path / "5", run_cli, [], "--labels-crs", options=("--labels-crs", "EPSG:4326"))
    # no IMAGE has a .txt: the wrong folder, not a run of negative images
    labels, _ = _dataset(tmp_path / "6", {"x": ["0 0.1 0.1 0.5 0.1 0.5 0.5"]}, images=())
    image = _png(tmp_path / "6" / "other" / "a.png")
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "6" / "m.tif")
    assert_one_line_error(result, "a.png", "a.txt", str(labels))
    assert not (tmp_path / "6" / "m.tif").exists()


def test_resume_workers_and_other_commands(tmp_path, run_cli):
    """--resume skips a mask whose .txt and data.yaml are unchanged and redoes one whose
    .txt changed; --workers makes the same masks (in this process); tile --labels of a
    YOLO folder says make-masks takes it."""
    labels, images = _dataset(tmp_path / "ds", {"a": [_line(0, _fractions(POLYGON))],
                                                "b": [_line(0, BOX)]}, images=("a", "b"),
                              names="names: [roof]\n")
    out = tmp_path / "masks"
    assert run_cli("make-masks", labels, images, "-o", out).exit_code == 0
    (labels / "b.txt").write_text(_line(0, _fractions(TRIANGLE)) + "\n")
    result = run_cli("make-masks", labels, images, "-o", out, "--resume", "--json")
    assert result.exit_code == 0, result.output
    first, second = json.loads(result.stdout)["masks"]
    assert first.get("skipped") and not second.get("skipped")
    np.testing.assert_array_equal(_read(out / "b.tif")[0], _burnt([TRIANGLE]).astype(np.uint8))
    result = run_cli("make-masks", labels, images, "-o", tmp_path / "w", "--workers", "2")
    assert result.exit_code == 0, result.output
    for name in ("a.tif", "b.tif"):
        np.testing.assert_array_equal(_read(tmp_path / "w" / name)[0], _read(out / name)[0])
    image = write_raster(tmp_path / "img.tif", np.ones((1, H, W), np.uint8))
    result = run_cli("tile", image, "--labels", labels, "-o", tmp_path / "p", "--size", "16")
    assert_one_line_error(result, str(labels), "YOLO", "make-masks")


def test_a_photo_turned_by_exif_is_refused(tmp_path, run_cli):
    """Ultralytics reads a JPEG turned by its EXIF orientation: the labels are on that
    view, not on the stored pixels GDAL reads."""
    folder = tmp_path / "images"
    turned_jpeg(folder / "a.jpg", W, H)
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "a.txt").write_text(_line(0, _fractions(POLYGON)) + "\n")
    (tmp_path / "data.yaml").write_text("names: [car]\n")
    result = run_cli("make-masks", tmp_path / "labels", folder / "a.jpg", "-o",
                     tmp_path / "m.tif")
    assert_one_line_error(result, "a.jpg", "EXIF orientation (6)", "exiftran")
    assert not (tmp_path / "m.tif").exists()


BOMB = ("a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)))


def test_hostile_data_yaml_is_refused_at_once(tmp_path, run_cli):
    """nc: 1e11 (or 1e308) without names built class_0..class_99999999999 and was killed
    for memory (23 GB); names or nc of YAML aliases (a billion laughs) were expanded into a
    message (6 GB, 40 s, or no end); names nested 50,000 deep was a RecursionError."""
    for number, text in enumerate(["nc: 100000000000\n", "nc: 1e308\n", f"nc: {'9' * 400}\n"]):
        _refused(tmp_path / f"nc{number}", run_cli, [], "data.yaml", "classes",
                 names=text)
    _refused(tmp_path / "b1", run_cli, [], "data.yaml", "names", names=BOMB + "names: *i\n")
    _refused(tmp_path / "b2", run_cli, [], "data.yaml", "names",
             names=BOMB + "names: {0: *i}\n")
    _refused(tmp_path / "b3", run_cli, [], "data.yaml", "nc", names=BOMB + "nc: *i\n")
    _refused(tmp_path / "deep", run_cli, [], "data.yaml",
             names="names: " + "[" * 50000 + "]" * 50000 + "\n")


def test_a_tip_past_the_edge_is_clipped_before_it_is_burnt(tmp_path, run_cli):
    """Ultralytics clips each vertex to 0..1 before training: a triangle whose tip lies at
    x 1.0099 (its box within 1.01, so taken) is burnt with its tip at the edge (x 1), which
    narrows it near the tip, not as the unclipped triangle cut off at the edge."""
    width, height = 400, 40
    _png(tmp_path / "ds" / "images" / "train" / "a.png", width, height)
    (tmp_path / "ds" / "labels" / "train").mkdir(parents=True)
    (tmp_path / "ds" / "labels" / "train" / "a.txt").write_text(
        "0 0.5 0.1 1.0099 0.5 0.5 0.9\n")
    (tmp_path / "ds" / "data.yaml").write_text("names: [field]\n")
    result = run_cli("make-masks", tmp_path / "ds" / "labels" / "train",
                     tmp_path / "ds" / "images" / "train" / "a.png", "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    clipped = shapely.Polygon([(200, 4), (400, 20), (200, 36)])
    unclipped = shapely.Polygon([(200, 4), (1.0099 * width, 20), (200, 36)])
    expected = rasterize([clipped], out_shape=(height, width)).astype(np.uint8)
    assert (expected != rasterize([unclipped], out_shape=(height, width))).any()
    np.testing.assert_array_equal(_read(tmp_path / "m.tif")[0], expected)


def test_data_yaml_is_found_up_to_3_folders_above_the_labels(tmp_path, run_cli):
    """data.yaml in the labels' folder or up to 3 above it (labels/train -> the dataset
    root and 1 more) names the classes; 4 above is not looked at (class_0, said)."""
    for root, found in ((tmp_path / "near", True), (tmp_path / "far", False)):
        # labels in root/a/b/c/labels/train: labels, c, b are 1..3 above it, a is 4 above
        labels, images = _dataset(root / "a" / "b" / "c", {"a": [_line(1, BOX)]})
        (root / "a" / ("b" if found else "") / "data.yaml").write_text(
            "names: [house, shed]\n")
        result = run_cli("make-masks", labels, images, "-o", f"{root / 'out'}/", "--json")
        assert result.exit_code == 0, result.output
        classes = json.loads(result.stdout)["classes"]
        assert classes == (["background", "house", "shed"] if found
                           else ["background", "class_0", "class_1"]), (root, classes)
        np.testing.assert_array_equal(_read(root / "out" / "a.tif")[0],
                                      _box_pixels() * np.uint8(2))


def test_a_line_of_more_points_than_the_limit_is_refused_before_any_geometry(tmp_path,
                                                                           run_cli):
    """A line of 1,000,002 points (a broken export: one of 10 million took 13 GB, then GEOS's
    bad_alloc) is refused naming the file, the line and the limit of 1,000,000."""
    from geotile.yolo_labels import MAX_POINTS

    assert MAX_POINTS == 1_000_000
    line = "0 " + " ".join(["0.1 0.1", "0.5 0.1", "0.5 0.5"] * 333_334)
    _refused(tmp_path, run_cli, [line], "a.txt line 2", "more than 1,000,000 points")


def test_a_data_yaml_in_a_windows_code_page_is_refused_saying_so(tmp_path, run_cli):
    """A data.yaml typed in Notepad on Windows (names: [Straße]: the byte 0xDF, cp1252) was
    refused as "cannot be read ('utf-8' codec can't decode byte 0xdf ...)." with no way out;
    now the line says it is not UTF-8 and how to convert it (Ultralytics reads UTF-8)."""
    labels, images = _dataset(tmp_path / "ds", {"a": ["0 0.1 0.1 0.5 0.1 0.5 0.5"]},
                              names="names: [a]\n")
    (tmp_path / "ds" / "data.yaml").write_bytes("names:\r\n  0: Straße\r\n".encode("cp1252"))
    result = run_cli("make-masks", labels, images, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "data.yaml", "not UTF-8", "byte 0xDF", "iconv")
    assert not (tmp_path / "m.tif").exists()
