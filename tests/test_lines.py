"""Roads: LineStrings burnt with a width, centrelines from probabilities, line metrics."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from .conftest import UTM_CRS, UTM_ORIGIN, union_of, without_crs

X0, Y0 = UTM_ORIGIN


def write_lines(path, geometries, crs=UTM_CRS, **fields):
    gpd.GeoDataFrame(fields, geometry=list(geometries), crs=crs).to_file(path)
    return path


# ----------------------------------------------------------------------------- make-masks


def test_line_width_burns_lines_that_many_metres_wide(run_cli, make_raster, tmp_path):
    image = make_raster("img.tif", np.zeros((3, 60, 60), np.uint8))
    horizontal = shapely.LineString([(X0 + 5, Y0 - 10), (X0 + 25, Y0 - 10)])
    vertical = shapely.LineString([(X0 + 20.25, Y0 - 29.75), (X0 + 20.25, Y0 - 15)])
    labels = write_lines(tmp_path / "roads.geojson", [horizontal, vertical])
    out = tmp_path / "mask.tif"
    result = run_cli("make-masks", labels, image, "-o", out, "--line-width", 4, "--line-cap",
                     "flat")
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as src:
        mask = src.read(1)
    # 4 m at 0.5 m pixels: 8 px across, centred on the line; flat caps end at the ends
    expected = np.zeros((60, 60), np.uint8)
    expected[16:24, 10:50] = 1  # y -8..-12 m, x 5..25 m
    expected[30:60, 37:45] = 1  # x 18.25..22.25 m, y -15..-29.75 m (cut by the raster)
    assert (mask == expected).all()


def test_round_caps_reach_half_the_width_past_the_ends(run_cli, make_raster, tmp_path):
    image = make_raster("img.tif", np.zeros((40, 40), np.uint8))
    labels = write_lines(tmp_path / "roads.geojson",
                         [shapely.LineString([(X0 + 5, Y0 - 10), (X0 + 15, Y0 - 10)])])
    out = tmp_path / "mask.tif"
    assert run_cli("make-masks", labels, image, "-o", out, "--line-width", 4).exit_code == 0
    with rasterio.open(out) as src:
        mask = src.read(1)
    assert np.flatnonzero(mask[19]).tolist() == list(range(6, 34))  # x 3..17 m
    assert np.flatnonzero(mask[:, 20]).tolist() == list(range(16, 24))


def test_line_width_in_metres_on_a_lonlat_raster(run_cli, make_raster, tmp_path):
    # about 0.5 m pixels at the equator: 4.5e-6 degrees
    cell = 4.5e-6
    image = make_raster("img.tif", np.zeros((60, 60), np.uint8), crs="EPSG:4326",
                        transform=from_origin(10.0, 0.0, cell, cell))
    line = shapely.LineString([(10.0, -30 * cell), (10.0 + 60 * cell, -30 * cell)])
    labels = write_lines(tmp_path / "roads.geojson", [line], crs="EPSG:4326")
    out = tmp_path / "mask.tif"
    result = run_cli("make-masks", labels, image, "-o", out, "--line-width", 4)
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as src:
        rows = np.flatnonzero(src.read(1)[:, 30])
    # 4 m / (4.5e-6 deg * 111.3 km/deg) = 8.0 px
    assert len(rows) == 8 and rows.min() == 26


def test_lines_without_line_width_are_an_error_naming_the_option(run_cli, make_raster,
                                                                  tmp_path):
    image = make_raster("img.tif", np.zeros((20, 20), np.uint8))
    labels = write_lines(tmp_path / "roads.geojson",
                         [shapely.LineString([(X0 + 1, Y0 - 5), (X0 + 9, Y0 - 5)])])
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
    assert result.exit_code == 1
    assert "--line-width" in result.stderr and "roads.geojson" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "mask.tif").exists()


def test_lines_among_polygons_without_width_are_left_out_with_a_warning(make_raster,
                                                                         tmp_path):
    from geotile.errors import GeotileWarning
    from geotile.masks import make_masks

    image = make_raster("img.tif", np.zeros((20, 20), np.uint8))
    labels = write_lines(tmp_path / "mixed.geojson", [
        shapely.box(X0 + 1, Y0 - 3, X0 + 3, Y0 - 1),
        shapely.LineString([(X0 + 1, Y0 - 7), (X0 + 9, Y0 - 7)])])
    with pytest.warns(GeotileWarning, match="1 line feature was left out"):
        summary = make_masks(labels, image, tmp_path / "mask.tif")
    assert summary[0]["positive_pixels"] == 16


def test_roads_burnt_from_lines_are_named_road(make_raster, tmp_path):
    from geotile.masks import MaskOptions, make_masks

    image = make_raster("img.tif", np.zeros((20, 20), np.uint8))
    labels = write_lines(tmp_path / "roads.geojson",
                         [shapely.LineString([(X0 + 1, Y0 - 5), (X0 + 9, Y0 - 5)])])
    summary = make_masks(labels, image, tmp_path / "mask.tif",
                         options=MaskOptions(line_width=2))
    assert summary[0]["classes"] == ["background", "road"]


def test_an_empty_road_file_makes_a_road_mask(run_cli, make_raster, tmp_path):
    """make-masks --line-width of a file without features (SpaceNet's tile without roads)
    names class 1 road, as with roads: it said building, and vectorize --lines refused the
    folder of masks ("its class 1 is 'building', in A.tif 'road'")."""
    (tmp_path / "masks").mkdir()
    images = [make_raster(f"{name}.tif", np.ones((40, 40), np.uint16),
                          transform=from_origin(X0 + 20 * i, Y0, 0.5, 0.5), nodata=0)
              for i, name in enumerate("AB")]
    road = write_lines(tmp_path / "A.geojson",
                       [shapely.LineString([(X0 + 1, Y0 - 10), (X0 + 19, Y0 - 10)])])
    empty = tmp_path / "B.geojson"
    empty.write_text('{"type": "FeatureCollection", "features": []}')
    for labels, image in ((road, images[0]), (empty, images[1])):
        result = run_cli("make-masks", labels, image, "-o", tmp_path / "masks" / image.name,
                         "--line-width", 4)
        assert result.exit_code == 0, result.output
        with rasterio.open(tmp_path / "masks" / image.name) as src:
            assert json.loads(src.tags()["GEOTILE_CLASS_NAMES"]) == ["background", "road"]
    result = run_cli("vectorize", tmp_path / "masks", "-o", tmp_path / "l.gpkg", "--lines")
    assert result.exit_code == 0, result.output
    frame = gpd.read_file(tmp_path / "l.gpkg")
    assert list(frame["class"]) == ["road"]
    assert frame["length_m"].sum() == pytest.approx(18, abs=0.6)


@pytest.mark.parametrize("geometry", ["null", '{"type": "LineString", "coordinates": []}',
                                      '{"type": "MultiLineString", "coordinates": []}'])
def test_a_road_file_of_features_without_geometry_makes_an_all_zero_road_mask(
        run_cli, make_raster, tmp_path, geometry):
    """SpaceNet's road truth of a tile without roads holds LINESTRING EMPTY (or a null
    geometry): make-masks --line-width refused it ("no feature is a polygon. Give building
    footprints."), where an empty FeatureCollection gives the all-zero mask with a
    warning. It gives that mask and warning now."""
    image = make_raster("A.tif", np.ones((40, 40), np.uint16))
    labels = tmp_path / "roads.geojson"
    labels.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", '
                      f'"properties": {{"road_type": "5"}}, "geometry": {geometry}}}]}}')
    out = tmp_path / "mask.tif"
    result = run_cli("make-masks", labels, image, "-o", out, "--line-width", 4)
    assert result.exit_code == 0, result.output
    assert "holds no features with a geometry; the mask of A.tif is all zeros" in result.output
    with rasterio.open(out) as src:
        assert not src.read(1).any()
        assert json.loads(src.tags()["GEOTILE_CLASS_NAMES"]) == ["background", "road"]


@pytest.mark.parametrize("geometries", [
    ['{"type": "Point", "coordinates": [740001, 3734999]}',
     '{"type": "Point", "coordinates": [740005, 3734995]}'],
    ['{"type": "Polygon", "coordinates": []}'],
    ['{"type": "LineString", "coordinates": []}', '{"type": "Point", "coordinates": []}']])
def test_a_road_file_of_points_or_empty_polygons_is_refused(run_cli, make_raster, tmp_path,
                                                             geometries):
    """make-masks --line-width of a file of points only (or POLYGON EMPTY) wrote an all-zero
    mask, exit 0, warning of labels spanning (nan, nan, nan, nan) and a wrong CRS: no road
    file, but the wrong file or layer. It is refused in one line, as without --line-width."""
    from .conftest import assert_one_line_error

    image = make_raster("A.tif", np.ones((40, 40), np.uint16))
    labels = tmp_path / "roads.geojson"
    features = ", ".join(f'{{"type": "Feature", "properties": {{}}, "geometry": {g}}}'
                         for g in geometries)
    crs = json.dumps({"type": "name", "properties": {"name": UTM_CRS}})
    labels.write_text(f'{{"type": "FeatureCollection", "crs": {crs}, '
                      f'"features": [{features}]}}')
    out = tmp_path / "mask.tif"
    result = run_cli("make-masks", labels, image, "-o", out, "--line-width", 4)
    assert_one_line_error(result, "roads.geojson", "no feature is a line or a polygon",
                          "Give road lines")
    assert not out.exists()


def test_lines_in_geometry_collections_are_burnt_like_other_lines(make_raster, tmp_path,
                                                                  run_cli):
    """A GeometryCollection of a road and a building (ogr2ogr/QGIS "collect"): its road was
    dropped without a word, and a collection of roads alone refused as "no polygon"."""
    from geotile.errors import GeotileWarning
    from geotile.masks import MaskOptions, make_masks

    image = make_raster("img.tif", np.zeros((40, 40), np.uint8))
    road = shapely.LineString([(X0 + 2, Y0 - 10), (X0 + 18, Y0 - 10)])
    house = shapely.box(X0 + 2, Y0 - 18, X0 + 6, Y0 - 14)
    collected = shapely.GeometryCollection([road, house, shapely.Point(X0 + 15, Y0 - 15)])
    plain = write_lines(tmp_path / "plain.geojson", [road, house])
    labels = write_lines(tmp_path / "gc.geojson", [collected])
    options = MaskOptions(line_width=2)
    make_masks(plain, image, tmp_path / "plain.tif", options=options)
    [summary] = make_masks(labels, image, tmp_path / "gc.tif", options=options)
    with rasterio.open(tmp_path / "plain.tif") as a, rasterio.open(tmp_path / "gc.tif") as b:
        expected, got = a.read(1), b.read(1)
    assert expected[19:21, 4:36].all() and expected[28:36, 4:12].all()
    np.testing.assert_array_equal(got, expected)
    assert summary["positive_pixels"] == np.count_nonzero(expected)
    # a collection of lines alone is roads, as a MultiLineString
    roads = write_lines(tmp_path / "roads.geojson", [shapely.GeometryCollection([road])])
    [summary] = make_masks(roads, image, tmp_path / "roads.tif", options=options)
    assert summary["classes"] == ["background", "road"]
    assert summary["positive_pixels"] == np.count_nonzero(expected[:, :]) - 64
    result = run_cli("make-masks", roads, image, "-o", tmp_path / "none.tif")
    assert result.exit_code == 1 and "--line-width" in result.stderr
    assert "lines (roads?)" in result.stderr and not (tmp_path / "none.tif").exists()
    # without --line-width the collection's road is left out with the lines' warning
    with pytest.warns(GeotileWarning, match="1 line feature was left out"):
        [summary] = make_masks(labels, image, tmp_path / "house.tif")
    assert summary["positive_pixels"] == 64


# ----------------------------------------------------------------------------- centrelines


def test_pixel_segments_follow_a_staircase_without_triangles():
    from geotile.lines import pixel_segments

    skeleton = np.zeros((5, 6), bool)
    for r, c in [(0, 0), (1, 1), (1, 2), (2, 3), (3, 3), (4, 4)]:
        skeleton[r, c] = True
    pairs = {tuple(map(tuple, s)) for s in pixel_segments(skeleton, slice(0, 5)).tolist()}
    assert pairs == {((0, 0), (1, 1)), ((1, 1), (1, 2)), ((1, 2), (2, 3)), ((2, 3), (3, 3)),
                     ((3, 3), (4, 4))}
    # rows 0..1 only: segments starting in those rows (their second pixel may lie below)
    assert len(pixel_segments(skeleton, slice(0, 2))) == 3


def test_pixel_segments_drop_a_diagonal_shortcut_of_an_orthogonal_corner():
    from geotile.lines import pixel_segments

    skeleton = np.zeros((3, 3), bool)
    skeleton[0, 0] = skeleton[0, 1] = skeleton[1, 1] = True  # an L: no (0,0)-(1,1) edge
    pairs = {tuple(map(tuple, s)) for s in pixel_segments(skeleton, slice(0, 3)).tolist()}
    assert pairs == {((0, 0), (0, 1)), ((0, 1), (1, 1))}


def test_prune_removes_short_spurs_and_joins_what_remains():
    from geotile.lines import prune

    road = [shapely.LineString([(0, 0), (10, 0)]), shapely.LineString([(10, 0), (15, 0)]),
            shapely.LineString([(15, 0), (20, 0)])]
    spur = shapely.LineString([(10, 0), (10, 2)])
    side = shapely.LineString([(15, 0), (15, 8)])
    specks = shapely.LineString([(30, 30), (31, 30)])
    lines = np.array([*road, spur, side, specks], dtype=object)
    kept = prune(lines, 3.0)
    # the spur and the speck go; the road is cut only where the long side road meets it
    assert sorted(round(g.length, 6) for g in kept) == [5.0, 8.0, 15.0]
    assert shapely.union_all(kept).equals(shapely.union_all([*road, side]))
    assert len(prune(lines, 0.5)) == 6  # all longer than 0.5: nothing goes


def probability_scene(make_raster, name="roads.tif", lines=None, size=200, **kwargs):
    """A float32 road probability raster (0.9 on 4 m wide roads, 0.05 elsewhere)."""
    from rasterio.features import rasterize

    transform = from_origin(X0, Y0, 0.5, 0.5)
    lines = lines or [shapely.LineString([(X0 + 10, Y0 - 50), (X0 + 90, Y0 - 50)])]
    burnt = rasterize([(g.buffer(2), 1) for g in lines],
                      out_shape=(size, size), transform=transform)
    probability = np.where(burnt > 0, 0.9, 0.05).astype(np.float32)
    return make_raster(name, probability, transform=transform, **kwargs), lines


def test_vectorize_lines_gives_the_centreline_with_length_and_score(run_cli, make_raster,
                                                                      tmp_path):
    raster, (truth,) = probability_scene(make_raster)
    out = tmp_path / "lines.gpkg"
    result = run_cli("vectorize", raster, "-o", out, "--lines")
    assert result.exit_code == 0, result.output
    assert "1 line," in result.stdout
    frame = gpd.read_file(out)
    assert list(frame.columns) == ["class_id", "class", "length_m", "score", "source",
                                   "geometry"]
    assert frame.crs.to_string() == UTM_CRS  # .gpkg: the raster's CRS
    result = run_cli("vectorize", raster, "-o", tmp_path / "lines.csv", "--lines")
    assert result.exit_code == 0, result.output  # SpaceNet's road CSV: test_spacenet_roads
    assert (tmp_path / "lines.csv").read_text().startswith("ImageId,WKT_Pix,length_m\n")
    line = frame.geometry.iloc[0]
    assert line.geom_type == "LineString"
    assert frame["score"].iloc[0] == pytest.approx(0.9)
    assert abs(frame["length_m"].iloc[0] - truth.length) < 1.5  # pixel centres
    assert line.hausdorff_distance(truth) < 1.0
    assert frame["source"].iloc[0] == "roads.tif" and frame["class"].iloc[0] == "road"


@pytest.mark.parametrize("edge", ["top", "right"])
def test_a_road_along_the_rasters_edge_is_kept(make_raster, tmp_path, edge):
    """A road hugging the outer edge (cut along its length by the tile) gives its line on
    the edge pixels, and a T junction on it both arms; the edge road vanished before."""
    from geotile.lines import LineOptions, vectorize_lines

    probability = np.full((200, 200), 0.05, np.float32)
    if edge == "top":
        probability[0:6, :] = 0.9
        probability[:, 96:104] = 0.9  # a stem from the edge road down to the far edge
    else:
        probability[:, 194:] = 0.9
        probability[96:104, :] = 0.9
    raster = make_raster("roads.tif", probability, transform=from_origin(X0, Y0, 0.5, 0.5))
    vectorize_lines([raster], tmp_path / "l.gpkg", options=LineOptions())
    frame = gpd.read_file(tmp_path / "l.gpkg")
    assert frame.length.sum() == pytest.approx(200, abs=3)  # 100 m edge road + 100 m stem
    edge_line = shapely.LineString([(X0, Y0 - 1.25), (X0 + 100, Y0 - 1.25)]) if edge == "top" \
        else shapely.LineString([(X0 + 98.75, Y0), (X0 + 98.75, Y0 - 100)])
    assert union_of(frame).buffer(1.5).contains(edge_line.interpolate(0.5, normalized=True))


def test_vectorize_lines_geojson_is_lonlat_and_threshold_applies(run_cli, make_raster,
                                                                  tmp_path):
    raster, _ = probability_scene(make_raster)
    out = tmp_path / "lines.geojson"
    result = run_cli("vectorize", raster, "-o", out, "--lines", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["features"] == 1 and summary["crs"] == "EPSG:4326"
    assert gpd.read_file(out).crs.to_epsg() == 4326
    strict = tmp_path / "none.gpkg"
    result = run_cli("vectorize", raster, "-o", strict, "--lines", "--threshold", 0.95)
    assert result.exit_code == 0, result.output
    assert len(gpd.read_file(strict)) == 0


def test_lines_and_polygon_options_are_a_usage_error(run_cli, make_raster, tmp_path):
    raster, _ = probability_scene(make_raster)
    result = run_cli("vectorize", raster, "-o", tmp_path / "x.gpkg", "--lines",
                     "--regularize")
    assert result.exit_code == 2 and "--lines" in result.stderr


def test_band_seams_leave_no_trace(make_raster, tmp_path):
    from geotile import lines as module

    roads = [shapely.LineString([(X0 + 10, Y0 - 10), (X0 + 90, Y0 - 90)]),
             shapely.LineString([(X0 + 50, Y0 - 5), (X0 + 50, Y0 - 95)]),
             shapely.LineString([(X0 + 5, Y0 - 31.6), (X0 + 95, Y0 - 31.6)])]
    raster, _ = probability_scene(make_raster, lines=roads)
    whole = module.vectorize_lines(raster, tmp_path / "whole.gpkg")
    # seams every 8 m, a road along one
    banded = module.vectorize_lines(raster, tmp_path / "banded.gpkg",
                                    options=module.LineOptions(halo=40, band_rows=16))
    assert banded["features"] == whole["features"] >= 9  # 3 roads, 3 crossings
    a, b = gpd.read_file(tmp_path / "whole.gpkg"), gpd.read_file(tmp_path / "banded.gpkg")
    assert union_of(a.geometry).equals(union_of(b.geometry))


@pytest.mark.parametrize("degrees", [0, 30, 45, 80])
def test_lines_are_joined_across_adjacent_rasters(make_raster, tmp_path, degrees):
    from geotile.lines import vectorize_lines

    a = np.radians(degrees)
    centre = (X0 + 50, Y0 - 50)
    road = shapely.LineString([(centre[0] - 45 * np.cos(a), centre[1] - 45 * np.sin(a)),
                               (centre[0] + 45 * np.cos(a), centre[1] + 45 * np.sin(a))])
    raster, _ = probability_scene(make_raster, lines=[road])
    with rasterio.open(raster) as src:
        array, transform = src.read(1), src.transform
    left = make_raster("left.tif", array[:, :100], transform=transform)
    right = make_raster("right.tif", array[:, 100:],
                        transform=transform * transform.translation(100, 0))
    summary = vectorize_lines([left, right], tmp_path / "joined.gpkg")
    assert summary["features"] == 1
    line = gpd.read_file(tmp_path / "joined.gpkg").geometry.iloc[0]
    assert line.hausdorff_distance(road) < 1.0


def test_a_mosaic_of_tiles_gives_the_lines_of_the_whole(make_raster, tmp_path):
    from geotile.lines import vectorize_lines

    roads = [shapely.LineString([(X0 + 10, Y0 - 10), (X0 + 90, Y0 - 90)]),
             shapely.LineString([(X0 + 50, Y0 - 5), (X0 + 50, Y0 - 95)]),
             shapely.LineString([(X0 + 5, Y0 - 31.6), (X0 + 95, Y0 - 31.6)])]
    raster, _ = probability_scene(make_raster, lines=roads)
    whole = vectorize_lines(raster, tmp_path / "whole.gpkg")
    with rasterio.open(raster) as src:
        array, transform = src.read(1), src.transform
    tiles = [make_raster(f"tile_{r}_{c}.tif", array[r:r + 100, c:c + 100],
                         transform=transform * transform.translation(c, r))
             for r in (100, 0) for c in (100, 0)]  # any order
    mosaic = vectorize_lines(tiles, tmp_path / "mosaic.gpkg")
    assert mosaic["features"] == whole["features"]
    a, b = gpd.read_file(tmp_path / "whole.gpkg"), gpd.read_file(tmp_path / "mosaic.gpkg")
    assert union_of(a.geometry).hausdorff_distance(union_of(b.geometry)) < 1e-6
    assert sorted(a["length_m"]) == pytest.approx(sorted(b["length_m"]))


# ----------------------------------------------------------------------------- line metrics


def test_line_scores_are_length_weighted_within_the_buffer():
    from geotile.line_metrics import line_scores

    truth = [shapely.LineString([(0, 0), (100, 0)])]
    near = [shapely.LineString([(0, 1.5), (100, 1.5)])]
    assert line_scores(near, truth, 2.0).as_dict()["precision"] == 1.0
    far = line_scores([shapely.LineString([(0, 3), (100, 3)])], truth, 2.0)
    assert far.precision == far.recall == far.f1 == 0.0
    # half of the prediction runs beyond the truth's end, and misses half of the truth
    scores = line_scores([shapely.LineString([(50, 0), (150, 0)])], truth, 2.0)
    assert scores.precision == pytest.approx(52 / 100)  # 50..102 lies within 2 m
    assert scores.recall == pytest.approx(52 / 100)  # 48..100
    assert scores.f1 == pytest.approx(0.52)
    empty = line_scores([], truth, 2.0)
    assert (empty.precision, empty.recall, empty.predictions) == (0.0, 0.0, 0)


def test_line_scores_give_wiedemanns_quality_of_the_lengths(run_cli, tmp_path):
    """Besides correctness (precision) and completeness (recall), road extraction reports
    Wiedemann's quality, TP / (TP + FP + FN) of the lengths: the predicted length within the
    buffer over all predicted length plus the true length left unmatched; geotile gave
    precision, recall and F1 alone. Also in --json, its table, and folders' totals (of the
    summed lengths) and rows."""
    from geotile.line_metrics import line_scores

    truth = [shapely.LineString([(0, 0), (100, 0)])]
    # 50..150 along the truth (52 m within 2 m each way) and a 50 m stray 30 m off
    pred = [shapely.LineString([(50, 0), (150, 0)]), shapely.LineString([(0, 30), (50, 30)])]
    scores = line_scores(pred, truth, 2.0)
    matched_pred, fp, fn = 52.0, 150.0 - 52.0, 100.0 - 52.0
    assert scores.quality == pytest.approx(matched_pred / (matched_pred + fp + fn))
    assert scores.as_dict()["quality"] == pytest.approx(52 / 198, abs=1e-6)
    assert line_scores(truth, truth, 2.0).quality == 1.0
    assert line_scores([], truth, 2.0).quality == 0.0
    assert line_scores(pred, [], 2.0).quality == 0.0
    # files, and a folder of two pairs: the total from the summed lengths
    for folder in ("p", "t"):
        (tmp_path / folder).mkdir()
    shift = [shapely.affinity.translate(g, X0, Y0) for g in pred]
    write_lines(tmp_path / "p" / "a.gpkg", shift)
    write_lines(tmp_path / "t" / "a.gpkg", [shapely.affinity.translate(truth[0], X0, Y0)])
    write_lines(tmp_path / "p" / "b.gpkg", [shapely.LineString([(X0, Y0), (X0 + 40, Y0)])])
    write_lines(tmp_path / "t" / "b.gpkg", [shapely.LineString([(X0, Y0), (X0 + 40, Y0)])])
    result = run_cli("evaluate", tmp_path / "p" / "a.gpkg", tmp_path / "t" / "a.gpkg", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["quality"] == pytest.approx(52 / 198, abs=1e-6)
    result = run_cli("evaluate", tmp_path / "p" / "a.gpkg", tmp_path / "t" / "a.gpkg")
    assert f"quality {52 / 198:.4f}" in result.stdout
    result = run_cli("evaluate", tmp_path / "p", tmp_path / "t", "--json")
    assert result.exit_code == 0, result.output
    folders = json.loads(result.stdout)
    assert folders["quality"] == pytest.approx((52 + 40) / (198 + 40), abs=1e-6)
    assert folders["per_image"]["b"]["quality"] == 1.0
    assert folders["per_image"]["a"]["quality"] == pytest.approx(52 / 198, abs=1e-6)
    assert "quality" in run_cli("evaluate", tmp_path / "p", tmp_path / "t").stdout


def test_lines_without_a_crs_are_scored_in_their_own_units_and_say_so(run_cli, tmp_path):
    """Two line files declaring no CRS (vectorize --lines of an image without georeference:
    pixel coordinates) were scored in their coordinates' units, --buffer 2 meaning 2 pixels,
    but printed as 'length within 2 m' and '85.0 m' (--json: no word of it); they are still
    scored in those units (a tolerance in pixels), and the output and a warning say so."""
    truth = tmp_path / "truth.gpkg"
    gpd.GeoDataFrame(geometry=[shapely.LineString([(7.5, 50.5), (92.5, 50.5)])]).to_file(
        truth)
    pred = tmp_path / "pred.gpkg"
    gpd.GeoDataFrame(geometry=[shapely.LineString([(7.5, 51.5), (92.5, 51.5)])]).to_file(pred)
    result = run_cli("evaluate", pred, truth, "--buffer", 2, "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert (scores["precision"], scores["recall"], scores["true_length_m"]) == (1, 1, 85)
    assert scores["units"] == "coordinates"
    assert "declare no CRS" in result.stderr and "not metres" in result.stderr
    assert "pred.gpkg" in result.stderr
    narrow = run_cli("evaluate", pred, truth, "--buffer", 0.5)
    assert "length within 0.5 coordinate units (no CRS)" in narrow.stdout
    assert "(85.0 units)" in narrow.stdout and " m)" not in narrow.stdout
    assert "precision 0.0000" in narrow.stdout
    for folder, path in (("p", pred), ("t", truth)):  # folders of such files: their total
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "a.gpkg").write_bytes(path.read_bytes())
    folders = run_cli("evaluate", tmp_path / "p", tmp_path / "t")
    assert folders.exit_code == 0, folders.output
    assert "coordinate units (no CRS)" in folders.stdout and "pred. units" in folders.stdout
    assert json.loads(run_cli("evaluate", tmp_path / "p", tmp_path / "t", "--json").stdout)[
        "units"] == "coordinates"
    # in a CRS: ground metres, said so
    metric = write_lines(tmp_path / "metric.gpkg",
                         [shapely.LineString([(X0, Y0), (X0 + 85, Y0)])])
    result = run_cli("evaluate", metric, metric, "--json")
    assert json.loads(result.stdout)["units"] == "m"
    assert "no CRS" not in result.stderr


def test_line_scores_of_a_city_network_cut_each_line_by_its_neighbours_buffers_alone(
        monkeypatch):
    """A road grid of 2 x 22 streets of 21 blocks (924 segments): each line is intersected
    with the buffers near it, never with their union (a polygon of the whole network's
    size, which made 10,000 segments take 145 s); overlapping buffers count a stretch once,
    a curve and a partial cover keep their exact lengths."""
    from geotile.line_metrics import line_scores

    steps = np.arange(0, 421, 20.0)
    streets = [shapely.LineString([(x, y), (x + 20, y)]) for y in steps for x in steps[:-1]]
    streets += [shapely.LineString([(x, y), (x, y + 20)]) for x in steps for y in steps[:-1]]
    # the prediction: each street 1 m off, twice (overlapping buffers), one 50 m stray
    shifted = [shapely.affinity.translate(s, 1.0, 1.0) for s in streets]
    stray = shapely.LineString([(500, 500), (550, 500)])
    sizes = []
    intersection = shapely.intersection

    def spy(a, b, **kwargs):
        sizes.append(int(np.max(shapely.get_num_coordinates(b), initial=0)))
        return intersection(a, b, **kwargs)

    monkeypatch.setattr(shapely, "intersection", spy)
    scores = line_scores([*shifted, *shifted, stray], streets, 2.0)
    assert max(sizes, default=0) < 100  # no polygon of the network's union
    assert scores.truths == 924 and scores.predictions == 1849
    assert scores.true_length == pytest.approx(18480, abs=1e-6)
    assert scores.predicted_length == pytest.approx(18480 + 50, abs=1e-6)  # copies once
    assert scores.matched_predicted_length == pytest.approx(18480, abs=1e-6)  # not the stray
    assert scores.matched_true_length == pytest.approx(18480, abs=1e-6)
    monkeypatch.undo()
    half = line_scores([shapely.LineString([(0, 1), (10, 1), (10, 11)]),
                        shapely.LineString([(0, 1.5), (4, 1.5)])],
                       [shapely.LineString([(0, 0), (20, 0)])], 2.0)
    assert half.matched_predicted_length == pytest.approx(10 + 1 + 4, abs=1e-9)
    assert half.matched_true_length == pytest.approx(10 + 3 ** 0.5, abs=1e-9)  # round cap


def test_line_scores_measure_the_exact_distance_not_a_polygon_of_the_buffer():
    """A prediction running 1.995 m outside a road's bend, within 2 m of it everywhere,
    scored precision 0.9894 at --buffer 2 (2.15 m of 203.1 m 'outside'): the buffer was a
    polygon whose round join is cut by chords 1.9904 m from the corner; a line crossing 1.9 m
    before a road's end got 1.186 m of its 1.249 m within 2 m. Lengths within the buffer are
    now those within the exact distance."""
    from geotile.line_metrics import line_scores

    road = shapely.LineString([(X0, Y0), (X0 + 100, Y0), (X0 + 100, Y0 + 100)])
    outside = road.offset_curve(-1.995, quad_segs=64)  # its arc 1.995 m from the corner
    assert shapely.distance(shapely.points(shapely.get_coordinates(outside.segmentize(0.01))),
                            road).max() < 2.0
    scores = line_scores([outside], [road], 2.0)
    assert scores.precision == pytest.approx(1.0, abs=1e-9)
    assert scores.matched_predicted_length == pytest.approx(outside.length, abs=1e-6)
    # across the road's end, 1.9 m before it: within 2 m along 2 * sqrt(2^2 - 1.9^2) = 1.249 m
    grazing = shapely.LineString([(X0 - 1.9, Y0 - 50), (X0 - 1.9, Y0 + 50)])
    end = line_scores([grazing], [road], 2.0)
    assert end.matched_predicted_length == pytest.approx(2 * (4 - 1.9 ** 2) ** 0.5, abs=1e-9)


def test_line_scores_refuse_polygons_and_points_as_evaluate_lines_does():
    """A polygon scored precision 2.47 (its perimeter pieces within the buffer, 986.6 m of
    400 m) and a point "matched" 2 m of truth; geometries other than lines are refused in
    one line, as evaluate_lines refuses such files; a stray point beside lines is left out
    with a warning."""
    from geotile.errors import GeotileWarning, InputError
    from geotile.line_metrics import line_scores

    truth = [shapely.LineString([(X0 + 50 * i, Y0), (X0 + 50 * i, Y0 - 100)]) for i in range(3)]
    square = shapely.box(X0, Y0 - 100, X0 + 100, Y0)
    cases = [([square], truth, "predicted", "a Polygon"),
             ([truth[0], shapely.MultiPolygon([square])], truth, "predicted", "a MultiPolygon"),
             ([shapely.Point(X0, Y0)], truth, "predicted", "only points"),
             (truth, [square, truth[1]], "true", "a Polygon")]
    for pred, true, side, found in cases:
        with pytest.raises(InputError) as caught:
            line_scores(pred, true, 2.0)
        message = str(caught.value)
        assert "\n" not in message
        assert message.startswith(f"line_scores: the {side} geometries hold {found}, not lines")
    with pytest.warns(GeotileWarning, match="1 predicted geometry is a point, not a line"):
        scores = line_scores([truth[0], shapely.Point(X0 + 500, Y0)], truth, 2.0)
    assert (scores.precision, scores.predicted_length) == (1.0, 100.0)
    assert scores.recall == pytest.approx(1 / 3)


def test_line_scores_measure_series_in_ground_metres_whatever_their_crs():
    """Lines 50 m apart given in EPSG:4326 scored F1 1.0 (the 2 m buffer read as 2 degrees)
    with lengths of 0.015 "m", and 0 in mixed CRSs; GeoSeries are measured in metres in
    their UTM zone, the prediction reprojected to the truth's CRS, as evaluate does files."""
    from geotile.errors import InputError
    from geotile.line_metrics import line_scores

    truth = gpd.GeoSeries([shapely.LineString([(X0, Y0), (X0 + 400, Y0)]),
                           shapely.LineString([(X0, Y0 - 200), (X0 + 300, Y0 - 300)])],
                          crs=UTM_CRS)
    near, far = truth.translate(0, 1.5), truth.translate(0, 50)
    for shifted, precision in ((near, 1.0), (far, 0.0)):
        expected = line_scores(shifted, truth, 2.0)
        assert expected.precision == precision
        for pred, true in ((shifted.to_crs(4326), truth.to_crs(4326)),
                           (shifted.to_crs(4326), truth), (shifted.to_crs(3857), truth),
                           (list(shifted.to_crs(4326)), truth.to_crs(4326).values)):
            scores = line_scores(pred, true, 2.0)
            assert scores.precision == precision and scores.recall == precision
            assert scores.predicted_length == pytest.approx(truth.length.sum(), rel=1e-3)
            assert scores.true_length == pytest.approx(truth.length.sum(), rel=1e-3)
    with pytest.raises(InputError, match="the predicted geometries carry no CRS"):
        line_scores(without_crs(near), truth)


def test_a_road_drawn_twice_is_measured_once_whatever_the_files_crs(run_cli, tmp_path):
    """A 300 m road drawn twice (every 5 m and as two points) measured 300 m in UTM but
    520 m in EPSG:4326 and 560 m in EPSG:3857 (the reprojected copies no longer identical),
    and two copies 1 mm apart 600 m; stretches within 1 % of --buffer of each other (2 cm)
    are measured once in any CRS, roads a lane (3 m) apart stay two."""
    from geotile.line_metrics import line_scores

    road = shapely.LineString([(X0, Y0), (X0 + 300, Y0)])
    off = shapely.LineString([(X0 + 20, Y0 - 100), (X0 + 80, Y0 - 140)])  # 72.1 m, no match
    truth = gpd.GeoSeries([road], crs=UTM_CRS)
    cases = {"twice": ([shapely.segmentize(road, 5), road, off], 300),
             "1 mm apart": ([road, shapely.affinity.translate(road, 0.3, 0.001), off], 300.3),
             "overlapping tiles": ([shapely.segmentize(shapely.LineString(
                 [(X0, Y0), (X0 + 200, Y0)]), 0.5), shapely.segmentize(shapely.LineString(
                     [(X0 + 150, Y0), (X0 + 300, Y0)]), 0.5), off], 300)}
    for name, (lines, matched) in cases.items():
        expected = matched + off.length
        series = gpd.GeoSeries(lines, crs=UTM_CRS)
        for crs in (UTM_CRS, "EPSG:4326", "EPSG:3857"):
            scores = line_scores(series.to_crs(crs), truth, 2.0)
            assert scores.predicted_length == pytest.approx(expected, abs=0.01), (name, crs)
            assert scores.precision == pytest.approx(matched / expected, abs=1e-4)
            assert scores.recall == pytest.approx(1.0)
        pred = write_lines(tmp_path / "pred.geojson", series.to_crs(4326), crs="EPSG:4326")
        result = run_cli("evaluate", pred, write_lines(tmp_path / "t.gpkg", truth), "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["predicted_length_m"] == pytest.approx(expected,
                                                                               abs=0.01)
    lane = gpd.GeoSeries([road, shapely.affinity.translate(road, 0, 3)], crs=UTM_CRS)
    for crs in (UTM_CRS, "EPSG:4326"):
        scores = line_scores(lane.to_crs(crs), truth, 2.0)
        assert scores.predicted_length == pytest.approx(600, abs=0.01)
        assert scores.precision == pytest.approx(0.5, abs=1e-4)
    # crossings and T-junctions keep their exact lengths
    network = [road, shapely.LineString([(X0 + 150, Y0 - 50), (X0 + 150, Y0 + 50)]),
               shapely.LineString([(X0 + 100, Y0), (X0 + 100, Y0 - 40)])]
    assert line_scores(network, network).true_length == pytest.approx(440, abs=1e-6)
    help_text = run_cli("evaluate", "--help").stdout
    assert "measured once" in " ".join(help_text.split())


def test_a_stray_point_among_lines_is_left_out_with_a_warning(run_cli, tmp_path):
    roads = [shapely.LineString([(X0, Y0 - 10), (X0 + 100, Y0 - 10)])]
    pred = write_lines(tmp_path / "pred.geojson", [*roads, shapely.Point(X0 + 5, Y0 - 50)])
    truth = write_lines(tmp_path / "truth.gpkg", roads)
    result = run_cli("evaluate", pred, truth, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["f1"] == 1.0
    assert "pred.geojson: 1 feature is a point, not a line" in result.stderr


def test_lines_in_geometry_collections_are_scored_like_other_lines(run_cli, tmp_path):
    """Truth written by `ogr2ogr -nlt GEOMETRYCOLLECTION` (each road a collection of lines),
    which make-masks burns as roads, was refused as holding no lines; a collection holding a
    polygon is still not a line."""
    roads = [shapely.LineString([(X0, Y0), (X0 + 100, Y0)]),
             shapely.MultiLineString([[(X0, Y0 - 50), (X0 + 100, Y0 - 50)],
                                      [(X0, Y0 - 80), (X0 + 40, Y0 - 80)]])]
    pred = write_lines(tmp_path / "pred.gpkg", [roads[0]])
    collected = [shapely.GeometryCollection([r]) for r in roads]
    for name in ("gc.gpkg", "gc.geojson"):
        truth = write_lines(tmp_path / name, collected)
        for args, recall in (((pred, truth), 100 / 240), ((truth, pred), 1.0)):
            result = run_cli("evaluate", *args, "--json")
            assert result.exit_code == 0, result.output
            scores = json.loads(result.stdout)
            assert scores["mode"] == "line" and scores["recall"] == pytest.approx(recall)
            assert scores["true_length_m" if args[1] == truth else "predicted_length_m"] == \
                pytest.approx(240.0)
    mixed = write_lines(tmp_path / "mixed.geojson", [shapely.GeometryCollection(
        [roads[0], shapely.box(X0, Y0 - 10, X0 + 10, Y0)])])
    result = run_cli("evaluate", pred, mixed)
    assert result.exit_code == 1 and "holds lines but" in result.stderr


def test_evaluate_two_line_files_reports_precision_recall_f1(run_cli, tmp_path):
    truth = write_lines(tmp_path / "truth.gpkg", [
        shapely.LineString([(X0, Y0), (X0 + 100, Y0)]),
        shapely.LineString([(X0, Y0 - 50), (X0 + 100, Y0 - 50)])])
    found = gpd.GeoDataFrame(geometry=[shapely.LineString([(X0, Y0 + 1), (X0 + 100, Y0 + 1)])],
                             crs=UTM_CRS).to_crs(4326)
    found.to_file(tmp_path / "found.geojson")
    result = run_cli("evaluate", tmp_path / "found.geojson", truth, "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["mode"] == "line" and scores["buffer_m"] == 2.0
    assert scores["precision"] == pytest.approx(1.0, abs=1e-4)
    assert scores["recall"] == pytest.approx(0.5, abs=1e-4)
    assert scores["f1"] == pytest.approx(2 / 3, abs=1e-4)
    assert scores["true_length_m"] == pytest.approx(200.0)
    assert (scores["predictions"], scores["truths"]) == (1, 2)
    narrow = run_cli("evaluate", tmp_path / "found.geojson", truth, "--buffer", 0.5)
    assert narrow.exit_code == 0, narrow.output
    assert "Lines (length within 0.5 m)" in narrow.stdout
    assert "precision 0.0000  recall 0.0000" in narrow.stdout


def test_evaluate_tells_lines_from_polygons_once_per_file(run_cli, tmp_path, monkeypatch):
    """Whether inputs hold lines (a read of a whole GeoParquet or mixed GeoJSON) is asked
    once per file, by the CLI; the scorer does not ask again: two files and two folders."""
    import geotile.line_metrics

    road = shapely.LineString([(X0, Y0), (X0 + 100, Y0)])
    for folder in ("pred", "truth"):
        (tmp_path / folder).mkdir()
        for name in ("a", "b"):
            write_lines(tmp_path / folder / f"{name}.gpkg", [road])
    asked = []
    is_line_file = geotile.line_metrics.is_line_file

    def counted(path, *args, **kwargs):
        asked.append(Path(path).relative_to(tmp_path).as_posix())
        return is_line_file(path, *args, **kwargs)

    monkeypatch.setattr(geotile.line_metrics, "is_line_file", counted)
    for inputs, files in (
            (("pred/a.gpkg", "truth/a.gpkg"), ["pred/a.gpkg", "truth/a.gpkg"]),
            (("pred", "truth"), ["pred/a.gpkg", "pred/b.gpkg", "truth/a.gpkg",
                                 "truth/b.gpkg"])):
        asked.clear()
        result = run_cli("evaluate", *(tmp_path / i for i in inputs), "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["mode"] == "line"
        assert sorted(asked) == files


def test_lines_against_polygons_is_a_one_line_error(run_cli, tmp_path):
    lines = write_lines(tmp_path / "lines.geojson",
                        [shapely.LineString([(X0, Y0), (X0 + 10, Y0)])])
    polygons = write_lines(tmp_path / "polygons.geojson",
                           [shapely.box(X0, Y0 - 10, X0 + 10, Y0)])
    result = run_cli("evaluate", lines, polygons)
    assert result.exit_code == 1
    assert "holds lines but" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_lines_of_different_ground_are_warned_about(tmp_path, caplog):
    """Predicted lines written in EPSG:4326 as (lat, lon) scored 0 with no word (the
    polygon scores warn); lines a metre beside the truth's (extents apart by less than
    --buffer) are not warned of."""
    from geotile.line_metrics import evaluate_lines

    road = shapely.LineString([(X0, Y0), (X0 + 100, Y0)])
    truth = write_lines(tmp_path / "t.geojson", [road])
    degrees = gpd.GeoSeries([road], crs=UTM_CRS).to_crs(4326)
    swapped = write_lines(tmp_path / "swapped.geojson",
                          [shapely.transform(degrees.iloc[0], lambda xy: xy[:, ::-1])],
                          crs="EPSG:4326")
    with caplog.at_level("WARNING", logger="geotile"):
        scores = evaluate_lines(swapped, truth)
    assert scores.precision == 0.0 and scores.recall == 0.0
    assert "swapped.geojson and" in caplog.text and "cover different ground" in caplog.text
    caplog.clear()
    beside = write_lines(tmp_path / "beside.geojson",
                         [shapely.LineString([(X0, Y0 + 1), (X0 + 100, Y0 + 1)])])
    with caplog.at_level("WARNING", logger="geotile"):
        assert evaluate_lines(beside, truth).recall == pytest.approx(1.0)
    assert "cover different ground" not in caplog.text



def test_a_side_of_empty_lines_holds_no_lines_not_other_ground(tmp_path, caplog):
    """A road file whose features are LINESTRING EMPTY (SpaceNet's tiles without roads) was
    said to 'cover different ground ... CRS swapped?'; it holds no lines, like an empty file."""
    from geotile.line_metrics import evaluate_lines

    road = write_lines(tmp_path / "road.gpkg", [shapely.LineString([(X0, Y0), (X0 + 100, Y0)])])
    empty = tmp_path / "empty.geojson"
    empty.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"road_id": 1},
         "geometry": {"type": "LineString", "coordinates": []}}]}))
    for pred, truth, lengths in ((road, empty, (100.0, 0.0)), (empty, road, (0.0, 100.0))):
        caplog.clear()
        with caplog.at_level("INFO", logger="geotile"):
            scores = evaluate_lines(pred, truth)
        assert (scores.precision, scores.recall) == (0.0, 0.0)
        assert (scores.predicted_length, scores.true_length) == pytest.approx(lengths)
        assert "cover different ground" not in caplog.text
        assert "empty.geojson holds no lines" in caplog.text


def test_lonlat_road_files_without_lines_on_either_side_score_zero(run_cli, tmp_path):
    """Two EPSG:4326 road files holding no line (LINESTRING EMPTY, no features) crashed
    with pyproj's 'NaN or None values are not allowed' (no UTM zone for nothing), also in a
    folder where one tile has no roads; they score zeros and the folder's totals are the
    other tiles'."""
    empty_line = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"road_id": 1},
         "geometry": {"type": "LineString", "coordinates": []}}]}
    for folder in ("pred", "truth"):
        (tmp_path / folder).mkdir()
    (tmp_path / "pred" / "b.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": []}))
    (tmp_path / "truth" / "b.geojson").write_text(json.dumps(empty_line))
    (tmp_path / "both.geojson").write_text(json.dumps(empty_line))
    road = gpd.GeoSeries([shapely.LineString([(X0, Y0), (X0 + 100, Y0)])], crs=UTM_CRS)
    write_lines(tmp_path / "truth" / "a.geojson", road.to_crs(4326), crs="EPSG:4326")
    write_lines(tmp_path / "pred" / "a.geojson", road.translate(50, 1).to_crs(4326),
                crs="EPSG:4326")
    for pred, truth in ((tmp_path / "both.geojson", tmp_path / "both.geojson"),
                        (tmp_path / "pred" / "b.geojson", tmp_path / "truth" / "b.geojson")):
        result = run_cli("evaluate", pred, truth, "--buffer", 2, "--json")
        assert result.exit_code == 0, result.output
        scores = json.loads(result.stdout)
        assert scores["mode"] == "line"
        assert (scores["precision"], scores["recall"], scores["f1"]) == (0.0, 0.0, 0.0)
        assert (scores["predicted_length_m"], scores["true_length_m"]) == (0.0, 0.0)
    result = run_cli("evaluate", tmp_path / "pred", tmp_path / "truth", "--buffer", 2, "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["images"] == 2 and scores["per_image"]["b"]["f1"] == 0.0
    assert scores["true_length_m"] == pytest.approx(100.0, abs=0.1)
    assert scores["predicted_length_m"] == pytest.approx(100.0, abs=0.1)
    assert scores["precision"] == pytest.approx(52 / 100, abs=0.01)
    assert scores["recall"] == pytest.approx(52 / 100, abs=0.01)


def test_empty_road_files_with_buffer_are_scored_as_lines(run_cli, make_raster, tmp_path):
    """Two road files without features (what vectorize --lines writes for a tile without
    roads, an empty tile's truth) with --buffer were refused with exit 2 as 'polygons'
    (an empty layer declaring LineString was not taken as lines, nor --buffer as saying
    so); they score zeros as lines, also in folders; without --buffer two empty files of
    no declared type are still scored as objects."""
    result = run_cli("vectorize", make_raster("none.tif", np.zeros((40, 40), np.uint8)),
                     "-o", tmp_path / "pred.gpkg", "--lines")
    assert result.exit_code == 0, result.output
    declared = tmp_path / "declared.gpkg"
    gpd.GeoDataFrame(geometry=[], crs=UTM_CRS).to_file(declared, geometry_type="LineString")
    undeclared = tmp_path / "undeclared.gpkg"
    gpd.GeoDataFrame(geometry=[], crs=UTM_CRS).to_file(undeclared)
    for folder in ("p", "t"):
        (tmp_path / folder).mkdir()
        gpd.GeoDataFrame(geometry=[], crs=UTM_CRS).to_file(tmp_path / folder / "a.gpkg")
    for pred, truth, declares in ((tmp_path / "pred.gpkg", declared, True),
                                  (declared, declared, True),
                                  (undeclared, undeclared, False),
                                  (tmp_path / "p", tmp_path / "t", False)):
        result = run_cli("evaluate", pred, truth, "--buffer", 2, "--json")
        assert result.exit_code == 0, result.output
        scores = json.loads(result.stdout)
        assert scores["mode"] == "line", scores
        assert (scores["precision"], scores["recall"], scores["true_length_m"]) == (0, 0, 0)
        if declares:  # layers of lines: line scores without --buffer too
            result = run_cli("evaluate", pred, truth, "--json")
            assert json.loads(result.stdout)["mode"] == "line"
    result = run_cli("evaluate", undeclared, undeclared, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["mode"] == "object"


def test_a_damaged_file_beside_lines_is_said_to_be_unreadable(run_cli, tmp_path):
    """A 0-byte GeoJSON, a cut GeoPackage or a text .parquet next to a file of lines was
    said to hold no lines (sending the user to vectorize --lines); it is unreadable."""
    from .conftest import assert_one_line_error

    lines = write_lines(tmp_path / "lines.geojson",
                        [shapely.LineString([(X0, Y0), (X0 + 10, Y0)])])
    good = write_lines(tmp_path / "good.gpkg", [shapely.LineString([(X0, Y0), (X0 + 9, Y0)])])
    (tmp_path / "zero.geojson").write_bytes(b"")
    (tmp_path / "cut.gpkg").write_bytes(good.read_bytes()[:500])
    (tmp_path / "bad.parquet").write_text("garbage\n")
    for name in ("zero.geojson", "cut.gpkg", "bad.parquet"):
        for args in ((tmp_path / name, lines), (lines, tmp_path / name)):
            result = run_cli("evaluate", *args)
            assert "holds lines" not in result.stderr, result.stderr
            assert_one_line_error(result, name)


# ----------------------------------------------------------------------------- end to end


def road_network(x0, y0, size_m):
    """A grid of streets, a diagonal avenue and two curved roads, inside a square."""
    s = size_m
    roads = []
    for f in (0.15, 0.5, 0.85):
        roads.append(shapely.LineString([(x0 + 0.05 * s, y0 - f * s), (x0 + 0.95 * s, y0 - f * s)]))
        roads.append(shapely.LineString([(x0 + f * s, y0 - 0.05 * s), (x0 + f * s, y0 - 0.95 * s)]))
    roads.append(shapely.LineString([(x0 + 0.15 * s, y0 - 0.15 * s),
                                     (x0 + 0.85 * s, y0 - 0.85 * s)]))
    t = np.linspace(0, np.pi, 60)
    roads.append(shapely.LineString(np.column_stack([x0 + 0.5 * s + 0.3 * s * np.cos(t),
                                                     y0 - 0.5 * s + 0.25 * s * np.sin(t)])))
    t = np.linspace(0, 2 * np.pi, 80)
    roads.append(shapely.LineString(np.column_stack([x0 + 0.05 * s + 0.9 * s * t / (2 * np.pi),
                                                     y0 - 0.7 * s + 0.06 * s * np.sin(t)])))
    return roads


@pytest.mark.parametrize("crs", [UTM_CRS, "EPSG:4326"])
def test_roads_burnt_and_vectorized_back_match_within_2_m(run_cli, make_raster, tmp_path,
                                                          crs):
    size = 400  # px of 0.5 m: 200 m
    if crs == UTM_CRS:
        transform, x0, y0, s = from_origin(X0, Y0, 0.5, 0.5), X0, Y0, 200.0
    else:  # 0.5 m pixels near the equator, as SpaceNet's lon/lat road tiles
        cell = 0.5 / 111_320
        transform, x0, y0, s = from_origin(10.0, 1.0, cell, cell), 10.0, 1.0, size * cell
    image = make_raster("tile.tif", np.zeros((3, size, size), np.uint8), crs=crs,
                        transform=transform)
    truth = write_lines(tmp_path / "roads.geojson", road_network(x0, y0, s), crs=crs)
    mask = tmp_path / "mask.tif"
    result = run_cli("make-masks", truth, image, "-o", mask, "--line-width", 4)
    assert result.exit_code == 0, result.output
    # a blurred copy stands in for a network's probabilities
    from scipy import ndimage

    with rasterio.open(mask) as src:
        probability = ndimage.gaussian_filter(src.read(1).astype(np.float32), 2)
    scores = make_raster("scores.tif", probability, crs=crs, transform=transform)
    for raster in (mask, scores):
        lines = tmp_path / f"{raster.stem}.gpkg"
        result = run_cli("vectorize", raster, "-o", lines, "--lines")
        assert result.exit_code == 0, result.output
        result = run_cli("evaluate", lines, truth, "--json")
        assert result.exit_code == 0, result.output
        metrics = json.loads(result.stdout)
        assert metrics["buffer_m"] == 2.0
        assert metrics["precision"] >= 0.95 and metrics["recall"] >= 0.95, (raster, metrics)


def test_specks_shorter_than_min_length_are_dropped(run_cli, make_raster, tmp_path):
    probability = np.zeros((60, 60), np.float32)
    probability[10:14, 10:16] = 0.8  # a 3 x 2 m speck: its skeleton is about 1 m long
    probability[40:44, 5:55] = 0.8  # a 25 m road
    raster = make_raster("specks.tif", probability)
    result = run_cli("vectorize", raster, "-o", tmp_path / "a.gpkg", "--lines")
    assert result.exit_code == 0, result.output
    assert len(gpd.read_file(tmp_path / "a.gpkg")) == 1
    result = run_cli("vectorize", raster, "-o", tmp_path / "b.gpkg", "--lines",
                     "--min-length", 0)
    assert result.exit_code == 0, result.output
    assert len(gpd.read_file(tmp_path / "b.gpkg")) == 2


@pytest.mark.parametrize("degrees", [60, 70, 110])
def test_no_spur_shorter_than_min_length_comes_out(make_raster, tmp_path, degrees):
    """A side road leaving a road at ``degrees``, its spur about 9.5 m long: pruning
    measured the skeleton's pixel staircase (up to 8 % longer than the line that comes
    out), so --min-length 10 kept it with length_m 9.5; a spur comes out only as long as
    --min-length, and a longer one stays."""
    from rasterio.features import rasterize

    from geotile.lines import LineOptions, vectorize_lines

    transform = from_origin(X0, Y0, 0.5, 0.5)
    a = np.radians(degrees)
    for length in (19.0, 20.0, 20.5, 21.0, 21.5, 30.0):  # px from the road's centre
        side = shapely.LineString([(100, 100), (100 + length * np.cos(a),
                                                100 - length * np.sin(a))])
        burnt = rasterize([(shapely.LineString([(10, 100), (190, 100)]).buffer(4), 1),
                           (side.buffer(2), 1)], out_shape=(200, 200)).astype(np.uint8)
        raster = make_raster("side.tif", burnt, transform=transform)
        vectorize_lines(raster, tmp_path / "side.gpkg", options=LineOptions(min_length=10),
                        overwrite=True)
        frame = gpd.read_file(tmp_path / "side.gpkg")
        assert min(frame["length_m"]) >= 10, (length, list(frame["length_m"]))
        if length == 30.0:
            assert len(frame) == 3, list(frame["length_m"])


def test_lines_of_a_raster_without_crs_are_in_its_units_with_one_warning(make_raster,
                                                                          tmp_path):
    from geotile.errors import GeotileWarning
    from geotile.lines import vectorize_lines

    mask = np.zeros((50, 50), np.uint8)
    mask[20:24, 5:45] = 1
    raster = make_raster("plain.tif", mask, crs=None, transform=from_origin(0, 50, 1, 1))
    with pytest.warns(GeotileWarning, match="no CRS"):
        summary = vectorize_lines(raster, tmp_path / "plain.gpkg")
    frame = gpd.read_file(tmp_path / "plain.gpkg")
    # GDAL < 3.9 writes a GeoPackage layer without CRS as srs_id 0, "Undefined geographic SRS"
    assert summary["crs"] is None and (frame.crs is None
                                       or frame.crs.name == "Undefined geographic SRS")
    assert "score" not in frame.columns  # a class raster has no probabilities
    assert 34 <= frame["length_m"].iloc[0] <= 40


def test_an_empty_prediction_scores_zero_recall(run_cli, make_raster, tmp_path):
    raster, truth = probability_scene(make_raster)
    truth_file = write_lines(tmp_path / "truth.geojson", truth)
    empty = tmp_path / "empty.geojson"
    result = run_cli("vectorize", raster, "-o", empty, "--lines", "--threshold", 0.99)
    assert result.exit_code == 0, result.output
    result = run_cli("evaluate", empty, truth_file, "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert (scores["mode"], scores["recall"], scores["predictions"]) == ("line", 0.0, 0)
    assert scores["true_length_m"] == pytest.approx(80.0)


def test_rasters_on_different_grids_are_joined_at_their_edges(make_raster, tmp_path):
    from geotile.lines import vectorize_lines

    road = shapely.LineString([(X0 + 10, Y0 - 30), (X0 + 90, Y0 - 70)])
    raster, _ = probability_scene(make_raster, lines=[road])
    with rasterio.open(raster) as src:
        array, transform = src.read(1), src.transform
    left = make_raster("left.tif", array[:, :100], transform=transform)
    # half a pixel off the left raster's grid: each is skeletonized on its own
    right = make_raster("right.tif", array[:, 100:],
                        transform=transform * transform.translation(100.5, 0))
    summary = vectorize_lines([left, right], tmp_path / "joined.gpkg")
    assert summary["features"] == 1
    assert summary["sources"] == ["left.tif", "right.tif"]


def test_bumps_on_a_wide_roads_edges_grow_no_spurs(run_cli, make_raster, tmp_path):
    """A 12 m wide road (at 1 m pixels, as a 40 px road at 0.3 m) with 3 px bumps on its
    edges: a skeleton branch runs into each bump, 6-8 m long, longer than --min-length's
    default 3 m but within the road's own half-width and the bump: gone, one centreline
    stays. A real side road, longer than the road is wide, stays."""
    transform = from_origin(X0, Y0, 1, 1)
    mask = np.zeros((100, 300), np.uint8)
    mask[44:56, 10:290] = 1  # the road, rows 44-55
    for col in range(20, 280, 15):
        mask[41:44, col : col + 3] = 1  # bumps above and below
        mask[56:59, col + 7 : col + 10] = 1
    mask[56:95, 150:160] = 1  # a side road, 39 m long and 10 m wide
    raster = make_raster("wide.tif", mask, transform=transform)
    out = tmp_path / "wide.gpkg"
    result = run_cli("vectorize", raster, "-o", out, "--lines")
    assert result.exit_code == 0, result.output
    frame = gpd.read_file(out)
    lengths = sorted(frame.geometry.length)
    assert len(frame) == 3, lengths  # the road cut at the side road, and the side road
    assert 255 < sum(lengths) - lengths[0] < 290 and 30 < lengths[0] < 45


# ----------------------------------------------------------------------------- ground metres

#: Web Mercator at 60 deg N: one CRS unit is half a ground metre
MERCATOR_60N = (1_700_000.0, 8_400_000.0)


def ground_length(line, crs) -> float:
    """Geodesic length in metres (WGS84) of ``line`` in ``crs``, its vertices as given."""
    from pyproj import Geod

    lonlat = gpd.GeoSeries([line], crs=crs).to_crs(4326).iloc[0]
    return Geod(ellps="WGS84").geometry_length(lonlat)


def road_raster(make_raster, name, lines_px, shape, transform, crs, width_px=13):
    """A float32 road probability raster (0.9 on roads ``width_px`` wide, 0.05 elsewhere)
    of lines in pixel coordinates (col, row)."""
    from rasterio.features import rasterize

    burnt = rasterize([(g.buffer(width_px / 2), 1) for g in lines_px], out_shape=shape)
    probability = np.where(burnt > 0, 0.9, 0.05).astype(np.float32)
    return make_raster(name, probability, crs=crs, transform=transform)


def test_length_and_min_length_are_ground_metres_in_web_mercator(make_raster, tmp_path):
    """At 60 deg N a 3857 unit is half a ground metre: length_m was twice the road's, and
    --min-length pruned in Mercator units (a 9 m speck stayed at --min-length 12)."""
    from shapely import affinity

    from geotile.lines import LineOptions, vectorize_lines

    transform = from_origin(*MERCATOR_60N, 0.6, 0.6)
    road = shapely.LineString([(50, 100.5), (550, 100.5)])
    speck = shapely.LineString([(200, 300.5), (224, 300.5)])
    raster = road_raster(make_raster, "merc.tif", [road, speck], (400, 600), transform,
                         "EPSG:3857")
    vectorize_lines([raster], tmp_path / "l.gpkg", options=LineOptions(min_length=12))
    frame = gpd.read_file(tmp_path / "l.gpkg")
    assert len(frame) == 1, frame["length_m"].tolist()  # the speck is about 9 m
    truth = affinity.affine_transform(road, [0.6, 0, 0, -0.6, *MERCATOR_60N])
    expected = ground_length(truth, "EPSG:3857")
    assert expected == pytest.approx(150, rel=0.01)
    assert frame["length_m"].iloc[0] == pytest.approx(expected, rel=0.01)



def _quarter_circle_road(make_raster, transform):
    """A 9 px wide road raster (EPSG:4326, 600 x 600 px on ``transform``) along a quarter
    circle in pixels from the bottom to the left edge (no round caps, which on these
    pixels reach 2.5 m past the curve's ends, and the lines with them), and the curve."""
    angles = np.linspace(-np.pi / 2 - 0.05, 0.05, 80)
    curve = shapely.LineString(np.stack([450 * np.cos(angles),
                                         600 + 450 * np.sin(angles)], axis=1))
    raster = road_raster(make_raster, "deg.tif", [curve], (600, 600), transform,
                         "EPSG:4326", width_px=9)
    return raster, curve

def test_lonlat_lines_are_simplified_by_a_pixels_ground_size_both_ways(make_raster, tmp_path):
    """On 5e-6 deg pixels at 70 deg N (0.56 m north-south, 0.19 m east-west) a curved
    road's default one-pixel simplification used the east-west size only: its staircase
    stayed and length_m was 2.4 % too long. (Thinning now cuts such pixels in three, so
    its staircase is finer too.) length_m is the curve's ground length."""
    from shapely import affinity

    from geotile.lines import LineOptions, vectorize_lines

    transform = from_origin(15.0, 70.003, 5e-6, 5e-6)
    raster, curve = _quarter_circle_road(make_raster, transform)
    vectorize_lines([raster], tmp_path / "l.gpkg", options=LineOptions())
    frame = gpd.read_file(tmp_path / "l.gpkg")
    curve = curve.intersection(shapely.box(0, 0, 600, 600))
    truth = affinity.affine_transform(curve, [5e-6, 0, 0, -5e-6, 15.0, 70.003])
    expected = ground_length(truth, "EPSG:4326")
    assert frame["length_m"].sum() == pytest.approx(expected, rel=0.01)


def test_lonlat_pixels_square_on_the_ground_are_simplified_by_their_own_size(make_raster,
                                                                              tmp_path):
    """Pixels of 1.46e-5 deg east-west by 5e-6 deg north-south at 70 deg N are 0.56 m
    square on the ground, but the one-pixel simplification took the east-west side in
    degrees at the north-south scale: 1.64 m, and the line cut a curved road's bends
    1.3 m inside the curve. It now stays within about a pixel of the curve."""
    from pyproj import CRS

    from geotile.lines import LineOptions, vectorize_lines

    x_size = 5e-6 / np.cos(np.radians(70.0015))
    transform = from_origin(15.0, 70.003, x_size, 5e-6)
    raster, curve = _quarter_circle_road(make_raster, transform)
    vectorize_lines([raster], tmp_path / "l.gpkg", options=LineOptions())
    utm = CRS.from_epsg(32633)
    lines = gpd.read_file(tmp_path / "l.gpkg").to_crs(utm)
    truth = gpd.GeoSeries([shapely.affinity.affine_transform(
        curve.intersection(shapely.box(0, 0, 600, 600)),
        [x_size, 0, 0, -5e-6, 15.0, 70.003])], crs="EPSG:4326").to_crs(utm).iloc[0]
    assert lines.length.sum() == pytest.approx(truth.length, rel=0.01)
    away = [truth.distance(shapely.Point(xy)) for line in lines.geometry
            for xy in shapely.get_coordinates(shapely.segmentize(line, 0.1))
            if 5 < truth.project(shapely.Point(xy)) < truth.length - 5]  # ends aside
    assert max(away) < 0.8, max(away)


def test_evaluate_buffer_and_lengths_are_ground_metres_whatever_the_truths_crs(tmp_path):
    """Truth in EPSG:3857 at 60 deg N, the prediction the same road 1.5 ground metres north:
    within --buffer 2, so P = R = 1 (as with the truth in UTM); it scored 0 with the
    buffer and the lengths in Mercator units."""
    from geotile.ground_scale import ground_scales
    from geotile.line_metrics import evaluate_lines

    x0, y0 = MERCATOR_60N
    truth = shapely.LineString([(x0 + 30, y0 - 60), (x0 + 330, y0 - 60)])
    north = 1.5 / ground_scales("EPSG:3857", x0 + 180, y0 - 60)[1]  # 1.5 m in units
    predicted = shapely.LineString([(x0 + 30, y0 - 60 + north), (x0 + 330, y0 - 60 + north)])
    truth_file = write_lines(tmp_path / "truth.gpkg", [truth], crs="EPSG:3857")
    scores = evaluate_lines(write_lines(tmp_path / "pred.gpkg", [predicted], crs="EPSG:3857"),
                            truth_file, buffer=2)
    assert scores.precision == pytest.approx(1) and scores.recall == pytest.approx(1)
    expected = ground_length(truth, "EPSG:3857")
    assert scores.true_length == pytest.approx(expected, rel=0.01)
    assert scores.predicted_length == pytest.approx(expected, rel=0.01)
    utm = gpd.read_file(truth_file)
    utm.to_crs(utm.estimate_utm_crs()).to_file(tmp_path / "truth_utm.gpkg")
    same = evaluate_lines(tmp_path / "pred.gpkg", tmp_path / "truth_utm.gpkg", buffer=2)
    assert same.f1 == pytest.approx(scores.f1)
    # just outside the buffer: 2.5 ground metres north
    far = 2.5 / ground_scales("EPSG:3857", x0 + 180, y0 - 60)[1]
    outside = write_lines(tmp_path / "far.gpkg", [shapely.LineString(
        [(x0 + 30, y0 - 60 + far), (x0 + 330, y0 - 60 + far)])], crs="EPSG:3857")
    assert evaluate_lines(outside, truth_file, buffer=2).f1 == 0


def test_duplicated_or_overlapping_lines_count_once():
    """The true road predicted three times plus a wrong road 30 m away is 200 m of road,
    half of it wrong: precision 0.5, not 0.75 (every copy counted); a duplicated or
    overlapping true line is not twice the road either."""
    from geotile.line_metrics import line_scores

    road = shapely.LineString([(0, 0), (100, 0)])
    wrong = shapely.LineString([(0, 30), (100, 30)])
    scores = line_scores([road, road, road, wrong], [road], 2.0)
    assert scores.predicted_length == pytest.approx(200)
    assert scores.matched_predicted_length == pytest.approx(100)
    assert scores.precision == pytest.approx(0.5) and scores.recall == pytest.approx(1)
    assert scores.predictions == 4  # features, as given
    halves = [shapely.LineString([(0, 0), (60, 0)]), shapely.LineString([(40, 0), (100, 0)]),
              shapely.LineString([(100, 0), (0, 0)])]  # overlapping, and reversed
    scores = line_scores([road], halves, 2.0)
    assert scores.true_length == pytest.approx(100)
    assert scores.recall == pytest.approx(1) and scores.precision == pytest.approx(1)


def test_a_stretch_drawn_twice_counts_once_beside_a_road_ending_by_itself():
    """A road looping back to end 1 cm from its own first stretch (within 1 % of --buffer),
    that stretch drawn again as its own line: the copy took the end vertex, the road's own
    stretch did not, so the two no longer overlapped and 100 m were counted twice; the road
    as one feature or cut into its segments measures the same."""
    from geotile.line_metrics import line_scores

    loop = shapely.LineString([(0, 0), (100, 0), (100, 50), (50, 0.01)])
    copy = shapely.LineString([(0, 0), (100, 0)])
    scores = line_scores([loop], [loop, copy], 2.0)
    assert scores.true_length == pytest.approx(loop.length, abs=1e-3)
    assert scores.matched_true_length == pytest.approx(loop.length, abs=1e-3)
    assert scores.recall == pytest.approx(1.0) and scores.precision == pytest.approx(1.0)
    # the same road as one feature or as its segments: the same length
    coords = list(loop.coords)
    pieces = [shapely.LineString(coords[i:i + 2]) for i in range(len(coords) - 1)]
    assert line_scores(pieces, pieces, 2.0).true_length == pytest.approx(
        line_scores([loop], [loop], 2.0).true_length, abs=1e-9)


def test_zero_length_lines_measure_nothing_and_do_not_crash(run_cli, tmp_path):
    """A side holding only zero-length lines (a road's two vertices at one point, as a
    vectorised one-pixel stub gives) ended with an IndexError traceback; such a line is 0 m
    of road: the other side's lines are measured as usual, nothing lies within the buffer."""
    from geotile.line_metrics import line_scores

    stub = shapely.LineString([(5, 1), (5, 1)])
    short = shapely.LineString([(5, 1), (5, 1.001)])  # shorter than --buffer / 100
    road = shapely.LineString([(0, 0), (10, 0)])
    for degenerate in ([stub], [short], [stub, short]):
        scores = line_scores(degenerate, [road], 2.0)
        assert (scores.predicted_length, scores.true_length) == (0.0, 10.0)
        assert (scores.precision, scores.recall, scores.matched_true_length) == (0, 0, 0)
        scores = line_scores([road], degenerate, 2.0)
        assert (scores.predicted_length, scores.true_length) == (10.0, 0.0)
        assert (scores.precision, scores.recall, scores.matched_predicted_length) == (0, 0, 0)
    assert line_scores([stub, road], [road], 2.0).precision == 1.0
    pred = write_lines(tmp_path / "pred.geojson",
                       [shapely.LineString([(X0 + 5, Y0 - 1), (X0 + 5, Y0 - 1)])])
    truth = write_lines(tmp_path / "truth.geojson",
                        [shapely.LineString([(X0, Y0), (X0 + 10, Y0)])])
    result = run_cli("evaluate", pred, truth, "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert (scores["predicted_length_m"], scores["true_length_m"]) == (0, 10)
    assert (scores["precision"], scores["recall"]) == (0, 0)


def test_length_within_a_buffer_skips_the_gaps_between_a_multilines_parts():
    """Two 10 m parts of one MultiLineString 10 m apart along a covered road: 20 m are
    within the buffer, not 30 (the gap read as one more segment)."""
    from geotile.line_metrics import _length_within

    parts = shapely.MultiLineString([[(0, 0), (10, 0)], [(20, 0), (30, 0)]])
    road = shapely.LineString([(0, 0), (30, 0)])
    assert _length_within(np.array([parts]), np.array([road]), 2.0) == pytest.approx(20)


@pytest.mark.parametrize("order", ["ABC", "CAB", "ACB", "BCA"])
def test_every_rasters_lines_stay_in_place_with_rasters_on_two_grids(make_raster, tmp_path,
                                                                     order):
    """Two adjacent tiles on one grid and a third on another (other pixel size): each
    tile's road comes out where it is, whatever the order (a tile after the first was
    shifted by its offset on the mosaic's grid when the third came after it)."""
    from geotile.lines import vectorize_lines

    roads, paths = {}, {}
    for name, transform in (("A", from_origin(X0, Y0, 0.5, 0.5)),
                            ("B", from_origin(X0 + 50, Y0, 0.5, 0.5)),
                            ("C", from_origin(X0, Y0 - 500, 0.8, 0.8))):
        probability = np.full((100, 100), 0.05, np.float32)
        probability[46:54, 10:90] = 0.9
        paths[name] = make_raster(f"{name}.tif", probability, transform=transform)
        left, y = transform * (10.5, 50)
        right = (transform * (89.5, 50))[0]
        roads[f"{name}.tif"] = shapely.LineString([(left, y), (right, y)])
    vectorize_lines([paths[n] for n in order], tmp_path / "l.gpkg")
    frame = gpd.read_file(tmp_path / "l.gpkg")
    assert sorted(frame["source"]) == ["A.tif", "B.tif", "C.tif"]
    for source, line in zip(frame["source"], frame.geometry, strict=True):
        # 3.5 m: the line stops about 3 px (2.4 m at C's 0.8 m) short of a square road end
        assert line.hausdorff_distance(roads[source]) < 3.5, (source, line.bounds)


def class_scene(make_raster, name="classes.tif"):
    """A class raster (0.5 m pixels) named background, road, track: a road arc (class 1,
    4 m wide) and a track arc (class 2, 3 m wide) apart; returns (path, road, track)."""
    from rasterio.features import rasterize

    transform = from_origin(X0, Y0, 0.5, 0.5)
    road = shapely.Point(X0 + 20, Y0 - 95).buffer(70).exterior.intersection(
        shapely.box(X0 + 5, Y0 - 95, X0 + 95, Y0 - 5))
    track = shapely.LineString([(X0 + 5, Y0 - 90), (X0 + 40, Y0 - 70), (X0 + 60, Y0 - 88)])
    burnt = rasterize([(road.buffer(2), 1), (track.buffer(1.5), 2)], out_shape=(200, 200),
                      transform=transform).astype(np.uint8)
    path = make_raster(name, burnt, transform=transform)
    with rasterio.open(path, "r+") as dst:
        dst.update_tags(GEOTILE_OUTPUT="class",
                        GEOTILE_CLASS_NAMES=json.dumps(["background", "road", "track"]))
    return path, road, track


def test_per_class_simplify_applies_to_lines(run_cli, make_raster, tmp_path):
    """--simplify road=3 (the per-class form of polygons) simplifies the road's line by 3 m
    and the track's by the default pixel; it crashed with a TypeError."""
    raster, road, _ = class_scene(make_raster)
    result = run_cli("vectorize", raster, "-o", tmp_path / "plain.gpkg", "--lines")
    assert result.exit_code == 0, result.output
    result = run_cli("vectorize", raster, "-o", tmp_path / "l.gpkg", "--lines",
                     "--simplify", "road=3")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    plain = gpd.read_file(tmp_path / "plain.gpkg").set_index("class")
    coarse = gpd.read_file(tmp_path / "l.gpkg").set_index("class")
    assert sorted(coarse.index) == ["road", "track"]
    vertices = {k: len(g.coords) for k, g in coarse.geometry.items()}
    assert vertices["road"] < len(plain.geometry["road"].coords) - 3
    assert coarse.geometry["track"].equals_exact(plain.geometry["track"], 1e-6)
    assert coarse.geometry["road"].hausdorff_distance(road) < 3.5
    assert coarse["length_m"]["road"] == pytest.approx(coarse.geometry["road"].length, abs=0.01)
    # a default for the others first, as --min-area takes it; an unknown class is an error
    result = run_cli("vectorize", raster, "-o", tmp_path / "d.gpkg", "--lines",
                     "--simplify", "3,track=0")
    assert result.exit_code == 0, result.output
    assert len(gpd.read_file(tmp_path / "d.gpkg").set_index("class").geometry["road"].coords) \
        == vertices["road"]
    from .conftest import assert_one_line_error

    assert_one_line_error(run_cli("vectorize", raster, "-o", tmp_path / "x.gpkg", "--lines",
                                  "--simplify", "lane=3"),
                          "--simplify", "'lane'", "road, track")


def test_classes_keeps_only_those_lines_and_refuses_unknown_names(run_cli, make_raster,
                                                                  tmp_path):
    """--classes applies to --lines as to polygons (it was ignored: both classes came out,
    and --classes nosuch exited 0)."""
    from .conftest import assert_one_line_error

    raster, _, track = class_scene(make_raster)
    out = tmp_path / "l.gpkg"
    result = run_cli("vectorize", raster, "-o", out, "--lines", "--classes", "track")
    assert result.exit_code == 0, result.output
    frame = gpd.read_file(out)
    assert list(frame["class"]) == ["track"]
    assert frame.geometry.iloc[0].hausdorff_distance(track) < 2.0
    result = run_cli("vectorize", raster, "-o", out, "--lines", "--classes", "2,road",
                     "--overwrite")
    assert result.exit_code == 0, result.output
    assert sorted(gpd.read_file(out)["class"]) == ["road", "track"]
    assert_one_line_error(run_cli("vectorize", raster, "-o", tmp_path / "x.gpkg", "--lines",
                                  "--classes", "nosuch"),
                          "--classes", "'nosuch'", "classes.tif", "road, track")
    assert not (tmp_path / "x.gpkg").exists()
    # an unnamed road raster: its class 1 is road
    plain, _ = probability_scene(make_raster)
    result = run_cli("vectorize", plain, "-o", tmp_path / "r.gpkg", "--lines", "--classes",
                     "road")
    assert result.exit_code == 0, result.output
    assert list(gpd.read_file(tmp_path / "r.gpkg")["class"]) == ["road"]
    assert_one_line_error(run_cli("vectorize", plain, "-o", tmp_path / "y.gpkg", "--lines",
                                  "--classes", "building"),
                          "--classes", "'building'", "road for class 1")


def graph_of(frame):
    """({node: degree} of the lines' ends, number of independent cycles E - V + C)."""
    degree, parent = {}, {}

    def root(node):
        while parent[node] != node:
            node = parent[node]
        return node

    for line in frame.geometry:
        ends = [(round(x, 6), round(y, 6)) for x, y in (line.coords[0], line.coords[-1])]
        for key in ends:
            degree[key] = degree.get(key, 0) + 1
            parent.setdefault(key, key)
        parent[root(ends[0])] = root(ends[1])
    components = len({root(node) for node in parent})
    return degree, len(frame) - len(degree) + components


@pytest.mark.parametrize("width", [3, 4, 6])
@pytest.mark.parametrize("offset", [0, 0.1])
def test_a_diagonal_crossing_is_one_node_of_degree_four(make_raster, tmp_path, width, offset):
    """Roads crossing at +-45 degrees: one junction of degree 4 and four arms, as an
    axis-aligned crossing gives (the skeleton's 2x2 pixel block gave a square loop of four
    one-pixel lines and four junctions of degree 3)."""
    from rasterio.features import rasterize

    from geotile.lines import vectorize_lines

    transform = from_origin(X0, Y0, 0.5, 0.5)
    roads = [shapely.LineString([(X0 + 10 + offset, Y0 - 10), (X0 + 90 + offset, Y0 - 90)]),
             shapely.LineString([(X0 + 10 + offset, Y0 - 90), (X0 + 90 + offset, Y0 - 10)])]
    burnt = rasterize([(g.buffer(width / 2), 1) for g in roads], out_shape=(200, 200),
                      transform=transform)
    raster = make_raster("x.tif", np.where(burnt > 0, 0.9, 0.05).astype(np.float32),
                         transform=transform)
    vectorize_lines(raster, tmp_path / "x.gpkg")
    frame = gpd.read_file(tmp_path / "x.gpkg")
    degree, cycles = graph_of(frame)
    assert len(frame) == 4, list(frame["length_m"])
    assert sorted(degree.values()) == [1, 1, 1, 1, 4] and cycles == 0
    centre = next(shapely.Point(p) for p, d in degree.items() if d == 4)
    assert centre.distance(shapely.Point(X0 + 50 + offset, Y0 - 50)) < 0.75
    assert union_of(frame.geometry).hausdorff_distance(shapely.union_all(roads)) < 2.0


def test_t_junctions_and_a_roundabout_keep_their_shape(make_raster, tmp_path):
    """A T junction stays one node of degree 3; a roundabout (a ring 14 m across, its island
    wider than the 4 m road) with four arms stays a ring: four junctions of degree 3."""
    from geotile.lines import vectorize_lines

    ring = shapely.Point(X0 + 50, Y0 - 50).buffer(7, quad_segs=32).exterior
    arms = [shapely.LineString([(X0 + 5, Y0 - 50), (X0 + 43, Y0 - 50)]),
            shapely.LineString([(X0 + 57, Y0 - 50), (X0 + 95, Y0 - 50)]),
            shapely.LineString([(X0 + 50, Y0 - 5), (X0 + 50, Y0 - 43)]),
            shapely.LineString([(X0 + 50, Y0 - 57), (X0 + 50, Y0 - 95)])]
    raster, _ = probability_scene(make_raster, lines=[ring, *arms])
    vectorize_lines(raster, tmp_path / "r.gpkg")
    frame = gpd.read_file(tmp_path / "r.gpkg")
    degree, cycles = graph_of(frame)
    assert sorted(degree.values()) == [1, 1, 1, 1, 3, 3, 3, 3] and cycles == 1
    assert union_of(frame.geometry).hausdorff_distance(
        shapely.union_all([ring, *arms])) < 2.5
    t_road = [shapely.LineString([(X0 + 10, Y0 - 30), (X0 + 90, Y0 - 30)]),
              shapely.LineString([(X0 + 50, Y0 - 30), (X0 + 50, Y0 - 90)])]
    raster, _ = probability_scene(make_raster, name="t.tif", lines=t_road)
    vectorize_lines(raster, tmp_path / "t.gpkg")
    frame = gpd.read_file(tmp_path / "t.gpkg")
    degree, cycles = graph_of(frame)
    assert sorted(degree.values()) == [1, 1, 1, 3] and cycles == 0


def test_pinholes_in_a_road_make_no_rings_and_a_roundabouts_island_stays(make_raster,
                                                                         tmp_path):
    """Pinholes in a thresholded road (model noise, a car on the road: 1 px and 2x2 px
    holes) are filled before thinning: a 90 m road gave 27 lines with 10 rings round
    them; a roundabout's island (16 m across) stays a hole: one ring."""
    from rasterio.features import rasterize

    from geotile.lines import vectorize_lines

    transform = from_origin(X0, Y0, 0.5, 0.5)
    road = shapely.LineString([(X0 + 5, Y0 - 50), (X0 + 95, Y0 - 50)])
    ring = shapely.Point(X0 + 50, Y0 - 50).buffer(8, quad_segs=32).exterior
    arm = shapely.LineString([(X0 + 5, Y0 - 50), (X0 + 42, Y0 - 50)])
    for name, roads, rings in (("road.tif", [road], 0), ("ring.tif", [ring, arm], 1)):
        burnt = rasterize([(g.buffer(2.5), 1) for g in roads], out_shape=(200, 200),
                          transform=transform)
        probability = np.where(burnt > 0, 0.9, 0.05).astype(np.float32)
        for k, col in enumerate(range(20, 190, 17)):
            row = 98 + k % 4
            if k % 3 == 0:
                probability[row:row + 2, col:col + 2] = 0.1
            else:
                probability[row, col] = 0.1
        raster = make_raster(name, probability, transform=transform)
        vectorize_lines(raster, tmp_path / f"{name}.gpkg")
        frame = gpd.read_file(tmp_path / f"{name}.gpkg")
        degree, cycles = graph_of(frame)
        assert cycles == rings, (len(frame), sorted(degree.values()))
        truth = shapely.union_all(roads)
        assert union_of(frame.geometry).hausdorff_distance(truth) < 2.5
        assert abs(frame.length.sum() - truth.length) < 0.05 * truth.length
        assert sorted(degree.values()).count(1) == 2 - rings


@pytest.mark.parametrize("option", [
    ("--errors", "errors.gpkg"), ("--report", "report.png"), ("--class-field", "kind"),
    ("--iou", "0.3"), ("--conf-field", "score"), ("--repair-truth",), ("--min-area", "5")])
def test_polygon_options_on_line_files_are_refused_naming_them(run_cli, tmp_path, option):
    """evaluate on centrelines ignored --errors, --report and --class-field (exit 0, nothing
    written): options of polygon scores are a one-line usage error naming them."""
    from .conftest import assert_one_line_error

    roads = [shapely.LineString([(X0, Y0), (X0 + 100, Y0)])]
    pred = write_lines(tmp_path / "pred.gpkg", roads, kind=["road"])
    truth = write_lines(tmp_path / "truth.gpkg", roads, kind=["road"])
    args = [option[0], *(tmp_path / v if v.endswith((".gpkg", ".png")) else v
                         for v in option[1:])]
    result = run_cli("evaluate", pred, truth, *args)
    assert_one_line_error(result, option[0], "lines", "--buffer", code=2)
    assert not (tmp_path / "errors.gpkg").exists() and not (tmp_path / "report.png").exists()
    result = run_cli("evaluate", pred, truth, "--errors", tmp_path / "e.gpkg", "--report",
                     tmp_path / "r.png")
    assert_one_line_error(result, "--errors", "--report", code=2)
    result = run_cli("evaluate", pred, truth, "--buffer", 1, "--overwrite", "--json")
    assert result.exit_code == 0, result.output


def test_line_files_of_several_layers_name_their_layers(run_cli, tmp_path):
    """A GeoPackage of two line layers was reported as not holding lines: the error names
    its layers and how to choose one (--layer for TRUTH; PREDICTION is read whole)."""
    from .conftest import assert_one_line_error

    roads = [shapely.LineString([(X0, Y0), (X0 + 100, Y0)])]
    single = write_lines(tmp_path / "single.gpkg", roads)
    two = tmp_path / "two.gpkg"
    gpd.GeoDataFrame(geometry=roads, crs=UTM_CRS).to_file(two, layer="roads")
    gpd.GeoDataFrame(geometry=roads, crs=UTM_CRS).to_file(two, layer="tracks")
    result = run_cli("evaluate", two, single)
    assert_one_line_error(result, "two.gpkg", "roads, tracks", "PREDICTION", "one layer")
    assert "does not" not in result.stderr
    result = run_cli("evaluate", single, two)
    assert_one_line_error(result, "two.gpkg", "roads, tracks", "--layer")
    result = run_cli("evaluate", single, two, "--layer", "tracks", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["f1"] == 1.0


def test_two_folders_of_centrelines_are_scored_per_image_and_in_total(run_cli, tmp_path):
    """Folders of line files were refused with a message about polygons: each pair is
    scored as two line files are, and the total from the summed lengths."""
    from .conftest import assert_one_line_error

    (tmp_path / "pred").mkdir()
    (tmp_path / "truth").mkdir()
    road = shapely.LineString([(X0, Y0), (X0 + 100, Y0)])
    write_lines(tmp_path / "truth" / "a.gpkg", [road])
    write_lines(tmp_path / "pred" / "a.gpkg", [road])
    write_lines(tmp_path / "truth" / "b.gpkg", [road])
    write_lines(tmp_path / "pred" / "b.gpkg",  # half on the road, half 10 m off
                [shapely.LineString([(X0, Y0), (X0 + 50, Y0)]),
                 shapely.LineString([(X0, Y0 + 10), (X0 + 50, Y0 + 10)])])
    result = run_cli("evaluate", tmp_path / "pred", tmp_path / "truth", "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["mode"] == "line" and scores["images"] == 2
    assert scores["true_length_m"] == pytest.approx(200)
    assert scores["predicted_length_m"] == pytest.approx(200)
    assert scores["precision"] == pytest.approx(150 / 200, abs=0.02)
    assert scores["recall"] == pytest.approx(152 / 200, abs=0.02)
    assert scores["per_image"]["a"]["f1"] == 1.0
    assert scores["per_image"]["b"]["recall"] == pytest.approx(0.52, abs=0.02)
    assert scores["per_image"]["b"]["prediction"].endswith("b.gpkg")
    table = run_cli("evaluate", tmp_path / "pred", tmp_path / "truth")
    assert table.exit_code == 0, table.output
    assert "Lines" in table.stdout and "2 images" in table.stdout
    assert_one_line_error(run_cli("evaluate", tmp_path / "pred", tmp_path / "truth",
                                  "--errors", tmp_path / "e.gpkg"), "--errors", code=2)
    write_lines(tmp_path / "pred" / "b.gpkg", [shapely.box(X0, Y0, X0 + 5, Y0 + 5)])
    assert_one_line_error(run_cli("evaluate", tmp_path / "pred", tmp_path / "truth"),
                          "b.gpkg", "holds lines but", "does not")


@pytest.mark.parametrize("degrees", [35, 45, 60, 80])
def test_oblique_roads_are_joined_across_tiles_on_different_grids(make_raster, tmp_path,
                                                                  degrees):
    """Adjacent tiles half a pixel off each other's grid: a road crossing their edge
    obliquely is one line, in place (each tile's skeleton bent towards its mirrored edge,
    and the ends, several pixels apart, stayed two dead ends)."""
    from rasterio.features import rasterize

    from geotile.lines import vectorize_lines

    a = np.radians(degrees)
    centre = (X0 + 50, Y0 - 50)
    road = shapely.LineString([(centre[0] - 40 * np.cos(a), centre[1] - 40 * np.sin(a)),
                               (centre[0] + 40 * np.cos(a), centre[1] + 40 * np.sin(a))])
    left_t = from_origin(X0, Y0, 0.5, 0.5)
    right_t = from_origin(X0 + 50, Y0 + 0.25, 0.5, 0.5)  # half a pixel up
    rasters = []
    for name, transform in (("left.tif", left_t), ("right.tif", right_t)):
        burnt = rasterize([(road.buffer(3), 1)], out_shape=(200, 100), transform=transform)
        rasters.append(make_raster(name, np.where(burnt > 0, 0.9, 0.05).astype(np.float32),
                                   transform=transform))
    summary = vectorize_lines(rasters, tmp_path / "joined.gpkg")
    frame = gpd.read_file(tmp_path / "joined.gpkg")
    assert summary["features"] == 1, list(frame["length_m"])
    line = frame.geometry.iloc[0]
    assert line.hausdorff_distance(road) < 1.5
    xy = shapely.get_coordinates(shapely.segmentize(line, 0.25))
    seam = shapely.points(xy[np.abs(xy[:, 0] - (X0 + 50)) < 8])  # the 16 m about the edge
    assert len(seam) and shapely.distance(seam, road).max() < 0.75  # no bend along it


# ------------------------------------------------------------------ skeleton geometry matrix

#: sub-pixel offsets (col, row) of the roads' centres from a pixel corner
SUBPIXEL = ((0, 0), (0.25, 0), (0.5, 0), (0, 0.25), (0, 0.5), (0.25, 0.5))


def directed_distance(a, b) -> float:
    """The largest distance from a point of ``a`` to ``b`` (directed Hausdorff)."""
    points = shapely.points(shapely.get_coordinates(shapely.segmentize(a, 0.05)))
    return float(shapely.distance(points, b).max())


def burnt_roads(make_raster, name, lines_px, width_px, size):
    """A float32 road probability raster (0.9 on roads ``width_px`` wide, round ends, 0.05
    elsewhere) of 0.5 m pixels in UTM, from lines in pixel coordinates (col, row); returns
    (path, the lines in the raster's CRS)."""
    from rasterio.features import rasterize
    from shapely import affinity

    transform = from_origin(X0, Y0, 0.5, 0.5)
    burnt = rasterize([(g.buffer(width_px / 2), 1) for g in lines_px], out_shape=(size, size))
    path = make_raster(name, np.where(burnt > 0, 0.9, 0.05).astype(np.float32),
                       transform=transform)
    matrix = [transform.a, transform.b, transform.d, transform.e, transform.c, transform.f]
    return path, [affinity.affine_transform(g, matrix) for g in lines_px]


@pytest.mark.parametrize("width", [5, 9, 13, 21])
@pytest.mark.parametrize("degrees", range(0, 180, 15))
def test_straight_roads_keep_their_whole_centreline_at_every_angle_and_offset(
        make_raster, tmp_path, width, degrees):
    """Roads 100 px long, ``width`` px wide, at ``degrees`` from east, side by side at
    sub-pixel offsets: each is one line on its centreline. Zhang and Suen's thinning
    (``skeletonize``) deleted the two-pixel-thick diagonal staircase a 45 degree road thins
    to at some offsets: half the road (57 m of 114 m) or all of it was lost, exit 0."""
    from geotile.lines import vectorize_lines

    a = np.radians(degrees)
    along, normal = np.array([np.cos(a), -np.sin(a)]), np.array([np.sin(a), np.cos(a)])
    step = np.round(36 * normal)  # whole pixels between the roads: only the offsets differ
    size, half = 300, 50
    roads = [shapely.LineString([150 + k * step + off - half * along,
                                 150 + k * step + off + half * along])
             for k, off in zip(range(-2, 4), np.array(SUBPIXEL), strict=True)]
    raster, truths = burnt_roads(make_raster, "roads.tif", roads, width, size)
    vectorize_lines(raster, tmp_path / "roads.gpkg")
    frame = gpd.read_file(tmp_path / "roads.gpkg")
    assert len(frame) == len(truths), list(frame["length_m"])
    pixel, cap = 0.5, width / 2 * 0.5
    for offset, truth in zip(SUBPIXEL, truths, strict=True):
        mine = [g for g in frame.geometry if g.distance(truth) < 5 * pixel]
        assert len(mine) == 1, (offset, [g.length for g in mine])
        line = mine[0]
        # the whole road: no point off the centreline (2 px: the round ends); every point
        # of it near the line, but within the ends, where the skeleton stops a few px short
        assert directed_distance(line, truth) < 2 * pixel, offset
        assert directed_distance(truth, line) < max(cap, 1.5 * pixel), offset
        assert line.length == pytest.approx(truth.length, rel=0.07), offset
        # away from the ends: the same length, and no further than 1.5 px either way
        middle = shapely.Point(truth.centroid).buffer(truth.length / 2 - cap)
        inner, inner_truth = line.intersection(middle), truth.intersection(middle)
        assert inner.length == pytest.approx(inner_truth.length, rel=0.03), offset
        assert inner.hausdorff_distance(inner_truth) < 1.5 * pixel, offset


@pytest.mark.parametrize("width", [5, 9, 13, 21])
@pytest.mark.parametrize("degrees", [0, 30, 45, 60])
def test_crossings_and_t_junctions_keep_all_their_arms(make_raster, tmp_path, width,
                                                       degrees):
    """An X of two roads crossing at right angles and a T, turned by ``degrees``, at
    sub-pixel offsets: one junction (degree 4, or 3) and every arm whole (the lost
    diagonal staircase took an arm of about 29 m off a crossing)."""
    from geotile.lines import vectorize_lines

    a = np.radians(degrees)
    along, across = np.array([np.cos(a), -np.sin(a)]), np.array([np.sin(a), np.cos(a)])
    pixel, arm = 0.5, 45
    for i, off in enumerate(np.array(SUBPIXEL)):
        centre = 100 + off
        t_ends = [centre + arm * along, centre - arm * along, centre + arm * across]
        for kind in ("x", "t"):
            ends = [*t_ends, centre - arm * across] if kind == "x" else t_ends
            roads = [shapely.LineString([centre, end]) for end in ends]
            raster, truths = burnt_roads(make_raster, f"{kind}{i}.tif", roads, width, 200)
            vectorize_lines(raster, tmp_path / f"{kind}{i}.gpkg")
            frame = gpd.read_file(tmp_path / f"{kind}{i}.gpkg")
            degree, cycles = graph_of(frame)
            free = [p for p, d in degree.items() if d == 1]
            assert len(free) == len(ends) and cycles == 0, (kind, off, list(frame["length_m"]))
            # one junction (an oblique X came out as two of degree 3, less than the road's
            # width apart, joined by a short line) near the crossing's centre (a T's
            # thins to a point up to a quarter of the width into the stem)
            nodes = [shapely.Point(p) for p, d in degree.items() if d > 1]
            assert [degree[(p.x, p.y)] for p in nodes] == [len(ends)], (kind, off, degree)
            assert nodes[0].distance(truths[0].boundary.geoms[0]) < max(
                1.5, width / (4 if kind == "x" else 3)) * pixel, (kind, off)
            assert len(frame) == len(ends), (kind, off, list(frame["length_m"]))
            arms = frame.geometry
            lengths = sorted(g.length for g in arms)
            assert lengths[0] > arm * pixel * 0.85 and lengths[-1] < arm * pixel * 1.1, (
                kind, off, lengths)
            # off the centrelines: at most 2 px, or a sixth of the road's width where the
            # skeleton bends into the junction's corners (a quarter: into a T's stem)
            union = shapely.union_all(truths)
            assert directed_distance(union_of(frame.geometry), union) < max(
                2, width / (6 if kind == "x" else 4)) * pixel, (kind, off)


@pytest.mark.parametrize("width", [5, 9, 13, 21])
@pytest.mark.parametrize("degrees", [0, 30, 45])
def test_staggered_side_roads_farther_apart_than_the_width_keep_two_junctions(
        make_raster, tmp_path, width, degrees):
    """Side roads leaving a road on either side 1.1 road widths apart: two junctions of
    degree 3 and the link between them stay (only a piece shorter than the road's width,
    an X crossing split by thinning, becomes one node)."""
    from geotile.lines import vectorize_lines

    a = np.radians(degrees)
    along, across = np.array([np.cos(a), -np.sin(a)]), np.array([np.sin(a), np.cos(a)])
    centre, shift = np.array([100.25, 100.0]), 1.1 * width / 2 * along
    roads = [shapely.LineString([centre - 45 * along, centre + 45 * along]),
             shapely.LineString([centre - shift, centre - shift + 45 * across]),
             shapely.LineString([centre + shift, centre + shift - 45 * across])]
    raster, _ = burnt_roads(make_raster, "s.tif", roads, width, 200)
    vectorize_lines(raster, tmp_path / "s.gpkg")
    frame = gpd.read_file(tmp_path / "s.gpkg")
    degree, cycles = graph_of(frame)
    assert sorted(degree.values()) == [1, 1, 1, 1, 3, 3] and cycles == 0, list(
        frame["length_m"])


def overlap_length(frame) -> float:
    """The length of line drawn twice: pairwise intersections of the features."""
    import itertools

    return sum(a.intersection(b).length for a, b in itertools.combinations(frame.geometry, 2))


@pytest.mark.parametrize("width", [8, 16, 30])
@pytest.mark.parametrize("degrees", [53, 70])
def test_an_oblique_crossing_draws_each_segment_once(make_raster, tmp_path, width, degrees):
    """A road crossed at 53 or 70 degrees, 8 to 30 px wide: four arms meeting at one node,
    no two sharing a segment (the two arms ending at each of the two junctions thinning
    made both got the segment from it to the merged node: 14.9 m drawn twice at 30 px),
    so the lengths add up to the network's."""
    from geotile.lines import vectorize_lines

    a = np.radians(degrees)
    dx = 200 / np.tan(a)
    roads = [shapely.LineString([(0, 200), (400, 200)]),
             shapely.LineString([(200 - dx, 0), (200 + dx, 400)])]
    raster, truths = burnt_roads(make_raster, "x.tif", roads, width, 400)
    vectorize_lines(raster, tmp_path / "x.gpkg")
    frame = gpd.read_file(tmp_path / "x.gpkg")
    degree, cycles = graph_of(frame)
    assert sorted(degree.values()) == [1, 1, 1, 1, 4] and cycles == 0, list(frame["length_m"])
    assert overlap_length(frame) == 0
    total = frame["length_m"].sum()
    assert total == pytest.approx(union_of(frame.geometry).length, abs=0.02)
    assert total == pytest.approx(sum(t.length for t in truths), rel=0.02)
    # the arms run on their road's centreline into the node (the west arm bent 5 m off)
    assert directed_distance(union_of(frame.geometry), shapely.union_all(truths)) < max(
        2, width / 6) * 0.5


def test_a_crossing_of_burnt_roads_draws_each_segment_once(run_cli, make_raster, tmp_path):
    """make-masks --line-width of two roads crossing at 53 degrees, vectorized back: no two
    lines share a segment (2 x 2.15 m were drawn twice) and the lengths add up."""
    a = np.radians(53)
    roads = [shapely.LineString([(X0 + 5, Y0 - 100), (X0 + 195, Y0 - 100)]),
             shapely.LineString([(X0 + 100 - 90 / np.tan(a), Y0 - 10),
                                 (X0 + 100 + 90 / np.tan(a), Y0 - 190)])]
    image = make_raster("img.tif", np.zeros((3, 400, 400), np.uint8),
                        transform=from_origin(X0, Y0, 0.5, 0.5))
    write_lines(tmp_path / "roads.gpkg", roads)
    result = run_cli("make-masks", tmp_path / "roads.gpkg", image, "-o", tmp_path / "m.tif",
                     "--line-width", 4)
    assert result.exit_code == 0, result.output
    result = run_cli("vectorize", tmp_path / "m.tif", "-o", tmp_path / "c.gpkg", "--lines")
    assert result.exit_code == 0, result.output
    frame = gpd.read_file(tmp_path / "c.gpkg")
    assert sorted(graph_of(frame)[0].values()) == [1, 1, 1, 1, 4]
    assert overlap_length(frame) == 0
    assert frame["length_m"].sum() == pytest.approx(union_of(frame.geometry).length,
                                                    abs=0.02)
    assert frame["length_m"].sum() == pytest.approx(sum(r.length for r in roads), rel=0.03)


@pytest.mark.parametrize("simplify", ["0.01", "0.1", "0.25"])
def test_simplify_below_a_pixel_still_removes_the_staircase(run_cli, make_raster, tmp_path,
                                                             simplify):
    """--simplify M below one pixel (0.5 m) simplifies by a pixel, as --help promises: a
    road at slope 1/2 kept its 400-vertex staircase and length_m 240.71 m for 223 m."""
    road = shapely.LineString([(0, 100), (400, 300)])
    raster, (truth,) = burnt_roads(make_raster, "slant.tif", [road], 6, 400)
    lengths = {}
    for option in ("0", simplify):
        result = run_cli("vectorize", raster, "-o", tmp_path / f"{option}.gpkg", "--lines",
                         "--simplify", option)
        assert result.exit_code == 0, result.output
        frame = gpd.read_file(tmp_path / f"{option}.gpkg")
        assert len(frame) == 1 and len(frame.geometry[0].coords) < 10, option
        lengths[option] = frame["length_m"][0]
    assert lengths[simplify] == pytest.approx(truth.length, rel=0.01)
    assert lengths[simplify] == pytest.approx(lengths["0"], abs=0.5)


def nodata_roads(make_raster, kind):
    """A 41 px wide east-west road on 0.5 m pixels, valid up to column 249 of 300 and across
    a 40 px strip of no data (columns 100..139) as ``kind`` declares it."""
    rows = np.arange(300)[:, None]
    road = np.broadcast_to(np.abs(rows - 150) <= 20, (300, 300))  # centre: row 150
    transform = from_origin(X0, Y0, 0.5, 0.5)
    if kind == "ignore":  # geotile's 0/1 masks: 255 is no data
        values = road.astype(np.uint8)
        values[:, 100:140] = values[:, 250:] = 255
        return make_raster("m.tif", values, transform=transform, nodata=255)
    values = np.where(road, 0.9, 0.05).astype(np.float32)
    if kind == "nan":
        values[:, 100:140] = values[:, 250:] = np.nan
        return make_raster("m.tif", values, transform=transform)
    if kind == "value":
        values[:, 100:140] = values[:, 250:] = -9999
        return make_raster("m.tif", values, transform=transform, nodata=-9999)
    path = make_raster("m.tif", values, transform=transform)
    mask = np.full((300, 300), 255, np.uint8)
    mask[:, 100:140] = mask[:, 250:] = 0
    with rasterio.open(path, "r+") as dst:
        dst.write_mask(mask)
    return path


@pytest.mark.parametrize("kind", ["value", "mask", "nan", "ignore"])
def test_roads_run_up_to_the_last_valid_pixel_before_no_data(make_raster, tmp_path, kind):
    """A road running into no data (a nodata value, a mask band, NaN, 255 in a 0/1 mask)
    reaches the last valid pixel's centre, as it reaches the raster's edge: it stopped half
    the road's width short (10 m of a 40 px road at a nodata collar, 2 m each side of a
    strip)."""
    from geotile.lines import vectorize_lines

    vectorize_lines(nodata_roads(make_raster, kind), tmp_path / "l.gpkg")
    frame = gpd.read_file(tmp_path / "l.gpkg")
    spans = sorted((min(g.coords[0][0], g.coords[-1][0]) - X0,
                    max(g.coords[0][0], g.coords[-1][0]) - X0) for g in frame.geometry)
    assert spans == [(0.25, 49.75), (70.25, 124.75)], list(frame["length_m"])
    for g in frame.geometry:
        assert all(y == Y0 - 75.25 for _, y in g.coords)
    assert frame["length_m"].sum() == pytest.approx(49.5 + 54.5)


@pytest.mark.parametrize("notch", ["above", "beside_end"])
def test_a_road_along_no_data_keeps_its_centreline(make_raster, tmp_path, notch):
    """A fully valid 10 px road whose side borders no data (a nodata notch over it, from
    column 100 on, 1 m pixels) was pulled onto the nodata edge: 90 m of the line 5 m off the
    road's centre, with a kink. It keeps the centreline it has without the notch (off by
    0 px); a road running into no data still reaches the last valid pixel."""
    from geotile.lines import vectorize_lines

    transform = from_origin(X0, Y0, 1, 1)
    road = np.zeros((200, 200), np.uint8)
    road[60:70] = 1
    plain = make_raster("plain.tif", road, transform=transform, nodata=255)
    if notch == "above":
        road[:60, 100:] = 255
    else:  # no data above the road from column 100 and past its end at column 180
        road[:60, 100:] = 255
        road[:, 180:] = 255
    notched = make_raster("notch.tif", road, transform=transform, nodata=255)
    lines = {}
    for name, path in (("plain", plain), ("notch", notched)):
        vectorize_lines(path, tmp_path / f"{name}.gpkg")
        lines[name] = gpd.read_file(tmp_path / f"{name}.gpkg").geometry
    assert len(lines["notch"]) == 1
    ys = {y for _, y in lines["notch"][0].coords}
    assert ys == {y for _, y in lines["plain"][0].coords}, list(lines["notch"][0].coords)
    xs = sorted(x - X0 for x, _ in lines["notch"][0].coords)
    assert (xs[0], xs[-1]) == (0.5, 199.5 if notch == "above" else 179.5)


@pytest.mark.parametrize("degrees, width", [(45, 10), (30, 4)])
def test_a_diagonal_road_runs_straight_into_no_data_as_into_the_outer_edge(
        make_raster, tmp_path, degrees, width):
    """A diagonal road running into a nodata collar ended in a hook to the road's corner
    (6.75 m off the centreline at 45 deg, 10 m wide; 2.1 m at 30 deg, 4 m): its end is
    drawn as where the same road crosses the raster's outer edge, straight on."""
    from rasterio.features import rasterize

    from geotile.lines import vectorize_lines

    a = np.radians(degrees)
    road = shapely.LineString([(X0 + 70, Y0 - 70),
                               (X0 + 70 - 100 * np.cos(a), Y0 - 70 + 100 * np.sin(a))])
    transform = from_origin(X0, Y0, 0.5, 0.5)
    mask = rasterize([(road.buffer(width / 2), 1)], out_shape=(200, 200),
                     transform=transform).astype(np.uint8)
    collared = mask.copy()
    collared[:, :40] = 255  # 20 m of no data on the left, as make-masks writes it
    lines = {}
    for name, values, grid, nodata in (
            ("collar", collared, transform, 255),
            ("edge", mask[:, 40:], from_origin(X0 + 20, Y0, 0.5, 0.5), None)):
        vectorize_lines(make_raster(f"{name}.tif", values, transform=grid, nodata=nodata),
                        tmp_path / f"{name}.gpkg")
        frame = gpd.read_file(tmp_path / f"{name}.gpkg")
        assert len(frame) == 1, name
        lines[name] = frame.geometry.iloc[0]
    valid = road.intersection(shapely.box(X0 + 20, Y0 - 100, X0 + 100, Y0))
    assert lines["edge"].hausdorff_distance(valid) < 1.5
    assert lines["collar"].hausdorff_distance(lines["edge"]) <= 0.5  # one pixel
    assert lines["collar"].hausdorff_distance(valid) < 1.5


@pytest.mark.parametrize("degrees, width", [(30, 10), (60, 10), (30, 6), (60, 4)])
def test_a_road_crossing_the_outer_edge_obliquely_ends_where_it_crosses(make_raster, tmp_path,
                                                                       degrees, width):
    """A road ``width`` m wide at ``degrees`` from east through the middle of the left edge,
    crossing it or the bottom edge at 30 degrees to the edge: the road and its mirror image
    past the edge make a V whose skeleton runs along the edge to the V's outer corner, so
    the line ended in a hook along the edge (8.7 m off the crossing for 10 m at 30 deg,
    9.2 m at 60 deg; 3.3 m for 4 m). It ends where the road crosses the edge, straight on."""
    from rasterio.features import rasterize

    from geotile.lines import vectorize_lines

    a = np.radians(degrees)
    centre, along = np.array([X0, Y0 - 50]), np.array([np.cos(a), -np.sin(a)])
    road = shapely.LineString([centre - 300 * along, centre + 300 * along])
    transform = from_origin(X0, Y0, 0.5, 0.5)
    mask = rasterize([(road.buffer(width / 2), 1)], out_shape=(200, 200),
                     transform=transform).astype(np.uint8)
    vectorize_lines(make_raster("road.tif", mask, transform=transform), tmp_path / "road.gpkg")
    frame = gpd.read_file(tmp_path / "road.gpkg")
    assert len(frame) == 1
    truth = road.intersection(shapely.box(X0, Y0 - 100, X0 + 100, Y0))
    assert frame.geometry.iloc[0].hausdorff_distance(truth) < 1.5
    assert frame["length_m"].iloc[0] == pytest.approx(truth.length, abs=2.0)


def test_lines_just_beyond_the_buffer_are_not_said_to_cover_different_ground(tmp_path,
                                                                            caplog):
    """A prediction 1.5 m beside an east-west truth road (its box of no height) scores 0 at
    --buffer 1.4 without the warning of a CRS mix-up, which a prediction of other ground
    (the next tile, 500 m off) still gets."""
    from geotile.line_metrics import evaluate_lines

    truth = write_lines(tmp_path / "t.gpkg", [shapely.LineString([(X0, Y0), (X0 + 100, Y0)])])
    beside = write_lines(tmp_path / "beside.gpkg",
                         [shapely.LineString([(X0, Y0 + 1.5), (X0 + 100, Y0 + 1.5)]),
                          shapely.LineString([(X0 + 25, Y0 + 50), (X0 + 75, Y0 + 50)])])
    with caplog.at_level("WARNING", logger="geotile"):
        scores = evaluate_lines(beside, truth, buffer=1.4)
    assert scores.precision == 0.0 and scores.recall == 0.0
    assert "cover different ground" not in caplog.text
    elsewhere = write_lines(tmp_path / "elsewhere.gpkg",
                            [shapely.LineString([(X0, Y0 + 500), (X0 + 100, Y0 + 500)])])
    with caplog.at_level("WARNING", logger="geotile"):
        evaluate_lines(elsewhere, truth, buffer=1.4)
    assert "elsewhere.gpkg and" in caplog.text and "cover different ground" in caplog.text


#: UTM 33N at 60 deg N, where a 1e-5 x 5e-6 deg pixel is about 0.56 m square on the ground
SPUR_ORIGIN = (500000.0, 6652000.0)


def side_road_scene():
    """A 6 m wide E-W and a N-S main road, with 3 m wide dead-end side roads reaching 6,
    9, 12 and 15 m beyond the main road's edge, north off the first, east off the second
    (UTM 33N): (GeoDataFrame with hw, the half-width, lines)."""
    x0, y0 = SPUR_ORIGIN

    def line(*points):
        return shapely.LineString([(x0 + a, y0 + b) for a, b in points])

    names, lines, half = ["EW", "NS"], [line((0, 20), (200, 20)), line((20, 40), (20, 200))], \
        [3.0, 3.0]
    for i, reach in enumerate((6, 9, 12, 15)):
        names += [f"N{reach}", f"E{reach}"]
        lines += [line((60 + 35 * i, 20), (60 + 35 * i, 23 + reach)),
                  line((20, 70 + 35 * i), (23 + reach, 70 + 35 * i))]
        half += [1.5, 1.5]
    return gpd.GeoDataFrame({"name": names, "hw": half}, geometry=lines, crs="EPSG:32633")


@pytest.mark.parametrize("grid", ["utm 0.5 x 0.5", "utm 0.5 x 0.25", "lonlat 1e-5 x 5e-6",
                                  "lonlat 1e-5 x 1e-5"])
def test_side_roads_are_kept_on_pixels_that_are_not_square_in_crs_units(make_raster, tmp_path,
                                                                       grid):
    """A side road ends in a bump of the road's edge when its spur is no longer than twice
    the distance to the edge at its junction; that distance was counted in pixels times the
    pixel's larger side: on 0.5 x 0.25 m pixels, or 1e-5 x 5e-6 deg ones at 60 N (0.56 m
    square on the ground), the 3 m half-width of an E-W road became 6 m and dead ends up to
    12 m long (N6, N9, N12; E6) were deleted, even at --min-length 0; and thinning, in
    pixels, shortened the spurs along the pixels' longer side (square degrees: 0.56 x 1.11 m).
    Every side road stays, as on square pixels."""
    from pyproj import Transformer
    from rasterio.features import rasterize

    from geotile.lines import LineOptions, vectorize_lines

    roads = side_road_scene()
    x0, y0 = SPUR_ORIGIN
    if grid.startswith("utm"):
        height = 0.25 if grid.endswith("0.25") else 0.5
        crs, transform, shape = "EPSG:32633", from_origin(x0 - 10, y0 + 215, 0.5, height), \
            (round(230 / height), 460)
    else:
        lon, lat = Transformer.from_crs(32633, 4326, always_xy=True).transform(x0 - 10, y0 + 215)
        height = 5e-6 if grid.endswith("5e-6") else 1e-5
        crs, transform, shape = "EPSG:4326", from_origin(lon, lat, 1e-5, height), \
            (round(460 * 5e-6 / height), 450)
    areas = roads.buffer(roads["hw"], cap_style="flat").to_crs(crs)
    burnt = rasterize([(a, 1) for a in areas], out_shape=shape, transform=transform)
    raster = make_raster("spurs.tif", np.where(burnt > 0, 0.9, 0.05).astype(np.float32),
                         crs=crs, transform=transform)
    vectorize_lines([raster], tmp_path / "l.gpkg", options=LineOptions(min_length=0))
    found = shapely.union_all(gpd.read_file(tmp_path / "l.gpkg").to_crs(32633).geometry.values)
    mains = shapely.union_all(roads.geometry[:2].values).buffer(3.5)
    kept = [name for name, road in zip(roads["name"][2:], roads.geometry[2:], strict=True)
            if road.difference(mains).intersection(found.buffer(1.0)).length >= 3]
    assert kept == ["N6", "E6", "N9", "E9", "N12", "E12", "N15", "E15"]


def test_bands_of_cut_pixels_hold_no_more_pixels_than_square_ones(make_raster, tmp_path,
                                                                  monkeypatch):
    """On 0.5 x 0.1 m pixels each pixel is cut in 5 before thinning, but the bands kept their
    rows and halo: 5 times the pixels of a band of square pixels (2.8x the peak memory,
    3-4.6x the time). A band of cut pixels is now no larger than one of square pixels of
    the cut width, and the side roads are all still found."""
    from rasterio.features import rasterize

    from geotile import lines as lines_module
    from geotile.lines import LineOptions, vectorize_lines

    roads = side_road_scene()
    x0, y0 = SPUR_ORIGIN
    transform, shape = from_origin(x0 - 10, y0 + 215, 0.5, 0.1), (2300, 460)
    areas = roads.buffer(roads["hw"], cap_style="flat")
    burnt = rasterize([(a, 1) for a in areas], out_shape=shape, transform=transform)
    raster = make_raster("spurs.tif", np.where(burnt > 0, 0.9, 0.05).astype(np.float32),
                         crs="EPSG:32633", transform=transform)
    sizes = []
    skeleton = lines_module.road_skeleton

    def recorded(inside):
        sizes.append(inside.size)
        return skeleton(inside)

    monkeypatch.setattr(lines_module, "road_skeleton", recorded)
    options = LineOptions(min_length=0, band_rows=1000, halo=64)
    vectorize_lines([raster], tmp_path / "l.gpkg", options=options)
    square_band = (1000 + 2 * 64) * (460 * 5 + 2 * 64)  # square pixels, the cut width
    assert len(sizes) > 1 and max(sizes) <= square_band
    found = shapely.union_all(gpd.read_file(tmp_path / "l.gpkg").geometry.values)
    mains = shapely.union_all(roads.geometry[:2].values).buffer(3.5)
    kept = [name for name, road in zip(roads["name"][2:], roads.geometry[2:], strict=True)
            if road.difference(mains).intersection(found.buffer(1.0)).length >= 3]
    assert kept == ["N6", "E6", "N9", "E9", "N12", "E12", "N15", "E15"]


@pytest.mark.parametrize("degrees", [60, 90, -90, 180])
def test_a_rotated_grid_gives_the_lines_of_the_same_pixels_north_up(make_raster, tmp_path,
                                                                    degrees):
    """The same road pixels under a 0.5 m grid turned by ``degrees``: the same lengths and
    vertices as north-up. A pixel was max(|a|, |e|) of the transform, 0.25 m at 60 degrees
    and 0 at 90: the staircase stayed (182 vertices for 4) and length_m was 8 % long."""
    from affine import Affine

    from geotile.lines import vectorize_lines

    road = shapely.LineString([(20, 40), (280, 170)])
    raster, _ = burnt_roads(make_raster, "north.tif", [road], 6, 300)
    with rasterio.open(raster) as src:
        pixels = src.read(1)
    turned = (Affine.translation(*UTM_ORIGIN) * Affine.rotation(-degrees)
              * Affine.scale(0.5, -0.5))
    rotated = make_raster("turned.tif", pixels, transform=turned)
    measured = []
    for path in (raster, rotated):
        vectorize_lines(path, tmp_path / f"{path.stem}.gpkg")
        frame = gpd.read_file(tmp_path / f"{path.stem}.gpkg")
        measured.append(sorted((round(length, 1), len(line.coords)) for length, line in
                               zip(frame["length_m"], frame.geometry, strict=True)))
    assert len(measured[0]) == 1 and measured[0][0][1] < 10, measured
    assert measured[1] == measured[0]


def cad_dxf(path, outlines):
    """A DXF of LWPOLYLINEs (layer, points, closed), as CAD saves building outlines: GDAL
    reads each as a LineString, closed ones too."""
    body = ""
    for layer, points, closed in outlines:
        body += f"0\nLWPOLYLINE\n8\n{layer}\n90\n{len(points)}\n70\n{int(closed)}\n"
        body += "".join(f"10\n{x}\n20\n{y}\n" for x, y in points)
    path.write_text(f"0\nSECTION\n2\nENTITIES\n{body}0\nENDSEC\n0\nEOF\n")
    return path


def test_closed_cad_polylines_are_named_with_the_conversion_that_burns_them(
        run_cli, make_raster, tmp_path):
    """Building outlines from CAD (closed polylines, read as LineStrings) were refused as
    "lines (roads?) ... Give --line-width M", which burns only their outlines; nothing said
    they are closed rings that ogr2ogr -nlt POLYGON turns into polygons."""
    image = make_raster("img.tif", np.zeros((40, 40), np.uint8))

    def square(col, row):
        return [(X0 + col, Y0 - row), (X0 + col + 4, Y0 - row), (X0 + col + 4, Y0 - row - 4),
                (X0 + col, Y0 - row - 4)]

    houses = cad_dxf(tmp_path / "plan.dxf", [("Gebaeude", square(2, 2), True),
                                             ("Gebaeude", square(10, 2), True)])
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", houses, image, "-o", out, "--labels-crs", UTM_CRS,
                     "--class-field", "Layer")
    assert result.exit_code == 1 and not out.exists()
    assert "plan.dxf" in result.stderr and "2 of them are closed" in result.stderr
    assert "ogr2ogr -nlt POLYGON" in result.stderr and "Traceback" not in result.output
    mixed = write_lines(tmp_path / "mixed.geojson", [
        shapely.Polygon(square(2, 2)), shapely.LineString(square(10, 2) + square(10, 2)[:1])])
    from geotile.masks import make_masks

    with pytest.warns(Warning, match=r"mixed.geojson: 1 line feature was left out.*1 of "
                                     r"them is closed.*ogr2ogr -nlt POLYGON"):
        [summary] = make_masks(mixed, [image], [out])
    assert summary["positive_pixels"] == 64


def test_cad_outlines_with_one_open_polyline_still_get_the_conversion(
        run_cli, make_raster, tmp_path):
    """A CAD plan of 4 closed building outlines and one open polyline (a fence, or an
    outline left a vertex short) was refused as lines with the --line-width advice alone
    after dc5a930 (every line had to be closed), which burns only the outlines; most lines
    closed are outlines: the conversion is named."""
    image = make_raster("img.tif", np.zeros((40, 40), np.uint8))

    def square(col, row):
        return [(X0 + col, Y0 - row), (X0 + col + 4, Y0 - row), (X0 + col + 4, Y0 - row - 4),
                (X0 + col, Y0 - row - 4)]

    plan = cad_dxf(tmp_path / "plan.dxf", [
        *[("Gebaeude", square(col, 2), True) for col in (2, 8, 14)],
        ("Gebaeude", square(2, 10), True), ("Zaun", square(10, 10), False)])
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", plan, image, "-o", out, "--labels-crs", UTM_CRS)
    assert result.exit_code == 1 and not out.exists()
    assert "4 of them are closed" in result.stderr, result.stderr
    assert "ogr2ogr -nlt POLYGON" in result.stderr and "Traceback" not in result.output


def test_roads_with_a_roundabout_are_not_called_cad_outlines(run_cli, make_raster, tmp_path):
    """A road network with a roundabout (a closed line) without --line-width: the refusal
    said '1 of them is closed (outlines, as CAD polylines are read)' and advised
    ogr2ogr -nlt POLYGON, which would make every road a polygon; the roads burn with
    --line-width as they did."""
    image = make_raster("img.tif", np.zeros((40, 40), np.uint8))
    roundabout = shapely.Point(X0 + 10, Y0 - 10).buffer(2.5).exterior  # 0.5 m pixels
    roads = write_lines(tmp_path / "roads.geojson", [
        shapely.LineString([(X0, Y0 - 10), (X0 + 7.5, Y0 - 10)]), roundabout,
        shapely.LineString([(X0 + 12.5, Y0 - 10), (X0 + 20, Y0 - 10)])])
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", roads, image, "-o", out)
    assert result.exit_code == 1 and "--line-width" in result.stderr
    assert "closed" not in result.stderr and "ogr2ogr" not in result.stderr, result.stderr
    result = run_cli("make-masks", roads, image, "-o", out, "--line-width", "2")
    assert result.exit_code == 0 and "Warning" not in result.stderr, result.output
    with rasterio.open(out) as src:
        mask = src.read(1)
    assert mask[20, 5] == 1 and mask[15, 20] == 1 and mask[20, 20] == 0


def test_evaluate_says_closed_cad_outlines_are_polygons_once_converted(run_cli, tmp_path):
    """A truth of CAD building outlines (closed polylines) against predicted polygons was
    refused as "holds lines ... compare centrelines with centrelines", as if they were
    roads."""
    ring = [(X0, Y0), (X0 + 4, Y0), (X0 + 4, Y0 - 4), (X0, Y0 - 4)]
    truth = cad_dxf(tmp_path / "plan.dxf", [("Gebaeude", ring, True)])
    pred = tmp_path / "pred.geojson"
    gpd.GeoDataFrame(geometry=[shapely.Polygon(ring)], crs=UTM_CRS).to_file(pred)
    result = run_cli("evaluate", pred, truth, "--labels-crs", UTM_CRS)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "plan.dxf holds lines" in result.stderr and "1 of them is closed" in result.stderr
    assert "ogr2ogr -nlt POLYGON" in result.stderr


def test_the_band_working_set_gives_what_scipy_gives_on_the_whole_band():
    """The leaner band steps of --lines (holes filled from one labelling, edge distances
    from the feature transform, neighbourhood codes packed) give exactly what
    binary_fill_holes, the full distance_transform_edt and skimage's thin give, on random
    road masks with and without no data and on non-square pixels."""
    from scipy import ndimage
    from skimage.morphology import thin

    from geotile.lines import _fill_small_holes, edge_distances, road_skeleton

    rng = np.random.default_rng(7)
    for case in range(400):
        h, w = rng.integers(1, 48, 2)
        inside = rng.random((h, w)) < rng.uniform(0.3, 0.95)
        no_data = rng.random((h, w)) < (0.15 if case % 2 else 0.0)
        most = rng.uniform(0, 25)
        holes = ndimage.binary_fill_holes(inside) & ~inside & ~no_data
        labels, count = ndimage.label(holes)
        small = np.bincount(labels.ravel(), minlength=count + 1) <= most
        small[0] = False
        assert (_fill_small_holes(inside, no_data, most) == (inside | small[labels])).all()
        sides = (1.0, 1.0) if case % 3 else (0.3, 0.5)
        r, c = np.nonzero(inside)
        assert np.array_equal(edge_distances(inside, sides, r, c),
                              ndimage.distance_transform_edt(inside, sampling=sides)[r, c])
        assert (road_skeleton(inside) == thin(inside)).all()


def test_skeleton_pixels_are_found_by_their_exact_centre_and_the_later_band_wins():
    """The per-class table that replaced dicts keyed by (x, y): a centre given again (a
    band's halo) holds its later values; a point off every centre is not found (edge 0.0);
    -0.0 and 0.0 are one coordinate, as in a dict; extra edges (junction centres) win."""
    from geotile.skeleton_pixels import SkeletonPixels

    table = SkeletonPixels()
    table.add(np.array([[[0.5, 1.5], [1.5, 1.5]]]), [[0.25, 0.5]], [[0, 0]], [[1.0, 2.0]])
    table.add(np.array([[[1.5, 1.5], [-0.0, 2.5]]]), [[0.75, 1.0]], [[1, 1]], [[3.0, 4.0]])
    rows = table.find(np.array([[1.5, 1.5], [0.5, 1.5], [0.0, 2.5], [9.0, 9.0]]))
    assert rows[-1] == -1
    assert table.score[rows[:3]].tolist() == [0.75, 0.25, 1.0]
    assert table.owner[rows[:3]].tolist() == [1, 0, 1]
    table.extra_edges[(0.5, 1.5)] = 7.0
    assert table.edges(np.array([[1.5, 1.5], [0.5, 1.5], [9.0, 9.0]])).tolist() == [3.0, 7.0,
                                                                                     0.0]


def test_osmnx_geopackage_of_nodes_and_edges_is_scored_on_its_edges(run_cli, tmp_path):
    """An osmnx GeoPackage (ox.save_graph_geopackage: a 'nodes' point layer, then an 'edges'
    line layer) as TRUTH or PREDICTION was refused: "pred.gpkg holds lines but roads.gpkg does
    not", although make-masks reads its edges: its one layer of lines is scored."""
    roads = [shapely.LineString([(X0, Y0), (X0 + 100, Y0)]),
             shapely.LineString([(X0, Y0), (X0, Y0 - 60)])]
    single = write_lines(tmp_path / "pred.gpkg", roads)
    graph = tmp_path / "roads.gpkg"
    corners = [shapely.Point(X0, Y0), shapely.Point(X0 + 100, Y0), shapely.Point(X0, Y0 - 60)]
    gpd.GeoDataFrame({"osmid": [1, 2, 3]}, geometry=corners, crs=UTM_CRS).to_file(
        graph, layer="nodes")
    gpd.GeoDataFrame({"u": [1, 1], "v": [2, 3], "highway": ["motorway", "residential"]},
                     geometry=[roads[0], shapely.LineString([(X0, Y0), (X0, Y0 - 30)])],
                     crs=UTM_CRS).to_file(graph, layer="edges")
    for pred, truth, recall in ((single, graph, 1.0), (graph, single, 132 / 160)):  # +2 m buffer
        result = run_cli("evaluate", pred, truth, "--json")
        assert result.exit_code == 0, result.output
        scores = json.loads(result.stdout)
        assert scores["mode"] == "line" and scores["recall"] == pytest.approx(recall, abs=1e-3)
        assert scores["true_length_m"] == pytest.approx(130 if truth == graph else 160)


def test_truth_folder_of_shapefiles_is_one_dataset_with_layer(run_cli, tmp_path):
    """An unzipped Geofabrik extract (a folder of gis_osm_roads_free_1.shp,
    gis_osm_buildings_a_free_1.shp...) as TRUTH with --layer, which make-masks reads as one
    dataset, was refused: "osm is a folder but pred.gpkg is not"; the layer is scored."""
    roads = [shapely.LineString([(X0, Y0), (X0 + 100, Y0)])]
    pred = write_lines(tmp_path / "pred.gpkg", roads)
    folder = tmp_path / "osm"
    folder.mkdir()
    track = shapely.LineString([(X0, Y0 - 50), (X0 + 100, Y0 - 50)])
    write_lines(folder / "gis_osm_roads_free_1.shp", [*roads, track],
                fclass=["primary", "track"])
    gpd.GeoDataFrame({"fclass": ["house"]}, geometry=[shapely.box(X0, Y0 - 9, X0 + 9, Y0)],
                     crs=UTM_CRS).to_file(folder / "gis_osm_buildings_a_free_1.shp")
    result = run_cli("evaluate", pred, folder, "--layer", "gis_osm_roads_free_1", "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["mode"] == "line" and scores["true_length_m"] == pytest.approx(200)
    assert scores["precision"] == 1.0 and scores["recall"] == pytest.approx(0.5)


def test_a_prediction_folder_against_one_layer_of_a_truth_folder_is_told_why(
        run_cli, tmp_path):
    """A folder of per-tile predictions against a Geofabrik folder with --layer was told
    "pred is a folder but osm is not", though osm is a folder: now the line says that --layer
    reads it as one dataset, and how to give one PREDICTION file."""
    from .conftest import assert_one_line_error

    roads = [shapely.LineString([(X0, Y0), (X0 + 100, Y0)])]
    (tmp_path / "pred").mkdir()
    write_lines(tmp_path / "pred" / "tile_a.gpkg", roads)
    folder = tmp_path / "osm"
    folder.mkdir()
    write_lines(folder / "gis_osm_roads_free_1.shp", roads, fclass=["primary"])
    result = run_cli("evaluate", tmp_path / "pred", folder, "--layer", "gis_osm_roads_free_1")
    assert_one_line_error(result, "gis_osm_roads_free_1.shp", "one PREDICTION file")
    assert f"{folder} is not" not in result.output


def test_a_band_reads_only_the_rasters_near_it_of_many_on_their_own_grids(tmp_path,
                                                                        monkeypatch):
    """A row of chips each on its own grid (origins a quarter pixel apart): a band tried
    every other raster given, n^2 tries (1,024 chips: 1M, 28 s of vectorize --lines); it
    reads its neighbours only, and the road across them is still one line."""
    from geotile import lines as module

    array = np.zeros((20, 20), np.float32)
    array[8:12] = 0.9  # a road 2 m wide along the row
    paths = []
    for i in range(12):
        paths.append(tmp_path / f"chip_{i:02d}.tif")
        with rasterio.open(paths[-1], "w", driver="GTiff", width=20, height=20, count=1,
                           dtype="float32", crs=UTM_CRS,
                           transform=from_origin(X0 + 10 * i + 0.125 * i, Y0, 0.5, 0.5)) as dst:
            dst.write(array, 1)
    tried = []
    resample = module._resample_other
    monkeypatch.setattr(module, "_resample_other", lambda other, *a: tried.append(other.path)
                        or resample(other, *a))
    frame, _ = module.centrelines(paths, module.LineOptions(halo=4))
    assert len(frame) == 1
    road = shapely.LineString([(X0, Y0 - 5), (X0 + 10 * 12 + 1.375, Y0 - 5)])
    assert frame.geometry.iloc[0].hausdorff_distance(road) < 1.0
    assert len(tried) <= 2 * 12  # each band the chips either side, not the 11 others


def test_a_folder_of_one_pair_of_centrelines_says_one_image(run_cli, tmp_path):
    """The line table of a folder said "1 images"; now "1 image"."""
    (tmp_path / "pred").mkdir()
    (tmp_path / "truth").mkdir()
    road = shapely.LineString([(X0, Y0), (X0 + 100, Y0)])
    write_lines(tmp_path / "truth" / "a.gpkg", [road])
    write_lines(tmp_path / "pred" / "a.gpkg", [road])
    table = run_cli("evaluate", tmp_path / "pred", tmp_path / "truth")
    assert table.exit_code == 0, table.output
    assert "m): 1 image, " in table.stdout and "1 images" not in table.stdout


def test_centrelines_against_a_truth_of_roads_and_buildings_score_its_roads(run_cli, tmp_path):
    """SpaceNet 8's annotations/<tile>.geojson holds buildings (polygons) and roads (lines,
    'highway'): centrelines scored against it were refused as "the truth does not hold
    lines". Its roads are the truth now, its buildings left out with one warning naming
    them (as lines are left out of object scores), per file and per folder."""
    roads = [shapely.LineString([(X0, Y0 - 20), (X0 + 100, Y0 - 20)]),
             shapely.LineString([(X0 + 50, Y0 - 20), (X0 + 50, Y0 - 60)])]
    buildings = [shapely.box(X0 + 5, Y0 - 15, X0 + 15, Y0 - 5),
                 shapely.box(X0 + 60, Y0 - 15, X0 + 70, Y0 - 5)]
    (tmp_path / "pred").mkdir()
    (tmp_path / "annotations").mkdir()
    truth = write_lines(tmp_path / "annotations" / "0_15_63.geojson", [*buildings, *roads],
                        building=["yes", "yes", None, None],
                        highway=[None, None, "residential", "primary"])
    pred = write_lines(tmp_path / "pred" / "0_15_63.geojson", [roads[0]])
    for args in ((pred, truth), (tmp_path / "pred", tmp_path / "annotations")):
        result = run_cli("evaluate", *args, "--json")
        assert result.exit_code == 0, result.output
        scores = json.loads(result.stdout)
        assert scores["mode"] == "line"
        assert scores["true_length_m"] == pytest.approx(140.0)
        assert scores["predicted_length_m"] == pytest.approx(100.0)
        assert scores["precision"] == pytest.approx(1.0)
        assert scores["recall"] == pytest.approx(100 / 140, abs=0.02)
        assert "0_15_63.geojson" in result.stderr and "2 features are polygons" in \
            result.stderr
    only_buildings = write_lines(tmp_path / "buildings.geojson", buildings)
    result = run_cli("evaluate", pred, only_buildings)
    assert result.exit_code == 1 and "holds lines but" in result.stderr


def test_lines_of_a_raster_without_crs_to_geojson_warn_it_is_read_as_lonlat(run_cli,
                                                                           make_raster,
                                                                           tmp_path):
    """vectorize --lines of an image without a CRS to .geojson writes pixel lines that
    GeoJSON readers other than geotile's take for lon/lat (evaluate read them so, 7.6
    million 'm' a side, before the file said "crs": null); polygons warn so ('prefer
    .gpkg'), lines did not. Now they do."""
    mask = np.zeros((50, 50), np.uint8)
    mask[20:24, 5:45] = 1
    raster = make_raster("plain.tif", mask, crs=None, transform=from_origin(0, 50, 1, 1))
    result = run_cli("vectorize", raster, "--lines", "-o", tmp_path / "plain.geojson")
    assert result.exit_code == 0, result.output
    said = [line for line in result.stderr.splitlines() if "no CRS" in line]
    assert len(said) == 1 and "longitude/latitude" in said[0] and ".gpkg" in said[0], said
    result = run_cli("vectorize", raster, "--lines", "-o", tmp_path / "plain.gpkg")
    assert result.exit_code == 0 and "longitude/latitude" not in result.stderr
