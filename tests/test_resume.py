"""--resume: finished outputs are skipped, partial and stale ones redone, byte-identically."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import rasterio

from geotile import output_files, resume

from .conftest import assert_one_line_error, write_vrt
from .onnx_models import conv3x3_model


def _images(make_raster, n=3):
    rng = np.random.default_rng(0)
    return [make_raster(f"img{i}.tif", rng.integers(0, 255, (3, 40 + 5 * i, 50), np.uint8))
            for i in range(n)]


def _files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture()
def predict_setup(tmp_path, make_raster):
    model = conv3x3_model(tmp_path / "m.onnx")
    images = _images(make_raster)
    return model, images


def _predict(run_cli, model, images, out, *extra):
    return run_cli("predict", model, *images, "-o", out, "--tile-size", "32", *extra)


def test_killed_predict_resumes_byte_identical(run_cli, predict_setup, tmp_path, monkeypatch):
    model, images = predict_setup
    clean = tmp_path / "clean"
    assert _predict(run_cli, model, images, clean).exit_code == 0
    expected = _files(clean)
    assert len(expected) == 3
    # no timestamp in the TIFF: two clean runs give the same bytes
    again = tmp_path / "again"
    assert _predict(run_cli, model, images, again).exit_code == 0
    assert _files(again) == expected
    with rasterio.open(clean / "img0.tif") as src:
        assert "TIFFTAG_DATETIME" not in src.tags()
        assert re.fullmatch(r"[0-9a-f]{32}-[0-9a-f]{12}", src.tags()[resume.TAG])

    # a run killed while writing the second image: the first is complete, the second left
    # a temporary file (as SIGKILL would), the third never started
    out = tmp_path / "out"
    import geotile.predict as predict_module

    real = predict_module.write_bands
    calls = []

    def dies_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise SystemExit(137)
        return real(*args, **kwargs)

    monkeypatch.setattr(predict_module, "write_bands", dies_on_second)
    assert _predict(run_cli, model, images, out).exit_code != 0
    monkeypatch.setattr(predict_module, "write_bands", real)
    assert sorted(p.name for p in out.iterdir()) == ["img0.tif"]
    leftover = out / ".img1.0123abcd.tmp.tif"
    leftover.write_bytes(b"half a tiff")
    (out / ".img1.0123abcd.tmp.tif.aux.xml").write_bytes(b"<PAMDataset/>")
    mine = out / ".img1.notgeotile.tmp.tif"  # not geotile's name: kept
    mine.write_bytes(b"user")
    first = os.stat(out / "img0.tif")

    result = _predict(run_cli, model, images, out, "--resume")
    assert result.exit_code == 0, result.output
    assert "img0.tif: complete from an earlier run, skipped (--resume)" in result.output
    after = os.stat(out / "img0.tif")
    assert (after.st_ino, after.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)
    mine.unlink()
    assert _files(out) == expected

    # a second --resume skips everything
    result = _predict(run_cli, model, images, out, "--resume")
    assert result.output.count("skipped (--resume)") == 3
    assert _files(out) == expected


def test_resume_redoes_outputs_of_other_options_or_changed_inputs(run_cli, predict_setup,
                                                                  tmp_path):
    model, images = predict_setup
    out = tmp_path / "out"
    assert _predict(run_cli, model, images, out, "--dtype", "uint8").exit_code == 0
    old = {name: os.stat(out / name).st_mtime_ns for name in _files(out)}
    # other options: every output is redone (geotile wrote them, so they may be replaced)
    result = _predict(run_cli, model, images, out, "--resume")
    assert result.exit_code == 0, result.output
    assert "skipped" not in result.output
    with rasterio.open(out / "img0.tif") as src:
        assert src.dtypes[0] == "float32"
    # a changed input: only its output is redone
    with rasterio.open(images[1], "r+") as dst:
        dst.write(np.full((3, 45, 50), 7, np.uint8))
    result = _predict(run_cli, model, images, out, "--resume")
    assert result.output.count("skipped (--resume)") == 2
    assert "img1.tif: complete" not in result.output
    reference = tmp_path / "ref.tif"
    assert _predict(run_cli, model, [images[1]], reference).exit_code == 0
    assert (out / "img1.tif").read_bytes() == reference.read_bytes()
    assert os.stat(out / "img0.tif").st_mtime_ns != old["img0.tif"]


def test_resume_redoes_an_output_whose_vrt_source_or_sidecar_changed(run_cli, predict_setup,
                                                                     tmp_path):
    """What GDAL reads with an input is part of it: a VRT's source raster, and a sidecar
    (.aux.xml: here a nodata value) written beside it after the first run."""
    model, images = predict_setup
    vrt = write_vrt(tmp_path / "scene.vrt", images[0])
    for source, changed in ((vrt, images[0]), (images[1], images[1])):
        out = tmp_path / f"{source.stem}_out.tif"
        assert _predict(run_cli, model, [source], out, "--resume").exit_code == 0
        assert "skipped" in _predict(run_cli, model, [source], out, "--resume").output
        if source == vrt:  # the source raster under the VRT gets other pixels
            with rasterio.open(changed, "r+") as dst:
                dst.write(np.full((3, dst.height, dst.width), 9, np.uint8))
        else:  # a PAM sidecar now declares nodata 0
            Path(f"{changed}.aux.xml").write_text(
                '<PAMDataset><PAMRasterBand band="1"><NoDataValue>0</NoDataValue>'
                "</PAMRasterBand></PAMDataset>")
        result = _predict(run_cli, model, [source], out, "--resume")
        assert result.exit_code == 0 and "skipped" not in result.output, result.output


def test_a_vrt_of_a_vrt_is_read_through_to_its_rasters(run_cli, predict_setup, tmp_path):
    """A VRT whose source is a VRT (gdalbuildvrt of per-district VRTs): GDAL lists only the
    inner VRT among the outer's files, so --resume skipped the output after the raster under
    both changed (stale probabilities, exit 0), and -o <that raster> --overwrite replaced the
    user's image with the predictions."""
    from .conftest import assert_one_line_error

    model, images = predict_setup
    inner = write_vrt(tmp_path / "district.vrt", images[0])
    outer = write_vrt(tmp_path / "city.vrt", inner)
    out = tmp_path / "city_out.tif"
    assert _predict(run_cli, model, [outer], out, "--resume").exit_code == 0
    assert "skipped" in _predict(run_cli, model, [outer], out, "--resume").output
    with rasterio.open(images[0], "r+") as dst:
        dst.write(np.full((3, dst.height, dst.width), 9, np.uint8))
    result = _predict(run_cli, model, [outer], out, "--resume")
    assert result.exit_code == 0 and "skipped" not in result.output, result.output
    reference = tmp_path / "ref.tif"
    assert _predict(run_cli, model, [images[0]], reference).exit_code == 0
    with rasterio.open(out) as got, rasterio.open(reference) as want:
        np.testing.assert_array_equal(got.read(), want.read())
    before = images[0].read_bytes()
    result = _predict(run_cli, model, [outer], images[0], "--overwrite")
    assert_one_line_error(result, str(images[0]), "city.vrt", "never writes over its inputs")
    assert images[0].read_bytes() == before


def test_resume_never_replaces_foreign_files(run_cli, predict_setup, tmp_path):
    from .conftest import assert_one_line_error

    model, images = predict_setup
    out = tmp_path / "out"
    out.mkdir()
    (out / "img1.tif").write_bytes(b"someone else's")
    assert_one_line_error(_predict(run_cli, model, images, out, "--resume"),
                          "img1.tif", "not written by geotile")
    assert (out / "img1.tif").read_bytes() == b"someone else's"
    # a GeoTIFF without geotile tags is not geotile's either
    assert_one_line_error(_predict(run_cli, model, [images[0]], out / "img1.tif", "--resume"),
                          "not written by geotile")


@pytest.mark.parametrize("command", ["predict", "make-masks"])
def test_resume_refuses_a_foreign_file_before_any_work(run_cli, request, tmp_path, command):
    """A file geotile did not write at the last output stops a --resume run before the first
    image is predicted (as without --resume), not after the others, nor after --merge."""
    from .conftest import assert_one_line_error

    out = tmp_path / "out"
    out.mkdir()
    if command == "predict":
        model, images = request.getfixturevalue("predict_setup")
        args = ("predict", model, *images, "--tile-size", "32")
    else:
        labels, images = request.getfixturevalue("masks_setup")
        args = ("make-masks", labels, *images)
    last = out / f"{Path(images[-1]).stem}.tif"
    last.write_bytes(b"someone else's")
    result = run_cli(*args, "-o", out, "--merge", tmp_path / "all.vrt", "--resume")
    assert_one_line_error(result, last.name, "not written by geotile")
    assert [p.name for p in out.iterdir()] == [last.name]  # nothing predicted
    assert last.read_bytes() == b"someone else's" and not (tmp_path / "all.vrt").exists()


@pytest.mark.parametrize("extra", [(), ("--cog",)])
def test_resume_redoes_a_truncated_output_and_its_merge(run_cli, predict_setup, tmp_path,
                                                        extra):
    """An output cut short after the run (a copy or rsync killed, a full disk) still holds
    its completion tag in the header: resume checks the blocks too and redoes it."""
    model, images = predict_setup
    clean, out = tmp_path / "clean", tmp_path / "out"
    assert _predict(run_cli, model, images, clean, *extra).exit_code == 0
    assert _predict(run_cli, model, images, out, *extra).exit_code == 0
    cut = out / "img1.tif"
    with open(cut, "r+b") as f:
        f.truncate(os.path.getsize(cut) // 2)
    result = _predict(run_cli, model, images, out, *extra, "--resume", "--merge",
                      tmp_path / "all.tif")
    assert result.exit_code == 0, result.output
    assert _files(out) == _files(clean)
    with rasterio.open(tmp_path / "all.tif") as merged:
        assert merged.read().shape[0] == 1


def test_resume_and_overwrite_exclude_each_other(run_cli, predict_setup, tmp_path):
    from .conftest import assert_one_line_error

    model, images = predict_setup
    assert_one_line_error(_predict(run_cli, model, images, tmp_path / "o", "--resume",
                                   "--overwrite"), "--resume and --overwrite", code=2)


def test_remove_temporaries_only_geotile_names(tmp_path):
    final = tmp_path / "a.tif"
    ours = [".a.0123abcd.tmp.tif", ".a.0123abcd.tmp.tif.aux.xml", ".a.0123abcd.tmp.tif.gtiff",
            ".a.0123abcd.tmp.tif.model-grid.tif", ".a.0123abcd.tmp.tif.aux.xml.part"]
    ours += [".a.35a395da-0798a827.tmp.tif", ".a.35a395da-0798a827.tmp.tif.aux.xml"]
    theirs = ["a.tif", ".a.tmp.tif", ".ab.0123abcd.tmp.tif", ".a.0123abcd.tmp.png",
              "x.a.0123abcd.tmp.tif", ".a.0123ABCX.tmp.tif", ".a.35a395da-0798a8.tmp.tif",
              ".a.35a395da0798a827.tmp.tif"]
    for name in ours + theirs:
        (tmp_path / name).write_bytes(b"x")
    removed = output_files.remove_temporaries(final)
    assert sorted(p.name for p in removed) == sorted(ours)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(theirs)


def test_a_resume_over_many_outputs_lists_their_folder_once(tmp_path, monkeypatch):
    """--resume checked each output by listing its whole folder for a killed run's
    temporaries: 400 outputs, 160,000 entries read (0.6 s of a 3.7 s --mosaic --resume; a
    city's 10,000 outputs, minutes). The folder is listed again only when it changed, so a
    temporary left after the first look is still found, and each output's own removed."""
    import os

    for i in range(60):
        (tmp_path / f"t{i}.tif").write_bytes(b"x")
    left = [tmp_path / f".t{i}.0123abcd.tmp.tif" for i in (3, 40)]
    for path in left:
        path.write_bytes(b"x")
    listed = []

    def counting(read):
        def listing(path="."):
            listed.append(path)
            return read(path)
        return listing

    monkeypatch.setattr(os, "scandir", counting(os.scandir))
    monkeypatch.setattr(os, "listdir", counting(os.listdir))
    removed = [p for i in range(60)
               for p in output_files.remove_temporaries(tmp_path / f"t{i}.tif")]
    assert removed == left and not any(p.exists() for p in left)
    assert len(listed) <= 3  # once, and again after each removal changed the folder
    later = tmp_path / ".t7.89abcdef.tmp.tif"  # a killed run's, after the first look
    later.write_bytes(b"x")
    os.utime(tmp_path, ns=(0, tmp_path.stat().st_mtime_ns + 10**9))  # a coarse clock too
    assert output_files.remove_temporaries(tmp_path / "t7.tif") == [later]


@pytest.mark.parametrize("stem", ["a;b", "Zürich " + "z" * 200])
def test_remove_temporaries_finds_those_of_renamed_stems(tmp_path, stem):
    """The temporary file of x;y.tif is .x_y.<hex>.tmp.tif (GDAL cuts names at ';'), that
    of a long stem has it cut short: --resume once left both behind."""
    from geotile.output_files import temporary_sibling

    final = tmp_path / f"{stem}.tif"
    left = temporary_sibling(final)
    left.write_bytes(b"x")
    assert output_files.remove_temporaries(final) == [left]
    assert not left.exists()


def test_a_resume_leaves_the_temporaries_of_a_run_still_writing(tmp_path):
    """The same `predict --resume` started again while the first still wrote img0.tif took
    that run's temporary file for a killed run's and removed it: the first run failed at
    its end ('img0.tif: could not be written (No such file or directory)', exit 1; 2 of 3
    runs started together). A temporary file whose run is alive stays; a dead run's goes."""
    import subprocess
    import sys

    out = tmp_path / "out"
    out.mkdir()
    writer = subprocess.Popen(
        [sys.executable, "-c", "import sys\n"
         "from geotile.output_files import atomic_output\n"
         "with atomic_output(sys.argv[1], verify=lambda tmp, final: None) as tmp:\n"
         "    tmp.write_bytes(b'written by the first run')\n"
         "    print('writing', flush=True)\n"
         "    sys.stdin.read()\n", os.fspath(out / "img0.tif")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline() == "writing\n"
        (live,) = [p for p in out.iterdir() if p.name.endswith(".tmp.tif")]
        assert output_files.remove_temporaries(out / "img0.tif") == []  # the second run's look
        assert live.read_bytes() == b"written by the first run"
    finally:
        writer.communicate("", timeout=60)
    assert writer.returncode == 0
    assert (out / "img0.tif").read_bytes() == b"written by the first run"
    assert sorted(p.name for p in out.iterdir()) == ["img0.tif"]
    dead = [out / ".img0.0123abcd.tmp.tif", out / ".img0.0123abcd.tmp.tif.lock"]
    for path in dead:  # a killed run's: its lock is held by no one
        path.write_bytes(b"x")
    assert sorted(output_files.remove_temporaries(out / "img0.tif")) == dead


def test_resume_removes_what_a_killed_workers_run_left(run_cli, predict_setup, tmp_path):
    """A --workers run killed with SIGKILL leaves .<stem>.<run tag>-<8 hex>.tmp.tif files
    (its own clean-up never ran): --resume removes them as it does a single process's."""
    model, images = predict_setup
    clean, out = tmp_path / "clean", tmp_path / "out"
    assert _predict(run_cli, model, images, clean).exit_code == 0
    out.mkdir()
    (out / "img0.tif").write_bytes((clean / "img0.tif").read_bytes())
    left = [".img1.35a395da-0798a827.tmp.tif", ".img2.35a395da-4de3783c.tmp.tif",
            ".img2.35a395da-4de3783c.tmp.tif.aux.xml"]
    for name in left:
        (out / name).write_bytes(b"II*\x00" + b"\x00" * 4096)
    result = _predict(run_cli, model, images, out, "--resume")
    assert result.exit_code == 0, result.output
    assert result.output.count("skipped (--resume)") == 1
    assert _files(out) == _files(clean)


@pytest.fixture()
def masks_setup(tmp_path, make_raster):
    import geopandas as gpd
    import shapely

    from .conftest import UTM_CRS, UTM_ORIGIN

    x0, y0 = UTM_ORIGIN
    images = [make_raster(f"img{i}.tif", np.zeros((3, 30, 30), np.uint8)) for i in range(3)]
    labels = tmp_path / "labels.geojson"
    gpd.GeoDataFrame(geometry=[shapely.box(x0 + 1, y0 - 6, x0 + 6, y0 - 1)],
                     crs=UTM_CRS).to_file(labels)
    return labels, images


def test_killed_make_masks_resumes_byte_identical(run_cli, masks_setup, tmp_path, monkeypatch):
    import json

    import geotile.masks as masks_module

    labels, images = masks_setup
    clean = tmp_path / "clean"
    args = ("make-masks", labels, *images, "--channels", "footprint,boundary")
    assert run_cli(*args, "-o", clean).exit_code == 0
    expected = _files(clean)

    out = tmp_path / "out"
    real, calls = masks_module._burn_bands, []

    def dies_on_second(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise SystemExit(137)
        return real(*a, **k)

    monkeypatch.setattr(masks_module, "_burn_bands", dies_on_second)
    assert run_cli(*args, "-o", out).exit_code != 0
    monkeypatch.setattr(masks_module, "_burn_bands", real)
    assert sorted(p.name for p in out.iterdir()) == ["img0.tif", "img0.tif.aux.xml"]
    (out / ".img1.89abcdef.tmp.tif").write_bytes(b"partial")
    first = os.stat(out / "img0.tif")
    result = run_cli(*args, "-o", out, "--resume", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [m.get("skipped", False) for m in summary["masks"]] == [True, False, False]
    assert summary["classes"] == summary["masks"][1]["classes"] == ["background", "building"]
    assert os.stat(out / "img0.tif").st_mtime_ns == first.st_mtime_ns
    assert _files(out) == expected
    # other options: redone
    result = run_cli("make-masks", labels, *images, "-o", out, "--resume")
    assert result.exit_code == 0 and "skipped" not in result.output
    with rasterio.open(out / "img2.tif") as src:
        assert src.count == 1


def test_make_masks_from_a_label_raster_resumes(run_cli, make_raster, tmp_path):
    images = [make_raster(f"img{i}.tif", np.zeros((3, 20, 20), np.uint8)) for i in range(2)]
    label = make_raster("label.tif", np.eye(20, dtype=np.uint8)[np.newaxis] * 2)
    out = tmp_path / "out"
    assert run_cli("make-masks", label, *images, "-o", out).exit_code == 0
    expected = _files(out)
    (out / "img1.tif").unlink()  # as a kill before its move into place left it
    (out / "img1.tif.aux.xml").unlink()
    result = run_cli("make-masks", label, *images, "-o", out, "--resume")
    assert result.exit_code == 0, result.output
    assert result.output.count("skipped (--resume)") == 1
    assert _files(out) == expected


def test_make_masks_resume_redoes_a_mask_deleted_without_its_category_sidecar(
        run_cli, make_raster, tmp_path):
    """rm masks/img1.tif (its img1.tif.aux.xml, the category names make-masks wrote, left):
    --resume refused it as "a GDAL sidecar is in the way ... pass --overwrite", which
    --resume refuses. Now the mask is redone with its names; another tool's sidecar stays
    refused."""
    images = [make_raster(f"img{i}.tif", np.zeros((3, 20, 20), np.uint8)) for i in range(2)]
    label = make_raster("label.tif", np.eye(20, dtype=np.uint8)[np.newaxis] * 2)
    out = tmp_path / "out"
    assert run_cli("make-masks", label, *images, "-o", out).exit_code == 0
    expected = _files(out)
    (out / "img1.tif").unlink()
    result = run_cli("make-masks", label, *images, "-o", out, "--resume")
    assert result.exit_code == 0, result.output
    assert result.output.count("skipped (--resume)") == 1
    assert _files(out) == expected
    (out / "img1.tif").unlink()
    (out / "img1.tif.aux.xml").write_text(
        '<PAMDataset><Metadata><MDI key="STATISTICS_MEAN">3</MDI></Metadata></PAMDataset>')
    result = run_cli("make-masks", label, *images, "-o", out, "--resume")
    assert result.exit_code != 0 and "sidecar is in the way" in result.output


def _tree(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


_KILL_AFTER_TWO = """
import os, signal, sys
import geotile.tiling as tiling
real, calls = tiling._tile_one, []
def dies(*a, **k):
    calls.append(1)
    if len(calls) == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*a, **k)
tiling._tile_one = dies
from geotile.cli.main import cli
cli(sys.argv[1:])
"""


def test_tile_killed_by_sigkill_resumes_byte_identical(make_raster, run_cli, tmp_path,
                                                       monkeypatch):
    import subprocess
    import sys

    import geotile.tiling as tiling

    rng = np.random.default_rng(1)
    images = [make_raster(f"img{i}.tif", rng.integers(0, 255, (3, 64, 64), np.uint8))
              for i in range(3)]
    masks = [make_raster(f"img{i}_mask.tif", (rng.random((1, 64, 64)) > 0.7).astype(np.uint8))
             for i in range(3)]
    args = ["tile", *map(str, images), *[f"--masks={m}" for m in masks], "--size", "16",
            "--overlap", "4", "--split", "0.5,0.25,0.25", "--skip-empty"]
    clean = tmp_path / "clean"
    assert run_cli(*args, "-o", clean).exit_code == 0
    expected = _tree(clean)

    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    killed = subprocess.run([sys.executable, "-c", _KILL_AFTER_TWO, *args, "-o", str(out)],
                            env=env, capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    # nothing published; the killed run's staging folder is removed by --resume
    staging = [p.name for p in out.iterdir() if p.name != ".geotile-tile-parts.tmp"]
    assert len(staging) == 1 and staging[0].startswith(".geotile-tile-"), staging
    parts = out / ".geotile-tile-parts.tmp"
    finished = parts / "img0" / "images" / "img0_0_0.tif"
    inode = os.stat(finished).st_ino

    cut = []
    real = tiling._tile_one
    monkeypatch.setattr(tiling, "_tile_one", lambda image, *a: (cut.append(image.name),
                                                                real(image, *a)))
    result = run_cli(*args, "-o", out, "--resume")
    assert result.exit_code == 0, result.output
    assert cut == ["img2.tif"]  # the two finished images were not cut again
    assert os.stat(out / "images" / "img0_0_0.tif").st_ino == inode
    assert not parts.exists()
    assert not (out / staging[0]).exists()
    marker = _tree(out).pop(".geotile-tile.json")
    assert marker == expected[".geotile-tile.json"]
    assert _tree(out) == expected

    # complete: a second --resume leaves it as it is, and says what it holds
    before = os.stat(out / "index.csv").st_mtime_ns
    again = run_cli(*args, "-o", out, "--resume", "--json")
    assert again.exit_code == 0, again.output
    assert cut == ["img2.tif"]
    assert os.stat(out / "index.csv").st_mtime_ns == before
    import json

    assert json.loads(again.stdout)["written"] == expected["index.csv"].count(b"\n") - 1


def test_tile_resume_refuses_a_complete_output_of_other_options_or_inputs(make_raster,
                                                                         run_cli, tmp_path):
    """--resume continues a killed run; a finished output made with another --size or from
    other images is no such run: it is refused, and stays, patch for patch."""
    from .conftest import assert_one_line_error

    image = make_raster("img.tif", np.ones((1, 40, 40), np.uint8))
    other_image = make_raster("other.tif", np.ones((1, 40, 40), np.uint8))
    out = tmp_path / "out"
    assert run_cli("tile", image, "--size", "10", "-o", out).exit_code == 0
    before = _tree(out)
    assert len((out / "index.csv").read_text().splitlines()) == 1 + 16
    for args in (("--size", "20"), ("--size", "10", "--seed", "3")):
        assert_one_line_error(run_cli("tile", image, *args, "-o", out, "--resume"),
                              f"{out}: holds", "other options or inputs", "--overwrite")
        assert _tree(out) == before
    assert_one_line_error(run_cli("tile", other_image, "--size", "10", "-o", out, "--resume"),
                          "other options or inputs")
    assert _tree(out) == before
    assert_one_line_error(run_cli("tile", image, "-o", out, "--resume", "--overwrite"),
                          "--resume and --overwrite", code=2)
    # the same options and inputs: left as it is
    assert run_cli("tile", image, "--size", "10", "-o", out, "--resume").exit_code == 0
    assert _tree(out) == before
    # a folder holding files geotile did not write is still refused
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert_one_line_error(run_cli("tile", image, "-o", other, "--resume"), "did not write")


def test_tile_resume_over_an_output_of_an_earlier_geotile_says_so(make_raster, run_cli,
                                                                  tmp_path):
    """An output finished by a geotile that did not record its options (before format 6)
    was refused as one 'with other options or inputs', also with the same ones: the
    message says what it is, and --overwrite cuts it again."""
    from geotile.output_folder import MARKER

    from .conftest import assert_one_line_error

    image = make_raster("img.tif", np.ones((1, 40, 40), np.uint8))
    out = tmp_path / "out"
    assert run_cli("tile", image, "--size", "10", "-o", out).exit_code == 0
    marker = json.loads((out / MARKER).read_text())
    del marker["run"]
    marker["complete"] = "0" * 32  # another version's digest
    (out / MARKER).write_text(json.dumps(marker))
    before = _tree(out)
    result = run_cli("tile", image, "--size", "10", "-o", out, "--resume")
    assert_one_line_error(result, f"{out}:", "earlier version of geotile", "--overwrite")
    assert "other options" not in result.stderr and _tree(out) == before
    assert run_cli("tile", image, "--size", "10", "-o", out, "--overwrite").exit_code == 0


def test_tile_killed_overwrite_run_resumes_over_the_earlier_output(make_raster, run_cli,
                                                                    tmp_path):
    """A killed --overwrite run with other options is continued by --resume with those
    options: the earlier output is replaced as the killed run would have replaced it."""
    import subprocess
    import sys

    rng = np.random.default_rng(2)
    images = [make_raster(f"img{i}.tif", rng.integers(0, 255, (1, 40, 40), np.uint8))
              for i in range(3)]
    out, clean = tmp_path / "out", tmp_path / "clean"
    assert run_cli("tile", *images, "--size", "20", "-o", out).exit_code == 0
    args = ["tile", *map(str, images), "--size", "10"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    killed = subprocess.run([sys.executable, "-c", _KILL_AFTER_TWO, *args, "-o", str(out),
                             "--overwrite"], env=env, capture_output=True, text=True,
                            timeout=120)
    assert killed.returncode == -9, killed.stderr
    assert len((out / "index.csv").read_text().splitlines()) == 1 + 3 * 4  # still the old
    result = run_cli(*args, "-o", out, "--resume")
    assert result.exit_code == 0, result.output
    assert run_cli(*args, "-o", clean).exit_code == 0
    assert _tree(out) == _tree(clean)


def test_tile_overwrite_removes_the_staging_folder_of_a_killed_run(make_raster, run_cli,
                                                                   tmp_path):
    """A SIGKILLed --overwrite run leaves its staging folder of patches; the next run that
    writes there removes it (geotile's staging names only, never a folder of the user's)."""
    import subprocess
    import sys

    images = [make_raster(f"img{i}.tif", np.full((1, 40, 40), i, np.uint8)) for i in range(3)]
    out = tmp_path / "out"
    assert run_cli("tile", images[0], "--size", "20", "-o", out).exit_code == 0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    killed = subprocess.run([sys.executable, "-c", _KILL_AFTER_TWO, "tile", *map(str, images),
                             "--size", "10", "-o", str(out), "--overwrite"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    stale = [p for p in out.iterdir() if p.name.startswith(".geotile-tile-")
             and p.name != ".geotile-tile-parts.tmp" and p.is_dir()]
    assert len(stale) == 1 and any(stale[0].rglob("*.tif"))
    mine = out / ".geotile-tile-mine.tmp"
    mine.mkdir()
    (mine / "keep.txt").write_text("mine")
    assert run_cli("tile", images[0], "--size", "20", "-o", out, "--overwrite").exit_code == 0
    assert not stale[0].exists()
    assert (mine / "keep.txt").read_text() == "mine"
    assert len((out / "index.csv").read_text().splitlines()) == 1 + 4


def test_tile_resume_with_a_palette_keeps_what_is_complete(make_raster, run_cli, tmp_path):
    """--palette makes class masks in a temporary folder on each run: the label rasters and
    the palette, not those masks, tell whether the patches are complete."""
    image = make_raster("img.tif", np.ones((3, 40, 40), np.uint8))
    labels = make_raster("labels.tif", np.zeros((3, 40, 40), np.uint8))
    with rasterio.open(labels, "r+") as dst:  # buildings (0, 0, 255) on the left half
        dst.write(np.pad(np.full((40, 20), 255, np.uint8), ((0, 0), (0, 20))), 3)
    out = tmp_path / "out"
    args = ("tile", image, "--masks", labels, "--palette", "potsdam", "--size", "20", "-o", out,
            "--resume")
    assert run_cli(*args).exit_code == 0
    times = {p: p.stat().st_mtime_ns for p in out.rglob("*.tif")}
    assert len(times) == 8
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.tif")} == times
    with rasterio.open(labels, "r+") as dst:  # other labels: cut again
        dst.write(np.zeros((40, 40), np.uint8), 3)
    assert run_cli(*args).exit_code == 0
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.tif")} != times


def test_tile_resume_with_a_palette_from_another_folder(make_raster, run_cli, tmp_path,
                                                       monkeypatch):
    """--palette potsdam entered the run's key as a path under the working folder: after
    the labels changed, --resume from another folder was refused as a run of other options
    or inputs instead of cutting the changed labels again."""
    image = make_raster("img.tif", np.ones((3, 40, 40), np.uint8))
    labels = make_raster("labels.tif", np.zeros((3, 40, 40), np.uint8))
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    options = ("--palette", "potsdam", "--size", "20", "--resume")
    result = run_cli("tile", image.name, "--masks", labels.name, *options, "-o", "out")
    assert result.exit_code == 0, result.output
    with rasterio.open(labels, "r+") as dst:  # buildings (0, 0, 255) on the left half
        dst.write(np.pad(np.full((40, 20), 255, np.uint8), ((0, 0), (0, 20))), 3)
    monkeypatch.chdir(tmp_path / "sub")
    result = run_cli("tile", f"../{image.name}", "--masks", f"../{labels.name}", *options,
                     "-o", "../out")
    assert result.exit_code == 0, result.output
    rows = (tmp_path / "out" / "index.csv").read_text().splitlines()
    assert sum(float(r.split(",")[-3]) > 0 for r in rows[1:]) == 2  # the left patches


def test_tile_resume_redoes_patches_of_an_older_patch_format(make_raster, run_cli, tmp_path,
                                                            monkeypatch):
    """Patches written before what a patch holds changed (mask bands, padding) are redone by
    --resume, not reused; the same format is reused."""
    import time

    from geotile import tiling

    image = make_raster("img.tif", np.ones((1, 40, 40), np.uint8))
    out = tmp_path / "out"
    assert run_cli("tile", image, "--size", "20", "-o", out).exit_code == 0
    patch = next((out / "images").iterdir())

    def written():
        return {p.name: p.stat().st_mtime_ns for p in (out / "images").iterdir()}

    before = written()
    time.sleep(0.01)
    assert run_cli("tile", image, "--size", "20", "-o", out, "--resume").exit_code == 0
    assert written() == before
    monkeypatch.setattr(tiling, "PATCH_FORMAT", tiling.PATCH_FORMAT + 1)
    assert run_cli("tile", image, "--size", "20", "-o", out, "--resume").exit_code == 0
    after = written()
    assert after.keys() == before.keys() and after[patch.name] != before[patch.name]


@pytest.mark.parametrize("extra", [("--cog",), ("--output-type", "class"),
                                   ("--dtype", "uint8", "--cog", "--co", "COMPRESS=ZSTD")])
def test_predict_resume_cog_and_class_outputs(run_cli, predict_setup, tmp_path, extra):
    model, images = predict_setup
    clean, out = tmp_path / "clean", tmp_path / "out"
    assert _predict(run_cli, model, images, clean, *extra).exit_code == 0
    expected = _files(clean)
    assert _predict(run_cli, model, images[:1], out / "img0.tif", *extra).exit_code == 0
    if "class" in extra:  # killed between the raster and its sidecar: redone
        (out / "img0.tif.aux.xml").unlink()
    result = _predict(run_cli, model, images, out, *extra, "--resume")
    assert result.exit_code == 0, result.output
    assert result.output.count("skipped (--resume)") == (0 if "class" in extra else 1)
    assert _files(out) == expected


_KILL_PREDICT = """
import os, signal, sys
import geotile.predict as predict
real, calls = predict.write_bands, []
def dies(*a, **k):
    calls.append(1)
    if len(calls) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*a, **k)
predict.write_bands = dies
from geotile.cli.main import cli
cli(sys.argv[1:])
"""


def _clean_and_killed_predict(run_cli, model, images, tmp_path):
    """An uninterrupted predict into clean/, and one into out/ killed by SIGKILL after its
    first output (_KILL_PREDICT): (clean, out)."""
    import subprocess
    import sys

    clean, out = tmp_path / "clean", tmp_path / "out"
    assert _predict(run_cli, model, images, clean).exit_code == 0
    args = ["predict", str(model), *map(str, images), "--tile-size", "32", "-o", str(out)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    killed = subprocess.run([sys.executable, "-c", _KILL_PREDICT, *args], env=env,
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    return clean, out


def test_predict_killed_by_sigkill_resumes(run_cli, predict_setup, tmp_path):
    model, images = predict_setup
    clean, out = _clean_and_killed_predict(run_cli, model, images, tmp_path)
    left = sorted(p.name for p in out.iterdir())
    assert left[-1] == "img0.tif" and any(".tmp.tif" in name for name in left), left
    result = _predict(run_cli, model, images, out, "--resume")
    assert result.exit_code == 0, result.output
    assert result.output.count("skipped (--resume)") == 1
    assert _files(out) == _files(clean)  # the temporary file is gone too


def test_predict_overwrite_after_a_sigkill_removes_the_killed_runs_temporaries(
        run_cli, predict_setup, tmp_path):
    """A predict killed by SIGKILL (the OOM killer) leaves .img1.<hex>.tmp.tif (as large as
    the output) and its .lock: --resume removed them, --overwrite left them for good. It
    removes them too (geotile's names of that output only)."""
    model, images = predict_setup
    clean, out = _clean_and_killed_predict(run_cli, model, images, tmp_path)
    assert any(".tmp.tif" in p.name for p in out.iterdir())
    (out / ".img1.notes.tmp.tif").write_text("mine")  # not a name geotile gives
    result = _predict(run_cli, model, images, out, "--overwrite")
    assert result.exit_code == 0, result.output
    assert (out / ".img1.notes.tmp.tif").read_text() == "mine"
    (out / ".img1.notes.tmp.tif").unlink()
    assert _files(out) == _files(clean)


@pytest.mark.parametrize("resume", [False, True])
def test_an_interrupted_tile_says_what_it_keeps_for_resume(make_raster, run_cli, tmp_path,
                                                           monkeypatch, resume):
    """Ctrl-C of `tile --resume` said 'nothing was written there (the temporary files were
    removed)' while the finished images' patches (21 MB, 4665 files) were kept for --resume:
    it says they are kept, and where. Without --resume they are removed, as it says."""
    import geotile.tiling as tiling

    images = [make_raster(f"img{i}.tif", np.full((3, 32, 32), i + 1, np.uint8))
              for i in range(3)]
    real = tiling._tile_one

    def cut(image, *args):
        if Path(image).name == "img2.tif":
            raise KeyboardInterrupt
        real(image, *args)

    monkeypatch.setattr(tiling, "_tile_one", cut)
    out = tmp_path / "out"
    result = run_cli("tile", *images, "--size", "16", "-o", out,
                     *(["--resume"] if resume else []))
    parts = out / ".geotile-tile-parts.tmp"
    if resume:
        assert_one_line_error(result, f"{out}: interrupted", "2 of 3 images",
                              str(parts), "--resume", code=130)
        assert "removed" not in result.stderr
        assert [(parts / f"img{i}" / "complete.json").is_file() for i in range(3)] == [
            True, True, False]
        monkeypatch.setattr(tiling, "_tile_one", real)
        again = run_cli("tile", *images, "--size", "16", "-o", out, "--resume", "--json")
        assert again.exit_code == 0, again.output
        assert json.loads(again.stdout)["written"] == 12
    else:
        assert_one_line_error(result, f"{out}: interrupted; nothing was written there",
                              "removed", code=130)
        assert not out.exists()


@pytest.mark.parametrize("first", ["make-masks", "predict"])
def test_resume_never_replaces_another_commands_outputs(run_cli, request, tmp_path, first):
    """predict --resume into make-masks' folder replaced the 3 training masks by probability
    rasters (and dropped their category sidecars), exit 0; make-masks --resume likewise
    replaced predictions: any GEOTILE_* tag counted as "this run's"."""
    model, _ = request.getfixturevalue("predict_setup")
    labels, images = request.getfixturevalue("masks_setup")
    out, mosaic = tmp_path / "out", tmp_path / "all.tif"
    runs = {"make-masks": ("make-masks", labels, *images),
            "predict": ("predict", model, *images, "--tile-size", "32")}
    result = run_cli(*runs[first], "-o", out, "--merge", mosaic)
    assert result.exit_code == 0, result.output
    before = _files(out)
    mosaic_bytes = mosaic.read_bytes()
    second = next(c for c in runs if c != first)
    result = run_cli(*runs[second], "-o", out, "--resume")
    assert_one_line_error(result, "img0.tif", f"written by geotile {first}, not {second}",
                          "--overwrite")
    assert _files(out) == before
    # nor its mosaic, into a folder of its own
    result = run_cli(*runs[second], "-o", tmp_path / "other", "--merge", mosaic, "--resume")
    assert_one_line_error(result, "all.tif", "--overwrite")
    assert mosaic.read_bytes() == mosaic_bytes
    assert not (tmp_path / "other").exists() or not list((tmp_path / "other").iterdir())
    # the same command resumes over them
    result = run_cli(*runs[first], "-o", out, "--merge", mosaic, "--resume")
    assert result.exit_code == 0, result.output
    assert _files(out) == before


def test_resume_never_replaces_a_raster_the_user_tagged(run_cli, predict_setup, make_raster,
                                                        tmp_path):
    """A user's probability raster tagged GEOTILE_OUTPUT=probability (as geotile's own
    messages suggest, for vectorize) is not a predict output."""
    model, images = predict_setup
    out = tmp_path / "out"
    out.mkdir()
    mine = make_raster("out/img0.tif", np.full((1, 8, 8), 0.7, np.float32))
    with rasterio.open(mine, "r+") as dst:
        dst.update_tags(GEOTILE_OUTPUT="probability", GEOTILE_CLASS_NAMES='["building"]')
    before = mine.read_bytes()
    result = _predict(run_cli, model, images, out, "--resume")
    assert_one_line_error(result, "img0.tif", "not written by geotile predict")
    assert mine.read_bytes() == before and [p.name for p in out.iterdir()] == ["img0.tif"]


def test_tile_resume_failing_on_a_write_keeps_only_finished_images_and_says_so(make_raster,
                                                                                 tmp_path):
    """`tile a.tif b.tif --resume` under a 100 kB file-size limit (b's patches do not fit)
    said 'r: File too large; nothing was written in r.' while r/.geotile-tile-parts.tmp held
    a's finished patches and four 102400-byte cut patches of b. Now b's cut patches go and
    the line says that a's are kept for --resume; the next run goes on from them."""
    import resource
    import subprocess
    import sys

    from geotile.tile_resume import PARTS

    make_raster("a.tif", np.full((3, 512, 512), 9, np.uint8))
    noise = np.random.default_rng(1).integers(0, 255, (3, 512, 512), dtype=np.uint8)
    make_raster("b.tif", noise)
    out = tmp_path / "r"
    args = [sys.executable, "-m", "geotile", "tile", tmp_path / "a.tif", tmp_path / "b.tif",
            "-o", out, "--size", "256", "--resume", "--co", "COMPRESS=DEFLATE"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}

    def limit_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

    done = subprocess.run(list(map(str, args)), capture_output=True, text=True, env=env,
                          timeout=120, preexec_fn=limit_files)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {out}: File too large"), lines
    assert f"The 1 of 2 images finished are kept in {out / PARTS}" in lines[0], lines[0]
    assert "--resume" in lines[0]
    left = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert left == [f"{PARTS}/.geotile-run.json", f"{PARTS}/a/complete.json",
                    *(f"{PARTS}/a/images/a_{r}_{c}.tif" for r in (0, 1) for c in (0, 1))]
    done = subprocess.run(list(map(str, args)), capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(list((out / "images").iterdir())) == 8
    assert not (out / PARTS).exists()


def test_resume_redoes_a_raw_output_tagged_probability_by_an_earlier_geotile(
        run_cli, predict_setup, tmp_path, monkeypatch):
    """--activation none outputs were tagged GEOTILE_OUTPUT=probability, GEOTILE_THRESHOLD=0.5
    before they were tagged raw: --resume skipped such a file as complete, so vectorize went
    on thresholding its logits at 0.5. It is redone, and tagged raw."""
    from geotile.model import OnnxModel

    model, images = predict_setup
    out = tmp_path / "o.tif"
    with monkeypatch.context() as patch:  # the earlier geotile: no raw tag
        patch.setattr(OnnxModel, "writes_raw", property(lambda self: False))
        assert _predict(run_cli, model, images[:1], out, "--activation", "none",
                        "--resume").exit_code == 0
    with rasterio.open(out) as src:
        assert src.tags()["GEOTILE_OUTPUT"] == "probability"
    result = _predict(run_cli, model, images[:1], out, "--activation", "none", "--resume")
    assert result.exit_code == 0, result.output
    assert "skipped" not in result.output
    with rasterio.open(out) as src:
        tags = src.tags()
    assert tags["GEOTILE_OUTPUT"] == "raw" and "GEOTILE_THRESHOLD" not in tags
    again = _predict(run_cli, model, images[:1], out, "--activation", "none", "--resume")
    assert "skipped" in again.output


def test_tile_resume_with_a_palette_checks_each_images_own_labels(make_raster, run_cli,
                                                                  tmp_path, monkeypatch):
    """Images given out of name order (b.tif a.tif) with --palette: each image's patches were
    marked complete with the other image's label raster, so after a killed run and a.tif's
    labels changing, --resume kept a.tif's stale mask patches. Each image is checked against
    its own labels."""
    import geotile.tiling as tiling

    images = [make_raster(f"{n}.tif", np.ones((3, 20, 20), np.uint8)) for n in "ba"]
    (tmp_path / "labels").mkdir()
    labels = [make_raster(f"labels/{n}.tif", np.full((3, 20, 20), 255, np.uint8))
              for n in "ba"]  # impervious surfaces, 1
    real = tiling._tile_one

    def cut(image, *args):
        if Path(image).name == "b.tif":
            raise KeyboardInterrupt
        real(image, *args)

    monkeypatch.setattr(tiling, "_tile_one", cut)
    out = tmp_path / "out"
    args = ("tile", *images, "--masks", tmp_path / "labels", "--palette", "potsdam",
            "--size", "20", "-o", out, "--resume")
    assert run_cli(*args).exit_code == 130  # a.tif finished, b.tif not
    with rasterio.open(labels[1], "r+") as dst:  # a.tif's labels: buildings (0, 0, 255), 2
        dst.write(np.zeros((2, 20, 20), np.uint8), [1, 2])
    monkeypatch.setattr(tiling, "_tile_one", real)
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    with rasterio.open(out / "masks" / "a_0_0.tif") as src:
        assert (src.read(1) == 2).all()  # the building, not the labels before


@pytest.mark.parametrize("existing", [False, True])
def test_tile_resume_failing_before_any_image_is_finished_leaves_nothing(make_raster, run_cli,
                                                                         tmp_path, existing):
    """`tile missing.tif --resume -o t` said 'missing.tif: no such file' but left
    t/.geotile-tile-parts.tmp/.geotile-run.json behind (and t/ itself when new): a run
    that finished no image has nothing to resume from, and leaves nothing."""
    make_raster("z.tif", np.full((3, 32, 32), 9, np.uint8))
    out = tmp_path / "t"
    if existing:
        out.mkdir()
    result = run_cli("tile", tmp_path / "missing.tif", tmp_path / "z.tif", "--size", "16",
                     "--resume", "-o", out)
    assert_one_line_error(result, "missing.tif", "no such file")
    assert "kept" not in result.stderr
    if existing:
        assert list(out.iterdir()) == []
    else:
        assert not out.exists()


@pytest.mark.parametrize("bad", ["zz_missing.tif", "zz_garbage.tif"])
def test_tile_refuses_an_unreadable_image_before_cutting_the_others(make_raster, run_cli,
                                                                     tmp_path, bad):
    """`tile a.tif zz_missing.tif` cut a.tif whole (a city's images, hours) before it said
    'zz_missing.tif: no such file', as predict and make-masks never do: every image is
    opened before any is cut, so a --resume run keeps no image to go on from."""
    make_raster("a.tif", np.full((3, 32, 32), 9, np.uint8))
    if bad == "zz_garbage.tif":
        (tmp_path / bad).write_bytes(b"not a raster")
    out = tmp_path / "t"
    result = run_cli("tile", tmp_path / "a.tif", tmp_path / bad, "--size", "16", "--resume",
                     "-o", out)
    assert_one_line_error(result, bad)
    assert "kept" not in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("command", ["predict", "make-masks"])
def test_a_resume_whose_output_another_resume_finished_meanwhile_skips_it(
        run_cli, request, tmp_path, monkeypatch, command):
    """The same --resume command started twice (a cluster job retried while the first still
    ran): the run that finished second exited 1 with 'img0.tif: appeared while geotile was
    writing it ... Pass --overwrite' although the file in place is the complete output of
    these very options. That file is this run's output (the same completion tag): it stays,
    this run's copy goes, and the run ends as done."""
    import shutil

    import geotile.output_files as output_files

    out = tmp_path / "out"
    first, images = request.getfixturevalue(f"{command.replace('-', '_')}_setup"
                                            .replace("make_", ""))
    args = [first, *images, "-o", out, *(["--tile-size", "32"] if command == "predict"
                                         else [])]
    assert run_cli(command, *args, "--resume").exit_code == 0
    other = tmp_path / "other"  # the outputs the other run wrote
    shutil.copytree(out, other)
    shutil.rmtree(out)
    real = output_files.publish

    def other_run_finished_first(tmp, final, overwrite):
        for part in other.glob(f"{final.name}*"):
            shutil.copy(part, final.parent / part.name)
        return real(tmp, final, overwrite)

    monkeypatch.setattr(output_files, "publish", other_run_finished_first)
    result = run_cli(command, *args, "--resume")
    assert result.exit_code == 0, result.output
    assert _files(out) == _files(other)
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]


def test_make_masks_resume_redoes_a_mask_whose_shapefile_attributes_or_crs_changed(
        run_cli, make_raster, tmp_path):
    """A Shapefile's classes live in its .dbf and its CRS in its .prj; editing a class in
    QGIS rewrites the .dbf alone, but --resume looked at the .shp only: the mask of class 1
    kept as 'complete from an earlier run' after the class became 2, exit 0 -> its parts
    are inputs: made again, with class 2 (and again after a .prj change)."""
    import geopandas as gpd
    import shapely
    from rasterio.transform import from_origin

    from .conftest import UTM_CRS, UTM_ORIGIN

    x0, y0 = UTM_ORIGIN
    image = make_raster("img.tif", np.full((3, 20, 20), 9, np.uint8),
                        transform=from_origin(x0, y0, 0.5, 0.5))
    labels, out = tmp_path / "roofs.shp", tmp_path / "mask.tif"
    box = shapely.box(x0 + 1, y0 - 6, x0 + 6, y0 - 1)
    gpd.GeoDataFrame({"cls": [1]}, geometry=[box], crs=UTM_CRS).to_file(labels)
    args = ("make-masks", labels, image, "-o", out, "--class-field", "cls", "--resume")
    assert run_cli(*args).exit_code == 0
    gpd.GeoDataFrame({"cls": [2]}, geometry=[box], crs=UTM_CRS).to_file(tmp_path / "new.shp")
    (tmp_path / "roofs.dbf").write_bytes((tmp_path / "new.dbf").read_bytes())
    result = run_cli(*args)
    assert result.exit_code == 0 and "skipped" not in result.stdout, result.output
    with rasterio.open(out) as src:
        assert set(np.unique(src.read(1))) == {0, 2}
    assert "skipped" in run_cli(*args).stdout
    (tmp_path / "roofs.prj").write_text((tmp_path / "roofs.prj").read_text() + "\n")
    assert "skipped" not in run_cli(*args).stdout


@pytest.mark.parametrize("command", ["predict", "make-masks", "tile"])
def test_resume_redoes_the_outputs_another_geotile_wrote(run_cli, request, tmp_path,
                                                         monkeypatch, command):
    """__version__ stays "0.1.0" while what outputs hold changes: outputs that another
    geotile's code wrote were kept as complete, mixing two rules in one dataset. They are
    redone, said in one line; those of the same code are skipped as before."""
    import time

    from geotile import code_fingerprint

    out = tmp_path / "out"
    if command == "predict":
        model, images = request.getfixturevalue("predict_setup")
        args = ("predict", model, *images, "--tile-size", "32", "-o", out)
    elif command == "make-masks":
        labels, images = request.getfixturevalue("masks_setup")
        args = ("make-masks", labels, *images, "-o", out)
    else:
        images = _images(request.getfixturevalue("make_raster"))
        args = ("tile", *images, "--size", "20", "-o", out)
    folder = out / "images" if command == "tile" else out

    def written():
        return {p.name: p.stat().st_mtime_ns for p in folder.iterdir() if p.suffix == ".tif"}

    assert run_cli(*args).exit_code == 0
    first = written()
    time.sleep(0.01)
    same = run_cli(*args, "--resume")
    assert same.exit_code == 0 and written() == first
    assert "another geotile" not in same.output
    monkeypatch.setattr(code_fingerprint, "_own", lambda: "f" * 64)  # another geotile's code
    other = run_cli(*args, "--resume")
    assert other.exit_code == 0, other.output
    assert "skipped" not in other.stdout
    redone = written()
    assert redone.keys() == first.keys() and all(redone[k] != first[k] for k in first)
    assert other.stderr.count("another geotile") == 1, other.stderr
    time.sleep(0.01)
    again = run_cli(*args, "--resume")
    assert again.exit_code == 0 and written() == redone
    assert "another geotile" not in again.output


_KILL_AFTER_PUBLISH = """
import os, signal, sys
import geotile.tiling as tiling
def dies(folder):
    os.kill(os.getpid(), signal.SIGKILL)  # the output is in place, its parts not yet removed
tiling.empty_folder = dies
from geotile.cli.main import cli
cli(sys.argv[1:])
"""


def test_tile_resume_of_a_run_killed_once_published_removes_its_parts(make_raster, run_cli,
                                                                      tmp_path):
    """`tile --resume` killed after its output was in place, before its parts folder (a hard
    link of every patch: 585 files for 288 patches) was removed: the next --resume found the
    output complete and returned, leaving the parts and the empty staging folder for good.
    It now removes what that killed run left; the output stays as it is."""
    import subprocess
    import sys

    images = [make_raster(f"img{i}.tif", np.full((1, 40, 40), i, np.uint8)) for i in range(3)]
    clean, out = tmp_path / "clean", tmp_path / "out"
    args = (*map(str, images), "--size", "20", "--resume")
    assert run_cli("tile", *args, "-o", clean).exit_code == 0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    killed = subprocess.run([sys.executable, "-c", _KILL_AFTER_PUBLISH, "tile", *args, "-o",
                             str(out)], env=env, capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    parts = out / ".geotile-tile-parts.tmp"
    assert any(parts.rglob("*.tif"))
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.tif") if parts not in p.parents}
    result = run_cli("tile", *args, "-o", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [".geotile-tile.json", "images", "index.csv"]
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.tif")} == before
    assert _tree(out) == _tree(clean)


def test_tile_resume_interrupted_once_published_removes_its_parts(make_raster, run_cli,
                                                                  tmp_path, monkeypatch):
    """Ctrl-C of `tile --resume` while its output moved in: it says the output is in place,
    and its parts folder (kept only for a --resume to go on from) goes as after a run that
    was not interrupted."""
    import signal

    import geotile.output_folder as output_folder

    images = [make_raster(f"img{i}.tif", np.full((1, 40, 40), i, np.uint8)) for i in range(3)]
    clean, out = tmp_path / "clean", tmp_path / "out"
    args = (*images, "--size", "20", "--resume")
    assert run_cli("tile", *args, "-o", clean).exit_code == 0
    publish = output_folder._publish

    def interrupted(*a):
        signal.raise_signal(signal.SIGINT)  # Ctrl-C as the files move in: held until in
        publish(*a)

    monkeypatch.setattr(output_folder, "_publish", interrupted)
    result = run_cli("tile", *args, "-o", out)
    assert_one_line_error(result, f"{out}: interrupted after the output was written "
                          "completely (it is in place)", code=130)
    assert sorted(p.name for p in out.iterdir()) == [".geotile-tile.json", "images", "index.csv"]
    assert _tree(out) == _tree(clean)


def test_tile_interrupted_while_its_staging_folder_goes_says_the_output_is_in_place(
        make_raster, run_cli, tmp_path, monkeypatch):
    """A Ctrl-C landing after the patches were published, while the emptied staging folder
    was removed, said 'interrupted; nothing was written there' about a complete output (288
    patches, index.csv, marker in place): it says the output is in place."""
    import signal

    import geotile.output_folder as output_folder

    image = make_raster("img.tif", np.ones((1, 40, 40), np.uint8))
    out = tmp_path / "out"
    rmtree = output_folder._rmtree

    def interrupted(path):
        if (out / "index.csv").exists():  # published: Ctrl-C as the staging folder goes
            signal.raise_signal(signal.SIGINT)
        rmtree(path)

    monkeypatch.setattr(output_folder, "_rmtree", interrupted)
    result = run_cli("tile", image, "--size", "20", "-o", out)
    assert_one_line_error(result, f"{out}: interrupted after the output was written "
                          "completely (it is in place)", code=130)
    assert sorted(p.name for p in out.iterdir()) == [".geotile-tile.json", "images", "index.csv"]
    assert len((out / "index.csv").read_text().splitlines()) == 1 + 4


def test_tile_resume_removes_parts_left_without_their_run_record(make_raster, run_cli,
                                                                 tmp_path):
    """A Ctrl-C while a finished run emptied its parts folder (its run record gone first)
    left the other parts: the next --resume over the complete output removes them too, but
    never the parts of another run (its record names it)."""
    images = [make_raster(f"img{i}.tif", np.full((1, 40, 40), i, np.uint8)) for i in range(2)]
    out = tmp_path / "out"
    args = ("tile", *images, "--size", "20", "--resume", "-o", out)
    assert run_cli(*args).exit_code == 0
    expected = _tree(out)
    parts = out / ".geotile-tile-parts.tmp"
    (parts / "img1" / "images").mkdir(parents=True)
    (parts / "img1" / "images" / "img1_0_0.tif").write_bytes(b"cut")
    assert run_cli(*args).exit_code == 0
    assert not parts.exists() and _tree(out) == expected
    (parts / "img1").mkdir(parents=True)
    (parts / ".geotile-run.json").write_text('{"run": "another", "overwrite": true}')
    assert run_cli(*args).exit_code == 0
    assert (parts / "img1").is_dir()


def test_tile_resume_keeps_a_parts_named_folder_of_the_users(make_raster, run_cli, tmp_path):
    """Without a run record, --resume over a complete output removes only the parts of this
    run's images: a folder named as geotile's parts holding the user's own files stays."""
    images = [make_raster(f"img{i}.tif", np.full((1, 40, 40), i, np.uint8)) for i in range(2)]
    out = tmp_path / "out"
    args = ("tile", *images, "--size", "20", "--resume", "-o", out)
    assert run_cli(*args).exit_code == 0
    parts = out / ".geotile-tile-parts.tmp"
    (parts / "notes").mkdir(parents=True)
    (parts / "notes" / "field.txt").write_text("mine")
    (parts / "readme.txt").write_text("mine too")
    (parts / "img1" / "images").mkdir(parents=True)
    (parts / "img1" / "images" / "img1_0_0.tif").write_bytes(b"cut")
    assert run_cli(*args).exit_code == 0
    assert (parts / "notes" / "field.txt").read_text() == "mine"
    assert (parts / "readme.txt").read_text() == "mine too"
    assert not (parts / "img1").exists()


def test_a_live_runs_temporary_stays_where_the_file_system_has_no_locks(tmp_path,
                                                                        monkeypatch):
    """On a file system without flock (ENOLCK: some NFS, SMB or FUSE mounts) nothing tells
    a live run's temporary from a killed run's: an --overwrite or --resume of the same
    output in another process leaves it (it removed the file being written)."""
    import errno
    import fcntl

    from geotile.output_files import held_temporary

    def no_locks(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    final = tmp_path / "img1.tif"
    tmp, handle = held_temporary(final)
    tmp.write_bytes(b"being written")
    try:
        assert output_files.remove_temporaries(final) == []
        assert tmp.read_bytes() == b"being written"
    finally:
        os.close(handle)


def _mtimes(paths):
    return [os.stat(p).st_mtime_ns for p in paths]


def test_predict_cli_and_api_resume_each_others_outputs(run_cli, predict_setup, tmp_path):
    """The CLI digested its own parameters, the API the options and the model: the same
    output got two tags, so a --resume of one redid what the other had finished."""
    import time

    from geotile.predict import PredictOptions, predict_raster

    model, images = predict_setup
    out = tmp_path / "out"
    outs = [out / p.name for p in images]
    for image, output in zip(images, outs, strict=True):
        predict_raster(model, image, output, options=PredictOptions(tile_size=32))
    first = _mtimes(outs)
    time.sleep(0.01)
    result = _predict(run_cli, model, images, out, "--resume")
    assert result.exit_code == 0, result.output
    assert result.output.count("skipped (--resume)") == 3, result.output
    assert _mtimes(outs) == first
    # the reverse: the CLI's outputs are complete for the API
    cli_out = tmp_path / "cli"
    assert _predict(run_cli, model, images, cli_out).exit_code == 0
    done = [predict_raster(model, image, cli_out / image.name, resume=True,
                           options=PredictOptions(tile_size=32)) for image in images]
    assert all(summary.get("skipped") for summary in done)
    # an option that changes the pixels: redone, by either
    again = predict_raster(model, images[0], outs[0], resume=True,
                           options=PredictOptions(tile_size=32, dtype="uint8"))
    assert not again.get("skipped")
    with rasterio.open(outs[0]) as src:
        assert src.dtypes[0] == "uint8"
    result = _predict(run_cli, model, images, out, "--resume")
    assert result.output.count("skipped (--resume)") == 2, result.output
    with rasterio.open(outs[0]) as src:
        assert src.dtypes[0] == "float32"


def test_predict_resume_redoes_another_extra_resampling_or_fp16(make_raster, tmp_path):
    """What the CLI's digest held and the API's did not: --extra-resampling and --fp16
    (where it runs: the CPU provider ignores it)."""
    from geotile.model import OnnxModel
    from geotile.predict import PredictOptions, predict_raster

    model = conv3x3_model(tmp_path / "m4.onnx", channels=4)
    rng = np.random.default_rng(1)
    image = make_raster("img.tif", rng.integers(0, 255, (3, 40, 40), np.uint8))
    extra = make_raster("ndsm.tif", rng.integers(0, 255, (1, 40, 40), np.uint8))
    out, options = tmp_path / "out.tif", PredictOptions(tile_size=32)
    predict_raster(model, image, out, options=options, extra_bands=extra,
                   extra_resampling="nearest")
    assert predict_raster(model, image, out, options=options, extra_bands=extra,
                          extra_resampling="nearest", resume=True)["skipped"]
    assert not predict_raster(model, image, out, options=options, extra_bands=extra,
                              extra_resampling="bilinear", resume=True).get("skipped")
    half = OnnxModel.from_path(model, fp16=True, tile_size=32)  # the CPU: ignored
    again = {"options": options, "extra_bands": extra, "extra_resampling": "bilinear",
             "resume": True}
    assert predict_raster(half, image, out, **again)["skipped"]
    half.fp16 = True  # as on a GPU: float16 pixels
    assert not predict_raster(half, image, out, **again).get("skipped")


def test_make_masks_cli_and_api_resume_each_others_masks(run_cli, masks_setup, tmp_path):
    import time

    from geotile.masks import MaskOptions, make_masks

    labels, images = masks_setup
    out = tmp_path / "out"
    outs = [out / p.name for p in images]
    make_masks(labels, images, outs)
    first = _mtimes(outs)
    time.sleep(0.01)
    result = run_cli("make-masks", labels, *images, "-o", out, "--resume")
    assert result.exit_code == 0, result.output
    assert result.output.count("skipped") == 3, result.output
    assert _mtimes(outs) == first
    cli_out = tmp_path / "cli"
    assert run_cli("make-masks", labels, *images, "-o", cli_out).exit_code == 0
    done = make_masks(labels, images, [cli_out / p.name for p in images], resume=True)
    assert all(summary.get("skipped") for summary in done)
    # another option (the boundary channel): redone, by either
    done = make_masks(labels, images[:1], outs[:1], resume=True,
                      options=MaskOptions(channels=("footprint", "boundary")))
    assert not done[0].get("skipped")
    with rasterio.open(outs[0]) as src:
        assert src.count == 2
    result = run_cli("make-masks", labels, *images, "-o", out, "--resume")
    assert result.exit_code == 0 and result.output.count("skipped") == 2, result.output
    with rasterio.open(outs[0]) as src:
        assert src.count == 1


def test_predict_resume_redoes_outputs_of_a_models_replaced_external_weights(make_raster,
                                                                            tmp_path):
    """A model's weights in model.onnx.data beside its graph (torch.onnx's external data):
    new weights under the same name, the graph file untouched (a Hugging Face download
    fetches only the files that changed), were 'complete from an earlier run': the stale
    prediction kept, exit 0 -> the weights' files are inputs, as the model file is."""
    import onnx

    from geotile.model import OnnxModel
    from geotile.predict import PredictOptions, predict_raster

    from .onnx_models import pointwise_model

    def export(seed, folder):
        graph = onnx.load(str(pointwise_model(tmp_path / f"plain{seed}.onnx", seed=seed,
                                              ir_version=10)))
        folder.mkdir()
        onnx.save_model(graph, str(folder / "m.onnx"), save_as_external_data=True,
                        location="m.onnx.data", size_threshold=0)
        return folder / "m.onnx"

    model, retrained = export(0, tmp_path / "v1"), export(1, tmp_path / "v2")
    assert model.read_bytes() == retrained.read_bytes()  # only the weights differ
    image = make_raster("img.tif", np.random.default_rng(2).integers(0, 255, (3, 40, 40),
                                                                     np.uint8))
    options, out = PredictOptions(tile_size=32), tmp_path / "out.tif"

    def predict(path, output):
        return predict_raster(OnnxModel.from_path(path, tile_size=32), image, output,
                              options=options, resume=True)

    predict(model, out)
    assert predict(model, out)["skipped"]
    weights = model.with_name("m.onnx.data")
    weights.write_bytes(retrained.with_name("m.onnx.data").read_bytes())
    assert not predict(model, out).get("skipped")
    predict(retrained, tmp_path / "fresh.tif")
    with rasterio.open(out) as got, rasterio.open(tmp_path / "fresh.tif") as fresh:
        np.testing.assert_array_equal(got.read(), fresh.read())
    assert predict(model, out)["skipped"]


def test_tile_resume_cuts_again_after_the_palette_file_changed(make_raster, run_cli,
                                                                tmp_path):
    """tile --palette pal.json --resume: the palette file entered the digests by its name
    alone, so after its classes were reordered (building 1 -> 2, car 2 -> 1) the patches
    of the old ids were kept as complete, exit 0 -> its contents are an input, as
    make-masks' palette is: cut again, the ids of a fresh run's."""
    image = make_raster("img.tif", np.ones((3, 40, 40), np.uint8))
    colours = np.zeros((3, 40, 40), np.uint8)
    colours[2, :, :20] = 255  # building (0, 0, 255) on the left, car (255, 0, 0) right
    colours[0, :, 20:] = 255
    labels = make_raster("labels.tif", colours)
    palette = tmp_path / "pal.json"
    palette.write_text(json.dumps({"building": [0, 0, 255], "car": [255, 0, 0]}))

    def tile(out, *extra):
        result = run_cli("tile", image, "--masks", labels, "--palette", palette, "--size",
                         "20", "-o", out, *extra)
        assert result.exit_code == 0, result.output
        with rasterio.open(out / "masks" / "img_0_0.tif") as left, \
                rasterio.open(out / "masks" / "img_0_1.tif") as right:
            return int(left.read().max()), int(right.read().max())

    assert tile(tmp_path / "out", "--resume") == (1, 2)
    palette.write_text(json.dumps({"car": [255, 0, 0], "building": [0, 0, 255]}))
    assert tile(tmp_path / "fresh") == (2, 1)
    assert tile(tmp_path / "out", "--resume") == (2, 1)
    assert _tree(tmp_path / "out") == _tree(tmp_path / "fresh")


def test_sourceless_installs_of_other_code_have_other_code_digests(tmp_path):
    """An install of geotile's bytecode alone (compileall -b, the .py files deleted: slim
    images) hashed no file at all: every such install, whatever its code, had one content
    digest (sha256 of nothing), so dask workers of another geotile were taken for the
    caller's code, and --resume's fingerprint was the same for any of them. Now its .pyc
    files count; a legacy .pyc beside its .py (never imported) does not."""
    import compileall
    import shutil
    import subprocess
    import sys

    package = Path(__file__).resolve().parents[1] / "geotile"

    def digests(root: Path) -> tuple[str, str]:
        code = ("from geotile import code_fingerprint as c\n"
                f"assert c.__file__.startswith({str(root)!r}), c.__file__\n"
                "print(c.content(), c._own())")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              cwd=root, env={**os.environ, "PYTHONPATH": str(root)},
                              check=True)
        return tuple(done.stdout.split())

    installs = []
    for name, extra in (("a", ""), ("b", "\nSHIFT = 1\n")):
        root = tmp_path / name
        shutil.copytree(package, root / "geotile",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        with open(root / "geotile" / "tta.py", "a", encoding="utf-8") as module:
            module.write(extra)
        installs.append(root)
    source = digests(installs[0])
    assert compileall.compile_dir(installs[0] / "geotile", legacy=True, quiet=1)
    assert digests(installs[0]) == source  # a .pyc beside its .py is never imported
    for root in installs[1:]:
        assert compileall.compile_dir(root / "geotile", legacy=True, quiet=1)
    for root in installs:
        for path in (root / "geotile").rglob("*.py"):
            path.unlink()
    a, b = digests(installs[0]), digests(installs[1])
    assert a[0] != b[0] and a[1] != b[1]
