"""The Python API (``import geotile``) does what the commands do, under the names the README
gives: vectorize's instance mode and SpaceNet CSVs, evaluate's lines, folders and CSVs."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from rasterio.transform import from_origin

import geotile
from geotile.spacenet import read_csv

from .conftest import UTM_CRS, UTM_ORIGIN

X0, Y0 = UTM_ORIGIN
TRANSFORM = from_origin(X0, Y0, 0.5, 0.5)


def two_houses(make_raster, name="PS-RGB_AOI_2_Vegas_img1.tif"):
    """Footprint/boundary/contact bands of two houses sharing a faint wall (boundary 0.2),
    which the model's declared boundary threshold 0.1 splits and the generic 0.5 does not."""
    bands = np.zeros((3, 20, 40), np.float32)
    bands[0, 5:15, 5:35] = 0.9
    bands[1, 5:15, 18:22] = 0.2
    raster = make_raster(name, bands, transform=TRANSFORM)
    with rasterio.open(raster, "r+") as dst:  # as predict writes a three-channel model's
        for band, role in enumerate(("footprint", "boundary", "contact"), start=1):
            dst.set_band_description(band, role)
        dst.update_tags(GEOTILE_OUTPUT="probability", GEOTILE_BOUNDARY_THRESHOLD="0.1")
    return raster


def test_vectorize_rasters_splits_buildings_as_the_command_does(run_cli, make_raster,
                                                                  tmp_path):
    raster = two_houses(make_raster)
    summary = geotile.vectorize_rasters(raster, tmp_path / "api.gpkg")
    result = run_cli("vectorize", raster, "-o", tmp_path / "cli.gpkg", "--json")
    assert result.exit_code == 0, result.output
    assert summary["features"] == json.loads(result.stdout)["features"] == 2
    assert len(gpd.read_file(tmp_path / "api.gpkg")) == 2
    # the generic boundary threshold (0.5) keeps the faint wall inside one marker
    assert geotile.vectorize_rasters(raster, tmp_path / "generic.gpkg",
                                     boundary_threshold=0.5)["features"] == 1
    plain = geotile.vectorize_rasters(raster, tmp_path / "plain.gpkg", instances=False)
    assert plain["features"] == 1 and plain["per_class"] == {"footprint": 1}


def test_vectorize_rasters_writes_spacenet_proposals(make_raster, tmp_path):
    raster = two_houses(make_raster)
    summary = geotile.vectorize_rasters([raster], tmp_path / "p.csv")
    table = read_csv(tmp_path / "p.csv")
    assert summary["features"] == len(table) == 2
    assert table.images == ["AOI_2_Vegas_img1"]
    assert summary["output"] == str(tmp_path / "p.csv")


def test_summaries_name_an_os_pathlike_output_by_its_path(make_raster, tmp_path):
    """An os.PathLike that is not a Path (a UPath, a project's own path class) as the
    output of SpaceNet proposals: the summary's 'output' was the object's repr
    ('<...PathLike object at 0x7f...>'), not the file written."""
    class Where:
        def __init__(self, path):
            self.path = str(path)

        def __fspath__(self):
            return self.path

    raster = two_houses(make_raster)
    for name in ("p.csv", "p.gpkg"):
        summary = geotile.vectorize_rasters(Where(raster), Where(tmp_path / name))
        assert summary["output"] == str(tmp_path / name) and summary["features"] == 2


def lines_file(path, lines):
    gpd.GeoDataFrame(geometry=lines, crs=UTM_CRS).to_file(path)
    return path


def test_evaluate_files_scores_lines_folders_and_csvs(tmp_path):
    road = shapely.LineString([(X0, Y0 - 10), (X0 + 100, Y0 - 10)])
    pred = lines_file(tmp_path / "pred.geojson", [road])
    truth = lines_file(tmp_path / "truth.geojson", [shapely.offset_curve(road, 1.0)])
    scores = geotile.evaluate_files(pred, truth)
    assert scores.as_dict()["mode"] == "line" and scores.f1 == 1.0
    for side in ("p", "t"):
        (tmp_path / side).mkdir()
        gpd.GeoDataFrame(geometry=[shapely.box(X0, Y0 - 20, X0 + 10, Y0 - 10)],
                         crs=UTM_CRS).to_file(tmp_path / side / "tile_1.geojson")
    folders = geotile.evaluate_files(tmp_path / "p", tmp_path / "t")
    assert folders.as_dict()["tp"] == 1 and list(folders.as_dict()["per_image"]) == ["tile_1"]
    csv = tmp_path / "truth.csv"
    csv.write_text("ImageId,BuildingId,PolygonWKT_Pix\n"
                   f'AOI_2_Vegas_img1,0,"{shapely.box(0, 0, 10, 10).wkt}"\n'
                   f'AOI_2_Vegas_img1,1,"{shapely.box(20, 0, 24, 4).wkt}"\n')
    spacenet = geotile.evaluate_files(csv, csv).as_dict()
    assert (spacenet["tp"], spacenet["min_area"]) == (1, 20.0)  # SpaceNet's 20 px2 rule


def _one_line(error) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_option_objects_refuse_what_the_command_refuses(make_raster, tmp_path):
    """Out-of-range values are an InputError naming the option, before anything is written,
    as the command's options refuse them (not a file the next command rejects)."""
    import pytest

    from geotile.errors import InputError

    bad = [
        (lambda: geotile.PredictOptions(threshold=2.0), "--threshold 2.0"),
        (lambda: geotile.PredictOptions(tile_size=0), "--tile-size 0"),
        (lambda: geotile.PredictOptions(block_size=8), "--block-size 8"),
        (lambda: geotile.PredictOptions(overlap=-5), "--overlap -5"),
        (lambda: geotile.PredictOptions(blend="bogus"), "--blend"),
        (lambda: geotile.VectorizeOptions(threshold=2), "--threshold 2"),
        (lambda: geotile.VectorizeOptions(min_area=-1), "--min-area -1"),
        (lambda: geotile.VectorizeOptions(simplify={"car": -1.0}), "--simplify -1.0"),
        (lambda: geotile.VectorizeOptions(fill_holes=float("nan")), "--fill-holes nan"),
        (lambda: geotile.LineOptions(threshold=-0.1), "--threshold -0.1"),
        (lambda: geotile.MaskOptions(line_cap="square"), "--line-cap 'square'"),
        (lambda: geotile.MaskOptions(line_width=0), "--line-width 0"),
        (lambda: geotile.match_polygons([], [], iou=1.0), "--iou 1.0"),
    ]
    for make, option in bad:
        with pytest.raises(InputError) as caught:
            make()
        assert _one_line(caught).startswith(option), (option, str(caught.value))
    truth = tmp_path / "t.geojson"
    gpd.GeoDataFrame(geometry=[shapely.box(X0, Y0 - 5, X0 + 5, Y0)], crs=UTM_CRS).to_file(truth)
    for arguments, option in (({"iou": 1.5}, "--iou 1.5"), ({"threshold": 2}, "--threshold 2"),
                              ({"buffer": 0}, "--buffer 0"), ({"min_area": -1}, "--min-area")):
        with pytest.raises(InputError) as caught:
            geotile.evaluate_files(truth, truth, **arguments)
        assert _one_line(caught).startswith(option)
    assert geotile.evaluate_files(truth, truth, iou=0.99).scores.tp == 1
    assert geotile.VectorizeOptions(min_area="5,car=2").min_area == {"*": 5.0, "car": 2.0}


def test_whole_number_options_given_as_floats_become_ints():
    """PredictOptions(tile_size=256.0) (batch_size 2.0, block_size 1024.0, VectorizeOptions'
    band_rows 100.0...) passed the check and then failed in numpy or range() with a
    TypeError; every whole-number field takes a whole float as that int."""
    import dataclasses

    import pytest

    from geotile.errors import InputError
    from geotile.instances import InstanceOptions

    cases = {geotile.PredictOptions: {"tile_size": 256, "batch_size": 2, "block_size": 1024},
             geotile.VectorizeOptions: {"band_rows": 100, "workers": 2},
             geotile.LineOptions: {"band_rows": 100, "halo": 64},
             geotile.MaskOptions: {"boundary_width": 2, "contact_spacing": 8, "band_rows": 64},
             geotile.TileOptions: {"size": 128},
             InstanceOptions: {"erosion": 2, "min_marker": 3, "band_rows": 64,
                               "block_cols": 512, "halo": 32}}
    for options, fields in cases.items():
        made = options(**{name: float(value) for name, value in fields.items()})
        for name, value in fields.items():
            assert type(getattr(made, name)) is int and getattr(made, name) == value
        assert dataclasses.replace(made) == options(**fields)
        name = next(iter(fields))
        with pytest.raises(InputError, match=rf"{name.replace('_', '-')} 100.5: give a whole"):
            options(**{name: 100.5})
    for tta in (["flip"], {"flip"}, None):
        with pytest.raises(InputError, match=r"--tta .* must be one of none"):
            geotile.PredictOptions(tta=tta)
    with pytest.raises(InputError, match=r"--blend \['hann'\] must be one of bilinear"):
        geotile.PredictOptions(blend=["hann"])


def test_one_string_is_one_path_or_one_class(make_raster, tmp_path):
    raster = two_houses(make_raster, "prob.tif")
    folder = raster.parent
    assert geotile.expand_inputs(str(folder)) == geotile.expand_inputs([folder]) == [raster]
    assert geotile.VectorizeOptions(classes="footprint").classes == ("footprint",)
    assert geotile.MaskOptions(channels="boundary").channels == ("boundary",)
    summary = geotile.vectorize_rasters(raster, tmp_path / "v.gpkg", instances=False,
                                        options=geotile.VectorizeOptions(classes="footprint"))
    assert summary["per_class"] == {"footprint": 1}


def test_predict_array_says_which_shape_it_takes(tmp_path):
    import pytest

    from geotile.errors import ModelError

    from .onnx_models import pointwise_model

    model = geotile.OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx", channels=3))
    for shape, hint in (((50, 50), "got shape (50, 50)."), ((1, 50, 50), "got shape (1, 50"),
                        ((50, 50, 3), "pixels.transpose(2, 0, 1)")):
        with pytest.raises(ModelError) as caught:
            geotile.predict_array(model, np.zeros(shape, np.uint8))
        message = _one_line(caught)
        assert message.startswith("m.onnx expects (C, H, W) pixels with C = 3") and hint in message
    assert geotile.predict_array(model, np.zeros((3, 20, 30), np.uint8)).shape == (1, 20, 30)


def test_match_polygons_takes_geodataframes():
    truth = gpd.GeoDataFrame({"id": [1, 2, 3]}, geometry=[shapely.box(i * 10, 0, i * 10 + 5, 5)
                                                          for i in range(3)])
    predicted = gpd.GeoDataFrame({"conf": [0.9, 0.8]}, geometry=[
        shapely.box(0, 0, 5, 5), shapely.box(10.5, 0, 15.5, 5)])
    scores = geotile.match_polygons(predicted, truth)
    assert (scores.tp, scores.fp, scores.fn) == (2, 0, 1)
    assert scores == geotile.match_polygons(list(predicted.geometry), truth.geometry)
    # WKT text raised shapely's 'One of the arguments is of incorrect type'
    import pytest

    from geotile.errors import InputError

    with pytest.raises(InputError, match=r"^the true geometries hold a str \('POLYGON \(\(5 0"):
        geotile.match_polygons(predicted, [g.wkt for g in truth.geometry])


def _photo(path, array):
    """A plain PNG (no CRS, no geotransform), written without rasterio's warning showing."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(path, "w", driver="PNG", width=array.shape[2], height=array.shape[1],
                           count=array.shape[0], dtype=array.dtype.name) as dst:
            dst.write(array)
    return path


def test_warnings_hidden_in_two_threads_at_once_leave_the_filters_as_they_were():
    """geotile hides a warning around one short call at a time, from any thread: two threads
    whose catch_warnings interleaved (A in, B in, A out, B out) left A's filter installed
    for good (B put back the list it saved while A's filter was in it)."""
    import threading
    import warnings

    from geotile.quiet_warnings import hidden

    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def first():
        with hidden(UserWarning, message="first"):
            a_in.set()
            b_in.wait(0.5)  # the second would be inside now, without the lock
        a_out.set()

    def second():
        a_in.wait(5)
        with hidden(UserWarning, message="second"):
            b_in.set()
            a_out.wait(5)

    import pytest

    # as this test once called it: both threads failed at once and it passed unchecked
    with pytest.raises(TypeError, match="message="), hidden(UserWarning, "first"):
        pass
    before = list(warnings.filters)
    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert warnings.filters == before and a_out.is_set() and b_in.is_set()


def test_a_filter_leaked_from_hidden_hides_nothing_after_the_call():
    """A third-party catch_warnings in another thread (geopandas' total_bounds, pyogrio's
    writer) that saved the filters during geotile's hidden() put back its ('ignore',
    RuntimeWarning) or ('ignore', NotGeoreferencedWarning) for good (6 threads of
    make_masks/predict/vectorize/tile/evaluate: both left): every RuntimeWarning of numpy
    and rasterio's own warning were hidden in the whole process after. A leaked filter now
    matches only in its thread, inside its block."""
    import warnings

    from rasterio.errors import NotGeoreferencedWarning

    from geotile.quiet_warnings import hidden, quietly

    saved = []
    with hidden(RuntimeWarning):
        saved.append(list(warnings.filters))
        with warnings.catch_warnings(record=True) as caught:
            warnings.warn("inside", RuntimeWarning, stacklevel=1)
        assert caught == []  # hidden in the block
    quietly(lambda: saved.append(list(warnings.filters)))
    assert len(saved) == 2
    for filters in saved:
        with warnings.catch_warnings(record=True) as caught:
            warnings.filters[:] = filters  # as another thread put them back
            np.float64(1) / np.float64(0)
            warnings.warn("the user's own", NotGeoreferencedWarning, stacklevel=1)
        assert sorted(str(w.message) for w in caught) == [
            "divide by zero encountered in scalar divide", "the user's own"]


def test_validity_checks_leave_no_filter_a_pool_could_keep(make_raster, tmp_path, monkeypatch):
    """shapely.is_valid hides every warning (catch_warnings + simplefilter("ignore")) around
    GEOS's check: evaluate_files from a 4-thread pool left ('ignore', Warning) in the
    process's filters for good (1 round of 10), and no warning showed again. geotile checks
    validity without touching the filters, so another thread saves none of its own."""
    import warnings

    from shapely import lib

    from geotile.errors import GeotileWarning

    saved = []  # the filters another thread's catch_warnings would save during a check
    is_valid = lib.is_valid

    def saving(*args, **kwargs):
        saved.append(list(warnings.filters))
        return is_valid(*args, **kwargs)

    monkeypatch.setattr(lib, "is_valid", saving)
    box = shapely.box(X0, Y0 - 20, X0 + 10, Y0 - 10)
    frame = gpd.GeoDataFrame(geometry=[box], crs=UTM_CRS)
    frame.to_file(tmp_path / "truth.geojson")
    frame.to_file(tmp_path / "pred.geojson")
    assert geotile.evaluate_files(tmp_path / "pred.geojson",
                                  tmp_path / "truth.geojson").scores.tp == 1
    mask = np.zeros((1, 40, 40), np.uint8)
    mask[0, 5:15, 5:30] = 1
    geotile.vectorize_rasters(make_raster("mask.tif", mask, transform=TRANSFORM),
                              tmp_path / "v.gpkg", options=geotile.VectorizeOptions(
                                  simplify=0.5, regularize=True))
    assert len(saved) >= 3
    for filters in saved:
        with warnings.catch_warnings(record=True) as caught:
            warnings.filters[:] = filters
            warnings.warn("the user's own", UserWarning, stacklevel=1)
            warnings.warn("x.png: no georeferencing", GeotileWarning, stacklevel=1)
        assert sorted(str(w.message) for w in caught) == [
            "the user's own", "x.png: no georeferencing"]


def test_vectorize_of_a_photo_says_one_warning(run_cli, tmp_path):
    """vectorize of an ungeoreferenced PNG: geotile's one warning, not rasterio's "Dataset has
    no geotransform" besides it (as tile and predict do), in each mode."""
    pixels = np.zeros((1, 60, 80), np.uint8)
    pixels[0, 10:30, 10:40] = 1
    pixels[0, 40:44, 5:75] = 1
    photo = _photo(tmp_path / "photo.png", pixels)
    for mode in ((), ("--instances",), ("--lines",)):
        for suffix in (".gpkg", ".geojson"):
            output = tmp_path / f"v{len(mode)}{mode[0][2:] if mode else ''}{suffix}"
            result = run_cli("vectorize", photo, "-o", output, "--json", *mode)
            assert result.exit_code == 0, result.output
            lines = [line for line in result.stderr.splitlines() if line.startswith("Warning")]
            assert len(lines) == 1, (mode, result.stderr)
            assert "photo.png: the raster has no CRS" in lines[0]
            json.loads(result.stdout)


def test_a_filter_leaked_from_geotiles_input_sniffing_hides_only_its_own_warning(
        make_raster, tmp_path, monkeypatch):
    """geotile's input sniffing (a raster? a vector file? GDAL's ZSTD probe) hid every warning
    (category Warning) around its call: a third-party catch_warnings in another thread
    (pyogrio's, geopandas') that saved the filter list meanwhile put it back for good, and
    the process printed no warning at all after that (evaluate_files from a pool: 4 rounds
    of 10). Each call hides only the warnings it raises: such a leak loses no other one."""
    import warnings

    import pyogrio
    import rasterio

    from geotile import creation_options, label_rasters
    from geotile.errors import GeotileWarning

    image = make_raster("img.tif", np.zeros((1, 8, 8), np.uint8))
    saved = []  # what another thread's catch_warnings would save during the call

    def saving(function):
        def call(*args, **kwargs):
            saved.append(list(warnings.filters))
            return function(*args, **kwargs)
        return call

    monkeypatch.setattr(rasterio, "open", saving(rasterio.open))
    monkeypatch.setattr(pyogrio, "list_layers", saving(pyogrio.list_layers))
    label_rasters._opens_as_raster(image)
    label_rasters._has_vector_layers(image)
    creation_options.gtiff_has_zstd.cache_clear()
    creation_options.gtiff_has_zstd()
    assert len(saved) >= 3
    for filters in saved:
        with warnings.catch_warnings(record=True) as caught:
            warnings.filters[:] = filters  # ... and put back after geotile's call ended
            warnings.warn("the user's own", UserWarning, stacklevel=1)
            warnings.warn("x.png: the raster has no georeferencing", GeotileWarning,
                          stacklevel=1)
        assert sorted(str(w.message) for w in caught) == [
            "the user's own", "x.png: the raster has no georeferencing"]


def test_missing_or_wrong_numbers_and_geometries_are_one_line_input_errors():
    """match_polygons(iou=None) raised numpy's TypeError, line_scores(buffer="2"/None/inf)
    Python's, regularize_polygon(None) an AttributeError and a negative or NaN cell shapely's
    or nothing: each is an InputError naming the argument now."""
    import math

    import pytest

    from geotile.errors import InputError
    from geotile.line_metrics import line_scores
    from geotile.object_scores import match_polygons
    from geotile.regularize import regularize_polygon

    square = [shapely.box(0, 0, 10, 10)]
    road = [shapely.LineString([(0, 0), (100, 0)])]
    with pytest.raises(InputError, match=r"^--iou None: give a number in \[0, 1\)"):
        match_polygons(square, square, iou=None)
    for buffer in ("2", None, math.inf, 0):
        with pytest.raises(InputError, match=r"^--buffer .*: give a number > 0"):
            line_scores(road, road, buffer=buffer)
    assert line_scores(road, road, buffer=2).precision == 1.0
    with pytest.raises(InputError, match="NoneType is no geometry; give a shapely Polygon"):
        regularize_polygon(None, 1.0)
    for cell in (-1.0, math.nan, "1", None):
        with pytest.raises(InputError, match=r"^cell .*: give a number > 0"):
            regularize_polygon(square[0], cell)
    assert regularize_polygon(square[0], 1.0).area == pytest.approx(100.0)


def _interleaved(check, names, monkeypatch) -> bool:
    """Run ``check(0)`` and ``check(1)`` in two threads, the second let into its own GDAL
    message block (its handler joins the first's on ``names[0]``) while the first waits in
    its; True if the first got in."""
    import logging
    import threading

    import rasterio

    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    inside = {"first": a_in, "second": b_in}

    def meeting(opener):
        def opening(*args, **kwargs):
            name = threading.current_thread().name
            need = 1 if name == "first" else 2
            collecting = len(logging.getLogger(names[0]).handlers) >= need
            if collecting and name in inside and not inside[name].is_set():
                inside[name].set()  # in the check's block: let the other thread in
                (b_in.wait(1.5) if name == "first" else a_out.wait(5))
            return opener(*args, **kwargs)
        return opening

    def first():
        check(0)
        a_out.set()

    def second():
        a_in.wait(5)
        check(1)

    monkeypatch.setattr(rasterio, "open", meeting(rasterio.open))
    monkeypatch.setattr(rasterio.io.MemoryFile, "open", meeting(rasterio.io.MemoryFile.open))
    threads = [threading.Thread(target=first, name="first"),
               threading.Thread(target=second, name="second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    monkeypatch.undo()
    return a_in.is_set()


def test_creation_option_checks_in_two_threads_leave_rasterios_loggers_as_they_were(
        make_raster, tmp_path, monkeypatch):
    """Checking --co options collects GDAL's warnings by silencing rasterio's loggers around a
    trial write: two threads whose checks interleaved (make_masks or PredictOptions with
    creation_options from a pool; tile_rasters' probe did the same) left rasterio._env,
    _err, _io and _base at level WARNING with propagate False for good, and the user's
    logging never again saw a GDAL message (6 runs of 6: every one)."""
    import logging

    image = make_raster("img.tif", np.zeros((3, 32, 32), np.uint8), transform=TRANSFORM)
    labels = tmp_path / "labels.geojson"
    gpd.GeoDataFrame(geometry=[shapely.box(X0 + 2, Y0 - 10, X0 + 10, Y0 - 2)],
                     crs=UTM_CRS).to_file(labels)
    names = ("rasterio._env", "rasterio._err", "rasterio._io", "rasterio._base")
    co = {"compress": "deflate"}
    checks = {"predict": lambda n: geotile.PredictOptions(creation_options=co),
              "make_masks": lambda n: geotile.make_masks(
                  labels, [image], [tmp_path / f"mask{n}.tif"], creation_options=co)}
    for what, check in checks.items():
        before = [(lg.level, lg.propagate, list(lg.handlers))
                  for lg in map(logging.getLogger, names)]
        assert _interleaved(check, names, monkeypatch), what
        assert [(lg.level, lg.propagate, list(lg.handlers))
                for lg in map(logging.getLogger, names)] == before, what


def test_library_calls_refuse_a_corrupt_jpeg_as_the_commands_do(tmp_path):
    """geotile.predict_raster / tile_rasters on a JPEG with garbled scan data predicted and
    cut libjpeg's noise without a word (the commands refuse it: their GDAL setting
    GDAL_ERROR_ON_LIBJPEG_WARNING=TRUE was the CLI's only); now the same InputError, also
    from a worker thread, nothing written and the setting not left behind."""
    import threading

    import pytest
    from rasterio.env import get_gdal_config

    from geotile.errors import InputError

    from .conftest import write_garbled_jpeg
    from .onnx_models import pointwise_model

    model = geotile.OnnxModel.from_path(pointwise_model(tmp_path / "m.onnx"))
    jpeg = write_garbled_jpeg(tmp_path / "photo.jpg")
    calls = {
        "predict": lambda: geotile.predict_raster(
            model, jpeg, tmp_path / "o.tif", options=geotile.PredictOptions(tile_size=32)),
        "tile": lambda: geotile.tile_rasters(jpeg, None, tmp_path / "patches",
                                             options=geotile.TileOptions(size=32)),
    }
    for name, call in calls.items():
        for in_thread in (False, True):
            caught = []

            def run(call=call, caught=caught):
                try:
                    call()
                except InputError as exc:
                    caught.append(str(exc))

            if in_thread:
                thread = threading.Thread(target=run)
                thread.start()
                thread.join()
            else:
                run()
            assert caught and "Corrupt JPEG data" in caught[0], (name, in_thread)
            assert "GDAL_ERROR_ON_LIBJPEG_WARNING=FALSE" in caught[0]
    assert not (tmp_path / "o.tif").exists() and not (tmp_path / "patches").exists()
    assert get_gdal_config("GDAL_ERROR_ON_LIBJPEG_WARNING") is None
    with pytest.warns(Warning):  # the user's own setting wins: read anyway (no georeferencing)
        import rasterio

        with rasterio.Env(GDAL_ERROR_ON_LIBJPEG_WARNING="FALSE"):
            calls["predict"]()
    assert (tmp_path / "o.tif").exists()


def test_evaluate_relaxed_refuses_a_corrupt_jpeg_as_evaluate_does(run_cli, tmp_path):
    """geotile.evaluate_relaxed read a JPEG with garbled scan data without geotile's GDAL
    settings (the only public reader of rasters not under them): libjpeg's noise was scored
    as an RGB image ('an RGB image, not a prediction') where `geotile evaluate` and
    evaluate_files say the file is damaged; now the same InputError, the setting not left."""
    import pytest
    from rasterio.env import get_gdal_config

    from geotile.errors import InputError

    from .conftest import write_garbled_jpeg

    jpeg = write_garbled_jpeg(tmp_path / "photo.jpg")
    result = run_cli("evaluate", jpeg, jpeg)
    assert result.exit_code == 1 and "Corrupt JPEG data" in result.output
    with pytest.raises(InputError, match="Corrupt JPEG data") as files:
        geotile.evaluate_files(jpeg, jpeg)
    with pytest.raises(InputError, match="Corrupt JPEG data") as relaxed:
        geotile.evaluate_relaxed(jpeg, jpeg)
    assert str(relaxed.value) == str(files.value)
    assert get_gdal_config("GDAL_ERROR_ON_LIBJPEG_WARNING") is None


def test_library_calls_run_with_warnings_as_errors(make_raster, tmp_path):
    """Under ``warnings.simplefilter("error")`` (a user's pytest with filterwarnings=error,
    python -W error) geotile.make_masks and tile_rasters failed with affine 3's
    PendingDeprecationWarning 'Use `@` matmul instead of `*`', raised in rasterio's
    windows.transform that they called (the commands hide it; the library cannot without
    changing the caller's filters). Now they compute window transforms themselves: the
    same masks and patches as a plain run, the caller's filters untouched."""
    import warnings

    image = make_raster("img.tif", np.random.default_rng(0).integers(
        0, 255, (3, 64, 64), dtype=np.uint8), transform=TRANSFORM)
    labels = tmp_path / "labels.geojson"
    gpd.GeoDataFrame(geometry=[shapely.box(X0 + 4.25, Y0 - 20, X0 + 20, Y0 - 4.75)],
                     crs=UTM_CRS).to_file(labels)
    for mode in ("default", "error"):
        with warnings.catch_warnings():
            warnings.simplefilter(mode)
            filters = list(warnings.filters)
            geotile.make_masks(labels, [image], [tmp_path / f"{mode}.tif"],
                               options=geotile.MaskOptions(
                                   channels=("footprint", "boundary", "contact")))
            geotile.tile_rasters(image, tmp_path / f"{mode}.tif", tmp_path / mode,
                                 options=geotile.TileOptions(size=24, overlap=4))
            # (scipy.special's import adds its own filter, in the first round)
            assert mode == "default" or warnings.filters == filters
    names = sorted(p.relative_to(tmp_path / "default")
                   for p in (tmp_path / "default").rglob("*.tif"))
    assert len(names) == 2 * 9
    for first, second in [(tmp_path / "default.tif", tmp_path / "error.tif"),
                          *((tmp_path / "default" / n, tmp_path / "error" / n)
                            for n in names)]:
        with rasterio.open(first) as a, rasterio.open(second) as b:
            assert a.transform == b.transform and a.crs == b.crs
            assert np.array_equal(a.read(), b.read())


def test_a_progress_bar_leaves_no_thread_and_no_start_method(make_raster, tmp_path):
    """make_masks(progress=True) in a fresh process left tqdm's monitor thread running
    (2 threads after the call, so every later make_masks ran its bands in one process) and
    fixed multiprocessing's start method ('fork'), so the caller's own
    set_start_method('spawn') then failed with 'context has already been set'."""
    import subprocess
    import sys
    import textwrap

    image = make_raster("img.tif", np.ones((3, 64, 64), np.uint8), transform=TRANSFORM)
    labels = tmp_path / "labels.geojson"
    gpd.GeoDataFrame(geometry=[shapely.box(X0 + 4, Y0 - 20, X0 + 20, Y0 - 4)],
                     crs=UTM_CRS).to_file(labels)
    script = textwrap.dedent(f"""
        import multiprocessing, threading, time
        from geotile import make_masks
        make_masks({str(labels)!r}, [{str(image)!r}], [{str(tmp_path / 'mask.tif')!r}],
                   progress=True)
        time.sleep(0.5)
        print(threading.active_count(), multiprocessing.get_start_method(allow_none=True))
        multiprocessing.set_start_method("spawn")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "None"]


def _user_and_geotile_warnings_show_under(filters) -> list[str]:
    """The messages a user's warning and a GeotileWarning show with ``filters`` in place (as
    another thread's catch_warnings puts back the list it saved)."""
    import warnings

    from geotile.errors import GeotileWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.filters[:] = filters
        warnings.warn("the user's own", UserWarning, stacklevel=1)
        warnings.warn("x.tif: the raster has no georeferencing", GeotileWarning, stacklevel=1)
    return sorted(str(w.message) for w in caught)


def test_a_pool_keeps_no_filter_from_make_masks_datum_check(make_raster, tmp_path,
                                                             monkeypatch):
    """make_masks of lon/lat labels on a UTM image asks PROJ whether its best transformation
    is available, hiding every warning (catch_warnings + simplefilter("ignore")) outside
    geotile's lock: from an 8-thread pool of make_masks/predict/vectorize/tile/evaluate that
    left ('ignore', Warning) in the process's filters for good (1 round of 10), and no
    warning showed again. Only pyproj's own warning is hidden now, in its thread alone."""
    import warnings

    import pyproj.transformer

    group = pyproj.transformer.TransformerGroup
    saved = []  # the filters another thread's catch_warnings would save during the check

    def saving(*args, **kwargs):
        saved.append(list(warnings.filters))
        return group(*args, **kwargs)

    monkeypatch.setattr(pyproj.transformer, "TransformerGroup", saving)
    image = make_raster("img.tif", np.full((1, 40, 40), 7, np.uint8), transform=TRANSFORM)
    box = shapely.box(X0 + 2, Y0 - 12, X0 + 12, Y0 - 2)
    gpd.GeoDataFrame(geometry=[box], crs=UTM_CRS).to_crs("EPSG:4326").to_file(
        tmp_path / "labels.geojson")
    summary = geotile.make_masks(tmp_path / "labels.geojson", [image], [tmp_path / "m.tif"])
    assert summary[0]["positive_pixels"] == 400
    assert len(saved) == 1
    assert _user_and_geotile_warnings_show_under(saved[0]) == [
        "the user's own", "x.tif: the raster has no georeferencing"]


def test_a_pool_keeps_no_filter_from_evaluates_closed_lines_note(tmp_path, monkeypatch):
    """evaluate_files of lines against polygons reads the lines again for its note on
    closed ones, hiding every warning (catch_warnings + simplefilter("ignore")) outside
    geotile's lock: another thread's catch_warnings that saved the filters then put back
    ('ignore', Warning) for good. The read's warnings are set aside in its thread now, the
    filters untouched."""
    import warnings

    import pytest

    from geotile import labels
    from geotile.errors import InputError

    read = labels.read_labels
    saved = []

    def saving(*args, **kwargs):
        saved.append(list(warnings.filters))
        warnings.warn("read_labels' own", UserWarning, stacklevel=1)
        return read(*args, **kwargs)

    monkeypatch.setattr(labels, "read_labels", saving)
    ring = shapely.LineString([(X0, Y0), (X0 + 10, Y0), (X0 + 10, Y0 - 10), (X0, Y0)])
    gpd.GeoDataFrame(geometry=[ring], crs=UTM_CRS).to_file(tmp_path / "pred.geojson")
    gpd.GeoDataFrame(geometry=[shapely.box(X0, Y0 - 10, X0 + 10, Y0)], crs=UTM_CRS).to_file(
        tmp_path / "truth.geojson")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(InputError, match=r"pred\.geojson holds lines but"):
            geotile.evaluate_files(tmp_path / "pred.geojson", tmp_path / "truth.geojson")
    assert [str(w.message) for w in caught if "read_labels" in str(w.message)] == []
    assert len(saved) == 1
    assert _user_and_geotile_warnings_show_under(saved[0]) == [
        "the user's own", "x.tif: the raster has no georeferencing"]


def test_overlapping_reads_keep_geotiles_vector_settings_until_the_last_ends(monkeypatch):
    """pyogrio's GDAL settings are the process's: make_masks of a File Geodatabase in two
    threads at once set OPENFILEGDB_USE_SPATIAL_INDEX=NO in the first, took it for the
    user's own in the second, and the first's end unset it under the second, which then
    read through the stale index (no features near the image); remote reads lost their
    HTTP time limits likewise. Now the setting stays until the last read ends; the user's
    own value is never touched."""
    import pyogrio

    from geotile.gdal_settings import _vector_settings
    from geotile.labels import _without_gdb_index

    key, http = "OPENFILEGDB_USE_SPATIAL_INDEX", "GDAL_HTTP_CONNECTTIMEOUT"
    monkeypatch.delenv(key, raising=False)
    monkeypatch.delenv(http, raising=False)
    for reading, name, value in ((lambda: _without_gdb_index("OpenFileGDB"), key, "NO"),
                                 (lambda: _vector_settings({http: "15"}), http, 15)):
        first, second = reading(), reading()
        first.__enter__()
        second.__enter__()  # another thread's, while the first runs
        first.__exit__(None, None, None)
        assert pyogrio.get_gdal_config_option(name) == value
        second.__exit__(None, None, None)
        assert pyogrio.get_gdal_config_option(name) is None
        pyogrio.set_gdal_config_options({name: "users"})
        try:
            with reading(), reading():
                assert pyogrio.get_gdal_config_option(name) == "users"
            assert pyogrio.get_gdal_config_option(name) == "users"
        finally:
            pyogrio.set_gdal_config_options({name: None})


def test_a_vector_setting_the_user_makes_during_a_read_is_kept_after_it(monkeypatch):
    """pyogrio_settings unset, at the end of the last block, whatever the option then held:
    a user's OPENFILEGDB_USE_SPATIAL_INDEX=YES set while a make_masks ran (another thread,
    a callback) was wiped to unset. geotile unsets only the value it set."""
    import pyogrio

    from geotile.gdal_settings import pyogrio_settings

    key = "OPENFILEGDB_USE_SPATIAL_INDEX"
    monkeypatch.delenv(key, raising=False)
    try:
        with pyogrio_settings({key: "NO"}):
            assert pyogrio.get_gdal_config_option(key) == "NO"
            pyogrio.set_gdal_config_options({key: "YES"})  # the user's, during the read
            with pyogrio_settings({key: "NO"}):  # a read started after: the user's value
                assert pyogrio.get_gdal_config_option(key) == "YES"
        assert pyogrio.get_gdal_config_option(key) == "YES"
        with pyogrio_settings({key: "NO"}):  # the user's value, set before
            assert pyogrio.get_gdal_config_option(key) == "YES"
        assert pyogrio.get_gdal_config_option(key) == "YES"
    finally:
        pyogrio.set_gdal_config_options({key: None})


def test_resume_remembers_a_bounded_number_of_output_folders(tmp_path):
    """A service's resume runs, each into a folder of its own, kept every folder's listing
    of hidden entries for good (remove_temporaries on 300 folders: 300 kept, growing with
    every job); now the most recent ones only, as the input listings are."""
    from geotile import output_files

    output_files._HIDDEN_NAMES.clear()
    for job in range(300):
        folder = tmp_path / f"job{job}"
        folder.mkdir()
        (folder / f".out.tif.tmp.{job}").write_bytes(b"")  # a killed run's temporary
        output_files.remove_temporaries(folder / "out.tif")
    assert 0 < len(output_files._HIDDEN_NAMES) <= 64
