"""SpaceNet's road CSVs (SpaceNet 3 and 5: ImageId, WKT_Pix[, length_m, travel_time_s];
SpaceNet 8: ImageId, Object, Wkt_Pix, Flooded, length_m, travel_time_s): read as labels,
written by vectorize --lines, scored by evaluate."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from geotile.spacenet import is_road_csv, is_spacenet_csv, read_csv

from .conftest import UTM_CRS, UTM_ORIGIN, assert_one_line_error
from .test_lines import road_network, write_lines
from .test_spacenet import write_rows

X0, Y0 = UTM_ORIGIN
CELL = 0.5
TRANSFORM = from_origin(X0, Y0, CELL, CELL)
SIZE = 400  # px: 200 m


def to_pixels(line, transform=TRANSFORM):
    """``line`` (map coordinates) in the pixel coordinates of ``transform``'s image."""
    inverse = ~transform
    return shapely.transform(line, lambda xy: np.column_stack(
        [inverse.a * xy[:, 0] + inverse.b * xy[:, 1] + inverse.c,
         inverse.d * xy[:, 0] + inverse.e * xy[:, 1] + inverse.f]))


def roads_csv(path, image_id="AOI_2_Vegas_img1", empty=("AOI_2_Vegas_img2",)):
    """SpaceNet 3's truth of ``road_network`` on the image at TRANSFORM, and a LINESTRING
    EMPTY row for each of ``empty``."""
    rows = [[image_id, to_pixels(line).wkt] for line in road_network(X0, Y0, SIZE * CELL)]
    rows += [[other, "LINESTRING EMPTY"] for other in empty]
    return write_rows(path, ["ImageId", "WKT_Pix"], rows)


def test_road_csvs_of_spacenet_3_5_and_8_are_read_as_lines(tmp_path):
    sn3 = roads_csv(tmp_path / "sn3.csv")
    table = read_csv(sn3)
    assert is_spacenet_csv(sn3) and is_road_csv(sn3) and table.roads
    assert table.images == ["AOI_2_Vegas_img1", "AOI_2_Vegas_img2"]  # the empty one too
    assert len(table) == len(road_network(X0, Y0, SIZE * CELL))
    assert set(shapely.get_type_id(table.pixel)) == {1}  # LineStrings
    line = "LINESTRING (10 20, 110 20)"
    sn5 = write_rows(tmp_path / "sn5.csv", ["ImageId", "WKT_Pix", "length_m", "travel_time_s"],
                     [["AOI_7_Moscow_chip0", line, "30.0", "2.4"],
                      ["AOI_7_Moscow_chip1", "LINESTRING EMPTY", "0", "0"]])
    table = read_csv(sn5)
    assert table.images == ["AOI_7_Moscow_chip0", "AOI_7_Moscow_chip1"]
    assert table.extra["length_m"].tolist() == [30.0]
    assert table.extra["travel_time_s"].tolist() == [2.4]
    sn8 = write_rows(tmp_path / "sn8.csv", ["ImageId", "Object", "Wkt_Pix", "Flooded",
                                            "length_m", "travel_time_s"],
                     [["10500500C4DD7000_0_26_62", "Road", line, "False", "30.0", "3.1"],
                      ["10500500C4DD7000_0_26_62", "Building",
                       shapely.box(1, 1, 5, 5).wkt, "True", "Null", "Null"]])
    table = read_csv(sn8)
    assert is_road_csv(sn8) and list(table.extra["Object"]) == ["Road", "Building"]
    assert np.isnan(table.extra["length_m"][1])  # 'Null' on a building
    buildings = tmp_path / "buildings.csv"
    write_rows(buildings, ["ImageId", "BuildingId", "PolygonWKT_Pix"],
               [["AOI_2_Vegas_img1", 0, shapely.box(1, 1, 5, 5).wkt]])
    assert is_spacenet_csv(buildings) and not is_road_csv(buildings)


def test_make_masks_burns_a_road_csv_as_the_same_roads_in_geojson(run_cli, make_raster,
                                                                   tmp_path):
    zeros = np.zeros((3, SIZE, SIZE), np.uint8)
    one = make_raster("PS-RGB_AOI_2_Vegas_img1.tif", zeros, transform=TRANSFORM)
    two = make_raster("PS-RGB_AOI_2_Vegas_img2.tif", zeros,
                      transform=from_origin(X0 + 1000, Y0, CELL, CELL))
    truth = roads_csv(tmp_path / "truth.csv")
    geojson = write_lines(tmp_path / "roads.geojson", road_network(X0, Y0, SIZE * CELL))
    result = run_cli("make-masks", truth, one, two, "-o", tmp_path / "masks",
                     "--line-width", 4)
    assert result.exit_code == 0, result.output
    result = run_cli("make-masks", geojson, one, "-o", tmp_path / "expected.tif",
                     "--line-width", 4)
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "masks" / f"{one.stem}.tif") as src, \
            rasterio.open(tmp_path / "expected.tif") as ref:
        mask = src.read(1)
        assert src.transform == TRANSFORM and src.crs.to_string() == UTM_CRS
        assert mask.sum() > 1000 and np.array_equal(mask, ref.read(1))
        assert src.descriptions == ref.descriptions
    with rasterio.open(tmp_path / "masks" / f"{two.stem}.tif") as src:  # LINESTRING EMPTY
        assert not src.read(1).any()
    result = run_cli("make-masks", truth, one, "-o", tmp_path / "no_width.tif")
    assert_one_line_error(result, "truth.csv", "--line-width")
    assert not (tmp_path / "no_width.tif").exists()


def test_a_csv_of_pixel_lines_in_neither_spacenet_format_is_still_refused(run_cli,
                                                                          make_raster,
                                                                          tmp_path):
    image = make_raster("PS-RGB_AOI_2_Vegas_img1.tif", np.zeros((1, 40, 40), np.uint8),
                        transform=TRANSFORM)
    other = write_rows(tmp_path / "lines.csv", ["name", "geometry_pix"],
                       [["AOI_2_Vegas_img1", "LINESTRING (1 1, 30 30)"]])
    assert not is_spacenet_csv(other)
    result = run_cli("make-masks", other, image, "-o", tmp_path / "m.tif", "--line-width", 2)
    assert_one_line_error(result, "lines.csv", "pixel coordinates", "SpaceNet")
    assert not (tmp_path / "m.tif").exists()


def road_probabilities(make_raster, name, transform=TRANSFORM, crs=UTM_CRS, roads=None):
    """A float32 road probability raster (0.9 on 4 m wide roads, 0.05 elsewhere) of
    ``road_network`` (or ``roads``, map coordinates) at ``transform``."""
    from rasterio.features import rasterize

    x0, y0 = transform.c, transform.f
    roads = road_network(x0, y0, SIZE * transform.a) if roads is None else roads
    burnt = rasterize([(g.buffer(2 * transform.a / CELL), 1) for g in roads],
                      out_shape=(SIZE, SIZE), transform=transform)
    probability = np.where(burnt > 0, 0.9, 0.05).astype(np.float32)
    return make_raster(name, probability, transform=transform, crs=crs)


def read_rows(path):
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


def test_vectorize_lines_to_csv_writes_spacenet_5_rows_in_each_images_pixels(
        run_cli, make_raster, tmp_path):
    import geopandas as gpd

    one = road_probabilities(make_raster, "PS-RGB_AOI_2_Vegas_img1.tif")
    other = from_origin(X0 + 1000, Y0, CELL, CELL)
    two = road_probabilities(make_raster, "SN5_roads_train_AOI_7_Moscow_PS-MS_chip3.tif",
                             transform=other, roads=[])
    out = tmp_path / "roads.csv"
    result = run_cli("vectorize", one, two, "-o", out, "--lines")
    assert result.exit_code == 0, result.output
    gpkg = tmp_path / "roads.gpkg"
    assert run_cli("vectorize", one, "-o", gpkg, "--lines").exit_code == 0
    expected = gpd.read_file(gpkg)
    rows = read_rows(out)
    assert rows[0] == ["ImageId", "WKT_Pix", "length_m"]
    lines = [r for r in rows[1:] if r[0] == "AOI_2_Vegas_img1"]
    assert len(lines) == len(expected) > 5 and f"{len(lines)} lines" in result.stdout
    assert rows[1:].count(["AOI_7_Moscow_chip3", "LINESTRING EMPTY", "0"]) == 1
    assert len(rows) == len(lines) + 2
    written = shapely.from_wkt([r[1] for r in lines])
    assert set(shapely.get_type_id(written)) == {1}
    pixels = [to_pixels(g) for g in expected.geometry]  # the .gpkg's lines, in pixels
    for line, length in zip(written, (float(r[2]) for r in lines), strict=True):
        match = min(range(len(pixels)), key=lambda i: pixels[i].hausdorff_distance(line))
        assert pixels[match].equals_exact(line, 1e-6)
        assert length == pytest.approx(expected["length_m"].iloc[match])
        assert length == pytest.approx(line.length * CELL, abs=0.006)  # m of 0.5 m pixels
    assert result.stdout.count("\n") == 1 and "roads.csv" in result.stdout


def test_vectorize_lines_to_csv_of_a_lonlat_raster_measures_ground_metres(run_cli,
                                                                          make_raster,
                                                                          tmp_path):
    cell = 0.5 / 111_320  # 0.5 m pixels near the equator, as SpaceNet's lon/lat road tiles
    transform = from_origin(10.0, 1.0, cell, cell)
    road = shapely.LineString([(10.0 + 20 * cell, 1.0 - 100 * cell),
                               (10.0 + 380 * cell, 1.0 - 100 * cell)])
    raster = road_probabilities(make_raster, "AOI_9_San_Juan_chip1.tif", transform=transform,
                                crs="EPSG:4326", roads=[road])
    out = tmp_path / "roads.csv"
    result = run_cli("vectorize", raster, "-o", out, "--lines")
    assert result.exit_code == 0, result.output
    (image, wkt, length), = read_rows(out)[1:]
    line = shapely.from_wkt(wkt)
    assert image == "AOI_9_San_Juan_chip1"
    assert line.hausdorff_distance(to_pixels(road, transform)) < 2  # pixels
    from pyproj import Geod

    lonlat = shapely.transform(line, lambda xy: np.column_stack(
        [10.0 + xy[:, 0] * cell, 1.0 - xy[:, 1] * cell]))
    assert float(length) == pytest.approx(Geod(ellps="WGS84").geometry_length(lonlat),
                                          abs=0.05)


def test_vectorize_lines_to_csv_without_a_crs_leaves_length_m_out(run_cli, make_raster,
                                                                   tmp_path):
    raster = road_probabilities(make_raster, "AOI_2_Vegas_img4.tif", crs=None)
    out = tmp_path / "roads.csv"
    result = run_cli("vectorize", raster, "-o", out, "--lines")
    assert result.exit_code == 0, result.output
    rows = read_rows(out)
    assert rows[0] == ["ImageId", "WKT_Pix"] and len(rows) > 5
    assert {r[0] for r in rows[1:]} == {"AOI_2_Vegas_img4"}
    said = [line for line in result.stderr.splitlines() if "length_m" in line]
    assert len(said) == 1 and "AOI_2_Vegas_img4.tif" in said[0] and "no CRS" in said[0]


def test_vectorize_lines_to_csv_refuses_what_it_cannot_write(run_cli, make_raster,
                                                             tmp_path):
    one = road_probabilities(make_raster, "PS-RGB_AOI_2_Vegas_img1.tif")
    again = road_probabilities(make_raster, "RGB-PanSharpen_AOI_2_Vegas_img1.tif",
                               transform=from_origin(X0 + 1000, Y0, CELL, CELL))
    out = tmp_path / "roads.csv"
    result = run_cli("vectorize", one, again, "-o", out, "--lines")
    assert_one_line_error(result, "same SpaceNet ImageId", "AOI_2_Vegas_img1")
    result = run_cli("vectorize", one, "-o", out, "--lines", "--crs", "EPSG:4326")
    assert_one_line_error(result, "--crs", "WKT_Pix", code=2)
    assert not out.exists()
    out.write_text("mine\n")
    result = run_cli("vectorize", one, "-o", out, "--lines")
    assert result.exit_code == 1 and "--overwrite" in result.stderr
    assert out.read_text() == "mine\n"


def scored(run_cli, *args):
    import json

    result = run_cli("evaluate", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


SCORES = ("precision", "recall", "f1", "predicted_length_m", "true_length_m",
          "matched_predicted_length_m", "matched_true_length_m")


def scene_with_misses(make_raster, tmp_path):
    """A raster of road_network and a road the truth lacks, and a GeoJSON truth of
    road_network and a road the raster lacks (precision and recall below 1)."""
    roads = road_network(X0, Y0, SIZE * CELL)
    extra = shapely.LineString([(X0 + 20, Y0 - 185), (X0 + 180, Y0 - 185)])
    missed = shapely.LineString([(X0 + 185, Y0 - 20), (X0 + 185, Y0 - 180)])
    raster = road_probabilities(make_raster, "PS-RGB_AOI_2_Vegas_img1.tif",
                                roads=[*roads, extra])
    truth = write_lines(tmp_path / "truth.geojson", [*roads, missed])
    return raster, truth


def test_a_road_csv_scores_as_the_geojson_vectorize_writes_of_the_same_lines(
        run_cli, make_raster, tmp_path):
    raster, truth = scene_with_misses(make_raster, tmp_path)
    for out in ("roads.csv", "roads.geojson"):
        result = run_cli("vectorize", raster, "-o", tmp_path / out, "--lines")
        assert result.exit_code == 0, result.output
    expected = scored(run_cli, tmp_path / "roads.geojson", truth)
    assert 0.5 < expected["precision"] < 0.99 and 0.5 < expected["recall"] < 0.99
    got = scored(run_cli, tmp_path / "roads.csv", truth, "--image", raster)
    assert got["mode"] == "line" and got["predictions"] == expected["predictions"]
    for key in SCORES:
        assert got[key] == pytest.approx(expected[key], rel=1e-4, abs=1e-4), key
    # the images as a folder; the truth as SpaceNet 3's CSV of the same roads
    folder = tmp_path / "images"
    folder.mkdir()
    image = make_raster("images/RGB-PanSharpen_AOI_2_Vegas_img1.tif",
                        np.zeros((3, SIZE, SIZE), np.uint8), transform=TRANSFORM)
    assert image.parent == folder
    truth_csv = roads_csv(tmp_path / "truth.csv", empty=())
    plain = write_lines(tmp_path / "plain.geojson", road_network(X0, Y0, SIZE * CELL))
    expected = scored(run_cli, tmp_path / "roads.geojson", plain)
    got = scored(run_cli, tmp_path / "roads.geojson", truth_csv, "--image", folder)
    for key in SCORES:
        assert got[key] == pytest.approx(expected[key], rel=1e-4, abs=1e-4), key


def test_two_road_csvs_are_scored_image_by_image_in_metres(run_cli, make_raster, tmp_path):
    raster, _ = scene_with_misses(make_raster, tmp_path)
    other = road_probabilities(make_raster, "PS-RGB_AOI_2_Vegas_img2.tif",
                               transform=from_origin(X0 + 1000, Y0, CELL, CELL), roads=[])
    pred = tmp_path / "roads.csv"
    assert run_cli("vectorize", raster, other, "-o", pred, "--lines").exit_code == 0
    truth = roads_csv(tmp_path / "truth.csv")  # img2: LINESTRING EMPTY
    gpkg = tmp_path / "roads.gpkg"
    assert run_cli("vectorize", raster, "-o", gpkg, "--lines").exit_code == 0
    plain = write_lines(tmp_path / "plain.geojson", road_network(X0, Y0, SIZE * CELL))
    expected = scored(run_cli, gpkg, plain)
    got = scored(run_cli, pred, truth, "--image", tmp_path)
    assert got["images"] == 2 and set(got["per_image"]) == {"AOI_2_Vegas_img1",
                                                            "AOI_2_Vegas_img2"}
    for key in SCORES:
        assert got[key] == pytest.approx(expected[key], rel=1e-4, abs=1e-4), key
        assert got["per_image"]["AOI_2_Vegas_img1"][key] == pytest.approx(expected[key], rel=1e-4,
                                                                          abs=1e-4)
    empty = got["per_image"]["AOI_2_Vegas_img2"]
    assert empty["predicted_length_m"] == empty["true_length_m"] == 0


def test_road_csvs_refused_in_one_line_with_what_to_give(run_cli, make_raster, tmp_path):
    raster, truth = scene_with_misses(make_raster, tmp_path)
    pred = tmp_path / "roads.csv"
    assert run_cli("vectorize", raster, "-o", pred, "--lines").exit_code == 0
    assert_one_line_error(run_cli("evaluate", pred, truth), "roads.csv", "--image",
                          "metres")
    elsewhere = make_raster("PS-RGB_AOI_2_Vegas_img9.tif", np.zeros((1, 8, 8), np.uint8))
    assert_one_line_error(run_cli("evaluate", pred, truth, "--image", elsewhere),
                          "roads.csv", "AOI_2_Vegas_img1", "--image")
    bare = tmp_path / "bare"
    bare.mkdir()
    make_raster("bare/PS-RGB_AOI_2_Vegas_img1.tif", np.zeros((1, 8, 8), np.uint8), crs=None,
                transform=TRANSFORM)
    assert_one_line_error(run_cli("evaluate", pred, truth, "--image", bare),
                          "PS-RGB_AOI_2_Vegas_img1.tif", "no CRS")
    buildings = write_rows(tmp_path / "buildings.csv",
                           ["ImageId", "BuildingId", "PolygonWKT_Pix"],
                           [["AOI_2_Vegas_img1", 0, shapely.box(1, 1, 9, 9).wkt]])
    assert_one_line_error(run_cli("evaluate", buildings, pred, "--image", raster),
                          "buildings.csv", "building CSV", "road CSV")
    assert_one_line_error(run_cli("evaluate", pred, truth, "--image", raster, "--iou", "0.3"),
                          "--iou", code=2)


def test_spacenet_8_buildings_beside_roads_are_left_out_of_line_scores(run_cli, make_raster,
                                                                      tmp_path):
    image = make_raster("10500500C4DD7000_0_26_62.tif", np.zeros((1, SIZE, SIZE), np.uint8),
                        transform=TRANSFORM)
    road = "LINESTRING (20 100, 380 100)"
    truth = write_rows(tmp_path / "reference.csv", ["ImageId", "Object", "Wkt_Pix", "Flooded",
                                                    "length_m", "travel_time_s"],
                       [["10500500C4DD7000_0_26_62", "Road", road, "False", "180", "14"],
                        ["10500500C4DD7000_0_26_62", "Building",
                         shapely.box(30, 30, 60, 60).wkt, "True", "Null", "Null"]])
    pred = write_lines(tmp_path / "pred.geojson", [shapely.LineString(
        [(X0 + 10, Y0 - 50), (X0 + 100, Y0 - 50)])])
    result = run_cli("evaluate", pred, truth, "--image", image, "--json")
    assert result.exit_code == 0, result.output
    said = [line for line in result.stderr.splitlines() if "polygon" in line]
    assert len(said) == 1 and "reference.csv" in said[0] and "1 row" in said[0]
    import json

    scores = json.loads(result.stdout)
    assert scores["true_length_m"] == pytest.approx(180.0)
    assert scores["recall"] == pytest.approx(92 / 180, abs=1e-4)  # 90 m and the 2 m buffer
    assert scores["precision"] == 1.0


def test_make_masks_of_an_image_the_road_csv_lists_without_roads_says_no_crs_is_wrong(
        run_cli, make_raster, tmp_path):
    """A road CSV's LINESTRING EMPTY row alone (a chip without roads): an all-zero mask,
    said as such, with no guess that the labels' CRS is wrong (as for buildings)."""
    image = make_raster("PS-RGB_AOI_2_Vegas_img2.tif", np.zeros((1, 40, 40), np.uint8),
                        transform=TRANSFORM)
    truth = write_rows(tmp_path / "truth.csv", ["ImageId", "WKT_Pix"],
                       [["AOI_2_Vegas_img2", "LINESTRING EMPTY"]])
    result = run_cli("-v", "make-masks", truth, image, "-o", tmp_path / "m.tif",
                     "--line-width", 4)
    assert result.exit_code == 0, result.output
    assert "CRS" not in result.stderr and "Warning" not in result.stderr, result.stderr
    assert "lists no road on PS-RGB_AOI_2_Vegas_img2.tif" in result.stderr
    with rasterio.open(tmp_path / "m.tif") as src:
        assert not src.read(1).any()


def test_options_of_a_vector_files_crs_or_layer_are_refused_for_the_road_csv(run_cli,
                                                                            make_raster,
                                                                            tmp_path):
    """--labels-crs, --layer (truth) and --prediction-crs name a vector file's CRS or layer:
    given for a road CSV, whose images place it, they would change nothing."""
    raster, truth = scene_with_misses(make_raster, tmp_path)
    pred = tmp_path / "roads.csv"
    assert run_cli("vectorize", raster, "-o", pred, "--lines").exit_code == 0
    truth_csv = roads_csv(tmp_path / "truth.csv", empty=())
    for args, option in (((pred, truth, "--prediction-crs", "EPSG:4326"), "--prediction-crs"),
                         ((truth, truth_csv, "--labels-crs", "EPSG:4326"), "--labels-crs"),
                         ((truth, truth_csv, "--layer", "roads"), "--layer")):
        result = run_cli("evaluate", *args, "--image", raster)
        assert_one_line_error(result, option, "road CSV", code=2)


def test_images_of_one_image_id_on_other_grids_are_refused(run_cli, make_raster, tmp_path):
    """SpaceNet's PAN and MUL images of one ImageId lie on other pixel grids (0.3 and
    1.2 m): the CSV's pixels are of one of them, so --image must hold one product."""
    truth = roads_csv(tmp_path / "truth.csv", empty=())
    for folder in ("imgs", "same"):
        (tmp_path / folder).mkdir()
    make_raster("imgs/PAN_AOI_2_Vegas_img1.tif", np.zeros((1, SIZE, SIZE), np.uint8),
                transform=TRANSFORM)
    make_raster("imgs/MUL_AOI_2_Vegas_img1.tif", np.zeros((1, 100, 100), np.uint8),
                transform=from_origin(X0, Y0, 4 * CELL, 4 * CELL))
    make_raster("same/PS-RGB_AOI_2_Vegas_img1.tif", np.zeros((1, SIZE, SIZE), np.uint8),
                transform=TRANSFORM)
    make_raster("same/PS-MS_AOI_2_Vegas_img1.tif", np.zeros((1, SIZE, SIZE), np.uint8),
                transform=TRANSFORM)
    result = run_cli("evaluate", truth, truth, "--image", tmp_path / "imgs")
    assert_one_line_error(result, "MUL_AOI_2_Vegas_img1.tif", "PAN_AOI_2_Vegas_img1.tif",
                          "other pixel grids")
    scores = scored(run_cli, truth, truth, "--image", tmp_path / "same")
    assert scores["precision"] == scores["recall"] == 1.0


def test_a_road_csv_without_lines_scores_zero_in_metres(run_cli, make_raster, tmp_path):
    """A road CSV of LINESTRING EMPTY rows alone (a model that found no road) against a line
    file was refused 'declares no CRS ... Pass --prediction-crs', an option refused for road
    CSVs; an ImageId without lines in two CSVs and not in --image (no lines to place) made
    the whole score 'coordinate units (no CRS)', units 'coordinates', with a warning that
    the files declare none. Lines none of them have need no CRS: scored in metres."""
    raster, truth = scene_with_misses(make_raster, tmp_path)
    empty = write_rows(tmp_path / "none.csv", ["ImageId", "WKT_Pix"],
                       [["AOI_2_Vegas_img1", "LINESTRING EMPTY"]])
    for args in ((empty, truth), (truth, empty)):
        got = scored(run_cli, *args, "--image", raster)
        assert got["units"] == "m" and got["precision"] == got["recall"] == 0, got
        assert got["true_length_m" if args[1] == truth else "predicted_length_m"] > 100
    pred = tmp_path / "roads.csv"
    assert run_cli("vectorize", raster, "-o", pred, "--lines").exit_code == 0
    truth_csv = roads_csv(tmp_path / "truth.csv", empty=())
    expected = scored(run_cli, pred, truth_csv, "--image", raster)
    with open(pred, "a") as handle:  # an image without roads, and without its image here
        handle.write("AOI_2_Vegas_img3,LINESTRING EMPTY,0\n")
    with open(truth_csv, "a") as handle:
        handle.write("AOI_2_Vegas_img3,LINESTRING EMPTY\n")
    result = run_cli("evaluate", pred, truth_csv, "--image", raster, "--json")
    assert result.exit_code == 0, result.output
    assert "declare no CRS" not in result.output
    import json

    got = json.loads(result.stdout)
    assert got["units"] == "m" and got["images"] == 2, got
    for key in SCORES:
        assert got[key] == pytest.approx(expected[key], rel=1e-6, abs=1e-6), key


def test_a_csv_in_another_products_pixels_is_refused_not_burnt_4x_off(run_cli, make_raster,
                                                                      tmp_path):
    """SpaceNet's road and building CSVs are in PAN's (PS-RGB's) pixels; given MUL's image of
    the ImageId alone (4x coarser), each row was placed at 4x its place, the lines past the
    image's 100 px cut off and the rest burnt on other roads, exit 0 -> refused in one line
    naming the CSV, the image and its size, before any mask."""
    truth = roads_csv(tmp_path / "truth.csv", empty=())
    buildings = write_rows(tmp_path / "buildings.csv", ["ImageId", "BuildingId",
                                                        "PolygonWKT_Pix"],
                           [["AOI_2_Vegas_img1", 1, "POLYGON ((10 10, 30 10, 30 30, 10 10))"],
                            ["AOI_2_Vegas_img1", 2,
                             "POLYGON ((300 300, 390 300, 390 390, 300 390, 300 300))"]])
    (tmp_path / "mul").mkdir()
    mul = make_raster("mul/MUL_AOI_2_Vegas_img1.tif", np.zeros((1, 100, 100), np.uint8),
                      transform=from_origin(X0, Y0, 4 * CELL, 4 * CELL))
    for labels, extra in ((truth, ["--line-width", 4]), (buildings, [])):
        result = run_cli("make-masks", labels, mul, "-o", tmp_path / "mask.tif", *extra)
        assert_one_line_error(result, labels.name, "MUL_AOI_2_Vegas_img1.tif", "100x100 px",
                              "another image")
        assert not (tmp_path / "mask.tif").exists()
    result = run_cli("evaluate", truth, truth, "--image", tmp_path / "mul")
    assert_one_line_error(result, "truth.csv", "MUL_AOI_2_Vegas_img1.tif", "100x100 px")
    # on PAN's grid the same files burn and score
    pan = make_raster("PAN_AOI_2_Vegas_img1.tif", np.zeros((1, SIZE, SIZE), np.uint8),
                      transform=TRANSFORM)
    assert run_cli("make-masks", buildings, pan, "-o", tmp_path / "pan.tif").exit_code == 0
    assert scored(run_cli, truth, truth, "--image", pan)["precision"] == 1.0


def test_two_road_csvs_naming_one_image_by_other_image_ids_score_it_once(run_cli,
                                                                         make_raster,
                                                                         tmp_path):
    """vectorize --lines of the public release's SN3_roads_train_AOI_2_Vegas_PS-RGB_img1.tif
    writes ImageId AOI_2_Vegas_img1; a truth CSV keyed by the file's stem names the same
    image. Both were placed on it, but scored as two images (the prediction's all FP, the
    truth's all FN): precision 0 for the same line, exit 0 -> one image, precision 1."""
    (tmp_path / "img").mkdir()
    make_raster("img/SN3_roads_train_AOI_2_Vegas_PS-RGB_img1.tif",
                np.zeros((1, SIZE, SIZE), np.uint8), transform=TRANSFORM)
    line = "LINESTRING (10 50, 390 50)"
    pred = write_rows(tmp_path / "pred.csv", ["ImageId", "WKT_Pix"],
                      [["AOI_2_Vegas_img1", line], ["AOI_2_Vegas_img2", "LINESTRING EMPTY"]])
    truth = write_rows(tmp_path / "truth.csv", ["ImageId", "WKT_Pix"],
                       [["SN3_roads_train_AOI_2_Vegas_PS-RGB_img1", line],
                        ["SN3_roads_train_AOI_2_Vegas_PS-RGB_img2", "LINESTRING EMPTY"]])
    got = scored(run_cli, pred, truth, "--image", tmp_path / "img")
    assert got["precision"] == got["recall"] == 1.0
    assert got["images"] == 2
    assert set(got["per_image"]) == {"SN3_roads_train_AOI_2_Vegas_PS-RGB_img1",
                                     "SN3_roads_train_AOI_2_Vegas_PS-RGB_img2"}
    assert got["per_image"]["SN3_roads_train_AOI_2_Vegas_PS-RGB_img1"][
        "true_length_m"] == pytest.approx(190.0)


def test_a_road_csv_excel_saved_as_unicode_text_reads_as_its_utf8_copy(run_cli, make_raster,
                                                                        tmp_path):
    """Excel's 'Unicode Text' (UTF-16 with a byte-order mark, tab separated) named .csv was
    not taken for a SpaceNet CSV: 'the file has no geometries', 'not vector data GDAL can
    read' -> read as the UTF-8 file it was saved from: the same masks."""
    truth = roads_csv(tmp_path / "truth.csv", empty=())
    text = truth.read_text(encoding="utf-8")
    rows = list(csv.reader(text.splitlines()))
    wide = tmp_path / "excel.csv"
    wide.write_text("\r\n".join("\t".join(r) for r in rows) + "\r\n", encoding="utf-16")
    assert is_road_csv(wide)
    assert read_csv(wide).pixel.tolist() == read_csv(truth).pixel.tolist()
    image = make_raster("PS-RGB_AOI_2_Vegas_img1.tif", np.zeros((1, SIZE, SIZE), np.uint8),
                        transform=TRANSFORM)
    for name, labels in (("a.tif", truth), ("b.tif", wide)):
        result = run_cli("make-masks", labels, image, "-o", tmp_path / name,
                         "--line-width", 4)
        assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "a.tif") as a, rasterio.open(tmp_path / "b.tif") as b:
        assert a.read(1).sum() > 1000 and np.array_equal(a.read(1), b.read(1))


def test_a_road_csv_with_a_space_after_each_comma_reads_its_quoted_wkt(tmp_path):
    """A hand-written CSV, 'ImageId, WKT_Pix' and 'img1, "LINESTRING (...)"', was refused:
    'WKT_Pix ' "LINESTRING (10 50' is not WKT' (the space before the quote kept the comma
    inside it a separator) -> the quoted cell read whole."""
    path = tmp_path / "roads.csv"
    path.write_text('ImageId, WKT_Pix\nAOI_2_Vegas_img1, "LINESTRING (10 50, 90 50)"\n'
                    'AOI_2_Vegas_img2, LINESTRING EMPTY\n')
    table = read_csv(path)
    assert table.images == ["AOI_2_Vegas_img1", "AOI_2_Vegas_img2"]
    assert [g.wkt for g in table.pixel] == ["LINESTRING (10 50, 90 50)"]


def test_a_road_csv_in_the_windows_code_page_is_refused_in_one_line(run_cli, make_raster,
                                                                    tmp_path):
    """Excel's 'CSV (Comma delimited)' saves in the Windows code page (cp1252): a street
    named 'Rue de l'École' made make-masks and evaluate end in a UnicodeDecodeError
    traceback -> one line naming the file, UTF-8 and the conversion."""
    truth = roads_csv(tmp_path / "truth.csv", empty=())
    rows = list(csv.reader(truth.read_text(encoding="utf-8").splitlines()))
    rows = [[*rows[0], "name"]] + [[*r, "Rue de l'\u00c9cole"] for r in rows[1:]]
    ansi = tmp_path / "ansi.csv"
    ansi.write_bytes("\r\n".join(",".join(f'"{c}"' for c in r) for r in rows).encode("cp1252"))
    assert is_road_csv(ansi)
    image = make_raster("PS-RGB_AOI_2_Vegas_img1.tif", np.zeros((1, SIZE, SIZE), np.uint8),
                        transform=TRANSFORM)
    result = run_cli("make-masks", ansi, image, "-o", tmp_path / "m.tif", "--line-width", 4)
    assert_one_line_error(result, "ansi.csv", "UTF-8", "iconv -f CP1252")
    assert not (tmp_path / "m.tif").exists()
    result = run_cli("evaluate", ansi, truth, "--image", image)
    assert_one_line_error(result, "ansi.csv", "UTF-8")


def test_a_small_chips_lines_a_pixel_or_two_past_its_edge_are_burnt(run_cli, make_raster,
                                                                     tmp_path):
    """SpaceNet's lines run a pixel or two past their image's edge; on a 16 px chip that
    was more than 10% of it, refused as another image's pixels -> a few pixels past any
    image are its own; 4x past (MUL's image of PAN's pixels) still refused."""
    chip = make_raster("PS-RGB_AOI_2_Vegas_img1.tif", np.zeros((1, 16, 16), np.uint8),
                       transform=TRANSFORM)
    near = write_rows(tmp_path / "near.csv", ["ImageId", "WKT_Pix"],
                      [["AOI_2_Vegas_img1", "LINESTRING (-2 8.5, 18 8.5)"]])
    result = run_cli("make-masks", near, chip, "-o", tmp_path / "m.tif", "--line-width",
                     CELL)
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "m.tif") as mask:
        assert (mask.read(1) == 1).sum(axis=1).tolist() == [0] * 8 + [16] + [0] * 7
    far = write_rows(tmp_path / "far.csv", ["ImageId", "WKT_Pix"],
                     [["AOI_2_Vegas_img1", "LINESTRING (4 8.5, 60 8.5)"]])
    result = run_cli("make-masks", far, chip, "-o", tmp_path / "f.tif", "--line-width", CELL)
    assert_one_line_error(result, "far.csv", "16x16 px", "another image")


def test_two_road_csvs_sharing_no_image_id_are_refused_not_scored_0(run_cli, make_raster,
                                                                   tmp_path):
    """Another city's road submission (AOI_3_Paris ImageIds) against Vegas's truth, with
    both cities' images in --image, scored 0 with --apls, exit 0 -> refused in one line
    naming both files, how many ImageIds each holds and two of each. A header-only
    prediction (an empty submission) still scores 0."""
    (tmp_path / "images").mkdir()
    for name in ("AOI_2_Vegas_img1", "AOI_3_Paris_img7", "AOI_3_Paris_img8",
                 "AOI_3_Paris_img9"):
        make_raster(f"images/PS-RGB_{name}.tif", np.zeros((1, SIZE, SIZE), np.uint8),
                    transform=TRANSFORM)
    truth = roads_csv(tmp_path / "truth.csv")  # img1 and img2 (LINESTRING EMPTY)
    line = to_pixels(road_network(X0, Y0, SIZE * CELL)[0]).wkt
    pred = write_rows(tmp_path / "paris.csv", ["ImageId", "WKT_Pix"],
                      [[f"AOI_3_Paris_img{i}", line] for i in (7, 8, 9)])
    result = run_cli("evaluate", pred, truth, "--image", tmp_path / "images", "--apls")
    assert_one_line_error(result, "paris.csv holds 3", "'AOI_3_Paris_img7'",
                          "'AOI_3_Paris_img8'", "truth.csv holds 2", "'AOI_2_Vegas_img1'",
                          "'AOI_2_Vegas_img2'", "share no ImageId")
    assert "img9" not in result.output
    empty = write_rows(tmp_path / "empty.csv", ["ImageId", "WKT_Pix"], [])
    got = scored(run_cli, empty, truth, "--image", tmp_path / "images", "--apls")
    assert got["recall"] == 0 and got["true_length_m"] > 100


def test_road_csv_of_adjacent_tiles_against_whole_roads_says_apls_sees_cuts(run_cli, tmp_path):
    """A road across two adjacent tiles, vectorized to SpaceNet's road CSV, is one line per
    image with a pixel's gap at the tile edge: against the city's whole road, APLS counts
    the gap as a break (perfect prediction, APLS far below 1, exit 0). evaluate says so in
    one line and names the way; a .gpkg of the same rasters joins the road."""
    (tmp_path / "pred").mkdir()
    for col in (0, 40):
        classes = np.zeros((40, 40), np.uint8)
        classes[18:23, :] = 1  # an east-west road 5 px wide across both tiles
        with rasterio.open(tmp_path / "pred" / f"AOI_1_img{col}.tif", "w", driver="GTiff",
                           width=40, height=40, count=1, dtype="uint8", crs=UTM_CRS,
                           transform=from_origin(X0 + col * CELL, Y0, CELL, CELL)) as dst:
            dst.write(classes, 1)
    truth = tmp_path / "truth.gpkg"
    import geopandas as gpd

    gpd.GeoDataFrame(geometry=[shapely.LineString([(X0, Y0 - 10.25), (X0 + 40, Y0 - 10.25)])],
                     crs=UTM_CRS).to_file(truth)
    for suffix in (".csv", ".gpkg"):
        result = run_cli("vectorize", tmp_path / "pred", "-o", tmp_path / f"p{suffix}",
                         "--lines")
        assert result.exit_code == 0, result.output
    assert len(read_csv(tmp_path / "p.csv").image_ids) == 2
    whole = run_cli("evaluate", tmp_path / "p.gpkg", truth, "--apls", "--json")
    assert whole.exit_code == 0 and not whole.stderr.strip(), whole.output
    cut = run_cli("evaluate", tmp_path / "p.csv", truth, "--apls", "--json", "--image",
                  tmp_path / "pred")
    assert cut.exit_code == 0, cut.output
    import json

    assert json.loads(cut.stdout)["apls"] < json.loads(whole.stdout)["apls"]
    lines = [line for line in cut.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, cut.stderr
    for fragment in ("p.csv", "2 of its 2 lines", "image edges", "APLS", ".gpkg"):
        assert fragment in lines[0], lines[0]
    # buffer scores only: a gap of a pixel changes nothing there, and nothing is said
    plain = run_cli("evaluate", tmp_path / "p.csv", truth, "--image", tmp_path / "pred")
    assert plain.exit_code == 0 and not plain.stderr.strip(), plain.output


def test_a_road_csv_against_per_chip_roads_cut_alike_gives_no_cut_warning(run_cli, tmp_path):
    """SpaceNet's own per-chip road truth stops each road at the chip edge, as a road CSV
    of the same chips does: scored with --apls, the cuts match and APLS is that of equal
    graphs, yet evaluate warned '2 of its 2 lines end at image edges ... APLS counts each
    cut as a break' and advised whole roads. Where the other file's lines end there too,
    nothing is said."""
    import json

    import geopandas as gpd

    (tmp_path / "pred").mkdir()
    for col in (0, 40):
        classes = np.zeros((40, 40), np.uint8)
        classes[18:23, :] = 1
        with rasterio.open(tmp_path / "pred" / f"AOI_1_img{col}.tif", "w", driver="GTiff",
                           width=40, height=40, count=1, dtype="uint8", crs=UTM_CRS,
                           transform=from_origin(X0 + col * CELL, Y0, CELL, CELL)) as dst:
            dst.write(classes, 1)
    result = run_cli("vectorize", tmp_path / "pred", "-o", tmp_path / "p.csv", "--lines")
    assert result.exit_code == 0, result.output
    y = Y0 - 20.5 * CELL
    chips = [shapely.LineString([(X0 + (col + 0.5) * CELL, y), (X0 + (col + 39.5) * CELL, y)])
             for col in (0, 40)]
    gpd.GeoDataFrame(geometry=chips, crs=UTM_CRS).to_file(tmp_path / "chips.geojson")
    got = run_cli("evaluate", tmp_path / "p.csv", tmp_path / "chips.geojson", "--apls",
                  "--json", "--image", tmp_path / "pred")
    assert got.exit_code == 0, got.output
    assert not got.stderr.strip(), got.stderr
    assert json.loads(got.stdout)["apls"] > 0.9
    # the road CSV as the truth, against a whole road: per image is the way
    whole = tmp_path / "whole.geojson"
    gpd.GeoDataFrame(geometry=[shapely.LineString([(X0, y), (X0 + 80 * CELL, y)])],
                     crs=UTM_CRS).to_file(whole)
    got = run_cli("evaluate", whole, tmp_path / "p.csv", "--apls", "--json", "--image",
                  tmp_path / "pred")
    assert got.exit_code == 0, got.output
    assert "predictions as a SpaceNet road CSV" in got.stderr, got.stderr
    assert "For whole roads vectorize" not in got.stderr, got.stderr
