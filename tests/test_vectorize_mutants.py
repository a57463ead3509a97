"""Polygons that hand-made mutants of vectorize changed without a test noticing: each
expected geometry or attribute is worked out by hand on a tiny raster."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from rasterio.transform import from_origin

from geotile import regularize
from geotile.instances import (
    InstanceOptions,
    _mutual_best_pairs,
    finish_frame,
    instance_frame,
    instance_polygons,
    markers,
    split_instances,
)
from geotile.lines import prune
from geotile.polygon_repair import repair_polygons
from geotile.regularize import regularize_polygon
from geotile.vectorize import VectorizeOptions, fill_small_holes, vectorize_polygons

from .conftest import UTM_CRS, UTM_ORIGIN

X0, Y0 = UTM_ORIGIN


def test_a_hole_of_exactly_fill_holes_area_is_kept():
    # holes *smaller* than --fill-holes are filled: a 2 x 2 hole (4 m^2) stays at 4
    ring = shapely.box(0, 0, 10, 10)
    polygon = shapely.Polygon(ring.exterior, [shapely.box(4, 4, 6, 6).exterior])
    kept = fill_small_holes(np.array([polygon], dtype=object), 4.0)[0]
    assert len(kept.interiors) == 1 and kept.area == 96.0
    filled = fill_small_holes(np.array([polygon], dtype=object), 4.0001)[0]
    assert len(filled.interiors) == 0 and filled.area == 100.0


def test_a_polygon_of_exactly_min_area_is_kept(make_raster, tmp_path):
    # 1 m pixels in UTM: a 2 x 2 block is 4 m^2, a 1 x 3 bar 3 m^2 (4-connected apart)
    mask = np.zeros((8, 8), np.uint8)
    mask[1:3, 1:3] = 1
    mask[5, 1:4] = 1
    path = make_raster("m.tif", mask, transform=from_origin(X0, Y0, 1, 1))
    vectorize_polygons([path], tmp_path / "v.gpkg",
                       options=VectorizeOptions(min_area=4.0, crs="source"))
    found = gpd.read_file(tmp_path / "v.gpkg")
    assert found["area_m2"].tolist() == [4.0]
    assert found.geometry[0].equals(shapely.box(X0 + 1, Y0 - 3, X0 + 3, Y0 - 1))


def test_exteriors_counter_clockwise_and_holes_clockwise(make_raster, tmp_path):
    # RFC 7946's right-hand rule, in every format: a 5 x 5 ring of pixels around a hole
    mask = np.zeros((7, 7), np.uint8)
    mask[1:6, 1:6] = 1
    mask[3, 3] = 0
    path = make_raster("m.tif", mask, transform=from_origin(X0, Y0, 1, 1))
    vectorize_polygons([path], tmp_path / "v.gpkg", options=VectorizeOptions(crs="source"))
    (polygon,) = gpd.read_file(tmp_path / "v.gpkg").geometry
    assert polygon.area == 24.0 and len(polygon.interiors) == 1
    assert polygon.exterior.is_ccw
    assert not polygon.interiors[0].is_ccw
    assert polygon.interiors[0].equals(shapely.box(X0 + 3, Y0 - 4, X0 + 4, Y0 - 3).exterior)


def test_fill_holes_is_in_square_metres_not_pixels(make_raster, tmp_path):
    # 0.5 m pixels: a 2 x 2 px hole is 1 m^2, filled under --fill-holes 1.5 (m^2)
    mask = np.zeros((8, 8), np.uint8)
    mask[1:7, 1:7] = 1
    mask[3:5, 3:5] = 0
    path = make_raster("m.tif", mask, transform=from_origin(X0, Y0, 0.5, 0.5))
    vectorize_polygons([path], tmp_path / "v.gpkg",
                       options=VectorizeOptions(fill_holes=1.5, crs="source"))
    (polygon,) = gpd.read_file(tmp_path / "v.gpkg").geometry
    assert polygon.equals(shapely.box(X0 + 0.5, Y0 - 3.5, X0 + 3.5, Y0 - 0.5))
    assert polygon.area == 9.0


def test_a_probability_equal_to_the_threshold_is_foreground(make_raster, tmp_path):
    probability = np.zeros((4, 4), np.float32)
    probability[1, 1] = 0.5     # p >= threshold: building
    probability[2, 3] = 0.4999  # below: background
    path = make_raster("p.tif", probability, transform=from_origin(X0, Y0, 1, 1))
    vectorize_polygons([path], tmp_path / "v.gpkg",
                       options=VectorizeOptions(threshold=0.5, crs="source"))
    found = gpd.read_file(tmp_path / "v.gpkg")
    assert len(found) == 1
    assert found.geometry[0].equals(shapely.box(X0 + 1, Y0 - 2, X0 + 2, Y0 - 1))
    assert found["score"].tolist() == [0.5]


# ----------------------------------------------------------------- --instances


def test_marker_thresholds_are_strict():
    # seeds: footprint > 0.5 and boundary < 0.5 and contact < 0.5 (each equal is no seed)
    footprint = np.array([[0.5, 0.6, 0, 0.6, 0.6, 0, 0.6, 0]], np.float32)
    boundary = np.array([[0, 0, 0, 0.5, 0.4, 0, 0, 0]], np.float32)
    contact = np.array([[0, 0, 0, 0, 0, 0, 0.5, 0]], np.float32)
    seeds = markers(footprint, boundary, contact,
                    options=InstanceOptions(erosion=0, min_marker=1))
    assert seeds.tolist() == [[0, 1, 0, 0, 2, 0, 0, 0]]


def test_markers_are_4_connected_and_small_ones_dropped():
    footprint = np.array([[0.9, 0, 0, 0.9, 0.9],
                          [0, 0.9, 0, 0, 0.9],
                          [0, 0, 0, 0, 0]], np.float32)
    one_each = markers(footprint, options=InstanceOptions(erosion=0, min_marker=1))
    assert one_each.tolist() == [[1, 0, 0, 2, 2], [0, 3, 0, 0, 2], [0, 0, 0, 0, 0]]
    # min_marker 3: the 3 px marker is kept (>=), renumbered 1; the single pixels dropped
    kept = markers(footprint, options=InstanceOptions(erosion=0, min_marker=3))
    assert kept.tolist() == [[0, 0, 0, 1, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]]


def test_marker_erosion_of_one_pixel_and_the_array_border():
    inside = np.zeros((5, 5), np.float32)
    inside[1:4, 1:4] = 0.9
    eroded = markers(inside, options=InstanceOptions(erosion=1, min_marker=1))
    assert eroded.tolist() == [[0] * 5, [0] * 5, [0, 0, 1, 0, 0], [0] * 5, [0] * 5]
    # past the array's edge the seeds go on (a building cut by a block's edge)
    whole = markers(np.full((3, 3), 0.9, np.float32),
                    options=InstanceOptions(erosion=1, min_marker=1))
    assert whole.tolist() == [[1, 1, 1]] * 3


def test_instance_mask_threshold_and_regions_without_marker():
    # footprint >= 0.5 is building; the 1 px wide arm holds no marker after erosion but
    # stays an instance of its own, and it is 4-connected only to nothing else
    footprint = np.zeros((6, 8), np.float32)
    footprint[0:5, 0:5] = 0.9
    footprint[2, 7] = 0.5
    labels = split_instances(footprint, options=InstanceOptions(erosion=1, min_marker=1))
    assert set(np.unique(labels[0:5, 0:5])) == {1}
    assert labels[2, 7] == 2
    assert (labels == 0).sum() == 48 - 26
    polygons = sorted(instance_polygons(labels, footprint, from_origin(0, 6, 1, 1)),
                      key=lambda r: -r[0].area)
    (big, big_sum, big_count), (small, small_sum, small_count) = polygons
    assert (big.area, big_count, small.area, small_count) == (25.0, 25, 1.0, 1)
    assert big_sum == pytest.approx(25 * 0.9) and small_sum == pytest.approx(0.5)


def test_instance_output_rings_follow_the_right_hand_rule():
    # finish_frame (vectorize --instances) orients as the plain vectorizer: given a
    # clockwise exterior and a counter-clockwise hole, it writes them the other way round
    shell = [(X0, Y0), (X0, Y0 + 4), (X0 + 4, Y0 + 4), (X0 + 4, Y0), (X0, Y0)]  # clockwise
    hole = [(X0 + 1, Y0 + 1), (X0 + 2, Y0 + 1), (X0 + 2, Y0 + 2), (X0 + 1, Y0 + 2)]
    polygon = shapely.Polygon(shell, [hole])
    assert not polygon.exterior.is_ccw and polygon.interiors[0].is_ccw
    frame = gpd.GeoDataFrame({"class_id": [1], "class": ["building"], "score": [0.9]},
                             geometry=[polygon], crs=UTM_CRS)
    (out,) = finish_frame(frame, VectorizeOptions(crs="source"), 1.0).geometry
    assert out.exterior.is_ccw and not out.interiors[0].is_ccw
    assert out.area == 15.0


# ----------------------------------------------------------------- --lines, repair


def test_a_spur_of_exactly_min_length_is_kept_and_a_shorter_one_pruned():
    # a T: a road 0..20 along y = 0 and a spur up x = 10; spurs *shorter* than
    # --min-length go
    road = [shapely.LineString([(0, 0), (10, 0)]), shapely.LineString([(10, 0), (20, 0)])]
    spur = shapely.LineString([(10, 0), (10, 3)])
    kept = prune(np.array([*road, spur], dtype=object), 3.0)
    assert sorted(shapely.length(kept).tolist()) == [3.0, 10.0, 10.0]
    pruned = prune(np.array([*road, spur], dtype=object), 3.0001)
    assert shapely.length(pruned).sum() == 20.0
    assert shapely.union_all(pruned).equals(shapely.LineString([(0, 0), (20, 0)]))


def test_a_collection_is_repaired_to_the_union_of_its_polygons():
    # a GeometryCollection (a clipped file) of two squares and a line: both squares kept
    collection = shapely.GeometryCollection([shapely.box(0, 0, 2, 2), shapely.box(5, 0, 8, 3),
                                             shapely.LineString([(0, 5), (9, 5)])])
    (repaired,) = repair_polygons(np.array([collection], dtype=object))
    assert repaired.geom_type == "MultiPolygon" and repaired.area == 13.0
    assert repaired.equals(shapely.MultiPolygon([shapely.box(0, 0, 2, 2),
                                                 shapely.box(5, 0, 8, 3)]))


def test_the_watershed_floods_4_connected_only():
    # (1, 1) is building (footprint >= 0.5) but no marker (not > 0.5); it touches the
    # marker at (0, 0) by a corner only: not flooded from it, it is an instance of its own
    footprint = np.array([[0.9, 0], [0, 0.5]], np.float32)
    labels = split_instances(footprint, options=InstanceOptions(erosion=0, min_marker=1))
    assert labels.tolist() == [[1, 0], [0, 2]]


def test_mutual_best_pairs_take_the_lowest_label_on_a_tie():
    # label 1 of one band covers one pixel of 1 and one of 2 of the other: a tie, settled
    # for the lowest (1); 2's best partner is 1 too, but 1's is not 2
    assert _mutual_best_pairs(np.array([[1, 1]]), np.array([[1, 2]])) == [(1, 1)]
    assert _mutual_best_pairs(np.array([[1, 2]]), np.array([[1, 1]])) == [(1, 1)]


def test_an_edge_half_of_whose_pixels_are_boundary_is_a_party_wall(make_raster):
    # two rasters on different grids (1 m and 0.5 m pixels), one building each side of
    # their edge x = X0 + 2; on the left, 1 of the 2 pixels along it is boundary (0.5, at
    # the threshold): half of them is "mostly" (>= 0.5), a wall, so the two stay apart
    names = ("footprint", "boundary", "contact")
    left = np.zeros((3, 2, 2), np.float32)
    left[0] = 0.9
    left[1, 0, 1] = 0.5
    right = np.zeros((3, 4, 4), np.float32)
    right[0] = 0.9
    a = make_raster("a.tif", left, transform=from_origin(X0, Y0, 1, 1), descriptions=names)
    b = make_raster("b.tif", right, transform=from_origin(X0 + 2, Y0, 0.5, 0.5),
                    descriptions=names)
    found = instance_frame([a, b], options=InstanceOptions(erosion=0, min_marker=1))
    assert sorted(shapely.normalize(found.geometry.values).tolist(), key=lambda g: g.wkt) == [
        shapely.box(X0, Y0 - 2, X0 + 2, Y0).normalize(),
        shapely.box(X0 + 2, Y0 - 2, X0 + 4, Y0).normalize()]
    assert found["score"].tolist() == [0.9, 0.9]
    # below the threshold the edge is no wall: one building across it
    left[1, 0, 1] = 0.4999
    a = make_raster("a.tif", left, transform=from_origin(X0, Y0, 1, 1), descriptions=names)
    (joined,) = instance_frame([a, b], options=InstanceOptions(erosion=0, min_marker=1)).geometry
    assert joined.equals(shapely.box(X0, Y0 - 2, X0 + 4, Y0))


# ----------------------------------------------------------------- --regularize

#: a thin L (rectangle 24 x 6, axis-aligned: its sides' direction is 0 degrees)
THIN_L = shapely.Polygon([(0, 0), (0, 6), (4, 6), (4, 4), (24, 4), (24, 0)])


def test_a_direction_angle_tolerance_off_the_rectangle_sides_tries_them_too(monkeypatch):
    # a dominant direction exactly ANGLE_TOLERANCE (0.5 degrees) off the rectangle's
    # sides (0): the sides are tried too, and the L squared along them is the L itself
    assert regularize.ANGLE_TOLERANCE == 0.5
    monkeypatch.setattr(regularize, "dominant_direction", lambda polygon, cell: 0.5)
    assert regularize_polygon(THIN_L, 1.0).equals(THIN_L)
    # closer than that: only the dominant direction is tried (an L tilted by 0.4 degrees)
    monkeypatch.setattr(regularize, "dominant_direction", lambda polygon, cell: 0.4)
    tilted = regularize_polygon(THIN_L, 1.0)
    assert not tilted.equals(THIN_L) and tilted.intersection(THIN_L).area < 104


def test_of_candidate_directions_matching_equally_well_the_dominant_one_is_kept(monkeypatch):
    # the L squared along the dominant direction (10, stubbed) and along its rectangle's
    # sides (0) give two outlines of one IoU with it (100 / 104): the first tried is kept
    first = shapely.union(shapely.box(0, 0, 24, 4), shapely.box(0, 4, 2, 6))
    second = shapely.union(shapely.box(0, 0, 24, 4), shapely.box(2, 4, 4, 6))
    monkeypatch.setattr(regularize, "dominant_direction", lambda polygon, cell: 10.0)
    tried = []
    monkeypatch.setattr(regularize, "_rectilinear_at", lambda simple, angle: tried.append(
        angle) or {10.0: first, 0.0: second}[angle])
    assert regularize_polygon(THIN_L, 1.0).equals(first)
    assert tried == [10.0, 0.0]


def test_an_outline_squared_that_matches_it_poorly_is_not_kept():
    # a quadrilateral; its minimum rectangle lies along its edge (4, 3)-(6, 5): in
    # u = x + y, v = x - y it is u 4..11, v 1..4 (area 21 / 2), the quadrilateral's area
    # is 11 / 2. Squared along its dominant direction (~15.9 degrees) its outline overlaps
    # it by IoU ~0.66 < 0.7: rejected, so the rectangle fitted to its area stays, every
    # side moved in by d: (7 - 2 e)(3 - 2 e) / 2 = 11 / 2 with e = d * sqrt(2) = 2.5 - h,
    # h = sqrt(15) / 2
    quad = shapely.Polygon([(3, 1), (6, 2), (6, 5), (4, 3)])
    h = np.sqrt(15) / 2
    expected = shapely.Polygon([(5 - h, 1.5), (6, 2.5 + h), (5 + h, 3.5), (4, 2.5 - h)])
    found = regularize_polygon(quad, 1.0)
    assert len(found.exterior.coords) == 5 and found.area == pytest.approx(5.5)
    assert found.symmetric_difference(expected).area < 1e-9
