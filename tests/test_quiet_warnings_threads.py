"""Library code that hides a warning, in one thread, while another hides one too: a bare
``catch_warnings`` in the library raced the other thread's, leaving a filter installed for
good, and hid the warnings of every thread (a user's own) while it ran."""

import contextlib
import threading
import types
import warnings

import numpy as np
import pytest
import shapely

from geotile.errors import GeotileWarning
from geotile.quiet_warnings import hidden, recorded


def _slow(real, entered, other_in):
    """``real`` called once ``entered`` is said and the other thread had time to be in."""
    def call(*args, **kwargs):
        entered.set()
        other_in.wait(0.5)  # the other thread would be inside now, without the lock
        return real(*args, **kwargs)
    return call


def _curves(monkeypatch, entered, other_in, tmp_path):
    import pyogrio.raw

    from geotile.curves import _gdal_linear

    monkeypatch.setattr(pyogrio.raw, "write", _slow(pyogrio.raw.write, entered, other_in))
    line = shapely.LineString([(0, 0), (1, 1)])
    return (lambda: _gdal_linear(np.array([line], dtype=object)),
            lambda got: shapely.equals(got[0], line), "'crs' was not provided.", UserWarning)


def _label_filter(monkeypatch, entered, other_in, tmp_path):
    import pyogrio.raw

    from geotile.label_filter import selected

    monkeypatch.setattr(pyogrio.raw, "write", _slow(pyogrio.raw.write, entered, other_in))
    points = [shapely.Point(0, 0), shapely.Point(1, 1)]
    return (lambda: selected({"a": np.array([1, 2])}, points, "a > 1", "src"),
            lambda got: got.tolist() == [False, True], "'crs' was not provided.", UserWarning)


def _parquet(monkeypatch, entered, other_in, tmp_path):
    import geopandas as gpd

    from geotile.labels import _geo_metadata
    from geotile.parquet_batches import rows_near

    path = tmp_path / "empty.parquet"
    gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point()], crs=32633).to_parquet(path)
    monkeypatch.setattr(np, "nanmin", _slow(np.nanmin, entered, other_in))
    return (lambda: rows_near(path, _geo_metadata(path), [(0, 0, 1, 1)], None),
            lambda got: len(got[0]) == 0 and np.isnan(got[1]).all(),
            "All-NaN slice encountered", RuntimeWarning)


def _via(monkeypatch, entered, other_in, tmp_path):
    import geotile.via_labels
    from geotile.annotation_truth import _read_via

    text = "a.png: 10 bytes, but via.json annotated a file of 12 bytes: another copy"

    def read(labels, images, class_field):
        warnings.warn(text, GeotileWarning, stacklevel=1)
        return "read"

    monkeypatch.setattr(geotile.via_labels, "read_via", _slow(read, entered, other_in))
    return (lambda: _read_via("via.json", ["a.png"], None), lambda got: got == "read", text,
            GeotileWarning)


def _labelme_classes(monkeypatch, entered, other_in, tmp_path):
    import geotile.input_paths
    import geotile.labelme_labels
    import geotile.labels
    import geotile.no_georef
    import geotile.raster
    from geotile.masks import labelme_frames

    text = "b.json: 1 feature of field 'label' names background ('_background_'): burnt"

    def class_ids(*args, **kwargs):
        warnings.warn(text, GeotileWarning, stacklevel=1)

    monkeypatch.setattr(geotile.input_paths, "input_path", lambda path: path)
    monkeypatch.setattr(geotile.raster, "open_raster", lambda *a, **k: contextlib.nullcontext(
        types.SimpleNamespace(transform=None)))
    monkeypatch.setattr(geotile.no_georef, "map_crs", lambda src: None)
    monkeypatch.setattr(geotile.labelme_labels, "image_classes",
                        lambda *a: {geotile.labelme_labels.CATEGORY: []})
    monkeypatch.setattr(geotile.labels, "class_ids", _slow(class_ids, entered, other_in))
    labelme = types.SimpleNamespace(files=["b.json"], names=["_background_"])
    return (lambda: labelme_frames(labelme, ["b.png"], None),
            lambda got: isinstance(got, types.GeneratorType), text, GeotileWarning)


def _labelme_ignored(monkeypatch, entered, other_in, tmp_path):
    import geotile.labelme_labels
    import geotile.masks

    text = "c.json: 1 feature of field 'label' names background ('__ignore__'): burnt"

    def prepare_labels(*args, **kwargs):
        warnings.warn(text, GeotileWarning, stacklevel=1)
        raise LookupError("placed")

    monkeypatch.setattr(geotile.labelme_labels, "image_labels", lambda *a: None)
    monkeypatch.setattr(geotile.masks, "prepare_labels",
                        _slow(prepare_labels, entered, other_in))
    labelme = types.SimpleNamespace(files=["c.json"], names=[])

    def place():
        with pytest.raises(LookupError, match="placed"):
            next(geotile.masks._placed_labelme(labelme, [("c.png", None, None)], None))
        return "raised"

    return place, lambda got: got == "raised", text, GeotileWarning


@pytest.mark.parametrize("case", [_curves, _label_filter, _parquet, _via, _labelme_classes,
                                  _labelme_ignored])
def test_library_hiding_a_warning_beside_another_thread_leaves_filters_and_others_warnings(
        case, monkeypatch, tmp_path):
    """Thread A runs a library path that hides one warning, slowly; meanwhile the main thread
    says the same warning as its own, then hides another while A ends. The filters are as
    they were after both, A saw none of its hidden warning, the main thread saw its own."""
    warnings.simplefilter("always")
    entered, other_in, done = threading.Event(), threading.Event(), threading.Event()
    call, good, text, category = case(monkeypatch, entered, other_in, tmp_path)
    before, results = list(warnings.filters), {}

    def library():
        with recorded() as seen:
            results["got"] = call()
            done.set()
        results["seen"] = [str(w.message) for w in seen]

    thread = threading.Thread(target=library)
    with recorded() as mine:
        thread.start()
        assert entered.wait(5)
        warnings.warn(f"{text} (the user's own)", category, stacklevel=1)
        with hidden(DeprecationWarning, message="main"):  # in while A is: A out first
            other_in.set()
            assert done.wait(10)
        thread.join(10)
    assert not thread.is_alive()
    assert warnings.filters == before
    assert good(results["got"]) and results["seen"] == []
    assert [str(w.message) for w in mine] == [f"{text} (the user's own)"]
