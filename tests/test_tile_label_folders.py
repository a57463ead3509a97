"""`tile IMAGES --labels FOLDER`: one vector label file per image (SpaceNet, xBD, SpaceNet 7's
<mosaic>_Buildings.geojson), paired by name as make-masks pairs them; each image's patches
hold the labels of its own file; COCO categories and YOLO class ids are run-wide."""

from __future__ import annotations

import json
import shutil

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from rasterio.transform import from_origin

from .conftest import UTM_CRS, UTM_ORIGIN, assert_one_line_error, write_raster
from .test_label_folders import _labels

X0, Y0 = UTM_ORIGIN
SIZE = 40  # px, 0.5 m: 20 m a side


def _image(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_raster(path, np.full((3, SIZE, SIZE), 9, np.uint8),
                        transform=from_origin(X0, Y0, 0.5, 0.5))


def _pixel_boxes(labels_geojson):
    """The pixel boxes (x0, y0, x1, y1; 0.5 m pixels) of a patch's GeoJSON labels."""
    frame = gpd.read_file(labels_geojson)
    return sorted(tuple(round(v, 6) for v in ((b[0] - X0) * 2, (Y0 - b[3]) * 2,
                                             (b[2] - X0) * 2, (Y0 - b[1]) * 2))
                  for b in frame.geometry.bounds.values)


def _coco(out):
    return json.loads((out / "annotations.json").read_text())


def test_spacenet_label_files_annotate_their_own_images(run_cli, tmp_path):
    """geojson/buildings/buildings_AOI_2_Vegas_img<i>.geojson holds the buildings of
    RGB-PanSharpen_AOI_2_Vegas_img<i>.tif: each image's patches hold its own file's
    buildings (one file in EPSG:4326, reprojected), not the other's that lie on the same
    ground; the file of no image given is left alone; SpaceNet 7's <mosaic>_Buildings.geojson
    pairs likewise."""
    boxes = {1: [(1, 1, 6, 5)], 2: [(10, 2, 15, 9), (2, 12, 8, 18)], 3: [(0, 0, 19, 19)]}
    folder = tmp_path / "geojson" / "buildings"
    for i, crs in ((1, UTM_CRS), (2, "EPSG:4326"), (3, UTM_CRS)):
        _labels(folder / f"buildings_AOI_2_Vegas_img{i}.geojson", boxes[i], crs=crs)
    images = tmp_path / "RGB-PanSharpen"
    for i in (1, 2):
        _image(images / f"RGB-PanSharpen_AOI_2_Vegas_img{i}.tif")
    out = tmp_path / "out"
    result = run_cli("tile", images, "--labels", folder, "--size", "40", "--annotations",
                     "coco", "-o", out)
    assert result.exit_code == 0, result.output
    for i in (1, 2):
        assert _pixel_boxes(out / "labels" / f"RGB-PanSharpen_AOI_2_Vegas_img{i}_0_0.geojson") \
            == sorted((2 * a, 2 * b, 2 * c, 2 * d) for a, b, c, d in boxes[i])
    coco = _coco(out)
    by_image = {i["id"]: i["file_name"] for i in coco["images"]}
    boxes_of = {}
    for a in coco["annotations"]:
        boxes_of.setdefault(by_image[a["image_id"]], []).append(
            [round(v, 6) for v in a["bbox"]])
    assert sorted(boxes_of["images/RGB-PanSharpen_AOI_2_Vegas_img2_0_0.tif"]) == \
        [[4, 24, 12, 12], [20, 4, 10, 14]]
    assert coco["categories"] == [{"id": 1, "name": "building", "supercategory": "none"}]

    # SpaceNet 7: a mosaic's labels/<mosaic>_Buildings.geojson, and a quoted pattern
    mosaic = "global_monthly_2018_01_mosaic_L15-0331E-1257N_1327_3160_13"
    _image(tmp_path / "s7" / "images" / f"{mosaic}.tif")
    _labels(tmp_path / "s7" / "labels" / f"{mosaic}_Buildings.geojson", boxes[2])
    out = tmp_path / "s7out"
    result = run_cli("tile", tmp_path / "s7" / "images", "--labels",
                     f"{tmp_path}/s7/labels/*.geojson", "--size", "40", "-o", out)
    assert result.exit_code == 0, result.output
    assert _pixel_boxes(out / "labels" / f"{mosaic}_0_0.geojson") == \
        sorted((2 * a, 2 * b, 2 * c, 2 * d) for a, b, c, d in boxes[2])


def test_xbd_label_files_annotate_their_pngs(run_cli, tmp_path):
    """xBD's labels/<name>.json for images/<name>.png (pixel coordinates, no CRS): each PNG's
    patches hold its own buildings, damage classes with the challenge's ids in every file
    (YOLO index = id - 1), classes.txt naming them all (xBD's un-classified 5 too)."""
    from tests.test_xbd import BUILDINGS, _xbd

    made = tmp_path / "made"
    made.mkdir()
    (tmp_path / "labels").mkdir()
    (tmp_path / "images").mkdir()
    names = {"hurricane-harvey_00000001_post_disaster": BUILDINGS,
             "hurricane-harvey_00000002_post_disaster": BUILDINGS[2:]}
    for name, buildings in names.items():
        labels, png = _xbd(made, name, buildings)
        shutil.move(labels, tmp_path / "labels" / labels.name)
        shutil.move(png, tmp_path / "images" / png.name)
    out = tmp_path / "out"
    result = run_cli("tile", tmp_path / "images", "--labels", tmp_path / "labels", "--size",
                     "128", "--class-field", "subtype", "--annotations", "yolo", "-o", out)
    assert result.exit_code == 0, result.output
    assert (out / "labels" / "classes.txt").read_text().splitlines() == \
        ["no-damage", "minor-damage", "major-damage", "destroyed", "un-classified"]
    damage = {"no-damage": 0, "minor-damage": 1, "major-damage": 2, "destroyed": 3}
    for name, buildings in names.items():
        lines = (out / "labels" / f"{name}_0_0.txt").read_text().splitlines()
        assert sorted(int(line.split()[0]) for line in lines) == \
            sorted(damage[d] for _, d in buildings)
        for line, (polygon, _) in zip(lines, buildings, strict=True):  # in pixels
            xy = np.array(line.split()[1:], float).reshape(-1, 2) * 128
            assert shapely.Polygon(xy).symmetric_difference(polygon).area < 0.05


def test_class_ids_are_the_same_across_images(run_cli, tmp_path):
    """--class-field kind: tile_1's file holds shed only, tile_2's house and shed. Ids go by
    the names of every paired file (house 1, shed 2) in each patch, COCO and YOLO alike,
    not 1 for shed in tile_1's file alone."""
    folder = tmp_path / "tiles"
    _image(folder / "tile_1.tif")
    _image(folder / "tile_2.tif")
    _labels(folder / "tile_1.geojson", [(1, 1, 4, 4)], ["shed"])
    _labels(folder / "tile_2.geojson", [(1, 1, 4, 4), (8, 8, 12, 12)], ["house", "shed"])
    out = tmp_path / "coco"
    result = run_cli("tile", folder / "tile_1.tif", folder / "tile_2.tif", "--labels", folder,
                     "--size", "40", "--class-field", "kind", "--annotations", "coco",
                     "-o", out)
    assert result.exit_code == 0, result.output
    coco = _coco(out)
    assert [(c["id"], c["name"]) for c in coco["categories"]] == [(1, "house"), (2, "shed")]
    names = {i["id"]: i["file_name"] for i in coco["images"]}
    assert sorted((names[a["image_id"]], a["category_id"]) for a in coco["annotations"]) == [
        ("images/tile_1_0_0.tif", 2), ("images/tile_2_0_0.tif", 1),
        ("images/tile_2_0_0.tif", 2)]
    patch = gpd.read_file(out / "labels" / "tile_1_0_0.geojson")
    assert list(patch["class_id"]) == [2] and list(patch["class"]) == ["shed"]
    out = tmp_path / "yolo"
    result = run_cli("tile", folder / "tile_1.tif", folder / "tile_2.tif", "--labels", folder,
                     "--size", "40", "--class-field", "kind", "--annotations", "yolo",
                     "-o", out)
    assert result.exit_code == 0, result.output
    assert (out / "labels" / "classes.txt").read_text().splitlines() == ["house", "shed"]
    assert [line.split()[0] for line in
            (out / "labels" / "tile_1_0_0.txt").read_text().splitlines()] == ["1"]


def test_resume_compares_the_label_files(run_cli, tmp_path):
    """--resume of a finished run leaves it; after a label file of the folder changed, the
    output is another run's and is refused, as for one --labels file."""
    folder = tmp_path / "tiles"
    _image(folder / "tile_1.tif")
    _image(folder / "tile_2.tif")
    _labels(folder / "tile_1.geojson", [(1, 1, 4, 4)])
    _labels(folder / "tile_2.geojson", [(2, 2, 6, 6)])
    out = tmp_path / "out"
    args = ("tile", folder / "tile_1.tif", folder / "tile_2.tif", "--labels", folder,
            "--size", "40", "-o", out, "--resume")
    assert run_cli(*args).exit_code == 0
    before = (out / "labels" / "tile_2_0_0.geojson").read_bytes()
    stamp = (out / "index.csv").stat().st_mtime_ns
    assert run_cli(*args).exit_code == 0
    assert (out / "index.csv").stat().st_mtime_ns == stamp  # finished: left as it is
    _labels(folder / "tile_2.geojson", [(2, 2, 6, 6), (10, 10, 14, 14)])
    result = run_cli(*args)
    assert result.exit_code == 0, result.output  # same options and paths: cut again
    assert (out / "labels" / "tile_2_0_0.geojson").read_bytes() != before
    assert len(_pixel_boxes(out / "labels" / "tile_2_0_0.geojson")) == 2


def _masked_scene(tmp_path, run_cli):
    """tile.tif, its mask made by make-masks over building, road and water (ids 1, 2, 3,
    named in the mask), and roads.geojson holding road and water only."""
    _image(tmp_path / "tile.tif")
    boxes = [(1, 1, 4, 4), (6, 6, 10, 10), (12, 12, 18, 18)]
    every = _labels(tmp_path / "all.geojson", boxes, ["building", "road", "water"])
    (tmp_path / "masks").mkdir()
    result = run_cli("make-masks", every, tmp_path / "tile.tif", "--class-field", "kind",
                     "-o", tmp_path / "masks" / "tile.tif")
    assert result.exit_code == 0, result.output
    return _labels(tmp_path / "roads.geojson", boxes[1:], ["road", "water"])


def test_annotations_take_the_ids_the_masks_name(run_cli, tmp_path):
    """tile --masks (make-masks': building 1, road 2, water 3) --labels of road and water
    only numbered the annotations road 1, water 2: one dataset said road was 1 in COCO/YOLO
    and 2 in its masks. The annotations take the masks' ids for the names they give."""
    labels = _masked_scene(tmp_path, run_cli)
    args = ("tile", tmp_path / "tile.tif", "--masks", tmp_path / "masks", "--labels", labels,
            "--class-field", "kind", "--size", "40")
    out = tmp_path / "coco"
    result = run_cli(*args, "--annotations", "coco", "-o", out)
    assert result.exit_code == 0, result.output
    coco = _coco(out)
    assert [(c["id"], c["name"]) for c in coco["categories"]] == [
        (1, "building"), (2, "road"), (3, "water")]
    assert sorted((a["bbox"][0], a["category_id"]) for a in coco["annotations"]) == [
        (12.0, 2), (24.0, 3)]
    with rasterio.open(out / "masks" / "tile_0_0.tif") as src:
        mask = src.read(1)
    assert (mask[13, 13], mask[25, 25]) == (2, 3)  # the same ids as the annotations
    patch = gpd.read_file(out / "labels" / "tile_0_0.geojson")
    assert sorted(zip(patch["class_id"], patch["class"], strict=True)) == [
        (2, "road"), (3, "water")]
    out = tmp_path / "yolo"
    result = run_cli(*args, "--annotations", "yolo", "-o", out)
    assert result.exit_code == 0, result.output
    assert (out / "labels" / "classes.txt").read_text().splitlines() == [
        "building", "road", "water"]
    assert (out / "data.yaml").read_text().splitlines()[-3:] == [
        '  0: "building"', '  1: "road"', '  2: "water"']
    assert sorted(line.split()[0] for line in
                  (out / "labels" / "tile_0_0.txt").read_text().splitlines()) == ["1", "2"]


def test_annotations_of_class_ids_take_the_names_the_masks_give_them(run_cli, tmp_path):
    """--class-field of ids (vectorize's class_id: road 2, water 3) with masks naming their
    classes (building 1, road 2, water 3) named the COCO categories and YOLO classes "2" and
    "3": a trainer reported class "2". The ids keep their numbers and take the masks' names,
    as labels classed by name do."""
    _masked_scene(tmp_path, run_cli)
    labels = _labels(tmp_path / "ids.geojson", [(6, 6, 10, 10), (12, 12, 18, 18)], [2, 3])
    args = ("tile", tmp_path / "tile.tif", "--masks", tmp_path / "masks", "--labels", labels,
            "--class-field", "kind", "--size", "40")
    out = tmp_path / "coco"
    result = run_cli(*args, "--annotations", "coco", "-o", out)
    assert result.exit_code == 0, result.output
    coco = _coco(out)
    assert [(c["id"], c["name"]) for c in coco["categories"]] == [
        (1, "building"), (2, "road"), (3, "water")]
    assert sorted((a["bbox"][0], a["category_id"]) for a in coco["annotations"]) == [
        (12.0, 2), (24.0, 3)]
    patch = gpd.read_file(out / "labels" / "tile_0_0.geojson")
    assert sorted(zip(patch["class_id"], patch["class"], strict=True)) == [
        (2, "road"), (3, "water")]
    out = tmp_path / "yolo"
    result = run_cli(*args, "--annotations", "yolo", "-o", out)
    assert result.exit_code == 0, result.output
    assert (out / "labels" / "classes.txt").read_text().splitlines() == [
        "building", "road", "water"]
    assert sorted(line.split()[0] for line in
                  (out / "labels" / "tile_0_0.txt").read_text().splitlines()) == ["1", "2"]


def _classed_masks(tmp_path, run_cli, classes: dict[str, int]):
    """tile.tif and its mask (make-masks --class-map ``classes``, one box per class)."""
    _image(tmp_path / "tile.tif")
    boxes = [(1 + 6 * n, 1, 4 + 6 * n, 4) for n in range(len(classes))]
    every = _labels(tmp_path / "all.geojson", boxes, list(classes))
    (tmp_path / "classes.json").write_text(json.dumps(classes))
    (tmp_path / "masks").mkdir()
    result = run_cli("make-masks", every, tmp_path / "tile.tif", "--class-field", "kind",
                     "--class-map", tmp_path / "classes.json",
                     "-o", tmp_path / "masks" / "tile.tif")
    assert result.exit_code == 0, result.output


def test_labels_without_classes_take_the_building_id_the_masks_give(run_cli, tmp_path):
    """Footprints without a class field tiled with land-cover masks (road 1, building 2,
    water 3) were annotated as category 1 'building', which is road in the mask patches.
    They take the masks' building id, and the categories are the masks' classes."""
    _classed_masks(tmp_path, run_cli, {"road": 1, "building": 2, "water": 3})
    footprints = _labels(tmp_path / "footprints.geojson", [(6, 6, 10, 10), (12, 12, 18, 18)])
    args = ("tile", tmp_path / "tile.tif", "--masks", tmp_path / "masks", "--labels",
            footprints, "--size", "40")
    out = tmp_path / "coco"
    result = run_cli(*args, "--annotations", "coco", "-o", out)
    assert result.exit_code == 0, result.output
    coco = _coco(out)
    assert [(c["id"], c["name"]) for c in coco["categories"]] == [
        (1, "road"), (2, "building"), (3, "water")]
    assert sorted((a["bbox"][0], a["category_id"]) for a in coco["annotations"]) == [
        (12.0, 2), (24.0, 2)]
    out = tmp_path / "yolo"
    result = run_cli(*args, "--annotations", "yolo", "-o", out)
    assert result.exit_code == 0, result.output
    assert (out / "labels" / "classes.txt").read_text().splitlines() == [
        "road", "building", "water"]
    assert [line.split()[0] for line in
            (out / "labels" / "tile_0_0.txt").read_text().splitlines()] == ["1", "1"]


def test_labels_without_classes_against_masks_of_another_class_are_said(run_cli, tmp_path):
    """Footprints without a class field tiled with road masks (road 1): they stay 'building'
    1 (not the masks' road), and a warning says the masks call 1 road."""
    _classed_masks(tmp_path, run_cli, {"road": 1})
    footprints = _labels(tmp_path / "footprints.geojson", [(6, 6, 10, 10)])
    out = tmp_path / "coco"
    result = run_cli("tile", tmp_path / "tile.tif", "--masks", tmp_path / "masks",
                     "--labels", footprints, "--size", "40", "--annotations", "coco",
                     "-o", out)
    assert result.exit_code == 0, result.output
    coco = _coco(out)
    assert [(c["id"], c["name"]) for c in coco["categories"]] == [(1, "building")]
    assert [a["category_id"] for a in coco["annotations"]] == [1]
    warned = [line for line in result.stderr.splitlines() if "road 1" in line]
    assert len(warned) == 1 and str(footprints) in warned[0]


def test_resume_of_labels_named_by_the_masks_finds_the_run_finished(run_cli, tmp_path,
                                                                   monkeypatch):
    """--labels without --class-field named by the masks (8e9983b) put the mask they were
    named from, as typed, in the run's options: a finished run cut again with --resume from
    another folder, or with --palette (a temporary mask of a new name on every run), was
    refused as 'an earlier `geotile tile` with other options or inputs', exit 1. It is
    found finished, as the same run without masks is."""
    _classed_masks(tmp_path, run_cli, {"road": 1, "building": 2, "water": 3})
    _labels(tmp_path / "footprints.geojson", [(6, 6, 10, 10)])
    monkeypatch.chdir(tmp_path)
    args = ("tile", "tile.tif", "--masks", "masks", "--labels", "footprints.geojson",
            "--size", "20", "--annotations", "coco", "--resume", "-o", tmp_path / "out")
    assert run_cli(*args).exit_code == 0
    monkeypatch.chdir(tmp_path / "masks")
    result = run_cli("tile", tmp_path / "tile.tif", "--masks", ".", "--labels",
                     tmp_path / "footprints.geojson", *args[6:])
    assert result.exit_code == 0, result.output
    # label rasters of the Potsdam palette: building 2
    colours = np.zeros((3, SIZE, SIZE), np.uint8)
    colours[2, :, : SIZE // 2] = 255  # blue: building
    colours[:, :, SIZE // 2:] = 255  # white: impervious surfaces
    (tmp_path / "rgb").mkdir()
    write_raster(tmp_path / "rgb" / "tile.tif", colours,
                 transform=from_origin(X0, Y0, 0.5, 0.5))
    args = ("tile", tmp_path / "tile.tif", "--masks", tmp_path / "rgb", "--palette",
            "potsdam", "--labels", tmp_path / "footprints.geojson", "--size", "20",
            "--annotations", "coco", "--resume", "-o", tmp_path / "potsdam")
    assert run_cli(*args).exit_code == 0
    assert [a["category_id"] for a in _coco(tmp_path / "potsdam")["annotations"]] == [2]
    result = run_cli(*args)
    assert result.exit_code == 0, result.output


def test_labels_without_classes_against_masks_of_several_other_classes_are_said(
        run_cli, tmp_path):
    """Masks naming garage 1 and house 2 (made with --class-field kind) and the same labels
    tiled without --class-field: every object was annotated 'building' 1, the masks' garage,
    without a word. A warning names the masks' classes and the labels' field holding them
    (--class-field kind), which then numbers them as the masks."""
    _classed_masks(tmp_path, run_cli, {"garage": 1, "house": 2})
    out = tmp_path / "out"
    result = run_cli("tile", tmp_path / "tile.tif", "--masks", tmp_path / "masks",
                     "--labels", tmp_path / "all.geojson", "--size", "40",
                     "--annotations", "coco", "-o", out)
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if "--class-field kind" in line]
    assert len(warned) == 1 and "garage 1, house 2" in warned[0]
    assert str(tmp_path / "all.geojson") in warned[0]
    assert sorted(a["category_id"] for a in _coco(out)["annotations"]) == [1, 1]
    result = run_cli("tile", tmp_path / "tile.tif", "--masks", tmp_path / "masks",
                     "--labels", tmp_path / "all.geojson", "--size", "40",
                     "--annotations", "coco", "--class-field", "kind", "--overwrite",
                     "-o", out)
    assert result.exit_code == 0, result.output
    assert "--class-field" not in result.stderr
    assert sorted(a["category_id"] for a in _coco(out)["annotations"]) == [1, 2]


def test_a_folder_of_labels_without_classes_is_warned_of_once(run_cli, tmp_path):
    """A folder of 4 images, their masks (garage 1, house 2) and label files, tiled without
    --class-field: the same warning was said 4 times in full (once per label file: 100
    lines for 100 images), where geotile says an advice once and the other files in one
    line at the end."""
    (tmp_path / "classes.json").write_text(json.dumps({"garage": 1, "house": 2}))
    for n in range(4):
        image = _image(tmp_path / "images" / f"img{n}.tif")
        labels = _labels(tmp_path / "labels" / f"img{n}.geojson", [(1, 1, 4, 4), (7, 1, 10, 4)],
                         ["garage", "house"])
        (tmp_path / "masks").mkdir(exist_ok=True)
        made = run_cli("make-masks", labels, image, "--class-field", "kind", "--class-map",
                       tmp_path / "classes.json", "-o", tmp_path / "masks" / f"img{n}.tif")
        assert made.exit_code == 0, made.output
    result = run_cli("tile", tmp_path / "images", "--masks", tmp_path / "masks", "--labels",
                     tmp_path / "labels", "--size", "40", "--annotations", "coco",
                     "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if "--class-field kind" in line]
    assert len(warned) == 2, result.stderr
    assert str(tmp_path / "labels" / "img0.geojson") in warned[0]
    assert "garage 1, house 2" in warned[0]
    assert warned[1].startswith("Warning: 3 more files (img1.geojson, img2.geojson, "
                                "img3.geojson): "), warned[1]


def test_warnings_of_palette_masks_name_the_label_raster_given(run_cli, tmp_path):
    """--masks of DeepGlobe label rasters (--palette deepglobe: urban_land 1 ... water 5)
    with footprints of no class: the message named the masks /tmp/geotile-masks-.../tile.tif,
    a temporary file removed as it was read. It names the label raster given."""
    _image(tmp_path / "tile.tif")
    footprints = _labels(tmp_path / "footprints.geojson", [(6, 6, 10, 10)])
    colours = np.zeros((3, SIZE, SIZE), np.uint8)
    colours[1:, :, : SIZE // 2] = 255  # cyan: urban land
    colours[2, :, SIZE // 2:] = 255  # blue: water
    (tmp_path / "rgb").mkdir()
    write_raster(tmp_path / "rgb" / "tile.tif", colours,
                 transform=from_origin(X0, Y0, 0.5, 0.5))
    result = run_cli("tile", tmp_path / "tile.tif", "--masks", tmp_path / "rgb", "--palette",
                     "deepglobe", "--labels", footprints, "--size", "40", "--annotations",
                     "coco", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if "urban_land 1" in line]
    assert len(warned) == 1 and str(footprints) in warned[0]
    assert f"({tmp_path / 'rgb' / 'tile.tif'})" in warned[0]
    assert "geotile-masks-" not in result.output


def test_a_label_class_the_masks_do_not_name_is_refused(run_cli, tmp_path):
    """A class of the labels the masks do not name has no id of theirs: one line naming
    it, the labels file and --class-map; nothing written. --class-map still decides; masks
    that name no classes leave the labels' own ids (road 1, water 2)."""
    labels = _masked_scene(tmp_path, run_cli)
    bridges = _labels(tmp_path / "bridges.geojson", [(6, 6, 10, 10)], ["bridge"])
    args = ("tile", tmp_path / "tile.tif", "--masks", tmp_path / "masks", "--class-field",
            "kind", "--size", "40", "--annotations", "coco")
    result = run_cli(*args, "--labels", bridges, "-o", tmp_path / "out")
    assert_one_line_error(result, "'bridge'", str(bridges), "--class-map")
    assert not (tmp_path / "out").exists()
    (tmp_path / "classes.json").write_text('{"road": 5, "water": 6}')
    result = run_cli(*args, "--labels", labels, "--class-map", tmp_path / "classes.json",
                     "-o", tmp_path / "mapped")
    assert result.exit_code == 0, result.output
    assert sorted(a["category_id"] for a in _coco(tmp_path / "mapped")["annotations"]) == [5, 6]
    (tmp_path / "plain").mkdir()
    plain = write_raster(tmp_path / "plain" / "tile.tif", np.zeros((SIZE, SIZE), np.uint8),
                         transform=from_origin(X0, Y0, 0.5, 0.5))
    result = run_cli(*args[:2], "--masks", plain, *args[4:], "--labels", labels,
                     "-o", tmp_path / "unnamed")
    assert result.exit_code == 0, result.output
    assert [(c["id"], c["name"]) for c in _coco(tmp_path / "unnamed")["categories"]] == [
        (1, "road"), (2, "water")]
