"""`geotile tile` on the command line."""

from __future__ import annotations

import numpy as np
import pytest

from .conftest import assert_one_line_error


def test_tile_with_split_prints_summary(run_cli, make_raster, tmp_path):
    image = make_raster("img.tif", np.ones((3, 100, 100), np.uint8))
    mask = make_raster("mask.tif", np.ones((100, 100), np.uint8))
    result = run_cli("tile", image, "--masks", mask, "--size", "50", "--split", "0.5,0.5",
                     "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("4 patches -> ")
    assert len(list((tmp_path / "out" / "masks").iterdir())) == 4



def test_split_with_skip_empty_reads_the_mask_once_more_and_resume_reads_nothing(
        run_cli, make_raster, tmp_path, monkeypatch):
    """tile --split --skip-empty read the mask three times (twice to choose the patches it
    keeps, once to cut them; the image once) and --resume of a finished run read the image
    and the mask again before finding it finished. The choice reads the mask once; --resume
    of a finished run reads nothing."""
    from collections import Counter

    import geotile.raster

    image = make_raster("img.tif", np.ones((3, 200, 200), np.uint8))
    mask = np.zeros((200, 200), np.uint8)
    mask[20:60, 20:180] = 1
    mask_path = make_raster("mask.tif", mask)
    reads: Counter = Counter()
    read_block = geotile.raster.read_block

    def counting(src, *args, **kwargs):
        reads[src.name.rsplit("/", 1)[-1]] += 1
        return read_block(src, *args, **kwargs)

    monkeypatch.setattr(geotile.raster, "read_block", counting)
    args = ("tile", image, "--masks", mask_path, "--size", "50", "--split", "0.5,0.5",
            "--skip-empty", "-o", tmp_path / "out")
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    assert reads == {"img.tif": 4, "mask.tif": 8}  # 4 rows of patches
    kept = sorted(p.name for p in (tmp_path / "out").rglob("*.tif"))
    assert len(kept) == 2 * 8  # the patches of rows 0 and 1 (of 4 x 4), image and mask
    reads.clear()
    result = run_cli(*args, "--resume")
    assert result.exit_code == 0, result.output
    assert reads == {}
    assert sorted(p.name for p in (tmp_path / "out").rglob("*.tif")) == kept

def test_existing_output_and_overwrite(run_cli, make_raster, tmp_path):
    image = make_raster("img.tif", np.ones((3, 100, 100), np.uint8))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("x")
    assert_one_line_error(run_cli("tile", image, "-o", tmp_path / "out"), "out", "--overwrite")
    assert (tmp_path / "out" / "keep.txt").exists()
    assert_one_line_error(run_cli("tile", image, "-o", tmp_path / "out", "--overwrite"),
                          "keep.txt", "did not write")
    assert (tmp_path / "out" / "keep.txt").exists()


def test_patch_larger_than_raster_with_drop(run_cli, make_raster, tmp_path):
    image = make_raster("small.tif", np.ones((3, 100, 100), np.uint8))
    result = run_cli("tile", image, "--size", "224", "--edge", "drop", "-o", tmp_path / "o")
    assert_one_line_error(result, "small.tif", "smaller than the 224 px patch")
    assert not (tmp_path / "o").exists()


def test_bad_split_and_missing_and_corrupt(run_cli, make_raster, real_data, tmp_path):
    image = make_raster("img.tif", np.ones((3, 100, 100), np.uint8))
    assert_one_line_error(run_cli("tile", image, "--split", "0.5,0.2", "-o", tmp_path / "o"),
                          "sum to 1")
    assert_one_line_error(run_cli("tile", tmp_path / "gone.tif", "-o", tmp_path / "o"),
                          "gone.tif", "no such file")
    assert_one_line_error(run_cli("tile", real_data / "rasterio" / "corrupt.tif", "-o",
                                  tmp_path / "o"), "corrupt.tif")
    assert_one_line_error(run_cli("tile", real_data / "rasterio" / "all-nodata.tif",
                                  "--max-nodata", "0.5", "-o", tmp_path / "o"),
                          "all-nodata.tif", "no or almost no valid pixels")
    assert not (tmp_path / "o").exists()


def test_overwrite_never_deletes_files_geotile_did_not_write(run_cli, make_raster, tmp_path,
                                                            monkeypatch):
    image = make_raster("img.tif", np.ones((3, 100, 100), np.uint8))
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    (out / "sub").mkdir()
    (out / "sub" / "data.tif").write_text("y")
    for extra in ((), ("--overwrite",)):
        assert_one_line_error(run_cli("tile", image, "-o", out, *extra), "out",
                              "keep.txt", "did not write")
        assert (out / "keep.txt").read_text() == "x"
        assert (out / "sub" / "data.tif").read_text() == "y"
    # `-o "$(pwd)" --overwrite` in a folder holding the inputs leaves it as it was
    monkeypatch.chdir(tmp_path)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert_one_line_error(run_cli("tile", image, "-o", ".", "--overwrite"), "did not write")
    assert_one_line_error(run_cli("tile", image, "-o", tmp_path, "--overwrite"), "did not write")
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_empty_folder_and_dot_are_valid_outputs(run_cli, make_raster, tmp_path, monkeypatch):
    image = make_raster("img.tif", np.ones((3, 100, 100), np.uint8))
    (tmp_path / "empty").mkdir()
    assert run_cli("tile", image, "--size", "50", "-o", tmp_path / "empty").exit_code == 0
    assert len(list((tmp_path / "empty" / "images").iterdir())) == 4
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    result = run_cli("tile", image, "--size", "50", "-o", ".")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "here").iterdir()) == [
        ".geotile-tile.json", "images", "index.csv"]
    # a second run to its own output: refused without --overwrite, replaced with it
    assert_one_line_error(run_cli("tile", image, "--size", "50", "-o", "."), "--overwrite")
    result = run_cli("tile", image, "--size", "25", "-o", ".", "--overwrite")
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "here" / "images").iterdir())) == 16


def test_output_that_is_a_file_is_one_line(run_cli, make_raster, tmp_path):
    image = make_raster("img.tif", np.ones((3, 100, 100), np.uint8))
    (tmp_path / "out").write_text("mine")
    assert_one_line_error(run_cli("tile", image, "-o", tmp_path / "out", "--overwrite"), "out",
                          "not a folder")
    assert (tmp_path / "out").read_text() == "mine"


def test_split_with_overlap_has_no_leak(run_cli, make_raster, tmp_path):
    from .test_tiling import _assert_splits_share_no_pixel, read_index

    image = make_raster("img.tif", np.ones((3, 600, 500), np.uint8))
    result = run_cli("tile", image, "--size", "64", "--overlap", "24", "--edge", "shift",
                     "--split", "0.7,0.15,0.15", "--seed", "1", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    rows = read_index(tmp_path / "out")
    _assert_splits_share_no_pixel(rows)
    assert {r["split"] for r in rows} == {"train", "val", "test"}
    assert "in the gaps between splits left out" in result.stdout


def test_masks_folder_or_pattern(run_cli, make_raster, tmp_path):
    (tmp_path / "masks").mkdir()
    images = [make_raster(f"{s}.tif", np.ones((3, 50, 50), np.uint8)) for s in ("a", "b")]
    for s in ("a", "b"):
        make_raster(f"masks/{s}.tif", np.ones((50, 50), np.uint8))
    for n, masks in enumerate((tmp_path / "masks", f"{tmp_path}/masks/*.tif")):
        result = run_cli("tile", *images, "--masks", masks, "--size", "50", "-o",
                         tmp_path / f"out{n}")
        assert result.exit_code == 0, result.output
        assert len(list((tmp_path / f"out{n}" / "masks").iterdir())) == 2
    (tmp_path / "masks" / "b.tif").unlink()
    assert_one_line_error(run_cli("tile", *images, "--masks", tmp_path / "masks", "-o",
                                  tmp_path / "out"), "b.tif", "no mask named b.*")


def test_creation_options_and_json_summary(run_cli, make_raster, tmp_path):
    import json

    import rasterio

    array = np.arange(3 * 100 * 100, dtype=np.uint16).reshape(3, 100, 100)
    image = make_raster("img.tif", array)
    result = run_cli("tile", image, "--size", "50", "--co", "COMPRESS=DEFLATE", "--co",
                     "PREDICTOR=2", "--split", "0.5,0.5", "--json", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["written"] + summary["excluded_gap"] == 4
    assert summary["outdir"] == str(tmp_path / "out")
    assert sum(summary["per_split"].values()) == summary["written"]
    for patch in (tmp_path / "out" / "images").iterdir():
        with rasterio.open(patch) as src:
            assert src.compression.name == "deflate"
            x, y = src.transform.c, src.transform.f
            col, row = int((x - 740000) / 0.5), int((3735000 - y) / 0.5)
            np.testing.assert_array_equal(src.read(), array[:, row:row + 50, col:col + 50])


def test_bad_creation_options_are_one_line(run_cli, make_raster, tmp_path):
    image = make_raster("img.tif", np.ones((1, 100, 100), np.float32))
    for options, fragment in ((["--co", "COMPRESS=JPEG"], "COMPRESS=JPEG"),
                              (["--co", "TILED=YES", "--co", "BLOCKXSIZE=7"], "BLOCKXSIZE=7"),
                              (["--co", "BLOCKXSIZE=7"], "BLOCKXSIZE=7"),
                              (["--co", "TILED=YES", "--co", "BLOCKYSIZE=7"], "BLOCKYSIZE=7"),
                              (["--co", "COMPRESS=NOPE"], "COMPRESS=NOPE"),
                              (["--co", "NBITS=16"], "NBITS=16"),
                              (["--co", "NOEQUALS"], "KEY=VALUE"),
                              (["--co", "DTYPE=uint8"], "DTYPE")):
        result = run_cli("tile", image, "--size", "50", *options, "-o", tmp_path / "out")
        assert_one_line_error(result, fragment)
        assert not (tmp_path / "out").exists()
    # options that do not go together: a usage error, exit 2
    for options, fragment in ((["--co", "COMPRESS=LZW", "--format", "npy"], "--format tif"),
                              (["--co", "COMPRESS=LZW", "--format", "png"], "--format tif"),
                              (["--skip-empty"], "--skip-empty needs --masks")):
        result = run_cli("tile", image, "--size", "50", *options, "-o", tmp_path / "out")
        assert_one_line_error(result, fragment, code=2)
        assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.tif"]


def test_full_disk_is_one_line_and_nothing_half_written(run_cli, make_raster, tmp_path,
                                                        monkeypatch):
    import errno

    import geotile.patch_writer as patch_writer

    image = make_raster("img.tif", np.ones((3, 100, 100), np.uint8))
    assert run_cli("tile", image, "--size", "50", "-o", tmp_path / "out").exit_code == 0
    before = {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    real_write, calls = patch_writer.PatchWriter._write, []

    def full_disk(self, *args):
        calls.append(1)
        if len(calls) > 5:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, *args)

    monkeypatch.setattr(patch_writer.PatchWriter, "_write", full_disk)
    for fmt in ("tif", "npy"):
        calls.clear()
        for out, extra in ((tmp_path / "new", ()), (tmp_path / "out", ("--overwrite",))):
            result = run_cli("tile", image, "--size", "20", "--format", fmt, "-o", out, *extra)
            assert_one_line_error(result, str(out), "no space left")
            calls.clear()
        assert not (tmp_path / "new").exists()
        assert {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.tif", "out"]


def test_full_disk_at_the_marker_leaves_no_marker_and_the_old_output(run_cli, make_raster,
                                                                     tmp_path, monkeypatch):
    """On a tmpfs with room for the patches and one page more (15760 kB for 16 patches of
    500 px), tile said 'out: no space left on the device; nothing was written there' and
    left out/.geotile-tile.json alone, listing 16 patches that were not there (a rerun was
    refused: 'holds the output of an earlier geotile tile'); with --overwrite the earlier
    output was deleted before the failing write. The marker is written in the staging folder
    before anything in the output changes now: nothing is left, an earlier output stays."""
    import errno
    import pathlib

    from geotile.output_folder import MARKER

    image = make_raster("img.tif", np.ones((3, 100, 100), np.uint8))
    assert run_cli("tile", image, "--size", "50", "-o", tmp_path / "out").exit_code == 0
    before = {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    real, markers = pathlib.Path.write_text, []

    def room_for_one_marker(self, *args, **kwargs):
        if self.name.startswith(MARKER):
            markers.append(self.name)
            if len(markers) > 1:
                raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "write_text", room_for_one_marker)
    for out, extra in ((tmp_path / "new", ()), (tmp_path / "out", ("--overwrite",))):
        markers.clear()
        result = run_cli("tile", image, "--size", "20", "-o", out, *extra)
        assert_one_line_error(result, str(out), "no space left", "nothing was written")
        assert len(markers) == 2, markers
    assert not (tmp_path / "new").exists()
    assert {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.tif", "out"]


def test_read_only_output_folder_is_one_line(run_cli, make_raster, tmp_path, monkeypatch):
    import errno
    import pathlib

    image = make_raster("img.tif", np.ones((3, 100, 100), np.uint8))
    real_mkdir = pathlib.Path.mkdir

    def read_only(self, *args, **kwargs):
        if tmp_path / "ro" in (self, *self.parents):
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "mkdir", read_only)
    result = run_cli("tile", image, "-o", tmp_path / "ro" / "out")
    assert_one_line_error(result, "not writable", "Read-only file system")
    real_mkdir(tmp_path / "ro")
    result = run_cli("tile", image, "-o", tmp_path / "ro")
    assert_one_line_error(result, "ro: the output folder is not writable")
    assert list((tmp_path / "ro").iterdir()) == []


@pytest.mark.parametrize("options", [(), ("--co", "COMPRESS=DEFLATE"), ("--format", "png")])
def test_full_disk_under_gdal_and_template_writes(run_cli, make_raster, tmp_path, monkeypatch,
                                                  options):
    """The bytes of GDAL-made (and template) patches are written by Python, so a full disk
    fails the run even where GDAL would only have printed an error at close."""
    import errno
    import pathlib

    image = make_raster("img.tif", np.ones((3, 100, 100), np.uint8))
    real, calls = pathlib.Path.write_bytes, []

    def full_disk(self, data):
        calls.append(self.name)
        if len(calls) > 12:
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real(self, data)

    monkeypatch.setattr(pathlib.Path, "write_bytes", full_disk)
    result = run_cli("tile", image, "--size", "10", *options, "-o", tmp_path / "out")
    assert_one_line_error(result, "out", "no space left")
    assert len(calls) > 12
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.tif"]


def test_overlap_in_pixels_or_as_a_fraction(run_cli, make_raster, tmp_path):
    from .test_tiling import read_index

    image = make_raster("img.tif", np.ones((1, 100, 100), np.uint8))
    result = run_cli("tile", image, "--size", "40", "--overlap", "0.25", "--edge", "drop",
                     "-o", tmp_path / "a")
    assert result.exit_code == 0, result.output
    assert sorted({int(r["x_off"]) for r in read_index(tmp_path / "a")}) == [0, 30, 60]
    result = run_cli("tile", image, "--size", "40", "--overlap", "10", "--edge", "drop",
                     "-o", tmp_path / "b")
    assert sorted({int(r["x_off"]) for r in read_index(tmp_path / "b")}) == [0, 30, 60]
    assert_one_line_error(run_cli("tile", image, "--overlap", "1.5", "-o", tmp_path / "c"),
                          "--overlap 1.5", "whole pixels")
    assert_one_line_error(run_cli("tile", image, "--size", "40", "--overlap", "40", "-o",
                                  tmp_path / "c"), "--overlap 40 px", "--size 40")
    assert not (tmp_path / "c").exists()


def test_gdal_virtual_paths_reach_gdal_unchanged(run_cli, make_raster, tmp_path):
    import zipfile

    from .test_tiling import read_index

    image = make_raster("img.tif", np.ones((1, 40, 40), np.uint8))
    mask = make_raster("img_mask.tif", np.ones((40, 40), np.uint8))
    with zipfile.ZipFile(tmp_path / "data.zip", "w") as archive:
        archive.write(image, "img.tif")
        archive.write(mask, "img_mask.tif")
    inside = f"/vsizip/{tmp_path}/data.zip"
    result = run_cli("tile", f"{inside}/img.tif", "--masks", f"{inside}/img_mask.tif",
                     "--size", "20", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    rows = read_index(tmp_path / "out")
    assert len(rows) == 4 and rows[0]["source"] == "img.tif"
    assert_one_line_error(run_cli("tile", f"{inside}/gone.tif", "-o", tmp_path / "x"),
                          "gone.tif")


def test_output_folder_must_be_local(run_cli, make_raster, tmp_path, monkeypatch):
    image = make_raster("img.tif", np.ones((1, 40, 40), np.uint8))
    monkeypatch.chdir(tmp_path)
    for output in ("s3://bucket/patches", "/vsis3/bucket/patches"):
        assert_one_line_error(run_cli("tile", image, "-o", output), output, "local", code=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.tif"]
    assert not __import__("pathlib").Path("/vsis3").exists()


def test_tile_dataset_does_not_depend_on_the_order_of_the_images(run_cli, make_raster,
                                                                 tmp_path):
    """The same 3 images listed in reverse (another glob collation): index.csv came in
    another row order and every COCO image id changed (119 of 119 train ids on 6 tiles)."""
    import geopandas as gpd
    import shapely
    from rasterio.transform import from_origin

    from .conftest import UTM_CRS, UTM_ORIGIN

    x, y = UTM_ORIGIN
    rng = np.random.default_rng(4)
    images = [make_raster(f"t{i}.tif", rng.integers(0, 255, (3, 100, 100), dtype=np.uint8),
                          transform=from_origin(x + 50 * i, y, 0.5, 0.5)) for i in range(3)]
    gpd.GeoDataFrame(geometry=[shapely.box(x + 5 + 30 * i, y - 20, x + 15 + 30 * i, y - 10)
                               for i in range(5)], crs=UTM_CRS).to_file(tmp_path / "l.gpkg")
    outputs = []
    for name, order in (("f", images), ("r", images[::-1])):
        result = run_cli("tile", *order, "-o", tmp_path / name, "--size", "50", "--labels",
                         tmp_path / "l.gpkg", "--annotations", "coco")
        assert result.exit_code == 0, result.output
        outputs.append([(tmp_path / name / f).read_text()
                        for f in ("index.csv", "annotations.json")])
    assert outputs[0] == outputs[1]
    text = " ".join(run_cli("tile", "--help").output.split())
    assert "IMAGEs in file-name order whatever order they are given in" in text


def test_a_split_left_without_patches_is_said(run_cli, make_raster, tmp_path):
    image = make_raster("img.tif", np.ones((1, 100, 100), np.uint8))
    result = run_cli("tile", image, "--size", "50", "--split", "0.9,0.05,0.05", "-o",
                     tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "no patch in" in result.stderr and "too few patches" in result.stderr


def _mask_values(out):
    """{source image name: (image value, mask value)} of the first pixel of each patch."""
    import csv

    import rasterio

    with (out / "index.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    values = {}
    for row in rows:
        with rasterio.open(out / row["image"]) as image, rasterio.open(out / row["mask"]) as m:
            values[row["source"]] = (int(image.read(1)[0, 0]), int(m.read(1)[0, 0]))
    return values


@pytest.mark.parametrize("suffix", ["_mask", "-mask", "_label", "_gt", ""])
def test_repeated_masks_are_paired_by_name_in_any_order(run_cli, make_raster, tmp_path, suffix):
    (tmp_path / "m").mkdir()
    images = [make_raster(f"{s}.tif", np.full((1, 32, 32), v, np.uint8))
              for s, v in (("A", 10), ("B", 20))]
    masks = {s: make_raster(f"m/{s}{suffix}.tif", np.full((32, 32), v, np.uint8))
             for s, v in (("A", 1), ("B", 2))}
    result = run_cli("tile", *images, "--masks", masks["B"], "--masks", masks["A"],
                     "--size", 32, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert _mask_values(tmp_path / "out") == {"A.tif": (10, 1), "B.tif": (20, 2)}


def test_repeated_masks_without_matching_names_go_in_order(run_cli, make_raster, tmp_path):
    images = [make_raster(f"{s}.tif", np.full((1, 32, 32), v, np.uint8))
              for s, v in (("A", 10), ("B", 20))]
    first = make_raster("first.tif", np.full((32, 32), 1, np.uint8))
    second = make_raster("second.tif", np.full((32, 32), 2, np.uint8))
    result = run_cli("tile", *images, "--masks", first, "--masks", second,
                     "--size", 32, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert _mask_values(tmp_path / "out") == {"A.tif": (10, 1), "B.tif": (20, 2)}


def test_repeated_masks_matching_only_partly_are_refused(run_cli, make_raster, tmp_path):
    images = [make_raster(f"{s}.tif", np.full((1, 32, 32), v, np.uint8))
              for s, v in (("A", 10), ("B", 20))]
    b_mask = make_raster("B_mask.tif", np.full((32, 32), 2, np.uint8))
    other = make_raster("other.tif", np.full((32, 32), 3, np.uint8))
    result = run_cli("tile", *images, "--masks", b_mask, "--masks", other,
                     "--size", 32, "-o", tmp_path / "out")
    assert_one_line_error(result, "other.tif", "A.tif", "by name")
    assert not (tmp_path / "out").exists()
    # two masks named after the same image
    b_gt = make_raster("B_gt.tif", np.full((32, 32), 2, np.uint8))
    result = run_cli("tile", *images, "--masks", b_mask, "--masks", b_gt,
                     "--size", 32, "-o", tmp_path / "out")
    assert_one_line_error(result, "B.tif", "B_mask.tif", "B_gt.tif")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("edge", ["pad", "shift"])
def test_padding_of_an_image_without_nodata_is_masked(run_cli, make_raster, tmp_path, edge):
    import rasterio

    one = make_raster("one.tif", np.full((1, 1, 1), 0, np.uint8))  # a valid 0, no nodata
    result = run_cli("tile", one, "--size", 4, "--edge", edge, "-o", tmp_path / "one")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "one" / "images" / "one_0_0.tif") as patch:
        assert patch.read().shape == (1, 4, 4) and not patch.read().any()
        expected = np.zeros((4, 4), np.uint8)
        expected[0, 0] = 255
        np.testing.assert_array_equal(patch.dataset_mask(), expected)
        np.testing.assert_array_equal(patch.read_masks(1), expected)
    # the edge patches of a larger image: only the part past the edge is invalid
    array = np.arange(30 * 20, dtype=np.uint16).reshape(1, 30, 20)
    image = make_raster("img.tif", array)
    result = run_cli("tile", image, "--size", 16, "--edge", "pad", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "out" / "images" / "img_1_1.tif") as patch:
        np.testing.assert_array_equal(patch.read(1)[:14, :4], array[0, 16:, 16:])
        valid = patch.dataset_mask() > 0
        assert valid[:14, :4].all() and not valid[14:].any() and not valid[:, 4:].any()
    with rasterio.open(tmp_path / "out" / "images" / "img_0_0.tif") as patch:
        assert (patch.dataset_mask() == 255).all()


def test_extra_band_values_equal_to_the_image_nodata_stay_valid(run_cli, make_raster, tmp_path):
    import rasterio

    rgb = np.random.default_rng(9).integers(1, 255, (3, 64, 96), dtype=np.uint8)
    rgb[:, :8, :8] = 0  # image nodata in the top-left patch
    image = make_raster("img.tif", rgb, nodata=0)
    heights = np.zeros((64, 96), np.float32)  # ground: 0 m, valid (no nodata tag)
    heights[40:50, 40:60] = 8.0
    ndsm = make_raster("ndsm.tif", heights)
    result = run_cli("tile", image, "--extra-bands", ndsm, "--size", 32,
                     "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    for row in range(2):
        for col in range(3):
            y, x = row * 32, col * 32
            name = tmp_path / "out" / "images" / f"img_{row}_{col}.tif"
            with rasterio.open(name) as patch:
                assert patch.count == 4 and patch.nodata is None
                np.testing.assert_array_equal(patch.read(4), heights[y : y + 32, x : x + 32])
                np.testing.assert_array_equal(patch.read()[:3], rgb[:, y : y + 32, x : x + 32])
                expected = np.full((32, 32), 255, np.uint8)
                if (row, col) == (0, 0):
                    expected[:8, :8] = 0  # the image's nodata: invalid in every band
                for band in range(1, 5):
                    np.testing.assert_array_equal(patch.read_masks(band), expected)
                np.testing.assert_array_equal(patch.dataset_mask(), expected)
    # where the extra raster does not reach, the stack is invalid (mask band), 0 m not
    half = make_raster("half.tif", heights[:, :48])
    result = run_cli("tile", image, "--extra-bands", half, "--size", 32,
                     "-o", tmp_path / "half")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "half" / "images" / "img_1_1.tif") as patch:
        assert patch.nodata is None
        valid = patch.dataset_mask() > 0
        assert valid[:, :16].all() and not valid[:, 16:].any()
        np.testing.assert_array_equal(patch.read(4)[:, :16], heights[32:, 32:48])


def test_extra_bands_keep_their_scale_and_offset_in_the_patches(run_cli, make_raster,
                                                                 tmp_path):
    """An nDSM stored as uint16 centimetres (GDAL scale 0.01, offset -5: value in metres)
    stacked after an image lost its scale and offset in the patches (band 4 read as plain
    centimetres), while the image's bands kept theirs; each band keeps its own now."""
    import rasterio

    pixels = np.random.default_rng(4).integers(1000, 9000, (3, 64, 64)).astype(np.uint16)
    image = make_raster("l2a.tif", pixels)
    with rasterio.open(image, "r+") as dst:
        dst.scales, dst.offsets = (1e-4,) * 3, (-0.1,) * 3
    heights = np.random.default_rng(5).integers(0, 3000, (64, 64)).astype(np.uint16)
    ndsm = make_raster("ndsm_cm.tif", heights)
    with rasterio.open(ndsm, "r+") as dst:
        dst.scales, dst.offsets, dst.units = (0.01,), (-5.0,), ("metre",)
        dst.set_band_description(1, "nDSM")
    result = run_cli("tile", image, "--extra-bands", ndsm, "--size", 32, "-o", tmp_path / "a")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "a" / "images" / "l2a_1_0.tif") as patch:
        assert patch.scales == (1e-4, 1e-4, 1e-4, 0.01)
        assert patch.offsets == (-0.1, -0.1, -0.1, -5.0)
        assert patch.units[3] == "metre" and patch.descriptions[3] == "nDSM"
        np.testing.assert_array_equal(patch.read(4), heights[32:, :32])
    plain = make_raster("rgb.tif", pixels.astype(np.uint8))
    result = run_cli("tile", plain, "--extra-bands", ndsm, "--size", 32, "-o", tmp_path / "b")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "b" / "images" / "rgb_0_1.tif") as patch:
        assert patch.scales == (1, 1, 1, 0.01) and patch.offsets == (0, 0, 0, -5.0)


def test_a_paletted_image_with_extra_bands_is_refused(run_cli, make_raster, tmp_path):
    """A paletted image stacked with --extra-bands was cut into patches of bare colour-table
    indices marked grey, the table lost (one table holds one band), while predict feeds the
    same stack's colours: training patches unlike what the model gets. Refused, with the fix,
    before any patch."""
    import rasterio

    indices = (np.arange(64 * 64).reshape(64, 64) % 7).astype(np.uint8)
    image = make_raster("pal.tif", indices)
    with rasterio.open(image, "r+") as dst:
        dst.write_colormap(1, {i: (i * 30, 255 - i * 30, i * 10, 255) for i in range(7)})
    ndsm = make_raster("ndsm.tif", np.ones((64, 64), np.float32))
    plain = make_raster("a.tif", np.ones((3, 64, 64), np.uint8))
    result = run_cli("tile", plain, image, "--extra-bands", ndsm, "--extra-bands", ndsm,
                     "--size", 32, "-o", tmp_path / "out")
    assert_one_line_error(result, "pal.tif", "colour-table indices", "--extra-bands",
                          "gdal_translate -expand rgb")
    assert not list((tmp_path / "out").rglob("*.tif"))
    result = run_cli("tile", image, "--size", 32, "-o", tmp_path / "alone")
    assert result.exit_code == 0, result.output  # alone, its patches keep the table


@pytest.mark.parametrize("grey", [True, False])
def test_a_paletted_image_cut_into_npy_patches_is_refused(run_cli, make_raster, tmp_path,
                                                          grey):
    """npy patches of a paletted image held its bare colour-table indices (a 16-level grey
    scan: 0..15), while predict feeds a 1-channel model its grey levels (0..255, 17 times
    those) and a 3-channel model its colours: trained on other pixels than it is fed, exit 0.
    An npy array holds no table: refused, with the fix, before any patch (tif/png keep it)."""
    import rasterio

    indices = (np.arange(64 * 64).reshape(64, 64) % 16).astype(np.uint8)
    image = make_raster("pal.tif", indices)
    with rasterio.open(image, "r+") as dst:
        dst.write_colormap(1, {i: (i * 17, i * 17, i * 17, 255) if grey else
                               (i * 17, 255 - i * 17, i * 5, 255) for i in range(16)})
    plain = make_raster("a.tif", np.ones((3, 64, 64), np.uint8))
    result = run_cli("tile", plain, image, "--size", 32, "--format", "npy",
                     "-o", tmp_path / "out")
    colours = "gray" if grey else "rgb"
    assert_one_line_error(result, "pal.tif", "colour-table indices", "npy",
                          f"gdal_translate -expand {colours}")
    assert not list((tmp_path / "out").rglob("*.npy"))
    result = run_cli("tile", image, "--size", 32, "--format", "tif", "-o", tmp_path / "tif")
    assert result.exit_code == 0, result.output  # its patches keep the table


def test_labels_without_crs_take_labels_crs(run_cli, make_raster, tmp_path):
    import json

    import geopandas as gpd
    from shapely.geometry import box

    from .conftest import UTM_ORIGIN

    image = make_raster("img.tif", np.ones((1, 64, 64), np.uint8))
    x, y = UTM_ORIGIN
    labels = tmp_path / "labels.gpkg"
    gpd.GeoDataFrame(geometry=[box(x + 2, y - 10, x + 10, y - 2)]).to_file(labels)  # no CRS
    result = run_cli("tile", image, "--size", 64, "--labels", labels, "-o", tmp_path / "a")
    assert_one_line_error(result, "labels.gpkg", "declare no CRS", "--labels-crs")
    result = run_cli("tile", image, "--size", 64, "--labels", labels, "--labels-crs",
                     "EPSG:32616", "-o", tmp_path / "b")
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "b" / "labels" / "img_0_0.geojson").read_text())
    assert len(document["features"]) == 1
    result = run_cli("tile", image, "--size", 64, "--labels-crs", "EPSG:32616",
                     "-o", tmp_path / "c")
    assert_one_line_error(result, "--labels-crs", "--labels", code=2)
    result = run_cli("tile", image, "--size", 64, "--labels", labels, "--labels-crs", "foo",
                     "-o", tmp_path / "d")
    assert_one_line_error(result, "--labels-crs 'foo'", "not a CRS")
    assert not (tmp_path / "d").exists()


def _straddling_labels(tmp_path):
    """A 100 x 40 px RGB image (0.5 m, UTM) and labels with buildings across its right and
    bottom edges (x = origin + 50 m, y = origin - 20 m) and one inside."""
    import geopandas as gpd
    from shapely.geometry import box

    from .conftest import UTM_CRS, UTM_ORIGIN, write_raster

    rgb = np.random.default_rng(0).integers(1, 255, (3, 40, 100), dtype=np.uint8)
    image = write_raster(tmp_path / "img.tif", rgb)
    x, y = UTM_ORIGIN
    labels = tmp_path / "labels.geojson"
    gpd.GeoDataFrame(geometry=[box(x + 45, y - 15, x + 60, y - 5),  # across the right edge
                               box(x + 5, y - 25, x + 15, y - 15),  # across the bottom edge
                               box(x + 20, y - 10, x + 25, y - 5)],  # inside
                     crs=UTM_CRS).to_file(labels)
    return image, labels


def _index(out):
    import csv

    with (out / "index.csv").open() as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("fmt", ["tif", "png", "npy"])
def test_pad_masks_are_ignore_outside_the_image_and_labels_match(run_cli, tmp_path, fmt):
    import json
    import warnings

    import geopandas as gpd
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.features import rasterize
    from rasterio.transform import from_bounds
    from shapely.geometry import Polygon

    image, labels = _straddling_labels(tmp_path)
    result = run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "mask.tif") as src:
        source = src.read(1)
    out = tmp_path / "out"
    result = run_cli("tile", image, "--masks", tmp_path / "mask.tif", "--labels", labels,
                     "--annotations", "coco", "--size", 64, "--edge", "pad",
                     "--format", fmt, "-o", out)
    assert result.exit_code == 0, result.output
    rows = _index(out)
    assert len(rows) == 2
    coco = json.loads((out / "annotations.json").read_text())
    for number, row in enumerate(rows, start=1):
        x_off, y_off = int(row["x_off"]), int(row["y_off"])
        inside_w, inside_h = min(64, 100 - x_off), min(64, 40 - y_off)
        if fmt == "npy":
            mask = np.load(out / row["mask"])[0]
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)  # PNG: no transform
                patch = rasterio.open(out / row["mask"])
            with patch:
                mask = patch.read(1)
                if fmt == "tif":
                    assert patch.nodata == 255  # the padding is declared nodata
                    assert (patch.dataset_mask()[inside_h:] == 0).all()
                    assert (patch.dataset_mask()[:inside_h, :inside_w] == 255).all()
        assert mask.shape == (64, 64)
        # outside the image: the ignore value, never background or a building
        assert (mask[inside_h:] == 255).all() and (mask[:, inside_w:] == 255).all()
        np.testing.assert_array_equal(mask[:inside_h, :inside_w],
                                      source[y_off:y_off + inside_h, x_off:x_off + inside_w])
        # index.csv: the padding is nodata, not positive
        known = mask != 255
        assert float(row["nodata_fraction"]) == pytest.approx(1 - known.mean(), abs=1e-6)
        assert float(row["positive_fraction"]) == pytest.approx(
            ((mask != 0) & known).mean(), abs=1e-6)
        # the patch's labels, rasterised, are exactly the mask's classes where it is known
        transform = from_bounds(float(row["minx"]), float(row["miny"]), float(row["maxx"]),
                                float(row["maxy"]), 64, 64)
        frame = gpd.read_file(out / "labels" / f"{row['image'].split('/')[1][:-4]}.geojson")
        drawn = rasterize(frame.geometry, out_shape=(64, 64), transform=transform,
                          dtype="uint8") if len(frame) else np.zeros((64, 64), np.uint8)
        assert drawn[known].any()
        np.testing.assert_array_equal(drawn[known], mask[known])
        assert not drawn[~known].any()
        # COCO polygons (patch pixels) stay inside the image too
        polygons = [Polygon(np.reshape(s, (-1, 2))) for a in coco["annotations"]
                    if a["image_id"] == number for s in a["segmentation"]]
        assert polygons
        for polygon in polygons:
            _, _, maxx, maxy = polygon.bounds
            assert maxx <= inside_w + 1e-6 and maxy <= inside_h + 1e-6
    # YOLO-seg coordinates (fractions of the patch) stop at the image's edge as well
    result = run_cli("tile", image, "--labels", labels, "--annotations", "yolo", "--size", 64,
                     "--edge", "pad", "--format", fmt, "-o", tmp_path / "yolo")
    assert result.exit_code == 0, result.output
    for row in _index(tmp_path / "yolo"):
        x_off, y_off = int(row["x_off"]), int(row["y_off"])
        text = (tmp_path / "yolo" / "labels" / f"{row['image'].split('/')[1][:-4]}.txt")
        lines = [line.split()[1:] for line in text.read_text().splitlines()]
        assert lines
        for line in lines:
            xy = np.reshape([float(v) for v in line], (-1, 2))
            assert xy[:, 0].max() <= min(64, 100 - x_off) / 64 + 1e-6
            assert xy[:, 1].max() <= min(64, 40 - y_off) / 64 + 1e-6


def test_shift_mask_patches_are_unchanged(run_cli, tmp_path):
    import rasterio

    image, labels = _straddling_labels(tmp_path)
    assert run_cli("make-masks", labels, image, "-o", tmp_path / "mask.tif").exit_code == 0
    with rasterio.open(tmp_path / "mask.tif") as src:
        source, source_nodata = src.read(1), src.nodata
    out = tmp_path / "out"
    result = run_cli("tile", image, "--masks", tmp_path / "mask.tif", "--labels", labels,
                     "--size", 32, "--edge", "shift", "-o", out)
    assert result.exit_code == 0, result.output
    for row in _index(out):
        x_off, y_off = int(row["x_off"]), int(row["y_off"])
        with rasterio.open(out / row["mask"]) as patch:
            # the ignore value (255) declared by every mask patch, as the padded ones do
            assert patch.nodata == (255 if source_nodata is None else source_nodata)
            np.testing.assert_array_equal(patch.read(1),
                                          source[y_off:y_off + 32, x_off:x_off + 32])
            assert float(row["nodata_fraction"]) == 0


@pytest.mark.parametrize("bands", [1, 3])
def test_pad_keeps_the_buildings_of_a_0_255_mask(run_cli, make_raster, tmp_path, bands):
    """An INRIA-style 0/255 mask (255: building, no nodata; Massachusetts and DeepGlobe
    repeat it in three bands): padding is marked by a mask band with 0 under it, so no
    building pixel of a padded patch reads as nodata."""
    import rasterio

    image = make_raster("img.tif", np.full((3, 40, 100), 100, np.uint8))
    mask = np.zeros((40, 100), np.uint8)
    mask[5:20, 80:95] = 255  # a building in the padded edge patch
    mask_path = make_raster("img_mask.tif", np.repeat(mask[np.newaxis], bands, axis=0))
    result = run_cli("tile", image, "--masks", mask_path, "--size", "64", "--edge", "pad",
                     "-o", tmp_path / "p")
    assert result.exit_code == 0, result.output
    assert "colour-coded" not in result.stderr  # grey 0/255 bands are a binary mask
    with rasterio.open(tmp_path / "p" / "masks" / "img_0_1.tif") as patch:
        values, valid = patch.read(1), patch.dataset_mask()
        assert patch.nodata is None
    inside = np.zeros((64, 64), bool)
    inside[:40, :36] = True  # the image's columns 64..99, rows 0..39
    assert (values[~inside] == 0).all() and (valid[~inside] == 0).all()
    np.testing.assert_array_equal(values[:40, :36], mask[:, 64:])
    assert (valid[inside] == 255).all()  # the building's 255 pixels are data, not nodata


def test_a_0_255_mask_with_strays_pads_as_make_masks_reads_it(run_cli, make_raster, tmp_path):
    """A DeepGlobe-style 0/255 mask with 3 stray pixels (128, 1, 254) was a 0/255 mask for
    make-masks but class ids for tile --edge pad, padded with 255 (a building). One rule:
    tile pads it with 0 under a mask band, as a 0/255 mask."""
    import rasterio

    image = make_raster("img.tif", np.full((3, 40, 100), 100, np.uint8))
    mask = np.zeros((40, 100), np.uint8)
    mask[5:20, 30:95] = 255
    mask[5, 30], mask[19, 60], mask[10, 94] = 128, 1, 254
    mask_path = make_raster("img_mask.tif", mask)
    result = run_cli("tile", image, "--masks", mask_path, "--size", "64", "--edge", "pad",
                     "-o", tmp_path / "p")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "p" / "masks" / "img_0_1.tif") as patch:
        values, valid = patch.read(1), patch.dataset_mask()
    assert (values[:, 36:] == 0).all() and (valid[:, 36:] == 0).all()
    np.testing.assert_array_equal(values[:40, :36], mask[:, 64:])
    result = run_cli("make-masks", mask_path, image, "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "m.tif") as made:
        np.testing.assert_array_equal(made.read(1), (mask >= 128).astype(np.uint8))


@pytest.mark.parametrize("fmt", ["png", "npy"])
def test_pad_of_a_0_255_mask_in_png_or_npy_is_background_and_said(run_cli, make_raster,
                                                                   tmp_path, fmt):
    """PNG/npy hold no mask band: a 0/255 mask's padding stays 0 (255 would claim a
    building), index.csv counts it as nodata, and one warning says so and names the fix."""
    image = make_raster("small.tif", np.full((3, 100, 150), 100, np.uint8))
    mask = np.zeros((100, 150), np.uint8)
    mask[10:30, 10:30] = 255
    mask_path = make_raster("small_mask.tif", mask)
    result = run_cli("tile", image, "--masks", mask_path, "--size", "256", "--edge", "pad",
                     "--format", fmt, "-o", tmp_path / "p")
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if "0/255" in line]
    assert len(warned) == 1 and "--format tif" in warned[0], result.stderr
    path = tmp_path / "p" / "masks" / f"small_0_0.{fmt}"
    if fmt == "npy":
        values = np.load(path)[0]
    else:
        import rasterio

        with rasterio.open(path) as patch:
            values = patch.read(1)
    np.testing.assert_array_equal(values[:100, :150], mask)
    assert (values[100:, :] == 0).all() and (values[:, 150:] == 0).all()
    row = _index(tmp_path / "p")[0]
    assert float(row["nodata_fraction"]) == pytest.approx(1 - 100 * 150 / 256**2, abs=1e-6)
    assert float(row["positive_fraction"]) == pytest.approx(400 / 256**2, abs=1e-6)
    # a GeoTIFF patch marks the padding in its mask band: no warning
    result = run_cli("tile", image, "--masks", mask_path, "--size", "256", "--edge", "pad",
                     "-o", tmp_path / "t")
    assert result.exit_code == 0 and "0/255" not in result.stderr, result.stderr


def test_patch_labels_name_no_epsg_code_for_a_near_match(tmp_path):
    """A CRS that only resembles an EPSG one (another datum shift) is written as WKT, not
    as that code (labels would land 70 m away once reprojected)."""
    import json

    import shapely
    from rasterio.crs import CRS
    from rasterio.transform import from_origin

    from geotile.annotations import _write_geojson

    shifted = CRS.from_proj4("+proj=utm +zone=33 +ellps=GRS80 +towgs84=100,0,0 +units=m")
    assert shifted.to_epsg() is not None  # rasterio's default 70 % match finds a code
    square = [(shapely.box(0, 0, 4, 4), 1)]
    for crs, named in ((shifted, False), (CRS.from_epsg(32633), True)):
        path = tmp_path / "l.geojson"
        _write_geojson(path, square, from_origin(500000, 5000000, 0.5, 0.5), crs, {1: "b"})
        name = json.loads(path.read_text())["crs"]["properties"]["name"]
        assert name.startswith("urn:ogc:def:crs:EPSG::") == named
        assert CRS.from_user_input(name) == crs


def test_patch_labels_in_lon_lat_name_the_crs_in_their_axis_order(run_cli, make_raster,
                                                                   tmp_path):
    """A lon/lat image's patch labels named "urn:ogc:def:crs:EPSG::4326", whose axes are
    latitude, longitude, above coordinates written longitude first: readers that follow the
    URN's axis order (GeoTools, pyproj) put the buildings at (lat, lon) swapped. Now they
    name urn:ogc:def:crs:OGC:1.3:CRS84 (longitude, latitude), as GDAL's GeoJSON writer
    does, and geotile still reads them back onto the patch."""
    import json

    import geopandas
    import shapely
    from pyproj import CRS
    from rasterio.transform import from_origin

    transform = from_origin(10.0, 50.0, 1e-4, 1e-4)
    image = make_raster("ll.tif", np.zeros((1, 64, 64), np.uint8), crs="EPSG:4326",
                        transform=transform)
    square = shapely.Polygon([transform * xy for xy in ((40, 4), (52, 4), (52, 20), (40, 20))])
    labels = tmp_path / "ll.gpkg"
    geopandas.GeoDataFrame(geometry=[square], crs="EPSG:4326").to_file(labels)
    result = run_cli("tile", image, "--labels", labels, "--size", "32", "-o", tmp_path / "p")
    assert result.exit_code == 0, result.output
    patch_labels = tmp_path / "p" / "labels" / "ll_0_1.geojson"
    document = json.loads(patch_labels.read_text())
    crs = CRS.from_user_input(document["crs"]["properties"]["name"])
    assert crs.equals("EPSG:4326", ignore_axis_order=True)
    assert [axis.direction for axis in crs.axis_info] == ["east", "north"]
    x, y = document["features"][0]["geometry"]["coordinates"][0][0]
    assert 10.0 < x < 10.0064 and 49.9936 < y < 50.0  # longitude first, as the axes say
    burns_its_own_patch(run_cli, tmp_path, "ll_0_1")


def test_patch_labels_of_an_image_without_crs_say_crs_null(run_cli, make_raster, tmp_path):
    """A patch's labels of an image without CRS were GeoJSON without a crs member, which
    RFC 7946 (and geotile) read as lon/lat: make-masks refused the patch's own labels on the
    patch ('coordinates like (1004, 1996) are not longitude/latitude') -> they say "crs":
    null, as vectorize's GeoJSON of such a raster does: read back as no CRS, they burn the
    patch's mask."""
    import json

    import shapely
    from rasterio.transform import from_origin

    transform = from_origin(1000.0, 2000.0, 0.5, 0.5)
    image = make_raster("site.tif", np.zeros((1, 64, 64), np.uint8), crs=None,
                        transform=transform)
    square = shapely.Polygon([transform * xy for xy in ((40, 4), (52, 4), (52, 20), (40, 20))])
    labels = tmp_path / "site.gpkg"
    import geopandas

    geopandas.GeoDataFrame(geometry=[square]).to_file(labels)
    result = run_cli("tile", image, "--labels", labels, "--size", "32", "-o", tmp_path / "p")
    assert result.exit_code == 0, result.output
    patch_labels = tmp_path / "p" / "labels" / "site_0_1.geojson"
    document = json.loads(patch_labels.read_text())
    assert "crs" in document and document["crs"] is None
    burns_its_own_patch(run_cli, tmp_path, "site_0_1")


def burns_its_own_patch(run_cli, tmp_path, patch: str) -> None:
    """make-masks of tile's patch labels p/labels/<patch>.geojson on its image patch burns
    the square the test's labels place at rows 4-19, columns 8-19 of the 32 px patch."""
    import rasterio

    result = run_cli("make-masks", tmp_path / "p" / "labels" / f"{patch}.geojson",
                     tmp_path / "p" / "images" / f"{patch}.tif", "-o", tmp_path / "m.tif")
    assert result.exit_code == 0, result.output
    expected = np.zeros((32, 32), np.uint8)
    expected[4:20, 8:20] = 1
    with rasterio.open(tmp_path / "m.tif") as mask:
        np.testing.assert_array_equal(mask.read(1), expected)


def test_dataset_image_and_mask_names_pair(run_cli, make_raster, tmp_path):
    """DeepGlobe keeps 104_sat.jpg beside 104_mask.png in one folder; ISPRS Potsdam names
    top_potsdam_2_10_RGB.tif's labels top_potsdam_2_10_label.tif: each mask goes with its
    own image (a folder, or --masks files in any order)."""
    images = [make_raster(f"{s}_sat.tif", np.full((1, 32, 32), v, np.uint8))
              for s, v in (("104", 10), ("207", 20))]
    for s, v in (("207", 2), ("104", 1)):
        make_raster(f"{s}_mask.tif", np.full((32, 32), v, np.uint8))
    result = run_cli("tile", *images, "--masks", tmp_path, "--size", 32, "-o",
                     tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert _mask_values(tmp_path / "out") == {"104_sat.tif": (10, 1), "207_sat.tif": (20, 2)}

    (tmp_path / "potsdam").mkdir()
    images = [make_raster(f"potsdam/top_potsdam_2_{s}_RGB.tif", np.full((1, 32, 32), v,
                                                                        np.uint8))
              for s, v in (("10", 10), ("11", 20))]
    labels = [make_raster(f"potsdam/top_potsdam_2_{s}_label.tif", np.full((32, 32), v,
                                                                          np.uint8))
              for s, v in (("11", 2), ("10", 1))]
    result = run_cli("tile", *images, "--masks", labels[0], "--masks", labels[1],
                     "--size", 32, "-o", tmp_path / "out_potsdam")
    assert result.exit_code == 0, result.output
    assert _mask_values(tmp_path / "out_potsdam") == {"top_potsdam_2_10_RGB.tif": (10, 1),
                                                      "top_potsdam_2_11_RGB.tif": (20, 2)}


def test_isprs_no_boundary_labels_pair_and_the_refusal_names_every_form(run_cli, make_raster,
                                                                          tmp_path):
    """ISPRS's 5_Labels_all_noBoundary names its files top_potsdam_3_12_label_noBoundary.tif:
    they pair as _label does; a label of no such name is refused naming the forms tried,
    the scene's among them."""
    for folder in ("img", "lab", "other"):
        (tmp_path / folder).mkdir()
    image = make_raster("img/top_potsdam_3_12_RGB.tif", np.full((1, 32, 32), 10, np.uint8))
    make_raster("lab/top_potsdam_3_12_label_noBoundary.tif", np.full((32, 32), 4, np.uint8))
    result = run_cli("tile", image, "--masks", tmp_path / "lab", "--size", 32,
                     "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert _mask_values(tmp_path / "out") == {"top_potsdam_3_12_RGB.tif": (10, 4)}
    make_raster("other/top_potsdam_3_12_lbl.tif", np.full((32, 32), 4, np.uint8))
    result = run_cli("tile", image, "--masks", tmp_path / "other", "--size", 32,
                     "-o", tmp_path / "refused")
    assert_one_line_error(result, "top_potsdam_3_12_RGB.*", "top_potsdam_3_12.*", "_mask",
                          "_label,", "_label_noBoundary", "-gt", str(tmp_path / "other"))
    assert not (tmp_path / "refused").exists()


def test_floodnet_vaihingen_and_dronedeploy_names_pair(run_cli, make_raster, tmp_path):
    """FloodNet (Hurricane Harvey, 4000 x 3000 JPEGs) names its labels 6467_lab.png in
    train-label-img/ beside train-org-img/6467.jpg; ISPRS Vaihingen's eroded labels are
    top_mosaic_09cm_area1_noBoundary.tif; DroneDeploy's tiles are 107f24d6e9-ortho.tif with
    107f24d6e9-label.png. Each was refused ('no mask named 6467.* ...'): they pair."""
    import csv
    from pathlib import Path

    from PIL import Image

    for folder in ("org", "lab"):
        (tmp_path / folder).mkdir()
    photo = np.zeros((48, 64, 3), np.uint8)
    photo[..., 0] = 200
    Image.fromarray(photo).save(tmp_path / "org" / "6467.jpg", quality=95)
    classes = np.zeros((48, 64), np.uint8)
    classes[:, 32:] = 5  # FloodNet's class 5: water (3 is road-flooded)
    Image.fromarray(classes).save(tmp_path / "lab" / "6467_lab.png")
    result = run_cli("tile", tmp_path / "org", "--masks", tmp_path / "lab", "--size", 32,
                     "--format", "png", "-o", tmp_path / "floodnet")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "floodnet" / "index.csv").read_text().splitlines()))
    assert len(rows) == 4
    for row in rows:
        mask = np.asarray(Image.open(tmp_path / "floodnet" / row["mask"]))
        top, left = int(row["y_off"]), int(row["x_off"])
        assert mask.tolist() == classes[top:top + 32, left:left + 32].tolist()

    for folder in ("top", "eroded", "dd", "ddl"):
        (tmp_path / folder).mkdir()
    pairs = (("top/top_mosaic_09cm_area1.tif", "eroded/top_mosaic_09cm_area1_noBoundary.tif"),
             ("dd/107f24d6e9-ortho.tif", "ddl/107f24d6e9-label.tif"))
    for (image, mask), value in zip(pairs, (3, 6), strict=True):
        make_raster(image, np.full((1, 32, 32), 10 * value, np.uint8))
        make_raster(mask, np.full((32, 32), value, np.uint8))
        out = tmp_path / f"out_{value}"
        result = run_cli("tile", tmp_path / Path(image).parent, "--masks",
                         tmp_path / Path(mask).parent, "--size", 32, "-o", out)
        assert result.exit_code == 0, result.output
        assert _mask_values(out) == {Path(image).name: (10 * value, value)}


def test_one_scene_label_given_for_each_image_of_the_scene(run_cli, make_raster, tmp_path):
    """ISPRS ships one label per scene for its _RGB and _IRRG tiles: the same file given as
    --masks for both pairs with each; different files of one scene's name, an unused mask,
    or a mask named after an image and a scene of that name stay refused."""
    for folder in ("rgb", "irrg", "lab", "lab2"):
        (tmp_path / folder).mkdir()
    images = [make_raster(f"{d}/top_potsdam_2_{s}_{b}.tif", np.full((1, 32, 32), v, np.uint8))
              for d, s, b, v in (("rgb", "10", "RGB", 10), ("irrg", "10", "IRRG", 20),
                                 ("rgb", "11", "RGB", 30))]
    labels = {s: make_raster(f"lab/top_potsdam_2_{s}_label.tif",
                             np.full((32, 32), v, np.uint8)) for s, v in (("10", 1), ("11", 2))}
    result = run_cli("tile", *images, "--masks", labels["11"], "--masks", labels["10"],
                     "--masks", labels["10"], "--size", 32, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert _mask_values(tmp_path / "out") == {"top_potsdam_2_10_RGB.tif": (10, 1),
                                              "top_potsdam_2_10_IRRG.tif": (20, 1),
                                              "top_potsdam_2_11_RGB.tif": (30, 2)}
    other = make_raster("lab2/top_potsdam_2_10_label.tif", np.full((32, 32), 3, np.uint8))
    stray = make_raster("stray.tif", np.full((32, 32), 4, np.uint8))
    for masks, fragments in (((labels["10"], other), ("top_potsdam_2_10_RGB.tif", "several")),
                             ((labels["10"], stray), ("stray.tif", "named after no image"))):
        result = run_cli("tile", *images[:2], "--masks", masks[0], "--masks", masks[1],
                         "--size", 32, "-o", tmp_path / "refused")
        assert_one_line_error(result, *fragments)
        assert not (tmp_path / "refused").exists()
    plain = [make_raster(f"{s}.tif", np.ones((1, 32, 32), np.uint8)) for s in ("104", "104_sat")]
    mask = make_raster("lab/104_mask.tif", np.ones((32, 32), np.uint8))
    result = run_cli("tile", *plain, "--masks", mask, "--masks", mask, "--size", 32,
                     "-o", tmp_path / "refused")
    assert_one_line_error(result, "104_mask.tif is named after several images")


def test_one_folder_of_images_and_their_masks(run_cli, make_raster, tmp_path):
    """`tile DIR --masks DIR` with img1.tif beside img1_mask.tif (and 104_sat.jpg beside
    104_mask.png): the masks are not taken as images too; each image gets its own mask."""
    folder = tmp_path / "beside"
    folder.mkdir()
    for stem, value in (("img1", 10), ("img10", 20), ("104_sat", 30)):
        make_raster(f"beside/{stem}.tif", np.full((1, 32, 32), value, np.uint8))
    for stem, value in (("img1_mask", 1), ("img10_mask", 2), ("104_mask", 3)):
        make_raster(f"beside/{stem}.tif", np.full((32, 32), value, np.uint8))
    for masks in (folder, f"{folder}/*_mask.tif"):
        out = tmp_path / f"out{len(str(masks))}"
        result = run_cli("tile", folder, "--masks", masks, "--size", 32, "-o", out)
        assert result.exit_code == 0, result.output
        assert _mask_values(out) == {"img1.tif": (10, 1), "img10.tif": (20, 2),
                                     "104_sat.tif": (30, 3)}


def test_one_folder_of_images_named_like_masks_that_have_their_own_masks(
        run_cli, make_raster, tmp_path):
    """`tile DIR --masks DIR` with x.tif and x_buildings.tif (p-ortho.tif and p.tif), each
    beside its own _mask.tif: x_buildings.tif (p.tif) was taken for x.tif's (p-ortho.tif's)
    mask once _Buildings and -ortho became dataset names, and left out unsaid (1 patch of
    2). An image with its own mask in the folder is an image."""
    folder = tmp_path / "beside"
    folder.mkdir()
    for stem, value in (("x", 10), ("x_buildings", 20), ("p-ortho", 30), ("p", 40)):
        make_raster(f"beside/{stem}.tif", np.full((1, 32, 32), value, np.uint8))
        make_raster(f"beside/{stem}_mask.tif", np.full((32, 32), value // 10, np.uint8))
    result = run_cli("tile", folder, "--masks", folder, "--size", 32, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert _mask_values(tmp_path / "out") == {"x.tif": (10, 1), "x_buildings.tif": (20, 2),
                                              "p-ortho.tif": (30, 3), "p.tif": (40, 4)}

def test_a_mask_named_after_another_image_is_not_taken_for_this_one(run_cli, make_raster,
                                                                      tmp_path):
    """Images x.tif and x_buildings.tif (Lagos.tif and Lagos_label.tif, farm.tif and
    farm-ortho.tif, 104.tif and 104_sat.tif) with a masks folder of the other image's mask
    only: x.tif got x_buildings.tif (the mask of x_buildings.tif, by its own name), and
    farm-ortho.tif farm_mask.tif (farm.tif's, by its scene farm) although farm-label.tif lay
    beside it, exit 0: training patches with another image's mask. A mask named after
    another image of the run is that image's: the image without its own is refused."""
    cases = {"xb": (("x", "x_buildings"), ("x_buildings",), "x.tif", "x_buildings.tif"),
             "lagos": (("Lagos", "Lagos_label"), ("Lagos_label",), "Lagos.tif",
                       "Lagos_label.tif"),
             "farm": (("farm", "farm-ortho"), ("farm_mask", "farm-label"), "farm-ortho.tif",
                      "farm.tif"),
             "sat": (("104", "104_sat"), ("104",), "104_sat.tif", "104.tif")}
    for name, (images, masks, refused, other) in cases.items():
        for folder in ("img", "msk"):
            (tmp_path / name / folder).mkdir(parents=True)
        for value, stem in enumerate(images, 1):
            make_raster(f"{name}/img/{stem}.tif", np.full((1, 32, 32), 10 * value, np.uint8))
        for value, stem in enumerate(masks, 1):
            make_raster(f"{name}/msk/{stem}.tif", np.full((32, 32), value, np.uint8))
        result = run_cli("tile", tmp_path / name / "img", "--masks", tmp_path / name / "msk",
                         "--size", 32, "-o", tmp_path / name / "out")
        assert_one_line_error(result, refused, other)
        assert not (tmp_path / name / "out").exists()
    # each with its own mask: paired as before
    make_raster("farm/msk/farm-ortho_mask.tif", np.full((32, 32), 3, np.uint8))
    result = run_cli("tile", tmp_path / "farm" / "img", "--masks", tmp_path / "farm" / "msk",
                     "--size", 32, "-o", tmp_path / "farm" / "out")
    assert result.exit_code == 0, result.output
    assert _mask_values(tmp_path / "farm" / "out") == {"farm.tif": (10, 1),
                                                       "farm-ortho.tif": (20, 3)}


def _thinned_out(length: int) -> np.ndarray:
    """Rows (or columns) a nearest-neighbour read of ``length`` px at 1024 px never takes."""
    take = np.floor((np.arange(1024) + 0.5) * length / 1024).astype(int)
    return np.setdiff1d(np.arange(length), take)


def test_sparse_0_255_mask_keeps_its_buildings_when_padded(run_cli, make_raster, tmp_path):
    """A 0/255 mask whose few 255 pixels lie where a thinned read does not look, or that has
    averaged overviews (values like 127 there), is still a 0/255 mask: padded patches keep
    0 + mask band, and no building pixel reads as nodata."""
    import rasterio
    from rasterio.enums import Resampling

    size = 2100
    free = _thinned_out(size)
    image = make_raster("kitsap1.tif", np.full((1, size, size), 9, np.uint8))
    labels = np.zeros((size, size), np.uint8)
    labels[free[-3], free[-4]] = labels[free[5], free[7]] = 255
    sparse = make_raster("kitsap1_mask.tif", labels)
    dense = labels.copy()
    dense[::40, ::3] = 255
    averaged = make_raster("dense_mask.tif", dense)
    with rasterio.open(averaged, "r+") as dst:
        dst.build_overviews([2, 4, 8], Resampling.average)
    for mask in (sparse, averaged):
        out = tmp_path / mask.stem
        result = run_cli("tile", image, "--masks", mask, "--size", 256, "--edge", "pad",
                         "-o", out)
        assert result.exit_code == 0, result.output
        with rasterio.open(mask) as src:
            truth = src.read(1)
        for row in _index(out):
            with rasterio.open(out / row["mask"]) as patch:
                assert patch.nodata is None, row["mask"]
                x, y = int(row["x_off"]), int(row["y_off"])
                inside = truth[y:y + 256, x:x + 256]
                h, w = inside.shape
                np.testing.assert_array_equal(patch.read(1)[:h, :w], inside)
                assert (patch.dataset_mask()[:h, :w] == 255).all()
                assert not patch.dataset_mask()[h:, :].any()
                assert not patch.dataset_mask()[:, w:].any()


def test_an_all_zero_mask_pads_as_the_0_255_masks_of_its_run(run_cli, make_raster, tmp_path):
    """A tile without buildings among INRIA 0/255 tiles pads with 0 + mask band as they do
    (not with 255, their building value); alone, or among class-id masks, with 255."""
    import rasterio

    rgb = np.full((3, 100, 100), 50, np.uint8)
    buildings = np.zeros((100, 100), np.uint8)
    buildings[10:20, 10:20] = 255
    classes = (buildings > 0).astype(np.uint8)
    a, b, c = (make_raster(f"{n}.tif", rgb) for n in "abc")
    a_mask = make_raster("a_mask.tif", buildings)
    b_mask = make_raster("b_mask.tif", np.zeros((100, 100), np.uint8))
    c_mask = make_raster("c_mask.tif", classes)
    for images, masks, fill in (([a, b], [a_mask, b_mask], 0), ([b], [b_mask], 255),
                                ([b, c], [b_mask, c_mask], 255)):
        out = tmp_path / f"out{len(masks)}{fill}{masks[-1].stem}"
        result = run_cli("tile", *images, *[x for m in masks for x in ("--masks", m)],
                         "--size", 64, "--edge", "pad", "-o", out)
        assert result.exit_code == 0, result.output
        with rasterio.open(out / "masks" / "b_1_1.tif") as patch:
            values = patch.read(1)
            assert (values[36:, :] == fill).all() and (values[:36, :36] == 0).all()
            assert patch.nodata == (None if fill == 0 else 255)
            assert not patch.dataset_mask()[36:, :].any()


@pytest.mark.parametrize("how", ["folder", "pattern"])
def test_masks_folder_with_world_files_and_prj_pairs(run_cli, make_raster, tmp_path, how):
    """World files (.pgw, .tfw, .wld), .prj and other side-cars next to the masks are the
    masks' georeferencing, not other masks: each image pairs with its raster mask."""
    import rasterio

    (tmp_path / "m").mkdir()
    images = [make_raster(f"{s}.tif", np.ones((3, 40, 40), np.uint8)) for s in ("a", "b")]
    for n, s in enumerate(("a", "b")):
        make_raster(f"m/{s}.tif", np.full((40, 40), n + 1, np.uint8))
    for side in ("a.tfw", "a.prj", "a.wld", "b.tifw", "b.qml", "b.tif.aux.xml"):
        (tmp_path / "m" / side).write_text("0.5\n0\n0\n-0.5\n740000.25\n3734999.75\n")
    masks = tmp_path / "m" if how == "folder" else f"{tmp_path}/m/*"
    out = tmp_path / "out"
    result = run_cli("tile", *images, "--masks", masks, "--size", 40, "-o", out)
    assert result.exit_code == 0, result.output
    for n, s in enumerate(("a", "b")):
        with rasterio.open(out / "masks" / f"{s}_0_0.tif") as patch:
            assert (patch.read(1) == n + 1).all()


def test_folders_of_envi_images_and_masks(run_cli, make_raster, tmp_path):
    """ENVI classification masks (scene.dat + scene.hdr) in a folder: the header belongs to
    its raster, not a second mask; a folder of ENVI images is tiled too."""
    import rasterio

    (tmp_path / "m").mkdir()
    (tmp_path / "i").mkdir()
    for n, s in enumerate(("a", "b")):
        make_raster(f"i/{s}.dat", np.full((3, 40, 40), 9, np.uint8), driver="ENVI")
        make_raster(f"m/{s}.dat", np.full((40, 40), n + 1, np.uint8), driver="ENVI")
    assert (tmp_path / "m" / "a.hdr").exists()
    out = tmp_path / "out"
    result = run_cli("tile", tmp_path / "i", "--masks", tmp_path / "m", "--size", 40, "-o", out)
    assert result.exit_code == 0, result.output
    for n, s in enumerate(("a", "b")):
        with rasterio.open(out / "masks" / f"{s}_0_0.tif") as patch:
            assert (patch.read(1) == n + 1).all()
        with rasterio.open(out / "images" / f"{s}_0_0.tif") as patch:
            assert (patch.read() == 9).all()
    assert (tmp_path / "m" / "a.hdr").exists() and (tmp_path / "m" / "a.dat").exists()


def test_images_sharing_a_name_are_said_before_their_masks(run_cli, make_raster, tmp_path):
    """d1/x.tif and d2/x.tif with their masks: the images' names collide (the masks are
    named after them rightly), and that is what the error says."""
    (tmp_path / "d1").mkdir()
    (tmp_path / "d2").mkdir()
    args = []
    for folder in ("d1", "d2"):
        args.append(make_raster(f"{folder}/x.tif", np.ones((3, 30, 30), np.uint8)))
    for folder in ("d1", "d2"):
        args += ["--masks", make_raster(f"{folder}/x_mask.tif", np.ones((30, 30), np.uint8))]
    result = run_cli("tile", *args, "-o", tmp_path / "out")
    assert_one_line_error(result, "images share a file name", "Rename them")
    assert not (tmp_path / "out").exists()


def test_mask_without_the_images_world_file_is_said_so(run_cli, tmp_path):
    """A JPEG placed by a world file with a PNG mask of the same pixels that has none (or
    the other way round): the error says which one lacks georeferencing and how to copy it,
    not "pixel size 1 x 1 against 0.5 x 0.5"."""
    import warnings

    import rasterio

    world = "0.5\n0\n0\n-0.5\n300000.25\n5000000.25\n"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, driver, count in (("wf.jpg", "JPEG", 3), ("wf_mask.png", "PNG", 1),
                                    ("plain.jpg", "JPEG", 3), ("plain_mask.png", "PNG", 1)):
            with rasterio.open(tmp_path / name, "w", driver=driver, width=45, height=60,
                               count=count, dtype="uint8") as dst:
                dst.write(np.ones((count, 60, 45), np.uint8))
    (tmp_path / "wf.jgw").write_text(world)
    (tmp_path / "plain_mask.pgw").write_text(world)
    assert_one_line_error(run_cli("tile", tmp_path / "wf.jpg", "--masks",
                                  tmp_path / "wf_mask.png", "-o", tmp_path / "o1"),
                          "wf_mask.png: the mask has no georeferencing, while wf.jpg has "
                          "(wf.jgw)", "copy wf.jgw beside the mask as wf_mask.pgw")
    result = run_cli("tile", tmp_path / "plain.jpg", "--masks", tmp_path / "plain_mask.png",
                     "-o", tmp_path / "o2")
    assert_one_line_error(result, "plain_mask.png: the mask is georeferenced (plain_mask.pgw)",
                          "plain.jpg has no georeferencing", "move plain_mask.pgw away")
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()
    # placed by its .aux.xml (GDAL reads it before a world file) or inside the file: the
    # way out names what places it, not a world file it does not have
    with rasterio.open(tmp_path / "aux_mask.png", "w", driver="PNG", width=45, height=60,
                       count=1, dtype="uint8") as dst:
        dst.write(np.ones((1, 60, 45), np.uint8))
    with rasterio.open(tmp_path / "aux_mask.png", "r+") as dst:  # PAM: written to .aux.xml
        dst.transform = rasterio.transform.from_origin(300000, 5000000, 0.5, 0.5)
    assert (tmp_path / "aux_mask.png.aux.xml").exists()
    result = run_cli("tile", tmp_path / "plain.jpg", "--masks", tmp_path / "aux_mask.png",
                     "-o", tmp_path / "o3")
    assert_one_line_error(result, "the mask is georeferenced (aux_mask.png.aux.xml)",
                          "move aux_mask.png.aux.xml away")
    assert "world file" not in result.output
    with rasterio.open(tmp_path / "inside.tif", "w", driver="GTiff", width=45, height=60,
                       count=1, dtype="uint8", crs="EPSG:32633",
                       transform=rasterio.transform.from_origin(300000, 5000000, 0.5, 0.5)
                       ) as dst:
        dst.write(np.ones((1, 60, 45), np.uint8))
    result = run_cli("tile", tmp_path / "plain.jpg", "--masks", tmp_path / "inside.tif",
                     "-o", tmp_path / "o4")
    assert_one_line_error(result, "the mask is georeferenced (in inside.tif)",
                          "gdal_translate --config GDAL_PAM_ENABLED NO -co PROFILE=BASELINE")
    assert not (tmp_path / "o3").exists() and not (tmp_path / "o4").exists()


@pytest.mark.parametrize("case", ["aux", "disagree", "agree", "world_and_aux_srs"])
def test_mask_without_the_georeferencing_of_an_images_aux_xml_is_told_a_fix_that_works(
        run_cli, tmp_path, case):
    """A JPEG placed by its .aux.xml (GDAL reads it before a world file) and a PNG mask of
    its pixels: 'copy image.jgw beside the mask' put the mask 100 km off where the two
    disagree, and carried no CRS where they agree (a second refusal). The fix named writes
    the image's CRS and corners; followed, the mask lands on the image's grid."""
    import re
    import warnings
    from xml.sax.saxutils import escape

    import rasterio
    from rasterio.crs import CRS
    from rasterio.transform import from_bounds

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, driver, count in (("image.jpg", "JPEG", 3), ("mask.png", "PNG", 1)):
            with rasterio.open(tmp_path / name, "w", driver=driver, width=45, height=60,
                               count=count, dtype="uint8") as dst:
                dst.write(np.full((count, 60, 45), 1, np.uint8))
    for aux in tmp_path.glob("*.aux.xml"):
        aux.unlink()
    labels = np.zeros((1, 60, 45), np.uint8)
    labels[0, :20, :20] = 1
    with rasterio.open(tmp_path / "mask.png", "r+") as dst:
        dst.write(labels)
    east = {"disagree": 400000, "agree": 300000}.get(case, 300000)
    if case != "aux":  # a world file gives the centre of the upper left pixel
        (tmp_path / "image.jgw").write_text(f"0.5\n0\n0\n-0.5\n{east + 0.25}\n5000000.25\n")
    srs = f"<SRS>{escape(CRS.from_epsg(32633).to_wkt())}</SRS>"
    geotransform = "" if case == "world_and_aux_srs" else \
        "<GeoTransform>300000, 0.5, 0, 5000000.5, 0, -0.5</GeoTransform>"
    (tmp_path / "image.jpg.aux.xml").write_text(f"<PAMDataset>{srs}{geotransform}"
                                                "</PAMDataset>")
    image, mask = tmp_path / "image.jpg", tmp_path / "mask.png"
    with rasterio.open(image) as src:
        assert src.crs == CRS.from_epsg(32633) and src.transform.c == 300000
    result = run_cli("tile", image, "--masks", mask, "--size", 15, "-o", tmp_path / "o")
    assert_one_line_error(result, "mask.png: the mask has no georeferencing, while image.jpg "
                          "has (", "image.jpg.aux.xml", "gdal_translate -a_srs EPSG:32633")
    assert "copy image.jgw" not in result.stderr and not (tmp_path / "o").exists()
    extra = run_cli("tile", image, "--extra-bands", mask, "--size", 15, "-o", tmp_path / "o")
    assert_one_line_error(extra, "image.jpg.aux.xml", "gdal_translate -a_srs EPSG:32633")
    # gdal_translate -a_srs SRS -a_ullr ULX ULY LRX LRY mask.png mask_georef.tif, followed
    fix = re.search(r"-a_srs (\S+) -a_ullr (\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\)",
                    result.stderr)
    assert fix and fix[6] == str(mask), result.stderr
    ulx, uly, lrx, lry = map(float, fix.groups()[1:5])
    with rasterio.open(fix[7], "w", driver="GTiff", width=45, height=60, count=1,
                       dtype="uint8", crs=fix[1],
                       transform=from_bounds(ulx, lry, lrx, uly, 45, 60)) as dst:
        dst.write(labels)
    result = run_cli("tile", image, "--masks", fix[7], "--size", 15, "-o", tmp_path / "o")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "o" / "masks" / "image_0_0.tif") as patch:
        assert patch.crs == CRS.from_epsg(32633)
        assert patch.transform.c == 300000 and patch.transform.f == 5000000.5
        np.testing.assert_array_equal(patch.read(), labels[:, :15, :15])


def test_skip_empty_reads_a_0_255_mask_with_strays_as_make_masks_does(run_cli, make_raster,
                                                                      tmp_path):
    """A JPEG 0/255 mask: its 20 px of noise (value 20) in a building-free patch made the
    patch positive (positive_fraction 0.0012) and --skip-empty kept it; an edge of 200 was
    counted as make-masks counts it. Positive is 128 and up (make-masks' 1s), as the one
    0/255 rule reads such a mask."""
    import csv

    mask = np.zeros((256, 256), np.uint8)
    mask[10:100, 10:100] = 255  # a building in patch (0, 0)
    mask[99:101, 10:100] = 200  # its antialiased edge: building
    mask[150:152, 150:160] = 20  # JPEG noise in patch (1, 1): no building
    mask[5, 5:15] = 60  # and beside the building
    image = make_raster("img.tif", np.stack([mask] * 3))
    mask_path = make_raster("img_mask.tif", mask)
    result = run_cli("tile", image, "--masks", mask_path, "--size", "128", "-o",
                     tmp_path / "all")
    assert result.exit_code == 0, result.output
    with open(tmp_path / "all" / "index.csv", newline="") as f:
        fractions = {(int(r["row"]), int(r["col"])): float(r["positive_fraction"])
                     for r in csv.DictReader(f)}
    ones = mask >= 128
    assert fractions == pytest.approx({(r, c): ones[128 * r:128 * (r + 1),
                                                   128 * c:128 * (c + 1)].mean()
                                       for r in (0, 1) for c in (0, 1)}, abs=1e-6)
    assert fractions[1, 1] == 0 and fractions[0, 0] > 0
    result = run_cli("tile", image, "--masks", mask_path, "--size", "128", "--skip-empty",
                     "-o", tmp_path / "kept")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("1 patch -> ") and "3 empty skipped" in result.stdout
    result = run_cli("tile", image, "--masks", mask_path, "--size", "64", "--skip-empty",
                     "--split", "0.5,0.5", "-o", tmp_path / "split")  # planned before cut
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("4 patches -> ")  # the building's; not the noise's


def test_split_help_says_blocks_are_single_patches_on_small_inputs(run_cli, make_raster,
                                                                   tmp_path):
    """The help said blocks are "a few patches a side ... never single patches"; on the
    docs' own example (7 x 7 patches, --split 0.8,0.1,0.1) every block is one patch. It now
    says so; the split still shares no pixel across splits (no overlap: no gap needed)."""
    import csv

    help_text = " ".join(run_cli("tile", "--help").output.split())
    assert "never single patches" not in help_text
    assert "On small inputs without overlap they are single patches" in help_text
    image = make_raster("img.tif", np.ones((3, 7 * 32, 7 * 32), np.uint8))
    mask = make_raster("img_mask.tif", np.ones((7 * 32, 7 * 32), np.uint8))
    result = run_cli("tile", image, "--masks", mask, "--size", "32", "--split", "0.8,0.1,0.1",
                     "-o", tmp_path / "p")
    assert result.exit_code == 0, result.output
    with open(tmp_path / "p" / "index.csv", newline="") as f:
        split = {(int(r["row"]), int(r["col"])): r["split"] for r in csv.DictReader(f)}
    assert len(split) == 49  # nothing lost to gaps
    lone = [(r, c) for (r, c), s in split.items() if s != "train" and all(
        split.get((r + dr, c + dc), "train") == "train" for dr, dc in ((0, 1), (1, 0),
                                                                       (0, -1), (-1, 0)))]
    assert lone, split  # a val/test block of one patch among train ones


@pytest.mark.parametrize("resume", [False, True])
def test_a_second_run_into_a_folder_being_tiled_is_refused_and_the_first_finishes(
        run_cli, make_raster, tmp_path, monkeypatch, resume):
    """Two `geotile tile` runs started together into one new folder both failed, each naming
    geotile's own temporary file (out/.geotile-tile-parts.tmp/sn_0_0/...: No such file): each
    removed the other's cut images. The second is refused in one line (another run is writing
    there) and touches nothing; the first writes its patches as if alone."""
    import geotile.tiling as tiling
    from geotile.errors import GeotileError

    first = [make_raster(f"a{i}.tif", np.full((3, 64, 64), i + 1, np.uint8)) for i in range(2)]
    second = make_raster("b.tif", np.full((3, 64, 64), 9, np.uint8))
    clean = run_cli("tile", *first, "--size", "32", "-o", tmp_path / "clean")
    assert clean.exit_code == 0, clean.output
    out = tmp_path / "out"
    refused = []
    real = tiling._tile_one

    def cut(image, *args):
        real(image, *args)
        if not refused:  # the second run starts while the first is cutting
            with pytest.raises(GeotileError) as info:
                tiling.tile_rasters([second], None, out, options=tiling.TileOptions(size=32),
                                    resume=resume)
            refused.append(str(info.value))

    monkeypatch.setattr(tiling, "_tile_one", cut)
    args = ["--resume"] if resume else []
    result = run_cli("tile", *first, "--size", "32", "-o", out, *args)
    assert result.exit_code == 0, result.output
    assert len(refused) == 1 and "another" in refused[0], refused
    assert ".tmp" not in refused[0] and "\n" not in refused[0], refused
    assert sorted(p.name for p in (out / "images").iterdir()) == sorted(
        p.name for p in (tmp_path / "clean" / "images").iterdir())
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]


def test_creation_options_the_mask_patches_refuse_say_so(run_cli, make_raster, tmp_path):
    image = make_raster("img.tif", np.ones((3, 64, 64), np.uint16))
    mask = make_raster("img_mask.tif", np.ones((64, 64), np.uint8))
    result = run_cli("tile", image, "--masks", mask, "--size", "32", "--co",
                     "PIXELTYPE=SIGNEDBYTE", "-o", tmp_path / "out")
    assert_one_line_error(result, "PIXELTYPE=SIGNEDBYTE", "uint8 GeoTIFF mask patches")
    assert not (tmp_path / "out").exists()


def test_creation_options_that_move_the_georeference_to_side_files_are_refused(
        run_cli, make_raster, tmp_path):
    import rasterio

    plain = make_raster("plain.tif", np.ones((3, 64, 64), np.uint8), nodata=0)
    mask = make_raster("plain_mask.tif", np.ones((64, 64), np.uint8), nodata=255)
    scaled = make_raster("scaled.tif", np.ones((1, 64, 64), np.uint16))
    with rasterio.open(scaled, "r+") as dst:
        dst.scales = (0.0001,)
    for image, options, fragments in (
            (plain, ["PROFILE=BASELINE"], ["PROFILE=BASELINE", "image patches", "CRS"]),
            (plain, ["TFW=YES"], ["TFW=YES", "side files"]),
            (scaled, ["PROFILE=GeoTIFF"], ["PROFILE=GeoTIFF", "scales and offsets"])):
        masks = ["--masks", mask] if image == plain else []
        co = [arg for option in options for arg in ("--co", option)]
        result = run_cli("tile", image, *masks, "--size", "32", *co, "-o", tmp_path / "out")
        assert_one_line_error(result, *fragments)
        assert not (tmp_path / "out").exists()
    # nothing lost: the option is fine
    result = run_cli("tile", plain, "--masks", mask, "--size", "32", "--co", "PROFILE=GeoTIFF",
                     "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "out" / "images" / "plain_1_1.tif") as patch:
        assert patch.crs == "EPSG:32616" and patch.transform.c == 740016.0


@pytest.mark.parametrize("split", [[], ["--split", "0.5,0.5"]])
def test_an_image_without_patches_is_skipped_with_a_warning(run_cli, make_raster, tmp_path,
                                                            split):
    import json

    good = make_raster("good.tif", np.ones((3, 128, 128), np.uint8), nodata=0)
    strip = make_raster("strip.tif", np.ones((3, 20, 128), np.uint8), nodata=0)
    blank = make_raster("blank.tif", np.zeros((3, 64, 64), np.uint8), nodata=0)
    result = run_cli("tile", good, strip, "--size", "64", "--edge", "drop", *split, "--json",
                     "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["written"] + summary["excluded_gap"] == 4
    assert list(summary["skipped_images"]) == [str(strip)]
    assert "strip.tif" in result.stderr and "skipped" in result.stderr
    assert sum(1 for _ in (tmp_path / "out" / "images").iterdir()) == summary["written"]
    result = run_cli("tile", good, blank, "--size", "64", "--max-nodata", "0.5", *split,
                     "-o", tmp_path / "out2")
    assert result.exit_code == 0, result.output
    assert "1 image without patches skipped" in result.stdout
    assert "blank.tif" in result.stderr
    # every image yields nothing: the error stays, nothing written
    result = run_cli("tile", strip, "--size", "64", "--edge", "drop", *split, "-o",
                     tmp_path / "out3")
    assert_one_line_error(result, "strip.tif", "smaller than the 64 px patch")
    assert not (tmp_path / "out3").exists()


@pytest.mark.parametrize("drop", [["--max-nodata", "0.5"], ["--skip-empty"]])
def test_an_image_smaller_than_the_patch_with_split_and_filtering_is_skipped(
        run_cli, make_raster, tmp_path, drop):
    """`tile strip.tif --size 64 --edge drop --split 0.8,0.1,0.1 --max-nodata 0.5` (or
    --skip-empty), an image narrower than --size, ended in a traceback (IndexError: list
    index out of range) while the split was planned on the kept patches: it is skipped with
    its warning as without --split, and an image of no patch at all is the one-line error."""
    import json

    good = make_raster("good.tif", np.ones((3, 128, 128), np.uint8), nodata=0)
    strip = make_raster("strip.tif", np.ones((3, 128, 20), np.uint8), nodata=0)
    masks = []
    if "--skip-empty" in drop:
        masks = ["--masks", make_raster("good_mask.tif", np.ones((1, 128, 128), np.uint8)),
                 "--masks", make_raster("strip_mask.tif", np.ones((1, 128, 20), np.uint8))]
    split = ["--split", "0.5,0.5"]
    result = run_cli("tile", good, strip, *masks, "--size", "64", "--edge", "drop", *split,
                     *drop, "--json", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["written"] + summary["excluded_gap"] == 4
    assert list(summary["skipped_images"]) == [str(strip)]
    result = run_cli("tile", strip, *masks[2:], "--size", "64", "--edge", "drop", *split,
                     *drop, "-o", tmp_path / "out2")
    assert_one_line_error(result, "strip.tif", "smaller than the 64 px patch")
    assert not (tmp_path / "out2").exists()


def test_a_mostly_valid_image_whose_patches_all_hold_some_nodata_is_told_so(
        run_cli, make_raster, tmp_path):
    """A 200 px image 94 % valid with a thin nodata collar, at --size 100 --max-nodata 0:
    every patch holds some nodata, and the message said 'the raster holds no or almost no
    valid pixels'. It says how little nodata the patches hold and to raise --max-nodata."""
    pixels = np.ones((3, 200, 200), np.uint8)
    pixels[:, :3], pixels[:, -3:], pixels[:, :, :3], pixels[:, :, -3:] = 0, 0, 0, 0
    image = make_raster("collar.tif", pixels, nodata=0)
    result = run_cli("tile", image, "--size", "100", "--max-nodata", "0", "-o", tmp_path / "o")
    assert_one_line_error(result, "collar.tif", "--max-nodata", "the least 6%")
    assert "almost no valid" not in result.output
    assert not (tmp_path / "o").exists()


def test_all_nodata_message_names_the_padding(run_cli, make_raster, tmp_path):
    """A 100 px image at --size 200 --max-nodata 0.5 was told 'Use --edge shift', which pads
    it just the same (the image is smaller than the patch): run so, it failed again with the
    same advice. It is told the size; --edge shift is advised where it helps."""
    pixels = np.ones((3, 100, 100), np.uint8)
    pixels[:, :40] = 0
    image = make_raster("img.tif", pixels, nodata=0)  # 60 % valid, the one patch 77 % nodata
    for edge in ("pad", "shift"):
        result = run_cli("tile", image, "--size", "200", "--edge", edge, "--max-nodata", "0.5",
                         "-o", tmp_path / "out")
        assert_one_line_error(result, "img.tif", "padding", "100x100 px", "smaller --size")
        assert "--edge shift" not in result.output
        assert not (tmp_path / "out").exists()
    pixels = np.ones((3, 100, 150), np.uint8)
    pixels[:, :, :40] = 0  # the first patch 40 % nodata, the second 50 % padding
    wide = make_raster("wide.tif", pixels, nodata=0)
    args = ("tile", wide, "--size", "100", "--max-nodata", "0.3", "-o", tmp_path / "out")
    assert_one_line_error(run_cli(*args, "--edge", "pad"), "wide.tif", "padding",
                          "--edge shift")
    result = run_cli(*args, "--edge", "shift")  # as advised: the shifted patch is kept
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("1 patch -> ")


def test_a_flipped_mask_is_refused_saying_it_is_flipped(run_cli, make_raster, tmp_path):
    from affine import Affine

    image = make_raster("img.tif", np.ones((1, 64, 64), np.uint8),
                        transform=Affine(0.5, 0, 740000, 0, 0.5, 3735000))  # south-up
    mask = make_raster("img_mask.tif", np.ones((64, 64), np.uint8),
                       transform=Affine(0.5, 0, 740000, 0, -0.5, 3735032))  # north-up
    result = run_cli("tile", image, "--masks", mask, "--size", "32", "-o", tmp_path / "out")
    assert_one_line_error(result, "img_mask.tif", "0.5 x -0.5 (north-up)",
                          "0.5 x 0.5 (south-up", "flipped")
    assert not (tmp_path / "out").exists()


def test_vrt_with_a_gap_between_its_sources_is_said(run_cli, make_raster, tmp_path):
    """A VRT of 3 of 4 tiles without nodata or alpha: GDAL reads the missing quadrant as
    valid 0s, which became patches of zeros with nodata_fraction 0 (kept by --max-nodata)
    without a word, where predict warns. Said, with its share and the fix; not for a VRT
    whose nodata value masks the gap."""
    import csv

    from affine import Affine

    from .conftest import UTM_ORIGIN
    from .test_cli_predict import _mosaic_vrt

    tiles = {}
    for c, r in ((0, 0), (1, 0), (0, 1)):
        origin = Affine.translation(UTM_ORIGIN[0] + c * 10, UTM_ORIGIN[1] - r * 10)
        tiles[c, r] = make_raster(f"t{c}{r}.tif", np.full((3, 20, 20), 100, np.uint8),
                                  transform=origin * Affine.scale(0.5, -0.5))
    gap = _mosaic_vrt(tmp_path / "gap.vrt", tiles, 20)
    result = run_cli("tile", gap, "-o", tmp_path / "out", "--size", 20)
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    assert len(warned) == 1, result.stderr
    assert "gap.vrt" in warned[0] and "25 %" in warned[0] and "-addalpha" in warned[0]
    nd = _mosaic_vrt(tmp_path / "nd.vrt", tiles, 20, nodata=0)
    result = run_cli("tile", nd, "-o", tmp_path / "nd", "--size", 20)
    assert result.exit_code == 0 and "Warning" not in result.stderr, result.output
    with open(tmp_path / "nd" / "index.csv") as f:
        fractions = {(r["row"], r["col"]): float(r["nodata_fraction"]) for r in csv.DictReader(f)}
    assert fractions[("1", "1")] == 1.0 and fractions[("0", "0")] == 0.0


@pytest.mark.parametrize("option", ["--extra-bands", "--labels"])
def test_overwrite_never_removes_an_extra_bands_or_labels_input(run_cli, make_raster,
                                                                 tmp_path, option):
    # images and masks inside the earlier output were refused, but an --extra-bands raster
    # or a --labels file among its patches was deleted by --overwrite, exit 0
    import geopandas as gpd
    import shapely

    from .conftest import UTM_ORIGIN

    x0, y0 = UTM_ORIGIN
    image = make_raster("img.tif", np.ones((1, 40, 40), np.uint8))
    labels = tmp_path / "labels.geojson"
    gpd.GeoDataFrame(geometry=[shapely.box(x0 + 1, y0 - 9, x0 + 9, y0 - 1)],
                     crs="EPSG:32616").to_file(labels)
    out = tmp_path / "out"
    result = run_cli("tile", image, "--size", "20", "--labels", labels, "-o", out)
    assert result.exit_code == 0, result.output
    given = out / ("images/img_0_0.tif" if option == "--extra-bands"
                   else "labels/img_0_0.geojson")
    before = given.read_bytes()
    small = make_raster("small.tif", np.ones((1, 20, 20), np.uint8))
    result = run_cli("tile", small, "--size", "10", option, given, "-o", out, "--overwrite")
    assert_one_line_error(result, "img_0_0", "an input is among the files")
    assert given.read_bytes() == before


def test_an_output_link_to_a_missing_folder_is_named_as_such(run_cli, make_raster, tmp_path):
    # -o out, a symbolic link to a folder not there (an unmounted disk): the error said
    # "out: File exists", naming nothing that exists
    image = make_raster("img.tif", np.ones((1, 40, 40), np.uint8))
    out = tmp_path / "out"
    out.symlink_to(tmp_path / "disk" / "patches")
    result = run_cli("tile", image, "--size", "20", "-o", out)
    assert_one_line_error(result, "out", "symbolic link", "patches", "does not exist")
    assert out.is_symlink() and not (tmp_path / "disk").exists()


def test_the_same_image_given_twice_is_said_so(run_cli, make_raster, tmp_path):
    """`tile tiles/ tiles/a.tif` said "images share a file name (a) ... Rename them": it is
    one file given twice, and the fix is to give it once."""
    (tmp_path / "tiles").mkdir()
    make_raster("tiles/a.tif", np.ones((3, 30, 30), np.uint8))
    make_raster("tiles/b.tif", np.ones((3, 30, 30), np.uint8))
    result = run_cli("tile", tmp_path / "tiles", tmp_path / "tiles" / "a.tif", "--size", 16,
                     "-o", tmp_path / "out")
    assert_one_line_error(result, "a.tif: given twice", "give each image once")
    assert "Rename" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_masks_named_in_nfd_pair_with_images_named_in_nfc(run_cli, make_raster, tmp_path):
    """Masks copied from a Mac (Zürich as Zu + U+0308, NFD) beside images named on Linux
    (NFC): `tile IMAGES --masks FOLDER` exited 1 with 'no mask named Zürich.*', --masks
    files were refused as named after no image, and in one folder the mask was tiled as an
    image. Each image gets its own mask; the patches keep the image's spelling."""
    nfc, nfd = "Z\u00fcrich", "Zu\u0308rich"
    (tmp_path / "m").mkdir()
    images = [make_raster(f"{nfc}.tif", np.full((1, 32, 32), 10, np.uint8)),
              make_raster("b.tif", np.full((1, 32, 32), 20, np.uint8))]
    masks = [make_raster(f"m/{nfd}_mask.tif", np.full((32, 32), 1, np.uint8)),
             make_raster("m/b_mask.tif", np.full((32, 32), 2, np.uint8))]
    expected = {f"{nfc}.tif": (10, 1), "b.tif": (20, 2)}
    for n, given in enumerate(([tmp_path / "m"], [masks[1], masks[0]])):
        out = tmp_path / f"out{n}"
        result = run_cli("tile", *images, *[a for m in given for a in ("--masks", m)],
                         "--size", 32, "-o", out)
        assert result.exit_code == 0, result.output
        assert _mask_values(out) == expected
        assert (out / "images" / f"{nfc}_0_0.tif").exists()
    folder = tmp_path / "beside"
    folder.mkdir()
    make_raster(f"beside/{nfc}.tif", np.full((1, 32, 32), 10, np.uint8))
    make_raster(f"beside/{nfd}_mask.tif", np.full((32, 32), 1, np.uint8))
    result = run_cli("tile", folder, "--masks", folder, "--size", 32, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert _mask_values(tmp_path / "out") == {f"{nfc}.tif": (10, 1)}


def test_masks_numbering_classes_otherwise_are_refused(tmp_path, make_raster, run_cli):
    """Two masks made without one --class-map (building 1 in a.tif, 5 in b.tif) were tiled
    into one dataset without a word: id 1 was building in a's patches, grass in b's. Now
    one line names both masks, the class and the fix, and nothing is written; masks whose
    names agree on the ids they share (one naming fewer classes) still tile."""
    import json

    import rasterio

    ids = np.zeros((32, 32), np.uint8)
    ids[:8, :8], ids[8:16, 8:16] = 1, 2
    images, masks = [], []
    for stem, names in (("a", ["background", "building", "grass"]),
                        ("b", ["background", "Grass", "building"]),
                        ("c", ["background", "building"])):
        images.append(make_raster(f"{stem}.tif", np.full((3, 32, 32), 9, np.uint8)))
        masks.append(make_raster(f"{stem}_mask.tif", ids[None]))
        with rasterio.open(masks[-1], "r+") as dst:
            dst.update_tags(GEOTILE_CLASS_NAMES=json.dumps(names))
    out = tmp_path / "out"
    result = run_cli("tile", images[0], images[1], "--masks", masks[0], "--masks", masks[1],
                     "-o", out, "--size", "16")
    assert_one_line_error(result, "a_mask.tif", "b_mask.tif", "building", "--class-map")
    assert not out.exists() or not any(out.rglob("*.tif"))
    result = run_cli("tile", images[0], images[2], "--masks", masks[0], "--masks", masks[2],
                     "-o", out, "--size", "16")
    assert result.exit_code == 0, result.output
    assert len(list((out / "masks").glob("*.tif"))) == 8


def test_masks_naming_one_class_in_plural_or_capitals_tile_together(tmp_path, make_raster,
                                                                    run_cli):
    """A mask naming its classes 'Building', 'low-vegetation' and one naming them
    'buildings', 'Low vegetation' (make-masks runs over labels spelled otherwise) were
    refused ('class 1 is 'buildings' there but 'Building' in a_mask.tif'): the same class,
    as evaluate pairs them (case, separators and a plural aside). They tile together."""
    import json

    import rasterio

    ids = np.zeros((32, 32), np.uint8)
    ids[:8, :8], ids[8:16, 8:16] = 1, 2
    images, masks = [], []
    for stem, names in (("a", ["background", "Building", "low-vegetation"]),
                        ("b", ["background", "buildings", "Low vegetation"])):
        images.append(make_raster(f"{stem}.tif", np.full((3, 32, 32), 9, np.uint8)))
        masks.append(make_raster(f"{stem}_mask.tif", ids[None]))
        with rasterio.open(masks[-1], "r+") as dst:
            dst.update_tags(GEOTILE_CLASS_NAMES=json.dumps(names))
    out = tmp_path / "out"
    result = run_cli("tile", *images, "--masks", masks[0], "--masks", masks[1], "-o", out,
                     "--size", "16")
    assert result.exit_code == 0, result.output
    assert len(list((out / "masks").glob("*.tif"))) == 8


@pytest.mark.parametrize("fmt", ["coco", "yolo"])
def test_an_empty_label_file_gives_patches_without_annotations(run_cli, make_raster, tmp_path,
                                                                fmt):
    """SpaceNet ships an empty FeatureCollection for every tile without buildings:
    make-masks writes its all-zero mask, but tile --labels refused the same file ('the file
    holds no features', exit 1), stopping a per-tile loop. Now: a warning, every patch
    written, no annotation."""
    image = make_raster("img.tif", np.ones((3, 32, 32), np.uint8))
    labels = tmp_path / "buildings_img9.geojson"
    labels.write_text('{"type": "FeatureCollection", "crs": {"type": "name", "properties": '
                      '{"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}, "features": []}')
    out = tmp_path / "out"
    result = run_cli("tile", image, "--size", 16, "--labels", labels, "--annotations", fmt,
                     "-o", out)
    assert result.exit_code == 0, result.output
    assert "holds no features" in result.stderr and "no annotations" in result.stderr
    assert len(list((out / "images").iterdir())) == 4
    if fmt == "coco":
        import json

        coco = json.loads((out / "annotations.json").read_text())
        assert len(coco["images"]) == 4 and coco["annotations"] == []
    else:
        texts = sorted((out / "labels").glob("img_*.txt"))
        assert len(texts) == 4 and all(t.read_text() == "" for t in texts)


@pytest.mark.parametrize("fmt", ["coco", "yolo"])
def test_a_sliver_label_writes_no_zero_area_annotation(run_cli, make_raster, tmp_path, fmt):
    """A digitising sliver 1e-6 m wide (2e-6 px) was written as an annotation: COCO
    segmentation [6.0, 6.0, 6.0, 6.0, 6.0, 12.0, 6.0, 12.0] (zero area at its 0.001 px
    precision), a YOLO line with every x 0.375 (a zero-width box). Now it is dropped; a
    0.1 m square (0.2 px) is kept."""
    import json

    import geopandas as gpd
    from shapely.geometry import box

    from .conftest import UTM_CRS, UTM_ORIGIN

    image = make_raster("img.tif", np.ones((3, 16, 16), np.uint8))
    x, y = UTM_ORIGIN
    labels = tmp_path / "labels.geojson"
    gpd.GeoDataFrame(geometry=[box(x + 3, y - 6, x + 3 + 1e-6, y - 3),  # the sliver
                               box(x + 1.2, y - 1.3, x + 1.3, y - 1.2)],  # 0.2 px square
                     crs=UTM_CRS).to_file(labels)
    out = tmp_path / "out"
    result = run_cli("tile", image, "--size", 16, "--labels", labels, "--annotations", fmt,
                     "-o", out)
    assert result.exit_code == 0, result.output
    if fmt == "coco":
        annotations = json.loads((out / "annotations.json").read_text())["annotations"]
        assert len(annotations) == 1
        ring = np.reshape(annotations[0]["segmentation"][0], (-1, 2))
        assert np.allclose(ring.min(axis=0), 2.4) and np.allclose(ring.max(axis=0), 2.6)
    else:
        lines = (out / "labels" / "img_0_0.txt").read_text().splitlines()
        assert len(lines) == 1
        xy = np.reshape([float(v) for v in lines[0].split()[1:]], (-1, 2))
        assert np.allclose(xy.min(axis=0), 2.4 / 16) and np.allclose(xy.max(axis=0), 2.6 / 16)
    patch_labels = json.loads((out / "labels" / "img_0_0.geojson").read_text())
    assert len(patch_labels["features"]) == 1


@pytest.mark.parametrize("fmt", ["png", "npy"])
def test_png_or_npy_patches_of_an_image_with_a_mask_band_say_the_mask_is_lost(
        run_cli, tmp_path, fmt):
    """An RGB orthomosaic whose footprint is a GDAL mask band (gdal_translate -mask, JPEG
    YCbCr) cut to PNG/npy patches: the patches cannot hold the mask, so their masked pixels
    read as black image data. One warning says so and names the fix; tif patches keep it."""
    import rasterio
    from rasterio.transform import from_origin

    from .conftest import UTM_CRS

    rgb = np.full((3, 64, 64), 120, np.uint8)
    footprint = np.zeros((64, 64), bool)
    footprint[:, :40] = True
    rgb[:, ~footprint] = 0
    image = tmp_path / "ortho.tif"
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(
            image, "w", driver="GTiff", width=64, height=64, count=3, dtype="uint8",
            crs=UTM_CRS, transform=from_origin(500000, 4000000, 0.03, 0.03)) as dst:
        dst.write(rgb)
        dst.write_mask(footprint)
    result = run_cli("tile", image, "--size", "32", "--format", fmt, "-o", tmp_path / "p")
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if "mask band" in line]
    assert len(warned) == 1, result.stderr
    assert "ortho.tif" in warned[0] and "--format tif" in warned[0], warned[0]
    assert float(_index(tmp_path / "p")[1]["nodata_fraction"]) == pytest.approx(0.75)
    result = run_cli("tile", image, "--size", "32", "-o", tmp_path / "t")
    assert result.exit_code == 0 and "mask band" not in result.stderr, result.stderr
    with rasterio.open(tmp_path / "t" / "images" / "ortho_0_1.tif") as patch:
        assert (patch.dataset_mask()[:, :8] == 255).all()
        assert (patch.dataset_mask()[:, 8:] == 0).all()


def test_probability_masks_keep_how_their_bands_are_read(tmp_path, make_raster, run_cli):
    """predict's probabilities of a softmax over building/road/water (no background band)
    tiled as --masks (pseudo-labels) lost GEOTILE_BANDS=exclusive and GEOTILE_THRESHOLD:
    evaluate read each patch as independent sigmoid bands, 100% of the pixels where no
    class reached 0.5 a 'background' the model has not (building IoU 0 against predict's own
    class patches). The patches keep the tags that say how to read them, and score 1.0."""
    import json

    import rasterio

    from .onnx_models import pointwise_model

    model = pointwise_model(tmp_path / "m.onnx", classes=3, activation="softmax", seed=3,
                            metadata={"class_names": ["building", "road", "water"]})
    rng = np.random.default_rng(0)
    image = make_raster("scene.tif", rng.integers(0, 255, (3, 32, 32), dtype=np.uint8))
    for out, extra in (("p.tif", ["--threshold", "0.3"]), ("c.tif", ["--output-type",
                                                                      "class"])):
        result = run_cli("predict", model, image, "-o", tmp_path / out, *extra)
        assert result.exit_code == 0, result.output
    for out, mask in (("tp", "p.tif"), ("tc", "c.tif")):
        result = run_cli("tile", image, "--masks", tmp_path / mask, "--size", "16",
                         "-o", tmp_path / out)
        assert result.exit_code == 0, result.output
    patch = tmp_path / "tp" / "masks" / "scene_0_0.tif"
    with rasterio.open(tmp_path / "p.tif") as src, rasterio.open(patch) as dst:
        for key in ("GEOTILE_BANDS", "GEOTILE_THRESHOLD", "GEOTILE_SCALE"):
            assert dst.tags().get(key) == src.tags()[key], key
    result = run_cli("evaluate", patch, tmp_path / "tc" / "masks" / "scene_0_0.tif", "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["accuracy"] == 1.0
    assert [c["class"] for c in scores["classes"]] == ["building", "road", "water"]


def test_probability_mask_patches_keep_the_masks_nodata(tmp_path, make_raster, run_cli):
    """predict --dtype uint8 marks the image's nodata by an internal mask band (no nodata
    value: 0..255 are all probabilities). Tiled as --masks its patches lost that band: 900
    of a patch's 2500 pixels read back as valid probabilities 0 (background) in evaluate.
    The patches keep the mask's invalid pixels marked."""
    import rasterio

    from .onnx_models import pointwise_model

    model = pointwise_model(tmp_path / "m.onnx", classes=3, activation="softmax", seed=3,
                            metadata={"class_names": ["background", "building", "road"]})
    pixels = np.random.default_rng(0).integers(1, 255, (3, 100, 100), dtype=np.uint8)
    pixels[:, 90:], pixels[:, :, :10] = 0, 0
    image = make_raster("scene.tif", pixels, nodata=0)
    result = run_cli("predict", model, image, "-o", tmp_path / "p.tif", "--dtype", "uint8")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "p.tif") as src:
        assert src.nodata is None and (src.dataset_mask() == 0).sum() == 1900
    result = run_cli("tile", image, "--masks", tmp_path / "p.tif", "--size", "50",
                     "-o", tmp_path / "t")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "t" / "masks" / "scene_1_0.tif") as patch:
        assert (patch.dataset_mask() == 0).sum() == 50 * 10 + 40 * 10
    result = run_cli("evaluate", tmp_path / "t" / "masks" / "scene_1_0.tif",
                     tmp_path / "t" / "masks" / "scene_1_0.tif", "--json")
    assert result.exit_code == 0, result.output
    import json

    assert json.loads(result.stdout)["pixels"] == 2500 - 900


@pytest.mark.parametrize("dtype", ["float32", "uint8"])
def test_positive_fraction_of_probability_masks_is_that_of_their_classes(
        tmp_path, make_raster, run_cli, dtype):
    """predict's softmax probabilities (background, building, road) tiled as --masks:
    index.csv gave every patch positive_fraction 1.0 (band 1, background's p, is nonzero
    everywhere), so --skip-empty kept all-background patches, and a uint8 one's p = 1
    (255) counted as nodata (--max-nodata dropped confident patches). The fractions are
    those of predict --output-type class's patches."""
    import csv

    from .onnx_models import pointwise_model

    model = pointwise_model(tmp_path / "m.onnx", classes=3, activation="softmax", seed=3,
                            metadata={"class_names": ["background", "building", "road"]})
    pixels = np.random.default_rng(0).integers(0, 255, (3, 32, 32), dtype=np.uint8)
    image = make_raster("scene.tif", pixels)
    for out, extra in (("p.tif", ["--dtype", dtype]), ("c.tif", ["--output-type", "class"])):
        result = run_cli("predict", model, image, "-o", tmp_path / out, *extra)
        assert result.exit_code == 0, result.output
    fractions = {}
    for out, mask in (("tp", "p.tif"), ("tc", "c.tif")):
        result = run_cli("tile", image, "--masks", tmp_path / mask, "--size", "8",
                         "-o", tmp_path / out)
        assert result.exit_code == 0, result.output
        with (tmp_path / out / "index.csv").open() as handle:
            fractions[out] = [(float(r["positive_fraction"]), float(r["nodata_fraction"]))
                              for r in csv.DictReader(handle)]
    slack = 0 if dtype == "float32" else 2 / 64  # uint8 rounding ties a pixel's classes
    assert all(abs(p - c) <= slack and pn == cn == 0.0
               for (p, pn), (c, cn) in zip(fractions["tp"], fractions["tc"], strict=True))
    assert min(fractions["tc"])[0] < 0.1


@pytest.mark.parametrize("fmt", ["tif", "png"])
def test_padded_patches_of_uint8_probabilities_keep_confident_pixels(tmp_path, make_raster,
                                                                     run_cli, fmt):
    """predict --dtype uint8 probabilities (255: p = 1) tiled as --masks with --edge pad:
    the padded patches declared 255 nodata (the ignore value of class masks), so the 100
    confident building pixels of the last patch read back as nodata (vectorize: no
    building) and the padding (PNG: no mask band) as p = 1, a building. The padding is p = 0
    now, marked by a mask band in a GeoTIFF; 255 stays a probability."""
    import rasterio

    p = np.zeros((1, 60, 60), np.uint8)
    p[0, 45:55, 45:55] = 255  # a confident building in the last, padded patch
    p[0, :5, :5] = 100  # not a 0/255 mask
    mask = make_raster("p.tif", p)
    with rasterio.open(mask, "r+") as dst:
        dst.update_tags(GEOTILE_OUTPUT="probability", GEOTILE_SCALE="255",
                        GEOTILE_CLASS_NAMES='["building"]', GEOTILE_THRESHOLD="0.5")
    image = make_raster("scene.tif", np.full((3, 60, 60), 7, np.uint8))
    result = run_cli("tile", image, "--masks", mask, "--size", "40", "--edge", "pad",
                     "--format", fmt, "-o", tmp_path / "t")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "t" / "masks" / f"scene_1_1.{fmt}") as patch:
        values = patch.read(1)
        assert (values == 255).sum() == 100 and values[20:, :].max() == 0
        if fmt == "tif":
            assert patch.nodata is None and (patch.dataset_mask() == 0).sum() == 40 * 40 - 400
            result = run_cli("vectorize", tmp_path / "t" / "masks" / "scene_1_1.tif", "-o",
                             tmp_path / "b.gpkg")
            assert result.exit_code == 0, result.output
            import geopandas as gpd

            assert gpd.read_file(tmp_path / "b.gpkg").area.sum() == pytest.approx(100 * 0.25)


def test_a_patch_far_larger_than_the_image_takes_memory_in_proportion(make_raster, run_cli,
                                                                      tmp_path):
    # --size 30000 on a 1 x 1 px image asked numpy for a 6.7 GiB int64 array (the padding's
    # mask band, 8 bytes a patch pixel, on top of the 3 bytes of the patch itself)
    import tracemalloc

    import rasterio

    image = make_raster("one.tif", np.full((3, 1, 1), 7, np.uint8))
    size = 1500
    tracemalloc.start()
    try:
        result = run_cli("tile", image, "--size", size, "-o", tmp_path / "t")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.exit_code == 0, result.output
    assert peak < 11 * size * size, peak  # patch, masks and file bytes: 8.7 a pixel, not 13.7
    with rasterio.open(tmp_path / "t/images/one_0_0.tif") as dst:
        assert dst.read(1)[0, 0] == 7 and dst.read_masks(1)[0, 0] == 255
        assert dst.read_masks(1)[0, 1] == 0 and dst.read_masks(1).sum() == 255


@pytest.mark.parametrize("values", [(0, 255), (0, 3)])
def test_a_jpeg_mask_is_warned_about(run_cli, tmp_path, values):
    """A mask saved as JPEG (as some drone datasets ship them): its class edges hold values
    the mask never had (0/255 -> 1, 252, 253...); tile says so, naming the file, and still
    cuts it."""
    Image = pytest.importorskip("PIL.Image")
    photo = np.random.default_rng(3).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(photo).save(tmp_path / "scene.png")
    mask = np.full((64, 64), values[0], np.uint8)
    mask[10:40, 13:47] = values[1]
    Image.fromarray(mask).save(tmp_path / "scene_mask.jpg", quality=75)
    stored = np.asarray(Image.open(tmp_path / "scene_mask.jpg"))
    result = run_cli("tile", tmp_path / "scene.png", "--masks", tmp_path / "scene_mask.jpg",
                     "--size", "32", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if "scene_mask.jpg" in line]
    assert len(lines) == 1 and "JPEG-compressed (lossy)" in lines[0], result.stderr
    if values[1] == 255:
        strays = int(((stored > 0) & (stored < 255)).sum())
        assert strays and f"here {strays} px of values other than 0 and 255" in lines[0]
    assert len(list((tmp_path / "out" / "masks").glob("scene_0_0.*"))) == 1


@pytest.mark.parametrize("positive", [1, 255])
def test_transparent_pixels_of_a_mask_with_alpha_are_no_data(run_cli, tmp_path, positive):
    """A grey + alpha PNG mask (an annotation tool's export) whose alpha 0 leaves the lower
    half unlabelled: make-masks and evaluate ignore those pixels; tile did not (class 0,
    nodata_fraction 0). Now their label is the ignore value 255 and index.csv counts them
    as no data; the labelled half and the alpha band are as they were. In a 0/255 mask,
    whose 255 is a building, they stay 0, marked by the patch's mask band."""
    import csv

    import rasterio

    Image = pytest.importorskip("PIL.Image")
    photo = np.random.default_rng(4).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(photo).save(tmp_path / "scene.png")
    labels = np.zeros((32, 32), np.uint8)
    labels[:8, :8] = positive
    alpha = np.full((32, 32), 255, np.uint8)
    alpha[16:] = 0
    Image.fromarray(np.dstack([labels, alpha]), "LA").save(tmp_path / "scene_mask.png")
    result = run_cli("tile", tmp_path / "scene.png", "--masks", tmp_path / "scene_mask.png",
                     "--size", "16", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    with open(tmp_path / "out" / "index.csv") as f:
        rows = {(r["row"], r["col"]): r for r in csv.DictReader(f)}
    assert float(rows["0", "0"]["positive_fraction"]) == 0.25
    assert float(rows["0", "0"]["nodata_fraction"]) == 0.0
    assert float(rows["1", "0"]["nodata_fraction"]) == 1.0
    assert float(rows["1", "0"]["positive_fraction"]) == 0.0
    with rasterio.open(tmp_path / "out" / rows["1", "0"]["mask"]) as patch:
        assert (patch.read(1) == (255 if positive == 1 else 0)).all()
        assert (patch.read(2) == 0).all() and not patch.read_masks(1).any()
    with rasterio.open(tmp_path / "out" / rows["0", "0"]["mask"]) as patch:
        np.testing.assert_array_equal(patch.read(1), labels[:16, :16])
        assert (patch.read(2) == 255).all()


def test_an_image_whose_every_patch_is_all_nodata_is_said_once(run_cli, make_raster, tmp_path):
    """A raster all nodata (rasterio's all-nodata.tif: 10 patches) was cut into patches of
    pure nodata with exit 0 and no word; the patches are still written (--max-nodata is
    opt-in), with one warning naming the image, the count and the fixes. An image with one
    valid pixel, or a run that filtered with --max-nodata, says nothing."""
    empty = make_raster("empty.tif", np.zeros((3, 64, 160), np.uint16), nodata=0)
    some = np.zeros((3, 64, 160), np.uint16)
    some[:, 5, 5] = 7
    valid = make_raster("valid.tif", some, nodata=0)
    result = run_cli("tile", empty, valid, "--size", "32", "-o", tmp_path / "o")
    assert result.exit_code == 0, result.output
    said = [line for line in result.stderr.splitlines() if "nodata" in line]
    assert len(said) == 1, result.stderr
    assert "empty.tif" in said[0] and "all 10 of its patches" in said[0]
    assert "--max-nodata 0.99" in said[0] and "nodata value" in said[0]
    assert "20 patches" in result.stdout  # 10 + 10 written, none left out
    assert len(list((tmp_path / "o" / "images").iterdir())) == 20
    kept = run_cli("tile", empty, valid, "--size", "32", "--max-nodata", "1", "-o",
                   tmp_path / "k")
    assert kept.exit_code == 0 and "nodata" not in kept.stderr, kept.stderr


def test_flair_and_dfc2022_names_pair(run_cli, make_raster, tmp_path):
    """FLAIR #1/#2 keep IMG_000001.tif (5 bands) in flair_aerial_train/<domain>/<zone>/img/
    and its mask MSK_000001.tif in flair_labels_train/.../msk/; DFC2022 (MiniFrance) names
    BDORTHO/<tile>.tif's labels UrbanAtlas/<tile>_UA2012.tif. Both were refused ('no mask
    named IMG_000001.*'): they pair, each image with its own mask, not another id's."""
    import rasterio

    images, masks = [], []
    for n, zone in ((1, "D006_2020/Z1_NN"), (2, "D006_2020/Z2_AA"), (12, "D013_2020/Z4_UF")):
        (tmp_path / "flair_aerial_train" / zone / "img").mkdir(parents=True)
        (tmp_path / "flair_labels_train" / zone / "msk").mkdir(parents=True)
        images.append(make_raster(f"flair_aerial_train/{zone}/img/IMG_{n:06d}.tif",
                                  np.full((5, 32, 32), n, np.uint8), crs="EPSG:2154"))
        masks.append(make_raster(f"flair_labels_train/{zone}/msk/MSK_{n:06d}.tif",
                                 np.full((32, 32), n + 1, np.uint8), crs="EPSG:2154"))
    result = run_cli("tile", tmp_path / "flair_aerial_train/*/*/img/IMG_*.tif", "--masks",
                     str(tmp_path / "flair_labels_train/*/*/msk/MSK_*.tif"), "--size", 32,
                     "-o", tmp_path / "flair")
    assert result.exit_code == 0, result.output
    assert _mask_values(tmp_path / "flair") == {
        "IMG_000001.tif": (1, 2), "IMG_000002.tif": (2, 3), "IMG_000012.tif": (12, 13)}
    with rasterio.open(tmp_path / "flair/images/IMG_000001_0_0.tif") as patch:
        assert patch.count == 5 and patch.crs.to_epsg() == 2154
    masks[0].unlink()  # the refusal names the FLAIR name, not a MSK_000001_label.* of none
    result = run_cli("tile", images[0], "--masks", masks[0].parent, "-o", tmp_path / "none")
    assert_one_line_error(result, "no mask named IMG_000001.* or MSK_000001.*",
                          "(IMG_000001_mask.*)")
    assert "MSK_000001_label" not in result.stderr

    for folder in ("BDORTHO", "UrbanAtlas"):
        (tmp_path / "Nice" / folder).mkdir(parents=True)
    for k, name in enumerate(("06-2014-1007-6318-LA93-0M50-E080",
                              "06-2014-1008-6318-LA93-0M50-E080")):
        make_raster(f"Nice/BDORTHO/{name}.tif", np.full((3, 32, 32), 10 + k, np.uint8))
        make_raster(f"Nice/UrbanAtlas/{name}_UA2012.tif", np.full((32, 32), 14 - k, np.uint8))
    result = run_cli("tile", tmp_path / "Nice/BDORTHO", "--masks", tmp_path / "Nice/UrbanAtlas",
                     "--size", 32, "-o", tmp_path / "dfc")
    assert result.exit_code == 0, result.output
    assert _mask_values(tmp_path / "dfc") == {
        "06-2014-1007-6318-LA93-0M50-E080.tif": (10, 14),
        "06-2014-1008-6318-LA93-0M50-E080.tif": (11, 13)}


def test_gid15_and_five_billion_pixels_names_pair(run_cli, make_raster, tmp_path):
    """GID-15 names the mask of img_dir/train/GF2_PMS1__L1A0000647767-MSS1.tif
    ann_dir/train/GF2_PMS1__L1A0000647767-MSS1_15label.png, Five-Billion-Pixels its masks
    (Annotation__index, Annotation__color) <image>_24label.png / .tif. Both were refused
    ('no mask named GF2_PMS1__L1A0000647767-MSS1.*'): they pair."""
    for folder in ("img", "ann15", "ann24"):
        (tmp_path / folder).mkdir()
    for k, name in enumerate(("GF2_PMS1__L1A0000647767-MSS1", "GF2_PMS2__L1A0001064454-MSS2")):
        make_raster(f"img/{name}.tif", np.full((3, 32, 32), 10 + k, np.uint8))
        make_raster(f"ann15/{name}_15label.tif", np.full((32, 32), 15 - k, np.uint8))
        make_raster(f"ann24/{name}_24label.tif", np.full((32, 32), 24 - k, np.uint8))
    for classes, ann in ((15, "ann15"), (24, "ann24")):
        result = run_cli("tile", tmp_path / "img", "--masks", tmp_path / ann, "--size", 32,
                         "-o", tmp_path / f"out{classes}")
        assert result.exit_code == 0, result.output
        assert _mask_values(tmp_path / f"out{classes}") == {
            "GF2_PMS1__L1A0000647767-MSS1.tif": (10, classes),
            "GF2_PMS2__L1A0001064454-MSS2.tif": (11, classes - 1)}



def test_landcover_ai_split_names_pair(run_cli, make_raster, tmp_path):
    """LandCover.ai's split.py cuts each orthophoto and its mask into output/<name>_<k>.jpg
    beside <name>_<k>_m.png (classes 0..4); `tile 'output/*.jpg' --masks output/` was
    refused ('no mask named M-33-20-D-c-4-2_0.*'): each piece pairs with its _m mask."""
    (tmp_path / "output").mkdir()
    for k in range(2):
        make_raster(f"output/M-33-20-D-c-4-2_{k}.jpg", np.full((3, 32, 32), 10 + k, np.uint8),
                    crs=None, driver="JPEG")
        make_raster(f"output/M-33-20-D-c-4-2_{k}_m.png", np.full((32, 32), 3 + k, np.uint8),
                    crs=None, driver="PNG")
    result = run_cli("tile", str(tmp_path / "output" / "*.jpg"), "--masks",
                     tmp_path / "output", "--size", 32, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert _mask_values(tmp_path / "out") == {"M-33-20-D-c-4-2_0.jpg": (10, 3),
                                              "M-33-20-D-c-4-2_1.jpg": (11, 4)}

def test_a_users_names_ending_in_m_are_not_landcover_ai_masks(run_cli, make_raster, tmp_path):
    """LandCover.ai's _m mask suffix read any name ending in _m as a mask of the name
    before it: make-masks labels/ area.tif with labels/area.geojson beside area_m.geojson
    (another tile's labels) was refused ('both pair with it'), tile area.tif --masks
    masks/ took masks/area_m.tif as area.tif's, evaluate paired prediction area.tif with
    truth area_m.tif. _m follows split.py's piece number alone (<name>_<k>_m)."""
    import json

    import rasterio

    for folder in ("img", "masks", "truth", "pred"):
        (tmp_path / folder).mkdir()
    image = make_raster("img/area.tif", np.full((3, 16, 16), 7, np.uint8))
    with rasterio.open(image) as src:
        x0, y0 = src.bounds.left, src.bounds.top
        crs, size = src.crs.to_string(), src.res[0]
    (tmp_path / "labels").mkdir()
    for stem, cols in (("area", (0, 4)), ("area_m", (8, 12))):
        corners = ((cols[0], 0), (cols[1], 0), (cols[1], 4), (cols[0], 4), (cols[0], 0))
        ring = [[x0 + c * size, y0 - r * size] for c, r in corners]
        (tmp_path / "labels" / f"{stem}.geojson").write_text(json.dumps({
            "type": "FeatureCollection",
            "crs": {"type": "name", "properties": {"name": crs}},
            "features": [{"type": "Feature", "properties": {},
                          "geometry": {"type": "Polygon", "coordinates": [ring]}}]}))
    result = run_cli("make-masks", tmp_path / "labels", image, "-o", f"{tmp_path / 'out'}/")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "out" / "area.tif") as src:
        mask = src.read(1)
    assert mask[:4, :4].all() and not mask[:, 4:].any()
    make_raster("masks/area_m.tif", np.ones((16, 16), np.uint8))
    result = run_cli("tile", image, "--masks", tmp_path / "masks", "--size", 16,
                     "-o", tmp_path / "patches")
    assert_one_line_error(result, "no mask named area.*")
    make_raster("truth/area_m.tif", np.ones((16, 16), np.uint8))
    make_raster("pred/area.tif", np.ones((16, 16), np.uint8))
    result = run_cli("evaluate", tmp_path / "pred", tmp_path / "truth")
    assert result.exit_code == 1
    assert "area_m.tif" in result.output and "area.tif" in result.output


def test_chesapeake_cvpr_names_pair(run_cli, make_raster, tmp_path):
    """The Chesapeake CVPR land cover tiles keep m_3708035_ne_17_1_naip-new.tif (NAIP,
    4 bands) beside its land cover m_3708035_ne_17_1_lc.tif, _naip-old, _nlcd and
    _buildings of the same tile in one folder; `tile '*_naip-new.tif' --masks FOLDER` was
    refused ('no mask named m_3708035_ne_17_1_naip-new.*'): the _lc labels pair, also with
    _naip-old, not the NLCD or buildings rasters."""
    tiles = tmp_path / "wv_1m_2014_extended-debuffered-val_tiles"
    tiles.mkdir()
    for k, tile in enumerate(("m_3708035_ne_17_1", "m_3708036_nw_17_1")):
        for layer, value in (("naip-new", 10 + k), ("naip-old", 20 + k)):
            make_raster(f"{tiles.name}/{tile}_{layer}.tif", np.full((4, 32, 32), value, np.uint8))
        for layer, value in (("lc", 3 + k), ("nlcd", 41), ("buildings", 1)):
            make_raster(f"{tiles.name}/{tile}_{layer}.tif", np.full((32, 32), value, np.uint8))
    for layer in ("naip-new", "naip-old"):
        result = run_cli("tile", str(tiles / f"*_{layer}.tif"), "--masks", tiles, "--size", 32,
                         "-o", tmp_path / layer)
        assert result.exit_code == 0, result.output
        first = 10 if layer == "naip-new" else 20
        assert _mask_values(tmp_path / layer) == {f"m_3708035_ne_17_1_{layer}.tif": (first, 3),
                                                  f"m_3708036_nw_17_1_{layer}.tif": (first + 1, 4)}


def _geonrw_tree(tmp_path) -> dict:
    """GeoNRW's layout: <city>/<E>_<N>_rgb.jp2 (uint8 RGB), <E>_<N>_dem.tif (float32) and
    <E>_<N>_seg.tif (uint8 classes 0..10) of one 1 m tile in EPSG:25832; {tile: values}."""
    from rasterio.transform import from_origin

    from .conftest import write_raster

    values = {}
    for k, (city, east, north) in enumerate((("aachen", 294, 5628), ("aachen", 295, 5628),
                                             ("bonn", 364, 5621))):
        folder, tile = tmp_path / "geonrw" / city, f"{east}_{north}"
        folder.mkdir(parents=True, exist_ok=True)
        where = {"crs": "EPSG:25832", "transform": from_origin(east * 1000, north * 1000, 1, 1)}
        write_raster(folder / f"{tile}_rgb.jp2", np.full((3, 32, 32), 100 + k, np.uint8),
                     driver="JP2OpenJPEG", **where)
        write_raster(folder / f"{tile}_dem.tif", np.full((32, 32), 50.5 + k, np.float32),
                     **where)
        write_raster(folder / f"{tile}_seg.tif", np.full((32, 32), 8 + k, np.uint8), **where)
        values[f"{tile}_rgb.jp2"] = (100 + k, 8 + k, 50.5 + k)
    return values


def test_geonrw_names_pair(run_cli, tmp_path):
    """GeoNRW keeps <city>/<E>_<N>_rgb.jp2 beside its labels <E>_<N>_seg.tif and its DEM
    <E>_<N>_dem.tif: `tile 'geonrw/*/*_rgb.jp2' --masks 'geonrw/*/*_seg.tif'` and `--masks
    aachen/` were refused ('no mask named 294_5628_rgb.* or 294_5628.*'): each image pairs
    with its own _seg labels, and --extra-bands aachen/ stacks its DEM, not the labels."""
    import rasterio

    values = _geonrw_tree(tmp_path)
    root = tmp_path / "geonrw"
    result = run_cli("tile", root / "*" / "*_rgb.jp2", "--masks", root / "*" / "*_seg.tif",
                     "--size", 32, "-o", tmp_path / "all")
    assert result.exit_code == 0, result.output
    assert _mask_values(tmp_path / "all") == {k: v[:2] for k, v in values.items()}
    result = run_cli("tile", root / "aachen" / "*_rgb.jp2", "--masks", root / "aachen",
                     "--extra-bands", root / "aachen", "--size", 32, "-o", tmp_path / "aachen")
    assert result.exit_code == 0, result.output
    assert _mask_values(tmp_path / "aachen") == {
        k: v[:2] for k, v in values.items() if not k.startswith("364")}
    with rasterio.open(tmp_path / "aachen" / "images" / "295_5628_rgb_0_0.tif") as patch:
        assert patch.count == 4 and patch.read(4)[0, 0] == values["295_5628_rgb.jp2"][2]
        assert patch.crs.to_epsg() == 25832 and patch.transform.c == 295000


def test_elevation_rasters_beside_the_images_are_left_out(run_cli, make_raster, tmp_path):
    """A folder holding the images, their labels and their DSMs (ISPRS Potsdam unpacked in
    one folder: top_potsdam_2_10_RGB.tif, top_potsdam_2_10_label.tif, dsm_potsdam_02_10.tif;
    a GeoNRW city: <E>_<N>_rgb.jp2, _seg.tif, _dem.tif), given as IMAGE and --masks, took
    each DSM for an image and refused it ('no mask named dsm_potsdam_02_10.*'; name each mask
    after its image): the DSMs are left out, said on stderr with --extra-bands, and the
    images are cut with their own labels. A DSM with a mask of its own is still an image."""
    from rasterio.transform import from_origin

    values = _geonrw_tree(tmp_path)
    city = tmp_path / "geonrw" / "aachen"
    result = run_cli("tile", city, "--masks", city, "--size", 32, "-o", tmp_path / "nrw")
    assert result.exit_code == 0, result.output
    assert _mask_values(tmp_path / "nrw") == {
        k: v[:2] for k, v in values.items() if not k.startswith("364")}
    assert "294_5628_dem.tif" in result.stderr and "--extra-bands" in result.stderr

    (tmp_path / "potsdam").mkdir()
    for k, tile in enumerate(((2, 10), (2, 11))):
        where = {"crs": "EPSG:32633",
                 "transform": from_origin(366000 + 300 * k, 5808000, 0.05, 0.05)}
        make_raster(f"potsdam/top_potsdam_{tile[0]}_{tile[1]}_RGB.tif",
                    np.full((3, 32, 32), 60 + k, np.uint8), **where)
        make_raster(f"potsdam/top_potsdam_{tile[0]}_{tile[1]}_label.tif",
                    np.full((32, 32), 4 + k, np.uint8), **where)
        make_raster("potsdam/dsm_potsdam_{:02d}_{:02d}.tif".format(*tile),
                    np.full((32, 32), 35.5, np.float32), **where)
    folder = tmp_path / "potsdam"
    result = run_cli("tile", folder, "--masks", folder, "--size", 32, "-o", tmp_path / "p")
    assert result.exit_code == 0, result.output
    assert _mask_values(tmp_path / "p") == {"top_potsdam_2_10_RGB.tif": (60, 4),
                                            "top_potsdam_2_11_RGB.tif": (61, 5)}
    assert "dsm_potsdam_02_10.tif" in result.stderr

    make_raster("potsdam/dsm_potsdam_02_10_mask.tif", np.full((32, 32), 9, np.uint8),
                crs="EPSG:32633", transform=from_origin(366000, 5808000, 0.05, 0.05))
    result = run_cli("tile", folder, "--masks", folder, "--size", 32, "-o", tmp_path / "own")
    assert result.exit_code == 0, result.output
    assert _mask_values(tmp_path / "own")["dsm_potsdam_02_10.tif"] == (35, 9)


def test_dfc2018_ground_truth_at_another_resolution_is_cut_by_make_masks(run_cli, make_raster,
                                                                       tmp_path):
    """DFC2018 (Houston) labels its 0.05 m RGB tiles (Final RGB HR Imagery/UH_NAD83_<E>_<N>.tif)
    with one ground truth raster at 0.5 m over all of them
    (TrainingGT/2018_IEEE_GRSS_DFC_GT_TR.tif). tile refused it without the command that
    fixes it ('2 images but 1 mask: give one --masks file per image'; 'Make it with
    `geotile make-masks LABELS IMAGE`'): both refusals name make-masks with that raster,
    and the masks it makes tile with each image, the classes where the 0.5 m cells are."""
    import csv

    import rasterio
    from rasterio.transform import from_origin

    where = {"crs": "EPSG:26915"}
    (tmp_path / "Final RGB HR Imagery").mkdir()
    (tmp_path / "TrainingGT").mkdir()
    images = [make_raster(f"Final RGB HR Imagery/UH_NAD83_{east}_3289689.tif",
                          np.full((3, 64, 64), 40 + k, np.uint8), **where,
                          transform=from_origin(east, 3289689, 0.05, 0.05))
              for k, east in enumerate((272056, 272060))]
    truth = np.zeros((20, 40), np.uint8)
    truth[:, :16] = 7  # 272056 to 272064 m: crosses the second tile 80 px from its left
    truth[:, 16:] = 9
    gt = make_raster("TrainingGT/2018_IEEE_GRSS_DFC_GT_TR.tif", truth, **where,
                     transform=from_origin(272056, 3289689, 0.5, 0.5))
    fix = f"geotile make-masks {gt.name}"
    assert_one_line_error(run_cli("tile", images[1], "--masks", gt, "--size", 32, "-o",
                                  tmp_path / "one"), gt.name, f"{fix} {images[1].name}")
    assert_one_line_error(run_cli("tile", images[0].parent, "--masks", gt, "--size", 32,
                                  "-o", tmp_path / "all"), "2 images but 1 mask", fix)

    result = run_cli("make-masks", gt, *images, "-o", f"{tmp_path / 'masks'}/")
    assert result.exit_code == 0, result.output
    result = run_cli("tile", images[0].parent, "--masks", tmp_path / "masks", "--size", 32,
                     "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    with (tmp_path / "out" / "index.csv").open() as handle:
        masks = [row["mask"] for row in csv.DictReader(handle)]
    assert len(masks) == 8
    for name in masks:
        with rasterio.open(tmp_path / "out" / name) as patch:
            assert patch.res == (0.05, 0.05) and patch.crs.to_epsg() == 26915
            east = patch.bounds.left + (np.arange(32) + 0.5) * 0.05
            assert (patch.read(1) == np.where(east < 272064, 7, 9)[None]).all(), name


def test_dfc2022_dems_of_every_region_stack_by_a_pattern(run_cli, make_raster, tmp_path):
    """DFC2022 keeps labeled_train/<region>/BDORTHO/<tile>.tif (0.5 m) with its labels in
    UrbanAtlas/<tile>_UA2012.tif and its 1 m DEM in RGEALTI/<tile>_RGEALTI.tif, a folder of
    each per region. --masks takes a pattern over the regions, --extra-bands did not ('2
    images but 1 --extra-bands raster'): a quoted pattern pairs by name as a folder does,
    each tile with its own region's DEM resampled onto its grid; a pattern of no file is
    refused as such."""
    import rasterio
    from rasterio.transform import from_origin

    root = tmp_path / "labeled_train"
    for k, (region, name) in enumerate((("Nice", "06-2014-1007-6318-LA93-0M50-E080"),
                                        ("Rennes", "35-2012-0310-6785-LA93-0M50-E080"))):
        west = 1000000 + 10000 * k
        for folder in ("BDORTHO", "UrbanAtlas", "RGEALTI"):
            (root / region / folder).mkdir(parents=True)
        half = {"crs": "EPSG:2154", "transform": from_origin(west, 6300000, 0.5, 0.5)}
        make_raster(f"labeled_train/{region}/BDORTHO/{name}.tif",
                    np.full((3, 32, 32), 10 + k, np.uint8), **half)
        make_raster(f"labeled_train/{region}/UrbanAtlas/{name}_UA2012.tif",
                    np.full((32, 32), 5 + k, np.uint8), **half)
        make_raster(f"labeled_train/{region}/RGEALTI/{name}_RGEALTI.tif",
                    np.full((16, 16), 40.0 + 100 * k, np.float32), crs="EPSG:2154",
                    transform=from_origin(west, 6300000, 1, 1))
    result = run_cli("tile", root / "*" / "BDORTHO" / "*.tif", "--masks",
                     root / "*" / "UrbanAtlas" / "*.tif", "--extra-bands",
                     root / "*" / "RGEALTI" / "*.tif", "--size", 32, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert _mask_values(tmp_path / "out") == {
        "06-2014-1007-6318-LA93-0M50-E080.tif": (10, 5),
        "35-2012-0310-6785-LA93-0M50-E080.tif": (11, 6)}
    for name, height in (("06-2014-1007-6318-LA93-0M50-E080", 40.0),
                         ("35-2012-0310-6785-LA93-0M50-E080", 140.0)):
        with rasterio.open(tmp_path / "out" / "images" / f"{name}_0_0.tif") as patch:
            assert patch.count == 4 and (patch.read(4) == height).all()
    result = run_cli("tile", root / "*" / "BDORTHO" / "*.tif", "--extra-bands",
                     root / "*" / "DEM" / "*.tif", "--size", 32, "-o", tmp_path / "none")
    assert_one_line_error(result, "DEM", "matches no file")


def test_16_bit_png_patches_of_several_bands_say_pil_reads_them_8_bit(run_cli, tmp_path):
    """PIL (torchvision's and Hugging Face's image loading) reads a 16-bit PNG of 2 to 4
    bands by its high byte (RGB 4000 as 15: a black training set), and cv2.imread too by
    default: tile wrote such patches without a word -> one warning names the readers and
    the fix; the PNG holds the exact values (GDAL reads 4000); a one-band 16-bit PNG, which
    PIL reads whole (I;16), is not warned of."""
    import warnings

    import rasterio
    from PIL import Image
    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.transform import from_origin

    from .conftest import UTM_CRS, write_raster

    image = write_raster(tmp_path / "ms.tif", np.full((3, 64, 64), 4000, np.uint16),
                         crs=UTM_CRS, transform=from_origin(500000, 4000000, 1, 1))
    result = run_cli("tile", image, "--size", "32", "--format", "png", "-o", tmp_path / "p")
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if "high byte" in line]
    assert len(warned) == 1, result.stderr
    assert "ms.tif" in warned[0] and "PIL" in warned[0] and "--format tif" in warned[0]
    patch = tmp_path / "p" / "images" / "ms_0_0.png"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(patch) as src:
            assert (src.read() == 4000).all()
    assert np.asarray(Image.open(patch)).max() == 15  # what the warning is about
    grey = write_raster(tmp_path / "pan.tif", np.full((64, 64), 4000, np.uint16),
                        crs=UTM_CRS, transform=from_origin(500000, 4000000, 1, 1))
    result = run_cli("tile", grey, "--size", "32", "--format", "png", "-o", tmp_path / "g")
    assert result.exit_code == 0 and "high byte" not in result.stderr, result.stderr
    assert np.asarray(Image.open(tmp_path / "g" / "images" / "pan_0_0.png")).max() == 4000


@pytest.mark.parametrize("fmt", ["tif", "npy"])
@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_complex_sar_images_are_refused_before_any_patch(run_cli, make_raster, tmp_path,
                                                         dtype, fmt):
    """A CFloat32/CFloat64 image (an SLC: Capella, Umbra SICD-derived) or --extra-bands
    raster was cut into complex patches, exit 0: a dataset no model of geotile's can be run
    on, predict refusing the same image. Refused in one line naming the file and the
    conversion to amplitude, before any patch is written."""
    pixels = np.arange(32 * 32, dtype=np.float32).reshape(32, 32)
    slc = make_raster("slc.tif", (pixels + 1j * (pixels % 7)).astype(dtype))
    amplitude = make_raster("amp.tif", pixels)
    for image, extra in ((slc, []), (amplitude, ["--extra-bands", slc])):
        out = tmp_path / f"out_{extra != []}"
        result = run_cli("tile", image, *extra, "--size", "16", "--format", fmt, "-o", out)
        assert_one_line_error(result, "slc.tif", "complex pixels", "amplitude",
                              "gdal_calc.py --calc 'abs(A)'")
        assert not out.exists()


def test_a_complex_mask_is_refused(run_cli, make_raster, tmp_path):
    """A complex raster given as --masks was cut into complex mask patches, exit 0 (its
    classes in the real parts, the imaginary ones kept): refused in one line, as evaluate
    and vectorize refuse it."""
    image = make_raster("img.tif", np.ones((32, 32), np.float32))
    mask = make_raster("sar_mask.tif", np.ones((32, 32), np.complex64))
    result = run_cli("tile", image, "--masks", mask, "--size", "16", "-o", tmp_path / "out")
    assert_one_line_error(result, "sar_mask.tif", "complex pixels", "not a mask")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("bands", [2, 4])
def test_png_patches_whose_last_band_becomes_alpha_say_so(run_cli, tmp_path, bands):
    """PNG holds 2 or 4 channels only as grey+alpha or RGBA: tile --format png of an RGB+NIR
    image (ISPRS Potsdam, NAIP) or a 2-band one (SAR VV/VH) wrote the NIR (VH) as the
    patch's alpha, without a word: cv2.imread's default and PIL's convert('RGB') drop it,
    viewers draw NIR 0 (water) transparent -> one warning names the image and the fix; the
    patch holds the values; an RGBA image whose band 4 is a 0/255 alpha is not warned of."""
    import warnings

    import rasterio
    from PIL import Image
    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.transform import from_origin

    from .conftest import UTM_CRS, write_raster

    pixels = np.random.default_rng(0).integers(1, 255, (bands, 64, 64)).astype(np.uint8)
    pixels[-1, :16] = 0  # NIR over water
    image = write_raster(tmp_path / "rgbn.tif", pixels, crs=UTM_CRS,
                         transform=from_origin(500000, 4000000, 1, 1))
    result = run_cli("tile", image, "--size", "32", "--format", "png", "-o", tmp_path / "p")
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if "alpha" in line]
    assert len(warned) == 1, result.stderr
    assert "rgbn.tif" in warned[0] and f"band {bands}" in warned[0]
    assert "--format tif" in warned[0]
    patch = tmp_path / "p" / "images" / "rgbn_0_0.png"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(patch) as src:
            assert (src.read() == pixels[:, :32, :32]).all()
    assert Image.open(patch).mode == ("LA" if bands == 2 else "RGBA")  # what it is about
    rgba = pixels.copy()
    rgba[-1] = 255
    rgba[-1, :16] = 0
    rgba_image = write_raster(tmp_path / "rgba.tif", rgba, crs=UTM_CRS,
                              transform=from_origin(500000, 4000000, 1, 1),
                              photometric="rgb" if bands == 4 else "minisblack",
                              alpha="yes")
    result = run_cli("tile", rgba_image, "--size", "32", "--format", "png", "-o",
                     tmp_path / "a")
    assert result.exit_code == 0, result.output
    assert "alpha" not in result.stderr, result.stderr


def test_png_mask_patches_of_a_4_class_independent_mask_say_its_4th_class_is_alpha(
        run_cli, tmp_path):
    """make-masks with GEOTILE_BANDS=independent writes a 0/1 band per class: tile
    --format png of a 4-class one stored class 4 as each mask patch's alpha (RGBA), which
    cv2.imread drops and viewers draw transparent, without a word (an image's was warned
    of) -> one warning names the mask and band 4; a 3-class mask is not warned of."""
    import rasterio
    from PIL import Image
    from rasterio.transform import from_origin

    from .conftest import UTM_CRS, write_raster

    transform = from_origin(500000, 4000000, 1, 1)
    image = write_raster(tmp_path / "scene.tif", np.full((3, 64, 64), 90, np.uint8),
                         crs=UTM_CRS, transform=transform)
    for classes in (4, 3):
        labels = (np.random.default_rng(classes).random((classes, 64, 64)) > 0.5)
        mask = write_raster(tmp_path / f"mask{classes}.tif", labels.astype(np.uint8),
                            crs=UTM_CRS, transform=transform)
        with rasterio.open(mask, "r+") as dst:
            dst.update_tags(GEOTILE_OUTPUT="mask", GEOTILE_BANDS="independent")
        out = tmp_path / f"p{classes}"
        result = run_cli("tile", image, "--masks", mask, "--size", "32", "--format", "png",
                         "-o", out)
        assert result.exit_code == 0, result.output
        warned = [line for line in result.stderr.splitlines() if "alpha" in line]
        if classes == 3:
            assert warned == [], result.stderr
            continue
        assert len(warned) == 1, result.stderr
        assert "mask4.tif" in warned[0] and "band 4 of 4" in warned[0]
        assert "--format tif" in warned[0]
        patch = next((out / "masks").glob("*.png"))
        assert Image.open(patch).mode == "RGBA"  # what it is about


@pytest.mark.parametrize("edge", ["pad", "shift"])
def test_every_mask_patch_declares_the_ignore_value_for_readers_that_merge_them(
        run_cli, make_raster, tmp_path, edge):
    """TorchGeo's RasterDataset reads the patches of a query with rasterio.merge, filled with
    the first file's nodata: mask patches with padding (or the image's nodata collar)
    declared 255, the others none, so a query over a padded patch whose first file was an
    inner patch read its 17408 padded pixels as 0, the background. Every mask patch of a
    mask whose 255 is the ignore value declares it: merged, the padding stays 255."""
    import rasterio
    from rasterio.merge import merge

    pixels = np.random.default_rng(1).integers(1, 255, (3, 600, 700)).astype(np.uint8)
    pixels[:, :, :40] = 0  # a nodata collar on the left
    image = make_raster("rgb.tif", pixels, nodata=0)
    labels = (np.random.default_rng(2).random((600, 700)) > 0.7).astype(np.uint8)
    mask = make_raster("rgb_mask.tif", labels)
    out = tmp_path / "out"
    result = run_cli("tile", image, "--masks", mask, "--size", 256, "--edge", edge, "-o", out)
    assert result.exit_code == 0, result.output
    rows = _index(out)
    assert len(rows) == 9
    nodatas = set()
    for row in rows:
        with rasterio.open(out / row["mask"]) as patch:
            nodatas.add(patch.nodata)
            own = patch.read(1)
            bounds = patch.bounds
        # an inner patch first, as a merge over the patches touching these bounds may take it
        inner = out / "masks" / "rgb_1_1.tif"
        files = [inner, out / row["mask"]] if row["mask"] != "masks/rgb_1_1.tif" else [inner]
        merged, _ = merge([str(f) for f in files], bounds=bounds)
        np.testing.assert_array_equal(merged[0], own, err_msg=row["mask"])
        x, y = int(row["x_off"]), int(row["y_off"])
        inside = np.zeros((256, 256), bool)
        inside[:min(256, 600 - y), :min(256, 700 - x)] = True
        assert (own[~inside] == 255).all()  # padding: the ignore value, not background
    assert nodatas == {255}
