"""make-masks --where: vector labels' features selected by an OGR SQL WHERE expression, as
gdal_rasterize -where selects them, the same from every container."""

from __future__ import annotations

import codecs
import json
import shutil
import subprocess

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely

from tests.conftest import UTM_CRS, UTM_ORIGIN, write_raster

X0, Y0 = UTM_ORIGIN
#: (confidence, "Building Type", status, n, kind) of 8 footprints, 2 m apart along a row
ROWS = [
    (0.80, "House", "ok", 1, "house"),
    (0.60, "house", None, 2, "house"),
    (0.75, "Shed", "it's", 3, "shed"),
    (0.90, "Garage", "ok", 4, "garage"),
    (0.70, "House", None, 5, "house"),
    (0.95, "Shed", "ok", 6, "shed"),
    (0.65, "garage", "old", 7, "garage"),
    (0.85, "House", "ok", 8, "house"),
]


def _frame() -> gpd.GeoDataFrame:
    boxes = [shapely.box(X0 + 1 + 2.5 * i, Y0 - 6, X0 + 2.5 + 2.5 * i, Y0 - 2)
             for i in range(len(ROWS))]
    columns = list(zip(*ROWS, strict=True))
    return gpd.GeoDataFrame({"confidence": columns[0], "Building Type": columns[1],
                             "status": columns[2], "n": np.array(columns[3], dtype=np.int64),
                             "kind": columns[4]}, geometry=boxes, crs=UTM_CRS)


def _containers(folder) -> dict:
    """The same footprints as GeoJSON, GeoPackage, FlatGeobuf, GeoParquet and a CSV of WKT
    (as Google Open Buildings' : no CRS, given by --labels-crs)."""
    frame = _frame()
    paths = {"geojson": folder / "f.geojson", "gpkg": folder / "f.gpkg",
             "fgb": folder / "f.fgb", "parquet": folder / "f.parquet", "csv": folder / "f.csv"}
    frame.to_file(paths["geojson"], driver="GeoJSON")
    frame.to_file(paths["gpkg"], driver="GPKG")
    frame.to_file(paths["fgb"], driver="FlatGeobuf")
    frame.to_parquet(paths["parquet"])
    table = frame.drop(columns="geometry").assign(geometry=frame.geometry.to_wkt())
    table.to_csv(paths["csv"], index=False)
    return paths


def _lines_files(folder) -> dict:
    """The same footprints as GeoJSON text sequences, one Feature a line (plain, and
    gzipped as Microsoft's .csv.gz), in UTM given by --labels-crs."""
    import gzip

    text = "".join(json.dumps(f) + "\n" for f in _frame().iterfeatures(drop_id=True))
    paths = {"geojsonl": folder / "f.geojsonl", "csv.gz": folder / "f.csv.gz"}
    paths["geojsonl"].write_text(text)
    paths["csv.gz"].write_bytes(gzip.compress(text.encode()))
    return paths


def _image(path, x0=X0):
    from rasterio.transform import from_origin

    return write_raster(path, np.full((1, 20, 48), 9, np.uint8),
                        transform=from_origin(x0, Y0, 0.5, 0.5))


def _mask(path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read()


def _make(run_cli, labels, image, output, *args):
    crs = ["--labels-crs", UTM_CRS] if str(labels).endswith((".csv", ".geojsonl", ".csv.gz")) \
        else []
    return run_cli("make-masks", labels, image, "-o", output, *crs, *args)


#: expressions and the ROWS (by n) each selects
EXPRESSIONS = {
    "confidence >= 0.75": {1, 3, 4, 6, 8},
    "\"Building Type\" = 'House'": {1, 2, 5, 8},  # OGR SQL: = ignores case, LIKE not
    "status = 'it''s'": {3},
    "n IN (2, 4, 6)": {2, 4, 6},
    "\"Building Type\" LIKE 'Ho%'": {1, 5, 8},  # case-sensitive: not 'house'
    "confidence > 0.7 AND (kind = 'shed' OR n < 2)": {1, 3, 6},
    "NOT kind = 'garage' AND n <> 8": {1, 2, 3, 5, 6},
}


def _selected_pixels(numbers) -> int:
    return sum(3 * 8 for n in numbers)  # each box 1.5 m x 4 m: 3 x 8 px at 0.5 m


@pytest.mark.parametrize("where", list(EXPRESSIONS))
def test_the_five_containers_give_identical_masks(tmp_path, run_cli, where):
    """GeoJSON (GDAL's reader), GeoPackage (not its SQLite reader: OGR SQL, LIKE
    case-sensitive), FlatGeobuf, GeoParquet (pyarrow), CSV (typed) and GeoJSON text
    sequences, plain and gzipped (GDAL's GeoJSONSeq reader, not geotile's stream): one
    mask."""
    paths = {**_containers(tmp_path), **_lines_files(tmp_path)}
    image = _image(tmp_path / "tile.tif")
    masks = {}
    for kind, labels in paths.items():
        result = _make(run_cli, labels, image, tmp_path / f"{kind}.tif", "--where", where)
        assert result.exit_code == 0, (kind, result.output)
        masks[kind] = _mask(tmp_path / f"{kind}.tif")
    first = masks["geojson"]
    assert int(first.sum()) == _selected_pixels(EXPRESSIONS[where])
    for kind, mask in masks.items():
        assert mask.tobytes() == first.tobytes(), kind


@pytest.mark.parametrize("where", ["status IS NULL", "status IS NOT NULL AND n > 3"])
def test_nulls_are_selected_alike(tmp_path, run_cli, where):
    """IS NULL / IS NOT NULL from the containers that hold nulls (a CSV's empty cell is
    text '', as GDAL reads it)."""
    paths = _containers(tmp_path)
    image = _image(tmp_path / "tile.tif")
    expected = {r[3] for r in ROWS if r[2] is None} if where == "status IS NULL" else \
        {r[3] for r in ROWS if r[2] is not None and r[3] > 3}
    for kind in ("geojson", "gpkg", "fgb", "parquet"):
        result = _make(run_cli, paths[kind], image, tmp_path / f"{kind}.tif", "--where", where)
        assert result.exit_code == 0, (kind, result.output)
        assert int(_mask(tmp_path / f"{kind}.tif").sum()) == _selected_pixels(expected), kind


@pytest.mark.skipif(shutil.which("gdal_rasterize") is None, reason="no gdal_rasterize")
@pytest.mark.parametrize("where", [*EXPRESSIONS, "status IS NULL", "kind IS NOT NULL"])
def test_equal_to_gdal_rasterize_where(tmp_path, run_cli, where):
    paths = _containers(tmp_path)
    image = _image(tmp_path / "tile.tif")
    for kind in ("geojson", "fgb"):  # OGR SQL in GDAL too (a GeoPackage's goes to SQLite)
        reference = write_raster(tmp_path / f"gdal_{kind}.tif", np.zeros((1, 20, 48), np.uint8),
                                 transform=rasterio.open(image).transform)
        subprocess.run(["gdal_rasterize", "-q", "-burn", "1", "-where", where,
                        str(paths[kind]), str(reference)], check=True)
        result = _make(run_cli, paths[kind], image, tmp_path / f"{kind}.tif", "--where", where)
        assert result.exit_code == 0, result.output
        assert _mask(tmp_path / f"{kind}.tif").tobytes() == _mask(reference).tobytes(), kind


@pytest.mark.parametrize("where, complaint", [
    ("confidence >>= 2", "syntax error"),
    ("nope = 1", "Fields: confidence, Building Type, status, n, kind"),
    ("kind >= 0.75", "Type mismatch"),
])
def test_a_bad_expression_is_one_line_and_writes_nothing(tmp_path, run_cli, where, complaint):
    paths = _containers(tmp_path)
    image = _image(tmp_path / "tile.tif")
    for kind in ("geojson", "gpkg", "parquet"):
        output = tmp_path / f"{kind}.tif"
        result = _make(run_cli, paths[kind], image, output, "--where", where)
        assert result.exit_code == 1, result.output
        message = result.stderr.strip()
        assert len(message.splitlines()) == 1, message
        assert str(paths[kind]) in message and repr(where) in message and complaint in message
        assert not output.exists()


def test_labels_in_pixels_and_label_rasters_are_refused(tmp_path, run_cli):
    image = _image(tmp_path / "tile.tif")
    coco = tmp_path / "annotation.json"
    coco.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "tile.tif", "width": 48, "height": 20}],
        "annotations": [], "categories": [{"id": 1, "name": "building"}]}))
    raster = _image(tmp_path / "classes.tif")
    for labels in (coco, raster):
        result = run_cli("make-masks", labels, image, "-o", tmp_path / "m.tif",
                         "--where", "kind = 'shed'")
        assert result.exit_code == 1, result.output
        assert "--where" in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "m.tif").exists()


def _two_tiles(tmp_path, suffix=".gpkg"):
    """Two images: the first holds footprints 1..8, the second (48 m east) only sheds,
    one of them a garage the filter drops (in one file of ``suffix``)."""
    paths = _containers(tmp_path)
    east = _frame().iloc[[2, 3, 5]].copy()
    east["geometry"] = east.geometry.translate(48.0)
    both = gpd.GeoDataFrame(
        __import__("pandas").concat([_frame(), east], ignore_index=True), crs=UTM_CRS)
    both.to_file(tmp_path / f"both{suffix}", driver="GPKG" if suffix == ".gpkg" else None)
    images = tmp_path / "images"
    images.mkdir()
    _image(images / "a.tif")
    _image(images / "b.tif", X0 + 48.0)
    return paths, tmp_path / f"both{suffix}", images


@pytest.mark.parametrize("suffix", [".gpkg", ".fgb", ".geojson", "streamed .geojson"])
def test_class_ids_come_from_the_selected_features_in_every_tile(tmp_path, run_cli, suffix,
                                                                 monkeypatch):
    """garage filtered out everywhere takes no id: house 1, shed 2, in both tiles (the
    second holds only sheds), in one process and with --workers 2 (a FlatGeobuf's class
    values are read once for the tasks: of the selected features too)."""
    if suffix.startswith("streamed"):  # geotile's chunked reader of large GeoJSON
        monkeypatch.setattr("geotile.labels.STREAM_BYTES", 0)
        suffix = ".geojson"
    _, both, images = _two_tiles(tmp_path, suffix)
    where = "kind <> 'garage'"
    runs = {}
    for name, extra in (("one", []), ("two", ["--workers", "2"])):
        out = tmp_path / name
        result = run_cli("make-masks", both, images, "-o", out, "--class-field", "kind",
                         "--where", where, "--json", *extra)
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        assert summary["classes"] == ["background", "house", "shed"], summary["classes"]
        runs[name] = [_mask(out / "a.tif"), _mask(out / "b.tif")]
    a, b = runs["one"]
    assert set(np.unique(a)) == {0, 1, 2} and set(np.unique(b)) == {0, 2}
    assert int((b == 2).sum()) == 2 * 24  # its two sheds, the garage left out
    for one, two in zip(runs["one"], runs["two"], strict=True):
        assert one.tobytes() == two.tobytes()


def test_resume_redoes_the_masks_when_where_changes(tmp_path, run_cli):
    paths = _containers(tmp_path)
    image = _image(tmp_path / "tile.tif")
    out = tmp_path / "m.tif"
    args = (paths["gpkg"], image, "-o", out)
    assert run_cli("make-masks", *args, "--where", "n < 4").exit_code == 0
    again = run_cli("make-masks", *args, "--where", "n < 4", "--resume")
    assert again.exit_code == 0 and "skipped (--resume)" in again.stdout
    changed = run_cli("make-masks", *args, "--where", "n < 3", "--resume")
    assert changed.exit_code == 0 and "skipped" not in changed.stdout, changed.output
    assert int(_mask(out).sum()) == _selected_pixels({1, 2})
    unfiltered = run_cli("make-masks", *args, "--resume")
    assert unfiltered.exit_code == 0 and "skipped" not in unfiltered.stdout
    assert int(_mask(out).sum()) == _selected_pixels(range(1, 9))


def test_a_label_folder_is_filtered_file_by_file(tmp_path, run_cli):
    """Each tile's own label file filtered; an expression one file cannot take (its fields
    differ) is refused before any mask is written."""
    labels, images = tmp_path / "labels", tmp_path / "images"
    labels.mkdir()
    images.mkdir()
    frame = _frame()
    frame.iloc[:4].to_file(labels / "a.geojson", driver="GeoJSON")
    east = frame.iloc[4:].copy()
    east["geometry"] = east.geometry.translate(48.0)
    east.to_file(labels / "b.gpkg", driver="GPKG")
    _image(images / "a.tif")
    _image(images / "b.tif", X0 + 48.0)
    result = run_cli("make-masks", labels, images, "-o", tmp_path / "m", "--where",
                     "confidence >= 0.8")
    assert result.exit_code == 0, result.output
    assert int(_mask(tmp_path / "m" / "a.tif").sum()) == _selected_pixels({1, 4})
    assert int(_mask(tmp_path / "m" / "b.tif").sum()) == _selected_pixels({6, 8})
    east.drop(columns="kind").to_file(labels / "b.gpkg", driver="GPKG")
    refused = run_cli("make-masks", labels, images, "-o", tmp_path / "n", "--where",
                      "kind = 'house'")
    assert refused.exit_code == 1 and "b.gpkg" in refused.stderr, refused.output
    assert not (tmp_path / "n" / "a.tif").exists()


def test_osm_buildings_among_other_areas(tmp_path, run_cli):
    """An OpenStreetMap extract's multipolygons layer holds buildings, landuse and parks:
    --where "building IS NOT NULL" burns the buildings only."""
    from rasterio.transform import from_origin

    def way(ident, x0, tags):
        corners = [(x0, 0), (x0 + 4, 0), (x0 + 4, 4), (x0, 4)]
        nodes = "".join(f'<node id="{ident * 10 + i}" lat="{50 - (1 + y) * 1e-5}" '
                        f'lon="{10 + (1 + x) * 1e-5}"/>' for i, (x, y) in enumerate(corners))
        refs = "".join(f'<nd ref="{ident * 10 + i}"/>' for i in [0, 1, 2, 3, 0])
        tagged = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        return nodes, f'<way id="{ident}">{refs}{tagged}</way>'

    parts = [way(1, 0, {"building": "yes"}), way(2, 6, {"landuse": "grass"}),
             way(3, 12, {"leisure": "park"}), way(4, 18, {"building": "house"})]
    osm = tmp_path / "city.osm"
    osm.write_text('<?xml version="1.0"?><osm version="0.6">'
                   + "".join(n for n, _ in parts) + "".join(w for _, w in parts) + "</osm>")
    image = write_raster(tmp_path / "tile.tif", np.ones((1, 8, 26), np.uint8),
                         crs="EPSG:4326", transform=from_origin(10.0, 50.0, 1e-5, 1e-5))
    everything = run_cli("make-masks", osm, image, "-o", tmp_path / "all.tif",
                         "--layer", "multipolygons")
    assert everything.exit_code == 0, everything.output
    result = run_cli("make-masks", osm, image, "-o", tmp_path / "m.tif",
                     "--layer", "multipolygons", "--where", "building IS NOT NULL")
    assert result.exit_code == 0, result.output
    assert int(_mask(tmp_path / "all.tif").sum()) == 4 * 16
    mask = _mask(tmp_path / "m.tif")[0]
    assert int(mask.sum()) == 2 * 16 and mask[3, 3] == 1 and mask[3, 9] == 0


def test_an_empty_selection_says_so_not_a_wrong_crs(tmp_path, run_cli):
    """--where selecting none of the features writes an all-zero mask (exit 0) and says the
    expression selected none of them, not that the labels' CRS may be wrong."""
    paths = _containers(tmp_path)
    image = _image(tmp_path / "tile.tif")
    for kind in ("geojson", "gpkg"):
        output = tmp_path / f"{kind}.tif"
        result = _make(run_cli, paths[kind], image, output, "--where", "confidence > 2")
        assert result.exit_code == 0, result.output
        assert not _mask(output).any()
        assert "--where 'confidence > 2' selects none of its 8 features" in result.stderr
        assert "CRS" not in result.stderr, result.stderr


def _special_geojson(case: str) -> bytes:
    """A GeoJSON of the 8 footprints showing one of the cases geotile's own reader handles
    (and names in its warnings), in UTM by a GeoJSON 2008 crs member."""
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32616"}}
    if case == "crs link":
        crs = {"type": "link", "properties": {"href": "http://example.com/crs/32616"}}
    features = json.loads(_frame().to_json(drop_id=True))["features"]
    for i, feature in enumerate(features):
        ring = feature["geometry"]["coordinates"][0]
        if case == "unclosed ring" and i % 2:
            feature["geometry"]["coordinates"][0] = ring[:-1]
        if case == "M values":
            feature["geometry"]["coordinates"][0] = [[*p, 5.0, 7.0] for p in ring]
        if case == "broken feature" and i == 3:
            feature["geometry"]["coordinates"] = [[ring[0]]]
        feature["id"] = f"b{i}"
    document = {"type": "FeatureCollection", "crs": crs, "features": features}
    if case == "latin-1":
        return json.dumps(document, ensure_ascii=False).replace("Garage", "Garäge") \
            .encode("latin-1")
    raw = json.dumps(document).encode()
    return codecs.BOM_UTF8 + raw if case == "UTF-8 BOM" else \
        raw.decode().encode("utf-16") if case == "UTF-16" else raw


GEOJSON_CASES = ["crs link", "unclosed ring", "M values", "broken feature", "latin-1",
                 "UTF-8 BOM", "UTF-16"]


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("case", GEOJSON_CASES)
def test_a_geojson_is_read_as_without_where(tmp_path, run_cli, monkeypatch, case, streamed):
    """--where read a GeoJSON with GDAL's driver, geotile's own reader only where GDAL
    failed: a crs link taken for lon/lat ('coordinates ... are not longitude/latitude'
    instead of 'crs member is a link'), GDAL's own warnings (unclosed rings as 'FID 1',
    M values) instead of geotile's naming each feature and its id. Now: the same reader,
    warnings and mask as without --where ("1 = 1"), and a selective --where burns what the
    same features pre-filtered into another file burn."""
    if streamed:
        monkeypatch.setattr("geotile.labels.STREAM_BYTES", 0)
    labels = tmp_path / "f.geojson"
    labels.write_bytes(_special_geojson(case))
    image = _image(tmp_path / "tile.tif")
    out = tmp_path / "m.tif"
    runs = {}
    for name, extra in (("plain", []), ("all", ["--where", "1 = 1"])):
        result = _make(run_cli, labels, image, out, "--class-field", "kind", "--overwrite",
                       *extra)
        runs[name] = (result.exit_code, result.stderr,
                      _mask(out).tobytes() if result.exit_code == 0 else None)
    assert runs["all"] == runs["plain"]
    if case == "crs link":
        assert "crs member is a link" in runs["plain"][1]
        return
    where = "confidence >= 0.75 AND kind <> 'house'"
    selected = _make(run_cli, labels, image, out, "--class-field", "kind", "--overwrite",
                     "--where", where)
    assert selected.exit_code == 0, selected.output
    kept = [n for c, _, _, n, k in ROWS if c >= 0.75 and k != "house"]
    document = json.loads(_special_geojson(case).decode(
        "latin-1" if case == "latin-1" else "utf-16" if case == "UTF-16" else "utf-8-sig"))
    document["features"] = [f for f in document["features"] if f["properties"]["n"] in kept]
    filtered = tmp_path / "filtered.geojson"
    filtered.write_text(json.dumps(document))
    reference = _make(run_cli, filtered, image, tmp_path / "r.tif", "--class-field", "kind")
    assert reference.exit_code == 0, reference.output
    assert _mask(out).tobytes() == _mask(tmp_path / "r.tif").tobytes()


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("where, expected", [
    ("d > '2024-01-03'", {2, 3, 4}),
    ("d = '2024/01/05'", {2}),  # a Date field, as GDAL types such strings
    ("t >= '2024-01-05 10:00:00'", {2, 3, 4}),
    ("o = '{ \"a\": 1 }'", {1}),  # a nested object: its JSON as GDAL writes it
    ("n IS NULL", {2, 4}),
    ("d LIKE '2024-01%'", None),  # LIKE takes no Date, as GDAL refuses it
])
def test_geojson_fields_are_typed_as_gdal_types_them(tmp_path, run_cli, monkeypatch,
                                                     where, expected, streamed):
    if streamed:
        monkeypatch.setattr("geotile.labels.STREAM_BYTES", 0)
    values = [{"n": 1, "d": "2024-01-01", "t": "2024-01-01T10:00:00Z", "o": {"a": 1}},
              {"n": None, "d": "2024-01-05", "t": "2024-01-05T10:00:00Z", "o": {"a": 2}},
              {"n": 3, "d": "2024-02-01", "t": "2024-02-01T10:00:00Z", "o": None},
              {"d": "2024-02-03", "t": "2024-02-03T00:00:00"}]
    features = json.loads(_frame().iloc[:4].to_json(drop_id=True))["features"]
    for feature, properties in zip(features, values, strict=True):
        feature["properties"] = properties
    labels = tmp_path / "f.geojson"
    labels.write_text(json.dumps({"type": "FeatureCollection", "features": features,
                                  "crs": {"type": "name", "properties": {"name": UTM_CRS}}}))
    image = _image(tmp_path / "tile.tif")
    result = _make(run_cli, labels, image, tmp_path / "m.tif", "--where", where)
    if expected is None:
        assert result.exit_code == 1 and "LIKE" in result.stderr, result.output
        return
    assert result.exit_code == 0, result.output
    assert int(_mask(tmp_path / "m.tif").sum()) == _selected_pixels(expected)


@pytest.mark.parametrize("empty", ["b.geojson", "b.gpkg", "b.parquet"])
def test_a_label_file_without_features_takes_any_expression(tmp_path, run_cli, empty):
    """A tile without buildings has a label file of no features (SpaceNet's empty
    FeatureCollection): it has no fields either, so every expression was refused for it
    ('"confidence" not recognised ... Fields: none'), the whole folder with it; now it gives
    the all-zero mask it gives without --where, the other tiles filtered."""
    labels, images = tmp_path / "labels", tmp_path / "images"
    labels.mkdir()
    images.mkdir()
    _frame().iloc[:4].to_file(labels / "a.geojson", driver="GeoJSON")
    if empty == "b.geojson":
        (labels / empty).write_text('{"type": "FeatureCollection", "features": []}')
    else:
        none = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=UTM_CRS))
        none.to_parquet(labels / empty) if empty.endswith(".parquet") else \
            none.to_file(labels / empty, driver="GPKG")
    _image(images / "a.tif")
    _image(images / "b.tif", X0 + 48.0)
    result = run_cli("make-masks", labels, images, "-o", tmp_path / "m", "--where",
                     "confidence >= 0.8")
    assert result.exit_code == 0, result.output
    assert int(_mask(tmp_path / "m" / "a.tif").sum()) == _selected_pixels({1, 4})
    assert not _mask(tmp_path / "m" / "b.tif").any()
    assert f"{empty} holds no features" in result.output, result.output
    alone = run_cli("make-masks", labels / empty, images / "b.tif", "-o", tmp_path / "b.tif",
                    "--where", "confidence >= 0.8")
    assert alone.exit_code == 0, alone.output
    assert not _mask(tmp_path / "b.tif").any()
