"""`geotile vectorize` and `geotile evaluate` on the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from glob import escape as glob_escape

import geopandas as gpd
import numpy as np
import pytest
import shapely
from rasterio.transform import from_origin

from .conftest import UTM_CRS, UTM_ORIGIN, assert_one_line_error

X0, Y0 = UTM_ORIGIN


def test_vectorizing_a_0_1_mask_leaves_scipy_unimported(make_raster, tmp_path):
    """Start-up counts (issue 16: vectorize against gdal_polygonize.py): telling a 0/1 mask
    from a JPEG-noisy 0/255 one needs no scipy filter where the mask holds no 255 (its
    import cost 0.15 s of a 1.4 s run on a 6000 px mask)."""
    classes = np.zeros((3300, 40), np.uint8)  # scanned in two bands of 1638 rows
    classes[10, 5:10] = 1  # too few 1s in the first band to tell it from a 0/255 mask
    classes[1700:3300:10, 4:30] = 1  # (1s are strays to a 0/255 reading)
    raster = make_raster("c.tif", classes, transform=from_origin(X0, Y0, 1, 1))
    out = tmp_path / "b.gpkg"
    code = (
        "import sys, runpy\n"
        f"sys.argv = ['geotile', '-q', 'vectorize', {str(raster)!r}, '-o', {str(out)!r}, "
        "'--workers', '1']\n"
        "try:\n    runpy.run_module('geotile', run_name='__main__')\n"
        "except SystemExit as exit:\n    assert not exit.code, exit.code\n"
        "print('LOADED', 'scipy' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert "LOADED False" in done.stdout
    assert len(gpd.read_file(out)) == 161


def test_checking_the_output_crs_leaves_pyproj_unimported(tmp_path):
    """Start-up counts: vectorize checks its output CRS before the workers fork; a CRS on
    the earth (projected or geographic) is told from a local site grid without pyproj (its
    import cost 0.05 s there), which a local grid still gets (its refusal below)."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from rasterio.crs import CRS\n"
        "import geotile.vectorize\n"
        "from geotile.output_crs import check_output_crs\n"
        "for code in ('EPSG:32633', 'EPSG:4326'):\n"
        f"    check_output_crs(Path({str(tmp_path / 'b.gpkg')!r}), 'GPKG', 'source', "
        "CRS.from_string(code))\n"
        "print('LOADED', 'pyproj' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert "LOADED False" in done.stdout
    from rasterio.crs import CRS

    from geotile.errors import InputError
    from geotile.output_crs import check_output_crs

    site = CRS.from_wkt('LOCAL_CS["site grid",UNIT["metre",1],AXIS["Easting",EAST],'
                        'AXIS["Northing",NORTH]]')
    with pytest.raises(InputError, match="local CRS"):
        check_output_crs(tmp_path / "b.geojson", "GeoJSON", "source", site)


def test_vectorize_then_evaluate_against_the_truth(run_cli, make_raster, tmp_path):
    classes = np.zeros((40, 40), np.uint8)
    classes[4:14, 4:14] = 1
    classes[20:36, 22:30] = 1
    raster = make_raster("c.tif", classes, transform=from_origin(X0, Y0, 1, 1))
    truth = gpd.GeoDataFrame(geometry=[shapely.box(X0 + 4, Y0 - 14, X0 + 14, Y0 - 4),
                                       shapely.box(X0 + 22, Y0 - 36, X0 + 30, Y0 - 20)],
                             crs=UTM_CRS)
    truth.to_file(tmp_path / "truth.geojson")
    result = run_cli("vectorize", raster, "-o", tmp_path / "b.geojson", "--regularize")
    assert result.exit_code == 0, result.output
    assert "2 polygons" in result.stdout
    corner = json.loads((tmp_path / "b.geojson").read_text())["features"][0]["geometry"]
    lon, lat = corner["coordinates"][0][0]  # RFC 7946: longitude first (Atlanta: -84.4, 33.7)
    assert -85 < lon < -84 and 33 < lat < 34
    result = run_cli("evaluate", tmp_path / "b.geojson", tmp_path / "truth.geojson", "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert (scores["tp"], scores["fp"], scores["fn"], scores["f1"]) == (2, 0, 0, 1.0)
    result = run_cli("evaluate", tmp_path / "b.geojson", tmp_path / "truth.geojson",
                     "--report", tmp_path / "r.png")
    assert result.exit_code == 0 and (tmp_path / "r.png").exists()
    assert "F1 1.0000" in result.stdout


def test_pixel_evaluate_table(run_cli, make_raster):
    mask = np.zeros((20, 20), np.uint8)
    mask[5:10, 5:10] = 1
    a, b = make_raster("a.tif", mask), make_raster("b.tif", mask)
    result = run_cli("evaluate", a, b)
    assert result.exit_code == 0
    assert "building" in result.stdout or "1 " in result.stdout
    assert "accuracy 1.0000" in result.stdout


def test_errors(run_cli, make_raster, tmp_path):
    raster = make_raster("c.tif", np.zeros((10, 10), np.uint8))
    out = tmp_path / "b.geojson"
    out.write_text("{}")
    assert_one_line_error(run_cli("vectorize", raster, "-o", out), "b.geojson", "--overwrite")
    assert_one_line_error(run_cli("vectorize", tmp_path / "no.tif", "-o", tmp_path / "x.gpkg"),
                          "no.tif", "no such file")
    assert_one_line_error(run_cli("evaluate", tmp_path / "no.geojson", out), "no.geojson")


def _pred_and_truth(tmp_path, confs):
    """Two predictions on one truth square: the first fits worse (IoU 0.6), the second
    exactly; whichever is scored first takes the truth."""
    square = shapely.box(X0, Y0, X0 + 10, Y0 + 10)
    truth = gpd.GeoDataFrame(geometry=[square], crs=UTM_CRS)
    truth.to_file(tmp_path / "truth.gpkg")
    pred = gpd.GeoDataFrame({"conf": confs},
                            geometry=[shapely.box(X0, Y0, X0 + 6, Y0 + 10), square], crs=UTM_CRS)
    pred.to_file(tmp_path / "pred.gpkg")
    return tmp_path / "pred.gpkg", tmp_path / "truth.gpkg"


def test_complex_predictions_are_refused(run_cli, make_raster, tmp_path):
    """A complex raster (SAR pixels) given as predictions lost its imaginary parts: vectorize
    wrote 1 polygon of a 1+0j and a 0+1j region, evaluate scored the real parts, exit 0.
    Refused in one line naming it."""
    values = np.zeros((40, 50), np.complex64)
    values[10:20, 10:30], values[25:35, 5:15] = 1, 1j
    pred = make_raster("sar.tif", values)
    truth = make_raster("truth.tif", (values.real > 0).astype(np.uint8))
    result = run_cli("vectorize", pred, "-o", tmp_path / "v.gpkg")
    assert_one_line_error(result, "sar.tif", "complex pixels", "amplitude")
    assert not (tmp_path / "v.gpkg").exists()
    assert_one_line_error(run_cli("evaluate", pred, truth), "sar.tif", "complex pixels")
    assert_one_line_error(run_cli("evaluate", truth, pred), "sar.tif", "complex pixels")


def test_evaluate_reads_numbers_stored_as_text_as_confidences(run_cli, tmp_path):
    pred, truth = _pred_and_truth(tmp_path, ["0.2", " 0.9 "])
    result = run_cli("evaluate", pred, truth, "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert (scores["tp"], scores["fp"], scores["mean_iou"]) == (1, 1, 1.0)
    pred, truth = _pred_and_truth(tmp_path, ["0.9", None])  # missing scores last
    scores = json.loads(run_cli("evaluate", pred, truth, "--json").stdout)
    assert scores["mean_iou"] == 0.6


def test_evaluate_text_confidence_is_one_line(run_cli, tmp_path):
    pred, truth = _pred_and_truth(tmp_path, ["high", "0.9"])
    assert_one_line_error(run_cli("evaluate", pred, truth), "pred.gpkg", "conf", "high",
                          "--conf-field")
    result = run_cli("evaluate", pred, truth, "--conf-field", "")
    assert result.exit_code == 0, result.output


def test_evaluate_tied_confidences_keep_file_order_and_help_says_so(run_cli, tmp_path):
    """Two predictions of equal score, one listed first then the other: SpaceNet's greedy
    matching takes them in file order, so F1 is 0.5 one way and 1.0 the other; --help said
    only 'decreasing order', leaving users to think the score order-free."""
    x, y = UTM_ORIGIN
    truth = gpd.GeoDataFrame(geometry=[shapely.box(x, y, x + 10, y + 10),
                                       shapely.box(x + 10, y, x + 20, y + 10)], crs=UTM_CRS)
    truth.to_file(tmp_path / "t.gpkg")
    wide, narrow = shapely.box(x + 1, y, x + 16, y + 10), shapely.box(x - 3, y, x + 9, y + 10)
    f1 = []
    for name, geoms in (("a", [wide, narrow]), ("b", [narrow, wide])):
        gpd.GeoDataFrame({"score": [0.9, 0.9]}, geometry=geoms, crs=UTM_CRS).to_file(
            tmp_path / f"{name}.gpkg")
        result = run_cli("evaluate", tmp_path / f"{name}.gpkg", tmp_path / "t.gpkg",
                         "--iou", "0.3", "--json")
        f1.append(json.loads(result.stdout)["f1"])
    assert f1 == [0.5, 1.0]
    text = " ".join(run_cli("evaluate", "--help").output.split())
    assert "Equal confidences keep the file's order" in text
    assert "sort the predictions" in text


def test_vectorize_json_summary(run_cli, make_raster, tmp_path):
    classes = np.zeros((40, 40), np.uint8)
    classes[4:14, 4:14] = 1
    classes[20:36, 22:30] = 2
    raster = make_raster("c.tif", classes, transform=from_origin(X0, Y0, 1, 1))
    result = run_cli("vectorize", raster, "-o", tmp_path / "b.gpkg", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary == {"output": str(tmp_path / "b.gpkg"), "features": 2,
                       "per_class": {"building": 1, "2": 1}, "crs": "EPSG:32616",
                       "sources": ["c.tif"]}
    result = run_cli("vectorize", raster, "-o", tmp_path / "q.gpkg", "--json", "-q")
    assert json.loads(result.stdout)["features"] == 2
    # README: -q prints only errors and what was asked for (evaluate's scores, --json)
    result = run_cli("-q", "vectorize", raster, "-o", tmp_path / "r.gpkg")
    assert result.exit_code == 0 and result.output == "", result.output
    result = run_cli("-q", "evaluate", tmp_path / "r.gpkg", tmp_path / "b.gpkg")
    assert result.exit_code == 0 and result.stderr == "", result.output
    assert "TP 2  FP 0  FN 0" in result.stdout, result.stdout


def test_predict_then_vectorize_keeps_the_class_name(run_cli, make_raster, tmp_path):
    from .onnx_models import pointwise_model

    model = pointwise_model(tmp_path / "m.onnx", metadata={"class_names": ["roof"]})
    image = make_raster("i.tif", np.random.default_rng(0).integers(0, 255, (3, 40, 40))
                        .astype(np.uint8), transform=from_origin(X0, Y0, 1, 1))
    result = run_cli("predict", model, image, "-o", tmp_path / "p.tif", "--tile-size", "32")
    assert result.exit_code == 0, result.output
    result = run_cli("vectorize", tmp_path / "p.tif", "-o", tmp_path / "b.gpkg", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["features"] > 0 and set(summary["per_class"]) == {"roof"}
    found = gpd.read_file(tmp_path / "b.gpkg")
    assert set(found["class"]) == {"roof"} and set(found["class_id"]) == {1}
    assert found.crs.to_epsg() == 32616


def test_nan_is_refused_by_every_number_range_option(run_cli, make_raster, tmp_path):
    # NaN passed click's FloatRange (its comparisons are all false): --threshold nan gave
    # 0 polygons, exit 0
    classes = np.zeros((20, 20), np.float32)
    classes[5:15, 5:15] = 0.9
    raster = make_raster("p.tif", classes)
    for option in ("--threshold", "--fill-holes", "--marker-threshold"):
        result = run_cli("vectorize", raster, "-o", tmp_path / "b.gpkg", option, "nan")
        assert_one_line_error(result, option, "'nan' is not a number", code=2)
    assert not (tmp_path / "b.gpkg").exists()
    result = run_cli("vectorize", raster, "-o", tmp_path / "b.gpkg", "--threshold", "1.5")
    assert_one_line_error(result, "--threshold", "0<=x<=1", code=2)
    result = run_cli("vectorize", raster, "-o", tmp_path / "b.gpkg", "--threshold", "0.5")
    assert result.exit_code == 0 and len(gpd.read_file(tmp_path / "b.gpkg")) == 1


def test_vectorize_refuses_options_its_mode_does_not_use(run_cli, make_raster, tmp_path):
    """h12 F5: --marker-threshold with --lines or --no-instances, --min-length without
    --lines, --threshold on a class raster: exit 0, output identical to the run without
    the option, while --lines --regularize was refused. Each is refused in one line (exit 2),
    nothing written; the same options in their own mode still run."""
    import pytest
    import rasterio

    from geotile.errors import UsageError
    from geotile.vectorize_modes import vectorize_rasters

    bands = np.zeros((3, 30, 30), np.float32)
    bands[0, 5:15, 5:25] = 0.9
    fbc = make_raster("fbc.tif", bands, transform=from_origin(X0, Y0, 1, 1))
    with rasterio.open(fbc, "r+") as dst:
        dst.descriptions = ("footprint", "boundary", "contact")
    one = make_raster("p.tif", bands[0], transform=from_origin(X0, Y0, 1, 1))
    classes = make_raster("c.tif", (bands[0] > 0.5).astype(np.uint8) * 2,
                          transform=from_origin(X0, Y0, 1, 1))
    out = tmp_path / "x.gpkg"
    refused = [
        ((fbc, "--lines", "--marker-threshold", "0.3"), "--lines", "--marker-threshold",
         "polygons only"),
        ((fbc, "--lines", "--no-instances", "--boundary-threshold", "0.01"),
         "--boundary-threshold", "polygons only"),
        ((fbc, "--no-instances", "--marker-threshold", "0.3"), "--marker-threshold",
         "--instances"),
        ((fbc, "--no-instances", "--min-marker", "9", "--marker-erosion", "2"),
         "--marker-erosion, --min-marker", "--instances"),
        ((one, "--contact-threshold", "0.3"), "--contact-threshold", "--instances"),
        ((fbc, "--min-length", "10"), "--min-length", "--lines"),
        ((classes, "--threshold", "0.7"), "--threshold", "c.tif", "class"),
        ((classes, "--lines", "--threshold", "0.7"), "--threshold", "c.tif", "class"),
        ((classes, "--boundary-threshold", "0.2"), "--boundary-threshold", "--instances"),
        ((fbc, "--lines", "--regularize"), "--lines", "--regularize"),
    ]
    for args, *fragments in refused:
        result = run_cli("vectorize", *args, "-o", out)
        assert_one_line_error(result, *fragments, code=2)
        assert not out.exists()
    with pytest.raises(UsageError, match="--min-marker"):
        vectorize_rasters(fbc, out, instances=False, min_marker=9)
    for args in ((fbc, "--marker-threshold", "0.3", "--min-marker", "9"),
                 (one, "--lines", "--min-length", "10", "--threshold", "0.7"),
                 (one, "--threshold", "0.7", "--no-instances"), (classes, "--lines")):
        result = run_cli("vectorize", *args, "-o", out, "--overwrite")
        assert result.exit_code == 0, result.output
        assert len(gpd.read_file(out)) == 1


def test_vectorize_help_says_csv_is_written_in_lon_lat(run_cli):
    """h12 F6: --help said EPSG:4326 for GeoJSON and "the rasters' CRS for every other
    format", but a .csv's PolygonWKT_Geo is lon/lat (SpaceNet's, as evaluate reads it)."""
    text = " ".join(run_cli("vectorize", "--help").stdout.split())
    crs = text[text.index("--crs"):text.index("--workers")]
    assert "EPSG:4326 for GeoJSON (RFC 7946) and .csv" in crs, crs


def test_refused_options_name_the_inputs_they_apply_to(run_cli, make_raster, tmp_path):
    """The usage line said where options apply by input kind, whatever the option:
    --threshold on lines "applies to polygon (or pixel) scores" (polygons refuse it),
    --buffer on rasters "to vector files (object scores)", on polygons "to ... probability
    rasters". Each option names its own inputs."""
    mask = np.zeros((20, 20), np.uint8)
    raster = make_raster("r.tif", mask, transform=from_origin(X0, Y0, 1, 1))
    polygons, lines = tmp_path / "a.geojson", tmp_path / "l.gpkg"
    gpd.GeoDataFrame(geometry=[shapely.box(X0, Y0 - 9, X0 + 9, Y0)], crs=UTM_CRS).to_file(
        polygons)
    gpd.GeoDataFrame(geometry=[shapely.LineString([(X0, Y0), (X0 + 50, Y0)])],
                     crs=UTM_CRS).to_file(lines)
    cases = [((lines, "--threshold", "0.3"), "--threshold applies to probability rasters",
              "not to lines", "polygon"),
             ((polygons, "--threshold", "0.4"), "--threshold applies to probability rasters",
              "not to polygons", "line"),
             ((raster, "--class", "1"), "--class applies to road rasters scored with --buffer",
              "not to two rasters", "vector files"),
             ((raster, "--buffer", "3", "--iou", "0.3"), "--iou applies to polygons",
              "not to road rasters scored with --buffer", "pixel"),
             ((polygons, "--buffer", "3"), "--buffer applies to line files", "not to polygons",
              "probability"),
             ((lines, "--iou", "0.3"), "--iou applies to polygons and SpaceNet CSVs",
              "not to lines", "pixel")]
    for (path, *option), *said, wrong in cases:
        result = run_cli("evaluate", path, path, *option)
        assert_one_line_error(result, *said, code=2)
        assert wrong not in result.stderr.split("not to")[0], result.stderr


def test_evaluate_refuses_options_the_inputs_do_not_take(run_cli, make_raster, tmp_path):
    """h12 F7: on two rasters --iou 0.9, --buffer 3, --class-field, --conf-field and
    --repair-truth, on two polygon files --buffer and --threshold, exited 0 with scores
    byte-identical to the run without them (a user passing --iou 0.9 to a pixel evaluation
    believed a stricter score was computed). Each is refused in one line (exit 2) when
    given; their defaults never are."""
    mask = np.zeros((20, 20), np.uint8)
    mask[4:12, 4:12] = 1
    pred = make_raster("pred.tif", mask, transform=from_origin(X0, Y0, 1, 1))
    true = make_raster("true.tif", mask, transform=from_origin(X0, Y0, 1, 1))
    polygons = tmp_path / "a.geojson"
    gpd.GeoDataFrame(geometry=[shapely.box(X0 + 4, Y0 - 12, X0 + 12, Y0 - 4)],
                     crs=UTM_CRS).to_file(polygons)
    (tmp_path / "rp").mkdir()
    (tmp_path / "rt").mkdir()
    for folder, source in (("rp", pred), ("rt", true)):
        (tmp_path / folder / "t.tif").write_bytes(source.read_bytes())
    refused = [((pred, true, "--iou", "0.9"), "--iou", "pixel"),
               ((pred, true, "--class", "1"), "--class"),  # (--buffer: relaxed scores)
               ((pred, true, "--class-field", "cls"), "--class-field"),
               ((pred, true, "--conf-field", "foo", "--repair-truth"),
                "--conf-field, --repair-truth", "apply"),
               ((tmp_path / "rp", tmp_path / "rt", "--iou", "0.5"), "--iou"),
               ((polygons, polygons, "--buffer", "3"), "--buffer", "polygons"),
               ((polygons, polygons, "--threshold", "0.3"), "--threshold")]
    csv = tmp_path / "p.csv"
    csv.write_text("ImageId,BuildingId,PolygonWKT_Pix,Confidence\n"
                   'img1,0,"POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0))",1\n')
    refused += [((csv, csv, "--conf-field", "Confidence"), "--conf-field", "SpaceNet"),
                ((pred, polygons, "--threshold", "0.3"), "raster", "a.geojson"),
                # a class raster (0/1 ids) is not thresholded: --threshold changed nothing
                ((pred, true, "--threshold", "0.3"), "--threshold", "pred.tif", "class ids")]
    for args, *fragments in refused:
        assert_one_line_error(run_cli("evaluate", *args), *fragments,
                              code=1 if "raster" in fragments else 2)
    probabilities = make_raster("p.tif", mask.astype(np.float32) * 0.8,
                                transform=from_origin(X0, Y0, 1, 1))
    for args in ((pred, true), (probabilities, true, "--threshold", "0.3"), (polygons, polygons),
                 (csv, csv, "--iou", "0.6"),
                 (polygons, polygons, "--iou", "0.9", "--repair-truth"),
                 (tmp_path / "rp", tmp_path / "rt")):
        result = run_cli("evaluate", *args, "--json")
        assert result.exit_code == 0, result.output
def _squares(make_raster, tmp_path):
    classes = np.zeros((40, 40), np.uint8)
    classes[4:14, 4:14] = 1
    classes[20:36, 22:30] = 1
    raster = make_raster("c.tif", classes, transform=from_origin(X0, Y0, 1, 1))
    truth = gpd.GeoDataFrame(geometry=[shapely.box(X0 + 4, Y0 - 14, X0 + 14, Y0 - 4)],
                             crs=UTM_CRS)
    truth.to_file(tmp_path / "truth.geojson")
    return raster, tmp_path / "truth.geojson"


def _read_copy(path):
    """The vector file ``path`` read under a name without ';' (GDAL cuts names there)."""
    import shutil

    copy = path.parent.parent / "copy"
    shutil.rmtree(copy, ignore_errors=True)
    copy.mkdir()
    for part in path.parent.glob(glob_escape(path.stem) + ".*"):
        shutil.copy(part, copy / ("x" + part.suffix))
    return gpd.read_file(copy / ("x" + path.suffix))


@pytest.mark.parametrize("name", ["v;.geojson", "v #ü;.gpkg", "v;.fgb", "v;.shp", "v!1.geojson",
                                  "v!1.gpkg", "v!.shp", "v!;.fgb"])
def test_vector_output_named_with_a_semicolon_or_bang_is_written(run_cli, make_raster,
                                                                 tmp_path, name):
    # GDAL cuts vector file names at ';': vectorize said "2 polygons", exit 0, no file;
    # pyogrio cuts them at '!': 'cannot be written (... No such file or directory)', exit 1
    raster, _ = _squares(make_raster, tmp_path)
    out = tmp_path / "out" / name
    result = run_cli("vectorize", raster, "-o", out)
    assert result.exit_code == 0, result.output
    assert len(_read_copy(out)) == 2
    assert sorted(p.name for p in out.parent.iterdir() if p.suffix == out.suffix) == [name]
    assert not [p for p in out.parent.iterdir() if not p.name.startswith("v")]



@pytest.mark.parametrize("lines", [False, True])
def test_shapefile_class_id_is_a_32_bit_integer(run_cli, make_raster, tmp_path, lines):
    """class_id went into the .dbf as Integer64, N(18,0) (gdal_polygonize.py writes its DN
    as Integer, N(9,0)): ArcGIS reads a 0-decimal field wider than 9 digits as Double."""
    import pyogrio

    raster, _ = _squares(make_raster, tmp_path)
    out = tmp_path / "v.shp"
    result = run_cli("vectorize", raster, "-o", out, *(["--lines"] if lines else []))
    assert result.exit_code == 0, result.output
    info = pyogrio.read_info(out)
    types = dict(zip(info["fields"], info["dtypes"], strict=True))
    assert types["class_id"] == "int32"
    assert all(len(name) <= 10 for name in info["fields"])
    frame = gpd.read_file(out)
    assert set(frame["class_id"]) == {1} and len(frame) >= 1

@pytest.mark.parametrize("name", ["err;1.gpkg", "e;.geojson", "err!1.gpkg", "e!.geojson"])
def test_errors_output_named_with_a_semicolon_or_bang_is_written(run_cli, make_raster,
                                                                 tmp_path, name):
    _, truth = _squares(make_raster, tmp_path)
    out = tmp_path / "out" / name
    result = run_cli("evaluate", truth, truth, "--errors", out)
    assert result.exit_code == 0, result.output
    assert list(_read_copy(out)["kind"]) == ["TP"]
    assert [p.name for p in out.parent.iterdir()] == [name]


def test_errors_overwrite_replaces_only_its_layer_of_a_geopackage(run_cli, make_raster,
                                                                  tmp_path):
    # --errors project.gpkg --overwrite replaced the whole file: the user's layers
    # "parcels" and "roads" were gone, exit 0
    import pyogrio

    raster, truth = _squares(make_raster, tmp_path)
    prediction = tmp_path / "pred.gpkg"
    assert run_cli("vectorize", raster, "-o", prediction).exit_code == 0
    project = tmp_path / "project.gpkg"
    parcels = gpd.GeoDataFrame({"owner": ["ann"]}, geometry=[shapely.box(X0, Y0 - 1, X0 + 1, Y0)],
                               crs=UTM_CRS)
    parcels.to_file(project, layer="parcels")
    parcels.to_file(project, layer="roads")
    parcels.to_file(project, layer="errors")  # an older --errors result
    result = run_cli("evaluate", prediction, truth, "--errors", project)
    assert_one_line_error(result, "project.gpkg", "parcels, roads", "--overwrite",
                          "errors", "kept")
    assert gpd.read_file(project, layer="errors")["owner"].tolist() == ["ann"]
    result = run_cli("evaluate", prediction, truth, "--errors", project, "--overwrite")
    assert result.exit_code == 0, result.output
    assert "F1 0.6667" in result.stdout
    assert sorted(name for name, _ in pyogrio.list_layers(project)) == [
        "errors", "parcels", "roads"]
    for layer in ("parcels", "roads"):
        assert gpd.read_file(project, layer=layer)["owner"].tolist() == ["ann"]
    assert sorted(gpd.read_file(project, layer="errors")["kind"]) == ["FP", "TP"]
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("name", ["e.gpkg", "e.geojson", "e.fgb"])
@pytest.mark.parametrize("error", ["enospc", "pyogrio"])
def test_errors_on_a_full_disk_is_one_line_after_the_scores(run_cli, make_raster, tmp_path,
                                                             monkeypatch, name, error):
    # a full disk under --errors gave a 45-line traceback (pyogrio's DataSourceError
    # "Failed to commit transaction", or naming the temporary file) and no scores
    import errno

    import pyogrio.errors

    raster, truth = _squares(make_raster, tmp_path)
    prediction = tmp_path / "pred.gpkg"
    assert run_cli("vectorize", raster, "-o", prediction).exit_code == 0
    before = sorted(p.name for p in tmp_path.iterdir())

    def full(self, target, *args, **kwargs):
        if error == "enospc":
            raise OSError(errno.ENOSPC, "No space left on device")
        raise pyogrio.errors.DataSourceError("Failed to commit transaction")

    monkeypatch.setattr(gpd.GeoDataFrame, "to_file", full)
    result = run_cli("evaluate", prediction, truth, "--errors", tmp_path / name)
    assert_one_line_error(result, name, "cannot be written", "Free space")
    assert ".tmp" not in result.stderr
    assert "F1 0.6667" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == before


SITE_GRID = 'LOCAL_CS["site grid",UNIT["metre",1],AXIS["Easting",EAST],AXIS["Northing",NORTH]]'
SITE_GRID_FT = ('LOCAL_CS["site grid ft",UNIT["US survey foot",0.304800609601219],'
                'AXIS["Easting",EAST],AXIS["Northing",NORTH]]')


def _site_mask(make_raster, name, crs):
    """A 64 x 64 mask of 0.5-unit pixels at (1000, 2000) in a local CRS: a 20 x 20 px
    square and a 2 x 2 px one."""
    mask = np.zeros((64, 64), np.uint8)
    mask[10:30, 10:30] = 1
    mask[40:42, 40:42] = 1
    return make_raster(name, mask, crs=crs, transform=from_origin(1000, 2000, 0.5, 0.5))


def test_vectorize_of_a_local_site_grid_keeps_it_and_measures_its_metres(run_cli, make_raster,
                                                                         tmp_path):
    """A drone raster in a local engineering CRS (LOCAL_CS site grid, Pix4D/Metashape local
    coordinates) ended in a pyproj traceback for .geojson and .gpkg. GeoJSON (WGS 84 only)
    is refused in one line; a GeoPackage keeps the site grid, areas and --min-area in its
    metres (feet grids scaled by their unit)."""
    import pyogrio
    from pyproj import CRS

    mask = _site_mask(make_raster, "site.tif", SITE_GRID)
    result = run_cli("vectorize", mask, "-o", tmp_path / "out.geojson")
    assert_one_line_error(result, "out.geojson", "site grid", "--crs source", ".gpkg")
    assert not (tmp_path / "out.geojson").exists()
    result = run_cli("vectorize", mask, "-o", tmp_path / "out.gpkg", "--min-area", "5")
    assert result.exit_code == 0, result.output
    frame = gpd.read_file(tmp_path / "out.gpkg")
    assert CRS.from_user_input(frame.crs).name == "site grid"
    assert frame["area_m2"].tolist() == [100.0]
    assert frame.total_bounds.tolist() == [1005.0, 1985.0, 1015.0, 1995.0]
    feet = _site_mask(make_raster, "feet.tif", SITE_GRID_FT)
    result = run_cli("vectorize", feet, "-o", tmp_path / "ft.gpkg", "--min-area", "1")
    assert result.exit_code == 0, result.output
    frame = pyogrio.read_dataframe(tmp_path / "ft.gpkg")
    assert frame["area_m2"].tolist() == [9.29]  # 100 ft^2; the 1 ft^2 one is under 1 m^2
    assert frame.total_bounds.tolist() == pytest.approx([1005, 1985, 1015, 1995])
    assert "foot" in CRS.from_user_input(frame.crs).axis_info[0].unit_name


def test_lines_in_a_local_site_grid_are_measured_and_scored(run_cli, make_raster, tmp_path):
    """vectorize --lines of a site-grid raster ended in rasterio's 'Linear units factor is
    not defined', evaluate --buffer of its lines in pyproj's ProjError: the lengths are the
    grid's metres and the lines score against themselves."""
    mask = np.zeros((64, 64), np.uint8)
    mask[30:33, 4:60] = 1
    raster = make_raster("road.tif", mask, crs=SITE_GRID,
                         transform=from_origin(1000, 2000, 0.5, 0.5))
    result = run_cli("vectorize", raster, "-o", tmp_path / "roads.gpkg", "--lines")
    assert result.exit_code == 0, result.output
    lines = gpd.read_file(tmp_path / "roads.gpkg")
    assert len(lines) == 1 and 24 <= lines["length_m"][0] <= 28
    result = run_cli("evaluate", tmp_path / "roads.gpkg", tmp_path / "roads.gpkg",
                     "--buffer", "1")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output


def test_evaluate_of_a_site_grid_against_a_map_crs_is_one_line(run_cli, tmp_path):
    """Predictions in a local site grid against truth in UTM (or in another local grid):
    evaluate ended in pyproj's 'Error creating Transformer from CRS' traceback. One line
    naming both files and CRSs; both in the site grid score (TP 1)."""
    site = gpd.GeoDataFrame(geometry=[shapely.box(1005, 1985, 1015, 1995)], crs=SITE_GRID)
    site.to_file(tmp_path / "site.gpkg")
    site.set_crs(SITE_GRID_FT, allow_override=True).to_file(tmp_path / "feet.gpkg")
    site.set_crs(UTM_CRS, allow_override=True).to_file(tmp_path / "utm.gpkg")
    result = run_cli("evaluate", tmp_path / "site.gpkg", tmp_path / "utm.gpkg")
    assert_one_line_error(result, "site.gpkg", "utm.gpkg", "site grid", "EPSG:32616",
                          "--prediction-crs")
    result = run_cli("evaluate", tmp_path / "feet.gpkg", tmp_path / "site.gpkg")
    assert_one_line_error(result, "feet.gpkg", "site grid ft")
    result = run_cli("evaluate", tmp_path / "site.gpkg", tmp_path / "site.gpkg", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tp"] == 1


def test_errors_geojson_of_a_site_grid_is_one_line(run_cli, tmp_path):
    """evaluate --errors errors.geojson of polygons in a local site grid ended in pyproj's
    ProjError traceback (GeoJSON is WGS 84, which a site grid cannot reach): one line naming
    the file and the fix; --errors errors.gpkg keeps the site grid."""
    from pyproj import CRS

    site = gpd.GeoDataFrame(geometry=[shapely.box(1005, 1985, 1015, 1995)], crs=SITE_GRID)
    site.to_file(tmp_path / "site.gpkg")
    result = run_cli("evaluate", tmp_path / "site.gpkg", tmp_path / "site.gpkg", "--errors",
                     tmp_path / "errors.geojson")
    assert_one_line_error(result, "errors.geojson", "site grid", ".gpkg")
    assert not (tmp_path / "errors.geojson").exists()
    result = run_cli("evaluate", tmp_path / "site.gpkg", tmp_path / "site.gpkg", "--errors",
                     tmp_path / "errors.gpkg")
    assert result.exit_code == 0, result.output
    errors = gpd.read_file(tmp_path / "errors.gpkg")
    assert CRS.from_user_input(errors.crs).name == "site grid"
    assert errors["kind"].tolist() == ["TP"]


def test_a_shapefile_never_replaces_the_prj_an_input_raster_is_read_with(run_cli, tmp_path):
    # an ESRI .bil raster takes its CRS from mask.prj: vectorize mask.bil -o mask.shp
    # --crs EPSG:4326 --overwrite wrote the Shapefile's mask.prj over it, exit 0, and the
    # input raster was in WGS 84 degrees from then on
    import rasterio

    raster = tmp_path / "mask.bil"
    classes = np.zeros((1, 20, 20), np.uint8)
    classes[0, 5:15, 5:15] = 1
    with rasterio.open(raster, "w", driver="EHdr", width=20, height=20, count=1,
                       dtype="uint8", crs="EPSG:32616",
                       transform=from_origin(*UTM_ORIGIN, 1, 1)) as dst:
        dst.write(classes)
    prj = tmp_path / "mask.prj"
    before = prj.read_bytes()
    result = run_cli("vectorize", raster, "-o", tmp_path / "mask.shp", "--crs", "EPSG:4326",
                     "--overwrite")
    assert_one_line_error(result, "mask.prj", "read by the input", "mask.bil")
    assert prj.read_bytes() == before and not (tmp_path / "mask.shp").exists()
    with rasterio.open(raster) as src:
        assert src.crs.to_epsg() == 32616
    # another name is written, and a Shapefile's own .prj is replaced as before
    for _ in range(2):
        result = run_cli("vectorize", raster, "-o", tmp_path / "out.shp", "--overwrite")
        assert result.exit_code == 0, result.output


def test_a_stale_shapefile_index_beside_the_output_is_refused(run_cli, make_raster, tmp_path):
    # out.qix of an earlier Shapefile stayed when its other parts were deleted: vectorize
    # -o out.shp wrote beside it, exit 0, and GDAL answered every bounding-box query (a
    # QGIS canvas) through the stale index: 0 of the 1 polygons
    import pyogrio

    classes = np.zeros((20, 20), np.uint8)
    classes[5:15, 5:15] = 1
    raster = make_raster("mask.tif", classes, transform=from_origin(X0, Y0, 1, 1))
    old = tmp_path / "old.shp"
    gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)], crs=UTM_CRS).to_file(
        old, layer_options={"SPATIAL_INDEX": "YES"})
    index = tmp_path / "out.qix"
    (tmp_path / "old.qix").rename(index)
    result = run_cli("vectorize", raster, "-o", tmp_path / "out.shp")
    assert_one_line_error(result, "out.qix", "--overwrite")
    assert not (tmp_path / "out.shp").exists() and index.is_file()
    result = run_cli("vectorize", raster, "-o", tmp_path / "out.shp", "--overwrite")
    assert result.exit_code == 0, result.output
    assert not index.exists()
    found = pyogrio.read_dataframe(tmp_path / "out.shp", bbox=(X0, Y0 - 20, X0 + 20, Y0))
    assert len(found) == 1


def test_report_over_an_image_in_another_crs_than_site_grid_truth(run_cli, make_raster,
                                                                   tmp_path):
    """evaluate --report r.png --image of an image in UTM over polygons in a local site grid
    printed the scores, then ended in pyproj's ProjError traceback: one line naming the
    image, the truth and both CRSs, before scoring. Truth in the metre version of the
    image's feet grid is drawn where it lies (scaled, as PROJ cannot)."""
    import rasterio

    from geotile.ground_scale import in_metres

    site = gpd.GeoDataFrame(geometry=[shapely.box(1005, 1985, 1015, 1995)], crs=SITE_GRID)
    site.to_file(tmp_path / "site.gpkg")
    image = np.full((64, 64), 100, np.uint8)
    utm = make_raster("utm.tif", image, crs=UTM_CRS, transform=from_origin(X0, Y0, 0.5, 0.5))
    result = run_cli("evaluate", tmp_path / "site.gpkg", tmp_path / "site.gpkg", "--report",
                     tmp_path / "r.png", "--image", utm)
    assert_one_line_error(result, "utm.tif", "site.gpkg", "site grid", "EPSG:32616")
    assert result.stdout == "" and not (tmp_path / "r.png").exists()
    # truth in metres, the image in the same grid in US survey feet (0.5 ft pixels)
    metres = in_metres(SITE_GRID_FT)
    site.set_crs(metres, allow_override=True).to_file(tmp_path / "metres.gpkg")
    foot = 0.304800609601219
    feet = make_raster("feet.tif", np.full((100, 100), 100, np.uint8), crs=SITE_GRID_FT,
                       transform=from_origin(1000 / foot, 2000 / foot, 1, 1))
    result = run_cli("evaluate", tmp_path / "metres.gpkg", tmp_path / "metres.gpkg",
                     "--report", tmp_path / "r.png", "--image", feet)
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "r.png") as png:
        green = png.read(2) == 220
    rows, cols = np.nonzero(green[:100])
    # the box's edges: x 1005..1015 m = 16.4..49.2 ft from the origin, y 5..15 m below it
    assert (cols.min(), cols.max()) == pytest.approx((16, 50), abs=1)
    assert (rows.min(), rows.max()) == pytest.approx((16, 50), abs=1)


def test_errors_outputs_that_cannot_be_written_are_refused_before_scoring(run_cli, tmp_path):
    """--errors errors.geojson of site-grid truth (one pair or folders), and --errors naming
    one of the prediction folder's own files with --overwrite, printed the scores and only
    then were refused: now refused first, nothing printed, the file kept. geotile's own
    pred/errors.geojson (unpaired) is still replaced on a re-run."""
    site = gpd.GeoDataFrame(geometry=[shapely.box(1005, 1985, 1015, 1995)], crs=SITE_GRID)
    utm = gpd.GeoDataFrame(geometry=[shapely.box(X0, Y0 - 10, X0 + 10, Y0)], crs=UTM_CRS)
    for folder in ("sp", "st", "p", "t"):
        (tmp_path / folder).mkdir()
    for name in ("a", "b"):
        site.to_file(tmp_path / "sp" / f"{name}.gpkg")
        site.to_file(tmp_path / "st" / f"{name}.gpkg")
        utm.to_file(tmp_path / "p" / f"{name}.geojson")
        utm.to_file(tmp_path / "t" / f"{name}.geojson")
    for inputs in ((tmp_path / "sp" / "a.gpkg", tmp_path / "st" / "a.gpkg"),
                   (tmp_path / "sp", tmp_path / "st")):
        result = run_cli("evaluate", *inputs, "--errors", tmp_path / "e.geojson")
        assert_one_line_error(result, "e.geojson", "site grid", ".gpkg")
        assert result.stdout == "" and not (tmp_path / "e.geojson").exists()
    own = tmp_path / "p" / "a.geojson"
    before = own.read_bytes()
    result = run_cli("evaluate", tmp_path / "p", tmp_path / "t", "--errors", own, "--overwrite")
    assert_one_line_error(result, "a.geojson", "input")
    assert result.stdout == "" and own.read_bytes() == before
    for _ in range(2):
        result = run_cli("evaluate", tmp_path / "p", tmp_path / "t", "--errors",
                         tmp_path / "p" / "errors.geojson", "--overwrite", "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["tp"] == 2
    assert gpd.read_file(tmp_path / "p" / "errors.geojson")["kind"].tolist() == ["TP", "TP"]


def test_threshold_on_softmax_probabilities_is_refused_not_ignored(run_cli, make_raster,
                                                                   tmp_path):
    """vectorize and evaluate --threshold 0.95 on predict's softmax probabilities (band 1
    background, GEOTILE_BANDS=exclusive: each pixel its argmax) exited 0 with output
    identical to the run without it (4 polygons, scores 0.9), as predict --output-type
    class already refuses. Refused in one line (exit 2), nothing written; independent
    (sigmoid) bands still take it."""
    import rasterio

    ids = np.zeros((30, 30), np.uint8)
    ids[4:14, 4:14], ids[18:26, 4:26] = 1, 2
    p = np.where(np.arange(3)[:, None, None] == ids, 0.9, 0.05).astype(np.float32)
    softmax = make_raster("s.tif", p, transform=from_origin(X0, Y0, 1, 1))
    sigmoid = make_raster("i.tif", p[1:], transform=from_origin(X0, Y0, 1, 1))
    truth = make_raster("t.tif", ids, transform=from_origin(X0, Y0, 1, 1))
    for path, names, bands in ((softmax, ["background", "building", "road"], "exclusive"),
                               (sigmoid, ["building", "road"], "independent")):
        with rasterio.open(path, "r+") as dst:
            dst.update_tags(GEOTILE_OUTPUT="probability", GEOTILE_SCALE="1",
                            GEOTILE_BANDS=bands, GEOTILE_CLASS_NAMES=json.dumps(names))
    out = tmp_path / "v.gpkg"
    for args in (("vectorize", softmax, "-o", out, "--threshold", "0.95"),
                 ("vectorize", softmax, "-o", out, "--lines", "--threshold", "0.95"),
                 ("evaluate", softmax, truth, "--threshold", "0.95")):
        assert_one_line_error(run_cli(*args), "--threshold", "s.tif", "softmax", code=2)
        assert not out.exists()
    result = run_cli("vectorize", sigmoid, "-o", out, "--threshold", "0.95")
    assert result.exit_code == 0, result.output
    assert len(gpd.read_file(out)) == 0  # 0.9 < 0.95: nothing reaches it
    result = run_cli("evaluate", sigmoid, truth, "--threshold", "0.95", "--json")


def test_independent_bands_tagged_without_names_are_no_softmax(run_cli, make_raster,
                                                                tmp_path):
    """A raster of three sigmoid bands tagged GEOTILE_BANDS=independent (the fix the
    refusal of such bands untagged gives) but naming no classes was still read as a softmax
    whose band 1 is background: vectorize gave 4 polygons of classes 1 and 2 (bands 2 and 3)
    for 3 classes of 2 blocks each, band 1's blocks background, exit 0 -> band k is class
    k, background where no band reaches the threshold."""
    import rasterio

    p = np.zeros((3, 30, 30), np.float32)
    for k in range(3):
        p[k, 2 + 9 * k:8 + 9 * k, 2:8] = p[k, 2 + 9 * k:8 + 9 * k, 20:26] = 0.9
    raster = make_raster("i.tif", p, transform=from_origin(X0, Y0, 1, 1))
    with rasterio.open(raster, "r+") as dst:
        dst.update_tags(GEOTILE_BANDS="independent")
    out = tmp_path / "v.gpkg"
    result = run_cli("vectorize", raster, "-o", out, "--crs", "source")
    assert result.exit_code == 0, result.output
    frame = gpd.read_file(out)
    assert sorted(frame["class_id"]) == [1, 1, 2, 2, 3, 3]
    assert sorted(frame["area_m2"]) == [36.0] * 6
    truth = make_raster("t.tif", np.argmax(np.concatenate([np.full((1, 30, 30), 0.5), p]),
                                           axis=0).astype(np.uint8),
                        transform=from_origin(X0, Y0, 1, 1))
    result = run_cli("evaluate", raster, truth, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["mean_iou"] == 1.0


def test_errors_of_per_class_scores_name_each_polygons_class(run_cli, make_raster, tmp_path):
    """evaluate --class-field class --errors: the TP/FP/FN polygons carried no class (fields
    image, kind, iou, best_iou, confidence), so the missed 'water' could not be told from a
    missed 'building', and make-masks refused the file as labels ('no field class'). Each
    polygon carries its class (the prediction's for TP/FP, the truth's for FN), under
    the field scored, and burns back as its class."""
    boxes = [shapely.box(X0 + 5 * i, Y0 - 4, X0 + 5 * i + 4, Y0) for i in range(3)]
    truth = gpd.GeoDataFrame({"class": ["building", "road", "water"]}, geometry=boxes,
                             crs=UTM_CRS)
    truth.to_file(tmp_path / "truth.gpkg")
    pred = gpd.GeoDataFrame({"class": ["building", "road", "road"]},
                            geometry=[boxes[0], boxes[1], shapely.box(X0, Y0 - 10, X0 + 4,
                                                                      Y0 - 6)], crs=UTM_CRS)
    pred.to_file(tmp_path / "pred.gpkg")
    errors = tmp_path / "errors.gpkg"
    result = run_cli("evaluate", tmp_path / "pred.gpkg", tmp_path / "truth.gpkg",
                     "--class-field", "class", "--errors", errors)
    assert result.exit_code == 0, result.output
    frame = gpd.read_file(errors)
    assert sorted(zip(frame["kind"], frame["class"], strict=True)) == [
        ("FN", "water"), ("FP", "road"), ("TP", "building"), ("TP", "road")]
    image = make_raster("img.tif", np.ones((3, 24, 40), np.uint8))
    result = run_cli("make-masks", errors, image, "-o", tmp_path / "m.tif",
                     "--class-field", "class")
    assert result.exit_code == 0, result.output


def test_threshold_on_folders_of_softmax_probabilities_is_refused_not_ignored(
        run_cli, make_raster, tmp_path):
    """evaluate pred/ truth/ --threshold 0.95 of predict's softmax probabilities scored the
    argmax as without it (8 px TP of 'building', exit 0), where the same two files alone
    are refused; folders of sigmoid bands still take it."""
    import rasterio

    ids = np.zeros((30, 30), np.uint8)
    ids[4:14, 4:14] = 1
    p = np.where(np.arange(2)[:, None, None] == ids, 0.9, 0.1).astype(np.float32)
    for folder, bands, names in (("soft", "exclusive", ["background", "building"]),
                                 ("sig", "independent", ["building"])):
        (tmp_path / folder).mkdir()
        path = make_raster(f"{folder}/a.tif", p if folder == "soft" else p[1:],
                           transform=from_origin(X0, Y0, 1, 1))
        with rasterio.open(path, "r+") as dst:
            dst.update_tags(GEOTILE_OUTPUT="probability", GEOTILE_SCALE="1",
                            GEOTILE_BANDS=bands, GEOTILE_CLASS_NAMES=json.dumps(names))
    (tmp_path / "truth").mkdir()
    make_raster("truth/a.tif", ids, transform=from_origin(X0, Y0, 1, 1))
    result = run_cli("evaluate", tmp_path / "soft", tmp_path / "truth", "--threshold", "0.95")
    assert_one_line_error(result, "--threshold", "a.tif", "softmax", code=2)
    result = run_cli("evaluate", tmp_path / "sig", tmp_path / "truth", "--threshold", "0.95",
                     "--json")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("mode", [[], ["--instances"], ["--lines"]])
@pytest.mark.parametrize("fill", ["nan", "inf", "nodata"])
def test_vectorizing_a_raster_without_a_valid_pixel_says_so(make_raster, run_cli, tmp_path,
                                                            mode, fill):
    # a model exported broken (NaN everywhere) gave an empty file, exit 0 and no word
    if fill == "nodata":
        bands = make_raster("p.tif", np.full((16, 16), 255, np.uint8), nodata=255)
    else:
        bands = make_raster("p.tif", np.full((16, 16), float(fill), np.float32))
    kept = make_raster("q.tif", np.full((16, 16), 0.25, np.float32),
                       transform=from_origin(X0 + 100, Y0, 0.5, 0.5))
    out = tmp_path / "v.gpkg"
    result = run_cli("vectorize", bands, kept, "-o", out, *mode)
    assert result.exit_code == 0, result.output
    feature = "line" if mode == ["--lines"] else "polygon"
    assert (f"p.tif: the raster holds no valid pixel (all NaN, infinite or nodata), so no "
            f"{feature} comes from it.") in result.output
    assert "q.tif: the raster" not in result.output
    assert out.exists()


def test_two_untagged_independent_bands_are_no_softmax(run_cli, make_raster, tmp_path):
    """Two untagged sigmoid bands (footprint and boundary, or building and road) were read
    as a softmax of background and building: the footprint's interior, where band 2 is low
    and band 1 high, came out background, the boundary strip a building, exit 0 -> bands
    that do not sum to 1 are refused as three or more are, naming the tag; a genuine
    two-band softmax is read as before."""
    p = np.zeros((2, 30, 30), np.float32)
    p[0, 5:20, 5:20] = 0.95  # footprint
    p[1, 5:20, 5:20] = 0.9
    p[1, 7:18, 7:18] = 0.05  # boundary: the footprint's outline
    raster = make_raster("fb.tif", p, transform=from_origin(X0, Y0, 1, 1))
    out = tmp_path / "v.gpkg"
    assert_one_line_error(run_cli("vectorize", raster, "-o", out, "--crs", "source"),
                          "fb.tif", "not 1", "no softmax", "GEOTILE_BANDS=independent")
    assert not out.exists()
    softmax = np.stack([1 - p[0], p[0]])
    raster = make_raster("s.tif", softmax, transform=from_origin(X0, Y0, 1, 1))
    result = run_cli("vectorize", raster, "-o", out, "--crs", "source")
    assert result.exit_code == 0, result.output
    assert sorted(gpd.read_file(out)["area_m2"]) == [225.0]


def test_whole_number_float_logits_are_told_to_be_activated(run_cli, make_raster, tmp_path):
    """A float32 raster of a model's raw logits that happen to be whole numbers (-4 outside
    buildings, 3 on them) was read as class ids and refused with the one fix 'if -4 marks
    no data, declare it', which would leave every building on a raster of nodata; the
    refusals now also name logits and the activation they need."""
    logits = np.full((30, 30), -4, np.float32)
    logits[5:15, 5:15] = 3
    raster = make_raster("logits.tif", logits, transform=from_origin(X0, Y0, 1, 1))
    for args in (("vectorize", raster, "-o", tmp_path / "v.gpkg"),
                 ("evaluate", raster, raster)):
        assert_one_line_error(run_cli(*args), "logits.tif", "-4", "logits", "sigmoid")
    assert not (tmp_path / "v.gpkg").exists()


@pytest.mark.parametrize("lines", [False, True])
def test_the_json_keys_vectorize_emits_are_those_its_help_lists(run_cli, make_raster, tmp_path,
                                                               lines):
    """vectorize --lines --json printed a length_m key (the lines' total length) that the
    help's '--json keys' paragraph did not name: each key emitted, polygons or lines, is
    listed there, and each listed is emitted (length_m and units with --lines only)."""
    import json
    import re

    mask = np.zeros((64, 64), np.uint8)
    mask[30:33, 4:60] = 1
    raster = make_raster("road.tif", mask, crs="EPSG:32633",
                         transform=from_origin(500000, 5000000, 0.5, 0.5))
    args = ("--lines",) if lines else ()
    result = run_cli("vectorize", raster, "-o", tmp_path / "out.gpkg", "--json", *args)
    assert result.exit_code == 0, result.output
    emitted = set(json.loads(result.stdout))
    text = " ".join(run_cli("vectorize", "--help").stdout.split())
    listed = text.split("--json keys:", 1)[1].split("Examples:", 1)[0]
    named = set(re.findall(r"(?<![-\w])([a-z_]+)(?= \(|,| \{|;|\.)", listed))
    assert emitted <= named, (emitted - named, listed)
    assert ("length_m" in emitted) == ("units" in emitted) == lines
    assert named - {"length_m", "units"} <= emitted
    if lines:
        length = json.loads(result.stdout)["length_m"]
        assert length == pytest.approx(gpd.read_file(tmp_path / "out.gpkg")["length_m"].sum())


@pytest.mark.parametrize("name", ["#12.gpkg", "-old.gpkg", "(copy).gpkg", "gpkg_out.gpkg",
                                  ".hidden.gpkg"])
def test_a_geopackage_named_so_that_its_stem_is_no_layer_name_is_written(run_cli, make_raster,
                                                                          tmp_path, name):
    # vectorize -o '#12.gpkg' exited 1 ('The layer name may not contain special characters
    # ... Free space or choose another output'): the layer is named after the file, and
    # GDAL refuses a layer name starting with '#', '-', '(' or '.', or with 'gpkg'
    import pyogrio

    raster, _ = _squares(make_raster, tmp_path)
    out = tmp_path / name
    result = run_cli("vectorize", raster, "-o", out)
    assert result.exit_code == 0, result.output
    (layer, _), = pyogrio.list_layers(out)
    assert layer == "_" + out.stem
    assert len(gpd.read_file(out)) == 2
    again = run_cli("vectorize", raster, "-o", out, "--overwrite")
    assert again.exit_code == 0, again.output
    assert [name for name, _ in pyogrio.list_layers(out)] == [layer]


def test_summaries_count_one_thing_in_the_singular(run_cli, make_raster, tmp_path):
    """vectorize said "1 polygons" and tile "1 patches"; now "1 polygon", "1 patch"."""
    classes = np.zeros((20, 20), np.uint8)
    classes[4:14, 4:14] = 1
    raster = make_raster("c.tif", classes, transform=from_origin(X0, Y0, 1, 1))
    result = run_cli("vectorize", raster, "-o", tmp_path / "b.geojson")
    assert result.exit_code == 0, result.output
    assert "1 polygon" in result.stdout and "1 polygons" not in result.stdout
    result = run_cli("tile", raster, "--size", "32", "-o", tmp_path / "t")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("1 patch -> ")


def test_report_of_truth_reaching_far_past_the_image_draws_its_outlines(run_cli, make_raster,
                                                                       tmp_path):
    """evaluate --report r.png --image over truth polygons reaching 1e12 px right and 3e9
    px below the image: GDAL drew the outlines all touched, overflowing past 2**31 px, and
    walked the 3e9 px edge pixel by pixel (minutes). The PNG is that of the truth cut 1000 px
    past the image, drawn at once."""
    import rasterio

    from geotile.affine_math import apply
    from geotile.quiet_warnings import quietly
    from tests.pixel_label_files import FAR_DOWN, FAR_RIGHT

    image = make_raster("img.tif", np.full((3, 40, 50), 90, np.uint8))
    with rasterio.open(image) as src:
        transform = src.transform
    to_map = lambda ring: shapely.Polygon(np.column_stack(apply(transform, *np.transpose(ring))))  # noqa: E731
    found = to_map([(30.2, 20.3), (40.4, 20.2), (40.3, 30.6), (30.1, 30.2)])
    near = to_map([(-1000, -1000), (1050, -1000), (1050, 1040), (-1000, 1040)])
    gpd.GeoDataFrame(geometry=[found], crs=UTM_CRS).to_file(tmp_path / "pred.geojson")
    pictures = []
    for name, cut in (("far", lambda g: g), ("near", lambda g: g.intersection(near))):
        truth = tmp_path / f"{name}.geojson"
        gpd.GeoDataFrame(geometry=[cut(to_map(FAR_RIGHT)), cut(to_map(FAR_DOWN)), found],
                         crs=UTM_CRS).to_file(truth)
        result = run_cli("evaluate", tmp_path / "pred.geojson", truth, "--report",
                         tmp_path / f"{name}.png", "--image", image)
        assert result.exit_code == 0, result.output
        assert "TP 1  FP 0  FN 2" in result.stdout
        with quietly(rasterio.open, tmp_path / f"{name}.png") as src:  # a PNG: no transform
            pictures.append(src.read())
    np.testing.assert_array_equal(pictures[0], pictures[1])
    assert (pictures[0][:, 11:13, 20] != 90).any()  # FAR_RIGHT's outline, from x 14 on


def _named_squares(make_raster, tmp_path, name):
    raster, _ = _squares(make_raster, tmp_path)
    import rasterio

    with rasterio.open(raster, "r+") as dst:
        dst.update_tags(GEOTILE_CLASS_NAMES=json.dumps(["background", name]))
    return raster


def test_a_shapefile_text_value_past_254_bytes_is_refused_not_cut(run_cli, make_raster,
                                                                  tmp_path):
    """A .dbf text field holds 254 bytes: a class named in 130 Cyrillic letters (260 bytes
    in UTF-8) came back cut to 127 letters, exit 0, GDAL's warning the only sign."""
    raster = _named_squares(make_raster, tmp_path, "Ж" * 130)
    out = tmp_path / "v.shp"
    result = run_cli("vectorize", raster, "-o", out)
    assert_one_line_error(result, str(out), "'class'", "260 bytes", "254", ".gpkg")
    assert not list(tmp_path.glob("v.*"))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".v")]


def test_a_shapefile_text_value_of_254_bytes_is_written_whole(run_cli, make_raster, tmp_path):
    raster = _named_squares(make_raster, tmp_path, "Ж" * 127)
    out = tmp_path / "v.shp"
    result = run_cli("vectorize", raster, "-o", out)
    assert result.exit_code == 0, result.output
    assert set(gpd.read_file(out)["class"]) == {"Ж" * 127}


def test_a_raster_named_near_the_file_name_limit_is_vectorized(run_cli, make_raster,
                                                               tmp_path):
    """A raster named in 251 bytes (a legal name: 255 is the limit) has no room for the
    ArcGIS table name beside it (name + '.vat.dbf'): looking for one raised ENAMETOOLONG,
    and vectorize said '...tif.vat.dbf: File name too long. Choose a shorter output name.'
    (exit 1), as did evaluate; there is no such table, so none is read."""
    raster, _ = _squares(make_raster, tmp_path)
    long = raster.rename(tmp_path / ("x" * 247 + ".tif"))
    out = tmp_path / "v.gpkg"
    result = run_cli("vectorize", long, "-o", out)
    assert result.exit_code == 0, result.output
    assert len(gpd.read_file(out)) == 2
    result = run_cli("evaluate", long, long)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson"])
def test_vector_output_past_a_file_size_limit_names_the_limit(make_raster, tmp_path, suffix):
    """vectorize under ulimit -f 4 said 'cannot be written (... disk I/O error) ... Free
    space or choose another output.' on a disk with room: the line names the limit now, as
    predict's does (GDAL's vector drivers give no errno to tell EFBIG by)."""
    import os
    import resource
    from pathlib import Path

    classes = np.zeros((40, 40), np.uint8)
    classes[::4, ::4] = 1  # 100 polygons: past 1 kB in any format
    raster = make_raster("c.tif", classes, transform=from_origin(X0, Y0, 1, 1))
    out = tmp_path / f"v{suffix}"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(
        [sys.executable, "-m", "geotile", "vectorize", str(raster), "-o", str(out)],
        capture_output=True, text=True, timeout=120, env=env,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024)))
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {out}: "), lines
    assert "file-size limit of 1024 bytes" in lines[0] and "ulimit -f" in lines[0], lines
    assert "Free space" not in lines[0], lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.tif"]


def test_a_file_size_limit_far_above_a_failed_write_is_not_blamed(tmp_path, monkeypatch):
    """A disk that filled (GDAL's SQLite: 'disk I/O error', no errno) under a generous
    ulimit -f (1 GiB, as clusters set) was told 'A file-size limit of 1073741824 bytes is
    set ... ulimit -f' (59c1c85): the limit is named only where the file system has more
    room than the limit (a write stops at the limit, not for want of room)."""
    import resource

    from geotile import output_files, vector_output
    from geotile.errors import InputError

    def full_disk(frame, tmp, *args):
        tmp.write_bytes(b"x" * 8192)  # what was written before the disk filled
        raise RuntimeError("sqlite3_exec(COMMIT) failed: disk I/O error")

    monkeypatch.setattr(vector_output, "_write", full_disk)
    monkeypatch.setattr(output_files, "_free_bytes", lambda path: 8192)  # the disk is full
    frame = gpd.GeoDataFrame({"class": ["a"]}, geometry=[shapely.box(0, 0, 1, 1)],
                             crs="EPSG:32633")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2**30, hard))
    try:
        with pytest.raises(InputError) as err:
            vector_output.write_vector(frame, tmp_path / "v.gpkg", "GPKG", False)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert "disk I/O error" in str(err.value) and "Free space" in str(err.value)
    assert "file-size limit" not in str(err.value) and "ulimit" not in str(err.value)
    assert list(tmp_path.iterdir()) == []


_KILL_WRITING = """
import os, signal, sys
import geotile.vector_output as vector_output
def dies(*a, **k):
    os.kill(os.getpid(), signal.SIGKILL)  # the OOM killer, as the features are written
vector_output._write = dies
from geotile.cli.main import cli
cli(sys.argv[1:])
"""


@pytest.mark.parametrize("name", ["v.gpkg", "v.geojson"])
def test_vectorize_after_a_sigkill_removes_the_killed_runs_temporary_folder(
        run_cli, make_raster, tmp_path, name):
    """vectorize killed by SIGKILL while writing left .v.gpkg.<hex>.tmp/ (the whole output
    being written), which every later run left in place. The next write of that output
    removes what a killed run left (geotile's names, never a live run's nor the user's)."""
    mask = np.zeros((1, 20, 20), np.uint8)
    mask[0, 4:9, 4:9] = 1
    raster = make_raster("m.tif", mask)
    out = tmp_path / "out" / name
    out.parent.mkdir()
    mine = out.parent / ".v.notes.tmp.gpkg"  # not a name geotile gives
    mine.mkdir()
    killed = subprocess.run([sys.executable, "-c", _KILL_WRITING, "vectorize", str(raster),
                             "-o", str(out)], capture_output=True, text=True, timeout=120,
                            env={"PYTHONPATH": ":".join(sys.path), "PATH": "/usr/bin:/bin"})
    assert killed.returncode == -9, killed.stderr
    assert any(".tmp" in p.name and p != mine for p in out.parent.iterdir())
    result = run_cli("vectorize", raster, "-o", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.parent.iterdir()) == sorted([name, mine.name])
    assert len(gpd.read_file(out)) == 1
