"""The bundled example: scene generation and the shipped model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from rasterio.features import rasterize

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))

from make_scene import make_scene  # noqa: E402


def test_scene_is_deterministic_and_buildings_are_where_the_footprints_say():
    first, transform, footprints = make_scene(3, 400)
    again, _, footprints_again = make_scene(3, 400)
    other, _, _ = make_scene(4, 400)
    np.testing.assert_array_equal(first, again)
    assert [f.wkt for f in footprints] == [f.wkt for f in footprints_again]
    assert not np.array_equal(first, other)
    assert len(footprints) >= 8
    assert not shapely.union_all(footprints).is_empty
    inside = rasterize(footprints, out_shape=(400, 400), transform=transform).astype(bool)
    # roofs are saturated colours or bright/grey; grass is green-dominant
    green_dominant = (first[1] > first[0]) & (first[1] > first[2])
    assert green_dominant[~inside].mean() > 0.6
    assert green_dominant[inside].mean() < 0.2


def test_terraced_rows_are_touching_houses_with_visible_party_walls():
    _, _, plain = make_scene(3, 400)
    image, transform, footprints = make_scene(3, 400, terraced=3)
    # the default draws no rows: no two buildings touch
    assert not any(a.distance(b) < 2 for i, a in enumerate(plain) for b in plain[i + 1 :])
    rows = [(i, j) for i in range(len(footprints)) for j in range(i + 1, len(footprints))
            if footprints[i].intersection(footprints[j]).length > 3]  # a shared wall, >= 3 m
    assert len(rows) >= 3  # at least one pair per row
    for i, j in rows:
        assert footprints[i].intersection(footprints[j]).area < 1e-6  # touching, not overlapping
    # every house is its own footprint: masks burn a boundary on each shared wall
    ids = rasterize(zip(footprints, range(1, len(footprints) + 1), strict=True),
                    out_shape=(400, 400), transform=transform)
    assert len(np.unique(ids)) == len(footprints) + 1
    # the party wall is darker than the roofs on either side
    i, j = rows[0]
    wall = footprints[i].intersection(footprints[j])
    on_wall = rasterize([wall.buffer(0.2)], out_shape=(400, 400), transform=transform,
                        all_touched=True).astype(bool) & (ids > 0)
    roofs = np.isin(ids, [i + 1, j + 1]) & ~rasterize([wall.buffer(1.2)], out_shape=(400, 400),
                                                     transform=transform).astype(bool)
    brightness = image.astype(float).sum(0)
    assert brightness[on_wall].mean() < 0.85 * brightness[roofs].mean()


def test_bundled_data_matches_its_grid():
    with rasterio.open(EXAMPLES / "data" / "scene.tif") as src:
        assert src.count == 3 and src.dtypes[0] == "uint8" and src.crs.to_epsg() == 32616
        bounds = shapely.box(*src.bounds)
    import geopandas as gpd

    frame = gpd.read_file(EXAMPLES / "data" / "scene_footprints.geojson")
    assert frame.crs.to_epsg() == 32616 and frame.geometry.within(bounds).all()
    # the held-out scene includes terraced rows: houses sharing a wall
    geometries = list(frame.geometry)
    tree = shapely.STRtree(geometries)
    shared = {(i, int(j)) for i, g in enumerate(geometries) for j in tree.query(g)
              if j > i and g.intersection(geometries[j]).length > 3}
    assert len(shared) >= 10


MODEL = EXAMPLES / "models" / "buildings_unet.onnx"


def _window(rows: slice, cols: slice):
    import geopandas as gpd

    with rasterio.open(EXAMPLES / "data" / "scene.tif") as src:
        window = ((rows.start, rows.stop), (cols.start, cols.stop))
        pixels = src.read(window=window)
        transform = src.window_transform(window)
    truth = gpd.read_file(EXAMPLES / "data" / "scene_footprints.geojson")
    return pixels, transform, truth


@pytest.mark.skipif(not MODEL.exists(), reason="no bundled model")
def test_bundled_model_names_its_three_channels_and_finds_buildings_on_a_window():
    from geotile.model import OnnxModel
    from geotile.predict import predict_array

    model = OnnxModel.from_path(MODEL)
    assert model.class_names == ["footprint", "boundary", "contact"] and model.tile_size == 256
    meta = model.metadata
    assert json.loads(meta["class_names"]) == {"0": "footprint", "1": "boundary",
                                               "2": "contact"}
    assert json.loads(meta["standardization_mean"]) and meta["model_type"] == "Segmentor"
    pixels, transform, truth = _window(slice(0, 384), slice(0, 384))
    mask = rasterize(truth.geometry, out_shape=(384, 384), transform=transform).astype(bool)
    probability = predict_array(model, pixels)
    assert probability.shape == (3, 384, 384)
    predicted = probability[0] >= 0.5
    iou = (predicted & mask).sum() / (predicted | mask).sum()
    assert iou > 0.7
    # the boundary channel lights up on the outlines, not inside the roofs
    from geotile.masks import boundary_band

    ids = rasterize(zip(truth.geometry, range(1, len(truth) + 1), strict=True),
                    out_shape=(384, 384), transform=transform, dtype="int32")
    outline = boundary_band(ids, 3).astype(bool)
    assert probability[1][outline].mean() > 2 * probability[1][mask & ~outline].mean()


@pytest.mark.skipif(not MODEL.exists(), reason="no bundled model")
def test_bundled_model_splits_a_terraced_row_of_the_held_out_scene():
    from geotile.instances import InstanceOptions, split_instances
    from geotile.model import OnnxModel
    from geotile.predict import predict_array

    _, _, truth = _window(slice(0, 1), slice(0, 1))
    # the longest terraced row: houses sharing walls, grouped by touching
    geometries = list(truth.geometry)
    union = shapely.union_all([g.buffer(0.01) for g in geometries])
    rows = sorted(shapely.get_parts(union), key=lambda r: -sum(g.within(r) for g in geometries))
    row = rows[0]
    houses = [g for g in geometries if g.within(row)]
    assert len(houses) >= 3
    with rasterio.open(EXAMPLES / "data" / "scene.tif") as src:
        r0, c0 = src.index(row.bounds[0], row.bounds[3])
        r1, c1 = src.index(row.bounds[2], row.bounds[1])
    top, left = max(0, r0 - 64), max(0, c0 - 64)
    pixels, transform, _ = _window(slice(top, min(1600, r1 + 64)), slice(left, min(1600, c1 + 64)))
    shape = pixels.shape[1:]
    probability = predict_array(OnnxModel.from_path(MODEL), pixels)
    # the threshold make demo passes (the party walls are faint in the boundary channel)
    labels = split_instances(*probability, options=InstanceOptions(boundary_threshold=0.1))
    found = 0
    for house in houses:
        inside = rasterize([house], out_shape=shape, transform=transform).astype(bool)
        ids, counts = np.unique(labels[inside], return_counts=True)
        best = labels == ids[np.argmax(counts)]
        if ids[np.argmax(counts)] and (best & inside).sum() > 0.5 * (best | inside).sum():
            found += 1  # one instance matches the house with IoU > 0.5, as SpaceNet counts
    assert found >= len(houses) - 1


def test_train_exports_one_sigmoid_channel_per_mask_channel_and_fine_tunes(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from train import UNet, export, load_exported

    from geotile.model import OnnxModel
    from geotile.predict import predict_array

    torch.manual_seed(0)
    model = UNet(widths=(16, 32, 64, 128), outputs=3)
    path = tmp_path / "fbc.onnx"
    export(model, path, 256, ["footprint", "boundary", "contact"])
    loaded = OnnxModel.from_path(path)
    assert loaded.class_names == ["footprint", "boundary", "contact"]
    pixels = np.random.default_rng(0).integers(0, 255, (3, 64, 64), dtype=np.uint8)
    probabilities = predict_array(loaded, pixels)
    assert probabilities.shape == (3, 64, 64)
    assert np.nanmin(probabilities) >= 0 and np.nanmax(probabilities) <= 1
    # --init: the exported weights come back exactly (BatchNorms folded, then frozen)
    again = UNet(outputs=3)
    load_exported(again, path)
    again.eval()
    x = torch.from_numpy(np.random.default_rng(1).normal(0, 1, (1, 3, 32, 32)).astype("f4"))
    model.eval()
    np.testing.assert_allclose(again(x).detach().numpy(), model(x).detach().numpy(), atol=1e-5)


def test_train_init_takes_each_channel_head_by_name(tmp_path):
    """--init from a footprint,boundary,contact model with --channels footprint raised a
    RuntimeError (3 head rows into 1); --channels contact,footprint seeded contact with the
    footprint head and footprint with the boundary head."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from train import UNet, export, load_exported

    torch.manual_seed(0)
    three = UNet(outputs=3)
    export(three, tmp_path / "fbc.onnx", 256, ["footprint", "boundary", "contact"])
    three.eval()
    x = torch.from_numpy(np.random.default_rng(1).normal(0, 1, (1, 3, 32, 32)).astype("f4"))
    with torch.no_grad():
        expected = three(x).numpy()
    for channels in (["footprint"], ["contact", "footprint"], ["boundary"]):
        model = UNet(outputs=len(channels))
        load_exported(model, tmp_path / "fbc.onnx", channels)
        model.eval()
        order = [["footprint", "boundary", "contact"].index(c) for c in channels]
        with torch.no_grad():
            np.testing.assert_allclose(model(x).numpy(), expected[:, order], atol=1e-5)
    # a one-class 'building' model seeds the footprint channel, wherever it is listed
    one = UNet(outputs=1)
    export(one, tmp_path / "building.onnx", 256, ["footprint"])
    one.eval()
    with torch.no_grad():
        building = one(x).numpy()
    model = UNet(outputs=2)
    fresh_head = model.head.weight.detach().clone()
    load_exported(model, tmp_path / "building.onnx", ["boundary", "footprint"])
    model.eval()
    with torch.no_grad():
        np.testing.assert_allclose(model(x).numpy()[:, 1:], building, atol=1e-5)
    torch.testing.assert_close(model.head.weight[0], fresh_head[0])


def test_train_same_seed_gives_the_same_model(tmp_path, monkeypatch):
    """--seed seeded torch but not the crop offsets (numpy's global generator): two runs of
    the same command gave weights up to 0.16 apart."""
    pytest.importorskip("torch")
    onnx = pytest.importorskip("onnx")
    import train
    from onnx import numpy_helper

    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (4, 3, 256, 256), dtype=np.uint8)
    masks = rng.integers(0, 2, (4, 1, 256, 256), dtype=np.uint8)
    monkeypatch.setattr(train, "make_patches", lambda *args: (images, masks))
    weights = []
    for name in ("a", "b"):
        np.random.seed(len(name) + len(weights))  # what came before must not matter
        out = tmp_path / f"{name}.onnx"
        monkeypatch.setattr(sys, "argv", [
            "train.py", "--scenes", "1", "--epochs", "1", "--channels", "footprint",
            "--crop", "32", "--threads", "1", "--work", str(tmp_path / "work"),
            "--out", str(out), "--seed", "3"])
        train.main()
        proto = onnx.load(str(out))
        weights.append({i.name: numpy_helper.to_array(i) for i in proto.graph.initializer})
    for key, value in weights[0].items():
        np.testing.assert_array_equal(weights[1][key], value, err_msg=key)


@pytest.mark.parametrize(("option", "message"), [
    (["--crop", "100"], "--crop 100: give a multiple of 8"),
    (["--crop", "300"], "--crop 300: give a multiple of 8"),
    (["--scenes", "0"], "--scenes 0: give at least 1"),
    (["--init", "missing.onnx"], "--init missing.onnx: no such file"),
])
def test_train_refuses_bad_options_in_one_line_before_making_data(
        option, message, tmp_path, monkeypatch, capsys):
    """They raised a RuntimeError (size mismatch in the U-Net's concatenation, random_
    from >= to), a ValueError (np.stack of nothing) or a FileNotFoundError, after the
    scenes and patches had been made."""
    pytest.importorskip("torch")
    import train

    def no_data(*args):
        raise AssertionError("made data")

    monkeypatch.setattr(train, "make_patches", no_data)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["train.py", "--out", str(tmp_path / "m.onnx"), *option])
    with pytest.raises(SystemExit) as exit_info:
        train.main()
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
