"""Warnings that give the same advice for many images are said once when raised and once more
at the end for the other images, with their count and first names (an xBD or FloodNet folder
holds thousands of plain PNG/JPEG images)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio
from affine import Affine

from tests.onnx_models import pointwise_model


def _warnings(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("Warning:")]


def _pngs(folder, count: int):
    folder.mkdir()
    rng = np.random.default_rng(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rasterio: "no geotransform" on writing
        for i in range(count):
            with rasterio.open(folder / f"img_{i:02d}.png", "w", driver="PNG", width=48,
                               height=48, count=3, dtype="uint8") as dst:
                dst.write(rng.integers(0, 255, (3, 48, 48), dtype=np.uint8))
    return folder


def _geotiffs_without_crs(folder, count: int):
    """uint16 GeoTIFFs with a geotransform and no CRS: two warnings each in predict."""
    folder.mkdir()
    rng = np.random.default_rng(4)
    for i in range(count):
        with rasterio.open(folder / f"scene_{i:02d}.tif", "w", driver="GTiff", width=48,
                           height=48, count=3, dtype="uint16",
                           transform=Affine(1, 0, 500000 + 48 * i, 0, -1, 4000000)) as dst:
            dst.write(rng.integers(0, 4000, (3, 48, 48)).astype("uint16"))
    return folder


def test_tile_says_no_georeferencing_once_for_twenty_pngs(tmp_path, run_cli):
    images = _pngs(tmp_path / "png", 20)
    result = run_cli("tile", images, "--size", 32, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    advice = ("the raster has no georeferencing; the patches and their index.csv bounds are "
              "in pixel coordinates (x right, y down) and carry no CRS.")
    assert _warnings(result) == [
        f"Warning: img_00.png: {advice}",  # said when raised, not kept to the end
        f"Warning: 19 more images (img_01.png, img_02.png, img_03.png, ...): {advice}"], \
        result.stderr


def test_one_image_keeps_its_own_message(tmp_path, run_cli):
    images = _pngs(tmp_path / "png", 1)
    result = run_cli("tile", images, "--size", 32, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert _warnings(result) == [
        "Warning: img_00.png: the raster has no georeferencing; the patches and their "
        "index.csv bounds are in pixel coordinates (x right, y down) and carry no CRS."]


def test_two_images_are_both_named(tmp_path, run_cli):
    images = _pngs(tmp_path / "png", 2)
    result = run_cli("tile", images, "--size", 32, "-o", tmp_path / "out")
    assert [line.split(":")[1] for line in _warnings(result)] == [
        " img_00.png", " 1 more images (img_01.png)"], result.stderr


def _predict_lines(tmp_path, run_cli, *more) -> list[str]:
    images = _geotiffs_without_crs(tmp_path / "tif", 20)
    model = pointwise_model(tmp_path / "m.onnx", channels=3, classes=1)
    result = run_cli("predict", model, images, "-o", tmp_path / "out", *more)
    assert result.exit_code == 0, result.output
    return _warnings(result)


def test_predict_says_each_shared_oddity_once(tmp_path, run_cli):
    lines = _predict_lines(tmp_path, run_cli)
    assert len(lines) == 4, lines
    advice = ("the raster has no CRS; the predictions", "uint16 pixels go to the model as they are")
    names = "19 more images (scene_01.tif, scene_02.tif, scene_03.tif, ...): "
    for line, said in zip(lines[:2], advice, strict=True):
        assert line.startswith(f"Warning: scene_00.tif: {said}"), line
    assert lines[2].startswith(f"Warning: {names}{advice[0]}")
    assert lines[3].startswith(f"Warning: {names}{advice[1]}")


def test_predict_on_workers_prints_what_a_serial_run_prints(tmp_path, run_cli):
    pytest.importorskip("distributed")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    serial = _predict_lines(tmp_path / "a", run_cli)
    assert len(serial) == 4, serial
    parallel = _predict_lines(tmp_path / "b", run_cli, "--workers", "2")
    # the same advice, each said once for its first image (the workers' first may differ)
    # and once for the others
    def advice(line):
        return line.split(": ", 2)[-1] if " more " not in line else line.split("): ", 1)[1]

    assert [advice(x) for x in parallel] == [advice(x) for x in serial]
    assert [x.split(" (")[0] for x in parallel[2:]] == [x.split(" (")[0] for x in serial[2:]]


def _utm_tiles(folder, count: int):
    """``count`` 16 px GeoTIFFs side by side in UTM 18N, 8 m wide each."""
    folder.mkdir()
    for i in range(count):
        with rasterio.open(folder / f"tile_{i:02d}.tif", "w", driver="GTiff", width=16,
                           height=16, count=1, dtype="uint8", crs="EPSG:32618",
                           transform=Affine(0.5, 0, 500000 + 8 * i, 0, -0.5, 4000000)) as dst:
            dst.write(np.full((1, 16, 16), 90, np.uint8))
    return folder


@pytest.mark.parametrize("more", [(), ("--workers", "2")], ids=["serial", "workers"])
def test_make_masks_says_labels_missing_many_tiles_once_more(tmp_path, run_cli, more):
    """A city's footprints miss its tiles of fields and water: the first such tile's warning
    in full, the other 18 in one line at the end (not 18 lines of extents in a cron log),
    also when dask workers make the masks."""
    import geopandas as gpd
    import shapely

    if more:
        pytest.importorskip("distributed")

    images = _utm_tiles(tmp_path / "tiles", 20)
    labels = tmp_path / "city.geojson"
    gpd.GeoDataFrame(geometry=[shapely.box(500001, 3999995, 500006, 3999999)],
                     crs="EPSG:32618").to_file(labels)  # on tile_00 only
    result = run_cli("make-masks", labels, images, "-o", tmp_path / "masks", *more)
    assert result.exit_code == 0, result.output
    lines = _warnings(result)
    assert len(lines) == 2, result.stderr
    first = lines[0].split(" no feature overlaps ")[1].split(" ")[0]  # workers: any tile
    assert lines[0].startswith(f"Warning: {labels}: no feature overlaps {first} (labels "
                               "span "), lines[0]
    assert lines[1].startswith("Warning: 18 more images ("), lines[1]
    assert lines[1].split("): ")[1].startswith(
        "no feature of their labels overlaps them; their masks are all zeros."), lines[1]
    assert "--labels-crs" in lines[1]


def test_empty_label_files_of_many_tiles_are_said_once_more(tmp_path, run_cli):
    """SpaceNet ships an empty GeoJSON for each tile without buildings: one line for the first,
    one for the rest, in make-masks and in tile --labels."""
    import geopandas as gpd

    images = _utm_tiles(tmp_path / "tiles", 6)
    folder = tmp_path / "labels"
    folder.mkdir()
    for i in range(6):
        gpd.GeoDataFrame(geometry=[], crs="EPSG:32618").to_file(folder / f"tile_{i:02d}.geojson")
    result = run_cli("make-masks", folder, images, "-o", tmp_path / "masks")
    assert result.exit_code == 0, result.output
    assert _warnings(result) == [
        f"Warning: {folder / 'tile_00.geojson'} holds no features; the mask of tile_00.tif is "
        "all zeros.",
        "Warning: 5 more images (tile_01.tif, tile_02.tif, tile_03.tif, ...): the labels given "
        "for them hold no features; their masks are all zeros."], result.stderr
    result = run_cli("tile", images, "--labels", folder, "--size", 8, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert _warnings(result)[1] == (
        "Warning: 5 more images (tile_01.tif, tile_02.tif, tile_03.tif, ...): the labels given "
        "for them hold no features; their patches have no annotations."), result.stderr


def test_verbose_says_each_warning_as_a_plain_line(tmp_path, run_cli):
    """-v says every warning for every image as it is raised (no digest), in the same one
    line as without -v: not Python's "geotile/gdal_settings.py:29: GeotileWarning: ..."
    followed by a line of geotile's source code."""
    images = _geotiffs_without_crs(tmp_path / "tif", 3)
    model = pointwise_model(tmp_path / "m.onnx", channels=3, classes=1)
    result = run_cli("-v", "predict", model, images, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "GeotileWarning" not in result.stderr and ".py:" not in result.stderr
    lines = _warnings(result)
    assert [line.split(": ")[1] for line in lines] == [
        f"scene_0{i}.tif" for i in range(3) for _ in range(2)], result.stderr
    assert lines[1].startswith("Warning: scene_00.tif: uint16 pixels go to the model as they "
                               "are"), lines
