"""Run-mode parity of the newest labels in each image's pixels (Supervisely with
oriented_bbox and alpha_mask, Label Studio with BitMask, VIA's CSV export and VIA 3, DOTA's
labelTxt, Labelbox, V7 Darwin, Datumaro): for each, one small export of two nearby houses (a gap of
3 px between them) and a car of the format's newest shape, and

- channels: --channels footprint,boundary,contact gives the default mask as its footprint,
  and the boundary and contact bands of its objects (contact in the gap of the houses);
- all_touched: --all-touched burns every pixel the default burns, of the same class;
- grids: a 20-degree turned and a south-up GeoTIFF of the same pixels get the north-up
  one's mask pixels (masks are on each image's own pixel grid);
- evaluate: the export as TRUTH against make-masks' mask as prediction is IoU 1 per class;
- workers: --workers 2 writes the bytes one process writes; --resume then skips all."""

from __future__ import annotations

import base64
import json
import zlib

import numpy as np
import pytest
from affine import Affine
from scipy import ndimage

from geotile.masks import boundary_band, contact_band
from tests.conftest import UTM_CRS, UTM_ORIGIN, write_raster
from tests.pixel_label_files import png_bytes, read_mask
from tests.via_files import via3_project, via_csv

W, H = 64, 48
NAMES = ("scene", "other")
#: two houses 3 px apart (x0, y0, x1, y1, pixel edges), and where the car is
HOUSES = ((4, 6, 16, 20), (19, 6, 30, 20))
CAR = (40, 26, 54, 38)


def _corners(box):
    x0, y0, x1, y1 = box
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def _car_alpha() -> np.ndarray:
    """The car as a mask of the image's size (a rim of low opacity, as antialiased)."""
    x0, y0, x1, y1 = CAR
    alpha = np.zeros((H, W), np.uint8)
    alpha[y0:y1, x0:x1] = 255
    alpha[y0, x0:x1] = 7
    return alpha


def _supervisely(root, names):
    meta = {"classes": [
        {"title": "house", "shape": "polygon", "color": "#FF0000", "id": 1},
        {"title": "car", "shape": "oriented_bbox", "color": "#00FF00", "id": 2},
        {"title": "smoke", "shape": "alpha_mask", "color": "#0000FF", "id": 3}],
        "tags": [], "projectType": "images"}
    root.mkdir(parents=True)
    (root / "meta.json").write_text(json.dumps(meta))
    (root / "ds0" / "ann").mkdir(parents=True)
    smoke = np.zeros((4, 6), np.uint8)
    smoke[1:3, 1:5] = 200
    png = zlib.compress(png_bytes(smoke, 0))
    x0, y0, x1, y1 = CAR
    objects = [*({"classTitle": "house", "geometryType": "polygon", "tags": [],
                  "points": {"exterior": [list(p) for p in _corners(b)], "interior": []}}
                 for b in HOUSES),
               {"classTitle": "car", "geometryType": "oriented_bbox", "tags": [],
                "points": [[x0, y0], [x1 - 1, y1 - 1]], "angle": 0.35},
               {"classTitle": "smoke", "geometryType": "alpha_mask", "tags": [],
                "bitmap": {"data": base64.b64encode(png).decode(), "origin": [4, 30]}}]
    for name in names:
        (root / "ds0" / "ann" / f"{name}.tif.json").write_text(json.dumps(
            {"description": "", "tags": [], "size": {"height": H, "width": W},
             "objects": objects}))
    return root


def _labelstudio(root, names):
    def percent(points):
        return [[100 * x / W, 100 * y / H] for x, y in points]

    def result(kind, value, label, rid):
        return {"id": rid, "type": kind, "from_name": "label", "to_name": "image",
                "original_width": W, "original_height": H, "image_rotation": 0,
                "value": {**value, kind: [label]}}

    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., 3] = _car_alpha()
    url = "data:image/png;base64," + base64.b64encode(png_bytes(rgba, 6)).decode()
    x0, y0, x1, y1 = HOUSES[1]
    regions = [
        result("polygonlabels", {"points": percent(_corners(HOUSES[0])), "closed": True},
               "House", "a"),
        result("rectanglelabels", {"x": 100 * x0 / W, "y": 100 * y0 / H,
                                   "width": 100 * (x1 - x0) / W,
                                   "height": 100 * (y1 - y0) / H, "rotation": 0},
               "House", "b"),
        result("bitmasklabels", {"imageDataURL": url}, "Car", "c")]
    tasks = [{"id": i, "data": {"image": f"/data/upload/1/{name}.tif"},
              "annotations": [{"id": 100 + i, "was_cancelled": False, "ground_truth": False,
                               "result": regions}], "predictions": []}
             for i, name in enumerate(names, 1)]
    root.mkdir(parents=True)
    (root / "export.json").write_text(json.dumps(tasks))
    return root / "export.json"


def _via_entries(names):
    def polygon(points):
        return {"name": "polygon", "all_points_x": [p[0] for p in points],
                "all_points_y": [p[1] for p in points]}

    x0, y0, x1, y1 = HOUSES[1]
    cx0, cy0, cx1, cy1 = CAR
    regions = [
        {"shape_attributes": polygon(_corners(HOUSES[0])), "region_attributes": {"kind": "house"}},
        {"shape_attributes": {"name": "rect", "x": x0, "y": y0, "width": x1 - x0,
                              "height": y1 - y0}, "region_attributes": {"kind": "house"}},
        {"shape_attributes": {"name": "ellipse", "cx": (cx0 + cx1) / 2, "cy": (cy0 + cy1) / 2,
                              "rx": (cx1 - cx0) / 2, "ry": (cy1 - cy0) / 2},
         "region_attributes": {"kind": "car"}}]
    return [{"filename": f"{name}.tif", "size": -1, "regions": regions,
             "file_attributes": {}} for name in names]


def _via_csv(root, names):
    return via_csv(root / "via.csv", *_via_entries(names))


def _via3(root, names):
    return via3_project(root / "project.json", *_via_entries(names))


def _dota(root, names):
    lines = [" ".join(f"{v:g}" for p in _corners(b) for v in p) + f" {kind} 0"
             for b, kind in ((HOUSES[0], "house"), (HOUSES[1], "house"),
                             ((CAR[0], CAR[1], CAR[2] - 1, CAR[3] - 1), "small-vehicle"))]
    # the car turned: its corners as a rhombus
    lines[2] = "40 32 47 26 54 32 47 38 small-vehicle 0"
    (root / "labelTxt").mkdir(parents=True)
    for name in names:
        (root / "labelTxt" / f"{name}.txt").write_text(
            "imagesource:GoogleEarth\ngsd:0.5\n" + "\n".join(lines) + "\n")
    return root / "labelTxt"


def _labelbox(root, names):
    x0, y0, x1, y1 = CAR
    objects = [*({"feature_id": f"f{i}", "name": "House", "value": "house",
                  "annotation_kind": "ImagePolygon",
                  "polygon": [{"x": x, "y": y} for x, y in _corners(b)]}
                 for i, b in enumerate(HOUSES)),
               {"feature_id": "f9", "name": "Car", "value": "car",
                "annotation_kind": "ImageBoundingBox",
                "bounding_box": {"top": y0, "left": x0, "height": y1 - y0, "width": x1 - x0}}]
    rows = [{"data_row": {"id": f"dr-{name}", "external_id": f"{name}.tif",
                          "row_data": f"https://storage.example/x/{name}.tif"},
             "media_attributes": {"width": W, "height": H, "mime_type": "image/tiff"},
             "projects": {"p1": {"name": "p", "labels": [
                 {"label_kind": "Default", "version": "1.0.0", "id": f"L{name}",
                  "label_details": {},
                  "annotations": {"objects": objects, "classifications": [],
                                  "relationships": []}}]}}}
             for name in names]
    root.mkdir(parents=True)
    (root / "export.ndjson").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root / "export.ndjson"


def _darwin(root, names):
    x0, y0, x1, y1 = CAR
    annotations = [*({"id": f"h{i}", "name": "house", "slot_names": ["0"], "polygon": {
        "paths": [[{"x": x, "y": y} for x, y in _corners(b)]]}}
        for i, b in enumerate(HOUSES)),
        {"id": "e", "name": "car", "slot_names": ["0"], "ellipse": {
            "center": {"x": (x0 + x1) / 2, "y": (y0 + y1) / 2},
            "radius": {"x": (x1 - x0) / 2, "y": (y1 - y0) / 2}, "angle": 0.4}}]
    root.mkdir(parents=True)
    for name in names:
        slot = {"type": "image", "slot_name": "0", "width": W, "height": H,
                "source_files": [{"file_name": f"{name}.tif", "url": "https://example.com/x"}]}
        (root / f"{name}.json").write_text(json.dumps(
            {"version": "2.0", "schema_ref": "https://example.com/2.0/schema.json",
             "item": {"name": f"{name}.tif", "path": "/", "slots": [slot]},
             "annotations": annotations, "properties": []}))
    return root


def _datumaro(root, names):
    x0, y0, x1, y1 = CAR
    annotations = [*({"id": i, "type": "polygon", "attributes": {}, "group": 0, "label_id": 0,
                      "z_order": 0, "points": [v for p in _corners(b) for v in p]}
                     for i, b in enumerate(HOUSES)),
                   {"id": 9, "type": "ellipse", "attributes": {}, "group": 0, "label_id": 1,
                    "z_order": 0, "points": [x0, y0, x1, y1]}]
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "default.json").write_text(json.dumps(
        {"dm_format_version": "1.0", "media_type": 2, "infos": {}, "categories": {"label": {
            "labels": [{"name": n, "parent": "", "attributes": []} for n in ("house", "car")],
            "label_groups": [], "attributes": []}},
         "items": [{"id": name, "annotations": annotations,
                    "image": {"path": f"{name}.tif", "size": [H, W]}} for name in names]}))
    return root


FORMATS = {"supervisely": _supervisely, "labelstudio": _labelstudio, "via_csv": _via_csv,
           "via3": _via3, "dota": _dota, "labelbox": _labelbox, "darwin": _darwin,
           "datumaro": _datumaro}

NORTH_UP = Affine.translation(*UTM_ORIGIN) * Affine.scale(0.5, -0.5)
GRIDS = {"north_up": NORTH_UP,
         "turned": Affine.translation(*UTM_ORIGIN) * Affine.rotation(20)
         * Affine.scale(0.5, -0.5),
         "south_up": Affine.translation(UTM_ORIGIN[0], UTM_ORIGIN[1] - H * 0.5)
         * Affine.scale(0.5, 0.5)}


def _images(folder, transform=NORTH_UP, names=NAMES):
    folder.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(3).integers(1, 255, (3, H, W), np.uint8)
    return [write_raster(folder / f"{name}.tif", pixels, crs=UTM_CRS, transform=transform)
            for name in names]


def _masks(run_cli, labels, images, out, *options):
    result = run_cli("make-masks", labels, *images, "-o", f"{out}/", *options)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(params=list(FORMATS))
def export(request, tmp_path):
    return FORMATS[request.param](tmp_path / "labels", NAMES)


def _mask(path, band=1):
    return read_mask(path, band)[0]


def test_channels(tmp_path, run_cli, export):
    images = _images(tmp_path / "images")
    _masks(run_cli, export, images[:1], tmp_path / "plain")
    _masks(run_cli, export, images[:1], tmp_path / "bands", "--channels",
           "footprint,boundary,contact")
    plain = _mask(tmp_path / "plain" / "scene.tif")
    footprint, boundary, contact = _mask(tmp_path / "bands" / "scene.tif", None)
    assert len(np.unique(plain)) >= 3, np.unique(plain)  # background, house, car
    np.testing.assert_array_equal(footprint, plain)
    # the objects lie apart: each instance one connected part of the footprint
    instances, count = ndimage.label(plain > 0)
    assert count >= 3
    np.testing.assert_array_equal(boundary, boundary_band(instances, 3))
    np.testing.assert_array_equal(contact, contact_band(instances, 10))
    assert contact[6:20, 15:20].any()  # in the gap of the houses
    assert not contact[plain > 0].any()


def test_all_touched(tmp_path, run_cli, export):
    images = _images(tmp_path / "images")
    _masks(run_cli, export, images[:1], tmp_path / "plain")
    _masks(run_cli, export, images[:1], tmp_path / "touched", "--all-touched")
    plain = _mask(tmp_path / "plain" / "scene.tif")
    touched = _mask(tmp_path / "touched" / "scene.tif")
    np.testing.assert_array_equal(touched[plain > 0], plain[plain > 0])


def test_turned_and_south_up_grids(tmp_path, run_cli, export):
    masks = {}
    for grid, transform in GRIDS.items():
        images = _images(tmp_path / grid, transform)
        _masks(run_cli, export, images[:1], tmp_path / f"m_{grid}")
        masks[grid] = _mask(tmp_path / f"m_{grid}" / "scene.tif")
    assert masks["north_up"].any()
    for grid in ("turned", "south_up"):
        np.testing.assert_array_equal(masks[grid], masks["north_up"], err_msg=grid)


def test_evaluate_own_mask_is_iou_1(tmp_path, run_cli, export):
    images = _images(tmp_path / "images")
    _masks(run_cli, export, images, tmp_path / "pred")
    result = run_cli("evaluate", tmp_path / "pred", export, "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    classes = [c for c in scores["classes"] if c.get("truth_pixels", 1) and c["class"]
               not in ("background",)]
    assert len(classes) >= 2, scores["classes"]
    assert all(c["iou"] == 1.0 for c in classes), scores["classes"]


def test_workers_and_resume(tmp_path, run_cli, export):
    images = _images(tmp_path / "images")
    _masks(run_cli, export, images, tmp_path / "one")
    _masks(run_cli, export, images, tmp_path / "two", "--workers", "2")
    for name in NAMES:
        assert ((tmp_path / "two" / f"{name}.tif").read_bytes()
                == (tmp_path / "one" / f"{name}.tif").read_bytes()), name
    again = _masks(run_cli, export, images, tmp_path / "one", "--resume")
    assert again.stdout.count("complete from an earlier run, skipped") == len(NAMES), \
        again.output


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_touching_houses_keep_their_shared_outline(tmp_path, run_cli, monkeypatch, fmt):
    """Two houses sharing an edge are two instances: the boundary band runs along the
    edge between them (contact, on background pixels only, has none there to mark)."""
    monkeypatch.setitem(globals(), "HOUSES", ((4, 6, 16, 20), (16, 6, 28, 20)))
    labels = FORMATS[fmt](tmp_path / "labels", NAMES[:1])
    images = _images(tmp_path / "images", names=NAMES[:1])
    _masks(run_cli, labels, images, tmp_path / "bands", "--channels", "footprint,boundary")
    footprint, boundary = _mask(tmp_path / "bands" / "scene.tif", None)
    assert footprint[9:17, 13:19].all()  # one solid class across the shared edge
    assert boundary[9:17, 15:17].all(), boundary[6:20, 12:20]
