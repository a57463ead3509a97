"""SpaceNet CSVs: ImageId rules, reading (POLYGON EMPTY, pixel/geo WKT), scoring, writing."""

from __future__ import annotations

import csv
import json

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from geotile.errors import InputError
from geotile.spacenet import (
    image_id,
    is_spacenet_csv,
    match_image,
    proposal_rows,
    read_csv,
    read_labels,
    write_csv,
)
from geotile.spacenet_scoring import evaluate_csvs

from .conftest import UTM_CRS, UTM_ORIGIN, assert_one_line_error, write_raster

X0, Y0 = UTM_ORIGIN
TRANSFORM = from_origin(X0, Y0, 0.5, 0.5)


def write_rows(path, header, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def square(x, y, size):
    return shapely.box(x, y, x + size, y + size).wkt


@pytest.mark.parametrize(("name", "expected"), [
    ("RGB-PanSharpen_AOI_2_Vegas_img12.tif", "AOI_2_Vegas_img12"),
    ("RGB-PanSharpen_AOI_2_Vegas_img12", "AOI_2_Vegas_img12"),
    ("MUL-PanSharpen_AOI_3_Paris_img5.tif", "AOI_3_Paris_img5"),
    ("3band_AOI_1_RIO_img147.tif", "AOI_1_RIO_img147"),
    ("8band_AOI_1_RIO_img147.tif", "AOI_1_RIO_img147"),
    ("PAN_AOI_4_Shanghai_img9.tif", "AOI_4_Shanghai_img9"),
    ("MUL_AOI_5_Khartoum_img1.tif", "AOI_5_Khartoum_img1"),
    ("Pan-Sharpen_Atlanta_nadir10_catid_1030010003CAF100_740801_3728289.tif",
     "Atlanta_nadir10_catid_1030010003CAF100_740801_3728289"),
    ("AOI_2_Vegas_img12.tif", "AOI_2_Vegas_img12"),
    ("tiles/PS-RGB_AOI_2_Vegas_img3.tif", "AOI_2_Vegas_img3"),
    ("SN6_Train_AOI_11_Rotterdam_PS-RGB_20190822070610_20190822070846_tile_3721.tif",
     "20190822070610_20190822070846_tile_3721"),
    ("SN6_Test_Public_AOI_11_Rotterdam_SAR-Intensity_20190804111224_20190804111453_tile_8679",
     "20190804111224_20190804111453_tile_8679"),
    ("SN6_Train_AOI_11_Rotterdam_PS-RGBNIR_20190822070610_20190822070846_tile_7879.tif",
     "20190822070610_20190822070846_tile_7879"),
    ("SN6_Train_AOI_11_Rotterdam_RGBNIR_20190822070610_20190822070846_tile_7879.tif",
     "20190822070610_20190822070846_tile_7879"),
    # the public S3 release's names: SN<k>_<dataset>_<split>_AOI_..._<product>_<rest>
    ("SN2_buildings_train_AOI_2_Vegas_PS-RGB_img1.tif", "AOI_2_Vegas_img1"),
    ("SN2_buildings_train_AOI_3_Paris_PAN_img5.tif", "AOI_3_Paris_img5"),
    ("SN3_roads_train_AOI_2_Vegas_PS-RGB_img1", "AOI_2_Vegas_img1"),
    ("SN3_roads_train_AOI_4_Shanghai_MS_img10.tif", "AOI_4_Shanghai_img10"),
    ("SN5_roads_train_AOI_7_Moscow_PS-MS_chip0", "AOI_7_Moscow_chip0"),
    ("SN5_roads_test_public_AOI_9_San_Juan_PS-MS_chip12.tif", "AOI_9_San_Juan_chip12"),
    # and its labels': geojson_buildings/, geojson_roads/, geojson_roads_speed/
    ("SN2_buildings_train_AOI_2_Vegas_geojson_buildings_img1", "AOI_2_Vegas_img1"),
    ("SN3_roads_train_AOI_2_Vegas_geojson_roads_img25", "AOI_2_Vegas_img25"),
    ("SN5_roads_train_AOI_7_Moscow_geojson_roads_speed_chip0", "AOI_7_Moscow_chip0"),
    # SpaceNet 7 and 8 name images without a product: the stem is the id
    ("global_monthly_2018_01_mosaic_L15-0331E-1257N_1327_3160_13.tif",
     "global_monthly_2018_01_mosaic_L15-0331E-1257N_1327_3160_13"),
    ("10500500C4DD7000_0_26_62.tif", "10500500C4DD7000_0_26_62"),
])
def test_image_id_follows_spacenet_naming(name, expected):
    assert image_id(name) == expected


def test_match_image_by_stem_prefix_or_suffix():
    ids = {"AOI_2_Vegas_img12", "AOI_2_Vegas_img1", "chip_7"}
    assert match_image("RGB-PanSharpen_AOI_2_Vegas_img12.tif", ids) == "AOI_2_Vegas_img12"
    assert match_image("RGB-PanSharpen_AOI_2_Vegas_img1.tif", ids) == "AOI_2_Vegas_img1"
    assert match_image("probabilities_chip_7.tif", ids) == "chip_7"
    assert match_image("AOI_2_Vegas_img13.tif", ids) is None


def test_read_csv_keeps_buildings_and_images_without_buildings(tmp_path):
    path = write_rows(tmp_path / "truth.csv",
                      ["ImageId", "BuildingId", "PolygonWKT_Pix", "PolygonWKT_Geo"], [
                          ["AOI_2_Vegas_img1", 0, square(0, 0, 10), "1"],
                          ["AOI_2_Vegas_img1", 3, square(20, 0, 5), "1"],
                          ["AOI_2_Vegas_img2", -1, "POLYGON EMPTY", "POLYGON EMPTY"],
                      ])
    assert is_spacenet_csv(path)
    table = read_csv(path)
    assert len(table) == 2 and table.images == ["AOI_2_Vegas_img1", "AOI_2_Vegas_img2"]
    assert list(table.building_ids) == [0, 3] and table.pixel[1].area == 25
    assert table.has_pixel and not table.has_geo  # "1" in the Geo column is not WKT
    assert np.isnan(table.confidence).all()
    plain = write_rows(tmp_path / "plain.csv", ["x", "y"], [[1, 2]])
    assert not is_spacenet_csv(plain)
    with pytest.raises(InputError, match="not a SpaceNet CSV"):
        read_csv(plain)
    bad = write_rows(tmp_path / "bad.csv", ["ImageId", "BuildingId", "PolygonWKT_Pix"],
                     [["a", 0, square(0, 0, 2)], ["a", 1, "POLYGON ((0 0, 1"]])
    with pytest.raises(InputError, match=r"bad.csv, line 3: PolygonWKT_Pix"):
        read_csv(bad)


def test_a_polygon_longer_than_csvs_field_limit_reads_back(tmp_path):
    """vectorize -o x.csv writes a large jagged building's WKT whole (224 KB on a real
    SpaceNet tile): read_csv takes it, past csv's 128 KB field limit, which it restores."""
    angles = np.linspace(0, 2 * np.pi, 12000, endpoint=False)
    ring = np.c_[500 + 400.123456 * np.cos(angles), 500 + 400.123456 * np.sin(angles)]
    big = shapely.Polygon(ring).wkt
    assert len(big) > csv.field_size_limit()
    path = write_rows(tmp_path / "proposals.csv", ["ImageId", "BuildingId", "PolygonWKT_Pix",
                                                   "Confidence"], [["img1", 0, big, 0.9]])
    limit = csv.field_size_limit()
    table = read_csv(path)
    assert len(table) == 1 and table.pixel[0].area > 500_000
    assert csv.field_size_limit() == limit


def test_real_sample_scores_as_the_official_scorer(real_data):
    folder = real_data / "spacenet"
    result = evaluate_csvs(folder / "sample_preds.csv", folder / "sample_truth.csv")
    assert (result.scores.tp, result.scores.fp, result.scores.fn) == (151, 0, 0)
    assert result.scores.f1 == 1.0 and result.coordinates == "pixel"
    assert list(result.per_image) == ["Atlanta_nadir10_catid_1030010003CAF100_740801_3728289"]


def sn2_pair(tmp_path):
    """A SpaceNet 2 style truth/proposal pair over three images."""
    truth = write_rows(tmp_path / "truth.csv",
                       ["ImageId", "BuildingId", "PolygonWKT_Pix", "PolygonWKT_Geo"], [
                           ["AOI_2_Vegas_img1", 0, square(0, 0, 10), "POLYGON EMPTY"],
                           ["AOI_2_Vegas_img1", 1, square(50, 50, 10), "POLYGON EMPTY"],
                           ["AOI_2_Vegas_img1", 2, square(100, 100, 4), "POLYGON EMPTY"],  # 16
                           ["AOI_2_Vegas_img2", -1, "POLYGON EMPTY", "POLYGON EMPTY"],
                           # SpaceNet 2's truth files carry a z of 0
                           ["AOI_2_Vegas_img3", 0,
                            "POLYGON Z ((0 0 0, 10 0 0, 10 10 0, 0 10 0, 0 0 0))",
                            "POLYGON EMPTY"],
                       ])
    proposals = write_rows(tmp_path / "proposals.csv",
                           ["ImageId", "BuildingId", "PolygonWKT_Pix", "Confidence"], [
                               # IoU 0.9 but less confident: scored after the next one
                               ["AOI_2_Vegas_img1", 0, shapely.box(0, 0, 10, 9).wkt, 0.4],
                               # IoU 0.6, most confident: takes the truth square
                               ["AOI_2_Vegas_img1", 1, shapely.box(0, 0, 10, 6).wkt, 0.9],
                               ["AOI_2_Vegas_img1", 2, square(200, 200, 6), 0.8],
                               ["AOI_2_Vegas_img1", 3, square(100, 100, 4.2), 0.7],  # 17.6
                               ["AOI_2_Vegas_img2", 0, square(5, 5, 8), 1],
                               ["AOI_2_Vegas_img3", -1, "POLYGON EMPTY", 1],
                           ])
    return proposals, truth


def test_sn2_scoring_empty_rows_confidence_order_and_min_area(tmp_path):
    proposals, truth = sn2_pair(tmp_path)
    result = evaluate_csvs(proposals, truth)
    images = result.per_image
    assert list(images) == ["AOI_2_Vegas_img1", "AOI_2_Vegas_img2", "AOI_2_Vegas_img3"]
    one = images["AOI_2_Vegas_img1"]
    # 0.9-confidence proposal matches (IoU 0.6); the better-fitting 0.4 one is then an FP;
    # the 16 px^2 truth and 17.6 px^2 proposal are below SpaceNet's 20 px^2
    assert (one.tp, one.fp, one.fn) == (1, 2, 1)
    assert one.matches[0].iou == pytest.approx(0.6)
    assert (images["AOI_2_Vegas_img2"].tp, images["AOI_2_Vegas_img2"].fp) == (0, 1)
    assert (images["AOI_2_Vegas_img3"].fn, images["AOI_2_Vegas_img3"].fp) == (1, 0)
    s = result.scores
    assert (s.tp, s.fp, s.fn) == (1, 3, 2)
    assert s.f1 == pytest.approx(2 * 0.25 * (1 / 3) / (0.25 + 1 / 3))
    everything = evaluate_csvs(proposals, truth, min_area=0).scores
    assert (everything.tp, everything.fp, everything.fn) == (2, 3, 2)
    d = result.as_dict()
    assert d["images"] == 3 and d["per_image"]["AOI_2_Vegas_img2"]["fp"] == 1
    assert "TP 1  FP 3  FN 2" in result.table()


def test_read_labels_places_pixel_polygons_with_the_image_transform(make_raster, tmp_path):
    image = make_raster("RGB-PanSharpen_AOI_2_Vegas_img1.tif", np.zeros((1, 100, 100), np.uint8),
                        transform=TRANSFORM)
    other = make_raster("RGB-PanSharpen_AOI_2_Vegas_img9.tif", np.zeros((1, 100, 100), np.uint8))
    truth = write_rows(tmp_path / "truth.csv",
                       ["ImageId", "BuildingId", "PolygonWKT_Pix", "PolygonWKT_Geo"], [
                           ["AOI_2_Vegas_img1", 0, square(10, 20, 10), "1"],
                           ["AOI_2_Vegas_img2", 0, square(0, 0, 10), "1"],
                       ])
    labels = read_labels(truth, images=[image])
    assert len(labels) == 1 and labels.crs.to_string() == UTM_CRS
    assert labels.fields["ImageId"].tolist() == ["AOI_2_Vegas_img1"]
    expected = shapely.box(X0 + 5, Y0 - 15, X0 + 10, Y0 - 10)
    assert labels.geometries[0].equals(expected)
    with pytest.raises(InputError, match="no ImageId matches the images"):
        read_labels(truth, images=[other])
    with pytest.raises(InputError, match="no map coordinates"):
        read_labels(truth)


def test_read_labels_uses_geo_wkt_without_images(tmp_path):
    geo = "POLYGON ((-115.3 36.2, -115.2 36.2, -115.2 36.3, -115.3 36.2))"
    truth = write_rows(tmp_path / "truth.csv",
                       ["ImageId", "BuildingId", "PolygonWKT_Pix", "PolygonWKT_Geo"], [
                           ["AOI_2_Vegas_img1", 0, square(10, 20, 10), geo],
                           ["AOI_2_Vegas_img2", -1, "POLYGON EMPTY", "POLYGON EMPTY"],
                       ])
    labels = read_labels(truth)
    assert len(labels) == 1 and labels.crs.to_epsg() == 4326
    assert labels.geometries[0].equals(shapely.from_wkt(geo))


def test_proposal_rows_round_trip(tmp_path):
    polygons = [shapely.box(X0 + 1, Y0 - 6, X0 + 4, Y0 - 2), shapely.box(X0 + 10, Y0 - 3,
                                                                          X0 + 12.5, Y0 - 1)]
    frame = gpd.GeoDataFrame({"score": [0.75, np.nan]}, geometry=polygons, crs=UTM_CRS)
    rows = proposal_rows(frame, TRANSFORM, "AOI_2_Vegas_img1")
    rows += proposal_rows(frame.iloc[:0], TRANSFORM, "AOI_2_Vegas_img2")
    write_csv(rows, tmp_path / "p.csv")
    table = read_csv(tmp_path / "p.csv")
    assert table.images == ["AOI_2_Vegas_img1", "AOI_2_Vegas_img2"] and len(table) == 2
    assert table.pixel[0].equals(shapely.box(2, 4, 8, 12))
    assert list(table.confidence) == [0.75, 1.0]
    back = gpd.GeoSeries(list(table.geo), crs=4326).to_crs(UTM_CRS)
    for a, b in zip(back, polygons, strict=True):
        assert a.intersection(b).area / a.union(b).area == pytest.approx(1.0, abs=1e-9)
    header = (tmp_path / "p.csv").read_text().splitlines()[0]
    assert header == "ImageId,BuildingId,PolygonWKT_Pix,PolygonWKT_Geo,Confidence"
    assert "AOI_2_Vegas_img2,-1,POLYGON EMPTY,POLYGON EMPTY,1" in (tmp_path / "p.csv").read_text()


# ----------------------------------------------------------------------------- command line


def test_cli_evaluate_two_csvs(run_cli, tmp_path):
    proposals, truth = sn2_pair(tmp_path)
    result = run_cli("evaluate", proposals, truth, "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert (scores["tp"], scores["fp"], scores["fn"], scores["min_area"]) == (1, 3, 2, 20.0)
    assert scores["per_image"]["AOI_2_Vegas_img3"]["fn"] == 1
    # the keys --help documents for several images: predictions and truths scored (those
    # above --min-area: every one a TP or FP, a TP or FN), as a folder's totals carry them
    assert (scores["predictions"], scores["truths"], scores["coordinates"]) == (4, 3, "pixel")
    assert {i: (v["predictions"], v["truths"]) for i, v in scores["per_image"].items()} == {
        "AOI_2_Vegas_img1": (3, 2), "AOI_2_Vegas_img2": (1, 0), "AOI_2_Vegas_img3": (0, 1)}
    result = run_cli("evaluate", proposals, truth, "--json", "--min-area", "0")
    scores = json.loads(result.stdout)
    assert (scores["tp"], scores["fp"], scores["fn"]) == (2, 3, 2)
    result = run_cli("evaluate", proposals, truth)
    assert result.exit_code == 0 and "TP 1  FP 3  FN 2" in result.stdout
    assert "AOI_2_Vegas_img2" in result.stdout


@pytest.mark.parametrize("separator", [";", "\t"], ids=["semicolon", "tab"])
def test_csvs_saved_by_excel_in_a_decimal_comma_locale_score_as_the_published_ones(
        run_cli, tmp_path, separator):
    """Excel in a German or French locale saves CSVs with semicolons (or tabs) between cells
    and decimal commas (Confidence 0,9), UTF-8 with a BOM and CRLF: the same scores, in the
    same Confidence order, not 'not a SpaceNet CSV' nor every Confidence NaN."""
    import csv

    proposals, truth = sn2_pair(tmp_path)
    expected = json.loads(run_cli("evaluate", proposals, truth, "--json").stdout)
    for path in (proposals, truth):
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        with open(tmp_path / f"excel_{path.name}", "w", newline="", encoding="utf-8-sig") as out:
            writer = csv.writer(out, delimiter=separator, lineterminator="\r\n")
            for row in rows:
                *cells, last = row
                writer.writerow([*cells, last.replace(".", ",") if row[0] != "ImageId"
                                 and path == proposals else last])
    assert "0,9" in (tmp_path / "excel_proposals.csv").read_text(encoding="utf-8-sig")
    result = run_cli("evaluate", tmp_path / "excel_proposals.csv", tmp_path / "excel_truth.csv",
                     "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == expected
    assert (expected["tp"], expected["fp"], expected["fn"]) == (1, 3, 2)
    assert read_csv(tmp_path / "excel_proposals.csv").confidence.tolist() == [0.4, 0.9, 0.8, 0.7,
                                                                              1.0]


def test_a_confidence_that_is_no_number_is_one_line_naming_the_row(tmp_path):
    """Before, 'high' (or any text) became NaN silently: the proposals were then scored in
    file order, not by confidence."""
    bad = write_rows(tmp_path / "bad.csv", ["ImageId", "BuildingId", "PolygonWKT_Pix",
                                            "Confidence"],
                     [["a", 0, square(0, 0, 2), "0.5"], ["a", 1, square(5, 5, 2), "high"]])
    with pytest.raises(InputError, match=r"bad.csv, line 3: Confidence 'high' is not a number"):
        read_csv(bad)
    empty = write_rows(tmp_path / "empty.csv", ["ImageId", "BuildingId", "PolygonWKT_Pix",
                                                "Confidence"], [["a", 0, square(0, 0, 2), ""]])
    assert np.isnan(read_csv(empty).confidence).all()  # no confidence: file order, as before


def test_cli_evaluate_real_sample_csvs(run_cli, real_data):
    folder = real_data / "spacenet"
    result = run_cli("evaluate", folder / "sample_preds.csv", folder / "sample_truth.csv",
                     "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert (scores["tp"], scores["fp"], scores["fn"], scores["f1"]) == (151, 0, 0, 1.0)


def test_cli_make_masks_from_a_spacenet_csv(run_cli, make_raster, tmp_path):
    zeros = np.zeros((1, 40, 50), np.uint8)
    one = make_raster("RGB-PanSharpen_AOI_2_Vegas_img1.tif", zeros, transform=TRANSFORM)
    two = make_raster("RGB-PanSharpen_AOI_2_Vegas_img2.tif", zeros,
                      transform=from_origin(X0 + 100, Y0, 0.5, 0.5))
    truth = write_rows(tmp_path / "truth.csv",
                       ["ImageId", "BuildingId", "PolygonWKT_Pix", "PolygonWKT_Geo"], [
                           ["AOI_2_Vegas_img1", 0, shapely.box(2, 3, 12, 8).wkt, "1"],
                           ["AOI_2_Vegas_img1", 1,
                            "POLYGON Z ((30 20 0, 40 20 0, 40 35 0, 30 35 0, 30 20 0))", "1"],
                           ["AOI_2_Vegas_img2", -1, "POLYGON EMPTY", "POLYGON EMPTY"],
                           ["AOI_2_Vegas_img7", 0, shapely.box(0, 0, 40, 40).wkt, "1"],
                       ])
    result = run_cli("make-masks", truth, one, two, "-o", tmp_path / "masks")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "masks" / f"{one.stem}.tif") as src:
        mask = src.read(1)
    expected = np.zeros((40, 50), np.uint8)
    expected[3:8, 2:12] = 1
    expected[20:35, 30:40] = 1
    assert np.array_equal(mask, expected)
    with rasterio.open(tmp_path / "masks" / f"{two.stem}.tif") as src:
        assert not src.read(1).any()
    other = make_raster("RGB-PanSharpen_AOI_9_X_img1.tif", zeros)
    result = run_cli("make-masks", truth, other, "-o", tmp_path / "x.tif")
    assert result.exit_code == 1 and "no ImageId matches" in result.stderr


def test_cli_make_masks_of_an_image_the_csv_says_has_no_building(run_cli, make_raster,
                                                                  tmp_path):
    """SpaceNet's "no building" row (BuildingId -1, POLYGON EMPTY) alone: an all-zero mask,
    said as such, with no guess that the labels' CRS is wrong; an image the CSV does not list
    beside one it does gets a warning naming it."""
    zeros = np.zeros((1, 40, 50), np.uint8)
    two = make_raster("RGB-PanSharpen_AOI_2_Vegas_img2.tif", zeros, transform=TRANSFORM)
    three = make_raster("RGB-PanSharpen_AOI_2_Vegas_img3.tif", zeros, transform=TRANSFORM)
    for header, empty in ((["ImageId", "BuildingId", "PolygonWKT_Pix", "PolygonWKT_Geo"],
                           ["AOI_2_Vegas_img2", -1, "POLYGON EMPTY", "POLYGON EMPTY"]),
                          (["ImageId", "BuildingId", "PolygonWKT_Pix"],
                           ["AOI_2_Vegas_img2", -1, "POLYGON EMPTY"])):
        truth = write_rows(tmp_path / "truth.csv", header, [empty])
        out = tmp_path / f"m{len(header)}.tif"
        result = run_cli("-v", "make-masks", truth, two, "-o", out)
        assert result.exit_code == 0, result.output
        assert "Traceback" not in result.output and "CRS may be wrong" not in result.output
        assert "lists no building on RGB-PanSharpen_AOI_2_Vegas_img2.tif" in result.stderr
        with rasterio.open(out) as src:
            assert src.shape == (40, 50) and not src.read(1).any()
    result = run_cli("make-masks", truth, two, three, "-o", tmp_path / "both")
    assert result.exit_code == 0, result.output
    assert "CRS may be wrong" not in result.output
    assert ("truth.csv has no row for RGB-PanSharpen_AOI_2_Vegas_img3.tif" in
            " ".join(result.stderr.split()))
    with rasterio.open(tmp_path / "both" / f"{three.stem}.tif") as src:
        assert not src.read(1).any()


def test_csvs_sharing_no_image_id_are_one_line(tmp_path, run_cli):
    from .conftest import assert_one_line_error

    header = ["ImageId", "BuildingId", "PolygonWKT_Pix", "Confidence"]
    pred = write_rows(tmp_path / "pred.csv", header, [["img_a", 0, square(0, 0, 10), 1]])
    truth = write_rows(tmp_path / "truth.csv", header[:3], [["img_b", 0, square(0, 0, 10)]])
    assert_one_line_error(run_cli("evaluate", pred, truth), "share no ImageId", "'img_a'",
                          "'img_b'")


def test_building_csvs_sharing_no_image_id_say_how_many_each_holds(tmp_path, run_cli):
    """The refusal of another city's submission named one ImageId of each file -> how many
    each holds and two of each; a header-only prediction still scores 0, exit 0."""
    import json

    from .conftest import assert_one_line_error

    header = ["ImageId", "BuildingId", "PolygonWKT_Pix", "Confidence"]
    pred = write_rows(tmp_path / "paris.csv", header,
                      [[f"AOI_3_Paris_img{i}", 0, square(0, 0, 10), 1] for i in (7, 8, 9)])
    truth = write_rows(tmp_path / "vegas.csv", header[:3],
                       [[f"AOI_2_Vegas_img{i}", 0, square(0, 0, 10)] for i in (1, 2)])
    result = run_cli("evaluate", pred, truth)
    assert_one_line_error(result, "paris.csv holds 3", "'AOI_3_Paris_img7'",
                          "'AOI_3_Paris_img8'", "vegas.csv holds 2", "'AOI_2_Vegas_img1'",
                          "'AOI_2_Vegas_img2'", "share no ImageId")
    assert "img9" not in result.output
    empty = write_rows(tmp_path / "empty.csv", header, [])
    result = run_cli("evaluate", empty, truth, "--json")
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    assert got["tp"] == got["fp"] == 0 and got["fn"] == 2


def test_cli_vectorize_writes_proposals_that_read_back(run_cli, make_raster, tmp_path):
    classes = np.zeros((40, 50), np.uint8)
    classes[3:8, 2:12] = 1
    classes[20:35, 30:40] = 1
    raster = make_raster("RGB-PanSharpen_AOI_2_Vegas_img1.tif", classes, transform=TRANSFORM)
    empty = make_raster("RGB-PanSharpen_AOI_2_Vegas_img2.tif", np.zeros((40, 50), np.uint8))
    out = tmp_path / "proposals.csv"
    result = run_cli("vectorize", raster, empty, "-o", out)
    assert result.exit_code == 0, result.output
    assert "2 polygons" in result.stdout
    table = read_csv(out)
    assert table.images == ["AOI_2_Vegas_img1", "AOI_2_Vegas_img2"]
    pixel = sorted(table.pixel, key=lambda g: g.bounds)
    assert pixel[0].equals(shapely.box(2, 3, 12, 8)) and pixel[1].equals(
        shapely.box(30, 20, 40, 35))
    assert list(table.confidence) == [1.0, 1.0]
    # the geographic WKT (EPSG:4326) lands on the same ground (its 9 decimals: to 1e-3 px)
    geo = gpd.GeoSeries(list(table.geo), crs=4326).to_crs(UTM_CRS)
    truth = gpd.GeoSeries([shapely.box(X0 + 1, Y0 - 4, X0 + 6, Y0 - 1.5),
                           shapely.box(X0 + 15, Y0 - 17.5, X0 + 20, Y0 - 10)], crs=UTM_CRS)
    for polygon in geo:
        assert max(polygon.intersection(t).area / polygon.union(t).area
                   for t in truth) == pytest.approx(1.0, abs=1e-4)
    # read back as labels: the same mask, and a perfect score against itself
    result = run_cli("make-masks", out, raster, "-o", tmp_path / "back.tif")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "back.tif") as src:
        assert np.array_equal(src.read(1), classes)
    result = run_cli("evaluate", out, out, "--json")
    assert json.loads(result.stdout)["f1"] == 1.0
    assert run_cli("vectorize", raster, "-o", out).exit_code == 1  # exists: no overwrite


def test_cli_vectorize_instances_to_csv_and_geo_evaluation(run_cli, make_raster, tmp_path):
    bands = np.zeros((3, 20, 40), np.float32)
    bands[0, 5:15, 5:35] = 0.9
    bands[1, 5:15, 18:22] = 0.8
    raster = make_raster("PS-RGB_AOI_2_Vegas_img5.tif", bands, transform=TRANSFORM)
    out = tmp_path / "p.csv"
    result = run_cli("vectorize", raster, "-o", out, "--instances")
    assert result.exit_code == 0, result.output
    table = read_csv(out)
    assert len(table) == 2 and set(table.image_ids) == {"AOI_2_Vegas_img5"}
    assert sorted(g.area for g in table.pixel) == [150.0, 150.0]
    assert np.allclose(table.confidence, 0.9)
    # a GeoJSON prediction against the CSV's geographic WKT
    truth = gpd.GeoDataFrame(geometry=[shapely.box(X0 + 2.5, Y0 - 7.5, X0 + 10, Y0 - 2.5),
                                       shapely.box(X0 + 10, Y0 - 7.5, X0 + 17.5, Y0 - 2.5)],
                             crs=UTM_CRS)
    truth.to_file(tmp_path / "t.geojson")
    result = run_cli("evaluate", out, tmp_path / "t.geojson", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tp"] == 2


def test_cli_vectorize_to_csv_names_release_files_by_the_truths_image_id(run_cli, make_raster,
                                                                        tmp_path):
    classes = np.zeros((40, 50), np.uint8)
    classes[3:8, 2:12] = 1
    raster = make_raster("SN2_buildings_train_AOI_2_Vegas_PS-RGB_img1.tif", classes,
                         transform=TRANSFORM)
    truth = write_rows(tmp_path / "truth.csv", ["ImageId", "BuildingId", "PolygonWKT_Pix"],
                       [["AOI_2_Vegas_img1", 0, shapely.box(2, 3, 12, 8).wkt]])
    out = tmp_path / "p.csv"
    assert run_cli("vectorize", raster, "-o", out).exit_code == 0
    assert read_csv(out).images == ["AOI_2_Vegas_img1"]
    result = run_cli("evaluate", out, truth, "--json", "--min-area", "0")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert (scores["tp"], scores["fp"], scores["fn"]) == (1, 0, 0)


def test_cli_make_masks_burns_each_image_its_own_rows(run_cli, make_raster, tmp_path):
    """SpaceNet truth is per ImageId: where two tiles overlap, a tile's mask holds its own
    rows only, the same mask whichever other tiles are in the run."""
    zeros = np.zeros((1, 40, 50), np.uint8)
    one = make_raster("RGB-PanSharpen_AOI_2_Vegas_img1.tif", zeros, transform=TRANSFORM)
    # img2 starts 10 m (20 px) east of img1: their right and left halves overlap
    two = make_raster("RGB-PanSharpen_AOI_2_Vegas_img2.tif", zeros,
                      transform=from_origin(X0 + 10, Y0, 0.5, 0.5))
    truth = write_rows(tmp_path / "truth.csv", ["ImageId", "BuildingId", "PolygonWKT_Pix"], [
        ["AOI_2_Vegas_img1", 0, shapely.box(2, 3, 12, 8).wkt],
        ["AOI_2_Vegas_img2", 0, shapely.box(5, 10, 15, 20).wkt],  # over img1's 25..35
    ])
    assert run_cli("make-masks", truth, one, "-o", tmp_path / "alone.tif").exit_code == 0
    result = run_cli("make-masks", truth, one, two, "-o", tmp_path / "both")
    assert result.exit_code == 0, result.output
    expected = np.zeros((40, 50), np.uint8)
    expected[3:8, 2:12] = 1
    for path in (tmp_path / "alone.tif", tmp_path / "both" / f"{one.stem}.tif"):
        with rasterio.open(path) as src:
            np.testing.assert_array_equal(src.read(1), expected)
    with rasterio.open(tmp_path / "both" / f"{two.stem}.tif") as src:
        expected = np.zeros((40, 50), np.uint8)
        expected[10:20, 5:15] = 1
        np.testing.assert_array_equal(src.read(1), expected)


def test_a_csv_of_projected_geo_wkt_names_the_convention_and_the_option(run_cli, tmp_path):
    from .conftest import assert_one_line_error

    header = ["ImageId", "BuildingId", "PolygonWKT_Pix", "PolygonWKT_Geo", "Confidence"]
    geo = shapely.box(X0, Y0 - 10, X0 + 10, Y0).wkt  # UTM metres, not degrees
    pred = write_rows(tmp_path / "pred.csv", header, [["img1", 0, square(0, 0, 10), geo, 1]])
    truth = tmp_path / "truth.gpkg"
    gpd.GeoDataFrame(geometry=[shapely.box(X0, Y0 - 10, X0 + 10, Y0)], crs=UTM_CRS).to_file(
        truth)
    assert_one_line_error(run_cli("evaluate", pred, truth), "pred.csv", "a CSV names no CRS",
                          "--prediction-crs")
    result = run_cli("evaluate", pred, truth, "--prediction-crs", UTM_CRS, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["f1"] == 1.0


def test_cli_vectorize_refuses_two_rasters_of_one_image_id(run_cli, make_raster, tmp_path):
    """Per-city folders reuse tile names: two rasters of one ImageId would write one image's
    rows (BuildingId 0 twice, their pixel polygons scored as one image): refused, nothing
    written."""
    from .conftest import assert_one_line_error

    classes = np.zeros((20, 20), np.uint8)
    classes[5:10, 5:10] = 1
    (tmp_path / "vegas").mkdir()
    (tmp_path / "paris").mkdir()
    one = make_raster("vegas/tile_0_0.tif", classes, transform=TRANSFORM)
    two = make_raster("paris/tile_0_0.tif", classes, transform=TRANSFORM)
    out = tmp_path / "proposals.csv"
    result = run_cli("vectorize", one, two, "-o", out)
    assert_one_line_error(result, "vegas/tile_0_0.tif", "paris/tile_0_0.tif", "'tile_0_0'")
    assert not out.exists()


@pytest.mark.parametrize("instances", ["--instances", "--no-instances"])
def test_cli_vectorize_csv_refuses_a_raster_given_twice(run_cli, make_raster, tmp_path,
                                                        instances):
    """The same raster twice would write every building twice (duplicate BuildingIds of
    one ImageId, scored as false positives): refused as for the other formats."""
    from .conftest import assert_one_line_error

    bands = np.zeros((3, 20, 40), np.float32)
    bands[0, 5:15, 5:35] = 0.9
    raster = make_raster("RGB-PanSharpen_AOI_2_Vegas_img2.tif", bands, transform=TRANSFORM)
    out = tmp_path / "twice.csv"
    for again in (raster, tmp_path / "." / raster.name):
        result = run_cli("vectorize", raster, again, "-o", out, instances)
        assert_one_line_error(result, "RGB-PanSharpen_AOI_2_Vegas_img2.tif", "given twice",
                              "Give each raster once")
        assert not out.exists()


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
@pytest.mark.parametrize("instances", ["--instances", "--no-instances"])
def test_cli_vectorize_csv_of_a_raster_without_crs(run_cli, make_raster, tmp_path, instances):
    """PolygonWKT_Geo is EPSG:4326: a raster without a CRS cannot fill it (its own map
    coordinates are not degrees). --crs X is refused as for the other formats; by default
    Geo is POLYGON EMPTY with one warning, the pixel WKT is right; --crs source writes the
    raster's own coordinates."""
    from .conftest import assert_one_line_error

    bands = np.zeros((3, 20, 40), np.float32)
    bands[0, 5:15, 5:35] = 0.9
    if instances == "--no-instances":  # a building mask
        bands = (bands[:1] > 0.5).astype(np.uint8)
    raster = make_raster("AOI_9_X_img1.tif", bands, transform=TRANSFORM, crs=None)
    refused = tmp_path / "refused.csv"
    result = run_cli("vectorize", raster, "-o", refused, "--crs", "EPSG:4326", instances)
    assert_one_line_error(result, "AOI_9_X_img1.tif", "no CRS", "--crs EPSG:4326")
    assert not refused.exists()

    out = tmp_path / "nocrs.csv"
    result = run_cli("vectorize", raster, "-o", out, instances)
    assert result.exit_code == 0, result.output
    said = [line for line in result.stderr.splitlines() if "no CRS" in line]
    assert len(said) == 1 and "AOI_9_X_img1.tif" in said[0] and "PolygonWKT_Geo" in said[0]
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1
    assert rows[0]["PolygonWKT_Geo"] == "POLYGON EMPTY"
    assert shapely.from_wkt(rows[0]["PolygonWKT_Pix"]).equals(shapely.box(5, 5, 35, 15))

    result = run_cli("vectorize", raster, "-o", tmp_path / "source.csv", "--crs", "source",
                     instances)
    assert result.exit_code == 0, result.output
    assert "no CRS" in result.stderr
    geo = read_csv(tmp_path / "source.csv").geo[0]
    assert geo.equals(shapely.box(X0 + 2.5, Y0 - 7.5, X0 + 17.5, Y0 - 2.5))


def test_a_pixel_only_csv_scored_against_map_labels_says_what_evaluate_can_do(tmp_path,
                                                                               run_cli):
    """SpaceNet's proposal CSVs (sample_preds.csv) hold pixel coordinates only: against a
    GeoJSON truth, evaluate said to 'give the image(s) the ImageIds name', which evaluate has
    no way to do (--image only draws the report). The line names what works."""
    from .conftest import assert_one_line_error

    preds = write_rows(tmp_path / "preds.csv", ["ImageId", "BuildingId", "PolygonWKT_Pix",
                                                "Confidence"],
                       [["AOI_2_Vegas_img1", 0, square(10, 20, 10), "1"]])
    truth = tmp_path / "truth.geojson"
    gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)], crs="EPSG:4326").to_file(truth)
    result = run_cli("evaluate", preds, truth)
    assert_one_line_error(result, "preds.csv", "pixel coordinates only",
                          "a SpaceNet CSV of the same images")
    assert "ImageIds name" not in result.stderr


@pytest.mark.parametrize("png_first", [True, False])
def test_cli_make_masks_of_images_with_and_without_a_crs_is_one_clear_line(
        run_cli, make_raster, tmp_path, png_first):
    """A pixel CSV, a PNG without georeferencing and a UTM GeoTIFF in one run: refused as
    'the labels in pix.csv (EPSG:32616) cannot be placed' on the PNG (the CRS was the other
    image's) or 'the labels declare no CRS. Pass --labels-crs' (a pixel CSV needs none)."""
    photo = tmp_path / "AOI_1_tileA.png"
    with rasterio.open(photo, "w", driver="PNG", width=50, height=40, count=1,
                       dtype="uint8") as dst:
        dst.write(np.zeros((1, 40, 50), np.uint8))
    tile = make_raster("AOI_1_tileB.tif", np.zeros((1, 40, 50), np.uint8), transform=TRANSFORM)
    truth = write_rows(tmp_path / "pix.csv", ["ImageId", "BuildingId", "PolygonWKT_Pix"], [
        ["AOI_1_tileA", 0, shapely.box(2, 3, 12, 8).wkt],
        ["AOI_1_tileB", 0, shapely.box(5, 10, 15, 20).wkt]])
    images = [photo, tile] if png_first else [tile, photo]
    result = run_cli("make-masks", truth, *images, "-o", tmp_path / "out")
    assert_one_line_error(result, "pix.csv", "AOI_1_tileB.tif has a CRS",
                          "AOI_1_tileA.png none", "Run make-masks once for each kind")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    for image, box in ((photo, (3, 8, 2, 12)), (tile, (10, 20, 5, 15))):
        result = run_cli("make-masks", truth, image, "-o", tmp_path / f"{image.stem}_mask.tif")
        assert result.exit_code == 0, result.output
        expected = np.zeros((40, 50), np.uint8)
        expected[box[0]:box[1], box[2]:box[3]] = 1
        with rasterio.open(tmp_path / f"{image.stem}_mask.tif") as src:
            np.testing.assert_array_equal(src.read(1), expected)


def _named_classes(make_raster, name, names):
    """A class raster naming ``names`` (0 background): a square of each of classes 1 and 2."""
    ids = np.zeros((40, 50), np.uint8)
    ids[3:8, 2:12] = 1
    ids[20:35, 30:40] = 2
    raster = make_raster(name, ids, transform=TRANSFORM)
    with rasterio.open(raster, "r+") as dst:
        dst.update_tags(GEOTILE_OUTPUT="mask", GEOTILE_CLASS_NAMES=json.dumps(names))
    return raster


@pytest.mark.parametrize("names", [["background", "road", "building"], ["background", "a", "b"]])
def test_cli_vectorize_csv_of_several_classes_is_refused_unless_classes_keeps_one(
        run_cli, make_raster, tmp_path, names):
    """A SpaceNet CSV holds building proposals and no class column: a land-cover raster's
    road regions were written as buildings (per_class said all 'building'). It is refused
    before any work, naming --classes; --classes picks the one class written."""
    from .conftest import assert_one_line_error

    raster = _named_classes(make_raster, "AOI_2_Vegas_img1.tif", names)
    out = tmp_path / "p.csv"
    result = run_cli("vectorize", raster, "-o", out)
    pick = "building" if "building" in names else names[1]  # a building class first
    assert_one_line_error(result, "AOI_2_Vegas_img1.tif", f"--classes {pick}", ".gpkg")
    assert not out.exists()
    result = run_cli("vectorize", raster, "-o", out, "--classes", f"{names[1]},{names[2]}")
    assert_one_line_error(result, "one class", code=2)
    assert not out.exists()

    result = run_cli("vectorize", raster, "-o", out, "--classes", names[2], "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary == {"output": str(out), "features": 1, "per_class": {names[2]: 1},
                       "crs": "EPSG:4326", "sources": ["AOI_2_Vegas_img1.tif"]}
    assert [g.bounds for g in read_csv(out).pixel] == [(30.0, 20.0, 40.0, 35.0)]


def test_cli_vectorize_csv_of_an_unnamed_raster_of_several_ids_is_refused(run_cli, make_raster,
                                                                          tmp_path):
    """Unnamed ids 1 and 2 are two classes too: refused (after polygonizing), nothing
    written; --crs source reports the rasters' CRS as the CSV's."""
    from .conftest import assert_one_line_error

    ids = np.zeros((40, 50), np.uint8)
    ids[3:8, 2:12] = 1
    ids[20:35, 30:40] = 2
    raster = make_raster("AOI_2_Vegas_img1.tif", ids, transform=TRANSFORM)
    out = tmp_path / "p.csv"
    assert_one_line_error(run_cli("vectorize", raster, "-o", out), "AOI_2_Vegas_img1.tif",
                          "classes building, 2", "--classes building")
    assert not out.exists()
    result = run_cli("vectorize", raster, "-o", out, "--classes", "2", "--crs", "source",
                     "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["per_class"] == {"2": 1} and summary["crs"] == UTM_CRS
    assert summary["sources"] == ["AOI_2_Vegas_img1.tif"]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_cli_vectorize_csv_of_an_instance_id_mask_writes_each_building(run_cli, make_raster,
                                                                       tmp_path, dtype):
    """An instance-id mask (each building its own id, touching ones too: SpaceNet's and
    tile's instance masks) was refused as a raster of 56 classes after the one-class check
    came; ids that are each one region are buildings: 56 proposals, as before."""
    ids = np.zeros((80, 70), dtype)
    for k in range(56):  # 8 rows of 7 touching 10 x 10 buildings
        row, col = divmod(k, 7)
        ids[row * 10:(row + 1) * 10, col * 10:(col + 1) * 10] = k + 1
    raster = make_raster("AOI_2_Vegas_img1.tif", ids, transform=TRANSFORM)
    out = tmp_path / "p.csv"
    result = run_cli("vectorize", raster, "-o", out, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["per_class"] == {"building": 56}
    boxes = sorted(g.bounds for g in read_csv(out).pixel)
    assert len(boxes) == 56 and boxes[0] == (0.0, 0.0, 10.0, 10.0)
    ids[0:10, 20:30] = 1  # id 1 now two regions far apart: classes, not instances
    raster = make_raster("AOI_2_Vegas_img2.tif", ids, transform=TRANSFORM)
    result = run_cli("vectorize", raster, "-o", tmp_path / "q.csv")
    assert_one_line_error(result, "AOI_2_Vegas_img2.tif", "id 1 lies in 2 regions", "--classes")
    assert "--classes building" not in result.stderr  # it would keep 1 of 55 buildings
    # three ids of one region each: uint8 classes (building, road, water) are refused; a
    # wider type (skimage's labels, a SpaceNet tile of 3 buildings) holds instance ids
    few = np.zeros((80, 70), dtype)
    few[0:10, 0:10], few[20:30, :], few[50:80, 40:70] = 1, 2, 3
    raster = make_raster("AOI_2_Vegas_img3.tif", few, transform=TRANSFORM)
    result = run_cli("vectorize", raster, "-o", tmp_path / "r.csv")
    if dtype == np.uint8:
        assert_one_line_error(result, "AOI_2_Vegas_img3.tif", "--classes")
    else:
        assert result.exit_code == 0, result.output
        assert len(read_csv(tmp_path / "r.csv").pixel) == 3


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32])
def test_cli_vectorize_csv_of_instance_ids_in_8_connected_pieces_writes_each_building(
        run_cli, make_raster, tmp_path, dtype):
    """Instance ids labelled 8-connected (skimage.measure.label's default; a rasterized
    footprint with a diagonal step) or cut by a one-pixel nodata line came back in several
    4-connected regions of one id: the .csv was refused as "classes building, 2, ..., 20"
    and the advised --classes building kept 1 of 20 buildings, exit 0. Each id is one
    building: 20 proposals, the id in pieces one MultiPolygon of all its pixels."""
    ids = np.zeros((200, 200), dtype)
    for k in range(20):  # 5 rows of 4 buildings, 2 px apart
        row, col = divmod(k, 4)
        ids[row * 40 + 2:row * 40 + 38, col * 50 + 2:col * 50 + 48] = k + 1
    ids[78, 48] = 5  # diagonal to id 5's corner (77, 47)
    ids[120:158, 52:98] = 0  # id 14 cut by a one-pixel nodata column (col 75)
    ids[122:158, 52:75] = ids[122:158, 76:98] = 14
    ids[122:158, 75] = 250
    raster = make_raster("AOI_2_Vegas_img1.tif", ids, transform=TRANSFORM, nodata=250)
    out = tmp_path / "p.csv"
    result = run_cli("vectorize", raster, "-o", out, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["per_class"] == {"building": 20}
    pixel = read_csv(out).pixel
    assert len(pixel) == 20
    assert sum(g.area for g in pixel) == ((ids > 0) & (ids != 250)).sum()
    for k in (5, 14):
        row, col = np.argwhere(ids == k)[0]
        hit = [g for g in pixel if g.contains(shapely.Point(col + 0.5, row + 0.5))]
        assert len(hit) == 1 and hit[0].geom_type == "MultiPolygon", k
        assert hit[0].area == (ids == k).sum(), k


def _decimals(wkt: str) -> int:
    """The most decimals of any coordinate of a WKT text."""
    import re

    return max((len(d) for d in re.findall(r"\.(\d+)", wkt)), default=0)


def test_cli_vectorize_csv_writes_coordinates_without_float_noise(run_cli, make_raster,
                                                                  tmp_path):
    """PolygonWKT_Geo held every double's digits (-115.29920890000001): coordinates have
    the decimals that keep each pixel edge within 1e-3 px (9 in degrees for 0.5 m pixels,
    4 in metres), and read back onto the pixel polygons within 1e-3 px."""
    classes = np.zeros((40, 50), np.uint8)
    classes[3:8, 2:12] = 1
    classes[20:35, 30:40] = 1
    classes[12:17, 17:23] = 1
    classes[14, 23] = 1
    raster = make_raster("RGB-PanSharpen_AOI_2_Vegas_img1.tif", classes,
                         transform=from_origin(X0 + 0.1, Y0 + 0.3, 0.5, 0.5))
    for crs, decimals in (("EPSG:4326", 9), ("source", 4)):
        out = tmp_path / f"{crs.replace(':', '')}.csv"
        result = run_cli("vectorize", raster, "-o", out, "--crs", crs)
        assert result.exit_code == 0, result.output
        with open(out, newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert len(rows) == 3
        assert 1 <= max(_decimals(r["PolygonWKT_Geo"]) for r in rows) <= decimals, rows
        assert max(_decimals(r["PolygonWKT_Pix"]) for r in rows) == 0, rows
        geo = gpd.GeoSeries.from_wkt([r["PolygonWKT_Geo"] for r in rows],
                                     crs=4326 if crs == "EPSG:4326" else UTM_CRS)
        utm = geo.to_crs(UTM_CRS)
        back = shapely.transform(np.asarray(utm.values, dtype=object),
                                 lambda xy: np.column_stack(
                                     [(xy[:, 0] - X0 - 0.1) / 0.5, (Y0 + 0.3 - xy[:, 1]) / 0.5]))
        for polygon, row in zip(back, rows, strict=True):
            pixel = shapely.from_wkt(row["PolygonWKT_Pix"])
            assert shapely.hausdorff_distance(polygon, pixel) < 1e-3, (polygon, pixel)


def test_cli_vectorize_csv_of_a_site_grid_raster_is_one_line(run_cli, make_raster, tmp_path):
    """vectorize site.tif -o out.csv of a raster in a local site grid (LOCAL_CS) ended in
    pyproj's ProjError traceback (PolygonWKT_Geo is EPSG:4326, which a site grid cannot
    reach), --crs EPSG:32616 too: one line naming the raster, its CRS and --crs source,
    nothing written; --crs source writes the grid's coordinates."""
    from .conftest import assert_one_line_error

    grid = 'LOCAL_CS["site grid",UNIT["metre",1],AXIS["Easting",EAST],AXIS["Northing",NORTH]]'
    mask = np.zeros((64, 64), np.uint8)
    mask[10:30, 10:30] = 1
    raster = make_raster("site.tif", mask, crs=grid, transform=from_origin(1000, 2000, 0.5, 0.5))
    for crs in ([], ["--crs", "EPSG:32616"]):
        result = run_cli("vectorize", raster, "-o", tmp_path / "out.csv", *crs)
        assert_one_line_error(result, "site.tif", "site grid", "--crs source")
        assert not (tmp_path / "out.csv").exists()
    result = run_cli("vectorize", raster, "-o", tmp_path / "out.csv", "--crs", "source")
    assert result.exit_code == 0, result.output
    assert read_csv(tmp_path / "out.csv").geo[0].equals(shapely.box(1005, 1985, 1015, 1995))


def test_the_table_of_one_image_says_one_image(tmp_path):
    """The SpaceNet table said "1 images"; now "1 image"."""
    header = ["ImageId", "BuildingId", "PolygonWKT_Pix"]
    truth = write_rows(tmp_path / "truth.csv", header,
                       [["AOI_2_Vegas_img1", 0, square(0, 0, 10)]])
    proposals = write_rows(tmp_path / "proposals.csv", [*header, "Confidence"],
                           [["AOI_2_Vegas_img1", 0, square(0, 0, 10), 1]])
    table = evaluate_csvs(proposals, truth).table()
    assert table.splitlines()[0].endswith(": 1 image"), table


def test_csv_of_adjacent_tiles_against_whole_buildings_says_they_are_cut(run_cli, tmp_path):
    """A city vectorized to SpaceNet's CSV holds a building cut by a tile edge as one piece
    per image: scored against whole truth buildings, the pieces are false positives with
    exit 0. evaluate says so in one line and names the way (a .gpkg keeps them whole)."""
    classes = np.zeros((20, 40), np.uint8)
    classes[5:15, 12:30] = 1  # crosses the tile edge at column 20: 8 px + 10 px
    classes[2:6, 2:8] = 1  # inside the first tile
    (tmp_path / "pred").mkdir()
    for col in (0, 20):
        write_raster(tmp_path / "pred" / f"AOI_1_img{col}.tif", classes[:, col : col + 20],
                     transform=from_origin(X0 + col * 0.5, Y0, 0.5, 0.5))
    truth = gpd.GeoDataFrame(geometry=[shapely.box(X0 + 6, Y0 - 7.5, X0 + 15, Y0 - 2.5),
                                       shapely.box(X0 + 1, Y0 - 3, X0 + 4, Y0 - 1)],
                             crs=UTM_CRS)
    truth.to_file(tmp_path / "truth.gpkg")
    for suffix in (".csv", ".gpkg"):
        result = run_cli("vectorize", tmp_path / "pred", "-o", tmp_path / f"p{suffix}")
        assert result.exit_code == 0, result.output
    assert len(read_csv(tmp_path / "p.csv").image_ids) == 3  # 1 + 2 pieces
    whole = run_cli("evaluate", tmp_path / "p.gpkg", tmp_path / "truth.gpkg", "--json")
    assert whole.exit_code == 0, whole.output
    assert json.loads(whole.stdout)["f1"] == 1.0 and not whole.stderr.strip()
    cut = run_cli("evaluate", tmp_path / "p.csv", tmp_path / "truth.gpkg", "--json")
    assert cut.exit_code == 0, cut.output
    assert json.loads(cut.stdout)["fp"] > 0
    lines = [line for line in cut.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, cut.stderr
    for fragment in ("p.csv", "2 of its 3 polygons", "1 building", "image edges", ".gpkg"):
        assert fragment in lines[0], lines[0]
    # per image, against a SpaceNet CSV truth, pieces are what SpaceNet scores: no word
    per_image = run_cli("evaluate", tmp_path / "p.csv", tmp_path / "p.csv", "--json")
    assert per_image.exit_code == 0 and not per_image.stderr.strip(), per_image.output


def test_csv_of_overlapping_tiles_names_their_mosaic_as_the_way(run_cli, tmp_path):
    """Tiles delivered overlapping (5 px here) give a building in the overlap once per image:
    the warning names the mosaic (predict --merge), as vectorize refuses the tiles so."""
    classes = np.zeros((20, 35), np.uint8)
    classes[5:15, 16:19] = 1  # in both tiles' overlap, columns 15..20
    (tmp_path / "pred").mkdir()
    for col in (0, 15):
        write_raster(tmp_path / "pred" / f"AOI_1_img{col}.tif", classes[:, col : col + 20],
                     transform=from_origin(X0 + col * 0.5, Y0, 0.5, 0.5))
    gpd.GeoDataFrame(geometry=[shapely.box(X0 + 8, Y0 - 7.5, X0 + 9.5, Y0 - 2.5)],
                     crs=UTM_CRS).to_file(tmp_path / "truth.gpkg")
    assert run_cli("vectorize", tmp_path / "pred", "-o", tmp_path / "p.csv").exit_code == 0
    result = run_cli("evaluate", tmp_path / "p.csv", tmp_path / "truth.gpkg", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["fp"] == 1  # the copy
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for fragment in ("2 of its 2 polygons", "1 building", "repeated", "predict --merge"):
        assert fragment in lines[0], lines[0]


def test_a_spacenet_csv_truth_of_chip_pieces_against_the_same_pieces_gives_no_word(
        run_cli, tmp_path):
    """SpaceNet's own CSV truth holds buildings cut at chip edges, one piece per ImageId;
    per-chip predictions merged into one GeoJSON hold the same pieces. Scored so (F1 1.0),
    evaluate warned that 2 of the truth's 3 polygons are pieces 'scored alone' and advised
    whole buildings: neither file holds a whole building, so there is no word; against
    whole buildings the warning stays."""
    classes = np.zeros((20, 40), np.uint8)
    classes[5:15, 12:30] = 1  # crosses the chip edge at column 20
    classes[2:6, 2:8] = 1
    (tmp_path / "chips").mkdir()
    for col in (0, 20):
        write_raster(tmp_path / "chips" / f"AOI_1_img{col}.tif", classes[:, col : col + 20],
                     transform=from_origin(X0 + col * 0.5, Y0, 0.5, 0.5))
    for suffix in (".csv", ".gpkg"):
        result = run_cli("vectorize", tmp_path / "chips", "-o", tmp_path / f"truth{suffix}")
        assert result.exit_code == 0, result.output
    table = read_csv(tmp_path / "truth.csv")
    gpd.GeoDataFrame(geometry=list(table.geo), crs="EPSG:4326").to_file(
        tmp_path / "pieces.geojson")
    pieces = run_cli("evaluate", tmp_path / "pieces.geojson", tmp_path / "truth.csv", "--json")
    assert pieces.exit_code == 0, pieces.output
    assert json.loads(pieces.stdout)["f1"] == 1.0
    assert not pieces.stderr.strip(), pieces.stderr
    whole = run_cli("evaluate", tmp_path / "truth.gpkg", tmp_path / "truth.csv", "--json")
    assert whole.exit_code == 0, whole.output
    assert "1 building cut" in whole.stderr, whole.stderr
    # the pieces are the truth's: the way is a per-image CSV of the predictions, not a
    # .gpkg of whole buildings (the prediction is one already)
    assert "truth.csv" in whole.stderr and "predictions as a SpaceNet CSV" in whole.stderr
    assert "For whole buildings vectorize" not in whole.stderr, whole.stderr
