"""APLS (SpaceNet's road metric): graphs, control points, snapping, paths; evaluate --apls."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely
import shapely.affinity
from shapely import LineString

from geotile.apls import SNAP, SPACING, apls, control_points, road_graph
from geotile.errors import GeotileWarning

from .conftest import UTM_CRS, UTM_ORIGIN, assert_one_line_error
from .test_lines import write_lines

X0, Y0 = UTM_ORIGIN
#: a T: a 200 m road and a 150 m one from its middle
T_ROADS = [LineString([(0, 0), (200, 0)]), LineString([(100, 0), (100, 150)])]


def hmean(a, b):
    return 2 * a * b / (a + b) if a > 0 and b > 0 else 0.0


def ordered_pairs(n):
    return n * (n - 1)


def test_graph_has_nodes_at_ends_and_shared_vertices_only():
    # an X drawn as two lines sharing its centre vertex, and as four pieces meeting there,
    # and a road drawn in two pieces end to end (no node where they meet) and twice (one edge)
    cross = [LineString([(0, 0), (50, 50), (100, 100)]),
             LineString([(0, 100), (50, 50), (100, 0)])]
    pieces = [LineString([(0, 0), (50, 50)]), LineString([(50, 50), (100, 100)]),
              LineString([(0, 100), (50, 50)]), LineString([(50, 50), (100, 0)])]
    for lines in (cross, pieces):
        graph = road_graph(lines)
        assert len(graph.nodes) == 5 and len(graph.edges) == 4
    road = road_graph([LineString([(0, 0), (30, 0)]), LineString([(30, 0), (30, 40)]),
                       LineString([(0, 0), (30, 0)])])
    assert len(road.nodes) == 2 and len(road.edges) == 1 and road.lengths[0] == 70


def test_lines_crossing_without_a_shared_vertex_are_a_bridge_not_a_junction():
    # apls.py (wkt_to_G, graphTools) makes nodes of equal vertices only: an overpass (OSM's
    # bridges, SpaceNet's) crosses its road without one, and no path turns there
    bridge = [LineString([(0, 0), (200, 200)]), LineString([(0, 200), (200, 0)])]
    graph = road_graph(bridge)
    assert len(graph.nodes) == 4 and len(graph.edges) == 2
    junction = [LineString([(0, 0), (100, 100), (200, 200)]),
                LineString([(0, 200), (100, 100), (200, 0)])]
    assert len(road_graph(junction).nodes) == 5
    # a prediction joining the roads at grade finds each of the bridge's paths, but the
    # paths it takes from one road onto the other have none in the truth
    with pytest.warns(GeotileWarning) as said:
        score = apls(junction, bridge)
    assert score.gt_onto_prop == pytest.approx(1.0)
    assert score.prop_onto_gt < 0.9
    # hand-drawn roads crossing at grade without a vertex would be split: said, once a side
    assert [str(w.message) for w in said] == [
        "APLS: 1 crossing of the true lines has no vertex of both: scored as a bridge (no "
        "turn there), as apls.py scores it; where roads meet, give both lines a vertex there."]
    with pytest.warns(GeotileWarning) as said:
        assert apls(bridge, bridge).apls == pytest.approx(1.0)
    assert len(said) == 2 and "of the predicted lines" in str(said[0].message)


def test_a_road_crossing_itself_on_a_bridge_scored_against_itself_is_1():
    # a ramp looping under itself, one line through (100, 0) twice, where control points
    # 100 m and 500 m along it lie: each is placed on its own pass, as apls.py places it
    ramp = LineString([(0, 0), (200, 0), (200, 100), (100, 100), (100, -100)])
    assert not ramp.is_simple and ramp.length == 600
    assert apls([ramp], [ramp]).apls == pytest.approx(1.0)


def test_a_side_road_ending_a_hair_off_the_road_it_meets_joins_it():
    # reprojection leaves a T's end 1e-9 m off the main road (no shared vertex): still a T
    off = [T_ROADS[0], LineString([(100, 1e-9), (100, 150)])]
    assert len(road_graph(off).nodes) == 4 and len(road_graph(off).edges) == 3
    assert apls(off, T_ROADS).apls == pytest.approx(1.0)
    apart = [T_ROADS[0], LineString([(100, 0.5), (100, 150)])]  # 0.5 m apart: a gap
    assert len(road_graph(apart).edges) == 2  # the main road runs on through x 100


def test_evaluate_apls_of_a_truth_of_crumbs_says_so(run_cli, tmp_path):
    # a 3 m line is a true line the table counts, but no road for APLS (under 5 m)
    crumb = [LineString([(X0, Y0), (X0 + 3, Y0)])]
    truth = write_lines(tmp_path / "t.gpkg", crumb)
    result = run_cli("evaluate", truth, truth, "--apls")
    assert result.exit_code == 0, result.output
    assert "1 true (3.0 m)" in result.stdout
    assert "APLS none (no true road of 5 m or more)" in result.stdout


def test_a_closed_loop_alone_is_a_road_not_a_crumb():
    # a ring road (or a roundabout a tile cut its roads off) has no end: it is one node and
    # an edge back to it, but its paths are long, and it is scored as a road
    ring = shapely.Point(0, 0).buffer(30, quad_segs=16).exterior  # 188 m around
    assert apls([ring], [ring]).apls == pytest.approx(1.0)
    assert apls([], [ring]).apls == 0.0
    shifted = shapely.affinity.translate(ring, 1.0)  # within the 4 m of snapping
    assert apls([shifted], [ring]).apls > 0.9


def test_a_ring_hanging_at_a_junction_and_a_road_drawn_twice_are_roads():
    # apls.py's GeoJSON reading drops every copy of an edge drawn twice, a cul-de-sac loop
    # (its two directions) included: there missing the loop costs nothing (1.0) and a road
    # drawn twice in the truth vanishes from it (0.769); here both are roads
    loop = LineString([(100, 150), (140, 190), (100, 230), (60, 190), (100, 150)])
    with_loop = [*T_ROADS, loop]
    assert apls(with_loop, with_loop).apls == pytest.approx(1.0)
    without = apls(T_ROADS, with_loop)
    assert without.prop_onto_gt == 1.0 and without.gt_onto_prop < 0.5
    assert apls(T_ROADS, [*T_ROADS, T_ROADS[1]]).apls == pytest.approx(1.0)


def test_fragments_shorter_than_5_m_are_left_out_as_apls_py_cleans_them():
    # apls.py drops each connected piece whose longest path is under 5 m (_clean_sub_graphs)
    crumbs = [LineString([(300, 300), (303, 300)]),  # 3 m
              LineString([(400, 400), (402, 400)]), LineString([(402, 400), (402, 402)]),
              LineString([(402, 400), (404, 400)])]  # 6 m of lines, paths of 4 m at most
    assert apls([*T_ROADS, *crumbs], T_ROADS).apls == 1.0
    assert apls(T_ROADS, crumbs).apls is None  # a truth of crumbs: none
    kept = [LineString([(300, 300), (306, 300)])]  # 6 m: a road the truth lacks
    assert apls([*T_ROADS, *kept], T_ROADS).prop_onto_gt < 1


def test_control_points_every_50_m_as_apls_py_injects_them():
    lines = [LineString([(0, 0), (30, 0)]), LineString([(0, 10), (40, 10)]),
             LineString([(0, 20), (100, 20)]), LineString([(0, 30), (120, 30)])]
    graph = road_graph(lines)
    edge, along = control_points(graph)
    by_length = {float(graph.lengths[e]): [] for e in range(len(graph.edges))}
    for e, t in zip(edge, along, strict=True):
        by_length[float(graph.lengths[e])].append(float(t))
    # < 37.5 m: none; 37.5..50: the middle; longer: n - 1 equal steps, n = ceil(L / 50) + 1
    assert by_length == {30.0: [], 40.0: [20.0], 100.0: [50.0], 120.0: [40.0, 80.0]}
    assert SPACING == 50 and SNAP == 4


def test_identical_graphs_score_1_and_an_empty_proposal_0():
    assert apls(T_ROADS, T_ROADS).apls == 1.0
    empty = apls([], T_ROADS)
    assert (empty.apls, empty.gt_onto_prop, empty.prop_onto_gt) == (0.0, 0.0, 0.0)
    nothing = apls(T_ROADS, [])  # no truth: no APLS (apls.py skips such images)
    assert nothing.apls is None and nothing.as_dict()["apls"] is None


def test_a_graph_of_many_control_points_is_said_to_take_minutes_before_it_is_scored(
        monkeypatch, caplog):
    # all pairs of paths: a 6 km grid of 100 m blocks (11,000 control points) took 52 s of
    # CPU, 10 km about 7 min; said as it starts (a warning is said when the command ends)
    import logging

    import geotile.apls

    xs, ys = (0, 100, 200, 300, 400), (0, 100, 200)  # streets with a vertex at each junction
    grid = [LineString([(x, y) for x in xs]) for y in ys] + \
        [LineString([(x, y) for y in ys]) for x in xs]
    truth = geotile.apls.without_fragments(road_graph(grid))
    points = len(truth.nodes) + len(control_points(truth)[0])
    monkeypatch.setattr(geotile.apls, "LARGE", points - 1)
    with caplog.at_level(logging.WARNING, logger="geotile"):
        assert apls(grid, grid).apls == pytest.approx(1.0)
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and f"{points:,} control points" in said[0]
    assert f"{points * (points - 1):,} pairs" in said[0] and "minutes" in said[0]
    caplog.clear()
    monkeypatch.setattr(geotile.apls, "LARGE", points)
    with caplog.at_level(logging.WARNING, logger="geotile"):
        apls(grid, grid)
    assert not caplog.records


def test_a_missing_road_costs_each_path_to_its_control_points():
    score = apls([LineString([(0, 0), (200, 0)])], T_ROADS)
    # truth's control points: 4 nodes, (50, 0), (150, 0), (100, 50), (100, 100): 8; the
    # 3 on the missing road snap nowhere: only the 5 x 4 paths among the others are kept
    assert score.gt_onto_prop == pytest.approx(1 - (ordered_pairs(8) - 20) / ordered_pairs(8))
    assert score.prop_onto_gt == 1.0  # the proposal's road is all in the truth
    assert score.apls == pytest.approx(hmean(score.gt_onto_prop, 1.0))
    assert score.apls == pytest.approx(10 / 19)


def test_a_gap_in_a_road_cuts_every_path_across_it():
    gap = [LineString([(0, 0), (90, 0)]), LineString([(110, 0), (200, 0)]), T_ROADS[1]]
    score = apls(gap, T_ROADS)
    # truth's 8 points fall in 3 pieces of the proposal: {(0,0), (50,0)}, {(150,0),
    # (200,0)}, and the junction with the 3 points of the side road: 2 + 2 + 12 paths kept
    assert score.gt_onto_prop == pytest.approx(16 / ordered_pairs(8))
    # the proposal's 10 points (2 ends and a middle a piece, 4 on the side road) join only
    # within their pieces, as the truth joins them
    assert score.prop_onto_gt == 1.0 and score.prop_points == 10
    assert score.apls == pytest.approx(hmean(2 / 7, 1.0)) == pytest.approx(4 / 9)


def test_a_spurious_spur_costs_the_proposal_side_only():
    spur = [*T_ROADS, LineString([(50, 0), (50, 60)])]
    score = apls(spur, T_ROADS)
    assert score.gt_onto_prop == 1.0
    # 12 points: 6 nodes, the middles of the 50 m stretches and of the spur, (150, 0),
    # 2 on the side road; the spur's end and middle snap nowhere
    assert score.prop_points == 12
    assert score.prop_onto_gt == pytest.approx(ordered_pairs(10) / ordered_pairs(12))
    assert score.apls == pytest.approx(30 / 37)


def test_a_detour_costs_its_relative_length_difference():
    truth = [LineString([(0, 0), (300, 0)])]
    detour = [LineString([(0, 0), (100, 0), (100, 3), (200, 3), (200, 0), (300, 0)])]
    score = apls(detour, truth)
    # the truth's points every 50 m snap onto the detour (150 m: 3 m across onto its
    # middle); their distances along it, against along the truth
    xs = np.arange(0, 301, 50.0)
    along = np.where(xs <= 100, xs, np.where(xs >= 200, xs + 6, xs + 3))
    costs = [min(1, abs(abs(a - b) - abs(x - y)) / abs(x - y))
             for x, a in zip(xs, along, strict=True) for y, b in zip(xs, along, strict=True)
             if x != y]
    assert score.gt_onto_prop == pytest.approx(1 - np.mean(costs))
    assert 0.9 < score.gt_onto_prop < 1


def test_control_points_snap_within_4_m_only():
    near = apls([LineString([(0, 3.9), (200, 3.9)])], [LineString([(0, 0), (200, 0)])])
    assert near.apls == 1.0  # every path the same length, 3.9 m aside
    far = apls([LineString([(0, 4.1), (200, 4.1)])], [LineString([(0, 0), (200, 0)])])
    assert far.apls == 0.0


def test_apls_is_symmetric_and_the_harmonic_mean_of_its_directions():
    rng = np.random.default_rng(7)
    a = [LineString(rng.uniform(0, 300, (3, 2))) for _ in range(6)]
    b = [shapely.affinity.translate(line, 1.0, 2.0) for line in a[1:]]
    ab, ba = apls(b, a), apls(a, b)
    assert ab.gt_onto_prop == pytest.approx(ba.prop_onto_gt)
    assert ab.prop_onto_gt == pytest.approx(ba.gt_onto_prop)
    assert ab.apls == pytest.approx(ba.apls)
    assert ab.apls == pytest.approx(hmean(ab.gt_onto_prop, ab.prop_onto_gt))
    assert 0 < ab.apls < 1


# ----------------------------------------------------------------------------- evaluate


def placed(lines, dx=X0, dy=Y0):
    return [shapely.affinity.translate(line, dx, dy) for line in lines]


def scored(run_cli, *args):
    result = run_cli("evaluate", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_evaluate_apls_beside_the_buffer_measures(run_cli, tmp_path):
    truth = write_lines(tmp_path / "truth.gpkg", placed(T_ROADS))
    spur = write_lines(tmp_path / "spur.gpkg",
                       placed([*T_ROADS, LineString([(50, 0), (50, 60)])]))
    got = scored(run_cli, spur, truth, "--apls")
    assert got["apls"] == pytest.approx(30 / 37, abs=1e-6)
    assert got["apls_gt_onto_prop"] == 1.0
    assert got["apls_prop_onto_gt"] == pytest.approx(90 / 132, abs=1e-6)
    assert got["recall"] == pytest.approx(1.0)
    assert got["precision"] == pytest.approx(352 / 410)  # the spur's first 2 m within 2 m
    assert "apls" not in scored(run_cli, spur, truth)  # opt-in: O(n^2) paths
    table = run_cli("evaluate", spur, truth, "--apls")
    assert table.exit_code == 0, table.output
    assert "APLS 0.8108 (truth onto prediction 1.0000, prediction onto truth 0.6818)" in \
        table.stdout


def test_evaluate_apls_measures_lonlat_lines_in_metres(run_cli, tmp_path):
    truth = write_lines(tmp_path / "truth.gpkg", placed(T_ROADS))
    gap = placed([LineString([(0, 0), (90, 0)]), LineString([(110, 0), (200, 0)]),
                  T_ROADS[1]])
    gpd.GeoDataFrame(geometry=gap, crs=UTM_CRS).to_crs(4326).to_file(tmp_path / "gap.geojson")
    got = scored(run_cli, tmp_path / "gap.geojson", truth, "--apls")  # in the truth's CRS
    assert got["apls"] == pytest.approx(4 / 9, abs=1e-6)
    # both in lon/lat: measured in their UTM zone (not degrees), the T still joined where
    # the side road's end lands a hair off the main road; lengths away from multiples of
    # 50 m, whose control points a scale change of 0.04 % would add or remove
    t_roads = [LineString([(0, 0), (210, 0)]), LineString([(105, 0), (105, 160)])]
    gap = [LineString([(0, 0), (95, 0)]), LineString([(115, 0), (210, 0)]), t_roads[1]]
    expected = apls(gap, t_roads).apls
    for name, lines in (("t.geojson", t_roads), ("g.geojson", gap)):
        gpd.GeoDataFrame(geometry=placed(lines), crs=UTM_CRS).to_crs(4326).to_file(
            tmp_path / name)
    got = scored(run_cli, tmp_path / "g.geojson", tmp_path / "t.geojson", "--apls")
    assert got["apls"] == pytest.approx(expected, abs=1e-3)
    assert 0.3 < expected < 0.6


def test_evaluate_apls_of_lines_with_speeds_says_it_weighs_paths_by_length(run_cli,
                                                                           tmp_path):
    # SpaceNet 5's truth carries inferred_speed_mps and ranks by travel time (APLS_time):
    # its T at 20 and 8 m/s against the same T at 8 and 20 m/s is APLS_time 0.2 in apls.py
    truth = write_lines(tmp_path / "truth.geojson", placed(T_ROADS),
                        inferred_speed_mps=[20.0, 8.0])
    pred = write_lines(tmp_path / "pred.geojson", placed(T_ROADS),
                       inferred_speed_mps=[8.0, 20.0])
    result = run_cli("evaluate", pred, truth, "--apls", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["apls"] == 1.0
    assert "truth.geojson" in result.stderr and "inferred_speed_mps" in result.stderr
    assert "APLS_time" in result.stderr and "by length" in result.stderr
    plain = write_lines(tmp_path / "plain.geojson", placed(T_ROADS))
    quiet = run_cli("evaluate", plain, plain, "--apls", "--json")
    assert quiet.exit_code == 0 and "APLS_time" not in quiet.stderr


def test_evaluate_apls_refuses_lines_in_no_crs(run_cli, tmp_path):
    truth = write_lines(tmp_path / "truth.gpkg", T_ROADS, crs=None)
    pred = write_lines(tmp_path / "pred.gpkg", T_ROADS, crs=None)
    assert scored(run_cli, pred, truth)["units"] == "coordinates"
    assert_one_line_error(run_cli("evaluate", pred, truth, "--apls"), "pred.gpkg",
                          "truth.gpkg", "no CRS", "--labels-crs")


def test_evaluate_apls_of_folders_is_the_mean_over_images(run_cli, tmp_path):
    for side in ("pred", "truth"):
        (tmp_path / side).mkdir()
    write_lines(tmp_path / "truth/a.gpkg", placed(T_ROADS))
    write_lines(tmp_path / "pred/a.gpkg", placed([LineString([(0, 0), (200, 0)])]))
    write_lines(tmp_path / "truth/b.gpkg", placed(T_ROADS, dy=Y0 + 1000))
    write_lines(tmp_path / "pred/b.gpkg", placed(T_ROADS, dy=Y0 + 1000))
    got = scored(run_cli, tmp_path / "pred", tmp_path / "truth", "--apls")
    assert got["per_image"]["a"]["apls"] == pytest.approx(10 / 19, abs=1e-6)
    assert got["per_image"]["b"]["apls"] == 1.0
    assert got["apls"] == pytest.approx((10 / 19 + 1) / 2, abs=1e-6)
    table = run_cli("evaluate", tmp_path / "pred", tmp_path / "truth", "--apls")
    assert table.exit_code == 0, table.output
    assert "APLS 0.7632 (mean of 2 images)" in table.stdout


def test_evaluate_apls_of_folders_scores_a_truth_without_a_prediction_0(run_cli, tmp_path):
    # a missing prediction scores 0 as an empty one does (and an image a road CSV leaves
    # out): left out of the mean, writing nothing for the hardest tiles would score higher
    for side in ("pred", "truth"):
        (tmp_path / side).mkdir()
    write_lines(tmp_path / "truth/a.gpkg", placed(T_ROADS))
    write_lines(tmp_path / "pred/a.gpkg", placed(T_ROADS))
    write_lines(tmp_path / "truth/b.gpkg", placed(T_ROADS, dy=Y0 + 1000))  # no pred/b
    write_lines(tmp_path / "truth/c.gpkg", placed([LineString([(0, 0), (3, 0)])]))  # a crumb
    got = scored(run_cli, tmp_path / "pred", tmp_path / "truth", "--apls")
    assert got["per_image"]["a"]["apls"] == 1.0
    assert got["apls"] == 0.5 and got["apls_images"] == 2
    assert got["apls_unpredicted"] == [str(tmp_path / "truth/b.gpkg")]  # c: no road to score
    assert got["unpaired"]["truth"] == [str(tmp_path / "truth/b.gpkg"),
                                        str(tmp_path / "truth/c.gpkg")]
    table = run_cli("evaluate", tmp_path / "pred", tmp_path / "truth", "--apls")
    assert table.exit_code == 0, table.output
    assert "APLS 0.5000 (mean of 2 images; 1 without a prediction scored 0)" in table.stdout
    plain = scored(run_cli, tmp_path / "pred", tmp_path / "truth")  # no --apls: not read
    assert "apls" not in plain and plain["images"] == 1


def test_evaluate_apls_applies_to_lines_only(run_cli, tmp_path):
    square = shapely.box(X0, Y0, X0 + 10, Y0 + 10)
    polygons = write_lines(tmp_path / "p.gpkg", [square])
    assert_one_line_error(run_cli("evaluate", polygons, polygons, "--apls"), "--apls",
                          code=2)


def test_evaluate_apls_of_two_road_csvs_per_image_and_their_mean(run_cli, make_raster,
                                                                 tmp_path):
    from .test_spacenet_roads import SIZE, TRANSFORM, roads_csv

    (tmp_path / "images").mkdir()
    make_raster("images/PS-RGB_AOI_2_Vegas_img1.tif", np.zeros((1, SIZE, SIZE), np.uint8),
                transform=TRANSFORM)
    truth = roads_csv(tmp_path / "truth.csv")  # img1 road_network, img2 LINESTRING EMPTY
    pred = roads_csv(tmp_path / "pred.csv")
    got = scored(run_cli, pred, truth, "--image", tmp_path / "images", "--apls")
    assert got["per_image"]["AOI_2_Vegas_img1"]["apls"] == 1.0
    assert got["per_image"]["AOI_2_Vegas_img2"]["apls"] is None  # no true road: none
    assert got["apls"] == 1.0 and got["apls_images"] == 1


def test_evaluate_apls_of_road_csvs_scores_an_image_left_out_of_the_prediction_0(
        run_cli, make_raster, tmp_path):
    from .test_spacenet_roads import SIZE, TRANSFORM, roads_csv, write_rows

    (tmp_path / "images").mkdir()
    make_raster("images/PS-RGB_AOI_2_Vegas_img1.tif", np.zeros((1, SIZE, SIZE), np.uint8),
                transform=TRANSFORM)
    truth = roads_csv(tmp_path / "truth.csv")  # img1 road_network, img2 LINESTRING EMPTY
    pred = write_rows(tmp_path / "pred.csv", ["ImageId", "WKT_Pix"],
                      [["AOI_2_Vegas_img2", "LINESTRING EMPTY"]])  # img1 left out
    got = scored(run_cli, pred, truth, "--image", tmp_path / "images", "--apls")
    assert got["per_image"]["AOI_2_Vegas_img1"]["apls"] == 0.0
    assert got["apls"] == 0.0 and got["apls_images"] == 1
    assert got["apls_unpredicted"] == ["AOI_2_Vegas_img1"]  # as folders list theirs
    table = run_cli("evaluate", pred, truth, "--image", tmp_path / "images", "--apls")
    assert table.exit_code == 0, table.output
    assert "APLS 0.0000 (mean of 1 image; 1 without a prediction scored 0)" in table.stdout
    both = scored(run_cli, truth, truth, "--image", tmp_path / "images", "--apls")
    assert both["apls"] == 1.0 and both["apls_unpredicted"] == []


def test_evaluate_apls_of_spacenet_5_road_csvs_says_it_weighs_paths_by_length(
        run_cli, make_raster, tmp_path):
    from .test_spacenet_roads import SIZE, TRANSFORM, write_rows

    (tmp_path / "images").mkdir()
    make_raster("images/PS-RGB_AOI_7_Moscow_chip0.tif", np.zeros((1, SIZE, SIZE), np.uint8),
                transform=TRANSFORM)
    rows = [["AOI_7_Moscow_chip0", "LINESTRING (10 20, 210 20)", "100.0", "5.0"],
            ["AOI_7_Moscow_chip0", "LINESTRING (110 20, 110 320)", "150.0", "18.8"]]
    header = ["ImageId", "WKT_Pix", "length_m", "travel_time_s"]
    truth = write_rows(tmp_path / "truth.csv", header, rows)
    pred = write_rows(tmp_path / "pred.csv", header, rows)
    result = run_cli("evaluate", pred, truth, "--image", tmp_path / "images", "--apls",
                     "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["apls"] == 1.0
    assert "truth.csv carries travel_time_s" in result.stderr
    assert "APLS_time" in result.stderr
