"""Datasets' own layouts, names and label formats, on small faithful replicas: DroneDeploy,
AIcrowd Mapping, MapAI, Vaihingen's DSMs, S2Looking, SECOND, OSCD, UAVid..."""

from __future__ import annotations

import csv
import json

import numpy as np
import rasterio
from PIL import Image
from rasterio.transform import from_origin

from tests.conftest import write_raster

#: DroneDeploy's label colours as its README gives them (BGR there; RGB here), class order
DRONEDEPLOY_RGB = {"building": (230, 25, 75), "clutter": (145, 30, 180),
                   "vegetation": (60, 180, 75), "water": (245, 130, 48),
                   "ground": (255, 255, 255), "car": (0, 130, 200), "ignore": (255, 0, 255)}


def _patches(out):
    """index.csv's rows of a tile output, with each patch's image and mask arrays."""
    with (out / "index.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        with rasterio.open(out / row["image"]) as image, rasterio.open(out / row["mask"]) as m:
            row["pixels"], row["labels"], row["tags"] = image.read(), m.read(1), m.tags()
    return rows


def test_dronedeploy_labels_in_the_colours_its_readme_gives(tmp_path, run_cli):
    """DroneDeploy's labels/<scene>-label.png are coloured as its README says (BUILDING
    (230, 25, 75), ... CAR (0, 130, 200), IGNORE magenta); --palette dronedeploy held an
    early draft's colours (blue building, a TREE class, no WATER): five of its six classes
    were written 255 ('colours not in the palette'), exit 0. Each colour is its class now,
    ids 1..6 in the README's order, magenta ignored; -elev.tif stacks on -ortho.tif."""
    scene = "107f24d6e9_F1BE1D4184INSPIRE"
    for folder in ("images", "labels", "elevations"):
        (tmp_path / folder).mkdir()
    ids = np.repeat(np.arange(7), 8)[None, :].repeat(56, axis=0)  # 7 stripes
    colours = np.array(list(DRONEDEPLOY_RGB.values()), np.uint8)
    Image.fromarray(colours[ids]).save(tmp_path / f"labels/{scene}-label.png")
    grid = {"crs": "EPSG:32610", "transform": from_origin(500000, 4100000, 0.1, 0.1)}
    write_raster(tmp_path / f"images/{scene}-ortho.tif", np.full((3, 56, 56), 90, np.uint8),
                 **grid)
    write_raster(tmp_path / f"elevations/{scene}-elev.tif",
                 np.full((1, 56, 56), 12.5, np.float32), nodata=-10000, **grid)
    out = tmp_path / "patches"
    result = run_cli("tile", tmp_path / "images", "--masks", tmp_path / "labels",
                     "--palette", "dronedeploy", "--extra-bands", tmp_path / "elevations",
                     "--size", 56, "-o", out)
    assert result.exit_code == 0, result.output
    assert "not in the palette" not in result.stderr
    [patch] = _patches(out)
    expected = np.array([1, 2, 3, 4, 5, 6, 255], np.uint8)[ids]
    np.testing.assert_array_equal(patch["labels"], expected)
    assert json.loads(patch["tags"]["GEOTILE_CLASS_NAMES"]) == [
        "background", "building", "clutter", "vegetation", "water", "ground", "car"]
    assert patch["pixels"].shape == (4, 56, 56)
    assert (patch["pixels"][3] == 12.5).all()


#: SECOND's semantic change colours in its class order (Bi-SRNet's, open-cd's): white is
#: no change, then water, ground, low vegetation, tree, building, playground
SECOND_RGB = [(255, 255, 255), (0, 0, 255), (128, 128, 128), (0, 128, 0), (0, 255, 0),
              (128, 0, 0), (255, 0, 0)]


def test_second_semantic_change_maps_of_each_date(tmp_path, run_cli):
    """SECOND's im1/ and im2/ with label1/ and label2/ (RGB maps of each date, white where
    nothing changed): --palette second was 'not a built-in palette', and make-masks' advice
    a JSON palette. Each date's map is its classes now, no change 0 (background), water..
    playground 1..6; each date's image takes its own date's map."""
    for folder in ("im1", "im2", "label1", "label2"):
        (tmp_path / folder).mkdir()
    ids = np.repeat(np.arange(7), 8)[None, :].repeat(56, axis=0)
    colours = np.array(SECOND_RGB, np.uint8)
    for name in ("00003", "00010"):
        for date, value in (("1", 40), ("2", 90)):
            Image.fromarray(np.full((56, 56, 3), value, np.uint8)).save(
                tmp_path / f"im{date}/{name}.png")
        Image.fromarray(colours[ids]).save(tmp_path / f"label1/{name}.png")
        Image.fromarray(colours[ids[:, ::-1]]).save(tmp_path / f"label2/{name}.png")
    result = run_cli("make-masks", tmp_path / "label1/00003.png", tmp_path / "im1/00003.png",
                     "-o", tmp_path / "refused.tif")
    assert result.exit_code == 1
    assert "--palette second" in result.stderr
    for date in ("1", "2"):
        out = tmp_path / f"patches{date}"
        result = run_cli("tile", tmp_path / f"im{date}", "--masks", tmp_path / f"label{date}",
                         "--palette", "second", "--size", 56, "-o", out)
        assert result.exit_code == 0, result.output
        patches = _patches(out)
        assert [p["source"] for p in patches] == ["00003.png", "00010.png"]
        for patch in patches:
            expected = ids if date == "1" else ids[:, ::-1]
            np.testing.assert_array_equal(patch["labels"], expected)
            assert patch["pixels"][0, 0, 0] == (40 if date == "1" else 90)
            assert json.loads(patch["tags"]["GEOTILE_CLASS_NAMES"]) == [
                "background", "water", "ground", "low_vegetation", "tree", "building",
                "playground"]
