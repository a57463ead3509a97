"""Datasets' own layouts and label codes, on small faithful replicas: OSCD's 1/2 change
maps, Agriculture-Vision's per-class label folders, S2Looking, LandCoverNet..."""

from __future__ import annotations

import csv
import json

import numpy as np
import rasterio
from rasterio.transform import from_origin

from tests.conftest import write_raster

GRID = {"crs": "EPSG:32631", "transform": from_origin(500000, 4100000, 10, 10)}


def _rows(out):
    """index.csv's rows of a tile output, with each patch's mask array."""
    with (out / "index.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        with rasterio.open(out / row["mask"]) as mask:
            row["labels"], row["tags"] = mask.read(), mask.tags()
    return rows


def _oscd(tmp_path):
    """OSCD's <city>/cm/<city>-cm.tif (1 no change, 2 change; TorchGeo subtracts 1) for
    images/<city>.tif, and a 0/1 prediction matching it."""
    (tmp_path / "images").mkdir()
    (tmp_path / "pred").mkdir()
    (tmp_path / "labels/paris/cm").mkdir(parents=True)
    write_raster(tmp_path / "images/paris.tif", np.full((3, 32, 32), 900, np.uint16), **GRID)
    change = np.zeros((32, 32), np.uint8)
    change[:8] = 1
    write_raster(tmp_path / "labels/paris/cm/paris-cm.tif", change + 1, **GRID)
    write_raster(tmp_path / "pred/paris.tif", change, **GRID)
    return change


def test_oscd_change_maps_code_no_change_1_and_change_2(tmp_path, run_cli):
    """OSCD's <city>-cm.tif codes no change 1, change 2: tile found no mask for
    images/paris.tif ('-cm' no mask suffix), and given the file it counted every pixel
    positive (positive_fraction 1.0), while evaluate scored a right 0/1 prediction 0.0.
    Its change maps read as 0 no change, 1 change now."""
    change = _oscd(tmp_path)
    out = tmp_path / "patches"
    result = run_cli("tile", tmp_path / "images", "--masks",
                     tmp_path / "labels/*/cm/*-cm.tif", "--size", 16, "-o", out)
    assert result.exit_code == 0, result.output
    rows = _rows(out)
    assert [float(r["positive_fraction"]) for r in rows] == [0.5, 0.5, 0.0, 0.0]
    np.testing.assert_array_equal(rows[0]["labels"][0], change[:16, :16])
    assert json.loads(rows[0]["tags"]["GEOTILE_CLASS_NAMES"]) == ["no change", "change"]
    result = run_cli("evaluate", tmp_path / "pred/paris.tif",
                     tmp_path / "labels/paris/cm/paris-cm.tif", "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["accuracy"] == 1.0
    assert [c["iou"] for c in scores["classes"]] == [1.0, 1.0]


def test_oscd_change_map_keeps_its_declared_nodata(tmp_path, run_cli):
    """An OSCD change map declaring nodata (255 or 0 on a strip outside the scene) opened
    as a view declaring none, the LUT clamping the strip to change (255) or no change (0):
    tile counted it as labelled, evaluate scored it, exit 0 -> the view declares nodata 255
    on those pixels: tile's patches hold 255 there and index.csv counts them nodata."""
    for nodata in (255, 0):
        codes = np.ones((32, 32), np.uint8)
        codes[:8] = 2
        codes[:, 24:] = nodata
        (tmp_path / f"c{nodata}/images").mkdir(parents=True)
        (tmp_path / f"c{nodata}/cm").mkdir()
        write_raster(tmp_path / f"c{nodata}/images/rome.tif",
                     np.full((3, 32, 32), 900, np.uint16), **GRID)
        write_raster(tmp_path / f"c{nodata}/cm/rome-cm.tif", codes, nodata=nodata, **GRID)
        out = tmp_path / f"c{nodata}/patches"
        result = run_cli("tile", tmp_path / f"c{nodata}/images/rome.tif", "--masks",
                         tmp_path / f"c{nodata}/cm/rome-cm.tif", "--size", 32, "-o", out)
        assert result.exit_code == 0, result.output
        (row,) = _rows(out)
        want = np.where(codes == 2, 1, 0)
        want[:, 24:] = 255
        np.testing.assert_array_equal(row["labels"][0], want)
        assert float(row["nodata_fraction"]) == 0.25
        assert float(row["positive_fraction"]) == 0.1875  # 8 x 24 px of change
        prediction = np.where(codes == 2, 1, 0).astype(np.uint8)
        prediction[:, 24:] = 1 - nodata // 255  # the other class than the clamp gave
        write_raster(tmp_path / f"c{nodata}/rome.tif", prediction, **GRID)
        result = run_cli("evaluate", tmp_path / f"c{nodata}/rome.tif",
                         tmp_path / f"c{nodata}/cm/rome-cm.tif", "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["accuracy"] == 1.0


def test_ids_1_and_2_of_other_names_stay_classes(tmp_path, run_cli):
    """A class raster of ids 1 and 2 (a chip without background) named otherwise keeps its
    ids, and so does a cm/<name>-cm.tif of 0 and 1: only OSCD's name and codes read as
    change."""
    ids = np.ones((16, 16), np.uint8)
    ids[:4] = 2
    (tmp_path / "cm").mkdir()
    write_raster(tmp_path / "chip.tif", ids, **GRID)
    write_raster(tmp_path / "cm/zero-cm.tif", ids - 1, **GRID)
    for name, support in (("chip.tif", [0, 192, 64]), ("cm/zero-cm.tif", [192, 64])):
        result = run_cli("evaluate", tmp_path / name, tmp_path / name, "--json")
        assert result.exit_code == 0, result.output
        assert [c["support"] for c in json.loads(result.stdout)["classes"]] == support


def test_s2looking_building_masks_in_one_colour_on_black(tmp_path, run_cli):
    """A binary mask drawn in one colour on black (S2Looking's label1/, label2/ as RGB
    PNGs, red or blue on black): tile read its red band as class ids, 255 the ignore value,
    and said positive_fraction 0.0 with no word; evaluate scored it so. Both name the
    palette that reads it now, and tile --palette with it gives 0/1 masks."""
    from PIL import Image

    for folder in ("Image1", "label1"):
        (tmp_path / folder).mkdir()
    Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(tmp_path / "Image1/7.png")
    red = np.zeros((32, 32, 3), np.uint8)
    red[:8, :, 0] = 255
    Image.fromarray(red).save(tmp_path / "label1/7.png")
    advice = '{"background": [0, 0, 0], "building": [255, 0, 0]}'
    result = run_cli("tile", tmp_path / "Image1", "--masks", tmp_path / "label1",
                     "--size", 32, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert advice in result.stderr
    result = run_cli("evaluate", tmp_path / "label1/7.png", tmp_path / "label1/7.png")
    assert result.exit_code == 1
    assert advice in result.stderr and "Traceback" not in result.output
    (tmp_path / "palette.json").write_text(advice)
    result = run_cli("tile", tmp_path / "Image1", "--masks", tmp_path / "label1", "--palette",
                     tmp_path / "palette.json", "--size", 32, "-o", tmp_path / "ids")
    assert result.exit_code == 0, result.output
    [row] = _rows(tmp_path / "ids")
    assert float(row["positive_fraction"]) == 0.25
    np.testing.assert_array_equal(row["labels"][0], (red[:, :, 0] > 0).astype(np.uint8))


def test_landcovernet_raster_item_naming_its_classes_in_label_classes(tmp_path, run_cli):
    """LandCoverNet's label items name the values of their raster only in label:classes,
    "No Data" first (no classification:classes): its 0 was read as background and scored,
    the classes left unnamed. 0 is no data (255) now, 1.. named as label:classes says."""
    from tests.test_stac_labels import SIZE, _image, _item, _read

    ids = np.zeros((1, SIZE, SIZE), np.uint8)
    ids[0, :8], ids[0, 8:16], ids[0, 16:24] = 1, 5, 7
    write_raster(tmp_path / "labels.tif", ids)
    names = ["No Data", "Water", "Artificial Bareground", "Natural Bareground",
             "Permanent Snow/Ice", "Cultivated Vegetation", "(Semi) Natural Vegetation",
             "Woody Vegetation"]
    item = _item(tmp_path / "item.json", {
        "label:type": "raster", "label:properties": None,
        "label:classes": [{"name": "", "classes": names}]}, {
        "labels": {"href": "labels.tif", "roles": ["labels"], "type": "image/tiff"}})
    result = run_cli("make-masks", item, _image(tmp_path), "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    mask, tags = _read(tmp_path / "m.tif")
    np.testing.assert_array_equal(mask, np.where(ids[0] == 0, 255, ids[0]))
    assert json.loads(tags["GEOTILE_CLASS_NAMES"])[1:] == names[1:]


def test_raster_item_listing_only_its_classes_past_background_keeps_0_background(
        tmp_path, run_cli):
    """A building raster item (0 background, 1 building) listing label:classes
    ["building"]: the list named id 0 'building' and id 1 '1', so make-masks counted every
    pixel labelled (1600 of 1600) and 0 became a class, exit 0 -> the list names ids from 0
    only when its first name is background or no data (LandCoverNet's "No Data"): 0 stays
    background here."""
    from tests.test_stac_labels import SIZE, _image, _item, _read

    ids = np.zeros((1, SIZE, SIZE), np.uint8)
    ids[0, :8] = 1
    write_raster(tmp_path / "labels.tif", ids)
    item = _item(tmp_path / "item.json", {
        "label:type": "raster", "label:properties": None,
        "label:classes": [{"name": None, "classes": ["building"]}]}, {
        "labels": {"href": "labels.tif", "roles": ["labels"], "type": "image/tiff"}})
    result = run_cli("make-masks", item, _image(tmp_path), "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    assert f"{8 * SIZE} labelled pixels" in result.output
    mask, tags = _read(tmp_path / "m.tif")
    np.testing.assert_array_equal(mask, ids[0])
    assert json.loads(tags["GEOTILE_CLASS_NAMES"])[0] == "background"


def test_class_map_not_naming_0_leaves_the_rasters_own_0(tmp_path, run_cli):
    """A label raster naming its 0 'Unclassified' (no nodata declared) keeps 0 as it is
    without --class-map; a --class-map naming only its classes 1 and 2 made that 0 ignored
    (255, 512 px) though the map said nothing of it, exit 0 -> only a map naming id 0 no
    data (LandCoverNet's item, {"nodata": 0, ...}) writes it 255."""
    from tests.test_stac_labels import SIZE, _image

    ids = np.zeros((SIZE, SIZE), np.uint8)
    ids[:8], ids[8:16] = 1, 2
    write_raster(tmp_path / "lab.tif", ids)
    with rasterio.open(tmp_path / "lab.tif", "r+") as dst:
        dst.update_tags(GEOTILE_CLASS_NAMES=json.dumps(["Unclassified", "water", "forest"]))
    image = _image(tmp_path)
    for number, (mapping, zero) in enumerate(((None, 0), ({"water": 1, "forest": 2}, 0),
                                              ({"nodata": 0, "water": 1, "forest": 2}, 255))):
        out = tmp_path / f"m{number}.tif"
        more = []
        if mapping:
            (tmp_path / f"map{number}.json").write_text(json.dumps(mapping))
            more = ["--class-map", tmp_path / f"map{number}.json"]
        result = run_cli("make-masks", tmp_path / "lab.tif", image, "-o", out, *more)
        assert result.exit_code == 0, result.output
        with rasterio.open(out) as src:
            np.testing.assert_array_equal(src.read(1), np.where(ids == 0, zero, ids))
