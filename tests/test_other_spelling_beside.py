"""Zürich_1.tif written in NFC and in NFD, both beside each other, labels naming one of
them: the other was given the same labels with exit 0 by the formats paired by a name or a
stem (Datumaro, Supervisely, SpaceNet CSV, YOLO); now it is refused in one line naming the
Unicode form (:func:`geotile.name_keys.refuse_other_spelling`, as COCO/CVAT/VIA do), and the
file the labels name still gets them."""

from __future__ import annotations

import json
import unicodedata

import numpy as np
import pytest
import rasterio

from tests.conftest import UTM_CRS, assert_one_line_error, write_raster
from tests.pixel_label_files import read_mask

H, W = 40, 50
NFC, NFD = (unicodedata.normalize(f, "Zürich_1") for f in ("NFC", "NFD"))
SQUARE = [(5, 5), (20, 5), (20, 15), (5, 15)]


def _datumaro(root, stem):
    ann = {"id": 0, "type": "polygon", "attributes": {}, "group": 0, "label_id": 0,
           "z_order": 0, "points": [c for xy in SQUARE for c in xy]}
    path = root / "dm" / "annotations" / "default.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({
        "dm_format_version": "1.0", "media_type": 2, "infos": {},
        "categories": {"label": {"labels": [{"name": "building", "parent": "",
                                             "attributes": []}],
                                 "label_groups": [], "attributes": []}},
        "items": [{"id": stem, "annotations": [ann],
                   "image": {"path": f"{stem}.tif", "size": [H, W]}}]}), encoding="utf-8")
    return root / "dm"


def _supervisely(root, stem):
    project = root / "project"
    (project / "ds0" / "ann").mkdir(parents=True)
    (project / "meta.json").write_text(json.dumps({"classes": [
        {"title": "building", "shape": "polygon", "color": "#FF0000", "id": 11}],
        "tags": [], "projectType": "images"}))
    house = {"id": 1, "classId": 11, "classTitle": "building", "geometryType": "polygon",
             "tags": [], "points": {"exterior": [list(xy) for xy in SQUARE], "interior": []}}
    (project / "ds0" / "ann" / f"{stem}.tif.json").write_text(json.dumps(
        {"description": "", "tags": [], "size": {"height": H, "width": W},
         "objects": [house]}), encoding="utf-8")
    return project


def _spacenet(root, stem):
    wkt = "POLYGON (({}))".format(",".join(f"{x} {y} 0" for x, y in [*SQUARE, SQUARE[0]]))
    path = root / "labels.csv"
    path.write_text(f'ImageId,BuildingId,PolygonWKT_Pix,PolygonWKT_Geo\n{stem},1,"{wkt}",'
                    f'"{wkt}"\n', encoding="utf-8")
    return path


def _yolo(root, stem):
    (root / "labels").mkdir()
    xy = " ".join(f"{x / W:.6f} {y / H:.6f}" for x, y in SQUARE)
    (root / "labels" / f"{stem}.txt").write_text(f"0 {xy}\n", encoding="utf-8")
    (root / "data.yaml").write_text("names: [building]\n")
    return root / "labels"


FORMATS = {"datumaro": _datumaro, "supervisely": _supervisely, "spacenet": _spacenet,
           "yolo": _yolo}


@pytest.mark.parametrize("kind", FORMATS)
def test_labels_of_one_spelling_are_not_the_other_file_s(tmp_path, run_cli, kind):
    """The NFC file gets the square; the NFD one beside it (the labels name none of its
    spelling) was given it too with exit 0, now it is refused and nothing is written."""
    (tmp_path / "images").mkdir()
    for stem in (NFC, NFD):
        write_raster(tmp_path / "images" / f"{stem}.tif", np.full((3, H, W), 90, np.uint8))
    labels = FORMATS[kind](tmp_path, NFC)
    result = run_cli("make-masks", labels, tmp_path / "images" / f"{NFC}.tif", "-o",
                     tmp_path / "c.tif")
    assert result.exit_code == 0, result.output
    assert read_mask(tmp_path / "c.tif")[0][10, 10] == 1
    result = run_cli("make-masks", labels, tmp_path / "images" / f"{NFD}.tif", "-o",
                     tmp_path / "d.tif")
    assert_one_line_error(result, "Unicode form", "Rename")
    assert not (tmp_path / "d.tif").exists()


def _two_images(tmp_path):
    (tmp_path / "images").mkdir()
    return [write_raster(tmp_path / "images" / f"{stem}.tif", np.full((3, H, W), 90, np.uint8))
            for stem in (NFC, NFD)]


def write_box_label(image, path) -> None:
    """A GeoJSON of one 15 x 10 m box near ``image``'s top-left corner, in its UTM CRS (a
    legacy 'crs' member), at ``path``."""
    with rasterio.open(image) as src:
        left, top = src.bounds.left, src.bounds.top
    ring = [[left + 5, top - 5], [left + 20, top - 5], [left + 20, top - 15],
            [left + 5, top - 15], [left + 5, top - 5]]
    code = UTM_CRS.split(":")[-1]
    path.write_text(json.dumps({
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{code}"}},
        "features": [{"type": "Feature", "properties": {},
                      "geometry": {"type": "Polygon", "coordinates": [ring]}}]}),
        encoding="utf-8")


def test_a_label_folder_s_file_of_one_spelling_is_not_the_other_image_s(tmp_path, run_cli):
    """labels/Zürich_1.geojson (NFC) in a folder of label files, both images beside each
    other: the NFD image was paired with it (exit 0); now it is refused, the NFC one burns."""
    nfc, nfd = _two_images(tmp_path)
    (tmp_path / "labels").mkdir()
    write_box_label(nfc, tmp_path / "labels" / f"{NFC}.geojson")
    result = run_cli("make-masks", tmp_path / "labels", nfc, "-o", tmp_path / "c.tif")
    assert result.exit_code == 0, result.output
    assert read_mask(tmp_path / "c.tif")[0].sum() > 100
    result = run_cli("make-masks", tmp_path / "labels", nfd, "-o", tmp_path / "d.tif")
    assert_one_line_error(result, "Unicode form", f"{NFC}.geojson")
    assert not (tmp_path / "d.tif").exists()


def tile_takes_one_refuses_the_other(run_cli, tmp_path, nfc, nfd) -> None:
    """tile with --masks tmp_path/masks cuts the image the mask names (``nfc``) and refuses
    the other spelling (``nfd``) in one line, writing nothing."""
    result = run_cli("tile", nfc, "--masks", tmp_path / "masks", "-o", tmp_path / "c",
                     "--size", "16")
    assert result.exit_code == 0, result.output
    result = run_cli("tile", nfd, "--masks", tmp_path / "masks", "-o", tmp_path / "d",
                     "--size", "16")
    assert_one_line_error(result, "Unicode form", "Rename")
    assert not (tmp_path / "d").exists() or not any((tmp_path / "d").iterdir())


def test_a_mask_of_one_spelling_is_not_the_other_image_s(tmp_path, run_cli):
    """tile --masks masks/ holding Zürich_1.tif (NFC), both images beside each other: the
    NFD image was cut with the NFC image's mask (12 patches, exit 0); now it is refused."""
    nfc, nfd = _two_images(tmp_path)
    (tmp_path / "masks").mkdir()
    mask = np.zeros((H, W), np.uint8)
    mask[5:20, 5:20] = 1
    write_raster(tmp_path / "masks" / f"{NFC}.tif", mask)
    tile_takes_one_refuses_the_other(run_cli, tmp_path, nfc, nfd)


def test_a_labelme_folder_s_file_of_one_spelling_is_not_the_other_image_s(tmp_path, run_cli):
    """labelme/Zürich_1.json (NFC) in a folder of Labelme files: the NFD image beside the
    NFC one took its shapes (225 px, exit 0); now it is refused."""
    nfc, nfd = _two_images(tmp_path)
    (tmp_path / "labelme").mkdir()
    (tmp_path / "labelme" / f"{NFC}.json").write_text(json.dumps({
        "version": "5.0.1", "flags": {}, "imagePath": f"../images/{NFC}.tif",
        "imageData": None, "imageHeight": H, "imageWidth": W,
        "shapes": [{"label": "building", "points": [list(xy) for xy in SQUARE],
                    "group_id": None, "shape_type": "polygon", "flags": {}}]}),
        encoding="utf-8")
    result = run_cli("make-masks", tmp_path / "labelme", nfc, "-o", tmp_path / "c.tif")
    assert result.exit_code == 0, result.output
    assert read_mask(tmp_path / "c.tif")[0][10, 10] == 1
    result = run_cli("make-masks", tmp_path / "labelme", nfd, "-o", tmp_path / "d.tif")
    assert_one_line_error(result, "Unicode form", "Rename")
    assert not (tmp_path / "d.tif").exists()


def test_evaluate_s_yolo_truth_of_one_spelling_is_not_the_other_prediction_s(tmp_path,
                                                                             run_cli):
    """evaluate pred/Zürich_1.tif (NFD, beside the NFC one) against a YOLO labels folder
    holding Zürich_1.txt (NFC): it was scored against the NFC image's truth (IoU 1.0,
    exit 0); now it is refused, and the NFC prediction still scored."""
    (tmp_path / "pred").mkdir()
    mask = np.zeros((H, W), np.uint8)
    mask[5:16, 5:21] = 1
    for stem in (NFC, NFD):
        write_raster(tmp_path / "pred" / f"{stem}.tif", mask, crs=None)
    labels = _yolo(tmp_path, NFC)
    result = run_cli("evaluate", tmp_path / "pred" / f"{NFC}.tif", labels)
    assert result.exit_code == 0, result.output
    assert "building" in result.output
    result = run_cli("evaluate", tmp_path / "pred" / f"{NFD}.tif", labels)
    assert_one_line_error(result, "Unicode form", "Rename")


@pytest.mark.parametrize("kind", ["datumaro", "supervisely"])
def test_evaluate_s_export_truth_of_one_spelling_is_not_the_other_prediction_s(
        tmp_path, run_cli, kind):
    """evaluate pred/Zürich_1.tif (NFD, beside the NFC prediction) against an export naming
    Zürich_1.tif in NFC: it was scored against that image's truth (exit 0); now refused."""
    (tmp_path / "pred").mkdir()
    mask = np.zeros((H, W), np.uint8)
    mask[5:16, 5:21] = 1
    for stem in (NFC, NFD):
        write_raster(tmp_path / "pred" / f"{stem}.tif", mask, crs=None)
    labels = FORMATS[kind](tmp_path, NFC)
    result = run_cli("evaluate", tmp_path / "pred" / f"{NFC}.tif", labels)
    assert result.exit_code == 0, result.output
    result = run_cli("evaluate", tmp_path / "pred" / f"{NFD}.tif", labels)
    assert_one_line_error(result, "Unicode form", "Rename")


def test_a_label_folder_with_a_file_of_each_spelling_gives_each_its_own(tmp_path, run_cli):
    """labels/ holding Zürich_1.geojson in NFC (a box) and in NFD (no building), both
    images beside each other: refused as 'both pair with it' (exit 1); now each image's
    mask is made from the file spelled as it is."""
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    for stem in (NFC, NFD):
        write_raster(tmp_path / "images" / f"{stem}.tif", np.full((3, H, W), 90, np.uint8))
    write_box_label(tmp_path / "images" / f"{NFC}.tif", tmp_path / "labels" / f"{NFC}.geojson")
    box = json.loads((tmp_path / "labels" / f"{NFC}.geojson").read_text(encoding="utf-8"))
    (tmp_path / "labels" / f"{NFD}.geojson").write_text(
        json.dumps({**box, "features": []}), encoding="utf-8")
    result = run_cli("make-masks", tmp_path / "labels", tmp_path / "images",
                     "-o", f"{tmp_path / 'masks'}/")
    assert result.exit_code == 0, result.output
    assert int(read_mask(tmp_path / "masks" / f"{NFC}.tif")[0].sum()) > 0
    assert int(read_mask(tmp_path / "masks" / f"{NFD}.tif")[0].sum()) == 0
