"""One CRS spelled two ways (a PROJ string's ellipsoid-only Albers that GDAL writes to
GeoPackage and Shapefile as EPSG:5070, an ESRI .prj, a compound CRS's horizontal part) is
one CRS: labels and predictions in it are not reprojected into the image's or the truth's,
vectorize's polygons come back on the pixel corners; two different CRSs (another datum,
lon_0, ellipsoid or unit) stay two, and rasters in an ellipsoid-only CRS stay apart from
an EPSG one (as GDAL warps them)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from pyproj import CRS as ProjCRS
from rasterio.crs import CRS
from rasterio.transform import from_origin

from geotile.crs_identity import one_crs

#: the reviewer's custom Albers: no datum, only an ellipsoid
ALBERS = ("+proj=aea +lat_1=29.5 +lat_2=45.5 +lat_0=23 +lon_0=-96 +x_0=0 +y_0=0 +ellps=GRS80 "
          "+units=m +no_defs")
ORIGIN = (1000000.0, 2000000.0)
#: LAEA Europe and NZTM without a datum: GDAL writes them to GeoPackage and Shapefile as
#: EPSG:3035 and EPSG:2193, whose axes are northing first
LAEA = "+proj=laea +lat_0=52 +lon_0=10 +x_0=4321000 +y_0=3210000 +ellps=GRS80 +units=m"
NZTM = ("+proj=tmerc +lat_0=0 +lon_0=173 +k=0.9996 +x_0=1600000 +y_0=10000000 +ellps=GRS80 "
        "+units=m")


def _boxes(n: int = 6, size: float = 30.0) -> list:
    """Fields on a 30 m grid, 3.6 km long: reprojected, their edges are split every km."""
    x0, y0 = ORIGIN
    return [shapely.box(x0 + (3 * i + 1) * size, y0 - (2 * i + 5) * size,
                        x0 + (3 * i + 121) * size, y0 - (2 * i + 1) * size) for i in range(n)]


def _coordinates(geometries) -> list:
    """Every vertex, rings in one orientation (a Shapefile turns them clockwise)."""
    return shapely.get_coordinates(shapely.normalize(np.asarray(geometries))).tolist()


def _written(tmp_path, name: str, crs) -> gpd.GeoDataFrame:
    """Boxes on the Albers grid written to ``name`` (by GDAL or geopandas) and read back."""
    path = tmp_path / name
    frame = gpd.GeoDataFrame({"class": ["building"] * 6}, geometry=_boxes(), crs=crs)
    if name.endswith(".parquet"):
        frame.to_parquet(path)
        return gpd.read_parquet(path)
    frame.to_file(path)
    return gpd.read_file(path)


@pytest.mark.parametrize("a,b", [
    (ALBERS, ProjCRS(ALBERS).to_wkt("WKT1_ESRI")),
    (ALBERS, ProjCRS(ALBERS).to_wkt()),  # WKT 2
    ("EPSG:32616+5773", "EPSG:32616"),  # heights apart
    ("EPSG:4326", "OGC:CRS84")])
def test_one_crs_spelled_two_ways_is_one(a, b):
    assert one_crs(CRS.from_user_input(a), CRS.from_user_input(b))
    # as geopandas holds it, read by GDAL (a .prj's ESRI names made EPSG's)
    assert one_crs(ProjCRS.from_wkt(CRS.from_user_input(b).to_wkt()), CRS.from_user_input(a))


@pytest.mark.parametrize("a,b", [
    (ALBERS, "EPSG:5070"),  # GDAL's GeoPackage/Shapefile spelling of it (NAD83)
    ("+proj=utm +zone=16 +ellps=WGS84 +units=m", "EPSG:32616"),
    ("+proj=utm +zone=16 +ellps=GRS80 +units=m", "EPSG:26916"),
    (LAEA, "EPSG:3035"),  # GDAL's spelling of it: ETRS89, northing first
    (NZTM, "EPSG:2193")])  # NZGD2000, northing first
def test_an_ellipsoid_only_crs_is_one_with_a_datum_of_that_ellipsoid_for_vectors(a, b):
    a, b = CRS.from_user_input(a), CRS.from_user_input(b)
    assert one_crs(a, b, ellipsoid_only=True) and one_crs(b, a, ellipsoid_only=True)
    assert not one_crs(a, b)  # rasters: GDAL warps one onto the other


@pytest.mark.parametrize("a,b", [
    (ALBERS, ALBERS.replace("-96", "-97")),  # another lon_0
    (ALBERS, ALBERS.replace("GRS80", "clrk66")),  # another ellipsoid
    (ALBERS, ALBERS.replace("+units=m", "+units=us-ft")),  # another unit
    (ALBERS.replace("+ellps=GRS80", "+datum=WGS84"), "EPSG:5070"),  # WGS 84 is not NAD83
    ("+proj=utm +zone=16 +ellps=GRS80 +units=m", "EPSG:32616"),  # GRS80 is not WGS 84's
    ("EPSG:26716", "EPSG:32616"),  # NAD27 / UTM 16N: another datum
    ("EPSG:4269", "EPSG:4326")])
def test_two_crss_stay_two(a, b):
    assert not one_crs(CRS.from_user_input(a), CRS.from_user_input(b), ellipsoid_only=True)
    assert not one_crs(None, CRS.from_user_input(b)) and one_crs(None, None)


@pytest.mark.parametrize("name", ["l.gpkg", "l.shp", "l.parquet"])
def test_labels_in_the_images_custom_crs_keep_their_coordinates(tmp_path, name):
    """Labels in the image's ellipsoid-only Albers, written to GeoPackage or Shapefile (read
    back as EPSG:5070): they were reprojected into the image's CRS, moving edges by
    5e-10 m (1000149.9999999995 for 1000150). Now they keep their coordinates bit for bit."""
    from geotile.label_set import to_crs
    from geotile.labels import read_labels

    _written(tmp_path, name, ProjCRS(ALBERS))
    labels = read_labels(tmp_path / name)
    moved = to_crs(labels, CRS.from_string(ALBERS), tmp_path / name)
    assert _coordinates(moved.geometries) == _coordinates(_boxes())
    assert one_crs(moved.crs, CRS.from_string(ALBERS))


@pytest.mark.parametrize("crs", [LAEA, NZTM])
def test_labels_in_the_images_crs_spelled_northing_first_keep_their_coordinates(tmp_path,
                                                                                crs):
    """Labels in the image's LAEA Europe (NZTM) without a datum, written to GeoPackage (read
    back as EPSG:3035, EPSG:2193: axes northing first) were reprojected into it, edges split
    every km and moved by round-off: one CRS but for the axis order, which GDAL and
    geopandas (x, y: easting first) never use. Now they keep their coordinates."""
    from geotile.label_set import to_crs
    from geotile.labels import read_labels

    _written(tmp_path, "l.gpkg", ProjCRS(crs))
    labels = read_labels(tmp_path / "l.gpkg")
    assert ProjCRS.from_wkt(labels.crs.to_wkt()).axis_info[0].direction == "north"
    moved = to_crs(labels, CRS.from_string(crs), "l.gpkg")
    assert _coordinates(moved.geometries) == _coordinates(_boxes())


@pytest.mark.parametrize("a,b", [("EPSG:3035", LAEA.replace("10 ", "10.001 ")),
                                 ("EPSG:2193", NZTM.replace("GRS80", "intl")),
                                 ("EPSG:2193", "EPSG:27200")])  # NZGD49 / NZ Map Grid
def test_northing_first_crss_that_differ_stay_two(a, b):
    assert not one_crs(CRS.from_user_input(a), CRS.from_user_input(b), ellipsoid_only=True)


def test_labels_in_another_datum_or_lon_0_are_still_reprojected(tmp_path):
    from geotile.label_set import to_crs
    from geotile.labels import read_labels

    for crs in ("EPSG:26916", ALBERS.replace("-96", "-96.001")):
        tmp = tmp_path / crs[-4:]
        tmp.mkdir()
        _written(tmp, "l.parquet", ProjCRS(crs))
        moved = to_crs(read_labels(tmp / "l.parquet"), CRS.from_string(ALBERS), "l")
        off = shapely.bounds(moved.geometries) - shapely.bounds(np.array(_boxes()))
        assert np.abs(off).max() > 1, crs  # 85 m for 0.001 degree of lon_0


@pytest.mark.parametrize("name", ["p.gpkg", "p.shp"])
def test_evaluate_keeps_predictions_in_the_truths_crs_spelled_otherwise(tmp_path, name):
    """Predictions written by GDAL (EPSG:5070) against truth in the custom Albers read from
    GeoParquet: the predictions were reprojected into it; now scored as they are."""
    from geotile.evaluation_crs import in_truth_crs, same_crs

    predicted = _written(tmp_path, name, ProjCRS(ALBERS))
    truth = _written(tmp_path, "t.parquet", ProjCRS(ALBERS))
    expected = _coordinates(_boxes())
    pred, true = same_crs(predicted, truth, name, "t.parquet")
    assert _coordinates(pred.geometry.values) == expected
    assert _coordinates(true.geometry.values) == expected
    moved = in_truth_crs(predicted.geometry, truth.geometry)
    assert _coordinates(moved.values) == expected


def test_evaluate_still_reprojects_another_lon_0(tmp_path):
    from geotile.evaluation_crs import same_crs

    predicted = _written(tmp_path, "p.parquet", ProjCRS(ALBERS.replace("-96", "-96.001")))
    truth = _written(tmp_path, "t.parquet", ProjCRS(ALBERS))
    pred, _ = same_crs(predicted, truth, "p.parquet", "t.parquet")
    off = shapely.bounds(pred.geometry.values) - shapely.bounds(np.array(_boxes()))
    assert np.abs(off).max() > 1


def _raster(path, crs, array=None):
    array = np.ones((1, 20, 20), np.uint8) if array is None else array
    with rasterio.open(path, "w", driver="GTiff", width=20, height=20, count=1,
                       dtype="uint8", crs=crs, transform=from_origin(*ORIGIN, 30, 30)) as dst:
        dst.write(array)
    return path


@pytest.mark.parametrize("mask_crs,same", [(ProjCRS(ALBERS).to_wkt("WKT1_ESRI"), True),
                                           (ProjCRS(ALBERS).to_wkt(), True),
                                           ("EPSG:5070", False),  # NAD83: GDAL warps it
                                           (ALBERS.replace("-96", "-97"), False),
                                           ("EPSG:5069", False)])  # NAD27 / Conus Albers
def test_tile_takes_a_mask_on_the_images_grid_in_its_crs_spelled_otherwise(
        tmp_path, run_cli, mask_crs, same):
    """A mask on the image's grid in the image's ellipsoid-only Albers spelled as ESRI or
    WKT 2 is tiled; one in another Albers, or in EPSG:5070 (a datum the image does not
    name: rasters stay apart, as a mosaic's), is refused, naming both CRSs."""
    image = _raster(tmp_path / "img.tif", ALBERS, np.full((1, 20, 20), 7, np.uint8))
    mask = np.zeros((1, 20, 20), np.uint8)
    mask[0, 4:9, 5:12] = 1
    _raster(tmp_path / "mask.tif", mask_crs, mask)
    out = tmp_path / "out"
    result = run_cli("tile", image, "--masks", tmp_path / "mask.tif", "-o", out,
                     "--size", "10", "--overlap", "0")
    if same:
        assert result.exit_code == 0, result.output
        patches = sorted((out / "masks").glob("*.tif"))
        assert sum(rasterio.open(p).read(1).sum() for p in patches) == 35
    else:
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert "mask.tif" in result.output and "CRS" in result.output
        assert not out.exists() or not list(out.rglob("*.tif"))


@pytest.mark.parametrize("crs", [ALBERS, "EPSG:5070", "EPSG:3857"])
@pytest.mark.parametrize("output", ["v.gpkg", "v.parquet"])
def test_vectorize_in_the_rasters_crs_puts_edges_on_pixel_corners(tmp_path, crs, output):
    """A class raster in an Albers (30 m) or Web Mercator CRS, whose unit is no ground
    metre: its polygons are measured in the UTM zone and written back in its CRS, where
    pixel edges came back a round-off off the grid (1000089.9999999993 for 1000090). Now
    every vertex is a pixel corner, bit for bit, as in a UTM raster."""
    from geotile.vectorize import VectorizeOptions, vectorize_polygons

    classes = np.zeros((1, 20, 20), np.uint8)
    classes[0, 5:12, 3:9] = 1
    classes[0, 14:18, 10:19] = 2
    path = _raster(tmp_path / "c.tif", crs, classes)
    vectorize_polygons([path], tmp_path / output, options=VectorizeOptions(workers=1))
    out = tmp_path / output
    found = gpd.read_parquet(out) if output.endswith(".parquet") else gpd.read_file(out)
    assert len(found) == 2
    xy = shapely.get_coordinates(found.geometry.values)
    cols, rows = (xy[:, 0] - ORIGIN[0]) / 30, (ORIGIN[1] - xy[:, 1]) / 30
    assert (cols == np.round(cols)).all() and (rows == np.round(rows)).all(), xy
    assert (xy[:, 0] == ORIGIN[0] + 30 * np.round(cols)).all()
    assert sorted(shapely.area(found.geometry.values)) == [36 * 900, 42 * 900]


@pytest.mark.parametrize("option", [["--instances"], ["--crs", "EPSG:5070"]])
def test_vectorize_instances_or_another_spelling_put_edges_on_pixel_corners(
        tmp_path, run_cli, option):
    """Buildings from footprint/boundary/contact bands (--instances), or polygons written
    with --crs EPSG:5070 (GDAL's spelling of the raster's ellipsoid-only Albers), came back
    off the pixel corners too (1000089.9999999993); now on them."""
    bands = np.zeros((3, 20, 20), np.uint8)
    bands[0, 5:12, 3:9] = 255
    path = tmp_path / "b.tif"
    with rasterio.open(path, "w", driver="GTiff", width=20, height=20, count=3,
                       dtype="uint8", crs=ALBERS, transform=from_origin(*ORIGIN, 30, 30)) as dst:
        dst.write(bands)
        dst.descriptions = ("footprint", "boundary", "contact")
    result = run_cli("vectorize", path, "-o", tmp_path / "b.gpkg", *option)
    assert result.exit_code == 0, result.output
    found = gpd.read_file(tmp_path / "b.gpkg")
    assert len(found) == 1 and found.geometry.iloc[0].area == 42 * 900
    xy = shapely.get_coordinates(found.geometry.values)
    cols, rows = (xy[:, 0] - ORIGIN[0]) / 30, (ORIGIN[1] - xy[:, 1]) / 30
    assert (cols == np.round(cols)).all() and (rows == np.round(rows)).all(), xy


def test_on_pixel_corners_leaves_rows_that_never_left_the_rasters_crs():
    """Only the rows reprojection moved are put on pixel corners: the others never left the
    rasters' CRS, whatever lies near a corner there (a squared building's corner 1e-9 px
    off a pixel's) is their own."""
    from geotile.output_crs import on_pixel_corners

    off = ORIGIN[0] + 90 + 30e-9
    frame = gpd.GeoDataFrame(geometry=[shapely.box(off, 1999700, ORIGIN[0] + 300, 1999910)] * 2,
                             crs=ALBERS)
    out = on_pixel_corners(frame, [from_origin(*ORIGIN, 30, 30)], np.array([True, False]))
    assert shapely.bounds(out.geometry.values)[:, 0].tolist() == [ORIGIN[0] + 90, off]
    assert shapely.bounds(frame.geometry.values)[:, 0].tolist() == [off, off]  # untouched


@pytest.mark.parametrize("options", [{}, {"simplify": 1.0}, {"instances": True}])
def test_vectorize_of_a_utm_raster_snaps_nothing(tmp_path, monkeypatch, options):
    """A UTM raster's polygons are cleaned and written in its own CRS: they never leave it,
    yet every vertex went through on_pixel_corners (43 ms of a 6000 x 6000 mask's 7,610
    polygons). Now none does; the vertices are the pixel corners as before."""
    import geotile.output_crs
    import geotile.vectorize
    from geotile.vectorize import VectorizeOptions, vectorize_polygons

    handed = []

    def spy(frame, transforms, rows=None):
        handed.append(len(frame) if rows is None else int(np.count_nonzero(rows)))
        return frame

    for module in (geotile.vectorize, geotile.output_crs):
        monkeypatch.setattr(module, "on_pixel_corners", spy, raising=False)
    bands = np.zeros((3, 20, 20), np.uint8)
    bands[0, 5:12, 3:9] = 255
    instances = options.get("instances")
    bands = bands if instances else bands[:1] // 255
    path = tmp_path / "b.tif"
    with rasterio.open(path, "w", driver="GTiff", width=20, height=20, count=len(bands),
                       dtype="uint8", crs="EPSG:32616",
                       transform=from_origin(440000, 3740000, 0.5, 0.5)) as dst:
        dst.write(bands)
        if instances:
            dst.descriptions = ("footprint", "boundary", "contact")
    if instances:
        from geotile.instances import vectorize_instances
        vectorize_instances([path], tmp_path / "b.gpkg")
    else:
        vectorize_polygons([path], tmp_path / "b.gpkg", options=VectorizeOptions(
            workers=1, **options))
    found = gpd.read_file(tmp_path / "b.gpkg")
    assert len(found) == 1 and found.geometry.iloc[0].area == 42 * 0.25
    assert sum(handed) == 0
    xy = shapely.get_coordinates(found.geometry.values)
    assert (xy[:, 0] == 440000 + 0.5 * np.round((xy[:, 0] - 440000) / 0.5)).all()
