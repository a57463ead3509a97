"""Where geotile's warnings say they come from: the caller's own line (the first frame
outside the geotile package), through decorators and helpers alike, so that
``warnings.filterwarnings(..., module=...)`` and ``-W error::...`` act on the user's code.
A warning raised in one of geotile's own reader threads has no user frame on its stack: it
names the thread's first frame outside geotile (``threading``)."""

from __future__ import annotations

import json
import threading
import warnings

import numpy as np
import pytest

from geotile.errors import GeotileWarning

from .conftest import UTM_CRS, UTM_ORIGIN, write_raster, write_without_transform
from .onnx_models import pointwise_model
from .test_no_georef import _plain


def _image(tmp_path):
    rng = np.random.default_rng(3)
    return _plain(tmp_path / "scene.png", rng.integers(1, 250, (3, 64, 96), np.uint8), "PNG")


def _square_geojson(path, extra=(), encoding="utf-8", crs=UTM_CRS, name="roof"):
    x, y = UTM_ORIGIN
    ring = [[x + 4, y - 4], [x + 20, y - 4], [x + 20, y - 20], [x + 4, y - 20], [x + 4, y - 4]]
    features = [{"type": "Feature", "properties": {"name": name},
                 "geometry": {"type": "Polygon", "coordinates": [ring]}}, *extra]
    document = {"type": "FeatureCollection", "features": features,
                "crs": {"type": "name", "properties": {"name": crs}}}
    path.write_bytes(json.dumps(document, ensure_ascii=False).encode(encoding))
    return path


def _point():
    x, y = UTM_ORIGIN
    return {"type": "Feature", "properties": {"name": "pole"},
            "geometry": {"type": "Point", "coordinates": [x + 30, y - 30]}}


def _read_latin1(tmp_path):
    from geotile import read_labels

    read_labels(_square_geojson(tmp_path / "a.geojson", encoding="latin-1", name="café"))


def _read_open_ring(tmp_path):
    from geotile import read_labels

    path = _square_geojson(tmp_path / "a.geojson")
    document = json.loads(path.read_text())
    document["features"][0]["geometry"]["coordinates"][0].pop()  # not closed
    path.write_text(json.dumps(document))
    read_labels(path)


def _masks(tmp_path, labels):
    from geotile import make_masks

    image = write_raster(tmp_path / "ortho.tif", np.ones((3, 80, 80), np.uint8))
    make_masks(labels, [image], [tmp_path / "mask.tif"])


def _masks_points(tmp_path):
    _masks(tmp_path, _square_geojson(tmp_path / "a.geojson", extra=[_point()]))


def _masks_latin1(tmp_path):
    _masks(tmp_path, _square_geojson(tmp_path / "a.geojson", encoding="latin-1", name="é"))


def _predict(tmp_path):
    from geotile import predict_raster

    predict_raster(pointwise_model(tmp_path / "m.onnx", activation="sigmoid"),
                   _image(tmp_path), tmp_path / "p.tif")


def _predict_on_workers(tmp_path):
    """Tasks run on a dask cluster's worker threads; their warnings are said here."""
    distributed = pytest.importorskip("distributed")
    from geotile import predict_rasters

    model = pointwise_model(tmp_path / "m.onnx", activation="sigmoid")
    with distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=1,
                                  dashboard_address=None) as cluster:
        predict_rasters(model, [_image(tmp_path)], [tmp_path / "p.tif"],
                        scheduler=cluster.scheduler_address)


def _tile(tmp_path):
    from geotile import TileOptions, tile_rasters

    mask = _plain(tmp_path / "scene_mask.png", np.ones((1, 64, 96), np.uint8), "PNG")
    tile_rasters(_image(tmp_path), mask, tmp_path / "out", options=TileOptions(size=32))


def _no_crs_raster(tmp_path, name="prob.tif"):
    array = np.zeros((1, 40, 40), np.float32)
    array[0, 10:30, 18:22] = 0.9
    array[0, 18:22, 10:30] = 0.9
    return write_without_transform(tmp_path / name, array)


def _vectorize(tmp_path):
    from geotile import vectorize_rasters

    vectorize_rasters(_no_crs_raster(tmp_path), tmp_path / "out.gpkg")


def _vectorize_lines(tmp_path):
    from geotile import vectorize_lines

    vectorize_lines(_no_crs_raster(tmp_path), tmp_path / "lines.gpkg")


def _evaluate_lines(tmp_path):
    from geotile import evaluate_lines

    def lines(name):
        document = {"type": "FeatureCollection", "crs": None, "features": [
            {"type": "Feature", "properties": {}, "geometry": {
                "type": "LineString", "coordinates": [[2, 2], [30, 2], [30, 30]]}}]}
        (tmp_path / name).write_text(json.dumps(document))
        return tmp_path / name

    evaluate_lines(lines("pred.geojson"), lines("truth.geojson"))


CALLS = [_read_latin1, _read_open_ring, _masks_points, _masks_latin1, _predict,
         _predict_on_workers, _tile, _vectorize, _vectorize_lines, _evaluate_lines]


@pytest.mark.parametrize("call", CALLS, ids=[c.__name__.strip("_") for c in CALLS])
def test_a_warning_names_the_callers_line(call, tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call(tmp_path)
    said = [w for w in caught if issubclass(w.category, GeotileWarning)]
    assert said, [str(w.message) for w in caught]
    assert [(w.filename, str(w.message)) for w in said if w.filename != __file__] == []


def test_a_module_filter_names_the_callers_module(tmp_path):
    """-W error::GeotileWarning:tests.test_warning_places (a filter on the user's module)
    turns the warning into an error."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", category=GeotileWarning, module=__name__)
        with pytest.raises(GeotileWarning, match="declare no CRS"):
            _evaluate_lines(tmp_path)


def test_a_warning_in_geotiles_reader_thread_names_the_threads_frame():
    """No user frame is on a reader thread's stack: the first outside geotile is
    threading's."""
    from geotile.streaming import background
    from geotile.user_warnings import warn

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        list(background(map(warn, ["in a thread"])))
    assert [(w.filename, str(w.message)) for w in caught] == [(threading.__file__,
                                                               "in a thread")]


@pytest.mark.parametrize("call, text", [(_read_latin1, "not UTF-8"),
                                        (_read_open_ring, "ring"),
                                        (_masks_latin1, "not UTF-8")],
                         ids=["read_latin1", "read_open_ring", "masks_latin1"])
def test_a_warning_made_an_error_reaches_the_user_as_itself(call, text, tmp_path):
    """-W error: read_labels' broad handler turned the warning into 'not vector data GDAL
    can read (...). Give GeoJSON, ...', wrong advice for a file GDAL reads -> the warning
    itself is raised, its own text the error."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", category=GeotileWarning)
        with pytest.raises(GeotileWarning) as raised:
            call(tmp_path)
    assert text in str(raised.value) and "GDAL can read" not in str(raised.value)


def test_make_masks_under_w_error_says_the_warning(run_cli, tmp_path):
    from .conftest import assert_one_line_error

    labels = _square_geojson(tmp_path / "a.geojson", encoding="latin-1", name="café")
    image = write_raster(tmp_path / "ortho.tif", np.ones((3, 80, 80), np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
    assert_one_line_error(result, "a.geojson: not UTF-8", "made an error by PYTHONWARNINGS")
    assert "GDAL can read" not in result.output
    assert not (tmp_path / "mask.tif").exists()
