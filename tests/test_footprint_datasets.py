"""The open building-footprint datasets as make-masks labels, as they ship: Google Open
Buildings' CSV (WKT polygons in lon/lat beside latitude/longitude points), Microsoft's
.csv.gz of GeoJSON lines, Overture's GeoParquet (a bbox struct column)."""

from __future__ import annotations

import csv
import gzip
import io
import json

import numpy as np
import pytest
import rasterio
import shapely
from pyproj import Transformer

from .conftest import UTM_CRS, UTM_ORIGIN, assert_one_line_error

X0, Y0 = UTM_ORIGIN
TO_LONLAT = Transformer.from_crs(UTM_CRS, "EPSG:4326", always_xy=True)


def lonlat(shape):
    return shapely.transform(shape, lambda xy: np.column_stack(TO_LONLAT.transform(*xy.T)))


#: three 2 x 6 m footprints (4 x 12 px at 0.5 m) at columns 2, 8 and 14 px, and confidences
FOOTPRINTS = [(shapely.box(X0 + col, Y0 - 7, X0 + col + 2, Y0 - 1), confidence)
              for col, confidence in ((1, 0.9), (4, 0.65), (7, 0.7))]


@pytest.fixture
def image(make_raster):
    return make_raster("img.tif", np.zeros((20, 20), np.uint8))


def mask_of(path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1)


def open_buildings_csv(rows=FOOTPRINTS) -> str:
    """Google Open Buildings v3's CSV: latitude, longitude, area_in_meters, confidence,
    geometry (WKT polygon in lon/lat), full_plus_code."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["latitude", "longitude", "area_in_meters", "confidence", "geometry",
                     "full_plus_code"])
    for utm, confidence in rows:
        shape = lonlat(utm)
        writer.writerow([shape.centroid.y, shape.centroid.x, 12.0, confidence, shape.wkt,
                         "865Q8X6C+2XQ5"])
    return text.getvalue()


def footprints_burnt(mask: np.ndarray) -> None:
    """The three footprints' polygons, not their centre points, burnt."""
    assert np.count_nonzero(mask) == 3 * 48, np.count_nonzero(mask)
    for col in (2, 8, 14):
        assert (mask[2:14, col:col + 4] == 1).all()


@pytest.mark.parametrize("name", ["open_buildings.csv", "open_buildings.csv.gz"])
def test_google_open_buildings_csv_burns_its_polygons(run_cli, image, tmp_path, name):
    """Google Open Buildings' CSV (and its .csv.gz) was refused with an ogr2ogr command to
    convert it first; now its WKT polygons (lon/lat, EPSG:4326 as the dataset documents)
    are burnt where they lie, not the latitude/longitude points beside them."""
    path = tmp_path / name
    text = open_buildings_csv().encode()
    path.write_bytes(gzip.compress(text) if name.endswith(".gz") else text)
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", path, image, "-o", out, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["masks"][0]["features"] == 3
    footprints_burnt(mask_of(out))


def test_google_open_buildings_confidence_as_class_field(run_cli, image, tmp_path):
    """Its confidence column reads as numbers, as GDAL's type detection gives them: a
    --class-field of them is refused as not whole ids, not as text names."""
    path = tmp_path / "open_buildings.csv"
    path.write_text(open_buildings_csv())
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif", "--class-field",
                     "confidence")
    assert_one_line_error(result, "open_buildings.csv", "0.9", "not a whole class id")


def test_a_csv_of_projected_wkt_without_a_crs_names_labels_crs(run_cli, image, tmp_path):
    """A CSV of one WKT column in metres: read as lon/lat (a CSV names no CRS) it cannot
    be; refused naming --labels-crs, with which it burns."""
    path = tmp_path / "buildings.csv"
    path.write_text("id,WKT_geometry\n" + "".join(
        f'{i},"{utm.wkt}"\n' for i, (utm, _) in enumerate(FOOTPRINTS)))
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "buildings.csv", "--labels-crs")
    assert not (tmp_path / "m.tif").exists()
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif", "--labels-crs",
                     UTM_CRS)
    assert result.exit_code == 0, result.output
    footprints_burnt(mask_of(tmp_path / "m.tif"))


def test_microsoft_footprints_csv_gz_with_height_and_confidence(run_cli, image, tmp_path):
    """Microsoft's GlobalMLBuildingFootprints part (quadkey folder, .csv.gz of GeoJSON
    Features, properties height and confidence, -1 where unknown) burns as given."""
    lines = "".join(json.dumps({"type": "Feature", "geometry": shapely.geometry.mapping(
        lonlat(utm)), "properties": {"height": -1.0, "confidence": c}}) + "\n"
        for utm, c in FOOTPRINTS)
    path = tmp_path / "quadkey=032001101" / "part-00170-a1b2.c000.csv.gz"
    path.parent.mkdir()
    path.write_bytes(gzip.compress(lines.encode()))
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    footprints_burnt(mask_of(tmp_path / "m.tif"))


def overture_parquet(path, shapes, covering: bool) -> None:
    """Overture's buildings GeoParquet: WKB geometry in lon/lat, a float32 bbox struct
    {xmin, xmax, ymin, ymax}, nested and nullable columns; the GeoParquet 1.1 covering
    metadata naming the bbox column in newer releases, none in older ones (and VIDA's)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    shapes = [lonlat(s) for s in shapes]
    bounds = shapely.bounds(shapes)
    bbox = pa.StructArray.from_arrays([pa.array(bounds[:, i].astype(np.float32))
                                       for i in (0, 2, 1, 3)],
                                      names=["xmin", "xmax", "ymin", "ymax"])
    count = len(shapes)
    table = pa.table({
        "id": [f"08b2a{i:011x}" for i in range(count)],
        "geometry": pa.array(shapely.to_wkb(shapes).tolist(), pa.binary()),
        "bbox": bbox,
        "height": pa.array([5.0 if i % 2 else None for i in range(count)]),
        "class": pa.array(["house" if i % 3 else None for i in range(count)]),
        "names": pa.array([{"primary": "Depot"} if i == 0 else None for i in range(count)],
                          pa.struct([("primary", pa.string())])),
        "sources": pa.array([[{"dataset": "OpenStreetMap"}]] * count)})
    column = {"encoding": "WKB", "geometry_types": ["Polygon", "MultiPolygon"]}
    if covering:
        column["covering"] = {"bbox": {k: ["bbox", k] for k in ("xmin", "ymin", "xmax",
                                                                 "ymax")}}
    geo = {"version": "1.1.0", "primary_column": "geometry", "columns": {"geometry": column}}
    pq.write_table(table.replace_schema_metadata({b"geo": json.dumps(geo)}), path,
                   row_group_size=10)


@pytest.fixture
def read_rows(monkeypatch):
    """The row counts of every GeoParquet read (geopandas.read_parquet)."""
    import geopandas as gpd

    counts: list[int] = []
    read = gpd.read_parquet

    def counted(*args, **kwargs):
        frame = read(*args, **kwargs)
        counts.append(len(frame))
        return frame

    monkeypatch.setattr(gpd, "read_parquet", counted)
    return counts


@pytest.mark.parametrize("covering", [True, False], ids=["covering", "bbox-column"])
def test_overture_geoparquet_reads_only_the_rows_near_the_images(
        run_cli, make_raster, tmp_path, read_rows, covering):
    """Overture's GeoParquet over a city, two tiles 2 km apart: without the covering
    metadata every row was read (2.3 GB for 2 million footprints), with it every row of the
    two tiles' envelope; now only the rows whose bbox column meets a tile, masks unchanged."""
    from rasterio.transform import from_origin

    near_a = [utm for utm, _ in FOOTPRINTS]
    near_b = [shapely.box(X0 + 2001, Y0 - 3, X0 + 2003, Y0 - 1)]
    between = [shapely.box(X0 + 100 + 20 * i, Y0 - 3 - 7 * i, X0 + 104 + 20 * i, Y0 - 7 * i)
               for i in range(90)]  # 90 footprints between the tiles, near neither
    path = tmp_path / "overture.parquet"
    overture_parquet(path, [*near_a, *between, *near_b], covering)
    a = make_raster("a.tif", np.zeros((20, 20), np.uint8))
    b = make_raster("b.tif", np.zeros((20, 20), np.uint8),
                    transform=from_origin(X0 + 2000, Y0, 0.5, 0.5))
    result = run_cli("make-masks", path, a, b, "-o", tmp_path / "masks")
    assert result.exit_code == 0, result.output
    footprints_burnt(mask_of(tmp_path / "masks" / "a.tif"))
    mask_b = mask_of(tmp_path / "masks" / "b.tif")
    assert np.count_nonzero(mask_b) == 16 and (mask_b[2:6, 2:6] == 1).all()
    assert read_rows and max(read_rows) <= 10, read_rows  # row groups of 10: a tile's rows


@pytest.mark.parametrize("covering", [True, False], ids=["covering", "bbox-column"])
@pytest.mark.parametrize("given", ["theme=buildings/type=building", "theme=buildings"])
def test_an_overture_release_folder_is_read_as_one_dataset(
        run_cli, make_raster, tmp_path, read_rows, covering, given):
    """Overture's buildings as its release ships them (theme=buildings/type=building/
    part-0000N-<id>.c000.zstd.parquet): make-masks took the folder for one label file per
    image ('no label file in .../type=building pairs with it (expected a.parquet)'); now its
    files are one dataset, read near the images only (their bbox column), as one file is."""
    from rasterio.transform import from_origin

    near_b = [shapely.box(X0 + 2001, Y0 - 3, X0 + 2003, Y0 - 1)]
    between = [shapely.box(X0 + 100 + 20 * i, Y0 - 3 - 7 * i, X0 + 104 + 20 * i, Y0 - 7 * i)
               for i in range(30)]
    parts = tmp_path / "release" / "theme=buildings" / "type=building"
    parts.mkdir(parents=True)
    overture_parquet(parts / "part-00000-5d1c.c000.zstd.parquet",
                     [utm for utm, _ in FOOTPRINTS], covering)
    overture_parquet(parts / "part-00001-5d1c.c000.zstd.parquet", [*between, *near_b],
                     covering)
    (parts / "_SUCCESS").write_bytes(b"")
    a = make_raster("a.tif", np.zeros((20, 20), np.uint8))
    b = make_raster("b.tif", np.zeros((20, 20), np.uint8),
                    transform=from_origin(X0 + 2000, Y0, 0.5, 0.5))
    result = run_cli("make-masks", tmp_path / "release" / given, a, b, "-o",
                     tmp_path / "masks")
    assert result.exit_code == 0, result.output
    footprints_burnt(mask_of(tmp_path / "masks" / "a.tif"))
    mask_b = mask_of(tmp_path / "masks" / "b.tif")
    assert np.count_nonzero(mask_b) == 16 and (mask_b[2:6, 2:6] == 1).all()
    assert read_rows and max(read_rows) <= 10, read_rows


def _gdal_opens(monkeypatch) -> list[str]:
    """The names of pyogrio's readers called from now on (GDAL opening a label file)."""
    import pyogrio
    import pyogrio.raw

    opened: list[str] = []

    def spying(name, read):
        def spy(*args, **kwargs):
            opened.append(name)
            return read(*args, **kwargs)
        return spy

    for module, function in ((pyogrio, "list_layers"), (pyogrio, "read_info"),
                             (pyogrio.raw, "read")):
        monkeypatch.setattr(module, function, spying(function, getattr(module, function)))
    return opened


def test_microsoft_csv_gz_is_opened_no_more_than_needed(tmp_path, make_raster, monkeypatch):
    """GDAL's GeoJSONSeq driver reads the whole file at each open (2M footprints: ~12 s a
    pass): make-masks opened Microsoft's .csv.gz 5 times for one tile (to list its one
    layer, to look for a WKT column...), then twice (its extent, then the tile's features);
    now not at all: one streaming pass of geotile's own (geotile.geojson_lines)."""

    from geotile.labels import image_regions, read_labels

    lines = "".join(json.dumps({"type": "Feature", "geometry": shapely.geometry.mapping(
        lonlat(utm)), "properties": {"height": -1.0, "confidence": c}}) + "\n"
        for utm, c in FOOTPRINTS)
    path = tmp_path / "part-00000.csv.gz"
    path.write_bytes(gzip.compress(lines.encode()))
    image = make_raster("img.tif", np.zeros((20, 20), np.uint8))
    opened = _gdal_opens(monkeypatch)
    labels = read_labels(path, regions=image_regions([image]))
    assert len(labels) == 3
    assert opened == [], opened


@pytest.mark.parametrize("name", ["Uganda.geojsonl", "Uganda.geojsons"])
def test_microsoft_country_geojsonl_zip_is_streamed_once(tmp_path, make_raster, monkeypatch,
                                                         name):
    """Microsoft's older per-country files, Uganda.geojsonl.zip (one GeoJSON Feature a
    line): GDAL's GeoJSONSeq driver read the zip at every open, three passes (its layers,
    its feature count, the tile's features: 2M footprints 182 s against 64 s for the same
    lines as .csv.gz); now one streaming pass of geotile's own, GDAL not opened."""
    import zipfile

    from geotile.labels import image_regions, read_labels

    far = (shapely.box(X0 + 3000, Y0 - 3, X0 + 3002, Y0 - 1), 0.5)
    lines = "".join(json.dumps({"type": "Feature", "geometry": shapely.geometry.mapping(
        lonlat(utm)), "properties": {"height": -1.0, "confidence": c}}) + "\n"
        for utm, c in [*FOOTPRINTS, far])
    path = tmp_path / f"{name}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, lines)
    image = make_raster("img.tif", np.zeros((20, 20), np.uint8))
    opened = _gdal_opens(monkeypatch)
    labels = read_labels(path, regions=image_regions([image]))
    assert len(labels) == 3 and labels.fields["confidence"].tolist() == [0.9, 0.65, 0.7]
    assert opened == [], opened
    assert labels.extent[2] > lonlat(far[0]).bounds[0]  # the whole file's, the far one's too


# --- GeoJSON lines streamed by geotile (geotile.geojson_lines), not GDAL's driver ---------

#: class 1 and 2 footprints over two tiles side by side (a: x 0-10 m, b: x 10-20 m): inside
#: a, overlapping (the later on top), across the tiles' edge, on it from b's side, on the
#: grid's corner, and far from both (never burnt)
SPREAD = [(shapely.box(X0 + 1, Y0 - 4, X0 + 4, Y0 - 1), 1),
          (shapely.box(X0 + 3, Y0 - 6, X0 + 6, Y0 - 3), 2),
          (shapely.box(X0 + 8, Y0 - 9, X0 + 12, Y0 - 7), 1),
          (shapely.box(X0 + 10, Y0 - 3, X0 + 11.5, Y0 - 1), 2),
          (shapely.box(X0 + 19, Y0 - 10.5, X0 + 21, Y0 - 9), 1),
          (shapely.box(X0 + 900, Y0 - 900, X0 + 905, Y0 - 895), 2),
          (shapely.box(X0 - 3000, Y0 + 10, X0 - 2990, Y0 + 20), 1)]


def feature_lines(rows=SPREAD) -> str:
    return "".join(json.dumps({"type": "Feature", "properties": {"c": c, "height": -1.0},
                               "geometry": shapely.geometry.mapping(lonlat(utm))}) + "\n"
                   for utm, c in rows)


@pytest.fixture
def two_tiles(make_raster, tmp_path):
    from rasterio.transform import from_origin

    folder = tmp_path / "tiles"
    folder.mkdir()
    for name, left in (("a.tif", X0), ("b.tif", X0 + 10)):
        make_raster(f"tiles/{name}", np.zeros((20, 20), np.uint8),
                    transform=from_origin(left, Y0, 0.5, 0.5))
    return folder


def reference_masks(run_cli, tiles, tmp_path, rows=SPREAD) -> dict:
    """The masks GDAL's read of a GeoPackage of the same features gives."""
    import geopandas as gpd

    path = tmp_path / "reference.gpkg"
    gpd.GeoDataFrame({"c": [c for _, c in rows]}, geometry=[lonlat(u) for u, _ in rows],
                     crs="EPSG:4326").to_file(path)
    result = run_cli("make-masks", path, tiles, "-o", tmp_path / "reference", "--class-field",
                     "c")
    assert result.exit_code == 0, result.output
    return {p.name: mask_of(p) for p in sorted((tmp_path / "reference").glob("*.tif"))}


@pytest.mark.parametrize("name", ["part-00000.csv.gz", "footprints.geojsonl",
                                  "footprints.geojsonl.gz", "footprints.geojson"])
def test_geojson_lines_burn_as_gdal_reads_them_tile_by_tile(run_cli, two_tiles, tmp_path,
                                                             name, monkeypatch):
    """GDAL's GeoJSONSeq driver read a 2M-footprint .csv.gz twice for one tile (164 s where
    gdal_rasterize takes 72 s), whole into memory for several; now geotile's one streaming
    pass: the same masks, byte for byte (the later footprint on top, the one across the
    tiles' edge in both, the one on it in b only, the far ones nowhere), GDAL not asked."""
    import pyogrio.raw

    expected = reference_masks(run_cli, two_tiles, tmp_path)
    text = feature_lines().encode()
    path = tmp_path / name
    path.write_bytes(gzip.compress(text) if name.endswith(".gz") else text)

    def refused(*args, **kwargs):
        raise AssertionError("GDAL read the GeoJSON lines")

    monkeypatch.setattr(pyogrio.raw, "read", refused)
    result = run_cli("make-masks", path, two_tiles, "-o", tmp_path / "masks", "--class-field",
                     "c")
    assert result.exit_code == 0, result.output
    masks = {p.name: mask_of(p) for p in sorted((tmp_path / "masks").glob("*.tif"))}
    assert masks.keys() == expected.keys() == {"a.tif", "b.tif"}
    for key, mask in masks.items():
        np.testing.assert_array_equal(mask, expected[key], err_msg=key)
    a, b = masks["a.tif"], masks["b.tif"]
    assert (a[2:8, 2:6] == 1).all() and (a[6:12, 6:12] == 2).all()  # 2 over 1 where they meet
    assert (a[14:18, 16:20] == 1).all() and (b[14:18, 0:4] == 1).all()  # across the edge
    assert (b[2:6, 0:3] == 2).all() and not a[2:6, 19].any()  # on the edge: b's side
    assert (b[18:20, 18:20] == 1).all()  # the corner footprint, in b only


def test_geojson_lines_read_alike_through_one_tile_or_all(tmp_path, two_tiles):
    """The features near one tile: its own, the one across its edge and the one touching it,
    in file order with their properties, as GDAL reads them; the extent and class values are
    the whole file's."""
    from geotile.labels import image_regions, read_labels

    path = tmp_path / "part-00001.csv.gz"
    path.write_bytes(gzip.compress(feature_lines().encode()))
    labels = read_labels(path, regions=image_regions([two_tiles / "a.tif"]), class_field="c")
    assert list(labels.fields["c"]) == [1, 2, 1, 2]
    assert labels.values["c"] == [1, 2]
    whole = shapely.bounds(shapely.union_all([lonlat(u) for u, _ in SPREAD]))
    np.testing.assert_allclose(labels.extent, whole, rtol=0, atol=1e-12)
    everything = read_labels(path)
    assert len(everything) == len(SPREAD)
    for mine, gdal in zip(labels.geometries, everything.geometries[:4], strict=True):
        assert shapely.equals_exact(mine, gdal, tolerance=0)


def test_a_broken_geojson_line_is_named_by_its_number(run_cli, two_tiles, tmp_path):
    """A line cut short in a .csv.gz: 'not vector data GDAL can read (JSON parsing error:
    ...)'; now one line names the file and the line, and no mask is written."""
    lines = feature_lines().splitlines()
    lines[5] = lines[5][:-7]  # far from the tiles: still found
    path = tmp_path / "part-00002.csv.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    result = run_cli("make-masks", path, two_tiles, "-o", tmp_path / "masks")
    assert_one_line_error(result, "part-00002.csv.gz", "line 6", "not JSON")
    assert not (tmp_path / "masks").exists() or not any((tmp_path / "masks").iterdir())


def test_geojson_lines_of_other_shapes_burn_alike(run_cli, two_tiles, tmp_path):
    """Positions with a z, a GeometryCollection, CRLF endings and a blank line: read by json
    line by line where the bulk read of coordinates does not fit, the same masks."""
    expected = reference_masks(run_cli, two_tiles, tmp_path)
    lines = feature_lines().splitlines()
    raised = json.loads(lines[0])
    raised["geometry"] = shapely.geometry.mapping(shapely.force_3d(lonlat(SPREAD[0][0]), 7.0))
    collected = json.loads(lines[2])
    collected["geometry"] = {"type": "GeometryCollection",
                             "geometries": [collected["geometry"]]}
    lines[0], lines[2] = json.dumps(raised), json.dumps(collected)
    path = tmp_path / "footprints.geojsonl"
    path.write_bytes(("\r\n".join(lines[:3]) + "\r\n\r\n" + "\r\n".join(lines[3:])).encode())
    result = run_cli("make-masks", path, two_tiles, "-o", tmp_path / "masks", "--class-field",
                     "c")
    assert result.exit_code == 0, result.output
    for key, mask in expected.items():
        np.testing.assert_array_equal(mask_of(tmp_path / "masks" / key), mask, err_msg=key)


@pytest.mark.parametrize("name", ["f.geojsonl", "f.geojsons"])
def test_a_sequence_whose_features_put_geometry_first_is_read_whole(tmp_path, name):
    """Read whole (no tiles: evaluate, vectorize's inputs), a .geojsonl whose lines begin
    {"geometry": ... was opened by GDAL's GeoJSON driver (it sniffs the first object, not
    the name) and read as 1 feature of 4, exit 0; now GDAL's GeoJSONSeq driver reads 4."""
    from geotile.labels import read_labels

    x0, y0 = UTM_ORIGIN
    lines = [json.dumps({"geometry": {"type": "Polygon", "coordinates": [[
        [x0 + 10 * i, y0], [x0 + 10 * i + 5, y0], [x0 + 10 * i + 5, y0 - 5],
        [x0 + 10 * i, y0 - 5], [x0 + 10 * i, y0]]]}, "type": "Feature",
        "properties": {"n": i}}) for i in range(4)]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    labels = read_labels(path, labels_crs=UTM_CRS)
    assert len(labels.geometries) == 4
    assert sorted(labels.fields["n"].tolist()) == [0, 1, 2, 3]


@pytest.mark.parametrize("name", ["part-00003.csv.gz", "footprints.geojsonl"])
def test_a_geojson_line_of_nan_coordinates_is_named_by_its_number(run_cli, two_tiles,
                                                                   tmp_path, name):
    """A line whose coordinates hold NaN (Python's json takes it; JSON has no NaN) beside a
    tile: the feature was dropped without a word (exit 0); now one line names the file and
    the line, exit 1, no mask written. GDAL's GeoJSONSeq driver (ogrinfo -al
    GeoJSONSeq:f.geojsonl, GDAL 3.6.2) takes the line too: POLYGON ((nan 0.0,1 0,...)), no
    warning, so it is no guide here."""
    lines = feature_lines().splitlines()
    broken = json.loads(lines[1])
    broken["geometry"]["coordinates"][0][0][0] = float("nan")
    lines[1] = json.dumps(broken)  # NaN, as Python writes it
    assert "NaN" in lines[1]
    text = ("\n".join(lines) + "\n").encode()
    path = tmp_path / name
    path.write_bytes(gzip.compress(text) if name.endswith(".gz") else text)
    result = run_cli("make-masks", path, two_tiles, "-o", tmp_path / "masks")
    assert_one_line_error(result, name, "line 2", "NaN")
    assert not (tmp_path / "masks").exists() or not any((tmp_path / "masks").iterdir())



@pytest.mark.parametrize("name", ["part-00004.csv.gz", "footprints.geojsonl",
                                  "footprints.geojsons"])
def test_a_broken_first_geojson_line_is_named_as_line_1(run_cli, two_tiles, tmp_path, name):
    """A first line cut short (the rest Features): the whole file was 'not vector data GDAL
    can read', line 1 being what marks it as GeoJSON lines; now, as for any other line, one
    line names the file and line 1, and no mask is written."""
    lines = feature_lines().splitlines()
    lines[0] = lines[0][:-7]
    text = ("\n".join(lines) + "\n").encode()
    path = tmp_path / name
    path.write_bytes(gzip.compress(text) if name.endswith(".gz") else text)
    result = run_cli("make-masks", path, two_tiles, "-o", tmp_path / "masks")
    assert_one_line_error(result, name, "line 1 is not JSON")
    assert not (tmp_path / "masks").exists() or not any((tmp_path / "masks").iterdir())


def collection_lines(rows=SPREAD) -> list:
    """Each footprint of :func:`feature_lines` as a FeatureCollection of one on its line."""
    return [json.dumps({"type": "FeatureCollection", "features": [json.loads(line)]})
            for line in feature_lines(rows).splitlines()]


@pytest.mark.parametrize(("name", "first"), [("footprints.geojsonl", 0),
                                             ("footprints.geojsonl", 3),
                                             ("part-00006.csv.gz", 0)])
def test_geojson_lines_of_feature_collections_are_refused(run_cli, two_tiles, tmp_path,
                                                          name, first):
    """A .geojsonl of one FeatureCollection a line (RFC 8142 takes any GeoJSON text): GDAL's
    GeoJSONSeq driver reads none of its features, so make-masks wrote all-zero masks with
    'holds no features', exit 0 (from line 4 on: the first three footprints alone; as
    .csv.gz: 'not vector data GDAL can read ... Check that it is the right file'); now one
    line names the file and the line and says how to split it, no mask written."""
    lines = feature_lines().splitlines()
    lines[first:] = collection_lines()[first:]
    text = ("\n".join(lines) + "\n").encode()
    path = tmp_path / name
    path.write_bytes(gzip.compress(text) if name.endswith(".gz") else text)
    result = run_cli("make-masks", path, two_tiles, "-o", tmp_path / "masks")
    split = f"gunzip -c {name} | jq" if name.endswith(".gz") else "jq"
    assert_one_line_error(result, name, f"line {first + 1}", "FeatureCollection",
                          f"{split} -c '.features[]'")
    assert not (tmp_path / "masks").exists() or not any((tmp_path / "masks").iterdir())


def test_geojson_lines_of_feature_collections_read_whole_are_refused(tmp_path):
    """Read whole (evaluate, vectorize's inputs), GDAL's 0 features were 0 labels."""
    from geotile.errors import InputError
    from geotile.labels import read_labels

    path = tmp_path / "pred.geojsonl"
    path.write_text("\ufeff\n" + "\n".join(collection_lines()) + "\n")
    with pytest.raises(InputError, match=r"pred\.geojsonl: line 2 is a FeatureCollection"):
        read_labels(path)


@pytest.mark.parametrize("covering", [True, False], ids=["covering", "bbox-column"])
def test_a_geoparquet_row_without_its_bbox_is_still_burnt(run_cli, image, tmp_path, covering):
    """A row whose bbox struct is null (a row added by hand, the bbox not recomputed): the
    bbox filter dropped it, its footprint missing from the mask with exit 0 (3 x 48 px
    expected, 2 x 48 burnt); now such rows are kept for the geometry test."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "overture.parquet"
    overture_parquet(path, [utm for utm, _ in FOOTPRINTS], covering)
    table = pq.read_table(path)
    at = table.schema.get_field_index("bbox")
    boxes = table.column(at).to_pylist()
    boxes[1] = None
    table = table.set_column(at, "bbox", pa.array(boxes, table.schema.field(at).type))
    pq.write_table(table, path)
    result = run_cli("make-masks", path, image, "-o", tmp_path / "mask.tif")
    assert result.exit_code == 0, result.output
    footprints_burnt(mask_of(tmp_path / "mask.tif"))


@pytest.mark.parametrize("name", ["part-00005.csv.gz", "footprints.geojsonl"])
def test_geojson_lines_of_text_coordinates_are_refused(run_cli, two_tiles, tmp_path, name):
    """Coordinates written as JSON text ("-84.4"), of which GEOS and GDAL read no geometry:
    the features near the tiles were skipped with a warning and the masks written all
    zeros, exit 0 ('no feature overlaps'); now refused as a GeoJSON of such features is
    ('no feature has a geometry'), nothing written."""
    def text(value):
        return [text(v) for v in value] if isinstance(value, list) else repr(value)

    features = [json.loads(line) for line in feature_lines().splitlines()]
    for feature in features:
        feature["geometry"] = {"type": "MultiPolygon",
                               "coordinates": [text(feature["geometry"]["coordinates"])]}
    data = "".join(json.dumps(f) + "\n" for f in features).encode()
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    result = run_cli("make-masks", path, two_tiles, "-o", tmp_path / "masks")
    assert result.exit_code == 1, result.output
    assert f"{name}: no feature has a geometry" in result.output, result.output
    assert not (tmp_path / "masks").exists() or not any((tmp_path / "masks").iterdir())
    collection = tmp_path / "footprints.geojson"  # the same features, as one document
    collection.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    result = run_cli("make-masks", collection, two_tiles, "-o", tmp_path / "masks")
    assert result.exit_code == 1, result.output
    assert "footprints.geojson: no feature has a geometry" in result.output, result.output


def test_one_unreadable_geojson_line_is_skipped_with_one_warning(run_cli, two_tiles, tmp_path):
    """One feature of text coordinates among readable ones: skipped with a warning ('1
    feature ... were skipped' before), the others burnt as GDAL reads them."""
    expected = reference_masks(run_cli, two_tiles, tmp_path, SPREAD[1:])
    lines = feature_lines().splitlines()
    broken = json.loads(lines[0])
    broken["geometry"]["coordinates"] = [[[str(x), str(y)] for x, y in ring]
                                         for ring in broken["geometry"]["coordinates"]]
    lines[0] = json.dumps(broken)
    path = tmp_path / "footprints.geojsonl"
    path.write_text("\n".join(lines) + "\n")
    result = run_cli("make-masks", path, two_tiles, "-o", tmp_path / "masks", "--class-field",
                     "c")
    assert result.exit_code == 0, result.output
    assert "1 feature with a geometry that cannot be read was skipped: feature 0" in \
        result.output, result.output
    for key, mask in expected.items():
        np.testing.assert_array_equal(mask_of(tmp_path / "masks" / key), mask, err_msg=key)


def test_a_feature_collection_of_text_coordinate_polygons_agrees_with_gdal(run_cli, two_tiles,
                                                                           tmp_path):
    """Polygons whose coordinates are JSON text ("-84.4") in a FeatureCollection: GDAL and
    GEOS read no geometry of them, but geotile's all-Polygon fast path took the text for
    numbers and burnt them, exit 0 -> read as GEOS reads them, as GeoJSON lines are: all
    such features refused ('no feature has a geometry'), some skipped with the warning
    naming them, the rest burnt as GDAL reads them."""
    def text(value):
        return [text(v) for v in value] if isinstance(value, list) else repr(value)

    features = [json.loads(line) for line in feature_lines().splitlines()]
    texts = [{**f, "geometry": {"type": "Polygon", "coordinates": text(
        f["geometry"]["coordinates"])}} for f in features]
    collection = tmp_path / "footprints.geojson"
    collection.write_text(json.dumps({"type": "FeatureCollection", "features": texts}))
    result = run_cli("make-masks", collection, two_tiles, "-o", tmp_path / "masks")
    assert result.exit_code == 1, result.output
    assert "footprints.geojson: no feature has a geometry" in result.output, result.output
    assert not (tmp_path / "masks").exists() or not any((tmp_path / "masks").iterdir())
    mixed = [texts[0], *features[1:]]
    collection.write_text(json.dumps({"type": "FeatureCollection", "features": mixed}))
    result = run_cli("make-masks", collection, two_tiles, "-o", tmp_path / "mixed",
                     "--class-field", "c")
    assert result.exit_code == 0, result.output
    assert "1 feature with a geometry that cannot be read was skipped: feature 0" \
        in result.stderr, result.stderr
    expected = reference_masks(run_cli, two_tiles, tmp_path, SPREAD[1:])
    for name, mask in expected.items():
        np.testing.assert_array_equal(mask_of(tmp_path / "mixed" / name), mask)


def test_overture_segments_of_roads_and_railways_are_named_with_the_filter(
        run_cli, image, tmp_path):
    """Overture's transportation segments (theme=transportation/type=segment) hold roads,
    railways and waterways (subtype road, rail, water): make-masks --line-width burnt the
    railway as a road without a word. Now a warning names the subtypes read and the --where
    that keeps the roads; with it, no warning and the road alone is burnt."""
    import geopandas as gpd

    road = lonlat(shapely.LineString([(X0, Y0 - 3), (X0 + 10, Y0 - 3)]))
    rail = lonlat(shapely.LineString([(X0, Y0 - 7), (X0 + 10, Y0 - 7)]))
    path = tmp_path / "segments.parquet"
    gpd.GeoDataFrame({"subtype": ["road", "rail", "road"], "class": [
        "residential", "standard_gauge", "footway"]}, geometry=[road, rail, road],
        crs="OGC:CRS84").to_parquet(path, write_covering_bbox=True)
    every = run_cli("make-masks", path, image, "-o", tmp_path / "all.tif", "--line-width", 1)
    assert every.exit_code == 0, every.output
    assert ("segments.parquet: its features are of several subtypes (road 2, rail 1)"
            in every.stderr), every.stderr
    assert "--where \"subtype = 'road'\"" in every.stderr
    roads = run_cli("make-masks", path, image, "-o", tmp_path / "roads.tif", "--line-width", 1,
                    "--where", "subtype = 'road'")
    assert roads.exit_code == 0, roads.output
    assert "several" not in roads.stderr
    assert np.count_nonzero(mask_of(tmp_path / "all.tif")) == 2 * np.count_nonzero(
        mask_of(tmp_path / "roads.tif")) > 0


def test_microsofts_list_of_files_is_refused_naming_what_to_give(run_cli, image, tmp_path):
    """Microsoft's dataset-links.csv (Location, QuadKey, Url, Size: the index of its
    footprint files) given as labels said 'the file has no geometries. Give a file of
    polygons.'; now one line says what it is and which file to give instead."""
    path = tmp_path / "dataset-links.csv"
    path.write_text(
        "Location,QuadKey,Url,Size\n"
        "Uganda,122321003,https://minedbuildings.z5.web.core.windows.net/global-buildings/"
        "2023-04-25/global-buildings.geojsonl/RegionName=Uganda/quadkey=122321003/"
        "part-00000-2b6f.c000.csv.gz,74.3KB\n")
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result)
    assert "dataset-links.csv: Microsoft's list of building-footprint files" in result.stderr
    assert "part-00000-2b6f.c000.csv.gz" in result.stderr  # its first file, as an example
    assert not (tmp_path / "m.tif").exists()


def test_a_dataset_whose_parts_declare_other_crss_is_refused(run_cli, image, tmp_path):
    """A folder of part files written in two UTM zones (part-00000 EPSG:32616, part-00001
    EPSG:32617) was read in the first part's CRS: the second part's footprint landed 460 km
    off and its mask lost it (48 of 96 px), exit 0. Now one line names both parts' CRSs."""
    import geopandas as gpd

    parts = tmp_path / "footprints" / "type=building"
    parts.mkdir(parents=True)
    first, second = (utm for utm, _ in FOOTPRINTS[:2])
    gpd.GeoDataFrame(geometry=[first], crs=UTM_CRS).to_parquet(parts / "part-00000.parquet")
    gpd.GeoDataFrame(geometry=[second], crs=UTM_CRS).to_crs("EPSG:32617").to_parquet(
        parts / "part-00001.parquet")
    result = run_cli("make-masks", tmp_path / "footprints", image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "part-00001.parquet", "EPSG:32617", "part-00000.parquet",
                          "EPSG:32616")
    assert not (tmp_path / "m.tif").exists()


def test_resume_redoes_the_masks_of_an_edited_dataset_part(run_cli, image, tmp_path):
    """--resume kept a mask made from an Overture-style folder after one of its part files
    was rewritten with a second footprint (48 px kept for 96): the folder, not its files,
    entered the digest. Now an edited part redoes the mask, an unchanged one skips it."""
    parts = tmp_path / "release" / "theme=buildings" / "type=building"
    parts.mkdir(parents=True)
    part = parts / "part-00000-5d1c.c000.zstd.parquet"
    overture_parquet(part, [FOOTPRINTS[0][0]], True)
    args = ("make-masks", tmp_path / "release", image, "-o", f"{tmp_path / 'masks'}/",
            "--resume")
    assert run_cli(*args).exit_code == 0
    again = run_cli(*args)
    assert again.exit_code == 0 and "skipped (--resume)" in again.output, again.output
    overture_parquet(part, [utm for utm, _ in FOOTPRINTS[:2]], True)
    edited = run_cli(*args)
    assert edited.exit_code == 0 and "skipped" not in edited.output, edited.output
    assert np.count_nonzero(mask_of(tmp_path / "masks" / "img.tif")) == 2 * 48


def test_a_dataset_part_without_the_bbox_column_is_still_read(run_cli, image, tmp_path):
    """A folder whose first part has Overture's bbox column and whose second has none (a
    GeoParquet 1.0 file of the same footprints written later) was refused 'is a folder, not
    vector data GDAL can read' (the second part's extent was read from a bbox column it
    lacks). Now its rows are tested by their geometry, both footprints burnt."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "footprints"
    folder.mkdir()
    overture_parquet(folder / "part-00000.parquet", [FOOTPRINTS[0][0]], True)
    geo = {"version": "1.0.0", "primary_column": "geometry",
           "columns": {"geometry": {"encoding": "WKB", "geometry_types": ["Polygon"]}}}
    table = pa.table({"id": ["08b2b"], "geometry": pa.array(
        [shapely.to_wkb(lonlat(FOOTPRINTS[1][0]))], pa.binary())})
    pq.write_table(table.replace_schema_metadata({b"geo": json.dumps(geo)}),
                   folder / "part-00001.parquet")
    result = run_cli("make-masks", folder, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    mask = mask_of(tmp_path / "m.tif")
    assert np.count_nonzero(mask) == 2 * 48
    assert (mask[2:14, 2:6] == 1).all() and (mask[2:14, 8:12] == 1).all()


@pytest.mark.parametrize("given", ["theme=buildings/type=building", "theme=buildings"])
def test_a_dataset_folder_holding_other_files_names_them(run_cli, image, tmp_path, given):
    """An Overture release folder holding a file that is no Parquet beside its parts (a
    manifest.json downloaded with them) was taken for one label file per image ('no label
    file in .../type=building pairs with it (expected img.parquet)') or refused as 'a
    folder, not vector data GDAL can read'. Now one line names the file to move out."""
    parts = tmp_path / "release" / "theme=buildings" / "type=building"
    parts.mkdir(parents=True)
    overture_parquet(parts / "part-00000-5d1c.c000.zstd.parquet", [FOOTPRINTS[0][0]], True)
    (parts / "_SUCCESS").write_bytes(b"")  # Spark's bookkeeping: read past, as pyarrow does
    (parts / "manifest.json").write_text("{}")
    result = run_cli("make-masks", tmp_path / "release" / given, image, "-o",
                     tmp_path / "m.tif")
    assert_one_line_error(result, "manifest.json", "Parquet part files", "Move")
    assert "_SUCCESS" not in result.stderr
    assert not (tmp_path / "m.tif").exists()


def test_a_dataset_whose_parts_type_a_field_apart_is_refused_naming_it(run_cli, image,
                                                                       tmp_path):
    """A folder whose parts type one field apart (height: double in part-00000, a list of
    text in part-00001), which pyarrow cannot read as one dataset, was refused as 'a
    folder, not vector data GDAL can read'. Now one line names the field, its types and the
    parts."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "footprints"
    folder.mkdir()
    for i, height in enumerate((pa.array([5.0]), pa.array([["5 m"]]))):
        name = folder / f"part-0000{i}.parquet"
        overture_parquet(name, [FOOTPRINTS[i][0]], True)
        table = pq.read_table(name)
        pq.write_table(table.drop(["height"]).append_column("height", height)
                       .replace_schema_metadata(table.schema.metadata), name)
    result = run_cli("make-masks", folder, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "'height'", "part-00000.parquet: double",
                          "part-00001.parquet: list<")
    assert not (tmp_path / "m.tif").exists()


def test_a_footprint_whose_float32_bbox_falls_short_of_a_small_tile_is_burnt(
        run_cli, make_raster, tmp_path):
    """Overture's bbox column is float32 (a step of 7.6e-6 degrees, ~0.7 m, at lon -84):
    a footprint reaching 0.3 m into a tile of 8 px at 0.1 m (a drone patch) had its xmax
    rounded 0.35 m west, off the tile and its 1 % margin, and was left out (0 of 24 px;
    read whole it is burnt). Now the boxes are grown by a float32 step before filtering."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from rasterio.transform import from_origin

    step = float(np.spacing(np.float32(84.39)))
    xmax = float(np.float32(-84.39)) + 0.49 * step  # float32 rounds it 0.49 step west
    assert float(np.float32(xmax)) < xmax - 0.45 * step
    footprint = shapely.box(xmax - 1e-4, 33.75 - 1e-4, xmax, 33.75 + 1e-4)
    bounds = shapely.bounds(footprint)
    bbox = pa.StructArray.from_arrays([pa.array([np.float32(bounds[i])]) for i in (0, 2, 1, 3)],
                                      names=["xmin", "xmax", "ymin", "ymax"])
    geo = {"version": "1.1.0", "primary_column": "geometry", "columns": {"geometry": {
        "encoding": "WKB", "geometry_types": ["Polygon"],
        "covering": {"bbox": {k: ["bbox", k] for k in ("xmin", "ymin", "xmax", "ymax")}}}}}
    pq.write_table(pa.table({"geometry": pa.array([shapely.to_wkb(footprint)], pa.binary()),
                             "bbox": bbox}).replace_schema_metadata({b"geo": json.dumps(geo)}),
                   tmp_path / "overture.parquet")
    pixel = 1e-6  # degrees: ~0.1 m
    image = make_raster("patch.tif", np.zeros((8, 8), np.uint8), crs="EPSG:4326",
                        transform=from_origin(xmax - 3 * pixel, 33.75 + 4 * pixel, pixel, pixel))
    result = run_cli("make-masks", tmp_path / "overture.parquet", image, "-o",
                     tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    mask = mask_of(tmp_path / "m.tif")
    assert (mask[:, :3] == 1).all() and not mask[:, 3:].any(), mask


def test_a_hive_partition_key_is_a_class_field(run_cli, image, tmp_path):
    """Overture's theme=buildings holds type=building and type=building_part: --class-field
    type (the partition key, a column of the dataset, not of its files) was refused as 'a
    folder, not vector data GDAL can read' (its class values read from each file). Now the
    buildings are class 1, the building parts class 2."""
    theme = tmp_path / "release" / "theme=buildings"
    for kind, (utm, _) in zip(("building", "building_part"), FOOTPRINTS, strict=False):
        (theme / f"type={kind}").mkdir(parents=True)
        overture_parquet(theme / f"type={kind}" / "part-00000-5d1c.c000.zstd.parquet", [utm],
                         True)
    result = run_cli("make-masks", theme, image, "-o", tmp_path / "m.tif", "--class-field",
                     "type")
    assert result.exit_code == 0, result.output
    mask = mask_of(tmp_path / "m.tif")
    assert (mask[2:14, 2:6] == 1).all() and (mask[2:14, 8:12] == 2).all()
    assert np.count_nonzero(mask) == 2 * 48


def test_parts_holding_their_partition_key_as_a_column_are_read(run_cli, image, tmp_path):
    """Part files that hold their Hive folder's key as a column too (DuckDB's
    WRITE_PARTITION_COLUMNS; Overture files copied into a type=building/ folder) were
    refused as 'a folder, not vector data GDAL can read' (pyarrow: 'Unable to merge: Field
    type has incompatible types'). Now the files' own column is read, the mask burnt."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = tmp_path / "release" / "type=building"
    parts.mkdir(parents=True)
    name = parts / "part-00000.parquet"
    overture_parquet(name, [utm for utm, _ in FOOTPRINTS[:2]], True)
    table = pq.read_table(name)
    pq.write_table(table.append_column("type", pa.array(["building", "building_part"]))
                   .replace_schema_metadata(table.schema.metadata), name)
    result = run_cli("make-masks", tmp_path / "release", image, "-o", tmp_path / "m.tif",
                     "--class-field", "type")
    assert result.exit_code == 0, result.output
    mask = mask_of(tmp_path / "m.tif")
    assert (mask[2:14, 2:6] == 1).all() and (mask[2:14, 8:12] == 2).all()


def _random_footprints(rng, count: int) -> list:
    """``count`` random quadrilaterals of 1-8 m over a 600 x 600 m area from UTM_ORIGIN."""
    shapes = []
    for x, y, w, h, turn in zip(rng.uniform(0, 600, count), rng.uniform(-600, 0, count),
                                rng.uniform(1, 8, count), rng.uniform(1, 8, count),
                                rng.uniform(0, 90, count), strict=True):
        box = shapely.box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + h)
        shapes.append(shapely.affinity.rotate(box, turn))
    return shapes


def _geoparquet_without_bbox(path, shapes, encoding: str, row_group_size: int) -> None:
    """geopandas' GeoParquet (no bbox column, no covering) of ``shapes`` in lon/lat."""
    import geopandas as gpd

    frame = gpd.GeoDataFrame({"height": np.arange(len(shapes), dtype=float),
                              "kind": [("house", "shed", "barn")[i % 3]
                                       for i in range(len(shapes))]},
                             geometry=[lonlat(s) for s in shapes], crs="EPSG:4326")
    frame.to_parquet(path, geometry_encoding=encoding, row_group_size=row_group_size)


@pytest.mark.parametrize("selection", [[], ["--class-field", "kind", "--where",
                                             "height >= 40 AND kind <> 'barn'"]],
                         ids=["all", "class-field-where"])
@pytest.mark.parametrize("encoding", ["WKB", "geoarrow"])
@pytest.mark.parametrize("layout", ["file", "folder"])
def test_a_geoparquet_without_a_bbox_column_is_read_in_batches(
        run_cli, make_raster, tmp_path, monkeypatch, encoding, layout, selection):
    """A GeoParquet file or dataset without a bbox column was read whole (2M footprints:
    12 s, 1.7 GB), all its geometries decoded at once, and with --class-field and --where
    read whole once more for the class names the selection holds (2.4 GB). Now it is read
    in record batches, only the rows near the images kept, the names gathered batch by
    batch: on random tiles the masks equal the whole read's."""
    from rasterio.transform import from_origin

    import geotile.masks
    from geotile import parquet_batches

    rng = np.random.default_rng(257)
    shapes = _random_footprints(rng, 400)
    if layout == "file":
        path = tmp_path / "footprints.parquet"
        _geoparquet_without_bbox(path, shapes, encoding, 1000)
    else:
        path = tmp_path / "release" / "type=building"
        path.mkdir(parents=True)
        for i in range(2):
            _geoparquet_without_bbox(path / f"part-0000{i}.parquet", shapes[i::2], encoding,
                                     1000)
    tiles = []
    for i in range(8):
        pixel = float(rng.choice([0.1, 0.3, 0.5]))
        side = int(rng.integers(8, 60))
        x, y = rng.uniform(0, 560), rng.uniform(-560, 0)
        tiles.append(make_raster(f"t{i}.tif", np.zeros((side, side), np.uint8),
                                 transform=from_origin(X0 + x, Y0 + y, pixel, pixel)))
    decoded: list[int] = []  # the geometries of each decoding of WKB or GeoArrow
    for name in ("from_wkb", "from_ragged_array"):
        original = getattr(shapely, name)

        def counted(*args, original=original, **kwargs):
            shapes = original(*args, **kwargs)
            decoded.append(len(shapes))
            return shapes

        monkeypatch.setattr(shapely, name, counted)
    monkeypatch.setattr(parquet_batches, "BATCH_ROWS", 16)
    result = run_cli("make-masks", path, *tiles, "-o", tmp_path / "near", *selection)
    assert result.exit_code == 0, result.output
    assert decoded and max(decoded) <= 16, decoded  # a batch at a time, not 400
    monkeypatch.setattr(geotile.masks, "_regions", lambda *args, **kwargs: None)
    result = run_cli("make-masks", path, *tiles, "-o", tmp_path / "whole", *selection)
    assert result.exit_code == 0, result.output
    burnt = 0
    for tile in tiles:
        near, whole = mask_of(tmp_path / "near" / tile.name), mask_of(
            tmp_path / "whole" / tile.name)
        np.testing.assert_array_equal(near, whole, err_msg=tile.name)
        burnt += np.count_nonzero(whole)
    assert burnt  # some footprints lie on the tiles


def test_geoarrow_multipolygons_beside_an_empty_polygon_are_burnt(make_raster, tmp_path):
    """geopandas writes a POLYGON EMPTY among multipolygons (GeoArrow 'multipolygon') as a
    part of no ring, on which shapely's from_ragged_array crashed the process (exit -11,
    no message); the part holds no area: the other rows burn as a whole read of them."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import geopandas as gpd

    image = make_raster("img.tif", np.zeros((20, 20), np.uint8))
    shapes = [shapely.Polygon(), shapely.MultiPolygon([FOOTPRINTS[0][0], FOOTPRINTS[1][0]]),
              None, FOOTPRINTS[2][0]]
    frame = gpd.GeoDataFrame({"n": range(4)}, geometry=shapes, crs=UTM_CRS)
    frame.to_parquet(tmp_path / "fp.parquet", geometry_encoding="geoarrow")
    frame.iloc[1:].to_file(tmp_path / "fp.gpkg")
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    for name in ("fp.parquet", "fp.gpkg"):
        run = subprocess.run([sys.executable, "-m", "geotile", "make-masks",
                              str(tmp_path / name), str(image), "-o",
                              str(tmp_path / f"{name}.tif")],
                             env=env, cwd=root, capture_output=True, text=True)
        assert run.returncode == 0, (run.returncode, run.stderr)
    footprints_burnt(mask_of(tmp_path / "fp.parquet.tif"))
    np.testing.assert_array_equal(mask_of(tmp_path / "fp.parquet.tif"),
                                  mask_of(tmp_path / "fp.gpkg.tif"))


def _parts_with_class(folder, classes, covering: bool) -> None:
    """One footprint a part (FOOTPRINTS' first ones), each part's 'class' column replaced
    by the given arrow array; None: the part has no 'class' column."""
    import pyarrow.parquet as pq

    folder.mkdir(parents=True)
    for i, column in enumerate(classes):
        name = folder / f"part-0000{i}.parquet"
        overture_parquet(name, [FOOTPRINTS[i][0]], covering)
        table = pq.read_table(name)
        table = table.drop(["class"])
        if column is not None:
            table = table.append_column("class", column)
        pq.write_table(table.replace_schema_metadata(pq.read_schema(name).metadata), name)


@pytest.mark.parametrize("covering", [True, False])
def test_a_field_only_a_later_part_holds_is_read(run_cli, image, tmp_path, covering):
    """A dataset whose first part lacks a field a later part holds (a column added in a
    later release or export) was read with the first part's fields only: --where "class =
    'house'" was refused '"class" not recognised as an available field. Fields: id...'
    (and --class-field class so too). Now the parts' fields are one schema, the first
    part's rows null in 'class'."""
    import pyarrow as pa

    folder = tmp_path / "footprints"
    _parts_with_class(folder, [None, pa.array(["house"])], covering)
    result = run_cli("make-masks", folder, image, "-o", tmp_path / "w.tif", "--where",
                     "class = 'house'")
    assert result.exit_code == 0, result.output
    mask = mask_of(tmp_path / "w.tif")
    assert np.count_nonzero(mask) == 48 and (mask[2:14, 8:12] == 1).all()
    result = run_cli("make-masks", folder, image, "-o", tmp_path / "c.tif", "--class-field",
                     "class", "--where", "class IS NOT NULL")
    assert result.exit_code == 0, result.output
    assert (mask_of(tmp_path / "c.tif") == mask).all()


@pytest.mark.parametrize("covering", [True, False])
def test_a_part_whose_field_is_all_null_is_read(run_cli, image, tmp_path, covering):
    """A dataset written in chunks by geopandas, one chunk's 'class' all None (pyarrow types
    such a column null), was refused 'its part files give field 'class' other types
    (part-00000.parquet: null, part-00001.parquet: string)', which pyarrow and DuckDB read
    as one. Now the null column reads as the other parts' type, its rows null."""
    import pyarrow as pa

    folder = tmp_path / "footprints"
    _parts_with_class(folder, [pa.nulls(1), pa.array(["house"]), pa.array(["shed"])],
                      covering)
    result = run_cli("make-masks", folder, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    assert np.count_nonzero(mask_of(tmp_path / "m.tif")) == 3 * 48
    result = run_cli("make-masks", folder, image, "-o", tmp_path / "c.tif", "--class-field",
                     "class", "--where", "class IS NOT NULL")
    assert result.exit_code == 0, result.output
    mask = mask_of(tmp_path / "c.tif")
    assert (mask[2:14, 2:6] == 0).all() and (mask[2:14, 8:12] == 1).all()
    assert (mask[2:14, 14:18] == 2).all() and np.count_nonzero(mask) == 2 * 48


@pytest.mark.parametrize("crs", ["wkt", "EPSG:32616"])
def test_a_geoparquet_0x_file_whose_crs_is_text_is_read_in_it(run_cli, image, tmp_path, crs):
    """GeoParquet before 0.4 (geopandas 0.8-0.10: "version" 0.1.0) gives the CRS as WKT
    text, not PROJJSON (some writers an 'EPSG:xxxx' string): such a file of footprints in
    UTM was refused 'not vector data GDAL can read (Invalid projection: "PROJCRS[...")'.
    Now the text is the CRS, the footprints burnt where they are."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyproj import CRS

    text = CRS(UTM_CRS).to_wkt() if crs == "wkt" else crs
    geo = {"schema_version": "0.1.0", "primary_column": "geometry",
           "columns": {"geometry": {"crs": text, "encoding": "WKB"}}}
    shapes = [utm for utm, _ in FOOTPRINTS]
    table = pa.table({"confidence": [c for _, c in FOOTPRINTS],
                      "geometry": pa.array(shapely.to_wkb(shapes).tolist(), pa.binary())})
    pq.write_table(table.replace_schema_metadata({b"geo": json.dumps(geo)}),
                   tmp_path / "old.parquet")
    result = run_cli("make-masks", tmp_path / "old.parquet", image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    footprints_burnt(mask_of(tmp_path / "m.tif"))


@pytest.mark.parametrize("pattern", ["theme=buildings/type=building/*.parquet",
                                     "theme=buildings/**/part-*.parquet"])
def test_a_pattern_of_one_datasets_part_files_names_its_folder(run_cli, make_raster,
                                                               tmp_path, pattern):
    """make-masks 'release/theme=buildings/type=building/*.parquet' a.tif b.tif (the glob
    DuckDB and Overture's docs read a release with) was taken for one label file per image
    and refused 't0.tif: no label file ... pairs with it (expected a.parquet). Add its label
    file', a fix that cannot be. Now one line says the pattern matches the part files of
    one dataset and names the folder to give, which reads them as one label file."""
    parts = tmp_path / "release" / "theme=buildings" / "type=building"
    parts.mkdir(parents=True)
    for i in range(2):
        overture_parquet(parts / f"part-0000{i}-5d1c.c000.zstd.parquet", [FOOTPRINTS[i][0]],
                         True)
    images = [make_raster(f"{n}.tif", np.zeros((20, 20), np.uint8)) for n in "ab"]
    result = run_cli("make-masks", f"{tmp_path / 'release'}/{pattern}", *images, "-o",
                     tmp_path / "masks")
    assert_one_line_error(result, "part files of one Parquet dataset", f"{parts} ")
    assert not (tmp_path / "masks").exists()
    result = run_cli("make-masks", parts, *images, "-o", tmp_path / "masks")
    assert result.exit_code == 0, result.output
    assert np.count_nonzero(mask_of(tmp_path / "masks" / "a.tif")) == 2 * 48


@pytest.mark.parametrize("folder", [False, True], ids=["file", "dataset"])
def test_a_stale_lonlat_bbox_column_after_to_crs_leaves_no_footprint_out(
        run_cli, image, tmp_path, folder):
    """Overture footprints reprojected with geopandas (read_parquet, to_crs(UTM),
    to_parquet) keep Overture's bbox struct column, still in lon/lat, undeclared (no
    covering): it was taken for the rows' bounds and the UTM tile's box compared with lon/lat
    numbers, every footprint left out (exit 0, masks all zeros, 'no feature overlaps').
    Now a bbox column that does not hold its rows' bounds is not used: 3 footprints
    burnt."""
    import geopandas as gpd
    import pyarrow.parquet as pq

    overture_parquet(tmp_path / "overture.parquet", [utm for utm, _ in FOOTPRINTS], False)
    frame = gpd.read_parquet(tmp_path / "overture.parquet").to_crs(UTM_CRS)
    given = tmp_path / "utm.parquet"
    if folder:
        given = tmp_path / "utm" / "part-00000.parquet"
        given.parent.mkdir()
        frame.iloc[:2].to_parquet(given.with_name("part-00001.parquet"))
        frame.iloc[2:].to_parquet(given.with_name("part-00002.parquet"))
        pq.write_table(pq.read_table(given.with_name("part-00001.parquet")).slice(0, 0),
                       given)  # an empty first part, of the same schema: its bbox tells none
        given = given.parent
    else:
        frame.to_parquet(given)
    result = run_cli("make-masks", given, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    footprints_burnt(mask_of(tmp_path / "m.tif"))


@pytest.mark.parametrize("broken", ["empty", "cut"])
def test_a_dataset_with_a_part_cut_short_names_that_part(run_cli, image, tmp_path, broken):
    """An Overture release copied with one part left empty or cut short (an interrupted
    'aws s3 cp --recursive') was refused '<folder> is a folder, not vector data GDAL can
    read. Give a vector file: ...', which names neither the part nor the fix. Now one line
    names the part and says to download it again; no mask is written."""
    parts = tmp_path / "theme=buildings" / "type=building"
    parts.mkdir(parents=True)
    overture_parquet(parts / "part-00000-5d1c.c000.zstd.parquet", [FOOTPRINTS[0][0]], True)
    whole = (parts / "part-00000-5d1c.c000.zstd.parquet").read_bytes()
    bad = parts / "part-00001-5d1c.c000.zstd.parquet"
    bad.write_bytes(b"" if broken == "empty" else whole[:len(whole) // 2])
    result = run_cli("make-masks", parts, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, str(bad), "again")
    assert "is a folder" not in result.stderr
    assert not (tmp_path / "m.tif").exists()


def test_parts_of_other_geoarrow_encodings_are_refused_naming_them(run_cli, image, tmp_path):
    """geopandas picks a GeoArrow encoding per file: a dataset written chunk by chunk with
    geometry_encoding='geoarrow' holds 'polygon' parts beside 'multipolygon' ones. It was
    refused with both nested arrow types of 'geometry' (300 characters) and 'Write every
    part with the same schema'. Now the line names the parts' encodings and the fix (WKB,
    to_parquet's default)."""
    import geopandas as gpd

    folder = tmp_path / "footprints"
    folder.mkdir()
    shapes = [lonlat(utm) for utm, _ in FOOTPRINTS]
    gpd.GeoDataFrame(geometry=shapes[:1], crs="EPSG:4326").to_parquet(
        folder / "part-00000.parquet", geometry_encoding="geoarrow")
    gpd.GeoDataFrame(geometry=[shapely.MultiPolygon(shapes[1:])], crs="EPSG:4326").to_parquet(
        folder / "part-00001.parquet", geometry_encoding="geoarrow")
    result = run_cli("make-masks", folder, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "part-00000.parquet: GeoArrow polygon",
                          "part-00001.parquet: GeoArrow multipolygon", "WKB")
    assert "list<" not in result.stderr and not (tmp_path / "m.tif").exists()


@pytest.mark.parametrize("stale", [True, False], ids=["stale", "correct"])
def test_a_bbox_column_is_checked_past_rows_of_empty_geometries(run_cli, image, tmp_path,
                                                                 stale):
    """The bbox check (d62be11) looks at the first 1024 rows: in a reprojected file sorted
    so that 1100 rows of empty geometries (bbox null) come first, it saw no row to tell by
    and trusted the stale lon/lat bbox, every footprint left out (exit 0, mask all zeros).
    Now rows are read on to the first ones holding both: 3 footprints burnt, with a stale
    bbox column as with a correct one."""
    import geopandas as gpd
    import pandas as pd

    overture_parquet(tmp_path / "overture.parquet", [utm for utm, _ in FOOTPRINTS], False)
    frame = gpd.read_parquet(tmp_path / "overture.parquet").to_crs(UTM_CRS)
    if not stale:  # the bbox recomputed in UTM
        frame["bbox"] = [dict(zip(("xmin", "ymin", "xmax", "ymax"), b, strict=True))
                         for b in frame.geometry.bounds.to_numpy().tolist()]
    empty = gpd.GeoDataFrame({"bbox": [None] * 1100},
                             geometry=[shapely.Polygon()] * 1100, crs=UTM_CRS)
    pd.concat([empty, frame[["bbox", "geometry"]]]).to_parquet(tmp_path / "utm.parquet")
    result = run_cli("make-masks", tmp_path / "utm.parquet", image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    footprints_burnt(mask_of(tmp_path / "m.tif"))


def test_a_dataset_whose_later_parts_hold_a_stale_bbox_leaves_no_footprint_out(
        run_cli, image, tmp_path):
    """A dataset whose first part's bbox struct holds its rows' UTM bounds, and whose later
    parts were reprojected with to_crs (Overture's lon/lat bbox kept): only the first part
    with rows was checked, the stale bbox then filtered the later parts' footprints out
    (1 of 3 burnt, exit 0). Every part with rows is checked now: 3 burnt."""
    import geopandas as gpd

    overture_parquet(tmp_path / "overture.parquet", [utm for utm, _ in FOOTPRINTS], False)
    frame = gpd.read_parquet(tmp_path / "overture.parquet").to_crs(UTM_CRS)
    folder = tmp_path / "utm"
    folder.mkdir()
    first = frame.iloc[:1].copy()
    first["bbox"] = [dict(zip(("xmin", "ymin", "xmax", "ymax"), b, strict=True))
                     for b in first.geometry.bounds.to_numpy().tolist()]
    first.to_parquet(folder / "part-00000.parquet")
    frame.iloc[1:2].to_parquet(folder / "part-00001.parquet")
    frame.iloc[2:].to_parquet(folder / "part-00002.parquet")
    result = run_cli("make-masks", folder, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    footprints_burnt(mask_of(tmp_path / "m.tif"))


def without_geo_metadata(path) -> None:
    """``path`` rewritten as DuckDB's COPY ... TO 'x.parquet' writes Overture's rows when
    its spatial extension is not loaded: the WKB column as a plain BLOB, no 'geo' key."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    at = table.schema.get_field_index("geometry")
    table = table.cast(table.schema.set(at, table.schema.field(at).with_metadata(None)))
    pq.write_table(table.replace_schema_metadata(None), path, row_group_size=10)


@pytest.mark.parametrize("bbox", [True, False], ids=["bbox-column", "no-bbox"])
def test_overture_parquet_without_geo_metadata_is_read_in_lonlat(run_cli, image, tmp_path,
                                                                  bbox):
    """Overture's buildings copied by DuckDB without its spatial extension (a WKB BLOB
    'geometry', a bbox struct, no 'geo' key) were refused ('a Parquet file without
    GeoParquet metadata... Write it as GeoParquet, e.g. with geopandas' to_parquet', which
    cannot read it either, and --labels-crs did not help). Now its 'geometry' column is read
    in Overture's documented CRS, lon/lat, with a warning naming --labels-crs."""
    path = tmp_path / "overture.parquet"
    overture_parquet(path, [utm for utm, _ in FOOTPRINTS], covering=False)
    without_geo_metadata(path)
    if not bbox:
        import pyarrow.parquet as pq

        pq.write_table(pq.read_table(path).drop_columns(["bbox"]), path)
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    footprints_burnt(mask_of(tmp_path / "m.tif"))
    assert "overture.parquet: no GeoParquet metadata" in result.stderr, result.stderr
    assert "'geometry' read as lon/lat" in result.stderr and "--labels-crs" in result.stderr
    truth = run_cli("evaluate", tmp_path / "overture.parquet", path, "--json")
    assert truth.exit_code == 0, truth.output
    assert json.loads(truth.stdout)["tp"] == 3, truth.stdout
    assert truth.stderr.count("no GeoParquet metadata") == 2, truth.stderr  # each side
    assert "pass --prediction-crs" in truth.stderr, truth.stderr


def test_parquet_without_geo_metadata_takes_labels_crs(run_cli, image, tmp_path):
    """A WKB Parquet of UTM footprints without 'geo': --labels-crs says its CRS (it was
    refused whatever the option said); no warning then."""
    import geopandas as gpd

    path = tmp_path / "utm.parquet"
    gpd.GeoDataFrame(geometry=[utm for utm, _ in FOOTPRINTS], crs=UTM_CRS).to_parquet(path)
    without_geo_metadata(path)
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif",
                     "--labels-crs", UTM_CRS)
    assert result.exit_code == 0, result.output
    footprints_burnt(mask_of(tmp_path / "m.tif"))
    assert "GeoParquet" not in result.stderr, result.stderr


def test_parquet_without_geo_metadata_takes_its_geoarrow_field_crs(run_cli, image, tmp_path):
    """A WKB column typed geoarrow.wkb whose extension metadata names its CRS (GeoArrow's
    field-level CRS, as overturemaps-py and Arrow-native writers type the column) and no
    'geo' key: read in that CRS (UTM here), not taken for lon/lat."""
    import geopandas as gpd
    import pyarrow.parquet as pq

    path = tmp_path / "utm.parquet"
    gpd.GeoDataFrame(geometry=[utm for utm, _ in FOOTPRINTS], crs=UTM_CRS).to_parquet(path)
    table = pq.read_table(path).replace_schema_metadata(None)
    field = table.schema.field("geometry").with_metadata({
        b"ARROW:extension:name": b"geoarrow.wkb",
        b"ARROW:extension:metadata": json.dumps({"crs": UTM_CRS}).encode()})
    pq.write_table(table.cast(table.schema.set(0, field)), path)
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    footprints_burnt(mask_of(tmp_path / "m.tif"))
    assert "GeoParquet" not in result.stderr, result.stderr


def native_geometry_parquet(path, shapes, crs: str | None, name: str = "geometry",
                            file_metadata: dict | None = None,
                            store_schema: bool = False) -> None:
    """Parquet whose WKB column has Parquet's own GEOMETRY logical type (format 2.11, as
    DuckDB 1.4 and GDAL 3.12 write it) naming ``crs`` (None: none, OGC:CRS84 by the spec),
    without 'geo' metadata nor Arrow's schema: pyarrow reads a plain binary column;
    ``file_metadata``: key-value metadata of the file (a CRS's PROJJSON under a key),
    written with Arrow's schema where ``store_schema``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    metadata = json.dumps({"crs": crs} if crs else {}).encode()

    class Wkb(pa.ExtensionType):
        def __init__(self):
            super().__init__(pa.binary(), "geoarrow.wkb")

        def __arrow_ext_serialize__(self):
            return metadata

        @classmethod
        def __arrow_ext_deserialize__(cls, storage, serialized):
            return cls()

    pa.register_extension_type(Wkb())
    try:
        values = pa.array(shapely.to_wkb(shapes).tolist(), pa.binary())
        table = pa.table({name: pa.ExtensionArray.from_storage(Wkb(), values)})
        if file_metadata:
            table = table.replace_schema_metadata(file_metadata)
        pq.write_table(table, path, store_schema=store_schema)
    finally:
        pa.unregister_extension_type("geoarrow.wkb")


@pytest.mark.parametrize("crs", [UTM_CRS, None])
def test_parquet_of_the_native_geometry_type_is_read_in_its_crs(run_cli, image, tmp_path,
                                                                 crs):
    """A WKB column of Parquet's GEOMETRY logical type, no 'geo' key: its type's CRS
    (EPSG:32616) was not read, the UTM footprints refused as 'a Parquet file... names no
    CRS'. Now the type's CRS, else the spec's default OGC:CRS84, is theirs: no warning."""
    shapes = [utm if crs else lonlat(utm) for utm, _ in FOOTPRINTS]
    path = tmp_path / "native.parquet"
    native_geometry_parquet(path, shapes, crs)
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    footprints_burnt(mask_of(tmp_path / "m.tif"))
    assert "GeoParquet" not in result.stderr, result.stderr


def test_a_native_geometry_column_of_another_name_is_the_geometry(run_cli, image, tmp_path):
    """The column of Parquet's GEOMETRY type is the geometry whatever its name (GDAL's
    default 'geometry' renamed 'shape' by a SELECT): it was 'a Parquet file without
    GeoParquet metadata'."""
    import pyarrow.parquet as pq

    native_geometry_parquet(tmp_path / "shape.parquet", [utm for utm, _ in FOOTPRINTS],
                            UTM_CRS, name="shape")
    assert str(pq.ParquetFile(tmp_path / "shape.parquet").schema.column(0).logical_type
               .type) == "GEOMETRY"
    result = run_cli("make-masks", tmp_path / "shape.parquet", image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    footprints_burnt(mask_of(tmp_path / "m.tif"))


@pytest.mark.parametrize("plain", [False, True], ids=["geoparquet", "duckdb-copy"])
def test_evaluate_takes_an_overture_release_folder_as_truth(run_cli, tmp_path, plain):
    """Overture's theme=buildings/type=building folder of Parquet parts, one dataset to
    make-masks, was to evaluate 'a folder but pred.geojson is not: give two folders'. Now
    it is one TRUTH file, as make-masks reads it."""
    import geopandas as gpd

    parts = tmp_path / "theme=buildings" / "type=building"
    parts.mkdir(parents=True)
    shapes = [utm for utm, _ in FOOTPRINTS]
    for i, rows in enumerate((shapes[:2], shapes[2:])):
        overture_parquet(parts / f"part-0000{i}-5d1c.c000.zstd.parquet", rows, True)
        if plain:
            without_geo_metadata(parts / f"part-0000{i}-5d1c.c000.zstd.parquet")
    gpd.GeoDataFrame(geometry=shapes[1:], crs=UTM_CRS).to_file(tmp_path / "pred.geojson")
    result = run_cli("evaluate", tmp_path / "pred.geojson", tmp_path / "theme=buildings",
                     "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert (scores["tp"], scores["fp"], scores["fn"]) == (2, 0, 1), scores


def test_a_plain_parquet_column_of_no_wkb_names_the_column_and_the_fix(run_cli, image,
                                                                         tmp_path):
    """A 'geometry' BLOB that is no WKB (DuckDB spatial's own GEOMETRY serialisation,
    copied without ST_AsWKB) and no 'geo' key: 'not vector data GDAL can read
    (ParseException: Unknown WKB type 465)'. Now one line names the column and ST_AsWKB."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "duckdb.parquet"
    pq.write_table(pa.table({"id": [1, 2], "geometry": pa.array(
        [b"\x00\x01\x02\x03blob", b"\x05\x06\x07\x08blob"], pa.binary())}), path)
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "duckdb.parquet: its column 'geometry' holds no WKB",
                          "ST_AsWKB(geometry)")
    assert not (tmp_path / "m.tif").exists()


def test_a_plain_parquet_of_null_geometries_is_one_line(run_cli, image, tmp_path):
    """No geometry at all, no 'geo' key: the refusal came after a warning that its column
    was 'read as lon/lat', of which there was nothing; now the refusal alone."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "nulls.parquet"
    pq.write_table(pa.table({"id": [1, 2], "geometry": pa.array([None, None],
                                                                pa.binary())}), path)
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "nulls.parquet: no feature has a geometry")


@pytest.mark.parametrize("srid", [32616, 4326])
def test_parquet_of_ewkb_without_geo_metadata_is_read_in_its_srid(run_cli, image, tmp_path,
                                                                   srid):
    """PostGIS's or DuckDB's ST_AsEWKB column (the SRID inside each WKB), no 'geo' key: the
    UTM footprints of SRID 32616 were refused as 'read as lon/lat (a Parquet file without
    GeoParquet metadata names no CRS)' though each names EPSG:32616. Now read in the SRID
    they carry, without the lon/lat warning."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    shapes = shapely.set_srid(np.array([utm if srid != 4326 else lonlat(utm)
                                        for utm, _ in FOOTPRINTS]), srid)
    path = tmp_path / "ewkb.parquet"
    pq.write_table(pa.table({"geometry": pa.array(
        [None, *shapely.to_wkb(shapes, include_srid=True).tolist()], pa.binary())}), path)
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    footprints_burnt(mask_of(tmp_path / "m.tif"))
    assert "lon/lat" not in result.stderr, result.stderr


def test_parquet_of_ewkb_of_two_srids_is_refused(run_cli, image, tmp_path):
    """EWKB rows of two SRIDs in one column cannot be read in one CRS: one line naming
    both, nothing written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    utm = shapely.set_srid(np.array([u for u, _ in FOOTPRINTS]), 32616)
    utm[2] = shapely.set_srid(utm[2], 26916)  # NAD83 / UTM 16N, metres apart
    path = tmp_path / "ewkb.parquet"
    pq.write_table(pa.table({"geometry": pa.array(
        shapely.to_wkb(utm, include_srid=True).tolist(), pa.binary())}), path)
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "ewkb.parquet", "32616", "26916")
    assert not (tmp_path / "m.tif").exists()


def test_a_native_geometry_crs_given_by_a_projjson_key_is_read(run_cli, image, tmp_path):
    """Parquet's GEOMETRY type may name its CRS 'projjson:<key>', the PROJJSON under that
    key of the file's metadata (the format's own way for a CRS without an id): it was
    refused, "'projjson:crs_utm' is not a CRS GDAL knows". Now the key's PROJJSON is the
    CRS: the UTM footprints burn where they lie."""
    import pyarrow.parquet as pq
    from pyproj import CRS

    native_geometry_parquet(tmp_path / "keyed.parquet", [utm for utm, _ in FOOTPRINTS],
                            "projjson:crs_utm", file_metadata={"crs_utm": CRS(UTM_CRS).to_json()},
                            store_schema=True)
    assert "projjson:crs_utm" in str(pq.ParquetFile(tmp_path / "keyed.parquet").schema
                                     .column(0).logical_type)
    result = run_cli("make-masks", tmp_path / "keyed.parquet", image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    footprints_burnt(mask_of(tmp_path / "m.tif"))


def test_evaluate_pairs_folders_of_one_parquet_per_tile_named_like_a_partition(run_cli,
                                                                               tmp_path):
    """A folder of one GeoParquet per tile that is itself named key=value (split=val/t1,
    t2.parquet) is paired by name with a PREDICTION folder, as before Overture's release
    folder became one TRUTH file: it was refused ('predj is a folder but split=val is not:
    give two folders'), and two such folders were scored as one file, without their
    per-image scores. A folder of parts (part-*, Hive subfolders) stays one file."""
    import geopandas as gpd

    shapes = gpd.GeoDataFrame(geometry=[utm for utm, _ in FOOTPRINTS], crs=UTM_CRS)
    pred, geojson, truth = (tmp_path / "pred" / "split=val", tmp_path / "predj",
                            tmp_path / "truth" / "split=val")
    for folder in (pred, geojson, truth):
        folder.mkdir(parents=True)
    for name, rows in (("t1", shapes.iloc[:2]), ("t2", shapes.iloc[2:])):
        rows.to_parquet(truth / f"{name}.parquet")
        rows.to_file(geojson / f"{name}.geojson")
        rows.iloc[:1].to_parquet(pred / f"{name}.parquet")
    for prediction, tp in ((geojson, 3), (pred, 2)):
        result = run_cli("evaluate", prediction, truth, "--json")
        assert result.exit_code == 0, result.output
        scores = json.loads(result.stdout)
        assert (scores["tp"], scores["fn"]) == (tp, 3 - tp), scores
        assert sorted(scores["per_image"]) == ["t1", "t2"], scores


def test_ewkb_of_srid_4326_on_projected_coordinates_names_its_srid(run_cli, image, tmp_path):
    """EWKB rows of SRID 4326 holding UTM metres (an ST_SetSRID slip) are refused as not
    lon/lat; the line said 'although the file declares EPSG:4326 (GeoJSON's default)' of a
    Parquet file. It names the SRID its geometries carry."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    shapes = shapely.set_srid(np.array([utm for utm, _ in FOOTPRINTS]), 4326)
    path = tmp_path / "ewkb.parquet"
    pq.write_table(pa.table({"geometry": pa.array(
        shapely.to_wkb(shapes, include_srid=True).tolist(), pa.binary())}), path)
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif")
    assert_one_line_error(result, "ewkb.parquet", "not longitude/latitude",
                          "its column 'geometry' carries SRID 4326 (EWKB)", "--labels-crs")
    assert "GeoJSON" not in result.stderr


def big_csv_rows() -> list:
    """Google Open Buildings rows for the pyarrow path (geotile.wkt_csv), each with a
    confidence: the three footprints; a 2 km-long strip whose centroid lies 1 km off the
    tile but which crosses it; an L around the tile whose box holds the tile but which
    misses it; a POLYGON Z and a MULTIPOLYGON over it; 200 far footprints."""
    strip = shapely.box(X0 - 1990, Y0 - 9, X0 + 10, Y0 - 8)  # pixel rows 16-17
    around = shapely.Polygon([(X0 - 50, Y0 - 50), (X0 - 2, Y0 - 50), (X0 - 2, Y0 + 2),
                              (X0 + 50, Y0 + 2), (X0 + 50, Y0 + 50), (X0 - 50, Y0 + 50)])
    raised = shapely.force_3d(shapely.box(X0 + 1, Y0 - 10, X0 + 2, Y0 - 9.5), 7.0)
    parts = shapely.MultiPolygon([shapely.box(X0 + 3, Y0 - 0.5, X0 + 4, Y0),
                                  shapely.box(X0 + 500, Y0, X0 + 510, Y0 + 10)])
    far = [(shapely.box(X0 + 300 + 20 * i, Y0 + 300, X0 + 310 + 20 * i, Y0 + 308), 0.8)
           for i in range(200)]
    return [*far[:100], *FOOTPRINTS, (strip, 0.75), (around, 0.9), (raised, 0.95),
            (parts, 0.85), *far[100:]]


def through_gdal(monkeypatch) -> None:
    """Read CSVs of WKT as before: by GDAL's extent and spatial filter, however large."""
    import geotile.labels

    monkeypatch.setattr(geotile.labels, "_wkt_csv_near", lambda *args: (None, None, None))


@pytest.mark.parametrize("name", ["open_buildings.csv", "open_buildings.csv.gz"])
@pytest.mark.parametrize("where", [None, "confidence >= 0.8"])
@pytest.mark.parametrize("kind", ["plain", "blocks", "line break", "csvt"])
def test_a_large_google_csv_read_near_the_tile_as_gdal_reads_it(
        monkeypatch, image, tmp_path, name, where, kind):
    """A large CSV's rows near the tile are found from the numbers of their WKT, not by
    GDAL parsing every row twice; the features, their fields (typed for --where), the
    extent and the mask are GDAL's: the long strip crossing the tile from 1 km away is
    burnt, the L around it is not, a POLYGON Z is read by GDAL. Read in small blocks
    (the rows past a short head); with a quoted line break in a far row, or a .csvt
    beside it (GDAL then reads the rows by FID from the file itself)."""
    import pyogrio

    import geotile.labels
    import geotile.wkt_csv
    from geotile.labels import image_regions, read_labels

    monkeypatch.setattr(geotile.labels, "STREAM_BYTES", 0)
    if kind == "blocks":
        monkeypatch.setattr(geotile.wkt_csv, "BLOCK", 4096)
        monkeypatch.setattr(geotile.wkt_csv, "HEAD", 2000)
    path = tmp_path / name
    text = open_buildings_csv(big_csv_rows()).encode()
    if kind == "line break":
        text = text.replace(b"865Q8X6C+2XQ5", b'"865Q8X6C\n+2XQ5"', 1)
    if kind == "csvt":
        (tmp_path / "open_buildings.csvt").write_text(
            "Real,Real,Real,Real,String,String\n")
    path.write_bytes(gzip.compress(text) if name.endswith(".gz") else text)
    regions = image_regions([image])

    def every_row(*args, **kwargs):
        raise AssertionError("GDAL's extent: a parse of every row")

    with monkeypatch.context() as fast:
        fast.setattr(pyogrio, "read_info", every_row)
        new = read_labels(path, regions=regions, where=where)
    with monkeypatch.context() as gdal:
        through_gdal(gdal)
        old = read_labels(path, regions=regions, where=where)
    assert shapely.to_wkb(new.geometries).tolist() == shapely.to_wkb(old.geometries).tolist()
    assert {k: v.tolist() for k, v in new.fields.items()} == \
        {k: v.tolist() for k, v in old.fields.items()}
    assert [v.dtype for v in new.fields.values()] == [v.dtype for v in old.fields.values()]
    assert (new.crs, new.extent) == (old.crs, old.extent)
    strip = lonlat(big_csv_rows()[103][0])
    crossing = any(shapely.equals_exact(g, strip, 1e-9) for g in new.geometries)
    assert crossing == (where is None)  # its confidence is 0.75
    assert len(new) == (6 if where is None else 3)  # 3 (1) footprints, (strip), Z, multi


def test_a_large_google_csv_burns_a_strip_from_far_off(run_cli, monkeypatch, image,
                                                        tmp_path):
    """make-masks over a large Open Buildings CSV: the strip whose centre is 1 km off the
    tile burns its rows across the tile; the same mask as GDAL's own read gives."""
    import geotile.labels

    monkeypatch.setattr(geotile.labels, "STREAM_BYTES", 0)
    path = tmp_path / "open_buildings.csv"
    path.write_text(open_buildings_csv(big_csv_rows()))
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    mask = mask_of(tmp_path / "m.tif")
    assert (mask[16:18] == 1).all()
    assert (mask[19, 2:4] == 1).all() and (mask[0, 6:8] == 1).all()  # POLYGON Z, multi
    through_gdal(monkeypatch)
    result = run_cli("make-masks", path, image, "-o", tmp_path / "gdal.tif")
    assert result.exit_code == 0, result.output
    assert np.array_equal(mask, mask_of(tmp_path / "gdal.tif"))


def _broken_row_both_ways(run_cli, monkeypatch, image, tmp_path, broken: str):
    """make-masks of a large Google CSV whose last row's WKT is ``broken`` (far off the
    tile) by the fast path (m.tif), then by GDAL's whole read (gdal.tif): both results."""
    import geotile.labels

    monkeypatch.setattr(geotile.labels, "STREAM_BYTES", 0)
    path = tmp_path / "open_buildings.csv"
    path.write_text(open_buildings_csv(big_csv_rows()) + f'0,0,1.0,0.9,"{broken}",X\n')
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif")
    through_gdal(monkeypatch)
    return result, run_cli("make-masks", path, image, "-o", tmp_path / "gdal.tif")


@pytest.mark.parametrize("broken", ["POLYGON ((-3.98 0.74, -3", "POLYGON ((1 2 1.2.3, 3 4))"])
def test_a_large_google_csv_with_broken_wkt_far_off_said_as_before(
        run_cli, monkeypatch, image, tmp_path, broken):
    """A row of WKT cut short (or with a number of two points) far from the tile: make-masks
    says what it said when GDAL parsed every row, in one line, and writes nothing."""
    result, gdal = _broken_row_both_ways(run_cli, monkeypatch, image, tmp_path, broken)
    assert (result.exit_code, result.output) == (gdal.exit_code, gdal.output.replace(
        "gdal.tif", "m.tif"))
    if gdal.exit_code:
        assert_one_line_error(result, "open_buildings.csv", "not vector data GDAL can read")
        assert not (tmp_path / "m.tif").exists()
    else:
        assert np.array_equal(mask_of(tmp_path / "m.tif"), mask_of(tmp_path / "gdal.tif"))


def test_microsoft_lines_alike_but_for_coordinates_read_once(run_cli, image, tmp_path):
    """Lines alike but for their coordinates (Microsoft's: height and confidence -1 on most)
    have the rest of their text parsed once a block: each footprint still burns with its
    own class, and a broken line after hundreds alike is still named by its number."""
    far = shapely.box(X0 + 300, Y0 + 300, X0 + 310, Y0 + 308)
    shapes = [far] * 300 + [utm for utm, _ in FOOTPRINTS] + [far] * 300

    def line(utm, index) -> str:
        return json.dumps({"type": "Feature", "properties": {"class": 1 + index % 2},
                           "geometry": shapely.geometry.mapping(lonlat(utm))}) + "\n"

    text = "".join(line(utm, i) for i, utm in enumerate(shapes))
    path = tmp_path / "part-00170.csv.gz"
    path.write_bytes(gzip.compress(text.encode()))
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif", "--class-field",
                     "class")
    assert result.exit_code == 0, result.output
    mask = mask_of(tmp_path / "m.tif")
    for index, col in zip(range(300, 303), (2, 8, 14), strict=True):
        assert (mask[2:14, col:col + 4] == 1 + index % 2).all()
    broken = text + line(far, 0).replace("}}", "}", 1)
    path.write_bytes(gzip.compress(broken.encode()))
    result = run_cli("make-masks", path, image, "-o", tmp_path / "b.tif")
    assert_one_line_error(result, "part-00170.csv.gz", f"line {len(shapes) + 1}")
    assert not (tmp_path / "b.tif").exists()


@pytest.mark.parametrize("broken", [
    "POLYGON (-84 34, -84.1 34, -84.1 34.1, -84 34)",  # one bracket too few
    "POLYGON ((-84 34, -84.1 34, -84.1 34.1, -84 34)",  # not closed
    "MULTIPOLYGON ((-84 34, -84.1 34, -84.1 34.1, -84 34))",  # a level missing
    "LINESTRING ((-84 34, -84.1 34))",
    "POLYGON ((-84 34 5, -84.1, 34 -84.1, 34.1 -84, 34))",  # three numbers, then one
    "POLYGON ((+84 34, 84.1 34, 84.1 34.1, 84 34))",  # GDAL reads no '+' before a number
])
def test_a_large_google_csv_with_misshapen_wkt_far_off_refused_as_before(
        run_cli, monkeypatch, image, tmp_path, broken):
    """WKT whose numbers come two a position but whose brackets or signs GDAL refuses, far
    from the tile: make-masks refuses the file as GDAL's whole read did (it exited 0)."""
    result, gdal = _broken_row_both_ways(run_cli, monkeypatch, image, tmp_path, broken)
    assert gdal.exit_code == 1
    assert (result.exit_code, result.stderr) == (1, gdal.stderr)
    assert_one_line_error(result, "open_buildings.csv", "not vector data GDAL can read")
    assert not (tmp_path / "m.tif").exists()


def test_a_large_google_csv_with_nan_wkt_far_off_said_in_one_line(
        run_cli, monkeypatch, image, tmp_path):
    """A far row whose ring GEOS refuses (NaN numbers: the ring is not closed): the one
    line GDAL's whole read gave, without numpy's 'invalid value encountered in from_wkb'
    warning before it."""
    import geotile.labels

    monkeypatch.setattr(geotile.labels, "STREAM_BYTES", 0)
    path = tmp_path / "open_buildings.csv"
    path.write_text(open_buildings_csv(big_csv_rows())
                    + '0,0,1.0,0.9,"POLYGON ((nan nan, 1 1, 2 2, nan nan))",X\n')
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif")
    through_gdal(monkeypatch)
    gdal = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif")
    assert gdal.exit_code == 1
    assert (result.exit_code, result.stderr) == (1, gdal.stderr)
    assert_one_line_error(result, "open_buildings.csv", "not vector data GDAL can read")


@pytest.mark.parametrize("value", ["high", "0.8x"])
def test_a_large_google_csv_with_text_in_a_typed_column_past_the_head_warns_as_before(
        run_cli, monkeypatch, image, tmp_path, value):
    """--where types the columns from the first 1 MB (GDAL's AUTODETECT_TYPE): text in the
    confidence column of a far row past it, GDAL's whole read warned once naming its record
    (exit 0, the same mask); the rows near the tile alone said nothing. Read by GDAL whole,
    the same warning and mask."""
    import geotile.labels

    monkeypatch.setattr(geotile.labels, "STREAM_BYTES", 0)
    rows = big_csv_rows()
    far = open_buildings_csv(rows[:100]).split("\n", 1)[1]
    path = tmp_path / "open_buildings.csv"
    text = open_buildings_csv(rows) + far * 50  # ~1.3 MB: the head is ~1 MB
    at = text.index(",0.8,", 2**20 + 50_000)
    path.write_text(text[:at] + f",{value}," + text[at + 5:])
    args = ("--where", "confidence >= 0.8")
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif", *args)
    through_gdal(monkeypatch)
    gdal = run_cli("make-masks", path, image, "-o", tmp_path / "gdal.tif", *args)
    assert gdal.exit_code == 0 and "Invalid value type found in record" in gdal.stderr
    assert (result.exit_code, result.stderr) == (0, gdal.stderr.replace("gdal.tif", "m.tif"))
    assert np.array_equal(mask_of(tmp_path / "m.tif"), mask_of(tmp_path / "gdal.tif"))


def test_a_google_csv_with_a_field_over_128_kb_in_its_first_row_is_read(
        run_cli, image, tmp_path):
    """A first row with a field longer than Python's csv limit (131,072 characters): the
    check for Microsoft's index of footprint files stopped make-masks with a traceback
    ('field larger than field limit'); the footprints now burn."""
    far = shapely.box(X0 + 300, Y0 + 300, X0 + 310, Y0 + 308)
    text = open_buildings_csv([(far, 0.8), *FOOTPRINTS])
    head, first, rest = text.split("\n", 2)
    path = tmp_path / "open_buildings.csv"
    path.write_text(f"{head}\n{first.replace('865Q8X6C+2XQ5', 'X' * 200_000)}\n{rest}")
    result = run_cli("make-masks", path, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    footprints_burnt(mask_of(tmp_path / "m.tif"))


def _scaled_utm(factor: float = 1e5) -> list:
    """The footprints' UTM metres divided by ``factor``: (7.4, 37.35), degrees that lie
    far from the image (a unit slip), not beyond +-180/+-90."""
    return [shapely.transform(utm, lambda xy: xy / factor) for utm, _ in FOOTPRINTS]


def _plain_wkb_parquet(path, shapes) -> None:
    """A Parquet of a WKB 'geometry' column without 'geo' metadata (pyarrow's, DuckDB's)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"geometry": pa.array(shapely.to_wkb(shapes).tolist(),
                                                   pa.binary())}), path)


@pytest.mark.parametrize("name", ["plain.parquet", "wkt.csv"])
def test_labels_in_a_guessed_crs_that_miss_every_image_are_refused(run_cli, image, tmp_path,
                                                                    name):
    """A Parquet without 'geo' metadata (or a CSV of WKT) names no CRS: read as lon/lat,
    UTM metres divided by 1e5 (in +-180/+-90) lay nowhere near the image, and make-masks
    exited 0 with an all-zero mask and two warnings. Now it exits 1 with one line naming
    the file, the CRS assumed and why, and --labels-crs with the image's CRS; no mask."""
    path = tmp_path / name
    if name.endswith(".parquet"):
        _plain_wkb_parquet(path, _scaled_utm())
    else:
        path.write_text("id,WKT_geometry\n" + "".join(f'{i},"{s.wkt}"\n'
                                            for i, s in enumerate(_scaled_utm())))
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", path, image, "-o", out)
    assert_one_line_error(result, name, "no feature overlaps", "lon/lat", "no CRS",
                          f"--labels-crs {UTM_CRS}")
    assert not out.exists()


def test_labels_of_a_declared_crs_that_miss_every_image_stay_a_warning(run_cli, image,
                                                                        tmp_path):
    """The same footprints in a GeoParquet that declares lon/lat: the file says so, so they
    lie elsewhere as far as geotile can tell: an all-zero mask and a warning, as before."""
    import geopandas as gpd

    path = tmp_path / "declared.parquet"
    gpd.GeoDataFrame(geometry=_scaled_utm(), crs="OGC:CRS84").to_parquet(path)
    out = tmp_path / "m.tif"
    result = run_cli("make-masks", path, image, "-o", out)
    assert result.exit_code == 0, result.output
    assert "no feature overlaps" in result.stderr, result.stderr
    assert not mask_of(out).any()


def test_guessed_crs_labels_that_hit_one_image_of_two_are_burnt(run_cli, image, make_raster,
                                                                 tmp_path):
    """A plain Parquet of lon/lat footprints on one image of two: the guess holds there,
    both masks are written (the other all zeros, with its warning)."""
    path = tmp_path / "plain.parquet"
    _plain_wkb_parquet(path, [lonlat(utm) for utm, _ in FOOTPRINTS])
    far = make_raster("far.tif", np.zeros((20, 20), np.uint8),
                      transform=rasterio.transform.from_origin(X0 + 5000, Y0, 0.5, 0.5))
    result = run_cli("make-masks", path, image, far, "-o", tmp_path / "masks")
    assert result.exit_code == 0, result.output
    footprints_burnt(mask_of(tmp_path / "masks" / "img.tif"))
    assert not mask_of(tmp_path / "masks" / "far.tif").any()


def test_a_label_folder_file_in_a_guessed_crs_missing_its_image_writes_no_mask(
        run_cli, image, make_raster, tmp_path):
    """A folder of one plain Parquet per image: b.parquet holds UTM metres / 1e5, read as
    lon/lat nowhere near b.tif. The run is refused naming b.parquet before any mask is
    written (img.tif's, from a sound file, included), not after img.tif's."""
    folder = tmp_path / "labels"
    folder.mkdir()
    _plain_wkb_parquet(folder / "img.parquet", [lonlat(utm) for utm, _ in FOOTPRINTS])
    _plain_wkb_parquet(folder / "b.parquet", _scaled_utm())
    other = make_raster("b.tif", np.zeros((20, 20), np.uint8))
    result = run_cli("make-masks", folder, image, other, "-o", tmp_path / "masks")
    assert_one_line_error(result, "b.parquet", "no feature overlaps", "no CRS",
                          f"--labels-crs {UTM_CRS}")
    assert not list((tmp_path / "masks").glob("*.tif"))
