"""Label inputs users really have: multi-layer GeoPackages, text class fields, broken
GeoJSON, SpaceNet CSVs, outputs that would overwrite inputs."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely

from geotile.errors import InputError
from geotile.labels import read_labels

from .conftest import UTM_CRS, UTM_ORIGIN

X0, Y0 = UTM_ORIGIN


def assert_one_line_error(result, *fragments):
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def box(col, row, size=2):
    """A square of ``size`` m whose top-left corner is ``col``, ``row`` m from the origin."""
    return shapely.box(X0 + col, Y0 - row - size, X0 + col + size, Y0 - row)


@pytest.fixture
def image(make_raster):
    return make_raster("img.tif", np.zeros((20, 20), np.uint8))


@pytest.fixture
def layered(tmp_path):
    """A GeoPackage whose first layer (roads) is not the buildings; a point layer too."""
    path = tmp_path / "city.gpkg"
    gpd.GeoDataFrame(geometry=[box(0, 0, 4)], crs=UTM_CRS).to_file(path, layer="roads")
    gpd.GeoDataFrame(geometry=[box(6, 6, 1)], crs=UTM_CRS).to_file(path, layer="buildings")
    gpd.GeoDataFrame(geometry=[shapely.Point(X0, Y0)], crs=UTM_CRS).to_file(path,
                                                                          layer="trees")
    return path


def mask_of(path):
    with rasterio.open(path) as src:
        return src.read(1)


# --- item: multi-layer GeoPackages ---------------------------------------------------------

def test_several_polygon_layers_without_layer_is_an_error(layered):
    with pytest.raises(InputError, match=r"city.gpkg.*2 layers.*roads, buildings.*--layer"):
        read_labels(layered)


def test_layer_chooses_the_layer(layered):
    labels = read_labels(layered, layer="buildings")
    assert len(labels) == 1 and labels.geometries[0].equals(box(6, 6, 1))


def test_unknown_layer_lists_the_layers(layered):
    with pytest.raises(InputError, match=r"no layer 'houses'.*roads, buildings, trees"):
        read_labels(layered, layer="houses")


def test_one_polygon_layer_among_others_is_used(tmp_path):
    path = tmp_path / "one.gpkg"
    gpd.GeoDataFrame(geometry=[shapely.Point(X0, Y0)], crs=UTM_CRS).to_file(path, layer="pts")
    gpd.GeoDataFrame(geometry=[box(1, 1)], crs=UTM_CRS).to_file(path, layer="footprints")
    labels = read_labels(path)
    assert labels.geometries[0].equals(box(1, 1))


def test_layer_of_a_single_layer_file(tmp_path):
    path = tmp_path / "plain.geojson"
    gpd.GeoDataFrame(geometry=[box(1, 1)], crs=UTM_CRS).to_file(path)
    assert len(read_labels(path, layer="plain")) == 1
    with pytest.raises(InputError, match=r"no layer 'x'.*plain"):
        read_labels(path, layer="x")


def test_cli_make_masks_layer(run_cli, layered, image, tmp_path):
    out = tmp_path / "m.tif"
    assert_one_line_error(run_cli("make-masks", layered, image, "-o", out),
                          "city.gpkg", "roads, buildings", "--layer")
    assert not out.exists()
    result = run_cli("make-masks", layered, image, "-o", out, "--layer", "buildings")
    assert result.exit_code == 0, result.output
    mask = mask_of(out)
    assert mask.sum() == 4 and mask[12:14, 12:14].all()
    assert_one_line_error(run_cli("make-masks", layered, image, "-o", tmp_path / "n.tif",
                                  "--layer", "nope"), "no layer 'nope'", "roads, buildings")


def test_cli_evaluate_layer(run_cli, layered, tmp_path):
    prediction = tmp_path / "pred.geojson"
    gpd.GeoDataFrame(geometry=[box(6, 6, 1)], crs=UTM_CRS).to_file(prediction)
    assert_one_line_error(run_cli("evaluate", prediction, layered), "city.gpkg", "--layer")
    result = run_cli("evaluate", prediction, layered, "--layer", "buildings", "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert (scores["tp"], scores["fp"], scores["fn"]) == (1, 0, 0)
