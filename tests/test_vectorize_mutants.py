"""Polygons that hand-made mutants of vectorize changed without a test noticing: each
expected geometry or attribute is worked out by hand on a tiny raster."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from rasterio.transform import from_origin

from geotile.vectorize import VectorizeOptions, fill_small_holes, vectorize_polygons

from .conftest import UTM_ORIGIN

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
