"""`make-masks LABELS_FOLDER IMAGES... -o OUT`: one label file per image (SpaceNet, xBD,
tile_12.geojson for tile_12.tif), paired by name as evaluate pairs folders, class ids
run-wide."""

from __future__ import annotations

import json
import shutil

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from rasterio.features import rasterize
from rasterio.transform import from_origin

from .conftest import UTM_CRS, UTM_ORIGIN, assert_one_line_error, union_of, write_raster

X0, Y0 = UTM_ORIGIN
TRANSFORM = from_origin(X0, Y0, 0.5, 0.5)
SIZE = 40


def _image(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_raster(path, np.zeros((3, SIZE, SIZE), np.uint8))


def _labels(path, boxes, classes=None, crs=UTM_CRS):
    """A GeoJSON of ``boxes`` (x0, y0, x1, y1 metres from the images' origin, y down) in
    ``crs`` (reprojected from the images' UTM zone)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    geometries = [shapely.box(X0 + a, Y0 - d, X0 + c, Y0 - b) for a, b, c, d in boxes]
    frame = gpd.GeoDataFrame({"kind": classes} if classes else {}, geometry=geometries,
                             crs=UTM_CRS)
    frame.to_crs(crs).to_file(path)
    return path


def _expected(boxes, ids=None):
    shapes = [(shapely.box(X0 + a, Y0 - d, X0 + c, Y0 - b), 1 if ids is None else i)
              for (a, b, c, d), i in zip(boxes, ids or [1] * len(boxes), strict=True)]
    if not shapes:
        return np.zeros((SIZE, SIZE), np.uint8)
    return rasterize(shapes, out_shape=(SIZE, SIZE), transform=TRANSFORM, dtype="uint8")


def _read(path):
    with rasterio.open(path) as src:
        return src.read(1), src.tags()


def test_spacenet_label_files_pair_with_their_images(run_cli, tmp_path):
    """geojson/buildings/buildings_AOI_2_Vegas_img1.geojson is the mask of
    RGB-PanSharpen/RGB-PanSharpen_AOI_2_Vegas_img1.tif (labels in another CRS are
    reprojected, file by file); a label file of no image given is left alone."""
    boxes = {1: [(1, 1, 6, 5)], 2: [(10, 2, 15, 9), (2, 12, 8, 18)], 3: [(0, 0, 19, 19)]}
    images = [_image(tmp_path / "RGB-PanSharpen" / f"RGB-PanSharpen_AOI_2_Vegas_img{i}.tif")
              for i in (1, 2)]
    for i, crs in ((1, UTM_CRS), (2, "EPSG:4326"), (3, UTM_CRS)):
        _labels(tmp_path / "geojson" / "buildings" / f"buildings_AOI_2_Vegas_img{i}.geojson",
                boxes[i], crs=crs)
    out = tmp_path / "masks"
    result = run_cli("make-masks", tmp_path / "geojson" / "buildings",
                     tmp_path / "RGB-PanSharpen", "-o", out, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [m["labels"] for m in report["masks"]] == [
        str(tmp_path / "geojson" / "buildings" / f"buildings_AOI_2_Vegas_img{i}.geojson")
        for i in (1, 2)]
    assert sorted(out.glob("*.tif")) == [out / i.name for i in images]
    for i, image in zip((1, 2), images, strict=True):
        mask, tags = _read(out / image.name)
        np.testing.assert_array_equal(mask, _expected(boxes[i]))
        assert tags["GEOTILE_LABELS"] == f"buildings_AOI_2_Vegas_img{i}.geojson"


def test_xbd_label_files_pair_with_their_pngs(run_cli, tmp_path):
    """xBD's labels/<name>.json draws on images/<name>.png; the pre-disaster file beside it
    is another image's; damage ids are the challenge's in every mask."""
    from tests.test_xbd import BUILDINGS, _expected, _xbd

    made = tmp_path / "made"
    made.mkdir()
    (tmp_path / "labels").mkdir()
    (tmp_path / "images").mkdir()
    names = ["hurricane-harvey_00000001_post_disaster", "hurricane-harvey_00000002_post_disaster",
             "hurricane-harvey_00000001_pre_disaster"]
    parts = {names[0]: BUILDINGS, names[1]: BUILDINGS[2:], names[2]: BUILDINGS[:1]}
    for name in names:
        labels, png = _xbd(made, name, parts[name])
        shutil.move(labels, tmp_path / "labels" / labels.name)
        if "post" in name:
            shutil.move(png, tmp_path / "images" / png.name)
    out = tmp_path / "masks"
    result = run_cli("make-masks", tmp_path / "labels", tmp_path / "images", "-o", out,
                     "--class-field", "subtype")
    assert result.exit_code == 0, result.output
    ids = {"no-damage": 1, "minor-damage": 2, "major-damage": 3, "destroyed": 4}
    for name in names[:2]:
        mask, tags = _read(out / f"{name}.tif")
        np.testing.assert_array_equal(mask, _expected(parts[name], ids=ids))
        assert tags["GEOTILE_LABELS"] == f"{name}.json"


def test_label_files_of_the_image_stems_in_one_folder(run_cli, tmp_path):
    """tile_12.geojson beside tile_12.tif (one folder of both) gives tile_12's mask, also
    from a quoted pattern; tile_1's label is not tile_12's."""
    folder = tmp_path / "tiles"
    boxes = {"tile_1": [(1, 1, 4, 4)], "tile_12": [(5, 5, 12, 9)]}
    for stem, shapes in boxes.items():
        _image(folder / f"{stem}.tif")
        _labels(folder / f"{stem}.geojson", shapes)
    for labels, out in ((folder, tmp_path / "a"), (f"{folder}/*.geojson", tmp_path / "b")):
        result = run_cli("make-masks", labels, folder, "-o", out)
        assert result.exit_code == 0, result.output
        assert "1 feature of tile_12.geojson" in result.stdout
        for stem, shapes in boxes.items():
            np.testing.assert_array_equal(_read(out / f"{stem}.tif")[0], _expected(shapes))


def test_two_label_files_of_one_name_in_a_pattern_are_told_apart(run_cli, tmp_path):
    """A recursive pattern ('lab/**/*.geojson') matching lab/b.geojson and
    lab/2019/b.geojson was refused saying 'b.geojson and b.geojson in lab/**/*.geojson both
    pair with it': which two files was not said. The refusal names their paths."""
    image = _image(tmp_path / "img" / "b.tif")
    for path in ("lab/b.geojson", "lab/2019/b.geojson"):
        _labels(tmp_path / path, [(1, 1, 4, 4)])
    result = run_cli("make-masks", f"{tmp_path}/lab/**/*.geojson", image,
                     "-o", tmp_path / "out.tif")
    assert_one_line_error(result, "b.tif", str(tmp_path / "lab" / "b.geojson"),
                          str(tmp_path / "lab" / "2019" / "b.geojson"))
    assert not (tmp_path / "out.tif").exists()


@pytest.mark.parametrize("command", ["make-masks", "tile"])
def test_an_image_without_its_label_file_is_refused_before_anything_is_written(run_cli,
                                                                             tmp_path,
                                                                             command):
    """make-masks LABELS_FOLDER and tile --labels FOLDER alike."""
    folder = tmp_path / "labels"
    images = [_image(tmp_path / "img" / f"tile_{i}.tif") for i in (1, 2, 3)]
    _labels(folder / "tile_1.geojson", [(1, 1, 4, 4)])
    _labels(folder / "tile_3.geojson", [(1, 1, 4, 4)])
    out = tmp_path / "out"
    arguments = ((folder, *images) if command == "make-masks"
                 else (*images, "--labels", folder, "--annotations", "coco"))
    result = run_cli(command, *arguments, "-o", out)
    assert_one_line_error(result, "tile_2.tif", str(folder), "expected tile_2.geojson")
    assert not out.exists()
    _labels(folder / "tile_2.geojson", [(1, 1, 4, 4)])
    _labels(folder / "tile_2_mask.geojson", [(1, 1, 4, 4)])  # two files name tile_2
    result = run_cli("make-masks", folder, *images, "-o", out)
    assert_one_line_error(result, "tile_2.tif", "tile_2.geojson and tile_2_mask.geojson",
                          str(folder), "Keep one label file per image")
    assert not out.exists()


def test_class_ids_by_name_are_those_of_the_whole_run(run_cli, tmp_path):
    """A file of only 'tree' and one of 'house' and 'tree': tree is 2 in both masks, and
    the empty tile's file (SpaceNet's, no fields) gives an all-zero mask of the same names."""
    folder = tmp_path / "labels"
    images = [_image(tmp_path / "img" / f"tile_{i}.tif") for i in (1, 2, 3)]
    _labels(folder / "tile_1.geojson", [(1, 1, 6, 6)], ["tree"])
    _labels(folder / "tile_2.geojson", [(1, 1, 6, 6), (8, 8, 14, 12)], ["house", "tree"])
    (folder / "tile_3.geojson").write_text('{"type": "FeatureCollection", "features": []}')
    out = tmp_path / "masks"
    result = run_cli("make-masks", folder, *images, "-o", out, "--class-field", "kind")
    assert result.exit_code == 0, result.output
    assert "class ids by name: 1 house, 2 tree" in result.stdout
    np.testing.assert_array_equal(_read(out / "tile_1.tif")[0], _expected([(1, 1, 6, 6)], [2]))
    np.testing.assert_array_equal(_read(out / "tile_2.tif")[0],
                                  _expected([(1, 1, 6, 6), (8, 8, 14, 12)], [1, 2]))
    np.testing.assert_array_equal(_read(out / "tile_3.tif")[0], _expected([]))
    names = [json.loads(_read(out / f"tile_{i}.tif")[1]["GEOTILE_CLASS_NAMES"])
             for i in (1, 2, 3)]
    assert names == [["background", "house", "tree"]] * 3
    again = run_cli("make-masks", folder, *images, "-o", out, "--class-field", "kind",
                    "--resume")
    assert again.exit_code == 0, again.output
    assert again.stdout.count("skipped (--resume)") == 3



def test_a_label_file_without_the_class_field_is_refused_before_any_mask(run_cli, tmp_path):
    """tile_1.geojson of 'kind', tile_2.geojson of features without it: the run wrote
    tile_1.tif, then stopped at tile_2 ('no field 'kind''), exit 1 with a mask left; the
    field is checked where the run's class names are gathered, before any mask."""
    folder = tmp_path / "labels"
    images = [_image(tmp_path / "img" / f"tile_{i}.tif") for i in (1, 2)]
    _labels(folder / "tile_1.geojson", [(1, 1, 6, 6)], ["tree"])
    _labels(folder / "tile_2.geojson", [(1, 1, 6, 6)])
    out = tmp_path / "masks"
    result = run_cli("make-masks", folder, *images, "-o", out, "--class-field", "kind")
    assert_one_line_error(result, "tile_2.geojson", "no field 'kind'")
    assert not out.exists() or not any(out.iterdir())

def test_a_class_spelt_two_ways_in_a_folder_has_one_name_in_every_mask(run_cli, tmp_path):
    """'House' in one file and 'house' in another (one class, id 1 in both masks) were named
    'House' in the first mask's GEOTILE_CLASS_NAMES and 'house' in the second's (each mask
    spelt it as its own file did), while the summary said '1 House'."""
    folder = tmp_path / "labels"
    images = [_image(tmp_path / "img" / f"tile_{i}.tif") for i in (1, 2)]
    _labels(folder / "tile_1.geojson", [(1, 1, 6, 6)], ["House"])
    _labels(folder / "tile_2.geojson", [(1, 1, 6, 6), (8, 8, 14, 12)], ["tree", "house"])
    out = tmp_path / "masks"
    result = run_cli("make-masks", folder, *images, "-o", out, "--class-field", "kind")
    assert result.exit_code == 0, result.output
    assert "class ids by name: 1 House, 2 tree" in result.stdout
    np.testing.assert_array_equal(_read(out / "tile_2.tif")[0],
                                  _expected([(1, 1, 6, 6), (8, 8, 14, 12)], [2, 1]))
    names = [json.loads(_read(out / f"tile_{i}.tif")[1]["GEOTILE_CLASS_NAMES"])
             for i in (1, 2)]
    assert names == [["background", "House", "tree"]] * 2


def test_workers_make_the_masks_of_a_serial_run(run_cli, tmp_path):
    pytest.importorskip("distributed")
    folder = tmp_path / "labels"
    images = [_image(tmp_path / "img" / f"tile_{i}.tif") for i in (1, 2)]
    _labels(folder / "tile_1.geojson", [(1, 1, 6, 6)], ["tree"])
    _labels(folder / "tile_2.geojson", [(1, 1, 6, 6), (8, 8, 14, 12)], ["house", "tree"],
            crs="EPSG:4326")
    args = ("make-masks", folder, *images, "--class-field", "kind", "--json", "-o")
    serial = run_cli(*args, tmp_path / "serial")
    assert serial.exit_code == 0, serial.output
    workers = run_cli(*args, tmp_path / "workers", "--workers", "2")
    assert workers.exit_code == 0, workers.output
    assert workers.stdout == serial.stdout.replace("serial", "workers")
    for image in images:
        assert ((tmp_path / "workers" / image.name).read_bytes()
                == (tmp_path / "serial" / image.name).read_bytes())


def test_a_label_file_named_after_another_image_of_the_run_is_that_images(run_cli, tmp_path):
    """Images x.tif and x_buildings.tif with labels x.geojson and x_buildings.geojson:
    x.tif was refused ('x.geojson and x_buildings.geojson in lab both pair with it ...
    Keep one label file per image'; _Buildings reads as a label suffix). A file of another
    image's own name is that image's labels, as evaluate pairs same names first."""
    boxes = {"x": [(1, 1, 6, 5)], "x_buildings": [(10, 2, 15, 9)]}
    images = [_image(tmp_path / "img" / f"{stem}.tif") for stem in boxes]
    for stem, shapes in boxes.items():
        _labels(tmp_path / "lab" / f"{stem}.geojson", shapes)
    result = run_cli("make-masks", tmp_path / "lab", *images, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    for stem, shapes in boxes.items():
        assert np.array_equal(_read(tmp_path / "out" / f"{stem}.tif")[0], _expected(shapes))


@pytest.mark.parametrize("command", ["make-masks", "tile"])
def test_one_label_file_named_after_two_images_is_refused(run_cli, tmp_path, command):
    """104.tif and 104_sat.tif (farm.tif and farm-ortho.tif) with the one label file
    104_mask.geojson (farm-label.geojson), and x_12.tif and y_12.tif with 12.geojson: both
    images of each pair were burnt from the one file, exit 0 (evaluate refuses such folders,
    tile --masks such files). The file is named after 104 (farm), another image of the run,
    and 12 names no one of x_12 and y_12: refused, naming the file and both images; the
    scenes of ISPRS's _RGB and _IRRG and SpaceNet's products of one image still share."""
    cases = {"sat": ("104", "104_sat", "104_mask"), "farm": ("farm", "farm-ortho", "farm-label"),
             "tail": ("x_12", "y_12", "12")}
    for name, (a, b, label) in cases.items():
        images = [_image(tmp_path / name / "img" / f"{s}.tif") for s in (a, b)]
        _labels(tmp_path / name / "lab" / f"{label}.geojson", [(1, 1, 6, 5)])
        out = tmp_path / name / "out"
        extra = ("--labels", tmp_path / name / "lab") if command == "tile" else ()
        args = (*images, *extra) if command == "tile" else (tmp_path / name / "lab", *images)
        result = run_cli(command, *args, "-o", out, *(("--size", 20) if command == "tile"
                                                     else ()))
        assert_one_line_error(result, f"{b}.tif", f"{label}.geojson")
        assert not out.exists() or not any(out.iterdir())
    shared = {"pots": (("top_2_10_RGB", "top_2_10_IRRG"), "top_2_10_label"),
              "sn": (("PS-RGB_AOI_2_Vegas_img1", "PS-MS_AOI_2_Vegas_img1"),
                     "buildings_AOI_2_Vegas_img1")}
    for name, (stems, label) in shared.items():
        images = [_image(tmp_path / name / "img" / f"{s}.tif") for s in stems]
        _labels(tmp_path / name / "lab" / f"{label}.geojson", [(1, 1, 6, 5)])
        if command == "make-masks":
            result = run_cli(command, tmp_path / name / "lab", *images, "-o",
                             tmp_path / name / "out")
        else:
            result = run_cli(command, *images, "--labels", tmp_path / name / "lab",
                             "--size", 20, "-o", tmp_path / name / "out")
        assert result.exit_code == 0, result.output


@pytest.mark.parametrize("command", ["make-masks", "tile"])
def test_a_folder_of_shapefiles_of_no_image_asks_for_a_layer(run_cli, tmp_path, command):
    """A GIS folder of layers (buildings.shp, roads.shp) given as LABELS without --layer
    was refused with 'the file holds 2 layers ... Choose one with --layer NAME'; read as a
    label folder it said 'tile_1.tif: no label file in shp pairs with it (expected
    tile_1.shp)'. A folder of Shapefiles none of which names an image still names its
    layers and --layer; with --layer roads the roads' mask is made."""
    folder = tmp_path / "shp"
    folder.mkdir()
    for name, box in (("buildings", (1, 1, 4, 4)), ("roads", (10, 10, 16, 12))):
        frame = gpd.GeoDataFrame(geometry=[shapely.box(X0 + box[0], Y0 - box[3],
                                                       X0 + box[2], Y0 - box[1])], crs=UTM_CRS)
        frame.to_file(folder / f"{name}.shp")
    images = [_image(tmp_path / "img" / f"tile_{i}.tif") for i in (1, 2)]
    out = tmp_path / "out"
    args = (["make-masks", folder, *images, "-o", f"{out}/"] if command == "make-masks"
            else ["tile", *images, "--labels", folder, "--size", 20, "-o", out])
    result = run_cli(*args)
    assert_one_line_error(result, str(folder), "buildings", "roads", "--layer NAME")
    assert not out.exists()
    if command == "make-masks":
        result = run_cli(*args, "--layer", "roads")
        assert result.exit_code == 0, result.output
        assert np.array_equal(_read(out / "tile_1.tif")[0], _expected([(10, 10, 16, 12)]))


def test_label_files_named_in_nfd_pair_with_images_named_in_nfc(run_cli, tmp_path):
    """Label files copied from a Mac (Zürich as Zu + U+0308, NFD) beside images named on
    Linux (NFC): make-masks and tile --labels exited 1 ('Zürich.tif: no label file in lab
    pairs with it'). Each image gets its own labels (its own name, another image's name
    plus _buildings, a SpaceNet id); the masks keep the image's spelling."""
    nfc, nfd = "Z\u00fcrich", "Zu\u0308rich"
    boxes = {nfc: [(1, 1, 6, 5)], f"{nfc}_buildings": [(10, 2, 15, 9)],
             f"RGB-PanSharpen_AOI_2_{nfc}_img1": [(2, 12, 8, 18)]}
    labels = {nfc: nfd, f"{nfc}_buildings": f"{nfd}_buildings",
              f"RGB-PanSharpen_AOI_2_{nfc}_img1": f"buildings_AOI_2_{nfd}_img1"}
    images = [_image(tmp_path / "img" / f"{stem}.tif") for stem in boxes]
    for stem, shapes in boxes.items():
        _labels(tmp_path / "lab" / f"{labels[stem]}.geojson", shapes)

    def _boxes(shapes):
        return [shapely.box(X0 + a, Y0 - d, X0 + c, Y0 - b) for a, b, c, d in shapes]
    out = tmp_path / "out"
    result = run_cli("make-masks", tmp_path / "lab", *images, "-o", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.glob("*.tif")) == sorted(f"{s}.tif" for s in boxes)
    for stem, shapes in boxes.items():
        mask, tags = _read(out / f"{stem}.tif")
        np.testing.assert_array_equal(mask, _expected(shapes))
        assert tags["GEOTILE_LABELS"] == f"{labels[stem]}.geojson"
    result = run_cli("tile", *images, "--labels", tmp_path / "lab", "--size", SIZE,
                     "-o", tmp_path / "tiles")
    assert result.exit_code == 0, result.output
    for stem, shapes in boxes.items():
        patch = gpd.read_file(tmp_path / "tiles" / "labels" / f"{stem}_0_0.geojson")
        drawn = union_of(patch.to_crs(UTM_CRS).geometry)
        assert drawn.symmetric_difference(shapely.union_all(_boxes(shapes))).area < 1e-6


def test_a_folder_of_openstreetmap_extracts_pairs_by_name(run_cli, tmp_path):
    """A folder of one .osm (or .osm.pbf) extract per tile was refused: "osm is a folder,
    not vector data GDAL can read"; its files pair with the images (tile_b.osm.pbf with
    tile_b.tif), each mask burnt from its own extract's buildings."""
    from .test_labels_inputs import _osm_extract

    def square(a, b, c, d):
        return [(X0 + a, Y0 - b), (X0 + c, Y0 - b), (X0 + c, Y0 - d), (X0 + a, Y0 - d),
                (X0 + a, Y0 - b)]

    (tmp_path / "osm").mkdir()
    _osm_extract(tmp_path / "osm" / "tile_a.osm", [({"building": "yes"}, [square(1, 1, 4, 4)])])
    # GDAL's OSM driver tells XML from PBF by the content: the pairing is what is tested
    _osm_extract(tmp_path / "osm" / "tile_b.osm.pbf", [({"building": "yes"},
                                                         [square(10, 10, 15, 12)])])
    images = [_image(tmp_path / "img" / f"tile_{n}.tif") for n in "ab"]
    result = run_cli("make-masks", tmp_path / "osm", *images, "-o", tmp_path / "masks",
                     "--layer", "multipolygons")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "masks" / "tile_a.tif") as src:
        a = src.read(1)
    with rasterio.open(tmp_path / "masks" / "tile_b.tif") as src:
        b = src.read(1)
    assert a.sum() == 36 and (a[2:8, 2:8] == 1).all()  # 3 x 3 m at 0.5 m
    assert b.sum() == 40 and (b[20:24, 20:30] == 1).all()  # 5 x 2 m


@pytest.mark.parametrize("command", ["make-masks", "tile"])
def test_spacenet8_pre_and_post_event_images_share_their_tiles_annotations(run_cli, tmp_path,
                                                                           command):
    """SpaceNet 8 names images <Maxar catalog id>_<tile>.tif in PRE-event/ and POST-event/
    and draws both on one annotations/<tile>.geojson: the pre and post images of a run were
    refused as "images of other names" (each alone was burnt), though they are one tile's
    two acquisitions; each is burnt from its tile's file. Other names ending alike still
    share no file (x_12 and y_12: 12.geojson is no one's)."""
    boxes = {"0_15_63": [(1, 1, 6, 5)], "0_15_64": [(10, 2, 15, 9)]}
    images = {}
    for tile, tile_boxes in boxes.items():
        _labels(tmp_path / "annotations" / f"{tile}.geojson", tile_boxes, crs="EPSG:4326")
        images[tile] = [_image(tmp_path / "PRE-event" / f"10500500C4DD7000_{tile}.tif"),
                        _image(tmp_path / "POST-event" / f"105001001A0FFC00_{tile}.tif")]
    every = [i for pair in images.values() for i in pair]
    out = tmp_path / "out"
    if command == "make-masks":
        result = run_cli(command, tmp_path / "annotations", *every, "-o", out)
    else:
        result = run_cli(command, *every, "--labels", tmp_path / "annotations", "--size", 20,
                         "-o", out)
    assert result.exit_code == 0, result.output
    if command == "make-masks":
        for tile, pair in images.items():
            for image in pair:
                mask, tags = _read(out / image.name)
                np.testing.assert_array_equal(mask, _expected(boxes[tile]))
                assert tags["GEOTILE_LABELS"] == f"{tile}.geojson"
    for stems in (("10500500C4DD7000_0_15_63", "y_0_15_63"),
                  ("10500500c4dd7000_0_15_63", "105001001a0ffc00_0_15_63")):
        named = [_image(tmp_path / "other" / f"{s}.tif") for s in stems]
        result = run_cli("make-masks", tmp_path / "annotations", *named, "-o",
                         tmp_path / "other_out")
        assert_one_line_error(result, "0_15_63.geojson", named[1].name)


def test_a_folder_named_key_value_of_mixed_label_files_pairs_them(run_cli, tmp_path):
    """labels/split=train/ (a Hive-like name) holding a.parquet and b.geojson, one label file
    per image: a folder of per-image label files, not one Parquet dataset beside a stray
    file, read as such (each mask its own file's box)."""
    folder = tmp_path / "labels" / "split=train"
    boxes = {"a": [(1, 1, 4, 4)], "b": [(5, 5, 12, 9)]}
    for stem in boxes:
        _image(tmp_path / "images" / f"{stem}.tif")
    _labels(folder / "b.geojson", boxes["b"])
    gpd.read_file(_labels(tmp_path / "a.geojson", boxes["a"])).to_parquet(folder / "a.parquet")
    result = run_cli("make-masks", folder, tmp_path / "images", "-o", tmp_path / "masks")
    assert result.exit_code == 0, result.output
    for stem, shapes in boxes.items():
        np.testing.assert_array_equal(_read(tmp_path / "masks" / f"{stem}.tif")[0],
                                      _expected(shapes))


def test_a_vector_label_named_like_a_landcover_ai_mask_does_not_pair(tmp_path, run_cli):
    """labels/area_1.geojson beside labels/area_1_m.geojson (a modified copy): 089dccb's
    LandCover.ai _m suffix (<name>_<k>_m, whose masks are PNG rasters) paired both with
    area_1.tif and make-masks refused ('both pair with it'; worked before). The vector file
    of the image's own name is its labels again: its box (10 x 10 px) is burnt."""
    image = _image(tmp_path / "area_1.tif")
    _labels(tmp_path / "labels" / "area_1.geojson", [(0, 0, 5, 5)])
    _labels(tmp_path / "labels" / "area_1_m.geojson", [(10, 10, 18, 18)])
    result = run_cli("make-masks", tmp_path / "labels", image, "-o", f"{tmp_path}/out/")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "out" / "area_1.tif") as src:
        mask = src.read(1)
    assert (mask == 1).sum() == 100 and mask[:10, :10].all()
