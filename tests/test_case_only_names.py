"""Labels made on Windows/macOS (case-insensitive disks) naming TILE_1.TIF for tile_1.tif
on a Linux disk: the image was taken as unlabelled (an all-background mask, exit 0); now
it is paired, a warning naming both spellings. Where TILE_1.tif and tile_1.tif both lie on
the disk, the one the labels name gets them and the other is refused in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import assert_one_line_error, write_raster
from tests.pixel_label_files import read_mask
from tests.test_other_spelling_beside import FORMATS, SQUARE, H, W, write_box_label

LISTED, DISK = "TILE_1", "tile_1"


def _coco(root, stem):
    ring = [c for xy in SQUARE for c in xy]
    path = root / "coco.json"
    path.write_text(json.dumps({
        "images": [{"id": 1, "file_name": f"{stem}.TIF", "width": W, "height": H}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": [ring],
                         "area": 150.0, "bbox": [5, 5, 15, 10], "iscrowd": 0}],
        "categories": [{"id": 1, "name": "building"}]}))
    return path


def _cvat(root, stem):
    points = ";".join(f"{x},{y}" for x, y in SQUARE)
    path = root / "annotations.xml"
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<annotations><version>1.1</version><meta>'
        "<task><id>3</id><name>t</name><mode>annotation</mode><labels><label><name>building"
        "</name><color>#fa3253</color><type>polygon</type><attributes/></label></labels>"
        f'</task></meta><image id="0" name="{stem}.TIF" width="{W}" height="{H}">'
        f'<polygon label="building" occluded="0" source="manual" points="{points}" '
        'z_order="0"/></image></annotations>')
    return path


def _via(root, stem):
    xs, ys = zip(*SQUARE, strict=True)
    entry = {"filename": f"{stem}.TIF", "size": 123, "file_attributes": {}, "regions": [
        {"shape_attributes": {"name": "polygon", "all_points_x": list(xs),
                              "all_points_y": list(ys)},
         "region_attributes": {"label": "building"}}]}
    path = root / "via.json"
    path.write_text(json.dumps({f"{stem}.TIF123": entry}))
    return path


def _labelstudio(root, stem):
    points = [[100 * x / W, 100 * y / H] for x, y in SQUARE]
    result = [{"id": "r", "type": "polygonlabels", "from_name": "label", "to_name": "image",
               "original_width": W, "original_height": H, "image_rotation": 0,
               "value": {"points": points, "polygonlabels": ["building"]}}]
    path = root / "ls.json"
    path.write_text(json.dumps([{"id": 7, "data": {"image": f"/data/upload/1/{stem}.TIF"},
                                 "annotations": [{"id": 107, "was_cancelled": False,
                                                  "result": result}]}]))
    return path


def _labelme(root, stem):
    (root / "labelme").mkdir()
    (root / "labelme" / f"{stem}.json").write_text(json.dumps({
        "version": "5.0.1", "flags": {}, "imagePath": f"../images/{stem}.TIF",
        "imageData": None, "imageHeight": H, "imageWidth": W,
        "shapes": [{"label": "building", "points": [list(xy) for xy in SQUARE],
                    "group_id": None, "shape_type": "polygon", "flags": {}}]}))
    return root / "labelme"


EXPORTS = {**FORMATS, "coco": _coco, "cvat": _cvat, "via": _via,
           "labelstudio": _labelstudio, "labelme": _labelme}


BY_NAME = ("coco", "cvat", "via", "labelstudio")  # these list TILE_1.TIF, the others TILE_1.tif


def _image(tmp_path, name=f"{DISK}.tif"):
    (tmp_path / "images").mkdir(exist_ok=True)
    return write_raster(tmp_path / "images" / name, np.full((3, H, W), 90, np.uint8))


def _warned(result, *names):
    lines = [line for line in result.output.splitlines() if all(n in line for n in names)]
    assert lines, result.output


@pytest.mark.parametrize("kind", EXPORTS)
def test_an_export_naming_the_image_in_another_case_labels_it(tmp_path, run_cli, kind):
    """labels naming TILE_1.TIF, images/tile_1.tif alone: an all-zero mask with exit 0
    (or a refusal naming neither spelling); now the square is burnt, a warning names both."""
    image = _image(tmp_path)
    labels = EXPORTS[kind](tmp_path, LISTED)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    assert read_mask(tmp_path / "m.tif")[0][10, 10] == 1
    _warned(result, LISTED, f"{DISK}.tif")


@pytest.mark.parametrize("kind", EXPORTS)
def test_two_files_differing_by_case_each_get_only_their_own(tmp_path, run_cli, kind):
    """images/TILE_1.tif and images/tile_1.tif on one Linux disk, labels naming TILE_1:
    that one gets the square, the other is refused in one line naming both spellings."""
    own = _image(tmp_path, f"{LISTED}.{'TIF' if kind in BY_NAME else 'tif'}")
    other = _image(tmp_path)
    labels = EXPORTS[kind](tmp_path, LISTED)
    result = run_cli("make-masks", labels, own, "-o", tmp_path / "c.tif")
    assert result.exit_code == 0, result.output
    assert read_mask(tmp_path / "c.tif")[0][10, 10] == 1
    result = run_cli("make-masks", labels, other, "-o", tmp_path / "d.tif")
    assert_one_line_error(result, LISTED, "Rename")
    assert not (tmp_path / "d.tif").exists()


def test_a_yolo_txt_in_another_case_is_not_background_among_others(tmp_path, run_cli):
    """labels/a.txt and labels/TILE_1.txt for a.tif and tile_1.tif: tile_1.tif was burnt
    all background (exit 0, no word); now it takes TILE_1.txt, a warning naming both."""
    images = [_image(tmp_path, "a.tif"), _image(tmp_path)]
    labels = FORMATS["yolo"](tmp_path, "a")
    (labels / f"{LISTED}.txt").write_text((labels / "a.txt").read_text())
    result = run_cli("make-masks", labels, *images, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert read_mask(tmp_path / "out" / "a.tif")[0][10, 10] == 1
    assert read_mask(tmp_path / "out" / f"{DISK}.tif")[0][10, 10] == 1
    _warned(result, f"{LISTED}.txt", f"{DISK}.tif")


def test_a_label_file_in_another_case_labels_its_image(tmp_path, run_cli):
    """labels/TILE_1.geojson for images/tile_1.tif (refused, naming no case); now burnt;
    beside images/TILE_1.tif, tile_1.tif is refused naming both spellings."""
    image = _image(tmp_path)
    (tmp_path / "labels").mkdir()
    write_box_label(image, tmp_path / "labels" / f"{LISTED}.geojson")
    result = run_cli("make-masks", tmp_path / "labels", image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    assert read_mask(tmp_path / "m.tif")[0].sum() > 100
    _warned(result, LISTED, f"{DISK}.tif")
    own = _image(tmp_path, f"{LISTED}.tif")
    result = run_cli("make-masks", tmp_path / "labels", own, "-o", tmp_path / "c.tif")
    assert result.exit_code == 0, result.output
    assert "letter case" not in result.output  # its own: no warning
    result = run_cli("make-masks", tmp_path / "labels", image, "-o", tmp_path / "d.tif")
    assert_one_line_error(result, "letter case", f"{LISTED}.tif", "Rename")
    assert not (tmp_path / "d.tif").exists()


def _mask(path):
    mask = np.zeros((H, W), np.uint8)
    mask[5:20, 5:20] = 1
    path.parent.mkdir(exist_ok=True)
    write_raster(path, mask)


@pytest.mark.parametrize("mask", [f"{LISTED}.TIF", f"{LISTED}_MASK.tif"])
def test_tile_masks_in_another_case_are_the_image_s(tmp_path, run_cli, mask):
    """tile tile_1.tif --masks masks/ holding TILE_1.TIF (or TILE_1_MASK.tif): refused as
    having no mask, naming no case; now cut with it, a warning naming both spellings."""
    image = _image(tmp_path)
    _mask(tmp_path / "masks" / mask)
    result = run_cli("tile", image, "--masks", tmp_path / "masks", "-o", tmp_path / "out",
                     "--size", "16")
    assert result.exit_code == 0, result.output
    _warned(result, LISTED, f"{DISK}.tif")


def test_tile_masks_of_two_cases_each_go_to_their_own_image(tmp_path, run_cli):
    """masks/TILE_1.tif and masks/tile_1.tif, images of both names: each takes its own (not
    "several masks match"), with no warning."""
    images = [_image(tmp_path, f"{LISTED}.tif"), _image(tmp_path)]
    _mask(tmp_path / "masks" / f"{LISTED}.tif")
    write_raster(tmp_path / "masks" / f"{DISK}.tif", np.zeros((H, W), np.uint8))
    for image in images:
        result = run_cli("tile", image, "--masks", tmp_path / "masks", "-o",
                         tmp_path / image.stem, "--size", "16")
        assert result.exit_code == 0, result.output
        assert "letter case" not in result.output
    result = run_cli("tile", *images, "--masks", tmp_path / "masks", "-o", tmp_path / "both",
                     "--size", "16")  # in one run
    assert result.exit_code == 0, result.output
    assert "letter case" not in result.output
    cut = {name: [read_mask(m)[0].any() for m in (tmp_path / "both" / "masks").iterdir()
                  if m.name.startswith(name)] for name in (LISTED, DISK)}
    assert any(cut[LISTED]) and cut[DISK] and not any(cut[DISK])


def test_evaluate_truth_in_another_case_is_scored(tmp_path, run_cli):
    """evaluate pred/tile_1.tif against labels/TILE_1.txt with a.txt: the prediction was
    refused or scored against nothing; now scored against it (IoU 1), a warning naming it."""
    (tmp_path / "pred").mkdir()
    mask = np.zeros((H, W), np.uint8)
    mask[5:16, 5:21] = 1
    write_raster(tmp_path / "pred" / f"{DISK}.tif", mask, crs=None)
    labels = FORMATS["yolo"](tmp_path, LISTED)
    result = run_cli("evaluate", tmp_path / "pred" / f"{DISK}.tif", labels)
    assert result.exit_code == 0, result.output
    (x0, y0), (x1, y1) = SQUARE[0], SQUARE[2]
    support = [line.split()[-1] for line in result.output.splitlines()
               if line.startswith("building") and "." in line]
    assert support == [str((x1 - x0) * (y1 - y0))]  # the square is the truth
    _warned(result, LISTED, f"{DISK}.tif")


def test_extra_bands_in_another_case_are_stacked(tmp_path, run_cli):
    """tile tile_1.tif --extra-bands dsm/ holding TILE_1_DSM.tif: paired, bands stacked."""
    image = _image(tmp_path)
    (tmp_path / "dsm").mkdir()
    write_raster(tmp_path / "dsm" / f"{LISTED}_DSM.tif", np.full((H, W), 7, np.float32))
    result = run_cli("tile", image, "--extra-bands", tmp_path / "dsm", "--size", "16",
                     "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    _warned(result, LISTED, f"{DISK}.tif")


def test_evaluate_folders_pair_a_truth_in_another_case(tmp_path, run_cli):
    """pred/a.tif, pred/tile_1.tif against truth/a.tif, truth/TILE_1.tif: tile_1 was left
    out with a warning (exit 0, half the pixels scored); now paired, the warning naming
    both; pred/TILE_1.tif and pred/tile_1.tif with truths of both names each take their own."""
    mask = np.zeros((H, W), np.uint8)
    mask[5:16, 5:21] = 1
    for folder, stems in (("pred", ("a", DISK)), ("truth", ("a", LISTED))):
        (tmp_path / folder).mkdir()
        for stem in stems:
            write_raster(tmp_path / folder / f"{stem}.tif", mask, crs=None)
    result = run_cli("evaluate", tmp_path / "pred", tmp_path / "truth")
    assert result.exit_code == 0, result.output
    assert f"Pixels: {2 * H * W}" in result.output
    _warned(result, LISTED, DISK)
    other = np.zeros((H, W), np.uint8)
    other[20:30, 30:45] = 1
    write_raster(tmp_path / "truth" / f"{DISK}.tif", mask, crs=None)
    for folder in ("pred", "truth"):
        write_raster(tmp_path / folder / f"{LISTED}.tif", other, crs=None)
    result = run_cli("evaluate", tmp_path / "pred", tmp_path / "truth")
    assert result.exit_code == 0, result.output
    assert f"Pixels: {3 * H * W}" in result.output
    assert "mean IoU 1.0000" in result.output
    assert "letter case" not in result.output


def _yolo_pair(root, names):
    labels = FORMATS["yolo"](root, names[0])
    for i, name in enumerate(names[1:], 1):  # a square further right for each
        xy = " ".join(f"{(x + 20 * i) / W:.6f} {y / H:.6f}" for x, y in SQUARE)
        (labels / f"{name}.txt").write_text(f"0 {xy}\n")
    return labels


def _geojson_pair(root, names):
    (root / "labels").mkdir()
    for i, name in enumerate(names):
        image = root / "images" / f"{name}.tif"
        write_box_label(image, root / "labels" / f"{name}.geojson")
        path = root / "labels" / f"{name}.geojson"
        data = json.loads(path.read_text())
        ring = data["features"][0]["geometry"]["coordinates"][0]
        data["features"][0]["geometry"]["coordinates"][0] = [[x + 4 * i, y] for x, y in ring]
        path.write_text(json.dumps(data))
    return root / "labels"


@pytest.mark.parametrize("write", [_yolo_pair, _geojson_pair])
def test_label_files_of_two_cases_each_label_their_own_image(tmp_path, run_cli, write):
    """labels/TILE_1.* and labels/tile_1.* (a square further right) for images of both
    names: each image takes its own file, none refused, no warning."""
    images = [_image(tmp_path, f"{LISTED}.tif"), _image(tmp_path)]
    labels = write(tmp_path, [LISTED, DISK])
    result = run_cli("make-masks", labels, *images, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "letter case" not in result.output
    first, second = (read_mask(tmp_path / "out" / i.name)[0] for i in images)
    assert first.any() and second.any() and (first != second).any()
    for image, mask in zip(images, (first, second), strict=True):  # as its own file alone
        alone = tmp_path / image.stem
        alone.mkdir()
        own = next(f for f in labels.iterdir() if f.stem == image.stem)
        (alone / own.name).write_bytes(own.read_bytes())
        result = run_cli("make-masks", alone, image, "-o", tmp_path / f"{image.stem}.tif")
        assert result.exit_code == 0, result.output
        np.testing.assert_array_equal(read_mask(tmp_path / f"{image.stem}.tif")[0], mask)


def _merged(kind, root):
    """An export of ``kind`` listing TILE_1.TIF (the square) and tile_1.TIF (no object)."""
    (root / "a").mkdir()
    (root / "b").mkdir()
    first, second = EXPORTS[kind](root / "a", LISTED), EXPORTS[kind](root / "b", DISK)
    one, two = json.loads(first.read_text()), json.loads(second.read_text())
    if kind == "coco":
        two["images"][0]["id"] = 2
        one["images"] += two["images"]
    elif kind == "via":
        one.update(two)
        one[f"{DISK}.TIF123"]["regions"] = []
    else:
        two[0]["id"], two[0]["annotations"] = 8, [{"id": 108, "was_cancelled": False,
                                                   "result": []}]
        one += two
    path = root / first.name
    path.write_text(json.dumps(one))
    return path


@pytest.mark.parametrize("kind", ["coco", "via", "labelstudio"])
def test_an_export_listing_both_cases_gives_each_image_its_own(tmp_path, run_cli, kind):
    """An export listing TILE_1.TIF (a square) and tile_1.TIF (nothing), images of both
    names on the disk: each takes its own entry (the square, none), no warning."""
    images = [_image(tmp_path, f"{LISTED}.TIF"), _image(tmp_path, f"{DISK}.TIF")]
    labels = _merged(kind, tmp_path)
    result = run_cli("make-masks", labels, *images, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "letter case" not in result.output
    assert read_mask(tmp_path / "out" / f"{images[0].stem}.tif")[0][10, 10] == 1
    assert not read_mask(tmp_path / "out" / f"{images[1].stem}.tif")[0].any()


def test_evaluate_places_a_road_csv_s_id_in_another_case(tmp_path, run_cli, make_raster):
    """A SpaceNet road CSV of ImageId AOI_TILE_1, --image holding RGB-PanSharpen_aoi_tile_1
    .tif: the lines were scored on it in silence; now a warning names both spellings."""
    from tests.test_lines import road_network, write_lines
    from tests.test_spacenet_roads import CELL, SIZE, TRANSFORM, X0, Y0, roads_csv, scored

    (tmp_path / "images").mkdir()
    make_raster("images/RGB-PanSharpen_aoi_tile_1.tif", np.zeros((3, SIZE, SIZE), np.uint8),
                transform=TRANSFORM)
    truth = roads_csv(tmp_path / "truth.csv", image_id="AOI_TILE_1", empty=())
    pred = write_lines(tmp_path / "pred.geojson", road_network(X0, Y0, SIZE * CELL))
    got = scored(run_cli, pred, truth, "--image", tmp_path / "images")
    assert got["precision"] == pytest.approx(1.0) and got["recall"] == pytest.approx(1.0)
    result = run_cli("evaluate", pred, truth, "--image", tmp_path / "images")
    _warned(result, "AOI_TILE_1", "aoi_tile_1.tif")


@pytest.mark.parametrize("kind", ["yolo", "spacenet"])
def test_a_stem_in_another_case_is_the_file_of_its_spelling_whatever_its_suffix(
        tmp_path, run_cli, kind):
    """images/TILE_1.TIF and images/tile_1.tif, labels of TILE_1 (by stem): TILE_1.TIF gets
    them; tile_1.tif took them too (exit 0); now it is refused naming both spellings."""
    own, other = _image(tmp_path, f"{LISTED}.TIF"), _image(tmp_path)
    labels = FORMATS[kind](tmp_path, LISTED)
    result = run_cli("make-masks", labels, own, "-o", tmp_path / "c.tif")
    assert result.exit_code == 0, result.output
    assert read_mask(tmp_path / "c.tif")[0][10, 10] == 1
    result = run_cli("make-masks", labels, other, "-o", tmp_path / "d.tif")
    assert_one_line_error(result, f"{LISTED}.TIF", "letter case", "Rename")
    assert not (tmp_path / "d.tif").exists()


def test_many_images_in_another_case_are_warned_of_once(tmp_path, run_cli):
    """A YOLO folder of IMG_<n>.txt for img_<n>.tif: a warning per image (one line each of a
    folder of thousands); now the first in full, the others in one line with their count."""
    labels = FORMATS["yolo"](tmp_path, "IMG_0")
    images = [_image(tmp_path, f"img_{n}.tif") for n in range(4)]
    for n in range(1, 4):
        (labels / f"IMG_{n}.txt").write_text((labels / "IMG_0.txt").read_text())
    result = run_cli("make-masks", labels, *images, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    said = [line for line in result.stderr.splitlines() if "letter case" in line]
    assert len(said) == 2 and "'IMG_0.tif'" in said[0], said
    assert f"{len(images) - 1} more images" in said[1]
    assert all(read_mask(tmp_path / "out" / i.name)[0][10, 10] == 1 for i in images)


def test_a_vector_prediction_named_after_another_image_in_capitals_is_refused(tmp_path,
                                                                            run_cli):
    """A.geojson (vectorize's of A.tif) with --image B's raster, truth listing A.JPG and
    B.JPG: scored against B's truth it would be an FP (exit 0); refused, as in lower case."""
    from tests.test_evaluate_pixel_truth_pairing import _classes, _coco, _square_geojson

    truth = _coco(tmp_path / "annotation.json", ("A.JPG", "B.JPG"))
    pred = _square_geojson(tmp_path / "A.geojson")
    assert_one_line_error(run_cli("evaluate", pred, truth, "--image",
                                  _classes(tmp_path / "B.tif")), "A.geojson", "A.JPG", "B.tif")


def test_mask_files_of_two_cases_given_one_by_one_go_to_their_own_images(tmp_path, run_cli):
    """tile TILE_1.tif tile_1.tif --masks masks/tile_1.tif masks/TILE_1.tif (listed in the
    other order): each image is cut with its own mask (an empty one for tile_1)."""
    images = [_image(tmp_path, f"{LISTED}.tif"), _image(tmp_path)]
    _mask(tmp_path / "masks" / f"{LISTED}.tif")
    write_raster(tmp_path / "masks" / f"{DISK}.tif", np.zeros((H, W), np.uint8))
    result = run_cli("tile", *images, "--masks", tmp_path / "masks" / f"{DISK}.tif",
                     "--masks", tmp_path / "masks" / f"{LISTED}.tif", "-o", tmp_path / "out",
                     "--size", "16")
    assert result.exit_code == 0, result.output
    assert "letter case" not in result.output
    cut = {name: [read_mask(m)[0].any() for m in (tmp_path / "out" / "masks").iterdir()
                  if m.name.startswith(name)] for name in (LISTED, DISK)}
    assert any(cut[LISTED]) and cut[DISK] and not any(cut[DISK])


def test_extra_bands_of_two_cases_go_to_their_own_images(tmp_path, run_cli):
    """dsm/TILE_1_DSM.tif (7) and dsm/tile_1_DSM.tif (3) for TILE_1.tif and tile_1.tif: each
    image stacks its own (not '2 extra-bands rasters'), with no warning."""
    images = [_image(tmp_path, f"{LISTED}.tif"), _image(tmp_path)]
    (tmp_path / "dsm").mkdir()
    for name, value in ((LISTED, 7), (DISK, 3)):
        write_raster(tmp_path / "dsm" / f"{name}_DSM.tif", np.full((H, W), value, np.float32))
    result = run_cli("tile", *images, "--extra-bands", tmp_path / "dsm", "--size", "16",
                     "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "letter case" not in result.output
    for name, value in ((LISTED, 7), (DISK, 3)):
        patch = next((tmp_path / "out" / "images").glob(f"{name}_*"))
        assert set(np.unique(read_mask(patch, None)[0][-1])) == {value}


def test_yolo_txts_of_two_cases_outside_an_images_folder_label_their_own(tmp_path, run_cli):
    """scenes/TILE_1.tif and scenes/tile_1.tif (no images/ folder), labels/TILE_1.txt and
    labels/tile_1.txt: each image its own .txt, not 'both pair with it'."""
    labels = _yolo_pair(tmp_path, [LISTED, DISK])
    (tmp_path / "scenes").mkdir()
    images = [write_raster(tmp_path / "scenes" / f"{n}.tif", np.full((3, H, W), 90, np.uint8))
              for n in (LISTED, DISK)]
    result = run_cli("make-masks", labels, *images, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    first, second = (read_mask(tmp_path / "out" / i.name)[0] for i in images)
    assert first[10, 10] == 1 and second[10, 10] == 0 and second.any()


def _supervisely_both(root):
    """A Supervisely project with ann/TILE_1.tif.json (a square) and ann/tile_1.tif.json
    (a square 20 px further right)."""
    project = FORMATS["supervisely"](root, LISTED)
    ann = json.loads((project / "ds0" / "ann" / f"{LISTED}.tif.json").read_text())
    ann["objects"][0]["points"]["exterior"] = [[x + 20, y] for x, y in SQUARE]
    (project / "ds0" / "ann" / f"{DISK}.tif.json").write_text(json.dumps(ann))
    return project


def test_supervisely_anns_of_two_cases_each_label_their_own_image(tmp_path, run_cli):
    """ann/TILE_1.tif.json and ann/tile_1.tif.json, images of both names: refused as '2
    annotations of it' (exit 1; paired yesterday); now each image takes its own ann."""
    images = [_image(tmp_path, f"{LISTED}.tif"), _image(tmp_path)]
    project = _supervisely_both(tmp_path)
    result = run_cli("make-masks", project, *images, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "letter case" not in result.output
    first, second = (read_mask(tmp_path / "out" / i.name)[0] for i in images)
    assert first[10, 10] == 1 and first[10, 30] == 0
    assert second[10, 30] == 1 and second[10, 10] == 0


def test_a_yolo_txt_spelled_as_one_of_two_images_leaves_the_other_background(tmp_path,
                                                                             run_cli):
    """labels/TILE_1.txt alone for images TILE_1.tif and tile_1.tif given together (two
    images on a Linux disk): tile_1.tif was refused as TILE_1's spelling (exit 1; background
    yesterday, as YOLO reads an image with no .txt); now TILE_1 takes the square and
    tile_1.tif is background, with no word of letter case."""
    images = [_image(tmp_path, f"{LISTED}.tif"), _image(tmp_path), _image(tmp_path, "c.tif")]
    labels = FORMATS["yolo"](tmp_path, LISTED)
    result = run_cli("make-masks", labels, *images, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "letter case" not in result.output
    assert read_mask(tmp_path / "out" / f"{LISTED}.tif")[0][10, 10] == 1
    assert not read_mask(tmp_path / "out" / f"{DISK}.tif")[0].any()
    result = run_cli("make-masks", labels, images[1], "-o", tmp_path / "d.tif")  # alone
    assert_one_line_error(result, LISTED, "Rename")


@pytest.mark.parametrize("stem", [LISTED, f"{LISTED}_pred", f"{LISTED}.png"])
def test_evaluate_against_a_coco_listing_both_cases_scores_each(tmp_path, run_cli, stem):
    """A COCO truth listing TILE_1.png (the square) and tile_1.png (nothing): the prediction
    TILE_1.tif (or TILE_1_pred.tif, TILE_1.png.tif) was refused as 'lists 2 images named
    'tile_1.png'' (exit 1; scored yesterday); now each prediction is scored against the
    entry spelled as it is: TILE_1's square found, tile_1's square a false positive."""
    from tests.test_evaluate_pixel_truth_pairing import _classes, _coco

    truth = _coco(tmp_path / "truth.json", [f"{LISTED}.png", f"{DISK}.png"], annotated=(1,))
    for name, found in ((stem, True), (DISK, False)):
        result = run_cli("evaluate", _classes(tmp_path / "pred" / f"{name}.tif"), truth)
        assert result.exit_code == 0, result.output
        assert "letter case" not in result.output
        assert ("mean IoU 1.0000" in result.output) is found, result.output


def test_evaluate_against_a_via_listing_both_cases_scores_each(tmp_path, run_cli):
    """A VIA truth listing TILE_1.TIF (the square) and tile_1.TIF (nothing): each prediction
    is scored against the entry spelled as it is, none refused as 'all of stem'."""
    from tests.test_evaluate_pixel_truth_pairing import _classes

    truth = _merged("via", tmp_path)
    (x0, y0), (x1, y1) = SQUARE[0], SQUARE[2]
    for name, support in ((LISTED, (x1 - x0) * (y1 - y0)), (DISK, 0)):
        result = run_cli("evaluate", _classes(tmp_path / "pred" / f"{name}.tif"), truth)
        assert result.exit_code == 0, result.output
        assert f"'{DISK if name == LISTED else LISTED}." not in result.output  # no other's
        rows = [line.split() for line in result.output.splitlines()
                if line.startswith("building") and "." in line]
        assert [int(row[-1]) for row in rows] == [support], result.output
