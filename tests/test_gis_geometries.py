"""Vector labels as GIS tools write them: arcs (CurvePolygon, CompoundCurve) at any depth,
measured geometries, empty and null features."""

from __future__ import annotations

import json
import sqlite3
import struct
import warnings

import geopandas as gpd
import numpy as np
import pyogrio
import pyogrio.raw
import pytest
import rasterio
import shapely
from rasterio.features import rasterize
from rasterio.transform import from_origin

from geotile.label_rasters import is_label_raster
from geotile.labels import read_labels

from .conftest import UTM_CRS, UTM_ORIGIN, assert_one_line_error

X0, Y0 = UTM_ORIGIN
SIZE = 40
GRID = from_origin(X0, Y0, 1, 1)  # 1 m pixels


def iso_wkb(kind: int, *members: bytes, points=None) -> bytes:
    """ISO WKB (little-endian) of geometry type ``kind``: ``points`` (x, y) of a curve or
    line, or ``members`` (rings of a polygon: :func:`ring`; parts of a collection)."""
    if points is not None:
        return struct.pack("<BII", 1, kind, len(points)) + b"".join(
            struct.pack("<dd", *p) for p in points)
    return struct.pack("<BII", 1, kind, len(members)) + b"".join(members)


def ring(points) -> bytes:
    """A linear ring of a Polygon's WKB."""
    return struct.pack("<I", len(points)) + b"".join(struct.pack("<dd", *p) for p in points)


def circle(cx: float, cy: float, radius: float) -> bytes:
    """A CurvePolygon (10) of one CircularString (8): the circle of ``radius`` about
    (X0 + cx, Y0 - cy)."""
    x, y = X0 + cx, Y0 - cy
    return iso_wkb(10, iso_wkb(8, points=[(x - radius, y), (x, y + radius), (x + radius, y),
                                          (x, y - radius), (x - radius, y)]))


def write_gpkg(path, wkbs: list[bytes], kind: str = "Unknown"):
    """A GeoPackage written by GDAL of ``wkbs`` (arcs kept) in UTM_CRS."""
    pyogrio.raw.write(path, geometry=np.array(wkbs, dtype=object), field_data=[], fields=[],
                      crs=UTM_CRS, geometry_type=kind, driver="GPKG")
    return path


@pytest.fixture
def image(make_raster):
    return make_raster("img.tif", np.zeros((SIZE, SIZE), np.uint8), transform=GRID)


def burnt(geometries) -> np.ndarray:
    """The pixels whose centre is in ``geometries`` on the image's grid (rasterio)."""
    return rasterize([(g, 1) for g in geometries], out_shape=(SIZE, SIZE),
                     transform=GRID, dtype="uint8")


@pytest.mark.parametrize("where", ["collection", "nested collection"])
def test_arcs_inside_a_geometry_collection_are_burnt_as_gdal_linearises_them(
        run_cli, image, tmp_path, where):
    """A CurvePolygon in a GeometryCollection (FME's and QGIS's 'Geometry' layers) reached
    GEOS as an arc, which it cannot handle: a traceback. It is burnt as GDAL linearises a
    CurvePolygon of its own, beside the collection's polygons."""
    disc = circle(20, 20, 10)
    square = shapely.box(X0 + 1, Y0 - 39, X0 + 5, Y0 - 35)
    corners = shapely.get_coordinates(square.exterior).tolist()
    line = iso_wkb(2, points=[(X0 + 1, Y0 - 1), (X0 + 3, Y0 - 1)])
    parts = [iso_wkb(7, disc, line), iso_wkb(3, ring(corners))] if where != "collection" \
        else [disc, iso_wkb(3, ring(corners))]
    labels = write_gpkg(tmp_path / "arcs.gpkg", [iso_wkb(7, *parts)], "GeometryCollection")
    alone = write_gpkg(tmp_path / "disc.gpkg", [disc])
    linear = pyogrio.read_dataframe(alone).geometry.iloc[0]  # GDAL's own linearisation
    assert shapely.get_type_id(linear) == 3 and len(shapely.get_coordinates(linear)) > 20
    expected = burnt([linear, square])
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "m.tif") as src:
        np.testing.assert_array_equal(src.read(1), expected)
    assert abs(int(expected.sum()) - 16 - np.pi * 10 ** 2) < 10  # a disc and 16 px
    [geometry] = read_labels(labels).geometries
    assert not shapely.get_type_id(shapely.get_parts(geometry)).max() > 7


@pytest.mark.parametrize("kind", ["measured", "empty member"])
def test_arcs_in_measured_collections_and_beside_empty_arcs_are_burnt(
        run_cli, image, tmp_path, kind):
    """A GeometryCollection M holding a CurvePolygon M (a survey's GeoPackage, GeoParquet)
    died with pyogrio's GeometryError traceback (shapely's WKB of XYM, not ISO, refused by
    GDAL); one holding a CURVEPOLYGON EMPTY beside its polygons, with a GEOSException
    traceback (GDAL hands the empty arc back as it is). Both are burnt as GDAL linearises
    the disc, the empty member leaving no pixel."""
    x, y = X0 + 20, Y0 - 20
    wkt = f"CURVEPOLYGON(CIRCULARSTRING({x - 10} {y}, {x + 10} {y}, {x - 10} {y}))"
    square = shapely.box(X0 + 1, Y0 - 39, X0 + 5, Y0 - 35)
    if kind == "measured":
        corners = ", ".join(f"{a} {b} 7" for a, b in square.exterior.coords)
        collection = (f"GEOMETRYCOLLECTION M(CURVEPOLYGON M(CIRCULARSTRING M({x - 10} {y} 7, "
                      f"{x + 10} {y} 7, {x - 10} {y} 7)), POLYGON M(({corners})))")
        collections = [collection]
    else:  # GDAL linearises a collection with an arc whole, and leaves one without as it is
        collections = [f"GEOMETRYCOLLECTION({wkt})",
                       f"GEOMETRYCOLLECTION(CURVEPOLYGON EMPTY, {square.wkt})"]
    geometries = shapely.from_wkt(collections)
    assert shapely.has_m(geometries).all() == (kind == "measured")
    labels = write_gpkg(tmp_path / "arcs.gpkg", shapely.to_wkb(geometries, flavor="iso",
                                                               output_dimension=4).tolist())
    parquet = tmp_path / "arcs.parquet"
    gpd.GeoDataFrame(geometry=geometries, crs=UTM_CRS).to_parquet(parquet)
    disc = write_gpkg(tmp_path / "disc.gpkg", [shapely.to_wkb(shapely.from_wkt(
        f"GEOMETRYCOLLECTION({wkt})"), flavor="iso")])
    [linear] = shapely.get_parts(read_labels(disc).geometries)
    assert shapely.get_type_id(linear) == 3 and len(shapely.get_coordinates(linear)) > 20
    expected = burnt([linear, square])
    assert expected.sum() > 300
    for path in (labels, parquet):
        result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif", "--overwrite")
        assert result.exit_code == 0, result.output
        with rasterio.open(tmp_path / "m.tif") as src:
            np.testing.assert_array_equal(src.read(1), expected)
        read = read_labels(path).geometries
        assert shapely.get_type_id(shapely.get_parts(read)).max() <= 3
        assert not shapely.has_m(read).any()


@pytest.mark.parametrize("driver", ["GPKG", "GeoJSON", "FlatGeobuf", "GeoParquet"])
def test_a_file_of_null_and_empty_geometries_only_is_refused_in_every_format(
        run_cli, image, tmp_path, driver):
    """A GeoPackage whose features are all NULL or POLYGON EMPTY (an export of attributes
    only) made an all-zero mask, exit 0, with a warning that its features, spanning
    (nan, nan, nan, nan), miss the image: the CRS may be wrong. It is refused as the same
    GeoJSON is."""
    suffix = {"GPKG": "gpkg", "GeoJSON": "geojson", "FlatGeobuf": "fgb"}.get(driver, "parquet")
    path = tmp_path / f"nothing.{suffix}"
    empty = iso_wkb(3)  # POLYGON EMPTY
    if driver == "GeoParquet":
        gpd.GeoDataFrame({"id": [1, 2, 3]}, geometry=[None, shapely.from_wkb(empty), None],
                         crs=UTM_CRS).to_parquet(path)
    else:
        pyogrio.raw.write(path, geometry=np.array([None, empty, None], dtype=object),
                          field_data=[np.array([1, 2, 3])], fields=["id"], crs=UTM_CRS,
                          geometry_type="Polygon", driver=driver,
                          **({"layer_options": {"SPATIAL_INDEX": "NO"}}  # nulls need none
                             if driver == "FlatGeobuf" else {}))
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, path.name, "no feature has a geometry")
    assert "nan" not in result.output
    assert not (tmp_path / "m.tif").exists()


@pytest.mark.parametrize(("driver", "kind"), [("ESRI Shapefile", "PolygonM"),
                                              ("GPKG", "PolygonZM"), ("GPKG", "LineStringZM")])
def test_measured_geometries_are_burnt_without_pyogrios_note_that_m_is_unsupported(
        run_cli, image, tmp_path, driver, kind):
    """Shapefiles PolygonM and PolygonZM or LineStringZM GeoPackages (surveys, linear
    referencing) were burnt right, under pyogrio's 'Warning: Measured (M) geometry types are
    not supported' naming no file: geotile drops M itself (as gdal_rasterize ignores it)."""
    corners = [(X0 + 5, Y0 - 30), (X0 + 30, Y0 - 30), (X0 + 30, Y0 - 5), (X0 + 5, Y0 - 5),
               (X0 + 5, Y0 - 30)]
    z, line = "Z" in kind, kind.startswith("Line")
    points = struct.pack("<I", 5) + b"".join(  # ISO M (2000 + type), ZM (3000 + type)
        struct.pack("<dddd" if z else "<ddd", x, y, *((7.5,) if z else ()), i)
        for i, (x, y) in enumerate(corners))
    wkb = struct.pack("<BI", 1, (3000 if z else 2000) + (2 if line else 3)) + \
        (points if line else struct.pack("<I", 1) + points)
    path = tmp_path / ("survey.shp" if driver == "ESRI Shapefile" else "survey.gpkg")
    pyogrio.raw.write(path, geometry=np.array([wkb], dtype=object), field_data=[], fields=[],
                      crs=UTM_CRS, geometry_type="Unknown", driver=driver)
    if driver == "GPKG":  # the layer's type declared as QGIS declares it (pyogrio writes
        with sqlite3.connect(path) as db:  # no M type)
            db.execute("UPDATE gpkg_geometry_columns SET geometry_type_name = ?, z = ?, m = 1",
                       ("LINESTRING" if line else "POLYGON", int(z)))
    with warnings.catch_warnings(record=True) as caught:  # each step that opens the file
        warnings.simplefilter("always")
        assert not is_label_raster(path)
        read_labels(path)
    assert not [w for w in caught if "Measured" in str(w.message)]
    width = ("--line-width", 3) if line else ()
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif", *width)
    assert result.exit_code == 0, result.output
    assert "Measured" not in result.output
    shape = shapely.LineString(corners).buffer(1.5) if line else shapely.Polygon(corners)
    with rasterio.open(tmp_path / "m.tif") as src:
        np.testing.assert_array_equal(src.read(1), burnt([shape]))


def test_evaluate_scores_a_measured_shapefile_without_pyogrios_note(run_cli, tmp_path):
    """A PolygonM Shapefile scored against itself: F1 1, and no 'Measured (M) geometry
    types are not supported' from each of pyogrio's looks at the file."""
    corners = [(X0 + 5, Y0 - 30), (X0 + 30, Y0 - 30), (X0 + 30, Y0 - 5), (X0 + 5, Y0 - 5),
               (X0 + 5, Y0 - 30)]
    wkb = struct.pack("<BII", 1, 2003, 1) + struct.pack("<I", 5) + b"".join(
        struct.pack("<ddd", x, y, i) for i, (x, y) in enumerate(corners))
    path = tmp_path / "survey.shp"
    pyogrio.raw.write(path, geometry=np.array([wkb], dtype=object), field_data=[], fields=[],
                      crs=UTM_CRS, geometry_type="Unknown", driver="ESRI Shapefile")
    result = run_cli("evaluate", path, path, "--json")
    assert result.exit_code == 0, result.output
    assert "Measured" not in result.output
    assert json.loads(result.stdout)["f1"] == 1.0


def test_evaluate_names_points_and_multipoints_left_out_once(run_cli, tmp_path):
    """A truth of footprints with a Point and a MultiPoint (trees digitised in the same
    layer) was warned of as '2 features are points, points, not polygons'."""
    square = shapely.box(X0 + 5, Y0 - 30, X0 + 30, Y0 - 5)
    path = tmp_path / "truth.gpkg"
    gpd.GeoDataFrame(geometry=[square, shapely.Point(X0 + 1, Y0 - 1),
                               shapely.MultiPoint([(X0 + 2, Y0 - 2), (X0 + 3, Y0 - 3)])],
                     crs=UTM_CRS).to_file(path)
    result = run_cli("evaluate", path, path, "--json")
    assert result.exit_code == 0, result.output
    assert "truth.gpkg: 2 features are points, not polygons, and are left out of the " \
        "object scores." in result.stderr
    assert json.loads(result.stdout)["f1"] == 1.0


@pytest.mark.parametrize("kind", ["POLYHEDRALSURFACE", "TIN", "TRIANGLE"])
def test_a_layer_of_3d_surfaces_is_refused_naming_the_conversion(run_cli, image, tmp_path,
                                                                 kind):
    """A layer of PolyhedralSurface, TIN or Triangle (3D building models: CityGML, an
    ArcGIS multipatch export) was refused as 'not vector data GDAL can read (Geometry type
    is not supported: 15)'; the line says what it holds and the ogr2ogr that makes it
    polygons."""
    path = tmp_path / "models.gpkg"
    corners = [(X0 + 5, Y0 - 30), (X0 + 30, Y0 - 30), (X0 + 30, Y0 - 5), (X0 + 5, Y0 - 30)]
    triangle = iso_wkb(17, ring(corners))
    wkb = {"TRIANGLE": triangle, "TIN": iso_wkb(16, triangle),
           "POLYHEDRALSURFACE": iso_wkb(15, iso_wkb(3, ring(corners)))}[kind]
    with warnings.catch_warnings():  # GDAL's note on registering their extension
        warnings.simplefilter("ignore", RuntimeWarning)
        pyogrio.raw.write(path, geometry=np.array([wkb], dtype=object),
                          field_data=[], fields=[], crs=UTM_CRS, geometry_type="Unknown",
                          driver="GPKG")
    with sqlite3.connect(path) as db:  # the layer's type, as GDAL writes such a layer
        db.execute("UPDATE gpkg_geometry_columns SET geometry_type_name = ?", (kind,))
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "models.gpkg", "3D surfaces",
                          f"ogr2ogr -nlt MULTIPOLYGON polygons.gpkg {path}")
    assert "not vector data GDAL can read" not in result.output
    assert not (tmp_path / "m.tif").exists()


def test_one_repaired_and_one_skipped_feature_are_each_said_in_the_singular(
        run_cli, image, tmp_path):
    """An unclosed ring and a TIN among a GeoPackage's footprints were warned of as '1
    feature ... were repaired' and '1 feature ... were skipped'; the square is burnt."""
    square = [(X0 + 5, Y0 - 30), (X0 + 30, Y0 - 30), (X0 + 30, Y0 - 5), (X0 + 5, Y0 - 5)]
    unclosed = iso_wkb(3, ring(square))
    tin = iso_wkb(16, iso_wkb(17, ring([*square[:3], square[0]])))
    path = tmp_path / "mixed.gpkg"
    with warnings.catch_warnings():  # GDAL's note on a ring left open
        warnings.simplefilter("ignore", RuntimeWarning)
        pyogrio.raw.write(path, geometry=np.array([unclosed, tin], dtype=object),
                          field_data=[], fields=[], crs=UTM_CRS, geometry_type="Unknown",
                          driver="GPKG")
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    assert "mixed.gpkg: 1 feature with geometry GEOS cannot read as it is (e.g. unclosed " \
        "rings) was repaired: FID 1." in result.stderr, result.stderr
    assert "mixed.gpkg: 1 feature with a geometry that cannot be read was skipped: FID 2." \
        in result.stderr, result.stderr
    with rasterio.open(tmp_path / "m.tif") as src:
        np.testing.assert_array_equal(src.read(1), burnt([shapely.Polygon(square)]))


def test_a_geoparquet_whose_primary_geometry_is_points_names_its_polygon_column(
        run_cli, image, tmp_path):
    """A GeoParquet of two geometry columns, its primary the footprints' centroids and
    'footprint' the polygons, was refused as 'no feature is a polygon. Give building
    footprints.'; the line names the column that holds them and how to make it the one."""
    polygons = [shapely.box(X0 + 5, Y0 - 20, X0 + 20, Y0 - 5),
                shapely.box(X0 + 25, Y0 - 35, X0 + 35, Y0 - 25)]
    frame = gpd.GeoDataFrame({"footprint": gpd.GeoSeries(polygons, crs=UTM_CRS)},
                             geometry=gpd.GeoSeries(shapely.centroid(polygons), crs=UTM_CRS))
    path = tmp_path / "two.parquet"
    frame.rename_geometry("centroid").to_parquet(path)
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "two.parquet", "'centroid' holds points", "'footprint'",
                          "SELECT footprint, * FROM two", "set_geometry('footprint')")
    assert not (tmp_path / "m.tif").exists()
    frame.set_geometry("footprint").to_parquet(path)  # the fix: burnt
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "m.tif") as src:
        np.testing.assert_array_equal(src.read(1), burnt(polygons))


def test_make_masks_help_says_what_becomes_of_points_arcs_and_measures(run_cli):
    """--help said nothing of points, arcs or Z/M among vector labels."""
    text = " ".join(run_cli("make-masks", "--help").output.split())
    assert "arcs (CurvePolygon, MultiSurface) linearised as GDAL does, Z and M ignored; " \
        "points, which have no area, are left out with a warning (a file of points only " \
        "is refused)" in text


def test_collections_without_arcs_are_looked_at_all_at_once(monkeypatch):
    """linearise looked for arcs in each GeometryCollection in turn (Python): 3 s more for
    a file of 100,000 collections with no arc (an FME export), which read in 1 s before.
    It lists their parts all at once, halves apart only where an arc is: a few dozen
    listings for 40,001 collections, not one each."""
    from geotile.curves import linearise

    x = np.arange(20_000) * 10.0 + X0
    plain = shapely.from_wkt([f"GEOMETRYCOLLECTION({g.wkt}, POINT({g.bounds[0]} {Y0}))"
                              for g in shapely.box(x, Y0, x + 1, Y0 + 1)])
    arc = shapely.from_wkt(f"GEOMETRYCOLLECTION(CURVEPOLYGON(CIRCULARSTRING({X0} {Y0}, "
                           f"{X0 + 2} {Y0}, {X0} {Y0})))")
    geometries = np.concatenate([plain, [arc], plain]).astype(object)
    expected = geometries.copy()
    listings = []
    get_parts = shapely.get_parts

    def counted(*args, **kwargs):
        listings.append(1)
        return get_parts(*args, **kwargs)

    monkeypatch.setattr(shapely, "get_parts", counted)
    linearise(geometries)
    monkeypatch.setattr(shapely, "get_parts", get_parts)
    assert len(listings) < 100, len(listings)
    assert shapely.get_type_id(shapely.get_parts(geometries[len(plain)])).tolist() == [3]
    assert shapely.equals_exact(np.delete(geometries, len(plain)),
                                np.delete(expected, len(plain)), 0).all()
