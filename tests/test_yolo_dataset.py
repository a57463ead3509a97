"""`tile --labels L --annotations yolo` writes OUTPUT/data.yaml as Ultralytics reads it
(ultralytics/data/utils.py check_det_dataset: without a `path` key the dataset root is the
YAML file's folder; a list's ./ lines are relative to the list), so `yolo segment train
data=OUTPUT/data.yaml` trains from any working directory."""

from __future__ import annotations

import glob
import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from rasterio.transform import from_origin

from .conftest import UTM_CRS, UTM_ORIGIN, assert_one_line_error, write_raster

X0, Y0 = UTM_ORIGIN
#: Ultralytics' IMG_FORMATS (those tile writes among them)
IMAGE_SUFFIXES = {"tif", "tiff", "png", "jpg", "jpeg"}


def _scene(tmp_path, size=200):
    """A ``size`` px image (1 m) with a house and a "shed #2" in every 40 px cell."""
    image = write_raster(tmp_path / "scene.tif", np.full((3, size, size), 9, np.uint8),
                         transform=from_origin(X0, Y0, 1, 1))
    boxes, kinds = [], []
    for row in range(0, size, 40):
        for col in range(0, size, 40):
            boxes += [shapely.box(X0 + col + 2, Y0 - row - 12, X0 + col + 12, Y0 - row - 2),
                      shapely.box(X0 + col + 20, Y0 - row - 30, X0 + col + 30, Y0 - row - 20)]
            kinds += ["house", "shed #2"]
    labels = tmp_path / "labels.geojson"
    gpd.GeoDataFrame({"kind": kinds}, geometry=boxes, crs=UTM_CRS).to_file(labels)
    return image, labels


def _entries(yaml_path: Path) -> list[str]:
    return [line for line in yaml_path.read_text(encoding="utf-8").splitlines()
            if not line.startswith("#")]


def _ultralytics_images(yaml_path: str, key: str) -> list[str]:
    """The images Ultralytics trains on for ``key``, by its rules (check_det_dataset, then
    BaseDataset.get_img_files), ``yaml_path`` as the user types it."""
    yaml = pytest.importorskip("yaml")
    data = yaml.safe_load(Path(yaml_path).read_text(encoding="utf-8"))
    root = Path(data.get("path") or Path(yaml_path).parent)
    target = (root / data[key]).resolve()
    if target.is_dir():
        files = glob.glob(str(target / "**" / "*.*"), recursive=True)
    else:
        parent = str(target.parent) + os.sep
        files = [x.replace("./", parent, 1) if x.startswith("./") else x
                 for x in target.read_text(encoding="utf-8").strip().splitlines()]
    return sorted(x for x in files if x.rpartition(".")[-1].lower() in IMAGE_SUFFIXES)


def _label_of(image: str) -> Path:
    """Ultralytics' img2label_paths: the last /images/ -> /labels/, the suffix -> .txt."""
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    return Path(sb.join(image.rsplit(sa, 1)).rsplit(".", 1)[0] + ".txt")


def _rows(out):
    import csv

    with (out / "index.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_data_yaml_names_the_classes_and_the_split_lists(run_cli, tmp_path, monkeypatch):
    image, labels = _scene(tmp_path)
    out = tmp_path / "out"
    result = run_cli("tile", image, "--labels", labels, "--class-field", "kind",
                     "--annotations", "yolo", "--size", "40", "--split", "0.6,0.2,0.2",
                     "-o", out)
    assert result.exit_code == 0, result.output
    assert _entries(out / "data.yaml") == [
        "train: train.txt", "val: val.txt", "test: test.txt",
        "names:", '  0: "house"', '  1: "shed #2"']
    yaml = pytest.importorskip("yaml")
    data = yaml.safe_load((out / "data.yaml").read_text(encoding="utf-8"))
    assert data["names"] == {0: "house", 1: "shed #2"}
    assert "path" not in data  # Ultralytics' root is then the YAML's own folder
    assert (out / "labels" / "classes.txt").read_text().splitlines() == ["house", "shed #2"]
    # from another working directory, the YAML named relative to it or absolute
    elsewhere = tmp_path / "runs" / "deep"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    rows = _rows(out)
    for given in (os.path.relpath(out / "data.yaml"), str(out / "data.yaml")):
        for split in ("train", "val", "test"):
            found = _ultralytics_images(given, split)
            assert found == sorted(str((out / r["image"]).resolve()) for r in rows
                                   if r["split"] == split)
            assert found and all(_label_of(f).is_file() for f in found)
    monkeypatch.chdir(out)  # from its own folder: data=data.yaml
    assert len(_ultralytics_images("data.yaml", "train")) == \
        sum(r["split"] == "train" for r in rows)


def test_without_split_every_key_is_the_images_folder(run_cli, tmp_path, monkeypatch):
    image, labels = _scene(tmp_path, size=80)
    out = tmp_path / "out"
    result = run_cli("tile", image, "--labels", labels, "--annotations", "yolo", "--size",
                     "40", "--format", "png", "-o", out)
    assert result.exit_code == 0, result.output
    assert _entries(out / "data.yaml") == [
        "train: images", "val: images", "test: images", "names:", '  0: "building"']
    monkeypatch.chdir(tmp_path)
    found = _ultralytics_images("out/data.yaml", "val")
    assert [Path(f).name for f in found] == [f"scene_{r}_{c}.png" for r in (0, 1)
                                            for c in (0, 1)]
    assert all(_label_of(f).read_text().strip() for f in found)
    # COCO and npy patches (no image Ultralytics reads): no data.yaml
    for extra in (("--annotations", "coco"), ("--annotations", "yolo", "--format", "npy")):
        result = run_cli("tile", image, "--labels", labels, "--size", "40", *extra, "-o",
                         tmp_path / extra[-1])
        assert result.exit_code == 0, result.output
        assert not (tmp_path / extra[-1] / "data.yaml").exists()


def test_overwrite_and_resume_keep_a_data_yaml_geotile_did_not_write(run_cli, tmp_path):
    image, labels = _scene(tmp_path, size=80)
    out = tmp_path / "out"
    args = ("tile", image, "--labels", labels, "--annotations", "yolo", "--size", "40",
            "-o", out)
    assert run_cli(*args).exit_code == 0
    first = (out / "data.yaml").read_text()
    result = run_cli(*args, "--overwrite", "--split", "0.5,0.5,0")
    assert result.exit_code == 0, result.output  # geotile's own: replaced
    assert _entries(out / "data.yaml")[:2] == ["train: train.txt", "val: val.txt"]
    assert "test" not in (out / "data.yaml").read_text()  # no test patch: no key
    assert run_cli(*args, "--overwrite").exit_code == 0
    assert (out / "data.yaml").read_text() == first
    stamp = (out / "data.yaml").stat().st_mtime_ns
    assert run_cli(*args, "--resume").exit_code == 0  # finished: left as it is
    assert (out / "data.yaml").stat().st_mtime_ns == stamp
    # a user's data.yaml beside an earlier COCO output: never replaced
    coco = tmp_path / "coco"
    assert run_cli("tile", image, "--labels", labels, "--annotations", "coco", "--size",
                   "40", "-o", coco).exit_code == 0
    (coco / "data.yaml").write_text("path: /datasets/mine\n")
    for how, said in (("--overwrite", "data.yaml"), ("--resume", "other options")):
        result = run_cli("tile", image, "--labels", labels, "--annotations", "yolo",
                         "--size", "40", "-o", coco, how)
        assert_one_line_error(result, str(coco), said)
        assert (coco / "data.yaml").read_text() == "path: /datasets/mine\n"
        assert (coco / "annotations.json").is_file()


def test_help_tells_of_data_yaml(run_cli):
    text = " ".join(run_cli("tile", "--help").output.split())
    assert "OUTPUT/data.yaml" in text and "no `path` key" in text


def _ultralytics_read_flag(yaml_path: Path) -> str:
    """How Ultralytics reads the patches of ``yaml_path``: its BaseDataset's cv2 flag by
    data.yaml's ``channels`` (default 3): 1 GRAYSCALE, 3 COLOR (BGR, bands past the third
    dropped), any other count UNCHANGED (every band)."""
    yaml = pytest.importorskip("yaml")
    data = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
    return {1: "GRAYSCALE", 3: "COLOR"}.get(data.get("channels", 3), "UNCHANGED")


@pytest.mark.parametrize("fmt", ["tif", "png"])
def test_four_band_patches_are_read_with_every_band(run_cli, tmp_path, fmt):
    """RGB+NIR patches: without a `channels` key Ultralytics read them 3-channel
    (IMREAD_COLOR), the NIR dropped, exit 0 -> data.yaml says channels: 4 (read UNCHANGED);
    an RGBA image's patches keep Ultralytics' default, which drops the alpha."""
    import rasterio
    from rasterio.enums import ColorInterp

    _, labels = _scene(tmp_path, size=80)
    pixels = np.full((4, 80, 80), 9, np.uint8)
    pixels[3] = 200  # the NIR
    nir = write_raster(tmp_path / "scene.tif", pixels, transform=from_origin(X0, Y0, 1, 1),
                       photometric="rgb", alpha="unspecified")
    out = tmp_path / "out"
    result = run_cli("tile", nir, "--labels", labels, "--annotations", "yolo", "--size",
                     "40", "--format", fmt, "-o", out)
    assert result.exit_code == 0, result.output
    assert "channels: 4" in _entries(out / "data.yaml")
    assert _ultralytics_read_flag(out / "data.yaml") == "UNCHANGED"
    with rasterio.open(out / "images" / f"scene_0_0.{fmt}") as patch:
        assert patch.count == 4 and (patch.read(4) == 200).all()
    (tmp_path / "rgba").mkdir()
    pixels[3] = 255  # opaque everywhere
    rgba = write_raster(tmp_path / "rgba" / "scene.tif", pixels,
                        transform=from_origin(X0, Y0, 1, 1), photometric="rgb", alpha="yes")
    with rasterio.open(rgba) as src:
        assert src.colorinterp[3] == ColorInterp.alpha
    out = tmp_path / "out_rgba"
    result = run_cli("tile", rgba, "--labels", labels, "--annotations", "yolo", "--size",
                     "40", "--format", fmt, "-o", out)
    assert result.exit_code == 0, result.output
    assert not any(e.startswith("channels") for e in _entries(out / "data.yaml"))
    assert _ultralytics_read_flag(out / "data.yaml") == "COLOR"


@pytest.mark.parametrize("fmt", ["tif", "png"])
def test_16_bit_patches_get_no_data_yaml(run_cli, tmp_path, fmt):
    """Ultralytics reads a 16-bit patch by its high byte (12-bit values 0..4095 as 0..15:
    black images) or not at all (a 16-bit RGB TIFF is 'corrupt' to PIL): data.yaml was
    written as for 8-bit patches, exit 0 -> none, with a warning saying why and how to make
    8-bit patches; the labels are written all the same."""
    _, labels = _scene(tmp_path, size=80)
    image = write_raster(tmp_path / "scene16.tif", np.full((3, 80, 80), 4000, np.uint16),
                         transform=from_origin(X0, Y0, 1, 1))
    out = tmp_path / "out"
    result = run_cli("tile", image, "--labels", labels, "--annotations", "yolo", "--size",
                     "40", "--format", fmt, "-o", out)
    assert result.exit_code == 0, result.output
    assert not (out / "data.yaml").exists()
    said = " ".join(result.stderr.split())
    assert "uint16" in said and "high byte" in said and "data.yaml" in said
    assert "-ot Byte -scale" in said
    assert (out / "labels" / "scene16_0_0.txt").read_text().strip()
