"""Datasets' own layouts: images paired with their labels by the names they ship with."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

#: Sen1Floods11 chips are EPSG:4326, 10 m (about 0.0001 degrees)
_S1F_TRANSFORM = from_origin(-66.0, -14.0, 0.0001, 0.0001)


def _sen1floods11_chip(make_raster, chip: str, seed: int) -> np.ndarray:
    """HandLabeled/S1Hand/<chip>_S1Hand.tif (VV, VH float32), S2Hand/<chip>_S2Hand.tif
    (13 bands uint16) and LabelHand/<chip>_LabelHand.tif (int16: -1 no data, 0, 1, -1
    not declared nodata, as shipped); returns the label."""
    rng = np.random.default_rng(seed)
    label = np.zeros((32, 32), np.int16)
    label[:, 12 + seed:] = 1
    label[:4] = -1
    kw = {"crs": "EPSG:4326", "transform": _S1F_TRANSFORM}
    make_raster(f"S1Hand/{chip}_S1Hand.tif", rng.normal(-15, 3, (2, 32, 32)).astype("float32"),
                **kw)
    make_raster(f"S2Hand/{chip}_S2Hand.tif", rng.integers(0, 4000, (13, 32, 32), np.uint16),
                **kw)
    make_raster(f"LabelHand/{chip}_LabelHand.tif", label, **kw)
    return label


def test_sen1floods11_chips_pair_with_their_labelhand(run_cli, make_raster, tmp_path):
    """tile S1Hand/ (or S2Hand/) --masks LabelHand/ was refused: 'no mask named
    Bolivia_103757_S1Hand.* in LabelHand'. <chip>_S1Hand and <chip>_S2Hand name the chip
    whose <chip>_LabelHand is the label: each patch's mask is its own chip's label."""
    for folder in ("S1Hand", "S2Hand", "LabelHand"):
        (tmp_path / folder).mkdir()
    labels = {chip: _sen1floods11_chip(make_raster, chip, seed)
              for seed, chip in enumerate(("Bolivia_103757", "Ghana_5079"))}
    for sensor in ("S1Hand", "S2Hand"):
        out = tmp_path / f"out_{sensor}"
        result = run_cli("tile", tmp_path / sensor, "--masks", tmp_path / "LabelHand",
                         "--size", 16, "-o", out)
        assert result.exit_code == 0, result.output
        with (out / "index.csv").open() as handle:
            rows = list(csv.DictReader(handle))
        assert sorted({r["source"] for r in rows}) == [
            f"Bolivia_103757_{sensor}.tif", f"Ghana_5079_{sensor}.tif"]
        for row in rows:
            chip = row["source"].rsplit("_", 1)[0]
            top, left = int(row["y_off"]), int(row["x_off"])
            with rasterio.open(out / row["mask"]) as mask:
                assert mask.read(1).tolist() == labels[chip][top:top + 16,
                                                             left:left + 16].tolist()


def test_sen1floods11_npy_mask_patches_hold_its_minus_one_as_255(run_cli, make_raster,
                                                                 tmp_path):
    """tile --format npy wrote LabelHand's -1 (no data: index.csv counts it so, evaluate
    leaves it out) as -1, while --format's help says npy mask patches hold a mask's no data
    as 255, as they hold the image's nodata beside it: two ignore values in one patch, no
    ignore_index fits both. Now -1 is 255 there; 0 and 1 as they are."""
    for folder in ("S1Hand", "S2Hand", "LabelHand"):
        (tmp_path / folder).mkdir()
    label = _sen1floods11_chip(make_raster, "Bolivia_103757", 0)
    out = tmp_path / "out"
    result = run_cli("tile", tmp_path / "S1Hand", "--masks", tmp_path / "LabelHand",
                     "--size", 16, "--format", "npy", "-o", out)
    assert result.exit_code == 0, result.output
    with (out / "index.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    want = np.where(label < 0, 255, label)
    for row in rows:
        top, left = int(row["y_off"]), int(row["x_off"])
        got = np.load(out / row["mask"])
        assert got[0].tolist() == want[top:top + 16, left:left + 16].tolist()
    assert float(rows[0]["nodata_fraction"]) == 0.25


def test_sen1floods11_predictions_score_against_labelhand_without_its_no_data(
        run_cli, make_raster, tmp_path):
    """evaluate preds/ LabelHand/ (predict names its outputs <chip>_S1Hand.tif) found no
    pairs, and a chip's pair was refused: 'negative class id -1 ... declare it'. The chips
    pair; the truth's undeclared -1 is no data, left out as declaring it would; a
    prediction's -1 is still refused."""
    import json

    from .conftest import assert_one_line_error

    for folder in ("S1Hand", "S2Hand", "LabelHand", "preds"):
        (tmp_path / folder).mkdir()
    kw = {"crs": "EPSG:4326", "transform": _S1F_TRANSFORM}
    expected = np.zeros((2, 2), np.int64)
    for seed, chip in enumerate(("Bolivia_103757", "Ghana_5079")):
        label = _sen1floods11_chip(make_raster, chip, seed)
        pred = (label == 1).astype(np.uint8)
        pred[:, 8:12] = 1  # false positives, some under the no-data rows
        pred[20:, -2:] = 0  # false negatives
        make_raster(f"preds/{chip}_S1Hand.tif", pred, **kw)
        known = label >= 0
        np.add.at(expected, (label[known], pred[known]), 1)
    result = run_cli("evaluate", tmp_path / "preds", tmp_path / "LabelHand", "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["confusion_matrix"] == expected.tolist()
    assert scores["images"] == 2 and scores["pixels"] == expected.sum() == 2 * 28 * 32
    one = run_cli("evaluate", tmp_path / "preds/Ghana_5079_S1Hand.tif",
                  tmp_path / "LabelHand/Ghana_5079_LabelHand.tif", "--json")
    assert one.exit_code == 0, one.output
    assert json.loads(one.stdout)["pixels"] == 28 * 32

    negative = make_raster("neg_S1Hand.tif", np.full((32, 32), -1, np.int16), **kw)
    result = run_cli("evaluate", negative, tmp_path / "LabelHand/Ghana_5079_LabelHand.tif")
    assert_one_line_error(result, "neg_S1Hand.tif", "negative class id -1")


#: SpaceNet 4's tiles (UTM 16N, 0.5 m): <easting>_<northing> of their top-left corner
_SN4_TILES = {"732701_3730939": (732701.0, 3730939.0), "733601_3730939": (733601.0, 3730939.0)}
_SN4_COLLECTS = ("Atlanta_nadir7_catid_1030010003D22F00", "Atlanta_nadir53_catid_103001000352C200")


def _spacenet4(root, prefixed: bool = True) -> list:
    """SpaceNet 4 off-nadir: <collect>/Pan-Sharpen/Pan-Sharpen_<collect>_<tile>.tif (or
    <collect>_<tile>.tif) for each collect, and one
    geojson/spacenet-buildings/spacenet-buildings_<tile>.geojson (EPSG:4326) per tile,
    shared by all the collects; each tile's building at another place."""
    import json

    from pyproj import Transformer

    from .conftest import write_raster

    to_lonlat = Transformer.from_crs("EPSG:32616", "EPSG:4326", always_xy=True)
    (root / "geojson/spacenet-buildings").mkdir(parents=True)
    images = []
    for k, (tile, (x0, y0)) in enumerate(_SN4_TILES.items()):
        left, top = x0 + 4 + 8 * k, y0 - 4  # 16 x 12 px from column 8 + 16 k, row 8
        ring = [to_lonlat.transform(x, y) for x, y in ((left, top), (left + 8, top),
                (left + 8, top - 6), (left, top - 6), (left, top))]
        (root / f"geojson/spacenet-buildings/spacenet-buildings_{tile}.geojson").write_text(
            json.dumps({"type": "FeatureCollection", "features": [{
                "type": "Feature", "properties": {"building": "yes"},
                "geometry": {"type": "Polygon", "coordinates": [ring]}}]}))
        for collect in _SN4_COLLECTS:
            (root / collect / "Pan-Sharpen").mkdir(parents=True, exist_ok=True)
            name = f"Pan-Sharpen_{collect}_{tile}" if prefixed else f"{collect}_{tile}"
            images.append(write_raster(root / collect / "Pan-Sharpen" / f"{name}.tif",
                                       np.full((4, 48, 48), 300, np.uint16),
                                       crs="EPSG:32616",
                                       transform=from_origin(x0, y0, 0.5, 0.5)))
    return images


def _sn4_expected(tile_index: int) -> np.ndarray:
    expected = np.zeros((48, 48), np.uint8)
    expected[8:20, 8 + 16 * tile_index:24 + 16 * tile_index] = 1
    return expected


def test_spacenet4_collects_take_their_tiles_buildings(run_cli, tmp_path):
    """make-masks geojson/spacenet-buildings/ over SpaceNet 4's collects was refused: 'no
    label file in geojson/spacenet-buildings pairs with
    Pan-Sharpen_Atlanta_nadir7_catid_..._732701_3730939.tif'. Every collect of a tile (27
    nadir angles) takes spacenet-buildings_<tile>.geojson, never another tile's."""
    for prefixed in (True, False):
        root = tmp_path / f"p{prefixed}"
        images = _spacenet4(root, prefixed)
        result = run_cli("make-masks", root / "geojson/spacenet-buildings", *images,
                         "-o", root / "masks")
        assert result.exit_code == 0, result.output
        for image in images:
            with rasterio.open(root / "masks" / image.name) as mask:
                tile = image.stem[-14:]
                assert mask.read(1).tolist() == _sn4_expected(
                    list(_SN4_TILES).index(tile)).tolist(), image.name


def _xview(tmp_path, make_raster):
    """train_images/2355.tif (EPSG:4326, 1e-5 degree pixels) and xView_train.geojson:
    features with image_id, type_id and bounds_imcoords (pixel boxes), whose lon/lat
    geometries are 3 px off as xView's are known to be; one of another image (1036.tif)
    lies over 2355.tif's ground."""
    import json

    (tmp_path / "train_images").mkdir()
    image = make_raster("train_images/2355.tif", np.full((3, 80, 100), 90, np.uint8),
                        crs="EPSG:4326", transform=from_origin(-80.0, 26.0, 1e-5, 1e-5))
    features = []
    for image_id, (x1, y1, x2, y2), type_id in (("2355.tif", (10, 10, 30, 20), 73),
                                                 ("2355.tif", (50, 40, 60, 70), 18),
                                                 ("2355.tif", (70, 70, 70, 75), 73),
                                                 ("1036.tif", (70, 5, 90, 25), 73)):
        def lon(x):
            return -80.0 + (x + 3) * 1e-5

        def lat(y):
            return 26.0 - (y + 3) * 1e-5

        ring = [[lon(x1), lat(y1)], [lon(x2), lat(y1)], [lon(x2), lat(y2)], [lon(x1), lat(y2)],
                [lon(x1), lat(y1)]]
        features.append({"type": "Feature", "properties": {
            "bounds_imcoords": f"{x1},{y1},{x2},{y2}", "edited_by": "wwoscarbecerril",
            "cat_id": "1040010028371A00", "type_id": type_id, "image_id": image_id,
            "feature_id": len(features) + 1, "grade": 1,
            "ingest_time": "2017/07/24 12:49:09.118+00", "index_right": 2356},
            "geometry": {"type": "Polygon", "coordinates": [ring]}})
    labels = tmp_path / "xView_train.geojson"
    labels.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return labels, image


def test_xview_boxes_are_burnt_in_their_images_pixels(run_cli, make_raster, tmp_path):
    """make-masks xView_train.geojson 2355.tif burnt the features' lon/lat geometries (3 px
    off) and another image's box over its ground, exit 0. Each image takes the boxes of its
    image_id, in its pixels (bounds_imcoords), classed by type_id; an unlisted image is
    refused."""
    from .conftest import assert_one_line_error

    labels, image = _xview(tmp_path, make_raster)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
    assert result.exit_code == 0, result.output
    expected = np.zeros((80, 100), np.uint8)
    expected[10:20, 10:30] = 73
    expected[40:70, 50:60] = 18
    with rasterio.open(tmp_path / "mask.tif") as mask:
        assert mask.read(1).tolist() == expected.tolist()
        assert mask.crs.to_epsg() == 4326
    assert "1 box of no area left out" in result.output

    other = make_raster("train_images/99.tif", np.full((3, 8, 8), 90, np.uint8),
                        crs="EPSG:4326", transform=from_origin(-80.0, 26.0, 1e-5, 1e-5))
    result = run_cli("make-masks", labels, other, "-o", tmp_path / "other.tif")
    assert_one_line_error(result, "99.tif", "no feature of xView_train.geojson",
                          "image_id 99.tif")
    assert not (tmp_path / "other.tif").exists()


def test_xview_file_is_read_without_its_geometries(tmp_path):
    """xView_train.geojson is 800 MB of 600k features: read whole as Python objects it took
    some 10 GB (a 49 MB file of 100k features: 550 MB of RSS), its geometries and unused
    properties most. Each feature keeps image_id, type_id and bounds_imcoords alone: the
    read's peak stays within 3 times the file's size, the boxes the same."""
    import json
    import tracemalloc

    from geotile.xview_labels import read_xview

    ring = [[-80.0 + i * 1e-6, 26.0 + (i % 7) * 1e-6] for i in range(40)]
    features = [{"type": "Feature", "properties": {
        "bounds_imcoords": f"{i % 90},{i % 70},{i % 90 + 5},{i % 70 + 4}",
        "edited_by": "wwoscarbecerril", "cat_id": "1040010028371A00", "type_id": 73,
        "image_id": "2355.tif" if i % 2 else "1036.tif", "feature_id": i,
        "ingest_time": "2017/07/24 12:49:09.118+00", "index_right": 2356},
        "geometry": {"type": "Polygon", "coordinates": [ring]}} for i in range(4000)]
    labels = tmp_path / "xView_train.geojson"
    labels.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    size = labels.stat().st_size
    tracemalloc.start()
    try:
        found = read_xview(labels, [tmp_path / "2355.tif"])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3 * size, (peak, size)
    boxes = found.shapes[0].instances
    assert len(boxes) == 2000 and boxes[0][0] == "73"
    assert boxes[0][1].bounds == (1.0, 1.0, 6.0, 5.0)


def test_isaid_semantic_masks_pair_and_read_by_its_palette(run_cli, tmp_path):
    """tile images/ --masks Semantic_masks/ --palette isaid: iSAID's P0001_instance_color_RGB.png
    (colours of the iSAID devkit's palette, as mmsegmentation's converter reads them) beside
    DOTA's P0001.png was refused twice: no mask named P0001.*, and no built-in palette
    'isaid' (a JSON palette to write by hand). The mask pairs and its colours are iSAID's
    class ids: background 0, ship 1, ..., plane 14, Harbor 15."""
    from PIL import Image

    for folder in ("images", "Semantic_masks"):
        (tmp_path / folder).mkdir()
    Image.fromarray(np.full((32, 32, 3), 120, np.uint8)).save(tmp_path / "images/P0001.png")
    colours = np.zeros((32, 32, 3), np.uint8)
    colours[:16, :16] = (0, 0, 63)  # ship
    colours[16:, :16] = (0, 127, 255)  # plane
    colours[16:, 16:] = (0, 100, 155)  # Harbor
    Image.fromarray(colours).save(tmp_path / "Semantic_masks/P0001_instance_color_RGB.png")
    result = run_cli("tile", tmp_path / "images", "--masks", tmp_path / "Semantic_masks",
                     "--palette", "isaid", "--size", 16, "--format", "png",
                     "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    with (tmp_path / "out/index.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    ids = {(int(r["y_off"]), int(r["x_off"])): np.unique(np.asarray(
        Image.open(tmp_path / "out" / r["mask"]))).tolist() for r in rows}
    assert ids == {(0, 0): [1], (0, 16): [0], (16, 0): [14], (16, 16): [15]}


def test_xview_type_ids_75_and_82_are_left_out_with_one_warning(run_cli, make_raster,
                                                                tmp_path):
    """xView_train.geojson holds boxes of type_id 75 and 82, classes xView's own label list
    (xview_class_labels.txt: 60 classes) lacks and its converters drop (Ultralytics' xView
    maps them to -1 and skips them): they were burnt as classes 75 and 82, exit 0 with a
    silent 62-class mask. Now left out with one warning counting them."""
    import json

    labels, _ = _xview(tmp_path, make_raster)
    document = json.loads(labels.read_text())
    for box, type_id in (((0, 60, 8, 70), 75), ((20, 60, 30, 70), 82), ((85, 0, 95, 9), 82)):
        document["features"].append({"type": "Feature", "properties": {
            "bounds_imcoords": ",".join(str(v) for v in box), "type_id": type_id,
            "image_id": "2355.tif"}, "geometry": None})
    labels.write_text(json.dumps(document))
    result = run_cli("make-masks", labels, tmp_path / "train_images" / "2355.tif", "-o",
                     tmp_path / "mask.tif")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "mask.tif") as mask:
        assert sorted(np.unique(mask.read(1)).tolist()) == [0, 18, 73]
    warned = [line for line in result.stderr.splitlines() if "type_id 75" in line]
    assert len(warned) == 1, result.stderr
    assert "3 boxes" in warned[0] and "82" in warned[0], warned[0]


@pytest.mark.parametrize("image_name", ["2355.tif", "2355.png"])
def test_xview_boxes_of_an_image_named_with_and_without_tif_are_all_burnt(
        run_cli, make_raster, tmp_path, image_name):
    """A file whose image_ids name one image both ways (2355.tif and 2355: features added
    by another tool, or files merged): before, the image took its exact name's boxes alone,
    the others silently left out (exit 0, fewer features counted); now both, later on
    top, for a 2355.png made from it too."""
    import json

    labels, image = _xview(tmp_path, make_raster)
    document = json.loads(labels.read_text())
    document["features"].append({"type": "Feature", "properties": {
        "bounds_imcoords": " 80, 0, 90, 5 ", "type_id": "21", "image_id": "2355"},
        "geometry": None})
    document["features"].append({"type": "Feature", "properties": {
        "bounds_imcoords": "12,12,14,14", "type_id": 42, "image_id": 2355}, "geometry": None})
    labels.write_text(json.dumps(document))
    if image_name != image.name:
        image = image.rename(image.with_name(image_name))
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
    assert result.exit_code == 0, result.output
    expected = np.zeros((80, 100), np.uint8)
    expected[10:20, 10:30] = 73
    expected[40:70, 50:60] = 18
    expected[0:5, 80:90] = 21
    expected[12:14, 12:14] = 42
    with rasterio.open(tmp_path / "mask.tif") as mask:
        assert mask.read(1).tolist() == expected.tolist()
    assert "4 features" in result.output


#: Five Billion Pixels' colours of ids 3, 12 and 21 (irrigated field, urban residential,
#: road), as its devkit and mmsegmentation's FBP configs list them; black is unlabeled (0)
_FBP_COLOURS = {0: (0, 0, 0), 3: (150, 250, 0), 12: (250, 0, 150), 21: (250, 150, 150)}


def test_five_billion_pixels_colour_labels_read_by_its_palette(run_cli, make_raster, tmp_path):
    """Five Billion Pixels ships each GF-2 image (Image__8bit_NirRGB/<name>.tiff) with
    Annotation__index/<name>_24label.png (ids 0 unlabeled, 1..24) and
    Annotation__color/<name>_24label.tif, its 24 colours; the colour labels needed a JSON
    palette of 25 colours written by hand (the advice: 'not those of a built-in palette').
    --palette fbp gives the index file's ids (unlabeled black is 255, ignored), tile too,
    and the advice names it."""
    name = "GF2_PMS1__L1A0000564539-MSS1"
    for folder in ("Image__8bit_NirRGB", "Annotation__color"):
        (tmp_path / folder).mkdir()
    index = np.zeros((32, 32), np.uint8)
    index[:16, 16:], index[16:, :16], index[16:, 16:] = 3, 12, 21
    colours = np.zeros((3, 32, 32), np.uint8)
    for class_id, colour in _FBP_COLOURS.items():
        colours[:, index == class_id] = np.array(colour, np.uint8)[:, None]
    image = make_raster(f"Image__8bit_NirRGB/{name}.tiff", np.ones((4, 32, 32), np.uint8),
                        crs=None)
    make_raster(f"Annotation__color/{name}_24label.tif", colours, crs=None)
    labels = tmp_path / f"Annotation__color/{name}_24label.tif"
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif", "--palette", "fbp")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "m.tif") as src:
        np.testing.assert_array_equal(src.read(1), np.where(index == 0, 255, index))
    result = run_cli("tile", image, "--masks", tmp_path / "Annotation__color", "--palette",
                     "fbp", "--size", 16, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    with (tmp_path / "out/index.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    ids = set()
    for row in rows:
        with rasterio.open(tmp_path / "out" / row["mask"]) as src:
            ids |= set(np.unique(src.read(1)).tolist())
    assert ids == {3, 12, 21, 255}
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "plain.tif")
    assert result.exit_code == 1 and "--palette fbp" in result.stderr


def test_sen12ms_and_dfc2020_patches_pair_with_their_land_cover(run_cli, make_raster,
                                                               tmp_path):
    """SEN12MS names a patch's land cover ROIs1158_spring/lc_1/ROIs1158_spring_lc_1_p30.tif
    beside s2_1/ROIs1158_spring_s2_1_p30.tif and s1_1/ROIs1158_spring_s1_1_p30.tif; DFC2020
    its labels dfc_0/ROIs0000_validation_dfc_0_p0.tif for s2_0/ROIs0000_validation_s2_0_p0.
    `tile s2_1/ --masks lc_1/` was refused ('no mask named ROIs1158_spring_s2_1_p30.*'):
    each patch pairs with its own land cover (all four bands kept, uint16)."""
    kw = {"crs": "EPSG:32631", "transform": from_origin(600000, 5000000, 10, 10)}
    for folder in ("s2_1", "s1_1", "lc_1", "s2_0", "dfc_0"):
        (tmp_path / folder).mkdir()
    for p, igbp in (("p30", 10), ("p31", 13)):
        make_raster(f"s2_1/ROIs1158_spring_s2_1_{p}.tif",
                    np.full((13, 32, 32), igbp * 100, np.uint16), **kw)
        make_raster(f"s1_1/ROIs1158_spring_s1_1_{p}.tif",
                    np.full((2, 32, 32), -igbp, np.float32), **kw)
        make_raster(f"lc_1/ROIs1158_spring_lc_1_{p}.tif", np.stack(
            [np.full((32, 32), v, np.uint16) for v in (igbp, 35, 9, 30)]), **kw)
    make_raster("s2_0/ROIs0000_validation_s2_0_p0.tif", np.full((13, 32, 32), 700, np.uint16),
                **kw)
    make_raster("dfc_0/ROIs0000_validation_dfc_0_p0.tif", np.full((32, 32), 7, np.uint8), **kw)
    for images, masks, expected in (
            ("s2_1", "lc_1", {"ROIs1158_spring_s2_1_p30.tif": (1000, 10),
                              "ROIs1158_spring_s2_1_p31.tif": (1300, 13)}),
            ("s1_1", "lc_1", {"ROIs1158_spring_s1_1_p30.tif": (-10, 10),
                              "ROIs1158_spring_s1_1_p31.tif": (-13, 13)}),
            ("s2_0", "dfc_0", {"ROIs0000_validation_s2_0_p0.tif": (700, 7)})):
        out = tmp_path / f"out_{images}"
        result = run_cli("tile", tmp_path / images, "--masks", tmp_path / masks, "--size", 32,
                         "-o", out)
        assert result.exit_code == 0, result.output
        with (out / "index.csv").open() as handle:
            rows = list(csv.DictReader(handle))
        found = {}
        for row in rows:
            with rasterio.open(out / row["image"]) as image, \
                    rasterio.open(out / row["mask"]) as mask:
                found[row["source"]] = (int(image.read(1)[0, 0]), int(mask.read(1)[0, 0]))
                assert mask.count == (4 if masks == "lc_1" else 1)
        assert found == expected
