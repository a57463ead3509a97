"""Marker watershed: touching buildings come out as separate instances."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin
from scipy import ndimage

from geotile.instances import (
    InstanceOptions,
    _corners_to_majority,
    instance_frame,
    instance_polygons,
    markers,
    split_instances,
)
from geotile.masks import MaskOptions, rasterize_labels
from geotile.object_scores import match_polygons

from .conftest import UTM_CRS, UTM_ORIGIN, assert_one_line_error

X0, Y0 = UTM_ORIGIN
TRANSFORM = from_origin(X0, Y0, 0.5, 0.5)


def terraced_scene():
    """Three rows of touching houses of unequal widths (shared walls), a row of semi-detached
    pairs and a few detached buildings, in metres on a 0.5 m grid."""
    houses = []
    for row, top in enumerate((5.0, 25.0, 45.0)):
        x = 4.0 + row
        for width in (6.0, 8.0, 5.5, 7.0, 9.0, 6.5):
            houses.append(shapely.box(X0 + x, Y0 - top - 12, X0 + x + width, Y0 - top))
            x += width
    for x in (5.0, 25.0, 45.0):  # semi-detached pairs, touching on a vertical wall
        houses.append(shapely.box(X0 + x, Y0 - 80, X0 + x + 7, Y0 - 68))
        houses.append(shapely.box(X0 + x + 7, Y0 - 80, X0 + x + 14, Y0 - 68))
    houses.append(shapely.box(X0 + 62, Y0 - 30, X0 + 72, Y0 - 10))  # detached
    houses.append(shapely.box(X0 + 64, Y0 - 60, X0 + 70, Y0 - 40))
    return houses


def perfect_probabilities(houses, shape=(180, 160)):
    bands = rasterize_labels(houses, [1] * len(houses), shape, TRANSFORM,
                             MaskOptions(channels=("footprint", "boundary", "contact")))
    return bands.astype(np.float32)


def f1_of(labels, footprint, houses):
    polygons = [p for p, _, _ in instance_polygons(labels, footprint, TRANSFORM)]
    return match_polygons(polygons, houses, 0.5), len(polygons)


def test_touching_rows_become_one_polygon_per_building():
    houses = terraced_scene()
    footprint, boundary, contact = perfect_probabilities(houses)
    labels = split_instances(footprint, boundary, contact)
    assert labels.dtype == np.int32
    scores, found = f1_of(labels, footprint, houses)
    assert found == len(houses) == 26
    assert scores.f1 >= 0.95 and scores.mean_iou > 0.9
    # every pixel of the footprint belongs to a building, and nothing else does
    assert np.array_equal(labels > 0, footprint > 0)
    # the plain rule (connected regions of the footprint) merges the rows
    plain, count = ndimage.label(footprint > 0.5, structure=[[0, 1, 0], [1, 1, 1], [0, 1, 0]])
    plain_scores, _ = f1_of(plain.astype(np.int32), footprint, houses)
    assert count == 3 + 3 + 2 and plain_scores.f1 < 0.4


def test_soft_probabilities_split_at_the_weak_wall():
    footprint = np.zeros((20, 40), np.float32)
    footprint[5:15, 5:35] = 0.9
    footprint[5:15, 19:21] = 0.6  # a shared wall: lower footprint, high boundary
    boundary = np.zeros_like(footprint)
    boundary[5:15, 18:22] = 0.8
    labels = split_instances(footprint, boundary, None, options=InstanceOptions(erosion=0))
    assert int(labels.max()) == 2
    left, right = labels[10, 6], labels[10, 33]
    assert left != right and {int(left), int(right)} == {1, 2}
    assert (labels[5:15, 5:20] == left).all() and (labels[5:15, 21:35] == right).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_party_walls_follow_the_boundary_band_of_a_blurred_noisy_model(seed):
    # a model's footprint stays ~1 across a party wall: only the boundary band marks it
    houses = terraced_scene()
    rng = np.random.default_rng(seed)
    bands = np.stack([ndimage.gaussian_filter(b, 1.0) for b in perfect_probabilities(houses)])
    bands = np.clip(bands + rng.normal(0, 0.05, bands.shape), 0, 1).astype(np.float32)
    labels = split_instances(*bands)
    polygons = [p for p, _, _ in instance_polygons(labels, bands[0], TRANSFORM)]
    assert len(polygons) == len(houses)
    ious = [max(shapely.intersection(p, h).area / shapely.union(p, h).area for p in polygons)
            for h in houses]
    assert min(ious) > 0.95  # on -footprint alone, noise moved walls: 0.79-0.86


def test_buildings_without_a_marker_are_kept_and_small_markers_dropped():
    footprint = np.zeros((30, 30), np.float32)
    footprint[2:5, 2:20] = 1.0  # 3 px thin: the boundary band leaves no marker
    footprint[10:25, 10:25] = 1.0
    boundary = np.zeros_like(footprint)
    boundary[1:6, 1:21] = 1.0
    seeds = markers(footprint, boundary, None, options=InstanceOptions(erosion=0))
    assert seeds.max() == 1 and seeds[3, 10] == 0
    labels = split_instances(footprint, boundary)
    assert labels.max() == 2 and labels[3, 10] > 0 and labels[3, 10] != labels[15, 15]
    tiny = np.zeros((10, 10), np.float32)
    tiny[4:6, 4:6] = 1.0
    assert markers(tiny, options=InstanceOptions(erosion=0, min_marker=5)).max() == 0
    assert markers(tiny, options=InstanceOptions(erosion=0, min_marker=4)).max() == 1


def test_nodata_and_empty_inputs():
    footprint = np.ones((10, 10), np.float32)
    valid = np.ones((10, 10), bool)
    valid[:, 5:] = False
    labels = split_instances(footprint, valid=valid, options=InstanceOptions(erosion=0))
    assert (labels[:, 5:] == 0).all() and (labels[:, :5] == 1).all()
    assert split_instances(np.zeros((5, 5), np.float32)).max() == 0
    assert instance_polygons(np.zeros((5, 5), np.int32), np.zeros((5, 5)), TRANSFORM) == []


def write_truth(path, houses):
    gpd.GeoDataFrame({"id": range(len(houses))}, geometry=houses, crs=UTM_CRS).to_file(path)
    return path


def test_cli_masks_then_instances_beat_the_plain_mode(run_cli, make_raster, tmp_path):
    houses = terraced_scene()
    image = make_raster("image.tif", np.zeros((3, 180, 160), np.uint8), transform=TRANSFORM)
    truth = write_truth(tmp_path / "truth.geojson", houses)
    result = run_cli("make-masks", truth, image, "-o", tmp_path / "fbc.tif",
                     "--channels", "footprint,boundary,contact")
    assert result.exit_code == 0, result.output
    # automatic: the mask's bands are described as footprint, boundary, contact
    result = run_cli("vectorize", tmp_path / "fbc.tif", "-o", tmp_path / "inst.gpkg",
                     "--crs", "source")
    assert result.exit_code == 0, result.output
    assert "26 polygons" in result.stdout
    frame = gpd.read_file(tmp_path / "inst.gpkg")
    assert {"class_id", "class", "score", "area_m2", "source"} <= set(frame.columns)
    assert sorted(frame["area_m2"].round(2)) == sorted(round(h.area, 2) for h in houses)
    assert (frame["score"] == 1.0).all() and (frame["source"] == "fbc.tif").all()
    result = run_cli("vectorize", tmp_path / "fbc.tif", "-o", tmp_path / "plain.gpkg",
                     "--crs", "source", "--no-instances")
    assert result.exit_code == 0 and "8 polygons" in result.stdout
    f1 = {}
    for name in ("inst", "plain"):
        result = run_cli("evaluate", tmp_path / f"{name}.gpkg", truth, "--json")
        assert result.exit_code == 0, result.output
        f1[name] = json.loads(result.stdout)["f1"]
    assert f1["inst"] >= 0.95 and f1["plain"] < 0.4


@pytest.mark.parametrize("names", [True, False])
def test_cli_instances_read_a_0_1_mask_whose_tags_were_lost(run_cli, make_raster, tmp_path,
                                                             names):
    # make-masks' 0/1 channels, cut into a tile by a tool that drops its tags: 1 is p = 1
    houses = terraced_scene()
    bands = perfect_probabilities(houses).astype(np.uint8)
    raster = make_raster("tile.tif", bands, transform=TRANSFORM)
    if names:
        with rasterio.open(raster, "r+") as dst:
            dst.descriptions = ("footprint", "boundary", "contact")
    result = run_cli("vectorize", raster, "-o", tmp_path / "inst.gpkg", "--crs", "source",
                     "--instances")
    assert result.exit_code == 0, result.output
    assert "26 polygons" in result.stdout  # was 0: read as p = 1/255
    frame = gpd.read_file(tmp_path / "inst.gpkg")
    assert sorted(frame["area_m2"].round(2)) == sorted(round(h.area, 2) for h in houses)
    assert (frame["score"] == 1.0).all()


def test_untagged_independent_footprint_boundary_contact_bands_are_no_softmax(
        run_cli, make_raster, tmp_path):
    """A solaris-style float32 raster of footprint, boundary and contact sigmoids, without
    tags or band descriptions, was read as a softmax whose band 1 is background: vectorize
    made building interiors background and a contact class '2', evaluate scored that, exit
    0. Its bands sum to 0 outside buildings: refused in one line naming the file and how to
    describe the bands; --instances (which names the roles) and the described raster read
    it right, and a genuine untagged softmax (uint8, rounded) is read as before."""
    houses = terraced_scene()
    bands = np.stack([ndimage.gaussian_filter(b, 0.7) for b in perfect_probabilities(houses)])
    raster = make_raster("fbc.tif", bands.astype(np.float32), transform=TRANSFORM)
    truth = make_raster("truth.tif", (bands[0] > 0.5).astype(np.uint8), transform=TRANSFORM)
    out = tmp_path / "b.gpkg"
    for args in (("vectorize", raster, "-o", out), ("vectorize", raster, "-o", out, "--json"),
                 ("evaluate", raster, truth, "--json")):
        assert_one_line_error(run_cli(*args), "fbc.tif", "not 1", "no softmax",
                              "--description footprint fbc.tif", "GEOTILE_BANDS=independent")
        assert not out.exists()
    result = run_cli("vectorize", raster, "-o", out, "--crs", "source", "--instances")
    assert result.exit_code == 0, result.output
    assert "26 polygons" in result.stdout
    with rasterio.open(raster, "r+") as dst:
        dst.descriptions = ("footprint", "boundary", "contact")
    result = run_cli("evaluate", raster, truth, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["classes"][1]["iou"] == 1.0
    # a softmax (background, building, boundary) as uint8 0..255, rounded: sums 254..256
    footprint = bands[0] > 0.5
    edge = footprint & ~ndimage.binary_erosion(footprint)
    p = np.where(footprint & ~edge, 0.7, np.where(edge, 0.3, 0.0)).astype(np.float32)
    q = np.where(edge, 0.45, 0.1 * footprint).astype(np.float32)
    softmax = np.round(np.stack([1 - p - q, p, q]) * 255).astype(np.uint8)
    assert {int(s) for s in np.unique(softmax.sum(axis=0, dtype=int))} - {254, 255, 256} == set()
    raster = make_raster("softmax.tif", softmax, transform=TRANSFORM, photometric="MINISBLACK")
    result = run_cli("evaluate", raster, truth, "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["confusion_matrix"][1][1] == int((footprint & ~edge).sum())


def test_cli_instances_refuse_float_scores_0_255_as_the_plain_mode(run_cli, make_raster,
                                                                     tmp_path):
    from .conftest import assert_one_line_error

    # a model's 0..255 scores saved as float32: every pixel above 0.5 would be a building
    bands = perfect_probabilities(terraced_scene()) * np.float32(255)
    raster = make_raster("scores.tif", bands, transform=TRANSFORM)
    with rasterio.open(raster, "r+") as dst:
        dst.descriptions = ("footprint", "boundary", "contact")
    for mode in ("--instances", "--no-instances"):
        result = run_cli("vectorize", raster, "-o", tmp_path / "out.gpkg", mode)
        assert_one_line_error(result, "scores.tif", "values reach 255", "probabilities 0..1")
        assert not (tmp_path / "out.gpkg").exists()


@pytest.mark.parametrize("tag", ["abc", "1.5", "nan"])
def test_cli_instances_refuse_an_unreadable_threshold_tag_as_the_plain_mode(
        run_cli, make_raster, tmp_path, tag):
    """A footprint/boundary/contact raster whose GEOTILE_THRESHOLD tag is no probability
    ('abc', hand-edited) gave --instances (automatic for these bands) a ValueError
    traceback, and 1.5 was taken as it is (no building marked); the plain mode refuses it in
    one line naming the tag."""
    raster = make_raster("fbc.tif", perfect_probabilities(terraced_scene()), transform=TRANSFORM)
    with rasterio.open(raster, "r+") as dst:
        dst.descriptions = ("footprint", "boundary", "contact")
        dst.update_tags(GEOTILE_THRESHOLD=tag)
    for mode in ("--instances", "--no-instances"):
        result = run_cli("vectorize", raster, "-o", tmp_path / "out.gpkg", mode)
        assert_one_line_error(result, "fbc.tif", f"GEOTILE_THRESHOLD={tag!r}", "gdal_edit.py")
        assert not (tmp_path / "out.gpkg").exists()


def _untagged_0_1_channels(make_raster, houses, names=True):
    """make-masks' 0/1 footprint/boundary/contact channels as a copy keeps them: no geotile
    tags, its nodata 255 (the image's nodata: the last 10 rows) kept."""
    bands = perfect_probabilities(houses).astype(np.uint8)
    bands[:, 170:] = 255
    raster = make_raster("tile.tif", bands, transform=TRANSFORM, nodata=255)
    if names:
        with rasterio.open(raster, "r+") as dst:
            dst.descriptions = ("footprint", "boundary", "contact")
    return raster


@pytest.mark.parametrize("names", [True, False])
def test_cli_plain_mode_reads_a_0_1_mask_whose_tags_were_lost(run_cli, make_raster,
                                                               tmp_path, names):
    # plain mode: 1 of an untagged uint8 0/1 raster is p = 1, not 1/255 (0 polygons)
    houses = terraced_scene()
    raster = _untagged_0_1_channels(make_raster, houses, names)
    out = tmp_path / "plain.gpkg"
    result = run_cli("vectorize", raster, "-o", out, "--crs", "source", "--no-instances")
    if not names:  # bands summing to 0 or 2 are no softmax, as the float ones (0/1 were let
        # through: half a step of rounding per band, 1.5, was tolerated; 44 polygons exit 0,
        # 8 'building' (the boundary band) and 36 '2' (contact))
        assert_one_line_error(result, "tile.tif", "sum to 0..2, not 1", "no softmax",
                              "--description footprint tile.tif")
        assert not out.exists()
        return
    assert result.exit_code == 0, result.output
    frame = gpd.read_file(out)
    # the footprint band, thresholded: the blocks of touching houses
    union = shapely.union_all(houses)
    assert len(frame) == len(union.geoms)
    assert frame.area.sum() == pytest.approx(union.area)
    assert (frame["score"] == 1.0).all()  # was 1/255 (0.0039)


def test_cli_lines_and_evaluate_read_a_0_1_mask_whose_tags_were_lost(run_cli, make_raster,
                                                                     tmp_path):
    # --lines and evaluate read the untagged copy as they read make-masks' own (tagged) one
    houses = terraced_scene()
    raster = _untagged_0_1_channels(make_raster, houses)
    tagged = tmp_path / "tagged.tif"
    with rasterio.open(raster) as src:
        profile, bands = src.profile, src.read()
    with rasterio.open(tagged, "w", **profile) as dst:
        dst.write(bands)
        dst.descriptions = ("footprint", "boundary", "contact")
        dst.update_tags(GEOTILE_OUTPUT="mask", GEOTILE_CLASS_NAMES='["background", "building"]')
    lengths = {}
    for path in (raster, tagged):
        out = tmp_path / f"{path.stem}.gpkg"
        result = run_cli("vectorize", path, "-o", out, "--lines")
        assert result.exit_code == 0, result.output
        lengths[path.stem] = gpd.read_file(out)["length_m"].sum()
    assert lengths["tile"] == pytest.approx(lengths["tagged"]) and lengths["tile"] > 100
    bands = perfect_probabilities(houses).astype(np.uint8)
    pred = make_raster("pred.tif", bands, transform=TRANSFORM)
    with rasterio.open(pred, "r+") as dst:
        dst.descriptions = ("footprint", "boundary", "contact")
    truth = make_raster("truth.tif", bands[0], transform=TRANSFORM)
    result = run_cli("evaluate", pred, truth, "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["classes"][1]["iou"] == 1.0  # was 0.0: every building pixel p = 1/255
    assert scores["classes"][1]["predicted"] == (bands[0] == 1).sum()


@pytest.mark.parametrize("names", [True, False])
def test_cli_a_0_1_copy_with_nodata_rows_is_no_colour_labels(run_cli, make_raster, tmp_path,
                                                            names):
    # its nodata rows (255, 255, 255) read as a colour: evaluate refused it as 'RGB
    # colour-coded labels ... --palette deepglobe', tile warned so, make-masks said so
    houses = terraced_scene()
    raster = _untagged_0_1_channels(make_raster, houses, names)
    footprint = perfect_probabilities(houses).astype(np.uint8)[0]
    truth = make_raster("truth.tif", footprint, transform=TRANSFORM)
    result = run_cli("evaluate", raster, truth, "--json")
    if not names:  # no softmax (its boundary band was scored as the buildings: IoU 0.0)
        assert_one_line_error(result, "tile.tif", "no softmax", "--description footprint")
        assert "colour-coded" not in result.stderr
    else:
        assert result.exit_code == 0, result.output
    if names:  # its footprint band (unnamed, three bands are those of classes 0, 1, 2)
        building = json.loads(result.stdout)["classes"][1]
        assert building["iou"] == 1.0 and building["predicted"] == (footprint[:170] == 1).sum()
    image = make_raster("image.tif", np.full((3, 180, 160), 9, np.uint8), transform=TRANSFORM)
    result = run_cli("tile", image, "--masks", raster, "-o", tmp_path / "tiles", "--size", "64")
    assert result.exit_code == 0, result.output
    assert "colour-coded" not in result.output
    if names:  # make-masks: one band of class ids wanted, not a --palette
        result = run_cli("make-masks", raster, image, "-o", tmp_path / "m.tif")
        assert_one_line_error(result, "tile.tif", "has 3 (footprint, "
                              "boundary, contact); give one of them (gdal_translate -b N)")
        assert "colour-coded" not in result.stderr and "deepglobe" not in result.stderr


def test_cli_instances_on_probabilities_without_band_names(run_cli, make_raster, tmp_path):
    probabilities = np.zeros((3, 20, 40), np.uint8)
    probabilities[0, 5:15, 5:35] = 230
    probabilities[0, 5:15, 19:21] = 150
    probabilities[1, 5:15, 17:23] = 200
    raster = make_raster("p.tif", probabilities, transform=TRANSFORM)
    # plainly, its bands (0 together outside buildings) are no softmax of background first:
    # read so, its one polygon was the boundary strip where the footprint is 150
    result = run_cli("vectorize", raster, "-o", tmp_path / "plain.geojson")
    assert_one_line_error(result, "p.tif", "no softmax", "--description footprint p.tif")
    result = run_cli("vectorize", raster, "-o", tmp_path / "b.geojson", "--instances",
                     "--crs", "source", "--min-area", "1")
    assert result.exit_code == 0, result.output
    frame = gpd.read_file(tmp_path / "b.geojson")
    assert len(frame) == 2
    frame = frame.sort_values("score")
    # the weak wall is shared: one column to each house
    assert sorted(frame["area_m2"]) == [37.5, 37.5]
    assert np.allclose(frame["score"], (14 * 230 + 150) / 15 / 255, atol=1e-4)
    lefts = sorted(round(b[0] - X0, 2) for b in frame.geometry.bounds.values)
    assert lefts == [2.5, 10.0]


def test_cli_instances_write_geojson_in_wgs84_and_report_as_plain_mode(run_cli, make_raster,
                                                                        tmp_path):
    """GeoJSON is EPSG:4326 (RFC 7946) by default in either mode, and --json carries the
    same keys (crs, sources) in both."""
    probabilities = np.zeros((3, 20, 40), np.float32)
    probabilities[0, 5:15, 5:35] = 0.9
    raster = make_raster("p.tif", probabilities, transform=TRANSFORM)
    with rasterio.open(raster, "r+") as dst:  # as predict names a three-channel model's
        for band, name in enumerate(("footprint", "boundary", "contact"), start=1):
            dst.set_band_description(band, name)
    reports = {}
    for mode in ("--instances", "--no-instances"):
        out = tmp_path / f"{mode.strip('-')}.geojson"
        result = run_cli("vectorize", raster, "-o", out, mode, "--json")
        assert result.exit_code == 0, result.output
        reports[mode] = json.loads(result.stdout)
        frame = gpd.read_file(out)
        assert frame.crs.to_epsg() == 4326
        lon, lat = frame.geometry.iloc[0].centroid.coords[0]
        assert -180 <= lon <= 180 and -90 <= lat <= 90
    assert set(reports["--instances"]) == set(reports["--no-instances"])
    assert reports["--instances"]["crs"] == "EPSG:4326"
    assert reports["--instances"]["sources"] == ["p.tif"]


def test_cli_instances_on_an_empty_raster(run_cli, make_raster, tmp_path):
    raster = make_raster("p.tif", np.zeros((3, 10, 10), np.float32), transform=TRANSFORM)
    result = run_cli("vectorize", raster, "-o", tmp_path / "b.geojson", "--instances")
    assert result.exit_code == 0, result.output
    assert "0 polygons" in result.stdout
    assert json.loads((tmp_path / "b.geojson").read_text())["features"] == []


def write_probabilities(make_raster, name, houses, shape, transform):
    bands = rasterize_labels(houses, [1] * len(houses), shape, transform,
                             MaskOptions(channels=("footprint", "boundary", "contact")))
    return make_raster(name, bands.astype(np.float32), transform=transform)


def normalized(geometries):
    return sorted(shapely.normalize(g).wkt for g in geometries)


@pytest.mark.parametrize("block_cols", [4096, 16, 24])
def test_blocks_give_the_whole_raster_result(make_raster, block_cols):
    houses = terraced_scene()
    houses.append(shapely.box(X0 + 40, Y0 - 66, X0 + 60, Y0 - 58))  # 16 px: one band
    path = write_probabilities(make_raster, "p.tif", houses, (180, 160), TRANSFORM)
    whole = instance_frame([path])
    banded = instance_frame([path], options=InstanceOptions(band_rows=16, halo=8,
                                                            block_cols=block_cols))
    assert len(banded) == len(whole) == len(houses)
    assert normalized(banded.geometry) == normalized(whole.geometry) == normalized(houses)
    assert (banded["score"] == 1.0).all()


def test_houses_stacked_on_a_band_seam_stay_apart(make_raster):
    # a shared wall exactly on the seam at row 32, and a tall house across three seams
    houses = [shapely.box(X0 + 2, Y0 - 16, X0 + 10, Y0 - 10),
              shapely.box(X0 + 2, Y0 - 22, X0 + 10, Y0 - 16),
              shapely.box(X0 + 14, Y0 - 28, X0 + 18, Y0 - 2)]
    path = write_probabilities(make_raster, "p.tif", houses, (64, 40), TRANSFORM)
    for block_cols in (4096, 12):  # and a house across a column seam at x = 12 px
        found = instance_frame([path], options=InstanceOptions(band_rows=16, halo=8,
                                                               block_cols=block_cols))
        assert normalized(found.geometry) == normalized(houses)


def test_building_across_adjacent_rasters_is_one(make_raster):
    # B crosses the edge x = X0 + 20 between the rasters and touches A inside the left one
    houses = [shapely.box(X0 + 8, Y0 - 12, X0 + 14, Y0 - 4),
              shapely.box(X0 + 14, Y0 - 12, X0 + 26, Y0 - 4),
              shapely.box(X0 + 30, Y0 - 12, X0 + 36, Y0 - 4)]
    left = write_probabilities(make_raster, "a.tif", houses, (40, 40), TRANSFORM)
    right = write_probabilities(make_raster, "b.tif", houses, (40, 40),
                                from_origin(X0 + 20, Y0, 0.5, 0.5))
    found = instance_frame([left, right])
    assert normalized(found.geometry) == normalized(houses)
    assert sorted(found["source"]) == ["a.tif", "a.tif", "b.tif"]


def test_float_probabilities_declaring_nodata_0_keep_their_buildings(make_raster, run_cli,
                                                                     tmp_path):
    """Float32 footprint/boundary/contact probabilities written with an image profile's
    nodata 0: every pixel whose boundary or contact probability is 0 (each house's inside)
    was nodata, so five 15 x 15 m houses came out as four 15 m2 slivers along the party
    walls; GDAL's mask keeps a pixel where any band has data (as for uint8), and a wall
    band's 0 is no wall there: one polygon per house, as without the nodata value."""
    houses = [shapely.box(X0 + 5 + 15 * k, Y0 - 20, X0 + 20 + 15 * k, Y0 - 5)
              for k in range(5)]
    bands = rasterize_labels(houses, [1] * len(houses), (50, 180), TRANSFORM,
                             MaskOptions(channels=("footprint", "boundary", "contact")))
    path = make_raster("p.tif", bands.astype(np.float32), transform=TRANSFORM, nodata=0)
    with rasterio.open(path, "r+") as dst:
        dst.descriptions = ("footprint", "boundary", "contact")
    result = run_cli("vectorize", path, "-o", tmp_path / "b.gpkg")
    assert result.exit_code == 0, result.output
    found = gpd.read_file(tmp_path / "b.gpkg")
    assert normalized(found.geometry) == normalized(houses)
    assert list(found["area_m2"]) == [225.0] * 5
    # two adjacent rasters, a house across their edge (read with the neighbour's pixels)
    right = make_raster("q.tif", bands[:, :, 90:].astype(np.float32), nodata=0,
                        transform=from_origin(X0 + 45, Y0, 0.5, 0.5))
    left = make_raster("p.tif", bands[:, :, :90].astype(np.float32), transform=TRANSFORM,
                       nodata=0)
    assert normalized(instance_frame([left, right]).geometry) == normalized(houses)


def test_instances_of_adjacent_rasters_do_not_depend_on_their_order(make_raster):
    """Three adjacent rasters given in reverse: the same buildings came in another feature
    order (other FIDs) and a building across an edge named the other raster as source."""
    houses = terraced_scene()
    houses.append(shapely.box(X0 + 20, Y0 - 66, X0 + 60, Y0 - 58))
    rasters = [write_probabilities(make_raster, f"r{i}.tif", houses, (60, 160),
                                   from_origin(X0, Y0 - 30 * i, 0.5, 0.5)) for i in range(3)]
    forward, backward = instance_frame(rasters), instance_frame(rasters[::-1])
    assert normalized(forward.geometry) == normalized(houses)
    assert list(forward.geometry.to_wkb()) == list(backward.geometry.to_wkb())
    assert forward.drop(columns="geometry").equals(backward.drop(columns="geometry"))


def test_rasters_of_one_name_in_two_folders_are_two_rasters(make_raster, tmp_path):
    """d1/x.tif and d2/x.tif on different grids: a building across their edge is joined as
    for rasters of distinct names (each raster is its own, whatever its name)."""
    houses = [shapely.box(X0 + 8, Y0 - 12, X0 + 14, Y0 - 4),
              shapely.box(X0 + 14, Y0 - 12, X0 + 26, Y0 - 4),
              shapely.box(X0 + 30, Y0 - 12, X0 + 36, Y0 - 4)]
    fine = from_origin(X0 + 20, Y0, 0.25, 0.25)  # another pixel size: another grid
    (tmp_path / "d1").mkdir()
    (tmp_path / "d2").mkdir()
    rasters = {}
    for names in (("a.tif", "b.tif"), ("d1/x.tif", "d2/x.tif")):
        left = write_probabilities(make_raster, names[0], houses, (40, 40), TRANSFORM)
        right = write_probabilities(make_raster, names[1], houses, (80, 80), fine)
        rasters[names] = instance_frame([left, right])
    distinct, same = rasters.values()
    assert normalized(distinct.geometry) == normalized(same.geometry) == normalized(houses)
    assert sorted(same["source"]) == ["x.tif"] * 3


def test_houses_whose_wall_is_the_edge_between_rasters_stay_apart(make_raster):
    """A wall exactly on the edge between adjacent rasters (boundary and contact high on both
    sides of it) separates two houses, as it does inside one raster; a house cut by the
    edge (no wall there) is still joined."""
    houses = [shapely.box(X0 + 12, Y0 - 12, X0 + 20, Y0 - 4),  # wall at x = X0 + 20
              shapely.box(X0 + 20, Y0 - 12, X0 + 28, Y0 - 4),
              shapely.box(X0 + 16, Y0 - 30, X0 + 24, Y0 - 20)]  # cut by the edge
    whole = write_probabilities(make_raster, "w.tif", houses, (80, 80), TRANSFORM)
    assert normalized(instance_frame([whole]).geometry) == normalized(houses)
    import rasterio

    with rasterio.open(whole) as src:  # the scene's bands cut in two (as predict --mosaic)
        bands = src.read()
    left = make_raster("a.tif", bands[:, :, :40], transform=TRANSFORM)
    right = make_raster("b.tif", bands[:, :, 40:], transform=from_origin(X0 + 20, Y0, 0.5, 0.5))
    found = instance_frame([left, right])
    assert normalized(found.geometry) == normalized(houses)


def test_cli_plain_mode_on_predicted_footprint_boundary_contact_uses_the_footprint(
        run_cli, make_raster, tmp_path):
    """--no-instances on predict's three named probability bands thresholds the footprint
    band (one polygon per row), never an argmax of footprint against boundary/contact."""
    import rasterio

    houses = terraced_scene()
    bands = perfect_probabilities(houses) * np.float32(0.9)
    bands[1:] = np.maximum(bands[1:], np.float32(0.05))  # outside: boundary/contact win argmax
    raster = make_raster("p.tif", bands, transform=TRANSFORM)
    with rasterio.open(raster, "r+") as dst:
        for index, name in enumerate(("footprint", "boundary", "contact"), start=1):
            dst.set_band_description(index, name)
        dst.update_tags(GEOTILE_OUTPUT="probability")
    result = run_cli("vectorize", raster, "-o", tmp_path / "plain.gpkg", "--crs", "source",
                     "--no-instances")
    assert result.exit_code == 0, result.output
    frame = gpd.read_file(tmp_path / "plain.gpkg")
    assert len(frame) == 8  # 3 rows + 3 pairs + 2 detached
    assert shapely.union_all(frame.geometry).symmetric_difference(
        shapely.union_all(houses)).area < 0.01 * shapely.union_all(houses).area
    assert set(frame["class"]) == {"footprint"}


def test_the_models_boundary_threshold_travels_to_vectorize(run_cli, make_raster, tmp_path):
    # a faint party wall (boundary 0.2): markers must stay below the model's declared 0.1
    import onnx
    from onnx import TensorProto, helper

    from .onnx_models import IR_VERSION, OPSET

    image = np.zeros((3, 20, 40), np.uint8)
    image[0, 5:15, 5:35] = 255  # red: the footprint
    image[1, 5:15, 19:21] = 51  # green: a faint wall (0.2)
    raster = make_raster("img.tif", image, transform=TRANSFORM)
    # identity model: input channels are the footprint/boundary/contact probabilities
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], "identity",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3, "H", "W"])])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    proto.ir_version = IR_VERSION
    metadata = {"class_names": json.dumps({"0": "footprint", "1": "boundary", "2": "contact"}),
                "activation": "none", "boundary_thresh": "0.1"}
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=value)
    onnx.save(proto, tmp_path / "m.onnx")
    probabilities = tmp_path / "p.tif"
    result = run_cli("predict", tmp_path / "m.onnx", raster, "-o", probabilities,
                     "--tile-size", "64")
    assert result.exit_code == 0, result.output
    result = run_cli("vectorize", probabilities, "-o", tmp_path / "declared.gpkg",
                     "--min-area", "1")
    assert result.exit_code == 0, result.output
    assert len(gpd.read_file(tmp_path / "declared.gpkg")) == 2  # wall 0.2 >= 0.1: a cut
    result = run_cli("vectorize", probabilities, "-o", tmp_path / "given.gpkg",
                     "--min-area", "1", "--boundary-threshold", "0.5")
    assert result.exit_code == 0, result.output
    assert len(gpd.read_file(tmp_path / "given.gpkg")) == 1  # the option wins: 0.2 < 0.5


def test_rasters_declaring_different_marker_thresholds_are_refused(run_cli, make_raster,
                                                                    tmp_path):
    """Two rasters (of two models) declaring boundary thresholds 0.1 and 0.9, their houses
    parted by a faint wall (0.3): the first raster given lent its tag to both, so a.tif b.tif
    gave 4 buildings and b.tif a.tif 2, exit 0 (the output depended on the order given, and
    a.tif's own tag was ignored). Now refused, naming both and the option; --boundary-
    threshold given, or tags that agree, read them as before."""
    probabilities = np.zeros((3, 20, 40), np.float32)
    probabilities[0, 5:15, 5:35] = 0.9
    probabilities[1, 5:15, 19:21] = 0.3
    paths = []
    for name, column, tag in (("a.tif", 0, "0.1"), ("b.tif", 40, "0.9")):
        path = make_raster(name, probabilities, transform=from_origin(
            X0 + column * 0.5, Y0, 0.5, 0.5))
        with rasterio.open(path, "r+") as dst:
            dst.descriptions = ("footprint", "boundary", "contact")
            dst.update_tags(GEOTILE_BOUNDARY_THRESHOLD=tag)
        paths.append(path)
    out = tmp_path / "b.gpkg"
    for order in (paths, paths[::-1]):
        out.unlink(missing_ok=True)
        result = run_cli("vectorize", *order, "-o", out, "--min-area", "1")
        assert_one_line_error(result, "a.tif", "b.tif", "GEOTILE_BOUNDARY_THRESHOLD",
                              "0.1", "0.9", "--boundary-threshold")
        assert not out.exists()
        result = run_cli("vectorize", *order, "-o", out, "--min-area", "1", "--overwrite",
                         "--boundary-threshold", "0.2", "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["features"] == 4
    with rasterio.open(paths[1], "r+") as dst:
        dst.update_tags(GEOTILE_BOUNDARY_THRESHOLD="0.1")
    result = run_cli("vectorize", *paths, "-o", out, "--overwrite", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["features"] == 4


def test_pixel_evaluate_of_footprint_boundary_contact_reads_the_footprint(make_raster):
    # an argmax against boundary/contact would score the walls and contacts as classes
    from geotile.evaluate import evaluate_rasters

    probabilities = np.zeros((3, 20, 40), np.float32)
    probabilities[0, 5:15, 5:35] = 0.9
    probabilities[1, 5:15, 5:35] = 0.95  # boundary higher than footprint everywhere
    raster = make_raster("p.tif", probabilities, transform=TRANSFORM)
    import rasterio

    with rasterio.open(raster, "r+") as dst:
        for band, name in enumerate(("footprint", "boundary", "contact"), start=1):
            dst.set_band_description(band, name)
    truth = np.zeros((20, 40), np.uint8)
    truth[5:15, 5:35] = 1
    scores = evaluate_rasters(raster, make_raster("t.tif", truth, transform=TRANSFORM))
    assert scores.confusion.tolist() == [[500, 0], [0, 300]]


def test_cli_instances_check_their_inputs_as_the_plain_mode(run_cli, make_raster, tmp_path):
    # --instances skipped the input checks: a raster given twice, or two overlapping, had
    # every building written twice (exit 0); --classes tree was ignored
    from .conftest import assert_one_line_error

    houses = terraced_scene()[-2:]
    one = write_probabilities(make_raster, "one.tif", houses, (180, 160), TRANSFORM)
    shifted = write_probabilities(make_raster, "two.tif", houses, (180, 160),
                                  from_origin(X0 + 2.5, Y0, 0.5, 0.5))
    out = tmp_path / "b.gpkg"
    result = run_cli("vectorize", one, one, "-o", out, "--instances")
    assert_one_line_error(result, "one.tif", "given twice")
    result = run_cli("vectorize", one, shifted, "-o", out, "--instances")
    assert_one_line_error(result, "one.tif", "two.tif", "overlap")
    result = run_cli("vectorize", one, "-o", out, "--instances", "--classes", "tree")
    assert_one_line_error(result, "--classes", "tree")
    assert not out.exists()
    result = run_cli("vectorize", one, "-o", out, "--instances", "--classes", "building")
    assert result.exit_code == 0, result.output
    assert len(gpd.read_file(out)) == 2


def test_cli_instances_keep_classes_of_their_one_class_building(run_cli, make_raster,
                                                                tmp_path):
    """--classes of instances (their one class: building) to any output: the SpaceNet .csv
    ignored --classes (tree or 2 wrote the 2 buildings, exit 0) where a .gpkg refused tree and
    wrote none for 2; --classes footprint was refused as 'it names no classes: give class
    ids' of a raster whose bands are named. Now each says its one class, building."""
    houses = terraced_scene()[-2:]
    raster = write_probabilities(make_raster, "AOI_2_Vegas_img1.tif", houses, (180, 160),
                                 TRANSFORM)
    for suffix in (".gpkg", ".csv"):
        out = tmp_path / f"b{suffix}"
        for option in (["--classes", "footprint"], ["--min-area", "tree=5"]):
            result = run_cli("vectorize", raster, "-o", out, "--instances", *option)
            assert_one_line_error(result, option[1].split("=")[0], "its classes: building")
            assert "names no classes" not in result.stderr
            assert not out.exists()
        for kept, count in (("building", 2), ("1", 2), ("2", 0)):
            result = run_cli("vectorize", raster, "-o", out, "--instances", "--classes", kept,
                             "--json", "--overwrite")
            assert result.exit_code == 0, result.output
            assert json.loads(result.stdout)["features"] == count


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_cli_instances_on_a_raster_without_crs(run_cli, make_raster, tmp_path):
    # a traceback (crs must be set to estimate UTM CRS) where the plain mode warns and
    # writes polygons in the raster's own units
    from .conftest import assert_one_line_error

    houses = terraced_scene()[-2:]
    bands = rasterize_labels(houses, [1] * len(houses), (180, 160), TRANSFORM,
                             MaskOptions(channels=("footprint", "boundary", "contact")))
    raster = make_raster("p.tif", bands.astype(np.float32), transform=TRANSFORM, crs=None)
    result = run_cli("vectorize", raster, "-o", tmp_path / "b.gpkg", "--instances")
    assert result.exit_code == 0, result.output
    assert "p.tif: the raster has no CRS" in result.stderr
    found = gpd.read_file(tmp_path / "b.gpkg")
    assert found.crs is None
    assert sorted(found["area_m2"]) == pytest.approx(sorted(h.area for h in houses), rel=0.05)
    result = run_cli("vectorize", raster, "-o", tmp_path / "c.gpkg", "--instances",
                     "--crs", "EPSG:3857")
    assert_one_line_error(result, "p.tif", "no CRS", "--crs EPSG:3857")
    assert not (tmp_path / "c.gpkg").exists()


def test_cli_instances_scan_each_0_255_mask_once(run_cli, make_raster, tmp_path,
                                                 monkeypatch):
    """A 2 x 2 mosaic of 0/255 masks: whether each is one is read from all its pixels once,
    not again for each raster it is a neighbour of."""
    mask = np.zeros((64, 64), np.uint8)
    mask[20:44, 20:44] = 255  # a building across the four tiles' corner
    tiles = cut_into_tiles(make_raster, make_raster("m.tif", mask), [32], [32])
    from geotile import raster_kinds

    scanned = []
    scan = raster_kinds._scan_0_255

    def counted(src):
        scanned.append(Path(src.name).name)
        return scan(src)

    monkeypatch.setattr(raster_kinds, "_scan_0_255", counted)
    result = run_cli("vectorize", *tiles, "-o", tmp_path / "b.gpkg", "--instances",
                     "--workers", "1")
    assert result.exit_code == 0, result.output
    assert len(gpd.read_file(tmp_path / "b.gpkg")) == 1
    assert sorted(scanned) == sorted(Path(t).name for t in tiles)


def cut_into_tiles(make_raster, whole, rows, cols):
    """The bands of ``whole`` cut into adjacent GeoTIFFs at pixel ``rows`` and ``cols``."""
    from rasterio.windows import Window
    from rasterio.windows import transform as window_transform

    with rasterio.open(whole) as src:
        bands, transform, descriptions = src.read(), src.transform, src.descriptions
    row_edges = [0, *rows, bands.shape[1]]
    col_edges = [0, *cols, bands.shape[2]]
    tiles = []
    for i, (r0, r1) in enumerate(itertools.pairwise(row_edges)):
        for j, (c0, c1) in enumerate(itertools.pairwise(col_edges)):
            window = Window(c0, r0, c1 - c0, r1 - r0)
            path = make_raster(f"t_{i}_{j}.tif", bands[:, r0:r1, c0:c1],
                               transform=window_transform(window, transform))
            with rasterio.open(path, "r+") as dst:
                dst.descriptions = descriptions
            tiles.append(path)
    return tiles


def stacked_houses():
    """Two houses sharing a horizontal party wall at row 30 px (y = Y0 - 15 m), beside two
    sharing a vertical wall at column 50 px (x = X0 + 25 m), and a house cut by nothing."""
    return [shapely.box(X0 + 5, Y0 - 15, X0 + 20, Y0 - 5),
            shapely.box(X0 + 5, Y0 - 25, X0 + 20, Y0 - 15),
            shapely.box(X0 + 15, Y0 - 40, X0 + 25, Y0 - 30),
            shapely.box(X0 + 25, Y0 - 40, X0 + 35, Y0 - 30),
            shapely.box(X0 + 35, Y0 - 12, X0 + 42, Y0 - 4)]


@pytest.mark.parametrize("rows, cols", [
    ([28], [48]), ([29], [49]), ([31], [51]), ([32], [52]),  # 1-2 px from the walls
    ([30], [50]),  # on the walls
    ([20, 66], [36, 76]),  # through houses, and a 3 x 3 mosaic
    ([5, 10, 31, 60], [3, 49, 51, 90]),  # tiles of 2 to 5 px
])
@pytest.mark.parametrize("options", [InstanceOptions(),
                                     InstanceOptions(band_rows=16, halo=8, block_cols=24)])
def test_tiles_give_the_whole_rasters_instances(make_raster, rows, cols, options):
    """Adjacent rasters of one grid are one surface: cutting a raster 1-2 px from a party
    wall (the sliver has no marker of its own in its tile) neither merges the two houses
    nor gives the wall row to the wrong one, and a house cut in two is one polygon."""
    houses = stacked_houses()
    whole = write_probabilities(make_raster, "w.tif", houses, (90, 100), TRANSFORM)
    expected = instance_frame([whole], options=options)
    assert normalized(expected.geometry) == normalized(houses)
    found = instance_frame(cut_into_tiles(make_raster, whole, rows, cols), options=options)
    assert normalized(found.geometry) == normalized(houses)
    assert sorted(found["score"]) == sorted(expected["score"])


@pytest.mark.parametrize("cut", [17, 22, 23, 24, 25, 41, 42, 43])
def test_tiles_of_soft_probabilities_give_the_whole_rasters_instances(make_raster, cut):
    """Soft (model-like) probabilities: the slivers a tile edge cuts off a building join it,
    and walls near the edge stay where the whole raster puts them."""
    houses = terraced_scene()
    bands = ndimage.gaussian_filter(perfect_probabilities(houses), (0, 1.2, 1.2))
    whole = make_raster("w.tif", bands.astype(np.float32), transform=TRANSFORM)
    expected = instance_frame([whole])
    assert len(expected) == len(houses)
    for workers in (1, 2):
        found = instance_frame(cut_into_tiles(make_raster, whole, [cut], [cut + 40]),
                               workers=workers)
        assert normalized(found.geometry) == normalized(expected.geometry)
        assert np.allclose(sorted(found["score"]), sorted(expected["score"]), atol=1e-4)


@pytest.mark.parametrize("suffix", [".parquet", ".geoparquet"])
def test_cli_instances_write_geoparquet(run_cli, make_raster, tmp_path, suffix):
    """GeoParquet is an output of the default (instance) mode too, not a TypeError about
    the frame's internal CRS."""
    houses = stacked_houses()
    raster = write_probabilities(make_raster, "p.tif", houses, (90, 100), TRANSFORM)
    with rasterio.open(raster, "r+") as dst:  # as predict names them: --instances by default
        dst.descriptions = ("footprint", "boundary", "contact")
    out = tmp_path / f"b{suffix}"
    result = run_cli("vectorize", raster, "-o", out)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    frame = gpd.read_parquet(out)
    assert len(frame) == len(houses)
    assert frame.crs.to_epsg() == 32616
    assert normalized(frame.geometry) == normalized(houses)


@pytest.mark.parametrize(("names", "values"), [
    (["background", "garage", "house", "road"], (1, 2, 3)),
    (["footprint", "boundary", "contact"], (0, 1, 2)),  # predict --output-type class
    (None, (1, 2, 3)),  # unnamed class ids
])
def test_cli_instances_refuse_a_class_raster_of_several_classes(run_cli, make_raster, tmp_path,
                                                                names, values):
    """h12 F4: --instances on a one-band class raster (garage 1, house 2, road 3) wrote 26
    "building" instances (exit 0): the road and garages became buildings, class names lost.
    It is refused in one line naming the raster and the fix, nothing written; a one-class
    mask still gives building instances."""
    from .conftest import assert_one_line_error

    ids = np.full((40, 40), values[0], np.uint8)
    ids[2:12, 2:12], ids[2:12, 14:30], ids[20:26, :] = values
    raster = make_raster("mix.tif", ids, transform=TRANSFORM)
    if names:
        with rasterio.open(raster, "r+") as dst:
            dst.update_tags(GEOTILE_OUTPUT="class", GEOTILE_CLASS_NAMES=json.dumps(names))
            dst.set_band_description(1, "footprint")
    for out in (tmp_path / "i.gpkg", tmp_path / "i.csv"):
        result = run_cli("vectorize", raster, "-o", out, "--instances")
        assert_one_line_error(result, "mix.tif", "class raster", "--no-instances")
        assert not out.exists()
    ones = make_raster("one.tif", (ids == values[1]).astype(np.uint8), transform=TRANSFORM)
    result = run_cli("vectorize", ones, "-o", tmp_path / "o.gpkg", "--instances")
    assert result.exit_code == 0, result.output
    assert set(gpd.read_file(tmp_path / "o.gpkg")["class"]) == {"building"}


def test_a_one_class_mask_with_nodata_255_is_split_not_refused(make_raster, tmp_path, run_cli):
    # gdal_rasterize -a_nodata 255: a 0/1 mask declaring nodata 255 was refused by --instances
    # as "a class raster of several classes" (its nodata counted as a class id above 1)
    mask = np.zeros((40, 40), np.uint8)
    mask[4:14, 4:14] = 1
    mask[20:32, 22:34] = 1
    mask[:, 38:] = 255  # nodata
    raster = make_raster("m.tif", mask, nodata=255)
    result = run_cli("vectorize", raster, "--instances", "-o", tmp_path / "m.gpkg")
    assert result.exit_code == 0, result.output
    assert len(gpd.read_file(tmp_path / "m.gpkg")) == 2


def test_cli_instances_take_an_alpha_band_for_the_nodata_mask(run_cli, make_raster, tmp_path):
    from rasterio.enums import ColorInterp

    # footprint and boundary bands without names, and gdalwarp -dstalpha's band 3: it was
    # read as the contact band (255 everywhere, a wall over every pixel)
    p = np.zeros((3, 20, 40), np.float32)
    p[0, 5:15, 5:35] = 0.9
    p[1, 5:15, 17:23] = 0.8  # the wall between two houses
    p[0, 5:15, 19:21] = 0.6
    p[2] = 255
    raster = make_raster("p.tif", p, transform=TRANSFORM)
    with rasterio.open(raster, "r+") as dst:
        dst.colorinterp = [ColorInterp.gray, ColorInterp.undefined, ColorInterp.alpha]
    with rasterio.open(raster) as src:
        assert src.colorinterp[2].name == "alpha"
    result = run_cli("vectorize", raster, "-o", tmp_path / "b.gpkg", "--instances",
                     "--min-area", "1")
    assert result.exit_code == 0, result.output
    frame = gpd.read_file(tmp_path / "b.gpkg")
    assert sorted(frame["area_m2"]) == [37.5, 37.5]


def turned_grid(degrees, col=0):
    """A 0.5 m grid at the scene's origin turned by ``degrees``, from column ``col`` on."""
    from affine import Affine

    return (Affine.translation(X0, Y0) * Affine.rotation(-degrees) * Affine.scale(0.5, -0.5)
            * Affine.translation(col, 0))


@pytest.mark.parametrize("degrees", [30, 90, -90])
def test_regularize_treats_a_rotated_grids_pixels_as_north_up_ones(run_cli, make_raster,
                                                                   tmp_path, degrees):
    """The same footprint pixels (an L and a disc) under a turned 0.5 m grid: --regularize
    gives the outlines of north-up (at 90 degrees) and of --no-instances. The pixel was |a|
    of the transform: 0 at 90 degrees (staircases of 599 vertices kept), 0.43 m at 30."""
    from rasterio.features import rasterize

    footprint = np.zeros((120, 160), np.float32)
    footprint[10:60, 10:35] = footprint[35:60, 35:90] = 1  # an L
    footprint += rasterize([(shapely.Point(120, 80).buffer(30), 1)], out_shape=(120, 160))
    bands = np.stack([footprint, np.zeros_like(footprint), np.zeros_like(footprint)])

    def shapes(name, transform, *options):
        raster = make_raster(f"{name}.tif", bands, transform=transform)
        with rasterio.open(raster, "r+") as dst:
            dst.descriptions = ("footprint", "boundary", "contact")
        result = run_cli("vectorize", raster, "-o", tmp_path / f"{name}.gpkg", "--regularize",
                         *options)
        assert result.exit_code == 0, result.output
        frame = gpd.read_file(tmp_path / f"{name}.gpkg")
        return sorted((round(g.area), len(g.exterior.coords)) for g in frame.geometry)

    north = shapes("north", TRANSFORM)
    assert len(north) == 2 and max(n for _, n in north) < 20, north
    turned = shapes("turned", turned_grid(degrees))
    if degrees % 90 == 0:
        assert turned == north
    plain = shapes("plain", turned_grid(degrees), "--no-instances")
    assert [n for _, n in turned] == [n for _, n in plain]
    assert [a for a, _ in turned] == pytest.approx([a for a, _ in plain], rel=0.01)


def test_a_wall_on_the_edge_between_rotated_rasters_keeps_houses_apart(make_raster):
    """The wall between two rasters on grids turned by 90 degrees, as north-up: two houses
    apart and a cut house joined. The wall test walked the edge in steps of |a| of the
    transform, 0 there: GEOS's 'Tolerance must be positive' traceback."""
    from affine import Affine

    houses = [shapely.box(X0 + 12, Y0 - 12, X0 + 20, Y0 - 4),  # wall at x = X0 + 20
              shapely.box(X0 + 20, Y0 - 12, X0 + 28, Y0 - 4),
              shapely.box(X0 + 16, Y0 - 30, X0 + 24, Y0 - 20)]  # cut by the edge
    whole = write_probabilities(make_raster, "w.tif", houses, (80, 80), TRANSFORM)
    with rasterio.open(whole) as src:
        bands = src.read()
    left = make_raster("a.tif", bands[:, :, :40], transform=turned_grid(90))
    # another grid (0.25 m pixels): joined by the wall test, not as one surface
    fine = np.repeat(np.repeat(bands[:, :, 40:], 2, axis=1), 2, axis=2)
    right = make_raster("b.tif", fine, transform=turned_grid(90, 40) * Affine.scale(0.5))
    to_turned = turned_grid(90) * ~TRANSFORM
    moved = [shapely.affinity.affine_transform(h, Affine.to_shapely(to_turned))
             for h in houses]
    found = instance_frame([left, right])
    assert len(found) == 3
    for house in moved:
        assert max(g.intersection(house).area / g.union(house).area
                   for g in found.geometry) == pytest.approx(1.0), house


def test_instances_skip_a_background_band(tmp_path, make_raster, run_cli):
    """h123: --instances on predict's 2-band (background, building) softmax output took band 1
    (background) for the footprint: one polygon of the ground between 3 houses (99.75 % of
    the tile), not the 3 houses."""
    building = np.zeros((60, 90), np.float32)
    for col in (5, 35, 65):
        building[10:30, col:col + 20] = 0.9
    raster = make_raster("p.tif", np.stack([1 - building, building]))
    with rasterio.open(raster, "r+") as dst:
        dst.descriptions = ("background", "building")
    result = run_cli("vectorize", raster, "-o", tmp_path / "b.gpkg", "--instances")
    assert result.exit_code == 0, result.output
    frame = gpd.read_file(tmp_path / "b.gpkg")
    assert len(frame) == 3
    assert frame.area.round(2).tolist() == [100.0] * 3  # 20 x 20 px of 0.5 m


@pytest.mark.parametrize("simplify", [(), ("--simplify", "1")])
def test_instances_on_a_17_degree_grid_make_a_valid_coverage(run_cli, make_raster, tmp_path,
                                                             simplify):
    """Two houses side by side on a third (T-junctions) under a grid turned by 17 degrees:
    the clean-up matched edges exactly, as on north-up grids, and missed the T-junction
    vertices a round-off off the edge: 12 invalid coverage edges, and --simplify 1 then
    simplified each house alone (2667.4 m2 of 2700)."""
    labels = np.zeros((120, 160), np.int32)
    for number, (row, col) in enumerate(itertools.product((5, 45, 85), (5, 55, 105))):
        labels[row:row + 12, col:col + 17] = 3 * number + 1
        labels[row:row + 12, col + 17:col + 40] = 3 * number + 2
        labels[row + 12:row + 30, col:col + 40] = 3 * number + 3
    boundary = np.zeros(labels.shape, bool)
    for axis, step in itertools.product((0, 1), (1, -1)):
        near = np.roll(labels, step, axis=axis)
        boundary |= (labels > 0) & (near > 0) & (near != labels)
    bands = np.stack([labels > 0, boundary, np.zeros_like(boundary)]).astype(np.float32)
    raster = make_raster("t.tif", bands, transform=turned_grid(17))
    with rasterio.open(raster, "r+") as dst:
        dst.descriptions = ("footprint", "boundary", "contact")
    result = run_cli("vectorize", raster, "-o", tmp_path / "t.gpkg", "--crs", "source",
                     *simplify)
    assert result.exit_code == 0, result.output
    found = gpd.read_file(tmp_path / "t.gpkg").geometry.values
    assert len(found) == 27
    assert shapely.coverage_is_valid(found)
    area = (labels > 0).sum() * 0.25
    assert sum(g.area for g in found) == pytest.approx(area, abs=1e-6 if not simplify else 1)


def terrace_houses():
    """Rows of 2-4 touching houses of unequal depths (party walls ending in T-junctions),
    two of the rows turned by 20 degrees, in metres on the 0.5 m grid."""
    houses = []
    for top, sizes in ((5, ((7, 10), (6, 12), (8, 9))),
                       (25, ((6, 11), (7, 8), (6.5, 12), (5, 10)))):
        x = 5.0
        for width, depth in sizes:
            houses.append(shapely.box(X0 + x, Y0 - top - depth, X0 + x + width, Y0 - top))
            x += width
    for top, sizes in ((5, ((8, 10), (7, 13))), (30, ((6, 9), (8, 12), (6, 10)))):
        row, x = [], 45.0
        for width, depth in sizes:
            row.append(shapely.box(X0 + x, Y0 - top - depth, X0 + x + width, Y0 - top))
            x += width
        centre = shapely.union_all(row).centroid
        houses += [shapely.affinity.rotate(h, 20, origin=centre) for h in row]
    return houses


def test_t_junction_corner_pixels_stay_with_their_house():
    """Houses of unequal depths in a row: the watershed gave the convex corner pixel of the
    shallower house to the deeper neighbour (a notch in the one, a spur on the other)."""
    houses = terrace_houses()[:7]
    footprint, boundary, contact = perfect_probabilities(houses, (80, 80))
    labels = split_instances(footprint, boundary, contact)
    polygons = [p for p, _, _ in instance_polygons(labels, footprint, TRANSFORM)]
    assert normalized(polygons) == normalized(houses)


def test_regularized_terrace_keeps_its_party_walls(run_cli, make_raster, tmp_path):
    """--instances --regularize of touching houses: the squared houses still share their
    walls (a valid coverage, no gap between them) and keep their area. A T-junction corner
    pixel was notched and the turned rows kept their neighbours' pixel staircases: 841 of
    845 m2, gaps between neighbours, up to 63 vertices."""
    houses = terrace_houses()
    raster = write_probabilities(make_raster, "t.tif", houses, (120, 160), TRANSFORM)
    frames = {}
    for name, options in (("plain", ()), ("regular", ("--regularize",))):
        result = run_cli("vectorize", raster, "-o", tmp_path / f"{name}.gpkg", "--instances",
                         *options)
        assert result.exit_code == 0, result.output
        frames[name] = gpd.read_file(tmp_path / f"{name}.gpkg")
    plain, regular = frames["plain"].geometry.values, frames["regular"].geometry.values
    assert len(plain) == len(regular) == len(houses) == 12
    assert shapely.coverage_is_valid(regular)
    north_up = houses[:7]
    for house in houses:  # each house is one squared polygon close to the drawn one
        best = max(regular, key=lambda g: g.intersection(house).area)
        assert best.intersection(house).area / best.union(house).area > 0.88
        assert len(best.exterior.coords) <= 10
        if house in north_up:  # exact walls on a north-up grid
            assert best.area == pytest.approx(house.area)
    # the houses of a row share their walls: nothing opens between neighbours (less than a
    # pixel: a wedge between turned houses squared at angles 5 degrees apart is left)
    for row in (houses[:3], houses[3:7], houses[7:9], houses[9:]):
        inside = shapely.union_all(row).buffer(-0.6, join_style="mitre")
        found = shapely.union_all([g for g in regular if g.intersects(inside)])
        assert inside.difference(found).area < 0.25
    assert sum(g.area for g in regular) >= sum(g.area for g in plain) - 0.25 * len(plain) * 2


def test_a_small_building_beside_a_house_keeps_its_pixels():
    """A 1 x 3 px shed (3 m imagery, --min-marker 1 --marker-erosion 0) in a notch of a
    house: the corner hand-over gave its end pixels, then the rest, to the house (1
    polygon for 2 buildings). Its marker pixels are its own."""
    footprint = np.zeros((10, 10), np.float32)
    footprint[1:8, 1:8] = 1.0
    boundary = np.zeros_like(footprint)
    boundary[3:6, 4:8] = 1.0  # the house's walls around the shed
    boundary[4, 5:8] = 0.0  # the shed: row 4, columns 5-7
    footprint[4, 5:8] = 0.8
    options = InstanceOptions(min_marker=1, erosion=0)
    labels = split_instances(footprint, boundary, options=options)
    shed = labels[4, 5:8]
    assert len(set(shed.tolist())) == 1 and shed[0] != labels[2, 2] and shed[0] > 0
    polygons = instance_polygons(labels, footprint, TRANSFORM)
    assert sorted(count for _, _, count in polygons) == [3, 46]


def test_corner_hand_over_never_cuts_a_building_in_two():
    """The watershed's jagged wall between two houses of a noisy model: pixels were handed
    both ways in one pass (each to a pixel that left), so D's pixel at row 6, column 4
    ended alone (one house as 2 polygons) and the result flipped with each pass."""
    rows = ("CCC.C.AAAAAA", "CCCCCCCADDAA", "CCCCCCCDDDDD", "CCCCCCCD.DDD", "BBBCCDDDDDDD",
            "BBBBDDDDDDDD", "BBB.DBD.DDDD", "BBBBBBBDDDDD", "B.BBBB.DDDDD", "BBBBBBBDDDDD",
            ".BBBBDDDDDDD", "BBBBDDDDDDDD", ".....DDDDDDD", "....DDDD.D.D")
    labels = np.array([[0 if c == "." else ord(c) - 64 for c in row] for row in rows], np.int32)
    out = _corners_to_majority(labels)
    for label in range(1, 5):
        assert ndimage.label(out == label, structure=[[0, 1, 0], [1, 1, 1], [0, 1, 0]])[1] == 1
    assert np.array_equal(_corners_to_majority(out), out)  # settled, not flipping
    assert np.array_equal((out > 0), (labels > 0))


def test_footprint_boundary_contact_named_by_the_class_names_tag_are_instances(
        run_cli, make_raster, tmp_path):
    """A copy that lost its band descriptions but kept GEOTILE_CLASS_NAMES (footprint,
    boundary, contact): plain vectorize wrote the blocks of touching houses (8 of 26, class
    footprint), exit 0, where the described raster gave one polygon per house."""
    houses = terraced_scene()
    bands = perfect_probabilities(houses) * np.float32(0.9)
    counts = {}
    for name, described in (("described", True), ("tagged", False)):
        raster = make_raster(f"{name}.tif", bands, transform=TRANSFORM)
        with rasterio.open(raster, "r+") as dst:
            if described:
                dst.descriptions = ("footprint", "boundary", "contact")
            dst.update_tags(GEOTILE_OUTPUT="probability",
                            GEOTILE_CLASS_NAMES='["footprint", "boundary", "contact"]')
        out = tmp_path / f"{name}.gpkg"
        result = run_cli("vectorize", raster, "-o", out, "--crs", "source")
        assert result.exit_code == 0, result.output
        frame = gpd.read_file(out)
        counts[name] = (len(frame), sorted(frame["area_m2"].round(2)))
    assert counts["tagged"] == counts["described"]
    assert counts["tagged"][0] == 26


def test_cli_instances_tell_how_to_name_unnamed_0_255_bands(run_cli, make_raster, tmp_path):
    """solaris-style 0/255 footprint/boundary/contact bands without names or tags, given to
    --instances, were refused as colour-coded labels to be made a mask by --palette: the
    user said --instances; the message names the bands, as the advice then works."""
    houses = terraced_scene()
    bands = perfect_probabilities(houses).astype(np.uint8) * np.uint8(255)
    raster = make_raster("sol.tif", bands, transform=TRANSFORM)
    result = run_cli("vectorize", raster, "-o", tmp_path / "inst.gpkg", "--instances")
    assert_one_line_error(result, "sol.tif", "footprint, boundary and contact",
                          "gdal_edit.py -mo 'GEOTILE_CLASS_NAMES=[\"footprint\", "
                          "\"boundary\", \"contact\"]' sol.tif")
    assert "--palette" not in result.stderr and "make-masks" not in result.stderr
    with rasterio.open(raster, "r+") as dst:  # the advice followed
        dst.update_tags(GEOTILE_CLASS_NAMES='["footprint", "boundary", "contact"]')
    result = run_cli("vectorize", raster, "-o", tmp_path / "inst.gpkg", "--instances",
                     "--crs", "source")
    assert result.exit_code == 0, result.output
    assert len(gpd.read_file(tmp_path / "inst.gpkg")) == 26


@pytest.mark.parametrize("crs,origin,size,degrees,collar", [
    (UTM_CRS, UTM_ORIGIN, 0.05, 0, False),  # north-up
    (UTM_CRS, UTM_ORIGIN, 0.05, 25, False),  # an aerial frame turned 25 degrees
    ("EPSG:3857", (1196684.0, 8399837.0), 0.1, 25, False),  # Web Mercator at 60 N
    (UTM_CRS, UTM_ORIGIN, 0.05, 0, True),  # a tilted frame's nodata collar
    (None, UTM_ORIGIN, 0.05, 25, True)])  # no CRS: its own coordinates
def test_regularized_instances_end_at_the_rasters_edge_and_collar(
        make_raster, tmp_path, crs, origin, size, degrees, collar):
    """--instances --regularize of houses the raster's edge cuts: squared, they reached
    past the edge (88 and 105 px2 at 5 cm, north-up and turned alike) and past a nodata
    collar (155 and 113 px2), as the plain vectorizer's did before it clipped them to the
    rasters' footprint less their nodata. A house inside stays a 4-corner square."""
    import warnings

    from affine import Affine
    from rasterio.features import rasterize, shapes

    from geotile.errors import GeotileWarning
    from geotile.instances import vectorize_instances
    from geotile.vectorize import VectorizeOptions

    houses = [shapely.affinity.rotate(shapely.box(-20, 60, 60, 110), 20),  # cut by the edge
              shapely.affinity.rotate(shapely.box(100, -20, 160, 50), -15),
              shapely.affinity.rotate(shapely.box(80, 120, 130, 160), 30)]  # inside
    footprint = rasterize([(h, 1) for h in houses], (200, 200)).astype(np.float32)
    valid = np.ones(footprint.shape, bool)
    if collar:  # the frame turned 12 degrees inside the raster: nodata around it
        valid = rasterize([(shapely.affinity.rotate(shapely.box(8, 8, 192, 192), 12), 1)],
                          (200, 200)).astype(bool)
    bands = np.stack([footprint, np.zeros_like(footprint), np.zeros_like(footprint)])
    t = Affine.translation(*origin) * Affine.rotation(degrees) * Affine.scale(size, -size)
    path = make_raster("p.tif", np.where(valid, bands, -1).astype(np.float32), crs=crs,
                       transform=t, nodata=-1 if collar else None,
                       descriptions=("footprint", "boundary", "contact"))
    out = tmp_path / "p.gpkg"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*the raster has no CRS", GeotileWarning)
        vectorize_instances([path], out, options=VectorizeOptions(
            crs="source", regularize=True, workers=1))
    found = np.asarray(gpd.read_file(out).geometry.values)
    surface = shapely.union_all([shapely.geometry.shape(g) for g, _ in shapes(
        valid.astype(np.uint8), mask=valid, transform=t)])
    assert len(found) == 3 and shapely.is_valid(found).all()
    outside = shapely.area(shapely.difference(found, surface)) / size**2
    assert outside.max() < 0.01, outside
    inside = [g for g in found if g.distance(surface.boundary) > 2 * size]
    assert [len(g.exterior.coords) - 1 for g in inside] == [4]
    assert shapely.area(found).sum() > 0.9 * (footprint.astype(bool) & valid).sum() * size**2


@pytest.mark.parametrize("dtype,on", [("uint8", 255), ("float32", 1)])
def test_regularized_instances_of_a_mask_declaring_nodata_0_stay_square(
        make_raster, tmp_path, dtype, on):
    """A 0/255 (or 0/1) footprint, boundary, contact stack written with nodata 0
    (gdal_translate -a_nodata 0): its background is no collar, as the plain vectorizer
    reads such a mask. --instances --regularize clipped the squared houses to that
    'valid' surface, their own pixels: a house inside came back a 268-vertex staircase."""
    from affine import Affine
    from rasterio.features import rasterize

    from geotile.instances import vectorize_instances
    from geotile.vectorize import VectorizeOptions

    houses = [shapely.affinity.rotate(shapely.box(100, -20, 160, 50), -15),  # cut by the edge
              shapely.affinity.rotate(shapely.box(80, 120, 130, 160), 30)]  # inside
    footprint = rasterize([(h, on) for h in houses], (200, 200)).astype(dtype)
    bands = np.stack([footprint, np.zeros_like(footprint), np.zeros_like(footprint)])
    t = Affine.translation(*UTM_ORIGIN) * Affine.scale(0.05, -0.05)
    found = {}
    for nodata in (None, 0):
        path = make_raster(f"p{nodata}.tif", bands, crs=UTM_CRS, transform=t, nodata=nodata,
                           descriptions=("footprint", "boundary", "contact"))
        out = tmp_path / f"p{nodata}.gpkg"
        vectorize_instances([path], out, options=VectorizeOptions(
            crs="source", regularize=True, workers=1))
        found[nodata] = np.asarray(gpd.read_file(out).geometry.values)
    assert len(found[0]) == len(found[None]) == 2
    assert shapely.equals_exact(found[0], found[None], tolerance=1e-9).all()
    assert sorted(len(g.exterior.coords) - 1 for g in found[0])[0] == 4  # the inside one


def seam_houses(transform):
    """Three touching houses in a row (walls at 30 and 52 px), two touching ones across the
    row seam at 50 px (wall at row 60) and one across that and columns 35-48, in the pixels
    of ``transform`` placed by it."""
    from affine import Affine

    pixels = [shapely.box(10, 20, 30, 40), shapely.box(30, 20, 52, 40),
              shapely.box(52, 20, 70, 40), shapely.box(10, 44, 28, 60),
              shapely.box(10, 60, 28, 76), shapely.box(35, 44, 48, 58)]
    return [shapely.affinity.affine_transform(p, Affine.to_shapely(transform))
            for p in pixels]


def assert_each_house_once(found, houses, pixel):
    """One polygon per house, its outline within a pixel of the house's (the symmetric
    difference at most the perimeter times the pixel)."""
    assert len(found) == len(houses), sorted(round(g.area, 2) for g in found)
    assert all(g.geom_type == "Polygon" and g.is_valid for g in found)
    for house in houses:
        best = max(found, key=lambda g: g.intersection(house).area)
        assert best.symmetric_difference(house).area <= house.length * pixel, (
            house.area, best.area)


@pytest.mark.parametrize("degrees", [0, 15, 25, 45])
@pytest.mark.parametrize("offset", [0, 0.3])
@pytest.mark.parametrize("cut", [41, 30, 31, 32, 11, 69])
def test_houses_across_the_seams_of_rotated_tiles_are_one_each(make_raster, degrees, offset,
                                                               cut):
    """h356: 2 x 2 adjacent tiles of a grid turned by 15-45 degrees, the right ones on a grid
    moved by ``offset`` of a pixel along the seam (another grid): a house across a seam was
    two polygons (55 + 60 m2 of 112), as the pieces' shared edge lies a round-off apart on
    a rotated grid. Cut 1 px inside a house's outer wall (11, 69: along three houses, two
    of them touching) on another grid, the sliver (wall pixels, no marker) was a polygon
    of its own (6 for 5), or joined the two touching houses into one (144 m2 for 72 + 72):
    it now joins the houses across the seam, split between them. Cut 2 px from a wall
    (32), the house's strip went to its neighbour, which then joined the house across the
    seam (2 houses as one): each raster now reads the other grid's pixels past its edges
    as context. Each house once, touching houses apart (north-up, shared grids: the
    control). Cuts: through a house, on a wall, 1 and 2 px from it, 1 px inside the outer
    walls."""
    from affine import Affine

    grid = (Affine.translation(X0, Y0) * Affine.rotation(-degrees) * Affine.scale(0.5, -0.5))
    houses = seam_houses(grid)
    tiles = []
    for number, (row, col, height, width) in enumerate(
            [(0, 0, 50, cut), (0, cut, 50, 80 - cut), (50, 0, 40, cut),
             (50, cut, 40, 80 - cut)]):
        # each tile's probabilities on its own grid, as a model sees them: with 8 px of
        # context (a wall on its edge is a wall)
        transform = grid * Affine.translation(col, row + (offset if col else 0))
        bands = rasterize_labels(houses, [1] * len(houses), (height + 16, width + 16),
                                 transform * Affine.translation(-8, -8),
                                 MaskOptions(channels=("footprint", "boundary", "contact")))
        tiles.append(make_raster(f"t{number}.tif", bands[:, 8:-8, 8:-8].astype(np.float32),
                                 transform=transform))
    import warnings

    from geotile.errors import GeotileWarning

    with warnings.catch_warnings():  # tiles that touch (diagonal ones 0.3 px apart too)
        warnings.simplefilter("error", GeotileWarning)
        found = instance_frame(tiles)
    assert_each_house_once(list(found.geometry), houses, 0.5)


@pytest.mark.parametrize("gap", [0.3, 0.01])
def test_tiles_a_fraction_of_a_pixel_apart_are_said_to_be(make_raster, gap):
    """h356: two tiles of a grid turned 25 degrees, the second moved ``gap`` px off the first
    (rounded origins): their polygons do not meet, so a house across the gap came as two
    polygons (8 for 6) without a word. The gap is now named; touching tiles are not."""
    import warnings

    from affine import Affine

    from geotile.errors import GeotileWarning

    grid = (Affine.translation(X0, Y0) * Affine.rotation(-25) * Affine.scale(0.5, -0.5))
    houses = seam_houses(grid)
    tiles = []
    for name, col, width, moved in (("a.tif", 0, 41, 0), ("b.tif", 41, 39, gap)):
        transform = grid * Affine.translation(col + moved, 0)
        tiles.append(write_probabilities(make_raster, name, houses, (90, width), transform))
    with pytest.warns(GeotileWarning, match=rf"a\.tif and \S*b\.tif lie {gap:g} px apart"):
        instance_frame(tiles)
    touching = write_probabilities(make_raster, "c.tif", houses, (90, 39),
                                   grid * Affine.translation(41, 0.3))
    with warnings.catch_warnings():
        warnings.simplefilter("error", GeotileWarning)
        assert len(instance_frame([tiles[0], touching])) == len(houses)
