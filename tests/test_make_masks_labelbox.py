"""make-masks with Labelbox exports as LABELS (geotile.labelbox_labels): export v2 NDJSON
(streamed line by line) and the legacy JSON export v1, data rows paired by external_id or
row_data's file name, polygons and boxes in the image's pixels burnt by the pixel-centre rule
(against rasterio's rasterize on the same grid, a turned UTM grid too), lines and points left
out, masks by URL refused; the label chosen; evaluate against it as TRUTH; the refusals (one
line, exit 1, nothing written)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from rasterio.features import rasterize

from tests.conftest import UTM_CRS, assert_one_line_error, write_raster
from tests.pixel_label_files import one_image_as_all, plain_png, read_mask

W, H = 64, 48
HOUSE = [(5.3, 4.1), (30.2, 6.7), (25.9, 30.4), (7.7, 27.2)]  # pixels: x right, y down
CAR = {"top": 33.4, "left": 40.6, "height": 9.2, "width": 15.3}
SHED = [(20.2, 20.3), (45.1, 18.6), (44.4, 40.2)]  # over the house and the car: on top


def _v2_objects() -> list[dict]:
    return [
        {"feature_id": "f1", "name": "House", "value": "house", "annotation_kind":
         "ImagePolygon", "polygon": [{"x": x, "y": y} for x, y in HOUSE],
         "classifications": [{"name": "roof", "value": "roof",
                              "radio_answer": {"name": "Flat", "value": "flat"}}]},
        {"feature_id": "f2", "name": "Car", "value": "car", "annotation_kind":
         "ImageBoundingBox", "bounding_box": CAR},
        {"feature_id": "f3", "name": "Road", "value": "road", "annotation_kind":
         "ImagePolyline", "line": [{"x": 1, "y": 1}, {"x": 60, "y": 40}]},
        {"feature_id": "f4", "name": "Pole", "value": "pole", "annotation_kind": "ImagePoint",
         "point": {"x": 3, "y": 3}},
        {"feature_id": "f5", "name": "Garden Shed", "value": "garden_shed", "annotation_kind":
         "ImagePolygon", "polygon": [{"x": x, "y": y} for x, y in SHED]},
    ]


def _label(objects, label_id="L1", **extra) -> dict:
    return {"label_kind": "Default", "version": "1.0.0", "id": label_id,
            "label_details": {"created_by": "a@b.c", **extra},
            "annotations": {"objects": objects, "classifications": [
                {"name": "cloudy", "value": "cloudy", "radio_answer": {"name": "No"}}],
                "relationships": []}}


def _row(external_id, objects=None, labels=None, row_data=None, row_id=None, size=(W, H)):
    if labels is None:
        labels = [_label(_v2_objects() if objects is None else objects)]
    return {"data_row": {"id": row_id or f"dr-{external_id}", "external_id": external_id,
                         "row_data": row_data or f"https://storage.example/x/{external_id}"},
            "media_attributes": {"width": size[0], "height": size[1], "mime_type": "image/png",
                                 "exif_rotation": "1"},
            "projects": {"proj1": {"name": "p", "labels": labels}}}


def _ndjson(path: Path, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _expected(transform=None) -> np.ndarray:
    """Car 1, Garden Shed 2, House 3 (ids by sorted name), later on top: rasterio's
    rasterize of the shapes, placed through ``transform``, on the image's grid."""
    box = shapely.box(CAR["left"], CAR["top"], CAR["left"] + CAR["width"],
                      CAR["top"] + CAR["height"])
    transform = Affine.identity() if transform is None else transform
    shapes = [(shapely.Polygon(HOUSE), 3), (box, 1), (shapely.Polygon(SHED), 2)]
    placed = [(shapely.affinity.affine_transform(g, transform.to_shapely()), v)
              for g, v in shapes]
    return rasterize(placed, out_shape=(H, W), transform=transform, dtype="uint8")


def test_v2_polygons_and_boxes_pixel_exact_lines_and_points_left_out(tmp_path, run_cli):
    """A v2 row: polygon, box and a later polygon on top, burnt as rasterize burns them;
    classed by name (not value), nested and top-level classifications no classes; the
    polyline and the point left out with one warning counting them."""
    export = _ndjson(tmp_path / "export-result.ndjson", [_row("img_001.png")])
    image = plain_png(tmp_path / "images" / "img_001.png", W, H)
    result = run_cli("make-masks", export, image, "-o", tmp_path / "m.tif", "--json")
    assert result.exit_code == 0, result.output
    mask, _, tags, _ = read_mask(tmp_path / "m.tif")
    np.testing.assert_array_equal(mask, _expected())
    assert mask.any() and set(np.unique(mask)) == {0, 1, 2, 3}
    assert json.loads(tags["GEOTILE_CLASS_NAMES"]) == ["background", "Car", "Garden Shed",
                                                       "House"]
    (summary,) = json.loads(result.stdout)["masks"]
    assert summary["features"] == 3
    left_out = [line for line in result.stderr.splitlines() if "left out" in line]
    assert len(left_out) == 1, result.stderr
    assert "2 ImagePolyline or ImagePoint objects were left out" in left_out[0]
    assert "line 1 (data row dr-img_001.png)" in left_out[0]


def test_v1_json_export_gives_the_same_mask(tmp_path, run_cli):
    """The legacy export v1 (title, bbox, polygon beside each object's instanceURI mask,
    a Skipped row of an image not given): the same pixels and names as v2."""
    uri = "https://api.labelbox.com/masks/feature/x?token=y"
    objects = [
        {"featureId": "f1", "title": "House", "value": "house", "polygon": [
            {"x": x, "y": y} for x, y in HOUSE], "instanceURI": uri, "classifications": [
            {"title": "roof", "value": "roof", "answer": {"title": "Flat", "value": "flat"}}]},
        {"featureId": "f2", "title": "Car", "value": "car", "bbox": CAR, "instanceURI": uri},
        {"featureId": "f3", "title": "Road", "value": "road", "line": [
            {"x": 1, "y": 1}, {"x": 60, "y": 40}], "instanceURI": uri},
        {"featureId": "f5", "title": "Garden Shed", "value": "garden_shed", "polygon": [
            {"x": x, "y": y} for x, y in SHED], "instanceURI": uri},
    ]
    rows = [{"ID": "lab1", "DataRow ID": "dr1", "Labeled Data":
             "https://storage.labelbox.com/abc%2Fimg_001.png?Expires=1&Signature=z",
             "Label": {"objects": objects, "classifications": []}, "External ID": None,
             "Skipped": False},
            {"ID": "lab2", "DataRow ID": "dr2", "Labeled Data": "https://x/other.png",
             "Label": {}, "External ID": "other.png", "Skipped": True}]
    export = tmp_path / "export-2021-07-13T21_19_39.json"
    export.write_text(json.dumps(rows, indent=4))
    image = plain_png(tmp_path / "img_001.png", W, H)
    result = run_cli("make-masks", export, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read_mask(tmp_path / "m.tif")[0], _expected())
    assert "class ids by name: 1 Car, 2 Garden Shed, 3 House" in result.stdout
    assert "1 ImagePolyline or ImagePoint object was left out" in result.stderr


def test_a_turned_utm_image_takes_its_grid(tmp_path, run_cli):
    """A GeoTIFF whose geotransform turns its pixels (UTM, 20 degrees): the mask on the
    image's grid, the shapes placed through it, pixel for pixel rasterize's."""
    transform = (Affine.translation(500000.0, 4100000.0) * Affine.rotation(20)
                 * Affine.scale(0.3, -0.3))
    image = write_raster(tmp_path / "scene.tif", np.ones((3, H, W), np.uint8), crs=UTM_CRS,
                         transform=transform)
    export = _ndjson(tmp_path / "e.ndjson", [_row("scene.tif")])
    result = run_cli("make-masks", export, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    mask, profile, _, _ = read_mask(tmp_path / "m.tif")
    assert profile["crs"] == rasterio.crs.CRS.from_string(UTM_CRS)
    assert profile["transform"].almost_equals(transform)
    np.testing.assert_array_equal(mask, _expected(transform))


def test_rows_pair_by_external_id_or_row_data_name(tmp_path, run_cli):
    """external_id names one image, row_data's URL (its query string left out) another;
    rows of images not given are skipped; a label without objects is all background;
    --class-map maps the names."""
    rows = [_row("a.png"),
            _row(None, row_data="https://bucket.s3.amazonaws.com/tiles/b%20c.png?X-Amz=1",
                 row_id="dr-b"),
            _row("unused.png"),
            _row("d.png", objects=[])]
    export = _ndjson(tmp_path / "e.ndjson", rows)
    images = [plain_png(tmp_path / "i" / n, W, H) for n in ("a.png", "b c.png", "d.png")]
    class_map = tmp_path / "classes.json"
    class_map.write_text(json.dumps({"House": 7, "Car": 4, "Garden Shed": 9}))
    result = run_cli("make-masks", export, *images, "-o", f"{tmp_path / 'out'}/",
                     "--class-map", class_map)
    assert result.exit_code == 0, result.output
    ids = _expected()  # Car 1 -> 4, Garden Shed 2 -> 9, House 3 -> 7
    expected = np.select([ids == 1, ids == 2, ids == 3], [4, 9, 7], 0)
    np.testing.assert_array_equal(read_mask(tmp_path / "out" / "a.tif")[0], expected)
    np.testing.assert_array_equal(read_mask(tmp_path / "out" / "b c.tif")[0], expected)
    assert not read_mask(tmp_path / "out" / "d.tif")[0].any()
    assert "1 of 3 images have no region to burn in e.ndjson" in result.stdout


def test_a_row_pairs_by_its_global_key(tmp_path, run_cli):
    """A data row of no external_id (export v2 names it by global_key, as Labelbox's own
    sample export) whose row_data's file name is no image's (a signed URL of an upload):
    its global_key names its image."""
    row = _row(None, row_data="https://storage.labelbox.com/ck1%2F5e2c9b7a?Expires=1&Sig=x",
               row_id="dr-1")
    row["data_row"]["global_key"] = "tiles/a.png"
    export = _ndjson(tmp_path / "e.ndjson", [row])
    image = plain_png(tmp_path / "a.png", W, H)
    result = run_cli("make-masks", export, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read_mask(tmp_path / "m.tif")[0], _expected())


def test_several_labels_take_the_benchmark_or_are_refused(tmp_path, run_cli):
    """Two annotators' labels: refused naming them; one marked benchmark reference: it."""
    house = [_v2_objects()[0]]
    car = [_v2_objects()[1]]
    image = plain_png(tmp_path / "a.png", W, H)
    export = _ndjson(tmp_path / "two.ndjson", [_row("a.png", labels=[
        _label(house, "L1"), _label(car, "L2")])])
    result = run_cli("make-masks", export, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "two.ndjson line 1 (data row dr-a.png) has 2 labels",
                          "ids L1, L2", "benchmark")
    assert not (tmp_path / "m.tif").exists()
    export = _ndjson(tmp_path / "gold.ndjson", [_row("a.png", labels=[
        _label(house, "L1"), _label(car, "L2", is_benchmark_reference=True)])])
    result = run_cli("make-masks", export, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    assert json.loads(read_mask(tmp_path / "m.tif")[2]["GEOTILE_CLASS_NAMES"]) == [
        "background", "Car"]


@pytest.mark.parametrize("labels, said", [
    ([], "has no label: nobody labelled it"),
    ([{**_label([]), "skipped": True}], "its 1 label was skipped"),
    # export v2 with performance_details: a skip is told there
    ([{**_label([]), "performance_details": {"seconds_to_create": 3, "seconds_to_review": 0,
                                             "skipped": True}}], "its 1 label was skipped"),
])
def test_a_row_nobody_labelled_is_refused(tmp_path, run_cli, labels, said):
    export = _ndjson(tmp_path / "e.ndjson", [_row("a.png", labels=labels)])
    result = run_cli("make-masks", export, plain_png(tmp_path / "a.png", W, H), "-o",
                     tmp_path / "m.tif")
    assert_one_line_error(result, said, "leave the image out")
    assert not (tmp_path / "m.tif").exists()


def test_a_skipped_label_beside_a_real_one_is_left_out(tmp_path, run_cli):
    """A data row one annotator skipped (performance_details) and another labelled: the
    label, not a refusal of two labels, nor the skip's empty label as all background."""
    image = plain_png(tmp_path / "a.png", W, H)
    skipped = {**_label([], "L1"), "performance_details": {"skipped": True}}
    export = _ndjson(tmp_path / "e.ndjson", [_row("a.png", labels=[
        skipped, _label([_v2_objects()[1]], "L2")])])
    result = run_cli("make-masks", export, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    assert json.loads(read_mask(tmp_path / "m.tif")[2]["GEOTILE_CLASS_NAMES"]) == [
        "background", "Car"]


def test_a_mask_by_url_is_refused_never_fetched(tmp_path, run_cli):
    mask = {"feature_id": "f9", "name": "Water", "value": "water", "annotation_kind":
            "ImageSegmentationMask", "mask": {"url": "https://api.labelbox.com/api/v1/p/m"}}
    export = _ndjson(tmp_path / "e.ndjson", [_row("a.png", objects=[*_v2_objects(), mask])])
    result = run_cli("make-masks", export, plain_png(tmp_path / "a.png", W, H), "-o",
                     tmp_path / "m.tif")
    assert_one_line_error(result, "e.ndjson line 1 (data row dr-a.png) label L1 objects[5] "
                          "('Water') is a segmentation mask given by URL",
                          "does not fetch", "polygon", "download the masks")
    assert not (tmp_path / "m.tif").exists()


@pytest.mark.parametrize("broken, said", [
    ("cut", "line 2: not a JSON object"),
    ("list", "line 2: not a Labelbox data row"),
    ("two points", "line 2 (data row dr-b.png) label L1 objects[0] ('House') has polygon"),
    ("nan", "line 2 (data row dr-b.png) label L1 objects[0] ('House') has a point of nan"),
    ("negative box", "objects[1] ('Car') has a bounding box 15.3 px wide, -9.2 px high"),
    # an integer past any float was an OverflowError traceback
    ("huge width", "line 2: media_attributes width is 1000000000000000000000000000000000000..."),
])
def test_a_malformed_export_is_refused_naming_its_line(tmp_path, run_cli, broken, said):
    objects = _v2_objects()
    if broken == "two points":
        objects[0]["polygon"] = objects[0]["polygon"][:2]
    elif broken == "nan":
        objects[0]["polygon"][1]["x"] = float("nan")
    elif broken == "negative box":
        objects[1]["bounding_box"] = {**CAR, "height": -9.2}
    lines = [json.dumps(_row("a.png")), json.dumps(_row("b.png", objects=objects,
                                                        size=(10 ** 400, H)))
             if broken == "huge width" else json.dumps(_row("b.png", objects=objects))]
    if broken == "cut":
        lines[1] = lines[1][:len(lines[1]) // 2]
    elif broken == "list":
        lines[1] = "[1, 2]"
    export = tmp_path / "e.ndjson"
    export.write_text("\n".join(lines) + "\n")
    images = [plain_png(tmp_path / n, W, H) for n in ("a.png", "b.png")]
    result = run_cli("make-masks", export, *images, "-o", f"{tmp_path / 'out'}/")
    assert_one_line_error(result, f"{export} {said}" if broken != "negative box" else said)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_other_refusals(tmp_path, run_cli):
    """An image no row names, an image of another size than media_attributes, and the
    export given as vector labels: one line each, exit 1."""
    export = _ndjson(tmp_path / "e.ndjson", [_row("a.png"), _row("b.png", size=(W, H + 1))])
    result = run_cli("make-masks", export, plain_png(tmp_path / "z.png", W, H), "-o",
                     tmp_path / "m.tif")
    assert_one_line_error(result, "z.png: not in", "e.g. a.png, b.png")
    result = run_cli("make-masks", export, plain_png(tmp_path / "b.png", W, H), "-o",
                     tmp_path / "m.tif")
    assert_one_line_error(result, f"{W}x{H} px, but", f"{W}x{H + 1} px (media_attributes)")
    image = write_raster(tmp_path / "a.tif", np.ones((1, H, W), np.uint8))
    result = run_cli("tile", image, "--labels", export, "--annotations", "coco", "-o",
                     tmp_path / "p")
    assert_one_line_error(result, "a Labelbox export", "make-masks takes it")


def test_ndjson_is_streamed_never_read_whole(tmp_path, run_cli, monkeypatch):
    """An NDJSON export is read line by line: the whole-file JSON reader is never asked."""
    import geotile.json_text

    def whole(*_, **__):
        raise AssertionError("read whole")

    monkeypatch.setattr(geotile.json_text, "read_json", whole)
    export = _ndjson(tmp_path / "e.ndjson", [_row("a.png"), _row("b.png")])
    result = run_cli("make-masks", export, plain_png(tmp_path / "a.png", W, H), "-o",
                     tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read_mask(tmp_path / "m.tif")[0], _expected())


def test_the_oldest_export_of_titles_and_geometry(tmp_path, run_cli):
    """The 2018 export ({"Label": {"<title>": [{"geometry": [{x, y}...]}]}}): polygons."""
    rows = [{"ID": "c1", "Labeled Data": "https://storage.googleapis.com/b/img_001.png",
             "Label": {"House": [{"geometry": [{"x": x, "y": y} for x, y in HOUSE]}],
                       "model": "person-robot"}, "External ID": None}]
    export = tmp_path / "labelbox-xy-1.json"
    export.write_text(json.dumps(rows))
    result = run_cli("make-masks", export, plain_png(tmp_path / "img_001.png", W, H), "-o",
                     tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    expected = rasterize([(shapely.Polygon(HOUSE), 1)], out_shape=(H, W), dtype="uint8")
    np.testing.assert_array_equal(read_mask(tmp_path / "m.tif")[0], expected)
    rows[0]["Label"] = {"House": "MULTIPOLYGON (((5 4, 30 6, 25 30, 5 4)))"}
    export.write_text(json.dumps(rows))  # its WKT option: refused, never all background
    result = run_cli("make-masks", export, tmp_path / "img_001.png", "-o", tmp_path / "w.tif")
    assert_one_line_error(result, "Label 'House' is WKT", "XY")


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_evaluate_against_labelbox_truth(tmp_path, run_cli):
    """evaluate TRUTH a Labelbox export: a prediction raster (predict's <stem>.tif) scores
    as against make-masks' mask of its image."""
    export = _ndjson(tmp_path / "e.ndjson", [_row("img_001.png"), _row("img_002.png")])
    image = plain_png(tmp_path / "images" / "img_001.png", W, H)
    prediction = _expected().copy()
    prediction[:, :10] = 0
    (tmp_path / "pred").mkdir()
    pred = write_raster(tmp_path / "pred" / "img_001.tif", prediction[None], crs=None,
                        transform=Affine.identity())
    direct = run_cli("evaluate", pred, export, "--json")
    assert direct.exit_code == 0, direct.output
    made = run_cli("make-masks", export, image, "-o", tmp_path / "mask.tif")
    assert made.exit_code == 0, made.output
    against_mask = run_cli("evaluate", pred, tmp_path / "mask.tif", "--json")
    assert against_mask.exit_code == 0, against_mask.output
    scores = json.loads(direct.stdout)
    assert scores == json.loads(against_mask.stdout)
    house = next(c for c in scores["classes"] if c["class"] == "House")
    truth = (_expected() == 3).sum()
    assert house["iou"] == pytest.approx((_expected()[:, 10:] == 3).sum() / truth)


def test_a_one_line_v1_row_and_a_tiled_imagery_export(tmp_path, run_cli):
    """A v1 export of one row written on one line is JSON, not NDJSON; a tiled-imagery
    (geospatial) row is refused in one line: its labels are map coordinates."""
    row = {"ID": "c1", "DataRow ID": "d1", "Labeled Data": "https://x/img_001.png",
           "Label": {"objects": [{"title": "House", "value": "house", "polygon": [
               {"x": x, "y": y} for x, y in HOUSE]}], "classifications": []}, "Skipped": False}
    export = tmp_path / "one.json"
    export.write_text(json.dumps(row))
    image = plain_png(tmp_path / "img_001.png", W, H)
    result = run_cli("make-masks", export, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    assert (read_mask(tmp_path / "m.tif")[0] == 1).sum() == rasterize(
        [(shapely.Polygon(HOUSE), 1)], out_shape=(H, W)).sum()
    tiled = {**row, "Labeled Data": json.dumps({"tileLayerUrl": "https://t/{z}/{x}/{y}.png",
                                                "bounds": [[19.3, -99.4], [19.4, -99.2]]})}
    export.write_text(json.dumps([tiled]))
    result = run_cli("make-masks", export, image, "-o", tmp_path / "t.tif")
    assert_one_line_error(result, "one.json [0]: a tiled-imagery (geospatial) data row",
                          "vector labels")


def _polygon(name, points=SHED) -> dict:
    return {"feature_id": name, "name": name, "value": name.lower(),
            "annotation_kind": "ImagePolygon", "polygon": [{"x": x, "y": y} for x, y in points]}


def test_ids_are_the_export_s_whichever_images_are_masked(tmp_path, run_cli):
    """Rows a (House, a Road line), b (Car; beside it a skipped label's Antenna and a
    label not benchmarked's Boat: no classes), c (Garden Shed): c masked alone takes the
    export's ids (Car 1, Garden Shed 2, House 3), as all three masked; v1 JSON too."""
    objects = _v2_objects()
    rows = [_row("a.png", [objects[0], objects[2]]),
            _row("b.png", labels=[{**_label([_polygon("Antenna")], "L1"), "skipped": True},
                                  _label([_polygon("Boat")], "L2"),
                                  _label([objects[1]], "L3", is_benchmark_reference=True)]),
            _row("c.png", [objects[4]])]
    export = _ndjson(tmp_path / "e.ndjson", rows)
    images = [plain_png(tmp_path / "i" / f"{n}.png", W, H) for n in "abc"]
    mask = one_image_as_all(tmp_path, run_cli, export, images,
                            "class ids by name: 1 Car, 2 Garden Shed, 3 House")
    assert set(np.unique(mask)) == {0, 2}
    v1 = [{"ID": f"lab{n}", "DataRow ID": f"dr{n}", "Labeled Data": f"https://x/{n}.png",
           "External ID": f"{n}.png", "Skipped": skipped, "Label": {"objects": [
               {"featureId": title, "title": title, "polygon": [{"x": x, "y": y}
                                                                for x, y in SHED]}]}}
          for n, title, skipped in (("a", "House", False), ("b", "Antenna", True),
                                    ("c", "Garden Shed", False))]
    export = tmp_path / "export.json"
    export.write_text(json.dumps(v1))
    one = run_cli("make-masks", export, images[2], "-o", tmp_path / "v1.tif")
    assert one.exit_code == 0, one.output
    assert "class ids by name: 1 Garden Shed, 2 House" in one.stdout
    assert set(np.unique(read_mask(tmp_path / "v1.tif")[0])) == {0, 1}


def test_an_export_whose_first_line_is_broken_is_refused_naming_it(tmp_path, run_cli):
    """NDJSON whose first row is cut short, the next ones whole rows: it was 'not vector
    data GDAL can read' (the first line told Labelbox's export apart) -> told by the next
    line, refused naming line 1; nothing written."""
    lines = [json.dumps(_row("a.png")), "", json.dumps(_row("b.png"))]
    lines[0] = lines[0][:len(lines[0]) // 2]
    export = tmp_path / "e.ndjson"
    export.write_text("\n".join(lines) + "\n")
    images = [plain_png(tmp_path / n, W, H) for n in ("a.png", "b.png")]
    result = run_cli("make-masks", export, *images, "-o", f"{tmp_path / 'out'}/")
    assert_one_line_error(result, f"{export} line 1: not a JSON object", "Labelbox")
    assert "GDAL" not in result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    (tmp_path / "pred").mkdir()
    pred = write_raster(tmp_path / "pred" / "a.tif", np.zeros((1, H, W), np.uint8), crs=None,
                        transform=Affine.identity())
    result = run_cli("evaluate", pred, export)
    assert_one_line_error(result, f"{export} line 1: not a JSON object", "Labelbox")
