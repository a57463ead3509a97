"""make-masks with Label Studio's JSON and JSON_MIN exports as LABELS
(geotile.labelstudio_labels): regions in percent of each task's image, paired by the
image URL's file name, burnt by the pixel-centre rule (ellipses and brush masks pixel
exact); the annotation chosen, predictions never labels; the refusals (nothing written)."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
import shapely

from geotile.labelstudio_labels import decode_rle
from tests.conftest import UTM_CRS, assert_one_line_error, write_raster
from tests.pixel_label_files import (
    one_image_as_all,
    plain_png,
    png_bytes,
    read_mask,
    turned_jpeg,
)

W, H = 640, 480
ROWS, COLS = np.mgrid[0:H, 0:W]
X, Y = COLS + 0.5, ROWS + 0.5

POLYGON = [[5.3, 4.1], [30.2, 6.7], [25.9, 30.4], [7.7, 27.2]]  # percent
RECTANGLE = {"x": 10, "y": 50, "width": 20, "height": 12.5, "rotation": 0}
TURNED = {"x": 60, "y": 10, "width": 15, "height": 10, "rotation": 30}
ELLIPSE = {"x": 70, "y": 60, "radiusX": 8.3, "radiusY": 12.1, "rotation": 25}
BRUSH = np.zeros((H, W), bool)
BRUSH[300:340, 400:470] = True
BRUSH[320:330, 420:430] = False


def encode_rle(values: np.ndarray) -> list[int]:
    """Label Studio's brush RLE (thi.ng rle-pack) of uint8 ``values``: repeat chunks only."""
    bits = [f"{len(values):032b}", f"{8 - 1:05b}", "".join(f"{s - 1:04b}" for s in
                                                           (3, 4, 8, 16))]
    change = np.flatnonzero(np.diff(values.astype(np.int16))) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [len(values)]))
    for start, end in zip(starts, ends, strict=True):
        while start < end:
            n = min(end - start, 1 << 16)
            bits.append(f"111{n - 1:016b}{int(values[start]):08b}")
            start += n
    text = "".join(bits)
    text += "0" * (-len(text) % 8)
    return [int(text[i:i + 8], 2) for i in range(0, len(text), 8)]


def _brush_rle(mask=BRUSH) -> list[int]:
    return encode_rle(np.repeat(mask.ravel().astype(np.uint8) * 255, 4))


def _result(kind, value, label, rid="r", **extra) -> dict:
    key = kind if kind.endswith("labels") else None
    value = {**value, **({key: [label]} if key and label is not None else {})}
    return {"id": rid, "type": kind, "from_name": "label", "to_name": "image",
            "original_width": W, "original_height": H, "image_rotation": 0, "value": value,
            **extra}


def _regions() -> list[dict]:
    return [
        _result("polygonlabels", {"points": POLYGON, "closed": True}, "Building", "a"),
        _result("rectangle", RECTANGLE, None, "b"),
        {"id": "b", "type": "labels", "from_name": "tag", "to_name": "image",
         "value": {**RECTANGLE, "labels": ["Car"]}},
        _result("rectanglelabels", TURNED, "Car", "c"),
        _result("ellipselabels", ELLIPSE, "Tree", "d"),
        _result("brushlabels", {"format": "rle", "rle": _brush_rle()}, "Building", "e"),
        _result("keypointlabels", {"x": 3, "y": 3, "width": 1}, "Pole", "f"),
        {"id": "g", "type": "choices", "from_name": "weather", "to_name": "image",
         "value": {"choices": ["Sunny"]}},
    ]


def _expected() -> np.ndarray:
    """Building 1, Car 2, Tree 3; later regions on top."""
    out = np.zeros((H, W), np.uint8)
    points = np.array(POLYGON) * [W / 100, H / 100]
    out[shapely.contains_xy(shapely.Polygon(points), X, Y)] = 1
    out[(COLS >= 64) & (COLS <= 191) & (ROWS >= 240) & (ROWS <= 299)] = 2  # 10%+20% of 640
    x, y, w, h = 0.60 * W, 0.10 * H, 0.15 * W, 0.10 * H
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    corners = [(x, y), (x + w * c, y + w * s), (x + w * c - h * s, y + w * s + h * c),
               (x - h * s, y + h * c)]
    out[shapely.contains_xy(shapely.Polygon(corners), X, Y)] = 2
    cx, cy, rx, ry = 0.7 * W, 0.6 * H, 0.083 * W, 0.121 * H
    c, s = math.cos(math.radians(25)), math.sin(math.radians(25))
    dx, dy = X - cx, Y - cy
    out[((dx * c + dy * s) / rx) ** 2 + ((dy * c - dx * s) / ry) ** 2 <= 1] = 3
    out[BRUSH] = 1
    return out


def _task(image, result, task_id=7, annotations=None, predictions=()) -> dict:
    if annotations is None:
        annotations = [{"id": 100 + task_id, "was_cancelled": False, "ground_truth": False,
                        "result": result, "updated_at": "2026-01-05T10:00:00Z"}]
    return {"id": task_id, "data": {"image": image}, "annotations": annotations,
            "predictions": list(predictions)}


def _export(path: Path, tasks) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(tasks))
    return path


def _png(path, width=W, height=H):
    return plain_png(path, width, height)


def test_each_region_type_pixel_exact(tmp_path, run_cli):
    """Polygon, plain rectangle with its Labels result, turned rectangle, turned ellipse
    (pixel centres inside) and brush mask (exactly its pixels) at their percents of the
    image; the keypoint and the choice left out with one warning counting them."""
    export = _export(tmp_path / "project-1-at-2026.json",
                     [_task("/data/upload/1/8a9b7c1d-img_001.png", _regions())])
    image = _png(tmp_path / "images" / "img_001.png")
    result = run_cli("make-masks", export, image, "-o", tmp_path / "m.tif", "--json")
    assert result.exit_code == 0, result.output
    mask, profile, tags, _ = read_mask(tmp_path / "m.tif")
    np.testing.assert_array_equal(mask, _expected())
    assert profile["transform"].is_identity and profile["crs"] is None
    assert json.loads(tags["GEOTILE_CLASS_NAMES"]) == ["background", "Building", "Car", "Tree"]
    (summary,) = json.loads(result.stdout)["masks"]
    assert summary["features"] == 5 and summary["labels"] == str(export)
    left_out = [line for line in result.stderr.splitlines() if "left out" in line]
    assert len(left_out) == 1 and "2 results were left out" in left_out[0], result.stderr


def test_the_percent_rectangle_covers_columns_64_to_191():
    """x=10%, width=20% of 640 px: columns 64..191 exactly (pixel centres 64.5..191.5)."""
    from geotile.labelstudio_labels import _geometry

    box = _geometry("t", "rectangle", {"x": 10, "y": 0, "width": 20, "height": 100}, W, H)
    inside = shapely.contains_xy(box, X, Y)
    assert np.flatnonzero(inside[0]).tolist() == list(range(64, 192))


def test_json_min_gives_the_same_mask_on_a_georeferenced_image(tmp_path, run_cli):
    """JSON_MIN (regions by from_name, their types dropped) and a GeoTIFF: the same pixels,
    on the image's grid."""
    regions = [r for r in _regions() if r["type"] != "labels"]
    regions[1] = _result("rectanglelabels", RECTANGLE, "Car", "b")
    record = {"image": "s3://bucket/scenes/img_001.tif", "id": 7, "annotator": 1,
              "annotation_id": 107, "created_at": "", "updated_at": "", "lead_time": 3.0}
    for region in regions:
        if region["type"] != "choices":
            value = {**region["value"], "original_width": W, "original_height": H}
            record.setdefault(region["from_name"], []).append(value)
    record["weather"] = "Sunny"
    export = _export(tmp_path / "min.json", [record])
    image = write_raster(tmp_path / "img_001.tif", np.ones((1, H, W), np.uint8), crs=UTM_CRS)
    result = run_cli("make-masks", export, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    mask, profile, _, _ = read_mask(tmp_path / "m.tif")
    np.testing.assert_array_equal(mask, _expected())
    assert profile["crs"] == UTM_CRS
    assert "class ids by name: 1 Building, 2 Car, 3 Tree" in result.stdout


def test_json_min_as_label_studio_writes_it_a_long_brush_first(tmp_path, run_cli):
    """Label Studio writes JSON_MIN indented, each record's data and regions before its
    annotation's keys: a brush mask's RLE pushes annotation_id past the first 64 KiB."""
    mask = np.zeros((H, W), bool)  # one-pixel stripes: a long RLE, few polygons
    mask[:, ::2] = True
    mask[::7, 1::4] = True
    record = {"image": "/data/local-files/?d=scenes/img_001.png", "id": 7, "tag": [{
        "format": "rle", "rle": _brush_rle(mask), "brushlabels": ["Building"],
        "original_width": W, "original_height": H}], "annotator": 1, "annotation_id": 107,
        "created_at": "", "updated_at": "", "lead_time": 3.0}
    export = tmp_path / "result.json"
    export.write_text(json.dumps([record], indent=2))
    assert export.read_text().index('"annotator"') > 1 << 16
    result = run_cli("make-masks", export, _png(tmp_path / "img_001.png"), "-o",
                     tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read_mask(tmp_path / "m.tif")[0], mask.astype(np.uint8))


def test_urls_pair_by_name_workers_and_resume_give_the_same_masks(tmp_path, run_cli):
    """Uploads (prefix), local files (?d=), http URLs; an image nobody labelled in the
    export but not given is left alone; --workers 2 and --resume: byte-identical masks."""
    house = [_result("polygonlabels", {"points": POLYGON}, "Building")]
    car = [_result("rectanglelabels", RECTANGLE, "Car")]
    export = _export(tmp_path / "e.json", [
        _task("/data/upload/3/0a1b2c3d-a.png", house, 1),
        _task("/data/local-files/?d=photos/b%20c.png", car, 2),
        _task("https://host/x/d.png?X-Amz-Signature=1", [], 3),
        _task("/data/upload/3/e.png", car, 4, annotations=[])])
    images = [_png(tmp_path / "i" / "a.png"), _png(tmp_path / "i" / "b c.png"),
              _png(tmp_path / "i" / "d.png")]
    result = run_cli("make-masks", export, *images, "-o", f"{tmp_path / 'one'}/")
    assert result.exit_code == 0, result.output
    assert "1 of 3 images have no region to burn" in result.stdout
    assert not read_mask(tmp_path / "one" / "d.tif")[0].any()
    assert (read_mask(tmp_path / "one" / "b c.tif")[0] == 2).sum() == 128 * 60
    result = run_cli("make-masks", export, *images, "-o", f"{tmp_path / 'two'}/",
                     "--workers", "2")
    assert result.exit_code == 0, result.output
    for name in ("a.tif", "b c.tif", "d.tif"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    result = run_cli("make-masks", export, *images, "-o", f"{tmp_path / 'one'}/", "--resume",
                     "--json")
    assert result.exit_code == 0, result.output
    assert all(m.get("skipped") for m in json.loads(result.stdout)["masks"])


def _annotation(aid, result, **flags) -> dict:
    return {"id": aid, "was_cancelled": False, "ground_truth": False, "result": result,
            **flags}


def test_the_ground_truth_annotation_is_taken_cancelled_ones_never(tmp_path, run_cli):
    house = [_result("polygonlabels", {"points": POLYGON}, "Building")]
    car = [_result("rectanglelabels", RECTANGLE, "Car")]
    image = _png(tmp_path / "a.png")
    for number, chosen, expected in [
            (1, [_annotation(1, car), _annotation(2, house, ground_truth=True)], 1),
            (2, [_annotation(1, car, was_cancelled=True), _annotation(2, house)], 1)]:
        export = _export(tmp_path / f"{number}.json", [_task("a.png", None, 5, chosen)])
        result = run_cli("make-masks", export, image, "-o", tmp_path / f"{number}.tif")
        assert result.exit_code == 0, result.output
        assert set(np.unique(read_mask(tmp_path / f"{number}.tif")[0])) == {0, expected}


def _refused(tmp_path, run_cli, tasks, *fragments, image_size=(W, H), options=()):
    export = _export(tmp_path / "e.json", tasks)
    images = [_png(tmp_path / "i" / "ok.png"), _png(tmp_path / "i" / "a.png", *image_size)]
    tasks.append(_task("ok.png", [_result("polygonlabels", {"points": POLYGON}, "B")], 99))
    _export(export, tasks)
    result = run_cli("make-masks", export, *images, "-o", f"{tmp_path / 'out'}/", *options)
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


HOUSE = _result("polygonlabels", {"points": POLYGON}, "Building")


@pytest.mark.parametrize("tasks, fragments", [
    ([_task("a.png", None, annotations=[_annotation(1, [HOUSE]), _annotation(2, [])])],
     ("task 7 (a.png)", "2 annotations", "ground truth")),
    ([{"image": "a.png", "id": 7, "annotator": 1, "annotation_id": aid} for aid in (107, 108)],
     ("task 7 (a.png)", "ids 107, 108", "JSON_MIN")),
    ([_task("a.png", None, annotations=[], predictions=[{"result": [HOUSE]}])],
     ("task 7 (a.png)", "no annotation", "prediction", "nobody labelled")),
    ([_task("a.png", None, annotations=[_annotation(1, [HOUSE], was_cancelled=True)])],
     ("task 7", "cancelled")),
    ([_task("b.png", [HOUSE])], ("a.png", "e.json", "no task's image is named 'a.png'")),
    ([_task("a.png", [HOUSE], 1), _task("/data/upload/1/a.png", [HOUSE], 2)],
     ("a.png", "2 tasks", "ids 1, 2")),
    ([_task("a.png", [{**HOUSE, "image_rotation": 90}])], ("result[0]", "image_rotation")),
    ([_task("a.png", [_result("polygonlabels", {"points": POLYGON, "polygonlabels":
                                                ["Building", "Roof"]}, None)])],
     ("result[0]", "2 labels", "Building, Roof")),
    ([_task("a.png", [_result("polygon", {"points": POLYGON}, None)])],
     ("result[0]", "label")),
    ([_task("a.png", [_result("cuboidlabels", {}, "x")])], ("result[0]", "'cuboidlabels'")),
    ([_task("a.png", [_result("polygonlabels", {"points": [[1, 1], [2, 2]]}, "B")])],
     ("result[0]", "3 [x, y]")),
    ([_task("a.png", [_result("polygonlabels", {"points": [[1, 1], [2, 1e300], [3, 1]]},
                              "B")])], ("result[0]", "percent")),
    ([_task("a.png", [_result("ellipselabels", {**ELLIPSE, "radiusX": 1e12}, "B")])],
     ("result[0]", "radiusX", "percent")),
    ([_task("a.png", [_result("rectanglelabels", {**RECTANGLE, "x": 10 ** 400}, "B")])],
     ("result[0]", "finite")),
    ([_task("a.png", [_result("brushlabels", {"format": "rle", "rle": [1, 2, 3]}, "B")])],
     ("result[0]", "broken RLE")),
    ([_task("a.png", [_result("brushlabels", {"format": "rle", "rle": encode_rle(
        np.zeros(2 * W * H * 4, np.uint8))}, "B")])], ("result[0]", "broken RLE", "640x480")),
    ([_task("a.png", [_result("brushlabels", {"format": "rle", "rle": [1, "x"]}, "B")])],
     ("result[0]", "bytes")),
    # a type or id that is an object or a list was a TypeError traceback (unhashable)
    ([_task("a.png", [{**HOUSE, "type": {"a": 1}}])], ("result[0]", "has type {'a': 1}")),
    ([_task("a.png", [{**_result("rectangle", RECTANGLE, None, "b"), "id": {"a": 1}}])],
     ("result[0]", "label")),
])
def test_refusals_in_one_line_nothing_written(tmp_path, run_cli, tasks, fragments):
    _refused(tmp_path, run_cli, tasks, *fragments)


def test_a_labels_result_of_a_list_id_labels_nothing(tmp_path, run_cli):
    """A labels result whose id is a list (a TypeError traceback: unhashable) names no
    region: left out with the warning of a label of nothing, the polygon burnt."""
    labels = _export(tmp_path / "e.json", [_task("a.png", [
        HOUSE, {"id": ["b"], "type": "labels", "value": {"labels": ["Car"]}}])])
    image = plain_png(tmp_path / "a.png", W, H)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    assert "1 result was left out (a.png result[1])" in result.stderr, result.stderr
    expected = shapely.contains_xy(shapely.Polygon(np.array(POLYGON) * [W / 100, H / 100]),
                                   X, Y).astype(np.uint8)
    np.testing.assert_array_equal(read_mask(tmp_path / "m.tif")[0], expected)


def test_a_size_other_than_the_image_is_refused(tmp_path, run_cli):
    _refused(tmp_path, run_cli, [_task("a.png", [HOUSE])], "a.png", "e.json", "320x480",
             "640x480", "original_width", image_size=(320, H))
    old = {k: v for k, v in HOUSE.items() if k not in ("original_width", "original_height")}
    export = _export(tmp_path / "old.json", [_task("a.png", [old])])
    result = run_cli("make-masks", export, tmp_path / "i" / "a.png", "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output  # no size given: the image's, percent of it
    points = np.array(POLYGON) * [320 / 100, H / 100]
    expected = shapely.contains_xy(shapely.Polygon(points), X[:, :320], Y[:, :320])
    np.testing.assert_array_equal(read_mask(tmp_path / "m.tif")[0], expected)


@pytest.mark.parametrize("option", [("--class-field", "label"), ("--layer", "x")])
def test_options_of_other_labels_are_refused(tmp_path, run_cli, option):
    _refused(tmp_path, run_cli, [_task("a.png", [HOUSE])], "Label Studio", option[0],
             options=option)


def test_other_commands_say_make_masks_takes_it(tmp_path, run_cli):
    export = _export(tmp_path / "e.json", [_task("a.png", [HOUSE])])
    image = write_raster(tmp_path / "img.tif", np.ones((1, 40, 40), np.uint8))
    result = run_cli("tile", image, "--labels", export, "-o", tmp_path / "p", "--size", "16")
    assert_one_line_error(result, "e.json", "Label Studio", "make-masks")


def _sdk_brush():
    """label_studio_sdk's converter/brush.py (numpy only), None where it is not installed."""
    spec = importlib.util.find_spec("label_studio_sdk")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "converter" / "brush.py"
    module_spec = importlib.util.spec_from_file_location("_ls_brush", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def test_decode_rle_matches_label_studio_sdk_on_random_masks():
    brush = _sdk_brush()
    if brush is None:
        pytest.skip("label_studio_sdk not installed")
    rng = np.random.default_rng(3)
    for height, width in ((7, 9), (64, 50), (300, 411)):
        alpha = (rng.random((height, width)) < 0.3) * rng.integers(1, 256, (height, width))
        values = np.repeat(alpha.ravel().astype(np.uint8), 4)
        rle = brush.encode_rle(values)
        np.testing.assert_array_equal(decode_rle(bytes(rle), values.size),
                                      brush.decode_rle(rle))
        np.testing.assert_array_equal(decode_rle(bytes(rle), values.size), values)
        ours = encode_rle(values)
        np.testing.assert_array_equal(brush.decode_rle(ours), values)


def test_ellipses_burn_exactly_the_pixel_centres_inside_them():
    """GDAL burns each turned ellipse's polygon as exactly the pixels whose centre is inside
    or on the ellipse (centres on its outline included); --all-touched burns at least
    those."""
    from rasterio.features import rasterize

    from geotile.labelme_labels import ellipse

    rng = np.random.default_rng(5)
    rows, cols = np.mgrid[0:100, 0:100] + 0.5
    for number in range(60):
        cx, cy = rng.uniform(10, 90, 2)
        rx, ry = rng.uniform(0.3, 30, 2)
        degrees = rng.uniform(0, 360)
        if number % 10 == 0:  # pixel centres on the outline
            cx, cy, rx, ry = 50.5, 50.5, 10.0, 5.0
        c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
        dx, dy = cols - cx, rows - cy
        truth = ((dx * c + dy * s) / rx) ** 2 + ((dy * c - dx * s) / ry) ** 2 <= 1
        shape = ellipse(cx, cy, rx, ry, math.radians(degrees))
        burnt = rasterize([(shape, 1)], out_shape=(100, 100), dtype="uint8").astype(bool)
        np.testing.assert_array_equal(burnt, truth)
        touched = rasterize([(shape, 1)], out_shape=(100, 100), dtype="uint8",
                            all_touched=True).astype(bool)
        assert (touched >= truth).all()


def _house_mask(width=W, height=H) -> np.ndarray:
    points = np.array(POLYGON) * [width / 100, height / 100]
    return shapely.contains_xy(shapely.Polygon(points), X[:height, :width],
                               Y[:height, :width]).astype(np.uint8)


def test_a_cancelled_ground_truth_is_never_taken(tmp_path, run_cli):
    """An annotation marked ground truth but cancelled is no label: the live one is taken."""
    car = [_result("rectanglelabels", RECTANGLE, "Car")]
    chosen = [_annotation(1, car, ground_truth=True, was_cancelled=True),
              _annotation(2, [HOUSE])]
    export = _export(tmp_path / "e.json", [_task("a.png", None, 5, chosen)])
    result = run_cli("make-masks", export, _png(tmp_path / "a.png"), "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read_mask(tmp_path / "m.tif")[0], _house_mask())


def test_an_rle_declaring_another_pixel_count_is_refused(tmp_path, run_cli):
    """The RLE's leading 32-bit count is the image's RGBA values (width x height x 4): an
    RLE of the right values but declaring twice as many is broken."""
    rle = _brush_rle()
    rle[:4] = list((2 * W * H * 4).to_bytes(4, "big"))
    assert decode_rle(bytes(_brush_rle()), W * H * 4) is not None
    assert decode_rle(bytes(rle), W * H * 4) is None
    _refused(tmp_path, run_cli, [_task("a.png", [_result(
        "brushlabels", {"format": "rle", "rle": rle}, "B")])], "result[0]", "broken RLE",
        "640x480")


def test_an_exif_turned_photo_with_regions_is_refused(tmp_path, run_cli):
    """Label Studio draws on the photo as browsers show it (turned by EXIF orientation 6):
    regions sized as the turned view (480x640) or as the stored pixels (640x480) are both
    refused naming the orientation, before anything is written."""
    image = turned_jpeg(tmp_path / "i" / "a.jpg", W, H)
    for number, (width, height) in enumerate([(H, W), (W, H)]):
        region = {**HOUSE, "original_width": width, "original_height": height}
        export = _export(tmp_path / f"{number}.json", [_task("/data/upload/2/a.jpg", [region])])
        result = run_cli("make-masks", export, image, "-o", f"{tmp_path / 'out'}/")
        assert_one_line_error(result, "a.jpg", "EXIF orientation (6)", f"{number}.json",
                              "task 7", "browsers show it so", "exiftran -ai a.jpg")
        assert not (tmp_path / "out").exists()


def test_an_exif_turned_photo_without_regions_is_all_background(tmp_path, run_cli):
    """A turned photo whose annotation has no region (or only a keypoint) is a negative
    image: a mask of its stored pixels (640 wide, 480 high), all background."""
    image = turned_jpeg(tmp_path / "a.jpg", W, H)
    point = _result("keypointlabels", {"x": 3, "y": 3, "width": 1}, "Pole")
    for number, result_list in enumerate([[], [point]]):
        export = _export(tmp_path / f"{number}.json", [_task("a.jpg", result_list)])
        result = run_cli("make-masks", export, image, "-o", tmp_path / f"{number}.tif")
        assert result.exit_code == 0, result.output
        band = read_mask(tmp_path / f"{number}.tif")[0]
        assert band.shape == (H, W) and not band.any()


def test_the_upload_prefix_is_only_at_the_start_of_the_name(tmp_path, run_cli):
    """8 hex digits and a dash are Label Studio's upload prefix only at the name's start:
    img_8a9b7c1d-x.png is not x.png nor img_x.png; 8A9B7C1D-x.png is x.png."""
    export = _export(tmp_path / "e.json", [
        _task("/data/upload/1/img_8a9b7c1d-x.png", [HOUSE], 1),
        _task("/data/upload/1/8A9B7C1D-y.png", [HOUSE], 2)])
    result = run_cli("make-masks", export, _png(tmp_path / "img_x.png"), "-o",
                     tmp_path / "m.tif")
    assert_one_line_error(result, "img_x.png", "no task's image is named 'img_x.png'")
    result = run_cli("make-masks", export, _png(tmp_path / "y.png"), "-o", tmp_path / "y.tif")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read_mask(tmp_path / "y.tif")[0], _house_mask())


@pytest.mark.parametrize("url", [
    "/data/local-files/?d=photos/b%20c.png", "/data/upload/4/b%20c.png",
    "s3://bucket/photos/b%20c.png", "https://host/photos/b%20c.png?X-Amz-Signature=a%20b",
    "/data/local-files/?d=photos%2Fsub%2Fb%20c.png"])
def test_percent_escapes_in_urls_are_decoded(tmp_path, run_cli, url):
    from geotile.dataset_names import url_name

    assert url_name(url) == "b c.png"
    export = _export(tmp_path / "e.json", [_task(url, [HOUSE])])
    result = run_cli("make-masks", export, _png(tmp_path / "b c.png"), "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read_mask(tmp_path / "m.tif")[0], _house_mask())


def test_a_labels_result_of_no_region_is_counted_left_out(tmp_path, run_cli):
    """A Labels result whose id names no shape result labels nothing: counted with the
    keypoint in the one warning."""
    orphan = {"id": "zz", "type": "labels", "from_name": "tag", "to_name": "image",
              "value": {**RECTANGLE, "labels": ["Car"]}}
    point = _result("keypointlabels", {"x": 3, "y": 3, "width": 1}, "Pole", "k")
    for number, results, count in [(0, [HOUSE, orphan], "1 result was"),
                                   (1, [HOUSE, orphan, point], "2 results were")]:
        export = _export(tmp_path / f"{number}.json", [_task("a.png", results)])
        result = run_cli("make-masks", export, _png(tmp_path / "a.png"), "-o",
                         tmp_path / f"{number}.tif")
        assert result.exit_code == 0, result.output
        left_out = [line for line in result.stderr.splitlines() if "left out" in line]
        assert len(left_out) == 1 and f"{count} left out" in left_out[0], result.stderr
        np.testing.assert_array_equal(read_mask(tmp_path / f"{number}.tif")[0], _house_mask())


def test_an_empty_brush_is_no_sliver_and_burns_nothing(tmp_path, run_cli):
    """A brush mask of no pixel (all alpha 0) burns nothing and warns of nothing."""
    empty = _result("brushlabels", {"format": "rle", "rle": _brush_rle(np.zeros((H, W), bool))},
                    "Car", "e")
    export = _export(tmp_path / "e.json", [_task("a.png", [HOUSE, empty])])
    result = run_cli("make-masks", export, _png(tmp_path / "a.png"), "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    assert "left out" not in result.stderr and "area" not in result.stderr, result.stderr
    np.testing.assert_array_equal(read_mask(tmp_path / "m.tif")[0], _house_mask())


@pytest.mark.parametrize("minimal", [True, False])
def test_unclosed_polygons_are_left_out(tmp_path, run_cli, minimal):
    """A polygon left open ("closed": false) is a line: not burnt, counted left out."""
    open_one = {"points": [[60, 60], [90, 60], [90, 90], [60, 90]], "closed": False,
                "polygonlabels": ["Car"], "original_width": W, "original_height": H}
    if minimal:
        closed = {"points": POLYGON, "polygonlabels": ["Building"], "original_width": W,
                  "original_height": H}
        task = {"image": "/data/upload/1/a.png", "id": 7, "annotator": 1, "annotation_id": 107,
                "label": [closed, open_one]}
    else:
        task = _task("a.png", [HOUSE, _result("polygonlabels", open_one, None, "o")])
    export = _export(tmp_path / "e.json", [task])
    result = run_cli("make-masks", export, _png(tmp_path / "a.png"), "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    left_out = [line for line in result.stderr.splitlines() if "left out" in line]
    assert len(left_out) == 1 and "1 result was left out" in left_out[0], result.stderr
    np.testing.assert_array_equal(read_mask(tmp_path / "m.tif")[0], _house_mask())


def test_ids_are_the_export_s_whichever_images_are_masked(tmp_path, run_cli):
    """Tasks a (Building), b (Car, and a cancelled annotation's Pole), c (Tree): c masked
    alone takes Tree's id of the whole export (3: Building 1, Car 2, Tree 3; a cancelled
    annotation's labels are none), as all three masked; a changed export redoes it under
    --resume (a class added to a: Tree 4)."""
    house = [_result("polygonlabels", {"points": POLYGON}, "Building")]
    car = [_result("rectanglelabels", RECTANGLE, "Car")]
    pole = [_result("rectanglelabels", TURNED, "Pole")]
    tree = [_result("ellipselabels", ELLIPSE, "Tree")]
    tasks = [_task("/data/upload/3/a.png", house, 1),
             _task("/data/upload/3/b.png", None, 2, annotations=[
                 _annotation(21, car), _annotation(22, pole, was_cancelled=True)]),
             _task("/data/upload/3/c.png", tree, 3)]
    export = _export(tmp_path / "e.json", tasks)
    images = [_png(tmp_path / "i" / f"{n}.png") for n in "abc"]
    mask = one_image_as_all(tmp_path, run_cli, export, images, "1 Building, 2 Car, 3 Tree")
    assert set(np.unique(mask)) == {0, 3}
    again = run_cli("make-masks", export, images[2], "-o", f"{tmp_path / 'one'}/", "--resume",
                    "--json")
    assert json.loads(again.stdout)["masks"][0].get("skipped")
    tasks[0]["annotations"][0]["result"].append(_result("rectanglelabels", RECTANGLE, "Antenna",
                                                        "z"))
    _export(export, tasks)
    again = run_cli("make-masks", export, images[2], "-o", f"{tmp_path / 'one'}/", "--resume")
    assert again.exit_code == 0, again.output
    assert set(np.unique(read_mask(tmp_path / "one" / "c.tif")[0])) == {0, 4}


# Label Studio's BitMask tag (BitmaskRegion): value {"imageDataURL": "data:image/png;base64,
# ..."}, the PNG its offscreen canvas at the image's natural size (RGBA, black where
# painted): the region is its pixels of alpha > 0.


def _data_url(png: bytes) -> str:
    import base64

    return "data:image/png;base64," + base64.b64encode(png).decode()


def _canvas(alpha: np.ndarray) -> bytes:
    """What BitmaskRegion.getImageSnapshotCanvas gives toDataURL: black, of ``alpha``."""
    rgba = np.zeros((*alpha.shape, 4), np.uint8)
    rgba[..., 3] = alpha
    return png_bytes(rgba, 6)


#: a bitmask of alpha 255 inside, an antialiased rim of alpha 1..254, a hole of alpha 0
BITMASK = np.zeros((H, W), np.uint8)
BITMASK[100:150, 200:260] = 255
BITMASK[99, 200:260] = 1
BITMASK[150, 200:260] = 128
BITMASK[120:130, 220:230] = 0


def test_bitmask_burns_its_pixels_of_alpha_above_0(tmp_path, run_cli):
    """bitmasklabels (its label in the value) and a plain bitmask labelled by a Labels
    result of its id: exactly the pixels of alpha > 0, the later on top; JSON_MIN (its
    type dropped, told by imageDataURL) and a UTM GeoTIFF give the same pixels."""
    second = np.zeros((H, W), np.uint8)
    second[140:160, 250:300] = 200
    results = [_result("bitmasklabels", {"imageDataURL": _data_url(_canvas(BITMASK))},
                       "Building", "a"),
               _result("bitmask", {"imageDataURL": _data_url(_canvas(second))}, None, "b"),
               {"id": "b", "type": "labels", "from_name": "tag", "to_name": "image",
                "value": {"labels": ["Car"]}}]
    expected = np.zeros((H, W), np.uint8)
    expected[BITMASK > 0] = 1
    expected[second > 0] = 2
    export = _export(tmp_path / "e.json", [_task("/data/upload/3/img_001.png", results)])
    image = _png(tmp_path / "img_001.png")
    result = run_cli("make-masks", export, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read_mask(tmp_path / "m.tif")[0], expected)
    assert "left out" not in result.stderr, result.stderr

    record = {"image": "s3://b/img_001.tif", "id": 7, "annotator": 1, "annotation_id": 107,
              "label": [{"imageDataURL": _data_url(_canvas(BITMASK)), "original_width": W,
                         "original_height": H, "bitmasklabels": ["Building"]}]}
    export = _export(tmp_path / "min.json", [record])
    image = write_raster(tmp_path / "img_001.tif", np.ones((1, H, W), np.uint8), crs=UTM_CRS)
    result = run_cli("make-masks", export, image, "-o", tmp_path / "g.tif")
    assert result.exit_code == 0, result.output
    mask, profile, _, _ = read_mask(tmp_path / "g.tif")
    np.testing.assert_array_equal(mask, (BITMASK > 0).astype(np.uint8))
    assert profile["crs"] == UTM_CRS


def test_a_grey_and_alpha_bitmask_and_an_empty_one(tmp_path, run_cli):
    """A grey+alpha PNG: its alpha band; one of no pixel: nothing burnt, no warning."""
    grey = np.zeros((H, W, 2), np.uint8)
    grey[10:20, 30:40] = [0, 77]
    grey[0:5, 0:5] = [255, 0]  # grey but transparent: outside
    results = [_result("bitmasklabels", {"imageDataURL": _data_url(png_bytes(grey, 4))},
                       "Tree", "a"),
               _result("bitmasklabels", {"imageDataURL": _data_url(_canvas(
                   np.zeros((H, W), np.uint8)))}, "Tree", "b")]
    export = _export(tmp_path / "e.json", [_task("img.png", results)])
    result = run_cli("make-masks", export, _png(tmp_path / "img.png"), "-o",
                     tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    expected = np.zeros((H, W), np.uint8)
    expected[10:20, 30:40] = 1
    np.testing.assert_array_equal(read_mask(tmp_path / "m.tif")[0], expected)
    assert "left out" not in result.stderr, result.stderr


def _bitmask(url) -> list[dict]:
    return [_task("a.png", [_result("bitmasklabels", {"imageDataURL": url}, "B")])]


@pytest.mark.parametrize("tasks, fragments", [
    (_bitmask("data:image/png;base64,@@not base64@@"), ("result[0]", "base64")),
    (_bitmask(_data_url(b"GIF89a" + bytes(40))), ("result[0]", "no PNG")),
    (_bitmask("data:image/jpeg;base64,/9j/4AAQ"), ("result[0]", "data:image/png;base64")),
    (_bitmask(None), ("result[0]", "imageDataURL")),
    (_bitmask(_data_url(_canvas(np.zeros((H, 2 * W), np.uint8)))),
     ("result[0]", "1280x480", "640x480")),
    (_bitmask(_data_url(_canvas(np.zeros((100000, 1), np.uint8))[:33] + bytes(20))),
     ("result[0]", "1x100000", "640x480")),
    (_bitmask(_data_url(png_bytes(np.zeros((H, W, 3), np.uint8), 2))),
     ("result[0]", "no alpha")),
    (_bitmask(_data_url(_canvas(BITMASK)[:-30])), ("result[0]", "cut short")),
])
def test_broken_bitmasks_are_refused_in_one_line(tmp_path, run_cli, tasks, fragments):
    _refused(tmp_path, run_cli, tasks, *fragments)
