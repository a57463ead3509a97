"""The examples' many-class and road cases, end to end on a small scene from make_scene.py
(`--landcover`): the commands examples/README.md shows, with their results checked."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio

EXAMPLES = Path(__file__).parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))
from make_scene import draw_scene, write_scene  # noqa: E402


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    # seed 3 at 600 px: streets that cross, none running within a road width of another
    # (two merged streets have no one centreline to score against)
    folder = tmp_path_factory.mktemp("scene")
    tif, _ = write_scene(3, 600, folder / "s", terraced=2, landcover=True)
    _, _, _, layers = draw_scene(3, 600, terraced=2)
    return folder, tif, layers


def test_landcover_labels_to_masks_patches_and_vectors(scene, run_cli):
    folder, tif, layers = scene
    mask = folder / "landcover_mask.tif"
    result = run_cli("make-masks", folder / "s_landcover.tif", tif, "-o", mask,
                     "--palette", "potsdam")
    assert result.exit_code == 0, result.output
    with rasterio.open(mask) as src, rasterio.open(tif) as image:
        classes = src.read(1)
        assert (src.transform, src.crs, src.shape) == (image.transform, image.crs, image.shape)
        names = json.loads(src.tags()["GEOTILE_CLASS_NAMES"])
    ids = {name: names.index(name) for name in
           ("impervious_surfaces", "building", "low_vegetation", "tree")}
    expected = np.full(classes.shape, ids["low_vegetation"], np.uint8)
    expected[layers["road"]] = ids["impervious_surfaces"]
    expected[layers["tree"]] = ids["tree"]
    expected[layers["building"]] = ids["building"]
    np.testing.assert_array_equal(classes, expected)

    result = run_cli("tile", tif, "--masks", mask, "--size", "256", "-o", folder / "patches",
                     "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["written"] == 9  # 600 px: 3 x 3 patches, edge shifted

    vectors = folder / "landcover.gpkg"
    result = run_cli("vectorize", mask, "-o", vectors, "--classes", "building,tree",
                     "--min-area", "tree=2,building=10")
    assert result.exit_code == 0, result.output
    frame = gpd.read_file(vectors)
    assert set(frame["class"]) == {"building", "tree"}
    assert frame.crs == rasterio.open(tif).crs  # GeoPackage: the rasters' CRS
    assert frame.loc[frame["class"] == "building", "area_m2"].min() >= 10


def test_road_centrelines_round_trip(scene, run_cli):
    folder, tif, _ = scene
    roads = folder / "roads.tif"
    result = run_cli("make-masks", folder / "s_roads.geojson", tif, "-o", roads,
                     "--line-width", "8")
    assert result.exit_code == 0, result.output
    lines = folder / "centrelines.gpkg"
    result = run_cli("vectorize", roads, "-o", lines, "--lines")
    assert result.exit_code == 0, result.output
    result = run_cli("evaluate", lines, folder / "s_roads.geojson", "--buffer", "2", "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["precision"] >= 0.95 and scores["recall"] >= 0.95


def test_masks_name_their_classes_for_gis_clients(scene, run_cli):
    # gdalinfo "Categories:" and QGIS read the PAM sidecar: every mask names its class ids
    import xml.etree.ElementTree as ET

    folder, tif, _ = scene
    for labels, options in (("s_landcover.tif", ["--palette", "potsdam"]),
                            ("s_footprints.geojson", [])):
        out = folder / f"named_{labels}.tif"
        assert run_cli("make-masks", folder / labels, tif, "-o", out, *options).exit_code == 0
        with rasterio.open(out) as src:
            names = json.loads(src.tags()["GEOTILE_CLASS_NAMES"])
        band = ET.parse(f"{out}.aux.xml").getroot().find("PAMRasterBand[@band='1']")
        assert [c.text for c in band.find("CategoryNames")] == names
        assert names[:2] == ["background", "impervious_surfaces" if options else "building"]


def test_tile_takes_colour_label_rasters_as_masks(scene, run_cli):
    # `tile --masks LABELS --palette` gives the mask patches make-masks + tile give
    folder, tif, _ = scene
    labels = folder / "s_landcover.tif"
    mask = folder / "palette_mask.tif"
    assert run_cli("make-masks", labels, tif, "-o", mask, "--palette", "potsdam").exit_code == 0
    assert run_cli("tile", tif, "--masks", mask, "--size", "256", "-o",
                   folder / "two_steps").exit_code == 0
    result = run_cli("tile", tif, "--masks", labels, "--palette", "potsdam", "--size", "256",
                     "-o", folder / "one_step")
    assert result.exit_code == 0, result.output
    two = sorted((folder / "two_steps" / "masks").iterdir())
    one = sorted((folder / "one_step" / "masks").iterdir())
    assert [p.name for p in one] == [p.name for p in two] and len(one) == 9
    for a, b in zip(one, two, strict=True):
        with rasterio.open(a) as x, rasterio.open(b) as y:
            np.testing.assert_array_equal(x.read(), y.read())
    assert (folder / "one_step" / "index.csv").read_text() == \
        (folder / "two_steps" / "index.csv").read_text()
