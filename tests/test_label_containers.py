"""make-masks of the same labels in each vector container GIS tools write: the mask the
GeoJSON gives (same pixels, same class ids), or one line naming the file and the fix."""

from __future__ import annotations

import gzip
import json
import zipfile

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from .conftest import assert_one_line_error

CRS = "EPSG:32633"
X0, Y0 = 500000.0, 5000100.0  # 200 x 200 pixels of 0.5 m


def _box(x0, y0, x1, y1):
    """A box x0..x1 metres right of, y0..y1 metres below the tile's top-left corner."""
    return shapely.box(X0 + x0, Y0 - y1, X0 + x1, Y0 - y0)


def _polygons() -> gpd.GeoDataFrame:
    """Polygons of three classes: one with a hole, one of two parts, two overlapping (the
    later wins)."""
    holed = shapely.Polygon(_box(5, 5, 45, 45).exterior.coords,
                            [_box(15, 15, 30, 30).exterior.coords[::-1]])
    multi = shapely.MultiPolygon([_box(55, 5, 70, 20), _box(75, 5, 95, 25)])
    return gpd.GeoDataFrame({"cls": ["building", "tree", "water", "building"]},
                            geometry=[holed, multi, _box(10, 55, 90, 90), _box(40, 40, 60, 60)],
                            crs=CRS)


def _lines() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": ["road", "path"]}, geometry=[
        shapely.LineString([(X0 + 2, Y0 - 50), (X0 + 98, Y0 - 50)]),
        shapely.LineString([(X0 + 50, Y0 - 2), (X0 + 50, Y0 - 98)])], crs=CRS)


@pytest.fixture
def tile(tmp_path):
    path = tmp_path / "tile.tif"
    with rasterio.open(path, "w", driver="GTiff", width=200, height=200, count=1,
                       dtype="uint8", crs=CRS, transform=from_origin(X0, Y0, 0.5, 0.5)) as dst:
        dst.write(np.full((1, 200, 200), 100, np.uint8))
    return path


def _mask(run_cli, labels, tile, out, *options):
    result = run_cli("make-masks", labels, tile, "-o", out, *options)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    with rasterio.open(out) as src:
        return src.read(1)


def _needs(driver: str):
    if driver not in pyogrio.list_drivers():
        pytest.skip(f"this GDAL has no {driver} driver")


def _gpx(frame, path, layer):
    _needs("GPX")
    frame = frame.to_crs("EPSG:4326")
    if layer == "tracks":
        frame = frame.set_geometry([shapely.MultiLineString([g]) for g in frame.geometry],
                                   crs="EPSG:4326")
    frame.to_file(path, driver="GPX", layer=layer)
    return path


def _topojson(frame, path):
    """``frame`` in lon/lat as a TopoJSON topology (one arc per ring, unquantised)."""
    arcs, shapes = [], []

    def ring(coords):
        arcs.append([list(c) for c in coords])
        return [len(arcs) - 1]

    for geometry, name in zip(frame.to_crs("EPSG:4326").geometry, frame["cls"], strict=True):
        parts = getattr(geometry, "geoms", [geometry])
        shapes.append({"type": "MultiPolygon", "properties": {"cls": name}, "arcs": [
            [ring(p.exterior.coords)] + [ring(i.coords) for i in p.interiors] for p in parts]})
    path.write_text(json.dumps({"type": "Topology", "arcs": arcs, "objects": {
        "labels": {"type": "GeometryCollection", "geometries": shapes}}}))
    return path


def _write(kind: str, frame, tmp_path):
    """``frame`` written as container ``kind``; the path to give make-masks."""
    lonlat = frame.to_crs("EPSG:4326")
    if kind == "kml":
        _needs("KML")
        lonlat.to_file(tmp_path / "a.kml", driver="KML")
        return tmp_path / "a.kml"
    if kind == "kmz":
        _needs("LIBKML")
        lonlat.to_file(tmp_path / "a.kmz", driver="LIBKML")
        return tmp_path / "a.kmz"
    if kind.startswith("gml"):
        _needs("GML")
        # GML 3 names EPSG:4326 by its URN, so its coordinates are in lat/lon order
        lonlat.to_file(tmp_path / "a.gml", driver="GML",
                       dataset_options={"FORMAT": f"GML{kind[3:] or 2}"})
        return tmp_path / "a.gml"
    if kind in ("geojsonl", "geojsons"):
        lonlat.to_file(tmp_path / f"a.{kind}", driver="GeoJSONSeq")
        return tmp_path / f"a.{kind}"
    if kind in ("geojson.gz", "vsigzip"):
        lonlat.to_file(tmp_path / "a.geojson")
        path = tmp_path / "a.geojson.gz"
        path.write_bytes(gzip.compress((tmp_path / "a.geojson").read_bytes()))
        (tmp_path / "a.geojson").unlink()
        return path if kind == "geojson.gz" else f"/vsigzip/{path}"
    if kind == "gdb":
        _needs("OpenFileGDB")
        frame = frame.set_geometry([shapely.MultiPolygon([g]) if g.geom_type == "Polygon"
                                    else g for g in frame.geometry], crs=frame.crs)
        frame.to_file(tmp_path / "a.gdb", driver="OpenFileGDB")
        return tmp_path / "a.gdb"
    if kind == "tab":
        _needs("MapInfo File")
        frame.to_file(tmp_path / "a.tab", driver="MapInfo File")
        return tmp_path / "a.tab"
    if kind in ("zip", "shp.zip", "vsizip"):
        folder = tmp_path / "shp"
        folder.mkdir()
        frame.to_file(folder / "a.shp")
        path = tmp_path / ("a.shp.zip" if kind == "shp.zip" else "a.zip")
        with zipfile.ZipFile(path, "w") as archive:
            for member in folder.iterdir():
                archive.write(member, member.name)
        return f"/vsizip/{path}/a.shp" if kind == "vsizip" else path
    if kind == "topojson":
        _needs("TopoJSON")
        return _topojson(frame, tmp_path / "a.topojson")
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["kml", "kmz", "gml", "gml3", "gml3.2", "geojsonl",
                                  "geojsons", "geojson.gz", "vsigzip", "gdb", "tab", "zip",
                                  "shp.zip", "vsizip"])
def test_each_container_gives_the_geojson_mask(run_cli, tile, tmp_path, kind):
    frame = _polygons()
    frame.to_file(tmp_path / "ref.geojson")
    want = _mask(run_cli, tmp_path / "ref.geojson", tile, tmp_path / "want.tif",
                 "--class-field", "cls")
    assert set(np.unique(want)) == {0, 1, 2, 3}
    got = _mask(run_cli, _write(kind, frame, tmp_path), tile, tmp_path / "got.tif",
                "--class-field", "cls")
    assert (got == want).all(), int((got != want).sum())


def test_topojson_without_a_crs_asks_for_one_then_gives_the_geojson_mask(run_cli, tile,
                                                                        tmp_path):
    frame = _polygons()
    frame.to_file(tmp_path / "ref.geojson")
    want = _mask(run_cli, tmp_path / "ref.geojson", tile, tmp_path / "want.tif",
                 "--class-field", "cls")
    path = _write("topojson", frame, tmp_path)
    result = run_cli("make-masks", path, tile, "-o", tmp_path / "got.tif", "--class-field",
                     "cls")
    assert_one_line_error(result, str(path), "--labels-crs")
    assert not (tmp_path / "got.tif").exists()
    got = _mask(run_cli, path, tile, tmp_path / "got.tif", "--class-field", "cls",
                "--labels-crs", "EPSG:4326")
    assert (got == want).all()


@pytest.mark.parametrize("layer", ["tracks", "routes"])
def test_a_gpx_file_reads_its_one_layer_of_lines_holding_any(run_cli, tile, tmp_path, layer):
    """A GPX file always has both a routes and a tracks layer: the one of them that holds
    lines is read without --layer."""
    lines = _lines()
    lines.to_crs("EPSG:4326").to_file(tmp_path / "ref.geojson")
    want = _mask(run_cli, tmp_path / "ref.geojson", tile, tmp_path / "want.tif",
                 "--class-field", "name", "--line-width", "4")
    path = _gpx(lines, tmp_path / "a.gpx", layer)
    got = _mask(run_cli, path, tile, tmp_path / "got.tif", "--class-field", "name",
                "--line-width", "4")
    assert set(np.unique(got)) == {0, 1, 2}
    assert (got == want).all()


def test_layers_that_all_hold_lines_still_need_a_layer(run_cli, tile, tmp_path):
    path = tmp_path / "two.gpkg"
    _lines().to_file(path, layer="roads")
    _polygons().to_file(path, layer="footprints")
    result = run_cli("make-masks", path, tile, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, str(path), "roads, footprints", "--layer")
    assert not (tmp_path / "m.tif").exists()


@pytest.mark.parametrize("columns", [("lon", "lat"), ("longitude", "latitude"), ("X", "Y")])
def test_a_csv_of_point_columns_says_points_have_no_area(run_cli, tile, tmp_path, columns):
    centres = _polygons().geometry.centroid.to_crs("EPSG:4326")
    path = tmp_path / "points.csv"
    path.write_text(f"cls,{columns[0]},{columns[1]}\n" + "".join(
        f"{name},{p.x},{p.y}\n" for name, p in zip(_polygons()["cls"], centres, strict=True)))
    result = run_cli("make-masks", path, tile, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, str(path), f"{columns[0]}, {columns[1]}", "no area",
                          "polygons")
    assert not (tmp_path / "m.tif").exists()


def test_an_osm_file_without_a_layer_says_which_holds_roads_and_buildings(run_cli, tile,
                                                                          tmp_path):
    _needs("OSM")
    lonlat = _lines().to_crs("EPSG:4326")
    nodes, ways = [], []
    for i, line in enumerate(lonlat.geometry):
        refs = []
        for x, y in line.coords:
            refs.append(len(nodes) + 1)
            nodes.append(f'<node id="{refs[-1]}" version="1" lat="{y}" lon="{x}"/>')
        ways.append(f'<way id="{100 + i}" version="1">' + "".join(
            f'<nd ref="{r}"/>' for r in refs) + '<tag k="highway" v="residential"/></way>')
    path = tmp_path / "map.osm"
    path.write_text('<?xml version="1.0"?><osm version="0.6">' + "".join(nodes + ways)
                    + "</osm>")
    result = run_cli("make-masks", path, tile, "-o", tmp_path / "m.tif", "--line-width", "4")
    assert_one_line_error(result, str(path), "--layer lines", "--layer multipolygons")
    assert not (tmp_path / "m.tif").exists()
    lines = tmp_path / "lines.geojson"
    lonlat.to_file(lines)
    want = _mask(run_cli, lines, tile, tmp_path / "want.tif", "--line-width", "4")
    got = _mask(run_cli, path, tile, tmp_path / "got.tif", "--line-width", "4",
                "--layer", "lines")
    assert want.any() and (got == want).all()


FOLDER_KINDS = ["kmz", "geojsonl", "geojsons", "geojson.gz", "gdb", "tab", "zip", "shp.zip"]


def _folder(kind: str, frames: dict, tmp_path, name: str):
    """A folder ``name`` of one label file per image stem in ``frames``, each written as
    container ``kind`` (side-cars beside it), beside a README.txt and a zip of images."""
    folder = tmp_path / name
    folder.mkdir()
    for stem, frame in frames.items():
        scratch = tmp_path / f"{name}-{stem}"
        scratch.mkdir()
        if kind == "geojson":
            frame.to_file(folder / f"{stem}.geojson")
            continue
        _write(kind, frame, scratch)
        for entry in scratch.iterdir():
            if entry.name != "shp":  # a zip's Shapefile, zipped
                entry.rename(folder / f"{stem}{entry.name[1:]}")
    (folder / "README.txt").write_text("labels of the tiles\n")
    with zipfile.ZipFile(folder / "images.zip", "w") as archive:
        archive.writestr("x.tif", b"not labels")
    return folder


def _two_tiles(tile, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for stem in ("x", "y"):
        (images / f"{stem}.tif").write_bytes(tile.read_bytes())
    frame = _polygons()  # y's without the tree and in another order: its own file is read
    return images, {"x": frame, "y": frame.iloc[[3, 2, 0]]}


def _masks(run_cli, labels, images, out, *options):
    result = run_cli("make-masks", labels, images, "-o", out, "--class-field", "cls",
                     *options)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    masks = {}
    for stem in ("x", "y"):
        with rasterio.open(out / f"{stem}.tif") as src:
            masks[stem] = src.read(1)
    return masks


@pytest.mark.parametrize("kind", FOLDER_KINDS)
def test_a_folder_of_each_container_pairs_as_a_geojson_folder(run_cli, tile, tmp_path, kind):
    """A folder of x.kmz, y.kmz (x.geojson.gz, x.shp.zip, x.gdb, x.tab beside its .dat,
    .map, .id...) was no label folder: make-masks read the folder as one file. Each image
    takes its own file, as from a folder of GeoJSON; a README and a zip of images are no
    label files."""
    images, frames = _two_tiles(tile, tmp_path)
    want = _masks(run_cli, _folder("geojson", frames, tmp_path, "ref"), images,
                  tmp_path / "want")
    assert set(np.unique(want["x"])) == {0, 1, 2, 3}
    assert (want["x"] != want["y"]).any()
    got = _masks(run_cli, _folder(kind, frames, tmp_path, "labels"), images, tmp_path / "got")
    for stem in ("x", "y"):
        assert (got[stem] == want[stem]).all(), (stem, int((got[stem] != want[stem]).sum()))


def test_a_folder_of_kmz_with_dask_workers(run_cli, tile, tmp_path):
    pytest.importorskip("distributed")
    images, frames = _two_tiles(tile, tmp_path)
    want = _masks(run_cli, _folder("geojson", frames, tmp_path, "ref"), images,
                  tmp_path / "want")
    got = _masks(run_cli, _folder("kmz", frames, tmp_path, "labels"), images,
                 tmp_path / "got", "--workers", "2")
    assert all((got[s] == want[s]).all() for s in ("x", "y"))


def test_an_image_without_its_container_file_is_named(run_cli, tile, tmp_path):
    images, frames = _two_tiles(tile, tmp_path)
    folder = _folder("geojson.gz", {"x": frames["x"]}, tmp_path, "labels")
    result = run_cli("make-masks", folder, images, "-o", tmp_path / "out", "--class-field",
                     "cls")
    assert_one_line_error(result, "y.tif", "y.geojson.gz")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("kind", ["kmz", "shp.zip"])
def test_evaluate_pairs_a_truth_folder_of_containers(tmp_path, kind):
    from geotile.folder_evaluation import evaluate_folders

    frames = {"x": _polygons(), "y": _polygons().iloc[[3, 2, 0]]}
    pred = _folder("geojson", frames, tmp_path, "pred")
    want = evaluate_folders(pred, _folder("geojson", frames, tmp_path, "ref")).as_dict()
    got = evaluate_folders(pred, _folder(kind, frames, tmp_path, "truth")).as_dict()
    assert sorted(got["per_image"]) == ["x", "y"]
    assert (got["tp"], got["fp"], got["fn"]) == (want["tp"], want["fp"], want["fn"]) == (7, 0, 0)


def test_a_folder_of_one_mapinfo_file_is_still_that_file(run_cli, tile, tmp_path):
    """GDAL reads a folder of one MapInfo file (its .dat, .map, .id beside it) as that file:
    given as LABELS it is one file of labels, not a folder pairing each image by name."""
    frame = _polygons()
    frame.to_file(tmp_path / "ref.geojson")
    want = _mask(run_cli, tmp_path / "ref.geojson", tile, tmp_path / "want.tif",
                 "--class-field", "cls")
    (tmp_path / "mapinfo").mkdir()
    _write("tab", frame, tmp_path / "mapinfo")
    got = _mask(run_cli, tmp_path / "mapinfo", tile, tmp_path / "got.tif", "--class-field",
                "cls")
    assert (got == want).all()


def _stacked(n: int = 40) -> gpd.GeoDataFrame:
    """``n`` boxes along the tile, then one box of another class over all of them last:
    written in this order, the last is on top everywhere."""
    boxes = [_box(2 + 2 * i, 2, 4 + 2 * i, 60) for i in range(n)]
    return gpd.GeoDataFrame({"cls": ["tree"] * n + ["building"]},
                            geometry=[*boxes, _box(1, 20, 95, 40)], crs=CRS)


@pytest.mark.parametrize("index", ["YES", "NO"])
def test_an_indexed_flatgeobuf_whose_classes_overlap_says_its_order_is_lost(
        run_cli, tile, tmp_path, index):
    """A FlatGeobuf with a spatial index (GDAL's default) stores its features sorted by
    place: where classes overlap, the class on top followed that sort, silently (pixels
    unlike the same GeoJSON's). The run says so, naming the file and the fix; without
    the index the order is the written one and nothing is said."""
    frame = _stacked()
    frame.to_file(tmp_path / "ref.geojson")
    want = _mask(run_cli, tmp_path / "ref.geojson", tile, tmp_path / "want.tif",
                 "--class-field", "cls")
    path = tmp_path / "a.fgb"
    frame.to_file(path, SPATIAL_INDEX=index)
    result = run_cli("make-masks", path, tile, "-o", tmp_path / "got.tif", "--class-field",
                     "cls")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "got.tif") as src:
        got = src.read(1)
    if index == "NO":
        assert (got == want).all()
        assert "SPATIAL_INDEX" not in result.stderr
    else:
        assert (got != want).any()  # what the warning is for
        assert "a.fgb" in result.stderr and "SPATIAL_INDEX=NO" in result.stderr
        assert "tile.tif" in result.stderr and "Traceback" not in result.stderr


def test_an_indexed_flatgeobuf_whose_overlaps_are_of_one_class_says_nothing(
        run_cli, tile, tmp_path):
    """Where only features of one class overlap (or classes only touch) no pixel depends on
    the order: no warning."""
    frame = _stacked()
    frame["cls"] = "tree"
    frame.loc[len(frame)] = ["building", _box(96, 2, 99, 60)]  # beside, not over
    frame.to_file(tmp_path / "a.fgb")
    result = run_cli("make-masks", tmp_path / "a.fgb", tile, "-o", tmp_path / "m.tif",
                     "--class-field", "cls")
    assert result.exit_code == 0, result.output
    assert "SPATIAL_INDEX" not in result.stderr
