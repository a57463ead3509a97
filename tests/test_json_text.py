"""geotile.json_text.loads: the standard library's results, from a faster parser."""

import json

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from geotile.json_text import loads
from geotile.labels import read_labels

# documents a faster parser reads otherwise than json.loads (or refuses where json reads)
ODD = [
    '{"id": 123456789012345678901234567890}',  # beyond 64 bits: json keeps the integer
    '[-9223372036854775809, 18446744073709551616, 1000000000000000000]',
    '[NaN, Infinity, -Infinity]',
    "[1e400, -1e400]",
    '["\\ud800 lone surrogate"]',
    '{"a": 1, "a": 2}',
    "[-0.0, 5e-324, 1.7976931348623157e308, 0.1, 1.0, 1]",
    '"\\u0000"',
]


@pytest.mark.parametrize("text", ODD)
def test_loads_gives_what_json_gives(text):
    expected = json.loads(text)
    for data in (text, text.encode()):
        got = loads(data)
        assert json.dumps(got) == json.dumps(expected)
        assert [type(v) for v in _leaves(got)] == [type(v) for v in _leaves(expected)]


def _leaves(value):
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


@pytest.mark.parametrize("text", ["{", '{"a": 1}x', "", "[1,]"])
def test_loads_refuses_what_json_refuses(text):
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text)
    with pytest.raises(json.JSONDecodeError) as got:
        loads(text)
    assert str(got.value) == str(expected.value)


def test_random_coordinates_parse_to_the_same_doubles():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.uniform(-180, 180, 5000), rng.uniform(-1e7, 1e7, 5000)])
    digits = rng.integers(1, 18, values.size)
    text = "[" + ",".join(f"{v:.{d}g}" for v, d in zip(values, digits, strict=True)) + "]"
    assert loads(text) == json.loads(text)


def test_a_long_integer_property_keeps_its_value_in_labels(tmp_path):
    """An id of 20 digits (beyond 64 bits) stays the integer the file holds."""
    big = 98765432109876543210
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"uid": big, "class": 1},
         "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}}]}
    path = tmp_path / "l.geojson"
    path.write_text(json.dumps(doc))
    labels = read_labels(path, "EPSG:32633")
    assert labels.fields["uid"].tolist() == [big]


def test_make_masks_from_geojson_burns_what_rasterio_burns(tmp_path):
    """The GeoJSON read through the faster parser burns the same pixels."""
    from rasterio.features import rasterize

    from geotile.masks import make_masks

    rng = np.random.default_rng(3)
    features, shapes = [], []
    for x, y in rng.uniform(20, 300, (40, 2)):
        ring = [[500000 + x, 3700000 - y], [500000 + x + 9.37, 3700000 - y],
                [500000 + x + 9.37, 3700000 - y - 6.1], [500000 + x, 3700000 - y]]
        features.append({"type": "Feature", "properties": {},
                         "geometry": {"type": "Polygon", "coordinates": [ring]}})
        shapes.append({"type": "Polygon", "coordinates": [ring]})
    labels = tmp_path / "b.geojson"
    labels.write_text(json.dumps({"type": "FeatureCollection", "crs": {
        "type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32633"}},
        "features": features}))
    transform = from_origin(500000, 3700000, 0.5, 0.5)
    image = tmp_path / "i.tif"
    with rasterio.open(image, "w", driver="GTiff", width=660, height=660, count=1,
                       dtype="uint8", crs="EPSG:32633", transform=transform) as dst:
        dst.write(np.full((1, 660, 660), 7, np.uint8))
    make_masks(labels, [image], [tmp_path / "m.tif"])
    with rasterio.open(tmp_path / "m.tif") as src:
        mask = src.read(1)
    expected = rasterize(shapes, out_shape=(660, 660), transform=transform, dtype="uint8")
    assert mask.sum() > 0
    np.testing.assert_array_equal(mask, expected)


def test_labels_read_without_orjson(tmp_path, monkeypatch):
    """An environment installed before orjson was a dependency (pip install -e, then a
    pull) reads GeoJSON through json, not refuses every file as 'not vector data'."""
    monkeypatch.setitem(__import__("sys").modules, "orjson", None)  # import fails
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"class": 2, "h": 1.5},
         "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [4, 0], [4, 3], [0, 0]]]}}]}
    path = tmp_path / "l.geojson"
    path.write_text(json.dumps(doc))
    assert loads('{"a": [1, 2.5]}') == {"a": [1, 2.5]}
    labels = read_labels(path, "EPSG:32633")
    assert labels.fields["class"].tolist() == [2]
    assert labels.geometries[0].area == 6.0
