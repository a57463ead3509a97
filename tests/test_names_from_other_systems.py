"""Annotation exports made on Windows and macOS: the image names they list in the other
Unicode normal form than the file's on disk (macOS writes Zürich decomposed, NFD; CVAT,
COCO tools and Windows write it composed, NFC) pair with their image in each format that
names images inside one file, and burn the same mask as plain ASCII names do."""

from __future__ import annotations

import json
import unicodedata

import numpy as np
import pytest

from tests.conftest import write_raster
from tests.pixel_label_files import read_mask

H, W = 40, 50
#: x, y pixel vertices
HOUSE = [(10.3, 5.2), (30.7, 6.1), (28.2, 25.9), (12.1, 22.4)]
NAMES = {"nfd-on-disk": ("NFD", "NFC"), "nfd-in-labels": ("NFC", "NFD")}


def _coco(path, name):
    return {"images": [{"id": 1, "file_name": f"C:\\data\\{name}", "width": W, "height": H}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0,
                             "segmentation": [[c for xy in HOUSE for c in xy]],
                             "bbox": [10, 5, 20, 20], "area": 300}],
            "categories": [{"id": 1, "name": "building"}]}


def _cvat(path, name):
    points = ";".join(f"{x},{y}" for x, y in HOUSE)
    return ('<?xml version="1.0" encoding="utf-8"?>\n<annotations><version>1.1</version>'
            "<meta><task><id>3</id><name>t</name><labels><label><name>building</name>"
            "<type>polygon</type></label></labels></task></meta>"
            f'<image id="0" name="imgs/{name}" width="{W}" height="{H}"><polygon '
            f'label="building" occluded="0" source="manual" points="{points}" z_order="0"/>'
            "</image></annotations>")


def _via(path, name):
    entry = {"filename": name, "size": -1, "file_attributes": {}, "regions": [
        {"shape_attributes": {"name": "polygon", "all_points_x": [x for x, _ in HOUSE],
                              "all_points_y": [y for _, y in HOUSE]},
         "region_attributes": {}}]}
    return {f"{name}-1": entry}


def _labelstudio(path, name):
    points = [[100 * x / W, 100 * y / H] for x, y in HOUSE]
    result = {"id": "r", "type": "polygonlabels", "from_name": "label", "to_name": "image",
              "original_width": W, "original_height": H, "image_rotation": 0,
              "value": {"points": points, "closed": True, "polygonlabels": ["building"]}}
    return [{"id": 7, "data": {"image": f"/data/local-files/?d=Users/ana/{name}"},
             "annotations": [{"id": 107, "was_cancelled": False, "ground_truth": False,
                              "result": [result]}], "predictions": []}]


def _darwin(path, name):
    slot = {"type": "image", "slot_name": "0", "width": W, "height": H,
            "source_files": [{"file_name": name, "url": "https://example.com/x"}]}
    polygon = {"id": "p", "name": "building", "slot_names": ["0"], "polygon": {
        "paths": [[{"x": x, "y": y} for x, y in HOUSE]]}}
    return {"version": "2.0", "schema_ref": "https://example.com/2.0/schema.json",
            "item": {"name": name, "path": "/", "slots": [slot]},
            "annotations": [polygon], "properties": []}


FORMATS = {"coco": (_coco, "labels.json"), "cvat": (_cvat, "annotations.xml"),
           "via": (_via, "via.json"), "labelstudio": (_labelstudio, "export.json"),
           "darwin": (_darwin, "darwin/item.json")}


def _masked(tmp_path, run_cli, kind, disk_name, listed_name):
    write, labels_name = FORMATS[kind]
    tmp_path.mkdir(parents=True)
    image = write_raster(tmp_path / disk_name, np.full((3, H, W), 90, np.uint8))
    labels = tmp_path / labels_name
    labels.parent.mkdir(parents=True, exist_ok=True)
    document = write(labels, listed_name)
    labels.write_text(document if isinstance(document, str) else json.dumps(document),
                      encoding="utf-8")
    given = labels.parent if kind == "darwin" else labels
    result = run_cli("make-masks", given, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    return read_mask(tmp_path / "m.tif")[0]


@pytest.mark.parametrize("kind", FORMATS)
@pytest.mark.parametrize("forms", NAMES)
def test_a_name_in_the_other_unicode_form_pairs_with_its_image(tmp_path, run_cli, kind,
                                                               forms):
    """Zürich_1.tif (NFD on disk, NFC in the labels, or the reverse) gets the same mask as
    tile_1.tif listed as tile_1.tif."""
    disk, listed = (unicodedata.normalize(form, "Zürich_1.tif") for form in NAMES[forms])
    assert disk != listed
    expected = _masked(tmp_path / "ascii", run_cli, kind, "tile_1.tif", "tile_1.tif")
    assert expected.sum() > 200
    mask = _masked(tmp_path / "foreign", run_cli, kind, disk, listed)
    np.testing.assert_array_equal(mask, expected)
