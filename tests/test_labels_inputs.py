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
from geotile.masks import make_masks

from .conftest import UTM_CRS, UTM_ORIGIN, assert_one_line_error

X0, Y0 = UTM_ORIGIN


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


# --- item: class fields stored as text or floats; class-map ids ----------------------------

@pytest.mark.parametrize("values", [["1", "2", "10"], [1.0, 2.0, 10.0], ["1.0", " 2", "10"]])
def test_numeric_looking_class_values_are_their_own_ids(image, tmp_path, values):
    labels = tmp_path / "l.gpkg"
    gpd.GeoDataFrame({"cls": values}, geometry=[box(0, 0), box(3, 0), box(6, 0)],
                     crs=UTM_CRS).to_file(labels)
    make_masks(labels, [image], [tmp_path / "m.tif"], class_field="cls")
    mask = mask_of(tmp_path / "m.tif")
    assert (mask[1, 1], mask[1, 7], mask[1, 13]) == (1, 2, 10)
    with rasterio.open(tmp_path / "m.tif") as src:
        names = json.loads(src.tags()["GEOTILE_CLASS_NAMES"])
    assert names[1] == "1" and names[2] == "2" and names[10] == "10"


def test_fractional_class_value_is_an_error(image, tmp_path):
    labels = tmp_path / "l.gpkg"
    gpd.GeoDataFrame({"cls": [1.0, 1.5]}, geometry=[box(0, 0), box(3, 0)],
                     crs=UTM_CRS).to_file(labels)
    with pytest.raises(InputError, match=r"l.gpkg.*1\.5.*not a whole class id"):
        make_masks(labels, [image], [tmp_path / "m.tif"], class_field="cls")
    assert not (tmp_path / "m.tif").exists()


def test_class_map_applies_to_text_numbers(image, tmp_path):
    labels = tmp_path / "l.gpkg"
    gpd.GeoDataFrame({"code": ["1", "2"]}, geometry=[box(0, 0), box(3, 0)],
                     crs=UTM_CRS).to_file(labels)
    make_masks(labels, [image], [tmp_path / "m.tif"], class_field="code",
               class_map={"1": 7, "2": 9})
    mask = mask_of(tmp_path / "m.tif")
    assert (mask[1, 1], mask[1, 7]) == (7, 9)


def test_class_map_merging_classes_names_the_id_after_all_of_them(image, tmp_path):
    """{"roof": 3, "tree": 3}: the pixels were right but id 3 was named "tree" only."""
    labels = tmp_path / "l.gpkg"
    gpd.GeoDataFrame({"kind": ["roof", "tree", "road"]}, geometry=[box(0, 0), box(3, 0),
                                                                    box(6, 0)],
                     crs=UTM_CRS).to_file(labels)
    [summary] = make_masks(labels, [image], [tmp_path / "m.tif"], class_field="kind",
                           class_map={"roof": 3, "tree": 3, "road": 7})
    mask = mask_of(tmp_path / "m.tif")
    assert (mask[1, 1], mask[1, 7], mask[1, 13]) == (3, 3, 7)
    assert summary["classes"] == ["background", "1", "2", "roof+tree", "4", "5", "6", "road"]
    with rasterio.open(tmp_path / "m.tif") as src:
        assert json.loads(src.tags()["GEOTILE_CLASS_NAMES"]) == summary["classes"]


@pytest.mark.parametrize("bad", [None, 0, 255, 256, 1.5, "one", True, -1])
def test_class_map_ids_must_be_integers_1_to_254(run_cli, image, tmp_path, bad):
    labels = tmp_path / "l.geojson"
    gpd.GeoDataFrame({"kind": ["house"]}, geometry=[box(0, 0)], crs=UTM_CRS).to_file(labels)
    class_map = tmp_path / "classes.json"
    class_map.write_text(json.dumps({"house": bad}))
    assert_one_line_error(run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif",
                                  "--class-field", "kind", "--class-map", class_map),
                          "classes.json", "'house'", "1..254")
    assert not (tmp_path / "m.tif").exists()
    with pytest.raises(InputError, match=r"'house'.*1\.\.254"):
        make_masks(labels, [image], [tmp_path / "m.tif"], class_field="kind",
                   class_map={"house": bad})


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".shp", ".parquet"])
def test_features_without_geometry_count_alike_in_every_format(image, tmp_path, suffix):
    """Null and empty geometries are never burnt: without a class value they refused a
    GeoJSON run only ("2 features have no 'c' value"); with one, their class names took ids
    in some formats only."""
    labels = tmp_path / f"l{suffix}"
    frame = gpd.GeoDataFrame(
        {"c": ["b", None, None, "a", None, "aa", "ab"]}, crs=UTM_CRS,
        geometry=[box(0, 0), None, shapely.Polygon(), box(6, 0), shapely.MultiPolygon(), None,
                  shapely.Polygon()])
    frame.to_parquet(labels) if suffix == ".parquet" else frame.to_file(labels)
    [summary] = make_masks(labels, [image], [tmp_path / "m.tif"], class_field="c")
    assert summary["features"] == 2
    assert summary["classes"] == ["background", "a", "aa", "ab", "b"]
    mask = mask_of(tmp_path / "m.tif")
    assert (mask[1, 1], mask[1, 13]) == (4, 1) and np.count_nonzero(mask) == 32


# --- item: label files with a bad encoding or broken features ------------------------------

def ring(col, row, size=2, close=True):
    """The exterior ring of box(col, row, size) as GeoJSON coordinates."""
    coords = [list(c) for c in box(col, row, size).exterior.coords]
    return coords if close else coords[:-1]


def geojson_bytes(features, encoding="utf-8"):
    document = {"type": "FeatureCollection",
                "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32616"}},
                "features": [{"type": "Feature", "properties": p, "geometry": g}
                             for p, g in features]}
    return json.dumps(document, ensure_ascii=False).encode(encoding)


def test_latin1_geojson_is_read_with_a_warning(run_cli, image, tmp_path):
    from geotile.errors import GeotileWarning

    path = tmp_path / "latin.geojson"
    path.write_bytes(geojson_bytes([({"owner": "Müller", "kind": "Gebäude"},
                                     {"type": "Polygon", "coordinates": [ring(0, 0)]})],
                                   encoding="latin-1"))
    with pytest.warns(GeotileWarning, match=r"latin.geojson.*not UTF-8.*Latin-1"):
        labels = read_labels(path)
    assert list(labels.fields["owner"]) == ["Müller"]
    assert labels.geometries[0].equals(box(0, 0))
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif", "--class-field",
                     "kind")
    assert result.exit_code == 0, result.output
    assert "Latin-1" in result.stderr
    assert mask_of(tmp_path / "m.tif")[:4, :4].all()


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be-bom", "utf-32", "utf-16-le"])
def test_geojson_in_utf16_or_utf32_with_a_bom_is_read_as_its_bom_says(
        run_cli, image, tmp_path, monkeypatch, encoding, streamed):
    """Windows PowerShell's `ConvertTo-Json | Out-File` writes UTF-16 with a byte-order mark:
    GDAL cannot open it and Latin-1 reads garbage; the BOM (or, without one, the zero bytes
    of the first ASCII character, as json.detect_encoding reads them) says how to read it."""
    import codecs

    from geotile.errors import GeotileWarning

    if streamed:  # the chunked reader of large files
        monkeypatch.setattr("geotile.labels.STREAM_BYTES", 0)
    text = geojson_bytes([({"kind": "Gebäude"}, {"type": "Polygon", "coordinates": [ring(0, 0)]}),
                          ({"kind": "Straße"}, {"type": "Polygon", "coordinates": [ring(4, 4)]})]
                         ).decode("utf-8").replace(", ", ",\r\n")
    raw = (codecs.BOM_UTF16_BE + text.encode("utf-16-be") if encoding == "utf-16-be-bom"
           else text.encode(encoding))  # Python's utf-16/utf-32 write the BOM
    path = tmp_path / "powershell.geojson"
    path.write_bytes(raw)
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif", "--class-field", "kind")
    assert result.exit_code == 0, result.output
    assert "Latin-1" not in result.stderr
    assert f"powershell.geojson: {encoding[:6].upper()}" in result.stderr
    with rasterio.open(tmp_path / "m.tif") as src:
        names = src.tags().get("GEOTILE_CLASS_NAMES")
    assert json.loads(names) == ["background", "Gebäude", "Straße"]
    mask = mask_of(tmp_path / "m.tif")
    assert (mask[:4, :4] == 1).all() and (mask[8:12, 8:12] == 2).all() and mask.sum() == 48
    if not streamed:
        with pytest.warns(GeotileWarning, match=r"powershell.geojson: UTF-"):
            labels = read_labels(path)
        assert list(labels.fields["kind"]) == ["Gebäude", "Straße"]


def test_unclosed_ring_is_closed_with_a_warning_naming_the_feature(image, tmp_path):
    from geotile.errors import GeotileWarning

    path = tmp_path / "open.geojson"
    path.write_bytes(geojson_bytes([
        ({"name": "good"}, {"type": "Polygon", "coordinates": [ring(0, 0)]}),
        ({"name": "open"}, {"type": "Polygon", "coordinates": [ring(4, 4, close=False)]}),
    ]))
    with pytest.warns(GeotileWarning, match=r"open.geojson: 1 feature .*not closed.*feature 1"):
        labels = read_labels(path)
    assert len(labels) == 2 and labels.geometries[1].equals(box(4, 4))
    with pytest.warns(GeotileWarning):
        make_masks(path, [image], [tmp_path / "m.tif"])
    mask = mask_of(tmp_path / "m.tif")
    assert mask[:4, :4].all() and mask[8:12, 8:12].all() and mask.sum() == 32


def test_positions_with_m_values_are_read_as_gdal_reads_them(run_cli, image, tmp_path):
    """[x, y, z, m] positions (exports of measured layers): GDAL reads x, y, z; so does geotile
    (it skipped such features, and a file of them was 'no feature has a geometry')."""
    from geotile.errors import GeotileWarning

    path = tmp_path / "xyzm.geojson"
    path.write_bytes(geojson_bytes([
        ({"name": "zm"}, {"type": "Polygon",
                          "coordinates": [[[*c, 5.0, 7.0] for c in ring(0, 0)]]}),
        ({"name": "zm, open"}, {"type": "MultiPolygon", "coordinates": [
            [[[*c, 5.0, 7.0] for c in ring(4, 4, close=False)]]]}),
    ]))
    with pytest.warns(GeotileWarning, match=r"xyzm.geojson: 2 features .*more than three "
                      r"numbers.*x, y, z.*feature 0, feature 1"):
        labels = read_labels(path)
    assert labels.geometries[0].equals(box(0, 0)) and labels.geometries[1].equals(box(4, 4))
    assert shapely.get_coordinates(labels.geometries[0], include_z=True)[0, 2] == 5.0
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    mask = mask_of(tmp_path / "m.tif")
    assert mask[:4, :4].all() and mask[8:12, 8:12].all() and mask.sum() == 32


def test_broken_features_are_skipped_and_named(run_cli, image, tmp_path):
    from geotile.errors import GeotileWarning

    path = tmp_path / "broken.geojson"
    path.write_bytes(geojson_bytes([
        ({"name": "good"}, {"type": "Polygon", "coordinates": [ring(0, 0)]}),
        ({"name": "text"}, {"type": "Polygon", "coordinates": "nonsense"}),
        ({"name": "line"}, {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}),
        ({"name": "also good"}, {"type": "Polygon", "coordinates": [ring(4, 4)]}),
    ]))
    with pytest.warns(GeotileWarning, match=r"broken.geojson: 2 features.*skipped.*feature 1"):
        labels = read_labels(path)
    assert len(labels) == 4 and shapely.is_missing(labels.geometries).tolist() == [
        False, True, True, False]
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    warning_lines = [line for line in result.stderr.splitlines() if "Warning" in line]
    assert len(warning_lines) == 1 and "feature 1" in warning_lines[0]
    assert mask_of(tmp_path / "m.tif").sum() == 32


@pytest.mark.parametrize("kind", ["inf.geojson", "nan.geojson", "inf.gpkg", "inf.parquet"])
def test_features_with_infinite_or_nan_coordinates_are_skipped_and_named(run_cli, image,
                                                                         tmp_path, kind):
    """A vertex at infinity (what reprojecting outside a CRS's domain gives) crashed with a
    GEOS traceback; a NaN one dropped the feature with a bare numpy warning."""
    value, suffix = kind.split(".")
    bad = [list(c) for c in box(4, 4).exterior.coords]
    bad[2][0] = float(value)
    path = tmp_path / f"bad.{suffix}"
    if suffix == "geojson":  # json writes Infinity and NaN, as Python's json.dumps does
        path.write_bytes(geojson_bytes([
            ({}, {"type": "Polygon", "coordinates": [ring(0, 0)]}),
            ({}, {"type": "Polygon", "coordinates": [bad]})]))
    else:
        frame = gpd.GeoDataFrame(geometry=[box(0, 0), shapely.Polygon(bad)], crs=UTM_CRS)
        frame.to_parquet(path) if suffix == "parquet" else frame.to_file(path)
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(warned) == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"bad.{suffix}: 1 feature with infinite or NaN coordinates" in warned[0]
    assert f"({X0 + 6:.0f}, {Y0 - 6:.0f})" in warned[0]  # where it is: its first vertex
    mask = mask_of(tmp_path / "m.tif")
    assert mask[:4, :4].all() and mask.sum() == 16


def test_unreadable_wkb_in_a_geopackage_is_skipped(tmp_path):
    import struct

    from pyogrio.raw import write

    from geotile.errors import GeotileWarning

    good = shapely.to_wkb(box(0, 0))
    open_ring = struct.pack("<BIII", 1, 3, 1, 4) + b"".join(
        struct.pack("<dd", *xy) for xy in ring(4, 4, close=False))
    path = tmp_path / "bad.gpkg"
    write(path, np.array([good, open_ring], dtype=object), [np.array(["a", "b"])],
          fields=["name"], geometry_type="Polygon", crs=UTM_CRS, driver="GPKG")
    with pytest.warns(GeotileWarning) as caught:
        labels = read_labels(path)
    messages = sorted(str(w.message) for w in caught)
    assert any("bad.gpkg: 1 feature " in m and "FID 2" in m and "repaired" in m
               for m in messages), messages
    assert len(labels) == 2 and labels.geometries[0].equals(box(0, 0))
    assert labels.geometries[1].equals(box(4, 4))


def test_csv_with_unnamed_wkt_columns_gets_a_hint(run_cli, image, tmp_path):
    # SpaceNet's own CSVs are read (tests/test_spacenet.py); other WKT columns get the fix
    path = tmp_path / "summary.csv"
    path.write_text(
        "id,outline_px,outline_geo\n"
        '1,"POLYGON ((0 0,4 0,4 4,0 0))",'
        '"POLYGON ((-84.1 33.1,-84.0 33.1,-84.0 33.0,-84.1 33.1))"\n'
    )
    assert_one_line_error(run_cli("make-masks", path, image, "-o", tmp_path / "m.tif"),
                          "summary.csv", "outline_geo", "GEOM_POSSIBLE_NAMES=outline_geo")
    with pytest.raises(InputError, match="outline_px"):
        read_labels(path)



def test_csv_of_lines_in_pixel_coordinates_is_not_sent_to_a_map_crs(run_cli, image, tmp_path):
    """A SpaceNet road CSV (ImageId, WKT_Pix LINESTRING) was refused as 'the polygons are
    WKT text' with `ogr2ogr ... -a_srs EPSG:xxxx`, which puts pixel coordinates under a map
    CRS; it is read as SpaceNet roads, placed on the images its ImageIds name (none here:
    one line saying how ImageIds match images)."""
    path = tmp_path / "roads.csv"
    path.write_text("ImageId,WKT_Pix,length_m,travel_time_s\n"
                    'img1,"LINESTRING (40 100, 560 100, 560 460)",440.0,40.0\n'
                    'img2,"LINESTRING EMPTY",0,0\n')
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif", "--line-width", 4)
    assert_one_line_error(result, "roads.csv", "no ImageId matches", "img1")
    assert "polygons" not in result.stderr and "-a_srs" not in result.stderr
    assert not (tmp_path / "m.tif").exists()


def test_latin1_csv_with_wkt_is_read_with_a_warning(tmp_path):
    from geotile.errors import GeotileWarning

    path = tmp_path / "plain.csv"
    path.write_bytes(f'WKT,owner\n"{box(0, 0).wkt}",Müller\n'.encode("latin-1"))
    with pytest.warns(GeotileWarning, match=r"plain.csv.*not UTF-8.*Latin-1"):
        labels = read_labels(path, labels_crs=UTM_CRS)
    assert list(labels.fields["owner"]) == ["Müller"]
    assert labels.geometries[0].equals(box(0, 0))


@pytest.mark.parametrize("kind", ["polygons", "3d", "mixed"])
def test_geojson_geometries_are_read_exactly(tmp_path, kind):
    """Every coordinate as GEOS reads it: holes, z values, MultiPolygons among Polygons."""
    holed = {"type": "Polygon", "coordinates": [
        [[500000.123456789, 3700000.1], [500010.3, 3700000.1], [500010.3, 3700010.987654321],
         [500000.123456789, 3700000.1]],
        [[500002.5, 3700002.25], [500003.5, 3700002.25], [500003.5, 3700003.125],
         [500002.5, 3700002.25]]]}
    shapes = [holed, {"type": "Polygon", "coordinates": []}]
    if kind == "3d":
        shapes.append({"type": "Polygon", "coordinates": [[[0, 0, 1], [1, 0, 2], [1, 1, 3],
                                                           [0, 0, 1]]]})
    if kind == "mixed":
        shapes.append({"type": "MultiPolygon", "coordinates": [holed["coordinates"]]})
    document = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"n": i}, "geometry": shape}
        for i, shape in enumerate(shapes)]}
    path = tmp_path / "labels.geojson"
    path.write_text(json.dumps(document))
    labels = read_labels(path)
    expected = shapely.from_geojson([json.dumps(shape) for shape in shapes])
    assert shapely.equals_exact(labels.geometries, expected, tolerance=0).all()
    assert (shapely.has_z(labels.geometries) == shapely.has_z(expected)).all()
    assert labels.fields["n"].tolist() == list(range(len(shapes)))


def test_a_raster_or_a_folder_as_vector_labels_is_named_so(image, tmp_path):
    """A raster or a folder that GDAL cannot read as vectors: one line saying what it is,
    not GDAL's advice to prefix the path with '<DRIVER>:' (which does not apply)."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for path, words in ((image, ("is a raster", "vector labels")),
                        (folder, ("is a folder", "Give a vector file"))):
        with pytest.raises(InputError) as caught:
            read_labels(path)
        message = str(caught.value)
        assert str(path) in message and "\n" not in message
        assert all(w in message for w in words), message
        assert "<DRIVER>" not in message and "not recognized" not in message
    shapefiles = tmp_path / "shapefiles"  # a folder GDAL reads as vectors is read
    shapefiles.mkdir()
    gpd.GeoDataFrame(geometry=[box(0, 0)], crs=UTM_CRS).to_file(shapefiles / "a.shp")
    assert len(read_labels(shapefiles)) == 1


# --- item: overlapping features burn in file order, whatever reads them --------------------

def _overlapping_boxes(n=120, seed=5):
    """``n`` overlapping rotated boxes of classes 1..5 over a 60 x 50 m image, shuffled."""
    rng = np.random.default_rng(seed)
    geoms, classes = [], []
    for _ in range(n):
        cx, cy = X0 + rng.uniform(-5, 55), Y0 - rng.uniform(-5, 45)
        w, h = rng.uniform(2, 15, 2)
        geoms.append(shapely.affinity.rotate(shapely.box(cx, cy, cx + w, cy + h),
                                             rng.uniform(0, 90)))
        classes.append(int(rng.integers(1, 6)))
    return gpd.GeoDataFrame({"cls": classes}, geometry=geoms, crs=UTM_CRS)


def _file_order_reference(image, frame):
    from rasterio.features import rasterize

    with rasterio.open(image) as src:
        shapes = zip(frame.geometry, frame.cls, strict=True)
        return rasterize(shapes, out_shape=(src.height, src.width), transform=src.transform,
                         dtype="uint8")


@pytest.mark.parametrize("extra", ["layer", "layer_styles"])
def test_later_feature_wins_in_a_geopackage_gdal_reads_through_its_rtree(make_raster,
                                                                         tmp_path, extra):
    """A GeoPackage with a second layer (or QGIS's layer_styles table) is read by GDAL
    through its R-tree; its features came back in R-tree order, so 1/3 of the pixels of
    overlapping classes took another feature's class than the later one in the file."""
    import sqlite3

    image = make_raster("big.tif", np.zeros((100, 120), np.uint8))
    frame = _overlapping_boxes()
    path = tmp_path / "l.gpkg"
    frame.to_file(path, layer="b")
    if extra == "layer":
        frame.iloc[:3].to_file(path, layer="c")
        layer = "b"
    else:
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE layer_styles (id INTEGER PRIMARY KEY, f_table_name TEXT,"
                       " styleQML TEXT)")
            db.execute("INSERT INTO layer_styles VALUES (1, 'b', '<qgis/>')")
            db.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier) "
                       "VALUES ('layer_styles', 'attributes', 'layer_styles')")
        layer = None
    make_masks(path, [image], [tmp_path / "m.tif"], class_field="cls", layer=layer)
    expected = _file_order_reference(image, frame)
    assert len(np.unique(expected)) == 6
    np.testing.assert_array_equal(mask_of(tmp_path / "m.tif"), expected)


# --- item: points among polygons ------------------------------------------------------------

def test_points_among_polygons_are_left_out_with_a_warning(run_cli, image, tmp_path):
    """A Point feature and a point in a GeometryCollection vanished without a word, while
    lines beside polygons were warned of."""
    path = tmp_path / "mixed.geojson"
    line = shapely.LineString([(X0 + 1, Y0 - 7), (X0 + 9, Y0 - 7)])
    gpd.GeoDataFrame(geometry=[
        box(0, 0), shapely.Point(X0 + 5, Y0 - 5), shapely.MultiPoint([(X0 + 6, Y0 - 6)]),
        shapely.GeometryCollection([box(4, 0), shapely.Point(X0 + 8, Y0 - 8), line])],
        crs=UTM_CRS).to_file(path)
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", path, image, "-o", out)
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if "Warning" in line]
    assert len(warned) == 2, result.stderr
    assert any("mixed.geojson: 3 point features were left out" in w and "no area" in w
               for w in warned), warned
    assert any("1 line feature was left out" in w for w in warned), warned
    mask = mask_of(out)
    assert mask.sum() == 32 and mask[:4, :4].all() and mask[:4, 8:12].all()


def test_one_point_among_polygons_is_said_in_the_singular(run_cli, image, tmp_path):
    """One Point beside a polygon was warned of as "1 point features were left out"."""
    path = tmp_path / "one.geojson"
    gpd.GeoDataFrame(geometry=[box(0, 0), shapely.Point(X0 + 5, Y0 - 5)],
                     crs=UTM_CRS).to_file(path)
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    assert "one.geojson: 1 point feature was left out" in result.stderr, result.stderr
    points = tmp_path / "points.geojson"
    gpd.GeoDataFrame(geometry=[shapely.Point(X0 + 5, Y0 - 5)], crs=UTM_CRS).to_file(points)
    assert_one_line_error(run_cli("make-masks", points, image, "-o", tmp_path / "p.tif"),
                          "points.geojson: no feature is a polygon")


@pytest.mark.parametrize("far", [False, True])
def test_later_feature_wins_in_a_zipped_geojson_whose_ids_count_down(make_raster, tmp_path,
                                                                     far):
    """GDAL takes a GeoJSON feature's "id" as its FID: sorting a filtered read by FID put
    ids 30, 20, 10 backwards, so the first feature won (3600 px of 6400 the wrong class).
    ``far``: two images far apart, read as two boxes."""
    import zipfile

    from rasterio.transform import from_origin

    images = [make_raster("a.tif", np.zeros((60, 60), np.uint8))]
    offsets = [0.0]
    if far:
        images.append(make_raster("b.tif", np.zeros((60, 60), np.uint8),
                                  transform=from_origin(X0 + 5000, Y0, 0.5, 0.5)))
        offsets.append(5000.0)
    features = []
    for dx in offsets:
        for i, (cls, off) in enumerate([(1, 0), (2, 5), (3, 10)]):
            square = shapely.box(X0 + dx + off, Y0 - 20 - off, X0 + dx + off + 20, Y0 - off)
            features.append({"type": "Feature", "id": 30 - 10 * i - len(features),
                             "properties": {"cls": cls},
                             "geometry": shapely.geometry.mapping(square)})
    doc = {"type": "FeatureCollection", "features": features,
           "crs": {"type": "name", "properties": {"name": UTM_CRS}}}
    with zipfile.ZipFile(tmp_path / "ov.zip", "w") as archive:
        archive.writestr("ov.geojson", json.dumps(doc))
    outputs = [tmp_path / f"m{i}.tif" for i in range(len(images))]
    make_masks(f"/vsizip/{tmp_path / 'ov.zip'}/ov.geojson", images, outputs, class_field="cls")
    for out in outputs:
        mask = mask_of(out)  # 0.5 m pixels: the last square is 40 x 40 px
        assert [int((mask == c).sum()) for c in (1, 2, 3)] == [700, 700, 1600]
        assert (mask[20:60, 20:60] == 3).all()


# --- item: newline-delimited GeoJSON named .geojson / .json -------------------------------

@pytest.mark.parametrize("suffix", [".geojson", ".json"])
@pytest.mark.parametrize("separator", ["", "\x1e"])  # GeoJSONL; RFC 8142 record separators
def test_geojson_one_feature_a_line_is_read_as_gdal_reads_it(run_cli, image, tmp_path,
                                                             suffix, separator):
    """Microsoft's building footprints and ogr2ogr -f GeoJSONSeq write one Feature a line;
    GDAL reads such a file whatever its ending, so make-masks and evaluate must too."""
    features = [{"type": "Feature", "properties": {"c": c},
                 "geometry": shapely.geometry.mapping(box(col, 1, 3))}
                for c, col in ((1, 1), (2, 5))]
    path = tmp_path / f"footprints{suffix}"
    path.write_text("".join(separator + json.dumps(f) + "\n" for f in features))
    crs = ["--labels-crs", UTM_CRS]
    out = tmp_path / "mask.tif"
    result = run_cli("make-masks", path, image, "-o", out, "--class-field", "c", *crs)
    assert result.exit_code == 0, result.output
    mask = mask_of(out)
    assert (mask[2:8, 2:8] == 1).all() and (mask[2:8, 10:16] == 2).all()
    assert np.count_nonzero(mask) == 72
    result = run_cli("evaluate", path, path, "--json", *crs, "--prediction-crs", UTM_CRS)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tp"] == 2


@pytest.mark.parametrize("separator", ["", "\x1e"])
def test_geojson_sequence_saved_with_a_bom_keeps_its_first_feature(run_cli, image, tmp_path,
                                                                  separator):
    """Saved by a Windows editor (UTF-8 with BOM), a one-Feature-a-line file lost its first
    feature to GDAL's reader: 1 of 2 buildings burnt, exit 0."""
    features = [{"type": "Feature", "properties": {"c": c},
                 "geometry": shapely.geometry.mapping(box(col, 1, 3))}
                for c, col in ((1, 1), (2, 5))]
    path = tmp_path / "footprints.geojson"
    path.write_text("".join(separator + json.dumps(f) + "\n" for f in features),
                    encoding="utf-8-sig")
    out = tmp_path / "mask.tif"
    result = run_cli("make-masks", path, image, "-o", out, "--class-field", "c",
                     "--labels-crs", UTM_CRS)
    assert result.exit_code == 0, result.output
    mask = mask_of(out)
    assert (mask[2:8, 2:8] == 1).all() and (mask[2:8, 10:16] == 2).all()
    assert np.count_nonzero(mask) == 72



@pytest.mark.parametrize("suffix", [".geojsonl", ".geojsons"])
def test_geojsonl_saved_with_a_bom_keeps_all_its_features(run_cli, image, tmp_path, suffix):
    """The BOM fix read .geojson past the BOM only: footprints.geojsonl saved by Notepad
    (UTF-8 with BOM) still burnt 1 of 2 buildings (36 of 72 px), exit 0."""
    features = [{"type": "Feature", "properties": {"c": c},
                 "geometry": shapely.geometry.mapping(box(col, 1, 3))}
                for c, col in ((1, 1), (2, 5))]
    path = tmp_path / f"footprints{suffix}"
    path.write_text("".join(json.dumps(f) + "\n" for f in features), encoding="utf-8-sig")
    out = tmp_path / "mask.tif"
    result = run_cli("make-masks", path, image, "-o", out, "--class-field", "c",
                     "--labels-crs", UTM_CRS, "--layer", "footprints")
    assert result.exit_code == 0, result.output
    mask = mask_of(out)
    assert (mask[2:8, 2:8] == 1).all() and (mask[2:8, 10:16] == 2).all()
    assert np.count_nonzero(mask) == 72

# --- item: boolean class fields -------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".gpkg", ".shp", ".fgb"])
def test_boolean_class_field_gives_the_same_classes_in_every_format(run_cli, image, tmp_path,
                                                                    suffix):
    """A GeoPackage's BOOLEAN field came back as 0/1 from the fast SQLite read (refused: 'class
    id 0 is outside 1..254') where GDAL, and so every other format, gives False/True."""
    frame = gpd.GeoDataFrame({"damaged": [True, False]}, geometry=[box(1, 1, 3), box(5, 1, 3)],
                             crs=UTM_CRS)
    path = tmp_path / f"b{suffix}"
    frame.to_file(path)
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", path, image, "-o", out, "--class-field", "damaged",
                     "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["classes"] == ["background", "False", "True"]
    mask = mask_of(out)
    assert (mask[2:8, 2:8] == 2).all() and (mask[2:8, 10:16] == 1).all()
    assert np.count_nonzero(mask) == 72


# --- item: GeoParquet columns of pandas' nullable dtypes -------------------------------------

@pytest.mark.parametrize("values, dtype", [(["b", None, "a"], "string"),
                                           ([True, None, False], "boolean")])
def test_parquet_null_of_a_nullable_dtype_is_no_class(run_cli, image, tmp_path, values,
                                                      dtype):
    """A GeoParquet column of pandas' nullable 'string' or 'boolean' dtype (convert_dtypes'
    choice) read its null as pd.NA, a class named '<NA>' that took id 1 and moved every other
    class (a from 1 to 2, b from 2 to 3), where the same features as GeoJSON are refused."""
    import pandas as pd

    frame = gpd.GeoDataFrame({"c": pd.array(values, dtype=dtype)}, crs=UTM_CRS,
                             geometry=[box(0, 0), box(3, 0), box(6, 0)])
    frame.to_parquet(tmp_path / "l.parquet")
    frame.assign(c=np.array(values, dtype=object)).to_file(tmp_path / "l.geojson")
    for name in ("l.parquet", "l.geojson"):
        assert_one_line_error(run_cli("make-masks", tmp_path / name, image, "-o",
                                      tmp_path / "m.tif", "--class-field", "c"),
                              name, "1 feature has no 'c' value (null or empty)")
        assert not (tmp_path / "m.tif").exists()
    folder = tmp_path / "labels"  # a label folder: its class values gathered first
    folder.mkdir()
    frame.to_parquet(folder / "img.parquet")
    assert_one_line_error(run_cli("make-masks", folder, image, "-o", f"{tmp_path}/masks/",
                                  "--class-field", "c"),
                          "img.parquet", "1 feature has no 'c' value (null or empty)")
    frame.geometry.values[1] = None  # the null on a feature without geometry: not burnt
    frame.to_parquet(tmp_path / "l.parquet")
    [summary] = make_masks(tmp_path / "l.parquet", [image], [tmp_path / "m.tif"],
                           class_field="c")
    assert summary["classes"] == ["background", *sorted(str(v) for v in values if v is not None)]
    mask = mask_of(tmp_path / "m.tif")
    assert (mask[1, 1], mask[1, 13]) == (2, 1) and np.count_nonzero(mask) == 32


# --- item: a Shapefile's field names cut to 10 characters --------------------------------

@pytest.fixture
def cut_names(tmp_path):
    """A Shapefile of fields roof_material and building_class, building_clazz: GDAL cuts
    them to roof_mater, building_c and (a second cut name, numbered) building_1."""
    import warnings

    frame = gpd.GeoDataFrame({"roof_material": [1, 2], "building_class": [1, 2],
                              "building_clazz": [2, 1]}, geometry=[box(1, 1, 3), box(5, 1, 3)],
                             crs=UTM_CRS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyogrio's: the names were normalized
        frame.to_file(tmp_path / "l.shp")
    return tmp_path / "l.shp"


def test_shapefile_cut_field_name_is_named_in_the_error(run_cli, image, tmp_path, cut_names):
    """--class-field roof_material on a Shapefile said only "no field 'roof_material'" and
    listed the fields: not that a Shapefile keeps 10 characters of a name, nor which to give."""
    out = tmp_path / "m.tif"
    assert_one_line_error(run_cli("make-masks", cut_names, image, "-o", out, "--class-field",
                                  "roof_material"),
                          "l.shp: no field 'roof_material'", "10 characters",
                          "--class-field roof_mater")
    assert_one_line_error(run_cli("make-masks", cut_names, image, "-o", out, "--class-field",
                                  "building_clazz"),
                          "no field 'building_clazz'", "10 characters",
                          "'building_c' or 'building_1'")
    assert not out.exists()
    assert_one_line_error(run_cli("evaluate", cut_names, cut_names, "--class-field",
                                  "roof_material"),
                          "l.shp: no field 'roof_material'", "--class-field roof_mater")
    assert_one_line_error(run_cli("make-masks", cut_names, image, "-o", out, "--class-field",
                                  "roof"), "no field 'roof'. Fields: roof_mater, ")



def test_a_cut_field_name_in_a_file_converted_from_a_shapefile(run_cli, image, tmp_path,
                                                               cut_names):
    """A GeoPackage made from that Shapefile (ogr2ogr, QGIS) keeps the cut names: the hint
    named the GeoPackage 'a Shapefile'; now it names the cut, not the file's format."""
    gpkg = tmp_path / "l.gpkg"
    gpd.read_file(cut_names).to_file(gpkg)
    result = run_cli("make-masks", gpkg, image, "-o", tmp_path / "m.tif", "--class-field",
                     "roof_material")
    assert_one_line_error(result, "l.gpkg: no field 'roof_material'", "10 characters",
                          "--class-field roof_mater")
    assert "A Shapefile keeps" not in result.stderr

# --- item: a zipped Shapefile inside a folder of the zip ------------------------------------

def _zip_folder(tmp_path, frame, members):
    """A zip of ``frame`` as Shapefiles at ``members`` (paths inside the zip, no suffix),
    with the __MACOSX/._* entries a Mac adds."""
    import zipfile

    archive = tmp_path / "footprints.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i, member in enumerate(members):
            folder = tmp_path / f"shp{i}"
            folder.mkdir()
            frame.to_file(folder / "f.shp")
            for part in sorted(folder.iterdir()):
                zf.write(part, f"{member}{part.suffix}")
                zf.writestr(f"__MACOSX/{member.rpartition('/')[0]}/._f{part.suffix}", b"\0")
    return archive


def test_zip_with_the_shapefile_in_a_folder_is_read(run_cli, image, tmp_path):
    """A zip made by zipping a folder (as most downloads are) was refused: "not vector data
    GDAL can read (... not recognized as being in a supported file format; It might help to
    specify the correct driver...)": GDAL looks only at a zip's top level."""
    frame = gpd.GeoDataFrame({"c": [2]}, geometry=[box(1, 1, 3)], crs=UTM_CRS)
    archive = _zip_folder(tmp_path, frame, ["buildings/f"])
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", archive, image, "-o", out, "--class-field", "c")
    assert result.exit_code == 0, result.output
    mask = mask_of(out)
    assert (mask[2:8, 2:8] == 2).all() and np.count_nonzero(mask) == 36


def test_zip_with_several_shapefiles_in_folders_names_them(run_cli, image, tmp_path):
    frame = gpd.GeoDataFrame(geometry=[box(1, 1, 3)], crs=UTM_CRS)
    archive = _zip_folder(tmp_path, frame, ["a/f", "b/f"])
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", archive, image, "-o", out)
    assert_one_line_error(result, "footprints.zip", "a/f.shp, b/f.shp",
                          f"/vsizip/{archive}/a/f.shp")
    assert not out.exists()


# --- item: a Shapefile whose .cpg says UTF-8 over Latin-1 text --------------------------------

def test_shapefile_with_a_wrong_utf8_cpg_is_read_as_latin1(run_cli, image, tmp_path):
    """A .cpg saying UTF-8 beside a Latin-1 .dbf (a default .cpg, text typed on Windows) was
    refused: "not vector data GDAL can read ('utf-8' codec can't decode byte 0xe9...)": the
    retry as Latin-1 named the encoding 'latin-1', which GDAL does not know."""
    frame = gpd.GeoDataFrame({"roof": ["Qe", "Qu"]}, geometry=[box(1, 1, 3), box(5, 1, 3)],
                             crs=UTM_CRS)
    path = tmp_path / "roofs.shp"
    frame.to_file(path)
    dbf = path.with_suffix(".dbf")
    dbf.write_bytes(dbf.read_bytes().replace(b"Qe", b"\xe9 ").replace(b"Qu", b"\xfc "))
    path.with_suffix(".cpg").write_text("UTF-8")
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", path, image, "-o", out, "--class-field", "roof", "--json")
    assert result.exit_code == 0, result.output
    assert "not UTF-8" in result.stderr and "Latin-1" in result.stderr
    assert json.loads(result.stdout)["classes"] == ["background", "é", "ü"]
    mask = mask_of(out)
    assert (mask[2:8, 2:8] == 1).all() and (mask[2:8, 10:16] == 2).all()


def test_zipped_geoparquet_is_refused_saying_what_to_do(run_cli, image, tmp_path):
    """GeoParquet in a zip (or at a URL) went to GDAL, which has no Parquet driver here:
    "not vector data GDAL can read (...). Give GeoJSON, GeoPackage, Shapefile or GeoParquet"
    for a file that is GeoParquet."""
    import zipfile

    frame = gpd.GeoDataFrame(geometry=[box(1, 1, 3)], crs=UTM_CRS)
    frame.to_parquet(tmp_path / "f.parquet")
    with zipfile.ZipFile(tmp_path / "f.zip", "w") as archive:
        archive.write(tmp_path / "f.parquet", "f.parquet")
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", f"/vsizip/{tmp_path / 'f.zip'}/f.parquet", image, "-o", out)
    assert_one_line_error(result, "f.zip/f.parquet", "GeoParquet", "local file")
    assert "Give GeoJSON" not in result.stderr
    assert not out.exists()


# --- item: Esri JSON (ArcGIS REST query?f=json) ----------------------------------------------

def test_esri_json_is_read_as_gdal_reads_it(run_cli, image, tmp_path):
    """An ArcGIS service's export (.json of "features": [{"attributes", "geometry":
    {"rings"}}], "spatialReference") was refused: "not vector data GDAL can read (a GeoJSON
    object of type None holds no features)", although GDAL's ESRIJSON driver reads it."""
    def rings(square):
        return [[list(p) for p in square.exterior.coords][::-1]]  # Esri: outer clockwise

    features = [{"attributes": {"c": c}, "geometry": {"rings": rings(box(col, 1, 3))}}
                for c, col in ((1, 1), (2, 5))]
    path = tmp_path / "query.json"
    path.write_text(json.dumps({
        "geometryType": "esriGeometryPolygon", "spatialReference": {"wkid": 32616},
        "fields": [{"name": "c", "type": "esriFieldTypeInteger"}], "features": features}))
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", path, image, "-o", out, "--class-field", "c")
    assert result.exit_code == 0, result.output
    mask = mask_of(out)
    assert (mask[2:8, 2:8] == 1).all() and (mask[2:8, 10:16] == 2).all()
    assert np.count_nonzero(mask) == 72


def test_json_that_is_no_vector_data_keeps_its_message(run_cli, image, tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"epochs": 10}))
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "settings.json", "holds no features")


def test_gzipped_geojson_is_read_through_vsigzip(run_cli, make_raster, tmp_path):
    """labels.geojson.gz (as portals serve them): 'not vector data GDAL can read (... not
    recognized as being in a supported file format ...)', then a refusal naming /vsigzip/;
    now the file itself makes the mask, as its /vsigzip/ path does."""
    import gzip

    image = make_raster("img.tif", np.zeros((3, 20, 20), np.uint8))
    plain = tmp_path / "labels.geojson"
    gpd.GeoDataFrame(geometry=[shapely.box(X0 + 1, Y0 - 6, X0 + 6, Y0 - 1)],
                     crs=UTM_CRS).to_file(plain)
    packed = tmp_path / "labels.geojson.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    for source in (packed, f"/vsigzip/{packed}"):
        result = run_cli("make-masks", source, image, "-o", tmp_path / "m.tif", "--overwrite")
        assert result.exit_code == 0, result.output
        with rasterio.open(tmp_path / "m.tif") as src:
            assert src.read(1).sum() == 100


def _osm_extract(path, rings_by_feature) -> None:
    """An OpenStreetMap XML extract: each entry ``(tags, rings)`` (UTM rings, lon/lat in the
    file) is a closed way, or, with several rings, a multipolygon relation (outer, inners)."""
    from pyproj import Transformer

    to_ll = Transformer.from_crs(UTM_CRS, "EPSG:4326", always_xy=True)
    nodes, ways, relations, ids = [], [], [], iter(range(1, 10_000))
    for tags, rings in rings_by_feature:
        way_ids = []
        for ring in rings:
            refs = []
            for x, y in ring[:-1]:
                lon, lat = to_ll.transform(x, y)
                refs.append(next(ids))
                nodes.append(f'<node id="{refs[-1]}" version="1" lat="{lat:.9f}" '
                             f'lon="{lon:.9f}"/>')
            way_ids.append(next(ids))
            text = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
            ways.append(f'<way id="{way_ids[-1]}" version="1">'
                        + "".join(f'<nd ref="{r}"/>' for r in [*refs, refs[0]])
                        + (text if len(rings) == 1 else "") + "</way>")
        if len(rings) > 1:
            members = "".join(f'<member type="way" ref="{w}" role="{"inner" if i else "outer"}"/>'
                              for i, w in enumerate(way_ids))
            text = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in
                           {"type": "multipolygon", **tags}.items())
            relations.append(f'<relation id="{next(ids)}" version="1">{members}{text}</relation>')
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n'
                    + "\n".join(nodes + ways + relations) + "\n</osm>\n")


def test_openstreetmap_extract_burns_its_multipolygons_layer(run_cli, make_raster, tmp_path):
    """An .osm extract read with --layer multipolygons: 'not vector data GDAL can read
    ('NoneType' object is not iterable)' (GDAL's OSM driver knows no layer extent); now its
    buildings are burnt, the courtyard of the relation left out, classes by their tags."""
    image = make_raster("img.tif", np.zeros((20, 20), np.uint8))
    square = [(X0 + 1, Y0 - 1), (X0 + 4, Y0 - 1), (X0 + 4, Y0 - 4), (X0 + 1, Y0 - 4),
              (X0 + 1, Y0 - 1)]
    outer = [(X0 + 5, Y0 - 5), (X0 + 9, Y0 - 5), (X0 + 9, Y0 - 9), (X0 + 5, Y0 - 9),
             (X0 + 5, Y0 - 5)]
    court = [(X0 + 6, Y0 - 6), (X0 + 6, Y0 - 8), (X0 + 8, Y0 - 8), (X0 + 8, Y0 - 6),
             (X0 + 6, Y0 - 6)]
    osm = tmp_path / "extract.osm"
    _osm_extract(osm, [({"building": "yes"}, [square]),
                       ({"building": "commercial"}, [outer, court])])
    result = run_cli("make-masks", osm, image, "-o", tmp_path / "m.tif", "--layer",
                     "multipolygons", "--class-field", "building")
    assert result.exit_code == 0, result.output
    expected = rasterio.features.rasterize(
        [(shapely.Polygon(square), 2), (shapely.Polygon(outer, [court]), 1)],
        out_shape=(20, 20), transform=rasterio.transform.from_origin(X0, Y0, 0.5, 0.5))
    with rasterio.open(tmp_path / "m.tif") as src:
        mask = src.read(1)
    assert np.count_nonzero(mask == 2) == 36 and np.count_nonzero(mask == 1) == 48
    np.testing.assert_array_equal(mask, expected)


def _osm_reads(monkeypatch) -> list:
    """A list that records how each read of GDAL's (pyogrio) is asked for: ('info', its
    force_feature_count) or ('read', the filter it carries: 'bbox', 'mask' or None)."""
    import pyogrio
    import pyogrio.raw

    calls: list = []
    info, read = pyogrio.read_info, pyogrio.raw.read

    def spy_info(*args, **kwargs):
        calls.append(("info", bool(kwargs.get("force_feature_count"))))
        return info(*args, **kwargs)

    def spy_read(*args, **kwargs):
        calls.append(("read", "bbox" if kwargs.get("bbox") is not None else
                      "mask" if kwargs.get("mask") is not None else None,
                      kwargs.get("read_geometry", True)))
        return read(*args, **kwargs)

    monkeypatch.setattr(pyogrio, "read_info", spy_info)
    monkeypatch.setattr(pyogrio.raw, "read", spy_read)
    return calls


@pytest.mark.parametrize("bounds", [True, False], ids=["bounds", "no-bounds"])
@pytest.mark.parametrize("tiles", [1, 2])
def test_an_openstreetmap_extract_is_read_near_the_images_only(make_raster, tmp_path,
                                                                monkeypatch, bounds, tiles):
    """An OSM extract far larger than the tiles (1M buildings in a .pbf: 27 s, 3.2 GB RSS
    for one 100 m tile; with a header bbox 19 s, 1.4 GB) was read whole: without <bounds>
    (GDAL knows no extent) every feature, with them a feature count first (a pass over the
    file, 7.5 s and 1.2 GB alone). Now only the features near the tiles are read (GDAL's
    spatial filter as it streams), no feature counted."""
    from geotile.labels import image_regions

    near = [(X0 + 1, Y0 - 1), (X0 + 4, Y0 - 1), (X0 + 4, Y0 - 4), (X0 + 1, Y0 - 4),
            (X0 + 1, Y0 - 1)]
    far = [(x + 3000, y) for x, y in near]
    osm = tmp_path / "extract.osm"
    _osm_extract(osm, [({"building": "yes"}, [near]), ({"building": "house"}, [far])])
    if bounds:  # JOSM's and Geofabrik's extracts name their bounds
        text = osm.read_text().replace(
            "<osm version=\"0.6\">", "<osm version=\"0.6\">\n<bounds minlat=\"33\" "
            "minlon=\"-85\" maxlat=\"35\" maxlon=\"-83\"/>")
        osm.write_text(text)
    images = [make_raster(f"img{i}.tif", np.zeros((20, 20), np.uint8),
                          transform=rasterio.transform.from_origin(X0 + 1000 * i, Y0, 0.5, 0.5))
              for i in range(tiles)]
    calls = _osm_reads(monkeypatch)
    labels = read_labels(osm, layer="multipolygons", regions=image_regions(images),
                         class_field="building")
    assert len(labels) == 1 and labels.fields["building"].tolist() == ["yes"], calls
    assert labels.values["building"] == ["yes", "house"]  # the file's, for run-wide ids
    assert ("info", True) not in calls, calls
    geometry_reads = [c for c in calls if c[0] == "read" and c[2]]
    assert geometry_reads and all(c[1] is not None for c in geometry_reads), calls


def test_an_openstreetmap_extract_without_bounds_elsewhere_says_where_it_lies(
        run_cli, make_raster, tmp_path):
    """An OSM extract without <bounds> whose features all lie 3 km off the tile, read near
    the tile only: the warning still gives the file's span (not 'the file holds no
    features'), the mask all zeros."""
    far = [(X0 + 3001, Y0 - 1), (X0 + 3004, Y0 - 1), (X0 + 3004, Y0 - 4), (X0 + 3001, Y0 - 4),
           (X0 + 3001, Y0 - 1)]
    osm = tmp_path / "extract.osm"
    _osm_extract(osm, [({"building": "yes"}, [far])])
    image = make_raster("img.tif", np.zeros((20, 20), np.uint8))
    result = run_cli("make-masks", osm, image, "-o", tmp_path / "m.tif", "--layer",
                     "multipolygons")
    assert result.exit_code == 0, result.output
    assert "no feature overlaps img.tif (labels span (-84.3" in result.stderr, result.stderr
    with rasterio.open(tmp_path / "m.tif") as src:
        assert not src.read(1).any()


@pytest.mark.parametrize(("layer", "key", "other", "width"),
                         [("multipolygons", "building", "boundary", ()),
                          ("lines", "highway", "waterway", ("--line-width", 1))])
def test_an_openstreetmap_layer_of_several_kinds_is_named_with_the_filter(
        run_cli, make_raster, tmp_path, layer, key, other, width):
    """--layer multipolygons of an OSM extract holds the town's boundary beside its
    buildings (lines: streams beside roads): read without --where, every pixel of the tile
    was burnt as building (40,000 of 40,000 in /tmp/s241) without a word. Now a warning
    names the kinds read and the --where that keeps buildings (roads) only; with it, no
    warning and the buildings alone are burnt."""
    square = [(X0 + 1, Y0 - 1), (X0 + 4, Y0 - 1), (X0 + 4, Y0 - 4), (X0 + 1, Y0 - 4),
              (X0 + 1, Y0 - 1)]
    town = [(X0 - 100, Y0 + 100), (X0 + 100, Y0 + 100), (X0 + 100, Y0 - 100),
            (X0 - 100, Y0 - 100), (X0 - 100, Y0 + 100)]
    tags = {"boundary": "administrative", "admin_level": "8"} if other == "boundary" \
        else {other: "stream"}
    osm = tmp_path / "town.osm"
    if layer == "lines":  # open ways: the helper closes rings, so give each a third node
        square, town = square[:4], [(X0 + 1, Y0 - 8), (X0 + 9, Y0 - 8), (X0 + 9, Y0 - 9),
                                    (X0 + 1, Y0 - 8.5)]
    _osm_extract(osm, [({key: "yes"}, [square]), (tags, [town]), ({key: "house"}, [square])])
    image = make_raster("img.tif", np.zeros((20, 20), np.uint8))
    result = run_cli("make-masks", osm, image, "-o", tmp_path / "all.tif", "--layer", layer,
                     *width)
    assert result.exit_code == 0, result.output
    assert (f"town.osm: --layer {layer} holds features of several kinds ({key} 2, {other} 1)"
            in result.stderr), result.stderr
    assert f'--where "{key} IS NOT NULL"' in result.stderr
    chosen = run_cli("make-masks", osm, image, "-o", tmp_path / "m.tif", "--layer", layer,
                     *width, "--where", f"{key} IS NOT NULL")
    assert chosen.exit_code == 0, chosen.output
    assert "several kinds" not in chosen.stderr
    with rasterio.open(tmp_path / "all.tif") as every, rasterio.open(tmp_path / "m.tif") as m:
        assert every.read(1).sum() > m.read(1).sum() > 0


def test_a_gzipped_openstreetmap_extract_of_several_kinds_is_named_too(run_cli, make_raster,
                                                                       tmp_path):
    """A gzipped OSM XML extract (JOSM's and Overpass downloads' town.osm.gz, which GDAL
    reads through /vsigzip/) read with --layer multipolygons burnt the town's boundary as
    building, every pixel of the tile (400 of 400), without the warning an .osm gets (its
    name ends .gz, not .osm). Now it is named as the .osm is."""
    import gzip

    square = [(X0 + 1, Y0 - 1), (X0 + 4, Y0 - 1), (X0 + 4, Y0 - 4), (X0 + 1, Y0 - 4),
              (X0 + 1, Y0 - 1)]
    town = [(X0 - 100, Y0 + 100), (X0 + 100, Y0 + 100), (X0 + 100, Y0 - 100),
            (X0 - 100, Y0 - 100), (X0 - 100, Y0 + 100)]
    _osm_extract(tmp_path / "town.osm", [({"building": "yes"}, [square]), (
        {"boundary": "administrative", "admin_level": "8"}, [town])])
    packed = tmp_path / "town.osm.gz"
    packed.write_bytes(gzip.compress((tmp_path / "town.osm").read_bytes()))
    image = make_raster("img.tif", np.zeros((20, 20), np.uint8))
    result = run_cli("make-masks", packed, image, "-o", tmp_path / "all.tif", "--layer",
                     "multipolygons")
    assert result.exit_code == 0, result.output
    assert ("town.osm.gz: --layer multipolygons holds features of several kinds (building 1, "
            "boundary 1)" in result.stderr), result.stderr
    with rasterio.open(tmp_path / "all.tif") as src:
        assert src.read(1).all()  # the boundary burnt, as the warning says



def test_a_gzipped_openstreetmap_extract_s_layer_choice_names_the_users_file(
        run_cli, make_raster, tmp_path):
    """make-masks town.osm.gz without --layer (or with one it lacks) named
    '/vsigzip//.../town.osm.gz', GDAL's path, in its layer-choice error; it names the
    user's town.osm.gz, as it names town.osm."""
    import gzip

    square = [(X0 + 1, Y0 - 1), (X0 + 4, Y0 - 1), (X0 + 4, Y0 - 4), (X0 + 1, Y0 - 4),
              (X0 + 1, Y0 - 1)]
    _osm_extract(tmp_path / "town.osm", [({"building": "yes"}, [square])])
    packed = tmp_path / "town.osm.gz"
    packed.write_bytes(gzip.compress((tmp_path / "town.osm").read_bytes()))
    image = make_raster("img.tif", np.zeros((20, 20), np.uint8))
    for option, said in (((), "Choose one with --layer NAME"), (("--layer", "roads"),
                                                                "no layer 'roads'")):
        result = run_cli("make-masks", packed, image, "-o", tmp_path / "m.tif", *option)
        assert result.exit_code == 1, result.output
        assert f"Error: {packed}: " in result.stderr and said in result.stderr, result.stderr
        assert "/vsigzip/" not in result.stderr
        assert not (tmp_path / "m.tif").exists()

@pytest.mark.parametrize("lines", [2, 1])
def test_microsoft_footprints_csv_gz_burns_as_given(run_cli, make_raster, tmp_path, lines):
    """Microsoft's building footprints ship as part-000xx.csv.gz holding one GeoJSON Feature
    a line (lon/lat, no crs member): refused as 'gzip-compressed ... give /vsigzip/...', and
    that path (or the gunzipped .csv) of a one-line part then said 'the file has no
    geometries' (GDAL's CSV driver took it); now the .csv.gz, its /vsigzip/ path and the .csv
    burn the footprints where they lie."""
    import gzip

    from pyproj import Transformer

    to_ll = Transformer.from_crs(UTM_CRS, "EPSG:4326", always_xy=True)
    wide = shapely.box(X0 + 1, Y0 - 3, X0 + 7, Y0 - 1)  # 6 x 2 m: swapped axes show
    lonlat = shapely.transform(wide, lambda xy: np.column_stack(to_ll.transform(*xy.T)))
    line = json.dumps({"type": "Feature", "geometry": shapely.geometry.mapping(lonlat),
                       "properties": {"height": -1, "confidence": -1}})
    packed = tmp_path / "part-00000.csv.gz"
    text = [line, line.replace("-1", "-1.0")][:lines]
    packed.write_bytes(gzip.compress("".join(f"{t}\n" for t in text).encode()))
    plain = tmp_path / "part-00000.csv"
    plain.write_bytes(gzip.decompress(packed.read_bytes()))
    image = make_raster("img.tif", np.zeros((20, 20), np.uint8))
    for number, source in enumerate((packed, f"/vsigzip/{packed}", plain)):
        out = tmp_path / f"m{number}.tif"
        result = run_cli("make-masks", source, image, "-o", out)
        assert result.exit_code == 0, result.output
        with rasterio.open(out) as src:
            mask = src.read(1)
        assert np.count_nonzero(mask) == 48 and (mask[2:6, 2:14] == 1).all()


@pytest.mark.parametrize("lines", [3, 1])
def test_footprints_gz_with_a_byte_order_mark_keeps_its_first_feature(run_cli, make_raster,
                                                                      tmp_path, lines):
    """A .csv.gz of GeoJSON lines saved with a UTF-8 byte-order mark: GDAL's GeoJSONSeq
    reader dropped its first feature (3 footprints burnt as 2), and a one-footprint part was
    refused as no vector data; now every footprint is burnt."""
    import gzip

    image = make_raster("img.tif", np.zeros((20, 20), np.uint8))
    text = "".join(json.dumps({"type": "Feature", "properties": {}, "geometry":
                              shapely.geometry.mapping(shapely.box(X0 + 1 + 3 * i, Y0 - 3,
                                                                   X0 + 3 + 3 * i, Y0 - 1))})
                   + "\n" for i in range(lines))
    packed = tmp_path / "part.csv.gz"
    packed.write_bytes(gzip.compress(b"\xef\xbb\xbf" + text.encode()))
    result = run_cli("make-masks", packed, image, "-o", tmp_path / "m.tif",
                     "--labels-crs", UTM_CRS)
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "m.tif") as src:
        assert np.count_nonzero(src.read(1)) == 16 * lines


@pytest.mark.parametrize("content", [bytes(range(256)) * 8, b"hello world\nfoo bar\n"])
def test_gzip_of_no_vector_data_is_refused_in_one_line(run_cli, image, tmp_path, content):
    """A gzip file holding no vector data (binary noise, plain text): 'not vector data GDAL
    can read ('utf-8' codec can't decode byte ...)' after the advice to read it as
    /vsigzip/; now one line says the gzip's content is no vector data."""
    import gzip

    packed = tmp_path / "labels.csv.gz"
    packed.write_bytes(gzip.compress(content))
    result = run_cli("make-masks", packed, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "labels.csv.gz", "gzip", "not vector data")
    assert "codec" not in result.output and "/vsigzip/" not in result.output
    assert not (tmp_path / "m.tif").exists()


# --- item: an ArcGIS Shapefile in Windows-1252 without a .cpg ---------------------------------

@pytest.mark.parametrize("cpg", [None, "UTF-8"])
def test_windows_1252_shapefile_keeps_dashes_and_ligatures(run_cli, image, tmp_path, cpg):
    """A .dbf written by ArcGIS on Windows (code page 1252) with no .cpg, or a wrong UTF-8
    one, was read as Latin-1: 'Wald – Laub' and 'Œuvre' reached the mask tags as
    'Wald \\x96 Laub' and '\\x8cuvre' (C1 control characters; printed 'Wald  Laub', 'uvre'),
    and a --class-map naming them failed to match."""
    frame = gpd.GeoDataFrame({"klasse": ["Wald – Laub", "Œuvre", "Gebäude"]},
                             geometry=[box(1, 1, 3), box(5, 1, 3), box(9, 1, 3)], crs=UTM_CRS)
    path = tmp_path / "arcgis.shp"
    frame.to_file(path, encoding="cp1252")
    path.with_suffix(".cpg").unlink()
    if cpg:
        path.with_suffix(".cpg").write_text(cpg)
    assert list(read_labels(path).fields["klasse"]) == ["Wald – Laub", "Œuvre", "Gebäude"]
    class_map = tmp_path / "classes.json"
    class_map.write_text(json.dumps({"Wald – Laub": 1, "Œuvre": 2, "Gebäude": 3}),
                         encoding="utf-8")
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", path, image, "-o", out, "--class-field", "klasse",
                     "--class-map", class_map, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["classes"] == ["background", "Wald – Laub", "Œuvre",
                                                    "Gebäude"]
    mask = mask_of(out)
    assert (mask[2:8, 2:8] == 1).all() and (mask[2:8, 10:16] == 2).all()
    assert (mask[2:8, 18:20] == 3).all()


# --- item: a UTF-8 Shapefile without its .cpg ------------------------------------------------

def test_utf8_shapefile_without_cpg_keeps_its_accents(run_cli, image, tmp_path):
    """A .dbf in UTF-8 whose .cpg was left behind (copied without it, old ogr2ogr, QGIS
    on Linux) was read as Latin-1: 'Straße' became 'StraÃ\u0178e' in the mask tags, and a
    --class-map naming 'Straße' was refused ("class 'StraÃ\u0178e' ... is not in the class
    map")."""
    frame = gpd.GeoDataFrame({"klasse": ["Straße", "Gebäude", "Wald"]},
                             geometry=[box(1, 1, 3), box(5, 1, 3), box(9, 1, 3)], crs=UTM_CRS)
    path = tmp_path / "utf8.shp"
    frame.to_file(path, encoding="utf-8")
    path.with_suffix(".cpg").unlink()
    assert "Straße".encode() in path.with_suffix(".dbf").read_bytes()
    assert list(read_labels(path).fields["klasse"]) == ["Straße", "Gebäude", "Wald"]
    class_map = tmp_path / "classes.json"
    class_map.write_text(json.dumps({"Straße": 4, "Gebäude": 5, "Wald": 6}), encoding="utf-8")
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", path, image, "-o", out, "--class-field", "klasse",
                     "--class-map", class_map, "--json")
    assert result.exit_code == 0, result.output
    mask = mask_of(out)
    assert (mask[2:8, 2:8] == 4).all() and (mask[2:8, 10:16] == 5).all()
    assert (mask[2:8, 18:20] == 6).all()



@pytest.mark.parametrize("cpg", ["LDID/87", None])
def test_latin1_shapefile_declared_by_its_cpg_is_not_read_as_utf8(image, tmp_path, cpg):
    """A .dbf whose .cpg says LDID/87 (ArcGIS' ANSI code page) holding 'Ã©cole', Latin-1
    bytes that are also valid UTF-8, was decoded as UTF-8 ('école'): a guess for a .dbf
    without its .cpg only, now made there only. ASCII text reads alike either way."""
    frame = gpd.GeoDataFrame({"klasse": ["Ã©cole", "Wald"]},
                             geometry=[box(1, 1, 3), box(5, 1, 3)], crs=UTM_CRS)
    path = tmp_path / "ansi.shp"
    frame.to_file(path, encoding="cp1252")
    path.with_suffix(".cpg").unlink()
    if cpg:
        path.with_suffix(".cpg").write_text(cpg)
    expected = ["Ã©cole", "Wald"] if cpg else ["école", "Wald"]
    assert list(read_labels(path).fields["klasse"]) == expected

# --- item: drone digitising in PolygonZM ------------------------------------------------------

@pytest.mark.parametrize("annotations", ["yolo", "coco"])
def test_polygon_zm_labels_are_read_flat(run_cli, image, tmp_path, annotations):
    """A GeoPackage of PolygonZM footprints (digitised on a drone survey: heights and
    measures) crashed tile --labels --annotations yolo ("ValueError: operands could not be
    broadcast together with shapes (4,4) (2,)") and wrote COCO segmentations of
    [x, y, NaN, NaN] per vertex: moved to patch pixels, the Z and M became NaN."""
    from pyogrio.raw import write

    zm = shapely.from_wkt(f"POLYGON ZM(({X0 + 1} {Y0 - 1} 5 1, {X0 + 5} {Y0 - 1} 5 1, "
                          f"{X0 + 5} {Y0 - 5} 5 1, {X0 + 1} {Y0 - 5} 5 1, {X0 + 1} {Y0 - 1} 5 1))")
    path = tmp_path / "drone.gpkg"
    write(path, np.array([shapely.to_wkb(zm, flavor="iso", output_dimension=4)], dtype=object),
          [np.array(["roof"], dtype=object)], ["kind"], geometry_type="Unknown", crs=UTM_CRS)
    out = tmp_path / "tiles"
    result = run_cli("tile", image, "-o", out, "--size", "20", "--labels", path,
                     "--annotations", annotations)
    assert result.exit_code == 0, result.output
    if annotations == "yolo":
        [line] = (out / "labels" / "img_0_0.txt").read_text().splitlines()
        assert sorted(set(line.split()[1:])) == ["0.100000", "0.500000"]
    else:
        [found] = json.loads((out / "annotations.json").read_text())["annotations"]
        assert sorted(set(found["segmentation"][0])) == [2.0, 10.0]
        assert found["area"] == 64.0


@pytest.mark.parametrize("encoding", ["cp1252", "utf-16"])
def test_a_class_map_saved_by_windows_tools_is_read(run_cli, image, tmp_path, encoding):
    """A --class-map saved as 'ANSI' (Notepad, Excel: Windows-1252) or UTF-16 (PowerShell's
    `>`) was refused as 'not a JSON object of class names to ids', though it is one."""
    frame = gpd.GeoDataFrame({"kind": ["Gebäude", "Straße"]},
                             geometry=[box(1, 1, 3), box(5, 1, 3)], crs=UTM_CRS)
    frame.to_file(tmp_path / "l.gpkg")
    class_map = tmp_path / "classes.json"
    class_map.write_bytes(json.dumps({"Straße": 1, "Gebäude": 2}, ensure_ascii=False)
                          .encode(encoding))
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", tmp_path / "l.gpkg", image, "-o", out, "--class-field",
                     "kind", "--class-map", class_map, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["classes"] == ["background", "Straße", "Gebäude"]
    mask = mask_of(out)
    assert (mask[2:8, 2:8] == 2).all() and (mask[2:8, 10:16] == 1).all()


def test_a_shapefile_without_its_shx_says_so(run_cli, image, tmp_path):
    """A Shapefile sent without its .shx was refused as 'not vector data GDAL can read
    (Unable to open ... .shx ...). Give GeoJSON, GeoPackage, Shapefile or GeoParquet.':
    it is a Shapefile, whose index can be rebuilt."""
    path = tmp_path / "roofs.shp"
    gpd.GeoDataFrame(geometry=[box(1, 1, 3)], crs=UTM_CRS).to_file(path)
    path.with_suffix(".shx").unlink()
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", path, image, "-o", out)
    assert_one_line_error(result, "roofs.shp", "roofs.shx", "missing",
                          "ogrinfo --config SHAPE_RESTORE_SHX YES")
    assert "Give GeoJSON" not in result.stderr and not out.exists()


# --- item: OpenStreetMap downloads that are no GDAL vector format -----------------------------

def test_overpass_json_names_itself_and_the_conversion(run_cli, image, tmp_path):
    """Overpass API JSON ({"elements": [nodes, ways]}, as overpass-turbo exports it) was
    refused as "not vector data GDAL can read (a GeoJSON object of type None holds no
    features)": the line says what it is and how to convert it."""
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"version": 0.6, "generator": "Overpass API", "elements": [
        {"type": "node", "id": 1, "lat": 41.88, "lon": -87.63},
        {"type": "node", "id": 2, "lat": 41.88, "lon": -87.62},
        {"type": "way", "id": 3, "nodes": [1, 2], "tags": {"highway": "residential"}}]}))
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", path, image, "-o", out, "--line-width", 4)
    assert_one_line_error(result, "export.json", "Overpass", "osmtogeojson", "out:xml")
    assert "GeoJSON object of type None" not in result.stderr
    assert not out.exists()


def test_graphml_names_itself_and_the_conversion(run_cli, image, tmp_path):
    """An osmnx GraphML file (ox.save_graphml) was refused with GDAL's 'not recognized as
    being in a supported file format ... prefixing the file path with <DRIVER>:' advice,
    which does not apply: the line says what it is and how osmnx saves its lines."""
    path = tmp_path / "roads.graphml"
    path.write_text('<?xml version="1.0" encoding="utf-8"?>\n<graphml xmlns='
                    '"http://graphml.graphdrawing.org/xmlns"><graph edgedefault="directed">'
                    '<node id="1"/></graph></graphml>\n')
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", path, image, "-o", out, "--line-width", 4)
    assert_one_line_error(result, "roads.graphml", "GraphML", "save_graph_geopackage",
                          "edges")
    assert "DRIVER" not in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("name", ["berlin-latest.osm.bz2", "roads.geojson.bz2"])
def test_a_bzip2_download_names_itself_and_how_to_unpack_it(run_cli, image, tmp_path, name):
    """Geofabrik's and the planet's .osm.bz2 (bzip2-compressed OSM XML) was refused "not
    vector data GDAL can read (... not recognized as being in a supported file format.; It
    might help to specify the correct driver ... '<DRIVER>:' ...). Give GeoJSON, ...": GDAL
    reads gzip, not bzip2. Now the line says so and names the unpacked file to give."""
    import bz2

    path = tmp_path / name
    path.write_bytes(bz2.compress(b'<?xml version="1.0"?>\n<osm version="0.6"></osm>\n'))
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", path, image, "-o", out, "--layer", "multipolygons")
    assert_one_line_error(result, name, "bzip2", f"bunzip2 -k {path}",
                          name.removesuffix(".bz2"))
    assert "DRIVER" not in result.stderr
    assert not out.exists()


def test_a_file_geodatabase_whose_spatial_index_misses_the_image_is_burnt_whole(
        run_cli, make_raster, tmp_path):
    """A File Geodatabase whose .spx spatial index does not match its features (as GDAL 3.6's
    ogr2ogr -f OpenFileGDB writes it for newer GDAL, or a stale one from ArcGIS) found no
    feature near the image through the index: an all-zero mask, exit 0, though the warning
    itself showed the labels' extent covering the image; now its features are read past the
    index and burnt."""
    import glob
    import shutil

    from rasterio.features import rasterize

    image = make_raster("img.tif", np.zeros((20, 20), np.uint8))
    inside = [box(0.5, 0.5, 3), box(5, 5, 4), box(0.5, 6), box(6, 0.5, 3)]
    here = gpd.GeoDataFrame(geometry=[*inside, box(40, 40, 3)], crs=UTM_CRS)  # one off it
    here.to_file(tmp_path / "b.gdb", driver="OpenFileGDB", layer="buildings")
    elsewhere = here.set_geometry(here.geometry.translate(5000, 5000))
    elsewhere.to_file(tmp_path / "stale.gdb", driver="OpenFileGDB", layer="buildings")
    [index] = glob.glob(str(tmp_path / "stale.gdb" / "*.spx"))
    shutil.copy(index, tmp_path / "b.gdb")  # the index of features 5 km away
    result = run_cli("make-masks", tmp_path / "b.gdb", image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    expected = rasterize(
        inside, out_shape=(20, 20),
        transform=rasterio.transform.from_origin(X0, Y0, 0.5, 0.5))
    assert np.count_nonzero(expected) == 36 + 64 + 16 + 36
    np.testing.assert_array_equal(mask_of(tmp_path / "m.tif"), expected)


@pytest.mark.parametrize("field", ["names", "sources"])
def test_a_nested_class_field_is_refused_naming_the_field(run_cli, image, tmp_path, field):
    """Overture's buildings GeoParquet has nested columns (names: a struct, sources: a list
    of structs): --class-field names said 'not vector data GDAL can read (unhashable type:
    'dict')', and the same GeoJSON properties (objects, arrays) became classes named by
    Python's repr ("{'primary': 'Town hall'}"), burnt with exit 0; now both are refused in
    one line naming the field, nothing written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = [{"primary": "Town hall"}, {"primary": "Depot"}]
    sources = [[{"dataset": "OpenStreetMap"}], [{"dataset": "Microsoft ML Buildings"}]]
    frame = gpd.GeoDataFrame({"names": names, "sources": sources, "class": ["civic", "shed"]},
                             geometry=[box(1, 1, 3), box(5, 1, 3)], crs=UTM_CRS)
    frame.to_crs("EPSG:4326").to_file(tmp_path / "b.geojson")
    table = pa.table({"names": pa.array(names), "sources": pa.array(sources),
                      "class": ["civic", "shed"]})
    table = table.append_column("geometry", pa.array(
        shapely.to_wkb(frame.to_crs("OGC:CRS84").geometry.values).tolist(), pa.binary()))
    geo = {"version": "1.1.0", "primary_column": "geometry",
           "columns": {"geometry": {"encoding": "WKB", "geometry_types": ["Polygon"]}}}
    pq.write_table(table.replace_schema_metadata({b"geo": json.dumps(geo)}),
                   tmp_path / "b.parquet")
    for name in ("b.parquet", "b.geojson"):
        out = tmp_path / "m.tif"
        result = run_cli("make-masks", tmp_path / name, image, "-o", out, "--class-field",
                         field)
        assert_one_line_error(result, name, f"field {field!r}", "nested")
        assert not out.exists()
        result = run_cli("tile", image, "--labels", tmp_path / name, "--annotations", "coco",
                         "--class-field", field, "--size", "10", "-o", tmp_path / "t")
        assert_one_line_error(result, name, f"field {field!r}", "nested")
        assert not (tmp_path / "t").exists()
    result = run_cli("make-masks", tmp_path / "b.parquet", image, "-o", tmp_path / "m.tif",
                     "--class-field", "class", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["classes"] == ["background", "civic", "shed"]


def test_a_class_map_naming_no_value_takes_null_values_too(run_cli, image, tmp_path):
    """SpaceNet 8's annotations mark flooded buildings and roads 'flooded': 'yes' and leave
    the others null: --class-field flooded was refused (2 features have no value) even with
    a --class-map naming "" (no value), which took empty text only, so flood classes needed
    two runs. A map naming "" takes null values too (as a Shapefile stores them: empty);
    without it they are still refused, the message naming that way."""
    path = tmp_path / "0_15_63.geojson"
    gpd.GeoDataFrame({"flooded": ["yes", None, None], "building": ["yes", "yes", None]},
                     geometry=[box(0, 0), box(4, 0), box(0, 4)], crs=UTM_CRS).to_file(path)
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", path, image, "-o", out, "--class-field", "flooded")
    assert_one_line_error(result, "0_15_63.geojson", "2 features have no 'flooded' value",
                          'give "" an id in the --class-map')
    assert not out.exists()
    class_map = tmp_path / "flood.json"
    class_map.write_text(json.dumps({"": 1, "yes": 2}))
    result = run_cli("make-masks", path, image, "-o", out, "--class-field", "flooded",
                     "--class-map", class_map, "--json")
    assert result.exit_code == 0, result.output
    mask = mask_of(out)
    assert (mask[1, 1], mask[1, 9], mask[9, 1]) == (2, 1, 1)
    assert np.count_nonzero(mask == 2) == 16 and np.count_nonzero(mask == 1) == 32


def test_openstreetmap_building_no_is_named_apart_from_the_buildings(
        run_cli, make_raster, tmp_path):
    """A closed way tagged building=no (OSM: 'this is not a building', a carport roof or a
    ruin's outline) was burnt as a building beside the buildings without a word, and the
    advised --where "building IS NOT NULL" kept it. Now the warning counts it apart and its
    --where leaves it out: with it, the building alone is burnt."""
    square = [(X0 + 1, Y0 - 1), (X0 + 4, Y0 - 1), (X0 + 4, Y0 - 4), (X0 + 1, Y0 - 4),
              (X0 + 1, Y0 - 1)]
    roof = [(x + 5, y - 5) for x, y in square]
    osm = tmp_path / "town.osm"
    _osm_extract(osm, [({"building": "yes"}, [square]), ({"building": "no"}, [roof])])
    image = make_raster("img.tif", np.zeros((20, 20), np.uint8))
    result = run_cli("make-masks", osm, image, "-o", tmp_path / "all.tif", "--layer",
                     "multipolygons")
    assert result.exit_code == 0, result.output
    assert "several kinds (building 1, building=no 1)" in result.stderr, result.stderr
    where = "building IS NOT NULL AND building <> 'no'"
    assert f'--where "{where}"' in result.stderr, result.stderr
    chosen = run_cli("make-masks", osm, image, "-o", tmp_path / "m.tif", "--layer",
                     "multipolygons", "--where", where)
    assert chosen.exit_code == 0, chosen.output
    expected = rasterio.features.rasterize(
        [(shapely.Polygon(square), 1)], out_shape=(20, 20),
        transform=rasterio.transform.from_origin(X0, Y0, 0.5, 0.5))
    with rasterio.open(tmp_path / "m.tif") as src:
        np.testing.assert_array_equal(src.read(1), expected)
    assert expected.sum() == 36
