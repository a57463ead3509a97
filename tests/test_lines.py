"""Roads: LineStrings burnt with a width, centrelines from probabilities, line metrics."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from .conftest import UTM_CRS, UTM_ORIGIN

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
    with pytest.warns(GeotileWarning, match="1 line features were left out"):
        summary = make_masks(labels, image, tmp_path / "mask.tif")
    assert summary[0]["positive_pixels"] == 16
