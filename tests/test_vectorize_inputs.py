"""vectorize: what it accepts as input (class id ranges, duplicates and overlaps, rasters
without a CRS, tags) and what it writes (formats, CRSs, failures)."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from rasterio.transform import from_origin

from geotile.errors import InputError
from geotile.vectorize import VectorizeOptions, vectorize_polygons

from .conftest import UTM_CRS, UTM_ORIGIN, assert_one_line_error, union_of

X0, Y0 = UTM_ORIGIN
SOURCE = VectorizeOptions(crs="source")


def _blocks(dtype, ids):
    """A class raster with one 4x4 block per id, in a row, 1 m pixels."""
    classes = np.zeros((8, 6 * len(ids)), dtype)
    for k, class_id in enumerate(ids):
        classes[2:6, 6 * k + 1:6 * k + 5] = class_id
    return classes


@pytest.mark.parametrize(("dtype", "ids"), [
    ("uint16", [1, 256, 300, 65535]),
    ("int16", [2, 256, 300, 32767]),
    ("int32", [7, 256, 70000, 2**31 - 1]),
])
def test_class_ids_stay_exact_beyond_uint8(make_raster, tmp_path, dtype, ids):
    path = make_raster("c.tif", _blocks(dtype, ids), transform=from_origin(X0, Y0, 1, 1))
    vectorize_polygons([path], tmp_path / "c.gpkg", options=SOURCE)
    found = gpd.read_file(tmp_path / "c.gpkg").sort_values("class_id")
    assert list(found["class_id"]) == ids
    assert list(found.geometry.area) == [16] * len(ids)


def test_negative_class_ids_are_nodata_or_refused(make_raster, tmp_path):
    classes = _blocks("int16", [5, -1])
    masked = make_raster("masked.tif", classes, nodata=-1, transform=from_origin(X0, Y0, 1, 1))
    vectorize_polygons([masked], tmp_path / "m.gpkg", options=SOURCE)
    assert list(gpd.read_file(tmp_path / "m.gpkg")["class_id"]) == [5]
    bare = make_raster("bare.tif", classes, transform=from_origin(X0, Y0, 1, 1))
    with pytest.raises(InputError, match=r"bare\.tif: class id -1 .*nodata") as caught:
        vectorize_polygons([bare], tmp_path / "b.gpkg", options=SOURCE)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "b.gpkg").exists()


def test_float_class_raster_with_fractions_is_refused(make_raster, tmp_path):
    from rasterio import open as open_raster

    classes = _blocks("float32", [1.5])
    path = make_raster("f.tif", classes, transform=from_origin(X0, Y0, 1, 1))
    with open_raster(path, "r+") as dst:
        dst.update_tags(GEOTILE_OUTPUT="class")
    with pytest.raises(InputError, match=r"f\.tif: .*not whole numbers"):
        vectorize_polygons([path], tmp_path / "f.gpkg", options=SOURCE)


def test_cli_class_id_out_of_range_is_one_line(run_cli, make_raster, tmp_path):
    path = make_raster("c.tif", _blocks("int32", [-7]), transform=from_origin(X0, Y0, 1, 1))
    result = run_cli("vectorize", path, "-o", tmp_path / "c.gpkg")
    assert_one_line_error(result, "c.tif", "-7")


def _square(make_raster, name, x0, y0, size=20):
    classes = np.zeros((size, size), np.uint8)
    classes[5:15, 5:15] = 1
    return make_raster(name, classes, transform=from_origin(x0, y0, 1, 1))


def test_the_same_raster_twice_is_refused(make_raster, tmp_path, monkeypatch):
    path = _square(make_raster, "a.tif", X0, Y0)
    monkeypatch.chdir(tmp_path)
    for again in (path, "a.tif", tmp_path / "." / "a.tif"):
        with pytest.raises(InputError, match=r"a\.tif.* given twice") as caught:
            vectorize_polygons([path, again], tmp_path / "d.gpkg", options=SOURCE)
        assert "\n" not in str(caught.value)
    (tmp_path / "link.tif").symlink_to(path)
    with pytest.raises(InputError, match=r"given twice"):
        vectorize_polygons([path, tmp_path / "link.tif"], tmp_path / "d.gpkg", options=SOURCE)
    assert not (tmp_path / "d.gpkg").exists()


def test_overlapping_rasters_are_refused_naming_both(make_raster, tmp_path):
    a = _square(make_raster, "a.tif", X0, Y0)
    b = _square(make_raster, "b.tif", X0 + 10, Y0 - 3)  # overlaps a by 10 x 17 m
    copy = _square(make_raster, "copy.tif", X0, Y0)  # the same grid under another name
    for first, second in ((a, b), (a, copy)):
        with pytest.raises(InputError, match=rf"{first.name}.*{second.name}.*overlap"):
            vectorize_polygons([first, second], tmp_path / "o.gpkg", options=SOURCE)
    assert not (tmp_path / "o.gpkg").exists()


def test_rasters_touching_at_an_edge_or_corner_are_not_overlaps(make_raster, tmp_path):
    rasters = [_square(make_raster, f"{k}.tif", X0 + dx, Y0 - dy)
               for k, (dx, dy) in enumerate([(0, 0), (20, 0), (0, 20), (20, 20)])]
    summary = vectorize_polygons(rasters, tmp_path / "t.gpkg", options=SOURCE)
    assert summary["features"] == 4


def test_tiles_a_fraction_of_a_pixel_off_one_grid_are_named_so(make_raster, tmp_path, run_cli):
    # refused as "overlap (by about 0 pixels)" with a crop as the fix
    a = _square(make_raster, "a.tif", X0, Y0)
    b = _square(make_raster, "b.tif", X0 + 19.7, Y0)  # 0.3 px into a
    result = run_cli("vectorize", a, b, "-o", tmp_path / "x.gpkg")
    assert_one_line_error(result, "a.tif", "b.tif", "0.3 of a pixel", "not on one pixel grid",
                          "gdalbuildvrt")
    assert not (tmp_path / "x.gpkg").exists()
    c = _square(make_raster, "c.tif", X0 + 15, Y0)  # 5 px into a, on its grid
    assert_one_line_error(run_cli("vectorize", a, c, "-o", tmp_path / "x.gpkg"), "a.tif",
                          "c.tif", "by 5 x 20 pixels")


def test_cli_duplicate_and_overlap_are_one_line(run_cli, make_raster, tmp_path):
    a = _square(make_raster, "a.tif", X0, Y0)
    b = _square(make_raster, "b.tif", X0 + 5, Y0)
    assert_one_line_error(run_cli("vectorize", a, a, "-o", tmp_path / "x.gpkg"), "a.tif", "twice")
    assert_one_line_error(run_cli("vectorize", a, b, "-o", tmp_path / "x.gpkg"), "a.tif", "b.tif")


@pytest.mark.parametrize("mode", [[], ["--lines"]])
def test_overlapping_tiles_name_the_mosaic_as_the_way_out(run_cli, make_raster, tmp_path, mode):
    """Tiles delivered overlapping (by 5 px here) are refused; the way to whole features is
    one mosaic of them (predict --merge, gdalbuildvrt), which the line names, and roads are
    not called buildings."""
    a = _square(make_raster, "a.tif", X0, Y0)
    b = _square(make_raster, "b.tif", X0 + 15, Y0)
    result = run_cli("vectorize", a, b, "-o", tmp_path / "x.gpkg", *mode)
    assert_one_line_error(result, "a.tif", "b.tif", "by 5 x 20 pixels", "counted twice",
                          "--merge", "gdalbuildvrt")
    assert "buildings" not in result.stderr
    assert not (tmp_path / "x.gpkg").exists()


@pytest.mark.parametrize("suffix", [".gpkg", ".parquet", ".geoparquet", ".shp", ".fgb"])
def test_formats_other_than_geojson_keep_the_source_crs(make_raster, tmp_path, suffix):
    path = _square(make_raster, "a.tif", X0, Y0)
    out = tmp_path / f"b{suffix}"
    summary = vectorize_polygons([path], out)
    assert summary["features"] == 1
    found = gpd.read_parquet(out) if "parquet" in suffix else gpd.read_file(out)
    assert found.crs.to_epsg() == 32616
    box = shapely.box(X0 + 5, Y0 - 15, X0 + 15, Y0 - 5)
    assert found.geometry[0].symmetric_difference(box).area < 1e-6
    assert found["class"][0] == "building" and found["area_m2"][0] == pytest.approx(100)
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("."))
    assert leftovers == []
    if suffix == ".shp":
        assert {p.suffix for p in tmp_path.glob("b.*")} >= {".shp", ".shx", ".dbf", ".prj"}


def test_geoparquet_metadata_is_geoparquet_1(make_raster, tmp_path):
    """The "geo" metadata as GeoParquet 1.0/1.1 asks: WKB, the geometry types and bbox of
    the features, the CRS as PROJJSON; a raster without a CRS gives "crs": null, as an
    absent crs would declare OGC:CRS84 (longitude/latitude)."""
    import warnings

    import pyarrow.parquet as pq
    from pyproj import CRS

    def geo(path):
        return json.loads(pq.read_schema(path).metadata[b"geo"])

    vectorize_polygons([_square(make_raster, "a.tif", X0, Y0)], tmp_path / "a.parquet")
    meta = geo(tmp_path / "a.parquet")
    assert meta["version"].startswith("1.") and meta["primary_column"] == "geometry"
    column = meta["columns"]["geometry"]
    assert column["encoding"] == "WKB" and column["geometry_types"] == ["Polygon"]
    assert column["bbox"] == pytest.approx([X0 + 5, Y0 - 15, X0 + 15, Y0 - 5])
    assert column["crs"]["type"] == "ProjectedCRS"  # PROJJSON, not WKT or "EPSG:..."
    assert CRS.from_json_dict(column["crs"]) == CRS.from_epsg(32616)
    classes = np.zeros((20, 20), np.uint8)
    classes[5:15, 5:15] = 1
    make_raster("n.tif", classes, crs=None, transform=from_origin(X0, Y0, 1, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the warning about the missing CRS
        vectorize_polygons([tmp_path / "n.tif"], tmp_path / "n.parquet")
    column = geo(tmp_path / "n.parquet")["columns"]["geometry"]
    assert "crs" in column and column["crs"] is None


def test_geojson_is_rfc7946_lon_lat_and_crs_overrides(make_raster, tmp_path):
    path = _square(make_raster, "a.tif", X0, Y0)
    vectorize_polygons([path], tmp_path / "b.geojson")
    raw = json.loads((tmp_path / "b.geojson").read_text())
    lon, lat = raw["features"][0]["geometry"]["coordinates"][0][0]
    assert -85 < lon < -84 and 33 < lat < 34 and "crs" not in raw
    vectorize_polygons([path], tmp_path / "m.gpkg", options=VectorizeOptions(crs="EPSG:3857"))
    assert gpd.read_file(tmp_path / "m.gpkg").crs.to_epsg() == 3857
    vectorize_polygons([path], tmp_path / "s.geojson", options=VectorizeOptions(crs="source"))
    assert gpd.read_file(tmp_path / "s.geojson").crs.to_epsg() == 32616


def test_cli_output_errors_are_one_line(run_cli, make_raster, tmp_path):
    path = _square(make_raster, "a.tif", X0, Y0)
    result = run_cli("vectorize", path, "-o", tmp_path / "b.gpkg", "--crs", "FOO:1")
    assert_one_line_error(result, "FOO:1")
    result = run_cli("vectorize", path, "-o", tmp_path / "b.txt")
    assert_one_line_error(result, "b.txt", ".geojson", ".gpkg", ".parquet", ".shp", ".fgb")
    (tmp_path / "folder.gpkg").mkdir()
    result = run_cli("vectorize", path, "-o", tmp_path / "folder.gpkg", "--overwrite")
    assert_one_line_error(result, "folder.gpkg", "folder")
    assert (tmp_path / "folder.gpkg").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tif", "folder.gpkg"]


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".parquet", ".shp", ".fgb"])
def test_full_disk_is_one_line_and_leaves_nothing(run_cli, make_raster, tmp_path, monkeypatch,
                                                  suffix):
    import errno

    import geopandas

    path = _square(make_raster, "a.tif", X0, Y0)

    def full(self, target, *args, **kwargs):
        with open(target, "wb") as half:
            half.write(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(geopandas.GeoDataFrame, "to_file", full)
    monkeypatch.setattr(geopandas.GeoDataFrame, "to_parquet", full)
    result = run_cli("vectorize", path, "-o", tmp_path / f"b{suffix}")
    assert_one_line_error(result, f"b{suffix}", "No space left on device")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tif"]


def test_incomplete_file_is_not_published(make_raster, tmp_path, monkeypatch):
    import geopandas

    path = _square(make_raster, "a.tif", X0, Y0)
    real = geopandas.GeoDataFrame.to_file

    def short(self, target, *args, **kwargs):  # GDAL lost features without raising
        real(self.iloc[:0], target, *args, **kwargs)

    monkeypatch.setattr(geopandas.GeoDataFrame, "to_file", short)
    with pytest.raises(InputError, match=r"b\.gpkg: .*not written completely"):
        vectorize_polygons([path], tmp_path / "b.gpkg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tif"]


def test_shapefile_never_replaces_parts_it_did_not_write(make_raster, tmp_path):
    path = _square(make_raster, "a.tif", X0, Y0)
    (tmp_path / "b.dbf").write_text("someone else's table")
    with pytest.raises(Exception, match=r"b\.dbf"):
        vectorize_polygons([path], tmp_path / "b.shp")
    assert (tmp_path / "b.dbf").read_text() == "someone else's table"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tif", "b.dbf"]
    vectorize_polygons([path], tmp_path / "b.shp", overwrite=True)
    assert len(gpd.read_file(tmp_path / "b.shp")) == 1


def test_output_appearing_meanwhile_is_left_alone(make_raster, tmp_path, monkeypatch):
    import geopandas

    from geotile.errors import OutputExistsError

    path = _square(make_raster, "a.tif", X0, Y0)
    real = geopandas.GeoDataFrame.to_file

    def racing(self, target, *args, **kwargs):
        (tmp_path / "b.fgb").write_text("another process")
        real(self, target, *args, **kwargs)

    monkeypatch.setattr(geopandas.GeoDataFrame, "to_file", racing)
    with pytest.raises(OutputExistsError):
        vectorize_polygons([path], tmp_path / "b.fgb")
    assert (tmp_path / "b.fgb").read_text() == "another process"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tif", "b.fgb"]


def test_output_may_not_be_an_input(make_raster, tmp_path):
    path = _square(make_raster, "a.gpkg", X0, Y0, size=20)
    with pytest.raises(InputError, match=r"a\.gpkg: .*input"):
        vectorize_polygons([path], path, overwrite=True)


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
@pytest.mark.parametrize("georeferenced", [False, True])
def test_raster_without_crs_vectorizes_in_its_own_coordinates(make_raster, tmp_path,
                                                              georeferenced):
    import warnings

    from rasterio.transform import Affine

    from geotile.errors import GeotileWarning

    transform = from_origin(1000, 2000, 2, 2) if georeferenced else Affine.identity()
    classes = np.zeros((20, 30), np.uint8)
    classes[4:8, 10:20] = 1
    path = make_raster("n.tif", classes, crs=None, transform=transform)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        summary = vectorize_polygons([path], tmp_path / "n.gpkg", options=VectorizeOptions(
            regularize=True, simplify=0.5))
    assert summary["features"] == 1
    shown = [w for w in caught if not issubclass(w.category, DeprecationWarning)
             and not issubclass(w.category, PendingDeprecationWarning)]
    assert [w.category for w in shown] == [GeotileWarning]
    assert "n.tif" in str(shown[0].message) and "no CRS" in str(shown[0].message)
    found = gpd.read_file(tmp_path / "n.gpkg")
    assert found.crs is None
    scale = 2 if georeferenced else 1
    x0, y0 = (1000, 2000) if georeferenced else (0, 0)
    ys = sorted([y0 - 4 * scale, y0 - 8 * scale]) if georeferenced else [4, 8]
    box = shapely.box(x0 + 10 * scale, ys[0], x0 + 20 * scale, ys[1])
    assert found.geometry[0].symmetric_difference(box).area < 1e-6
    assert found["area_m2"][0] == pytest.approx(40 * scale**2)
    with pytest.warns(GeotileWarning, match="GeoJSON readers"):
        vectorize_polygons([path], tmp_path / "n.geojson")
    raw = json.loads((tmp_path / "n.geojson").read_text())
    assert raw["crs"] is None  # GeoJSON 2008's "no CRS", which geotile reads back so
    ring = shapely.Polygon(raw["features"][0]["geometry"]["coordinates"][0])
    assert ring.symmetric_difference(box).area < 1e-6


def test_raster_without_crs_cannot_be_reprojected(make_raster, tmp_path, run_cli):
    classes = np.zeros((10, 10), np.uint8)
    classes[2:5, 2:5] = 1
    path = make_raster("n.tif", classes, crs=None)
    with pytest.raises(InputError, match=r"n\.tif: .*no CRS.*EPSG:3857"):
        vectorize_polygons([path], tmp_path / "n.gpkg", options=VectorizeOptions(crs="EPSG:3857"))
    result = run_cli("vectorize", path, "-o", tmp_path / "n.fgb")
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Warning:") and "n.tif" in lines[0]
    assert "1 polygon" in result.stdout


def test_mixing_rasters_with_and_without_crs_is_one_line(make_raster, tmp_path):
    a = _square(make_raster, "a.tif", X0, Y0)
    classes = np.zeros((20, 20), np.uint8)
    b = make_raster("b.tif", classes, crs=None, transform=from_origin(X0 + 20, Y0, 1, 1))
    with pytest.raises(InputError, match=r"b\.tif: CRS \(none\) differs"):
        vectorize_polygons([a, b], tmp_path / "m.gpkg")


def _probability(make_raster, name, bands, *, tags=None, descriptions=None, **kwargs):
    import rasterio

    path = make_raster(name, bands, transform=from_origin(X0, Y0, 1, 1), **kwargs)
    with rasterio.open(path, "r+") as dst:
        if tags:
            dst.update_tags(**tags)
        for band, text in enumerate(descriptions or [], start=1):
            dst.set_band_description(band, text)
    return path


def test_single_class_probability_takes_its_name(make_raster, tmp_path):
    p = np.zeros((1, 20, 20), np.uint8)
    p[0, 2:8, 2:8] = 230
    tagged = _probability(make_raster, "t.tif", p, tags={
        "GEOTILE_OUTPUT": "probability", "GEOTILE_SCALE": "255",
        "GEOTILE_CLASS_NAMES": '["roof"]'})
    described = _probability(make_raster, "d.tif", (p / 255).astype("float32"),
                             descriptions=["roof"])
    by_id = _probability(make_raster, "i.tif", p, tags={
        "GEOTILE_OUTPUT": "probability", "GEOTILE_CLASS_NAMES": '["background", "roof"]'})
    for path in (tagged, described, by_id):
        vectorize_polygons([path], tmp_path / f"{path.stem}.gpkg")
        found = gpd.read_file(tmp_path / f"{path.stem}.gpkg")
        assert list(found["class"]) == ["roof"] and list(found["class_id"]) == [1]
        assert found["score"][0] == pytest.approx(230 / 255, abs=1e-3)


def test_multiclass_names_from_band_descriptions(make_raster, tmp_path):
    p = np.zeros((3, 20, 20), np.float32)
    p[0] = 0.5
    p[1, 2:8, 2:8] = 0.9
    p[2, 10:18, 10:18] = 0.8
    path = _probability(make_raster, "m.tif", p, descriptions=["background", "house", "shed"])
    vectorize_polygons([path], tmp_path / "m.gpkg")
    found = gpd.read_file(tmp_path / "m.gpkg").sort_values("class_id")
    assert list(found["class"]) == ["house", "shed"] and list(found["class_id"]) == [1, 2]


@pytest.mark.parametrize("dtype", ["float32", "uint8"])
def test_named_softmax_bands_without_background_give_every_pixel_a_class(make_raster,
                                                                        tmp_path, dtype):
    """An untagged land-cover softmax whose band descriptions name classes (water, forest,
    urban: no background) was read as independent probabilities and thresholded at 0.5:
    the 46 % of pixels whose most probable class was under 0.5 became a background no band
    names, left out of the polygons. Bands that sum to 1 are a softmax: the argmax, every
    pixel a class; independent bands (0 together outside the objects) stay thresholded."""
    rng = np.random.default_rng(0)
    z = rng.normal(size=(3, 30, 30)) * 0.7
    p = np.exp(z) / np.exp(z).sum(axis=0)
    assert (p.max(axis=0) < 0.5).mean() > 0.3
    values = (p * 255).round().astype(np.uint8) if dtype == "uint8" else p.astype(np.float32)
    path = _probability(make_raster, "lc.tif", values, descriptions=["water", "forest", "urban"])
    if dtype == "uint8":
        import rasterio

        with rasterio.open(path, "r+") as dst:
            dst.scales = (1 / 255,) * 3
    vectorize_polygons([path], tmp_path / "lc.gpkg")
    found = gpd.read_file(tmp_path / "lc.gpkg")
    assert found.area.sum() == pytest.approx(900)
    areas = found.groupby("class")["area_m2"].sum()
    expected = np.bincount(values.argmax(axis=0).ravel(), minlength=3)
    assert [areas[n] for n in ("water", "forest", "urban")] == list(expected)
    independent = np.zeros((2, 30, 30), np.float32)
    independent[0, 2:8, 2:8], independent[1, 10:20, 10:20] = 0.9, 0.4
    path = _probability(make_raster, "ind.tif", independent, descriptions=["building", "road"])
    vectorize_polygons([path], tmp_path / "ind.gpkg")
    assert list(gpd.read_file(tmp_path / "ind.gpkg")["area_m2"]) == [36]


def test_named_bands_with_background_after_band_1_are_refused(make_raster, tmp_path,
                                                              run_cli):
    """An untagged softmax whose band descriptions put background last (building,
    background: an export in its training order) was read with background as a class of its
    own: vectorize wrote a 'background' polygon over every pixel that was not a building,
    exit 0. Refused in one line naming the file, the band and how to reorder the bands."""
    p = np.full((2, 30, 30), 0.1, np.float32)
    p[0, 5:15, 5:15] = 0.9
    p[1] = 1 - p[0]
    for descriptions in (["building", "background"], ["building", "road", "Background"]):
        values = p if len(descriptions) == 2 else np.stack([p[0] / 2, p[0] / 2, p[1]])
        path = _probability(make_raster, "p.tif", values, descriptions=descriptions)
        result = run_cli("vectorize", path, "-o", tmp_path / "x.gpkg")
        assert_one_line_error(result, "p.tif", f"band {len(descriptions)}", "background",
                              "gdal_translate")
        assert not (tmp_path / "x.gpkg").exists()
    # 'other' last is a land-cover class, not background
    values = np.stack([p[0] / 2, p[0] / 2, p[1]])
    path = _probability(make_raster, "lc.tif", values, descriptions=["water", "urban", "other"])
    assert run_cli("vectorize", path, "-o", tmp_path / "lc.gpkg").exit_code == 0
    # ISPRS Potsdam's six classes end with 'Clutter/background', a class of the dataset: a
    # softmax named so is read as its six classes, as before, not refused
    isprs = ["Impervious surfaces", "Building", "Low vegetation", "Tree", "Car",
             "Clutter/background"]
    six = np.full((6, 30, 30), 0.1, np.float32)
    six[1, 5:15, 5:15], six[5, 20:25, 20:25] = 0.5, 0.5
    six[0] = 1 - six[1:].sum(axis=0)
    path = _probability(make_raster, "potsdam.tif", six, descriptions=isprs)
    result = run_cli("vectorize", path, "-o", tmp_path / "potsdam.gpkg")
    assert result.exit_code == 0, result.output
    assert set(gpd.read_file(tmp_path / "potsdam.gpkg")["class"]) == {
        "Impervious surfaces", "Building", "Clutter/background"}


def test_threshold_comes_from_option_then_tag_then_half(make_raster, tmp_path):
    p = np.zeros((1, 20, 20), np.float32)
    p[0, 2:8, 2:8] = 0.7
    p[0, 10:18, 10:18] = 0.9
    dataset = _probability(make_raster, "a.tif", p, tags={"GEOTILE_THRESHOLD": "0.8"})
    band = _probability(make_raster, "b.tif", p)
    import rasterio

    with rasterio.open(band, "r+") as dst:
        dst.update_tags(1, GEOTILE_THRESHOLD="0.8")
    untagged = _probability(make_raster, "c.tif", p)
    for path, threshold, expected in ((dataset, None, [64]), (band, None, [64]),
                                      (dataset, 0.6, [36, 64]), (untagged, None, [36, 64])):
        out = tmp_path / f"{path.stem}{threshold}.gpkg"
        vectorize_polygons([path], out, options=VectorizeOptions(threshold=threshold))
        assert sorted(gpd.read_file(out)["area_m2"]) == expected


def test_uint8_band_scaled_to_probabilities_is_a_probability_raster(make_raster, tmp_path):
    import rasterio

    p = np.zeros((20, 20), np.uint8)
    p[2:8, 2:8] = 100  # 0.39
    p[10:18, 10:18] = 200  # 0.78
    path = make_raster("s.tif", p, transform=from_origin(X0, Y0, 1, 1))
    with rasterio.open(path, "r+") as dst:
        dst.scales = (1 / 255,)
    vectorize_polygons([path], tmp_path / "s.gpkg")
    found = gpd.read_file(tmp_path / "s.gpkg")
    assert list(found["class_id"]) == [1] and list(found["area_m2"]) == [64]
    assert found["score"][0] == pytest.approx(200 / 255, abs=1e-3)


def test_a_gdal_offset_on_a_scaled_probability_band_is_refused(make_raster, tmp_path,
                                                               run_cli):
    """uint8 with GDAL scale 0.01 and offset -1 (values -1..1.55): the offset was dropped and
    raw / 100 thresholded (raw >= 50 a building, where raw x 0.01 - 1 >= 0.5 needs 150),
    exit 0. Now one line naming the file and the offset, for vectorize and evaluate."""
    import rasterio

    p = np.zeros((20, 20), np.uint8)
    p[2:8, 2:8] = 100  # 0.0 with its offset, 1.0 without
    path = make_raster("s.tif", p, transform=from_origin(X0, Y0, 1, 1))
    with rasterio.open(path, "r+") as dst:
        dst.scales, dst.offsets = (0.01,), (-1.0,)
    result = run_cli("vectorize", path, "-o", tmp_path / "s.gpkg")
    assert_one_line_error(result, str(path), "offset -1", "gdal_edit.py -offset 0")
    assert not (tmp_path / "s.gpkg").exists()
    truth = make_raster("t.tif", p // 100, transform=from_origin(X0, Y0, 1, 1))
    assert_one_line_error(run_cli("evaluate", path, truth), str(path), "offset -1")


@pytest.mark.parametrize(("key", "value", "fragment"), [
    ("GEOTILE_THRESHOLD", "abc", "GEOTILE_THRESHOLD"),
    ("GEOTILE_THRESHOLD", "1.5", "GEOTILE_THRESHOLD"),
    ("GEOTILE_CLASS_NAMES", "[building", "GEOTILE_CLASS_NAMES"),
    ("GEOTILE_SCALE", "zero", "GEOTILE_SCALE"),
    ("GEOTILE_SCALE", "0", "GEOTILE_SCALE"),
])
def test_bad_tags_are_one_line(run_cli, make_raster, tmp_path, key, value, fragment):
    p = np.zeros((1, 20, 20), np.uint8)
    path = _probability(make_raster, "t.tif", p, tags={"GEOTILE_OUTPUT": "probability",
                                                       key: value})
    assert_one_line_error(run_cli("vectorize", path, "-o", tmp_path / "t.gpkg"), "t.tif",
                          fragment)


def test_a_bare_path_is_one_raster(make_raster, tmp_path):
    path = _square(make_raster, "a.tif", X0, Y0)
    for given, name in ((str(path), "s.gpkg"), (path, "p.gpkg")):
        summary = vectorize_polygons(given, tmp_path / name)
        assert summary["features"] == 1 and summary["sources"] == ["a.tif"]
    with pytest.raises(InputError, match="no raster"):
        vectorize_polygons([], tmp_path / "e.gpkg")


def test_many_classes_label_in_one_pass_with_the_same_result(make_raster, tmp_path,
                                                             monkeypatch):
    import geotile.vectorize as module

    rng = np.random.default_rng(3)
    classes = rng.integers(0, 40, (6, 8)).repeat(5, axis=0).repeat(5, axis=1).astype("int16")
    classes[::7, ::3] = 1000  # specks touching their neighbours diagonally only, or not
    path = make_raster("m.tif", classes, transform=from_origin(X0, Y0, 1, 1))
    results = []
    for few in (8, 10_000):
        monkeypatch.setattr(module, "FEW_CLASSES", few)
        out = tmp_path / f"m{few}.gpkg"
        vectorize_polygons([path], out, options=SOURCE)
        found = gpd.read_file(out)
        results.append(sorted(zip(found["class_id"], found.geometry.area.round(6),
                                  found.geometry.centroid.x.round(6),
                                  found.geometry.centroid.y.round(6), strict=True)))
    assert results[0] == results[1] and len(results[0]) > 40
    assert {r[0] for r in results[0]} == set(np.unique(classes)) - {0}


def test_gdal_virtual_paths_reach_gdal_unchanged(run_cli, make_raster, tmp_path):
    import zipfile

    path = _square(make_raster, "a.tif", X0, Y0)
    with zipfile.ZipFile(tmp_path / "r.zip", "w") as archive:
        archive.write(path, "a.tif")
    virtual = f"/vsizip/{tmp_path / 'r.zip'}/a.tif"  # /vsizip//tmp/...: a double slash
    summary = vectorize_polygons([virtual], tmp_path / "v.gpkg")
    assert summary["features"] == 1 and summary["sources"] == ["a.tif"]
    result = run_cli("vectorize", virtual, "-o", tmp_path / "c.gpkg", "--json")
    assert result.exit_code == 0, result.output
    assert gpd.read_file(tmp_path / "c.gpkg")["source"][0] == "a.tif"
    missing = f"/vsizip/{tmp_path / 'r.zip'}/b.tif"
    assert_one_line_error(run_cli("vectorize", missing, "-o", tmp_path / "m.gpkg"), missing)


def test_geopackages_are_written_as_version_1_3_for_older_gdal(make_raster, tmp_path,
                                                                run_cli):
    """GeoPackages were written as GDAL 3.10's default, version 1.4, whose new R-tree
    triggers GDAL 3.6 (QGIS builds of 2022-2023) reads with 'may only be partially
    supported' and its validator rejects (Req 75: rtree_..._update1 trigger missing) -> 1.3,
    which every GDAL since 2.x reads: new files of vectorize and evaluate --errors alike; a
    GeoPackage given to add a layer to keeps its own version."""
    import sqlite3

    import pyogrio

    def version(path):
        with sqlite3.connect(path) as db:
            return db.execute("PRAGMA user_version").fetchone()[0]

    raster = _square(make_raster, "a.tif", X0, Y0)
    vectorize_polygons([raster], tmp_path / "v.gpkg")
    assert version(tmp_path / "v.gpkg") == 10300
    truth = tmp_path / "t.gpkg"
    gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.box(X0, Y0 - 1, X0 + 1, Y0)],
                     crs=UTM_CRS).to_file(truth)
    result = run_cli("evaluate", tmp_path / "v.gpkg", truth, "--errors", tmp_path / "e.gpkg")
    assert result.exit_code == 0, result.output
    assert version(tmp_path / "e.gpkg") == 10300
    pyogrio.write_dataframe(gpd.GeoDataFrame({"b": [2]}, geometry=[shapely.box(0, 0, 1, 1)],
                                             crs=UTM_CRS), tmp_path / "own.gpkg", layer="roads")
    own = version(tmp_path / "own.gpkg")
    vectorize_polygons([raster], tmp_path / "own.gpkg", overwrite=True)
    assert version(tmp_path / "own.gpkg") == own
    assert set(pyogrio.list_layers(tmp_path / "own.gpkg")[:, 0]) == {"roads", "own"}


def test_empty_outputs_in_every_format(make_raster, tmp_path):
    path = make_raster("e.tif", np.zeros((10, 10), np.uint8))
    for suffix in (".geojson", ".gpkg", ".parquet", ".shp", ".fgb"):
        summary = vectorize_polygons([path], tmp_path / f"e{suffix}")
        assert summary["features"] == 0 and (tmp_path / f"e{suffix}").exists()


@pytest.mark.parametrize("mode", ["instances", "lines"])
def test_empty_outputs_of_every_mode_keep_text_columns(make_raster, tmp_path, mode):
    """A tile without buildings or roads (--instances, --lines) wrote class and source as
    Real fields (pandas' type of an empty column): ogr2ogr -append of other tiles wrote
    their names as 0. They are String as in a full tile's output (and the plain mode's)."""
    import pyarrow.parquet as pq
    import pyogrio

    from geotile.instances import vectorize_instances
    from geotile.lines import vectorize_lines

    full = np.zeros((3, 20, 20) if mode == "instances" else (20, 20), np.float32)
    full[..., 2:8, 2:18] = 0.9
    if mode == "instances":
        full[1:] = 0.0
    for name, values in (("e", np.zeros_like(full)), ("f", full)):
        path = make_raster(f"{name}.tif", values)
        for suffix in (".gpkg", ".parquet"):
            output = tmp_path / f"{name}{suffix}"
            (vectorize_instances if mode == "instances" else vectorize_lines)([path], output)
    empty, found = (pyogrio.read_info(tmp_path / f"{n}.gpkg") for n in ("e", "f"))
    assert found["features"] > 0 and empty["features"] == 0
    assert dict(zip(empty["fields"], empty["dtypes"], strict=True)) == \
        dict(zip(found["fields"], found["dtypes"], strict=True))
    assert pq.read_schema(tmp_path / "e.parquet").field("class").type == \
        pq.read_schema(tmp_path / "f.parquet").field("class").type


def test_geoparquet_of_empty_and_full_tiles_concatenate(make_raster, tmp_path):
    """Every GeoParquet has its geometry column last: an empty tile's table had it after
    area_m2, a full one's before it, and pyarrow refused to concatenate the two."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    make_raster("e.tif", np.zeros((10, 10), np.uint8))
    make_raster("f.tif", np.pad(np.ones((2, 2), np.uint8), 4))
    tables = []
    for name in ("e", "f"):
        vectorize_polygons([tmp_path / f"{name}.tif"], tmp_path / f"{name}.parquet")
        tables.append(pq.read_table(tmp_path / f"{name}.parquet"))
    assert tables[0].schema.names == tables[1].schema.names
    assert tables[1].schema.names[-1] == "geometry"
    assert pa.concat_tables(tables).num_rows == 1


@pytest.mark.parametrize("instances", [False, True])
def test_empty_outputs_declare_polygon_layers(make_raster, tmp_path, instances):
    """A tile without buildings gives a polygon layer (GDAL took an empty Shapefile for
    lines, GeoPackage and FlatGeobuf for any geometry): QGIS styles it, and ogr2ogr
    -append adds other tiles' polygons to it."""
    import pyogrio

    from geotile.instances import vectorize_instances

    path = make_raster("e.tif", np.zeros((3, 10, 10) if instances else (10, 10),
                                         np.float32 if instances else np.uint8))
    for suffix in (".gpkg", ".shp", ".fgb"):
        output = tmp_path / f"e{suffix}"
        if instances:
            vectorize_instances([path], output)
        else:
            vectorize_polygons([path], output)
        assert pyogrio.read_info(output)["geometry_type"] == "Polygon", suffix


def test_geographic_raster_across_the_antimeridian(make_raster, tmp_path):
    classes = np.zeros((30, 30), np.uint8)
    classes[5:15, 5:15] = 1
    step = 0.0001
    path = make_raster("g.tif", classes, crs="EPSG:4326",
                       transform=from_origin(179.9995, 10, step, step))
    vectorize_polygons([path], tmp_path / "g.gpkg", options=VectorizeOptions(regularize=True))
    area = gpd.read_file(tmp_path / "g.gpkg")["area_m2"][0]
    assert area == pytest.approx(100 * 11.13 * 10.96, rel=0.02)


def test_rotated_raster_regularizes_on_its_pixel_size(make_raster, tmp_path):
    from rasterio.transform import Affine

    classes = np.zeros((30, 30), np.uint8)
    classes[5:15, 5:25] = 1
    transform = Affine(0.0, 1.0, X0, 1.0, 0.0, Y0)  # axes swapped: transform.a is 0
    path = make_raster("r.tif", classes, transform=transform)
    vectorize_polygons([path], tmp_path / "r.gpkg", options=VectorizeOptions(regularize=True))
    found = gpd.read_file(tmp_path / "r.gpkg")
    assert found["area_m2"][0] == pytest.approx(200)
    assert len(found.geometry[0].exterior.coords) == 5


def test_an_rgb_image_is_not_taken_for_probabilities(run_cli, make_raster, tmp_path):
    # an orthotile given by mistake (JPEG in YCbCr, as aerial orthophotos ship): read as
    # 3-class probabilities it gave polygons of colours
    rgb = np.random.default_rng(0).integers(0, 255, (3, 32, 32), dtype=np.uint8)
    image = make_raster("ortho.tif", rgb, compress="jpeg", photometric="ycbcr", tiled=True,
                        blockxsize=16, blockysize=16)
    result = run_cli("vectorize", image, "-o", tmp_path / "v.gpkg")
    assert_one_line_error(result, "ortho.tif", "RGB image")
    assert not (tmp_path / "v.gpkg").exists()
    result = run_cli("evaluate", image, image)
    assert_one_line_error(result, "ortho.tif", "RGB image")


@pytest.mark.parametrize("suffix", [".SHP", ".GPKG", ".FGB", ".GeoJSON", ".PARQUET"])
def test_output_extensions_are_case_insensitive(run_cli, make_raster, tmp_path, suffix):
    path = _square(make_raster, "a.tif", X0, Y0)
    out = tmp_path / f"b{suffix}"
    result = run_cli("vectorize", path, "-o", out)
    assert result.exit_code == 0, result.output
    found = gpd.read_parquet(out) if suffix == ".PARQUET" else gpd.read_file(out)
    assert len(found) == 1 and found["area_m2"][0] == pytest.approx(100)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    if suffix.lower() == ".shp":  # the other parts in the case of the name given
        parts = {p.suffix for p in tmp_path.glob("b.*")}
        wanted = {".shp", ".shx", ".dbf", ".prj"}
        assert parts >= {s.upper() for s in wanted}
        result = run_cli("vectorize", path, "-o", out)  # parts exist now: refused, kept
        assert_one_line_error(result, "b.", "--overwrite")
        assert run_cli("vectorize", path, "-o", out, "--overwrite").exit_code == 0
        assert len(gpd.read_file(out)) == 1


def test_mixed_case_shapefile_extension_is_one_line(run_cli, make_raster, tmp_path):
    path = _square(make_raster, "a.tif", X0, Y0)
    result = run_cli("vectorize", path, "-o", tmp_path / "b.Shp")
    assert_one_line_error(result, "b.Shp", "b.shp", "b.SHP")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tif"]


@pytest.mark.parametrize("suffix", [".shp", ".SHP"])
def test_instances_write_whole_shapefiles_in_either_case(run_cli, make_raster, tmp_path, suffix):
    bands = np.zeros((3, 30, 30), np.float32)
    bands[0, 5:15, 5:15] = 0.9
    bands[0, 20:28, 18:28] = 0.9
    path = make_raster("i.tif", bands, transform=from_origin(X0, Y0, 1, 1))
    from rasterio import open as open_raster

    with open_raster(path, "r+") as dst:
        dst.descriptions = ("footprint", "boundary", "contact")
    out = tmp_path / f"b{suffix}"
    result = run_cli("vectorize", path, "-o", out, "--instances")
    assert result.exit_code == 0, result.output
    assert sorted(gpd.read_file(out)["area_m2"]) == pytest.approx([80, 100])
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize(("values", "reach"), [((0.5, 3), "3"), ((200,), "200"),
                                               ((0.5, -2), "-2")])
def test_float_values_outside_0_1_are_not_probabilities(run_cli, make_raster, tmp_path,
                                                         values, reach):
    """Floats past 0..1 are refused; negative ones (a model's logits, TorchGeo's raw
    output saved with rasterio) were told to become class ids (gdal_translate -ot Byte,
    which clamps the negatives to 0 and cuts the rest to ids 0..6): they are told to apply
    the model's sigmoid or softmax, or to declare a nodata value."""
    classes = np.zeros((40, 30), np.float32)
    for k, value in enumerate(values):
        classes[30:34, 4 + 8 * k:8 + 8 * k] = value  # in the last row band only
    path = make_raster("f.tif", classes, transform=from_origin(X0, Y0, 1, 1))
    result = run_cli("vectorize", path, "-o", tmp_path / "f.gpkg")
    fix = ("logits, apply its sigmoid or softmax", "gdal_edit.py -a_nodata -2 f.tif") \
        if reach.startswith("-") else ("gdal_translate -ot Byte",)
    assert_one_line_error(result, "f.tif", f"values reach {reach}", "0..1", *fix)
    assert "gdal_translate" not in result.output or not reach.startswith("-")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.tif"]
    result = run_cli("vectorize", path, "-o", tmp_path / "f.gpkg", "--lines")
    assert_one_line_error(result, "f.tif", f"values reach {reach}")
    for workers in (1, 2):  # streamed by 8-row bands: refused when the band is read
        options = VectorizeOptions(band_rows=8, workers=workers)
        with pytest.raises(InputError, match=rf"f\.tif: values reach {reach}\b"):
            vectorize_polygons([path], tmp_path / "f.gpkg", options=options)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["f.tif"]


def test_float_instance_ids_above_255_are_not_advised_into_bytes(run_cli, make_raster,
                                                                 tmp_path):
    """A float32 instance-id mask (SAM / Detectron2 post-processing: ids 1..300, touching
    buildings) was refused with 'gdal_translate -ot Byte', which clamps every id above 255
    to 255 and merges touching buildings: the advice names a type that holds the ids, and
    following it gives one polygon per id."""
    ids = np.zeros((40, 40), np.float32)
    ids[2:12, 2:12], ids[2:12, 12:22], ids[12:20, 2:22] = 256, 300, 299
    path = make_raster("ids.tif", ids, transform=from_origin(X0, Y0, 1, 1))
    result = run_cli("vectorize", path, "-o", tmp_path / "ids.gpkg")
    assert_one_line_error(result, "ids.tif", "values reach 300", "gdal_translate -ot UInt16")
    assert "-ot Byte" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ids.tif"]
    ids[0, 0] = 70000
    path = make_raster("wide.tif", ids, transform=from_origin(X0, Y0, 1, 1))
    result = run_cli("vectorize", path, "-o", tmp_path / "wide.gpkg")
    assert_one_line_error(result, "wide.tif", "values reach 70000", "gdal_translate -ot UInt32")
    ids[0, 0] = 0
    fixed = make_raster("fixed.tif", ids.astype(np.uint16), transform=from_origin(X0, Y0, 1, 1))
    result = run_cli("vectorize", fixed, "-o", tmp_path / "fixed.gpkg")
    assert result.exit_code == 0, result.output
    found = gpd.read_file(tmp_path / "fixed.gpkg").sort_values("class_id")
    assert list(found["class_id"]) == [256, 299, 300]
    assert list(found["area_m2"]) == [100, 160, 100]


def test_probabilities_within_a_rounding_error_of_0_1_are_kept(make_raster, tmp_path):
    p = np.full((20, 20), np.nan, np.float32)
    p[2:8, 2:8] = np.float32(1.0000001)
    p[10:18, 10:18] = -1e-7
    p[10:12, 10:12] = 0.9
    path = make_raster("p.tif", p, transform=from_origin(X0, Y0, 1, 1))
    vectorize_polygons([path], tmp_path / "p.gpkg", options=VectorizeOptions(band_rows=4))
    assert sorted(gpd.read_file(tmp_path / "p.gpkg")["area_m2"]) == [4, 36]


def test_geojson_in_a_crs_without_epsg_code_is_refused(make_raster, tmp_path, run_cli):
    """GeoJSON names a CRS by EPSG code only: a custom CRS would be read as lon/lat."""
    from .conftest import assert_one_line_error

    custom = "+proj=tmerc +lat_0=0 +lon_0=15 +k=0.9996 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m"
    mask = np.zeros((20, 20), np.uint8)
    mask[5:10, 5:10] = 1
    path = make_raster("m.tif", mask, crs=custom)
    assert_one_line_error(run_cli("vectorize", path, "-o", tmp_path / "o.geojson", "--crs",
                                  "source"), "o.geojson", "EPSG code", ".gpkg")
    assert not (tmp_path / "o.geojson").exists()
    assert run_cli("vectorize", path, "-o", tmp_path / "o.gpkg", "--crs",
                   "source").exit_code == 0


def test_colour_coded_labels_are_refused_not_polygonised_as_probabilities(run_cli, make_raster,
                                                                          tmp_path):
    """An ISPRS Potsdam label raster (blue buildings, green trees) given to vectorize: read as
    three probability bands its tree row came out as class 1 "building"; it is one line
    naming make-masks --palette, and nothing is written."""
    ids = np.zeros((40, 60), np.uint8)
    ids[5:20, 5:20] = 1  # a building
    ids[25:35, :] = 2  # a row of trees
    colours = np.array([[255, 255, 255], [0, 0, 255], [0, 255, 0]], np.uint8)
    labels = make_raster("top_potsdam_2_10_label.tif", np.moveaxis(colours[ids], -1, 0).copy(),
                         photometric="RGB")
    result = run_cli("vectorize", labels, "-o", tmp_path / "v.gpkg")
    assert_one_line_error(result, "top_potsdam_2_10_label.tif", "colour-coded labels",
                          "--palette potsdam")
    assert not (tmp_path / "v.gpkg").exists()


def test_probabilities_scaled_to_0_255_without_a_scale_are_warned_about(make_raster, tmp_path,
                                                                       run_cli):
    """A third-party uint8 probability export (200 where p = 0.78, 20 where p = 0.08) with no
    GDAL scale reads as class ids 20 and 200: vectorize and evaluate say so, naming the fix;
    a 0/255 mask and small class ids stay quiet."""
    values = np.full((10, 10), 20, np.uint8)
    values[:5] = 200
    raster = make_raster("prob.tif", values)
    truth = make_raster("truth.tif", (values > 100).astype(np.uint8))
    for args in (("vectorize", raster, "-o", tmp_path / "v.gpkg"),
                 ("evaluate", raster, truth)):
        result = run_cli(*args)
        assert result.exit_code == 0, result.output
        assert "prob.tif: class ids up to 200" in result.stderr
        assert "gdal_edit.py -scale 0.00392157" in result.stderr
    mask = make_raster("mask.tif", (values > 100).astype(np.uint8) * 255)
    classes = make_raster("classes.tif", (values > 100).astype(np.uint8) * 7)
    for quiet in (mask, classes):
        result = run_cli("vectorize", quiet, "-o", tmp_path / f"{quiet.stem}.gpkg")
        assert result.exit_code == 0 and "class ids up to" not in result.stderr


def test_probabilities_scaled_to_0_65535_without_a_scale_are_warned_about(make_raster,
                                                                         tmp_path, run_cli):
    """A model's probabilities saved as uint16 0..65535 read as classes 6554 and 58982 with
    no word: vectorize (polygons and --lines) warns naming the 1/65535 scale, which then
    gives class 1, and evaluate's refusal names it; real uint16 codes (CORINE's up to 999,
    nodata 65535) stay quiet."""
    import rasterio

    values = np.full((30, 30), 6554, np.uint16)  # p = 0.1
    values[10:20, 2:28] = 58982  # p = 0.9
    raster = make_raster("prob16.tif", values)
    for args in (("vectorize", raster, "-o", tmp_path / "v.gpkg"),
                 ("vectorize", raster, "-o", tmp_path / "l.gpkg", "--lines")):
        result = run_cli(*args)
        assert result.exit_code == 0, result.output
        assert "prob16.tif: class ids up to 58982" in result.stderr, args
        assert "gdal_edit.py -scale 1.5259e-05 prob16.tif" in result.stderr
    truth = make_raster("truth.tif", (values > 32768).astype(np.uint8))
    assert_one_line_error(run_cli("evaluate", raster, truth), "prob16.tif: value 58982",
                          "gdal_edit.py -scale 1.5259e-05 prob16.tif")
    values[0, 0] = 1010  # within evaluate's class ids: read, with the warning
    result = run_cli("evaluate", make_raster("low16.tif", np.minimum(values, 1010)), truth)
    assert result.exit_code == 0 and "low16.tif: class ids up to 1010" in result.stderr
    with rasterio.open(raster, "r+") as dst:
        dst.scales = (1.5259e-05,)
    result = run_cli("vectorize", raster, "-o", tmp_path / "s.gpkg", "--overwrite")
    assert result.exit_code == 0 and "class ids up to" not in result.stderr
    assert list(gpd.read_file(tmp_path / "s.gpkg")["class_id"]) == [1]
    codes = np.where(values > 32768, 999, 311).astype(np.uint16)
    codes[:, :3] = 65535
    corine = make_raster("corine.tif", codes, nodata=65535)
    result = run_cli("vectorize", corine, "-o", tmp_path / "c.gpkg")
    assert result.exit_code == 0 and "class ids up to" not in result.stderr
    assert sorted(gpd.read_file(tmp_path / "c.gpkg")["class_id"]) == [311, 999]


def test_geoparquet_by_its_other_suffix_is_read_as_truth(make_raster, tmp_path):
    """A truth file named .geoparquet (as many GeoParquet files are) is read like .parquet:
    before, GDAL's ADBC driver was tried and failed on a missing libduckdb."""
    from geotile.evaluate_modes import evaluate_files

    path = _square(make_raster, "a.tif", X0, Y0)
    vectorize_polygons([path], tmp_path / "pred.gpkg")
    box = shapely.box(X0 + 5, Y0 - 15, X0 + 15, Y0 - 5)
    gpd.GeoDataFrame(geometry=[box], crs=32616).to_parquet(tmp_path / "truth.geoparquet")
    scores = evaluate_files(tmp_path / "pred.gpkg", tmp_path / "truth.geoparquet").scores
    assert (scores.tp, scores.fp, scores.fn) == (1, 0, 0)


def test_a_raster_placed_by_gcps_alone_is_named_so(tmp_path, run_cli):
    """A Level-1 product placed by GCPs (no geotransform): the polygons are in pixels, and
    the warning says why and how to get map coordinates, not only "no CRS"."""
    import rasterio
    from rasterio.control import GroundControlPoint

    classes = np.zeros((20, 20), np.uint8)
    classes[5:10, 5:10] = 1
    path = tmp_path / "l1.tif"
    gcps = [GroundControlPoint(row, col, X0 + col, UTM_ORIGIN[1] - row)
            for row, col in ((0, 0), (0, 20), (20, 0), (20, 20))]
    with rasterio.open(path, "w", driver="GTiff", width=20, height=20, count=1,
                       dtype="uint8") as dst:
        dst.write(classes, 1)
        dst.gcps = (gcps, "EPSG:32616")
    result = run_cli("vectorize", path, "-o", tmp_path / "v.gpkg")
    assert result.exit_code == 0, result.output
    assert "placed by GCPs alone" in result.stderr and "gdalwarp -t_srs" in result.stderr


@pytest.mark.parametrize("older", ["city", "CITY", "City"])
def test_overwrite_replaces_only_its_layer_of_a_geopackage(run_cli, make_raster, tmp_path,
                                                           older):
    # a GeoPackage is a container: --overwrite replaced the whole file, and the user's
    # other layers ("roads") were gone without a word; an older layer named in other
    # letters (GeoPackage's names ignore case: QGIS' "CITY") made --overwrite fail
    import pyogrio

    path = _square(make_raster, "a.tif", X0, Y0)
    out = tmp_path / "city.gpkg"
    roads = gpd.GeoDataFrame({"name": ["main st"]}, geometry=[shapely.Point(X0, Y0)],
                             crs="EPSG:32616")
    roads.to_file(out, layer="roads")
    roads.to_file(out, layer=older)  # an older result under the output's layer name
    result = run_cli("vectorize", path, "-o", out)
    assert_one_line_error(result, "city.gpkg", "roads", "--overwrite")
    result = run_cli("vectorize", path, "-o", out, "--overwrite")
    assert result.exit_code == 0, result.output
    assert sorted(name for name, _ in pyogrio.list_layers(out)) == ["city", "roads"]
    assert gpd.read_file(out, layer="roads")["name"].tolist() == ["main st"]
    city = gpd.read_file(out, layer="city")
    assert city["class"].tolist() == ["building"] and city.geometry[0].geom_type == "Polygon"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tif", "city.gpkg"]


@pytest.mark.parametrize("photometric", ["RGB", "MINISBLACK"])
def test_grey_mask_repeated_in_three_bands_is_read_as_the_mask(make_raster, tmp_path,
                                                               photometric):
    # a 0/255 building mask saved as RGB (Massachusetts' masks, a PNG saved as RGB) was read
    # as 3 probability bands: the argmax of equal bands is band 1 (background) everywhere,
    # so 0 polygons, exit 0
    mask = np.zeros((60, 60), np.uint8)
    mask[5:20, 5:20] = 255
    mask[30:50, 30:55] = 255
    grey = make_raster("grey.tif", mask, transform=from_origin(X0, Y0, 1, 1))
    rgb = make_raster("rgb.tif", np.stack([mask] * 3), transform=from_origin(X0, Y0, 1, 1),
                      photometric=photometric)
    vectorize_polygons([grey], tmp_path / "grey.gpkg")
    vectorize_polygons([rgb], tmp_path / "rgb.gpkg")
    expected = gpd.read_file(tmp_path / "grey.gpkg")
    found = gpd.read_file(tmp_path / "rgb.gpkg")
    assert sorted(found["area_m2"]) == [225, 500]
    assert found["class"].tolist() == expected["class"].tolist()
    assert union_of(found.geometry).equals(union_of(expected.geometry))


def test_a_0_255_mask_gives_class_1_as_a_0_1_mask_does(make_raster, tmp_path, run_cli):
    """An INRIA / Massachusetts building mask (uint8 0/255, one band or grey in three) gave
    polygons and lines of class "255" (class_id 255) and instances of score 255, where
    evaluate and tile read 255 as class 1: it is class 1 ("building"; "road" for lines)
    now, exactly as the 0/1 mask; --classes 1 keeps it."""
    mask = np.zeros((60, 60), np.uint8)
    mask[5:20, 5:20] = 1
    mask[30:50, 30:55] = 1
    options = {"transform": from_origin(X0, Y0, 1, 1)}
    rasters = {"ones": make_raster("ones.tif", mask, **options),
               "mask": make_raster("mask.tif", mask * 255, **options),
               "grey": make_raster("grey.tif", np.stack([mask * 255] * 3), photometric="RGB",
                                   **options)}
    for mode in ((), ("--lines",), ("--classes", "1"), ("--instances",)):
        found = {}
        for name, raster in rasters.items():
            out = tmp_path / f"{name}{len(mode)}{mode[:1]}.gpkg"
            result = run_cli("vectorize", raster, "-o", out, *mode)
            assert result.exit_code == 0, result.output
            found[name] = gpd.read_file(out)
        assert set(found["ones"]["class_id"]) == {1}, mode
        assert set(found["ones"]["class"]) == {"road" if mode == ("--lines",) else "building"}
        for name in ("mask", "grey"):
            assert found[name]["class_id"].tolist() == found["ones"]["class_id"].tolist(), name
            assert found[name]["class"].tolist() == found["ones"]["class"].tolist()
            assert union_of(found[name].geometry).equals(union_of(found["ones"].geometry))
            if "score" in found["ones"]:
                assert found[name]["score"].tolist() == found["ones"]["score"].tolist()


@pytest.mark.parametrize("suffix", [".gpkg", ".parquet", ".shp", ".fgb", ".geojson"])
def test_building_across_the_antimeridian_keeps_its_coordinates(make_raster, tmp_path, suffix):
    # the round trip through a metric CRS wrapped longitudes to [-180, 180]: a building
    # from 179.9999 to 180.0001 came back as a sliver 359.9998 degrees wide
    classes = np.zeros((40, 40), np.uint8)
    classes[10:20, 10:30] = 1
    step = 1e-5
    path = make_raster("fiji.tif", classes, crs="EPSG:4326",
                       transform=from_origin(179.9998, -17.0, step, step))
    out = tmp_path / f"fiji{suffix}"
    vectorize_polygons([path], out)
    found = gpd.read_parquet(out) if suffix == ".parquet" else gpd.read_file(out)
    assert len(found) == 1
    if suffix == ".geojson":  # RFC 7946: split at the antimeridian, 10 x 10 pixels each side
        parts = shapely.get_parts(found.geometry[0])
        assert sorted(p.area for p in parts) == pytest.approx([100 * step**2] * 2, rel=1e-6)
        return
    expected = shapely.box(179.9999, -17.0002, 180.0001, -17.0001)
    assert found.geometry[0].symmetric_difference(expected).area < 1e-6 * expected.area


def _with_alpha(make_raster, name, band, **profile):
    """``band`` and an alpha band (0 over the right quarter: no data there), as gdalwarp
    -dstalpha writes it; 1 m pixels."""
    import rasterio
    from rasterio.enums import ColorInterp

    alpha = np.full(band.shape, 255, band.dtype)
    alpha[:, 15:] = 0
    path = make_raster(name, np.stack([band, alpha]), transform=from_origin(X0, Y0, 1, 1),
                       photometric="MINISBLACK", alpha="YES", **profile)
    with rasterio.open(path) as src:
        assert src.colorinterp[1] == ColorInterp.alpha
    return path


@pytest.mark.parametrize("dtype", ["uint8 scaled", "float32", "uint8 class ids"])
def test_alpha_band_masks_nodata_and_is_no_class(make_raster, tmp_path, run_cli, dtype):
    # gdalwarp -dstalpha of a probability raster: its alpha band (255 everywhere) won the
    # argmax, and the whole raster came out as one building (exit 0); a float32 one was
    # refused as "values reach 255"
    import rasterio

    p = np.zeros((20, 20), np.float32)
    p[2:8, 2:8] = 0.9  # 36 m2
    p[10:18, 2:10] = 0.7  # 64 m2
    p[2:8, 16:19] = 0.9  # under alpha 0: no data
    band = {"float32": p, "uint8 scaled": np.round(p * 255).astype(np.uint8),
            "uint8 class ids": (p >= 0.5).astype(np.uint8)}[dtype]
    path = _with_alpha(make_raster, "a.tif", band)
    if dtype == "uint8 scaled":
        with rasterio.open(path, "r+") as dst:
            dst.scales = (1 / 255, 1)
    result = run_cli("vectorize", path, "-o", tmp_path / "a.gpkg")
    assert result.exit_code == 0, result.output
    found = gpd.read_file(tmp_path / "a.gpkg")
    assert sorted(found["area_m2"]) == [36, 64]
    assert list(found["class_id"]) == [1, 1]
    if dtype != "uint8 class ids":
        assert sorted(found["score"]) == pytest.approx([0.7, 0.9], abs=3e-3)


def test_threshold_on_untagged_0_255_probabilities_says_how_to_scale_them(make_raster,
                                                                          tmp_path, run_cli):
    # the error said "leave it out", which gives 200+ classes of polygons
    values = np.full((10, 10), 20, np.uint8)
    values[:5] = 200
    raster = make_raster("prob.tif", values)
    result = run_cli("vectorize", raster, "-o", tmp_path / "v.gpkg", "--threshold", "0.5")
    assert_one_line_error(result, "prob.tif", "gdal_edit.py -scale 0.00392157 prob.tif",
                          code=2)
    mask = make_raster("mask.tif", (values > 100).astype(np.uint8) * 255)  # a 0/255 mask
    result = run_cli("vectorize", mask, "-o", tmp_path / "v.gpkg", "--threshold", "0.5")
    assert_one_line_error(result, "mask.tif", "leave it out", code=2)
    assert "-scale" not in result.output
    assert not (tmp_path / "v.gpkg").exists()


def _instance_ids(shuffled: bool = True) -> np.ndarray:
    """600 x 400 uint8 instance ids of 300 rectangular buildings (14 x 16 px, 72 %
    background), ids 1..300 in random order, stored mod 256 (uint8 ids wrap; 256 -> 1)."""
    ids = np.arange(1, 301)
    if shuffled:
        ids = np.random.default_rng(1).permutation(ids)
    raster = np.zeros((400, 600), np.uint8)
    for k, value in enumerate(ids):
        y, x = 5 + (k // 20) * 26, 5 + (k % 20) * 29
        raster[y:y + 14, x:x + 16] = value % 256 or 1
    return raster


def _grey_classes() -> np.ndarray:
    """Classes 1..4 saved "visible" as 64, 128, 192, 255 in 60 px columns, 0 background."""
    raster = np.zeros((400, 400), np.uint8)
    for k, value in enumerate((64, 128, 192, 255)):
        raster[:, 160 + 60 * k:220 + 60 * k] = value
    return raster


def test_instance_ids_and_grey_class_masks_are_not_read_as_noisy_0_255_masks(
        make_raster, tmp_path, run_cli):
    """A uint8 instance-id raster (300 buildings, ids mod 256) gave 128 polygons of one class
    (every building of id < 128 dropped, the rest merged, exit 0) and a class mask saved as
    0/64/128/192/255 one polygon: both were read as JPEG-noisy 0/255 masks. Their values
    1..254 fill regions away from the 0 <-> 255 edges: class ids (300 polygons; 4 classes),
    while a JPEG of a 0/255 mask of the same buildings stays a mask."""
    from PIL import Image

    options = {"transform": from_origin(X0, Y0, 0.5, 0.5)}
    for shuffled in (True, False):
        ids = _instance_ids(shuffled)
        raster = make_raster(f"inst{shuffled}.tif", ids, **options)
        result = run_cli("vectorize", raster, "-o", tmp_path / f"inst{shuffled}.gpkg")
        assert result.exit_code == 0, result.output
        found = gpd.read_file(tmp_path / f"inst{shuffled}.gpkg")
        assert len(found) == 300 and found["class_id"].nunique() == 255
        assert found["area_m2"].sum() == pytest.approx(300 * 14 * 16 * 0.25)
    result = run_cli("vectorize", make_raster("grey.tif", _grey_classes(), **options), "-o",
                     tmp_path / "grey.gpkg")
    assert result.exit_code == 0, result.output
    found = gpd.read_file(tmp_path / "grey.gpkg")
    assert sorted(found["class_id"]) == [64, 128, 192, 255]
    assert found["area_m2"].tolist() == [400 * 60 * 0.25] * 4
    # the same buildings as a 0/255 mask saved as JPEG (quality 75): a mask, class 1
    Image.fromarray((ids > 0).astype(np.uint8) * 255).save(tmp_path / "mask.jpg", quality=75)
    decoded = np.asarray(Image.open(tmp_path / "mask.jpg"))
    assert ((decoded > 0) & (decoded < 255)).mean() > 0.05
    jpeg = make_raster("jpeg.tif", decoded, **options)
    result = run_cli("vectorize", jpeg, "-o", tmp_path / "jpeg.gpkg")
    assert result.exit_code == 0, result.output
    found = gpd.read_file(tmp_path / "jpeg.gpkg")
    assert set(found["class_id"]) == {1} and len(found) == 300
    assert found["area_m2"].sum() == pytest.approx((decoded >= 128).sum() * 0.25)


def test_an_undeclared_float_nodata_is_named_as_the_float_it_is(make_raster, run_cli,
                                                                 tmp_path):
    """A float class raster holding GDAL's float32-minimum nodata undeclared: the refusal
    shows -3.4028234663852886e+38 (what gdal_edit.py -a_nodata takes), not 39 digits."""
    classes = np.zeros((12, 12), np.float32)
    classes[1:4, 1:4], classes[0, 0] = 2, np.finfo(np.float32).min
    path = make_raster("f.tif", classes, transform=from_origin(X0, Y0, 1, 1))
    result = run_cli("vectorize", path, "-o", tmp_path / "f.gpkg")
    assert_one_line_error(result, "class id -3.4028234663852886e+38 is outside",
                          "gdal_edit.py -a_nodata -3.4028234663852886e+38)")
    assert not (tmp_path / "f.gpkg").exists()


def test_an_untagged_float_raster_of_class_ids_is_read_as_class_ids(make_raster, tmp_path):
    """Class ids 0..5 written as Float32 with NaN nodata (QGIS Rasterize's default type):
    vectorize refused them as 'not probabilities 0..1', while make-masks, tile and evaluate
    read them as class ids. Read so here too (255 the ignore value); whole numbers of
    0 and 1 stay probabilities alike, and 0..255 scores are still refused."""
    classes = np.zeros((12, 12), np.float32)
    classes[1:4, 1:4], classes[5:8, 5:8] = 1, 5
    classes[9:, :6] = np.nan
    classes[9:, 6:] = 255
    options = {"transform": from_origin(X0, Y0, 1, 1)}
    path = make_raster("f.tif", classes, nodata=np.nan, **options)
    summary = vectorize_polygons([path], tmp_path / "f.gpkg",
                                 options=VectorizeOptions(crs="source"))
    found = gpd.read_file(tmp_path / "f.gpkg").sort_values("class_id")
    assert list(found["class_id"]) == [1, 5] and list(found.geometry.area) == [9, 9]
    assert "score" not in found.columns and summary["features"] == 2
    scores = np.arange(144, dtype=np.float32).reshape(12, 12) * 255 / 143
    with pytest.raises(InputError, match=r"not probabilities 0\.\.1"):
        vectorize_polygons([make_raster("s.tif", np.round(scores), **options)],
                           tmp_path / "s.gpkg")


@pytest.mark.parametrize("suffix", [".shp", ".SHP"])
def test_shapefile_overwrite_drops_the_old_prj_and_cpg(make_raster, tmp_path, suffix):
    """--overwrite replaces the whole Shapefile: a .prj (or .cpg) of the old output that the
    new one has no such part of would give pixel coordinates the old CRS."""
    import warnings

    utm = _square(make_raster, "a.tif", X0, Y0)
    out = tmp_path / f"b{suffix}"
    vectorize_polygons([utm], out, options=SOURCE)
    prj, cpg = out.with_suffix(".PRJ" if suffix.isupper() else ".prj"), out.with_suffix(".cpg")
    assert prj.is_file()
    cpg.write_text("LATIN1")  # the old output's encoding part, in the other case
    classes = np.zeros((20, 30), np.uint8)
    classes[4:8, 10:20] = 1
    plain = make_raster("n.tif", classes, crs=None, transform=from_origin(1000, 2000, 2, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vectorize_polygons([plain], out, overwrite=True)
    found = gpd.read_file(out)
    assert found.crs is None
    assert list(found.total_bounds) == pytest.approx([1020, 1984, 1040, 1992])
    assert found["area_m2"][0] == pytest.approx(160)
    names = {p.name for p in tmp_path.glob("b.*")}
    assert not names & {"b.prj", "b.PRJ"}
    assert "b.cpg" not in names or (tmp_path / "b.cpg").read_text() != "LATIN1"
    assert {p.name for p in tmp_path.iterdir()} - names == {"a.tif", "n.tif"}


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16"])
def test_a_0_255_mask_declaring_nodata_0_keeps_its_buildings(make_raster, tmp_path, run_cli,
                                                              dtype):
    """A 0/255 building mask declaring nodata 0 (gdal_rasterize -burn 255 -a_nodata 0,
    gdal_translate -a_nodata 0) gave "0 polygons", exit 0: its 255 was dropped as the
    ignore value. Its 0 is background and 255 class 1, as for the 0/1 mask and as
    make-masks, tile and evaluate read it, in every mode and format."""
    mask = np.zeros((60, 60), dtype)
    mask[5:20, 5:20] = 1
    mask[30:50, 30:55] = 1
    mask[35:40, 35:40] = 0  # a courtyard
    options = {"transform": from_origin(X0, Y0, 1, 1), "nodata": 0}
    ones = make_raster("ones.tif", mask, **options)
    full = make_raster("full.tif", mask * 255, **options)
    for mode, suffix in (((), ".gpkg"), ((), ".csv"), (("--lines",), ".gpkg"),
                         (("--instances",), ".gpkg")):
        found = {}
        for name, raster in (("ones", ones), ("full", full)):
            out = tmp_path / f"{name}{len(mode)}{mode[:1]}{suffix}"
            result = run_cli("vectorize", raster, "-o", out, *mode)
            assert result.exit_code == 0, result.output
            found[name] = (gpd.read_file(out).geometry if suffix == ".gpkg" else
                           gpd.GeoSeries.from_wkt(pd.read_csv(out)["PolygonWKT_Pix"]))
        assert len(found["full"]) == len(found["ones"]) > 0, mode
        assert union_of(found["full"]).equals(union_of(found["ones"])), mode
        if not mode:
            assert len(found["full"]) == 2
            area = 15 * 15 + 20 * 25 - 25  # m2 (.gpkg), pixels (.csv): 1 m pixels
            assert found["full"].area.sum() == area


@pytest.mark.parametrize(("crs", "pixel"), [("EPSG:32632", 0.01), ("EPSG:2056", 0.005),
                                             ("EPSG:4326", 5e-8)])
def test_geojson_keeps_the_pixel_edges_of_fine_rasters(make_raster, tmp_path, crs, pixel):
    """RFC 7946 GeoJSON took GDAL's 7 decimals (about 1 cm): the polygons of a 1 cm drone
    mask moved by up to half a pixel, and 709 of 160,000 pixels changed when rasterized
    back. Its decimals follow the finest pixel now: every pixel comes back."""
    from rasterio.features import rasterize
    from scipy import ndimage

    rng = np.random.default_rng(17)
    mask = (ndimage.gaussian_filter(rng.random((200, 200)), 2) > 0.52).astype(np.uint8)
    origin = {"EPSG:32632": (690000.123, 5330000.456), "EPSG:2056": (2600000.1, 1200000.2),
              "EPSG:4326": (8.12345678, 47.65432109)}[crs]
    transform = from_origin(*origin, pixel, pixel)
    path = make_raster("drone.tif", mask, crs=crs, transform=transform)
    out = tmp_path / "drone.geojson"
    vectorize_polygons([path], out)
    found = gpd.read_file(out)
    assert found.crs.to_epsg() == 4326
    back = rasterize(found.to_crs(crs).geometry, out_shape=mask.shape, transform=transform)
    assert int((back != mask).sum()) == 0


@pytest.mark.parametrize("mode", [(), ("--lines",), ("--instances",)])
def test_geojson_takes_crs84_and_refuses_other_crs_before_any_work(make_raster, tmp_path,
                                                                  run_cli, monkeypatch, mode):
    """--crs OGC:CRS84 (GeoJSON's own lon/lat WGS 84) was refused for GeoJSON as a CRS
    without EPSG code, "the rasters' CRS", naming the temporary file without its folder,
    after all the polygonizing. It writes what EPSG:4326 writes; a CRS GeoJSON cannot
    name is refused before any work, naming the output and where the CRS came from."""
    import geotile.vectorize as vectorize
    from geotile import lines

    mask = np.zeros((40, 40), np.uint8)
    mask[5:30, 8:14] = 1
    path = make_raster("m.tif", mask, crs="EPSG:32633", transform=from_origin(X0, Y0, 1, 1))
    written = {}
    for crs in ("EPSG:4326", "OGC:CRS84"):
        out = tmp_path / f"{crs.replace(':', '_')}.geojson"
        result = run_cli("vectorize", path, "-o", out, "--crs", crs, *mode)
        assert result.exit_code == 0, result.output
        written[crs] = gpd.read_file(out)
    assert written["OGC:CRS84"].crs.to_epsg() == 4326 and len(written["OGC:CRS84"]) == 1
    assert written["OGC:CRS84"].geometry.geom_equals(written["EPSG:4326"].geometry).all()

    def no_work(*args, **kwargs):
        raise AssertionError("polygonized before the CRS was checked")

    for module, name in ((vectorize, "polygonize_rasters"), (lines, "centrelines")):
        monkeypatch.setattr(module, name, no_work)
    monkeypatch.setattr("geotile.instances.instance_frame", no_work)
    out = tmp_path / "sub" / "o.geojson"
    result = run_cli("vectorize", path, "-o", out, "--crs", "ESRI:102008", *mode)
    assert_one_line_error(result, str(out), "--crs ESRI:102008", "EPSG code", ".gpkg")
    assert "rasters' CRS" not in result.stderr
    custom = "+proj=tmerc +lat_0=0 +lon_0=15 +k=0.9996 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m"
    path = make_raster("c.tif", mask, crs=custom, transform=from_origin(X0, Y0, 1, 1))
    result = run_cli("vectorize", path, "-o", out, "--crs", "source", *mode)
    assert_one_line_error(result, str(out), "the rasters' CRS", "EPSG code", ".gpkg")
    assert not out.exists()


_KILLED_WRITER = """
import os, sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("PRAGMA cache_size=1")
c.execute("BEGIN")
c.executemany("INSERT INTO roads(name) VALUES (?)", [("x" * 500,)] * 2000)
os._exit(0)  # killed mid-transaction: a hot journal stays beside the GeoPackage
"""


def test_overwrite_refuses_a_geopackage_it_cannot_read(run_cli, make_raster, tmp_path):
    # a writer killed mid-transaction left city.gpkg-journal: listing the layers failed,
    # --overwrite took the file for one without other layers and replaced it, the user's
    # "roads" were gone and the new file sat beside the old journal (unreadable, exit 0)
    import subprocess
    import sys

    path = _square(make_raster, "a.tif", X0, Y0)
    out = tmp_path / "city.gpkg"
    import pyogrio

    pyogrio.write_dataframe(pd.DataFrame({"name": ["main st"]}), out, layer="roads",
                            driver="GPKG")
    subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(out)], check=True)
    journal = tmp_path / "city.gpkg-journal"
    assert journal.is_file()
    before = out.read_bytes(), journal.read_bytes()
    result = run_cli("vectorize", path, "-o", out, "--overwrite")
    assert_one_line_error(result, "city.gpkg", "cannot be read", "layers")
    assert (out.read_bytes(), journal.read_bytes()) == before
    # a file that is no SQLite database holds no layers to keep: --overwrite replaces it
    out.unlink()
    journal.unlink()
    out.write_bytes(b"not a geopackage")
    result = run_cli("vectorize", path, "-o", out, "--overwrite")
    assert result.exit_code == 0, result.output
    assert [name for name, _ in pyogrio.list_layers(out)] == ["city"]



def test_overwrite_refuses_a_geopackage_open_in_wal_mode(run_cli, make_raster, tmp_path):
    """QGIS edits a GeoPackage in WAL mode: its last edits sit in city.gpkg-wal until it
    closes. --overwrite copied city.gpkg alone, so the copy lacked them, and replaced it
    under QGIS, whose -wal then applied to the new file: 'malformed database schema', the
    user's roads lost, exit 0 -> refused in one line naming the -wal; nothing changed."""
    import sqlite3

    import pyogrio

    path = _square(make_raster, "a.tif", X0, Y0)
    out = tmp_path / "city.gpkg"
    pyogrio.write_dataframe(pd.DataFrame({"name": ["main st"]}), out, layer="roads",
                            driver="GPKG")
    assert run_cli("vectorize", path, "-o", out, "--overwrite").exit_code == 0
    editor = sqlite3.connect(out, isolation_level=None)
    try:
        editor.execute("PRAGMA journal_mode=WAL")
        editor.execute("INSERT INTO roads(name) VALUES ('high st')")
        before = out.read_bytes()
        result = run_cli("vectorize", path, "-o", out, "--overwrite")
        assert_one_line_error(result, "city.gpkg", "city.gpkg-wal", "Close")
        assert out.read_bytes() == before
    finally:
        editor.close()
    roads = pyogrio.read_dataframe(out, layer="roads", read_geometry=False)
    assert roads["name"].tolist() == ["main st", "high st"]
    assert sorted(name for name, _ in pyogrio.list_layers(out)) == ["city", "roads"]
    # closed: -wal gone, --overwrite replaces the layer and keeps the roads
    assert run_cli("vectorize", path, "-o", out, "--overwrite").exit_code == 0
    assert len(pyogrio.read_dataframe(out, layer="roads", read_geometry=False)) == 2

def test_float64_probabilities_are_thresholded_at_their_own_precision(make_raster, tmp_path):
    """A Float64 probability raster: 0.4999999999 and the float64 just below 0.5 are under a
    0.5 threshold (a float32 cast made them 0.5), for vectorize and evaluate alike."""
    from geotile.evaluate_modes import evaluate_files

    p = np.zeros((10, 12), np.float64)
    p[1, 1:10] = [0.5, 0, 0.4999999999, 0, np.nextafter(0.5, 0), 0, 0.5000000001, 0, 1.0]
    path = make_raster("p64.tif", p, transform=from_origin(X0, Y0, 1, 1))
    vectorize_polygons([path], tmp_path / "p.gpkg", options=SOURCE)
    found = gpd.read_file(tmp_path / "p.gpkg")
    assert sorted(found.geometry.bounds["minx"] - X0) == [1, 7, 9]
    truth = make_raster("t.tif", np.zeros((10, 12), np.uint8), transform=from_origin(X0, Y0, 1, 1))
    assert evaluate_files(path, truth).confusion[0, 1] == 3


@pytest.mark.parametrize(("crs", "kind"), [("EPSG:5773", "vertical"),
                                           ("EPSG:4978", "geocentric")])
def test_crs_of_heights_or_earth_centred_xyz_is_refused(make_raster, tmp_path, run_cli, crs,
                                                        kind):
    """--crs EPSG:5773 (EGM96 heights) crashed with a ProjError traceback; --crs EPSG:4978
    wrote 2D polygons of geocentric X and Y (exit 0). One line, nothing written."""
    from .conftest import assert_one_line_error

    mask = np.zeros((20, 20), np.uint8)
    mask[5:10, 5:10] = 1
    path = make_raster("m.tif", mask)
    assert_one_line_error(run_cli("vectorize", path, "-o", tmp_path / "o.gpkg", "--crs", crs),
                          f"--crs {crs}", kind)
    assert not (tmp_path / "o.gpkg").exists()
    result = run_cli("vectorize", path, "-o", tmp_path / "o.gpkg", "--crs", "EPSG:4979")
    assert result.exit_code == 0, result.output  # 3D lon/lat (WKT 1 cannot say it) is a map


@pytest.mark.parametrize("mode", [[], ["--lines"], ["--instances"]])
@pytest.mark.parametrize("suffix", [".gpkg", ".csv"])
def test_crs_of_another_celestial_body_is_refused(make_raster, tmp_path, run_cli, mode,
                                                  suffix):
    """--crs IAU_2015:30100 (the Moon's lon/lat) for rasters in UTM ended in a traceback
    (pyproj ProjError: ellipsoids of different celestial bodies) once the polygons were
    made. One line naming --crs, before any work, nothing written."""
    from .conftest import assert_one_line_error

    if suffix == ".csv" and mode == ["--lines"]:
        pytest.skip("a SpaceNet CSV holds polygons")
    mask = np.zeros((20, 20), np.uint8)
    mask[5:10, 5:10] = 1
    path = make_raster("m.tif", mask)
    output = tmp_path / f"o{suffix}"
    result = run_cli("vectorize", path, "-o", output, "--crs", "IAU_2015:30100", *mode)
    assert_one_line_error(result, "--crs IAU_2015:30100", "celestial body", "'source'")
    assert not output.exists()
    result = run_cli("vectorize", path, "-o", output, "--crs", "EPSG:4326", *mode)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("gcps", [True, False], ids=["gcps", "plain"])
def test_several_rasters_without_a_geotransform_are_named_so(run_cli, tmp_path, gcps):
    """Two drone frames placed by GCPs alone (or two plain pictures), 40 x 30 px each: both
    lie at pixel 0, 0 of the output, and the refusal said they 'overlap (by 40 x 30
    pixels)' with a crop as the fix. It now names the missing geotransform."""
    import rasterio
    from rasterio.control import GroundControlPoint

    from .conftest import write_without_transform

    frames = []
    for number in range(2):
        mask = np.zeros((1, 30, 40), np.uint8)
        mask[0, 5:15, 5:20] = 1
        path = write_without_transform(tmp_path / f"f{number}.tif", mask)
        if gcps:
            points = [GroundControlPoint(row=r, col=c, x=X0 + c * 0.5 + 100 * number,
                                         y=Y0 - r * 0.5) for r in (0, 30) for c in (0, 40)]
            with rasterio.open(path, "r+") as dst:
                dst.gcps = (points, rasterio.crs.CRS.from_epsg(32611))
        frames.append(path)
    result = run_cli("vectorize", *frames, "-o", tmp_path / "x.gpkg")
    assert_one_line_error(result, "f1.tif", "no geotransform", "f0.tif", "one at a time")
    assert "overlap" not in result.stderr
    assert not (tmp_path / "x.gpkg").exists()


def test_tiles_of_a_plain_picture_vectorize_as_the_picture(run_cli, tmp_path):
    """geotile tile cuts a picture without georeferencing into patches placed in its pixel
    coordinates: the first at pixel 0, 0 (the identity geotransform), the next 32 px right.
    Vectorizing the patches was refused as 'no geotransform ... one at a time' although
    they only touch; they give the picture's polygons, as before that refusal. A plain
    picture overlapping a patch is still refused so."""
    from .conftest import write_without_transform

    picture = np.zeros((1, 32, 64), np.uint8)
    picture[0, 4:20, 10:50] = 1  # 16 x 40 px across the patches' edge
    whole = write_without_transform(tmp_path / "picture.tif", picture)
    result = run_cli("tile", whole, "-o", tmp_path / "tiles", "--size", "32")
    assert result.exit_code == 0, result.output
    result = run_cli("vectorize", tmp_path / "tiles" / "images", "-o", tmp_path / "t.gpkg")
    assert result.exit_code == 0, result.output
    frame = gpd.read_file(tmp_path / "t.gpkg")
    assert len(frame) == 1 and frame.geometry.area.tolist() == [640.0]
    assert frame.total_bounds.tolist() == [10.0, 4.0, 50.0, 20.0]
    result = run_cli("vectorize", whole, tmp_path / "tiles" / "images" / "picture_0_1.tif",
                     "-o", tmp_path / "x.gpkg")
    assert_one_line_error(result, "picture.tif", "no geotransform", "one at a time")
    assert not (tmp_path / "x.gpkg").exists()


@pytest.mark.parametrize("instances", [False, True])
def test_rasters_in_two_crs_of_one_look_are_told_apart(make_raster, tmp_path, instances):
    """EPSG:3031 beside '+proj=stere ... +ellps=WGS84' (an unknown datum on the WGS 84
    ellipsoid) was refused as 'CRS EPSG:3031 differs from the first raster's (EPSG:3031)';
    a custom CRS was named by its whole WKT. Each is named by exact code or name and datum."""
    from geotile.instances import instance_frame

    loose = "+proj=stere +lat_0=-90 +lat_ts=-71 +lon_0=0 +ellps=WGS84 +units=m +no_defs"
    bands = 3 if instances else 1
    pixels = np.zeros((bands, 20, 20), np.uint8)
    pixels[0, 5:15, 5:15] = 255
    named = {"descriptions": ("footprint", "boundary", "contact")} if instances else {}
    a = make_raster("a.tif", pixels, crs="EPSG:3031", transform=from_origin(0, 0, 1, 1),
                    **named)
    b = make_raster("b.tif", pixels, crs=loose, transform=from_origin(20, 0, 1, 1), **named)
    with pytest.raises(InputError) as err:
        if instances:
            instance_frame([a, b], threshold=0.5)
        else:
            vectorize_polygons([a, b], tmp_path / "out.gpkg", options=VectorizeOptions())
    text = str(err.value)
    assert "b.tif: CRS 'unknown' (datum 'Unknown based on WGS 84 ellipsoid') differs from " \
           "the first raster's (EPSG:3031)" in text, text


def test_two_runs_writing_layers_of_one_geopackage_at_once_keep_both(tmp_path, monkeypatch):
    # vectorize -o city.gpkg --overwrite (layer city) while evaluate --errors city.gpkg
    # --overwrite (layer errors) ran: each copied the GeoPackage, wrote its layer into the
    # copy and moved the copy into place, so the first run's layer was lost by the second's
    # move (layers roads and city left, errors gone, both runs exit 0)
    import threading

    import pyogrio

    from geotile import vector_output

    out = tmp_path / "city.gpkg"
    point = [shapely.Point(X0, Y0)]
    gpd.GeoDataFrame({"name": ["main st"]}, geometry=point, crs="EPSG:32616").to_file(
        out, layer="roads")
    city = gpd.GeoDataFrame({"class": ["building"]}, geometry=[shapely.box(X0, Y0 - 5, X0 + 5, Y0)],
                            crs="EPSG:32616")
    errors = gpd.GeoDataFrame({"kind": ["FP"]}, geometry=[shapely.box(X0, Y0 - 9, X0 + 9, Y0)],
                              crs="EPSG:32616")
    write = vector_output._write
    other: list[threading.Thread] = []
    failures: list[BaseException] = []

    def second_run():
        try:
            vector_output.write_vector(errors, out, "GPKG", True, "errors")
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    def write_then_let_the_other_run_go(frame, path, writer, layer, *args, **kwargs):
        write(frame, path, writer, layer, *args, **kwargs)
        if layer == "city":  # the other run, finished meanwhile (or waiting for this one)
            other.append(threading.Thread(target=second_run))
            other[0].start()
            other[0].join(2)

    monkeypatch.setattr(vector_output, "_write", write_then_let_the_other_run_go)
    vector_output.write_vector(city, out, "GPKG", True)
    other[0].join(60)
    assert failures == []
    assert sorted(name for name, _ in pyogrio.list_layers(out)) == ["city", "errors", "roads"]
    assert gpd.read_file(out, layer="errors")["kind"].tolist() == ["FP"]
    assert gpd.read_file(out, layer="city")["class"].tolist() == ["building"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["city.gpkg"]


def _raster_on(path, crs_code: str, transform, mask):
    import rasterio
    from pyproj import CRS

    with rasterio.open(path, "w", driver="GTiff", width=mask.shape[1], height=mask.shape[0],
                       count=1, dtype="uint8", transform=transform,
                       crs=rasterio.crs.CRS.from_wkt(CRS.from_user_input(crs_code).to_wkt())
                       ) as dst:
        dst.write(mask, 1)
    return path


@pytest.mark.parametrize("body", ["moon_lonlat", "mars_equirectangular"])
def test_rasters_of_the_moon_or_mars_are_measured_on_their_own_body(tmp_path, run_cli, body):
    """A crater mask in the Moon's lon/lat (IAU_2015:30100) or Mars' equirectangular
    metres (IAU_2015:49910) ended in a pyproj traceback (ellipsoids of different celestial
    bodies): its polygons were measured in the earth's UTM or WGS 84. They are measured on
    their own body now: area_m2 of the Moon's sphere (R 1737.4 km), polygons in the
    rasters' CRS; GeoJSON (the earth's lon/lat) and SpaceNet CSVs are refused in one line."""
    import geopandas as gpd
    from rasterio.transform import from_origin

    from .conftest import assert_one_line_error

    mask = np.zeros((32, 32), np.uint8)
    mask[5:15, 5:15] = 1
    if body == "moon_lonlat":
        path = _raster_on(tmp_path / "m.tif", "IAU_2015:30100",
                          from_origin(10, 10, 0.001, 0.001), mask)
        radius, rows = 1737400.0, np.radians([9.995, 9.985])  # 10 x 10 px of 0.001 deg
        expected = radius ** 2 * np.radians(0.01) * (np.sin(rows[0]) - np.sin(rows[1]))
    else:
        path = _raster_on(tmp_path / "m.tif", "IAU_2015:49910",
                          from_origin(100000, 20000, 6, 6), mask)
        expected = 100 * 36.0  # equirectangular true to scale along the equator (to 1e-5)
    for suffix in (".gpkg", ".fgb"):
        result = run_cli("vectorize", path, "-o", tmp_path / f"o{suffix}")
        assert result.exit_code == 0, result.output
        frame = gpd.read_file(tmp_path / f"o{suffix}")
        assert len(frame) == 1
        assert frame.crs.name.startswith(("Moon", "Mars"))
        assert frame["area_m2"].iloc[0] == pytest.approx(expected, rel=1e-3)
    for suffix, fragment in ((".geojson", "GeoJSON holds the earth's"),
                             (".csv", "another body than the earth")):
        result = run_cli("vectorize", path, "-o", tmp_path / f"x{suffix}")
        assert_one_line_error(result, fragment)
        assert not (tmp_path / f"x{suffix}").exists()
    result = run_cli("vectorize", path, "-o", tmp_path / "e.gpkg", "--crs", "EPSG:4326")
    assert_one_line_error(result, "another body than the earth", "--crs EPSG:4326")


def test_integer_values_past_their_scale_are_not_probabilities(run_cli, make_raster,
                                                                tmp_path):
    """predict's Float32 probabilities made Byte 0..255 (gdal_translate -ot Byte -scale 0 1 0
    255 copies GEOTILE_SCALE=1): p = 0.3 (77) was read as 77 >= 0.5, a building, exit 0
    (2 polygons, 1 true); a uint8 raster with a GDAL scale of 0.01 holding 200 as p = 2 too.
    Integer values past 1 after their scale are refused as float ones are, naming the fix."""
    import rasterio

    p = np.zeros((1, 30, 30), np.uint8)
    p[0, 2:10, 2:10], p[0, 15:25, 15:25] = 230, 77
    path = _probability(make_raster, "byte.tif", p, tags={
        "GEOTILE_OUTPUT": "probability", "GEOTILE_SCALE": "1", "GEOTILE_THRESHOLD": "0.5"})
    result = run_cli("vectorize", path, "-o", tmp_path / "b.gpkg")
    assert_one_line_error(result, "byte.tif", "values reach 230", "not probabilities 0..1",
                          "GEOTILE_SCALE=255")
    assert not (tmp_path / "b.gpkg").exists()
    truth = make_raster("t.tif", (p[0] == 230).astype(np.uint8),
                        transform=from_origin(X0, Y0, 1, 1))
    assert_one_line_error(run_cli("evaluate", path, truth), "byte.tif", "values reach 230")
    with rasterio.open(path, "r+") as dst:  # as the advice says
        dst.scales = (1 / 255,)
        dst.update_tags(GEOTILE_SCALE="255")
    vectorize_polygons([path], tmp_path / "b.gpkg")
    assert list(gpd.read_file(tmp_path / "b.gpkg")["area_m2"].round()) == [64]
    scaled = _probability(make_raster, "pct.tif", np.where(p == 77, 200, p).astype(np.uint8))
    with rasterio.open(scaled, "r+") as dst:
        dst.scales = (0.01,)
    result = run_cli("vectorize", scaled, "-o", tmp_path / "s.gpkg")
    assert_one_line_error(result, "pct.tif", "values reach 230", "2.3 after its scale")


def test_float_probabilities_under_a_scale_of_255_are_refused(run_cli, make_raster, tmp_path):
    """predict's uint8 probabilities made Float32 0..1 by gdal_translate -unscale (the
    GEOTILE_SCALE=255 tag copied) or -scale 0 255 0 1 (the GDAL scale 1/255 kept too) were
    read as p / 255: vectorize wrote 0 polygons and evaluate scored no building, exit 0.
    Refused in one line naming the scale to drop; the raster as the advice leaves it gives
    the building."""
    import rasterio

    p = np.zeros((1, 30, 30), np.float32)
    p[0, 2:10, 2:10], p[0, 15:25, 15:25] = 230 / 255, 77 / 255
    truth = make_raster("t.tif", (p[0] > 0.5).astype(np.uint8),
                        transform=from_origin(X0, Y0, 1, 1))
    tags = {"GEOTILE_OUTPUT": "probability", "GEOTILE_SCALE": "255"}
    unscaled = _probability(make_raster, "unscaled.tif", p, tags=tags)
    rescaled = _probability(make_raster, "rescaled.tif", p, tags=tags)
    with rasterio.open(rescaled, "r+") as dst:
        dst.scales = (1 / 255,)
    for path in (unscaled, rescaled):
        result = run_cli("vectorize", path, "-o", tmp_path / "v.gpkg")
        assert_one_line_error(result, path.name, "0..1", "gdal_edit.py -scale 1")
        assert not (tmp_path / "v.gpkg").exists()
        assert_one_line_error(run_cli("evaluate", path, truth), path.name, "0..1")
        with rasterio.open(path, "r+") as dst:  # as the advice says
            dst.scales = (1,)
            dst.update_tags(GEOTILE_SCALE="1")
        vectorize_polygons([path], tmp_path / f"{path.stem}.gpkg")
        assert list(gpd.read_file(tmp_path / f"{path.stem}.gpkg")["area_m2"].round()) == [64]
    # Float32 0..255 under its scale (gdal_translate -ot Float32 keeps it) is read as it was,
    # and an untagged float raster's GDAL scale is not applied (no tag reads it x 1/255)
    untagged = _probability(make_raster, "untagged.tif", p)
    with rasterio.open(untagged, "r+") as dst:
        dst.scales = (1 / 255,)
    vectorize_polygons([untagged], tmp_path / "untagged.gpkg")
    assert list(gpd.read_file(tmp_path / "untagged.gpkg")["area_m2"].round()) == [64]
    whole = _probability(make_raster, "whole.tif", np.round(p * 255), tags=tags)
    with rasterio.open(whole, "r+") as dst:
        dst.scales = (1 / 255,)
    vectorize_polygons([whole], tmp_path / "whole.gpkg")
    assert list(gpd.read_file(tmp_path / "whole.gpkg")["area_m2"].round()) == [64]


@pytest.mark.parametrize("instances", [False, True])
def test_rasters_in_a_compound_crs_and_its_horizontal_part_are_one_set(make_raster, tmp_path,
                                                                       instances):
    """Predictions of one ortho's tiles, one in UTM 16N + EGM96 heights (EPSG:32616+5773),
    one in plain EPSG:32616 (tile and evaluate take them as one grid): vectorize refused
    them ('CRS ... differs from the first raster's (EPSG:32616). Reproject ... first'). The
    building across their edge is one polygon now, as from two plain rasters."""
    import rasterio

    from geotile.instances import instance_frame

    bands = 3 if instances else 1
    pixels = np.zeros((bands, 20, 40), np.uint8)
    pixels[0, 5:15, 10:30] = 255
    named = {"descriptions": ("footprint", "boundary", "contact")} if instances else {}
    compound = rasterio.crs.CRS.from_user_input("EPSG:32616+5773")
    frames = []
    for second in (UTM_CRS, compound):
        a = make_raster("a.tif", pixels[:, :, :20], transform=from_origin(X0, Y0, 1, 1),
                        **named)
        b = make_raster("b.tif", pixels[:, :, 20:], crs=second,
                        transform=from_origin(X0 + 20, Y0, 1, 1), **named)
        if instances:
            frames.append(instance_frame([a, b], threshold=0.5))
        else:
            vectorize_polygons([a, b], tmp_path / "out.gpkg", overwrite=True,
                               options=VectorizeOptions())
            frames.append(gpd.read_file(tmp_path / "out.gpkg"))
    plain, mixed = frames
    assert len(mixed) == len(plain) == 1
    assert mixed.geometry.iloc[0].equals(plain.geometry.iloc[0])
    assert mixed.geometry.iloc[0].area == 200.0 and mixed.crs == plain.crs == UTM_CRS


def test_an_empty_tile_warped_to_float_under_a_scale_of_255_reads_as_background(
        run_cli, make_raster, tmp_path):
    """predict's uint8 output of a tile without buildings (codes 0 and 1) warped by gdalwarp
    -r bilinear -ot Float32 (GDAL scale 1/255 and GEOTILE_SCALE=255 kept) holds values
    within 0..1 that fall between the codes: it was refused as probabilities 0..1 already,
    failing the batch. Read as codes x 1/255 (all background), the other tile's building
    found; a copy whose values lie on the 1/255 steps (-scale 0 255 0 1) is still refused."""
    import rasterio

    tags = {"GEOTILE_OUTPUT": "probability", "GEOTILE_SCALE": "255"}
    codes = np.random.default_rng(0).integers(0, 2, (31, 31)).astype(np.float32)
    between = (codes[:-1, :-1] + codes[1:, :-1] + codes[:-1, 1:] + codes[1:, 1:]) / 4
    empty = _probability(make_raster, "empty.tif", between[None], tags=tags)
    building = np.zeros((1, 30, 30), np.float32)
    building[0, 2:10, 2:10] = 230
    full = make_raster("full.tif", building, transform=from_origin(X0 + 30, Y0, 1, 1))
    stepped = _probability(make_raster, "stepped.tif", np.round(between[None] * 4) / 255,
                           tags=tags)
    for path in (empty, full, stepped):
        with rasterio.open(path, "r+") as dst:
            dst.scales = (1 / 255,)
            dst.update_tags(**tags)
    result = run_cli("vectorize", empty, full, "-o", tmp_path / "v.gpkg")
    assert result.exit_code == 0, result.output
    assert list(gpd.read_file(tmp_path / "v.gpkg")["area_m2"].round()) == [64]
    assert_one_line_error(run_cli("vectorize", stepped, "-o", tmp_path / "s.gpkg"),
                          "stepped.tif", "0..1", "gdal_edit.py -scale 1")


def test_undeclared_negative_nodata_in_int16_probabilities_is_named(run_cli, make_raster,
                                                                    tmp_path):
    """int16 probabilities x 32767 (a GDAL scale 1/32767, or GEOTILE_SCALE=32767) holding
    -9999 where nodata was meant but not declared were refused with advice to give the
    scale x 32767 they already have. The message names the negative value and how to
    declare it nodata; declared, the building is found."""
    import rasterio

    p = np.zeros((1, 30, 30), np.int16)
    p[0, 2:10, 2:10] = round(0.9 * 32767)
    p[0, :, 25:] = -9999
    scaled = _probability(make_raster, "scaled.tif", p)
    with rasterio.open(scaled, "r+") as dst:
        dst.scales = (1 / 32767,)
    tagged = _probability(make_raster, "tagged.tif", p, tags={
        "GEOTILE_OUTPUT": "probability", "GEOTILE_SCALE": "32767"})
    for path in (scaled, tagged):
        result = run_cli("vectorize", path, "-o", tmp_path / "v.gpkg")
        assert_one_line_error(result, path.name, "-9999", "negative",
                              f"gdal_edit.py -a_nodata -9999 {path.name}")
        assert "give that scale" not in result.output
        with rasterio.open(path, "r+") as dst:  # as the advice says
            dst.nodata = -9999
        vectorize_polygons([path], tmp_path / f"{path.stem}.gpkg")
        assert list(gpd.read_file(tmp_path / f"{path.stem}.gpkg")["area_m2"].round()) == [64]


def test_geojson_of_a_compound_crs_names_its_horizontal_part_and_crs_takes_a_prj(
        make_raster, tmp_path, run_cli):
    """vectorize -o x.geojson --crs source of a raster in EPSG:32616+5773 (UTM + heights)
    was refused as a CRS without an EPSG code, though its horizontal part EPSG:32616 names
    its coordinates; and --crs file.prj was refused where make-masks --labels-crs takes
    one. GeoJSON is written in EPSG:32616, the same coordinates; a .prj reads as its CRS."""
    import json

    from pyproj import CRS

    mask = np.zeros((20, 20), np.uint8)
    mask[5:10, 5:10] = 1
    transform = from_origin(500000, 4000000, 1, 1)
    path = make_raster("m.tif", mask, crs="EPSG:32616+5773", transform=transform)
    result = run_cli("vectorize", path, "-o", tmp_path / "o.geojson", "--crs", "source")
    assert result.exit_code == 0, result.output
    written = json.loads((tmp_path / "o.geojson").read_text())
    assert "32616" in json.dumps(written.get("crs"))
    frame = gpd.read_file(tmp_path / "o.geojson")
    assert frame.crs.to_epsg() == 32616
    assert frame.total_bounds.tolist() == [500005, 3999990, 500010, 3999995]
    prj = tmp_path / "utm16.prj"
    prj.write_text(CRS.from_epsg(32616).to_wkt("WKT1_ESRI"))
    utm = make_raster("u.tif", mask, crs="EPSG:32616", transform=transform)
    result = run_cli("vectorize", utm, "-o", tmp_path / "p.gpkg", "--crs", prj)
    assert result.exit_code == 0, result.output
    frame = gpd.read_file(tmp_path / "p.gpkg")
    assert frame.crs.to_epsg() == 32616
    assert frame.total_bounds.tolist() == [500005, 3999990, 500010, 3999995]


def test_geojson_of_a_compound_crs_whose_geotiff_renames_its_horizontal_part(
        make_raster, tmp_path, run_cli):
    """A GeoTIFF written with the WKT of Amersfoort / RD New + NAP height (EPSG:7415, Dutch
    drone orthos), as rasterio writes crs=pyproj_crs.to_wkt(), reads back with no EPSG
    code and its horizontal part named as the whole ('Amersfoort / RD New + NAP height'),
    which PROJ matches to EPSG:28992 only below full confidence: vectorize -o x.geojson
    --crs source was refused as a CRS without an EPSG code, where EPSG:32616+5773 is
    written in EPSG:32616. Its horizontal part, the same in all but name, is written."""
    import json

    from pyproj import CRS

    mask = np.zeros((20, 20), np.uint8)
    mask[5:10, 5:10] = 1
    path = make_raster("m.tif", mask, crs=CRS("EPSG:7415").to_wkt(),
                       transform=from_origin(155000, 463000, 1, 1))
    result = run_cli("vectorize", path, "-o", tmp_path / "o.geojson", "--crs", "source")
    assert result.exit_code == 0, result.output
    written = json.loads((tmp_path / "o.geojson").read_text())
    assert "EPSG::28992" in json.dumps(written.get("crs"))
    frame = gpd.read_file(tmp_path / "o.geojson")
    assert frame.total_bounds.tolist() == [155005, 462990, 155010, 462995]


def test_layers_of_a_geopackage_told_without_gdal_only_when_sure(make_raster, tmp_path):
    # vectorize -o v.gpkg --overwrite looks for other layers before its workers start; where
    # the file holds nothing but its own layer, sqlite3 tells (no pyogrio, pandas, geopandas)
    import pyogrio

    from geotile.vector_output import _holds_only, _other_layers

    raster = _square(make_raster, "a.tif", X0, Y0)
    out = tmp_path / "v.gpkg"
    vectorize_polygons([raster], out)
    assert _holds_only(out, "v") and _holds_only(out, "V") and not _holds_only(out, "w")
    pyogrio.write_dataframe(pd.DataFrame({"name": ["main st"]}), out, layer="roads",
                            driver="GPKG")
    assert not _holds_only(out, "v")
    assert _other_layers(out, "GPKG") == ["roads"]
    (tmp_path / "x.gpkg").write_bytes(b"not a geopackage")
    assert not _holds_only(tmp_path / "x.gpkg", "x")



@pytest.mark.parametrize("width", [200, 300, 360])
def test_a_polygon_wider_than_a_hemisphere_keeps_its_area(make_raster, tmp_path, width):
    # an azimuthal projection cannot hold more than a hemisphere: a global raster's band
    # 200 degrees wide at 50-60N measured 1.2e12 m2 of its 1.42e13, one all around the earth
    # (-180..180) collapsed and was left out, with exit 0
    from pyproj import Geod

    classes = np.zeros((180, 360), np.uint8)
    classes[80:100, 0:width] = 1  # latitudes 10 to -10
    classes[20:30, 10:350] = 2  # 70 to 60N, 170W to 170E
    path = make_raster("global.tif", classes, crs="EPSG:4326",
                       transform=from_origin(-180, 90, 1, 1))
    vectorize_polygons([path], tmp_path / "global.gpkg")
    found = gpd.read_file(tmp_path / "global.gpkg").sort_values("class_id")
    boxes = [shapely.box(-180, -10, -180 + width, 10), shapely.box(-170, 60, 170, 70)]
    true_areas = [abs(Geod(ellps="WGS84").geometry_area_perimeter(
        shapely.segmentize(box, 0.05))[0]) for box in boxes]
    assert found["class_id"].tolist() == [1, 2]
    assert found["area_m2"].tolist() == pytest.approx(true_areas, rel=1e-4)
    # RFC 7946 GeoJSON: the same polygon (its longitudes a hair inside 180 after the
    # metric round trip were taken by GDAL's antimeridian cut for a crossing: the band
    # all around the earth was written as two meridian lines, a MultiLineString)
    vectorize_polygons([path], tmp_path / "global.geojson")
    written = json.loads((tmp_path / "global.geojson").read_text())["features"]
    written.sort(key=lambda f: f["properties"]["class_id"])
    assert [f["geometry"]["type"] for f in written] == ["Polygon", "Polygon"]
    for feature, box in zip(written, boxes, strict=True):
        polygon = shapely.geometry.shape(feature["geometry"])
        assert polygon.exterior.is_ccw
        assert polygon.symmetric_difference(box).area < 1e-6


def test_a_global_grid_past_180_degrees_keeps_its_band_in_geojson(make_raster, tmp_path):
    # a global grid whose edges lie half a cell past 180 (pixel centres on -180 and 180, as
    # climate reanalyses' 0.25 degree grids): a band round the earth was unwrapped vertex by
    # vertex, its -181 and 181 corners moved to 179 and -179, and its RFC 7946 GeoJSON held
    # two slivers 1 degree wide (40 square degrees of the band's 7200), exit 0
    classes = np.zeros((180, 362), np.uint8)
    classes[80:100, :] = 1  # latitudes 10 to -10, every longitude (and 1 degree twice)
    path = make_raster("era.tif", classes, crs="EPSG:4326",
                       transform=from_origin(-181, 90, 1, 1))
    vectorize_polygons([path], tmp_path / "era.geojson")
    written = json.loads((tmp_path / "era.geojson").read_text())["features"]
    band = shapely.union_all([shapely.geometry.shape(f["geometry"]) for f in written])
    assert band.symmetric_difference(shapely.box(-180, -10, 180, 10)).area < 1e-6
