"""Annotation exports made on Windows and macOS: the image names they list in the other
Unicode normal form than the file's on disk (macOS writes Zürich decomposed, NFD; CVAT,
COCO tools and Windows write it composed, NFC) pair with their image in each format that
names images inside one file, and burn the same mask as plain ASCII names do."""

from __future__ import annotations

import json
import unicodedata

import numpy as np
import pytest

from tests.conftest import assert_one_line_error, write_raster
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


def _labelbox(path, name):
    house = {"feature_id": "f1", "name": "building", "value": "building",
             "annotation_kind": "ImagePolygon", "polygon": [{"x": x, "y": y} for x, y in HOUSE]}
    label = {"label_kind": "Default", "version": "1.0.0", "id": "L1",
             "label_details": {"created_by": "a@b.c"},
             "annotations": {"objects": [house], "classifications": [], "relationships": []}}
    row = {"data_row": {"id": "dr-1", "external_id": f"D:\\fotos\\{name}",
                        "row_data": "https://storage.example/x/1"},
           "media_attributes": {"width": W, "height": H, "mime_type": "image/tiff"},
           "projects": {"proj1": {"name": "p", "labels": [label]}}}
    return json.dumps(row) + "\n"


FORMATS = {"coco": (_coco, "labels.json"), "cvat": (_cvat, "annotations.xml"),
           "labelbox": (_labelbox, "export.ndjson"),
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


@pytest.mark.parametrize("forms", NAMES)
def test_a_spacenet_image_id_in_the_other_unicode_form_names_its_image(tmp_path, run_cli,
                                                                        forms):
    """A SpaceNet-style CSV whose ImageId is Zürich_1 in the other form than the image's
    file was refused: "no ImageId matches the images (Zürich_1); the file names e.g.
    Zürich_1"; now its rows burn, and only its own."""
    disk, listed = (unicodedata.normalize(form, "Zürich_1") for form in NAMES[forms])
    image = write_raster(tmp_path / f"{disk}.tif", np.full((3, H, W), 90, np.uint8))
    pixels = "POLYGON (({} 0,{} 0,{} 0,{} 0,{} 0))"
    house = pixels.format(*(f"{x} {y}" for x, y in [*HOUSE, HOUSE[0]]))
    other = pixels.format("1 30", "6 30", "6 38", "1 38", "1 30")
    labels = tmp_path / "labels.csv"
    labels.write_text("ImageId,BuildingId,PolygonWKT_Pix,PolygonWKT_Geo\n"
                      f'other,1,"{other}","{other}"\n{listed},1,"{house}","{house}"\n',
                      encoding="utf-8")
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    mask = read_mask(tmp_path / "m.tif")[0]
    expected = _masked(tmp_path / "coco", run_cli, "coco", "tile_1.tif", "tile_1.tif")
    np.testing.assert_array_equal(mask, expected)


@pytest.mark.parametrize("forms", NAMES)
def test_a_supervisely_ann_file_in_the_other_unicode_form_names_its_image(tmp_path, run_cli,
                                                                          forms):
    """A Supervisely project's ann/Zürich_1.tif.json (unpacked on Linux from a macOS
    archive, or the reverse) pairs with the image Zürich_1.tif given from elsewhere."""
    disk, listed = (unicodedata.normalize(form, "Zürich_1.tif") for form in NAMES[forms])
    root = tmp_path / "project"
    (root / "ds0" / "ann").mkdir(parents=True)
    (root / "ds0" / "img").mkdir()
    (root / "meta.json").write_text(json.dumps({"classes": [
        {"title": "building", "shape": "polygon", "color": "#FF0000", "id": 11}],
        "tags": [], "projectType": "images"}))
    house = {"id": 1, "classId": 11, "classTitle": "building", "geometryType": "polygon",
             "tags": [], "points": {"exterior": [[5, 5], [20, 5], [20, 15], [5, 15]],
                                    "interior": []}}
    (root / "ds0" / "ann" / f"{listed}.json").write_text(json.dumps(
        {"description": "", "tags": [], "size": {"height": H, "width": W},
         "objects": [house]}), encoding="utf-8")
    image = write_raster(tmp_path / disk, np.full((3, H, W), 90, np.uint8))
    result = run_cli("make-masks", root, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    expected = np.zeros((H, W), np.uint8)
    expected[5:16, 5:21] = 1
    np.testing.assert_array_equal(read_mask(tmp_path / "m.tif")[0], expected)


@pytest.mark.parametrize("url", ["/data/local-files/?d=dataset1%5Ctile_1.tif",
                                 "/data/local-files/?d=C%3A%5Cdata%5Ctile_1.tif",
                                 "http://localhost:8080/data/local-files/?d=a%5Cb/tile_1.tif"])
def test_a_label_studio_url_of_a_windows_path_names_its_file(tmp_path, run_cli, url):
    """Label Studio on Windows escapes the folder's backslash in a local file's URL
    (?d=dataset1%5C3293148.jpg, HumanSignal/label-studio#4121): the task was taken to name
    the whole unescaped path, and its image was refused; now it names tile_1.tif."""
    from geotile.dataset_names import url_name

    assert url_name(url) == "tile_1.tif"
    expected = _masked(tmp_path / "plain", run_cli, "labelstudio", "tile_1.tif", "tile_1.tif")
    image = write_raster(tmp_path / "tile_1.tif", np.full((3, H, W), 90, np.uint8))
    task = _labelstudio(None, "tile_1.tif")
    task[0]["data"]["image"] = url
    (tmp_path / "export.json").write_text(json.dumps(task))
    result = run_cli("make-masks", tmp_path / "export.json", image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read_mask(tmp_path / "m.tif")[0], expected)


def _two_folder_export(tmp_path, kind: str, names: list[str]):
    """A COCO or CVAT export listing ``names`` (one file name in two folders): the house on
    the first, a small box at the left edge (1..6, 30..38) on the second."""
    second = [(1, 30), (6, 30), (6, 38), (1, 38)]
    if kind == "coco":
        labels = tmp_path / "labels.json"
        document = _coco(labels, "x")
        document["images"] = [{"id": i + 1, "file_name": n, "width": W, "height": H}
                              for i, n in enumerate(names)]
        document["annotations"].append({**document["annotations"][0], "id": 2, "image_id": 2,
                                        "segmentation": [[c for xy in second for c in xy]]})
        labels.write_text(json.dumps(document))
        return labels
    labels = tmp_path / "annotations.xml"
    one = _cvat(labels, "x").split("<image ")
    two = "<image " + one[1].replace('name="imgs/x"', f'name="{names[1]}"').replace(
        'id="0"', 'id="1"').replace(
        ";".join(f"{x},{y}" for x, y in HOUSE), ";".join(f"{x},{y}" for x, y in second))
    one[1] = one[1].replace('name="imgs/x"', f'name="{names[0]}"')
    labels.write_text("<image ".join(one).replace("</annotations>", two))
    return labels


@pytest.mark.parametrize("kind", ["coco", "cvat"])
@pytest.mark.parametrize("folder", ["C:\\data\\", "/Users/ana/data/", "D:/proj/"])
def test_one_name_in_two_folders_of_another_machine_takes_the_image_s_folder(
        tmp_path, run_cli, kind, folder):
    """An export listing north\\img.tif and south\\img.tif under a Windows or macOS folder
    (C:\\data\\north\\img.tif) was refused for each image, "give the image by a path that
    ends with one of them", a path no Linux image can have; now each image takes the entry
    of its own folder (north/img.tif: north's), and an image in a third folder is refused."""
    names = [f"{folder}north\\img.tif", f"{folder}south\\img.tif"]
    labels = _two_folder_export(tmp_path, kind, names)
    masks = {}
    for where in ("north", "south", "west"):
        image = write_raster((tmp_path / "imgs" / where).mkdir(parents=True) or
                             tmp_path / "imgs" / where / "img.tif",
                             np.full((3, H, W), 90, np.uint8))
        result = run_cli("make-masks", labels, image, "-o", tmp_path / f"{where}.tif")
        if where == "west":
            assert_one_line_error(result, "img.tif", "north", "south")
            assert not (tmp_path / "west.tif").exists()
            continue
        assert result.exit_code == 0, result.output
        masks[where] = read_mask(tmp_path / f"{where}.tif")[0]
    assert masks["north"][10, 15] == 1 and masks["north"][34, 3] == 0
    assert masks["south"][10, 15] == 0 and masks["south"][34, 3] == 1


@pytest.mark.parametrize("kind", ["coco", "cvat"])
def test_one_name_in_two_folders_given_relative_takes_the_image_s_folder(
        tmp_path, run_cli, monkeypatch, kind):
    """The image given as img.tif from inside south/ (make-masks labels img.tif) was refused
    ("lists 2 images named 'img.tif' ... give the image by a path that ends with one of
    them"): its folder was read from the path as typed. Now from where it is."""
    names = ["C:\\data\\north\\img.tif", "C:\\data\\south\\img.tif"]
    labels = _two_folder_export(tmp_path, kind, names)
    (tmp_path / "imgs" / "south").mkdir(parents=True)
    write_raster(tmp_path / "imgs" / "south" / "img.tif", np.full((3, H, W), 90, np.uint8))
    monkeypatch.chdir(tmp_path / "imgs" / "south")
    result = run_cli("make-masks", labels, "img.tif", "-o", tmp_path / "s.tif")
    assert result.exit_code == 0, result.output
    mask = read_mask(tmp_path / "s.tif")[0]
    assert mask[10, 15] == 0 and mask[34, 3] == 1


def _two_forms(tmp_path, kind, listed):
    """labels naming Zürich.tif in the forms ``listed`` (the first with HOUSE, the second
    with a square at the left edge), and both spellings of it on disk."""
    second = [(1, 30), (6, 30), (6, 38), (1, 38)]
    names = [unicodedata.normalize(form, "Zürich.tif") for form in listed]
    if kind == "coco":
        labels = tmp_path / "labels.json"
        document = _coco(labels, "x")
        document["images"] = [{"id": i + 1, "file_name": n, "width": W, "height": H}
                              for i, n in enumerate(names)]
        if len(names) == 2:
            document["annotations"].append({**document["annotations"][0], "id": 2,
                                            "image_id": 2, "segmentation": [
                                                [c for xy in second for c in xy]]})
        labels.write_text(json.dumps(document))
    else:
        labels = tmp_path / "annotations.xml"
        one = _cvat(labels, "x").split("<image ")
        two = "<image " + one[1].replace('name="imgs/x"', f'name="{names[-1]}"').replace(
            'id="0"', 'id="1"').replace(
            ";".join(f"{x},{y}" for x, y in HOUSE), ";".join(f"{x},{y}" for x, y in second))
        one[1] = one[1].replace('name="imgs/x"', f'name="{names[0]}"')
        labels.write_text("<image ".join(one).replace("</annotations>", two if len(
            names) == 2 else "</annotations>"))
    (tmp_path / "imgs").mkdir()
    for form in ("NFC", "NFD"):
        write_raster(tmp_path / "imgs" / unicodedata.normalize(form, "Zürich.tif"),
                     np.full((3, H, W), 90, np.uint8))
    return labels


@pytest.mark.parametrize("kind", ["coco", "cvat"])
def test_both_unicode_forms_listed_and_on_disk_pair_by_spelling(tmp_path, run_cli, kind):
    """Zürich.tif in NFC and in NFD, both listed (other labels each) and both on disk: each
    image was refused ("lists 2 images named 'Zürich.tif' ... give the image by a path that
    ends with one of them", no path can). Now each takes the entry spelled as it is."""
    labels = _two_forms(tmp_path, kind, ("NFC", "NFD"))
    masks = {}
    for form in ("NFC", "NFD"):
        image = tmp_path / "imgs" / unicodedata.normalize(form, "Zürich.tif")
        result = run_cli("make-masks", labels, image, "-o", tmp_path / f"{form}.tif")
        assert result.exit_code == 0, result.output
        masks[form] = read_mask(tmp_path / f"{form}.tif")[0]
    assert masks["NFC"][10, 15] == 1 and masks["NFC"][34, 3] == 0
    assert masks["NFD"][10, 15] == 0 and masks["NFD"][34, 3] == 1


@pytest.mark.parametrize("kind", ["coco", "cvat"])
def test_one_unicode_form_listed_both_on_disk_is_refused_for_the_other(tmp_path, run_cli,
                                                                       kind):
    """Labels listing Zürich.tif in NFC, both spellings on disk: the NFD file took the NFC
    file's labels (two masks of one image's houses, exit 0). Now the NFC file gets them and
    the NFD one is refused naming the file the labels are for; a folder run writes nothing."""
    labels = _two_forms(tmp_path, kind, ("NFC",))
    nfc, nfd = (tmp_path / "imgs" / unicodedata.normalize(f, "Zürich.tif")
                for f in ("NFC", "NFD"))
    result = run_cli("make-masks", labels, nfc, "-o", tmp_path / "c.tif")
    assert result.exit_code == 0, result.output
    assert read_mask(tmp_path / "c.tif")[0][10, 15] == 1
    result = run_cli("make-masks", labels, nfd, "-o", tmp_path / "d.tif")
    assert_one_line_error(result, "Unicode form", "Rename")
    assert not (tmp_path / "d.tif").exists()
    result = run_cli("make-masks", labels, tmp_path / "imgs", "-o", tmp_path / "out")
    assert_one_line_error(result, "Unicode form")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("kind", FORMATS)
def test_a_name_listed_in_one_form_is_not_the_other_spelling_s_beside_it(tmp_path, run_cli,
                                                                          kind):
    """Zürich_1.tif listed in NFC, with both spellings on disk: the NFD file took the NFC
    file's labels (exit 0) in every one-file export; now it is refused naming the Unicode
    form, and the NFC file still gets them."""
    write, labels_name = FORMATS[kind]
    nfc, nfd = (unicodedata.normalize(f, "Zürich_1.tif") for f in ("NFC", "NFD"))
    for name in (nfc, nfd):
        write_raster(tmp_path / name, np.full((3, H, W), 90, np.uint8))
    labels = tmp_path / labels_name
    labels.parent.mkdir(parents=True, exist_ok=True)
    document = write(labels, nfc)
    labels.write_text(document if isinstance(document, str) else json.dumps(document),
                      encoding="utf-8")
    given = labels.parent if kind == "darwin" else labels
    result = run_cli("make-masks", given, tmp_path / nfc, "-o", tmp_path / "c.tif")
    assert result.exit_code == 0, result.output
    assert read_mask(tmp_path / "c.tif")[0].sum() > 200
    result = run_cli("make-masks", given, tmp_path / nfd, "-o", tmp_path / "d.tif")
    assert_one_line_error(result, "Unicode form")
    assert not (tmp_path / "d.tif").exists()
