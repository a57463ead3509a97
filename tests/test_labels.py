"""labels.py: the GeoJSON reader (no pandas), the OGR and GeoParquet readers, CRSs, fields."""

from __future__ import annotations

import json
import subprocess
import sys

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely

from geotile.errors import InputError
from geotile.label_set import select_bounds, to_crs
from geotile.labels import read_labels

from .conftest import UTM_CRS, UTM_ORIGIN, assert_one_line_error

X0, Y0 = UTM_ORIGIN


def squares(n: int):
    return [shapely.box(X0 + 20 * i, Y0 - 10, X0 + 20 * i + 10, Y0) for i in range(n)]


def feature(geometry, **properties):
    return {"type": "Feature", "properties": properties,
            "geometry": None if geometry is None else json.loads(shapely.to_geojson(geometry))}


def write_geojson(path, features, crs_name: str | None = "urn:ogc:def:crs:EPSG::32616"):
    document = {"type": "FeatureCollection", "features": features}
    if crs_name:
        document["crs"] = {"type": "name", "properties": {"name": crs_name}}
    path.write_text(json.dumps(document))
    return path


def test_geojson_matches_the_ogr_reader(tmp_path):
    frame = gpd.GeoDataFrame({"kind": ["house", "shed", "house"], "storeys": [1, 2, 3],
                              "height": [3.5, np.nan, 9.0]}, geometry=squares(3), crs=UTM_CRS)
    frame.to_file(tmp_path / "l.geojson")
    frame.to_file(tmp_path / "l.gpkg")
    frame.to_parquet(tmp_path / "l.parquet")
    readings = [read_labels(tmp_path / f"l.{ext}") for ext in ("geojson", "gpkg", "parquet")]
    for labels in readings:
        assert labels.crs.to_epsg() == 32616
        assert all(a.equals(b) for a, b in zip(labels.geometries, squares(3), strict=True))
        assert list(labels.fields["kind"]) == ["house", "shed", "house"]
        assert labels.fields["storeys"].dtype == np.int64
        np.testing.assert_array_equal(labels.fields["height"], [3.5, np.nan, 9.0])
    assert readings[0].to_frame().crs == frame.crs


def test_null_geometries_keep_their_rows(tmp_path):
    geometries = squares(3)
    path = write_geojson(tmp_path / "l.geojson", [feature(geometries[0], id=1),
                                                  feature(None, id=2),
                                                  feature(geometries[2], id=3)])
    labels = read_labels(path)
    assert labels.geometries[1] is None
    assert labels.geometries[2].equals(geometries[2])
    assert list(labels.fields["id"]) == [1, 2, 3]


def test_feature_geometry_and_legacy_crs_members(tmp_path):
    square = squares(1)[0]
    one = tmp_path / "one.geojson"
    one.write_text(json.dumps({**feature(square, name="a"),
                               "crs": {"type": "EPSG", "properties": {"code": 32616}}}))
    labels = read_labels(one)
    assert labels.crs.to_epsg() == 32616 and labels.geometries[0].equals(square)
    bare = tmp_path / "bare.geojson"
    bare.write_text(shapely.to_geojson(shapely.box(10, 50, 10.001, 50.001)))
    labels = read_labels(bare)
    assert labels.crs.to_epsg() == 4326  # RFC 7946: lon/lat without a crs member
    assert len(labels) == 1 and labels.fields == {}


@pytest.mark.parametrize(("member", "message"), [
    ({"type": "link", "properties": {"href": "http://example.com/crs/32616", "type": "proj4"}},
     "crs member is a link (http://example.com/crs/32616)"),
    ({"type": "name", "properties": {"name": "urn:example:nothing"}}, "names no CRS GDAL knows"),
    ({"type": "name", "properties": {}}, "names no CRS"),
])
@pytest.mark.parametrize("streamed", [False, True])
def test_a_crs_member_naming_no_crs_gives_way_to_labels_crs(tmp_path, make_raster, run_cli,
                                                            monkeypatch, member, message,
                                                            streamed):
    """A GeoJSON 2008 crs member that is a link (or names nothing GDAL knows) was refused as
    'not vector data GDAL can read ... Give GeoJSON', even with --labels-crs, the fix its
    --help gives for a file declaring a wrong CRS."""
    import geotile.labels as labels_module

    if streamed:
        monkeypatch.setattr(labels_module, "STREAM_BYTES", 0)
    path = tmp_path / "l.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "crs": member,
                                "features": [feature(squares(1)[0], c=1)]}))
    image = make_raster("img.tif", np.zeros((40, 40), np.uint8))
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", path, image, "-o", out)
    assert_one_line_error(result, "l.geojson: the GeoJSON crs member", message,
                          "--labels-crs EPSG:xxxx")
    assert not out.exists()
    result = run_cli("make-masks", path, image, "-o", out, "--labels-crs", UTM_CRS)
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as src:
        mask = src.read(1)
    assert mask.sum() == 400 and mask[:20, :20].all()


@pytest.mark.parametrize("near_images", [False, True])
def test_parquet_without_geoparquet_metadata_is_one_clear_line(tmp_path, make_raster, run_cli,
                                                               monkeypatch, near_images):
    """A Parquet file of WKB geometries without the 'geo' metadata (as pyarrow or DuckDB
    write one) was refused as "not vector data GDAL can read (b'geo')". Its 'geometry'
    column is read as lon/lat (Overture's CRS): UTM coordinates are refused naming
    --labels-crs and the image's CRS; a WKB column of another name names those it takes."""
    import pyarrow.parquet as pq

    import geotile.labels as labels_module

    gpd.GeoDataFrame(geometry=squares(1), crs=UTM_CRS).to_parquet(tmp_path / "geo.parquet")
    table = pq.read_table(tmp_path / "geo.parquet")  # a plain BLOB, as DuckDB copies it:
    table = table.cast(table.schema.set(0, table.schema.field(0).with_metadata(None)))
    pq.write_table(table.replace_schema_metadata(None), tmp_path / "wkb.parquet")
    if not near_images:  # read whole, not through the images' boxes
        monkeypatch.setattr(labels_module, "image_regions", lambda *a, **k: None)
    image = make_raster("img.tif", np.zeros((20, 20), np.uint8))
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", tmp_path / "wkb.parquet", image, "-o", out)
    assert_one_line_error(result, "wkb.parquet: coordinates like (740000, 3734990) are not "
                          "longitude/latitude", "without GeoParquet metadata",
                          "--labels-crs EPSG:32616")
    assert "b'geo'" not in result.stderr and not out.exists()
    pq.write_table(table.rename_columns(["shape"]).replace_schema_metadata(None),
                   tmp_path / "shape.parquet")
    result = run_cli("make-masks", tmp_path / "shape.parquet", image, "-o", out)
    assert_one_line_error(result, "shape.parquet: a Parquet file without GeoParquet metadata",
                          "nor a WKB column named geometry or geom", "GeoDataFrame.to_parquet")
    assert not out.exists()


def test_labels_crs_overrides_and_reprojection_is_exact(tmp_path):
    lonlat = gpd.GeoDataFrame(geometry=squares(2), crs=UTM_CRS).to_crs("EPSG:4326")
    lonlat.to_file(tmp_path / "ll.geojson")
    labels = read_labels(tmp_path / "ll.geojson")
    back = to_crs(labels, UTM_CRS, "ll.geojson")
    expected = lonlat.to_crs(UTM_CRS).geometry.values
    assert all(a.equals_exact(b, 0) for a, b in zip(back.geometries, expected, strict=True))
    with pytest.raises(InputError, match="--labels-crs 'EPSG:99999' is not a CRS"):
        read_labels(tmp_path / "ll.geojson", "EPSG:99999")


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg"])
def test_read_labels_warns_of_projected_coordinates_declared_lonlat(tmp_path, suffix):
    """UTM metres in a file declaring EPSG:4326 (GeoJSON's default) came back as a Labels in
    EPSG:4326 bounded by (740000, 3734990, ...) without a word (make_masks refuses them).
    read_labels warns in one line naming labels_crs=, which reads them in their CRS."""
    import warnings

    from geotile.errors import GeotileWarning

    path = tmp_path / f"metres{suffix}"
    gpd.GeoDataFrame(geometry=squares(2), crs="EPSG:4326").to_file(path)
    with pytest.warns(GeotileWarning) as caught:
        read_labels(path)
    message = str(caught[0].message)
    assert "\n" not in message and message.startswith(
        f"{path}: coordinates like ({X0:.0f}, {Y0 - 10:.0f}) are not longitude/latitude")
    assert "Pass labels_crs= with the CRS" in message
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        labels = read_labels(path, UTM_CRS)
        lonlat = gpd.GeoDataFrame(geometry=squares(2), crs=UTM_CRS).to_crs("EPSG:4326")
        lonlat.to_file(tmp_path / f"ll{suffix}")
        assert read_labels(tmp_path / f"ll{suffix}").crs.is_geographic  # true degrees: quiet
    assert labels.crs == rasterio.crs.CRS.from_user_input(UTM_CRS)
    assert labels.total_bounds.tolist() == [X0, Y0 - 10, X0 + 30, Y0]


def test_select_bounds_keeps_file_order(tmp_path):
    path = write_geojson(tmp_path / "l.geojson",
                         [feature(g, n=i) for i, g in enumerate(squares(5))][::-1])
    labels = read_labels(path)
    chosen = select_bounds(labels, (X0 + 15, Y0 - 5, X0 + 65, Y0))
    assert list(chosen.fields["n"]) == [3, 2, 1]


@pytest.mark.parametrize(("text", "message"), [
    ("not json", "not vector data"),
    ('{"type": "FeatureCollection", "features": []}', "holds no features"),
    ('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, '
     '"geometry": null}]}', "no feature has a geometry"),
    ('{"type": "Topology"}', "not vector data"),
])
def test_bad_geojson_is_one_clear_error(tmp_path, text, message):
    path = tmp_path / "bad.geojson"
    path.write_text(text)
    with pytest.raises(InputError, match=f"bad.geojson: .*{message}"):
        read_labels(path)


def test_an_empty_feature_collection_makes_an_empty_mask(tmp_path, make_raster, run_cli):
    """SpaceNet ships one for every tile without buildings (a CRS84 crs member): make-masks
    writes the all-zero mask and says why; a per-tile loop does not stop there."""
    image = make_raster("img.tif", np.zeros((1, 20, 40), np.uint8))
    labels = tmp_path / "buildings_AOI_2_Vegas_img9.geojson"
    labels.write_text('{"type": "FeatureCollection", "crs": {"type": "name", "properties": '
                      '{"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}, "features": []}')
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    assert "holds no features" in result.stderr and "all zeros" in result.stderr
    with rasterio.open(tmp_path / "m.tif") as src:
        assert src.shape == (20, 40) and not src.read(1).any()


def test_make_masks_from_geojson_imports_no_pandas(tmp_path, make_raster):
    image = make_raster("img.tif", np.zeros((1, 20, 40), np.uint8))
    labels = write_geojson(tmp_path / "l.geojson", [feature(g) for g in squares(2)])
    code = ("import sys; from geotile.cli.main import main; sys.argv = ['geotile', "
            f"'make-masks', {str(labels)!r}, {str(image)!r}, '-o', "
            f"{str(tmp_path / 'm.tif')!r}]\ntry: main()\nexcept SystemExit: pass\n"
            "print(sorted(m for m in ('pandas', 'geopandas', 'pyogrio') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "m.tif").exists()


def test_repair_polygons_keeps_valid_ones_and_the_polygonal_part_of_others():
    from geotile.polygon_repair import repair_polygons

    square = shapely.box(0, 0, 2, 2)
    bowtie = shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])
    collapsed = shapely.Polygon([(0, 0), (1, 1), (2, 2), (0, 0)])
    mixed = shapely.GeometryCollection([square, shapely.LineString([(5, 5), (6, 6)])])
    empty_multi = shapely.MultiPolygon()
    repaired = repair_polygons(
        np.array([square, bowtie, collapsed, None, mixed, empty_multi], dtype=object))
    assert shapely.equals_exact(repaired[0], square, tolerance=0)
    assert repaired[1].geom_type == "MultiPolygon" and repaired[1].area == 2
    assert [g.wkt for g in repaired[[2, 3, 5]]] == ["POLYGON EMPTY"] * 3
    assert repaired[4].equals(square) and repaired[4].geom_type == "Polygon"
    assert shapely.is_valid(repaired).all()


def test_polygons_in_nested_geometry_collections_are_burnt(make_raster, tmp_path):
    """A footprint inside a GeometryCollection inside another (valid GeoJSON, which GDAL
    burns) was dropped without a word: 100 px missing, exit 0 (alone: 'no feature is a
    polygon')."""
    from rasterio.features import rasterize

    from geotile.masks import make_masks

    x0, y0 = UTM_ORIGIN
    inner = shapely.box(x0 + 2, y0 - 7, x0 + 7, y0 - 2)
    nested = shapely.GeometryCollection([shapely.GeometryCollection([
        inner, shapely.LineString([(x0, y0), (x0 + 1, y0 - 1)])])])
    plain = shapely.box(x0 + 12, y0 - 7, x0 + 17, y0 - 2)
    path = tmp_path / "gc.geojson"
    gpd.GeoDataFrame(geometry=[nested, plain], crs=UTM_CRS).to_file(path)
    image = make_raster("img.tif", np.zeros((40, 40), np.uint8))
    with pytest.warns(Warning):  # the line is left out, with a warning
        make_masks(path, [image], [tmp_path / "m.tif"])
    with rasterio.open(tmp_path / "m.tif") as src:
        mask, transform = src.read(1), src.transform
    expected = rasterize([(inner, 1), (plain, 1)], out_shape=(40, 40), transform=transform)
    assert np.count_nonzero(expected) == 200
    np.testing.assert_array_equal(mask, expected)


def test_repair_polygons_keeps_the_union_of_overlapping_parts():
    """A MultiPolygon whose parts overlap (footprints merged per building without a union)
    keeps the union, as gdal_rasterize burns it (make_valid alone XORed the overlap into a
    hole); each part is repaired as before (a bow-tie part stays its two triangles, a ring
    inside a hole an island: gdal_rasterize's even-odd fill of a part)."""
    from geotile.polygon_repair import repair_polygons

    overlapping = shapely.MultiPolygon([shapely.box(10, 10, 60, 60), shapely.box(40, 40, 90, 90)])
    bowtie = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])
    with_bowtie = shapely.MultiPolygon([bowtie, shapely.box(2, 0, 8, 10)])
    nested = shapely.Polygon(shapely.box(0, 0, 10, 10).exterior.coords,
                             [shapely.box(2, 2, 8, 8).exterior.coords,
                              shapely.box(3, 3, 7, 7).exterior.coords])
    repaired = repair_polygons(np.array([overlapping, bowtie, with_bowtie, nested], dtype=object))
    assert repaired[0].area == 4600 and repaired[0].contains(shapely.Point(50, 50))
    assert repaired[0].equals(shapely.union_all(shapely.get_parts(overlapping)))
    assert repaired[1].geom_type == "MultiPolygon" and repaired[1].area == 50  # as before
    assert repaired[2].area == 92  # the bow-tie's triangles united with the box
    assert repaired[3].area == 80  # as before: the innermost ring is an island
    assert shapely.is_valid(repaired).all()
